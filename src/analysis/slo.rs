//! Service-level objectives: whether a run met its `[slo]`, how much error budget it burned, and
//! for each fault how long until the failures showed (time to detect) and how long after the
//! fault until the system was back within its objectives (time to recover).
//!
//! # Definitions
//! * **Pass/fail** is judged over the measured requests (arrived in `[warmup, duration)`):
//!   availability = succeeded / offered must be at least the target; each latency percentile of
//!   the succeeded requests must be at most its target.
//! * **Error budget burned** = (1 − availability) / (1 − availability target): 1 means the whole
//!   budget is spent. With a target of 1 it is 0 without failures and `null` (infinite) with any.
//! * The fault analysis reads the end-to-end windows of `timeseries.csv` (the `(end-to-end)`
//!   rows): in a window, the requests *ending* in it by outcome and the latency of those that
//!   succeeded. A window **meets the SLO** when its availability (succeeded / ended) is at least
//!   the target and each latency target holds for its succeeded requests (a window where nothing
//!   ended, or nothing succeeded, does not violate that part).
//! * **Time to detect** = end of the first window ending after the fault's start that holds a
//!   failed request or exceeds a latency target, minus the fault's start: the delay after which
//!   a per-window monitor sees the fault (an upper bound on the true delay, within one window).
//!   `null` when nothing shows.
//! * **Time to recover** = start of the first window of [`RECOVERY_WINDOWS`] consecutive windows
//!   that all meet the SLO, minus the moment recovery is measured from (`recovery_from_s`): the
//!   fault's end, or its start for a fault that lasts to the end of the load (which the system
//!   may still mask, e.g. by failing over). Only windows wholly inside the load period
//!   `[0, duration)` count; when fewer than [`RECOVERY_WINDOWS`] of them remain, all remaining
//!   ones (at least one) must meet the SLO. Otherwise the fault **did not recover**
//!   (`recovered: false`, `time_to_recover_s: null`).

use crate::engine::time::{nanos_to_millis, nanos_to_seconds};
use crate::model::{Model, Slo};
use crate::sim::{EventRecord, Recorder, ReplicaRow, RunResult, WindowRow, EDGE_ROW};
use serde::{Deserialize, Serialize};

/// Consecutive windows meeting the SLO needed to call a fault recovered.
pub const RECOVERY_WINDOWS: usize = 3;

/// One end-to-end window, as the fault analysis needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeWindow {
    /// Window start, nanoseconds.
    pub start: u64,
    /// Window end, nanoseconds.
    pub end: u64,
    /// Requests entering the system in the window.
    pub arrivals: u64,
    /// Requests ending in the window with success.
    pub succeeded: u64,
    /// Requests ending in the window with a failure (any outcome but success).
    pub failed: u64,
    /// (quantile, latency in nanoseconds) of the succeeded requests ending in the window, for the
    /// quantiles the recorder was asked to keep.
    pub latency: Vec<(f64, u64)>,
}

impl EdgeWindow {
    /// The kept latency at `quantile`, nanoseconds.
    fn latency_at(&self, quantile: f64) -> Option<u64> {
        self.latency
            .iter()
            .find(|(q, _)| *q == quantile)
            .map(|&(_, nanos)| nanos)
    }
}

/// A [`Recorder`] that passes everything on to `inner` and keeps the end-to-end window rows in
/// memory (a few numbers per window, so memory grows only with the number of windows).
#[derive(Debug)]
pub struct EdgeRecorder<R> {
    inner: R,
    quantiles: Vec<f64>,
    windows: Vec<EdgeWindow>,
}

impl<R: Recorder> EdgeRecorder<R> {
    /// Keeps the latency of each window at `quantiles` (no quantile: keeps no window).
    pub fn new(inner: R, quantiles: Vec<f64>) -> Self {
        EdgeRecorder {
            inner,
            quantiles,
            windows: Vec::new(),
        }
    }

    /// Keeps the quantiles `model`'s `[slo]` has targets for, and always p99; keeps no window
    /// at all when the model has no `[slo]` (nothing reads them then, and a run of a million
    /// windows would hold them all).
    pub fn for_model(inner: R, model: &Model) -> Self {
        if model.slo.is_none() {
            return EdgeRecorder::new(inner, Vec::new());
        }
        let mut quantiles = vec![0.99];
        if let Some(slo) = &model.slo {
            for &(quantile, _) in &slo.latency {
                if !quantiles.contains(&quantile) {
                    quantiles.push(quantile);
                }
            }
        }
        EdgeRecorder::new(inner, quantiles)
    }

    /// The inner recorder and the kept windows, in time order.
    pub fn into_parts(self) -> (R, Vec<EdgeWindow>) {
        (self.inner, self.windows)
    }
}

impl<R: Recorder> Recorder for EdgeRecorder<R> {
    fn window(&mut self, row: &WindowRow<'_>) {
        if row.service == EDGE_ROW && !self.quantiles.is_empty() {
            let counters = row.counters;
            self.windows.push(EdgeWindow {
                start: row.start,
                end: row.end,
                arrivals: counters.arrivals,
                succeeded: counters.succeeded,
                failed: counters.try_outcomes.failed(),
                latency: self
                    .quantiles
                    .iter()
                    .map(|&q| (q, counters.latency.quantile_nanos(q)))
                    .collect(),
            });
        }
        self.inner.window(row);
    }

    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        self.inner.replica_window(row);
    }

    fn event(&mut self, record: &EventRecord) {
        self.inner.event(record);
    }
}

/// The SLO section of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloReport {
    /// Every target was met over the measured requests.
    pub met: bool,
    /// The availability target and how the run did, if `[slo] availability` is given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub availability: Option<AvailabilityVerdict>,
    /// Each latency target, by increasing percentile.
    pub latency: Vec<LatencyVerdict>,
    /// Width of the windows the fault analysis reads, seconds.
    pub window_s: f64,
    /// Consecutive windows meeting the SLO that make a recovery.
    pub recovery_windows: u32,
    /// Each fault of the scenario, in file order.
    pub faults: Vec<FaultImpact>,
}

/// Availability against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvailabilityVerdict {
    /// Least acceptable succeeded / offered.
    pub target: f64,
    /// Succeeded / offered over the measured requests.
    pub actual: f64,
    /// `actual >= target`.
    pub met: bool,
    /// (1 − actual) / (1 − target); `null` (infinite) when the target is 1 and a request failed.
    pub error_budget_burned: Option<f64>,
}

/// One latency percentile against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyVerdict {
    /// `p50`, `p90`, `p99` or `p999`.
    pub percentile: String,
    /// Largest acceptable latency, milliseconds.
    pub target_ms: f64,
    /// The percentile of the measured succeeded requests' latency, milliseconds.
    pub actual_ms: f64,
    /// `actual_ms <= target_ms`.
    pub met: bool,
}

/// How one fault showed and how the system came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultImpact {
    /// Index of the fault in the file (`fault.N` in `--set`).
    pub fault: usize,
    /// Its kind (`crash`, `hang`, ...).
    pub kind: String,
    /// Its target as written.
    pub target: String,
    /// Start, seconds.
    pub at_s: f64,
    /// End, seconds (`null`: it lasts to the end of the run).
    pub until_s: Option<f64>,
    /// A failure or a latency above target showed after the fault started.
    pub detected: bool,
    /// Seconds from the fault's start to the end of the first window showing it.
    pub time_to_detect_s: Option<f64>,
    /// The moment recovery is measured from, seconds: the fault's end, or its start when it
    /// lasts beyond the load period.
    pub recovery_from_s: f64,
    /// The system was back within the SLO for enough consecutive windows.
    pub recovered: bool,
    /// Seconds from `recovery_from_s` to the start of that run of windows; `null`: did not
    /// recover.
    pub time_to_recover_s: Option<f64>,
}

impl FaultImpact {
    /// "recovered after 1.5 s" or "did not recover".
    pub fn recovery_text(&self) -> String {
        match self.time_to_recover_s {
            Some(seconds) if self.recovered => {
                let from = if self.until_s.is_some_and(|u| u == self.recovery_from_s) {
                    "after it ended"
                } else {
                    "after it started"
                };
                format!("recovered {} s {from}", format_number(seconds))
            }
            _ => "did not recover".to_string(),
        }
    }

    /// "detected after 1 s" or "not detected".
    pub fn detection_text(&self) -> String {
        match self.time_to_detect_s {
            Some(seconds) => format!("detected after {} s", format_number(seconds)),
            None => "not detected".to_string(),
        }
    }
}

/// Judges a finished run of `model` against `slo`; `windows` are its end-to-end windows (from an
/// [`EdgeRecorder`]).
pub fn evaluate(model: &Model, slo: &Slo, result: &RunResult, windows: &[EdgeWindow]) -> SloReport {
    let availability = slo.availability.map(|target| {
        let actual = result.availability();
        let failed_fraction = if result.offered == 0 {
            0.0
        } else {
            result.outcomes.failed() as f64 / result.offered as f64
        };
        let error_budget_burned = if target < 1.0 {
            Some(failed_fraction / (1.0 - target))
        } else if failed_fraction == 0.0 {
            Some(0.0)
        } else {
            None
        };
        AvailabilityVerdict {
            target,
            actual,
            met: actual >= target,
            error_budget_burned,
        }
    });
    let latency: Vec<LatencyVerdict> = slo
        .latency
        .iter()
        .map(|&(quantile, target)| {
            let actual = result.latency.quantile_nanos(quantile);
            LatencyVerdict {
                percentile: Slo::quantile_label(quantile),
                target_ms: nanos_to_millis(target as f64),
                actual_ms: nanos_to_millis(actual as f64),
                met: actual <= target,
            }
        })
        .collect();
    let met = availability.as_ref().is_none_or(|a| a.met) && latency.iter().all(|l| l.met);
    let faults = model
        .faults
        .iter()
        .enumerate()
        .map(|(index, fault)| {
            let detect_window = windows
                .iter()
                .find(|w| w.end > fault.at && shows_failure(slo, w));
            let lasts = fault.until.is_none_or(|until| until >= model.duration);
            let from = if lasts {
                fault.at
            } else {
                fault.until.unwrap_or(fault.at)
            };
            let recovered_at = recovery_start(slo, windows, from, model.duration);
            FaultImpact {
                fault: index,
                kind: fault.kind.name().to_string(),
                target: fault.target_label.clone(),
                at_s: nanos_to_seconds(fault.at),
                until_s: fault.until.map(nanos_to_seconds),
                detected: detect_window.is_some(),
                time_to_detect_s: detect_window.map(|w| nanos_to_seconds(w.end - fault.at)),
                recovery_from_s: nanos_to_seconds(from),
                recovered: recovered_at.is_some(),
                time_to_recover_s: recovered_at.map(|start| nanos_to_seconds(start - from)),
            }
        })
        .collect();
    SloReport {
        met,
        availability,
        latency,
        window_s: nanos_to_seconds(model.window),
        recovery_windows: RECOVERY_WINDOWS as u32,
        faults,
    }
}

/// A failed request ended in the window, or a latency target was exceeded there.
fn shows_failure(slo: &Slo, window: &EdgeWindow) -> bool {
    window.failed > 0 || !latency_ok(slo, window)
}

/// Every latency target holds for the window's succeeded requests (vacuously when none).
fn latency_ok(slo: &Slo, window: &EdgeWindow) -> bool {
    window.succeeded == 0
        || slo
            .latency
            .iter()
            .all(|&(q, target)| window.latency_at(q).is_none_or(|nanos| nanos <= target))
}

/// The window meets the SLO (see the module's definitions).
fn window_meets(slo: &Slo, window: &EdgeWindow) -> bool {
    let ended = window.succeeded + window.failed;
    let available = match slo.availability {
        Some(target) if ended > 0 => window.succeeded as f64 / ended as f64 >= target,
        _ => true,
    };
    available && latency_ok(slo, window)
}

/// Start of the first run of [`RECOVERY_WINDOWS`] consecutive windows meeting the SLO among the
/// windows starting at or after `from` and ending by `load_end`.
fn recovery_start(slo: &Slo, windows: &[EdgeWindow], from: u64, load_end: u64) -> Option<u64> {
    let candidates: Vec<&EdgeWindow> = windows
        .iter()
        .filter(|w| w.start >= from && w.end <= load_end)
        .collect();
    let needed = RECOVERY_WINDOWS.min(candidates.len());
    if needed == 0 {
        return None;
    }
    let good: Vec<bool> = candidates.iter().map(|w| window_meets(slo, w)).collect();
    (0..=candidates.len() - needed)
        .find(|&i| good[i..i + needed].iter().all(|&g| g))
        .map(|i| candidates[i].start)
}

/// A number without trailing zeros (at most 6 decimals).
pub fn format_number(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SECOND;
    use crate::model::{Fault, FaultKind};
    use crate::sim::{LatencyStats, OutcomeCounts};

    fn window(second: u64, succeeded: u64, failed: u64, p99_ms: u64) -> EdgeWindow {
        EdgeWindow {
            start: second * SECOND,
            end: (second + 1) * SECOND,
            arrivals: succeeded + failed,
            succeeded,
            failed,
            latency: vec![(0.99, p99_ms * 1_000_000)],
        }
    }

    fn model_with(faults: Vec<(u64, Option<u64>)>) -> Model {
        let text = "[scenario]\nname = \"t\"\nduration = \"20s\"\n[[service]]\nname = \"server\"\n\
                    service_time = \"const(1ms)\"\n[[workload]]\nname = \"load\"\ntarget = \"server\"\nrate = 10\n";
        let mut model = crate::scenario::load_str(text, "t.toml", std::path::Path::new("."), &[])
            .expect("a valid scenario");
        model.faults = faults
            .into_iter()
            .map(|(at, until)| Fault {
                at: at * SECOND,
                until: until.map(|u| u * SECOND),
                kind: FaultKind::Crash,
                target_label: "server#0".into(),
                replicas: vec![],
            })
            .collect();
        model
    }

    fn result(offered: u64, failed: u64) -> RunResult {
        let mut outcomes = OutcomeCounts::default();
        for _ in 0..offered - failed {
            outcomes.add(crate::model::Outcome::Succeeded);
        }
        for _ in 0..failed {
            outcomes.add(crate::model::Outcome::Refused);
        }
        let mut latency = LatencyStats::default();
        latency.record(5_000_000);
        RunResult {
            offered,
            outcomes,
            latency,
            services: vec![],
            events_handled: 0,
            end_time: 0,
            stopped: None,
        }
    }

    fn slo() -> Slo {
        Slo {
            availability: Some(0.99),
            latency: vec![(0.99, 100_000_000)],
        }
    }

    /// 20 windows: failures in 5..8 (crash from 5 s to 8 s), then one bad window at 9.
    fn windows() -> Vec<EdgeWindow> {
        (0..20)
            .map(|s| match s {
                5..=7 => window(s, 75, 25, 10),
                9 => window(s, 100, 0, 500),
                _ => window(s, 100, 0, 10),
            })
            .collect()
    }

    #[test]
    fn budget_and_verdicts() {
        let model = model_with(vec![]);
        let report = evaluate(&model, &slo(), &result(1000, 5), &windows());
        let a = report.availability.as_ref().expect("availability target");
        assert_eq!(a.actual, 0.995);
        assert!(a.met);
        assert!((a.error_budget_burned.expect("finite") - 0.5).abs() < 1e-12);
        assert!(report.latency[0].met);
        assert_eq!(report.latency[0].percentile, "p99");
        assert!(report.met);
        let report = evaluate(&model, &slo(), &result(1000, 20), &windows());
        assert!(!report.met);
        let strict = Slo {
            availability: Some(1.0),
            latency: vec![],
        };
        let report = evaluate(&model, &strict, &result(10, 1), &windows());
        assert_eq!(
            report.availability.expect("target").error_budget_burned,
            None
        );
    }

    #[test]
    fn detection_and_recovery_at_window_resolution() {
        let model = model_with(vec![(5, Some(8)), (4, Some(6)), (12, None)]);
        let report = evaluate(&model, &slo(), &result(1000, 0), &windows());
        let crash = &report.faults[0];
        assert_eq!(crash.time_to_detect_s, Some(1.0));
        // Windows 8, 9, 10: 9 has p99 500 ms; the first run of three good ones starts at 10.
        assert_eq!(crash.time_to_recover_s, Some(2.0));
        assert!(crash.recovered);
        // Started a window early: detected when window 5 ends, two windows later.
        assert_eq!(report.faults[1].time_to_detect_s, Some(2.0));
        assert_eq!(report.faults[1].time_to_recover_s, Some(4.0));
        // Never ends and never shows: masked from the start.
        let masked = &report.faults[2];
        assert!(!masked.detected);
        assert_eq!(
            (masked.recovery_from_s, masked.time_to_recover_s),
            (12.0, Some(0.0))
        );
    }

    #[test]
    fn a_fault_that_never_ends_and_keeps_failing_does_not_recover() {
        let model = model_with(vec![(5, None), (5, Some(30))]);
        let bad: Vec<EdgeWindow> = (0..20)
            .map(|s| {
                if s >= 5 {
                    window(s, 75, 25, 10)
                } else {
                    window(s, 100, 0, 10)
                }
            })
            .collect();
        let report = evaluate(&model, &slo(), &result(1000, 0), &bad);
        for fault in &report.faults {
            assert!(fault.detected);
            assert!(!fault.recovered);
            assert_eq!(fault.time_to_recover_s, None);
            assert_eq!(fault.recovery_text(), "did not recover");
        }
        // Two windows left after the end, both good: they are enough.
        let model = model_with(vec![(5, Some(18))]);
        let late: Vec<EdgeWindow> = (0..20)
            .map(|s| {
                if (5..18).contains(&s) {
                    window(s, 75, 25, 10)
                } else {
                    window(s, 100, 0, 10)
                }
            })
            .collect();
        let report = evaluate(&model, &slo(), &result(1000, 0), &late);
        assert_eq!(report.faults[0].time_to_recover_s, Some(0.0));
    }
}
