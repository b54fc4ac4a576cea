//! Model -> Terraform root modules under `infra/` (`infra/bootstrap/`, `infra/<cluster>/`).
//! Plain HCL that `terraform fmt -check` accepts and an operator can run without Flotilla.
//! Pure: no IO.

use flotilla_model::{Artifact, Platform};

/// Every file under `infra/`.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let _ = platform;
    Vec::new()
}
