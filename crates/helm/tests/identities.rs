//! No two rendered objects of one cluster are one object to the API server (same group, kind,
//! namespace and name), and no two releases of one cluster share a name: on every fixture and
//! on a crowded platform (every application in every environment, several routes each, one
//! namespace set apart from its application's name). The fuzzer (`tests/fuzz.rs`) asks the
//! same of every platform it accepts.

mod common;

use flotilla_model::Platform;

/// Every clash in one platform's render, one line each.
pub fn clashes(platform: &Platform) -> Vec<String> {
    let mut out = Vec::new();
    for c in &platform.clusters {
        let manifests = flotilla_helm::manifests(platform, c);
        let objects = manifests
            .iter()
            .flat_map(|m| m.objects.iter().map(move |o| (m.path.as_str(), o)));
        for clash in flotilla_testkit::identity::clashes(objects) {
            out.push(format!("{}: {clash}", c.name));
        }
        let releases = flotilla_helm::releases(platform, c);
        for r in flotilla_testkit::identity::repeated(releases.iter().map(|r| r.name.as_str())) {
            out.push(format!("{}: release {r}", c.name));
        }
    }
    out
}

#[test]
fn every_fixture_renders_each_object_once() {
    let mut objects = 0;
    for (name, p) in common::fixtures() {
        let found = clashes(&p);
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
        objects += p
            .clusters
            .iter()
            .map(|c| {
                flotilla_helm::manifests(&p, c)
                    .iter()
                    .map(|m| m.objects.len())
                    .sum::<usize>()
            })
            .sum::<usize>();
    }
    // The check saw the objects (a render that lost them would pass it trivially).
    assert!(objects > 200, "only {objects} objects rendered");
}

#[test]
fn a_crowded_platform_renders_each_object_once() {
    // The seed with its applications copied under new names (one with a namespace of its own
    // choosing), each with routes on the same host: the derived names of routes, policies and
    // bindings all meet in the gateway's and the applications' namespaces.
    let mut text = common::SEED.to_string();
    for (app, ns) in [
        ("shop", None),
        ("shop-admin", Some("backoffice")),
        ("api3", None),
    ] {
        text.push_str(&format!(
            "\n[[applications]]\nname = \"{app}\"\n{}team = \"arn:aws:iam::123456789012:role/team-{app}\"\n[applications.environments]\nproduction = {{ cpu = \"1\", memory = \"1Gi\", pods = 10 }}\nstaging = {{ cpu = \"1\", memory = \"1Gi\", pods = 10 }}\n",
            ns.map_or(String::new(), |n| format!("namespace = \"{n}\"\n"))
        ));
        for path in ["/", "/a", "/a/b", "/c-d"] {
            text.push_str(&format!(
                "\n[[routes]]\napplication = \"{app}\"\nhost = \"{app}\"\npath = \"{path}\"\nservice = \"{app}\"\nport = 8080\n"
            ));
        }
    }
    let p = common::load_fixture("crowded.toml", &text);
    let found = clashes(&p);
    assert!(found.is_empty(), "{}", found.join("\n"));
}
