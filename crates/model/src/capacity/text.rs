//! The plan as `cargo xtask plan` prints it.

use std::fmt;

use super::*;

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
