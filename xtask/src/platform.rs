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

/// What can go wrong before a command does its work.
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
    /// Any other failure, already rendered.
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => {
                write!(f, "error: cannot read {}: {source}", path.display())
            }
            Error::Invalid(e) => write!(f, "{e}"),
            Error::UnknownTarget { given, known } => write!(
                f,
                "error: unknown environment \"{given}\"\n  = help: known: {}",
                known.join(", ")
            ),
            Error::Other(msg) => write!(f, "error: {msg}"),
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
    fn display_name(&self) -> String {
        let cwd = std::env::current_dir().unwrap_or_default();
        self.platform_file
            .strip_prefix(&cwd)
            .unwrap_or(&self.platform_file)
            .display()
            .to_string()
    }

    pub fn load(&self) -> Result<Platform, Error> {
        let source =
            std::fs::read_to_string(&self.platform_file).map_err(|source| Error::Read {
                path: self.platform_file.clone(),
                source,
            })?;
        flotilla_model::load(&self.display_name(), &source, &Versions::embedded())
            .map_err(|e| Error::Invalid(Box::new(e)))
    }
}

/// Checks a command's environment argument; `all` is accepted where `allow_all`.
pub fn check_target(platform: &Platform, target: &str, allow_all: bool) -> Result<(), Error> {
    let targets = platform.targets();
    if targets.contains(&target) || (allow_all && target == "all") {
        return Ok(());
    }
    let mut known: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
    if allow_all {
        known.push("all".into());
    }
    Err(Error::UnknownTarget {
        given: target.to_string(),
        known,
    })
}

/// The repository root: `FLOTILLA_ROOT` when set (the toolbox image runs a prebuilt binary in
/// a checkout elsewhere), else the workspace xtask was built in, else the current directory.
fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("FLOTILLA_ROOT") {
        return PathBuf::from(root);
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root");
    if built_in.join("Cargo.toml").is_file() {
        built_in.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
    }
}
