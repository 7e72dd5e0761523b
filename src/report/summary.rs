//! `summary.json`: the run's figures, byte-identical for the same file and seed.

use crate::engine::time::nanos_to_millis;
use crate::model::{Model, Outcome};
use crate::sim::cause::{Cause, CauseCounts, NO_INDEX};
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
    /// Per workload, by name: its measured requests and their availability.
    pub workloads: BTreeMap<String, WorkloadSummary>,
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
    /// The `[[alert]]` rules evaluated on the run (only when it has some).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::analysis::alerts::AlertsReport>,
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
    /// Failures by root cause (the deepest failed try on each failure's path), most frequent
    /// first; the counts sum to `failed`.
    pub root_causes: Vec<RootCause>,
}

/// Failed end-to-end requests with one root cause.
#[derive(Debug, Serialize)]
pub struct RootCause {
    /// Service of the deepest failed try.
    pub service: String,
    /// Its replica index; `null` when the try never reached a replica (its caller answered it:
    /// no replica in view, circuit open, bulkhead or connection pool full).
    pub replica: Option<u32>,
    /// The try's outcome.
    pub outcome: &'static str,
    /// The fault in force there when it failed (`null`: none).
    pub fault: Option<FaultRef>,
    /// Why the call holding that try stopped trying.
    pub gave_up: &'static str,
    /// Failed end-to-end requests with this root cause.
    pub requests: u64,
    /// The cause in words, e.g. `refused by article#0 (crash article#0 40–100 s), retries
    /// exhausted`.
    pub label: String,
}

/// A fault of the scenario, as a root cause names it.
#[derive(Debug, Serialize)]
pub struct FaultRef {
    /// Index among the scenario's faults (file order, from 0).
    pub index: u32,
    /// Kind (`crash`, `errors`, ...).
    pub kind: &'static str,
    /// Target as written.
    pub target: String,
    /// Start, seconds.
    pub from_s: f64,
    /// End, seconds (`null`: until the end of the run).
    pub until_s: Option<f64>,
}

/// One workload's measured end-to-end requests.
#[derive(Debug, Serialize)]
pub struct WorkloadSummary {
    /// Its entry endpoint, `service/endpoint`.
    pub endpoint: String,
    /// Measured requests (arrived in the measured interval).
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Of those, failed.
    pub failed: u64,
    /// Succeeded / offered (1 when nothing was offered).
    pub availability: f64,
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

/// `crash article#0 40–100 s`: a fault's kind, target and time span.
pub fn fault_label(model: &Model, index: usize) -> String {
    let fault = &model.faults[index];
    let from = crate::report::format::seconds(fault.at as f64 / 1e9);
    let span = match fault.until {
        Some(until) => format!(
            "{from}–{} s",
            crate::report::format::seconds(until as f64 / 1e9)
        ),
        None => format!("from {from} s"),
    };
    format!("{} {} {span}", fault.kind.name(), fault.target_label)
}

/// The root cause in words: where the deepest failed try failed, the fault there, and why its
/// call stopped trying.
pub fn cause_label(model: &Model, cause: &Cause) -> String {
    let service = &model.services[cause.service as usize].name;
    let place = if cause.replica == NO_INDEX {
        match cause.outcome {
            Outcome::Refused => format!("refused: no replica of {service} in view"),
            Outcome::CircuitOpen => format!("circuit open to {service}"),
            Outcome::Rejected => format!("rejected by the caller's pool to {service}"),
            Outcome::Timeout => format!("timeout before reaching {service}"),
            other => format!("{} at the caller of {service}", other.name()),
        }
    } else {
        let replica = format!("{service}#{}", cause.replica);
        match cause.outcome {
            Outcome::Refused => format!("refused by {replica}"),
            Outcome::Error => format!("error from {replica}"),
            Outcome::Timeout => format!("timeout waiting on {replica}"),
            Outcome::Rejected => format!("rejected by {replica}"),
            other => format!("{} at {replica}", other.name()),
        }
    };
    let fault = if cause.fault == NO_INDEX {
        " (no fault in force)".to_string()
    } else {
        format!(" ({})", fault_label(model, cause.fault as usize))
    };
    format!("{place}{fault}, {}", cause.gave_up.name())
}

/// The root causes of `counts`, most frequent first (ties in the causes' own order).
pub fn root_causes(model: &Model, counts: &CauseCounts) -> Vec<RootCause> {
    let mut causes: Vec<(&Cause, u64)> = counts.0.iter().map(|(c, &n)| (c, n)).collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    causes
        .into_iter()
        .map(|(cause, requests)| RootCause {
            service: model.services[cause.service as usize].name.clone(),
            replica: (cause.replica != NO_INDEX).then_some(cause.replica),
            outcome: cause.outcome.name(),
            fault: (cause.fault != NO_INDEX).then(|| {
                let fault = &model.faults[cause.fault as usize];
                FaultRef {
                    index: cause.fault,
                    kind: fault.kind.name(),
                    target: fault.target_label.clone(),
                    from_s: fault.at as f64 / 1e9,
                    until_s: fault.until.map(|until| until as f64 / 1e9),
                }
            }),
            gave_up: cause.gave_up.name(),
            requests,
            label: cause_label(model, cause),
        })
        .collect()
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
        let workloads = model
            .workloads
            .iter()
            .zip(&result.workload_outcomes)
            .map(|(workload, outcomes)| {
                let offered = outcomes.total();
                let succeeded = outcomes.get(Outcome::Succeeded);
                let summary = WorkloadSummary {
                    endpoint: model.endpoint_label(workload.target),
                    offered,
                    succeeded,
                    failed: outcomes.failed(),
                    availability: if offered == 0 {
                        1.0
                    } else {
                        succeeded as f64 / offered as f64
                    },
                };
                (workload.name.clone(), summary)
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
                root_causes: root_causes(model, &result.causes),
            },
            availability: result.availability(),
            latency_ms: Latency::from(&result.latency),
            services,
            workloads,
            duration_s: model.duration as f64 / 1e9,
            warmup_s: model.warmup as f64 / 1e9,
            offered_rate: result.offered as f64 / measured_seconds,
            goodput: succeeded as f64 / measured_seconds,
            events: result.events_handled,
            slo: None,
            alerts: None,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a summary always serialises");
        text.push('\n');
        text
    }
}
