//! Zipkin v2 JSON (`zipkin2-api.yaml`): a list of spans (what `POST /api/v2/spans` takes), or a
//! list of traces (lists of spans, what `GET /api/v2/traces` gives). A span has `traceId`, `id`,
//! `parentId` (absent at the root), `name`, `kind` (CLIENT, SERVER, PRODUCER, CONSUMER; absent
//! for a local span), `timestamp` and `duration` in microseconds, `localEndpoint` and
//! `remoteEndpoint` (`serviceName`, `ipv4`, `ipv6`, `port`), `tags` and `shared` (a server half
//! that reuses its client's span id, handled in [`super::infer`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;

use super::otlp::flex_time;
use super::{
    file_error, json_error, outcome_named, parse_id, span_id, SpanKind, SpanSet, TryMark, NO_NAME,
};
use crate::scenario::ScenarioError;

#[derive(Deserialize)]
struct ZipkinSpan<'a> {
    #[serde(rename = "traceId", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(borrow, default)]
    id: Cow<'a, str>,
    #[serde(rename = "parentId", borrow, default)]
    parent_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "opt_flex")]
    timestamp: Option<i128>,
    #[serde(default, deserialize_with = "opt_flex")]
    duration: Option<i128>,
    #[serde(rename = "localEndpoint", borrow, default)]
    local_endpoint: Option<Endpoint<'a>>,
    #[serde(rename = "remoteEndpoint", borrow, default)]
    remote_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow, default)]
    tags: BTreeMap<Cow<'a, str>, serde_json::Value>,
}

#[derive(Deserialize)]
struct Endpoint<'a> {
    #[serde(rename = "serviceName", borrow, default)]
    service_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ipv4: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    ipv6: Option<Cow<'a, str>>,
    #[serde(default)]
    port: Option<u32>,
}

fn opt_flex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i128>, D::Error> {
    flex_time(d).map(Some)
}

/// Reads a Zipkin v2 JSON file.
pub fn read(bytes: &[u8], file: &str, set: &mut SpanSet) -> Result<(), ScenarioError> {
    let second = bytes
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xef || **b == 0xbb || **b == 0xbf)
        .skip(1)
        .find(|b| !b.is_ascii_whitespace());
    if second == Some(&b'[') {
        let traces: Vec<Vec<ZipkinSpan<'_>>> = serde_json::from_slice(bytes)
            .map_err(|error| json_error(file, &error, "Zipkin v2 JSON (a list of traces)"))?;
        for span in traces.iter().flatten() {
            add_span(set, span);
        }
    } else {
        let spans: Vec<ZipkinSpan<'_>> = serde_json::from_slice(bytes)
            .map_err(|error| json_error(file, &error, "Zipkin v2 JSON (a list of spans)"))?;
        if spans.is_empty() {
            return Err(file_error(file, 0, 0, "empty: no Zipkin span"));
        }
        for span in &spans {
            add_span(set, span);
        }
    }
    Ok(())
}

fn add_span(set: &mut SpanSet, span: &ZipkinSpan<'_>) {
    let name = span.name.as_deref().unwrap_or("");
    let Some(trace_id) = parse_id(&span.trace_id) else {
        let trace = set.trace(u128::MAX - set.spans.len() as u128);
        set.mark_broken(trace, || format!("span \"{name}\" has no traceId"));
        return;
    };
    let trace = set.trace(trace_id);
    let Some(id) = parse_id(&span.id) else {
        set.mark_broken(trace, || format!("span \"{name}\" has no id"));
        return;
    };
    let (Some(timestamp), Some(duration)) = (span.timestamp, span.duration) else {
        set.mark_broken(trace, || {
            format!(
                "span {} (\"{name}\") has no timestamp or duration (a partial span)",
                span.id
            )
        });
        return;
    };
    let local = span.local_endpoint.as_ref();
    let service = local
        .and_then(|e| e.service_name.as_deref())
        .unwrap_or("unknown");
    let service = set.names.intern(service);
    let instance = local
        .and_then(|e| {
            let address = e.ipv4.as_deref().or(e.ipv6.as_deref())?;
            Some(match e.port {
                Some(port) => format!("{address}:{port}"),
                None => address.to_string(),
            })
        })
        .map_or(NO_NAME, |id| set.names.intern(&id));
    let kind = match span.kind.as_deref() {
        Some("SERVER") => SpanKind::Server,
        Some("CLIENT") => SpanKind::Client,
        Some("PRODUCER") => SpanKind::Producer,
        Some("CONSUMER") => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    };
    let peer = span
        .remote_endpoint
        .as_ref()
        .and_then(|e| e.service_name.as_deref())
        .map_or(NO_NAME, |peer| set.names.intern(peer));
    let tag = |key: &str| {
        span.tags.get(key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let flag = |key: &str| tag(key).is_some_and(|v| v == "true");
    let integer = |key: &str| tag(key).and_then(|v| v.trim().parse().ok());
    let try_mark = TryMark::from_attributes(
        flag("meshsim.retry"),
        flag("meshsim.hedge"),
        integer("http.request.resend_count"),
        integer("retry.count"),
    );
    // Zipkin's `error` tag holds the error's message.
    let error = span.tags.contains_key("error");
    let outcome = if error {
        tag("error")
            .and_then(|m| outcome_named(&m))
            .or_else(|| tag("error.type").and_then(|m| outcome_named(&m)))
    } else {
        None
    };
    let cancelled = flag("meshsim.cancelled");
    let Some((start, end)) = super::micros_to_nanos_span(timestamp, duration) else {
        set.mark_broken(trace, || {
            format!(
                "span \"{name}\": its start ({} µs) or duration ({} µs) is past what 64-bit \
                 nanoseconds hold",
                timestamp, duration
            )
        });
        return;
    };
    let name = set.names.intern(name);
    set.spans.push(super::Span {
        trace,
        id: span_id(id),
        parent: span
            .parent_id
            .as_deref()
            .and_then(parse_id)
            .map_or(0, span_id),
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
        cancelled,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::traces::Format;

    #[test]
    fn reads_lists_of_spans_and_lists_of_traces() {
        let span = r#"{"traceId":"a1","id":"b2","name":"get","kind":"SERVER","timestamp":10,"duration":5,"localEndpoint":{"serviceName":"web","ipv4":"10.0.0.1","port":80},"tags":{"error":""}}"#;
        for text in [format!("[{span}]"), format!("[[{span}]]")] {
            let mut set = SpanSet::new(Format::Zipkin);
            read(text.as_bytes(), "z.json", &mut set).expect("reads");
            let s = &set.spans[0];
            assert_eq!(
                (s.start, s.end, s.kind, s.error),
                (10_000, 15_000, SpanKind::Server, true)
            );
            assert_eq!(set.names.get(s.instance), "10.0.0.1:80");
        }
        let mut set = SpanSet::new(Format::Zipkin);
        read(
            br#"[{"traceId":"a1","id":"b2","name":"x"}]"#,
            "z.json",
            &mut set,
        )
        .expect("reads");
        assert!(set.broken[&0].contains("partial"), "{:?}", set.broken);
    }
}
