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
    assert_eq!(checked, 6);
}

/// One built-in kind: its alert, and input series that put it above and below its threshold.
struct Case {
    alert: Alert,
    above: Vec<(&'static str, &'static str)>,
    below: Vec<(&'static str, &'static str)>,
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
            // Idle 0.1 s per second: 90 % busy; idle 0.5 s per second: 50 % busy.
            above: vec![(
                "node_cpu_seconds_total{mode=\"idle\",instance=\"n1\"}",
                "0+6x60",
            )],
            below: vec![(
                "node_cpu_seconds_total{mode=\"idle\",instance=\"n1\"}",
                "0+30x60",
            )],
            series_labels: json!({ "instance": "n1" }),
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
                ("node_memory_MemAvailable_bytes{instance=\"n1\"}", "5x60"),
                ("node_memory_MemTotal_bytes{instance=\"n1\"}", "100x60"),
            ],
            below: vec![
                ("node_memory_MemAvailable_bytes{instance=\"n1\"}", "50x60"),
                ("node_memory_MemTotal_bytes{instance=\"n1\"}", "100x60"),
            ],
            series_labels: json!({ "instance": "n1" }),
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
                    "node_filesystem_avail_bytes{instance=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "10x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "100x60",
                ),
            ],
            // A full tmpfs is not a node disk: only the ext4 one counts, and it is half full.
            below: vec![
                (
                    "node_filesystem_avail_bytes{instance=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "50x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",fstype=\"ext4\",mountpoint=\"/\"}",
                    "100x60",
                ),
                (
                    "node_filesystem_avail_bytes{instance=\"n1\",fstype=\"tmpfs\",mountpoint=\"/run\"}",
                    "1x60",
                ),
                (
                    "node_filesystem_size_bytes{instance=\"n1\",fstype=\"tmpfs\",mountpoint=\"/run\"}",
                    "100x60",
                ),
            ],
            series_labels: json!({ "instance": "n1", "fstype": "ext4", "mountpoint": "/" }),
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
            // The rule's `cluster` label (the Flotilla cluster) replaces the exporter's.
            series_labels: json!({}),
            role: Role::Controlplane,
        },
    ]
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
        let firing = json!([{
            "exp_labels": labels,
            "exp_annotations": { "summary": case.alert.summary },
        }]);
        let mut above_checks = vec![json!({
            "eval_time": fire_at, "alertname": case.alert.name, "exp_alerts": firing,
        })];
        if !matches!(case.alert.rule, AlertRule::PodCrashLooping { .. }) {
            // Before its duration has passed the alert is only pending.
            above_checks.push(json!({
                "eval_time": format!("{}m", 1 + for_min / 2),
                "alertname": case.alert.name,
                "exp_alerts": [],
            }));
        }
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
        // The configuration, as the controlplane's values carry it.
        let cp = platform.controlplane();
        let values = flotilla_helm::release_values(&platform, cp, "kube-prometheus-stack").unwrap();
        assert_eq!(values["alertmanager"]["config"], config, "{fixture}");
    }
}
