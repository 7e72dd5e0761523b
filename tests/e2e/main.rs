//! End-to-end tests: real scenario files through the library and the `meshsim` binary.
//! One test binary with modules, so the crate links once.

mod common;

mod attribution;
mod balancers;
mod changes;
mod cli;
mod compare;
mod determinism;
mod digests;
mod discovery;
mod docs;
mod faults;
mod governance;
mod hashing;
mod hedging;
mod hostile;
mod import;
mod istio;
mod jaeger_ui;
mod layers;
mod messages;
mod metastable;
mod metrics;
mod queueing;
mod report;
mod rollouts;
mod scale;
mod schema;
mod stories;
mod sweeps;
mod trace;
mod traces;
mod twin;
mod vopr;
