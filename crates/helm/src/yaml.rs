//! YAML output: every file is the generated-file header followed by one or more documents.
//!
//! The emitter is our own: block style, two-space indentation, sequences at the indentation of
//! their key (the style of `kubectl` and most charts), strings quoted only where a YAML 1.1 or 1.2
//! reader could take them for something else. It replaced serde_norway's libyaml port, which
//! took two thirds of the time of `cargo xtask generate` (docs/performance.md). Tests parse every
//! emitted document back with serde_norway and compare it with the value it came from.

use std::fmt::Write as _;

use flotilla_model::artifact::header;
use serde::Serialize;
use serde_json::Value;

/// Any serializable output type as a JSON value (the form manifests are kept in).
pub fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("output types serialize to JSON")
}

/// One document, without header.
pub fn document(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            // Block text of a top-level scalar still needs indentation.
            scalar(&mut out, other, 2);
            out.push('\n');
        }
    }
    out
}

/// The header, then the documents separated by `---`.
pub fn file(docs: &[Value]) -> String {
    file_commented(docs, |_| Vec::new())
}

/// As [`file`], with comment lines before the documents `comments` gives lines for.
pub fn file_commented(docs: &[Value], comments: impl Fn(&Value) -> Vec<String>) -> String {
    let mut out = header("#");
    for (i, d) in docs.iter().enumerate() {
        if i > 0 || docs.len() > 1 {
            out.push_str("---\n");
        }
        for line in comments(d) {
            out.push_str("# ");
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str(&document(d));
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

/// A non-empty mapping whose first key starts at the current position; later keys at `ind`.
fn map(out: &mut String, m: &serde_json::Map<String, Value>, ind: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        string(out, k, ind, true);
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                indent(out, ind + 2);
                map(out, inner, ind + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                indent(out, ind);
                seq(out, items, ind);
            }
            other => {
                out.push(' ');
                scalar(out, other, ind + 2);
                out.push('\n');
            }
        }
    }
}

/// A non-empty sequence whose first `- ` starts at the current position; later items at `ind`.
fn seq(out: &mut String, items: &[Value], ind: usize) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            indent(out, ind);
        }
        out.push_str("- ");
        match v {
            Value::Object(inner) if !inner.is_empty() => map(out, inner, ind + 2),
            Value::Array(inner) if !inner.is_empty() => seq(out, inner, ind + 2),
            other => {
                scalar(out, other, ind + 2);
                out.push('\n');
            }
        }
    }
}

/// A scalar (or empty collection) in flow position; `ind` is the indentation of block text.
fn scalar(out: &mut String, v: &Value, ind: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(out, s, ind, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn string(out: &mut String, s: &str, ind: usize, is_key: bool) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if !is_key && block_literal_fits(s) {
        literal(out, s, ind);
    } else if s.chars().all(|c| !needs_escape(c)) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        double_quoted(out, s);
    }
}

/// Multi-line text as a literal block (`|`, `|-` or `|+`), when YAML can carry it unchanged.
fn block_literal_fits(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars().all(|c| c == '\n' || !needs_escape(c))
        && !s.lines().any(|l| l.ends_with([' ', '\t']))
}

fn literal(out: &mut String, s: &str, ind: usize) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(out, ind);
            out.push_str(line);
        }
    }
    // The final line break of the scalar is the one the caller writes; keep the extra ones.
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Characters that are written only as an escape in a double-quoted scalar: control
/// characters, the byte order mark, and the line and paragraph separators (U+2028, U+2029) that
/// YAML 1.1 readers such as Go's yaml.v2 (Helm, kubectl) take for line breaks (NEL, U+0085, is a
/// control character), so pasted text reads back as written.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
}

/// Whether `s` can be written without quotes and read back as the same string by YAML 1.1
/// (Go's yaml.v2, used by Helm and kubectl) and YAML 1.2 readers alike. One pass over the
/// bytes: this runs for every key and value of every generated file.
fn is_plain_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    // `-foo` and `:foo` are plain in YAML 1.2 but not everywhere; quote every indicator.
    if b"-?:,[]{}#&*!|>'\"%@` \t".contains(&first) || matches!(last, b' ' | b'\t' | b':') {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        // Control characters (line breaks and tabs included) need quotes; so do `: ` and ` #`.
        if c < 0x20 || c == 0x7f || (c == b' ' && prev == b':') || (c == b'#' && prev == b' ') {
            return false;
        }
        prev = c;
    }
    if !s.is_ascii() && s.chars().any(needs_escape) {
        return false;
    }
    // Flow indicators (`[]{},`) inside a plain scalar are fine in block context, the only
    // context this emitter writes collections in.
    !is_special_scalar(s)
}

/// Words and number shapes a YAML 1.1 or 1.2 reader resolves to something other than a string.
fn is_special_scalar(s: &str) -> bool {
    const WORDS: [&str; 15] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf",
        ".nan", "<<",
    ];
    if s.len() <= 5 && (s == "=" || WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))) {
        return true;
    }
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let Some(c) = body.chars().next() else {
        return false;
    };
    if !(c.is_ascii_digit() || c == '.') {
        return false;
    }
    // Integers in other bases, then anything made only of the characters of decimal numbers,
    // floats, sexagesimal numbers, dates and times (`1e3`, `12:30`, `2026-11-26T10:00Z`):
    // the shapes are many and quoting one too many costs nothing.
    let radix = |prefix: &str, ok: fn(char) -> bool| {
        body.strip_prefix(prefix)
            .is_some_and(|r| !r.is_empty() && r.chars().all(|c| ok(c) || c == '_'))
    };
    if radix("0x", |c| c.is_ascii_hexdigit())
        || radix("0o", |c| ('0'..='7').contains(&c))
        || radix("0b", |c| c == '0' || c == '1')
    {
        return true;
    }
    body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || "._:-+eEtTzZ ".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: &Value) {
        let text = document(v);
        let back: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("emitted YAML does not parse: {e}\n{text}"));
        assert_eq!(&back, v, "round trip changed the value:\n{text}");
    }

    /// Pasted text with the characters YAML 1.1 readers take for line breaks (NEL, LS, PS)
    /// is written as escapes, never raw, and reads back as written.
    #[test]
    fn yaml_1_1_line_breaks_are_escaped() {
        for s in [
            "a\u{2028}b",
            "a\u{2029}b",
            "a\u{85}b",
            "two\nlines\u{2028}here",
            "\u{feff}bom",
        ] {
            let v = json!({ "summary": s });
            let text = document(&v);
            assert!(
                !text.contains(['\u{2028}', '\u{2029}', '\u{85}', '\u{feff}']),
                "raw break in {text:?}"
            );
            round_trip(&v);
        }
        assert_eq!(
            document(&json!({ "s": "a\u{2028}b" })),
            "s: \"a\\u2028b\"\n"
        );
    }

    #[test]
    fn style_matches_kubectl() {
        let v = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "x"}},
            "data": {"script.sh": "#!/bin/sh\necho hi\n", "empty": ""},
            "list": [{"a": 1, "b": [true, null]}, "s", []],
            "nested": [["a", "b"]],
            "obj": {}
        });
        let text = document(&v);
        // serde_json maps are sorted by key.
        assert_eq!(
            text,
            "apiVersion: v1\ndata:\n  empty: ''\n  script.sh: |\n    #!/bin/sh\n    echo hi\nkind: ConfigMap\n\
             list:\n- a: 1\n  b:\n  - true\n  - null\n- s\n- []\nmetadata:\n  labels:\n    app.kubernetes.io/name: x\n\
             \x20 name: x\nnested:\n- - a\n  - b\nobj: {}\n"
        );
        round_trip(&v);
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "true",
            "No",
            "on",
            "null",
            "~",
            "1",
            "0x1F",
            "1e3",
            "1_000",
            "12:30",
            "2026-11-26",
            ".5",
            "-1",
            "+1",
            ".inf",
            "0o17",
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#x",
            "- x",
            "*x",
            "&x",
            "!x",
            "%x",
            "@x",
            "`x",
            "'x'",
            "\"x\"",
            "[x]",
            "{x}",
            "x:",
            "tab\there",
            "ctrl\u{1}",
            "y",
            "=",
        ] {
            let v = Value::String(s.to_string());
            let text = document(&v);
            assert!(
                text.starts_with(['\'', '"']),
                "{s:?} was written plain: {text}"
            );
            round_trip(&v);
        }
        for s in [
            "10.0.0.0/16",
            "m6i.large",
            "gp3",
            "api.example.com",
            "a-b",
            "15d",
            "v1",
        ] {
            assert_eq!(document(&Value::String(s.into())), format!("{s}\n"));
        }
    }

    #[test]
    fn multi_line_strings_round_trip() {
        for s in [
            "a\nb",
            "a\nb\n",
            "a\nb\n\n",
            "a\n\nb\n",
            " lead\nx",
            "trail \nx",
            "x\n lead",
            "{\n  \"json\": true\n}",
            "\nstarts with newline",
        ] {
            round_trip(&json!({ "k": s, "l": [s] }));
        }
    }

    use proptest::prelude::*;

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[ -~\n\t]{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "true", "1.0", "yes", "a: b", "- x", "#", "", "0x10", "12:00"
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[ -~]{0,8}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_round_trips(v in arb_value()) {
            let text = document(&v);
            let back: Value = serde_norway::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, v, "{}", text);
        }
    }
}
