//! The capacity plan: formulas on hand-computed cases, the ingest split, and the property that a
//! larger ingest never gives a smaller plan.
//!
//! Every case starts from the repository's own platform with `[sizing]` replaced and its
//! controlplane data pool set to r6i.2xlarge (8 vCPU, 64 GiB; pool minimum 3, maximum 9; 3
//! availability zones), the pool the hand-computed cases below were worked out for. The seed
//! itself runs larger nodes; the plans here are computed on the typed platform, past validation,
//! so a pool maximum below the plan shows as the plan's warning.
//! Pod-quota weights of the seed: production 220 + 10, staging 70 + 10, testing 50 + 10 = 370.

use flotilla_model::capacity::{CapacityPlan, ShareSource, instance_shape};
use flotilla_model::{Platform, Sizing, Versions, load};
use proptest::prelude::*;
use std::sync::OnceLock;

const SEED: &str = include_str!("../../testkit/fixtures/seed.toml");

/// The seed, loaded once (cloned per case: the sweeps below build thousands of plans).
fn seed() -> Platform {
    static SEED_PLATFORM: OnceLock<Platform> = OnceLock::new();
    SEED_PLATFORM
        .get_or_init(|| {
            let mut p = platform(SEED);
            let cp = p
                .clusters
                .iter_mut()
                .find(|c| c.name == "controlplane")
                .unwrap();
            let data = cp.node_pools.iter_mut().find(|n| n.name == "data").unwrap();
            data.instance_types = vec!["r6i.2xlarge".into()];
            (data.min, data.desired, data.max) = (3, 3, 9);
            p
        })
        .clone()
}

fn platform(source: &str) -> Platform {
    match load("platform.toml", source, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn with_sizing(
    events: u64,
    bytes: u64,
    retention_days: u32,
    replication: u32,
    latency_ms: u32,
    kafka_hours: u32,
) -> Platform {
    let mut p = seed();
    p.sizing = Sizing {
        peak_events_per_second: events,
        average_event_bytes: bytes,
        retention_days,
        replication,
        query_latency_ms: latency_ms,
    };
    p.observability.kafka_retention_hours = kafka_hours;
    p
}

fn partitions(plan: &CapacityPlan) -> Vec<(&str, u32)> {
    plan.kafka
        .partitions_per_topic
        .iter()
        .map(|(t, n)| (t.as_str(), *n))
        .collect()
}

/// Small ingest: every size sits at its minimum.
#[test]
fn small_ingest_gets_the_minimums() {
    // 1000 events/s x 500 B = 0.5 MB/s; replication 2.
    let plan = with_sizing(1000, 500, 7, 2, 1000, 24).capacity_plan();
    let k = &plan.kafka;
    // Kafka retained: 0.5 MB/s x 2 copies x 0.5 (average) x 24 h x 3600 / 0.75 = 57.6 GB = 53.6 GiB,
    // over max(3, 2) = 3 brokers: 17.9 -> 18 GiB, raised to the 20 GiB minimum.
    assert_eq!(k.broker_disk_gib, 20);
    // max(3 brokers, 1 MB/s / 50 MB/s -> 1, 53.6 / 20 -> 3) = 3, a multiple of 3 zones.
    assert_eq!(k.brokers, 3);
    assert_eq!(k.controllers, 3);
    assert_eq!((k.replication, k.min_insync_replicas), (2, 1));
    // 1 MB/s / 3 brokers x 30 s = 10 MB of page cache -> 1 GiB, 1 GiB off the heap, on top of
    // the 6 GiB heap = 8, raised to twice the heap (Strimzi: heap at half the memory).
    assert_eq!((k.broker_memory_gib, k.broker_heap_gib), (12, 6));
    assert_eq!(k.broker_cpu, 1.0);
    assert_eq!(k.retention_hours, 24);
    // Logstash: 1000 / (2000 x 4) -> 1, raised to 2 replicas.
    assert_eq!(plan.logstash.replicas, 2);
    assert_eq!(plan.logstash.pipeline_workers, 4);
    assert_eq!((plan.logstash.memory_gib, plan.logstash.heap_gib), (8, 4));
    // Elasticsearch: 0.5 MB/s x 0.5 x 86400 = 21.6 GB a day; x 7 days x 2 copies x 1.25
    // = 378 GB = 352.0 GiB. Latency 1000 ms: memory:data 1:60, shards 50 GB.
    let e = &plan.elasticsearch;
    assert_eq!(e.total_storage_gib, 353);
    assert_eq!(e.memory_data_ratio, 60.0);
    assert_eq!(e.rollover_max_primary_shard_size_gb, 50);
    // 352 / 60 / (3 - 1 holding nodes) = 2.9 -> 4 GiB minimum; heap 2; disk 4 x 60 = 240.
    assert_eq!((e.memory_gib, e.heap_gib, e.cpu), (4, 2, 1.0));
    assert_eq!(e.disk_gib_per_node, 240);
    // max(3, 352 / 240 -> 2, + 1 failover) = 3; no dedicated masters below 6 data nodes.
    assert_eq!((e.data_nodes, e.master_nodes), (3, 0));
    assert_eq!((e.replicas, e.retention_days), (1, 7));
    assert_eq!(e.primary_shards_per_index, 1);
    // Every topic: max(3 brokers, 2 Logstash replicas, < 1 partition of bytes) = 3.
    assert!(partitions(&plan).iter().all(|(_, n)| *n == 3));
    // Data pool: 3 x 1 + 3 x 0.5 + 2 x 4 + 3 x 1 = 15.5 CPU; 3 x 12 + 3 x 2 + 2 x 8 + 3 x 4 = 70 GiB.
    assert_eq!(plan.data_pool.requested_cpu, 15.5);
    assert_eq!(plan.data_pool.requested_memory_gib, 70);
    // 15.5 x 1.1 / (8 x 0.85) = 2.5 -> 3 nodes; the pool minimum is 3 already.
    assert_eq!(plan.controlplane_data_pool_min_nodes, 3);
    assert_eq!(plan.data_pool.min_nodes, 3);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

/// Medium ingest: Elasticsearch memory between its bounds, the data pool raised above its minimum.
#[test]
fn medium_ingest_sizes_elasticsearch_memory_to_the_data() {
    let plan = with_sizing(1000, 1000, 7, 3, 500, 72).capacity_plan();
    // Kafka: 1 MB/s x 3 x 0.5 x 72 h / 0.75 = 518.4 GB = 482.8 GiB / 3 brokers -> 161 GiB.
    assert_eq!(plan.kafka.broker_disk_gib, 161);
    assert_eq!(plan.kafka.brokers, 3);
    assert_eq!(plan.kafka.min_insync_replicas, 2);
    let e = &plan.elasticsearch;
    // 43.2 GB a day x 7 x 3 x 1.25 = 1134 GB = 1056.1 GiB; 500 ms: 1:30, 25 GB shards.
    assert_eq!(e.total_storage_gib, 1057);
    assert_eq!(e.rollover_max_primary_shard_size_gb, 25);
    // 1056.1 / 30 / 2 = 17.6 -> 18 GiB (even); heap 9; 18 / 8 = 2.25 -> 2.5 CPU; disk 540.
    assert_eq!((e.memory_gib, e.heap_gib, e.cpu), (18, 9, 2.5));
    assert_eq!(e.disk_gib_per_node, 540);
    // 1056.1 / 540 -> 2, + 1 = 3.
    assert_eq!(e.data_nodes, 3);
    assert_eq!(e.replicas, 2);
    // 3 x 1 + 1.5 + 2 x 4 + 3 x 2.5 = 20 CPU x 1.1 / 6.8 = 3.2 -> 4 nodes -> 6 (3 zones).
    assert_eq!(plan.data_pool.requested_cpu, 20.0);
    assert_eq!(
        plan.data_pool.requested_memory_gib,
        3 * 12 + 3 * 2 + 2 * 8 + 3 * 18
    );
    assert_eq!(plan.controlplane_data_pool_min_nodes, 6);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

/// Large ingest: nodes at their caps, counts grow, dedicated masters, a warning on the pool.
#[test]
fn large_ingest_adds_nodes_and_warns_about_the_pool_maximum() {
    let plan = with_sizing(50_000, 1000, 7, 3, 1000, 24).capacity_plan();
    let k = &plan.kafka;
    // 50 MB/s x 3 = 150 MB/s: 150 / 50 = 3 brokers; 150 MB/s x 0.5 x 24 h / 0.75 = 8046.6 GiB,
    // / 3 = 2682.2 -> 2683 GiB.
    assert_eq!((k.brokers, k.broker_disk_gib), (3, 2683));
    // Per broker 50 MB/s (the cap) x 30 s = 1.4 GiB -> 2, + 1 off the heap + 6 = 9, raised to
    // twice the heap; 50 / 20 = 2.5 CPU.
    assert_eq!((k.broker_memory_gib, k.broker_cpu), (12, 2.5));
    // Logstash: 50000 / 8000 = 6.25 -> 7.
    assert_eq!(plan.logstash.replicas, 7);
    let e = &plan.elasticsearch;
    // 2160 GB a day x 7 x 3 x 1.25 = 52806 GiB; 1:60 would want 440 GiB nodes: capped at what
    // an r6i.2xlarge gives (64 x 0.85 = 54.4 -> 54 GiB); heap 27; CPU capped at 6.5.
    assert_eq!((e.memory_gib, e.heap_gib, e.cpu), (54, 27, 6.5));
    assert_eq!(e.disk_gib_per_node, 54 * 60);
    // 52806 / 3240 = 16.3 -> 17, + 1 = 18 data nodes; 3 dedicated masters from 6 on.
    assert_eq!((e.data_nodes, e.master_nodes), (18, 3));
    // Production: 50000 x 230/370 = 31081 events/s: 31.1 MB/s / 5 -> 7; 7 Logstash replicas.
    assert_eq!(plan.environments["production"].partitions_per_topic, 7);
    assert_eq!(plan.kafka.partitions_per_topic["production.logs"], 7);
    assert_eq!(plan.kafka.partitions_per_topic["testing.metrics"], 7);
    // Primary shards: 31081 / 5000 -> 7, 10811 -> 3, 8108 -> 2; the index template takes 7.
    assert_eq!(plan.environments["production"].primary_shards_per_index, 7);
    assert_eq!(plan.environments["staging"].primary_shards_per_index, 3);
    assert_eq!(plan.environments["testing"].primary_shards_per_index, 2);
    assert_eq!(e.primary_shards_per_index, 7);
    // 157 CPU x 1.1 / 6.8 = 25.4 -> 26 -> 27 nodes; the pool's max is 9.
    assert_eq!(plan.data_pool.requested_cpu, 157.0);
    assert_eq!(plan.controlplane_data_pool_min_nodes, 27);
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains("needs 27 nodes"),
        "{}",
        plan.warnings[0]
    );
}

#[test]
fn ingest_splits_by_pod_quotas_without_ingest_percent() {
    let plan = platform(SEED).capacity_plan();
    let share = |env: &str| plan.environments[env].ingest_share;
    assert!((share("production") - 230.0 / 370.0).abs() < 1e-12);
    assert!((share("staging") - 80.0 / 370.0).abs() < 1e-12);
    assert!((share("testing") - 60.0 / 370.0).abs() < 1e-12);
    assert!(
        plan.environments
            .values()
            .all(|e| e.share_source == ShareSource::PodQuotas)
    );
}

#[test]
fn ingest_percent_is_taken_and_the_rest_split_by_pod_quotas() {
    let source = SEED.replacen(
        "environment = \"production\"\n",
        "environment = \"production\"\ningest_percent = 70\n",
        1,
    );
    let plan = platform(&source).capacity_plan();
    let prod = &plan.environments["production"];
    assert_eq!(prod.share_source, ShareSource::Explicit);
    assert!((prod.ingest_share - 0.70).abs() < 1e-12);
    // The remaining 30% by weights 80 : 60.
    assert!((plan.environments["staging"].ingest_share - 0.30 * 80.0 / 140.0).abs() < 1e-12);
    assert!((plan.environments["testing"].ingest_share - 0.30 * 60.0 / 140.0).abs() < 1e-12);
    let total: f64 = plan.environments.values().map(|e| e.ingest_share).sum();
    assert!((total - 1.0).abs() < 1e-12);
    // 20000 x 0.7 = 14000 events/s.
    assert_eq!(prod.peak_events_per_second, 14_000);
}

fn load_errors(source: &str) -> String {
    match load("platform.toml", source, &Versions::embedded()) {
        Ok(_) => panic!("expected the platform to be rejected"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn ingest_percent_is_validated() {
    let on = |env: &str, pct: i64, s: &str| {
        s.replacen(
            &format!("environment = \"{env}\"\n"),
            &format!("environment = \"{env}\"\ningest_percent = {pct}\n"),
            1,
        )
    };
    // Over 100 in all.
    let err = load_errors(&on("production", 80, &on("staging", 30, SEED)));
    assert!(
        err.contains("ingest_percent of the workload clusters adds up to 110"),
        "{err}"
    );
    // Everyone set, short of 100.
    let err = load_errors(&on(
        "production",
        50,
        &on("staging", 20, &on("testing", 10, SEED)),
    ));
    assert!(err.contains("adds up to 80"), "{err}");
    // 100 with a cluster left without.
    let err = load_errors(&on("production", 60, &on("staging", 40, SEED)));
    assert!(err.contains("adds up to 100"), "{err}");
    // Out of range.
    let err = load_errors(&on("production", 0, SEED));
    assert!(
        err.contains("ingest_percent must be between 1 and 100"),
        "{err}"
    );
    // Not on the controlplane.
    let cp = SEED.replacen(
        "role = \"controlplane\"",
        "role = \"controlplane\"\ningest_percent = 10",
        1,
    );
    let err = load_errors(&cp);
    assert!(err.contains("the controlplane produces no ingest"), "{err}");
    // Every cluster set and adding up to 100 is fine.
    let ok = on(
        "production",
        70,
        &on("staging", 20, &on("testing", 10, SEED)),
    );
    let plan = platform(&ok).capacity_plan();
    assert!((plan.environments["testing"].ingest_share - 0.10).abs() < 1e-12);
}

#[test]
fn instance_shapes_follow_the_ec2_naming() {
    assert_eq!(instance_shape("r6i.2xlarge"), Some((8.0, 64.0)));
    assert_eq!(instance_shape("m6i.large"), Some((2.0, 8.0)));
    assert_eq!(instance_shape("c7g.4xlarge"), Some((16.0, 32.0)));
    assert_eq!(instance_shape("x2idn.16xlarge"), Some((64.0, 1024.0)));
    assert_eq!(instance_shape("i4i.xlarge"), Some((4.0, 32.0)));
    assert_eq!(instance_shape("m7i.metal-24xl"), None);
    assert_eq!(instance_shape("nonsense"), None);
}

#[test]
fn text_names_every_component() {
    let text = with_sizing(50_000, 1000, 7, 3, 1000, 24)
        .capacity_plan()
        .to_text();
    for needle in [
        "Kafka (Strimzi, KRaft):",
        "3 brokers:",
        "Logstash (ECK):",
        "7 replicas",
        "18 data nodes",
        "3 dedicated masters",
        "production.logs",
        "warning: controlplane node pool \"data\" needs 27 nodes",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Monotonicity: every number of the plan (walked through its TOML form, so fields added later
// are covered) is at least as large for the larger input.
// ---------------------------------------------------------------------------------------------

/// Numbers that do not grow with ingest by design, with the reason.
const NOT_INGEST_MONOTONE: &[&str] = &[
    // Fractions of the ingest, fixed by the environments.
    "ingest_share",
    // Functions of the query latency target only.
    "memory_data_ratio",
    "rollover_max_primary_shard_size_gb",
];

fn numbers(prefix: &str, v: &toml::Value, out: &mut Vec<(String, f64)>) {
    match v {
        toml::Value::Integer(n) => out.push((prefix.to_string(), *n as f64)),
        toml::Value::Float(x) => out.push((prefix.to_string(), *x)),
        toml::Value::Table(m) => {
            for (k, v) in m {
                numbers(&format!("{prefix}.{k}"), v, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                numbers(&format!("{prefix}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

/// Fields of `big` smaller than in `small`, skipping paths whose last segment is in `skip`.
fn shrunk(small: &CapacityPlan, big: &CapacityPlan, skip: &[&str]) -> Vec<String> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    numbers("", &toml::Value::try_from(small).unwrap(), &mut a);
    numbers("", &toml::Value::try_from(big).unwrap(), &mut b);
    assert_eq!(a.len(), b.len(), "same shape");
    a.iter()
        .zip(&b)
        .filter(|((path, _), _)| !skip.iter().any(|s| path.rsplit('.').next() == Some(*s)))
        .filter(|((_, x), (_, y))| y < x)
        .map(|((path, x), (_, y))| format!("{path}: {x} -> {y}"))
        .collect()
}

fn totals(plan: &CapacityPlan) -> [f64; 6] {
    let k = &plan.kafka;
    let e = &plan.elasticsearch;
    [
        f64::from(k.brokers) * f64::from(k.broker_disk_gib),
        f64::from(k.brokers) * f64::from(k.broker_memory_gib),
        f64::from(e.data_nodes) * f64::from(e.disk_gib_per_node),
        f64::from(e.data_nodes) * f64::from(e.memory_gib),
        f64::from(e.data_nodes) * e.cpu,
        f64::from(plan.controlplane_data_pool_min_nodes),
    ]
}

#[derive(Debug, Clone, Copy)]
struct Input {
    events: u64,
    bytes: u64,
    retention_days: u32,
    replication: u32,
    latency_ms: u32,
    kafka_hours: u32,
}

impl Input {
    fn plan(self) -> CapacityPlan {
        with_sizing(
            self.events,
            self.bytes,
            self.retention_days,
            self.replication,
            self.latency_ms,
            self.kafka_hours,
        )
        .capacity_plan()
        .as_ref()
        .clone()
    }
}

/// A value in `lo..=hi`, uniform in its logarithm (so every order of magnitude is tried).
fn log_uniform(lo: u64, hi: u64) -> impl Strategy<Value = u64> {
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    (a..=b).prop_map(move |x| (x.exp().round() as u64).clamp(lo, hi))
}

/// The ranges `platform.toml` validation accepts.
fn input() -> impl Strategy<Value = Input> {
    (
        log_uniform(1, 10_000_000),
        log_uniform(16, 1_048_576),
        log_uniform(1, 3650).prop_map(|x| x as u32),
        1u32..=5,
        log_uniform(1, 60_000).prop_map(|x| x as u32),
        log_uniform(1, 720).prop_map(|x| x as u32),
    )
        .prop_map(
            |(events, bytes, retention_days, replication, latency_ms, kafka_hours)| Input {
                events,
                bytes,
                retention_days,
                replication,
                latency_ms,
                kafka_hours,
            },
        )
}

/// Small realistic inputs too, where the minimums and caps interact most.
fn small_input() -> impl Strategy<Value = Input> {
    (
        1u64..=100_000,
        16u64..=8192,
        1u32..=90,
        1u32..=5,
        50u32..=5000,
        1u32..=168,
    )
        .prop_map(
            |(events, bytes, retention_days, replication, latency_ms, kafka_hours)| Input {
                events,
                bytes,
                retention_days,
                replication,
                latency_ms,
                kafka_hours,
            },
        )
}

fn any_input() -> impl Strategy<Value = Input> {
    prop_oneof![input(), small_input()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// More events, bigger events, longer retention (Elasticsearch and Kafka): nothing shrinks.
    #[test]
    fn larger_ingest_never_gives_a_smaller_plan(
        base in any_input(),
        factor in 1.0f64..50.0,
        which in 0usize..5,
    ) {
        let mut big = base;
        let grow = |x: u64| ((x as f64) * factor).ceil() as u64;
        match which {
            0 => big.events = grow(base.events).min(10_000_000),
            1 => big.bytes = grow(base.bytes).min(1_048_576),
            2 => big.retention_days = (grow(base.retention_days.into()) as u32).min(3650),
            3 => big.kafka_hours = (grow(base.kafka_hours.into()) as u32).min(720),
            _ => {
                // All at once.
                big.events = grow(base.events).min(10_000_000);
                big.bytes = grow(base.bytes).min(1_048_576);
                big.retention_days = (grow(base.retention_days.into()) as u32).min(3650);
                big.kafka_hours = (grow(base.kafka_hours.into()) as u32).min(720);
            }
        }
        let shrinks = shrunk(&base.plan(), &big.plan(), NOT_INGEST_MONOTONE);
        prop_assert!(shrinks.is_empty(), "{:?} -> {:?}: {:?}", base, big, shrinks);
    }

    /// More copies: nothing shrinks, per-node sizes included (copies beyond the minimum
    /// cluster add nodes, not smaller ones); totals (count x per-node size) grow too.
    #[test]
    fn more_replication_never_gives_a_smaller_plan(base in any_input(), extra in 1u32..=4) {
        let mut big = base;
        big.replication = (base.replication + extra).min(5);
        let (small_plan, big_plan) = (base.plan(), big.plan());
        let shrinks = shrunk(&small_plan, &big_plan, NOT_INGEST_MONOTONE);
        prop_assert!(shrinks.is_empty(), "{:?} -> {:?}: {:?}", base, big, shrinks);
        let (a, b) = (totals(&small_plan), totals(&big_plan));
        prop_assert!(a.iter().zip(&b).all(|(x, y)| y >= x), "{:?} -> {:?}", a, b);
    }

    /// A stricter (lower) latency target buys memory and nodes, with smaller shards.
    #[test]
    fn stricter_latency_never_gives_less_memory(base in any_input(), divisor in 1.0f64..20.0) {
        let mut strict = base;
        strict.latency_ms = ((f64::from(base.latency_ms) / divisor).floor() as u32).max(1);
        let (relaxed, strict_plan) = (base.plan(), strict.plan());
        let (r, s) = (&relaxed.elasticsearch, &strict_plan.elasticsearch);
        prop_assert!(s.memory_gib >= r.memory_gib && s.heap_gib >= r.heap_gib && s.cpu >= r.cpu);
        prop_assert!(s.data_nodes >= r.data_nodes && s.master_nodes >= r.master_nodes);
        prop_assert!(s.memory_data_ratio <= r.memory_data_ratio);
        prop_assert!(s.rollover_max_primary_shard_size_gb <= r.rollover_max_primary_shard_size_gb);
        prop_assert!(
            strict_plan.controlplane_data_pool_min_nodes >= relaxed.controlplane_data_pool_min_nodes
        );
        prop_assert!(strict_plan.data_pool.requested_memory_gib >= relaxed.data_pool.requested_memory_gib);
        // Memory across the data nodes: at least what the relaxed plan had.
        prop_assert!(
            f64::from(s.data_nodes) * f64::from(s.memory_gib)
                >= f64::from(r.data_nodes) * f64::from(r.memory_gib)
        );
        // Disk still holds everything, with the failover spare.
        prop_assert!(
            u64::from(s.data_nodes - 1) * u64::from(s.disk_gib_per_node) >= s.total_storage_gib
                || s.data_nodes == u32::MAX
        );
    }
}

/// A dense sweep of each ingest input (7% steps over its whole range) from a few starting
/// platforms: consecutive plans never shrink. Catches thresholds a random pair would miss.
#[test]
fn ingest_sweeps_never_shrink_the_plan() {
    let bases = [
        Input {
            events: 1,
            bytes: 16,
            retention_days: 1,
            replication: 1,
            latency_ms: 50,
            kafka_hours: 1,
        },
        Input {
            events: 20_000,
            bytes: 1024,
            retention_days: 14,
            replication: 3,
            latency_ms: 500,
            kafka_hours: 72,
        },
        Input {
            events: 300,
            bytes: 300,
            retention_days: 3,
            replication: 2,
            latency_ms: 5000,
            kafka_hours: 6,
        },
        Input {
            events: 2_000,
            bytes: 2_000,
            retention_days: 30,
            replication: 5,
            latency_ms: 200,
            kafka_hours: 24,
        },
    ];
    let ladder = |lo: u64, hi: u64| {
        let mut v = vec![lo];
        while *v.last().unwrap() < hi {
            let x = *v.last().unwrap();
            v.push(((x as f64 * 1.07).ceil() as u64).max(x + 1).min(hi));
        }
        v
    };
    for base in bases {
        for dim in 0..4 {
            let values = match dim {
                0 => ladder(1, 10_000_000),
                1 => ladder(16, 1_048_576),
                2 => ladder(1, 3650),
                _ => ladder(1, 720),
            };
            let mut previous: Option<(Input, CapacityPlan)> = None;
            for x in values {
                let mut i = base;
                match dim {
                    0 => i.events = x,
                    1 => i.bytes = x,
                    2 => i.retention_days = x as u32,
                    _ => i.kafka_hours = x as u32,
                }
                let plan = i.plan();
                if let Some((pi, pp)) = &previous {
                    let shrinks = shrunk(pp, &plan, NOT_INGEST_MONOTONE);
                    assert!(shrinks.is_empty(), "{pi:?} -> {i:?}: {shrinks:?}");
                }
                previous = Some((i, plan));
            }
        }
    }
}

/// Replication 1 to 5 at every order of magnitude of ingest: consecutive plans never shrink.
#[test]
fn replication_sweep_never_shrinks_the_plan() {
    let mut events = 1u64;
    while events <= 10_000_000 {
        for (bytes, latency_ms) in [(64, 100), (1024, 500), (16_384, 5000)] {
            let mut previous: Option<(Input, CapacityPlan)> = None;
            for replication in 1..=5 {
                let i = Input {
                    events,
                    bytes,
                    retention_days: 14,
                    replication,
                    latency_ms,
                    kafka_hours: 72,
                };
                let plan = i.plan();
                if let Some((pi, pp)) = &previous {
                    let shrinks = shrunk(pp, &plan, NOT_INGEST_MONOTONE);
                    assert!(shrinks.is_empty(), "{pi:?} -> {i:?}: {shrinks:?}");
                }
                previous = Some((i, plan));
            }
        }
        events = events * 3 / 2 + 1;
    }
}

/// Whatever the input, the plan's disks hold the retained data and the counts fit the copies.
#[test]
fn plan_invariants_on_hand_picked_inputs() {
    for (events, bytes, days, rf, latency, hours) in [
        (1, 16, 1, 1, 1, 1),
        (1000, 500, 7, 2, 1000, 24),
        (20_000, 1024, 14, 3, 500, 72),
        (250_000, 4096, 30, 5, 60_000, 168),
    ] {
        let plan = with_sizing(events, bytes, days, rf, latency, hours).capacity_plan();
        let k = &plan.kafka;
        let e = &plan.elasticsearch;
        assert!(k.brokers >= k.replication && k.min_insync_replicas <= k.replication);
        assert!(
            e.data_nodes > e.replicas,
            "green needs replicas < data nodes"
        );
        assert!(e.heap_gib * 2 <= e.memory_gib && e.heap_gib <= 31);
        assert!(
            u64::from(e.data_nodes - 1) * u64::from(e.disk_gib_per_node) >= e.total_storage_gib,
            "{events}: storage {} on {} x {}",
            e.total_storage_gib,
            e.data_nodes,
            e.disk_gib_per_node
        );
        assert!(
            k.partitions_per_topic
                .values()
                .all(|n| *n >= plan.logstash.replicas)
        );
        assert_eq!(plan.controlplane_data_pool_min_nodes % 3, 0);
    }
}

/// The plan is derived state: computed once for a platform and shared, recomputed when its
/// inputs change; and it says which term decided each count.
#[test]
fn the_plan_is_computed_once_follows_its_inputs_and_says_what_decided() {
    let mut p = seed();
    let a = p.capacity_plan();
    let b = p.capacity_plan();
    assert!(
        std::sync::Arc::ptr_eq(&a, &b),
        "the same plan, not a second computation"
    );
    p.sizing.peak_events_per_second *= 4;
    let c = p.capacity_plan();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert!(
        c.logstash.replicas > a.logstash.replicas,
        "{} vs {}",
        c.logstash.replicas,
        a.logstash.replicas
    );
    for key in [
        "kafka.brokers",
        "kafka.broker_memory_gib",
        "logstash.replicas",
        "elasticsearch.data_nodes",
        "elasticsearch.memory_gib",
        "data_pool.min_nodes",
    ] {
        assert!(
            a.decided_by.contains_key(key),
            "no reason for {key}: {:?}",
            a.decided_by
        );
        assert!(
            a.to_text().contains(&format!("  {key}: ")),
            "{key} not printed"
        );
    }
    // Each reason names the figure it gives.
    let n = a.data_pool.min_nodes;
    let why = &a.decided_by["data_pool.min_nodes"];
    assert!(
        why.contains(&format!("({n}")) || why.ends_with(&format!("rounded up to {n} for 3 zones")),
        "{why}"
    );
    let brokers = a.kafka.brokers;
    let why = &a.decided_by["kafka.brokers"];
    assert!(
        why.contains(&format!("({brokers}")) || why.contains(&format!("rounded up to {brokers} ")),
        "{why}"
    );
}
