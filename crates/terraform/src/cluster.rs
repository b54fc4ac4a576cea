//! `infra/<cluster>/`: one root module per cluster, the controlplane included.
//!
//! VPC (terraform-aws-modules/vpc), EKS (terraform-aws-modules/eks v21 input names) with a KMS
//! key of our own (so that `prevent_destroy` can guard it), managed node groups, add-ons and
//! Pod Identity roles. The controlplane owns the private Route 53 zone and opens the Kafka TLS
//! port to the workload VPCs; each workload module owns its link to the controlplane: the VPC
//! peering, the routes on both sides and the zone association. It reads the controlplane's VPC,
//! route tables and zone from the controlplane's remote state, so the controlplane is applied
//! first (the deploy DAG's business).

use std::collections::BTreeMap;

use flotilla_model::capacity::NodeGroup;
use flotilla_model::versions::EKS_ADDONS;
use flotilla_model::{
    AwsComponent, Capacity, Cluster, EndpointAccess, Ipv4Net, Platform, Role, SupportType, Team,
    TeamKind,
};

use crate::common::{self, Providers, RootModule};
use crate::hcl::{self, Block, Body, Expr};

/// The vpc-cni add-on setting that turns on NetworkPolicy enforcement.
const VPC_CNI_NETWORK_POLICY: &str = "enableNetworkPolicy";

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
            ("providers.tf", cx.providers_tf()),
            ("main.tf", cx.main_tf()),
            ("variables.tf", cx.variables_tf()),
            ("outputs.tf", cx.outputs_tf()),
        ],
    };
    if let Some(moved) = cx.moved_tf() {
        module.files.push(("moved.tf", moved));
    }
    module
}

/// The S3 object key of a cluster's state.
pub fn state_key(cluster: &Cluster) -> String {
    state_key_of(&cluster.name)
}

fn state_key_of(cluster_name: &str) -> String {
    format!("{cluster_name}/terraform.tfstate")
}

fn backend_tf(platform: &Platform, cluster: &Cluster) -> Body {
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

    fn providers_tf(&self) -> Body {
        let mut blocks = vec![common::aws_provider(
            None,
            &self.cluster.region,
            &self.cluster.account_id,
            self.tags(),
            None,
        )];
        if self.uses_alias() {
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

    fn variables_tf(&self) -> Body {
        if self.reach == Some(Reach::OtherAccount) {
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
        } else {
            blocks.extend(self.controlplane_link());
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
        let mut body = Body::new().attr("cluster_name", self.eks_name()).attr(
            "azs",
            Expr::raw(format!(
                "slice(data.aws_availability_zones.available.names, 0, {})",
                self.cluster.availability_zones
            )),
        );
        if !self.is_controlplane() {
            body = body.blank().attr(
                "controlplane",
                Expr::raw("data.terraform_remote_state.controlplane.outputs"),
            );
        }
        Block::new("locals", &[], body)
    }

    fn vpc(&self) -> Block {
        let (private, public) = subnets(self.cluster.vpc_cidr, self.cluster.availability_zones);
        let module = self.platform.versions.module("vpc");
        let protected = self.cluster.protected;
        let mut body = registry_module(module)
            .blank()
            .attr("name", Expr::raw("local.cluster_name"))
            .attr("cidr", self.cluster.vpc_cidr.to_string())
            .attr("azs", Expr::raw("local.azs"))
            .blank()
            .attr("private_subnets", Expr::strs(private))
            .attr("public_subnets", Expr::strs(public))
            .blank()
            .comment(if protected {
                "A NAT gateway per zone: losing a zone does not cut the others off."
            } else {
                "One NAT gateway for the whole VPC (not protected: cost over zone resilience)."
            })
            .attr("enable_nat_gateway", true)
            .attr("single_nat_gateway", !protected)
            .attr("one_nat_gateway_per_az", protected)
            .blank()
            .attr("enable_dns_hostnames", true)
            .attr("enable_dns_support", true)
            .blank()
            .comment("Load balancer discovery by the AWS Load Balancer Controller.")
            .attr(
                "public_subnet_tags",
                Expr::string_map([("kubernetes.io/role/elb", "1")]),
            )
            .attr(
                "private_subnet_tags",
                Expr::string_map([("kubernetes.io/role/internal-elb", "1")]),
            );
        if protected {
            body = body
                .blank()
                .attr("enable_flow_log", true)
                .attr("create_flow_log_cloudwatch_log_group", true)
                .attr("create_flow_log_cloudwatch_iam_role", true)
                .attr("flow_log_max_aggregation_interval", 60u32)
                .attr("flow_log_cloudwatch_log_group_retention_in_days", 365u32)
                .attr(
                    "flow_log_cloudwatch_log_group_kms_key_id",
                    Expr::raw("aws_kms_key.cluster.arn"),
                );
        }
        Block::new("module", &["vpc"], body)
    }

    fn log_retention_days(&self) -> u32 {
        if self.cluster.protected { 365 } else { 90 }
    }

    fn kms_key(&self) -> Block {
        let c = self.cluster;
        let account_root = Expr::template(format!(
            "arn:${{data.aws_partition.current.partition}}:iam::{}:root",
            c.account_id
        ));
        let logs_arn = Expr::template(format!(
            "arn:${{data.aws_partition.current.partition}}:logs:{}:{}:log-group:*",
            c.region, c.account_id
        ));
        let policy = common::policy_document(vec![
            Expr::object([
                ("Sid", Expr::str("AccountAdministration")),
                ("Effect", Expr::str("Allow")),
                ("Principal", Expr::object([("AWS", account_root)])),
                ("Action", Expr::str("kms:*")),
                ("Resource", Expr::str("*")),
            ]),
            Expr::object([
                ("Sid", Expr::str("CloudWatchLogs")),
                ("Effect", Expr::str("Allow")),
                (
                    "Principal",
                    Expr::object([(
                        "Service",
                        Expr::str(format!("logs.{}.amazonaws.com", c.region)),
                    )]),
                ),
                (
                    "Action",
                    Expr::strs([
                        "kms:Decrypt*",
                        "kms:Describe*",
                        "kms:Encrypt*",
                        "kms:GenerateDataKey*",
                        "kms:ReEncrypt*",
                    ]),
                ),
                ("Resource", Expr::str("*")),
                (
                    "Condition",
                    Expr::object([(
                        "ArnLike",
                        Expr::object([("kms:EncryptionContext:aws:logs:arn", logs_arn)]),
                    )]),
                ),
            ]),
        ]);
        let mut body = Body::new()
            .attr(
                "description",
                format!(
                    "Encrypts Kubernetes secrets and the logs of EKS cluster {}",
                    self.eks_name()
                ),
            )
            .attr("deletion_window_in_days", 30u32)
            .attr("enable_key_rotation", true)
            .attr("policy", policy);
        if c.protected {
            body = body.blank().block(Block::new(
                "lifecycle",
                &[],
                Body::new().attr("prevent_destroy", true),
            ));
        }
        Block::new("resource", &["aws_kms_key", "cluster"], body)
    }

    fn eks(&self) -> Block {
        let c = self.cluster;
        let module = self.platform.versions.module("eks");
        let mut body = registry_module(module)
            .blank()
            .attr("name", Expr::raw("local.cluster_name"))
            .attr("kubernetes_version", c.kubernetes_version.as_str())
            .blank()
            .attr("vpc_id", Expr::raw("module.vpc.vpc_id"))
            .attr("subnet_ids", Expr::raw("module.vpc.private_subnets"))
            .blank()
            .attr("endpoint_private_access", true);
        body = match &c.endpoint {
            EndpointAccess::Private => body.attr("endpoint_public_access", false),
            EndpointAccess::Public { allowed_cidrs } => {
                body.attr("endpoint_public_access", true).attr(
                    "endpoint_public_access_cidrs",
                    Expr::strs(allowed_cidrs.iter().map(|n| n.to_string())),
                )
            }
        };
        if !c.private_access.is_empty() {
            body = body
                .blank()
                .comment("Who reaches the private endpoint besides the nodes (platform.toml, endpoint.private_*):")
                .comment("the deploy's runner network or VPN; the module's only own rule admits the nodes.")
                .attr("security_group_additional_rules", private_access_rules(&c.private_access));
        }
        body = body
            .blank()
            .attr("create_kms_key", false)
            .attr(
                "encryption_config",
                Expr::object([
                    ("provider_key_arn", Expr::raw("aws_kms_key.cluster.arn")),
                    ("resources", Expr::strs(["secrets"])),
                ]),
            )
            .blank()
            .attr(
                "enabled_log_types",
                Expr::strs([
                    "api",
                    "audit",
                    "authenticator",
                    "controllerManager",
                    "scheduler",
                ]),
            )
            .attr(
                "cloudwatch_log_group_retention_in_days",
                self.log_retention_days(),
            )
            .attr(
                "cloudwatch_log_group_kms_key_id",
                Expr::raw("aws_kms_key.cluster.arn"),
            )
            .blank()
            .comment("IAM role named after the cluster (no generated suffix).")
            .attr("iam_role_use_name_prefix", false);
        body = body
            .blank()
            .comment(if c.protected {
                "Deletion protection on: destroy refuses a protected cluster."
            } else {
                "Always written: the provider keeps an omitted value, so turning protection off must be explicit."
            })
            .attr("deletion_protection", c.protected)
            .blank()
            .comment(match c.support {
                SupportType::Standard => "Standard support: EKS upgrades the cluster when its version leaves standard support (no extended-support charge).",
                SupportType::Extended => "Extended support (chosen in platform.toml): the cluster may stay on its version at the extended-support price (cargo xtask plan).",
            })
            .attr(
                "upgrade_policy",
                Expr::object([("support_type", Expr::str(c.support.eks_name()))]),
            )
            .blank()
            .comment("Pod Identity is the one way pods get AWS credentials: no IRSA OIDC provider (and no")
            .comment("tls_certificate data source fetching the issuer's certificate at plan time).")
            .attr("enable_irsa", false);
        body = body
            .blank()
            .comment("Access entries only: no aws-auth ConfigMap, no implicit creator admin.")
            .attr("authentication_mode", "API")
            .attr("enable_cluster_creator_admin_permissions", false)
            .attr("access_entries", self.access_entries())
            .blank()
            .attr("addons", self.addons())
            .blank()
            .attr("eks_managed_node_groups", self.node_groups());
        if let Some(rules) = self.kafka_rules() {
            body = body
                .blank()
                .comment("Workload VPCs reach Kafka over their peering, one rule per workload cluster. On the")
                .comment("module's node security group through its own input: the module manages that group's")
                .comment("rules as aws_security_group_rule, which must not be mixed with other rule resources.")
                .attr("node_security_group_additional_rules", rules);
        }
        Block::new("module", &[EKS_MODULE], body)
    }

    fn access_policy(&self, policy: &str) -> Expr {
        Expr::template(format!(
            "arn:${{data.aws_partition.current.partition}}:eks::aws:cluster-access-policy/{policy}"
        ))
    }

    fn access_entries(&self) -> Expr {
        let mut entries: Vec<(String, Expr)> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for arn in &self.cluster.admin_roles {
            let key = unique_key(&mut seen, &format!("admin-{}", arn_name(arn)), arn);
            entries.push((
                key,
                Expr::object([
                    ("principal_arn", Expr::str(arn)),
                    (
                        "policy_associations",
                        Expr::object([(
                            "cluster-admin",
                            Expr::object([
                                (
                                    "policy_arn",
                                    self.access_policy("AmazonEKSClusterAdminPolicy"),
                                ),
                                (
                                    "access_scope",
                                    Expr::object([("type", Expr::str("cluster"))]),
                                ),
                            ]),
                        )]),
                    ),
                ]),
            ));
        }
        // Teams own their applications' namespaces. Their access entry only names the team's
        // Kubernetes group; what the group may do is the `team-admin` RoleBinding (`admin` in
        // each of the team's namespaces) that crates/helm renders for the same group. No EKS
        // access policy is associated: Kubernetes RBAC is the one place a team's rights are
        // granted and reviewed (docs/security.md). Only IAM roles can be EKS principals; an IAM
        // group's members reach the cluster through a role of their own.
        let mut teams: BTreeMap<&str, &Team> = BTreeMap::new();
        if self.cluster.role == Role::Workload {
            for (app, _) in self.platform.applications_in(&self.cluster.environment) {
                if app.team.kind == TeamKind::Role
                    && !self.cluster.admin_roles.contains(&app.team.arn)
                {
                    teams.insert(app.team.arn.as_str(), &app.team);
                }
            }
        }
        for (arn, team) in teams {
            let key = unique_key(&mut seen, &format!("team-{}", arn_name(arn)), arn);
            entries.push((
                key,
                Expr::object([
                    ("principal_arn", Expr::str(arn)),
                    ("kubernetes_groups", Expr::strs([team.kubernetes_group()])),
                ]),
            ));
        }
        Expr::Object(entries)
    }

    /// The EKS add-ons, each at the version versions.toml pins for the cluster's Kubernetes
    /// version (`most_recent = false`, so nothing floats: an unchanged platform plans no change).
    fn addons(&self) -> Expr {
        let version = self.cluster.kubernetes_version.as_str();
        Expr::Object(
            EKS_ADDONS
                .iter()
                .map(|&addon| {
                    let pinned = self
                        .platform
                        .versions
                        .eks_addon(addon, version)
                        .unwrap_or_else(|| {
                            panic!(
                                "validation guarantees a pinned {addon} for Kubernetes {version}"
                            )
                        });
                    let mut fields = vec![
                        ("addon_version", Expr::str(pinned)),
                        ("most_recent", Expr::Bool(false)),
                    ];
                    match addon {
                        "aws-ebs-csi-driver" => fields.push((
                            "pod_identity_association",
                            Expr::List(vec![Expr::object([
                                (
                                    "role_arn",
                                    Expr::raw(format!(
                                        "module.{}.iam_role_arn",
                                        pod_identity_module(AwsComponent::EbsCsiDriver)
                                    )),
                                ),
                                (
                                    "service_account",
                                    Expr::str(AwsComponent::EbsCsiDriver.service_account()),
                                ),
                            ])]),
                        )),
                        "eks-pod-identity-agent" => {
                            fields.push(("before_compute", Expr::Bool(true)))
                        }
                        "vpc-cni" => {
                            fields.push(("before_compute", Expr::Bool(true)));
                            // The NetworkPolicies crates/helm renders (default deny per
                            // namespace) are enforced only when the VPC CNI runs its network
                            // policy agent.
                            fields.push((
                                "configuration_values",
                                Expr::raw(format!(
                                    "jsonencode({{ {VPC_CNI_NETWORK_POLICY} = \"true\" }})"
                                )),
                            ));
                        }
                        _ => {}
                    }
                    (addon.to_string(), Expr::object(fields))
                })
                .collect(),
        )
    }

    /// One managed node group per node pool; the controlplane's data pool is sized by the
    /// capacity plan (min and desired raised to what Kafka, Logstash and Elasticsearch need).
    fn node_groups(&self) -> Expr {
        Expr::Object(
            self.platform
                .node_groups(self.cluster)
                .iter()
                .map(|g| (g.name.clone(), node_group(&self.eks_name(), g)))
                .collect(),
        )
    }

    fn pod_identity(&self, component: AwsComponent) -> Block {
        let module = self.platform.versions.module("eks_pod_identity");
        let mut body = registry_module(module)
            .blank()
            .attr(
                "name",
                Expr::template(format!("${{local.cluster_name}}-{}", component.name())),
            )
            .attr("use_name_prefix", false)
            .comment("IAM policy names are account-wide: without a prefix of the cluster's, every cluster")
            .comment("of the account would create the same AmazonEKS_<policy> names.")
            .attr("policy_name_prefix", Expr::template("${local.cluster_name}-"))
            .blank()
            .comment("Only this cluster's Pod Identity may assume the role (EKS's session tag of the cluster).")
            .attr(
                "trust_policy_conditions",
                Expr::List(vec![Expr::object([
                    ("test", Expr::str("StringEquals")),
                    ("variable", Expr::str("aws:RequestTag/eks-cluster-arn")),
                    ("values", Expr::List(vec![self.cluster_arn()])),
                ])]),
            )
            .blank();
        body = match component {
            AwsComponent::EbsCsiDriver => body.attr("attach_aws_ebs_csi_policy", true),
            AwsComponent::LoadBalancerController => {
                body.attr("attach_aws_lb_controller_policy", true)
            }
            AwsComponent::ClusterAutoscaler => {
                body.attr("attach_cluster_autoscaler_policy", true).attr(
                    "cluster_autoscaler_cluster_names",
                    Expr::List(vec![Expr::raw("module.eks.cluster_name")]),
                )
            }
            AwsComponent::ExternalDns => {
                let zones = if self.is_controlplane() {
                    body = body.comment("Writes the Kafka names into the private zone only.");
                    Expr::List(vec![Expr::raw("aws_route53_zone.internal.arn")])
                } else {
                    body = body.comment(
                        "The gateway's public zone is not in the model; external-dns is held to the gateway domain by its domain filter.",
                    );
                    Expr::List(vec![Expr::template(
                        "arn:${data.aws_partition.current.partition}:route53:::hostedzone/*",
                    )])
                };
                body = body
                    .attr("attach_external_dns_policy", true)
                    .attr("external_dns_hosted_zone_arns", zones);
                if self.is_controlplane() {
                    body
                } else {
                    body.blank()
                        .comment("In the platform's private zone only this cluster's own name (and its TXT ownership")
                        .comment("records): never Kafka's, Alertmanager's or another cluster's.")
                        .attr("policy_statements", self.own_private_records_only())
                }
            }
        };
        // The EBS CSI add-on makes its own association (see `addons`).
        if component != AwsComponent::EbsCsiDriver {
            body = body.blank().attr(
                "associations",
                Expr::object([(
                    "this",
                    Expr::object([
                        ("cluster_name", Expr::raw("module.eks.cluster_name")),
                        ("namespace", Expr::str(component.namespace())),
                        ("service_account", Expr::str(component.service_account())),
                    ]),
                )]),
            );
        }
        Block::new("module", &[&pod_identity_module(component)], body)
    }

    /// `arn:<partition>:eks:<region>:<account>:cluster/<name>`, written out rather than read from
    /// the EKS module, so that the Pod Identity roles do not depend on the cluster's creation.
    fn cluster_arn(&self) -> Expr {
        Expr::template(format!(
            "arn:${{data.aws_partition.current.partition}}:eks:{}:{}:cluster/${{local.cluster_name}}",
            self.cluster.region, self.cluster.account_id
        ))
    }

    /// A Deny on record changes in the private zone for any name but the cluster's Prometheus
    /// (A/AAAA) and the TXT names external-dns's registry writes next to it (`a-<name>`, ...).
    fn own_private_records_only(&self) -> Expr {
        let host = self.platform.prometheus_host(self.cluster);
        Expr::List(vec![Expr::object([
            ("sid", Expr::str("OnlyOwnRecordsInThePrivateZone")),
            ("effect", Expr::str("Deny")),
            ("actions", Expr::strs(["route53:ChangeResourceRecordSets"])),
            (
                "resources",
                Expr::List(vec![Expr::raw("local.controlplane.internal_zone_arn")]),
            ),
            (
                "condition",
                Expr::List(vec![Expr::object([
                    ("test", Expr::str("ForAnyValue:StringNotLike")),
                    (
                        "variable",
                        Expr::str("route53:ChangeResourceRecordSetsNormalizedRecordNames"),
                    ),
                    ("values", Expr::strs([host.clone(), format!("*-{host}")])),
                ])]),
            ),
        ])])
    }

    fn internal_zone(&self) -> Block {
        Block::new(
            "resource",
            &["aws_route53_zone", "internal"],
            Body::new()
                .comment("checkov:skip=CKV2_AWS_38:DNSSEC signing applies to public zones; this zone is private")
                .comment("checkov:skip=CKV2_AWS_39:query logging is for public zones; resolver query logs cover private ones")
                .attr("name", self.platform.internal_domain.as_str())
                .attr(
                    "comment",
                    format!(
                        "Private names of platform {} (Kafka bootstrap and brokers)",
                        self.platform.name
                    ),
                )
                .comment("Every record here is written by external-dns (Kafka, Alertmanager, each cluster's")
                .comment("Prometheus): destroying the zone removes them rather than failing on HostedZoneNotEmpty.")
                .attr("force_destroy", true)
                .blank()
                .block(Block::new(
                    "vpc",
                    &[],
                    Body::new().attr("vpc_id", Expr::raw("module.vpc.vpc_id")),
                ))
                .blank()
                .comment("Workload VPCs are associated by their own modules (aws_route53_zone_association).")
                .block(Block::new(
                    "lifecycle",
                    &[],
                    Body::new().attr("ignore_changes", Expr::List(vec![Expr::raw("vpc")])),
                )),
        )
    }

    /// The controlplane's Kafka TLS rules, by workload cluster; `None` without workloads.
    fn kafka_rules(&self) -> Option<Expr> {
        if !self.is_controlplane() {
            return None;
        }
        let port = Platform::KAFKA_TLS_PORT;
        let rules: Vec<(String, Expr)> = self
            .platform
            .workload_clusters()
            .map(|w| {
                (
                    kafka_rule_key(&w.name),
                    Expr::object([
                        (
                            "description",
                            Expr::str(format!(
                                "Kafka TLS and Alertmanager (9093) from the {} VPC",
                                w.name
                            )),
                        ),
                        ("type", Expr::str("ingress")),
                        ("protocol", Expr::str("tcp")),
                        ("from_port", Expr::from(port)),
                        ("to_port", Expr::from(port)),
                        ("cidr_blocks", Expr::strs([w.vpc_cidr.to_string()])),
                    ]),
                )
            })
            .collect();
        (!rules.is_empty()).then_some(Expr::Object(rules))
    }

    fn controlplane_link(&self) -> Vec<Block> {
        let reach = self.reach.expect("workload cluster");
        let platform = self.platform;
        let cp = self.controlplane;
        let mut blocks = vec![Block::new(
            "data",
            &["terraform_remote_state", "controlplane"],
            Body::new().attr("backend", "s3").attr(
                "config",
                Expr::object([
                    ("bucket", Expr::str(&platform.state_bucket)),
                    ("key", Expr::str(state_key(cp))),
                    ("region", Expr::str(&platform.region)),
                ]),
            ),
        )];

        let name_tag =
            Expr::string_map([("Name", format!("{}-{}", self.eks_name(), cp.name).as_str())]);
        let mut peering = Body::new()
            .attr("vpc_id", Expr::raw("module.vpc.vpc_id"))
            .attr("peer_vpc_id", Expr::raw("local.controlplane.vpc_id"));
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
                .attr(
                    "for_each",
                    Expr::raw(
                        "{ for i, id in module.vpc.private_route_table_ids : \"private-${i}\" => id }",
                    ),
                )
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
                    .attr(
                        "for_each",
                        Expr::raw(
                            "{ for i, id in local.controlplane.private_route_table_ids : \"private-${i}\" => id }",
                        ),
                    )
                    .blank()
                    .attr("route_table_id", Expr::raw("each.value"))
                    .attr(
                        "destination_cidr_block",
                        self.cluster.vpc_cidr.to_string(),
                    )
                    .attr("vpc_peering_connection_id", peering_id),
            ),
        ));

        let (zone_id, vpc_id) = if reach == Reach::OtherAccount {
            blocks.push(Block::new(
                "resource",
                &["aws_route53_vpc_association_authorization", "internal"],
                self.controlplane_side(
                    Body::new()
                        .attr("zone_id", Expr::raw("local.controlplane.internal_zone_id"))
                        .attr("vpc_id", Expr::raw("module.vpc.vpc_id"))
                        .attr("vpc_region", self.cluster.region.as_str()),
                ),
            ));
            (
                Expr::raw("aws_route53_vpc_association_authorization.internal.zone_id"),
                Expr::raw("aws_route53_vpc_association_authorization.internal.vpc_id"),
            )
        } else {
            (
                Expr::raw("local.controlplane.internal_zone_id"),
                Expr::raw("module.vpc.vpc_id"),
            )
        };
        blocks.push(Block::new(
            "resource",
            &["aws_route53_zone_association", "internal"],
            Body::new().attr("zone_id", zone_id).attr("vpc_id", vpc_id),
        ));
        blocks
    }

    /// `moved.tf`: a `moved` block for every renamed object whose name keys an address of this
    /// module (docs/terraform.md, "Addresses and renames"); `None` when nothing was renamed.
    fn moved_tf(&self) -> Option<Body> {
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

    fn outputs_tf(&self) -> Body {
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
                "Route tables of the private subnets (the controlplane's are read by the workload modules).",
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
        } else {
            blocks.push(out(
                "controlplane_peering_id",
                "VPC peering connection to the controlplane.",
                Expr::raw("aws_vpc_peering_connection.controlplane.id"),
            ));
        }
        Body::file(blocks)
    }
}

/// `security_group_additional_rules` of the cluster security group: HTTPS to the API from
/// each CIDR and each security group of the model, keyed by what they admit.
fn private_access_rules(access: &flotilla_model::PrivateAccess) -> Expr {
    let rule = |description: String, source: (&'static str, Expr)| {
        Expr::object([
            ("description", Expr::str(description)),
            ("type", Expr::str("ingress")),
            ("protocol", Expr::str("tcp")),
            ("from_port", Expr::Num(443)),
            ("to_port", Expr::Num(443)),
            source,
        ])
    };
    let mut rules: Vec<(String, Expr)> = Vec::new();
    for net in &access.cidrs {
        rules.push((
            format!("api-from-{}", net.to_string().replace(['.', '/'], "-")),
            rule(
                format!("Kubernetes API from {net}"),
                ("cidr_blocks", Expr::strs([net.to_string()])),
            ),
        ));
    }
    for sg in &access.security_groups {
        rules.push((
            format!("api-from-{sg}"),
            rule(
                format!("Kubernetes API from security group {sg}"),
                ("source_security_group_id", Expr::str(sg)),
            ),
        ));
    }
    Expr::Object(rules)
}

/// The start of a registry module call: source and exact version from versions.toml.
fn registry_module(module: &flotilla_model::versions::Module) -> Body {
    Body::new()
        .comment("checkov:skip=CKV_TF_1:registry module pinned to an exact version from versions.toml; the registry protocol takes versions, not commit hashes")
        .attr("source", module.source.as_str())
        .attr("version", module.version.as_str())
}

fn pod_identity_module(component: AwsComponent) -> String {
    format!("{}_pod_identity", component.name().replace('-', "_"))
}

/// The last segment of an IAM ARN (`role/path/name` -> `name`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `base`, or `base-<account>` when another principal took it (same name, other account).
fn unique_key(seen: &mut std::collections::BTreeSet<String>, base: &str, arn: &str) -> String {
    let mut key = base.to_string();
    if seen.contains(&key) {
        let account = arn.split(':').nth(4).unwrap_or_default();
        key = format!("{base}-{account}");
    }
    seen.insert(key.clone());
    key
}

/// Private subnets take the first `/prefix+3` blocks (one per zone, at most 6 of 8); public
/// subnets, which only hold load balancers and NAT gateways, take `/prefix+5` blocks (at least
/// /28, the smallest AWS subnet) from the last quarter. Validation keeps the zone count within
/// what fits (6 zones from /16 to /23, 4 in a /24).
pub fn subnets(vpc: Ipv4Net, zones: u8) -> (Vec<String>, Vec<String>) {
    let p = vpc.prefix_len();
    let private = vpc
        .subnets(p + 3)
        .expect("prefix + 3 <= 32 for a validated VPC")
        .take(usize::from(zones))
        .map(|n| n.to_string())
        .collect();
    let public_prefix = (p + 5).min(28);
    let last_quarter = 3 << (public_prefix - p - 2);
    let public = vpc
        .subnets(public_prefix)
        .expect("a /28 or larger subnet of a validated VPC")
        .skip(last_quarter)
        .take(usize::from(zones))
        .map(|n| n.to_string())
        .collect();
    (private, public)
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
    use super::*;

    #[test]
    fn subnets_fit_the_vpc_and_do_not_overlap() {
        for (cidr, zones) in [
            ("10.0.0.0/16", 3u8),
            ("10.1.0.0/23", 6),
            ("192.168.0.0/20", 2),
            ("10.2.0.0/24", 4),
        ] {
            let vpc: Ipv4Net = cidr.parse().unwrap();
            let (private, public) = subnets(vpc, zones);
            let all: Vec<Ipv4Net> = private
                .iter()
                .chain(&public)
                .map(|s| s.parse().unwrap())
                .collect();
            assert_eq!(all.len(), 2 * usize::from(zones));
            for (i, a) in all.iter().enumerate() {
                assert!(vpc.contains(a), "{a} outside {vpc}");
                assert!(a.prefix_len() <= 28, "{a} smaller than /28");
                for b in &all[i + 1..] {
                    assert!(!a.contains(b) && !b.contains(a), "{a} overlaps {b}");
                }
            }
        }
    }

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
