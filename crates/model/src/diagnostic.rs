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
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
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
        writeln!(f, "{line} | {line_text}")?;
        // Underline the span, clipped to the first line.
        let start_col = col - 1;
        let line_chars = line_text.chars().count();
        let span_text = &src[floor_char_boundary(src, d.span.start.min(src.len()))
            ..floor_char_boundary(src, d.span.end.min(src.len()))];
        let span_chars = span_text.split('\n').next().unwrap_or("").chars().count();
        let width = span_chars.min(line_chars.saturating_sub(start_col)).max(1);
        writeln!(f, "{pad} | {}{}", " ".repeat(start_col), "^".repeat(width))?;
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
