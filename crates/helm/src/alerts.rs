//! Alerting: the model's alerts as Prometheus rule groups (rendered into `PrometheusRule`s by
//! [`crate::monitoring`]) and the controlplane Alertmanager's configuration.
//!
//! Every rule carries `environment`, `cluster` and `severity` labels; Alertmanager routes on
//! `environment` and `severity` exactly as the model's `[[observability.routing]]` says: an
//! alert goes to the union of the receivers of every matching routing entry.

use std::collections::BTreeMap;

use flotilla_model::{
    Alert, AlertRule, AlertScope, Cluster, Platform, ReceiverKind, Role, Severity,
};
use serde::Serialize;

use crate::names::receiver_credential_file;

/// A Prometheus rule file (`groups:`), the shape `promtool check rules` reads and the `spec` of
/// a `PrometheusRule`.
#[derive(Debug, Clone, Serialize)]
pub struct RuleGroups {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Filesystems that are not node disks.
const PSEUDO_FILESYSTEMS: &str = "tmpfs|overlay|squashfs|ramfs|nsfs";

/// Formats a threshold as PromQL writes numbers (`80`, `0.5`).
fn num(x: f64) -> String {
    format!("{x}")
}

/// The PromQL expression of an alert: true (non-empty) while its condition holds.
pub fn alert_expr(alert: &Alert) -> String {
    match &alert.rule {
        AlertRule::NodeCpu { threshold_percent } => format!(
            "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[5m]))) > {}",
            num(*threshold_percent)
        ),
        AlertRule::NodeMemory { threshold_percent } => format!(
            "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > {}",
            num(*threshold_percent)
        ),
        AlertRule::NodeDisk { threshold_percent } => format!(
            "100 * (1 - node_filesystem_avail_bytes{{fstype!~\"{PSEUDO_FILESYSTEMS}\"}} / node_filesystem_size_bytes{{fstype!~\"{PSEUDO_FILESYSTEMS}\"}}) > {}",
            num(*threshold_percent)
        ),
        // "More than N restarts within the `for` window": the window is in the expression.
        AlertRule::PodCrashLooping { restarts } => format!(
            "increase(kube_pod_container_status_restarts_total[{}]) > {}",
            alert.for_.text,
            num(*restarts)
        ),
        // Strimzi's Kafka Exporter (enabled on the controlplane's `Kafka`).
        AlertRule::KafkaConsumerLag { messages } => format!(
            "sum by (consumergroup, topic) (kafka_consumergroup_lag) > {}",
            num(*messages)
        ),
        // elasticsearch_exporter's health gauge: 1 for the current colour.
        AlertRule::ElasticsearchHealth => {
            "max by (cluster) (elasticsearch_cluster_health_status{color=\"green\"}) == 0".into()
        }
        AlertRule::Promql { expr } => expr.clone(),
    }
}

/// The rule's `for`: the model's duration, except for kinds whose window is in the expression.
fn rule_for(alert: &Alert) -> Option<String> {
    match alert.rule {
        AlertRule::PodCrashLooping { .. } => None,
        _ => Some(alert.for_.text.clone()),
    }
}

fn applies_to(alert: &Alert, cluster: &Cluster) -> bool {
    match alert.rule.scope() {
        AlertScope::AllClusters => true,
        AlertScope::Controlplane => cluster.role == Role::Controlplane,
    }
}

/// The rule groups a cluster's Prometheus evaluates: one group of the model's alerts that apply
/// to it, labelled with its environment and name.
pub fn rule_groups(platform: &Platform, cluster: &Cluster) -> RuleGroups {
    let rules: Vec<Rule> = platform
        .observability
        .alerts
        .iter()
        .filter(|a| applies_to(a, cluster))
        .map(|a| Rule {
            alert: a.name.clone(),
            expr: alert_expr(a),
            for_: rule_for(a),
            labels: BTreeMap::from([
                ("severity".into(), a.severity.as_str().into()),
                ("environment".into(), cluster.environment.clone()),
                ("cluster".into(), cluster.name.clone()),
                ("alert_kind".into(), a.rule.kind_name().into()),
            ]),
            annotations: BTreeMap::from([("summary".into(), a.summary.clone())]),
        })
        .collect();
    RuleGroups {
        groups: if rules.is_empty() {
            vec![]
        } else {
            vec![RuleGroup {
                name: format!("flotilla.{}", cluster.name),
                rules,
            }]
        },
    }
}

/// Alertmanager's configuration file (the subset Flotilla writes).
#[derive(Debug, Clone, Serialize)]
pub struct AlertmanagerConfig {
    pub global: AmGlobal,
    pub route: AmRoute,
    pub receivers: Vec<AmReceiver>,
    pub inhibit_rules: Vec<AmInhibitRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmGlobal {
    pub resolve_timeout: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmRoute {
    pub receiver: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<AmRoute>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmReceiver {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub email_configs: Vec<AmEmail>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slack_configs: Vec<AmSlack>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmEmail {
    pub to: String,
    pub from: String,
    pub smarthost: String,
    /// The model's SMTP user name (the SES SMTP user), else the sender address.
    pub auth_username: String,
    /// The password, read from a file mounted from a Secret; never inline.
    pub auth_password_file: String,
    pub require_tls: bool,
    pub send_resolved: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmSlack {
    /// The incoming-webhook URL, read from a file mounted from a Secret; never inline.
    pub api_url_file: String,
    pub channel: String,
    pub send_resolved: bool,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmInhibitRule {
    pub source_matchers: Vec<String>,
    pub target_matchers: Vec<String>,
    pub equal: Vec<String>,
}

/// Name of the Alertmanager receiver that sends to a set of the model's receivers.
fn receiver_set_name(set: &[&str]) -> String {
    set.join("+")
}

fn am_receiver(platform: &Platform, set: &[&str]) -> AmReceiver {
    let mut r = AmReceiver {
        name: receiver_set_name(set),
        email_configs: vec![],
        slack_configs: vec![],
    };
    for name in set {
        let model = platform
            .observability
            .receivers
            .iter()
            .find(|x| x.name == *name)
            .expect("validated routes name existing receivers");
        match &model.kind {
            ReceiverKind::Email {
                to,
                from,
                smarthost,
                smtp_username,
            } => r.email_configs.push(AmEmail {
                to: to.join(", "),
                from: from.clone(),
                smarthost: smarthost.clone(),
                auth_username: smtp_username.clone(),
                auth_password_file: receiver_credential_file(&model.name),
                require_tls: true,
                send_resolved: true,
            }),
            ReceiverKind::Slack { channel } => r.slack_configs.push(AmSlack {
                api_url_file: receiver_credential_file(&model.name),
                channel: channel.clone(),
                send_resolved: true,
                title: "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})".into(),
                text: "{{ range .Alerts }}{{ .Annotations.summary }} (cluster {{ .Labels.cluster }}, severity {{ .Labels.severity }})\n{{ end }}".into(),
            }),
        }
    }
    r
}

/// The controlplane Alertmanager's configuration, from the model's receivers and routing.
///
/// For every environment and severity the receivers are [`Observability::receivers_for`]; one
/// route per environment and receiver set, matching the severities that share that set. Alerts
/// of an unknown environment go to every receiver named in the routing, so none is lost.
///
/// [`Observability::receivers_for`]: flotilla_model::Observability::receivers_for
pub fn alertmanager_config(platform: &Platform) -> AlertmanagerConfig {
    let obs = &platform.observability;
    let mut sets: Vec<Vec<&str>> = Vec::new();
    let mut routes = Vec::new();
    for env in platform.targets() {
        // receiver set -> severities, in severity order.
        let mut by_set: Vec<(Vec<&str>, Vec<Severity>)> = Vec::new();
        for sev in Severity::ALL.iter().rev() {
            let set = obs.receivers_for(env, *sev);
            if set.is_empty() {
                continue;
            }
            match by_set.iter_mut().find(|(s, _)| *s == set) {
                Some((_, sevs)) => sevs.push(*sev),
                None => by_set.push((set, vec![*sev])),
            }
        }
        for (set, sevs) in by_set {
            let sev_re: Vec<&str> = sevs.iter().map(|s| s.as_str()).collect();
            routes.push(AmRoute {
                receiver: receiver_set_name(&set),
                group_by: vec![],
                matchers: vec![
                    format!("environment=\"{env}\""),
                    format!("severity=~\"{}\"", sev_re.join("|")),
                ],
                group_wait: None,
                group_interval: None,
                // Critical alerts are repeated more often than the rest.
                repeat_interval: Some(
                    if sevs.contains(&Severity::Critical) {
                        "1h"
                    } else {
                        "4h"
                    }
                    .into(),
                ),
                routes: vec![],
            });
            if !sets.contains(&set) {
                sets.push(set);
            }
        }
    }
    let mut everyone: Vec<&str> = Vec::new();
    for route in &obs.routing {
        for r in &route.receivers {
            if !everyone.contains(&r.as_str()) {
                everyone.push(r);
            }
        }
    }
    if !sets.contains(&everyone) {
        sets.push(everyone.clone());
    }
    sets.sort();
    AlertmanagerConfig {
        global: AmGlobal {
            resolve_timeout: "5m".into(),
        },
        route: AmRoute {
            receiver: receiver_set_name(&everyone),
            group_by: vec!["alertname".into(), "environment".into(), "cluster".into()],
            matchers: vec![],
            group_wait: Some("30s".into()),
            group_interval: Some("5m".into()),
            repeat_interval: Some("4h".into()),
            routes,
        },
        receivers: sets.iter().map(|s| am_receiver(platform, s)).collect(),
        inhibit_rules: vec![
            // A critical alert silences the warning and info alerts of the same name and place.
            AmInhibitRule {
                source_matchers: vec!["severity=\"critical\"".into()],
                target_matchers: vec!["severity=~\"warning|info\"".into()],
                equal: vec!["alertname".into(), "environment".into(), "cluster".into()],
            },
            AmInhibitRule {
                source_matchers: vec!["severity=\"warning\"".into()],
                target_matchers: vec!["severity=\"info\"".into()],
                equal: vec!["alertname".into(), "environment".into(), "cluster".into()],
            },
        ],
    }
}
