//! The file format of `platform.toml`, exactly as written, with source spans.
//!
//! These types only mirror the TOML so that serde can reject unknown keys and wrong types with a
//! location. Nothing outside the model crate sees them: `crate::validate` turns them into the
//! typed [`crate::Platform`], collecting every semantic error on the way.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub platform: S<PlatformMeta>,
    #[serde(default)]
    pub clusters: Vec<S<Cluster>>,
    #[serde(default)]
    pub applications: Vec<S<Application>>,
    #[serde(default)]
    pub routes: Vec<S<Route>>,
    pub observability: S<Observability>,
    pub sizing: S<Sizing>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformMeta {
    pub name: S<String>,
    pub region: S<String>,
    pub account_id: S<String>,
    pub internal_domain: S<String>,
    #[serde(default)]
    pub state_bucket: Option<S<String>>,
    /// How workload VPCs reach the controlplane's: `peering` or `transit_gateway`.
    #[serde(default)]
    pub network_hub: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: S<String>,
    /// The cluster's previous name, for one rename (workload clusters only).
    #[serde(default)]
    pub renamed_from: Option<S<String>>,
    pub role: S<String>,
    #[serde(default)]
    pub environment: Option<S<String>>,
    #[serde(default)]
    pub region: Option<S<String>>,
    #[serde(default)]
    pub account_id: Option<S<String>>,
    pub vpc_cidr: S<String>,
    pub availability_zones: S<i64>,
    pub kubernetes_version: S<String>,
    #[serde(default)]
    pub protected: Option<S<bool>>,
    #[serde(default)]
    pub admin_roles: Vec<S<String>>,
    pub endpoint: S<Endpoint>,
    #[serde(default)]
    pub gateway: Option<S<Gateway>>,
    #[serde(default)]
    pub node_pools: Vec<S<NodePool>>,
    /// Share of the peak ingest in percent (workload clusters only; optional).
    #[serde(default)]
    pub ingest_percent: Option<S<i64>>,
    /// EKS support policy: "standard" (default) or "extended".
    #[serde(default)]
    pub support: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub access: S<String>,
    #[serde(default)]
    pub public_cidrs: Vec<S<String>>,
    /// Networks that reach the private endpoint (a VPN, a runner network routed to the VPC).
    #[serde(default)]
    pub private_cidrs: Vec<S<String>>,
    /// Security groups in the cluster's VPC whose members reach the private endpoint.
    #[serde(default)]
    pub private_security_groups: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    pub scheme: S<String>,
    pub certificate_arn: S<String>,
    pub domain: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePool {
    pub name: S<String>,
    /// The pool's previous name, for one rename: Terraform gets a `moved` block.
    #[serde(default)]
    pub renamed_from: Option<S<String>>,
    pub instance_types: S<Vec<S<String>>>,
    #[serde(default)]
    pub capacity: Option<S<String>>,
    pub min: S<i64>,
    pub desired: S<i64>,
    pub max: S<i64>,
    #[serde(default)]
    pub disk_gib: Option<S<i64>>,
    #[serde(default)]
    pub labels: BTreeMap<S<String>, S<String>>,
    #[serde(default)]
    pub taints: Vec<S<Taint>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taint {
    pub key: S<String>,
    #[serde(default)]
    pub value: Option<S<String>>,
    pub effect: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub name: S<String>,
    /// Where the application's pods may connect to, besides DNS and their own namespace.
    #[serde(default)]
    pub egress: Vec<S<Egress>>,
    pub team: S<String>,
    #[serde(default)]
    pub namespace: Option<S<String>>,
    /// Per environment: the namespace's quota. An application is deployed to exactly the
    /// environments listed here.
    pub environments: BTreeMap<S<String>, S<Quota>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub cpu: S<String>,
    pub memory: S<String>,
    pub pods: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub application: S<String>,
    pub host: S<String>,
    #[serde(default)]
    pub path: Option<S<String>>,
    pub service: S<String>,
    pub port: S<i64>,
    /// The port the application's pods listen on behind the Service (default: `port`).
    #[serde(default)]
    pub target_port: Option<S<i64>>,
    #[serde(default)]
    pub environments: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    pub logs_topic: S<String>,
    pub metrics_topic: S<String>,
    pub kafka_retention_hours: S<i64>,
    pub prometheus_retention_days: S<i64>,
    pub prometheus_volume_gib: S<i64>,
    #[serde(default)]
    pub receivers: Vec<S<Receiver>>,
    #[serde(default)]
    pub alerts: Vec<S<Alert>>,
    #[serde(default)]
    pub routing: Vec<S<AlertRoute>>,
    /// The receiver of the always-firing Watchdog alert (a dead man's switch).
    #[serde(default)]
    pub watchdog_receiver: Option<S<String>>,
    /// Where docs/runbooks.md is read (e.g. its page in the repository's web view).
    #[serde(default)]
    pub runbooks_url: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    pub name: S<String>,
    pub kind: S<String>,
    #[serde(default)]
    pub to: Vec<S<String>>,
    #[serde(default)]
    pub from: Option<S<String>>,
    #[serde(default)]
    pub smarthost: Option<S<String>>,
    /// The SMTP user name (for Amazon SES: the SMTP user of an IAM user); not a secret.
    #[serde(default)]
    pub smtp_username: Option<S<String>>,
    #[serde(default)]
    pub channel: Option<S<String>>,
    pub credentials_secret: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    pub name: S<String>,
    pub kind: S<String>,
    #[serde(default)]
    pub threshold: Option<S<f64>>,
    #[serde(default, rename = "for")]
    pub for_: Option<S<String>>,
    #[serde(default)]
    pub expr: Option<S<String>>,
    #[serde(default)]
    pub severity: Option<S<String>>,
    #[serde(default)]
    pub summary: Option<S<String>>,
    #[serde(default)]
    pub runbook_url: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRoute {
    #[serde(default)]
    pub environments: Vec<S<String>>,
    #[serde(default)]
    pub severities: Vec<S<String>>,
    pub receivers: S<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sizing {
    pub peak_events_per_second: S<i64>,
    pub average_event_bytes: S<i64>,
    pub retention_days: S<i64>,
    pub replication: S<i64>,
    pub query_latency_ms: S<i64>,
}

/// One egress allowance of an application: networks and/or application namespaces, on some
/// ports or all.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    #[serde(default)]
    pub cidrs: Vec<S<String>>,
    #[serde(default)]
    pub namespaces: Vec<S<String>>,
    #[serde(default)]
    pub ports: Vec<S<i64>>,
}
