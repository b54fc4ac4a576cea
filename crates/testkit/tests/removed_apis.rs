//! The removed-API table (`data/kubernetes-removed-apis.toml`) against the APIs each Kubernetes
//! version serves, from the JSON schemas of kubernetes-validate 1.37.0 (`.ci/run` installs it;
//! v1.34 is also in the reference data): every entry from 1.26 on is served by the version before
//! and not by the version it names, and no beta or GA API removed in 1.26 to 1.37 is missing.

use std::collections::BTreeSet;

use flotilla_model::kubernetes::{minor_of, removed_apis};
use flotilla_testkit::kube_schema::KubeSchemas;

/// Kinds that are request and response envelopes, not objects anyone applies.
const NOT_OBJECTS: &[&str] = &["DeleteOptions", "WatchEvent", "Status", "APIResourceList"];

#[test]
fn the_removed_api_table_matches_what_each_version_serves() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let mut served = std::collections::BTreeMap::new();
    for minor in 25..=37 {
        let v = format!("1.{minor}");
        match KubeSchemas::load(&reference, &v) {
            Ok(k) => {
                served.insert(minor, k.served().unwrap());
            }
            Err(e) => {
                flotilla_testkit::skip(&e.to_string());
                return;
            }
        }
    }
    let mut listed = BTreeSet::new();
    for r in removed_apis() {
        let (_, minor) = minor_of(&r.removed_in).unwrap();
        for kind in &r.kinds {
            listed.insert((r.api_version.clone(), kind.clone(), minor));
            if minor < 26 {
                continue;
            }
            let key = (r.api_version.clone(), kind.clone());
            assert!(
                served[&(minor - 1)].contains(&key),
                "{key:?} is not served by 1.{}",
                minor - 1
            );
            assert!(
                !served[&minor].contains(&key),
                "{key:?} is still served by 1.{minor}"
            );
        }
    }
    for minor in 26..=37 {
        for (api, kind) in served[&(minor - 1)].difference(&served[&minor]) {
            if api.contains("alpha")
                || kind.ends_with("List")
                || NOT_OBJECTS.contains(&kind.as_str())
            {
                continue;
            }
            assert!(
                listed.contains(&(api.clone(), kind.clone(), minor)),
                "{api} {kind} is not served by 1.{minor} but the table does not say so"
            );
        }
    }
}
