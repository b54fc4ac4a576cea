//! The EKS module call: endpoint, KMS key, logs, access entries and add-ons.

use std::collections::BTreeMap;

use flotilla_model::versions::EKS_ADDONS;
use flotilla_model::{AwsComponent, EndpointAccess, Role, SupportType, Team, TeamKind};

use super::identity::pod_identity_module;
use super::network::private_access_rules;
use super::{Cx, EKS_MODULE, registry_module};
use crate::common;
use crate::hcl::{Block, Body, Expr};

/// The vpc-cni add-on setting that turns on NetworkPolicy enforcement.
const VPC_CNI_NETWORK_POLICY: &str = "enableNetworkPolicy";

impl Cx<'_> {
    fn log_retention_days(&self) -> u32 {
        if self.cluster.protected { 365 } else { 90 }
    }

    pub(super) fn kms_key(&self) -> Block {
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

    pub(super) fn eks(&self) -> Block {
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
            .blank();
        for line in self.node_group_provenance() {
            body = body.comment(&line);
        }
        body = body.attr("eks_managed_node_groups", self.node_groups());
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
