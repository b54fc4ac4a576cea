//! Kafka on the controlplane: the Strimzi operator, a `Kafka` in KRaft mode with a broker and a
//! controller `KafkaNodePool` sized by the capacity plan, a `KafkaTopic` per environment and
//! kind, a `KafkaUser` per workload cluster (writes only its environment's topics) and one for
//! Logstash (reads them all).
//!
//! Workload clusters reach Kafka over the VPC peerings on the `vpc` listener: TLS with client
//! certificates, on internal NLBs whose private DNS names are the model's
//! ([`Platform::kafka_bootstrap_host`], [`Platform::kafka_broker_host`]). Broker node ids are
//! pinned to `0..brokers` so that broker `n` is always `kafka-<n>.<internal domain>`.

use std::collections::BTreeMap;

use flotilla_model::capacity::CapacityPlan;
use flotilla_model::{Cluster, Platform, TopicKind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apps::STORAGE_CLASS;
use crate::aws::{LOAD_BALANCER_CONTROLLER, internal_nlb_annotations, workload_cidrs};
use crate::meta::{Meta, Resource, data_placement};
use crate::names::{KAFKA_CLUSTER, KAFKA_NAMESPACE, LOGSTASH_KAFKA_USER, kafka_user};
use crate::{ReleaseDef, yaml};

pub const RELEASE: &str = "strimzi-kafka-operator";
const API: &str = "kafka.strimzi.io/v1";
/// In-cluster TLS listener (Logstash).
pub const INTERNAL_LISTENER_PORT: u16 = 9092;
/// First node id of the controller pool; brokers take `0..brokers`.
const CONTROLLER_ID_BASE: u32 = 100;
/// The consumer group Logstash reads with.
pub const LOGSTASH_GROUP: &str = "logstash";

pub fn strimzi_operator(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let _ = platform;
    ReleaseDef {
        name: RELEASE,
        chart: "strimzi-kafka-operator",
        namespace: KAFKA_NAMESPACE,
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            // Watches its own namespace, where the Kafka resources are.
            "watchAnyNamespace": false,
            "replicas": if cluster.protected { 2 } else { 1 },
            "podDisruptionBudget": { "enabled": cluster.protected },
        }),
    }
}

pub fn cpu(cores: f64) -> String {
    format!("{}m", (cores * 1000.0).round() as u64)
}

pub fn gib(n: u32) -> String {
    format!("{n}Gi")
}

/// Every environment's topics with their kind.
pub fn topics(platform: &Platform) -> Vec<(String, TopicKind, String)> {
    let mut out = Vec::new();
    for env in platform.environments() {
        for kind in [TopicKind::Logs, TopicKind::Metrics] {
            out.push((env.to_string(), kind, platform.kafka_topic(env, kind)));
        }
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KafkaSpec {
    kafka: KafkaBrokers,
    /// Validity and renewal of the cluster CA (brokers' certificates) and the clients CA
    /// (KafkaUsers' certificates): see [`CA_VALIDITY_DAYS`].
    cluster_ca: Value,
    clients_ca: Value,
    entity_operator: Value,
    kafka_exporter: Value,
}

/// How long Strimzi's CA certificates, and the broker and user certificates they sign, are
/// valid (days). The workload clusters hold copies of the cluster CA certificate and of their
/// KafkaUser's certificate, made by each deploy; Strimzi renews a certificate
/// [`CA_RENEWAL_DAYS`] before it expires, keeping its key (`renew-certificate`), so a copy
/// stays valid (and a renewed broker certificate still verifies against a copied CA, whose key
/// signed it) for at least [`CA_RENEWAL_DAYS`] after the deploy that made it, whatever Strimzi
/// renews meanwhile. docs/kubernetes.md, "Kafka credentials".
pub const CA_VALIDITY_DAYS: u32 = 3650;
/// See [`CA_VALIDITY_DAYS`]: five years in which no deploy is needed.
pub const CA_RENEWAL_DAYS: u32 = 1825;

fn ca_settings() -> Value {
    json!({
        "generateCertificateAuthority": true,
        "validityDays": CA_VALIDITY_DAYS,
        "renewalDays": CA_RENEWAL_DAYS,
        "certificateExpirationPolicy": "renew-certificate",
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KafkaBrokers {
    listeners: Vec<Listener>,
    config: BTreeMap<String, Value>,
    authorization: Value,
    rack: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listener {
    name: &'static str,
    port: u16,
    #[serde(rename = "type")]
    type_: &'static str,
    tls: bool,
    authentication: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodePoolSpec {
    replicas: u32,
    roles: Vec<&'static str>,
    storage: Value,
    resources: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    jvm_options: Option<Value>,
    template: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicSpec {
    topic_name: String,
    partitions: u32,
    replicas: u32,
    config: BTreeMap<String, Value>,
}

#[derive(Serialize)]
struct UserSpec {
    authentication: Value,
    authorization: UserAuthorization,
}

#[derive(Serialize)]
struct UserAuthorization {
    #[serde(rename = "type")]
    type_: &'static str,
    acls: Vec<Acl>,
}

#[derive(Serialize)]
struct Acl {
    resource: Value,
    operations: Vec<&'static str>,
}

fn kafka(platform: &Platform, cluster: &Cluster, plan: &CapacityPlan) -> Value {
    let k = &plan.kafka;
    let brokers: Vec<Value> = (0..k.brokers)
        .map(|id| {
            let host = platform.kafka_broker_host(id);
            json!({
                "broker": id,
                "advertisedHost": host,
                "annotations": internal_nlb_annotations(&host),
            })
        })
        .collect();
    let bootstrap = platform.kafka_bootstrap_host();
    let mut sources = workload_cidrs(platform);
    sources.push(cluster.vpc_cidr.to_string());
    sources.sort();

    let config: BTreeMap<String, Value> = [
        ("auto.create.topics.enable", json!(false)),
        ("default.replication.factor", json!(k.replication)),
        ("min.insync.replicas", json!(k.min_insync_replicas)),
        ("offsets.topic.replication.factor", json!(k.replication)),
        (
            "transaction.state.log.replication.factor",
            json!(k.replication),
        ),
        (
            "transaction.state.log.min.isr",
            json!(k.min_insync_replicas),
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect();

    yaml::value(&Resource {
        api_version: API,
        kind: "Kafka",
        metadata: Meta::new(platform, cluster, KAFKA_CLUSTER, KAFKA_NAMESPACE),
        spec: KafkaSpec {
            kafka: KafkaBrokers {
                listeners: vec![
                    Listener {
                        name: "internal",
                        port: INTERNAL_LISTENER_PORT,
                        type_: "internal",
                        tls: true,
                        authentication: json!({ "type": "tls" }),
                        configuration: None,
                    },
                    Listener {
                        name: "vpc",
                        port: Platform::KAFKA_TLS_PORT,
                        type_: "loadbalancer",
                        tls: true,
                        authentication: json!({ "type": "tls" }),
                        configuration: Some(json!({
                            "loadBalancerSourceRanges": sources,
                            "bootstrap": {
                                "alternativeNames": [bootstrap],
                                "annotations": internal_nlb_annotations(&bootstrap),
                            },
                            "brokers": brokers,
                        })),
                    },
                ],
                config,
                authorization: json!({ "type": "simple" }),
                // Replicas of a partition land in different zones.
                rack: json!({ "topologyKey": "topology.kubernetes.io/zone" }),
            },
            cluster_ca: ca_settings(),
            clients_ca: ca_settings(),
            entity_operator: json!({ "topicOperator": {}, "userOperator": {} }),
            // Consumer lag and offsets for Prometheus (KafkaConsumerLag alert, dashboards).
            kafka_exporter: json!({ "topicRegex": ".*", "groupRegex": ".*" }),
        },
    })
}

fn pod_template(cluster: &Cluster) -> Value {
    let placement = data_placement(cluster);
    let mut pod = json!({});
    if !placement.node_selector.is_empty() {
        pod["affinity"] = json!({
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{
                        "matchExpressions": placement.node_selector.iter().map(|(k, v)| json!({
                            "key": k, "operator": "In", "values": [v],
                        })).collect::<Vec<_>>(),
                    }],
                },
            },
        });
    }
    if !placement.tolerations.is_empty() {
        pod["tolerations"] = Value::Array(placement.tolerations);
    }
    json!({ "pod": pod })
}

fn node_pool(
    platform: &Platform,
    cluster: &Cluster,
    name: &str,
    first_id: u32,
    spec: NodePoolSpec,
) -> Value {
    let last = first_id + spec.replicas.max(1) - 1;
    yaml::value(&Resource {
        api_version: API,
        kind: "KafkaNodePool",
        metadata: Meta::new(platform, cluster, name, KAFKA_NAMESPACE)
            .label("strimzi.io/cluster", KAFKA_CLUSTER)
            .annotation("strimzi.io/next-node-ids", format!("[{first_id}-{last}]")),
        spec,
    })
}

fn storage(size_gib: u32, cluster: &Cluster) -> Value {
    json!({
        "type": "persistent-claim",
        "size": gib(size_gib),
        "class": STORAGE_CLASS,
        // A protected cluster keeps the volumes when the Kafka goes.
        "deleteClaim": !cluster.protected,
    })
}

fn resources(memory_gib: u32, cores: f64) -> Value {
    json!({
        "requests": { "memory": gib(memory_gib), "cpu": cpu(cores) },
        "limits": { "memory": gib(memory_gib) },
    })
}

/// Where the sizes of the Kafka objects come from: a comment before the broker pool and each
/// topic naming the capacity plan's figure and the term that decided it, so that a reader of
/// `30-kafka.yaml` finds the reason in one hop. Nothing for other objects.
pub fn provenance(platform: &Platform, object: &Value) -> Vec<String> {
    let (Some(kind), Some(name)) = (object["kind"].as_str(), object["metadata"]["name"].as_str())
    else {
        return vec![];
    };
    let from_plan = |key: &str, what: &str| {
        let plan = platform.capacity_plan();
        let why = plan.decided_by.get(key).cloned().unwrap_or_default();
        vec![
            format!("{what}: the capacity plan's {key}, decided by {why}."),
            format!(
                "`cargo xtask plan {}` prints the plan and its terms (docs/capacity.md).",
                platform.controlplane().environment
            ),
        ]
    };
    match kind {
        "KafkaNodePool" if name == "brokers" => from_plan("kafka.brokers", "replicas"),
        "KafkaTopic" => {
            let env = platform.workload_clusters().find(|c| {
                [TopicKind::Logs, TopicKind::Metrics].iter().any(|k| {
                    object["spec"]["topicName"] == platform.kafka_topic(&c.environment, *k).as_str()
                })
            });
            match env {
                Some(c) => from_plan(
                    &format!("environments.{}.partitions_per_topic", c.environment),
                    "partitions",
                ),
                None => vec![],
            }
        }
        _ => vec![],
    }
}

/// `Kafka`, its node pools, topics and users.
pub fn objects(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let plan = platform.capacity_plan();
    let k = &plan.kafka;
    let mut out = vec![kafka(platform, cluster, &plan)];
    out.push(node_pool(
        platform,
        cluster,
        "brokers",
        0,
        NodePoolSpec {
            replicas: k.brokers,
            roles: vec!["broker"],
            storage: storage(k.broker_disk_gib, cluster),
            resources: resources(k.broker_memory_gib, k.broker_cpu),
            jvm_options: Some(json!({
                "-Xms": format!("{}g", k.broker_heap_gib),
                "-Xmx": format!("{}g", k.broker_heap_gib),
            })),
            template: pod_template(cluster),
        },
    ));
    out.push(node_pool(
        platform,
        cluster,
        "controllers",
        CONTROLLER_ID_BASE,
        NodePoolSpec {
            replicas: k.controllers,
            roles: vec!["controller"],
            storage: storage(k.controller_disk_gib, cluster),
            resources: resources(k.controller_memory_gib, k.controller_cpu),
            jvm_options: None,
            template: pod_template(cluster),
        },
    ));

    let retention_ms = u64::from(k.retention_hours) * 3_600_000;
    for (env, kind, topic) in topics(platform) {
        let partitions = k
            .partitions_per_topic
            .get(&topic)
            .copied()
            .unwrap_or_else(|| panic!("the capacity plan sizes every topic, not {topic}"));
        out.push(yaml::value(&Resource {
            api_version: API,
            kind: "KafkaTopic",
            metadata: Meta::new(platform, cluster, topic.replace('.', "-"), KAFKA_NAMESPACE)
                .label("strimzi.io/cluster", KAFKA_CLUSTER)
                .label("flotilla.io/topic-environment", env)
                .label(
                    "flotilla.io/topic-kind",
                    crate::names::data_stream_type(kind),
                ),
            spec: TopicSpec {
                topic_name: topic,
                partitions,
                replicas: k.replication,
                config: [
                    ("retention.ms", json!(retention_ms)),
                    ("min.insync.replicas", json!(k.min_insync_replicas)),
                    ("cleanup.policy", json!("delete")),
                ]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b))
                .collect(),
            },
        }));
    }

    let topic_acl = |topic: String, operations: Vec<&'static str>| Acl {
        resource: json!({ "type": "topic", "name": topic, "patternType": "literal" }),
        operations,
    };
    for workload in platform.workload_clusters() {
        let env = &workload.environment;
        out.push(yaml::value(&Resource {
            api_version: API,
            kind: "KafkaUser",
            metadata: Meta::new(platform, cluster, kafka_user(workload), KAFKA_NAMESPACE)
                .label("strimzi.io/cluster", KAFKA_CLUSTER)
                .label("flotilla.io/writer-environment", env.as_str()),
            spec: UserSpec {
                authentication: json!({ "type": "tls" }),
                authorization: UserAuthorization {
                    type_: "simple",
                    acls: [TopicKind::Logs, TopicKind::Metrics]
                        .into_iter()
                        .map(|kind| {
                            topic_acl(platform.kafka_topic(env, kind), vec!["Write", "Describe"])
                        })
                        .collect(),
                },
            },
        }));
    }
    let mut logstash_acls: Vec<Acl> = topics(platform)
        .into_iter()
        .map(|(_, _, t)| topic_acl(t, vec!["Read", "Describe"]))
        .collect();
    logstash_acls.push(Acl {
        resource: json!({ "type": "group", "name": LOGSTASH_GROUP, "patternType": "literal" }),
        operations: vec!["Read"],
    });
    out.push(yaml::value(&Resource {
        api_version: API,
        kind: "KafkaUser",
        metadata: Meta::new(platform, cluster, LOGSTASH_KAFKA_USER, KAFKA_NAMESPACE)
            .label("strimzi.io/cluster", KAFKA_CLUSTER),
        spec: UserSpec {
            authentication: json!({ "type": "tls" }),
            authorization: UserAuthorization {
                type_: "simple",
                acls: logstash_acls,
            },
        },
    }));
    out
}
