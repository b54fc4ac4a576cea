//! No test reads the repository's own platform.toml (the shipped example is
//! crates/testkit/fixtures/seed.toml): editing platform.toml, as docs/user-guide.md shows,
//! changes the generated output and nothing else. The drift check
//! (xtask/tests/generated_is_current.rs) is the one test about the repository's platform, and
//! it stays green after `cargo xtask generate`.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_test_reads_the_repositorys_platform() {
    let root = flotilla_testkit::repo_root();
    let mut files = Vec::new();
    for d in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        rust_files(&d.path().join("tests"), &mut files);
        rust_files(&d.path().join("benches"), &mut files);
    }
    rust_files(&root.join("xtask/tests"), &mut files);
    assert!(files.len() > 30, "only {} test files found", files.len());
    let reads = regex::Regex::new(
        r#"include_str!\("(\.\./)+platform\.toml"\)|(repo_root|root)\(\)\s*\.join\("platform\.toml"\)"#,
    )
    .unwrap();
    let mut found = Vec::new();
    for f in &files {
        if f.ends_with("generated_is_current.rs") || f.ends_with("platform_independence.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for (i, line) in text.lines().enumerate() {
            if reads.is_match(line) {
                found.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tests that read the repository's platform.toml (use crates/testkit/fixtures/seed.toml):\n{}",
        found.join("\n")
    );
}
