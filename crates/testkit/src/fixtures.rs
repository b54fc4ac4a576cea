//! Platforms the test suites of several crates share: `seed.toml`, a copy of the repository's
//! `platform.toml` as shipped (tests never read `platform.toml` itself, so a user's edit of it
//! changes the generated output and nothing else), and a small two-environment platform
//! (`crates/testkit/fixtures/two-envs.toml`).

use flotilla_model::{Platform, Versions};

use crate::repo_root;

/// Loads a platform file given relative to the repository root; panics with the diagnostics
/// when it does not load.
pub fn load(rel: &str) -> Platform {
    let path = repo_root().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    flotilla_model::load(rel, &text, &Versions::embedded())
        .unwrap_or_else(|e| panic!("{rel} does not load: {e:?}"))
}

/// The shipped example platform (`crates/testkit/fixtures/seed.toml`).
pub fn seed() -> Platform {
    load("crates/testkit/fixtures/seed.toml")
}

/// Two environments (`dev`, `qa`) and the controlplane, in one account.
pub fn two_envs() -> Platform {
    load("crates/testkit/fixtures/two-envs.toml")
}
