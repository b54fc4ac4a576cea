//! Built-in Kubernetes objects against the JSON Schemas of the API server's OpenAPI at the
//! cluster's Kubernetes version, with unknown fields rejected: what `kubectl apply
//! --validate=strict` (server-side `fieldValidation=Strict`) refuses, this refuses.
//!
//! The schemas are the strict JSON Schema files of `kubernetes-validate` (PyPI, Apache-2.0),
//! pinned under `<reference>/kubernetes-json-schema/v<minor>.0-local-strict/`: one file per kind
//! and version (`deployment-apps-v1.json`) whose `$ref`s point into `_definitions.json`.
//! Custom resources are not in them; [`crate::crd_schema`] checks those.
//!
//! Not evaluated, as in [`crate::schema`]: `format` and CEL rules. The API server's own
//! validation beyond the schema (a Service's port range, a label value's length) is not either.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::schema::{self, Dialect};
use crate::{Finding, ReferenceError, read_text};

/// The strict schemas of one Kubernetes version.
pub struct KubeSchemas {
    dir: PathBuf,
    /// `_definitions.json`'s `$defs`, with every kind's schema added under `kind:<file>` as it
    /// is loaded: one root, so `#/$defs/...` resolves everywhere.
    root: RefCell<Value>,
    /// File stem -> loaded (false when the file does not exist).
    loaded: RefCell<BTreeMap<String, bool>>,
}

/// `"/api/_definitions.json#/$defs/X"` -> `"#/$defs/X"`, throughout.
fn local_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some((_, pointer)) = r.split_once('#')
            {
                *r = format!("#{pointer}");
            }
            for child in map.values_mut() {
                local_refs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(local_refs),
        _ => {}
    }
}

fn read_json(path: &Path) -> Result<Value, ReferenceError> {
    serde_json::from_str(&read_text(path)?).map_err(|e| ReferenceError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The schema file stem of an `apiVersion` and `kind`: `apps/v1` `Deployment` ->
/// `deployment-apps-v1`, `v1` `Service` -> `service-v1`, `rbac.authorization.k8s.io/v1`
/// `Role` -> `role-rbac-v1`.
pub fn file_stem(api_version: &str, kind: &str) -> String {
    let kind = kind.to_lowercase();
    match api_version.split_once('/') {
        Some((group, version)) => {
            let label = group.split('.').next().unwrap_or(group);
            format!("{kind}-{label}-{version}")
        }
        None => format!("{kind}-{api_version}"),
    }
}

impl KubeSchemas {
    /// Where the schemas of Kubernetes `minor` (`"1.34"`) may be, in order: the pinned
    /// reference data (`<reference>/kubernetes-json-schema/`, v1.34 only), then the
    /// `kubernetes-validate==1.37.0` package that `.ci/run` installs into `.venv` (v1.25 to
    /// v1.37), or the folder `FLOTILLA_KUBE_SCHEMAS` names.
    pub fn candidates(reference: &Path, minor: &str) -> Vec<PathBuf> {
        let folder = format!("v{minor}.0-local-strict");
        let mut out = vec![reference.join("kubernetes-json-schema").join(&folder)];
        if let Some(dir) = std::env::var_os("FLOTILLA_KUBE_SCHEMAS") {
            out.push(PathBuf::from(dir).join(&folder));
        }
        let lib = crate::repo_root().join(".venv/lib");
        for python in std::fs::read_dir(&lib).into_iter().flatten().flatten() {
            out.push(
                python
                    .path()
                    .join("site-packages/kubernetes_validate/kubernetes-json-schema")
                    .join(&folder),
            );
        }
        out
    }

    /// The schemas of Kubernetes `minor` from the first of [`KubeSchemas::candidates`] that
    /// exists.
    pub fn load(reference: &Path, minor: &str) -> Result<KubeSchemas, ReferenceError> {
        let tried = KubeSchemas::candidates(reference, minor);
        let Some(dir) = tried.iter().find(|d| d.is_dir()).cloned() else {
            return Err(ReferenceError::MissingVersion {
                name:
                    "Kubernetes JSON schemas (pip install kubernetes-validate==1.37.0 into .venv)"
                        .into(),
                version: minor.to_string(),
                dir: tried[0].clone(),
            });
        };
        let mut defs = read_json(&dir.join("_definitions.json"))?;
        local_refs(&mut defs);
        let mut root = Map::new();
        root.insert(
            "$defs".into(),
            defs.get("$defs").cloned().unwrap_or(Value::Null),
        );
        Ok(KubeSchemas {
            dir,
            root: RefCell::new(Value::Object(root)),
            loaded: RefCell::new(BTreeMap::new()),
        })
    }

    /// Every `(apiVersion, kind)` the version serves, from the kind schemas'
    /// `x-kubernetes-group-version-kind`.
    pub fn served(&self) -> Result<std::collections::BTreeSet<(String, String)>, ReferenceError> {
        let mut out = std::collections::BTreeSet::new();
        let entries = std::fs::read_dir(&self.dir).map_err(|e| ReferenceError::Read {
            path: self.dir.clone(),
            message: e.to_string(),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.starts_with('_') || !name.ends_with(".json") {
                continue;
            }
            let schema = read_json(&path)?;
            for gvk in schema["x-kubernetes-group-version-kind"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (Some(group), Some(version), Some(kind)) = (
                    gvk["group"].as_str(),
                    gvk["version"].as_str(),
                    gvk["kind"].as_str(),
                ) else {
                    continue;
                };
                let api = if group.is_empty() {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
                out.insert((api, kind.to_string()));
            }
        }
        Ok(out)
    }

    /// Whether the version has a schema for this built-in kind.
    pub fn knows(&self, api_version: &str, kind: &str) -> bool {
        self.ensure(&file_stem(api_version, kind)).unwrap_or(false)
    }

    fn ensure(&self, stem: &str) -> Result<bool, ReferenceError> {
        if let Some(known) = self.loaded.borrow().get(stem) {
            return Ok(*known);
        }
        let path = self.dir.join(format!("{stem}.json"));
        let known = path.is_file();
        if known {
            let mut schema = read_json(&path)?;
            local_refs(&mut schema);
            self.root.borrow_mut()["$defs"][format!("kind:{stem}")] = schema;
        }
        self.loaded.borrow_mut().insert(stem.to_string(), known);
        Ok(known)
    }

    /// Validates one built-in object. A kind the version does not have is a finding.
    pub fn validate(&self, object: &Value) -> Vec<Finding> {
        let api_version = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return vec![Finding::new("", "apiVersion and kind are required strings")];
        };
        let stem = file_stem(api_version, kind);
        match self.ensure(&stem) {
            Ok(true) => {}
            Ok(false) => {
                return vec![Finding::new(
                    "kind",
                    format!(
                        "{kind} {api_version} is not an API of this Kubernetes version (no {stem}.json in {})",
                        self.dir.display()
                    ),
                )];
            }
            Err(e) => return vec![Finding::new("", e.to_string())],
        }
        self.against(&format!("kind:{stem}"), object, "")
    }

    /// Validates a value against one definition (`io.k8s.api.core.v1.PodTemplateSpec`), e.g.
    /// the pod template an operator's custom resource embeds without a schema of its own.
    pub fn validate_definition(&self, definition: &str, value: &Value, path: &str) -> Vec<Finding> {
        if self.root.borrow()["$defs"].get(definition).is_none() {
            return vec![Finding::new(
                path,
                format!("no definition {definition} in {}", self.dir.display()),
            )];
        }
        self.against(definition, value, path)
    }

    fn against(&self, def: &str, value: &Value, path: &str) -> Vec<Finding> {
        let root = self.root.borrow();
        let schema = serde_json::json!({ "$ref": format!("#/$defs/{def}") });
        schema::validate(&root, &schema, value, Dialect::HelmValues, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn file_stems_follow_the_schema_naming() {
        assert_eq!(file_stem("apps/v1", "Deployment"), "deployment-apps-v1");
        assert_eq!(file_stem("v1", "Service"), "service-v1");
        assert_eq!(
            file_stem("rbac.authorization.k8s.io/v1", "RoleBinding"),
            "rolebinding-rbac-v1"
        );
        assert_eq!(
            file_stem(
                "admissionregistration.k8s.io/v1",
                "ValidatingAdmissionPolicy"
            ),
            "validatingadmissionpolicy-admissionregistration-v1"
        );
    }

    #[test]
    fn refs_into_the_definitions_become_local() {
        let mut v =
            json!({"a": {"$ref": "/api/_definitions.json#/$defs/X"}, "b": [{"$ref": "#/$defs/Y"}]});
        local_refs(&mut v);
        assert_eq!(
            v,
            json!({"a": {"$ref": "#/$defs/X"}, "b": [{"$ref": "#/$defs/Y"}]})
        );
    }
}
