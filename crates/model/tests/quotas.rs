//! The AWS quotas a platform needs, by hand on the compact corpus platform
//! (`tests/invalid/base/platform.toml`): a protected controlplane (3 zones, 18 x m6i.large at
//! most) and a protected production cluster (3 zones, 6 x m6i.xlarge at most) in eu-west-1.

use flotilla_model::Versions;

#[test]
fn quota_needs_of_the_corpus_platform_by_hand() {
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/invalid/base/platform.toml"
    ))
    .unwrap();
    let p = flotilla_model::load("platform.toml", &src, &Versions::embedded()).unwrap();
    let scopes = flotilla_model::quotas::needs(&p);
    assert_eq!(scopes.len(), 1);
    assert_eq!(
        (scopes[0].account_id.as_str(), scopes[0].region.as_str()),
        ("123456789012", "eu-west-1")
    );
    let need = |key: &str| {
        scopes[0]
            .needs
            .iter()
            .find(|n| n.quota.key == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .need
    };
    assert_eq!(need("vpcs"), 2);
    assert_eq!(need("internet-gateways"), 2);
    assert_eq!(need("eks-clusters"), 2);
    // Protected clusters: a NAT gateway (and its Elastic IP) in each of their 3 zones.
    assert_eq!(need("elastic-ips"), 6);
    assert_eq!(need("nat-gateways-per-az"), 2);
    assert_eq!(need("peerings-per-vpc"), 1);
    // 18 nodes of 2 vCPUs and 6 of 4.
    assert_eq!(need("on-demand-standard-vcpus"), 18 * 2 + 6 * 4);
    let plan = p.capacity_plan();
    // Gateway and Prometheus on production; Kafka's bootstrap and each broker.
    assert_eq!(
        need("network-load-balancers"),
        2 + u64::from(plan.kafka.brokers) + 1
    );
    // Root volumes (50 GiB) at every pool's max, two Prometheus volumes of 100 GiB per cluster,
    // and the controlplane's data: Kafka brokers and controllers, Elasticsearch data and
    // masters, three Alertmanagers and Grafana (10 GiB each).
    let (k, es) = (&plan.kafka, &plan.elasticsearch);
    let gib = (18 + 6) * 50
        + 2 * 2 * 100
        + u64::from(k.brokers * k.broker_disk_gib + k.controllers * k.controller_disk_gib)
        + u64::from(es.data_nodes * es.disk_gib_per_node + es.master_nodes * es.master_disk_gib)
        + 3 * 10
        + 10;
    assert_eq!(need("gp3-tib"), gib.div_ceil(1024));
    // No spot pool, no other instance family.
    assert!(
        scopes[0]
            .needs
            .iter()
            .all(|n| n.quota.key != "spot-standard-vcpus" && n.quota.key != "on-demand-g-vt-vcpus")
    );
    // 6 Elastic IPs are above a new account's 5: the plan says so, with the request.
    let eips = scopes[0]
        .needs
        .iter()
        .find(|n| n.quota.key == "elastic-ips")
        .unwrap();
    assert!(eips.exceeds_default());
    let text = flotilla_model::quotas::to_text(&scopes);
    assert!(
        text.contains(
            "aws service-quotas request-service-quota-increase --region eu-west-1 --service-code ec2 --quota-code L-0263D0A3 --desired-value 6"
        ),
        "{text}"
    );
}
