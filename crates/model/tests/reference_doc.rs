//! `docs/platform-reference.md` lists exactly the keys the loader accepts, table by table.
//!
//! The keys of a table come from the loader itself: a key it does not know makes it answer with
//! the keys that table takes ("the keys here are ..."). For every table of the file format this
//! test writes an unknown key into the valid corpus base and compares that list with the key
//! column of the table's section in the reference page.

use std::collections::{BTreeMap, BTreeSet};

use flotilla_model::{Versions, load};

const DOC: &str = include_str!("../../../docs/platform-reference.md");
const BASE: &str = include_str!("invalid/base/platform.toml");
const UNKNOWN: &str = "zzz_unknown";

/// Section heading in the reference page -> (text in the base to find, text to put after it).
const TABLES: &[(&str, &str, &str)] = &[
    ("Top level", "[platform]\n", ""),
    ("`[platform]`", "[platform]\n", ""),
    ("`[[clusters]]`", "[[clusters]]\n", ""),
    ("`[clusters.endpoint]`", "[clusters.endpoint]\n", ""),
    ("`[clusters.gateway]`", "[clusters.gateway]\n", ""),
    ("`[[clusters.node_pools]]`", "[[clusters.node_pools]]\n", ""),
    (
        "taints",
        "max = 18\n",
        "taints = [{ key = \"a\", effect = \"NoSchedule\", zzz_unknown = 1 }]\n",
    ),
    ("`[[applications]]`", "[[applications]]\n", ""),
    ("quota", "pods = 50", ", zzz_unknown = 1"),
    ("`[[routes]]`", "[[routes]]\n", ""),
    ("`[observability]`", "[observability]\n", ""),
    (
        "`[[observability.receivers]]`",
        "[[observability.receivers]]\n",
        "",
    ),
    (
        "`[[observability.alerts]]`",
        "[[observability.alerts]]\n",
        "",
    ),
    (
        "`[[observability.routing]]`",
        "[[observability.routing]]\n",
        "",
    ),
    ("`[sizing]`", "[sizing]\n", ""),
];

/// The keys the loader accepts in one table, from its answer to an unknown key there.
fn accepted_keys(section: &str, find: &str, insert: &str) -> BTreeSet<String> {
    let src = if section == "Top level" {
        // A top-level key must come before the first table header.
        BASE.replacen(find, &format!("{UNKNOWN} = 1\n\n{find}"), 1)
    } else {
        let insert = if insert.is_empty() {
            format!("{UNKNOWN} = 1\n")
        } else {
            insert.to_string()
        };
        BASE.replacen(find, &format!("{find}{insert}"), 1)
    };
    assert_ne!(src, BASE, "{section}: {find:?} is not in the corpus base");
    let err = match load("platform.toml", &src, &Versions::embedded()) {
        Ok(_) => panic!("{section}: an unknown key was accepted"),
        Err(e) => e,
    };
    let d = &err.diagnostics[0];
    assert_eq!(
        d.message,
        format!("unknown key `{UNKNOWN}`"),
        "{section}:\n{err}"
    );
    let help = d.help.as_deref().unwrap_or("");
    let list = help
        .strip_prefix("the keys here are ")
        .and_then(|h| h.split(" (").next())
        .unwrap_or_else(|| panic!("{section}: no key list in {help:?}"));
    list.split(", ").map(str::to_string).collect()
}

/// Section heading -> the backquoted keys in the first column of its tables.
fn documented_keys() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in DOC.lines() {
        if line.starts_with('#') {
            section = line.trim_start_matches('#').trim().to_string();
        } else if let Some(rest) = line.strip_prefix("| `")
            && let Some((key, _)) = rest.split_once('`')
        {
            out.entry(section.clone())
                .or_default()
                .insert(key.to_string());
        }
    }
    out
}

#[test]
fn reference_doc_lists_exactly_the_accepted_keys() {
    let documented = documented_keys();
    let mut problems = Vec::new();
    for (section, find, insert) in TABLES {
        let accepted = accepted_keys(section, find, insert);
        let Some(doc) = documented.get(*section) else {
            problems.push(format!("no section {section} with a key table"));
            continue;
        };
        let missing: Vec<_> = accepted.difference(doc).collect();
        let extra: Vec<_> = doc.difference(&accepted).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{section}: undocumented keys {missing:?}, documented but not accepted {extra:?}"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/platform-reference.md is out of step with the file format:\n{}",
        problems.join("\n")
    );
}
