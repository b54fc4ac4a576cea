//! Generated values against the pinned chart defaults: each fixtures/values/<chart>/valid*.yaml
//! must pass, each invalid*.yaml must produce exactly the findings its `# expect:` lines name.
//! `# allow:` / `# allow-undeclared:` lines (`<pattern> -- <reason>`) add allowlist entries to
//! [`Allowlist::kubernetes_free_form`].

use std::path::{Path, PathBuf};

use flotilla_testkit::chart_values::{Allowlist, ChartDefaults};
use flotilla_testkit::{ReferenceError, reference_dir, report};
use serde_json::json;

struct Fixture {
    chart: String,
    file: PathBuf,
    text: String,
}

fn fixtures() -> Vec<Fixture> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/values");
    let mut out = Vec::new();
    for chart in std::fs::read_dir(&root).unwrap() {
        let chart = chart.unwrap().path();
        for file in std::fs::read_dir(&chart).unwrap() {
            let file = file.unwrap().path();
            let text = std::fs::read_to_string(&file).unwrap();
            out.push(Fixture {
                chart: chart.file_name().unwrap().to_string_lossy().into_owned(),
                file,
                text,
            });
        }
    }
    out.sort_by(|a, b| a.file.cmp(&b.file));
    assert!(out.len() >= 8, "fixtures missing under {}", root.display());
    out
}

fn allowlist(text: &str) -> Allowlist {
    let mut allow = Allowlist::kubernetes_free_form();
    for line in text.lines() {
        let (undeclared, rest) = if let Some(r) = line.strip_prefix("# allow-undeclared: ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("# allow: ") {
            (false, r)
        } else {
            continue;
        };
        let (pattern, reason) = rest
            .split_once(" -- ")
            .expect("`# allow: <pattern> -- <reason>`");
        allow = if undeclared {
            allow.allow_undeclared(pattern, reason)
        } else {
            allow.allow(pattern, reason)
        };
    }
    allow
}

fn expectations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let (path, message) = e.split_once(": ").expect("`# expect: <path>: <message>`");
            (path.to_string(), message.to_string())
        })
        .collect()
}

/// The one check per fixture: no findings for valid files, exactly the expected ones otherwise.
fn check(reference: &Path, f: &Fixture) {
    let chart = ChartDefaults::pinned(reference, &f.chart).unwrap_or_else(|e| panic!("{e}"));
    let findings = chart.check_yaml(&f.text, &allowlist(&f.text));
    let expected = expectations(&f.text);
    let name = f.file.file_name().unwrap().to_string_lossy();
    if name.starts_with("valid") {
        assert!(
            expected.is_empty(),
            "{}: a valid fixture expects nothing",
            f.file.display()
        );
        assert!(
            findings.is_empty(),
            "{}:\n{}",
            f.file.display(),
            report(&findings)
        );
        return;
    }
    assert!(
        !expected.is_empty(),
        "{} has no `# expect:` line",
        f.file.display()
    );
    for (path, message) in &expected {
        assert!(
            findings
                .iter()
                .any(|x| &x.path == path && x.message.starts_with(message.as_str())),
            "{}: expected `{path}: {message}...`, found:\n{}",
            f.file.display(),
            report(&findings)
        );
    }
    assert_eq!(
        findings.len(),
        expected.len(),
        "{}: unexpected findings:\n{}",
        f.file.display(),
        report(&findings)
    );
}

#[test]
fn values_fixtures() {
    let Some(reference) = reference_dir() else {
        return;
    };
    for f in fixtures() {
        check(&reference, &f);
    }
}

#[test]
fn a_misspelled_key_is_caught_with_its_path() {
    let Some(reference) = reference_dir() else {
        return;
    };
    let chart = ChartDefaults::pinned(&reference, "kube-prometheus-stack").unwrap();
    let allow = Allowlist::kubernetes_free_form();
    let good = json!({"prometheus": {"prometheusSpec": {"retention": "15d"}}});
    assert!(chart.check(&good, &allow).is_empty());
    let typo = json!({"prometheus": {"prometheusSpec": {"retentoin": "15d"}}});
    let findings = chart.check(&typo, &allow);
    assert_eq!(findings.len(), 1, "{}", report(&findings));
    assert_eq!(findings[0].path, "prometheus.prometheusSpec.retentoin");
    assert!(
        findings[0].message.contains("did you mean \"retention\""),
        "{}",
        findings[0]
    );
}

#[test]
fn every_pinned_chart_loads_with_its_subcharts() {
    let Some(reference) = reference_dir() else {
        return;
    };
    let versions = flotilla_model::Versions::embedded();
    // Every pinned chart has reference data: an invented or mistyped version in versions.toml
    // (a chart that was never released) fails here, naming the chart and the version.
    let mut missing = Vec::new();
    for name in versions.charts.keys() {
        match ChartDefaults::pinned(&reference, name) {
            // An empty document has nothing to check and is fine.
            Ok(chart) => assert!(
                chart
                    .check(&serde_json::Value::Null, &Allowlist::new())
                    .is_empty()
            ),
            Err(e @ ReferenceError::MissingVersion { .. }) => missing.push(e.to_string()),
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        missing.is_empty(),
        "pinned charts without reference data (versions.toml names a version that is not in the reference data):\n{}",
        missing.join("\n")
    );
    let kps = ChartDefaults::pinned(&reference, "kube-prometheus-stack").unwrap();
    let subs: Vec<&str> = kps.subchart_keys().collect();
    assert_eq!(
        subs,
        ["grafana", "kube-state-metrics", "prometheus-node-exporter"]
    );
    let eck = ChartDefaults::pinned(&reference, "eck-stack").unwrap();
    let subs: Vec<&str> = eck.subchart_keys().collect();
    assert_eq!(subs, ["eck-elasticsearch", "eck-kibana", "eck-logstash"]);
    assert!(
        ChartDefaults::pinned(&reference, "nginx-gateway-fabric")
            .unwrap()
            .has_schema()
    );
}

#[test]
fn missing_reference_data_is_an_error_not_a_pass() {
    let Some(reference) = reference_dir() else {
        return;
    };
    match ChartDefaults::load(&reference, "kube-prometheus-stack", "0.0.1") {
        Err(ReferenceError::MissingVersion { version, .. }) => assert_eq!(version, "0.0.1"),
        other => panic!("expected a missing-version error, got {other:?}"),
    }
    match ChartDefaults::pinned(&reference, "ingress-nginx") {
        Err(e @ ReferenceError::NotPinned { .. }) => {
            assert!(e.to_string().contains("kube-prometheus-stack"), "{e}")
        }
        other => panic!("expected a not-pinned error, got {other:?}"),
    }
}
