//! Snapshots of everything the Helm renderer writes for the fixture platforms, one snapshot per
//! cluster, plus the structural promises of the output (header, order, paths).

mod common;

use flotilla_helm::{Phase, manifests, releases, render};
use flotilla_model::artifact::header;

/// Snapshots of the fixture platforms' renders. The repository's own platform has none: its
/// render is the committed `helm/`, which `cargo xtask generate --check` and
/// xtask/tests/generated_is_current.rs hold to the renderer, and which a pull request shows.
#[test]
fn snapshots_of_every_cluster() {
    for (fixture, platform) in common::fixtures().into_iter().filter(|(n, _)| *n != "seed") {
        let files = render(&platform);
        for cluster in &platform.clusters {
            let prefix = format!("helm/{}/", cluster.name);
            let text: String = files
                .iter()
                .filter(|a| a.path.starts_with(&prefix))
                .map(|a| format!("### {}\n{}", a.path, a.contents))
                .collect();
            insta::assert_snapshot!(format!("{fixture}-{}", cluster.name), text);
        }
    }
}

#[test]
fn every_file_has_the_header_and_ends_with_a_newline() {
    for (fixture, platform) in common::fixtures() {
        for a in render(&platform) {
            assert!(
                a.contents.starts_with(&header("#")),
                "{fixture}: {} lacks the header",
                a.path
            );
            assert!(a.contents.ends_with('\n'), "{fixture}: {}", a.path);
            assert!(a.path.starts_with("helm/"), "{fixture}: {}", a.path);
        }
    }
}

#[test]
fn rendering_is_deterministic() {
    for (fixture, platform) in common::fixtures() {
        assert_eq!(render(&platform), render(&platform), "{fixture}");
    }
}

#[test]
fn manifests_sort_in_apply_order() {
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let m = manifests(&platform, cluster);
            let phases: Vec<Phase> = m.iter().map(|m| m.phase).collect();
            let mut sorted = phases.clone();
            sorted.sort();
            assert_eq!(
                phases, sorted,
                "{fixture}/{}: paths sort out of phase order",
                cluster.name
            );
            let paths: Vec<&str> = m.iter().map(|m| m.path.as_str()).collect();
            let mut by_name = paths.clone();
            by_name.sort();
            assert_eq!(paths, by_name, "{fixture}/{}", cluster.name);
            // Namespaces come before any object that lives in one.
            let first_ns = m.iter().position(|m| m.phase == Phase::Namespaces);
            assert_eq!(first_ns, Some(0), "{fixture}/{}", cluster.name);
        }
    }
}

#[test]
fn releases_come_after_what_they_need_and_have_values_files() {
    for (fixture, platform) in common::fixtures() {
        let files = render(&platform);
        for cluster in &platform.clusters {
            let rs = releases(&platform, cluster);
            assert!(!rs.is_empty());
            for (i, r) in rs.iter().enumerate() {
                for need in &r.needs {
                    let j = rs.iter().position(|x| &x.name == need);
                    assert!(
                        j.is_some_and(|j| j < i),
                        "{fixture}/{}: {} needs {need}, which is not before it",
                        cluster.name,
                        r.name
                    );
                }
                assert!(
                    files.iter().any(|a| a.path == r.values_file),
                    "{fixture}: no file {}",
                    r.values_file
                );
                let pinned = platform.versions.chart(&r.chart);
                assert_eq!(
                    (&r.repository, &r.version),
                    (&pinned.repository, &pinned.version)
                );
            }
        }
    }
}

#[test]
fn custom_resources_come_after_their_operators_and_before_their_readers() {
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let ms = manifests(&platform, cluster);
            let rs = releases(&platform, cluster);
            let at = |name: &str| rs.iter().position(|r| r.name == name);
            for m in &ms {
                // Only custom resources wait for releases; the other phases come before all.
                assert_eq!(
                    m.needs.is_empty(),
                    m.phase != Phase::CustomResources,
                    "{fixture}: {} needs {:?}",
                    m.path,
                    m.needs
                );
                for n in &m.needs {
                    assert!(at(n).is_some(), "{fixture}: {} needs unknown {n}", m.path);
                }
            }
            for (i, r) in rs.iter().enumerate() {
                for file in &r.needs_manifests {
                    let m = ms
                        .iter()
                        .find(|m| &m.path == file && m.phase == Phase::CustomResources)
                        .unwrap_or_else(|| panic!("{fixture}: {} needs {file}", r.name));
                    for n in &m.needs {
                        // The list order is an install order: the operator comes first.
                        assert!(
                            at(n).is_some_and(|j| j < i),
                            "{fixture}: {n} before {}",
                            r.name
                        );
                    }
                }
                // A release waits for operator-written Secrets only through a manifest.
                assert!(
                    r.needs_secrets.is_empty() || !r.needs_manifests.is_empty(),
                    "{fixture}: {}",
                    r.name
                );
            }
        }
    }
}

#[test]
fn grafana_and_the_exporter_wait_for_the_elasticsearch_secrets() {
    let platform = common::fixtures()
        .into_iter()
        .find(|(f, _)| *f == "seed")
        .map(|(_, p)| p)
        .expect("seed fixture");
    let cp = platform.controlplane();
    for name in ["grafana", "prometheus-elasticsearch-exporter"] {
        let r = releases(&platform, cp)
            .into_iter()
            .find(|r| r.name == name)
            .unwrap();
        assert_eq!(
            r.needs_manifests,
            ["helm/controlplane/manifests/31-elastic.yaml"],
            "{name}"
        );
        let secrets: Vec<String> = r.needs_secrets.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            secrets,
            [
                "observability/flotilla-es-elastic-user",
                "observability/flotilla-es-http-certs-public"
            ],
            "{name}"
        );
    }
}

#[test]
fn namespaced_objects_live_in_a_rendered_or_release_namespace() {
    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let m = manifests(&platform, cluster);
            let mut known: Vec<String> = vec!["kube-system".into()];
            for obj in m.iter().flat_map(|m| &m.objects) {
                if obj["kind"] == "Namespace" {
                    known.push(obj["metadata"]["name"].as_str().unwrap().to_string());
                }
            }
            for r in releases(&platform, cluster) {
                assert!(
                    known.contains(&r.namespace),
                    "{fixture}: release {} in unknown namespace {}",
                    r.name,
                    r.namespace
                );
            }
            for obj in m.iter().flat_map(|m| &m.objects) {
                if let Some(ns) = obj["metadata"]["namespace"].as_str() {
                    assert!(
                        known.iter().any(|k| k == ns),
                        "{fixture}/{}: {} {} in unrendered namespace {ns}",
                        cluster.name,
                        obj["kind"],
                        obj["metadata"]["name"]
                    );
                }
            }
        }
    }
}

fn objects_of(
    platform: &flotilla_model::Platform,
    cluster: &str,
    kind: &str,
) -> Vec<serde_json::Value> {
    let c = platform.cluster(cluster).unwrap();
    manifests(platform, c)
        .into_iter()
        .flat_map(|m| m.objects)
        .filter(|o| o["kind"] == kind)
        .collect()
}

#[test]
fn data_platform_sizes_come_from_the_capacity_plan() {
    for (fixture, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        let cp = platform.controlplane().name.clone();
        let pools = objects_of(&platform, &cp, "KafkaNodePool");
        let brokers = pools
            .iter()
            .find(|p| p["metadata"]["name"] == "brokers")
            .unwrap();
        assert_eq!(brokers["spec"]["replicas"], plan.kafka.brokers, "{fixture}");
        assert_eq!(
            brokers["spec"]["storage"]["size"],
            format!("{}Gi", plan.kafka.broker_disk_gib),
            "{fixture}"
        );
        let controllers = pools
            .iter()
            .find(|p| p["metadata"]["name"] == "controllers")
            .unwrap();
        assert_eq!(
            controllers["spec"]["replicas"], plan.kafka.controllers,
            "{fixture}"
        );

        let topics = objects_of(&platform, &cp, "KafkaTopic");
        assert_eq!(topics.len(), 2 * platform.environments().len(), "{fixture}");
        for t in &topics {
            let name = t["spec"]["topicName"].as_str().unwrap();
            assert_eq!(
                t["spec"]["partitions"], plan.kafka.partitions_per_topic[name],
                "{fixture}: {name}"
            );
            assert_eq!(
                t["spec"]["replicas"], plan.kafka.replication,
                "{fixture}: {name}"
            );
        }

        let es = &objects_of(&platform, &cp, "Elasticsearch")[0];
        let sets = es["spec"]["nodeSets"].as_array().unwrap();
        let data = sets.iter().find(|s| s["name"] == "data").unwrap();
        assert_eq!(data["count"], plan.elasticsearch.data_nodes, "{fixture}");
        let masters = sets.iter().find(|s| s["name"] == "masters");
        assert_eq!(
            masters.map(|m| m["count"].as_u64().unwrap()).unwrap_or(0),
            u64::from(plan.elasticsearch.master_nodes),
            "{fixture}"
        );
        let ls = &objects_of(&platform, &cp, "Logstash")[0];
        assert_eq!(ls["spec"]["count"], plan.logstash.replicas, "{fixture}");
        assert_eq!(
            ls["spec"]["pipelines"][0]["pipeline.workers"], plan.logstash.pipeline_workers,
            "{fixture}"
        );
    }
}

#[test]
fn each_workload_cluster_writes_only_its_own_topics() {
    for (fixture, platform) in common::fixtures() {
        let cp = platform.controlplane().name.clone();
        let users = objects_of(&platform, &cp, "KafkaUser");
        assert_eq!(users.len(), platform.environments().len() + 1, "{fixture}");
        for w in platform.workload_clusters() {
            let name = format!("fluent-bit-{}", w.environment);
            let user = users
                .iter()
                .find(|u| u["metadata"]["name"] == name.as_str())
                .unwrap();
            for acl in user["spec"]["authorization"]["acls"].as_array().unwrap() {
                let topic = acl["resource"]["name"].as_str().unwrap();
                assert!(
                    topic.starts_with(&format!("{}.", w.environment)),
                    "{fixture}: {name} may use {topic}"
                );
                assert_eq!(acl["resource"]["patternType"], "literal");
                assert!(
                    !acl["operations"]
                        .as_array()
                        .unwrap()
                        .contains(&"Read".into())
                );
            }
        }
    }
}

#[test]
fn only_protected_clusters_get_the_deletion_guard() {
    for (fixture, platform) in common::fixtures() {
        for c in &platform.clusters {
            let policies = objects_of(&platform, &c.name, "ValidatingAdmissionPolicy");
            let bindings = objects_of(&platform, &c.name, "ValidatingAdmissionPolicyBinding");
            let want = usize::from(c.protected);
            assert_eq!(
                (policies.len(), bindings.len()),
                (want, want),
                "{fixture}/{}",
                c.name
            );
            for ns in objects_of(&platform, &c.name, "Namespace") {
                let label = &ns["metadata"]["labels"]["flotilla.io/protected"];
                assert_eq!(label == "true", c.protected, "{fixture}/{}: {ns}", c.name);
            }
        }
    }
}

#[test]
fn one_http_route_per_application_route_on_the_https_listener() {
    for (fixture, platform) in common::fixtures() {
        for c in platform.workload_clusters() {
            let expected: usize = platform
                .applications_in(&c.environment)
                .map(|(a, _)| {
                    a.routes
                        .iter()
                        .filter(|r| r.environments.contains(&c.environment))
                        .count()
                })
                .sum();
            let routes: Vec<_> = objects_of(&platform, &c.name, "HTTPRoute")
                .into_iter()
                .filter(|r| r["metadata"]["name"] != "https-redirect")
                .collect();
            assert_eq!(routes.len(), expected, "{fixture}/{}", c.name);
            let domain = &c.gateway.as_ref().unwrap().domain;
            for r in routes {
                assert_eq!(r["spec"]["parentRefs"][0]["sectionName"], "https");
                let host = r["spec"]["hostnames"][0].as_str().unwrap();
                assert!(host.ends_with(&format!(".{domain}")), "{fixture}: {host}");
            }
        }
    }
}

/// The metric a built-in alert kind reads, and which exporter exports it.
fn alert_sources() -> Vec<(flotilla_model::AlertRule, &'static str, &'static str)> {
    use flotilla_model::AlertRule::*;
    vec![
        (
            NodeCpu {
                threshold_percent: 80.0,
            },
            "node_cpu_seconds_total",
            "node-exporter",
        ),
        (
            NodeMemory {
                threshold_percent: 80.0,
            },
            "node_memory_MemAvailable_bytes",
            "node-exporter",
        ),
        (
            NodeDisk {
                threshold_percent: 80.0,
            },
            "node_filesystem_avail_bytes",
            "node-exporter",
        ),
        (
            PodCrashLooping { restarts: 3.0 },
            "kube_pod_container_status_restarts_total",
            "kube-state-metrics",
        ),
        (
            KafkaConsumerLag { messages: 1000.0 },
            "kafka_consumergroup_lag",
            "kafka-exporter",
        ),
        (
            ElasticsearchHealth,
            "elasticsearch_cluster_health_status{color=\"green\"}",
            "elasticsearch-exporter",
        ),
    ]
}

/// No built-in alert waits on a metric nobody exports: each kind's expression reads the metric of
/// an exporter that runs in every cluster evaluating it, and that cluster's Prometheus scrapes
/// the exporter (kube-prometheus-stack's node-exporter and kube-state-metrics everywhere; on
/// the controlplane Strimzi's Kafka Exporter through a PodMonitor and the Elasticsearch exporter
/// through its ServiceMonitor, both matching what they scrape).
#[test]
fn every_built_in_alert_reads_a_metric_a_scraped_exporter_exports() {
    use flotilla_helm::{alert_expr, release_values};
    use flotilla_model::{Alert, AlertScope, PromDuration, Role, Severity};

    for (fixture, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let at = format!("{fixture}/{}", cluster.name);
            let kps = release_values(&platform, cluster, "kube-prometheus-stack").unwrap();
            // Monitors are selected whatever their labels (not only the chart's own).
            for sel in [
                "serviceMonitorSelectorNilUsesHelmValues",
                "podMonitorSelectorNilUsesHelmValues",
            ] {
                assert_eq!(
                    kps["prometheus"]["prometheusSpec"][sel], false,
                    "{at}: {sel}"
                );
            }
            for (rule, metric, exporter) in alert_sources() {
                let evaluated = match rule.scope() {
                    AlertScope::AllClusters => true,
                    AlertScope::Controlplane => cluster.role == Role::Controlplane,
                };
                if !evaluated {
                    continue;
                }
                let alert = Alert {
                    name: "A".into(),
                    rule,
                    for_: PromDuration {
                        text: "5m".into(),
                        seconds: 300,
                    },
                    severity: Severity::Warning,
                    summary: String::new(),
                    runbook_url: None,
                };
                let expr = alert_expr(&alert);
                assert!(expr.contains(metric), "{at}: {expr} does not read {metric}");
                match exporter {
                    "node-exporter" => assert_ne!(kps["nodeExporter"]["enabled"], false, "{at}"),
                    "kube-state-metrics" => {
                        assert_ne!(kps["kubeStateMetrics"]["enabled"], false, "{at}")
                    }
                    "kafka-exporter" => {
                        let kafka = &objects_of(&platform, &cluster.name, "Kafka")[0];
                        assert!(
                            kafka["spec"]["kafkaExporter"].is_object(),
                            "{at}: no Kafka Exporter"
                        );
                        let name = kafka["metadata"]["name"].as_str().unwrap();
                        let ns = &kafka["metadata"]["namespace"];
                        let monitors = kps["prometheus"]["additionalPodMonitors"]
                            .as_array()
                            .unwrap_or_else(|| panic!("{at}: no PodMonitors"));
                        // Strimzi labels the exporter's pods so and names its port so.
                        let scraped = monitors.iter().any(|m| {
                            let labels = &m["selector"]["matchLabels"];
                            labels["strimzi.io/cluster"] == name
                                && labels["strimzi.io/name"] == format!("{name}-kafka-exporter")
                                && m["namespaceSelector"]["matchNames"]
                                    .as_array()
                                    .is_some_and(|n| n.contains(ns))
                                && m["podMetricsEndpoints"][0]["port"] == "tcp-prometheus"
                        });
                        assert!(scraped, "{at}: no PodMonitor for {name}'s Kafka Exporter");
                    }
                    "elasticsearch-exporter" => {
                        let es = &objects_of(&platform, &cluster.name, "Elasticsearch")[0];
                        let name = es["metadata"]["name"].as_str().unwrap();
                        let ns = es["metadata"]["namespace"].as_str().unwrap();
                        let release = releases(&platform, cluster)
                            .into_iter()
                            .find(|r| r.chart == "prometheus-elasticsearch-exporter")
                            .unwrap_or_else(|| panic!("{at}: no Elasticsearch exporter"));
                        // Next to the Elasticsearch: ECK's Secrets are readable only there.
                        assert_eq!(release.namespace, ns, "{at}");
                        let v = release_values(&platform, cluster, &release.name).unwrap();
                        assert_eq!(v["serviceMonitor"]["enabled"], true, "{at}");
                        assert_eq!(
                            v["es"]["uri"],
                            format!("https://{name}-es-http.{ns}.svc:9200"),
                            "{at}"
                        );
                        assert_eq!(
                            v["extraEnvSecrets"]["ES_PASSWORD"]["secret"],
                            format!("{name}-es-elastic-user"),
                            "{at}"
                        );
                        assert_eq!(
                            v["secretMounts"][0]["secretName"],
                            format!("{name}-es-http-certs-public"),
                            "{at}"
                        );
                    }
                    other => panic!("unknown exporter {other}"),
                }
            }
        }
    }
}

/// The quota plan's count of Network Load Balancers (crates/model quotas) is what the render
/// creates: `LoadBalancer` Services in the chart values and manifests, and a Strimzi
/// `loadbalancer` listener's bootstrap plus one per broker.
#[test]
fn the_quota_plan_counts_the_load_balancers_the_render_creates() {
    fn services(v: &serde_json::Value) -> u64 {
        match v {
            serde_json::Value::Object(m) => {
                let here =
                    u64::from(m.get("type").and_then(|t| t.as_str()) == Some("LoadBalancer"));
                here + m.values().map(services).sum::<u64>()
            }
            serde_json::Value::Array(a) => a.iter().map(services).sum(),
            _ => 0,
        }
    }
    for (name, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        for cluster in &platform.clusters {
            let mut count = 0;
            for r in releases(&platform, cluster) {
                let values = flotilla_helm::release_values(&platform, cluster, &r.name).unwrap();
                count += services(&values);
            }
            for m in manifests(&platform, cluster) {
                for o in &m.objects {
                    count += services(o);
                    if o["kind"] == "Kafka" {
                        for l in o["spec"]["kafka"]["listeners"].as_array().unwrap() {
                            if l["type"] == "loadbalancer" {
                                count += 1 + u64::from(plan.kafka.brokers);
                            }
                        }
                    }
                }
            }
            assert_eq!(
                count,
                flotilla_model::quotas::load_balancers(&platform, cluster),
                "{name}/{}",
                cluster.name
            );
        }
    }
}

/// Every namespace a platform release or platform manifest lands in is one validation keeps
/// applications out of (`flotilla_model::reserved`): on 61d7c3d the model's list said
/// `gateway` where the renderer used `nginx-gateway`, and lacked `observability`, so an
/// application could take NGINX Gateway Fabric's namespace.
#[test]
fn every_platform_namespace_is_reserved_for_applications() {
    let mut seen = std::collections::BTreeSet::new();
    for (fixture, platform) in common::fixtures() {
        let app_namespaces: std::collections::BTreeSet<String> = platform
            .applications
            .iter()
            .map(|a| a.namespace.clone())
            .collect();
        for cluster in &platform.clusters {
            for r in releases(&platform, cluster) {
                assert!(
                    flotilla_model::reserved::is_reserved_namespace(&r.namespace),
                    "{fixture}/{}: release {} in {}, which applications may take",
                    cluster.name,
                    r.name,
                    r.namespace
                );
                seen.insert(r.namespace.clone());
            }
            for m in manifests(&platform, cluster) {
                for o in &m.objects {
                    let ns = match o["kind"].as_str() {
                        Some("Namespace") => o["metadata"]["name"].as_str(),
                        _ => o["metadata"]["namespace"].as_str(),
                    };
                    let Some(ns) = ns else { continue };
                    if app_namespaces.contains(ns) {
                        continue;
                    }
                    assert!(
                        flotilla_model::reserved::is_reserved_namespace(ns),
                        "{fixture}/{}: {} {} in {ns}, neither an application's nor reserved",
                        cluster.name,
                        o["kind"],
                        o["metadata"]["name"]
                    );
                    seen.insert(ns.to_string());
                }
            }
        }
    }
    for ns in flotilla_model::reserved::PLATFORM_NAMESPACES {
        assert!(
            seen.contains(*ns),
            "{ns} is reserved but nothing renders into it"
        );
    }
}

/// One hop from a generated size to its reason: the broker pool and every topic in
/// `30-kafka.yaml` carry a comment naming the capacity plan's figure and the term that decided
/// it, the same text `cargo xtask plan` prints.
#[test]
fn kafka_sizes_point_at_the_capacity_plan() {
    for (fixture, platform) in common::fixtures() {
        let plan = platform.capacity_plan();
        let file = render(&platform)
            .into_iter()
            .find(|a| a.path.ends_with("/manifests/30-kafka.yaml"))
            .unwrap();
        let brokers = format!(
            "# replicas: the capacity plan's kafka.brokers, decided by {}.",
            plan.decided_by["kafka.brokers"]
        );
        let at = file
            .contents
            .find(&brokers)
            .unwrap_or_else(|| panic!("{fixture}: {brokers}"));
        // The comment is the one before the broker pool's document.
        let after = &file.contents[at..];
        let doc = after.split("\n---\n").next().unwrap();
        assert!(
            doc.contains("kind: KafkaNodePool") && doc.contains("name: brokers"),
            "{fixture}: {doc}"
        );
        for env in plan.environments.keys() {
            let key = format!("environments.{env}.partitions_per_topic");
            assert_eq!(
                file.contents
                    .matches(&format!(
                        "the capacity plan's {key}, decided by {}.",
                        plan.decided_by[&key]
                    ))
                    .count(),
                2,
                "{fixture}: logs and metrics topics of {env}"
            );
        }
    }
}

/// Every persistent volume the cost and quota plans count (crates/model quotas) is one the
/// render requests: its size appears as a storage request of the cluster's values or
/// manifests, and a cluster requests no size the list lacks.
#[test]
fn the_cost_plan_counts_the_volumes_the_render_requests() {
    fn sizes(v: &serde_json::Value, out: &mut std::collections::BTreeSet<u64>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if matches!(k.as_str(), "storage" | "size")
                        && let Some(n) = x.as_str().and_then(|s| s.strip_suffix("Gi"))
                    {
                        out.insert(n.parse().unwrap());
                    }
                    sizes(x, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| sizes(x, out)),
            _ => {}
        }
    }
    for (name, platform) in common::fixtures() {
        for cluster in &platform.clusters {
            let mut rendered = std::collections::BTreeSet::new();
            for r in releases(&platform, cluster) {
                let values = flotilla_helm::release_values(&platform, cluster, &r.name).unwrap();
                sizes(&values, &mut rendered);
            }
            for m in manifests(&platform, cluster) {
                m.objects.iter().for_each(|o| sizes(o, &mut rendered));
            }
            let counted: std::collections::BTreeSet<u64> =
                flotilla_model::quotas::persistent_volumes(&platform, cluster)
                    .iter()
                    .filter(|(_, n, _)| *n > 0)
                    .map(|(_, _, gib)| *gib)
                    .collect();
            assert_eq!(counted, rendered, "{name}/{}", cluster.name);
        }
    }
}
