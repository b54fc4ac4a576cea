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
pub const BOOTSTRAP_MODULE: &str = flotilla_model::reserved::BOOTSTRAP_MODULE;

/// The directory of a root module (`infra/<module>`): the contract with the engine and the
/// file diff, next to [`state_key`].
pub fn module_dir(module: &str) -> String {
    format!("{INFRA_ROOT}/{module}")
}

/// The directory of a workload's link module under its cluster module (`infra/<cluster>/link`):
/// what joins the workload to the controlplane (peering or hub attachment, routes, zone
/// association, the external-dns policy that needs the zone), applied once both exist, so that
/// every cluster's VPC and EKS are created in parallel. Terraform reads only the files directly
/// in a root module's directory, so the two modules do not see each other's files.
pub const LINK_DIR: &str = "link";

/// The module key of a workload's link (`<cluster>.link`): Terraform data directory, saved plan
/// and journal names. Cluster names are DNS labels, so no cluster has this name.
pub fn link_module(cluster: &str) -> String {
    format!("{cluster}.link")
}

/// The cluster a module key belongs to: `production` for `production` and `production.link`.
pub fn cluster_of_module(module: &str) -> &str {
    module.strip_suffix(".link").unwrap_or(module)
}

/// The directory of a module key (`infra/production`, `infra/production/link`).
pub fn module_key_dir(module: &str) -> String {
    match module.strip_suffix(".link") {
        Some(cluster) => format!("{}/{LINK_DIR}", module_dir(cluster)),
        None => module_dir(module),
    }
}

/// The S3 object key of a workload link's state.
pub fn link_state_key(cluster: &str) -> String {
    format!("{cluster}/link.tfstate")
}

/// The control plane log group the EKS module creates for a cluster (terraform-aws-eks 21.19.0
/// main.tf:235, `/aws/eks/<name>/cluster`): `destroy` deletes what EKS re-creates of it.
pub fn eks_log_group(platform: &Platform, cluster: &flotilla_model::Cluster) -> String {
    format!("/aws/eks/{}/cluster", platform.eks_cluster_name(cluster))
}

/// Every file under `infra/`, in a stable order: bootstrap first, then the clusters in file
/// order, each workload's link module after its cluster module.
pub fn render(platform: &Platform) -> Vec<Artifact> {
    let mut modules = vec![bootstrap::module(platform)];
    for c in &platform.clusters {
        modules.push(cluster::module(platform, c));
        modules.extend(cluster::link_module(platform, c));
    }
    modules.into_iter().flat_map(|m| m.artifacts()).collect()
}
