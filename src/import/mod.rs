//! Importers: systems described in other tools' formats, turned into meshsim scenarios.
//!
//! [`isotope`] reads Istio isotope service graphs (YAML); [`traces`] reads distributed traces
//! (OTLP, Jaeger, Zipkin, Alibaba's call graphs); [`istio`] writes Kubernetes/Istio objects'
//! settings into an existing scenario. An import produces scenario *text*
//! (commented TOML, what `meshsim import isotope FILE` prints), which then goes through the
//! ordinary scenario reader: an imported file is checked exactly as a written one, and `--set`
//! works on it. `meshsim run`/`validate`/`compare` accept a `.yaml`/`.yml` file directly and
//! import it in memory with the default [`isotope::ImportOptions`].

pub mod emit;
pub mod isotope;
pub mod istio;
pub mod traces;
mod yaml;

use std::path::Path;

use crate::scenario::{self, ScenarioError, ScenarioErrors, Source};
use isotope::{ImportOptions, Topology};

/// Whether `path` names an isotope topology (a `.yaml` or `.yml` file) rather than a scenario.
pub fn is_isotope_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// The scenario text of the isotope topology `text` (labelled `label` in messages and in the
/// header comment), or every problem of the YAML with its line and column (or of the options,
/// by name). Values past the scenario's limits are found here, where the user's positions are
/// known; the scenario reader checks them again in the generated text.
pub fn isotope_scenario(
    text: &str,
    label: &str,
    options: &ImportOptions,
) -> Result<String, ScenarioErrors> {
    options.check()?;
    let topology = Topology::parse(text).map_err(|problems| {
        ScenarioErrors(
            problems
                .into_iter()
                .map(|(line, column, message)| ScenarioError {
                    file: label.to_string(),
                    line,
                    column,
                    message,
                })
                .collect(),
        )
    })?;
    check_replica_slots(&topology, label, options)?;
    Ok(emit::scenario_text(&topology, label, options))
}

/// Refuses more replicas over all services than the scenario's limit, at the service whose
/// replicas pass it (or naming `--replicas` when that option gives every service its count).
fn check_replica_slots(
    topology: &Topology,
    label: &str,
    options: &ImportOptions,
) -> Result<(), ScenarioErrors> {
    let limit = scenario::limits::MAX_REPLICAS_TOTAL;
    if let Some(replicas) = options.replicas {
        let services = topology.services.len() as u64;
        let total = u64::from(replicas) * services;
        if total > limit {
            return Err(ScenarioErrors::single(
                "--replicas",
                format!(
                    "{replicas} replicas for each of {services} services make {total}, more than \
                     meshsim's limit of {limit} over all services"
                ),
            ));
        }
        return Ok(());
    }
    let mut total = 0u64;
    for service in &topology.services {
        total += service.replicas;
        if total > limit {
            let (line, column) = service.replicas_at;
            return Err(ScenarioErrors(vec![ScenarioError {
                file: label.to_string(),
                line,
                column,
                message: format!(
                    "the services up to \"{}\" have {total} replicas together, more than \
                     meshsim's limit of {limit} over all services",
                    service.name
                ),
            }]));
        }
    }
    Ok(())
}

/// The scenario source of the isotope topology at `path`, imported with `options`: problems of
/// the YAML name `path`; the source is labelled `path (imported)`, so problems found when it is
/// loaded (a bad `--set` or option) carry positions in the text `meshsim import isotope` prints.
pub fn isotope_source(path: &Path, options: &ImportOptions) -> Result<Source, ScenarioErrors> {
    let label = path.display().to_string();
    let text = scenario::read_text(path, &label, "an isotope topology (YAML)")?;
    Ok(Source {
        text: isotope_scenario(&text, &label, options)?,
        label: format!("{label} (imported)"),
        base_dir: scenario::base_dir(path).to_path_buf(),
    })
}
