//! Every pod Flotilla creates or configures meets the Pod Security Standard its namespace
//! enforces (`pod-security.kubernetes.io/enforce`), as Pod Security Admission would check it
//! (`flotilla_testkit::pss`, every control of baseline and restricted):
//!
//! - the pods of Flotilla's own manifests (Jobs, Deployments, ...);
//! - the pods operators make from custom resources: ECK's `podTemplate` with the defaults ECK
//!   3.5.0 adds when a template sets none, Strimzi's `template` with its baseline provider's;
//! - chart workloads as far as the chart's pinned defaults plus the generated values define
//!   their pod and container security contexts (`CHART_WORKLOADS`; the charts' templates are not
//!   in the reference data, so what a template hard-codes is not seen).
//!
//! On main at 61d7c3d the ECK operator failed `restricted` in elastic-system (no seccomp
//! profile): the StatefulSet's pods were refused, and no Elasticsearch, Kibana or Logstash was
//! ever made (F2 of the Kubernetes review).

mod common;

use std::collections::BTreeMap;

use flotilla_helm::{manifests, release_values, releases};
use flotilla_model::{Cluster, Platform};
use flotilla_testkit::chart_values::ChartDefaults;
use flotilla_testkit::pss::{self, Level};
use serde_json::{Value, json};

/// Where a chart's values put a workload's pod security context, its containers' and its host
/// access. Paths are values paths (`a.b.c`); `None` where the chart takes no value.
struct ChartWorkload {
    chart: &'static str,
    workload: &'static str,
    /// Only when this values path is true (e.g. a subchart's `enabled`).
    when: Option<&'static str>,
    pod: Option<&'static str>,
    containers: &'static [(&'static str, &'static str)],
    host_network: Option<&'static str>,
    host_pid: Option<&'static str>,
    /// A values path holding a list of volumes (as in a pod spec).
    volumes: Option<&'static str>,
    /// Host paths the chart's templates always mount (read from its documentation where the
    /// values have no list of them).
    fixed_host_paths: &'static [&'static str],
}

const CHART_WORKLOADS: &[ChartWorkload] = &[
    ChartWorkload {
        chart: "eck-operator",
        workload: "elastic-operator",
        when: None,
        pod: Some("podSecurityContext"),
        containers: &[("manager", "securityContext")],
        host_network: Some("hostNetwork"),
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "strimzi-kafka-operator",
        workload: "strimzi-cluster-operator",
        when: None,
        pod: Some("podSecurityContext"),
        containers: &[("strimzi-cluster-operator", "securityContext")],
        host_network: None,
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "fluent-bit",
        workload: "fluent-bit",
        when: None,
        pod: Some("podSecurityContext"),
        containers: &[("fluent-bit", "securityContext")],
        host_network: Some("hostNetwork"),
        host_pid: None,
        volumes: Some("daemonSetVolumes"),
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "grafana",
        workload: "grafana",
        when: None,
        pod: Some("securityContext"),
        containers: &[
            ("grafana", "containerSecurityContext"),
            ("init-chown-data", "initChownData.securityContext"),
        ],
        host_network: None,
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "prometheus-elasticsearch-exporter",
        workload: "exporter",
        when: None,
        pod: Some("podSecurityContext"),
        containers: &[("exporter", "securityContext")],
        host_network: None,
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "kube-prometheus-stack",
        workload: "prometheus-operator",
        when: None,
        pod: Some("prometheusOperator.securityContext"),
        containers: &[(
            "prometheus-operator",
            "prometheusOperator.containerSecurityContext",
        )],
        host_network: None,
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "kube-prometheus-stack",
        workload: "kube-state-metrics",
        when: None,
        pod: Some("kube-state-metrics.securityContext"),
        containers: &[(
            "kube-state-metrics",
            "kube-state-metrics.containerSecurityContext",
        )],
        host_network: Some("kube-state-metrics.hostNetwork"),
        host_pid: None,
        volumes: None,
        fixed_host_paths: &[],
    },
    ChartWorkload {
        chart: "kube-prometheus-stack",
        workload: "prometheus-node-exporter",
        when: None,
        pod: Some("prometheus-node-exporter.securityContext"),
        containers: &[(
            "node-exporter",
            "prometheus-node-exporter.containerSecurityContext",
        )],
        host_network: Some("prometheus-node-exporter.hostNetwork"),
        host_pid: Some("prometheus-node-exporter.hostPID"),
        volumes: None,
        // The node exporter's DaemonSet mounts /proc and /sys of the node (chart templates).
        fixed_host_paths: &["/proc", "/sys"],
    },
];

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

/// The pod spec of a chart workload from its effective values.
fn chart_pod(w: &ChartWorkload, values: &Value) -> Value {
    let mut spec = json!({
        "securityContext": w.pod.map(|p| at(values, p).clone()).unwrap_or(Value::Null),
        "containers": w.containers.iter().map(|(name, path)| json!({
            "name": name,
            "securityContext": at(values, path),
        })).collect::<Vec<_>>(),
    });
    if let Some(p) = w.host_network {
        spec["hostNetwork"] = at(values, p).clone();
    }
    if let Some(p) = w.host_pid {
        spec["hostPID"] = at(values, p).clone();
    }
    let mut volumes: Vec<Value> = w
        .volumes
        .map(|p| at(values, p).as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    for (i, path) in w.fixed_host_paths.iter().enumerate() {
        volumes.push(json!({ "name": format!("host-{i}"), "hostPath": { "path": path } }));
    }
    spec["volumes"] = Value::Array(volumes);
    spec
}

/// `pod-security.kubernetes.io/enforce` of every namespace the cluster's manifests create.
fn levels(platform: &Platform, cluster: &Cluster) -> BTreeMap<String, Level> {
    let mut out = BTreeMap::new();
    for m in manifests(platform, cluster) {
        for o in m.objects.iter().filter(|o| o["kind"] == "Namespace") {
            let name = o["metadata"]["name"].as_str().unwrap().to_string();
            let level = o["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
                .as_str()
                .and_then(Level::parse)
                .unwrap_or_else(|| panic!("namespace {name} enforces no Pod Security level"));
            out.insert(name, level);
        }
    }
    out
}

/// The defaults ECK 3.5.0 gives the pods it makes when the template sets no security context
/// (cloud-on-k8s `pkg/controller/common/defaults/pod_template.go`,
/// `elasticsearch/nodespec/podspec.go`, `elasticsearch/securitycontext`, `kibana/securitycontext.go`,
/// `logstash/pod.go`): a pod with fsGroup 1000 and seccomp RuntimeDefault; Elasticsearch's
/// containers without privilege escalation or capabilities, as non-root; Kibana's likewise but
/// with `runAsUser` rather than `runAsNonRoot`; Logstash's main container with none.
fn eck_pod(kind: &str, template: &Value) -> Value {
    let mut spec = template["spec"].clone();
    if spec.is_null() {
        spec = json!({});
    }
    if spec["securityContext"].is_null() {
        spec["securityContext"] =
            json!({ "fsGroup": 1000, "seccompProfile": { "type": "RuntimeDefault" } });
    }
    let default_container = match kind {
        "Elasticsearch" => json!({
            "privileged": false, "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] }, "runAsNonRoot": true,
        }),
        "Kibana" => json!({
            "privileged": false, "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] }, "runAsUser": 1000, "runAsGroup": 1000,
        }),
        _ => Value::Null,
    };
    let (main, init) = match kind {
        "Elasticsearch" => ("elasticsearch", "elastic-internal-init-filesystem"),
        "Kibana" => ("kibana", "elastic-internal-init-config"),
        _ => ("logstash", "logstash-internal-init-config"),
    };
    let init_default = if kind == "Logstash" {
        json!({ "privileged": false })
    } else {
        default_container.clone()
    };
    let mut with = |list: &str, name: &str, default: &Value| {
        let containers = spec[list].as_array().cloned().unwrap_or_default();
        let mut found = false;
        let mut out: Vec<Value> = containers
            .into_iter()
            .map(|mut c| {
                if c["name"] == name {
                    found = true;
                    if c["securityContext"].is_null() {
                        c["securityContext"] = default.clone();
                    }
                }
                c
            })
            .collect();
        if !found {
            out.insert(0, json!({ "name": name, "securityContext": default }));
        }
        spec[list] = Value::Array(out);
    };
    with("containers", main, &default_container);
    with("initContainers", init, &init_default);
    spec
}

/// The pods Strimzi 1.2.0 makes from a Kafka or KafkaNodePool `template` with its baseline
/// provider (`BaselinePodSecurityProvider`): the template's contexts, else `fsGroup: 0` for a
/// broker pod with persistent storage and nothing for its containers.
fn strimzi_pod(template: &Value) -> Value {
    let pod_sc = match &template["pod"]["securityContext"] {
        Value::Null => json!({ "fsGroup": 0 }),
        sc => sc.clone(),
    };
    json!({
        "securityContext": pod_sc,
        "containers": [{ "name": "kafka", "securityContext": template["kafkaContainer"]["securityContext"] }],
        "initContainers": [{ "name": "kafka-init", "securityContext": template["initContainer"]["securityContext"] }],
    })
}

/// Every pod of a cluster: (what it is, namespace, pod spec, annotations).
fn pods(
    reference: &std::path::Path,
    platform: &Platform,
    cluster: &Cluster,
) -> Vec<(String, String, Value, Value)> {
    let mut out = Vec::new();
    for r in releases(platform, cluster) {
        let chart = ChartDefaults::pinned(reference, &r.chart).unwrap_or_else(|e| panic!("{e}"));
        let values = chart.effective(&release_values(platform, cluster, &r.name).unwrap());
        for w in CHART_WORKLOADS.iter().filter(|w| w.chart == r.chart) {
            if w.when.is_some_and(|p| at(&values, p) != &Value::Bool(true)) {
                continue;
            }
            out.push((
                format!(
                    "release {} ({} {}), {}",
                    r.name, r.chart, r.version, w.workload
                ),
                r.namespace.clone(),
                chart_pod(w, &values),
                Value::Null,
            ));
        }
    }
    for m in manifests(platform, cluster) {
        for o in &m.objects {
            let kind = o["kind"].as_str().unwrap_or("");
            let name = o["metadata"]["name"].as_str().unwrap_or("?");
            let ns = o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            let what = format!("{} {kind}/{name}", m.path);
            match kind {
                "Pod" => out.push((
                    what,
                    ns,
                    o["spec"].clone(),
                    o["metadata"]["annotations"].clone(),
                )),
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicaSet" => {
                    let t = &o["spec"]["template"];
                    out.push((
                        what,
                        ns,
                        t["spec"].clone(),
                        t["metadata"]["annotations"].clone(),
                    ));
                }
                "CronJob" => {
                    let t = &o["spec"]["jobTemplate"]["spec"]["template"];
                    out.push((
                        what,
                        ns,
                        t["spec"].clone(),
                        t["metadata"]["annotations"].clone(),
                    ));
                }
                "Elasticsearch" => {
                    for set in o["spec"]["nodeSets"].as_array().into_iter().flatten() {
                        let t = &set["podTemplate"];
                        out.push((
                            format!("{what} nodeSet {}", set["name"].as_str().unwrap_or("?")),
                            ns.clone(),
                            eck_pod(kind, t),
                            t["metadata"]["annotations"].clone(),
                        ));
                    }
                }
                "Kibana" | "Logstash" => {
                    let t = &o["spec"]["podTemplate"];
                    out.push((
                        what,
                        ns,
                        eck_pod(kind, t),
                        t["metadata"]["annotations"].clone(),
                    ));
                }
                "KafkaNodePool" => {
                    out.push((what, ns, strimzi_pod(&o["spec"]["template"]), Value::Null))
                }
                "Kafka" => {
                    let eo = &o["spec"]["entityOperator"]["template"];
                    out.push((
                        format!("{what} entity operator"),
                        ns.clone(),
                        json!({
                            "securityContext": eo["pod"]["securityContext"],
                            "containers": [
                                { "name": "topic-operator", "securityContext": eo["topicOperatorContainer"]["securityContext"] },
                                { "name": "user-operator", "securityContext": eo["userOperatorContainer"]["securityContext"] },
                            ],
                        }),
                        Value::Null,
                    ));
                    if !o["spec"]["kafkaExporter"].is_null() {
                        let ke = &o["spec"]["kafkaExporter"]["template"];
                        out.push((
                            format!("{what} kafka exporter"),
                            ns.clone(),
                            json!({
                                "securityContext": ke["pod"]["securityContext"],
                                "containers": [{ "name": "kafka-exporter", "securityContext": ke["container"]["securityContext"] }],
                            }),
                            Value::Null,
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// What every pod of a platform fails at its namespace's level; (pods checked, per level).
fn violations(
    reference: &std::path::Path,
    platform: &Platform,
) -> (Vec<String>, BTreeMap<String, usize>) {
    let mut out = Vec::new();
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for cluster in &platform.clusters {
        let levels = levels(platform, cluster);
        for (what, ns, spec, annotations) in pods(reference, platform, cluster) {
            // kube-system and other namespaces Flotilla does not create enforce nothing on EKS.
            let level = levels.get(&ns).copied().unwrap_or(Level::Privileged);
            *counted.entry(level.to_string()).or_default() += 1;
            for v in pss::check(&spec, &annotations, level) {
                out.push(format!("{}: {what} in {ns} ({level}): {v}", cluster.name));
            }
        }
    }
    (out, counted)
}

#[test]
fn every_pod_meets_the_pod_security_level_of_its_namespace() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    for (name, platform) in common::fixtures() {
        let (found, counted) = violations(&reference, &platform);
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
        eprintln!("{name}: pods checked per level: {counted:?}");
        assert!(
            counted.get("restricted").copied().unwrap_or(0) >= 1,
            "{name}: {counted:?}"
        );
        assert!(
            counted.get("baseline").copied().unwrap_or(0) >= 5,
            "{name}: {counted:?}"
        );
    }
}

/// The check sees 61d7c3d's ECK operator: its values without a seccomp profile fail
/// `restricted` in elastic-system on the Seccomp control.
#[test]
fn the_eck_operator_without_seccomp_is_refused_in_a_restricted_namespace() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let (_, platform) = common::fixtures().remove(0);
    let cp = platform.controlplane();
    let chart = ChartDefaults::pinned(&reference, "eck-operator").unwrap();
    let mut values = release_values(&platform, cp, "eck-operator").unwrap();
    values.as_object_mut().unwrap().remove("podSecurityContext");
    let w = CHART_WORKLOADS
        .iter()
        .find(|w| w.chart == "eck-operator")
        .unwrap();
    let pod = chart_pod(w, &chart.effective(&values));
    let found = pss::check(&pod, &Value::Null, Level::Restricted);
    assert_eq!(
        found.iter().map(|v| v.control).collect::<Vec<_>>(),
        ["Seccomp"],
        "{found:?}"
    );
    // And with the rendered values it passes.
    let values = release_values(&platform, cp, "eck-operator").unwrap();
    assert!(
        pss::check(
            &chart_pod(w, &chart.effective(&values)),
            &Value::Null,
            Level::Restricted
        )
        .is_empty()
    );
}

/// Fluent Bit and node-exporter mount the node's files: the namespaces they run in are the
/// ones that must stay privileged, and nothing else needs to be.
#[test]
fn only_the_namespaces_of_host_agents_are_privileged() {
    for (name, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let privileged: Vec<String> = levels(&platform, cluster)
                .into_iter()
                .filter(|(_, l)| *l == Level::Privileged)
                .map(|(n, _)| n)
                .collect();
            let want: Vec<&str> = match cluster.role {
                flotilla_model::Role::Workload => vec!["logging", "monitoring"],
                flotilla_model::Role::Controlplane => vec!["monitoring"],
            };
            assert_eq!(privileged, want, "{name}/{}", cluster.name);
        }
    }
}
