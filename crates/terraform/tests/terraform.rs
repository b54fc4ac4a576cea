//! The rendered Terraform against Terraform itself and the pinned reference data:
//!
//! - `terraform fmt -check` accepts every rendered file unchanged;
//! - offline `terraform validate` of every root module, the registry modules replaced by
//!   stand-ins built from the reference `variables.json`/`outputs.json` and the aws provider held
//!   to the locally mirrored 5.100.0 (a companion test proves the harness rejects a wrong input);
//! - every argument of every direct resource and data source exists in aws 5.100.0 and in the
//!   6.47.0 schema of the reference data, and none is deprecated there.
//!
//! terraform and the plugin mirror are external: without them the tests say why they skip, and
//! fail under `CI=true` (flotilla-testkit).

mod common;

use flotilla_testkit::git;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use flotilla_model::{Artifact, Platform};
use serde_json::Value;

const INSTALL_HINT: &str =
    "install Terraform >= 1.10 from https://developer.hashicorp.com/terraform/install";
/// The aws provider release in the local plugin mirror, and so the one `terraform validate` runs.
const MIRRORED_AWS: &str = "5.100.0";
/// Providers the root modules pin for the EKS module but that the mirror does not hold.
const UNMIRRORED: [&str; 2] = ["time", "tls"];

fn terraform() -> Option<PathBuf> {
    flotilla_testkit::tool("terraform", Some("FLOTILLA_TERRAFORM"), INSTALL_HINT)
}

/// The filesystem mirror of provider plugins (`FLOTILLA_TF_PLUGIN_DIR`, default /opt/tf-plugins).
fn plugin_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOTILLA_TF_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    let aws = dir.join(format!(
        "registry.terraform.io/hashicorp/aws/{MIRRORED_AWS}"
    ));
    if aws.is_dir() {
        Some(dir)
    } else {
        flotilla_testkit::skip(&format!(
            "no hashicorp/aws {MIRRORED_AWS} in the plugin mirror {} (set FLOTILLA_TF_PLUGIN_DIR)",
            dir.display()
        ));
        None
    }
}

fn run(cmd: &mut Command) -> (bool, String) {
    cmd.env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0");
    let out = cmd.output().expect("terraform runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn terraform_fmt_accepts_every_file_unchanged() {
    let Some(terraform) = terraform() else { return };
    for (name, platform) in common::fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let artifacts = flotilla_terraform::render(&platform);
        common::write(dir.path(), &artifacts);
        let (ok, out) = run(Command::new(&terraform)
            .args(["fmt", "-check", "-recursive", "-diff", "-no-color"])
            .arg(dir.path().join("infra")));
        assert!(
            ok,
            "{name}: terraform fmt would change the rendered files:\n{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Offline validate with stand-in modules.
// ---------------------------------------------------------------------------------------------

/// Writes a stand-in for a registry module: the same variables (names, types, defaults,
/// nullability) and outputs (all `null`) as the pinned release, and nothing else.
fn write_standin(reference: &Path, dest: &Path) {
    let vars: Value = read_json(&reference.join("variables.json"));
    let outputs: Value = read_json(&reference.join("outputs.json"));
    let mut tf = String::new();
    for v in vars["variables"].as_array().expect("variables") {
        tf.push_str(&format!(
            "variable \"{}\" {{\n",
            v["name"].as_str().unwrap()
        ));
        if let Some(t) = v["type"].as_str() {
            tf.push_str(&format!("  type = {t}\n"));
        }
        if v["has_default"].as_bool() == Some(true) {
            tf.push_str(&format!("  default = {}\n", v["default"].as_str().unwrap()));
        }
        if v["nullable"].as_bool() == Some(false) {
            tf.push_str("  nullable = false\n");
        }
        if v["sensitive"].as_bool() == Some(true) {
            tf.push_str("  sensitive = true\n");
        }
        tf.push_str("}\n\n");
    }
    for o in outputs["outputs"].as_array().expect("outputs") {
        tf.push_str(&format!(
            "output \"{}\" {{\n  value = null\n}}\n\n",
            o["name"].as_str().unwrap()
        ));
    }
    std::fs::create_dir_all(dest).unwrap();
    std::fs::write(dest.join("main.tf"), tf).unwrap();
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reference folder of a registry module: `terraform-aws-modules/<name>/aws` ->
/// `terraform/terraform-aws-<name>/<version>/root`.
fn module_reference(reference: &Path, source: &str, version: &str) -> PathBuf {
    let name = source
        .strip_prefix("terraform-aws-modules/")
        .and_then(|s| s.strip_suffix("/aws"))
        .unwrap_or_else(|| panic!("unexpected module source {source}"));
    let dir = reference.join(format!("terraform/terraform-aws-{name}/{version}/root"));
    assert!(
        dir.is_dir(),
        "no reference data for {source} {version} at {}",
        dir.display()
    );
    dir
}

/// Copies one rendered root module into `dest`, ready for an offline `terraform validate`:
/// - each registry module call points at a stand-in (the `source`/`version` pair replaced);
/// - the `time` and `tls` requirements are removed: the mirror lacks them, and only the real EKS
///   module uses them, which the stand-in replaces (no resource of ours does);
/// - an override file holds aws to the mirrored release.
///
/// Everything else is validated as rendered.
fn prepare(module: &[&Artifact], platform: &Platform, reference: &Path, dest: &Path) {
    let modules = &platform.versions.terraform.modules;
    for a in module {
        let file = a.path.rsplit('/').next().unwrap();
        let mut text = a.contents.clone();
        for m in modules.values() {
            let pair = format!(
                "  source  = \"{}\"\n  version = \"{}\"\n",
                m.source, m.version
            );
            if text.contains(&pair) {
                let local = format!("standins/{}-{}", m.source.replace('/', "_"), m.version);
                write_standin(
                    &module_reference(reference, &m.source, &m.version),
                    &dest.join(&local),
                );
                text = text.replace(&pair, &format!("  source = \"./{local}\"\n"));
            }
            assert!(
                !text.contains(&format!("\"{}\"", m.source)),
                "{}: a call of {} was not replaced by its stand-in",
                a.path,
                m.source
            );
        }
        if file == "versions.tf" {
            for p in UNMIRRORED {
                let prov = &platform.versions.terraform.providers[p];
                let entry = format!(
                    "    {p} = {{\n      source  = \"{}\"\n      version = \"{}\"\n    }}\n",
                    prov.source, prov.version
                );
                text = text.replace(&entry, "");
            }
        }
        std::fs::write(dest.join(file), text).unwrap();
    }
    std::fs::write(
        dest.join("flotilla_validate_override.tf"),
        format!(
            "terraform {{\n  required_providers {{\n    aws = {{\n      source  = \"hashicorp/aws\"\n      version = \"{MIRRORED_AWS}\"\n    }}\n  }}\n}}\n"
        ),
    )
    .unwrap();
}

/// `terraform init` + `validate` in `dir`; `Err` carries Terraform's output.
fn validate(terraform: &Path, plugins: &Path, dir: &Path) -> Result<(), String> {
    let (ok, out) = run(Command::new(terraform)
        .current_dir(dir)
        .args(["init", "-backend=false", "-input=false", "-no-color"])
        .arg(format!("-plugin-dir={}", plugins.display())));
    if !ok {
        return Err(format!("terraform init failed:\n{out}"));
    }
    let (ok, out) = run(Command::new(terraform)
        .current_dir(dir)
        .args(["validate", "-no-color"]));
    if ok { Ok(()) } else { Err(out) }
}

fn by_module(artifacts: &[Artifact]) -> BTreeMap<String, Vec<&Artifact>> {
    let mut map: BTreeMap<String, Vec<&Artifact>> = BTreeMap::new();
    for a in artifacts {
        map.entry(a.path.rsplit_once('/').unwrap().0.to_string())
            .or_default()
            .push(a);
    }
    map
}

struct Harness {
    terraform: PathBuf,
    plugins: PathBuf,
    reference: PathBuf,
}

fn harness() -> Option<Harness> {
    let terraform = terraform()?;
    let plugins = plugin_dir()?;
    let reference = flotilla_testkit::reference_dir()?;
    Some(Harness {
        terraform,
        plugins,
        reference,
    })
}

#[test]
fn terraform_validate_accepts_every_root_module() {
    if !flotilla_testkit::slow("terraform validate and plan against the stand-ins") {
        return;
    }
    let Some(h) = harness() else { return };
    let mut jobs = Vec::new();
    let tmp = tempfile::tempdir().unwrap();
    for (name, platform) in common::fixtures() {
        let artifacts = flotilla_terraform::render(&platform);
        for (dir, files) in by_module(&artifacts) {
            let dest = tmp.path().join(&name).join(&dir);
            std::fs::create_dir_all(&dest).unwrap();
            prepare(&files, &platform, &h.reference, &dest);
            jobs.push((format!("{name}: {dir}"), dest));
        }
    }
    // Two at a time: terraform init dominates and the machine may be busy.
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<_> = jobs.chunks(jobs.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let h = &h;
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(label, dest)| {
                            validate(&h.terraform, &h.plugins, dest)
                                .err()
                                .map(|e| format!("{label}:\n{e}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "terraform validate failed:\n{}",
        failures.join("\n")
    );
}

/// The harness is only worth something if it can fail: a v20 input name given to the v21 EKS
/// module, a `moved` block between addresses of different kinds, and an argument the aws
/// provider does not have, are all rejected.
#[test]
fn terraform_validate_harness_rejects_wrong_names() {
    if !flotilla_testkit::slow("terraform validate and plan against the stand-ins") {
        return;
    }
    let Some(h) = harness() else { return };
    let (_, platform) = common::fixtures().remove(0);
    let artifacts = flotilla_terraform::render(&platform);
    let modules = by_module(&artifacts);
    let cases = [
        (
            "infra/production",
            "module \"eks\" {\n",
            "module \"eks\" {\n  cluster_name = \"renamed-in-v21\"\n",
            "An argument named \"cluster_name\" is not expected here",
        ),
        (
            "infra/production",
            "module \"eks\" {\n",
            "moved {\n  from = module.eks.module.eks_managed_node_group[\"a\"]\n  to   = aws_route.to_controlplane\n}\n\nmodule \"eks\" {\n",
            "Invalid \"moved\" addresses",
        ),
        (
            "infra/production/link",
            "resource \"aws_route53_zone_association\" \"internal\" {\n",
            "resource \"aws_route53_zone_association\" \"internal\" {\n  zone_name = \"x\"\n",
            "An argument named \"zone_name\" is not expected here",
        ),
    ];
    for (module, anchor, replacement, expected) in cases {
        let files = &modules[module];
        let tmp = tempfile::tempdir().unwrap();
        prepare(files, &platform, &h.reference, tmp.path());
        let main = tmp.path().join("main.tf");
        let text = std::fs::read_to_string(&main).unwrap();
        assert!(text.contains(anchor), "anchor {anchor:?} not in main.tf");
        std::fs::write(&main, text.replacen(anchor, replacement, 1)).unwrap();
        match validate(&h.terraform, &h.plugins, tmp.path()) {
            Ok(()) => panic!("terraform validate accepted a wrong name ({replacement:?})"),
            Err(out) => assert!(out.contains(expected), "unexpected failure:\n{out}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Moved blocks against Terraform's planner.
// ---------------------------------------------------------------------------------------------

/// `terraform validate` does not look at what a `moved` block points to, and the validate
/// harness's stand-ins are local paths (one module package with the root). So this test plans a
/// node pool rename for real: the EKS module is a stand-in in a **git** package (another module
/// package, as the registry module is, where Terraform < 1.3 refused moves) that declares its
/// node groups as EKS v21 does, `module "eks_managed_node_group"` with `for_each` over
/// `var.eks_managed_node_groups` (each a `terraform_data` standing for the node group, so no
/// provider is needed). The state is applied with the old pool names; then the rendered
/// `moved.tf` of the renames fixture is added, the pools take their new names, and the plan must
/// move every object: nothing added, nothing destroyed.
#[test]
fn terraform_plans_a_node_pool_rename_as_a_move() {
    if !flotilla_testkit::slow("terraform validate and plan against the stand-ins") {
        return;
    }
    let Some(terraform) = terraform() else { return };
    let Some(_) = flotilla_testkit::tool(
        "git",
        None,
        "install git (the stand-in EKS module is a git package)",
    ) else {
        return;
    };
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let platform = &common::load(&common::fixtures_dir().join("renames.toml"));
    let cluster = platform.cluster("development").expect("renames fixture");
    assert!(cluster.node_pools.iter().any(|p| p.renamed_from.is_some()));
    let artifacts = flotilla_terraform::render(platform);
    let moved = artifacts
        .iter()
        .find(|a| a.path == "infra/development/moved.tf")
        .expect("a moved.tf for the renamed pool");

    let tmp = tempfile::tempdir().unwrap();
    let m = platform.versions.module("eks");
    let eks_ref = module_reference(&reference, &m.source, &m.version);
    let pkg = tmp.path().join("eks-package");
    write_standin(&eks_ref, &pkg);
    let ng = pkg.join("modules/eks-managed-node-group");
    write_standin(
        &eks_ref.parent().unwrap().join("eks-managed-node-group"),
        &ng,
    );
    let append = |path: &Path, text: &str| {
        let mut all = std::fs::read_to_string(path).unwrap();
        all.push_str(text);
        std::fs::write(path, all).unwrap();
    };
    append(
        &pkg.join("main.tf"),
        "module \"eks_managed_node_group\" {\n  source   = \"./modules/eks-managed-node-group\"\n  for_each = var.eks_managed_node_groups\n\n  name = coalesce(each.value.name, each.key)\n}\n",
    );
    append(
        &ng.join("main.tf"),
        "resource \"terraform_data\" \"this\" {\n  count = 1\n  input = var.name\n}\n",
    );
    git(&pkg, &["init", "-q"]);
    git(&pkg, &["add", "."]);
    git(&pkg, &["commit", "-q", "-m", "stand-in"]);

    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let main_tf = |names: Vec<&str>| {
        let groups: String = names
            .iter()
            .map(|n| format!("    {n} = {{ name = \"{n}\" }}\n"))
            .collect();
        format!(
            "module \"eks\" {{\n  source = \"git::file://{}\"\n\n  eks_managed_node_groups = {{\n{groups}  }}\n}}\n",
            pkg.display()
        )
    };
    let old: Vec<&str> = cluster
        .node_pools
        .iter()
        .map(|p| p.renamed_from.as_deref().unwrap_or(&p.name))
        .collect();
    let new: Vec<&str> = cluster.node_pools.iter().map(|p| p.name.as_str()).collect();
    std::fs::write(root.join("main.tf"), main_tf(old)).unwrap();
    let tf = |args: &[&str]| {
        let (ok, out) = run(Command::new(&terraform).current_dir(&root).args(args));
        assert!(ok, "terraform {args:?}:\n{out}");
        out
    };
    tf(&["init", "-input=false", "-no-color"]);
    tf(&["apply", "-auto-approve", "-input=false", "-no-color"]);

    std::fs::write(root.join("main.tf"), main_tf(new)).unwrap();
    std::fs::write(root.join("moved.tf"), &moved.contents).unwrap();
    let plan = tf(&["plan", "-input=false", "-no-color"]);
    for pool in &cluster.node_pools {
        if let Some(from) = &pool.renamed_from {
            let line = format!(
                "# (moved from module.eks.module.eks_managed_node_group[\"{from}\"].terraform_data.this[0])"
            );
            assert!(plan.contains(&line), "{} not moved:\n{plan}", pool.name);
        }
    }
    assert!(
        plan.contains("Plan: 0 to add, ") && plan.contains(" 0 to destroy."),
        "the rename must be a move, not a replacement:\n{plan}"
    );
}

// ---------------------------------------------------------------------------------------------
// Direct resources against the provider schemas of the reference data.
// ---------------------------------------------------------------------------------------------

/// Meta-arguments and blocks Terraform itself handles.
const META_ARGUMENTS: [&str; 5] = ["count", "for_each", "provider", "depends_on", "lifecycle"];

struct Schemas {
    version: &'static str,
    resources: Value,
    data_sources: Value,
}

fn schemas(reference: &Path, version: &'static str) -> Schemas {
    let dir = reference.join(format!("terraform/aws-provider/{version}"));
    Schemas {
        version,
        resources: read_json(&dir.join("resources.json")),
        data_sources: read_json(&dir.join("data-sources.json")),
    }
}

/// Every problem of one body against one schema block (`arguments`/`blocks`).
fn check_body(body: &hcl::Body, schema: &Value, at: &str, problems: &mut Vec<String>) {
    for attr in body.attributes() {
        let key = attr.key();
        if META_ARGUMENTS.contains(&key) {
            continue;
        }
        match schema["arguments"].get(key) {
            None => problems.push(format!("{at}: no argument `{key}`")),
            Some(arg) if arg["deprecated"].as_bool() == Some(true) => {
                problems.push(format!("{at}: argument `{key}` is deprecated"))
            }
            Some(_) => {}
        }
    }
    for block in body.blocks() {
        let ident = block.identifier();
        if META_ARGUMENTS.contains(&ident) {
            continue;
        }
        match schema["blocks"].get(ident) {
            None => problems.push(format!("{at}: no block `{ident}`")),
            Some(inner) => check_body(block.body(), inner, &format!("{at}.{ident}"), problems),
        }
    }
}

/// Checks the direct resources and data sources of rendered files against one schema.
fn check_against(artifacts: &[Artifact], schemas: &Schemas) -> Vec<String> {
    let mut problems = Vec::new();
    for a in artifacts {
        let body: hcl::Body = hcl::from_str(&a.contents)
            .unwrap_or_else(|e| panic!("{} is not valid HCL: {e}", a.path));
        for block in body.blocks() {
            let (table, what) = match block.identifier() {
                "resource" => (&schemas.resources, "resource"),
                "data" => (&schemas.data_sources, "data source"),
                _ => continue,
            };
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            let kind = labels[0];
            if what == "data source" && kind == "terraform_remote_state" {
                continue; // built into Terraform, validated by `terraform validate`
            }
            let at = format!("{}: {kind}.{} (aws {})", a.path, labels[1], schemas.version);
            match table.get(kind) {
                None => problems.push(format!("{at}: no {what} `{kind}`")),
                Some(schema) => check_body(block.body(), schema, &at, &mut problems),
            }
        }
    }
    problems
}

#[test]
fn direct_resources_use_arguments_of_both_provider_majors() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let reference_version = |p: &Platform| {
        p.versions.terraform.providers["aws"]
            .reference
            .clone()
            .expect("versions.toml names the aws release whose schema is in the reference data")
    };
    let fixtures = common::fixtures();
    assert_eq!(reference_version(&fixtures[0].1), "6.47.0");
    let all = [
        schemas(&reference, MIRRORED_AWS),
        schemas(&reference, "6.47.0"),
    ];
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, platform) in &fixtures {
        let artifacts = flotilla_terraform::render(platform);
        for s in &all {
            problems.extend(
                check_against(&artifacts, s)
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            );
        }
        checked += artifacts.len();
    }
    assert!(checked > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The schema check above can fail: an argument that aws 6 removed, and a misspelt block.
#[test]
fn schema_check_rejects_removed_and_unknown_arguments() {
    let Some(reference) = flotilla_testkit::reference_dir() else {
        return;
    };
    let six = schemas(&reference, "6.47.0");
    let bad = Artifact::new(
        "infra/x/main.tf",
        "resource \"aws_eks_addon\" \"x\" {\n  cluster_name      = \"c\"\n  addon_name        = \"coredns\"\n  resolve_conflicts = \"OVERWRITE\"\n\n  timeout {\n    create = \"1m\"\n  }\n}\n",
    );
    let problems = check_against(&[bad], &six);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].contains("no argument `resolve_conflicts`"),
        "{problems:?}"
    );
    assert!(problems[1].contains("no block `timeout`"), "{problems:?}");
}
