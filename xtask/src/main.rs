//! `cargo xtask`: the Flotilla command line.
//!
//! Parses flags once, finds the repository root, loads the platform and dispatches one line per
//! command to a module. The work itself lives in the crates (model, renderers, deploy engine), so
//! this binary stays thin.
//!
//! Exit codes: [`flotilla_plan::exit`] (0 success, 1 error, 2 changes or drift, 3 invalid
//! platform, 4 a tool missing, 64 usage, 130 interrupted), in the README.

mod bench;
mod deploy;
mod destroy;
mod diff;
mod drift;
mod generate;
mod graph;
mod plan;
mod platform;
mod reference;
mod test;

use std::io::Write;
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
    Diff(diff::Args),
    /// Report what changed in the live platform outside the committed output (Terraform
    /// refresh-only plan, helm diff, server-side dry run), per cluster.
    Drift(drift::Args),
    /// Run the deploy step graph for an environment, `controlplane` or `all`.
    Deploy(deploy::Args),
    /// Tear an environment down in reverse order (Helm releases first, then Terraform).
    Destroy(destroy::Args),
    /// Print the step graph and the capacity plan of an environment.
    Plan(plan::Args),
    /// Print the platform as a Mermaid diagram.
    Graph,
    /// Performance measurements (docs/performance.md).
    Bench(bench::Args),
    /// The pinned upstream reference data the checks read: `reference sync` downloads it for
    /// the versions in versions.toml and verifies every file against reference.lock.
    Reference(reference::Args),
    /// Run the whole test suite (`cargo test --workspace`), ending with one summary line and
    /// one line naming every check that was skipped.
    Test(test::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(flotilla_plan::exit::USAGE),
            };
        }
    };
    let ctx = platform::Context::new(cli.platform);
    let result = match cli.command {
        Command::Generate(args) => generate::run(&ctx, &args),
        Command::Graph => graph::run(&ctx),
        Command::Bench(args) => bench::run(&ctx, &args),
        Command::Diff(args) => diff::run(&ctx, &args),
        Command::Drift(args) => drift::run(&ctx, &args),
        Command::Deploy(args) => deploy::run(&ctx, &args),
        Command::Destroy(args) => destroy::run(&ctx, &args),
        Command::Plan(args) => plan::run(&ctx, &args),
        Command::Test(args) => test::run(&ctx, &args),
        Command::Reference(args) => reference::run(&ctx, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_closed_pipe() => ExitCode::from(flotilla_plan::exit::ERROR),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
