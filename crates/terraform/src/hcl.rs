//! A small HCL document type and its writer.
//!
//! The renderer builds these output types from the model and writes them out already in the
//! canonical layout of `terraform fmt` (two-space indent, `=` aligned across a run of one-line
//! attributes, multi-line lists with trailing commas), so the committed files pass
//! `terraform fmt -check` unchanged. The rules followed are those of hclwrite's formatter:
//! a run of aligned attributes is broken by a blank line, a comment, a nested block or an
//! attribute whose value spans several lines.

use std::fmt::Write as _;

/// The body of a file or a block: attributes, nested blocks, blank lines and comments, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Attr(String, Expr),
    Block(Block),
    Blank,
    Comment(String),
}

/// `kind "label" "label" { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
}

/// An HCL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal string, escaped on output (no interpolation).
    Str(String),
    /// A quoted template written as is between the quotes (`"${local.name}-x"`).
    Template(String),
    Num(i64),
    Bool(bool),
    /// A reference or a one-line expression written verbatim (`module.vpc.vpc_id`).
    Raw(String),
    List(Vec<Expr>),
    /// An object constructor, keys in the given order.
    Object(Vec<(String, Expr)>),
    /// A function call (`jsonencode({ ... })`).
    Call(String, Vec<Expr>),
}

impl Expr {
    pub fn str(s: impl Into<String>) -> Expr {
        Expr::Str(s.into())
    }

    pub fn raw(s: impl Into<String>) -> Expr {
        Expr::Raw(s.into())
    }

    pub fn template(s: impl Into<String>) -> Expr {
        Expr::Template(s.into())
    }

    pub fn strs<I, S>(items: I) -> Expr
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Expr::List(items.into_iter().map(|s| Expr::Str(s.into())).collect())
    }

    pub fn object<K: Into<String>>(entries: impl IntoIterator<Item = (K, Expr)>) -> Expr {
        Expr::Object(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// A map of strings to strings.
    pub fn string_map<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Expr {
        Expr::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), Expr::str(v)))
                .collect(),
        )
    }

    pub fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call(name.to_string(), args)
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Expr {
        Expr::Str(s.to_string())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Expr {
        Expr::Str(s)
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Expr {
        Expr::Bool(b)
    }
}

impl From<u32> for Expr {
    fn from(n: u32) -> Expr {
        Expr::Num(i64::from(n))
    }
}

impl From<u16> for Expr {
    fn from(n: u16) -> Expr {
        Expr::Num(i64::from(n))
    }
}

impl From<u8> for Expr {
    fn from(n: u8) -> Expr {
        Expr::Num(i64::from(n))
    }
}

impl Body {
    pub fn new() -> Body {
        Body::default()
    }

    pub fn attr(mut self, key: &str, value: impl Into<Expr>) -> Body {
        self.items.push(Item::Attr(key.to_string(), value.into()));
        self
    }

    pub fn block(mut self, block: Block) -> Body {
        self.items.push(Item::Block(block));
        self
    }

    pub fn blank(mut self) -> Body {
        self.items.push(Item::Blank);
        self
    }

    /// A `#` comment line (the text after `# `; `#checkov:...` directives are passed whole).
    pub fn comment(mut self, text: &str) -> Body {
        self.items.push(Item::Comment(text.to_string()));
        self
    }

    pub fn push_block(&mut self, block: Block) {
        self.items.push(Item::Block(block));
    }

    pub fn push_blank(&mut self) {
        self.items.push(Item::Blank);
    }

    pub fn push_attr(&mut self, key: &str, value: impl Into<Expr>) {
        self.items.push(Item::Attr(key.to_string(), value.into()));
    }

    /// This body followed by another.
    pub fn append(mut self, other: Body) -> Body {
        self.items.extend(other.items);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Top-level blocks separated by one blank line, as a file.
    pub fn file(blocks: impl IntoIterator<Item = Block>) -> Body {
        let mut body = Body::new();
        for (i, b) in blocks.into_iter().enumerate() {
            if i > 0 {
                body.push_blank();
            }
            body.push_block(b);
        }
        body
    }

    /// Writes the body at an indentation level (two spaces per level).
    pub fn write(&self, out: &mut String, level: usize) {
        let pad = "  ".repeat(level);
        // Index of the first attribute of the current aligned run and the width of its keys.
        let mut i = 0;
        while i < self.items.len() {
            match &self.items[i] {
                Item::Attr(..) => {
                    // Collect the run of one-line attributes starting here.
                    let mut j = i;
                    let mut width = 0;
                    while let Some(Item::Attr(k, v)) = self.items.get(j) {
                        if v.is_multiline() {
                            break;
                        }
                        width = width.max(key(k).len());
                        j += 1;
                    }
                    if j == i {
                        // A multi-line attribute: never aligned.
                        let Item::Attr(k, v) = &self.items[i] else {
                            unreachable!()
                        };
                        let _ = write!(out, "{pad}{} = ", key(k));
                        v.write(out, level);
                        out.push('\n');
                        i += 1;
                    } else {
                        for item in &self.items[i..j] {
                            let Item::Attr(k, v) = item else {
                                unreachable!()
                            };
                            let k = key(k);
                            let _ = write!(out, "{pad}{k:<width$} = ");
                            v.write(out, level);
                            out.push('\n');
                        }
                        i = j;
                    }
                }
                Item::Block(b) => {
                    b.write(out, level);
                    i += 1;
                }
                Item::Blank => {
                    out.push('\n');
                    i += 1;
                }
                Item::Comment(c) => {
                    if c.starts_with("checkov:") {
                        let _ = writeln!(out, "{pad}#{c}");
                    } else if c.is_empty() {
                        let _ = writeln!(out, "{pad}#");
                    } else {
                        let _ = writeln!(out, "{pad}# {c}");
                    }
                    i += 1;
                }
            }
        }
    }

    pub fn to_hcl(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }
}

impl Block {
    pub fn new(kind: &str, labels: &[&str], body: Body) -> Block {
        Block {
            kind: kind.to_string(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body,
        }
    }

    fn write(&self, out: &mut String, level: usize) {
        let pad = "  ".repeat(level);
        out.push_str(&pad);
        out.push_str(&self.kind);
        for l in &self.labels {
            out.push(' ');
            out.push_str(&quote(l));
        }
        if self.body.is_empty() {
            out.push_str(" {}\n");
            return;
        }
        out.push_str(" {\n");
        self.body.write(out, level + 1);
        let _ = writeln!(out, "{pad}}}");
    }
}

impl Expr {
    fn is_multiline(&self) -> bool {
        match self {
            Expr::Object(entries) => !entries.is_empty(),
            Expr::List(items) => !fits_one_line(items),
            Expr::Call(_, args) => args.iter().any(Expr::is_multiline),
            _ => false,
        }
    }

    /// Writes the expression; `level` is the indentation of the line it starts on.
    fn write(&self, out: &mut String, level: usize) {
        match self {
            Expr::Str(s) => out.push_str(&quote(s)),
            Expr::Template(t) => {
                out.push('"');
                out.push_str(t);
                out.push('"');
            }
            Expr::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Expr::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Expr::Raw(r) => out.push_str(r),
            Expr::List(items) if fits_one_line(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, level);
                }
                out.push(']');
            }
            Expr::List(items) => {
                out.push_str("[\n");
                let pad = "  ".repeat(level + 1);
                for item in items {
                    out.push_str(&pad);
                    item.write(out, level + 1);
                    out.push_str(",\n");
                }
                out.push_str(&"  ".repeat(level));
                out.push(']');
            }
            Expr::Object(entries) if entries.is_empty() => out.push_str("{}"),
            Expr::Object(entries) => {
                out.push_str("{\n");
                let mut body = Body::new();
                for (k, v) in entries {
                    body.push_attr(k, v.clone());
                }
                body.write(out, level + 1);
                out.push_str(&"  ".repeat(level));
                out.push('}');
            }
            Expr::Call(name, args) => {
                out.push_str(name);
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    a.write(out, level);
                }
                out.push(')');
            }
        }
    }
}

/// Short lists of plain values stay on one line; anything holding an object goes one per line.
fn fits_one_line(items: &[Expr]) -> bool {
    let simple = items.iter().all(|e| {
        matches!(
            e,
            Expr::Str(_) | Expr::Template(_) | Expr::Num(_) | Expr::Bool(_) | Expr::Raw(_)
        )
    });
    if !simple {
        return false;
    }
    let mut s = String::new();
    for e in items {
        e.write(&mut s, 0);
        s.push_str(", ");
    }
    s.len() <= 100
}

/// An attribute or object key: bare when it is a plain identifier, quoted otherwise.
fn key(k: &str) -> String {
    let mut chars = k.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { k.to_string() } else { quote(k) }
}

/// A quoted HCL string literal with escapes (no interpolation or directives).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("$$"),
            '%' if chars.peek() == Some(&'{') => out.push_str("%%"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_a_run_of_one_line_attributes_only() {
        let body = Body::new()
            .attr("a", "x")
            .attr("long_name", 1u32)
            .attr("tags", Expr::string_map([("k", "v"), ("other/key", "w")]))
            .attr("b", true)
            .blank()
            .attr("cc", Expr::strs(["a", "b"]));
        assert_eq!(
            body.to_hcl(),
            "a         = \"x\"\nlong_name = 1\ntags = {\n  k           = \"v\"\n  \"other/key\" = \"w\"\n}\nb = true\n\ncc = [\"a\", \"b\"]\n"
        );
    }

    #[test]
    fn escapes_template_markers_in_literals() {
        assert_eq!(quote("a\"${b}%{c}\\"), r#""a\"$${b}%%{c}\\""#);
    }

    #[test]
    fn lists_of_objects_go_one_per_line() {
        let e = Expr::List(vec![Expr::object([("a", Expr::Num(1))])]);
        let body = Body::new().attr("x", e);
        assert_eq!(body.to_hcl(), "x = [\n  {\n    a = 1\n  },\n]\n");
    }
}
