//! Model -> Terraform. See docs/architecture.md.
