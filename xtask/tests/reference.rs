//! `cargo xtask reference sync` against a loopback HTTP server: a mirror serving the pinned
//! reference data (with one file tampered and one missing), a PyPI simple index serving a wheel,
//! and a version bump whose files and digests the sync records in reference.lock.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the server answers: a path's bytes (and its content type), or 404.
type Routes = Arc<Mutex<BTreeMap<String, (Vec<u8>, &'static str)>>>;

/// A one-thread HTTP/1.1 server on 127.0.0.1: each path of `routes`, or files below `dir`
/// (`/<path>` -> `dir/<path>`), else 404. Returns its base address.
fn serve(dir: Option<PathBuf>, routes: Routes) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Headers up to the blank line.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let found = routes.lock().unwrap().get(&path).cloned().or_else(|| {
                let d = dir.as_ref()?;
                let rel = path.trim_start_matches('/');
                if rel.contains("..") {
                    return None;
                }
                std::fs::read(d.join(rel))
                    .ok()
                    .map(|b| (b, "application/octet-stream"))
            });
            let _ = match found {
                Some((body, kind)) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    stream
                        .write_all(head.as_bytes())
                        .and_then(|_| stream.write_all(&body))
                }
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
        }
    });
    base
}

fn sync(repo: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(["reference", "sync"])
        .args(args)
        .current_dir(repo)
        .env("FLOTILLA_ROOT", repo)
        .env_remove("FLOTILLA_REFERENCE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("xtask runs")
}

use flotilla_testkit::files_under;

#[test]
fn a_mirror_fills_the_cache_and_a_tampered_or_missing_file_is_refused() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let tampered = "charts/grafana/12.11.1/values.yaml";
    let missing = "crds/gateway-api/v1.5.1/gateway.networking.k8s.io_httproutes.yaml";
    let routes: Routes = Default::default();
    routes.lock().unwrap().insert(
        format!("/{tampered}"),
        (b"adminPassword: hunter2\n".to_vec(), "text/yaml"),
    );
    let base = serve(Some(reference.clone()), routes.clone());
    // A mirror that has nothing (every path below it answers 404).
    let missing_base = format!("{base}/empty");
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    let repo = root();

    // 1. The tampered file is refused with both digests; nothing of it is written; every other
    //    pinned file is in the cache, verified.
    let o = sync(
        &repo,
        &["--from", &base, "--cache", cache_arg, "--locked"],
        &[],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: {tampered}: digest mismatch: {base}/{tampered} has SHA-256"
        )),
        "{err}"
    );
    assert!(err.contains("reference.lock has"), "{err}");
    assert!(!cache.path().join(tampered).exists());
    let out = text(&o.stdout);
    assert!(out.contains("1 failed"), "{out}");
    let synced = files_under(cache.path());
    assert!(synced.len() > 800, "{} files", synced.len());
    for f in &synced {
        assert_eq!(
            std::fs::read(cache.path().join(f)).unwrap(),
            std::fs::read(reference.join(f)).unwrap(),
            "{f}"
        );
    }

    // 2. A file the mirror lacks: named with the address that answered 404 (the others are
    //    present in the cache already and not fetched again).
    std::fs::remove_file(cache.path().join(missing)).unwrap();
    let o = sync(&repo, &["--from", &missing_base, "--cache", cache_arg], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: {missing}: {missing_base}/{missing}: HTTP 404"
        )),
        "{err}"
    );

    // 3. An honest mirror: the two files are fetched, the rest is present, exit 0.
    routes.lock().unwrap().clear();
    let o = sync(
        &repo,
        &["--from", &base, "--cache", cache_arg, "--locked"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("present, 2 downloaded, 0 failed"), "{out}");
    // The tests read a cache like this one as their reference data.
    assert!(cache.path().join(tampered).is_file());

    // 4. Without a mirror, the three ECK CRDs that are slices of the bundle come from the
    //    bundle in the cache, byte for byte the pinned files (no network needed for them).
    let slices = [
        "charts/eck-operator/3.5.0/crds/elasticsearch.k8s.elastic.co_elasticsearches.yaml",
        "charts/eck-operator/3.5.0/crds/kibana.k8s.elastic.co_kibanas.yaml",
        "charts/eck-operator/3.5.0/crds/logstash.k8s.elastic.co_logstashes.yaml",
    ];
    for f in slices {
        std::fs::remove_file(cache.path().join(f)).unwrap();
    }
    let o = sync(&repo, &["--cache", cache_arg, "--locked"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("present, 3 downloaded, 0 failed"),
        "{}",
        text(&o.stdout)
    );
    for f in slices {
        assert_eq!(
            std::fs::read(cache.path().join(f)).unwrap(),
            std::fs::read(reference.join(f)).unwrap(),
            "{f}"
        );
    }
}

/// A minimal wheel holding one file.
fn wheel(member: &str, contents: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file(
            member,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        z.write_all(contents).unwrap();
        z.finish().unwrap();
    }
    buf.into_inner()
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A scratch repository: versions.toml as given and a reference.lock with these entries.
fn scratch(versions: &str, lock: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("versions.toml"), versions).unwrap();
    std::fs::write(dir.path().join("platform.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("reference.lock"),
        format!("# test lock\n\nlock_version = 1\n{lock}"),
    )
    .unwrap();
    dir
}

#[test]
fn a_wheel_comes_from_pypis_simple_index_and_is_checked() {
    let member = "pkg/schema/pod-v1.json";
    let schema = br#"{"type": "object"}"#;
    let whl = wheel(member, schema);
    let routes: Routes = Default::default();
    let base = serve(None, routes.clone());
    let index = serde_json::json!({"files": [
        {"filename": "pkg_x-1.0.0.tar.gz", "url": format!("{base}/files/pkg_x-1.0.0.tar.gz"), "hashes": {"sha256": "00"}},
        {"filename": "pkg_x-1.0.0-py3-none-any.whl", "url": format!("{base}/files/pkg_x-1.0.0-py3-none-any.whl"), "hashes": {"sha256": sha(&whl)}},
    ]});
    routes.lock().unwrap().insert(
        "/simple/pkg-x/".into(),
        (
            index.to_string().into_bytes(),
            "application/vnd.pypi.simple.v1+json",
        ),
    );
    routes.lock().unwrap().insert(
        "/files/pkg_x-1.0.0-py3-none-any.whl".into(),
        (whl.clone(), "application/octet-stream"),
    );
    let versions = std::fs::read_to_string(root().join("versions.toml")).unwrap();
    let entry = |file_sha: &str, wheel_sha: &str| {
        format!(
            "\n[[file]]\npath = \"kubernetes-json-schema/v9.9.0-local-strict/pod-v1.json\"\nsha256 = \"{file_sha}\"\nwheel = \"pypi:pkg-x==1.0.0\"\nwheel_sha256 = \"{wheel_sha}\"\nmember = \"{member}\"\n"
        )
    };
    // Charts and the rest are pinned too but have no entries in this lock: only the wheel's
    // file is synced, and the lack of the others is reported.
    let repo = scratch(&versions, &entry(&sha(schema), &sha(&whl)));
    let cache = tempfile::tempdir().unwrap();
    let o = sync(
        repo.path(),
        &["--cache", cache.path().to_str().unwrap()],
        &[("FLOTILLA_PYPI_URL", &base)],
    );
    assert_eq!(
        std::fs::read(
            cache
                .path()
                .join("kubernetes-json-schema/v9.9.0-local-strict/pod-v1.json")
        )
        .unwrap(),
        schema,
        "{}",
        text(&o.stderr)
    );
    assert!(
        text(&o.stderr).contains("reference.lock has no file of them at any version: charts/aws-load-balancer-controller 3.5.0, ")
            && text(&o.stderr).contains(", charts/grafana 12.11.1, "),
        "{}",
        text(&o.stderr)
    );
    // A wheel whose digest is not the locked one is not used.
    let repo = scratch(&versions, &entry(&sha(schema), &"a".repeat(64)));
    let cache = tempfile::tempdir().unwrap();
    let o = sync(
        repo.path(),
        &["--cache", cache.path().to_str().unwrap()],
        &[("FLOTILLA_PYPI_URL", &base)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no wheel of pkg-x 1.0.0 with the locked digest"),
        "{}",
        text(&o.stderr)
    );
    assert!(files_under(cache.path()).is_empty());
}

#[test]
fn a_bumped_chart_gets_its_files_from_the_previous_version_and_its_digests_recorded() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    // A mirror with grafana 12.11.2 (the files of 12.11.1, one changed) besides the rest.
    let routes: Routes = Default::default();
    let base = serve(Some(reference.clone()), routes.clone());
    let old = "charts/grafana/12.11.1";
    for f in ["Chart.yaml", "values.yaml"] {
        let mut bytes = std::fs::read(reference.join(old).join(f)).unwrap();
        if f == "Chart.yaml" {
            bytes = text(&bytes).replace("12.11.1", "12.11.2").into_bytes();
        }
        routes
            .lock()
            .unwrap()
            .insert(format!("/charts/grafana/12.11.2/{f}"), (bytes, "text/yaml"));
    }
    let versions = std::fs::read_to_string(root().join("versions.toml"))
        .unwrap()
        .replace(
            "[charts.grafana]\nrepository = \"oci://ghcr.io/grafana-community/helm-charts\"\nversion = \"12.11.1\"",
            "[charts.grafana]\nrepository = \"oci://ghcr.io/grafana-community/helm-charts\"\nversion = \"12.11.2\"",
        );
    assert!(versions.contains("version = \"12.11.2\""));
    let lock_text = std::fs::read_to_string(root().join("reference.lock")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("versions.toml"), &versions).unwrap();
    std::fs::write(repo.join("platform.toml"), "").unwrap();
    std::fs::write(repo.join("reference.lock"), &lock_text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    // --locked (CI): a pin without digests is an error, nothing recorded.
    let o = sync(
        repo,
        &["--from", &base, "--cache", cache_arg, "--locked"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("charts/grafana 12.11.2: pinned in versions.toml, but reference.lock has it only at 12.11.1"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("reference.lock")).unwrap(),
        lock_text
    );
    // A sync that gets only part of the new version records nothing of it: the lock keeps
    // the old version's entries, and the missing file is named.
    let values = routes
        .lock()
        .unwrap()
        .remove("/charts/grafana/12.11.2/values.yaml")
        .unwrap();
    let o = sync(repo, &["--from", &base, "--cache", cache_arg], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("charts/grafana/12.11.2/values.yaml: "),
        "{}",
        text(&o.stderr)
    );
    let kept = std::fs::read_to_string(repo.join("reference.lock")).unwrap();
    assert!(
        kept.contains("charts/grafana/12.11.1/values.yaml"),
        "{kept}"
    );
    assert!(!kept.contains("charts/grafana/12.11.2/"), "{kept}");
    routes
        .lock()
        .unwrap()
        .insert("/charts/grafana/12.11.2/values.yaml".into(), values);
    // Then all of it: downloaded, recorded, the old version's entries gone, and a second run
    // finds everything present.
    let o = sync(repo, &["--from", &base, "--cache", cache_arg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("reference.lock: 2 digest(s) recorded"),
        "{}",
        text(&o.stderr)
    );
    let lock = std::fs::read_to_string(repo.join("reference.lock")).unwrap();
    assert!(lock.starts_with("# The pinned upstream reference data"));
    assert!(lock.contains("path = \"charts/grafana/12.11.2/Chart.yaml\""));
    assert!(!lock.contains("charts/grafana/12.11.1/"));
    assert!(lock.contains("grafana-12.11.2/charts/grafana/values.yaml"));
    let o = sync(
        repo,
        &["--from", &base, "--cache", cache_arg, "--locked"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("0 downloaded"),
        "{}",
        text(&o.stdout)
    );
}

/// A scratch repository whose lock has one file, `kubernetes-json-schema/extra/schema.json`
/// (`{}`, served by a loopback server), with this digest (empty: not recorded yet).
fn one_schema_repo(sha256: &str) -> tempfile::TempDir {
    let routes: Routes = Default::default();
    let base = serve(None, routes.clone());
    routes.lock().unwrap().insert(
        "/x/schema.json".into(),
        (b"{}".to_vec(), "application/json"),
    );
    let versions = std::fs::read_to_string(root().join("versions.toml")).unwrap();
    scratch(
        &versions,
        &format!(
            "\n[[file]]\npath = \"kubernetes-json-schema/extra/schema.json\"\nsha256 = \"{sha256}\"\nurl = \"{base}/x/schema.json\"\n"
        ),
    )
}

/// An entry written by hand with `sha256 = ""` (a new file): `--locked` refuses it, a plain
/// sync downloads it and records its digest in place (one entry, not two).
#[test]
fn a_hand_written_entry_gets_its_digest_recorded_once() {
    let repo = one_schema_repo("");
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    let o = sync(repo.path(), &["--cache", cache_arg, "--locked"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(
            "reference.lock has no digest for kubernetes-json-schema/extra/schema.json (--locked records nothing"
        ),
        "{}",
        text(&o.stderr)
    );
    let _ = sync(repo.path(), &["--cache", cache_arg], &[]);
    let lock = std::fs::read_to_string(repo.path().join("reference.lock")).unwrap();
    assert_eq!(
        lock.matches("kubernetes-json-schema/extra/schema.json")
            .count(),
        1,
        "{lock}"
    );
    assert!(
        lock.contains(&format!("sha256 = \"{}\"", sha(b"{}"))),
        "{lock}"
    );
    assert!(
        cache
            .path()
            .join("kubernetes-json-schema/extra/schema.json")
            .is_file()
    );
}

/// The aws provider schemas are made by the sync itself, from `terraform providers schema
/// -json` of the pinned release (here from the plugin mirror this machine has, as the ci
/// workflow makes one), byte for byte the files reference.lock pins; a provider release that
/// cannot be installed is an error naming terraform's complaint, and nothing is written.
#[test]
fn the_provider_schemas_are_made_from_terraform_and_match_the_lock() {
    let Some(terraform) = flotilla_testkit::tool(
        "terraform",
        Some("FLOTILLA_TERRAFORM"),
        "https://developer.hashicorp.com/terraform/install",
    ) else {
        return;
    };
    let mirror = std::env::var_os("FLOTILLA_TF_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    if !mirror
        .join("registry.terraform.io/hashicorp/aws/5.100.0")
        .is_dir()
    {
        flotilla_testkit::skip(&format!(
            "no hashicorp/aws 5.100.0 in the plugin mirror {} (set FLOTILLA_TF_PLUGIN_DIR)",
            mirror.display()
        ));
        return;
    }
    let lock = std::fs::read_to_string(root().join("reference.lock")).unwrap();
    let entries: Vec<&str> = lock
        .split("\n[[file]]\n")
        .filter(|b| b.starts_with("path = \"terraform/aws-provider/5.100.0/"))
        .collect();
    assert_eq!(
        entries.len(),
        4,
        "resources, data sources, ephemeral resources, provider"
    );
    assert!(entries.iter().all(|e| e.contains("provider_schema = ")));
    let versions = std::fs::read_to_string(root().join("versions.toml")).unwrap();
    let body: String = entries.iter().map(|e| format!("\n[[file]]\n{e}")).collect();
    let repo = scratch(&versions, &body);
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("FLOTILLA_TERRAFORM", terraform.to_str().unwrap()),
        ("FLOTILLA_TF_PLUGIN_DIR", mirror.to_str().unwrap()),
    ];
    let o = sync(
        repo.path(),
        &["--cache", cache.path().to_str().unwrap()],
        &env,
    );
    let err = format!("{}{}", text(&o.stdout), text(&o.stderr));
    // The lock of this scratch repository has no chart entries, which the sync reports; the
    // four schema files are made and verified.
    assert!(err.contains("4 files for the pinned versions"), "{err}");
    assert!(err.contains("0 present, 4 downloaded"), "{err}");
    assert!(!err.contains("error: terraform/aws-provider/"), "{err}");
    for e in &entries {
        let path = e.lines().next().unwrap().split('"').nth(1).unwrap();
        let digest = e.lines().nth(1).unwrap().split('"').nth(1).unwrap();
        assert_eq!(
            sha(&std::fs::read(cache.path().join(path)).unwrap()),
            digest,
            "{path}"
        );
    }

    // A mirror that does not hold the release: terraform's error, named; nothing written.
    let empty = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let env = [
        ("FLOTILLA_TERRAFORM", terraform.to_str().unwrap()),
        ("FLOTILLA_TF_PLUGIN_DIR", empty.path().to_str().unwrap()),
    ];
    let o = sync(
        repo.path(),
        &["--cache", cache.path().to_str().unwrap()],
        &env,
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: terraform/aws-provider/5.100.0/resources.json: terraform init -input=false -backend=false -no-color for hashicorp/aws 5.100.0 (mirror "),
        "{err}"
    );
    assert!(
        files_under(cache.path()).is_empty(),
        "{:?}",
        files_under(cache.path())
    );
}

/// A module release as GitHub serves it: a scratch git repository holding `files`, committed at
/// `date` and tagged `tag`, archived by `git archive` (which codeload.github.com runs). Returns
/// the archive and the commit.
fn module_release(files: &[(&str, &str)], date: &str, tag: &str) -> (Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .output()
            .expect("git runs");
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
        o.stdout
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "release"]);
    git(&["tag", tag]);
    let commit = text(&git(&["rev-parse", "HEAD"])).trim().to_string();
    let prefix = format!("terraform-aws-eks-pod-identity-{}/", &tag[1..]);
    let archive = git(&[
        "archive",
        "--format=tar.gz",
        &format!("--prefix={prefix}"),
        tag,
    ]);
    (archive, commit)
}

/// A module bump (eks-pod-identity 2.8.1 -> 2.8.2 in versions.toml): the sync takes the new
/// release's entries from the old one's, downloads the tag's source archive, extracts the
/// module interface from its `.tf` files and records the digests; an archive whose content
/// differs from the locked digests is refused, a missing tag is an HTTP 404 naming the address.
#[test]
fn a_bumped_module_gets_its_interface_from_the_tag_archive() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let routes: Routes = Default::default();
    let base = serve(None, routes.clone());
    let route = "/terraform-aws-modules/terraform-aws-eks-pod-identity/tar.gz/refs/tags/v2.8.2";
    let variables_tf = "# Inputs\n\nvariable \"name\" {\n  description = <<-EOT\n    Name of the\n    association\n  EOT\n  type = object({\n    # the role\n    role = optional(string) # an ARN\n  })\n  default = null\n}\n";
    let versions_tf = "terraform {\n  required_version = \">= 1.5.7\"\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \">= 6.28\"\n    }\n  }\n}\n";
    let (archive, commit) = module_release(
        &[
            ("variables.tf", variables_tf),
            ("versions.tf", versions_tf),
            (
                "outputs.tf",
                "output \"arn\" {\n  value = aws_iam_role.this.arn\n}\n",
            ),
            (
                "examples/complete/main.tf",
                "variable \"not_the_module_s\" {}\n",
            ),
        ],
        "2026-05-29T10:00:00Z",
        "v2.8.2",
    );
    routes
        .lock()
        .unwrap()
        .insert(route.into(), (archive, "application/x-gzip"));

    let versions = std::fs::read_to_string(root().join("versions.toml"))
        .unwrap()
        .replace(
            "source = \"terraform-aws-modules/eks-pod-identity/aws\"\nversion = \"2.8.1\"",
            "source = \"terraform-aws-modules/eks-pod-identity/aws\"\nversion = \"2.8.2\"",
        );
    assert!(versions.contains("version = \"2.8.2\""));
    let lock_text = std::fs::read_to_string(root().join("reference.lock"))
        .unwrap()
        .replace("https://codeload.github.com", &base);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    std::fs::write(repo.join("versions.toml"), &versions).unwrap();
    std::fs::write(repo.join("platform.toml"), "").unwrap();
    std::fs::write(repo.join("reference.lock"), &lock_text).unwrap();
    // Everything else is in the cache already.
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().to_str().unwrap();
    for rel in files_under(&reference) {
        if rel.starts_with("terraform/terraform-aws-eks-pod-identity/") {
            continue;
        }
        let to = cache.path().join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(reference.join(&rel), to).unwrap();
    }

    let o = sync(repo, &["--cache", cache_arg], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("reference.lock: 3 digest(s) recorded"),
        "{}",
        text(&o.stderr)
    );
    let new = cache
        .path()
        .join("terraform/terraform-aws-eks-pod-identity/2.8.2/root");
    let variables: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new.join("variables.json")).unwrap()).unwrap();
    assert_eq!(variables["meta"]["commit"], commit.as_str());
    assert_eq!(variables["meta"]["commit_date"], "2026-05-29T10:00:00Z");
    assert_eq!(
        variables["meta"]["tf_files_scanned"],
        serde_json::json!(["outputs.tf", "variables.tf", "versions.tf"])
    );
    let names: Vec<&str> = variables["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["name"]);
    let name = &variables["variables"][0];
    assert_eq!(name["type"], "object({\n    role = optional(string)\n  })");
    assert_eq!(name["description"], "Name of the\nassociation\n");
    assert_eq!(name["default"], "null");
    let versions_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(new.join("versions.json")).unwrap()).unwrap();
    assert_eq!(
        versions_json["required_providers"]["aws"]["version"],
        ">= 6.28"
    );
    let lock = std::fs::read_to_string(repo.join("reference.lock")).unwrap();
    assert!(
        lock.contains(&format!("module_archive = \"{base}{route}\"")),
        "{lock}"
    );
    assert!(!lock.contains("terraform-aws-eks-pod-identity/2.8.1/"));

    // The same tag moved to a commit with another interface: refused, nothing written.
    let (moved, _) = module_release(
        &[
            (
                "variables.tf",
                &variables_tf.replace("\"name\"", "\"renamed\""),
            ),
            ("versions.tf", versions_tf),
            (
                "outputs.tf",
                "output \"arn\" {\n  value = aws_iam_role.this.arn\n}\n",
            ),
        ],
        "2026-05-30T10:00:00Z",
        "v2.8.2",
    );
    routes
        .lock()
        .unwrap()
        .insert(route.into(), (moved, "application/x-gzip"));
    std::fs::remove_dir_all(&new).unwrap();
    let o = sync(repo, &["--cache", cache_arg, "--locked"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("terraform/terraform-aws-eks-pod-identity/2.8.2/root/variables.json")
            && err.contains("reference.lock has"),
        "{err}"
    );
    assert!(!new.join("variables.json").exists());

    // No such tag: the address and the status.
    routes.lock().unwrap().clear();
    let o = sync(repo, &["--cache", cache_arg, "--locked"], &[]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("{base}{route}: HTTP 404")), "{err}");
}

/// Without `--cache` (and FLOTILLA_REFERENCE), the cache is `reference` in the state directory:
/// FLOTILLA_STATE_DIR when set.
#[test]
fn the_default_cache_is_in_the_state_directory() {
    let repo = one_schema_repo(&sha(b"{}"));
    let state = tempfile::tempdir().unwrap();
    let _ = sync(
        repo.path(),
        &[],
        &[("FLOTILLA_STATE_DIR", state.path().to_str().unwrap())],
    );
    assert_eq!(
        std::fs::read(
            state
                .path()
                .join("reference/kubernetes-json-schema/extra/schema.json")
        )
        .unwrap(),
        b"{}"
    );
    assert!(!repo.path().join(".flotilla").exists());
}
