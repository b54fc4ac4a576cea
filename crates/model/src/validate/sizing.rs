//! `[sizing]`, and the controlplane's data pool against the capacity plan built from it.

use super::{Cx, span};
use crate::raw;
use crate::*;

impl Cx {
    /// The controlplane pool that runs Kafka, Logstash and Elasticsearch must be able to grow to
    /// the nodes the capacity plan needs: Terraform raises the pool's min and desired to the
    /// plan, but never its max, so a max below the plan would leave data pods unschedulable.
    pub(super) fn data_pool_holds_the_plan(&mut self, platform: &Platform, f: &raw::File) {
        let plan = platform.capacity_plan();
        let need = plan.data_pool.min_nodes;
        // Clusters and node pools are built from the raw ones in order: indices match.
        let Some((ci, cp)) = platform
            .clusters
            .iter()
            .enumerate()
            .find(|(_, c)| c.role == Role::Controlplane)
        else {
            return;
        };
        let Some((pi, pool)) = cp
            .node_pools
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == plan.data_pool.pool)
        else {
            return;
        };
        if need <= pool.max {
            return;
        }
        let raw_pool = f.clusters[ci].get_ref().node_pools[pi].get_ref();
        let d = &plan.data_pool;
        self.err_help(
            span(&raw_pool.max),
            format!(
                "controlplane node pool \"{}\" has max = {} but the capacity plan needs {need} nodes",
                pool.name, pool.max
            ),
            format!(
                "Kafka, Logstash and Elasticsearch for [sizing] request {:.1} CPU and {} GiB on nodes of {} vCPU, {} GiB: raise max to at least {need} (the plan's node count, no headroom included: leave some above it) or use larger instance types; docs/capacity.md gives the formulas, and `cargo xtask plan controlplane` shows the whole plan once max holds it",
                d.requested_cpu, d.requested_memory_gib, d.node_cpu, d.node_memory_gib
            ),
        );
    }

    pub(super) fn sizing(&mut self, s: &raw::Sizing) -> Sizing {
        let eps = *s.peak_events_per_second.get_ref();
        if !(1..=10_000_000).contains(&eps) {
            self.err_help(
                span(&s.peak_events_per_second),
                format!("peak_events_per_second must be between 1 and 10000000, found {eps}"),
                "the capacity plan is calibrated for that range",
            );
        }
        let bytes = *s.average_event_bytes.get_ref();
        if !(16..=1_048_576).contains(&bytes) {
            self.err_help(
                span(&s.average_event_bytes),
                format!("average_event_bytes must be between 16 and 1048576, found {bytes}"),
                "Kafka's default message limit is 1 MiB",
            );
        }
        let retention_days = self.positive(&s.retention_days, "retention_days", 3650);
        let replication = self.positive(&s.replication, "replication", 5);
        let query_latency_ms = self.positive(&s.query_latency_ms, "query_latency_ms", 60_000);
        Sizing {
            peak_events_per_second: eps.clamp(0, 10_000_000) as u64,
            average_event_bytes: bytes.clamp(0, 1_048_576) as u64,
            retention_days,
            replication,
            query_latency_ms,
        }
    }
}
