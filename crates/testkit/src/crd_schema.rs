//! Custom resources against their pinned CRD's OpenAPI v3 schema, as the API server would
//! validate them: unknown fields, types, enums, bounds, patterns, required fields, and the
//! `metadata` every object carries. CEL rules (`x-kubernetes-validations`) are not evaluated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::schema::{self, Dialect, child_path, kind_of};
use crate::{Finding, ReferenceError, read_yaml_documents};

/// Charts whose pinned folder ships the CRDs the platform's custom resources use.
pub const CRD_CHARTS: &[&str] = &[
    "strimzi-kafka-operator",
    "eck-operator",
    "kube-prometheus-stack",
];

/// One CustomResourceDefinition: its served versions and their schemas.
#[derive(Debug, Clone)]
pub struct Crd {
    pub group: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
    /// Served version -> `openAPIV3Schema`.
    pub versions: BTreeMap<String, Value>,
    pub source: PathBuf,
}

/// Every pinned CRD, by API group and kind.
#[derive(Debug, Clone, Default)]
pub struct CrdSet {
    crds: BTreeMap<(String, String), Crd>,
}

impl CrdSet {
    /// The CRDs of the versions `versions.toml` pins: the CRD bundles (`[crds.*]`, e.g. the
    /// Gateway API) from `<reference>/crds/<name>/<version>/` and the `crds/` folder of each of
    /// [`CRD_CHARTS`] at its pinned version. A pinned version without reference data is an error.
    pub fn pinned(reference: &Path) -> Result<CrdSet, ReferenceError> {
        let versions = flotilla_model::Versions::embedded();
        let mut dirs = Vec::new();
        for (name, bundle) in &versions.crds {
            let dir = reference.join("crds").join(name).join(&bundle.version);
            if !dir.is_dir() {
                return Err(ReferenceError::MissingVersion {
                    name: format!("CRD bundle {name}"),
                    version: bundle.version.clone(),
                    dir,
                });
            }
            dirs.push(dir);
        }
        for chart in CRD_CHARTS {
            let Some(pin) = versions.charts.get(*chart) else {
                return Err(ReferenceError::NotPinned {
                    name: chart.to_string(),
                    known: versions
                        .charts
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let dir = reference
                .join("charts")
                .join(chart)
                .join(&pin.version)
                .join("crds");
            if !dir.is_dir() {
                return Err(ReferenceError::MissingVersion {
                    name: format!("CRDs of chart {chart}"),
                    version: pin.version.clone(),
                    dir,
                });
            }
            dirs.push(dir);
        }
        let mut files = Vec::new();
        for dir in dirs {
            let entries = std::fs::read_dir(&dir).map_err(|e| ReferenceError::Read {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        }
        CrdSet::from_files(&files)
    }

    /// CRDs from YAML files (several documents each allowed; non-CRD documents are skipped).
    pub fn from_files(paths: &[PathBuf]) -> Result<CrdSet, ReferenceError> {
        let mut set = CrdSet::default();
        for path in paths {
            for doc in read_yaml_documents(path)? {
                if doc.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                    continue;
                }
                let crd = parse_crd(&doc, path)?;
                // The same CRD may come twice (ECK ships all-crds.yaml and per-kind slices).
                set.crds
                    .entry((crd.group.clone(), crd.kind.clone()))
                    .or_insert(crd);
            }
        }
        Ok(set)
    }

    pub fn get(&self, group: &str, kind: &str) -> Option<&Crd> {
        self.crds.get(&(group.to_string(), kind.to_string()))
    }

    /// `(group, kind)` of every CRD.
    pub fn kinds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.crds.keys().map(|(g, k)| (g.as_str(), k.as_str()))
    }

    /// Validates one custom resource. Every finding names its path (`spec.replicas`).
    pub fn validate(&self, object: &Value) -> Vec<Finding> {
        let mut out = Vec::new();
        let Some(obj) = object.as_object() else {
            return vec![Finding::new(
                "",
                format!("a Kubernetes object is a map, found {}", kind_of(object)),
            )];
        };
        let api_version = obj.get("apiVersion").and_then(Value::as_str);
        let kind = obj.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            if api_version.is_none() {
                out.push(Finding::new(
                    "apiVersion",
                    "required field is missing (or not a string)",
                ));
            }
            if kind.is_none() {
                out.push(Finding::new(
                    "kind",
                    "required field is missing (or not a string)",
                ));
            }
            return out;
        };
        let Some((group, version)) = api_version.split_once('/') else {
            return vec![Finding::new(
                "apiVersion",
                format!(
                    "\"{api_version}\" is a core API version, not a custom resource (build core objects from k8s-openapi types)"
                ),
            )];
        };
        let Some(crd) = self.get(group, kind) else {
            let known: Vec<String> = self.crds.keys().map(|(g, k)| format!("{k}.{g}")).collect();
            return vec![Finding::new(
                "kind",
                format!(
                    "no pinned CRD for {kind} in group {group}; pinned: {}",
                    known.join(", ")
                ),
            )];
        };
        let Some(schema) = crd.versions.get(version) else {
            let served: Vec<&str> = crd.versions.keys().map(String::as_str).collect();
            return vec![Finding::new(
                "apiVersion",
                format!(
                    "{kind} {version} is not served by the pinned CRD ({}); served: {}",
                    crd.source.display(),
                    served.join(", ")
                ),
            )];
        };
        match obj.get("metadata") {
            Some(Value::Object(meta)) => check_metadata(meta, crd.namespaced, &mut out),
            Some(other) => out.push(Finding::new(
                "metadata",
                format!("expected object, found {}", kind_of(other)),
            )),
            None => out.push(Finding::new("metadata", "required field is missing")),
        }
        let mut rest = obj.clone();
        rest.remove("metadata");
        out.extend(schema::validate(
            schema,
            schema,
            &Value::Object(rest),
            Dialect::Kubernetes,
            "",
        ));
        out
    }

    /// Validates every custom resource among YAML documents; core objects (`v1`, `apps/v1`, ...)
    /// are skipped. Findings are prefixed with the object's kind and name.
    pub fn validate_yaml(&self, text: &str) -> Vec<Finding> {
        let docs = match crate::yaml::documents(text) {
            Ok(d) => d,
            Err(e) => return vec![Finding::new("", format!("not valid YAML: {e}"))],
        };
        let mut out = Vec::new();
        for doc in docs {
            let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let group = api.split_once('/').map(|(g, _)| g).unwrap_or("");
            if group.is_empty() || !group.contains('.') {
                continue;
            }
            let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("?");
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            for f in self.validate(&doc) {
                out.push(Finding {
                    path: format!("{kind}/{name}: {}", f.path),
                    message: f.message,
                });
            }
        }
        out
    }
}

fn parse_crd(doc: &Value, path: &Path) -> Result<Crd, ReferenceError> {
    let invalid = |message: &str| ReferenceError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let spec = doc
        .get("spec")
        .ok_or_else(|| invalid("a CRD without spec"))?;
    let s = |p: &str| spec.pointer(p).and_then(Value::as_str).map(String::from);
    let group = s("/group").ok_or_else(|| invalid("a CRD without spec.group"))?;
    let kind = s("/names/kind").ok_or_else(|| invalid("a CRD without spec.names.kind"))?;
    let plural = s("/names/plural").unwrap_or_default();
    let namespaced = s("/scope").as_deref() != Some("Cluster");
    let mut versions = BTreeMap::new();
    for v in spec
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if v.get("served") != Some(&Value::Bool(true)) {
            continue;
        }
        let Some(name) = v.get("name").and_then(Value::as_str) else {
            continue;
        };
        let schema = v
            .pointer("/schema/openAPIV3Schema")
            .ok_or_else(|| invalid(&format!("{kind} {name} has no schema.openAPIV3Schema")))?;
        versions.insert(name.to_string(), schema.clone());
    }
    Ok(Crd {
        group,
        kind,
        plural,
        namespaced,
        versions,
        source: path.to_path_buf(),
    })
}

/// What the API server checks of an object name (apimachinery `IsDNS1123Subdomain`): at most
/// 253 characters matching `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`.
/// Unlike a DNS name, a part between dots may be longer than 63.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && !s.is_empty() && s.split('.').all(subdomain_part)
}

/// A namespace name (apimachinery `IsDNS1123Label`): at most 63 of `[a-z0-9-]`, not starting
/// or ending with `-`.
fn dns_label(s: &str) -> bool {
    s.len() <= 63 && subdomain_part(s)
}

fn subdomain_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A label value or the name part of a qualified name: up to 63 of `[A-Za-z0-9_.-]`, starting
/// and ending alphanumeric (a value may be empty).
fn label_value(s: &str) -> bool {
    let b = s.as_bytes();
    b.is_empty()
        || (b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric())
}

fn qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(dns_subdomain) && !name.is_empty() && label_value(name)
}

/// ObjectMeta as a generated manifest may set it (server-set fields are errors).
fn check_metadata(meta: &Map<String, Value>, namespaced: bool, out: &mut Vec<Finding>) {
    const SETTABLE: &[&str] = &[
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "finalizers",
        "ownerReferences",
    ];
    const SERVER_SET: &[&str] = &[
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ];
    for key in meta.keys() {
        let p = child_path("metadata", key);
        if SERVER_SET.contains(&key.as_str()) {
            out.push(Finding::new(
                &p,
                "set by the API server; a manifest must not carry it",
            ));
        } else if !SETTABLE.contains(&key.as_str()) {
            out.push(Finding::new(
                &p,
                schema::unknown_field_message(key, SETTABLE),
            ));
        }
    }
    match (meta.get("name"), meta.get("generateName")) {
        (Some(Value::String(n)), _) if !dns_subdomain(n) => {
            out.push(Finding::new("metadata.name", format!("\"{n}\" is not a DNS subdomain (lower case alphanumerics, '-', '.'; at most 253)")));
        }
        (Some(Value::String(_)), _) | (None, Some(Value::String(_))) => {}
        (Some(other), _) => out.push(Finding::new(
            "metadata.name",
            format!("expected string, found {}", kind_of(other)),
        )),
        (None, _) => out.push(Finding::new("metadata.name", "required field is missing")),
    }
    match meta.get("namespace") {
        Some(Value::String(ns)) if !namespaced => {
            out.push(Finding::new(
                "metadata.namespace",
                format!("\"{ns}\" given for a cluster-scoped kind"),
            ));
        }
        Some(Value::String(ns)) if !dns_label(ns) => {
            out.push(Finding::new(
                "metadata.namespace",
                format!("\"{ns}\" is not a DNS label"),
            ));
        }
        Some(Value::String(_)) | None => {}
        Some(other) => out.push(Finding::new(
            "metadata.namespace",
            format!("expected string, found {}", kind_of(other)),
        )),
    }
    for (field, values_are_labels) in [("labels", true), ("annotations", false)] {
        match meta.get(field) {
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let p = format!("metadata.{field}[{k:?}]");
                    if !qualified_name(k) {
                        out.push(Finding::new(
                            &p,
                            format!("key \"{k}\" is not a qualified name ([prefix/]name)"),
                        ));
                    }
                    match v {
                        Value::String(s) if values_are_labels && !label_value(s) => {
                            out.push(Finding::new(&p, format!("\"{s}\" is not a valid label value (at most 63 of [A-Za-z0-9_.-])")));
                        }
                        Value::String(_) => {}
                        other => out.push(Finding::new(
                            &p,
                            format!("expected string, found {}", kind_of(other)),
                        )),
                    }
                }
            }
            Some(other) => out.push(Finding::new(
                &format!("metadata.{field}"),
                format!("expected object, found {}", kind_of(other)),
            )),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_follow_the_api_servers_subdomain_rule() {
        assert!(dns_subdomain("a.b-c.d"));
        assert!(
            dns_subdomain(&"x".repeat(133)),
            "no 63-character limit between dots"
        );
        assert!(dns_subdomain(&"x".repeat(253)));
        assert!(!dns_subdomain(&"x".repeat(254)));
        for bad in ["", "-a", "a-", "a..b", ".a", "A", "a_b"] {
            assert!(!dns_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn metadata_names_and_labels() {
        let mut out = Vec::new();
        let meta = serde_json::json!({
            "name": "Kafka_1", "namespace": "kafka", "uid": "x", "lables": {},
            "labels": {"app.kubernetes.io/name": "ok", "bad key!": "v", "x": "not ok!"},
        });
        check_metadata(meta.as_object().unwrap(), true, &mut out);
        let text: Vec<String> = out.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("metadata.name: \"Kafka_1\" is not a DNS subdomain")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("metadata.uid: set by the API server")),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t
                .contains("metadata.lables: unknown field \"lables\" (did you mean \"labels\"?)")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("\"bad key!\" is not a qualified name")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("\"not ok!\" is not a valid label value")),
            "{text:?}"
        );
        assert_eq!(out.len(), 5, "{text:?}");

        let mut ok = Vec::new();
        let meta = serde_json::json!({"name": "controlplane", "labels": {"strimzi.io/cluster": "controlplane"}});
        check_metadata(meta.as_object().unwrap(), true, &mut ok);
        assert!(ok.is_empty(), "{ok:?}");
        check_metadata(
            serde_json::json!({"name": "gc", "namespace": "x"})
                .as_object()
                .unwrap(),
            false,
            &mut ok,
        );
        assert_eq!(ok.len(), 1);
    }
}
