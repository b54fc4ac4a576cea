//! A model that would produce Terraform AWS refuses is rejected by the model's validation, with
//! a located error, before any Terraform runs. Each case edits the minimal fixture.

mod common;

use flotilla_model::Versions;

/// Loads the minimal fixture after replacing each `from` by its `to` (first occurrence);
/// returns the rendered diagnostics.
fn errors_after(edits: &[(&str, &str)]) -> String {
    let path = common::fixtures_dir().join("minimal.toml");
    let mut src = std::fs::read_to_string(path).unwrap();
    for (from, to) in edits {
        assert!(src.contains(from), "{from:?} is not in minimal.toml");
        src = src.replacen(from, to, 1);
    }
    match flotilla_model::load("platform.toml", &src, &Versions::embedded()) {
        Ok(_) => panic!("the model accepted {edits:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_located(errors: &str, line: usize, message: &str) {
    let prefix = format!("platform.toml:{line}:");
    assert!(
        errors
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(message)),
        "expected an error at line {line} containing {message:?}, got:\n{errors}"
    );
}

#[test]
fn the_unmodified_fixture_loads() {
    let path = common::fixtures_dir().join("minimal.toml");
    common::load(&path);
}

#[test]
fn a_vpc_too_small_for_the_public_subnets_is_rejected() {
    let errors = errors_after(&[(
        "vpc_cidr = \"10.1.0.0/16\"\navailability_zones = 2",
        "vpc_cidr = \"10.1.0.0/24\"\navailability_zones = 5",
    )]);
    assert_located(&errors, 31, "has room for public subnets in 4 zones, not 5");
}

#[test]
fn a_node_pool_mixing_arm_and_x86_is_rejected() {
    let errors = errors_after(&[(
        "instance_types = [\"m6i.large\"]\nmin = 1\ndesired = 1",
        "instance_types = [\"m6i.large\", \"m7g.large\"]\nmin = 1\ndesired = 1",
    )]);
    assert_located(&errors, 46, "mixes arm64 and x86_64 instance types");
}

#[test]
fn an_eks_name_too_long_for_iam_role_names_is_rejected() {
    let errors = errors_after(&[
        ("name = \"mini\"", "name = \"a-platform-of-twenty\""),
        ("name = \"dev\"", "name = \"development-environment-1\""),
    ]);
    assert_located(
        &errors,
        28,
        "EKS cluster name \"a-platform-of-twenty-development-environment-1\" (platform name, dash, cluster name) has 46 characters",
    );
}

#[test]
fn a_duplicate_admin_role_is_rejected() {
    let errors = errors_after(&[(
        "kubernetes_version = \"1.34\"\n\n[clusters.endpoint]\naccess = \"private\"\nprivate_cidrs = [\"10.250.0.0/24\"]\n\n[clusters.gateway]",
        "kubernetes_version = \"1.34\"\nadmin_roles = [\"arn:aws:iam::111122223333:role/admin\", \"arn:aws:iam::111122223333:role/admin\"]\n\n[clusters.endpoint]\naccess = \"private\"\nprivate_cidrs = [\"10.250.0.0/24\"]\n\n[clusters.gateway]",
    )]);
    assert_located(&errors, 34, "duplicate admin role");
}
