//! `cargo xtask graph`: the platform as a Mermaid diagram (the same text the generate pipeline
//! keeps in README.md and docs/architecture.md).

use std::io::Write;
use std::process::ExitCode;

use crate::platform::{Context, Error};

pub fn run(ctx: &Context) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    let mut text = flotilla_diagram::mermaid(&platform);
    // The diagram names the file it was drawn from (`--platform` may name another).
    let name = ctx.display_name();
    if name != "platform.toml" {
        text = text.replacen("drawn from platform.toml", &format!("drawn from {name}"), 1);
    }
    write!(std::io::stdout().lock(), "{text}")?;
    Ok(ExitCode::SUCCESS)
}
