//! Progress output: one spinner line per running step and an overall bar on a terminal
//! (indicatif), plain timestamped lines otherwise (CI logs, pipes).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::journal::timestamp;
use crate::run::journal::{Status, StepRecord};
use crate::run::scheduler::Reporter;
use flotilla_plan::graph::StepId;

/// The reporter for this process: bars when stderr is a terminal, lines otherwise.
pub fn reporter(total: usize) -> Box<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::new(total))
    } else {
        Box::new(Lines)
    }
}

/// Timestamped lines on stderr.
#[derive(Debug, Default)]
pub struct Lines;

fn finished_line(record: &StepRecord) -> String {
    let mut line = format!("{} {}", record.id, record.status.as_str());
    if let Some(ms) = record.duration_ms {
        line.push_str(&format!(" in {:.1}s", ms as f64 / 1000.0));
    }
    if let Some(m) = &record.message
        && !record.status.is_success()
    {
        line.push_str(&format!(": {m}"));
    }
    line
}

fn print_tail(out: &mut dyn std::io::Write, record: &StepRecord, tail: &[String]) {
    if tail.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  --- last lines of {} ---",
        record.log.as_deref().unwrap_or("the log")
    );
    for l in tail {
        let _ = writeln!(out, "  | {l}");
    }
}

impl Reporter for Lines {
    fn started(&self, step: &StepId) {
        // A closed stderr (`deploy ... 2>&1 | head`) must not end a run half-applied: what is
        // not printed is still in the journal and the step logs.
        let _ = writeln!(std::io::stderr(), "[{}] {step} started", timestamp());
    }
    fn finished(&self, record: &StepRecord, tail: &[String]) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{}] {}", timestamp(), finished_line(record));
        print_tail(&mut err, record, tail);
    }
    fn message(&self, step: &StepId, text: &str) {
        let _ = writeln!(std::io::stderr(), "[{}] {step}: {text}", timestamp());
    }
    fn suspend(&self, f: &mut dyn FnMut()) {
        f()
    }
}

/// indicatif: a spinner per running step above an overall bar.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: Mutex<BTreeMap<StepId, ProgressBar>>,
}

impl std::fmt::Debug for Bars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bars")
    }
}

impl Bars {
    pub fn new(total: usize) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Bars {
            multi,
            overall,
            running: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Reporter for Bars {
    fn started(&self, step: &StepId) {
        let pb = self
            .multi
            .insert_before(&self.overall, ProgressBar::new_spinner());
        pb.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}")
                .expect("valid template"),
        );
        pb.set_prefix(step.to_string());
        pb.enable_steady_tick(Duration::from_millis(120));
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(step.clone(), pb);
    }
    fn finished(&self, record: &StepRecord, tail: &[String]) {
        if let Some(pb) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&record.id)
        {
            pb.finish_and_clear();
            self.multi.remove(&pb);
        }
        self.overall.inc(1);
        let mark = match record.status {
            Status::Succeeded | Status::Reused => "ok",
            Status::Failed => "FAILED",
            _ => "--",
        };
        let _ = self
            .multi
            .println(format!("{mark} {}", finished_line(record)));
        let mut buf = Vec::new();
        print_tail(&mut buf, record, tail);
        if !buf.is_empty() {
            let _ = self.multi.println(String::from_utf8_lossy(&buf).trim_end());
        }
    }
    fn message(&self, step: &StepId, text: &str) {
        let guard = self.running.lock().unwrap_or_else(|e| e.into_inner());
        match guard.get(step) {
            Some(pb) => pb.set_message(text.to_string()),
            None => {
                let _ = self.multi.println(format!("{step}: {text}"));
            }
        }
    }
    fn suspend(&self, f: &mut dyn FnMut()) {
        self.multi.suspend(f)
    }
}
