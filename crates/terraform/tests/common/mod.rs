//! Shared by the test files: the fixture platforms and a way to write a render to disk.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flotilla_model::{Artifact, Platform, Versions};

pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

pub fn fixtures_dir() -> PathBuf {
    tests_dir().join("fixtures")
}

/// Loads a platform file; a fixture that does not load is a test failure with its diagnostics.
pub fn load(path: &Path) -> Platform {
    let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    match flotilla_model::load(&name, &src, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("{} does not load:\n{e}", path.display()),
    }
}

/// The fixture platforms by name: the shipped example (crates/testkit/fixtures/seed.toml), then
/// tests/fixtures/*.toml.
pub fn fixtures() -> Vec<(String, Platform)> {
    let mut out = vec![(
        "seed".to_string(),
        load(&flotilla_testkit::repo_root().join("crates/testkit/fixtures/seed.toml")),
    )];
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for f in files {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        out.push((name, load(&f)));
    }
    out
}

/// Writes artifacts under `dir` (paths are relative to the repository root: `infra/...`).
pub fn write(dir: &Path, artifacts: &[Artifact]) {
    for a in artifacts {
        let path = dir.join(&a.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &a.contents).unwrap();
    }
}

/// The root module directories of a render (`infra/bootstrap`, `infra/<cluster>`), sorted.
pub fn module_dirs(artifacts: &[Artifact]) -> Vec<String> {
    let mut dirs: Vec<String> = artifacts
        .iter()
        .map(|a| a.path.rsplit_once('/').unwrap().0.to_string())
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}
