//! `cargo xtask generate [--check] [--out DIR]`.

use std::io::Write;
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
    let mut stdout = std::io::stdout().lock();
    // Paths as the user can open them: relative to the repository, or inside DIR.
    let shown = |rel: &str| match &args.out {
        Some(dir) => dir.join(rel).display().to_string(),
        None => rel.to_string(),
    };
    for rel in &report.foreign {
        writeln!(
            stdout,
            "kept    {} (not written by `cargo xtask generate`: left alone)",
            shown(rel)
        )?;
    }
    if args.check {
        if report.drift.is_empty() {
            writeln!(
                stdout,
                "generated output is up to date ({} files checked{})",
                report.unchanged,
                args.out
                    .as_ref()
                    .map(|d| format!(" in {}", d.display()))
                    .unwrap_or_default()
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        let text = match &args.out {
            Some(dir) => report.drift_text_with(&format!(
                "run `cargo xtask generate --out {}` to write them",
                dir.display()
            )),
            None => report.drift_text(),
        };
        let _ = write!(std::io::stderr(), "{text}");
        return Ok(ExitCode::from(flotilla_plan::exit::CHANGES));
    }
    for path in &report.written {
        writeln!(stdout, "wrote   {}", shown(path))?;
    }
    for path in &report.removed {
        writeln!(stdout, "removed {}", shown(path))?;
    }
    writeln!(
        stdout,
        "{} written, {} removed, {} unchanged{}",
        report.written.len(),
        report.removed.len(),
        report.unchanged,
        args.out
            .as_ref()
            .map(|d| format!(", in {}", d.display()))
            .unwrap_or_default()
    )?;
    Ok(ExitCode::SUCCESS)
}
