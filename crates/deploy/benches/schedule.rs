//! Deploy scheduling: how close the engine's wall time comes to the step graph's critical path.
//!
//! The real engine ([`flotilla_deploy::deploy`]) runs over the recording stand-ins for
//! terraform/helm/kubectl and the in-memory AWS and Kubernetes fakes of the integration tests.
//! Each stand-in call sleeps for a duration in the proportions of a real deploy (EKS cluster
//! and node groups 14 min per cluster module apply, a Helm release 1 min, ...), scaled down to
//! `--ms-per-minute` (default 100 ms per real minute: at 20 ms the stand-ins' own process
//! starts saturate 2 cores on the 20-cluster platform, and the figure measures that machine).
//!
//! For each run the critical path is the longest path through the step graph, each step
//! weighted with its own duration as measured in that run's journal; wall time is the whole
//! `deploy` call, of which the setup before the first step (tool checks, input hashes) is real
//! time that does not scale. `(wall - setup) / critical` is then the scheduling overhead
//! (target at most 1.05), and a `--jobs 1` run gives the speed-up of running in parallel.
//! `FLOTILLA_BENCH_EXPLAIN=1` prints each run's critical path with how long each step on it
//! waited after its last need ended.
//!
//! `cargo bench -p flotilla-deploy --bench schedule [-- --runs N --ms-per-minute MS --only NAME]`
//! (`--only 200` adds a synthetic platform of 200 clusters, at the default jobs only)
//! (`FLOTILLA_BENCH_RUNS` and `FLOTILLA_BENCH_MS_PER_MINUTE` work too). Without `--bench`
//! (as `cargo test --benches` runs it) it does nothing.

#[path = "../tests/deploy/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_deploy::journal::{self, Journal};
use flotilla_deploy::runner::table;
use flotilla_deploy::{DeployArgs, Timeouts, deploy};
use flotilla_model::{Platform, Versions};
use flotilla_plan::Target;
use flotilla_plan::Work;
use flotilla_plan::graph::{Graph, GraphInputs, GraphOptions, deploy_graph};
use support::{Behaviour, FakeAws, FakeKube, StandIns};

/// Real minutes per stand-in call, first match wins (bash globs over `<tool> <args...>`).
const MINUTES: &[(&str, f64)] = &[
    // The state bucket and its lock table.
    ("terraform -chdir=infra/bootstrap apply *", 0.5),
    // A workload's link: peering (or attachment), routes, zone association, one policy.
    ("terraform -chdir=infra/*/link apply *", 1.0),
    // A cluster module: EKS control plane ~10 min, then its node groups ~4 min, in one apply.
    ("terraform * apply *", 14.0),
    ("terraform * init *", 0.3),
    ("terraform * plan *", 0.5),
    ("terraform * show *", 0.2),
    ("terraform * output *", 0.2),
    // `--atomic --wait`: until the release's workloads are ready.
    ("helm upgrade --install *", 1.0),
    // CRD bundles: server-side apply, then wait until established.
    ("kubectl apply *", 0.2),
    ("kubectl wait *", 0.2),
];

struct Options {
    runs: usize,
    ms_per_minute: f64,
    only: Option<String>,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let env = |k: &str| std::env::var(k).ok();
        let mut o = Options {
            runs: env("FLOTILLA_BENCH_RUNS").map_or(Ok(3), |v| {
                v.parse().map_err(|e| format!("FLOTILLA_BENCH_RUNS: {e}"))
            })?,
            ms_per_minute: env("FLOTILLA_BENCH_MS_PER_MINUTE").map_or(Ok(100.0), |v| {
                v.parse()
                    .map_err(|e| format!("FLOTILLA_BENCH_MS_PER_MINUTE: {e}"))
            })?,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--runs" => {
                    o.runs = value("--runs")?
                        .parse()
                        .map_err(|e| format!("--runs: {e}"))?
                }
                "--ms-per-minute" => {
                    o.ms_per_minute = value("--ms-per-minute")?
                        .parse()
                        .map_err(|e| format!("--ms-per-minute: {e}"))?
                }
                "--only" => o.only = Some(value("--only")?),
                // What cargo passes (`--bench`, a filter): nothing to do with them.
                _ => {}
            }
        }
        if o.runs == 0 || o.ms_per_minute <= 0.0 {
            return Err("--runs and --ms-per-minute must be positive".into());
        }
        Ok(o)
    }
}

struct Scenario {
    name: &'static str,
    platform: Platform,
    target: &'static str,
    with_dependencies: bool,
}

/// One measured run.
struct Run {
    wall: Duration,
    /// The longest path through the graph, weighted by this run's step durations.
    critical: Duration,
    /// The same, with only the needs inside one cluster (and on the state bucket and
    /// preflight): the slowest single cluster's creation, link and releases on their own.
    single: Duration,
    /// From the call into `deploy` to the journal's start: tool checks, input hashes.
    setup: Duration,
    /// CPU time of this process (the engine) and of the stand-ins it ran.
    cpu_engine: Duration,
    cpu_tools: Duration,
}

fn main() -> ExitCode {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "schedule: a benchmark; run it with `cargo bench -p flotilla-deploy --bench schedule`"
        );
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("schedule: {e}");
            return ExitCode::FAILURE;
        }
    };
    let synth = match synthetic(19, 20) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("schedule: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scenarios = [
        Scenario {
            name: "seed: deploy all",
            platform: support::seed(),
            target: "all",
            with_dependencies: false,
        },
        Scenario {
            name: "seed: deploy production --with-dependencies",
            platform: support::seed(),
            target: "production",
            with_dependencies: true,
        },
        Scenario {
            name: "synthetic 20 clusters: deploy all",
            platform: synth,
            target: "all",
            with_dependencies: false,
        },
    ];
    // 200 clusters only when asked for (`--only 200`): one run takes minutes, at the default
    // jobs only (sequentially it would take an hour).
    let big = options.only.as_deref().is_some_and(|o| o.contains("200"));
    let mut scenarios = scenarios.into_iter().collect::<Vec<_>>();
    if big {
        match synthetic(199, 20) {
            Ok(p) => scenarios.push(Scenario {
                name: "synthetic 200 clusters: deploy all",
                platform: p,
                target: "all",
                with_dependencies: false,
            }),
            Err(e) => {
                eprintln!("schedule: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "deploy scheduling: {} runs each, 1 real minute = {} ms; stand-in minutes per call: {}",
        options.runs,
        options.ms_per_minute,
        MINUTES
            .iter()
            .map(|(p, m)| format!("`{p}` {m}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rows = Vec::new();
    for s in &scenarios {
        if options.only.as_deref().is_some_and(|o| !s.name.contains(o)) {
            continue;
        }
        let graph = graph_of(s);
        let steps = graph.steps().len();
        // Enough jobs that only the graph bounds parallelism; the default for the platform;
        // sequential. Terraform stays at most 8 at once per account and region in all three.
        let mut by_jobs = Vec::new();
        let default = flotilla_plan::default_jobs(&s.platform);
        let jobs_list = if s.platform.clusters.len() > 100 {
            vec![default]
        } else {
            vec![steps, default, 1]
        };
        for jobs in jobs_list {
            let runs: Vec<Run> = (0..options.runs)
                .map(|_| measure(s, &graph, jobs, options.ms_per_minute))
                .collect();
            eprintln!(
                "{} --jobs {jobs}: wall {}",
                s.name,
                runs.iter()
                    .map(|r| format!("{:.3}s", r.wall.as_secs_f64()))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            by_jobs.push((jobs, runs));
        }
        let sequential = by_jobs
            .iter()
            .find(|(j, _)| *j == 1)
            .map(|(_, runs)| median(runs.iter().map(|r| r.wall.as_secs_f64()).collect()));
        for (jobs, runs) in &by_jobs {
            let secs = |f: &dyn Fn(&Run) -> Duration| -> Vec<f64> {
                runs.iter().map(|r| f(r).as_secs_f64()).collect()
            };
            let wall = secs(&|r| r.wall);
            let ratio: Vec<f64> = runs
                .iter()
                .map(|r| (r.wall - r.setup).as_secs_f64() / r.critical.as_secs_f64())
                .collect();
            let whole: Vec<f64> = runs
                .iter()
                .map(|r| r.wall.as_secs_f64() / r.critical.as_secs_f64())
                .collect();
            rows.push([
                s.name.to_string(),
                steps.to_string(),
                if *jobs == steps {
                    format!("{jobs} (all)")
                } else {
                    jobs.to_string()
                },
                spread(&wall, 2),
                format!("{:.3}", median(secs(&|r| r.setup))),
                format!(
                    "{:.2} + {:.2}",
                    median(secs(&|r| r.cpu_engine)),
                    median(secs(&|r| r.cpu_tools))
                ),
                format!("{:.2}", median(secs(&|r| r.critical))),
                spread(&ratio, 3),
                format!("{:.3}", median(whole)),
                format!("{:.2}", median(secs(&|r| r.single))),
                spread(
                    &runs
                        .iter()
                        .map(|r| r.wall.as_secs_f64() / r.single.as_secs_f64())
                        .collect::<Vec<_>>(),
                    3,
                ),
                sequential.map_or("-".to_string(), |q| format!("{:.2}x", q / median(wall))),
            ]);
        }
    }
    println!(
        "\nWALL: the whole `deploy` call. SETUP: its part before the first step (tool checks, input\n\
         hashes; real time, not scaled). CPU: this process's and the stand-ins' (2 cores here). CRITICAL: the longest path through the step graph, each\n\
         step weighted by its duration in the same run. RUN/CRITICAL: (WALL - SETUP) / CRITICAL,\n\
         the scheduling overhead (target <= 1.05). SINGLE: the longest path counting only needs\n\
         within one cluster (and the shared state bucket and preflight): the slowest cluster's\n\
         creation, link and releases on their own; WALL/SINGLE is the target <= 1.15 of a first\n\
         `deploy all`. SEQUENTIAL/WALL: median --jobs 1 wall over this\n\
         median wall.\n"
    );
    print!(
        "{}",
        table(
            &[
                "PLATFORM / COMMAND",
                "STEPS",
                "JOBS",
                "WALL s (min/med/max)",
                "SETUP s",
                "CPU s ENGINE + TOOLS",
                "CRITICAL s",
                "RUN/CRITICAL (min/med/max)",
                "WALL/CRITICAL",
                "SINGLE s",
                "WALL/SINGLE (min/med/max)",
                "SEQUENTIAL/WALL",
            ],
            &rows
        )
    );
    ExitCode::SUCCESS
}

/// 19 workload clusters and the controlplane, from `cargo xtask bench synth`.
fn synthetic(clusters: usize, apps: usize) -> Result<Platform, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("synthetic.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["xtask", "bench", "synth", "--clusters"])
        .arg(clusters.to_string())
        .arg("--apps")
        .arg(apps.to_string())
        .arg("--out")
        .arg(&file)
        .current_dir(support::repo_root())
        .status()
        .map_err(|e| format!("{cargo}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo xtask bench synth --clusters {clusters} --apps {apps}` failed ({status})"
        ));
    }
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    flotilla_model::load("synthetic.toml", &text, &Versions::embedded())
        .map_err(|e| format!("the synthetic platform does not load: {e:?}"))
}

fn graph_of(s: &Scenario) -> Graph {
    let target = Target::parse(&s.platform, s.target).expect("known target");
    deploy_graph(
        &s.platform,
        &GraphInputs::from_platform(&s.platform),
        &target,
        GraphOptions {
            with_dependencies: s.with_dependencies,
        },
    )
    .expect("a valid graph")
}

fn behaviour(ms_per_minute: f64) -> Behaviour {
    Behaviour {
        durations: MINUTES
            .iter()
            .map(|(p, m)| (p.to_string(), m * ms_per_minute / 1000.0))
            .collect(),
        // Anything else (none expected) takes a tenth of a minute.
        sleep: 0.1 * ms_per_minute / 1000.0,
        ..Behaviour::default()
    }
}

fn measure(s: &Scenario, graph: &Graph, jobs: usize, ms_per_minute: f64) -> Run {
    let p = &s.platform;
    let repo = support::scratch_repo(p);
    let stand = StandIns::new(repo.path(), &behaviour(ms_per_minute));
    // A fresh account: the state bucket is created, so the bootstrap applies too.
    let aws = FakeAws {
        secrets: p
            .observability
            .receivers
            .iter()
            .map(|r| (r.credentials_secret.clone(), "secret-value".to_string()))
            .collect(),
        missing_buckets: [p.state_bucket.clone()].into(),
        ..FakeAws::default()
    };
    let io = support::io(aws, Arc::new(FakeKube::default()), stand.tools());
    let mut args = DeployArgs::new(s.target);
    args.yes = true;
    args.jobs = jobs;
    args.with_dependencies = s.with_dependencies;
    // The scratch repository is no git checkout; protected clusters are deployed anyway.
    args.allow_dirty_protected = true;
    // Waits poll every 5 s in real time: scaled like the tools (the timeouts are not, so a
    // wait that never ends shows as a failure, not as a fast run).
    args.timeouts = Timeouts {
        poll: Duration::from_secs_f64(5.0 / 60.0 * ms_per_minute / 1000.0),
        ..Timeouts::default()
    };
    let mut out = Vec::new();
    let cpu_before = cpu_ticks();
    let start = Instant::now();
    let code = deploy(repo.path(), p, &args, &io, &mut out).expect("deploy runs");
    let wall = start.elapsed();
    let cpu = cpu_ticks().map(|(a, b)| {
        (
            a - cpu_before.map_or(0, |c| c.0),
            b - cpu_before.map_or(0, |c| c.1),
        )
    });
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let j = latest(repo.path(), s.target);
    let run_span = since(&j.started, j.finished.as_deref().expect("finished"));
    if std::env::var_os("FLOTILLA_BENCH_EXPLAIN").is_some() {
        explain(graph, &j);
    }
    // /proc counts in USER_HZ, 100 on Linux.
    let (engine, tools) = cpu.unwrap_or_default();
    Run {
        wall,
        cpu_engine: Duration::from_millis(engine * 10),
        cpu_tools: Duration::from_millis(tools * 10),
        critical: critical_path(graph, &j, None),
        single: critical_path(graph, &j, Some(&s.platform)),
        setup: wall.saturating_sub(run_span),
    }
}

/// Prints each step of the critical path with how long after its last need it started.
fn explain(graph: &Graph, j: &Journal) {
    let t0: jiff::Timestamp = j.started.parse().expect("journal timestamp");
    let at = |s: &str| {
        let t: jiff::Timestamp = s.parse().expect("journal timestamp");
        t.duration_since(t0).as_secs_f64() * 1000.0
    };
    let mut path = Vec::new();
    let mut cur = graph.steps().iter().max_by_key(|s| {
        let r = j.step(&s.id).unwrap();
        (at(r.started.as_deref().unwrap()) as u64) + r.duration_ms.unwrap()
    });
    while let Some(s) = cur {
        path.push(s);
        cur = s.needs.iter().filter_map(|n| graph.get(n)).max_by_key(|n| {
            let r = j.step(&n.id).unwrap();
            (at(r.started.as_deref().unwrap()) as u64) + r.duration_ms.unwrap()
        });
    }
    let total: u64 = j.steps.iter().filter_map(|r| r.duration_ms).sum();
    eprintln!(
        "  sum of step durations: {total} ms over {} steps",
        j.steps.len()
    );
    for s in path.iter().rev() {
        let r = j.step(&s.id).unwrap();
        let start = at(r.started.as_deref().unwrap());
        let ready = s
            .needs
            .iter()
            .map(|n| {
                let r = j.step(n).unwrap();
                at(r.started.as_deref().unwrap()) + r.duration_ms.unwrap() as f64
            })
            .fold(0.0, f64::max);
        eprintln!(
            "  {:>8.0} ms  +{:>4.0} ms  {:>6} ms  {}",
            start,
            start - ready,
            r.duration_ms.unwrap(),
            s.id
        );
    }
}

fn latest(root: &Path, target: &str) -> Journal {
    journal::latest(root, "deploy", target)
        .expect("journal readable")
        .expect("a journal")
        .1
}

fn since(from: &str, to: &str) -> Duration {
    let t = |s: &str| s.parse::<jiff::Timestamp>().expect("journal timestamp");
    let d = t(to).duration_since(t(from));
    Duration::try_from(d).unwrap_or_default()
}

/// The cluster a step works on (a link module's is its workload's); `None` for the state
/// bucket and the preflight checks every cluster shares.
fn step_cluster<'a>(platform: &Platform, work: &'a Work) -> Option<&'a str> {
    match work {
        Work::Terraform { module, .. } => Some(flotilla_terraform::cluster_of_module(module))
            .filter(|m| platform.cluster(m).is_some()),
        w => w.cluster(),
    }
}

/// The longest path through the graph, each step weighted by its duration in the journal.
/// With `within`, a need counts only where it is on the same cluster as the step (or shared):
/// the longest path of one cluster deployed on its own.
fn critical_path(graph: &Graph, j: &Journal, within: Option<&Platform>) -> Duration {
    let mut finish: BTreeMap<&str, u64> = BTreeMap::new();
    // Steps are in topological order.
    for s in graph.steps() {
        let own = j
            .step(&s.id)
            .and_then(|r| r.duration_ms)
            .expect("every step ran");
        let start = s
            .needs
            .iter()
            .filter(|n| {
                within.is_none_or(|p| {
                    let need = step_cluster(p, &graph.get(n).expect("in the graph").work);
                    need.is_none() || need == step_cluster(p, &s.work)
                })
            })
            .map(|n| finish[n.as_str()])
            .max()
            .unwrap_or(0);
        finish.insert(s.id.as_str(), start + own);
    }
    Duration::from_millis(finish.values().copied().max().unwrap_or(0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64], decimals: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{min:.decimals$} / {:.decimals$} / {max:.decimals$}",
        median(v.to_vec())
    )
}

/// CPU time in clock ticks: this process (user + system), its waited-for children (the
/// stand-ins).
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(") ")?.1;
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    Some((f[0] + f[1], f[2] + f[3]))
}
