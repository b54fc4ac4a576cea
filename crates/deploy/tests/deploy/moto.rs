//! AWS through a moto server started here: DescribeCluster gives endpoint and certificate
//! authority, Secrets Manager gives receiver credentials, a missing secret is a clear error
//! naming it, S3 HeadBucket tells whether the state bucket exists (and an environment deploy
//! without the bootstrap's local state stops, then goes on, on that answer). The SDK finds moto through `AWS_ENDPOINT_URL`, as it would in any environment,
//! so the checks run in a child test process with that environment.

use crate::support;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_deploy::aws::{Aws, AwsError, SdkAws};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(program: &std::path::Path) -> (Moto, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // The account GetCallerIdentity answers: the two-environment fixture's.
        .env("MOTO_ACCOUNT_ID", "111122223333")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, port)
}

#[test]
fn aws_through_moto() {
    let Some(moto_server) =
        flotilla_testkit::tool("moto_server", None, "pip install 'moto[server]'")
    else {
        return;
    };
    let (_moto, port) = start_moto(&moto_server);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["moto_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("FLOTILLA_MOTO_CHILD", "1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 passed"), "the children ran: {text}");
}

/// Run by `aws_through_moto` with the environment pointing at moto.
#[test]
#[ignore = "run by aws_through_moto against its moto server"]
fn moto_child() {
    assert!(
        std::env::var_os("FLOTILLA_MOTO_CHILD").is_some(),
        "run through aws_through_moto"
    );
    let aws = SdkAws::new().unwrap();
    let region = "eu-west-1";
    let config = aws.config(region);
    // Arrange what Terraform would have made: a cluster and the receiver's secret.
    let eks = aws_sdk_eks::Client::new(&config);
    let created = aws
        .block_on(
            eks.create_cluster()
                .name("flotilla-production")
                .role_arn("arn:aws:iam::123456789012:role/eks")
                .resources_vpc_config(
                    aws_sdk_eks::types::VpcConfigRequest::builder()
                        .subnet_ids("subnet-1")
                        .build(),
                )
                .send(),
        )
        .unwrap()
        .cluster
        .unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    aws.block_on(
        sm.create_secret()
            .name("flotilla/alerting/slack-webhook")
            .secret_string("https://hooks.slack.invalid/T000/B000/XXXX")
            .send(),
    )
    .unwrap();

    let described = aws.describe_cluster("flotilla-production", region).unwrap();
    assert_eq!(Some(described.endpoint.as_str()), created.endpoint());
    assert!(described.endpoint.starts_with("https://"));
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(created.certificate_authority().unwrap().data().unwrap())
        .unwrap();
    assert_eq!(described.ca_pem, String::from_utf8_lossy(&ca));

    // The preflight's version check: what runs, and no cluster (not created yet) as `None`.
    assert_eq!(
        aws.cluster_version("flotilla-production", region).unwrap(),
        created.version().map(str::to_string)
    );
    assert!(created.version().is_some());
    assert_eq!(aws.cluster_version("nope", region).unwrap(), None);

    let missing_cluster = aws.describe_cluster("nope", region).unwrap_err();
    assert!(
        missing_cluster.to_string().contains("EKS cluster `nope`"),
        "{missing_cluster}"
    );

    assert_eq!(
        aws.secret_string("flotilla/alerting/slack-webhook", region)
            .unwrap(),
        "https://hooks.slack.invalid/T000/B000/XXXX"
    );
    let err = aws
        .secret_string("flotilla/alerting/smtp-password", region)
        .unwrap_err();
    assert_eq!(
        err,
        AwsError::SecretMissing {
            secret: "flotilla/alerting/smtp-password".into(),
            region: region.into()
        }
    );
    assert!(
        err.to_string()
            .contains("`flotilla/alerting/smtp-password`")
    );

    // The token is signed with the credentials of the standard chain (here: the environment).
    let token = aws.eks_token("flotilla-production", region).unwrap();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.strip_prefix("k8s-aws-v1.").unwrap())
        .unwrap();
    let url = String::from_utf8(url).unwrap();
    assert!(url.contains("X-Amz-Credential=testing%2F"), "{url}");

    // The preflight's VPC quota through Service Quotas (moto answers the VPC defaults).
    assert_eq!(
        aws.service_quota("vpc", "L-F678F1CE", region).unwrap(),
        Some(5.0)
    );
    // Destroy's leftover log group: deleted once, then there is none.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    aws.block_on(
        logs.create_log_group()
            .log_group_name("/aws/eks/flotilla-production/cluster")
            .send(),
    )
    .unwrap();
    assert!(
        aws.delete_log_group("/aws/eks/flotilla-production/cluster", region)
            .unwrap()
    );
    assert!(
        !aws.delete_log_group("/aws/eks/flotilla-production/cluster", region)
            .unwrap()
    );
}

/// The SDK against moto, except for what moto does not implement: EC2 and EBS quotas (moto's
/// Service Quotas knows only VPC's) and EKS DescribeAddonVersions, answered as a fresh account
/// would (generous quotas set by the test; EKS offering the pinned versions). Those calls go
/// through the SDK in `service_quotas_through_the_sdk` instead.
struct MotoAws(SdkAws);

impl Aws for MotoAws {
    fn get_object(&self, b: &str, k: &str, r: &str) -> Result<Option<Vec<u8>>, AwsError> {
        self.0.get_object(b, k, r)
    }
    fn list_keys(&self, bucket: &str, region: &str) -> Result<Vec<String>, AwsError> {
        self.0.list_keys(bucket, region)
    }
    fn caller_identity(
        &self,
        region: &str,
    ) -> Result<flotilla_deploy::aws::CallerIdentity, AwsError> {
        self.0.caller_identity(region)
    }
    fn describe_cluster(
        &self,
        name: &str,
        region: &str,
    ) -> Result<flotilla_deploy::aws::ClusterEndpoint, AwsError> {
        self.0.describe_cluster(name, region)
    }
    fn cluster_version(&self, name: &str, region: &str) -> Result<Option<String>, AwsError> {
        self.0.cluster_version(name, region)
    }
    fn eks_token(&self, name: &str, region: &str) -> Result<String, AwsError> {
        self.0.eks_token(name, region)
    }
    fn secret_string(&self, id: &str, region: &str) -> Result<String, AwsError> {
        self.0.secret_string(id, region)
    }
    fn bucket_exists(&self, bucket: &str, region: &str) -> Result<bool, AwsError> {
        self.0.bucket_exists(bucket, region)
    }
    fn service_quota(&self, s: &str, c: &str, r: &str) -> Result<Option<f64>, AwsError> {
        if s == "vpc" {
            self.0.service_quota(s, c, r)
        } else {
            Ok(Some(10_000.0))
        }
    }
    fn delete_log_group(&self, g: &str, r: &str) -> Result<bool, AwsError> {
        self.0.delete_log_group(g, r)
    }
    fn addon_versions(&self, a: &str, k: &str, _r: &str) -> Result<Vec<String>, AwsError> {
        Ok(flotilla_model::Versions::embedded()
            .eks_addon(a, k)
            .map(str::to_string)
            .into_iter()
            .collect())
    }
}

/// Run by `aws_through_moto`: the state bucket check of an environment deploy, through the SDK.
#[test]
#[ignore = "run by aws_through_moto against its moto server"]
fn moto_child_bootstrap() {
    use flotilla_deploy::journal::{self, Status};
    assert!(
        std::env::var_os("FLOTILLA_MOTO_CHILD").is_some(),
        "run through aws_through_moto"
    );
    let p = support::two_envs();
    let region = p.region.as_str();
    let aws = SdkAws::new().unwrap();
    let config = aws.config(region);
    let bucket = p.state_bucket.clone();

    assert!(!aws.bucket_exists(&bucket, region).unwrap());

    // An environment deploy on a machine without the bootstrap's local state: S3 decides.
    let repo = support::scratch_repo(&p);
    let stand = support::StandIns::new(repo.path(), &support::Behaviour::default());
    let mut io = support::io(
        support::FakeAws::default(),
        Arc::new(support::FakeKube::with_controlplane_for(&p, "dev")),
        stand.tools(),
    );
    io.aws = Box::new(MotoAws(SdkAws::new().unwrap()));
    let mut args = flotilla_deploy::DeployArgs::new("dev");
    args.yes = true;
    args.timeouts = support::quick();
    let deploy = |io: &flotilla_deploy::Io| {
        let mut out = Vec::new();
        let code = flotilla_deploy::deploy(repo.path(), &p, &args, io, &mut out).unwrap();
        let j = journal::latest(repo.path(), "deploy", "dev")
            .unwrap()
            .unwrap()
            .1;
        (code, j, String::from_utf8(out).unwrap())
    };
    let (code, j, out) = deploy(&io);
    assert_eq!(code, 1, "{out}");
    let verify = j
        .step(&flotilla_plan::graph::StepId("verify:bootstrap".into()))
        .unwrap();
    assert_eq!(verify.status, Status::Failed);
    assert!(
        verify.message.as_ref().unwrap().contains(&format!(
            "state bucket {bucket} does not exist in {region} (checked with S3 HeadBucket"
        )),
        "{verify:?}"
    );
    assert!(stand.starts().is_empty());

    // The bucket and the clusters exist (as after `deploy all`): the deploy goes through.
    let s3 = aws_sdk_s3::Client::new(&config);
    aws.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    assert!(aws.bucket_exists(&bucket, region).unwrap());
    let eks = aws_sdk_eks::Client::new(&config);
    for name in ["eks-controlplane", "eks-dev"] {
        aws.block_on(
            eks.create_cluster()
                .name(name)
                .role_arn("arn:aws:iam::111122223333:role/eks")
                .resources_vpc_config(
                    aws_sdk_eks::types::VpcConfigRequest::builder()
                        .subnet_ids("subnet-1")
                        .build(),
                )
                .send(),
        )
        .unwrap();
    }
    let (code, j, out) = deploy(&io);
    assert_eq!(code, 0, "{out}");
    let log = std::fs::read_to_string(
        repo.path().join(
            j.step(&flotilla_plan::graph::StepId("verify:bootstrap".into()))
                .unwrap()
                .log
                .as_ref()
                .unwrap(),
        ),
    )
    .unwrap();
    assert!(
        log.contains(&format!(
            "state bucket {bucket} exists (checked with S3 HeadBucket in {region}"
        )),
        "{log}"
    );
    assert!(
        !stand
            .starts()
            .iter()
            .any(|c| c.module().as_deref() == Some("bootstrap")),
        "the bootstrap is not touched from a machine without its state"
    );
}
