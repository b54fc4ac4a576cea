//! `cargo xtask graph`: the platform as a Mermaid diagram (the same text the generate pipeline
//! keeps in README.md and docs/architecture.md).

use std::io::Write;
use std::process::ExitCode;

use crate::platform::{Context, Error};

pub fn run(ctx: &Context) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    write!(
        std::io::stdout().lock(),
        "{}",
        flotilla_diagram::mermaid(&platform)
    )?;
    Ok(ExitCode::SUCCESS)
}
