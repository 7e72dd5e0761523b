//! Kubernetes and Istio configuration (DestinationRule, VirtualService, Deployment,
//! HorizontalPodAutoscaler) written into an existing scenario: `meshsim import istio FILE...
//! --into SCENARIO`.
//!
//! Reading is in two stages. `objects` reads every YAML file (several documents per file, `kind:
//! List` expanded) into the settings each object gives, per scenario service, with a warning for
//! every field it does not model and every host that names no service. Then `edit` writes those
//! settings into the scenario's text with `toml_edit`, so the result is the user's file (its
//! comments and layout) with the changed keys, each marked by a comment naming its object. The
//! mapping, field by field, is in docs/istio.md.

mod edit;
mod objects;

use crate::scenario::{ScenarioError, ScenarioErrors};

/// One YAML file to read: what messages call it and its text.
#[derive(Debug, Clone)]
pub struct MeshFile {
    /// The file as the user named it.
    pub label: String,
    /// Its text.
    pub text: String,
}

/// The scenario with the objects' settings written in.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The edited scenario text.
    pub text: String,
    /// Fields not modelled, hosts that name no service, objects not read: one line each,
    /// `FILE:LINE:COLUMN: KIND NAME: FIELD PATH: why`.
    pub warnings: Vec<String>,
    /// How many scenario keys were set.
    pub changes: usize,
}

/// Reads the Kubernetes/Istio objects of `files` and writes what they say into `scenario` (the
/// text of a scenario file labelled `scenario_label`). Bad YAML, or a field of the wrong type,
/// is an error with the YAML file's line and column (all of them at once).
pub fn import(
    files: &[MeshFile],
    scenario: &str,
    scenario_label: &str,
) -> Result<Imported, ScenarioErrors> {
    let mut document: toml_edit::DocumentMut = scenario.parse().map_err(|error| {
        ScenarioErrors::single(scenario_label, format!("not a TOML scenario: {error}"))
    })?;
    let services = edit::service_names(&document);
    let starting = edit::starting_replicas(&document);
    let read = objects::read(files, &services, &starting)?;
    let changes = edit::apply(&mut document, &read.settings).map_err(|message| {
        ScenarioErrors(vec![ScenarioError::without_position(
            scenario_label,
            message,
        )])
    })?;
    Ok(Imported {
        text: document.to_string(),
        warnings: read.warnings,
        changes,
    })
}

#[cfg(test)]
mod tests;
