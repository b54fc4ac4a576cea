//! VPC and subnets, the private zone, security group rules, and the peering to the controlplane.

use flotilla_model::{Ipv4Net, Platform};

use super::{Cx, kafka_rule_key, registry_module};
use crate::hcl::{Block, Body, Expr};

impl Cx<'_> {
    pub(super) fn vpc(&self) -> Block {
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

    pub(super) fn internal_zone(&self) -> Block {
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
    pub(super) fn kafka_rules(&self) -> Option<Expr> {
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
}

impl Cx<'_> {
    /// The controlplane's side of a Transit Gateway hub: the gateway (attachments accepted and
    /// propagated to its default route table), the controlplane VPC's attachment, and a route
    /// to every workload VPC from each of its private route tables.
    pub(super) fn transit_gateway_hub(&self) -> Vec<Block> {
        let workloads: Vec<String> = self
            .platform
            .workload_clusters()
            .map(|c| c.vpc_cidr.to_string())
            .collect();
        vec![
            Block::new(
                "resource",
                &["aws_ec2_transit_gateway", "hub"],
                Body::new()
                    .attr(
                        "description",
                        format!("{}: every workload VPC to the controlplane", self.platform.name),
                    )
                    .attr("auto_accept_shared_attachments", "disable")
                    .attr("default_route_table_association", "enable")
                    .attr("default_route_table_propagation", "enable")
                    .attr("dns_support", "enable")
                    .blank()
                    .attr("tags", Expr::string_map([("Name", self.eks_name().as_str())])),
            ),
            Block::new(
                "resource",
                &["aws_ec2_transit_gateway_vpc_attachment", "controlplane"],
                Body::new()
                    .attr("transit_gateway_id", Expr::raw("aws_ec2_transit_gateway.hub.id"))
                    .attr("vpc_id", Expr::raw("module.vpc.vpc_id"))
                    .attr("subnet_ids", Expr::raw("module.vpc.private_subnets"))
                    .blank()
                    .attr("tags", Expr::string_map([("Name", self.eks_name().as_str())])),
            ),
            Block::new(
                "resource",
                &["aws_route", "to_workloads"],
                Body::new()
                    .attr(
                        "for_each",
                        Expr::raw(format!(
                            "{{ for pair in setproduct(range(length(module.vpc.private_route_table_ids)), {}) : \"private-${{pair[0]}}-${{replace(pair[1], \"/\", \"-\")}}\" => {{ table = module.vpc.private_route_table_ids[pair[0]], cidr = pair[1] }} }}",
                            hcl_list(&workloads)
                        )),
                    )
                    .blank()
                    .attr("route_table_id", Expr::raw("each.value.table"))
                    .attr("destination_cidr_block", Expr::raw("each.value.cidr"))
                    .attr("transit_gateway_id", Expr::raw("aws_ec2_transit_gateway.hub.id"))
                    .blank()
                    .attr(
                        "depends_on",
                        Expr::raw("[aws_ec2_transit_gateway_vpc_attachment.controlplane]"),
                    ),
            ),
        ]
    }
}

/// `["10.10.0.0/16", ...]` as HCL.
fn hcl_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `security_group_additional_rules` of the cluster security group: HTTPS to the API from
/// each CIDR and each security group of the model, keyed by what they admit.
pub(super) fn private_access_rules(access: &flotilla_model::PrivateAccess) -> Expr {
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
}
