//! The two renderers agree on team access: for every application in every workload cluster of
//! every fixture, the Kubernetes group its namespace's `team-admin` RoleBinding (crates/helm)
//! binds is the group the team's EKS access entry (this crate) puts the team's IAM role in, and
//! both are `Team::kubernetes_group()`. The access entry grants nothing else: no EKS access
//! policy, so Kubernetes RBAC is the one place a team's rights are written (docs/security.md).

mod common;

use std::collections::BTreeMap;

use flotilla_model::{Cluster, Platform, TeamKind};
use hcl::{Expression, ObjectKey};

/// What a team's access entry says: its Kubernetes groups and whether it has access policies.
#[derive(Debug)]
struct Entry {
    groups: Vec<String>,
    has_policies: bool,
}

fn key_str(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => panic!("unexpected object key {other:?}"),
    }
}

fn field<'a>(e: &'a Expression, name: &str) -> Option<&'a Expression> {
    match e {
        Expression::Object(o) => o.iter().find(|(k, _)| key_str(k) == name).map(|(_, v)| v),
        _ => None,
    }
}

/// The access entries of a cluster's `module "eks"`, by principal ARN.
fn access_entries(platform: &Platform, cluster: &Cluster) -> BTreeMap<String, Entry> {
    let path = format!("infra/{}/main.tf", cluster.name);
    let main = flotilla_terraform::render(platform)
        .into_iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents;
    let body: hcl::Body = hcl::from_str(&main).unwrap_or_else(|e| panic!("{path}: {e}"));
    let eks = body
        .blocks()
        .find(|b| b.identifier() == "module" && b.labels().iter().any(|l| l.as_str() == "eks"))
        .unwrap_or_else(|| panic!("{path}: no module \"eks\""));
    let entries = eks
        .body()
        .attributes()
        .find(|a| a.key() == "access_entries")
        .unwrap_or_else(|| panic!("{path}: no access_entries"))
        .expr();
    let Expression::Object(entries) = entries else {
        panic!("{path}: access_entries is not an object");
    };
    entries
        .values()
        .map(|e| {
            let Some(Expression::String(arn)) = field(e, "principal_arn") else {
                panic!("{path}: an access entry without a literal principal_arn: {e:?}");
            };
            let groups = match field(e, "kubernetes_groups") {
                Some(Expression::Array(a)) => a
                    .iter()
                    .map(|g| match g {
                        Expression::String(s) => s.clone(),
                        other => panic!("{path}: group {other:?}"),
                    })
                    .collect(),
                None => Vec::new(),
                Some(other) => panic!("{path}: kubernetes_groups {other:?}"),
            };
            let has_policies = match field(e, "policy_associations") {
                Some(Expression::Object(o)) => !o.is_empty(),
                None => false,
                Some(_) => true,
            };
            (
                arn.clone(),
                Entry {
                    groups,
                    has_policies,
                },
            )
        })
        .collect()
}

/// The groups each application namespace's `team-admin` RoleBinding binds, by namespace.
fn role_binding_groups(platform: &Platform, cluster: &Cluster) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in flotilla_helm::manifests(platform, cluster) {
        for o in &m.objects {
            if o["kind"] == "RoleBinding" && o["metadata"]["name"] == "team-admin" {
                assert_eq!(o["roleRef"]["name"], "admin", "{}", m.path);
                let ns = o["metadata"]["namespace"].as_str().unwrap().to_string();
                let groups = o["subjects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["kind"] == "Group")
                    .map(|s| s["name"].as_str().unwrap().to_string());
                out.entry(ns).or_default().extend(groups);
            }
        }
    }
    out
}

#[test]
fn team_role_bindings_and_access_entries_name_the_same_group() {
    let mut role_teams_checked = 0;
    let mut group_teams_checked = 0;
    for (fixture, platform) in common::fixtures() {
        for cluster in platform.workload_clusters() {
            let at = format!("{fixture}/{}", cluster.name);
            let entries = access_entries(&platform, cluster);
            let bindings = role_binding_groups(&platform, cluster);
            let mut team_arns = Vec::new();
            for (app, _) in platform.applications_in(&cluster.environment) {
                let group = app.team.kubernetes_group();
                assert_eq!(
                    bindings.get(&app.namespace),
                    Some(&vec![group.clone()]),
                    "{at}: RoleBinding of namespace {}",
                    app.namespace
                );
                if cluster.admin_roles.contains(&app.team.arn) {
                    continue; // already cluster admin through its admin entry
                }
                match app.team.kind {
                    TeamKind::Role => {
                        let entry = entries.get(&app.team.arn).unwrap_or_else(|| {
                            panic!("{at}: no access entry for team {}", app.team.arn)
                        });
                        assert_eq!(entry.groups, vec![group], "{at}: {}", app.team.arn);
                        assert!(
                            !entry.has_policies,
                            "{at}: team {} has an EKS access policy besides its RoleBinding",
                            app.team.arn
                        );
                        team_arns.push(app.team.arn.clone());
                        role_teams_checked += 1;
                    }
                    TeamKind::Group => {
                        // IAM groups cannot be EKS principals (docs/security.md).
                        assert!(!entries.contains_key(&app.team.arn), "{at}");
                        group_teams_checked += 1;
                    }
                }
            }
            // No access entry puts anyone in a team group without an application behind it.
            for (arn, entry) in &entries {
                if entry.groups.iter().any(|g| g.starts_with("flotilla:team:")) {
                    assert!(team_arns.contains(arn), "{at}: stray team entry {arn}");
                }
            }
        }
    }
    assert!(
        role_teams_checked >= 6,
        "only {role_teams_checked} role teams"
    );
    assert!(
        group_teams_checked >= 3,
        "only {group_teams_checked} group teams"
    );
}

#[test]
fn the_team_group_is_derived_from_the_team_name() {
    let (_, platform) = common::fixtures().remove(0);
    let webapp = platform
        .applications
        .iter()
        .find(|a| a.name == "webapp")
        .unwrap();
    assert_eq!(webapp.team.kubernetes_group(), "flotilla:team:team-web");
}
