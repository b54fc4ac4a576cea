//! `cargo xtask drift [<env>|controlplane|all] [--format text|json]`: flags in,
//! [`flotilla_deploy::drift`] does the work. Exit 0 in sync, 2 drift, 1 a cluster could not be
//! inspected.

use std::process::ExitCode;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment, `controlplane` or `all` (checked against the platform).
    #[arg(default_value = "all")]
    pub target: String,
    /// `text` (a summary per cluster, then the details) or `json` (one document, for CI).
    #[arg(long, default_value = "text")]
    pub format: flotilla_deploy::DriftFormat,
    /// Print what would be run and called for each cluster; needs no credentials or tools.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.target, true)?;
    let io = flotilla_deploy::Io::real(&platform).map_err(|e| Error::Other(e.to_string()))?;
    let drift = flotilla_deploy::DriftArgs {
        target: args.target.clone(),
        format: args.format,
        dry_run: args.dry_run,
    };
    let code = flotilla_deploy::drift(
        &ctx.root,
        &platform,
        &drift,
        &io,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ExitCode::from(code as u8))
}
