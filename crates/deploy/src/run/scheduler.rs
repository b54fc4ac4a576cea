//! Runs a [`Graph`]: independent steps in parallel (bounded by `jobs`), a failure skips exactly
//! its dependents, an interrupt starts nothing new and waits for what runs, and the journal is
//! rewritten after every scheduling pass. What a step does is the [`StepExecutor`]'s business, so the
//! scheduling is tested without any IO.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub use crate::run::cancel::Cancel;
use crate::run::journal::{Journal, RunState, Status, StepRecord, timestamp};
pub use crate::run::step_log::StepLog;
use flotilla_plan::graph::{Graph, Step, StepId};

/// Why a step failed, in one line (details are in its log).
#[derive(Debug, Clone)]
pub enum StepFailure {
    /// A failure the step describes itself.
    Failed(String),
    /// A library error (AWS, Kubernetes, IO), kept with its type and its sources until the
    /// runner writes the whole chain into the step's log.
    Error(Arc<dyn std::error::Error + Send + Sync>),
    /// It stopped because the run was interrupted.
    Interrupted,
}

impl StepFailure {
    /// Keeps a library error as the step's failure: `map_err(StepFailure::error)`.
    pub fn error(e: impl std::error::Error + Send + Sync + 'static) -> StepFailure {
        StepFailure::Error(Arc::new(e))
    }

    /// A library error with what the step was doing: `"{context}: {error}"`, its sources kept.
    pub fn context(
        context: impl Into<String>,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> StepFailure {
        StepFailure::Error(Arc::new(WithContext {
            context: context.into(),
            error: Box::new(e),
        }))
    }

    /// The error and every source of it, outermost first.
    pub fn chain(&self) -> Vec<String> {
        match self {
            StepFailure::Failed(m) => vec![m.clone()],
            StepFailure::Interrupted => vec!["interrupted".into()],
            StepFailure::Error(e) => {
                let mut out = vec![e.to_string()];
                let mut source = e.source();
                while let Some(s) = source {
                    out.push(s.to_string());
                    source = s.source();
                }
                out
            }
        }
    }
}

/// An error and what the step was doing when it happened.
#[derive(Debug)]
struct WithContext {
    context: String,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for WithContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.error)
    }
}

impl std::error::Error for WithContext {
    /// The wrapped error is already in the message; its own sources follow.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepFailure::Failed(m) => f.write_str(m),
            StepFailure::Error(e) => write!(f, "{e}"),
            StepFailure::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl PartialEq for StepFailure {
    fn eq(&self, other: &StepFailure) -> bool {
        self.chain() == other.chain()
            && matches!(self, StepFailure::Interrupted) == matches!(other, StepFailure::Interrupted)
    }
}

impl From<String> for StepFailure {
    fn from(s: String) -> StepFailure {
        StepFailure::Failed(s)
    }
}

/// Does the work of one step. Implemented by the real engine and by test fakes.
pub trait StepExecutor: Sync {
    fn execute(&self, step: &Step, ctx: &StepContext<'_>) -> Result<(), StepFailure>;
}

/// What a step gets to work with: its log, the run's cancel flag, a way to tell the user.
pub struct StepContext<'a> {
    pub log: &'a StepLog,
    pub cancel: &'a Cancel,
    pub reporter: &'a dyn Reporter,
    pub run_dir: &'a Path,
}

/// Progress output: indicatif on a terminal, timestamped lines otherwise, nothing in tests.
pub trait Reporter: Sync {
    fn started(&self, step: &StepId);
    fn finished(&self, record: &StepRecord, tail: &[String]);
    /// A line about a running step (Terraform change counts, waits).
    fn message(&self, step: &StepId, text: &str);
    /// Runs `f` with the progress display out of the way (for a prompt).
    fn suspend(&self, f: &mut dyn FnMut());
}

/// A reporter that prints nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn started(&self, _: &StepId) {}
    fn finished(&self, _: &StepRecord, _: &[String]) {}
    fn message(&self, _: &StepId, _: &str) {}
    fn suspend(&self, f: &mut dyn FnMut()) {
        f()
    }
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub jobs: usize,
    /// Repository root: log paths in the journal are relative to it.
    pub root: PathBuf,
    /// `.flotilla/runs/<run-id>`.
    pub run_dir: PathBuf,
    pub run_id: String,
    pub command: String,
    pub target: String,
    /// The journal `--resume` continues from.
    pub previous: Option<Journal>,
    /// Inputs hash of every step.
    pub hashes: BTreeMap<StepId, String>,
    /// Steps that share a limit (Terraform runs against one account and region), by group.
    pub groups: BTreeMap<StepId, String>,
    /// How many steps of one group run at once (AWS throttles the control-plane APIs of an
    /// account and region; 20 to 30 clusters applied together fail on rate limits).
    pub group_limit: usize,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub journal: Journal,
    pub run_dir: PathBuf,
}

impl RunSummary {
    pub fn success(&self) -> bool {
        self.journal.state == RunState::Finished
            && self.journal.steps.iter().all(|s| s.status.is_success())
    }

    /// The summary table: step, status, duration, log file.
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .journal
            .steps
            .iter()
            .map(|s| {
                [
                    s.id.to_string(),
                    s.status.as_str().to_string(),
                    s.duration_ms
                        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into()),
                    s.log.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        table(&["STEP", "STATUS", "DURATION", "LOG"], &rows)
    }
}

/// A plain left-aligned text table.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Which steps `--resume` runs again: failed, not run, or with changed inputs, plus everything
/// downstream of those; volatile steps (reads) run whenever anything after them runs.
pub fn steps_to_run(
    graph: &Graph,
    previous: Option<&Journal>,
    hashes: &BTreeMap<StepId, String>,
) -> BTreeSet<StepId> {
    let Some(prev) = previous else {
        return graph.steps().iter().map(|s| s.id.clone()).collect();
    };
    let mut dirty: BTreeSet<StepId> = BTreeSet::new();
    for s in graph.steps() {
        let done_before = prev
            .step(&s.id)
            .is_some_and(|r| r.status.is_success() && Some(&r.inputs_hash) == hashes.get(&s.id));
        if !done_before || s.needs.iter().any(|n| dirty.contains(n)) {
            dirty.insert(s.id.clone());
        }
    }
    let mut run = dirty;
    for s in graph.steps().iter().rev() {
        // Transitively: a Helm step needs its cluster's access even though it only names
        // the step before it.
        if s.volatile && graph.dependents(&s.id).iter().any(|d| run.contains(d)) {
            run.insert(s.id.clone());
        }
    }
    run
}

enum Event {
    Done(StepId, Result<(), StepFailure>, Duration),
}

/// Runs the graph and returns the final journal. Never panics on a step failure.
pub fn run(
    graph: &Graph,
    executor: &dyn StepExecutor,
    reporter: &dyn Reporter,
    cancel: &Cancel,
    options: &RunOptions,
) -> std::io::Result<RunSummary> {
    let to_run = steps_to_run(graph, options.previous.as_ref(), &options.hashes);
    let mut journal = Journal {
        run_id: options.run_id.clone(),
        command: options.command.clone(),
        target: options.target.clone(),
        started: timestamp(),
        finished: None,
        state: RunState::Running,
        steps: graph
            .steps()
            .iter()
            .map(|s| {
                let hash = options.hashes.get(&s.id).cloned().unwrap_or_default();
                if to_run.contains(&s.id) {
                    StepRecord {
                        id: s.id.clone(),
                        status: Status::Pending,
                        inputs_hash: hash,
                        log: None,
                        started: None,
                        duration_ms: None,
                        message: None,
                    }
                } else {
                    let prev = options
                        .previous
                        .as_ref()
                        .and_then(|p| p.step(&s.id))
                        .cloned();
                    StepRecord {
                        id: s.id.clone(),
                        status: Status::Reused,
                        inputs_hash: hash,
                        log: prev.as_ref().and_then(|p| p.log.clone()),
                        started: prev.as_ref().and_then(|p| p.started.clone()),
                        duration_ms: None,
                        message: Some(format!(
                            "succeeded in run {}",
                            options
                                .previous
                                .as_ref()
                                .map(|p| p.run_id.as_str())
                                .unwrap_or("?")
                        )),
                    }
                }
            })
            .collect(),
    };
    journal.write(&options.run_dir)?;

    let jobs = options.jobs.max(1);
    // The scheduler works on positions: `journal.steps[i]` is `graph.steps()[i]`, needs and
    // ancestors are lists of positions, so deciding what starts next costs no lookups by name
    // (with a few hundred steps, finding records by name on every event made the scheduler
    // itself the bottleneck: see docs/performance.md, "Deploy scheduling").
    let steps = graph.steps();
    debug_assert!(steps.iter().zip(&journal.steps).all(|(s, r)| s.id == r.id));
    let position: BTreeMap<&StepId, usize> =
        steps.iter().enumerate().map(|(i, s)| (&s.id, i)).collect();
    let needs: Vec<Vec<usize>> = steps
        .iter()
        .map(|s| s.needs.iter().map(|n| position[n]).collect())
        .collect();
    // Topological order: a step's ancestors are its needs and theirs, all computed before it.
    let mut ancestors: Vec<BTreeSet<usize>> = Vec::with_capacity(steps.len());
    for direct in &needs {
        let mut all = BTreeSet::new();
        for &n in direct {
            all.insert(n);
            all.extend(ancestors[n].iter().copied());
        }
        ancestors.push(all);
    }
    let ancestors: Vec<Vec<usize>> = ancestors
        .into_iter()
        .map(|a| a.into_iter().collect())
        .collect();
    let group_of: Vec<Option<&str>> = steps
        .iter()
        .map(|s| options.groups.get(&s.id).map(String::as_str))
        .collect();
    let group_limit = options.group_limit.max(1);
    let logs: Mutex<BTreeMap<StepId, Arc<StepLog>>> = Mutex::new(BTreeMap::new());
    let (tx, rx) = mpsc::channel::<Event>();
    std::thread::scope(|scope| -> std::io::Result<()> {
        let mut running = 0usize;
        let mut changed = false;
        loop {
            // Skip whatever can no longer run. One pass in topological order reaches the
            // dependents of what it skips too.
            let mut skipped = Vec::new();
            for (i, step_needs) in needs.iter().enumerate() {
                if journal.steps[i].status != Status::Pending {
                    continue;
                }
                let blocked = step_needs.iter().copied().find(|&n| {
                    matches!(
                        journal.steps[n].status,
                        Status::Failed | Status::Skipped | Status::Interrupted | Status::NotRun
                    )
                });
                if let Some(n) = blocked {
                    let cancelled = matches!(
                        journal.steps[n].status,
                        Status::Interrupted | Status::NotRun
                    );
                    let message = format!("{} did not succeed", steps[n].id);
                    let rec = &mut journal.steps[i];
                    rec.status = if cancelled {
                        Status::NotRun
                    } else {
                        Status::Skipped
                    };
                    rec.message = Some(message);
                    skipped.push(i);
                }
            }
            for &i in &skipped {
                reporter.finished(&journal.steps[i], &[]);
            }
            changed |= !skipped.is_empty();
            if !cancel.is_cancelled() {
                let mut starting = Vec::new();
                // Running steps per group, counted once a pass.
                let mut in_group: BTreeMap<&str, usize> = BTreeMap::new();
                for (j, g) in group_of.iter().enumerate() {
                    if let Some(g) = g
                        && journal.steps[j].status == Status::Running
                    {
                        *in_group.entry(g).or_insert(0) += 1;
                    }
                }
                for i in 0..steps.len() {
                    if running + starting.len() >= jobs {
                        break;
                    }
                    let pending = journal.steps[i].status == Status::Pending;
                    // On a resume a reused step can stand between a step and what must run
                    // first (cluster access): wait for every ancestor, not only the needs.
                    let ready = pending
                        && needs[i]
                            .iter()
                            .all(|&n| journal.steps[n].status.is_success())
                        && ancestors[i].iter().all(|&a| {
                            !matches!(journal.steps[a].status, Status::Pending | Status::Running)
                        });
                    if !ready {
                        continue;
                    }
                    // A group at its limit starts nothing more of its own.
                    if let Some(g) = group_of[i] {
                        let busy = in_group.entry(g).or_insert(0);
                        if *busy >= group_limit {
                            continue;
                        }
                        *busy += 1;
                    }
                    let s = &steps[i];
                    let log_path = options
                        .run_dir
                        .join("logs")
                        .join(format!("{}.log", s.id.as_str().replace(':', "_")));
                    let log = Arc::new(StepLog::create(log_path.clone())?);
                    logs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(s.id.clone(), log.clone());
                    let rec = &mut journal.steps[i];
                    rec.status = Status::Running;
                    rec.started = Some(timestamp());
                    rec.log = Some(relative(&options.root, &log_path));
                    starting.push((s, log));
                }
                changed |= !starting.is_empty();
                for (s, log) in starting {
                    reporter.started(&s.id);
                    running += 1;
                    let tx = tx.clone();
                    let run_dir = options.run_dir.as_path();
                    scope.spawn(move || {
                        let start = Instant::now();
                        log.line(&format!("step {} started", s.id));
                        let ctx = StepContext {
                            log: &log,
                            cancel,
                            reporter,
                            run_dir,
                        };
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            executor.execute(s, &ctx)
                        }))
                        .unwrap_or_else(|_| Err(StepFailure::Failed("the step panicked".into())));
                        match &result {
                            Ok(()) => log.line("step succeeded"),
                            Err(StepFailure::Interrupted) => log.line("step interrupted"),
                            Err(failure) => {
                                let chain = failure.chain();
                                log.line(&format!("step failed: {}", chain[0]));
                                for cause in &chain[1..] {
                                    log.line(&format!("  caused by: {cause}"));
                                }
                            }
                        }
                        let _ = tx.send(Event::Done(s.id.clone(), result, start.elapsed()));
                    });
                }
            }
            // The journal is written once per pass, after the steps that can start have
            // started: writing it (some milliseconds for a few hundred steps) must not delay
            // them. A crash in between leaves them `pending` instead of `running`, and
            // `--resume` runs both again.
            if std::mem::take(&mut changed) {
                journal.write(&options.run_dir)?;
            }
            if running == 0 {
                break;
            }
            // Wait for one step to end, then take every other that has ended meanwhile: one
            // scheduling pass and one journal write for all of them.
            let Ok(first) = rx.recv() else {
                break;
            };
            let mut finished = Vec::new();
            for Event::Done(id, result, elapsed) in std::iter::once(first).chain(rx.try_iter()) {
                running -= 1;
                let i = position[&id];
                let rec = &mut journal.steps[i];
                rec.duration_ms = Some(elapsed.as_millis() as u64);
                match result {
                    Ok(()) => rec.status = Status::Succeeded,
                    Err(StepFailure::Interrupted) => {
                        rec.status = Status::Interrupted;
                        rec.message = Some("interrupted".into());
                    }
                    Err(failure) => {
                        // A process killed by our forwarded interrupt reports a failure too.
                        rec.status = if cancel.is_cancelled() {
                            Status::Interrupted
                        } else {
                            Status::Failed
                        };
                        rec.message = Some(failure.to_string());
                    }
                }
                finished.push(i);
            }
            changed = true;
            for i in finished {
                let rec = &journal.steps[i];
                let tail = if rec.status == Status::Failed {
                    logs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&rec.id)
                        .map(|l| l.tail(20))
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                reporter.finished(rec, &tail);
            }
        }
        Ok(())
    })?;
    for rec in &mut journal.steps {
        if rec.status == Status::Pending {
            rec.status = Status::NotRun;
            rec.message = Some("the run was interrupted first".into());
        }
    }
    journal.state = if cancel.is_cancelled() {
        RunState::Interrupted
    } else {
        RunState::Finished
    };
    journal.finished = Some(timestamp());
    journal.write(&options.run_dir)?;
    Ok(RunSummary {
        journal,
        run_dir: options.run_dir.clone(),
    })
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
