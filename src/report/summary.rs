//! `summary.json`: the run's figures, byte-identical for the same file and seed.

use crate::engine::time::nanos_to_millis;
use crate::model::{Model, Outcome};
use crate::sim::{LatencyStats, OutcomeCounts, RunResult};
use serde::Serialize;
use std::collections::BTreeMap;

/// The whole summary, in the order the spec lists its fields.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// Measured end-to-end requests and how they ended.
    pub requests: Requests,
    /// Succeeded / offered.
    pub availability: f64,
    /// End-to-end latency of succeeded requests, milliseconds.
    pub latency_ms: Latency,
    /// Per service, by name.
    pub services: BTreeMap<String, ServiceSummary>,
    /// Load offered during `[0, duration_s)`, seconds.
    pub duration_s: f64,
    /// Requests arriving before this are not measured, seconds.
    pub warmup_s: f64,
    /// Offered end-to-end requests per second of the measured interval.
    pub offered_rate: f64,
    /// Succeeded end-to-end requests per second of the measured interval.
    pub goodput: f64,
    /// Events the engine handled (deterministic: a measure of the run's size).
    pub events: u64,
    /// The run judged against the scenario's `[slo]` (only when it has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::analysis::slo::SloReport>,
}

/// Counts of end-to-end requests.
#[derive(Debug, Serialize)]
pub struct Requests {
    /// Arrived in the measured interval.
    pub offered: u64,
    /// Ended with a response without error.
    pub succeeded: u64,
    /// Ended otherwise (the sum of `outcomes`).
    pub failed: u64,
    /// Failures by outcome.
    pub outcomes: Outcomes,
}

/// Failures by outcome.
#[derive(Debug, Serialize)]
pub struct Outcomes {
    /// The caller gave up.
    pub timeout: u64,
    /// Nobody answered (crashed replica, no replica in view).
    pub refused: u64,
    /// The server answered with an error.
    pub error: u64,
    /// A full queue turned the request away.
    pub rejected: u64,
    /// A circuit breaker refused locally.
    pub circuit_open: u64,
}

impl From<&OutcomeCounts> for Outcomes {
    fn from(counts: &OutcomeCounts) -> Self {
        Outcomes {
            timeout: counts.get(Outcome::Timeout),
            refused: counts.get(Outcome::Refused),
            error: counts.get(Outcome::Error),
            rejected: counts.get(Outcome::Rejected),
            circuit_open: counts.get(Outcome::CircuitOpen),
        }
    }
}

/// End-to-end latency, milliseconds.
#[derive(Debug, Serialize)]
pub struct Latency {
    /// Exact mean.
    pub mean: f64,
    /// Median (HDR histogram, 3 significant digits).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Exact maximum.
    pub max: f64,
}

impl From<&LatencyStats> for Latency {
    fn from(stats: &LatencyStats) -> Self {
        let quantile = |q: f64| nanos_to_millis(stats.quantile_nanos(q) as f64);
        Latency {
            mean: nanos_to_millis(stats.mean_nanos()),
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: nanos_to_millis(stats.max_nanos() as f64),
        }
    }
}

/// One service's figures over the measured interval.
#[derive(Debug, Serialize)]
pub struct ServiceSummary {
    /// Tries that reached a replica.
    pub requests: u64,
    /// Of those, answered without error.
    pub succeeded: u64,
    /// Busy worker-time over available worker-time (replicas x workers x measured time).
    pub utilization: f64,
    /// Arrival at a replica to response leaving it, succeeded tries, milliseconds.
    pub latency_ms: ServiceLatency,
    /// Outcomes of the tries sent to it, as callers saw them.
    pub tries: TryCounts,
    /// Retries sent to it.
    pub retries: u64,
    /// Hedges sent to it (extra tries while an earlier one was still in flight).
    pub hedges: u64,
    /// Calls made to it. Each sends a first try, so tries sent = calls + retries + hedges =
    /// the sum of `tries` + `tries_cancelled` + `tries_in_flight_at_end`.
    pub calls: u64,
    /// Tries abandoned without an outcome: another try of the same call succeeded first.
    pub tries_cancelled: u64,
    /// Tries still in flight when the run ended (downstream calls of requests that had already
    /// ended, for instance by a timeout of their caller).
    pub tries_in_flight_at_end: u64,
    /// Tries sent to it by a caller in another zone.
    pub cross_zone_tries: u64,
    /// Compute time spent on tries whose caller had already given up, milliseconds.
    pub wasted_work_ms: f64,
    /// Queued tries dropped unserved because their caller had given up (deadline propagation).
    pub expired: u64,
    /// Queued tries shed (rejected) after waiting longer than the service's `max_queue_time`.
    pub shed: u64,
}

/// A service's latency, milliseconds.
#[derive(Debug, Serialize)]
pub struct ServiceLatency {
    /// Exact mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Outcomes of tries sent to a service.
#[derive(Debug, Serialize)]
pub struct TryCounts {
    /// Answered without error.
    pub succeeded: u64,
    /// Failures by outcome.
    #[serde(flatten)]
    pub failures: Outcomes,
}

impl Summary {
    /// The summary of `result`, a run of `model`.
    pub fn new(model: &Model, result: &RunResult) -> Self {
        let measured_seconds = (model.duration - model.warmup) as f64 / 1e9;
        let succeeded = result.outcomes.get(Outcome::Succeeded);
        let services = model
            .services
            .iter()
            .zip(&result.services)
            .map(|(service, totals)| {
                let capacity = totals.capacity_worker_nanos;
                let summary = ServiceSummary {
                    requests: totals.requests,
                    succeeded: totals.succeeded,
                    utilization: if capacity > 0.0 {
                        totals.busy_worker_nanos / capacity
                    } else {
                        0.0
                    },
                    latency_ms: ServiceLatency {
                        mean: nanos_to_millis(totals.latency.mean_nanos()),
                        p50: nanos_to_millis(totals.latency.quantile_nanos(0.5) as f64),
                        p99: nanos_to_millis(totals.latency.quantile_nanos(0.99) as f64),
                    },
                    tries: TryCounts {
                        succeeded: totals.try_outcomes.get(Outcome::Succeeded),
                        failures: Outcomes::from(&totals.try_outcomes),
                    },
                    retries: totals.retries,
                    hedges: totals.hedges,
                    calls: totals.calls,
                    tries_cancelled: totals.tries_cancelled,
                    tries_in_flight_at_end: totals.tries_in_flight_at_end,
                    cross_zone_tries: totals.cross_zone_tries,
                    wasted_work_ms: nanos_to_millis(totals.wasted_nanos as f64),
                    expired: totals.expired,
                    shed: totals.shed,
                };
                (service.name.clone(), summary)
            })
            .collect();
        Summary {
            scenario: model.name.clone(),
            seed: model.seed,
            requests: Requests {
                offered: result.offered,
                succeeded,
                failed: result.outcomes.failed(),
                outcomes: Outcomes::from(&result.outcomes),
            },
            availability: result.availability(),
            latency_ms: Latency::from(&result.latency),
            services,
            duration_s: model.duration as f64 / 1e9,
            warmup_s: model.warmup as f64 / 1e9,
            offered_rate: result.offered as f64 / measured_seconds,
            goodput: succeeded as f64 / measured_seconds,
            events: result.events_handled,
            slo: None,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a summary always serialises");
        text.push('\n');
        text
    }
}
