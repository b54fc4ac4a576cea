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

mod plan;
mod rules;
mod shape;
mod text;

pub use rules::*;
pub use shape::{ingest_shares, instance_shape};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::{Cluster, NodePool, Platform};

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
        let fresh = Arc::new(plan::plan(self));
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
