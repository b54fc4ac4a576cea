//! The toolbox image (the root `Dockerfile`) pins the tools versions.toml names.
//!
//! Versions are data in one file; the Dockerfile restates the `[tools]` table as build-argument
//! defaults because a Docker build cannot read TOML. This test fails when the two disagree, when
//! a tool of versions.toml has no build argument, or when the builder's Rust is older than the
//! workspace's `rust-version`. The image itself is built by .github/workflows/toolbox.yml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use flotilla_model::Versions;
use flotilla_model::versions::Tools;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `ARG NAME=default` lines of a Dockerfile, by name. A name given a default twice is reported.
fn arg_defaults(dockerfile: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in dockerfile.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("ARG ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once('=') else {
            continue; // `ARG TARGETARCH`: no default
        };
        let value = value.trim().trim_matches('"').to_owned();
        if out.insert(name.trim().to_owned(), value).is_some() {
            return Err(format!(
                "Dockerfile:{}: ARG {name} has a second default",
                i + 1
            ));
        }
    }
    Ok(out)
}

/// Build argument -> the version versions.toml pins for it. Destructuring `Tools` means a tool
/// added to versions.toml does not compile here until it has a build argument.
fn expected(tools: &Tools) -> Vec<(&'static str, &str)> {
    let Tools {
        terraform,
        helm,
        helm_diff,
        kubectl,
        awscli,
    } = tools;
    vec![
        ("TERRAFORM_VERSION", terraform),
        ("HELM_VERSION", helm),
        ("HELM_DIFF_VERSION", helm_diff),
        ("KUBECTL_VERSION", kubectl),
        ("AWSCLI_VERSION", awscli),
    ]
}

/// Every way the Dockerfile's tool versions differ from versions.toml.
fn mismatches(dockerfile: &str, tools: &Tools) -> Vec<String> {
    let args = match arg_defaults(dockerfile) {
        Ok(a) => a,
        Err(e) => return vec![e],
    };
    let mut out = Vec::new();
    for (arg, want) in expected(tools) {
        match args.get(arg) {
            None => out.push(format!("Dockerfile has no `ARG {arg}={want}`")),
            Some(got) if got != want => out.push(format!(
                "Dockerfile ARG {arg} defaults to {got}, versions.toml [tools] pins {want}"
            )),
            Some(_) => {}
        }
        if !dockerfile.contains(&format!("${{{arg}}}")) {
            out.push(format!("Dockerfile never uses ${{{arg}}}"));
        }
    }
    // A version argument the test does not know about is a tool outside versions.toml.
    let known: Vec<&str> = expected(tools).iter().map(|(a, _)| *a).collect();
    for arg in args.keys() {
        if arg.ends_with("_VERSION") && arg != "RUST_VERSION" && !known.contains(&arg.as_str()) {
            out.push(format!(
                "Dockerfile ARG {arg} is not pinned in versions.toml [tools]"
            ));
        }
    }
    out
}

fn major_minor(v: &str) -> (u32, u32) {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn dockerfile_tool_versions_match_versions_toml() {
    let dockerfile = read(&root().join("Dockerfile"));
    let versions = Versions::parse(&read(&root().join("versions.toml"))).expect("versions.toml");
    let problems = mismatches(&dockerfile, &versions.tools);
    assert!(
        problems.is_empty(),
        "the toolbox image and versions.toml disagree:\n  {}\n(update the ARG defaults in the Dockerfile)",
        problems.join("\n  ")
    );
}

#[test]
fn builder_rust_is_at_least_the_workspace_rust_version() {
    let dockerfile = read(&root().join("Dockerfile"));
    let args = arg_defaults(&dockerfile).unwrap();
    let image = args.get("RUST_VERSION").expect("ARG RUST_VERSION");
    let cargo_toml = read(&root().join("Cargo.toml"));
    let msrv = cargo_toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .expect("workspace rust-version")
        .trim_matches('"');
    assert!(
        major_minor(image) >= major_minor(msrv),
        "the builder uses Rust {image}, the workspace needs {msrv}"
    );
}

#[test]
fn a_disagreeing_dockerfile_is_reported() {
    let dockerfile = read(&root().join("Dockerfile"));
    let tools = Versions::embedded().tools;
    let wrong = dockerfile.replace(
        &format!("ARG HELM_VERSION={}", tools.helm),
        "ARG HELM_VERSION=0.0.1",
    );
    assert_ne!(
        wrong, dockerfile,
        "the Dockerfile declares ARG HELM_VERSION"
    );
    let problems = mismatches(&wrong, &tools);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("HELM_VERSION defaults to 0.0.1"),
        "{problems:?}"
    );

    let missing = dockerfile.replace(&format!("ARG AWSCLI_VERSION={}\n", tools.awscli), "");
    assert!(
        mismatches(&missing, &tools)
            .iter()
            .any(|p| p.contains("no `ARG AWSCLI_VERSION")),
        "a missing ARG is reported"
    );

    let extra = format!("{dockerfile}\nARG YQ_VERSION=4.0.0\n");
    assert!(
        mismatches(&extra, &tools)
            .iter()
            .any(|p| p.contains("YQ_VERSION is not pinned")),
        "an unpinned tool is reported"
    );
}
