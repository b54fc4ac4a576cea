//! Clusters that platform.toml no longer has, pruned by `deploy all`: a cluster whose Terraform
//! state is still in the state bucket but which the model lost is torn down, as `destroy`
//! would, from the files of the last commit that had it (its `infra/` and `helm/` and that
//! commit's platform.toml), extracted under `.flotilla/decommission/<cluster>/`. A cluster that
//! was protected there needs the typed confirmation `--confirm-prune all`; a state that holds
//! no resources (torn down already) is left alone, and a teardown that stopped continues from
//! its journal.
//! Nothing that Flotilla did not create is touched: only state keys of the form
//! `<cluster>/terraform.tfstate`, only clusters a commit removed from `infra/`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flotilla_model::Platform;

use crate::cmd::{DestroyArgs, Error, Io, destroy};

/// Where a removed cluster's last files are extracted.
pub fn decommission_dir(root: &Path) -> PathBuf {
    crate::run::journal::state_dir(root).join("decommission")
}

/// A cluster the model lost, and the commit that removed its module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub cluster: String,
    /// The commit that deleted `infra/<cluster>/main.tf`.
    pub commit: String,
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The clusters whose root module a commit of this checkout deleted and that the model does not
/// have (offline: what a dry run can say), newest removal first.
pub fn removed_in_history(root: &Path, platform: &Platform) -> Vec<Removed> {
    let Ok(log) = git(
        root,
        &[
            "log",
            "--diff-filter=D",
            "--format=commit %H",
            "--name-only",
            "--",
            "infra/*/main.tf",
        ],
    ) else {
        return vec![];
    };
    let mut out: Vec<Removed> = Vec::new();
    let mut commit = String::new();
    for line in log.lines() {
        if let Some(c) = line.strip_prefix("commit ") {
            commit = c.to_string();
        } else if let Some(name) = line
            .strip_prefix("infra/")
            .and_then(|l| l.strip_suffix("/main.tf"))
            && !name.contains('/')
            && name != flotilla_terraform::BOOTSTRAP_MODULE
            && platform.cluster(name).is_none()
            && !out.iter().any(|r| r.cluster == name)
        {
            out.push(Removed {
                cluster: name.to_string(),
                commit: commit.clone(),
            });
        }
    }
    out
}

/// The clusters with Terraform state in the bucket (`<cluster>/terraform.tfstate`) that the
/// model does not have.
pub fn with_state(keys: &[String], platform: &Platform) -> BTreeSet<String> {
    keys.iter()
        .filter_map(|k| k.strip_suffix("/terraform.tfstate"))
        .filter(|n| {
            !n.contains('/')
                && *n != flotilla_terraform::BOOTSTRAP_MODULE
                && platform.cluster(n).is_none()
        })
        .map(str::to_string)
        .collect()
}

/// Whether a Terraform state (JSON) holds any resource.
pub fn has_resources(state: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(state)
        .ok()
        .and_then(|v| {
            v.get("resources")
                .and_then(|r| r.as_array())
                .map(|r| !r.is_empty())
        })
        .unwrap_or(true)
}

/// The lines of a `deploy all --dry-run` about removed clusters.
pub fn dry_run_lines(root: &Path, platform: &Platform) -> Vec<String> {
    removed_in_history(root, platform)
        .into_iter()
        .map(|r| {
            format!(
                "decommission {}: removed from platform.toml in {}; a real `deploy all` tears it down from the files of {}^ when the state bucket still has {}/terraform.tfstate (preview: check out {}^ and run `cargo xtask destroy <its environment> --confirm <its environment> --dry-run`)",
                r.cluster,
                &r.commit[..r.commit.len().min(12)],
                &r.commit[..r.commit.len().min(12)],
                r.cluster,
                &r.commit[..r.commit.len().min(12)],
            )
        })
        .collect()
}

/// Writes the `infra/` and `helm/` of `commit` (and its platform.toml and versions.toml) into
/// `dir`, replacing what an earlier decommission left there.
fn extract(root: &Path, commit: &str, dir: &Path) -> Result<(), Error> {
    let _ = std::fs::remove_dir_all(dir);
    let files = git(
        root,
        &[
            "ls-tree",
            "-r",
            "--name-only",
            commit,
            "--",
            "infra",
            "helm",
            "platform.toml",
            "versions.toml",
        ],
    )
    .map_err(Error::Other)?;
    for f in files.lines().filter(|f| !f.is_empty()) {
        let out = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["show", &format!("{commit}:{f}")])
            .output()?;
        if !out.status.success() {
            return Err(Error::Other(format!("git show {commit}:{f} failed")));
        }
        let path = dir.join(f);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| crate::run::journal::at(parent, e))?;
        }
        std::fs::write(&path, out.stdout).map_err(|e| crate::run::journal::at(&path, e))?;
    }
    Ok(())
}

/// After a successful `deploy all`: tears down every cluster the bucket has state for and the
/// model lost. Returns the exit code of the first teardown that did not succeed, or 0.
pub fn run(
    root: &Path,
    platform: &Platform,
    template: &DestroyArgs,
    confirmed: bool,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let keys = io
        .aws
        .list_keys(&platform.state_bucket, &platform.region)
        .map_err(|e| Error::Other(e.to_string()))?;
    // Only a state that still holds resources: after a teardown Terraform leaves the state
    // object behind, empty, and an empty state is nothing to tear down (applying its module
    // to lift a protection would create the cluster anew).
    let mut stateful = BTreeSet::new();
    for cluster in with_state(&keys, platform) {
        let key = format!("{cluster}/terraform.tfstate");
        let state = io
            .aws
            .get_object(&platform.state_bucket, &key, &platform.region)
            .map_err(|e| Error::Other(e.to_string()))?;
        if state.as_deref().is_some_and(has_resources) {
            stateful.insert(cluster);
        } else {
            writeln!(
                out,
                "{cluster}: removed from platform.toml; its state s3://{}/{key} holds no resources (torn down already): nothing to do",
                platform.state_bucket
            )?;
        }
    }
    if stateful.is_empty() {
        return Ok(0);
    }
    let history = removed_in_history(root, platform);
    for cluster in &stateful {
        let Some(r) = history.iter().find(|r| &r.cluster == cluster) else {
            writeln!(
                out,
                "warning: the state bucket {} has {cluster}/terraform.tfstate, but platform.toml has no cluster {cluster} and no commit of this checkout removed infra/{cluster}: nothing of it is touched; tear it down from a checkout that has it (`cargo xtask destroy`), or remove the state if it is not Flotilla's",
                platform.state_bucket
            )?;
            continue;
        };
        let parent = format!("{}^", r.commit);
        let old = crate::cmd::baseline::baseline(root, "platform.toml", &parent)
            .map_err(|e| Error::Other(format!("decommission {cluster}: {e}")))?;
        let Some(c) = old.cluster(cluster) else {
            return Err(Error::Other(format!(
                "decommission {cluster}: {parent}:platform.toml has no cluster {cluster}"
            )));
        };
        let mut old = old.clone();
        if c.protected {
            if !confirmed {
                return Err(Error::Other(format!(
                    "{cluster} was protected when it was removed from platform.toml: tearing it down needs the typed confirmation, `cargo xtask deploy all --confirm-prune all` (after reviewing the dry run); nothing of it was touched"
                )));
            }
            // Confirmed: the teardown lifts the deletion protection first, as destroy does.
            for oc in old.clusters.iter_mut().filter(|oc| oc.name == *cluster) {
                oc.protected = false;
            }
        }
        let dir: PathBuf = decommission_dir(root).join(cluster);
        writeln!(
            out,
            "\ndecommission {cluster}: removed from platform.toml in {}; tearing it down from the files of {parent} in {}",
            &r.commit[..r.commit.len().min(12)],
            dir.strip_prefix(root).unwrap_or(&dir).display()
        )?;
        // A teardown that stopped earlier continues from its journal (the files it ran are
        // the same commit's), never from a fresh start.
        let marker = dir.join(".flotilla-commit");
        let unfinished =
            crate::run::journal::latest(&dir, "destroy", &c.environment)?.is_some_and(|(_, j)| {
                j.state != crate::run::journal::RunState::Finished
                    || j.steps.iter().any(|s| !s.status.is_success())
            });
        let resume =
            std::fs::read_to_string(&marker).is_ok_and(|c| c.trim() == parent) && unfinished;
        if !resume {
            extract(root, &parent, &dir)?;
            std::fs::write(&marker, &parent).map_err(|e| crate::run::journal::at(&marker, e))?;
        }
        let mut args = template.clone();
        args.target = c.environment.clone();
        args.confirm = Some(c.environment.clone());
        args.resume = resume;
        let code = destroy(&dir, &old, &args, io, out)?;
        if code != 0 {
            writeln!(
                out,
                "decommission {cluster}: its teardown did not finish; its journal is under {}",
                crate::run::journal::runs_dir(&dir).display()
            )?;
            return Ok(code);
        }
    }
    Ok(0)
}
