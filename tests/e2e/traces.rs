//! `meshsim import traces` and `meshsim run --traces`: round trips through the scenarios in
//! `scenarios/`, traces of a known system written by an independent generator in all four
//! formats, trace files from public projects, and bad input.

use crate::common::{self, meshsim, root, temp_dir, write_file};
use meshsim::import::traces::{import, Format, ImportOptions};
use meshsim::model::Model;
use meshsim::report::TraceRecorder;
use meshsim::scenario::{self, Override};
use meshsim::sim::{NullRecorder, Simulation};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn overrides(texts: &[&str]) -> Vec<Override> {
    texts
        .iter()
        .map(|t| Override::parse(t).expect("override"))
        .collect()
}

/// Runs `model` writing sampled requests (probability `p`) to `path`.
fn run_traced(model: &Model, path: &Path, p: f64) -> meshsim::sim::RunResult {
    let recorder = TraceRecorder::new(NullRecorder, model, path, p).expect("trace file");
    let (result, recorder) = Simulation::run(model, recorder);
    recorder.finish().expect("traces written");
    result
}

/// Imports `files` and loads the scenario with `sets`; returns the text and the model.
fn import_and_load(files: &[PathBuf], options: &ImportOptions, sets: &[&str]) -> (String, Model) {
    let imported = import(files, options).unwrap_or_else(|e| panic!("import fails:\n{e}"));
    let dir = temp_dir(&format!("traces-load-{}", imported.name));
    for (name, text) in &imported.side_files {
        write_file(&dir, name, text.as_bytes());
    }
    let model = scenario::load_str(&imported.text, "imported", &dir, &overrides(sets))
        .unwrap_or_else(|e| panic!("imported scenario does not load:\n{e}\n{}", imported.text));
    (imported.text, model)
}

/// "svc/endpoint" of every endpoint reachable from the workloads.
fn reachable(model: &Model) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<usize> = model.workloads.iter().map(|w| w.target).collect();
    while let Some(e) = stack.pop() {
        if !seen.insert(e) {
            continue;
        }
        for call in model.endpoints[e].steps.iter().flat_map(|s| &s.calls) {
            stack.push(call.target);
        }
    }
    seen.into_iter().map(|e| endpoint_name(model, e)).collect()
}

fn endpoint_name(model: &Model, e: usize) -> String {
    let endpoint = &model.endpoints[e];
    format!(
        "{}/{}",
        model.services[endpoint.service].name, endpoint.name
    )
}

/// Per endpoint, per (target, occurrence): the call's probability.
fn call_probabilities(model: &Model) -> BTreeMap<(String, String, u32), f64> {
    let mut out = BTreeMap::new();
    for e in 0..model.endpoints.len() {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        for call in model.endpoints[e].steps.iter().flat_map(|s| &s.calls) {
            let target = endpoint_name(model, call.target);
            let n = seen.entry(target.clone()).or_insert(0);
            out.insert((endpoint_name(model, e), target, *n), call.probability);
            *n += 1;
        }
    }
    out
}

/// Server spans per "service/name" in OTLP/JSON text (read here, not by the importer).
fn server_span_counts(text: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let value: Value = serde_json::from_str(text).expect("OTLP JSON");
    for rs in value["resourceSpans"].as_array().expect("resourceSpans") {
        let service = rs["resource"]["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "service.name"))
            .and_then(|kv| kv["value"]["stringValue"].as_str())
            .unwrap_or("")
            .to_string();
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            for span in ss["spans"].as_array().expect("spans") {
                if span["kind"] == 2 {
                    let name = span["name"].as_str().unwrap_or("");
                    *counts.entry(format!("{service}/{name}")).or_insert(0) += 1;
                }
            }
        }
    }
    counts
}

fn quantile_ms(result: &meshsim::sim::RunResult, q: f64) -> f64 {
    result.latency.quantile_nanos(q) as f64 / 1e6
}

fn assert_within(what: &str, got: f64, expected: f64, tolerance: f64) {
    let error = (got / expected - 1.0).abs();
    assert!(
        error <= tolerance,
        "{what}: {got:.4} vs {expected:.4} ({:.1}% off, allowed {:.0}%)",
        error * 100.0,
        tolerance * 100.0
    );
}

/// The imported call probabilities within 3 standard errors of the original's (n: the caller's
/// server spans in the traces, `jobs`), and no call the original does not make.
fn assert_call_probabilities(
    relative: &str,
    original: &Model,
    imported: &Model,
    jobs: &BTreeMap<String, u64>,
) {
    let got = call_probabilities(imported);
    let expected = call_probabilities(original);
    for (key, p) in &expected {
        if !reachable(original).contains(&key.0) {
            continue;
        }
        let p = *p;
        let n = jobs.get(&key.0).copied().unwrap_or(0) as f64;
        assert!(n > 0.0, "{relative}: no trace of {}", key.0);
        let p_hat = got.get(key).copied().unwrap_or(0.0);
        let variance = (p * (1.0 - p)).max(p_hat * (1.0 - p_hat)).max(0.25 / n);
        let allowed = 3.0 * (variance / n).sqrt();
        assert!(
            (p_hat - p).abs() <= allowed,
            "{relative}: {} calls {} (#{}) with p {p_hat}, expected {p} ± {allowed:.4} (n = {n})",
            key.0,
            key.1,
            key.2
        );
    }
    for key in got.keys() {
        assert!(
            expected.contains_key(key),
            "{relative}: the import calls {} from {} (#{}), the original does not",
            key.1,
            key.0,
            key.2
        );
    }
}

/// Run `relative` with traces, import them, run the import at the same load: same services and
/// endpoints, call probabilities within 3 standard errors, p50 within 5% and p99 within 10%.
fn round_trip(relative: &str, sets: &[&str], sample: f64) {
    let original = common::load(relative, sets);
    let dir = temp_dir(&format!("round-trip-{}", original.name));
    let path = dir.join("traces.json");
    let before = run_traced(&original, &path, sample);
    let text = std::fs::read_to_string(&path).expect("trace file");
    let duration = format!("scenario.duration={}ms", original.duration / 1_000_000);
    let warmup = format!("scenario.warmup={}ms", original.warmup / 1_000_000);
    let (imported_text, imported) = import_and_load(
        &[path],
        &ImportOptions::default(),
        &[&duration, &warmup, "scenario.seed=7"],
    );
    let services = |m: &Model| -> BTreeSet<String> {
        reachable(m)
            .iter()
            .map(|e| e.split('/').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        services(&imported),
        services(&original),
        "{relative}: services"
    );
    assert_eq!(
        reachable(&imported),
        reachable(&original),
        "{relative}: endpoints"
    );
    let jobs = server_span_counts(&text);
    assert_call_probabilities(relative, &original, &imported, &jobs);
    let after = common::run(&imported);
    // The load: the imported rates come from the sampled traces (a Poisson count of them).
    let traces = jobs.len().max(1) as f64;
    let _ = traces;
    let offered_error = (after.offered as f64 / before.offered as f64 - 1.0).abs();
    assert!(
        offered_error < 0.1,
        "{relative}: offered {} vs {}\n{imported_text}",
        after.offered,
        before.offered
    );
    assert_within(
        &format!("{relative}: p50 ms"),
        quantile_ms(&after, 0.5),
        quantile_ms(&before, 0.5),
        0.05,
    );
    assert_within(
        &format!("{relative}: p99 ms"),
        quantile_ms(&after, 0.99),
        quantile_ms(&before, 0.99),
        0.10,
    );
}

#[test]
fn blog_round_trips_through_its_traces() {
    round_trip(
        "blog.toml",
        &["scenario.duration=40s", "fault.0.at=1000s"],
        0.05,
    );
}

#[test]
fn social_network_round_trips_through_its_traces() {
    round_trip(
        "systems/social-network.toml",
        &["scenario.duration=35s", "fault.0.at=1000s"],
        0.1,
    );
}

#[test]
fn online_boutique_round_trips_through_its_traces() {
    round_trip(
        "systems/online-boutique.toml",
        &["scenario.duration=60s", "fault.0.at=1000s"],
        0.2,
    );
}

/// The call policy of `service` in `model`.
fn policy_of<'m>(model: &'m Model, service: &str) -> &'m meshsim::model::CallPolicy {
    &model
        .services
        .iter()
        .find(|s| s.name == service)
        .unwrap_or_else(|| panic!("no service {service}"))
        .policy
}

#[test]
fn blog_with_its_crash_round_trips_its_retry_policy() {
    // article#0 is down from 40 s to 60 s: a quarter of the tries to article are refused and
    // retried (`max = 2`, on refused). Retries are not extra calls, and the import retries
    // calls to article as the original does.
    let original = common::load(
        "blog.toml",
        &["scenario.duration=60s", "scenario.warmup=1s"],
    );
    let dir = temp_dir("round-trip-retries");
    let path = dir.join("traces.json");
    run_traced(&original, &path, 0.05);
    let text = std::fs::read_to_string(&path).expect("trace file");
    let (imported_text, imported) = import_and_load(&[path], &ImportOptions::default(), &[]);
    assert_eq!(reachable(&imported), reachable(&original), "endpoints");
    assert_call_probabilities(
        "blog (crash)",
        &original,
        &imported,
        &server_span_counts(&text),
    );
    let (want, got) = (
        &policy_of(&original, "article").retries,
        &policy_of(&imported, "article").retries,
    );
    assert_eq!(got.max_retries, want.max_retries, "{imported_text}");
    let refused = meshsim::model::Outcome::Refused.index();
    assert!(got.retry_on[refused], "{imported_text}");
    for outcome in meshsim::model::Outcome::FAILURES {
        let i = outcome.index();
        assert!(
            !got.retry_on[i] || want.retry_on[i],
            "{} is not retried in the original\n{imported_text}",
            outcome.name()
        );
    }
    // Only refused tries were retried: no timeout shows, so none is written.
    assert_eq!(got.per_try_timeout, None);
    // Services no try of which was retried get no retries.
    for service in ["user", "comment", "user-db", "comment-db", "article-db"] {
        assert_eq!(
            policy_of(&imported, service).retries.max_retries,
            0,
            "{service}\n{imported_text}"
        );
    }
}

#[test]
fn hedges_round_trip_as_a_hedge_policy_not_as_parallel_calls() {
    // front calls back, which its caller hedges after 3 ms: a hedge overlaps its first try,
    // so read as a call it would be a second, parallel call with p = the hedged fraction.
    let hedged = "[scenario]\nname = \"hedged\"\nduration = \"40s\"\nwarmup = \"1s\"\nseed = 3\n\
        [network]\nlatency = \"const(0.2ms)\"\n\
        [[service]]\nname = \"front\"\nreplicas = 2\nworkers = 64\nservice_time = \"exp(1ms)\"\ncalls = [\"back\"]\n\
        [[service]]\nname = \"back\"\nreplicas = 3\nworkers = 64\nservice_time = \"lognormal(median=1ms, p99=12ms)\"\n\
          [service.policy]\n  hedge = { after = \"3ms\", max = 1 }\n\
        [[workload]]\nname = \"load\"\ntarget = \"front\"\nrate = 200\n";
    let dir = temp_dir("round-trip-hedges");
    let original = scenario::load_str(hedged, "hedged", &dir, &[]).expect("hedging scenario");
    let path = dir.join("traces.json");
    let before = run_traced(&original, &path, 0.5);
    let text = std::fs::read_to_string(&path).expect("trace file");
    let (imported_text, imported) = import_and_load(
        &[path],
        &ImportOptions::default(),
        &[
            "scenario.duration=40s",
            "scenario.warmup=1s",
            "scenario.seed=7",
        ],
    );
    assert!(
        text.contains("meshsim.hedge"),
        "no hedge in the traces: the test shows nothing"
    );
    // A try that lost its race ends before its server span: not clock skew, no trace skipped
    // (skipping them would drop the slow requests).
    assert!(
        imported_text.contains("skipped 0\n# broken traces."),
        "{imported_text}"
    );
    assert_call_probabilities("hedged", &original, &imported, &server_span_counts(&text));
    let hedge = policy_of(&imported, "back")
        .hedge
        .unwrap_or_else(|| panic!("no hedge policy\n{imported_text}"));
    // Every hedge of the export starts exactly 3 ms after its first try.
    assert_eq!((hedge.after, hedge.max), (3_000_000, 1), "{imported_text}");
    assert_eq!(policy_of(&imported, "back").retries.max_retries, 0);
    // The same system, so the same end-to-end latency (p50 within 5%, p99 within 10%).
    let after = common::run(&imported);
    assert_within(
        "hedged: p50 ms",
        quantile_ms(&after, 0.5),
        quantile_ms(&before, 0.5),
        0.05,
    );
    assert_within(
        "hedged: p99 ms",
        quantile_ms(&after, 0.99),
        quantile_ms(&before, 0.99),
        0.10,
    );
}

// ----- the exported traces ---------------------------------------------------------------------

/// Every span of an OTLP/JSON file, with its resource's service and instance.
fn otlp_spans(text: &str) -> Vec<(String, String, Value)> {
    let value: Value = serde_json::from_str(text).expect("OTLP JSON");
    let mut out = Vec::new();
    for rs in value["resourceSpans"].as_array().expect("resourceSpans") {
        let attribute = |key: &str| {
            rs["resource"]["attributes"]
                .as_array()
                .and_then(|a| a.iter().find(|kv| kv["key"] == key))
                .and_then(|kv| kv["value"]["stringValue"].as_str())
                .unwrap_or("")
                .to_string()
        };
        for ss in rs["scopeSpans"].as_array().expect("scopeSpans") {
            for span in ss["spans"].as_array().expect("spans") {
                out.push((
                    attribute("service.name"),
                    attribute("service.instance.id"),
                    span.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn exported_traces_are_valid_otlp_with_retries_hedges_outcomes_and_faults() {
    let dir = temp_dir("export-valid");
    // The blog with its crash: refused tries are retried (static registry).
    let model = common::load(
        "blog.toml",
        &["scenario.duration=50s", "scenario.warmup=1s"],
    );
    let path = dir.join("blog.json");
    let plain = common::run(&model);
    let traced = run_traced(&model, &path, 0.02);
    // Writing traces does not change the run.
    assert_eq!(plain.offered, traced.offered);
    assert_eq!(plain.events_handled, traced.events_handled);
    assert_eq!(
        plain.latency.quantile_nanos(0.99),
        traced.latency.quantile_nanos(0.99)
    );
    let text = std::fs::read_to_string(&path).expect("file");
    let spans = otlp_spans(&text);
    let mut by_trace: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    for (service, instance, span) in &spans {
        assert!(!service.is_empty() && !instance.is_empty());
        let trace = span["traceId"].as_str().expect("traceId");
        assert!(hex(trace, 32) && trace != "0".repeat(32), "{trace}");
        assert!(hex(span["spanId"].as_str().expect("spanId"), 16));
        let parent = span["parentSpanId"].as_str().expect("parentSpanId");
        assert!(parent.is_empty() || hex(parent, 16));
        let start: u64 = span["startTimeUnixNano"]
            .as_str()
            .expect("start")
            .parse()
            .expect("u64");
        let end: u64 = span["endTimeUnixNano"]
            .as_str()
            .expect("end")
            .parse()
            .expect("u64");
        assert!(end >= start);
        assert!(matches!(span["kind"].as_u64(), Some(1..=3)));
        by_trace.entry(trace.to_string()).or_default().push(span);
    }
    // Every parent is in its trace; one root per trace.
    for (trace, spans) in &by_trace {
        let ids: BTreeSet<&str> = spans
            .iter()
            .map(|s| s["spanId"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(ids.len(), spans.len(), "{trace}: duplicate span ids");
        let roots = spans.iter().filter(|s| s["parentSpanId"] == "").count();
        assert_eq!(roots, 1, "{trace}");
        for span in spans {
            let parent = span["parentSpanId"].as_str().unwrap_or("");
            assert!(
                parent.is_empty() || ids.contains(parent),
                "{trace}: orphan {span}"
            );
        }
    }
    // About 2% of the requests, sampled by identity.
    let expected = plain.offered as f64 * 0.02 * 50.0 / 49.0;
    let got = by_trace.len() as f64;
    assert!(
        (got - expected).abs() < 4.0 * expected.sqrt() + 10.0,
        "{got} traces, expected about {expected}"
    );
    let attribute = |span: &Value, key: &str| {
        span["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|kv| kv["key"] == key))
    };
    let retries = spans
        .iter()
        .filter(|(_, _, s)| attribute(s, "meshsim.retry"))
        .count();
    let refused = spans
        .iter()
        .filter(|(_, _, s)| s["status"]["code"] == 2 && s["status"]["message"] == "refused")
        .count();
    let fault_events = spans
        .iter()
        .filter(|(_, _, s)| {
            s["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["name"] == "fault_active"))
        })
        .count();
    assert!(
        retries > 0 && refused > 0,
        "retries {retries}, refused {refused}"
    );
    assert!(fault_events > 0, "no fault event");
    // A retry is a sibling of the try it follows (same parent).
    for (_, _, span) in spans
        .iter()
        .filter(|(_, _, s)| attribute(s, "meshsim.retry"))
    {
        let trace = &by_trace[span["traceId"].as_str().unwrap_or("")];
        let siblings = trace
            .iter()
            .filter(|s| {
                s["parentSpanId"] == span["parentSpanId"]
                    && s["kind"] == 3
                    && s["name"] == span["name"]
            })
            .count();
        assert!(siblings >= 2, "a retry without the try before it: {span}");
    }

    // Hedges: a service whose slow tail the caller hedges after 2 ms.
    let hedged = "[scenario]\nname = \"hedged\"\nduration = \"5s\"\n\
        [policy]\nhedge = { after = \"2ms\", max = 1 }\n\
        [[service]]\nname = \"api\"\nreplicas = 2\nworkers = 64\nservice_time = \"exp(2ms)\"\n\
        [[workload]]\nname = \"load\"\ntarget = \"api\"\nrate = 100\n";
    let model = scenario::load_str(hedged, "hedged", &dir, &[]).expect("hedging scenario");
    let path = dir.join("hedge.json");
    run_traced(&model, &path, 1.0);
    let text = std::fs::read_to_string(&path).expect("file");
    let spans = otlp_spans(&text);
    let hedges: Vec<&Value> = spans
        .iter()
        .map(|(_, _, s)| s)
        .filter(|s| attribute(s, "meshsim.hedge"))
        .collect();
    let cancelled = spans
        .iter()
        .filter(|(_, _, s)| attribute(s, "meshsim.cancelled"))
        .count();
    assert!(
        !hedges.is_empty() && cancelled > 0,
        "hedges {}, cancelled {cancelled}",
        hedges.len()
    );
    // A hedge starts 2 ms after the first try, its sibling.
    for hedge in hedges.iter().take(20) {
        let first = spans
            .iter()
            .map(|(_, _, s)| s)
            .find(|s| {
                s["parentSpanId"] == hedge["parentSpanId"]
                    && s["kind"] == 3
                    && !attribute(s, "meshsim.hedge")
            })
            .expect("the first try");
        let start = |s: &Value| {
            s["startTimeUnixNano"]
                .as_str()
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0)
        };
        assert_eq!(start(hedge) - start(first), 2_000_000);
    }
}

#[test]
fn sampling_is_by_request_identity() {
    let dir = temp_dir("export-sampling");
    let model = common::load("blog.toml", &["scenario.duration=5s", "scenario.warmup=1s"]);
    let ids = |p: f64, name: &str| -> BTreeSet<String> {
        let path = dir.join(name);
        run_traced(&model, &path, p);
        let text = std::fs::read_to_string(&path).expect("file");
        otlp_spans(&text)
            .iter()
            .map(|(_, _, s)| s["traceId"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let all = ids(1.0, "all.json");
    let half = ids(0.5, "half.json");
    let again = ids(0.5, "again.json");
    assert_eq!(half, again, "the same requests every run");
    assert!(half.is_subset(&all));
    let ratio = half.len() as f64 / all.len() as f64;
    assert!(
        (ratio - 0.5).abs() < 4.0 * (0.25 / all.len() as f64).sqrt(),
        "{ratio}"
    );
    let a = std::fs::read(dir.join("half.json")).expect("file");
    let b = std::fs::read(dir.join("again.json")).expect("file");
    assert_eq!(a, b, "byte-identical files");
}

#[test]
fn run_traces_flag_writes_the_file_and_refuses_a_bad_probability() {
    let dir = temp_dir("export-cli");
    let traces = dir.join("t.json");
    let out = dir.join("report");
    let output = meshsim(&[
        "run",
        "scenarios/blog.toml",
        "-q",
        "--set",
        "scenario.duration=3s",
        "--set",
        "scenario.warmup=1s",
        "--out",
        out.to_str().expect("path"),
        "--traces",
        traces.to_str().expect("path"),
        "--trace-sample",
        "0.1",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&traces).expect("trace file");
    assert!(!otlp_spans(&text).is_empty());
    let output = meshsim(&[
        "run",
        "scenarios/blog.toml",
        "--traces",
        traces.to_str().expect("path"),
        "--trace-sample",
        "1.5",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--trace-sample"));
}

// ----- an independent generator of a known system -----------------------------------------------

/// A small deterministic generator (SplitMix64), independent of meshsim's streams.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

/// Service, instances, endpoint of the known system.
const SYSTEM: [(&str, u32, &str); 6] = [
    ("frontend", 2, "home"),
    ("auth", 1, "check"),
    ("catalog", 3, "list"),
    ("recs", 2, "get"),
    ("cart", 1, "get"),
    ("db", 1, "query"),
];

/// The calls of the known system, as (caller, callee, probability, occurrence).
const CALLS: [(&str, &str, f64, u32); 6] = [
    ("frontend", "auth", 1.0, 0),
    ("frontend", "catalog", 1.0, 0),
    ("frontend", "recs", 0.3, 0),
    ("frontend", "cart", 0.6, 0),
    ("catalog", "db", 1.0, 0),
    ("catalog", "db", 0.5, 1),
];

/// One generated span.
#[derive(Debug, Clone)]
struct GenSpan {
    id: u64,
    parent: u64,
    service: &'static str,
    instance: u32,
    name: &'static str,
    server: bool,
    start: f64,
    end: f64,
    /// Whether it failed (OTLP status code 2).
    error: bool,
    /// OpenTelemetry's `http.request.resend_count` of a client span that retries (0: first).
    resend: u32,
}

/// Milliseconds scaled by `scale`.
struct Generator {
    rng: Rng,
    scale: f64,
    next_id: u64,
    /// Whether each try to cart fails with probability [`CART_FAILURE`] and is retried.
    retries: bool,
}

/// With retries on: the probability that one try to cart fails, after its work.
const CART_FAILURE: f64 = 0.2;
/// With retries on: most retries of a call to cart.
const CART_RETRIES: u32 = 2;

impl Generator {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.rng.next() ^ self.next_id
    }

    fn hop(&mut self) -> f64 {
        self.rng.between(0.3, 0.7) * self.scale
    }

    fn work(&mut self, service: &str) -> f64 {
        let ms = match service {
            "frontend" => self.rng.between(1.0, 3.0),
            "auth" => 0.5 + self.rng.exp(1.0),
            "catalog" => self.rng.between(1.0, 3.0),
            "recs" => self.rng.exp(4.0),
            "cart" => self.rng.between(0.5, 1.5),
            _ => self.rng.exp(2.0),
        };
        ms * self.scale
    }

    /// A call from `parent` (a server span id, in `caller`) to `service` at `start`: client
    /// span, network, server span (own work and its calls), network. Returns its end.
    fn call(
        &mut self,
        spans: &mut Vec<GenSpan>,
        parent: u64,
        caller: &'static str,
        caller_instance: u32,
        service: &'static str,
        start: f64,
    ) -> f64 {
        self.try_once(
            spans,
            parent,
            caller,
            caller_instance,
            service,
            start,
            0,
            false,
        )
    }

    /// A call to cart with retries on: every try fails with probability [`CART_FAILURE`] (its
    /// client and server spans in error); a failed try is retried, at most [`CART_RETRIES`]
    /// times, after full-jitter backoff (uniform in [0, 25 ms × 2^(n−1)] before retry n, Envoy's
    /// base), as a new client span with `http.request.resend_count` = n. Returns the end and
    /// whether the call failed.
    fn call_retried(
        &mut self,
        spans: &mut Vec<GenSpan>,
        parent: u64,
        caller: &'static str,
        caller_instance: u32,
        start: f64,
    ) -> (f64, bool) {
        let mut at = start;
        let mut resend = 0;
        loop {
            let failed = self.rng.chance(CART_FAILURE);
            let end = self.try_once(
                spans,
                parent,
                caller,
                caller_instance,
                "cart",
                at,
                resend,
                failed,
            );
            if !failed || resend == CART_RETRIES {
                return (end, failed);
            }
            resend += 1;
            let cap = 25.0 * f64::powi(2.0, resend as i32 - 1);
            at = end + self.rng.between(0.0, cap) * self.scale;
        }
    }

    /// One try: client span, network, server span (own work and its calls; in error when
    /// `failed`), network. Returns its end.
    #[allow(clippy::too_many_arguments)]
    fn try_once(
        &mut self,
        spans: &mut Vec<GenSpan>,
        parent: u64,
        caller: &'static str,
        caller_instance: u32,
        service: &'static str,
        start: f64,
        resend: u32,
        failed: bool,
    ) -> f64 {
        let client = self.id();
        let server = self.id();
        let (_, instances, name) = SYSTEM
            .iter()
            .copied()
            .find(|s| s.0 == service)
            .expect("known service");
        let instance = (self.rng.next() % u64::from(instances)) as u32;
        let arrive = start + self.hop();
        let (done, failed_call) = self.serve(spans, server, service, instance, arrive);
        let end = done + self.hop();
        spans.push(GenSpan {
            id: client,
            parent,
            service: caller,
            instance: caller_instance,
            name,
            server: false,
            start,
            end,
            error: failed || failed_call,
            resend,
        });
        spans.push(GenSpan {
            id: server,
            parent: client,
            service,
            instance,
            name,
            server: true,
            start: arrive,
            end: done,
            error: failed || failed_call,
            resend: 0,
        });
        end
    }

    /// The server span `id` of `service` from `start`: half its work, its steps, the other half.
    /// Returns its end and whether one of its calls failed.
    fn serve(
        &mut self,
        spans: &mut Vec<GenSpan>,
        id: u64,
        service: &'static str,
        instance: u32,
        start: f64,
    ) -> (f64, bool) {
        let work = self.work(service);
        let mut t = start + work / 2.0;
        let mut failed_call = false;
        match service {
            "frontend" => {
                t = self.call(spans, id, service, instance, "auth", t);
                let catalog = self.call(spans, id, service, instance, "catalog", t);
                let recs = if self.rng.chance(0.3) {
                    self.call(spans, id, service, instance, "recs", t)
                } else {
                    t
                };
                t = catalog.max(recs);
                if self.rng.chance(0.6) {
                    if self.retries {
                        (t, failed_call) = self.call_retried(spans, id, service, instance, t);
                    } else {
                        t = self.call(spans, id, service, instance, "cart", t);
                    }
                }
            }
            "catalog" => {
                t = self.call(spans, id, service, instance, "db", t);
                if self.rng.chance(0.5) {
                    t = self.call(spans, id, service, instance, "db", t);
                }
            }
            _ => {}
        }
        (t + work / 2.0, failed_call)
    }

    /// One request from the load generator at `at`: its spans, and its end-to-end duration.
    fn request(&mut self, at: f64) -> (Vec<GenSpan>, f64) {
        let mut spans = Vec::new();
        let end = self.call(&mut spans, 0, "loadgen", 0, "frontend", at);
        (spans, end - at)
    }
}

fn generate(scale: f64, count: usize, seed: u64) -> (Vec<Vec<GenSpan>>, Vec<f64>) {
    generate_with(scale, count, seed, false)
}

fn generate_with(
    scale: f64,
    count: usize,
    seed: u64,
    retries: bool,
) -> (Vec<Vec<GenSpan>>, Vec<f64>) {
    let mut generator = Generator {
        rng: Rng(seed),
        scale,
        next_id: 0,
        retries,
    };
    let mut at = 1_000.0;
    let mut traces = Vec::new();
    let mut durations = Vec::new();
    for _ in 0..count {
        at += generator.rng.exp(10.0); // 100 requests per second
        let (spans, duration) = generator.request(at);
        traces.push(spans);
        durations.push(duration);
    }
    (traces, durations)
}

const EPOCH_MS: f64 = 1_700_000_000_000.0;

fn ns(ms: f64) -> u64 {
    ((EPOCH_MS + ms) * 1e6).round() as u64
}

fn us(ms: f64) -> u64 {
    ((EPOCH_MS + ms) * 1e3).round() as u64
}

fn instance_name(span: &GenSpan) -> String {
    format!("{}-{}", span.service, span.instance)
}

/// OTLP/JSON lines; trace ids count from `first_trace + 1`.
fn write_otlp(traces: &[Vec<GenSpan>], first_trace: usize) -> String {
    let mut out = String::new();
    for (t, spans) in traces.iter().enumerate() {
        // One line (an export batch) per trace, one resource per instance.
        let mut by_instance: BTreeMap<String, Vec<&GenSpan>> = BTreeMap::new();
        for span in spans {
            by_instance
                .entry(instance_name(span))
                .or_default()
                .push(span);
        }
        let resources: Vec<Value> = by_instance
            .values()
            .map(|list| {
                let spans: Vec<Value> = list
                    .iter()
                    .map(|s| {
                        let mut span = serde_json::json!({
                            "traceId": format!("{:032x}", first_trace + t + 1),
                            "spanId": format!("{:016x}", s.id),
                            "parentSpanId": if s.parent == 0 { String::new() } else { format!("{:016x}", s.parent) },
                            "name": s.name,
                            "kind": if s.server { 2 } else { 3 },
                            "startTimeUnixNano": ns(s.start).to_string(),
                            "endTimeUnixNano": ns(s.end).to_string(),
                        });
                        if s.error {
                            span["status"] = serde_json::json!({"code": 2});
                        }
                        if s.resend > 0 {
                            span["attributes"] = serde_json::json!([{
                                "key": "http.request.resend_count",
                                "value": {"intValue": s.resend.to_string()},
                            }]);
                        }
                        span
                    })
                    .collect();
                serde_json::json!({
                    "resource": {"attributes": [
                        {"key": "service.name", "value": {"stringValue": list[0].service}},
                        {"key": "service.instance.id", "value": {"stringValue": instance_name(list[0])}},
                    ]},
                    "scopeSpans": [{"scope": {"name": "generator"}, "spans": spans}],
                })
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::json!({ "resourceSpans": resources }));
    }
    out
}

fn write_jaeger(traces: &[Vec<GenSpan>]) -> String {
    let data: Vec<Value> = traces
        .iter()
        .enumerate()
        .map(|(t, spans)| {
            let mut processes = serde_json::Map::new();
            let mut process_of: BTreeMap<String, String> = BTreeMap::new();
            for span in spans {
                let key = instance_name(span);
                if !process_of.contains_key(&key) {
                    let id = format!("p{}", process_of.len() + 1);
                    processes.insert(
                        id.clone(),
                        serde_json::json!({"serviceName": span.service, "tags": [{"key": "hostname", "type": "string", "value": key}]}),
                    );
                    process_of.insert(key, id);
                }
            }
            let trace_id = format!("{:032x}", t + 1);
            let spans: Vec<Value> = spans
                .iter()
                .map(|s| {
                    let references = if s.parent == 0 {
                        serde_json::json!([])
                    } else {
                        serde_json::json!([{"refType": "CHILD_OF", "traceID": trace_id, "spanID": format!("{:016x}", s.parent)}])
                    };
                    serde_json::json!({
                        "traceID": trace_id,
                        "spanID": format!("{:016x}", s.id),
                        "operationName": s.name,
                        "references": references,
                        "startTime": us(s.start),
                        "duration": us(s.end) - us(s.start),
                        "tags": [{"key": "span.kind", "type": "string", "value": if s.server { "server" } else { "client" }}],
                        "processID": process_of[&instance_name(s)],
                    })
                })
                .collect();
            serde_json::json!({"traceID": trace_id, "spans": spans, "processes": processes})
        })
        .collect();
    serde_json::json!({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": null})
        .to_string()
}

/// Zipkin v2, with the server half of each call sharing its client's span id (`shared`).
fn write_zipkin(traces: &[Vec<GenSpan>]) -> String {
    let mut all = Vec::new();
    for (t, spans) in traces.iter().enumerate() {
        let trace_id = format!("{:032x}", t + 1);
        // Shared ids: a server span takes its client's id; its children name that id.
        let shared: BTreeMap<u64, u64> = spans
            .iter()
            .filter(|s| s.server)
            .map(|s| (s.id, s.parent))
            .collect();
        let id_of = |id: u64| shared.get(&id).copied().unwrap_or(id);
        for s in spans {
            let ip = format!(
                "10.0.{}.{}",
                SYSTEM.iter().position(|x| x.0 == s.service).unwrap_or(9),
                s.instance + 1
            );
            let mut span = serde_json::json!({
                "traceId": trace_id,
                "id": format!("{:016x}", id_of(s.id)),
                "name": s.name,
                "kind": if s.server { "SERVER" } else { "CLIENT" },
                "timestamp": us(s.start),
                "duration": (us(s.end) - us(s.start)).max(1),
                "localEndpoint": {"serviceName": s.service, "ipv4": ip, "port": 8080},
            });
            let parent = if s.server {
                // The shared span's parent is its client's parent.
                spans
                    .iter()
                    .find(|c| c.id == s.parent)
                    .map_or(0, |c| id_of(c.parent))
            } else {
                id_of(s.parent)
            };
            if parent != 0 {
                span["parentId"] = Value::String(format!("{parent:016x}"));
            }
            if s.server {
                span["shared"] = Value::Bool(true);
            }
            all.push(span);
        }
    }
    Value::Array(all).to_string()
}

/// Alibaba's v2022-style columns (with instance ids), milliseconds, rpcids from the call tree.
fn write_alibaba(traces: &[Vec<GenSpan>]) -> String {
    let mut out = String::from(
        "timestamp,traceid,service,rpcid,um,uminstanceid,rpctype,interface,dm,dminstanceid,rt\n",
    );
    for (t, spans) in traces.iter().enumerate() {
        // rpcids: the root call 0.1; the calls of the server under rpcid R are R.1, R.2, ...
        let mut rpcid: BTreeMap<u64, String> = BTreeMap::new();
        let mut order: Vec<&GenSpan> = spans.iter().filter(|s| !s.server).collect();
        order.sort_by(|a, b| a.start.total_cmp(&b.start));
        let server_of = |client: u64| spans.iter().find(|s| s.server && s.parent == client);
        let mut counters: BTreeMap<String, u32> = BTreeMap::new();
        for client in &order {
            let parent_rpc = if client.parent == 0 {
                "0".to_string()
            } else {
                // The parent is a server span: its rpcid is its client's.
                let server = spans
                    .iter()
                    .find(|s| s.id == client.parent)
                    .expect("parent");
                rpcid[&server.parent].clone()
            };
            let n = counters.entry(parent_rpc.clone()).or_insert(0);
            *n += 1;
            rpcid.insert(client.id, format!("{parent_rpc}.{n}"));
        }
        for client in &order {
            let server = server_of(client.id).expect("server half");
            let id = &rpcid[&client.id];
            let ms = |x: f64| x.round() as i64;
            let _ = writeln!(
                out,
                "{},T{t},s,{id},{},{},rpc,{},{},{},{}",
                ms(client.start),
                client.service,
                instance_name(client),
                client.name,
                server.service,
                instance_name(server),
                ms(client.end) - ms(client.start)
            );
            let _ = writeln!(
                out,
                "{},T{t},s,{id},{},{},rpc,{},{},{},{}",
                ms(server.start),
                client.service,
                instance_name(client),
                client.name,
                server.service,
                instance_name(server),
                -(ms(server.end) - ms(server.start))
            );
        }
    }
    out
}

fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Imports the known system's traces written in `format` (times scaled by `scale`) and checks
/// services, replicas, call probabilities and the end-to-end distribution of a run.
fn known_system(format: Format, scale: f64) {
    known_system_with(format, scale, false);
}

/// [`known_system`], with the retries of calls to cart on or off (see [`Generator`]).
fn known_system_with(format: Format, scale: f64, retries: bool) {
    let count = 3_000;
    let (traces, _) = generate_with(scale, count, 11, retries);
    // The true end-to-end distribution, from many more requests than the file holds.
    let (_, mut truth) = generate_with(scale, 100_000, 12, retries);
    truth.sort_by(f64::total_cmp);
    let text = match format {
        Format::Otlp => write_otlp(&traces, 0),
        Format::Jaeger => write_jaeger(&traces),
        Format::Zipkin => write_zipkin(&traces),
        Format::Alibaba => write_alibaba(&traces),
    };
    let dir = temp_dir(&format!(
        "known-{}{}",
        format.name(),
        if retries { "-retries" } else { "" }
    ));
    let name = if format == Format::Alibaba {
        "known.csv"
    } else {
        "known.json"
    };
    let path = write_file(&dir, name, text.as_bytes());
    let (imported_text, model) = import_and_load(
        &[path],
        &ImportOptions::default(),
        &["scenario.duration=300s", "scenario.warmup=1s"],
    );
    let context = format!(
        "{} ({})",
        format.name(),
        imported_text.lines().take(3).collect::<Vec<_>>().join(" ")
    );
    for (service, instances, endpoint) in SYSTEM {
        let s = model
            .services
            .iter()
            .find(|s| s.name == service)
            .unwrap_or_else(|| panic!("{context}: no service {service}\n{imported_text}"));
        assert_eq!(
            s.replicas, instances as usize,
            "{context}: replicas of {service}"
        );
        assert!(
            model
                .endpoints
                .iter()
                .any(|e| e.name == endpoint && model.services[e.service].name == service),
            "{context}: no endpoint {service}/{endpoint}"
        );
    }
    assert_eq!(
        model.services.len(),
        SYSTEM.len(),
        "{context}: only the known services\n{imported_text}"
    );
    // Call probabilities, within 3 standard errors of the generator's (n: requests of the caller).
    let got = call_probabilities(&model);
    for (caller, callee, p, occurrence) in CALLS {
        let endpoint = |s: &str| SYSTEM.iter().find(|x| x.0 == s).map(|x| x.2).unwrap_or("");
        let key = (
            format!("{caller}/{}", endpoint(caller)),
            format!("{callee}/{}", endpoint(callee)),
            occurrence,
        );
        let n = count as f64; // frontend and catalog serve every request once
        let p_hat = got.get(&key).copied().unwrap_or(0.0);
        let allowed = 3.0 * ((p * (1.0 - p)).max(0.25 / n) / n).sqrt();
        assert!(
            (p_hat - p).abs() <= allowed,
            "{context}: {key:?}: {p_hat} vs {p} ± {allowed}"
        );
    }
    // Retries are not calls: no slot beyond the known ones.
    let known: BTreeSet<(String, String, u32)> = CALLS
        .iter()
        .map(|&(caller, callee, _, occurrence)| {
            let endpoint = |s: &str| SYSTEM.iter().find(|x| x.0 == s).map(|x| x.2).unwrap_or("");
            (
                format!("{caller}/{}", endpoint(caller)),
                format!("{callee}/{}", endpoint(callee)),
                occurrence,
            )
        })
        .collect();
    for key in got.keys() {
        assert!(
            known.contains(key),
            "{context}: a call the system does not make: {key:?}"
        );
    }
    for service in model.services.iter() {
        let retried = service.policy.retries.max_retries;
        if retries && service.name == "cart" {
            // Every try of a call failing with probability 0.2, a call of three tries fails
            // all three in 0.8% of calls: 1800 calls show it (P(none) = 0.992^1800 < 1e-6).
            assert_eq!(retried, CART_RETRIES, "{context}\n{imported_text}");
            let mut on = [false; 6];
            on[meshsim::model::Outcome::Error.index()] = true;
            assert_eq!(service.policy.retries.retry_on, on, "{context}");
            assert_eq!(service.policy.retries.per_try_timeout, None, "{context}");
            // Per try (a job of cart), error rate 0.2; n ≈ 1800 × 1.25 jobs: SE ≈ 0.0084.
            let n = 1_800.0 * 1.25;
            let allowed = 3.0 * (CART_FAILURE * (1.0 - CART_FAILURE) / n).sqrt();
            assert!(
                (service.error_rate - CART_FAILURE).abs() <= allowed,
                "{context}: cart error_rate {} vs {CART_FAILURE} ± {allowed}",
                service.error_rate
            );
        } else {
            assert_eq!(retried, 0, "{context}: {} retries", service.name);
        }
    }
    let result = common::run(&model);
    assert!(
        result.offered > 20_000,
        "{context}: {} requests",
        result.offered
    );
    assert_within(
        &format!("{context}: p50"),
        quantile_ms(&result, 0.5),
        sorted_quantile(&truth, 0.5),
        0.05,
    );
    assert_within(
        &format!("{context}: p99"),
        quantile_ms(&result, 0.99),
        sorted_quantile(&truth, 0.99),
        0.10,
    );
}

#[test]
fn a_known_system_in_otlp_is_reproduced() {
    known_system(Format::Otlp, 1.0);
}

#[test]
fn a_known_system_with_retries_marked_by_resend_count_is_reproduced() {
    // Calls to cart fail per try with probability 0.2 and are retried (OpenTelemetry's
    // `http.request.resend_count` on each retry): the import writes cart's retry policy and
    // error rate, keeps cart's call probability at 0.6, and reproduces the end-to-end latency,
    // retries and their backoff included.
    known_system_with(Format::Otlp, 1.0, true);
}

#[test]
fn a_known_system_in_jaeger_json_is_reproduced() {
    known_system(Format::Jaeger, 1.0);
}

#[test]
fn a_known_system_in_zipkin_with_shared_spans_is_reproduced() {
    known_system(Format::Zipkin, 1.0);
}

#[test]
fn a_known_system_in_alibaba_csv_is_reproduced() {
    // Alibaba's times are whole milliseconds: the system is slowed 20 times so that rounding
    // stays small against the work.
    known_system(Format::Alibaba, 20.0);
}

// ----- bad input --------------------------------------------------------------------------------

fn import_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["import", "traces"];
    all.extend_from_slice(args);
    let output = meshsim(&all);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn broken_traces_are_skipped_with_a_warning_and_bad_files_refused() {
    let dir = temp_dir("traces-bad");
    let (traces, _) = generate(1.0, 50, 5);
    let mut text = write_otlp(&traces, 0);
    // A trace whose span names a parent that never appears, and one with clock skew.
    text.push_str(&serde_json::json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": "ff000000000000000000000000000001", "spanId": "0000000000000001", "parentSpanId": "00000000000000aa", "name": "a", "kind": 2, "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
            {"traceId": "ff000000000000000000000000000002", "spanId": "0000000000000002", "name": "b", "kind": 2, "startTimeUnixNano": "100", "endTimeUnixNano": "200"},
            {"traceId": "ff000000000000000000000000000002", "spanId": "0000000000000003", "parentSpanId": "0000000000000002", "name": "c", "kind": 3, "startTimeUnixNano": "90", "endTimeUnixNano": "400"}
        ]}]}]}).to_string());
    text.push('\n');
    let partial = write_file(&dir, "partial.json", text.as_bytes());
    let (code, stdout, stderr) = import_cli(&[partial.to_str().expect("path")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("skipped 1 broken trace (parent never appears)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("00000000000000aa never appears"),
        "{stderr}"
    );
    assert!(
        stderr.contains("skipped 1 broken trace (clock skew"),
        "{stderr}"
    );
    assert!(stdout.contains("used 50 traces"), "{stdout}");
    assert!(stdout.contains("skipped 2"), "{stdout}");

    // Every trace broken: nothing to import.
    let only_broken = write_file(
        &dir,
        "broken.json",
        text.lines().last().unwrap_or("").as_bytes(),
    );
    let (code, _, stderr) = import_cli(&[only_broken.to_str().expect("path")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("broken.json") && stderr.contains("no usable trace"),
        "{stderr}"
    );

    // Not JSON: the file, line and column.
    let bad = write_file(
        &dir,
        "bad.json",
        b"{\"resourceSpans\": [\n  {\"resource\": }\n]}",
    );
    let (code, _, stderr) = import_cli(&[bad.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("bad.json:2:"), "{stderr}");

    // Mixed formats.
    let zipkin = write_file(&dir, "z.json", write_zipkin(&traces).as_bytes());
    let (code, _, stderr) = import_cli(&[
        partial.to_str().expect("path"),
        zipkin.to_str().expect("path"),
    ]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("mixed formats")
            && stderr.contains("z.json")
            && stderr.contains("partial.json"),
        "{stderr}"
    );

    // A format given that the content contradicts; not a trace file; a missing file.
    let (code, _, stderr) = import_cli(&["--format", "jaeger", zipkin.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--format jaeger"), "{stderr}");
    let toml = root().join("scenarios/blog.toml");
    let (code, _, stderr) = import_cli(&[toml.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not a trace file"), "{stderr}");
    let (code, _, stderr) = import_cli(&["/nonexistent/t.json"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read"), "{stderr}");
    // --replay needs -o.
    let (code, _, stderr) = import_cli(&["--replay", partial.to_str().expect("path")]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--replay"), "{stderr}");
}

/// Values a trace file holds that the scenario cannot take are refused naming the file and the
/// span (or the CSV row), in the trace's words: a time past what 64-bit nanoseconds hold (an
/// OTLP `endTimeUnixNano` of 2^64 - 1 read as "expected an integer", an Alibaba timestamp or rt
/// of 2^64 - 1 as a span that "ends before it starts", a Jaeger `startTime` of 2^64 - 1 as bad
/// JSON), a service or endpoint name past 255 bytes, a load past 10 million requests per second
/// and traces spanning more than 10,000 h (reported at a line of the generated scenario), bad
/// `--name` and `--workers`. Traces spanning 12 days take 2 s windows instead of being refused
/// for a million windows of 1 s.
#[test]
fn values_the_scenario_cannot_take_name_the_file_and_the_span_or_row() {
    let dir = temp_dir("traces-limits");
    let max = u64::MAX.to_string();
    let otlp = |service: &str, name: &str, end: &str| {
        serde_json::json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeSpans": [{"spans": [{"traceId": "01", "spanId": "01", "name": name, "kind": 2, "startTimeUnixNano": "1000", "endTimeUnixNano": end}]}]}]})
        .to_string()
    };
    let jaeger = |start: &str| {
        format!(
            "{{\"data\":[{{\"traceID\":\"abc\",\"spans\":[{{\"traceID\":\"abc\",\"spanID\":\"01\",\
             \"operationName\":\"GET /\",\"startTime\":{start},\"duration\":50,\"tags\":[{{\"key\":\
             \"span.kind\",\"type\":\"string\",\"value\":\"server\"}}],\"processID\":\"p1\"}}],\
             \"processes\":{{\"p1\":{{\"serviceName\":\"web\"}}}}}}]}}"
        )
    };
    let alibaba = |timestamp: &str, rt: &str| {
        format!(
            "timestamp,traceid,rpcid,um,rpctype,interface,dm,rt\n{timestamp},T1,0.1,USER,http,home,\
             web,{rt}\n100,T1,0.1,USER,http,home,web,-10\n"
        )
    };
    let dense: Vec<Value> = (0..30)
        .map(|i| serde_json::json!({"traceId": format!("{:032x}", i + 1), "spanId": format!("{:016x}", i + 1),
            "name": "GET /", "kind": 2, "startTimeUnixNano": (1000 + i).to_string(), "endTimeUnixNano": "2000000"}))
        .collect();
    let dense = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
        "scopeSpans": [{"spans": dense}]}]})
    .to_string();
    let long = "s".repeat(300);
    // Two traces 12 days apart (the scenario then takes 2 s windows), or 500 days apart.
    let apart = |days: u64| {
        let spans: Vec<Value> = [1_000, days * 86_400_000_000_000]
            .iter()
            .enumerate()
            .map(|(i, start)| serde_json::json!({"traceId": format!("{:032x}", i + 1), "spanId": format!("{:016x}", i + 1),
                "name": "GET /", "kind": 2, "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 2_000_000).to_string()}))
            .collect();
        serde_json::json!({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeSpans": [{"spans": spans}]}]})
        .to_string()
    };
    let cases = [
        (
            "end.json",
            otlp("web", "GET /", &max),
            format!(
                "end.json: no usable trace: 1 broken, e.g. span \"GET /\": its end \
                 (endTimeUnixNano {max}) is out of range: past what 64-bit nanoseconds hold"
            ),
        ),
        (
            "start.json",
            jaeger(&max),
            format!(
                "start.json: no usable trace: 1 broken, e.g. span \"GET /\": its start ({max} µs) \
                 or duration (50 µs) is past what 64-bit nanoseconds hold"
            ),
        ),
        (
            "timestamp.csv",
            alibaba(&max, "12"),
            "timestamp.csv: no usable trace: 1 broken, e.g. line 2, column 1 (rpcid 0.1, USER -> \
             web): its timestamp is past what 64-bit nanoseconds hold"
                .to_string(),
        ),
        (
            "rt.csv",
            alibaba("100", &max),
            "rt.csv: no usable trace: 1 broken, e.g. line 2, column 8 (rpcid 0.1, USER -> web): \
             its rt is past what 64-bit nanoseconds hold"
                .to_string(),
        ),
        (
            "service.json",
            otlp(&long, "GET /", "2000000"),
            format!(
                "service.json: span 0000000000000001 (\"GET /\") gives service name \"{}...\", \
                 which is 300 bytes long: a scenario's names are at most 255 bytes",
                &long[..40]
            ),
        ),
        (
            "endpoint.json",
            otlp("web", &long, "2000000"),
            format!(
                "endpoint.json: span 0000000000000001 (\"{0}...\") gives endpoint name \
                 \"{0}...\", which is 300 bytes long",
                &long[..40]
            ),
        ),
        (
            "dense.json",
            dense,
            "dense.json: 30 traces enter web/GET _ within 29ns: 1000000000 requests per second, \
             more than meshsim's limit of 10000000 per workload"
                .to_string(),
        ),
        (
            "year.json",
            apart(500),
            "year.json: the traces span 12000.0 h (their first arrival to their last): a \
             scenario's duration is too long: at most 10000h"
                .to_string(),
        ),
    ];
    for (name, text, wanted) in &cases {
        let path = write_file(&dir, name, text.as_bytes());
        let (code, stdout, stderr) = import_cli(&[path.to_str().expect("path")]);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert!(stdout.is_empty(), "{name}");
        assert!(!stderr.contains("(imported traces)"), "{name}: {stderr}");
        let wanted = format!("error: {}", dir.join(wanted).display());
        assert!(
            stderr.contains(&wanted),
            "{name}: {wanted}\nnot in:\n{stderr}"
        );
    }
    // Twelve days of traces in 1 s windows would be more windows than a run may have: the
    // scenario gets longer ones (it was refused at a line of the generated text).
    let days = write_file(&dir, "days.json", apart(12).as_bytes());
    let (code, stdout, stderr) = import_cli(&[days.to_str().expect("path")]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\nwindow = \"2s\""), "{stdout}");
    let good = write_file(
        &dir,
        "good.json",
        otlp("web", "GET /", "2000000").as_bytes(),
    );
    let good = good.to_str().expect("path");
    for (args, wanted) in [
        (
            ["--name", "a#b"],
            "error: --name: scenario name \"a#b\" must not contain",
        ),
        (
            ["--workers", "2000000"],
            "error: --workers: must be at most 1000000 per replica",
        ),
    ] {
        let (code, stdout, stderr) = import_cli(&[args[0], args[1], good]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.contains(wanted), "{wanted}\nnot in:\n{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A trace file that starts with a UTF-8 byte-order mark (as some Windows tools write them)
/// imports exactly as the same file without one, in every format; JSON files with one were
/// refused (`bom.json:1:1: not OTLP/JSON: expected value`).
#[test]
fn a_trace_file_with_a_byte_order_mark_imports_as_without_one() {
    let dir = temp_dir("traces-bom");
    let (traces, _) = generate(1.0, 20, 8);
    for (extension, text) in [
        ("json", write_otlp(&traces, 0)),
        ("json", write_jaeger(&traces)),
        ("json", write_zipkin(&traces)),
        ("csv", write_alibaba(&traces)),
    ] {
        let mut printed = Vec::new();
        for (folder, bom) in [("plain", &b""[..]), ("bom", &b"\xEF\xBB\xBF"[..])] {
            let folder = dir.join(folder);
            std::fs::create_dir_all(&folder).expect("folder");
            let path = write_file(
                &folder,
                &format!("t.{extension}"),
                &[bom, text.as_bytes()].concat(),
            );
            let (code, stdout, stderr) = import_cli(&[path.to_str().expect("path")]);
            assert_eq!(code, Some(0), "{extension} {bom:?}: {stderr}");
            printed.push(stdout.replace(&folder.display().to_string(), "DIR"));
        }
        assert_eq!(printed[0], printed[1], "{extension}");
        assert!(printed[0].contains("[[service]]"), "{}", printed[0]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_writes_the_arrivals_beside_the_scenario() {
    let dir = temp_dir("traces-replay");
    let (traces, _) = generate(1.0, 400, 21);
    let file = write_file(&dir, "known.json", write_otlp(&traces, 0).as_bytes());
    let out = dir.join("out");
    let (code, _, stderr) = import_cli(&[
        "--replay",
        "-o",
        out.to_str().expect("path"),
        file.to_str().expect("path"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let csv = std::fs::read_to_string(out.join("known-arrivals.csv")).expect("arrivals");
    assert_eq!(csv.lines().count(), 401, "a header and one row per trace");
    let model = scenario::load_file(&out.join("known.toml"), &[]).expect("scenario");
    let result = common::run(&model);
    // Every arrival is replayed (the run lasts until the last one).
    let outcomes: u64 = result.offered;
    assert_eq!(outcomes, 400);
}

// ----- files from public projects ---------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/traces").join(name)
}

/// The steps of `endpoint` ("svc/name") as lists of "svc/name (p)".
fn steps_of(model: &Model, endpoint: &str) -> Vec<Vec<String>> {
    let e = (0..model.endpoints.len())
        .find(|&e| endpoint_name(model, e) == endpoint)
        .unwrap_or_else(|| panic!("no endpoint {endpoint}"));
    model.endpoints[e]
        .steps
        .iter()
        .map(|step| {
            step.calls
                .iter()
                .map(|c| format!("{} ({})", endpoint_name(model, c.target), c.probability))
                .collect()
        })
        .collect()
}

fn mean_ms(model: &Model, endpoint: &str) -> f64 {
    let e = (0..model.endpoints.len())
        .find(|&e| endpoint_name(model, e) == endpoint)
        .unwrap_or_else(|| panic!("no endpoint {endpoint}"));
    model.endpoints[e].service_time.mean() / 1e6
}

#[test]
fn zipkin_sample_with_an_uninstrumented_database_imports() {
    // One SERVER span (bootifulmeters "http:/book", 252016 us) with four CLIENT calls to
    // app_db, which never reports: "call" (6051 us), then three "insert"s one after another.
    let (text, model) = import_and_load(
        &[fixture("zipkin-simple-db-p6.json")],
        &ImportOptions::default(),
        &[],
    );
    let services: BTreeSet<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["app_db", "bootifulmeters"]),
        "{text}"
    );
    assert_eq!(
        steps_of(&model, "bootifulmeters/http:_book"),
        vec![
            vec!["app_db/call (1)".to_string()],
            vec!["app_db/insert (1)".to_string()],
            vec!["app_db/insert (1)".to_string()],
            vec!["app_db/insert (1)".to_string()],
        ]
    );
    // Own work: the span less its calls; the database's work: its callers' client spans (no
    // client/server pair, so no network latency to take off).
    let own = (252_016 - 6_051 - 2_414 - 2_033 - 1_118) as f64 / 1e3;
    assert!((mean_ms(&model, "bootifulmeters/http:_book") - own).abs() < 1e-6);
    assert!((mean_ms(&model, "app_db/call") - 6.051).abs() < 1e-6);
    let inserts = (2_414.0 + 2_033.0 + 1_118.0) / 3.0 / 1e3;
    assert!(
        (mean_ms(&model, "app_db/insert") - inserts).abs() < 0.2,
        "{text}"
    );
}

#[test]
fn zipkin_sample_with_a_shared_span_and_clock_skew_imports() {
    // servicea "get" (99411 us) calls serviceb "post": CLIENT 94539 us, and the SERVER half
    // shares its id (93577 us, its clock 62 ms behind); serviceb's "async" local span is work
    // inside "post".
    let (text, model) = import_and_load(
        &[fixture("zipkin-skew.json")],
        &ImportOptions::default(),
        &[],
    );
    assert_eq!(
        steps_of(&model, "servicea/get"),
        vec![vec!["serviceb/post (1)".to_string()]],
        "{text}"
    );
    assert!((mean_ms(&model, "servicea/get") - (99_411.0 - 94_539.0) / 1e3).abs() < 1e-6);
    assert!((mean_ms(&model, "serviceb/post") - 93.577).abs() < 1e-6);
    assert!((model.network.latency.mean() / 1e3 - (94_539.0 - 93_577.0) / 2.0).abs() < 1e-6);
    assert_eq!(
        model.network.edge_latency.mean(),
        0.0,
        "a root server span: no hop before it"
    );
}

#[test]
fn jaeger_ui_test_trace_imports() {
    // service1 "op1" (server) makes: "op2" (a client span in error) and its retry "op2" after
    // it, to a service that never reports; "op3", whose server half is service2 "op1", during
    // the first; then "op4", a producer whose consumer is service2 "op3" (FOLLOWS_FROM, longer
    // than its producer: asynchronous, not skew). Spans without a kind inside a service are
    // work, not calls.
    let (text, model) = import_and_load(
        &[fixture("jaeger-ui-testTrace.json")],
        &ImportOptions::default(),
        &[],
    );
    let services: BTreeSet<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        services,
        BTreeSet::from(["op2", "service1", "service2"]),
        "{text}"
    );
    assert_eq!(
        steps_of(&model, "service1/op1"),
        vec![
            vec!["op2/op2 (1)".to_string(), "service2/op1 (1)".to_string()],
            vec!["service2/op3 (1)".to_string()],
        ],
        "{text}"
    );
    assert!(text.contains("# 1 retries seen"), "{text}");
    assert!((mean_ms(&model, "service2/op1") - 20.0).abs() < 1e-6);
}

#[test]
fn otel_proto_example_is_refused_with_its_missing_parent() {
    // The specification's example is one server span whose parent is not in the file.
    let path = fixture("otel-proto-trace.json");
    let (code, _, stderr) = import_cli(&[path.to_str().expect("path")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("otel-proto-trace.json"), "{stderr}");
    assert!(
        stderr.contains("its parent eee19b7ec3c1b173 never appears"),
        "{stderr}"
    );
    assert!(stderr.contains("I'm a server span"), "{stderr}");
}

// ----- speed ------------------------------------------------------------------------------------

/// Writes about a million spans of the known system as OTLP/JSON lines to the file named by
/// `MESHSIM_TRACES_BENCH` (for `docs/traces.md`'s measurement; ignored by default).
#[test]
#[ignore]
fn write_a_million_spans() {
    let path =
        std::env::var("MESHSIM_TRACES_BENCH").unwrap_or_else(|_| "million-spans.json".into());
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut spans = 0usize;
    let mut seed = 100;
    while spans < 1_000_000 {
        let (traces, _) = generate(1.0, 1_000, seed);
        let text = write_otlp(&traces, (seed as usize - 100) * 1_000);
        seed += 1;
        spans += traces.iter().map(Vec::len).sum::<usize>();
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write");
    }
    eprintln!("{spans} spans in {path}");
}
