//! The command line as a user meets it: exit codes, messages, and what is (not) written.

use flotilla_testkit::git;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shipped example platform, which these tests read instead of the repository's own
/// platform.toml (a user's edit of that changes the generated output and nothing else).
fn seed_file() -> PathBuf {
    root().join("crates/testkit/fixtures/seed.toml")
}

/// A checkout of the example platform, made once per run: the seed as its platform.toml, the
/// docs with generated regions, its generated output, all committed to git.
fn checkout() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-seed-checkout");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::copy(seed_file(), dir.join("platform.toml")).unwrap();
        for f in ["versions.toml", "README.md", "docs/architecture.md"] {
            std::fs::copy(root().join(f), dir.join(f)).unwrap();
        }
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("generate")
            .current_dir(&dir)
            .env("FLOTILLA_ROOT", &dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
        git(&dir, &["init", "-q"]);
        git(&dir, &["add", "."]);
        git(&dir, &["commit", "-q", "-m", "the example platform"]);
        dir
    })
}

fn xtask(args: &[&str]) -> Output {
    xtask_with(args, &[])
}

/// [`xtask`] with these environment variables; FLOTILLA_STATE_DIR and FLOTILLA_TODAY only as
/// given (not the caller's).
fn xtask_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args)
        .current_dir(checkout())
        .env("FLOTILLA_ROOT", checkout())
        .env_remove("FLOTILLA_STATE_DIR")
        .env_remove("FLOTILLA_TODAY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("xtask runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use flotilla_testkit::files_under;

/// The seed platform with one line replaced.
fn seed_with(from: &str, to: &str) -> String {
    let seed = std::fs::read_to_string(seed_file()).unwrap();
    assert!(seed.contains(from), "seed lacks {from:?}");
    seed.replacen(from, to, 1)
}

#[test]
fn generate_out_writes_a_tree_that_then_checks_clean_and_detects_drift() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let o = xtask(&["generate", "--out", out]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let files = files_under(dir.path());
    assert!(!files.is_empty());
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("infra/") || f.starts_with("helm/")),
        "{files:?}"
    );

    let o = xtask(&["generate", "--check", "--out", out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    // Edit one generated file and add a stray generated one (a cluster that is gone) and a
    // file of the user's own: the first two are named, exit code 2; the user's file is not
    // drift.
    let victim = dir.path().join(&files[0]);
    std::fs::write(&victim, "edited by hand\n").unwrap();
    std::fs::create_dir_all(dir.path().join("infra/gone")).unwrap();
    std::fs::copy(
        dir.path().join("infra/testing/main.tf"),
        dir.path().join("infra/gone/main.tf"),
    )
    .unwrap();
    std::fs::write(dir.path().join("infra/gone/NOTES.md"), "# mine\n").unwrap();
    let o = xtask(&["generate", "--check", "--out", out]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains(&files[0]), "{err}");
    assert!(err.contains("infra/gone/main.tf"), "{err}");
    assert!(!err.contains("NOTES.md"), "{err}");
    assert!(
        err.contains(&format!("cargo xtask generate --out {out}")),
        "{err}"
    );
    // --check wrote nothing.
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "edited by hand\n"
    );

    // A normal run repairs both, says where it wrote, and leaves the user's file alone.
    let o = xtask(&["generate", "--out", out]);
    assert!(o.status.success());
    let said = text(&o.stdout);
    assert!(
        said.contains(&format!("removed {out}/infra/gone/main.tf")),
        "{said}"
    );
    assert!(
        said.contains(&format!("wrote   {out}/{}", files[0])),
        "{said}"
    );
    assert!(!dir.path().join("infra/gone/main.tf").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("infra/gone/NOTES.md")).unwrap(),
        "# mine\n"
    );
    let o = xtask(&["generate", "--check", "--out", out]);
    assert_eq!(o.status.code(), Some(0));
}

/// A platform file saved in another encoding is a located error at its first bad byte, naming
/// the encoding it looks like; nothing is written.
#[test]
fn a_platform_that_is_not_utf8_is_located_at_its_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("latin1.toml");
    // "é" in Latin-1 (0xE9) in a comment on line 3.
    let mut bytes = b"# Flotilla\n\n# caf".to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"\n");
    bytes.extend_from_slice(&std::fs::read(seed_file()).unwrap());
    std::fs::write(&bad, &bytes).unwrap();
    let out = dir.path().join("out");
    let o = xtask(&[
        "--platform",
        bad.to_str().unwrap(),
        "generate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "exit::INVALID_PLATFORM");
    let err = text(&o.stderr);
    assert!(
        err.contains("latin1.toml:3:6: error: byte 0xE9 is not valid UTF-8"),
        "{err}"
    );
    assert!(
        err.contains("Latin-1 or Windows-1252, where 0xE9 is 'é'"),
        "{err}"
    );
    assert!(!out.exists());
    // UTF-16 says so.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "name = \"x\"\n"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    std::fs::write(&bad, utf16).unwrap();
    let o = xtask(&["--platform", bad.to_str().unwrap(), "generate", "--check"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("UTF-16"), "{}", text(&o.stderr));
}

#[test]
fn an_invalid_platform_is_reported_with_locations_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    // Two semantic errors: a bad cluster name and an overlapping CIDR.
    let text_ = seed_with("name = \"staging\"", "name = \"Staging_1\"").replacen(
        "vpc_cidr = \"10.30.0.0/16\"",
        "vpc_cidr = \"10.10.0.0/16\"",
        1,
    );
    std::fs::write(&bad, text_).unwrap();
    let out = dir.path().join("out");
    let o = xtask(&[
        "--platform",
        bad.to_str().unwrap(),
        "generate",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "exit::INVALID_PLATFORM");
    let err = text(&o.stderr);
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("Staging_1"), "{err}");
    assert!(err.contains("overlaps"), "{err}");
    assert!(err.contains("2 errors"), "{err}");
    assert!(
        !out.exists(),
        "an invalid platform wrote {:?}",
        files_under(&out)
    );
}

#[test]
fn unknown_environment_lists_the_known_ones() {
    let o = xtask(&["deploy", "prod", "--dry-run"]);
    assert_eq!(o.status.code(), Some(64), "exit::USAGE");
    let err = text(&o.stderr);
    assert!(err.contains("unknown environment \"prod\""), "{err}");
    for env in ["production", "staging", "testing", "controlplane"] {
        assert!(err.contains(env), "{err}");
    }
}

#[test]
fn a_missing_platform_file_is_a_clear_error() {
    let o = xtask(&[
        "--platform",
        "/nonexistent/platform.toml",
        "generate",
        "--check",
    ]);
    assert_eq!(o.status.code(), Some(3), "exit::INVALID_PLATFORM");
    assert!(text(&o.stderr).contains("/nonexistent/platform.toml"));
}

#[test]
fn graph_prints_mermaid() {
    // The diagram names the file it was drawn from.
    let other = root().join("crates/testkit/fixtures/two-envs.toml");
    let o = xtask(&["--platform", other.to_str().unwrap(), "graph"]);
    assert!(
        text(&o.stdout).starts_with(&format!(
            "%% The duo platform, drawn from {} by `cargo xtask graph`.\n",
            other.display()
        )),
        "{}",
        text(&o.stdout)
    );
    let o = xtask(&["graph"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("\nflowchart LR\n"),
        "{}",
        text(&o.stdout)
    );
}

/// Every file of the invalid-platform corpus: exit code 3 (also under `--check`), the model's
/// located diagnostics on stderr, and an output directory that is left exactly as it was.
#[test]
fn no_invalid_platform_of_the_corpus_writes_or_removes_anything() {
    let corpus = root().join("crates/model/tests/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    // A tree that a stale-file sweep would touch: a generated-looking file and a sentinel.
    std::fs::create_dir_all(out.join("infra/old")).unwrap();
    std::fs::write(out.join("infra/old/main.tf"), "sentinel\n").unwrap();
    let before = files_under(out);
    for file in &files {
        for extra in [&[][..], &["--check"][..]] {
            let mut args = vec![
                "--platform",
                file.to_str().unwrap(),
                "generate",
                "--out",
                out.to_str().unwrap(),
            ];
            args.extend_from_slice(extra);
            let o = xtask(&args);
            let err = text(&o.stderr);
            assert_eq!(o.status.code(), Some(3), "{}: {err}", file.display());
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                err.contains(&format!("{name}:")) && err.contains(": error: "),
                "{}: no located diagnostic in:\n{err}",
                file.display()
            );
        }
        assert_eq!(
            files_under(out),
            before,
            "{} changed the output",
            file.display()
        );
        assert_eq!(
            std::fs::read_to_string(out.join("infra/old/main.tf")).unwrap(),
            "sentinel\n"
        );
    }
}

/// The exit-code table (`flotilla_plan::exit`), each code produced by the situation it names,
/// and the same table in the README.
#[test]
fn every_exit_code_means_what_the_table_says() {
    use flotilla_plan::exit;
    // Usage: a missing argument, an unknown flag (clap), an unknown environment.
    for args in [
        &["deploy"][..],
        &["generate", "--chek"][..],
        &["diff", "nowhere"][..],
    ] {
        assert_eq!(
            xtask(args).status.code(),
            Some(i32::from(exit::USAGE)),
            "{args:?}"
        );
    }
    assert_eq!(xtask(&["--help"]).status.code(), Some(i32::from(exit::OK)));
    // A scratch repository: the seed platform and its generated output.
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::copy(seed_file(), repo.join("platform.toml")).unwrap();
    let run = |args: &[&str], path: &str| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(repo)
            .env("FLOTILLA_ROOT", repo)
            .env("PATH", path)
            .env_remove("FLOTILLA_TERRAFORM")
            .env_remove("FLOTILLA_HELM")
            .env_remove("FLOTILLA_KUBECTL")
            .output()
            .expect("xtask runs")
    };
    let path = std::env::var("PATH").unwrap_or_default();
    let o = run(&["generate", "--out", repo.to_str().unwrap()], &path);
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        run(&["diff", "testing"], &path).status.code(),
        Some(i32::from(exit::OK))
    );
    // No terraform, helm or kubectl on PATH: a real run stops before any step.
    let empty = repo.join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run(&["deploy", "testing", "--yes"], empty.to_str().unwrap());
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::TOOL_MISSING)),
        "{err}"
    );
    assert!(err.contains("was not found on PATH"), "{err}");
    // Drift: diff reports it, a deploy refuses because of it.
    let values = repo.join("helm/testing/fluent-bit/values.yaml");
    let v = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, format!("{v}# edited\n")).unwrap();
    assert_eq!(
        run(&["diff", "testing"], &path).status.code(),
        Some(i32::from(exit::CHANGES))
    );
    let o = run(&["deploy", "testing", "--yes"], empty.to_str().unwrap());
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::CHANGES)),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("helm/testing/fluent-bit/values.yaml"));
    // The README's table is this table.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for (code, meaning) in exit::TABLE {
        assert!(
            readme.contains(&format!("| {code} | {meaning} |")),
            "README lacks the row for exit code {code}"
        );
    }
}

/// `drift --dry-run` needs no credentials or tools and lists each cluster's inspection.
#[test]
fn drift_dry_run_lists_every_clusters_inspection() {
    let o = xtask(&["drift", "all", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("drift all --dry-run: 4 cluster(s); nothing is run"),
        "{out}"
    );
    for c in ["controlplane", "production", "staging", "testing"] {
        assert!(out.contains(&format!("\n{c}:\n")), "{c}: {out}");
        assert!(
            out.contains(&format!("terraform -chdir=infra/{c} plan -refresh-only")),
            "{c}: {out}"
        );
    }
    assert!(out.contains("helm diff upgrade fluent-bit"), "{out}");
    assert_eq!(
        xtask(&["drift", "nowhere", "--dry-run"]).status.code(),
        Some(i32::from(flotilla_plan::exit::USAGE))
    );
}

/// `plan <env> --from <ref>`: the upgrade plan from the platform a git ref has; a jump EKS
/// refuses is an error located at the cluster's `kubernetes_version`, exit 3.
#[test]
fn plan_shows_the_upgrade_from_a_git_ref_and_refuses_a_skipped_minor() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let git = |args: &[&str]| git(repo, args);
    std::fs::copy(root().join("versions.toml"), repo.join("versions.toml")).unwrap();
    let seed = std::fs::read_to_string(seed_file()).unwrap();
    let staging = "name = \"staging\"\nrole = \"workload\"\nenvironment = \"staging\"\nvpc_cidr = \"10.20.0.0/16\"\navailability_zones = 2\nkubernetes_version = \"1.34\"";
    assert!(seed.contains(staging), "the seed's staging block moved");
    let with = |v: &str| seed.replace(staging, &staging.replace("\"1.34\"", &format!("\"{v}\"")));
    git(&["init", "-q"]);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(repo)
            .env("FLOTILLA_ROOT", repo)
            .output()
            .expect("xtask runs")
    };
    // Committed at 1.33, working copy at 1.34: one minor up, planned.
    std::fs::write(repo.join("platform.toml"), with("1.33")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "base"]);
    std::fs::write(repo.join("platform.toml"), &seed).unwrap();
    let o = run(&["plan", "staging"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.contains("staging: Kubernetes 1.33 -> 1.34, from HEAD:\n  1. control plane 1.33 -> 1.34 (terraform:staging"), "{out}");
    assert!(!out.contains("problem:"), "{out}");
    // Committed at 1.32: 1.34 skips a minor, located error, exit 3.
    std::fs::write(repo.join("platform.toml"), with("1.32")).unwrap();
    git(&["commit", "-q", "-am", "older"]);
    std::fs::write(repo.join("platform.toml"), &seed).unwrap();
    let o = run(&["plan", "staging"]);
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(i32::from(flotilla_plan::exit::INVALID_PLATFORM)),
        "{err}"
    );
    let line = seed
        .lines()
        .position(|l| l == "name = \"staging\"")
        .unwrap()
        + 6;
    assert!(
        err.contains(&format!("platform.toml:{line}:22: error: kubernetes_version 1.34 skips a minor version from 1.32")),
        "{err}"
    );
    // Another ref: the same file against HEAD~1 (1.33) plans again.
    assert_eq!(
        run(&["plan", "staging", "--from", "HEAD~1"]).status.code(),
        Some(0)
    );
}

/// A documented line against a printed one: equal, where `[...]` inside the line stands for
/// any text.
fn line_matches(want: &str, actual: &str) -> bool {
    let parts: Vec<&str> = want.split("[...]").collect();
    if parts.len() == 1 {
        return want == actual;
    }
    let mut rest = match actual.strip_prefix(parts[0]) {
        Some(r) => r,
        None => return false,
    };
    for (i, part) in parts.iter().enumerate().skip(1) {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The `$ cargo xtask ...` excerpts of docs/operations.md that run offline (plan, graph, diff
/// between environments, dry runs; without a `#` note saying the platform was changed first)
/// and the README's dry run are what those commands print on the repository's
/// platform: every line but the `[...]`/`...` elisions appears in the output, in order (the
/// checkout's path written as the docs' `/home/ops/flotilla`).
#[test]
fn the_documented_output_is_what_the_commands_print() {
    let root_text = checkout().display().to_string();
    let mut checked = 0;
    let mut excerpts: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    let ops = std::fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let mut lines = ops.lines().peekable();
    while let Some(l) = lines.next() {
        let Some(cmd) = l.strip_prefix("$ cargo xtask ") else {
            continue;
        };
        let mut expected = Vec::new();
        while let Some(next) = lines.peek() {
            if next.starts_with("$ ") || next.starts_with("```") {
                break;
            }
            expected.push(lines.next().unwrap().to_string());
        }
        let args: Vec<String> = cmd.split_whitespace().map(str::to_string).collect();
        // Only what runs offline on the repository's platform as written: a `#` note says the
        // platform or the account was changed first, a redirection is the shell's.
        let offline = args[0] == "plan"
            || args[0] == "graph"
            || args.iter().any(|a| a == "--dry-run")
            || (args[0] == "diff" && !args.iter().any(|a| a == "--live"));
        if cmd.contains('#') || cmd.contains('<') || cmd.contains('|') || !offline {
            continue;
        }
        excerpts.push((format!("docs/operations.md: {l}"), args, expected));
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```text\ndeploy production --dry-run:")
        .expect("the README shows the dry run");
    let block: Vec<String> = readme[start + "```text\n".len()..]
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .map(str::to_string)
        .collect();
    excerpts.push((
        "README.md: the dry run".into(),
        vec!["deploy".into(), "production".into(), "--dry-run".into()],
        block,
    ));
    for (at, args, expected) in excerpts {
        // On the day the excerpts were taken (plan's EKS support section reads the date).
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = xtask_with(&args, &[("FLOTILLA_TODAY", "2026-12-02")]);
        let actual = format!("{}{}", text(&o.stdout), text(&o.stderr))
            .replace(&root_text, "/home/ops/flotilla");
        let actual: Vec<&str> = actual.lines().map(str::trim_end).collect();
        let mut from = 0;
        for want in expected.iter().map(|l| l.trim_end()) {
            if want == "[...]" || want.trim() == "..." {
                continue;
            }
            match actual[from..].iter().position(|a| line_matches(want, a)) {
                Some(i) => from += i + 1,
                None => panic!(
                    "{at}: the docs show a line the command does not print (or not here):\n{want}\n\nafter line {from} of the output:\n{}",
                    actual.join("\n")
                ),
            }
        }
        checked += 1;
    }
    assert!(checked >= 5, "excerpts checked: {checked}");
}

#[test]
fn the_binary_acts_on_the_checkout_it_is_run_from() {
    // A second checkout (platform.toml and its generated output) whose retention differs from
    // this repository's: run from a subdirectory of it, without FLOTILLA_ROOT, the binary built
    // here reads that checkout's platform, not the one it was compiled in.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path();
    std::fs::write(
        other.join("platform.toml"),
        seed_with("retention_days = 14", "retention_days = 7"),
    )
    .unwrap();
    std::fs::create_dir_all(other.join("docs")).unwrap();
    for doc in ["README.md", "docs/architecture.md"] {
        std::fs::copy(root().join(doc), other.join(doc)).unwrap();
    }
    let run = |args: &[&str], cwd: &Path| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(cwd)
            .env_remove("FLOTILLA_ROOT")
            .output()
            .expect("xtask runs")
    };
    let o = run(&["generate"], other);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(other.join("helm/controlplane").is_dir());
    let sub = other.join("helm/controlplane");
    let here = text(&run(&["plan", "controlplane"], checkout()).stdout);
    let there = text(&run(&["plan", "controlplane"], &sub).stdout);
    let nodes = |s: &str| {
        s.lines()
            .find(|l| l.contains("data nodes"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no data nodes line in:\n{s}"))
    };
    assert_ne!(nodes(&here), nodes(&there), "both plans read one platform");
    // The other checkout is up to date with its own platform, and this one with its own.
    assert!(run(&["generate", "--check"], &sub).status.success());
    assert!(run(&["generate", "--check"], checkout()).status.success());
}

#[test]
fn a_closed_output_pipe_ends_a_command_quietly() {
    // `cargo xtask plan all | head -1`: the reader goes away before the command writes. The
    // command stops without a panic (exit 101) and without an error message.
    for args in [
        &["plan", "all"][..],
        &["deploy", "all", "--dry-run"][..],
        &["graph"][..],
        &["diff", "staging", "testing"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(checkout())
            .env("FLOTILLA_ROOT", checkout())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("xtask runs");
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_ne!(o.status.code(), Some(101), "{args:?} panicked");
        assert_eq!(text(&o.stderr), "", "{args:?}");
    }
}

/// `doctor`: every tool with found/missing and its version against the pin, in text and JSON;
/// exit 4 while a deploy tool is missing, 1 with the tools but without credentials (here
/// `--offline`, so nothing asks AWS).
#[test]
fn doctor_says_what_this_machine_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let run = |path: &Path, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["doctor", "--offline"])
            .args(args)
            .current_dir(checkout())
            .env("FLOTILLA_ROOT", checkout())
            .env("PATH", path)
            .env_remove("FLOTILLA_TERRAFORM")
            .env_remove("FLOTILLA_HELM")
            .env_remove("FLOTILLA_KUBECTL")
            .output()
            .expect("xtask runs")
    };
    let json = |o: &Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
    };
    let status_of = |v: &serde_json::Value, name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {v}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Nothing on PATH.
    let o = run(&bin, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!(status_of(&v, "terraform"), "missing");
    assert_eq!(status_of(&v, "helm-diff"), "skipped");
    assert_eq!(status_of(&v, "AWS credentials"), "skipped");
    assert_eq!(v["deploy_ready"], false);
    let o = run(&bin, &[]);
    let said = text(&o.stdout);
    assert!(said.contains("  MISSING  terraform (pinned "), "{said}");
    assert!(
        said.contains(
            "a deploy cannot run here: terraform, helm, kubectl, helm-diff, AWS credentials"
        ),
        "{said}"
    );
    // Stand-ins that answer as the pinned versions, helm with the diff plugin.
    let versions = flotilla_model::Versions::embedded();
    let t = &versions.tools;
    for (name, script) in [
        (
            "terraform",
            format!("echo '{{\"terraform_version\":\"{}\"}}'", t.terraform),
        ),
        (
            "helm",
            format!(
                "if [ \"$1\" = plugin ]; then printf 'NAME\\tVERSION\\ndiff\\t{}\\n'; else echo v{}; fi",
                t.helm_diff, t.helm
            ),
        ),
        (
            "kubectl",
            format!(
                "echo '{{\"clientVersion\":{{\"gitVersion\":\"v{}\"}}}}'",
                t.kubectl
            ),
        ),
    ] {
        let p = bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let o = run(Path::new(&path), &["--format", "json"]);
    let v = json(&o);
    for tool in ["terraform", "helm", "kubectl", "helm-diff"] {
        assert_eq!(status_of(&v, tool), "ok", "{tool}: {v}");
    }
    let diff = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "helm-diff")
        .unwrap();
    assert_eq!(diff["detail"], "helm plugin", "{diff}");
    // The tools are there; `--offline` did not ask for credentials and says so: exit 0.
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(status_of(&v, "AWS credentials"), "skipped");
    let said = text(&run(Path::new(&path), &[]).stdout);
    assert!(
        said.contains(
            "the tools of a deploy are here; the AWS credentials were not checked (--offline)"
        ),
        "{said}"
    );
    // A helm-diff other than the pinned one is said, with how to get the pinned one.
    std::fs::write(
        bin.join("helm"),
        format!(
            "#!/bin/sh\nif [ \"$1\" = plugin ]; then printf 'NAME\\tVERSION\\ndiff\\t3.1.0\\n'; else echo v{}; fi\n",
            t.helm
        ),
    )
    .unwrap();
    let said = text(&run(Path::new(&path), &[]).stdout);
    assert!(
        said.contains(&format!("version 3.1.0 where {} is pinned", t.helm_diff)),
        "{said}"
    );
}

/// Every flag of every command, as `--help` lists it, is in that command's row of the README's
/// command table; and every help ends with examples and the exit codes.
#[test]
fn the_readme_lists_every_flag_of_every_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for cmd in [
        &["generate"][..],
        &["diff"],
        &["drift"],
        &["deploy"],
        &["destroy"],
        &["plan"],
        &["graph"],
        &["doctor"],
        &["reference", "sync"],
        &["test"],
        &["bench", "render"],
        &["bench", "synth"],
        &["bench", "diff-loop"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let help = text(&xtask(&args).stdout);
        let name = cmd.join(" ");
        let row = readme
            .lines()
            .find(|l| l.starts_with("| `cargo xtask") && l.contains(&format!("xtask {name}")))
            .or_else(|| {
                readme
                    .lines()
                    .find(|l| l.starts_with("| `cargo xtask") && l.contains(&format!("{name} ")))
            })
            .unwrap_or_else(|| panic!("no README row for `{name}`"));
        for line in help.lines() {
            let t = line.trim_start();
            let Some(flag) = t
                .strip_prefix("-h, ")
                .or(Some(t))
                .and_then(|t| t.strip_prefix("--"))
                .map(|f| f.split([' ', '<', '=']).next().unwrap_or(""))
            else {
                continue;
            };
            if flag.is_empty() || ["help", "platform", "version"].contains(&flag) {
                continue;
            }
            assert!(
                row.contains(&format!("--{flag}")),
                "README row of `{name}` lacks --{flag}: {row}"
            );
        }
        if cmd[0] != "bench" && cmd[0] != "reference" {
            assert!(help.contains("Example"), "`{name} --help` has no example");
            assert!(
                help.contains("Exit codes:"),
                "`{name} --help` has no exit codes"
            );
        }
        assert!(
            help.contains("Usage: cargo xtask "),
            "`{name} --help` says how to run it: {help}"
        );
    }
}

/// Typos get a suggestion, contradictory flags and impossible values are usage errors (64),
/// and destroy says what it needs.
#[test]
fn mistakes_on_the_command_line_are_usage_errors_that_say_what_to_do() {
    use flotilla_plan::exit;
    let o = xtask(&["plan", "prod"]);
    assert_eq!(o.status.code(), Some(i32::from(exit::USAGE)));
    assert!(
        text(&o.stderr).contains("did you mean `production`?"),
        "{}",
        text(&o.stderr)
    );
    let o = xtask(&["deploy", "stagin", "--dry-run"]);
    assert!(text(&o.stderr).contains("did you mean `staging`?"));
    for args in [
        &["diff", "staging", "testing", "--live"][..],
        &["diff", "staging", "staging"],
        &["deploy", "testing", "--jobs", "0", "--dry-run"],
        &["bench", "synth", "--clusters", "0"],
    ] {
        let o = xtask(args);
        assert_eq!(
            o.status.code(),
            Some(i32::from(exit::USAGE)),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    // `xtask()` runs with stdin closed, as a CI job does.
    let o = xtask(&["destroy", "staging"]);
    assert!(
        text(&o.stderr).contains("destroy needs `--confirm staging`"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(i32::from(exit::USAGE)));
    let o = xtask(&["destroy", "staging", "--confirm", "staging"]);
    assert!(
        text(&o.stderr).contains("destroying needs --yes when not interactive (stdin is not a terminal); review the teardown first with `cargo xtask destroy staging --confirm staging --dry-run`"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(i32::from(exit::USAGE)));
}

/// `--format json`: plan, diff (one environment and two), doctor (its own test) and the
/// deploy/destroy summaries print one JSON object on stdout, nothing else.
#[test]
fn output_for_machines_is_one_json_object() {
    let parse = |o: &Output| -> serde_json::Value {
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&o.stdout), text(&o.stderr)))
    };
    let o = xtask(&["plan", "staging", "--format", "json"]);
    let v = parse(&o);
    assert_eq!(v["target"], "staging");
    assert!(v["steps"].as_array().unwrap().len() > 10);
    assert!(v["capacity"]["elasticsearch"].is_object(), "{v}");
    let v = parse(&xtask(&["diff", "staging", "--format", "json"]));
    assert_eq!(v["changed"], 0);
    assert_eq!(v["files"], serde_json::json!([]));
    let o = xtask(&["diff", "staging", "testing", "--format", "json"]);
    assert_eq!(o.status.code(), Some(2));
    let v = parse(&o);
    assert!(
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "infra/<env>/main.tf" && f["change"] == "differs"),
        "{v}"
    );
    // A deploy stopped before its first step (no tools here): the error, no run.
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "testing", "--yes", "--format", "json"])
        .current_dir(checkout())
        .env("FLOTILLA_ROOT", checkout())
        .env("PATH", empty.path())
        .env_remove("FLOTILLA_TERRAFORM")
        .env_remove("FLOTILLA_HELM")
        .env_remove("FLOTILLA_KUBECTL")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let v = parse(&o);
    assert_eq!(v["command"], "deploy");
    assert_eq!(v["target"], "testing");
    assert_eq!(v["exit_code"], 4);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("was not found on PATH"),
        "{v}"
    );
    assert_eq!(v["run"], serde_json::Value::Null);
    // JSON describes a run; the dry run is text.
    assert_eq!(
        xtask(&["deploy", "testing", "--dry-run", "--format", "json"])
            .status
            .code(),
        Some(64)
    );
}

/// `cost --format json` on the example platform: a total that is the sum of its clusters, and
/// against a commit, the change an edit makes, computed by hand (two more m6i.xlarge nodes of
/// production's apps pool: 2 x 730.5 h x $0.192, and their 2 x 50 GiB root volumes x $0.08).
#[test]
fn cost_prices_every_cluster_and_the_change_against_a_commit() {
    let o = xtask(&["cost", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let clusters = v["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 4);
    let sum: f64 = clusters
        .iter()
        .map(|c| c["monthly_usd"].as_f64().unwrap())
        .sum();
    assert!((sum - v["monthly_usd"].as_f64().unwrap()).abs() < 1e-6);
    assert!(
        v["sources"]["karpenter"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/aws/")
    );

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("platform.toml"), std::fs::read(seed_file()).unwrap()).unwrap();
    std::fs::copy(root().join("versions.toml"), d.join("versions.toml")).unwrap();
    git(d, &["init", "-q"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "base"]);
    let seed = std::fs::read_to_string(seed_file()).unwrap();
    let from = "instance_types = [\"m6i.xlarge\", \"m6a.xlarge\"]\nmin = 3\ndesired = 3";
    assert!(seed.contains(from));
    std::fs::write(
        d.join("platform.toml"),
        seed.replacen(
            from,
            "instance_types = [\"m6i.xlarge\", \"m6a.xlarge\"]\nmin = 3\ndesired = 5",
            1,
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(args)
            .current_dir(d)
            .env("FLOTILLA_ROOT", d)
            .output()
            .unwrap()
    };
    let o = run(&["cost", "production", "--base", "HEAD", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let change = v["change_usd"].as_f64().unwrap();
    assert!(
        (change - (2.0 * 730.5 * 0.192 + 2.0 * 50.0 * 0.08)).abs() < 1e-6,
        "{change}"
    );
    assert_eq!(v["clusters"].as_array().unwrap().len(), 1);

    let o = run(&["cost", "all", "--base", "HEAD", "--format", "markdown"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let md = text(&o.stdout);
    assert!(
        md.contains("| `production` | 1,313.34 | 1,601.86 | +288.51 |"),
        "{md}"
    );
    assert!(
        md.contains("| `staging` | 598.87 | 598.87 | 0.00 |"),
        "{md}"
    );

    let o = run(&["cost", "all", "--base", "no-such-ref"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no platform to compare with at no-such-ref"),
        "{}",
        text(&o.stderr)
    );
}

/// FLOTILLA_STATE_DIR moves everything a run writes (journals, logs, saved plans, Terraform's
/// data directories) out of the checkout: the dry run's commands say where, for an absolute and
/// a relative (taken from the checkout) value, and `.flotilla` of the checkout without it.
#[test]
fn the_state_directory_can_be_moved_out_of_the_checkout() {
    let state = tempfile::tempdir().unwrap();
    let dry_run = |value: Option<&str>| {
        let env: Vec<(&str, &str)> = value
            .map(|v| ("FLOTILLA_STATE_DIR", v))
            .into_iter()
            .collect();
        let o = xtask_with(&["deploy", "testing", "--dry-run"], &env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let check = |out: &str, base: &Path| {
        let data = format!("TF_DATA_DIR={}/terraform/testing ", base.display());
        let plan = format!("-out={}/runs/<run-id>/plans/testing.tfplan", base.display());
        assert!(out.contains(&data), "{data} not in:\n{out}");
        assert!(out.contains(&plan), "{plan} not in:\n{out}");
    };
    let moved = dry_run(Some(state.path().to_str().unwrap()));
    check(&moved, state.path());
    assert!(
        !moved.contains(&format!("{}/.flotilla", checkout().display())),
        "{moved}"
    );
    check(&dry_run(Some("../state")), &checkout().join("../state"));
    check(&dry_run(None), &checkout().join(".flotilla"));
    // A dry run writes nothing there.
    assert!(files_under(state.path()).is_empty());
}

/// `plan`'s EKS support section reads each cluster's version in versions.toml's calendar on
/// today's date (FLOTILLA_TODAY here): the seed's 1.34 is in standard support with notice
/// before 2026-12-02 and out of it from that day; JSON says the same; a date that is not one
/// is an error naming the variable.
#[test]
fn plan_says_where_each_clusters_version_stands_in_eks_support_on_a_day() {
    let plan = |today: &str, format: &str| {
        xtask_with(
            &["plan", "production", "--format", format],
            &[("FLOTILLA_TODAY", today)],
        )
    };
    let o = plan("2026-10-01", "text");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("Today is 2026-10-01;"), "{out}");
    assert!(
        out.contains("  production: Kubernetes 1.34, support standard: standard support ends 2026-12-02, in 62 day(s): set kubernetes_version = \"1.35\" and deploy before then"),
        "{out}"
    );
    let out = text(&plan("2026-12-02", "text").stdout);
    assert!(
        out.contains("  production: Kubernetes 1.34, support standard: standard support ended 2026-12-02: EKS upgrades the cluster to 1.35 itself"),
        "{out}"
    );
    let o = plan("2026-12-02", "json");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["today"], "2026-12-02");
    let production = json["support"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cluster"] == "production")
        .unwrap();
    assert_eq!(production["status"]["phase"], "extended");
    assert_eq!(production["status"]["since"], "2026-12-02");
    assert_eq!(production["support"], "standard");
    // The deploy dry run names the clusters due (here the controlplane and production), or
    // says none is.
    let dry_run = |today: &str| {
        let o = xtask_with(
            &["deploy", "production", "--dry-run"],
            &[("FLOTILLA_TODAY", today)],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    let out = dry_run("2026-12-02");
    assert!(
        out.contains("support (EKS's calendar in versions.toml, on 2026-12-02):\n  controlplane: Kubernetes 1.34, support standard: standard support ended 2026-12-02: ")
            && out.contains("\n  production: Kubernetes 1.34, support standard: standard support ended 2026-12-02: ")
            && !out.contains("  staging: Kubernetes"),
        "{out}"
    );
    assert!(
        dry_run("2026-06-01").contains("\nsupport: every cluster's Kubernetes version stays in EKS standard support for more than 90 days"),
    );
    let o = plan("2026-12-32", "text");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("FLOTILLA_TODAY=2026-12-32: not a date (YYYY-MM-DD)"),
        "{}",
        text(&o.stderr)
    );
}
