//! Fixture platforms shared by the Helm renderer's tests.
#![allow(dead_code)]

use flotilla_model::{Platform, Versions, load};

/// The repository's own platform.
pub const SEED: &str = include_str!("../../../testkit/fixtures/seed.toml");
pub const MINIMAL: &str = include_str!("../fixtures/minimal.toml");
/// Every name at its longest (and a team named with the characters IAM allows).
pub const MAXIMAL: &str = include_str!("../fixtures/maximal.toml");

pub fn load_fixture(name: &str, text: &str) -> Platform {
    match load(name, text, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("fixture {name} does not load:\n{e}"),
    }
}

/// Every fixture platform, by name.
pub fn fixtures() -> Vec<(&'static str, Platform)> {
    vec![
        ("seed", load_fixture("platform.toml", SEED)),
        ("minimal", load_fixture("fixtures/minimal.toml", MINIMAL)),
        ("maximal", load_fixture("fixtures/maximal.toml", MAXIMAL)),
    ]
}
