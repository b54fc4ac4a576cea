//! Writing (or only checking) the rendered files: every change computed before the disk is
//! touched, atomic writes, stale files removed, generated regions of hand-written files.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use flotilla_model::artifact::GENERATE_COMMAND;

use crate::{GENERATED_ROOTS, Rendered, workdir};

/// Write the files, or only compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// Why a committed file differs from a fresh render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriftKind {
    /// The renderers produce it but it is not on disk.
    Missing,
    /// On disk with other contents.
    Changed,
    /// On disk under a generated root but no renderer produces it any more.
    Stale,
    /// A generated region of a hand-written file is out of date.
    RegionChanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub path: String,
    pub kind: DriftKind,
}

/// What a generate run did (write mode) or found (check mode).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Files written because they were new or changed.
    pub written: Vec<String>,
    /// Stale files removed.
    pub removed: Vec<String>,
    pub unchanged: usize,
    /// Check mode only: every difference.
    pub drift: Vec<Drift>,
    /// Files under `infra/` and `helm/` that no render wrote (no generated header): never
    /// removed, never drift.
    pub foreign: Vec<String>,
}

impl Report {
    /// The drift as the lines `--check` prints.
    pub fn drift_text(&self) -> String {
        self.drift_text_with(&format!("run `{GENERATE_COMMAND}` and commit the result"))
    }

    /// The drift lines, ending with `fix` as what to do (`--out` has its own).
    pub fn drift_text_with(&self, fix: &str) -> String {
        let mut out = String::new();
        for d in &self.drift {
            let what = match d.kind {
                DriftKind::Missing => "missing",
                DriftKind::Changed => "out of date",
                DriftKind::Stale => "stale (no longer generated)",
                DriftKind::RegionChanged => "generated region out of date",
            };
            out.push_str(&format!("drift: {}: {what}\n", d.path));
        }
        if !self.drift.is_empty() {
            out.push_str(&format!(
                "{} file(s) differ from a fresh render; {fix}\n",
                self.drift.len()
            ));
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("{path}: {source}{}", if matches!(source.kind(), io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied) { " (this checkout cannot be written: render elsewhere with `cargo xtask generate --out DIR`)" } else { "" })]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{file}: the markers `<!-- flotilla:begin {name} -->` and `<!-- flotilla:end {name} -->` are missing or out of order; add them where the generated text belongs"
    )]
    MissingMarkers { file: String, name: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> GenerateError + '_ {
    move |source| GenerateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The first bytes of a file (enough for its header).
fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = vec![0; 400];
    let mut f = fs::File::open(path)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Writes (or checks) `rendered` under `out`, and the regions of hand-written files under
/// `regions_root` (pass `None` to leave hand-written files alone, e.g. with `--out`).
pub fn apply(
    rendered: &Rendered,
    out: &Path,
    regions_root: Option<&Path>,
    mode: Mode,
) -> Result<Report, GenerateError> {
    let mut report = Report::default();
    // First compute every change, so that an IO error while reading leaves nothing half-written.
    let mut writes: Vec<(PathBuf, String, String)> = Vec::new();
    for (rel, contents) in &rendered.files {
        let path = out.join(rel);
        match fs::read_to_string(&path) {
            Ok(existing) if existing == *contents => report.unchanged += 1,
            Ok(_) => {
                report.drift.push(Drift {
                    path: rel.clone(),
                    kind: DriftKind::Changed,
                });
                writes.push((path, rel.clone(), contents.clone()));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                report.drift.push(Drift {
                    path: rel.clone(),
                    kind: DriftKind::Missing,
                });
                writes.push((path, rel.clone(), contents.clone()));
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    let wanted: BTreeSet<&str> = rendered.files.keys().map(String::as_str).collect();
    let mut stale = Vec::new();
    for root in GENERATED_ROOTS {
        for rel in list_files(out, Path::new(root))? {
            if !wanted.contains(rel.as_str()) {
                let path = out.join(&rel);
                let head = read_head(&path).map_err(io_err(&path))?;
                if !flotilla_model::artifact::is_generated(&head) && !workdir::terraform_loads(&rel)
                {
                    report.foreign.push(rel);
                    continue;
                }
                report.drift.push(Drift {
                    path: rel.clone(),
                    kind: DriftKind::Stale,
                });
                stale.push(rel);
            }
        }
    }
    if let Some(root) = regions_root {
        for region in &rendered.regions {
            let path = root.join(&region.file);
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            let updated =
                replace_region(&text, &region.name, &region.contents).ok_or_else(|| {
                    GenerateError::MissingMarkers {
                        file: region.file.clone(),
                        name: region.name.clone(),
                    }
                })?;
            if updated == text {
                report.unchanged += 1;
            } else {
                report.drift.push(Drift {
                    path: region.file.clone(),
                    kind: DriftKind::RegionChanged,
                });
                writes.push((path, region.file.clone(), updated));
            }
        }
    }
    if mode == Mode::Check {
        report.drift.sort_by(|a, b| a.path.cmp(&b.path));
        return Ok(report);
    }
    for (path, rel, contents) in writes {
        write_atomically(&path, &contents)?;
        report.written.push(rel);
    }
    for rel in stale {
        let path = out.join(&rel);
        fs::remove_file(&path).map_err(io_err(&path))?;
        remove_empty_parents(out, &path);
        report.removed.push(rel);
    }
    report.drift.clear();
    Ok(report)
}

/// Replaces the text between the markers of `name`; `None` when the markers are missing.
pub fn replace_region(text: &str, name: &str, contents: &str) -> Option<String> {
    let begin = format!("<!-- flotilla:begin {name} -->");
    let end = format!("<!-- flotilla:end {name} -->");
    let b = text.find(&begin)?;
    let after_begin = b + begin.len();
    let e = after_begin + text[after_begin..].find(&end)?;
    let mut out = String::with_capacity(text.len() + contents.len());
    out.push_str(&text[..after_begin]);
    out.push_str(
        "\n<!-- Generated by `cargo xtask generate` from platform.toml. Do not edit. -->\n",
    );
    out.push_str(contents);
    out.push_str(&text[e..]);
    Some(out)
}

/// Files under `base/dir`, as `/`-separated paths relative to `base`, sorted.
fn list_files(base: &Path, dir: &Path) -> Result<Vec<String>, GenerateError> {
    let mut out = Vec::new();
    let mut stack = vec![base.join(dir)];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&d)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&d))?;
            let path = entry.path();
            let ty = entry.file_type().map_err(io_err(&path))?;
            // Terraform's working files are not ours to manage or report.
            if workdir::is_working_file(&entry.file_name().to_string_lossy(), ty.is_dir()) {
                continue;
            }
            if ty.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(base)
                    .expect("walked under base")
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_atomically(path: &Path, contents: &str) -> Result<(), GenerateError> {
    let dir = path.parent().expect("generated files live in a directory");
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let tmp = dir.join(format!(
        ".{}.flotilla-tmp",
        path.file_name().expect("a file name").to_string_lossy()
    ));
    fs::write(&tmp, contents).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn remove_empty_parents(base: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == base || !d.starts_with(base) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Region, normalize};

    fn rendered(files: &[(&str, &str)]) -> Rendered {
        Rendered {
            files: files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
            regions: vec![],
        }
    }

    #[test]
    fn writes_then_checks_clean_then_detects_every_kind_of_drift() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let r = rendered(&[("infra/a/main.tf", "a\n"), ("helm/x/values.yaml", "x: 1\n")]);
        let report = apply(&r, root, None, Mode::Write).unwrap();
        assert_eq!(report.written.len(), 2);
        let report = apply(&r, root, None, Mode::Check).unwrap();
        assert!(report.drift.is_empty(), "{:?}", report.drift);
        assert_eq!(report.unchanged, 2);

        fs::write(root.join("infra/a/main.tf"), "edited\n").unwrap();
        // A file an earlier render wrote (it has the header), and one of the user's own.
        let old = format!("{}old\n", flotilla_model::artifact::header("#"));
        fs::write(root.join("infra/a/old.tf"), &old).unwrap();
        fs::write(root.join("infra/a/NOTES.md"), "# mine\n").unwrap();
        fs::remove_file(root.join("helm/x/values.yaml")).unwrap();
        let report = apply(&r, root, None, Mode::Check).unwrap();
        assert_eq!(
            report.drift,
            vec![
                Drift {
                    path: "helm/x/values.yaml".into(),
                    kind: DriftKind::Missing
                },
                Drift {
                    path: "infra/a/main.tf".into(),
                    kind: DriftKind::Changed
                },
                Drift {
                    path: "infra/a/old.tf".into(),
                    kind: DriftKind::Stale
                },
            ]
        );
        // Check mode wrote nothing.
        assert_eq!(
            fs::read_to_string(root.join("infra/a/main.tf")).unwrap(),
            "edited\n"
        );
        assert!(root.join("infra/a/old.tf").exists());
        assert!(report.drift_text().contains("run `cargo xtask generate`"));

        assert_eq!(report.foreign, vec!["infra/a/NOTES.md".to_string()]);

        let report = apply(&r, root, None, Mode::Write).unwrap();
        assert_eq!(report.removed, vec!["infra/a/old.tf".to_string()]);
        assert!(apply(&r, root, None, Mode::Check).unwrap().drift.is_empty());
        assert_eq!(
            fs::read_to_string(root.join("infra/a/NOTES.md")).unwrap(),
            "# mine\n"
        );
    }

    #[test]
    fn removed_components_disappear_with_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let gone = format!("{}a\n", flotilla_model::artifact::header("#"));
        apply(
            &rendered(&[("infra/gone/main.tf", &gone)]),
            root,
            None,
            Mode::Write,
        )
        .unwrap();
        apply(
            &rendered(&[("infra/kept/main.tf", "b\n")]),
            root,
            None,
            Mode::Write,
        )
        .unwrap();
        assert!(!root.join("infra/gone").exists());
        assert!(root.join("infra/kept/main.tf").exists());
    }

    #[test]
    fn terraform_working_files_are_not_stale() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let r = rendered(&[("infra/a/main.tf", "a\n")]);
        apply(&r, root, None, Mode::Write).unwrap();
        fs::create_dir_all(root.join("infra/a/.terraform/providers")).unwrap();
        fs::write(root.join("infra/a/.terraform/providers/x"), "").unwrap();
        fs::write(root.join("infra/a/.terraform.lock.hcl"), "").unwrap();
        assert!(apply(&r, root, None, Mode::Check).unwrap().drift.is_empty());
    }

    #[test]
    fn regions_replace_only_between_markers() {
        let text = "intro\n<!-- flotilla:begin d -->\nold\n<!-- flotilla:end d -->\noutro\n";
        let out = replace_region(text, "d", "new\n").unwrap();
        assert!(out.starts_with("intro\n<!-- flotilla:begin d -->\n"));
        assert!(out.contains("new\n<!-- flotilla:end d -->\noutro\n"));
        assert!(!out.contains("old"));
        assert_eq!(replace_region(&out, "d", "new\n").unwrap(), out);
        assert_eq!(replace_region("no markers", "d", "x"), None);
        let reversed = "<!-- flotilla:end d -->\n<!-- flotilla:begin d -->\n";
        assert_eq!(replace_region(reversed, "d", "x"), None);
    }

    #[test]
    fn region_files_are_checked_and_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(
            root.join("README.md"),
            "# x\n<!-- flotilla:begin d -->\n<!-- flotilla:end d -->\n",
        )
        .unwrap();
        let mut r = rendered(&[]);
        r.regions.push(Region {
            file: "README.md".into(),
            name: "d".into(),
            contents: "graph\n".into(),
        });
        let report = apply(&r, root, Some(root), Mode::Check).unwrap();
        assert_eq!(report.drift[0].kind, DriftKind::RegionChanged);
        apply(&r, root, Some(root), Mode::Write).unwrap();
        assert!(
            fs::read_to_string(root.join("README.md"))
                .unwrap()
                .contains("graph\n")
        );
        assert!(
            apply(&r, root, Some(root), Mode::Check)
                .unwrap()
                .drift
                .is_empty()
        );
        r.regions[0].name = "other".into();
        let err = apply(&r, root, Some(root), Mode::Check).unwrap_err();
        assert!(err.to_string().contains("flotilla:begin other"), "{err}");
    }

    #[test]
    fn normalize_line_endings() {
        assert_eq!(normalize("a\r\nb"), "a\nb\n");
        assert_eq!(normalize("a\n\n\n"), "a\n");
    }
}
