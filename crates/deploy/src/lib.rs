//! The deploy engine. See docs/architecture.md and docs/operations.md.
//!
//! - [`graph`]: the step graph (pure): typed steps with inputs, outputs and dependencies.
//! - [`runner`]: runs a graph in parallel with a journal, resume and interrupt handling;
//!   what a step does is behind [`runner::StepExecutor`], so scheduling is tested without IO.
//! - [`engine`]: the real executor: exact commands (shared with `--dry-run`), AWS, Kubernetes.
//! - [`aws`], [`kube`], [`process`], [`tools`]: the edges, each behind a trait or a small API.
//! - [`commands`], [`diff`]: what `cargo xtask deploy|destroy|plan|diff` call.
//! - [`generate`]: the one write path for generated files.

pub mod aws;
pub mod commands;
pub mod diff;
pub mod engine;
pub mod generate;
pub mod graph;
pub mod journal;
pub mod kube;
pub mod process;
pub mod progress;
pub mod runner;
pub mod tools;
pub mod wiring;

pub use commands::{
    DeployArgs, DestroyArgs, Error, Format, Io, Prompt, deploy, destroy, endpoints_from_env, plan,
};
pub use diff::{DiffArgs, diff};
pub use engine::Timeouts;
