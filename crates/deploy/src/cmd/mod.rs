//! The commands xtask dispatches to: `deploy`, `destroy`, `plan`. Each takes the repository
//! root, the loaded platform, its arguments, the outside world ([`Io`]) and where to print, and
//! returns the process exit code (0 success, 1 failure, 2 changes found).

pub mod baseline;
pub mod decommission;
pub mod diff;
pub mod drift;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use flotilla_model::Platform;

use crate::edge::aws::{Aws, SdkAws};
use crate::edge::kube::{Kube, KubeClient};
use crate::edge::tools::{self, ToolError};
use crate::exec::{Engine, inputs_hash, manifest_objects};
use crate::run::journal;
use crate::run::prompt::Prompt;
use crate::run::scheduler::{self as runner, Cancel, Reporter, RunOptions, RunSummary};
use flotilla_plan::graph::{
    DestroyRefused, Graph, GraphError, GraphInputs, GraphOptions, Step, TerraformMode, Work,
    deploy_graph, destroy_graph,
};
pub use flotilla_plan::report::Format;
use flotilla_plan::{Paths, Target, Timeouts, Tool, UnknownTarget, describe, exit};

/// Errors that stop a command before or around a run (a failing step is not one: it shows in
/// the summary and the exit code).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    UnknownTarget(#[from] UnknownTarget),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Tools(Vec<ToolError>),
    #[error(
        "{clusters} protected: deploying it needs a clean git tree (commit or stash first), or --allow-dirty-protected\n{status}"
    )]
    DirtyTree { clusters: String, status: String },
    #[error(
        "applying Terraform changes needs --yes when not interactive (stdin is not a terminal); review them first with `cargo xtask diff {target} --live` or `--dry-run`"
    )]
    NeedsYes { target: String },
    #[error(
        "destroying needs --yes when not interactive (stdin is not a terminal); review the teardown first with `cargo xtask destroy {target} --confirm {target} --dry-run`"
    )]
    DestroyNeedsYes { target: String },
    #[error(transparent)]
    Refused(#[from] DestroyRefused),
    #[error("internal: {0}")]
    Graph(#[from] GraphError),
    #[error("--resume: no earlier {command} run of `{target}` under {}", runs.display())]
    NothingToResume {
        command: String,
        target: String,
        runs: PathBuf,
    },
    #[error(
        "the committed infra/ and helm/ differ from platform.toml in {} file(s): {}{}\na deploy applies what is committed and reviewed, so it does not run: `cargo xtask generate`, review and commit the result, then deploy (or check out the platform.toml that matches)",
        files.len(),
        files[..files.len().min(8)].join(", "),
        if files.len() > 8 { format!(" and {} more", files.len() - 8) } else { String::new() }
    )]
    Drift { files: Vec<String> },
    #[error("{0}")]
    CommittedFile(String),
    /// No usable credentials, or credentials of another account: found before anything runs.
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The exit code of the command this error stops ([`flotilla_plan::exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            // What the command line must say and did not: `--yes` off a terminal, `--confirm`.
            Error::UnknownTarget(_)
            | Error::NeedsYes { .. }
            | Error::DestroyNeedsYes { .. }
            | Error::Refused(DestroyRefused::Confirmation { .. }) => exit::USAGE,
            Error::Tools(_) => exit::TOOL_MISSING,
            Error::Drift { .. } => exit::CHANGES,
            _ => exit::ERROR,
        }
    }
}

/// The outside world a command works with. [`Io::real`] for the CLI; tests build their own.
pub struct Io {
    pub aws: Box<dyn Aws>,
    pub kube: Box<dyn Kube>,
    pub cancel: Arc<Cancel>,
    /// `None`: indicatif on a terminal, timestamped lines otherwise.
    pub reporter: Option<Box<dyn Reporter>>,
    /// Where questions are asked (each Terraform apply without `--yes`): the terminal when
    /// stdin is one, `None` otherwise, so applying needs `--yes`. Tests answer through a pipe.
    pub prompt: Option<Prompt>,
    /// Cluster name -> Kubernetes API endpoint, instead of DescribeCluster's.
    pub endpoints: BTreeMap<String, String>,
    /// Tool programs named explicitly (tests); otherwise `FLOTILLA_<TOOL>` or PATH.
    pub tools: BTreeMap<Tool, PathBuf>,
}

impl Io {
    /// The SDK, `kube`, a Ctrl-C handler that interrupts the run, endpoints from
    /// `FLOTILLA_KUBE_ENDPOINT_<CLUSTER>`.
    pub fn real(platform: &Platform) -> std::io::Result<Io> {
        let cancel = Cancel::new();
        install_ctrl_c(cancel.clone())?;
        Ok(Io {
            aws: Box::new(SdkAws::new()?),
            kube: Box::new(KubeClient::new()?),
            cancel,
            reporter: None,
            prompt: Prompt::terminal(),
            endpoints: endpoints_from_env(platform),
            tools: BTreeMap::new(),
        })
    }
}

/// `FLOTILLA_KUBE_ENDPOINT_<CLUSTER>` (cluster name upper-cased, `-` as `_`).
pub fn endpoints_from_env(platform: &Platform) -> BTreeMap<String, String> {
    platform
        .clusters
        .iter()
        .filter_map(|c| {
            let var = format!(
                "FLOTILLA_KUBE_ENDPOINT_{}",
                c.name.to_uppercase().replace('-', "_")
            );
            std::env::var(var).ok().map(|e| (c.name.clone(), e))
        })
        .collect()
}

/// Ctrl-C: the first starts no new step and forwards the interrupt to running processes;
/// the run then waits for them and writes the journal. A second one is forwarded again.
fn install_ctrl_c(cancel: Arc<Cancel>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            rt.block_on(async {
                let mut n = 0;
                while tokio::signal::ctrl_c().await.is_ok() {
                    n += 1;
                    if n == 1 {
                        let _ = writeln!(
                            std::io::stderr(),
                            "\ninterrupted: starting no new step, waiting for the running ones to stop (the journal is kept; continue with --resume)"
                        );
                    } else {
                        let _ = writeln!(
                            std::io::stderr(),
                            "\ninterrupted again: forwarding to the running processes"
                        );
                    }
                    cancel.interrupt();
                }
            })
        })?;
    Ok(())
}

/// Arguments of `deploy`.
#[derive(Debug, Clone)]
pub struct DeployArgs {
    /// An environment, `controlplane` or `all`.
    pub target: String,
    pub dry_run: bool,
    pub yes: bool,
    pub with_dependencies: bool,
    pub jobs: usize,
    pub resume: bool,
    pub allow_dirty_protected: bool,
    pub timeouts: Timeouts,
    /// Confirms pruning protected namespaces of this target (must repeat the target).
    pub confirm_prune: Option<String>,
    /// What the dry run plans an upgrade from (the platform at a git ref), with its name.
    pub baseline: Option<(String, Platform)>,
}

impl DeployArgs {
    pub fn new(target: &str) -> DeployArgs {
        DeployArgs {
            target: target.to_string(),
            dry_run: false,
            yes: false,
            with_dependencies: false,
            jobs: flotilla_plan::DEFAULT_JOBS,
            resume: false,
            allow_dirty_protected: false,
            timeouts: Timeouts::default(),
            confirm_prune: None,
            baseline: None,
        }
    }
}

/// What the step graph is built from. A real run plans from the committed release files
/// (`helm/<cluster>/releases.yaml`), whose values and manifests it applies, and refuses when the
/// committed output drifts from `platform.toml`; a dry run on drift plans from `platform.toml`
/// (what `generate` would write) and says so.
pub fn planning_inputs(
    root: &Path,
    platform: &Platform,
    dry_run: bool,
) -> Result<GraphInputs, Error> {
    let drift = flotilla_generate::diff::drifted_files(root, platform)?;
    if !drift.is_empty() {
        if dry_run {
            return Ok(GraphInputs::from_platform(platform));
        }
        return Err(Error::Drift { files: drift });
    }
    committed_inputs(root, platform)
}

/// The graph inputs from the committed release files, whatever today's renderer would make of
/// the platform (a decommission tears down what an older commit deployed).
pub fn committed_inputs(root: &Path, platform: &Platform) -> Result<GraphInputs, Error> {
    let mut files = Vec::new();
    for c in &platform.clusters {
        let rel = flotilla_helm::ReleaseFile::path(&c.name);
        let text = std::fs::read_to_string(root.join(&rel))
            .map_err(|e| Error::CommittedFile(format!("{rel}: {e}")))?;
        files.push(flotilla_helm::ReleaseFile::parse(&rel, &text).map_err(Error::CommittedFile)?);
    }
    Ok(GraphInputs::from_release_files(files))
}

/// `cargo xtask deploy <target>`.
pub fn deploy(
    root: &Path,
    platform: &Platform,
    args: &DeployArgs,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let target = Target::parse(platform, &args.target)?;
    let inputs = planning_inputs(root, platform, args.dry_run)?;
    let graph = deploy_graph(
        platform,
        &inputs,
        &target,
        GraphOptions {
            with_dependencies: args.with_dependencies,
        },
    )?;
    let target_name = target.name(platform);
    if args.dry_run {
        let clean = print_dry_run(
            root,
            platform,
            "deploy",
            &target_name,
            &graph,
            &args.timeouts,
            io,
            args.baseline.as_ref(),
            out,
        )?;
        // A real deploy would refuse a drifted checkout (exit 2): so does its preview.
        return Ok(if clean { 0 } else { i32::from(exit::CHANGES) });
    }
    check_protected(root, platform, &graph, args.allow_dirty_protected, out)?;
    if !args.yes && io.prompt.is_none() {
        return Err(Error::NeedsYes {
            target: target_name,
        });
    }
    check_credentials(platform, &graph, io, out)?;
    let prune_confirmed = args.confirm_prune.as_deref() == Some(args.target.as_str());
    let code = execute(
        root,
        "deploy",
        &target_name,
        &graph,
        args.jobs,
        args.resume,
        args.yes,
        prune_confirmed,
        flotilla_plan::throttle_groups(platform, &graph),
        &args.timeouts,
        io,
        out,
    )?;
    // `deploy all` also prunes whole clusters the model removed (after everything else
    // succeeded, so a failed deploy never tears anything down).
    if code != 0 || target != Target::All {
        return Ok(code);
    }
    let mut template = DestroyArgs::new("", None);
    template.yes = args.yes;
    template.jobs = args.jobs;
    template.timeouts = args.timeouts;
    template.as_committed = true;
    decommission::run(root, platform, &template, prune_confirmed, io, out)
}

/// Arguments of `destroy`.
#[derive(Debug, Clone)]
pub struct DestroyArgs {
    pub target: String,
    /// Must repeat the target.
    pub confirm: Option<String>,
    pub dry_run: bool,
    pub yes: bool,
    pub jobs: usize,
    pub resume: bool,
    pub timeouts: Timeouts,
    /// Tear down what the files under the root say, without comparing them with a fresh render
    /// (a decommission runs the files of the commit before a cluster's removal).
    pub as_committed: bool,
}

impl DestroyArgs {
    pub fn new(target: &str, confirm: Option<&str>) -> DestroyArgs {
        DestroyArgs {
            target: target.to_string(),
            confirm: confirm.map(str::to_string),
            dry_run: false,
            yes: false,
            jobs: flotilla_plan::DEFAULT_JOBS,
            resume: false,
            timeouts: Timeouts::default(),
            as_committed: false,
        }
    }
}

/// `cargo xtask destroy <env> --confirm <env>`: the reverse graph. Refuses protected clusters,
/// and the controlplane while a workload cluster still peers with it.
pub fn destroy(
    root: &Path,
    platform: &Platform,
    args: &DestroyArgs,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let target = Target::parse(platform, &args.target)?;
    let target_name = target.name(platform);
    // What the model refuses (protected clusters, a peered controlplane) is refused first,
    // whatever is committed. The dry run of a protected cluster still previews the teardown
    // that runs once `protected = false` is merged, under the refusal.
    let unprotected;
    let mut refused = false;
    let graph_platform =
        match destroy_graph(platform, &GraphInputs::from_platform(platform), &target) {
            Err(DestroyRefused::Protected { cluster }) if args.dry_run => {
                writeln!(
                    out,
                    "WOULD REFUSE: {}\nthe teardown once that is merged:\n",
                    DestroyRefused::Protected {
                        cluster: cluster.clone()
                    }
                )?;
                refused = true;
                let mut p = platform.clone();
                for c in p.clusters.iter_mut().filter(|c| c.name == cluster) {
                    c.protected = false;
                }
                unprotected = p;
                &unprotected
            }
            other => {
                other??;
                platform
            }
        };
    let inputs = if args.as_committed {
        committed_inputs(root, platform)?
    } else {
        planning_inputs(root, platform, args.dry_run)?
    };
    let graph = destroy_graph(graph_platform, &inputs, &target)??;
    if args.dry_run {
        // Drift and preconditions of the platform as it is; the steps of the teardown.
        let clean = print_dry_run(
            root,
            platform,
            "destroy",
            &target_name,
            &graph,
            &args.timeouts,
            io,
            None,
            out,
        )?;
        return Ok(if refused {
            i32::from(exit::ERROR)
        } else if clean {
            0
        } else {
            i32::from(exit::CHANGES)
        });
    }
    if args.confirm.as_deref() != Some(args.target.as_str()) {
        return Err(DestroyRefused::Confirmation {
            target: args.target.clone(),
            given: args.confirm.clone().unwrap_or_default(),
        }
        .into());
    }
    if !args.yes && io.prompt.is_none() {
        return Err(Error::DestroyNeedsYes {
            target: target_name,
        });
    }
    check_credentials(platform, &graph, io, out)?;
    // A cluster torn down already (its states hold no resources; Terraform keeps the empty
    // objects) has nothing to destroy, and lifting its protection would apply its module,
    // that is create it anew: stop here.
    // (A teardown that stopped after Terraform, before the log group went, is continued
    // instead: its journal is not finished.)
    let unfinished = journal::latest(root, "destroy", &target_name)?.is_some_and(|(_, j)| {
        j.state != journal::RunState::Finished || j.steps.iter().any(|s| !s.status.is_success())
    });
    if let Some(cluster) = target_cluster(platform, &target).filter(|_| !unfinished) {
        let mut keys = vec![flotilla_terraform::state_key(cluster)];
        if cluster.role == flotilla_model::Role::Workload {
            keys.push(flotilla_terraform::link_state_key(&cluster.name));
        }
        let mut any = false;
        for key in &keys {
            let state = io
                .aws
                .get_object(&platform.state_bucket, key, &platform.region)
                .map_err(|e| Error::Other(e.to_string()))?;
            any |= state.as_deref().is_some_and(decommission::has_resources);
        }
        if !any {
            writeln!(
                out,
                "destroy {target_name}: nothing to tear down: {} in s3://{} hold no resources",
                keys.join(" and "),
                platform.state_bucket
            )?;
            return Ok(0);
        }
    }
    execute(
        root,
        "destroy",
        &target_name,
        &graph,
        args.jobs,
        args.resume,
        args.yes,
        false,
        flotilla_plan::throttle_groups(platform, &graph),
        &args.timeouts,
        io,
        out,
    )
}

/// `cargo xtask plan`: the capacity plan, AWS quotas, EKS support cost and the step graph.
pub fn plan(
    platform: &Platform,
    target: &str,
    format: Format,
    with_dependencies: bool,
    today: jiff::civil::Date,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let target = Target::parse(platform, target)?;
    write!(
        out,
        "{}",
        flotilla_plan::report::report(platform, &target, format, with_dependencies, today)?
    )?;
    Ok(0)
}

/// The variable that fixes today's date for `plan` and `cost` (tests, or "what will this say
/// on the day standard support ends").
pub const TODAY_ENV: &str = "FLOTILLA_TODAY";

/// Today (UTC): `FLOTILLA_TODAY` (`YYYY-MM-DD`) when set, else the clock.
pub fn today() -> Result<jiff::civil::Date, Error> {
    match std::env::var(TODAY_ENV) {
        Ok(text) if !text.is_empty() => flotilla_model::versions::date(&text)
            .ok_or_else(|| Error::Other(format!("{TODAY_ENV}={text}: not a date (YYYY-MM-DD)"))),
        _ => Ok(jiff::tz::Offset::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()),
    }
}

/// The one cluster a target names (an environment or the controlplane).
fn target_cluster<'a>(
    platform: &'a Platform,
    target: &Target,
) -> Option<&'a flotilla_model::Cluster> {
    match target {
        Target::All => None,
        Target::Controlplane => Some(platform.controlplane()),
        Target::Environment(e) => platform.cluster_for_environment(e),
    }
}

/// Before anything runs: the credentials resolve to an identity, in the account every cluster
/// of the platform lives in (validation holds them all in `platform.account_id`). A failure
/// says what was looked at and what to do, and leaves no run directory behind.
fn check_credentials(
    platform: &Platform,
    graph: &Graph,
    io: &Io,
    out: &mut dyn Write,
) -> Result<(), Error> {
    // The tools first: a machine without them learns that without a call to AWS.
    let versions = flotilla_model::Versions::embedded();
    tools::check(&needed_tools(graph), &versions.tools, &io.tools).map_err(Error::Tools)?;
    let region = &platform.region;
    let account = &platform.account_id;
    match io.aws.caller_identity(region) {
        Ok(id) if id.account == *account => {
            writeln!(out, "credentials: {} (account {account})", id.arn)?;
            Ok(())
        }
        Ok(id) => Err(Error::Credentials(format!(
            "the AWS credentials are {} in account {}, but the platform's clusters are in account {account} (platform.account_id): use credentials of account {account} (AWS_PROFILE, `aws sso login`); nothing was run",
            id.arn, id.account
        ))),
        Err(e) => {
            let detail = match &e {
                crate::edge::aws::AwsError::Credentials(d) => d.clone(),
                other => other.to_string(),
            };
            Err(Error::Credentials(credentials_help(
                region, account, &detail,
            )))
        }
    }
}

/// What to say when no credentials resolve: where the SDK looked, what it said (shortened),
/// and how to get credentials of the platform's account.
pub fn credentials_help(region: &str, account: &str, detail: &str) -> String {
    let profile = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let keys = if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        "AWS_ACCESS_KEY_ID set"
    } else {
        "AWS_ACCESS_KEY_ID unset"
    };
    let looked = match &profile {
        Some(p) => format!(
            "the environment ({keys}), the profile `{p}` (AWS_PROFILE), SSO and instance metadata"
        ),
        None => format!("the environment ({keys}), the default profile, SSO and instance metadata"),
    };
    let fix = match &profile {
        Some(p) => format!(
            "`aws sso login --profile {p}`, or set AWS_PROFILE to a profile of account {account}"
        ),
        None => format!(
            "`aws sso login --profile <profile>` and set AWS_PROFILE to a profile of account {account}, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ),
    };
    let detail: String = detail.chars().take(240).collect();
    format!(
        "no usable AWS credentials for {region}: looked at {looked}; the SDK said: {detail}\n  = help: {fix}; `cargo xtask doctor` shows what resolves. Nothing was run."
    )
}

#[allow(clippy::too_many_arguments)]
fn print_dry_run(
    root: &Path,
    platform: &Platform,
    command: &str,
    target: &str,
    graph: &Graph,
    timeouts: &Timeouts,
    io: &Io,
    baseline: Option<&(String, Platform)>,
    out: &mut dyn Write,
) -> Result<bool, Error> {
    let paths = Paths {
        root: root.to_path_buf(),
        state: journal::state_dir(root),
        run_dir: journal::runs_dir(root).join("<run-id>"),
    };
    writeln!(
        out,
        "{command} {target} --dry-run: {} steps; nothing is run, nothing is written",
        graph.steps().len()
    )?;
    let drift = flotilla_generate::diff::drifted_files(root, platform)?;
    if drift.is_empty() {
        writeln!(
            out,
            "generated output (infra/, helm/): up to date with platform.toml"
        )?;
    } else {
        let more = if drift.len() > 8 {
            format!(" and {} more", drift.len() - 8)
        } else {
            String::new()
        };
        writeln!(
            out,
            "generated output differs from platform.toml in {} {} (run `cargo xtask generate`): {}{more}; a real {command} refuses",
            drift.len(),
            if drift.len() == 1 { "file" } else { "files" },
            drift[..drift.len().min(8)].join(", ")
        )?;
    }
    write_preconditions(root, platform, command, graph, io, out)?;
    if command == "deploy" && target == "all" {
        for line in decommission::dry_run_lines(root, platform) {
            writeln!(out, "{line}")?;
        }
    }
    if let Some((name, base)) = baseline {
        let clusters: std::collections::BTreeSet<&str> = graph
            .steps()
            .iter()
            .filter_map(|s| s.work.cluster())
            .collect();
        let upgrades: Vec<_> = flotilla_plan::upgrade::upgrades(base, platform)
            .into_iter()
            .filter(|u| clusters.contains(u.cluster.as_str()))
            .collect();
        write!(
            out,
            "upgrade: {}",
            flotilla_plan::upgrade::to_text(&upgrades, name)
        )?;
    }
    if command == "deploy" {
        write_support(platform, graph, today()?, out)?;
    }
    writeln!(out)?;
    for (i, s) in graph.steps().iter().enumerate() {
        write_step(out, i + 1, s, &paths, timeouts, &io.endpoints)?;
    }
    Ok(drift.is_empty())
}

/// The deployed clusters whose Kubernetes version leaves EKS standard support within
/// [`flotilla_model::cost::UPGRADE_NOTICE_DAYS`] or has left it, with what to do (`plan`'s EKS
/// support lines); one line when none does.
fn write_support(
    platform: &Platform,
    graph: &Graph,
    today: jiff::civil::Date,
    out: &mut dyn Write,
) -> Result<(), Error> {
    use flotilla_model::cost::{SupportPhase, UPGRADE_NOTICE_DAYS, support_line, support_phase};
    let deployed: std::collections::BTreeSet<&str> = graph
        .steps()
        .iter()
        .filter_map(|s| s.work.cluster())
        .collect();
    let due: Vec<String> = platform
        .clusters
        .iter()
        .filter(|c| deployed.contains(c.name.as_str()))
        .filter(|c| {
            !matches!(
                support_phase(platform, &c.kubernetes_version, today),
                SupportPhase::Standard { days_left, .. } if days_left > UPGRADE_NOTICE_DAYS
            )
        })
        .map(|c| support_line(platform, c, today))
        .collect();
    if due.is_empty() {
        writeln!(
            out,
            "support: every cluster's Kubernetes version stays in EKS standard support for more than {UPGRADE_NOTICE_DAYS} days (`cargo xtask plan` has the dates)"
        )?;
    } else {
        writeln!(
            out,
            "support (EKS's calendar in versions.toml, on {today}):"
        )?;
        for line in due {
            writeln!(out, "  {line}")?;
        }
    }
    Ok(())
}

/// What a real run checks before its first step, as far as it can be checked offline: the
/// git tree of protected clusters and the tools here; the credentials and the state bucket,
/// which need AWS, are named with what the real run asks.
fn write_preconditions(
    root: &Path,
    platform: &Platform,
    command: &str,
    graph: &Graph,
    io: &Io,
    out: &mut dyn Write,
) -> Result<(), Error> {
    writeln!(out, "preconditions of a real {command}:")?;
    let tree = match check_protected(root, platform, graph, false, &mut Vec::new()) {
        Ok(()) => "ok (protected clusters deploy from a clean git tree)".to_string(),
        Err(Error::DirtyTree { clusters, .. }) => format!(
            "WOULD REFUSE: {clusters} protected and the git tree is dirty (commit, or --allow-dirty-protected)"
        ),
        Err(e) => format!("cannot tell: {e}"),
    };
    writeln!(out, "  git tree:    {tree}")?;
    let versions = flotilla_model::Versions::embedded();
    let needed = needed_tools(graph);
    let names: Vec<&str> = needed.iter().map(|t| t.name()).collect();
    match tools::check(&needed, &versions.tools, &io.tools) {
        Ok(found) => {
            let list: Vec<String> = found
                .iter()
                .map(|(t, f)| format!("{} {}", t.name(), f.version))
                .collect();
            writeln!(out, "  tools:       ok here ({})", list.join(", "))?;
        }
        Err(errors) => {
            writeln!(
                out,
                "  tools:       WOULD STOP here ({} needed): {}",
                names.join(", "),
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )?;
        }
    }
    writeln!(
        out,
        "  credentials: checked first by a real run (STS GetCallerIdentity in {}, must be account {}); `cargo xtask doctor` checks them now",
        platform.region, platform.account_id
    )?;
    writeln!(
        out,
        "  state:       the bucket {} (step verify:bootstrap)",
        platform.state_bucket
    )?;
    Ok(())
}

fn write_step(
    out: &mut dyn Write,
    n: usize,
    s: &Step,
    paths: &Paths,
    timeouts: &Timeouts,
    endpoints: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    writeln!(out, "{n:>3}. {}", s.id)?;
    if !s.needs.is_empty() {
        let needs: Vec<&str> = s.needs.iter().map(|n| n.as_str()).collect();
        writeln!(out, "     after:   {}", needs.join(", "))?;
    }
    if !s.inputs.is_empty() {
        writeln!(out, "     inputs:  {}", s.inputs.join(", "))?;
    }
    if !s.outputs.is_empty() {
        writeln!(out, "     outputs: {}", s.outputs.join("; "))?;
    }
    for line in describe(
        s,
        paths,
        timeouts,
        endpoints,
        &manifest_objects(&paths.root),
    ) {
        writeln!(out, "       {line}")?;
    }
    Ok(())
}

fn mutates(w: &Work) -> bool {
    match w {
        Work::Terraform { mode, .. } => *mode != TerraformMode::Verify,
        Work::Bootstrap { deploy, .. } => *deploy,
        Work::Crds { .. }
        | Work::Apply { .. }
        | Work::HelmInstall { .. }
        | Work::HelmUninstall { .. }
        | Work::CopySecrets { .. }
        | Work::ReceiverCredentials { .. }
        | Work::DeleteObjects { .. }
        | Work::Prune { .. }
        | Work::DeleteLogGroup { .. } => true,
        Work::ClusterAccess { .. }
        | Work::Readiness { .. }
        | Work::Smoke { .. }
        | Work::CheckNoPeers { .. }
        | Work::Preflight { .. } => false,
    }
}

/// A protected cluster is changed only from a clean git tree: what is deployed is what was
/// reviewed.
fn check_protected(
    root: &Path,
    platform: &Platform,
    graph: &Graph,
    allow_dirty: bool,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let mut protected: Vec<&str> = graph
        .steps()
        .iter()
        .filter(|s| mutates(&s.work))
        .filter_map(|s| match &s.work {
            Work::Terraform { module, .. } => Some(flotilla_terraform::cluster_of_module(module)),
            w => w.cluster(),
        })
        .filter(|c| platform.cluster(c).is_some_and(|c| c.protected))
        .collect();
    protected.sort();
    protected.dedup();
    if protected.is_empty() {
        return Ok(());
    }
    let status = match Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=normal"])
        .current_dir(root)
        .output()
    {
        Ok(o) if o.status.success() => {
            let s: String = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !terraform_working_file(l))
                .map(|l| format!("{l}\n"))
                .collect();
            if s.trim().is_empty() {
                return Ok(());
            }
            s
        }
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => format!("git: {e}"),
    };
    let clusters = protected.join(", ");
    if allow_dirty {
        writeln!(
            out,
            "WARNING: ===================================================================\nWARNING: deploying protected {clusters} from a DIRTY git tree (--allow-dirty-protected).\nWARNING: what gets deployed has not been reviewed as a commit.\nWARNING: ==================================================================="
        )?;
        return Ok(());
    }
    Err(Error::DirtyTree {
        clusters: if protected.len() == 1 {
            format!("{clusters} is")
        } else {
            format!("{clusters} are")
        },
        status: {
            let lines: Vec<&str> = status.trim_end().lines().collect();
            let mut s = lines[..lines.len().min(10)].join("\n");
            if lines.len() > 10 {
                s.push_str(&format!("\n... and {} more", lines.len() - 10));
            }
            s
        },
    })
}

/// An untracked file Terraform itself writes next to a module (the bootstrap's local state,
/// a lock file, its data directory): not a change anyone reviews, so not "dirty".
fn terraform_working_file(status_line: &str) -> bool {
    let Some(path) = status_line.strip_prefix("?? ") else {
        return false;
    };
    let path = path.trim_matches('"');
    let name = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path);
    path.starts_with(&format!("{}/", flotilla_terraform::INFRA_ROOT))
        && (name.ends_with(".tfstate")
            || name.ends_with(".tfstate.backup")
            || name == ".terraform.lock.hcl"
            || name == ".terraform")
}

fn needed_tools(graph: &Graph) -> Vec<Tool> {
    let mut t = vec![Tool::Terraform];
    if graph.steps().iter().any(|s| {
        matches!(
            s.work,
            Work::HelmInstall { .. } | Work::HelmUninstall { .. }
        )
    }) {
        t.push(Tool::Helm);
    }
    if graph
        .steps()
        .iter()
        .any(|s| matches!(&s.work, Work::Crds { bundles, .. } if !bundles.is_empty()))
    {
        t.push(Tool::Kubectl);
    }
    t
}

#[allow(clippy::too_many_arguments)]
fn execute(
    root: &Path,
    command: &str,
    target: &str,
    graph: &Graph,
    jobs: usize,
    resume: bool,
    yes: bool,
    prune_confirmed: bool,
    groups: BTreeMap<flotilla_plan::StepId, String>,
    timeouts: &Timeouts,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let versions = flotilla_model::Versions::embedded();
    let found =
        tools::check(&needed_tools(graph), &versions.tools, &io.tools).map_err(Error::Tools)?;
    for f in found.values() {
        if let Some(w) = &f.warning {
            writeln!(out, "warning: {w}")?;
        }
    }
    let previous = if resume {
        match journal::latest(root, command, target)? {
            Some((_, j)) => Some(j),
            None => {
                return Err(Error::NothingToResume {
                    command: command.to_string(),
                    target: target.to_string(),
                    runs: journal::runs_dir(root),
                });
            }
        }
    } else {
        None
    };
    let run_id = journal::new_run_id(command, target);
    let run_dir = journal::runs_dir(root).join(&run_id);
    // The hash must not depend on the run or state directory, so it is taken over placeholder
    // paths.
    let hash_paths = Paths {
        root: root.to_path_buf(),
        state: root.join(".flotilla"),
        run_dir: root.join(".flotilla/runs/<run-id>"),
    };
    let hashes = graph
        .steps()
        .iter()
        .map(|s| {
            let d = describe(
                s,
                &hash_paths,
                timeouts,
                &io.endpoints,
                &manifest_objects(&hash_paths.root),
            );
            (s.id.clone(), inputs_hash(s, &d, root))
        })
        .collect();
    let mut engine = Engine::new(
        Paths {
            root: root.to_path_buf(),
            state: journal::state_dir(root),
            run_dir: run_dir.clone(),
        },
        found.into_iter().map(|(t, f)| (t, f.program)).collect(),
        io.aws.as_ref(),
        io.kube.as_ref(),
        *timeouts,
        io.endpoints.clone(),
        yes,
        io.prompt.as_ref(),
    );
    engine.prune_confirmed = prune_confirmed;
    let default_reporter;
    let reporter: &dyn Reporter = match &io.reporter {
        Some(r) => r.as_ref(),
        None => {
            default_reporter = crate::run::progress::reporter(graph.steps().len());
            default_reporter.as_ref()
        }
    };
    writeln!(
        out,
        "{command} {target}: {} steps, up to {jobs} at a time; journal {}",
        graph.steps().len(),
        rel(root, &run_dir.join("journal.json"))
    )?;
    let summary = runner::run(
        graph,
        &engine,
        reporter,
        &io.cancel,
        &RunOptions {
            jobs,
            root: root.to_path_buf(),
            run_dir,
            run_id,
            command: command.to_string(),
            target: target.to_string(),
            previous,
            hashes,
            groups,
            group_limit: flotilla_plan::TERRAFORM_RUNS_PER_REGION,
        },
    )?;
    write_summary(out, &summary, command, target)?;
    Ok(i32::from(if summary.success() {
        exit::OK
    } else if summary.journal.state == journal::RunState::Interrupted {
        exit::INTERRUPTED
    } else {
        exit::ERROR
    }))
}

fn write_summary(
    out: &mut dyn Write,
    summary: &RunSummary,
    command: &str,
    target: &str,
) -> std::io::Result<()> {
    writeln!(out)?;
    write!(out, "{}", summary.table())?;
    let j = &summary.journal;
    if summary.success() {
        writeln!(out, "\n{command} {target}: done")?;
    } else {
        let failed = j
            .steps
            .iter()
            .filter(|s| s.status == journal::Status::Failed)
            .count();
        let reason = if j.state == journal::RunState::Interrupted {
            "interrupted".to_string()
        } else {
            format!("{failed} step(s) failed")
        };
        writeln!(
            out,
            "\n{command} {target}: {reason}; continue with `cargo xtask {command} {target} --resume`"
        )?;
    }
    Ok(())
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(PathBuf::from)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}
