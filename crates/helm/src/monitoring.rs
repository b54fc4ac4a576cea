//! kube-prometheus-stack on every cluster: Prometheus (retention and volume from the model),
//! node-exporter and kube-state-metrics, no Grafana (the controlplane runs its own), the model's
//! alerts as `PrometheusRule`s. Workload clusters send alerts to the controlplane's
//! Alertmanager; the controlplane runs that Alertmanager, configured from the model.

use flotilla_model::{Cluster, Platform, Role};
use serde_json::{Value, json};

use crate::alerts::{alertmanager_config, rule_groups};
use crate::apps::STORAGE_CLASS;
use crate::aws::{LOAD_BALANCER_CONTROLLER, internal_nlb_annotations};
use crate::meta::{Meta, Resource};
use crate::names::{
    ALERTMANAGER_PORT, KAFKA_CLUSTER, KAFKA_NAMESPACE, MONITORING_NAMESPACE, alertmanager_host,
    prometheus_host, receiver_secret,
};
use crate::{ReleaseDef, yaml};

pub const RELEASE: &str = "kube-prometheus-stack";
/// In-cluster Service of Prometheus (the chart's `<release>-prometheus`).
pub const PROMETHEUS_SERVICE: &str = "kube-prometheus-stack-prometheus";

/// Prometheus starts deleting old blocks at this fraction of its volume, before the disk fills.
const RETENTION_SIZE_FRACTION: f64 = 0.85;

fn persistent_volume(gib: u32) -> Value {
    json!({
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": STORAGE_CLASS,
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": format!("{gib}Gi") } },
            }
        }
    })
}

/// The Alertmanager pods the Prometheus operator makes for the chart's `Alertmanager`
/// (`<release>-alertmanager`), by their labels.
pub const ALERTMANAGER_POD_LABELS: [(&str, &str); 2] = [
    ("app.kubernetes.io/name", "alertmanager"),
    ("alertmanager", "kube-prometheus-stack-alertmanager"),
];

/// The controlplane's Alertmanager replicas to the workload clusters: a headless Service whose
/// name external-dns publishes in the private zone with the address of every ready replica, so
/// that each Prometheus sends every alert to every replica (no load balancer between them).
pub fn alertmanager_peers(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    if cluster.role != Role::Controlplane {
        return Vec::new();
    }
    let mut m = crate::meta::meta(
        platform,
        cluster,
        ALERTMANAGER_PEERS,
        Some(MONITORING_NAMESPACE),
    );
    m.annotations = Some(std::collections::BTreeMap::from([(
        "external-dns.alpha.kubernetes.io/hostname".to_string(),
        alertmanager_host(platform),
    )]));
    vec![yaml::value(&k8s_openapi::api::core::v1::Service {
        metadata: m,
        spec: Some(k8s_openapi::api::core::v1::ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(
                ALERTMANAGER_POD_LABELS
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
                name: Some("http-web".into()),
                port: i32::from(ALERTMANAGER_PORT),
                target_port: Some(
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i32::from(
                        ALERTMANAGER_PORT,
                    )),
                ),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    })]
}

/// The headless Service of [`alertmanager_peers`].
pub const ALERTMANAGER_PEERS: &str = "alertmanager-peers";

pub fn kube_prometheus_stack(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let obs = &platform.observability;
    let retention_size_gb =
        (f64::from(obs.prometheus_volume_gib) * RETENTION_SIZE_FRACTION).floor() as u32;
    let replicas = if cluster.protected { 2 } else { 1 };

    let mut prometheus_spec = json!({
        "replicas": replicas,
        "retention": format!("{}d", obs.prometheus_retention_days),
        // Prometheus size units are powers of 1024.
        "retentionSize": format!("{retention_size_gb}GB"),
        "storageSpec": persistent_volume(obs.prometheus_volume_gib),
        "externalLabels": {
            "environment": cluster.environment,
            "cluster": cluster.name,
        },
        // Pick up every PrometheusRule, ServiceMonitor and PodMonitor, not only the chart's own.
        "ruleSelectorNilUsesHelmValues": false,
        "serviceMonitorSelectorNilUsesHelmValues": false,
        "podMonitorSelectorNilUsesHelmValues": false,
    });
    let mut values = json!({
        // The model's alerts are the alert rules; the chart's defaults would double them.
        "defaultRules": { "create": false },
        "grafana": { "enabled": false },
        // EKS runs the control plane: there is nothing to scrape there.
        "kubeControllerManager": { "enabled": false },
        "kubeScheduler": { "enabled": false },
        "kubeEtcd": { "enabled": false },
        "kubeProxy": { "enabled": false },
        // Alerts name the node: node-exporter's `instance` is the node's IP and port, so its
        // series also carry the node's name as `node` (what Fluent Bit's records call it).
        "prometheus-node-exporter": { "prometheus": { "monitor": { "relabelings": [{
            "sourceLabels": ["__meta_kubernetes_pod_node_name"],
            "targetLabel": "node",
            "action": "replace",
        }]}}},
    });

    match cluster.role {
        Role::Workload => {
            values["alertmanager"] = json!({ "enabled": false });
            // Every alert to every Alertmanager replica (Alertmanager's high availability
            // expects it; gossip shares silences and notifications, not alerts): the name
            // resolves to the address of each replica's pod (a headless Service on the
            // controlplane, published by external-dns), and Prometheus sends to each.
            prometheus_spec["additionalAlertManagerConfigs"] = json!([{
                "scheme": "http",
                "api_version": "v2",
                "dns_sd_configs": [{
                    "names": [alertmanager_host(platform)],
                    "type": "A",
                    "port": ALERTMANAGER_PORT,
                }],
            }]);
        }
        Role::Controlplane => {
            let mut secrets: Vec<String> = obs
                .receivers
                .iter()
                .map(|r| receiver_secret(&r.name))
                .collect();
            secrets.sort();
            values["alertmanager"] = json!({
                "enabled": true,
                "config": yaml::value(&alertmanager_config(platform)),
                // No load balancer in front of the replicas: the workload clusters reach each
                // replica through the headless Service of [`alertmanager_peers`].
                "alertmanagerSpec": {
                    // Links in notifications, reachable from the VPCs and networks routed to them.
                    "externalUrl": format!("http://{}:{ALERTMANAGER_PORT}", alertmanager_host(platform)),
                    "replicas": if cluster.protected { 3 } else { 1 },
                    // Receiver credentials, mounted under /etc/alertmanager/secrets/<name>/.
                    "secrets": secrets,
                    "storage": persistent_volume(10),
                },
            });
            // Kafka Exporter (consumer lag, topic offsets) runs next to the Kafka brokers.
            values["prometheus"] = json!({
                "additionalPodMonitors": [{
                    "name": "kafka-exporter",
                    "namespaceSelector": { "matchNames": [KAFKA_NAMESPACE] },
                    "selector": {
                        "matchLabels": {
                            "strimzi.io/cluster": KAFKA_CLUSTER,
                            "strimzi.io/kind": "Kafka",
                            "strimzi.io/name": format!("{KAFKA_CLUSTER}-kafka-exporter"),
                        }
                    },
                    "podMetricsEndpoints": [{ "port": "tcp-prometheus", "path": "/metrics" }],
                }],
            });
        }
    }

    let prometheus = values
        .as_object_mut()
        .expect("values are a map")
        .entry("prometheus")
        .or_insert_with(|| json!({}));
    prometheus["prometheusSpec"] = prometheus_spec;
    if cluster.role == Role::Workload {
        // The controlplane's Grafana queries this Prometheus over an internal NLB, and only it.
        prometheus["service"] = json!({
            "type": "LoadBalancer",
            "annotations": internal_nlb_annotations(&prometheus_host(platform, cluster)),
            "loadBalancerSourceRanges": [platform.controlplane().vpc_cidr.to_string()],
        });
    }

    ReleaseDef {
        name: RELEASE,
        chart: "kube-prometheus-stack",
        namespace: MONITORING_NAMESPACE,
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values,
    }
}

/// The cluster's alert rules as one `PrometheusRule`.
pub fn prometheus_rules(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let groups = rule_groups(platform, cluster);
    if groups.groups.is_empty() {
        return vec![];
    }
    vec![yaml::value(&Resource {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: Meta::new(platform, cluster, "flotilla-alerts", MONITORING_NAMESPACE),
        spec: groups,
    })]
}
