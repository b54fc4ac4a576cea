//! TOML parser errors (syntax, types, unknown and missing keys) in the words of the platform file.

use std::ops::Range;

use crate::diagnostic::Diagnostic;

/// A syntax, type, unknown-key or missing-key error from the TOML parser, in the words of the
/// file format (keys, arrays, tables) rather than serde's (fields, sequences, maps), with a help
/// that says what to write.
pub(super) fn parse_error(source: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim_end();
    // An array or inline table left open is noticed at the start of the next line (which the
    // parser takes for another element); the mistake is on the line that left it open.
    let at_line_start = source
        .get(..span.start)
        .is_some_and(|b| b.is_empty() || b.ends_with('\n'));
    if at_line_start
        && msg.ends_with("expected `,`")
        && let Some(open) = previous_content_line(source, span.start)
    {
        return Diagnostic::error(open, format!("invalid TOML: {msg}")).with_help(
            "an array or inline table is still open after this line: close it with `]` or `}`, or put `,` between its elements",
        );
    }
    let text = source.get(span.clone()).unwrap_or("");
    let first_line = text.lines().next().unwrap_or("").trim();
    let docs = "docs/platform-reference.md lists every key";
    // The backquoted names after "expected" (serde's list of the keys a table takes).
    let expected_keys = |m: &str| -> Vec<String> {
        m.split_once("expected")
            .map(|(_, list)| {
                list.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        let keys = expected_keys(rest);
        let help = match keys.iter().min_by_key(|k| edit_distance(key, k)) {
            // Short keys are too alike to guess between (`gpu` is not a misspelt `cpu`).
            Some(k) if edit_distance(key, k) <= 2 && 4 * edit_distance(key, k) <= key.len() => {
                format!("did you mean `{k}`? ({docs})")
            }
            _ if keys.is_empty() => format!("this table takes no keys ({docs})"),
            _ => format!("the keys here are {} ({docs})", keys.join(", ")),
        };
        return Diagnostic::error(span, format!("unknown key `{key}`")).with_help(help);
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or("");
        return if first_line.starts_with('[') {
            Diagnostic::error(span, format!("missing key `{key}` in {first_line}"))
                .with_help(format!("add `{key} = ...` to this table ({docs})"))
        } else if span.start == 0 && !first_line.starts_with('{') {
            // The top level: every required key there is a table.
            Diagnostic::error(span, format!("missing table [{key}]"))
                .with_help(format!("add a [{key}] table ({docs})"))
        } else {
            Diagnostic::error(span, format!("missing key `{key}` in this table"))
                .with_help(format!("add `{key} = ...` ({docs})"))
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        // An integer beyond 64 bits reaches serde as an i128.
        if let Some(n) = found
            .strip_prefix("integer `")
            .and_then(|r| r.strip_suffix("` as i128"))
        {
            return Diagnostic::error(
                span,
                format!("the number {n} is too large"),
            )
            .with_help(format!(
                "integers here fit in 64 bits (at most {}); docs/platform-reference.md gives each key's range",
                i64::MAX
            ));
        }
        // A TOML date or time reaches serde as a table of one key.
        let is_datetime = {
            let t = text.trim();
            t.len() >= 8
                && t.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && t.as_bytes()[4] == b'-'
                || (t.len() >= 5
                    && t.as_bytes()[2] == b':'
                    && t.as_bytes()[..2].iter().all(u8::is_ascii_digit))
        };
        if is_datetime && found == "map" {
            return Diagnostic::error(
                span,
                format!(
                    "invalid type: a date or time, expected {}",
                    match expected {
                        "a string" => "a string",
                        "i64" | "u32" | "u64" => "an integer",
                        "f64" => "a number",
                        _ => "another value",
                    }
                ),
            )
            .with_help(format!(
                "TOML reads {} unquoted as a date; quote it if it is text: \"{}\"",
                text.trim(),
                text.trim()
            ));
        }
        let found = found.replace("map", "table").replace("sequence", "array");
        let (expected, help) = match expected {
            "i64" | "u32" | "u64" => {
                let unquoted = text.trim_matches('"');
                let help = if unquoted.parse::<i64>().is_ok() {
                    format!("write the number without quotes: {unquoted}")
                } else {
                    "write a whole number, e.g. 3".to_string()
                };
                ("an integer", help)
            }
            "f64" => (
                "a number",
                "write a number without quotes, e.g. 80".to_string(),
            ),
            "a string" => (
                "a string",
                format!("strings are quoted in TOML: \"{}\"", text.trim()),
            ),
            "a boolean" => ("a boolean", "write true or false".to_string()),
            "a sequence" => ("an array", format!("write an array: [{}]", text.trim())),
            _ => (
                "a table",
                format!("write a [table] or an inline {{ key = value }} table ({docs})"),
            ),
        };
        return Diagnostic::error(span, format!("invalid type: {found}, expected {expected}"))
            .with_help(help);
    }
    if msg.starts_with("string values must be quoted") {
        let help = if text.trim().is_empty() {
            "write a value after `=`".to_string()
        } else {
            format!("quote it: \"{}\"", text.trim())
        };
        return Diagnostic::error(span, format!("invalid TOML: {msg}")).with_help(help);
    }
    if msg == "duplicate key" {
        return Diagnostic::error(span, format!("duplicate key `{first_line}`"))
            .with_help("a key may appear once in a table; remove one of them");
    }
    Diagnostic::error(span, format!("invalid TOML: {msg}")).with_help(
        "the parser stopped here; the mistake may be just before (an unclosed bracket or quote?), see https://toml.io",
    )
}

pub(crate) use crate::names::edit_distance;

/// The byte range of the last line before `offset` with anything but blanks or a comment,
/// without its surrounding whitespace.
fn previous_content_line(source: &str, offset: usize) -> Option<Range<usize>> {
    let before = source.get(..offset)?;
    let mut end = before.len();
    for line in before.split_inclusive('\n').rev() {
        let start = end - line.len();
        end = start;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let lead = line.len() - line.trim_start().len();
        return Some(start + lead..start + lead + trimmed.len());
    }
    None
}
