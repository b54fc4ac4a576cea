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

/// `(min_size, desired_size, max_size)` of a managed node group in a rendered main.tf.
fn node_group_sizes(main_tf: &str, pool: &str) -> (u32, u32, u32) {
    let start = main_tf
        .find(&format!("name           = \"{pool}\""))
        .unwrap_or_else(|| panic!("no node group {pool}"));
    let field = |name: &str| -> u32 {
        let rest = &main_tf[start..];
        let at = rest.find(name).unwrap_or_else(|| panic!("no {name}"));
        rest[at..]
            .lines()
            .next()
            .and_then(|l| l.rsplit('=').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("unreadable {name}"))
    };
    (field("min_size"), field("desired_size"), field("max_size"))
}

/// The controlplane's data node group takes its size from the capacity plan: min and desired
/// are raised to what Kafka, Logstash and Elasticsearch need, never lowered below the model's;
/// every other pool keeps the model's sizes.
#[test]
fn the_controlplane_data_node_group_is_sized_by_the_capacity_plan() {
    for (name, mut platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        let need = plan.data_pool.min_nodes;
        let cp = platform.controlplane().clone();
        let main = |platform: &flotilla_model::Platform| {
            flotilla_terraform::render(platform)
                .into_iter()
                .find(|a| a.path == format!("infra/{}/main.tf", cp.name))
                .unwrap()
                .contents
        };
        let text = main(&platform);
        for pool in &cp.node_pools {
            let got = node_group_sizes(&text, &pool.name);
            let want = if pool.name == plan.data_pool.pool {
                (pool.min.max(need), pool.desired.max(need), pool.max)
            } else {
                (pool.min, pool.desired, pool.max)
            };
            assert_eq!(got, want, "{name}: pool {}", pool.name);
        }
        let data = &plan.data_pool.pool;
        let (min, desired, max) = node_group_sizes(&text, data);
        assert!(min >= need && desired >= need && max >= need, "{name}");

        // A model minimum above the plan's is kept, not lowered to the plan. (The plan rounds
        // the pool's own minimum up to whole zones: steps of a zone count keep it as written.)
        let azs = u32::from(cp.availability_zones);
        let i = cp.node_pools.iter().position(|p| &p.name == data).unwrap();
        let ci = platform
            .clusters
            .iter()
            .position(|c| c.name == cp.name)
            .unwrap();
        let pool = &mut platform.clusters[ci].node_pools[i];
        (pool.min, pool.desired, pool.max) = (need + azs, need + 2 * azs, need + 3 * azs);
        assert_eq!(
            node_group_sizes(&main(&platform), data),
            (need + azs, need + 2 * azs, need + 3 * azs),
            "{name}"
        );
    }
}

/// The text of the `<name> = { ... }` entry that starts at `start` (up to its closing brace).
fn block_at(text: &str, start: usize) -> &str {
    let mut depth = 0;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + i + 1];
                }
            }
            _ => {}
        }
    }
    panic!("unclosed block at {start}")
}

/// NetworkPolicies (crates/helm renders a default deny in every application namespace) do
/// nothing unless the VPC CNI runs its network policy agent: every cluster's vpc-cni add-on
/// turns it on.
#[test]
fn every_cluster_enables_network_policy_in_the_vpc_cni_addon() {
    for (name, platform) in common::fixtures() {
        let artifacts = flotilla_terraform::render(&platform);
        for cluster in &platform.clusters {
            let main = &artifacts
                .iter()
                .find(|a| a.path == format!("infra/{}/main.tf", cluster.name))
                .unwrap()
                .contents;
            let at = main
                .find("\"vpc-cni\" = {")
                .unwrap_or_else(|| panic!("{name}/{}: no vpc-cni add-on", cluster.name));
            let addon = block_at(main, at);
            let values = addon
                .lines()
                .find_map(|l| l.trim().strip_prefix("configuration_values"))
                .unwrap_or_else(|| panic!("{name}/{}: no configuration_values", cluster.name));
            let values = values.trim().trim_start_matches('=').trim();
            assert_eq!(
                values, "jsonencode({ enableNetworkPolicy = \"true\" })",
                "{name}/{}",
                cluster.name
            );
        }
    }
}
