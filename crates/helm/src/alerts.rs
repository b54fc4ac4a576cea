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
        // Busy time over all CPU time, both over the same window: on a node younger than the
        // window both rates see the same samples, so the share is right (`1 - rate(idle)`
        // divides a short increase by the whole window and reads a fresh idle node as busy).
        AlertRule::NodeCpu { threshold_percent } => format!(
            "100 * sum by (instance, node) (rate(node_cpu_seconds_total{{mode!~\"idle|iowait\"}}[5m])) / sum by (instance, node) (rate(node_cpu_seconds_total[5m])) > {}",
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

/// How long a crash-looping container's restart count must stay above the threshold: the
/// model's `for` is the window the restarts are counted in.
const CRASH_LOOP_HOLD_SECONDS: u64 = 300;

/// The rule's `for`: the model's duration; for a crash loop, whose window is the model's `for`,
/// five minutes (or the window, if shorter), so a single evaluation never pages.
fn rule_for(alert: &Alert) -> String {
    match alert.rule {
        AlertRule::PodCrashLooping { .. } if alert.for_.seconds > CRASH_LOOP_HOLD_SECONDS => {
            "5m".into()
        }
        _ => alert.for_.text.clone(),
    }
}

/// The section of docs/runbooks.md for an alert kind (an explicit anchor there).
pub fn runbook_section(kind: &str) -> String {
    kind.replace('_', "-")
}

/// What fired, for its summary: the series' labels (`$labels` are the labels of the
/// expression's result, without the rule's own), and the cluster, which the rule group is for.
fn subject(rule: &AlertRule, cluster: &Cluster) -> String {
    let place = format!("{} ({})", cluster.name, cluster.environment);
    match rule {
        AlertRule::NodeCpu { .. } | AlertRule::NodeMemory { .. } => {
            format!("node {{{{ $labels.node }}}} ({{{{ $labels.instance }}}}) in {place}")
        }
        AlertRule::NodeDisk { .. } => format!(
            "{{{{ $labels.mountpoint }}}} on node {{{{ $labels.node }}}} ({{{{ $labels.instance }}}}) in {place}"
        ),
        AlertRule::PodCrashLooping { .. } => format!(
            "container {{{{ $labels.container }}}} of pod {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} in {place}"
        ),
        AlertRule::KafkaConsumerLag { .. } => format!(
            "consumer group {{{{ $labels.consumergroup }}}} on topic {{{{ $labels.topic }}}} in {place}"
        ),
        AlertRule::ElasticsearchHealth => format!("the Elasticsearch of {place}"),
        AlertRule::Promql { .. } => place,
    }
}

/// What the value means, for the alert's description.
fn description(alert: &Alert) -> String {
    let value = "{{ $value | printf \"%.1f\" }}";
    match &alert.rule {
        AlertRule::NodeCpu { threshold_percent } => format!(
            "The node's CPUs were {value}% busy (not idle or waiting for I/O) over the last 5 minutes; the threshold is {}%, held for {}.",
            num(*threshold_percent),
            alert.for_
        ),
        AlertRule::NodeMemory { threshold_percent } => format!(
            "{value}% of the node's memory is in use (MemAvailable against MemTotal); the threshold is {}%, held for {}.",
            num(*threshold_percent),
            alert.for_
        ),
        AlertRule::NodeDisk { threshold_percent } => format!(
            "The filesystem is {value}% full; the threshold is {}%, held for {}.",
            num(*threshold_percent),
            alert.for_
        ),
        AlertRule::PodCrashLooping { restarts } => format!(
            "The container restarted {{{{ $value | printf \"%.0f\" }}}} times in the last {}; more than {} counts as a crash loop.",
            alert.for_,
            num(*restarts)
        ),
        AlertRule::KafkaConsumerLag { messages } => format!(
            "The group is {{{{ $value | printf \"%.0f\" }}}} messages behind the end of the topic; the threshold is {} messages, held for {}.",
            num(*messages),
            alert.for_
        ),
        AlertRule::ElasticsearchHealth => format!(
            "Cluster health has not been green for {}: some shards (yellow: replicas, red: primaries) are not allocated.",
            alert.for_
        ),
        AlertRule::Promql { expr } => format!(
            "The platform's own condition `{expr}` has held for {} (value {value}).",
            alert.for_
        ),
    }
}

fn runbook_url(platform: &Platform, alert_runbook: Option<&str>, kind: &str) -> String {
    alert_runbook.map_or_else(
        || {
            format!(
                "{}#{}",
                platform.observability.runbooks_url,
                runbook_section(kind)
            )
        },
        str::to_string,
    )
}

/// The alert that always fires, from every cluster: a heartbeat through Prometheus, the
/// network to the controlplane and Alertmanager, to the dead man's switch.
pub const WATCHDOG: &str = "Watchdog";
/// Alertmanager failing to deliver to an integration (a wrong webhook, SMTP refusing the login).
pub const NOTIFICATIONS_FAILING: &str = "AlertmanagerNotificationsFailing";
/// The Watchdog's severity: none of the model's, so no on-call route takes it.
pub const WATCHDOG_SEVERITY: &str = "none";

/// Flotilla's own rules of a cluster: the Watchdog everywhere, failed notifications on the
/// controlplane (where Alertmanager runs and is scraped).
fn platform_rules(platform: &Platform, cluster: &Cluster) -> Vec<Rule> {
    let labels = |severity: &str, kind: &str| {
        BTreeMap::from([
            ("severity".into(), severity.into()),
            ("environment".into(), cluster.environment.clone()),
            ("cluster".into(), cluster.name.clone()),
            ("alert_kind".into(), kind.into()),
        ])
    };
    let mut rules = vec![Rule {
        alert: WATCHDOG.into(),
        expr: "vector(1)".into(),
        for_: None,
        labels: labels(WATCHDOG_SEVERITY, "watchdog"),
        annotations: BTreeMap::from([
            (
                "summary".into(),
                format!(
                    "Alerting pipeline heartbeat from {} ({})",
                    cluster.name, cluster.environment
                ),
            ),
            (
                "description".into(),
                "Always firing. The dead man's switch pages when this heartbeat stops: then Prometheus, its rules, the path to Alertmanager or Alertmanager itself is down.".into(),
            ),
            ("runbook_url".into(), runbook_url(platform, None, "watchdog")),
        ]),
    }];
    if cluster.role == Role::Controlplane {
        rules.push(Rule {
            alert: NOTIFICATIONS_FAILING.into(),
            expr: "sum by (integration) (rate(alertmanager_notifications_failed_total[5m])) > 0"
                .into(),
            for_: Some("5m".into()),
            labels: labels(Severity::Critical.as_str(), "notifications_failing"),
            annotations: BTreeMap::from([
                (
                    "summary".into(),
                    "Alertmanager fails to deliver {{ $labels.integration }} notifications".into(),
                ),
                (
                    "description".into(),
                    "{{ $value | printf \"%.2f\" }} failed {{ $labels.integration }} deliveries per second over the last 5 minutes: alerts routed only there are not reaching anyone.".into(),
                ),
                (
                    "runbook_url".into(),
                    runbook_url(platform, None, "notifications_failing"),
                ),
            ]),
        });
    }
    rules
}

/// Text of the model (free text: a summary, an address) as it must stand in an annotation,
/// which Prometheus expands as a Go template: every `{{` is written as the template
/// `{{ "{{" }}`, so the text shows as written and never opens an action (an unclosed `{{` would
/// make promtool and Prometheus refuse the whole rule file).
pub fn template_literal(text: &str) -> String {
    text.replace("{{", "{{ \"{{\" }}")
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
    let mut rules: Vec<Rule> = platform
        .observability
        .alerts
        .iter()
        .filter(|a| applies_to(a, cluster))
        .map(|a| Rule {
            alert: a.name.clone(),
            expr: alert_expr(a),
            for_: Some(rule_for(a)),
            labels: BTreeMap::from([
                ("severity".into(), a.severity.as_str().into()),
                ("environment".into(), cluster.environment.clone()),
                ("cluster".into(), cluster.name.clone()),
                ("alert_kind".into(), a.rule.kind_name().into()),
            ]),
            annotations: BTreeMap::from([
                (
                    "summary".into(),
                    format!(
                        "{}: {}",
                        template_literal(&a.summary),
                        subject(&a.rule, cluster)
                    ),
                ),
                ("description".into(), description(a)),
                (
                    "runbook_url".into(),
                    template_literal(&runbook_url(
                        platform,
                        a.runbook_url.as_deref(),
                        a.rule.kind_name(),
                    )),
                ),
            ]),
        })
        .collect();
    rules.extend(platform_rules(platform, cluster));
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

#[derive(Debug, Clone, Default, Serialize)]
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
                text: "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\nseverity {{ .Labels.severity }}, environment {{ .Labels.environment }}, cluster {{ .Labels.cluster }}\nrunbook: {{ .Annotations.runbook_url }}\n{{ end }}".into(),
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
    // Labels outside the model are routed on purpose, not by falling through to the root: an
    // unknown environment or severity (or none) goes to every receiver, so nothing is lost.
    let known_envs: Vec<&str> = platform.targets();
    let known_sevs: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    for matcher in [
        format!("environment!~\"{}\"", known_envs.join("|")),
        format!("severity!~\"{}\"", known_sevs.join("|")),
    ] {
        routes.push(AmRoute {
            receiver: receiver_set_name(&everyone),
            matchers: vec![matcher],
            ..AmRoute::default()
        });
    }
    // The Watchdog heartbeat first, to the dead man's switch only, often enough that the
    // switch can alarm within minutes of its stopping (docs/runbooks.md#watchdog).
    let watchdog: Vec<&str> = obs.watchdog_receiver.iter().map(String::as_str).collect();
    routes.insert(
        0,
        AmRoute {
            receiver: if watchdog.is_empty() {
                WATCHDOG_UNWATCHED.into()
            } else {
                receiver_set_name(&watchdog)
            },
            group_by: vec!["alertname".into(), "cluster".into()],
            matchers: vec![format!("alertname=\"{WATCHDOG}\"")],
            group_wait: Some("0s".into()),
            group_interval: Some("1m".into()),
            repeat_interval: Some("5m".into()),
            routes: vec![],
        },
    );
    if !watchdog.is_empty() && !sets.contains(&watchdog) {
        sets.push(watchdog);
    }
    sets.sort();
    let mut receivers: Vec<AmReceiver> = sets.iter().map(|s| am_receiver(platform, s)).collect();
    if obs.watchdog_receiver.is_none() {
        receivers.push(AmReceiver {
            name: WATCHDOG_UNWATCHED.into(),
            email_configs: vec![],
            slack_configs: vec![],
        });
    }
    // The root only carries the defaults: every alert matches one of the routes above. Its
    // receiver has a name of its own so that a test can tell a fall-through.
    receivers.push(AmReceiver {
        name: UNROUTED.into(),
        ..am_receiver(platform, &everyone)
    });
    AlertmanagerConfig {
        global: AmGlobal {
            resolve_timeout: "5m".into(),
        },
        route: AmRoute {
            receiver: UNROUTED.into(),
            group_by: vec!["alertname".into(), "environment".into(), "cluster".into()],
            matchers: vec![],
            group_wait: Some("30s".into()),
            group_interval: Some("5m".into()),
            repeat_interval: Some("4h".into()),
            routes,
        },
        receivers,
        inhibit_rules: inhibit_rules(),
    }
}

/// The Watchdog's receiver when the model names no dead man's switch: no integrations.
pub const WATCHDOG_UNWATCHED: &str = "watchdog-unwatched";
/// The root route's receiver (every receiver), which no alert reaches by design.
pub const UNROUTED: &str = "unrouted";

/// The labels that say which thing an alert of a built-in kind is about; two alerts of a
/// kind with equal values are about the same thing.
pub fn identity_labels(kind: &str) -> &'static [&'static str] {
    match kind {
        "node_cpu" | "node_memory" => &["instance", "node"],
        "node_disk" => &["instance", "node", "mountpoint"],
        "pod_crash_looping" => &["namespace", "pod", "container"],
        "kafka_consumer_lag" => &["consumergroup", "topic"],
        _ => &[],
    }
}

/// A more severe alert silences a less severe one of the same kind about the same thing (a
/// critical "CPU above 95%" and a warning "CPU above 80%" of one node page once). Alert names
/// are unique in the model, so the rules match on `alert_kind` and the kind's identity labels.
fn inhibit_rules() -> Vec<AmInhibitRule> {
    let kinds = [
        "node_cpu",
        "node_memory",
        "node_disk",
        "pod_crash_looping",
        "kafka_consumer_lag",
        "elasticsearch_health",
    ];
    let mut out = Vec::new();
    for kind in kinds {
        let mut equal: Vec<String> = vec!["environment".into(), "cluster".into()];
        equal.extend(identity_labels(kind).iter().map(|l| l.to_string()));
        for (source, targets) in [("critical", "warning|info"), ("warning", "info")] {
            out.push(AmInhibitRule {
                source_matchers: vec![
                    format!("alert_kind=\"{kind}\""),
                    format!("severity=\"{source}\""),
                ],
                target_matchers: vec![
                    format!("alert_kind=\"{kind}\""),
                    format!("severity=~\"{targets}\""),
                ],
                equal: equal.clone(),
            });
        }
    }
    out
}
