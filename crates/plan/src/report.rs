//! `cargo xtask plan`: what the platform needs and what a deploy of a target would do, as
//! text (capacity plan, AWS quotas, EKS support cost, step graph) or as a Mermaid or Graphviz
//! graph.

use std::fmt::Write as _;

use flotilla_model::Platform;

use crate::graph::{GraphError, GraphInputs, GraphOptions, deploy_graph};
use crate::target::Target;

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Mermaid,
    Dot,
    /// One JSON object: `target`, `capacity` (the capacity plan), `quotas` (per region), and
    /// `steps` (each `id`, `needs`, `inputs`, `outputs`), in deploy order.
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "mermaid" => Ok(Format::Mermaid),
            "dot" => Ok(Format::Dot),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "unknown format `{other}` (text, mermaid, dot, json)"
            )),
        }
    }
}

/// The report of `plan` for a target, its EKS support section as of `today`.
pub fn report(
    platform: &Platform,
    target: &Target,
    format: Format,
    with_dependencies: bool,
    today: flotilla_model::versions::Date,
) -> Result<String, GraphError> {
    let inputs = GraphInputs::from_platform(platform);
    let graph = deploy_graph(
        platform,
        &inputs,
        target,
        GraphOptions { with_dependencies },
    )?;
    let mut out = String::new();
    match format {
        Format::Text => {
            let _ = writeln!(out, "Capacity plan\n-------------\n");
            let _ = writeln!(out, "{}", platform.capacity_plan().to_text().trim_end());
            let _ = writeln!(out, "\nAWS quotas\n----------\n");
            let quotas = flotilla_model::quotas::needs(platform);
            let _ = writeln!(
                out,
                "{}",
                flotilla_model::quotas::to_text(&quotas).trim_end()
            );
            let _ = writeln!(out, "\nEKS support\n-----------\n");
            let _ = writeln!(
                out,
                "{}",
                flotilla_model::cost::eks_support_text(platform, today).trim_end()
            );
            let title = format!(
                "Step graph of `deploy {}` ({} steps)",
                target.name(platform),
                graph.steps().len()
            );
            let _ = writeln!(out, "\n{title}\n{}\n", "-".repeat(title.len()));
            out.push_str(&graph.to_text());
        }
        Format::Mermaid => out.push_str(&graph.to_mermaid()),
        Format::Dot => out.push_str(&graph.to_dot()),
        Format::Json => {
            let steps: Vec<serde_json::Value> = graph
                .steps()
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id.as_str(),
                        "needs": s.needs.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
                        "inputs": s.inputs,
                        "outputs": s.outputs,
                    })
                })
                .collect();
            let support: Vec<serde_json::Value> = platform
                .clusters
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "cluster": c.name,
                        "kubernetes": c.kubernetes_version,
                        "support": c.support.as_str(),
                        "status": flotilla_model::cost::support_phase(platform, &c.kubernetes_version, today),
                        "advice": flotilla_model::cost::support_line(platform, c, today),
                    })
                })
                .collect();
            let report = serde_json::json!({
                "target": target.name(platform),
                "capacity": &*platform.capacity_plan(),
                "quotas": flotilla_model::quotas::needs(platform),
                "today": today.to_string(),
                "support": support,
                "steps": steps,
            });
            out.push_str(&serde_json::to_string_pretty(&report).unwrap_or_default());
            out.push('\n');
        }
    }
    Ok(out)
}
