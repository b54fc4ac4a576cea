//! The deploy engine. See docs/architecture.md.
