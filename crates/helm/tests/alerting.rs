//! Alerting checked with the real tools: every rendered rule group passes `promtool check rules`;
//! every built-in alert kind, as rendered, fires above its threshold once its duration has
//! passed and stays silent below (`promtool test rules`); the Alertmanager configuration passes
//! `amtool check-config` and routes every environment and severity to the receivers the model
//! says (`amtool config routes test`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use flotilla_helm::{alertmanager_config, rule_groups};
use flotilla_model::{Alert, AlertRule, Cluster, Platform, PromDuration, Role, Severity};
use flotilla_testkit::tool;
use serde_json::{Value, json};

fn promtool() -> Option<PathBuf> {
    tool("promtool", None, "apt-get install prometheus")
}

fn amtool() -> Option<PathBuf> {
    tool("amtool", None, "apt-get install prometheus-alertmanager")
}

/// Runs a tool that must succeed; returns its standard output.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_yaml(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_norway::to_string(v).unwrap()).unwrap();
    p
}

#[test]
fn every_rule_group_passes_promtool_check_rules() {
    let Some(promtool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let groups = serde_json::to_value(rule_groups(&platform, cluster)).unwrap();
            assert!(
                !groups["groups"].as_array().unwrap().is_empty(),
                "{fixture}/{}: no rules",
                cluster.name
            );
            let f = write_yaml(
                dir.path(),
                &format!("{fixture}-{}.yaml", cluster.name),
                &groups,
            );
            run(Command::new(&promtool).arg("check").arg("rules").arg(&f));
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}

/// One built-in kind: its alert, and input series that put it above and below its threshold.
struct Case {
    alert: Alert,
    above: Vec<(&'static str, &'static str)>,
    below: Vec<(&'static str, &'static str)>,
    /// The alert's value when it fires on `above`.
    value: f64,
    /// Labels of the firing alert that come from the series (the rule adds its own).
    series_labels: Value,
    /// The controlplane evaluates Kafka and Elasticsearch alerts.
    role: Role,
}

fn alert(name: &str, rule: AlertRule, for_minutes: u64, severity: Severity) -> Alert {
    Alert {
        name: name.into(),
        rule,
        for_: PromDuration {
            text: format!("{for_minutes}m"),
            seconds: for_minutes * 60,
        },
        severity,
        summary: format!("{name} test"),
        runbook_url: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            alert: alert(
                "Cpu",
                AlertRule::NodeCpu {
                    threshold_percent: 80.0,
                },
                5,
                Severity::Critical,
            ),
            // Per minute and CPU: idle 6 s, user 54 s (90 % busy); below, half and half, and
            // I/O wait counts as idle (20 s user, 10 s iowait, 30 s idle: 33 % busy).
            above: vec![
                (
                    "node_cpu_seconds_total{mode=\"idle\",cpu=\"0\",instance=\"10.0.1.5:9100\",node=\"n1\"}",
                    "0+6x60",
                ),
                (
                    "node_cpu_seconds_total{mode=\"user\",cpu=\"0\",instance=\"10.0.1.5:9100\",node=\"n1\"}",
                    "0+54x60",
                ),
            ],
            below: vec![
                (
                    "node_cpu_seconds_total{mode=\"idle\",cpu=\"0\",instance=\"10.0.1.5:9100\",node=\"n1\"}",
                    "0+30x60",
                ),
                (
                    "node_cpu_seconds_total{mode=\"iowait\",cpu=\"0\",instance=\"10.0.1.5:9100\",node=\"n1\"}",
                    "0+10x60",
                ),
                (
                    "node_cpu_seconds_total{mode=\"user\",cpu=\"0\",instance=\"10.0.1.5:9100\",node=\"n1\"}",
                    "0+20x60",
                ),
            ],
            value: 90.0,
            series_labels: json!({ "instance": "10.0.1.5:9100", "node": "n1" }),
            role: Role::Workload,
        },
        Case {
            alert: alert(
                "Mem",
                AlertRule::NodeMemory {
                    threshold_percent: 90.0,
                },
                10,
                Severity::Warning,
            ),
            above: vec![
                (
                    "node_memory_MemAvailable_bytes{instance=\"n1\",node=\"n1\"}",
                    "5x60",
                ),
                (
                    "node_memory_MemTotal_bytes{instance=\"n1\",node=\"n1\"}",
                    "100x60",
                ),
            ],
            below: vec![
                (
                    "node_memory_MemAvailable_bytes{instance=\"n1\",node=\"n1\"}",
                    "50x60",
                ),
                (
                    "node_memory_MemTotal_bytes{instance=\"n1\",node=\"n1\"}",
                    "100x60",
                ),
            ],
            value: 95.0,
            series_labels: json!({ "instance": "n1", "node": "n1" }),
            role: Role::Workload,
        },
        Case {
            alert: alert(
                "Disk",
                AlertRule::NodeDisk {
                    threshold_percent: 85.0,
                },
                15,
                Severity::Warning,
            ),
            above: vec![
                (
                    "node_filesystem_avail_bytes{instance=\"n1\",node=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "10x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",node=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "100x60",
                ),
            ],
            // A full tmpfs is not a node disk: only the ext4 one counts, and it is half full.
            below: vec![
                (
                    "node_filesystem_avail_bytes{instance=\"n1\",node=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "50x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",node=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "100x60",
                ),
                (
                    "node_filesystem_avail_bytes{instance=\"n1\",node=\"n1\",fstype=\"tmpfs\",mountpoint=\"/run\"}",
                    "1x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",node=\"n1\",fstype=\"tmpfs\",mountpoint=\"/run\"}",
                    "100x60",
                ),
            ],
            value: 90.0,
            series_labels: json!({ "instance": "n1", "node": "n1", "fstype": "ext4", "mountpoint": "/" }),
            role: Role::Workload,
        },
        Case {
            alert: alert(
                "Crash",
                AlertRule::PodCrashLooping { restarts: 3.0 },
                15,
                Severity::Warning,
            ),
            // A restart a minute, against one every ten minutes (at most 2 in any 15 minutes).
            above: vec![(
                "kube_pod_container_status_restarts_total{namespace=\"shop\",pod=\"p\",container=\"c\"}",
                "0+1x60",
            )],
            below: vec![(
                "kube_pod_container_status_restarts_total{namespace=\"shop\",pod=\"p\",container=\"c\"}",
                "0x9 1x9 2x9 3x9 4x9 5x9",
            )],
            value: 15.0,
            series_labels: json!({ "namespace": "shop", "pod": "p", "container": "c" }),
            role: Role::Workload,
        },
        Case {
            alert: alert(
                "Lag",
                AlertRule::KafkaConsumerLag {
                    messages: 100_000.0,
                },
                10,
                Severity::Critical,
            ),
            above: vec![
                (
                    "kafka_consumergroup_lag{consumergroup=\"logstash\",topic=\"t\",partition=\"0\"}",
                    "80000x60",
                ),
                (
                    "kafka_consumergroup_lag{consumergroup=\"logstash\",topic=\"t\",partition=\"1\"}",
                    "30000x60",
                ),
            ],
            below: vec![
                (
                    "kafka_consumergroup_lag{consumergroup=\"logstash\",topic=\"t\",partition=\"0\"}",
                    "60000x60",
                ),
                (
                    "kafka_consumergroup_lag{consumergroup=\"logstash\",topic=\"t\",partition=\"1\"}",
                    "30000x60",
                ),
            ],
            value: 110_000.0,
            series_labels: json!({ "consumergroup": "logstash", "topic": "t" }),
            role: Role::Controlplane,
        },
        Case {
            alert: alert(
                "EsHealth",
                AlertRule::ElasticsearchHealth,
                5,
                Severity::Critical,
            ),
            above: vec![
                (
                    "elasticsearch_cluster_health_status{cluster=\"es\",color=\"green\"}",
                    "0x60",
                ),
                (
                    "elasticsearch_cluster_health_status{cluster=\"es\",color=\"yellow\"}",
                    "1x60",
                ),
            ],
            below: vec![
                (
                    "elasticsearch_cluster_health_status{cluster=\"es\",color=\"green\"}",
                    "1x60",
                ),
                (
                    "elasticsearch_cluster_health_status{cluster=\"es\",color=\"yellow\"}",
                    "0x60",
                ),
            ],
            value: 0.0,
            // The rule's `cluster` label (the Flotilla cluster) replaces the exporter's.
            series_labels: json!({}),
            role: Role::Controlplane,
        },
    ]
}

/// Expands the two template forms the rendered annotations use, `{{ $labels.x }}` and
/// `{{ $value | printf "%.Nf" }}`, as Prometheus would; a label the alert does not carry is a
/// test failure (Prometheus would print nothing, and the summary would name nothing).
fn expand(template: &str, labels: &Value, value: f64) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed template") + start;
        let inner = rest[start + 2..end].trim();
        if let Some(label) = inner.strip_prefix("$labels.") {
            let v = labels[label]
                .as_str()
                .unwrap_or_else(|| panic!("template {template:?} reads label {label}, which the alert does not have: {labels}"));
            out.push_str(v);
        } else if let Some(spec) = inner.strip_prefix("$value | printf \"%.") {
            let digits: usize = spec
                .trim_end_matches("f\"")
                .parse()
                .expect("printf precision");
            out.push_str(&format!("{value:.digits$}"));
        } else {
            panic!("template form {inner:?} is not expanded by this test");
        }
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

fn series(list: &[(&str, &str)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(s, v)| json!({ "series": s, "values": v }))
            .collect(),
    )
}

#[test]
fn every_builtin_alert_kind_fires_above_its_threshold_and_not_below() {
    let Some(promtool) = promtool() else { return };
    let seed = common::fixtures().remove(0).1;
    let cases = cases();
    let mut kinds: Vec<&str> = cases.iter().map(|c| c.alert.rule.kind_name()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 6, "one case per built-in kind");

    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut platform: Platform = seed.clone();
        platform.observability.alerts = vec![case.alert.clone()];
        let cluster: &Cluster = platform
            .clusters
            .iter()
            .find(|c| c.role == case.role)
            .unwrap();
        // The rule under test is the rendered one, not a copy.
        let groups = serde_json::to_value(rule_groups(&platform, cluster)).unwrap();
        write_yaml(dir.path(), "rules.yaml", &groups);

        let mut labels = case.series_labels.clone();
        for (k, v) in [
            ("alertname", case.alert.name.as_str()),
            ("severity", case.alert.severity.as_str()),
            ("environment", cluster.environment.as_str()),
            ("cluster", cluster.name.as_str()),
            ("alert_kind", case.alert.rule.kind_name()),
        ] {
            labels[k] = json!(v);
        }
        let for_min = case.alert.for_.seconds / 60;
        // Rates need a few samples; the condition then holds for `for`, plus a margin.
        let fire_at = format!("{}m", for_min + 6);
        let rule = &groups["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["alert"] == case.alert.name.as_str())
            .unwrap()
            .clone();
        let annotations: serde_json::Map<String, Value> = rule["annotations"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    json!(expand(t.as_str().unwrap(), &labels, case.value)),
                )
            })
            .collect();
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                annotations.contains_key(key),
                "{}: no {key}",
                case.alert.name
            );
        }
        assert!(
            rule["for"].is_string(),
            "{}: every built-in has a `for`",
            case.alert.name
        );
        let firing = json!([{ "exp_labels": labels, "exp_annotations": annotations }]);
        let above_checks = vec![
            json!({ "eval_time": fire_at, "alertname": case.alert.name, "exp_alerts": firing }),
            // Before its duration has passed the alert is only pending.
            json!({
                "eval_time": format!("{}m", 1 + for_min / 2),
                "alertname": case.alert.name,
                "exp_alerts": [],
            }),
        ];
        let tests = json!({
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "name": "above",
                    "interval": "1m",
                    "input_series": series(&case.above),
                    "alert_rule_test": above_checks,
                },
                {
                    "name": "below",
                    "interval": "1m",
                    "input_series": series(&case.below),
                    "alert_rule_test": [
                        { "eval_time": fire_at, "alertname": case.alert.name, "exp_alerts": [] },
                        { "eval_time": "50m", "alertname": case.alert.name, "exp_alerts": [] },
                    ],
                },
            ],
        });
        let t = write_yaml(dir.path(), "tests.yaml", &tests);
        let out = Command::new(&promtool)
            .current_dir(dir.path())
            .arg("test")
            .arg("rules")
            .arg(&t)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: promtool test rules failed\nrules:\n{}\n{}{}",
            case.alert.rule.kind_name(),
            serde_norway::to_string(&groups).unwrap(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn alertmanager_config_passes_amtool_and_routes_as_the_model_says() {
    let Some(amtool) = amtool() else { return };
    for (fixture, platform) in common::fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::to_value(alertmanager_config(&platform)).unwrap();
        let f = write_yaml(dir.path(), "alertmanager.yaml", &config);
        run(Command::new(&amtool).arg("check-config").arg(&f));
        for env in platform.targets() {
            for sev in Severity::ALL {
                let out = run(Command::new(&amtool)
                    .args(["config", "routes", "test"])
                    .arg(format!("--config.file={}", f.display()))
                    .arg(format!("environment={env}"))
                    .arg(format!("severity={sev}")));
                let want = platform.observability.receivers_for(env, sev);
                let mut got: Vec<String> = out.trim().split('+').map(str::to_string).collect();
                got.sort();
                let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
                want.sort();
                assert_eq!(got, want, "{fixture}: {env}/{sev}");
            }
        }
        let route = |labels: &[&str]| -> Vec<String> {
            let out = run(Command::new(&amtool)
                .args(["config", "routes", "test"])
                .arg(format!("--config.file={}", f.display()))
                .args(labels));
            let mut got: Vec<String> = out.trim().split('+').map(str::to_string).collect();
            got.sort();
            got
        };
        // Labels outside the model reach every receiver through a route of their own; no
        // alert falls through to the root.
        let mut everyone: Vec<String> = platform
            .observability
            .routing
            .iter()
            .flat_map(|r| r.receivers.iter().cloned())
            .collect();
        everyone.sort();
        everyone.dedup();
        let env = platform.targets()[0];
        for labels in [
            vec![
                "environment=nowhere".to_string(),
                "severity=critical".to_string(),
            ],
            vec![format!("environment={env}"), "severity=page".to_string()],
            vec![format!("environment={env}")],
            vec!["severity=warning".to_string()],
            vec![],
        ] {
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            assert_eq!(route(&labels), everyone, "{fixture}: {labels:?}");
        }
        for env in platform.targets() {
            for sev in ["critical", "warning", "info", "none", "page"] {
                let got = route(&[&format!("environment={env}"), &format!("severity={sev}")]);
                assert_ne!(
                    got,
                    vec![flotilla_helm::alerts::UNROUTED.to_string()],
                    "{fixture}: {env}/{sev} fell through"
                );
            }
        }
        // The heartbeat goes to the dead man's switch only (or, without one, nowhere).
        let watchdog = platform
            .observability
            .watchdog_receiver
            .clone()
            .unwrap_or_else(|| flotilla_helm::alerts::WATCHDOG_UNWATCHED.to_string());
        assert_eq!(
            route(&[
                "alertname=Watchdog",
                &format!("environment={env}"),
                "severity=none"
            ]),
            vec![watchdog],
            "{fixture}"
        );
        // The configuration, as the controlplane's values carry it.
        let cp = platform.controlplane();
        let values = flotilla_helm::release_values(&platform, cp, "kube-prometheus-stack").unwrap();
        assert_eq!(values["alertmanager"]["config"], config, "{fixture}");
    }
}

/// A node younger than the CPU rule's 5-minute window, 60 % busy since it booted: the rule
/// reads busy time over all CPU time, so it sees 60 %, not more (the earlier
/// `1 - rate(idle[5m])` divided two minutes of idle time by the whole window and read a fresh,
/// mostly idle node as busy).
#[test]
fn a_fresh_node_at_sixty_percent_does_not_read_as_busy() {
    let Some(promtool) = promtool() else { return };
    let mut platform = common::fixtures().remove(0).1;
    let cpu = alert(
        "Cpu",
        AlertRule::NodeCpu {
            threshold_percent: 80.0,
        },
        1,
        Severity::Critical,
    );
    platform.observability.alerts = vec![cpu];
    let cluster = platform
        .clusters
        .iter()
        .find(|c| c.role == Role::Workload)
        .unwrap();
    let groups = serde_json::to_value(rule_groups(&platform, cluster)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_yaml(dir.path(), "rules.yaml", &groups);
    // Two CPUs; the node appears at minute 10 with 15 s of uptime counted, then every 15 s
    // each CPU spends 9 s busy (user, system) and 6 s idle.
    let input: Vec<Value> = ["0", "1"]
        .iter()
        .flat_map(|cpu| {
            [("idle", "2+6x20"), ("user", "4+6x20"), ("system", "1+3x20")].map(|(mode, values)| {
                json!({
                    "series": format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\",instance=\"10.0.1.9:9100\",node=\"fresh\"}}"),
                    "values": format!("_x40 {values}"),
                })
            })
        })
        .collect();
    let busy = "100 * sum by (instance, node) (rate(node_cpu_seconds_total{mode!~\"idle|iowait\"}[5m])) / sum by (instance, node) (rate(node_cpu_seconds_total[5m]))";
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": input,
            // 1 and 2 minutes after the node appeared, and when the window is full.
            "alert_rule_test": [
                { "eval_time": "11m", "alertname": "Cpu", "exp_alerts": [] },
                { "eval_time": "12m", "alertname": "Cpu", "exp_alerts": [] },
                { "eval_time": "15m", "alertname": "Cpu", "exp_alerts": [] },
            ],
            // Between 55 and 65 % a minute after it appeared (rate extrapolation blurs the
            // first samples), and exactly 60 % once the window is full.
            "promql_expr_test": [
                { "expr": format!("({busy} > bool 55) * ({busy} < bool 65)"), "eval_time": "11m", "exp_samples": [
                    { "labels": "{instance=\"10.0.1.9:9100\",node=\"fresh\"}", "value": 1 }
                ]},
                { "expr": format!("round({busy})"), "eval_time": "16m", "exp_samples": [
                    { "labels": "{instance=\"10.0.1.9:9100\",node=\"fresh\"}", "value": 60 }
                ]},
            ],
        }],
    });
    let t = write_yaml(dir.path(), "tests.yaml", &tests);
    let rendered = groups["groups"][0]["rules"][0]["expr"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        rendered.starts_with(busy),
        "the test reads the rendered expression: {rendered}"
    );
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules"])
        .arg(&t)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The expression 61d7c3d rendered reads the same node above 80 %.
    let old = "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m])))";
    let mut old_tests = tests.clone();
    old_tests["tests"][0]["promql_expr_test"] =
        json!([{ "expr": format!("{old} > 80"), "eval_time": "11m", "exp_samples": [] }]);
    old_tests["tests"][0]["alert_rule_test"] = json!([]);
    let t = write_yaml(dir.path(), "old.yaml", &old_tests);
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules"])
        .arg(&t)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() && text.contains("got: {instance=\"10.0.1.9:9100\"}"),
        "the old expression was expected to read the fresh node above 80 %:\n{text}"
    );
    eprintln!("61d7c3d's CPU expression on the fresh node: {text}");
}

/// Every rendered alert, built-in or Flotilla's own, links a section of docs/runbooks.md that
/// exists (an explicit `<a id="...">` there), under the platform's `runbooks_url`; and every
/// built-in kind has its section.
#[test]
fn every_alert_links_a_runbook_section_that_exists() {
    let runbooks = std::fs::read_to_string(flotilla_testkit::repo_root().join("docs/runbooks.md"))
        .expect("docs/runbooks.md");
    let anchors: Vec<&str> = runbooks
        .split("<a id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    let mut linked = std::collections::BTreeSet::new();
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let groups = serde_json::to_value(rule_groups(&platform, cluster)).unwrap();
            for rule in groups["groups"][0]["rules"].as_array().unwrap() {
                let url = rule["annotations"]["runbook_url"]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!(
                            "{fixture}/{}: {} has no runbook_url",
                            cluster.name, rule["alert"]
                        )
                    });
                let (page, section) = url.split_once('#').expect("a section");
                assert_eq!(
                    page, platform.observability.runbooks_url,
                    "{fixture}: {url}"
                );
                assert!(
                    anchors.contains(&section),
                    "{fixture}: {} links #{section}, which docs/runbooks.md does not have ({anchors:?})",
                    rule["alert"]
                );
                for key in ["summary", "description"] {
                    assert!(
                        rule["annotations"][key]
                            .as_str()
                            .is_some_and(|s| !s.is_empty()),
                        "{fixture}: {} has no {key}",
                        rule["alert"]
                    );
                }
                linked.insert(section.to_string());
            }
        }
    }
    for kind in [
        "node_cpu",
        "node_memory",
        "node_disk",
        "pod_crash_looping",
        "kafka_consumer_lag",
        "elasticsearch_health",
        "promql",
        "watchdog",
        "notifications_failing",
    ] {
        let section = flotilla_helm::alerts::runbook_section(kind);
        assert!(
            anchors.contains(&section.as_str()),
            "no runbook section #{section}"
        );
    }
    assert!(
        linked.contains("watchdog") && linked.contains("notifications-failing"),
        "{linked:?}"
    );
}

/// Flotilla's own rules, as rendered for the controlplane: the Watchdog fires from the first
/// evaluation, and failed notifications fire after 5 minutes of failures, not on a counter that
/// stands still.
#[test]
fn the_watchdog_always_fires_and_failed_notifications_page() {
    let Some(promtool) = promtool() else { return };
    let platform = common::fixtures().remove(0).1;
    let cp = platform.controlplane();
    let groups = serde_json::to_value(rule_groups(&platform, cp)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_yaml(dir.path(), "rules.yaml", &groups);
    let rule = |name: &str| {
        groups["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["alert"] == name)
            .unwrap_or_else(|| panic!("no {name} rule"))
            .clone()
    };
    let labels = |name: &str, extra: Value| {
        let mut l = rule(name)["labels"].clone();
        l["alertname"] = json!(name);
        for (k, v) in extra.as_object().unwrap() {
            l[k] = v.clone();
        }
        l
    };
    let annotations = |name: &str, series: &Value, value: f64| {
        let a: serde_json::Map<String, Value> = rule(name)["annotations"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, t)| (k.clone(), json!(expand(t.as_str().unwrap(), series, value))))
            .collect();
        Value::Object(a)
    };
    let failing =
        "alertmanager_notifications_failed_total{integration=\"slack\",instance=\"am-0\"}";
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "failing",
                "interval": "1m",
                // Six failures a minute: 0.1 per second.
                "input_series": [{ "series": failing, "values": "0+6x20" }],
                "alert_rule_test": [
                    { "eval_time": "0m", "alertname": "Watchdog", "exp_alerts": [{
                        "exp_labels": labels("Watchdog", json!({})),
                        "exp_annotations": annotations("Watchdog", &json!({}), 1.0),
                    }]},
                    { "eval_time": "3m", "alertname": "AlertmanagerNotificationsFailing", "exp_alerts": [] },
                    { "eval_time": "12m", "alertname": "AlertmanagerNotificationsFailing", "exp_alerts": [{
                        "exp_labels": labels("AlertmanagerNotificationsFailing", json!({"integration": "slack"})),
                        "exp_annotations": annotations("AlertmanagerNotificationsFailing", &json!({"integration": "slack"}), 0.1),
                    }]},
                ],
            },
            {
                "name": "delivered",
                "interval": "1m",
                "input_series": [{ "series": failing, "values": "3x20" }],
                "alert_rule_test": [
                    { "eval_time": "15m", "alertname": "AlertmanagerNotificationsFailing", "exp_alerts": [] },
                ],
            },
        ],
    });
    let t = write_yaml(dir.path(), "tests.yaml", &tests);
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules"])
        .arg(&t)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A summary is free text: braces in it (an unclosed `{{`, a `{{ $labels.x }}` someone pasted)
/// show as written, where Prometheus would expand them as a Go template and promtool would
/// refuse an unclosed action.
#[test]
fn a_summary_with_template_braces_shows_as_written() {
    let Some(promtool) = promtool() else { return };
    let mut platform = common::fixtures().remove(0).1;
    let text = "Disk {{ .Labels.x and {{ $labels.instance }} }} full";
    let mut a = alert(
        "Braces",
        AlertRule::Promql {
            expr: "vector(1)".into(),
        },
        1,
        Severity::Critical,
    );
    a.summary = text.into();
    platform.observability.alerts = vec![a];
    let cluster = platform
        .clusters
        .iter()
        .find(|c| c.role == Role::Workload)
        .unwrap()
        .clone();
    let groups = serde_json::to_value(rule_groups(&platform, &cluster)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = write_yaml(dir.path(), "rules.yaml", &groups);
    run(Command::new(&promtool).arg("check").arg("rules").arg(&f));
    let rule = &groups["groups"][0]["rules"][0];
    let mut labels = rule["labels"].clone();
    labels["alertname"] = json!("Braces");
    let summary = format!(
        "{text}: {}",
        rule["annotations"]["summary"]
            .as_str()
            .unwrap()
            .rsplit_once(": ")
            .unwrap()
            .1
    );
    let tests = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [],
            "alert_rule_test": [{
                "eval_time": "5m",
                "alertname": "Braces",
                "exp_alerts": [{
                    "exp_labels": labels,
                    "exp_annotations": {
                        "summary": summary,
                        // The description is a template of ours: its value expanded.
                        "description": rule["annotations"]["description"]
                            .as_str()
                            .unwrap()
                            .replace("{{ $value | printf \"%.1f\" }}", "1.0"),
                        "runbook_url": rule["annotations"]["runbook_url"],
                    },
                }],
            }],
        }],
    });
    let t = write_yaml(dir.path(), "tests.yaml", &tests);
    let out = Command::new(&promtool)
        .current_dir(dir.path())
        .args(["test", "rules"])
        .arg(&t)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
