//! `cargo xtask diff`: what would change.
//!
//! - `diff <env>`: the freshly generated files of the environment against the committed ones
//!   (a colored unified diff);
//! - `diff <env> --live`: then `terraform plan -detailed-exitcode`, `helm diff upgrade` per
//!   release and a server-side dry-run of every manifest against the live cluster;
//! - `diff <env> <other-env>`: what differs between two environments' generated output, with
//!   the environment names normalized so only real differences show.
//!
//! Exit codes: 0 no changes, 2 changes, 1 error.

use std::fs;
use std::io::Write;
use std::path::Path;

use flotilla_generate::diff::{BOLD, RESET};
use flotilla_model::Platform;
use serde_json::Value;

use crate::cmd::{Error, Io};
use crate::edge::kube::{Conn, ObjectRef};
use crate::edge::tools;
use crate::run::scheduler::StepLog;
use flotilla_plan::commands::{self as engine, Paths};
use flotilla_plan::{Invocation, Target, Tool};

/// Arguments of `diff`.
#[derive(Debug, Clone, Default)]
pub struct DiffArgs {
    pub env: String,
    /// Compare with another environment instead of the committed output.
    pub other: Option<String>,
    pub live: bool,
    /// One JSON object on stdout instead of the text (`env`, `other`, `files` each with
    /// `path` and `change`, `changed`, and with `live` the cluster's [`ClusterDrift`]).
    pub json: bool,
}

/// `cargo xtask diff`.
pub fn diff(
    root: &Path,
    platform: &Platform,
    args: &DiffArgs,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let a = cluster_of(platform, &args.env)?;
    let files_json = |d: &flotilla_generate::diff::FileDiff| -> Vec<Value> {
        d.files
            .iter()
            .map(|(path, change)| serde_json::json!({"path": path, "change": change}))
            .collect()
    };
    if let Some(other) = &args.other {
        let b = cluster_of(platform, other)?;
        let diff = flotilla_generate::diff::between(platform, &a, &b);
        if args.json {
            let v = serde_json::json!({
                "env": args.env, "other": other, "changed": diff.changed,
                "files": files_json(&diff),
            });
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_default()
            )?;
        } else {
            write!(out, "{}", diff.text)?;
            writeln!(
                out,
                "{a} vs {b}: {} file(s) differ beyond the environment name",
                diff.changed
            )?;
        }
        return Ok(if diff.changed > 0 { 2 } else { 0 });
    }
    let diff = flotilla_generate::diff::against_committed(root, platform, &a);
    let changed = diff.changed;
    let mut code = if changed > 0 { 2 } else { 0 };
    if args.json {
        let live = if args.live {
            let report = inspect(root, platform, &a, io, TerraformCheck::Plan)?;
            if report.drifted() {
                code = 2;
            }
            Some(report)
        } else {
            None
        };
        let v = serde_json::json!({
            "env": args.env, "other": null, "changed": changed,
            "files": files_json(&diff), "live": live,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        )?;
        return Ok(code);
    }
    write!(out, "{}", diff.text)?;
    if changed == 0 {
        writeln!(
            out,
            "{}: generated output matches the files in infra/ and helm/",
            args.env
        )?;
    } else {
        writeln!(
            out,
            "{}: {changed} generated file(s) differ from the files in infra/ and helm/ (`cargo xtask generate` writes them)",
            args.env
        )?;
    }
    if args.live && live(root, platform, &a, io, out)? {
        code = 2;
    }
    Ok(code)
}

fn cluster_of(platform: &Platform, env: &str) -> Result<String, Error> {
    let target = Target::parse(platform, env)?;
    match target {
        Target::All => Err(Error::Other("diff takes an environment, not `all`".into())),
        Target::Controlplane => Ok(platform.controlplane().name.clone()),
        Target::Environment(e) => Ok(platform
            .cluster_for_environment(&e)
            .expect("parsed")
            .name
            .clone()),
    }
}

/// How a cluster's Terraform state compares with the account (and the committed module).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TerraformDrift {
    InSync,
    /// The plan's summary lines (`Plan: 1 to add, ...`, or what a refresh-only plan found),
    /// and the counts of its `Plan:` line when it has one.
    Changed {
        summary: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        counts: Option<PlanCounts>,
    },
}

/// The numbers of a Terraform `Plan: 1 to add, 2 to change, 0 to destroy.` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PlanCounts {
    pub add: u64,
    pub change: u64,
    pub destroy: u64,
}

impl PlanCounts {
    /// The counts of the first `Plan:` line among `lines`.
    pub fn parse(lines: &[String]) -> Option<PlanCounts> {
        let line = lines.iter().find_map(|l| l.trim().strip_prefix("Plan: "))?;
        let mut c = PlanCounts {
            add: 0,
            change: 0,
            destroy: 0,
        };
        for part in line.trim_end_matches('.').split(',') {
            let mut w = part.split_whitespace();
            let n: u64 = w.next()?.parse().ok()?;
            match w.last()? {
                "add" => c.add = n,
                "change" => c.change = n,
                "destroy" => c.destroy = n,
                _ => {}
            }
        }
        Some(c)
    }
}

/// One release or object and, when it differs, how.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemDrift {
    pub name: String,
    /// `None`: as committed. Otherwise the diff (helm diff's output, or a unified diff of the
    /// live object against what a server-side apply would make of it).
    pub diff: Option<String>,
}

/// What the live side of one cluster differs in from the committed output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterDrift {
    pub cluster: String,
    pub environment: String,
    pub terraform: TerraformDrift,
    /// The workload's link module (`infra/<cluster>/link`); `None` for the controlplane.
    pub link: Option<TerraformDrift>,
    /// `false`: the cluster does not exist yet (no `cluster_name` output), so Helm and the
    /// manifests were not compared.
    pub deployed: bool,
    pub releases: Vec<ItemDrift>,
    pub objects: Vec<ItemDrift>,
    /// Objects Flotilla applied before (the cluster's inventory) that the committed manifests
    /// no longer have: the next deploy prunes them.
    pub prune: Vec<String>,
    /// The log of every command run, relative to the repository root.
    pub log: String,
}

impl ClusterDrift {
    /// Whether anything differs.
    pub fn drifted(&self) -> bool {
        self.terraform != TerraformDrift::InSync
            || self
                .link
                .as_ref()
                .is_some_and(|l| *l != TerraformDrift::InSync)
            || !self.deployed
            || self.releases.iter().any(|r| r.diff.is_some())
            || self.objects.iter().any(|o| o.diff.is_some())
            || !self.prune.is_empty()
    }

    /// One line: what drifted, counted.
    pub fn summary(&self) -> String {
        if !self.drifted() {
            return format!("{}: in sync", self.cluster);
        }
        let mut parts = Vec::new();
        let changed = |what: &str, t: &TerraformDrift| match t {
            TerraformDrift::InSync => None,
            TerraformDrift::Changed { summary, .. } => Some(format!(
                "{what} ({})",
                if summary.is_empty() {
                    "changes".to_string()
                } else {
                    summary.join("; ")
                }
            )),
        };
        parts.extend(changed("terraform", &self.terraform));
        parts.extend(self.link.as_ref().and_then(|l| changed("link", l)));
        if !self.deployed {
            parts.push("no cluster yet".into());
        }
        let releases: Vec<&str> = self
            .releases
            .iter()
            .filter(|r| r.diff.is_some())
            .map(|r| r.name.as_str())
            .collect();
        if !releases.is_empty() {
            parts.push(format!("releases {}", releases.join(", ")));
        }
        let objects: Vec<&str> = self
            .objects
            .iter()
            .filter(|o| o.diff.is_some())
            .map(|o| o.name.as_str())
            .collect();
        if !objects.is_empty() {
            parts.push(format!("objects {}", objects.join(", ")));
        }
        if !self.prune.is_empty() {
            parts.push(format!("to prune {}", self.prune.join(", ")));
        }
        format!("{}: drifted: {}", self.cluster, parts.join("; "))
    }

    /// The report as `diff --live` prints it.
    fn write(&self, dir: &str, what: &str, out: &mut dyn Write) -> std::io::Result<()> {
        let terraform = |t: &TerraformDrift, out: &mut dyn Write| -> std::io::Result<()> {
            match t {
                TerraformDrift::InSync => writeln!(out, "  no changes"),
                TerraformDrift::Changed { summary, .. } if summary.is_empty() => {
                    writeln!(out, "  changes pending (details in the log)")
                }
                TerraformDrift::Changed { summary, .. } => {
                    for l in summary {
                        writeln!(out, "  {l}")?;
                    }
                    Ok(())
                }
            }
        };
        writeln!(out, "\n{BOLD}{what} of {dir}{RESET} (log: {})", self.log)?;
        terraform(&self.terraform, out)?;
        if let Some(link) = &self.link {
            writeln!(
                out,
                "{BOLD}{what} of {dir}/{}{RESET}",
                flotilla_terraform::LINK_DIR
            )?;
            terraform(link, out)?;
        }
        if !self.deployed {
            writeln!(
                out,
                "  {} has no cluster yet (no `cluster_name` output): Helm and manifests would all be new",
                self.cluster
            )?;
            return Ok(());
        }
        for r in &self.releases {
            match &r.diff {
                None => writeln!(out, "{BOLD}helm diff {}{RESET}: no changes", r.name)?,
                Some(d) => writeln!(out, "{BOLD}helm diff {}{RESET}:\n{}", r.name, d.trim_end())?,
            }
        }
        for o in self.objects.iter().filter_map(|o| o.diff.as_ref()) {
            write!(out, "{o}")?;
        }
        for p in &self.prune {
            writeln!(
                out,
                "{BOLD}prune{RESET}: {p} (applied before, no longer in the manifests)"
            )?;
        }
        Ok(())
    }
}

/// What a live inspection asks Terraform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerraformCheck {
    /// `plan -detailed-exitcode`: would an apply of the committed module change anything.
    Plan,
    /// `plan -refresh-only -detailed-exitcode`: did anything change outside Terraform.
    RefreshOnly,
}

/// The live part of `diff --live`: printed.
fn live(
    root: &Path,
    platform: &Platform,
    cluster: &str,
    io: &Io,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    let report = inspect(root, platform, cluster, io, TerraformCheck::Plan)?;
    report.write(
        &flotilla_terraform::module_dir(cluster),
        "terraform plan",
        out,
    )?;
    Ok(report.drifted())
}

/// Compares one cluster's live state with the committed output: Terraform (as `check` says),
/// `helm diff upgrade` of every release, a server-side dry run of every manifest object.
pub fn inspect(
    root: &Path,
    platform: &Platform,
    cluster: &str,
    io: &Io,
    check: TerraformCheck,
) -> Result<ClusterDrift, Error> {
    let versions = flotilla_model::Versions::embedded();
    let found = tools::check(&[Tool::Terraform, Tool::Helm], &versions.tools, &io.tools)
        .map_err(Error::Tools)?;
    let run_id = crate::run::journal::new_run_id("diff", cluster);
    let paths = Paths {
        root: root.to_path_buf(),
        state: crate::run::journal::state_dir(root),
        run_dir: crate::run::journal::runs_dir(root).join(run_id),
    };
    let log = StepLog::create(paths.run_dir.join("logs").join("diff-live.log"))?;
    // Shown relative to the repository root, as deploy shows its logs.
    let log_name = log
        .path
        .strip_prefix(root)
        .unwrap_or(&log.path)
        .display()
        .to_string();
    // A failure names the log and shows its last lines, as a failed deploy step does.
    let failed = |what: String| {
        let tail: String = log.tail(12).iter().map(|l| format!("\n  | {l}")).collect();
        Error::Other(format!("{what}; see {log_name}{tail}"))
    };
    let cancel = &io.cancel;
    let run = |tool: Tool, inv: &Invocation, capture: bool| {
        crate::edge::process::run(&found[&tool].program, inv, root, &log, cancel, capture)
            .map_err(Error::Other)
    };
    let dir = flotilla_terraform::module_dir(cluster);
    let c = platform.cluster(cluster).expect("cluster exists");
    let mut report = ClusterDrift {
        cluster: cluster.to_string(),
        environment: c.environment.clone(),
        terraform: TerraformDrift::InSync,
        link: None,
        deployed: true,
        releases: vec![],
        objects: vec![],
        prune: vec![],
        log: log_name.clone(),
    };
    // One Terraform check of a root module: init, then the plan `check` asks for.
    let terraform = |dir: &str, module: &str| -> Result<TerraformDrift, Error> {
        fs::create_dir_all(paths.tf_data_dir(module))?;
        let init = run(
            Tool::Terraform,
            &engine::tf_init(&paths, dir, module),
            false,
        )?;
        if !init.success() {
            return Err(failed(format!("terraform init of {dir} failed")));
        }
        let plan_inv = match check {
            TerraformCheck::Plan => engine::tf_verify(&paths, dir, module),
            TerraformCheck::RefreshOnly => engine::tf_refresh_only(&paths, dir, module),
        };
        let plan = run(Tool::Terraform, &plan_inv, true)?;
        // The whole plan goes to the log; its summary lines go in the report.
        for l in plan.stdout.lines() {
            log.line(l);
        }
        let summary: Vec<String> = plan
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("Plan:")
                    || l.starts_with("No changes.")
                    || l.starts_with("Changes to Outputs")
                    || l.starts_with("Note: Objects have changed outside of Terraform")
            })
            .map(str::to_string)
            .collect();
        match plan.code {
            Some(0) => Ok(TerraformDrift::InSync),
            Some(2) => Ok(TerraformDrift::Changed {
                counts: PlanCounts::parse(&summary),
                summary,
            }),
            _ => Err(failed(format!("terraform plan of {dir} failed"))),
        }
    };
    report.terraform = terraform(&dir, cluster)?;
    if c.role == flotilla_model::Role::Workload {
        let module = flotilla_terraform::link_module(cluster);
        report.link = Some(terraform(
            &flotilla_terraform::module_key_dir(&module),
            &module,
        )?);
    }
    // Cluster access: name from Terraform outputs, endpoint and CA from EKS.
    let outputs = run(
        Tool::Terraform,
        &engine::tf_output(&paths, &dir, cluster),
        true,
    )?;
    let eks_name = serde_json::from_str::<Value>(&outputs.stdout)
        .ok()
        .and_then(|v| {
            v.pointer("/cluster_name/value")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let Some(eks_name) = eks_name else {
        report.deployed = false;
        return Ok(report);
    };
    let described = io
        .aws
        .describe_cluster(&eks_name, &c.region)
        .map_err(|e| Error::Other(e.to_string()))?;
    let endpoint = io
        .endpoints
        .get(cluster)
        .cloned()
        .unwrap_or(described.endpoint.clone());
    let ca_file = paths
        .run_dir
        .join("access")
        .join(format!("{cluster}-ca.crt"));
    fs::create_dir_all(ca_file.parent().expect("has parent"))?;
    fs::write(&ca_file, &described.ca_pem)?;
    let token = io
        .aws
        .eks_token(&eks_name, &c.region)
        .map_err(|e| Error::Other(e.to_string()))?;
    // The live comparison is of what is committed (the file diff shows any drift from
    // platform.toml).
    let inputs = crate::cmd::planning_inputs(root, platform, true)?;
    for r in inputs.releases.get(cluster).into_iter().flatten() {
        let mut inv = engine::helm_diff(&paths, cluster, &endpoint, r);
        inv.secret_env
            .push(("HELM_KUBETOKEN".into(), token.clone()));
        let f = run(Tool::Helm, &inv, true)?;
        let diff = match f.code {
            Some(0) => None,
            Some(2) => Some(f.stdout.trim_end().to_string()),
            _ => {
                return Err(failed(format!(
                    "helm diff of {} failed (is the helm-diff plugin installed? `helm plugin install https://github.com/databus23/helm-diff --version v{}`)",
                    r.name, versions.tools.helm_diff
                )));
            }
        };
        report.releases.push(ItemDrift {
            name: r.name.clone(),
            diff,
        });
    }
    let conn = Conn {
        cluster: cluster.to_string(),
        endpoint,
        ca_pem: Some(described.ca_pem),
        token,
    };
    let mut current = Vec::new();
    for files in inputs
        .manifests
        .iter()
        .filter(|((c, _), _)| c == cluster)
        .map(|(_, f)| f)
    {
        for f in files {
            let text = fs::read_to_string(root.join(f))?;
            for o in crate::edge::kube::parse_manifests(f, &text).map_err(Error::Other)? {
                let r = ObjectRef::of(&o).expect("parsed manifests are complete");
                report.objects.push(ItemDrift {
                    name: r.to_string(),
                    diff: server_dry_run(io, &conn, &o)?,
                });
                current.push(r);
            }
        }
    }
    let previous = crate::exec::read_inventory(io.kube.as_ref(), &conn)
        .map_err(|e| Error::Other(e.to_string()))?;
    report.prune = crate::exec::stale_objects(&previous, &current)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(report)
}

/// Server-side apply with dryRun=All, compared with the live object (status and server-owned
/// metadata left out): the diff when they differ.
fn server_dry_run(io: &Io, conn: &Conn, object: &Value) -> Result<Option<String>, Error> {
    let r = ObjectRef::of(object).expect("parsed manifests are complete");
    let live = io
        .kube
        .get(conn, &r)
        .map_err(|e| Error::Other(e.to_string()))?;
    let would = io
        .kube
        .apply(conn, object, true)
        .map_err(|e| Error::Other(e.to_string()))?;
    let clean = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "managedFields",
                "resourceVersion",
                "generation",
                "uid",
                "creationTimestamp",
            ] {
                m.remove(k);
            }
        }
        if let Some(o) = v.as_object_mut() {
            o.remove("status");
        }
        serde_norway::to_string(&v).unwrap_or_default()
    };
    let before = live.as_ref().map(clean).unwrap_or_default();
    let after = clean(&would);
    if before == after {
        return Ok(None);
    }
    Ok(Some(flotilla_generate::diff::unified(
        &format!("live {r}"),
        &format!("applied {r}"),
        &before,
        &after,
    )))
}

/// Stdout that keeps the diff's colors on a terminal and strips them otherwise.
pub fn colored_stdout() -> anstream::AutoStream<std::io::Stdout> {
    anstream::AutoStream::auto(std::io::stdout())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_line_gives_its_counts() {
        let lines = vec![
            "Note: Objects have changed outside of Terraform".to_string(),
            "Plan: 1 to add, 2 to change, 3 to destroy.".to_string(),
        ];
        assert_eq!(
            PlanCounts::parse(&lines),
            Some(PlanCounts {
                add: 1,
                change: 2,
                destroy: 3
            })
        );
        assert_eq!(PlanCounts::parse(&["No changes.".to_string()]), None);
    }
}
