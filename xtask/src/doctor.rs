//! `cargo xtask doctor [--format text|json]`: what this machine can do with the platform. Each
//! tool (found or missing, its version against versions.toml, which commands and checks it
//! enables), the reference data, the AWS credentials and the account they resolve to, and, with
//! credentials, whether each cluster's API endpoint answers. Exit 0 when a deploy can run here
//! (with `--offline`: when its tools are here), 4 when a deploy tool is missing or too old, 1 when
//! the credentials are missing or of another account.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use flotilla_deploy::aws::Aws;
use flotilla_plan::Tool;
use serde::Serialize;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `text`, or `json` (one object: `checks`, each with `name`, `status` ok|missing|problem|
    /// skipped, `version`, `pinned`, `detail`, `enables`; then `deploy_ready`, with `--offline`
    /// for the tools alone).
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = ["text", "json"])]
    pub format: String,
    /// Do not call AWS (credentials and endpoints are reported as skipped).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Missing,
    Problem,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    pub detail: String,
    /// What it enables: commands (`deploy`) and checks (`test: ...`).
    pub enables: Vec<&'static str>,
    /// Whether a deploy needs it.
    #[serde(skip)]
    pub deploy_needs: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    checks: Vec<Check>,
    deploy_ready: bool,
}

const DEPLOY: &[&str] = &["deploy", "destroy", "diff --live", "drift"];

fn deploy_tool(tool: Tool) -> Check {
    let versions = flotilla_model::Versions::embedded();
    let pinned = tool.pinned(&versions.tools).to_string();
    let given = Default::default();
    match flotilla_deploy::tools::check(&[tool], &versions.tools, &given) {
        Ok(found) => {
            let f = &found[&tool];
            Check {
                name: tool.name().into(),
                status: Status::Ok,
                version: Some(f.version.clone()),
                pinned: Some(pinned),
                detail: f
                    .warning
                    .clone()
                    .unwrap_or_else(|| f.program.display().to_string()),
                enables: DEPLOY.to_vec(),
                deploy_needs: true,
            }
        }
        Err(errors) => {
            let e = &errors[0];
            Check {
                name: tool.name().into(),
                status: match e {
                    flotilla_deploy::tools::ToolError::Missing { .. } => Status::Missing,
                    _ => Status::Problem,
                },
                version: None,
                pinned: Some(pinned),
                detail: e.to_string(),
                enables: DEPLOY.to_vec(),
                deploy_needs: true,
            }
        }
    }
}

/// A program on PATH (or in the repository's `.venv/bin`), with the first line of its version
/// output.
fn program(root: &Path, name: &str, version_args: &[&str]) -> Option<(PathBuf, String)> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(root.join(".venv/bin"));
    let path = dirs
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())?;
    if version_args.is_empty() {
        return Some((path, String::new()));
    }
    let out = Command::new(&path).args(version_args).output().ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    Some((path, first.chars().take(80).collect()))
}

fn test_tool(root: &Path, name: &str, args: &[&str], enables: &'static str, hint: &str) -> Check {
    match program(root, name, args) {
        Some((path, version)) => Check {
            name: name.into(),
            status: Status::Ok,
            version: Some(version).filter(|v| !v.is_empty()),
            pinned: None,
            detail: path.display().to_string(),
            enables: vec![enables],
            deploy_needs: false,
        },
        None => Check {
            name: name.into(),
            status: Status::Missing,
            version: None,
            pinned: None,
            detail: format!("not on PATH: {hint}"),
            enables: vec![enables],
            deploy_needs: false,
        },
    }
}

fn helm_diff(helm: &Check) -> Check {
    let pinned = flotilla_model::Versions::embedded().tools.helm_diff;
    let enables = vec!["deploy", "diff --live", "drift"];
    if helm.status != Status::Ok {
        return Check {
            name: "helm-diff".into(),
            status: Status::Skipped,
            version: None,
            pinned: Some(pinned),
            detail: "needs helm".into(),
            enables,
            deploy_needs: true,
        };
    }
    let program = flotilla_deploy::process::find_program(Tool::Helm).unwrap_or_default();
    let out = Command::new(program).args(["plugin", "list"]).output();
    let line = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.split_whitespace().next() == Some("diff"))
            .map(str::to_string)
    });
    match line {
        Some(l) => {
            let version = l.split_whitespace().nth(1).map(str::to_string);
            // Another version works as a rule (helm diff's output is what the deploy reads),
            // but is not what the suite and the toolbox image run: said, not refused.
            let detail = match &version {
                Some(v) if v.trim_start_matches('v') != pinned => format!(
                    "helm plugin, version {v} where {pinned} is pinned: helm plugin update diff, or helm plugin install https://github.com/databus23/helm-diff --version v{pinned}"
                ),
                _ => "helm plugin".into(),
            };
            Check {
                name: "helm-diff".into(),
                status: Status::Ok,
                version,
                pinned: Some(pinned),
                detail,
                enables,
                deploy_needs: true,
            }
        }
        None => Check {
            name: "helm-diff".into(),
            status: Status::Missing,
            version: None,
            pinned: Some(pinned.clone()),
            detail: format!(
                "`helm plugin list` has no diff: helm plugin install https://github.com/databus23/helm-diff --version v{pinned}"
            ),
            enables,
            deploy_needs: true,
        },
    }
}

fn reference(ctx: &Context) -> Check {
    let enables =
        vec!["test: values keys, CRD and Kubernetes schemas, module inputs, provider schemas"];
    let Ok(dir) = flotilla_testkit::reference_dir_in(&ctx.root) else {
        return Check {
            name: "reference data".into(),
            status: Status::Missing,
            version: None,
            pinned: None,
            detail: "none: run `cargo xtask reference sync` (or set FLOTILLA_REFERENCE)".into(),
            enables,
            deploy_needs: false,
        };
    };
    let lock: Option<crate::reference::Lock> =
        std::fs::read_to_string(ctx.root.join(crate::reference::LOCK_FILE))
            .ok()
            .and_then(|t| toml::from_str(&t).ok());
    let versions = std::fs::read_to_string(ctx.root.join("versions.toml"))
        .ok()
        .and_then(|t| flotilla_model::Versions::parse(&t).ok());
    let (Some(lock), Some(versions)) = (lock, versions) else {
        return Check {
            name: "reference data".into(),
            status: Status::Problem,
            version: None,
            pinned: None,
            detail: format!(
                "{}: reference.lock or versions.toml unreadable",
                dir.display()
            ),
            enables,
            deploy_needs: false,
        };
    };
    let want = crate::reference::wanted(&lock, &versions);
    let good = want
        .entries
        .iter()
        .filter(|e| {
            std::fs::read(dir.join(&e.path))
                .is_ok_and(|b| crate::reference::sha256_hex(&b) == e.sha256)
        })
        .count();
    let total = want.entries.len();
    Check {
        name: "reference data".into(),
        status: if good == total && want.new.is_empty() {
            Status::Ok
        } else {
            Status::Problem
        },
        version: None,
        pinned: None,
        detail: format!(
            "{}: {good} of {total} pinned files match reference.lock{}",
            dir.display(),
            if good == total {
                String::new()
            } else {
                " (run `cargo xtask reference sync`)".into()
            }
        ),
        enables,
        deploy_needs: false,
    }
}

fn aws_checks(platform: &flotilla_model::Platform, offline: bool) -> Vec<Check> {
    let skipped = |name: String, why: &str, enables: Vec<&'static str>| Check {
        name,
        status: Status::Skipped,
        version: None,
        pinned: None,
        detail: why.to_string(),
        enables,
        deploy_needs: false,
    };
    let cred_enables = vec!["deploy", "destroy", "diff --live", "drift"];
    if offline {
        let mut out = vec![Check {
            deploy_needs: true,
            ..skipped("AWS credentials".into(), "--offline", cred_enables)
        }];
        for c in &platform.clusters {
            out.push(skipped(
                format!("endpoint {}", c.name),
                "--offline",
                vec!["deploy"],
            ));
        }
        return out;
    }
    let aws = match flotilla_deploy::aws::SdkAws::new() {
        Ok(a) => a,
        Err(e) => {
            return vec![Check {
                status: Status::Problem,
                detail: e.to_string(),
                deploy_needs: true,
                ..skipped("AWS credentials".into(), "", cred_enables)
            }];
        }
    };
    let mut out = Vec::new();
    let identity = aws.caller_identity(&platform.region);
    let ok = match &identity {
        Ok(id) if id.account == platform.account_id => {
            out.push(Check {
                name: "AWS credentials".into(),
                status: Status::Ok,
                version: None,
                pinned: None,
                detail: format!("{} (account {}, the platform's)", id.arn, id.account),
                enables: cred_enables,
                deploy_needs: true,
            });
            true
        }
        Ok(id) => {
            out.push(Check {
                name: "AWS credentials".into(),
                status: Status::Problem,
                version: None,
                pinned: None,
                detail: format!(
                    "{} is in account {}; the platform is in account {}",
                    id.arn, id.account, platform.account_id
                ),
                enables: cred_enables,
                deploy_needs: true,
            });
            false
        }
        Err(e) => {
            let detail = match e {
                flotilla_deploy::aws::AwsError::Credentials(d) => d.clone(),
                other => other.to_string(),
            };
            let help = flotilla_deploy::cmd::credentials_help(
                &platform.region,
                &platform.account_id,
                &detail,
            );
            out.push(Check {
                name: "AWS credentials".into(),
                status: Status::Missing,
                version: None,
                pinned: None,
                detail: help.lines().next().unwrap_or("").to_string(),
                enables: cred_enables,
                deploy_needs: true,
            });
            false
        }
    };
    for c in &platform.clusters {
        let name = format!("endpoint {}", c.name);
        if !ok {
            out.push(skipped(name, "needs credentials", vec!["deploy"]));
            continue;
        }
        let check = match aws.describe_cluster(&c.name, &c.region) {
            Err(e) => Check {
                status: Status::Problem,
                detail: e.to_string(),
                ..skipped(name, "", vec!["deploy"])
            },
            Ok(ep) => {
                let host = ep
                    .endpoint
                    .trim_start_matches("https://")
                    .trim_end_matches('/')
                    .to_string();
                let reached = (host.as_str(), 443)
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .is_some_and(|a| {
                        TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok()
                    });
                Check {
                    status: if reached { Status::Ok } else { Status::Problem },
                    detail: if reached {
                        format!("{} answers on 443", ep.endpoint)
                    } else {
                        format!(
                            "{} does not answer on 443 from here (a private endpoint: run from a network in the cluster's private_cidrs)",
                            ep.endpoint
                        )
                    },
                    ..skipped(name, "", vec!["deploy"])
                }
            }
        };
        out.push(check);
    }
    out
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    let mut checks: Vec<Check> = Vec::new();
    for tool in [Tool::Terraform, Tool::Helm, Tool::Kubectl] {
        checks.push(deploy_tool(tool));
    }
    let helm = checks[1].clone();
    checks.push(helm_diff(&helm));
    let root = ctx.root.as_path();
    checks.push(test_tool(
        root,
        "promtool",
        &["--version"],
        "test: alert rules",
        "apt-get install prometheus",
    ));
    checks.push(test_tool(
        root,
        "amtool",
        &["--version"],
        "test: Alertmanager configuration",
        "apt-get install prometheus-alertmanager",
    ));
    checks.push(test_tool(
        root,
        "checkov",
        &["--version"],
        "test: checkov over the Terraform",
        "pip install checkov (as .ci/run does, into .venv)",
    ));
    checks.push(test_tool(
        root,
        "moto_server",
        &[],
        "test: deploy against an AWS emulator",
        "pip install 'moto[server]'",
    ));
    checks.push(reference(ctx));
    checks.extend(aws_checks(&platform, args.offline));
    let tools_ok = checks
        .iter()
        .filter(|c| c.deploy_needs && c.name != "AWS credentials")
        .all(|c| c.status == Status::Ok);
    let creds_ok = checks
        .iter()
        .find(|c| c.name == "AWS credentials")
        .is_some_and(|c| c.status == Status::Ok);
    // `--offline` asks nothing of AWS: it answers for the tools, and says so.
    let ready = tools_ok && (creds_ok || args.offline);
    let mut out = std::io::stdout().lock();
    if args.format == "json" {
        let report = Report {
            checks,
            deploy_ready: ready,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| Error::Other(e.to_string()))?
        )?;
    } else {
        writeln!(
            out,
            "cargo xtask doctor: what this machine can do with {}",
            ctx.display_name()
        )?;
        for c in &checks {
            let status = match c.status {
                Status::Ok => "ok",
                Status::Missing => "MISSING",
                Status::Problem => "PROBLEM",
                Status::Skipped => "skipped",
            };
            let version = match (&c.version, &c.pinned) {
                (Some(v), Some(p)) => format!(" {v} (pinned {p})"),
                (Some(v), None) => format!(" {v}"),
                (None, Some(p)) => format!(" (pinned {p})"),
                (None, None) => String::new(),
            };
            writeln!(
                out,
                "  {status:<8} {}{version}: {} [{}]",
                c.name,
                c.detail,
                c.enables.join(", ")
            )?;
        }
        let missing: Vec<&str> = checks
            .iter()
            .filter(|c| c.deploy_needs && c.status != Status::Ok)
            .map(|c| c.name.as_str())
            .collect();
        if ready && args.offline {
            writeln!(
                out,
                "the tools of a deploy are here; the AWS credentials were not checked (--offline)"
            )?;
        } else if ready {
            writeln!(out, "a deploy can run here")?;
        } else {
            writeln!(
                out,
                "a deploy cannot run here: {} (the dry run needs none of it)",
                missing.join(", ")
            )?;
        }
    }
    Ok(ExitCode::from(if ready {
        flotilla_plan::exit::OK
    } else if !tools_ok {
        flotilla_plan::exit::TOOL_MISSING
    } else {
        flotilla_plan::exit::ERROR
    }))
}
