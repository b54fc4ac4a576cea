//! `cargo xtask`: the Flotilla command line.
//!
//! Parses flags once, finds the repository root, loads the platform and dispatches one line per
//! command to a module. The work itself lives in the crates (model, renderers, deploy engine), so
//! this binary stays thin.
//!
//! Exit codes: [`flotilla_plan::exit`] (0 success, 1 error, 2 changes or drift, 3 invalid
//! platform, 4 a tool missing, 64 usage, 130 interrupted), in the README.

mod bench;
mod cost;
mod deploy;
mod destroy;
mod diff;
mod doctor;
mod drift;
mod generate;
mod graph;
mod module_interface;
mod plan;
mod platform;
mod provider_schema;
mod reference;
mod test;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Flotilla: build and run a multi-cluster data platform on AWS from one typed description.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
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
    #[command(
        after_help = help("Examples:\n  cargo xtask generate                 write infra/ and helm/ from platform.toml\n  cargo xtask generate --check         write nothing; exit 2 naming every drifted file\n  cargo xtask generate --out /tmp/out  write the tree elsewhere (to compare, or to try a copy of the platform with --platform)")
    )]
    Generate(generate::Args),
    /// Show what would change: platform.toml against the files in infra/ and helm/, or against
    /// the cloud with --live, or one environment against another.
    #[command(
        after_help = help("Examples:\n  cargo xtask diff staging             platform.toml against the files in infra/ and helm/ (exit 2: they differ)\n  cargo xtask diff staging --live      terraform plan, helm diff and a server-side dry run against the cloud\n  cargo xtask diff staging testing     what differs between two environments beyond their name")
    )]
    Diff(diff::Args),
    /// Report what changed in the live platform outside the committed output (Terraform
    /// refresh-only plan, helm diff, server-side dry run), per cluster.
    #[command(
        after_help = help("Examples:\n  cargo xtask drift all --dry-run      what it would run, offline\n  cargo xtask drift production --format json")
    )]
    Drift(drift::Args),
    /// Run the deploy step graph for an environment, `controlplane` or `all`.
    #[command(
        after_help = help("Examples:\n  cargo xtask deploy production --dry-run   every step, command and API call; touches nothing\n  cargo xtask deploy testing --yes          deploy without asking (CI)\n  cargo xtask deploy all --jobs 8 --resume  continue the last run of all")
    )]
    Deploy(deploy::Args),
    /// Tear an environment down in reverse order (Helm releases first, then Terraform).
    #[command(
        after_help = help("Examples:\n  cargo xtask destroy staging --confirm staging --dry-run   the teardown, touching nothing\n  cargo xtask destroy staging --confirm staging --yes")
    )]
    Destroy(destroy::Args),
    /// Print the step graph and the capacity plan of an environment.
    #[command(
        after_help = help("Examples:\n  cargo xtask plan production               capacity, quotas, step list, upgrade plan\n  cargo xtask plan all --format mermaid     the step graph as a diagram\n  cargo xtask plan staging --from origin/main   the upgrade plan a pull request makes")
    )]
    Plan(plan::Args),
    /// The platform's monthly cost at the pinned AWS list prices, per cluster and in total,
    /// each line with its price and source; --base compares with a git ref.
    #[command(
        after_help = help("Examples:\n  cargo xtask cost                          every cluster's lines and the total\n  cargo xtask cost production --format json\n  cargo xtask cost all --base origin/main --format markdown   the pull request comment's table")
    )]
    Cost(cost::Args),
    /// Print the platform as a Mermaid diagram.
    #[command(
        after_help = help("Example:\n  cargo xtask graph > platform.mmd")
    )]
    Graph,
    /// Performance measurements (docs/performance.md).
    Bench(bench::Args),
    /// What this machine can do: each tool with its version against the pin, the reference
    /// data, AWS credentials and their account, each cluster's endpoint.
    #[command(
        after_help = help("Examples:\n  cargo xtask doctor                   tools, reference data, credentials, endpoints\n  cargo xtask doctor --offline --format json")
    )]
    Doctor(doctor::Args),
    /// The pinned upstream reference data the checks read: `reference sync` downloads it for
    /// the versions in versions.toml and verifies every file against reference.lock.
    #[command(
        after_help = help("Examples:\n  cargo xtask reference sync                          from upstream, into .flotilla/reference\n  cargo xtask reference sync --from ../shared/reference --locked")
    )]
    Reference(reference::Args),
    /// Run the whole test suite (`cargo test --workspace`), ending with one summary line and
    /// one line naming every check that was skipped.
    #[command(
        after_help = help("Examples:\n  cargo xtask test\n  cargo xtask test --no-fail-fast\n  FLOTILLA_FAST=1 cargo xtask test     the quick local loop (says what it skips)")
    )]
    Test(test::Args),
}

/// The end of every command's help: its examples, then the environment it reads and the exit
/// codes, which are the same for all.
fn help(examples: &str) -> String {
    format!(
        "{examples}\n\nEnvironment: FLOTILLA_ROOT (the checkout; default: the nearest directory upwards with a platform.toml), FLOTILLA_TERRAFORM, FLOTILLA_HELM, FLOTILLA_KUBECTL (tool programs; default: PATH), FLOTILLA_KUBE_ENDPOINT_<CLUSTER> (an API endpoint instead of EKS's), FLOTILLA_STATE_DIR (runs, Terraform data and the reference cache; default: .flotilla of the checkout), FLOTILLA_TODAY (YYYY-MM-DD: the day plan and cost read EKS support on; default: today, UTC), AWS_PROFILE and the other AWS SDK variables, NO_COLOR.\nExit codes: 0 ok, 1 error, 2 changes or drift, 3 invalid platform, 4 tool missing, 64 usage, 130 interrupted (README, \"Exit codes\")."
    )
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
        Command::Cost(args) => cost::run(&ctx, &args),
        Command::Test(args) => test::run(&ctx, &args),
        Command::Reference(args) => reference::run(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
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
