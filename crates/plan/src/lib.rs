//! `flotilla-plan`: what a deploy or destroy will do, without doing any of it.
//!
//! **Architecture invariant:** this crate does no IO. It reads the model and the renderers'
//! release and manifest lists, and returns values and text; it never touches the disk, the
//! network or a process, and tokio, the AWS SDK and kube are not in its dependency tree
//! (`tests/purity.rs` checks that over `cargo metadata`). `flotilla-deploy` runs what it plans.
//!
//! - [`target`]: the command-line target (`production`, `controlplane`, `all`), checked once.
//! - [`graph`]: the step graph: typed steps with inputs, outputs and dependencies, built from
//!   [`graph::GraphInputs`]; text, Mermaid and Graphviz output.
//! - [`wiring`]: the Secrets that cross clusters (Kafka credentials, receiver credentials).
//! - [`invocation`]: one run of terraform, helm or kubectl as an argument list.
//! - [`commands`]: the exact invocations of each step, the run's paths and timeouts.
//! - [`describe`]: the dry-run lines of a step.
//! - [`report`]: `cargo xtask plan`: the capacity plan, quotas, support cost and step graph.
//! - [`exit`]: the exit codes of every command.

pub mod commands;
pub mod describe;
pub mod exit;
pub mod graph;
pub mod invocation;
pub mod report;
pub mod target;
pub mod upgrade;
pub mod wiring;

pub use commands::{BOOTSTRAP_STATE, Paths, Timeouts};
pub use describe::describe;
pub use graph::{
    AddonPin, Graph, GraphError, GraphInputs, GraphOptions, Step, StepId, TerraformMode, Work,
    deploy_graph, destroy_graph,
};
pub use invocation::{Invocation, Tool};
pub use target::{Target, UnknownTarget};

/// How many independent steps a run starts at once unless told otherwise (`--jobs`), for
/// small platforms; [`default_jobs`] grows it with the platform.
pub const DEFAULT_JOBS: usize = 4;

/// At most this many Terraform runs at once against one account and region: EKS, EC2 and IAM
/// throttle their control-plane APIs per account and region, and 20 to 30 clusters applied at
/// once fail on rate limits.
pub const TERRAFORM_RUNS_PER_REGION: usize = 8;

/// `--jobs` when none is given: two steps per cluster (a Terraform run and a release or wait
/// beside it), at least [`DEFAULT_JOBS`], at most 32 (the scheduler's threads each hold a step
/// log and a child process).
pub fn default_jobs(platform: &flotilla_model::Platform) -> usize {
    (platform.clusters.len() * 2).clamp(DEFAULT_JOBS, 32)
}

/// The throttling group of every step that calls an account's control-plane APIs in bulk (its
/// Terraform runs): `terraform:<account>:<region>`.
pub fn throttle_groups(
    platform: &flotilla_model::Platform,
    graph: &Graph,
) -> std::collections::BTreeMap<StepId, String> {
    graph
        .steps()
        .iter()
        .filter_map(|s| {
            let module = match &s.work {
                Work::Terraform { module, .. } => module.as_str(),
                Work::Bootstrap { .. } => "bootstrap",
                _ => return None,
            };
            let (account, region) =
                match platform.cluster(flotilla_terraform::cluster_of_module(module)) {
                    Some(c) => (c.account_id.clone(), c.region.clone()),
                    None => (platform.account_id.clone(), platform.region.clone()),
                };
            Some((s.id.clone(), format!("terraform:{account}:{region}")))
        })
        .collect()
}

/// The field manager of every server-side apply Flotilla makes.
pub const FIELD_MANAGER: &str = "flotilla";
