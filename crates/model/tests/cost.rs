//! `flotilla_model::cost`: the monthly bill of a small platform (the two-environment fixture,
//! in us-east-1) against figures computed by hand from the pinned list prices.

use flotilla_model::Versions;
use flotilla_model::cost::{Bill, bill};

const DUO: &str = include_str!("../../testkit/fixtures/two-envs.toml");
const SEED: &str = include_str!("../../testkit/fixtures/seed.toml");

/// A day on which the fixtures' Kubernetes 1.34 is in standard support (2026-08-01): the hand
/// computed figures below price every control plane at the standard price.
const BEFORE_1_34_LEAVES_STANDARD: jiff::civil::Date = jiff::civil::date(2026, 8, 1);

fn duo() -> Bill {
    let p = flotilla_model::load("two-envs.toml", DUO, &Versions::embedded()).unwrap();
    bill(&p, BEFORE_1_34_LEAVES_STANDARD)
}

fn line(bill: &Bill, cluster: &str, starts: &str) -> f64 {
    let c = bill.clusters.iter().find(|c| c.cluster == cluster).unwrap();
    let l = c
        .lines
        .iter()
        .find(|l| l.item.starts_with(starts))
        .unwrap_or_else(|| panic!("{cluster} has no line {starts:?}"));
    l.monthly_usd.unwrap()
}

fn near(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-6, "got {got}, want {want}");
}

#[test]
fn a_workload_clusters_lines_and_total_match_the_hand_computed_figures() {
    let b = duo();
    // 730.5 hours; us-east-1: EKS 0.10/h, m6i.large 0.096/h, gp3 0.08/GB-month, NAT 0.045/h,
    // public IPv4 0.005/h, NLB 0.0225/h, zone to zone 0.01/GB each way.
    near(line(&b, "dev", "EKS control plane"), 73.05);
    near(line(&b, "dev", "EC2 m6i.large x 1"), 70.128);
    near(line(&b, "dev", "EBS gp3, node root volumes"), 4.0); // 1 node x 50 GiB
    near(line(&b, "dev", "EBS gp3, Prometheus 1 x 20 GiB"), 1.6);
    near(line(&b, "dev", "NAT gateways x 1"), 32.8725);
    near(line(&b, "dev", "public IPv4 of the NAT gateways"), 3.6525);
    near(line(&b, "dev", "Network Load Balancers x 2"), 65.745 / 2.0);
    // dev's half of 100 events/s x 512 B = 25,600 B/s; x 2,629,800 s = 67,322,880,000 B =
    // 62.69932 GB (2^30); half crosses to the other of the controlplane's two zones, and each
    // GB is billed on both sides: 62.69932 x 0.5 x 0.02.
    near(
        line(&b, "dev", "zone to zone: events to Kafka"),
        0.626_993_179_321_289_1,
    );
    let dev = b.clusters.iter().find(|c| c.cluster == "dev").unwrap();
    assert_eq!(dev.lines.len(), 8, "{:#?}", dev.lines);
    assert!(
        (dev.monthly_usd - 218.802_493_179).abs() < 1e-6,
        "{}",
        dev.monthly_usd
    );
}

#[test]
fn the_controlplanes_nodes_load_balancers_and_transfer_match_the_hand_computed_figures() {
    let b = duo();
    // The data pool takes the capacity plan's 14 nodes, split over the two zones' groups.
    near(
        line(
            &b,
            "controlplane",
            "EC2 m6i.large x 7 (node group default-1)",
        ),
        490.896,
    );
    near(
        line(
            &b,
            "controlplane",
            "EC2 m6i.large x 7 (node group default-2)",
        ),
        490.896,
    );
    // Kafka's bootstrap and 4 brokers.
    near(
        line(&b, "controlplane", "Network Load Balancers x 5"),
        82.181_25,
    );
    // All 51,200 B/s of events through Kafka's NLBs: 125.39864 GB, one NLCU-hour per GB.
    near(
        line(&b, "controlplane", "NLCUs of Kafka's NLBs"),
        0.752_391_815_185_546_9,
    );
    near(
        line(&b, "controlplane", "zone to zone: Logstash reading"),
        1.253_986_358_642_578_1,
    );
    // Replication 1: no copies, so no replication lines; no dedicated masters, no volume line.
    let cp = b
        .clusters
        .iter()
        .find(|c| c.cluster == "controlplane")
        .unwrap();
    assert!(!cp.lines.iter().any(|l| l.item.contains("replication")));
    assert!(!cp.lines.iter().any(|l| l.item.contains("masters")));
    // The total is the sum of the clusters, and each cluster's the sum of its lines.
    let sum: f64 = b.clusters.iter().map(|c| c.monthly_usd).sum();
    near(b.monthly_usd, sum);
    for c in &b.clusters {
        near(
            c.monthly_usd,
            c.lines.iter().filter_map(|l| l.monthly_usd).sum(),
        );
        assert_eq!(c.priced_at, "us-east-1");
    }
}

#[test]
fn every_line_names_a_source_the_bill_lists_and_a_region_without_rows_is_said() {
    let seed = flotilla_model::load("seed.toml", SEED, &Versions::embedded()).unwrap();
    let b = bill(&seed, BEFORE_1_34_LEAVES_STANDARD);
    for c in &b.clusters {
        // The seed is in eu-west-1, which the table has no rows for.
        assert_eq!(
            (c.region.as_str(), c.priced_at.as_str()),
            ("eu-west-1", "us-east-1")
        );
        for l in &c.lines {
            let key = l.source.as_ref().expect("every seed line is priced");
            assert!(b.sources[key].starts_with("https://"), "{key}");
        }
    }
    let text = flotilla_model::cost::to_text(&b);
    assert!(text.contains("priced at us-east-1's list prices: the table has no eu-west-1 rows"));
    // Three copies in three zones: two cross-zone copies for Kafka and for Elasticsearch.
    assert!(
        text.contains("Kafka replication, 2 copies in other zones"),
        "{text}"
    );
}

#[test]
fn an_instance_type_the_table_lacks_is_a_line_without_a_price_not_a_wrong_one() {
    let mut p = flotilla_model::load("two-envs.toml", DUO, &Versions::embedded()).unwrap();
    let dev = p.clusters.iter_mut().find(|c| c.name == "dev").unwrap();
    dev.node_pools[0].instance_types = vec!["x9z.large".into()];
    let b = bill(&p, BEFORE_1_34_LEAVES_STANDARD);
    let dev = b.clusters.iter().find(|c| c.cluster == "dev").unwrap();
    let l = dev
        .lines
        .iter()
        .find(|l| l.item.starts_with("EC2 "))
        .unwrap();
    assert_eq!((l.usd_per_unit, l.monthly_usd), (None, None));
    assert!(
        l.note.as_deref().unwrap().contains("not in the total"),
        "{l:?}"
    );
    near(dev.monthly_usd, 218.802_493_179_321_3 - 70.128);
}

#[test]
fn usd_groups_thousands_and_keeps_the_sign() {
    use flotilla_model::cost::usd;
    assert_eq!(usd(0.0), "0.00");
    assert_eq!(usd(1234567.891), "1,234,567.89");
    assert_eq!(usd(-288.512), "-288.51");
    assert_eq!(usd(999.999), "1,000.00");
}

#[test]
fn events_sent_to_the_controlplane_of_another_region_say_the_transfer_is_a_lower_bound() {
    let mut p = flotilla_model::load("two-envs.toml", DUO, &Versions::embedded()).unwrap();
    p.clusters
        .iter_mut()
        .find(|c| c.name == "dev")
        .unwrap()
        .region = "us-west-2".into();
    let b = bill(&p, BEFORE_1_34_LEAVES_STANDARD);
    let dev = b.clusters.iter().find(|c| c.cluster == "dev").unwrap();
    assert_eq!(dev.priced_at, "us-east-1");
    let l = dev
        .lines
        .iter()
        .find(|l| l.item.starts_with("zone to zone"))
        .unwrap();
    assert!(
        l.note
            .as_deref()
            .unwrap()
            .starts_with("us-west-2 to us-east-1: transfer between regions"),
        "{l:?}"
    );
    let qa = b.clusters.iter().find(|c| c.cluster == "qa").unwrap();
    assert!(qa.lines.iter().all(|l| l.note.is_none()), "{:?}", qa.lines);
}

/// The control plane's price and the plan's support line follow EKS's calendar for the
/// cluster's version and its support policy: in standard support (with notice from 90 days
/// before its end), out of it with `support = "standard"` (EKS upgrades the cluster itself:
/// the standard price, and what to do), out of it with `"extended"` (the extended price), and
/// past extended support.
#[test]
fn the_control_plane_follows_the_eks_calendar_of_its_version() {
    use flotilla_model::cost::{SupportPhase, support_line, support_phase};
    use flotilla_model::versions::date as parse;
    let standard = flotilla_model::load("two-envs.toml", DUO, &Versions::embedded()).unwrap();
    let extended_text = DUO.replacen(
        "kubernetes_version = \"1.34\"",
        "kubernetes_version = \"1.34\"\nsupport = \"extended\"",
        1,
    );
    let extended =
        flotilla_model::load("two-envs.toml", &extended_text, &Versions::embedded()).unwrap();
    let first = extended.clusters[0].name.clone();
    let day = |d: &str| parse(d).unwrap();
    let control_plane = |p: &flotilla_model::Platform, d: &str| {
        let b = bill(p, day(d));
        let c = b.clusters.iter().find(|c| c.cluster == first).unwrap();
        c.lines
            .iter()
            .find(|l| l.item.starts_with("EKS control plane"))
            .unwrap()
            .clone()
    };
    // 1.34: standard support ends 2026-12-02, extended on 2027-12-02 (versions.toml).
    assert_eq!(
        support_phase(&standard, "1.34", day("2026-12-01")),
        SupportPhase::Standard {
            until: "2026-12-02".into(),
            days_left: 1
        }
    );
    assert_eq!(
        support_phase(&standard, "1.34", day("2026-12-02")),
        SupportPhase::Extended {
            since: "2026-12-02".into(),
            until: "2027-12-02".into()
        }
    );
    assert_eq!(
        support_phase(&standard, "1.34", day("2027-12-02")),
        SupportPhase::Ended {
            since: "2027-12-02".into()
        }
    );
    assert_eq!(
        support_phase(&standard, "1.99", day("2026-12-02")),
        SupportPhase::Unknown
    );

    // Standard support: the standard price, 0.10 x 730.5.
    near(
        control_plane(&standard, "2026-12-01").monthly_usd.unwrap(),
        73.05,
    );
    near(
        control_plane(&extended, "2026-12-01").monthly_usd.unwrap(),
        73.05,
    );
    // After its end: standard support keeps the standard price (EKS upgrades the cluster),
    // extended support costs 0.60 x 730.5.
    let after = control_plane(&standard, "2026-12-02");
    near(after.monthly_usd.unwrap(), 73.05);
    assert_eq!(
        after.note.as_deref(),
        Some("standard support ended 2026-12-02: EKS upgrades the cluster to 1.35 itself")
    );
    let after = control_plane(&extended, "2026-12-02");
    near(after.monthly_usd.unwrap(), 438.3);
    assert!(
        after.note.as_deref().unwrap().starts_with(
            "in extended support since 2026-12-02 (until 2027-12-02): $365.25 a month more"
        ),
        "{:?}",
        after.note
    );

    let line = |p: &flotilla_model::Platform, d: &str| {
        let c = p.cluster(&first).unwrap();
        support_line(p, c, day(d))
    };
    assert_eq!(
        line(&standard, "2026-08-01"),
        format!(
            "{first}: Kubernetes 1.34, support standard: standard support until 2026-12-02 (123 days; then EKS upgrades the cluster itself)"
        )
    );
    assert_eq!(
        line(&standard, "2026-10-01"),
        format!(
            "{first}: Kubernetes 1.34, support standard: standard support ends 2026-12-02, in 62 day(s): set kubernetes_version = \"1.35\" and deploy before then (then EKS upgrades the cluster itself)"
        )
    );
    assert!(
        line(&standard, "2026-12-02").contains(
            "standard support ended 2026-12-02: EKS upgrades the cluster to 1.35 itself, outside this repository, and a deploy of 1.34 is then refused (EKS cannot downgrade)"
        ),
        "{}",
        line(&standard, "2026-12-02")
    );
    assert!(
        line(&extended, "2026-12-02").contains(
            "in extended support since 2026-12-02, until 2027-12-02: $0.60 per hour ($365 a month more than standard)"
        ),
        "{}",
        line(&extended, "2026-12-02")
    );
    assert!(line(&extended, "2028-01-01").contains("extended support ended 2027-12-02"));
}
