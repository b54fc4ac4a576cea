//! Upgrade planning: what moving a platform from a baseline (the `platform.toml` and
//! `versions.toml` of a git ref) to the working one changes in Kubernetes versions, add-ons and
//! charts, in the order it must happen, and what stands in the way. Pure: both platforms are
//! passed in.
//!
//! The rules: EKS upgrades a control plane one minor version at a time and never down; the node
//! groups follow in the same apply; every add-on has a version pinned for the target
//! (`versions.toml [eks_addons]`); every chart's `kubeVersion` allows the target; no rendered
//! object uses an API the target no longer serves (`flotilla_model::kubernetes`).

use std::fmt::Write as _;

use flotilla_model::kubernetes::{minor_of, removed_between, satisfies};
use flotilla_model::versions::EKS_ADDONS;
use flotilla_model::{Cluster, Platform};

/// What stops an upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// More than one minor version at once (EKS refuses it).
    Skips { from: String, to: String },
    /// A lower version (EKS cannot downgrade).
    Downgrade { from: String, to: String },
    /// No add-on version pinned for the target.
    AddonUnpinned { addon: String, version: String },
    /// A chart whose `kubeVersion` excludes the target.
    Chart {
        release: String,
        chart: String,
        constraint: String,
    },
    /// A rendered object whose API the target removed.
    RemovedApi {
        file: String,
        object: String,
        api_version: String,
        removed_in: String,
        replacement: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Skips { from, to } => write!(
                f,
                "kubernetes_version {to} skips a minor version from {from}: EKS upgrades one minor version at a time; go to the next minor first, deploy, then on"
            ),
            Problem::Downgrade { from, to } => {
                write!(
                    f,
                    "kubernetes_version {to} is lower than {from}: EKS cannot downgrade a cluster"
                )
            }
            Problem::AddonUnpinned { addon, version } => write!(
                f,
                "no {addon} version is pinned for Kubernetes {version} in versions.toml [eks_addons.{addon}]"
            ),
            Problem::Chart {
                release,
                chart,
                constraint,
            } => write!(
                f,
                "release {release}: chart {chart} requires Kubernetes {constraint}; pin a chart version that allows the target first"
            ),
            Problem::RemovedApi {
                file,
                object,
                api_version,
                removed_in,
                replacement,
            } => write!(
                f,
                "{file}: {object} uses {api_version}, which Kubernetes {removed_in} no longer serves; use {replacement}"
            ),
        }
    }
}

/// What EKS refuses in moving a control plane from `from` to `to` (`1.33` -> `1.35`, or down):
/// `None` when it takes the change (the same version, or the next minor). The rule the upgrade
/// plan applies against a git baseline and the deploy's preflight against the running cluster.
pub fn control_plane_change(from: &str, to: &str) -> Option<Problem> {
    let (f, t) = (minor_of(from)?, minor_of(to)?);
    if t < f {
        Some(Problem::Downgrade {
            from: from.to_string(),
            to: to.to_string(),
        })
    } else if t != f && (t.0 != f.0 || t.1 != f.1 + 1) {
        Some(Problem::Skips {
            from: from.to_string(),
            to: to.to_string(),
        })
    } else {
        None
    }
}

/// The upgrade of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUpgrade {
    pub cluster: String,
    /// Kubernetes versions, baseline and target (equal when only charts or add-ons change).
    pub from: String,
    pub to: String,
    /// What happens, in order.
    pub steps: Vec<String>,
    pub problems: Vec<Problem>,
}

/// The upgrades from `baseline` to `current`, per cluster both have; clusters with nothing to
/// upgrade are left out.
pub fn upgrades(baseline: &Platform, current: &Platform) -> Vec<ClusterUpgrade> {
    current
        .clusters
        .iter()
        .filter_map(|c| {
            let before = baseline.cluster(&c.name)?;
            let u = cluster_upgrade(baseline, before, current, c);
            (!u.steps.is_empty() || !u.problems.is_empty()).then_some(u)
        })
        .collect()
}

fn cluster_upgrade(
    baseline: &Platform,
    before: &Cluster,
    current: &Platform,
    cluster: &Cluster,
) -> ClusterUpgrade {
    let (from, to) = (&before.kubernetes_version, &cluster.kubernetes_version);
    let mut u = ClusterUpgrade {
        cluster: cluster.name.clone(),
        from: from.clone(),
        to: to.clone(),
        steps: vec![],
        problems: vec![],
    };
    let (Some(f), Some(t)) = (minor_of(from), minor_of(to)) else {
        return u;
    };
    let tf = format!("terraform:{}", cluster.name);
    if t != f {
        u.problems.extend(control_plane_change(from, to));
        u.steps.push(format!(
            "control plane {from} -> {to} ({tf}: EKS upgrades it in place, the API keeps serving)"
        ));
        u.steps.push(format!(
            "node groups {from} -> {to} in the same apply, after the control plane: each managed node group rolls to the {to} AMI node by node, draining each (disruption budgets leave room)"
        ));
    }
    // Add-ons: the target's pins, and what changes.
    for addon in EKS_ADDONS {
        let pin = |p: &Platform, v: &str| {
            p.versions
                .eks_addons
                .get(addon)
                .and_then(|m| m.get(v))
                .cloned()
        };
        match (pin(baseline, from), pin(current, to)) {
            (_, None) => u.problems.push(Problem::AddonUnpinned {
                addon: addon.to_string(),
                version: to.clone(),
            }),
            (old, Some(new)) if old.as_deref() != Some(new.as_str()) => u.steps.push(format!(
                "add-on {addon} {} -> {new} ({tf})",
                old.as_deref().unwrap_or("(none)")
            )),
            _ => {}
        }
    }
    // Charts: version changes, and every chart against the target.
    for r in flotilla_helm::releases(current, cluster) {
        let chart = current.versions.charts.get(&r.chart);
        let old = baseline
            .versions
            .charts
            .get(&r.chart)
            .map(|c| c.version.clone());
        if old.as_deref() != Some(r.version.as_str()) {
            u.steps.push(format!(
                "chart {} {} -> {} (helm:{}:{})",
                r.chart,
                old.as_deref().unwrap_or("(new)"),
                r.version,
                cluster.name,
                r.name
            ));
        }
        if let Some(constraint) = chart.and_then(|c| c.kube_version.as_ref())
            && satisfies(to, constraint) == Some(false)
        {
            u.problems.push(Problem::Chart {
                release: r.name.clone(),
                chart: r.chart.clone(),
                constraint: constraint.clone(),
            });
        }
    }
    // APIs the target no longer serves, in what the target renders.
    if t > f {
        for m in flotilla_helm::manifests(current, cluster) {
            u.problems
                .extend(removed_apis_in(&m.path, &m.objects, from, to));
        }
    }
    u
}

/// The objects of a file whose API Kubernetes `to` no longer serves and `from` did.
pub fn removed_apis_in(
    file: &str,
    objects: &[serde_json::Value],
    from: &str,
    to: &str,
) -> Vec<Problem> {
    objects
        .iter()
        .filter_map(|o| {
            let (api, kind) = (o["apiVersion"].as_str()?, o["kind"].as_str()?);
            let r = removed_between(api, kind, from, to)?;
            Some(Problem::RemovedApi {
                file: file.to_string(),
                object: format!("{kind} {}", o["metadata"]["name"].as_str().unwrap_or("?")),
                api_version: api.to_string(),
                removed_in: r.removed_in.clone(),
                replacement: r.replacement.clone(),
            })
        })
        .collect()
}

/// The upgrade plan as text, for `cargo xtask plan` and the dry run.
pub fn to_text(upgrades: &[ClusterUpgrade], baseline: &str) -> String {
    let mut out = String::new();
    if upgrades.is_empty() {
        let _ = writeln!(
            out,
            "nothing to upgrade: Kubernetes, add-on and chart versions as in {baseline}"
        );
        return out;
    }
    for u in upgrades {
        if u.from == u.to {
            let _ = writeln!(out, "{} (Kubernetes {}), from {baseline}:", u.cluster, u.to);
        } else {
            let _ = writeln!(
                out,
                "{}: Kubernetes {} -> {}, from {baseline}:",
                u.cluster, u.from, u.to
            );
        }
        for (i, s) in u.steps.iter().enumerate() {
            let _ = writeln!(out, "  {}. {s}", i + 1);
        }
        for p in &u.problems {
            let _ = writeln!(out, "  problem: {p}");
        }
    }
    out
}
