//! YAML output: every file is the generated-file header followed by one or more documents.

use flotilla_model::artifact::header;
use serde::Serialize;
use serde_json::Value;

/// Any serializable output type as a JSON value (the form manifests are kept in).
pub fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("output types serialize to JSON")
}

/// One document, without header.
pub fn document(v: &Value) -> String {
    serde_norway::to_string(v).expect("JSON values serialize to YAML")
}

/// The header, then the documents separated by `---`.
pub fn file(docs: &[Value]) -> String {
    let mut out = header("#");
    for (i, d) in docs.iter().enumerate() {
        if i > 0 || docs.len() > 1 {
            out.push_str("---\n");
        }
        out.push_str(&document(d));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}
