//! From [`raw`] to the typed [`Platform`]: every check, every error collected.
//!
//! Syntax, type and unknown-key errors come from the TOML parser (one at a time: the parser
//! stops at the first). Once the file parses, every semantic check runs and all failures are
//! reported together, in source order.

mod applications;
mod clusters;
mod observability;
mod platform;
mod secrets;
mod sizing;
mod toml_error;

pub(crate) use toml_error::edit_distance;

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, LoadError};
use crate::raw::{self, S};
use crate::*;

use secrets::scan_for_secrets;
use toml_error::parse_error;

pub(crate) fn load(file: &str, source: &str, versions: &Versions) -> Result<Platform, LoadError> {
    let fail = |diagnostics: Vec<Diagnostic>| LoadError {
        file: file.to_string(),
        source_text: source.to_string(),
        diagnostics,
    };
    let parsed: raw::File = match toml::from_str(source) {
        Ok(f) => f,
        Err(e) => {
            // The credential scan runs on any file TOML can read, even one whose shape is
            // wrong: a token pasted as a key is reported as a credential, and the shape error
            // at the same place (which would repeat the token) is left out.
            let mut cx = Cx {
                source: source.to_string(),
                ..Cx::default()
            };
            scan_for_secrets(source, &mut cx);
            let parse = parse_error(source, &e);
            let overlaps = cx.diags.iter().any(|d| {
                d.span.start < parse.span.end.max(parse.span.start + 1)
                    && parse.span.start < d.span.end
            });
            let mut diagnostics = cx.diags;
            if !overlaps {
                diagnostics.push(parse);
            }
            diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
            return Err(fail(diagnostics));
        }
    };
    let mut cx = Cx {
        source: source.to_string(),
        ..Cx::default()
    };
    scan_for_secrets(source, &mut cx);
    // A credential is reported as such; that the same text is also not a valid smarthost or
    // secret name is noise next to it.
    let secrets: Vec<Range<usize>> = cx.diags.iter().map(|d| d.span.clone()).collect();
    let platform = cx.platform(parsed, versions);
    let n_secrets = secrets.len();
    let mut i = 0;
    cx.diags.retain(|d| {
        i += 1;
        i <= n_secrets || !secrets.contains(&d.span)
    });
    if cx.diags.is_empty() {
        Ok(platform.expect("no diagnostics means a platform was built"))
    } else {
        cx.diags.sort_by_key(|d| (d.span.start, d.span.end));
        cx.diags.dedup();
        Err(fail(cx.diags))
    }
}

#[derive(Default)]
struct Cx {
    diags: Vec<Diagnostic>,
    /// The file, to name the line of an earlier definition in a help.
    source: String,
    /// Names refused by [`Cx::check`], by what they name ("application name", ...): a
    /// reference to one of them (or to what the user meant it to be) is not reported again as
    /// unknown, so one typo gives one error.
    rejected: Vec<(String, String)>,
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Cx {
    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(span, msg).with_help(help));
    }

    /// The 1-based line of a span, for "first defined on line N".
    fn line(&self, span: &Range<usize>) -> usize {
        line_col(&self.source, span.start).0
    }

    /// Runs a value check; on failure reports `what "value" is invalid` with the check's help.
    fn check<T>(
        &mut self,
        v: &S<String>,
        what: &str,
        f: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match f(v.get_ref()) {
            Ok(t) => Some(t),
            Err(help) => {
                self.err_help(
                    span(v),
                    format!("{what} \"{}\" is not valid", v.get_ref()),
                    help,
                );
                self.rejected.push((what.to_string(), v.get_ref().clone()));
                None
            }
        }
    }

    /// Whether `reference` names (nearly: case aside, within two edits) a `what` that was
    /// refused as invalid; its "unknown" would follow from that error.
    fn follows_rejected(&self, what: &str, reference: &str) -> bool {
        let r = reference.to_lowercase();
        self.rejected
            .iter()
            .any(|(w, name)| w == what && edit_distance(&name.to_lowercase(), &r) <= 2)
    }

    fn positive(&mut self, v: &S<i64>, what: &str, max: i64) -> u32 {
        let n = *v.get_ref();
        if n < 1 || n > max {
            self.err_help(
                span(v),
                format!("{what} must be between 1 and {max}, found {n}"),
                "use a whole number in that range",
            );
            return 1;
        }
        n as u32
    }

    fn unique<'a>(&mut self, what: &str, items: impl IntoIterator<Item = &'a S<String>>) {
        let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
        for item in items {
            if let Some(first) = seen.get(item.get_ref().as_str()) {
                let line = self.line(first);
                self.err_help(
                    span(item),
                    format!("duplicate {what} \"{}\"", item.get_ref()),
                    format!(
                        "{what}s must be unique; \"{}\" is already used on line {line}",
                        item.get_ref()
                    ),
                );
            } else {
                seen.insert(item.get_ref(), span(item));
            }
        }
    }

    /// The `renamed_from` of the objects whose names key addresses within one Terraform state
    /// (the node pools of a cluster, the workload clusters in the controlplane's state). Each
    /// becomes a `moved` block, which Terraform refuses from an address that is still declared
    /// and twice from one address: so an old name is a valid name (`valid`), no object has it
    /// any more, and only one object claims it.
    fn renames<'a>(
        &mut self,
        what: &str,
        scope: &str,
        valid: impl Fn(&str) -> Result<(), String>,
        items: &[(&'a S<String>, Option<&'a S<String>>)],
    ) {
        let mut claimed: HashMap<&str, (&str, Range<usize>)> = HashMap::new();
        for (name, old) in items {
            let Some(old) = old else { continue };
            let old_name = old.get_ref().as_str();
            if self
                .check(old, &format!("previous {what} name"), &valid)
                .is_none()
            {
                continue;
            }
            if old_name == name.get_ref() {
                self.err_help(
                    span(old),
                    format!("renamed_from = \"{old_name}\" is the {what}'s own name"),
                    format!("renamed_from is the name the {what} had before its rename; remove it, or write that old name"),
                );
                continue;
            }
            if let Some((holder, _)) = items.iter().find(|(n, _)| n.get_ref() == old_name) {
                let line = self.line(&span(holder));
                self.err_help(
                    span(old),
                    format!("renamed_from = \"{old_name}\" names a {what} that still exists {scope}"),
                    format!(
                        "the {what} on line {line} still has that name, and Terraform refuses a moved block from an address that is still declared; renamed_from is the name the {what} had before, which no {what} has any more"
                    ),
                );
                continue;
            }
            if let Some((first, first_span)) = claimed.get(old_name) {
                let line = self.line(first_span);
                self.err_help(
                    span(old),
                    format!(
                        "{what}s \"{first}\" and \"{}\" are both renamed from \"{old_name}\"",
                        name.get_ref()
                    ),
                    format!(
                        "an old address moves to one new address only; \"{first}\" claims \"{old_name}\" on line {line}"
                    ),
                );
                continue;
            }
            claimed.insert(old_name, (name.get_ref(), span(old)));
        }
    }

    /// A region of the pinned region table (its zone count is what `availability_zones` is
    /// checked against).
    fn known_region(&mut self, r: &S<String>) {
        if aws_data::availability_zones(r.get_ref()).is_none() {
            let known: Vec<&str> = aws_data::known_regions().collect();
            self.err_help(
                span(r),
                format!("region \"{}\" is not in Flotilla's region table", r.get_ref()),
                format!(
                    "known regions: {} (crates/model/data/aws-regions.toml, with the zone count AWS lists for new accounts; add a region there)",
                    known.join(", ")
                ),
            );
        }
    }
}

fn known<'a, T: AsRef<str> + 'a>(what: &str, items: impl IntoIterator<Item = T>) -> String {
    let list: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    if list.is_empty() {
        format!("there are no {what}")
    } else {
        format!("known {what}: {}", list.join(", "))
    }
}

/// The byte range of a cluster's `kubernetes_version` value in a platform file that loads (for
/// errors found after loading, such as an upgrade that skips a version); `None` when the file
/// does not parse or the cluster is not there.
pub fn kubernetes_version_span(source: &str, cluster: &str) -> Option<Range<usize>> {
    let file: raw::File = toml::from_str(source).ok()?;
    file.clusters
        .iter()
        .find(|c| c.get_ref().name.get_ref() == cluster)
        .map(|c| c.get_ref().kubernetes_version.span())
}
