//! OTLP/JSON traces: the collector's file exporter (one `TracesData` object per line, or one
//! object for the whole file) and the Jaeger v3 API's `{"result": TracesData}`.
//!
//! Keys are lowerCamelCase; 64-bit integers (times, `intValue`) may be strings or numbers; ids
//! are hex; `kind` and `status.code` are integers (their enum names are accepted too). Unknown
//! fields are ignored, as the encoding requires.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::{
    file_error, json_error, outcome_named, parse_id, span_id, SpanKind, SpanSet, TryMark, NO_NAME,
};
use crate::scenario::ScenarioError;

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(rename = "resourceSpans", borrow, default)]
    resource_spans: Option<Vec<ResourceSpans<'a>>>,
    #[serde(borrow, default)]
    result: Option<Wrapped<'a>>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(rename = "resourceSpans", borrow, default)]
    resource_spans: Vec<ResourceSpans<'a>>,
}

#[derive(Deserialize)]
struct ResourceSpans<'a> {
    #[serde(borrow, default)]
    resource: Option<Resource<'a>>,
    #[serde(
        rename = "scopeSpans",
        alias = "instrumentationLibrarySpans",
        borrow,
        default
    )]
    scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Deserialize)]
struct ScopeSpans<'a> {
    #[serde(borrow, default)]
    spans: Vec<OtlpSpan<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct KeyValue<'a> {
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow, default)]
    value: Option<AnyValue<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct AnyValue<'a> {
    #[serde(rename = "stringValue", borrow, default)]
    string_value: Option<Cow<'a, str>>,
    #[serde(rename = "boolValue", default)]
    bool_value: Option<bool>,
    #[serde(rename = "intValue", default, deserialize_with = "flex_i64_option")]
    int_value: Option<i64>,
}

#[derive(Deserialize)]
struct OtlpSpan<'a> {
    #[serde(rename = "traceId", borrow, default)]
    trace_id: Cow<'a, str>,
    #[serde(rename = "spanId", borrow, default)]
    span_id: Cow<'a, str>,
    #[serde(rename = "parentSpanId", borrow, default)]
    parent_span_id: Cow<'a, str>,
    #[serde(rename = "traceState", borrow, default)]
    trace_state: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Cow<'a, str>,
    #[serde(default, deserialize_with = "flex_kind")]
    kind: u8,
    #[serde(rename = "startTimeUnixNano", deserialize_with = "flex_time", default)]
    start: i128,
    #[serde(rename = "endTimeUnixNano", deserialize_with = "flex_time", default)]
    end: i128,
    #[serde(borrow, default)]
    attributes: Vec<KeyValue<'a>>,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default, deserialize_with = "flex_status")]
    code: u8,
    #[serde(default)]
    message: String,
}

/// The string value of attribute `key`, if present.
fn attribute<'b>(attributes: &'b [KeyValue<'_>], key: &str) -> Option<&'b str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.string_value.as_deref())
}

/// The integer value of attribute `key` (an `intValue`, or a `stringValue` holding an integer).
fn attribute_int(attributes: &[KeyValue<'_>], key: &str) -> Option<i64> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    value
        .int_value
        .or_else(|| value.string_value.as_deref()?.trim().parse().ok())
}

/// Whether attribute `key` is true (a bool, or the string "true").
fn attribute_true(attributes: &[KeyValue<'_>], key: &str) -> bool {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .is_some_and(|v| v.bool_value == Some(true) || v.string_value.as_deref() == Some("true"))
}

/// The sampling probability of an OpenTelemetry `tracestate` (`ot=th:HEX`: a rejection
/// threshold over 56 bits; probability `1 - th / 2^56`).
pub fn sampling_from_trace_state(state: &str) -> Option<f64> {
    let ot = state
        .split(',')
        .find_map(|member| member.trim().strip_prefix("ot="))?;
    let th = ot.split(';').find_map(|field| field.strip_prefix("th:"))?;
    if th.is_empty() || th.len() > 14 {
        return None;
    }
    let padded = format!("{th:0<14}");
    let threshold = u64::from_str_radix(&padded, 16).ok()?;
    Some(1.0 - threshold as f64 / (1u64 << 56) as f64)
}

/// The `ot=th:` tracestate of sampling probability `p` (in (0, 1]).
pub fn trace_state_for(p: f64) -> String {
    let threshold = ((1.0 - p) * (1u64 << 56) as f64).round() as u64;
    let hex = format!("{:014x}", threshold.min((1u64 << 56) - 1));
    let trimmed = hex.trim_end_matches('0');
    format!("ot=th:{}", if trimmed.is_empty() { "0" } else { trimmed })
}

/// Reads an OTLP/JSON file: one or more `TracesData` objects (JSON lines or one object).
pub fn read(bytes: &[u8], file: &str, set: &mut SpanSet) -> Result<(), ScenarioError> {
    let stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Document<'_>>();
    let mut objects = 0usize;
    for document in stream {
        let document = document.map_err(|error| json_error(file, &error, "OTLP/JSON"))?;
        objects += 1;
        let resource_spans = match (document.resource_spans, document.result) {
            (Some(spans), _) => spans,
            (None, Some(wrapped)) => wrapped.resource_spans,
            (None, None) => {
                return Err(file_error(
                    file,
                    0,
                    0,
                    format!(
                        "object {objects} has no \"resourceSpans\": not OTLP traces (a file must \
                         hold one format)"
                    ),
                ))
            }
        };
        for resource_spans in resource_spans {
            let attributes = resource_spans
                .resource
                .as_ref()
                .map_or(&[][..], |r| &r.attributes[..]);
            let service = set
                .names
                .intern(attribute(attributes, "service.name").unwrap_or("unknown_service"));
            let instance = attribute(attributes, "service.instance.id")
                .or_else(|| attribute(attributes, "host.name"))
                .or_else(|| attribute(attributes, "k8s.pod.name"))
                .map_or(NO_NAME, |id| set.names.intern(id));
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    add_span(set, span, service, instance);
                }
            }
        }
    }
    if objects == 0 {
        return Err(file_error(file, 0, 0, "empty: no OTLP/JSON object"));
    }
    Ok(())
}

fn add_span(set: &mut SpanSet, span: OtlpSpan<'_>, service: u32, instance: u32) {
    let Some(trace_id) = parse_id(&span.trace_id) else {
        // A span without a trace id belongs to no trace: count it as a broken trace of its own.
        let trace = set.trace(u128::MAX - set.spans.len() as u128);
        set.mark_broken(trace, || format!("span \"{}\" has no traceId", span.name));
        return;
    };
    let trace = set.trace(trace_id);
    let Some(id) = parse_id(&span.span_id) else {
        set.mark_broken(trace, || format!("span \"{}\" has no spanId", span.name));
        return;
    };
    if set.sampling.is_none() && !span.trace_state.is_empty() {
        set.sampling = sampling_from_trace_state(&span.trace_state);
    }
    let kind = match span.kind {
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => SpanKind::Unspecified,
    };
    let peer = attribute(&span.attributes, "peer.service")
        .or_else(|| attribute(&span.attributes, "server.address"))
        .or_else(|| attribute(&span.attributes, "net.peer.name"))
        .or_else(|| attribute(&span.attributes, "db.system"))
        .map_or(NO_NAME, |peer| set.names.intern(peer));
    let error = span.status.as_ref().is_some_and(|s| s.code == 2)
        || attribute_true(&span.attributes, "error");
    let try_mark = TryMark::from_attributes(
        attribute_true(&span.attributes, "meshsim.retry"),
        attribute_true(&span.attributes, "meshsim.hedge"),
        attribute_int(&span.attributes, "http.request.resend_count"),
        attribute_int(&span.attributes, "retry.count"),
    );
    let outcome = if error {
        span.status
            .as_ref()
            .and_then(|s| outcome_named(&s.message))
            .or_else(|| attribute(&span.attributes, "error.type").and_then(outcome_named))
    } else {
        None
    };
    // fixed64 in the proto: up to 2^64 - 1, past what 64-bit signed nanoseconds hold.
    let (start, end) = match (i64::try_from(span.start), i64::try_from(span.end)) {
        (Ok(start), Ok(end)) => (start, end),
        (start, _) => {
            let (which, field, value) = if start.is_err() {
                ("start", "startTimeUnixNano", span.start)
            } else {
                ("end", "endTimeUnixNano", span.end)
            };
            set.mark_broken(trace, || {
                format!(
                    "span \"{}\": its {which} ({field} {value}) is out of range: past what \
                     64-bit nanoseconds hold (the year 2262)",
                    span.name
                )
            });
            return;
        }
    };
    let name = set.names.intern(&span.name);
    set.spans.push(super::Span {
        trace,
        id: span_id(id),
        parent: parse_id(&span.parent_span_id).map_or(0, span_id),
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
        cancelled: attribute_true(&span.attributes, "meshsim.cancelled"),
    });
}

// ----- integers that may be strings, enums that may be names -----------------------------------

struct FlexI64;

impl Visitor<'_> for FlexI64 {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, or an integer in a string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.is_finite() {
            Ok(v.round() as i64)
        } else {
            Err(E::custom("not a finite number"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse::<i64>()
            .map_err(|_| E::custom(format!("expected an integer, found \"{v}\"")))
    }
}

/// An integer written as a number or a decimal string (OTLP's 64-bit integers).
pub(crate) fn flex_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(FlexI64)
}

struct FlexTime;

impl Visitor<'_> for FlexTime {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, or an integer in a string")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(i128::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(i128::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        if v.is_finite() {
            // Saturates: past 64 bits, the value is out of range whatever it is.
            Ok(v.round() as i128)
        } else {
            Err(E::custom("not a finite number"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        let text = v.trim();
        if let Ok(value) = text.parse::<i128>() {
            return Ok(value);
        }
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(if text.starts_with('-') {
                i128::MIN
            } else {
                i128::MAX
            });
        }
        Err(E::custom(format!("expected an integer, found \"{v}\"")))
    }
}

/// A time or a duration written as a number or a decimal string, kept wider than 64 bits (and
/// saturated past 128) so that a value past what 64-bit nanoseconds hold is refused naming its
/// span, not as a JSON error.
pub(crate) fn flex_time<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
    d.deserialize_any(FlexTime)
}

struct FlexI64Option;

impl<'de> Visitor<'de> for FlexI64Option {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer, or an integer in a string")
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        flex_i64(d).map(Some)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
        FlexI64.visit_i64(v).map(Some)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
        FlexI64.visit_u64(v).map(Some)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i64>, E> {
        FlexI64.visit_f64(v).map(Some)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
        FlexI64.visit_str(v).map(Some)
    }
}

/// An optional integer written as a number or a decimal string (`intValue`).
fn flex_i64_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(FlexI64Option)
}

struct FlexEnum(&'static [&'static str]);

impl Visitor<'_> for FlexEnum {
    type Value = u8;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer or one of {}", self.0.join(", "))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
        Ok(v.min(255) as u8)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
        Ok(v.clamp(0, 255) as u8)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u8, E> {
        self.0
            .iter()
            .position(|name| name.eq_ignore_ascii_case(v))
            .map(|index| index as u8)
            .ok_or_else(|| E::custom(format!("unknown value \"{v}\"")))
    }
}

const KIND_NAMES: &[&str] = &[
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];

const STATUS_NAMES: &[&str] = &["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

fn flex_kind<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    d.deserialize_any(FlexEnum(KIND_NAMES))
}

fn flex_status<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    d.deserialize_any(FlexEnum(STATUS_NAMES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::traces::Format;
    use crate::model::Outcome;

    /// A time past 64-bit signed nanoseconds (OTLP's fixed64 goes to 2^64 - 1), as a string, a
    /// number or past any integer, breaks its trace with a reason naming the span; the last
    /// nanosecond that fits is read.
    #[test]
    fn times_past_64_bit_nanoseconds_break_their_trace_naming_the_span() {
        let file = |end: &str| {
            format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"01","spanId":"01","name":"GET /","startTimeUnixNano":"1","endTimeUnixNano":{end}}}]}}]}}]}}"#
            )
        };
        for end in [
            "\"18446744073709551615\"",
            "18446744073709551615",
            "1.8446744073709552e19",
            "\"99999999999999999999999999999999999999999999\"",
            "\"9223372036854775808\"",
        ] {
            let mut set = SpanSet::new(Format::Otlp);
            read(file(end).as_bytes(), "o.json", &mut set).expect("reads");
            assert!(set.spans.is_empty(), "{end}");
            assert!(
                set.broken[&0].starts_with("span \"GET /\": its end (endTimeUnixNano ")
                    && set.broken[&0].contains("is out of range"),
                "{end}: {:?}",
                set.broken
            );
        }
        let mut set = SpanSet::new(Format::Otlp);
        read(
            file("\"9223372036854775807\"").as_bytes(),
            "o.json",
            &mut set,
        )
        .expect("reads");
        assert_eq!(set.spans[0].end, i64::MAX);
        let mut set = SpanSet::new(Format::Otlp);
        let error = read(file("\"soon\"").as_bytes(), "o.json", &mut set).expect_err("not a time");
        assert!(
            error
                .message
                .contains("expected an integer, found \"soon\""),
            "{error}"
        );
    }

    #[test]
    fn sampling_threshold_round_trips() {
        for p in [1.0, 0.5, 0.1, 0.01, 0.25] {
            let state = trace_state_for(p);
            let back = sampling_from_trace_state(&state).expect(&state);
            assert!((back - p).abs() < 1e-12, "{p} -> {state} -> {back}");
        }
        // The OpenTelemetry specification's examples: th:8 is 50%, th:c is 25%, th:0 is 100%.
        assert_eq!(sampling_from_trace_state("ot=th:8"), Some(0.5));
        assert_eq!(sampling_from_trace_state("ot=th:c"), Some(0.25));
        assert_eq!(
            sampling_from_trace_state("vendor=x,ot=th:0;rv:1"),
            Some(1.0)
        );
        assert_eq!(sampling_from_trace_state("vendor=x"), None);
    }

    #[test]
    fn reads_the_marks_of_retries_and_hedges_and_named_failures() {
        let span = |id: &str, attributes: &str, status: &str| {
            format!(
                r#"{{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"{id}","name":"x","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2","attributes":[{attributes}],"status":{status}}}"#
            )
        };
        let spans = [
            span("1111111111111111", "", "{}"),
            span(
                "2222222222222222",
                r#"{"key":"http.request.resend_count","value":{"intValue":"2"}}"#,
                r#"{"code":2,"message":"timeout"}"#,
            ),
            span(
                "3333333333333333",
                r#"{"key":"retry.count","value":{"stringValue":"1"}},{"key":"error.type","value":{"stringValue":"refused"}}"#,
                r#"{"code":"STATUS_CODE_ERROR"}"#,
            ),
            span(
                "4444444444444444",
                r#"{"key":"meshsim.hedge","value":{"boolValue":true}},{"key":"meshsim.cancelled","value":{"boolValue":true}}"#,
                r#"{"code":2,"message":"HTTP 500"}"#,
            ),
            span(
                "5555555555555555",
                r#"{"key":"http.request.resend_count","value":{"intValue":0}}"#,
                r#"{"code":0,"message":"timeout"}"#,
            ),
        ];
        let text = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        );
        let mut set = SpanSet::new(Format::Otlp);
        read(text.as_bytes(), "t.json", &mut set).expect("reads");
        let got: Vec<(TryMark, Option<Outcome>, bool)> = set
            .spans
            .iter()
            .map(|s| (s.try_mark, s.outcome, s.cancelled))
            .collect();
        assert_eq!(
            got,
            vec![
                (TryMark::Unmarked, None, false),
                (TryMark::Retry, Some(Outcome::Timeout), false),
                (TryMark::Retry, Some(Outcome::Refused), false),
                // A failure the simulator has no name for is not named; a first try (resend
                // count 0) is unmarked; a span that did not fail has no failure.
                (TryMark::Hedge, None, true),
                (TryMark::Unmarked, None, false),
            ]
        );
    }

    #[test]
    fn reads_lines_strings_and_numbers_and_enum_names() {
        let text = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},{"key":"service.instance.id","value":{"stringValue":"api-1"}}]},"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"1111111111111111","name":"GET","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":5000,"status":{"code":2},"unknownField":1}]}]}]}
{"result":{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"db"}}]},"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"2222222222222222","parentSpanId":"1111111111111111","name":"q","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":2000,"endTimeUnixNano":"3000"}]}]}]}}
"#;
        let mut set = SpanSet::new(Format::Otlp);
        read(text.as_bytes(), "t.json", &mut set).expect("reads");
        assert_eq!(set.spans.len(), 2);
        assert_eq!(set.trace_count(), 1);
        let (a, b) = (&set.spans[0], &set.spans[1]);
        assert_eq!(
            (a.start, a.end, a.kind, a.error),
            (1000, 5000, SpanKind::Server, true)
        );
        assert_eq!(set.names.get(a.instance), "api-1");
        assert_eq!((b.kind, b.parent, b.error), (SpanKind::Client, a.id, false));
        assert_eq!(set.names.get(b.service), "db");
        let error = read(b"{\"resourceSpans\": [}", "bad.json", &mut set).expect_err("syntax");
        assert_eq!((error.file.as_str(), error.line), ("bad.json", 1));
        let error = read(b"{\"data\": []}", "j.json", &mut set).expect_err("not otlp");
        assert!(error.message.contains("resourceSpans"), "{}", error.message);
    }
}
