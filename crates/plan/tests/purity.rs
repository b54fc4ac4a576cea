//! The architecture invariant as a fact of the dependency tree: `flotilla-plan` and
//! `flotilla-generate` do no IO beyond what their job needs (the generate write path uses
//! `std::fs`), so no async runtime, AWS SDK, Kubernetes client, HTTP or TLS stack is among
//! their normal (non-dev) dependencies, transitively. Read from `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Crates that mean IO a pure layer must not do.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "aws-",
    "kube",
    "hyper",
    "rustls",
    "reqwest",
    "mio",
    "indicatif",
    "rustix",
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        // Not --offline: metadata reads the manifest of every package of the lock file, those
        // of other platforms too, which a build on this one never downloaded.
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The names of every package a package pulls in through normal dependencies.
fn normal_closure(meta: &Value, root: &str) -> BTreeSet<String> {
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let start = names
        .iter()
        .find(|(_, n)| **n == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("{root} is not in the workspace"));
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null());
            if normal {
                stack.push(dep["pkg"].as_str().unwrap());
            }
        }
    }
    seen.into_iter().map(|id| names[id].to_string()).collect()
}

#[test]
fn the_pure_layers_pull_in_no_io_stack() {
    let meta = metadata();
    for krate in ["flotilla-plan", "flotilla-generate"] {
        let closure = normal_closure(&meta, krate);
        let bad: Vec<&String> = closure
            .iter()
            .filter(|n| FORBIDDEN.iter().any(|f| n.starts_with(f)))
            .collect();
        assert!(bad.is_empty(), "{krate} depends on {bad:?}");
        assert!(closure.contains("flotilla-model"), "{krate}: {closure:?}");
    }
    // The check sees IO stacks where they are: the deploy crate has them.
    let deploy = normal_closure(&meta, "flotilla-deploy");
    assert!(deploy.contains("tokio") && deploy.iter().any(|n| n.starts_with("aws-")));
}
