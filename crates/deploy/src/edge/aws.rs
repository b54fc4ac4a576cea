//! AWS: EKS DescribeCluster (endpoint, certificate authority, version), the EKS bearer token (a presigned
//! STS GetCallerIdentity URL), Secrets Manager for receiver credentials, S3 HeadBucket for the
//! state bucket (whether the bootstrap is deployed, where its local state is not at hand), and
//! the preflight and destroy calls: Service Quotas, EKS DescribeAddonVersions, CloudWatch Logs
//! DeleteLogGroup.
//!
//! Configuration follows the SDK's standard chain (`AWS_ENDPOINT_URL`, `AWS_PROFILE`, regions,
//! web identity in CI), which is what points the tests at a moto server.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials as _;
use base64::Engine as _;

/// Endpoint and certificate authority of an EKS cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEndpoint {
    pub endpoint: String,
    /// The certificate authority as PEM (DescribeCluster returns it base64-encoded).
    pub ca_pem: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    #[error("EKS cluster `{cluster}` in {region}: {detail}")]
    Cluster {
        cluster: String,
        region: String,
        detail: String,
    },
    #[error(
        "AWS Secrets Manager secret `{secret}` in {region} was not found; create it (aws secretsmanager create-secret --name {secret} --secret-string ...) or fix credentials_secret in platform.toml"
    )]
    SecretMissing { secret: String, region: String },
    #[error("AWS Secrets Manager secret `{secret}` in {region}: {detail}")]
    Secret {
        secret: String,
        region: String,
        detail: String,
    },
    #[error("S3 bucket `{bucket}` in {region}: {detail}")]
    Bucket {
        bucket: String,
        region: String,
        detail: String,
    },
    #[error("AWS credentials: {0}")]
    Credentials(String),
    #[error("Service Quotas {service}/{code} in {region}: {detail}")]
    Quota {
        service: String,
        code: String,
        region: String,
        detail: String,
    },
    #[error("CloudWatch Logs log group `{group}` in {region}: {detail}")]
    LogGroup {
        group: String,
        region: String,
        detail: String,
    },
    #[error("EKS add-on {addon} for Kubernetes {kubernetes} in {region}: {detail}")]
    Addon {
        addon: String,
        kubernetes: String,
        region: String,
        detail: String,
    },
}

/// Who the credentials are (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// What the engine asks of AWS. The real implementation is [`SdkAws`].
pub trait Aws: Send + Sync {
    /// The identity the credentials resolve to in a region (STS GetCallerIdentity): the first
    /// call of every real run, so missing or wrong credentials stop it before anything starts.
    fn caller_identity(&self, region: &str) -> Result<CallerIdentity, AwsError>;
    fn describe_cluster(&self, name: &str, region: &str) -> Result<ClusterEndpoint, AwsError>;
    /// The Kubernetes version an EKS cluster runs (DescribeCluster's `version`), `None` when
    /// there is no such cluster (not created yet).
    fn cluster_version(&self, name: &str, region: &str) -> Result<Option<String>, AwsError>;
    /// A bearer token for the cluster's API (`k8s-aws-v1.` + presigned GetCallerIdentity).
    fn eks_token(&self, name: &str, region: &str) -> Result<String, AwsError>;
    /// The `SecretString` of a Secrets Manager secret.
    fn secret_string(&self, id: &str, region: &str) -> Result<String, AwsError>;
    /// Whether an S3 bucket exists and these credentials may see it (S3 HeadBucket): `false`
    /// when S3 says it does not exist, an error when it answers otherwise (403: the name is
    /// taken by another account or access is denied).
    fn bucket_exists(&self, bucket: &str, region: &str) -> Result<bool, AwsError>;
    /// Every object key in a bucket (S3 ListObjectsV2, all pages): the state bucket's keys
    /// name the clusters that have Terraform state.
    fn list_keys(&self, bucket: &str, region: &str) -> Result<Vec<String>, AwsError>;
    /// An object's bytes (S3 GetObject), `None` when there is none.
    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        region: &str,
    ) -> Result<Option<Vec<u8>>, AwsError>;
    /// The value of a service quota in the account: the applied value (GetServiceQuota), else
    /// the AWS default (GetAWSDefaultServiceQuota); `None` when Service Quotas knows neither.
    fn service_quota(
        &self,
        service: &str,
        code: &str,
        region: &str,
    ) -> Result<Option<f64>, AwsError>;
    /// Deletes a CloudWatch Logs log group; `false` when there was none.
    fn delete_log_group(&self, group: &str, region: &str) -> Result<bool, AwsError>;
    /// The versions of an EKS add-on that EKS offers for a Kubernetes version
    /// (DescribeAddonVersions).
    fn addon_versions(
        &self,
        addon: &str,
        kubernetes: &str,
        region: &str,
    ) -> Result<Vec<String>, AwsError>;
}

/// The AWS SDK, one configuration per region, on a private tokio runtime.
#[derive(Debug)]
pub struct SdkAws {
    runtime: tokio::runtime::Runtime,
}

impl SdkAws {
    pub fn new() -> std::io::Result<SdkAws> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(SdkAws { runtime })
    }

    /// The SDK configuration for a region (standard chain; rustls with ring).
    pub fn config(&self, region: &str) -> aws_config::SdkConfig {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        self.runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(http)
                .region(aws_config::Region::new(region.to_string()))
                .load(),
        )
    }
}

impl SdkAws {
    /// Runs a future on this client's runtime (for callers that use the SDK directly).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

impl Aws for SdkAws {
    fn caller_identity(&self, region: &str) -> Result<CallerIdentity, AwsError> {
        let config = self.config(region);
        let client = aws_sdk_sts::Client::new(&config);
        let out = self
            .runtime
            .block_on(client.get_caller_identity().send())
            .map_err(|e| AwsError::Credentials(error_chain(&e)))?;
        Ok(CallerIdentity {
            account: out.account.unwrap_or_default(),
            arn: out.arn.unwrap_or_default(),
        })
    }
    fn describe_cluster(&self, name: &str, region: &str) -> Result<ClusterEndpoint, AwsError> {
        let err = |detail: String| cluster_error(name, region, detail);
        let cluster = self
            .sdk_describe_cluster(name, region)?
            .ok_or_else(|| err("DescribeCluster found no such cluster".into()))?;
        let endpoint = cluster
            .endpoint
            .ok_or_else(|| err("the cluster has no endpoint yet (still creating?)".into()))?;
        let ca_b64 = cluster
            .certificate_authority
            .and_then(|c| c.data)
            .ok_or_else(|| err("the cluster has no certificate authority".into()))?;
        let ca = base64::engine::general_purpose::STANDARD
            .decode(ca_b64.trim())
            .map_err(|e| err(format!("certificate authority is not base64: {e}")))?;
        Ok(ClusterEndpoint {
            endpoint,
            ca_pem: String::from_utf8_lossy(&ca).into_owned(),
        })
    }

    fn cluster_version(&self, name: &str, region: &str) -> Result<Option<String>, AwsError> {
        Ok(self
            .sdk_describe_cluster(name, region)?
            .and_then(|c| c.version))
    }

    fn eks_token(&self, name: &str, region: &str) -> Result<String, AwsError> {
        let config = self.config(region);
        let provider = config
            .credentials_provider()
            .ok_or_else(|| AwsError::Credentials("no credentials provider configured".into()))?;
        let creds = self
            .runtime
            .block_on(provider.provide_credentials())
            .map_err(|e| AwsError::Credentials(error_chain(&e)))?;
        eks_token(&creds, name, region, SystemTime::now())
    }

    fn secret_string(&self, id: &str, region: &str) -> Result<String, AwsError> {
        let config = self.config(region);
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let result = self
            .runtime
            .block_on(client.get_secret_value().secret_id(id).send());
        match result {
            Ok(out) => out.secret_string.ok_or_else(|| AwsError::Secret {
                secret: id.to_string(),
                region: region.to_string(),
                detail: "the secret has no SecretString (binary secrets are not supported)".into(),
            }),
            Err(e) => {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception());
                if not_found {
                    Err(AwsError::SecretMissing {
                        secret: id.to_string(),
                        region: region.to_string(),
                    })
                } else {
                    Err(AwsError::Secret {
                        secret: id.to_string(),
                        region: region.to_string(),
                        detail: error_chain(&e),
                    })
                }
            }
        }
    }

    fn list_keys(&self, bucket: &str, region: &str) -> Result<Vec<String>, AwsError> {
        let config = self.config(region);
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        let client = aws_sdk_s3::Client::from_conf(s3);
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .runtime
                .block_on(
                    client
                        .list_objects_v2()
                        .bucket(bucket)
                        .set_continuation_token(token.clone())
                        .send(),
                )
                .map_err(|e| AwsError::Bucket {
                    bucket: bucket.to_string(),
                    region: region.to_string(),
                    detail: format!("ListObjectsV2 failed: {}", error_chain(&e)),
                })?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(keys)
    }

    fn get_object(
        &self,
        bucket: &str,
        key: &str,
        region: &str,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        let config = self.config(region);
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        let client = aws_sdk_s3::Client::from_conf(s3);
        let err = |detail: String| AwsError::Bucket {
            bucket: bucket.to_string(),
            region: region.to_string(),
            detail,
        };
        match self
            .runtime
            .block_on(client.get_object().bucket(bucket).key(key).send())
        {
            Ok(out) => {
                let bytes = self
                    .runtime
                    .block_on(out.body.collect())
                    .map_err(|e| err(format!("GetObject {key}: {e}")))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(err(format!("GetObject {key}: {}", error_chain(&e)))),
        }
    }

    fn bucket_exists(&self, bucket: &str, region: &str) -> Result<bool, AwsError> {
        let config = self.config(region);
        // S3 emulators and S3-compatible stores behind an endpoint override (AWS_ENDPOINT_URL)
        // expect path-style requests; AWS itself gets the default virtual-hosted style.
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        let client = aws_sdk_s3::Client::from_conf(s3);
        let result = self
            .runtime
            .block_on(client.head_bucket().bucket(bucket).send());
        let err = |detail: String| AwsError::Bucket {
            bucket: bucket.to_string(),
            region: region.to_string(),
            detail,
        };
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                // HeadBucket has no body, so S3 says "not found" only through the status.
                let status = e.raw_response().map(|r| r.status().as_u16());
                let not_found = e.as_service_error().is_some_and(|s| s.is_not_found());
                match status {
                    _ if not_found => Ok(false),
                    Some(404) => Ok(false),
                    Some(403) => Err(err(
                        "HeadBucket was denied (403): the name belongs to another account, or these credentials may not s3:ListBucket it".into(),
                    )),
                    Some(301) => Err(err(
                        "HeadBucket answered 301: the bucket is in another region than the platform's".into(),
                    )),
                    _ => Err(err(format!("HeadBucket failed: {}", error_chain(&e)))),
                }
            }
        }
    }

    fn service_quota(
        &self,
        service: &str,
        code: &str,
        region: &str,
    ) -> Result<Option<f64>, AwsError> {
        self.sdk_service_quota(service, code, region)
    }

    fn delete_log_group(&self, group: &str, region: &str) -> Result<bool, AwsError> {
        let client = aws_sdk_cloudwatchlogs::Client::new(&self.config(region));
        match self
            .runtime
            .block_on(client.delete_log_group().log_group_name(group).send())
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::LogGroup {
                group: group.to_string(),
                region: region.to_string(),
                detail: format!("DeleteLogGroup failed: {}", error_chain(&e)),
            }),
        }
    }

    fn addon_versions(
        &self,
        addon: &str,
        kubernetes: &str,
        region: &str,
    ) -> Result<Vec<String>, AwsError> {
        let client = aws_sdk_eks::Client::new(&self.config(region));
        let out = self
            .runtime
            .block_on(
                client
                    .describe_addon_versions()
                    .addon_name(addon)
                    .kubernetes_version(kubernetes)
                    .send(),
            )
            .map_err(|e| AwsError::Addon {
                addon: addon.to_string(),
                kubernetes: kubernetes.to_string(),
                region: region.to_string(),
                detail: format!("DescribeAddonVersions failed: {}", error_chain(&e)),
            })?;
        Ok(out
            .addons
            .unwrap_or_default()
            .into_iter()
            .flat_map(|a| a.addon_versions.unwrap_or_default())
            .filter_map(|v| v.addon_version)
            .collect())
    }
}

impl SdkAws {
    /// EKS DescribeCluster, the one call behind [`Aws::describe_cluster`] and
    /// [`Aws::cluster_version`]: `None` when EKS has no such cluster.
    fn sdk_describe_cluster(
        &self,
        name: &str,
        region: &str,
    ) -> Result<Option<aws_sdk_eks::types::Cluster>, AwsError> {
        let client = aws_sdk_eks::Client::new(&self.config(region));
        match self
            .runtime
            .block_on(client.describe_cluster().name(name).send())
        {
            Ok(out) => Ok(out.cluster),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(cluster_error(
                name,
                region,
                format!("DescribeCluster failed: {}", error_chain(&e)),
            )),
        }
    }

    fn quotas_client(&self, region: &str) -> aws_sdk_servicequotas::Client {
        aws_sdk_servicequotas::Client::new(&self.config(region))
    }
}

/// Quota values for the account (see [`Aws::service_quota`]), and the other calls of the
/// deploy's preflight and of destroy.
impl SdkAws {
    fn sdk_service_quota(
        &self,
        service: &str,
        code: &str,
        region: &str,
    ) -> Result<Option<f64>, AwsError> {
        let client = self.quotas_client(region);
        let err = |detail: String| AwsError::Quota {
            service: service.to_string(),
            code: code.to_string(),
            region: region.to_string(),
            detail,
        };
        let applied = self.runtime.block_on(
            client
                .get_service_quota()
                .service_code(service)
                .quota_code(code)
                .send(),
        );
        match applied {
            Ok(out) => return Ok(out.quota.and_then(|q| q.value)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_resource_exception()) => {}
            Err(e) => return Err(err(format!("GetServiceQuota failed: {}", error_chain(&e)))),
        }
        // Never changed in this account: its value is the AWS default.
        let default = self.runtime.block_on(
            client
                .get_aws_default_service_quota()
                .service_code(service)
                .quota_code(code)
                .send(),
        );
        match default {
            Ok(out) => Ok(out.quota.and_then(|q| q.value)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_resource_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(err(format!(
                "GetAWSDefaultServiceQuota failed: {}",
                error_chain(&e)
            ))),
        }
    }
}

fn cluster_error(name: &str, region: &str, detail: String) -> AwsError {
    AwsError::Cluster {
        cluster: name.to_string(),
        region: region.to_string(),
        detail,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        // The SDK repeats the service message at several levels; say it once.
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// How long the presigned URL inside a token is valid (what aws-iam-authenticator uses).
const TOKEN_URL_EXPIRES: Duration = Duration::from_secs(60);

/// The EKS token: `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity
/// URL whose signed headers include `x-k8s-aws-id: <cluster>`.
pub fn eks_token(
    creds: &aws_credential_types::Credentials,
    cluster: &str,
    region: &str,
    now: SystemTime,
) -> Result<String, AwsError> {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let host = format!("sts.{region}.amazonaws.com");
    let url = format!("https://{host}/?Action=GetCallerIdentity&Version=2011-06-15");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_URL_EXPIRES);
    let identity = creds.clone().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| AwsError::Credentials(e.to_string()))?
        .into();
    let headers = [("host", host.as_str()), ("x-k8s-aws-id", cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .map_err(|e| AwsError::Credentials(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| AwsError::Credentials(e.to_string()))?
        .into_parts();
    let mut signed = url;
    for (k, v) in instructions.params() {
        signed.push('&');
        signed.push_str(k);
        signed.push('=');
        signed.push_str(&percent_encode(v));
    }
    Ok(format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signed)
    ))
}

/// RFC 3986 unreserved characters stay, everything else is %XX (what SigV4 expects).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_a_presigned_get_caller_identity_for_the_cluster() {
        let creds = aws_credential_types::Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = eks_token(&creds, "production", "eu-west-1", now).unwrap();
        let b64 = token.strip_prefix("k8s-aws-v1.").expect("token prefix");
        assert!(!b64.contains('='), "no padding");
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .unwrap(),
        )
        .unwrap();
        assert!(url.starts_with(
            "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&"
        ));
        assert!(url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{url}");
        assert!(
            url.contains(
                "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Fsts%2Faws4_request"
            ),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=60"), "{url}");
        assert!(url.contains("X-Amz-Signature="), "{url}");
        // A different cluster signs differently.
        let other = eks_token(&creds, "staging", "eu-west-1", now).unwrap();
        assert_ne!(token, other);
    }
}
