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

pub mod alerts;
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
pub use apps::DELETE_CONFIRMED;
pub use elastic::index_template;
pub use names::PROTECTED_LABEL;

/// The validity and renewal periods (days) of the Kafka cluster and clients CAs, as the rendered
/// `Kafka` states them (see `kafka::CA_VALIDITY_DAYS`).
pub fn kafka_ca_periods() -> (u32, u32) {
    (kafka::CA_VALIDITY_DAYS, kafka::CA_RENEWAL_DAYS)
}

use std::fmt;

use flotilla_model::artifact::header;
use flotilla_model::{Artifact, Cluster, Platform, Role};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// When the deploy engine applies a group of manifests, relative to the Helm releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// CustomResourceDefinitions no chart installs (Gateway API). Applied first. They are not
    /// rendered into `helm/`: see [`crd_bundles`].
    Crds,
    /// Namespaces with their labels, quotas, limits, network policies, RBAC and admission
    /// policies, and cluster-wide settings (StorageClass). Applied before any release.
    Namespaces,
    /// Custom resources (Gateway, HTTPRoute, Kafka, Elasticsearch, ...), one apply per file:
    /// after the releases the file names in [`Manifest::needs`] (its operators, which bring
    /// the CRDs), before the releases that name the file in [`Release::needs_manifests`].
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Custom-resource manifest files (paths, as in [`Manifest::path`]) of the same cluster
    /// that must be applied first: the objects an operator makes from them (Secrets, Services)
    /// are what the release reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_manifests: Vec<String>,
    /// Secrets an operator writes from those manifests, which must exist before the release is
    /// installed (its pods mount them, and `helm --wait` would time out without them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_secrets: Vec<SecretName>,
    /// Its values set load balancer deletion protection (on protected clusters on, elsewhere
    /// explicitly off): `destroy` upgrades it with the current values before uninstalling, so
    /// that a cluster whose protection was just removed can lose its load balancers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holds_load_balancer_protection: bool,
}

/// A Secret of a cluster by namespace and name; written `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretName {
    pub namespace: String,
    pub name: String,
}

impl SecretName {
    pub fn new(namespace: &str, name: String) -> SecretName {
        SecretName {
            namespace: namespace.to_string(),
            name,
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl Serialize for SecretName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SecretName, D::Error> {
        let text = String::deserialize(d)?;
        match text.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
                Ok(SecretName::new(namespace, name.to_string()))
            }
            _ => Err(serde::de::Error::custom(format!(
                "a Secret is written `namespace/name`, found `{text}`"
            ))),
        }
    }
}

/// A group of Kubernetes objects applied together, in one file under `helm/<cluster>/manifests/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub phase: Phase,
    /// Relative to the repository root (`helm/<cluster>/manifests/10-namespaces.yaml`). Sorting
    /// the paths of a cluster gives the apply order.
    pub path: String,
    /// Releases of the same cluster installed first: for [`Phase::CustomResources`], the
    /// operators whose CRDs and controllers the objects need. Empty for the other phases,
    /// which come before every release.
    pub needs: Vec<String>,
    /// The objects, as they are serialized (each has `apiVersion`, `kind` and `metadata`).
    pub objects: Vec<Value>,
}

/// A CRD bundle the deploy engine applies in [`Phase::Crds`] from its pinned upstream release.
///
/// Why not rendered into `helm/`: the Gateway API standard channel is nine CRDs and about a
/// megabyte of upstream YAML that is identical for every cluster and never edited by us; the
/// release asset is immutable and pinned by `versions.toml`. See docs/kubernetes.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Custom-resource manifests (by name: `elastic` for `3x-elastic.yaml`) applied first.
    needs_manifests: Vec<&'static str>,
    /// Secrets an operator writes from those manifests; see [`Release::needs_secrets`].
    needs_secrets: Vec<SecretName>,
    /// See [`Release::holds_load_balancer_protection`].
    holds_load_balancer_protection: bool,
    values: Value,
}

/// The releases of a cluster in the order the components are listed.
fn unordered_release_defs(platform: &Platform, cluster: &Cluster) -> Vec<ReleaseDef> {
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
    defs
}

/// The releases of a cluster, ordered by their needs and those of the manifests they need.
fn release_defs(platform: &Platform, cluster: &Cluster) -> Vec<ReleaseDef> {
    let groups = manifest_groups(platform, cluster);
    order_by_needs(unordered_release_defs(platform, cluster), &groups)
        .unwrap_or_else(|e| panic!("{}: {e}", cluster.name))
}

/// Release and manifest needs that cannot be ordered: a bug in the component definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NeedsError {
    UnknownManifest {
        release: &'static str,
        manifest: &'static str,
    },
    Cycle(Vec<&'static str>),
}

impl fmt::Display for NeedsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeedsError::UnknownManifest { release, manifest } => write!(
                f,
                "release {release} needs manifest `{manifest}`, which is not a custom-resource manifest of the cluster"
            ),
            NeedsError::Cycle(names) => write!(
                f,
                "needs form a cycle or name a missing release: {names:?} cannot be ordered"
            ),
        }
    }
}

/// Stable topological order: a release comes after everything it needs, directly or through a
/// manifest it needs (a manifest's own needs come before the release), otherwise in the order
/// the components were listed. Manifests need only releases, so any cycle through a manifest
/// is a cycle among releases and is found here.
fn order_by_needs(
    mut pending: Vec<ReleaseDef>,
    groups: &[Group],
) -> Result<Vec<ReleaseDef>, NeedsError> {
    let mut effective: Vec<Vec<&'static str>> = Vec::new();
    for d in &pending {
        let mut needs = d.needs.clone();
        for m in &d.needs_manifests {
            let group = groups
                .iter()
                .find(|g| g.phase == Phase::CustomResources && g.name == *m)
                .ok_or(NeedsError::UnknownManifest {
                    release: d.name,
                    manifest: m,
                })?;
            needs.extend(&group.needs);
        }
        effective.push(needs);
    }
    let mut done: Vec<ReleaseDef> = Vec::new();
    while !pending.is_empty() {
        let ready = effective
            .iter()
            .position(|needs| needs.iter().all(|n| done.iter().any(|r| r.name == *n)))
            .ok_or_else(|| NeedsError::Cycle(pending.iter().map(|d| d.name).collect()))?;
        effective.remove(ready);
        done.push(pending.remove(ready));
    }
    Ok(done)
}

fn values_file(cluster: &Cluster, release: &str) -> String {
    format!("helm/{}/{release}/values.yaml", cluster.name)
}

/// The releases of a cluster, in an order that respects [`Release::needs`] and the needs of the
/// manifests in [`Release::needs_manifests`].
pub fn releases(platform: &Platform, cluster: &Cluster) -> Vec<Release> {
    let defs = release_defs(platform, cluster);
    to_releases(platform, cluster, defs, &manifests(platform, cluster))
}

fn to_releases(
    platform: &Platform,
    cluster: &Cluster,
    defs: Vec<ReleaseDef>,
    manifests: &[Manifest],
) -> Vec<Release> {
    defs.into_iter()
        .map(|d| {
            let chart = platform.versions.chart(d.chart);
            let mut needs_secrets = d.needs_secrets;
            needs_secrets.sort();
            Release {
                name: d.name.to_string(),
                namespace: d.namespace.to_string(),
                chart: d.chart.to_string(),
                repository: chart.repository.clone(),
                version: chart.version.clone(),
                values_file: values_file(cluster, d.name),
                needs: d.needs.iter().map(|n| n.to_string()).collect(),
                // A manifest with no objects is not written, and there is nothing to wait for.
                needs_manifests: d
                    .needs_manifests
                    .iter()
                    .filter_map(|m| {
                        manifests
                            .iter()
                            .find(|x| x.phase == Phase::CustomResources && x.name() == *m)
                            .map(|x| x.path.clone())
                    })
                    .collect(),
                needs_secrets,
                holds_load_balancer_protection: d.holds_load_balancer_protection,
            }
        })
        .collect()
}

/// The chart values of one release of a cluster (what `values.yaml` holds, without the header).
pub fn release_values(platform: &Platform, cluster: &Cluster, release: &str) -> Option<Value> {
    unordered_release_defs(platform, cluster)
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

/// One manifest file of a cluster before its objects are built: what it is, when it applies.
struct Group {
    phase: Phase,
    /// The file name without number and extension (`elastic` for `31-elastic.yaml`).
    name: &'static str,
    /// Releases installed first; see [`Manifest::needs`].
    needs: Vec<&'static str>,
    objects: fn(&Platform, &Cluster) -> Vec<Value>,
}

fn group(
    phase: Phase,
    name: &'static str,
    needs: Vec<&'static str>,
    objects: fn(&Platform, &Cluster) -> Vec<Value>,
) -> Group {
    Group {
        phase,
        name,
        needs,
        objects,
    }
}

/// The manifest files of a cluster, in the order they are numbered within their phase.
fn manifest_groups(platform: &Platform, cluster: &Cluster) -> Vec<Group> {
    let _ = platform;
    let mut groups = vec![
        group(Phase::Namespaces, "cluster", vec![], apps::cluster_objects),
        group(
            Phase::Namespaces,
            "namespaces",
            vec![],
            apps::platform_namespaces,
        ),
    ];
    match cluster.role {
        Role::Workload => {
            groups.push(group(
                Phase::Namespaces,
                "applications",
                vec![],
                apps::application_namespaces,
            ));
            // The GatewayClass comes with NGINX Gateway Fabric.
            groups.push(group(
                Phase::CustomResources,
                "gateway",
                vec![gateway::RELEASE],
                gateway::objects,
            ));
        }
        Role::Controlplane => {
            groups.push(group(
                Phase::CustomResources,
                "kafka",
                vec![kafka::RELEASE],
                kafka::objects,
            ));
            groups.push(group(
                Phase::CustomResources,
                elastic::MANIFEST,
                vec![elastic::RELEASE],
                elastic::objects,
            ));
        }
    }
    // The PrometheusRule CRD comes with kube-prometheus-stack.
    groups.push(group(
        Phase::CustomResources,
        "alert-rules",
        vec![monitoring::RELEASE],
        monitoring::prometheus_rules,
    ));
    if cluster.role == Role::Controlplane {
        groups.push(group(
            Phase::Namespaces,
            "alertmanager-peers",
            vec![],
            monitoring::alertmanager_peers,
        ));
    }
    if cluster.protected {
        groups.push(group(
            Phase::Namespaces,
            "deletion-guard",
            vec![],
            apps::deletion_guard,
        ));
    }
    groups
}

/// The manifests of a cluster, sorted by path, which is apply order within a phase.
pub fn manifests(platform: &Platform, cluster: &Cluster) -> Vec<Manifest> {
    let mut out: Vec<Manifest> = Vec::new();
    let mut counters = [0u8; 3];
    // Within a phase, files keep the order of the groups: the number counts up from the
    // phase's base.
    for g in manifest_groups(platform, cluster) {
        let objects = (g.objects)(platform, cluster);
        if objects.is_empty() {
            continue;
        }
        let n = &mut counters[g.phase as usize];
        let path = format!(
            "helm/{}/manifests/{:02}-{}.yaml",
            cluster.name,
            g.phase.base() + *n,
            g.name
        );
        *n += 1;
        out.push(Manifest {
            phase: g.phase,
            path,
            needs: g.needs.iter().map(|n| n.to_string()).collect(),
            objects,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

impl Manifest {
    /// The file name without number and extension (`elastic` for `31-elastic.yaml`).
    pub fn name(&self) -> &str {
        let file = self.file_stem();
        file.split_once('-').map_or(file, |(_, name)| name)
    }

    /// The file name without extension (`31-elastic`): unique in the cluster.
    pub fn file_stem(&self) -> &str {
        let file = self.path.rsplit('/').next().unwrap_or(&self.path);
        file.strip_suffix(".yaml").unwrap_or(file)
    }
}

/// What `helm/<cluster>/releases.yaml` holds: the contract with the deploy engine, which plans
/// a real deploy from the committed files (and refuses to when they drift from the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseFile {
    pub cluster: String,
    pub crds: Vec<CrdBundle>,
    pub releases: Vec<Release>,
    pub manifests: Vec<ManifestEntry>,
}

/// A manifest file in a [`ReleaseFile`]: its path, phase and the releases it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub file: String,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
}

impl ReleaseFile {
    /// The file of a cluster, relative to the repository root.
    pub fn path(cluster: &str) -> String {
        format!("helm/{cluster}/releases.yaml")
    }

    /// The release file of a cluster as the renderer writes it.
    pub fn of(platform: &Platform, cluster: &Cluster) -> ReleaseFile {
        let manifests = manifests(platform, cluster);
        let defs = release_defs(platform, cluster);
        ReleaseFile {
            cluster: cluster.name.clone(),
            crds: crd_bundles(platform, cluster),
            releases: to_releases(platform, cluster, defs, &manifests),
            manifests: manifests
                .iter()
                .map(|m| ManifestEntry {
                    file: m.path.clone(),
                    phase: m.phase,
                    needs: m.needs.clone(),
                })
                .collect(),
        }
    }

    /// Reads a committed release file; the error names the file and what is wrong.
    pub fn parse(path: &str, text: &str) -> Result<ReleaseFile, String> {
        serde_norway::from_str(text).map_err(|e| format!("{path}: {e}"))
    }
}

/// Every file under `helm/`.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let mut out = Vec::new();
    for cluster in &platform.clusters {
        let manifests = manifests(platform, cluster);
        let defs = release_defs(platform, cluster);
        let list = ReleaseFile::of(platform, cluster);
        out.push(Artifact::new(
            ReleaseFile::path(&cluster.name),
            yaml::file(&[yaml::value(&list)]),
        ));
        for def in defs {
            out.push(Artifact::new(
                values_file(cluster, def.name),
                yaml::file(&[def.values]),
            ));
        }
        for m in manifests {
            let comments = |o: &Value| kafka::provenance(platform, o);
            out.push(Artifact::new(
                m.path,
                yaml::file_commented(&m.objects, comments),
            ));
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
            needs_manifests: vec![],
            needs_secrets: vec![],
            holds_load_balancer_protection: false,
            values: Value::Null,
        }
    }

    fn cr(name: &'static str, needs: Vec<&'static str>) -> Group {
        group(Phase::CustomResources, name, needs, |_, _| Vec::new())
    }

    fn names(ordered: Result<Vec<ReleaseDef>, NeedsError>) -> Vec<&'static str> {
        ordered.unwrap().iter().map(|d| d.name).collect()
    }

    #[test]
    fn releases_are_ordered_after_their_needs_and_otherwise_kept_in_order() {
        let ordered = order_by_needs(
            vec![
                def("c", vec!["b"]),
                def("a", vec![]),
                def("b", vec!["a"]),
                def("d", vec![]),
            ],
            &[],
        );
        assert_eq!(names(ordered), ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_release_comes_after_the_operators_of_the_manifests_it_needs() {
        let consumer = ReleaseDef {
            needs_manifests: vec!["es"],
            ..def("grafana", vec![])
        };
        let ordered = order_by_needs(vec![consumer, def("eck", vec![])], &[cr("es", vec!["eck"])]);
        assert_eq!(names(ordered), ["eck", "grafana"]);
    }

    #[test]
    fn a_cycle_through_a_manifest_is_rejected() {
        // The operator itself needs the objects of the manifest that needs it.
        let operator = ReleaseDef {
            needs_manifests: vec!["es"],
            ..def("eck", vec![])
        };
        let err =
            order_by_needs(vec![operator, def("a", vec![])], &[cr("es", vec!["eck"])]).unwrap_err();
        assert_eq!(err, NeedsError::Cycle(vec!["eck"]));
        let unknown = ReleaseDef {
            needs_manifests: vec!["missing"],
            ..def("grafana", vec![])
        };
        assert_eq!(
            order_by_needs(vec![unknown], &[cr("es", vec![])]).unwrap_err(),
            NeedsError::UnknownManifest {
                release: "grafana",
                manifest: "missing"
            }
        );
    }
}
