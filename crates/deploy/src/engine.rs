//! What each step does for real: the exact commands (shared with `--dry-run`, so what is
//! printed is what runs), the AWS and Kubernetes calls, and the inputs hash.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use flotilla_helm::Release;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::aws::Aws;
use crate::graph::{AddonPin, Step, TerraformMode, Work};
use crate::kube::{Conn, FIELD_MANAGER, Kube, ObjectRef};
use crate::process::{Finished, Invocation};
use crate::runner::{StepContext, StepExecutor, StepFailure};
use crate::tools::Tool;
use flotilla_model::quotas::QuotaNeed;

/// The local state of `infra/bootstrap`, relative to the module (its `backend "local"` path).
pub const BOOTSTRAP_STATE: &str = "terraform.tfstate";

/// Time limits of a run.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// `helm --timeout` (and `helm uninstall --timeout`).
    pub helm: Duration,
    /// How long readiness and finalizer waits may take.
    pub ready: Duration,
    /// How often waits poll.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            helm: Duration::from_secs(600),
            ready: Duration::from_secs(900),
            poll: Duration::from_secs(5),
        }
    }
}

/// Where a run keeps its files; `--dry-run` shows placeholders.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub run_dir: PathBuf,
}

impl Paths {
    fn tf_data_dir(&self, module: &str) -> PathBuf {
        self.root.join(".flotilla/terraform").join(module)
    }
    fn plan_file(&self, module: &str) -> PathBuf {
        self.run_dir.join("plans").join(format!("{module}.tfplan"))
    }
    fn ca_file(&self, cluster: &str) -> PathBuf {
        self.run_dir
            .join("access")
            .join(format!("{cluster}-ca.crt"))
    }
    fn kubeconfig(&self, cluster: &str) -> PathBuf {
        self.run_dir
            .join("access")
            .join(format!("{cluster}.kubeconfig"))
    }
}

fn p(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn tf(paths: &Paths, dir: &str, module: &str, args: &[&str]) -> Invocation {
    let mut all = vec![format!("-chdir={dir}")];
    all.extend(args.iter().map(|a| a.to_string()));
    Invocation::new(Tool::Terraform, all).env("TF_DATA_DIR", p(&paths.tf_data_dir(module)))
}

pub fn tf_init(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(paths, dir, module, &["init", "-input=false", "-no-color"])
}

pub fn tf_plan(paths: &Paths, dir: &str, module: &str, destroy: bool) -> Invocation {
    let out = format!("-out={}", p(&paths.plan_file(module)));
    let mut args = vec!["plan", "-input=false", "-no-color"];
    if destroy {
        args.push("-destroy");
    }
    args.push(&out);
    tf(paths, dir, module, &args)
}

pub fn tf_show(paths: &Paths, dir: &str, module: &str) -> Invocation {
    let plan = p(&paths.plan_file(module));
    tf(paths, dir, module, &["show", "-json", "-no-color", &plan])
}

pub fn tf_apply(paths: &Paths, dir: &str, module: &str) -> Invocation {
    let plan = p(&paths.plan_file(module));
    tf(
        paths,
        dir,
        module,
        &["apply", "-input=false", "-no-color", &plan],
    )
}

/// `plan -detailed-exitcode`: 0 nothing to do, 2 changes pending, 1 error.
pub fn tf_verify(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(
        paths,
        dir,
        module,
        &[
            "plan",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-detailed-exitcode",
        ],
    )
}

pub fn tf_output(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(paths, dir, module, &["output", "-json", "-no-color"])
}

pub fn tf_state_list(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(paths, dir, module, &["state", "list"])
}

fn helm_env(inv: Invocation, paths: &Paths, cluster: &str, endpoint: &str) -> Invocation {
    inv.env("HELM_KUBEAPISERVER", endpoint)
        .env("HELM_KUBECAFILE", p(&paths.ca_file(cluster)))
}

fn chart_args(r: &Release) -> Vec<String> {
    if r.repository.starts_with("oci://") {
        vec![
            format!("{}/{}", r.repository.trim_end_matches('/'), r.chart),
            "--version".into(),
            r.version.clone(),
        ]
    } else {
        vec![
            r.chart.clone(),
            "--repo".into(),
            r.repository.clone(),
            "--version".into(),
            r.version.clone(),
        ]
    }
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

pub fn helm_install(
    paths: &Paths,
    cluster: &str,
    endpoint: &str,
    r: &Release,
    timeouts: &Timeouts,
) -> Invocation {
    let mut args = vec!["upgrade".to_string(), "--install".into(), r.name.clone()];
    args.extend(chart_args(r));
    args.extend([
        "--namespace".into(),
        r.namespace.clone(),
        "--create-namespace".into(),
        "--values".into(),
        p(&paths.root.join(&r.values_file)),
        "--atomic".into(),
        "--wait".into(),
        "--timeout".into(),
        secs(timeouts.helm),
    ]);
    helm_env(Invocation::new(Tool::Helm, args), paths, cluster, endpoint)
}

pub fn helm_diff(paths: &Paths, cluster: &str, endpoint: &str, r: &Release) -> Invocation {
    let mut args = vec!["diff".to_string(), "upgrade".into(), r.name.clone()];
    args.extend(chart_args(r));
    args.extend([
        "--namespace".into(),
        r.namespace.clone(),
        "--values".into(),
        p(&paths.root.join(&r.values_file)),
        "--allow-unreleased".into(),
        "--detailed-exitcode".into(),
    ]);
    helm_env(Invocation::new(Tool::Helm, args), paths, cluster, endpoint)
}

pub fn helm_uninstall(
    paths: &Paths,
    cluster: &str,
    endpoint: &str,
    r: &Release,
    timeouts: &Timeouts,
) -> Invocation {
    let args = vec![
        "uninstall".to_string(),
        r.name.clone(),
        "--namespace".into(),
        r.namespace.clone(),
        "--ignore-not-found".into(),
        "--wait".into(),
        "--timeout".into(),
        secs(timeouts.helm),
    ];
    helm_env(Invocation::new(Tool::Helm, args), paths, cluster, endpoint)
}

pub fn kubectl_apply_url(paths: &Paths, cluster: &str, url: &str) -> Invocation {
    Invocation::new(
        Tool::Kubectl,
        [
            "apply",
            "--server-side",
            &format!("--field-manager={FIELD_MANAGER}"),
            "--force-conflicts",
            "-f",
            url,
        ],
    )
    .env("KUBECONFIG", p(&paths.kubeconfig(cluster)))
}

pub fn kubectl_wait_established(
    paths: &Paths,
    cluster: &str,
    url: &str,
    timeouts: &Timeouts,
) -> Invocation {
    Invocation::new(
        Tool::Kubectl,
        [
            "wait",
            "--for=condition=Established",
            &format!("--timeout={}", secs(timeouts.ready)),
            "-f",
            url,
        ],
    )
    .env("KUBECONFIG", p(&paths.kubeconfig(cluster)))
}

/// Counts of a saved plan, as `terraform plan` prints them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Changes {
    pub fn total(&self) -> usize {
        self.add + self.change + self.destroy
    }

    /// From `terraform show -json <plan>`.
    pub fn from_plan_json(text: &str) -> Result<Changes, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("terraform show -json: {e}"))?;
        let mut c = Changes::default();
        for rc in v
            .get("resource_changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match actions.as_slice() {
                ["create"] => c.add += 1,
                ["update"] => c.change += 1,
                ["delete"] => c.destroy += 1,
                ["delete", "create"] | ["create", "delete"] => {
                    c.add += 1;
                    c.destroy += 1;
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

impl std::fmt::Display for Changes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        )
    }
}

/// The endpoint a step talks to: the override when set, else what DescribeCluster said.
fn endpoint_for(overrides: &BTreeMap<String, String>, cluster: &str) -> String {
    overrides
        .get(cluster)
        .cloned()
        .unwrap_or_else(|| format!("<endpoint of {cluster} from DescribeCluster>"))
}

/// The exact commands and API calls of a step, one per line (`--dry-run`, `plan`).
pub fn describe(
    step: &Step,
    paths: &Paths,
    timeouts: &Timeouts,
    endpoints: &BTreeMap<String, String>,
) -> Vec<String> {
    let cmd = |i: Invocation| format!("$ {i}");
    match &step.work {
        Work::DeleteLogGroup { region, group, .. } => vec![format!(
            "aws logs DeleteLogGroup logGroupName={group} region={region} (none there: nothing to do)"
        )],
        Work::Preflight {
            region,
            quotas,
            addons,
        } => {
            let mut v = vec![format!(
                "aws service-quotas GetServiceQuota region={region} (GetAWSDefaultServiceQuota where the account never changed it), each at least what the platform needs:"
            )];
            for q in quotas {
                v.push(format!(
                    "  {} {}: {} ({})",
                    q.quota.service, q.quota.code, q.need, q.quota.name
                ));
            }
            for a in addons {
                v.push(format!(
                    "aws eks DescribeAddonVersions addonName={} kubernetesVersion={} region={region}: offers {}",
                    a.addon, a.kubernetes, a.version
                ));
            }
            v.push("stop before any Terraform step when a quota is short or a pin is not offered".into());
            v
        }
        Work::Bootstrap {
            dir,
            bucket,
            region,
            deploy,
        } => {
            let state = format!("{dir}/{BOOTSTRAP_STATE}");
            let mut v = vec![format!(
                "with the local state {state} on this machine: Terraform decides"
            )];
            v.push(format!("  {}", cmd(tf_init(paths, dir, "bootstrap"))));
            if *deploy {
                for i in [
                    tf_plan(paths, dir, "bootstrap", false),
                    tf_show(paths, dir, "bootstrap"),
                ] {
                    v.push(format!("  {}", cmd(i)));
                }
                v.push("  show the change counts; ask (or --yes); skip apply when nothing changes".into());
                v.push(format!("  {}", cmd(tf_apply(paths, dir, "bootstrap"))));
                v.push(format!(
                    "without it (a CI runner): aws s3 HeadBucket bucket={bucket} region={region}"
                ));
                v.push(
                    "  exists: not re-applied from a machine without its state; missing: init, plan -out, show, ask (or --yes), apply as above (creates it)"
                        .into(),
                );
            } else {
                v.push(format!("  {}", cmd(tf_verify(paths, dir, "bootstrap"))));
                v.push("  exit 0: deployed and current; 2: changes pending (pass --with-dependencies)".into());
                v.push(format!(
                    "without it (a CI runner): aws s3 HeadBucket bucket={bucket} region={region}"
                ));
                v.push(
                    "  exists: deployed (its settings are not compared without the state); missing: stop (--with-dependencies creates it)"
                        .into(),
                );
            }
            v
        }
        Work::Terraform { module, dir, mode } => match mode {
            TerraformMode::Apply | TerraformMode::Destroy => vec![
                cmd(tf_init(paths, dir, module)),
                cmd(tf_plan(paths, dir, module, *mode == TerraformMode::Destroy)),
                cmd(tf_show(paths, dir, module)),
                "show the change counts; ask (or --yes); skip apply when nothing changes".into(),
                cmd(tf_apply(paths, dir, module)),
            ],
            TerraformMode::Verify => vec![
                cmd(tf_init(paths, dir, module)),
                cmd(tf_verify(paths, dir, module)),
                "exit 0: deployed and current; 2: changes pending (deploy it first or pass --with-dependencies)".into(),
            ],
        },
        Work::ClusterAccess {
            cluster,
            region,
            dir,
        } => {
            let mut v = vec![
                cmd(tf_output(paths, dir, cluster)),
                format!(
                    "aws eks DescribeCluster name=<output cluster_name> region={region} -> endpoint, certificate authority"
                ),
                format!(
                    "write {} (certificate authority, public)",
                    p(&paths.ca_file(cluster))
                ),
            ];
            if let Some(e) = endpoints.get(cluster) {
                v.push(format!("Kubernetes endpoint overridden: {e}"));
            }
            v.push(format!(
                "EKS token: presigned sts GetCallerIdentity (x-k8s-aws-id=<cluster_name>, region {region}), made fresh for every call"
            ));
            v.push(format!("kube GET {}/version", endpoint_for(endpoints, cluster)));
            v
        }
        Work::Crds {
            cluster,
            bundles,
            files,
        } => {
            let mut v = Vec::new();
            if !bundles.is_empty() {
                v.push(format!(
                    "write {} (0600, removed after the step; never the user's kubeconfig)",
                    p(&paths.kubeconfig(cluster))
                ));
            }
            for b in bundles {
                v.push(cmd(kubectl_apply_url(paths, cluster, &b.url)));
                v.push(cmd(kubectl_wait_established(
                    paths, cluster, &b.url, timeouts,
                )));
            }
            v.extend(apply_lines(paths, cluster, files, endpoints));
            if v.is_empty() {
                v.push("nothing to apply".into());
            }
            v
        }
        Work::Apply { cluster, files, .. } => {
            let v = apply_lines(paths, cluster, files, endpoints);
            if v.is_empty() {
                vec!["nothing to apply".into()]
            } else {
                v
            }
        }
        Work::HelmInstall { cluster, release } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = release
                .needs_secrets
                .iter()
                .map(|s| {
                    format!(
                        "kube GET {e}/api/v1/namespaces/{}/secrets/{}: exists (an operator writes it)",
                        s.namespace, s.name
                    )
                })
                .collect();
            if !v.is_empty() {
                v.push(format!(
                    "poll every {}s, give up after {}s",
                    timeouts.poll.as_secs(),
                    timeouts.ready.as_secs()
                ));
            }
            v.push(
                cmd(helm_install(paths, cluster, &e, release, timeouts))
                    .replace("$ ", "$ HELM_KUBETOKEN=<EKS token> "),
            );
            v
        }
        Work::HelmUninstall { cluster, release } => vec![cmd(helm_uninstall(
            paths,
            cluster,
            &endpoint_for(endpoints, cluster),
            release,
            timeouts,
        ))
        .replace("$ ", "$ HELM_KUBETOKEN=<EKS token> ")],
        Work::Readiness {
            cluster,
            namespaces,
            files,
        } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = namespaces
                .iter()
                .flat_map(|ns| {
                    [
                        format!("kube GET {e}/apis/apps/v1/namespaces/{ns}/deployments: every one available"),
                        format!("kube GET {e}/apis/apps/v1/namespaces/{ns}/statefulsets: every one ready"),
                    ]
                })
                .collect();
            for f in files {
                v.push(format!(
                    "kube GET each object of {f}: Ready/Programmed/health green where the kind reports it"
                ));
            }
            v.push(format!(
                "poll every {}s, give up after {}s",
                timeouts.poll.as_secs(),
                timeouts.ready.as_secs()
            ));
            v
        }
        Work::CopySecrets { copies } => copies
            .iter()
            .flat_map(|(from, to)| {
                [
                    format!(
                        "kube GET {}/api/v1/namespaces/{}/secrets/{} ({})",
                        endpoint_for(endpoints, &from.cluster),
                        from.namespace,
                        from.name,
                        from.cluster
                    ),
                    format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {}/api/v1/namespaces/{}/secrets/{} ({})",
                        endpoint_for(endpoints, &to.cluster),
                        to.namespace,
                        to.name,
                        to.cluster
                    ),
                ]
            })
            .collect(),
        Work::ReceiverCredentials {
            cluster,
            region,
            secrets,
        } => secrets
            .iter()
            .flat_map(|s| {
                [
                    format!(
                        "aws secretsmanager GetSecretValue secret-id={} region={region}",
                        s.secret_id
                    ),
                    format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {}/api/v1/namespaces/{}/secrets/{} key {}",
                        endpoint_for(endpoints, cluster),
                        s.target.namespace,
                        s.target.name,
                        crate::wiring::RECEIVER_SECRET_KEY
                    ),
                ]
            })
            .collect(),
        Work::Smoke { cluster, files } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v = vec![
                format!("kube GET {e}/version"),
                format!("kube GET {e}/api/v1/nodes: at least one, every one Ready"),
            ];
            if !files.is_empty() {
                v.push("custom resources still ready (no wait)".into());
            }
            v
        }
        Work::DeleteObjects { cluster, files } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = files
                .iter()
                .rev()
                .map(|f| format!("kube DELETE {e} every object of {f} (reverse order)"))
                .collect();
            v.push(format!(
                "wait until each is gone (finalizers), give up after {}s",
                timeouts.ready.as_secs()
            ));
            v
        }
        Work::CheckNoPeers { workloads } => {
            let mut v = Vec::new();
            for (name, dir) in workloads {
                v.push(cmd(tf_init(paths, dir, name)));
                v.push(cmd(tf_state_list(paths, dir, name)));
            }
            v.push("refuse while any workload module still has resources (its VPC peers with the controlplane)".into());
            v
        }
    }
}

fn apply_lines(
    paths: &Paths,
    cluster: &str,
    files: &[String],
    endpoints: &BTreeMap<String, String>,
) -> Vec<String> {
    let e = endpoint_for(endpoints, cluster);
    files
        .iter()
        .map(|f| {
            let objects = fs::read_to_string(paths.root.join(f))
                .ok()
                .and_then(|t| crate::kube::parse_manifests(f, &t).ok());
            match objects {
                Some(objs) => {
                    let mut s = format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {e} each object of {f}:"
                    );
                    for o in objs.iter().filter_map(ObjectRef::of) {
                        s.push_str(&format!("\n      {}", o.path()));
                    }
                    s
                }
                None => format!(
                    "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {e} each object of {f} (not on disk here: objects listed once generated)"
                ),
            }
        })
        .collect()
}

/// SHA-256 over the step's description and the contents of its input files.
pub fn inputs_hash(step: &Step, description: &[String], root: &Path) -> String {
    let mut h = Sha256::new();
    h.update(step.id.as_str().as_bytes());
    for line in description {
        h.update(b"\n");
        h.update(line.as_bytes());
    }
    for input in &step.inputs {
        let path = root.join(input);
        let mut files = Vec::new();
        collect_files(&path, &mut files);
        if files.is_empty() {
            h.update(format!("\0missing {input}").as_bytes());
        }
        files.sort();
        for f in files {
            h.update(b"\0");
            h.update(
                f.strip_prefix(root)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .as_bytes(),
            );
            h.update(b"\0");
            h.update(fs::read(&f).unwrap_or_default());
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            // Terraform's own files (a local state, saved plans) are outputs, not inputs.
            if name.starts_with('.')
                || name.ends_with(".tfstate")
                || name.ends_with(".tfstate.backup")
                || name.ends_with(".tfplan")
            {
                continue;
            }
            collect_files(&e.path(), out);
        }
    }
}

/// What a cluster access step learned, kept in memory for the run.
#[derive(Debug, Clone)]
struct Access {
    eks_name: String,
    region: String,
    endpoint: String,
    ca_pem: String,
}

/// The real executor: processes, AWS, Kubernetes.
pub struct Engine<'a> {
    pub paths: Paths,
    pub programs: BTreeMap<Tool, PathBuf>,
    pub aws: &'a dyn Aws,
    pub kube: &'a dyn Kube,
    pub timeouts: Timeouts,
    /// Cluster -> Kubernetes endpoint override.
    pub endpoints: BTreeMap<String, String>,
    /// Apply Terraform plans without asking.
    pub yes: bool,
    /// Where to ask before applying (`None`: not interactive).
    pub prompt: Option<&'a crate::commands::Prompt>,
    access: Mutex<BTreeMap<String, Access>>,
}

impl<'a> Engine<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        paths: Paths,
        programs: BTreeMap<Tool, PathBuf>,
        aws: &'a dyn Aws,
        kube: &'a dyn Kube,
        timeouts: Timeouts,
        endpoints: BTreeMap<String, String>,
        yes: bool,
        prompt: Option<&'a crate::commands::Prompt>,
    ) -> Engine<'a> {
        Engine {
            paths,
            programs,
            aws,
            kube,
            timeouts,
            endpoints,
            yes,
            prompt,
            access: Mutex::new(BTreeMap::new()),
        }
    }

    fn run(
        &self,
        inv: &Invocation,
        ctx: &StepContext<'_>,
        capture: bool,
    ) -> Result<Finished, StepFailure> {
        let program = self.programs.get(&inv.tool).ok_or_else(|| {
            StepFailure::Failed(format!(
                "{} was not checked before the run",
                inv.tool.name()
            ))
        })?;
        if ctx.cancel.is_cancelled() {
            return Err(StepFailure::Interrupted);
        }
        let finished =
            crate::process::run(program, inv, &self.paths.root, ctx.log, ctx.cancel, capture)
                .map_err(StepFailure::Failed)?;
        if finished.signal.is_some() && ctx.cancel.is_cancelled() {
            return Err(StepFailure::Interrupted);
        }
        Ok(finished)
    }

    fn run_ok(
        &self,
        inv: &Invocation,
        ctx: &StepContext<'_>,
        capture: bool,
    ) -> Result<Finished, StepFailure> {
        let f = self.run(inv, ctx, capture)?;
        if f.success() {
            Ok(f)
        } else if ctx.cancel.is_cancelled() {
            Err(StepFailure::Interrupted)
        } else {
            // Name the subcommand (`terraform apply`), not the first flag (`-chdir=...`).
            let sub = inv
                .args
                .iter()
                .find(|a| !a.starts_with('-'))
                .map(String::as_str)
                .unwrap_or("");
            let place = inv
                .args
                .iter()
                .find_map(|a| a.strip_prefix("-chdir="))
                .map(|d| format!(" in {d}"))
                .unwrap_or_default();
            Err(StepFailure::Failed(format!(
                "`{} {sub}`{place} failed ({})",
                inv.tool.name(),
                f.describe()
            )))
        }
    }

    fn conn(&self, cluster: &str) -> Result<Conn, StepFailure> {
        let access = self
            .access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(cluster)
            .cloned()
            .ok_or_else(|| {
                StepFailure::Failed(format!(
                    "no access to {cluster}: its access step did not run in this run"
                ))
            })?;
        let token = self
            .aws
            .eks_token(&access.eks_name, &access.region)
            .map_err(|e| StepFailure::Failed(e.to_string()))?;
        Ok(Conn {
            cluster: cluster.to_string(),
            endpoint: access.endpoint,
            ca_pem: Some(access.ca_pem),
            token,
        })
    }

    fn terraform(
        &self,
        module: &str,
        dir: &str,
        mode: TerraformMode,
        ctx: &StepContext<'_>,
        step: &Step,
    ) -> Result<(), StepFailure> {
        fs::create_dir_all(self.paths.tf_data_dir(module))
            .and_then(|_| fs::create_dir_all(self.paths.run_dir.join("plans")))
            .map_err(|e| StepFailure::Failed(format!("creating directories: {e}")))?;
        self.run_ok(&tf_init(&self.paths, dir, module), ctx, false)?;
        if mode == TerraformMode::Verify {
            let f = self.run(&tf_verify(&self.paths, dir, module), ctx, false)?;
            return match f.code {
                Some(0) => Ok(()),
                Some(2) if module == "bootstrap" => Err(StepFailure::Failed(format!(
                    "{dir} has changes pending against its local state: the state bucket is not deployed or not current; pass --with-dependencies (or deploy `all`) to apply it first"
                ))),
                Some(2) => Err(StepFailure::Failed(format!(
                    "{dir} has changes pending: it is not deployed or not current; run `cargo xtask deploy {module}` first, or pass --with-dependencies"
                ))),
                _ if ctx.cancel.is_cancelled() => Err(StepFailure::Interrupted),
                _ => Err(StepFailure::Failed(format!(
                    "terraform plan of {dir} failed ({})",
                    f.describe()
                ))),
            };
        }
        self.run_ok(
            &tf_plan(&self.paths, dir, module, mode == TerraformMode::Destroy),
            ctx,
            false,
        )?;
        let shown = self.run_ok(&tf_show(&self.paths, dir, module), ctx, true)?;
        let changes = Changes::from_plan_json(&shown.stdout).map_err(StepFailure::Failed)?;
        let summary = format!("Plan: {changes}");
        ctx.log.line(&summary);
        ctx.reporter.message(&step.id, &summary);
        if changes.total() == 0 {
            ctx.log.line("no changes: not applying");
            return Ok(());
        }
        if !self.confirm(step, module, &summary, ctx)? {
            return Err(StepFailure::Failed(format!(
                "{summary}: not applied (declined)"
            )));
        }
        self.run_ok(&tf_apply(&self.paths, dir, module), ctx, false)?;
        Ok(())
    }

    /// The state bucket: Terraform where the bootstrap's local state is here, S3 HeadBucket
    /// where it is not. See [`Work::Bootstrap`].
    fn bootstrap(
        &self,
        dir: &str,
        bucket: &str,
        region: &str,
        deploy: bool,
        ctx: &StepContext<'_>,
        step: &Step,
    ) -> Result<(), StepFailure> {
        let mode = if deploy {
            TerraformMode::Apply
        } else {
            TerraformMode::Verify
        };
        let state = format!("{dir}/{BOOTSTRAP_STATE}");
        let say = |text: &str| {
            ctx.log.line(text);
            ctx.reporter.message(&step.id, text);
        };
        if self.paths.root.join(&state).is_file() {
            say(&format!(
                "checked by Terraform against the local state {state}"
            ));
            return self.terraform("bootstrap", dir, mode, ctx, step);
        }
        ctx.log.line(&format!(
            "no local state {state} here: aws s3 HeadBucket bucket={bucket} region={region}"
        ));
        let exists = self
            .aws
            .bucket_exists(bucket, region)
            .map_err(|e| StepFailure::Failed(e.to_string()))?;
        if exists {
            let verb = if deploy {
                "not re-applied"
            } else {
                "not compared"
            };
            say(&format!(
                "state bucket {bucket} exists (checked with S3 HeadBucket in {region}; no local state {state} here, so its settings were {verb})"
            ));
            return Ok(());
        }
        if !deploy {
            return Err(StepFailure::Failed(format!(
                "state bucket {bucket} does not exist in {region} (checked with S3 HeadBucket; no local state {state} here): pass --with-dependencies (or deploy `all`) to create it first"
            )));
        }
        say(&format!(
            "state bucket {bucket} does not exist in {region} (checked with S3 HeadBucket): creating it from {dir}; keep {state} (it is not committed)"
        ));
        self.terraform("bootstrap", dir, mode, ctx, step)
    }

    /// See [`Work::Preflight`]. A quota Service Quotas has no value for is reported and not
    /// held against the deploy; a short quota or an add-on pin EKS does not offer stops it.
    fn preflight(
        &self,
        region: &str,
        quotas: &[QuotaNeed],
        addons: &[AddonPin],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let mut problems = Vec::new();
        for q in quotas {
            let value = self
                .aws
                .service_quota(&q.quota.service, &q.quota.code, region)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
            match value {
                Some(v) if v < q.need as f64 => {
                    ctx.log.line(&format!(
                        "{} ({} {}): the account has {v}, the platform needs {}: SHORT",
                        q.quota.name, q.quota.service, q.quota.code, q.need
                    ));
                    problems.push(format!(
                        "{} ({} {}) is {v} in {region}; the platform needs {} ({}). Raise it:\n      {}",
                        q.quota.name,
                        q.quota.service,
                        q.quota.code,
                        q.need,
                        q.why,
                        q.raise_command(region)
                    ));
                }
                Some(v) => ctx.log.line(&format!(
                    "{} ({} {}): the account has {v}, the platform needs {}",
                    q.quota.name, q.quota.service, q.quota.code, q.need
                )),
                None => ctx.log.line(&format!(
                    "{} ({} {}): Service Quotas has no value here; not checked (the platform needs {})",
                    q.quota.name, q.quota.service, q.quota.code, q.need
                )),
            }
        }
        for a in addons {
            let offered = self
                .aws
                .addon_versions(&a.addon, &a.kubernetes, region)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
            if offered.iter().any(|v| v == &a.version) {
                ctx.log.line(&format!(
                    "add-on {} {} is offered for Kubernetes {}",
                    a.addon, a.version, a.kubernetes
                ));
            } else {
                let mut shown: Vec<&str> = offered.iter().take(5).map(String::as_str).collect();
                if shown.is_empty() {
                    shown.push("none");
                }
                problems.push(format!(
                    "versions.toml pins add-on {} {} for Kubernetes {}, which EKS does not offer in {region} (it offers {}): change [eks_addons] in versions.toml",
                    a.addon,
                    a.version,
                    a.kubernetes,
                    shown.join(", ")
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StepFailure::Failed(format!(
                "the account is not ready for the platform in {region}; nothing was created:\n  - {}",
                problems.join("\n  - ")
            )))
        }
    }

    fn confirm(
        &self,
        step: &Step,
        module: &str,
        summary: &str,
        ctx: &StepContext<'_>,
    ) -> Result<bool, StepFailure> {
        if self.yes {
            return Ok(true);
        }
        let Some(prompt) = self.prompt else {
            return Err(StepFailure::Failed(format!(
                "{summary}: applying needs --yes when not interactive"
            )));
        };
        let question = format!(
            "{}: {summary} (saved plan {}). Apply?",
            step.id,
            p(&self.paths.plan_file(module))
        );
        let mut yes = false;
        ctx.reporter.suspend(&mut || yes = prompt.ask(&question));
        ctx.log.line(&format!(
            "asked: {question} {}",
            if yes { "yes" } else { "no" }
        ));
        // A Ctrl-C while the question was open wins over the answer typed after it.
        if ctx.cancel.is_cancelled() {
            return Err(StepFailure::Interrupted);
        }
        Ok(yes)
    }

    fn access(
        &self,
        cluster: &str,
        region: &str,
        dir: &str,
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        fs::create_dir_all(self.paths.tf_data_dir(cluster))
            .map_err(|e| StepFailure::Failed(format!("creating directories: {e}")))?;
        let out = self.run_ok(&tf_output(&self.paths, dir, cluster), ctx, true)?;
        let outputs: Value = serde_json::from_str(&out.stdout)
            .map_err(|e| StepFailure::Failed(format!("terraform output -json of {dir}: {e}")))?;
        let eks_name = outputs
            .pointer("/cluster_name/value")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                StepFailure::Failed(format!(
                    "{dir} has no `cluster_name` output: is it applied?"
                ))
            })?
            .to_string();
        ctx.log.line(&format!(
            "aws eks DescribeCluster name={eks_name} region={region}"
        ));
        let described = self
            .aws
            .describe_cluster(&eks_name, region)
            .map_err(|e| StepFailure::Failed(e.to_string()))?;
        let ca_file = self.paths.ca_file(cluster);
        if let Some(d) = ca_file.parent() {
            fs::create_dir_all(d).map_err(|e| StepFailure::Failed(e.to_string()))?;
        }
        fs::write(&ca_file, &described.ca_pem)
            .map_err(|e| StepFailure::Failed(format!("{}: {e}", ca_file.display())))?;
        let endpoint = match self.endpoints.get(cluster) {
            Some(e) => {
                ctx.log.line(&format!(
                    "endpoint {} overridden by {e}",
                    described.endpoint
                ));
                e.clone()
            }
            None => described.endpoint.clone(),
        };
        self.access
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                cluster.to_string(),
                Access {
                    eks_name,
                    region: region.to_string(),
                    endpoint,
                    ca_pem: described.ca_pem,
                },
            );
        let conn = self.conn(cluster)?;
        let version = self
            .kube
            .version(&conn)
            .map_err(|e| StepFailure::Failed(e.to_string()))?;
        ctx.log.line(&format!("{cluster}: Kubernetes {version}"));
        Ok(())
    }

    fn objects(&self, files: &[String]) -> Result<Vec<Value>, StepFailure> {
        let mut out = Vec::new();
        for f in files {
            let text = fs::read_to_string(self.paths.root.join(f)).map_err(|e| {
                StepFailure::Failed(format!(
                    "{f}: {e} (run `cargo xtask generate` and commit the output)"
                ))
            })?;
            out.extend(crate::kube::parse_manifests(f, &text).map_err(StepFailure::Failed)?);
        }
        Ok(out)
    }

    fn apply_files(
        &self,
        cluster: &str,
        files: &[String],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let objects = self.objects(files)?;
        if objects.is_empty() {
            return Ok(());
        }
        let conn = self.conn(cluster)?;
        for o in &objects {
            if ctx.cancel.is_cancelled() {
                return Err(StepFailure::Interrupted);
            }
            let r = ObjectRef::of(o).expect("parsed manifests are complete");
            ctx.log.line(&format!("server-side apply {}", r.path()));
            self.kube
                .apply(&conn, o, false)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
        }
        Ok(())
    }

    fn crds(
        &self,
        cluster: &str,
        bundles: &[flotilla_helm::CrdBundle],
        files: &[String],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        if !bundles.is_empty() {
            let conn = self.conn(cluster)?;
            let kubeconfig = self.paths.kubeconfig(cluster);
            write_kubeconfig(&kubeconfig, &conn, &self.paths.ca_file(cluster))
                .map_err(|e| StepFailure::Failed(format!("{}: {e}", kubeconfig.display())))?;
            let result = (|| -> Result<(), StepFailure> {
                for b in bundles {
                    self.run_ok(&kubectl_apply_url(&self.paths, cluster, &b.url), ctx, false)?;
                    self.run_ok(
                        &kubectl_wait_established(&self.paths, cluster, &b.url, &self.timeouts),
                        ctx,
                        false,
                    )?;
                }
                Ok(())
            })();
            let _ = fs::remove_file(&kubeconfig);
            result?;
        }
        self.apply_files(cluster, files, ctx)
    }

    fn helm(
        &self,
        cluster: &str,
        release: &Release,
        install: bool,
        ctx: &StepContext<'_>,
        step: &Step,
    ) -> Result<(), StepFailure> {
        let conn = self.conn(cluster)?;
        if install && !release.needs_secrets.is_empty() {
            self.wait_for_secrets(&conn, release, ctx, step)?;
        }
        let mut inv = if install {
            helm_install(
                &self.paths,
                cluster,
                &conn.endpoint,
                release,
                &self.timeouts,
            )
        } else {
            helm_uninstall(
                &self.paths,
                cluster,
                &conn.endpoint,
                release,
                &self.timeouts,
            )
        };
        inv.secret_env
            .push(("HELM_KUBETOKEN".into(), conn.token.clone()));
        self.run_ok(&inv, ctx, false).map(|_| ())
    }

    /// Waits until the Secrets an operator writes for the release exist: on a first deploy they
    /// appear only after the manifest step before this one, and `helm --wait` would time out.
    fn wait_for_secrets(
        &self,
        conn: &Conn,
        release: &Release,
        ctx: &StepContext<'_>,
        step: &Step,
    ) -> Result<(), StepFailure> {
        let deadline = Instant::now() + self.timeouts.ready;
        loop {
            let mut missing = Vec::new();
            for s in &release.needs_secrets {
                let r = ObjectRef {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                    namespace: Some(s.namespace.clone()),
                    name: s.name.clone(),
                };
                let found = self
                    .kube
                    .get(conn, &r)
                    .map_err(|e| StepFailure::Failed(e.to_string()))?;
                if found.is_none() {
                    missing.push(s.to_string());
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            let line = format!("waiting for Secret {}", missing.join(", "));
            ctx.log.line(&line);
            ctx.reporter.message(&step.id, &line);
            if Instant::now() >= deadline {
                return Err(StepFailure::Failed(format!(
                    "{}: Secret {} not there after {}s (written by an operator from {}); not installing {}",
                    conn.cluster,
                    missing.join(", "),
                    self.timeouts.ready.as_secs(),
                    release.needs_manifests.join(", "),
                    release.name
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if ctx.cancel.sleep(self.timeouts.poll.min(left)) {
                return Err(StepFailure::Interrupted);
            }
        }
    }

    fn readiness(
        &self,
        cluster: &str,
        namespaces: &[String],
        files: &[String],
        ctx: &StepContext<'_>,
        step: &Step,
    ) -> Result<(), StepFailure> {
        let objects = self.objects(files)?;
        let conn = self.conn(cluster)?;
        let deadline = Instant::now() + self.timeouts.ready;
        loop {
            let mut waiting = Vec::new();
            for ns in namespaces {
                for kind in ["Deployment", "StatefulSet"] {
                    let items = self
                        .kube
                        .list(&conn, "apps/v1", kind, Some(ns))
                        .map_err(|e| StepFailure::Failed(e.to_string()))?;
                    for item in items {
                        if let Err(why) = crate::kube::readiness(&item)
                            && let Some(r) = ObjectRef::of(&item)
                        {
                            waiting.push(format!("{r} ({why})"));
                        }
                    }
                }
            }
            for o in &objects {
                let r = ObjectRef::of(o).expect("parsed manifests are complete");
                if !crate::kube::has_readiness(&r.kind) {
                    continue;
                }
                match self
                    .kube
                    .get(&conn, &r)
                    .map_err(|e| StepFailure::Failed(e.to_string()))?
                {
                    None => waiting.push(format!("{r} (not found)")),
                    Some(live) => {
                        if let Err(why) = crate::kube::readiness(&live) {
                            waiting.push(format!("{r} ({why})"));
                        }
                    }
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let line = format!("waiting for {}", waiting.join(", "));
            ctx.log.line(&line);
            ctx.reporter.message(&step.id, &line);
            if Instant::now() >= deadline {
                return Err(StepFailure::Failed(format!(
                    "{cluster}: not ready after {}s: {}",
                    self.timeouts.ready.as_secs(),
                    waiting.join(", ")
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if ctx.cancel.sleep(self.timeouts.poll.min(left)) {
                return Err(StepFailure::Interrupted);
            }
        }
    }

    fn copy_secrets(
        &self,
        copies: &[(crate::graph::SecretRef, crate::graph::SecretRef)],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        for (from, to) in copies {
            let src = self.conn(&from.cluster)?;
            let dst = self.conn(&to.cluster)?;
            let oref = ObjectRef {
                api_version: "v1".into(),
                kind: "Secret".into(),
                namespace: Some(from.namespace.clone()),
                name: from.name.clone(),
            };
            let secret = self
                .kube
                .get(&src, &oref)
                .map_err(|e| StepFailure::Failed(e.to_string()))?
                .ok_or_else(|| {
                    StepFailure::Failed(format!(
                        "Secret {}/{} not found on {} (Strimzi writes it once the Kafka and KafkaUser are ready)",
                        from.namespace, from.name, from.cluster
                    ))
                })?;
            let data: BTreeMap<String, String> = secret
                .get("data")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            ctx.log.line(&format!(
                "copy Secret {from} -> {to} (keys: {})",
                data.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
            // The namespace is the namespaces step's (a need of this step): applying a bare
            // Namespace here, under the same field manager, would remove its labels.
            let obj = crate::kube::secret(&to.namespace, &to.name, &data, &from.to_string());
            self.kube
                .apply(&dst, &obj, false)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
        }
        Ok(())
    }

    fn receiver_credentials(
        &self,
        cluster: &str,
        region: &str,
        secrets: &[crate::graph::ReceiverSecret],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        // Read everything first: a missing secret fails before anything is written.
        let mut values = Vec::new();
        let mut missing = Vec::new();
        for s in secrets {
            ctx.log.line(&format!(
                "aws secretsmanager GetSecretValue secret-id={} region={region}",
                s.secret_id
            ));
            match self.aws.secret_string(&s.secret_id, region) {
                Ok(v) => values.push((s, v)),
                Err(e) => missing.push(format!("receiver `{}`: {e}", s.receiver)),
            }
        }
        if !missing.is_empty() {
            return Err(StepFailure::Failed(missing.join("; ")));
        }
        let conn = self.conn(cluster)?;
        for (s, value) in values {
            let data = BTreeMap::from([(
                crate::wiring::RECEIVER_SECRET_KEY.to_string(),
                base64::engine::general_purpose::STANDARD.encode(value.as_bytes()),
            )]);
            // The namespace is the namespaces step's, as above.
            let obj = crate::kube::secret(
                &s.target.namespace,
                &s.target.name,
                &data,
                &format!("aws-secretsmanager:{}", s.secret_id),
            );
            ctx.log
                .line(&format!("server-side apply Secret {}", s.target));
            self.kube
                .apply(&conn, &obj, false)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
        }
        Ok(())
    }

    fn smoke(
        &self,
        cluster: &str,
        files: &[String],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let conn = self.conn(cluster)?;
        let fail = |e: crate::kube::KubeError| StepFailure::Failed(e.to_string());
        let version = self.kube.version(&conn).map_err(fail)?;
        ctx.log.line(&format!("Kubernetes {version}"));
        let nodes = self.kube.list(&conn, "v1", "Node", None).map_err(fail)?;
        if nodes.is_empty() {
            return Err(StepFailure::Failed(format!("{cluster}: no nodes")));
        }
        let mut problems: Vec<String> = nodes
            .iter()
            .filter_map(|n| {
                crate::kube::readiness(n).err().map(|why| {
                    format!(
                        "Node {} ({why})",
                        n.pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("?")
                    )
                })
            })
            .collect();
        for o in self.objects(files)? {
            let r = ObjectRef::of(&o).expect("parsed manifests are complete");
            if !crate::kube::has_readiness(&r.kind) {
                continue;
            }
            match self.kube.get(&conn, &r).map_err(fail)? {
                None => problems.push(format!("{r} (not found)")),
                Some(live) => {
                    if let Err(why) = crate::kube::readiness(&live) {
                        problems.push(format!("{r} ({why})"));
                    }
                }
            }
        }
        ctx.log.line(&format!("{} nodes Ready", nodes.len()));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StepFailure::Failed(format!(
                "{cluster}: smoke check failed: {}",
                problems.join(", ")
            )))
        }
    }

    fn delete_objects(
        &self,
        cluster: &str,
        files: &[String],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let objects = self.objects(files)?;
        if objects.is_empty() {
            return Ok(());
        }
        let conn = self.conn(cluster)?;
        let refs: Vec<ObjectRef> = objects.iter().rev().filter_map(ObjectRef::of).collect();
        for r in &refs {
            ctx.log.line(&format!("delete {}", r.path()));
            self.kube
                .delete(&conn, r)
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
        }
        let deadline = Instant::now() + self.timeouts.ready;
        loop {
            let mut left = Vec::new();
            for r in &refs {
                if self
                    .kube
                    .get(&conn, r)
                    .map_err(|e| StepFailure::Failed(e.to_string()))?
                    .is_some()
                {
                    left.push(r.to_string());
                }
            }
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(StepFailure::Failed(format!(
                    "{cluster}: still there after {}s (finalizers): {}",
                    self.timeouts.ready.as_secs(),
                    left.join(", ")
                )));
            }
            ctx.log
                .line(&format!("waiting for finalizers: {}", left.join(", ")));
            if ctx.cancel.sleep(self.timeouts.poll) {
                return Err(StepFailure::Interrupted);
            }
        }
    }

    fn check_no_peers(
        &self,
        workloads: &[(String, String)],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let mut peers = Vec::new();
        for (name, dir) in workloads {
            fs::create_dir_all(self.paths.tf_data_dir(name))
                .map_err(|e| StepFailure::Failed(e.to_string()))?;
            self.run_ok(&tf_init(&self.paths, dir, name), ctx, false)?;
            let out = self.run_ok(&tf_state_list(&self.paths, dir, name), ctx, true)?;
            let n = out.stdout.lines().filter(|l| !l.trim().is_empty()).count();
            ctx.log.line(&format!("{dir}: {n} resources in state"));
            if n > 0 {
                peers.push(format!("{name} ({n} resources)"));
            }
        }
        if peers.is_empty() {
            Ok(())
        } else {
            Err(StepFailure::Failed(format!(
                "refusing to destroy the controlplane while workload clusters still peer with it: {}; destroy them first",
                peers.join(", ")
            )))
        }
    }
}

impl StepExecutor for Engine<'_> {
    fn execute(&self, step: &Step, ctx: &StepContext<'_>) -> Result<(), StepFailure> {
        for line in describe(step, &self.paths, &self.timeouts, &self.endpoints) {
            ctx.log.line(&format!("plan: {line}"));
        }
        match &step.work {
            Work::Preflight {
                region,
                quotas,
                addons,
            } => self.preflight(region, quotas, addons, ctx),
            Work::Bootstrap {
                dir,
                bucket,
                region,
                deploy,
            } => self.bootstrap(dir, bucket, region, *deploy, ctx, step),
            Work::Terraform { module, dir, mode } => self.terraform(module, dir, *mode, ctx, step),
            Work::ClusterAccess {
                cluster,
                region,
                dir,
            } => self.access(cluster, region, dir, ctx),
            Work::Crds {
                cluster,
                bundles,
                files,
            } => self.crds(cluster, bundles, files, ctx),
            Work::Apply { cluster, files, .. } => self.apply_files(cluster, files, ctx),
            Work::HelmInstall { cluster, release } => self.helm(cluster, release, true, ctx, step),
            Work::HelmUninstall { cluster, release } => {
                self.helm(cluster, release, false, ctx, step)
            }
            Work::Readiness {
                cluster,
                namespaces,
                files,
            } => self.readiness(cluster, namespaces, files, ctx, step),
            Work::CopySecrets { copies } => self.copy_secrets(copies, ctx),
            Work::ReceiverCredentials {
                cluster,
                region,
                secrets,
            } => self.receiver_credentials(cluster, region, secrets, ctx),
            Work::Smoke { cluster, files } => self.smoke(cluster, files, ctx),
            Work::DeleteObjects { cluster, files } => self.delete_objects(cluster, files, ctx),
            Work::CheckNoPeers { workloads } => self.check_no_peers(workloads, ctx),
            Work::DeleteLogGroup { region, group, .. } => {
                let deleted = self
                    .aws
                    .delete_log_group(group, region)
                    .map_err(|e| StepFailure::Failed(e.to_string()))?;
                let text = if deleted {
                    format!("deleted log group {group} (EKS had re-created it)")
                } else {
                    format!("no log group {group}: nothing left")
                };
                ctx.log.line(&text);
                ctx.reporter.message(&step.id, &text);
                Ok(())
            }
        }
    }
}

/// A kubeconfig for kubectl alone, in the run directory, readable only by the user.
fn write_kubeconfig(path: &Path, conn: &Conn, ca_file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let cluster = if conn.endpoint.starts_with("https://") {
        serde_json::json!({"server": conn.endpoint, "certificate-authority": p(ca_file)})
    } else {
        serde_json::json!({"server": conn.endpoint})
    };
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": conn.cluster, "cluster": cluster}],
        "users": [{"name": "flotilla", "user": {"token": conn.token}}],
        "contexts": [{"name": conn.cluster, "context": {"cluster": conn.cluster, "user": "flotilla"}}],
        "current-context": conn.cluster,
    });
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(serde_json::to_string_pretty(&config)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_counts_from_a_saved_plan() {
        let json = r#"{"resource_changes":[
            {"change":{"actions":["create"]}},
            {"change":{"actions":["create"]}},
            {"change":{"actions":["update"]}},
            {"change":{"actions":["delete","create"]}},
            {"change":{"actions":["no-op"]}},
            {"change":{"actions":["read"]}}]}"#;
        let c = Changes::from_plan_json(json).unwrap();
        assert_eq!(
            c,
            Changes {
                add: 3,
                change: 1,
                destroy: 1
            }
        );
        assert_eq!(c.to_string(), "3 to add, 1 to change, 1 to destroy");
        assert_eq!(Changes::from_plan_json("{}").unwrap().total(), 0);
        assert!(Changes::from_plan_json("not json").is_err());
    }
}
