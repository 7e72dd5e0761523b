//! Jaeger's JSON (model/json): `{"data": [Trace, ...]}` as the query API and the UI's download
//! give it, or one trace object. A trace has `spans` and `processes` (`{"p1": {"serviceName",
//! "tags"}}`); a span has `traceID`, `spanID`, `operationName`, `references` (`CHILD_OF`,
//! `FOLLOWS_FROM`), `startTime` and `duration` in microseconds, `tags` and `processID`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::otlp::flex_time;
use super::{
    file_error, json_error, outcome_named, parse_id, span_id, SpanKind, SpanSet, TryMark, NO_NAME,
};
use crate::scenario::ScenarioError;

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow, default)]
    data: Option<Vec<Trace<'a>>>,
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    spans: Option<Vec<JaegerSpan<'a>>>,
    #[serde(borrow, default)]
    processes: BTreeMap<String, Process<'a>>,
}

#[derive(Deserialize)]
struct Trace<'a> {
    #[serde(borrow, default)]
    spans: Vec<JaegerSpan<'a>>,
    #[serde(borrow, default)]
    processes: BTreeMap<String, Process<'a>>,
}

#[derive(Deserialize, Clone)]
struct Process<'a> {
    #[serde(rename = "serviceName", borrow, default)]
    service_name: Cow<'a, str>,
    #[serde(borrow, default)]
    tags: Vec<Tag<'a>>,
}

#[derive(Deserialize, Clone)]
struct Tag<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(rename = "refType", borrow, default)]
    ref_type: Cow<'a, str>,
    #[serde(rename = "spanID", borrow, default)]
    span_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct JaegerSpan<'a> {
    #[serde(rename = "traceID", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(rename = "spanID", borrow, default)]
    span_id: Cow<'a, str>,
    #[serde(rename = "parentSpanID", borrow, default)]
    parent_span_id: Option<Cow<'a, str>>,
    #[serde(rename = "operationName", borrow, default)]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    references: Vec<Reference<'a>>,
    #[serde(rename = "startTime", deserialize_with = "flex_time", default)]
    start_time: i128,
    #[serde(deserialize_with = "flex_time", default)]
    duration: i128,
    #[serde(borrow, default)]
    tags: Vec<Tag<'a>>,
    #[serde(rename = "processID", borrow, default)]
    process_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    process: Option<Process<'a>>,
}

fn tag_text(tags: &[Tag<'_>], key: &str) -> Option<String> {
    tags.iter().find(|t| t.key == key).map(|t| match &t.value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Reads a Jaeger JSON file.
pub fn read(bytes: &[u8], file: &str, set: &mut SpanSet) -> Result<(), ScenarioError> {
    let document: Document<'_> =
        serde_json::from_slice(bytes).map_err(|error| json_error(file, &error, "Jaeger JSON"))?;
    let traces = match (document.data, document.spans) {
        (Some(traces), _) => traces,
        (None, Some(spans)) if document.trace_id.is_some() || !document.processes.is_empty() => {
            vec![Trace {
                spans,
                processes: document.processes,
            }]
        }
        _ => {
            return Err(file_error(
                file,
                0,
                0,
                "not Jaeger JSON: expected {\"data\": [traces]} or a trace object with \"spans\" \
                 and \"processes\"",
            ))
        }
    };
    for trace in traces {
        for span in &trace.spans {
            add_span(set, span, &trace.processes);
        }
    }
    Ok(())
}

fn add_span(set: &mut SpanSet, span: &JaegerSpan<'_>, processes: &BTreeMap<String, Process<'_>>) {
    let Some(trace_id) = parse_id(&span.trace_id) else {
        let trace = set.trace(u128::MAX - set.spans.len() as u128);
        set.mark_broken(trace, || {
            format!("span \"{}\" has no traceID", span.operation_name)
        });
        return;
    };
    let trace = set.trace(trace_id);
    let Some(id) = parse_id(&span.span_id) else {
        set.mark_broken(trace, || {
            format!("span \"{}\" has no spanID", span.operation_name)
        });
        return;
    };
    let process = span.process.as_ref().or_else(|| {
        span.process_id
            .as_deref()
            .and_then(|process_id| processes.get(process_id))
    });
    let Some(process) = process else {
        let process_id = span.process_id.as_deref().unwrap_or("").to_string();
        set.mark_broken(trace, || {
            format!(
                "span \"{}\" names process \"{process_id}\", which the trace's processes do not hold",
                span.operation_name
            )
        });
        return;
    };
    let service = set.names.intern(&process.service_name);
    let instance = ["service.instance.id", "hostname", "host.name", "ip"]
        .iter()
        .find_map(|key| tag_text(&process.tags, key))
        .map_or(NO_NAME, |id| set.names.intern(&id));
    // The parent: the CHILD_OF reference (else FOLLOWS_FROM), else the old parentSpanID field.
    let parent = span
        .references
        .iter()
        .find(|r| r.ref_type.eq_ignore_ascii_case("CHILD_OF"))
        .or_else(|| span.references.first())
        .map(|r| r.span_id.as_ref())
        .or(span.parent_span_id.as_deref())
        .and_then(parse_id)
        .map_or(0, span_id);
    let kind = match tag_text(&span.tags, "span.kind").as_deref() {
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some("internal") => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    };
    let error = tag_text(&span.tags, "error").is_some_and(|v| v == "true")
        || tag_text(&span.tags, "otel.status_code").is_some_and(|v| v == "ERROR");
    let peer = tag_text(&span.tags, "peer.service")
        .or_else(|| tag_text(&span.tags, "db.system"))
        .map_or(NO_NAME, |peer| set.names.intern(&peer));
    let flag = |key: &str| tag_text(&span.tags, key).is_some_and(|v| v == "true");
    let integer = |key: &str| tag_text(&span.tags, key).and_then(|v| v.trim().parse().ok());
    let try_mark = TryMark::from_attributes(
        flag("meshsim.retry"),
        flag("meshsim.hedge"),
        integer("http.request.resend_count"),
        integer("retry.count"),
    );
    let outcome = if error {
        tag_text(&span.tags, "otel.status_description")
            .and_then(|m| outcome_named(&m))
            .or_else(|| tag_text(&span.tags, "error.type").and_then(|m| outcome_named(&m)))
    } else {
        None
    };
    let Some((start, end)) = super::micros_to_nanos_span(span.start_time, span.duration) else {
        set.mark_broken(trace, || {
            format!(
                "span \"{}\": its start ({} µs) or duration ({} µs) is past what 64-bit \
                 nanoseconds hold",
                span.operation_name, span.start_time, span.duration
            )
        });
        return;
    };
    let name = set.names.intern(&span.operation_name);
    set.spans.push(super::Span {
        trace,
        id: span_id(id),
        parent,
        service,
        instance,
        name,
        peer,
        kind,
        error,
        start,
        end,
        try_mark,
        outcome,
        cancelled: flag("meshsim.cancelled"),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::traces::Format;

    #[test]
    fn reads_processes_references_and_tags() {
        let text = r#"{"data":[{"traceID":"abc","spans":[
          {"traceID":"abc","spanID":"01","operationName":"GET /","references":[],"startTime":1000,"duration":50,"tags":[{"key":"span.kind","type":"string","value":"server"}],"processID":"p1"},
          {"traceID":"abc","spanID":"02","operationName":"SELECT","references":[{"refType":"CHILD_OF","traceID":"abc","spanID":"01"}],"startTime":1010,"duration":20,"tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"error","type":"bool","value":true}],"processID":"p1"}],
          "processes":{"p1":{"serviceName":"web","tags":[{"key":"hostname","type":"string","value":"web-7"}]}}}],"total":0}"#;
        let mut set = SpanSet::new(Format::Jaeger);
        read(text.as_bytes(), "j.json", &mut set).expect("reads");
        assert_eq!(set.spans.len(), 2);
        let (a, b) = (&set.spans[0], &set.spans[1]);
        assert_eq!(
            (a.start, a.end, a.kind),
            (1_000_000, 1_050_000, SpanKind::Server)
        );
        assert_eq!(set.names.get(a.instance), "web-7");
        assert_eq!((b.parent, b.kind, b.error), (a.id, SpanKind::Client, true));
        let mut set = SpanSet::new(Format::Jaeger);
        let text = r#"{"data":[{"traceID":"abc","spans":[{"traceID":"abc","spanID":"01","operationName":"x","startTime":1,"duration":1,"processID":"p9"}],"processes":{}}]}"#;
        read(text.as_bytes(), "j.json", &mut set).expect("reads");
        assert!(set.broken[&0].contains("p9"), "{:?}", set.broken);
    }

    #[test]
    fn reads_retry_marks_and_named_failures_from_tags() {
        // As Jaeger's own conversion of OTLP writes them: attributes as tags, the status
        // message as `otel.status_description`.
        let text = r#"{"data":[{"traceID":"abc","spans":[
          {"traceID":"abc","spanID":"01","operationName":"get","startTime":1,"duration":1,"tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"error","type":"bool","value":true},{"key":"otel.status_description","type":"string","value":"refused"}],"processID":"p1"},
          {"traceID":"abc","spanID":"02","operationName":"get","startTime":3,"duration":1,"tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"http.request.resend_count","type":"int64","value":1}],"processID":"p1"},
          {"traceID":"abc","spanID":"03","operationName":"get","startTime":3,"duration":1,"tags":[{"key":"meshsim.hedge","type":"bool","value":true},{"key":"meshsim.cancelled","type":"bool","value":true}],"processID":"p1"}],
          "processes":{"p1":{"serviceName":"web"}}}]}"#;
        let mut set = SpanSet::new(Format::Jaeger);
        read(text.as_bytes(), "j.json", &mut set).expect("reads");
        let got: Vec<_> = set
            .spans
            .iter()
            .map(|s| (s.try_mark, s.outcome, s.cancelled))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    TryMark::Unmarked,
                    Some(crate::model::Outcome::Refused),
                    false
                ),
                (TryMark::Retry, None, false),
                (TryMark::Hedge, None, true),
            ]
        );
    }
}
