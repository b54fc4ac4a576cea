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

/// How many independent steps a run starts at once unless told otherwise (`--jobs`).
pub const DEFAULT_JOBS: usize = 4;

/// The field manager of every server-side apply Flotilla makes.
pub const FIELD_MANAGER: &str = "flotilla";
