//! Generated output against the committed files, and one environment's against another's:
//! unified text diffs (`cargo xtask diff <env>`, `diff <env> <other>`) and the list of drifted
//! files a real deploy refuses to run with.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use flotilla_model::{Platform, Role};

use crate::{render_all, workdir};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
/// ANSI bold and reset, for headings printed next to the diffs.
pub const BOLD: &str = "\x1b[1m";
pub const RESET: &str = "\x1b[0m";

/// A text diff and how many files it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDiff {
    /// Unified diffs with ANSI colors (strip them where the output is not a terminal).
    pub text: String,
    /// Files that differ.
    pub changed: usize,
    /// Each differing file and how: `changed`, `not committed` (rendered, not in the
    /// checkout), `stale` (in the checkout, no longer rendered); between two environments
    /// `differs`, `only in <env>`.
    pub files: Vec<(String, String)>,
}

/// The generated directories of a cluster (the controlplane also owns the state bootstrap).
pub fn cluster_prefixes(platform: &Platform, cluster: &str) -> Vec<String> {
    let mut v = vec![
        format!("{}/", flotilla_terraform::module_dir(cluster)),
        format!("helm/{cluster}/"),
    ];
    if platform
        .cluster(cluster)
        .is_some_and(|c| c.role == Role::Controlplane)
    {
        v.push(format!(
            "{}/",
            flotilla_terraform::module_dir(flotilla_terraform::BOOTSTRAP_MODULE)
        ));
    }
    v
}

fn committed_files(root: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            // Terraform's working files (the bootstrap's local state, saved plans) are not
            // generated output: `generate` leaves them alone, so the diff does too.
            if workdir::is_working_file(&name, path.is_dir()) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(text) = fs::read_to_string(&path) {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, text);
            }
        }
    }
    walk(root, &root.join(prefix), out);
}

/// Generated vs committed for the given prefixes: path -> (committed, generated).
fn pairs(
    root: &Path,
    platform: &Platform,
    prefixes: &[String],
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    let rendered = render_all(platform);
    let mut committed = BTreeMap::new();
    for p in prefixes {
        committed_files(root, p, &mut committed);
    }
    let mut out = BTreeMap::new();
    for (path, text) in rendered.files {
        if prefixes.iter().any(|p| path.starts_with(p.as_str())) {
            out.insert(path.clone(), (committed.remove(&path), Some(text)));
        }
    }
    // What is left is no longer rendered: stale when an earlier render wrote it (its header) or
    // when Terraform would read it; someone else's file otherwise (notes beside a module),
    // which `generate` leaves alone and so does the diff.
    for (path, text) in committed {
        if flotilla_model::artifact::is_generated(text.as_bytes())
            || workdir::terraform_loads(&path)
        {
            out.insert(path, (Some(text), None));
        }
    }
    out
}

/// Every file under `infra/` and `helm/` whose committed contents differ from a fresh render.
pub fn drifted_files(root: &Path, platform: &Platform) -> std::io::Result<Vec<String>> {
    let prefixes: Vec<String> = crate::GENERATED_ROOTS
        .iter()
        .map(|r| format!("{r}/"))
        .collect();
    Ok(pairs(root, platform, &prefixes)
        .into_iter()
        .filter(|(_, (a, b))| a != b)
        .map(|(p, _)| p)
        .collect())
}

/// A unified diff with ANSI colors (anstream strips them when stdout is not a terminal).
pub fn unified(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    out.push_str(&format!("{BOLD}--- {old_name}\n+++ {new_name}{RESET}\n"));
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!("{CYAN}{}{RESET}\n", hunk.header()));
        for change in hunk.iter_changes() {
            let (sign, color) = match change.tag() {
                similar::ChangeTag::Delete => ("-", RED),
                similar::ChangeTag::Insert => ("+", GREEN),
                similar::ChangeTag::Equal => (" ", ""),
            };
            let text = change.value();
            let nl = if text.ends_with('\n') {
                ""
            } else {
                "\n\\ No newline at end of file\n"
            };
            if color.is_empty() {
                out.push_str(&format!("{sign}{text}{nl}"));
            } else {
                out.push_str(&format!("{color}{sign}{text}{RESET}{nl}"));
            }
        }
    }
    out
}

/// The committed files of a cluster against a fresh render (`cargo xtask diff <env>`).
pub fn against_committed(root: &Path, platform: &Platform, cluster: &str) -> FileDiff {
    let mut diff = FileDiff::default();
    for (path, (committed, generated)) in
        pairs(root, platform, &cluster_prefixes(platform, cluster))
    {
        if committed == generated {
            continue;
        }
        diff.changed += 1;
        diff.files.push((
            path.clone(),
            match (&committed, &generated) {
                (None, _) => "not committed",
                (_, None) => "stale",
                _ => "changed",
            }
            .to_string(),
        ));
        let old = committed.as_deref().unwrap_or("");
        let new = generated.as_deref().unwrap_or("");
        let old_name = if committed.is_some() {
            format!("a/{path}")
        } else {
            "/dev/null".into()
        };
        let new_name = if generated.is_some() {
            format!("b/{path}")
        } else {
            "/dev/null".into()
        };
        diff.text.push_str(&unified(&old_name, &new_name, old, new));
    }
    diff
}

/// `diff <a> <b>` (clusters): both environments' generated files with their names replaced by
/// `<env>`.
pub fn between(platform: &Platform, a: &str, b: &str) -> FileDiff {
    let rendered = render_all(platform);
    // Both environments' names are replaced on both sides: a line that holds the other
    // environment's name for another reason (`/dev/xvda` next to an environment `dev`) then
    // reads the same on both sides instead of showing as a difference.
    let mut names: Vec<&str> = [a, b]
        .iter()
        .flat_map(|c| {
            let c = platform.cluster(c).expect("cluster exists");
            [c.name.as_str(), c.environment.as_str()]
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let norm = |s: &str| {
        let mut s = s.to_string();
        for n in &names {
            s = replace_name(&s, n, "<env>");
        }
        s
    };
    let normalized = |cluster: &str| -> BTreeMap<String, String> {
        rendered
            .files
            .iter()
            .filter(|(p, _)| {
                p.starts_with(&format!("{}/", flotilla_terraform::module_dir(cluster)))
                    || p.starts_with(&format!("helm/{cluster}/"))
            })
            .map(|(p, t)| (norm(p), norm(t)))
            .collect()
    };
    let fa = normalized(a);
    let fb = normalized(b);
    let paths: BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let mut diff = FileDiff::default();
    for p in paths {
        let (ta, tb) = (fa.get(p), fb.get(p));
        if ta == tb {
            continue;
        }
        diff.changed += 1;
        diff.files.push((
            p.clone(),
            match (ta, tb) {
                (Some(_), None) => format!("only in {a}"),
                (None, _) => format!("only in {b}"),
                _ => "differs".to_string(),
            },
        ));
        diff.text.push_str(&unified(
            &if ta.is_some() {
                format!("{a}: {p}")
            } else {
                "/dev/null".into()
            },
            &if tb.is_some() {
                format!("{b}: {p}")
            } else {
                "/dev/null".into()
            },
            ta.map(String::as_str).unwrap_or(""),
            tb.map(String::as_str).unwrap_or(""),
        ));
    }
    diff
}

/// Replaces `name` where it stands as a name of its own (not inside a longer word), so that
/// `dev` becomes `<env>` in `flotilla-dev` and `dev.example.org` but `device` stays.
fn replace_name(text: &str, name: &str, with: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(name) {
        let before = if i > 0 {
            rest[..i].chars().last()
        } else {
            out.chars().last()
        };
        let after = rest[i + name.len()..].chars().next();
        out.push_str(&rest[..i]);
        if word(before) || word(after) {
            out.push_str(name);
        } else {
            out.push_str(with);
        }
        rest = &rest[i + name.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::replace_name;

    #[test]
    fn names_are_replaced_only_where_they_stand_alone() {
        assert_eq!(
            replace_name(
                "flotilla-dev dev.example.org device /dev/xvda dev",
                "dev",
                "<env>"
            ),
            "flotilla-<env> <env>.example.org device /<env>/xvda <env>"
        );
        assert_eq!(replace_name("devdev", "dev", "X"), "devdev");
        assert_eq!(replace_name("", "dev", "X"), "");
    }
}
