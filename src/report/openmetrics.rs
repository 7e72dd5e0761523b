//! `meshsim run --openmetrics FILE`: the run's requests as Istio's standard metrics in
//! OpenMetrics text, one sample per series at time 0 and at every window end, for
//! `promtool tsdb create-blocks-from openmetrics` to load into Prometheus.
//!
//! Families: `istio_requests` (counter, samples `istio_requests_total`) and
//! `istio_request_duration_milliseconds` (histogram with Envoy's default buckets,
//! [`istio::BUCKETS_MS`]). One series per (source, destination, response code, flags), labelled
//! as a caller's proxy reports it (`reporter="source"`):
//! * **end-to-end requests**: source = the workload (`source_workload_namespace="meshsim-load"`),
//!   destination = its entry service; one per request with its final outcome, from its arrival
//!   to its end; they add up to the `(end-to-end)` rows of `timeseries.csv`;
//! * **calls between services**: source = the calling service, destination = the called one;
//!   one per *try* (retries and hedges count; a hedge cancelled because another try won does
//!   not), with the outcome its caller saw, from the try's sending to its end.
//!
//! OpenMetrics forbids interleaving a series' samples with another's, while the run produces
//! every series' window at once. So each window's running totals go to a scratch file beside
//! FILE as fixed-size binary records (memory holds one record per series, never the run), and
//! at the end the scratch file is read back series by series into FILE; series appear in label
//! order, so the bytes are the same for the same scenario and seed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::analysis::istio;
use crate::model::{Model, Outcome};
use crate::sim::{EventRecord, Recorder, ReplicaRow, Simulation, TraceEvent, WindowRow, EDGE_ROW};

use super::traces::EPOCH_NANOS;

/// Words of a record: count, the 19 cumulative bucket counts, sum of durations (ns).
const RECORD_WORDS: usize = 2 + istio::BUCKETS_NANOS.len();
const RECORD_BYTES: usize = RECORD_WORDS * 8;

/// A series: who calls whom, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SeriesKey {
    /// A workload index (`from_load`) or a service index.
    source: u32,
    from_load: bool,
    /// The called service.
    destination: u32,
    outcome: Outcome,
}

/// Running totals of one series.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    count: u64,
    /// Requests at or below each bucket bound (not cumulative across buckets yet).
    buckets: [u64; istio::BUCKETS_NANOS.len()],
    sum_nanos: u64,
}

impl Totals {
    fn record(&mut self, nanos: u64) {
        self.count += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
        if let Some(i) = istio::BUCKETS_NANOS.iter().position(|&b| nanos <= b) {
            self.buckets[i] += 1;
        }
    }

    fn encode(&self, out: &mut [u8; RECORD_BYTES]) {
        let mut words = [0u64; RECORD_WORDS];
        words[0] = self.count;
        let mut cumulative = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            cumulative += n;
            words[1 + i] = cumulative;
        }
        words[RECORD_WORDS - 1] = self.sum_nanos;
        for (chunk, word) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
    }
}

fn decode(bytes: &[u8; RECORD_BYTES]) -> [u64; RECORD_WORDS] {
    let mut words = [0u64; RECORD_WORDS];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
    }
    words
}

/// A [`Recorder`] that passes everything to `inner` and writes the OpenMetrics file.
pub struct OpenMetricsRecorder<R> {
    inner: R,
    path: PathBuf,
    scratch_path: PathBuf,
    scratch: BufWriter<File>,
    /// Replica slot -> service.
    slot_service: Vec<u32>,
    /// Endpoint -> service.
    endpoint_service: Vec<u32>,
    /// Workload -> its entry service.
    workload_service: Vec<u32>,
    service_names: Vec<String>,
    workload_names: Vec<String>,
    series: Vec<SeriesKey>,
    index: HashMap<SeriesKey, u32>,
    totals: Vec<Totals>,
    /// Tries in flight: key -> (source service, destination service, sent at).
    tries: HashMap<u64, (u32, u32, u64)>,
    /// Requests in flight: key -> (workload, arrived at).
    requests: HashMap<u64, (u32, u64)>,
    /// Per window written: (end ns, series it holds).
    blocks: u64,
    error: Option<std::io::Error>,
}

impl<R: Recorder> OpenMetricsRecorder<R> {
    /// Writes the metrics of a run of `model` to `path` (a scratch file `path.partial` is used
    /// during the run and removed).
    pub fn new(inner: R, model: &Model, path: &Path) -> std::io::Result<Self> {
        let mut scratch_path = path.as_os_str().to_owned();
        scratch_path.push(".partial");
        let scratch_path = PathBuf::from(scratch_path);
        let scratch = BufWriter::new(File::create(&scratch_path)?);
        Ok(OpenMetricsRecorder {
            inner,
            path: path.to_path_buf(),
            scratch_path,
            scratch,
            slot_service: Simulation::<crate::sim::NullRecorder>::replica_slot_table(model)
                .into_iter()
                .map(|(service, _)| service)
                .collect(),
            endpoint_service: model.endpoints.iter().map(|e| e.service as u32).collect(),
            workload_service: model
                .workloads
                .iter()
                .map(|w| model.endpoints[w.target].service as u32)
                .collect(),
            service_names: model.services.iter().map(|s| s.name.clone()).collect(),
            workload_names: model.workloads.iter().map(|w| w.name.clone()).collect(),
            series: Vec::new(),
            index: HashMap::new(),
            totals: Vec::new(),
            tries: HashMap::new(),
            requests: HashMap::new(),
            blocks: 0,
            error: None,
        })
    }

    fn count(&mut self, key: SeriesKey, nanos: u64) {
        let next = self.series.len() as u32;
        let index = *self.index.entry(key).or_insert(next);
        if index == next {
            self.series.push(key);
            self.totals.push(Totals::default());
        }
        self.totals[index as usize].record(nanos);
    }

    /// Appends the running totals at the end of a window: its end, the number of series so far,
    /// one record per series.
    fn write_block(&mut self, end: u64) {
        if self.error.is_some() {
            return;
        }
        let mut result = self.scratch.write_all(&end.to_le_bytes()).and_then(|()| {
            self.scratch
                .write_all(&(self.series.len() as u64).to_le_bytes())
        });
        let mut record = [0u8; RECORD_BYTES];
        for totals in &self.totals {
            if result.is_err() {
                break;
            }
            totals.encode(&mut record);
            result = self.scratch.write_all(&record);
        }
        match result {
            Ok(()) => self.blocks += 1,
            Err(error) => self.error = Some(error),
        }
    }

    /// Writes FILE from the scratch file, removes the scratch file and returns the inner
    /// recorder.
    pub fn finish(mut self) -> std::io::Result<R> {
        let written = self.write_file();
        let _ = std::fs::remove_file(&self.scratch_path);
        written?;
        Ok(self.inner)
    }

    fn write_file(&mut self) -> std::io::Result<()> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.scratch.flush()?;
        let scratch = File::open(&self.scratch_path)?;
        // Each block's offset and end (one pass over the headers).
        let mut blocks: Vec<(u64, u64, u64)> = Vec::with_capacity(self.blocks as usize);
        let mut offset = 0u64;
        let mut header = [0u8; 16];
        for _ in 0..self.blocks {
            scratch.read_exact_at(&mut header, offset)?;
            let end = u64::from_le_bytes(header[..8].try_into().expect("8 bytes"));
            let held = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
            blocks.push((offset + 16, end, held));
            offset += 16 + held * RECORD_BYTES as u64;
        }
        let mut order: Vec<(String, u32)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, key)| (self.labels(key), i as u32))
            .collect();
        order.sort();
        let mut out = BufWriter::new(File::create(&self.path)?);
        let mut record = [0u8; RECORD_BYTES];
        let mut read =
            |series: u32, offset: u64, held: u64| -> std::io::Result<[u64; RECORD_WORDS]> {
                if u64::from(series) < held {
                    scratch.read_exact_at(
                        &mut record,
                        offset + u64::from(series) * RECORD_BYTES as u64,
                    )?;
                    Ok(decode(&record))
                } else {
                    Ok([0; RECORD_WORDS])
                }
            };
        out.write_all(
            b"# TYPE istio_requests counter\n# HELP istio_requests Requests, as the caller's proxy reports them (meshsim).\n",
        )?;
        for (labels, series) in &order {
            writeln!(out, "istio_requests_total{{{labels}}} 0 {}", timestamp(0))?;
            for &(offset, end, held) in &blocks {
                let words = read(*series, offset, held)?;
                writeln!(
                    out,
                    "istio_requests_total{{{labels}}} {} {}",
                    words[0],
                    timestamp(end)
                )?;
            }
        }
        out.write_all(
            b"# TYPE istio_request_duration_milliseconds histogram\n# HELP istio_request_duration_milliseconds Request durations in milliseconds, as the caller's proxy reports them (meshsim).\n",
        )?;
        let bounds: Vec<String> = istio::BUCKETS_MS
            .iter()
            .map(|&b| istio::format_le(b))
            .collect();
        for (labels, series) in &order {
            let times = std::iter::once((0u64, [0u64; RECORD_WORDS])).map(Ok).chain(
                blocks
                    .iter()
                    .map(|&(offset, end, held)| read(*series, offset, held).map(|w| (end, w))),
            );
            // Each bucket line, then +Inf, sum and count, at every sample time: a Metric's
            // points are its MetricPoints, each a full histogram at one timestamp.
            for item in times {
                let (end, words) = item?;
                let time = timestamp(end);
                for (i, bound) in bounds.iter().enumerate() {
                    writeln!(
                        out,
                        "istio_request_duration_milliseconds_bucket{{{labels},le=\"{bound}\"}} {} {time}",
                        words[1 + i]
                    )?;
                }
                writeln!(
                    out,
                    "istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} {} {time}",
                    words[0]
                )?;
                writeln!(
                    out,
                    "istio_request_duration_milliseconds_sum{{{labels}}} {} {time}",
                    istio::millis_text(words[RECORD_WORDS - 1])
                )?;
                writeln!(
                    out,
                    "istio_request_duration_milliseconds_count{{{labels}}} {} {time}",
                    words[0]
                )?;
            }
        }
        out.write_all(b"# EOF\n")?;
        out.flush()
    }

    /// The series' labels, Istio's names in a fixed order.
    fn labels(&self, key: &SeriesKey) -> String {
        let (source, source_namespace) = if key.from_load {
            (
                &self.workload_names[key.source as usize],
                istio::LOAD_NAMESPACE,
            )
        } else {
            (
                &self.service_names[key.source as usize],
                istio::SERVICE_NAMESPACE,
            )
        };
        let source = escape(source);
        let destination = escape(&self.service_names[key.destination as usize]);
        let namespace = istio::SERVICE_NAMESPACE;
        let (code, flags) = istio::response(key.outcome);
        format!(
            "reporter=\"source\",source_workload=\"{source}\",source_workload_namespace=\"{source_namespace}\",\
             source_canonical_service=\"{source}\",destination_workload=\"{destination}\",\
             destination_workload_namespace=\"{namespace}\",destination_canonical_service=\"{destination}\",\
             destination_service=\"{destination}.{namespace}.svc.cluster.local\",\
             destination_service_name=\"{destination}\",destination_service_namespace=\"{namespace}\",\
             request_protocol=\"http\",response_code=\"{code}\",response_flags=\"{flags}\",\
             connection_security_policy=\"unknown\""
        )
    }
}

/// A label value with `\`, `"` and line feeds escaped (OpenMetrics' escapes).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Simulated nanoseconds as an OpenMetrics timestamp: Unix seconds from [`EPOCH_NANOS`],
/// whole seconds without a fraction (so the classic text parser of `promtool check metrics`
/// reads them too), else with milliseconds (the precision Prometheus keeps).
pub fn timestamp(nanos: u64) -> String {
    let millis = (EPOCH_NANOS + nanos) / 1_000_000;
    if millis.is_multiple_of(1000) {
        format!("{}", millis / 1000)
    } else {
        format!("{}.{:03}", millis / 1000, millis % 1000)
    }
}

impl<R: Recorder> Recorder for OpenMetricsRecorder<R> {
    const TRACES: bool = true;

    fn trace(&mut self, event: &TraceEvent) {
        match *event {
            TraceEvent::RequestStarts {
                request,
                workload,
                at,
            } => {
                self.requests.insert(request, (workload, at));
            }
            TraceEvent::RequestEnds {
                request,
                outcome,
                at,
            } => {
                if let Some((workload, started)) = self.requests.remove(&request) {
                    let key = SeriesKey {
                        source: workload,
                        from_load: true,
                        destination: self.workload_service[workload as usize],
                        outcome,
                    };
                    self.count(key, at.saturating_sub(started));
                }
            }
            TraceEvent::TrySent {
                try_key,
                caller_replica,
                parent_is_job,
                endpoint,
                at,
                ..
            } => {
                // The workload's own tries are the end-to-end requests' (counted above).
                if parent_is_job {
                    if let Some(&source) = self.slot_service.get(caller_replica as usize) {
                        let destination = self.endpoint_service[endpoint as usize];
                        self.tries.insert(try_key, (source, destination, at));
                    }
                }
            }
            TraceEvent::TryEnds {
                try_key,
                outcome,
                at,
            } => {
                if let Some((source, destination, sent)) = self.tries.remove(&try_key) {
                    if let Some(outcome) = outcome {
                        let key = SeriesKey {
                            source,
                            from_load: false,
                            destination,
                            outcome,
                        };
                        self.count(key, at.saturating_sub(sent));
                    }
                }
            }
            TraceEvent::JobStarts { .. } | TraceEvent::JobEnds { .. } => {}
        }
        if R::TRACES {
            self.inner.trace(event);
        }
    }

    fn window(&mut self, row: &WindowRow<'_>) {
        if row.service == EDGE_ROW {
            self.write_block(row.end);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_unix_seconds_from_2024() {
        assert_eq!(timestamp(0), "1704067200");
        assert_eq!(timestamp(1_500_000_000), "1704067201.500");
        // Below a millisecond is dropped, as Prometheus would.
        assert_eq!(timestamp(2_000_400_000), "1704067202");
    }

    #[test]
    fn totals_fill_buckets_cumulatively() {
        let mut totals = Totals::default();
        for nanos in [400_000, 1_000_000, 1_000_001, 7_200_000_000_000] {
            totals.record(nanos);
        }
        let mut bytes = [0u8; RECORD_BYTES];
        totals.encode(&mut bytes);
        let words = decode(&bytes);
        assert_eq!(words[0], 4);
        // le 0.5: 0.4 ms; le 1: + 1 ms exactly; le 5: + 1.000001 ms; two hours is only in +Inf.
        assert_eq!(&words[1..4], &[1, 2, 3]);
        assert_eq!(words[RECORD_WORDS - 2], 3);
        assert_eq!(words[RECORD_WORDS - 1], 7_200_002_400_001);
    }
}
