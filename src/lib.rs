//! meshsim: a deterministic discrete-event simulator of microservice systems.
//!
//! The crate is layered: [`engine`] is a generic discrete-event core that knows nothing of
//! services; [`model`] describes a system (services, network, policies, workloads, faults) and
//! knows nothing of files; [`scenario`] turns a TOML file into a validated [`model::Model`];
//! [`sim`] runs a model on the engine; [`report`] turns results into files; [`import`] turns
//! other tools' topologies (Istio isotope) into scenarios.

pub mod cli;
pub mod compare;
pub mod engine;
pub mod import;
pub mod model;
pub mod report;
pub mod scenario;
pub mod sim;
