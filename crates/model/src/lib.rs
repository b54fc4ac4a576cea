//! The typed Flotilla platform.
//!
//! `platform.toml` is parsed into [`raw`] types (spans kept), then [`validate`] turns them into a
//! [`Platform`] or returns every error found, each located at `file:line:col`. Everything here is
//! pure: no IO, no clock, no environment. Renderers (crates/terraform, crates/helm) and the deploy
//! engine take a `&Platform` and build their own output types from it.

pub mod artifact;
pub mod aws_data;
pub mod capacity;
pub mod cost;
mod diagnostic;
pub mod kubernetes;
pub mod names;
pub mod quotas;
mod raw;
pub mod reserved;
mod validate;
pub mod versions;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use artifact::Artifact;
pub use diagnostic::{Diagnostic, LoadError, Severity as DiagnosticSeverity, line_col};
pub use ipnet::Ipv4Net;
/// Checks on text that the renderers' tests share (a module, so that `use crate::*` inside this
/// crate does not bring the names into scope twice).
pub mod checks {
    /// Secret-looking text (webhook URLs, keys, tokens): generated output must contain none.
    pub use crate::names::looks_like_secret;
}
use serde::Serialize;
pub use validate::kubernetes_version_span;
pub use versions::Versions;

/// Parses and validates a platform description.
///
/// `file` is only used to name the file in diagnostics. `versions` is the pinned versions file
/// (see [`Versions::embedded`]). On failure every error found is returned at once.
pub fn load(file: &str, source: &str, versions: &Versions) -> Result<Platform, LoadError> {
    validate::load(file, source, versions)
}

/// [`load`] of a file's bytes: a file that is not UTF-8 is a located error at its first bad
/// byte, saying what encoding the bytes look like.
pub fn load_bytes(file: &str, bytes: &[u8], versions: &Versions) -> Result<Platform, LoadError> {
    match std::str::from_utf8(bytes) {
        Ok(source) => load(file, source, versions),
        Err(e) => Err(not_utf8(file, bytes, e.valid_up_to())),
    }
}

fn not_utf8(file: &str, bytes: &[u8], at: usize) -> LoadError {
    // Up to the first bad byte the text is as written; the rest is shown with U+FFFD.
    let source_text = String::from_utf8_lossy(bytes).into_owned();
    let bad = bytes[at];
    let guess = if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        "it starts with a UTF-16 byte order mark: the file is UTF-16".to_string()
    } else if bytes.iter().filter(|b| **b == 0).count() * 4 > bytes.len() {
        "a quarter of its bytes are zero: it looks like UTF-16 or UTF-32".to_string()
    } else if bad >= 0xA0 {
        format!(
            "it looks like Latin-1 or Windows-1252, where 0x{bad:02X} is '{}'",
            char::from(bad)
        )
    } else {
        "it is neither UTF-8 nor a text encoding Flotilla recognizes".to_string()
    };
    LoadError {
        file: file.to_string(),
        diagnostics: vec![
            Diagnostic::error(
                at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
                format!("byte 0x{bad:02X} is not valid UTF-8 (platform.toml is read as UTF-8)"),
            )
            .with_help(format!("{guess}; save the file as UTF-8")),
        ],
        source_text,
    }
}

/// How workload VPCs reach the controlplane VPC (and through it Kafka, Alertmanager, the
/// private zone's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkHub {
    /// One VPC peering per workload VPC (AWS allows at most 125 active peerings per VPC, 50
    /// by default: quota L-7E9ECCDB).
    #[default]
    Peering,
    /// One Transit Gateway in the controlplane's account and region, one attachment per VPC
    /// (5,000 attachments per transit gateway by default).
    TransitGateway,
}

/// At most this many workload VPCs can peer with the controlplane's: the adjustable maximum of
/// AWS's "Active VPC peering connections per VPC" (L-7E9ECCDB).
pub const MAX_PEERINGS_PER_VPC: usize = 125;

/// The whole platform: clusters, applications, observability and sizing.
#[derive(Debug, Clone, Serialize)]
pub struct Platform {
    pub name: String,
    pub region: String,
    pub account_id: String,
    /// Private Route 53 zone for the platform's internal names (Kafka bootstrap, brokers, ...).
    pub internal_domain: String,
    /// S3 bucket that holds every cluster's Terraform state.
    pub state_bucket: String,
    /// How every workload VPC reaches the controlplane's.
    pub network_hub: NetworkHub,
    /// In file order; exactly one has [`Role::Controlplane`].
    pub clusters: Vec<Cluster>,
    pub applications: Vec<Application>,
    pub observability: Observability,
    pub sizing: Sizing,
    #[serde(skip)]
    pub versions: Versions,
    /// The capacity plan, once computed ([`Platform::capacity_plan`]).
    #[serde(skip)]
    pub plan_cache: capacity::PlanCache,
}

impl Platform {
    /// The one controlplane cluster (validation guarantees it exists).
    pub fn controlplane(&self) -> &Cluster {
        self.clusters
            .iter()
            .find(|c| c.role == Role::Controlplane)
            .expect("validated platform has a controlplane")
    }

    /// Workload clusters, in file order.
    pub fn workload_clusters(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.iter().filter(|c| c.role == Role::Workload)
    }

    /// Environment names of the workload clusters, in file order.
    pub fn environments(&self) -> Vec<&str> {
        self.workload_clusters()
            .map(|c| c.environment.as_str())
            .collect()
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The cluster that runs an environment (`controlplane` names the controlplane).
    pub fn cluster_for_environment(&self, environment: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.environment == environment)
    }

    /// Every target a command may name: the environments and the controlplane's environment.
    pub fn targets(&self) -> Vec<&str> {
        self.clusters
            .iter()
            .map(|c| c.environment.as_str())
            .collect()
    }

    /// Applications deployed to an environment, with their settings there.
    pub fn applications_in<'a>(
        &'a self,
        environment: &'a str,
    ) -> impl Iterator<Item = (&'a Application, &'a Quota)> + 'a {
        self.applications
            .iter()
            .filter_map(move |a| a.environments.get(environment).map(|q| (a, q)))
    }

    /// The Kafka topic of an environment for one kind of data (e.g. `production.logs`).
    pub fn kafka_topic(&self, environment: &str, kind: TopicKind) -> String {
        let base = match kind {
            TopicKind::Logs => &self.observability.logs_topic,
            TopicKind::Metrics => &self.observability.metrics_topic,
        };
        format!("{environment}.{base}")
    }

    /// Private DNS name of the Kafka bootstrap listener, resolvable from every VPC.
    pub fn kafka_bootstrap_host(&self) -> String {
        format!("kafka-bootstrap.{}", self.internal_domain)
    }

    /// Private DNS name of one Kafka broker (by broker id).
    pub fn kafka_broker_host(&self, id: u32) -> String {
        format!("kafka-{id}.{}", self.internal_domain)
    }

    /// Private DNS name of a cluster's Prometheus (for the controlplane's Grafana): the one name
    /// a workload cluster's external-dns writes into the private zone, and its IAM policy is
    /// held to (crates/terraform).
    pub fn prometheus_host(&self, cluster: &Cluster) -> String {
        format!("prometheus.{}.{}", cluster.name, self.internal_domain)
    }

    /// Port of the TLS Kafka listener reached from the workload VPCs.
    pub const KAFKA_TLS_PORT: u16 = 9093;

    /// Name of a cluster's EKS cluster in AWS (`<platform>-<cluster>`), also the prefix of the
    /// names of its AWS resources (VPC, IAM roles, KMS alias).
    pub fn eks_cluster_name(&self, cluster: &Cluster) -> String {
        format!("{}-{}", self.name, cluster.name)
    }
}

/// The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`), for ARNs written where
/// Terraform cannot look it up (backend blocks).
pub fn aws_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A platform component that calls AWS from a Kubernetes service account through EKS Pod
/// Identity. The Terraform renderer creates its IAM role and the association of that role with
/// the service account; the Helm renderer installs the component under the same service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AwsComponent {
    EbsCsiDriver,
    LoadBalancerController,
    ClusterAutoscaler,
    ExternalDns,
}

impl AwsComponent {
    /// Every component; each cluster runs all of them.
    pub const ALL: [AwsComponent; 4] = [
        AwsComponent::EbsCsiDriver,
        AwsComponent::LoadBalancerController,
        AwsComponent::ClusterAutoscaler,
        AwsComponent::ExternalDns,
    ];

    /// Short name used in resource addresses and IAM role names.
    pub fn name(self) -> &'static str {
        match self {
            AwsComponent::EbsCsiDriver => "ebs-csi",
            AwsComponent::LoadBalancerController => "aws-lb-controller",
            AwsComponent::ClusterAutoscaler => "cluster-autoscaler",
            AwsComponent::ExternalDns => "external-dns",
        }
    }

    pub fn namespace(self) -> &'static str {
        "kube-system"
    }

    pub fn service_account(self) -> &'static str {
        match self {
            AwsComponent::EbsCsiDriver => "ebs-csi-controller-sa",
            AwsComponent::LoadBalancerController => "aws-load-balancer-controller",
            AwsComponent::ClusterAutoscaler => "cluster-autoscaler",
            AwsComponent::ExternalDns => "external-dns",
        }
    }
}

/// Which Kafka topic of an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TopicKind {
    Logs,
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs applications of one environment.
    Workload,
    /// Collects and shows the logs and metrics of every workload cluster.
    Controlplane,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Workload => "workload",
            Role::Controlplane => "controlplane",
        })
    }
}

/// One EKS cluster with its VPC.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub name: String,
    /// The workload cluster's previous name (`renamed_from`): the controlplane's addresses keyed
    /// by it move to the new name. Its own state key changes too, which only an operator can
    /// move (docs/terraform.md, "Renaming a cluster"). Never set on the controlplane.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    pub role: Role,
    /// For a workload cluster its environment; for the controlplane its name.
    pub environment: String,
    pub region: String,
    pub account_id: String,
    pub vpc_cidr: Ipv4Net,
    pub availability_zones: u8,
    pub kubernetes_version: String,
    /// Production-like: deletion protection and stricter defaults.
    pub protected: bool,
    /// IAM role ARNs given cluster-admin through EKS access entries.
    pub admin_roles: Vec<String>,
    pub endpoint: EndpointAccess,
    /// Who reaches the private endpoint besides the cluster's own nodes.
    pub private_access: PrivateAccess,
    /// The EKS support policy once the Kubernetes version leaves standard support.
    pub support: SupportType,
    /// The NGINX gateway in front of the applications (every workload cluster has one).
    pub gateway: Option<Gateway>,
    pub node_pools: Vec<NodePool>,
    /// Share of the platform's peak ingest this workload cluster produces, in percent, when
    /// written; otherwise the capacity plan derives it (see [`capacity::ingest_shares`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingest_percent: Option<u32>,
}

/// Who can reach the Kubernetes API endpoint. The private endpoint is always on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "access", rename_all = "snake_case")]
pub enum EndpointAccess {
    Private,
    Public { allowed_cidrs: Vec<Ipv4Net> },
}

/// Sources outside the cluster's nodes that reach the private API endpoint (rules on the
/// cluster security group): the deploy's runner network, a VPN. A private-only endpoint without
/// any is rejected, since nothing could deploy to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrivateAccess {
    pub cidrs: Vec<Ipv4Net>,
    /// Security group ids (`sg-...`) in the cluster's VPC.
    pub security_groups: Vec<String>,
}

impl PrivateAccess {
    pub fn is_empty(&self) -> bool {
        self.cidrs.is_empty() && self.security_groups.is_empty()
    }
}

impl Cluster {
    /// Whether the deploy reaches this cluster's API only through its link to the controlplane:
    /// a private-only endpoint whose access path is a network inside the controlplane's VPC (a
    /// runner there), which the peering or hub routes carry.
    pub fn api_reached_through(&self, controlplane: &Cluster) -> bool {
        self.role == Role::Workload
            && self.endpoint == EndpointAccess::Private
            && self
                .private_access
                .cidrs
                .iter()
                .any(|c| names::overlaps(c, &controlplane.vpc_cidr))
    }
}

/// EKS support policy (`upgrade_policy.support_type`): what happens when the cluster's
/// Kubernetes version leaves standard support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportType {
    /// The cluster is upgraded automatically at the end of standard support.
    Standard,
    /// The cluster stays on its version at the extended-support price.
    Extended,
}

impl SupportType {
    /// The platform.toml spelling (`standard`, `extended`).
    pub fn as_str(self) -> &'static str {
        match self {
            SupportType::Standard => "standard",
            SupportType::Extended => "extended",
        }
    }

    /// The EKS API spelling.
    pub fn eks_name(self) -> &'static str {
        match self {
            SupportType::Standard => "STANDARD",
            SupportType::Extended => "EXTENDED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Gateway {
    pub scheme: LoadBalancerScheme,
    /// ACM certificate for the HTTPS listener.
    pub certificate_arn: String,
    /// Public DNS domain of the environment; a route's host is prefixed to it.
    pub domain: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerScheme {
    InternetFacing,
    Internal,
}

impl LoadBalancerScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancerScheme::InternetFacing => "internet-facing",
            LoadBalancerScheme::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodePool {
    pub name: String,
    /// The pool's previous name (`renamed_from`): the node group's Terraform address moves from
    /// it, no other pool of the cluster has it, and no other pool claims it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
    pub instance_types: Vec<String>,
    pub capacity: Capacity,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub disk_gib: u32,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

impl NodePool {
    /// Whether the pool runs Graviton (arm64) instances; validation keeps a pool to one
    /// architecture, since a node group has a single AMI type.
    pub fn is_arm64(&self) -> bool {
        self.instance_types
            .iter()
            .any(|t| is_arm64_instance_type(t))
    }
}

/// Graviton (arm64) instance families: `a1` and any family whose generation digit is followed
/// by `g` (`m7g`, `c7gn`, `r8g`, `x2gd`, `im4gn`, `t4g`).
pub fn is_arm64_instance_type(instance_type: &str) -> bool {
    let family = instance_type.split('.').next().unwrap_or_default();
    family == "a1"
        || family
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'g')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    OnDemand,
    Spot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: TaintEffect,
}

/// Kubernetes taint effects, spelled as Kubernetes spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    /// The spelling of the EKS API (`NO_SCHEDULE`, ...).
    pub fn eks_name(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NO_SCHEDULE",
            TaintEffect::PreferNoSchedule => "PREFER_NO_SCHEDULE",
            TaintEffect::NoExecute => "NO_EXECUTE",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaintEffect::NoSchedule => "NoSchedule",
            TaintEffect::PreferNoSchedule => "PreferNoSchedule",
            TaintEffect::NoExecute => "NoExecute",
        }
    }
}

/// An application: one namespace in each environment it runs in.
#[derive(Debug, Clone, Serialize)]
pub struct Application {
    pub name: String,
    pub team: Team,
    /// Namespace name (the application's name unless set).
    pub namespace: String,
    /// Environment name -> namespace quota there.
    pub environments: BTreeMap<String, Quota>,
    pub routes: Vec<Route>,
    /// Where its pods may connect to besides DNS and their own namespace (default deny).
    pub egress: Vec<Egress>,
}

/// An egress allowance: to these networks and application namespaces (of the same cluster), on
/// these TCP ports (all ports when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Egress {
    pub cidrs: Vec<Ipv4Net>,
    pub namespaces: Vec<String>,
    pub ports: Vec<u16>,
}

/// The owning team: an IAM role or group, bound to the namespace's admin role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub arn: String,
    pub kind: TeamKind,
    /// The role or group name (last path segment of the ARN).
    pub name: String,
}

impl Team {
    /// The Kubernetes group the team is known by inside every cluster: the Helm layer binds it
    /// to `admin` in the team's namespaces (a RoleBinding), the Terraform layer puts the team's
    /// IAM role in it (the EKS access entry's `kubernetes_groups`). Both renderers take it from
    /// here so that the two can never name different groups.
    pub fn kubernetes_group(&self) -> String {
        format!("flotilla:team:{}", self.name)
    }

    /// The team's name as a Kubernetes label value (the `flotilla.io/team` label): IAM names
    /// may hold `+=,@` and 64 characters, label values neither; each such character becomes
    /// `-`, the ends are trimmed to a letter or digit and the value is cut to 63.
    pub fn label_value(&self) -> String {
        names::label_value_of(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamKind {
    Role,
    Group,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// Kubernetes CPU quantity (`"8"`, `"500m"`).
    pub cpu: String,
    /// Kubernetes memory quantity (`"16Gi"`).
    pub memory: String,
    pub pods: u32,
}

/// An HTTP route from the environment's gateway to a service of the application.
#[derive(Debug, Clone, Serialize)]
pub struct Route {
    /// Host label(s) in front of the environment's domain (`api` -> `api.example.com`).
    pub host: String,
    pub path: String,
    pub service: String,
    /// The Service port (the HTTPRoute's backend port).
    pub port: u16,
    /// The port the pods listen on (the Service's targetPort), which a NetworkPolicy matches.
    pub target_port: u16,
    /// Environments the route exists in (a subset of the application's). A set: renderers ask
    /// "is this route in environment X" once per route and cluster.
    pub environments: BTreeSet<String>,
}

impl Route {
    /// The name of the route's HTTPRoute in its application's namespace: host and path with
    /// every other character as `-` (`api` and `/v1/orders` give `api-v1-orders`, `/` gives
    /// `root`), runs of `-` collapsed, lowercase; a valid DNS-1123 label of at most 63
    /// characters, the longest cut to 54 and given a hash of host and path. Validation refuses
    /// two routes of one application with the same name.
    pub fn object_name(&self) -> String {
        route_object_name(&self.host, &self.path)
    }

    /// The full hostname of the route in a cluster (its gateway's domain appended).
    pub fn hostname(&self, cluster: &Cluster) -> Option<String> {
        cluster
            .gateway
            .as_ref()
            .map(|g| format!("{}.{}", self.host, g.domain))
    }
}

/// See [`Route::object_name`].
pub fn route_object_name(host: &str, path: &str) -> String {
    let path = path.trim_matches('/');
    let path = if path.is_empty() { "root" } else { path };
    let raw = format!("{host}-{path}").to_ascii_lowercase();
    let mut name = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_matches('-').to_string();
    if name.len() <= 63 {
        return name;
    }
    // FNV-1a over host and path: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in host.bytes().chain([0]).chain(path.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{:08x}", name[..54].trim_end_matches('-'), h as u32)
}

#[derive(Debug, Clone, Serialize)]
pub struct Observability {
    /// Base name of the log topics; each environment has `<env>.<logs_topic>`.
    pub logs_topic: String,
    pub metrics_topic: String,
    pub kafka_retention_hours: u32,
    pub prometheus_retention_days: u32,
    pub prometheus_volume_gib: u32,
    pub receivers: Vec<Receiver>,
    pub alerts: Vec<Alert>,
    pub routing: Vec<AlertRoute>,
    /// The receiver of the Watchdog heartbeat (a dead man's switch); `None`: the heartbeat goes
    /// to a receiver without integrations, `watchdog-unwatched`, and nobody notices a silent
    /// pipeline (docs/runbooks.md).
    pub watchdog_receiver: Option<String>,
    /// Where docs/runbooks.md is read; each alert's `runbook_url` is this plus `#<section>`.
    pub runbooks_url: String,
}

/// The runbooks' location when the platform names none: the file in the repository.
pub const DEFAULT_RUNBOOKS_URL: &str = "docs/runbooks.md";

impl Observability {
    /// Receivers an alert of this severity in this environment goes to, in routing order.
    pub fn receivers_for(&self, environment: &str, severity: Severity) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for route in &self.routing {
            if route.matches(environment, severity) {
                for r in &route.receivers {
                    if !out.contains(&r.as_str()) {
                        out.push(r);
                    }
                }
            }
        }
        out
    }
}

/// Where alerts are sent. Credentials are never in the model: only the name of the
/// AWS Secrets Manager secret that holds them.
#[derive(Debug, Clone, Serialize)]
pub struct Receiver {
    pub name: String,
    pub kind: ReceiverKind,
    pub credentials_secret: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReceiverKind {
    /// The secret holds the SMTP password.
    Email {
        to: Vec<String>,
        from: String,
        smarthost: String,
        /// The user the SMTP server authenticates (Amazon SES: the SMTP user name of an IAM
        /// user, required); without it the sender address.
        smtp_username: String,
    },
    /// The secret holds the incoming-webhook URL.
    Slack { channel: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Prometheus duration such as `5m` or `1h30m`, kept as written and as seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromDuration {
    pub text: String,
    pub seconds: u64,
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    /// Prometheus alert name (`NodeHighCpu`).
    pub name: String,
    pub rule: AlertRule,
    /// How long the condition must hold before the alert fires.
    pub for_: PromDuration,
    pub severity: Severity,
    pub summary: String,
    /// The model's own runbook for this alert; otherwise the runbook section of its kind.
    pub runbook_url: Option<String>,
}

/// Built-in alert kinds with their parameters, plus raw PromQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertRule {
    /// Average CPU use of a node above `threshold_percent`.
    NodeCpu { threshold_percent: f64 },
    /// Memory use of a node above `threshold_percent`.
    NodeMemory { threshold_percent: f64 },
    /// Use of a node filesystem above `threshold_percent`.
    NodeDisk { threshold_percent: f64 },
    /// A container restarted more than `restarts` times within the `for` window.
    PodCrashLooping { restarts: f64 },
    /// A Kafka consumer group behind by more than `messages` on the controlplane.
    KafkaConsumerLag { messages: f64 },
    /// Elasticsearch cluster health not green (yellow counts as `warning`-worthy).
    ElasticsearchHealth,
    /// A raw PromQL expression that is true while the alert should fire.
    Promql { expr: String },
}

impl AlertRule {
    /// Which clusters evaluate the rule.
    pub fn scope(&self) -> AlertScope {
        match self {
            AlertRule::KafkaConsumerLag { .. } | AlertRule::ElasticsearchHealth => {
                AlertScope::Controlplane
            }
            _ => AlertScope::AllClusters,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            AlertRule::NodeCpu { .. } => "node_cpu",
            AlertRule::NodeMemory { .. } => "node_memory",
            AlertRule::NodeDisk { .. } => "node_disk",
            AlertRule::PodCrashLooping { .. } => "pod_crash_looping",
            AlertRule::KafkaConsumerLag { .. } => "kafka_consumer_lag",
            AlertRule::ElasticsearchHealth => "elasticsearch_health",
            AlertRule::Promql { .. } => "promql",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertScope {
    AllClusters,
    Controlplane,
}

/// Sends alerts of the matching environments and severities to receivers.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRoute {
    /// Empty: every environment (the controlplane included).
    pub environments: Vec<String>,
    /// Empty: every severity.
    pub severities: Vec<Severity>,
    pub receivers: Vec<String>,
}

impl AlertRoute {
    pub fn matches(&self, environment: &str, severity: Severity) -> bool {
        (self.environments.is_empty() || self.environments.iter().any(|e| e == environment))
            && (self.severities.is_empty() || self.severities.contains(&severity))
    }
}

/// What the data platform must take; the capacity plan is derived from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sizing {
    pub peak_events_per_second: u64,
    pub average_event_bytes: u64,
    pub retention_days: u32,
    pub replication: u32,
    pub query_latency_ms: u32,
}
