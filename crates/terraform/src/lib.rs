//! Model -> Terraform root modules under `infra/` (`infra/bootstrap/`, `infra/<cluster>/`).
//! Plain HCL that `terraform fmt -check` accepts and an operator can run without Flotilla.
//! Pure: no IO.
//!
//! The model is not the output: [`hcl`] holds the output types (blocks, attributes,
//! expressions) and writes them in `terraform fmt`'s layout. [`bootstrap`] renders the state
//! bucket, [`cluster`] one root module per cluster. Every address is keyed by a model name
//! (cluster, node pool, component), so re-rendering never moves a resource; a rename written as
//! `renamed_from` in the model adds a `moved.tf` to the module whose state holds the address.

mod bootstrap;
mod cluster;
mod common;
mod hcl;

use flotilla_model::{Artifact, Platform};

pub use cluster::{state_key, subnets};

/// Every file under `infra/`, in a stable order: bootstrap first, then the clusters in file order.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let mut modules = vec![bootstrap::module(platform)];
    modules.extend(
        platform
            .clusters
            .iter()
            .map(|c| cluster::module(platform, c)),
    );
    modules.into_iter().flat_map(|m| m.artifacts()).collect()
}
