//! Test support shared by the crates' test suites. Never a dependency of production code.
//!
//! - [`tool`]: find an external tool (terraform, promtool, amtool, moto_server, ...). When it is
//!   missing the test prints why it skips; with `CI=true` a missing tool fails the test instead.
//! - [`reference_dir`]: the pinned upstream reference data (`FLOTILLA_REFERENCE`, else
//!   `../shared/reference` next to the repository, else the `cargo xtask reference sync` cache).
//! - [`chart_values`]: every key path of a generated Helm values document exists in the pinned
//!   chart's defaults (or its `values.schema.json`), free-form maps only by an allowlist with a
//!   reason each.
//! - [`crd_schema`]: a custom resource validates against its pinned CRD's OpenAPI v3 schema.
//! - [`kube_schema`]: a built-in object validates against the strict JSON Schemas of its
//!   Kubernetes version (unknown fields rejected, as `--validate=strict`).
//!
//! Versions come from `versions.toml` ([`flotilla_model::Versions::embedded`]); a version whose
//! reference folder is missing is a [`ReferenceError`], never a silent pass.

pub mod chart_values;
pub mod crd_schema;
pub mod fixtures;
pub mod identity;
pub mod kube_schema;
pub mod pss;
pub mod schema;
pub mod synthetic;
pub mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found by a reference check, at a key path such as `controller.replicaCount` or
/// `spec.listeners[0].port`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

impl Finding {
    pub fn new(path: &str, message: impl Into<String>) -> Finding {
        Finding {
            path: if path.is_empty() {
                "(root)".into()
            } else {
                path.to_string()
            },
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Renders findings one per line (for assertion messages).
pub fn report(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("  {f}\n")).collect()
}

/// The pinned reference data cannot be used for a check.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{name}` is not pinned in versions.toml (pinned: {known})")]
    NotPinned { name: String, known: String },
    #[error(
        "no reference data for {name} {version}: {} does not exist (run `cargo xtask reference sync`: it downloads a bumped version's files and records their digests in reference.lock; or pin a version that is there)",
        dir.display()
    )]
    MissingVersion {
        name: String,
        version: String,
        dir: PathBuf,
    },
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

pub(crate) fn read_text(path: &Path) -> Result<String, ReferenceError> {
    std::fs::read_to_string(path).map_err(|e| ReferenceError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

pub(crate) fn read_yaml_documents(path: &Path) -> Result<Vec<serde_json::Value>, ReferenceError> {
    yaml::documents(&read_text(path)?).map_err(|message| ReferenceError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

/// Whether we run under CI, where a missing tool is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether a slow check runs: always, unless `FLOTILLA_FAST=1` asks for the quick local loop
/// (then it prints that it skips). Under `CI=true` slow checks always run, whatever
/// `FLOTILLA_FAST` says, so nothing is skipped where results count.
pub fn slow(what: &str) -> bool {
    let fast = std::env::var("FLOTILLA_FAST").is_ok_and(|v| v == "1" || v == "true");
    if fast && !in_ci() {
        note_skip(&format!("{what} (FLOTILLA_FAST=1)"));
        return false;
    }
    true
}

/// Says that a check did not run, where the user sees it: straight to the test process's
/// stderr (libtest captures `eprintln!` of a passing test, not a write to the stream), and as a
/// line `<test>\t<reason>` in the file `FLOTILLA_SKIP_LOG` names, from which `cargo xtask
/// test` prints its one closing line of skipped checks.
fn note_skip(reason: &str) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("?")
        .replace('\t', " ");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
    if let Some(log) = std::env::var_os("FLOTILLA_SKIP_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
    {
        // One write per line: lines of parallel tests do not interleave.
        let _ = f.write_all(format!("{test}\t{}\n", reason.replace('\n', " ")).as_bytes());
    }
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}

/// Looks `name` up on PATH (or in the variable `env_override` when set).
///
/// Returns `None` after printing a skip line when the tool is missing, so a test does
/// `let Some(promtool) = tool("promtool", None, "apt-get install prometheus") else { return };`.
/// Under `CI=true` a missing tool panics with the install hint.
pub fn tool(name: &str, env_override: Option<&str>, install_hint: &str) -> Option<PathBuf> {
    if let Some(var) = env_override
        && let Ok(p) = std::env::var(var)
    {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Some(p);
        }
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        skip(&format!("`{name}` is not installed ({install_hint})"));
    }
    found
}

/// Prints why a check is skipped; under `CI=true` fails instead.
pub fn skip(reason: &str) {
    if in_ci() {
        panic!("CI=true and a check cannot run: {reason}");
    }
    note_skip(reason);
}

/// Every file below `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Runs git in `dir` as a test author (branch `main`, no signing); fails the test with git's
/// error when git does.
pub fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=flotilla-test",
            "-c",
            "user.email=test@flotilla.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where `cargo xtask reference sync` keeps the reference data by default: `reference` in the
/// state directory, `FLOTILLA_STATE_DIR` (a relative path taken from the checkout) or `.flotilla`
/// of the checkout (the rule of `flotilla_deploy::journal::state_dir`, which this crate does
/// not depend on).
pub fn reference_cache(root: &Path) -> PathBuf {
    let state = match std::env::var_os("FLOTILLA_STATE_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".flotilla"),
    };
    state.join("reference")
}

/// The pinned reference data of the checkout at `root`: `FLOTILLA_REFERENCE`, else
/// `../shared/reference` beside it when present, else the sync's cache ([`reference_cache`]).
/// `Err` lists the places looked at. The one lookup the tests and `cargo xtask doctor` share.
pub fn reference_dir_in(root: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates: Vec<PathBuf> = match std::env::var_os("FLOTILLA_REFERENCE") {
        Some(dir) => vec![PathBuf::from(dir)],
        None => vec![root.join("../shared/reference"), reference_cache(root)],
    };
    candidates
        .iter()
        .find(|d| d.is_dir())
        .cloned()
        .ok_or(candidates)
}

/// The pinned reference data folder ([`reference_dir_in`] of this repository), or `None`
/// (after [`skip`]) when it is not there.
pub fn reference_dir() -> Option<PathBuf> {
    match reference_dir_in(&repo_root()) {
        Ok(dir) => Some(dir),
        Err(candidates) => {
            skip(&format!(
                "no pinned reference data at {}: run `cargo xtask reference sync` (or set FLOTILLA_REFERENCE)",
                candidates
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
            None
        }
    }
}
