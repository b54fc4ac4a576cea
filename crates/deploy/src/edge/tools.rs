//! The external tools, found on PATH or through `FLOTILLA_TERRAFORM`, `FLOTILLA_HELM`,
//! `FLOTILLA_KUBECTL`, and their versions checked against versions.toml `[tools]` before a run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use flotilla_model::versions::Tools;
use flotilla_plan::Tool;

/// A missing or unusable tool, with the install hint.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ToolError {
    #[error("`{tool}` was not found on PATH: {hint}")]
    Missing {
        tool: &'static str,
        hint: &'static str,
    },
    #[error("`{tool} {args}` failed: {detail}")]
    Broken {
        tool: &'static str,
        args: String,
        detail: String,
    },
    #[error("{tool} {found} is older than the pinned {pinned} (versions.toml [tools]): {hint}")]
    TooOld {
        tool: &'static str,
        found: String,
        pinned: String,
        hint: &'static str,
    },
}

/// A checked tool: where it is and which version it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub program: PathBuf,
    pub version: String,
    /// Set when the version differs from the pinned one but is not older in major.minor.
    pub warning: Option<String>,
}

/// Finds and checks every tool in `needed`; all problems are reported at once. `given` names
/// programs explicitly (tests); the rest come from `FLOTILLA_<TOOL>` or PATH.
pub fn check(
    needed: &[Tool],
    pinned: &Tools,
    given: &BTreeMap<Tool, PathBuf>,
) -> Result<BTreeMap<Tool, Found>, Vec<ToolError>> {
    let mut found = BTreeMap::new();
    let mut errors = Vec::new();
    for &tool in needed {
        match check_one(tool, pinned, given.get(&tool).cloned()) {
            Ok(f) => {
                found.insert(tool, f);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(errors)
    }
}

fn check_one(tool: Tool, pinned: &Tools, given: Option<PathBuf>) -> Result<Found, ToolError> {
    let program = given
        .or_else(|| crate::edge::process::find_program(tool))
        .ok_or(ToolError::Missing {
            tool: tool.name(),
            hint: tool.install_hint(),
        })?;
    let args = tool.version_args();
    let broken = |detail: String| ToolError::Broken {
        tool: tool.name(),
        args: args.join(" "),
        detail,
    };
    let out = Command::new(&program)
        .args(args)
        .output()
        .map_err(|e| broken(e.to_string()))?;
    if !out.status.success() {
        return Err(broken(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(tool, &text)
        .ok_or_else(|| broken(format!("unrecognised version output: {}", text.trim())))?;
    let want = pinned.pinned_for(tool);
    let (Some(have_mm), Some(want_mm)) = (major_minor(&version), major_minor(want)) else {
        return Err(broken(format!("unrecognised version {version}")));
    };
    if have_mm < want_mm {
        return Err(ToolError::TooOld {
            tool: tool.name(),
            found: version,
            pinned: want.to_string(),
            hint: tool.install_hint(),
        });
    }
    let warning = (version != want).then(|| {
        format!(
            "{} {version} differs from the pinned {want} (versions.toml [tools])",
            tool.name()
        )
    });
    Ok(Found {
        program,
        version,
        warning,
    })
}

trait PinnedFor {
    fn pinned_for(&self, tool: Tool) -> &str;
}

impl PinnedFor for Tools {
    fn pinned_for(&self, tool: Tool) -> &str {
        tool.pinned(self)
    }
}

/// The version a tool reports, without a leading `v` or build suffix.
pub fn parse_version(tool: Tool, output: &str) -> Option<String> {
    let raw = match tool {
        Tool::Terraform => {
            let v: serde_json::Value = serde_json::from_str(output).ok()?;
            v.get("terraform_version")?.as_str()?.to_string()
        }
        Tool::Kubectl => {
            let v: serde_json::Value = serde_json::from_str(output).ok()?;
            v.get("clientVersion")?
                .get("gitVersion")?
                .as_str()?
                .to_string()
        }
        Tool::Helm => output.trim().to_string(),
    };
    let raw = raw.trim().trim_start_matches('v');
    let end = raw.find(['+', '-', ' ']).unwrap_or(raw.len());
    Some(raw[..end].to_string()).filter(|s| !s.is_empty())
}

fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut it = v.trim_start_matches('v').split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version(
                Tool::Terraform,
                r#"{"terraform_version":"1.11.4","platform":"linux_amd64"}"#
            ),
            Some("1.11.4".into())
        );
        assert_eq!(
            parse_version(Tool::Helm, "v3.19.2+g8766e71\n"),
            Some("3.19.2".into())
        );
        assert_eq!(
            parse_version(
                Tool::Kubectl,
                r#"{"clientVersion":{"gitVersion":"v1.34.2"}}"#
            ),
            Some("1.34.2".into())
        );
        assert_eq!(parse_version(Tool::Helm, ""), None);
        assert!(major_minor("1.9.0") < major_minor("1.11.4"));
    }
}
