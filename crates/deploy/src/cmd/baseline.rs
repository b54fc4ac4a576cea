//! The platform as a git ref has it (`git show <ref>:platform.toml` and `versions.toml`): the
//! baseline of an upgrade plan. Reads git, so it lives with the commands.

use std::path::Path;
use std::process::Command;

use flotilla_model::{Platform, Versions};

fn show(root: &Path, git_ref: &str, file: &str) -> Result<String, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["show", &format!("{git_ref}:{file}")])
        .output()
        .map_err(|e| format!("git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {git_ref}:{file}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{git_ref}:{file}: {e}"))
}

/// The platform file `platform_rel` (relative to the repository root) and `versions.toml` as
/// `git_ref` has them, loaded; an error says why there is no baseline.
pub fn baseline(root: &Path, platform_rel: &str, git_ref: &str) -> Result<Platform, String> {
    let versions = Versions::parse(&show(root, git_ref, "versions.toml")?)
        .map_err(|e| format!("{git_ref}:versions.toml: {e}"))?;
    let text = show(root, git_ref, platform_rel)?;
    flotilla_model::load(&format!("{git_ref}:{platform_rel}"), &text, &versions)
        .map_err(|e| e.to_string())
}

/// The upgrade section of a plan or dry run: from the baseline at `git_ref`, or why there is
/// none.
pub fn upgrade_text(root: &Path, platform_rel: &str, git_ref: &str, current: &Platform) -> String {
    match baseline(root, platform_rel, git_ref) {
        Ok(base) => flotilla_plan::upgrade::to_text(
            &flotilla_plan::upgrade::upgrades(&base, current),
            git_ref,
        ),
        Err(e) => format!("no baseline to plan an upgrade from: {e}\n"),
    }
}
