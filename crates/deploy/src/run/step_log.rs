//! A step's own log file: process output and timestamped messages.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

/// A step's own log file. Process output goes here; messages are timestamped.
#[derive(Debug)]
pub struct StepLog {
    pub path: PathBuf,
    file: Mutex<File>,
}

impl StepLog {
    pub fn create(path: PathBuf) -> std::io::Result<StepLog> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| crate::run::journal::at(dir, e))?;
        }
        let file = File::create(&path).map_err(|e| crate::run::journal::at(&path, e))?;
        Ok(StepLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// Appends a timestamped line.
    pub fn line(&self, text: &str) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "[{}] {text}", crate::run::journal::timestamp());
    }

    /// A handle for a child process's stdout/stderr.
    pub fn file(&self) -> std::io::Result<File> {
        let f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.try_clone()
    }

    /// The last `n` lines of what happened: the step's planned commands it starts with
    /// (`plan: ...`, as `--dry-run` prints them) stay in the file but are left out here.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let text = fs::read_to_string(&self.path).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                !l.split_once("] ")
                    .is_some_and(|(_, rest)| rest.starts_with("plan: "))
            })
            .collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_leaves_out_the_planned_commands() {
        let dir = tempfile::tempdir().unwrap();
        let log = StepLog::create(dir.path().join("s.log")).unwrap();
        log.line("step x started");
        log.line("plan: $ terraform -chdir=infra/x apply plan.tfplan");
        {
            let mut f = log.file().unwrap();
            writeln!(f, "Error: creating EKS Cluster: AccessDenied").unwrap();
        }
        log.line("plan: not a plan line once the step runs? still left out");
        log.line("step failed: `terraform apply` failed (exit code 1)");
        assert_eq!(
            log.tail(2),
            [
                "Error: creating EKS Cluster: AccessDenied".to_string(),
                log.tail(1)[0].clone()
            ]
        );
        assert!(log.tail(1)[0].ends_with("] step failed: `terraform apply` failed (exit code 1)"));
        let all = log.tail(10);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().all(|l| !l.contains("plan: ")), "{all:?}");
    }
}
