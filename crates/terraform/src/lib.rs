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

/// Where the root modules are, relative to the repository root.
pub const INFRA_ROOT: &str = "infra";
/// The root module of the state bucket.
pub const BOOTSTRAP_MODULE: &str = "bootstrap";

/// The directory of a root module (`infra/<module>`): the contract with the engine and the
/// file diff, next to [`state_key`].
pub fn module_dir(module: &str) -> String {
    format!("{INFRA_ROOT}/{module}")
}

/// The control plane log group the EKS module creates for a cluster (terraform-aws-eks 21.19.0
/// main.tf:235, `/aws/eks/<name>/cluster`): `destroy` deletes what EKS re-creates of it.
pub fn eks_log_group(platform: &Platform, cluster: &flotilla_model::Cluster) -> String {
    format!("/aws/eks/{}/cluster", platform.eks_cluster_name(cluster))
}

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
