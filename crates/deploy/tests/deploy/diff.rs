//! `diff`: the generated output against the committed files (exit 0/2), two environments with
//! their names normalized, and `--live` against recording stand-ins (`terraform plan
//! -detailed-exitcode`, `helm diff upgrade`) and the in-process fake API server (server-side
//! dry run): 0 no changes, 2 changes, an error (exit 1 in xtask) when a tool fails.

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use flotilla_deploy::kube::{Conn, Kube, KubeClient, ObjectRef};
use flotilla_deploy::{DiffArgs, Io, diff};
use flotilla_model::Platform;
use flotilla_plan::graph::GraphInputs;
use support::fake_api::FakeApi;
use support::{Behaviour, FakeAws, FakeKube, StandIns};

/// Drops the ANSI colors (the diff is colored; anstream strips them off a terminal).
fn plain(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn offline_io() -> Io {
    support::io(
        FakeAws::default(),
        Arc::new(FakeKube::default()),
        BTreeMap::new(),
    )
}

fn run(
    root: &Path,
    p: &Platform,
    env: &str,
    other: Option<&str>,
    live: bool,
    io: &Io,
) -> (i32, String) {
    let args = DiffArgs {
        env: env.into(),
        other: other.map(str::to_string),
        live,
        json: false,
    };
    let mut out = Vec::new();
    let code =
        diff(root, p, &args, io, &mut out).unwrap_or_else(|e| panic!("{e}\n{}", plain(&out)));
    (code, plain(&out))
}

#[test]
fn offline_diff_exits_0_when_current_and_2_with_a_unified_diff_when_not() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let root = repo.path();
    let io = offline_io();
    let (code, out) = run(root, &p, "dev", None, false, &io);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "dev: generated output matches the files in infra/ and helm/\n"
    );
    // The bootstrap's local state and Terraform's files are not generated output.
    fs::write(root.join("infra/bootstrap/terraform.tfstate"), "{}").unwrap();
    fs::write(root.join("infra/controlplane/x.tfplan"), "plan").unwrap();
    let (code, out) = run(root, &p, "controlplane", None, false, &io);
    assert_eq!(code, 0, "{out}");

    // An edited file, a deleted one and a stray one.
    let values = "helm/dev/fluent-bit/values.yaml";
    let text = fs::read_to_string(root.join(values)).unwrap();
    fs::write(root.join(values), format!("{text}edited: by hand\n")).unwrap();
    fs::remove_file(root.join("infra/dev/versions.tf")).unwrap();
    // A stray generated file (a render wrote it: it has the header) is stale, and so is any
    // file Terraform would read (it changes what a deploy applies); a note of the user's own
    // (no header, not Terraform's) is not compared, as `generate` leaves it alone.
    fs::write(
        root.join("infra/dev/old.tf"),
        format!("{}# left over\n", flotilla_model::artifact::header("#")),
    )
    .unwrap();
    fs::write(root.join("infra/dev/NOTES.md"), "# mine\n").unwrap();
    let (code, out) = run(root, &p, "dev", None, false, &io);
    assert!(!out.contains("NOTES.md"), "{out}");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("--- a/{values}\n+++ b/{values}\n@@ ")),
        "{out}"
    );
    assert!(out.contains("\n-edited: by hand\n"), "{out}");
    assert!(
        out.contains("--- /dev/null\n+++ b/infra/dev/versions.tf\n"),
        "{out}"
    );
    assert!(
        out.contains("--- a/infra/dev/old.tf\n+++ /dev/null\n"),
        "{out}"
    );
    assert!(
        out.ends_with("dev: 3 generated file(s) differ from the files in infra/ and helm/ (`cargo xtask generate` writes them)\n"),
        "{out}"
    );
    // Another environment's output is not affected.
    assert_eq!(run(root, &p, "qa", None, false, &io).0, 0);
}

#[test]
fn diff_between_two_environments_shows_only_what_differs_beyond_the_name() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let io = offline_io();
    let (code, out) = run(repo.path(), &p, "dev", Some("dev"), false, &io);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "dev vs dev: 0 file(s) differ beyond the environment name\n"
        )
    );
    let (code, out) = run(repo.path(), &p, "dev", Some("qa"), false, &io);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("--- dev: infra/<env>/main.tf\n+++ qa: infra/<env>/main.tf\n"),
        "{out}"
    );
    assert!(
        out.contains("-  cidr = \"10.1.0.0/16\"\n+  cidr = \"10.2.0.0/16\"\n"),
        "{out}"
    );
    // What differs only by the name is not shown: no changed line names either environment,
    // and `/dev/xvda` (a device, not the environment) is no difference either.
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
    assert!(!changed.is_empty());
    for l in &changed {
        assert!(!l.contains("dev") && !l.contains("qa"), "{l}\n{out}");
    }
    assert!(!out.contains("-          device_name"), "{out}");
    assert!(
        out.ends_with("dev vs qa: 3 file(s) differ beyond the environment name\n"),
        "{out}"
    );
    // The other way round shows the same files.
    let (code, back) = run(repo.path(), &p, "qa", Some("dev"), false, &io);
    assert_eq!(code, 2);
    assert!(back.ends_with("qa vs dev: 3 file(s) differ beyond the environment name\n"));
}

/// An [`Io`] for `--live`: stand-ins, fake AWS, the real `kube` client against the fake API
/// server as the endpoint of `dev`.
fn live_io(stand: &StandIns, api: &FakeApi) -> Io {
    let mut io = support::io(
        FakeAws::default(),
        Arc::new(FakeKube::default()),
        stand.tools(),
    );
    io.kube = Box::new(KubeClient::new().unwrap());
    io.endpoints = [("dev".to_string(), api.endpoint())].into();
    io
}

fn dev_objects(root: &Path, p: &Platform) -> Vec<serde_json::Value> {
    let inputs = GraphInputs::from_platform(p);
    let mut objects = Vec::new();
    for ((cluster, _), files) in &inputs.manifests {
        if cluster != "dev" {
            continue;
        }
        for f in files {
            let text = fs::read_to_string(root.join(f)).unwrap();
            objects.extend(flotilla_deploy::kube::parse_manifests(f, &text).unwrap());
        }
    }
    assert!(!objects.is_empty());
    objects
}

#[test]
fn live_diff_reports_terraform_helm_and_server_side_changes_and_nothing_when_current() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let root = repo.path();
    let api = FakeApi::start();
    let releases: Vec<String> = flotilla_helm::releases(&p, p.cluster("dev").unwrap())
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert!(releases.contains(&"fluent-bit".to_string()));

    // Nothing deployed yet: Terraform has changes, one release differs, every object is new.
    let stand = StandIns::new(
        &root.join("first"),
        &Behaviour {
            verify_exit: 2,
            helm_changes: vec!["fluent-bit".into()],
            ..Behaviour::default()
        },
    );
    let io = live_io(&stand, &api);
    let (code, out) = run(root, &p, "dev", None, true, &io);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.starts_with("dev: generated output matches the files in infra/ and helm/\n"),
        "{out}"
    );
    assert!(
        out.contains("terraform plan of infra/dev (log: .flotilla/runs/"),
        "{out}"
    );
    assert!(
        out.contains("\n  Plan: 1 to add, 1 to change, 0 to destroy.\n"),
        "{out}"
    );
    assert!(
        out.contains("helm diff fluent-bit:\ndefault, fluent-bit, Deployment (apps) has changed:\n-  replicas: 1\n+  replicas: 2\n"),
        "{out}"
    );
    for r in releases.iter().filter(|r| *r != "fluent-bit") {
        assert!(
            out.contains(&format!("helm diff {r}: no changes\n")),
            "{r}: {out}"
        );
    }
    let helm: Vec<_> = stand
        .starts()
        .into_iter()
        .filter(|c| c.tool == "helm")
        .collect();
    assert_eq!(helm.len(), releases.len());
    assert!(helm.iter().all(|c| c.args.starts_with("diff upgrade ")
        && c.args.ends_with("--allow-unreleased --detailed-exitcode")));
    let objects = dev_objects(root, &p);
    for o in &objects {
        let r = ObjectRef::of(o).unwrap();
        assert!(
            out.contains(&format!("--- live {r}\n+++ applied {r}\n")),
            "{r}: {out}"
        );
    }
    // Server-side dry runs only: every PATCH carried dryRun=All, nothing was stored.
    let patches: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), objects.len());
    assert!(
        patches
            .iter()
            .all(|r| r.query.contains("dryRun=All") && r.query.contains("fieldManager=flotilla"))
    );
    assert!(api.state.lock().unwrap().objects.is_empty());
    let log = fs::read_dir(root.join(".flotilla/runs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("logs/diff-live.log");
    assert!(
        fs::read_to_string(log).unwrap().contains("Plan: 1 to add"),
        "the whole plan is in the log"
    );

    // Everything deployed and current: exit 0, no diff at all.
    let kube = KubeClient::new().unwrap();
    let conn = Conn {
        cluster: "dev".into(),
        endpoint: api.endpoint(),
        ca_pem: None,
        token: "t".into(),
    };
    for o in &objects {
        kube.apply(&conn, o, false).unwrap();
    }
    let stand = StandIns::new(&root.join("current"), &Behaviour::default());
    let io = live_io(&stand, &api);
    let (code, out) = run(root, &p, "dev", None, true, &io);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("terraform plan of infra/dev"), "{out}");
    assert!(out.contains("\n  no changes\n"), "{out}");
    assert!(!out.contains("--- "), "{out}");
    assert_eq!(
        out.matches(": no changes\n").count(),
        releases.len(),
        "{out}"
    );

    // One object changed by hand on the cluster: exactly that one shows, exit 2.
    let edited = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .map(|o| ObjectRef::of(o).unwrap())
        .unwrap();
    api.state
        .lock()
        .unwrap()
        .objects
        .get_mut(&edited.path())
        .unwrap()["metadata"]["labels"]["edited-by"] = serde_json::json!("hand");
    let (code, out) = run(root, &p, "dev", None, true, &io);
    assert_eq!(code, 2, "{out}");
    assert_eq!(out.matches("--- live ").count(), 1, "{out}");
    assert!(
        out.contains(&format!("--- live {edited}\n+++ applied {edited}\n")),
        "{out}"
    );
    assert!(out.contains("\n-    edited-by: hand\n"), "{out}");
}

#[test]
fn live_diff_is_an_error_when_a_tool_fails() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let api = FakeApi::start();
    let args = DiffArgs {
        env: "dev".into(),
        other: None,
        live: true,
        json: false,
    };
    let cases = [
        (
            Behaviour {
                verify_exit: 1,
                ..Behaviour::default()
            },
            "terraform plan of infra/dev failed; see ",
        ),
        (
            Behaviour {
                fail: Some("helm diff upgrade".into()),
                ..Behaviour::default()
            },
            "(is the helm-diff plugin installed? `helm plugin install https://github.com/databus23/helm-diff --version v",
        ),
    ];
    for (i, (behaviour, expected)) in cases.into_iter().enumerate() {
        let stand = StandIns::new(&repo.path().join(format!("case-{i}")), &behaviour);
        let io = live_io(&stand, &api);
        let err = diff(repo.path(), &p, &args, &io, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        // The log's last lines come with it, as with a failed deploy step.
        assert!(err.to_string().contains("\n  | "), "{err}");
    }
    // Nothing was applied by a failed diff.
    assert!(api.state.lock().unwrap().objects.is_empty());
}

fn drift_of(root: &Path, p: &Platform, target: &str, json: bool, io: &Io) -> (i32, String) {
    let args = flotilla_deploy::DriftArgs {
        target: target.into(),
        format: if json {
            flotilla_deploy::DriftFormat::Json
        } else {
            flotilla_deploy::DriftFormat::Text
        },
        dry_run: false,
    };
    let mut out = Vec::new();
    let code = flotilla_deploy::drift(root, p, &args, io, &mut out)
        .unwrap_or_else(|e| panic!("{e}\n{}", plain(&out)));
    (code, plain(&out))
}

/// `drift`: a refresh-only Terraform plan, helm diff and server-side dry runs per cluster,
/// summarized, as JSON for a scheduled job, exit 2 on drift and 0 in sync; an object edited on
/// the cluster is reported alone.
#[test]
fn drift_reports_what_changed_outside_the_committed_output() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let root = repo.path();
    let api = FakeApi::start();
    // Terraform finds changes made outside it, one release differs, no object exists yet.
    let stand = StandIns::new(
        &root.join("drifted"),
        &Behaviour {
            verify_exit: 2,
            helm_changes: vec!["fluent-bit".into()],
            ..Behaviour::default()
        },
    );
    let io = live_io(&stand, &api);
    let (code, out) = drift_of(root, &p, "dev", false, &io);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("dev: drifted: terraform (Plan: 1 to add, 1 to change, 0 to destroy.); link (Plan: 1 to add, 1 to change, 0 to destroy.); releases fluent-bit; objects "),
        "{out}"
    );
    assert!(
        out.ends_with("drift dev: 1 of 1 cluster(s) drifted\n"),
        "{out}"
    );
    let plans: Vec<_> = stand
        .starts()
        .into_iter()
        .filter(|c| c.tool == "terraform" && c.sub() == "plan")
        .collect();
    // The cluster module, then its link.
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[0].module().as_deref(), Some("dev"));
    assert_eq!(plans[1].module().as_deref(), Some("dev/link"));
    for plan in &plans {
        assert!(plan.args.contains("-refresh-only") && plan.args.contains("-detailed-exitcode"));
    }
    // Nothing was written to the cluster.
    assert!(api.state.lock().unwrap().objects.is_empty());

    // Deployed and current: in sync, exit 0, in text and JSON.
    let kube = KubeClient::new().unwrap();
    let conn = Conn {
        cluster: "dev".into(),
        endpoint: api.endpoint(),
        ca_pem: None,
        token: "t".into(),
    };
    let objects = dev_objects(root, &p);
    for o in &objects {
        kube.apply(&conn, o, false).unwrap();
    }
    let stand = StandIns::new(&root.join("current"), &Behaviour::default());
    let io = live_io(&stand, &api);
    let (code, out) = drift_of(root, &p, "dev", false, &io);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("dev: in sync\n"), "{out}");

    // An object edited by hand: reported alone, with its diff, in the JSON document.
    let edited = objects
        .iter()
        .find(|o| o["kind"] == "Namespace")
        .map(|o| ObjectRef::of(o).unwrap())
        .unwrap();
    api.state
        .lock()
        .unwrap()
        .objects
        .get_mut(&edited.path())
        .unwrap()["metadata"]["labels"]["edited-by"] = serde_json::json!("hand");
    let (code, out) = drift_of(root, &p, "dev", true, &io);
    assert_eq!(code, 2, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["drifted"], true);
    assert_eq!(report["target"], "dev");
    let cluster = &report["clusters"][0];
    assert_eq!(cluster["cluster"], "dev");
    assert_eq!(cluster["terraform"]["state"], "in_sync");
    let drifted: Vec<&serde_json::Value> = cluster["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| !o["diff"].is_null())
        .collect();
    assert_eq!(drifted.len(), 1, "{report:#}");
    assert_eq!(drifted[0]["name"], edited.to_string().as_str());
    assert!(
        drifted[0]["diff"]
            .as_str()
            .unwrap()
            .contains("-    edited-by: hand")
    );
    assert!(
        report["generated_files_out_of_date"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
