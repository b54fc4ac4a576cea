//! Fluent Bit on every workload cluster: container logs with Kubernetes metadata and node
//! metrics, to the controlplane Kafka topics of the cluster's environment, over TLS with the
//! cluster's own KafkaUser certificate.
//!
//! The Kafka address is the model's ([`Platform::kafka_bootstrap_host`],
//! [`Platform::KAFKA_TLS_PORT`]); the credentials are two Secrets the deploy step copies from
//! the controlplane ([`KAFKA_CLIENT_SECRET`], [`KAFKA_CLUSTER_CA_SECRET`]), mounted as files.

use std::fmt::Write;

use flotilla_model::{Cluster, Platform, TopicKind};
use serde_json::json;

use crate::ReleaseDef;
use crate::aws::LOAD_BALANCER_CONTROLLER;
use crate::names::{KAFKA_CLIENT_SECRET, KAFKA_CLUSTER_CA_SECRET, LOGGING_NAMESPACE};

pub const RELEASE: &str = "fluent-bit";
const CLIENT_DIR: &str = "/fluent-bit/kafka/client";
const CA_DIR: &str = "/fluent-bit/kafka/ca";
/// Node metrics are sampled this often (seconds); they are log records (`cpu`, `mem`, `disk`,
/// `netif` inputs), which is what the Kafka output and Logstash carry.
const METRICS_INTERVAL_SEC: u32 = 30;

fn inputs() -> String {
    let mut s = String::from(
        "[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser docker, cri
    Tag kube.*
    Mem_Buf_Limit 50MB
    Skip_Long_Lines On
",
    );
    for (name, extra) in [
        ("cpu", ""),
        ("mem", ""),
        ("disk", ""),
        ("netif", "    Interface eth0\n"),
    ] {
        write!(
            s,
            "\n[INPUT]\n    Name {name}\n    Tag metrics.{name}\n    Interval_Sec {METRICS_INTERVAL_SEC}\n{extra}"
        )
        .expect("write to String");
    }
    s
}

fn filters(cluster: &Cluster) -> String {
    format!(
        "[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Keep_Log Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On

[FILTER]
    Name record_modifier
    Match *
    Record environment {env}
    Record cluster {cluster}
    Record node ${{NODE_NAME}}
",
        env = cluster.environment,
        cluster = cluster.name,
    )
}

fn kafka_output(platform: &Platform, matcher: &str, topic: &str) -> String {
    format!(
        "[OUTPUT]
    Name kafka
    Match {matcher}
    Brokers {host}:{port}
    Topics {topic}
    Format json
    Timestamp_Key @timestamp
    Timestamp_Format iso8601_ns
    rdkafka.security.protocol ssl
    rdkafka.ssl.ca.location {CA_DIR}/ca.crt
    rdkafka.ssl.certificate.location {CLIENT_DIR}/user.crt
    rdkafka.ssl.key.location {CLIENT_DIR}/user.key
    rdkafka.request.required.acks all
    rdkafka.compression.codec lz4
    rdkafka.log.connection.close false
",
        host = platform.kafka_bootstrap_host(),
        port = Platform::KAFKA_TLS_PORT,
    )
}

pub fn fluent_bit(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let env = &cluster.environment;
    let outputs = format!(
        "{}\n{}",
        kafka_output(
            platform,
            "kube.*",
            &platform.kafka_topic(env, TopicKind::Logs)
        ),
        kafka_output(
            platform,
            "metrics.*",
            &platform.kafka_topic(env, TopicKind::Metrics)
        ),
    );
    ReleaseDef {
        name: RELEASE,
        chart: "fluent-bit",
        namespace: LOGGING_NAMESPACE,
        // Its ServiceMonitor needs the Prometheus operator's CRDs.
        needs: vec![LOAD_BALANCER_CONTROLLER, crate::monitoring::RELEASE],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            "kind": "DaemonSet",
            "testFramework": { "enabled": false },
            "serviceMonitor": { "enabled": true },
            // Every node ships its logs, tainted ones included.
            "tolerations": [{ "operator": "Exists" }],
            "env": [{
                "name": "NODE_NAME",
                "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } },
            }],
            "config": {
                "inputs": inputs(),
                "filters": filters(cluster),
                "outputs": outputs,
            },
            "extraVolumes": [
                { "name": "kafka-client", "secret": { "secretName": KAFKA_CLIENT_SECRET } },
                { "name": "kafka-cluster-ca", "secret": { "secretName": KAFKA_CLUSTER_CA_SECRET } },
            ],
            "extraVolumeMounts": [
                { "name": "kafka-client", "mountPath": CLIENT_DIR, "readOnly": true },
                { "name": "kafka-cluster-ca", "mountPath": CA_DIR, "readOnly": true },
            ],
        }),
    }
}
