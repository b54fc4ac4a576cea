//! Located errors in `platform.toml`, rendered like a compiler diagnostic.
//!
//! ```text
//! platform.toml:12:8: error: cluster name "Prod_1" is not a valid DNS-1123 label
//!    |
//! 12 | name = "Prod_1"
//!    |        ^^^^^^^^
//!    = help: use lowercase letters, digits and '-', start with a letter, at most 63 characters
//! ```

use std::fmt;
use std::ops::Range;

/// How bad a diagnostic is. Only errors exist today; the type leaves room for warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
}

/// One problem in the platform file, at a byte range of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Range<usize>,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: tidy(&message.into()),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(tidy(&help.into()));
        self
    }
}

/// The longest quoted value a message shows whole.
const MAX_QUOTED: usize = 80;

/// A message as one readable line, whatever values it quotes: control, invisible and
/// line-breaking characters are named (`\n`, `<U+200B ZERO WIDTH SPACE>`) rather than echoed,
/// and a quoted value longer than [`MAX_QUOTED`] characters is shortened with its length said.
pub fn tidy(text: &str) -> String {
    let mut named = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => named.push_str("\\n"),
            '\r' => named.push_str("\\r"),
            '\t' => named.push_str("\\t"),
            c if c.is_control() || invisible(c).is_some() => {
                let name = invisible(c).unwrap_or("CONTROL CHARACTER");
                named.push_str(&format!("<U+{:04X} {name}>", c as u32));
            }
            c => named.push(c),
        }
    }
    // Shorten long quoted runs: `"...."` pairs, in order.
    let mut out = String::with_capacity(named.len());
    let mut rest = named.as_str();
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find('"') else { break };
        let quoted = &rest[..close];
        let n = quoted.chars().count();
        if n > MAX_QUOTED {
            let head: String = quoted.chars().take(MAX_QUOTED - 20).collect();
            let tail: String = quoted.chars().skip(n - 10).collect();
            out.push_str(&format!("{head}…{tail}\" ({n} characters)"));
            rest = &rest[close + 1..];
        } else {
            out.push_str(quoted);
            out.push('"');
            rest = &rest[close + 1..];
        }
    }
    out.push_str(rest);
    // And any other run without a space (an unquoted list of values, a path).
    out.split(' ')
        .map(|word| {
            let n = word.chars().count();
            if n > MAX_QUOTED {
                let head: String = word.chars().take(MAX_QUOTED - 20).collect();
                let tail: String = word.chars().skip(n - 10).collect();
                format!("{head}…{tail} ({n} characters)")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name of a character that does not show, or shows as something else: format
/// characters, line and paragraph separators (which YAML 1.1 readers treat as breaks).
fn invisible(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{00A0}' => "NO-BREAK SPACE",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{034F}' => "COMBINING GRAPHEME JOINER",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{0085}' => "NEXT LINE",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => "HANGUL FILLER",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202A}'..='\u{202E}' => "BIDIRECTIONAL FORMATTING",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}'..='\u{2064}' => "INVISIBLE OPERATOR",
        '\u{2066}'..='\u{2069}' => "BIDIRECTIONAL ISOLATE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (BYTE ORDER MARK)",
        '\u{FFFD}' => "REPLACEMENT CHARACTER",
        '\u{E0000}'..='\u{E007F}' => "TAG CHARACTER",
        _ => return None,
    })
}

/// The platform file did not load: every diagnostic found, in source order.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    pub file: String,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// A 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The most characters of a source line a diagnostic echoes.
const MAX_ECHO: usize = 120;

impl LoadError {
    /// `file:line:col` of a diagnostic.
    pub fn location(&self, d: &Diagnostic) -> String {
        let (line, col) = line_col(&self.source_text, d.span.start);
        format!("{}:{line}:{col}", self.file)
    }

    fn render_one(&self, d: &Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let src = &self.source_text;
        let (line, col) = line_col(src, d.span.start);
        writeln!(f, "{}: error: {}", self.location(d), d.message)?;
        let line_text = src.lines().nth(line - 1).unwrap_or("");
        let gutter = line.to_string().len();
        let pad = " ".repeat(gutter);
        writeln!(f, "{pad} |")?;
        // A long line is shown as a window around the column, never kilobytes on one line.
        let chars: Vec<char> = line_text.chars().collect();
        let start_col = col - 1;
        let (from, to) = if chars.len() > MAX_ECHO {
            let from = start_col
                .saturating_sub(MAX_ECHO / 3)
                .min(chars.len() - MAX_ECHO);
            (from, from + MAX_ECHO)
        } else {
            (0, chars.len())
        };
        let lead = if from > 0 { "…" } else { "" };
        let tail = if to < chars.len() { "…" } else { "" };
        let shown: String = chars[from..to].iter().collect();
        writeln!(f, "{line} | {lead}{shown}{tail}")?;
        // Underline the span, clipped to the first line and to the window.
        let span_text = &src[floor_char_boundary(src, d.span.start.min(src.len()))
            ..floor_char_boundary(src, d.span.end.min(src.len()))];
        let span_chars = span_text.split('\n').next().unwrap_or("").chars().count();
        let caret = start_col.clamp(from, to) - from + lead.chars().count();
        let width = span_chars
            .min(to.saturating_sub(start_col.max(from)))
            .max(1);
        writeln!(f, "{pad} | {}{}", " ".repeat(caret), "^".repeat(width))?;
        if let Some(help) = &d.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            self.render_one(d, f)?;
        }
        let n = self.diagnostics.len();
        write!(
            f,
            "\nerror: {} is not a valid platform: {n} error{}",
            self.file,
            if n == 1 { "" } else { "s" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let src = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        let x = src.find('"').unwrap();
        assert_eq!(line_col(src, x), (2, 6));
    }

    #[test]
    fn messages_name_what_does_not_show_and_shorten_long_values() {
        assert_eq!(
            tidy("cluster name \"new\nline\" is not valid"),
            "cluster name \"new\\nline\" is not valid"
        );
        assert_eq!(
            tidy("name \"a\u{200B}b\" and \"c\u{2028}\""),
            "name \"a<U+200B ZERO WIDTH SPACE>b\" and \"c<U+2028 LINE SEPARATOR>\""
        );
        let long = format!("name \"{}\" is not valid", "x".repeat(3000));
        let t = tidy(&long);
        assert!(t.chars().count() < 120, "{t}");
        assert!(
            t.contains("(3000 characters)") && t.ends_with(" is not valid"),
            "{t}"
        );
        let t = tidy(&format!("known receivers: {}, b", "a-".repeat(1500)));
        assert!(
            t.chars().count() < 120 && t.contains("-a-, (3001 characters) b"),
            "{t}"
        );
        // Our own text is untouched.
        let plain = "vpc_cidr \"10.0.0.0/16\" overlaps cluster \"staging\"";
        assert_eq!(tidy(plain), plain);
    }

    #[test]
    fn a_long_line_is_echoed_as_a_window_around_the_column() {
        let src = format!("name = \"{}x{}\"\n", "a".repeat(3000), "b".repeat(3000));
        let at = src.find('x').unwrap();
        let err = LoadError {
            file: "platform.toml".into(),
            source_text: src.clone(),
            diagnostics: vec![Diagnostic::error(at..at + 1, "bad")],
        };
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() < 140), "{text}");
        // The caret is under the x.
        let shown = lines[2].split_once(" | ").unwrap().1;
        let caret = lines[3].split_once(" | ").unwrap().1;
        let col = caret.chars().position(|c| c == '^').unwrap();
        assert_eq!(shown.chars().nth(col), Some('x'), "{text}");
        assert!(shown.starts_with('…') && shown.ends_with('…'));
    }

    #[test]
    fn renders_like_a_compiler() {
        let src = "[platform]\nname = \"Bad_Name\"\n";
        let start = src.find('"').unwrap();
        let err = LoadError {
            file: "platform.toml".into(),
            source_text: src.into(),
            diagnostics: vec![
                Diagnostic::error(start..start + 10, "bad name").with_help("use lowercase"),
            ],
        };
        let text = err.to_string();
        assert_eq!(
            text,
            "platform.toml:2:8: error: bad name\n  |\n2 | name = \"Bad_Name\"\n  |        ^^^^^^^^^^\n  = help: use lowercase\n\nerror: platform.toml is not a valid platform: 1 error"
        );
    }
}
