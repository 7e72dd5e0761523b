//! Does `meshsim run --traces` open in Jaeger's UI? The UI's "Upload JSON" does not read OTLP
//! itself: jaegertracing/jaeger-ui (commit c321fb32bbca0bdce9e8c2d40afb35abbf54c12b),
//! `packages/jaeger-ui/src/utils/readJsonFile.ts`, sends a file whose JSON has a
//! `resourceSpans` key to the Jaeger backend (`POST /api/transform`, `src/api/jaeger.ts`
//! `transformOTLP`) and loads the answer, Jaeger JSON `{"data": [trace, ...]}`, as it loads an
//! uploaded Jaeger JSON file (`components/SearchTracePage/FileLoader.tsx`,
//! `model/transform-trace-data.ts`). The backend is Go (no Go toolchain here), so the check is
//! the backend's conversion written from its code, then the UI's loading rules, on our export:
//!
//! - jaegertracing/jaeger (commit 8498073ff809b1a3923521920a9b1b017ea97ecf),
//!   `cmd/jaeger/internal/extension/jaegerquery/internal/http_handler.go` (`transformOTLP`) and
//!   `otlp_translator.go` (`otlp2traces`): parse with the collector's `ptrace.JSONUnmarshaler`,
//!   convert with `v1adapter.V1BatchesFromTraces`, group the spans by trace id in order of first
//!   appearance, write each trace with `internal/uimodel/converter/v1/json/from_domain.go`;
//! - open-telemetry/opentelemetry-collector (commit 934999fbab274d10cbf18704b4594a6fb2049887),
//!   `pdata/internal/generated_proto_span.go`, `generated_proto_status.go`,
//!   `generated_proto_anyvalue.go`, `bytesid.go`, `json/iterator.go`: the JSON field names
//!   (lowerCamelCase or snake_case), ids as hex of exactly 32 / 16 digits (or empty), 64-bit
//!   times as numbers or decimal strings, enums as numbers or their exact proto names (an
//!   unknown name is an error);
//! - open-telemetry/opentelemetry-collector-contrib (commit
//!   ebdf3b1de2cc9c612aa4c0d11fcdbe1f65ea01ed), `pkg/translator/jaeger/traces_to_jaegerproto.go`
//!   (`ProtoFromTraces`), `constants.go`, `internal/coreinternal/tracetranslator`: the process
//!   is `service.name` plus the other resource attributes as tags; the parent becomes the first
//!   reference, `CHILD_OF`; tags are the scope's name and version, the attributes in order,
//!   `span.kind` (`server`, `client`, `internal`, ...), `otel.status_code` (`ERROR`, `OK`),
//!   `error` = true on an error, `otel.status_description`, `w3c.tracestate`; events become logs
//!   whose first field is `event` = the event's name;
//! - jaegertracing/jaeger-idl `model/v1/ids.go` (commit 909d07492e5e8f6ed57db04ddab1b1681aaeee20):
//!   a trace id prints as 32 hex digits, or 16 when its high half is zero; microseconds are the
//!   nanoseconds divided by 1000, truncated.
//!
//! `jaeger_transform` is checked against jaeger-ui's own pair of an OTLP file and the Jaeger JSON
//! its backend answered (`tests/fixtures/traces/jaeger-ui-otlp2jaeger-{in,out}.json`).

use crate::common::{self, root, temp_dir};
use meshsim::model::Model;
use meshsim::report::TraceRecorder;
use meshsim::sim::{NullRecorder, Simulation};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A field of an OTLP/JSON object under its lowerCamelCase or snake_case name (pdata reads both).
fn field<'v>(object: &'v Value, camel: &str, snake: &str) -> Option<&'v Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// pdata's `ReadUint64`: a JSON number, or a string of decimal digits.
fn read_u64(value: Option<&Value>, what: &str) -> Result<u64, String> {
    match value {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_u64().ok_or(format!("{what}: {n} is not a uint64")),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|_| format!("{what}: \"{s}\" (ParseUint)")),
        Some(other) => Err(format!("{what}: unsupported value type {other}")),
    }
}

/// pdata's `ReadInt64`, for `intValue`.
fn read_i64(value: &Value, what: &str) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or(format!("{what}: {n} is not an int64")),
        Value::String(s) => s.parse().map_err(|_| format!("{what}: \"{s}\" (ParseInt)")),
        other => Err(format!("{what}: unsupported value type {other}")),
    }
}

/// pdata's `ReadEnumValue`: a number, or one of the enum's proto names.
fn read_enum(value: Option<&Value>, names: &[&str], what: &str) -> Result<i64, String> {
    match value {
        None => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or(format!("{what}: {n}")),
        Some(Value::String(s)) => names
            .iter()
            .position(|name| name == s)
            .map(|i| i as i64)
            .ok_or(format!("{what}: unknown string value \"{s}\"")),
        Some(other) => Err(format!("{what}: unsupported value type {other}")),
    }
}

/// pdata's `bytesid.go` `unmarshalJSON`: empty is the zero id; else hex (either case) of exactly
/// `bytes` bytes.
fn read_id(value: Option<&Value>, bytes: usize, what: &str) -> Result<Vec<u8>, String> {
    let text = match value {
        None => return Ok(vec![0; bytes]),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return Err(format!("{what}: {other} is not a string")),
    };
    if text.is_empty() {
        return Ok(vec![0; bytes]);
    }
    if text.len() / 2 != bytes {
        return Err(format!("{what}: \"{text}\": length mismatch"));
    }
    if text.len() % 2 != 0 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{what}: \"{text}\": invalid hex"));
    }
    Ok((0..bytes)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect())
}

fn u64_of(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, &b| (acc << 8) | b as u64)
}

/// `model.TraceID.String()`: 16 hex digits when the high half is zero, else 32.
fn trace_id_text(bytes: &[u8]) -> String {
    let (high, low) = (u64_of(&bytes[..8]), u64_of(&bytes[8..]));
    if high == 0 {
        format!("{low:016x}")
    } else {
        format!("{high:016x}{low:016x}")
    }
}

/// One attribute as a Jaeger tag (`attributeToJaegerProtoTag`, then `from_domain.go`
/// `convertKeyValues`: int64 beyond ±2^53−1 is written as a string).
fn tag(key: &str, value: &Value) -> Result<Value, String> {
    let what = format!("attribute {key}");
    if let Some(s) = field(value, "stringValue", "string_value") {
        let s = s.as_str().ok_or(format!("{what}: stringValue"))?;
        return Ok(json!({"key": key, "type": "string", "value": s}));
    }
    if let Some(b) = field(value, "boolValue", "bool_value") {
        let b = b.as_bool().ok_or(format!("{what}: boolValue"))?;
        return Ok(json!({"key": key, "type": "bool", "value": b}));
    }
    if let Some(i) = field(value, "intValue", "int_value") {
        let i = read_i64(i, &what)?;
        let max = (1i64 << 53) - 1;
        let written = if i.abs() > max {
            json!(i.to_string())
        } else {
            json!(i)
        };
        return Ok(json!({"key": key, "type": "int64", "value": written}));
    }
    if let Some(d) = field(value, "doubleValue", "double_value") {
        let d = match d {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::String(s) => s.parse().map_err(|_| format!("{what}: doubleValue"))?,
            _ => return Err(format!("{what}: doubleValue")),
        };
        return Ok(json!({"key": key, "type": "float64", "value": d}));
    }
    // Arrays and maps become strings (`AsString`); meshsim writes none.
    Ok(json!({"key": key, "type": "string", "value": value.to_string()}))
}

fn string_tag(key: &str, value: &str) -> Value {
    json!({"key": key, "type": "string", "value": value})
}

fn attributes_of(object: &Value) -> &[Value] {
    object
        .get("attributes")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn array_of<'v>(object: &'v Value, camel: &str, snake: &str) -> &'v [Value] {
    field(object, camel, snake)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/// Jaeger's `POST /api/transform` of an OTLP/JSON `TracesData` text, as its code reads (module
/// comment): the Jaeger JSON its UI receives, or the error it answers with (HTTP 400). The scope's
/// name is written under `scope_key` (`otel.scope.name` in the translator read; the older one
/// that made jaeger-ui's fixture wrote `otel.library.name`).
fn jaeger_transform(text: &str, scope_key: &str) -> Result<Value, String> {
    let document: Value =
        serde_json::from_str(text).map_err(|e| format!("cannot unmarshal OTLP : {e}"))?;
    let mut traces: Vec<(String, Vec<(Value, Value)>)> = Vec::new();
    for resource_spans in array_of(&document, "resourceSpans", "resource_spans") {
        let resource = resource_spans.get("resource").unwrap_or(&Value::Null);
        let resource_attributes = attributes_of(resource);
        let scope_spans = array_of(resource_spans, "scopeSpans", "scope_spans");
        if resource_attributes.is_empty() && scope_spans.is_empty() {
            continue;
        }
        // resourceToJaegerProtoProcess
        let mut process = Map::new();
        let mut process_tags = Vec::new();
        let mut service = if resource_attributes.is_empty() {
            "OTLPResourceNoServiceName".to_string()
        } else {
            String::new()
        };
        for kv in resource_attributes {
            let key = kv["key"].as_str().unwrap_or("");
            let value = kv.get("value").unwrap_or(&Value::Null);
            if key == "service.name" {
                service = value["stringValue"].as_str().unwrap_or("").to_string();
            } else {
                process_tags.push(tag(key, value)?);
            }
        }
        process.insert("serviceName".into(), json!(service));
        process.insert("tags".into(), Value::Array(process_tags));
        let process = Value::Object(process);
        for scope_span in scope_spans {
            let scope = scope_span.get("scope").unwrap_or(&Value::Null);
            for span in array_of(scope_span, "spans", "spans") {
                let trace_bytes = read_id(field(span, "traceId", "trace_id"), 16, "traceId")?;
                let span_id = u64_of(&read_id(field(span, "spanId", "span_id"), 8, "spanId")?);
                let parent = u64_of(&read_id(
                    field(span, "parentSpanId", "parent_span_id"),
                    8,
                    "parentSpanId",
                )?);
                let trace_id = trace_id_text(&trace_bytes);
                let start = read_u64(
                    field(span, "startTimeUnixNano", "start_time_unix_nano"),
                    "startTimeUnixNano",
                )?;
                let end = read_u64(
                    field(span, "endTimeUnixNano", "end_time_unix_nano"),
                    "endTimeUnixNano",
                )?;
                let kind = read_enum(span.get("kind"), &SPAN_KINDS, "kind")?;
                let status = span.get("status").unwrap_or(&Value::Null);
                let code = read_enum(status.get("code"), &STATUS_CODES, "status.code")?;
                let message = status["message"].as_str().unwrap_or("");
                // getJaegerProtoSpanTags, in its order.
                let mut tags = Vec::new();
                if let Some(name) = scope["name"].as_str().filter(|n| !n.is_empty()) {
                    tags.push(string_tag(scope_key, name));
                }
                if let Some(version) = scope["version"].as_str().filter(|v| !v.is_empty()) {
                    tags.push(string_tag("otel.scope.version", version));
                }
                for kv in attributes_of(span) {
                    let key = kv["key"].as_str().unwrap_or("");
                    tags.push(tag(key, kv.get("value").unwrap_or(&Value::Null))?);
                }
                let kind_name = ["", "internal", "server", "client", "producer", "consumer"];
                if let Some(name) = kind_name.get(kind as usize).filter(|n| !n.is_empty()) {
                    tags.push(string_tag("span.kind", name));
                }
                match code {
                    2 => {
                        tags.push(string_tag("otel.status_code", "ERROR"));
                        tags.push(json!({"key": "error", "type": "bool", "value": true}));
                    }
                    1 => tags.push(string_tag("otel.status_code", "OK")),
                    _ => {}
                }
                if !message.is_empty() {
                    tags.push(string_tag("otel.status_description", message));
                }
                let state = field(span, "traceState", "trace_state")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !state.is_empty() {
                    tags.push(string_tag("w3c.tracestate", state));
                }
                let mut references = Vec::new();
                if parent != 0 {
                    references.push(json!({
                        "refType": "CHILD_OF",
                        "traceID": trace_id,
                        "spanID": format!("{parent:016x}"),
                    }));
                }
                let mut logs = Vec::new();
                for event in array_of(span, "events", "events") {
                    let at =
                        read_u64(field(event, "timeUnixNano", "time_unix_nano"), "event time")?;
                    let mut fields = Vec::new();
                    let name = event["name"].as_str().unwrap_or("");
                    let has_event = attributes_of(event).iter().any(|kv| kv["key"] == "event");
                    if !name.is_empty() && !has_event {
                        fields.push(string_tag("event", name));
                    }
                    for kv in attributes_of(event) {
                        let key = kv["key"].as_str().unwrap_or("");
                        fields.push(tag(key, kv.get("value").unwrap_or(&Value::Null))?);
                    }
                    logs.push(json!({"timestamp": at / 1000, "fields": fields}));
                }
                let duration = end as i64 - start as i64;
                let jaeger_span = json!({
                    "traceID": trace_id,
                    "spanID": format!("{span_id:016x}"),
                    "operationName": span["name"].as_str().unwrap_or(""),
                    "references": references,
                    "startTime": start / 1000,
                    // DurationAsMicroseconds: uint64(d / 1000); a negative duration wraps.
                    "duration": (duration / 1000) as u64,
                    "tags": tags,
                    "logs": logs,
                    "warnings": null,
                });
                match traces.iter_mut().find(|(id, _)| *id == trace_id) {
                    Some((_, spans)) => spans.push((jaeger_span, process.clone())),
                    None => traces.push((trace_id, vec![(jaeger_span, process.clone())])),
                }
            }
        }
    }
    // from_domain.go: processes numbered p1, p2, ... in order of first use, one per distinct
    // process.
    let data: Vec<Value> = traces
        .into_iter()
        .map(|(trace_id, spans)| {
            let mut processes: Vec<Value> = Vec::new();
            let spans: Vec<Value> = spans
                .into_iter()
                .map(|(mut span, process)| {
                    let index = match processes.iter().position(|p| *p == process) {
                        Some(i) => i,
                        None => {
                            processes.push(process);
                            processes.len() - 1
                        }
                    };
                    span["processID"] = json!(format!("p{}", index + 1));
                    span
                })
                .collect();
            let processes: Map<String, Value> = processes
                .into_iter()
                .enumerate()
                .map(|(i, p)| (format!("p{}", i + 1), p))
                .collect();
            json!({"traceID": trace_id, "spans": spans, "processes": processes, "warnings": null})
        })
        .collect();
    Ok(json!({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": null}))
}

/// What jaeger-ui's `transformTraceData` (`model/transform-trace-data.ts`, commit c321fb3) makes
/// of one trace: its problems (a null trace, duplicate span ids, a process it cannot find,
/// duplicate tags, orphan spans), its root spans and each span's children (by the first
/// reference that resolves).
struct UiTrace {
    problems: Vec<String>,
    roots: Vec<String>,
    children: BTreeMap<String, Vec<String>>,
    spans: BTreeMap<String, Value>,
    services: BTreeSet<String>,
}

fn load_in_ui(trace: &Value) -> UiTrace {
    let mut ui = UiTrace {
        problems: Vec::new(),
        roots: Vec::new(),
        children: BTreeMap::new(),
        spans: BTreeMap::new(),
        services: BTreeSet::new(),
    };
    if trace["traceID"].as_str().is_none_or(str::is_empty) {
        ui.problems
            .push("no traceID: the UI drops the trace".into());
    }
    for span in trace["spans"].as_array().map_or(&[][..], Vec::as_slice) {
        let id = span["spanID"].as_str().unwrap_or("").to_string();
        if ui.spans.insert(id.clone(), span.clone()).is_some() {
            ui.problems.push(format!("duplicate spanID {id}"));
        }
        let process = &trace["processes"][span["processID"].as_str().unwrap_or("")];
        match process["serviceName"].as_str() {
            Some(service) => {
                ui.services.insert(service.to_string());
            }
            None => ui
                .problems
                .push(format!("{id}: unknown-service (no process)")),
        }
        let mut seen = BTreeSet::new();
        for tag in span["tags"].as_array().map_or(&[][..], Vec::as_slice) {
            let key = format!("{}:{}", tag["key"], tag["value"]);
            if !seen.insert(key.clone()) {
                ui.problems.push(format!("{id}: duplicate tag {key}"));
            }
        }
    }
    for (id, span) in &ui.spans {
        let references = span["references"].as_array().map_or(&[][..], Vec::as_slice);
        let parent = references
            .iter()
            .filter_map(|r| r["spanID"].as_str())
            .find(|p| ui.spans.contains_key(*p));
        match parent {
            Some(p) => ui
                .children
                .entry(p.to_string())
                .or_default()
                .push(id.clone()),
            None if references.is_empty() => ui.roots.push(id.clone()),
            None => {
                ui.problems.push(format!("{id}: orphan span"));
                ui.roots.push(id.clone());
            }
        }
    }
    ui
}

fn tag_value<'v>(span: &'v Value, key: &str) -> Option<&'v Value> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
}

#[test]
fn the_jaeger_transform_written_here_reproduces_jaeger_uis_fixture_pair() {
    let fixture = |name: &str| {
        std::fs::read_to_string(root().join("tests/fixtures/traces").join(name)).expect("fixture")
    };
    let expected: Value =
        serde_json::from_str(&fixture("jaeger-ui-otlp2jaeger-out.json")).expect("JSON");
    let got = jaeger_transform(
        &fixture("jaeger-ui-otlp2jaeger-in.json"),
        "otel.library.name",
    )
    .expect("transform");
    assert_eq!(got, expected);
    // And what the backend refuses (HTTP 400, "Error converting OTLP trace to Jaeger" in the
    // UI): a short id, an unknown enum name, a time that is not an integer.
    let span = |fields: &str| {
        format!(
            "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[]}},\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\",{fields}}}]}}]}}]}}"
        )
    };
    assert!(jaeger_transform(&span("\"name\":\"x\""), "k").is_ok());
    assert!(jaeger_transform(&span("\"parentSpanId\":\"abc\""), "k").is_err());
    assert!(jaeger_transform(&span("\"kind\":\"SERVER\""), "k").is_err());
    assert!(jaeger_transform(&span("\"kind\":\"SPAN_KIND_SERVER\""), "k").is_ok());
    assert!(jaeger_transform(&span("\"startTimeUnixNano\":\"1.5e9\""), "k").is_err());
    let transformed = jaeger_transform(&span("\"name\":\"x\""), "k").expect("transform");
    assert_eq!(
        transformed["data"][0]["processes"]["p1"]["serviceName"],
        "OTLPResourceNoServiceName"
    );
}

fn run_traced(model: &Model, path: &Path, p: f64) {
    let recorder = TraceRecorder::new(NullRecorder, model, path, p).expect("trace file");
    let (_, recorder) = Simulation::run(model, recorder);
    recorder.finish().expect("traces written");
}

#[test]
fn a_retry_storm_from_the_blog_converts_and_loads_as_jaegers_ui_would() {
    // The blog with its crash of article#0 from 40 s: a quarter of the article tries are
    // refused and retried (static registry).
    let dir = temp_dir("jaeger-ui");
    let model = common::load(
        "blog.toml",
        &["scenario.duration=50s", "scenario.warmup=1s"],
    );
    let path = dir.join("blog-traces.json");
    run_traced(&model, &path, 0.02);
    let text = std::fs::read_to_string(&path).expect("trace file");
    let response = jaeger_transform(&text, "otel.scope.name").expect("Jaeger's /api/transform");
    // For the check in a browser (docs/traces.md): the trace file and the Jaeger JSON that
    // Jaeger's backend answers for it, as written here.
    if let Ok(out) = std::env::var("MESHSIM_JAEGER_JSON") {
        std::fs::write(&out, response.to_string()).expect("write the Jaeger JSON");
        std::fs::copy(&path, format!("{out}.otlp.json")).expect("copy the trace file");
    }

    // Independently of the conversion: spans, services and retries per trace id, from the OTLP.
    let otlp: Value = serde_json::from_str(&text).expect("OTLP JSON");
    let mut per_trace: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for rs in otlp["resourceSpans"].as_array().expect("resourceSpans") {
        let service = rs["resource"]["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
            .and_then(|kv| kv["value"]["stringValue"].as_str())
            .expect("service.name")
            .to_string();
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            for span in ss["spans"].as_array().expect("spans") {
                let id = span["traceId"].as_str().expect("traceId").to_string();
                let entry = per_trace.entry(id).or_default();
                entry.0 += 1;
                entry.1.insert(service.clone());
            }
        }
    }
    let data = response["data"].as_array().expect("data");
    assert_eq!(data.len(), per_trace.len(), "one Jaeger trace per trace id");
    let model_services: BTreeSet<String> = model
        .services
        .iter()
        .map(|s| s.name.clone())
        .chain(
            model
                .workloads
                .iter()
                .map(|w| format!("workload:{}", w.name)),
        )
        .collect();
    let (mut retries_seen, mut refused_seen) = (0, 0);
    for trace in data {
        let ui = load_in_ui(trace);
        let id = trace["traceID"].as_str().expect("traceID");
        assert!(ui.problems.is_empty(), "{id}: {:?}", ui.problems);
        // Our trace ids have a non-zero high half, so Jaeger keeps all 32 digits.
        let (spans, services) = &per_trace[id];
        assert_eq!(ui.spans.len(), *spans, "{id}: span count");
        assert_eq!(&ui.services, services, "{id}: services");
        assert!(ui.services.is_subset(&model_services), "{:?}", ui.services);
        assert_eq!(ui.roots.len(), 1, "{id}: one root");
        let root = &ui.spans[&ui.roots[0]];
        assert_eq!(root["operationName"], "request");
        for span in ui.spans.values() {
            // The root starts first and ends last (the UI's timeline is the root's).
            let (start, duration) = (span["startTime"].as_u64(), span["duration"].as_u64());
            assert!(start >= root["startTime"].as_u64(), "{span}");
            assert!(
                start.unwrap_or(0) + duration.unwrap_or(0)
                    <= root["startTime"].as_u64().unwrap_or(0)
                        + root["duration"].as_u64().unwrap_or(0)
                        + 1,
                "{span}"
            );
            if tag_value(span, "meshsim.retry") == Some(&json!(true)) {
                retries_seen += 1;
                assert_eq!(tag_value(span, "span.kind"), Some(&json!("client")));
                // Shown beside the try it retries: a sibling with the same operation, which
                // failed.
                let parent = span["references"][0]["spanID"].as_str().expect("parent");
                let siblings = &ui.children[parent];
                let failed_before = siblings.iter().any(|s| {
                    let other = &ui.spans[s];
                    other["operationName"] == span["operationName"]
                        && other["startTime"].as_u64() < span["startTime"].as_u64()
                        && tag_value(other, "error") == Some(&json!(true))
                });
                assert!(failed_before, "a retry without its failed try: {span}");
            }
            if tag_value(span, "otel.status_description") == Some(&json!("refused")) {
                refused_seen += 1;
                assert_eq!(tag_value(span, "error"), Some(&json!(true)));
                assert_eq!(tag_value(span, "otel.status_code"), Some(&json!("ERROR")));
            }
        }
    }
    assert!(
        retries_seen > 10 && refused_seen > 10,
        "retries {retries_seen}, refused {refused_seen}"
    );
}
