//! Namespaces and what comes with them, applied before any release ([`Phase::Namespaces`]):
//! the platform's own namespaces, one namespace per application (labels, quota, limits,
//! network policies, Pod Security Admission, the team's RoleBinding), the deletion guard of
//! protected clusters, and cluster-wide settings (the gp3 StorageClass).
//!
//! [`Phase::Namespaces`]: crate::Phase::Namespaces

use std::collections::{BTreeMap, BTreeSet};

use flotilla_model::{Application, Cluster, Platform, Quota, Role};
use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::gateway::ROUTES_LABEL;
use crate::meta::meta;
use crate::names::{
    ECK_NAMESPACE, GATEWAY_NAMESPACE, KAFKA_NAMESPACE, LOGGING_NAMESPACE, MONITORING_NAMESPACE,
    OBSERVABILITY_NAMESPACE, PROTECTED_LABEL,
};
use crate::yaml;

/// Default requests and limits of a container that declares none. Small on purpose: a
/// workload that needs more says so, and the namespace quota (which counts requests and limits)
/// then applies to what it asked for.
const DEFAULT_REQUEST_CPU: &str = "100m";
const DEFAULT_REQUEST_MEMORY: &str = "128Mi";
const DEFAULT_LIMIT_CPU: &str = "500m";
const DEFAULT_LIMIT_MEMORY: &str = "512Mi";

/// The StorageClass every persistent volume of the platform uses (Prometheus, Kafka,
/// Elasticsearch): encrypted gp3 through the EBS CSI driver.
pub const STORAGE_CLASS: &str = "gp3";

/// Pod Security Admission levels of the platform's own namespaces.
#[derive(Debug, Clone, Copy)]
enum PodSecurity {
    /// Application namespaces and operators.
    Restricted,
    /// NGINX binds low ports; Elasticsearch and Kafka need a few baseline allowances.
    Baseline,
    /// node-exporter and Fluent Bit read the host (hostPath, hostNetwork, hostPID).
    Privileged,
}

impl PodSecurity {
    fn as_str(self) -> &'static str {
        match self {
            PodSecurity::Restricted => "restricted",
            PodSecurity::Baseline => "baseline",
            PodSecurity::Privileged => "privileged",
        }
    }
}

fn namespace(
    platform: &Platform,
    cluster: &Cluster,
    name: &str,
    level: PodSecurity,
    extra: &[(&str, String)],
) -> Value {
    let mut m = meta(platform, cluster, name, None);
    let labels = m.labels.get_or_insert_with(BTreeMap::new);
    for mode in ["enforce", "audit", "warn"] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.as_str().into(),
        );
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}-version"),
            format!("v{}", cluster.kubernetes_version),
        );
    }
    if cluster.protected {
        labels.insert(PROTECTED_LABEL.into(), "true".into());
    } else {
        // The model lets every namespace of an unprotected cluster go: the deletion guard
        // (still installed when a cluster was protected before) lets it lose the label.
        m.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DELETE_CONFIRMED.into(), name.into());
    }
    for (k, v) in extra {
        labels.insert((*k).to_string(), v.clone());
    }
    yaml::value(&Namespace {
        metadata: m,
        ..Namespace::default()
    })
}

/// Cluster-wide objects: the default StorageClass.
pub fn cluster_objects(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let mut m = meta(platform, cluster, STORAGE_CLASS, None);
    m.annotations = Some(BTreeMap::from([(
        "storageclass.kubernetes.io/is-default-class".into(),
        "true".into(),
    )]));
    vec![yaml::value(&StorageClass {
        metadata: m,
        provisioner: "ebs.csi.aws.com".into(),
        parameters: Some(BTreeMap::from([
            ("type".into(), "gp3".into()),
            ("encrypted".into(), "true".into()),
        ])),
        reclaim_policy: Some(
            if cluster.protected {
                "Retain"
            } else {
                "Delete"
            }
            .into(),
        ),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        allow_volume_expansion: Some(true),
        ..StorageClass::default()
    })]
}

/// The AWS Load Balancer Controller's webhook adds a readiness gate to the pods of namespaces
/// with this label: a rollout waits until the new pod is a healthy NLB target, so that pods
/// behind an NLB with IP targets are not replaced before the NLB sends them traffic.
pub const READINESS_GATE_LABEL: &str = "elbv2.k8s.aws/pod-readiness-gate-inject";

/// The namespaces of the platform's releases (kube-system exists already), each at the Pod
/// Security level its pods need (docs/kubernetes.md, "Namespaces and Pod Security"), with the
/// load balancer readiness gate where pods are NLB targets.
pub fn platform_namespaces(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    // (name, level, pods behind an NLB with IP targets)
    let mut list = vec![(
        MONITORING_NAMESPACE,
        PodSecurity::Privileged,
        // A workload cluster's Prometheus is an NLB target (for the controlplane's Grafana).
        cluster.role == Role::Workload,
    )];
    match cluster.role {
        Role::Workload => {
            list.push((GATEWAY_NAMESPACE, PodSecurity::Baseline, true));
            list.push((LOGGING_NAMESPACE, PodSecurity::Privileged, false));
        }
        Role::Controlplane => {
            list.push((KAFKA_NAMESPACE, PodSecurity::Baseline, true));
            list.push((ECK_NAMESPACE, PodSecurity::Restricted, false));
            list.push((OBSERVABILITY_NAMESPACE, PodSecurity::Baseline, false));
        }
    }
    list.sort_by_key(|(n, _, _)| *n);
    list.into_iter()
        .map(|(name, level, nlb_targets)| {
            let extra: Vec<(&str, String)> = if nlb_targets {
                vec![(READINESS_GATE_LABEL, "enabled".into())]
            } else {
                vec![]
            };
            namespace(platform, cluster, name, level, &extra)
        })
        .collect()
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Quantity((*v).to_string())))
        .collect()
}

fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        ),
        ..LabelSelector::default()
    }
}

fn network_policy(
    platform: &Platform,
    cluster: &Cluster,
    ns: &str,
    name: &str,
    spec: NetworkPolicySpec,
) -> Value {
    yaml::value(&NetworkPolicy {
        metadata: meta(platform, cluster, name, Some(ns)),
        spec: Some(spec),
    })
}

fn port(protocol: &str, port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some(protocol.into()),
        ..NetworkPolicyPort::default()
    }
}

/// One egress allowance of the model: to its networks and application namespaces, on its TCP
/// ports (all ports when it names none).
fn egress_rule(e: &flotilla_model::Egress) -> NetworkPolicyEgressRule {
    let mut to: Vec<NetworkPolicyPeer> = e
        .cidrs
        .iter()
        .map(|c| NetworkPolicyPeer {
            ip_block: Some(k8s_openapi::api::networking::v1::IPBlock {
                cidr: c.to_string(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        })
        .collect();
    to.extend(e.namespaces.iter().map(|n| NetworkPolicyPeer {
        namespace_selector: Some(selector(&[("kubernetes.io/metadata.name", n)])),
        ..NetworkPolicyPeer::default()
    }));
    NetworkPolicyEgressRule {
        to: Some(to),
        ports: (!e.ports.is_empty()).then(|| e.ports.iter().map(|p| port("TCP", *p)).collect()),
    }
}

/// Everything of one application's namespace in this cluster.
fn application(
    platform: &Platform,
    cluster: &Cluster,
    app: &Application,
    quota: &Quota,
) -> Vec<Value> {
    let ns = app.namespace.as_str();
    let route_ports: BTreeSet<u16> = app
        .routes
        .iter()
        .filter(|r| r.environments.contains(&cluster.environment))
        // A NetworkPolicy matches the pod's port, after the Service's translation.
        .map(|r| r.target_port)
        .collect();
    let mut extra = vec![
        ("flotilla.io/application", app.name.clone()),
        ("flotilla.io/team", app.team.label_value()),
    ];
    if !route_ports.is_empty() {
        extra.push((ROUTES_LABEL, "true".into()));
    }
    let mut out = vec![namespace(
        platform,
        cluster,
        ns,
        PodSecurity::Restricted,
        &extra,
    )];

    out.push(yaml::value(&ResourceQuota {
        metadata: meta(platform, cluster, "quota", Some(ns)),
        spec: Some(ResourceQuotaSpec {
            hard: Some(quantities(&[
                ("requests.cpu", &quota.cpu),
                ("limits.cpu", &quota.cpu),
                ("requests.memory", &quota.memory),
                ("limits.memory", &quota.memory),
                ("pods", &quota.pods.to_string()),
                // Applications are reached through the gateway, never their own load balancer.
                ("services.loadbalancers", "0"),
            ])),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    }));

    out.push(yaml::value(&LimitRange {
        metadata: meta(platform, cluster, "defaults", Some(ns)),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".into(),
                default: Some(quantities(&[
                    ("cpu", DEFAULT_LIMIT_CPU),
                    ("memory", DEFAULT_LIMIT_MEMORY),
                ])),
                default_request: Some(quantities(&[
                    ("cpu", DEFAULT_REQUEST_CPU),
                    ("memory", DEFAULT_REQUEST_MEMORY),
                ])),
                // No single container may take the whole namespace quota and more.
                max: Some(quantities(&[
                    ("cpu", &quota.cpu),
                    ("memory", &quota.memory),
                ])),
                ..LimitRangeItem::default()
            }],
        }),
    }));

    let all_pods = LabelSelector::default();
    out.push(network_policy(
        platform,
        cluster,
        ns,
        "default-deny",
        NetworkPolicySpec {
            pod_selector: Some(all_pods.clone()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..NetworkPolicySpec::default()
        },
    ));
    out.push(network_policy(
        platform,
        cluster,
        ns,
        "allow-dns",
        NetworkPolicySpec {
            pod_selector: Some(all_pods.clone()),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(selector(&[(
                        "kubernetes.io/metadata.name",
                        "kube-system",
                    )])),
                    pod_selector: Some(selector(&[("k8s-app", "kube-dns")])),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
            }]),
            ..NetworkPolicySpec::default()
        },
    ));
    if !route_ports.is_empty() {
        out.push(network_policy(
            platform,
            cluster,
            ns,
            "allow-from-gateway",
            NetworkPolicySpec {
                pod_selector: Some(all_pods.clone()),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(selector(&[(
                            "kubernetes.io/metadata.name",
                            GATEWAY_NAMESPACE,
                        )])),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: Some(route_ports.iter().map(|p| port("TCP", *p)).collect()),
                }]),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    if !app.egress.is_empty() {
        out.push(network_policy(
            platform,
            cluster,
            ns,
            "allow-egress",
            NetworkPolicySpec {
                pod_selector: Some(all_pods.clone()),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(app.egress.iter().map(egress_rule).collect()),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    // Prometheus scrapes the application's metrics endpoints.
    out.push(network_policy(
        platform,
        cluster,
        ns,
        "allow-from-monitoring",
        NetworkPolicySpec {
            pod_selector: Some(all_pods.clone()),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(selector(&[(
                        "kubernetes.io/metadata.name",
                        MONITORING_NAMESPACE,
                    )])),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }]),
            ..NetworkPolicySpec::default()
        },
    ));
    // Pods of one application talk to each other freely.
    out.push(network_policy(
        platform,
        cluster,
        ns,
        "allow-same-namespace",
        NetworkPolicySpec {
            pod_selector: Some(all_pods.clone()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(all_pods.clone()),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(all_pods),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: None,
            }]),
        },
    ));

    out.push(yaml::value(&RoleBinding {
        metadata: meta(platform, cluster, "team-admin", Some(ns)),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "admin".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            // The same group the team's EKS access entry carries (crates/terraform).
            name: app.team.kubernetes_group(),
            namespace: None,
        }]),
    }));
    out
}

/// One namespace per application of the cluster's environment, with everything in it.
pub fn application_namespaces(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    platform
        .applications_in(&cluster.environment)
        .flat_map(|(app, quota)| application(platform, cluster, app, quota))
        .collect()
}

const GUARD: &str = "flotilla-protect-namespaces";

/// Protected clusters refuse deleting a namespace labelled [`PROTECTED_LABEL`] (the seed's
/// `kubectl delete ns` accident), or removing that label, unless [`DELETE_CONFIRMED`] names it.
/// Setting `protected = false` and deploying also works: the rendered namespaces then carry
/// the confirmation, which admits the update that drops the label.
/// The annotation that confirms, for one namespace, that it may be deleted: its value must be
/// the namespace's own name (`kubectl annotate namespace api1 flotilla.io/delete-confirmed=api1`).
pub const DELETE_CONFIRMED: &str = "flotilla.io/delete-confirmed";

/// The CEL of the deletion guard: a protected namespace (label [`PROTECTED_LABEL`]) may be
/// deleted, or lose that label, only when it carries [`DELETE_CONFIRMED`] with its own name.
/// That exemption is one namespace at a time and says which; nothing cluster-wide is needed.
pub fn deletion_guard_expression() -> String {
    let protected = |o: &str| {
        format!(
            "(has({o}.metadata.labels) && '{PROTECTED_LABEL}' in {o}.metadata.labels && {o}.metadata.labels['{PROTECTED_LABEL}'] == 'true')"
        )
    };
    let confirmed = |o: &str| {
        format!(
            "(has({o}.metadata.annotations) && '{DELETE_CONFIRMED}' in {o}.metadata.annotations && {o}.metadata.annotations['{DELETE_CONFIRMED}'] == {o}.metadata.name)"
        )
    };
    format!(
        "request.operation == 'DELETE' ? (!{p_old} || {c_old}) : (!{p_old} || {p_new} || {c_new})",
        p_old = protected("oldObject"),
        c_old = confirmed("oldObject"),
        p_new = protected("object"),
        c_new = confirmed("object"),
    )
}

pub fn deletion_guard(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let policy = ValidatingAdmissionPolicy {
        metadata: meta(platform, cluster, GUARD, None),
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".into()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec![String::new()]),
                    api_versions: Some(vec!["v1".into()]),
                    // UPDATE too: removing the label would otherwise lift the guard.
                    operations: Some(vec!["DELETE".into(), "UPDATE".into()]),
                    resources: Some(vec!["namespaces".into()]),
                    ..NamedRuleWithOperations::default()
                }]),
                ..MatchResources::default()
            }),
            validations: Some(vec![Validation {
                expression: deletion_guard_expression(),
                message: Some(format!(
                    "namespace is protected by Flotilla on cluster {}: to delete it on purpose, confirm this one namespace first with `kubectl annotate namespace <name> {DELETE_CONFIRMED}=<name>`",
                    cluster.name
                )),
                reason: Some("Forbidden".into()),
                ..Validation::default()
            }]),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        ..ValidatingAdmissionPolicy::default()
    };
    // No namespace selector: for an UPDATE that removes the label, a selector on it would no
    // longer match. The expression checks the label itself.
    let binding = ValidatingAdmissionPolicyBinding {
        metadata: meta(platform, cluster, GUARD, None),
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(GUARD.into()),
            validation_actions: Some(vec!["Deny".into()]),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        }),
    };
    vec![yaml::value(&policy), yaml::value(&binding)]
}
