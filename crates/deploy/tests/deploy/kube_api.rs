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
