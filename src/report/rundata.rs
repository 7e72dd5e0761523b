//! A run folder read back: `summary.json`, `timeseries.csv`, `replicas.csv`, `events.csv` and
//! `latency.csv`. The single source of the plots and `report.html`, both right after `meshsim run`
//! (from the files still under their temporary names) and for `meshsim plot DIR` (from the folder).
//!
//! The CSV files grow with the run's length (a million windows make gigabytes), so they are
//! streamed, row by row, never read whole, and reduced as they are read to what the report
//! shows, whose size does not depend on the run's length: per plot at most
//! [`EXACT_WINDOWS`] end-to-end windows are drawn as they are; beyond, windows are grouped into
//! at most [`BUCKETS`] buckets, each drawn by its lowest and its highest values (so a spike of
//! one window stays visible); the replica heatmap keeps its bounded cells; the event table its
//! first rows. `timeseries.csv` and `replicas.csv` are read twice (first to size the reduction).
//!
//! Columns are found by their header name, so a column added later does not break the reader;
//! every figure of `summary.json` the report does not strictly need has a default.

use super::plots::replicas::{MAX_COLUMNS, MAX_REPLICAS, MAX_SERVICES};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;

/// The `service` of the end-to-end rows of `timeseries.csv`.
pub const EDGE: &str = crate::sim::EDGE_ROW;

/// Up to this many end-to-end windows, every window is a point of the plots (the plots of
/// every run of ordinary length are drawn exactly as the windows are).
pub const EXACT_WINDOWS: u64 = 2_000;

/// Beyond [`EXACT_WINDOWS`], windows are grouped into at most this many buckets of equal
/// numbers of windows, each drawn as two points (its lowest and highest values): the plots are
/// about 850 pixels wide, so a bucket is less than a pixel.
pub const BUCKETS: u64 = 1_000;

/// Rows of `events.csv` kept for the report's event table (the rest are counted).
pub const SHOWN_EVENTS: usize = 500;

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

/// Opens a file of the run by name: `None` for a missing file.
pub type Opener<'a> = dyn FnMut(&str) -> io::Result<Option<Box<dyn Read + 'a>>> + 'a;

/// What the report shows of a run, read from its folder; its size does not depend on the
/// run's length.
#[derive(Debug, Clone)]
pub struct RunData {
    /// `summary.json`, the figures the report shows.
    pub summary: SummaryData,
    /// `summary.json` as JSON (for sections other modules own, such as `slo`).
    pub summary_json: serde_json::Value,
    /// The end-to-end rows of `timeseries.csv`, as plot points.
    pub edge: EdgeSeries,
    /// `replicas.csv`, as the heatmap's cells (empty if the file is absent).
    pub replica_load: ReplicaLoad,
    /// The first [`SHOWN_EVENTS`] rows of `events.csv`, in file order (empty if absent).
    pub events: Vec<EventRow>,
    /// Rows of `events.csv`.
    pub event_count: u64,
    /// The faults' spans, from `events.csv` ([`FaultPairing`]).
    pub faults: Vec<FaultSpan>,
    /// `latency.csv`: (quantile, latency ms) of the succeeded end-to-end requests.
    pub latency: Vec<(f64, f64)>,
    /// `setup.json`: what was simulated (`None` in folders written before it existed).
    pub setup: Option<super::setup::Setup>,
    /// The end of the time axis, seconds ([`RunData::end_s`]).
    end_s: f64,
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
    /// Hedges sent to it.
    pub hedges: u64,
    /// Calls made to it (first tries).
    pub calls: u64,
    /// Tries cancelled: another try of the same call succeeded first.
    pub tries_cancelled: u64,
    /// Tries still in flight when the run ended.
    pub tries_in_flight_at_end: u64,
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

/// The end-to-end windows of `timeseries.csv` as the latency and availability plots draw them.
#[derive(Debug, Clone, Default)]
pub struct EdgeSeries {
    /// The widest end-to-end window, seconds (0: no end-to-end row).
    pub window_s: f64,
    /// End-to-end windows read.
    pub windows: u64,
    /// Windows per bucket: 1 when every window is a point (at most [`EXACT_WINDOWS`]).
    pub per_bucket: u64,
    /// Runs of (window middle s, p50 ms, p99 ms) of windows in which some request succeeded; a
    /// window (or bucket) without a success between two breaks the line.
    pub latency_runs: Vec<Vec<(f64, f64, f64)>>,
    /// Every window (or, per bucket, its lowest then its highest values).
    pub points: Vec<WindowPoint>,
}

/// One end-to-end window (or one side of a bucket of them), per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPoint {
    /// Middle of the window, seconds.
    pub middle: f64,
    /// Succeeded / ended, when some request ended.
    pub availability: Option<f64>,
    /// Requests entering per second.
    pub offered: f64,
    /// Succeeded per second.
    pub succeeded: f64,
    /// Failed per second.
    pub failed: f64,
}

impl WindowPoint {
    fn of(row: &WindowRecord) -> Self {
        let width = if row.window_s > 0.0 {
            row.window_s
        } else {
            1.0
        };
        let ended = row.succeeded + row.failed();
        WindowPoint {
            middle: row.time_s + row.window_s / 2.0,
            availability: (ended > 0).then(|| row.succeeded as f64 / ended as f64),
            offered: row.arrivals as f64 / width,
            succeeded: row.succeeded as f64 / width,
            failed: row.failed() as f64 / width,
        }
    }

    fn fold(self, other: WindowPoint, pick: fn(f64, f64) -> f64) -> WindowPoint {
        WindowPoint {
            middle: self.middle,
            availability: match (self.availability, other.availability) {
                (Some(a), Some(b)) => Some(pick(a, b)),
                (a, b) => a.or(b),
            },
            offered: pick(self.offered, other.offered),
            succeeded: pick(self.succeeded, other.succeeded),
            failed: pick(self.failed, other.failed),
        }
    }
}

/// One bucket of windows being read: its lowest and highest values.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    windows: u64,
    /// (lowest, highest) of every window, with the first and last window's middles.
    points: Option<(WindowPoint, WindowPoint)>,
    /// (first middle, last middle, lowest p50, lowest p99, highest p50, highest p99) of the
    /// windows with a success.
    latency: Option<(f64, f64, f64, f64, f64, f64)>,
}

impl EdgeSeries {
    /// An empty series that will receive `windows` end-to-end windows at most `window_s` wide.
    fn new(windows: u64, window_s: f64) -> Self {
        let per_bucket = if windows <= EXACT_WINDOWS {
            1
        } else {
            windows.div_ceil(BUCKETS)
        };
        EdgeSeries {
            window_s,
            windows,
            per_bucket,
            latency_runs: Vec::new(),
            points: Vec::new(),
        }
    }

    /// Adds the next end-to-end window (in time order), with `bucket` the one being filled.
    fn push(&mut self, row: &WindowRecord, bucket: &mut Bucket) {
        if self.per_bucket == 1 {
            self.points.push(WindowPoint::of(row));
            if row.succeeded > 0 {
                let point = (row.time_s + row.window_s / 2.0, row.p50_ms, row.p99_ms);
                let broken = match self.latency_runs.last().and_then(|run| run.last()) {
                    Some(last) => point.0 - last.0 > self.window_s * 1.5,
                    None => true,
                };
                if broken {
                    self.latency_runs.push(Vec::new());
                }
                if let Some(run) = self.latency_runs.last_mut() {
                    run.push(point);
                }
            }
            return;
        }
        let point = WindowPoint::of(row);
        bucket.windows += 1;
        bucket.points = Some(match bucket.points {
            None => (point, point),
            Some((low, high)) => (
                low.fold(point, f64::min),
                WindowPoint {
                    middle: point.middle,
                    ..high.fold(point, f64::max)
                },
            ),
        });
        if row.succeeded > 0 {
            let middle = point.middle;
            bucket.latency = Some(match bucket.latency {
                None => (
                    middle, middle, row.p50_ms, row.p99_ms, row.p50_ms, row.p99_ms,
                ),
                Some((first, _, low50, low99, high50, high99)) => (
                    first,
                    middle,
                    low50.min(row.p50_ms),
                    low99.min(row.p99_ms),
                    high50.max(row.p50_ms),
                    high99.max(row.p99_ms),
                ),
            });
        }
        if bucket.windows == self.per_bucket {
            self.close(bucket);
        }
    }

    /// Turns the bucket being filled into points (its lowest values at its first window, its
    /// highest at its last) and starts the next.
    fn close(&mut self, bucket: &mut Bucket) {
        let full = std::mem::take(bucket);
        if let Some((low, high)) = full.points {
            self.points.push(low);
            if full.windows > 1 {
                self.points.push(high);
            }
        }
        match full.latency {
            Some((first, last, low50, low99, high50, high99)) => {
                if self.latency_runs.last().is_none_or(|run| run.is_empty()) {
                    self.latency_runs.push(Vec::new());
                }
                if let Some(run) = self.latency_runs.last_mut() {
                    run.push((first, low50, low99));
                    if last > first {
                        run.push((last, high50, high99));
                    }
                }
            }
            // A bucket without a success breaks the line.
            None if full.windows > 0
                && self.latency_runs.last().is_some_and(|run| !run.is_empty()) =>
            {
                self.latency_runs.push(Vec::new());
            }
            None => {}
        }
    }

    /// Every point of the latency runs.
    pub fn latency_points(&self) -> impl Iterator<Item = &(f64, f64, f64)> {
        self.latency_runs.iter().flatten()
    }
}

/// `replicas.csv` reduced to the heatmap of [`crate::report::plots::replicas`]: the rows of the
/// load period (before `duration`), their windows grouped into at most [`MAX_COLUMNS`] columns,
/// for the [`MAX_SERVICES`] busiest services and their first [`MAX_REPLICAS`] replicas.
#[derive(Debug, Clone, Default)]
pub struct ReplicaLoad {
    /// Column boundaries, seconds (one more than the columns; empty without rows).
    pub edges: Vec<f64>,
    /// The busiest services, busiest first (ties by name).
    pub services: Vec<ServiceLoad>,
    /// Services with tries that are not shown.
    pub hidden_services: usize,
}

/// One service of [`ReplicaLoad`].
#[derive(Debug, Clone)]
pub struct ServiceLoad {
    /// Its name.
    pub name: String,
    /// Tries that reached it in the load period.
    pub total: u64,
    /// Its replica slots (the highest replica index seen + 1).
    pub replicas: u32,
    /// Per column: tries that reached it.
    pub columns: Vec<u64>,
    /// Per shown replica (the first [`MAX_REPLICAS`]), per column: its tries, and whether it
    /// was crashed or hung at some window end in the column.
    pub cells: Vec<Vec<(u64, bool)>>,
}

/// The columns of the heatmap, from the first reading of `replicas.csv`.
#[derive(Debug, Default)]
struct ReplicaScan {
    /// Distinct window starts in the load period.
    times: u64,
    last_time: Option<f64>,
    /// Per service: tries, replica slots.
    services: BTreeMap<String, (u64, u32)>,
}

impl ReplicaScan {
    fn add(&mut self, row: &ReplicaRecord) -> Result<(), String> {
        match self.last_time {
            Some(last) if row.time_s < last => {
                return Err(format!(
                    "rows are not in time order ({} s after {last} s)",
                    row.time_s
                ))
            }
            Some(last) if row.time_s == last => {}
            _ => {
                self.times += 1;
                self.last_time = Some(row.time_s);
            }
        }
        let service = self.services.entry(row.service.clone()).or_insert((0, 0));
        service.0 += row.arrivals;
        service.1 = service.1.max(row.replica.saturating_add(1));
        Ok(())
    }
}

/// Fills a [`ReplicaLoad`] from the second reading of `replicas.csv`.
struct ReplicaFill {
    load: ReplicaLoad,
    per_column: u64,
    /// Distinct window starts so far, and the last.
    times: u64,
    last_time: Option<f64>,
    window_s: f64,
}

impl ReplicaFill {
    fn new(scan: ReplicaScan, window_s: f64) -> Self {
        let per_column = scan.times.div_ceil(MAX_COLUMNS as u64).max(1);
        let columns = scan.times.div_ceil(per_column) as usize;
        let mut ranked: Vec<(String, u64, u32)> = scan
            .services
            .into_iter()
            .map(|(name, (total, replicas))| (name, total, replicas))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let hidden_services = ranked.len().saturating_sub(MAX_SERVICES);
        let services = ranked
            .into_iter()
            .take(MAX_SERVICES)
            .map(|(name, total, replicas)| ServiceLoad {
                name,
                total,
                replicas,
                columns: vec![0; columns],
                cells: vec![vec![(0, false); columns]; (replicas as usize).min(MAX_REPLICAS)],
            })
            .collect();
        ReplicaFill {
            load: ReplicaLoad {
                edges: Vec::new(),
                services,
                hidden_services,
            },
            per_column,
            times: 0,
            last_time: None,
            window_s,
        }
    }

    fn add(&mut self, row: &ReplicaRecord) {
        if self.last_time != Some(row.time_s) {
            if self.times.is_multiple_of(self.per_column) {
                self.load.edges.push(row.time_s);
            }
            self.times += 1;
            self.last_time = Some(row.time_s);
        }
        let column = ((self.times - 1) / self.per_column) as usize;
        let Some(service) = self
            .load
            .services
            .iter_mut()
            .find(|service| service.name == row.service)
        else {
            return;
        };
        service.columns[column] += row.arrivals;
        if let Some(cells) = service.cells.get_mut(row.replica as usize) {
            cells[column].0 += row.arrivals;
            cells[column].1 |= row.health != "up" && !row.health.is_empty();
        }
    }

    fn finish(mut self) -> ReplicaLoad {
        if let Some(last) = self.last_time {
            self.load.edges.push(last + self.window_s);
        }
        self.load
    }
}

/// Pairs `fault_start` and `fault_end` events into spans as they are read (each start with the
/// first later end of the same target and kind), in order of start.
#[derive(Debug, Default)]
pub struct FaultPairing {
    spans: Vec<FaultSpan>,
}

impl FaultPairing {
    /// Reads the next event.
    pub fn add(&mut self, event: &EventRow) {
        match event.kind.as_str() {
            "fault_start" => self.spans.push(FaultSpan {
                start_s: event.time_s,
                end_s: None,
                subject: event.subject.clone(),
                detail: event.detail.clone(),
            }),
            "fault_end" => {
                let open = self.spans.iter_mut().find(|span| {
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

    /// The spans.
    pub fn finish(self) -> Vec<FaultSpan> {
        self.spans
    }
}

/// Pairs `fault_start` and `fault_end` events into spans, in order of start.
pub fn fault_spans(events: &[EventRow]) -> Vec<FaultSpan> {
    let mut pairing = FaultPairing::default();
    events.iter().for_each(|event| pairing.add(event));
    pairing.finish()
}

/// What the first reading of `timeseries.csv` finds.
#[derive(Debug, Default)]
struct WindowScan {
    /// The first row's window width (any service), seconds.
    first_window_s: Option<f64>,
    edge_windows: u64,
    edge_window_s: f64,
    /// The end of the last active end-to-end window, and of the last active window of any row.
    edge_active_end: f64,
    any_active_end: f64,
}

impl WindowScan {
    fn add(&mut self, row: &WindowRecord) {
        self.first_window_s.get_or_insert(row.window_s);
        let active = row.arrivals > 0 || row.succeeded > 0 || row.failed() > 0 || row.in_flight > 0;
        if active {
            self.any_active_end = self.any_active_end.max(row.end_s());
        }
        if row.service == EDGE {
            self.edge_windows += 1;
            self.edge_window_s = self.edge_window_s.max(row.window_s);
            if active {
                self.edge_active_end = self.edge_active_end.max(row.end_s());
            }
        }
    }
}

impl RunData {
    /// Reads the run folder `dir`.
    pub fn load(dir: &Path) -> Result<RunData, LoadError> {
        RunData::read_with(&mut |name| match std::fs::File::open(dir.join(name)) {
            Ok(file) => Ok(Some(Box::new(file) as Box<dyn Read>)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        })
    }

    /// Reads a run through `open(file name)`, which returns `None` for a missing file. The CSV
    /// files are streamed (opened twice for `timeseries.csv` and `replicas.csv`).
    pub fn read_with(open: &mut Opener<'_>) -> Result<RunData, LoadError> {
        let mut open = |file: &'static str| -> Result<Option<Box<dyn Read + '_>>, LoadError> {
            open(file).map_err(|error| LoadError::Invalid {
                file,
                message: error.to_string(),
            })
        };
        let invalid = |file: &'static str| {
            move |error: String| LoadError::Invalid {
                file,
                message: error,
            }
        };
        let whole = |file: &'static str, reader: Box<dyn Read + '_>| {
            let mut bytes = Vec::new();
            // summary.json and latency.csv have a size set by the scenario, not by its length.
            reader
                .take(1 << 30)
                .read_to_end(&mut bytes)
                .map_err(|e| invalid(file)(e.to_string()))?;
            Ok::<_, LoadError>(bytes)
        };
        let summary_bytes = whole(
            "summary.json",
            open("summary.json")?.ok_or(LoadError::Missing("summary.json"))?,
        )?;
        let summary_json: serde_json::Value = serde_json::from_slice(&summary_bytes)
            .map_err(|e| invalid("summary.json")(e.to_string()))?;
        let summary: SummaryData = serde_json::from_value(summary_json.clone())
            .map_err(|e| invalid("summary.json")(e.to_string()))?;

        let timeseries = "timeseries.csv";
        let mut scan = WindowScan::default();
        let reader = open(timeseries)?.ok_or(LoadError::Missing(timeseries))?;
        for_each_row(reader, |row: WindowRecord| {
            scan.add(&row);
            Ok(())
        })
        .map_err(invalid(timeseries))?;
        let mut edge = EdgeSeries::new(scan.edge_windows, scan.edge_window_s);
        let mut bucket = Bucket::default();
        let reader = open(timeseries)?.ok_or(LoadError::Missing(timeseries))?;
        for_each_row(reader, |row: WindowRecord| {
            if row.service == EDGE {
                edge.push(&row, &mut bucket);
            }
            Ok(())
        })
        .map_err(invalid(timeseries))?;
        edge.close(&mut bucket);
        let end_s = if scan.edge_windows > 0 {
            scan.edge_active_end
        } else {
            scan.any_active_end
        }
        .max(summary.duration_s);

        let replicas = "replicas.csv";
        // Windows of the load period only: the few requests still under way after it would
        // make the last column's shares noise.
        let load_end = summary.duration_s;
        let in_load = |row: &ReplicaRecord| load_end <= 0.0 || row.time_s < load_end;
        let replica_load = match open(replicas)? {
            None => ReplicaLoad::default(),
            Some(reader) => {
                let mut replica_scan = ReplicaScan::default();
                for_each_row(reader, |row: ReplicaRecord| {
                    if in_load(&row) {
                        replica_scan.add(&row)?;
                    }
                    Ok(())
                })
                .map_err(invalid(replicas))?;
                let window_s = scan.first_window_s.unwrap_or(1.0).max(1e-9);
                let mut fill = ReplicaFill::new(replica_scan, window_s);
                let reader = open(replicas)?.ok_or(LoadError::Missing(replicas))?;
                for_each_row(reader, |row: ReplicaRecord| {
                    if in_load(&row) {
                        fill.add(&row);
                    }
                    Ok(())
                })
                .map_err(invalid(replicas))?;
                fill.finish()
            }
        };

        let (mut events, mut event_count, mut faults) = (Vec::new(), 0u64, FaultPairing::default());
        if let Some(reader) = open("events.csv")? {
            for_each_row(reader, |row: EventRow| {
                faults.add(&row);
                event_count += 1;
                if events.len() < SHOWN_EVENTS {
                    events.push(row);
                }
                Ok(())
            })
            .map_err(invalid("events.csv"))?;
        }
        let latency = match open("latency.csv")? {
            Some(reader) => {
                parse_quantiles(&whole("latency.csv", reader)?).map_err(invalid("latency.csv"))?
            }
            None => Vec::new(),
        };
        let setup = match open("setup.json")? {
            Some(reader) => Some(
                serde_json::from_slice(&whole("setup.json", reader)?)
                    .map_err(|e| invalid("setup.json")(e.to_string()))?,
            ),
            None => None,
        };
        Ok(RunData {
            setup,
            summary,
            summary_json,
            edge,
            replica_load,
            events,
            event_count,
            faults: faults.finish(),
            latency,
            end_s,
        })
    }

    /// The fault spans of `events.csv`: each `fault_start` paired with the first later
    /// `fault_end` of the same target and kind.
    pub fn fault_spans(&self) -> Vec<FaultSpan> {
        self.faults.clone()
    }

    /// What the time plots mark: the fault spans, each change of a workload's load from
    /// `setup.json` (a step as a line, a ramp as a band, labelled `load → 800/s readers`), and
    /// the drain after the load ends (`drain: no new load`), whose windows hold only requests
    /// still ending, when the axis runs past the load's end.
    pub fn marked_spans(&self) -> Vec<FaultSpan> {
        let mut spans = self.fault_spans();
        if let Some(setup) = &self.setup {
            for workload in &setup.workloads {
                // A change written for after the load ends never happens: marking it (at the
                // axis' right edge) would say it did.
                let during_the_load = workload
                    .schedule
                    .iter()
                    .filter(|change| change.at_s < self.summary.duration_s);
                for change in during_the_load {
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
        self.end_s
    }
}

/// Reads a CSV file with a header row record by record (by column name), handing each to
/// `each`; stops at the first error. Memory: one record at a time.
pub fn for_each_row<T: serde::de::DeserializeOwned>(
    reader: impl Read,
    mut each: impl FnMut(T) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(io::BufReader::new(reader));
    for row in reader.deserialize() {
        each(row.map_err(|error| error.to_string())?)?;
    }
    Ok(())
}

/// Parses a CSV file with a header row into records, by column name.
pub fn parse_csv<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, String> {
    let mut rows = Vec::new();
    for_each_row(bytes, |row| {
        rows.push(row);
        Ok(())
    })?;
    Ok(rows)
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
        let error = RunData::read_with(&mut |_| Ok(None)).unwrap_err();
        assert_eq!(error.to_string(), "summary.json is missing");
    }
}
