//! Tests of the whole module: one per error class (message and position), the spec's example,
//! overrides, and reporting several problems at once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::line_column;
use super::*;
use crate::model::{
    Arrival, BalancerKind, Concurrency, Dist, FaultKind, Jitter, RateChange, RegistryModel,
    ReplicaRef,
};

const LABEL: &str = "test.toml";

/// A small valid scenario the tests edit.
const BASE: &str = r#"[scenario]
name = "t"
duration = "10s"

[[service]]
name = "front"
workers = 8
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
replicas = 2
service_time = "const(1ms)"

[[workload]]
target = "front"
rate = 10
"#;

/// The spec's example with the governance keys removed (registry model, retry budget, circuit
/// breaker, outlier detection, health check, hedge, autoscale) and the services it calls added.
const SPEC_EXAMPLE: &str = r#"[scenario]
name = "blog"            # used for the default output folder reports/<name>/
seed = 42                # same seed + same file = byte-identical outputs
duration = "120s"        # load is offered during [0, duration)
warmup = "10s"           # requests arriving before warmup are not measured

[network]
latency = "const(0.25ms)"                       # one-way, same zone
cross_zone_latency = "lognormal(median=1ms, p99=4ms)"

[registry]
model = "oracle"         # oracle | static | eureka | consul

[policy]                 # defaults for every call; a service's [service.policy] overrides for calls TO it
balancer = "round_robin" # random | round_robin | weighted_round_robin | least_request | p2c | peak_ewma | ring_hash | maglev
timeout = "1s"           # whole call, all tries
retries = { max = 2, per_try_timeout = "300ms", backoff = "25ms", max_backoff = "250ms", jitter = "full", on = ["timeout", "refused", "error", "rejected"] }
deadline_propagation = false

[[service]]
name = "gateway"
replicas = 2
zones = ["a", "b"]        # replicas are spread round-robin over zones
workers = 256             # concurrent requests one replica serves
concurrency = "threads"   # threads: a worker is held for the whole request, downstream calls included
                          # async: a worker is held only while computing; waiting on calls holds none
queue = 1000              # FIFO waiting room per replica; full = the request is rejected at once; omit for unbounded
service_time = "exp(0.2ms)"   # compute before the calls
calls = ["user/auth", ["article/view", { to = "comment/list", p = 0.5 }]]

[[service]]
name = "article"
replicas = 3
workers = 32
service_time = "lognormal(median=2ms, p99=20ms)"
  [[service.endpoint]]     # optional; a service without endpoints has one, named "default"
  name = "view"
  service_time = "exp(2ms)"
  calls = ["user/get"]

[[service]]
name = "user"
service_time = "exp(0.5ms)"
  [[service.endpoint]]
  name = "auth"
  [[service.endpoint]]
  name = "get"

[[service]]
name = "comment"
concurrency = "async"
service_time = "exp(1ms)"
  [[service.endpoint]]
  name = "list"
  [service.policy]
  balancer = "p2c"
  retries = { max = 3 }

[[workload]]
name = "readers"
target = "gateway"         # entry endpoint, "service" or "service/endpoint"
arrival = "poisson"        # poisson | constant | closed (with users and think_time)
rate = 900                 # requests per second from t = 0
schedule = [ { at = "60s", rate = 3000, ramp = "10s" }, { at = "90s", rate = 900 } ]

[[fault]]
at = "30s"
for = "60s"               # omit: until the end
kind = "crash"            # crash | hang | slow | errors | latency | partition | registry_outage
target = "article#0"      # "svc#i" one replica, "svc#0..2" a range, "svc" all, "zone:a" a zone

[slo]
availability = 0.999
latency = { p99 = "200ms" }

[compare]                 # what `meshsim compare` varies when no --vary is given
"policy.balancer" = ["round_robin", "least_request", "p2c", "peak_ewma"]
replications = 5
"#;

/// The spec's example exactly as written (it uses governance features and calls services it does
/// not define).
const SPEC_VERBATIM: &str = r#"[scenario]
name = "blog"            # used for the default output folder reports/<name>/
seed = 42                # same seed + same file = byte-identical outputs
duration = "120s"        # load is offered during [0, duration)
warmup = "10s"           # requests arriving before warmup are not measured

[network]
latency = "const(0.25ms)"                       # one-way, same zone
cross_zone_latency = "lognormal(median=1ms, p99=4ms)"

[registry]
model = "eureka"         # oracle | static | eureka | consul
# eureka defaults: heartbeat = "30s", ttl = "90s", eviction_interval = "60s",
#                  client_refresh = "30s", self_preservation = 0.85
# consul defaults: check_interval = "10s", deregister_after = "1m", client_refresh = "0s" (blocking queries)

[policy]                 # defaults for every call; a service's [service.policy] overrides for calls TO it
balancer = "round_robin" # random | round_robin | weighted_round_robin | least_request | p2c | peak_ewma | ring_hash | maglev
timeout = "1s"           # whole call, all tries
retries = { max = 2, per_try_timeout = "300ms", backoff = "25ms", max_backoff = "250ms", jitter = "full", budget = 0.2, on = ["timeout", "refused", "error", "rejected"] }
circuit_breaker = { failure_rate = 0.5, window = "10s", min_calls = 20, open_for = "5s", half_open_calls = 3 }
outlier_detection = { consecutive_errors = 5, interval = "10s", base_ejection = "30s", max_ejection = 0.1 }
health_check = { interval = "5s", timeout = "1s", unhealthy = 3, healthy = 2 }
hedge = { after = "50ms", max = 1 }
deadline_propagation = false

[[service]]
name = "gateway"
replicas = 2
zones = ["a", "b"]        # replicas are spread round-robin over zones
workers = 256             # concurrent requests one replica serves
concurrency = "threads"   # threads: a worker is held for the whole request, downstream calls included
                          # async: a worker is held only while computing; waiting on calls holds none
queue = 1000              # FIFO waiting room per replica; full = the request is rejected at once; omit for unbounded
service_time = "exp(0.2ms)"   # compute before the calls
calls = ["user/auth", ["article/view", { to = "comment/list", p = 0.5 }]]
# calls is a list of steps run in order; a step is one call ("service" or "service/endpoint",
# or a table with to, p (probability), optional = true (failure is tolerated)), or a list of calls run in parallel.

[[service]]
name = "article"
replicas = 3
workers = 32
service_time = "lognormal(median=2ms, p99=20ms)"
  [[service.endpoint]]     # optional; a service without endpoints has one, named "default"
  name = "view"
  service_time = "exp(2ms)"
  calls = ["user/get"]
  [service.autoscale]
  min = 2
  max = 20
  target_utilization = 0.6
  sync = "15s"
  startup = "30s"
  scale_down_stabilization = "5m"

[[workload]]
name = "readers"
target = "gateway"         # entry endpoint, "service" or "service/endpoint"
arrival = "poisson"        # poisson | constant | closed (with users and think_time)
rate = 900                 # requests per second from t = 0
schedule = [ { at = "60s", rate = 3000, ramp = "10s" }, { at = "90s", rate = 900 } ]

[[fault]]
at = "30s"
for = "60s"               # omit: until the end
kind = "crash"            # crash | hang | slow | errors | latency | partition | registry_outage
target = "article#0"      # "svc#i" one replica, "svc#0..2" a range, "svc" all, "zone:a" a zone
# slow: factor = 10        errors: rate = 0.5        latency: add = "100ms"
# partition: between = ["zone:a", "zone:b"]

[slo]
availability = 0.999
latency = { p99 = "200ms" }

[compare]                 # what `meshsim compare` varies when no --vary is given
"policy.balancer" = ["round_robin", "least_request", "p2c", "peak_ewma"]
replications = 5
"#;

/// The governance part of the spec's example, each piece of which must be refused.
const GOVERNANCE: &str = r#"
[registry]
model = "eureka"

[policy]
retries = { max = 2, budget = 0.2 }
circuit_breaker = { failure_rate = 0.5, window = "10s", min_calls = 20, open_for = "5s", half_open_calls = 3 }
outlier_detection = { consecutive_errors = 5, interval = "10s", base_ejection = "30s", max_ejection = 0.1 }
health_check = { interval = "5s", timeout = "1s", unhealthy = 3, healthy = 2 }
hedge = { after = "50ms", max = 1 }
balancer = "peak_ewma"
"#;

fn load(text: &str) -> Result<Model, ScenarioErrors> {
    load_str(text, LABEL, Path::new("."), &[])
}

fn errors(text: &str) -> Vec<ScenarioError> {
    match load(text) {
        Ok(_) => panic!("expected errors, the scenario was accepted:\n{text}"),
        Err(ScenarioErrors(errors)) => errors,
    }
}

/// The only error of `text`, checked to contain `needle`.
fn only_error(text: &str, needle: &str) -> ScenarioError {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    let error = errors.into_iter().next().expect("one error");
    assert!(
        error.message.contains(needle),
        "{:?} does not contain {needle:?}",
        error.message
    );
    assert_eq!(error.file, LABEL);
    error
}

/// Line and column of the first occurrence of `needle` in `text`, plus `shift` characters.
fn position(text: &str, needle: &str, shift: usize) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let (line, column) = line_column(text, offset);
    (line, column + shift)
}

fn at(error: &ScenarioError) -> (usize, usize) {
    (error.line, error.column)
}

/// A fresh path in the temp folder.
fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "meshsim-scenario-{}-{n}-{name}",
        std::process::id()
    ))
}

#[test]
fn base_scenario_is_valid_with_defaults() {
    let model = load(BASE).expect("valid");
    assert_eq!(model.seed, 1);
    assert_eq!(model.duration, 10_000_000_000);
    assert_eq!(model.warmup, 0);
    assert_eq!(model.window, 1_000_000_000);
    assert_eq!(model.zones, vec!["default".to_string()]);
    assert_eq!(model.registry, RegistryModel::Oracle);
    assert_eq!(model.network.latency, Dist::Const(0.0));
    let back = &model.services[1];
    assert_eq!(
        (back.replicas, back.workers, back.queue_capacity),
        (2, 1, None)
    );
    assert_eq!(back.replica_weights, vec![1, 1]);
    assert_eq!(back.policy, crate::model::CallPolicy::default());
    assert_eq!(model.endpoints.len(), 2);
    assert_eq!(model.endpoints[0].name, "default");
    assert_eq!(model.endpoints[0].steps[0].calls[0].target, 1);
    assert_eq!(model.workloads[0].name, "workload-1");
    assert!(matches!(model.workloads[0].arrival, Arrival::Poisson));
}

#[test]
fn spec_example_without_governance_builds_the_expected_model() {
    let model = load(SPEC_EXAMPLE).unwrap_or_else(|e| panic!("spec example rejected:\n{e}"));
    assert_eq!((model.name.as_str(), model.seed), ("blog", 42));
    assert_eq!(model.duration, 120_000_000_000);
    assert_eq!(model.warmup, 10_000_000_000);
    assert_eq!(model.zones, vec!["a", "b", "default"]);
    assert_eq!(model.network.latency, Dist::Const(250_000.0));
    assert_eq!(
        model.network.cross_zone_latency,
        Dist::lognormal_from_median_p99(1e6, 4e6)
    );

    let names: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["gateway", "article", "user", "comment"]);
    assert_eq!(model.endpoints.len(), 5);
    let label = |id| model.endpoint_label(id);
    let all: Vec<String> = (0..model.endpoints.len()).map(label).collect();
    assert_eq!(
        all,
        vec![
            "gateway/default",
            "article/view",
            "user/auth",
            "user/get",
            "comment/list"
        ]
    );

    let gateway = &model.services[0];
    assert_eq!(gateway.replica_zones, vec![0, 1]);
    assert_eq!((gateway.workers, gateway.queue_capacity), (256, Some(1000)));
    assert_eq!(gateway.concurrency, Concurrency::Threads);
    assert_eq!(model.services[3].concurrency, Concurrency::Async);
    assert_eq!(model.services[1].replica_zones, vec![2, 2, 2]);

    let entry = &model.endpoints[gateway.endpoints[0]];
    assert_eq!(entry.service_time, Dist::Exp { mean: 200_000.0 });
    assert_eq!(entry.steps.len(), 2);
    assert_eq!(entry.steps[0].calls.len(), 1);
    assert_eq!(label(entry.steps[0].calls[0].target), "user/auth");
    let parallel = &entry.steps[1].calls;
    assert_eq!(parallel.len(), 2);
    assert_eq!(
        (label(parallel[0].target), parallel[0].probability),
        ("article/view".to_string(), 1.0)
    );
    assert_eq!(
        (label(parallel[1].target), parallel[1].probability),
        ("comment/list".to_string(), 0.5)
    );
    assert!(!parallel[1].optional);
    assert_eq!(
        model.endpoints[1].service_time,
        Dist::Exp { mean: 2_000_000.0 }
    );
    assert_eq!(
        label(model.endpoints[1].steps[0].calls[0].target),
        "user/get"
    );
    // user's endpoints inherit the service's service_time.
    assert_eq!(
        model.endpoints[3].service_time,
        Dist::Exp { mean: 500_000.0 }
    );

    let policy = &gateway.policy;
    assert_eq!(
        (policy.balancer, policy.timeout),
        (BalancerKind::RoundRobin, 1_000_000_000)
    );
    assert_eq!(policy.retries.max_retries, 2);
    assert_eq!(policy.retries.per_try_timeout, Some(300_000_000));
    assert_eq!(
        (policy.retries.backoff, policy.retries.max_backoff),
        (25_000_000, 250_000_000)
    );
    assert_eq!(policy.retries.jitter, Jitter::Full);
    assert_eq!(
        policy.retries.retry_on,
        [false, true, true, true, true, false]
    );
    // comment's own policy is merged over [policy]: its balancer and retries.max win.
    let comment = &model.services[3].policy;
    assert_eq!(
        (comment.balancer, comment.timeout),
        (BalancerKind::PowerOfTwoChoices, 1_000_000_000)
    );
    assert_eq!(
        (comment.retries.max_retries, comment.retries.per_try_timeout),
        (3, Some(300_000_000))
    );

    let readers = &model.workloads[0];
    assert_eq!(
        (readers.name.as_str(), readers.target, readers.rate),
        ("readers", 0, 900.0)
    );
    assert_eq!(
        readers.schedule,
        vec![
            RateChange {
                at: 60_000_000_000,
                rate: 3000.0,
                ramp: 10_000_000_000
            },
            RateChange {
                at: 90_000_000_000,
                rate: 900.0,
                ramp: 0
            },
        ]
    );

    let fault = &model.faults[0];
    assert_eq!(
        (fault.at, fault.until),
        (30_000_000_000, Some(90_000_000_000))
    );
    assert_eq!(fault.kind, FaultKind::Crash);
    assert_eq!(fault.target_label, "article#0");
    assert_eq!(
        fault.replicas,
        vec![ReplicaRef {
            service: 1,
            index: 0
        }]
    );
}

#[test]
fn bad_toml_syntax_keeps_the_parser_position() {
    let text = "[scenario]\nname = \"t\nduration = \"10s\"\n";
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.starts_with("invalid TOML"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].line, 2, "{:?}", errors[0]);
    assert!(errors[0].column >= 8, "{:?}", errors[0]);
}

#[test]
fn unknown_key_suggests_the_close_one() {
    let text = BASE.replace("workers = 8", "wokers = 8");
    let error = only_error(
        &text,
        "unknown key \"wokers\" in [[service]]: did you mean \"workers\"?",
    );
    assert_eq!(at(&error), position(&text, "wokers", 0));
    assert_eq!(
        error.to_string(),
        format!(
            "test.toml:{}:{}: {}",
            error.line, error.column, error.message
        )
    );

    let text = format!("{BASE}[slo]\nbananas = 1\n");
    let error = only_error(
        &text,
        "unknown key \"bananas\" in [slo]: expected one of availability, latency",
    );
    assert_eq!(at(&error), position(&text, "bananas", 0));
}

#[test]
fn bare_number_duration_is_refused() {
    let text = BASE.replace("duration = \"10s\"", "duration = 10");
    let error = only_error(
        &text,
        "expected a duration with a unit, like \"250ms\" (a bare number is ambiguous)",
    );
    assert_eq!(at(&error), position(&text, "10\n", 0));
}

#[test]
fn bad_distribution_points_inside_the_string() {
    let text = BASE.replace("exp(1ms)", "expo(1ms)");
    let error = only_error(
        &text,
        "unknown distribution \"expo\": expected one of const, exp, uniform, lognormal, normal, pareto, mix, empirical, quantiles",
    );
    assert!(
        error.message.contains("did you mean \"exp\""),
        "{}",
        error.message
    );
    assert_eq!(at(&error), position(&text, "expo(", 0));

    let text = BASE.replace("exp(1ms)", "uniform(1ms, 2xs)");
    let error = only_error(&text, "unknown unit \"xs\"");
    assert_eq!(at(&error), position(&text, "xs)", 0));

    let text = BASE.replace("exp(1ms)", "mix(0.5 * exp(1ms), 0.4 * exp(2ms))");
    only_error(&text, "mix weights sum to 0.9");
}

#[test]
fn unknown_call_target_suggests_a_name() {
    let text = BASE.replace("calls = [\"back\"]", "calls = [\"bakc\"]");
    let error = only_error(&text, "unknown service \"bakc\"");
    assert!(
        error.message.contains("did you mean \"back\"?"),
        "{}",
        error.message
    );
    assert_eq!(at(&error), position(&text, "\"bakc\"", 0));

    let text = BASE.replace("calls = [\"back\"]", "calls = [\"back/lsit\"]");
    let error = only_error(&text, "service \"back\" has no endpoint \"lsit\"");
    assert_eq!(at(&error), position(&text, "lsit", 0));
}

#[test]
fn call_cycle_is_named() {
    let text = BASE.replace(
        "service_time = \"const(1ms)\"",
        "service_time = \"const(1ms)\"\n  [[service.endpoint]]\n  name = \"get\"\n  calls = [{ to = \"front\", p = 0.1 }]",
    );
    let error = only_error(
        &text,
        "call cycle: front/default -> back/get -> front/default",
    );
    assert_eq!(at(&error), position(&text, "\"back\"", 0));

    let text = BASE.replace("calls = [\"back\"]", "calls = [\"back\", \"front\"]");
    let error = only_error(&text, "call cycle: front/default -> front/default");
    assert_eq!(at(&error), position(&text, "\"front\"]", 0));
}

#[test]
fn zero_replicas_is_refused() {
    let text = BASE.replace("replicas = 2", "replicas = 0");
    let error = only_error(&text, "replicas must be at least 1");
    assert_eq!(at(&error), position(&text, "0\nservice_time", 0));
}

#[test]
fn missing_file_has_no_position() {
    let path = temp_path("missing.toml");
    let errors = load_file(&path, &[]).expect_err("missing").0;
    assert_eq!(errors.len(), 1);
    let label = path.display().to_string();
    assert_eq!(
        (errors[0].file.as_str(), errors[0].line, errors[0].column),
        (label.as_str(), 0, 0)
    );
    assert!(
        errors[0]
            .message
            .starts_with(&format!("cannot read {label}: ")),
        "{}",
        errors[0].message
    );
}

#[test]
fn binary_file_is_not_a_scenario() {
    let path = temp_path("binary.toml");
    std::fs::write(&path, [0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe]).expect("write");
    let errors = load_file(&path, &[]).expect_err("binary").0;
    let _ = std::fs::remove_file(&path);
    assert_eq!(errors.len(), 1);
    // The first NUL (byte 4) comes before the first byte that is not UTF-8 (byte 6).
    assert_eq!(
        errors[0].message,
        format!(
            "{} is not a text file (is it a TOML scenario?): byte 4 (line 1, column 5) is a NUL byte",
            path.display()
        )
    );
    assert_eq!((errors[0].line, errors[0].column), (1, 5));
    let errors = load("a = 1\0").expect_err("NUL").0;
    assert!(errors[0].message.contains("is not a text file"));
    assert!(errors[0].message.contains("byte 5 (line 1, column 6)"));
}

#[test]
fn load_file_reads_empirical_files_beside_the_scenario() {
    let dir = temp_path("dir");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("times.csv"), "1ms\n3ms\n").expect("write");
    let text = BASE.replace("exp(1ms)", "empirical(times.csv)");
    let path = dir.join("s.toml");
    std::fs::write(&path, &text).expect("write");
    let model = load_file(&path, &[]).expect("valid");
    assert_eq!(
        model.endpoints[0].service_time,
        Dist::Empirical(vec![1_000_000, 3_000_000])
    );
    std::fs::remove_file(dir.join("times.csv")).expect("remove");
    let errors = load_file(&path, &[]).expect_err("missing csv").0;
    assert!(
        errors[0].message.contains("cannot read empirical file"),
        "{}",
        errors[0].message
    );
    assert_eq!(at(&errors[0]), position(&text, "times.csv", 0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn governance_keys_are_supported_and_checked() {
    // Every governance key is supported now.
    let text = format!("{BASE}{GOVERNANCE}");
    load(&text).expect("every governance key is supported");
    // A supported governance table still checks its keys.
    let text = format!("{BASE}[policy]\ncircuit_breaker = {{ failure_rate = 0.5, bogus = 1 }}\n");
    only_error(&text, "bogus");
}

#[test]
fn registries_health_checks_and_autoscaling_parse_with_their_defaults() {
    use crate::model::{AutoscalePolicy, ConsulConfig, EurekaConfig, HealthCheckPolicy};
    let text = format!("{BASE}[registry]\nmodel = \"eureka\"\nttl = \"30s\"\n");
    let model = load(&text).expect("valid");
    let expected = EurekaConfig {
        ttl: 30_000_000_000,
        ..EurekaConfig::default()
    };
    assert_eq!(model.registry, RegistryModel::Eureka(expected));
    assert_eq!(EurekaConfig::default().heartbeat, 30_000_000_000);
    assert_eq!(EurekaConfig::default().self_preservation, 0.85);
    let text = format!("{BASE}[registry]\nmodel = \"eureka\"\nself_preservation = false\n");
    match load(&text).expect("valid").registry {
        RegistryModel::Eureka(config) => assert_eq!(config.self_preservation, 0.0),
        other => panic!("{other:?}"),
    }
    let text = format!("{BASE}[registry]\nmodel = \"consul\"\ncheck_interval = \"2s\"\n");
    let expected = ConsulConfig {
        check_interval: 2_000_000_000,
        ..ConsulConfig::default()
    };
    assert_eq!(
        load(&text).expect("valid").registry,
        RegistryModel::Consul(expected)
    );

    // A setting of another model, at its key.
    let text = format!("{BASE}[registry]\nmodel = \"static\"\nheartbeat = \"30s\"\n");
    let error = only_error(
        &text,
        "\"heartbeat\" does not apply to registry model \"static\"",
    );
    assert_eq!(at(&error), position(&text, "heartbeat", 0));
    let text = format!("{BASE}[registry]\nmodel = \"consul\"\nttl = \"30s\"\n");
    only_error(&text, "it is a eureka setting");
    let text = format!("{BASE}[registry]\nmodel = \"consul\"\nderegister_after = \"10s\"\n");
    only_error(&text, "at least \"1m\"");

    let text = format!(
        "{BASE}[policy]\nhealth_check = {{ interval = \"5s\", timeout = \"1s\", unhealthy = 3, healthy = 2 }}\n"
    );
    let model = load(&text).expect("valid");
    let expected = HealthCheckPolicy {
        interval: 5_000_000_000,
        timeout: 1_000_000_000,
        unhealthy: 3,
        healthy: 2,
    };
    assert_eq!(model.services[1].policy.health_check, Some(expected));
    let text =
        format!("{BASE}[policy]\nhealth_check = {{ interval = \"5s\", timeout = \"1s\" }}\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}"); // unhealthy and healthy are required
    let text = format!(
        "{BASE}[policy]\nhealth_check = {{ interval = \"1s\", timeout = \"2s\", unhealthy = 1, healthy = 1 }}\n"
    );
    only_error(&text, "timeout must not exceed its interval");

    let text = BASE.replace(
        "\"const(1ms)\"",
        "\"const(1ms)\"\n[service.autoscale]\nmin = 1\nmax = 6\ntarget_utilization = 0.5\nstartup = \"10s\"",
    );
    let model = load(&text).expect("valid");
    let service = model
        .services
        .iter()
        .find(|s| s.autoscale.is_some())
        .expect("an autoscaled service");
    let mut expected = AutoscalePolicy::new(1, 6, 0.5);
    expected.startup = 10_000_000_000;
    assert_eq!(service.autoscale.as_ref(), Some(&expected));
    assert_eq!(service.slots(), 6);
    assert_eq!(service.replica_weights.len(), 6);
    assert_eq!(service.replica_zones.len(), 6);
    let text = BASE.replace(
        "\"const(1ms)\"",
        "\"const(1ms)\"\n[service.autoscale]\nmin = 3\nmax = 2\ntarget_utilization = 0.5",
    );
    only_error(&text, "autoscale max (2) is below min (3)");

    let text = format!("{BASE}[[fault]]\nat = \"1s\"\nkind = \"registry_outage\"\n");
    let model = load(&text).expect("valid");
    assert_eq!(model.faults[0].kind, FaultKind::RegistryOutage);
    let text =
        format!("{BASE}[[fault]]\nat = \"1s\"\nkind = \"registry_outage\"\ntarget = \"back\"\n");
    only_error(&text, "a registry_outage has no target");
}

#[test]
fn spec_example_verbatim_only_fails_on_unsupported_features_and_missing_services() {
    let errors = errors(SPEC_VERBATIM);
    for error in &errors {
        let expected = error.message.contains("not supported yet")
            || error.message.contains("unknown service");
        assert!(expected, "unexpected error {error}");
    }
    // user/auth, comment/list, user/get.
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn overrides_take_effect() {
    let set = |args: &[&str]| -> Vec<Override> {
        args.iter()
            .map(|a| Override::parse(a).expect("key=value"))
            .collect()
    };
    let overrides = set(&[
        "policy.balancer=p2c",
        "service.front.workers=64",
        "scenario.duration=30s",
    ]);
    let model = load_str(BASE, LABEL, Path::new("."), &overrides).expect("valid");
    assert_eq!(
        model.services[0].policy.balancer,
        BalancerKind::PowerOfTwoChoices
    );
    assert_eq!(
        model.services[1].policy.balancer,
        BalancerKind::PowerOfTwoChoices
    );
    assert_eq!(model.services[0].workers, 64);
    assert_eq!(model.duration, 30_000_000_000);
    let overrides = set(&["scenario.seed=18446744073709551615"]);
    let model = load_str(BASE, LABEL, Path::new("."), &overrides).expect("valid");
    assert_eq!(model.seed, u64::MAX);

    let model = load_str(
        SPEC_EXAMPLE,
        LABEL,
        Path::new("."),
        &set(&[
            "service.article.workers=64",
            "workload.readers.rate=5",
            "fault.0.at=1s",
            "workload.readers.schedule.1.rate=7",
            "policy.retries.max=4",
        ]),
    )
    .expect("valid");
    assert_eq!(model.services[1].workers, 64);
    assert_eq!(model.workloads[0].rate, 5.0);
    assert_eq!(model.workloads[0].schedule[1].rate, 7.0);
    assert_eq!(model.faults[0].at, 1_000_000_000);
    assert_eq!(model.services[0].policy.retries.max_retries, 4);

    let overrides = set(&[
        "service.front.policy.balancer=least_request",
        "service.back.zones=[\"x\", \"y\"]",
        "service.0.service_time=exp(3ms)",
    ]);
    let model = load_str(BASE, LABEL, Path::new("."), &overrides).expect("valid");
    assert_eq!(
        model.services[0].policy.balancer,
        BalancerKind::LeastRequest
    );
    assert_eq!(model.services[1].policy.balancer, BalancerKind::RoundRobin);
    assert_eq!(model.zones, vec!["default", "x", "y"]);
    assert_eq!(
        model.endpoints[0].service_time,
        Dist::Exp { mean: 3_000_000.0 }
    );

    let errors = load_str(
        BASE,
        LABEL,
        Path::new("."),
        &set(&["service.frnt.workers=2"]),
    )
    .expect_err("unknown")
    .0;
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].column), (0, 0));
    assert!(
        errors[0]
            .message
            .contains("no [[service]] named \"frnt\"; did you mean \"front\"?"),
        "{}",
        errors[0].message
    );

    // A value that breaks validation is reported as the --set that wrote it.
    let errors = load_str(
        BASE,
        LABEL,
        Path::new("."),
        &set(&["service.back.replicas=0"]),
    )
    .expect_err("invalid")
    .0;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "--set service.back.replicas=0: replicas must be at least 1, found 0"
    );
}

#[test]
fn problems_of_the_file_keep_its_lines_when_a_set_adds_lines_above_them() {
    let set = |args: &[&str]| -> Vec<Override> {
        args.iter()
            .map(|a| Override::parse(a).expect("key=value"))
            .collect()
    };
    // The --set adds a line to [scenario] (at the top) and a [policy] table (at the end); the
    // misspelt key of the last service is still reported at its line of the file.
    let text =
        format!("{BASE}\n[[service]]\nname = \"extra\"\nservice_time = \"exp(1ms)\"\nwokers = 2\n");
    let line = text
        .lines()
        .position(|l| l.starts_with("wokers"))
        .expect("the line")
        + 1;
    let errors = load_str(
        &text,
        LABEL,
        Path::new("."),
        &set(&["scenario.window=2s", "policy.balancer=p2c"]),
    )
    .expect_err("unknown key")
    .0;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].file.as_str(), errors[0].line, errors[0].column),
        (LABEL, line, 1)
    );
    // Two overrides, each reported as itself.
    let errors = load_str(
        BASE,
        LABEL,
        Path::new("."),
        &set(&["scenario.window=2", "policy.timeout=-1s"]),
    )
    .expect_err("two bad values")
    .0;
    let mut files: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
    files.sort_unstable();
    assert_eq!(
        files,
        ["--set policy.timeout=-1s", "--set scenario.window=2"],
        "{errors:?}"
    );
}

#[test]
fn several_problems_are_all_reported() {
    let text = r#"[scenario]
name = "many"
duration = "10s"
warmup = "20s"

[policy]
retries = { backoff = "1s", max_backoff = "100ms", on = ["timeout", "boom"] }

[[service]]
name = "front"
workers = 0
service_time = "exp(1ms)"
calls = ["nowhere", { to = "back", p = 1.5 }]
weights = [1, 2]

[[service]]
name = "front"
service_time = "exp(1ms)"

[[service]]
name = "back"
replicas = 2
zones = ["a"]
service_time = "lognormal(median=5ms, p99=1ms)"

[[workload]]
target = "front"
rate = -1
zone = "mars"

[[fault]]
at = "1s"
kind = "crash"
factor = 3
target = "back#1..5"

[[fault]]
at = "1s"
kind = "partition"
between = ["zone:a", "zone:nowhere"]
"#;
    let errors = errors(text);
    let expected = [
        ("warmup must be shorter than duration", "\"20s\""),
        (
            "backoff (1s) must not exceed max_backoff (100ms)",
            "\"1s\", max",
        ),
        ("unknown retry outcome \"boom\"", "\"boom\""),
        ("workers must be at least 1", "0\nservice_time"),
        ("unknown service \"nowhere\"", "\"nowhere\""),
        ("p must be between 0 and 1", "1.5"),
        ("weights must give one weight per replica", "[1, 2]"),
        (
            "duplicate service name \"front\"",
            "\"front\"\nservice_time",
        ),
        ("lognormal needs median < p99", "1ms)\"\n\n[[workload]]"),
        ("rate must be greater than 0", "-1"),
        ("unknown zone \"mars\"", "\"mars\""),
        ("\"factor\" does not apply to a crash fault", "factor"),
        (
            "replica 5 is out of range: service \"back\" has 2 replicas",
            "1..5",
        ),
        ("unknown zone \"nowhere\"", "nowhere\"]"),
    ];
    for (needle, place) in expected {
        let found = errors.iter().find(|e| e.message.contains(needle));
        let Some(found) = found else {
            panic!("no error containing {needle:?} in {errors:#?}")
        };
        assert_eq!(
            at(found),
            position(text, place, 0),
            "position of {needle:?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    let mut sorted = errors.clone();
    sorted.sort_by_key(|e| (e.line, e.column));
    assert_eq!(sorted, errors, "errors come in file order");
}

#[test]
fn more_shapes_are_checked() {
    // Closed workloads, fault ranges and zones, partitions and parallel-step rules.
    let text = BASE.replace("replicas = 2", "replicas = 3\nzones = [\"x\", \"y\"]")
        + "[[workload]]\nname = \"users\"\ntarget = \"back\"\narrival = \"closed\"\nusers = 5\nthink_time = \"exp(1s)\"\n"
        + "[[fault]]\nat = \"1s\"\nkind = \"slow\"\nfactor = 4\ntarget = \"back#1..2\"\n"
        + "[[fault]]\nat = \"2s\"\nfor = \"1s\"\nkind = \"errors\"\nrate = 0.5\ntarget = \"zone:x\"\n"
        + "[[fault]]\nat = \"3s\"\nkind = \"partition\"\nbetween = [\"zone:x\", [\"zone:y\", \"zone:default\"]]\n";
    let model = load(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.zones, vec!["default", "x", "y"]);
    assert!(matches!(
        &model.workloads[1].arrival,
        Arrival::Closed { users: 5, .. }
    ));
    assert_eq!(
        model.faults[0].replicas,
        vec![
            ReplicaRef {
                service: 1,
                index: 1
            },
            ReplicaRef {
                service: 1,
                index: 2
            }
        ]
    );
    assert_eq!(
        model.faults[1].replicas,
        vec![
            ReplicaRef {
                service: 1,
                index: 0
            },
            ReplicaRef {
                service: 1,
                index: 2
            }
        ]
    );
    assert_eq!(model.faults[1].until, Some(3_000_000_000));
    assert_eq!(
        model.faults[2].kind,
        FaultKind::Partition {
            side_a: vec![1],
            side_b: vec![0, 2]
        }
    );

    let text = BASE.replace("calls = [\"back\"]", "calls = [[[\"back\"]]]");
    only_error(&text, "parallel steps cannot be nested");
    let text = BASE.replace("calls = [\"back\"]", "calls = [[]]");
    only_error(&text, "empty parallel step");
    let many: Vec<String> = (0..129).map(|_| "\"back\"".to_string()).collect();
    let text = BASE.replace(
        "calls = [\"back\"]",
        &format!("calls = [{}]", many.join(", ")),
    );
    only_error(&text, "too many calls: 129 (at most 128 per endpoint)");
    let text = BASE.replace("rate = 10", "rate = 10\nusers = 3");
    only_error(&text, "\"users\" only applies to arrival = \"closed\"");
    let text = BASE.replace(
        "rate = 10",
        "rate = 10\nschedule = [{ at = \"5s\", rate = 1 }, { at = \"2s\", rate = 2 }]",
    );
    only_error(&text, "schedule must be sorted by \"at\"");
    let text = BASE.replace(
        "[[service]]\nname = \"back\"",
        "[[service]]\nname = \"back\"\nservice_time = \"exp(1ms)\"",
    );
    only_error(&text, "duplicate key");
    let text = BASE.replace("service_time = \"const(1ms)\"\n", "");
    only_error(
        &text,
        "missing key \"service_time\" in [[service]] \"back\"",
    );
    let text = BASE.replace("[scenario]\nname = \"t\"\n", "[scenario]\n");
    only_error(&text, "missing key \"name\" in [scenario]");
    let text = BASE.replace(
        "\"front\"\nrate",
        "\"front\"\nrate = 1\narrival = \"poison\"\n#",
    );
    only_error(&text, "unknown arrival \"poison\": expected one of poisson, constant, closed, trace; did you mean \"poisson\"?");
}

#[test]
fn hostile_inputs_never_panic() {
    let inputs = [
        "",
        "[scenario]",
        "scenario = 1",
        "[[scenario]]\nname = 1",
        "service = 3\nworkload = \"x\"\nfault = {}",
        "[[service]]\nname = \"a\"\ncalls = \"a\"\nendpoint = 1\nzones = []\nweights = \"x\"",
        "[[service]]\nname = \"a/b\"\nreplicas = -1\nqueue = 1e400",
        "[scenario]\nname = \"x\"\nduration = \"99999999999999999999h\"\nwarmup = \"-1s\"",
        "[[fault]]\nat = \"1s\"\nkind = \"partition\"\nbetween = 1\ntarget = \"#..\"",
        "[[fault]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"zone:\"",
        "[[service]]\nname = \"a\"\nservice_time = \"mix(1 * mix(1 * mix(1 * mix(\"",
        "[[service]]\nname = \"é\"\nservice_time = \"exp(1µs)\u{301}\"",
        "x = 1979-05-27T07:32:00Z",
    ];
    for input in inputs {
        let result = load(input);
        assert!(result.is_err(), "accepted {input:?}");
    }
}

#[test]
fn a_window_too_short_for_the_duration_is_refused() {
    let text = BASE.replacen("[scenario]", "[scenario]\nwindow = \"1us\"", 1);
    let errors = errors(&text);
    assert!(
        errors.iter().any(|e| e
            .message
            .contains("more than the limit of 1000000: set a longer")),
        "{errors:#?}"
    );
}

#[test]
fn hedge_and_connection_pool_are_read_and_checked() {
    let text = format!(
        "{BASE}[policy]\nhedge = {{ after = \"50ms\", max = 2 }}\nmax_connections = 4\n\
         max_pending = 0\n"
    );
    let model = load(&text).expect("valid");
    let policy = &model.services[1].policy;
    assert_eq!(
        policy.hedge,
        Some(crate::model::policy::HedgePolicy {
            after: 50_000_000,
            max: 2
        })
    );
    assert_eq!(policy.max_connections, Some(4));
    assert_eq!(policy.max_pending, Some(0));
    // `max` defaults to 1; a service's table overrides the global one.
    let text = format!(
        "{BASE}[policy]\nhedge = {{ after = \"50ms\" }}\n\
         [[service]]\nname = \"x\"\nservice_time = \"const(1ms)\"\n[service.policy]\nhedge = {{ after = \"1s\", max = 3 }}\n"
    );
    let model = load(&text).expect("valid");
    assert_eq!(model.services[0].policy.hedge.map(|h| h.max), Some(1));
    assert_eq!(model.services[2].policy.hedge.map(|h| h.max), Some(3));
    // Unset: no hedging, unlimited pool.
    let model = load(BASE).expect("valid");
    assert_eq!(model.services[1].policy.hedge, None);
    assert_eq!(model.services[1].policy.max_connections, None);

    let bad = |setting: &str, needle: &str| {
        let text = format!("{BASE}[policy]\n{setting}\n");
        let error = only_error(&text, needle);
        let key = setting.split_once(" = ").map_or(setting, |(k, _)| k);
        assert_eq!(at(&error).0, position(&text, key, 0).0, "{error}");
    };
    bad("hedge = { after = \"50ms\", max = 4 }", "hedge max");
    bad("hedge = { after = \"50ms\", max = 0 }", "hedge max");
    bad("hedge = { max = 1 }", "missing key \"after\"");
    bad("hedge = { after = \"0ms\" }", "hedge after");
    bad("hedge = { after = \"50ms\", delay = 1 }", "delay");
    bad("hedge = \"50ms\"", "hedge must be a table");
    bad("max_connections = 0", "max_connections");
    bad("max_pending = -1", "max_pending");
}

#[path = "limits_tests.rs"]
mod limits_tests;

#[test]
fn every_limit_can_be_lifted_with_false_and_a_service_false_wins_over_policy() {
    // [policy] sets every limit; back's policy lifts each with false, front keeps [policy]'s.
    let text = format!(
        "{BASE}[policy]\nmax_requests = 3\nmax_connections = 4\nmax_pending = 5\n\
         retries = {{ max = 2, per_try_timeout = \"100ms\", budget = 0.2 }}\n"
    )
    .replace(
        "service_time = \"const(1ms)\"\n",
        "service_time = \"const(1ms)\"\nqueue = 7\nmax_queue_time = \"1s\"\n\
         policy = { max_requests = false, max_connections = false, max_pending = false, \
         retries = { per_try_timeout = false, budget = false } }\n",
    );
    let model = load(&text).expect("valid");
    let (front, back) = (&model.services[0].policy, &model.services[1].policy);
    assert_eq!(
        (front.max_requests, front.max_connections, front.max_pending),
        (Some(3), Some(4), Some(5))
    );
    assert_eq!(front.retries.per_try_timeout, Some(100_000_000));
    assert!(front.retries.budget.is_some());
    assert_eq!(
        (back.max_requests, back.max_connections, back.max_pending),
        (None, None, None)
    );
    // The retries table is still merged field by field: back keeps [policy]'s max.
    assert_eq!(back.retries.max_retries, 2);
    assert_eq!(back.retries.per_try_timeout, None);
    assert!(back.retries.budget.is_none());
    assert_eq!(model.services[1].queue_capacity, Some(7));
    assert_eq!(model.services[1].max_queue_time, 1_000_000_000);
    // A service's queue and max_queue_time lifted with false: unbounded, never shed.
    let lifted = text
        .replace("queue = 7", "queue = false")
        .replace("max_queue_time = \"1s\"", "max_queue_time = false");
    let model = load(&lifted).expect("valid");
    assert_eq!(model.services[1].queue_capacity, None);
    assert_eq!(model.services[1].max_queue_time, u64::MAX);
    // true does not say how much.
    let text = format!("{BASE}[policy]\nmax_requests = true\n");
    let error = only_error(&text, "max_requests = true does not say how much");
    assert!(error.message.contains("false for no limit"), "{error:?}");
}
