//! `cargo xtask plan <target> [--format text|mermaid|dot]`: the capacity plan and the deploy
//! step graph, from [`flotilla_deploy::plan`].

use std::process::ExitCode;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment, `controlplane` or `all`.
    pub target: String,
    /// `text` (capacity plan and step list), `mermaid` or `dot` (the step graph only).
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    pub format: flotilla_plan::report::Format,
    /// Show the graph of `deploy --with-dependencies`.
    #[arg(long)]
    pub with_dependencies: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.target, true)?;
    let code = flotilla_deploy::plan(
        &platform,
        &args.target,
        args.format,
        args.with_dependencies,
        &mut std::io::stdout().lock(),
    )?;
    Ok(ExitCode::from(code as u8))
}
