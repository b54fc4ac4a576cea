//! What the platform costs, from pinned list prices (`data/aws-prices.toml`). Today: the EKS
//! control plane per cluster, in standard and in extended support, which `cargo xtask plan`
//! prints so that choosing `support = "extended"` (or forgetting an upgrade) is a known price.

use std::fmt::Write as _;

use crate::aws_data::prices;
use crate::{Platform, SupportType};

/// Hours in the month the cost lines use (365.25 days / 12).
pub const HOURS_PER_MONTH: f64 = 730.5;

/// The EKS support section of `cargo xtask plan`.
pub fn eks_support_text(platform: &Platform) -> String {
    let eks = &prices().eks;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "EKS control plane: ${:.2} per cluster-hour in standard support, ${:.2} in extended support (${:.0} and ${:.0} a month; prices of {}, {})",
        eks.standard_per_cluster_hour,
        eks.extended_per_cluster_hour,
        eks.standard_per_cluster_hour * HOURS_PER_MONTH,
        eks.extended_per_cluster_hour * HOURS_PER_MONTH,
        prices().retrieved,
        eks.source
    );
    for c in &platform.clusters {
        let line = match c.support {
            SupportType::Standard => format!(
                "  {}: Kubernetes {}, support standard: upgraded by EKS when {} leaves standard support, never billed extended support",
                c.name, c.kubernetes_version, c.kubernetes_version
            ),
            SupportType::Extended => format!(
                "  {}: Kubernetes {}, support extended: once {} leaves standard support it stays, at ${:.2} per hour (${:.0} a month more than standard)",
                c.name,
                c.kubernetes_version,
                c.kubernetes_version,
                eks.extended_per_cluster_hour,
                (eks.extended_per_cluster_hour - eks.standard_per_cluster_hour) * HOURS_PER_MONTH
            ),
        };
        let _ = writeln!(s, "{line}");
    }
    s
}
