//! `flotilla-generate`: the one write path for generated files (`cargo xtask generate [--check]
//! [--out DIR]`), and the comparison of generated output with the committed files. No IO but
//! `std::fs`: no process, network or async runtime in its dependency tree.
//!
//! Rendering is pure and happens first, entirely in memory ([`render_all`]); only then is the disk
//! touched, so an invalid platform or a renderer bug writes nothing. The generated trees
//! ([`GENERATED_ROOTS`]) are regenerated from scratch: a file the renderers no longer produce is
//! removed. Hand-written files that carry a generated region (the platform diagram in README.md
//! and docs/architecture.md) only have the text between their markers replaced.
//!
//! In check mode nothing is written; every difference is reported as a [`Drift`].

pub mod diff;
pub mod workdir;
mod write;

pub use write::{Drift, DriftKind, GenerateError, Mode, Report, apply, replace_region};

use std::collections::BTreeMap;

use flotilla_model::{Artifact, Platform};

/// Directories whose whole contents are generated.
pub const GENERATED_ROOTS: [&str; 2] = [flotilla_terraform::INFRA_ROOT, "helm"];

/// A marked region inside a hand-written file, filled by the generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// File relative to the repository root (`README.md`).
    pub file: String,
    /// Marker name: the region lies between `<!-- flotilla:begin NAME -->` and
    /// `<!-- flotilla:end NAME -->`.
    pub name: String,
    pub contents: String,
}

/// Everything the generator produces for a platform.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Path relative to the repository root -> contents.
    pub files: BTreeMap<String, String>,
    pub regions: Vec<Region>,
}

/// Renders every artifact of the platform in memory. Pure.
pub fn render_all(platform: &Platform) -> Rendered {
    let mut files = BTreeMap::new();
    let artifacts = flotilla_terraform::render(platform)
        .into_iter()
        .chain(flotilla_helm::render(platform));
    for Artifact { path, contents } in artifacts {
        debug_assert!(
            GENERATED_ROOTS
                .iter()
                .any(|r| path.starts_with(&format!("{r}/"))),
            "renderer wrote outside the generated roots: {path}"
        );
        let previous = files.insert(path.clone(), normalize(&contents));
        assert!(previous.is_none(), "two renderers produced {path}");
    }
    Rendered {
        files,
        regions: regions(platform),
    }
}

/// The generated regions of hand-written files: the platform diagram in the README and in
/// docs/architecture.md (GitHub renders Mermaid).
pub fn regions(platform: &Platform) -> Vec<Region> {
    let diagram = format!(
        "```mermaid\n{}```\n",
        normalize(&flotilla_diagram::mermaid(platform))
    );
    ["README.md", "docs/architecture.md"]
        .into_iter()
        .map(|file| Region {
            file: file.to_string(),
            name: "platform-diagram".to_string(),
            contents: diagram.clone(),
        })
        .collect()
}

/// Unix newlines and exactly one trailing newline.
pub(crate) fn normalize(text: &str) -> String {
    let mut s = text.replace("\r\n", "\n");
    while s.ends_with("\n\n") {
        s.pop();
    }
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}
