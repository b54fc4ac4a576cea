//! Names the platform itself uses, which more than one crate must agree on: the namespaces of
//! the platform's own releases (the renderer puts its releases there, validation keeps
//! applications out of them), and the label every generated object carries. Defined once
//! here; `flotilla-helm`, `flotilla-terraform` and `flotilla-deploy` read them.

/// Namespace of the NGINX Gateway Fabric control plane, its data plane and the `Gateway`.
pub const GATEWAY_NAMESPACE: &str = "nginx-gateway";
/// Prometheus, node-exporter, kube-state-metrics (and on the controlplane Alertmanager).
pub const MONITORING_NAMESPACE: &str = "monitoring";
/// Fluent Bit on the workload clusters.
pub const LOGGING_NAMESPACE: &str = "logging";
/// The Strimzi cluster operator, `Kafka` and its topics and users, and Logstash (controlplane).
/// Logstash runs here so that it mounts the Secrets Strimzi's user operator writes (its
/// KafkaUser, the cluster CA) without copies.
pub const KAFKA_NAMESPACE: &str = "kafka";
/// The ECK operator (controlplane).
pub const ECK_NAMESPACE: &str = "elastic-system";
/// Elasticsearch, Kibana and Grafana (controlplane): Grafana reads the Elasticsearch
/// credentials ECK writes here.
pub const OBSERVABILITY_NAMESPACE: &str = "observability";

/// Every namespace a platform release lands in, on any cluster.
pub const PLATFORM_NAMESPACES: &[&str] = &[
    GATEWAY_NAMESPACE,
    MONITORING_NAMESPACE,
    LOGGING_NAMESPACE,
    KAFKA_NAMESPACE,
    ECK_NAMESPACE,
    OBSERVABILITY_NAMESPACE,
];

/// Namespaces Kubernetes (and EKS) create and own.
pub const KUBERNETES_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Whether an application may not use this namespace: Kubernetes' own and the platform's.
pub fn is_reserved_namespace(name: &str) -> bool {
    KUBERNETES_NAMESPACES.contains(&name) || PLATFORM_NAMESPACES.contains(&name)
}

/// The target of every cluster at once (`deploy all`, `drift all`): no environment, and so no
/// cluster, may be called this.
pub const ALL_TARGET: &str = "all";

/// The Terraform root module of the state bucket, `infra/bootstrap`.
pub const BOOTSTRAP_MODULE: &str = "bootstrap";

/// Cluster names that are directories of the output with another meaning (a cluster's module
/// is `infra/<cluster>`), with what they are.
pub const RESERVED_CLUSTER_NAMES: &[(&str, &str)] = &[(
    BOOTSTRAP_MODULE,
    "infra/bootstrap is the state bucket's module",
)];

/// The label (and, in Terraform, the tag) that marks what Flotilla generated and manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its Terraform tag key (AWS tags read better without the Kubernetes prefix).
pub const MANAGED_BY_TAG: &str = "managed-by";
/// The value of both.
pub const MANAGED_BY: &str = "flotilla";
