//! `cargo xtask bench`: performance measurements that print a table (docs/performance.md).
//!
//! - `bench synth`: write a synthetic platform of N workload clusters (plus the controlplane),
//!   each running M applications, so the scale benchmarks never use hand-written files.
//! - `bench diff-loop`: the edit-diff loop as a user runs it: `cargo xtask diff <env>` through
//!   cargo (its freshness check included), with nothing changed and after a one-line change to
//!   the platform (a copy of platform.toml with one quota changed, passed with `--platform`).
//! - `bench render`: load + validate + render every artifact for synthetic platforms of several
//!   sizes. Each run is a fresh child process (`bench render-once`) so that its peak memory
//!   (VmHWM from /proc/self/status, Linux) is its own; wall time is measured inside the child
//!   around load, validation and rendering. Prints min/median/max per size and the fitted
//!   growth exponent (log-log least squares; 1.0 is linear).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use flotilla_generate::render_all;
use flotilla_model::Versions;

use crate::platform::{Context, Error};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BenchCommand {
    /// Write a synthetic platform.toml.
    Synth {
        /// Number of workload clusters (a controlplane is added).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        clusters: u32,
        /// Applications, each in every environment with one route.
        #[arg(long, default_value_t = 20)]
        apps: usize,
        /// Where to write it (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Time load + validate + render for synthetic platforms of several sizes.
    Render {
        /// Workload cluster counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
        sizes: Vec<usize>,
        /// Applications per platform.
        #[arg(long, default_value_t = 20)]
        apps: usize,
        /// Runs per size (each in a fresh process).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Time `cargo xtask diff <env>` end to end, unchanged and after a one-line edit.
    DiffLoop {
        /// Environment to diff.
        #[arg(long, default_value = "production")]
        env: String,
        /// Runs per case.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// One measured run (used by `bench render`): prints `nanos peak_kib files bytes`.
    #[command(hide = true)]
    RenderOnce {
        #[arg(long)]
        file: PathBuf,
    },
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    match &args.command {
        BenchCommand::Synth {
            clusters,
            apps,
            out,
        } => {
            let text = flotilla_testkit::synthetic::platform(*clusters as usize, *apps);
            match out {
                Some(path) => std::fs::write(path, text)
                    .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::RenderOnce { file } => {
            let (nanos, files, bytes) = render_once(file)?;
            println!("{nanos} {} {files} {bytes}", peak_rss_kib());
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Render { sizes, apps, runs } => render_table(ctx, sizes, *apps, *runs),
        BenchCommand::DiffLoop { env, runs } => diff_loop(ctx, env, *runs),
    }
}

/// Runs `cargo xtask [--platform FILE] diff ENV` `runs` times; returns wall milliseconds and
/// checks every run exits with `expected` (0 unchanged, 2 changed).
fn time_cargo_diff(
    ctx: &Context,
    platform: Option<&Path>,
    env: &str,
    runs: usize,
    expected: i32,
) -> Result<Vec<f64>, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut out = Vec::new();
    for _ in 0..runs.max(1) {
        let mut cmd = Command::new(&cargo);
        cmd.arg("xtask");
        if let Some(p) = platform {
            cmd.arg("--platform").arg(p);
        }
        cmd.args(["diff", env]).current_dir(&ctx.root);
        let start = Instant::now();
        let o = cmd
            .output()
            .map_err(|e| Error::Other(format!("cannot run cargo: {e}")))?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if o.status.code() != Some(expected) {
            return Err(Error::Other(format!(
                "`cargo xtask diff {env}` exited with {:?}, expected {expected}:\n{}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            )));
        }
        out.push(ms);
    }
    Ok(out)
}

fn diff_loop(ctx: &Context, env: &str, runs: usize) -> Result<ExitCode, Error> {
    let platform = ctx.load()?;
    crate::platform::check_target(&platform, env, false)?;
    // Warm-up: make sure the build is fresh, so the runs measure the loop, not a compile.
    time_cargo_diff(ctx, None, env, 1, 0)?;
    let mut unchanged = time_cargo_diff(ctx, None, env, runs, 0)?;
    let source = std::fs::read_to_string(&ctx.platform_file)
        .map_err(|e| Error::Other(format!("{}: {e}", ctx.platform_file.display())))?;
    let edited = one_line_edit(&source, env).ok_or_else(|| {
        Error::Other(format!(
            "found no `{env} = {{ cpu = ... }}` quota line to change in the platform"
        ))
    })?;
    let dir = ctx.root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Other(e.to_string()))?;
    let copy = dir.join("platform-edited.toml");
    std::fs::write(&copy, edited).map_err(|e| Error::Other(e.to_string()))?;
    let mut changed = time_cargo_diff(ctx, Some(&copy), env, runs, 2)?;
    let (a, b, c) = stats(&mut unchanged);
    let (d, e, f) = stats(&mut changed);
    println!("| case | runs | wall ms min / median / max |");
    println!("|---|---:|---|");
    println!("| `cargo xtask diff {env}`, nothing changed | {runs} | {a:.0} / {b:.0} / {c:.0} |");
    println!("| after a one-line change to the platform | {runs} | {d:.0} / {e:.0} / {f:.0} |");
    Ok(ExitCode::SUCCESS)
}

/// The platform text with the first pod quota of `env` raised by one: a one-line change that
/// alters the rendered output of that environment.
fn one_line_edit(source: &str, env: &str) -> Option<String> {
    let prefix = format!("{env} = {{");
    let mut done = false;
    let lines: Vec<String> = source
        .lines()
        .map(|l| {
            if done || !l.trim_start().starts_with(&prefix) {
                return l.to_string();
            }
            let Some(at) = l.find("pods = ") else {
                return l.to_string();
            };
            let rest = &l[at + 7..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let Ok(n) = digits.parse::<u32>() else {
                return l.to_string();
            };
            done = true;
            format!("{}pods = {}{}", &l[..at], n + 1, &rest[digits.len()..])
        })
        .collect();
    done.then(|| lines.join("\n") + "\n")
}

/// Reads, loads, validates and renders one platform file; returns (nanoseconds, files, bytes).
fn render_once(file: &Path) -> Result<(u128, usize, usize), Error> {
    let start = Instant::now();
    let source = std::fs::read_to_string(file)
        .map_err(|e| Error::Other(format!("{}: {e}", file.display())))?;
    let platform =
        flotilla_model::load(&file.display().to_string(), &source, &Versions::embedded())
            .map_err(|e| Error::Invalid(Box::new(e)))?;
    let rendered = render_all(&platform);
    let nanos = start.elapsed().as_nanos();
    let bytes = rendered.files.values().map(String::len).sum();
    Ok((nanos, rendered.files.len(), bytes))
}

/// Peak resident set size of this process in KiB (0 where /proc is unavailable).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

struct Sample {
    millis: f64,
    peak_mib: f64,
    files: usize,
    bytes: usize,
}

fn render_table(
    ctx: &Context,
    sizes: &[usize],
    apps: usize,
    runs: usize,
) -> Result<ExitCode, Error> {
    let dir = ctx.root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| Error::Other(format!("{}: {e}", dir.display())))?;
    let exe = std::env::current_exe().map_err(|e| Error::Other(e.to_string()))?;
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| workload clusters | apps | files | MB written | wall ms min / median / max | peak RSS MiB min / median / max |"
    );
    let _ = writeln!(table, "|---:|---:|---:|---:|---|---|");
    let mut fit_points = Vec::new();
    for &n in sizes {
        let file = dir.join(format!("platform-{n}x{apps}.toml"));
        std::fs::write(&file, flotilla_testkit::synthetic::platform(n, apps))
            .map_err(|e| Error::Other(format!("{}: {e}", file.display())))?;
        let mut samples = Vec::new();
        for run in 0..runs.max(1) {
            let out = Command::new(&exe)
                .args(["bench", "render-once", "--file"])
                .arg(&file)
                .output()
                .map_err(|e| Error::Other(format!("cannot run {}: {e}", exe.display())))?;
            if !out.status.success() {
                return Err(Error::Other(format!(
                    "render of {} failed:\n{}",
                    file.display(),
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
            let text = String::from_utf8_lossy(&out.stdout);
            let v: Vec<u128> = text
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            if v.len() != 4 {
                return Err(Error::Other(format!("unexpected bench output: {text}")));
            }
            let s = Sample {
                millis: v[0] as f64 / 1e6,
                peak_mib: v[1] as f64 / 1024.0,
                files: v[2] as usize,
                bytes: v[3] as usize,
            };
            eprintln!(
                "size {n:>5} run {}/{}: {:>9.1} ms, {:>7.1} MiB",
                run + 1,
                runs,
                s.millis,
                s.peak_mib
            );
            samples.push(s);
        }
        let mut ms: Vec<f64> = samples.iter().map(|s| s.millis).collect();
        let mut mem: Vec<f64> = samples.iter().map(|s| s.peak_mib).collect();
        let (t_min, t_med, t_max) = stats(&mut ms);
        let (m_min, m_med, m_max) = stats(&mut mem);
        fit_points.push((n as f64, t_med, m_med));
        let _ = writeln!(
            table,
            "| {n} | {apps} | {} | {:.1} | {t_min:.1} / {t_med:.1} / {t_max:.1} | {m_min:.1} / {m_med:.1} / {m_max:.1} |",
            samples[0].files,
            samples[0].bytes as f64 / 1e6
        );
    }
    println!("{table}");
    if fit_points.len() >= 2 {
        let time_exp = growth_exponent(fit_points.iter().map(|(n, t, _)| (*n, *t)));
        println!(
            "fitted growth of wall time: n^{time_exp:.2} over sizes {:?} (1.00 is linear)",
            sizes
        );
        // Memory has a constant floor (the binary, the embedded data); fit what grows.
        let floor = fit_points.first().map_or(0.0, |p| p.2);
        let mem_exp = growth_exponent(
            fit_points
                .iter()
                .skip(1)
                .map(|(n, _, m)| (*n, (m - floor).max(0.01))),
        );
        println!("fitted growth of peak memory above the smallest size: n^{mem_exp:.2}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Sorts and returns (min, median, max).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (v[0], median, v[v.len() - 1])
}

/// Least-squares slope of log(y) against log(x): y ~ x^k.
fn growth_exponent(points: impl Iterator<Item = (f64, f64)>) -> f64 {
    let pts: Vec<(f64, f64)> = points.map(|(x, y)| (x.ln(), y.ln())).collect();
    let n = pts.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_line_edit_changes_exactly_one_line() {
        let src = "[x]\nproduction = { cpu = \"1\", memory = \"1Gi\", pods = 9 }\nproduction = { pods = 3 }\n";
        let out = one_line_edit(src, "production").unwrap();
        assert_eq!(
            out,
            "[x]\nproduction = { cpu = \"1\", memory = \"1Gi\", pods = 10 }\nproduction = { pods = 3 }\n"
        );
        assert_eq!(one_line_edit(src, "staging"), None);
    }

    #[test]
    fn growth_exponent_recovers_known_powers() {
        let linear = growth_exponent([1.0, 10.0, 100.0].into_iter().map(|x| (x, 3.0 * x)));
        assert!((linear - 1.0).abs() < 1e-9, "{linear}");
        let quad = growth_exponent([1.0, 10.0, 100.0].into_iter().map(|x| (x, x * x)));
        assert!((quad - 2.0).abs() < 1e-9, "{quad}");
    }

    #[test]
    fn stats_are_min_median_max() {
        assert_eq!(stats(&mut [3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(stats(&mut [4.0, 1.0, 2.0, 3.0]), (1.0, 2.5, 4.0));
    }
}
