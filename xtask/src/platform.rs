//! Finding the repository, loading the platform and checking command targets.

use std::fmt;
use std::path::{Path, PathBuf};

use flotilla_model::{LoadError, Platform, Versions};

/// Where the commands run: the repository root and the platform file.
#[derive(Debug)]
pub struct Context {
    pub root: PathBuf,
    pub platform_file: PathBuf,
}

/// What stops a command, with the library's own error kept (its exit code comes from it).
#[derive(Debug)]
pub enum Error {
    /// The platform file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The platform file is invalid: every diagnostic.
    Invalid(Box<LoadError>),
    /// An environment argument that the platform does not have.
    UnknownTarget { given: String, known: Vec<String> },
    /// The deploy engine's error (deploy, destroy, diff, plan).
    Deploy(Box<flotilla_deploy::Error>),
    /// The generate write path's error.
    Generate(flotilla_generate::GenerateError),
    /// Any other failure, already rendered.
    Other(String),
    /// Writing the command's own output failed (stdout closed: `... | head`).
    Output(std::io::Error),
    /// Flags that contradict each other, or a value the command cannot take.
    Usage(String),
}

/// The known name a mistyped one most likely meant: one it starts (`prod` -> `production`), or
/// one within two edits (`stagin` -> `staging`), when exactly one is that close.
pub fn closest<'a>(given: &str, known: &'a [String]) -> Option<&'a str> {
    let g = given.to_lowercase();
    let prefixed: Vec<&String> = known
        .iter()
        .filter(|k| g.len() >= 2 && k.starts_with(&g))
        .collect();
    if prefixed.len() == 1 {
        return Some(prefixed[0]);
    }
    let near: Vec<&String> = known
        .iter()
        .filter(|k| flotilla_model::names::edit_distance(&g, k) <= 2)
        .collect();
    (near.len() == 1).then(|| near[0].as_str())
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Output(e)
    }
}

impl Error {
    /// The process exit code ([`flotilla_plan::exit`]).
    pub fn exit_code(&self) -> u8 {
        use flotilla_plan::exit;
        match self {
            Error::Read { .. } | Error::Invalid(_) => exit::INVALID_PLATFORM,
            Error::UnknownTarget { .. } | Error::Usage(_) => exit::USAGE,
            Error::Deploy(e) => e.exit_code(),
            Error::Generate(_) | Error::Other(_) | Error::Output(_) => exit::ERROR,
        }
    }

    /// The reader of our output went away (`cargo xtask plan all | head`): nothing to say,
    /// and nobody to say it to. Read-only commands end there; a deploy keeps running (its
    /// progress goes to stderr, which ignores a closed pipe) and only its last words are lost.
    pub fn is_closed_pipe(&self) -> bool {
        let io = match self {
            Error::Output(e) => Some(e),
            Error::Deploy(d) => match d.as_ref() {
                flotilla_deploy::Error::Io(e) => Some(e),
                _ => None,
            },
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<flotilla_deploy::Error> for Error {
    fn from(e: flotilla_deploy::Error) -> Error {
        Error::Deploy(Box::new(e))
    }
}

impl From<flotilla_generate::GenerateError> for Error {
    fn from(e: flotilla_generate::GenerateError) -> Error {
        Error::Generate(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => {
                write!(f, "error: cannot read {}: {source}", path.display())
            }
            Error::Invalid(e) => write!(f, "{e}"),
            Error::UnknownTarget { given, known } => {
                write!(f, "error: unknown environment \"{given}\"")?;
                if let Some(near) = closest(given, known) {
                    write!(f, "\n  = help: did you mean `{near}`?")?;
                }
                write!(f, "\n  = help: known: {}", known.join(", "))
            }
            Error::Usage(msg) => write!(f, "error: {msg}"),
            Error::Deploy(e) => write!(f, "error: {e}"),
            Error::Generate(e) => write!(f, "error: {e}"),
            Error::Other(msg) => write!(f, "error: {msg}"),
            Error::Output(e) => write!(f, "error: writing the output: {e}"),
        }
    }
}

impl Context {
    pub fn new(platform: Option<PathBuf>) -> Context {
        let root = repo_root();
        let platform_file = platform.unwrap_or_else(|| root.join("platform.toml"));
        Context {
            root,
            platform_file,
        }
    }

    /// The platform file's name as diagnostics show it: relative to the current directory
    /// when possible, so that `file:line:col` is clickable in a terminal.
    pub fn display_name(&self) -> String {
        let cwd = std::env::current_dir().unwrap_or_default();
        self.platform_file
            .strip_prefix(&cwd)
            .unwrap_or(&self.platform_file)
            .display()
            .to_string()
    }

    /// The platform file relative to the repository root, as git names it (`git show REF:path`).
    pub fn platform_rel(&self) -> String {
        self.platform_file
            .strip_prefix(&self.root)
            .unwrap_or(&self.platform_file)
            .to_string_lossy()
            .into_owned()
    }

    pub fn load(&self) -> Result<Platform, Error> {
        let bytes = std::fs::read(&self.platform_file).map_err(|source| Error::Read {
            path: self.platform_file.clone(),
            source,
        })?;
        // Not UTF-8 is a located error too, at the first bad byte.
        flotilla_model::load_bytes(&self.display_name(), &bytes, &Versions::embedded())
            .map_err(|e| Error::Invalid(Box::new(e)))
    }
}

/// Checks a command's environment argument with [`flotilla_plan::Target`] (the one target
/// check); `all` is accepted where `allow_all`.
pub fn check_target(platform: &Platform, target: &str, allow_all: bool) -> Result<(), Error> {
    let unknown = |mut known: Vec<String>| {
        if !allow_all {
            known.retain(|k| k != "all");
        }
        Error::UnknownTarget {
            given: target.to_string(),
            known,
        }
    };
    match flotilla_plan::Target::parse(platform, target) {
        Ok(flotilla_plan::Target::All) if !allow_all => {
            let known = platform.targets().iter().map(|s| s.to_string()).collect();
            Err(unknown(known))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(unknown(e.known)),
    }
}

/// The repository root: `FLOTILLA_ROOT` when set, else the nearest directory from the current
/// one upwards that holds a `platform.toml` (as terraform, helmfile and pulumi look where they
/// are run), else the current directory (loading then names the missing file). Never the
/// checkout the binary was built in: a binary built in one clone acts on the clone it is run
/// from.
fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("FLOTILLA_ROOT") {
        return PathBuf::from(root);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    find_root(&cwd).unwrap_or(cwd)
}

/// The nearest of `from` and its ancestors that holds a `platform.toml`.
fn find_root(from: &Path) -> Option<PathBuf> {
    from.ancestors()
        .find(|d| d.join("platform.toml").is_file())
        .map(Path::to_path_buf)
}

/// `deploy`/`destroy --format json`: the run's human output goes to stderr, and stdout gets one
/// object: `command`, `target`, `exit_code`, `error` (the message of a run stopped before its
/// first step, else null) and `run`, the run's journal (`run_id`, `state`, `steps` with `id`,
/// `status`, times and `log`; docs/operations.md) or null when no run started.
pub fn run_with_json_summary(
    ctx: &Context,
    command: &str,
    target: &str,
    run: impl FnOnce(&mut dyn std::io::Write) -> Result<i32, flotilla_deploy::Error>,
) -> Result<std::process::ExitCode, Error> {
    use std::io::Write;
    let latest = || {
        flotilla_deploy::journal::latest(&ctx.root, command, target)
            .ok()
            .flatten()
    };
    let before = latest().map(|(p, _)| p);
    let result = run(&mut std::io::stderr());
    let (code, error) = match &result {
        Ok(c) => (*c as u8, None),
        Err(e) => (e.exit_code(), Some(e.to_string())),
    };
    let journal = latest()
        .filter(|(p, _)| Some(p) != before.as_ref())
        .map(|(_, j)| j);
    let v = serde_json::json!({
        "command": command,
        "target": target,
        "exit_code": code,
        "error": error,
        "run": journal,
    });
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&v).map_err(|e| Error::Other(e.to_string()))?
    )?;
    Ok(std::process::ExitCode::from(code))
}
