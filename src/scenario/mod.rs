//! Scenario files: reads a TOML scenario (format in `shared/spec/scenario.md`), applies `--set`
//! overrides, checks it and turns it into a validated [`Model`].
//!
//! Every problem found is reported, each with the file, line and column (1-based) it is about and
//! what was expected; reading never panics on any input. Units: durations in the file are strings
//! with a unit (`"250ms"`) and become integer nanoseconds in the model; rates are requests per
//! second; probabilities are in [0, 1].
//!
//! Layout: `raw` parses the text into a tree of positioned values; `fields` reads typed
//! values from it (`duration` and `dist` parse duration and distribution strings);
//! `policy`, `services` (with `calls`), `workloads`, `faults` and `extras` read the
//! sections; `graph` checks the call graph for cycles; `build` puts the model together;
//! `overrides` edits the text for `--set`; `error` holds the public error types.

mod build;
mod calls;
mod context;
mod dist;
mod duration;
mod error;
mod extras;
mod faults;
mod fields;
mod file;
mod governance;
mod graph;
pub mod limits;
mod overrides;
mod policy;
mod raw;
mod services;
mod suggest;
mod trace;
mod workloads;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::model::Model;
use context::Ctx;

pub use error::{ScenarioError, ScenarioErrors};
pub use file::{json_schema, ScenarioFile};

/// The commented starter scenario `meshsim init` writes (it validates and runs).
pub const STARTER: &str = include_str!("starter.toml");
pub(crate) use duration::format_ns;
pub use overrides::Override;

/// Reads the scenario file at `path`, applies `overrides` (in order) and returns the validated
/// model, or every problem found. Paths inside the file (empirical distributions) are relative to
/// the file's folder. A missing or unreadable file, and a file that is not UTF-8 text, give one
/// problem without a position. A `.yaml`/`.yml` file is an Istio isotope topology, imported in
/// memory with the default options ([`crate::import`]).
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Model, ScenarioErrors> {
    if crate::import::is_isotope_path(path) {
        let options = crate::import::isotope::ImportOptions::default();
        return crate::import::load_isotope_file(path, &options, overrides);
    }
    let label = path.display().to_string();
    let bytes = std::fs::read(path)
        .map_err(|error| ScenarioErrors::single(&label, format!("cannot read {label}: {error}")))?;
    let text = String::from_utf8(bytes).map_err(|_| not_text(&label))?;
    let base_dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    load_str(&text, &label, base_dir, overrides)
}

/// Reads a scenario from `text`, labelled `file_label` in messages, with relative paths inside it
/// starting from `base_dir`; applies `overrides` (in order) first, so positions in messages refer
/// to the edited text. Returns the validated model, or every problem found.
pub fn load_str(
    text: &str,
    file_label: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Model, ScenarioErrors> {
    if text.contains('\0') {
        return Err(not_text(file_label));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let edited;
    let text = if overrides.is_empty() {
        text
    } else {
        edited = overrides::apply(text, overrides).map_err(|messages| {
            ScenarioErrors(
                messages
                    .into_iter()
                    .map(|m| ScenarioError::without_position(file_label, m))
                    .collect(),
            )
        })?;
        edited.as_str()
    };
    let mut ctx = Ctx::new(file_label, text, base_dir);
    let root = match raw::parse(text) {
        Ok(root) => root,
        Err(error) => {
            ctx.error_at(error.offset, error.message);
            return ctx.finish(None);
        }
    };
    let model = build::build(&root, &mut ctx);
    ctx.finish(model)
}

fn not_text(label: &str) -> ScenarioErrors {
    ScenarioErrors::single(
        label,
        format!("{label} is not a text file (is it a TOML scenario?)"),
    )
}
