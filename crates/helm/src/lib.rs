//! Model -> Helm releases (chart, version, values) and Kubernetes manifests, per cluster.
//!
//! Output goes to `helm/<cluster>/`: one `values.yaml` per release under
//! `helm/<cluster>/<release>/values.yaml`, manifests grouped by [`Phase`] under
//! `helm/<cluster>/manifests/`, and `helm/<cluster>/releases.yaml`, the release list the deploy
//! engine reads. Pure: no IO.
//!
//! The contract with crates/deploy is [`releases`] and [`Phase`]; the rest is this crate's own.

use flotilla_model::{Artifact, Cluster, Platform};

/// When the deploy engine applies a group of manifests, relative to the Helm releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// CustomResourceDefinitions no chart installs (Gateway API). Applied first.
    Crds,
    /// Namespaces with their labels, quotas, limits, network policies, RBAC and admission
    /// policies. Applied before any release.
    Namespaces,
    /// Custom resources (Gateway, HTTPRoute, Kafka, Elasticsearch, ...), applied after every
    /// release (their operators and CRDs come from the releases).
    CustomResources,
}

/// One Helm release of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The releases of a cluster, in an order that respects [`Release::needs`].
pub fn releases(platform: &Platform, cluster: &Cluster) -> Vec<Release> {
    let _ = (platform, cluster);
    Vec::new()
}

/// Every file under `helm/`.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let _ = platform;
    Vec::new()
}
