//! `cargo xtask graph`: the platform as a Mermaid diagram (the same text the generate pipeline
//! keeps in README.md and docs/architecture.md).

use std::io::Write;
use std::process::ExitCode;

use crate::platform::{Context, Error};

pub fn run(ctx: &Context) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    // The diagram names the file it was drawn from (`--platform` may name another).
    let text = flotilla_diagram::mermaid_from(&platform, &ctx.display_name());
    write!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}
