//! Pinned facts about Kubernetes an upgrade plan needs (the model is pure): the beta and GA APIs
//! each minor version removed (`data/kubernetes-removed-apis.toml`, with its sources), and the
//! `kubeVersion` constraints of Helm charts.

use std::sync::OnceLock;

use serde::Deserialize;

/// The text of `data/kubernetes-removed-apis.toml`, as compiled in.
pub const REMOVED_APIS_TOML: &str = include_str!("../data/kubernetes-removed-apis.toml");

/// APIs one minor version stopped serving.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedApi {
    pub api_version: String,
    pub kinds: Vec<String>,
    /// The first minor version that does not serve them (`1.25`).
    pub removed_in: String,
    pub replacement: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RemovedFile {
    #[allow(dead_code)]
    retrieved: String,
    removed: Vec<RemovedApi>,
}

/// Every entry of the table.
pub fn removed_apis() -> &'static [RemovedApi] {
    static TABLE: OnceLock<Vec<RemovedApi>> = OnceLock::new();
    TABLE.get_or_init(|| {
        toml::from_str::<RemovedFile>(REMOVED_APIS_TOML)
            .expect("data/kubernetes-removed-apis.toml is valid (tested)")
            .removed
    })
}

/// `(major, minor)` of `1.34` or `1.34.2`.
pub fn minor_of(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The removal that makes `(api_version, kind)` unavailable in Kubernetes `to` when it was
/// served by `from`: removed after `from` and at or before `to`.
pub fn removed_between(
    api_version: &str,
    kind: &str,
    from: &str,
    to: &str,
) -> Option<&'static RemovedApi> {
    let (from, to) = (minor_of(from)?, minor_of(to)?);
    removed_apis().iter().find(|r| {
        r.api_version == api_version
            && r.kinds.iter().any(|k| k == kind)
            && minor_of(&r.removed_in).is_some_and(|v| v > from && v <= to)
    })
}

/// Whether Kubernetes `version` (`1.34`) satisfies a chart's `kubeVersion` constraint
/// (`>= 1.31.0-0`, `^1.25.0-0`, `>=1.21.0-0 <1.35.0-0`, `~1.30`): comparators separated by
/// spaces or commas must all hold; `||` separates alternatives. `None` when the constraint
/// cannot be read.
pub fn satisfies(version: &str, constraint: &str) -> Option<bool> {
    let v = semver_triple(version)?;
    let mut any = false;
    for alternative in constraint.split("||") {
        let mut all = true;
        let mut seen = false;
        let text = alternative.replace(',', " ");
        let mut tokens = text.split_whitespace().peekable();
        while let Some(token) = tokens.next() {
            // `>= 1.31.0-0` is one comparator written as two tokens.
            let comparator = if ["<", "<=", ">", ">=", "=", "^", "~"].contains(&token) {
                format!("{token}{}", tokens.next()?)
            } else {
                token.to_string()
            };
            seen = true;
            if !holds(v, &comparator)? {
                all = false;
            }
        }
        if seen && all {
            any = true;
        }
    }
    Some(any)
}

fn semver_triple(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.trim().trim_start_matches('v');
    let core = core.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    Some((major, minor, patch))
}

fn holds(v: (u64, u64, u64), comparator: &str) -> Option<bool> {
    let (op, rest) = match comparator {
        c if c.starts_with(">=") => (">=", &c[2..]),
        c if c.starts_with("<=") => ("<=", &c[2..]),
        c if c.starts_with('>') => (">", &c[1..]),
        c if c.starts_with('<') => ("<", &c[1..]),
        c if c.starts_with('=') => ("=", &c[1..]),
        c if c.starts_with('^') => ("^", &c[1..]),
        c if c.starts_with('~') => ("~", &c[1..]),
        c => ("=", c),
    };
    let w = semver_triple(rest)?;
    Some(match op {
        ">=" => v >= w,
        "<=" => v <= w,
        ">" => v > w,
        "<" => v < w,
        "^" => v >= w && v.0 == w.0,
        "~" => v >= w && v.0 == w.0 && v.1 == w.1,
        _ => v == w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_constraints_as_charts_write_them() {
        for (v, c, want) in [
            ("1.34", ">= 1.31.0-0", true),
            ("1.30", ">= 1.31.0-0", false),
            ("1.34", "^1.25.0-0", true),
            ("2.0", "^1.25.0-0", false),
            ("1.34", ">=1.21.0-0 <1.34.0-0", false),
            ("1.33", ">=1.21.0-0, <1.34.0-0", true),
            ("1.30", "~1.30", true),
            ("1.31", "~1.30", false),
            ("1.28", "<1.25.0-0 || >=1.27.0-0", true),
        ] {
            assert_eq!(satisfies(v, c), Some(want), "{v} {c}");
        }
        assert_eq!(satisfies("1.34", ">= banana"), None);
    }

    #[test]
    fn removals_between_two_versions() {
        let r = removed_between("batch/v1beta1", "CronJob", "1.24", "1.25").unwrap();
        assert_eq!(r.replacement, "batch/v1");
        assert!(removed_between("batch/v1beta1", "CronJob", "1.25", "1.26").is_none());
        assert!(removed_between("batch/v1", "CronJob", "1.24", "1.37").is_none());
        assert!(
            removed_between(
                "admissionregistration.k8s.io/v1beta1",
                "ValidatingAdmissionPolicy",
                "1.33",
                "1.34"
            )
            .is_some()
        );
    }
}
