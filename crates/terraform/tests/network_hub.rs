//! The network hub: VPC peering up to AWS's limit of peerings per VPC, a Transit Gateway past it.

mod common;

use flotilla_model::{MAX_PEERINGS_PER_VPC, Versions, load};

fn synthetic(workloads: usize, hub: Option<&str>) -> Result<flotilla_model::Platform, String> {
    let mut text = flotilla_testkit::synthetic::platform(workloads, 1);
    text = text.replace("network_hub = \"transit_gateway\"\n", "");
    if let Some(h) = hub {
        text = text.replacen(
            "internal_domain = \"synth.internal\"\n",
            &format!("internal_domain = \"synth.internal\"\nnetwork_hub = \"{h}\"\n"),
            1,
        );
    }
    load("synth.toml", &text, &Versions::embedded()).map_err(|e| e.to_string())
}

/// Past the adjustable maximum of peerings per VPC, peering is a located error that names the
/// 126th cluster and the alternative; the Transit Gateway hub loads, and 125 peerings still do.
#[test]
fn peering_past_the_per_vpc_maximum_is_refused_and_the_hub_takes_it() {
    let err = synthetic(MAX_PEERINGS_PER_VPC + 1, None).unwrap_err();
    assert!(
        err.contains("is workload VPC number 126 to peer with the controlplane's, and AWS allows at most 125 active peerings per VPC (quota L-7E9ECCDB, 50 by default)"),
        "{err}"
    );
    assert!(err.contains("network_hub = \"transit_gateway\""), "{err}");
    assert!(err.contains("synth.toml:"), "located: {err}");
    assert!(synthetic(MAX_PEERINGS_PER_VPC, None).is_ok());
    let p = synthetic(MAX_PEERINGS_PER_VPC + 1, Some("transit_gateway")).unwrap();
    assert_eq!(p.network_hub, flotilla_model::NetworkHub::TransitGateway);
    // The quota plan no longer asks for peerings.
    let quotas = flotilla_model::quotas::needs(&p);
    assert!(
        quotas
            .iter()
            .flat_map(|r| &r.needs)
            .all(|n| n.quota.key != "peerings-per-vpc"),
        "{quotas:?}"
    );
}

/// On the hub the controlplane owns the gateway, its attachment and a route to every workload
/// VPC; each workload's link attaches its VPC and routes to the controlplane, with no peering.
#[test]
fn the_hub_renders_attachments_and_routes_instead_of_peerings() {
    let platform = common::fixtures()
        .into_iter()
        .find(|(n, _)| n == "hub")
        .map(|(_, p)| p)
        .expect("tests/fixtures/hub.toml");
    let files = flotilla_terraform::render(&platform);
    let file = |path: &str| {
        files
            .iter()
            .find(|a| a.path == path)
            .unwrap_or_else(|| panic!("no {path}"))
            .contents
            .clone()
    };
    let cp = file("infra/controlplane/main.tf");
    for want in [
        "resource \"aws_ec2_transit_gateway\" \"hub\"",
        "resource \"aws_ec2_transit_gateway_vpc_attachment\" \"controlplane\"",
        "resource \"aws_route\" \"to_workloads\"",
        "setproduct(range(length(module.vpc.private_route_table_ids)), [\"10.1.0.0/16\"])",
    ] {
        assert!(cp.contains(want), "controlplane: {want}");
    }
    assert!(file("infra/controlplane/outputs.tf").contains("output \"transit_gateway_id\""));
    let dev = file("infra/dev/link/main.tf");
    assert!(dev.contains("resource \"aws_ec2_transit_gateway_vpc_attachment\" \"controlplane\""));
    assert!(dev.contains("transit_gateway_id = local.controlplane.transit_gateway_id"));
    assert!(dev.contains("subnet_ids         = local.cluster.private_subnet_ids"));
    assert!(
        dev.contains("resource \"aws_route53_zone_association\" \"internal\""),
        "names still resolve"
    );
    assert!(
        !dev.contains("aws_vpc_peering_connection"),
        "no peering on the hub"
    );
    assert!(
        !dev.contains("from_controlplane"),
        "the controlplane routes back itself"
    );
    assert!(file("infra/dev/link/outputs.tf").contains("output \"controlplane_attachment_id\""));
}

/// A Transit Gateway attaches VPCs of its own region: a workload elsewhere is refused, located.
#[test]
fn the_hub_refuses_a_workload_in_another_region() {
    let text = std::fs::read_to_string(common::fixtures_dir().join("hub.toml")).unwrap();
    let dev = "name = \"dev\"\nrole = \"workload\"";
    assert!(text.contains(dev));
    let moved = text.replacen(dev, &format!("{dev}\nregion = \"us-west-2\""), 1);
    let err = load("hub.toml", &moved, &Versions::embedded())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cluster \"dev\" is in us-west-2 but the Transit Gateway hub is in the controlplane's region us-east-1"),
        "{err}"
    );
}
