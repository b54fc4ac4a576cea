//! Provider schemas of the reference data (`terraform/<name>-provider/<version>/*.json`) made
//! from `terraform providers schema -json`: per resource, data source and ephemeral resource
//! type its settable `arguments`, computed-only `attributes` and nested `blocks`, each
//! attribute's type written as an HCL type constraint (terraform/INDEX.md of the reference data
//! describes the format). The output is byte for byte what reference.lock pins: JSON with a
//! one-space indent, keys in the order below, names sorted, non-ASCII as is, a final newline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize, PartialEq)]
struct Attribute {
    required: bool,
    optional: bool,
    computed: bool,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    type_: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sensitive: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deprecated: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    write_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nested: Option<Nested>,
}

/// A plugin-framework nested attribute (`name = { ... }`, not a block).
#[derive(Debug, Serialize, PartialEq)]
struct Nested {
    nesting_mode: String,
    attributes: BTreeMap<String, Attribute>,
}

#[derive(Debug, Serialize, PartialEq)]
struct Block {
    arguments: BTreeMap<String, Attribute>,
    attributes: BTreeMap<String, Attribute>,
    blocks: BTreeMap<String, NestedBlock>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
struct NestedBlock {
    nesting_mode: String,
    min_items: u64,
    max_items: u64,
    required: bool,
    #[serde(flatten)]
    block: Block,
}

#[derive(Debug, Serialize, PartialEq)]
struct TypeSchema {
    #[serde(flatten)]
    block: Block,
    schema_version: u64,
}

/// A cty type (as `providers schema -json` writes it) as an HCL type constraint.
fn type_text(t: &Value) -> Result<String, String> {
    Ok(match t {
        Value::String(s) if s == "dynamic" => "any".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => match (a.first().and_then(Value::as_str), a.get(1)) {
            (Some(k @ ("list" | "set" | "map")), Some(inner)) => {
                format!("{k}({})", type_text(inner)?)
            }
            (Some("object"), Some(Value::Object(attrs))) => {
                let optional: Vec<&str> = a
                    .get(2)
                    .and_then(Value::as_array)
                    .map(|o| o.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut names: Vec<&String> = attrs.keys().collect();
                names.sort();
                let parts: Result<Vec<String>, String> = names
                    .into_iter()
                    .map(|n| {
                        let inner = type_text(&attrs[n])?;
                        Ok(if optional.contains(&n.as_str()) {
                            format!("{n} = optional({inner})")
                        } else {
                            format!("{n} = {inner}")
                        })
                    })
                    .collect();
                format!("object({{{}}})", parts?.join(", "))
            }
            (Some("tuple"), Some(Value::Array(items))) => {
                let parts: Result<Vec<String>, String> = items.iter().map(type_text).collect();
                format!("tuple([{}])", parts?.join(", "))
            }
            _ => return Err(format!("unknown cty type {t}")),
        },
        other => return Err(format!("unknown cty type {other}")),
    })
}

fn flag(v: &Value, key: &str) -> bool {
    v[key].as_bool().unwrap_or(false)
}

fn description(v: &Value) -> Option<String> {
    v["description"]
        .as_str()
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

fn attribute(a: &Value) -> Result<Attribute, String> {
    let nested = match a.get("nested_type") {
        Some(nt) => Some(Nested {
            nesting_mode: nt["nesting_mode"].as_str().unwrap_or_default().to_string(),
            attributes: attributes(&nt["attributes"])?,
        }),
        None => None,
    };
    Ok(Attribute {
        required: flag(a, "required"),
        optional: flag(a, "optional"),
        computed: flag(a, "computed"),
        type_: a.get("type").map(type_text).transpose()?,
        sensitive: flag(a, "sensitive"),
        deprecated: flag(a, "deprecated"),
        write_only: flag(a, "write_only"),
        description: description(a),
        nested,
    })
}

fn attributes(v: &Value) -> Result<BTreeMap<String, Attribute>, String> {
    let mut out = BTreeMap::new();
    for (n, a) in v.as_object().into_iter().flatten() {
        out.insert(n.clone(), attribute(a)?);
    }
    Ok(out)
}

fn block(b: &Value) -> Result<Block, String> {
    let mut arguments = BTreeMap::new();
    let mut computed = BTreeMap::new();
    for (n, a) in b["attributes"].as_object().into_iter().flatten() {
        let settable = flag(a, "required") || flag(a, "optional");
        let into = if settable {
            &mut arguments
        } else {
            &mut computed
        };
        into.insert(n.clone(), attribute(a)?);
    }
    let mut blocks = BTreeMap::new();
    for (n, bt) in b["block_types"].as_object().into_iter().flatten() {
        let min_items = bt["min_items"].as_u64().unwrap_or(0);
        blocks.insert(
            n.clone(),
            NestedBlock {
                nesting_mode: bt["nesting_mode"].as_str().unwrap_or_default().to_string(),
                min_items,
                max_items: bt["max_items"].as_u64().unwrap_or(0),
                required: min_items > 0,
                block: block(&bt["block"])?,
            },
        );
    }
    Ok(Block {
        arguments,
        attributes: computed,
        blocks,
        deprecated: flag(b, "deprecated"),
        description: description(b),
    })
}

/// One-space-indented JSON with a final newline, as the reference data's files are written.
pub(crate) fn pretty<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut ser).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

/// One file of a provider's reference data from its `providers schema -json` output:
/// `part` is `resources`, `data-sources`, `ephemeral-resources` or `provider`; the types in
/// `omit` are left out.
pub fn convert(
    dump: &Value,
    provider: &str,
    part: &str,
    omit: &[String],
) -> Result<Vec<u8>, String> {
    let schemas = dump["provider_schemas"]
        .as_object()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.ends_with(&format!("/{provider}")))
                .map(|(_, v)| v)
        })
        .ok_or_else(|| format!("the schema output has no provider {provider}"))?;
    let key = match part {
        "provider" => return pretty(&block(&schemas["provider"]["block"])?),
        "resources" => "resource_schemas",
        "data-sources" => "data_source_schemas",
        "ephemeral-resources" => "ephemeral_resource_schemas",
        other => return Err(format!("unknown provider schema part {other}")),
    };
    let mut out: BTreeMap<&String, TypeSchema> = BTreeMap::new();
    for (name, s) in schemas[key].as_object().into_iter().flatten() {
        if omit.contains(name) {
            continue;
        }
        out.insert(
            name,
            TypeSchema {
                block: block(&s["block"]).map_err(|e| format!("{name}: {e}"))?,
                schema_version: s["version"].as_u64().unwrap_or(0),
            },
        );
    }
    pretty(&out)
}

/// `terraform providers schema -json` for one provider release, from a scratch directory:
/// `terraform init` installs it from the registry, or from the filesystem mirror
/// `FLOTILLA_TF_PLUGIN_DIR` when set. `FLOTILLA_TERRAFORM` names the program (default: PATH).
pub fn dump(provider: &str, version: &str) -> Result<Value, String> {
    let program: PathBuf = std::env::var_os("FLOTILLA_TERRAFORM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("terraform"));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (namespace, name) = provider
        .split_once('/')
        .ok_or_else(|| format!("a provider is namespace/name, not {provider}"))?;
    std::fs::write(
        dir.path().join("main.tf"),
        format!(
            "terraform {{\n  required_providers {{\n    {name} = {{\n      source  = \"{namespace}/{name}\"\n      version = \"{version}\"\n    }}\n  }}\n}}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let config = dir.path().join("cli.tfrc");
    let mirror = std::env::var_os("FLOTILLA_TF_PLUGIN_DIR").map(PathBuf::from);
    let installation = match &mirror {
        Some(m) => format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = {}\n  }}\n}}\n",
            Value::String(m.display().to_string())
        ),
        None => String::new(),
    };
    std::fs::write(&config, installation).map_err(|e| e.to_string())?;
    let run = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = Command::new(&program)
            .args(args)
            .current_dir(dir.path())
            .env("TF_CLI_CONFIG_FILE", &config)
            .env("TF_IN_AUTOMATION", "1")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .output()
            .map_err(|e| {
                format!(
                    "{}: {e} (set FLOTILLA_TERRAFORM, or put terraform on PATH)",
                    program.display()
                )
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(6).collect();
            return Err(format!(
                "terraform {} for {provider} {version}{}: {}",
                args.join(" "),
                mirror
                    .as_deref()
                    .map(|m: &Path| format!(" (mirror {})", m.display()))
                    .unwrap_or_default(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ));
        }
        Ok(out.stdout)
    };
    run(&["init", "-input=false", "-backend=false", "-no-color"])?;
    let out = run(&["providers", "schema", "-json"])?;
    serde_json::from_slice(&out).map_err(|e| format!("terraform providers schema -json: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small schema with each shape the conversion knows, and the exact bytes expected.
    #[test]
    fn a_schema_converts_to_the_pinned_format_byte_for_byte() {
        let dump = serde_json::json!({
            "format_version": "1.0",
            "provider_schemas": {"registry.terraform.io/hashicorp/aws": {
                "provider": {"version": 0, "block": {"attributes": {
                    "region": {"type": "string", "optional": true, "description": "Région"}
                }}},
                "resource_schemas": {
                    "aws_b": {"version": 2, "block": {
                        "attributes": {
                            "id": {"type": "string", "optional": true, "computed": true},
                            "arn": {"type": "string", "computed": true},
                            "cfg": {"type": ["object", {"z": "number", "a": ["list", "string"]}, ["z"]], "required": true, "sensitive": true},
                            "any": {"type": "dynamic", "optional": true, "deprecated": true},
                            "n": {"nested_type": {"nesting_mode": "single", "attributes": {"x": {"type": "bool", "optional": true}}}, "optional": true}
                        },
                        "block_types": {"rule": {"nesting_mode": "list", "min_items": 1, "max_items": 2, "block": {
                            "attributes": {"t": {"type": ["tuple", ["string", "number"]], "required": true}},
                            "deprecated": true
                        }}}
                    }},
                    "aws_a": {"version": 0, "block": {}},
                    "aws_huge": {"version": 0, "block": {}}
                }
            }}
        });
        let got = convert(
            &dump,
            "hashicorp/aws",
            "resources",
            &["aws_huge".to_string()],
        )
        .unwrap();
        let want = r#"{
 "aws_a": {
  "arguments": {},
  "attributes": {},
  "blocks": {},
  "schema_version": 0
 },
 "aws_b": {
  "arguments": {
   "any": {
    "required": false,
    "optional": true,
    "computed": false,
    "type": "any",
    "deprecated": true
   },
   "cfg": {
    "required": true,
    "optional": false,
    "computed": false,
    "type": "object({a = list(string), z = optional(number)})",
    "sensitive": true
   },
   "id": {
    "required": false,
    "optional": true,
    "computed": true,
    "type": "string"
   },
   "n": {
    "required": false,
    "optional": true,
    "computed": false,
    "nested": {
     "nesting_mode": "single",
     "attributes": {
      "x": {
       "required": false,
       "optional": true,
       "computed": false,
       "type": "bool"
      }
     }
    }
   }
  },
  "attributes": {
   "arn": {
    "required": false,
    "optional": false,
    "computed": true,
    "type": "string"
   }
  },
  "blocks": {
   "rule": {
    "nesting_mode": "list",
    "min_items": 1,
    "max_items": 2,
    "required": true,
    "arguments": {
     "t": {
      "required": true,
      "optional": false,
      "computed": false,
      "type": "tuple([string, number])"
     }
    },
    "attributes": {},
    "blocks": {},
    "deprecated": true
   }
  },
  "schema_version": 2
 }
}
"#;
        assert_eq!(String::from_utf8(got).unwrap(), want);
        let provider = convert(&dump, "hashicorp/aws", "provider", &[]).unwrap();
        assert!(
            String::from_utf8(provider)
                .unwrap()
                .contains("\"description\": \"Région\"")
        );
        assert!(convert(&dump, "hashicorp/helm", "resources", &[]).is_err());
        assert!(convert(&dump, "hashicorp/aws", "functions", &[]).is_err());
    }
}
