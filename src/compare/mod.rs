//! `meshsim compare`: variants × replications with common random numbers, and the statistics
//! that compare them.
//!
//! Layout: [`grid`] turns `--vary` (or `[compare]`) into variants; [`replicate`] runs every
//! variant's replications in parallel (rayon) with shared seeds; [`stats`] holds the Student-t
//! intervals and paired differences; [`summarize`] makes a [`results::Comparison`] (the serde
//! types of `comparison.json`); [`export`] writes it as CSV, Markdown and a terminal table.
//!
//! Library use: [`plan`] loads and checks every variant (nothing runs yet), [`execute`] runs
//! them on the current rayon pool, [`write_report`] writes the folder.

pub mod export;
pub mod gate;
pub mod grid;
pub mod items;
pub mod merge;
pub mod replicate;
pub mod stats;

/// The types of `comparison.json` (they live in [`crate::analysis::comparison`], below both
/// `compare` and `report`).
pub use crate::analysis::comparison as results;
pub mod summarize;

use crate::model::Model;
use crate::report::{latency_quantiles_csv, OutputFiles};
use crate::scenario::{limits, Override, ScenarioError, Source};
use grid::{Axis, Variant};
use replicate::Progress;
use results::Comparison;
use std::path::Path;

/// Replications per variant when neither `--replications` nor `[compare] replications` says.
pub const DEFAULT_REPLICATIONS: u32 = 5;

/// Everything checked and loaded, ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario as the user's `--set` leave it (before any variant's settings).
    pub base: Model,
    /// The axes varied.
    pub axes: Vec<Axis>,
    /// The variants, the baseline first, each with its loaded model.
    pub variants: Vec<(Variant, Model)>,
    /// Replications per variant (at least 1).
    pub replications: u32,
}

/// A finished comparison: the figures, and each variant's end-to-end latency distribution from
/// replication 0 (for `latency-<slug>.csv`).
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The comparison (`comparison.json`).
    pub comparison: Comparison,
    /// Per variant, in order: replication 0's end-to-end latency, as `latency-<slug>.csv` text.
    pub latency_csv: Vec<String>,
    /// Why a run was stopped before its end (the first in variant then replication order), if
    /// one was: its figures are partial, and the comparison must not be reported.
    pub stopped: Option<String>,
}

/// Loads the scenario `source` with the user's `overrides`, works out the axes (from `vary`, or
/// the file's `[compare]`) and the replications (`replications`, else `[compare]`, else 5), and
/// loads every variant (the file with the user's overrides, then the variant's). Every problem
/// is returned as a message line; nothing has run.
pub fn plan(
    source: &Source,
    vary: &[String],
    replications: Option<u32>,
    overrides: &[Override],
) -> Result<Plan, Vec<String>> {
    let base = source
        .load(overrides)
        .map_err(|errors| errors.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let axes = grid::axes(vary, base.compare.as_ref()).map_err(|message| vec![message])?;
    let replications = replications
        .or_else(|| base.compare.as_ref().and_then(|c| c.replications))
        .unwrap_or(DEFAULT_REPLICATIONS);
    if replications == 0 {
        return Err(vec!["--replications must be at least 1".to_string()]);
    }
    if u64::from(replications) > limits::MAX_REPLICATIONS {
        return Err(vec![format!(
            "--replications {replications} is more than the limit of {} per variant",
            limits::MAX_REPLICATIONS
        )]);
    }
    let variant_count = axes.iter().fold(1u64, |count, axis| {
        count.saturating_mul(axis.values.len() as u64)
    });
    let runs = variant_count.saturating_mul(u64::from(replications));
    if runs > limits::MAX_COMPARE_RUNS {
        return Err(vec![format!(
            "{variant_count} variants × {replications} replications make {runs} runs, more than \
             the limit of {} (vary fewer values or run fewer replications)",
            limits::MAX_COMPARE_RUNS
        )]);
    }
    let mut problems = Vec::new();
    let mut variants = Vec::new();
    for variant in grid::variants(&axes) {
        let mut all = overrides.to_vec();
        all.extend(variant.overrides());
        match source.load(&all) {
            Ok(model) => variants.push((variant, model)),
            Err(errors) => {
                for error in &errors.0 {
                    problems.push(as_varied(error, &variant, !vary.is_empty()));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(Plan {
            base,
            axes,
            variants,
            replications,
        })
    } else {
        Err(problems)
    }
}

/// A problem of a variant, as the user wrote what caused it: a problem reported as the `--set`
/// of one of the variant's settings names the `--vary` (or the `[compare]` table) it came from;
/// any other is prefixed with the variant's name.
fn as_varied(error: &ScenarioError, variant: &Variant, from_vary: bool) -> String {
    let setting = variant.settings.iter().find(|(key, value)| {
        error.line == 0
            && error.file
                == Override {
                    key: key.clone(),
                    value: value.clone(),
                }
                .label()
    });
    match setting {
        Some((key, value)) if from_vary => format!("--vary {key}={value}: {}", error.message),
        Some((key, value)) => format!("[compare] {key} = {value}: {}", error.message),
        None => format!("variant {}: {error}", variant.name),
    }
}

/// Checks `-j N`: at most [`limits::MAX_THREADS`] (`None` or 0: all cores).
pub fn check_threads(threads: Option<usize>) -> Result<(), String> {
    match threads {
        Some(n) if n as u64 > limits::MAX_THREADS => Err(format!(
            "-j {n} is more than the limit of {} threads",
            limits::MAX_THREADS
        )),
        _ => Ok(()),
    }
}

/// Runs every replication of every variant of `plan` on the current rayon pool (wrap the call
/// in `ThreadPool::install` to choose the threads), calling `on_finished` after each one (from
/// the thread that ran it, in any order: the hook for a progress bar). The outcome does not
/// depend on the number of threads.
///
/// The grid is streamed: each variant's replications are folded into its part of the
/// comparison as soon as they are done, then dropped (only the baseline's are kept, for the
/// paired differences), so memory grows with the comparison's own size (a few hundred bytes
/// per replication, about 15 KB of latency quantiles per variant), not with the runs' details.
pub fn execute(plan: &Plan, on_finished: &(dyn Fn(Progress) + Sync)) -> Outcome {
    let models: Vec<&Model> = plan.variants.iter().map(|(_, model)| model).collect();
    let mut baseline: Vec<replicate::ReplicationRun> = Vec::new();
    let mut variants = Vec::with_capacity(models.len());
    let mut latency_csv = Vec::with_capacity(models.len());
    let mut stopped = None;
    replicate::run_grid_streamed(
        &models,
        plan.replications,
        on_finished,
        &mut |index, mut runs| {
            let variant = &plan.variants[index].0;
            if stopped.is_none() {
                stopped = runs.iter().find_map(|run| {
                    let reason = run.stopped.as_ref()?;
                    Some(format!(
                        "variant {}, replication {} (seed {}): {reason}",
                        variant.name, run.index, run.seed
                    ))
                });
            }
            latency_csv.push(
                runs[0]
                    .latency_csv
                    .take()
                    .unwrap_or_else(|| latency_quantiles_csv(&crate::sim::LatencyStats::default())),
            );
            if index == 0 {
                baseline = runs;
                variants.push(summarize::summarize_variant(
                    0, variant, &baseline, &baseline,
                ));
            } else {
                variants.push(summarize::summarize_variant(
                    index, variant, &runs, &baseline,
                ));
            }
        },
    );
    let header = summarize::Header {
        scenario: &plan.base.name,
        seed: plan.variants[0].1.seed,
        replications: plan.replications,
        axes: &plan.axes,
    };
    Outcome {
        comparison: summarize::comparison(header, variants),
        latency_csv,
        stopped,
    }
}

/// Writes `comparison.json`, `comparison.csv`, `comparison.md`, `replications.csv` and a
/// `latency-<slug>.csv` per variant into `dir`, with the plots and `report.html`
/// ([`crate::report::render_comparison_files`]), atomically (all files or none).
pub fn write_report(outcome: &Outcome, dir: &Path) -> std::io::Result<()> {
    write_comparison(&outcome.comparison, &outcome.latency_csv, dir)
}

/// [`write_report`] from the comparison and each variant's latency file contents (what
/// [`merge::merge`] has): the same bytes.
pub fn write_comparison(
    comparison: &Comparison,
    latency_csv: &[String],
    dir: &Path,
) -> std::io::Result<()> {
    let mut files = OutputFiles::new(dir)?;
    files.write("comparison.json", comparison.to_json().as_bytes())?;
    files.write(
        "comparison.csv",
        export::comparison_csv(comparison).as_bytes(),
    )?;
    files.write(
        "comparison.md",
        export::comparison_md(comparison).as_bytes(),
    )?;
    files.write(
        "replications.csv",
        export::replications_csv(comparison).as_bytes(),
    )?;
    for (variant, latency) in comparison.variants.iter().zip(latency_csv) {
        files.write(&variant.latency_file, latency.as_bytes())?;
    }
    crate::report::render_comparison_files(&mut files)?;
    files.commit_whole()
}
