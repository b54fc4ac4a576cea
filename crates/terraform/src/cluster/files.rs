//! The small files of a root module: backend, providers, variables, outputs and moved blocks.

use flotilla_model::{Cluster, Platform};

use super::{CONTROLPLANE_ALIAS, Cx, Reach, kafka_rule_address, node_group_address};
use crate::common;
use crate::hcl::{Block, Body, Expr};

/// The S3 object key of a cluster's state.
pub fn state_key(cluster: &Cluster) -> String {
    state_key_of(&cluster.name)
}

pub(super) fn state_key_of(cluster_name: &str) -> String {
    format!("{cluster_name}/terraform.tfstate")
}

pub(super) fn backend_tf(platform: &Platform, cluster: &Cluster) -> Body {
    // A moved block cannot cross states: the operator copies the old key (docs/terraform.md).
    let note = match &cluster.renamed_from {
        Some(old) => Body::new()
            .comment(&format!(
                "Renamed from cluster \"{old}\". Before the first plan here, copy the state \"{}\"",
                state_key_of(old)
            ))
            .comment("to the key below (docs/terraform.md, \"Renaming a cluster\"): without it Terraform plans a")
            .comment("second cluster next to the old one, which no module manages any more. Keep")
            .comment("renamed_from in platform.toml until this module and the controlplane are applied.")
            .blank(),
        None => Body::new(),
    };
    note.append(Body::file([Block::new(
        "terraform",
        &[],
        Body::new().block(Block::new(
            "backend",
            &["s3"],
            Body::new()
                .attr("bucket", platform.state_bucket.as_str())
                .attr("key", state_key(cluster))
                .attr("region", platform.region.as_str())
                .attr("encrypt", true)
                .comment("Every state object, its lock and digest are encrypted with the state key")
                .comment(
                    "(infra/bootstrap); without kms_key_id the backend would ask S3 for AES256.",
                )
                .attr("kms_key_id", common::state_kms_alias_arn(platform))
                .attr("use_lockfile", true),
        )),
    )]))
}

impl Cx<'_> {
    /// The default provider in the cluster's account and region; with `controlplane` (the link
    /// module) also the alias that reaches the controlplane's, where they differ.
    pub(super) fn providers_tf(&self, controlplane: bool) -> Body {
        let mut blocks = vec![common::aws_provider(
            None,
            &self.cluster.region,
            &self.cluster.account_id,
            self.tags(),
            None,
        )];
        if controlplane && self.uses_alias() {
            let assume = (self.reach == Some(Reach::OtherAccount))
                .then(|| Expr::raw("var.controlplane_role_arn"));
            blocks.push(common::aws_provider(
                Some(CONTROLPLANE_ALIAS),
                &self.controlplane.region,
                &self.controlplane.account_id,
                self.tags(),
                assume,
            ));
        }
        Body::file(blocks)
    }

    /// The link module of a workload in another account takes the role it assumes there.
    pub(super) fn variables_tf(&self, link: bool) -> Body {
        if link && self.reach == Some(Reach::OtherAccount) {
            Body::file([Block::new(
                "variable",
                &["controlplane_role_arn"],
                Body::new()
                    .attr(
                        "description",
                        format!(
                            "IAM role in the controlplane's account ({}) that this module assumes to accept the VPC peering, add the return routes and authorize the private zone association.",
                            self.controlplane.account_id
                        ),
                    )
                    .attr("type", Expr::raw("string")),
            )])
        } else {
            Body::new().comment("No input variables: everything comes from platform.toml.")
        }
    }

    /// `moved.tf`: a `moved` block for every renamed object whose name keys an address of this
    /// module (docs/terraform.md, "Addresses and renames"); `None` when nothing was renamed.
    pub(super) fn moved_tf(&self) -> Option<Body> {
        // (comment lines, from, to)
        let mut moves: Vec<([String; 2], String, String)> = Vec::new();
        for group in self.platform.node_groups(self.cluster) {
            let pool = group.pool;
            if let Some(old) = &pool.renamed_from {
                // A zonal group keeps its zone's suffix (`<pool>-<n>`).
                let from = match group.zone {
                    Some(z) => format!("{old}-{}", z + 1),
                    None => old.clone(),
                };
                moves.push((
                    [
                        format!("Node pool \"{old}\" renamed to \"{}\". AWS still replaces the node group (its", pool.name),
                        "name changes), new group first (create_before_destroy): Terraform does not destroy first.".into(),
                    ],
                    node_group_address(&from),
                    node_group_address(&group.name),
                ));
            }
        }
        if self.is_controlplane() {
            for w in self.platform.workload_clusters() {
                if let Some(old) = &w.renamed_from {
                    moves.push((
                        [
                            format!("Workload cluster \"{old}\" renamed to \"{}\": its Kafka rule is kept and", w.name),
                            "updated in place, so Kafka stays reachable from its VPC.".into(),
                        ],
                        kafka_rule_address(old),
                        kafka_rule_address(&w.name),
                    ));
                }
            }
        }
        if moves.is_empty() {
            return None;
        }
        let mut body = Body::new();
        for (i, (why, from, to)) in moves.into_iter().enumerate() {
            if i > 0 {
                body.push_blank();
            }
            for line in &why {
                body = body.comment(line);
            }
            body.push_block(Block::new(
                "moved",
                &[],
                Body::new()
                    .attr("from", Expr::raw(from))
                    .attr("to", Expr::raw(to)),
            ));
        }
        Some(body)
    }

    pub(super) fn outputs_tf(&self) -> Body {
        let out = common::output;
        let mut blocks = vec![
            out(
                "cluster_name",
                "Name of the EKS cluster.",
                Expr::raw("module.eks.cluster_name"),
            ),
            out(
                "cluster_endpoint",
                "Endpoint of the Kubernetes API server.",
                Expr::raw("module.eks.cluster_endpoint"),
            ),
            out(
                "cluster_certificate_authority_data",
                "Base64-encoded certificate authority of the API server.",
                Expr::raw("module.eks.cluster_certificate_authority_data"),
            ),
            out(
                "cluster_oidc_issuer_url",
                "OIDC issuer of the cluster's service account tokens.",
                Expr::raw("module.eks.cluster_oidc_issuer_url"),
            ),
            out(
                "region",
                "AWS region of the cluster.",
                Expr::str(&self.cluster.region),
            ),
            out(
                "vpc_id",
                "ID of the cluster's VPC.",
                Expr::raw("module.vpc.vpc_id"),
            ),
            out(
                "vpc_cidr_block",
                "CIDR block of the cluster's VPC.",
                Expr::raw("module.vpc.vpc_cidr_block"),
            ),
            out(
                "private_subnet_ids",
                "Private subnets of the nodes and internal load balancers.",
                Expr::raw("module.vpc.private_subnets"),
            ),
            out(
                "private_route_table_ids",
                "Route tables of the private subnets (read by the link modules).",
                Expr::raw("module.vpc.private_route_table_ids"),
            ),
            out(
                "node_security_group_id",
                "Security group shared by the nodes.",
                Expr::raw("module.eks.node_security_group_id"),
            ),
            out(
                "kms_key_arn",
                "KMS key encrypting Kubernetes secrets and the cluster's logs.",
                Expr::raw("aws_kms_key.cluster.arn"),
            ),
        ];
        if self.is_controlplane() {
            blocks.push(out(
                "internal_zone_id",
                "Private Route 53 zone of the platform's internal names.",
                Expr::raw("aws_route53_zone.internal.zone_id"),
            ));
            blocks.push(out(
                "internal_zone_arn",
                "ARN of the private zone.",
                Expr::raw("aws_route53_zone.internal.arn"),
            ));
            if self.platform.network_hub == flotilla_model::NetworkHub::TransitGateway {
                blocks.push(out(
                    "transit_gateway_id",
                    "Transit Gateway every workload VPC attaches to.",
                    Expr::raw("aws_ec2_transit_gateway.hub.id"),
                ));
            }
        } else {
            blocks.push(out(
                "external_dns_role_name",
                "IAM role of external-dns (its link module denies it the private zone's other names).",
                super::link::external_dns_role_output(),
            ));
        }
        Body::file(blocks)
    }
}
