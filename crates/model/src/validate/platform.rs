//! `[platform]`, the state bucket, the checks across sections, and the typed `Platform`.

use std::collections::BTreeSet;

use toml::Spanned;

use super::clusters::MAX_CLUSTER_NAME;
use super::{Cx, known, span};
use crate::names;
use crate::raw::{self, S};
use crate::*;

impl Cx {
    pub(super) fn platform(&mut self, f: raw::File, versions: &Versions) -> Option<Platform> {
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

        let network_hub = match meta.network_hub.as_ref().map(|h| (h, h.get_ref().as_str())) {
            None | Some((_, "peering")) => NetworkHub::Peering,
            Some((_, "transit_gateway")) => NetworkHub::TransitGateway,
            Some((h, other)) => {
                self.err_help(
                    span(h),
                    format!("unknown network_hub \"{other}\""),
                    "network_hub is \"peering\" (one VPC peering per workload VPC) or \"transit_gateway\"",
                );
                NetworkHub::Peering
            }
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
        self.teams_derive_distinct_groups(&f.applications, &applications);
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
                        && !self.follows_rejected("namespace", n.get_ref())
                        && !self.follows_rejected("application name", n.get_ref())
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

        // Every workload VPC peers with the controlplane's: AWS stops at 125 peerings per VPC.
        if network_hub == NetworkHub::Peering {
            let workloads: Vec<&S<raw::Cluster>> = f
                .clusters
                .iter()
                .filter(|c| c.get_ref().role.get_ref() != "controlplane")
                .collect();
            if let Some(first_too_many) = workloads.get(MAX_PEERINGS_PER_VPC) {
                self.err_help(
                    span(&first_too_many.get_ref().name),
                    format!(
                        "cluster \"{}\" is workload VPC number {} to peer with the controlplane's, and AWS allows at most {MAX_PEERINGS_PER_VPC} active peerings per VPC (quota L-7E9ECCDB, 50 by default)",
                        first_too_many.get_ref().name.get_ref(),
                        MAX_PEERINGS_PER_VPC + 1
                    ),
                    "set network_hub = \"transit_gateway\" in [platform]: one Transit Gateway, one attachment per VPC",
                );
            }
        }

        // A Transit Gateway attaches VPCs of its own region only.
        if network_hub == NetworkHub::TransitGateway
            && let Some(cp) = clusters.iter().find(|c| c.role == Role::Controlplane)
        {
            for (raw, c) in f.clusters.iter().zip(&clusters) {
                if c.role == Role::Workload && c.region != cp.region {
                    self.err_help(
                        raw.get_ref().region.as_ref().map_or(span(&raw.get_ref().name), span),
                        format!(
                            "cluster \"{}\" is in {} but the Transit Gateway hub is in the controlplane's region {}",
                            c.name, c.region, cp.region
                        ),
                        "a Transit Gateway attaches VPCs of its own region: keep the cluster in the controlplane's region, or use network_hub = \"peering\"",
                    );
                }
            }
        }

        // Routes.
        self.routes(&f.routes, &f.applications, &mut applications, &clusters);

        let observability =
            self.observability(f.observability.get_ref(), &all_targets, &environments);
        let before_sizing = self.diags.len();
        let sizing = self.sizing(f.sizing.get_ref());
        let sizing_ok = self.diags.len() == before_sizing;
        let errors = !self.diags.is_empty();
        // The capacity check runs beside the other errors, so that one run reports all of
        // them, when what it computes from is sound: the sizing and exactly one controlplane.
        let controlplanes = clusters
            .iter()
            .filter(|c| c.role == Role::Controlplane)
            .count();
        if errors && !(sizing_ok && controlplanes == 1) {
            return None;
        }
        let platform = Platform {
            name: meta.name.get_ref().clone(),
            region: meta.region.get_ref().clone(),
            account_id: meta.account_id.get_ref().clone(),
            internal_domain: meta.internal_domain.get_ref().clone(),
            state_bucket,
            network_hub,
            clusters,
            applications,
            observability,
            sizing,
            versions: versions.clone(),
            plan_cache: Default::default(),
        };
        // The capacity plan is a function of the typed platform, so this check runs last.
        self.data_pool_holds_the_plan(&platform, &f);
        (!errors && self.diags.is_empty()).then_some(platform)
    }
}
