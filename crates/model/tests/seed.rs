//! The repository's own platform.toml loads, and its typed form is reviewed as a snapshot.

use flotilla_model::{Versions, load};

const SEED: &str = include_str!("../../testkit/fixtures/seed.toml");

#[test]
fn seed_platform_loads() {
    let platform = match load("platform.toml", SEED, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        platform.environments(),
        ["production", "staging", "testing"]
    );
    assert_eq!(platform.controlplane().name, "controlplane");
    insta::assert_yaml_snapshot!("seed_platform", platform);
}
