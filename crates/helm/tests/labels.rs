//! Every label of every rendered object (metadata, pod templates, selectors) is a valid label
//! key and value, on every fixture and on one whose team is an IAM role named with every
//! character IAM allows and label values do not (`+=,.@`, 64 characters).

mod common;

use serde_json::Value;

fn walk(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}.{k}");
                if matches!(k.as_str(), "labels" | "matchLabels")
                    && let Value::Object(labels) = x
                {
                    for (lk, lv) in labels {
                        let lv = lv.as_str().unwrap_or("");
                        if let Err(e) = flotilla_model::names::label_key(lk) {
                            out.push(format!("{here}: key {lk:?}: {e}"));
                        }
                        if let Err(e) = flotilla_model::names::label_value(lv) {
                            out.push(format!("{here}.{lk}: value {lv:?}: {e}"));
                        }
                    }
                }
                walk(x, &here, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_label_is_a_valid_label() {
    let mut platforms: Vec<(String, flotilla_model::Platform)> = common::fixtures()
        .into_iter()
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    let (_, mut odd) = platforms[0].clone();
    for app in &mut odd.applications {
        app.team.name = format!("{}+team=a,b.c@d", "x".repeat(51));
        assert_eq!(app.team.name.len(), 64);
    }
    platforms.push(("odd-team-name".into(), odd));
    let mut checked = 0;
    for (fixture, platform) in &platforms {
        for cluster in &platform.clusters {
            for m in flotilla_helm::manifests(platform, cluster) {
                for o in &m.objects {
                    let mut bad = Vec::new();
                    walk(o, "", &mut bad);
                    assert!(bad.is_empty(), "{fixture}: {}:\n{}", m.path, bad.join("\n"));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked} objects");
}
