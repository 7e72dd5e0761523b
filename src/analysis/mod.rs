//! What both the reports and the comparisons need to know about a finished run, as plain data:
//! whether it met its service-level objectives and how each fault showed ([`slo`], with the
//! [`slo::EdgeRecorder`] that keeps the end-to-end windows it reads), and the shape of a
//! comparison's results ([`comparison`], the types of `comparison.json`).
//!
//! It sits below `report` (which renders these results as files and text) and `compare` (which
//! computes them over replications), so neither needs the other: imports only go down.

pub mod alerts;
pub mod comparison;
pub mod istio;
pub mod slo;
