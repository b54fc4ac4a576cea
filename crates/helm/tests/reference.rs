//! Generated output against the pinned upstream reference data (`../shared/reference`):
//! every key path of every values file exists in the pinned chart's `values.yaml` (or its
//! dependencies', or `values.schema.json`), free-form maps only through the allowlist below
//! with a reason each; every custom resource validates against its pinned CRD schema.
//! Every pinned chart has reference data (crates/testkit/tests/chart_values.rs): an invented or
//! mistyped version fails there.

mod common;

use flotilla_helm::{manifests, release_values, releases};
use flotilla_testkit::Finding;
use flotilla_testkit::chart_values::{Allowlist, ChartDefaults};
use flotilla_testkit::crd_schema::CrdSet;
use flotilla_testkit::kube_schema::KubeSchemas;
use serde_json::Value;

/// Free-form content in the values Flotilla writes, by chart, with why it cannot be compared
/// with the chart's defaults.
fn allowlist(chart: &str) -> Allowlist {
    let a = Allowlist::kubernetes_free_form();
    match chart {
        "kube-prometheus-stack" => a
            .allow(
                "alertmanager.config",
                "Alertmanager's own configuration file; checked by amtool check-config (tests/alerting.rs)",
            )
            .allow(
                "prometheus-node-exporter.prometheus.monitor.relabelings",
                "the node-exporter ServiceMonitor's endpoint relabelings, checked field by field and by promtool (node_exporter_relabelings_are_what_prometheus_accepts)",
            )
            .allow(
                "alertmanager.alertmanagerSpec.storage",
                "a StorageSpec (volumeClaimTemplate) passed to the Alertmanager resource",
            )
            .allow(
                "prometheus.prometheusSpec.storageSpec",
                "a StorageSpec (volumeClaimTemplate) passed to the Prometheus resource",
            )
            .allow(
                "prometheus.prometheusSpec.externalLabels",
                "label names and values of our choosing (environment, cluster)",
            )
            .allow(
                "prometheus.prometheusSpec.additionalAlertManagerConfigs",
                "Prometheus alertmanager_config entries, passed through as written",
            )
            .allow(
                "prometheus.additionalPodMonitors",
                "PodMonitor specs the chart renders as they are",
            ),
        "cluster-autoscaler" => a.allow(
            "extraArgs",
            "cluster-autoscaler command-line flags (name: value), any flag of the binary",
        ),
        "aws-load-balancer-controller" => a
            .allow("vpcTags", "AWS tag names and values that identify the VPC")
            .allow("defaultTags", "AWS tags put on every load balancer")
            .allow("podDisruptionBudget", "a PodDisruptionBudget spec"),
        "fluent-bit" => a,
        "nginx-gateway-fabric" => a.allow(
            "nginx.service.patches",
            "NginxProxy Service patches (type + value), applied to the data plane Service",
        ),
        "grafana" => a
            .allow("envValueFrom", "environment variable name -> Kubernetes EnvVarSource")
            .allow("extraSecretMounts", "volume mounts of Secrets, passed through")
            .allow(
                "datasources",
                "Grafana datasource provisioning files (file name -> file content)",
            )
            .allow(
                "dashboardProviders",
                "Grafana dashboard provider provisioning files (file name -> file content)",
            )
            .allow("dashboards", "provider -> dashboard name -> dashboard JSON")
            .allow("podDisruptionBudget", "a PodDisruptionBudget spec"),
        "prometheus-elasticsearch-exporter" => a
            .allow(
                "extraEnvSecrets",
                "environment variable name -> {secret, key}, rendered as secretKeyRef env entries",
            )
            .allow(
                "secretMounts",
                "Secrets mounted into the exporter (name, secretName, path), passed through",
            ),
        _ => a,
    }
}

/// `values` over the chart's defaults, as Helm merges them (maps deeply, everything else
/// replaced): Helm validates `values.schema.json` against this, so `required` fields the
/// defaults provide are satisfied.
fn helm_merge(defaults: &Value, values: &Value) -> Value {
    match (defaults, values) {
        (Value::Object(d), Value::Object(v)) => {
            let mut out = d.clone();
            for (k, x) in v {
                let merged = match d.get(k) {
                    Some(dv) => helm_merge(dv, x),
                    None => x.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => values.clone(),
    }
}

fn pinned_defaults(reference: &std::path::Path, chart: &str) -> Value {
    let version = &flotilla_model::Versions::embedded()
        .chart(chart)
        .version
        .clone();
    let path = reference
        .join("charts")
        .join(chart)
        .join(version)
        .join("values.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn show(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {}: {}", f.path, f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_values_key_exists_in_the_pinned_chart() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let mut checked = 0;
    let mut failures = Vec::new();
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            for r in releases(&platform, cluster) {
                let values = release_values(&platform, cluster, &r.name).unwrap();
                let chart = ChartDefaults::pinned(&reference, &r.chart)
                    .unwrap_or_else(|e| panic!("{}: {e}", r.chart));
                let mut findings = chart.check(&values, &allowlist(&r.chart));
                if chart.has_schema() {
                    // Schema `required`s apply to the merged values, as Helm checks them; the
                    // keys of the generated values were compared above.
                    let merged = helm_merge(&pinned_defaults(&reference, &r.chart), &values);
                    findings = chart.check(&merged, &allowlist(&r.chart));
                }
                if !findings.is_empty() {
                    failures.push(format!(
                        "{fixture}/{}: {} values do not match chart {} {}:\n{}",
                        cluster.name,
                        r.name,
                        r.chart,
                        r.version,
                        show(&findings)
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 20, "only {checked} values files checked");
}

#[test]
fn a_misspelled_values_key_is_caught() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let (_, platform) = common::fixtures().remove(0);
    let cluster = platform.cluster("production").unwrap();
    let chart = ChartDefaults::pinned(&reference, "kube-prometheus-stack").unwrap();
    let mut values = release_values(&platform, cluster, "kube-prometheus-stack").unwrap();
    assert!(
        chart
            .check(&values, &allowlist("kube-prometheus-stack"))
            .is_empty()
    );
    let spec = values["prometheus"]["prometheusSpec"]
        .as_object_mut()
        .unwrap();
    let retention = spec.remove("retention").unwrap();
    spec.insert("retension".into(), retention);
    let findings = chart.check(&values, &allowlist("kube-prometheus-stack"));
    assert!(
        findings.iter().any(|f| f.path.contains("retension")),
        "{findings:?}"
    );

    // A chart with a values.schema.json: an unknown key there is caught as well.
    let ngf = ChartDefaults::pinned(&reference, "nginx-gateway-fabric").unwrap();
    let mut values = release_values(&platform, cluster, "nginx-gateway-fabric").unwrap();
    values["nginx"]["replicaz"] = Value::from(2);
    let findings = ngf.check(&values, &allowlist("nginx-gateway-fabric"));
    assert!(
        findings.iter().any(|f| f.path.contains("replicaz")),
        "{findings:?}"
    );
}

/// The pod templates ECK's custom resources embed without a schema of their own (the CRD
/// preserves unknown fields there): each is a `PodTemplateSpec` the API server checks when ECK
/// creates the StatefulSet or Deployment, so a wrong field would surface only then.
fn embedded_pod_templates(obj: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    match obj["kind"].as_str() {
        Some("Elasticsearch") => {
            for (i, set) in obj["spec"]["nodeSets"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(t) = set.get("podTemplate") {
                    out.push((format!("spec.nodeSets[{i}].podTemplate"), t));
                }
            }
        }
        Some("Kibana" | "Logstash") => {
            if let Some(t) = obj["spec"].get("podTemplate") {
                out.push(("spec.podTemplate".to_string(), t));
            }
        }
        _ => {}
    }
    out
}

/// Every object of every manifest, as the API server would validate it with
/// `fieldValidation=Strict`: built-in kinds against the strict JSON Schemas of the cluster's
/// Kubernetes version (unknown fields are errors), custom resources against their pinned CRD,
/// and the pod templates ECK resources embed against `PodTemplateSpec`. An object neither
/// covers fails the test.
#[test]
fn every_object_validates_as_the_api_server_would() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let crds = CrdSet::pinned(&reference).unwrap();
    let mut schemas = std::collections::BTreeMap::new();
    let mut kinds_seen = std::collections::BTreeSet::new();
    let (mut builtin, mut custom, mut templates) = (0, 0, 0);
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let kube = schemas
                .entry(cluster.kubernetes_version.clone())
                .or_insert_with(|| KubeSchemas::load(&reference, &cluster.kubernetes_version));
            let kube = match kube {
                Ok(k) => k,
                Err(e) => {
                    // Only v1.34 is in the reference data; other versions come from the
                    // kubernetes-validate package .ci/run installs.
                    flotilla_testkit::skip(&format!("{fixture}/{}: {e}", cluster.name));
                    continue;
                }
            };
            for m in manifests(&platform, cluster) {
                for obj in &m.objects {
                    let api = obj["apiVersion"].as_str().unwrap();
                    let kind = obj["kind"].as_str().unwrap();
                    let group = api.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
                    let at = format!(
                        "{fixture}/{}: {kind} {} in {}",
                        cluster.name, obj["metadata"]["name"], m.path
                    );
                    let mut findings = if crds.get(group, kind).is_some() {
                        custom += 1;
                        crds.validate(obj)
                    } else {
                        assert!(
                            kube.knows(api, kind),
                            "{at}: {api} {kind} is neither a pinned CRD nor a built-in API of Kubernetes {}",
                            cluster.kubernetes_version
                        );
                        builtin += 1;
                        kube.validate(obj)
                    };
                    for (path, t) in embedded_pod_templates(obj) {
                        templates += 1;
                        findings.extend(kube.validate_definition(
                            "io.k8s.api.core.v1.PodTemplateSpec",
                            t,
                            &path,
                        ));
                    }
                    assert!(findings.is_empty(), "{at}:\n{}", show(&findings));
                    kinds_seen.insert(kind.to_string());
                }
            }
        }
    }
    eprintln!(
        "validated {builtin} built-in objects, {custom} custom resources, {templates} embedded pod templates"
    );
    let want = [
        "ConfigMap",
        "Elasticsearch",
        "Gateway",
        "HTTPRoute",
        "Job",
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaUser",
        "Kibana",
        "LimitRange",
        "Logstash",
        "Namespace",
        "NetworkPolicy",
        "PrometheusRule",
        "ResourceQuota",
        "RoleBinding",
        "Service",
        "StorageClass",
        "ValidatingAdmissionPolicy",
    ];
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|k| !kinds_seen.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "not validated: {missing:?}; seen {kinds_seen:?}"
    );
    assert!(templates >= 3, "only {templates} embedded pod templates");
}

/// The strict schemas refuse what `kubectl apply --validate=strict` refuses: an unknown field,
/// a wrong type, a missing required field, a wrong field inside an embedded pod template, and a
/// kind the version does not serve.
#[test]
fn a_built_in_object_with_a_wrong_field_is_caught() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let kube = KubeSchemas::load(&reference, "1.34").unwrap();
    let service = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "a"}}
    });
    assert_eq!(kube.validate(&service), vec![], "the good one passes");
    let mut unknown = service.clone();
    unknown["spec"]["ports"][0]["targetport"] = 8080.into();
    let f = kube.validate(&unknown);
    assert!(f.iter().any(|f| f.path.contains("targetport")), "{f:?}");
    let mut wrong_type = service.clone();
    wrong_type["spec"]["ports"][0]["port"] = "80".into();
    let f = kube.validate(&wrong_type);
    assert!(f.iter().any(|f| f.path.contains("ports[0].port")), "{f:?}");
    let mut missing = service.clone();
    missing["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("port");
    let f = kube.validate(&missing);
    assert!(
        f.iter()
            .any(|f| f.path.ends_with("ports[0].port") && f.message.contains("required")),
        "{f:?}"
    );
    let template =
        serde_json::json!({"spec": {"containers": [{"name": "c", "securityContex": {}}]}});
    let f = kube.validate_definition(
        "io.k8s.api.core.v1.PodTemplateSpec",
        &template,
        "spec.podTemplate",
    );
    assert!(f.iter().any(|f| f.path.contains("securityContex")), "{f:?}");
    let beta = serde_json::json!({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "p"}});
    assert!(!kube.knows("policy/v1beta1", "PodSecurityPolicy"));
    assert!(!kube.validate(&beta).is_empty());
}

#[test]
fn a_custom_resource_with_a_wrong_field_is_caught() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let crds = CrdSet::pinned(&reference).unwrap();
    let (_, platform) = common::fixtures().remove(0);
    let cp = platform.controlplane();
    let mut topic = manifests(&platform, cp)
        .into_iter()
        .flat_map(|m| m.objects)
        .find(|o| o["kind"] == "KafkaTopic")
        .unwrap();
    assert!(crds.validate(&topic).is_empty());
    topic["spec"]["partitions"] = Value::from("many");
    topic["spec"]["replicationFactor"] = Value::from(3);
    let findings = crds.validate(&topic);
    assert!(findings.len() >= 2, "{findings:?}");
}

/// The relabelings the node-exporter chart copies into its ServiceMonitor's endpoint. No
/// ServiceMonitor CRD is pinned, so they are checked as the operator uses them: every key is a
/// field of its `RelabelConfig` (camelCase, prometheus-operator API reference), and the
/// Prometheus `relabel_config` the operator generates from them passes `promtool check config`.
#[test]
fn node_exporter_relabelings_are_what_prometheus_accepts() {
    const FIELDS: &[(&str, &str)] = &[
        ("sourceLabels", "source_labels"),
        ("separator", "separator"),
        ("targetLabel", "target_label"),
        ("regex", "regex"),
        ("modulus", "modulus"),
        ("replacement", "replacement"),
        ("action", "action"),
    ];
    let Some(promtool) = flotilla_testkit::tool("promtool", None, "apt-get install prometheus")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let v = release_values(&platform, cluster, "kube-prometheus-stack").unwrap();
            let relabelings = v["prometheus-node-exporter"]["prometheus"]["monitor"]["relabelings"]
                .as_array()
                .unwrap_or_else(|| panic!("{fixture}/{}: no relabelings", cluster.name));
            let mut configs = Vec::new();
            for r in relabelings {
                let mut c = serde_json::Map::new();
                for (k, val) in r.as_object().unwrap() {
                    let Some((_, snake)) = FIELDS.iter().find(|(camel, _)| camel == k) else {
                        panic!(
                            "{fixture}/{}: {k} is not a RelabelConfig field",
                            cluster.name
                        )
                    };
                    c.insert(snake.to_string(), val.clone());
                }
                configs.push(Value::Object(c));
            }
            let config = serde_json::json!({"scrape_configs": [{
                "job_name": "node-exporter",
                // Debian's Prometheus is built without Kubernetes discovery; the relabel
                // configuration is checked the same with any discovery.
                "static_configs": [{"targets": ["127.0.0.1:9100"]}],
                "relabel_configs": configs,
            }]});
            let f = dir.path().join(format!("{fixture}-{}.yml", cluster.name));
            std::fs::write(&f, serde_norway::to_string(&config).unwrap()).unwrap();
            let out = std::process::Command::new(&promtool)
                .args(["check", "config", "--syntax-only"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{fixture}/{}: {}{}",
                cluster.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 6);
}

/// Every chart's `kube_version` in versions.toml is its Chart.yaml `kubeVersion` at the pinned
/// version (and absent where the chart has none): the upgrade plan checks targets against them.
#[test]
fn every_charts_kube_version_is_the_pinned_charts() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let versions = flotilla_model::Versions::embedded();
    for (name, chart) in &versions.charts {
        let path = reference
            .join("charts")
            .join(name)
            .join(&chart.version)
            .join("Chart.yaml");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let meta: Value = serde_norway::from_str(&text).unwrap();
        let upstream = meta["kubeVersion"].as_str().map(str::to_string);
        assert_eq!(chart.kube_version, upstream, "{name} {}", chart.version);
    }
}
