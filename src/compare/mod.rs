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

use crate::model::{CompareAxis, Model};
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
/// is returned as a message line, once, however many variants share it; nothing has run.
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
    let names: Vec<Naming> = if vary.is_empty() {
        base.compare
            .iter()
            .flat_map(|spec| spec.axes.iter().cloned().map(Naming::Compare))
            .collect()
    } else {
        vary.iter().cloned().map(Naming::Vary).collect()
    };
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
    let mut problems = overridden(overrides, &axes, &names);
    // Each problem once, however many variants it recurs in (a value's, in every variant
    // holding it), ranked: a problem of an axis by the axis and by its key (0) or value
    // (1 + index), which is the order they are written in; any other problem of a variant
    // after those, in variant order.
    let mut found: Vec<Found> = Vec::new();
    let mut known: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut variants = Vec::new();
    for (index, variant) in grid::variants(&axes).into_iter().enumerate() {
        let mut all = overrides.to_vec();
        all.extend(variant.overrides());
        match source.load(&all) {
            Ok(model) => variants.push((variant, model)),
            Err(errors) => {
                let unapplied = source.unapplied(&all);
                let at = grid::value_indices(&axes, index);
                for error in &errors.0 {
                    let (rank, message) = variant_problem(
                        error,
                        &variant,
                        index,
                        &at,
                        &names,
                        &unapplied,
                        overrides.len(),
                    );
                    match known.get(&message) {
                        Some(&seen) => found[seen].count += 1,
                        None => {
                            known.insert(message.clone(), found.len());
                            found.push(Found {
                                rank,
                                message,
                                first: variant.name.clone(),
                                count: 1,
                            });
                        }
                    }
                }
            }
        }
    }
    found.sort_by_key(|problem| problem.rank);
    problems.extend(found.into_iter().map(|problem| {
        // A key is in every variant, a value in those of its axis's other values; a problem
        // that only some of them have comes of a combination, which the first one names.
        let holders = match problem.rank {
            (0, _, 0) => variant_count,
            (0, axis, _) => variant_count / axes[axis].values.len().max(1) as u64,
            _ => 1,
        };
        if problem.count < holders {
            format!(
                "{} (in {} of the {holders} variants holding it, the first: {})",
                problem.message, problem.count, problem.first
            )
        } else {
            problem.message
        }
    }));
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

/// A problem of the variants, while they are loaded.
struct Found {
    /// Where it ranks (see [`plan`]).
    rank: (usize, usize, usize),
    /// What it says.
    message: String,
    /// The first variant that has it.
    first: String,
    /// How many variants have it.
    count: u64,
}

/// Where an axis was written, to name it in messages.
#[derive(Debug, Clone)]
enum Naming {
    /// The `--vary` argument.
    Vary(String),
    /// The key of `[compare]`, with where it and its values are.
    Compare(CompareAxis),
}

impl Naming {
    /// A problem of the axis's key, whatever its value.
    fn key_problem(&self, key: &str, message: &str) -> String {
        match self {
            Naming::Vary(arg) => format!("--vary {arg}: {message}"),
            Naming::Compare(axis) => {
                format!(
                    "{}: [compare] {}: {message}",
                    axis.key_at,
                    crate::scenario::quoted_key(key)
                )
            }
        }
    }

    /// A problem of the axis's value `index` (`value` as `--set` takes it).
    fn value_problem(&self, key: &str, index: usize, value: &str, message: &str) -> String {
        match self {
            Naming::Vary(_) => format!("--vary {key}={value}: {message}"),
            Naming::Compare(axis) => format!(
                "{}: [compare] {} = {}: {message}",
                axis.values_at
                    .get(index)
                    .map_or_else(String::new, ToString::to_string),
                crate::scenario::quoted_key(key),
                axis.written.get(index).map_or(value, String::as_str)
            ),
        }
    }

    /// What varies the axis: `--vary ARG`, or `[compare] "KEY" at FILE:LINE:COLUMN`.
    fn by(&self) -> String {
        match self {
            Naming::Vary(arg) => format!("--vary {arg}"),
            Naming::Compare(axis) => {
                format!(
                    "[compare] {} at {}",
                    crate::scenario::quoted_key(&axis.key),
                    axis.key_at
                )
            }
        }
    }
}

/// The user's `--set` that no variant would see: one of a varied key, or of a part of one
/// (every variant sets the varied key, whole, after the `--set`).
fn overridden(overrides: &[Override], axes: &[Axis], names: &[Naming]) -> Vec<String> {
    let mut problems = Vec::new();
    for o in overrides {
        let Ok(set) = crate::scenario::key_path(&o.key) else {
            continue;
        };
        for (axis, naming) in axes.iter().zip(names) {
            let Ok(varied) = crate::scenario::key_path(&axis.key) else {
                continue;
            };
            if !set.starts_with(&varied) {
                continue;
            }
            let whole = if set.len() > varied.len() {
                " whole"
            } else {
                ""
            };
            problems.push(format!(
                "{}: {} is varied ({}), and every variant sets it{whole} after the --set, which \
                 would change nothing: drop the --set, or put its value among the varied ones",
                o.label(),
                axis.key,
                naming.by()
            ));
            break;
        }
    }
    problems
}

/// A problem of the variant at `index` (whose value on each axis is at `at`), as the user wrote
/// what caused it, with its rank (see [`plan`]): a problem reported as the `--set` of one of the
/// variant's settings names that setting's key (when the key names no place in the scenario:
/// `unapplied` holds the overrides that could not be applied, the user's `user` first) or its
/// value, where the `--vary` or `[compare]` gave it; any other is prefixed with the variant's
/// name.
fn variant_problem(
    error: &ScenarioError,
    variant: &Variant,
    index: usize,
    at: &[usize],
    names: &[Naming],
    unapplied: &[(usize, String)],
    user: usize,
) -> ((usize, usize, usize), String) {
    let setting = variant
        .settings
        .iter()
        .enumerate()
        .find(|(_, (key, value))| {
            error.line == 0
                && error.file
                    == Override {
                        key: key.clone(),
                        value: value.clone(),
                    }
                    .label()
        });
    let (Some((axis, (key, value))), Some(naming)) =
        (setting, setting.and_then(|(axis, _)| names.get(axis)))
    else {
        return ((1, index, 0), format!("variant {}: {error}", variant.name));
    };
    let of_key = unapplied
        .iter()
        .any(|(o, message)| *o == user + axis && *message == error.message);
    if of_key {
        ((0, axis, 0), naming.key_problem(key, &error.message))
    } else {
        let value_index = at.get(axis).copied().unwrap_or(0);
        (
            (0, axis, 1 + value_index),
            naming.value_problem(key, value_index, value, &error.message),
        )
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
