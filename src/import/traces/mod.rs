//! Distributed traces (OpenTelemetry OTLP/JSON, Jaeger JSON, Zipkin v2 JSON, Alibaba's
//! microservices call-graph CSV) turned into a meshsim scenario that reproduces them.
//!
//! Reading is in two stages. Each format's reader ([`otlp`], [`jaeger`], [`zipkin`],
//! [`alibaba`]) turns its files into [`Span`]s in one [`SpanSet`]: a compact, format-neutral row
//! per span (names interned, times in nanoseconds). Then [`infer`] checks each trace (parents
//! present, no child outlasting its synchronous parent), counts and skips the broken ones, and
//! infers the system: services, endpoints, replicas, call steps and probabilities, per-endpoint
//! own work, network latency, error rates and load. It writes the scenario as commented TOML
//! text, which then goes through the ordinary scenario reader (as `import isotope`'s does).
//!
//! A problem with a whole file (not JSON, not a trace format, a format other than the others')
//! is an error naming the file (and its line and column where it has them); a problem with one
//! trace (a parent that never appears, clock skew, a span without times) skips that trace and is
//! counted in a warning.

pub mod alibaba;
pub mod infer;
pub mod jaeger;
pub mod otlp;
pub mod zipkin;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::model::Outcome;
use crate::scenario::{ScenarioError, ScenarioErrors};

/// The trace formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Format {
    /// OTLP/JSON: the collector's file exporter (`{"resourceSpans": ...}` per line, or one
    /// object) and the Jaeger v3 API's `{"result": {"resourceSpans": ...}}`.
    Otlp,
    /// Jaeger's JSON (`{"data": [{"traceID", "spans", "processes"}]}`, the UI's download), or one
    /// trace object.
    Jaeger,
    /// Zipkin v2 JSON: a list of spans, or a list of traces (lists of spans).
    Zipkin,
    /// Alibaba's cluster-trace-microservices-v2021 `MS_CallGraph` CSV.
    Alibaba,
}

impl Format {
    /// The name used on the command line (`--format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Otlp => "otlp",
            Format::Jaeger => "jaeger",
            Format::Zipkin => "zipkin",
            Format::Alibaba => "alibaba",
        }
    }

    /// What the format is, for messages.
    pub fn description(self) -> &'static str {
        match self {
            Format::Otlp => "OTLP/JSON",
            Format::Jaeger => "Jaeger JSON",
            Format::Zipkin => "Zipkin v2 JSON",
            Format::Alibaba => "Alibaba MS_CallGraph CSV",
        }
    }

    /// The format named `name` (`otlp`, `jaeger`, `zipkin`, `alibaba`).
    pub fn from_name(name: &str) -> Option<Format> {
        [
            Format::Otlp,
            Format::Jaeger,
            Format::Zipkin,
            Format::Alibaba,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The resolution of the format's times, nanoseconds: a child may outlast its parent by
    /// this much before it counts as clock skew.
    pub fn resolution(self) -> i64 {
        match self {
            Format::Otlp => 1,
            Format::Jaeger | Format::Zipkin => 1_000,
            Format::Alibaba => 1_000_000,
        }
    }
}

/// What a span is, as the trace says (`Unspecified` kinds are inferred later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// No kind given.
    Unspecified,
    /// Work inside a service (transparent: its children belong to its nearest non-internal
    /// ancestor).
    Internal,
    /// A request handled (OTLP SERVER, Zipkin SERVER, Jaeger `span.kind=server`).
    Server,
    /// A request made (CLIENT).
    Client,
    /// A message sent (treated as a client span).
    Producer,
    /// A message handled (treated as a server span).
    Consumer,
}

/// Index value meaning "no name".
pub const NO_NAME: u32 = u32::MAX;

/// One span, format-neutral.
#[derive(Debug, Clone)]
pub struct Span {
    /// Index of its trace in [`SpanSet::trace_count`] order.
    pub trace: u32,
    /// Its id (a 64-bit span id; ids that are not hex are hashed).
    pub id: u64,
    /// Its parent's id, 0 at a root.
    pub parent: u64,
    /// Its service's name (interned).
    pub service: u32,
    /// Its service instance (`service.instance.id`, host, address), or [`NO_NAME`].
    pub instance: u32,
    /// Its name (operation), interned.
    pub name: u32,
    /// The service a client span calls when the trace names it (`peer.service`, Zipkin's
    /// `remoteEndpoint`), or [`NO_NAME`].
    pub peer: u32,
    /// Its kind.
    pub kind: SpanKind,
    /// Whether it ended in error (status code 2, `error` tag).
    pub error: bool,
    /// Start, nanoseconds since the epoch (or since the start of the file's window).
    pub start: i64,
    /// End, nanoseconds.
    pub end: i64,
    /// How a client span relates to the other tries of its call, when the trace says so.
    pub try_mark: TryMark,
    /// Why it failed, when the trace names one of the simulator's outcomes (status message or
    /// `error.type`: `timeout`, `refused`, `error`, `rejected`, `circuit_open`); `None` when it
    /// did not fail or the trace does not say.
    pub outcome: Option<Outcome>,
    /// Whether it lost a hedge race (`meshsim.cancelled`): it ends when the winner answers, so
    /// its end and status say nothing about its own try.
    pub cancelled: bool,
}

/// What the trace says of a client span among the tries of its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TryMark {
    /// Nothing: a first try, or a trace that does not mark its tries.
    #[default]
    Unmarked,
    /// A retry after a failed try: meshsim's `meshsim.retry`, OpenTelemetry's
    /// `http.request.resend_count` of 1 or more, Envoy's `retry.count` of 1 or more.
    Retry,
    /// A hedge, sent while an earlier try of the call is still out (`meshsim.hedge`).
    Hedge,
}

impl TryMark {
    /// The mark of a span with these attributes (each `None` when absent): meshsim's
    /// `meshsim.retry` and `meshsim.hedge` flags, OpenTelemetry's `http.request.resend_count`,
    /// Envoy's `retry.count`.
    pub fn from_attributes(
        retry: bool,
        hedge: bool,
        resend_count: Option<i64>,
        envoy_retry_count: Option<i64>,
    ) -> TryMark {
        if hedge {
            TryMark::Hedge
        } else if retry
            || resend_count.is_some_and(|n| n >= 1)
            || envoy_retry_count.is_some_and(|n| n >= 1)
        {
            TryMark::Retry
        } else {
            TryMark::Unmarked
        }
    }
}

/// The simulator's failure outcome named `text` (a span's status message or `error.type`), if
/// it names one.
pub fn outcome_named(text: &str) -> Option<Outcome> {
    Outcome::FAILURES
        .into_iter()
        .find(|o| o.name().eq_ignore_ascii_case(text.trim()))
}

/// Interned strings.
#[derive(Debug, Default)]
pub struct Names {
    index: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The index of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&index) = self.index.get(name) {
            return index;
        }
        let index = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), index);
        index
    }

    /// The string of `index` (empty for [`NO_NAME`]).
    pub fn get(&self, index: u32) -> &str {
        self.names.get(index as usize).map_or("", |name| name)
    }
}

/// Every span read, with the traces they belong to.
#[derive(Debug)]
pub struct SpanSet {
    /// The spans, in reading order.
    pub spans: Vec<Span>,
    /// Names of services, instances, spans.
    pub names: Names,
    /// Trace ids seen, mapped to their index.
    trace_ids: HashMap<u128, u32>,
    /// Traces found broken while reading (by index), with the first reason.
    pub broken: BTreeMap<u32, String>,
    /// The format read.
    pub format: Format,
    /// The files read, as named.
    pub files: Vec<String>,
    /// Per file read, the number of spans read once it was: the spans of file `i` are those
    /// from `file_ends[i - 1]` (0 for the first) to `file_ends[i]`.
    pub file_ends: Vec<usize>,
    /// The sampling probability the traces declare (OTLP `tracestate` `ot=th:`), if any.
    pub sampling: Option<f64>,
}

impl SpanSet {
    /// An empty set for `format`.
    pub fn new(format: Format) -> SpanSet {
        SpanSet {
            spans: Vec::new(),
            names: Names::default(),
            trace_ids: HashMap::new(),
            broken: BTreeMap::new(),
            format,
            files: Vec::new(),
            file_ends: Vec::new(),
            sampling: None,
        }
    }

    /// The index of the trace with id `id`, added if new.
    pub fn trace(&mut self, id: u128) -> u32 {
        let next = self.trace_ids.len() as u32;
        *self.trace_ids.entry(id).or_insert(next)
    }

    /// Traces seen.
    pub fn trace_count(&self) -> u32 {
        self.trace_ids.len() as u32
    }

    /// The file span `span` was read from, as named.
    pub fn file_of(&self, span: usize) -> &str {
        let index = self.file_ends.partition_point(|&end| end <= span);
        self.files
            .get(index)
            .or(self.files.last())
            .map_or("", String::as_str)
    }

    /// Marks trace `trace` broken for `reason` (the first reason is kept).
    pub fn mark_broken(&mut self, trace: u32, reason: impl FnOnce() -> String) {
        self.broken.entry(trace).or_insert_with(reason);
    }
}

/// A span's start and end in nanoseconds from a start and a duration in microseconds (Zipkin's
/// and Jaeger's unit), or `None` when either does not fit in 64-bit nanoseconds (past the
/// year 2262): such a span is refused, not clamped into a wrong duration.
pub fn micros_to_nanos_span(start_micros: i128, duration_micros: i128) -> Option<(i64, i64)> {
    let start = start_micros.checked_mul(1_000)?;
    let end = start.checked_add(duration_micros.checked_mul(1_000)?)?;
    Some((i64::try_from(start).ok()?, i64::try_from(end).ok()?))
}

/// A hex id (trace or span) as a number: up to 32 hex digits. Ids that are not hex are hashed
/// (FNV-1a, top bit set so they never meet a hex id's small values); empty or all-zero ids are
/// `None` (invalid in every format read).
pub fn parse_id(text: &str) -> Option<u128> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.len() <= 32 {
        if let Ok(value) = u128::from_str_radix(text, 16) {
            return (value != 0).then_some(value);
        }
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    Some(u128::from(hash | (1 << 63)))
}

/// A span id folded to 64 bits (ids are 64-bit in OTLP, Jaeger and Zipkin; longer ones keep
/// their low 64 bits xor their high 64 bits).
pub fn span_id(value: u128) -> u64 {
    let folded = (value as u64) ^ ((value >> 64) as u64);
    if folded == 0 {
        1
    } else {
        folded
    }
}

/// A file-level problem: the file, line and column (0 when unknown) and what is wrong.
pub fn file_error(
    file: &str,
    line: usize,
    column: usize,
    message: impl Into<String>,
) -> ScenarioError {
    ScenarioError {
        file: file.to_string(),
        line,
        column,
        message: message.into(),
    }
}

/// The format of a file, from its first bytes: `{` with `resourceSpans`/`result` is OTLP, `{`
/// with `data`/`traceID`/`processes` is Jaeger, `[` is Zipkin, a CSV line is Alibaba's.
pub fn detect(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        let has = |key: &str| text.contains(&format!("\"{key}\""));
        if has("resourceSpans") || has("result") {
            return Some(Format::Otlp);
        }
        if has("data") || has("processes") || has("traceID") || has("operationName") {
            return Some(Format::Jaeger);
        }
        return None;
    }
    if text.starts_with('[') {
        return Some(Format::Zipkin);
    }
    let first_line = text.lines().next().unwrap_or("");
    if first_line.split(',').count() >= 8 {
        return Some(Format::Alibaba);
    }
    None
}

/// The UTF-8 byte-order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The format, or `None` to detect it from the content.
    pub format: Option<Format>,
    /// Scenario name (default: the first file's name without extension).
    pub name: Option<String>,
    /// Workers per replica (concurrency cannot be seen in traces).
    pub workers: u32,
    /// Scenario seed.
    pub seed: u64,
    /// Replay the roots' start times as a trace workload (a CSV file beside the scenario).
    pub replay: bool,
}

/// Default workers per replica: many, so that the imported system adds no queueing of its own
/// (the traces' own work already includes the queueing they saw).
pub const DEFAULT_WORKERS: u32 = 1024;

impl ImportOptions {
    /// Checks the options against the scenario's limits, each problem naming its option, so
    /// that none is found later at a line of the generated text.
    pub fn check(&self) -> Result<(), ScenarioErrors> {
        let mut problems = Vec::new();
        let max_workers = crate::scenario::limits::MAX_WORKERS;
        if u64::from(self.workers) > max_workers {
            problems.push(ScenarioError::without_position(
                "--workers",
                format!(
                    "must be at most {max_workers} per replica, found {}",
                    self.workers
                ),
            ));
        }
        if let Some(why) = self
            .name
            .as_deref()
            .and_then(crate::scenario::limits::scenario_name_problem)
        {
            problems.push(ScenarioError::without_position("--name", why));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioErrors(problems))
        }
    }
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            name: None,
            workers: DEFAULT_WORKERS,
            seed: 1,
            replay: false,
        }
    }
}

/// Reads every file into one span set (all in one format). Errors name the file.
pub fn read_files(paths: &[PathBuf], format: Option<Format>) -> Result<SpanSet, ScenarioErrors> {
    if paths.is_empty() {
        return Err(ScenarioErrors::single(
            "import traces",
            "no trace file given",
        ));
    }
    let mut set: Option<SpanSet> = None;
    for path in paths {
        let label = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|error| {
            ScenarioErrors::single(&label, format!("cannot read {label}: {error}"))
        })?;
        // A UTF-8 byte-order mark, which some tools write before JSON or CSV, is not content:
        // JSON forbids it, and the CSV reader would take it into the first field.
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(&bytes);
        let detected = detect(&bytes[..bytes.len().min(64 * 1024)]);
        let file_format =
            match (format, detected) {
                (Some(given), Some(found)) if given != found => {
                    return Err(ScenarioErrors::single(
                        &label,
                        format!(
                            "--format {} was given, but the file looks like {}",
                            given.name(),
                            found.description()
                        ),
                    ))
                }
                (Some(given), _) => given,
                (None, Some(found)) => found,
                (None, None) => return Err(ScenarioErrors::single(
                    &label,
                    "not a trace file: expected OTLP/JSON ({\"resourceSpans\": ...}), Jaeger JSON \
                     ({\"data\": [...]}), Zipkin v2 JSON ([...]) or Alibaba MS_CallGraph CSV",
                )),
            };
        let set = set.get_or_insert_with(|| SpanSet::new(file_format));
        if set.format != file_format {
            return Err(ScenarioErrors::single(
                &label,
                format!(
                    "mixed formats: {} is {}, but {} is {}; import one format at a time",
                    set.files[0],
                    set.format.description(),
                    label,
                    file_format.description()
                ),
            ));
        }
        set.files.push(label.clone());
        let result = match file_format {
            Format::Otlp => otlp::read(bytes, &label, set),
            Format::Jaeger => jaeger::read(bytes, &label, set),
            Format::Zipkin => zipkin::read(bytes, &label, set),
            Format::Alibaba => alibaba::read(bytes, &label, set),
        };
        result.map_err(|error| ScenarioErrors(vec![error]))?;
        set.file_ends.push(set.spans.len());
    }
    Ok(set.unwrap_or_else(|| SpanSet::new(Format::Otlp)))
}

/// A JSON syntax or shape error of `file` as a located problem.
pub(crate) fn json_error(file: &str, error: &serde_json::Error, what: &str) -> ScenarioError {
    let message = format!("not {what}: {error}");
    // serde_json appends " at line L column C"; the position goes in the fields instead.
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    file_error(file, error.line(), error.column(), message)
}

/// The result of an import: the scenario text, and files to write beside it.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The scenario (commented TOML).
    pub text: String,
    /// The scenario's name.
    pub name: String,
    /// Files the scenario refers to (name relative to the scenario, contents).
    pub side_files: Vec<(String, String)>,
    /// Warning lines (broken traces skipped, calls dropped).
    pub warnings: Vec<String>,
}

/// Reads `paths` and infers the scenario. Errors name the file and what was wrong.
pub fn import(paths: &[PathBuf], options: &ImportOptions) -> Result<Imported, ScenarioErrors> {
    options.check()?;
    let set = read_files(paths, options.format)?;
    // The first file's name, made a scenario name ("traces" if it cannot be one).
    let name = options.name.clone().unwrap_or_else(|| {
        paths[0]
            .file_stem()
            .and_then(|s| s.to_str())
            .map(infer::clean_name)
            .filter(|stem| crate::scenario::limits::scenario_name_problem(stem).is_none())
            .unwrap_or_else(|| "traces".to_string())
    });
    infer::scenario(&set, &name, options)
}

/// The folder a scenario written to `path` resolves files against.
pub fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_traced_back_to_its_file() {
        let mut set = SpanSet::new(Format::Otlp);
        set.files = vec!["a.json".into(), "empty.json".into(), "c.json".into()];
        set.file_ends = vec![2, 2, 5];
        let files: Vec<&str> = (0..5).map(|span| set.file_of(span)).collect();
        assert_eq!(files, ["a.json", "a.json", "c.json", "c.json", "c.json"]);
    }

    #[test]
    fn micros_past_64_bit_nanoseconds_make_no_span() {
        assert_eq!(micros_to_nanos_span(1, 2), Some((1_000, 3_000)));
        let max = i128::from(u64::MAX);
        assert_eq!(micros_to_nanos_span(max, 1), None);
        assert_eq!(micros_to_nanos_span(1, max), None);
        assert_eq!(micros_to_nanos_span(i128::MAX, 1), None);
        assert_eq!(micros_to_nanos_span(9_223_372_036_854_775, 1), None);
    }
}
