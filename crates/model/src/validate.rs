//! From [`raw`] to the typed [`Platform`]: every check, every error collected.
//!
//! Syntax, type and unknown-key errors come from the TOML parser (one at a time: the parser
//! stops at the first). Once the file parses, every semantic check runs and all failures are
//! reported together, in source order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, LoadError};
use crate::names;
use crate::raw::{self, S};
use crate::versions::EKS_ADDONS;
use crate::*;

/// Kubernetes allows up to 63 characters, but names end up in IAM role names, node group
/// names and NLB names built from `<platform>-<cluster>-...`; 32 keeps all of them in AWS limits.
const MAX_CLUSTER_NAME: usize = 32;
/// `<platform>-<cluster>` plus `-cluster-autoscaler` must fit an IAM role name (64).
const MAX_EKS_NAME: usize = 45;
const MAX_AZS: i64 = 6;
/// EKS node group names get a generated suffix; keep the readable part short.
const MAX_NODE_POOL_NAME: usize = 20;

pub(crate) fn load(file: &str, source: &str, versions: &Versions) -> Result<Platform, LoadError> {
    let fail = |diagnostics: Vec<Diagnostic>| LoadError {
        file: file.to_string(),
        source_text: source.to_string(),
        diagnostics,
    };
    let parsed: raw::File = match toml::from_str(source) {
        Ok(f) => f,
        Err(e) => return Err(fail(vec![parse_error(source, &e)])),
    };
    let mut cx = Cx {
        source: source.to_string(),
        ..Cx::default()
    };
    scan_for_secrets(source, &mut cx);
    // A credential is reported as such; that the same text is also not a valid smarthost or
    // secret name is noise next to it.
    let secrets: Vec<Range<usize>> = cx.diags.iter().map(|d| d.span.clone()).collect();
    let platform = cx.platform(parsed, versions);
    let n_secrets = secrets.len();
    let mut i = 0;
    cx.diags.retain(|d| {
        i += 1;
        i <= n_secrets || !secrets.contains(&d.span)
    });
    if cx.diags.is_empty() {
        Ok(platform.expect("no diagnostics means a platform was built"))
    } else {
        cx.diags.sort_by_key(|d| (d.span.start, d.span.end));
        cx.diags.dedup();
        Err(fail(cx.diags))
    }
}

#[derive(Default)]
struct Cx {
    diags: Vec<Diagnostic>,
    /// The file, to name the line of an earlier definition in a help.
    source: String,
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Cx {
    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(span, msg).with_help(help));
    }

    /// The 1-based line of a span, for "first defined on line N".
    fn line(&self, span: &Range<usize>) -> usize {
        line_col(&self.source, span.start).0
    }

    /// Runs a value check; on failure reports `what "value" is invalid` with the check's help.
    fn check<T>(
        &mut self,
        v: &S<String>,
        what: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match f(v.get_ref()) {
            Ok(t) => Some(t),
            Err(help) => {
                self.err_help(
                    span(v),
                    format!("{what} \"{}\" is not valid", v.get_ref()),
                    help,
                );
                None
            }
        }
    }

    fn positive(&mut self, v: &S<i64>, what: &str, max: i64) -> u32 {
        let n = *v.get_ref();
        if n < 1 || n > max {
            self.err_help(
                span(v),
                format!("{what} must be between 1 and {max}, found {n}"),
                "use a whole number in that range",
            );
            return 1;
        }
        n as u32
    }

    fn unique<'a>(&mut self, what: &str, items: impl IntoIterator<Item = &'a S<String>>) {
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for item in items {
            if let Some(first) = seen.get(item.get_ref().as_str()) {
                let line = self.line(first);
                self.err_help(
                    span(item),
                    format!("duplicate {what} \"{}\"", item.get_ref()),
                    format!(
                        "{what}s must be unique; \"{}\" is already used on line {line}",
                        item.get_ref()
                    ),
                );
            } else {
                seen.insert(item.get_ref(), span(item));
            }
        }
    }

    /// The `renamed_from` of the objects whose names key addresses within one Terraform state
    /// (the node pools of a cluster, the workload clusters in the controlplane's state). Each
    /// becomes a `moved` block, which Terraform refuses from an address that is still declared
    /// and twice from one address: so an old name is a valid name (`valid`), no object has it
    /// any more, and only one object claims it.
    fn renames<'a>(
        &mut self,
        what: &str,
        scope: &str,
        valid: impl Fn(&str) -> Result<(), String>,
        items: &[(&'a S<String>, Option<&'a S<String>>)],
    ) {
        let mut claimed: HashMap<&str, (&str, Range<usize>)> = HashMap::new();
        for (name, old) in items {
            let Some(old) = old else { continue };
            let old_name = old.get_ref().as_str();
            if self
                .check(old, &format!("previous {what} name"), &valid)
                .is_none()
            {
                continue;
            }
            if old_name == name.get_ref() {
                self.err_help(
                    span(old),
                    format!("renamed_from = \"{old_name}\" is the {what}'s own name"),
                    format!("renamed_from is the name the {what} had before its rename; remove it, or write that old name"),
                );
                continue;
            }
            if let Some((holder, _)) = items.iter().find(|(n, _)| n.get_ref() == old_name) {
                let line = self.line(&span(holder));
                self.err_help(
                    span(old),
                    format!("renamed_from = \"{old_name}\" names a {what} that still exists {scope}"),
                    format!(
                        "the {what} on line {line} still has that name, and Terraform refuses a moved block from an address that is still declared; renamed_from is the name the {what} had before, which no {what} has any more"
                    ),
                );
                continue;
            }
            if let Some((first, first_span)) = claimed.get(old_name) {
                let line = self.line(first_span);
                self.err_help(
                    span(old),
                    format!(
                        "{what}s \"{first}\" and \"{}\" are both renamed from \"{old_name}\"",
                        name.get_ref()
                    ),
                    format!(
                        "an old address moves to one new address only; \"{first}\" claims \"{old_name}\" on line {line}"
                    ),
                );
                continue;
            }
            claimed.insert(old_name, (name.get_ref(), span(old)));
        }
    }

    fn platform(&mut self, f: raw::File, versions: &Versions) -> Option<Platform> {
        let meta = f.platform.get_ref();
        self.check(&meta.name, "platform name", |s| names::dns_label(s, 20));
        if self.check(&meta.region, "region", names::region).is_some() {
            self.known_region(&meta.region);
        }
        self.check(&meta.account_id, "account id", names::account_id);
        self.check(&meta.internal_domain, "internal domain", names::dns_name);
        let state_bucket = match &meta.state_bucket {
            Some(b) => {
                self.check(b, "state bucket", names::bucket_name);
                b.get_ref().clone()
            }
            None => format!(
                "{}-{}-tfstate",
                meta.name.get_ref(),
                meta.account_id.get_ref()
            ),
        };

        // Clusters.
        if f.clusters.is_empty() {
            self.err_help(
                span(&f.platform),
                "the platform has no clusters",
                "add a [[clusters]] table with role = \"controlplane\" and one per environment",
            );
        }
        let clusters: Vec<Cluster> = f
            .clusters
            .iter()
            .map(|c| self.cluster(c, meta, versions))
            .collect();
        self.unique("cluster name", f.clusters.iter().map(|c| &c.get_ref().name));
        // A workload cluster's old name keys the controlplane's addresses of it (moved blocks
        // there); the controlplane's own name keys nothing but its state, which only an
        // operator can move (checked in `cluster`).
        let cluster_renames: Vec<_> = f
            .clusters
            .iter()
            .map(|c| {
                let c = c.get_ref();
                let workload = c.role.get_ref() != "controlplane";
                (&c.name, c.renamed_from.as_ref().filter(|_| workload))
            })
            .collect();
        self.renames(
            "cluster",
            "in this platform",
            |s| names::dns_label(s, MAX_CLUSTER_NAME),
            &cluster_renames,
        );
        let controlplanes: Vec<&S<raw::Cluster>> = f
            .clusters
            .iter()
            .filter(|c| c.get_ref().role.get_ref() == "controlplane")
            .collect();
        if controlplanes.is_empty() && !f.clusters.is_empty() {
            self.err_help(
                span(&f.clusters[0].get_ref().role),
                "the platform has no controlplane cluster",
                "exactly one cluster must have role = \"controlplane\"",
            );
        }
        for extra in controlplanes.iter().skip(1) {
            let first = controlplanes[0].get_ref();
            let line = self.line(&span(&first.role));
            self.err_help(
                span(&extra.get_ref().role),
                format!(
                    "cluster \"{}\" is a second controlplane",
                    extra.get_ref().name.get_ref()
                ),
                format!(
                    "exactly one cluster has role = \"controlplane\" (\"{}\", line {line}); make this one a workload cluster",
                    first.name.get_ref()
                ),
            );
        }
        // One cluster per environment; environment names are unique across clusters.
        let env_spans: Vec<S<String>> = f
            .clusters
            .iter()
            .zip(&clusters)
            .map(|(rc, c)| {
                let rc = rc.get_ref();
                let sp = rc.environment.as_ref().map_or_else(|| span(&rc.name), span);
                Spanned::new(sp, c.environment.clone())
            })
            .collect();
        self.unique("environment", env_spans.iter());
        // VPCs are peered with each other through the controlplane: no overlaps. A CIDR that
        // did not parse is already reported (and its placeholder 0.0.0.0/0 overlaps everything).
        let valid_cidr: Vec<bool> = f
            .clusters
            .iter()
            .map(|c| names::cidr(c.get_ref().vpc_cidr.get_ref()).is_ok())
            .collect();
        for (i, a) in clusters.iter().enumerate() {
            for (j, b) in clusters.iter().enumerate().skip(i + 1) {
                if valid_cidr[i] && valid_cidr[j] && names::overlaps(&a.vpc_cidr, &b.vpc_cidr) {
                    let rb = f.clusters[j].get_ref();
                    let first = self.line(&span(&f.clusters[i].get_ref().vpc_cidr));
                    self.err_help(
                        span(&rb.vpc_cidr),
                        format!(
                            "VPC CIDR {} of cluster \"{}\" overlaps {} of cluster \"{}\"",
                            b.vpc_cidr, b.name, a.vpc_cidr, a.name
                        ),
                        format!(
                            "every VPC is peered with the controlplane's, so no two may overlap; pick a range outside {} (line {first})",
                            a.vpc_cidr
                        ),
                    );
                }
            }
        }
        // Clusters in another account than the platform's (where the state bucket and the
        // private zone are) would need state access, per-account deploy credentials and
        // external-dns writing into the zone through an assumed role; until Flotilla renders and
        // runs all of that, such a platform is refused here rather than failing mid-deploy.
        for (rc, c) in f.clusters.iter().zip(&clusters) {
            let Some(account) = &rc.get_ref().account_id else {
                continue;
            };
            if names::account_id(account.get_ref()).is_ok()
                && c.account_id != *meta.account_id.get_ref()
            {
                self.err_help(
                    span(account),
                    format!(
                        "cluster \"{}\" is in account {}, not the platform's {}",
                        c.name,
                        c.account_id,
                        meta.account_id.get_ref()
                    ),
                    "clusters in other accounts are not supported yet: their Terraform state needs a state-access role in the platform's account, the deploy needs credentials per account, and external-dns needs a role to write the controlplane's private zone (docs/terraform.md, \"Other accounts\"); put the cluster in the platform's account",
                );
            }
        }
        // Explicit ingest shares leave something for the environments without one.
        let explicit: Vec<&S<i64>> = f
            .clusters
            .iter()
            .zip(&clusters)
            .filter(|(_, c)| c.role == Role::Workload)
            .filter_map(|(rc, _)| rc.get_ref().ingest_percent.as_ref())
            .collect();
        let workloads = clusters.iter().filter(|c| c.role == Role::Workload).count();
        let sum: i64 = explicit.iter().map(|p| *p.get_ref()).sum();
        if let Some(last) = explicit.last()
            && (sum > 100
                || (sum < 100 && explicit.len() == workloads)
                || (sum == 100 && explicit.len() < workloads))
        {
            self.err_help(
                span(last),
                format!("ingest_percent of the workload clusters adds up to {sum}"),
                if explicit.len() == workloads {
                    "when every workload cluster sets ingest_percent they must add up to 100"
                } else {
                    "the clusters without ingest_percent share what is left of 100; leave them something (or set it everywhere)"
                },
            );
        }
        let environments: BTreeSet<String> = clusters
            .iter()
            .filter(|c| c.role == Role::Workload)
            .map(|c| c.environment.clone())
            .collect();
        let all_targets: BTreeSet<String> =
            clusters.iter().map(|c| c.environment.clone()).collect();

        // Applications.
        let mut applications: Vec<Application> = f
            .applications
            .iter()
            .map(|a| self.application(a, &environments))
            .collect();
        self.unique(
            "application name",
            f.applications.iter().map(|a| &a.get_ref().name),
        );
        let ns_spans: Vec<S<String>> = f
            .applications
            .iter()
            .zip(&applications)
            .map(|(ra, a)| {
                let ra = ra.get_ref();
                let sp = ra.namespace.as_ref().map_or_else(|| span(&ra.name), span);
                Spanned::new(sp, a.namespace.clone())
            })
            .collect();
        self.unique("namespace", ns_spans.iter());
        for ns in &ns_spans {
            if reserved::is_reserved_namespace(ns.get_ref()) {
                self.err_help(
                    span(ns),
                    format!(
                        "namespace \"{}\" is used by the platform itself",
                        ns.get_ref()
                    ),
                    "choose another name with `namespace = \"...\"`",
                );
            }
        }

        // Egress to other applications names their namespaces.
        let app_namespaces: BTreeSet<String> =
            applications.iter().map(|a| a.namespace.clone()).collect();
        for ra in &f.applications {
            for e in &ra.get_ref().egress {
                for n in &e.get_ref().namespaces {
                    if names::dns_label(n.get_ref(), 63).is_ok()
                        && !app_namespaces.contains(n.get_ref())
                    {
                        self.err_help(
                            span(n),
                            format!(
                                "egress names namespace \"{}\", which no application has",
                                n.get_ref()
                            ),
                            known("application namespaces", app_namespaces.iter()),
                        );
                    }
                }
            }
        }

        // Routes.
        self.routes(&f.routes, &f.applications, &mut applications, &clusters);

        let observability =
            self.observability(f.observability.get_ref(), &all_targets, &environments);
        let sizing = self.sizing(f.sizing.get_ref());

        if !self.diags.is_empty() {
            return None;
        }
        let platform = Platform {
            name: meta.name.get_ref().clone(),
            region: meta.region.get_ref().clone(),
            account_id: meta.account_id.get_ref().clone(),
            internal_domain: meta.internal_domain.get_ref().clone(),
            state_bucket,
            clusters,
            applications,
            observability,
            sizing,
            versions: versions.clone(),
        };
        // The capacity plan is a function of the typed platform, so this check runs last.
        self.data_pool_holds_the_plan(&platform, &f);
        self.diags.is_empty().then_some(platform)
    }

    /// The controlplane pool that runs Kafka, Logstash and Elasticsearch must be able to grow to
    /// the nodes the capacity plan needs: Terraform raises the pool's min and desired to the
    /// plan, but never its max, so a max below the plan would leave data pods unschedulable.
    fn data_pool_holds_the_plan(&mut self, platform: &Platform, f: &raw::File) {
        let plan = platform.capacity_plan();
        let need = plan.data_pool.min_nodes;
        // Clusters and node pools are built from the raw ones in order: indices match.
        let Some((ci, cp)) = platform
            .clusters
            .iter()
            .enumerate()
            .find(|(_, c)| c.role == Role::Controlplane)
        else {
            return;
        };
        let Some((pi, pool)) = cp
            .node_pools
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == plan.data_pool.pool)
        else {
            return;
        };
        if need <= pool.max {
            return;
        }
        let raw_pool = f.clusters[ci].get_ref().node_pools[pi].get_ref();
        let d = &plan.data_pool;
        self.err_help(
            span(&raw_pool.max),
            format!(
                "controlplane node pool \"{}\" has max = {} but the capacity plan needs {need} nodes",
                pool.name, pool.max
            ),
            format!(
                "Kafka, Logstash and Elasticsearch for [sizing] request {:.1} CPU and {} GiB on nodes of {} vCPU, {} GiB: raise max to at least {need} (with headroom) or use larger instance types; `cargo xtask plan controlplane` shows the plan",
                d.requested_cpu, d.requested_memory_gib, d.node_cpu, d.node_memory_gib
            ),
        );
    }

    fn cluster(
        &mut self,
        sc: &S<raw::Cluster>,
        meta: &raw::PlatformMeta,
        versions: &Versions,
    ) -> Cluster {
        let c = sc.get_ref();
        self.check(&c.name, "cluster name", |s| {
            names::dns_label(s, MAX_CLUSTER_NAME)
        });
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
        let environment = match (&c.environment, role) {
            (Some(e), Role::Workload) => {
                self.check(e, "environment name", |s| {
                    names::dns_label(s, MAX_CLUSTER_NAME)
                });
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
            _ => c.name.get_ref().clone(),
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

    /// A region of the pinned region table (its zone count is what `availability_zones` is
    /// checked against).
    fn known_region(&mut self, r: &S<String>) {
        if aws_data::availability_zones(r.get_ref()).is_none() {
            let known: Vec<&str> = aws_data::known_regions().collect();
            self.err_help(
                span(r),
                format!("region \"{}\" is not in Flotilla's region table", r.get_ref()),
                format!(
                    "known regions: {} (crates/model/data/aws-regions.toml, with the zone count AWS lists for new accounts; add a region there)",
                    known.join(", ")
                ),
            );
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
                for c in &e.public_cidrs {
                    if let Some(net) = self.check(c, "allowed CIDR", names::cidr) {
                        if protected && net.prefix_len() == 0 {
                            self.err_help(
                                span(c),
                                format!(
                                    "protected cluster \"{}\" would open its API endpoint to the whole internet",
                                    cluster.get_ref()
                                ),
                                "list the networks that need the API (CI runners, VPN), or use access = \"private\"",
                            );
                        }
                        allowed.push(net);
                    }
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
            self.check(t, "instance type", names::instance_type);
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

    fn application(&mut self, sa: &S<raw::Application>, envs: &BTreeSet<String>) -> Application {
        let a = sa.get_ref();
        self.check(&a.name, "application name", |s| names::dns_label(s, 63));
        let team = match self.check(&a.team, "team", names::iam_arn) {
            Some((kind, name)) => Team {
                arn: a.team.get_ref().clone(),
                kind: if kind == "role" {
                    TeamKind::Role
                } else {
                    TeamKind::Group
                },
                name,
            },
            None => Team {
                arn: String::new(),
                kind: TeamKind::Role,
                name: String::new(),
            },
        };
        let namespace = match &a.namespace {
            Some(ns) => {
                self.check(ns, "namespace", |s| names::dns_label(s, 63));
                ns.get_ref().clone()
            }
            None => a.name.get_ref().clone(),
        };
        if a.environments.is_empty() {
            self.err_help(
                span(sa),
                format!(
                    "application \"{}\" runs in no environment",
                    a.name.get_ref()
                ),
                "add [applications.environments] with a quota per environment",
            );
        }
        let mut environments = BTreeMap::new();
        for (env, q) in &a.environments {
            if !envs.contains(env.get_ref()) {
                self.err_help(
                    span(env),
                    format!(
                        "application \"{}\" lists unknown environment \"{}\"",
                        a.name.get_ref(),
                        env.get_ref()
                    ),
                    format!(
                        "{} (an environment is the `environment` of a workload cluster)",
                        known("environments", envs.iter())
                    ),
                );
            }
            let q = q.get_ref();
            self.check(&q.cpu, "CPU quota", names::cpu_quantity);
            self.check(&q.memory, "memory quota", names::memory_quantity);
            let pods = self.positive(&q.pods, "pod quota", 10_000);
            environments.insert(
                env.get_ref().clone(),
                Quota {
                    cpu: q.cpu.get_ref().clone(),
                    memory: q.memory.get_ref().clone(),
                    pods,
                },
            );
        }
        let mut egress = Vec::new();
        for se in &a.egress {
            let e = se.get_ref();
            let mut rule = Egress {
                cidrs: Vec::new(),
                namespaces: Vec::new(),
                ports: Vec::new(),
            };
            for c in &e.cidrs {
                if let Some(net) = self.check(c, "egress CIDR", names::cidr) {
                    rule.cidrs.push(net);
                }
            }
            for n in &e.namespaces {
                self.check(n, "egress namespace", |s| names::dns_label(s, 63));
                rule.namespaces.push(n.get_ref().clone());
            }
            for p in &e.ports {
                rule.ports
                    .push(self.positive(p, "egress port", 65535) as u16);
            }
            if e.cidrs.is_empty() && e.namespaces.is_empty() {
                self.err_help(
                    span(se),
                    format!(
                        "an egress rule of application \"{}\" allows nothing",
                        a.name.get_ref()
                    ),
                    "give cidrs (e.g. [\"0.0.0.0/0\"] for the internet, [\"169.254.170.23/32\"] for the EKS Pod Identity agent) or namespaces of other applications",
                );
            }
            egress.push(rule);
        }
        Application {
            name: a.name.get_ref().clone(),
            team,
            namespace,
            environments,
            routes: Vec::new(),
            egress,
        }
    }

    fn routes(
        &mut self,
        routes: &[S<raw::Route>],
        raw_apps: &[S<raw::Application>],
        apps: &mut [Application],
        clusters: &[Cluster],
    ) {
        // (environment, full host, path) -> first route's span
        let mut seen: HashMap<(String, String, String), Range<usize>> = HashMap::new();
        for sr in routes {
            let r = sr.get_ref();
            let Some(idx) = raw_apps
                .iter()
                .position(|a| a.get_ref().name.get_ref() == r.application.get_ref())
            else {
                self.err_help(
                    span(&r.application),
                    format!(
                        "route refers to unknown application \"{}\"",
                        r.application.get_ref()
                    ),
                    known(
                        "applications",
                        raw_apps.iter().map(|a| a.get_ref().name.get_ref()),
                    ),
                );
                continue;
            };
            self.check(&r.host, "route host", names::host_prefix);
            self.check(&r.service, "service name", |s| names::dns_label(s, 63));
            let path = match &r.path {
                Some(p) => {
                    let ok = p.get_ref().starts_with('/')
                        && !p.get_ref().contains(char::is_whitespace)
                        && !p.get_ref().contains("//");
                    if !ok {
                        self.err_help(
                            span(p),
                            format!("route path \"{}\" is not valid", p.get_ref()),
                            "a path prefix starts with '/', e.g. \"/v1\"",
                        );
                    }
                    p.get_ref().clone()
                }
                None => "/".to_string(),
            };
            let port = *r.port.get_ref();
            if !(1..=65535).contains(&port) {
                self.err_help(
                    span(&r.port),
                    format!("port {port} is out of range"),
                    "ports are 1-65535",
                );
            }
            let target_port = match &r.target_port {
                Some(t) => self.positive(t, "target_port", 65535) as u16,
                None => port.clamp(0, 65535) as u16,
            };
            let app = &mut apps[idx];
            let environments: BTreeSet<String> = match &r.environments {
                Some(list) => {
                    let mut out = BTreeSet::new();
                    for e in list.get_ref() {
                        if !app.environments.contains_key(e.get_ref()) {
                            self.err_help(
                                span(e),
                                format!(
                                    "application \"{}\" does not run in environment \"{}\"",
                                    app.name,
                                    e.get_ref()
                                ),
                                known("environments of the application", app.environments.keys()),
                            );
                        }
                        out.insert(e.get_ref().clone());
                    }
                    out
                }
                None => app.environments.keys().cloned().collect(),
            };
            let mut duplicates: Vec<String> = Vec::new();
            let mut first_line: Option<usize> = None;
            for env in &environments {
                let Some(domain) = clusters
                    .iter()
                    .find(|c| &c.environment == env)
                    .and_then(|c| c.gateway.as_ref())
                    .map(|g| g.domain.clone())
                else {
                    continue;
                };
                let host = format!("{}.{domain}", r.host.get_ref());
                let key = (env.clone(), host.clone(), path.clone());
                if let Some(first) = seen.get(&key) {
                    first_line.get_or_insert(self.line(first));
                    duplicates.push(format!("{host}{path} in \"{env}\""));
                } else {
                    seen.insert(key, span(sr));
                }
            }
            if let Some(line) = first_line {
                // One error per route, at the path (or host) that repeats an earlier route's.
                self.err_help(
                    r.path.as_ref().map_or_else(|| span(&r.host), span),
                    format!("duplicate route {}", duplicates.join(", ")),
                    format!("the route on line {line} already has this host and path; each pair leads to one service, so change the host or the path"),
                );
            }
            app.routes.push(Route {
                host: r.host.get_ref().clone(),
                path,
                service: r.service.get_ref().clone(),
                port: port.clamp(0, 65535) as u16,
                target_port,
                environments,
            });
        }
    }

    fn observability(
        &mut self,
        o: &raw::Observability,
        targets: &BTreeSet<String>,
        environments: &BTreeSet<String>,
    ) -> Observability {
        self.check(&o.logs_topic, "logs topic", |s| names::dns_label(s, 100));
        self.check(&o.metrics_topic, "metrics topic", |s| {
            names::dns_label(s, 100)
        });
        if o.logs_topic.get_ref() == o.metrics_topic.get_ref() {
            self.err_help(
                span(&o.metrics_topic),
                "logs and metrics share one topic name",
                "give the metrics topic its own name",
            );
        }
        let kafka_retention_hours =
            self.positive(&o.kafka_retention_hours, "kafka_retention_hours", 24 * 90);
        let prometheus_retention_days = self.positive(
            &o.prometheus_retention_days,
            "prometheus_retention_days",
            365,
        );
        let prometheus_volume_gib =
            self.positive(&o.prometheus_volume_gib, "prometheus_volume_gib", 16384);

        let receivers: Vec<Receiver> = o.receivers.iter().map(|r| self.receiver(r)).collect();
        self.unique(
            "receiver name",
            o.receivers.iter().map(|r| &r.get_ref().name),
        );
        let receiver_names: BTreeSet<&str> = receivers.iter().map(|r| r.name.as_str()).collect();

        let alerts: Vec<Alert> = o.alerts.iter().map(|a| self.alert(a)).collect();
        self.unique("alert name", o.alerts.iter().map(|a| &a.get_ref().name));

        let mut routing = Vec::new();
        for sr in &o.routing {
            let r = sr.get_ref();
            for e in &r.environments {
                if !targets.contains(e.get_ref()) {
                    self.err_help(
                        span(e),
                        format!("routing rule names unknown environment \"{}\"", e.get_ref()),
                        known("environments", targets.iter()),
                    );
                }
            }
            let severities = r
                .severities
                .iter()
                .filter_map(|s| self.severity(s))
                .collect();
            if r.receivers.get_ref().is_empty() {
                self.err_help(
                    span(&r.receivers),
                    "a routing rule with no receivers",
                    "name at least one receiver",
                );
            }
            for name in r.receivers.get_ref() {
                if !receiver_names.contains(name.get_ref().as_str()) {
                    self.err_help(
                        span(name),
                        format!("routing rule names unknown receiver \"{}\"", name.get_ref()),
                        known("receivers", receiver_names.iter()),
                    );
                }
            }
            routing.push(AlertRoute {
                environments: r.environments.iter().map(|e| e.get_ref().clone()).collect(),
                severities,
                receivers: r
                    .receivers
                    .get_ref()
                    .iter()
                    .map(|n| n.get_ref().clone())
                    .collect(),
            });
        }
        let watchdog_receiver = o.watchdog_receiver.as_ref().map(|w| {
            if !receiver_names.contains(w.get_ref().as_str()) {
                self.err_help(
                    span(w),
                    format!(
                        "watchdog_receiver names unknown receiver \"{}\"",
                        w.get_ref()
                    ),
                    known("receivers", receiver_names.iter()),
                );
            }
            w.get_ref().clone()
        });
        let runbooks_url = match &o.runbooks_url {
            Some(u) => {
                self.check(u, "runbooks URL", names::web_url);
                if u.get_ref().contains('#') {
                    self.err_help(
                        span(u),
                        "runbooks_url has a fragment",
                        "give the page's address; each alert adds #<its section>",
                    );
                }
                u.get_ref().clone()
            }
            None => DEFAULT_RUNBOOKS_URL.to_string(),
        };
        let obs = Observability {
            watchdog_receiver,
            runbooks_url,
            logs_topic: o.logs_topic.get_ref().clone(),
            metrics_topic: o.metrics_topic.get_ref().clone(),
            kafka_retention_hours,
            prometheus_retention_days,
            prometheus_volume_gib,
            receivers,
            alerts,
            routing,
        };
        // Every alert, in every environment where it is evaluated, reaches a receiver.
        for (sa, alert) in o.alerts.iter().zip(&obs.alerts) {
            let envs: Vec<&String> = match alert.rule.scope() {
                AlertScope::Controlplane => targets
                    .iter()
                    .filter(|t| !environments.contains(*t))
                    .collect(),
                AlertScope::AllClusters => targets.iter().collect(),
            };
            let unrouted: Vec<&str> = envs
                .iter()
                .filter(|e| obs.receivers_for(e, alert.severity).is_empty())
                .map(|e| e.as_str())
                .collect();
            if !unrouted.is_empty() {
                self.err_help(
                    span(&sa.get_ref().name),
                    format!(
                        "alert \"{}\" ({} severity) reaches no receiver in {}",
                        alert.name,
                        alert.severity,
                        unrouted.join(", ")
                    ),
                    "add an [[observability.routing]] rule that matches its environment and severity",
                );
            }
        }
        obs
    }

    fn receiver(&mut self, sr: &S<raw::Receiver>) -> Receiver {
        let r = sr.get_ref();
        self.check(&r.name, "receiver name", |s| names::dns_label(s, 63));
        self.check(
            &r.credentials_secret,
            "credentials secret name",
            names::secret_name,
        );
        let kind = match r.kind.get_ref().as_str() {
            "email" => {
                if r.to.is_empty() {
                    self.err_help(
                        span(sr),
                        format!(
                            "email receiver \"{}\" has no `to` addresses",
                            r.name.get_ref()
                        ),
                        "add to = [\"oncall@example.com\"]",
                    );
                }
                for t in &r.to {
                    self.check(t, "email address", names::email);
                }
                let from = match &r.from {
                    Some(f) => {
                        self.check(f, "email address", names::email);
                        f.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!(
                                "email receiver \"{}\" has no `from` address",
                                r.name.get_ref()
                            ),
                            "add from = \"alerts@example.com\"",
                        );
                        String::new()
                    }
                };
                let smarthost = match &r.smarthost {
                    Some(h) => {
                        let ok = h.get_ref().rsplit_once(':').is_some_and(|(host, port)| {
                            names::dns_name(host).is_ok()
                                && port.parse::<u16>().is_ok_and(|p| p > 0)
                        });
                        if !ok {
                            self.err_help(
                                span(h),
                                format!("smarthost \"{}\" is not host:port", h.get_ref()),
                                "e.g. \"email-smtp.eu-west-1.amazonaws.com:587\"",
                            );
                        }
                        h.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!("email receiver \"{}\" has no smarthost", r.name.get_ref()),
                            "add smarthost = \"host:587\"",
                        );
                        String::new()
                    }
                };
                if let Some(c) = &r.channel {
                    self.err_help(span(c), "`channel` belongs to Slack receivers", "remove it");
                }
                // Amazon SES refuses a login with the sender address: it takes the SMTP user
                // name of an IAM user (and the SMTP password derived from its secret key).
                let ses = smarthost
                    .split(':')
                    .next()
                    .is_some_and(|h| h.starts_with("email-smtp.") && h.ends_with(".amazonaws.com"));
                let smtp_username = match &r.smtp_username {
                    Some(u) => {
                        let ok = !u.get_ref().is_empty()
                            && u.get_ref().len() <= 128
                            && !u
                                .get_ref()
                                .chars()
                                .any(|c| c.is_whitespace() || c.is_control());
                        if !ok {
                            self.err_help(
                                span(u),
                                format!("SMTP user name \"{}\" is not valid", u.get_ref()),
                                "one word of at most 128 characters, e.g. the SES SMTP user name",
                            );
                        }
                        u.get_ref().clone()
                    }
                    None if ses => {
                        self.err_help(
                            span(sr),
                            format!(
                                "email receiver \"{}\" sends through Amazon SES but names no smtp_username",
                                r.name.get_ref()
                            ),
                            "SES authenticates with the SMTP user name of an IAM user (not the sender address): add smtp_username = \"<the SMTP user name>\"; its password stays in the credentials_secret",
                        );
                        String::new()
                    }
                    None => from.clone(),
                };
                ReceiverKind::Email {
                    to: r.to.iter().map(|t| t.get_ref().clone()).collect(),
                    from,
                    smarthost,
                    smtp_username,
                }
            }
            "slack" => {
                let channel = match &r.channel {
                    Some(c) => {
                        let ok = c.get_ref().starts_with('#')
                            && c.get_ref().len() > 1
                            && !c.get_ref().contains(' ');
                        if !ok {
                            self.err_help(
                                span(c),
                                format!("Slack channel \"{}\" is not valid", c.get_ref()),
                                "write the channel with its '#', e.g. \"#platform-alerts\"",
                            );
                        }
                        c.get_ref().clone()
                    }
                    None => {
                        self.err_help(
                            span(sr),
                            format!("Slack receiver \"{}\" has no channel", r.name.get_ref()),
                            "add channel = \"#platform-alerts\"",
                        );
                        String::new()
                    }
                };
                for (field, v) in [
                    ("to", r.to.first()),
                    ("from", r.from.as_ref()),
                    ("smarthost", r.smarthost.as_ref()),
                    ("smtp_username", r.smtp_username.as_ref()),
                ] {
                    if let Some(v) = v {
                        self.err_help(
                            span(v),
                            format!("`{field}` belongs to email receivers"),
                            "remove it",
                        );
                    }
                }
                ReceiverKind::Slack { channel }
            }
            other => {
                self.err_help(
                    span(&r.kind),
                    format!("unknown receiver kind \"{other}\""),
                    "kind is \"email\" or \"slack\"",
                );
                ReceiverKind::Slack {
                    channel: String::new(),
                }
            }
        };
        Receiver {
            name: r.name.get_ref().clone(),
            kind,
            credentials_secret: r.credentials_secret.get_ref().clone(),
        }
    }

    fn severity(&mut self, s: &S<String>) -> Option<Severity> {
        match s.get_ref().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "critical" => Some(Severity::Critical),
            other => {
                self.err_help(
                    span(s),
                    format!("unknown severity \"{other}\""),
                    "severity is \"info\", \"warning\" or \"critical\"",
                );
                None
            }
        }
    }

    fn alert(&mut self, sa: &S<raw::Alert>) -> Alert {
        let a = sa.get_ref();
        self.check(&a.name, "alert name", names::alert_name);
        let kind = a.kind.get_ref().as_str();
        let threshold = |cx: &mut Cx, unit: &str, max: f64| -> f64 {
            match &a.threshold {
                Some(t) => {
                    let v = *t.get_ref();
                    if !(v > 0.0 && v <= max && v.is_finite()) {
                        cx.err_help(
                            span(t),
                            format!("threshold {v} is out of range for a {kind} alert"),
                            format!("use a value above 0 and at most {max} ({unit})"),
                        );
                    }
                    v
                }
                None => {
                    cx.err_help(
                        span(&a.kind),
                        format!("a {kind} alert needs a threshold ({unit})"),
                        "add threshold = ...",
                    );
                    0.0
                }
            }
        };
        let rule = match kind {
            "node_cpu" => AlertRule::NodeCpu {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "node_memory" => AlertRule::NodeMemory {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "node_disk" => AlertRule::NodeDisk {
                threshold_percent: threshold(self, "percent", 100.0),
            },
            "pod_crash_looping" => AlertRule::PodCrashLooping {
                restarts: threshold(self, "restarts", 1e6),
            },
            "kafka_consumer_lag" => AlertRule::KafkaConsumerLag {
                messages: threshold(self, "messages", 1e12),
            },
            "elasticsearch_health" | "promql" => {
                if let Some(t) = &a.threshold {
                    self.err_help(
                        span(t),
                        format!("a {kind} alert takes no threshold"),
                        "remove it",
                    );
                }
                if kind == "promql" {
                    match &a.expr {
                        Some(e) if !e.get_ref().trim().is_empty() => {
                            let balanced = e.get_ref().chars().fold(0i32, |n, c| match c {
                                '(' | '{' | '[' => n + 1,
                                ')' | '}' | ']' => n - 1,
                                _ => n,
                            }) == 0;
                            if !balanced {
                                self.err_help(
                                    span(e),
                                    "unbalanced brackets in the PromQL expression",
                                    "check the expression with promtool",
                                );
                            }
                            AlertRule::Promql {
                                expr: e.get_ref().trim().to_string(),
                            }
                        }
                        _ => {
                            self.err_help(
                                span(&a.kind),
                                "a promql alert needs an `expr`",
                                "add expr = '...' (true while the alert should fire)",
                            );
                            AlertRule::Promql {
                                expr: String::new(),
                            }
                        }
                    }
                } else {
                    AlertRule::ElasticsearchHealth
                }
            }
            other => {
                self.err_help(
                    span(&a.kind),
                    format!("unknown alert kind \"{other}\""),
                    "kinds: node_cpu, node_memory, node_disk, pod_crash_looping, kafka_consumer_lag, elasticsearch_health, promql",
                );
                AlertRule::Promql {
                    expr: String::new(),
                }
            }
        };
        if kind != "promql"
            && let Some(e) = &a.expr
        {
            self.err_help(
                span(e),
                format!("a {kind} alert takes no `expr`"),
                "use kind = \"promql\" for a raw expression",
            );
        }
        let for_ = match &a.for_ {
            Some(d) => match names::prom_duration(d.get_ref()) {
                Ok(seconds) => PromDuration {
                    text: d.get_ref().clone(),
                    seconds,
                },
                Err(help) => {
                    self.err_help(
                        span(d),
                        format!("duration \"{}\" is not valid", d.get_ref()),
                        help,
                    );
                    PromDuration {
                        text: String::new(),
                        seconds: 0,
                    }
                }
            },
            None => PromDuration {
                text: "5m".into(),
                seconds: 300,
            },
        };
        let severity = match &a.severity {
            Some(s) => self.severity(s).unwrap_or(Severity::Warning),
            None => {
                self.err_help(
                    span(&a.name),
                    format!("alert \"{}\" has no severity", a.name.get_ref()),
                    "add severity = \"info\", \"warning\" or \"critical\"",
                );
                Severity::Warning
            }
        };
        let summary = a
            .summary
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| default_summary(&rule, &for_));
        if RESERVED_ALERT_NAMES.contains(&a.name.get_ref().as_str()) {
            self.err_help(
                span(&a.name),
                format!("alert name \"{}\" is Flotilla's own", a.name.get_ref()),
                "Watchdog and AlertmanagerNotificationsFailing are always rendered; choose another name",
            );
        }
        let runbook_url = a.runbook_url.as_ref().map(|u| {
            self.check(u, "runbook URL", names::web_url);
            u.get_ref().clone()
        });
        Alert {
            name: a.name.get_ref().clone(),
            rule,
            for_,
            severity,
            summary,
            runbook_url,
        }
    }

    fn sizing(&mut self, s: &raw::Sizing) -> Sizing {
        let eps = *s.peak_events_per_second.get_ref();
        if !(1..=10_000_000).contains(&eps) {
            self.err_help(
                span(&s.peak_events_per_second),
                format!("peak_events_per_second must be between 1 and 10000000, found {eps}"),
                "the capacity plan is calibrated for that range",
            );
        }
        let bytes = *s.average_event_bytes.get_ref();
        if !(16..=1_048_576).contains(&bytes) {
            self.err_help(
                span(&s.average_event_bytes),
                format!("average_event_bytes must be between 16 and 1048576, found {bytes}"),
                "Kafka's default message limit is 1 MiB",
            );
        }
        let retention_days = self.positive(&s.retention_days, "retention_days", 3650);
        let replication = self.positive(&s.replication, "replication", 5);
        let query_latency_ms = self.positive(&s.query_latency_ms, "query_latency_ms", 60_000);
        Sizing {
            peak_events_per_second: eps.clamp(0, 10_000_000) as u64,
            average_event_bytes: bytes.clamp(0, 1_048_576) as u64,
            retention_days,
            replication,
            query_latency_ms,
        }
    }
}

/// Alerts every cluster gets from Flotilla itself (crates/helm/src/alerts.rs).
const RESERVED_ALERT_NAMES: &[&str] = &["Watchdog", "AlertmanagerNotificationsFailing"];

fn default_summary(rule: &AlertRule, for_: &PromDuration) -> String {
    match rule {
        AlertRule::NodeCpu { threshold_percent } => {
            format!("Average CPU of a node above {threshold_percent}% for {for_}")
        }
        AlertRule::NodeMemory { threshold_percent } => {
            format!("Memory use of a node above {threshold_percent}% for {for_}")
        }
        AlertRule::NodeDisk { threshold_percent } => {
            format!("A node filesystem is more than {threshold_percent}% full for {for_}")
        }
        AlertRule::PodCrashLooping { restarts } => {
            format!("A container restarted more than {restarts} times in {for_}")
        }
        AlertRule::KafkaConsumerLag { messages } => {
            format!("A Kafka consumer group is more than {messages} messages behind for {for_}")
        }
        AlertRule::ElasticsearchHealth => {
            format!("Elasticsearch cluster health is not green for {for_}")
        }
        AlertRule::Promql { .. } => format!("PromQL condition true for {for_}"),
    }
}

fn known<'a, T: AsRef<str> + 'a>(what: &str, items: impl IntoIterator<Item = T>) -> String {
    let list: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    if list.is_empty() {
        format!("there are no {what}")
    } else {
        format!("known {what}: {}", list.join(", "))
    }
}

/// Credentials must never be in the platform file: scan every string value and every key.
///
/// One exception: an SMTP user name may have the form of an AWS access key id, since that is
/// what Amazon SES's SMTP user names are; it identifies a user, and its password stays in
/// Secrets Manager.
fn scan_for_secrets(source: &str, cx: &mut Cx) {
    let Ok(doc) = toml::de::DeTable::parse(source) else {
        return;
    };
    fn report(span: Range<usize>, what: &str, cx: &mut Cx) {
        cx.err_help(
            span,
            format!("this looks like {what}; credentials must not be written in the platform file"),
            "store it in AWS Secrets Manager and name the secret (e.g. credentials_secret = \"flotilla/alerting/slack-webhook\")",
        );
    }
    fn walk(key: Option<&str>, v: &Spanned<toml::de::DeValue<'_>>, cx: &mut Cx) {
        use toml::de::DeValue;
        match v.get_ref() {
            DeValue::String(s) => {
                let found = names::looks_like_secret(s);
                let user_name = key == Some("smtp_username");
                if let Some(what) = found
                    && !(user_name && what == "an AWS access key id")
                {
                    report(v.span(), what, cx);
                }
            }
            DeValue::Array(a) => a.iter().for_each(|x| walk(key, x, cx)),
            DeValue::Table(t) => {
                for (k, x) in t.iter() {
                    if let Some(what) = names::looks_like_secret(k.get_ref()) {
                        report(k.span(), what, cx);
                    }
                    walk(Some(k.get_ref()), x, cx);
                }
            }
            _ => {}
        }
    }
    for (k, v) in doc.get_ref().iter() {
        if let Some(what) = names::looks_like_secret(k.get_ref()) {
            report(k.span(), what, cx);
        }
        walk(Some(k.get_ref()), v, cx);
    }
}

/// A syntax, type, unknown-key or missing-key error from the TOML parser, in the words of the
/// file format (keys, arrays, tables) rather than serde's (fields, sequences, maps), with a help
/// that says what to write.
fn parse_error(source: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim_end();
    // An array or inline table left open is noticed at the start of the next line (which the
    // parser takes for another element); the mistake is on the line that left it open.
    let at_line_start = source
        .get(..span.start)
        .is_some_and(|b| b.is_empty() || b.ends_with('\n'));
    if at_line_start
        && msg.ends_with("expected `,`")
        && let Some(open) = previous_content_line(source, span.start)
    {
        return Diagnostic::error(open, format!("invalid TOML: {msg}")).with_help(
            "an array or inline table is still open after this line: close it with `]` or `}`, or put `,` between its elements",
        );
    }
    let text = source.get(span.clone()).unwrap_or("");
    let first_line = text.lines().next().unwrap_or("").trim();
    let docs = "docs/platform-reference.md lists every key";
    // The backquoted names after "expected" (serde's list of the keys a table takes).
    let expected_keys = |m: &str| -> Vec<String> {
        m.split_once("expected")
            .map(|(_, list)| {
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        let keys = expected_keys(rest);
        let help = match keys.iter().min_by_key(|k| edit_distance(key, k)) {
            // Short keys are too alike to guess between (`gpu` is not a misspelt `cpu`).
            Some(k) if edit_distance(key, k) <= 2 && 4 * edit_distance(key, k) <= key.len() => {
                format!("did you mean `{k}`? ({docs})")
            }
            _ if keys.is_empty() => format!("this table takes no keys ({docs})"),
            _ => format!("the keys here are {} ({docs})", keys.join(", ")),
        };
        return Diagnostic::error(span, format!("unknown key `{key}`")).with_help(help);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or("");
        return if first_line.starts_with('[') {
            Diagnostic::error(span, format!("missing key `{key}` in {first_line}"))
                .with_help(format!("add `{key} = ...` to this table ({docs})"))
        } else if span.start == 0 && !first_line.starts_with('{') {
            // The top level: every required key there is a table.
            Diagnostic::error(span, format!("missing table [{key}]"))
                .with_help(format!("add a [{key}] table ({docs})"))
        } else {
            Diagnostic::error(span, format!("missing key `{key}` in this table"))
                .with_help(format!("add `{key} = ...` ({docs})"))
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        let found = found.replace("map", "table").replace("sequence", "array");
        let (expected, help) = match expected {
            "i64" | "u32" | "u64" => {
                let unquoted = text.trim_matches('"');
                let help = if unquoted.parse::<i64>().is_ok() {
                    format!("write the number without quotes: {unquoted}")
                } else {
                    "write a whole number, e.g. 3".to_string()
                };
                ("an integer", help)
            }
            "f64" => (
                "a number",
                "write a number without quotes, e.g. 80".to_string(),
            ),
            "a string" => (
                "a string",
                format!("strings are quoted in TOML: \"{}\"", text.trim()),
            ),
            "a boolean" => ("a boolean", "write true or false".to_string()),
            "a sequence" => ("an array", format!("write an array: [{}]", text.trim())),
            _ => (
                "a table",
                format!("write a [table] or an inline {{ key = value }} table ({docs})"),
            ),
        };
        return Diagnostic::error(span, format!("invalid type: {found}, expected {expected}"))
            .with_help(help);
    }
    if msg.starts_with("string values must be quoted") {
        let help = if text.trim().is_empty() {
            "write a value after `=`".to_string()
        } else {
            format!("quote it: \"{}\"", text.trim())
        };
        return Diagnostic::error(span, format!("invalid TOML: {msg}")).with_help(help);
    }
    if msg == "duplicate key" {
        return Diagnostic::error(span, format!("duplicate key `{first_line}`"))
            .with_help("a key may appear once in a table; remove one of them");
    }
    Diagnostic::error(span, format!("invalid TOML: {msg}")).with_help(
        "the parser stopped here; the mistake may be just before (an unclosed bracket or quote?), see https://toml.io",
    )
}

/// Levenshtein distance, for "did you mean" on short key names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The byte range of the last line before `offset` with anything but blanks or a comment,
/// without its surrounding whitespace.
fn previous_content_line(source: &str, offset: usize) -> Option<Range<usize>> {
    let before = source.get(..offset)?;
    let mut end = before.len();
    for line in before.split_inclusive('\n').rev() {
        let start = end - line.len();
        end = start;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        return Some(start + lead..start + lead + trimmed.len());
    }
    None
}
