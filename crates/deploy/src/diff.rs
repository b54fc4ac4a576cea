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

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use flotilla_model::{Platform, Role};
use serde_json::Value;

use crate::commands::{Error, Io};
use crate::engine::{self, Paths};
use crate::graph::{GraphInputs, Target};
use crate::journal::RUNS_DIR;
use crate::kube::{Conn, ObjectRef};
use crate::runner::StepLog;
use crate::tools::{self, Tool};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The generated directories of a cluster (the controlplane also owns the state bootstrap).
fn cluster_prefixes(platform: &Platform, cluster: &str) -> Vec<String> {
    let mut v = vec![format!("infra/{cluster}/"), format!("helm/{cluster}/")];
    if platform
        .cluster(cluster)
        .is_some_and(|c| c.role == Role::Controlplane)
    {
        v.push("infra/bootstrap/".into());
    }
    v
}

fn committed_files(root: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            // Terraform's working files (the bootstrap's local state, saved plans) are not
            // generated output: `generate` leaves them alone, so the diff does too.
            if name.starts_with('.')
                || name.ends_with(".tfstate")
                || name.ends_with(".tfstate.backup")
                || name.ends_with(".tfplan")
            {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(text) = fs::read_to_string(&path) {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, text);
            }
        }
    }
    walk(root, &root.join(prefix), out);
}

/// Generated vs committed for the given prefixes: path -> (committed, generated).
fn pairs(
    root: &Path,
    platform: &Platform,
    prefixes: &[String],
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let rendered = crate::generate::render_all(platform);
    let mut committed = BTreeMap::new();
    for p in prefixes {
        committed_files(root, p, &mut committed);
    }
    let mut out = BTreeMap::new();
    for (path, text) in rendered.files {
        if prefixes.iter().any(|p| path.starts_with(p.as_str())) {
            out.insert(path.clone(), (committed.remove(&path), Some(text)));
        }
    }
    for (path, text) in committed {
        out.insert(path, (Some(text), None));
    }
    out
}

/// Every file under `infra/` and `helm/` whose committed contents differ from a fresh render.
pub fn drifted_files(root: &Path, platform: &Platform) -> std::io::Result<Vec<String>> {
    let prefixes = vec!["infra/".to_string(), "helm/".to_string()];
    Ok(pairs(root, platform, &prefixes)
        .into_iter()
        .filter(|(_, (a, b))| a != b)
        .map(|(p, _)| p)
        .collect())
}

/// A unified diff with ANSI colors (anstream strips them when stdout is not a terminal).
pub fn unified(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    out.push_str(&format!("{BOLD}--- {old_name}\n+++ {new_name}{RESET}\n"));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!("{CYAN}{}{RESET}\n", hunk.header()));
        for change in hunk.iter_changes() {
            let (sign, color) = match change.tag() {
                similar::ChangeTag::Delete => ("-", RED),
                similar::ChangeTag::Insert => ("+", GREEN),
                similar::ChangeTag::Equal => (" ", ""),
            };
            let text = change.value();
            let nl = if text.ends_with('\n') {
                ""
            } else {
                "\n\\ No newline at end of file\n"
            };
            if color.is_empty() {
                out.push_str(&format!("{sign}{text}{nl}"));
            } else {
                out.push_str(&format!("{color}{sign}{text}{RESET}{nl}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::replace_name;

    #[test]
    fn names_are_replaced_only_where_they_stand_alone() {
        assert_eq!(
            replace_name(
                "flotilla-dev dev.example.org device /dev/xvda dev",
                "dev",
                "<env>"
            ),
            "flotilla-<env> <env>.example.org device /<env>/xvda <env>"
        );
        assert_eq!(replace_name("devdev", "dev", "X"), "devdev");
        assert_eq!(replace_name("", "dev", "X"), "");
    }
}

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
        return between(platform, &a, &b, out);
    }
    let mut changed = 0;
    for (path, (committed, generated)) in pairs(root, platform, &cluster_prefixes(platform, &a)) {
        if committed == generated {
            continue;
        }
        changed += 1;
        let old = committed.as_deref().unwrap_or("");
        let new = generated.as_deref().unwrap_or("");
        let old_name = if committed.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".into()
        };
        let new_name = if generated.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".into()
        };
        write!(out, "{}", unified(&old_name, &new_name, old, new))?;
    }
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

/// `diff <a> <b>`: both environments' generated files with their names replaced by `<env>`.
fn between(platform: &Platform, a: &str, b: &str, out: &mut dyn Write) -> Result<i32, Error> {
    let rendered = crate::generate::render_all(platform);
    // Both environments' names are replaced on both sides: a line that holds the other
    // environment's name for another reason (`/dev/xvda` next to an environment `dev`) then
    // reads the same on both sides instead of showing as a difference.
    let mut names: Vec<&str> = [a, b]
        .iter()
        .flat_map(|c| {
            let c = platform.cluster(c).expect("cluster exists");
            [c.name.as_str(), c.environment.as_str()]
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let norm = |s: &str| {
        let mut s = s.to_string();
        for n in &names {
            s = replace_name(&s, n, "<env>");
        }
        s
    };
    let normalized = |cluster: &str| -> BTreeMap<String, String> {
        rendered
            .files
            .iter()
            .filter(|(p, _)| {
                p.starts_with(&format!("infra/{cluster}/"))
                    || p.starts_with(&format!("helm/{cluster}/"))
            })
            .map(|(p, t)| (norm(p), norm(t)))
            .collect()
    };
    let fa = normalized(a);
    let fb = normalized(b);
    let paths: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let mut changed = 0;
    for p in paths {
        let (ta, tb) = (fa.get(p), fb.get(p));
        if ta == tb {
            continue;
        }
        changed += 1;
        write!(
            out,
            "{}",
            unified(
                &if ta.is_some() {
                    format!("{a}: {p}")
                } else {
                    "/dev/null".into()
                },
                &if tb.is_some() {
                    format!("{b}: {p}")
                } else {
                    "/dev/null".into()
                },
                ta.map(String::as_str).unwrap_or(""),
                tb.map(String::as_str).unwrap_or(""),
            )
        )?;
    }
    writeln!(
        out,
        "{a} vs {b}: {changed} file(s) differ beyond the environment name"
    )?;
    Ok(if changed > 0 { 2 } else { 0 })
}

/// Replaces `name` where it stands as a name of its own (not inside a longer word), so that
/// `dev` becomes `<env>` in `flotilla-dev` and `dev.example.org` but `device` stays.
fn replace_name(text: &str, name: &str, with: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + name.len()..].chars().next();
        out.push_str(&rest[..i]);
        if word(before) || word(after) {
            out.push_str(name);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + name.len()..];
    }
    out.push_str(rest);
    out
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
    let run_id = crate::journal::new_run_id("diff", cluster);
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
    let run = |tool: Tool, inv: &crate::process::Invocation, capture: bool| {
        crate::process::run(&found[&tool].program, inv, root, &log, cancel, capture)
            .map_err(Error::Other)
    };
    let dir = format!("infra/{cluster}");
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
    let inputs = GraphInputs::from_platform(platform);
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
            for o in crate::kube::parse_manifests(f, &text).map_err(Error::Other)? {
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
        unified(
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
