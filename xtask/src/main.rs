//! `cargo xtask`: the Flotilla command line.
//!
//! Parses flags once, finds the repository root, loads the platform and dispatches one line per
//! command to a module. The work itself lives in the crates (model, renderers, deploy engine), so
//! this binary stays thin.
//!
//! Exit codes: 0 success, 1 error, 2 drift or changes found.

mod generate;
mod graph;
mod platform;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Flotilla: build and run a multi-cluster data platform on AWS from one typed description.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
struct Cli {
    /// Platform description to use (default: platform.toml at the repository root).
    #[arg(long, global = true, value_name = "PATH")]
    platform: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Render infra/ and helm/ (and the diagram regions of the docs) from the platform.
    Generate(generate::Args),
    /// Show what would change: generated files against the committed ones, live with --live.
    Diff(DiffArgs),
    /// Run the deploy step graph for an environment, `controlplane` or `all`.
    Deploy(DeployArgs),
    /// Tear an environment down in reverse order (Helm releases first, then Terraform).
    Destroy(DestroyArgs),
    /// Print the step graph and the capacity plan of an environment.
    Plan(PlanArgs),
    /// Print the platform as a Mermaid diagram.
    Graph,
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// Environment to diff (checked against the platform).
    env: String,
    /// A second environment: show how the two environments' generated output differs.
    other: Option<String>,
    /// Also run `terraform plan`, `helm diff` and a server-side dry run against the live platform.
    #[arg(long)]
    live: bool,
}

#[derive(Debug, clap::Args)]
struct DeployArgs {
    /// Environment, `controlplane` or `all`.
    target: String,
    /// Print every step, command and API call, and touch nothing (no credentials needed).
    #[arg(long)]
    dry_run: bool,
    /// Apply without asking (required when not on a terminal).
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, clap::Args)]
struct DestroyArgs {
    /// Environment to destroy.
    env: String,
    /// Repeat the environment name to confirm.
    #[arg(long, value_name = "ENV")]
    confirm: Option<String>,
}

#[derive(Debug, clap::Args)]
struct PlanArgs {
    /// Environment, `controlplane` or `all`.
    target: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = platform::Context::new(cli.platform);
    let result = match cli.command {
        Command::Generate(args) => generate::run(&ctx, &args),
        Command::Graph => graph::run(&ctx),
        Command::Diff(args) => not_landed(&ctx, "diff", &args.env, 5),
        Command::Deploy(args) => not_landed(&ctx, "deploy", &args.target, 5),
        Command::Destroy(args) => not_landed(&ctx, "destroy", &args.env, 5),
        Command::Plan(args) => not_landed(&ctx, "plan", &args.target, 5),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

/// A command whose issue has not landed: say so and fail, after checking its arguments.
fn not_landed(
    ctx: &platform::Context,
    command: &str,
    target: &str,
    issue: u32,
) -> Result<ExitCode, platform::Error> {
    let platform = ctx.load()?;
    platform::check_target(&platform, target, true)?;
    eprintln!(
        "error: `cargo xtask {command}` is not implemented yet (issue {issue}); nothing was done"
    );
    Ok(ExitCode::from(1))
}
