//! The capacity plan: how big Kafka, Logstash and Elasticsearch must be for the data the platform
//! must take, and how many controlplane data nodes they need.
//!
//! The plan is a pure function of the model ([`crate::Platform::capacity_plan`]). Every rule of
//! thumb is a named constant below; docs/capacity.md gives the upstream source of each and the
//! formulas. Renderers take their sizes from the plan, never from their own numbers.
//!
//! Two properties hold by construction and are tested:
//! - a larger ingest (events per second, event size, retention, replication) or a stricter query
//!   latency target never gives a smaller plan: no count and no per-node resource goes down;
//! - counts only go up in whole steps the operators can act on (Kafka partitions can never be
//!   reduced, so a plan that shrank them would be unusable).
//!
//! To keep per-node sizes monotone, a per-node size is computed against the *minimum* node count
//! (a constant of the platform, not of the ingest) and then capped; only once a node is at its
//! cap does the count grow. More nodes for throughput therefore only add headroom.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::{Cluster, NodePool, Platform, TopicKind};

// ---------------------------------------------------------------------------------------------
// Rules of thumb. Sources and reasoning: docs/capacity.md (same names).
// ---------------------------------------------------------------------------------------------

/// Average ingest as a fraction of the peak: the peak does not last a whole retention window, so
/// retained volumes (Kafka disk, Elasticsearch storage) are sized on the average.
pub const DAILY_AVERAGE_TO_PEAK: f64 = 0.5;

/// Bytes per second one Kafka partition is planned to take (producer side).
pub const KAFKA_PARTITION_BYTES_PER_SEC: f64 = 5_000_000.0;
/// Bytes per second one broker is planned to write, replication included.
pub const KAFKA_BROKER_WRITE_BYTES_PER_SEC: f64 = 50_000_000.0;
/// Fewest brokers: replication 3 with `min.insync.replicas` 2 survives one broker down.
pub const KAFKA_MIN_BROKERS: u32 = 3;
/// KRaft controller quorum: 3 tolerates the loss of one.
pub const KAFKA_CONTROLLERS: u32 = 3;
/// Fraction of a broker disk kept free.
pub const KAFKA_DISK_HEADROOM: f64 = 0.25;
/// Smallest broker volume.
pub const KAFKA_MIN_BROKER_DISK_GIB: u32 = 20;
/// Largest broker volume; beyond it brokers are added (recovery time grows with a broker's data).
pub const KAFKA_MAX_BROKER_DISK_GIB: u32 = 4096;
/// Broker JVM heap (Kafka rarely needs more than 6 GB).
pub const KAFKA_BROKER_HEAP_GIB: u32 = 6;
/// Seconds of writes the page cache should hold, on top of the heap.
pub const KAFKA_PAGE_CACHE_SECONDS: f64 = 30.0;
/// Memory outside the heap a broker's JVM uses (direct buffers, metaspace, threads).
pub const KAFKA_OFF_HEAP_GIB: u32 = 1;
/// A broker's memory is at least this many times its heap (Strimzi sizes the heap at half the
/// memory by default: the rest is the page cache Kafka reads from).
pub const KAFKA_MEMORY_PER_HEAP: u32 = 2;
/// Replicated write bytes per second one broker core is planned to handle.
pub const KAFKA_WRITE_BYTES_PER_CORE: f64 = 20_000_000.0;
/// Fewest cores of a broker.
pub const KAFKA_BROKER_MIN_CPU: f64 = 1.0;
/// Resources of a KRaft controller (metadata only).
pub const KAFKA_CONTROLLER_MEMORY_GIB: u32 = 2;
pub const KAFKA_CONTROLLER_CPU: f64 = 0.5;
pub const KAFKA_CONTROLLER_DISK_GIB: u32 = 10;

/// Events per second one Logstash pipeline worker is planned to take (JSON in, no grok).
pub const LOGSTASH_EVENTS_PER_WORKER_PER_SEC: f64 = 2_000.0;
/// Pipeline workers (and cores) of one Logstash replica.
pub const LOGSTASH_WORKERS_PER_REPLICA: u32 = 4;
/// Fewest Logstash replicas (one may restart while the other consumes).
pub const LOGSTASH_MIN_REPLICAS: u32 = 2;
/// Logstash JVM heap (Elastic: 4 to 8 GB for typical ingestion).
pub const LOGSTASH_HEAP_GIB: u32 = 4;
/// Container memory per GiB of Logstash heap (heap at most half of the memory).
pub const LOGSTASH_MEMORY_PER_HEAP: u32 = 2;

/// Disk kept free for the high disk watermark (Elastic's sizing formula: 15%).
pub const ES_DISK_WATERMARK_HEADROOM: f64 = 0.15;
/// Margin of error of the storage estimate (Elastic's sizing formula: 10%).
pub const ES_DISK_MARGIN_OF_ERROR: f64 = 0.10;
/// On-disk size of indexed data relative to the raw events (Elastic's sizing formula: 1).
pub const ES_INDEX_SIZE_FACTOR: f64 = 1.0;
/// Memory:data ratio of hot data nodes at the reference query latency (Elastic: 1:30).
pub const ES_MEMORY_DATA_RATIO: f64 = 30.0;
/// The query latency target at which [`ES_MEMORY_DATA_RATIO`] applies.
pub const ES_REFERENCE_QUERY_LATENCY_MS: f64 = 500.0;
/// Bounds of the memory:data ratio (stricter latency: more memory per GB of data).
pub const ES_MIN_MEMORY_DATA_RATIO: f64 = 15.0;
pub const ES_MAX_MEMORY_DATA_RATIO: f64 = 160.0;
/// Spare data nodes so the cluster keeps its copies while one node is lost.
pub const ES_FAILOVER_DATA_NODES: u32 = 1;
/// Fewest data nodes (a master quorum of 3 while the data nodes are master-eligible).
pub const ES_MIN_DATA_NODES: u32 = 3;
/// Data node memory bounds.
pub const ES_MIN_MEMORY_GIB: u32 = 4;
pub const ES_MAX_MEMORY_GIB: u32 = 64;
/// Heap is at most half the memory and below 32 GB (compressed object pointers).
pub const ES_HEAP_FRACTION: f64 = 0.5;
pub const ES_MAX_HEAP_GIB: u32 = 31;
/// Data node memory per core (memory-optimised instances: 8 GiB per vCPU).
pub const ES_MEMORY_GIB_PER_CPU: f64 = 8.0;
/// From this many data nodes on, 3 dedicated master nodes are planned.
pub const ES_DEDICATED_MASTERS_FROM_DATA_NODES: u32 = 6;
pub const ES_DEDICATED_MASTERS: u32 = 3;
pub const ES_MASTER_MEMORY_GIB: u32 = 4;
pub const ES_MASTER_CPU: f64 = 1.0;
pub const ES_MASTER_DISK_GIB: u32 = 20;
/// Shard size bounds (Elastic: 10 GB to 50 GB per shard).
pub const ES_MIN_SHARD_GB: u32 = 10;
pub const ES_MAX_SHARD_GB: u32 = 50;
/// Query latency per GB of shard size: 500 ms gives 25 GB shards (clamped to the bounds above).
pub const ES_QUERY_LATENCY_MS_PER_SHARD_GB: f64 = 20.0;
/// Events per second one primary shard is planned to index.
pub const ES_EVENTS_PER_PRIMARY_SHARD_PER_SEC: f64 = 5_000.0;

/// Fraction of a node's CPU and memory left to pods (EKS reservations, daemon sets).
pub const NODE_ALLOCATABLE_FRACTION: f64 = 0.85;
/// Extra room for imperfect bin packing of the data pods onto nodes.
pub const PACKING_OVERHEAD: f64 = 1.1;
/// Memory per vCPU of an EC2 family when its first letter is not in the table.
pub const DEFAULT_GIB_PER_VCPU: f64 = 4.0;

/// Weight of an environment for the ingest split, on top of its applications' pod quotas:
/// roughly the platform's own pods in a workload cluster (gateway, Fluent Bit, Prometheus, ...).
pub const PLATFORM_PODS_PER_ENVIRONMENT: u32 = 10;

/// Label (and pool name) marking the controlplane pool that runs Kafka, Logstash, Elasticsearch.
pub const DATA_POOL_LABEL: &str = "flotilla.io/pool";
pub const DATA_POOL_NAME: &str = "data";

const GIB: f64 = (1u64 << 30) as f64;
const GB: f64 = 1e9;

// ---------------------------------------------------------------------------------------------
// The plan.
// ---------------------------------------------------------------------------------------------

/// Sizes of the data platform, derived from `[sizing]`, `[observability]` and the environments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    /// Whole-platform peak ingest the plan is sized for.
    pub peak_events_per_second: u64,
    pub peak_bytes_per_second: u64,
    /// Raw bytes a day, at [`DAILY_AVERAGE_TO_PEAK`] of the peak.
    pub daily_raw_gb: f64,
    /// Per workload environment: its share of the ingest and its topics and indices.
    pub environments: BTreeMap<String, EnvironmentPlan>,
    pub kafka: KafkaPlan,
    pub logstash: LogstashPlan,
    pub elasticsearch: ElasticsearchPlan,
    /// The controlplane node pool the data pods run on and how many nodes they need.
    pub data_pool: DataPoolPlan,
    /// Same as `data_pool.min_nodes`: the minimum of the controlplane data pool.
    pub controlplane_data_pool_min_nodes: u32,
    /// Things the operator must act on (e.g. a pool maximum below what the plan needs).
    pub warnings: Vec<String>,
    /// For each count the plan takes as the largest of several terms (`kafka.brokers`,
    /// `data_pool.min_nodes`, ...): which term decided it, in words with the figures. The
    /// generated Terraform and Kafka objects point here from a comment.
    pub decided_by: BTreeMap<String, String>,
}

/// The largest of the named terms, and a sentence saying which one it is (the first that
/// reaches the maximum), with every term's figure.
fn deciding(terms: &[(&str, u32)]) -> (u32, String) {
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
fn deciding_by_zones(terms: &[(&str, u32)], azs: u32) -> (u32, String) {
    let (n, mut text) = deciding(terms);
    let rounded = round_up(n, azs);
    if rounded != n {
        text.push_str(&format!(", rounded up to {rounded} for {azs} zones"));
    }
    (rounded, text)
}

/// One workload environment's part of the ingest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentPlan {
    /// Fraction of the platform's peak (0..=1); all environments add up to 1.
    pub ingest_share: f64,
    /// Whether the share was written in `platform.toml` (`ingest_percent`) or derived.
    pub share_source: ShareSource,
    pub peak_events_per_second: u64,
    pub peak_bytes_per_second: u64,
    /// The environment's Kafka topics (`<env>.logs`, `<env>.metrics`).
    pub logs_topic: String,
    pub metrics_topic: String,
    /// Partitions of each of the environment's topics.
    pub partitions_per_topic: u32,
    /// Primary shards of each backing index of the environment's data streams.
    pub primary_shards_per_index: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareSource {
    /// `ingest_percent` of the cluster.
    Explicit,
    /// The remainder, split by the environment's pod quotas.
    PodQuotas,
}

/// Strimzi `Kafka` and `KafkaNodePool`s, `KafkaTopic`s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KafkaPlan {
    pub brokers: u32,
    pub controllers: u32,
    /// Topic replication factor.
    pub replication: u32,
    pub min_insync_replicas: u32,
    /// Topic name (`production.logs`) -> partitions.
    pub partitions_per_topic: BTreeMap<String, u32>,
    pub broker_disk_gib: u32,
    pub broker_memory_gib: u32,
    pub broker_heap_gib: u32,
    pub broker_cpu: f64,
    pub controller_memory_gib: u32,
    pub controller_cpu: f64,
    pub controller_disk_gib: u32,
    /// `retention.ms` of every topic, in hours.
    pub retention_hours: u32,
}

/// ECK `Logstash`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogstashPlan {
    pub replicas: u32,
    /// `pipeline.workers` of each replica.
    pub pipeline_workers: u32,
    pub heap_gib: u32,
    pub memory_gib: u32,
    pub cpu: f64,
}

/// ECK `Elasticsearch` node sets, index templates and lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElasticsearchPlan {
    pub data_nodes: u32,
    /// Dedicated master nodes; 0 means the data nodes are master-eligible.
    pub master_nodes: u32,
    /// Data node JVM heap.
    pub heap_gib: u32,
    /// Data node container memory.
    pub memory_gib: u32,
    pub cpu: f64,
    pub disk_gib_per_node: u32,
    pub master_memory_gib: u32,
    pub master_heap_gib: u32,
    pub master_cpu: f64,
    pub master_disk_gib: u32,
    /// Primary shards of each backing index: the largest any environment needs.
    pub primary_shards_per_index: u32,
    /// Replica shards of each primary (`replication - 1`).
    pub replicas: u32,
    /// ILM delete phase `min_age`, in days.
    pub retention_days: u32,
    /// ILM rollover `max_primary_shard_size`, in GB.
    pub rollover_max_primary_shard_size_gb: u32,
    /// Memory:data ratio used (1 GiB of memory per this many GiB of data on disk).
    pub memory_data_ratio: f64,
    /// Disk all copies of the retained data need, headroom included.
    pub total_storage_gib: u64,
}

/// The controlplane node pool the data pods run on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataPoolPlan {
    /// Node pool name in `platform.toml`.
    pub pool: String,
    /// The smallest of the pool's instance types (any of them may be launched).
    pub node_cpu: f64,
    pub node_memory_gib: f64,
    /// Sum of the data pods' requests (Kafka, Logstash, Elasticsearch).
    pub requested_cpu: f64,
    pub requested_memory_gib: u32,
    /// Nodes needed: the pool's own minimum raised to fit the requests, one pod of a kind per
    /// node, rounded up to a multiple of the controlplane's availability zones.
    pub min_nodes: u32,
}

impl Platform {
    /// The capacity plan of the platform (pure; see [`crate::capacity`]): derived state,
    /// computed once for the inputs it reads and shared by every renderer, the quota plan and
    /// `cargo xtask plan`, so they cannot disagree. A platform whose sizing, Kafka retention or
    /// clusters change (tests do that) gets a fresh plan.
    pub fn capacity_plan(&self) -> Arc<CapacityPlan> {
        let key = format!(
            "{:?}|{}|{:?}",
            self.sizing, self.observability.kafka_retention_hours, self.clusters
        );
        let mut cache = self.plan_cache.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, plan)) = cache.as_ref()
            && *k == key
        {
            return plan.clone();
        }
        let fresh = Arc::new(plan(self));
        *cache = Some((key, fresh.clone()));
        fresh
    }
}

/// Where a platform keeps its capacity plan once computed (see [`Platform::capacity_plan`]).
#[derive(Default)]
pub struct PlanCache(Mutex<Option<(String, Arc<CapacityPlan>)>>);

impl Clone for PlanCache {
    /// A clone computes its own plan (it may be changed before it is asked).
    fn clone(&self) -> PlanCache {
        PlanCache::default()
    }
}

impl fmt::Debug for PlanCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlanCache")
    }
}

/// The sizes a node pool's node group is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NodeGroupSizes {
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

/// One EKS managed node group of a cluster: a node pool, or one zone's part of it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeGroup<'a> {
    /// The node group's key and name: the pool's, or `<pool>-<n>` for its part in the n-th zone.
    pub name: String,
    pub pool: &'a NodePool,
    /// For a zonal group, the index of its zone among the cluster's zones (in name order).
    pub zone: Option<u8>,
    pub sizes: NodeGroupSizes,
}

impl Platform {
    /// The node groups of a cluster, the one sizing rule for all of them: a pool's own sizes,
    /// except the controlplane's data pool, which takes the capacity plan's nodes and is split
    /// into one group per zone. Its pods (Kafka brokers, Elasticsearch data nodes) are bound to
    /// zonal EBS volumes, and the cluster autoscaler can add a node in a given zone only to a
    /// group of that zone (`balance-similar-node-groups` keeps them even).
    pub fn node_groups<'a>(&self, cluster: &'a Cluster) -> Vec<NodeGroup<'a>> {
        // Only the controlplane's pools depend on the plan; computing it for every cluster made
        // rendering quadratic in the number of clusters (docs/performance.md).
        let plan = (cluster.role == crate::Role::Controlplane).then(|| self.capacity_plan());
        let mut out = Vec::new();
        for pool in &cluster.node_pools {
            let Some(plan) = plan.as_ref().filter(|p| p.data_pool.pool == pool.name) else {
                out.push(NodeGroup {
                    name: pool.name.clone(),
                    pool,
                    zone: None,
                    sizes: NodeGroupSizes {
                        min: pool.min,
                        desired: pool.desired,
                        max: pool.max,
                    },
                });
                continue;
            };
            let total = plan.node_group_sizes(cluster, pool);
            let zones = u32::from(cluster.availability_zones.max(1));
            for z in 0..cluster.availability_zones.max(1) {
                out.push(NodeGroup {
                    name: format!("{}-{}", pool.name, z + 1),
                    pool,
                    zone: Some(z),
                    sizes: NodeGroupSizes {
                        min: total.min.div_ceil(zones),
                        desired: total.desired.div_ceil(zones),
                        max: total.max.div_ceil(zones),
                    },
                });
            }
        }
        out
    }
}

impl CapacityPlan {
    /// The node group sizes of a pool: the pool's own, except that the controlplane's data pool
    /// gets its min and desired raised to [`DataPoolPlan::min_nodes`] (never lowered). `max` is
    /// always the pool's: validation rejects a data pool whose max cannot hold the plan.
    pub fn node_group_sizes(&self, cluster: &Cluster, pool: &NodePool) -> NodeGroupSizes {
        let is_data_pool =
            cluster.role == crate::Role::Controlplane && pool.name == self.data_pool.pool;
        let need = if is_data_pool {
            self.data_pool.min_nodes
        } else {
            0
        };
        NodeGroupSizes {
            min: pool.min.max(need),
            desired: pool.desired.max(need),
            max: pool.max,
        }
    }
}

fn ceil_u32(x: f64) -> u32 {
    // `as` saturates: NaN -> 0, huge -> u32::MAX.
    x.ceil() as u32
}

/// Rounds up to a multiple of `step` (`step` >= 1).
fn round_up(n: u32, step: u32) -> u32 {
    let step = step.max(1);
    n.div_ceil(step).saturating_mul(step)
}

/// Rounds a core count up to half cores.
fn half_cores(x: f64) -> f64 {
    (x * 2.0).ceil() / 2.0
}

/// vCPUs and GiB of memory of an EC2 instance type, from the naming convention:
/// `<family>.<size>`, `large` = 2 vCPU, `xlarge` = 4, `Nxlarge` = 4N; memory per vCPU by the
/// family's first letter. `None` for sizes the convention does not give (`metal`).
pub fn instance_shape(instance_type: &str) -> Option<(f64, f64)> {
    let (family, size) = instance_type.split_once('.')?;
    let vcpu = match size {
        "nano" | "micro" | "small" | "medium" => 1.0,
        "large" => 2.0,
        "xlarge" => 4.0,
        s => {
            let n: f64 = s.strip_suffix("xlarge")?.parse().ok()?;
            4.0 * n
        }
    };
    let gib_per_vcpu = match family.chars().next()? {
        'c' => 2.0,
        'm' | 't' | 'a' => 4.0,
        'r' | 'z' | 'i' | 'd' => 8.0,
        'x' => 16.0,
        _ => DEFAULT_GIB_PER_VCPU,
    };
    Some((vcpu, vcpu * gib_per_vcpu))
}

/// The smallest shape among a pool's instance types (CPU and memory taken separately).
fn pool_shape(pool: &NodePool) -> Option<(f64, f64)> {
    let shapes: Vec<(f64, f64)> = pool
        .instance_types
        .iter()
        .filter_map(|t| instance_shape(t))
        .collect();
    if shapes.is_empty() {
        return None;
    }
    let cpu = shapes.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let mem = shapes.iter().map(|s| s.1).fold(f64::INFINITY, f64::min);
    Some((cpu, mem))
}

/// The controlplane pool that runs the data pods: the one named or labelled `data`, else the
/// one with the most memory per node.
fn data_pool(controlplane: &Cluster) -> Option<&NodePool> {
    controlplane
        .node_pools
        .iter()
        .find(|p| {
            p.name == DATA_POOL_NAME
                || p.labels.get(DATA_POOL_LABEL).map(String::as_str) == Some(DATA_POOL_NAME)
        })
        .or_else(|| {
            controlplane.node_pools.iter().max_by(|a, b| {
                let ma = pool_shape(a).map_or(0.0, |s| s.1);
                let mb = pool_shape(b).map_or(0.0, |s| s.1);
                ma.total_cmp(&mb)
            })
        })
}

/// Each workload environment's share of the peak: `ingest_percent` where written, the remainder
/// split in proportion to the environment's pod quotas plus [`PLATFORM_PODS_PER_ENVIRONMENT`].
pub fn ingest_shares(platform: &Platform) -> BTreeMap<String, (f64, ShareSource)> {
    let workloads: Vec<&Cluster> = platform.workload_clusters().collect();
    let explicit: u32 = workloads.iter().filter_map(|c| c.ingest_percent).sum();
    let remainder = (100u32.saturating_sub(explicit)) as f64 / 100.0;
    let weight = |c: &Cluster| -> f64 {
        let pods: u32 = platform
            .applications_in(&c.environment)
            .map(|(_, q)| q.pods)
            .sum();
        f64::from(pods + PLATFORM_PODS_PER_ENVIRONMENT)
    };
    let implicit_total: f64 = workloads
        .iter()
        .filter(|c| c.ingest_percent.is_none())
        .map(|c| weight(c))
        .sum();
    workloads
        .iter()
        .map(|c| {
            let share = match c.ingest_percent {
                Some(p) => (f64::from(p) / 100.0, ShareSource::Explicit),
                None => (
                    remainder * weight(c) / implicit_total,
                    ShareSource::PodQuotas,
                ),
            };
            (c.environment.clone(), share)
        })
        .collect()
}

fn plan(p: &Platform) -> CapacityPlan {
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

fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl CapacityPlan {
    /// The plan as `cargo xtask plan` prints it.
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CapacityPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = &self.kafka;
        let l = &self.logstash;
        let e = &self.elasticsearch;
        let d = &self.data_pool;
        writeln!(
            f,
            "Ingest: peak {} events/s, {:.1} MB/s; about {} GB of raw events a day",
            self.peak_events_per_second,
            self.peak_bytes_per_second as f64 / 1e6,
            self.daily_raw_gb
        )?;
        writeln!(f, "Environments:")?;
        for (name, env) in &self.environments {
            let source = match env.share_source {
                ShareSource::Explicit => "ingest_percent",
                ShareSource::PodQuotas => "by pod quotas",
            };
            writeln!(
                f,
                "  {name}: {:.1}% ({source}), {} events/s; topics {} and {}: {} partitions each; {} per index",
                env.ingest_share * 100.0,
                env.peak_events_per_second,
                env.logs_topic,
                env.metrics_topic,
                env.partitions_per_topic,
                count(
                    env.primary_shards_per_index,
                    "primary shard",
                    "primary shards"
                )
            )?;
        }
        writeln!(f, "Kafka (Strimzi, KRaft):")?;
        writeln!(
            f,
            "  {} brokers: {} CPU, {} GiB memory ({} GiB heap), {} GiB disk each",
            k.brokers, k.broker_cpu, k.broker_memory_gib, k.broker_heap_gib, k.broker_disk_gib
        )?;
        writeln!(
            f,
            "  {} controllers: {} CPU, {} GiB memory, {} GiB disk each",
            k.controllers, k.controller_cpu, k.controller_memory_gib, k.controller_disk_gib
        )?;
        writeln!(
            f,
            "  replication {}, min.insync.replicas {}, retention {} h",
            k.replication, k.min_insync_replicas, k.retention_hours
        )?;
        writeln!(f, "Logstash (ECK):")?;
        writeln!(
            f,
            "  {} replicas: {} pipeline workers, {} CPU, {} GiB memory ({} GiB heap) each",
            l.replicas, l.pipeline_workers, l.cpu, l.memory_gib, l.heap_gib
        )?;
        writeln!(f, "Elasticsearch (ECK):")?;
        writeln!(
            f,
            "  {} data nodes: {} CPU, {} GiB memory ({} GiB heap), {} GiB disk each (memory:data 1:{})",
            e.data_nodes, e.cpu, e.memory_gib, e.heap_gib, e.disk_gib_per_node, e.memory_data_ratio
        )?;
        if e.master_nodes > 0 {
            writeln!(
                f,
                "  {} dedicated masters: {} CPU, {} GiB memory ({} GiB heap), {} GiB disk each",
                e.master_nodes,
                e.master_cpu,
                e.master_memory_gib,
                e.master_heap_gib,
                e.master_disk_gib
            )?;
        } else {
            writeln!(
                f,
                "  no dedicated masters: the data nodes are master-eligible"
            )?;
        }
        writeln!(
            f,
            "  {} primary shards + {} replicas per index, rollover at {} GB per primary shard, delete after {} days; {} GiB of storage in all",
            e.primary_shards_per_index,
            e.replicas,
            e.rollover_max_primary_shard_size_gb,
            e.retention_days,
            e.total_storage_gib
        )?;
        writeln!(f, "Controlplane data pool \"{}\":", d.pool)?;
        writeln!(
            f,
            "  nodes of {} vCPU, {} GiB; the data pods request {:.1} CPU and {} GiB: at least {} nodes",
            d.node_cpu, d.node_memory_gib, d.requested_cpu, d.requested_memory_gib, d.min_nodes
        )?;
        writeln!(f, "Decided by (the largest term wins):")?;
        for (what, why) in &self.decided_by {
            writeln!(f, "  {what}: {why}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
