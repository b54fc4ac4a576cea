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
use crate::run::journal::RUNS_DIR;
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
    if let Some(other) = &args.other {
        let b = cluster_of(platform, other)?;
        let diff = flotilla_generate::diff::between(platform, &a, &b);
        write!(out, "{}", diff.text)?;
        writeln!(
            out,
            "{a} vs {b}: {} file(s) differ beyond the environment name",
            diff.changed
        )?;
        return Ok(if diff.changed > 0 { 2 } else { 0 });
    }
    let diff = flotilla_generate::diff::against_committed(root, platform, &a);
    write!(out, "{}", diff.text)?;
    let changed = diff.changed;
    if changed == 0 {
        writeln!(
            out,
            "{}: generated output matches the committed files",
            args.env
        )?;
    } else {
        writeln!(
            out,
            "{}: {changed} generated file(s) differ from the committed ones (`cargo xtask generate` writes them)",
            args.env
        )?;
    }
    let mut code = if changed > 0 { 2 } else { 0 };
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

/// The live part: Terraform plan, helm diff, server-side dry-run. Returns whether anything
/// would change.
fn live(
    root: &Path,
    platform: &Platform,
    cluster: &str,
    io: &Io,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    let versions = flotilla_model::Versions::embedded();
    let found = tools::check(&[Tool::Terraform, Tool::Helm], &versions.tools, &io.tools)
        .map_err(Error::Tools)?;
    let run_id = crate::run::journal::new_run_id("diff", cluster);
    let paths = Paths {
        root: root.to_path_buf(),
        run_dir: root.join(RUNS_DIR).join(run_id),
    };
    let log = StepLog::create(paths.run_dir.join("logs").join("diff-live.log"))?;
    // Shown relative to the repository root, as deploy shows its logs.
    let log_name = log
        .path
        .strip_prefix(root)
        .unwrap_or(&log.path)
        .display()
        .to_string();
    let cancel = &io.cancel;
    let run = |tool: Tool, inv: &Invocation, capture: bool| {
        crate::edge::process::run(&found[&tool].program, inv, root, &log, cancel, capture)
            .map_err(Error::Other)
    };
    let dir = flotilla_terraform::module_dir(cluster);
    let mut changes = false;
    writeln!(
        out,
        "\n{BOLD}terraform plan of {dir}{RESET} (log: {})",
        log_name
    )?;
    fs::create_dir_all(root.join(".flotilla/terraform").join(cluster))?;
    let init = run(
        Tool::Terraform,
        &engine::tf_init(&paths, &dir, cluster),
        false,
    )?;
    if !init.success() {
        return Err(Error::Other(format!(
            "terraform init of {dir} failed; see {}",
            log_name
        )));
    }
    let plan = run(
        Tool::Terraform,
        &engine::tf_verify(&paths, &dir, cluster),
        true,
    )?;
    // The whole plan goes to the log; its summary lines are shown here.
    for l in plan.stdout.lines() {
        log.line(l);
    }
    let summary: Vec<&str> = plan
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("Plan:")
                || l.starts_with("No changes.")
                || l.starts_with("Changes to Outputs")
        })
        .collect();
    match plan.code {
        Some(0) => writeln!(out, "  no changes")?,
        Some(2) => {
            changes = true;
            if summary.is_empty() {
                writeln!(out, "  changes pending (details in the log)")?;
            }
            for l in &summary {
                writeln!(out, "  {l}")?;
            }
        }
        _ => {
            return Err(Error::Other(format!(
                "terraform plan of {dir} failed; see {}",
                log_name
            )));
        }
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
        writeln!(
            out,
            "  {cluster} has no cluster yet (no `cluster_name` output): Helm and manifests would all be new"
        )?;
        return Ok(true);
    };
    let c = platform.cluster(cluster).expect("cluster exists");
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
    // The live comparison is of what is committed (it runs after the file diff, which shows
    // any drift from platform.toml).
    let inputs = crate::cmd::planning_inputs(root, platform, true)?;
    for r in inputs.releases.get(cluster).into_iter().flatten() {
        let mut inv = engine::helm_diff(&paths, cluster, &endpoint, r);
        inv.secret_env
            .push(("HELM_KUBETOKEN".into(), token.clone()));
        let f = run(Tool::Helm, &inv, true)?;
        match f.code {
            Some(0) => writeln!(out, "{BOLD}helm diff {}{RESET}: no changes", r.name)?,
            Some(2) => {
                changes = true;
                writeln!(
                    out,
                    "{BOLD}helm diff {}{RESET}:\n{}",
                    r.name,
                    f.stdout.trim_end()
                )?;
            }
            _ => {
                return Err(Error::Other(format!(
                    "helm diff of {} failed (is the helm-diff plugin installed? `helm plugin install https://github.com/databus23/helm-diff --version v{}`); see {}",
                    r.name, versions.tools.helm_diff, log_name
                )));
            }
        }
    }
    let conn = Conn {
        cluster: cluster.to_string(),
        endpoint,
        ca_pem: Some(described.ca_pem),
        token,
    };
    for files in inputs
        .manifests
        .iter()
        .filter(|((c, _), _)| c == cluster)
        .map(|(_, f)| f)
    {
        for f in files {
            let text = fs::read_to_string(root.join(f))?;
            for o in crate::edge::kube::parse_manifests(f, &text).map_err(Error::Other)? {
                if server_dry_run(io, &conn, &o, out)? {
                    changes = true;
                }
            }
        }
    }
    Ok(changes)
}

/// Server-side apply with dryRun=All, compared with the live object (status and server-owned
/// metadata left out). Prints a diff when they differ.
fn server_dry_run(
    io: &Io,
    conn: &Conn,
    object: &Value,
    out: &mut dyn Write,
) -> Result<bool, Error> {
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
        return Ok(false);
    }
    write!(
        out,
        "{}",
        flotilla_generate::diff::unified(
            &format!("live {r}"),
            &format!("applied {r}"),
            &before,
            &after
        )
    )?;
    Ok(true)
}

/// Stdout that keeps the diff's colors on a terminal and strips them otherwise.
pub fn colored_stdout() -> anstream::AutoStream<std::io::Stdout> {
    anstream::AutoStream::auto(std::io::stdout())
}
