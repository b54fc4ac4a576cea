//! Every rendered YAML file reads back, with a standard YAML parser, as exactly the objects and
//! values the renderer built: our emitter (src/yaml.rs) loses and changes nothing.

mod common;

use serde::Deserialize;
use serde_json::Value;

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("a rendered document parses"))
        .collect()
}

#[test]
fn manifests_and_values_read_back_unchanged() {
    for (name, platform) in common::fixtures() {
        let files: std::collections::BTreeMap<String, String> = flotilla_helm::render(&platform)
            .into_iter()
            .map(|a| (a.path, a.contents))
            .collect();
        let mut checked = 0;
        for cluster in &platform.clusters {
            for m in flotilla_helm::manifests(&platform, cluster) {
                let text = files
                    .get(&m.path)
                    .unwrap_or_else(|| panic!("{name}: {} not rendered", m.path));
                assert_eq!(documents(text), m.objects, "{name}: {}", m.path);
                checked += 1;
            }
            for r in flotilla_helm::releases(&platform, cluster) {
                let values = flotilla_helm::release_values(&platform, cluster, &r.name)
                    .expect("every release has values");
                let text = &files[&r.values_file];
                assert_eq!(documents(text), vec![values], "{name}: {}", r.values_file);
                checked += 1;
            }
        }
        assert!(checked > 10, "{name}: only {checked} files checked");
    }
}
