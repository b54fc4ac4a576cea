//! `cargo xtask drift [<env>|controlplane|all] [--format text|json]`: what changed in the live
//! platform that the committed output does not say. Per cluster: a Terraform refresh-only plan
//! (changes made in the account outside Terraform), `helm diff upgrade` of every release and a
//! server-side dry run of every manifest object against the live cluster; summarized per
//! cluster, with the details, or as JSON for a scheduled job. Exit 2 on drift, 1 when a cluster
//! could not be inspected (the others still are).

use std::io::Write;
use std::path::Path;

use flotilla_model::Platform;
use flotilla_plan::{Target, exit};
use serde::Serialize;

use crate::cmd::diff::{ClusterDrift, TerraformCheck, inspect};
use crate::cmd::{Error, Io};

/// Output of `drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for DriftFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<DriftFormat, String> {
        match s {
            "text" => Ok(DriftFormat::Text),
            "json" => Ok(DriftFormat::Json),
            other => Err(format!("unknown format `{other}`: text or json")),
        }
    }
}

/// Arguments of `drift`.
#[derive(Debug, Clone)]
pub struct DriftArgs {
    /// An environment, `controlplane` or `all`.
    pub target: String,
    pub format: DriftFormat,
    /// Print what each cluster's inspection runs and calls; run nothing.
    pub dry_run: bool,
}

/// The whole report (the JSON document of `--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub target: String,
    /// Committed generated files that differ from `platform.toml` (a pending `generate`): the
    /// live state is compared with what is committed, whatever this says.
    pub generated_files_out_of_date: Vec<String>,
    pub clusters: Vec<ClusterDrift>,
    /// Clusters that could not be inspected, with why.
    pub errors: Vec<ClusterError>,
    pub drifted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterError {
    pub cluster: String,
    pub environment: String,
    pub error: String,
}

/// The clusters a target covers, in file order.
fn clusters_of(platform: &Platform, target: &Target) -> Vec<String> {
    platform
        .clusters
        .iter()
        .filter(|c| match target {
            Target::All => true,
            Target::Controlplane => c.role == flotilla_model::Role::Controlplane,
            Target::Environment(e) => &c.environment == e,
        })
        .map(|c| c.name.clone())
        .collect()
}

/// `cargo xtask drift`.
pub fn drift(
    root: &Path,
    platform: &Platform,
    args: &DriftArgs,
    io: &Io,
    out: &mut dyn Write,
) -> Result<i32, Error> {
    let target = Target::parse(platform, &args.target)?;
    if args.dry_run {
        write_dry_run(root, platform, &target, out)?;
        return Ok(i32::from(exit::OK));
    }
    let generated = flotilla_generate::diff::drifted_files(root, platform)?;
    let mut report = DriftReport {
        target: target.name(platform),
        generated_files_out_of_date: generated,
        clusters: vec![],
        errors: vec![],
        drifted: false,
    };
    for name in clusters_of(platform, &target) {
        let environment = platform
            .cluster(&name)
            .map(|c| c.environment.clone())
            .unwrap_or_default();
        match inspect(root, platform, &name, io, TerraformCheck::RefreshOnly) {
            Ok(c) => report.clusters.push(c),
            // A missing tool stops everything: no cluster can be inspected.
            Err(e @ Error::Tools(_)) => return Err(e),
            Err(e) => report.errors.push(ClusterError {
                cluster: name,
                environment,
                error: e.to_string(),
            }),
        }
    }
    report.drifted = report.clusters.iter().any(ClusterDrift::drifted);
    match args.format {
        DriftFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)
                .map_err(|e| Error::Other(e.to_string()))?;
            writeln!(out)?;
        }
        DriftFormat::Text => write_text(&report, out)?,
    }
    Ok(i32::from(if !report.errors.is_empty() {
        exit::ERROR
    } else if report.drifted {
        exit::CHANGES
    } else {
        exit::OK
    }))
}

fn write_text(report: &DriftReport, out: &mut dyn Write) -> std::io::Result<()> {
    if !report.generated_files_out_of_date.is_empty() {
        writeln!(
            out,
            "note: {} committed generated file(s) differ from platform.toml (`cargo xtask generate`); the live platform is compared with what is committed",
            report.generated_files_out_of_date.len()
        )?;
    }
    for c in &report.clusters {
        writeln!(out, "{}", c.summary())?;
        for (what, t) in
            std::iter::once(("terraform", &c.terraform)).chain(c.link.as_ref().map(|l| ("link", l)))
        {
            if let crate::cmd::diff::TerraformDrift::Changed { summary, .. } = t {
                for l in summary {
                    writeln!(out, "  {what}: {l}")?;
                }
                writeln!(
                    out,
                    "  {what}: terraform plan -refresh-only: details in {}",
                    c.log
                )?;
            }
        }
        for r in c.releases.iter().filter(|r| r.diff.is_some()) {
            writeln!(out, "  helm diff {}:", r.name)?;
            for l in r.diff.as_deref().unwrap_or("").lines() {
                writeln!(out, "    {l}")?;
            }
        }
        for o in c.objects.iter().filter_map(|o| o.diff.as_ref()) {
            for l in o.lines() {
                writeln!(out, "    {l}")?;
            }
        }
    }
    for e in &report.errors {
        writeln!(out, "{}: not inspected: {}", e.cluster, e.error)?;
    }
    let drifted = report.clusters.iter().filter(|c| c.drifted()).count();
    writeln!(
        out,
        "drift {}: {} of {} cluster(s) drifted{}",
        report.target,
        drifted,
        report.clusters.len() + report.errors.len(),
        if report.errors.is_empty() {
            String::new()
        } else {
            format!(", {} not inspected", report.errors.len())
        }
    )
}

/// `drift --dry-run`: per cluster, the exact commands and calls an inspection makes.
fn write_dry_run(
    root: &Path,
    platform: &Platform,
    target: &Target,
    out: &mut dyn Write,
) -> Result<(), Error> {
    use flotilla_plan::commands::{Paths, helm_diff, tf_init, tf_output, tf_refresh_only};
    let paths = Paths {
        root: root.to_path_buf(),
        state: crate::run::journal::state_dir(root),
        run_dir: crate::run::journal::runs_dir(root).join("<run-id>"),
    };
    let inputs = crate::cmd::planning_inputs(root, platform, true)?;
    let clusters = clusters_of(platform, target);
    writeln!(
        out,
        "drift {} --dry-run: {} cluster(s); nothing is run, nothing is written",
        target.name(platform),
        clusters.len()
    )?;
    for name in clusters {
        let c = platform.cluster(&name).expect("cluster exists");
        let dir = flotilla_terraform::module_dir(&name);
        let endpoint = format!("<endpoint of {name} from DescribeCluster>");
        writeln!(out, "\n{name}:")?;
        let mut invocations = vec![
            tf_init(&paths, &dir, &name),
            tf_refresh_only(&paths, &dir, &name),
        ];
        if c.role == flotilla_model::Role::Workload {
            let link = flotilla_terraform::link_module(&name);
            let link_dir = flotilla_terraform::module_key_dir(&link);
            invocations.push(tf_init(&paths, &link_dir, &link));
            invocations.push(tf_refresh_only(&paths, &link_dir, &link));
        }
        invocations.push(tf_output(&paths, &dir, &name));
        for inv in invocations {
            writeln!(out, "  $ {inv}")?;
        }
        writeln!(
            out,
            "  aws eks DescribeCluster name=<cluster_name output> region={}",
            c.region
        )?;
        for r in inputs.releases.get(&name).into_iter().flatten() {
            writeln!(out, "  $ {}", helm_diff(&paths, &name, &endpoint, r))?;
        }
        for files in inputs
            .manifests
            .iter()
            .filter(|((cl, _), _)| cl == &name)
            .map(|(_, f)| f)
        {
            for f in files {
                writeln!(
                    out,
                    "  kube GET and PATCH (apply, dryRun=All) {endpoint} each object of {f}: compared, nothing stored"
                )?;
            }
        }
    }
    Ok(())
}
