//! Drift is a test failure: the committed infra/, helm/ and diagram regions must equal a fresh
//! render of the committed platform.toml (the same check as `cargo xtask generate --check`).

use std::path::Path;
use std::process::Command;

#[test]
fn committed_output_matches_a_fresh_render() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["generate", "--check"])
        .current_dir(root)
        .env("FLOTILLA_ROOT", root)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "committed generated output is stale:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
