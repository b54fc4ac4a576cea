//! Renders a platform file's `infra/` into a directory, for trying the output by hand
//! (`terraform`, checkov) before `cargo xtask generate` writes it into the repository:
//!
//! `cargo run -p flotilla-terraform --example render -- platform.toml /tmp/out`

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [platform, out] = args.as_slice() else {
        eprintln!("usage: render <platform.toml> <output dir>");
        std::process::exit(1);
    };
    let src = std::fs::read_to_string(platform).unwrap_or_else(|e| {
        eprintln!("{platform}: {e}");
        std::process::exit(1)
    });
    let versions = flotilla_model::Versions::embedded();
    let model = match flotilla_model::load(platform, &src, &versions) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    for a in flotilla_terraform::render(&model) {
        let path = Path::new(out).join(&a.path);
        std::fs::create_dir_all(path.parent().expect("a file path")).expect("create directory");
        std::fs::write(&path, a.contents).expect("write file");
    }
}
