//! `cargo xtask plan <target> [--format text|mermaid|dot|json]`: the capacity plan and the deploy
//! step graph, from [`flotilla_deploy::plan`].

use std::io::Write;
use std::process::ExitCode;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment, `controlplane` or `all`.
    pub target: String,
    /// `text` (capacity plan and step list), `mermaid` or `dot` (the step graph only), `json` (capacity plan, quotas and steps as one object).
    #[arg(long, default_value = "text", value_name = "FORMAT")]
    pub format: flotilla_plan::report::Format,
    /// Show the graph of `deploy --with-dependencies`.
    #[arg(long)]
    pub with_dependencies: bool,
    /// The git ref whose platform.toml and versions.toml the upgrade plan starts from (in a pull
    /// request: its base, e.g. `origin/main`).
    #[arg(long, default_value = "HEAD", value_name = "REF")]
    pub from: String,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.target, true)?;
    let code = flotilla_deploy::plan(
        &platform,
        &args.target,
        args.format,
        args.with_dependencies,
        flotilla_deploy::today()?,
        &mut std::io::stdout().lock(),
    )?;
    if args.format != flotilla_plan::report::Format::Text {
        return Ok(ExitCode::from(code as u8));
    }
    // The upgrade plan from the baseline ref, for the target's clusters.
    let rel = ctx.platform_rel();
    let target = flotilla_plan::Target::parse(&platform, &args.target)
        .map_err(|e| Error::Other(e.to_string()))?;
    let in_target = |cluster: &str| target.has_cluster(&platform, cluster);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "\nUpgrade plan\n------------\n")?;
    let base = match flotilla_deploy::cmd::baseline::baseline(&ctx.root, &rel, &args.from) {
        Ok(b) => b,
        Err(e) => {
            writeln!(stdout, "no baseline to plan an upgrade from: {e}")?;
            return Ok(ExitCode::from(code as u8));
        }
    };
    let upgrades: Vec<_> = flotilla_plan::upgrade::upgrades(&base, &platform)
        .into_iter()
        .filter(|u| in_target(&u.cluster))
        .collect();
    write!(
        stdout,
        "{}",
        flotilla_plan::upgrade::to_text(&upgrades, &args.from)
    )?;
    // A version jump EKS refuses is an error in platform.toml, located.
    let source = std::fs::read_to_string(&ctx.platform_file).unwrap_or_default();
    let text = source.as_str();
    let diagnostics: Vec<flotilla_model::Diagnostic> = upgrades
        .iter()
        .flat_map(|u| {
            u.problems.iter().filter_map(move |p| match p {
                flotilla_plan::upgrade::Problem::Skips { .. }
                | flotilla_plan::upgrade::Problem::Downgrade { .. } => {
                    let span = flotilla_model::kubernetes_version_span(text, &u.cluster)?;
                    Some(
                        flotilla_model::Diagnostic::error(span, p.to_string())
                            .with_help(format!("the baseline {} runs {}", args.from, u.from)),
                    )
                }
                _ => None,
            })
        })
        .collect();
    if !diagnostics.is_empty() {
        return Err(Error::Invalid(Box::new(flotilla_model::LoadError {
            file: ctx.display_name(),
            source_text: source,
            diagnostics,
        })));
    }
    Ok(ExitCode::from(code as u8))
}
