//! `meshsim run --traces FILE`: sampled end-to-end requests as OTLP/JSON (one `TracesData`
//! object, which Jaeger's UI opens with "Upload JSON" and `meshsim import traces` reads back).
//!
//! Per sampled request: a root span (`request`, kind INTERNAL, in the workload's resource) for
//! the whole request; a CLIENT span per try, in the caller's resource (a replica, or the
//! workload at the edge), named after the endpoint called, with `peer.service`, `meshsim.try`
//! and `meshsim.retry`/`meshsim.hedge` attributes (retries and hedges are siblings of the first
//! try); a SERVER span per job, in the replica's resource (`service.instance.id` `svc#i`), from
//! its arrival at the replica (queueing included) to its response. Outcomes are span status
//! (code 2 with the outcome's name; a try that lost to another try of its call is left unset
//! with `meshsim.cancelled`). Faults are span events of the root span: `fault_start` and
//! `fault_end` on every sampled request in flight when they happen, `fault_active` (at its start)
//! on every sampled request that starts while one is in force; the event's `meshsim.fault`
//! attribute names the target and the fault.
//!
//! Sampling is decided by the request's identity (its key), so the same request is sampled in
//! every run of the same scenario and seed: the trace id's low 56 bits are its randomness and
//! the request is kept when they reach the rejection threshold `(1 - p) * 2^56`, as
//! OpenTelemetry's probability sampling does; every span carries `tracestate` `ot=th:...`.
//! Only sampled requests are kept in memory, and each is written as soon as it and every span
//! under it have ended.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::model::{Model, Outcome};
use crate::sim::{EventRecord, Recorder, ReplicaRow, Simulation, TraceEvent, TryKind, WindowRow};

/// Simulated time 0 as Unix time (2024-01-01T00:00:00Z), nanoseconds: traces show a real date.
pub const EPOCH_NANOS: u64 = 1_704_067_200_000_000_000;

const LOW_56: u64 = (1 << 56) - 1;

/// Where a span belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Workload(u32),
    Replica(u32),
}

#[derive(Debug)]
struct SpanRecord {
    id: u64,
    parent: u64,
    owner: Owner,
    /// Endpoint index, or `u32::MAX` for the root.
    endpoint: u32,
    /// OTLP kind: 1 internal, 2 server, 3 client.
    kind: u8,
    start: u64,
    end: Option<u64>,
    /// `None` while open; `Some(None)`: cancelled.
    outcome: Option<Option<Outcome>>,
    try_number: u32,
    try_kind: TryKind,
    events: Vec<(u64, &'static str, String)>,
}

#[derive(Debug)]
struct OpenRequest {
    trace_hi: u64,
    trace_lo: u64,
    spans: Vec<SpanRecord>,
    open: u32,
    ended: bool,
}

/// A [`Recorder`] that passes everything to `inner` and writes sampled requests as OTLP/JSON.
pub struct TraceRecorder<R> {
    inner: R,
    out: std::io::BufWriter<std::fs::File>,
    threshold: u64,
    trace_state: String,
    service_names: Vec<String>,
    replicas: Vec<(u32, u32)>,
    endpoint_names: Vec<String>,
    endpoint_service: Vec<u32>,
    workload_names: Vec<String>,
    requests: HashMap<u64, OpenRequest>,
    /// Open span id to its request's key.
    spans: HashMap<u64, u64>,
    written_any: bool,
    /// Faults in force: (subject, detail), in start order.
    active_faults: Vec<(String, String)>,
    error: Option<std::io::Error>,
    last_time: u64,
    /// Requests written.
    pub requests_written: u64,
}

fn mix(mut x: u64) -> u64 {
    // SplitMix64's finaliser: a bijection, so distinct keys give distinct trace ids.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn nonzero(id: u64) -> u64 {
    if id == 0 {
        1
    } else {
        id
    }
}

fn root_id(request: u64) -> u64 {
    nonzero(mix(request ^ 0x726f_6f74))
}

fn client_id(try_key: u64) -> u64 {
    nonzero(mix(try_key ^ 0x636c_6965_6e74))
}

fn server_id(try_key: u64) -> u64 {
    nonzero(mix(try_key ^ 0x7365_7276_6572))
}

impl<R: Recorder> TraceRecorder<R> {
    /// Writes the sampled requests (probability `probability`, in (0, 1]) of a run of `model`
    /// to `path`.
    pub fn new(inner: R, model: &Model, path: &Path, probability: f64) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        let mut out = std::io::BufWriter::new(file);
        out.write_all(b"{\"resourceSpans\":[")?;
        let threshold = ((1.0 - probability.clamp(0.0, 1.0)) * (1u64 << 56) as f64).round() as u64;
        Ok(TraceRecorder {
            inner,
            out,
            threshold,
            trace_state: crate::import::traces::otlp::trace_state_for(probability),
            service_names: model.services.iter().map(|s| s.name.clone()).collect(),
            replicas: Simulation::<crate::sim::NullRecorder>::replica_slot_table(model),
            endpoint_names: model.endpoints.iter().map(|e| e.name.clone()).collect(),
            endpoint_service: model.endpoints.iter().map(|e| e.service as u32).collect(),
            workload_names: model.workloads.iter().map(|w| w.name.clone()).collect(),
            requests: HashMap::new(),
            spans: HashMap::new(),
            written_any: false,
            active_faults: Vec::new(),
            error: None,
            last_time: 0,
            requests_written: 0,
        })
    }

    /// Writes the requests still open (their open spans end at the run's last event, marked
    /// `meshsim.unfinished`), closes the file and returns the inner recorder.
    pub fn finish(mut self) -> std::io::Result<R> {
        let mut keys: Vec<u64> = self.requests.keys().copied().collect();
        keys.sort_unstable();
        for key in keys {
            self.flush(key);
        }
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.out.write_all(b"]}\n")?;
        self.out.flush()?;
        Ok(self.inner)
    }

    fn open_span(&mut self, request: u64, span: SpanRecord) {
        if let Some(open) = self.requests.get_mut(&request) {
            self.spans.insert(span.id, request);
            open.spans.push(span);
            open.open += 1;
        }
    }

    fn close_span(&mut self, id: u64, outcome: Option<Outcome>, at: u64) {
        let Some(request) = self.spans.remove(&id) else {
            return;
        };
        let Some(open) = self.requests.get_mut(&request) else {
            return;
        };
        if let Some(span) = open.spans.iter_mut().rev().find(|s| s.id == id) {
            span.end = Some(at);
            span.outcome = Some(outcome);
            open.open -= 1;
        }
        if open.ended && open.open == 0 {
            self.flush(request);
        }
    }

    fn flush(&mut self, request: u64) {
        let Some(open) = self.requests.remove(&request) else {
            return;
        };
        let trace_id = format!("{:016x}{:016x}", open.trace_hi, open.trace_lo);
        let mut owners: Vec<Owner> = Vec::new();
        for span in &open.spans {
            if !owners.contains(&span.owner) {
                owners.push(span.owner);
            }
        }
        let mut text = String::new();
        for owner in owners {
            if self.written_any || !text.is_empty() {
                text.push(',');
            }
            let (service, instance) = match owner {
                Owner::Workload(w) => {
                    let name = format!("workload:{}", self.workload_names[w as usize]);
                    (name.clone(), name)
                }
                Owner::Replica(slot) => {
                    let (service, index) = self.replicas[slot as usize];
                    let name = &self.service_names[service as usize];
                    (name.clone(), format!("{name}#{index}"))
                }
            };
            let _ = write!(
                text,
                "{{\"resource\":{{\"attributes\":[{},{}]}},\"scopeSpans\":[{{\"scope\":{{\"name\":\"meshsim\"}},\"spans\":[",
                string_attribute("service.name", &service),
                string_attribute("service.instance.id", &instance)
            );
            let mut first = true;
            for span in open.spans.iter().filter(|s| s.owner == owner) {
                if !first {
                    text.push(',');
                }
                first = false;
                self.span_json(&mut text, &trace_id, span);
            }
            text.push_str("]}]}");
        }
        self.requests_written += 1;
        if !text.is_empty() {
            self.written_any = true;
        }
        for span in &open.spans {
            self.spans.remove(&span.id);
        }
        if self.error.is_none() {
            if let Err(error) = self.out.write_all(text.as_bytes()) {
                self.error = Some(error);
            }
        }
    }

    fn span_json(&self, text: &mut String, trace_id: &str, span: &SpanRecord) {
        let name = if span.endpoint == u32::MAX {
            "request"
        } else {
            &self.endpoint_names[span.endpoint as usize]
        };
        let end = span.end.unwrap_or(self.last_time).max(span.start);
        let _ = write!(
            text,
            "{{\"traceId\":\"{trace_id}\",\"spanId\":\"{:016x}\",\"parentSpanId\":\"{}\",\"traceState\":\"{}\",\"name\":{},\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[",
            span.id,
            if span.parent == 0 { String::new() } else { format!("{:016x}", span.parent) },
            self.trace_state,
            json_string(name),
            span.kind,
            EPOCH_NANOS + span.start,
            EPOCH_NANOS + end,
        );
        let mut attributes: Vec<String> = Vec::new();
        if span.kind == 3 {
            let service = self.endpoint_service[span.endpoint as usize];
            attributes.push(string_attribute(
                "peer.service",
                &self.service_names[service as usize],
            ));
            attributes.push(format!(
                "{{\"key\":\"meshsim.try\",\"value\":{{\"intValue\":\"{}\"}}}}",
                span.try_number
            ));
            match span.try_kind {
                TryKind::Retry => attributes.push(bool_attribute("meshsim.retry")),
                TryKind::Hedge => attributes.push(bool_attribute("meshsim.hedge")),
                TryKind::First => {}
            }
        }
        if span.outcome == Some(None) {
            attributes.push(bool_attribute("meshsim.cancelled"));
        }
        if span.end.is_none() {
            attributes.push(bool_attribute("meshsim.unfinished"));
        }
        text.push_str(&attributes.join(","));
        text.push_str("],\"events\":[");
        for (i, (at, name, detail)) in span.events.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let _ = write!(
                text,
                "{{\"timeUnixNano\":\"{}\",\"name\":{},\"attributes\":[{}]}}",
                EPOCH_NANOS + at,
                json_string(name),
                string_attribute("meshsim.fault", detail)
            );
        }
        text.push_str("],\"status\":");
        match span.outcome {
            Some(Some(outcome)) if outcome != Outcome::Succeeded => {
                let _ = write!(
                    text,
                    "{{\"code\":2,\"message\":{}}}",
                    json_string(outcome.name())
                );
            }
            _ => text.push_str("{}"),
        }
        text.push('}');
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

fn string_attribute(key: &str, value: &str) -> String {
    format!(
        "{{\"key\":{},\"value\":{{\"stringValue\":{}}}}}",
        json_string(key),
        json_string(value)
    )
}

fn bool_attribute(key: &str) -> String {
    format!(
        "{{\"key\":{},\"value\":{{\"boolValue\":true}}}}",
        json_string(key)
    )
}

impl<R: Recorder> Recorder for TraceRecorder<R> {
    const TRACES: bool = true;

    fn window(&mut self, row: &WindowRow<'_>) {
        self.inner.window(row);
    }

    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        self.inner.replica_window(row);
    }

    fn event(&mut self, record: &EventRecord) {
        if record.kind == "fault_start" {
            let fault = (record.subject.clone(), record.detail.clone());
            self.active_faults.push(fault);
        } else if record.kind == "fault_end" {
            let (subject, detail) = (&record.subject, &record.detail);
            if let Some(i) = self
                .active_faults
                .iter()
                .position(|(s, d)| s == subject && d == detail)
            {
                self.active_faults.remove(i);
            }
        }
        if record.kind.starts_with("fault") {
            let detail = format!("{} {}", record.subject, record.detail);
            for open in self.requests.values_mut() {
                if let Some(root) = open.spans.first_mut() {
                    root.events.push((record.time, record.kind, detail.clone()));
                }
            }
        }
        self.inner.event(record);
    }

    fn trace(&mut self, event: &TraceEvent) {
        match *event {
            TraceEvent::RequestStarts {
                request,
                workload,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                let (trace_hi, trace_lo) = (mix(request), mix(request ^ 0x0074_7261_6365));
                if trace_lo & LOW_56 < self.threshold {
                    return;
                }
                let id = root_id(request);
                let events = self
                    .active_faults
                    .iter()
                    .map(|(subject, detail)| (at, "fault_active", format!("{subject} {detail}")))
                    .collect();
                self.requests.insert(
                    request,
                    OpenRequest {
                        trace_hi,
                        trace_lo,
                        spans: Vec::new(),
                        open: 0,
                        ended: false,
                    },
                );
                self.open_span(
                    request,
                    SpanRecord {
                        id,
                        parent: 0,
                        owner: Owner::Workload(workload),
                        endpoint: u32::MAX,
                        kind: 1,
                        start: at,
                        end: None,
                        outcome: None,
                        try_number: 0,
                        try_kind: TryKind::First,
                        events,
                    },
                );
            }
            TraceEvent::RequestEnds {
                request,
                outcome,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                if let Some(open) = self.requests.get_mut(&request) {
                    open.ended = true;
                }
                self.close_span(root_id(request), Some(outcome), at);
            }
            TraceEvent::TrySent {
                try_key,
                parent,
                parent_is_job,
                caller_replica,
                workload,
                endpoint,
                try_number,
                kind,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                let parent_id = if parent_is_job {
                    server_id(parent)
                } else {
                    root_id(parent)
                };
                let Some(&request) = self.spans.get(&parent_id) else {
                    return;
                };
                let owner = if caller_replica == u32::MAX {
                    Owner::Workload(workload)
                } else {
                    Owner::Replica(caller_replica)
                };
                self.open_span(
                    request,
                    SpanRecord {
                        id: client_id(try_key),
                        parent: parent_id,
                        owner,
                        endpoint,
                        kind: 3,
                        start: at,
                        end: None,
                        outcome: None,
                        try_number,
                        try_kind: kind,
                        events: Vec::new(),
                    },
                );
            }
            TraceEvent::TryEnds {
                try_key,
                outcome,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                self.close_span(client_id(try_key), outcome, at);
            }
            TraceEvent::JobStarts {
                try_key,
                replica,
                endpoint,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                let parent = client_id(try_key);
                let Some(&request) = self.spans.get(&parent) else {
                    return;
                };
                self.open_span(
                    request,
                    SpanRecord {
                        id: server_id(try_key),
                        parent,
                        owner: Owner::Replica(replica),
                        endpoint,
                        kind: 2,
                        start: at,
                        end: None,
                        outcome: None,
                        try_number: 0,
                        try_kind: TryKind::First,
                        events: Vec::new(),
                    },
                );
            }
            TraceEvent::JobEnds {
                try_key,
                outcome,
                at,
            } => {
                self.last_time = self.last_time.max(at);
                self.close_span(server_id(try_key), Some(outcome), at);
            }
        }
    }
}
