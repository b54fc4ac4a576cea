//! The exact commands of the steps (Terraform, Helm, kubectl argument lists), the run's paths
//! and its timeouts. The engine runs these invocations; `--dry-run` and `plan` print them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use flotilla_helm::Release;

use crate::FIELD_MANAGER;
use crate::invocation::{Invocation, Tool};

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

impl Timeouts {
    /// The defaults, in seconds, as the command line's flags show them.
    pub const HELM_SECONDS: u64 = 600;
    pub const READY_SECONDS: u64 = 900;
    pub const POLL_SECONDS: u64 = 5;
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            helm: Duration::from_secs(Timeouts::HELM_SECONDS),
            ready: Duration::from_secs(Timeouts::READY_SECONDS),
            poll: Duration::from_secs(Timeouts::POLL_SECONDS),
        }
    }
}

/// Where a run keeps its files; `--dry-run` shows placeholders.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    /// The state directory (`.flotilla` of the checkout, or `FLOTILLA_STATE_DIR`): Terraform's
    /// data directories live in `<state>/terraform/<module>`.
    pub state: PathBuf,
    pub run_dir: PathBuf,
}

impl Paths {
    pub fn tf_data_dir(&self, module: &str) -> PathBuf {
        self.state.join("terraform").join(module)
    }
    pub fn plan_file(&self, module: &str) -> PathBuf {
        self.run_dir.join("plans").join(format!("{module}.tfplan"))
    }
    pub fn ca_file(&self, cluster: &str) -> PathBuf {
        self.run_dir
            .join("access")
            .join(format!("{cluster}-ca.crt"))
    }
    pub fn kubeconfig(&self, cluster: &str) -> PathBuf {
        self.run_dir
            .join("access")
            .join(format!("{cluster}.kubeconfig"))
    }
}

/// A path as the printed commands show it.
pub fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn tf(paths: &Paths, dir: &str, module: &str, args: &[&str]) -> Invocation {
    let mut all = vec![format!("-chdir={dir}")];
    all.extend(args.iter().map(|a| a.to_string()));
    Invocation::new(Tool::Terraform, all).env("TF_DATA_DIR", path_text(&paths.tf_data_dir(module)))
}

pub fn tf_init(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(paths, dir, module, &["init", "-input=false", "-no-color"])
}

pub fn tf_plan(paths: &Paths, dir: &str, module: &str, destroy: bool) -> Invocation {
    let out = format!("-out={}", path_text(&paths.plan_file(module)));
    let mut args = vec!["plan", "-input=false", "-no-color"];
    if destroy {
        args.push("-destroy");
    }
    args.push(&out);
    tf(paths, dir, module, &args)
}

pub fn tf_show(paths: &Paths, dir: &str, module: &str) -> Invocation {
    let plan = path_text(&paths.plan_file(module));
    tf(paths, dir, module, &["show", "-json", "-no-color", &plan])
}

pub fn tf_apply(paths: &Paths, dir: &str, module: &str) -> Invocation {
    let plan = path_text(&paths.plan_file(module));
    tf(
        paths,
        dir,
        module,
        &["apply", "-input=false", "-no-color", &plan],
    )
}

/// `plan -detailed-exitcode`: 0 nothing to do, 2 changes pending, 1 error.
/// `terraform plan -refresh-only`: what changed in the account outside Terraform (drift),
/// exit 2 when anything did.
pub fn tf_refresh_only(paths: &Paths, dir: &str, module: &str) -> Invocation {
    tf(
        paths,
        dir,
        module,
        &[
            "plan",
            "-refresh-only",
            "-input=false",
            "-no-color",
            "-lock=false",
            "-detailed-exitcode",
        ],
    )
}

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
        .env("HELM_KUBECAFILE", path_text(&paths.ca_file(cluster)))
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
        path_text(&paths.root.join(&r.values_file)),
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
        path_text(&paths.root.join(&r.values_file)),
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
    .env("KUBECONFIG", path_text(&paths.kubeconfig(cluster)))
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
    .env("KUBECONFIG", path_text(&paths.kubeconfig(cluster)))
}
