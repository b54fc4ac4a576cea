//! What real EKS clusters need of the generated values and manifests on day one, finding by
//! finding of the Kubernetes review (`../shared/reviews/2026-12-kubernetes.md`), over every
//! cluster of every fixture. Each of these failed on main at 61d7c3d. Pod Security (F2) is in
//! tests/pod_security.rs, server-side apply (F3) in crates/deploy/tests/kube_api.rs.

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
#[test]
fn f10_no_disruption_budget_blocks_a_node_drain() {
    // (chart, PDB values path, replicas values path, the chart's default replicas)
    let pdbs: [(&str, &str, &str, u64); 4] = [
        ("eck-operator", "podDisruptionBudget", "replicaCount", 1),
        ("grafana", "podDisruptionBudget", "replicas", 1),
        (
            "strimzi-kafka-operator",
            "podDisruptionBudget",
            "replicas",
            1,
        ),
        (
            "aws-load-balancer-controller",
            "podDisruptionBudget",
            "replicaCount",
            2,
        ),
    ];
    let mut checked = 0;
    for (at, platform, cluster) in every_cluster() {
        for r in releases(&platform, &cluster) {
            let Some((_, pdb_path, replicas_path, default_replicas)) =
                pdbs.iter().find(|(c, ..)| *c == r.chart)
            else {
                continue;
            };
            let v = values(&platform, &cluster, &r.name);
            let pdb = &v[*pdb_path];
            let replicas = v[*replicas_path].as_u64().unwrap_or(*default_replicas);
            let on = match pdb.get("enabled") {
                Some(e) => e.as_bool() == Some(true),
                None => pdb.as_object().is_some_and(|m| !m.is_empty()),
            };
            if on {
                let blocks = match (pdb["maxUnavailable"].as_u64(), pdb["minAvailable"].as_u64()) {
                    (Some(n), _) => n == 0,
                    (None, Some(min)) => min >= replicas,
                    // The chart's default minAvailable (1) applies.
                    (None, None) => replicas <= 1,
                };
                assert!(
                    !blocks,
                    "{at}: {} PDB {pdb} with {replicas} replicas blocks every drain",
                    r.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} releases checked");
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
