//! Snapshots of everything the Helm renderer writes for the fixture platforms, one snapshot per
//! cluster, plus the structural promises of the output (header, order, paths).

mod common;

use flotilla_helm::{Phase, manifests, releases, render};
use flotilla_model::artifact::header;

#[test]
fn snapshots_of_every_cluster() {
    for (fixture, platform) in common::fixtures() {
        let files = render(&platform);
        for cluster in &platform.clusters {
            let prefix = format!("helm/{}/", cluster.name);
            let text: String = files
                .iter()
                .filter(|a| a.path.starts_with(&prefix))
                .map(|a| format!("### {}\n{}", a.path, a.contents))
                .collect();
            insta::assert_snapshot!(format!("{fixture}-{}", cluster.name), text);
        }
    }
}

#[test]
fn every_file_has_the_header_and_ends_with_a_newline() {
    for (fixture, platform) in common::fixtures() {
        for a in render(&platform) {
            assert!(
                a.contents.starts_with(&header("#")),
                "{fixture}: {} lacks the header",
                a.path
            );
            assert!(a.contents.ends_with('\n'), "{fixture}: {}", a.path);
            assert!(a.path.starts_with("helm/"), "{fixture}: {}", a.path);
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for (fixture, platform) in common::fixtures() {
        assert_eq!(render(&platform), render(&platform), "{fixture}");
    }
}

#[test]
fn manifests_sort_in_apply_order() {
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let m = manifests(&platform, cluster);
            let phases: Vec<Phase> = m.iter().map(|m| m.phase).collect();
            let mut sorted = phases.clone();
            sorted.sort();
            assert_eq!(
                phases, sorted,
                "{fixture}/{}: paths sort out of phase order",
                cluster.name
            );
            let paths: Vec<&str> = m.iter().map(|m| m.path.as_str()).collect();
            let mut by_name = paths.clone();
            by_name.sort();
            assert_eq!(paths, by_name, "{fixture}/{}", cluster.name);
            // Namespaces come before any object that lives in one.
            let first_ns = m.iter().position(|m| m.phase == Phase::Namespaces);
            assert_eq!(first_ns, Some(0), "{fixture}/{}", cluster.name);
        }
    }
}

#[test]
fn releases_come_after_what_they_need_and_have_values_files() {
    for (fixture, platform) in common::fixtures() {
        let files = render(&platform);
        for cluster in &platform.clusters {
            let rs = releases(&platform, cluster);
            assert!(!rs.is_empty());
            for (i, r) in rs.iter().enumerate() {
                for need in &r.needs {
                    let j = rs.iter().position(|x| &x.name == need);
                    assert!(
                        j.is_some_and(|j| j < i),
                        "{fixture}/{}: {} needs {need}, which is not before it",
                        cluster.name,
                        r.name
                    );
                }
                assert!(
                    files.iter().any(|a| a.path == r.values_file),
                    "{fixture}: no file {}",
                    r.values_file
                );
                let pinned = platform.versions.chart(&r.chart);
                assert_eq!(
                    (&r.repository, &r.version),
                    (&pinned.repository, &pinned.version)
                );
            }
        }
    }
}

#[test]
fn namespaced_objects_live_in_a_rendered_or_release_namespace() {
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let m = manifests(&platform, cluster);
            let mut known: Vec<String> = vec!["kube-system".into()];
            for obj in m.iter().flat_map(|m| &m.objects) {
                if obj["kind"] == "Namespace" {
                    known.push(obj["metadata"]["name"].as_str().unwrap().to_string());
                }
            }
            for r in releases(&platform, cluster) {
                assert!(
                    known.contains(&r.namespace),
                    "{fixture}: release {} in unknown namespace {}",
                    r.name,
                    r.namespace
                );
            }
            for obj in m.iter().flat_map(|m| &m.objects) {
                if let Some(ns) = obj["metadata"]["namespace"].as_str() {
                    assert!(
                        known.iter().any(|k| k == ns),
                        "{fixture}/{}: {} {} in unrendered namespace {ns}",
                        cluster.name,
                        obj["kind"],
                        obj["metadata"]["name"]
                    );
                }
            }
        }
    }
}
