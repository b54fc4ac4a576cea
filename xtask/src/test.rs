//! `cargo xtask test [ARGS]`: the whole test suite (`cargo test --workspace ARGS`), ending with
//! one summary line of every test binary's results and one line naming every check that was
//! skipped (a missing tool, no reference data, `FLOTILLA_FAST=1`). Cargo prints a result line
//! per test binary, and libtest hides a passing test's output, so without this a skipped check
//! looks like a pass. Under `CI=true` a check that cannot run fails its test instead.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{ExitCode, Stdio};

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Passed on to `cargo test --workspace` (e.g. `--no-fail-fast`, `-- --nocapture`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// The counts of one `test result:` line, summed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub binaries: usize,
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl Totals {
    /// Adds a libtest line such as `test result: ok. 12 passed; 0 failed; 1 ignored; ...`.
    pub fn add_line(&mut self, line: &str) -> bool {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return false;
        };
        self.binaries += 1;
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
        true
    }
}

/// The closing line about skipped checks, from the `<test>\t<reason>` lines of the skip log:
/// every reason once, with the tests it stopped.
pub fn skipped_line(log: &str) -> String {
    let mut by_reason: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in log.lines() {
        if let Some((test, reason)) = line.split_once('\t') {
            by_reason.entry(reason).or_default().push(test);
        }
    }
    if by_reason.is_empty() {
        return "skipped checks: none".to_string();
    }
    let n: usize = by_reason.values().map(Vec::len).sum();
    let parts: Vec<String> = by_reason
        .into_iter()
        .map(|(reason, mut tests)| {
            tests.sort_unstable();
            tests.dedup();
            let shown: Vec<&str> = tests.iter().take(3).copied().collect();
            let more = if tests.len() > 3 {
                format!(" and {} more", tests.len() - 3)
            } else {
                String::new()
            };
            format!("{reason} [{}{more}]", shown.join(", "))
        })
        .collect();
    format!(
        "skipped checks: {n} did not run (they pass without checking; CI=true fails them): {}",
        parts.join("; ")
    )
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    let log_dir = ctx.root.join("target");
    std::fs::create_dir_all(&log_dir)
        .map_err(|e| Error::Other(format!("{}: {e}", log_dir.display())))?;
    let log = log_dir.join("flotilla-skipped.log");
    std::fs::write(&log, "").map_err(|e| Error::Other(format!("{}: {e}", log.display())))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = std::process::Command::new(cargo)
        .args(["test", "--workspace"])
        .args(&args.args)
        .current_dir(&ctx.root)
        .env("FLOTILLA_SKIP_LOG", &log)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Other(format!("cannot run cargo test: {e}")))?;
    let mut totals = Totals::default();
    let mut stdout = std::io::stdout().lock();
    if let Some(out) = child.stdout.take() {
        // Test output is anyone's bytes: read lines as bytes, never stop on invalid UTF-8.
        let mut reader = BufReader::new(out);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim_end_matches('\n');
            totals.add_line(line);
            let _ = writeln!(stdout, "{line}");
            buf.clear();
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Other(format!("cargo test: {e}")))?;
    let skipped = std::fs::read_to_string(&log).unwrap_or_default();
    writeln!(
        stdout,
        "\ntest suite: {} passed, {} failed, {} ignored in {} test binaries{}",
        totals.passed,
        totals.failed,
        totals.ignored,
        totals.binaries,
        if status.success() {
            ""
        } else {
            " (cargo test failed; with a build error or an early stop there are fewer)"
        }
    )?;
    writeln!(stdout, "{}", skipped_line(&skipped))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        _ => ExitCode::from(flotilla_plan::exit::ERROR),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_summed() {
        let mut t = Totals::default();
        assert!(t.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.2s"));
        assert!(t.add_line("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 4 filtered out; finished in 1s"));
        assert!(!t.add_line("test foo ... ok"));
        assert_eq!(
            t,
            Totals {
                binaries: 2,
                passed: 15,
                failed: 2,
                ignored: 1
            }
        );
    }

    #[test]
    fn skips_are_named_once_per_reason() {
        assert_eq!(skipped_line(""), "skipped checks: none");
        let line = skipped_line(
            "a\t`promtool` is not installed\nb\t`promtool` is not installed\nc\tno reference data\n",
        );
        assert!(line.starts_with("skipped checks: 3 did not run"), "{line}");
        assert!(
            line.contains("`promtool` is not installed [a, b]; no reference data [c]"),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1);
    }
}
