//! The metastable retry storm of `scenarios/metastable.toml` (Bronson et al., HotOS 2021): after
//! a 15 s load spike, the service without a retry budget stays down until the end of the run;
//! with a budget and backoff it recovers; without the spike it never goes down. Read from the
//! end-to-end rows of `timeseries.csv` written by the `meshsim` binary. The figures asserted
//! are those docs/testing.md states for the story.

use crate::common::{load, meshsim, run, temp_dir};
use meshsim::model::Outcome;

const SCENARIO: &str = "scenarios/metastable.toml";
/// The budgeted retry policy (the second variant of the file's `[compare]` block).
const BUDGETED: &str = "policy.retries={ max = 3, per_try_timeout = \"50ms\", backoff = \"25ms\", \
                        max_backoff = \"250ms\", on = [\"timeout\", \"rejected\"], budget = 0.1 }";

/// End-to-end availability per window start (seconds) from `timeseries.csv`: requests that
/// succeeded over requests that ended in the window.
fn edge_windows(csv: &str) -> Vec<(f64, u64, u64)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|&c| c == name).expect(name);
    let (time, service, succeeded) = (column("time_s"), column("service"), column("succeeded"));
    let failures: Vec<usize> = Outcome::FAILURES.iter().map(|o| column(o.name())).collect();
    lines
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|row| row[service] == "(end-to-end)")
        .map(|row| {
            let count = |i: usize| row[i].parse::<u64>().expect("a count");
            let failed = failures.iter().map(|&i| count(i)).sum();
            (row[time].parse().expect("a time"), count(succeeded), failed)
        })
        .collect()
}

/// Availability of the requests ending in windows starting in `[from, to)` seconds.
fn availability(windows: &[(f64, u64, u64)], from: f64, to: f64) -> f64 {
    let (succeeded, failed) = windows
        .iter()
        .filter(|w| w.0 >= from && w.0 < to)
        .fold((0, 0), |(s, f), w| (s + w.1, f + w.2));
    assert!(
        succeeded + failed > 1000,
        "windows {from}..{to} are nearly empty"
    );
    succeeded as f64 / (succeeded + failed) as f64
}

/// Runs the scenario with `settings`; returns its end-to-end windows.
fn run_windows(name: &str, settings: &[&str]) -> Vec<(f64, u64, u64)> {
    let dir = temp_dir(name);
    let out = dir.to_string_lossy().to_string();
    let mut args = vec!["run", SCENARIO, "--quiet", "--out", out.as_str()];
    for setting in settings {
        args.extend_from_slice(&["--set", setting]);
    }
    let output = meshsim(&args);
    assert!(output.status.success(), "{output:?}");
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).expect("timeseries.csv");
    let _ = std::fs::remove_dir_all(&dir);
    edge_windows(&csv)
}

/// Requests that ended in the windows starting in `[from, to)` seconds: (succeeded, failed).
fn ended(windows: &[(f64, u64, u64)], from: f64, to: f64) -> (u64, u64) {
    windows
        .iter()
        .filter(|w| w.0 >= from && w.0 < to)
        .fold((0, 0), |(s, f), w| (s + w.1, f + w.2))
}

/// What the scenario's documentation (docs/testing.md, the README's story) claims, asserted
/// figure for figure: availability 100% before the spike; the spike fails (nearly) everything;
/// without a budget 0% (to the percent) in the last 20 s; with a budget back above 99% in every
/// window from a second after the spike's end; without the spike not one failure.
#[test]
fn retry_storm_outlives_its_trigger_without_a_budget_and_not_with_one() {
    let model = load("metastable.toml", &[]);
    let spike = &model.workloads[0].schedule;
    assert_eq!(spike.len(), 2, "a spike and its end");
    let (spike_start, spike_end) = (spike[0].at as f64 / 1e9, spike[1].at as f64 / 1e9);
    let (warmup, end) = (model.warmup as f64 / 1e9, model.duration as f64 / 1e9);
    let window = model.window as f64 / 1e9;
    assert!(model.services[0].policy.retries.budget.is_none());
    assert!(!model.services[0].policy.deadline_propagation);
    assert!(end - spike_end >= 30.0, "a long tail after the trigger");

    let storm = run_windows("metastable-storm", &[]);
    let budgeted = run_windows("metastable-budget", &[BUDGETED]);
    for (label, windows) in [("no budget", &storm), ("budget", &budgeted)] {
        let (succeeded, failed) = ended(windows, warmup, spike_start);
        assert!(succeeded > 1000, "{label}: load before the trigger");
        assert_eq!(failed, 0, "{label}: 100% before the trigger");
        // Once the queues have filled (2 s), the spike fails nearly everything.
        let during = availability(windows, spike_start + 2.0, spike_end);
        assert!(during < 0.05, "{label}: the spike overloads it ({during})");
    }
    // The last 20 s, well after the trigger ended: 0% to the percent.
    let tail = (end - 20.0, end);
    let stuck = availability(&storm, tail.0, tail.1);
    assert!(stuck < 0.005, "without a budget it stays down: {stuck}");
    // With a budget: above 99% in every window from a second after the spike's end.
    let mut recovered_windows = 0;
    for &(start, succeeded, failed) in &budgeted {
        if start >= spike_end + 1.0 && start + window <= end {
            let available = succeeded as f64 / (succeeded + failed) as f64;
            assert!(
                available > 0.99,
                "with a budget, window at {start} s: {available}"
            );
            recovered_windows += 1;
        }
    }
    assert!(
        recovered_windows >= 20,
        "{recovered_windows} windows after the spike"
    );

    // Without the trigger the same system never fails: the storm needs the spike to start.
    let calm = run_windows("metastable-calm", &["workload.clients.schedule=[]"]);
    let (succeeded, failed) = ended(&calm, warmup, end);
    assert!(succeeded > 10_000, "{succeeded}");
    assert_eq!(failed, 0, "no spike, no storm");
}

#[test]
fn the_storm_is_sustained_by_work_on_abandoned_requests() {
    // The server keeps serving tries whose caller has timed out: most of its busy time after
    // the spike is wasted (no deadline propagation), which keeps the queues full.
    let result = run(&load("metastable.toml", &[]));
    let api = &result.services[0];
    assert!(
        api.wasted_nanos as f64 > 0.5 * api.busy_worker_nanos,
        "wasted {} of {} busy ns",
        api.wasted_nanos,
        api.busy_worker_nanos
    );
    assert!(api.retries > 2 * result.offered, "{} retries", api.retries);
}
