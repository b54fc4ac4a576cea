//! Terraform module interfaces of the reference data
//! (`terraform/<repo>/<version>/<submodule>/{variables,outputs,versions}.json`) made from the
//! module's source archive at its git tag: the `variable`, `output`, `terraform` and `module`
//! blocks of the `.tf` files directly in the module's directory, each expression kept as its
//! source text with comments removed, each description decoded (terraform/INDEX.md of the
//! reference data, section 1, describes the format). The output is byte for byte what
//! reference.lock pins: JSON with a one-space indent, keys in the order below, non-ASCII escaped,
//! a final newline.
//!
//! The scanner reads HCL's native syntax as far as these blocks need: bodies of attributes and
//! blocks, quoted strings with `${}`/`%{}` templates, heredocs and the three comment styles. It is
//! not an evaluator: an expression is its text.

use std::collections::BTreeMap;
use std::io::Read;

/// A module repository's source at one tag: the commit, its time and the files by path
/// (the archive's top directory removed).
#[derive(Debug)]
pub struct Archive {
    pub commit: String,
    /// Seconds since the epoch: git archive stamps every entry with the commit's time.
    pub time: i64,
    pub files: BTreeMap<String, Vec<u8>>,
}

/// Reads a `.tar.gz` as GitHub serves `codeload.github.com/<owner>/<repo>/tar.gz/refs/tags/<tag>`
/// (git archive): the commit comes from the pax global header's comment.
pub fn read_archive(gz: &[u8]) -> Result<Archive, String> {
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut tar)
        .map_err(|e| format!("not a gzip archive: {e}"))?;
    let mut files = BTreeMap::new();
    let mut commit = None;
    let mut time = None;
    let mut long_name: Option<String> = None;
    let mut pos = 0;
    while pos + 512 <= tar.len() {
        let header = &tar[pos..pos + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |from: usize, len: usize| {
            let raw = &header[from..from + len];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(len);
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let octal = |from: usize, len: usize| -> Result<u64, String> {
            let text = field(from, len);
            let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
            if text.is_empty() {
                return Ok(0);
            }
            u64::from_str_radix(text, 8).map_err(|_| format!("bad tar header at byte {pos}"))
        };
        let size = octal(124, 12)? as usize;
        let mtime = octal(136, 12)? as i64;
        let kind = header[156];
        let body_start = pos + 512;
        let body_end = body_start + size;
        if body_end > tar.len() {
            return Err(format!("truncated tar archive (an entry at byte {pos})"));
        }
        let body = &tar[body_start..body_end];
        let mut name = field(0, 100);
        let prefix = field(345, 155);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        match kind {
            b'g' | b'x' => {
                for (key, value) in pax_records(body)? {
                    match (kind, key.as_str()) {
                        (b'g', "comment") => commit = Some(value),
                        (b'x', "path") => long_name = Some(value),
                        _ => {}
                    }
                }
            }
            // A GNU long name: the next entry's path.
            b'L' => {
                let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                long_name = Some(String::from_utf8_lossy(&body[..end]).into_owned());
            }
            b'0' | 0 => {
                let name = long_name.take().unwrap_or(name);
                time.get_or_insert(mtime);
                if let Some((_, rest)) = name.split_once('/') {
                    files.insert(rest.to_string(), body.to_vec());
                }
            }
            _ => {
                long_name = None;
            }
        }
        pos = body_start + size.div_ceil(512) * 512;
    }
    let commit = commit
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or("the archive names no commit (no pax comment: not made by git archive)")?;
    Ok(Archive {
        commit,
        time: time.ok_or("the archive holds no file")?,
        files,
    })
}

fn pax_records(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|&b| b == b' ')
            .ok_or("bad pax header")?;
        let len: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad pax header")?;
        if len > rest.len() || len < space + 2 {
            return Err("bad pax header".into());
        }
        let record = String::from_utf8_lossy(&rest[space + 1..len - 1]).into_owned();
        if let Some((k, v)) = record.split_once('=') {
            out.push((k.to_string(), v.to_string()));
        }
        rest = &rest[len..];
    }
    Ok(out)
}

/// A UTC timestamp as `2026-04-27T16:22:18Z` (seconds beyond jiff's range as they are).
pub fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(
        |_| seconds.to_string(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// The scanner

#[derive(Debug)]
enum Item {
    Attribute {
        name: String,
        /// The expression's source text, trimmed.
        expr: String,
    },
    Block {
        kind: String,
        labels: Vec<String>,
        body: Vec<Item>,
    },
}

struct Scanner<'a> {
    src: &'a [u8],
    pos: usize,
    file: &'a str,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn at(&self, s: &str) -> bool {
        self.src[self.pos..].starts_with(s.as_bytes())
    }

    fn error(&self, what: &str) -> String {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{}:{line}:{column}: {what}", self.file)
    }

    /// Spaces, newlines and comments between items.
    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'#') => self.skip_line(),
                Some(b'/') if self.at("//") => self.skip_line(),
                Some(b'/') if self.at("/*") => self.skip_block_comment(),
                _ => return,
            }
        }
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                return;
            }
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) {
        self.pos += 2;
        while self.pos < self.src.len() && !self.at("*/") {
            self.pos += 1;
        }
        self.pos = (self.pos + 2).min(self.src.len());
    }

    fn identifier(&mut self) -> Option<String> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b >= 0x80) {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| String::from_utf8_lossy(&self.src[start..self.pos]).into_owned())
    }

    /// Items until `}` (when `nested`) or the end of the file.
    fn body(&mut self, nested: bool) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                None if nested => return Err(self.error("unclosed block")),
                None => return Ok(items),
                Some(b'}') if nested => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => {}
            }
            let name = self
                .identifier()
                .ok_or_else(|| self.error("expected an attribute or a block"))?;
            self.skip_spaces();
            if self.peek() == Some(b'=') && !self.at("==") {
                self.pos += 1;
                let start = self.pos;
                self.expression_end(true)?;
                let expr = text_of(&self.src[start..self.pos]);
                items.push(Item::Attribute { name, expr });
                continue;
            }
            let mut labels = Vec::new();
            loop {
                self.skip_spaces();
                match self.peek() {
                    Some(b'"') => {
                        let start = self.pos;
                        self.string()?;
                        labels.push(decode_quoted(&self.src[start..self.pos]));
                    }
                    Some(b'{') => {
                        self.pos += 1;
                        break;
                    }
                    _ => {
                        let label = self
                            .identifier()
                            .ok_or_else(|| self.error("expected a block label or `{`"))?;
                        labels.push(label);
                    }
                }
            }
            let body = self.body(true)?;
            items.push(Item::Block {
                kind: name,
                labels,
                body,
            });
        }
    }

    /// Moves to the end of an expression: a newline (or, in a one-line block, a `}`) outside
    /// brackets, or the end of the file. With `top`, a line comment ends it too.
    fn expression_end(&mut self, top: bool) -> Result<(), String> {
        let mut depth: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return if depth.is_empty() {
                    Ok(())
                } else {
                    Err(self.error("unclosed bracket in an expression"))
                };
            };
            match b {
                b'\n' if depth.is_empty() && top => return Ok(()),
                b'#' => self.skip_line(),
                b'/' if self.at("//") => self.skip_line(),
                b'/' if self.at("/*") => self.skip_block_comment(),
                b'"' => self.string()?,
                b'<' if self.at("<<") && self.heredoc_marker().is_some() => self.heredoc()?,
                b'(' | b'[' | b'{' => {
                    depth.push(b);
                    self.pos += 1;
                }
                b')' | b']' | b'}' => {
                    if depth.pop().is_none() {
                        // A `}` closing the block this one-line attribute is in.
                        return Ok(());
                    }
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// A quoted string from its opening `"` to after its closing one, templates included.
    fn string(&mut self) -> Result<(), String> {
        let open = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    self.pos = open;
                    return Err(self.error("unterminated string"));
                }
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'$' | b'%') if self.at("$${") || self.at("%%{") => self.pos += 3,
                Some(b'$' | b'%') if self.src.get(self.pos + 1) == Some(&b'{') => {
                    self.pos += 2;
                    self.template_interior()?;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// The inside of `${ ... }` up to and past its `}`.
    fn template_interior(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.error("unclosed template interpolation")),
                Some(b'"') => self.string()?,
                Some(b'{' | b'(' | b'[') => {
                    depth += 1;
                    self.pos += 1;
                }
                Some(b'}') if depth == 0 => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'}' | b')' | b']') => {
                    depth = depth.saturating_sub(1);
                    self.pos += 1;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// `(marker, strip indent)` of a heredoc starting here.
    fn heredoc_marker(&self) -> Option<(String, bool)> {
        let mut p = self.pos + 2;
        let strip = self.src.get(p) == Some(&b'-');
        if strip {
            p += 1;
        }
        let start = p;
        while p < self.src.len() && (self.src[p].is_ascii_alphanumeric() || self.src[p] == b'_') {
            p += 1;
        }
        if p == start {
            return None;
        }
        let mut q = p;
        while q < self.src.len() && (self.src[q] == b' ' || self.src[q] == b'\r') {
            q += 1;
        }
        (q < self.src.len() && self.src[q] == b'\n').then(|| {
            (
                String::from_utf8_lossy(&self.src[start..p]).into_owned(),
                strip,
            )
        })
    }

    fn heredoc(&mut self) -> Result<(), String> {
        let (marker, _) = self.heredoc_marker().expect("checked by the caller");
        let open = self.pos;
        self.skip_line();
        while self.pos < self.src.len() {
            self.pos += 1; // the newline
            let line_start = self.pos;
            self.skip_line();
            let line = String::from_utf8_lossy(&self.src[line_start..self.pos]);
            if line.trim() == marker {
                return Ok(());
            }
        }
        self.pos = open;
        Err(self.error(&format!("heredoc <<{marker} is never closed")))
    }
}

/// An expression's source text as the locked files have it: comments removed (a trailing one with
/// the spaces before it), blank lines outside heredocs removed, trimmed.
fn text_of(raw: &[u8]) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut s = Scanner {
        src: raw,
        pos: 0,
        file: "",
    };
    let mut line_start = 0usize;
    while let Some(b) = s.peek() {
        let comment = b == b'#' || (b == b'/' && (s.at("//") || s.at("/*")));
        if comment {
            if s.at("/*") {
                s.skip_block_comment();
            } else {
                s.skip_line();
            }
            while matches!(out.last(), Some(b' ' | b'\t')) && out.len() > line_start {
                out.pop();
            }
            continue;
        }
        let from = s.pos;
        match b {
            b'"' => {
                if s.string().is_err() {
                    s.pos = raw.len();
                }
            }
            b'<' if s.at("<<") && s.heredoc_marker().is_some() => {
                if s.heredoc().is_err() {
                    s.pos = raw.len();
                }
            }
            b'\n' => {
                s.pos += 1;
                if out[line_start..].iter().all(|c| c.is_ascii_whitespace()) {
                    out.truncate(line_start);
                    continue;
                }
                out.push(b'\n');
                line_start = out.len();
                continue;
            }
            _ => s.pos += 1,
        }
        out.extend_from_slice(&raw[from..s.pos]);
        if out[line_start..].contains(&b'\n') {
            line_start = out.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        }
    }
    String::from_utf8_lossy(&out).trim().to_string()
}

/// The value of a string expression: a quoted string or a heredoc, decoded. Anything else
/// (a template with interpolations is kept as written) is its text.
fn decode(expr: &str) -> String {
    let b = expr.as_bytes();
    if b.first() == Some(&b'"') && b.last() == Some(&b'"') && b.len() >= 2 {
        return decode_quoted(b);
    }
    if let Some(rest) = expr.strip_prefix("<<") {
        let strip = rest.starts_with('-');
        let rest = rest.trim_start_matches('-');
        if let Some((marker, body)) = rest.split_once('\n') {
            let marker = marker.trim();
            let mut lines: Vec<&str> = body.split('\n').collect();
            if lines.last().is_some_and(|l| l.trim() == marker) {
                lines.pop();
            }
            let lines: Vec<String> = if strip {
                let indent = lines
                    .iter()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
                    .min()
                    .unwrap_or(0);
                lines
                    .iter()
                    .map(|l| l.get(indent..).unwrap_or("").to_string())
                    .collect()
            } else {
                lines.iter().map(|l| l.to_string()).collect()
            };
            let mut text = String::new();
            for l in lines {
                text.push_str(&unescape_template(&l));
                text.push('\n');
            }
            return text;
        }
    }
    expr.to_string()
}

fn decode_quoted(quoted: &[u8]) -> String {
    let inner = String::from_utf8_lossy(&quoted[1..quoted.len() - 1]).into_owned();
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(u @ ('u' | 'U')) => {
                let n = if u == 'u' { 4 } else { 8 };
                let hex: String = (0..n).filter_map(|_| chars.next()).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push('\\');
                        out.push(u);
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    unescape_template(&out)
}

/// `$${` and `%%{` stand for a literal `${` and `%{`.
fn unescape_template(s: &str) -> String {
    s.replace("$${", "${").replace("%%{", "%{")
}

// ---------------------------------------------------------------------------------------------
// JSON as the locked files have it

#[derive(Clone)]
enum Json {
    Null,
    Bool(bool),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

fn opt(s: Option<String>) -> Json {
    s.map_or(Json::Null, Json::Str)
}

/// In source order: a JSON object is a list of pairs here, not a sorted map.
impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Json::Null => ser.serialize_none(),
            Json::Bool(b) => ser.serialize_bool(*b),
            Json::Str(s) => ser.serialize_str(s),
            Json::Arr(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Obj(pairs) => {
                let mut map = ser.serialize_map(Some(pairs.len()))?;
                for (key, value) in pairs {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// The locked layout: the provider schemas' one-space-indented JSON
/// ([`crate::provider_schema::pretty`]), with every non-ASCII character escaped (`\u00e9`, a
/// surrogate pair above the BMP). Non-ASCII text only occurs inside strings, so the escape is
/// made on the finished text.
fn to_bytes(j: &Json) -> Vec<u8> {
    let text = crate::provider_schema::pretty(j).expect("a Json value always serializes");
    let text = String::from_utf8(text).expect("serde_json writes UTF-8");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The interface

/// Which module directory of which release: `terraform-aws-modules/terraform-aws-eks` at
/// `21.19.0`, submodule `root` or a name under `modules/`.
pub struct Module<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    pub version: &'a str,
    pub submodule: &'a str,
}

impl Module<'_> {
    pub fn tag(&self) -> String {
        format!("v{}", self.version)
    }

    fn path_in_repo(&self) -> String {
        if self.submodule == "root" {
            ".".into()
        } else {
            format!("modules/{}", self.submodule)
        }
    }

    fn registry_source(&self) -> String {
        // terraform-<provider>-<name> is published as <owner>/<name>/<provider>.
        let rest = self.repo.strip_prefix("terraform-").unwrap_or(self.repo);
        let (provider, name) = rest.split_once('-').unwrap_or((rest, rest));
        let base = format!("{}/{name}/{provider}", self.owner);
        if self.submodule == "root" {
            base
        } else {
            format!("{base}//modules/{}", self.submodule)
        }
    }
}

/// The three files of one module directory, each as reference.lock pins it:
/// `variables`, `outputs`, `versions`.
pub fn extract(archive: &Archive, module: &Module) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let dir = module.path_in_repo();
    let prefix = if dir == "." {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut parsed = Vec::new();
    for (path, bytes) in &archive.files {
        let Some(name) = path.strip_prefix(&prefix) else {
            continue;
        };
        if name.contains('/') || !name.ends_with(".tf") {
            continue;
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| format!("{path} at {}: not UTF-8", module.tag()))?;
        let label = format!("{}/{path}", module.repo);
        let mut scanner = Scanner {
            src: text.as_bytes(),
            pos: 0,
            file: &label,
        };
        parsed.push((name.to_string(), scanner.body(false)?));
    }
    if parsed.is_empty() {
        return Err(format!(
            "{} {} has no .tf file in {dir}",
            module.repo,
            module.tag()
        ));
    }
    let meta = Json::Obj(vec![
        ("module".into(), Json::Str(module.repo.into())),
        (
            "registry_source".into(),
            Json::Str(module.registry_source()),
        ),
        ("version".into(), Json::Str(module.version.into())),
        ("git_tag".into(), Json::Str(module.tag())),
        (
            "source_repo".into(),
            Json::Str(format!(
                "https://github.com/{}/{}",
                module.owner, module.repo
            )),
        ),
        ("commit".into(), Json::Str(archive.commit.clone())),
        ("commit_date".into(), Json::Str(utc(archive.time))),
        ("path_in_repo".into(), Json::Str(dir.clone())),
        (
            "tf_files_scanned".into(),
            Json::Arr(parsed.iter().map(|(n, _)| Json::Str(n.clone())).collect()),
        ),
        (
            "extracted_by".into(),
            Json::Str("own HCL scanner over git blobs at the tagged commit (see INDEX.md)".into()),
        ),
    ]);
    let meta = || meta.clone();

    let mut variables = Vec::new();
    let mut outputs = Vec::new();
    let mut required_version = None;
    let mut required_providers = Vec::new();
    let mut provider_meta = Vec::new();
    let mut experiments = None;
    let mut backend = None;
    let mut module_calls = Vec::new();
    for (file, items) in &parsed {
        for item in items {
            let Item::Block { kind, labels, body } = item else {
                continue;
            };
            match (kind.as_str(), labels.as_slice()) {
                ("variable", [name]) => variables.push(variable(name, body, file)),
                ("output", [name]) => outputs.push(output(name, body, file)),
                ("module", [name]) => module_calls.push(Json::Obj(vec![
                    ("name".into(), Json::Str(name.clone())),
                    ("source".into(), opt(attr(body, "source").map(decode))),
                    ("version".into(), opt(attr(body, "version").map(decode))),
                    ("file".into(), Json::Str(file.clone())),
                ])),
                ("terraform", []) => {
                    if let Some(v) = attr(body, "required_version") {
                        required_version = Some(decode(v));
                    }
                    if let Some(v) = attr(body, "experiments") {
                        experiments = Some(v.to_string());
                    }
                    for inner in body {
                        let Item::Block { kind, labels, body } = inner else {
                            continue;
                        };
                        match kind.as_str() {
                            "required_providers" => {
                                for p in body {
                                    if let Item::Attribute { name, expr } = p {
                                        required_providers
                                            .push((name.clone(), required_provider(expr, file)));
                                    }
                                }
                            }
                            "provider_meta" => provider_meta.push(Json::Obj(vec![
                                (
                                    "provider".into(),
                                    Json::Str(labels.first().cloned().unwrap_or_default()),
                                ),
                                ("attributes".into(), attributes(body)),
                            ])),
                            "backend" => {
                                backend = Some(labels.first().cloned().unwrap_or_default())
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = BTreeMap::new();
    out.insert(
        "variables".to_string(),
        to_bytes(&Json::Obj(vec![
            ("meta".into(), meta()),
            ("variables".into(), Json::Arr(variables)),
        ])),
    );
    out.insert(
        "outputs".to_string(),
        to_bytes(&Json::Obj(vec![
            ("meta".into(), meta()),
            ("outputs".into(), Json::Arr(outputs)),
        ])),
    );
    out.insert(
        "versions".to_string(),
        to_bytes(&Json::Obj(vec![
            ("meta".into(), meta()),
            ("required_version".into(), opt(required_version)),
            ("required_providers".into(), Json::Obj(required_providers)),
            ("provider_meta".into(), Json::Arr(provider_meta)),
            ("experiments".into(), opt(experiments)),
            ("backend".into(), opt(backend)),
            ("module_calls".into(), Json::Arr(module_calls)),
        ])),
    );
    Ok(out)
}

fn attr<'b>(body: &'b [Item], key: &str) -> Option<&'b str> {
    body.iter().find_map(|i| match i {
        Item::Attribute { name, expr } if name == key => Some(expr.as_str()),
        _ => None,
    })
}

fn flag(body: &[Item], key: &str) -> bool {
    attr(body, key) == Some("true")
}

fn attributes(body: &[Item]) -> Json {
    Json::Obj(
        body.iter()
            .filter_map(|i| match i {
                Item::Attribute { name, expr } => Some((name.clone(), Json::Str(expr.clone()))),
                _ => None,
            })
            .collect(),
    )
}

fn variable(name: &str, body: &[Item], file: &str) -> Json {
    let default = attr(body, "default");
    let nullable = attr(body, "nullable");
    let validations = body
        .iter()
        .filter_map(|i| match i {
            Item::Block { kind, body, .. } if kind == "validation" => Some(Json::Obj(vec![
                (
                    "condition".into(),
                    opt(attr(body, "condition").map(str::to_string)),
                ),
                (
                    "error_message".into(),
                    opt(attr(body, "error_message").map(decode)),
                ),
            ])),
            _ => None,
        })
        .collect();
    Json::Obj(vec![
        ("name".into(), Json::Str(name.into())),
        ("type".into(), opt(attr(body, "type").map(str::to_string))),
        ("default".into(), opt(default.map(str::to_string))),
        ("has_default".into(), Json::Bool(default.is_some())),
        ("required".into(), Json::Bool(default.is_none())),
        (
            "description".into(),
            opt(attr(body, "description").map(decode)),
        ),
        ("nullable".into(), Json::Bool(nullable != Some("false"))),
        ("nullable_explicit".into(), Json::Bool(nullable.is_some())),
        ("sensitive".into(), Json::Bool(flag(body, "sensitive"))),
        ("ephemeral".into(), Json::Bool(flag(body, "ephemeral"))),
        ("validations".into(), Json::Arr(validations)),
        ("file".into(), Json::Str(file.into())),
    ])
}

fn output(name: &str, body: &[Item], file: &str) -> Json {
    Json::Obj(vec![
        ("name".into(), Json::Str(name.into())),
        (
            "description".into(),
            opt(attr(body, "description").map(decode)),
        ),
        ("value".into(), opt(attr(body, "value").map(str::to_string))),
        ("sensitive".into(), Json::Bool(flag(body, "sensitive"))),
        (
            "depends_on".into(),
            opt(attr(body, "depends_on").map(str::to_string)),
        ),
        ("file".into(), Json::Str(file.into())),
    ])
}

/// `aws = { source = "hashicorp/aws", version = ">= 6.28" }` (or the old `aws = ">= 6.28"`).
fn required_provider(expr: &str, file: &str) -> Json {
    let mut fields = vec![("raw".to_string(), Json::Str(expr.to_string()))];
    if let Some(inner) = expr.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
        let mut s = Scanner {
            src: inner.as_bytes(),
            pos: 0,
            file,
        };
        let items = s.body(false).unwrap_or_default();
        fields.push(("source".into(), opt(attr(&items, "source").map(decode))));
        fields.push(("version".into(), opt(attr(&items, "version").map(decode))));
    } else {
        fields.push(("source".into(), Json::Null));
        fields.push(("version".into(), Json::Str(decode(expr))));
    }
    fields.push(("declared_in".into(), Json::Str(file.into())));
    Json::Obj(fields)
}

/// `(repo, version, submodule, part)` of a module interface path
/// (`terraform/terraform-aws-eks/21.19.0/karpenter/variables.json`).
pub fn part_of(path: &str) -> Option<(&str, &str, &str, &str)> {
    match path.split('/').collect::<Vec<_>>().as_slice() {
        ["terraform", repo, version, submodule, file] if repo.starts_with("terraform-") => {
            let part = file.strip_suffix(".json")?;
            ["variables", "outputs", "versions"]
                .contains(&part)
                .then_some((*repo, *version, *submodule, part))
        }
        _ => None,
    }
}

/// The file at `path` made from the archive downloaded from `url`
/// (`<scheme>://<host>/<owner>/<repo>/tar.gz/refs/tags/<tag>`), whose repository and tag must be
/// the ones the path names.
pub fn file(archive: &Archive, url: &str, path: &str) -> Result<Vec<u8>, String> {
    let (repo, version, submodule, part) =
        part_of(path).ok_or_else(|| format!("{path}: not a module interface path"))?;
    let segments: Vec<&str> = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split('/')
        .skip(1)
        .collect();
    let (owner, url_repo, tag) = match segments.as_slice() {
        [owner, r, "tar.gz", "refs", "tags", tag] => (*owner, *r, *tag),
        _ => {
            return Err(format!(
                "{path}: module_archive {url} is not <host>/<owner>/<repo>/tar.gz/refs/tags/<tag>"
            ));
        }
    };
    let module = Module {
        owner,
        repo,
        version,
        submodule,
    };
    if url_repo != repo || tag != module.tag() {
        return Err(format!(
            "{path}: module_archive {url} is not {repo} at {}",
            module.tag()
        ));
    }
    let mut files = extract(archive, &module).map_err(|why| format!("{url}: {why}"))?;
    files
        .remove(part)
        .ok_or_else(|| format!("{path}: no such part"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tar header block (ustar), its checksum filled in.
    fn header(name: &str, size: usize, mtime: i64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(format!("{mtime:011o}").as_bytes());
        h[148..156].copy_from_slice(b"        ");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn entry(out: &mut Vec<u8>, name: &str, body: &[u8], mtime: i64, kind: u8) {
        out.extend(header(name, body.len(), mtime, kind));
        out.extend(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    /// An archive as git archive writes it (a pax global header with the commit), with one
    /// path too long for the header (a GNU long-name entry before it): both read, the top
    /// directory removed, the commit and time taken; no pax comment is an error.
    #[test]
    fn an_archive_gives_its_commit_time_and_files() {
        use std::io::Write as _;
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let record = format!("52 comment={commit}\n");
        assert_eq!(record.len(), 52);
        let long = format!("top/modules/{}/main.tf", "x".repeat(120));
        let mut tar = Vec::new();
        entry(&mut tar, "pax_global_header", record.as_bytes(), 0, b'g');
        entry(
            &mut tar,
            "top/variables.tf",
            b"variable \"a\" {}\n",
            1_777_306_938,
            b'0',
        );
        entry(
            &mut tar,
            "././@LongLink",
            format!("{long}\0").as_bytes(),
            0,
            b'L',
        );
        entry(&mut tar, &long[..100], b"# long\n", 1_777_306_938, b'0');
        tar.extend([0u8; 1024]);
        let gz = |tar: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            e.finish().unwrap()
        };
        let a = read_archive(&gz(&tar)).unwrap();
        assert_eq!(a.commit, commit);
        assert_eq!(utc(a.time), "2026-04-27T16:22:18Z");
        let names: Vec<&str> = a.files.keys().map(String::as_str).collect();
        assert_eq!(names, [&long[4..], "variables.tf"]);
        let without = tar[1024..].to_vec();
        assert!(
            read_archive(&gz(&without))
                .unwrap_err()
                .contains("names no commit")
        );
        assert!(
            read_archive(b"not gzip")
                .unwrap_err()
                .starts_with("not a gzip archive")
        );
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_777_306_938), "2026-04-27T16:22:18Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    /// A module of our own with what the scanner must get right: the three comment styles
    /// (whole lines, trailing, a `#` inside a string), blank lines, heredocs (`<<-` indented),
    /// escapes and non-ASCII, one-line blocks, a `}` inside a string, templates, both forms of
    /// `required_providers`, and files that are not the module's (a submodule, a README).
    pub(crate) const DEMO: &[(&str, &str)] = &[
        (
            "variables.tf",
            r##"# Inputs of the demo module.

variable "name" {
  description = "Name of the \"demo\" cluster (caf\u00e9, é)" # trailing
  type        = string
}

variable "settings" {
  description = <<-EOT
    Settings for the demo.
      Indented line.
  EOT
  type = object({
    # a comment line
    size = optional(number, 3) // trailing slash comment

    /* a block comment */
    zone = optional(string, "a#b")
  })
  default  = { size = 3 }
  nullable = false

  validation {
    condition = (
      var.settings.size > 0 # positive
    )
    error_message = "size must be positive, not ${var.settings.size}; $${literal}."
  }
}

variable "secret" {
  sensitive = true
  ephemeral = true
}
"##,
        ),
        (
            "outputs.tf",
            r##"output "endpoint" {
  description = "The endpoint"
  value       = try(aws_thing.this[0].endpoint, null)
}

output "token" {
  value     = random_password.this.result
  sensitive = true
  depends_on = [
    aws_thing.this, # first
  ]
}
"##,
        ),
        (
            "versions.tf",
            r##"terraform {
  required_version = ">= 1.5.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.28"
    }
    legacy = ">= 1.0"
  }

  provider_meta "aws" {
    user_agent = ["github.com/acme/terraform-aws-demo"]
  }
}
"##,
        ),
        (
            "main.tf",
            r##"module "kms" {
  source  = "terraform-aws-modules/kms/aws"
  version = "4.0.0"
}

locals { a = "}" }

resource "aws_thing" "this" {
  name   = "${var.name}-{x}" # not a block
  policy = <<EOF
{"a": "# not a comment"}
EOF
}

module "inner" {
  source = "./modules/inner"
}
"##,
        ),
        ("modules/inner/main.tf", "variable \"not_the_root_s\" {}\n"),
        ("README.md", "variable \"not_hcl\" {}\n"),
    ];

    fn demo() -> Archive {
        Archive {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            time: 1_777_306_938,
            files: DEMO
                .iter()
                .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
                .collect(),
        }
    }

    const DEMO_META: &str = r##" "meta": {
  "module": "terraform-aws-demo",
  "registry_source": "acme/demo/aws",
  "version": "1.0.0",
  "git_tag": "v1.0.0",
  "source_repo": "https://github.com/acme/terraform-aws-demo",
  "commit": "0123456789abcdef0123456789abcdef01234567",
  "commit_date": "2026-04-27T16:22:18Z",
  "path_in_repo": ".",
  "tf_files_scanned": [
   "main.tf",
   "outputs.tf",
   "variables.tf",
   "versions.tf"
  ],
  "extracted_by": "own HCL scanner over git blobs at the tagged commit (see INDEX.md)"
 },"##;

    #[test]
    fn a_module_of_our_own_gives_the_pinned_format_byte_for_byte() {
        let module = Module {
            owner: "acme",
            repo: "terraform-aws-demo",
            version: "1.0.0",
            submodule: "root",
        };
        let files = extract(&demo(), &module).unwrap();
        let text = |part: &str| String::from_utf8(files[part].clone()).unwrap();
        // Each file is `{`, the meta object, then its own part.
        let file = |part: &str| format!("{{\n{DEMO_META}{part}");
        let variables = file(
            r##"
 "variables": [
  {
   "name": "name",
   "type": "string",
   "default": null,
   "has_default": false,
   "required": true,
   "description": "Name of the \"demo\" cluster (caf\u00e9, \u00e9)",
   "nullable": true,
   "nullable_explicit": false,
   "sensitive": false,
   "ephemeral": false,
   "validations": [],
   "file": "variables.tf"
  },
  {
   "name": "settings",
   "type": "object({\n    size = optional(number, 3)\n    zone = optional(string, \"a#b\")\n  })",
   "default": "{ size = 3 }",
   "has_default": true,
   "required": false,
   "description": "Settings for the demo.\n  Indented line.\n",
   "nullable": false,
   "nullable_explicit": true,
   "sensitive": false,
   "ephemeral": false,
   "validations": [
    {
     "condition": "(\n      var.settings.size > 0\n    )",
     "error_message": "size must be positive, not ${var.settings.size}; ${literal}."
    }
   ],
   "file": "variables.tf"
  },
  {
   "name": "secret",
   "type": null,
   "default": null,
   "has_default": false,
   "required": true,
   "description": null,
   "nullable": true,
   "nullable_explicit": false,
   "sensitive": true,
   "ephemeral": true,
   "validations": [],
   "file": "variables.tf"
  }
 ]
}
"##,
        );
        assert_eq!(text("variables"), variables);
        let outputs = file(
            r##"
 "outputs": [
  {
   "name": "endpoint",
   "description": "The endpoint",
   "value": "try(aws_thing.this[0].endpoint, null)",
   "sensitive": false,
   "depends_on": null,
   "file": "outputs.tf"
  },
  {
   "name": "token",
   "description": null,
   "value": "random_password.this.result",
   "sensitive": true,
   "depends_on": "[\n    aws_thing.this,\n  ]",
   "file": "outputs.tf"
  }
 ]
}
"##,
        );
        assert_eq!(text("outputs"), outputs);
        let versions = file(
            r##"
 "required_version": ">= 1.5.7",
 "required_providers": {
  "aws": {
   "raw": "{\n      source  = \"hashicorp/aws\"\n      version = \">= 6.28\"\n    }",
   "source": "hashicorp/aws",
   "version": ">= 6.28",
   "declared_in": "versions.tf"
  },
  "legacy": {
   "raw": "\">= 1.0\"",
   "source": null,
   "version": ">= 1.0",
   "declared_in": "versions.tf"
  }
 },
 "provider_meta": [
  {
   "provider": "aws",
   "attributes": {
    "user_agent": "[\"github.com/acme/terraform-aws-demo\"]"
   }
  }
 ],
 "experiments": null,
 "backend": null,
 "module_calls": [
  {
   "name": "kms",
   "source": "terraform-aws-modules/kms/aws",
   "version": "4.0.0",
   "file": "main.tf"
  },
  {
   "name": "inner",
   "source": "./modules/inner",
   "version": null,
   "file": "main.tf"
  }
 ]
}
"##,
        );
        assert_eq!(text("versions"), versions);
    }

    #[test]
    fn a_submodule_reads_its_own_directory_and_bad_input_is_located() {
        let module = Module {
            owner: "acme",
            repo: "terraform-aws-demo",
            version: "1.0.0",
            submodule: "inner",
        };
        let files = extract(&demo(), &module).unwrap();
        let variables = String::from_utf8(files["variables"].clone()).unwrap();
        assert!(variables.contains(r#""registry_source": "acme/demo/aws//modules/inner""#));
        assert!(variables.contains(r#""path_in_repo": "modules/inner""#));
        assert!(variables.contains(r#""name": "not_the_root_s""#));

        let missing = Module {
            submodule: "absent",
            ..module
        };
        assert_eq!(
            extract(&demo(), &missing).unwrap_err(),
            "terraform-aws-demo v1.0.0 has no .tf file in modules/absent"
        );
        let mut broken = demo();
        broken.files.insert(
            "broken.tf".into(),
            b"variable \"x\" {\n  description = \"unterminated\n}\n".to_vec(),
        );
        let root = Module {
            submodule: "root",
            ..missing
        };
        assert_eq!(
            extract(&broken, &root).unwrap_err(),
            "terraform-aws-demo/broken.tf:2:17: unterminated string"
        );
    }

    #[test]
    fn an_interface_path_names_its_module_and_the_archive_must_be_that_release() {
        assert_eq!(
            part_of("terraform/terraform-aws-eks/21.19.0/karpenter/variables.json"),
            Some(("terraform-aws-eks", "21.19.0", "karpenter", "variables"))
        );
        assert_eq!(
            part_of("terraform/aws-provider/6.47.0/resources.json"),
            None
        );
        assert_eq!(
            part_of("terraform/terraform-aws-eks/21.19.0/root/main.json"),
            None
        );
        let url = "https://codeload.github.com/acme/terraform-aws-demo/tar.gz/refs/tags/v1.0.0";
        let path = "terraform/terraform-aws-demo/1.0.0/root/outputs.json";
        assert!(
            file(&demo(), url, path)
                .unwrap()
                .starts_with(b"{\n \"meta\"")
        );
        let other = "terraform/terraform-aws-demo/1.0.1/root/outputs.json";
        assert_eq!(
            file(&demo(), url, other).unwrap_err(),
            format!("{other}: module_archive {url} is not terraform-aws-demo at v1.0.1")
        );
    }

    /// Every module directory of the reference data made again from the modules' tag archives
    /// (`<repo>-<version>.tar.gz`, as GitHub serves them or `git archive --format=tar.gz
    /// <tag>` makes them) in FLOTILLA_MODULE_ARCHIVES, compared byte for byte with
    /// FLOTILLA_REFERENCE's: the archives need the network, which the suite does not have.
    #[test]
    #[ignore = "needs the modules' tag archives in FLOTILLA_MODULE_ARCHIVES (docs/ci.md)"]
    fn archives_give_the_reference_data_byte_for_byte() {
        let dir = std::env::var("FLOTILLA_MODULE_ARCHIVES").expect("FLOTILLA_MODULE_ARCHIVES");
        let reference = std::path::PathBuf::from(
            std::env::var("FLOTILLA_REFERENCE").expect("FLOTILLA_REFERENCE"),
        )
        .join("terraform");
        let mut bad = Vec::new();
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let stem = name.strip_suffix(".tar.gz").unwrap();
            let (repo, version) = stem.rsplit_once('-').unwrap();
            let archive = read_archive(&std::fs::read(&path).unwrap()).unwrap();
            for sub in std::fs::read_dir(reference.join(repo).join(version)).unwrap() {
                let sub = sub.unwrap();
                if !sub.path().is_dir() {
                    continue;
                }
                let submodule = sub.file_name().to_string_lossy().to_string();
                let module = Module {
                    owner: "terraform-aws-modules",
                    repo,
                    version,
                    submodule: &submodule,
                };
                let files = extract(&archive, &module).unwrap();
                for (part, bytes) in files {
                    n += 1;
                    let want = std::fs::read(sub.path().join(format!("{part}.json"))).unwrap();
                    if want != bytes {
                        bad.push(format!("{repo}/{version}/{submodule}/{part}"));
                    }
                }
            }
        }
        assert!(n > 0, "no archive in {dir}");
        assert!(bad.is_empty(), "{} of {n} differ: {bad:#?}", bad.len());
        println!("{n} files, each byte for byte the reference data's");
    }
}
