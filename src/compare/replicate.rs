//! Running the grid: every variant × every replication, in parallel on the current rayon pool,
//! collected in a fixed order so that the results do not depend on the number of threads.
//!
//! Replication `r` of every variant runs with the same seed, derived from the variant's scenario
//! seed and `r` only ([`replication_seed`]); the simulator draws every random number from streams
//! keyed by that seed and the identity of what draws, so replication `r` of every variant sees the
//! same arrivals and the same per-request work (common random numbers).

use crate::analysis::alerts::AlertsReport;
use crate::analysis::slo::{self, EdgeRecorder, SloReport};
use crate::engine::derive_key;
use crate::engine::time::nanos_to_millis;
use crate::model::{Model, Outcome};
use crate::sim::{NullRecorder, RunResult, Simulation};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What one metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Key in `comparison.json`.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// How one replication's value is computed.
    pub description: &'static str,
    /// Short label for tables.
    pub label: &'static str,
}

/// The metrics of a replication, in display order.
pub const METRICS: [MetricDef; 9] = [
    MetricDef {
        name: "availability",
        unit: "fraction",
        higher_is_better: true,
        description: "measured end-to-end requests that succeeded / offered",
        label: "availability",
    },
    MetricDef {
        name: "latency_mean_ms",
        unit: "ms",
        higher_is_better: false,
        description: "mean end-to-end latency of the succeeded measured requests",
        label: "mean latency",
    },
    MetricDef {
        name: "latency_p50_ms",
        unit: "ms",
        higher_is_better: false,
        description: "median end-to-end latency of the succeeded measured requests",
        label: "p50 latency",
    },
    MetricDef {
        name: "latency_p99_ms",
        unit: "ms",
        higher_is_better: false,
        description: "99th percentile end-to-end latency of the succeeded measured requests",
        label: "p99 latency",
    },
    MetricDef {
        name: "latency_p999_ms",
        unit: "ms",
        higher_is_better: false,
        description: "99.9th percentile end-to-end latency of the succeeded measured requests",
        label: "p99.9 latency",
    },
    MetricDef {
        name: "goodput",
        unit: "requests/s",
        higher_is_better: true,
        description: "succeeded measured requests per second of the measured interval",
        label: "goodput",
    },
    MetricDef {
        name: "retries_per_request",
        unit: "retries/request",
        higher_is_better: false,
        description: "retries sent to every service, summed, / offered end-to-end requests",
        label: "retries/request",
    },
    MetricDef {
        name: "wasted_work_ms",
        unit: "ms",
        higher_is_better: false,
        description: "compute time spent on tries whose caller had given up, summed over services",
        label: "wasted work",
    },
    MetricDef {
        name: "replica_seconds",
        unit: "replica-seconds",
        higher_is_better: false,
        description: "replicas x measured seconds, summed over services (the capacity paid for)",
        label: "replica-seconds",
    },
];

/// The seed of replication `index` of a scenario whose seed is `seed`: replication 0 runs with
/// the scenario's own seed (it is exactly `meshsim run` of the variant), replication r >= 1 with
/// `derive_key(seed, r)` (SplitMix64-mixed, so that the replications of nearby scenario seeds do
/// not overlap).
pub fn replication_seed(seed: u64, index: u32) -> u64 {
    if index == 0 {
        seed
    } else {
        derive_key(seed, u64::from(index))
    }
}

/// One finished replication.
#[derive(Debug, Clone)]
pub struct ReplicationRun {
    /// Replication index.
    pub index: u32,
    /// Its seed.
    pub seed: u64,
    /// Measured end-to-end requests.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// The values of [`METRICS`], in that order.
    pub values: [f64; METRICS.len()],
    /// The run judged against `[slo]`, when the model has one.
    pub slo: Option<SloReport>,
    /// The `[[alert]]` rules evaluated on the run, when the model has some.
    pub alerts: Option<AlertsReport>,
    /// The end-to-end latency distribution as `latency.csv` text
    /// ([`crate::report::latency_quantiles_csv`]), when asked to keep it: about 15 KB, where the
    /// histogram itself takes about 130 KB.
    pub latency_csv: Option<String>,
    /// Why the run was stopped before its end, if it was ([`crate::sim::RunResult::stopped`]).
    pub stopped: Option<String>,
}

/// Runs replication `index` of `model` (with its seed replaced by [`replication_seed`]).
pub fn run_replication(model: &Model, index: u32, keep_latency: bool) -> ReplicationRun {
    let mut model = model.clone();
    model.seed = replication_seed(model.seed, index);
    let recorder = EdgeRecorder::for_model(NullRecorder, &model);
    let (result, recorder) = Simulation::run(&model, recorder);
    let (_, windows) = recorder.into_parts();
    let slo = model
        .slo
        .as_ref()
        .map(|slo| slo::evaluate(&model, slo, &result, &windows));
    let alerts = crate::analysis::alerts::evaluate(&model, &windows);
    ReplicationRun {
        alerts,
        index,
        seed: model.seed,
        offered: result.offered,
        succeeded: result.outcomes.get(Outcome::Succeeded),
        values: metric_values(&model, &result),
        slo,
        stopped: result.stopped.clone(),
        latency_csv: keep_latency.then(|| {
            let mut text = crate::report::latency_quantiles_csv(&result.latency);
            text.shrink_to_fit();
            text
        }),
    }
}

/// The [`METRICS`] of one run.
pub fn metric_values(model: &Model, result: &RunResult) -> [f64; METRICS.len()] {
    let measured_seconds = (model.duration - model.warmup) as f64 / 1e9;
    let latency = &result.latency;
    let quantile = |q: f64| nanos_to_millis(latency.quantile_nanos(q) as f64);
    let retries: u64 = result.services.iter().map(|s| s.retries).sum();
    let wasted: u64 = result.services.iter().map(|s| s.wasted_nanos).sum();
    // Replica-seconds of ready replicas in the measured interval (autoscaling changes it).
    let replica_seconds: f64 = model
        .services
        .iter()
        .zip(&result.services)
        .map(|(spec, totals)| totals.capacity_worker_nanos / f64::from(spec.workers) / 1e9)
        .sum();
    [
        result.availability(),
        nanos_to_millis(latency.mean_nanos()),
        quantile(0.5),
        quantile(0.99),
        quantile(0.999),
        result.outcomes.get(Outcome::Succeeded) as f64 / measured_seconds,
        if result.offered == 0 {
            0.0
        } else {
            retries as f64 / result.offered as f64
        },
        nanos_to_millis(wasted as f64),
        replica_seconds,
    ]
}

/// Reported after each replication finishes (from whichever thread ran it, in any order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Index of the variant.
    pub variant: usize,
    /// Index of the replication.
    pub replication: u32,
    /// Replications finished so far, this one included.
    pub finished: usize,
    /// Replications in all.
    pub total: usize,
}

/// Runs `replications` replications of every model on the current rayon pool; calls
/// `on_finished` after each. Returns, per model in order, its replications by index (replication
/// 0 keeps its latency distribution). The result is the same whatever the number of threads.
pub fn run_grid(
    models: &[Model],
    replications: u32,
    on_finished: &(dyn Fn(Progress) + Sync),
) -> Vec<Vec<ReplicationRun>> {
    let mut grid: Vec<Vec<ReplicationRun>> = Vec::with_capacity(models.len());
    let models: Vec<&Model> = models.iter().collect();
    run_grid_streamed(&models, replications, on_finished, &mut |_, runs| {
        grid.push(runs)
    });
    grid
}

/// Items run together before their results are handed on: enough to keep every thread busy
/// (a chunk's last items leave threads idle), few enough that the runs in hand stay small.
fn chunk_items() -> usize {
    (rayon::current_num_threads() * 16).max(64)
}

/// [`run_grid`], handing each model's replications to `consume(model index, runs)` in model
/// order as soon as they are done, instead of keeping them all: models are run in chunks of
/// whole models of about `chunk_items` items, so the runs held at once are those of one
/// chunk, whatever the size of the grid.
pub fn run_grid_streamed(
    models: &[&Model],
    replications: u32,
    on_finished: &(dyn Fn(Progress) + Sync),
    consume: &mut dyn FnMut(usize, Vec<ReplicationRun>),
) {
    let total = models.len() * replications as usize;
    let finished = AtomicUsize::new(0);
    let models_per_chunk = chunk_items().div_ceil(replications as usize).max(1);
    let mut first = 0;
    while first < models.len() {
        let last = (first + models_per_chunk).min(models.len());
        let tasks: Vec<(usize, u32)> = (first..last)
            .flat_map(|v| (0..replications).map(move |r| (v, r)))
            .collect();
        let runs: Vec<ReplicationRun> = tasks
            .into_par_iter()
            .map(|(variant, replication)| {
                let run = run_replication(models[variant], replication, replication == 0);
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                on_finished(Progress {
                    variant,
                    replication,
                    finished: done,
                    total,
                });
                run
            })
            .collect();
        let mut runs = runs.into_iter();
        for variant in first..last {
            consume(variant, runs.by_ref().take(replications as usize).collect());
        }
        first = last;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_seed_and_index_only() {
        assert_eq!(replication_seed(42, 0), 42);
        assert_eq!(replication_seed(42, 3), replication_seed(42, 3));
        let seeds: Vec<u64> = (0..50).map(|r| replication_seed(42, r)).collect();
        for (i, a) in seeds.iter().enumerate() {
            assert!(seeds[i + 1..].iter().all(|b| b != a), "seeds repeat");
        }
        // The replications of seed 42 and seed 43 do not overlap.
        assert!((1..50).all(|r| replication_seed(43, r) != replication_seed(42, r + 1)));
        assert_ne!(replication_seed(42, 1), 43);
    }

    #[test]
    fn metric_names_are_unique() {
        for (i, metric) in METRICS.iter().enumerate() {
            assert!(METRICS[i + 1..].iter().all(|m| m.name != metric.name));
        }
    }
}
