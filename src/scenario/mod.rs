//! Scenario files: reads a TOML scenario (the format is documented in `docs/scenario.md`), applies
//! `--set` overrides, checks it and turns it into a validated [`Model`]. It knows no other format:
//! importers (`crate::import`) produce scenario text that comes through [`Source`] like a file's.
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

mod alerts;
mod build;
mod calls;
mod context;
mod dist;
pub(crate) mod duration;
mod error;
mod extras;
mod faults;
mod fields;
mod file;
mod governance;
mod graph;
mod keys;
pub mod limits;
mod operations;
mod overrides;
mod policy;
mod raw;
mod services;
mod suggest;
mod trace;
mod workloads;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use crate::model::Model;
use context::Ctx;

pub use error::{ScenarioError, ScenarioErrors};
pub use file::{json_schema, ScenarioFile};

/// The commented starter scenario `meshsim init` writes (it validates and runs).
pub const STARTER: &str = include_str!("starter.toml");
pub(crate) use duration::format_ns;
#[cfg(test)]
pub(crate) use duration::parse_duration;
pub(crate) use graph::cycles;
pub use overrides::Override;

/// A scenario's text with what it needs to be read: the label its messages name (the file's path,
/// or `path (imported)` for text an importer made) and the folder relative paths inside it start
/// from. Loading it again with other overrides (each variant of a comparison) reads nothing twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The scenario text (TOML).
    pub text: String,
    /// What messages call it.
    pub label: String,
    /// Where relative paths inside it (empirical distributions, traces) start.
    pub base_dir: PathBuf,
}

impl Source {
    /// Reads the TOML scenario file at `path`.
    pub fn read(path: &Path) -> Result<Source, ScenarioErrors> {
        let label = path.display().to_string();
        Ok(Source {
            text: read_text(path, &label, TOML_KIND)?,
            label,
            base_dir: base_dir(path).to_path_buf(),
        })
    }

    /// Applies `overrides` (in order) and returns the validated model, or every problem found.
    pub fn load(&self, overrides: &[Override]) -> Result<Model, ScenarioErrors> {
        load_str(&self.text, &self.label, &self.base_dir, overrides)
    }

    /// The overrides that cannot be applied to the text at all (their key names no place in
    /// it: `service.nosuch.workers`, `fault.7.at`), each as (index in `overrides`, message):
    /// the problems [`Source::load`] reports as the `--set` whatever its value.
    pub fn unapplied(&self, overrides: &[Override]) -> Vec<(usize, String)> {
        let text = self.text.strip_prefix('\u{feff}').unwrap_or(&self.text);
        overrides::apply(text, overrides).err().unwrap_or_default()
    }
}

/// Reads the TOML scenario file at `path`, applies `overrides` (in order) and returns the
/// validated model, or every problem found. Paths inside the file (empirical distributions) are
/// relative to the file's folder. A missing or unreadable file, and a file that is not UTF-8
/// text, give one problem without a position.
pub fn load_file(path: &Path, overrides: &[Override]) -> Result<Model, ScenarioErrors> {
    Source::read(path)?.load(overrides)
}

/// The text of the file at `path` (labelled `label` in messages), which should be `kind` (e.g.
/// "a TOML scenario"): one problem without a position when it cannot be read or is not UTF-8.
pub fn read_text(path: &Path, label: &str, kind: &str) -> Result<String, ScenarioErrors> {
    // Only a regular file has a known end (`meshsim validate /dev/zero` read for ever).
    if let Ok(metadata) = std::fs::metadata(path) {
        let limit = limits::MAX_SCENARIO_BYTES;
        if !metadata.is_file() {
            let message =
                format!("{label} is not a regular file (devices, pipes and folders are refused)");
            return Err(ScenarioErrors::single(label, message));
        }
        if metadata.len() > limit {
            let message = format!(
                "{label} is {} bytes, more than the limit of {limit}",
                metadata.len()
            );
            return Err(ScenarioErrors::single(label, message));
        }
    }
    let bytes = limits::read_at_most(path, limits::MAX_SCENARIO_BYTES)
        .map_err(|error| ScenarioErrors::single(label, format!("cannot read {label}: {error}")))?;
    match error::not_text_at(&bytes) {
        Some(bad) => Err(not_text(label, kind, &bad)),
        None => String::from_utf8(bytes).map_err(|_| ScenarioErrors::single(label, "not UTF-8")),
    }
}

/// The folder relative paths in the file at `path` start from (`.` for a bare file name).
pub fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Reads a scenario from `text`, labelled `file_label` in messages, with relative paths inside it
/// starting from `base_dir`; applies `overrides` (in order) first. A problem on a line of the
/// file is reported at that line; a problem in a value an override wrote names the override
/// (`--set key=value`) instead. Returns the validated model, or every problem found.
pub fn load_str(
    text: &str,
    file_label: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Model, ScenarioErrors> {
    if let Some(bad) = error::not_text_at(text.as_bytes()) {
        return Err(not_text(file_label, TOML_KIND, &bad));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let edited = if overrides.is_empty() {
        None
    } else {
        Some(overrides::apply(text, overrides).map_err(|messages| {
            ScenarioErrors(
                messages
                    .into_iter()
                    .map(|(index, m)| ScenarioError::without_position(overrides[index].label(), m))
                    .collect(),
            )
        })?)
    };
    let (text, mut ctx) = match &edited {
        None => (text, Ctx::new(file_label, text, base_dir)),
        Some(edited) => {
            let labels = overrides.iter().map(Override::label).collect();
            let ctx =
                Ctx::new(file_label, &edited.text, base_dir).with_edits(&edited.origins, labels);
            (edited.text.as_str(), ctx)
        }
    };
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

/// The model of `text` with `overrides` applied, its `[[change]]` tables skipped: what the
/// services' policies are once a change has reached a client.
fn load_variant(
    text: &str,
    base_dir: &Path,
    overrides: &[Override],
) -> Result<Model, ScenarioErrors> {
    let label = "the scenario";
    let edited = overrides::apply(text, overrides).map_err(|messages| {
        ScenarioErrors(
            messages
                .into_iter()
                .map(|(index, m)| ScenarioError::without_position(overrides[index].label(), m))
                .collect(),
        )
    })?;
    let mut ctx = Ctx::new(label, &edited.text, base_dir);
    ctx.skip_changes = true;
    let root = match raw::parse(&edited.text) {
        Ok(root) => root,
        Err(error) => {
            ctx.error_at(error.offset, error.message);
            return ctx.finish(None);
        }
    };
    let model = build::build(&root, &mut ctx);
    ctx.finish(model)
}

/// Checks that `key` (dotted, as `--set` and `--vary` take it) names a key of the scenario
/// format; the error says which part is unknown and suggests the whole key when one is close
/// ("did you mean policy.balancer?").
pub fn check_key(key: &str) -> Result<(), String> {
    keys::check(&key_path(key)?)
}

/// The segments of the dotted key `key` (`service."a.b".workers` has three).
pub fn key_path(key: &str) -> Result<Vec<String>, String> {
    Ok(toml_edit::Key::parse(key)
        .map_err(|_| format!("\"{key}\" is not a dotted key like service.article.workers"))?
        .iter()
        .map(|k| k.get().to_string())
        .collect())
}

/// Checks that `key` may be an axis of `meshsim compare` (`--vary`, a key of `[compare]`): a key
/// of the format ([`check_key`]) whose value can differ between variants and change what they
/// measure. Returns its segments.
pub fn check_axis_key(key: &str) -> Result<Vec<String>, String> {
    check_key(key)?;
    let path = key_path(key)?;
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let refusal = match segments.as_slice() {
        ["compare", "replications"] => {
            "the replications are not a setting of a variant (every variant runs the same \
             replications): give their number with `replications = N` in [compare] or `-r N`"
        }
        ["compare", ..] => {
            "[compare] says what a comparison varies; it is not a setting of a variant"
        }
        ["scenario", "seed"] => {
            "the seed cannot be varied: every variant runs with the same seeds, so that its \
             differences with the baseline are paired (common random numbers); the replications \
             already run with different seeds (`-r N` for more), and `--seed N` sets the root seed"
        }
        ["scenario", "name"] => {
            "the name changes nothing in a run: every variant would be the same"
        }
        ["scenario"] => {
            "[scenario] cannot be varied whole (its seed must be the same for every variant): \
             vary one of its keys, like scenario.duration"
        }
        _ => return Ok(path),
    };
    Err(refusal.to_string())
}

/// A key of `[compare]` as it is written there, in double quotes (`"policy.balancer"`), for
/// messages.
pub fn quoted_key(key: &str) -> String {
    if key.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        toml_edit::Key::new(key).display_repr().into_owned()
    } else {
        format!("\"{key}\"")
    }
}

/// A text equal for two values of a `--set` (or `--vary`, or `[compare]`) exactly when they
/// set the same value: `p2c` and `"p2c"`, `8` and `0x8` are one value.
pub fn canonical_value(text: &str) -> String {
    overrides::canonical_value(text)
}

/// What a scenario file is, in "is it ...?" messages.
const TOML_KIND: &str = "a TOML scenario";

/// A file that is not text, at the first byte that is not.
fn not_text(label: &str, kind: &str, bad: &error::NotText) -> ScenarioErrors {
    ScenarioErrors(vec![ScenarioError {
        file: label.to_string(),
        line: bad.line,
        column: bad.column,
        message: format!("{label} is not a text file (is it {kind}?): {bad}"),
    }])
}
