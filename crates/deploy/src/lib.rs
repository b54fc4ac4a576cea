//! `flotilla-deploy`: doing what `flotilla-plan` planned. See docs/architecture.md and
//! docs/operations.md.
//!
//! - [`cmd`]: the commands `cargo xtask deploy|destroy|diff|plan` call: planning inputs (the
//!   committed files, refused on drift), dry run, execution, summary, exit code; `diff --live`;
//!   the operator prompt.
//! - [`run`]: running a graph in parallel with a journal, resume and interrupt handling; what a
//!   step does is behind [`run::scheduler::StepExecutor`], so scheduling is tested without IO.
//! - [`exec`]: the real executor: each kind of step, with the exact commands of `flotilla-plan`.
//! - [`edge`]: processes, the external tools, AWS and Kubernetes, each behind a trait or a
//!   small API.
//!
//! The older flat paths (`flotilla_deploy::runner`, `::journal`, `::kube`, ...) stay as aliases.

pub mod cmd;
pub mod edge;
pub mod exec;
pub mod run;

pub use cmd::diff::{DiffArgs, diff};
pub use cmd::drift::{DriftArgs, DriftFormat, drift};
pub use cmd::{
    DeployArgs, DestroyArgs, Error, Format, Io, TODAY_ENV, deploy, destroy, endpoints_from_env,
    plan, today,
};
pub use edge::{aws, kube, process, tools};
pub use flotilla_plan::Timeouts;
pub use run::prompt::Prompt;
pub use run::{cancel, journal, progress, scheduler as runner, step_log};

/// The executor under its earlier name.
pub use exec as engine;
