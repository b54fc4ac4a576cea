//! Kubernetes through `kube`: server-side apply with one field manager, reads, deletes.
//!
//! A [`Conn`] is built from DescribeCluster (endpoint, CA) and an EKS token; nothing is written
//! to a kubeconfig. The endpoint can be overridden per cluster (tests point it at a fake API
//! server over plain HTTP).

use std::collections::BTreeMap;

use flotilla_model::reserved::{MANAGED_BY, MANAGED_BY_LABEL};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;

/// The field manager of every server-side apply Flotilla does.
pub use flotilla_plan::FIELD_MANAGER;

/// How to reach one cluster's API.
#[derive(Clone)]
pub struct Conn {
    pub cluster: String,
    pub endpoint: String,
    /// PEM certificate authority (ignored for `http://` endpoints).
    pub ca_pem: Option<String>,
    pub token: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("cluster", &self.cluster)
            .field("endpoint", &self.endpoint)
            .field("token", &"***")
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{cluster}: {what}: {detail}")]
pub struct KubeError {
    pub cluster: String,
    pub what: String,
    pub detail: String,
}

/// The identity of an object: what the API paths are built from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

impl ObjectRef {
    pub fn of(object: &Value) -> Option<ObjectRef> {
        Some(ObjectRef {
            api_version: object.get("apiVersion")?.as_str()?.to_string(),
            kind: object.get("kind")?.as_str()?.to_string(),
            namespace: object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_string),
            name: object.pointer("/metadata/name")?.as_str()?.to_string(),
        })
    }

    /// The REST resource (plural guessed from the kind, as kubectl's fallback does).
    pub fn resource(&self) -> ApiResource {
        let (group, version) = match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        };
        ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &self.kind))
    }

    /// The URL path of the object (as printed by `--dry-run`).
    pub fn path(&self) -> String {
        let ar = self.resource();
        let base = if ar.group.is_empty() {
            format!("/api/{}", ar.version)
        } else {
            format!("/apis/{}/{}", ar.group, ar.version)
        };
        match &self.namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/{}/{}", ar.plural, self.name),
            None => format!("{base}/{}/{}", ar.plural, self.name),
        }
    }
}

/// What the engine asks of a Kubernetes API. The real implementation is [`KubeClient`].
pub trait Kube: Send + Sync {
    /// Server-side apply (field manager [`FIELD_MANAGER`], conflicts forced); with `dry_run`
    /// the server only says what it would store. Returns the objects as the server has them.
    fn apply(&self, conn: &Conn, object: &Value, dry_run: bool) -> Result<Value, KubeError>;
    fn get(&self, conn: &Conn, object: &ObjectRef) -> Result<Option<Value>, KubeError>;
    fn list(
        &self,
        conn: &Conn,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, KubeError>;
    /// Deletes; a missing object is not an error.
    fn delete(&self, conn: &Conn, object: &ObjectRef) -> Result<(), KubeError>;
    /// The server's version (`/version`), a reachability check.
    fn version(&self, conn: &Conn) -> Result<String, KubeError>;
}

/// `kube` on a private tokio runtime.
#[derive(Debug)]
pub struct KubeClient {
    runtime: tokio::runtime::Runtime,
}

impl KubeClient {
    pub fn new() -> std::io::Result<KubeClient> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        Ok(KubeClient { runtime })
    }

    fn client(&self, conn: &Conn) -> Result<kube::Client, KubeError> {
        let err = |what: &str, detail: String| KubeError {
            cluster: conn.cluster.clone(),
            what: what.to_string(),
            detail,
        };
        let url: http::Uri = conn
            .endpoint
            .parse()
            .map_err(|e| err("endpoint", format!("{}: {e}", conn.endpoint)))?;
        let mut config = kube::Config::new(url);
        config.default_namespace = "default".into();
        if let Some(pem) = &conn.ca_pem
            && conn.endpoint.starts_with("https://")
        {
            config.root_cert = Some(pem_to_der(pem).map_err(|e| err("certificate authority", e))?);
        }
        config.auth_info.token = Some(conn.token.clone().into());
        let _guard = self.runtime.enter();
        kube::Client::try_from(config).map_err(|e| err("client", e.to_string()))
    }

    fn api(&self, conn: &Conn, object: &ObjectRef) -> Result<Api<DynamicObject>, KubeError> {
        let client = self.client(conn)?;
        let ar = object.resource();
        Ok(match &object.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &ar),
            None => Api::all_with(client, &ar),
        })
    }
}

fn pem_to_der(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    let mut out = Vec::new();
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            b64.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(&b64)
                    .map_err(|e| format!("bad PEM: {e}"))?,
            );
        } else if inside {
            b64.push_str(line);
        }
    }
    if out.is_empty() {
        return Err("no certificate in PEM".into());
    }
    Ok(out)
}

fn to_value(o: DynamicObject) -> Result<Value, String> {
    serde_json::to_value(o).map_err(|e| e.to_string())
}

impl Kube for KubeClient {
    fn apply(&self, conn: &Conn, object: &Value, dry_run: bool) -> Result<Value, KubeError> {
        let oref = ObjectRef::of(object).ok_or_else(|| KubeError {
            cluster: conn.cluster.clone(),
            what: "apply".into(),
            detail: "object without apiVersion, kind or metadata.name".into(),
        })?;
        let api = self.api(conn, &oref)?;
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        params.dry_run = dry_run;
        let result = self
            .runtime
            .block_on(api.patch(&oref.name, &params, &Patch::Apply(object)));
        let err = |detail: String| KubeError {
            cluster: conn.cluster.clone(),
            what: format!("server-side apply of {oref}"),
            detail,
        };
        result
            .map_err(|e| err(e.to_string()))
            .and_then(|o| to_value(o).map_err(err))
    }

    fn get(&self, conn: &Conn, object: &ObjectRef) -> Result<Option<Value>, KubeError> {
        let api = self.api(conn, object)?;
        let result = self.runtime.block_on(api.get_opt(&object.name));
        let err = |detail: String| KubeError {
            cluster: conn.cluster.clone(),
            what: format!("get {object}"),
            detail,
        };
        match result {
            Ok(Some(o)) => to_value(o).map(Some).map_err(err),
            Ok(None) => Ok(None),
            Err(e) => Err(err(e.to_string())),
        }
    }

    fn list(
        &self,
        conn: &Conn,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Vec<Value>, KubeError> {
        let oref = ObjectRef {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: String::new(),
        };
        let api = self.api(conn, &oref)?;
        let list = self
            .runtime
            .block_on(api.list(&ListParams::default()))
            .map_err(|e| KubeError {
                cluster: conn.cluster.clone(),
                what: format!("list {kind} in {}", namespace.unwrap_or("the cluster")),
                detail: e.to_string(),
            })?;
        list.items
            .into_iter()
            .map(|mut o| {
                // List items carry no apiVersion/kind; put them back for the readiness checks.
                o.types = Some(kube::core::TypeMeta {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                });
                to_value(o)
            })
            .collect::<Result<_, _>>()
            .map_err(|detail| KubeError {
                cluster: conn.cluster.clone(),
                what: format!("list {kind}"),
                detail,
            })
    }

    fn delete(&self, conn: &Conn, object: &ObjectRef) -> Result<(), KubeError> {
        let api = self.api(conn, object)?;
        match self
            .runtime
            .block_on(api.delete(&object.name, &DeleteParams::foreground()))
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(KubeError {
                cluster: conn.cluster.clone(),
                what: format!("delete {object}"),
                detail: e.to_string(),
            }),
        }
    }

    fn version(&self, conn: &Conn) -> Result<String, KubeError> {
        let client = self.client(conn)?;
        let info = self
            .runtime
            .block_on(client.apiserver_version())
            .map_err(|e| KubeError {
                cluster: conn.cluster.clone(),
                what: "GET /version".into(),
                detail: e.to_string(),
            })?;
        Ok(info.git_version)
    }
}

/// Splits a multi-document YAML manifest into objects (empty documents dropped).
pub fn parse_manifests(file: &str, text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize as _;
    let mut out = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| format!("{file}: {e}"))?;
        match v {
            Value::Null => {}
            Value::Object(_) => {
                if ObjectRef::of(&v).is_none() {
                    return Err(format!(
                        "{file}: a document lacks apiVersion, kind or metadata.name"
                    ));
                }
                out.push(v)
            }
            _ => return Err(format!("{file}: a document is not a mapping")),
        }
    }
    Ok(out)
}

/// Whether an object reports itself ready, and if not, why (for the timeout message).
pub fn readiness(object: &Value) -> Result<(), String> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let status = object.get("status");
    let condition = |ty: &str| -> Result<(), String> {
        let found = status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
            });
        match found {
            Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => Ok(()),
            Some(c) => Err(format!(
                "{ty}={} {}",
                c.get("status").and_then(Value::as_str).unwrap_or("?"),
                c.get("message").and_then(Value::as_str).unwrap_or("")
            )
            .trim_end()
            .to_string()),
            None => Err(format!("no {ty} condition yet")),
        }
    };
    let int = |v: Option<&Value>| v.and_then(Value::as_i64).unwrap_or(0);
    match kind {
        "Deployment" => {
            let want = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let have = int(status.and_then(|s| s.get("availableReplicas")));
            if have >= want {
                Ok(())
            } else {
                Err(format!("{have}/{want} available"))
            }
        }
        "StatefulSet" => {
            let want = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let have = int(status.and_then(|s| s.get("readyReplicas")));
            if have >= want {
                Ok(())
            } else {
                Err(format!("{have}/{want} ready"))
            }
        }
        "Kafka" | "KafkaTopic" | "KafkaUser" => condition("Ready"),
        "Gateway" => condition("Programmed"),
        "CustomResourceDefinition" => condition("Established"),
        "Elasticsearch" | "Kibana" | "Logstash" => {
            match status.and_then(|s| s.get("health")).and_then(Value::as_str) {
                Some("green") => Ok(()),
                Some(h) => Err(format!("health {h}")),
                None => Err("no health reported yet".into()),
            }
        }
        "Node" => condition("Ready"),
        _ => Ok(()),
    }
}

/// Kinds whose readiness [`readiness`] can judge beyond existing.
pub fn has_readiness(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment"
            | "StatefulSet"
            | "Kafka"
            | "KafkaTopic"
            | "KafkaUser"
            | "Gateway"
            | "CustomResourceDefinition"
            | "Elasticsearch"
            | "Kibana"
            | "Logstash"
    )
}

/// A Secret object for server-side apply.
pub fn secret(namespace: &str, name: &str, data: &BTreeMap<String, String>, source: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { (MANAGED_BY_LABEL): MANAGED_BY },
            "annotations": { "flotilla.io/source": source },
        },
        "type": "Opaque",
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_kind_and_scope() {
        let ns = ObjectRef::of(
            &serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"api1"}}),
        )
        .unwrap();
        assert_eq!(ns.path(), "/api/v1/namespaces/api1");
        let es = ObjectRef::of(&serde_json::json!({"apiVersion":"elasticsearch.k8s.elastic.co/v1","kind":"Elasticsearch","metadata":{"name":"logs","namespace":"elastic"}})).unwrap();
        assert_eq!(
            es.path(),
            "/apis/elasticsearch.k8s.elastic.co/v1/namespaces/elastic/elasticsearches/logs"
        );
    }

    #[test]
    fn readiness_by_kind() {
        let d = serde_json::json!({"kind":"Deployment","spec":{"replicas":2},"status":{"availableReplicas":1}});
        assert_eq!(readiness(&d), Err("1/2 available".into()));
        let k = serde_json::json!({"kind":"Kafka","status":{"conditions":[{"type":"Ready","status":"True"}]}});
        assert_eq!(readiness(&k), Ok(()));
        let e = serde_json::json!({"kind":"Elasticsearch","status":{"health":"yellow"}});
        assert_eq!(readiness(&e), Err("health yellow".into()));
    }

    #[test]
    fn manifests_split_into_objects() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n";
        let objs = parse_manifests("x.yaml", text).unwrap();
        assert_eq!(objs.len(), 2);
        assert!(parse_manifests("y.yaml", "kind: Namespace\n").is_err());
    }
}
