//! Generated Helm values against the pinned chart's defaults and schema.
//!
//! Helm silently ignores a values key the chart does not read, so a misspelled key (`replicaCont`)
//! deploys the chart's default without a word. This check walks every key path of a generated
//! values document and requires it to exist in the pinned chart's `values.yaml`, in the
//! `values.yaml` of the dependency chart it configures (`grafana.*`, `kube-state-metrics.*`,
//! `eck-elasticsearch.*`, ...), or in the chart's `values.schema.json`. Values are also checked
//! against the schema where the chart publishes one (types, enums, bounds, patterns), and against
//! the kind of the default (a map where the chart has a string is an error).
//!
//! Free-form maps (annotations, labels, node selectors, Kubernetes core types passed through,
//! extra configuration) have no keys to compare against. They are accepted only through an
//! [`Allowlist`] entry that names the path and says why; [`Allowlist::kubernetes_free_form`]
//! holds the common ones.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::schema::{self, Dialect, child_path, index_path, kind_of, short, unknown_field_message};
use crate::{Finding, ReferenceError, read_text, read_yaml_documents};

/// A key path pattern that may hold free-form content, with the reason.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    /// Dotted key segments; `*` is any one segment, `**` any number (also none), `[]` a list
    /// item. `**.podAnnotations`, `controller.config`, `extraVolumes`, `rules.[].labels`.
    pub pattern: String,
    pub reason: String,
    /// Whether the key may be missing from the chart's defaults and schema (a key the chart
    /// documents only in a comment, or one its templates pass through). Otherwise only the
    /// content is free-form and the key itself must exist.
    pub undeclared_key: bool,
}

/// Paths whose content is free-form: accepted as a whole, their keys not compared.
#[derive(Debug, Clone, Default)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
}

impl Allowlist {
    pub fn new() -> Allowlist {
        Allowlist::default()
    }

    /// Content under a matching key is free-form (the key itself must be in the defaults or
    /// schema). Every entry needs a reason: the allowlist is reviewed like code.
    pub fn allow(self, pattern: &str, reason: &str) -> Allowlist {
        self.push(pattern, reason, false)
    }

    /// Like [`Allowlist::allow`], and the key may be missing from the defaults and schema.
    pub fn allow_undeclared(self, pattern: &str, reason: &str) -> Allowlist {
        self.push(pattern, reason, true)
    }

    fn push(mut self, pattern: &str, reason: &str, undeclared_key: bool) -> Allowlist {
        assert!(
            !reason.trim().is_empty(),
            "allowlist entry `{pattern}` needs a reason"
        );
        assert!(!pattern.trim().is_empty(), "empty allowlist pattern");
        self.entries.push(AllowEntry {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
            undeclared_key,
        });
        self
    }

    pub fn extend(mut self, other: Allowlist) -> Allowlist {
        self.entries.extend(other.entries);
        self
    }

    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// Maps and lists whose content is a Kubernetes object or a string map, in whatever chart
    /// they appear: the chart passes them through to the pod or object spec unchanged.
    pub fn kubernetes_free_form() -> Allowlist {
        let string_map = "a string map of Kubernetes metadata or selection (any key is valid)";
        let core = "a Kubernetes core type passed through to the pod/object spec unchanged; its shape is checked by the API server, not the chart";
        let mut a = Allowlist::new();
        for key in [
            "annotations",
            "podAnnotations",
            "labels",
            "podLabels",
            "commonLabels",
            "nodeSelector",
            "matchLabels",
            "selectorLabels",
            "customLabels",
            "serviceAnnotations",
        ] {
            a = a.allow(&format!("**.{key}"), string_map);
        }
        for key in [
            "resources",
            "tolerations",
            "affinity",
            "securityContext",
            "podSecurityContext",
            "containerSecurityContext",
            "topologySpreadConstraints",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "env",
            "extraEnv",
            "envFrom",
            "volumes",
            "volumeMounts",
            "extraVolumes",
            "extraVolumeMounts",
            "imagePullSecrets",
            "lifecycle",
            "podTemplate",
            "volumeClaimTemplates",
            "storageSpec",
        ] {
            a = a.allow(&format!("**.{key}"), core);
        }
        a
    }

    /// The entry whose pattern matches the key path, if any.
    pub fn matching(&self, segments: &[String]) -> Option<&AllowEntry> {
        self.entries.iter().find(|e| {
            let pattern: Vec<&str> = e.pattern.split('.').collect();
            glob(&pattern, segments)
        })
    }
}

fn glob(pattern: &[&str], segs: &[String]) -> bool {
    match pattern.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| glob(rest, &segs[i..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, tail)) => (*p == "*" || *p == s) && glob(rest, tail),
            None => false,
        },
    }
}

/// The pinned defaults of one chart version.
#[derive(Debug, Clone)]
pub struct ChartDefaults {
    pub chart: String,
    pub version: String,
    pub dir: PathBuf,
    values: Value,
    /// Values key (the dependency's alias or name) -> that dependency's own defaults.
    subcharts: BTreeMap<String, Value>,
    schema: Option<Value>,
}

impl ChartDefaults {
    /// The chart at the version `versions.toml` pins, from `<reference>/charts/<chart>/<version>`.
    pub fn pinned(reference: &Path, chart: &str) -> Result<ChartDefaults, ReferenceError> {
        let versions = flotilla_model::Versions::embedded();
        let Some(pin) = versions.charts.get(chart) else {
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
        ChartDefaults::load(reference, chart, &pin.version)
    }

    /// The chart at an explicit version.
    pub fn load(
        reference: &Path,
        chart: &str,
        version: &str,
    ) -> Result<ChartDefaults, ReferenceError> {
        let dir = reference.join("charts").join(chart).join(version);
        if !dir.is_dir() {
            return Err(ReferenceError::MissingVersion {
                name: format!("chart {chart}"),
                version: version.to_string(),
                dir,
            });
        }
        let values_path = dir.join("values.yaml");
        let values = one_document(&values_path)?;
        let schema_path = dir.join("values.schema.json");
        let schema = if schema_path.is_file() {
            let text = read_text(&schema_path)?;
            Some(
                serde_json::from_str(&text).map_err(|e| ReferenceError::Invalid {
                    path: schema_path.clone(),
                    message: e.to_string(),
                })?,
            )
        } else {
            None
        };
        let mut subcharts = BTreeMap::new();
        let chart_yaml = dir.join("Chart.yaml");
        if chart_yaml.is_file() {
            let meta = one_document(&chart_yaml)?;
            for dep in meta
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(name) = dep.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let key = dep.get("alias").and_then(Value::as_str).unwrap_or(name);
                let sub = dir.join("subcharts").join(name).join("values.yaml");
                if sub.is_file() {
                    subcharts.insert(key.to_string(), one_document(&sub)?);
                }
            }
        }
        Ok(ChartDefaults {
            chart: chart.to_string(),
            version: version.to_string(),
            dir,
            values,
            subcharts,
            schema,
        })
    }

    /// The values a release renders with, as Helm computes them: the chart's defaults (each
    /// dependency's own defaults under its key) with `values` merged over them, maps deeply,
    /// everything else replaced, and `null` removing a default.
    pub fn effective(&self, values: &Value) -> Value {
        let mut defaults = self.values.clone();
        for (key, sub) in &self.subcharts {
            let own = defaults.get(key).cloned().unwrap_or(Value::Null);
            defaults[key.as_str()] = helm_merge(sub, &own);
        }
        helm_merge(&defaults, values)
    }

    /// Whether the chart publishes a `values.schema.json`.
    pub fn has_schema(&self) -> bool {
        self.schema.is_some()
    }

    /// Values keys configured by a dependency chart whose defaults are pinned.
    pub fn subchart_keys(&self) -> impl Iterator<Item = &str> {
        self.subcharts.keys().map(String::as_str)
    }

    /// Checks a generated values document (`null` or a map). Every finding names its key path.
    pub fn check(&self, values: &Value, allow: &Allowlist) -> Vec<Finding> {
        let mut out = Vec::new();
        match values {
            Value::Null => return out,
            Value::Object(top) => {
                let mut segs = Vec::new();
                for (key, v) in top {
                    segs.push(key.clone());
                    let path = child_path("", key);
                    let parent = self.values.get(key);
                    let defaults = match (self.subcharts.get(key), parent) {
                        (Some(sub), Some(p)) => Some(merged(sub, p)),
                        (Some(sub), None) => Some(sub.clone()),
                        (None, p) => p.cloned(),
                    };
                    let s = self
                        .schema
                        .as_ref()
                        .and_then(|root| schema_child(root, root, key));
                    let entry = allow.matching(&segs);
                    if defaults.is_none() && s.is_none() {
                        if !entry.is_some_and(|e| e.undeclared_key) {
                            out.push(Finding::new(
                                &path,
                                self.unknown(key, &self.values, self.schema.as_ref()),
                            ));
                        }
                    } else if entry.is_none() {
                        let cx = Walk {
                            allow,
                            root: self.schema.as_ref(),
                        };
                        cx.value(v, defaults.as_ref(), s, &mut segs, &path, &mut out);
                    }
                    segs.pop();
                }
            }
            other => out.push(Finding::new(
                "",
                format!("a values document is a map, found {}", kind_of(other)),
            )),
        }
        if let Some(root) = &self.schema {
            // Helm validates the schema against the defaults merged with the given values, so
            // a required key the defaults provide is present.
            let coalesced = merged(&self.values, values);
            out.extend(schema::validate(
                root,
                root,
                &coalesced,
                Dialect::HelmValues,
                "",
            ));
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks a generated `values.yaml` text.
    pub fn check_yaml(&self, text: &str, allow: &Allowlist) -> Vec<Finding> {
        match crate::yaml::document(text) {
            Ok(v) => self.check(&v, allow),
            Err(e) => vec![Finding::new("", format!("not valid YAML: {e}"))],
        }
    }

    fn unknown(&self, key: &str, defaults: &Value, schema: Option<&Value>) -> String {
        let mut known: Vec<&str> = defaults
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if let Some(props) = schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
        {
            known.extend(props.keys().map(String::as_str));
        }
        known.sort_unstable();
        known.dedup();
        format!(
            "{} in {} {}",
            unknown_field_message(key, &known),
            self.chart,
            self.version
        )
    }
}

fn one_document(path: &Path) -> Result<Value, ReferenceError> {
    let mut docs = read_yaml_documents(path)?;
    match docs.len() {
        0 => Ok(Value::Object(Map::new())),
        1 => Ok(docs.remove(0)),
        n => Err(ReferenceError::Invalid {
            path: path.to_path_buf(),
            message: format!("{n} YAML documents, expected one"),
        }),
    }
}

/// `over` deep-merged onto `base` (the parent chart's values for a dependency override the
/// dependency's own defaults; for the key check it is the union that matters).
fn merged(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let next = match m.get(k) {
                    Some(existing) => merged(existing, v),
                    None => v.clone(),
                };
                m.insert(k.clone(), next);
            }
            Value::Object(m)
        }
        (_, Value::Null) => base.clone(),
        _ => over.clone(),
    }
}

/// The subschema of `schema` for the property `key`, following `$ref`s.
fn schema_child<'a>(root: &'a Value, schema: &'a Value, key: &str) -> Option<&'a Value> {
    let s = resolve(root, schema);
    if let Some(p) = s.get("properties").and_then(|p| p.get(key)) {
        return Some(resolve(root, p));
    }
    if let Some(patterns) = s.get("patternProperties").and_then(Value::as_object) {
        for (pattern, sub) in patterns {
            if regex::Regex::new(pattern).is_ok_and(|re| re.is_match(key)) {
                return Some(resolve(root, sub));
            }
        }
    }
    match s.get("additionalProperties") {
        Some(sub @ Value::Object(_)) => Some(resolve(root, sub)),
        _ => None,
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..32 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(ptr) => match root.pointer(ptr) {
                Some(t) => s = t,
                None => break,
            },
            None => break,
        }
    }
    s
}

/// Whether a schema describes the keys of an object (so they can be compared).
fn declares_keys(s: &Value) -> bool {
    s.get("properties").is_some()
        || s.get("patternProperties").is_some()
        || s.get("additionalProperties").is_some_and(Value::is_object)
}

/// A schema that says "an object" and nothing about its keys: free-form by the chart's own word.
fn free_form_object(s: &Value) -> bool {
    !declares_keys(s)
        && match s.get("type") {
            Some(Value::String(t)) => t == "object",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
            _ => false,
        }
}

fn scalar_kind(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "number",
        other => kind_of(other),
    }
}

struct Walk<'a> {
    allow: &'a Allowlist,
    root: Option<&'a Value>,
}

impl Walk<'_> {
    fn schema_child<'s>(&'s self, schema: Option<&'s Value>, key: &str) -> Option<&'s Value> {
        let root = self.root?;
        schema_child(root, schema?, key)
    }

    fn map(
        &self,
        fields: &Map<String, Value>,
        defaults: Option<&Value>,
        schema: Option<&Value>,
        segs: &mut Vec<String>,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        let empty = Map::new();
        let d = defaults.and_then(Value::as_object).unwrap_or(&empty);
        for (key, v) in fields {
            segs.push(key.clone());
            let p = child_path(path, key);
            let entry = self.allow.matching(segs);
            let dv = d.get(key);
            let sv = self.schema_child(schema, key);
            if dv.is_none() && sv.is_none() {
                if !entry.is_some_and(|e| e.undeclared_key) {
                    let mut known: Vec<&str> = d.keys().map(String::as_str).collect();
                    if let Some(props) = schema
                        .and_then(|s| s.get("properties"))
                        .and_then(Value::as_object)
                    {
                        known.extend(props.keys().map(String::as_str));
                    }
                    known.sort_unstable();
                    known.dedup();
                    out.push(Finding::new(
                        &p,
                        format!(
                            "{} (not in the chart's defaults)",
                            unknown_field_message(key, &known)
                        ),
                    ));
                }
            } else if entry.is_none() {
                self.value(v, dv, sv, segs, &p, out);
            }
            segs.pop();
        }
    }

    fn value(
        &self,
        v: &Value,
        defaults: Option<&Value>,
        schema: Option<&Value>,
        segs: &mut Vec<String>,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        let schema = match (self.root, schema) {
            (Some(root), Some(s)) => Some(resolve(root, s)),
            _ => None,
        };
        match v {
            Value::Null => {}
            Value::Object(fields) => {
                if fields.is_empty() {
                    return;
                }
                let has_default_keys = defaults
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty());
                if has_default_keys || schema.is_some_and(declares_keys) {
                    self.map(fields, defaults, schema, segs, path, out);
                } else if schema.is_some_and(free_form_object) {
                    // The chart's schema declares a free-form object here.
                } else {
                    match defaults {
                        Some(Value::Object(_)) | Some(Value::Null) | None => out.push(Finding::new(
                            path,
                            "a free-form map in the chart's defaults ({} or null): its keys cannot be checked; allowlist this path with a reason",
                        )),
                        Some(other) => out.push(Finding::new(path, format!("a map where the chart's default is {} ({})", kind_of(other), short(other)))),
                    }
                }
            }
            Value::Array(items) => {
                if let Some(other) = defaults.filter(|d| !d.is_array() && !d.is_null()) {
                    out.push(Finding::new(
                        path,
                        format!(
                            "a list where the chart's default is {} ({})",
                            kind_of(other),
                            short(other)
                        ),
                    ));
                    return;
                }
                if items.iter().all(|i| !i.is_object() && !i.is_array()) {
                    return;
                }
                // The union of the default items describes an item.
                let item_default = defaults
                    .and_then(Value::as_array)
                    .map(|ds| {
                        ds.iter()
                            .filter(|d| d.is_object())
                            .fold(Value::Object(Map::new()), |acc, d| merged(&acc, d))
                    })
                    .filter(|d| d.as_object().is_some_and(|m| !m.is_empty()));
                let item_schema = schema
                    .and_then(|s| s.get("items"))
                    .filter(|s| s.is_object());
                if item_default.is_none()
                    && !item_schema
                        .is_some_and(|s| declares_keys(self.root.map_or(s, |r| resolve(r, s))))
                {
                    out.push(Finding::new(
                        path,
                        "a list of maps whose default is empty: its items cannot be checked; allowlist this path with a reason",
                    ));
                    return;
                }
                segs.push("[]".into());
                for (i, item) in items.iter().enumerate() {
                    let p = index_path(path, i);
                    if self.allow.matching(segs).is_none() {
                        self.value(item, item_default.as_ref(), item_schema, segs, &p, out);
                    }
                }
                segs.pop();
            }
            scalar => match defaults {
                Some(d @ (Value::Object(_) | Value::Array(_))) => {
                    out.push(Finding::new(
                        path,
                        format!(
                            "a {} where the chart's default is {} ({})",
                            kind_of(scalar),
                            kind_of(d),
                            short(d)
                        ),
                    ));
                }
                Some(d) if !d.is_null() && scalar_kind(d) != scalar_kind(scalar) => {
                    out.push(Finding::new(
                        path,
                        format!(
                            "a {} ({}) where the chart's default is a {} ({})",
                            scalar_kind(scalar),
                            short(scalar),
                            scalar_kind(d),
                            short(d)
                        ),
                    ));
                }
                _ => {}
            },
        }
    }
}

/// Helm's coalescing of values over defaults: maps merge key by key, a `null` removes the
/// default, anything else replaces it.
pub fn helm_merge(defaults: &Value, values: &Value) -> Value {
    match (defaults, values) {
        (Value::Object(d), Value::Object(v)) => {
            let mut out = d.clone();
            for (k, x) in v {
                if x.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match d.get(k) {
                    Some(dv) => helm_merge(dv, x),
                    None => x.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, Value::Null) => defaults.clone(),
        _ => values.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('.').map(String::from).collect()
    }

    #[test]
    fn glob_patterns() {
        let a = Allowlist::new()
            .allow("**.podAnnotations", "string map")
            .allow("controller.*.config", "free text")
            .allow("rules.[].labels", "labels");
        assert!(a.matching(&segs("podAnnotations")).is_some());
        assert!(a.matching(&segs("a.b.podAnnotations")).is_some());
        assert!(a.matching(&segs("a.b.podAnnotation")).is_none());
        assert!(a.matching(&segs("controller.x.config")).is_some());
        assert!(a.matching(&segs("controller.config")).is_none());
        assert!(a.matching(&segs("rules.[].labels")).is_some());
    }
}
