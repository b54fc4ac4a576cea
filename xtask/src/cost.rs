//! `cargo xtask cost [<env>|controlplane|all] [--format text|json|markdown] [--base REF]`: the
//! platform's monthly cost at the pinned list prices ([`flotilla_model::cost`]), per cluster
//! and in total; with `--base`, against the platform a git ref has (the pull request comment).

use std::io::Write;
use std::process::ExitCode;

use flotilla_model::cost::{Bill, bill, change_usd, to_markdown, to_text, usd};

use crate::platform::{Context, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment, `controlplane` or `all`.
    #[arg(default_value = "all")]
    pub target: String,
    /// `text` (every line with its price and source), `json` (the same as one object, with
    /// `base` and `change_usd` under --base), `markdown` (the pull request comment's table:
    /// each cluster before and after, against --base, default HEAD).
    #[arg(long, value_enum, default_value = "text", value_name = "FORMAT")]
    pub format: Format,
    /// Compare with the platform.toml and versions.toml of this git ref (priced at today's
    /// table, so the change is the platform's, not the prices'), e.g. `origin/main`.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, &args.target, true)?;
    let target = flotilla_plan::Target::parse(&platform, &args.target)
        .map_err(|e| Error::Other(e.to_string()))?;
    let today = flotilla_deploy::today()?;
    let head = bill(&platform, today).only(|c| target.has_cluster(&platform, &c.cluster));
    let base_ref = match (&args.base, args.format) {
        (Some(r), _) => Some(r.clone()),
        (None, Format::Markdown) => Some("HEAD".to_string()),
        (None, _) => None,
    };
    let base: Option<Bill> = match &base_ref {
        None => None,
        Some(r) => {
            let base = flotilla_deploy::cmd::baseline::baseline(&ctx.root, &ctx.platform_rel(), r)
                .map_err(|e| Error::Other(format!("no platform to compare with at {r}: {e}")))?;
            // The base's clusters of the same target, by this platform's reading of it.
            Some(bill(&base, today).only(|c| {
                target.has_cluster(&platform, &c.cluster) || target.has_cluster(&base, &c.cluster)
            }))
        }
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Text => {
            write!(out, "{}", to_text(&head))?;
            if let (Some(base), Some(r)) = (&base, &base_ref) {
                writeln!(out, "\nAgainst {r}:")?;
                for c in &head.clusters {
                    match base.cluster_usd(&c.cluster) {
                        Some(b) => writeln!(
                            out,
                            "  {}: {} -> {} ({})",
                            c.cluster,
                            usd(b),
                            usd(c.monthly_usd),
                            signed(c.monthly_usd - b)
                        )?,
                        None => writeln!(out, "  {}: new, {}", c.cluster, usd(c.monthly_usd))?,
                    }
                }
                for c in &base.clusters {
                    if head.cluster_usd(&c.cluster).is_none() {
                        writeln!(out, "  {}: removed, -{}", c.cluster, usd(c.monthly_usd))?;
                    }
                }
                writeln!(
                    out,
                    "  total: {} -> {} ({})",
                    usd(base.monthly_usd),
                    usd(head.monthly_usd),
                    signed(head.monthly_usd - base.monthly_usd)
                )?;
            }
        }
        Format::Json => {
            let mut v = serde_json::to_value(&head).map_err(|e| Error::Other(e.to_string()))?;
            if let (Some(base), Some(r)) = (&base, &base_ref) {
                v["base_ref"] = serde_json::json!(r);
                v["base"] = serde_json::to_value(base).map_err(|e| Error::Other(e.to_string()))?;
                v["change_usd"] = serde_json::json!(head.monthly_usd - base.monthly_usd);
            }
            let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Other(e.to_string()))?;
            writeln!(out, "{text}")?;
        }
        Format::Markdown => {
            let base = base.expect("markdown has a base");
            write!(
                out,
                "{}",
                to_markdown(&base, &head, base_ref.as_deref().unwrap_or("HEAD"))
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn signed(d: f64) -> String {
    change_usd(d, "no change")
}
