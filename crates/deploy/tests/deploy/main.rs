//! The deploy engine's integration tests, one test binary (each binary links the AWS SDK and
//! kube, so one link instead of six): the engine against recording stand-ins for terraform,
//! helm and kubectl, fake AWS and Kubernetes, an in-process fake API server, and moto.

mod support;

mod diff;
mod kube_api;
mod moto;
mod quotas;
mod runner;
mod standins;
