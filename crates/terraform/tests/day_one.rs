//! What a real AWS account needs of the generated Terraform on day one, finding by finding of
//! the Terraform review (`../shared/reviews/2026-12-terraform.md`), over every cluster of every
//! fixture. Each of these failed on main at 61d7c3d; the account-wide names (T1, T14) are in
//! tests/account_names.rs, the zone count (T8) and cross-account rejection (T3) in the model's
//! invalid corpus.

mod common;

use flotilla_model::{Cluster, Platform, SupportType};
use hcl::{Body, Expression, ObjectKey};

fn key_str(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn field<'a>(e: &'a Expression, name: &str) -> Option<&'a Expression> {
    match e {
        Expression::Object(o) => o.iter().find(|(k, _)| key_str(k) == name).map(|(_, v)| v),
        _ => None,
    }
}

/// An expression as one line of HCL (the formatter breaks arrays over lines).
fn text(e: &Expression) -> String {
    let s = hcl::format::to_string(e).unwrap_or_default();
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("[ ", "[")
        .replace(" ]", "]")
        .replace(",]", "]")
}

fn file(platform: &Platform, path: &str) -> String {
    flotilla_terraform::render(platform)
        .into_iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .contents
}

fn parse(platform: &Platform, path: &str) -> Body {
    hcl::from_str(&file(platform, path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn block<'a>(body: &'a Body, ident: &str, labels: &[&str]) -> Option<&'a hcl::Block> {
    body.blocks().find(|b| {
        b.identifier() == ident
            && b.labels().len() == labels.len()
            && b.labels()
                .iter()
                .zip(labels)
                .all(|(l, want)| l.as_str() == *want)
    })
}

fn attr<'a>(body: &'a Body, name: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
}

/// Every cluster of every fixture with its parsed `main.tf`.
fn clusters() -> Vec<(String, Platform, Cluster, Body)> {
    let mut out = Vec::new();
    for (name, platform) in common::fixtures() {
        for c in platform.clusters.clone() {
            let body = parse(&platform, &format!("infra/{}/main.tf", c.name));
            out.push((format!("{name}/{}", c.name), platform.clone(), c, body));
        }
    }
    out
}

fn eks(body: &Body) -> &Body {
    block(body, "module", &["eks"])
        .expect("module \"eks\"")
        .body()
}

/// T2: a private endpoint is reached from the model's CIDRs and security groups, as HTTPS
/// rules on the cluster security group; without them nothing outside the nodes could deploy.
#[test]
fn t2_the_private_endpoint_admits_the_models_access_path() {
    let mut checked = 0;
    for (at, _, c, body) in clusters() {
        let rules = attr(eks(&body), "security_group_additional_rules");
        if c.private_access.is_empty() {
            assert!(rules.is_none(), "{at}: rules without an access path");
            continue;
        }
        let Some(Expression::Object(rules)) = rules else {
            panic!("{at}: the private endpoint has no access rules");
        };
        let mut cidrs = Vec::new();
        let mut groups = Vec::new();
        for rule in rules.values() {
            assert_eq!(
                field(rule, "from_port").map(text).as_deref(),
                Some("443"),
                "{at}"
            );
            assert_eq!(
                field(rule, "to_port").map(text).as_deref(),
                Some("443"),
                "{at}"
            );
            assert_eq!(
                field(rule, "type").map(text).as_deref(),
                Some("\"ingress\""),
                "{at}"
            );
            if let Some(Expression::Array(a)) = field(rule, "cidr_blocks") {
                cidrs.extend(a.iter().map(text));
            }
            if let Some(g) = field(rule, "source_security_group_id") {
                groups.push(text(g));
            }
        }
        let want_cidrs: Vec<String> = c
            .private_access
            .cidrs
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect();
        let want_groups: Vec<String> = c
            .private_access
            .security_groups
            .iter()
            .map(|g| format!("\"{g}\""))
            .collect();
        assert_eq!(cidrs, want_cidrs, "{at}");
        assert_eq!(groups, want_groups, "{at}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} clusters with private access");
}

/// T5: every backend (and nothing else) encrypts state with the bootstrap's state key.
#[test]
fn t5_every_backend_encrypts_with_the_state_key() {
    for (name, platform) in common::fixtures() {
        let alias = format!(
            "arn:aws:kms:{}:{}:alias/{}-tfstate",
            platform.region, platform.account_id, platform.name
        );
        let bootstrap = file(&platform, "infra/bootstrap/main.tf");
        assert!(
            bootstrap.contains(&format!(
                "name          = \"alias/{}-tfstate\"",
                platform.name
            )),
            "{name}: the bootstrap creates the alias the backends name"
        );
        assert!(
            bootstrap.contains("\"s3:x-amz-server-side-encryption\" = \"aws:kms\""),
            "{name}: the bucket refuses writes without the KMS key"
        );
        for c in &platform.clusters {
            let body = parse(&platform, &format!("infra/{}/backend.tf", c.name));
            let backend = block(
                block(&body, "terraform", &[]).unwrap().body(),
                "backend",
                &["s3"],
            )
            .unwrap_or_else(|| panic!("{name}/{}: no s3 backend", c.name))
            .body();
            assert_eq!(
                attr(backend, "kms_key_id").map(text),
                Some(format!("\"{alias}\"")),
                "{name}/{}",
                c.name
            );
        }
    }
}

/// T6 and T12: deletion protection and the EKS support policy are always written (an omitted
/// value keeps whatever the cluster had, so turning protection off must be explicit), and
/// IRSA's OIDC provider (with its plan-time certificate fetch) is off: Pod Identity only.
#[test]
fn t6_t11_t12_protection_support_and_irsa_are_explicit() {
    let mut extended = 0;
    for (at, _, c, body) in clusters() {
        let eks = eks(&body);
        assert_eq!(
            attr(eks, "deletion_protection").map(text),
            Some(c.protected.to_string()),
            "{at}"
        );
        let support = attr(eks, "upgrade_policy")
            .and_then(|p| field(p, "support_type"))
            .map(text);
        let want = match c.support {
            SupportType::Standard => "\"STANDARD\"",
            SupportType::Extended => {
                extended += 1;
                "\"EXTENDED\""
            }
        };
        assert_eq!(support.as_deref(), Some(want), "{at}");
        assert_eq!(
            attr(eks, "enable_irsa").map(text).as_deref(),
            Some("false"),
            "{at}"
        );
    }
    assert!(extended >= 1, "no fixture chooses extended support");
}

/// T7: the private zone holds only what external-dns wrote, so Terraform empties it on destroy
/// instead of failing on HostedZoneNotEmpty.
#[test]
fn t7_the_private_zone_is_emptied_on_destroy() {
    for (at, _, c, body) in clusters() {
        let zone = block(&body, "resource", &["aws_route53_zone", "internal"]);
        if c.role == flotilla_model::Role::Controlplane {
            let zone = zone.unwrap_or_else(|| panic!("{at}: no private zone"));
            assert_eq!(
                attr(zone.body(), "force_destroy").map(text).as_deref(),
                Some("true")
            );
        } else {
            assert!(zone.is_none(), "{at}");
        }
    }
}

/// T8: a region that shows the account fewer zones than asked for fails at plan time with a
/// message naming the cluster, not in `slice()`.
#[test]
fn t8_the_zone_count_is_checked_at_plan_time() {
    for (at, _, c, body) in clusters() {
        let zones = block(&body, "data", &["aws_availability_zones", "available"]).unwrap();
        let lifecycle = block(zones.body(), "lifecycle", &[]).unwrap_or_else(|| panic!("{at}"));
        let post = block(lifecycle.body(), "postcondition", &[]).unwrap_or_else(|| panic!("{at}"));
        assert_eq!(
            attr(post.body(), "condition").map(text),
            Some(format!("length(self.names) >= {}", c.availability_zones)),
            "{at}"
        );
        let msg = attr(post.body(), "error_message").map(text).unwrap();
        assert!(
            msg.contains(&c.name) && msg.contains(&c.region),
            "{at}: {msg}"
        );
    }
}

/// T9: every add-on is pinned to versions.toml's version for the cluster's Kubernetes version,
/// never resolved at plan time (`most_recent = false`): an unchanged platform plans no change.
#[test]
fn t9_every_addon_is_pinned_for_its_kubernetes_version() {
    for (at, platform, c, body) in clusters() {
        let Some(Expression::Object(addons)) = attr(eks(&body), "addons") else {
            panic!("{at}: no addons");
        };
        let names: Vec<String> = addons.keys().map(key_str).collect();
        assert_eq!(names, flotilla_model::versions::EKS_ADDONS, "{at}");
        for (k, v) in addons {
            let addon = key_str(k);
            let pinned = platform
                .versions
                .eks_addon(&addon, &c.kubernetes_version)
                .unwrap();
            assert_eq!(
                field(v, "addon_version").map(text),
                Some(format!("\"{pinned}\"")),
                "{at}: {addon}"
            );
            assert_eq!(
                field(v, "most_recent").map(text).as_deref(),
                Some("false"),
                "{at}: {addon}"
            );
        }
    }
}

/// T10 and T11: Pod Identity roles trust only this cluster's Pod Identity (its session tag),
/// and a workload's external-dns may change only its own name in the shared private zone.
#[test]
fn t10_t11_pod_identity_is_held_to_the_cluster_and_its_records() {
    for (at, platform, c, body) in clusters() {
        let eks_name = platform.eks_cluster_name(&c);
        for component in flotilla_model::AwsComponent::ALL {
            let module = format!("{}_pod_identity", component.name().replace('-', "_"));
            let m = block(&body, "module", &[&module])
                .unwrap_or_else(|| panic!("{at}: no {module}"))
                .body();
            let Some(Expression::Array(conds)) = attr(m, "trust_policy_conditions") else {
                panic!("{at}: {module} has no trust conditions");
            };
            let cond = &conds[0];
            assert_eq!(
                field(cond, "variable").map(text).as_deref(),
                Some("\"aws:RequestTag/eks-cluster-arn\""),
                "{at}: {module}"
            );
            let values = field(cond, "values").map(text).unwrap_or_default();
            assert!(
                values.contains(&format!("{}:{}:cluster/", c.region, c.account_id))
                    && values.contains("${local.cluster_name}"),
                "{at}: {module}: {values} (locals name the cluster {eks_name})"
            );
            // The Deny needs the zone's ARN: it is the link module's, on the role's name.
            assert!(attr(m, "policy_statements").is_none(), "{at}: {module}");
        }
        if c.role == flotilla_model::Role::Controlplane {
            continue;
        }
        let outputs = parse(&platform, &format!("infra/{}/outputs.tf", c.name));
        let role = block(&outputs, "output", &["external_dns_role_name"])
            .unwrap_or_else(|| panic!("{at}: no external_dns_role_name output"));
        assert_eq!(
            attr(role.body(), "value").map(text).as_deref(),
            Some("module.external_dns_pod_identity.iam_role_name"),
            "{at}"
        );
        let link = parse(&platform, &format!("infra/{}/link/main.tf", c.name));
        let Some(policy) = block(
            &link,
            "resource",
            &["aws_iam_role_policy", "external_dns_private_zone"],
        ) else {
            panic!("{at}: the workload's external-dns may write any record of the private zone");
        };
        assert_eq!(
            attr(policy.body(), "role").map(text).as_deref(),
            Some("local.cluster.external_dns_role_name"),
            "{at}"
        );
        let Some(Expression::FuncCall(call)) = attr(policy.body(), "policy") else {
            panic!("{at}: policy is not jsonencode(...)");
        };
        let Some(Expression::Array(statements)) = field(&call.args[0], "Statement") else {
            panic!("{at}: no Statement");
        };
        let s = &statements[0];
        assert_eq!(
            field(s, "Effect").map(text).as_deref(),
            Some("\"Deny\""),
            "{at}"
        );
        assert_eq!(
            field(s, "Resource").map(text).as_deref(),
            Some("[local.controlplane.internal_zone_arn]"),
            "{at}"
        );
        let host = platform.prometheus_host(&c);
        let names = field(s, "Condition")
            .and_then(|c| field(c, "ForAnyValue:StringNotLike"))
            .and_then(|c| field(c, "route53:ChangeResourceRecordSetsNormalizedRecordNames"));
        assert_eq!(
            names.map(text),
            Some(format!("[\"{host}\", \"*-{host}\"]")),
            "{at}"
        );
    }
}

/// T13: no rule resource of our own on a security group the EKS module manages with
/// `aws_security_group_rule` (the provider forbids mixing them): the Kafka rules are the
/// module's own input.
#[test]
fn t13_security_group_rules_go_through_the_module() {
    for (at, platform, c, body) in clusters() {
        for b in body.blocks().filter(|b| b.identifier() == "resource") {
            let kind = b.labels()[0].as_str();
            assert!(
                !kind.starts_with("aws_vpc_security_group_") && kind != "aws_security_group_rule",
                "{at}: resource {kind}"
            );
        }
        let rules = attr(eks(&body), "node_security_group_additional_rules");
        if c.role == flotilla_model::Role::Controlplane && platform.workload_clusters().count() > 0
        {
            let Some(Expression::Object(rules)) = rules else {
                panic!("{at}: no Kafka rules");
            };
            assert_eq!(rules.len(), platform.workload_clusters().count(), "{at}");
            for w in platform.workload_clusters() {
                let rule = rules
                    .iter()
                    .find(|(k, _)| key_str(k) == format!("kafka-tls-{}", w.name))
                    .map(|(_, v)| v)
                    .unwrap_or_else(|| panic!("{at}: no Kafka rule for {}", w.name));
                assert_eq!(
                    field(rule, "cidr_blocks").map(text),
                    Some(format!("[\"{}\"]", w.vpc_cidr)),
                    "{at}"
                );
                assert_eq!(field(rule, "from_port").map(text).as_deref(), Some("9093"));
            }
        } else {
            assert!(rules.is_none(), "{at}");
        }
    }
}
