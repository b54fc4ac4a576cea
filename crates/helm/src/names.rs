//! Names that more than one component (or the deploy engine, or Terraform) must agree on:
//! namespaces, service accounts, Secrets the deploy step creates, private DNS names. Written
//! once here; every renderer derives from these.

use flotilla_model::{Cluster, Platform};

pub use flotilla_model::reserved::{
    ECK_NAMESPACE, GATEWAY_NAMESPACE, KAFKA_NAMESPACE, LOGGING_NAMESPACE, MONITORING_NAMESPACE,
    OBSERVABILITY_NAMESPACE,
};

/// The AWS Load Balancer Controller release: every release with a `LoadBalancer` Service needs
/// it first (its webhook must see the Service).
pub const LOAD_BALANCER_CONTROLLER: &str = "aws-load-balancer-controller";

/// The `Gateway` of a workload cluster and the GatewayClass NGINX Gateway Fabric installs.
pub const GATEWAY_NAME: &str = "flotilla";
pub const GATEWAY_CLASS: &str = "nginx";

/// The Strimzi `Kafka` resource (its Secrets are `flotilla-cluster-ca-cert`, ...).
pub const KAFKA_CLUSTER: &str = "flotilla";
/// The Elasticsearch / Kibana / Logstash resources.
pub const ELASTICSEARCH: &str = "flotilla";
pub const KIBANA: &str = "flotilla";
pub const LOGSTASH: &str = "flotilla";

/// Secret (in [`LOGGING_NAMESPACE`] of a workload cluster) the deploy step copies from the
/// controlplane's KafkaUser Secret ([`kafka_user`]): keys `user.crt`, `user.key`.
pub const KAFKA_CLIENT_SECRET: &str = "kafka-client";
/// Secret (in [`LOGGING_NAMESPACE`] of a workload cluster) the deploy step copies from the
/// controlplane's `<kafka>-cluster-ca-cert` ([`kafka_cluster_ca_secret`]): key `ca.crt`, the CA
/// that signed the brokers' certificates.
pub const KAFKA_CLUSTER_CA_SECRET: &str = "kafka-cluster-ca";

/// Strimzi's Secret with the cluster CA certificate (key `ca.crt`), next to the `Kafka`.
pub fn kafka_cluster_ca_secret() -> String {
    format!("{KAFKA_CLUSTER}-cluster-ca-cert")
}

/// Secret (in [`MONITORING_NAMESPACE`] of the controlplane) the deploy step creates from one
/// receiver's AWS Secrets Manager secret; its key is [`RECEIVER_SECRET_KEY`].
pub fn receiver_secret(receiver: &str) -> String {
    format!("alertmanager-receiver-{receiver}")
}
pub const RECEIVER_SECRET_KEY: &str = "credentials";
/// Where the Prometheus operator mounts `alertmanagerSpec.secrets`.
pub const ALERTMANAGER_SECRETS_DIR: &str = "/etc/alertmanager/secrets";

/// The file Alertmanager reads a receiver's credential from.
pub fn receiver_credential_file(receiver: &str) -> String {
    format!(
        "{ALERTMANAGER_SECRETS_DIR}/{}/{RECEIVER_SECRET_KEY}",
        receiver_secret(receiver)
    )
}

/// The KafkaUser of a workload cluster (Strimzi writes its Secret, same name, next to it).
pub fn kafka_user(cluster: &Cluster) -> String {
    format!("fluent-bit-{}", cluster.environment)
}

/// The KafkaUser Logstash reads the topics with.
pub const LOGSTASH_KAFKA_USER: &str = "logstash";

/// Private DNS name of the controlplane's Alertmanager (an internal NLB; external-dns writes
/// the record in the platform's private zone).
pub fn alertmanager_host(platform: &Platform) -> String {
    format!("alertmanager.{}", platform.internal_domain)
}

/// Private DNS name of a cluster's Prometheus, for the controlplane's Grafana.
pub fn prometheus_host(platform: &Platform, cluster: &Cluster) -> String {
    platform.prometheus_host(cluster)
}

pub const ALERTMANAGER_PORT: u16 = 9093;
pub const PROMETHEUS_PORT: u16 = 9090;

/// Data stream (Elasticsearch) that Logstash writes one environment's topic of one kind to:
/// `logs-flotilla-<env>` / `metrics-flotilla-<env>`, following `<type>-<dataset>-<namespace>`.
pub fn data_stream(kind: flotilla_model::TopicKind, environment: &str) -> String {
    format!("{}-flotilla-{environment}", data_stream_type(kind))
}

pub fn data_stream_type(kind: flotilla_model::TopicKind) -> &'static str {
    match kind {
        flotilla_model::TopicKind::Logs => "logs",
        flotilla_model::TopicKind::Metrics => "metrics",
    }
}

/// Label on every namespace Flotilla manages that the deletion guard protects.
pub const PROTECTED_LABEL: &str = "flotilla.io/protected";
