//! Running external tools: argument lists (never a shell string), output into the step's log,
//! each child in its own process group so that only [`crate::runner::Cancel`] interrupts it.

use std::fmt;
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::runner::{Cancel, StepLog};
use crate::tools::Tool;

/// One invocation of a tool, as printed by `--dry-run` and run for real.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub tool: Tool,
    pub args: Vec<String>,
    /// Extra environment. Values shown by `Display`, so never put a secret here: secrets go in
    /// `secret_env`.
    pub env: Vec<(String, String)>,
    /// Environment whose values are not printed (`HELM_KUBETOKEN`).
    pub secret_env: Vec<(String, String)>,
}

impl Invocation {
    pub fn new<I, S>(tool: Tool, args: I) -> Invocation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Invocation {
            tool,
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            secret_env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Invocation {
        self.env.push((key.to_string(), value.into()));
        self
    }
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        for (k, _) in &self.secret_env {
            write!(f, "{k}=*** ")?;
        }
        f.write_str(self.tool.name())?;
        for a in &self.args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

/// Quotes an argument for display so the printed command can be pasted into a shell.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '-' | '_' | '.' | '/' | '=' | ':' | ',' | '+' | '@' | '$' | '<' | '>'
                )
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

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

/// Sends SIGINT to a child's process group (it leads its own group).
pub fn interrupt(pid: u32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::INT);
    }
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
