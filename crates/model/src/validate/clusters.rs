//! `[[clusters]]`: names, role, region, VPC and zones, versions, endpoint, gateway, node pools.

use std::collections::BTreeMap;

use super::{Cx, span};
use crate::names;
use crate::raw::{self, S};
use crate::versions::EKS_ADDONS;
use crate::*;

/// Kubernetes allows up to 63 characters, but names end up in IAM role names, node group
/// names and NLB names built from `<platform>-<cluster>-...`; 32 keeps all of them in AWS limits.
pub(super) const MAX_CLUSTER_NAME: usize = 32;
/// `<platform>-<cluster>` plus `-cluster-autoscaler` must fit an IAM role name (64).
const MAX_EKS_NAME: usize = 45;
const MAX_AZS: i64 = 6;
/// EKS node group names get a generated suffix; keep the readable part short.
const MAX_NODE_POOL_NAME: usize = 20;

impl Cx {
    pub(super) fn cluster(
        &mut self,
        sc: &S<raw::Cluster>,
        meta: &raw::PlatformMeta,
        versions: &Versions,
    ) -> Cluster {
        let c = sc.get_ref();
        self.check(&c.name, "cluster name", |s| {
            names::dns_label(s, MAX_CLUSTER_NAME)
        });
        if let Some((_, what)) = reserved::RESERVED_CLUSTER_NAMES
            .iter()
            .find(|(n, _)| n == c.name.get_ref())
        {
            self.err_help(
                span(&c.name),
                format!("cluster name \"{}\" is reserved", c.name.get_ref()),
                format!(
                    "{what}, and a cluster's module would be written over it: choose another name"
                ),
            );
        }
        let eks_name = format!("{}-{}", meta.name.get_ref(), c.name.get_ref());
        if eks_name.len() > MAX_EKS_NAME {
            self.err_help(
                span(&c.name),
                format!(
                    "EKS cluster name \"{eks_name}\" (platform name, dash, cluster name) has {} characters; at most {MAX_EKS_NAME}",
                    eks_name.len()
                ),
                "it prefixes the IAM role names of the cluster's components, which AWS limits to 64 characters: shorten the cluster or platform name",
            );
        }
        let role = match c.role.get_ref().as_str() {
            "workload" => Role::Workload,
            "controlplane" => Role::Controlplane,
            other => {
                self.err_help(
                    span(&c.role),
                    format!("unknown cluster role \"{other}\""),
                    "role is \"workload\" or \"controlplane\"",
                );
                Role::Workload
            }
        };
        let all = reserved::ALL_TARGET;
        let keyword = |what: &str| {
            (
                format!("{what} \"{all}\" is a keyword of the command line"),
                format!("`cargo xtask deploy {all}` deploys every cluster: choose another name"),
            )
        };
        let environment = match (&c.environment, role) {
            (Some(e), Role::Workload) => {
                if self
                    .check(e, "environment name", |s| {
                        names::dns_label(s, MAX_CLUSTER_NAME)
                    })
                    .is_some()
                    && e.get_ref() == all
                {
                    let (m, h) = keyword("environment");
                    self.err_help(span(e), m, h);
                }
                e.get_ref().clone()
            }
            (Some(e), Role::Controlplane) if e.get_ref() != c.name.get_ref() => {
                self.err_help(
                    span(e),
                    "the controlplane belongs to no environment",
                    "remove `environment`; the controlplane is addressed by its cluster name",
                );
                c.name.get_ref().clone()
            }
            _ => {
                // The controlplane's target is its name.
                if role == Role::Controlplane && c.name.get_ref() == all {
                    let (m, h) = keyword("controlplane name");
                    self.err_help(span(&c.name), m, h);
                }
                c.name.get_ref().clone()
            }
        };
        let region = match &c.region {
            Some(r) => {
                if self.check(r, "region", names::region).is_some() {
                    self.known_region(r);
                }
                r.get_ref().clone()
            }
            None => meta.region.get_ref().clone(),
        };
        let account_id = match &c.account_id {
            Some(a) => {
                self.check(a, "account id", names::account_id);
                a.get_ref().clone()
            }
            None => meta.account_id.get_ref().clone(),
        };
        let vpc_cidr = match self.check(&c.vpc_cidr, "VPC CIDR", names::cidr) {
            Some(net) if !(16..=24).contains(&net.prefix_len()) => {
                self.err_help(
                    span(&c.vpc_cidr),
                    format!(
                        "VPC CIDR {net} of cluster \"{}\" is too {} for a VPC",
                        c.name.get_ref(),
                        if net.prefix_len() < 16 { "large" } else { "small" }
                    ),
                    "AWS VPCs take a prefix between /16 and /24 (and subnets need room: /16 to /20 is usual)",
                );
                net
            }
            Some(net) => net,
            None => Ipv4Net::default(),
        };
        let protected = c.protected.as_ref().is_some_and(|p| *p.get_ref());
        let azs = *c.availability_zones.get_ref();
        let min_azs = if protected { 3 } else { 2 };
        if azs > MAX_AZS {
            self.err_help(
                span(&c.availability_zones),
                format!(
                    "cluster \"{}\" asks for {azs} availability zones; at most {MAX_AZS} are supported",
                    c.name.get_ref()
                ),
                "3 zones is usual; no AWS region offers a VPC more than 6",
            );
        } else if let Some(zones) = aws_data::availability_zones(&region)
            && azs > i64::from(zones)
        {
            self.err_help(
                span(&c.availability_zones),
                format!(
                    "cluster \"{}\" asks for {azs} availability zones; {region} has {zones}",
                    c.name.get_ref()
                ),
                format!(
                    "a new account sees {zones} zones in {region} (crates/model/data/aws-regions.toml, from AWS's zone list): use at most {zones}, or a region with more"
                ),
            );
        } else if azs < min_azs {
            self.err_help(
                span(&c.availability_zones),
                format!(
                    "{} \"{}\" has {azs} availability zone{}; it needs at least {min_azs}",
                    if protected {
                        "protected cluster"
                    } else {
                        "cluster"
                    },
                    c.name.get_ref(),
                    if azs == 1 { "" } else { "s" }
                ),
                if protected {
                    "a protected cluster must survive the loss of a zone: use 3 or more"
                } else {
                    "EKS needs subnets in at least 2 zones"
                },
            );
        }
        // The subnet layout (crates/terraform): public subnets are /prefix+5, at least /28, in
        // the last quarter of the VPC; a /24 has room there for 4 of them only.
        let public_prefix = (vpc_cidr.prefix_len() + 5).min(28);
        let public_slots = 1i64 << public_prefix.saturating_sub(vpc_cidr.prefix_len() + 2);
        if (16..=24).contains(&vpc_cidr.prefix_len()) && azs > public_slots && azs <= MAX_AZS {
            self.err_help(
                span(&c.vpc_cidr),
                format!(
                    "VPC CIDR {vpc_cidr} of cluster \"{}\" has room for public subnets in {public_slots} zones, not {azs}",
                    c.name.get_ref()
                ),
                "use a larger VPC (/23 or larger fits 6 zones) or fewer availability zones",
            );
        }
        let supported = &versions.kubernetes.supported;
        if !supported.contains(c.kubernetes_version.get_ref()) {
            self.err_help(
                span(&c.kubernetes_version),
                format!(
                    "Kubernetes version \"{}\" of cluster \"{}\" is not supported",
                    c.kubernetes_version.get_ref(),
                    c.name.get_ref()
                ),
                format!(
                    "supported versions (versions.toml): {}",
                    supported.join(", ")
                ),
            );
        }
        if supported.contains(c.kubernetes_version.get_ref()) {
            let missing: Vec<&str> = EKS_ADDONS
                .into_iter()
                .filter(|a| {
                    versions
                        .eks_addon(a, c.kubernetes_version.get_ref())
                        .is_none()
                })
                .collect();
            if !missing.is_empty() {
                self.err_help(
                    span(&c.kubernetes_version),
                    format!(
                        "versions.toml pins no {} for Kubernetes {}",
                        missing.join(", "),
                        c.kubernetes_version.get_ref()
                    ),
                    "add the add-on versions for this Kubernetes version to [eks_addons] in versions.toml (docs/terraform.md, \"Add-on versions\")",
                );
            }
        }
        let mut admin_roles = Vec::new();
        for r in &c.admin_roles {
            if let Some((kind, _)) = self.check(r, "admin role", names::iam_arn)
                && kind != "role"
            {
                self.err_help(
                    span(r),
                    format!(
                        "admin access needs an IAM role, \"{}\" is a {kind}",
                        r.get_ref()
                    ),
                    "EKS access entries take role ARNs; create a role the group can assume",
                );
            }
            admin_roles.push(r.get_ref().clone());
        }
        self.unique("admin role", &c.admin_roles);

        let endpoint = self.endpoint(c.endpoint.get_ref(), &c.endpoint, protected, &c.name);
        let private_access = self.private_access(c.endpoint.get_ref(), &c.endpoint, &c.name);
        let support = match c.support.as_ref().map(|s| s.get_ref().as_str()) {
            None | Some("standard") => SupportType::Standard,
            Some("extended") => SupportType::Extended,
            Some(other) => {
                let s = c.support.as_ref().unwrap();
                self.err_help(
                    span(s),
                    format!("unknown support type \"{other}\""),
                    "support is \"standard\" (upgraded by EKS when standard support ends) or \"extended\" (kept on its version at the extended-support price; `cargo xtask plan` shows it)",
                );
                SupportType::Standard
            }
        };
        // An unknown role is reported once; do not also demand what a workload cluster needs.
        let role_known = matches!(c.role.get_ref().as_str(), "workload" | "controlplane");
        let gateway = match (&c.gateway, role) {
            (Some(g), _) => Some(self.gateway(g.get_ref())),
            (None, Role::Workload) if role_known => {
                self.err_help(
                    span(&c.name),
                    format!("workload cluster \"{}\" has no gateway", c.name.get_ref()),
                    "add [clusters.gateway] with scheme, certificate_arn and domain: applications are reached through it",
                );
                None
            }
            (None, _) => None,
        };

        if c.node_pools.is_empty() {
            self.err_help(
                span(&c.name),
                format!("cluster \"{}\" has no node pools", c.name.get_ref()),
                "add at least one [[clusters.node_pools]]",
            );
        }
        let node_pools = c.node_pools.iter().map(|p| self.node_pool(p)).collect();
        self.unique(
            "node pool name",
            c.node_pools.iter().map(|p| &p.get_ref().name),
        );
        let pool_renames: Vec<_> = c
            .node_pools
            .iter()
            .map(|p| (&p.get_ref().name, p.get_ref().renamed_from.as_ref()))
            .collect();
        self.renames(
            "node pool",
            "in this cluster",
            |s| names::dns_label(s, MAX_NODE_POOL_NAME),
            &pool_renames,
        );
        let renamed_from = match (&c.renamed_from, role) {
            (Some(old), Role::Controlplane) => {
                self.err_help(
                    span(old),
                    "the controlplane cannot be renamed with renamed_from",
                    format!(
                        "no address in any state is keyed by its name, only its state key (\"{}/terraform.tfstate\"), and a moved block cannot cross states: copy the state from \"{}/terraform.tfstate\" to the new key by hand (docs/terraform.md, \"Renaming a cluster\"), then remove renamed_from",
                        c.name.get_ref(),
                        old.get_ref()
                    ),
                );
                None
            }
            (Some(old), Role::Workload) => Some(old.get_ref().clone()),
            (None, _) => None,
        };
        let ingest_percent = match (&c.ingest_percent, role) {
            (Some(p), Role::Controlplane) => {
                self.err_help(
                    span(p),
                    "the controlplane produces no ingest of its own",
                    "remove `ingest_percent`; it is the share of a workload cluster",
                );
                None
            }
            (Some(p), Role::Workload) => Some(self.positive(p, "ingest_percent", 100)),
            (None, _) => None,
        };

        Cluster {
            name: c.name.get_ref().clone(),
            renamed_from,
            role,
            environment,
            region,
            account_id,
            vpc_cidr,
            availability_zones: azs.clamp(0, MAX_AZS) as u8,
            kubernetes_version: c.kubernetes_version.get_ref().clone(),
            protected,
            admin_roles,
            endpoint,
            private_access,
            support,
            gateway,
            node_pools,
            ingest_percent,
        }
    }

    /// Who reaches the private endpoint: rules on the cluster security group. A private-only
    /// endpoint needs at least one source, or nothing outside the nodes (the deploy included)
    /// can reach the API.
    fn private_access(
        &mut self,
        e: &raw::Endpoint,
        whole: &S<raw::Endpoint>,
        cluster: &S<String>,
    ) -> PrivateAccess {
        let mut access = PrivateAccess::default();
        for c in &e.private_cidrs {
            if let Some(net) = self.check(c, "private endpoint CIDR", names::cidr) {
                access.cidrs.push(net);
            }
        }
        for g in &e.private_security_groups {
            self.check(g, "security group", names::security_group_id);
            access.security_groups.push(g.get_ref().clone());
        }
        self.unique("private endpoint CIDR", &e.private_cidrs);
        self.unique("security group", &e.private_security_groups);
        if e.access.get_ref() == "private" && access.is_empty() {
            self.err_help(
                span(whole),
                format!(
                    "the private endpoint of cluster \"{}\" has no access path",
                    cluster.get_ref()
                ),
                "only the cluster's own nodes could reach its API, so no deploy could: list the networks the deploy runs from (a VPN, a self-hosted runner network routed to the VPC) in private_cidrs, or the security groups of runners inside the VPC in private_security_groups (docs/ci.md, \"Reaching the clusters\")",
            );
        }
        access
    }

    fn endpoint(
        &mut self,
        e: &raw::Endpoint,
        whole: &S<raw::Endpoint>,
        protected: bool,
        cluster: &S<String>,
    ) -> EndpointAccess {
        match e.access.get_ref().as_str() {
            "private" => {
                if let Some(first) = e.public_cidrs.first() {
                    self.err_help(
                        span(first),
                        "public_cidrs given for a private endpoint",
                        "set access = \"public\" or remove public_cidrs",
                    );
                }
                EndpointAccess::Private
            }
            "public" => {
                if e.public_cidrs.is_empty() {
                    self.err_help(
                        span(whole),
                        format!(
                            "the public endpoint of cluster \"{}\" has no allowed CIDRs",
                            cluster.get_ref()
                        ),
                        "list the networks that may reach the API in public_cidrs",
                    );
                }
                let mut allowed = Vec::new();
                let open = |cluster: &str| {
                    (
                        format!(
                            "protected cluster \"{cluster}\" would open its API endpoint to the whole internet"
                        ),
                        "list the networks that need the API (CI runners, VPN), or use access = \"private\"",
                    )
                };
                for c in &e.public_cidrs {
                    if let Some(net) = self.check(c, "allowed CIDR", names::cidr) {
                        if protected && net.prefix_len() == 0 {
                            let (m, h) = open(cluster.get_ref());
                            self.err_help(span(c), m, h);
                        }
                        allowed.push(net);
                    }
                }
                // Several CIDRs can cover the internet as well as 0.0.0.0/0 does
                // (0.0.0.0/1 and 128.0.0.0/1): the rule is about their union.
                if protected
                    && allowed.iter().all(|n| n.prefix_len() > 0)
                    && names::covers_everything(&allowed)
                {
                    let (m, h) = open(cluster.get_ref());
                    self.err_help(
                        span(whole),
                        format!("{m}: together, public_cidrs cover every IPv4 address"),
                        h,
                    );
                }
                EndpointAccess::Public {
                    allowed_cidrs: allowed,
                }
            }
            other => {
                self.err_help(
                    span(&e.access),
                    format!("unknown endpoint access \"{other}\""),
                    "access is \"private\" or \"public\"",
                );
                EndpointAccess::Private
            }
        }
    }

    fn gateway(&mut self, g: &raw::Gateway) -> Gateway {
        let scheme = match g.scheme.get_ref().as_str() {
            "internet-facing" => LoadBalancerScheme::InternetFacing,
            "internal" => LoadBalancerScheme::Internal,
            other => {
                self.err_help(
                    span(&g.scheme),
                    format!("unknown load balancer scheme \"{other}\""),
                    "scheme is \"internet-facing\" or \"internal\"",
                );
                LoadBalancerScheme::Internal
            }
        };
        self.check(
            &g.certificate_arn,
            "certificate ARN",
            names::acm_certificate_arn,
        );
        self.check(&g.domain, "gateway domain", names::dns_name);
        Gateway {
            scheme,
            certificate_arn: g.certificate_arn.get_ref().clone(),
            domain: g.domain.get_ref().clone(),
        }
    }

    fn node_pool(&mut self, sp: &S<raw::NodePool>) -> NodePool {
        let p = sp.get_ref();
        self.check(&p.name, "node pool name", |s| {
            names::dns_label(s, MAX_NODE_POOL_NAME)
        });
        if p.instance_types.get_ref().is_empty() {
            self.err_help(
                span(&p.instance_types),
                "a node pool needs at least one instance type",
                "e.g. instance_types = [\"m6i.large\"]",
            );
        }
        for t in p.instance_types.get_ref() {
            if self
                .check(t, "instance type", names::instance_type)
                .is_some()
                && !aws_data::instance_types().contains(t.get_ref().as_str())
            {
                let help = match aws_data::closest_instance_type(t.get_ref()) {
                    Some(c) => format!(
                        "did you mean \"{c}\"? (crates/model/data/ec2-instance-types.txt lists the EC2 API's types)"
                    ),
                    None => {
                        "crates/model/data/ec2-instance-types.txt lists the types the EC2 API knows"
                            .to_string()
                    }
                };
                self.err_help(
                    span(t),
                    format!("EC2 has no instance type \"{}\"", t.get_ref()),
                    help,
                );
            }
        }
        self.unique("instance type", p.instance_types.get_ref().iter());
        let types = p.instance_types.get_ref();
        if let Some(first) = types.first() {
            let arm = is_arm64_instance_type(first.get_ref());
            if let Some(other) = types
                .iter()
                .find(|t| is_arm64_instance_type(t.get_ref()) != arm)
            {
                self.err_help(
                    span(other),
                    format!(
                        "node pool \"{}\" mixes arm64 and x86_64 instance types (\"{}\" and \"{}\")",
                        p.name.get_ref(),
                        first.get_ref(),
                        other.get_ref()
                    ),
                    "a node group runs one AMI type: put Graviton instances in a pool of their own",
                );
            }
        }
        let capacity = match p.capacity.as_ref().map(|c| c.get_ref().as_str()) {
            None | Some("on-demand") => Capacity::OnDemand,
            Some("spot") => Capacity::Spot,
            Some(other) => {
                let c = p.capacity.as_ref().unwrap();
                self.err_help(
                    span(c),
                    format!("unknown capacity \"{other}\""),
                    "capacity is \"on-demand\" or \"spot\"",
                );
                Capacity::OnDemand
            }
        };
        let (min, desired, max) = (*p.min.get_ref(), *p.desired.get_ref(), *p.max.get_ref());
        for (v, what) in [(&p.min, "min"), (&p.desired, "desired"), (&p.max, "max")] {
            if *v.get_ref() < 0 || *v.get_ref() > 1000 {
                self.err_help(
                    span(v),
                    format!(
                        "node pool {what} must be between 0 and 1000, found {}",
                        v.get_ref()
                    ),
                    "EKS managed node groups scale from 0 to 1000 nodes",
                );
            }
        }
        if max < 1 {
            self.err_help(
                span(&p.max),
                "node pool max must be at least 1",
                "a pool that can never have a node is of no use",
            );
        }
        // Point at the value that breaks min <= desired <= max, not at the whole pool.
        let sizes = format!(
            "node pools need min <= desired <= max; here min = {min}, desired = {desired}, max = {max}"
        );
        if min > desired {
            self.err_help(
                span(&p.min),
                format!(
                    "node pool \"{}\" has min = {min} above desired = {desired}",
                    p.name.get_ref()
                ),
                sizes.clone(),
            );
        }
        if desired > max {
            self.err_help(
                span(&p.desired),
                format!(
                    "node pool \"{}\" has desired = {desired} above max = {max}",
                    p.name.get_ref()
                ),
                sizes,
            );
        }
        let disk_gib = match &p.disk_gib {
            Some(d) => {
                let n = *d.get_ref();
                if !(20..=16384).contains(&n) {
                    self.err_help(
                        span(d),
                        format!("disk_gib must be between 20 and 16384, found {n}"),
                        "EBS gp3 volumes take 1-16384 GiB; nodes need at least 20",
                    );
                }
                n.clamp(0, 16384) as u32
            }
            None => 50,
        };
        let mut labels = BTreeMap::new();
        for (k, v) in &p.labels {
            self.check(k, "label key", names::label_key);
            self.check(v, "label value", names::label_value);
            labels.insert(k.get_ref().clone(), v.get_ref().clone());
        }
        // Kubernetes keys a node's taints by key and effect: a second one of a pair is refused
        // by the API (and by EKS's node group API).
        let mut seen_taints: BTreeMap<(String, String), usize> = BTreeMap::new();
        for t in &p.taints {
            let r = t.get_ref();
            let pair = (r.key.get_ref().clone(), r.effect.get_ref().clone());
            if let Some(first) = seen_taints.get(&pair) {
                self.err_help(
                    span(t),
                    format!(
                        "duplicate taint {}:{} in node pool \"{}\"",
                        pair.0,
                        pair.1,
                        p.name.get_ref()
                    ),
                    format!(
                        "a node has one taint per key and effect; the one on line {first} already sets it"
                    ),
                );
            } else {
                let line = self.line(&span(t));
                seen_taints.insert(pair, line);
            }
        }
        let taints = p
            .taints
            .iter()
            .map(|t| {
                let t = t.get_ref();
                self.check(&t.key, "taint key", names::label_key);
                if let Some(v) = &t.value {
                    self.check(v, "taint value", names::label_value);
                }
                let effect = match t.effect.get_ref().as_str() {
                    "NoSchedule" => TaintEffect::NoSchedule,
                    "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
                    "NoExecute" => TaintEffect::NoExecute,
                    other => {
                        self.err_help(
                            span(&t.effect),
                            format!("unknown taint effect \"{other}\""),
                            "effect is \"NoSchedule\", \"PreferNoSchedule\" or \"NoExecute\"",
                        );
                        TaintEffect::NoSchedule
                    }
                };
                Taint {
                    key: t.key.get_ref().clone(),
                    value: t.value.as_ref().map(|v| v.get_ref().clone()),
                    effect,
                }
            })
            .collect();
        NodePool {
            name: p.name.get_ref().clone(),
            renamed_from: p.renamed_from.as_ref().map(|r| r.get_ref().clone()),
            instance_types: p
                .instance_types
                .get_ref()
                .iter()
                .map(|t| t.get_ref().clone())
                .collect(),
            capacity,
            min: min.clamp(0, 1000) as u32,
            desired: desired.clamp(0, 1000) as u32,
            max: max.clamp(0, 1000) as u32,
            disk_gib,
            labels,
            taints,
        }
    }
}
