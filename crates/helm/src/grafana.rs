//! Grafana on the controlplane: a Prometheus datasource per cluster, an Elasticsearch
//! datasource per environment's logs, the Alertmanager, and provisioned dashboards (platform
//! overview, ingest pipeline, alerts).

use flotilla_model::{Platform, Role, TopicKind};
use serde_json::{Value, json};

use crate::ReleaseDef;
use crate::aws::LOAD_BALANCER_CONTROLLER;
use crate::elastic::{elastic_user_secret, elasticsearch_url, http_ca_secret};
use crate::monitoring::PROMETHEUS_SERVICE;
use crate::names::{
    ALERTMANAGER_PORT, MONITORING_NAMESPACE, OBSERVABILITY_NAMESPACE, PROMETHEUS_PORT, data_stream,
    prometheus_host,
};

pub const RELEASE: &str = "grafana";
const ES_CA_DIR: &str = "/etc/grafana/elasticsearch-ca";
/// Dashboards of every cluster pick their Prometheus with this variable.
const DS_VAR: &str = "${datasource}";

fn prometheus_uid(cluster: &str) -> String {
    format!("prometheus-{cluster}")
}

fn datasources(platform: &Platform) -> Vec<Value> {
    let mut out = Vec::new();
    for cluster in &platform.clusters {
        let url = match cluster.role {
            Role::Controlplane => {
                format!("http://{PROMETHEUS_SERVICE}.{MONITORING_NAMESPACE}.svc:{PROMETHEUS_PORT}")
            }
            Role::Workload => format!(
                "http://{}:{PROMETHEUS_PORT}",
                prometheus_host(platform, cluster)
            ),
        };
        out.push(json!({
            "name": format!("Prometheus {}", cluster.name),
            "uid": prometheus_uid(&cluster.name),
            "type": "prometheus",
            "access": "proxy",
            "url": url,
            "isDefault": cluster.role == Role::Controlplane,
            "jsonData": { "timeInterval": "30s" },
        }));
    }
    for env in platform.environments() {
        out.push(json!({
            "name": format!("Logs {env}"),
            "uid": format!("logs-{env}"),
            "type": "elasticsearch",
            "access": "proxy",
            "url": elasticsearch_url(),
            "basicAuth": true,
            "basicAuthUser": "elastic",
            "jsonData": {
                "index": data_stream(TopicKind::Logs, env),
                "timeField": "@timestamp",
                "tlsAuthWithCACert": true,
            },
            // Grafana expands these when it reads the provisioning file: the values stay in
            // their Secrets.
            "secureJsonData": {
                "basicAuthPassword": "${ELASTIC_PASSWORD}",
                "tlsCACert": format!("$__file{{{ES_CA_DIR}/ca.crt}}"),
            },
        }));
    }
    out.push(json!({
        "name": "Alertmanager",
        "uid": "alertmanager",
        "type": "alertmanager",
        "access": "proxy",
        "url": format!(
            "http://kube-prometheus-stack-alertmanager.{MONITORING_NAMESPACE}.svc:{ALERTMANAGER_PORT}"
        ),
        "jsonData": { "implementation": "prometheus", "handleGrafanaManagedAlerts": false },
    }));
    out
}

/// A time-series panel of PromQL targets on the dashboard's datasource.
fn panel(id: u32, title: &str, unit: &str, targets: &[(&str, &str)], x: u32, y: u32) -> Value {
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": { "type": "prometheus", "uid": DS_VAR },
        "gridPos": { "h": 8, "w": 12, "x": x, "y": y },
        "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
        "targets": targets.iter().enumerate().map(|(i, (expr, legend))| json!({
            "refId": ((b'A' + i as u8) as char).to_string(),
            "expr": expr,
            "legendFormat": legend,
            "datasource": { "type": "prometheus", "uid": DS_VAR },
        })).collect::<Vec<_>>(),
    })
}

fn dashboard(uid: &str, title: &str, default_ds: &str, panels: Vec<Value>) -> String {
    let d = json!({
        "uid": uid,
        "title": title,
        "tags": ["flotilla"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "1m",
        "templating": {
            "list": [{
                "name": "datasource",
                "label": "Cluster",
                "type": "datasource",
                "query": "prometheus",
                "current": { "text": format!("Prometheus {default_ds}"), "value": prometheus_uid(default_ds) },
            }],
        },
        "panels": panels,
    });
    serde_json::to_string_pretty(&d).expect("json")
}

fn overview(controlplane: &str) -> String {
    dashboard(
        "flotilla-overview",
        "Flotilla / Platform overview",
        controlplane,
        vec![
            panel(
                1,
                "Node CPU use",
                "percent",
                &[(
                    "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))",
                    "{{instance}}",
                )],
                0,
                0,
            ),
            panel(
                2,
                "Node memory use",
                "percent",
                &[(
                    "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
                    "{{instance}}",
                )],
                12,
                0,
            ),
            panel(
                3,
                "Pods by phase",
                "short",
                &[("sum by (phase) (kube_pod_status_phase)", "{{phase}}")],
                0,
                8,
            ),
            panel(
                4,
                "Pods per namespace",
                "short",
                &[("sum by (namespace) (kube_pod_info)", "{{namespace}}")],
                12,
                8,
            ),
        ],
    )
}

fn ingest(controlplane: &str) -> String {
    dashboard(
        "flotilla-ingest",
        "Flotilla / Ingest pipeline",
        controlplane,
        vec![
            panel(
                1,
                "Kafka messages in per topic",
                "ops",
                &[(
                    "sum by (topic) (rate(kafka_topic_partition_current_offset[5m]))",
                    "{{topic}}",
                )],
                0,
                0,
            ),
            panel(
                2,
                "Kafka messages consumed per topic (Logstash)",
                "ops",
                &[(
                    "sum by (topic) (rate(kafka_consumergroup_current_offset[5m]))",
                    "{{topic}}",
                )],
                12,
                0,
            ),
            panel(
                3,
                "Consumer lag",
                "short",
                &[(
                    "sum by (consumergroup, topic) (kafka_consumergroup_lag)",
                    "{{consumergroup}} {{topic}}",
                )],
                0,
                8,
            ),
            panel(
                4,
                "Elasticsearch indexing rate",
                "ops",
                &[(
                    "sum(rate(elasticsearch_indices_indexing_index_total[5m]))",
                    "documents/s",
                )],
                12,
                8,
            ),
            panel(
                5,
                "Elasticsearch query latency",
                "s",
                &[(
                    "sum(rate(elasticsearch_indices_search_query_time_seconds[5m])) / sum(rate(elasticsearch_indices_search_query_total[5m]))",
                    "mean query time",
                )],
                0,
                16,
            ),
        ],
    )
}

fn alerts_dashboard(controlplane: &str) -> String {
    let mut table = panel(
        2,
        "Firing alerts",
        "short",
        &[(
            "ALERTS{alertstate=\"firing\"}",
            "{{alertname}} {{environment}} {{severity}}",
        )],
        0,
        8,
    );
    table["type"] = json!("table");
    table["gridPos"]["w"] = json!(24);
    table["targets"][0]["instant"] = json!(true);
    table["targets"][0]["format"] = json!("table");
    dashboard(
        "flotilla-alerts",
        "Flotilla / Alerts",
        controlplane,
        vec![
            panel(
                1,
                "Firing alerts by severity",
                "short",
                &[(
                    "count by (severity) (ALERTS{alertstate=\"firing\"})",
                    "{{severity}}",
                )],
                0,
                0,
            ),
            table,
        ],
    )
}

pub fn grafana(platform: &Platform, _cluster: &flotilla_model::Cluster) -> ReleaseDef {
    let cp = &platform.controlplane().name;
    ReleaseDef {
        name: RELEASE,
        chart: "grafana",
        namespace: OBSERVABILITY_NAMESPACE,
        needs: vec![LOAD_BALANCER_CONTROLLER],
        // The Elasticsearch datasource reads ECK's Secrets.
        needs_manifests: vec![crate::elastic::MANIFEST],
        needs_secrets: crate::elastic::eck_secrets(),
        holds_load_balancer_protection: false,
        values: json!({
            "replicas": 1,
            "persistence": { "enabled": true, "size": "10Gi" },
            // The admin password is generated by the chart into a Secret.
            "envValueFrom": {
                "ELASTIC_PASSWORD": {
                    "secretKeyRef": { "name": elastic_user_secret(), "key": "elastic" },
                },
            },
            "extraSecretMounts": [{
                "name": "elasticsearch-ca",
                "secretName": http_ca_secret(),
                "mountPath": ES_CA_DIR,
                "readOnly": true,
            }],
            "datasources": {
                "datasources.yaml": { "apiVersion": 1, "datasources": datasources(platform) },
            },
            "dashboardProviders": {
                "dashboardproviders.yaml": {
                    "apiVersion": 1,
                    "providers": [{
                        "name": "flotilla",
                        "orgId": 1,
                        "folder": "Flotilla",
                        "type": "file",
                        "disableDeletion": true,
                        "editable": false,
                        "options": { "path": "/var/lib/grafana/dashboards/flotilla" },
                    }],
                },
            },
            "dashboards": {
                "flotilla": {
                    "overview": { "json": overview(cp) },
                    "ingest": { "json": ingest(cp) },
                    "alerts": { "json": alerts_dashboard(cp) },
                },
            },
            "grafana.ini": { "analytics": { "check_for_updates": false } },
            // One replica on a ReadWriteOnce volume: no PodDisruptionBudget (with one replica it
            // could only forbid every eviction and block node drains), and Recreate, since a
            // rolling update would start the new pod before the old one lets the volume go.
            "deploymentStrategy": { "type": "Recreate" },
        }),
    }
}
