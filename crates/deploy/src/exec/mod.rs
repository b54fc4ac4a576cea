//! What each step does for real: the exact commands (shared with `--dry-run`, so what is
//! printed is what runs), the AWS and Kubernetes calls, and the inputs hash.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use flotilla_helm::Release;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use flotilla_model::quotas::QuotaNeed;
use flotilla_plan::commands::*;
use flotilla_plan::graph::{AddonPin, ClusterVersion, Step, TerraformMode, Work};
use flotilla_plan::{Invocation, Tool, describe};

use crate::edge::aws::Aws;
use crate::edge::kube::{Conn, Kube, ObjectRef};
use crate::edge::process::Finished;
use crate::run::scheduler::{StepContext, StepExecutor, StepFailure};

/// The API paths of a manifest file's objects, read from the repository (`None` when the file
/// is not there or does not parse): what a step's description lists for a server-side apply.
pub fn manifest_objects(root: &Path) -> impl Fn(&str) -> Option<Vec<String>> + '_ {
    move |f| {
        let text = fs::read_to_string(root.join(f)).ok()?;
        let objects = crate::edge::kube::parse_manifests(f, &text).ok()?;
        Some(
            objects
                .iter()
                .filter_map(ObjectRef::of)
                .map(|o| o.path())
                .collect(),
        )
    }
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

/// A file, or the files directly in a directory: a Terraform root module is the files of its
/// directory, and a workload's link module (`infra/<cluster>/link`) is not its cluster's input.
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = fs::read_dir(path) {
        for e in entries.flatten() {
            // Terraform's own files (a local state, saved plans, the lock file) are outputs,
            // not inputs: the one list of them is the write path's.
            let name = e.file_name();
            if e.path().is_file()
                && !flotilla_generate::workdir::is_working_file(&name.to_string_lossy(), false)
            {
                out.push(e.path());
            }
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
    pub prompt: Option<&'a crate::run::prompt::Prompt>,
    /// The run was confirmed for pruning protected namespaces (`--confirm-prune <target>`).
    pub prune_confirmed: bool,
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
        prompt: Option<&'a crate::run::prompt::Prompt>,
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
            prune_confirmed: false,
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
            crate::edge::process::run(program, inv, &self.paths.root, ctx.log, ctx.cancel, capture)
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
            .map_err(StepFailure::error)?;
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
            .map_err(|e| StepFailure::context("creating directories", e))?;
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
            .map_err(StepFailure::error)?;
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
    /// held against the deploy; a short quota, an add-on pin EKS does not offer or a version
    /// change EKS refuses (down, or more than one minor version) stops it.
    fn preflight(
        &self,
        region: &str,
        quotas: &[QuotaNeed],
        addons: &[AddonPin],
        clusters: &[ClusterVersion],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let mut problems = Vec::new();
        for c in clusters {
            let running = self
                .aws
                .cluster_version(&c.eks_name, region)
                .map_err(StepFailure::error)?;
            match running {
                None => ctx.log.line(&format!(
                    "cluster {} ({}): not in EKS yet; it is created at {}",
                    c.cluster, c.eks_name, c.kubernetes
                )),
                Some(v) => match flotilla_plan::upgrade::control_plane_change(&v, &c.kubernetes) {
                    None => ctx.log.line(&format!(
                        "cluster {} ({}): runs {v}; kubernetes_version {} is a change EKS takes",
                        c.cluster, c.eks_name, c.kubernetes
                    )),
                    Some(problem) => problems.push(format!(
                        "cluster {} ({}) runs Kubernetes {v} in EKS, and its kubernetes_version in platform.toml is {}: {problem}",
                        c.cluster, c.eks_name, c.kubernetes
                    )),
                },
            }
        }
        for q in quotas {
            let value = self
                .aws
                .service_quota(&q.quota.service, &q.quota.code, region)
                .map_err(StepFailure::error)?;
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
                .map_err(StepFailure::error)?;
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
            path_text(&self.paths.plan_file(module))
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
            .map_err(|e| StepFailure::context("creating directories", e))?;
        let out = self.run_ok(&tf_output(&self.paths, dir, cluster), ctx, true)?;
        let outputs: Value = serde_json::from_str(&out.stdout)
            .map_err(|e| StepFailure::context(format!("terraform output -json of {dir}"), e))?;
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
            .map_err(StepFailure::error)?;
        let ca_file = self.paths.ca_file(cluster);
        if let Some(d) = ca_file.parent() {
            fs::create_dir_all(d).map_err(StepFailure::error)?;
        }
        fs::write(&ca_file, &described.ca_pem)
            .map_err(|e| StepFailure::context(ca_file.display().to_string(), e))?;
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
        let version = self.kube.version(&conn).map_err(StepFailure::error)?;
        ctx.log.line(&format!("{cluster}: Kubernetes {version}"));
        Ok(())
    }

    /// Deletes what the cluster's inventory lists and the committed manifests no longer have,
    /// then records the manifests' objects as the inventory (see [`Work::Prune`]).
    fn prune(
        &self,
        cluster: &str,
        files: &[String],
        protected: bool,
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let conn = self.conn(cluster)?;
        let current: Vec<ObjectRef> = self
            .objects(files)?
            .iter()
            .filter_map(ObjectRef::of)
            .collect();
        let previous = read_inventory(self.kube, &conn).map_err(StepFailure::error)?;
        let stale = stale_objects(&previous, &current);
        // A protected namespace needs the model change and a confirmation, as destroy does.
        let mut refused = Vec::new();
        for r in stale.iter().filter(|r| r.kind == "Namespace") {
            let live = self.kube.get(&conn, r).map_err(StepFailure::error)?;
            let is_protected = live
                .as_ref()
                .is_some_and(|l| l["metadata"]["labels"][flotilla_helm::PROTECTED_LABEL] == "true");
            if protected && is_protected && !self.prune_confirmed {
                refused.push(r.name.clone());
            }
        }
        if !refused.is_empty() {
            return Err(StepFailure::Failed(format!(
                "{cluster} is protected: pruning would delete namespace {}; confirm with `--confirm-prune <target>` (after reviewing the dry run), or put the application back in platform.toml",
                refused.join(", ")
            )));
        }
        for r in &stale {
            if r.kind == "Namespace" {
                // The deletion guard admits a delete the namespace itself confirms.
                let confirm = serde_json::json!({
                    "apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": r.name, "annotations": {flotilla_helm::DELETE_CONFIRMED: r.name}},
                });
                if self
                    .kube
                    .get(&conn, r)
                    .map_err(StepFailure::error)?
                    .is_some()
                {
                    self.kube
                        .apply(&conn, &confirm, false)
                        .map_err(StepFailure::error)?;
                }
            }
            ctx.log.line(&format!("prune: delete {r}"));
            self.kube.delete(&conn, r).map_err(StepFailure::error)?;
        }
        if !stale.is_empty() {
            ctx.reporter.message(
                &flotilla_plan::StepId(format!("prune:{cluster}")),
                &format!(
                    "pruned {}",
                    stale
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        write_inventory(self.kube, &conn, &current).map_err(StepFailure::error)?;
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
            out.extend(crate::edge::kube::parse_manifests(f, &text).map_err(StepFailure::Failed)?);
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
                .map_err(StepFailure::error)?;
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
                .map_err(|e| StepFailure::context(kubeconfig.display().to_string(), e))?;
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
        self.poll_until(
            ctx,
            Some(step),
            "waiting for Secret",
            || {
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
                        .map_err(StepFailure::error)?;
                    if found.is_none() {
                        missing.push(s.to_string());
                    }
                }
                Ok(missing)
            },
            |missing| {
                format!(
                    "{}: Secret {} not there after {}s (written by an operator from {}); not installing {}",
                    conn.cluster,
                    missing.join(", "),
                    self.timeouts.ready.as_secs(),
                    release.needs_manifests.join(", "),
                    release.name
                )
            },
        )
    }

    /// The one wait loop of the engine: runs `check` until it returns nothing still pending,
    /// the ready timeout passes or the run is interrupted, logging (and, for a step, reporting)
    /// what is pending on each pass; on timeout the step fails with `timed_out(pending)`.
    fn poll_until(
        &self,
        ctx: &StepContext<'_>,
        step: Option<&Step>,
        what: &str,
        mut check: impl FnMut() -> Result<Vec<String>, StepFailure>,
        timed_out: impl FnOnce(&[String]) -> String,
    ) -> Result<(), StepFailure> {
        let deadline = Instant::now() + self.timeouts.ready;
        loop {
            let pending = check()?;
            if pending.is_empty() {
                return Ok(());
            }
            let line = format!("{what} {}", pending.join(", "));
            ctx.log.line(&line);
            if let Some(step) = step {
                ctx.reporter.message(&step.id, &line);
            }
            if Instant::now() >= deadline {
                return Err(StepFailure::Failed(timed_out(&pending)));
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
        self.poll_until(
            ctx,
            Some(step),
            "waiting for",
            || {
                let mut waiting = Vec::new();
                for ns in namespaces {
                    for kind in ["Deployment", "StatefulSet"] {
                        let items = self
                            .kube
                            .list(&conn, "apps/v1", kind, Some(ns))
                            .map_err(StepFailure::error)?;
                        for item in items {
                            if let Err(why) = crate::edge::kube::readiness(&item)
                                && let Some(r) = ObjectRef::of(&item)
                            {
                                waiting.push(format!("{r} ({why})"));
                            }
                        }
                    }
                }
                for o in &objects {
                    let r = ObjectRef::of(o).expect("parsed manifests are complete");
                    if !crate::edge::kube::has_readiness(&r.kind) {
                        continue;
                    }
                    match self.kube.get(&conn, &r).map_err(StepFailure::error)? {
                        None => waiting.push(format!("{r} (not found)")),
                        Some(live) => {
                            if let Err(why) = crate::edge::kube::readiness(&live) {
                                waiting.push(format!("{r} ({why})"));
                            }
                        }
                    }
                }
                Ok(waiting)
            },
            |waiting| {
                format!(
                    "{cluster}: not ready after {}s: {}",
                    self.timeouts.ready.as_secs(),
                    waiting.join(", ")
                )
            },
        )
    }

    fn copy_secrets(
        &self,
        copies: &[(
            flotilla_plan::wiring::SecretRef,
            flotilla_plan::wiring::SecretRef,
        )],
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
                .map_err(StepFailure::error)?
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
            let obj = crate::edge::kube::secret(&to.namespace, &to.name, &data, &from.to_string());
            self.kube
                .apply(&dst, &obj, false)
                .map_err(StepFailure::error)?;
        }
        Ok(())
    }

    fn receiver_credentials(
        &self,
        cluster: &str,
        region: &str,
        secrets: &[flotilla_plan::wiring::ReceiverSecret],
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
                flotilla_plan::wiring::RECEIVER_SECRET_KEY.to_string(),
                base64::engine::general_purpose::STANDARD.encode(value.as_bytes()),
            )]);
            // The namespace is the namespaces step's, as above.
            let obj = crate::edge::kube::secret(
                &s.target.namespace,
                &s.target.name,
                &data,
                &format!("aws-secretsmanager:{}", s.secret_id),
            );
            ctx.log
                .line(&format!("server-side apply Secret {}", s.target));
            self.kube
                .apply(&conn, &obj, false)
                .map_err(StepFailure::error)?;
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
        let fail = |e: crate::edge::kube::KubeError| StepFailure::error(e);
        let version = self.kube.version(&conn).map_err(fail)?;
        ctx.log.line(&format!("Kubernetes {version}"));
        let nodes = self.kube.list(&conn, "v1", "Node", None).map_err(fail)?;
        if nodes.is_empty() {
            return Err(StepFailure::Failed(format!("{cluster}: no nodes")));
        }
        let mut problems: Vec<String> = nodes
            .iter()
            .filter_map(|n| {
                crate::edge::kube::readiness(n).err().map(|why| {
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
            if !crate::edge::kube::has_readiness(&r.kind) {
                continue;
            }
            match self.kube.get(&conn, &r).map_err(fail)? {
                None => problems.push(format!("{r} (not found)")),
                Some(live) => {
                    if let Err(why) = crate::edge::kube::readiness(&live) {
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
            self.kube.delete(&conn, r).map_err(StepFailure::error)?;
        }
        self.poll_until(
            ctx,
            None,
            "waiting for finalizers:",
            || {
                let mut left = Vec::new();
                for r in &refs {
                    if self
                        .kube
                        .get(&conn, r)
                        .map_err(StepFailure::error)?
                        .is_some()
                    {
                        left.push(r.to_string());
                    }
                }
                Ok(left)
            },
            |left| {
                format!(
                    "{cluster}: still there after {}s (finalizers): {}",
                    self.timeouts.ready.as_secs(),
                    left.join(", ")
                )
            },
        )
    }

    fn check_no_peers(
        &self,
        workloads: &[(String, String)],
        ctx: &StepContext<'_>,
    ) -> Result<(), StepFailure> {
        let mut peers = Vec::new();
        for (name, dir) in workloads {
            fs::create_dir_all(self.paths.tf_data_dir(name)).map_err(StepFailure::error)?;
            self.run_ok(&tf_init(&self.paths, dir, name), ctx, false)?;
            let out = self.run_ok(&tf_state_list(&self.paths, dir, name), ctx, true)?;
            let n = out.stdout.lines().filter(|l| !l.trim().is_empty()).count();
            ctx.log.line(&format!("{dir}: {n} resources in state"));
            if n > 0 {
                peers.push(format!(
                    "{} ({n} resources in {dir})",
                    flotilla_terraform::cluster_of_module(name)
                ));
            }
        }
        if peers.is_empty() {
            Ok(())
        } else {
            Err(StepFailure::Failed(format!(
                "refusing to destroy the controlplane while workload clusters are still joined to it: {}; destroy them first",
                peers.join(", ")
            )))
        }
    }
}

impl StepExecutor for Engine<'_> {
    fn execute(&self, step: &Step, ctx: &StepContext<'_>) -> Result<(), StepFailure> {
        for line in describe(
            step,
            &self.paths,
            &self.timeouts,
            &self.endpoints,
            &manifest_objects(&self.paths.root),
        ) {
            ctx.log.line(&format!("plan: {line}"));
        }
        match &step.work {
            Work::Preflight {
                region,
                quotas,
                addons,
                clusters,
            } => self.preflight(region, quotas, addons, clusters, ctx),
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
            Work::Prune {
                cluster,
                files,
                protected,
            } => self.prune(cluster, files, *protected, ctx),
            Work::DeleteObjects { cluster, files } => self.delete_objects(cluster, files, ctx),
            Work::CheckNoPeers { workloads } => self.check_no_peers(workloads, ctx),
            Work::DeleteLogGroup { region, group, .. } => {
                let deleted = self
                    .aws
                    .delete_log_group(group, region)
                    .map_err(StepFailure::error)?;
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
        serde_json::json!({"server": conn.endpoint, "certificate-authority": path_text(ca_file)})
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

/// The inventory ConfigMap's reference.
fn inventory_ref() -> ObjectRef {
    let (namespace, name) = flotilla_plan::graph::INVENTORY;
    ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

/// What Flotilla applied to a cluster before (empty before the first pruning deploy).
pub fn read_inventory(
    kube: &dyn Kube,
    conn: &Conn,
) -> Result<Vec<ObjectRef>, crate::edge::kube::KubeError> {
    let Some(cm) = kube.get(conn, &inventory_ref())? else {
        return Ok(vec![]);
    };
    let text = cm["data"]["objects.json"].as_str().unwrap_or("[]");
    let entries: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
    Ok(entries
        .iter()
        .filter_map(|e| {
            Some(ObjectRef {
                api_version: e["apiVersion"].as_str()?.to_string(),
                kind: e["kind"].as_str()?.to_string(),
                namespace: e["namespace"].as_str().map(str::to_string),
                name: e["name"].as_str()?.to_string(),
            })
        })
        .collect())
}

fn write_inventory(
    kube: &dyn Kube,
    conn: &Conn,
    objects: &[ObjectRef],
) -> Result<(), crate::edge::kube::KubeError> {
    let entries: Vec<Value> = objects
        .iter()
        .map(|r| {
            serde_json::json!({
                "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
            })
        })
        .collect();
    let r = inventory_ref();
    let cm = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": r.name, "namespace": r.namespace,
            "labels": {flotilla_model::reserved::MANAGED_BY_LABEL: flotilla_model::reserved::MANAGED_BY},
        },
        "data": {"objects.json": serde_json::to_string(&entries).unwrap_or_default()},
    });
    kube.apply(conn, &cm, false).map(|_| ())
}

/// The inventory's objects the committed manifests no longer have, in delete order: objects in
/// a namespace before the namespace, and never the inventory itself.
pub fn stale_objects(previous: &[ObjectRef], current: &[ObjectRef]) -> Vec<ObjectRef> {
    let key = |r: &ObjectRef| {
        (
            r.api_version.clone(),
            r.kind.clone(),
            r.namespace.clone(),
            r.name.clone(),
        )
    };
    let now: std::collections::BTreeSet<_> = current.iter().map(key).collect();
    let inventory = key(&inventory_ref());
    let mut stale: Vec<ObjectRef> = previous
        .iter()
        .filter(|r| !now.contains(&key(r)) && key(r) != inventory)
        .cloned()
        .collect();
    stale.sort_by_key(|r| {
        (
            r.kind == "Namespace",
            r.namespace.clone(),
            r.kind.clone(),
            r.name.clone(),
        )
    });
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(inputs: &[&str]) -> Step {
        Step {
            id: flotilla_plan::graph::StepId("terraform:dev".into()),
            work: Work::CheckNoPeers { workloads: vec![] },
            needs: vec![],
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: vec![],
            volatile: false,
        }
    }

    /// A module's hash covers the files of its directory, not a module below it, nor
    /// Terraform's own working files.
    #[test]
    fn a_directory_input_is_the_files_directly_in_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("infra/dev");
        fs::create_dir_all(dir.join("link")).unwrap();
        fs::write(dir.join("main.tf"), "a").unwrap();
        fs::write(dir.join("link/main.tf"), "b").unwrap();
        let cluster = step(&["infra/dev"]);
        let link = step(&["infra/dev/link"]);
        let (c0, l0) = (
            inputs_hash(&cluster, &[], root.path()),
            inputs_hash(&link, &[], root.path()),
        );
        fs::write(dir.join("link/main.tf"), "changed").unwrap();
        fs::write(dir.join("terraform.tfstate"), "state").unwrap();
        assert_eq!(inputs_hash(&cluster, &[], root.path()), c0);
        assert_ne!(inputs_hash(&link, &[], root.path()), l0);
        fs::write(dir.join("main.tf"), "changed").unwrap();
        assert_ne!(inputs_hash(&cluster, &[], root.path()), c0);
    }

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
