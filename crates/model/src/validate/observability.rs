//! `[observability]`: topics, retention, receivers, alerts, routing, watchdog and runbooks.

use std::collections::BTreeSet;

use super::{Cx, known, span};
use crate::names;
use crate::raw::{self, S};
use crate::*;

impl Cx {
    pub(super) fn observability(
        &mut self,
        o: &raw::Observability,
        targets: &BTreeSet<String>,
        environments: &BTreeSet<String>,
    ) -> Observability {
        self.check(&o.logs_topic, "logs topic", |s| names::dns_label(s, 100));
        self.check(&o.metrics_topic, "metrics topic", |s| {
            names::dns_label(s, 100)
        });
        if o.logs_topic.get_ref() == o.metrics_topic.get_ref() {
            self.err_help(
                span(&o.metrics_topic),
                "logs and metrics share one topic name",
                "give the metrics topic its own name",
            );
        }
        let kafka_retention_hours =
            self.positive(&o.kafka_retention_hours, "kafka_retention_hours", 24 * 90);
        let prometheus_retention_days = self.positive(
            &o.prometheus_retention_days,
            "prometheus_retention_days",
            365,
        );
        let prometheus_volume_gib =
            self.positive(&o.prometheus_volume_gib, "prometheus_volume_gib", 16384);

        let receivers: Vec<Receiver> = o.receivers.iter().map(|r| self.receiver(r)).collect();
        self.unique(
            "receiver name",
            o.receivers.iter().map(|r| &r.get_ref().name),
        );
        let receiver_names: BTreeSet<&str> = receivers.iter().map(|r| r.name.as_str()).collect();

        let alerts: Vec<Alert> = o.alerts.iter().map(|a| self.alert(a)).collect();
        self.unique("alert name", o.alerts.iter().map(|a| &a.get_ref().name));

        let mut routing = Vec::new();
        for sr in &o.routing {
            let r = sr.get_ref();
            for e in &r.environments {
                if !targets.contains(e.get_ref())
                    && !self.follows_rejected("environment name", e.get_ref())
                {
                    self.err_help(
                        span(e),
                        format!("routing rule names unknown environment \"{}\"", e.get_ref()),
                        known("environments", targets.iter()),
                    );
                }
            }
            let severities = r
                .severities
                .iter()
                .filter_map(|s| self.severity(s))
                .collect();
            if r.receivers.get_ref().is_empty() {
                self.err_help(
                    span(&r.receivers),
                    "a routing rule with no receivers",
                    "name at least one receiver",
                );
            }
            for name in r.receivers.get_ref() {
                if !receiver_names.contains(name.get_ref().as_str())
                    && !self.follows_rejected("receiver name", name.get_ref())
                {
                    self.err_help(
                        span(name),
                        format!("routing rule names unknown receiver \"{}\"", name.get_ref()),
                        known("receivers", receiver_names.iter()),
                    );
                }
            }
            routing.push(AlertRoute {
                environments: r.environments.iter().map(|e| e.get_ref().clone()).collect(),
                severities,
                receivers: r
                    .receivers
                    .get_ref()
                    .iter()
                    .map(|n| n.get_ref().clone())
                    .collect(),
            });
        }
        let watchdog_receiver = o.watchdog_receiver.as_ref().map(|w| {
            if !receiver_names.contains(w.get_ref().as_str())
                && !self.follows_rejected("receiver name", w.get_ref())
            {
                self.err_help(
                    span(w),
                    format!(
                        "watchdog_receiver names unknown receiver \"{}\"",
                        w.get_ref()
                    ),
                    known("receivers", receiver_names.iter()),
                );
            }
            w.get_ref().clone()
        });
        let runbooks_url = match &o.runbooks_url {
            Some(u) => {
                self.check(u, "runbooks URL", names::web_url);
                if u.get_ref().contains('#') {
                    self.err_help(
                        span(u),
                        "runbooks_url has a fragment",
                        "give the page's address; each alert adds #<its section>",
                    );
                }
                u.get_ref().clone()
            }
            None => DEFAULT_RUNBOOKS_URL.to_string(),
        };
        let obs = Observability {
            watchdog_receiver,
            runbooks_url,
            logs_topic: o.logs_topic.get_ref().clone(),
            metrics_topic: o.metrics_topic.get_ref().clone(),
            kafka_retention_hours,
            prometheus_retention_days,
            prometheus_volume_gib,
            receivers,
            alerts,
            routing,
        };
        // Every alert, in every environment where it is evaluated, reaches a receiver.
        for (sa, alert) in o.alerts.iter().zip(&obs.alerts) {
            let envs: Vec<&String> = match alert.rule.scope() {
                AlertScope::Controlplane => targets
                    .iter()
                    .filter(|t| !environments.contains(*t))
                    .collect(),
                AlertScope::AllClusters => targets.iter().collect(),
            };
            let unrouted: Vec<&str> = envs
                .iter()
                .filter(|e| obs.receivers_for(e, alert.severity).is_empty())
                .map(|e| e.as_str())
                .collect();
            if !unrouted.is_empty() {
                self.err_help(
                    span(&sa.get_ref().name),
                    format!(
                        "alert \"{}\" ({} severity) reaches no receiver in {}",
                        alert.name,
                        alert.severity,
                        unrouted.join(", ")
                    ),
                    "add an [[observability.routing]] rule that matches its environment and severity",
                );
            }
        }
        obs
    }

    fn receiver(&mut self, sr: &S<raw::Receiver>) -> Receiver {
        let r = sr.get_ref();
        self.check(&r.name, "receiver name", |s| names::dns_label(s, 63));
        self.check(
            &r.credentials_secret,
            "credentials secret name",
            names::secret_name,
        );
        let kind = match r.kind.get_ref().as_str() {
            "email" => {
                if r.to.is_empty() {
                    self.err_help(
                        span(sr),
                        format!(
                            "email receiver \"{}\" has no `to` addresses",
                            r.name.get_ref()
                        ),
                        "add to = [\"oncall@example.com\"]",
                    );
                }
                for t in &r.to {
                    self.check(t, "email address", names::email);
                }
                let from = match &r.from {
                    Some(f) => {
                        self.check(f, "email address", names::email);
                        f.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!(
                                "email receiver \"{}\" has no `from` address",
                                r.name.get_ref()
                            ),
                            "add from = \"alerts@example.com\"",
                        );
                        String::new()
                    }
                };
                let smarthost = match &r.smarthost {
                    Some(h) => {
                        let ok = h.get_ref().rsplit_once(':').is_some_and(|(host, port)| {
                            names::dns_name(host).is_ok()
                                && port.parse::<u16>().is_ok_and(|p| p > 0)
                        });
                        if !ok {
                            self.err_help(
                                span(h),
                                format!("smarthost \"{}\" is not host:port", h.get_ref()),
                                "e.g. \"email-smtp.eu-west-1.amazonaws.com:587\"",
                            );
                        }
                        h.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!("email receiver \"{}\" has no smarthost", r.name.get_ref()),
                            "add smarthost = \"host:587\"",
                        );
                        String::new()
                    }
                };
                if let Some(c) = &r.channel {
                    self.err_help(span(c), "`channel` belongs to Slack receivers", "remove it");
                }
                // Amazon SES refuses a login with the sender address: it takes the SMTP user
                // name of an IAM user (and the SMTP password derived from its secret key).
                let ses = smarthost
                    .split(':')
                    .next()
                    .is_some_and(|h| h.starts_with("email-smtp.") && h.ends_with(".amazonaws.com"));
                let smtp_username = match &r.smtp_username {
                    Some(u) => {
                        let ok = !u.get_ref().is_empty()
                            && u.get_ref().len() <= 128
                            && !u
                                .get_ref()
                                .chars()
                                .any(|c| c.is_whitespace() || c.is_control());
                        if !ok {
                            self.err_help(
                                span(u),
                                format!("SMTP user name \"{}\" is not valid", u.get_ref()),
                                "one word of at most 128 characters, e.g. the SES SMTP user name",
                            );
                        }
                        u.get_ref().clone()
                    }
                    None if ses => {
                        self.err_help(
                            span(sr),
                            format!(
                                "email receiver \"{}\" sends through Amazon SES but names no smtp_username",
                                r.name.get_ref()
                            ),
                            "SES authenticates with the SMTP user name of an IAM user (not the sender address): add smtp_username = \"<the SMTP user name>\"; its password stays in the credentials_secret",
                        );
                        String::new()
                    }
                    None => from.clone(),
                };
                ReceiverKind::Email {
                    to: r.to.iter().map(|t| t.get_ref().clone()).collect(),
                    from,
                    smarthost,
                    smtp_username,
                }
            }
            "slack" => {
                let channel = match &r.channel {
                    Some(c) => {
                        let ok = c.get_ref().starts_with('#')
                            && c.get_ref().len() > 1
                            && !c.get_ref().contains(' ');
                        if !ok {
                            self.err_help(
                                span(c),
                                format!("Slack channel \"{}\" is not valid", c.get_ref()),
                                "write the channel with its '#', e.g. \"#platform-alerts\"",
                            );
                        }
                        c.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!("Slack receiver \"{}\" has no channel", r.name.get_ref()),
                            "add channel = \"#platform-alerts\"",
                        );
                        String::new()
                    }
                };
                for (field, v) in [
                    ("to", r.to.first()),
                    ("from", r.from.as_ref()),
                    ("smarthost", r.smarthost.as_ref()),
                    ("smtp_username", r.smtp_username.as_ref()),
                ] {
                    if let Some(v) = v {
                        self.err_help(
                            span(v),
                            format!("`{field}` belongs to email receivers"),
                            "remove it",
                        );
                    }
                }
                ReceiverKind::Slack { channel }
            }
            other => {
                self.err_help(
                    span(&r.kind),
                    format!("unknown receiver kind \"{other}\""),
                    "kind is \"email\" or \"slack\"",
                );
                ReceiverKind::Slack {
                    channel: String::new(),
                }
            }
        };
        Receiver {
            name: r.name.get_ref().clone(),
            kind,
            credentials_secret: r.credentials_secret.get_ref().clone(),
        }
    }

    fn severity(&mut self, s: &S<String>) -> Option<Severity> {
        match s.get_ref().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            other => {
                self.err_help(
                    span(s),
                    format!("unknown severity \"{other}\""),
                    "severity is \"info\", \"warning\" or \"critical\"",
                );
                None
            }
        }
    }

    fn alert(&mut self, sa: &S<raw::Alert>) -> Alert {
        let a = sa.get_ref();
        self.check(&a.name, "alert name", names::alert_name);
        let kind = a.kind.get_ref().as_str();
        let threshold = |cx: &mut Cx, unit: &str, max: f64| -> f64 {
            match &a.threshold {
                Some(t) => {
                    let v = *t.get_ref();
                    if !(v > 0.0 && v <= max && v.is_finite()) {
                        cx.err_help(
                            span(t),
                            format!("threshold {v} is out of range for a {kind} alert"),
                            format!("use a value above 0 and at most {max} ({unit})"),
                        );
                    }
                    v
                }
                None => {
                    cx.err_help(
                        span(&a.kind),
                        format!("a {kind} alert needs a threshold ({unit})"),
                        "add threshold = ...",
                    );
                    0.0
                }
            }
        };
        let rule = match kind {
            "node_cpu" => AlertRule::NodeCpu {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "node_memory" => AlertRule::NodeMemory {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "node_disk" => AlertRule::NodeDisk {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "pod_crash_looping" => AlertRule::PodCrashLooping {
                restarts: threshold(self, "restarts", 1e6),
            },
            "kafka_consumer_lag" => AlertRule::KafkaConsumerLag {
                messages: threshold(self, "messages", 1e12),
            },
            "elasticsearch_health" | "promql" => {
                if let Some(t) = &a.threshold {
                    self.err_help(
                        span(t),
                        format!("a {kind} alert takes no threshold"),
                        "remove it",
                    );
                }
                if kind == "promql" {
                    match &a.expr {
                        Some(e) if !e.get_ref().trim().is_empty() => {
                            if let Err((message, help)) = names::promql_alert_expr(e.get_ref()) {
                                self.err_help(span(e), message, help);
                            }
                            AlertRule::Promql {
                                expr: e.get_ref().trim().to_string(),
                            }
                        }
                        _ => {
                            self.err_help(
                                span(&a.kind),
                                "a promql alert needs an `expr`",
                                "add expr = '...' (true while the alert should fire)",
                            );
                            AlertRule::Promql {
                                expr: String::new(),
                            }
                        }
                    }
                } else {
                    AlertRule::ElasticsearchHealth
                }
            }
            other => {
                self.err_help(
                    span(&a.kind),
                    format!("unknown alert kind \"{other}\""),
                    "kinds: node_cpu, node_memory, node_disk, pod_crash_looping, kafka_consumer_lag, elasticsearch_health, promql",
                );
                AlertRule::Promql {
                    expr: String::new(),
                }
            }
        };
        if kind != "promql"
            && let Some(e) = &a.expr
        {
            self.err_help(
                span(e),
                format!("a {kind} alert takes no `expr`"),
                "use kind = \"promql\" for a raw expression",
            );
        }
        let for_ = match &a.for_ {
            Some(d) => match names::prom_duration(d.get_ref()) {
                Ok(seconds) => PromDuration {
                    text: d.get_ref().clone(),
                    seconds,
                },
                Err(help) => {
                    self.err_help(
                        span(d),
                        format!("duration \"{}\" is not valid", d.get_ref()),
                        help,
                    );
                    PromDuration {
                        text: String::new(),
                        seconds: 0,
                    }
                }
            },
            None => PromDuration {
                text: "5m".into(),
                seconds: 300,
            },
        };
        let severity = match &a.severity {
            Some(s) => self.severity(s).unwrap_or(Severity::Warning),
            None => {
                self.err_help(
                    span(&a.name),
                    format!("alert \"{}\" has no severity", a.name.get_ref()),
                    "add severity = \"info\", \"warning\" or \"critical\"",
                );
                Severity::Warning
            }
        };
        let summary = a
            .summary
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| default_summary(&rule, &for_));
        if RESERVED_ALERT_NAMES.contains(&a.name.get_ref().as_str()) {
            self.err_help(
                span(&a.name),
                format!("alert name \"{}\" is Flotilla's own", a.name.get_ref()),
                "Watchdog and AlertmanagerNotificationsFailing are always rendered; choose another name",
            );
        }
        let runbook_url = a.runbook_url.as_ref().map(|u| {
            self.check(u, "runbook URL", names::web_url);
            u.get_ref().clone()
        });
        Alert {
            name: a.name.get_ref().clone(),
            rule,
            for_,
            severity,
            summary,
            runbook_url,
        }
    }
}

/// Alerts every cluster gets from Flotilla itself (crates/helm/src/alerts.rs).
const RESERVED_ALERT_NAMES: &[&str] = &["Watchdog", "AlertmanagerNotificationsFailing"];

fn default_summary(rule: &AlertRule, for_: &PromDuration) -> String {
    match rule {
        AlertRule::NodeCpu { threshold_percent } => {
            format!("Average CPU of a node above {threshold_percent}% for {for_}")
        }
        AlertRule::NodeMemory { threshold_percent } => {
            format!("Memory use of a node above {threshold_percent}% for {for_}")
        }
        AlertRule::NodeDisk { threshold_percent } => {
            format!("A node filesystem is more than {threshold_percent}% full for {for_}")
        }
        AlertRule::PodCrashLooping { restarts } => {
            format!("A container restarted more than {restarts} times in {for_}")
        }
        AlertRule::KafkaConsumerLag { messages } => {
            format!("A Kafka consumer group is more than {messages} messages behind for {for_}")
        }
        AlertRule::ElasticsearchHealth => {
            format!("Elasticsearch cluster health is not green for {for_}")
        }
        AlertRule::Promql { .. } => format!("PromQL condition true for {for_}"),
    }
}
