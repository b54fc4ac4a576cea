//! The managed node groups of a cluster, one per node pool (or per zone of a zonal pool).

use flotilla_model::Capacity;
use flotilla_model::capacity::NodeGroup;

use super::Cx;
use crate::hcl::Expr;

impl Cx<'_> {
    /// One managed node group per node pool; the controlplane's data pool is sized by the
    /// capacity plan (min and desired raised to what Kafka, Logstash and Elasticsearch need).
    pub(super) fn node_groups(&self) -> Expr {
        Expr::Object(
            self.platform
                .node_groups(self.cluster)
                .iter()
                .map(|g| (g.name.clone(), node_group(&self.eks_name(), g)))
                .collect(),
        )
    }
}

impl Cx<'_> {
    /// Comment lines saying where the data pool's sizes come from (the capacity plan, and the
    /// term that decided them), so a reader of the module finds the reason in one hop. None on
    /// clusters whose node groups are the pools' own sizes.
    pub(super) fn node_group_provenance(&self) -> Vec<String> {
        let groups = self.platform.node_groups(self.cluster);
        let zonal: Vec<&NodeGroup<'_>> = groups.iter().filter(|g| g.zone.is_some()).collect();
        let Some(first) = zonal.first() else {
            return vec![];
        };
        let plan = self.platform.capacity_plan();
        let why = plan
            .decided_by
            .get("data_pool.min_nodes")
            .cloned()
            .unwrap_or_default();
        vec![
            format!(
                "min_size and desired_size of the {} groups {}-1 to {}-{}: the capacity plan's data_pool.min_nodes = {},",
                first.pool.name,
                first.pool.name,
                first.pool.name,
                zonal.len(),
                plan.data_pool.min_nodes
            ),
            format!("split over the zones. Decided by: {why}."),
            format!(
                "`cargo xtask plan {}` prints the plan and its terms (docs/capacity.md).",
                self.cluster.environment
            ),
        ]
    }
}

/// IAM takes a role `name_prefix` of at most 38 characters, and the module adds `-`.
const MAX_NODE_ROLE_PREFIX: usize = 37;

/// The prefix of a node group's IAM role: `<eks name>-<pool>`, the EKS name shortened to fit
/// [`MAX_NODE_ROLE_PREFIX`] (the pool name, at most 20 characters, is kept whole). The module
/// appends a random suffix, so a shortened prefix is still unique; it names the cluster so
/// that the account's roles can be told apart in the console and in CloudTrail.
pub fn node_role_prefix(eks_name: &str, pool: &str) -> String {
    let room = MAX_NODE_ROLE_PREFIX.saturating_sub(pool.len() + 1);
    let cluster: String = eks_name.chars().take(room).collect();
    format!("{}-{pool}", cluster.trim_end_matches('-'))
}

fn node_group(eks_name: &str, group: &NodeGroup<'_>) -> Expr {
    let pool = group.pool;
    let sizes = group.sizes;
    let arm = pool.is_arm64();
    let mut entries: Vec<(&str, Expr)> = vec![
        ("name", Expr::str(&group.name)),
        (
            "iam_role_name",
            Expr::str(node_role_prefix(eks_name, &group.name)),
        ),
        (
            "launch_template_name",
            Expr::str(format!("{eks_name}-{}", group.name)),
        ),
        (
            "ami_type",
            Expr::str(if arm {
                "AL2023_ARM_64_STANDARD"
            } else {
                "AL2023_x86_64_STANDARD"
            }),
        ),
        ("instance_types", Expr::strs(pool.instance_types.iter())),
        (
            "capacity_type",
            Expr::str(match pool.capacity {
                Capacity::OnDemand => "ON_DEMAND",
                Capacity::Spot => "SPOT",
            }),
        ),
        ("min_size", sizes.min.into()),
        ("desired_size", sizes.desired.into()),
        ("max_size", sizes.max.into()),
    ];
    if let Some(z) = group.zone {
        // One zone's part of the pool: its private subnet only.
        entries.push((
            "subnet_ids",
            Expr::List(vec![Expr::raw(format!("module.vpc.private_subnets[{z}]"))]),
        ));
    }
    if !pool.labels.is_empty() {
        entries.push((
            "labels",
            Expr::string_map(pool.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        ));
    }
    if !pool.taints.is_empty() {
        let taints = pool
            .taints
            .iter()
            .map(|t| {
                let mut fields = vec![("key", Expr::str(&t.key))];
                if let Some(v) = &t.value {
                    fields.push(("value", Expr::str(v)));
                }
                fields.push(("effect", Expr::str(t.effect.eks_name())));
                (
                    format!("{}:{}", t.key, t.effect.as_str()),
                    Expr::object(fields),
                )
            })
            .collect();
        entries.push(("taints", Expr::Object(taints)));
    }
    entries.push((
        "block_device_mappings",
        Expr::object([(
            "root",
            Expr::object([
                ("device_name", Expr::str("/dev/xvda")),
                (
                    "ebs",
                    Expr::object([
                        ("volume_size", pool.disk_gib.into()),
                        ("volume_type", Expr::str("gp3")),
                        ("encrypted", Expr::Bool(true)),
                        ("delete_on_termination", Expr::Bool(true)),
                    ]),
                ),
            ]),
        )]),
    ));
    entries.push((
        "update_config",
        Expr::object([("max_unavailable_percentage", Expr::Num(33))]),
    ));
    Expr::object(entries)
}

#[cfg(test)]
mod tests {
    #[test]
    fn graviton_families_are_arm() {
        for t in [
            "m7g.large",
            "c7gn.xlarge",
            "a1.medium",
            "x2gd.large",
            "im4gn.large",
            "t4g.small",
        ] {
            assert!(flotilla_model::is_arm64_instance_type(t), "{t}");
        }
        for t in [
            "m6i.large",
            "m6a.xlarge",
            "g5.xlarge",
            "t3.large",
            "inf2.xlarge",
            "m7i-flex.large",
        ] {
            assert!(!flotilla_model::is_arm64_instance_type(t), "{t}");
        }
    }
}
