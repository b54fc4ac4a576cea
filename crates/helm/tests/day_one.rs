//! What real EKS clusters need of the generated values and manifests on day one, finding by
//! finding of the Kubernetes review (`../shared/reviews/2026-12-kubernetes.md`), over every
//! cluster of every fixture. Each of these failed on main at 61d7c3d. Pod Security (F2) is in
//! tests/pod_security.rs, server-side apply (F3) in crates/deploy/tests/deploy/kube_api.rs.

mod common;

use flotilla_helm::{crd_bundles, manifests, release_values, releases};
use flotilla_model::{Cluster, Platform, ReceiverKind, Role};
use serde_json::Value;

fn values(platform: &Platform, cluster: &Cluster, release: &str) -> Value {
    release_values(platform, cluster, release)
        .unwrap_or_else(|| panic!("{}: no release {release}", cluster.name))
}

fn objects(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    manifests(platform, cluster)
        .into_iter()
        .flat_map(|m| m.objects)
        .collect()
}

fn every_cluster() -> Vec<(String, Platform, Cluster)> {
    let mut out = Vec::new();
    for (name, platform) in common::fixtures() {
        for c in platform.clusters.clone() {
            out.push((format!("{name}/{}", c.name), platform.clone(), c));
        }
    }
    out
}

/// F1: external-dns watches HTTPRoutes only where the Gateway API CRDs are installed: without
/// them its informers never sync and it exits, leaving the controlplane's Kafka and
/// Alertmanager names unwritten.
#[test]
fn f1_external_dns_sources_follow_the_installed_crds() {
    for (at, platform, cluster) in every_cluster() {
        let sources: Vec<String> = values(&platform, &cluster, "external-dns")["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        let gateway_api = crd_bundles(&platform, &cluster)
            .iter()
            .any(|b| b.name == "gateway-api");
        for s in &sources {
            if s.starts_with("gateway-") {
                assert!(gateway_api, "{at}: source {s} without the Gateway API CRDs");
            }
        }
        assert!(sources.contains(&"service".to_string()), "{at}");
        assert_eq!(
            sources.iter().any(|s| s == "gateway-httproute"),
            cluster.role == Role::Workload,
            "{at}: {sources:?}"
        );
    }
}

/// F5: Amazon SES logs in with the SMTP user name of an IAM user, never the sender address.
#[test]
fn f5_email_logs_in_with_the_models_smtp_user() {
    let mut ses = 0;
    for (name, platform) in common::fixtures() {
        let am = serde_json::to_value(flotilla_helm::alertmanager_config(&platform)).unwrap();
        for r in &platform.observability.receivers {
            let ReceiverKind::Email {
                smarthost,
                smtp_username,
                from,
                ..
            } = &r.kind
            else {
                continue;
            };
            let configs: Vec<&Value> = am["receivers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|x| x["email_configs"].as_array().into_iter().flatten())
                .filter(|c| c["smarthost"] == smarthost.as_str())
                .collect();
            assert!(!configs.is_empty(), "{name}: {}", r.name);
            for c in configs {
                assert_eq!(c["auth_username"], smtp_username.as_str(), "{name}");
                if smarthost.contains(".amazonaws.com") {
                    ses += 1;
                    assert_ne!(
                        c["auth_username"],
                        from.as_str(),
                        "{name}: SES refuses the sender address"
                    );
                }
                assert_eq!(c["require_tls"], true);
            }
        }
    }
    assert!(ses >= 1, "no fixture sends through SES");
}

/// F10: no PodDisruptionBudget forbids every eviction: a chart's PDB is off, or leaves one pod
/// of its replicas free (`maxUnavailable` >= 1, or `minAvailable` below the replicas).
/// Every `podDisruptionBudget` map in a values tree, with the path of its parent ("" at the top).
fn disruption_budgets<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a Value, &'a Value)>) {
    let Some(map) = v.as_object() else { return };
    for (k, child) in map {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        if k == "podDisruptionBudget" {
            out.push((path, child, v));
        } else {
            disruption_budgets(child, &path, out);
        }
    }
}

/// The replicas of the workload a budget protects: its parent's `replicas` or `replicaCount`,
/// or the `replicas` of a `...Spec` beside it (kube-prometheus-stack's `alertmanagerSpec`).
fn budget_replicas(parent: &Value) -> Option<u64> {
    let map = parent.as_object()?;
    for k in ["replicas", "replicaCount"] {
        if let Some(n) = map.get(k).and_then(Value::as_u64) {
            return Some(n);
        }
    }
    map.iter()
        .filter(|(k, _)| k.ends_with("Spec"))
        .find_map(|(_, spec)| spec.get("replicas").and_then(Value::as_u64))
}

/// The budgets in a release's effective values that are on, and of those the ones that block
/// every eviction, each described.
fn blocking_budgets(values: &Value) -> (usize, Vec<String>) {
    let mut found = Vec::new();
    disruption_budgets(values, "", &mut found);
    let mut on = 0;
    let mut blocking = Vec::new();
    for (path, pdb, parent) in found {
        let enabled = match pdb.get("enabled") {
            Some(e) => e.as_bool() == Some(true),
            None => pdb.as_object().is_some_and(|m| {
                m.contains_key("minAvailable") || m.contains_key("maxUnavailable")
            }),
        };
        // A subchart or component that is off renders no budget.
        let component_off = parent.get("enabled").and_then(Value::as_bool) == Some(false);
        // kubectl drain and the autoscaler skip DaemonSet pods: a budget cannot block them.
        let daemonset = parent.get("kind").and_then(Value::as_str) == Some("DaemonSet");
        if !enabled || component_off || daemonset {
            continue;
        }
        on += 1;
        let replicas = budget_replicas(parent);
        let percent = |p: &str| p.trim_end_matches('%').parse::<u64>().ok();
        let evictable = match (&pdb["maxUnavailable"], &pdb["minAvailable"]) {
            (Value::Number(n), _) => n.as_u64() != Some(0),
            (Value::String(p), _) => percent(p) != Some(0),
            (_, Value::Number(min)) => replicas.is_some_and(|r| min.as_u64().unwrap_or(0) < r),
            (_, Value::String(p)) => {
                percent(p).is_some_and(|p| p < 100) && replicas.unwrap_or(1) > 1
            }
            _ => replicas.is_some_and(|r| r > 1),
        };
        if !evictable {
            blocking.push(format!(
                "{path} = {pdb} with {} replicas",
                replicas.map_or("unknown (one by the chart's template)".to_string(), |n| n
                    .to_string())
            ));
        }
    }
    (on, blocking)
}

/// F10: no PodDisruptionBudget blocks every eviction. Every budget in the effective values of
/// every release (the chart's pinned defaults merged with ours, subcharts included) is checked
/// against its workload's replicas: a budget that is on and leaves no pod evictable (a
/// `minAvailable` at or above the replicas, a `maxUnavailable` of 0) makes every node drain,
/// node group update and autoscaler scale-down wait forever. On 61d7c3d the single ECK operator,
/// Strimzi operator and Grafana each had `minAvailable: 1`.
#[test]
fn f10_no_disruption_budget_blocks_a_node_drain() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let pinned = |chart: &str| {
        flotilla_testkit::chart_values::ChartDefaults::pinned(&reference, chart)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let mut on = 0;
    for (at, platform, cluster) in every_cluster() {
        for r in releases(&platform, &cluster) {
            let values =
                pinned(&r.chart).effective(&release_values(&platform, &cluster, &r.name).unwrap());
            let (n, blocking) = blocking_budgets(&values);
            on += n;
            assert!(
                blocking.is_empty(),
                "{at}: release {} ({}) blocks every drain: {}",
                r.name,
                r.chart,
                blocking.join("; ")
            );
        }
    }
    assert!(on >= 3, "only {on} budgets on");
    // The check sees the budget 61d7c3d rendered for Grafana (one replica, minAvailable 1),
    // and one in a subchart's defaults.
    let grafana = pinned("grafana").effective(&serde_json::json!({
        "replicas": 1, "podDisruptionBudget": {"minAvailable": 1}
    }));
    assert_eq!(blocking_budgets(&grafana).1.len(), 1, "{grafana}");
    let kps = pinned("kube-prometheus-stack").effective(&serde_json::json!({
        "alertmanager": {"podDisruptionBudget": {"enabled": true}, "alertmanagerSpec": {"replicas": 1}}
    }));
    let (_, kps_blocking) = blocking_budgets(&kps);
    assert!(
        kps_blocking
            .iter()
            .any(|b| b.starts_with("alertmanager.podDisruptionBudget")),
        "{kps_blocking:?}"
    );
    // Grafana's single pod on a ReadWriteOnce volume is replaced, not rolled.
    let (_, platform) = common::fixtures().remove(0);
    let g = values(&platform, platform.controlplane(), "grafana");
    assert_eq!(g["deploymentStrategy"]["type"], "Recreate");
}

/// F6: every Prometheus sends every alert to every Alertmanager replica: the workloads resolve
/// the replicas' addresses (DNS service discovery of a headless Service the controlplane's
/// external-dns publishes), and no load balancer stands in front of them.
#[test]
fn f6_alertmanager_is_addressed_per_replica() {
    for (at, platform, cluster) in every_cluster() {
        let kps = values(&platform, &cluster, "kube-prometheus-stack");
        let host = flotilla_helm::names::alertmanager_host(&platform);
        match cluster.role {
            Role::Workload => {
                let configs = &kps["prometheus"]["prometheusSpec"]["additionalAlertManagerConfigs"];
                assert_eq!(configs.as_array().unwrap().len(), 1, "{at}");
                let c = &configs[0];
                assert!(
                    c.get("static_configs").is_none(),
                    "{at}: one address behind a load balancer"
                );
                assert_eq!(c["dns_sd_configs"][0]["names"][0], host.as_str(), "{at}");
                assert_eq!(c["dns_sd_configs"][0]["type"], "A", "{at}");
                assert_eq!(c["dns_sd_configs"][0]["port"], 9093, "{at}");
            }
            Role::Controlplane => {
                let svc_type = &kps["alertmanager"]["service"]["type"];
                assert!(
                    svc_type.is_null() || svc_type == "ClusterIP",
                    "{at}: {svc_type}"
                );
                let peers: Vec<Value> = objects(&platform, &cluster)
                    .into_iter()
                    .filter(|o| {
                        o["kind"] == "Service" && o["metadata"]["name"] == "alertmanager-peers"
                    })
                    .collect();
                assert_eq!(peers.len(), 1, "{at}");
                let s = &peers[0];
                assert_eq!(s["metadata"]["namespace"], "monitoring");
                assert_eq!(s["spec"]["clusterIP"], "None", "{at}: headless");
                assert_eq!(
                    s["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"],
                    host.as_str()
                );
                assert_eq!(
                    s["spec"]["selector"]["alertmanager"],
                    "kube-prometheus-stack-alertmanager"
                );
                assert_eq!(s["spec"]["ports"][0]["port"], 9093);
                assert_eq!(
                    kps["alertmanager"]["alertmanagerSpec"]["externalUrl"],
                    format!("http://{host}:9093")
                );
            }
        }
    }
}

/// F7: the gateway's NetworkPolicy opens the port the pods listen on (a NetworkPolicy matches
/// after the Service's translation), not the Service port; F20: an application's egress
/// allowances become one policy, default deny stays.
#[test]
fn f7_f20_policies_open_what_pods_listen_on_and_the_models_egress() {
    // The web route's Service port is 80, its pods listen on 8081.
    let text = common::MINIMAL.replace(
        "service = \"shop-web\"\nport = 80\n",
        "service = \"shop-web\"\nport = 80\ntarget_port = 8081\n",
    );
    assert!(
        text.contains("target_port = 8081"),
        "the fixture's web route"
    );
    let mut platform = common::load_fixture("minimal.toml", &text);
    let app = &mut platform.applications[0];
    app.egress = vec![flotilla_model::Egress {
        cidrs: vec!["169.254.170.23/32".parse().unwrap()],
        namespaces: vec![],
        ports: vec![80],
    }];
    let cluster = platform.workload_clusters().next().unwrap().clone();
    let ns = platform.applications[0].namespace.clone();
    let policies: Vec<Value> = objects(&platform, &cluster)
        .into_iter()
        .filter(|o| o["kind"] == "NetworkPolicy" && o["metadata"]["namespace"] == ns.as_str())
        .collect();
    let by_name = |n: &str| {
        policies
            .iter()
            .find(|p| p["metadata"]["name"] == n)
            .cloned()
    };
    let gateway = by_name("allow-from-gateway").expect("a route opens the gateway");
    let ports: Vec<&Value> = gateway["spec"]["ingress"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["port"])
        .collect();
    assert_eq!(ports, [8080, 8081], "{gateway}");
    let egress = by_name("allow-egress").expect("the model's egress");
    assert_eq!(
        egress["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"],
        "169.254.170.23/32"
    );
    assert_eq!(egress["spec"]["egress"][0]["ports"][0]["port"], 80);
    assert!(by_name("default-deny").is_some());
    // The HTTPRoute still goes to the Service port.
    let route = objects(&platform, &cluster)
        .into_iter()
        .find(|o| o["kind"] == "HTTPRoute" && o["metadata"]["name"] == "shop-root")
        .unwrap();
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][0]["port"], 80);
}

/// F9: the applications see the client's scheme and address: proxy protocol from the NLB,
/// NGINX taking the client address from it (trusted from the VPC only), and
/// `X-Forwarded-Proto: https` on every route of the HTTPS listener (TLS ends at the NLB).
#[test]
fn f9_apps_see_the_clients_scheme_and_address() {
    for (at, platform, cluster) in every_cluster() {
        if cluster.role != Role::Workload {
            continue;
        }
        let ngf = values(&platform, &cluster, "nginx-gateway-fabric");
        let rewrite = &ngf["nginx"]["config"]["rewriteClientIP"];
        assert_eq!(rewrite["mode"], "ProxyProtocol", "{at}");
        assert_eq!(
            rewrite["trustedAddresses"][0]["value"],
            cluster.vpc_cidr.to_string()
        );
        let patches = ngf["nginx"]["service"]["patches"].to_string();
        assert!(
            patches
                .contains("\"service.beta.kubernetes.io/aws-load-balancer-proxy-protocol\":\"*\""),
            "{at}: {patches}"
        );
        for o in objects(&platform, &cluster) {
            if o["kind"] != "HTTPRoute" || o["spec"]["parentRefs"][0]["sectionName"] != "https" {
                continue;
            }
            for rule in o["spec"]["rules"].as_array().unwrap() {
                assert_eq!(
                    rule["filters"][0]["requestHeaderModifier"]["set"][0],
                    serde_json::json!({"name": "X-Forwarded-Proto", "value": "https"}),
                    "{at}: {}",
                    o["metadata"]["name"]
                );
            }
        }
    }
}

/// F21: pods behind an NLB with IP targets get the load balancer controller's readiness gate.
#[test]
fn f21_nlb_targets_get_the_readiness_gate() {
    for (at, platform, cluster) in every_cluster() {
        let gated: Vec<String> = objects(&platform, &cluster)
            .into_iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter(|o| {
                o["metadata"]["labels"]["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"
            })
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        let want: Vec<&str> = match cluster.role {
            Role::Workload => vec!["monitoring", "nginx-gateway"],
            Role::Controlplane => vec!["kafka"],
        };
        assert_eq!(gated, want, "{at}");
    }
}

/// F19: the deletion guard's one way out is per namespace: a protected namespace may be
/// deleted, or lose its protection label, only when it carries the confirmation annotation with
/// its own name. The policy's CEL is evaluated here on the requests the API server would send.
#[test]
fn f19_the_deletion_guard_exemption_is_one_namespace_at_a_time() {
    use cel_interpreter::{Context, Program};
    let (_, platform) = common::fixtures().remove(0);
    let cluster = platform.cluster("production").unwrap();
    let policy = objects(&platform, cluster)
        .into_iter()
        .find(|o| o["kind"] == "ValidatingAdmissionPolicy")
        .expect("a protected cluster has the guard");
    let expr = policy["spec"]["validations"][0]["expression"]
        .as_str()
        .unwrap();
    let program = Program::compile(expr).unwrap();
    let ns = |labels: Value, annotations: Value| serde_json::json!({"metadata": {"name": "api1", "labels": labels, "annotations": annotations}});
    let protected = serde_json::json!({"flotilla.io/protected": "true"});
    let none = serde_json::json!({});
    let confirmed = serde_json::json!({"flotilla.io/delete-confirmed": "api1"});
    let other = serde_json::json!({"flotilla.io/delete-confirmed": "api2"});
    let allowed = |op: &str, old: Value, new: Value| -> bool {
        let mut ctx = Context::default();
        ctx.add_variable("request", serde_json::json!({"operation": op}))
            .unwrap();
        ctx.add_variable("oldObject", old).unwrap();
        ctx.add_variable("object", new).unwrap();
        match program.execute(&ctx).unwrap() {
            cel_interpreter::Value::Bool(b) => b,
            v => panic!("{v:?}"),
        }
    };
    assert!(!allowed(
        "DELETE",
        ns(protected.clone(), none.clone()),
        Value::Null
    ));
    assert!(!allowed(
        "DELETE",
        ns(protected.clone(), other.clone()),
        Value::Null
    ));
    assert!(allowed(
        "DELETE",
        ns(protected.clone(), confirmed.clone()),
        Value::Null
    ));
    assert!(allowed(
        "DELETE",
        ns(none.clone(), none.clone()),
        Value::Null
    ));
    // Taking the label away is guarded the same way; keeping it is any update.
    assert!(!allowed(
        "UPDATE",
        ns(protected.clone(), none.clone()),
        ns(none.clone(), none.clone())
    ));
    assert!(allowed(
        "UPDATE",
        ns(protected.clone(), none.clone()),
        ns(none.clone(), confirmed.clone())
    ));
    assert!(allowed(
        "UPDATE",
        ns(protected.clone(), none.clone()),
        ns(protected.clone(), none.clone())
    ));
    let message = policy["spec"]["validations"][0]["message"]
        .as_str()
        .unwrap();
    assert!(!message.contains("protected = false"), "{message}");
    assert!(message.contains("flotilla.io/delete-confirmed"));
    // The binding selects no namespaces by label (an UPDATE removing it must still match).
    let binding = objects(&platform, cluster)
        .into_iter()
        .find(|o| o["kind"] == "ValidatingAdmissionPolicyBinding")
        .unwrap();
    assert!(binding["spec"]["matchResources"].is_null(), "{binding}");
    // Protected clusters' namespaces carry no confirmation; unprotected ones confirm each.
    for (at, platform, cluster) in every_cluster() {
        for o in objects(&platform, &cluster)
            .into_iter()
            .filter(|o| o["kind"] == "Namespace")
        {
            let c = &o["metadata"]["annotations"]["flotilla.io/delete-confirmed"];
            if cluster.protected {
                assert!(c.is_null(), "{at}: {o}");
            } else {
                assert_eq!(c, &o["metadata"]["name"], "{at}");
            }
        }
    }
}

fn controlplane_object(platform: &Platform, kind: &str) -> Value {
    objects(platform, platform.controlplane())
        .into_iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// F8: every Elasticsearch node set is zone-aware (ECK spreads it over the zones and sets shard
/// allocation awareness), so no zone holds all copies of a shard or all the masters.
#[test]
fn f8_elasticsearch_node_sets_are_zone_aware() {
    for (name, platform) in common::fixtures() {
        let es = controlplane_object(&platform, "Elasticsearch");
        let sets = es["spec"]["nodeSets"].as_array().unwrap();
        assert!(!sets.is_empty());
        for set in sets {
            assert!(set["zoneAwareness"].is_object(), "{name}: {}", set["name"]);
        }
    }
}

/// F11, F16, F17: Fluent Bit measures the node (no per-pod `netif`), keeps its tail offsets
/// and buffers on the node's disk, and the node metrics it ships are read by a dashboard.
#[test]
fn f11_f16_f17_fluent_bit_measures_the_node_keeps_its_place_and_is_read() {
    for (at, platform, cluster) in every_cluster() {
        if cluster.role != Role::Workload {
            continue;
        }
        let v = values(&platform, &cluster, "fluent-bit");
        let inputs = v["config"]["inputs"].as_str().unwrap();
        assert!(
            !inputs.contains("Name netif"),
            "{at}: netif reads the pod's network"
        );
        assert!(
            inputs.contains("DB /var/log/"),
            "{at}: tail offsets survive a restart"
        );
        let service = v["config"]["service"].as_str().unwrap();
        assert!(service.contains("storage.path /var/log/"), "{at}");
        assert_eq!(
            inputs.matches("storage.type filesystem").count(),
            inputs.matches("[INPUT]").count(),
            "{at}: every input buffers on disk"
        );
        assert!(
            v["config"]["outputs"]
                .as_str()
                .unwrap()
                .contains("storage.total_limit_size")
        );
        assert!(
            v["config"]["filters"]
                .as_str()
                .unwrap()
                .contains("Merge_Log_Key app"),
            "{at}"
        );
        assert_eq!(
            v["hotReload"]["enabled"], true,
            "{at}: new Kafka credentials are picked up"
        );
    }
    // A Grafana datasource and dashboard read every environment's metrics data stream.
    for (name, platform) in common::fixtures() {
        let g = values(&platform, platform.controlplane(), "grafana");
        let ds = g["datasources"]["datasources.yaml"]["datasources"]
            .as_array()
            .unwrap();
        for env in platform.environments() {
            let index = format!("metrics-flotilla-{env}");
            assert!(
                ds.iter().any(|d| d["jsonData"]["index"] == index.as_str()),
                "{name}: nothing reads {index}"
            );
        }
        let dash = g["dashboards"]["flotilla"]["node-metrics"]["json"]
            .as_str()
            .unwrap();
        assert!(dash.contains("cpu_p"), "{name}");
    }
}

/// F12: events index without mapping conflicts: Kubernetes labels and annotations (dotted keys)
/// and the applications' merged JSON are `flattened` fields in the logs templates.
#[test]
fn f12_dotted_labels_and_application_json_do_not_conflict() {
    for (name, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        for env in platform.environments() {
            let t = flotilla_helm::index_template(&plan, env, flotilla_model::TopicKind::Logs);
            let props = &t["template"]["mappings"]["properties"];
            assert_eq!(
                props["kubernetes"]["properties"]["labels"]["type"], "flattened",
                "{name}"
            );
            assert_eq!(
                props["kubernetes"]["properties"]["annotations"]["type"],
                "flattened"
            );
            assert_eq!(props["app"]["type"], "flattened");
        }
    }
}

/// F14: a Kafka broker's memory leaves room beyond its heap (at least twice the heap, Strimzi's
/// default ratio): page cache and off-heap memory live inside the same limit.
#[test]
fn f14_kafka_heap_leaves_room_in_its_limit() {
    for (name, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        let k = &plan.kafka;
        assert!(
            k.broker_memory_gib >= 2 * k.broker_heap_gib,
            "{name}: {k:?}"
        );
        let pool = objects(&platform, platform.controlplane())
            .into_iter()
            .find(|o| o["kind"] == "KafkaNodePool" && o["metadata"]["name"] == "brokers")
            .unwrap();
        assert_eq!(
            pool["spec"]["resources"]["limits"]["memory"],
            format!("{}Gi", k.broker_memory_gib)
        );
        assert_eq!(
            pool["spec"]["jvmOptions"]["-Xmx"],
            format!("{}g", k.broker_heap_gib)
        );
    }
}

/// F15: the index templates apply even when Logstash wrote first: the setup Job points existing
/// data streams at Flotilla's lifecycle policy and rolls them over.
#[test]
fn f15_the_setup_job_catches_up_data_streams_logstash_created_first() {
    for (name, platform) in common::fixtures() {
        let cm = objects(&platform, platform.controlplane())
            .into_iter()
            .find(|o| o["kind"] == "ConfigMap" && o["data"]["setup.sh"].is_string())
            .unwrap_or_else(|| panic!("{name}: no setup ConfigMap"));
        let script = cm["data"]["setup.sh"].as_str().unwrap();
        assert!(script.contains("/_data_stream/$name"), "{name}");
        assert!(script.contains("index.lifecycle.name"), "{name}");
        assert!(script.contains("/_rollover"), "{name}");
    }
}

/// F18: the alerts dashboard asks every cluster's Prometheus (each holds only its own alerts),
/// and the ingest dashboard the controlplane's (Kafka's and Elasticsearch's metrics are there).
#[test]
fn f18_dashboards_see_every_cluster() {
    for (name, platform) in common::fixtures() {
        let g = values(&platform, platform.controlplane(), "grafana");
        let dash = |d: &str| -> Value {
            serde_json::from_str(g["dashboards"]["flotilla"][d]["json"].as_str().unwrap()).unwrap()
        };
        let alerts = dash("alerts");
        for p in alerts["panels"].as_array().unwrap() {
            let uids: Vec<&str> = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["datasource"]["uid"].as_str().unwrap())
                .collect();
            for c in &platform.clusters {
                assert!(
                    uids.contains(&format!("prometheus-{}", c.name).as_str()),
                    "{name}: {uids:?}"
                );
            }
        }
        let ingest = dash("ingest");
        assert!(ingest["templating"]["list"].as_array().unwrap().is_empty());
        let cp = format!("prometheus-{}", platform.controlplane().name);
        for p in ingest["panels"].as_array().unwrap() {
            assert_eq!(p["datasource"]["uid"], cp.as_str(), "{name}");
        }
    }
}
