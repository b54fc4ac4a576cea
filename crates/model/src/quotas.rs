//! The AWS service quotas a platform needs, per account and region: what `cargo xtask plan`
//! prints and what the deploy checks against the account before its first Terraform step.
//!
//! Pure: the needs are counted from the model (and its capacity plan); the quota codes and the
//! defaults of a new account are pinned data (`data/aws-quotas.toml`, with its source). Counts
//! are upper bounds where the platform can grow: node pools at their `max`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::capacity::instance_shape;
use crate::{Capacity, Cluster, Platform, Role};

/// The text of `data/aws-quotas.toml`, as compiled in.
pub const QUOTAS_TOML: &str = include_str!("../data/aws-quotas.toml");

/// One AWS service quota (Service Quotas service code and quota code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Our name for it (`vpcs`, `on-demand-standard-vcpus`).
    pub key: String,
    pub service: String,
    pub code: String,
    pub name: String,
    /// The value of a new account.
    pub default: u64,
    /// For vCPU quotas by instance family class: the family prefixes of the class.
    #[serde(default)]
    pub families: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaFile {
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    retrieved: String,
    quota: Vec<Quota>,
}

/// Every quota of the pinned table, in its order.
pub fn quotas() -> &'static [Quota] {
    static QUOTAS: OnceLock<Vec<Quota>> = OnceLock::new();
    QUOTAS.get_or_init(|| {
        toml::from_str::<QuotaFile>(QUOTAS_TOML)
            .expect("data/aws-quotas.toml is valid (tested)")
            .quota
    })
}

fn quota(key: &str) -> &'static Quota {
    quotas()
        .iter()
        .find(|q| q.key == key)
        .unwrap_or_else(|| panic!("data/aws-quotas.toml has no quota {key}"))
}

/// What the platform needs of one quota in one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaNeed {
    pub quota: Quota,
    pub need: u64,
    /// What the count is made of (`controlplane 3, production 3, ...`).
    pub why: String,
}

impl QuotaNeed {
    /// Whether a new account's default is too small.
    pub fn exceeds_default(&self) -> bool {
        self.need > self.quota.default
    }

    /// The request that raises the quota to what is needed.
    pub fn raise_command(&self, region: &str) -> String {
        format!(
            "aws service-quotas request-service-quota-increase --region {region} --service-code {} --quota-code {} --desired-value {}",
            self.quota.service, self.quota.code, self.need
        )
    }
}

/// The needs of the clusters of one account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionQuotas {
    pub account_id: String,
    pub region: String,
    pub needs: Vec<QuotaNeed>,
}

/// The quota class (a vCPU quota's key) of an instance type: the longest family prefix of a
/// class that the family starts with, followed by its generation digit (`inf2` is Inf, not I).
pub fn vcpu_class(instance_type: &str) -> Option<&'static Quota> {
    let family = instance_type.split('.').next()?;
    quotas()
        .iter()
        .flat_map(|q| q.families.iter().map(move |f| (q, f)))
        .filter(|(_, f)| {
            family.strip_prefix(f.as_str()).is_some_and(|rest| {
                rest.starts_with(|c: char| c.is_ascii_digit()) || rest.starts_with('-')
            })
        })
        .max_by_key(|(_, f)| f.len())
        .map(|(q, _)| q)
}

/// Network Load Balancers a cluster's releases create: the gateway and the Prometheus a
/// workload cluster exposes to Grafana; on the controlplane Kafka's bootstrap and one per
/// broker (Alertmanager's replicas are reached without one). crates/helm's tests compare this
/// with the rendered Services.
pub fn load_balancers(platform: &Platform, cluster: &Cluster) -> u64 {
    match cluster.role {
        Role::Workload => 2,
        Role::Controlplane => {
            let plan = platform.capacity_plan();
            u64::from(plan.kafka.brokers) + 1
        }
    }
}

/// A cluster's persistent volumes (gp3, through the EBS CSI driver): what holds them, how many,
/// and the size of each. Prometheus everywhere; on the controlplane Kafka's brokers and
/// controllers, Elasticsearch's data and master nodes, Alertmanager and Grafana. crates/helm's
/// tests check that the render requests exactly these sizes.
pub fn persistent_volumes(platform: &Platform, cluster: &Cluster) -> Vec<(&'static str, u64, u64)> {
    let prometheus_replicas = if cluster.protected { 2 } else { 1 };
    let mut out = vec![(
        "Prometheus",
        prometheus_replicas,
        u64::from(platform.observability.prometheus_volume_gib),
    )];
    if cluster.role == Role::Controlplane {
        let plan = platform.capacity_plan();
        let (k, es) = (&plan.kafka, &plan.elasticsearch);
        let alertmanager_replicas = if cluster.protected { 3 } else { 1 };
        out.extend([
            (
                "Kafka brokers",
                u64::from(k.brokers),
                u64::from(k.broker_disk_gib),
            ),
            (
                "Kafka controllers",
                u64::from(k.controllers),
                u64::from(k.controller_disk_gib),
            ),
            (
                "Elasticsearch data nodes",
                u64::from(es.data_nodes),
                u64::from(es.disk_gib_per_node),
            ),
            (
                "Elasticsearch masters",
                u64::from(es.master_nodes),
                u64::from(es.master_disk_gib),
            ),
            ("Alertmanager", alertmanager_replicas, 10),
            ("Grafana", 1, 10),
        ]);
    }
    out
}

/// gp3 GiB a cluster may hold: node root volumes at every pool's max, and its persistent
/// volumes.
fn gp3_gib(platform: &Platform, cluster: &Cluster) -> u64 {
    let roots: u64 = cluster
        .node_pools
        .iter()
        .map(|p| u64::from(p.max) * u64::from(p.disk_gib))
        .sum();
    let volumes: u64 = persistent_volumes(platform, cluster)
        .iter()
        .map(|(_, n, gib)| n * gib)
        .sum();
    roots + volumes
}

/// vCPUs of a pool at its max: its largest instance type, as the quota counts running vCPUs.
fn pool_vcpus(pool: &crate::NodePool) -> Vec<(&'static Quota, u64)> {
    let mut out: Vec<(&'static Quota, u64)> = Vec::new();
    let largest = pool
        .instance_types
        .iter()
        .filter_map(|t| Some((vcpu_class(t)?, instance_shape(t)?.0 as u64)))
        .max_by_key(|(_, v)| *v);
    if let Some((class, vcpus)) = largest {
        let class = match pool.capacity {
            Capacity::OnDemand => class,
            // Spot: one quota for the standard families (others have their own Spot quotas,
            // which the table does not list yet).
            Capacity::Spot => quota("spot-standard-vcpus"),
        };
        out.push((class, u64::from(pool.max) * vcpus));
    }
    out
}

/// The quotas the platform needs, per account and region, in the order of the clusters.
pub fn needs(platform: &Platform) -> Vec<RegionQuotas> {
    let mut scopes: Vec<(String, String)> = Vec::new();
    for c in &platform.clusters {
        let key = (c.account_id.clone(), c.region.clone());
        if !scopes.contains(&key) {
            scopes.push(key);
        }
    }
    scopes
        .into_iter()
        .map(|(account_id, region)| {
            let clusters: Vec<&Cluster> = platform
                .clusters
                .iter()
                .filter(|c| c.account_id == account_id && c.region == region)
                .collect();
            let needs = region_needs(platform, &clusters);
            RegionQuotas {
                account_id,
                region,
                needs,
            }
        })
        .collect()
}

fn region_needs(platform: &Platform, clusters: &[&Cluster]) -> Vec<QuotaNeed> {
    let mut rows: BTreeMap<&'static str, (u64, Vec<String>)> = BTreeMap::new();
    let mut add = |key: &'static str, n: u64, who: &str| {
        if n == 0 {
            return;
        }
        let e = rows.entry(key).or_default();
        e.0 += n;
        e.1.push(format!("{who} {n}"));
    };
    let mut vcpus: Vec<(&'static Quota, u64, String)> = Vec::new();
    for c in clusters {
        let who = c.name.as_str();
        add("vpcs", 1, who);
        add("internet-gateways", 1, who);
        add("eks-clusters", 1, who);
        // One NAT gateway per zone on protected clusters, one in the first zone otherwise; each
        // takes an Elastic IP. The first zone has one of every cluster's.
        let nats = if c.protected {
            u64::from(c.availability_zones)
        } else {
            1
        };
        add("elastic-ips", nats, who);
        add("nat-gateways-per-az", 1, who);
        add("network-load-balancers", load_balancers(platform, c), who);
        add("gp3-tib", gp3_gib(platform, c), who);
        if c.role == Role::Controlplane && platform.network_hub == crate::NetworkHub::Peering {
            add(
                "peerings-per-vpc",
                platform.workload_clusters().count() as u64,
                who,
            );
        }
        for p in &c.node_pools {
            for (q, n) in pool_vcpus(p) {
                vcpus.push((q, n, format!("{who}/{}", p.name)));
            }
        }
    }
    let mut out: Vec<QuotaNeed> = Vec::new();
    for q in quotas() {
        let (need, why) = if q.key == "gp3-tib" {
            let Some((gib, parts)) = rows.get(q.key.as_str()) else {
                continue;
            };
            let parts: Vec<String> = parts.iter().map(|p| format!("{p} GiB")).collect();
            (gib.div_ceil(1024), parts.join(", "))
        } else if !q.families.is_empty() || q.key == "spot-standard-vcpus" {
            let of: Vec<&(&Quota, u64, String)> =
                vcpus.iter().filter(|(c, _, _)| c.key == q.key).collect();
            if of.is_empty() {
                continue;
            }
            (
                of.iter().map(|(_, n, _)| n).sum(),
                of.iter()
                    .map(|(_, n, who)| format!("{who} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        } else {
            let Some((n, parts)) = rows.get(q.key.as_str()) else {
                continue;
            };
            let mut why = parts.join(", ");
            if q.key == "vpcs" {
                why.push_str(" (and the region's default VPC, where the account still has it)");
            }
            (*n, why)
        };
        out.push(QuotaNeed {
            quota: q.clone(),
            need,
            why,
        });
    }
    out
}

/// The `cargo xtask plan` section: every quota with its need, its default, and what to raise.
pub fn to_text(scopes: &[RegionQuotas]) -> String {
    let mut s = String::new();
    for scope in scopes {
        let _ = writeln!(s, "Account {}, {}:", scope.account_id, scope.region);
        for n in &scope.needs {
            let _ = writeln!(
                s,
                "  {:<5} {} ({} {}; default {}){}",
                n.need,
                n.quota.name,
                n.quota.service,
                n.quota.code,
                n.quota.default,
                if n.exceeds_default() {
                    "  <- above the default: raise it before the first deploy"
                } else {
                    ""
                }
            );
            let _ = writeln!(s, "        {}", n.why);
        }
        let short: Vec<&QuotaNeed> = scope.needs.iter().filter(|n| n.exceeds_default()).collect();
        if !short.is_empty() {
            let _ = writeln!(
                s,
                "  A new account's defaults are short; request (or check the applied values with `aws service-quotas get-service-quota`):"
            );
            for n in short {
                let _ = writeln!(s, "    {}", n.raise_command(&scope.region));
            }
        }
    }
    s
}

impl fmt::Display for RegionQuotas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(std::slice::from_ref(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_table_parses_with_unique_keys_and_codes() {
        let qs = quotas();
        assert!(qs.len() >= 15);
        let mut keys: Vec<&str> = qs.iter().map(|q| q.key.as_str()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), qs.len());
        for q in qs {
            assert!(
                q.code.starts_with("L-") && q.code.len() == 10,
                "{}: {}",
                q.key,
                q.code
            );
        }
    }

    #[test]
    fn instance_families_map_to_their_vcpu_quota() {
        let class = |t: &str| vcpu_class(t).map(|q| q.key.as_str());
        assert_eq!(class("m6i.large"), Some("on-demand-standard-vcpus"));
        assert_eq!(class("r6i.4xlarge"), Some("on-demand-standard-vcpus"));
        assert_eq!(class("m7i-flex.large"), Some("on-demand-standard-vcpus"));
        assert_eq!(class("i4i.large"), Some("on-demand-standard-vcpus"));
        assert_eq!(class("inf2.xlarge"), Some("on-demand-inf-vcpus"));
        assert_eq!(class("g5.xlarge"), Some("on-demand-g-vt-vcpus"));
        assert_eq!(class("dl1.24xlarge"), Some("on-demand-dl-vcpus"));
        assert_eq!(class("hpc7g.4xlarge"), Some("on-demand-hpc-vcpus"));
        assert_eq!(class("trn1.2xlarge"), Some("on-demand-trn-vcpus"));
        assert_eq!(class("x2gd.large"), Some("on-demand-x-vcpus"));
        assert_eq!(class("u-6tb1.metal"), Some("on-demand-high-memory-vcpus"));
        assert_eq!(class("t4g.small"), Some("on-demand-standard-vcpus"));
    }
}
