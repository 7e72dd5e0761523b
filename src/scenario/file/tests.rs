//! The types in `file.rs` against the readers: every key declared is read, every key read is
//! declared (the debug assertion in `Fields::entry`), the schema lists what serde accepts, and
//! the enums of allowed values agree with the readers' lists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::*;
use crate::scenario::fields::read_keys;
use crate::scenario::load_str;
use crate::scenario::raw::{self, Node, Value};

/// A scenario using every key the simulator supports today (with [`CONSUL_KEYS`]; keys it does not
/// support yet are in [`EVERY_PLANNED_KEY`]). Adding a key to `file.rs` means adding it to one of
/// them.
const EVERY_SUPPORTED_KEY: &str = r#"
[scenario]
name = "every-key"
seed = 7
duration = "10s"
warmup = "1s"
window = "500ms"

[network]
latency = "const(0.1ms)"
cross_zone_latency = "exp(1ms)"
edge_latency = "quantiles(0=0.1ms, 0.5=0.2ms, 1=1ms)"

[registry]
model = "eureka"
heartbeat = "30s"
ttl = "90s"
eviction_interval = "60s"
client_refresh = "30s"
response_cache = "30s"
self_preservation = 0.85

[policy]
balancer = "p2c"
max_requests = 100
max_connections = 50
max_pending = 10
hedge = { after = "50ms", max = 1 }
timeout = "2s"
retries = { max = 2, per_try_timeout = "300ms", backoff = "25ms", max_backoff = "250ms", jitter = "equal", on = ["timeout", "refused"], budget = 0.2 }
circuit_breaker = { failure_rate = 0.5, slow_call_rate = 0.9, slow_call_duration = "1s", window = 50, min_calls = 10, open_for = "5s", half_open_calls = 3 }
outlier_detection = { enforcing = 1.0, consecutive_errors = 5, interval = "10s", base_ejection = "30s", max_ejection_time = "300s", max_ejection = 0.1 }
health_check = { interval = "5s", timeout = "1s", unhealthy = 3, healthy = 2 }
deadline_propagation = true
zone_aware = { min_cluster_size = 6 }

[[service]]
name = "front"
replicas = 2
zones = ["a", "b"]
workers = 8
concurrency = "async"
queue = 100
service_time = "exp(1ms)"
calls = ["back", ["back/two", { to = "back/one", p = 0.5, optional = true }]]
weights = [2, 1]
rate_limit = { rate = 1000, burst = 10 }
max_queue_time = "50ms"
error_rate = 0.001
  [service.policy]
  balancer = "weighted_round_robin"
  circuit_breaker = { window = "10s" }

[[service]]
name = "back"
service_time = "exp(2ms)"
  [[service.endpoint]]
  name = "one"
  service_time = "exp(1ms)"
  calls = []
  [[service.endpoint]]
  name = "two"
  [service.autoscale]
  min = 1
  max = 4
  target_utilization = 0.6
  sync = "15s"
  startup = "30s"
  scale_down_stabilization = "5m"
  tolerance = 0.1

[[service]]
name = "pages"
replicas = 2
service_time = "exp(1ms)"
  [[service.version]]
  name = "v1"
  [[service.version]]
  name = "v2"
  replicas = 1
  service_time = "exp(2ms)"
  error_rate = 0.05
  [service.traffic]
  weights = { v1 = 99, v2 = 1 }
  steps = [{ at = "4s", weights = { v1 = 90, v2 = 10 } }]
  analysis = { version = "v2", interval = "2s", max_error_rate = 0.01, max_latency_p99 = "200ms", min_requests = 5, failures = 2, start = "3s" }

[[deployment]]
service = "pages"
at = "2s"
to = "v2"
max_surge = 1
max_unavailable = "25%"
readiness_delay = "1s"
pre_stop = "1s"
termination_grace = "30s"

[[change]]
at = "5s"
set = { "policy.timeout" = "1s", "service.pages.policy.retries.max" = 3 }
propagation = "1s"

[[workload]]
name = "pages"
target = "pages"
rate = 5

[[workload]]
name = "open"
target = "front"
arrival = "poisson"
rate = 10
schedule = [{ at = "5s", rate = 20, ramp = "1s" }]
zone = "a"
key_space = 100

[[workload]]
name = "closed"
target = "back/one"
arrival = "closed"
users = 2
think_time = "exp(10ms)"

[[workload]]
name = "replay"
target = "front"
arrival = "trace"
trace = "every-key-trace.csv"

[[fault]]
at = "2s"
for = "1s"
kind = "slow"
target = "back#0"
factor = 2

[[fault]]
at = "2s"
kind = "errors"
target = "back"
rate = 0.1

[[fault]]
at = "3s"
kind = "latency"
target = "front#0..1"
add = "1ms"

[[fault]]
at = "4s"
kind = "partition"
between = ["zone:a", ["zone:b"]]

[[fault]]
at = "5s"
kind = "registry_outage"

[slo]
availability = 0.99
latency = { p50 = "10ms", p90 = "20ms", p99 = "50ms", p999 = "100ms" }

[compare]
"policy.balancer" = ["p2c", "round_robin"]
replications = 2
"#;

/// The keys of the consul registry model, which cannot share a file with eureka's.
const CONSUL_KEYS: &str = r#"
[scenario]
name = "consul"
duration = "10s"

[registry]
model = "consul"
check_interval = "10s"
check_timeout = "1s"
deregister_after = "1m"
client_refresh = "0s"

[[service]]
name = "s"
service_time = "exp(1ms)"

[[workload]]
target = "s"
rate = 1
"#;

/// A scenario using every key that is declared but not supported yet: each must be refused with
/// "not supported yet", never ignored. When a mechanism is built, move its keys to
/// [`EVERY_SUPPORTED_KEY`].
const EVERY_PLANNED_KEY: &str = r#"
[scenario]
name = "planned"
duration = "10s"

[[service]]
name = "s"
service_time = "exp(1ms)"

[[workload]]
target = "s"
rate = 1
"#;

/// A folder holding the trace file [`EVERY_SUPPORTED_KEY`] names.
fn fixture_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshsim-file-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("every-key-trace.csv"), "time\n1s\n2.5\n").expect("trace");
    dir
}

fn schema_definitions() -> serde_json::Map<String, Json> {
    let schema = schema();
    let mut definitions = schema["definitions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    definitions.insert(ScenarioFile::schema_name().into_owned(), schema);
    definitions
}

fn properties(definition: &Json) -> BTreeSet<String> {
    definition["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_schema_lists_exactly_the_keys_serde_accepts() {
    let definitions = schema_definitions();
    macro_rules! same_keys {
        ($($t:ty),* $(,)?) => {$(
            let name = <$t as JsonSchema>::schema_name();
            let from_schema = properties(&definitions[name.as_ref()]);
            let from_serde: BTreeSet<String> =
                keys_of::<$t>().iter().map(|k| k.to_string()).collect();
            assert!(!from_serde.is_empty(), "{name} has no keys");
            assert_eq!(from_schema, from_serde, "{name}");
        )*};
    }
    same_keys!(
        ScenarioFile,
        ScenarioHeader,
        NetworkTable,
        RegistryTable,
        PolicyTable,
        RetriesTable,
        CircuitBreakerTable,
        OutlierDetectionTable,
        HealthCheckTable,
        HedgeTable,
        ZoneAwareTable,
        ServiceTable,
        EndpointTable,
        CallTable,
        RateLimitTable,
        AutoscaleTable,
        WorkloadTable,
        ScheduleEntry,
        FaultTable,
        SloTable,
        LatencyTargets,
    );
}

/// Every key written in `node`, by position (the free-form keys of `[compare]` excepted).
fn key_positions(node: &Node, top: bool, out: &mut Vec<(usize, String)>) {
    match &node.value {
        Value::Table(entries) => {
            for entry in entries {
                out.push((entry.key_span.start, entry.key.clone()));
                if !(top && entry.key == "compare") {
                    key_positions(&entry.node, false, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| key_positions(i, false, out)),
        _ => {}
    }
}

#[test]
fn every_supported_key_loads_and_is_read_by_its_reader() {
    let dir = fixture_dir();
    for text in [EVERY_SUPPORTED_KEY, CONSUL_KEYS] {
        read_keys::take();
        let model = load_str(text, "every-key.toml", &dir, &[]);
        let read: BTreeSet<usize> = read_keys::take().into_iter().collect();
        if let Err(errors) = model {
            panic!("a fixture does not load:\n{errors}");
        }
        let root = raw::parse(text).ok().expect("parses");
        let mut written = Vec::new();
        key_positions(&root, true, &mut written);
        let ignored: Vec<&String> = written
            .iter()
            .filter(|(offset, _)| !read.contains(offset))
            .map(|(_, key)| key)
            .collect();
        assert!(
            ignored.is_empty(),
            "keys accepted (declared in file.rs) but never read by a reader: {ignored:?}"
        );
    }
}

#[test]
fn no_key_is_planned_now_so_the_planned_fixture_loads() {
    // Every declared key is built: the planned fixture holds only the minimal scenario around
    // where planned keys would go, and it must load. (That a planned value is refused with
    // PLANNED is checked on the mechanism itself in `fields.rs`.) When a key becomes planned
    // again, put it here and assert its error contains PLANNED.
    if let Err(errors) = load_str(EVERY_PLANNED_KEY, "planned.toml", Path::new("."), &[]) {
        panic!("the planned fixture does not load:\n{errors}");
    }
    assert!(!EVERY_PLANNED_KEY.contains("planned:"));
}

/// Marks the (definition, key) pairs `value` uses, walking it along `schema`.
fn mark_used(
    value: &Json,
    schema: &Json,
    definitions: &serde_json::Map<String, Json>,
    used: &mut BTreeSet<(String, String)>,
) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or_default();
        if let Some(Json::Object(props)) = definitions[name].get("properties") {
            if let Json::Object(table) = value {
                for (key, inner) in table {
                    if let Some(sub) = props.get(key) {
                        used.insert((name.to_string(), key.clone()));
                        mark_used(inner, sub, definitions, used);
                    }
                }
            }
        }
        return mark_used(value, &definitions[name], definitions, used);
    }
    for alternatives in ["anyOf", "oneOf", "allOf"] {
        if let Some(Json::Array(options)) = schema.get(alternatives) {
            for option in options {
                mark_used(value, option, definitions, used);
            }
        }
    }
    if let (Json::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for item in items {
            mark_used(item, item_schema, definitions, used);
        }
    }
}

#[test]
fn the_two_fixtures_use_every_key_of_the_schema() {
    let definitions = schema_definitions();
    let mut root = schema();
    root["$ref"] = Json::String(format!("#/definitions/{}", ScenarioFile::schema_name()));
    let mut used = BTreeSet::new();
    for text in [EVERY_SUPPORTED_KEY, CONSUL_KEYS, EVERY_PLANNED_KEY] {
        let value: Json = toml::from_str(text).expect("fixture is TOML");
        mark_used(&value, &root, &definitions, &mut used);
        // The types accept the fixture too.
        let file: Result<ScenarioFile, _> = toml::from_str(text);
        assert!(file.is_ok(), "{:?}", file.err());
    }
    let mut missing = Vec::new();
    for (name, definition) in &definitions {
        for key in properties(definition) {
            if !used.contains(&(name.clone(), key.clone())) {
                missing.push(format!("{name}.{key}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys no fixture uses (add them to EVERY_SUPPORTED_KEY, CONSUL_KEYS or EVERY_PLANNED_KEY): \
         {missing:?}"
    );
}

/// The names a schema definition of string values allows.
fn enum_values(definition: &Json) -> BTreeSet<String> {
    let mut values: BTreeSet<String> = definition["oneOf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["const"].as_str().map(str::to_string))
        .collect();
    if let Some(list) = definition["enum"].as_array() {
        values.extend(list.iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    values
}

const CHOICE_BASE: &str = "[scenario]\nname = \"choices\"\nduration = \"10s\"\n";

/// A small scenario with `snippet` (its `@` replaced by `value`), plus a service and a workload
/// unless the snippet has them.
fn choice_document(snippet: &str, value: &str) -> String {
    let mut text = format!("{CHOICE_BASE}{}\n", snippet.replace('@', value));
    if !snippet.contains("[[service]]") {
        text.push_str("[[service]]\nname = \"s\"\n");
    }
    if !snippet.contains("[[workload]]") {
        text.push_str("[[workload]]\ntarget = \"s\"\nrate = 1\n");
    }
    text
}

#[test]
fn the_readers_accept_exactly_the_schema_s_values() {
    let definitions = schema_definitions();
    // (definition, a snippet with `@` where the value goes)
    let choices: [(&str, &str); 7] = [
        ("Balancer", "[policy]\nbalancer = \"@\""),
        ("RegistryModel", "[registry]\nmodel = \"@\""),
        ("Jitter", "[policy]\nretries = { jitter = \"@\" }"),
        ("RetryOn", "[policy]\nretries = { on = [\"@\"] }"),
        (
            "Concurrency",
            "[[service]]\nname = \"s\"\nconcurrency = \"@\"",
        ),
        (
            "ArrivalKind",
            "[[workload]]\ntarget = \"s\"\narrival = \"@\"",
        ),
        ("FaultKind", "[[fault]]\nat = \"1s\"\nkind = \"@\""),
    ];
    for (name, snippet) in choices {
        let allowed = enum_values(&definitions[name]);
        assert!(!allowed.is_empty(), "{name} has no values");
        let document = |value: &str| choice_document(snippet, value);
        // Every value the schema allows is known to the reader (accepted, or refused as
        // not supported yet).
        for value in &allowed {
            if let Err(errors) = load_str(&document(value), "c.toml", Path::new("."), &[]) {
                for error in &errors.0 {
                    assert!(
                        !error.message.contains("unknown"),
                        "{name} \"{value}\" is in the schema but unknown to the reader: {error}"
                    );
                }
            }
        }
        // Every value the reader lists is in the schema.
        let errors =
            load_str(&document("zzz"), "c.toml", Path::new("."), &[]).expect_err("zzz is no value");
        let message = &errors
            .0
            .iter()
            .find(|e| e.message.contains("\"zzz\""))
            .unwrap_or_else(|| panic!("{name}: no error names zzz: {errors}"))
            .message;
        let listed = message
            .split("expected one of ")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: {message}"));
        let listed = listed.split(';').next().unwrap_or(listed);
        for value in listed.split(", ") {
            assert!(
                allowed.contains(value.trim()),
                "{name}: the reader allows \"{value}\", the schema does not ({allowed:?})"
            );
        }
    }
}
