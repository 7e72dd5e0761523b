//! A run folder read back: `summary.json`, `timeseries.csv`, `replicas.csv`, `events.csv` and
//! `latency.csv`. The single source of the plots and `report.html`, both right after `meshsim run`
//! (from the files still under their temporary names) and for `meshsim plot DIR` (from the folder).
//!
//! Columns are found by their header name, so a column added later does not break the reader;
//! every figure of `summary.json` the report does not strictly need has a default.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::Path;

/// The `service` of the end-to-end rows of `timeseries.csv`.
pub const EDGE: &str = crate::sim::EDGE_ROW;

/// Why a run folder could not be read.
#[derive(Debug)]
pub enum LoadError {
    /// A required file is missing: the folder is not a run folder.
    Missing(&'static str),
    /// A file exists but could not be read or parsed.
    Invalid {
        /// The file.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Missing(file) => write!(f, "{file} is missing"),
            LoadError::Invalid { file, message } => write!(f, "{file}: {message}"),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<LoadError> for io::Error {
    fn from(error: LoadError) -> Self {
        io::Error::other(error.to_string())
    }
}

/// Everything a run folder holds that the plots and the report show.
#[derive(Debug, Clone)]
pub struct RunData {
    /// `summary.json`, the figures the report shows.
    pub summary: SummaryData,
    /// `summary.json` as JSON (for sections other modules own, such as `slo`).
    pub summary_json: serde_json::Value,
    /// `timeseries.csv` rows, in file order.
    pub windows: Vec<WindowRecord>,
    /// `replicas.csv` rows, in file order (empty if the file is absent).
    pub replicas: Vec<ReplicaRecord>,
    /// `events.csv` rows, in file order (empty if the file is absent).
    pub events: Vec<EventRow>,
    /// `latency.csv`: (quantile, latency ms) of the succeeded end-to-end requests.
    pub latency: Vec<(f64, f64)>,
    /// `setup.json`: what was simulated (`None` in folders written before it existed).
    pub setup: Option<super::setup::Setup>,
}

/// The part of `summary.json` the report reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SummaryData {
    /// Scenario name.
    pub scenario: String,
    /// Root seed.
    pub seed: u64,
    /// End-to-end requests.
    pub requests: RequestsData,
    /// Succeeded / offered.
    pub availability: f64,
    /// End-to-end latency of succeeded requests, ms.
    pub latency_ms: LatencyData,
    /// Per service, by name.
    pub services: BTreeMap<String, ServiceData>,
    /// Per workload, by name (empty in folders written before).
    pub workloads: BTreeMap<String, WorkloadData>,
    /// Load offered during `[0, duration_s)`.
    pub duration_s: f64,
    /// Requests arriving before this are not measured.
    pub warmup_s: f64,
    /// Offered requests per second (measured interval).
    pub offered_rate: f64,
    /// Succeeded requests per second (measured interval).
    pub goodput: f64,
    /// Events the engine handled.
    pub events: u64,
}

/// End-to-end request counts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RequestsData {
    /// Measured requests.
    pub offered: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Failures by outcome name.
    pub outcomes: BTreeMap<String, u64>,
    /// Failures by root cause, most frequent first (empty in folders written before).
    pub root_causes: Vec<RootCauseData>,
}

/// One root cause of failed requests (`summary.json`'s `requests.root_causes`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RootCauseData {
    /// Service of the deepest failed try.
    pub service: String,
    /// Its replica (`None`: answered by the caller).
    pub replica: Option<u32>,
    /// The try's outcome.
    pub outcome: String,
    /// Why its call stopped trying.
    pub gave_up: String,
    /// Failed requests with this cause.
    pub requests: u64,
    /// The cause in words.
    pub label: String,
}

/// One workload's measured requests (`summary.json`'s `workloads`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkloadData {
    /// Entry endpoint, `service/endpoint`.
    pub endpoint: String,
    /// Measured requests.
    pub offered: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Succeeded / offered.
    pub availability: f64,
}

/// Latency figures, ms.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LatencyData {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// One service's figures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceData {
    /// Tries that reached a replica.
    pub requests: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Busy worker-time over available worker-time.
    pub utilization: f64,
    /// Latency, ms.
    pub latency_ms: LatencyData,
    /// Outcomes of the tries sent to it (`succeeded` and each failure), as callers saw them.
    pub tries: BTreeMap<String, u64>,
    /// Retries sent to it.
    pub retries: u64,
    /// Compute spent on abandoned tries, ms.
    pub wasted_work_ms: f64,
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WindowRecord {
    /// Window start, seconds.
    pub time_s: f64,
    /// Window width, seconds.
    pub window_s: f64,
    /// Service name, or [`EDGE`].
    pub service: String,
    /// Tries reaching a replica (end-to-end: requests entering).
    #[serde(default)]
    pub arrivals: u64,
    /// Succeeded (end-to-end: requests ending successfully in the window).
    #[serde(default)]
    pub succeeded: u64,
    /// Timeouts.
    #[serde(default)]
    pub timeout: u64,
    /// Refused.
    #[serde(default)]
    pub refused: u64,
    /// Errors.
    #[serde(default)]
    pub error: u64,
    /// Rejected.
    #[serde(default)]
    pub rejected: u64,
    /// Refused by a circuit breaker.
    #[serde(default)]
    pub circuit_open: u64,
    /// Median latency of the window's succeeded tries or requests, ms.
    #[serde(default)]
    pub p50_ms: f64,
    /// 99th percentile, ms.
    #[serde(default)]
    pub p99_ms: f64,
    /// Requests present at the window's end.
    #[serde(default)]
    pub in_flight: u64,
    /// Busy workers at the window's end.
    #[serde(default)]
    pub busy_workers: u64,
    /// Queued at the window's end.
    #[serde(default)]
    pub queue_length: u64,
    /// Retries sent.
    #[serde(default)]
    pub retries: u64,
    /// Hedges sent.
    #[serde(default)]
    pub hedges: u64,
}

impl WindowRecord {
    /// Every failure outcome of the window.
    pub fn failed(&self) -> u64 {
        self.timeout + self.refused + self.error + self.rejected + self.circuit_open
    }

    /// Window end, seconds.
    pub fn end_s(&self) -> f64 {
        self.time_s + self.window_s
    }
}

/// One row of `replicas.csv`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplicaRecord {
    /// Window start, seconds.
    pub time_s: f64,
    /// Service name.
    pub service: String,
    /// Replica index.
    pub replica: u32,
    /// Zone.
    #[serde(default)]
    pub zone: String,
    /// Tries that reached it in the window.
    #[serde(default)]
    pub arrivals: u64,
    /// Busy workers at the window's end.
    #[serde(default)]
    pub busy_workers: u64,
    /// Requests present at the window's end.
    #[serde(default)]
    pub in_flight: u64,
    /// Queued at the window's end.
    #[serde(default)]
    pub queue_length: u64,
    /// `up`, `crashed`, `hung`.
    #[serde(default)]
    pub health: String,
}

/// One row of `events.csv`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventRow {
    /// When, seconds.
    pub time_s: f64,
    /// What kind (`fault_start`, `fault_end`, ...).
    pub kind: String,
    /// What it concerns (`article#0`, `zone:a|zone:b`, ...).
    #[serde(default)]
    pub subject: String,
    /// More detail (the fault's kind and parameters).
    #[serde(default)]
    pub detail: String,
}

/// A fault's time span, from a `fault_start` event and its `fault_end` (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds; `None`: lasted until the end of the run.
    pub end_s: Option<f64>,
    /// Target (`article#0`).
    pub subject: String,
    /// Kind and parameters (`crash`, `slow factor=10`).
    pub detail: String,
}

impl FaultSpan {
    /// A short label: `crash article#0`.
    pub fn label(&self) -> String {
        format!("{} {}", self.detail, self.subject)
    }
}

impl RunData {
    /// Reads the run folder `dir`.
    pub fn load(dir: &Path) -> Result<RunData, LoadError> {
        RunData::read_with(|name| match std::fs::read(dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        })
    }

    /// Reads a run through `read(file name)`, which returns `None` for a missing file.
    pub fn read_with(
        mut read: impl FnMut(&str) -> io::Result<Option<Vec<u8>>>,
    ) -> Result<RunData, LoadError> {
        let mut get = |file: &'static str| -> Result<Option<Vec<u8>>, LoadError> {
            read(file).map_err(|error| LoadError::Invalid {
                file,
                message: error.to_string(),
            })
        };
        let summary_bytes = get("summary.json")?.ok_or(LoadError::Missing("summary.json"))?;
        let invalid = |file: &'static str| {
            move |error: String| LoadError::Invalid {
                file,
                message: error,
            }
        };
        let summary_json: serde_json::Value = serde_json::from_slice(&summary_bytes)
            .map_err(|e| invalid("summary.json")(e.to_string()))?;
        let summary: SummaryData = serde_json::from_value(summary_json.clone())
            .map_err(|e| invalid("summary.json")(e.to_string()))?;
        let windows_bytes = get("timeseries.csv")?.ok_or(LoadError::Missing("timeseries.csv"))?;
        let windows = parse_csv(&windows_bytes).map_err(invalid("timeseries.csv"))?;
        let replicas = match get("replicas.csv")? {
            Some(bytes) => parse_csv(&bytes).map_err(invalid("replicas.csv"))?,
            None => Vec::new(),
        };
        let events = match get("events.csv")? {
            Some(bytes) => parse_csv(&bytes).map_err(invalid("events.csv"))?,
            None => Vec::new(),
        };
        let latency = match get("latency.csv")? {
            Some(bytes) => parse_quantiles(&bytes).map_err(invalid("latency.csv"))?,
            None => Vec::new(),
        };
        let setup = match get("setup.json")? {
            Some(bytes) => Some(
                serde_json::from_slice(&bytes).map_err(|e| invalid("setup.json")(e.to_string()))?,
            ),
            None => None,
        };
        Ok(RunData {
            summary,
            summary_json,
            windows,
            replicas,
            events,
            latency,
            setup,
        })
    }

    /// The end-to-end rows, in time order.
    pub fn edge_windows(&self) -> impl Iterator<Item = &WindowRecord> {
        self.windows.iter().filter(|row| row.service == EDGE)
    }

    /// The fault spans of `events.csv`: each `fault_start` paired with the first later
    /// `fault_end` of the same target and kind.
    pub fn fault_spans(&self) -> Vec<FaultSpan> {
        fault_spans(&self.events)
    }

    /// What the time plots mark: the fault spans, each change of a workload's load from
    /// `setup.json` (a step as a line, a ramp as a band, labelled `load → 800/s readers`), and
    /// the drain after the load ends (`drain: no new load`), whose windows hold only requests
    /// still ending, when the axis runs past the load's end.
    pub fn marked_spans(&self) -> Vec<FaultSpan> {
        let mut spans = self.fault_spans();
        if let Some(setup) = &self.setup {
            for workload in &setup.workloads {
                for change in &workload.schedule {
                    spans.push(FaultSpan {
                        start_s: change.at_s,
                        end_s: Some(change.at_s + change.ramp_s),
                        subject: workload.name.clone(),
                        detail: format!("load → {}/s", super::format::format_number(change.rate)),
                    });
                }
            }
        }
        let end = self.end_s();
        if end > self.summary.duration_s && self.summary.duration_s > 0.0 {
            spans.push(FaultSpan {
                start_s: self.summary.duration_s,
                end_s: Some(end),
                subject: "new load".to_string(),
                detail: "drain: no".to_string(),
            });
        }
        spans.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        spans
    }

    /// The end of the time axis, seconds: the load's duration, or the end of the last
    /// end-to-end window in which requests were still under way or ending, if later. (The run
    /// itself may go on with empty windows until the longest timeout could have expired.)
    pub fn end_s(&self) -> f64 {
        let active = |row: &&WindowRecord| {
            row.arrivals > 0 || row.succeeded > 0 || row.failed() > 0 || row.in_flight > 0
        };
        let mut edge = self.edge_windows().peekable();
        let end = if edge.peek().is_some() {
            edge.filter(active)
                .map(WindowRecord::end_s)
                .fold(0.0, f64::max)
        } else {
            self.windows
                .iter()
                .filter(active)
                .map(WindowRecord::end_s)
                .fold(0.0, f64::max)
        };
        end.max(self.summary.duration_s)
    }
}

/// Pairs `fault_start` and `fault_end` events into spans, in order of start.
pub fn fault_spans(events: &[EventRow]) -> Vec<FaultSpan> {
    let mut spans: Vec<FaultSpan> = Vec::new();
    for event in events {
        match event.kind.as_str() {
            "fault_start" => spans.push(FaultSpan {
                start_s: event.time_s,
                end_s: None,
                subject: event.subject.clone(),
                detail: event.detail.clone(),
            }),
            "fault_end" => {
                let open = spans.iter_mut().find(|span| {
                    span.end_s.is_none()
                        && span.subject == event.subject
                        && span.detail == event.detail
                });
                if let Some(span) = open {
                    span.end_s = Some(event.time_s);
                }
            }
            _ => {}
        }
    }
    spans
}

/// Parses a CSV file with a header row into records, by column name.
pub fn parse_csv<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|error| error.to_string())
}

/// Parses a `quantile,latency_ms` file (`latency.csv`, a comparison's `latency-<slug>.csv`).
pub fn parse_quantiles(bytes: &[u8]) -> Result<Vec<(f64, f64)>, String> {
    #[derive(Deserialize)]
    struct Row {
        quantile: f64,
        latency_ms: f64,
    }
    let rows: Vec<Row> = parse_csv(bytes)?;
    Ok(rows
        .into_iter()
        .map(|row| (row.quantile, row.latency_ms))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_pair_by_target_and_kind() {
        let event = |time_s: f64, kind: &str, subject: &str, detail: &str| EventRow {
            time_s,
            kind: kind.into(),
            subject: subject.into(),
            detail: detail.into(),
        };
        let events = vec![
            event(1.0, "fault_start", "a#0", "crash"),
            event(2.0, "fault_start", "b#0", "slow factor=2"),
            event(3.0, "fault_end", "a#0", "crash"),
            event(4.0, "ejection", "a#1", ""),
        ];
        let spans = fault_spans(&events);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].end_s, Some(3.0));
        assert_eq!(spans[1].end_s, None);
        assert_eq!(spans[1].label(), "slow factor=2 b#0");
    }

    #[test]
    fn unknown_columns_are_ignored_and_missing_files_named() {
        let csv =
            b"time_s,window_s,service,arrivals,succeeded,new_column\n0,1,(end-to-end),5,4,9\n";
        let rows: Vec<WindowRecord> = parse_csv(csv).unwrap();
        assert_eq!(rows[0].arrivals, 5);
        let error = RunData::read_with(|_| Ok(None)).unwrap_err();
        assert_eq!(error.to_string(), "summary.json is missing");
    }
}
