//! meshsim: a deterministic discrete-event simulator of microservice systems.
//!
//! The crate is layered, and imports only go down:
//!
//! | layer | knows |
//! | --- | --- |
//! | [`cli`] | the command line: parses, dispatches, prints errors once, maps exit codes |
//! | [`compare`] | variants × replications with common random numbers, and their statistics |
//! | [`report`] | results into files and text: `summary.json`, CSV, plots, HTML, terminal |
//! | [`analysis`], [`import`] | SLO verdicts and comparison result types; other tools' formats into scenario text |
//! | [`scenario`], [`sim`] | a TOML scenario into a validated [`model::Model`]; a model run on the engine |
//! | [`model`], [`engine`] | the system described, knowing no files; a generic discrete-event core knowing no services |

pub mod analysis;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod import;
pub mod model;
pub mod report;
pub mod scenario;
pub mod sim;
