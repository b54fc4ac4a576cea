//! `cargo xtask generate [--check] [--out DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use flotilla_generate::{Mode, apply, render_all};

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write nothing; exit 2 naming every file that differs from a fresh render.
    #[arg(long)]
    check: bool,
    /// Render infra/ and helm/ under this directory instead of the repository (the diagram
    /// regions of README.md and docs/ are left alone).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    // Load and render everything in memory first: an invalid platform writes nothing.
    let platform = ctx.load()?;
    let rendered = render_all(&platform);
    let mode = if args.check { Mode::Check } else { Mode::Write };
    let (out, regions_root) = match &args.out {
        Some(dir) => (dir.clone(), None),
        None => (ctx.root.clone(), Some(ctx.root.as_path())),
    };
    let report = apply(&rendered, &out, regions_root, mode)?;
    if args.check {
        if report.drift.is_empty() {
            println!(
                "generated output is up to date ({} files checked)",
                report.unchanged
            );
            return Ok(ExitCode::SUCCESS);
        }
        eprint!("{}", report.drift_text());
        return Ok(ExitCode::from(flotilla_plan::exit::CHANGES));
    }
    for path in &report.written {
        println!("wrote   {path}");
    }
    for path in &report.removed {
        println!("removed {path}");
    }
    println!(
        "{} written, {} removed, {} unchanged",
        report.written.len(),
        report.removed.len(),
        report.unchanged
    );
    Ok(ExitCode::SUCCESS)
}
