//! Shared by the integration tests: fixture platforms, a scratch repository with the generated
//! output "committed", recording stand-ins for terraform/helm/kubectl, and fakes for AWS and
//! Kubernetes.

#![allow(dead_code)]

pub mod fake_api;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flotilla_deploy::aws::{Aws, AwsError, ClusterEndpoint};
use flotilla_deploy::kube::{Conn, Kube, KubeError, ObjectRef};
use flotilla_deploy::runner::{Cancel, Silent};
use flotilla_deploy::{Io, Timeouts};
use flotilla_model::{Platform, Versions};
use flotilla_plan::Tool;
use serde_json::{Value, json};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn repo_root() -> PathBuf {
    crate_dir().join("../..")
}

#[allow(unused_imports)]
pub use flotilla_testkit::fixtures::load;

#[allow(unused_imports)]
pub use flotilla_testkit::fixtures::{seed, two_envs};

/// A scratch repository holding the platform's generated output, as if committed.
pub fn scratch_repo(platform: &Platform) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in flotilla_generate::render_all(platform).files {
        let p = dir.path().join(&path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    dir
}

/// How the stand-ins behave. Patterns match the line `<tool> <args...>`.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Exit 1 when the line contains this.
    pub fail: Option<String>,
    /// Sleep (interruptibly) 30 s when the line contains this.
    pub hang: Option<String>,
    /// Seconds every call takes, unless `durations` says otherwise.
    pub sleep: f64,
    /// Per-call durations: the first bash glob (`*` matches anything, spaces included) that
    /// matches the whole line `<tool> <args...>` gives the call's seconds; no match: `sleep`.
    pub durations: Vec<(String, f64)>,
    /// Exit code of `terraform plan -detailed-exitcode`.
    pub verify_exit: i32,
    /// Modules whose `terraform state list` prints resources.
    pub state: Vec<String>,
    /// Releases that `helm diff upgrade` shows changes for (exit 2 with `--detailed-exitcode`);
    /// the others print nothing and exit 0.
    pub helm_changes: Vec<String>,
}

/// Recording stand-ins: each call appends `start <ts> <tool> <cwd> :: <args>` and
/// `end <ts> <tool> <code> :: <args>` to one log file.
pub struct StandIns {
    pub dir: PathBuf,
    pub log: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub event: String,
    pub at: f64,
    pub tool: String,
    pub cwd_or_code: String,
    pub args: String,
}

impl Call {
    /// `terraform -chdir=infra/dev apply ...` -> `dev`.
    pub fn module(&self) -> Option<String> {
        self.args
            .split_whitespace()
            .find_map(|a| a.strip_prefix("-chdir=infra/"))
            .map(str::to_string)
    }

    /// The first argument that is not a flag (`init`, `plan`, `upgrade`, ...).
    pub fn sub(&self) -> String {
        self.args
            .split_whitespace()
            .find(|a| !a.starts_with('-'))
            .unwrap_or("")
            .to_string()
    }
}

impl StandIns {
    pub fn new(dir: &Path, b: &Behaviour) -> StandIns {
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).unwrap();
        let log = dir.join("calls.log");
        fs::write(&log, "").unwrap();
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let conf = format!(
            "LOG={log}\nFAIL={fail}\nHANG={hang}\nSLEEP={sleep}\nVERIFY_EXIT={verify}\nSTATE={state}\nHELM_CHANGES={helm_changes}\nDURATIONS=({durations})\n",
            log = q(&log.to_string_lossy()),
            fail = q(b.fail.as_deref().unwrap_or("")),
            hang = q(b.hang.as_deref().unwrap_or("")),
            sleep = b.sleep,
            verify = b.verify_exit,
            state = q(&b.state.join(" ")),
            helm_changes = q(&b.helm_changes.join(" ")),
            durations = b
                .durations
                .iter()
                .map(|(pattern, secs)| format!("{} {secs}", q(pattern)))
                .collect::<Vec<_>>()
                .join(" "),
        );
        fs::write(bin.join("standin.conf"), conf).unwrap();
        let script = include_str!("standin.sh");
        for tool in ["terraform", "helm", "kubectl"] {
            let p = bin.join(tool);
            fs::write(&p, script).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        StandIns { dir: bin, log }
    }

    pub fn tools(&self) -> BTreeMap<Tool, PathBuf> {
        [Tool::Terraform, Tool::Helm, Tool::Kubectl]
            .into_iter()
            .map(|t| (t, self.dir.join(t.name())))
            .collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let (head, args) = l.split_once(" :: ").unwrap_or((l, ""));
                let mut it = head.splitn(4, ' ');
                Some(Call {
                    event: it.next()?.to_string(),
                    at: it.next()?.parse().ok()?,
                    tool: it.next()?.to_string(),
                    cwd_or_code: it.next().unwrap_or("").to_string(),
                    args: args.to_string(),
                })
            })
            .collect()
    }

    pub fn starts(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.event == "start")
            .collect()
    }
}

/// AWS without a network: every cluster exists, secrets from a map, every bucket exists but
/// those listed as missing, every quota is ample but those listed, EKS offers every pinned
/// add-on version but those listed, and log groups are a set.
#[derive(Default)]
pub struct FakeAws {
    pub secrets: BTreeMap<String, String>,
    pub missing_buckets: BTreeSet<String>,
    /// Quota code -> the account's value (others: 100000).
    pub quotas: BTreeMap<String, f64>,
    /// Add-ons whose pinned version EKS does not offer.
    pub unoffered_addons: BTreeSet<String>,
    /// EKS name -> the Kubernetes version it runs (DescribeCluster); a cluster not listed is
    /// not created yet as far as the preflight asks.
    pub cluster_versions: BTreeMap<String, String>,
    pub log_groups: Mutex<BTreeSet<String>>,
    pub calls: Mutex<Vec<String>>,
    /// The state bucket's keys (ListObjectsV2); each holds a state with one resource unless
    /// `states` says otherwise. Left empty, no key is listed and every state asked for holds
    /// resources (every cluster deployed).
    pub state_keys: Vec<String>,
    /// Key -> the state object's text (GetObject).
    pub states: BTreeMap<String, String>,
    /// What GetCallerIdentity answers (default: a role in 111122223333, the account of the
    /// two-environment fixture most tests deploy; [`FakeAws::in_account`] for another).
    pub identity: Option<Result<flotilla_deploy::aws::CallerIdentity, AwsError>>,
}

impl FakeAws {
    /// Credentials that resolve to a role in `account`.
    pub fn in_account(mut self, account: &str) -> FakeAws {
        self.identity = Some(Ok(flotilla_deploy::aws::CallerIdentity {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:role/deploy"),
        }));
        self
    }
}

pub const FAKE_CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

impl Aws for FakeAws {
    fn get_object(
        &self,
        _bucket: &str,
        key: &str,
        _region: &str,
    ) -> Result<Option<Vec<u8>>, AwsError> {
        Ok(match self.states.get(key) {
            Some(s) => Some(s.clone().into_bytes()),
            // Unconfigured, every cluster has been deployed and holds resources.
            None if self.state_keys.is_empty() || self.state_keys.iter().any(|k| k == key) => Some(
                br#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_vpc", "name": "this"}]}"#
                    .to_vec(),
            ),
            None => None,
        })
    }
    fn list_keys(&self, bucket: &str, _region: &str) -> Result<Vec<String>, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("ListObjectsV2 {bucket}"));
        Ok(self.state_keys.clone())
    }
    fn caller_identity(
        &self,
        region: &str,
    ) -> Result<flotilla_deploy::aws::CallerIdentity, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("GetCallerIdentity {region}"));
        self.identity.clone().unwrap_or_else(|| {
            Ok(flotilla_deploy::aws::CallerIdentity {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:role/deploy".into(),
            })
        })
    }
    fn describe_cluster(&self, name: &str, region: &str) -> Result<ClusterEndpoint, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("DescribeCluster {name} {region}"));
        Ok(ClusterEndpoint {
            endpoint: format!("https://{name}.eks.test"),
            ca_pem: FAKE_CA.into(),
        })
    }
    fn cluster_version(&self, name: &str, region: &str) -> Result<Option<String>, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("DescribeCluster {name} {region} (version)"));
        Ok(self.cluster_versions.get(name).cloned())
    }
    fn eks_token(&self, name: &str, _region: &str) -> Result<String, AwsError> {
        Ok(format!("k8s-aws-v1.fake-{name}"))
    }
    fn secret_string(&self, id: &str, region: &str) -> Result<String, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("GetSecretValue {id} {region}"));
        self.secrets
            .get(id)
            .cloned()
            .ok_or_else(|| AwsError::SecretMissing {
                secret: id.into(),
                region: region.into(),
            })
    }
    fn bucket_exists(&self, bucket: &str, region: &str) -> Result<bool, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("HeadBucket {bucket} {region}"));
        Ok(!self.missing_buckets.contains(bucket))
    }
    fn service_quota(
        &self,
        service: &str,
        code: &str,
        region: &str,
    ) -> Result<Option<f64>, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("GetServiceQuota {service} {code} {region}"));
        Ok(Some(self.quotas.get(code).copied().unwrap_or(100_000.0)))
    }
    fn delete_log_group(&self, group: &str, region: &str) -> Result<bool, AwsError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("DeleteLogGroup {group} {region}"));
        Ok(self.log_groups.lock().unwrap().remove(group))
    }
    fn addon_versions(
        &self,
        addon: &str,
        kubernetes: &str,
        region: &str,
    ) -> Result<Vec<String>, AwsError> {
        self.calls.lock().unwrap().push(format!(
            "DescribeAddonVersions {addon} {kubernetes} {region}"
        ));
        let pinned = Versions::embedded()
            .eks_addon(addon, kubernetes)
            .map(str::to_string);
        Ok(if self.unoffered_addons.contains(addon) {
            vec!["v0.0.1-eksbuild.1".to_string()]
        } else {
            pinned.into_iter().collect()
        })
    }
}

/// An in-memory Kubernetes per cluster that plays the operators: applied objects become ready
/// (unless their kind is listed in `never_ready`), a KafkaUser gets its Secret and a Kafka its
/// cluster CA Secret, as Strimzi does, and an Elasticsearch its user and CA Secrets, as ECK does.
#[derive(Default)]
pub struct FakeKube {
    pub objects: Mutex<BTreeMap<(String, String), Value>>,
    /// (cluster, path, dry_run) of every apply, in order.
    pub applies: Mutex<Vec<(String, String, bool)>>,
    pub deletes: Mutex<Vec<(String, String)>>,
    pub never_ready: BTreeSet<String>,
    /// Tokens seen per cluster.
    pub tokens: Mutex<BTreeSet<(String, String)>>,
}

impl FakeKube {
    fn ready(&self, mut o: Value) -> Value {
        let kind = o["kind"].as_str().unwrap_or("").to_string();
        if self.never_ready.contains(&kind) {
            o["status"] = json!({"conditions":[{"type":"Ready","status":"False","message":"operator still working"}]});
            return o;
        }
        o["status"] = match kind.as_str() {
            "Deployment" => {
                json!({"availableReplicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1))})
            }
            "StatefulSet" => {
                json!({"readyReplicas": o.pointer("/spec/replicas").cloned().unwrap_or(json!(1))})
            }
            "Elasticsearch" | "Kibana" | "Logstash" => json!({"health":"green"}),
            _ => json!({"conditions":[
                {"type":"Ready","status":"True"},
                {"type":"Programmed","status":"True"},
                {"type":"Established","status":"True"}]}),
        };
        o
    }

    /// A fake whose controlplane already holds what Strimzi writes for `env`'s cluster (an
    /// environment deploy copies it), as after `deploy controlplane`.
    pub fn with_controlplane_for(platform: &Platform, env: &str) -> FakeKube {
        let kube = FakeKube::default();
        let workload = platform.cluster_for_environment(env).unwrap();
        for (from, _) in flotilla_plan::wiring::kafka_secrets(platform, workload) {
            kube.put(
                &from.cluster,
                json!({"apiVersion":"v1","kind":"Secret",
                    "metadata":{"name":from.name,"namespace":from.namespace},
                    "data":{"ca.crt":"Y2EtY2VydA==","user.password":"cGFzcw=="}}),
            );
        }
        kube
    }

    pub fn object(&self, cluster: &str, path: &str) -> Option<Value> {
        self.objects
            .lock()
            .unwrap()
            .get(&(cluster.to_string(), path.to_string()))
            .cloned()
    }

    fn put(&self, cluster: &str, o: Value) {
        let r = ObjectRef::of(&o).unwrap();
        self.objects
            .lock()
            .unwrap()
            .insert((cluster.to_string(), r.path()), o);
    }
}

impl Kube for FakeKube {
    fn apply(&self, conn: &Conn, object: &Value, dry_run: bool) -> Result<Value, KubeError> {
        let r = ObjectRef::of(object).unwrap();
        self.applies
            .lock()
            .unwrap()
            .push((conn.cluster.clone(), r.path(), dry_run));
        self.tokens
            .lock()
            .unwrap()
            .insert((conn.cluster.clone(), conn.token.clone()));
        let stored = self.ready(object.clone());
        if !dry_run {
            self.put(&conn.cluster, stored.clone());
            let ns = r.namespace.clone().unwrap_or_default();
            if r.kind == "KafkaUser" {
                self.put(
                    &conn.cluster,
                    json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":r.name,"namespace":ns},
                        "data":{"user.crt":"Y3J0LW9mLXVzZXI=","user.key":"a2V5LW9mLXVzZXI=","user.password":"cGFzcw=="}}),
                );
            }
            if r.kind == "Elasticsearch" {
                for secret in eck_secrets(&r.name, &ns) {
                    self.put(&conn.cluster, secret);
                }
            }
            if r.kind == "Kafka" {
                self.put(
                    &conn.cluster,
                    json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":format!("{}-cluster-ca-cert", r.name),"namespace":ns},
                        "data":{"ca.crt":"Y2EtY2VydA=="}}),
                );
            }
        }
        Ok(stored)
    }
    fn get(&self, conn: &Conn, object: &ObjectRef) -> Result<Option<Value>, KubeError> {
        Ok(self.object(&conn.cluster, &object.path()))
    }
    fn list(
        &self,
        conn: &Conn,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, KubeError> {
        if kind == "Node" {
            return Ok(vec![
                json!({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"},
                "status":{"conditions":[{"type":"Ready","status":"True"}]}}),
            ]);
        }
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|((c, _), o)| {
                c == &conn.cluster
                    && o["kind"] == kind
                    && o["apiVersion"] == api_version
                    && namespace
                        .is_none_or(|ns| o.pointer("/metadata/namespace") == Some(&json!(ns)))
            })
            .map(|(_, o)| o.clone())
            .collect())
    }
    fn delete(&self, conn: &Conn, object: &ObjectRef) -> Result<(), KubeError> {
        self.deletes
            .lock()
            .unwrap()
            .push((conn.cluster.clone(), object.path()));
        self.objects
            .lock()
            .unwrap()
            .remove(&(conn.cluster.clone(), object.path()));
        Ok(())
    }
    fn version(&self, _conn: &Conn) -> Result<String, KubeError> {
        Ok("v1.34.0-fake".into())
    }
}

/// The Secrets ECK writes for an `Elasticsearch` (the `elastic` user's password, the HTTP CA).
pub fn eck_secrets(name: &str, namespace: &str) -> [Value; 2] {
    [
        json!({"apiVersion":"v1","kind":"Secret",
            "metadata":{"name":format!("{name}-es-elastic-user"),"namespace":namespace},
            "data":{"elastic":"cGFzcw=="}}),
        json!({"apiVersion":"v1","kind":"Secret",
            "metadata":{"name":format!("{name}-es-http-certs-public"),"namespace":namespace},
            "data":{"ca.crt":"Y2EtY2VydA=="}}),
    ]
}

/// An [`Io`] over fakes and stand-ins, silent, non-interactive.
pub fn io(aws: FakeAws, kube: Arc<FakeKube>, tools: BTreeMap<Tool, PathBuf>) -> Io {
    Io {
        aws: Box::new(aws),
        kube: Box::new(SharedKube(kube)),
        cancel: Cancel::new(),
        reporter: Some(Box::new(Silent)),
        prompt: None,
        endpoints: BTreeMap::new(),
        tools,
    }
}

/// Lets a test keep a handle on the fake it gave away.
pub struct SharedAws(pub Arc<FakeAws>);

impl Aws for SharedAws {
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
    fn describe_cluster(&self, name: &str, region: &str) -> Result<ClusterEndpoint, AwsError> {
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
        self.0.service_quota(s, c, r)
    }
    fn delete_log_group(&self, g: &str, r: &str) -> Result<bool, AwsError> {
        self.0.delete_log_group(g, r)
    }
    fn addon_versions(&self, a: &str, k: &str, r: &str) -> Result<Vec<String>, AwsError> {
        self.0.addon_versions(a, k, r)
    }
}

/// Lets a test keep a handle on the fake it gave away.
pub struct SharedKube(pub Arc<FakeKube>);

impl Kube for SharedKube {
    fn apply(&self, c: &Conn, o: &Value, d: bool) -> Result<Value, KubeError> {
        self.0.apply(c, o, d)
    }
    fn get(&self, c: &Conn, o: &ObjectRef) -> Result<Option<Value>, KubeError> {
        self.0.get(c, o)
    }
    fn list(&self, c: &Conn, a: &str, k: &str, n: Option<&str>) -> Result<Vec<Value>, KubeError> {
        self.0.list(c, a, k, n)
    }
    fn delete(&self, c: &Conn, o: &ObjectRef) -> Result<(), KubeError> {
        self.0.delete(c, o)
    }
    fn version(&self, c: &Conn) -> Result<String, KubeError> {
        self.0.version(c)
    }
}

/// Short waits for tests.
pub fn quick() -> Timeouts {
    Timeouts {
        helm: std::time::Duration::from_secs(5),
        ready: std::time::Duration::from_secs(1),
        poll: std::time::Duration::from_millis(100),
    }
}
