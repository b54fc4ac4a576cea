//! `infra/<cluster>/`: one root module per cluster, the controlplane included, and
//! `infra/<workload>/link/` per workload cluster.
//!
//! VPC (terraform-aws-modules/vpc), EKS (terraform-aws-modules/eks v21 input names) with a KMS
//! key of our own (so that `prevent_destroy` can guard it), managed node groups, add-ons and
//! Pod Identity roles. The controlplane owns the private Route 53 zone (and the Transit Gateway
//! on that hub) and opens the Kafka TLS port to the workload VPCs. A cluster module reads no
//! other state, so every cluster is created at once; each workload's link module ([`link`])
//! then joins it to the controlplane: peering or hub attachment, the routes on both sides, the
//! zone association, the external-dns Deny that needs the zone (the deploy DAG applies it after
//! both cluster modules).

mod eks;
mod files;
mod identity;
mod link;
mod network;
mod node_groups;

use flotilla_model::{AwsComponent, Cluster, Platform, Role};

use crate::common::{self, Providers, RootModule};
use crate::hcl::{self, Block, Body, Expr};

use files::backend_tf;
pub use files::state_key;
pub use network::subnets;

/// Name of the provider alias that reaches the controlplane's account and region, when it
/// differs from the workload's.
const CONTROLPLANE_ALIAS: &str = "controlplane";

/// Name of the EKS module call in every cluster module: the first step of the node groups'
/// addresses.
const EKS_MODULE: &str = "eks";

/// The EKS module's node security group rules (`node_security_group_additional_rules` become
/// instances of it, keyed by the map's keys).
const NODE_SG_RULE: &str = "aws_security_group_rule.node";

/// Address of a node pool's managed node group. The EKS module (v21) declares its node groups
/// as `module "eks_managed_node_group"` with `for_each` over `var.eks_managed_node_groups`, whose
/// keys are our pool names ([`Cx::node_groups`]); moving the module instance moves every object
/// in it (node group, launch template, IAM role and its attachments).
fn node_group_address(pool: &str) -> String {
    format!(
        "module.{EKS_MODULE}.module.eks_managed_node_group[{}]",
        hcl::quote(pool)
    )
}

/// Key of the controlplane's Kafka rule for one workload cluster ([`Cx::kafka_rules`]).
fn kafka_rule_key(workload: &str) -> String {
    format!("kafka-tls-{workload}")
}

/// Address of the controlplane's Kafka rule for one workload cluster.
fn kafka_rule_address(workload: &str) -> String {
    format!(
        "module.{EKS_MODULE}.{NODE_SG_RULE}[{}]",
        hcl::quote(&kafka_rule_key(workload))
    )
}

/// A workload's link to the controlplane (`infra/<cluster>/link`); `None` for the controlplane.
pub fn link_module(platform: &Platform, cluster: &Cluster) -> Option<RootModule> {
    (cluster.role == Role::Workload).then(|| Cx::new(platform, cluster).link_module())
}

pub fn module(platform: &Platform, cluster: &Cluster) -> RootModule {
    let cx = Cx::new(platform, cluster);
    let mut module = RootModule {
        dir: cluster.name.clone(),
        files: vec![
            (
                "versions.tf",
                common::versions_tf(platform, Providers::AwsForEks),
            ),
            ("backend.tf", backend_tf(platform, cluster)),
            ("providers.tf", cx.providers_tf(false)),
            ("main.tf", cx.main_tf()),
            ("variables.tf", cx.variables_tf(false)),
            ("outputs.tf", cx.outputs_tf()),
        ],
    };
    if let Some(moved) = cx.moved_tf() {
        module.files.push(("moved.tf", moved));
    }
    module
}

/// How a workload cluster reaches the controlplane's account and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Same account and region: the default provider does everything.
    Local,
    /// Another region of the same account: an aliased provider in that region.
    OtherRegion,
    /// Another account: an aliased provider that assumes a role there.
    OtherAccount,
}

struct Cx<'a> {
    platform: &'a Platform,
    cluster: &'a Cluster,
    controlplane: &'a Cluster,
    /// `None` for the controlplane itself.
    reach: Option<Reach>,
}

impl<'a> Cx<'a> {
    fn new(platform: &'a Platform, cluster: &'a Cluster) -> Cx<'a> {
        let controlplane = platform.controlplane();
        let reach = match cluster.role {
            Role::Controlplane => None,
            Role::Workload if cluster.account_id != controlplane.account_id => {
                Some(Reach::OtherAccount)
            }
            Role::Workload if cluster.region != controlplane.region => Some(Reach::OtherRegion),
            Role::Workload => Some(Reach::Local),
        };
        Cx {
            platform,
            cluster,
            controlplane,
            reach,
        }
    }

    fn is_controlplane(&self) -> bool {
        self.cluster.role == Role::Controlplane
    }

    fn eks_name(&self) -> String {
        self.platform.eks_cluster_name(self.cluster)
    }

    fn tags(&self) -> Expr {
        common::default_tags(self.platform, &self.cluster.environment, &self.cluster.name)
    }

    fn uses_alias(&self) -> bool {
        matches!(self.reach, Some(Reach::OtherRegion | Reach::OtherAccount))
    }

    fn main_tf(&self) -> Body {
        let mut blocks = vec![
            self.locals(),
            Block::new("data", &["aws_partition", "current"], Body::new()),
            Block::new(
                "data",
                &["aws_availability_zones", "available"],
                Body::new()
                    .comment("checkov:skip=CKV_AWS_394:only the first zones in name order are used (slice below), so a zone AWS adds later does not change the set")
                    .attr("state", "available")
                    .blank()
                    .block(Block::new(
                        "filter",
                        &[],
                        Body::new()
                            .attr("name", "opt-in-status")
                            .attr("values", Expr::strs(["opt-in-not-required"])),
                    ))
                    .blank()
                    .comment("Validation checks the region's zone count (crates/model/data/aws.toml), but an account")
                    .comment("may see fewer (AWS withholds constrained zones from new accounts): say so at plan time.")
                    .block(self.zones_postcondition()),
            ),
            self.vpc(),
            self.kms_key(),
            Block::new(
                "resource",
                &["aws_kms_alias", "cluster"],
                Body::new()
                    .attr("name", format!("alias/{}", self.eks_name()))
                    .attr("target_key_id", Expr::raw("aws_kms_key.cluster.key_id")),
            ),
            self.eks(),
        ];
        for component in AwsComponent::ALL {
            blocks.push(self.pod_identity(component));
        }
        if self.is_controlplane() {
            blocks.push(self.internal_zone());
            if self.platform.network_hub == flotilla_model::NetworkHub::TransitGateway {
                blocks.extend(self.transit_gateway_hub());
            }
        }
        Body::file(blocks)
    }

    fn zones_postcondition(&self) -> Block {
        let n = self.cluster.availability_zones;
        Block::new(
            "lifecycle",
            &[],
            Body::new().block(Block::new(
                "postcondition",
                &[],
                Body::new()
                    .attr("condition", Expr::raw(format!("length(self.names) >= {n}")))
                    .attr(
                        "error_message",
                        format!(
                            "{} has fewer than {n} availability zones open to this account: lower availability_zones of cluster \"{}\" in platform.toml.",
                            self.cluster.region, self.cluster.name
                        ),
                    ),
            )),
        )
    }

    fn locals(&self) -> Block {
        let body = Body::new().attr("cluster_name", self.eks_name()).attr(
            "azs",
            Expr::raw(format!(
                "slice(data.aws_availability_zones.available.names, 0, {})",
                self.cluster.availability_zones
            )),
        );
        Block::new("locals", &[], body)
    }
}

/// The start of a registry module call: source and exact version from versions.toml.
fn registry_module(module: &flotilla_model::versions::Module) -> Body {
    Body::new()
        .comment("checkov:skip=CKV_TF_1:registry module pinned to an exact version from versions.toml; the registry protocol takes versions, not commit hashes")
        .attr("source", module.source.as_str())
        .attr("version", module.version.as_str())
}
