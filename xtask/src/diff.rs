//! `cargo xtask diff <env> [<other-env>] [--live]`: flags in, [`flotilla_deploy::diff`] does
//! the work. Exit 0 no changes, 2 changes, 1 error.

use std::process::ExitCode;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to diff (checked against the platform).
    pub env: String,
    /// A second environment: show how the two environments' generated output differs.
    pub other: Option<String>,
    /// Also run `terraform plan`, `helm diff` and a server-side dry run against the live platform
    /// (one environment only).
    #[arg(long, conflicts_with = "other")]
    pub live: bool,
    /// `text` (colored unified diffs), or `json` (one object: `files`, each with `path` and
    /// `change`, and with `--live` the cluster's Terraform, Helm and object drift).
    #[arg(long, default_value = "text", value_name = "FORMAT", value_parser = ["text", "json"])]
    pub format: String,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.env, false)?;
    if let Some(other) = &args.other {
        crate::platform::check_target(&platform, other, false)?;
        if other == &args.env {
            return Err(Error::Usage(format!(
                "`diff {0} {0}` compares an environment with itself; name two environments, or one to compare with its committed files",
                args.env
            )));
        }
    }
    let io = flotilla_deploy::Io::real(&platform).map_err(|e| Error::Other(e.to_string()))?;
    let diff = flotilla_deploy::DiffArgs {
        env: args.env.clone(),
        other: args.other.clone(),
        live: args.live,
        json: args.format == "json",
    };
    let code = flotilla_deploy::diff(
        &ctx.root,
        &platform,
        &diff,
        &io,
        &mut flotilla_deploy::cmd::diff::colored_stdout(),
    )?;
    Ok(ExitCode::from(code as u8))
}
