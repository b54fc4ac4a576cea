//! The platform diagram of the seed platform and of a small fixture: reviewed as snapshots,
//! checked line by line against the Mermaid subset the renderer promises, and, where Node.js and
//! `npm ci` are there, parsed by Mermaid itself.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use flotilla_model::{Platform, Versions, load};

const SEED: &str = include_str!("../../testkit/fixtures/seed.toml");
const SMALL: &str = include_str!("fixtures/small.toml");

fn platform(file: &str, text: &str) -> Platform {
    match load(file, text, &Versions::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Renders, checks the structure, and compares with the snapshot `name`.
fn check(name: &str, file: &str, text: &str) -> String {
    let diagram = flotilla_diagram::mermaid(&platform(file, text));
    if let Err(errors) = structure::validate(&diagram) {
        panic!(
            "{name}: invalid diagram:\n{}\n\n{diagram}",
            errors.join("\n")
        );
    }
    insta::assert_snapshot!(name, diagram);
    diagram
}

#[test]
fn seed_platform_diagram() {
    let d = check("seed", "platform.toml", SEED);
    // The pieces issue 6 asks for, derived from the model rather than restated.
    for needle in [
        "VPC 10.10.0.0/16",
        "vpc_production <-.->|\"VPC peering\"| vpc_controlplane",
        "Kafka at kafka-bootstrap.flotilla.internal:9093",
        "[(\"production.logs\")]",
        "[(\"testing.metrics\")]",
        "api.staging.example.com/v1 → api1:8080",
        "www.example.com/ → webapp:80",
        "email platform-oncall@example.com",
        "Slack #35;platform-alerts",
        "alertmanager -->|\"critical\"| receiver_platform_email",
        "alertmanager -->|\"critical; warning, info\"| receiver_platform_slack",
    ] {
        assert!(d.contains(needle), "missing {needle:?} in\n{d}");
    }
}

#[test]
fn small_fixture_diagram() {
    let d = check("small", "small.toml", SMALL);
    assert!(d.contains("dev (cluster dev-use2)"), "{d}");
    assert!(d.contains("namespace shop-frontend"), "{d}");
    assert!(
        d.contains("shop.dev.tiny.example/api → shop-api:9000"),
        "{d}"
    );
    assert!(
        d.contains("\"critical, warning in dev\"| receiver_dev_chat"),
        "{d}"
    );
    // Nothing routes to `unused`: it is drawn, but no edge reaches it.
    assert!(d.contains("receiver_unused("), "{d}");
    assert!(!d.contains("| receiver_unused"), "{d}");
    // Elasticsearch health is a controlplane-only rule: 2 rules there, 1 in the workload cluster.
    assert!(
        d.contains("prometheus_hub[\"Prometheus<br/>2 alert rules\"]"),
        "{d}"
    );
    assert!(
        d.contains("prometheus_dev_use2[\"Prometheus<br/>1 alert rule\"]"),
        "{d}"
    );
}

#[test]
fn rendering_is_deterministic() {
    let p = platform("platform.toml", SEED);
    assert_eq!(flotilla_diagram::mermaid(&p), flotilla_diagram::mermaid(&p));
}

#[test]
fn structure_check_rejects_broken_diagrams() {
    let good = "flowchart LR\n    subgraph s[\"S\"]\n        a[\"A\"]\n    end\n    b[(\"B\")]\n    a -->|\"x\"| b\n";
    assert_eq!(structure::validate(good), Ok(()));
    let broken = [
        ("missing end", good.replace("    end\n", "")),
        ("extra end", format!("{good}    end\n")),
        ("duplicate id", good.replace("b[(\"B\")]", "a[(\"B\")]")),
        ("undeclared endpoint", good.replace("| b", "| c")),
        ("raw quote", good.replace("[\"A\"]", "[\"A \"q\" \"]")),
        ("raw hash", good.replace("[\"A\"]", "[\"#A\"]")),
        ("keyword id", good.replace("a[\"A\"]", "end[\"A\"]")),
        ("no header", good.replace("flowchart LR\n", "")),
        ("unknown statement", format!("{good}    click a call x()\n")),
        (
            "edge inside subgraph",
            good.replace("    end\n", "        a --> a\n    end\n"),
        ),
    ];
    for (what, text) in broken {
        assert!(
            structure::validate(&text).is_err(),
            "{what} accepted:\n{text}"
        );
    }
}

/// Mermaid's own parser (the npm package, under Node.js with jsdom), where it is installed.
#[test]
fn mermaid_parses_the_diagrams() {
    let Some(node) = flotilla_testkit::tool("node", None, "install Node.js 20") else {
        return;
    };
    let root = flotilla_testkit::repo_root();
    if !root.join("node_modules/mermaid/package.json").is_file() {
        flotilla_testkit::skip(
            "node_modules/mermaid is missing: run `npm ci` at the repository root",
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid_parse.mjs");
    let parse = |text: &str| {
        let mut child = Command::new(&node)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), log)
    };
    for (file, text) in [("platform.toml", SEED), ("small.toml", SMALL)] {
        let diagram = flotilla_diagram::mermaid(&platform(file, text));
        let (ok, log) = parse(&diagram);
        assert!(
            ok,
            "Mermaid rejects the diagram of {file}:\n{log}\n{diagram}"
        );
        assert!(log.contains("flowchart"), "unexpected parser output: {log}");
    }
    // The check can fail: an unbalanced subgraph is a parse error.
    let (ok, log) = parse("flowchart LR\n    subgraph s[\"S\"]\n        a --> b\n");
    assert!(!ok, "Mermaid accepted a subgraph without `end`: {log}");
}

/// A line-by-line check of the Mermaid subset `flotilla_diagram::mermaid` writes.
mod structure {
    use super::BTreeSet;

    const KEYWORDS: &[&str] = &[
        "end",
        "subgraph",
        "graph",
        "flowchart",
        "style",
        "class",
        "classDef",
        "click",
        "linkStyle",
        "default",
        "direction",
        "call",
        "href",
    ];
    const SHAPES: &[(&str, &str)] = &[
        ("[(", ")]"),
        ("([", "])"),
        ("((", "))"),
        ("{{", "}}"),
        ("[", "]"),
    ];
    const ARROWS: &[&str] = &["<-.->", "-.->", "-->"];

    /// `Ok` when every line is a statement of the subset, subgraphs are balanced, ids are unique
    /// and not keywords, labels are escaped, and every edge joins ids declared before it.
    pub fn validate(text: &str) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let mut declared = BTreeSet::new();
        let mut stack: Vec<String> = Vec::new();
        let mut header = false;
        let mut edges = 0;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with("%%") {
                continue;
            }
            if !header {
                if line == "flowchart LR" {
                    header = true;
                } else {
                    errors.push(format!("line {n}: expected `flowchart LR`, found {line:?}"));
                }
                continue;
            }
            let mut declare = |id: &str, errors: &mut Vec<String>| {
                if let Err(e) = check_id(id) {
                    errors.push(format!("line {n}: {e}"));
                }
                if !declared.insert(id.to_owned()) {
                    errors.push(format!("line {n}: id {id} declared twice"));
                }
            };
            if line == "end" {
                if stack.pop().is_none() {
                    errors.push(format!("line {n}: `end` without `subgraph`"));
                }
            } else if let Some(rest) = line.strip_prefix("subgraph ") {
                match split_node(rest, &[("[", "]")]) {
                    Ok((id, label)) => {
                        declare(id, &mut errors);
                        check_label(label)
                            .unwrap_or_else(|e| errors.push(format!("line {n}: {e}")));
                        stack.push(id.to_owned());
                    }
                    Err(e) => errors.push(format!("line {n}: {e}")),
                }
            } else if let Some(edge) = parse_edge(line) {
                edges += 1;
                match edge {
                    Ok((from, label, to)) => {
                        if !stack.is_empty() {
                            errors.push(format!(
                                "line {n}: edge inside subgraph {}",
                                stack.join("/")
                            ));
                        }
                        for id in [from, to] {
                            if !declared.contains(id) {
                                errors
                                    .push(format!("line {n}: edge endpoint {id} is not declared"));
                            }
                        }
                        if let Some(label) = label {
                            check_label(label)
                                .unwrap_or_else(|e| errors.push(format!("line {n}: {e}")));
                        }
                    }
                    Err(e) => errors.push(format!("line {n}: {e}")),
                }
            } else {
                match split_node(line, SHAPES) {
                    Ok((id, label)) => {
                        declare(id, &mut errors);
                        check_label(label)
                            .unwrap_or_else(|e| errors.push(format!("line {n}: {e}")));
                    }
                    Err(e) => errors.push(format!("line {n}: {e}")),
                }
            }
        }
        if !header {
            errors.push("no `flowchart LR` line".to_owned());
        }
        if !stack.is_empty() {
            errors.push(format!("subgraph(s) not closed: {}", stack.join(", ")));
        }
        if edges == 0 {
            errors.push("no edges".to_owned());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn check_id(id: &str) -> Result<(), String> {
        let mut chars = id.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad id {id:?}"));
        }
        if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(id)) {
            return Err(format!("id {id:?} is a Mermaid keyword"));
        }
        Ok(())
    }

    /// `ID<open>"label"<close>` for one of the given shapes.
    fn split_node<'a>(
        line: &'a str,
        shapes: &[(&str, &str)],
    ) -> Result<(&'a str, &'a str), String> {
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("not a statement: {line:?}"))?;
        let (id, rest) = line.split_at(end);
        for (open, close) in shapes {
            if let Some(label) = rest
                .strip_prefix(open)
                .and_then(|r| r.strip_prefix('"'))
                .and_then(|r| r.strip_suffix(close))
                .and_then(|r| r.strip_suffix('"'))
            {
                return Ok((id, label));
            }
        }
        Err(format!("not a statement: {line:?}"))
    }

    /// `FROM ARROW TO` or `FROM ARROW|"label"| TO`; `None` when the line has no arrow.
    #[allow(clippy::type_complexity)]
    fn parse_edge(line: &str) -> Option<Result<(&str, Option<&str>, &str), String>> {
        let (from, rest) = line.split_once(' ')?;
        let arrow = ARROWS.iter().find(|a| rest.starts_with(**a))?;
        let rest = &rest[arrow.len()..];
        let bad = || Err(format!("malformed edge: {line:?}"));
        let (label, to) = if let Some(r) = rest.strip_prefix("|\"") {
            match r.split_once("\"| ") {
                Some((label, to)) => (Some(label), to),
                None => return Some(bad()),
            }
        } else if let Some(to) = rest.strip_prefix(' ') {
            (None, to)
        } else {
            return Some(bad());
        };
        if to.is_empty() || to.contains(' ') {
            return Some(bad());
        }
        Some(Ok((from, label, to)))
    }

    /// A quoted label may hold `<br/>` and entity codes, but no raw `"`, `#`, `<`, `>`, `&`,
    /// backtick or `|`.
    fn check_label(label: &str) -> Result<(), String> {
        let text = label.replace("<br/>", "\n");
        let mut rest = text.as_str();
        while let Some(i) = rest.find('#') {
            let after = &rest[i + 1..];
            let code_len = after
                .find(';')
                .filter(|&j| j > 0 && after[..j].chars().all(|c| c.is_ascii_alphanumeric()));
            match code_len {
                Some(j) => rest = &after[j + 1..],
                None => return Err(format!("unescaped `#` in label {label:?}")),
            }
        }
        if let Some(c) = text.chars().find(|c| "\"<>&`|".contains(*c)) {
            return Err(format!("unescaped {c:?} in label {label:?}"));
        }
        Ok(())
    }
}
