//! Mutation fuzzing of the loader and the renderers, with `generate`'s contract as the oracle:
//! whatever `flotilla_model::load` accepts, every consumer accepts; whatever it rejects, it
//! rejects with every error located; nothing panics, on any bytes.
//!
//! Seeds are the repository's `platform.toml` and every fixture platform. A case applies one to
//! three mutations to a seed: a value replaced by one of a dictionary of awkward values (huge
//! and negative numbers, dates, arrays, reserved words, invisible characters, bad durations and
//! PromQL, long strings), a line deleted, duplicated, moved or inserted, the text truncated, or
//! bytes inserted (non-UTF-8 included). Oracle:
//!
//! - **no panic** in `load_bytes`, the capacity plan, or either renderer;
//! - **rejection located**: every diagnostic's span lies in the source, its message is one
//!   short line, and the rendered report never echoes a line longer than the source's own;
//! - **acceptance renders valid output**: every manifest object of the Helm render validates
//!   against the Kubernetes schemas of its cluster's version (strict) or its pinned CRD, every
//!   cluster's rule groups pass `promtool check rules` and the Alertmanager configuration
//!   `amtool check-config` (both run once, over every accepted case, at the end).
//!
//! `FLOTILLA_FUZZ_CASES` sets the number of cases (default 2,000, about 35 s on 2 cores; 256
//! under `FLOTILLA_FAST=1` outside CI);
//! `FLOTILLA_FUZZ_SEED` a fixed RNG seed to replay a run (under `CI=true` the seed is 1, so
//! CI runs the same cases every time; elsewhere each run draws new ones). A finding is kept as a case of
//! `crates/model/tests/invalid/` (or a valid fixture) and fixed there.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use flotilla_model::{Versions, load_bytes};
use flotilla_testkit::crd_schema::CrdSet;
use flotilla_testkit::kube_schema::KubeSchemas;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Values a mutation puts where a value was.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "65536",
    "9223372036854775807",
    "99999999999999999999999",
    "1e308",
    "nan",
    "true",
    "1979-05-27",
    "1979-05-27T07:32:00Z",
    "[]",
    "[\"a\", \"a\"]",
    "{}",
    "\"\"",
    "\" \"",
    "\"a\"",
    "\"all\"",
    "\"controlplane\"",
    "\"bootstrap\"",
    "\"kube-system\"",
    "\"nginx-gateway\"",
    "\"observability\"",
    "\"Prod_1\"",
    "\"a..b\"",
    "\"-x-\"",
    "\"x\\u200by\"",
    "\"line\\u2028separator\"",
    "\"tab\\there\"",
    "\"new\\nline\"",
    "\"🦀\"",
    "\"0.0.0.0/0\"",
    "\"0.0.0.0/1\"",
    "\"128.0.0.0/1\"",
    "\"10.0.0.0/8\"",
    "\"10.0.0.0/33\"",
    "\"300.1.1.1/16\"",
    "\"5m\"",
    "\"0s\"",
    "\"1h30m\"",
    "\"30m1h\"",
    "\"1m1m\"",
    "\"999999999999y\"",
    "\"rate(x[5m]) > 0.8\"",
    "\"sum(rate(x[5m])\"",
    "\"{{ .Labels.x \"",
    "\"{{ $labels.instance }}\"",
    "\"m6i.xlarge\"",
    "\"m6i\"",
    "\"foo.bar\"",
    "\"/\"",
    "\"/a/../b\"",
    "\"/a#frag\"",
    "\"/é\"",
    "\"arn:aws:iam::123456789012:role/Team Role\"",
    "\"xoxb-123456789012-abcdefghijkl\"",
    "\"AKIAABCDEFGHIJKLMNOP\"",
    "\"1.34\"",
    "\"1.99\"",
    "\"eu-west-1\"",
    "\"mars-north-1\"",
    // Replaced by a string of 3,000 characters.
    "LONG",
];

/// Lines a mutation inserts.
const LINES: &[&str] = &[
    "[[clusters]]",
    "[[applications]]",
    "[observability]",
    "unknown = 1",
    "name = \"x\"",
    "protected = true",
    "public_cidrs = [\"0.0.0.0/1\", \"128.0.0.0/1\"]",
    "taints = [{ key = \"a\", value = \"b\", effect = \"NoSchedule\" }, { key = \"a\", value = \"c\", effect = \"NoSchedule\" }]",
    "[[observability.alerts]]",
    "expr = \"up == 0\"",
    "for = \"5m\"",
    "summary = \"{{ .Labels.x \"",
    "runbook_url = \"https://example.org/{{\"",
    "= 1",
    "x = ",
    "\"",
    "[",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// The same, with a value of the same TOML type (a string for a string, a number for a
    /// number): what still parses, to reach the checks behind the parser.
    SameType {
        line: usize,
        value: usize,
    },
    /// Replace the value of the n-th `key = value` line.
    Value {
        line: usize,
        value: usize,
    },
    /// A copy of a workload cluster under a new name, environment and VPC: a platform that
    /// grows, which stays valid more often than the other mutations.
    Grow {
        which: usize,
        n: u8,
    },
    Delete {
        line: usize,
    },
    Duplicate {
        line: usize,
    },
    Move {
        from: usize,
        to: usize,
    },
    Insert {
        at: usize,
        line: usize,
    },
    Truncate {
        at: usize,
    },
    Bytes {
        at: usize,
        bytes: Vec<u8>,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = 100_000usize;
    prop_oneof![
        3 => (0..n, 0..VALUES.len()).prop_map(|(line, value)| Mutation::Value { line, value }),
        8 => (0..n, 0..VALUES.len()).prop_map(|(line, value)| Mutation::SameType { line, value }),
        3 => (0..n, 0u8..50).prop_map(|(which, n)| Mutation::Grow { which, n }),
        1 => (0..n).prop_map(|line| Mutation::Delete { line }),
        1 => (0..n).prop_map(|line| Mutation::Duplicate { line }),
        1 => (0..n, 0..n).prop_map(|(from, to)| Mutation::Move { from, to }),
        2 => (0..n, 0..LINES.len()).prop_map(|(at, line)| Mutation::Insert { at, line }),
        1 => (0..n).prop_map(|at| Mutation::Truncate { at }),
        1 => (0..n, prop::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(at, bytes)| Mutation::Bytes { at, bytes }),
    ]
}

fn apply(source: &[u8], m: &Mutation) -> Vec<u8> {
    let text = String::from_utf8_lossy(source).into_owned();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let len = lines.len();
    match m {
        Mutation::SameType { line, value } => {
            let kind = |v: &str| match v.trim().chars().next() {
                Some('"') => 's',
                Some('[') => 'a',
                Some(c) if c.is_ascii_digit() || c == '-' => 'n',
                Some('t' | 'f') => 'b',
                _ => '?',
            };
            let candidates: Vec<usize> = (0..len)
                .filter(|i| {
                    let l = lines[*i].trim_start();
                    !l.starts_with('#') && !l.starts_with('[') && l.contains(" = ")
                })
                .collect();
            if let Some(&i) = candidates.get(line % candidates.len().max(1)) {
                let (key, old) = lines[i].split_once(" = ").unwrap_or(("", ""));
                let want = kind(old);
                let same: Vec<&str> = VALUES
                    .iter()
                    .copied()
                    .filter(|v| kind(v) == want || (want == 's' && *v == "LONG"))
                    .collect();
                if let Some(v) = same.get(value % same.len().max(1)) {
                    let v = match *v {
                        "LONG" => format!("\"{}\"", "a-".repeat(1500)),
                        v => v.to_string(),
                    };
                    lines[i] = format!("{key} = {v}");
                }
            }
        }
        Mutation::Value { line, value } => {
            let candidates: Vec<usize> = (0..len)
                .filter(|i| {
                    let l = lines[*i].trim_start();
                    !l.starts_with('#') && !l.starts_with('[') && l.contains(" = ")
                })
                .collect();
            if let Some(&i) = candidates.get(line % candidates.len().max(1)) {
                let key = lines[i].split(" = ").next().unwrap_or("").to_string();
                let v = match VALUES[*value] {
                    "LONG" => format!("\"{}\"", "a-".repeat(1500)),
                    v => v.to_string(),
                };
                lines[i] = format!("{key} = {v}");
            }
        }
        Mutation::Delete { line } => {
            lines.remove(line % len);
        }
        Mutation::Grow { which, n } => {
            // Workload cluster blocks: `[[clusters]]` up to the next table that is not one of
            // the cluster's own (`[clusters.*]`, `[[clusters.*]]`).
            let starts: Vec<usize> = (0..len)
                .filter(|i| lines[*i].trim() == "[[clusters]]")
                .collect();
            let blocks: Vec<(usize, usize)> = starts
                .iter()
                .map(|&a| {
                    let b = (a + 1..len)
                        .find(|i| {
                            let t = lines[*i].trim_start();
                            t.starts_with('[')
                                && !t.starts_with("[clusters.")
                                && !t.starts_with("[[clusters.")
                        })
                        .unwrap_or(len);
                    (a, b)
                })
                .filter(|(a, b)| {
                    lines[*a..*b]
                        .iter()
                        .any(|l| l.trim() == "role = \"workload\"")
                })
                .collect();
            if let Some(&(a, b)) = blocks.get(which % blocks.len().max(1)) {
                let name = format!("grown{n}");
                let mut named = false;
                let copy: Vec<String> = lines[a..b]
                    .iter()
                    .map(|l| {
                        let t = l.trim_start();
                        if t.starts_with("name = ") && !named {
                            named = true;
                            format!("name = \"{name}\"")
                        } else if t.starts_with("environment = ") {
                            format!("environment = \"{name}\"")
                        } else if t.starts_with("vpc_cidr = ") {
                            format!("vpc_cidr = \"10.{}.0.0/16\"", 200 + n)
                        } else if t.starts_with("renamed_from = ") {
                            String::new()
                        } else {
                            l.clone()
                        }
                    })
                    .collect();
                for (k, l) in copy.into_iter().enumerate() {
                    lines.insert(b + k, l);
                }
            }
        }
        Mutation::Duplicate { line } => {
            let l = lines[line % len].clone();
            lines.insert(line % len, l);
        }
        Mutation::Move { from, to } => {
            let l = lines.remove(from % len);
            let at = to % lines.len().max(1);
            lines.insert(at, l);
        }
        Mutation::Insert { at, line } => lines.insert(at % (len + 1), LINES[*line].to_string()),
        Mutation::Truncate { at } => {
            let mut bytes = source.to_vec();
            bytes.truncate(at % (bytes.len() + 1));
            return bytes;
        }
        Mutation::Bytes { at, bytes } => {
            let mut out = source.to_vec();
            let at = at % (out.len() + 1);
            out.splice(at..at, bytes.iter().copied());
            return out;
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out.into_bytes()
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let root = flotilla_testkit::repo_root();
    let mut files: Vec<PathBuf> = vec![
        root.join("crates/testkit/fixtures/seed.toml"),
        root.join("crates/testkit/fixtures/two-envs.toml"),
        root.join("crates/model/tests/invalid/base/platform.toml"),
    ];
    let mut fixtures: Vec<PathBuf> =
        std::fs::read_dir(root.join("crates/terraform/tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
    fixtures.sort();
    files.extend(fixtures);
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// Files of the accepted cases for the tools, and the mutated source of each.
struct ToolCases {
    dir: tempfile::TempDir,
    sources: std::cell::RefCell<Vec<Vec<u8>>>,
}

impl ToolCases {
    /// Writes one accepted platform's rule groups (per cluster) and Alertmanager configuration.
    fn add(&self, platform: &flotilla_model::Platform, bytes: &[u8]) {
        let mut sources = self.sources.borrow_mut();
        let i = sources.len();
        sources.push(bytes.to_vec());
        for c in &platform.clusters {
            let groups = serde_json::to_value(flotilla_helm::rule_groups(platform, c)).unwrap();
            let f = self.dir.path().join(format!("rules-{i}-{}.yaml", c.name));
            std::fs::write(f, serde_norway::to_string(&groups).unwrap()).unwrap();
        }
        let config = serde_json::to_value(flotilla_helm::alertmanager_config(platform)).unwrap();
        let f = self.dir.path().join(format!("alertmanager-{i}.yaml"));
        std::fs::write(f, serde_norway::to_string(&config).unwrap()).unwrap();
    }

    /// Runs promtool and amtool over every file; the first refused one, with its source.
    fn run(&self) -> Result<usize, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let source_of = |f: &std::path::Path| -> String {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let i: usize = name
                .split(['-', '.'])
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            String::from_utf8_lossy(&self.sources.borrow()[i]).into_owned()
        };
        let mut checked = 0;
        for (tool, hint, prefix, args) in [
            (
                "promtool",
                "apt-get install prometheus",
                "rules-",
                &["check", "rules"][..],
            ),
            (
                "amtool",
                "apt-get install prometheus-alertmanager",
                "alertmanager-",
                &["check-config"][..],
            ),
        ] {
            let Some(program) = flotilla_testkit::tool(tool, None, hint) else {
                continue;
            };
            for f in files.iter().filter(|f| {
                f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            }) {
                let o = std::process::Command::new(&program)
                    .args(args)
                    .arg(f)
                    .output()
                    .expect("the tool runs");
                if !o.status.success() {
                    return Err(format!(
                        "accepted, but {tool} refuses {}:\n{}{}\n--- mutated source ---\n{}",
                        f.display(),
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr),
                        source_of(f)
                    ));
                }
                checked += 1;
            }
        }
        Ok(checked)
    }
}

/// What one case found, if anything broke the contract.
fn check(
    name: &str,
    bytes: &[u8],
    versions: &Versions,
    schemas: &Schemas,
    tools: &ToolCases,
) -> Result<bool, String> {
    let loaded = catch_unwind(AssertUnwindSafe(|| load_bytes(name, bytes, versions)))
        .map_err(|_| "load_bytes panicked".to_string())?;
    let platform = match loaded {
        Err(e) => {
            if e.diagnostics.is_empty() {
                return Err("rejected without a diagnostic".into());
            }
            for d in &e.diagnostics {
                if d.span.start > d.span.end || d.span.end > e.source_text.len() {
                    return Err(format!(
                        "diagnostic outside the source ({:?} of {}): {}",
                        d.span,
                        e.source_text.len(),
                        d.message
                    ));
                }
                if d.message.trim().is_empty() || d.message.contains('\n') {
                    return Err(format!("message not one line: {:?}", d.message));
                }
                if d.message.chars().count() > 400 {
                    return Err(format!(
                        "message of {} characters: {}",
                        d.message.chars().count(),
                        d.message
                    ));
                }
            }
            let report = catch_unwind(AssertUnwindSafe(|| e.to_string()))
                .map_err(|_| "rendering the diagnostics panicked".to_string())?;
            // The echoed source lines are windows; no line of the report is kilobytes long.
            if let Some(l) = report.lines().find(|l| {
                let n = l.chars().count();
                if l.contains(" | ") { n > 140 } else { n > 1000 }
            }) {
                return Err(format!(
                    "report line of {} characters: {}",
                    l.chars().count(),
                    l.chars().take(120).collect::<String>()
                ));
            }
            return Ok(false);
        }
        Ok(p) => p,
    };
    let rendered = catch_unwind(AssertUnwindSafe(|| {
        let _ = platform.capacity_plan();
        let _ = flotilla_terraform::render(&platform);
        let _ = flotilla_helm::render(&platform);
        platform
            .clusters
            .iter()
            .map(|c| {
                (
                    c.kubernetes_version.clone(),
                    flotilla_helm::manifests(&platform, c),
                )
            })
            .collect::<Vec<_>>()
    }))
    .map_err(|_| "rendering an accepted platform panicked".to_string())?;
    tools.add(&platform, bytes);
    // Each object once per cluster, each release name once (as tests/identities.rs asks of
    // the fixtures).
    for (c, (_, manifests)) in platform.clusters.iter().zip(&rendered) {
        let objects = manifests
            .iter()
            .flat_map(|m| m.objects.iter().map(move |o| (m.path.as_str(), o)));
        let mut clashes = flotilla_testkit::identity::clashes(objects);
        let releases = flotilla_helm::releases(&platform, c);
        clashes.extend(
            flotilla_testkit::identity::repeated(releases.iter().map(|r| r.name.as_str()))
                .into_iter()
                .map(|r| format!("release {r}")),
        );
        if !clashes.is_empty() {
            return Err(format!(
                "accepted, but {} renders one object twice: {}",
                c.name,
                clashes.join("; ")
            ));
        }
    }
    if let Some(s) = schemas.loaded() {
        for (version, manifests) in &rendered {
            for m in manifests {
                for o in &m.objects {
                    let findings = s.validate(version, o);
                    if !findings.is_empty() {
                        return Err(format!(
                            "accepted, but {} in {} is refused:\n{}",
                            o.pointer("/metadata/name")
                                .and_then(|v| v.as_str())
                                .unwrap_or("?"),
                            m.path,
                            flotilla_testkit::report(&findings)
                        ));
                    }
                }
            }
        }
    }
    Ok(true)
}

/// The Kubernetes schemas by minor version and the pinned CRDs, when the reference data is
/// there.
struct Schemas {
    reference: Option<PathBuf>,
    crds: Option<CrdSet>,
    kube: std::cell::RefCell<std::collections::BTreeMap<String, Option<KubeSchemas>>>,
}

struct Loaded<'a>(&'a Schemas);

impl Schemas {
    fn new() -> Schemas {
        let reference = flotilla_testkit::reference_dir();
        let crds = reference
            .as_ref()
            .map(|r| CrdSet::pinned(r).expect("pinned CRDs"));
        Schemas {
            reference,
            crds,
            kube: Default::default(),
        }
    }

    fn loaded(&self) -> Option<Loaded<'_>> {
        self.reference.as_ref().map(|_| Loaded(self))
    }
}

impl Loaded<'_> {
    fn validate(
        &self,
        version: &str,
        object: &serde_json::Value,
    ) -> Vec<flotilla_testkit::Finding> {
        let s = self.0;
        let api = object
            .get("apiVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let group = api.split_once('/').map_or("", |(g, _)| g);
        let kind = object.get("kind").and_then(|v| v.as_str()).unwrap_or("");
        if let Some(crds) = &s.crds
            && crds.get(group, kind).is_some()
        {
            return crds.validate(object);
        }
        let mut kube = s.kube.borrow_mut();
        let schemas = kube
            .entry(version.to_string())
            .or_insert_with(|| KubeSchemas::load(s.reference.as_ref().unwrap(), version).ok());
        match schemas {
            Some(k) => k.validate(object),
            None => vec![],
        }
    }
}

#[test]
fn mutated_platforms_keep_the_contract() {
    let cases: u32 = std::env::var("FLOTILLA_FUZZ_CASES").ok().map_or(
        if std::env::var_os("FLOTILLA_FAST").is_some() && !flotilla_testkit::in_ci() {
            256
        } else {
            2000
        },
        |v| v.parse().expect("FLOTILLA_FUZZ_CASES is a number"),
    );
    // Under CI the same cases every run (what lands does not depend on luck); elsewhere new
    // ones each run, unless a seed is given to replay.
    let seed: Option<u64> = std::env::var("FLOTILLA_FUZZ_SEED")
        .ok()
        .map(|v| v.parse().expect("FLOTILLA_FUZZ_SEED is a number"))
        .or(flotilla_testkit::in_ci().then_some(1));
    let schemas = Schemas::new();
    if schemas.reference.is_none() {
        flotilla_testkit::skip(
            "fuzz: no pinned reference data; accepted renders are checked for panics only",
        );
    }
    let versions = Versions::embedded();
    let seeds = seeds();
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = match seed {
        Some(s) => {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&s.to_le_bytes());
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key))
        }
        None => TestRunner::new(config),
    };
    let tools = ToolCases {
        dir: tempfile::tempdir().unwrap(),
        sources: Default::default(),
    };
    let accepted = std::cell::Cell::new(0u32);
    let rejected = std::cell::Cell::new(0u32);
    let strategy = (0..seeds.len(), prop::collection::vec(mutation(), 1..=3));
    let result = runner.run(&strategy, |(seed, mutations)| {
        let (name, source) = &seeds[seed];
        let mut bytes = source.clone();
        for m in &mutations {
            bytes = apply(&bytes, m);
        }
        match check(name, &bytes, &versions, &schemas, &tools) {
            Ok(true) => accepted.set(accepted.get() + 1),
            Ok(false) => rejected.set(rejected.get() + 1),
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "{e}\n--- mutated {name} ---\n{}",
                    String::from_utf8_lossy(&bytes)
                )));
            }
        }
        Ok(())
    });
    eprintln!(
        "fuzz: {} cases: {} accepted (rendered and checked), {} rejected (located)",
        accepted.get() + rejected.get(),
        accepted.get(),
        rejected.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    match tools.run() {
        Ok(n) => {
            eprintln!("fuzz: promtool and amtool accepted all {n} files of the accepted cases")
        }
        Err(e) => panic!("{e}"),
    }
}
