//! Running a step graph: the scheduler, the journal, the run's interrupt flag, step logs and
//! progress output. Nothing here knows what a step does ([`scheduler::StepExecutor`]).

pub mod cancel;
pub mod journal;
pub mod progress;
pub mod prompt;
pub mod scheduler;
pub mod step_log;
