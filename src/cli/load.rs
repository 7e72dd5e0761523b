//! From a path on the command line to a scenario: the one place that chooses between a TOML
//! scenario and a file an importer reads (`.yaml`/`.yml`: an Istio isotope topology, imported
//! in memory with the default options).

use super::AppError;
use crate::import;
use crate::model::Model;
use crate::scenario::{Override, Source};
use std::path::Path;

/// The scenario source of the file at `path`, whatever its format.
pub fn source(path: &Path) -> Result<Source, AppError> {
    let source = if import::is_isotope_path(path) {
        import::isotope_source(path, &import::isotope::ImportOptions::default())?
    } else {
        Source::read(path)?
    };
    Ok(source)
}

/// The validated model of the file at `path` with `overrides` applied.
pub fn model(path: &Path, overrides: &[Override]) -> Result<Model, AppError> {
    Ok(source(path)?.load(overrides)?)
}

/// Parses `--set` arguments (and `--seed`, applied last as `scenario.seed`) into overrides.
pub fn overrides(raw: &[String], seed: Option<u64>) -> Result<Vec<Override>, AppError> {
    let mut overrides = raw
        .iter()
        .map(|arg| Override::parse(arg))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| AppError::invalid(format!("--set: {message}")))?;
    if let Some(seed) = seed {
        overrides.push(Override {
            key: "scenario.seed".into(),
            value: seed.to_string(),
        });
    }
    Ok(overrides)
}
