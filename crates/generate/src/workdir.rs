//! Terraform's working files under `infra/`: what `terraform init`, `plan` and the bootstrap's
//! local state leave next to the generated files. They are not generated output, so neither
//! `generate` (which removes stale files) nor the file diff touches or reports them. The one
//! list; every walker of the generated trees asks it.

/// Whether a directory entry under a generated root is a working file (`is_dir`: a directory).
pub fn is_working_file(name: &str, is_dir: bool) -> bool {
    if is_dir {
        return name == ".terraform";
    }
    name == ".terraform.lock.hcl"
        || name.ends_with(".tfstate")
        || name.ends_with(".tfstate.backup")
        || name.ends_with(".tfplan")
        || name.ends_with(".flotilla-tmp")
}

/// Whether Terraform reads a file of a module directory (`*.tf`, `*.tf.json`, `*.tfvars`,
/// `*.tfvars.json`): such a file under `infra/` is generated output or drift, never someone
/// else's, since it changes what a deploy applies.
pub fn terraform_loads(path: &str) -> bool {
    path.starts_with("infra/")
        && [".tf", ".tf.json", ".tfvars", ".tfvars.json"]
            .iter()
            .any(|e| path.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::is_working_file;

    #[test]
    fn terraform_working_files_and_nothing_generated() {
        for (name, dir) in [
            (".terraform", true),
            (".terraform.lock.hcl", false),
            ("terraform.tfstate", false),
            ("terraform.tfstate.backup", false),
            ("production.tfplan", false),
            (".main.tf.flotilla-tmp", false),
        ] {
            assert!(is_working_file(name, dir), "{name}");
        }
        for (name, dir) in [
            ("main.tf", false),
            ("values.yaml", false),
            ("manifests", true),
        ] {
            assert!(!is_working_file(name, dir), "{name}");
        }
    }
}
