//! One run of an external tool, as an argument list (never a shell string): what `--dry-run`
//! prints is what the engine runs.

use std::fmt;

use flotilla_model::versions::Tools;

/// The external tools a deploy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    Terraform,
    Helm,
    Kubectl,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Terraform => "terraform",
            Tool::Helm => "helm",
            Tool::Kubectl => "kubectl",
        }
    }

    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Terraform => "FLOTILLA_TERRAFORM",
            Tool::Helm => "FLOTILLA_HELM",
            Tool::Kubectl => "FLOTILLA_KUBECTL",
        }
    }

    pub fn install_hint(self) -> &'static str {
        match self {
            Tool::Terraform => {
                "install Terraform (https://developer.hashicorp.com/terraform/install) or set FLOTILLA_TERRAFORM"
            }
            Tool::Helm => {
                "install Helm 3 (https://helm.sh/docs/intro/install/) or set FLOTILLA_HELM"
            }
            Tool::Kubectl => {
                "install kubectl (https://kubernetes.io/docs/tasks/tools/) or set FLOTILLA_KUBECTL"
            }
        }
    }

    /// The pinned version from versions.toml.
    pub fn pinned(self, tools: &Tools) -> &str {
        match self {
            Tool::Terraform => &tools.terraform,
            Tool::Helm => &tools.helm,
            Tool::Kubectl => &tools.kubectl,
        }
    }

    /// The arguments that print the tool's version.
    pub fn version_args(self) -> &'static [&'static str] {
        match self {
            Tool::Terraform => &["version", "-json"],
            Tool::Helm => &["version", "--short"],
            Tool::Kubectl => &["version", "--client", "-o", "json"],
        }
    }
}

/// One invocation of a tool, as printed by `--dry-run` and run for real.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub tool: Tool,
    pub args: Vec<String>,
    /// Extra environment. Values shown by `Display`, so never put a secret here: secrets go in
    /// `secret_env`.
    pub env: Vec<(String, String)>,
    /// Environment whose values are not printed (`HELM_KUBETOKEN`).
    pub secret_env: Vec<(String, String)>,
}

impl Invocation {
    pub fn new<I, S>(tool: Tool, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Invocation {
            tool,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            secret_env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Invocation {
        self.env.push((key.to_string(), value.into()));
        self
    }
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        for (k, _) in &self.secret_env {
            write!(f, "{k}=*** ")?;
        }
        f.write_str(self.tool.name())?;
        for a in &self.args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

/// Quotes an argument for display so the printed command can be pasted into a shell.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '-' | '_' | '.' | '/' | '=' | ':' | ',' | '+' | '@' | '$' | '<' | '>'
                )
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
