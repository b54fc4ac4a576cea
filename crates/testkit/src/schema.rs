//! A validator for the subset of JSON Schema that Kubernetes structural schemas (CRDs) and Helm
//! `values.schema.json` files use.
//!
//! Written here rather than taken from a JSON Schema crate because the two dialects differ where
//! it matters for us: Kubernetes prunes (we report) unknown fields unless
//! `x-kubernetes-preserve-unknown-fields` is set, and knows `x-kubernetes-int-or-string`,
//! `x-kubernetes-embedded-resource` and `x-kubernetes-list-type`; a Helm schema without
//! `additionalProperties` says nothing about unknown keys (the values check decides those).
//!
//! Supported: `$ref` (local), `type` (string or list), `nullable`, `enum`, `const`,
//! `properties`, `patternProperties`, `additionalProperties`, `required`, `items` (schema or
//! tuple), `minimum`/`maximum`/`exclusive*`/`multipleOf`, `minLength`/`maxLength`, `pattern`,
//! `minItems`/`maxItems`/`uniqueItems`, `minProperties`/`maxProperties`, `allOf`/`anyOf`/
//! `oneOf`/`not`, and the Kubernetes extensions above. Not evaluated: `format`, CEL rules
//! (`x-kubernetes-validations`), defaults.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;
use serde_json::{Map, Value};

use crate::Finding;

/// Which rules apply to fields the schema does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Kubernetes structural schema: an object's undeclared fields are errors unless
    /// `additionalProperties` or `x-kubernetes-preserve-unknown-fields` allows them.
    Kubernetes,
    /// JSON Schema as Helm uses it: undeclared fields are allowed unless
    /// `additionalProperties: false`.
    HelmValues,
}

/// Validates `value` against `schema` (whose `$ref`s resolve against `root`).
pub fn validate(
    root: &Value,
    schema: &Value,
    value: &Value,
    dialect: Dialect,
    path: &str,
) -> Vec<Finding> {
    let v = Validator {
        root,
        dialect,
        regexes: RefCell::new(HashMap::new()),
    };
    let mut out = Vec::new();
    v.check(schema, value, path, true, false, &mut out);
    out
}

struct Validator<'a> {
    root: &'a Value,
    dialect: Dialect,
    regexes: RefCell<HashMap<String, Option<Regex>>>,
}

/// `a.b`, `a[0]`: the path of a child.
pub fn child_path(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

pub fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, ty: &str) -> bool {
    match ty {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// The closest of `known` to `key` when it is a likely misspelling.
pub fn suggestion<'k>(key: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len().max(key.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours (the commonest typo, `tsl` for `tls`) each count one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// "unknown field" text with the known names (and a suggestion) so a typo is obvious.
pub fn unknown_field_message(key: &str, known: &[&str]) -> String {
    let mut msg = format!("unknown field \"{key}\"");
    if let Some(s) = suggestion(key, known.iter().copied()) {
        msg.push_str(&format!(" (did you mean \"{s}\"?)"));
    }
    if !known.is_empty() {
        let mut shown: Vec<&str> = known.to_vec();
        shown.sort_unstable();
        let more = shown.len().saturating_sub(12);
        shown.truncate(12);
        msg.push_str(&format!("; known: {}", shown.join(", ")));
        if more > 0 {
            msg.push_str(&format!(", ... ({more} more)"));
        }
    }
    msg
}

impl Validator<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut s = schema;
        for _ in 0..32 {
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with('#') => match self.root.pointer(&r[1..]) {
                    Some(t) => s = t,
                    None => return s,
                },
                _ => return s,
            }
        }
        s
    }

    fn regex_matches(&self, pattern: &str, text: &str) -> Option<bool> {
        let mut cache = self.regexes.borrow_mut();
        let re = cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok());
        re.as_ref().map(|re| re.is_match(text))
    }

    fn passes(&self, schema: &Value, value: &Value, path: &str) -> Result<(), Vec<Finding>> {
        let mut out = Vec::new();
        self.check(schema, value, path, false, false, &mut out);
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// `strict`: report undeclared fields (off inside `allOf`/`anyOf`/`oneOf`/`not`, whose
    /// branches only add value checks in a structural schema).
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        strict: bool,
        inherited_preserve: bool,
        out: &mut Vec<Finding>,
    ) {
        let schema = self.resolve(schema);
        let Some(s) = schema.as_object() else {
            // `true` allows everything, `false` nothing.
            if schema == &Value::Bool(false) {
                out.push(Finding::new(path, "no value is allowed here"));
            }
            return;
        };
        // Kubernetes keeps unknown fields under `x-kubernetes-preserve-unknown-fields`, and the
        // flag carries on into `items` (not into declared properties), as the API server prunes.
        let preserve = inherited_preserve
            || s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        let types: Vec<&str> = match s.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if value.is_null() {
            let nullable = s.get("nullable") == Some(&Value::Bool(true))
                || types.contains(&"null")
                || types.is_empty();
            if !nullable {
                out.push(Finding::new(
                    path,
                    format!("null where {} is expected", types.join(" or ")),
                ));
            }
            return;
        }
        if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
            if !(is_type(value, "integer") || value.is_string()) {
                out.push(Finding::new(
                    path,
                    format!("expected an integer or a string, found {}", kind_of(value)),
                ));
            }
            self.combinators(s, value, path, out);
            return;
        }
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            out.push(Finding::new(
                path,
                format!(
                    "expected {}, found {} ({})",
                    types.join(" or "),
                    kind_of(value),
                    short(value)
                ),
            ));
            return;
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.contains(value)
        {
            let shown: Vec<String> = options.iter().map(short).collect();
            out.push(Finding::new(
                path,
                format!("{} is not one of {}", short(value), shown.join(", ")),
            ));
        }
        if let Some(c) = s.get("const")
            && c != value
        {
            out.push(Finding::new(
                path,
                format!("{} is not {}", short(value), short(c)),
            ));
        }
        match value {
            Value::Number(n) => self.number(s, n.as_f64().unwrap_or(f64::NAN), path, out),
            Value::String(text) => self.string(s, text, path, out),
            Value::Array(items) => self.array(s, items, path, strict, preserve, out),
            Value::Object(fields) => self.object(s, fields, path, strict, preserve, out),
            _ => {}
        }
        self.combinators(s, value, path, out);
    }

    fn combinators(
        &self,
        s: &Map<String, Value>,
        value: &Value,
        path: &str,
        out: &mut Vec<Finding>,
    ) {
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, value, path, false, false, out);
            }
        }
        if let Some(Value::Array(any)) = s.get("anyOf") {
            let results: Vec<_> = any
                .iter()
                .map(|sub| self.passes(sub, value, path))
                .collect();
            if !results.iter().any(Result::is_ok) {
                let why: Vec<String> = results
                    .into_iter()
                    .filter_map(Result::err)
                    .filter_map(|f| f.into_iter().next())
                    .map(|f| f.to_string())
                    .collect();
                out.push(Finding::new(
                    path,
                    format!("matches none of the anyOf alternatives: {}", why.join("; ")),
                ));
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let ok = one
                .iter()
                .filter(|sub| self.passes(sub, value, path).is_ok())
                .count();
            if ok != 1 {
                out.push(Finding::new(
                    path,
                    format!("matches {ok} of the oneOf alternatives, not exactly one"),
                ));
            }
        }
        if let Some(not) = s.get("not")
            && self.passes(not, value, path).is_ok()
        {
            out.push(Finding::new(
                path,
                "matches a schema it must not match (not)",
            ));
        }
    }

    fn number(&self, s: &Map<String, Value>, x: f64, path: &str, out: &mut Vec<Finding>) {
        let f = |k: &str| s.get(k).and_then(Value::as_f64);
        // draft-4 / Kubernetes: exclusiveMinimum is a boolean modifier; later drafts: a number.
        let excl = |k: &str| s.get(k) == Some(&Value::Bool(true));
        if let Some(min) = f("minimum")
            && (x < min || (excl("exclusiveMinimum") && x == min))
        {
            out.push(Finding::new(
                path,
                format!("{x} is below the minimum {min}"),
            ));
        }
        if let Some(max) = f("maximum")
            && (x > max || (excl("exclusiveMaximum") && x == max))
        {
            out.push(Finding::new(
                path,
                format!("{x} is above the maximum {max}"),
            ));
        }
        if let Some(min) = f("exclusiveMinimum")
            && x <= min
        {
            out.push(Finding::new(path, format!("{x} is not above {min}")));
        }
        if let Some(max) = f("exclusiveMaximum")
            && x >= max
        {
            out.push(Finding::new(path, format!("{x} is not below {max}")));
        }
        if let Some(m) = f("multipleOf")
            && m > 0.0
            && ((x / m) - (x / m).round()).abs() > 1e-9
        {
            out.push(Finding::new(path, format!("{x} is not a multiple of {m}")));
        }
    }

    fn string(&self, s: &Map<String, Value>, text: &str, path: &str, out: &mut Vec<Finding>) {
        let len = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            out.push(Finding::new(
                path,
                format!("{text:?} is shorter than {min} characters"),
            ));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            out.push(Finding::new(
                path,
                format!("{text:?} is longer than {max} characters"),
            ));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && self.regex_matches(p, text) == Some(false)
        {
            out.push(Finding::new(
                path,
                format!("{text:?} does not match the pattern {p:?}"),
            ));
        }
    }

    fn array(
        &self,
        s: &Map<String, Value>,
        items: &[Value],
        path: &str,
        strict: bool,
        preserve: bool,
        out: &mut Vec<Finding>,
    ) {
        let n = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && n < min
        {
            out.push(Finding::new(
                path,
                format!("{n} items, at least {min} needed"),
            ));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && n > max
        {
            out.push(Finding::new(
                path,
                format!("{n} items, at most {max} allowed"),
            ));
        }
        let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
        if s.get("uniqueItems") == Some(&Value::Bool(true)) || list_type == Some("set") {
            for (i, a) in items.iter().enumerate() {
                if items[..i].contains(a) {
                    out.push(Finding::new(
                        &index_path(path, i),
                        format!("duplicate item {}", short(a)),
                    ));
                }
            }
        }
        if list_type == Some("map")
            && let Some(Value::Array(keys)) = s.get("x-kubernetes-list-map-keys")
        {
            let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
            let mut seen: Vec<Vec<&Value>> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let k: Vec<&Value> = keys
                    .iter()
                    .map(|k| item.get(k).unwrap_or(&Value::Null))
                    .collect();
                if seen.contains(&k) {
                    out.push(Finding::new(
                        &index_path(path, i),
                        format!("duplicate list-map key ({})", keys.join(", ")),
                    ));
                }
                seen.push(k);
            }
        }
        match s.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (item, sub)) in items.iter().zip(tuple).enumerate() {
                    self.check(sub, item, &index_path(path, i), strict, preserve, out);
                }
            }
            Some(sub) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(sub, item, &index_path(path, i), strict, preserve, out);
                }
            }
            None => {}
        }
    }

    fn object(
        &self,
        s: &Map<String, Value>,
        fields: &Map<String, Value>,
        path: &str,
        strict: bool,
        preserve: bool,
        out: &mut Vec<Finding>,
    ) {
        let n = fields.len() as u64;
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
            && n < min
        {
            out.push(Finding::new(
                path,
                format!("{n} fields, at least {min} needed"),
            ));
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
            && n > max
        {
            out.push(Finding::new(
                path,
                format!("{n} fields, at most {max} allowed"),
            ));
        }
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(r) {
                    out.push(Finding::new(
                        &child_path(path, r),
                        "required field is missing",
                    ));
                }
            }
        }
        let empty = Map::new();
        let props = s
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let patterns = s.get("patternProperties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        let embedded = s.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
        for (key, child) in fields {
            let p = child_path(path, key);
            if let Some(sub) = props.get(key) {
                self.check(sub, child, &p, strict, false, out);
                continue;
            }
            let mut matched = false;
            if let Some(patterns) = patterns {
                for (pattern, sub) in patterns {
                    if self.regex_matches(pattern, key) == Some(true) {
                        matched = true;
                        self.check(sub, child, &p, strict, false, out);
                    }
                }
            }
            if matched {
                continue;
            }
            match additional {
                Some(Value::Bool(false)) => {
                    if strict || self.dialect == Dialect::HelmValues {
                        let known: Vec<&str> = props.keys().map(String::as_str).collect();
                        out.push(Finding::new(&p, unknown_field_message(key, &known)));
                    }
                }
                Some(sub @ Value::Object(_)) => self.check(sub, child, &p, strict, false, out),
                Some(_) => {}
                None => {
                    let allowed = match self.dialect {
                        Dialect::HelmValues => true,
                        Dialect::Kubernetes => {
                            preserve
                                || (embedded
                                    && matches!(key.as_str(), "apiVersion" | "kind" | "metadata"))
                        }
                    };
                    if !allowed && strict {
                        let known: Vec<&str> = props.keys().map(String::as_str).collect();
                        out.push(Finding::new(&p, unknown_field_message(key, &known)));
                    }
                }
            }
        }
    }
}

/// A value shortened for messages.
pub fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k8s(schema: &Value, v: &Value) -> Vec<String> {
        validate(schema, schema, v, Dialect::Kubernetes, "")
            .into_iter()
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn unknown_fields_depend_on_the_dialect() {
        let schema = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}});
        let v = json!({"replica": 3});
        let k = k8s(&schema, &v);
        assert_eq!(k.len(), 1);
        assert!(
            k[0].starts_with("replica: unknown field \"replica\" (did you mean \"replicas\"?)"),
            "{k:?}"
        );
        assert!(validate(&schema, &schema, &v, Dialect::HelmValues, "").is_empty());
        let preserve = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        assert!(k8s(&preserve, &v).is_empty());
        // The flag carries into list items, not into declared properties.
        let list = json!({"type": "array", "x-kubernetes-preserve-unknown-fields": true,
                          "items": {"type": "object", "properties": {"a": {"type": "object", "properties": {}}}}});
        assert!(k8s(&list, &json!([{"x": 1}])).is_empty());
        assert_eq!(k8s(&list, &json!([{"a": {"y": 1}}])).len(), 1);
        let map = json!({"type": "object", "additionalProperties": {"type": "string"}});
        assert_eq!(
            k8s(&map, &json!({"a": "x", "b": 1})),
            ["b: expected string, found integer (1)"]
        );
    }

    #[test]
    fn types_int_or_string_and_null() {
        let schema = json!({"type": "object", "properties": {
            "port": {"x-kubernetes-int-or-string": true},
            "n": {"type": "integer", "minimum": 1, "maximum": 5},
            "s": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
            "o": {"type": "object", "nullable": true},
        }});
        assert!(k8s(&schema, &json!({"port": 80, "n": 3, "s": "ab", "o": null})).is_empty());
        assert!(k8s(&schema, &json!({"port": "http"})).is_empty());
        let errs = k8s(&schema, &json!({"port": true, "n": 9, "s": "ABCD"}));
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(
            errs.iter()
                .any(|e| e.starts_with("port: expected an integer or a string"))
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("n: 9 is above the maximum 5"))
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("does not match the pattern"))
        );
        assert!(errs.iter().any(|e| e.contains("longer than 3")));
        assert_eq!(
            k8s(&schema, &json!({"n": 1.5})),
            ["n: expected integer, found number (1.5)"]
        );
        assert_eq!(
            k8s(&schema, &json!({"n": null})),
            ["n: null where integer is expected"]
        );
    }

    #[test]
    fn required_enum_items_and_list_maps() {
        let schema = json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "enum": ["a", "b"]},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"],
                      "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
        }});
        let errs = k8s(
            &schema,
            &json!({"ports": [{"port": 1}, {"port": 1}, {"prot": 2}]}),
        );
        assert!(
            errs.contains(&"name: required field is missing".to_string()),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ports[1]: duplicate list-map key")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.starts_with("ports[2].prot: unknown field")),
            "{errs:?}"
        );
        assert_eq!(
            k8s(&schema, &json!({"name": "c"})),
            ["name: \"c\" is not one of \"a\", \"b\""]
        );
    }

    #[test]
    fn combinators_and_refs() {
        let schema = json!({
            "definitions": {"port": {"type": "integer", "minimum": 1}},
            "type": "object",
            "properties": {"p": {"$ref": "#/definitions/port"}, "q": {"type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}},
        });
        assert!(k8s(&schema, &json!({"p": 2, "q": {"a": "x"}})).is_empty());
        assert_eq!(
            k8s(&schema, &json!({"p": 0})),
            ["p: 0 is below the minimum 1"]
        );
        let errs = k8s(&schema, &json!({"q": {"a": "x", "b": "y"}}));
        assert_eq!(
            errs,
            ["q: matches 2 of the oneOf alternatives, not exactly one"]
        );
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(
            suggestion("replcas", ["replicas", "resources"]),
            Some("replicas")
        );
        assert_eq!(suggestion("zzzz", ["replicas", "resources"]), None);
        assert_eq!(suggestion("tsl", ["tls", "type"]), Some("tls"));
        assert_eq!(edit_distance("nodeSet", "nodeSets"), 1);
    }
}
