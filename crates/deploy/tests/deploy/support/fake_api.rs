//! A small in-process fake Kubernetes API server (plain HTTP on loopback) for the real `kube`
//! client: stores what is applied by path (marked ready), serves it back, lists a collection by
//! path prefix, deletes, answers `/version`; a server-side dry run (`dryRun=All`) stores nothing.
//! It plays ECK and Strimzi as far as the deploy needs: an `Elasticsearch` gets its user and CA
//! Secrets, a `KafkaUser` its certificate Secret, a `Kafka` its cluster CA Secret.
//!
//! Server-side apply keeps field ownership per field manager, as the API server does
//! (Kubernetes "Server-Side Apply", field management): an apply owns the fields it sends; a field
//! its manager sent before and no longer sends is removed unless another manager owns it; with
//! `force`, the applier takes fields over from other managers. Maps merge key by key, lists and
//! scalars are owned whole (atomic), which is what the objects Flotilla applies need.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub authorization: String,
    pub body: String,
}

#[derive(Default)]
pub struct State {
    pub objects: BTreeMap<String, Value>,
    /// Object path -> field manager -> the fields it owns (`["metadata", "labels", "team"]`).
    pub managed: BTreeMap<String, BTreeMap<String, BTreeSet<Vec<String>>>>,
    pub requests: Vec<Request>,
}

/// The leaf fields of an applied object, as key paths (label keys contain dots); the identity
/// of the object is nobody's.
fn fields(v: &Value, prefix: &[String], out: &mut BTreeSet<Vec<String>>) {
    match v.as_object() {
        Some(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut path = prefix.to_vec();
                path.push(k.clone());
                let identity = matches!(
                    path.iter().map(String::as_str).collect::<Vec<_>>()[..],
                    ["apiVersion"] | ["kind"] | ["metadata", "name"] | ["metadata", "namespace"]
                );
                if !identity {
                    fields(child, &path, out);
                }
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.to_vec());
            }
        }
    }
}

fn remove_field(v: &mut Value, keys: &[String]) {
    let Some(m) = v.as_object_mut() else { return };
    if keys.len() == 1 {
        m.remove(&keys[0]);
        return;
    }
    if let Some(child) = m.get_mut(&keys[0]) {
        remove_field(child, &keys[1..]);
        if child.as_object().is_some_and(|c| c.is_empty()) {
            m.remove(&keys[0]);
        }
    }
}

/// Maps merge key by key; anything else is replaced.
fn merge(into: &mut Value, from: &Value) {
    match (into.as_object_mut(), from.as_object()) {
        (Some(a), Some(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *into = from.clone(),
    }
}

/// A server-side apply of `applied` by `manager` over what is stored at `path`.
pub fn server_side_apply(st: &mut State, path: &str, applied: &Value, manager: &str) -> Value {
    let mut sent = BTreeSet::new();
    fields(applied, &[], &mut sent);
    let owners = st.managed.entry(path.to_string()).or_default();
    let before = owners.get(manager).cloned().unwrap_or_default();
    let mut object = st.objects.get(path).cloned().unwrap_or_else(|| json!({}));
    // Fields this manager stops sending go, unless another manager still owns them.
    for f in before.difference(&sent) {
        let others = owners
            .iter()
            .any(|(m, owned)| m != manager && owned.contains(f));
        if !others {
            remove_field(&mut object, f);
        }
    }
    // `force`: what it sends is its own now.
    for (m, owned) in owners.iter_mut() {
        if m != manager {
            owned.retain(|f| !sent.contains(f));
        }
    }
    owners.insert(manager.to_string(), sent);
    merge(&mut object, applied);
    object
}

/// A fake API server: stores what is applied by path, serves it back (marked ready), lists a
/// collection by path prefix, deletes, answers `/version`.
pub struct FakeApi {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
}

impl FakeApi {
    pub fn start() -> FakeApi {
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

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
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
            let manager = req
                .query
                .split('&')
                .find_map(|kv| kv.strip_prefix("fieldManager="))
                .unwrap_or("unknown")
                .to_string();
            if req.query.contains("dryRun=All") {
                return (200, ready(obj));
            }
            let stored = {
                let st = &mut *st;
                ready(server_side_apply(st, &req.path, &obj, &manager))
            };
            {
                st.objects.insert(req.path.clone(), stored.clone());
                // ECK writes these Secrets once an Elasticsearch exists.
                if stored["kind"] == "Elasticsearch" {
                    let ns = stored["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("default");
                    for secret in
                        super::eck_secrets(stored["metadata"]["name"].as_str().unwrap_or(""), ns)
                    {
                        let name = secret["metadata"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_string();
                        st.objects
                            .insert(format!("/api/v1/namespaces/{ns}/secrets/{name}"), secret);
                    }
                }
                // Strimzi writes a KafkaUser's certificate and a Kafka's cluster CA.
                let ns = stored["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default");
                let name = stored["metadata"]["name"].as_str().unwrap_or("");
                let secret = match stored["kind"].as_str() {
                    Some("KafkaUser") => Some((
                        name.to_string(),
                        json!({"user.crt": "Y2VydA==", "user.key": "a2V5"}),
                    )),
                    Some("Kafka") => Some((
                        format!("{name}-cluster-ca-cert"),
                        json!({"ca.crt": "Y2EtY2VydA=="}),
                    )),
                    _ => None,
                };
                if let Some((secret, data)) = secret {
                    st.objects.insert(
                        format!("/api/v1/namespaces/{ns}/secrets/{secret}"),
                        json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": secret, "namespace": ns}, "data": data}),
                    );
                }
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
