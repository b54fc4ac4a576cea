//! What the plan reads from the model: instance shapes, the data pool, the ingest shares; and
//! the rounding helpers.

use std::collections::BTreeMap;

use super::ShareSource;
use super::rules::*;
use crate::{Cluster, NodePool, Platform};

pub(super) fn ceil_u32(x: f64) -> u32 {
    // `as` saturates: NaN -> 0, huge -> u32::MAX.
    x.ceil() as u32
}

/// Rounds up to a multiple of `step` (`step` >= 1).
pub(super) fn round_up(n: u32, step: u32) -> u32 {
    let step = step.max(1);
    n.div_ceil(step).saturating_mul(step)
}

/// Rounds a core count up to half cores.
pub(super) fn half_cores(x: f64) -> f64 {
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
pub(super) fn pool_shape(pool: &NodePool) -> Option<(f64, f64)> {
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
pub(super) fn data_pool(controlplane: &Cluster) -> Option<&NodePool> {
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
