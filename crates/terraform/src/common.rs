//! Pieces every root module shares: the `terraform` block, the aws provider with its default
//! tags, and the layout of a root module as files.

use flotilla_model::reserved::{MANAGED_BY, MANAGED_BY_TAG};
use flotilla_model::{Artifact, Platform, artifact};

use crate::hcl::{Block, Body, Expr};

/// One root module under `infra/<dir>/`: files by name, each a body.
#[derive(Debug)]
pub struct RootModule {
    pub dir: String,
    pub files: Vec<(&'static str, Body)>,
}

impl RootModule {
    pub fn artifacts(self) -> Vec<Artifact> {
        let dir = self.dir;
        self.files
            .into_iter()
            .map(|(name, body)| {
                let mut contents = artifact::header("#");
                let text = body.to_hcl();
                if !text.is_empty() {
                    contents.push('\n');
                    contents.push_str(&text);
                }
                Artifact::new(format!("{}/{name}", crate::module_dir(&dir)), contents)
            })
            .collect()
    }
}

/// Providers a root module needs, by local name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Providers {
    /// Only hashicorp/aws: the module's own resources.
    Aws,
    /// aws plus tls and time, which the EKS module requires; pinned here from versions.toml so
    /// the root module states every provider version it runs with.
    AwsForEks,
}

/// `versions.tf`: Terraform and provider versions, all from versions.toml.
pub fn versions_tf(platform: &Platform, providers: Providers) -> Body {
    let tf = &platform.versions.terraform;
    let names: &[&str] = match providers {
        Providers::Aws => &["aws"],
        Providers::AwsForEks => &["aws", "time", "tls"],
    };
    let mut required = Body::new();
    for name in names {
        let p = tf
            .providers
            .get(*name)
            .unwrap_or_else(|| panic!("provider {name} is not pinned in versions.toml"));
        required.push_attr(
            name,
            Expr::object([
                ("source", Expr::str(&p.source)),
                ("version", Expr::str(&p.version)),
            ]),
        );
    }
    Body::file([Block::new(
        "terraform",
        &[],
        Body::new()
            .attr("required_version", tf.required_version.as_str())
            .blank()
            .block(Block::new("required_providers", &[], required)),
    )])
}

/// The KMS alias of the state key (created by `infra/bootstrap`, named by every backend).
pub fn state_kms_alias(platform: &Platform) -> String {
    format!("alias/{}-tfstate", platform.name)
}

/// The alias ARN of the state key, for `backend "s3"`: a backend cannot read data sources, so
/// the partition is derived from the region.
pub fn state_kms_alias_arn(platform: &Platform) -> String {
    format!(
        "arn:{}:kms:{}:{}:{}",
        flotilla_model::aws_partition(&platform.region),
        platform.region,
        platform.account_id,
        state_kms_alias(platform)
    )
}

/// The tags every resource of a root module carries (`default_tags` of the provider).
pub fn default_tags(platform: &Platform, environment: &str, cluster: &str) -> Expr {
    Expr::string_map([
        ("cluster", cluster),
        ("environment", environment),
        (MANAGED_BY_TAG, MANAGED_BY),
        ("platform", platform.name.as_str()),
    ])
}

/// A `provider "aws"` block pinned to one region and account, with default tags.
pub fn aws_provider(
    alias: Option<&str>,
    region: &str,
    account_id: &str,
    tags: Expr,
    assume_role: Option<Expr>,
) -> Block {
    let mut body = Body::new();
    if let Some(alias) = alias {
        body.push_attr("alias", alias);
    }
    body = body
        .attr("region", region)
        .attr("allowed_account_ids", Expr::strs([account_id]));
    if let Some(role) = assume_role {
        body = body.blank().block(Block::new(
            "assume_role",
            &[],
            Body::new().attr("role_arn", role),
        ));
    }
    body = body.blank().block(Block::new(
        "default_tags",
        &[],
        Body::new().attr("tags", tags),
    ));
    Block::new("provider", &["aws"], body)
}

/// `jsonencode({ Version = "2012-10-17", Statement = [...] })` for an IAM or KMS policy.
pub fn policy_document(statements: Vec<Expr>) -> Expr {
    Expr::call(
        "jsonencode",
        vec![Expr::object([
            ("Version", Expr::str("2012-10-17")),
            ("Statement", Expr::List(statements)),
        ])],
    )
}

/// An outputs.tf entry.
pub fn output(name: &str, description: &str, value: Expr) -> Block {
    Block::new(
        "output",
        &[name],
        Body::new()
            .attr("description", description)
            .attr("value", value),
    )
}
