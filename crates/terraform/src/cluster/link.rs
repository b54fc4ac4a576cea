//! `infra/<workload>/link/`: what joins a workload cluster to the controlplane, in a root module
//! of its own that is applied once both clusters exist. The workload's cluster module then
//! reads nothing of the controlplane's, so every cluster's VPC and EKS are created at once.
//!
//! The link reads both states (the workload's VPC, route tables and external-dns role; the
//! controlplane's VPC, route tables, zone and Transit Gateway) and owns: the VPC peering (with
//! its accepter on the controlplane's side when another region or account) or the Transit
//! Gateway attachment, the routes on both sides, the private zone association, and the Deny that
//! keeps the workload's external-dns to its own names in the private zone (it needs the zone's
//! ARN, which exists only once the controlplane does).

use flotilla_model::{AwsComponent, NetworkHub};

use super::files::state_key_of;
use super::identity::pod_identity_module;
use super::{CONTROLPLANE_ALIAS, Cx, Reach};
use crate::common::{self, Providers, RootModule};
use crate::hcl::{Block, Body, Expr};
use crate::{LINK_DIR, link_state_key};

/// The workload side of the link reads its cluster module's outputs through this local.
const CLUSTER: &str = "local.cluster";
/// The controlplane's outputs.
const CONTROLPLANE: &str = "local.controlplane";

impl Cx<'_> {
    pub(super) fn link_module(&self) -> RootModule {
        RootModule {
            dir: format!("{}/{LINK_DIR}", self.cluster.name),
            files: vec![
                (
                    "versions.tf",
                    common::versions_tf(self.platform, Providers::Aws),
                ),
                ("backend.tf", self.link_backend_tf()),
                ("providers.tf", self.providers_tf(true)),
                ("main.tf", self.link_main_tf()),
                ("variables.tf", self.variables_tf(true)),
                ("outputs.tf", self.link_outputs_tf()),
            ],
        }
    }

    fn link_backend_tf(&self) -> Body {
        let platform = self.platform;
        let mut note = Body::new()
            .comment(&format!(
                "The link of cluster \"{}\" to the controlplane: applied after both cluster modules.",
                self.cluster.name
            ))
            .blank();
        if let Some(old) = &self.cluster.renamed_from {
            note = note
                .comment(&format!(
                    "Renamed from cluster \"{old}\": copy the state \"{}\" to the key below before the",
                    link_state_key(old)
                ))
                .comment("first plan here (docs/terraform.md, \"Renaming a cluster\").")
                .blank();
        }
        note.append(Body::file([Block::new(
            "terraform",
            &[],
            Body::new().block(Block::new(
                "backend",
                &["s3"],
                Body::new()
                    .attr("bucket", platform.state_bucket.as_str())
                    .attr("key", link_state_key(&self.cluster.name))
                    .attr("region", platform.region.as_str())
                    .attr("encrypt", true)
                    .attr("kms_key_id", common::state_kms_alias_arn(platform))
                    .attr("use_lockfile", true),
            )),
        )]))
    }

    fn remote_state(&self, label: &str, cluster_name: &str) -> Block {
        Block::new(
            "data",
            &["terraform_remote_state", label],
            Body::new().attr("backend", "s3").attr(
                "config",
                Expr::object([
                    ("bucket", Expr::str(&self.platform.state_bucket)),
                    ("key", Expr::str(state_key_of(cluster_name))),
                    ("region", Expr::str(&self.platform.region)),
                ]),
            ),
        )
    }

    fn link_main_tf(&self) -> Body {
        let reach = self.reach.expect("workload cluster");
        let cp = self.controlplane;
        let mut blocks = vec![
            Block::new(
                "locals",
                &[],
                Body::new()
                    .attr(
                        "cluster",
                        Expr::raw("data.terraform_remote_state.cluster.outputs"),
                    )
                    .attr(
                        "controlplane",
                        Expr::raw("data.terraform_remote_state.controlplane.outputs"),
                    ),
            ),
            self.remote_state("cluster", &self.cluster.name),
            self.remote_state("controlplane", &cp.name),
        ];
        let name_tag =
            Expr::string_map([("Name", format!("{}-{}", self.eks_name(), cp.name).as_str())]);
        if self.platform.network_hub == NetworkHub::TransitGateway {
            blocks.extend(self.hub_attachment(name_tag));
        } else {
            blocks.extend(self.peering(reach, name_tag));
        }
        blocks.extend(self.zone_association(reach));
        blocks.push(self.own_private_records_only());
        Body::file(blocks)
    }

    fn private_route_tables(side: &str) -> Expr {
        Expr::raw(format!(
            "{{ for i, id in {side}.private_route_table_ids : \"private-${{i}}\" => id }}"
        ))
    }

    fn peering(&self, reach: Reach, name_tag: Expr) -> Vec<Block> {
        let cp = self.controlplane;
        let mut blocks = Vec::new();
        let mut peering = Body::new()
            .attr("vpc_id", Expr::raw(format!("{CLUSTER}.vpc_id")))
            .attr("peer_vpc_id", Expr::raw(format!("{CONTROLPLANE}.vpc_id")));
        match reach {
            Reach::Local => peering = peering.attr("auto_accept", true),
            Reach::OtherRegion => peering = peering.attr("peer_region", cp.region.as_str()),
            Reach::OtherAccount => {
                peering = peering.attr("peer_owner_id", cp.account_id.as_str());
                if cp.region != self.cluster.region {
                    peering = peering.attr("peer_region", cp.region.as_str());
                }
            }
        }
        peering = peering.blank().attr("tags", name_tag.clone());
        blocks.push(Block::new(
            "resource",
            &["aws_vpc_peering_connection", "controlplane"],
            peering,
        ));
        let peering_id = if reach == Reach::Local {
            Expr::raw("aws_vpc_peering_connection.controlplane.id")
        } else {
            blocks.push(Block::new(
                "resource",
                &["aws_vpc_peering_connection_accepter", "controlplane"],
                self.controlplane_side(
                    Body::new()
                        .attr(
                            "vpc_peering_connection_id",
                            Expr::raw("aws_vpc_peering_connection.controlplane.id"),
                        )
                        .attr("auto_accept", true)
                        .blank()
                        .attr("tags", name_tag),
                ),
            ));
            Expr::raw("aws_vpc_peering_connection_accepter.controlplane.id")
        };
        blocks.push(Block::new(
            "resource",
            &["aws_route", "to_controlplane"],
            Body::new()
                .attr("for_each", Self::private_route_tables(CLUSTER))
                .blank()
                .attr("route_table_id", Expr::raw("each.value"))
                .attr("destination_cidr_block", cp.vpc_cidr.to_string())
                .attr("vpc_peering_connection_id", peering_id.clone()),
        ));
        blocks.push(Block::new(
            "resource",
            &["aws_route", "from_controlplane"],
            self.controlplane_side(
                Body::new()
                    .attr("for_each", Self::private_route_tables(CONTROLPLANE))
                    .blank()
                    .attr("route_table_id", Expr::raw("each.value"))
                    .attr("destination_cidr_block", self.cluster.vpc_cidr.to_string())
                    .attr("vpc_peering_connection_id", peering_id),
            ),
        ));
        blocks
    }

    /// The workload VPC on the controlplane's Transit Gateway: its attachment (private subnets)
    /// and a route to the controlplane VPC from each private route table. The controlplane's
    /// routes back are its own (`transit_gateway_hub`); the attachment is accepted by the
    /// gateway itself (same account: validation refuses others).
    fn hub_attachment(&self, name_tag: Expr) -> Vec<Block> {
        let gateway = format!("{CONTROLPLANE}.transit_gateway_id");
        vec![
            Block::new(
                "resource",
                &["aws_ec2_transit_gateway_vpc_attachment", "controlplane"],
                Body::new()
                    .attr("transit_gateway_id", Expr::raw(&gateway))
                    .attr("vpc_id", Expr::raw(format!("{CLUSTER}.vpc_id")))
                    .attr(
                        "subnet_ids",
                        Expr::raw(format!("{CLUSTER}.private_subnet_ids")),
                    )
                    .blank()
                    .attr("tags", name_tag),
            ),
            Block::new(
                "resource",
                &["aws_route", "to_controlplane"],
                Body::new()
                    .attr("for_each", Self::private_route_tables(CLUSTER))
                    .blank()
                    .attr("route_table_id", Expr::raw("each.value"))
                    .attr(
                        "destination_cidr_block",
                        self.controlplane.vpc_cidr.to_string(),
                    )
                    .attr("transit_gateway_id", Expr::raw(&gateway))
                    .blank()
                    .attr(
                        "depends_on",
                        Expr::raw("[aws_ec2_transit_gateway_vpc_attachment.controlplane]"),
                    ),
            ),
        ]
    }

    /// The private zone of the controlplane, associated with this workload VPC (authorized
    /// from the controlplane's side when it is another account's).
    fn zone_association(&self, reach: Reach) -> Vec<Block> {
        let mut blocks = Vec::new();
        let vpc = Expr::raw(format!("{CLUSTER}.vpc_id"));
        let zone = Expr::raw(format!("{CONTROLPLANE}.internal_zone_id"));
        let (zone_id, vpc_id) = if reach == Reach::OtherAccount {
            blocks.push(Block::new(
                "resource",
                &["aws_route53_vpc_association_authorization", "internal"],
                self.controlplane_side(
                    Body::new()
                        .attr("zone_id", zone)
                        .attr("vpc_id", vpc)
                        .attr("vpc_region", self.cluster.region.as_str()),
                ),
            ));
            (
                Expr::raw("aws_route53_vpc_association_authorization.internal.zone_id"),
                Expr::raw("aws_route53_vpc_association_authorization.internal.vpc_id"),
            )
        } else {
            (zone, vpc)
        };
        blocks.push(Block::new(
            "resource",
            &["aws_route53_zone_association", "internal"],
            Body::new().attr("zone_id", zone_id).attr("vpc_id", vpc_id),
        ));
        blocks
    }

    /// A Deny on record changes in the private zone for any name but the cluster's Prometheus
    /// (A/AAAA) and the TXT names external-dns's registry writes next to it (`a-<name>`, ...),
    /// inline on the workload's external-dns role (whose Allow, from its Pod Identity module,
    /// covers every zone: the gateway's public zone is not in the model).
    fn own_private_records_only(&self) -> Block {
        let host = self.platform.prometheus_host(self.cluster);
        let statement = Expr::object([
            ("Sid", Expr::str("OnlyOwnRecordsInThePrivateZone")),
            ("Effect", Expr::str("Deny")),
            ("Action", Expr::strs(["route53:ChangeResourceRecordSets"])),
            (
                "Resource",
                Expr::List(vec![Expr::raw(format!("{CONTROLPLANE}.internal_zone_arn"))]),
            ),
            (
                "Condition",
                Expr::object([(
                    "ForAnyValue:StringNotLike",
                    Expr::object([(
                        "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                        Expr::strs([host.clone(), format!("*-{host}")]),
                    )]),
                )]),
            ),
        ]);
        Block::new(
            "resource",
            &["aws_iam_role_policy", "external_dns_private_zone"],
            Body::new()
                .comment("In the platform's private zone only this cluster's own name (and its TXT ownership")
                .comment("records): never Kafka's, Alertmanager's or another cluster's.")
                .attr("name", "OnlyOwnRecordsInThePrivateZone")
                .attr("role", Expr::raw(format!("{CLUSTER}.external_dns_role_name")))
                .attr("policy", common::policy_document(vec![statement])),
        )
    }

    fn link_outputs_tf(&self) -> Body {
        let out = common::output;
        let link = if self.platform.network_hub == NetworkHub::TransitGateway {
            out(
                "controlplane_attachment_id",
                "Transit Gateway attachment of this VPC.",
                Expr::raw("aws_ec2_transit_gateway_vpc_attachment.controlplane.id"),
            )
        } else {
            out(
                "controlplane_peering_id",
                "VPC peering connection to the controlplane.",
                Expr::raw("aws_vpc_peering_connection.controlplane.id"),
            )
        };
        Body::file([link])
    }

    /// `provider = aws.controlplane` for resources on the controlplane's side, when aliased.
    fn controlplane_side(&self, body: Body) -> Body {
        if self.uses_alias() {
            Body::new()
                .attr("provider", Expr::raw(format!("aws.{CONTROLPLANE_ALIAS}")))
                .blank()
                .append(body)
        } else {
            body
        }
    }
}

/// The output of a cluster module that names its external-dns role, read by the link.
pub(super) fn external_dns_role_output() -> Expr {
    Expr::raw(format!(
        "module.{}.iam_role_name",
        pod_identity_module(AwsComponent::ExternalDns)
    ))
}
