//! The capacity plan of the repository's own platform, reviewed as a snapshot.

use flotilla_model::{Platform, Versions, load};

const SEED: &str = include_str!("../../testkit/fixtures/seed.toml");

fn seed() -> Platform {
    match load("platform.toml", SEED, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn seed_capacity_plan() {
    let plan = seed().capacity_plan();
    insta::assert_yaml_snapshot!("seed_capacity_plan", *plan);
}

#[test]
fn seed_capacity_plan_text() {
    let text = seed().capacity_plan().to_text();
    insta::assert_snapshot!("seed_capacity_plan_text", text);
}
