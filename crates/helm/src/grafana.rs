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

/// The Elasticsearch datasource of one environment's data stream of one kind.
fn es_uid(kind: TopicKind, env: &str) -> String {
    format!("{}-{env}", crate::names::data_stream_type(kind))
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
        for (kind, title) in [
            (TopicKind::Logs, "Logs"),
            (TopicKind::Metrics, "Node metrics"),
        ] {
            out.push(json!({
                "name": format!("{title} {env}"),
                "uid": es_uid(kind, env),
                "type": "elasticsearch",
                "access": "proxy",
                "url": elasticsearch_url(),
                "basicAuth": true,
                "basicAuthUser": "elastic",
                "jsonData": {
                    "index": data_stream(kind, env),
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

/// A dashboard whose panels read the Prometheus of the cluster its `datasource` variable
/// picks (`default_ds` first).
fn dashboard(uid: &str, title: &str, default_ds: &str, panels: Vec<Value>) -> String {
    dashboard_with(
        uid,
        title,
        json!([{
            "name": "datasource",
            "label": "Cluster",
            "type": "datasource",
            "query": "prometheus",
            "current": { "text": format!("Prometheus {default_ds}"), "value": prometheus_uid(default_ds) },
        }]),
        panels,
    )
}

fn dashboard_with(uid: &str, title: &str, variables: Value, panels: Vec<Value>) -> String {
    let d = json!({
        "uid": uid,
        "title": title,
        "tags": ["flotilla"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "1m",
        "templating": { "list": variables },
        "panels": panels,
    });
    serde_json::to_string_pretty(&d).expect("json")
}

/// Panels on one fixed Prometheus (the dashboard has no cluster variable).
fn fixed(mut p: Value, uid: &str) -> Value {
    p["datasource"] = json!({ "type": "prometheus", "uid": uid });
    for t in p["targets"].as_array_mut().into_iter().flatten() {
        t["datasource"] = json!({ "type": "prometheus", "uid": uid });
    }
    p
}

/// A panel over every cluster's Prometheus at once (Grafana's mixed datasource): one target
/// per cluster, each labelled with it.
fn every_cluster(
    platform: &Platform,
    id: u32,
    title: &str,
    expr: &str,
    legend: &str,
    y: u32,
) -> Value {
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": { "type": "datasource", "uid": "-- Mixed --" },
        "gridPos": { "h": 8, "w": 24, "x": 0, "y": y },
        "targets": platform.clusters.iter().enumerate().map(|(i, c)| json!({
            "refId": format!("C{i}"),
            "expr": expr,
            "legendFormat": format!("{} {legend}", c.name),
            "datasource": { "type": "prometheus", "uid": prometheus_uid(&c.name) },
        })).collect::<Vec<_>>(),
    })
}

/// "Flotilla / Node metrics": the node records Fluent Bit ships through Kafka into
/// Elasticsearch (`metrics-flotilla-<env>`), one environment at a time.
fn node_metrics(platform: &Platform) -> String {
    let first = platform
        .environments()
        .first()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let es = |id: u32, title: &str, field: &str, unit: &str, y: u32| {
        json!({
            "id": id,
            "type": "timeseries",
            "title": title,
            "datasource": { "type": "elasticsearch", "uid": "${environment}" },
            "gridPos": { "h": 8, "w": 24, "x": 0, "y": y },
            "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
            "targets": [{
                "refId": "A",
                "datasource": { "type": "elasticsearch", "uid": "${environment}" },
                "query": format!("_exists_:{field}"),
                "timeField": "@timestamp",
                "metrics": [{ "id": "1", "type": "avg", "field": field }],
                "bucketAggs": [
                    { "id": "2", "type": "terms", "field": "node", "settings": { "size": "20", "order": "desc", "orderBy": "_term" } },
                    { "id": "3", "type": "date_histogram", "field": "@timestamp", "settings": { "interval": "auto" } },
                ],
            }],
        })
    };
    dashboard_with(
        "flotilla-node-metrics",
        "Flotilla / Node metrics (Fluent Bit)",
        json!([{
            "name": "environment",
            "label": "Environment",
            "type": "datasource",
            "query": "elasticsearch",
            "regex": "/^Node metrics /",
            "current": { "text": format!("Node metrics {first}"), "value": es_uid(TopicKind::Metrics, &first) },
        }]),
        vec![
            es(1, "CPU use per node", "cpu_p", "percent", 0),
            es(2, "Memory used per node", "Mem.used", "kbytes", 8),
            es(3, "Disk writes per node", "write_size", "bytes", 16),
        ],
    )
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

/// Kafka's and Elasticsearch's metrics exist only on the controlplane: its Prometheus, fixed.
fn ingest(controlplane: &str) -> String {
    let uid = prometheus_uid(controlplane);
    dashboard_with(
        "flotilla-ingest",
        "Flotilla / Ingest pipeline",
        json!([]),
        [
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
        ]
        .into_iter()
        .map(|p| fixed(p, &uid))
        .collect(),
    )
}

/// Every cluster's alerts: each Prometheus holds only its own `ALERTS`, so every panel asks
/// all of them (the mixed datasource), not the one a variable picks.
fn alerts_dashboard(platform: &Platform) -> String {
    let mut table = every_cluster(
        platform,
        2,
        "Firing alerts",
        "ALERTS{alertstate=\"firing\"}",
        "{{alertname}} {{severity}}",
        8,
    );
    table["type"] = json!("table");
    for t in table["targets"].as_array_mut().into_iter().flatten() {
        t["instant"] = json!(true);
        t["format"] = json!("table");
    }
    dashboard_with(
        "flotilla-alerts",
        "Flotilla / Alerts",
        json!([]),
        vec![
            every_cluster(
                platform,
                1,
                "Firing alerts by severity",
                "count by (severity) (ALERTS{alertstate=\"firing\"})",
                "{{severity}}",
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
                    "alerts": { "json": alerts_dashboard(platform) },
                    "node-metrics": { "json": node_metrics(platform) },
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
