//! The edges to the outside world, each behind a trait or a small API: processes, the external
//! tools, AWS and Kubernetes.

pub mod aws;
pub mod kube;
pub mod process;
pub mod tools;
