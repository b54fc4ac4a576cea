//! The scheduler without any IO: a fake executor that sleeps, records and fails on demand.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flotilla_deploy::journal::{Journal, RunState, Status};
use flotilla_deploy::runner::{
    Cancel, RunOptions, Silent, StepContext, StepExecutor, StepFailure, run, steps_to_run,
};
use flotilla_plan::graph::{Graph, Step, StepId, Work};

fn step(id: &str, needs: &[&str]) -> Step {
    Step {
        id: StepId(id.into()),
        work: Work::Smoke {
            cluster: id.into(),
            files: vec![],
        },
        needs: needs.iter().map(|n| StepId(n.to_string())).collect(),
        inputs: vec![],
        outputs: vec![],
        volatile: false,
    }
}

/// a -> b -> d, a -> c -> d, e alone, f after b.
fn diamond() -> Graph {
    Graph::new(vec![
        step("a", &[]),
        step("b", &["a"]),
        step("c", &["a"]),
        step("d", &["b", "c"]),
        step("e", &[]),
        step("f", &["b"]),
    ])
    .unwrap()
}

#[derive(Default)]
struct Fake {
    fail: BTreeSet<String>,
    hang: BTreeSet<String>,
    sleep: Duration,
    spans: Mutex<BTreeMap<String, (Instant, Instant)>>,
}

impl StepExecutor for Fake {
    fn execute(&self, step: &Step, ctx: &StepContext<'_>) -> Result<(), StepFailure> {
        let start = Instant::now();
        if self.hang.contains(step.id.as_str()) {
            if ctx.cancel.sleep(Duration::from_secs(30)) {
                return Err(StepFailure::Interrupted);
            }
        } else {
            std::thread::sleep(self.sleep);
        }
        self.spans
            .lock()
            .unwrap()
            .insert(step.id.0.clone(), (start, Instant::now()));
        ctx.log.line("did the work");
        if self.fail.contains(step.id.as_str()) {
            Err(StepFailure::Failed("failed on demand".into()))
        } else {
            Ok(())
        }
    }
}

fn options(dir: &std::path::Path, jobs: usize, previous: Option<Journal>) -> RunOptions {
    RunOptions {
        jobs,
        root: dir.to_path_buf(),
        run_dir: dir.join(format!("run-{}", previous.is_some())),
        run_id: "test".into(),
        command: "deploy".into(),
        target: "x".into(),
        previous,
        hashes: diamond()
            .steps()
            .iter()
            .map(|s| (s.id.clone(), format!("hash-{}", s.id)))
            .collect(),
        groups: BTreeMap::new(),
        group_limit: 1,
    }
}

fn status(j: &Journal, id: &str) -> Status {
    j.step(&StepId(id.into())).unwrap().status
}

#[test]
fn dependencies_first_and_independent_steps_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        sleep: Duration::from_millis(150),
        ..Fake::default()
    };
    let s = run(
        &diamond(),
        &fake,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 4, None),
    )
    .unwrap();
    assert!(s.success());
    let spans = fake.spans.lock().unwrap();
    for (before, after) in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("b", "f")] {
        assert!(
            spans[before].1 <= spans[after].0,
            "{before} ends before {after} starts"
        );
    }
    // b and c (and e with a) are independent: they run at the same time.
    let overlap = |x: &str, y: &str| spans[x].0 < spans[y].1 && spans[y].0 < spans[x].1;
    assert!(overlap("b", "c"));
    assert!(overlap("a", "e"));
}

#[test]
fn jobs_bound_the_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        sleep: Duration::from_millis(80),
        ..Fake::default()
    };
    run(
        &diamond(),
        &fake,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 1, None),
    )
    .unwrap();
    let spans = fake.spans.lock().unwrap();
    let mut v: Vec<_> = spans.values().collect();
    v.sort();
    for w in v.windows(2) {
        assert!(w[0].1 <= w[1].0, "with --jobs 1 nothing overlaps");
    }
}

#[test]
fn a_failure_skips_exactly_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        fail: ["b".to_string()].into(),
        ..Fake::default()
    };
    let s = run(
        &diamond(),
        &fake,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 2, None),
    )
    .unwrap();
    assert!(!s.success());
    let j = &s.journal;
    assert_eq!(status(j, "b"), Status::Failed);
    assert_eq!(status(j, "d"), Status::Skipped);
    assert_eq!(status(j, "f"), Status::Skipped);
    for ok in ["a", "c", "e"] {
        assert_eq!(status(j, ok), Status::Succeeded, "{ok}");
    }
    let table = s.table();
    assert!(
        table.starts_with("STEP  STATUS     DURATION  LOG\n"),
        "{table}"
    );
    assert!(table.contains("b     FAILED"), "{table}");
    // The journal on disk is the final one.
    let on_disk = Journal::read(&s.run_dir).unwrap();
    assert_eq!(&on_disk, j);
    assert_eq!(on_disk.state, RunState::Finished);
    // The failed step's log exists and holds its output.
    let log = dir
        .path()
        .join(j.step(&StepId("b".into())).unwrap().log.as_ref().unwrap());
    assert!(
        std::fs::read_to_string(log)
            .unwrap()
            .contains("did the work")
    );
}

#[test]
fn resume_runs_what_failed_and_what_depends_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = Fake {
        fail: ["b".to_string()].into(),
        ..Fake::default()
    };
    let s1 = run(
        &diamond(),
        &first,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 2, None),
    )
    .unwrap();
    let second = Fake::default();
    let s2 = run(
        &diamond(),
        &second,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 2, Some(s1.journal.clone())),
    )
    .unwrap();
    assert!(s2.success());
    let ran: BTreeSet<String> = second.spans.lock().unwrap().keys().cloned().collect();
    assert_eq!(ran, ["b", "d", "f"].map(String::from).into());
    for reused in ["a", "c", "e"] {
        assert_eq!(status(&s2.journal, reused), Status::Reused);
    }
}

#[test]
fn changed_inputs_rerun_downstream_and_volatile_steps_run_when_needed() {
    let mut steps = diamond().steps().to_vec();
    steps[0].volatile = true; // a: a read, like cluster access
    let g = Graph::new(steps).unwrap();
    let hashes: BTreeMap<StepId, String> = g
        .steps()
        .iter()
        .map(|s| (s.id.clone(), "h".to_string()))
        .collect();
    let done = Journal {
        run_id: "1".into(),
        command: "deploy".into(),
        target: "x".into(),
        started: String::new(),
        finished: None,
        state: RunState::Finished,
        steps: g
            .steps()
            .iter()
            .map(|s| flotilla_deploy::journal::StepRecord {
                id: s.id.clone(),
                status: Status::Succeeded,
                inputs_hash: "h".into(),
                log: None,
                started: None,
                duration_ms: None,
                message: None,
            })
            .collect(),
    };
    assert!(steps_to_run(&g, Some(&done), &hashes).is_empty());
    let mut changed = hashes.clone();
    changed.insert(StepId("c".into()), "new".into());
    let run: Vec<String> = steps_to_run(&g, Some(&done), &changed)
        .into_iter()
        .map(|s| s.0)
        .collect();
    // c changed, d depends on it; a (volatile) must run again because c needs what it reads.
    assert_eq!(run, ["a", "c", "d"]);
}

#[test]
fn an_interrupt_starts_nothing_new_and_leaves_a_consistent_journal() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake {
        hang: ["c".to_string()].into(),
        sleep: Duration::from_millis(50),
        ..Fake::default()
    };
    let cancel = Cancel::new();
    let opts = options(dir.path(), 4, None);
    let s = std::thread::scope(|scope| {
        let c = cancel.clone();
        let run_dir = opts.run_dir.clone();
        scope.spawn(move || {
            // Interrupt once c is running (the journal says so).
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(j) = Journal::read(&run_dir)
                    && j.step(&StepId("c".into()))
                        .is_some_and(|r| r.status == Status::Running)
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(100));
            c.interrupt();
        });
        run(&diamond(), &fake, &Silent, &cancel, &opts).unwrap()
    });
    let j = Journal::read(&s.run_dir).unwrap();
    assert_eq!(j.state, RunState::Interrupted);
    assert_eq!(status(&j, "a"), Status::Succeeded);
    assert_eq!(status(&j, "c"), Status::Interrupted);
    assert_eq!(status(&j, "d"), Status::NotRun);
    // Nothing is left pending or running.
    assert!(
        j.steps
            .iter()
            .all(|r| !matches!(r.status, Status::Pending | Status::Running))
    );
    assert!(!fake.spans.lock().unwrap().contains_key("d"));
}

#[test]
fn cycles_and_unknown_dependencies_are_rejected() {
    assert!(Graph::new(vec![step("a", &["b"]), step("b", &["a"])]).is_err());
    assert!(Graph::new(vec![step("a", &["zz"])]).is_err());
}

/// A step that fails with a library error keeps it, with its sources: the journal has the
/// error's message, the step's log the whole chain.
#[test]
fn a_failure_keeps_the_error_and_its_sources() {
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("reading the kubeconfig")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    struct Failing;
    impl StepExecutor for Failing {
        fn execute(&self, _: &Step, _: &StepContext<'_>) -> Result<(), StepFailure> {
            Err(StepFailure::context(
                "access to dev",
                Outer(std::io::Error::other("permission denied")),
            ))
        }
    }
    let g = Graph::new(vec![step("a", &[])]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run(
        &g,
        &Failing,
        &Silent,
        &Cancel::new(),
        &options(dir.path(), 1, None),
    )
    .unwrap();
    let rec = summary.journal.step(&StepId("a".into())).unwrap();
    assert_eq!(rec.status, Status::Failed);
    assert_eq!(
        rec.message.as_deref(),
        Some("access to dev: reading the kubeconfig")
    );
    let log = std::fs::read_to_string(dir.path().join(rec.log.as_ref().unwrap())).unwrap();
    assert!(
        log.contains("step failed: access to dev: reading the kubeconfig")
            && log.contains("  caused by: permission denied"),
        "{log}"
    );
}

/// Steps of one throttling group (Terraform against one account and region) run at most
/// `group_limit` at a time, however many jobs are free; steps outside it are not held back.
#[test]
fn a_group_never_runs_more_than_its_limit_at_once() {
    let ids: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let mut steps: Vec<Step> = ids.iter().map(|id| step(id, &[])).collect();
    steps.push(step("free", &[]));
    let g = Graph::new(steps).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), 8, None);
    opts.hashes = g
        .steps()
        .iter()
        .map(|s| (s.id.clone(), format!("hash-{}", s.id)))
        .collect();
    opts.groups = ids
        .iter()
        .map(|id| {
            (
                StepId(id.clone()),
                "terraform:111122223333:eu-west-1".to_string(),
            )
        })
        .collect();
    opts.group_limit = 2;
    let fake = Fake {
        sleep: Duration::from_millis(120),
        ..Fake::default()
    };
    let s = run(&g, &fake, &Silent, &Cancel::new(), &opts).unwrap();
    assert!(s.success());
    let spans = fake.spans.lock().unwrap();
    // At every start of a group step, at most two group steps are running.
    for id in &ids {
        let t = spans[id].0;
        let overlapping = ids
            .iter()
            .filter(|other| spans[*other].0 <= t && t < spans[*other].1)
            .count();
        assert!(overlapping <= 2, "{id}: {overlapping} group steps at once");
    }
    // The free step started with the first ones, not after the group.
    let first_end = ids.iter().map(|id| spans[id].1).min().unwrap();
    assert!(spans["free"].0 < first_end);
    // And the group did overlap (the limit is 2, not 1).
    let max_overlap = ids
        .iter()
        .map(|id| {
            ids.iter()
                .filter(|o| spans[*o].0 <= spans[id].0 && spans[id].0 < spans[*o].1)
                .count()
        })
        .max()
        .unwrap();
    assert_eq!(max_overlap, 2);
}
