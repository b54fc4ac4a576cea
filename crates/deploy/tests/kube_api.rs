//! The real `kube` client against a small in-process fake API server (plain HTTP on loopback):
//! server-side apply carries the field manager, `force` and the object; reads, lists, deletes
//! and `/version` go where they should; and a whole controlplane deploy runs through it with
//! the Kubernetes endpoint overridden for the cluster.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use flotilla_deploy::kube::{Conn, FIELD_MANAGER, Kube, KubeClient, ObjectRef};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    content_type: String,
    authorization: String,
    body: String,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Request>,
}

/// A fake API server: stores what is applied by path, serves it back (marked ready), lists a
/// collection by path prefix, deletes, answers `/version`.
struct FakeApi {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        FakeApi { port, state }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let req = Request {
            method: method.clone(),
            path: path.to_string(),
            query: query.to_string(),
            content_type: headers.get("content-type").cloned().unwrap_or_default(),
            authorization: headers.get("authorization").cloned().unwrap_or_default(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let (code, reply) = respond(&req, state);
        state.lock().unwrap().requests.push(req);
        let text = reply.to_string();
        let _ = write!(
            conn,
            "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        let _ = conn.flush();
    }
}

fn not_found(path: &str) -> (u16, Value) {
    (
        404,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":format!("{path} not found"),"reason":"NotFound","code":404}),
    )
}

fn ready(mut o: Value) -> Value {
    let kind = o["kind"].as_str().unwrap_or("").to_string();
    o["status"] = match kind.as_str() {
        "Elasticsearch" | "Kibana" | "Logstash" => json!({"health":"green"}),
        _ => {
            json!({"conditions":[{"type":"Ready","status":"True"},{"type":"Programmed","status":"True"}]})
        }
    };
    o["metadata"]["resourceVersion"] = json!("1");
    o
}

fn respond(req: &Request, state: &Mutex<State>) -> (u16, Value) {
    let mut st = state.lock().unwrap();
    match req.method.as_str() {
        "GET" if req.path == "/version" => (
            200,
            json!({"major":"1","minor":"34","gitVersion":"v1.34.0-fake","gitCommit":"0","gitTreeState":"clean",
                "buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"}),
        ),
        "GET" => {
            if let Some(o) = st.objects.get(&req.path) {
                return (200, o.clone());
            }
            // A collection: the objects exactly one segment below the path.
            let prefix = format!("{}/", req.path);
            let items: Vec<Value> = st
                .objects
                .iter()
                .filter(|(p, _)| p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
                .map(|(_, o)| o.clone())
                .collect();
            if req.path.ends_with("/nodes") {
                return (
                    200,
                    json!({"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[
                        {"metadata":{"name":"node-1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}),
                );
            }
            let last = req.path.rsplit('/').next().unwrap_or("");
            let is_collection =
                ["deployments", "statefulsets", "secrets", "namespaces"].contains(&last);
            if is_collection {
                (
                    200,
                    json!({"kind":"List","apiVersion":"v1","metadata":{},"items":items}),
                )
            } else {
                not_found(&req.path)
            }
        }
        "PATCH" => {
            let Ok(obj) = serde_json::from_str::<Value>(&req.body) else {
                return (
                    400,
                    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"bad body","code":400}),
                );
            };
            let stored = ready(obj);
            if !req.query.contains("dryRun=All") {
                st.objects.insert(req.path.clone(), stored.clone());
            }
            (200, stored)
        }
        "DELETE" => match st.objects.remove(&req.path) {
            Some(_) => (
                200,
                json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":200}),
            ),
            None => not_found(&req.path),
        },
        _ => (405, json!({})),
    }
}

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
        interactive: false,
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
