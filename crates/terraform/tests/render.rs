//! Snapshots of the renderer on the fixture platforms, and properties every render has.

mod common;

use flotilla_model::artifact;

#[test]
fn snapshots() {
    for (name, platform) in common::fixtures() {
        let artifacts = flotilla_terraform::render(&platform);
        let mut text = String::new();
        for a in &artifacts {
            text.push_str(&format!("==> {} <==\n{}\n", a.path, a.contents));
        }
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn every_cluster_gets_a_complete_root_module() {
    const FILES: [&str; 6] = [
        "versions.tf",
        "backend.tf",
        "providers.tf",
        "main.tf",
        "variables.tf",
        "outputs.tf",
    ];
    for (name, platform) in common::fixtures() {
        let artifacts = flotilla_terraform::render(&platform);
        let mut expected: Vec<String> = Vec::new();
        let dirs =
            std::iter::once("bootstrap").chain(platform.clusters.iter().map(|c| c.name.as_str()));
        for dir in dirs {
            for f in FILES {
                expected.push(format!("infra/{dir}/{f}"));
            }
        }
        let mut got: Vec<String> = artifacts.iter().map(|a| a.path.clone()).collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{name}");
        for a in &artifacts {
            assert!(
                a.contents.starts_with(&artifact::header("#")),
                "{} lacks the header",
                a.path
            );
            assert!(
                a.contents.ends_with('\n'),
                "{} lacks a final newline",
                a.path
            );
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for (name, platform) in common::fixtures() {
        assert_eq!(
            flotilla_terraform::render(&platform),
            flotilla_terraform::render(&platform),
            "{name}"
        );
    }
}

#[test]
fn versions_come_from_the_versions_file() {
    let (_, platform) = common::fixtures().remove(0);
    let artifacts = flotilla_terraform::render(&platform);
    let tf = &platform.versions.terraform;
    let main = &artifacts
        .iter()
        .find(|a| a.path == "infra/production/main.tf")
        .unwrap()
        .contents;
    for module in ["vpc", "eks", "eks_pod_identity"] {
        let m = platform.versions.module(module);
        assert!(
            main.contains(&format!("source  = \"{}\"", m.source)),
            "{module}"
        );
        assert!(
            main.contains(&format!("version = \"{}\"", m.version)),
            "{module}"
        );
    }
    let versions = &artifacts
        .iter()
        .find(|a| a.path == "infra/production/versions.tf")
        .unwrap()
        .contents;
    assert!(versions.contains(&tf.required_version));
    for p in tf.providers.values() {
        assert!(
            versions.contains(&format!("version = \"{}\"", p.version)),
            "{}",
            p.source
        );
    }
}
