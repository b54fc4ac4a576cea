//! Object metadata shared by every renderer: names, namespaces and the common labels.

use std::collections::BTreeMap;

use flotilla_model::reserved::{MANAGED_BY, MANAGED_BY_LABEL};
use flotilla_model::{Cluster, Platform};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// Labels every object Flotilla renders carries.
pub fn common_labels(platform: &Platform, cluster: &Cluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.into(), MANAGED_BY.into()),
        ("flotilla.io/platform".into(), platform.name.clone()),
        (
            "flotilla.io/environment".into(),
            cluster.environment.clone(),
        ),
    ])
}

pub fn meta(
    platform: &Platform,
    cluster: &Cluster,
    name: impl Into<String>,
    namespace: Option<&str>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_string),
        labels: Some(common_labels(platform, cluster)),
        ..ObjectMeta::default()
    }
}

/// Metadata of a custom resource (our own serde structs share this shape).
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Meta {
    pub fn new(
        platform: &Platform,
        cluster: &Cluster,
        name: impl Into<String>,
        namespace: &str,
    ) -> Meta {
        Meta {
            name: name.into(),
            namespace: Some(namespace.to_string()),
            labels: common_labels(platform, cluster),
            annotations: BTreeMap::new(),
        }
    }

    pub fn label(mut self, k: &str, v: impl Into<String>) -> Meta {
        self.labels.insert(k.to_string(), v.into());
        self
    }

    pub fn annotation(mut self, k: &str, v: impl Into<String>) -> Meta {
        self.annotations.insert(k.to_string(), v.into());
        self
    }
}

/// A custom resource: our own typed `spec` under the usual envelope.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Meta,
    pub spec: S,
}

/// Where the data pods (Kafka, Logstash, Elasticsearch) run: the controlplane's data node pool
/// of the capacity plan, selected by its labels and tolerating its taints, as the model says.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<serde_json::Value>,
}

pub fn data_placement(cluster: &Cluster) -> Placement {
    let Some(pool) = cluster
        .node_pools
        .iter()
        .find(|p| p.name == flotilla_model::capacity::DATA_POOL_NAME)
    else {
        return Placement::default();
    };
    Placement {
        node_selector: pool.labels.clone(),
        tolerations: pool
            .taints
            .iter()
            .map(|t| {
                let mut v = serde_json::json!({
                    "key": t.key,
                    "effect": t.effect.as_str(),
                });
                match &t.value {
                    Some(value) => {
                        v["operator"] = "Equal".into();
                        v["value"] = value.as_str().into();
                    }
                    None => v["operator"] = "Exists".into(),
                }
                v
            })
            .collect(),
    }
}
