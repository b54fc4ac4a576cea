//! `[[applications]]` (team, namespace, quotas per environment, egress) and `[[routes]]`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use super::{Cx, known, span};
use crate::names;
use crate::raw::{self, S};
use crate::*;

impl Cx {
    pub(super) fn application(
        &mut self,
        sa: &S<raw::Application>,
        envs: &BTreeSet<String>,
    ) -> Application {
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
            if !envs.contains(env.get_ref())
                && !self.follows_rejected("environment name", env.get_ref())
            {
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

    /// Two teams named alike (a role and a group, or roles on two paths or in two accounts)
    /// would be one Kubernetes group inside every cluster ([`Team::kubernetes_group`]): the
    /// members of one would get the other's namespaces. Each such pair is an error at the
    /// second, naming the first.
    pub(super) fn teams_derive_distinct_groups(
        &mut self,
        raw_apps: &[S<raw::Application>],
        apps: &[Application],
    ) {
        let mut groups: HashMap<String, (String, Range<usize>)> = HashMap::new();
        for (ra, a) in raw_apps.iter().zip(apps) {
            if a.team.arn.is_empty() {
                continue;
            }
            let group = a.team.kubernetes_group();
            let at = span(&ra.get_ref().team);
            match groups.get(&group) {
                Some((arn, first)) if *arn != a.team.arn => {
                    let line = self.line(first);
                    self.err_help(
                        at,
                        format!(
                            "team {} would be the same Kubernetes group `{group}` as team {arn} (line {line})",
                            a.team.arn
                        ),
                        "a team is known inside the clusters by its last name segment; two different roles or groups need different names, or use the same ARN for both applications",
                    );
                }
                Some(_) => {}
                None => {
                    groups.insert(group, (a.team.arn.clone(), at));
                }
            }
        }
    }

    pub(super) fn routes(
        &mut self,
        routes: &[S<raw::Route>],
        raw_apps: &[S<raw::Application>],
        apps: &mut [Application],
        clusters: &[Cluster],
    ) {
        // (environment, full host, path) -> first route's span
        let mut seen: HashMap<(String, String, String), Range<usize>> = HashMap::new();
        // Full host -> the environment whose gateway serves it first, and where.
        let mut owners: HashMap<String, (String, Range<usize>)> = HashMap::new();
        let mut reported: std::collections::HashSet<(String, String)> = Default::default();
        // (application, HTTPRoute name) -> the first route that has it.
        let mut names: HashMap<(usize, String), Range<usize>> = HashMap::new();
        for sr in routes {
            let r = sr.get_ref();
            let Some(idx) = raw_apps
                .iter()
                .position(|a| a.get_ref().name.get_ref() == r.application.get_ref())
            else {
                if self.follows_rejected("application name", r.application.get_ref()) {
                    continue;
                }
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
                    self.check(p, "route path", names::route_path);
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
                // One public name has one owner: two clusters' gateways (and external-dns
                // instances) would each claim its record.
                match owners.get(&host) {
                    Some((owner, first))
                        if owner != env && reported.insert((host.clone(), env.clone())) =>
                    {
                        let line = self.line(first);
                        self.err_help(
                            span(&r.host),
                            format!(
                                "hostname {host} would be served by the gateways of both \"{owner}\" (the route on line {line}) and \"{env}\""
                            ),
                            "a public name has one owner: each cluster's external-dns would claim its DNS record; give the environments different gateway domains or the routes different hosts",
                        );
                    }
                    Some(_) => {}
                    None => {
                        owners.insert(host.clone(), (env.clone(), span(sr)));
                    }
                }
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
            let object = route_object_name(r.host.get_ref(), &path);
            match names.get(&(idx, object.clone())) {
                Some(first) if first_line.is_none() => {
                    let line = self.line(first);
                    self.err_help(
                        r.path.as_ref().map_or_else(|| span(&r.host), span),
                        format!(
                            "route {}{path} would be the HTTPRoute \"{object}\" of application \"{}\", as the route on line {line} is",
                            r.host.get_ref(),
                            app.name
                        ),
                        "the object name is host and path with other characters as '-': make the paths differ in letters or digits",
                    );
                }
                Some(_) => {}
                None => {
                    names.insert((idx, object), span(sr));
                }
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
}
