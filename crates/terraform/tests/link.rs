//! The link modules: a cluster module reads no other state (so every cluster is created at
//! once), and what joins a workload to the controlplane is in `infra/<workload>/link`, which
//! reads exactly the two states it joins.

mod common;

use std::collections::BTreeSet;

use hcl::{Body, Expression};

fn parse(path: &str, text: &str) -> Body {
    hcl::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The state keys a module's `terraform_remote_state` blocks read.
fn remote_state_keys(body: &Body) -> BTreeSet<String> {
    body.blocks()
        .filter(|b| {
            b.identifier() == "data"
                && b.labels().first().map(|l| l.as_str()) == Some("terraform_remote_state")
        })
        .map(|b| {
            let config = b
                .body()
                .attributes()
                .find(|a| a.key() == "config")
                .map(|a| a.expr().clone());
            let Some(Expression::Object(o)) = config else {
                panic!("remote state without config");
            };
            o.iter()
                .find(|(k, _)| k.to_string().trim_matches('"') == "key")
                .map(|(_, v)| match v {
                    Expression::String(s) => s.clone(),
                    other => panic!("key is not a literal: {other:?}"),
                })
                .expect("a key")
        })
        .collect()
}

/// Resource types of a module's `main.tf`.
fn resource_types(body: &Body) -> BTreeSet<String> {
    body.blocks()
        .filter(|b| b.identifier() == "resource")
        .map(|b| b.labels()[0].as_str().to_string())
        .collect()
}

/// The types that join two VPCs: none may be in a cluster module, every one a link has.
const JOINING: &[&str] = &[
    "aws_vpc_peering_connection",
    "aws_vpc_peering_connection_accepter",
    "aws_ec2_transit_gateway_vpc_attachment",
    "aws_route53_zone_association",
    "aws_route53_vpc_association_authorization",
    "aws_iam_role_policy",
];

#[test]
fn cluster_modules_read_no_other_state_and_each_workload_has_its_link() {
    let mut links = 0;
    for (name, platform) in common::fixtures() {
        let files = flotilla_terraform::render(&platform);
        let main = |dir: &str| {
            let path = format!("{dir}/main.tf");
            files
                .iter()
                .find(|a| a.path == path)
                .map(|a| parse(&path, &a.contents))
        };
        for c in &platform.clusters {
            let dir = flotilla_terraform::module_dir(&c.name);
            let body = main(&dir).unwrap_or_else(|| panic!("{name}: no {dir}/main.tf"));
            assert!(
                remote_state_keys(&body).is_empty(),
                "{name}/{}: a cluster module that reads another state waits for it",
                c.name
            );
            let own = resource_types(&body);
            // The controlplane attaches its own VPC to its own Transit Gateway.
            for t in JOINING.iter().filter(|t| {
                c.role == flotilla_model::Role::Workload
                    || **t != "aws_ec2_transit_gateway_vpc_attachment"
            }) {
                assert!(
                    !own.contains(*t),
                    "{name}/{}: {t} in the cluster module",
                    c.name
                );
            }
            assert!(
                !files
                    .iter()
                    .find(|a| a.path == format!("{dir}/main.tf"))
                    .unwrap()
                    .contents
                    .contains("local.controlplane"),
                "{name}/{}",
                c.name
            );
            let link_dir =
                flotilla_terraform::module_key_dir(&flotilla_terraform::link_module(&c.name));
            let link = main(&link_dir);
            if c.role == flotilla_model::Role::Controlplane {
                assert!(link.is_none(), "{name}: the controlplane has no link");
                continue;
            }
            let link = link.unwrap_or_else(|| panic!("{name}: no {link_dir}/main.tf"));
            links += 1;
            assert_eq!(
                remote_state_keys(&link),
                [
                    flotilla_terraform::state_key(c),
                    flotilla_terraform::state_key(platform.controlplane()),
                ]
                .into_iter()
                .collect(),
                "{name}/{}: the link reads its cluster and the controlplane",
                c.name
            );
            let types = resource_types(&link);
            let hub = platform.network_hub == flotilla_model::NetworkHub::TransitGateway;
            let joins = if hub {
                "aws_ec2_transit_gateway_vpc_attachment"
            } else {
                "aws_vpc_peering_connection"
            };
            for want in [
                joins,
                "aws_route",
                "aws_route53_zone_association",
                "aws_iam_role_policy",
            ] {
                assert!(
                    types.contains(want),
                    "{name}/{}: no {want} in {types:?}",
                    c.name
                );
            }
            let backend = files
                .iter()
                .find(|a| a.path == format!("{link_dir}/backend.tf"))
                .expect("backend.tf");
            assert!(
                backend.contents.contains(&format!(
                    "key          = \"{}\"",
                    flotilla_terraform::link_state_key(&c.name)
                )),
                "{name}/{}: its own state",
                c.name
            );
        }
    }
    assert!(links >= 4, "fixtures with workloads: {links}");
}

/// The module keys and directories the engine and the file diff use agree with the render.
#[test]
fn module_keys_name_their_directories() {
    assert_eq!(
        flotilla_terraform::link_module("production"),
        "production.link"
    );
    assert_eq!(
        flotilla_terraform::cluster_of_module("production.link"),
        "production"
    );
    assert_eq!(
        flotilla_terraform::cluster_of_module("production"),
        "production"
    );
    assert_eq!(
        flotilla_terraform::module_key_dir("production.link"),
        "infra/production/link"
    );
    assert_eq!(
        flotilla_terraform::module_key_dir("production"),
        "infra/production"
    );
}
