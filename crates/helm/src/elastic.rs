//! The Elastic side of the controlplane: the ECK operator, an `Elasticsearch` with node sets
//! sized by the capacity plan, `Kibana`, a `Logstash` that reads every environment's Kafka
//! topics into per-environment data streams, and the index templates and lifecycle policies
//! (rollover, delete after the retention) installed by a Job through the Elasticsearch API.

use std::collections::BTreeMap;

use flotilla_model::capacity::CapacityPlan;
use flotilla_model::{Cluster, Platform, TopicKind};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource, PodSpec, PodTemplateSpec,
    SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::apps::STORAGE_CLASS;
use crate::aws::LOAD_BALANCER_CONTROLLER;
use crate::kafka::{INTERNAL_LISTENER_PORT, LOGSTASH_GROUP, cpu, gib, topics};
use crate::meta::{Meta, Resource, data_placement, meta};
use crate::names::{
    ECK_NAMESPACE, ELASTICSEARCH, KAFKA_CLUSTER, KAFKA_NAMESPACE, KIBANA, LOGSTASH,
    LOGSTASH_KAFKA_USER, OBSERVABILITY_NAMESPACE, data_stream, data_stream_type,
    kafka_cluster_ca_secret,
};
use crate::{ReleaseDef, SecretName, yaml};

pub const RELEASE: &str = "eck-operator";
/// The manifest with the `Elasticsearch`, `Kibana`, `Logstash` and the index setup.
pub const MANIFEST: &str = "elastic";
/// The Elasticsearch exporter (prometheus-community chart): the source of every
/// `elasticsearch_*` metric the alerts and dashboards read.
pub const EXPORTER_RELEASE: &str = "prometheus-elasticsearch-exporter";
/// Where the exporter mounts ECK's HTTP CA (`ca.crt`).
const EXPORTER_CA_DIR: &str = "/es-ca";
/// `clusterName` of Logstash's Elasticsearch reference: ECK exposes its address and
/// credentials to the pipelines as `ES_ES_HOSTS`, `ES_ES_USER`, ... (upper-cased prefix).
const LOGSTASH_ES_REF: &str = "es";

/// The HTTPS Service ECK creates for the Elasticsearch cluster.
pub fn elasticsearch_url() -> String {
    format!("https://{ELASTICSEARCH}-es-http.{OBSERVABILITY_NAMESPACE}.svc:9200")
}
/// ECK's Secret with the `elastic` superuser's password (key `elastic`).
pub fn elastic_user_secret() -> String {
    format!("{ELASTICSEARCH}-es-elastic-user")
}
/// ECK's Secret with the CA of the HTTP certificate (key `ca.crt`).
pub fn http_ca_secret() -> String {
    format!("{ELASTICSEARCH}-es-http-certs-public")
}

/// The Secrets ECK writes once the `Elasticsearch` of [`MANIFEST`] exists, which Grafana and the
/// exporter read: their releases wait for them (`helm --wait` would time out without).
pub fn eck_secrets() -> Vec<SecretName> {
    [elastic_user_secret(), http_ca_secret()]
        .into_iter()
        .map(|name| SecretName::new(OBSERVABILITY_NAMESPACE, name))
        .collect()
}

pub fn eck_operator(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let _ = (platform, cluster);
    ReleaseDef {
        name: RELEASE,
        chart: "eck-operator",
        namespace: ECK_NAMESPACE,
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            // Only the namespaces that hold Elastic resources.
            "managedNamespaces": [KAFKA_NAMESPACE, OBSERVABILITY_NAMESPACE],
            "replicaCount": 1,
            "telemetry": { "disabled": true },
            // elastic-system enforces `restricted`, which requires a seccomp profile: the chart's
            // defaults (runAsNonRoot; no privilege escalation, no capabilities, read-only root)
            // set none, and the StatefulSet's pods would be refused (Helm merges this map into
            // the defaults).
            "podSecurityContext": {
                "runAsNonRoot": true,
                "seccompProfile": { "type": "RuntimeDefault" },
            },
            // One replica: a PodDisruptionBudget could only forbid every eviction and block
            // node drains (the chart's minAvailable 1); the operator is stateless and comes
            // back on another node.
            "podDisruptionBudget": { "enabled": false },
        }),
    }
}

/// prometheus-elasticsearch-exporter next to the Elasticsearch it reads (in
/// [`OBSERVABILITY_NAMESPACE`], where ECK writes the credentials and CA Secrets), with a
/// ServiceMonitor the controlplane Prometheus selects (it selects every ServiceMonitor).
///
/// The exporter logs in as `elastic` from ECK's Secret (the password never appears in values)
/// and verifies the HTTPS certificate against ECK's CA. Only node-level and cluster health stats
/// are collected (`es.all`): the alert and the dashboards need nothing per index or shard, and
/// per-index series of every rolled-over backing index would grow without bound.
pub fn elasticsearch_exporter() -> ReleaseDef {
    ReleaseDef {
        name: EXPORTER_RELEASE,
        chart: "prometheus-elasticsearch-exporter",
        namespace: OBSERVABILITY_NAMESPACE,
        // The ServiceMonitor CRD comes with kube-prometheus-stack.
        needs: vec![crate::monitoring::RELEASE],
        needs_manifests: vec![MANIFEST],
        needs_secrets: eck_secrets(),
        holds_load_balancer_protection: false,
        values: json!({
            "replicaCount": 1,
            "es": {
                "uri": elasticsearch_url(),
                "all": true,
                "indices": false,
                "indices_settings": false,
                "indices_mappings": false,
                "shards": false,
                "snapshots": false,
                "timeout": "20s",
                "ssl": {
                    "enabled": true,
                    // The CA comes from `secretMounts`, not from a Secret the chart makes.
                    "useExistingSecrets": true,
                    "ca": { "path": format!("{EXPORTER_CA_DIR}/ca.crt") },
                    "client": { "enabled": false },
                },
            },
            "env": { "ES_USERNAME": "elastic" },
            "extraEnvSecrets": {
                "ES_PASSWORD": { "secret": elastic_user_secret(), "key": "elastic" },
            },
            "secretMounts": [{
                "name": "elasticsearch-ca",
                "secretName": http_ca_secret(),
                "path": EXPORTER_CA_DIR,
            }],
            "resources": {
                "requests": { "cpu": "100m", "memory": "64Mi" },
                "limits": { "memory": "128Mi" },
            },
            "serviceMonitor": {
                "enabled": true,
                // Every scrape queries the cluster's node stats: not more often than this.
                "interval": "30s",
                "scrapeTimeout": "25s",
            },
        }),
    }
}

fn placement_pod_spec(cluster: &Cluster, container: Value) -> Value {
    let placement = data_placement(cluster);
    let mut spec = json!({ "containers": [container] });
    if !placement.node_selector.is_empty() {
        spec["nodeSelector"] = json!(placement.node_selector);
    }
    if !placement.tolerations.is_empty() {
        spec["tolerations"] = Value::Array(placement.tolerations);
    }
    json!({ "spec": spec })
}

fn es_container(memory_gib: u32, heap_gib: u32, cores: f64) -> Value {
    json!({
        "name": "elasticsearch",
        "env": [{ "name": "ES_JAVA_OPTS", "value": format!("-Xms{heap_gib}g -Xmx{heap_gib}g") }],
        "resources": {
            "requests": { "memory": gib(memory_gib), "cpu": cpu(cores) },
            "limits": { "memory": gib(memory_gib) },
        },
    })
}

fn volume_claim(size_gib: u32) -> Value {
    json!([{
        "metadata": { "name": "elasticsearch-data" },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": STORAGE_CLASS,
            "resources": { "requests": { "storage": gib(size_gib) } },
        },
    }])
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ElasticsearchSpec {
    version: String,
    node_sets: Vec<NodeSet>,
    volume_claim_delete_policy: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeSet {
    name: &'static str,
    count: u32,
    /// ECK spreads the node set over the zones (topology spread, `DoNotSchedule`) and sets
    /// Elasticsearch's shard allocation awareness on the zone (`node.attr.zone`), so the copies
    /// of a shard and the masters never share one zone. On every node set: ECK requires the
    /// zone label of all of them once one has it.
    zone_awareness: Value,
    config: BTreeMap<&'static str, Value>,
    pod_template: Value,
    volume_claim_templates: Value,
}

fn elasticsearch(platform: &Platform, cluster: &Cluster, plan: &CapacityPlan) -> Value {
    let es = &plan.elasticsearch;
    let mut node_sets = Vec::new();
    let mut data_roles = vec!["data", "ingest"];
    if es.master_nodes > 0 {
        node_sets.push(NodeSet {
            name: "masters",
            count: es.master_nodes,
            zone_awareness: json!({}),
            config: BTreeMap::from([
                ("node.roles", json!(["master"])),
                // No privileged init container for vm.max_map_count (PSA baseline).
                ("node.store.allow_mmap", json!(false)),
            ]),
            pod_template: placement_pod_spec(
                cluster,
                es_container(es.master_memory_gib, es.master_heap_gib, es.master_cpu),
            ),
            volume_claim_templates: volume_claim(es.master_disk_gib),
        });
    } else {
        data_roles.insert(0, "master");
    }
    node_sets.push(NodeSet {
        name: "data",
        count: es.data_nodes,
        zone_awareness: json!({}),
        config: BTreeMap::from([
            ("node.roles", json!(data_roles)),
            ("node.store.allow_mmap", json!(false)),
        ]),
        pod_template: placement_pod_spec(cluster, es_container(es.memory_gib, es.heap_gib, es.cpu)),
        volume_claim_templates: volume_claim(es.disk_gib_per_node),
    });
    yaml::value(&Resource {
        api_version: "elasticsearch.k8s.elastic.co/v1",
        kind: "Elasticsearch",
        metadata: Meta::new(platform, cluster, ELASTICSEARCH, OBSERVABILITY_NAMESPACE),
        spec: ElasticsearchSpec {
            version: platform.versions.stack.elastic.clone(),
            node_sets,
            // A protected cluster keeps the data volumes when the Elasticsearch goes.
            volume_claim_delete_policy: if cluster.protected {
                "DeleteOnScaledownOnly"
            } else {
                "DeleteOnScaledownAndClusterDeletion"
            },
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KibanaSpec {
    version: String,
    count: u32,
    elasticsearch_ref: Value,
}

fn kibana(platform: &Platform, cluster: &Cluster) -> Value {
    yaml::value(&Resource {
        api_version: "kibana.k8s.elastic.co/v1",
        kind: "Kibana",
        metadata: Meta::new(platform, cluster, KIBANA, OBSERVABILITY_NAMESPACE),
        spec: KibanaSpec {
            version: platform.versions.stack.elastic.clone(),
            count: if cluster.protected { 2 } else { 1 },
            elasticsearch_ref: json!({ "name": ELASTICSEARCH }),
        },
    })
}

/// Where Fluent Bit puts an application's JSON log fields (its `Merge_Log_Key`).
pub const MERGED_LOG_KEY: &str = "app";

const KAFKA_USER_DIR: &str = "/usr/share/logstash/kafka/user";
const KAFKA_CA_DIR: &str = "/usr/share/logstash/kafka/ca";

/// The Logstash pipeline: every environment's topics in, one data stream per topic out.
pub fn logstash_pipeline(platform: &Platform, plan: &CapacityPlan) -> String {
    let topics = topics(platform);
    let names: Vec<String> = topics.iter().map(|(_, _, t)| format!("\"{t}\"")).collect();
    let partitions: u32 = topics
        .iter()
        .map(|(_, _, t)| plan.kafka.partitions_per_topic.get(t).copied().unwrap_or(1))
        .sum();
    // Enough consumer threads across the replicas for every partition, no more.
    let threads = partitions.div_ceil(plan.logstash.replicas.max(1)).max(1);
    let mut routing = String::new();
    for (i, (env, kind, topic)) in topics.iter().enumerate() {
        let keyword = if i == 0 { "if" } else { "} else if" };
        routing.push_str(&format!(
            "  {keyword} [@metadata][kafka][topic] == \"{topic}\" {{
    mutate {{
      add_field => {{
        \"[data_stream][type]\" => \"{ty}\"
        \"[data_stream][dataset]\" => \"flotilla\"
        \"[data_stream][namespace]\" => \"{env}\"
      }}
    }}
",
            ty = data_stream_type(*kind),
        ));
        debug_assert_eq!(
            data_stream(*kind, env),
            format!("{}-flotilla-{env}", data_stream_type(*kind))
        );
    }
    routing.push_str("  }\n");
    format!(
        "input {{
  kafka {{
    bootstrap_servers => \"{KAFKA_CLUSTER}-kafka-bootstrap.{KAFKA_NAMESPACE}.svc:{INTERNAL_LISTENER_PORT}\"
    topics => [{topics}]
    group_id => \"{LOGSTASH_GROUP}\"
    consumer_threads => {threads}
    decorate_events => \"basic\"
    codec => json
    security_protocol => \"SSL\"
    ssl_truststore_type => \"PKCS12\"
    ssl_truststore_location => \"{KAFKA_CA_DIR}/ca.p12\"
    ssl_truststore_password => \"${{KAFKA_TRUSTSTORE_PASSWORD}}\"
    ssl_keystore_type => \"PKCS12\"
    ssl_keystore_location => \"{KAFKA_USER_DIR}/user.p12\"
    ssl_keystore_password => \"${{KAFKA_KEYSTORE_PASSWORD}}\"
  }}
}}
filter {{
{routing}}}
output {{
  elasticsearch {{
    hosts => [\"${{ES_ES_HOSTS}}\"]
    user => \"${{ES_ES_USER}}\"
    password => \"${{ES_ES_PASSWORD}}\"
    ssl_certificate_authorities => \"${{ES_ES_SSL_CERTIFICATE_AUTHORITY}}\"
    data_stream => true
  }}
}}
",
        topics = names.join(", "),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogstashSpec {
    version: String,
    count: u32,
    elasticsearch_refs: Vec<Value>,
    pipelines: Vec<Value>,
    pod_template: Value,
}

fn logstash(platform: &Platform, cluster: &Cluster, plan: &CapacityPlan) -> Value {
    let ls = &plan.logstash;
    let container = json!({
        "name": "logstash",
        "env": [
            { "name": "LS_JAVA_OPTS", "value": format!("-Xms{h}g -Xmx{h}g", h = ls.heap_gib) },
            // Passwords of the PKCS12 stores Strimzi writes; read from its Secrets, never inline.
            {
                "name": "KAFKA_KEYSTORE_PASSWORD",
                "valueFrom": { "secretKeyRef": { "name": LOGSTASH_KAFKA_USER, "key": "user.password" } },
            },
            {
                "name": "KAFKA_TRUSTSTORE_PASSWORD",
                "valueFrom": { "secretKeyRef": { "name": kafka_cluster_ca_secret(), "key": "ca.password" } },
            },
        ],
        "resources": {
            "requests": { "memory": gib(ls.memory_gib), "cpu": cpu(ls.cpu) },
            "limits": { "memory": gib(ls.memory_gib) },
        },
        "volumeMounts": [
            { "name": "kafka-user", "mountPath": KAFKA_USER_DIR, "readOnly": true },
            { "name": "kafka-ca", "mountPath": KAFKA_CA_DIR, "readOnly": true },
        ],
    });
    let mut pod = placement_pod_spec(cluster, container);
    pod["spec"]["volumes"] = json!([
        { "name": "kafka-user", "secret": { "secretName": LOGSTASH_KAFKA_USER } },
        { "name": "kafka-ca", "secret": { "secretName": kafka_cluster_ca_secret() } },
    ]);
    yaml::value(&Resource {
        api_version: "logstash.k8s.elastic.co/v1alpha1",
        kind: "Logstash",
        metadata: Meta::new(platform, cluster, LOGSTASH, KAFKA_NAMESPACE),
        spec: LogstashSpec {
            version: platform.versions.stack.elastic.clone(),
            count: ls.replicas,
            elasticsearch_refs: vec![json!({
                "name": ELASTICSEARCH,
                "namespace": OBSERVABILITY_NAMESPACE,
                "clusterName": LOGSTASH_ES_REF,
            })],
            pipelines: vec![json!({
                "pipeline.id": "kafka-to-elasticsearch",
                "pipeline.workers": ls.pipeline_workers,
                "config.string": logstash_pipeline(platform, plan),
            })],
            pod_template: pod,
        },
    })
}

/// ILM policy of one kind of data: roll over at the plan's shard size (or daily), delete after
/// the retention.
pub fn lifecycle_policy(plan: &CapacityPlan) -> Value {
    let es = &plan.elasticsearch;
    json!({
        "policy": {
            "phases": {
                "hot": {
                    "actions": {
                        "rollover": {
                            "max_primary_shard_size": format!("{}gb", es.rollover_max_primary_shard_size_gb),
                            "max_age": "1d",
                        },
                    },
                },
                "delete": {
                    "min_age": format!("{}d", es.retention_days),
                    "actions": { "delete": {} },
                },
            },
        },
    })
}

fn policy_name(kind: TopicKind) -> String {
    format!("flotilla-{}", data_stream_type(kind))
}

/// Index template of one environment's data stream of one kind.
pub fn index_template(plan: &CapacityPlan, env: &str, kind: TopicKind) -> Value {
    let ty = data_stream_type(kind);
    let shards = plan
        .environments
        .get(env)
        .map(|e| e.primary_shards_per_index)
        .unwrap_or(plan.elasticsearch.primary_shards_per_index);
    let components = [
        format!("{ty}@mappings"),
        format!("{ty}@settings"),
        "ecs@mappings".to_string(),
    ];
    let mut template = json!({
        "settings": {
            "index.lifecycle.name": policy_name(kind),
            "index.number_of_shards": shards,
            "index.number_of_replicas": plan.elasticsearch.replicas,
        },
    });
    if kind == TopicKind::Logs {
        // Kubernetes label and annotation keys are dotted (`app` and `app.kubernetes.io/name`
        // on two pods): mapped as objects they conflict, and the second event is refused
        // (on Elasticsearch 9.x it lands in the data stream's failure store). As `flattened`
        // fields every key is a value. The applications' own JSON is under `app`
        // (Fluent Bit's Merge_Log_Key), kept apart from the record's fields.
        template["mappings"] = json!({
            "properties": {
                "kubernetes": {
                    "properties": {
                        "labels": { "type": "flattened" },
                        "annotations": { "type": "flattened" },
                    },
                },
                MERGED_LOG_KEY: { "type": "flattened" },
            },
        });
    }
    json!({
        "index_patterns": [data_stream(kind, env)],
        "data_stream": {},
        // Above the built-in `logs` / `metrics` templates (priority 100).
        "priority": 200,
        "composed_of": components,
        "ignore_missing_component_templates": components,
        "template": template,
        "_meta": { "managed_by": "flotilla" },
    })
}

/// FNV-1a: a stable short digest of the setup data, so a changed setup is a new Job (a Job's
/// template cannot be changed in place).
fn digest(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
}

/// Installs the lifecycle policies and index templates. Logstash may have written before this
/// Job ran, creating a data stream from the built-in templates (its first backing index then has
/// the built-in lifecycle, which never deletes): for every data stream that exists, the policy is
/// set on its indices and it rolls over, so the write index takes the template. Idempotent.
const SETUP_SCRIPT: &str = r#"set -eu
es="$ES_URL"
auth="elastic:$ELASTIC_PASSWORD"
call() { curl --fail --silent --show-error --cacert /es-ca/ca.crt -u "$auth" "$@"; }
for f in /setup/ilm-*.json; do
  name=$(basename "$f" .json); name=${name#ilm-}
  call -X PUT -H 'Content-Type: application/json' --data-binary "@$f" "$es/_ilm/policy/$name"
done
for f in /setup/template-*.json; do
  name=$(basename "$f" .json); name=${name#template-}
  call -X PUT -H 'Content-Type: application/json' --data-binary "@$f" "$es/_index_template/$name"
  policy="flotilla-${name%%-*}"
  code=$(curl --silent --output /dev/null --write-out '%{http_code}' --cacert /es-ca/ca.crt -u "$auth" "$es/_data_stream/$name")
  if [ "$code" = 200 ]; then
    call -X PUT -H 'Content-Type: application/json' \
      --data "{\"index.lifecycle.name\": \"$policy\"}" "$es/$name/_settings"
    call -X POST "$es/$name/_rollover"
  fi
done
"#;

/// The ConfigMap with the lifecycle policies and index templates, and the Job that installs
/// them (retrying until Elasticsearch answers).
fn setup(platform: &Platform, cluster: &Cluster, plan: &CapacityPlan) -> Vec<Value> {
    let mut data = BTreeMap::new();
    for kind in [TopicKind::Logs, TopicKind::Metrics] {
        data.insert(
            format!("ilm-{}.json", policy_name(kind)),
            serde_json::to_string_pretty(&lifecycle_policy(plan)).expect("json"),
        );
        for env in platform.environments() {
            data.insert(
                format!("template-{}.json", data_stream(kind, env)),
                serde_json::to_string_pretty(&index_template(plan, env, kind)).expect("json"),
            );
        }
    }
    data.insert("setup.sh".into(), SETUP_SCRIPT.into());
    let all: String = data.iter().map(|(k, v)| format!("{k}\n{v}\n")).collect();
    let name = format!("flotilla-es-setup-{}", digest(&all));

    let config_map = ConfigMap {
        metadata: meta(platform, cluster, &name, Some(OBSERVABILITY_NAMESPACE)),
        data: Some(data),
        ..ConfigMap::default()
    };
    let container = Container {
        name: "setup".into(),
        // The Elasticsearch image has curl; its version is the stack's, from versions.toml.
        image: Some(format!(
            "docker.elastic.co/elasticsearch/elasticsearch:{}",
            platform.versions.stack.elastic
        )),
        command: Some(vec!["/bin/bash".into(), "/setup/setup.sh".into()]),
        env: Some(vec![
            EnvVar {
                name: "ES_URL".into(),
                value: Some(elasticsearch_url()),
                ..EnvVar::default()
            },
            EnvVar {
                name: "ELASTIC_PASSWORD".into(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: elastic_user_secret(),
                        key: "elastic".into(),
                        ..SecretKeySelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
        ]),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "setup".into(),
                mount_path: "/setup".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "es-ca".into(),
                mount_path: "/es-ca".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            run_as_non_root: Some(true),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let job = Job {
        metadata: meta(platform, cluster, &name, Some(OBSERVABILITY_NAMESPACE)),
        spec: Some(JobSpec {
            // Elasticsearch may still be starting: retry with the Job's back-off.
            backoff_limit: Some(12),
            ttl_seconds_after_finished: Some(86_400),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![container],
                    volumes: Some(vec![
                        Volume {
                            name: "setup".into(),
                            config_map: Some(ConfigMapVolumeSource {
                                name: name.clone(),
                                ..ConfigMapVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                        Volume {
                            name: "es-ca".into(),
                            secret: Some(SecretVolumeSource {
                                secret_name: Some(http_ca_secret()),
                                ..SecretVolumeSource::default()
                            }),
                            ..Volume::default()
                        },
                    ]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    vec![yaml::value(&config_map), yaml::value(&job)]
}

/// `Elasticsearch`, `Kibana`, `Logstash` and the index setup.
pub fn objects(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let plan = platform.capacity_plan();
    let mut out = vec![
        elasticsearch(platform, cluster, &plan),
        kibana(platform, cluster),
        logstash(platform, cluster, &plan),
    ];
    out.extend(setup(platform, cluster, &plan));
    out
}
