//! Upgrade plans from a baseline platform to the working one.

use flotilla_model::Platform;
use flotilla_plan::upgrade::{Problem, removed_apis_in, to_text, upgrades};
use flotilla_testkit::fixtures::seed;
use serde_json::json;

/// The seed with `cluster` at Kubernetes `version` (not validated: a baseline as it was).
fn at(cluster: &str, version: &str) -> Platform {
    let mut p = seed();
    p.clusters
        .iter_mut()
        .find(|c| c.name == cluster)
        .unwrap()
        .kubernetes_version = version.into();
    p
}

#[test]
fn one_minor_version_up_is_planned_in_order_with_its_addons() {
    let u = upgrades(&at("production", "1.33"), &seed());
    assert_eq!(u.len(), 1, "{u:?}");
    let p = &u[0];
    assert_eq!(
        (p.cluster.as_str(), p.from.as_str(), p.to.as_str()),
        ("production", "1.33", "1.34")
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert!(
        p.steps[0].starts_with("control plane 1.33 -> 1.34 (terraform:production"),
        "{:?}",
        p.steps
    );
    assert!(
        p.steps[1].starts_with("node groups 1.33 -> 1.34 in the same apply"),
        "{:?}",
        p.steps
    );
    // coredns and kube-proxy have other pins for 1.34; vpc-cni's is the same.
    assert!(
        p.steps.iter().any(|s| s
            == "add-on coredns v1.12.4-eksbuild.18 -> v1.13.2-eksbuild.11 (terraform:production)"),
        "{:?}",
        p.steps
    );
    assert!(
        !p.steps.iter().any(|s| s.starts_with("add-on vpc-cni")),
        "{:?}",
        p.steps
    );
    let text = to_text(&u, "HEAD");
    assert!(
        text.starts_with("production: Kubernetes 1.33 -> 1.34, from HEAD:\n  1. control plane"),
        "{text}"
    );
    // Nothing changed: nothing to plan.
    assert!(upgrades(&seed(), &seed()).is_empty());
    assert!(to_text(&[], "HEAD").starts_with("nothing to upgrade"));
}

#[test]
fn a_skipped_minor_a_downgrade_and_an_unpinned_addon_are_problems() {
    let skip = upgrades(&at("staging", "1.32"), &seed());
    assert!(
        skip[0].problems.contains(&Problem::Skips {
            from: "1.32".into(),
            to: "1.34".into()
        }),
        "{skip:?}"
    );
    let down = upgrades(&at("staging", "1.35"), &seed());
    assert!(
        down[0].problems.contains(&Problem::Downgrade {
            from: "1.35".into(),
            to: "1.34".into()
        }),
        "{down:?}"
    );
    let unpinned = upgrades(&seed(), &at("testing", "1.36"));
    assert!(
        unpinned[0]
            .problems
            .iter()
            .any(|p| matches!(p, Problem::AddonUnpinned { addon, .. } if addon == "coredns")),
        "{unpinned:?}"
    );
}

/// A chart whose kubeVersion excludes the target stops the plan: NGINX Gateway Fabric 2.6.7
/// requires Kubernetes 1.31 or later.
#[test]
fn a_chart_that_does_not_allow_the_target_is_a_problem() {
    let u = upgrades(&at("testing", "1.29"), &at("testing", "1.30"));
    assert!(
        u[0].problems
            .iter()
            .any(|p| matches!(p, Problem::Chart { chart, constraint, .. }
            if chart == "nginx-gateway-fabric" && constraint == ">= 1.31.0-0")),
        "{u:?}"
    );
}

/// An object on an API the target removed is named with what replaces it.
#[test]
fn an_object_on_a_removed_api_is_named() {
    let objects = vec![
        json!({"apiVersion": "admissionregistration.k8s.io/v1beta1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "guard"}}),
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "guard"}}),
    ];
    let found = removed_apis_in(
        "helm/x/manifests/13-deletion-guard.yaml",
        &objects,
        "1.33",
        "1.34",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].to_string(),
        "helm/x/manifests/13-deletion-guard.yaml: ValidatingAdmissionPolicy guard uses admissionregistration.k8s.io/v1beta1, which Kubernetes 1.34 no longer serves; use admissionregistration.k8s.io/v1"
    );
    assert!(
        removed_apis_in("f", &objects, "1.34", "1.35").is_empty(),
        "already gone before"
    );
    // What Flotilla renders today is on no API 1.34 to 1.37 removes.
    let p = seed();
    for c in &p.clusters {
        for m in flotilla_helm::manifests(&p, c) {
            assert!(
                removed_apis_in(&m.path, &m.objects, "1.33", "1.37").is_empty(),
                "{}",
                m.path
            );
        }
    }
}
