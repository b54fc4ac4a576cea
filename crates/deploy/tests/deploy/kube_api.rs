//! The real `kube` client against a small in-process fake API server (plain HTTP on loopback):
//! server-side apply carries the field manager, `force` and the object; reads, lists, deletes
//! and `/version` go where they should; and a whole controlplane deploy runs through it with
//! the Kubernetes endpoint overridden for the cluster.

use crate::support;

use flotilla_deploy::kube::{Conn, FIELD_MANAGER, Kube, KubeClient, ObjectRef};
use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::fake_api::{FakeApi, Request};

fn conn(api: &FakeApi) -> Conn {
    Conn {
        cluster: "production".into(),
        endpoint: api.endpoint(),
        ca_pem: None,
        token: "k8s-aws-v1.test-token".into(),
    }
}

#[test]
fn server_side_apply_carries_field_manager_force_and_the_object() {
    let api = FakeApi::start();
    let kube = KubeClient::new().unwrap();
    let c = conn(&api);
    let ns = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"api1","labels":{"team":"api"}}});
    let quota = json!({"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"quota","namespace":"api1"},"spec":{"hard":{"pods":"30"}}});
    let es = json!({"apiVersion":"elasticsearch.k8s.elastic.co/v1","kind":"Elasticsearch","metadata":{"name":"flotilla","namespace":"observability"},"spec":{"version":"9.5.0"}});
    for o in [&ns, &quota, &es] {
        kube.apply(&c, o, false).unwrap();
    }
    kube.apply(&c, &quota, true).unwrap();
    let reqs = api.requests();
    let patches: Vec<&Request> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(
        patches.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
        [
            "/api/v1/namespaces/api1",
            "/api/v1/namespaces/api1/resourcequotas/quota",
            "/apis/elasticsearch.k8s.elastic.co/v1/namespaces/observability/elasticsearches/flotilla",
            "/api/v1/namespaces/api1/resourcequotas/quota",
        ]
    );
    for (r, o) in patches.iter().zip([&ns, &quota, &es, &quota]) {
        assert_eq!(r.content_type, "application/apply-patch+yaml");
        assert!(
            r.query.contains(&format!("fieldManager={FIELD_MANAGER}")),
            "{}",
            r.query
        );
        assert!(r.query.contains("force=true"), "{}", r.query);
        assert_eq!(r.authorization, "Bearer k8s-aws-v1.test-token");
        assert_eq!(&serde_json::from_str::<Value>(&r.body).unwrap(), o);
    }
    assert!(!patches[2].query.contains("dryRun"));
    assert!(patches[3].query.contains("dryRun=All"));
}

#[test]
fn reads_lists_deletes_and_version() {
    let api = FakeApi::start();
    let kube = KubeClient::new().unwrap();
    let c = conn(&api);
    assert_eq!(kube.version(&c).unwrap(), "v1.34.0-fake");
    let secret = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some("kafka".into()),
        name: "fluent-bit-production".into(),
    };
    assert_eq!(kube.get(&c, &secret).unwrap(), None, "404 is None");
    let dep = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"grafana","namespace":"observability"},"spec":{"replicas":1}});
    kube.apply(&c, &dep, false).unwrap();
    let listed = kube
        .list(&c, "apps/v1", "Deployment", Some("observability"))
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0]["kind"], "Deployment",
        "list items get their kind back"
    );
    let r = ObjectRef::of(&dep).unwrap();
    assert!(kube.get(&c, &r).unwrap().is_some());
    kube.delete(&c, &r).unwrap();
    kube.delete(&c, &r).unwrap(); // a second delete (404) is fine
    assert_eq!(kube.get(&c, &r).unwrap(), None);
}

#[test]
fn a_controlplane_deploy_through_the_real_client_and_an_overridden_endpoint() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = support::StandIns::new(repo.path(), &support::Behaviour::default());
    let api = FakeApi::start();
    let io = flotilla_deploy::Io {
        aws: Box::new(support::FakeAws {
            secrets: [("duo/smtp".to_string(), "pw".to_string())].into(),
            ..support::FakeAws::default()
        }),
        kube: Box::new(KubeClient::new().unwrap()),
        cancel: flotilla_deploy::runner::Cancel::new(),
        reporter: Some(Box::new(flotilla_deploy::runner::Silent)),
        prompt: None,
        endpoints: [("controlplane".to_string(), api.endpoint())].into(),
        tools: stand.tools(),
    };
    let mut args = flotilla_deploy::DeployArgs::new("controlplane");
    args.yes = true;
    args.timeouts = support::quick();
    let mut out = Vec::new();
    let code = flotilla_deploy::deploy(repo.path(), &p, &args, &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let reqs = api.requests();
    // Everything the manifests hold was applied, each with the field manager.
    let cp = p.cluster("controlplane").unwrap();
    let mut expected = 0;
    for m in flotilla_helm::manifests(&p, cp) {
        for o in &m.objects {
            let path = ObjectRef::of(o).unwrap().path();
            assert!(
                reqs.iter().any(|r| r.method == "PATCH" && r.path == path),
                "{path} applied"
            );
            expected += 1;
        }
    }
    assert!(expected > 0);
    assert!(
        reqs.iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| r.query.contains("fieldManager=flotilla"))
    );
    // The receiver credential landed as a Secret with the right key.
    let secret = api.state.lock().unwrap().objects
        ["/api/v1/namespaces/monitoring/secrets/alertmanager-receiver-oncall"]
        .clone();
    assert_eq!(secret["data"]["credentials"], "cHc=");
    // The CA of DescribeCluster was written for helm; the token went to the API server.
    assert!(
        reqs.iter()
            .all(|r| r.authorization == "Bearer k8s-aws-v1.fake-eks-controlplane")
    );
    let helm = stand
        .starts()
        .into_iter()
        .filter(|c| c.tool == "helm")
        .count();
    assert_eq!(helm, flotilla_helm::releases(&p, cp).len());
}

/// The fake server applies as a real API server does: a manager's fields it stops sending are
/// removed unless another manager owns them, and `force` takes a field over.
#[test]
fn server_side_apply_owns_fields_per_manager() {
    use support::fake_api::{State, server_side_apply};
    let mut st = State::default();
    let path = "/api/v1/namespaces/logging";
    let full = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"logging","labels":{"flotilla.io/protected":"true","a":"1"}}});
    let o = server_side_apply(&mut st, path, &full, "flotilla");
    st.objects.insert(path.into(), o);
    // Another manager adds a label of its own.
    let other = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"logging","labels":{"b":"2"}}});
    let o = server_side_apply(&mut st, path, &other, "kubectl");
    st.objects.insert(path.into(), o);
    // The first manager applies the bare namespace: its labels go, the other's stay.
    let bare = json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"logging"}});
    let o = server_side_apply(&mut st, path, &bare, "flotilla");
    assert_eq!(o["metadata"]["labels"], json!({"b":"2"}), "{o}");
    assert_eq!(o["metadata"]["name"], "logging");
}

/// F3 of the Kubernetes review: a deploy keeps every label and annotation Flotilla renders, as a
/// real API server with per-manager field ownership would keep them, and a second deploy of the
/// unchanged platform changes no object, on the controlplane and on a workload cluster. On
/// 61d7c3d the credential steps applied a bare `monitoring` (controlplane) and `logging`
/// (workload) Namespace under the same field manager, which removed their labels (and with them
/// the deletion guard's and Pod Security's).
#[test]
fn a_deploy_keeps_every_rendered_label_and_a_second_changes_nothing() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = support::StandIns::new(repo.path(), &support::Behaviour::default());
    let controlplane = FakeApi::start();
    let dev = FakeApi::start();
    let io = flotilla_deploy::Io {
        aws: Box::new(support::FakeAws {
            secrets: [("duo/smtp".to_string(), "pw".to_string())].into(),
            ..support::FakeAws::default()
        }),
        kube: Box::new(KubeClient::new().unwrap()),
        cancel: flotilla_deploy::runner::Cancel::new(),
        reporter: Some(Box::new(flotilla_deploy::runner::Silent)),
        prompt: None,
        endpoints: [
            ("controlplane".to_string(), controlplane.endpoint()),
            ("dev".to_string(), dev.endpoint()),
        ]
        .into(),
        tools: stand.tools(),
    };
    let deploy = |env: &str| {
        let mut args = flotilla_deploy::DeployArgs::new(env);
        args.yes = true;
        args.timeouts = support::quick();
        let mut out = Vec::new();
        let code = flotilla_deploy::deploy(repo.path(), &p, &args, &io, &mut out).unwrap();
        assert_eq!(code, 0, "{env}: {}", String::from_utf8_lossy(&out));
    };
    // The controlplane first (the workload copies its Kafka credentials), then the workload
    // cluster, whose `logging` and `monitoring` namespaces lost their labels on 61d7c3d.
    deploy("controlplane");
    deploy("dev");
    let mut before = Vec::new();
    for (cluster, api) in [("controlplane", &controlplane), ("dev", &dev)] {
        let stored = api.state.lock().unwrap().objects.clone();
        let mut checked = 0;
        for m in flotilla_helm::manifests(&p, p.cluster(cluster).unwrap()) {
            for o in &m.objects {
                let path = ObjectRef::of(o).unwrap().path();
                let live = &stored[&path];
                for field in ["labels", "annotations"] {
                    for (k, v) in o["metadata"][field].as_object().into_iter().flatten() {
                        assert_eq!(
                            &live["metadata"][field][k], v,
                            "{cluster} {path}: {field} {k}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(
            checked > 20,
            "{cluster}: only {checked} labels and annotations"
        );
        for ns in ["logging", "monitoring"] {
            let path = format!("/api/v1/namespaces/{ns}");
            if let Some(live) = stored.get(&path) {
                assert_eq!(
                    live["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged",
                    "{cluster} {ns}"
                );
            } else {
                assert_eq!(
                    (cluster, ns),
                    ("controlplane", "logging"),
                    "{cluster}: no {ns}"
                );
            }
        }
        before.push(stored);
    }
    // Everything the deploy applied itself (manifests, and the Secrets it copies or creates),
    // as the API server would validate it with fieldValidation=Strict.
    if let Some(reference) = flotilla_testkit::reference_dir() {
        let version = &p.cluster("dev").unwrap().kubernetes_version;
        match flotilla_testkit::kube_schema::KubeSchemas::load(&reference, version) {
            Err(e) => flotilla_testkit::skip(&e.to_string()),
            Ok(kube) => {
                let mut validated = BTreeSet::new();
                for api in [&controlplane, &dev] {
                    for r in api.requests() {
                        if r.method != "PATCH" || !r.content_type.contains("apply-patch") {
                            continue;
                        }
                        let obj = flotilla_testkit::yaml::documents(&r.body)
                            .unwrap_or_else(|e| panic!("{}: {e}", r.path))
                            .remove(0);
                        let (Some(api_version), Some(kind)) =
                            (obj["apiVersion"].as_str(), obj["kind"].as_str())
                        else {
                            panic!("{}: no apiVersion or kind", r.path)
                        };
                        if !kube.knows(api_version, kind) {
                            continue;
                        }
                        let findings = kube.validate(&obj);
                        assert!(findings.is_empty(), "{}: {findings:?}", r.path);
                        validated.insert(kind.to_string());
                    }
                }
                assert!(
                    validated.contains("Secret") && validated.contains("Namespace"),
                    "{validated:?}"
                );
            }
        }
    }
    deploy("controlplane");
    deploy("dev");
    for (stored, (cluster, api)) in before
        .iter()
        .zip([("controlplane", &controlplane), ("dev", &dev)])
    {
        assert_eq!(
            stored,
            &api.state.lock().unwrap().objects,
            "{cluster}: a second deploy of the unchanged platform changed objects"
        );
    }
}

/// Two applications in dev, or only the first.
fn with_apps(apps: &[&str]) -> flotilla_model::Platform {
    with_apps_in(apps, false)
}

/// The applications in dev, a protected cluster when `protected`.
fn with_apps_in(apps: &[&str], protected: bool) -> flotilla_model::Platform {
    let mut text = std::fs::read_to_string(
        flotilla_testkit::repo_root().join("crates/testkit/fixtures/two-envs.toml"),
    )
    .unwrap();
    if protected {
        let dev = "environment = \"dev\"\nvpc_cidr = \"10.1.0.0/16\"\navailability_zones = 2";
        assert!(text.contains(dev));
        text = text.replacen(
            dev,
            "environment = \"dev\"\nvpc_cidr = \"10.1.0.0/16\"\navailability_zones = 3\nprotected = true",
            1,
        );
    }
    for app in apps {
        text.push_str(&format!(
            "\n[[applications]]\nname = \"{app}\"\nteam = \"arn:aws:iam::111122223333:role/team-{app}\"\n[applications.environments]\ndev = {{ cpu = \"2\", memory = \"4Gi\", pods = 20 }}\n\n[[routes]]\napplication = \"{app}\"\nhost = \"{app}\"\npath = \"/\"\nservice = \"{app}\"\nport = 8080\n"
        ));
    }
    flotilla_model::load(
        "two-envs+apps.toml",
        &text,
        &flotilla_model::Versions::embedded(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Prune: an application removed from the model goes from the cluster with everything Flotilla
/// applied for it (its namespace, quota, limits, policies, binding, route), and nothing else:
/// an object Flotilla never applied stays, even with Flotilla's labels, and the inventory then
/// lists exactly the committed objects.
#[test]
fn a_deploy_prunes_what_the_model_removed_and_nothing_else() {
    let before = with_apps(&["shop", "blog"]);
    let after = with_apps(&["shop"]);
    let controlplane = FakeApi::start();
    let dev = FakeApi::start();
    let deploy = |p: &flotilla_model::Platform, repo: &std::path::Path| {
        deploy_both(p, repo, &controlplane, &dev, None, 0);
    };
    let repo = support::scratch_repo(&before);
    deploy(&before, repo.path());
    let has = |path: &str| dev.state.lock().unwrap().objects.contains_key(path);
    let blog_objects: Vec<String> =
        flotilla_helm::manifests(&before, before.cluster("dev").unwrap())
            .iter()
            .flat_map(|m| m.objects.iter())
            .filter(|o| {
                o["metadata"]["namespace"] == "blog"
                    || (o["kind"] == "Namespace" && o["metadata"]["name"] == "blog")
            })
            .map(|o| ObjectRef::of(o).unwrap().path())
            .collect();
    assert!(blog_objects.len() >= 5, "{blog_objects:?}");
    assert!(blog_objects.iter().all(|p| has(p)), "deployed first");
    // Someone else's object with Flotilla's labels, in a namespace that stays.
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "notes", "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "flotilla", "flotilla.io/platform": "duo"}}});
    let conn = Conn {
        cluster: "dev".into(),
        endpoint: dev.endpoint(),
        ca_pem: None,
        token: "t".into(),
    };
    KubeClient::new()
        .unwrap()
        .apply(&conn, &foreign, false)
        .unwrap();

    let repo = support::scratch_repo(&after);
    // Before the deploy, drift (and diff --live) already say what it will prune.
    let (_stand, io) = io_for(repo.path(), &controlplane, &dev);
    let args = flotilla_deploy::DriftArgs {
        target: "dev".into(),
        format: flotilla_deploy::DriftFormat::Json,
        dry_run: false,
    };
    let mut out = Vec::new();
    let code = flotilla_deploy::drift(repo.path(), &after, &args, &io, &mut out).unwrap();
    let report: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(code, 2, "{report:#}");
    let to_prune: Vec<&str> = report["clusters"][0]["prune"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(to_prune.len(), blog_objects.len(), "{to_prune:?}");
    assert_eq!(
        *to_prune.last().unwrap(),
        "Namespace blog",
        "namespaces last"
    );
    deploy(&after, repo.path());
    for p in &blog_objects {
        assert!(!has(p), "{p} was not pruned");
    }
    assert!(
        has("/api/v1/namespaces/shop/configmaps/notes"),
        "an object Flotilla never applied was touched"
    );
    let shop: Vec<String> = flotilla_helm::manifests(&after, after.cluster("dev").unwrap())
        .iter()
        .flat_map(|m| m.objects.iter())
        .map(|o| ObjectRef::of(o).unwrap().path())
        .collect();
    assert!(
        shop.iter().all(|p| has(p)),
        "what the model still has stays"
    );
    let inventory = dev.state.lock().unwrap().objects["/api/v1/namespaces/kube-system/configmaps/flotilla-applied"].clone();
    let listed: Vec<Value> =
        serde_json::from_str(inventory["data"]["objects.json"].as_str().unwrap()).unwrap();
    assert_eq!(listed.len(), shop.len());
    // The deletion requests went only to the pruned objects.
    let deletes: Vec<String> = dev
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path)
        .collect();
    let mut expected = blog_objects.clone();
    expected.sort();
    let mut got = deletes.clone();
    got.sort();
    assert_eq!(got, expected);
}

/// Stand-ins in `repo`, fake AWS, the real kube client against the two fake API servers.
fn io_for(
    repo: &std::path::Path,
    controlplane: &FakeApi,
    dev: &FakeApi,
) -> (support::StandIns, flotilla_deploy::Io) {
    let stand = support::StandIns::new(repo, &support::Behaviour::default());
    let io = flotilla_deploy::Io {
        aws: Box::new(support::FakeAws {
            secrets: [("duo/smtp".to_string(), "pw".to_string())].into(),
            ..support::FakeAws::default()
        }),
        kube: Box::new(KubeClient::new().unwrap()),
        cancel: flotilla_deploy::runner::Cancel::new(),
        reporter: Some(Box::new(flotilla_deploy::runner::Silent)),
        prompt: None,
        endpoints: [
            ("controlplane".to_string(), controlplane.endpoint()),
            ("dev".to_string(), dev.endpoint()),
        ]
        .into(),
        tools: stand.tools(),
    };
    (stand, io)
}

/// Deploys the controlplane, then dev; dev's deploy confirmed for pruning when `confirm`.
fn deploy_both(
    p: &flotilla_model::Platform,
    repo: &std::path::Path,
    controlplane: &FakeApi,
    dev: &FakeApi,
    confirm: Option<&str>,
    dev_code: i32,
) -> String {
    let (_stand, io) = io_for(repo, controlplane, dev);
    let mut dev_out = String::new();
    for env in ["controlplane", "dev"] {
        let mut args = flotilla_deploy::DeployArgs::new(env);
        args.yes = true;
        args.timeouts = support::quick();
        args.allow_dirty_protected = true;
        if env == "dev" {
            args.confirm_prune = confirm.map(str::to_string);
        }
        let mut out = Vec::new();
        let code = flotilla_deploy::deploy(repo, p, &args, &io, &mut out).unwrap();
        let out = String::from_utf8_lossy(&out).into_owned();
        let want = if env == "dev" { dev_code } else { 0 };
        assert_eq!(code, want, "{env}: {out}");
        if env == "dev" {
            dev_out = out;
        }
    }
    dev_out
}

/// On a protected cluster a namespace the model removed is pruned only with the confirmation,
/// and then through the deletion guard's door: annotated with its own name, then deleted.
#[test]
fn pruning_a_protected_namespace_needs_the_confirmation() {
    let controlplane = FakeApi::start();
    let dev = FakeApi::start();
    let before = with_apps_in(&["shop", "blog"], true);
    let after = with_apps_in(&["shop"], true);
    let repo = support::scratch_repo(&before);
    deploy_both(&before, repo.path(), &controlplane, &dev, None, 0);
    let ns = "/api/v1/namespaces/blog";
    assert!(dev.state.lock().unwrap().objects.contains_key(ns));
    let repo = support::scratch_repo(&after);
    // Without the confirmation: the prune step fails, naming the namespace; nothing deleted.
    let out = deploy_both(&after, repo.path(), &controlplane, &dev, None, 1);
    assert!(out.contains("prune:dev"), "{out}");
    assert!(dev.state.lock().unwrap().objects.contains_key(ns));
    let journal = flotilla_deploy::journal::latest(repo.path(), "deploy", "dev")
        .unwrap()
        .unwrap()
        .1;
    let prune = journal
        .step(&flotilla_plan::StepId("prune:dev".into()))
        .unwrap();
    assert!(
        prune.message.as_deref().unwrap_or("").contains(
            "pruning would delete namespace blog; confirm with `--confirm-prune <target>`"
        ),
        "{prune:?}"
    );
    // A confirmation for another target is no confirmation.
    deploy_both(&after, repo.path(), &controlplane, &dev, Some("qa"), 1);
    assert!(dev.state.lock().unwrap().objects.contains_key(ns));
    // Confirmed: annotated with its own name (what the guard admits), then deleted.
    deploy_both(&after, repo.path(), &controlplane, &dev, Some("dev"), 0);
    assert!(!dev.state.lock().unwrap().objects.contains_key(ns));
    let requests = dev.requests();
    let annotate = requests
        .iter()
        .position(|r| {
            r.method == "PATCH"
                && r.path == ns
                && r.body.contains("flotilla.io/delete-confirmed")
                && r.body.contains("blog")
        })
        .expect("the namespace was annotated");
    let delete = requests
        .iter()
        .position(|r| r.method == "DELETE" && r.path == ns)
        .expect("the namespace was deleted");
    assert!(annotate < delete);
}
