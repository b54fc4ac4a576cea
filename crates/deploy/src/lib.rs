//! The deploy engine. See docs/architecture.md and docs/operations.md.
//!
//! - [`graph`]: the step graph (pure): typed steps with inputs, outputs and dependencies.
//! - [`runner`]: runs a graph in parallel with a journal, resume and interrupt handling;
//!   what a step does is behind [`runner::StepExecutor`], so scheduling is tested without IO.
//! - [`engine`]: the real executor: exact commands (shared with `--dry-run`), AWS, Kubernetes.
//! - [`aws`], [`kube`], [`process`], [`tools`]: the edges, each behind a trait or a small API.
//! - [`commands`], [`diff`]: what `cargo xtask deploy|destroy|plan|diff` call.

pub mod aws;
pub mod cancel;
pub mod commands;
pub mod diff;
pub mod engine;
pub mod journal;
pub mod kube;
pub mod process;
pub mod progress;
pub mod prompt;
pub mod runner;
pub mod step_log;
pub mod tools;

pub use commands::{
    DeployArgs, DestroyArgs, Error, Format, Io, deploy, destroy, endpoints_from_env, plan,
};
pub use diff::{DiffArgs, diff};
pub use flotilla_plan::Timeouts;
pub use prompt::Prompt;
