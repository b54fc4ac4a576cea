//! YAML documents as `serde_json::Value`s: the one tree type the checks walk.
//!
//! Parsed with `serde_norway`; merge keys (`<<: *anchor`) are applied and non-string mapping keys
//! (`80: ...`, `true: ...`) are turned into their text, as Helm and Kubernetes see them.

use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// Every non-empty document of a (multi-document) YAML text.
pub fn documents(text: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let mut v = serde_norway::Value::deserialize(doc).map_err(|e| e.to_string())?;
        v.apply_merge().map_err(|e| e.to_string())?;
        if !v.is_null() {
            out.push(to_json(v)?);
        }
    }
    Ok(out)
}

/// One YAML document (an empty text is `null`).
pub fn document(text: &str) -> Result<Value, String> {
    let mut docs = documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

fn to_json(v: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => to_json(t.value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keys_and_non_string_keys() {
        let v = document("base: &b {a: 1}\nx:\n  <<: *b\n  c: 2\nports:\n  80: http\n").unwrap();
        assert_eq!(v["x"]["a"], 1);
        assert_eq!(v["x"]["c"], 2);
        assert_eq!(v["ports"]["80"], "http");
    }

    #[test]
    fn several_documents() {
        let docs = documents("a: 1\n---\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert!(document("a: 1\n---\nb: 2\n").is_err());
    }
}
