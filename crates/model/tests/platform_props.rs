//! Property tests at the level of a whole platform file.
//!
//! `names.rs` tests the value checks (CIDR overlap, DNS labels) on their own; these generate whole
//! platforms: a controlplane and 1-8 workload clusters with random names and random non-overlapping
//! /16 VPCs, applications in random subsets of the environments. Such a platform must load as
//! written; breaking exactly one thing (two VPCs overlapping, a cluster name, a duplicate name)
//! must give exactly that one error, located at the value that breaks it.

use std::collections::BTreeSet;

use flotilla_model::{LoadError, Versions, line_col, load};
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};

#[derive(Debug, Clone)]
struct ClusterSpec {
    name: String,
    /// Second octet of the /16 (`10.<octet>.0.0/16`); 0 is the controlplane's.
    octet: u8,
    protected: bool,
    public: bool,
}

#[derive(Debug, Clone)]
struct AppSpec {
    name: String,
    /// Indices into the workload clusters.
    environments: Vec<usize>,
}

#[derive(Debug, Clone)]
struct Spec {
    workloads: Vec<ClusterSpec>,
    apps: Vec<AppSpec>,
}

/// Namespaces the platform keeps for itself, and the controlplane's name.
const TAKEN: &[&str] = &[
    "controlplane",
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "monitoring",
    "logging",
    "gateway",
    "kafka",
    "elastic-system",
    "elastic",
    "grafana",
];

/// A DNS label of at most 22 characters (short enough for every kind of name, and too short to
/// look like a key to the secret scan).
fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,20}[a-z0-9])?"
        .prop_filter("a name the platform uses, or a token prefix", |s| {
            !TAKEN.contains(&s.as_str()) && !s.starts_with("xox") && !s.starts_with("glpat-")
        })
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=8)
        .prop_flat_map(|n| {
            (
                prop::collection::btree_set(label(), n),
                subsequence((1u8..=254).collect::<Vec<_>>(), n).prop_shuffle(),
                prop::collection::vec((any::<bool>(), any::<bool>()), n),
                prop::collection::btree_set(label(), 0..=4),
            )
        })
        .prop_flat_map(|(names, octets, flags, app_names)| {
            let n = names.len();
            let workloads: Vec<ClusterSpec> = names
                .into_iter()
                .zip(octets)
                .zip(flags)
                .map(|((name, octet), (protected, public))| ClusterSpec {
                    name,
                    octet,
                    protected,
                    public,
                })
                .collect();
            let apps: Vec<_> = app_names
                .into_iter()
                .map(|name| {
                    subsequence((0..n).collect::<Vec<_>>(), 1..=n).prop_map(move |environments| {
                        AppSpec {
                            name: name.clone(),
                            environments,
                        }
                    })
                })
                .collect();
            (Just(workloads), apps)
        })
        .prop_map(|(workloads, apps)| Spec { workloads, apps })
}

fn node_pool(out: &mut String) {
    out.push_str(
        "\n[[clusters.node_pools]]\nname = \"system\"\ninstance_types = [\"m6i.large\"]\nmin = 1\ndesired = 2\nmax = 3\n",
    );
}

/// The controlplane's pool: room for the capacity plan of the `[sizing]` below (6 nodes of
/// r6i.xlarge), which validation demands.
fn controlplane_pool(out: &mut String) {
    out.push_str(
        "\n[[clusters.node_pools]]\nname = \"data\"\ninstance_types = [\"r6i.xlarge\"]\nmin = 3\ndesired = 3\nmax = 9\n",
    );
}

/// The platform file of a spec. `cidrs[i]` and `names[i]` are cluster i's (0: the controlplane)
/// VPC CIDR and name as written, so a test can break one of them.
fn render(spec: &Spec, names: &[String], cidrs: &[String]) -> String {
    let mut out = String::from(
        "[platform]\nname = \"prop\"\nregion = \"eu-west-1\"\naccount_id = \"123456789012\"\ninternal_domain = \"prop.internal\"\n",
    );
    out += &format!(
        "\n[[clusters]]\nname = \"{}\"\nrole = \"controlplane\"\nvpc_cidr = \"{}\"\navailability_zones = 3\nkubernetes_version = \"1.34\"\nprotected = true\n\n[clusters.endpoint]\naccess = \"private\"\nprivate_cidrs = [\"10.250.0.0/24\"]\n",
        names[0], cidrs[0]
    );
    controlplane_pool(&mut out);
    for (i, c) in spec.workloads.iter().enumerate() {
        out += &format!(
            "\n[[clusters]]\nname = \"{}\"\nrole = \"workload\"\nenvironment = \"{}\"\nvpc_cidr = \"{}\"\navailability_zones = {}\nkubernetes_version = \"1.34\"\nprotected = {}\n",
            names[i + 1],
            c.name,
            cidrs[i + 1],
            if c.protected { 3 } else { 2 },
            c.protected
        );
        if c.public {
            out +=
                "\n[clusters.endpoint]\naccess = \"public\"\npublic_cidrs = [\"203.0.113.0/24\"]\n";
        } else {
            out += "\n[clusters.endpoint]\naccess = \"private\"\nprivate_cidrs = [\"10.250.0.0/24\"]\n";
        }
        out += &format!(
            "\n[clusters.gateway]\nscheme = \"internal\"\ncertificate_arn = \"arn:aws:acm:eu-west-1:123456789012:certificate/6d1e2f3a-4b5c\"\ndomain = \"{}.example.com\"\n",
            c.name
        );
        node_pool(&mut out);
    }
    for a in &spec.apps {
        out += &format!(
            "\n[[applications]]\nname = \"{}\"\nteam = \"arn:aws:iam::123456789012:role/team\"\n[applications.environments]\n",
            a.name
        );
        for &e in &a.environments {
            out += &format!(
                "\"{}\" = {{ cpu = \"1\", memory = \"1Gi\", pods = 10 }}\n",
                spec.workloads[e].name
            );
        }
        out += &format!(
            "\n[[routes]]\napplication = \"{0}\"\nhost = \"{0}\"\nservice = \"{0}\"\nport = 8080\n",
            a.name
        );
    }
    out += "
[observability]
logs_topic = \"logs\"
metrics_topic = \"metrics\"
kafka_retention_hours = 72
prometheus_retention_days = 15
prometheus_volume_gib = 100

[[observability.receivers]]
name = \"oncall\"
kind = \"slack\"
channel = \"#alerts\"
credentials_secret = \"prop/slack-webhook\"

[[observability.alerts]]
name = \"NodeHighCpu\"
kind = \"node_cpu\"
threshold = 80
severity = \"critical\"

[[observability.routing]]
receivers = [\"oncall\"]

[sizing]
peak_events_per_second = 1000
average_event_bytes = 512
retention_days = 7
replication = 3
query_latency_ms = 500
";
    out
}

fn names_of(spec: &Spec) -> Vec<String> {
    std::iter::once("controlplane".to_string())
        .chain(spec.workloads.iter().map(|c| c.name.clone()))
        .collect()
}

fn cidrs_of(spec: &Spec) -> Vec<String> {
    std::iter::once(0)
        .chain(spec.workloads.iter().map(|c| c.octet))
        .map(|o| format!("10.{o}.0.0/16"))
        .collect()
}

/// Byte offset of the value of the `nth` line starting with `key = ` (0-based). The `name`
/// lines are the platform's, then each cluster's followed by its node pool's: cluster k's name
/// is the (1 + 2k)th.
fn nth_value(src: &str, key: &str, nth: usize) -> usize {
    let needle = format!("\n{key} = ");
    let (at, _) = src
        .match_indices(&needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("no {nth}th `{key}`"));
    at + needle.len()
}

/// The one diagnostic of a failed load, its message and `line:col`.
fn single_error(src: &str) -> Result<(String, (usize, usize)), TestCaseError> {
    let err: LoadError = match load("platform.toml", src, &Versions::embedded()) {
        Ok(_) => return Err(TestCaseError::fail("the broken platform loaded")),
        Err(e) => e,
    };
    prop_assert_eq!(err.diagnostics.len(), 1, "{}", err);
    let d = &err.diagnostics[0];
    Ok((d.message.clone(), line_col(src, d.span.start)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Distinct names and non-overlapping /16s load, and the model keeps them as written.
    #[test]
    fn generated_platforms_load(spec in spec()) {
        let src = render(&spec, &names_of(&spec), &cidrs_of(&spec));
        let platform = match load("platform.toml", &src, &Versions::embedded()) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- source:\n{src}"))),
        };
        let envs: Vec<&str> = spec.workloads.iter().map(|c| c.name.as_str()).collect();
        prop_assert_eq!(platform.environments(), envs.clone());
        let cidrs: Vec<String> = platform.clusters.iter().map(|c| c.vpc_cidr.to_string()).collect();
        prop_assert_eq!(cidrs, cidrs_of(&spec));
        prop_assert_eq!(platform.applications.len(), spec.apps.len());
        for (a, s) in platform.applications.iter().zip(&spec.apps) {
            let want: BTreeSet<&str> = s.environments.iter().map(|&e| envs[e]).collect();
            let got: BTreeSet<&str> = a.environments.keys().map(String::as_str).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// Moving one cluster's VPC inside an earlier cluster's gives exactly one error: at the later
    /// cluster's vpc_cidr, naming both clusters and both networks.
    #[test]
    fn one_overlap_is_one_error_at_the_second_vpc(
        spec in spec(),
        pair in (any::<Index>(), any::<Index>()),
        prefix in 16u8..=24,
        offset in any::<u16>(),
    ) {
        let names = names_of(&spec);
        let mut cidrs = cidrs_of(&spec);
        let n = cidrs.len();
        // Two distinct clusters, i before j (the controlplane may be either).
        let i = pair.0.index(n - 1);
        let j = i + 1 + pair.1.index(n - 1 - i);
        let octet = if i == 0 { 0 } else { spec.workloads[i - 1].octet };
        // A network of the chosen size inside cluster i's /16: `offset` is its low 16 bits,
        // with the host bits cleared.
        let host = u32::from(offset) & !((1u32 << (32 - prefix)) - 1);
        let overlapping = format!("10.{octet}.{}.{}/{prefix}", host >> 8, host & 0xff);
        cidrs[j] = overlapping.clone();
        let src = render(&spec, &names, &cidrs);
        let (message, at) = single_error(&src)?;
        prop_assert_eq!(at, line_col(&src, nth_value(&src, "vpc_cidr", j)), "{}", message);
        let a = format!("10.{octet}.0.0/16");
        let cluster_i = format!("cluster \"{}\"", names[i]);
        let cluster_j = format!("cluster \"{}\"", names[j]);
        for part in [&overlapping, &a, &cluster_i, &cluster_j] {
            prop_assert!(message.contains(part.as_str()), "{:?} lacks {:?}", message, part);
        }
    }

    /// An invalid name for one workload cluster is one error, at that name.
    #[test]
    fn one_bad_cluster_name_is_one_error_at_it(
        spec in spec(),
        which in any::<Index>(),
        bad in "[A-Z_.]",
        at in any::<Index>(),
    ) {
        let mut names = names_of(&spec);
        let k = 1 + which.index(spec.workloads.len());
        let mut chars: Vec<char> = names[k].chars().collect();
        chars.insert(at.index(chars.len() + 1), bad.chars().next().unwrap());
        names[k] = chars.into_iter().collect();
        let src = render(&spec, &names, &cidrs_of(&spec));
        let (message, loc) = single_error(&src)?;
        prop_assert_eq!(loc, line_col(&src, nth_value(&src, "name", 1 + 2 * k)), "{}", message);
        let want = format!("cluster name \"{}\" is not valid", names[k]);
        prop_assert_eq!(message, want);
    }

    /// Giving a cluster the name of an earlier one is one error, at the second name.
    #[test]
    fn one_duplicate_cluster_name_is_one_error_at_the_second(
        spec in spec().prop_filter("two clusters", |s| !s.workloads.is_empty()),
        pair in (any::<Index>(), any::<Index>()),
    ) {
        let mut names = names_of(&spec);
        let n = names.len();
        let i = pair.0.index(n - 1);
        let j = i + 1 + pair.1.index(n - 1 - i);
        names[j] = names[i].clone();
        let src = render(&spec, &names, &cidrs_of(&spec));
        let (message, loc) = single_error(&src)?;
        prop_assert_eq!(loc, line_col(&src, nth_value(&src, "name", 1 + 2 * j)), "{}", message);
        prop_assert_eq!(message, format!("duplicate cluster name \"{}\"", names[i]));
    }
}
