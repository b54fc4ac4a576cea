//! `cargo xtask deploy <target>`: flags in, [`flotilla_deploy::deploy`] does the work.

use std::process::ExitCode;
use std::time::Duration;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment, `controlplane` or `all`.
    pub target: String,
    /// Print every step, command and API call, and touch nothing (no credentials or tools needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply Terraform plans without asking (required when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Deploy the state bootstrap and the controlplane too, instead of checking they are current.
    #[arg(long)]
    pub with_dependencies: bool,
    /// How many independent steps may run at once (default: two per cluster, 4 to 32; Terraform
    /// runs are held to 8 at once per account and region whatever this says).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Continue the last run of this target: only what failed, did not run, or changed.
    #[arg(long)]
    pub resume: bool,
    /// Deploy protected clusters from a git tree with uncommitted changes (prints a loud warning).
    #[arg(long)]
    pub allow_dirty_protected: bool,
    /// Let the deploy prune protected namespaces the model removed (repeat the target).
    #[arg(long, value_name = "TARGET")]
    pub confirm_prune: Option<String>,
    /// `helm --timeout` of each release, in seconds.
    #[arg(long, default_value_t = flotilla_plan::Timeouts::HELM_SECONDS, value_name = "SECONDS")]
    pub helm_timeout: u64,
    /// How long readiness waits may take, in seconds.
    #[arg(long, default_value_t = flotilla_plan::Timeouts::READY_SECONDS, value_name = "SECONDS")]
    pub ready_timeout: u64,
    /// `text`, or `json`: the progress goes to stderr and stdout gets one object with the exit
    /// code, the error of a run stopped before its first step, and the run's journal (every
    /// step's status, times and log). Not with --dry-run.
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = ["text", "json"], conflicts_with = "dry_run")]
    pub format: String,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.target, true)?;
    let io = flotilla_deploy::Io::real(&platform).map_err(|e| Error::Other(e.to_string()))?;
    let mut deploy = flotilla_deploy::DeployArgs::new(&args.target);
    deploy.dry_run = args.dry_run;
    deploy.yes = args.yes;
    deploy.with_dependencies = args.with_dependencies;
    deploy.jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| flotilla_plan::default_jobs(&platform));
    deploy.resume = args.resume;
    deploy.allow_dirty_protected = args.allow_dirty_protected;
    deploy.confirm_prune = args.confirm_prune.clone();
    if args.dry_run {
        // The dry run also shows the upgrade from the committed platform (HEAD).
        let rel = ctx.platform_rel();
        if let Ok(base) = flotilla_deploy::cmd::baseline::baseline(&ctx.root, &rel, "HEAD") {
            deploy.baseline = Some(("HEAD".into(), base));
        }
    }
    deploy.timeouts.helm = Duration::from_secs(args.helm_timeout);
    deploy.timeouts.ready = Duration::from_secs(args.ready_timeout);
    if args.format == "json" {
        let target = flotilla_plan::Target::parse(&platform, &args.target)
            .map(|t| t.name(&platform))
            .unwrap_or_else(|_| args.target.clone());
        return crate::platform::run_with_json_summary(ctx, "deploy", &target, |out| {
            flotilla_deploy::deploy(&ctx.root, &platform, &deploy, &io, out)
        });
    }
    let code = flotilla_deploy::deploy(
        &ctx.root,
        &platform,
        &deploy,
        &io,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ExitCode::from(code as u8))
}
