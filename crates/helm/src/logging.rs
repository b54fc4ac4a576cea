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
/// Node metrics are sampled this often (seconds); they are log records (`cpu`, `mem`, `disk`
/// inputs), which is what the Kafka output and Logstash carry, and the controlplane's Grafana
/// reads them from Elasticsearch ("Flotilla / Node metrics"). They read the node's own
/// counters (`/proc/stat`, `sysinfo`, `/proc/diskstats`); the network's (`netif`) are per
/// network namespace, which in a pod is the pod's: node-exporter has the node's.
const METRICS_INTERVAL_SEC: u32 = 30;
/// On the node (under the `/var/log` hostPath the chart mounts read-write): the tail offsets
/// (an SQLite file; its directory must exist, so directly in `/var/log`) and the buffered chunks
/// (a directory Fluent Bit creates) survive a restart of Fluent Bit and outages of Kafka.
const TAIL_DB: &str = "/var/log/flotilla-fluent-bit.db";
const STORAGE_DIR: &str = "/var/log/flotilla-fluent-bit/";

/// The chart's `[SERVICE]` with filesystem buffering: chunks wait on disk while Kafka is away,
/// rather than pausing the inputs (files rotated meanwhile would be lost).
fn service() -> String {
    format!(
        "[SERVICE]
    Daemon Off
    Flush {{{{ .Values.flush }}}}
    Log_Level {{{{ .Values.logLevel }}}}
    Parsers_File /fluent-bit/etc/parsers.conf
    Parsers_File /fluent-bit/etc/conf/custom_parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port {{{{ .Values.metricsPort }}}}
    Health_Check On
    storage.path {STORAGE_DIR}
    storage.sync normal
    storage.backlog.mem_limit 50M
    storage.max_chunks_up 128
"
    )
}

fn inputs() -> String {
    let mut s = format!(
        "[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser docker, cri
    Tag kube.*
    DB {TAIL_DB}
    DB.locking true
    storage.type filesystem
    Skip_Long_Lines On
"
    );
    for name in ["cpu", "mem", "disk"] {
        write!(
            s,
            "\n[INPUT]\n    Name {name}\n    Tag metrics.{name}\n    Interval_Sec {METRICS_INTERVAL_SEC}\n    storage.type filesystem\n"
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
    Merge_Log_Key {merged}
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
        merged = crate::elastic::MERGED_LOG_KEY,
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
    storage.total_limit_size 5G
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
                "service": service(),
                "inputs": inputs(),
                "filters": filters(cluster),
                "outputs": outputs,
            },
            // The Kafka credentials are files of mounted Secrets; when a deploy copies new ones
            // (docs/kubernetes.md, "Kafka credentials"), the kubelet updates the files and the
            // chart's reloader sidecar has Fluent Bit reload its configuration, which reopens
            // the Kafka clients with them (librdkafka reads certificates only at start).
            "hotReload": {
                "enabled": true,
                "extraWatchVolumes": ["kafka-client", "kafka-cluster-ca"],
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
