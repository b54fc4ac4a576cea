//! The journal of a run: `.flotilla/runs/<run-id>/journal.json`.
//!
//! Rewritten (to a temporary file, then renamed) after every change of a step's status (changes
//! that happen together, in one write, right after the steps that can start have started), so
//! an interrupt or a crash leaves the last consistent state on disk. `--resume` reads the newest
//! journal of the same command and target.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// RFC 3339 UTC time with milliseconds.
pub fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

use flotilla_plan::graph::StepId;

/// The variable that moves the state directory out of the checkout.
pub const STATE_DIR_ENV: &str = "FLOTILLA_STATE_DIR";

/// Where Flotilla keeps what runs leave (journals and logs, Terraform's data directories,
/// decommission checkouts, the reference cache): `FLOTILLA_STATE_DIR` when set (a relative path
/// is taken from the checkout), else `.flotilla` in the checkout. A decommission checkout (the
/// files of a past commit, marked by `.flotilla-commit`) always keeps its own `.flotilla`, so
/// its teardown's journal and Terraform data never mix with the checkout's.
pub fn state_dir(root: &Path) -> PathBuf {
    if root.join(".flotilla-commit").is_file() {
        return root.join(".flotilla");
    }
    match std::env::var_os(STATE_DIR_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => root.join(dir),
        None => root.join(".flotilla"),
    }
}

/// Where runs live: `<state>/runs`.
pub fn runs_dir(root: &Path) -> PathBuf {
    state_dir(root).join("runs")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not started yet.
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Not started because a step it needs failed, was skipped or was interrupted.
    Skipped,
    /// Was running when the run was interrupted.
    Interrupted,
    /// Not started because the run was interrupted first.
    NotRun,
    /// Succeeded in an earlier run with the same inputs; not run again (`--resume`).
    Reused,
}

impl Status {
    /// Done well: dependents may start.
    pub fn is_success(self) -> bool {
        matches!(self, Status::Succeeded | Status::Reused)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "FAILED",
            Status::Skipped => "skipped",
            Status::Interrupted => "interrupted",
            Status::NotRun => "not run",
            Status::Reused => "reused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: StepId,
    pub status: Status,
    /// SHA-256 of the step's commands and input files.
    pub inputs_hash: String,
    /// The step's log file, relative to the repository root.
    pub log: Option<String>,
    pub started: Option<String>,
    pub duration_ms: Option<u64>,
    /// Why it failed or was skipped.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Running,
    Finished,
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub run_id: String,
    /// `deploy` or `destroy`.
    pub command: String,
    pub target: String,
    pub started: String,
    pub finished: Option<String>,
    pub state: RunState,
    pub steps: Vec<StepRecord>,
}

impl Journal {
    pub fn step(&self, id: &StepId) -> Option<&StepRecord> {
        self.steps.iter().find(|s| &s.id == id)
    }

    pub fn step_mut(&mut self, id: &StepId) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|s| &s.id == id)
    }

    /// Writes atomically: a reader never sees half a journal.
    pub fn write(&self, run_dir: &Path) -> io::Result<()> {
        fs::create_dir_all(run_dir).map_err(|e| at(run_dir, e))?;
        let tmp = run_dir.join("journal.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        fs::write(&tmp, text + "\n").map_err(|e| at(&tmp, e))?;
        fs::rename(&tmp, run_dir.join("journal.json")).map_err(|e| at(run_dir, e))
    }

    pub fn read(run_dir: &Path) -> io::Result<Journal> {
        let text = fs::read_to_string(run_dir.join("journal.json"))?;
        serde_json::from_str(&text).map_err(io::Error::other)
    }
}

/// A new run directory name: sortable time, command and target (`20260101T120000.123Z-deploy-production`).
pub fn new_run_id(command: &str, target: &str) -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{command}-{target}",
        now.strftime("%Y%m%dT%H%M%S%.3fZ")
            .to_string()
            .replace('.', "")
    )
}

/// The newest journal of a command and target, if any.
pub fn latest(root: &Path, command: &str, target: &str) -> io::Result<Option<(PathBuf, Journal)>> {
    let dir = runs_dir(root);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(None);
    };
    let suffix = format!("-{command}-{target}");
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(&suffix))
        .collect();
    names.sort();
    for name in names.iter().rev() {
        let path = dir.join(name);
        if let Ok(j) = Journal::read(&path) {
            return Ok(Some((path, j)));
        }
    }
    Ok(None)
}

/// An IO error that names its path (a read-only checkout otherwise says only "Read-only file
/// system"), with what to do when the directory cannot be written.
pub fn at(path: &Path, e: io::Error) -> io::Error {
    let hint = if e.kind() == io::ErrorKind::ReadOnlyFilesystem
        || e.kind() == io::ErrorKind::PermissionDenied
    {
        format!(
            " (a run keeps its journal, logs, saved plans and Terraform data in the state directory: set {STATE_DIR_ENV} to a writable directory, or run from a writable checkout)"
        )
    } else {
        String::new()
    };
    io::Error::new(e.kind(), format!("{}: {e}{hint}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unwritable_run_directory_is_named_with_what_to_do() {
        let e = at(
            Path::new("/ro/.flotilla/runs/x"),
            io::Error::from(io::ErrorKind::ReadOnlyFilesystem),
        );
        let text = e.to_string();
        assert!(text.starts_with("/ro/.flotilla/runs/x: "), "{text}");
        assert!(
            text.contains("set FLOTILLA_STATE_DIR to a writable directory"),
            "{text}"
        );
        assert_eq!(e.kind(), io::ErrorKind::ReadOnlyFilesystem);
    }
}
