//! The Secrets the cross-cluster wiring reads and writes, named by the Helm renderer
//! (`flotilla_helm::names`) so that the values that mount them and the engine that creates them
//! cannot drift apart.

use std::fmt;

use flotilla_helm::names;
use flotilla_model::{Cluster, Platform};

/// A reference to a Kubernetes Secret in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.cluster, self.namespace, self.name)
    }
}

/// One receiver credential: an AWS Secrets Manager secret into a Kubernetes Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverSecret {
    pub receiver: String,
    pub secret_id: String,
    pub target: SecretRef,
}

/// The copies that give a workload cluster its Kafka credentials: the KafkaUser Secret Strimzi
/// wrote on the controlplane, and the cluster CA that signed the brokers' certificates.
pub fn kafka_secrets(platform: &Platform, workload: &Cluster) -> Vec<(SecretRef, SecretRef)> {
    let cp = platform.controlplane().name.clone();
    let from = |name: String| SecretRef {
        cluster: cp.clone(),
        namespace: names::KAFKA_NAMESPACE.to_string(),
        name,
    };
    let to = |name: &str| SecretRef {
        cluster: workload.name.clone(),
        namespace: names::LOGGING_NAMESPACE.to_string(),
        name: name.to_string(),
    };
    vec![
        (
            from(names::kafka_user(workload)),
            to(names::KAFKA_CLIENT_SECRET),
        ),
        (
            from(names::kafka_cluster_ca_secret()),
            to(names::KAFKA_CLUSTER_CA_SECRET),
        ),
    ]
}

/// The Kubernetes Secret holding one receiver's credential on the controlplane.
pub fn receiver_secret(controlplane: &Cluster, receiver: &str) -> SecretRef {
    SecretRef {
        cluster: controlplane.name.clone(),
        namespace: names::MONITORING_NAMESPACE.to_string(),
        name: names::receiver_secret(receiver),
    }
}

/// The key of the credential inside a receiver Secret.
pub const RECEIVER_SECRET_KEY: &str = names::RECEIVER_SECRET_KEY;
