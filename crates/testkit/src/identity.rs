//! Two rendered objects that the API server would take for one: same API group, kind,
//! namespace and name. The second `kubectl apply` would overwrite the first without a word, so
//! every derived name must be unique where its consumer looks it up.

use std::collections::BTreeMap;

use serde_json::Value;

/// Every object identity that appears more than once among `objects` (each given with the
/// file it came from), as one line per clash naming both places.
pub fn clashes<'a>(objects: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Vec<String> {
    let mut seen: BTreeMap<(String, String, String, String), &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (file, o) in objects {
        let text = |p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let api = text("/apiVersion");
        // The group is what makes two kinds of one name distinct; the version is not.
        let group = api
            .split_once('/')
            .map_or(String::new(), |(g, _)| g.to_string());
        let key = (
            group,
            text("/kind"),
            text("/metadata/namespace"),
            text("/metadata/name"),
        );
        if let Some(first) = seen.get(&key) {
            out.push(format!(
                "{} {}/{} in {} and in {file}",
                key.1,
                if key.2.is_empty() { "-" } else { &key.2 },
                key.3,
                first
            ));
        } else {
            seen.insert(key, file);
        }
    }
    out
}

/// Names that appear more than once in `names` (release names of one cluster, receivers of
/// one Alertmanager configuration, rule groups of one file).
pub fn repeated<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names {
        *count.entry(n).or_default() += 1;
    }
    count
        .into_iter()
        .filter(|(_, c)| *c > 1)
        .map(|(n, c)| format!("{n} ({c} times)"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_group_kind_namespace_and_name_clash_and_nothing_else() {
        let a = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "n"}});
        let b = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x", "namespace": "m"}});
        let c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "n"}});
        let d = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "n"}});
        let e = json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "n"}});
        assert!(clashes([("f", &a), ("f", &b), ("f", &c)]).is_empty());
        assert_eq!(
            clashes([("one.yaml", &d), ("two.yaml", &e)]),
            vec!["HTTPRoute n/r in one.yaml and in two.yaml".to_string()]
        );
        assert_eq!(repeated(["a", "b", "a"]), vec!["a (2 times)".to_string()]);
    }
}
