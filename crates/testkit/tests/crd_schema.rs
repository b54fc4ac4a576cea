//! Custom resources against the pinned CRDs: the fixtures under fixtures/crd/valid must pass,
//! each file under fixtures/crd/invalid must produce exactly the findings its `# expect:` lines
//! name (path, then the start of the message).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flotilla_testkit::crd_schema::CrdSet;
use flotilla_testkit::{ReferenceError, reference_dir, report};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crd")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// The pinned CRDs, parsed once for the whole file (about a megabyte of YAML).
fn pinned() -> Option<&'static CrdSet> {
    static SET: OnceLock<CrdSet> = OnceLock::new();
    let reference = reference_dir()?;
    Some(SET.get_or_init(|| CrdSet::pinned(&reference).unwrap_or_else(|e| panic!("{e}"))))
}

/// `# expect: <path>: <message start>` lines of a fixture.
fn expectations(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            let (path, message) = e.split_once(": ").expect("`# expect: <path>: <message>`");
            (path.to_string(), message.to_string())
        })
        .collect()
}

#[test]
fn every_kind_the_platform_uses_is_pinned() {
    let Some(set) = pinned() else { return };
    for (group, kind) in [
        ("gateway.networking.k8s.io", "Gateway"),
        ("gateway.networking.k8s.io", "HTTPRoute"),
        ("gateway.networking.k8s.io", "GatewayClass"),
        ("kafka.strimzi.io", "Kafka"),
        ("kafka.strimzi.io", "KafkaNodePool"),
        ("kafka.strimzi.io", "KafkaTopic"),
        ("kafka.strimzi.io", "KafkaUser"),
        ("elasticsearch.k8s.elastic.co", "Elasticsearch"),
        ("kibana.k8s.elastic.co", "Kibana"),
        ("logstash.k8s.elastic.co", "Logstash"),
        ("monitoring.coreos.com", "PrometheusRule"),
    ] {
        let crd = set
            .get(group, kind)
            .unwrap_or_else(|| panic!("{kind}.{group} is not pinned"));
        assert!(!crd.versions.is_empty(), "{kind} serves no version");
    }
}

#[test]
fn valid_custom_resources_pass() {
    let Some(set) = pinned() else { return };
    for file in fixtures("valid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let findings = set.validate_yaml(&text);
        assert!(
            findings.is_empty(),
            "{}:\n{}",
            file.display(),
            report(&findings)
        );
        // Every document of a valid fixture is a custom resource that was checked.
        let docs = flotilla_testkit::yaml::documents(&text).unwrap();
        assert!(docs.iter().all(|d| set.validate(d).is_empty()));
    }
}

#[test]
fn invalid_custom_resources_fail_naming_the_path() {
    let Some(set) = pinned() else { return };
    for file in fixtures("invalid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = expectations(&text);
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` line",
            file.display()
        );
        let doc = flotilla_testkit::yaml::document(&text).unwrap();
        let findings = set.validate(&doc);
        for (path, message) in &expected {
            assert!(
                findings
                    .iter()
                    .any(|f| &f.path == path && f.message.starts_with(message.as_str())),
                "{}: expected `{path}: {message}...`, found:\n{}",
                file.display(),
                report(&findings)
            );
        }
        assert_eq!(
            findings.len(),
            expected.len(),
            "{}: unexpected findings:\n{}",
            file.display(),
            report(&findings)
        );
    }
}

#[test]
fn a_missing_pinned_version_is_an_error_not_a_pass() {
    let empty = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/no-reference-data-here");
    assert!(!empty.exists());
    match CrdSet::pinned(&empty) {
        Err(ReferenceError::MissingVersion { name, version, dir }) => {
            assert!(
                name.contains("gateway-api") || name.contains("chart"),
                "{name}"
            );
            assert!(!version.is_empty());
            assert!(dir.starts_with(&empty));
        }
        other => panic!("expected a missing-version error, got {other:?}"),
    }
}

/// The validator skips a `pattern` the regex engine cannot compile; prove none of the pinned
/// schemas has one, so no pattern check is silently lost.
#[test]
fn every_pinned_pattern_compiles() {
    fn patterns(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(p)) = m.get("pattern") {
                    out.push(p.clone());
                }
                if let Some(serde_json::Value::Object(pp)) = m.get("patternProperties") {
                    out.extend(pp.keys().cloned());
                }
                m.values().for_each(|x| patterns(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| patterns(x, out)),
            _ => {}
        }
    }
    let Some(set) = pinned() else {
        return;
    };
    let reference = reference_dir().unwrap();
    let mut all = Vec::new();
    for (group, kind) in set.kinds() {
        for schema in set.get(group, kind).unwrap().versions.values() {
            patterns(schema, &mut all);
        }
    }
    // The one chart with a values schema.
    let version = &flotilla_model::Versions::embedded().charts["nginx-gateway-fabric"].version;
    let ngf = reference.join(format!(
        "charts/nginx-gateway-fabric/{version}/values.schema.json"
    ));
    let text = std::fs::read_to_string(&ngf).unwrap_or_else(|e| panic!("{}: {e}", ngf.display()));
    patterns(&serde_json::from_str(&text).unwrap(), &mut all);
    assert!(all.len() > 20, "only {} patterns found", all.len());
    let broken: Vec<&String> = all
        .iter()
        .filter(|p| regex::Regex::new(p).is_err())
        .collect();
    assert!(
        broken.is_empty(),
        "patterns the validator would skip: {broken:?}"
    );
}
