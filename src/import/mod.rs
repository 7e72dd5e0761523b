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

/// Windows of the time series tried, shortest first, when the default 1 s would make more
/// windows or rows than the scenario allows: round figures up to a day.
const WINDOWS: [u64; 14] = [
    2_000_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    120_000_000_000,
    300_000_000_000,
    600_000_000_000,
    1_800_000_000_000,
    3_600_000_000_000,
    7_200_000_000_000,
    21_600_000_000_000,
    43_200_000_000_000,
    86_400_000_000_000,
];

/// The `window` to write for a scenario lasting `duration` nanoseconds with `rows_per_window`
/// rows per window (services, replicas and the end-to-end row): `None` while the default 1 s
/// keeps within the scenario's limits of windows and rows (counted as the reader counts them,
/// with the drain of the default 15 s timeout), else the shortest of [`WINDOWS`] that does.
pub(crate) fn time_series_window(duration: u64, rows_per_window: u64) -> Option<u64> {
    let end = duration
        .saturating_add(crate::model::CallPolicy::default().timeout)
        .saturating_add(1);
    let fits = |window: u64| {
        let windows = end.div_ceil(window);
        windows <= scenario::limits::MAX_WINDOWS
            && windows.saturating_mul(rows_per_window) <= scenario::limits::MAX_WINDOW_ROWS
    };
    if fits(1_000_000_000) {
        return None;
    }
    WINDOWS.into_iter().find(|&window| fits(window))
}

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
