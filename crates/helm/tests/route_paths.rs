//! Route paths: what validation accepts is exactly what the pinned Gateway API CRD accepts for
//! an `HTTPPathMatch` of type `PathPrefix`: its `maxLength` and every `x-kubernetes-validations`
//! rule, read from `../shared/reference/crds/gateway-api/<version>/` and evaluated as CEL (the
//! API server's check), over hand-picked and generated paths.

use cel_interpreter::{Context, Program};
use proptest::prelude::*;
use serde_json::Value;

/// The `path` schema of `HTTPRoute.spec.rules[].matches[]` in the pinned CRD.
fn path_schema() -> Option<Value> {
    let reference = flotilla_testkit::reference_dir()?;
    let version = &flotilla_model::Versions::embedded().crds["gateway-api"].version;
    let file = reference
        .join("crds/gateway-api")
        .join(version)
        .join("gateway.networking.k8s.io_httproutes.yaml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let crd: Value = serde_norway::from_str(&text).unwrap();
    let v1 = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .unwrap();
    let path = &v1["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["rules"]["items"]
        ["properties"]["matches"]["items"]["properties"]["path"];
    assert!(path.is_object(), "no path schema in {}", file.display());
    Some(path.clone())
}

struct Crd {
    max_length: usize,
    rules: Vec<(String, Program)>,
}

impl Crd {
    fn load() -> Option<Crd> {
        let schema = path_schema()?;
        let max_length = schema["properties"]["value"]["maxLength"].as_u64().unwrap() as usize;
        let rules = schema["x-kubernetes-validations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let rule = r["rule"].as_str().unwrap();
                // cel-interpreter has no triple-quoted raw strings: the pattern becomes a
                // plain double-quoted string (it holds no `"` and no backslash).
                let rule = rule.replace("r\"\"\"", "\"").replace("\"\"\"", "\"");
                let program =
                    Program::compile(&rule).unwrap_or_else(|e| panic!("CEL rule {rule:?}: {e:?}"));
                (r["message"].as_str().unwrap().to_string(), program)
            })
            .collect();
        Some(Crd { max_length, rules })
    }

    /// The messages of the rules a PathPrefix match with this value breaks.
    fn refuses(&self, value: &str) -> Vec<String> {
        let mut out = Vec::new();
        if value.chars().count() > self.max_length {
            out.push(format!("longer than {}", self.max_length));
        }
        let mut ctx = Context::default();
        ctx.add_variable(
            "self",
            serde_json::json!({"type": "PathPrefix", "value": value}),
        )
        .unwrap();
        for (message, p) in &self.rules {
            match p.execute(&ctx) {
                Ok(cel_interpreter::Value::Bool(true)) => {}
                Ok(cel_interpreter::Value::Bool(false)) => out.push(message.clone()),
                other => panic!("{message}: {other:?} for {value:?}"),
            }
        }
        out
    }
}

fn agree(crd: &Crd, path: &str) -> Result<(), String> {
    let ours = flotilla_model::names::route_path(path);
    let theirs = crd.refuses(path);
    if ours.is_ok() == theirs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{path:?}: validation says {ours:?}, the CRD refuses it for {theirs:?}"
        ))
    }
}

#[test]
fn route_paths_are_what_the_pinned_crd_accepts() {
    let Some(crd) = Crd::load() else { return };
    let long = format!("/{}", "a".repeat(1023));
    let too_long = format!("/{}", "a".repeat(1024));
    let cases = [
        "/",
        "/v1",
        "/v1/orders",
        "/a.b",
        "/.well-known/x",
        "/~user",
        "/a%20b",
        "/a:b@c",
        "/!$&'()*+,;=",
        "",
        "v1",
        "//",
        "/a//b",
        "/./",
        "/a/./b",
        "/a/../b",
        "/..",
        "/a/..",
        "/.",
        "/a/.",
        "/a%2fb",
        "/a%2Fb",
        "/a#b",
        "/é",
        "/a b",
        "/a\tb",
        "/a%",
        "/a%2",
        "/a%zz",
        "/a?b",
        "/a\"b",
        "/a<b",
        "/a\\b",
        "/a|b",
        "/a^b",
        "/a`b",
        "/a{b}",
        "/a[b]",
        long.as_str(),
        too_long.as_str(),
    ];
    let mut refused = 0;
    for c in cases {
        agree(&crd, c).unwrap();
        refused += usize::from(!crd.refuses(c).is_empty());
    }
    assert!(refused > 25, "the CRD refuses {refused} of the cases");
    // Generated: any string of path-ish characters.
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 2000,
        failure_persistence: None,
        ..Default::default()
    });
    runner
        .run(&"/?[a-z0-9/.%#~@:!é -]{0,12}", |p| {
            agree(&crd, &p).map_err(TestCaseError::fail)
        })
        .unwrap();
}
