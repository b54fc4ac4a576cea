//! The Pod Identity roles of the platform's AWS components, and what each may do.

use flotilla_model::AwsComponent;

use super::{Cx, registry_module};
use crate::hcl::{Block, Expr};

impl Cx<'_> {
    pub(super) fn pod_identity(&self, component: AwsComponent) -> Block {
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
                    body = body
                        .comment("The gateway's public zone is not in the model; external-dns is held to the gateway domain by its domain filter.")
                        .comment("In the private zone its link module (link/main.tf) denies it every name but its own.");
                    Expr::List(vec![Expr::template(
                        "arn:${data.aws_partition.current.partition}:route53:::hostedzone/*",
                    )])
                };
                body.attr("attach_external_dns_policy", true)
                    .attr("external_dns_hosted_zone_arns", zones)
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
}

pub(super) fn pod_identity_module(component: AwsComponent) -> String {
    format!("{}_pod_identity", component.name().replace('-', "_"))
}
