//! Test support shared by the crates' test suites. Never a dependency of production code.
//!
//! - [`tool`]: find an external tool (terraform, promtool, amtool, moto_server, ...). When it is
//!   missing the test prints why it skips; with `CI=true` a missing tool fails the test instead.
//! - [`reference_dir`]: the pinned upstream reference data (`FLOTILLA_REFERENCE`, default
//!   `../shared/reference` next to the repository).

use std::path::{Path, PathBuf};

/// Whether we run under CI, where a missing tool is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
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
    eprintln!("SKIPPED: {reason}");
}

/// The pinned reference data folder, or `None` (after [`skip`]) when it is not there.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOTILLA_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/reference"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(&format!(
            "the reference data is not at {} (set FLOTILLA_REFERENCE)",
            dir.display()
        ));
        None
    }
}
