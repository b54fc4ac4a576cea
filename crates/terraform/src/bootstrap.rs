//! `infra/bootstrap/`: the S3 bucket that holds every cluster's Terraform state.
//!
//! Its own state is local: it is the one module applied by hand once per account (or by
//! `cargo xtask deploy` when the bucket is missing). Locking uses S3's native lock file
//! (`use_lockfile`), so there is no DynamoDB table.

use flotilla_model::Platform;

use crate::common::{self, Providers, RootModule};
use crate::hcl::{Block, Body, Expr};

pub fn module(platform: &Platform) -> RootModule {
    RootModule {
        dir: "bootstrap".to_string(),
        files: vec![
            ("versions.tf", common::versions_tf(platform, Providers::Aws)),
            ("backend.tf", backend_tf()),
            ("providers.tf", providers_tf(platform)),
            ("main.tf", main_tf(platform)),
            ("variables.tf", variables_tf()),
            ("outputs.tf", outputs_tf()),
        ],
    }
}

fn backend_tf() -> Body {
    Body::new()
        .comment(
            "The state of this module is local: the bucket it creates holds every other state.",
        )
        .comment(
            "Keep terraform.tfstate safe (it is not committed); `terraform import` recovers it.",
        )
        .block(Block::new(
            "terraform",
            &[],
            Body::new().block(Block::new(
                "backend",
                &["local"],
                Body::new().attr("path", "terraform.tfstate"),
            )),
        ))
}

fn providers_tf(platform: &Platform) -> Body {
    Body::file([common::aws_provider(
        None,
        &platform.region,
        &platform.account_id,
        common::default_tags(platform, "bootstrap", "bootstrap"),
        None,
    )])
}

fn variables_tf() -> Body {
    Body::new().comment("No input variables: everything comes from platform.toml.")
}

fn bucket_ref() -> Expr {
    Expr::raw("aws_s3_bucket.state.id")
}

fn main_tf(platform: &Platform) -> Body {
    let prevent_destroy =
        || Block::new("lifecycle", &[], Body::new().attr("prevent_destroy", true));
    let account_root = Expr::template(format!(
        "arn:${{data.aws_partition.current.partition}}:iam::{}:root",
        platform.account_id
    ));
    let key_policy = common::policy_document(vec![Expr::object([
        ("Sid", Expr::str("AccountAdministration")),
        ("Effect", Expr::str("Allow")),
        ("Principal", Expr::object([("AWS", account_root)])),
        ("Action", Expr::str("kms:*")),
        ("Resource", Expr::str("*")),
    ])]);
    let blocks = vec![
        Block::new("data", &["aws_partition", "current"], Body::new()),
        Block::new(
            "resource",
            &["aws_kms_key", "state"],
            Body::new()
                .attr(
                    "description",
                    format!("Encrypts the Terraform state of platform {}", platform.name),
                )
                .attr("deletion_window_in_days", 30u32)
                .attr("enable_key_rotation", true)
                .attr("policy", key_policy)
                .blank()
                .block(prevent_destroy()),
        ),
        Block::new(
            "resource",
            &["aws_kms_alias", "state"],
            Body::new()
                .attr("name", common::state_kms_alias(platform))
                .attr("target_key_id", Expr::raw("aws_kms_key.state.key_id")),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket", "state"],
            Body::new()
                .comment("checkov:skip=CKV_AWS_144:state is rebuilt from the clusters it describes; cross-region replication is not worth a second bucket and key")
                .comment("checkov:skip=CKV_AWS_18:access logging would need a log bucket that itself needs logging; object reads and writes are recorded only by a CloudTrail trail with S3 data events for this bucket, which the account owner creates (docs/security.md)")
                .comment("checkov:skip=CKV2_AWS_62:nothing consumes events of the state bucket")
                .attr("bucket", platform.state_bucket.as_str())
                .attr("force_destroy", false)
                .blank()
                .block(prevent_destroy()),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_ownership_controls", "state"],
            Body::new().attr("bucket", bucket_ref()).blank().block(Block::new(
                "rule",
                &[],
                Body::new().attr("object_ownership", "BucketOwnerEnforced"),
            )),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_versioning", "state"],
            Body::new().attr("bucket", bucket_ref()).blank().block(Block::new(
                "versioning_configuration",
                &[],
                Body::new().attr("status", "Enabled"),
            )),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_server_side_encryption_configuration", "state"],
            Body::new().attr("bucket", bucket_ref()).blank().block(Block::new(
                "rule",
                &[],
                Body::new()
                    .attr("bucket_key_enabled", true)
                    .blank()
                    .block(Block::new(
                        "apply_server_side_encryption_by_default",
                        &[],
                        Body::new()
                            .attr("sse_algorithm", "aws:kms")
                            .attr("kms_master_key_id", Expr::raw("aws_kms_key.state.arn")),
                    )),
            )),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_public_access_block", "state"],
            Body::new()
                .attr("bucket", bucket_ref())
                .attr("block_public_acls", true)
                .attr("block_public_policy", true)
                .attr("ignore_public_acls", true)
                .attr("restrict_public_buckets", true),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_policy", "state"],
            Body::new()
                .attr("bucket", bucket_ref())
                .attr(
                    "policy",
                    common::policy_document(vec![
                        Expr::object([
                        ("Sid", Expr::str("DenyInsecureTransport")),
                        ("Effect", Expr::str("Deny")),
                        ("Principal", Expr::str("*")),
                        ("Action", Expr::str("s3:*")),
                        (
                            "Resource",
                            Expr::List(vec![
                                Expr::raw("aws_s3_bucket.state.arn"),
                                Expr::template("${aws_s3_bucket.state.arn}/*"),
                            ]),
                        ),
                        (
                            "Condition",
                            Expr::object([(
                                "Bool",
                                Expr::object([("aws:SecureTransport", Expr::str("false"))]),
                            )]),
                        ),
                    ]),
                        // Every state object is written with the state key (the backends name
                        // it, `kms_key_id`); a writer that asks for S3-managed keys or none
                        // is refused rather than silently escaping the key's policy and audit.
                        Expr::object([
                            ("Sid", Expr::str("DenyWritesWithoutTheStateKey")),
                            ("Effect", Expr::str("Deny")),
                            ("Principal", Expr::str("*")),
                            ("Action", Expr::str("s3:PutObject")),
                            ("Resource", Expr::template("${aws_s3_bucket.state.arn}/*")),
                            (
                                "Condition",
                                Expr::object([(
                                    "StringNotEquals",
                                    Expr::object([(
                                        "s3:x-amz-server-side-encryption",
                                        Expr::str("aws:kms"),
                                    )]),
                                )]),
                            ),
                        ]),
                    ]),
                )
                .blank()
                .attr(
                    "depends_on",
                    Expr::List(vec![Expr::raw("aws_s3_bucket_public_access_block.state")]),
                ),
        ),
        Block::new(
            "resource",
            &["aws_s3_bucket_lifecycle_configuration", "state"],
            Body::new().attr("bucket", bucket_ref()).blank().block(Block::new(
                "rule",
                &[],
                Body::new()
                    .attr("id", "state-history")
                    .attr("status", "Enabled")
                    .blank()
                    .block(Block::new("filter", &[], Body::new()))
                    .blank()
                    .comment("Old state versions are kept 90 days to recover from a bad apply.")
                    .block(Block::new(
                        "noncurrent_version_expiration",
                        &[],
                        Body::new().attr("noncurrent_days", 90u32),
                    ))
                    .blank()
                    .block(Block::new(
                        "abort_incomplete_multipart_upload",
                        &[],
                        Body::new().attr("days_after_initiation", 7u32),
                    )),
            )),
        ),
    ];
    Body::file(blocks)
}

fn outputs_tf() -> Body {
    Body::file([
        common::output(
            "state_bucket",
            "Name of the S3 bucket holding every cluster's Terraform state.",
            Expr::raw("aws_s3_bucket.state.id"),
        ),
        common::output(
            "state_bucket_arn",
            "ARN of the state bucket.",
            Expr::raw("aws_s3_bucket.state.arn"),
        ),
        common::output(
            "state_kms_key_arn",
            "ARN of the KMS key that encrypts the state.",
            Expr::raw("aws_kms_key.state.arn"),
        ),
    ])
}
