//! What `deploy`, `destroy`, `plan` and `diff` act on, checked against the platform: the only
//! place a command-line target is parsed.

use flotilla_model::{Platform, Role};

/// What `deploy`, `destroy` and `plan` act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One workload environment.
    Environment(String),
    /// The controlplane cluster.
    Controlplane,
    /// The state bootstrap, the controlplane and every workload cluster.
    All,
}

impl Target {
    /// Parses a command-line target against the platform; an unknown one lists the known ones.
    pub fn parse(platform: &Platform, text: &str) -> Result<Target, UnknownTarget> {
        if text == flotilla_model::reserved::ALL_TARGET {
            return Ok(Target::All);
        }
        match platform.cluster_for_environment(text) {
            Some(c) if c.role == Role::Controlplane => Ok(Target::Controlplane),
            Some(c) => Ok(Target::Environment(c.environment.clone())),
            None => Err(UnknownTarget {
                given: text.to_string(),
                known: platform
                    .targets()
                    .into_iter()
                    .map(str::to_string)
                    .chain([flotilla_model::reserved::ALL_TARGET.to_string()])
                    .collect(),
            }),
        }
    }

    /// Whether the target takes in the cluster named `cluster` (`all` takes every one).
    pub fn has_cluster(&self, platform: &Platform, cluster: &str) -> bool {
        match self {
            Target::All => true,
            Target::Controlplane => platform.controlplane().name == cluster,
            Target::Environment(e) => platform
                .cluster(cluster)
                .is_some_and(|c| &c.environment == e),
        }
    }

    pub fn name(&self, platform: &Platform) -> String {
        match self {
            Target::Environment(e) => e.clone(),
            Target::Controlplane => platform.controlplane().environment.clone(),
            Target::All => flotilla_model::reserved::ALL_TARGET.to_string(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown target `{given}`; known targets: {}", known.join(", "))]
pub struct UnknownTarget {
    pub given: String,
    pub known: Vec<String>,
}
