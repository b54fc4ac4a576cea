//! Model -> Helm releases and Kubernetes manifests. See docs/architecture.md.
