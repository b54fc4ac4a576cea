//! checkov over the render of every fixture platform: zero failed checks, and every inline skip
//! listed in docs/security.md. `.ci/checkov.sh` runs the same scanner over the committed infra/.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// checkov from the repository's `.venv` (where `.ci/checkov.sh` installs it), `FLOTILLA_CHECKOV`,
/// or PATH.
fn checkov() -> Option<PathBuf> {
    let venv = flotilla_testkit::repo_root().join(".venv/bin/checkov");
    if venv.is_file() {
        return Some(venv);
    }
    flotilla_testkit::tool(
        "checkov",
        Some("FLOTILLA_CHECKOV"),
        "run .ci/checkov.sh once, or `pip install checkov`",
    )
}

/// Every `#checkov:skip=ID` the renderer writes, for all fixtures.
fn skips() -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for (_, platform) in common::fixtures() {
        for a in flotilla_terraform::render(&platform) {
            for line in a.contents.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("#checkov:skip=") {
                    let (id, reason) = rest.split_once(':').expect("a skip has ID:reason");
                    assert!(
                        reason.len() > 20,
                        "{}: skip {id} needs a real reason",
                        a.path
                    );
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn every_checkov_skip_is_documented() {
    let doc_path = flotilla_testkit::repo_root().join("docs/security.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap();
    let ids = skips();
    assert!(!ids.is_empty());
    let table_rows: Vec<&str> = doc.lines().filter(|l| l.starts_with("| `")).collect();
    for id in &ids {
        assert!(
            table_rows
                .iter()
                .any(|row| row.starts_with(&format!("| `{id}`"))),
            "checkov skip {id} is emitted but not listed in docs/security.md"
        );
    }
    for row in table_rows {
        let id = row.trim_start_matches("| `").split('`').next().unwrap();
        assert!(
            ids.iter().any(|i| i == id),
            "docs/security.md lists {id}, which is never skipped"
        );
    }
}

#[test]
fn checkov_finds_no_failed_check() {
    let Some(checkov) = checkov() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, platform) in common::fixtures() {
        common::write(
            &dir.path().join(name),
            &flotilla_terraform::render(&platform),
        );
    }
    let out = Command::new(&checkov)
        .arg("--directory")
        .arg(dir.path())
        .args([
            "--framework",
            "terraform",
            "--compact",
            "--quiet",
            "--skip-download",
            "--download-external-modules",
            "false",
            "--output",
            "json",
        ])
        .output()
        .expect("checkov runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output is not JSON ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let summary = &report["summary"];
    let failed = summary["failed"].as_u64().expect("summary.failed");
    let passed = summary["passed"].as_u64().expect("summary.passed");
    let failures: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {} ({}:{})",
                c["check_id"].as_str().unwrap_or("?"),
                c["resource"].as_str().unwrap_or("?"),
                c["file_path"].as_str().unwrap_or("?"),
                c["file_line_range"]
            )
        })
        .collect();
    assert_eq!(failed, 0, "checkov failed checks:\n{}", failures.join("\n"));
    assert!(
        passed > 50,
        "checkov passed only {passed} checks: did it scan anything?"
    );
    assert!(out.status.success(), "checkov exited with {}", out.status);
}
