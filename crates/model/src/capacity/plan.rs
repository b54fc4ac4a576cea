//! The computation: every count as the largest of its terms, recording which one decided.

use std::collections::BTreeMap;

use super::rules::*;
use super::shape::*;
use super::*;
use crate::{Platform, TopicKind};

/// The largest of the named terms, and a sentence saying which one it is (the first that
/// reaches the maximum), with every term's figure.
pub(super) fn deciding(terms: &[(&str, u32)]) -> (u32, String) {
    let max = terms.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let winner = terms
        .iter()
        .find(|(_, v)| *v == max)
        .map_or("", |(name, _)| *name);
    let others: Vec<String> = terms
        .iter()
        .filter(|(name, _)| *name != winner)
        .map(|(name, v)| format!("{name} {v}"))
        .collect();
    let text = if others.is_empty() {
        format!("{winner} ({max})")
    } else {
        format!("{winner} ({max}; {})", others.join(", "))
    };
    (max, text)
}

/// `deciding`, then rounded up to a multiple of the zones, said when it changes the count.
pub(super) fn deciding_by_zones(terms: &[(&str, u32)], azs: u32) -> (u32, String) {
    let (n, mut text) = deciding(terms);
    let rounded = round_up(n, azs);
    if rounded != n {
        text.push_str(&format!(", rounded up to {rounded} for {azs} zones"));
    }
    (rounded, text)
}

pub(super) fn plan(p: &Platform) -> CapacityPlan {
    let s = &p.sizing;
    let mut warnings = Vec::new();
    let controlplane = p.controlplane();
    let azs = u32::from(controlplane.availability_zones).max(1);

    let eps = s.peak_events_per_second as f64;
    let event_bytes = s.average_event_bytes as f64;
    let bytes_per_sec = eps * event_bytes;
    let rf = s.replication.max(1);

    // The data pool bounds per-node sizes (a pod must fit on a node).
    let pool = data_pool(controlplane);
    let (node_cpu, node_mem) = pool
        .and_then(pool_shape)
        .unwrap_or((2.0, 2.0 * DEFAULT_GIB_PER_VCPU));
    let node_alloc_mem = node_mem * NODE_ALLOCATABLE_FRACTION;

    // ---- Logstash: workers for the peak.
    let mut decided_by = BTreeMap::new();
    let (logstash_replicas, why) = deciding(&[
        (
            "the peak ingest over the workers of a replica",
            ceil_u32(
                eps / (LOGSTASH_EVENTS_PER_WORKER_PER_SEC
                    * f64::from(LOGSTASH_WORKERS_PER_REPLICA)),
            ),
        ),
        ("the minimum for availability", LOGSTASH_MIN_REPLICAS),
    ]);
    decided_by.insert("logstash.replicas".to_string(), why);
    let logstash = LogstashPlan {
        replicas: logstash_replicas,
        pipeline_workers: LOGSTASH_WORKERS_PER_REPLICA,
        heap_gib: LOGSTASH_HEAP_GIB,
        memory_gib: LOGSTASH_HEAP_GIB * LOGSTASH_MEMORY_PER_HEAP,
        cpu: f64::from(LOGSTASH_WORKERS_PER_REPLICA),
    };

    // ---- Kafka.
    let replicated_write = bytes_per_sec * f64::from(rf);
    let floor_brokers = KAFKA_MIN_BROKERS.max(rf);
    let retained_gib = replicated_write
        * DAILY_AVERAGE_TO_PEAK
        * f64::from(p.observability.kafka_retention_hours)
        * 3600.0
        / (1.0 - KAFKA_DISK_HEADROOM)
        / GIB;
    let broker_disk_gib = ceil_u32(retained_gib / f64::from(floor_brokers))
        .clamp(KAFKA_MIN_BROKER_DISK_GIB, KAFKA_MAX_BROKER_DISK_GIB);
    let (brokers, why) = deciding_by_zones(
        &[
            (
                "write throughput (replicated writes over what a broker takes)",
                ceil_u32(replicated_write / KAFKA_BROKER_WRITE_BYTES_PER_SEC),
            ),
            (
                "retention (retained data over the broker disk)",
                ceil_u32(retained_gib / f64::from(broker_disk_gib)),
            ),
            ("the minimum (and the replication factor)", floor_brokers),
        ],
        azs,
    );
    decided_by.insert("kafka.brokers".to_string(), why);
    // Per-broker write at the floor count, capped at what a broker is planned to take.
    let broker_write =
        (replicated_write / f64::from(floor_brokers)).min(KAFKA_BROKER_WRITE_BYTES_PER_SEC);
    let (broker_memory_gib, why) = deciding(&[
        (
            "heap, off-heap and page cache for the writes",
            KAFKA_BROKER_HEAP_GIB
                + KAFKA_OFF_HEAP_GIB
                + ceil_u32(broker_write * KAFKA_PAGE_CACHE_SECONDS / GIB),
        ),
        (
            "twice the heap",
            KAFKA_MEMORY_PER_HEAP * KAFKA_BROKER_HEAP_GIB,
        ),
    ]);
    decided_by.insert("kafka.broker_memory_gib".to_string(), why);
    let broker_cpu =
        half_cores((broker_write / KAFKA_WRITE_BYTES_PER_CORE).max(KAFKA_BROKER_MIN_CPU));

    // ---- Elasticsearch.
    let latency = f64::from(s.query_latency_ms);
    let memory_data_ratio = (ES_MEMORY_DATA_RATIO * latency / ES_REFERENCE_QUERY_LATENCY_MS)
        .clamp(ES_MIN_MEMORY_DATA_RATIO, ES_MAX_MEMORY_DATA_RATIO);
    let shard_gb = ceil_u32(latency / ES_QUERY_LATENCY_MS_PER_SHARD_GB)
        .clamp(ES_MIN_SHARD_GB, ES_MAX_SHARD_GB);
    let daily_raw_bytes = bytes_per_sec * DAILY_AVERAGE_TO_PEAK * 86_400.0;
    let total_data_bytes =
        daily_raw_bytes * f64::from(s.retention_days) * f64::from(rf) * ES_INDEX_SIZE_FACTOR;
    let total_storage_gib =
        total_data_bytes * (1.0 + ES_DISK_WATERMARK_HEADROOM + ES_DISK_MARGIN_OF_ERROR) / GIB;
    let floor_data_nodes = ES_MIN_DATA_NODES.max(rf);
    // Memory cap: what the data pool's smallest node can give one pod (even GiB), within bounds.
    let mem_cap = ((node_alloc_mem / 2.0).floor() * 2.0)
        .clamp(f64::from(ES_MIN_MEMORY_GIB), f64::from(ES_MAX_MEMORY_GIB)) as u32;
    // Memory (and so disk) per node is sized so that the minimum cluster, less the failover
    // spare, holds the data; only nodes at the memory cap make the count grow. Copies beyond
    // the minimum cluster's node count add nodes, not bigger nodes (so the per-node size never
    // shrinks when replication grows).
    let holding_nodes = ES_MIN_DATA_NODES
        .saturating_sub(ES_FAILOVER_DATA_NODES)
        .max(1);
    let sizing_storage_gib =
        total_storage_gib / f64::from(rf) * f64::from(rf.min(ES_MIN_DATA_NODES));
    let mem_needed_per_floor_node =
        sizing_storage_gib / memory_data_ratio / f64::from(holding_nodes);
    let es_memory_gib = round_up(ceil_u32(mem_needed_per_floor_node), 2)
        .clamp(ES_MIN_MEMORY_GIB, mem_cap.max(ES_MIN_MEMORY_GIB));
    let es_heap_gib =
        ((f64::from(es_memory_gib) * ES_HEAP_FRACTION).floor() as u32).min(ES_MAX_HEAP_GIB);
    // At least one core; at most what a data pool node can give one pod.
    let cpu_cap = ((node_cpu * NODE_ALLOCATABLE_FRACTION * 2.0).floor() / 2.0).max(1.0);
    let es_cpu = half_cores(f64::from(es_memory_gib) / ES_MEMORY_GIB_PER_CPU).clamp(1.0, cpu_cap);
    let disk_gib_per_node = ceil_u32(f64::from(es_memory_gib) * memory_data_ratio);
    let (data_nodes, why) = deciding_by_zones(
        &[
            (
                "storage (the data over the disk of a node, plus the failover spare)",
                ceil_u32(total_storage_gib / f64::from(disk_gib_per_node))
                    .saturating_add(ES_FAILOVER_DATA_NODES),
            ),
            ("the minimum (and the replication factor)", floor_data_nodes),
        ],
        azs,
    );
    decided_by.insert("elasticsearch.data_nodes".to_string(), why);
    decided_by.insert(
        "elasticsearch.memory_gib".to_string(),
        if es_memory_gib >= mem_cap && ceil_u32(mem_needed_per_floor_node) > mem_cap {
            format!(
                "the most a node of the data pool gives one pod ({mem_cap} GiB): at 1:{memory_data_ratio:.0} the data would want {} GiB on each node of the minimum cluster, so nodes are added instead",
                ceil_u32(mem_needed_per_floor_node)
            )
        } else {
            format!("the data at a memory to data ratio of 1:{memory_data_ratio:.0} ({es_memory_gib} GiB)")
        },
    );
    let master_nodes = if data_nodes >= ES_DEDICATED_MASTERS_FROM_DATA_NODES {
        ES_DEDICATED_MASTERS
    } else {
        0
    };

    // ---- Per environment: topics and indices.
    let shares = ingest_shares(p);
    let mut environments = BTreeMap::new();
    let mut partitions_per_topic = BTreeMap::new();
    let mut max_primaries = 1;
    for (env, (share, source)) in &shares {
        let env_eps = eps * share;
        let env_bytes = env_eps * event_bytes;
        // The sizing input does not split logs from metrics: each topic can take the whole
        // environment's peak.
        let (partitions, why) = deciding(&[
            (
                "the environment's peak over what a partition takes",
                ceil_u32(env_bytes / KAFKA_PARTITION_BYTES_PER_SEC),
            ),
            ("one per broker", brokers),
            ("one per Logstash replica", logstash_replicas),
        ]);
        decided_by.insert(format!("environments.{env}.partitions_per_topic"), why);
        let primaries =
            ceil_u32(env_eps / ES_EVENTS_PER_PRIMARY_SHARD_PER_SEC).clamp(1, data_nodes);
        max_primaries = max_primaries.max(primaries);
        let logs_topic = p.kafka_topic(env, TopicKind::Logs);
        let metrics_topic = p.kafka_topic(env, TopicKind::Metrics);
        partitions_per_topic.insert(logs_topic.clone(), partitions);
        partitions_per_topic.insert(metrics_topic.clone(), partitions);
        environments.insert(
            env.clone(),
            EnvironmentPlan {
                ingest_share: *share,
                share_source: *source,
                peak_events_per_second: env_eps.ceil() as u64,
                peak_bytes_per_second: env_bytes.ceil() as u64,
                logs_topic,
                metrics_topic,
                partitions_per_topic: partitions,
                primary_shards_per_index: primaries,
            },
        );
    }

    let kafka = KafkaPlan {
        brokers,
        controllers: KAFKA_CONTROLLERS,
        replication: rf,
        min_insync_replicas: rf.saturating_sub(1).max(1),
        partitions_per_topic,
        broker_disk_gib,
        broker_memory_gib,
        broker_heap_gib: KAFKA_BROKER_HEAP_GIB,
        broker_cpu,
        controller_memory_gib: KAFKA_CONTROLLER_MEMORY_GIB,
        controller_cpu: KAFKA_CONTROLLER_CPU,
        controller_disk_gib: KAFKA_CONTROLLER_DISK_GIB,
        retention_hours: p.observability.kafka_retention_hours,
    };
    let elasticsearch = ElasticsearchPlan {
        data_nodes,
        master_nodes,
        heap_gib: es_heap_gib,
        memory_gib: es_memory_gib,
        cpu: es_cpu,
        disk_gib_per_node,
        master_memory_gib: ES_MASTER_MEMORY_GIB,
        master_heap_gib: ES_MASTER_MEMORY_GIB / 2,
        master_cpu: ES_MASTER_CPU,
        master_disk_gib: ES_MASTER_DISK_GIB,
        primary_shards_per_index: max_primaries,
        replicas: rf - 1,
        retention_days: s.retention_days,
        rollover_max_primary_shard_size_gb: shard_gb,
        memory_data_ratio,
        total_storage_gib: total_storage_gib.ceil() as u64,
    };

    // ---- The controlplane data pool.
    let requested_cpu = f64::from(kafka.brokers) * kafka.broker_cpu
        + f64::from(kafka.controllers) * kafka.controller_cpu
        + f64::from(logstash.replicas) * logstash.cpu
        + f64::from(elasticsearch.data_nodes) * elasticsearch.cpu
        + f64::from(elasticsearch.master_nodes) * elasticsearch.master_cpu;
    let requested_memory_gib = [
        (kafka.brokers, kafka.broker_memory_gib),
        (kafka.controllers, kafka.controller_memory_gib),
        (logstash.replicas, logstash.memory_gib),
        (elasticsearch.data_nodes, elasticsearch.memory_gib),
        (elasticsearch.master_nodes, elasticsearch.master_memory_gib),
    ]
    .iter()
    .fold(0u32, |sum, (n, gib)| {
        sum.saturating_add(n.saturating_mul(*gib))
    });
    let by_cpu =
        ceil_u32(requested_cpu * PACKING_OVERHEAD / (node_cpu * NODE_ALLOCATABLE_FRACTION));
    let by_mem = ceil_u32(
        f64::from(requested_memory_gib) * PACKING_OVERHEAD / (node_mem * NODE_ALLOCATABLE_FRACTION),
    );
    let pool_min = pool.map_or(0, |p| p.min);
    let (min_nodes, why) = deciding_by_zones(
        &[
            (
                "one Elasticsearch data node a node",
                elasticsearch.data_nodes,
            ),
            ("one Kafka broker a node", kafka.brokers),
            ("the memory requests", by_mem),
            ("the CPU requests", by_cpu),
            ("the pool's own min", pool_min),
        ],
        azs,
    );
    decided_by.insert("data_pool.min_nodes".to_string(), why);
    let pool_name = pool.map_or_else(String::new, |p| p.name.clone());
    match pool {
        Some(pool) if min_nodes > pool.max => warnings.push(format!(
            "controlplane node pool \"{}\" needs {min_nodes} nodes for the capacity plan but its max is {}: raise `max` or use larger instance types",
            pool.name, pool.max
        )),
        Some(_) => {}
        None => warnings.push("the controlplane has no node pool for the data pods".into()),
    }
    if pool.is_some_and(|p| pool_shape(p).is_none()) {
        warnings.push(format!(
            "the instance types of controlplane node pool \"{pool_name}\" have no size in their name; assumed 2 vCPU and {} GiB",
            2.0 * DEFAULT_GIB_PER_VCPU
        ));
    }
    if f64::from(es_memory_gib) > node_alloc_mem {
        warnings.push(format!(
            "an Elasticsearch data node needs {es_memory_gib} GiB but a node of pool \"{pool_name}\" has about {node_alloc_mem:.0} GiB allocatable: use larger instance types"
        ));
    }

    CapacityPlan {
        peak_events_per_second: s.peak_events_per_second,
        peak_bytes_per_second: bytes_per_sec.ceil() as u64,
        daily_raw_gb: (daily_raw_bytes / GB * 10.0).round() / 10.0,
        environments,
        kafka,
        logstash,
        elasticsearch,
        data_pool: DataPoolPlan {
            pool: pool_name,
            node_cpu,
            node_memory_gib: node_mem,
            requested_cpu,
            requested_memory_gib,
            min_nodes,
        },
        controlplane_data_pool_min_nodes: min_nodes,
        warnings,
        decided_by,
    }
}
