//! Names an AWS account holds once are unique across the root modules that share the account.
//!
//! IAM role and policy names are account-wide; KMS aliases, log groups, EKS cluster and launch
//! template names are per account and region. The stand-in modules of `terraform validate`
//! create nothing, so the names come from two places: the rendered module calls (their inputs)
//! and the naming rules of the pinned modules, written down once in `tests/data/module_names.toml`
//! (which inputs make which name, at which version). Resources Flotilla declares itself (the
//! state bucket, KMS aliases, the private zone) are read from the render directly.
//!
//! On main at 61d7c3d every cluster's Pod Identity modules named their policies
//! `AmazonEKS_<policy>`: the second cluster of an account failed on `EntityAlreadyExists`.

mod common;

use std::collections::BTreeMap;

use flotilla_model::{Artifact, Platform, Versions};
use hcl::{Expression, ObjectKey, TemplateExpr};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    module: Vec<ModuleRules>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleRules {
    source: String,
    version: String,
    defaults: BTreeMap<String, toml::Value>,
    #[serde(default)]
    locals: BTreeMap<String, Vec<String>>,
    rule: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    kind: String,
    name: Vec<String>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    only_if: Vec<String>,
    #[serde(default)]
    each: Option<String>,
    #[serde(default)]
    each_defaults: BTreeMap<String, toml::Value>,
    source: String,
}

fn rules() -> RuleFile {
    let path = common::tests_dir().join("data/module_names.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A value as far as the rendered HCL tells it.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Str(String),
    Bool(bool),
    Map(Vec<(String, V)>),
    /// An expression this test does not evaluate (a reference to another resource, ...).
    Unknown(String),
}

impl V {
    fn from_toml(v: &toml::Value) -> V {
        match v {
            toml::Value::String(s) => V::Str(s.clone()),
            toml::Value::Boolean(b) => V::Bool(*b),
            other => V::Str(other.to_string()),
        }
    }
}

fn key_str(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Identifier(i) => i.to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Evaluates what this test needs of an HCL expression: literals, `local.x`, templates over
/// those, the partition, and objects of them.
fn eval(e: &Expression, locals: &BTreeMap<String, V>) -> V {
    match e {
        Expression::String(s) => V::Str(s.clone()),
        Expression::Bool(b) => V::Bool(*b),
        Expression::Number(n) => V::Str(n.to_string()),
        Expression::Object(o) => V::Map(
            o.iter()
                .map(|(k, v)| (key_str(k), eval(v, locals)))
                .collect(),
        ),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => template(s, locals),
            TemplateExpr::Heredoc(h) => V::Unknown(h.template.clone()),
        },
        Expression::Traversal(t) => {
            let text = hcl::format::to_string(e).unwrap_or_default();
            match text.strip_prefix("local.") {
                Some(name) if t.operators.len() == 1 => locals
                    .get(name)
                    .cloned()
                    .unwrap_or(V::Unknown(text.clone())),
                _ => V::Unknown(text),
            }
        }
        other => V::Unknown(hcl::format::to_string(other).unwrap_or_default()),
    }
}

fn template(s: &str, locals: &BTreeMap<String, V>) -> V {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return V::Unknown(s.to_string());
        };
        let inner = &rest[start + 2..start + end];
        match inner {
            "data.aws_partition.current.partition" => out.push_str("aws"),
            _ => match inner.strip_prefix("local.").and_then(|l| locals.get(l)) {
                Some(V::Str(v)) => out.push_str(v),
                _ => return V::Unknown(s.to_string()),
            },
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    V::Str(out)
}

/// One name the platform creates, where it comes from.
#[derive(Debug, Clone)]
struct Name {
    kind: String,
    /// The exact name, or the prefix AWS appends a unique suffix to.
    text: String,
    prefix: bool,
    /// `infra/<dir>` and the module call or resource that makes it, with the rule's source.
    origin: String,
}

/// The scope a kind of name is unique in: the account (`None`) or a region of it.
fn regional(kind: &str) -> bool {
    match kind {
        "iam-role" | "iam-policy" | "s3-bucket" | "route53-zone" => false,
        "kms-alias" | "log-group" | "eks-cluster" | "launch-template" => true,
        other => panic!("unknown kind {other}"),
    }
}

/// Longest name (or name prefix) AWS accepts for a kind.
fn limit(kind: &str, prefix: bool) -> usize {
    match (kind, prefix) {
        ("iam-role", false) => 64,
        ("iam-role", true) => 38,
        ("iam-policy", false) => 128,
        ("iam-policy", true) => 102,
        ("launch-template", false) => 125,
        ("launch-template", true) => 99,
        ("eks-cluster", _) => 100,
        ("kms-alias", _) | ("log-group", _) => 256,
        ("s3-bucket", _) => 63,
        ("route53-zone", _) => 255,
        (other, _) => panic!("unknown kind {other}"),
    }
}

/// An `each` entry: its key, its fields and the defaults of fields it leaves out.
type Entry<'a> = (
    &'a str,
    &'a BTreeMap<String, V>,
    &'a BTreeMap<String, toml::Value>,
);

/// What a rule's template reads: module inputs (with the module's defaults), the rule set's
/// locals, the `each` entry and its key.
struct Scope<'a> {
    module: &'a ModuleRules,
    inputs: &'a BTreeMap<String, V>,
    entry: Option<Entry<'a>>,
    instance: &'a str,
}

impl Scope<'_> {
    /// `None`: not set (null); `Some(Unknown)`: set but not evaluated here.
    fn get(&self, name: &str) -> Option<V> {
        if name == "@instance" {
            return Some(V::Str(format!("<{}>", self.instance)));
        }
        if name == "key" {
            return self.entry.map(|(k, _, _)| V::Str(k.to_string()));
        }
        if let Some(local) = name.strip_prefix("local.") {
            let chain = self
                .module
                .locals
                .get(local)
                .unwrap_or_else(|| panic!("{}: no local {local}", self.module.source));
            return self.coalesce(chain);
        }
        if let Some(field) = name.strip_prefix("each.") {
            let (_, fields, defaults) = self.entry.expect("each.* outside an `each` rule");
            return fields
                .get(field)
                .cloned()
                .or_else(|| defaults.get(field).map(V::from_toml));
        }
        self.inputs
            .get(name)
            .cloned()
            .or_else(|| self.module.defaults.get(name).map(V::from_toml))
    }

    fn render(&self, template: &str) -> Option<V> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${}");
            match self.get(&rest[start + 2..start + end])? {
                V::Str(s) => out.push_str(&s),
                V::Bool(b) => out.push_str(&b.to_string()),
                other => return Some(V::Unknown(format!("{template}: {other:?}"))),
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        Some(V::Str(out))
    }

    fn coalesce(&self, chain: &[String]) -> Option<V> {
        chain.iter().find_map(|t| self.render(t))
    }

    fn truthy(&self, input: &str) -> bool {
        match self.get(input) {
            Some(V::Bool(b)) => b,
            Some(V::Str(s)) if s == "true" || s == "false" => s == "true",
            None => false,
            other => panic!(
                "{}: `{input}` is {other:?}; the rule needs a literal",
                self.instance
            ),
        }
    }
}

fn apply(rule: &Rule, scope: &Scope<'_>, out: &mut Vec<Name>) {
    if !rule.only_if.iter().all(|i| scope.truthy(i)) {
        return;
    }
    let name = match scope.coalesce(&rule.name) {
        Some(V::Str(s)) => s,
        other => panic!(
            "{}: the {} name of {} evaluates to {other:?}",
            scope.instance, rule.kind, rule.source
        ),
    };
    let prefix = rule.prefix.as_deref().is_some_and(|p| scope.truthy(p));
    let text = if prefix {
        let sep = match rule.separator.as_deref().map(|s| scope.render(s)) {
            Some(Some(V::Str(s))) => s,
            None => String::new(),
            other => panic!("separator {other:?}"),
        };
        format!("{name}{sep}")
    } else {
        name
    };
    let key = scope
        .entry
        .map(|(k, _, _)| format!("[{k}]"))
        .unwrap_or_default();
    out.push(Name {
        kind: rule.kind.clone(),
        text,
        prefix,
        origin: format!(
            "{}{key} ({} {})",
            scope.instance, scope.module.version, rule.source
        ),
    });
}

/// Every name one root module creates: its module calls by the rules, its own resources.
fn names_of(dir: &str, main_tf: &str, rules: &RuleFile) -> Vec<Name> {
    let body: hcl::Body = hcl::from_str(main_tf).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let empty = BTreeMap::new();
    let mut locals = BTreeMap::new();
    for b in body.blocks().filter(|b| b.identifier() == "locals") {
        for a in b.body().attributes() {
            let v = eval(a.expr(), &empty);
            locals.insert(a.key().to_string(), v);
        }
    }
    let mut out = Vec::new();
    for block in body.blocks() {
        let attrs: BTreeMap<String, V> = block
            .body()
            .attributes()
            .map(|a| (a.key().to_string(), eval(a.expr(), &locals)))
            .collect();
        let label = |i: usize| block.labels().get(i).map(|l| l.as_str()).unwrap_or("");
        match block.identifier() {
            "module" => {
                let Some(V::Str(source)) = attrs.get("source") else {
                    panic!("{dir}: module {} without a literal source", label(0))
                };
                let version = match attrs.get("version") {
                    Some(V::Str(v)) => v.clone(),
                    _ => panic!("{dir}: module {} without a literal version", label(0)),
                };
                let module = rules
                    .module
                    .iter()
                    .find(|m| &m.source == source && m.version == version)
                    .unwrap_or_else(|| {
                        panic!(
                            "{dir}: module {} is {source} {version}, which tests/data/module_names.toml has no naming rules for: read the module at that tag and add them",
                            label(0)
                        )
                    });
                let instance = format!("{dir}: module.{}", label(0));
                for rule in &module.rule {
                    match &rule.each {
                        None => apply(
                            rule,
                            &Scope {
                                module,
                                inputs: &attrs,
                                entry: None,
                                instance: &instance,
                            },
                            &mut out,
                        ),
                        Some(input) => {
                            let entries = match attrs.get(input) {
                                Some(V::Map(m)) => m.clone(),
                                None => Vec::new(),
                                Some(other) => panic!("{instance}: {input} is {other:?}"),
                            };
                            for (key, entry) in &entries {
                                let V::Map(fields) = entry else {
                                    panic!("{instance}: {input}[{key}] is {entry:?}")
                                };
                                let fields: BTreeMap<String, V> = fields.iter().cloned().collect();
                                apply(
                                    rule,
                                    &Scope {
                                        module,
                                        inputs: &attrs,
                                        entry: Some((key, &fields, &rule.each_defaults)),
                                        instance: &instance,
                                    },
                                    &mut out,
                                );
                            }
                        }
                    }
                }
            }
            "resource" => {
                let (kind, field) = match label(0) {
                    "aws_iam_role" => ("iam-role", "name"),
                    "aws_iam_policy" => ("iam-policy", "name"),
                    "aws_kms_alias" => ("kms-alias", "name"),
                    "aws_cloudwatch_log_group" => ("log-group", "name"),
                    "aws_s3_bucket" => ("s3-bucket", "bucket"),
                    "aws_route53_zone" => ("route53-zone", "name"),
                    "aws_launch_template" => ("launch-template", "name"),
                    _ => continue,
                };
                let origin = format!("{dir}: {}.{}", label(0), label(1));
                let (text, prefix) = match (attrs.get(field), attrs.get("name_prefix")) {
                    (Some(V::Str(s)), _) => (s.clone(), false),
                    (None, Some(V::Str(s))) => (s.clone(), true),
                    other => panic!("{origin}: name {other:?}"),
                };
                out.push(Name {
                    kind: kind.to_string(),
                    text,
                    prefix,
                    origin,
                });
            }
            _ => {}
        }
    }
    out
}

/// Every name of a render, by (account, region or "", kind, name).
fn all_names(
    platform: &Platform,
    artifacts: &[Artifact],
    rules: &RuleFile,
) -> Vec<(String, String, Name)> {
    let mut out = Vec::new();
    for a in artifacts.iter().filter(|a| a.path.ends_with("/main.tf")) {
        let dir = a.path.trim_end_matches("/main.tf");
        let module = dir.trim_start_matches("infra/");
        let (account, region) = match platform.cluster(module) {
            Some(c) => (c.account_id.clone(), c.region.clone()),
            None => (platform.account_id.clone(), platform.region.clone()),
        };
        for n in names_of(dir, &a.contents, rules) {
            out.push((account.clone(), region.clone(), n));
        }
    }
    out
}

/// The problems: names two modules (or two objects) share in one scope, names over AWS's limits.
fn problems(names: &[(String, String, Name)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<(String, String, String, String), String> = BTreeMap::new();
    for (account, region, n) in names {
        let max = limit(&n.kind, n.prefix);
        if n.text.len() > max {
            problems.push(format!(
                "{}: {} {} `{}` has {} characters, AWS takes at most {max}",
                n.origin,
                n.kind,
                if n.prefix { "name prefix" } else { "name" },
                n.text,
                n.text.len()
            ));
        }
        // A name_prefix gets a unique suffix from AWS: it cannot collide.
        if n.prefix {
            continue;
        }
        let scope = if regional(&n.kind) {
            region.clone()
        } else {
            String::new()
        };
        let key = (account.clone(), scope, n.kind.clone(), n.text.clone());
        if let Some(first) = seen.get(&key) {
            problems.push(format!(
                "{} `{}` in account {account}{} is created twice: by {first} and by {}",
                n.kind,
                n.text,
                if regional(&n.kind) {
                    format!(" ({region})")
                } else {
                    String::new()
                },
                n.origin
            ));
        } else {
            seen.insert(key, n.origin.clone());
        }
    }
    problems
}

fn synthetic(workloads: usize) -> Platform {
    let text = flotilla_testkit::synthetic::platform(workloads, 2);
    flotilla_model::load("synthetic.toml", &text, &Versions::embedded())
        .unwrap_or_else(|e| panic!("the synthetic platform does not load:\n{e}"))
}

#[test]
fn account_wide_names_are_unique_in_every_fixture_and_at_twenty_clusters() {
    let rules = rules();
    let mut platforms = common::fixtures();
    platforms.push(("synthetic-20".to_string(), synthetic(19)));
    for (name, platform) in platforms {
        let artifacts = flotilla_terraform::render(&platform);
        let names = all_names(&platform, &artifacts, &rules);
        // Every cluster's module makes at least its EKS cluster, cluster role, log group and
        // four Pod Identity roles with their policies: the rules were applied.
        let per_cluster = |kind: &str| names.iter().filter(|(_, _, n)| n.kind == kind).count();
        assert!(
            per_cluster("eks-cluster") == platform.clusters.len()
                && per_cluster("iam-policy") >= 5 * platform.clusters.len()
                && per_cluster("iam-role") >= 6 * platform.clusters.len(),
            "{name}: the rules found too few names: {names:#?}"
        );
        let found = problems(&names);
        assert!(found.is_empty(), "{name}:\n{}", found.join("\n"));
    }
}

/// The check sees what 61d7c3d did: Pod Identity policies without the cluster's prefix collide
/// from the second cluster on.
#[test]
fn policies_without_the_cluster_prefix_collide() {
    let rules = rules();
    let (_, platform) = common::fixtures().remove(0);
    let mut artifacts = flotilla_terraform::render(&platform);
    for a in &mut artifacts {
        a.contents = a
            .contents
            .lines()
            .filter(|l| !l.trim_start().starts_with("policy_name_prefix"))
            .collect::<Vec<_>>()
            .join("\n");
    }
    let found = problems(&all_names(&platform, &artifacts, &rules));
    let joined = found.join("\n");
    for policy in [
        "AmazonEKS_EBS_CSI",
        "AmazonEKS_LoadBalancerController",
        "AmazonEKS_ClusterAutoscaler",
        "AmazonEKS_ExternalDNS",
    ] {
        assert!(
            joined.contains(&format!("iam-policy `{policy}` in account")),
            "{joined}"
        );
    }
    // And a name over AWS's limit is caught too.
    let long = [(
        "123456789012".to_string(),
        "eu-west-1".to_string(),
        Name {
            kind: "iam-role".into(),
            text: "x".repeat(39),
            prefix: true,
            origin: "test".into(),
        },
    )];
    assert_eq!(problems(&long).len(), 1);
}

/// The rules' defaults are the pinned modules' defaults (reference data): a module upgrade that
/// changes one fails here.
#[test]
fn naming_rule_defaults_match_the_pinned_modules() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let dir_of = |source: &str| {
        let name = source.split('/').nth(1).expect("namespace/name/provider");
        format!("terraform-aws-{name}")
    };
    let defaults = |module: &str, version: &str, sub: &str| -> BTreeMap<String, String> {
        let path = reference
            .join("terraform")
            .join(module)
            .join(version)
            .join(sub)
            .join("variables.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["variables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_string(),
                    v["default"].as_str().unwrap_or("null").to_string(),
                )
            })
            .collect()
    };
    let mut checked = 0;
    for m in rules().module {
        let dir = dir_of(&m.source);
        let root = defaults(&dir, &m.version, "root");
        for (input, value) in &m.defaults {
            let want = root
                .get(input)
                .unwrap_or_else(|| panic!("{} {}: no input {input}", m.source, m.version));
            assert_eq!(
                &value.to_string(),
                want,
                "{} {}: {input}",
                m.source,
                m.version
            );
            checked += 1;
        }
        for rule in &m.rule {
            if rule.each.is_none() {
                continue;
            }
            let sub = defaults(&dir, &m.version, "eks-managed-node-group");
            for (input, value) in &rule.each_defaults {
                let want = sub.get(input).unwrap_or_else(|| panic!("no input {input}"));
                assert_eq!(&value.to_string(), want, "node group input {input}");
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} defaults checked");
}
