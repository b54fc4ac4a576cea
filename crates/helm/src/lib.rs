//! Model -> Helm releases (chart, version, values) and Kubernetes manifests, per cluster.
//!
//! Output goes to `helm/<cluster>/`: one `values.yaml` per release under
//! `helm/<cluster>/<release>/values.yaml`, manifests grouped by [`Phase`] under
//! `helm/<cluster>/manifests/`, and `helm/<cluster>/releases.yaml`, the release list the deploy
//! engine reads. Pure: no IO.
//!
//! The contract with crates/deploy is [`releases`], [`manifests`], [`crd_bundles`] and [`Phase`];
//! the rest is this crate's own. Each component module (`gateway`, `apps`, `monitoring`, ...)
//! builds its chart values and objects from the model; names shared between components (namespaces,
//! hostnames, Secret names) live in [`names`] so they are written once.

mod alerts;
mod apps;
mod aws;
mod elastic;
mod gateway;
mod grafana;
mod kafka;
mod logging;
mod meta;
mod monitoring;
pub mod names;
mod yaml;

pub use alerts::{AlertmanagerConfig, alert_expr, alertmanager_config, rule_groups};

use flotilla_model::artifact::header;
use flotilla_model::{Artifact, Cluster, Platform, Role};
use serde::Serialize;
use serde_json::Value;

/// When the deploy engine applies a group of manifests, relative to the Helm releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// CustomResourceDefinitions no chart installs (Gateway API). Applied first. They are not
    /// rendered into `helm/`: see [`crd_bundles`].
    Crds,
    /// Namespaces with their labels, quotas, limits, network policies, RBAC and admission
    /// policies, and cluster-wide settings (StorageClass). Applied before any release.
    Namespaces,
    /// Custom resources (Gateway, HTTPRoute, Kafka, Elasticsearch, ...), applied after every
    /// release (their operators and CRDs come from the releases).
    CustomResources,
}

impl Phase {
    /// First file number of the phase: sorting the files of `manifests/` by name gives the
    /// apply order.
    fn base(self) -> u8 {
        match self {
            Phase::Crds => 0,
            Phase::Namespaces => 10,
            Phase::CustomResources => 30,
        }
    }
}

/// One Helm release of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// Release name (unique in the cluster).
    pub name: String,
    pub namespace: String,
    /// Chart name (key in versions.toml `[charts]`).
    pub chart: String,
    /// `oci://...` or an HTTPS chart repository.
    pub repository: String,
    pub version: String,
    /// Values file relative to the repository root (`helm/<cluster>/<release>/values.yaml`).
    pub values_file: String,
    /// Releases of the same cluster that must be installed and ready first.
    pub needs: Vec<String>,
}

/// A group of Kubernetes objects applied together, in one file under `helm/<cluster>/manifests/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub phase: Phase,
    /// Relative to the repository root (`helm/<cluster>/manifests/10-namespaces.yaml`). Sorting
    /// the paths of a cluster gives the apply order.
    pub path: String,
    /// The objects, as they are serialized (each has `apiVersion`, `kind` and `metadata`).
    pub objects: Vec<Value>,
}

/// A CRD bundle the deploy engine applies in [`Phase::Crds`] from its pinned upstream release.
///
/// Why not rendered into `helm/`: the Gateway API standard channel is nine CRDs and about a
/// megabyte of upstream YAML that is identical for every cluster and never edited by us; the
/// release asset is immutable and pinned by `versions.toml`. See docs/kubernetes.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrdBundle {
    /// Key in versions.toml `[crds]`.
    pub name: String,
    pub version: String,
    /// The release asset to apply (server-side) as is.
    pub url: String,
}

/// A release of a cluster with its values, before it is split into files.
#[derive(Debug, Clone)]
struct ReleaseDef {
    name: &'static str,
    chart: &'static str,
    namespace: &'static str,
    needs: Vec<&'static str>,
    values: Value,
}

fn release_defs(platform: &Platform, cluster: &Cluster) -> Vec<ReleaseDef> {
    let mut defs = vec![
        aws::load_balancer_controller(platform, cluster),
        aws::cluster_autoscaler(platform, cluster),
        aws::external_dns(platform, cluster),
        monitoring::kube_prometheus_stack(platform, cluster),
    ];
    match cluster.role {
        Role::Workload => {
            defs.push(gateway::nginx_gateway_fabric(platform, cluster));
            defs.push(logging::fluent_bit(platform, cluster));
        }
        Role::Controlplane => {
            defs.push(kafka::strimzi_operator(platform, cluster));
            defs.push(elastic::eck_operator(platform, cluster));
            defs.push(elastic::elasticsearch_exporter());
            defs.push(grafana::grafana(platform, cluster));
        }
    }
    order_by_needs(defs)
}

/// Stable topological order: a release comes after everything it needs, otherwise in the order
/// the components were listed.
fn order_by_needs(mut pending: Vec<ReleaseDef>) -> Vec<ReleaseDef> {
    let mut done: Vec<ReleaseDef> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|d| d.needs.iter().all(|n| done.iter().any(|r| r.name == *n)))
            .unwrap_or_else(|| {
                let names: Vec<_> = pending.iter().map(|d| d.name).collect();
                panic!("release needs form a cycle or name a missing release: {names:?}")
            });
        done.push(pending.remove(ready));
    }
    done
}

fn values_file(cluster: &Cluster, release: &str) -> String {
    format!("helm/{}/{release}/values.yaml", cluster.name)
}

/// The releases of a cluster, in an order that respects [`Release::needs`].
pub fn releases(platform: &Platform, cluster: &Cluster) -> Vec<Release> {
    release_defs(platform, cluster)
        .into_iter()
        .map(|d| {
            let chart = platform.versions.chart(d.chart);
            Release {
                name: d.name.to_string(),
                namespace: d.namespace.to_string(),
                chart: d.chart.to_string(),
                repository: chart.repository.clone(),
                version: chart.version.clone(),
                values_file: values_file(cluster, d.name),
                needs: d.needs.iter().map(|n| n.to_string()).collect(),
            }
        })
        .collect()
}

/// The chart values of one release of a cluster (what `values.yaml` holds, without the header).
pub fn release_values(platform: &Platform, cluster: &Cluster, release: &str) -> Option<Value> {
    release_defs(platform, cluster)
        .into_iter()
        .find(|d| d.name == release)
        .map(|d| d.values)
}

/// The CRD bundles a cluster needs before its releases ([`Phase::Crds`]).
pub fn crd_bundles(platform: &Platform, cluster: &Cluster) -> Vec<CrdBundle> {
    match cluster.role {
        Role::Workload => vec![gateway::gateway_api_crds(platform)],
        Role::Controlplane => Vec::new(),
    }
}

/// The manifests of a cluster, sorted by path, which is apply order.
pub fn manifests(platform: &Platform, cluster: &Cluster) -> Vec<Manifest> {
    let mut groups: Vec<(Phase, &str, Vec<Value>)> = vec![
        (
            Phase::Namespaces,
            "cluster",
            apps::cluster_objects(platform, cluster),
        ),
        (
            Phase::Namespaces,
            "namespaces",
            apps::platform_namespaces(platform, cluster),
        ),
    ];
    match cluster.role {
        Role::Workload => {
            groups.push((
                Phase::Namespaces,
                "applications",
                apps::application_namespaces(platform, cluster),
            ));
            groups.push((
                Phase::CustomResources,
                "gateway",
                gateway::objects(platform, cluster),
            ));
        }
        Role::Controlplane => {
            groups.push((
                Phase::CustomResources,
                "kafka",
                kafka::objects(platform, cluster),
            ));
            groups.push((
                Phase::CustomResources,
                "elastic",
                elastic::objects(platform, cluster),
            ));
        }
    }
    groups.push((
        Phase::CustomResources,
        "alert-rules",
        monitoring::prometheus_rules(platform, cluster),
    ));
    if cluster.protected {
        groups.push((
            Phase::Namespaces,
            "deletion-guard",
            apps::deletion_guard(platform, cluster),
        ));
    }

    let mut out: Vec<Manifest> = Vec::new();
    let mut counters = [0u8; 3];
    // Within a phase, files keep the order above: the number counts up from the phase's base.
    for (phase, name, objects) in groups.into_iter().filter(|g| !g.2.is_empty()) {
        let n = &mut counters[phase as usize];
        let path = format!(
            "helm/{}/manifests/{:02}-{name}.yaml",
            cluster.name,
            phase.base() + *n
        );
        *n += 1;
        out.push(Manifest {
            phase,
            path,
            objects,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// What `helm/<cluster>/releases.yaml` holds.
#[derive(Serialize)]
struct ReleaseList<'a> {
    cluster: &'a str,
    crds: Vec<CrdBundle>,
    releases: Vec<Release>,
    manifests: Vec<ManifestEntry>,
}

#[derive(Serialize)]
struct ManifestEntry {
    file: String,
    phase: Phase,
}

/// Every file under `helm/`.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let mut out = Vec::new();
    for cluster in &platform.clusters {
        let manifests = manifests(platform, cluster);
        let list = ReleaseList {
            cluster: &cluster.name,
            crds: crd_bundles(platform, cluster),
            releases: releases(platform, cluster),
            manifests: manifests
                .iter()
                .map(|m| ManifestEntry {
                    file: m.path.clone(),
                    phase: m.phase,
                })
                .collect(),
        };
        out.push(Artifact::new(
            format!("helm/{}/releases.yaml", cluster.name),
            yaml::file(&[yaml::value(&list)]),
        ));
        for def in release_defs(platform, cluster) {
            out.push(Artifact::new(
                values_file(cluster, def.name),
                yaml::file(&[def.values]),
            ));
        }
        for m in manifests {
            out.push(Artifact::new(m.path, yaml::file(&m.objects)));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    debug_assert!(out.iter().all(|a| a.contents.starts_with(&header("#"))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &'static str, needs: Vec<&'static str>) -> ReleaseDef {
        ReleaseDef {
            name,
            chart: name,
            namespace: "n",
            needs,
            values: Value::Null,
        }
    }

    #[test]
    fn releases_are_ordered_after_their_needs_and_otherwise_kept_in_order() {
        let ordered = order_by_needs(vec![
            def("c", vec!["b"]),
            def("a", vec![]),
            def("b", vec!["a"]),
            def("d", vec![]),
        ]);
        let names: Vec<_> = ordered.iter().map(|d| d.name).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }
}
