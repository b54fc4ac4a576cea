//! Snapshots of the renderer on the fixture platforms, and properties every render has.

mod common;

use flotilla_model::artifact;

/// Snapshots of the fixture platforms' renders. The repository's own platform has none: its
/// render is the committed `infra/`, held to the renderer by the drift check.
#[test]
fn snapshots() {
    for (name, platform) in common::fixtures().into_iter().filter(|(n, _)| n != "seed") {
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
        // Each workload's link to the controlplane, in a root module of its own.
        for w in platform.workload_clusters() {
            for f in FILES {
                expected.push(format!("infra/{}/link/{f}", w.name));
            }
        }
        // moved.tf only where something keyed by a name of this module was renamed.
        let workload_renamed = platform
            .workload_clusters()
            .any(|w| w.renamed_from.is_some());
        for c in &platform.clusters {
            let pool_renamed = c.node_pools.iter().any(|p| p.renamed_from.is_some());
            let is_cp = c.role == flotilla_model::Role::Controlplane;
            if pool_renamed || (is_cp && workload_renamed) {
                expected.push(format!("infra/{}/moved.tf", c.name));
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

/// A workload cluster in another account than the controlplane's: validation rejects it until
/// Flotilla also handles its state access, credentials and DNS (docs/terraform.md, "Other
/// accounts"), but the renderer's half (peering accepter and zone association authorization
/// through an aliased provider that assumes a role there) is kept and reviewed here.
#[test]
fn a_workload_in_another_account_renders_its_cross_account_link() {
    let (_, mut platform) = common::fixtures()
        .into_iter()
        .find(|(n, _)| n == "full")
        .unwrap();
    let sandbox = platform
        .clusters
        .iter_mut()
        .find(|c| c.name == "sandbox")
        .unwrap();
    sandbox.account_id = "555566667777".into();
    sandbox.admin_roles = vec!["arn:aws:iam::555566667777:role/platform-admin".into()];
    let mut text = String::new();
    for a in flotilla_terraform::render(&platform)
        .iter()
        .filter(|a| a.path.starts_with("infra/sandbox/"))
    {
        text.push_str(&format!("==> {} <==\n{}\n", a.path, a.contents));
    }
    insta::assert_snapshot!("other-account", text);
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
        .lines()
        .scan(0, |at, l| {
            let start = *at;
            *at += l.len() + 1;
            Some((start, l))
        })
        .find(|(_, l)| {
            l.trim_start().starts_with("name ")
                && l.split_once('=').map(|(_, v)| v.trim()) == Some(&format!("\"{pool}\""))
        })
        .map(|(start, _)| start)
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

/// The sizes of the controlplane's data pool: the sum over its node groups, one per zone
/// (`<pool>-1`, `<pool>-2`, ...), each with a zone's share rounded up.
fn zonal_sizes(main_tf: &str, pool: &str, zones: u32) -> (u32, u32, u32) {
    (1..=zones).fold((0, 0, 0), |(a, b, c), z| {
        let (min, desired, max) = node_group_sizes(main_tf, &format!("{pool}-{z}"));
        (a + min, b + desired, c + max)
    })
}

/// Rounds up to a multiple of the zone count (what one group per zone adds up to).
fn whole_zones(n: u32, zones: u32) -> u32 {
    n.div_ceil(zones) * zones
}

/// The controlplane's data node groups take their size from the capacity plan: min and desired
/// are raised to what Kafka, Logstash and Elasticsearch need, never lowered below the model's,
/// spread over one group per zone (F13 of the Kubernetes review: pods bound to zonal volumes
/// need a group the autoscaler can grow in their zone); every other pool keeps the model's
/// sizes in one group.
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
        let azs = u32::from(cp.availability_zones);
        for pool in &cp.node_pools {
            if pool.name == plan.data_pool.pool {
                let got = zonal_sizes(&text, &pool.name, azs);
                let want = (
                    whole_zones(pool.min.max(need), azs),
                    whole_zones(pool.desired.max(need), azs),
                    whole_zones(pool.max, azs),
                );
                assert_eq!(got, want, "{name}: pool {}", pool.name);
                for z in 0..azs {
                    assert!(
                        text.contains(&format!(
                            "subnet_ids           = [module.vpc.private_subnets[{z}]]"
                        )),
                        "{name}: zone {z} of the data pool"
                    );
                }
            } else {
                let got = node_group_sizes(&text, &pool.name);
                assert_eq!(
                    got,
                    (pool.min, pool.desired, pool.max),
                    "{name}: pool {}",
                    pool.name
                );
            }
        }
        let data = &plan.data_pool.pool;
        let (min, desired, max) = zonal_sizes(&text, data, azs);
        assert!(min >= need && desired >= need && max >= need, "{name}");

        // A model minimum above the plan's is kept, not lowered to the plan. (The plan rounds
        // the pool's own minimum up to whole zones: steps of a zone count keep it as written.)
        let i = cp.node_pools.iter().position(|p| &p.name == data).unwrap();
        let ci = platform
            .clusters
            .iter()
            .position(|c| c.name == cp.name)
            .unwrap();
        let pool = &mut platform.clusters[ci].node_pools[i];
        (pool.min, pool.desired, pool.max) = (need + azs, need + 2 * azs, need + 3 * azs);
        assert_eq!(
            zonal_sizes(&main(&platform), data, azs),
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

fn minimal() -> flotilla_model::Platform {
    common::load(&common::fixtures_dir().join("minimal.toml"))
}

fn file<'a>(artifacts: &'a [artifact::Artifact], path: &str) -> &'a str {
    &artifacts
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

/// Every file of `before` and `after` by path, except the ones listed: those are compared by
/// the caller.
fn assert_same_except(
    before: &[artifact::Artifact],
    after: &[artifact::Artifact],
    except: &[&str],
) {
    let keep = |a: &&artifact::Artifact| !except.contains(&a.path.as_str());
    let b: Vec<_> = before.iter().filter(keep).collect();
    let a: Vec<_> = after.iter().filter(keep).collect();
    assert_eq!(b, a, "files other than {except:?} changed");
}

/// A node pool renamed with `renamed_from` changes its node group's key (and name) and adds
/// exactly one `moved` block, in the module of its cluster; every other file and address stays.
#[test]
fn renaming_a_node_pool_adds_exactly_its_moved_block() {
    let before_platform = minimal();
    let mut after_platform = before_platform.clone();
    let dev = after_platform
        .clusters
        .iter_mut()
        .find(|c| c.name == "dev")
        .unwrap();
    let pool = &mut dev.node_pools[0];
    assert_eq!(pool.name, "default");
    pool.renamed_from = Some("default".into());
    pool.name = "general".into();

    let before = flotilla_terraform::render(&before_platform);
    let after = flotilla_terraform::render(&after_platform);

    assert_same_except(
        &before,
        &after,
        &["infra/dev/main.tf", "infra/dev/moved.tf"],
    );
    let group = |pool: &str| {
        format!(
            "    {pool} = {{\n      name                 = \"{pool}\"\n      iam_role_name        = \"mini-dev-{pool}\"\n      launch_template_name = \"mini-dev-{pool}\"\n"
        )
    };
    let main_before = file(&before, "infra/dev/main.tf");
    assert_eq!(main_before.matches(&group("default")).count(), 1);
    assert_eq!(
        file(&after, "infra/dev/main.tf"),
        main_before.replace(&group("default"), &group("general")),
        "main.tf may change only in the pool's key, name, role and launch template names"
    );
    assert_eq!(
        file(&after, "infra/dev/moved.tf"),
        format!(
            "{}\n{}",
            artifact::header("#"),
            r#"# Node pool "default" renamed to "general". AWS still replaces the node group (its
# name changes), new group first (create_before_destroy): Terraform does not destroy first.
moved {
  from = module.eks.module.eks_managed_node_group["default"]
  to   = module.eks.module.eks_managed_node_group["general"]
}
"#
        )
    );
    assert!(
        !before.iter().any(|a| a.path.ends_with("/moved.tf")),
        "no rename, no moved.tf"
    );
}

/// A renamed workload cluster is a new root module (new state key, which backend.tf says to
/// copy) and, in the controlplane's module, a `moved` block for its Kafka rule.
#[test]
fn renaming_a_workload_cluster_moves_its_kafka_rule_in_the_controlplane() {
    let before_platform = minimal();
    let mut after_platform = before_platform.clone();
    let dev = after_platform
        .clusters
        .iter_mut()
        .find(|c| c.name == "dev")
        .unwrap();
    dev.renamed_from = Some("dev".into());
    dev.name = "development".into();

    let before = flotilla_terraform::render(&before_platform);
    let after = flotilla_terraform::render(&after_platform);

    let cp_main = file(&before, "infra/controlplane/main.tf");
    let rule = |name: &str| {
        format!(
            "    \"kafka-tls-{name}\" = {{\n      description = \"Kafka TLS and Alertmanager (9093) from the {name} VPC\"\n"
        )
    };
    assert_eq!(cp_main.matches(&rule("dev")).count(), 1);
    assert_eq!(
        file(&after, "infra/controlplane/main.tf"),
        cp_main.replace(&rule("dev"), &rule("development")),
        "the controlplane's main.tf may change only in the workload's rule key and description"
    );
    assert_eq!(
        file(&after, "infra/controlplane/moved.tf"),
        format!(
            "{}\n{}",
            artifact::header("#"),
            r#"# Workload cluster "dev" renamed to "development": its Kafka rule is kept and
# updated in place, so Kafka stays reachable from its VPC.
moved {
  from = module.eks.aws_security_group_rule.node["kafka-tls-dev"]
  to   = module.eks.aws_security_group_rule.node["kafka-tls-development"]
}
"#
        )
    );
    // The workload's own module: a new directory whose backend.tf names the old state key. No
    // moved block there: its addresses do not contain its name, and none can cross states.
    assert!(!after.iter().any(|a| a.path.starts_with("infra/dev/")));
    assert!(!after.iter().any(|a| a.path == "infra/development/moved.tf"));
    let backend = file(&after, "infra/development/backend.tf");
    assert!(
        backend.contains("copy the state \"dev/terraform.tfstate\""),
        "{backend}"
    );
    assert!(
        backend.lines().any(|l| l.trim_start().starts_with("key ")
            && l.ends_with("= \"development/terraform.tfstate\"")),
        "{backend}"
    );
    // Bootstrap untouched.
    let bootstrap = |arts: &[artifact::Artifact]| -> Vec<artifact::Artifact> {
        arts.iter()
            .filter(|a| a.path.starts_with("infra/bootstrap/"))
            .cloned()
            .collect()
    };
    assert_eq!(bootstrap(&before), bootstrap(&after));
}

/// In every fixture, each `moved` block goes from a key no object of its module has any more to
/// one an object has: the node group keys of the cluster's pools, or the workload cluster names
/// of the controlplane's Kafka rules.
#[test]
fn moved_blocks_go_from_gone_keys_to_existing_ones() {
    let mut seen = 0;
    for (name, platform) in common::fixtures() {
        let artifacts = flotilla_terraform::render(&platform);
        for cluster in &platform.clusters {
            let Some(moved) = artifacts
                .iter()
                .find(|a| a.path == format!("infra/{}/moved.tf", cluster.name))
            else {
                continue;
            };
            let keys: Vec<String> = if cluster.role == flotilla_model::Role::Controlplane {
                platform
                    .workload_clusters()
                    .map(|w| format!("kafka-tls-{}", w.name))
                    .collect()
            } else {
                Vec::new()
            };
            let groups: Vec<String> = platform
                .node_groups(cluster)
                .into_iter()
                .map(|g| g.name)
                .collect();
            let pools: Vec<&str> = groups.iter().map(String::as_str).collect();
            let key_of = |line: &str| -> (String, String) {
                let addr = line.split_once('=').unwrap().1.trim();
                let (prefix, key) = addr.split_once("[\"").unwrap();
                (prefix.to_string(), key.trim_end_matches("\"]").to_string())
            };
            let lines: Vec<&str> = moved.contents.lines().map(str::trim).collect();
            for pair in lines.windows(2) {
                if !pair[0].starts_with("from = ") {
                    continue;
                }
                seen += 1;
                let (from_kind, from) = key_of(pair[0]);
                let (to_kind, to) = key_of(pair[1]);
                assert_eq!(from_kind, to_kind, "{name}: {}", cluster.name);
                let live: Vec<&str> = if from_kind.starts_with("module.eks.module.") {
                    pools.clone()
                } else {
                    keys.iter().map(String::as_str).collect()
                };
                assert!(
                    !live.contains(&from.as_str()),
                    "{name}: {from} still exists"
                );
                assert!(live.contains(&to.as_str()), "{name}: {to} does not exist");
            }
        }
    }
    assert!(
        seen >= 3,
        "the renames fixture has three moves, found {seen}"
    );
}

/// One hop from the data pool's node group sizes to their reason: a comment above the node
/// groups of the controlplane names the capacity plan's figure and the term that decided it.
#[test]
fn the_data_pool_sizes_point_at_the_capacity_plan() {
    for (name, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        let cp = platform.controlplane();
        let main = flotilla_terraform::render(&platform)
            .into_iter()
            .find(|a| a.path == format!("infra/{}/main.tf", cp.name))
            .unwrap();
        let line = format!(
            "the capacity plan's data_pool.min_nodes = {},",
            plan.data_pool.min_nodes
        );
        assert!(main.contents.contains(&line), "{name}: {line}");
        assert!(
            main.contents.contains(&format!(
                "Decided by: {}.",
                plan.decided_by["data_pool.min_nodes"]
            )),
            "{name}"
        );
        // Workload clusters size their groups from their own pools: no such comment.
        for w in platform.workload_clusters() {
            let m = flotilla_terraform::render(&platform)
                .into_iter()
                .find(|a| a.path == format!("infra/{}/main.tf", w.name))
                .unwrap();
            assert!(
                !m.contents.contains("capacity plan's data_pool"),
                "{name}/{}",
                w.name
            );
        }
    }
}
