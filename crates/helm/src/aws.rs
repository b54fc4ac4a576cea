//! The AWS integration releases every cluster runs: AWS Load Balancer Controller (the NLBs of
//! the gateway, Kafka, Alertmanager and Prometheus), cluster-autoscaler (node groups follow the
//! pending pods within the model's min/max) and external-dns (names follow load balancers).
//!
//! AWS credentials come from the EKS Pod Identity associations the Terraform layer makes for
//! [`AwsComponent`]s: the namespace and service account of each release are the model's, so
//! the two layers cannot disagree. Nothing in the values carries a key.

use flotilla_model::{AwsComponent, Cluster, Platform};
use serde_json::json;

use crate::ReleaseDef;

pub use crate::names::LOAD_BALANCER_CONTROLLER;
/// Release names.
pub const CLUSTER_AUTOSCALER: &str = "cluster-autoscaler";
pub const EXTERNAL_DNS: &str = "external-dns";

/// Runs the NLBs of every `LoadBalancer` Service; its webhooks must be up before any such
/// Service is created, so every other release needs it.
pub fn load_balancer_controller(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let component = AwsComponent::LoadBalancerController;
    let eks_name = platform.eks_cluster_name(cluster);
    ReleaseDef {
        name: LOAD_BALANCER_CONTROLLER,
        chart: "aws-load-balancer-controller",
        namespace: component.namespace(),
        needs: vec![],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            "clusterName": eks_name,
            "region": cluster.region,
            // The VPC is found by its Name tag (the Terraform vpc module names it after the EKS
            // cluster), so neither the instance metadata service nor a Terraform output is needed.
            "vpcTags": { "Name": eks_name },
            "serviceAccount": { "create": true, "name": component.service_account() },
            "replicaCount": 2,
            "defaultTags": {
                "flotilla.io/platform": platform.name,
                "flotilla.io/cluster": cluster.name,
            },
            "podDisruptionBudget": { "maxUnavailable": 1 },
        }),
    }
}

/// cluster-autoscaler over the EKS managed node groups (auto-discovered by their ASG tags):
/// the node pools of the model keep their min and max, no second description of capacity.
pub fn cluster_autoscaler(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let component = AwsComponent::ClusterAutoscaler;
    ReleaseDef {
        name: CLUSTER_AUTOSCALER,
        chart: "cluster-autoscaler",
        namespace: component.namespace(),
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            "cloudProvider": "aws",
            "awsRegion": cluster.region,
            "autoDiscovery": { "clusterName": platform.eks_cluster_name(cluster) },
            "rbac": {
                "serviceAccount": { "create": true, "name": component.service_account() },
            },
            "extraArgs": {
                "balance-similar-node-groups": true,
                "skip-nodes-with-system-pods": false,
                "expander": "least-waste",
                // Protected clusters scale down more cautiously.
                "scale-down-unneeded-time": if cluster.protected { "15m" } else { "5m" },
            },
        }),
    }
}

/// external-dns: public names of the routes follow the gateway's NLB; private names (Kafka,
/// Alertmanager, Prometheus) follow the internal NLBs into the platform's private zone.
pub fn external_dns(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    // The private zone first, then the gateway's domain: a fixed order, so that two
    // environments' values differ only in the domain itself (`cargo xtask diff <a> <b>`).
    let mut domains = vec![platform.internal_domain.clone()];
    if let Some(g) = &cluster.gateway {
        domains.push(g.domain.clone());
    }
    let component = AwsComponent::ExternalDns;
    ReleaseDef {
        name: EXTERNAL_DNS,
        chart: "external-dns",
        namespace: component.namespace(),
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: false,
        values: json!({
            "provider": { "name": "aws" },
            "sources": external_dns_sources(platform, cluster),
            "domainFilters": domains,
            "registry": "txt",
            // Several clusters write to the same zones: each owns only its records.
            "txtOwnerId": cluster.name,
            // A protected cluster never deletes records on its own.
            "policy": if cluster.protected { "upsert-only" } else { "sync" },
            "serviceAccount": { "create": true, "name": component.service_account() },
            "env": [{ "name": "AWS_DEFAULT_REGION", "value": cluster.region }],
        }),
    }
}

/// What external-dns watches: Services everywhere (the internal NLBs), and HTTPRoutes only where
/// the Gateway API CRDs are installed ([`crate::crd_bundles`]). Without the CRDs the
/// `gateway-httproute` source never syncs its informers and external-dns exits after 60 s
/// (external-dns v0.19.0 `source/informers/informers.go`, `controller/execute.go`): on the
/// controlplane that left the Kafka and Alertmanager names unwritten.
pub fn external_dns_sources(platform: &Platform, cluster: &Cluster) -> Vec<&'static str> {
    let mut sources = vec!["service"];
    if crate::crd_bundles(platform, cluster)
        .iter()
        .any(|b| b.name == crate::gateway::GATEWAY_API_BUNDLE)
    {
        sources.push("gateway-httproute");
    }
    sources
}

/// Annotations of a Service that the AWS Load Balancer Controller turns into an internal NLB
/// (reachable over the VPC peerings), with its private DNS name for external-dns.
pub fn internal_nlb_annotations(hostname: &str) -> std::collections::BTreeMap<String, String> {
    [
        (
            "service.beta.kubernetes.io/aws-load-balancer-type",
            "external",
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-scheme",
            "internal",
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
            "ip",
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-attributes",
            "load_balancing.cross_zone.enabled=true",
        ),
        ("external-dns.alpha.kubernetes.io/hostname", hostname),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The VPC CIDRs of the workload clusters (who may reach the controlplane's internal NLBs).
pub fn workload_cidrs(platform: &Platform) -> Vec<String> {
    platform
        .workload_clusters()
        .map(|c| c.vpc_cidr.to_string())
        .collect()
}
