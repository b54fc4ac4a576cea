//! `cargo xtask destroy <env> --confirm <env>`: flags in, [`flotilla_deploy::destroy`] does the
//! work (reverse graph; protected clusters and a peered controlplane are refused).

use std::process::ExitCode;
use std::time::Duration;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment (or `controlplane`) to destroy.
    pub env: String,
    /// Repeat the environment name to confirm.
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
    /// Print every step, command and API call of the teardown, and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the Terraform destroy plan without asking (required when not on a terminal).
    #[arg(long)]
    pub yes: bool,
    /// How many independent steps may run at once (default: two per cluster, 4 to 32; Terraform
    /// runs are held to 8 at once per account and region whatever this says).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Continue the last destroy of this environment.
    #[arg(long)]
    pub resume: bool,
    /// `helm uninstall --timeout` and the wait for finalizers, in seconds.
    #[arg(long, default_value_t = flotilla_plan::Timeouts::HELM_SECONDS, value_name = "SECONDS")]
    pub timeout: u64,
    /// `text`, or `json`: the progress goes to stderr and stdout gets one object with the exit
    /// code, the error of a run stopped before its first step, and the run's journal (every
    /// step's status, times and log). Not with --dry-run.
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = ["text", "json"], conflicts_with = "dry_run")]
    pub format: String,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.env, false)?;
    let io = flotilla_deploy::Io::real(&platform).map_err(|e| Error::Other(e.to_string()))?;
    let mut destroy = flotilla_deploy::DestroyArgs::new(&args.env, args.confirm.as_deref());
    destroy.dry_run = args.dry_run;
    destroy.yes = args.yes;
    destroy.jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| flotilla_plan::default_jobs(&platform));
    destroy.resume = args.resume;
    destroy.timeouts.helm = Duration::from_secs(args.timeout);
    destroy.timeouts.ready = Duration::from_secs(args.timeout);
    if args.format == "json" {
        let target = flotilla_plan::Target::parse(&platform, &args.env)
            .map(|t| t.name(&platform))
            .unwrap_or_else(|_| args.env.clone());
        return crate::platform::run_with_json_summary(ctx, "destroy", &target, |out| {
            flotilla_deploy::destroy(&ctx.root, &platform, &destroy, &io, out)
        });
    }
    let code = flotilla_deploy::destroy(
        &ctx.root,
        &platform,
        &destroy,
        &io,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ExitCode::from(code as u8))
}
