//! `cargo xtask reference sync`: the pinned upstream reference data (chart values and schemas,
//! CRDs, Kubernetes JSON schemas, Terraform module interfaces, provider schemas) for the
//! versions in versions.toml, downloaded into the reference cache and each file checked against
//! its SHA-256 in `reference.lock`.
//!
//! Where a file comes from is written in its lock entry: `url` (the file at an upstream git tag,
//! byte for byte), `wheel` + `member` (inside a PyPI wheel, itself checked), `slice_of` (a
//! document of another entry), `provider_schema` (made from `terraform providers schema -json`,
//! [`crate::provider_schema`]), or `module_archive` (a Terraform module interface extracted from
//! the module's source archive at its tag, [`crate::module_interface`]). `--from URL|DIR` takes every
//! file from a mirror laid out like the cache instead. Nothing is written unless its digest
//! matches, and a file is written whole (a temporary file renamed) or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flotilla_model::Versions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::platform::{Context, Error};

/// The lock file, at the repository root.
pub const LOCK_FILE: &str = "reference.lock";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Download the reference data of the pinned versions into the cache and verify every file.
    ///
    /// Example: `cargo xtask reference sync` (from upstream), `cargo xtask reference sync --from
    /// https://mirror.example.org/flotilla-reference/` or `--from ../shared/reference`.
    Sync(SyncArgs),
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// A mirror laid out like the cache (`<from>/charts/grafana/12.11.1/values.yaml`): an
    /// `http(s)://` address or a directory. Every file is taken from there.
    #[arg(long, value_name = "URL|DIR")]
    pub from: Option<String>,
    /// Refuse to record new digests: every pinned file must already be in reference.lock (CI).
    #[arg(long)]
    pub locked: bool,
    /// The cache to fill (default: FLOTILLA_REFERENCE, else `reference` in the state directory:
    /// FLOTILLA_STATE_DIR, else .flotilla of the checkout).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub lock_version: u32,
    #[serde(default)]
    pub file: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    /// Empty for an entry derived from another version's and not downloaded yet.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Lines of the file at `url` replaced before the digest is checked, as a release does to
    /// a placeholder (`[line prefix, whole new line]`, the first line with that prefix each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch: Vec<(String, String)>,
    /// The document of a multi-document YAML file (another entry's `path`) whose
    /// `metadata.name` is `document`, as it stands there, with a final newline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// A provider schema file made from `terraform providers schema -json` of the provider and
    /// version its path names (`terraform/aws-provider/5.100.0/resources.json`): which part
    /// (`resources`, `data-sources`, `ephemeral-resources`, `provider`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_schema: Option<String>,
    /// Types a `provider_schema` file leaves out (kept elsewhere, or too large).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub omit: Vec<String>,
    /// A Terraform module interface (`terraform/<repo>/<version>/<submodule>/variables.json`,
    /// `outputs.json`, `versions.json`) extracted from the `.tf` files of the module's source
    /// archive at its tag (`https://codeload.github.com/<owner>/<repo>/tar.gz/refs/tags/<tag>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_archive: Option<String>,
}

/// The provider (`hashicorp/aws`) and version of a provider schema path
/// (`terraform/aws-provider/5.100.0/resources.json`).
pub fn provider_of(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["terraform", dir, version, _] => {
            let name = dir.strip_suffix("-provider")?;
            Some((format!("hashicorp/{name}"), version.to_string()))
        }
        _ => None,
    }
}

/// The dataset a path belongs to and its version: `charts/grafana/12.11.1/values.yaml` ->
/// (`charts/grafana`, `12.11.1`). `None` for data that follows no pin of versions.toml (the
/// Kubernetes schemas come with the kubernetes-validate wheel their entries name).
pub fn dataset_of(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["charts" | "crds" | "terraform", name, version, _, ..] => {
            Some((format!("{}/{name}", parts[0]), version.to_string()))
        }
        _ => None,
    }
}

/// Reference data pinned besides versions.toml, with the reason: the previous aws provider
/// major, whose schema crates/terraform/tests/terraform.rs also checks every resource against
/// (the release this machine mirrors for offline `terraform validate`).
pub const EXTRA_PINS: &[(&str, &str)] = &[("terraform/aws-provider", "5.100.0")];

/// Every dataset versions.toml pins reference data for: each chart, CRD bundle and module, and
/// each provider with a `reference` release; then [`EXTRA_PINS`].
pub fn pinned_datasets(versions: &Versions) -> BTreeSet<(String, String)> {
    let mut out: BTreeSet<(String, String)> = EXTRA_PINS
        .iter()
        .map(|(d, v)| (d.to_string(), v.to_string()))
        .collect();
    for (name, c) in &versions.charts {
        out.insert((format!("charts/{name}"), c.version.clone()));
    }
    for (name, c) in &versions.crds {
        out.insert((format!("crds/{name}"), c.version.clone()));
    }
    for m in versions.terraform.modules.values() {
        if let Some(name) = m
            .source
            .strip_prefix("terraform-aws-modules/")
            .and_then(|s| s.strip_suffix("/aws"))
        {
            out.insert((format!("terraform/terraform-aws-{name}"), m.version.clone()));
        }
    }
    for (name, p) in &versions.terraform.providers {
        if let Some(r) = &p.reference {
            out.insert((format!("terraform/{name}-provider"), r.clone()));
        }
    }
    out
}

/// What the lock asks for at the pinned versions: the entries to sync, the entries made for a
/// newly pinned version from an earlier version's (to be recorded), and the datasets with no
/// entries at all.
#[derive(Debug, Default)]
pub struct Wanted {
    pub entries: Vec<Entry>,
    pub new: Vec<(String, String, String)>,
    pub unknown: Vec<(String, String)>,
    /// Files of a new pin that cannot be made from the earlier version's entries (the address
    /// does not name the version, or a release patch applies): written into the lock by hand.
    pub manual: Vec<String>,
}

pub fn wanted(lock: &Lock, versions: &Versions) -> Wanted {
    let mut w = Wanted::default();
    let pinned = pinned_datasets(versions);
    let mut by_dataset: BTreeMap<String, BTreeMap<String, Vec<&Entry>>> = BTreeMap::new();
    for e in &lock.file {
        match dataset_of(&e.path) {
            Some((d, v)) => by_dataset
                .entry(d)
                .or_default()
                .entry(v)
                .or_default()
                .push(e),
            None => w.entries.push(e.clone()),
        }
    }
    for (dataset, version) in &pinned {
        let versions_of = by_dataset.get(dataset);
        if let Some(entries) = versions_of.and_then(|v| v.get(version)) {
            w.entries.extend(entries.iter().map(|e| (*e).clone()));
            continue;
        }
        // A new pin: the files of the newest locked version that is not pinned itself, with
        // the version replaced.
        let earlier = versions_of.and_then(|v| {
            v.iter()
                .rev()
                .find(|(old, _)| !pinned.contains(&(dataset.clone(), (*old).clone())))
        });
        match earlier {
            Some((old, entries)) => {
                for e in entries {
                    let swap = |s: &str| s.replace(old.as_str(), version);
                    let derivable = e.wheel.is_some()
                        || e.provider_schema.is_some()
                        || e.module_archive
                            .as_deref()
                            .is_some_and(|u| u.contains(old.as_str()))
                        || e.slice_of
                            .as_deref()
                            .is_some_and(|o| o.contains(old.as_str()))
                        || (e.patch.is_empty()
                            && e.url.as_deref().is_some_and(|u| u.contains(old.as_str())));
                    if !derivable {
                        w.manual.push(swap(&e.path));
                        continue;
                    }
                    w.entries.push(Entry {
                        path: swap(&e.path),
                        sha256: String::new(),
                        url: e.url.as_deref().map(swap),
                        wheel: e.wheel.clone(),
                        wheel_sha256: e.wheel_sha256.clone(),
                        member: e.member.clone(),
                        patch: e.patch.clone(),
                        slice_of: e.slice_of.as_deref().map(swap),
                        document: e.document.clone(),
                        provider_schema: e.provider_schema.clone(),
                        omit: e.omit.clone(),
                        module_archive: e.module_archive.as_deref().map(swap),
                    });
                }
                w.new.push((dataset.clone(), old.clone(), version.clone()));
            }
            None => w.unknown.push((dataset.clone(), version.clone())),
        }
    }
    w.entries.sort_by(|a, b| a.path.cmp(&b.path));
    w
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

type Wheel = zip::ZipArchive<std::io::Cursor<Vec<u8>>>;

/// Where files are fetched from.
struct Fetcher {
    agent: ureq::Agent,
    from: Option<String>,
    /// `FLOTILLA_PYPI_URL` (tests), else https://pypi.org.
    pypi: String,
    wheels: BTreeMap<String, Result<Wheel, String>>,
    /// Module source archives by address, downloaded once per sync.
    archives: BTreeMap<String, Result<crate::module_interface::Archive, String>>,
    /// `terraform providers schema -json` per provider and version, run once per sync.
    schemas: BTreeMap<(String, String), Result<serde_json::Value, String>>,
    /// Hosts that could not be reached, with the first error: every later file from there fails
    /// at once with it (a run without network ends in seconds, not a timeout per file).
    unreachable: std::cell::RefCell<BTreeMap<String, String>>,
}

/// An agent that trusts the system's roots.
fn agent() -> ureq::Agent {
    let found = rustls_native_certs::load_native_certs();
    let certs: Vec<ureq::tls::Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let roots = if certs.is_empty() {
        ureq::tls::RootCerts::WebPki
    } else {
        ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs))
    };
    ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(300)))
        .timeout_connect(Some(std::time::Duration::from_secs(15)))
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build()
        .into()
}

fn host_of(url: &str) -> &str {
    url.split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or(url)
}

impl Fetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return std::fs::read(url).map_err(|e| format!("{url}: {e}"));
        }
        let host = host_of(url).to_string();
        if let Some(first) = self.unreachable.borrow().get(&host) {
            return Err(format!("{url}: {host} unreachable ({first})"));
        }
        let mut response = self.agent.get(url).call().map_err(|e| match e {
            ureq::Error::StatusCode(code) => format!("{url}: HTTP {code}"),
            other => {
                self.unreachable
                    .borrow_mut()
                    .insert(host.clone(), other.to_string());
                format!("{url}: {other}")
            }
        })?;
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(bytes)
    }

    /// The bytes of one entry and where they came from (`all`: every entry synced, for a slice
    /// of another; `cache`: where that other may be already).
    fn fetch(
        &mut self,
        e: &Entry,
        all: &[Entry],
        cache: &Path,
    ) -> Result<(Vec<u8>, String), String> {
        if let Some(from) = &self.from {
            let at = if from.starts_with("http://") || from.starts_with("https://") {
                format!("{}/{}", from.trim_end_matches('/'), e.path)
            } else {
                Path::new(from).join(&e.path).display().to_string()
            };
            return self.get(&at).map(|b| (b, at));
        }
        if let Some(url) = &e.url {
            let mut bytes = self.get(url)?;
            if !e.patch.is_empty() {
                bytes = patched(&bytes, &e.patch).map_err(|why| format!("{url}: {why}"))?;
            }
            return Ok((bytes, url.clone()));
        }
        if let (Some(of), Some(name)) = (&e.slice_of, &e.document) {
            let source = all
                .iter()
                .find(|s| &s.path == of)
                .ok_or_else(|| format!("slice of {of}, which reference.lock does not list"))?;
            let bytes = match std::fs::read(cache.join(of)) {
                Ok(b) if sha256_hex(&b) == source.sha256 => b,
                _ => self.fetch(source, all, cache)?.0,
            };
            return slice(&bytes, name)
                .map(|b| (b, format!("{of} (the document {name})")))
                .ok_or_else(|| format!("{of} has no document named {name}"));
        }
        if let (Some(wheel), Some(member)) = (&e.wheel, &e.member) {
            let archive = self.wheel(wheel, e.wheel_sha256.as_deref())?;
            let mut file = archive
                .by_name(member)
                .map_err(|err| format!("{wheel}: no {member}: {err}"))?;
            let mut out = Vec::new();
            file.read_to_end(&mut out)
                .map_err(|err| format!("{wheel}: {member}: {err}"))?;
            return Ok((out, format!("{wheel} {member}")));
        }
        if let Some(part) = &e.provider_schema {
            let (provider, version) = provider_of(&e.path)
                .ok_or_else(|| format!("{}: not a provider schema path", e.path))?;
            let key = (provider.clone(), version.clone());
            let dump = self
                .schemas
                .entry(key)
                .or_insert_with(|| crate::provider_schema::dump(&provider, &version));
            let dump = dump.as_ref().map_err(Clone::clone)?;
            let bytes = crate::provider_schema::convert(dump, &provider, part, &e.omit)?;
            return Ok((
                bytes,
                format!("terraform providers schema -json of {provider} {version} ({part})"),
            ));
        }
        if let Some(url) = &e.module_archive {
            if !self.archives.contains_key(url) {
                let got = self
                    .get(url)
                    .and_then(|b| crate::module_interface::read_archive(&b))
                    .map_err(|why| {
                        if why.starts_with(url.as_str()) {
                            why
                        } else {
                            format!("{url}: {why}")
                        }
                    });
                self.archives.insert(url.clone(), got);
            }
            let archive = self.archives[url].as_ref().map_err(Clone::clone)?;
            let bytes = crate::module_interface::file(archive, url, &e.path)?;
            return Ok((bytes, format!("{url} (the module's .tf files, extracted)")));
        }
        Err(format!("{}: reference.lock names no source for it", e.path))
    }

    /// A wheel `pypi:<name>==<version>`, found through PyPI's simple index (the JSON form of
    /// PEP 691, as pip reads it) by its locked digest, checked, downloaded once per run.
    fn wheel(&mut self, spec: &str, sha: Option<&str>) -> Result<&mut Wheel, String> {
        if !self.wheels.contains_key(spec) {
            let got = self.download_wheel(spec, sha).and_then(|bytes| {
                zip::ZipArchive::new(std::io::Cursor::new(bytes))
                    .map_err(|err| format!("{spec}: not a wheel: {err}"))
            });
            self.wheels.insert(spec.to_string(), got);
        }
        match self.wheels.get_mut(spec) {
            Some(Ok(w)) => Ok(w),
            Some(Err(e)) => Err(e.clone()),
            None => Err(format!("{spec}: not downloaded")),
        }
    }

    fn download_wheel(&self, spec: &str, sha: Option<&str>) -> Result<Vec<u8>, String> {
        let (name, version) = spec
            .strip_prefix("pypi:")
            .and_then(|s| s.split_once("=="))
            .ok_or_else(|| format!("{spec}: a wheel is `pypi:<name>==<version>`"))?;
        let index = format!("{}/simple/{name}/", self.pypi);
        let mut response = self
            .agent
            .get(&index)
            .header("Accept", "application/vnd.pypi.simple.v1+json")
            .call()
            .map_err(|e| format!("{index}: {e}"))?;
        let meta: serde_json::Value = response
            .body_mut()
            .read_json()
            .map_err(|e| format!("{index}: not PyPI's simple index in JSON: {e}"))?;
        let wheel_prefix = format!("{}-{version}-", name.replace('-', "_"));
        let url = meta["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| {
                f["filename"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&wheel_prefix) && n.ends_with(".whl"))
            })
            .find(|f| sha.is_none_or(|s| f["hashes"]["sha256"] == s))
            .and_then(|f| f["url"].as_str())
            .ok_or_else(|| format!("{index}: no wheel of {name} {version} with the locked digest"))?
            .to_string();
        let bytes = self.get(&url)?;
        if let Some(want) = sha {
            let got = sha256_hex(&bytes);
            if got != want {
                return Err(format!(
                    "{url}: the wheel's SHA-256 is {got}, reference.lock has {want}"
                ));
            }
        }
        Ok(bytes)
    }
}

/// `bytes` with each `(prefix, line)` applied: the first line starting with `prefix` becomes
/// `line`.
pub fn patched(bytes: &[u8], patch: &[(String, String)]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| "not UTF-8 text".to_string())?;
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for (prefix, line) in patch {
        let at = lines
            .iter()
            .position(|l| l.starts_with(prefix.as_str()))
            .ok_or_else(|| format!("patch: no line starts with {prefix:?}"))?;
        lines[at] = line.clone();
    }
    Ok(lines.join("\n").into_bytes())
}

/// The document of a multi-document YAML file whose `metadata.name` is `name`, with a final
/// newline.
pub fn slice(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let needle = format!("\n  name: {name}\n");
    text.split("\n---\n")
        .find(|d| d.contains(&needle))
        .map(|d| format!("{}\n", d.trim_end_matches('\n')).into_bytes())
}

/// The cache directory: `--cache`, else FLOTILLA_REFERENCE, else `.flotilla/reference`.
pub fn cache_dir(ctx: &Context, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FLOTILLA_REFERENCE").map(PathBuf::from))
        .unwrap_or_else(|| flotilla_testkit::reference_cache(&ctx.root))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("flotilla-tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The lock as written: the header comment of the file it was read from, then the entries.
pub fn render_lock(header: &str, lock: &Lock) -> String {
    let mut out = String::from(header);
    out.push_str(&format!("lock_version = {}\n", lock.lock_version));
    for e in &lock.file {
        out.push_str("\n[[file]]\n");
        let mut kv = |k: &str, v: &str| {
            out.push_str(&format!("{k} = {}\n", toml::Value::String(v.to_string())));
        };
        kv("path", &e.path);
        kv("sha256", &e.sha256);
        for (k, v) in [
            ("url", &e.url),
            ("wheel", &e.wheel),
            ("wheel_sha256", &e.wheel_sha256),
            ("member", &e.member),
            ("slice_of", &e.slice_of),
            ("document", &e.document),
            ("provider_schema", &e.provider_schema),
            ("module_archive", &e.module_archive),
        ] {
            if let Some(v) = v {
                kv(k, v);
            }
        }
        if !e.omit.is_empty() {
            let names: Vec<String> = e
                .omit
                .iter()
                .map(|n| toml::Value::String(n.clone()).to_string())
                .collect();
            out.push_str(&format!("omit = [{}]\n", names.join(", ")));
        }
        if !e.patch.is_empty() {
            let pairs: Vec<String> = e
                .patch
                .iter()
                .map(|(a, b)| {
                    format!(
                        "[{}, {}]",
                        toml::Value::String(a.clone()),
                        toml::Value::String(b.clone())
                    )
                })
                .collect();
            out.push_str(&format!("patch = [{}]\n", pairs.join(", ")));
        }
    }
    out
}

pub fn run(ctx: &Context, args: &Args) -> Result<ExitCode, Error> {
    match &args.command {
        Command::Sync(a) => sync(ctx, a),
    }
}

fn sync(ctx: &Context, args: &SyncArgs) -> Result<ExitCode, Error> {
    let lock_path = ctx.root.join(LOCK_FILE);
    let lock_text = std::fs::read_to_string(&lock_path)
        .map_err(|e| Error::Other(format!("{}: {e}", lock_path.display())))?;
    let lock: Lock = toml::from_str(&lock_text)
        .map_err(|e| Error::Other(format!("{}: {e}", lock_path.display())))?;
    let versions_path = ctx.root.join("versions.toml");
    let versions_text = std::fs::read_to_string(&versions_path)
        .map_err(|e| Error::Other(format!("{}: {e}", versions_path.display())))?;
    let versions = Versions::parse(&versions_text).map_err(|e| Error::Other(e.to_string()))?;
    let cache = cache_dir(ctx, args.cache.as_deref());
    let want = wanted(&lock, &versions);
    let pinned = pinned_datasets(&versions);
    let mut err = std::io::stderr().lock();
    let mut problems: Vec<String> = Vec::new();
    if !want.unknown.is_empty() {
        problems.push(format!(
            "pinned in versions.toml, but reference.lock has no file of them at any version: {}: add their entries to reference.lock (path, url, and sha256 = \"\" for the sync to record)",
            want.unknown
                .iter()
                .map(|(d, v)| format!("{d} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (dataset, old, new) in &want.new {
        if args.locked {
            problems.push(format!(
                "{dataset} {new}: pinned in versions.toml, but reference.lock has it only at {old} (--locked records nothing: run `cargo xtask reference sync` and commit reference.lock)"
            ));
        } else {
            let _ = writeln!(
                err,
                "{dataset} {new}: new pin; its files are those of {old} with the version replaced, their digests recorded in reference.lock on download: review and commit it"
            );
        }
    }
    if !want.manual.is_empty() {
        problems.push(format!(
            "cannot make these entries from the earlier version's (their address does not name the version, or a release patch applies): write them into reference.lock by hand (path, url, sha256 = \"\"): {}",
            want.manual.join(", ")
        ));
    }
    let unrecorded: Vec<&str> = want
        .entries
        .iter()
        .filter(|e| {
            e.sha256.is_empty()
                && !want
                    .new
                    .iter()
                    .any(|(d, _, _)| e.path.starts_with(d.as_str()))
        })
        .map(|e| e.path.as_str())
        .collect();
    if args.locked && !unrecorded.is_empty() {
        problems.push(format!(
            "reference.lock has no digest for {} (--locked records nothing: run `cargo xtask reference sync` and commit reference.lock)",
            unrecorded.join(", ")
        ));
    }
    if args.locked && (!want.new.is_empty() || !unrecorded.is_empty()) {
        for p in &problems {
            let _ = writeln!(err, "error: {p}");
        }
        return Ok(ExitCode::from(flotilla_plan::exit::ERROR));
    }
    let mut fetcher = Fetcher {
        agent: agent(),
        unreachable: Default::default(),
        from: args.from.clone(),
        pypi: std::env::var("FLOTILLA_PYPI_URL").unwrap_or_else(|_| "https://pypi.org".into()),
        wheels: BTreeMap::new(),
        schemas: BTreeMap::new(),
        archives: BTreeMap::new(),
    };
    let total = want.entries.len();
    let (mut present, mut downloaded) = (0usize, 0usize);
    let mut recorded: BTreeMap<String, String> = BTreeMap::new();
    for (i, e) in want.entries.iter().enumerate() {
        if i > 0 && i % 200 == 0 {
            let _ = writeln!(err, "reference sync: {i} of {total} files");
        }
        let target = cache.join(&e.path);
        if !e.sha256.is_empty()
            && let Ok(bytes) = std::fs::read(&target)
            && sha256_hex(&bytes) == e.sha256
        {
            present += 1;
            continue;
        }
        let (bytes, source) = match fetcher.fetch(e, &want.entries, &cache) {
            Ok(b) => b,
            Err(why) => {
                problems.push(format!("{}: {why}", e.path));
                continue;
            }
        };
        let got = sha256_hex(&bytes);
        if e.sha256.is_empty() {
            recorded.insert(e.path.clone(), got);
        } else if got != e.sha256 {
            problems.push(format!(
                "{}: digest mismatch: {source} has SHA-256 {got}, reference.lock has {}; nothing written (a changed upstream file, or a tampered mirror)",
                e.path, e.sha256
            ));
            continue;
        }
        if let Err(why) = write_atomically(&target, &bytes) {
            problems.push(format!("{}: {why}", target.display()));
            continue;
        }
        downloaded += 1;
    }
    if !recorded.is_empty() {
        // A moved dataset changes in the lock only when every file of its new version was
        // recorded: then its old version's entries go and the new ones come. A partly failed
        // sync leaves that dataset as it was (nothing is lost; the next sync tries again).
        let moved: BTreeSet<&str> = want
            .new
            .iter()
            .filter(|(d, _, new)| {
                let prefix = format!("{d}/{new}/");
                !want.manual.iter().any(|m| m.starts_with(&prefix))
                    && want
                        .entries
                        .iter()
                        .filter(|e| e.path.starts_with(&prefix))
                        .all(|e| recorded.contains_key(&e.path))
            })
            .map(|(d, _, _)| d.as_str())
            .collect();
        let in_moved_new = |path: &str| {
            want.new
                .iter()
                .any(|(d, _, new)| path.starts_with(&format!("{d}/{new}/")))
        };
        let mut file: Vec<Entry> = lock
            .file
            .iter()
            .filter(|e| {
                dataset_of(&e.path).is_none_or(|(d, v)| {
                    !moved.contains(d.as_str()) || pinned.contains(&(d.clone(), v))
                })
            })
            .cloned()
            .collect();
        // A recorded entry replaces the one of its path (an entry written with `sha256 = ""`),
        // or joins the lock (a bumped version's).
        for e in &want.entries {
            if in_moved_new(&e.path)
                && !dataset_of(&e.path).is_some_and(|(d, _)| moved.contains(d.as_str()))
            {
                continue;
            }
            if let Some(sha) = recorded.get(&e.path) {
                let mut e = e.clone();
                e.sha256 = sha.clone();
                file.retain(|f| f.path != e.path);
                file.push(e);
            }
        }
        file.sort_by(|a, b| a.path.cmp(&b.path));
        let header: String = lock_text
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let text = render_lock(
            &header,
            &Lock {
                lock_version: lock.lock_version,
                file,
            },
        );
        write_atomically(&lock_path, text.as_bytes())
            .map_err(|e| Error::Other(format!("{}: {e}", lock_path.display())))?;
        let _ = writeln!(
            err,
            "reference.lock: {} digest(s) recorded for the new pins",
            recorded.len()
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "reference sync: {total} files for the pinned versions in {}: {present} present, {downloaded} downloaded, {} failed",
        cache.display(),
        problems.len()
    )?;
    if problems.is_empty() {
        if std::env::var_os("FLOTILLA_REFERENCE").is_none() && args.cache.is_none() {
            writeln!(
                out,
                "the tests read it when FLOTILLA_REFERENCE is unset and ../shared/reference is absent, or with FLOTILLA_REFERENCE={}",
                cache.display()
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for p in problems.iter().take(12) {
        let _ = writeln!(err, "error: {p}");
    }
    if problems.len() > 12 {
        let _ = writeln!(
            err,
            "error: ... and {} more (the same causes, for other files)",
            problems.len() - 12
        );
    }
    Ok(ExitCode::from(flotilla_plan::exit::ERROR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_replaces_whole_lines_and_a_slice_is_one_document() {
        let chart = b"apiVersion: v2\nversion: 0.1.1\nappVersion: \"0.1.0\"\n";
        let p = patched(
            chart,
            &[
                ("version: 0.1.1".into(), "version: 1.2.0".into()),
                ("appVersion:".into(), "appVersion: \"1.2.0\"".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            p,
            b"apiVersion: v2\nversion: 1.2.0\nappVersion: \"1.2.0\"\n"
        );
        assert!(patched(chart, &[("nope".into(), "x".into())]).is_err());
        let all = b"kind: A\nmetadata:\n  name: a.x\n---\nkind: B\nmetadata:\n  name: b.x\n  labels: {}\n";
        assert_eq!(
            slice(all, "b.x").unwrap(),
            b"kind: B\nmetadata:\n  name: b.x\n  labels: {}\n"
        );
        assert!(slice(all, "c.x").is_none());
    }

    #[test]
    fn paths_name_their_dataset_and_version() {
        assert_eq!(
            dataset_of("charts/grafana/12.11.1/values.yaml"),
            Some(("charts/grafana".into(), "12.11.1".into()))
        );
        assert_eq!(
            dataset_of("terraform/aws-provider/6.47.0/resources.json"),
            Some(("terraform/aws-provider".into(), "6.47.0".into()))
        );
        assert_eq!(
            dataset_of("kubernetes-json-schema/v1.34.0-local-strict/pod-v1.json"),
            None
        );
    }

    #[test]
    fn every_pin_of_versions_toml_has_locked_files_and_every_file_a_source() {
        let lock: Lock = toml::from_str(include_str!("../../reference.lock")).unwrap();
        let w = wanted(&lock, &Versions::embedded());
        assert!(w.unknown.is_empty(), "{:?}", w.unknown);
        assert!(w.new.is_empty(), "{:?}", w.new);
        for e in &lock.file {
            assert_eq!(e.sha256.len(), 64, "{}", e.path);
            let sources = [
                e.url.is_some(),
                e.wheel.is_some() && e.member.is_some() && e.wheel_sha256.is_some(),
                e.slice_of.is_some() && e.document.is_some(),
                e.provider_schema.is_some() && provider_of(&e.path).is_some(),
                e.module_archive.is_some() && crate::module_interface::part_of(&e.path).is_some(),
            ];
            assert_eq!(
                sources.iter().filter(|s| **s).count(),
                1,
                "{}: one source",
                e.path
            );
        }
    }

    #[test]
    fn a_bumped_version_takes_the_files_of_the_previous_one() {
        let lock: Lock = toml::from_str(include_str!("../../reference.lock")).unwrap();
        let mut versions = Versions::embedded();
        versions.charts.get_mut("grafana").unwrap().version = "12.11.2".into();
        let w = wanted(&lock, &versions);
        assert_eq!(
            w.new,
            vec![("charts/grafana".into(), "12.11.1".into(), "12.11.2".into())]
        );
        let values = w
            .entries
            .iter()
            .find(|e| e.path == "charts/grafana/12.11.2/values.yaml")
            .unwrap();
        assert_eq!(values.sha256, "");
        assert_eq!(
            values.url.as_deref(),
            Some(
                "https://raw.githubusercontent.com/grafana-community/helm-charts/grafana-12.11.2/charts/grafana/values.yaml"
            )
        );
    }

    #[test]
    fn a_bump_whose_addresses_do_not_name_the_version_is_left_to_the_hand() {
        let lock: Lock = toml::from_str(include_str!("../../reference.lock")).unwrap();
        let mut versions = Versions::embedded();
        // Its files come from the eks-charts tag v0.0.242, which no version string names.
        versions
            .charts
            .get_mut("aws-load-balancer-controller")
            .unwrap()
            .version = "3.5.1".into();
        // Its Chart.yaml and values.yaml carry release patches.
        versions.charts.get_mut("karpenter").unwrap().version = "1.14.2".into();
        let w = wanted(&lock, &versions);
        assert!(
            w.manual
                .contains(&"charts/aws-load-balancer-controller/3.5.1/values.yaml".to_string()),
            "{:?}",
            w.manual
        );
        assert!(
            w.manual
                .contains(&"charts/karpenter/1.14.2/Chart.yaml".to_string())
        );
        assert!(
            !w.entries
                .iter()
                .any(|e| e.path.starts_with("charts/karpenter/1.14.2/"))
        );
    }

    #[test]
    fn the_lock_renders_back_to_what_it_reads() {
        let text = include_str!("../../reference.lock");
        let lock: Lock = toml::from_str(text).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let again: Lock = toml::from_str(&render_lock(&header, &lock)).unwrap();
        assert_eq!(again.file, lock.file);
    }
}
