//! Determinism, common random numbers and conservation of requests.
//!
//! * The same file and seed give byte-identical `summary.json`, `timeseries.csv` and `events.csv`
//!   (two runs of the binary into two folders); another seed gives another summary.
//! * Common random numbers: the balancer (or a fault's size) changes where requests go, never the
//!   offered load nor a request's own work; with no queueing, the service latencies are the same
//!   multiset whatever the balancer, so their mean (an exact integer-nanosecond sum over an
//!   integer count) is bit-for-bit equal.
//! * Conservation: every measured end-to-end request ends exactly once with one outcome, in the
//!   `RunResult` and in `summary.json`.
//!
//! Scenarios: `scenarios/validation/conservation.toml` (two tiers, crashes, an errors fault, a
//! latency fault, retries, short timeouts, bounded queues), `scenarios/validation/crn_balancers.toml`
//! (4 replicas, many workers, constant network latency) and the queueing scenarios of
//! `queueing.rs`, shortened.

use crate::common;
use meshsim::model::{BalancerKind, Model, Outcome};
use meshsim::report::Summary;
use meshsim::sim::RunResult;
use serde_json::Value;
use std::path::{Path, PathBuf};

const CONSERVATION: &str = "validation/conservation.toml";
const CRN: &str = "validation/crn_balancers.toml";

/// The balancers compared, with their override spelling.
const BALANCERS: [(&str, BalancerKind); 4] = [
    ("round_robin", BalancerKind::RoundRobin),
    ("random", BalancerKind::Random),
    ("least_request", BalancerKind::LeastRequest),
    ("p2c", BalancerKind::PowerOfTwoChoices),
];

/// The files whose bytes must repeat.
const OUTPUTS: [&str; 3] = ["summary.json", "timeseries.csv", "events.csv"];

/// Runs the binary on `scenarios/<relative>` into a fresh temporary folder named `name`, with
/// extra arguments; panics unless it exits with 0. Returns the folder.
fn run_binary(relative: &str, name: &str, extra: &[&str]) -> PathBuf {
    let dir = common::temp_dir(name);
    let file = format!("scenarios/{relative}");
    let dir_text = dir.to_str().expect("temp dir is UTF-8");
    let mut args = vec!["run", file.as_str(), "--out", dir_text, "--quiet"];
    args.extend_from_slice(extra);
    let output = common::meshsim(&args);
    assert!(
        output.status.success(),
        "meshsim {args:?} failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dir
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn summary_json(dir: &Path) -> Value {
    serde_json::from_slice(&read(dir, "summary.json")).expect("summary.json is JSON")
}

fn u(value: &Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer}"))
}

fn f(value: &Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer}"))
}

fn cleanup(dirs: &[&Path]) {
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ----- byte-identical outputs -------------------------------------------------------------------

#[test]
fn same_file_and_seed_give_byte_identical_outputs() {
    let first = run_binary(CONSERVATION, "det-same-a", &[]);
    let second = run_binary(CONSERVATION, "det-same-b", &[]);
    for name in OUTPUTS {
        let (a, b) = (read(&first, name), read(&second, name));
        assert!(
            a == b,
            "{name} differs between two runs of the same file and seed"
        );
    }
    // Make sure the comparison had substance: faults in events.csv, rows in timeseries.csv.
    let events = String::from_utf8(read(&first, "events.csv")).expect("UTF-8");
    for kind in ["fault_start", "fault_end"] {
        let count = events.lines().filter(|line| line.contains(kind)).count();
        assert_eq!(count, 4, "4 faults, each starting and ending:\n{events}");
    }
    let rows = String::from_utf8(read(&first, "timeseries.csv"))
        .expect("UTF-8")
        .lines()
        .count();
    assert!(rows > 20, "a row per second and service: {rows} lines");
    assert!(u(&summary_json(&first), "/requests/offered") > 10_000);
    cleanup(&[&first, &second]);
}

#[test]
fn same_model_gives_identical_summaries_through_the_library() {
    for (file, overrides) in [
        (CONSERVATION, vec![]),
        ("validation/mm1k.toml", vec!["scenario.duration=20s"]),
    ] {
        let model = common::load(file, &overrides);
        let a = Summary::new(&model, &common::run(&model)).to_json();
        let b = Summary::new(&model, &common::run(&model)).to_json();
        assert_eq!(a, b, "{file}: two library runs differ");
    }
}

#[test]
fn another_seed_gives_another_summary_and_seed_flag_equals_seed_override() {
    let base = run_binary(CONSERVATION, "det-seed-file", &[]);
    let by_flag = run_binary(CONSERVATION, "det-seed-flag", &["--seed", "12"]);
    let by_set = run_binary(CONSERVATION, "det-seed-set", &["--set", "scenario.seed=12"]);
    for name in OUTPUTS {
        assert!(
            read(&by_flag, name) == read(&by_set, name),
            "{name}: --seed 12 and --set scenario.seed=12 differ"
        );
    }
    let (mut a, mut b) = (summary_json(&base), summary_json(&by_flag));
    assert_eq!(u(&a, "/seed"), 11, "the file's seed");
    assert_eq!(u(&b, "/seed"), 12);
    // Other draws: other latencies (a continuous figure: equal only by a miracle) ...
    assert_ne!(f(&a, "/latency_ms/mean"), f(&b, "/latency_ms/mean"));
    // ... and a different summary even with the seed itself left out.
    a.as_object_mut().expect("object").remove("seed");
    b.as_object_mut().expect("object").remove("seed");
    assert_ne!(a, b);
    assert!(read(&base, "timeseries.csv") != read(&by_flag, "timeseries.csv"));
    cleanup(&[&base, &by_flag, &by_set]);
}

// ----- common random numbers --------------------------------------------------------------------

/// Loads `file` with `balancer` (and `extra` overrides), checks the override took effect, runs it.
fn run_with_balancer(
    file: &str,
    balancer: (&str, BalancerKind),
    extra: &[&str],
) -> (Model, RunResult) {
    let setting = format!("policy.balancer={}", balancer.0);
    let mut overrides = vec![setting.as_str()];
    overrides.extend_from_slice(extra);
    let model = common::load(file, &overrides);
    for service in &model.services {
        assert_eq!(
            service.policy.balancer, balancer.1,
            "{file}: the balancer override took effect"
        );
    }
    let result = common::run(&model);
    (model, result)
}

#[test]
fn balancer_leaves_offered_load_and_per_request_work_unchanged() {
    let runs: Vec<(Model, RunResult)> = BALANCERS
        .iter()
        .map(|&b| run_with_balancer(CRN, b, &[]))
        .collect();
    let (model, reference) = &runs[0];
    assert!(model.services[0].replicas > 1 && model.network.latency.is_const());
    assert!(reference.offered > 20_000);
    for ((name, _), (_, result)) in BALANCERS.iter().zip(&runs) {
        assert_eq!(result.offered, reference.offered, "{name}: offered");
        assert_eq!(result.outcomes, reference.outcomes, "{name}: outcomes");
        assert_eq!(result.outcomes.failed(), 0, "{name}: nothing fails");
        let (service, expected) = (&result.services[0], &reference.services[0]);
        assert_eq!(
            service.requests, expected.requests,
            "{name}: requests reaching the service"
        );
        assert_eq!(
            service.latency.count(),
            expected.latency.count(),
            "{name}: latency count"
        );
        // Exact: the mean is an integer-nanosecond sum (u128) over an integer count, and with no
        // queueing each latency is the request's own service time, whichever replica served it.
        assert_eq!(
            service.latency.mean_nanos(),
            expected.latency.mean_nanos(),
            "{name}: service mean"
        );
        assert_eq!(
            service.latency.max_nanos(),
            expected.latency.max_nanos(),
            "{name}: service max"
        );
        for q in [0.5, 0.9, 0.99, 0.999] {
            assert_eq!(
                service.latency.quantile_nanos(q),
                expected.latency.quantile_nanos(q),
                "{name}: q{q}"
            );
        }
        // End to end: the same service time plus two constant hops.
        assert_eq!(
            result.latency.mean_nanos(),
            reference.latency.mean_nanos(),
            "{name}: end-to-end mean"
        );
        // Busy worker-time is a sum of whole nanoseconds (exact in f64 below 2^53 ns).
        assert_eq!(
            service.busy_worker_nanos, expected.busy_worker_nanos,
            "{name}: busy time"
        );
    }
}

#[test]
fn balancer_does_change_latency_when_requests_queue() {
    // The counterpart of the test above: with 2 workers per replica requests wait, and the
    // balancer's choices show in the latencies, while the offered load stays the same.
    let runs: Vec<(Model, RunResult)> = BALANCERS
        .iter()
        .map(|&b| run_with_balancer(CRN, b, &["service.server.workers=2"]))
        .collect();
    let offered = runs[0].1.offered;
    assert!(
        runs.iter().all(|(_, r)| r.offered == offered),
        "offered load is the same"
    );
    let means: Vec<f64> = runs
        .iter()
        .map(|(_, r)| r.services[0].latency.mean_nanos())
        .collect();
    let (random, least_request) = (means[1], means[2]);
    assert!(
        least_request < random,
        "least_request waits less than random when requests queue: {BALANCERS:?} -> {means:?}"
    );
    let fastest = means.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(means.iter().any(|&m| m > fastest), "{means:?}");
}

#[test]
fn balancer_and_fault_size_leave_offered_load_unchanged_under_faults_and_retries() {
    let offered: Vec<u64> = BALANCERS
        .iter()
        .map(|&b| run_with_balancer(CONSERVATION, b, &[]).1.offered)
        .collect();
    assert!(
        offered.iter().all(|&o| o == offered[0]),
        "offered per balancer: {offered:?}"
    );
    // A smaller latency fault changes outcomes but not the arrivals: +5 ms each way puts every
    // try to back#2 past its 6 ms per-try timeout, +1 ms does not. (A bigger fault than 5 ms
    // differs only for the few tries in flight as the fault starts or ends: by chance, not
    // necessarily.)
    let base = common::run(&common::load(CONSERVATION, &[]));
    let changed_model = common::load(CONSERVATION, &["fault.3.add=1ms"]);
    assert!(changed_model
        .faults
        .iter()
        .any(|f| f.kind == meshsim::model::FaultKind::Latency { add: 1_000_000 }));
    let changed = common::run(&changed_model);
    assert_eq!(changed.offered, base.offered);
    assert_eq!(base.offered, offered[0]);
    assert_ne!(
        changed.outcomes, base.outcomes,
        "the fault's size matters to the outcomes"
    );
}

// ----- conservation -----------------------------------------------------------------------------

/// offered == succeeded + failed (the figure the reports print), every measured request ended
/// exactly once, and a latency per success. (That `failed()` counts every outcome but success
/// once is a unit test in `src/sim/stats.rs`.)
fn assert_conserved(label: &str, result: &RunResult) {
    let succeeded = result.outcomes.get(Outcome::Succeeded);
    assert_eq!(
        result.offered,
        succeeded + result.outcomes.failed(),
        "{label}: offered vs succeeded + failed {:?}",
        result.outcomes
    );
    assert_eq!(
        result.outcomes.total(),
        result.offered,
        "{label}: every request ended once"
    );
    assert_eq!(
        result.latency.count(),
        succeeded,
        "{label}: a latency per succeeded request"
    );
}

#[test]
fn every_measured_request_ends_exactly_once() {
    let cases: [(&str, &[&str]); 8] = [
        (CONSERVATION, &[]),
        (CONSERVATION, &["policy.balancer=p2c", "scenario.seed=3"]),
        (CRN, &["service.server.workers=2"]),
        ("validation/mm1.toml", &["scenario.duration=20s"]),
        ("validation/mmc.toml", &["scenario.duration=10s"]),
        (
            "validation/mm1k.toml",
            &["scenario.duration=20s", "workload.load.rate=1500"],
        ),
        ("validation/mg1_lognormal.toml", &["scenario.duration=20s"]),
        // Overload with a short timeout: many requests still in the queue when they time out.
        (
            "validation/mm1.toml",
            &[
                "scenario.duration=5s",
                "workload.load.rate=1200",
                "policy.timeout=50ms",
            ],
        ),
    ];
    let mut results = Vec::new();
    for (file, overrides) in cases {
        let label = format!("{file} {overrides:?}");
        let model = common::load(file, overrides);
        let result = common::run(&model);
        assert!(result.offered > 1000, "{label}: offered {}", result.offered);
        assert_conserved(&label, &result);
        results.push((model, result));
    }
    // The fault scenario exercises every failure outcome but circuit_open (not produced yet).
    let (model, result) = &results[0];
    for outcome in [
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::Error,
        Outcome::Rejected,
    ] {
        assert!(
            result.outcomes.get(outcome) > 0,
            "conservation.toml shows no {}: {:?}",
            outcome.name(),
            result.outcomes
        );
    }
    // The edge sends one try per request to front (no retries there): front's try outcomes are
    // the end-to-end outcomes, one for one.
    let front = model
        .services
        .iter()
        .position(|s| s.name == "front")
        .expect("front");
    assert_eq!(model.services[front].policy.retries.max_retries, 0);
    assert_eq!(result.services[front].try_outcomes, result.outcomes);
    let back = model
        .services
        .iter()
        .position(|s| s.name == "back")
        .expect("back");
    assert!(
        result.services[back].retries > 0,
        "back's retries are exercised"
    );
    // The overloaded M/M/1 with a 50 ms timeout does time out.
    let overloaded = &results[7].1;
    assert!(
        overloaded.outcomes.get(Outcome::Timeout) > 0,
        "{:?}",
        overloaded.outcomes
    );
}

#[test]
fn summary_json_conserves_requests_and_matches_the_library() {
    let cases: [(&str, &[&str]); 2] = [
        (CONSERVATION, &[]),
        ("validation/mm1k.toml", &["scenario.duration=20s"]),
    ];
    for (index, (file, overrides)) in cases.into_iter().enumerate() {
        let mut extra = Vec::new();
        for o in overrides {
            extra.extend_from_slice(&["--set", o]);
        }
        let dir = run_binary(file, &format!("det-conserve-{index}"), &extra);
        let json = summary_json(&dir);
        let offered = u(&json, "/requests/offered");
        let succeeded = u(&json, "/requests/succeeded");
        let failed = u(&json, "/requests/failed");
        let outcomes = json
            .pointer("/requests/outcomes")
            .and_then(Value::as_object)
            .expect("outcomes");
        let names: Vec<&str> = outcomes.keys().map(String::as_str).collect();
        for outcome in Outcome::FAILURES {
            assert!(
                names.contains(&outcome.name()),
                "{file}: outcome {} missing in {names:?}",
                outcome.name()
            );
        }
        let sum: u64 = outcomes
            .values()
            .map(|v| v.as_u64().expect("a count"))
            .sum();
        assert_eq!(
            offered,
            succeeded + failed,
            "{file}: summary.json offered vs succeeded + failed"
        );
        assert_eq!(
            failed, sum,
            "{file}: summary.json failed vs the sum of outcomes"
        );
        assert_eq!(
            f(&json, "/availability"),
            succeeded as f64 / offered as f64,
            "{file}: availability"
        );
        // The binary and the library agree on the same model.
        let result = common::run(&common::load(file, overrides));
        assert_eq!(offered, result.offered, "{file}");
        assert_eq!(succeeded, result.outcomes.get(Outcome::Succeeded), "{file}");
        for outcome in Outcome::FAILURES {
            assert_eq!(
                u(&json, &format!("/requests/outcomes/{}", outcome.name())),
                result.outcomes.get(outcome),
                "{file}: {}",
                outcome.name()
            );
        }
        if file == CONSERVATION {
            assert!(failed > 0 && succeeded > 0);
            // Per service: front's tries (one per request) add up to the offered requests.
            let tries = json
                .pointer("/services/front/tries")
                .and_then(Value::as_object)
                .expect("front tries");
            let total: u64 = tries.values().map(|v| v.as_u64().expect("a count")).sum();
            assert_eq!(total, offered, "front's try outcomes vs offered");
        }
        cleanup(&[&dir]);
    }
}
