//! The rules of thumb of the capacity plan, named as docs/capacity.md names them (which gives
//! the upstream source of each).

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

pub(super) const GIB: f64 = (1u64 << 30) as f64;
pub(super) const GB: f64 = 1e9;
