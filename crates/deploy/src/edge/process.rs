//! Running external tools: argument lists (never a shell string), output into the step's log,
//! each child in its own process group so that only [`crate::run::cancel::Cancel`] interrupts it.

use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run::cancel::Cancel;
use crate::run::step_log::StepLog;
use flotilla_plan::{Invocation, Tool};

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Exit code, or `None` when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// Captured stdout when asked for (otherwise it went to the log).
    pub stdout: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended".into(),
        }
    }
}

/// Runs `inv` with `program`, in `cwd`, output into `log` (stdout captured when `capture`).
pub fn run(
    program: &Path,
    inv: &Invocation,
    cwd: &Path,
    log: &StepLog,
    cancel: &Cancel,
    capture: bool,
) -> Result<Finished, String> {
    log.line(&format!("$ {inv}"));
    let mut cmd = Command::new(program);
    cmd.args(&inv.args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .process_group(0);
    for (k, v) in inv.env.iter().chain(&inv.secret_env) {
        cmd.env(k, v);
    }
    let err_file = log.file().map_err(|e| format!("log file: {e}"))?;
    cmd.stderr(Stdio::from(err_file));
    if capture {
        cmd.stdout(Stdio::piped());
    } else {
        let out_file = log.file().map_err(|e| format!("log file: {e}"))?;
        cmd.stdout(Stdio::from(out_file));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let pid = child.id();
    cancel.register(pid);
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    let status = child.wait();
    cancel.unregister(pid);
    let status = status.map_err(|e| format!("waiting for {}: {e}", inv.tool.name()))?;
    let finished = Finished {
        code: status.code(),
        signal: status.signal(),
        stdout,
    };
    log.line(&format!("{} {}", inv.tool.name(), finished.describe()));
    Ok(finished)
}

/// A tool's program: `FLOTILLA_<TOOL>` when set, else the first match on PATH.
pub fn find_program(tool: Tool) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(tool.env_var()).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(tool.name()))
        .find(|p| p.is_file())
}
