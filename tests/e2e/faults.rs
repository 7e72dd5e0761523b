//! Every fault kind shows its documented effect, in the run's figures and in its window rows.
//!
//! Scenarios live in `scenarios/validation/faults/`. Every expected value is derived here from the
//! loaded model's parameters (replicas, rates, fault times and sizes, timeouts); each tolerance
//! says where it comes from. Round robin from a single client (the workload at the edge, or a
//! one-replica caller) makes a replica's share of the tries exact to within one try, so most
//! shares below are checked tightly; random parts (error draws, Poisson counts) get about five
//! standard deviations.

use crate::common::{load, run, run_recorded};
use meshsim::model::{FaultKind, Model, Outcome};
use meshsim::sim::{MemoryRecorder, OutcomeCounts, RunResult};

/// One window row of the memory recorder.
type Row = (u64, String, u64, u64, OutcomeCounts, u64);

/// Index of the service called `name`.
fn service_index(model: &Model, name: &str) -> usize {
    model
        .services
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// The window rows of one service, in time order.
fn rows<'a>(recorder: &'a MemoryRecorder, service: &str) -> Vec<&'a Row> {
    let rows: Vec<&Row> = recorder
        .windows
        .iter()
        .filter(|row| row.1 == service)
        .collect();
    assert!(!rows.is_empty(), "no window rows for {service}");
    rows
}

/// Sum over the rows whose window starts in `[from, to)` of `count(outcomes)`.
fn sum_between(rows: &[&Row], from: u64, to: u64, count: impl Fn(&OutcomeCounts) -> u64) -> u64 {
    rows.iter()
        .filter(|row| row.0 >= from && row.0 < to)
        .map(|row| count(&row.4))
        .sum()
}

/// The fault's start and end, checked to lie on window boundaries (so that "windows during the
/// fault" is well defined).
fn fault_interval(model: &Model) -> (u64, u64) {
    let fault = &model.faults[0];
    let until = fault.until.expect("the fault has an end");
    assert_eq!(
        fault.at % model.window,
        0,
        "fault start on a window boundary"
    );
    assert_eq!(until % model.window, 0, "fault end on a window boundary");
    (fault.at, until)
}

/// The workload's rate, requests per second.
fn offered_rate(model: &Model) -> f64 {
    assert_eq!(model.workloads.len(), 1);
    model.workloads[0].rate
}

fn ms(nanos: f64) -> f64 {
    nanos / 1e6
}

fn secs(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

/// Outcomes other than succeeded and `allowed` are zero end to end.
fn assert_only_failure(result: &RunResult, allowed: Outcome) {
    for outcome in Outcome::FAILURES {
        if outcome != allowed {
            assert_eq!(
                result.outcomes.get(outcome),
                0,
                "unexpected {} failures",
                outcome.name()
            );
        }
    }
}

/// Standard deviation of the fraction of a window's tries that time out when the tries to a
/// `share` of the replicas (round robin: exact to within one) time out `delay` after they were
/// sent, under Poisson arrivals at `rate` per second and `window` seconds: the timeouts belong to
/// the arrivals of the window shifted back by `delay`, so the fraction is share x A' / ((1 -
/// share) A + share A'), whose wobble around `share` comes from the two `delay` slices where the
/// intervals differ: share (1 - share) sqrt(2 rate delay) / (rate window).
fn shifted_fraction_sd(share: f64, rate: f64, delay_s: f64, window_s: f64) -> f64 {
    share * (1.0 - share) * (2.0 * rate * delay_s).sqrt() / (rate * window_s)
}

// ----- crash -------------------------------------------------------------------------------

#[test]
fn crash_with_static_registry_refuses_the_replicas_share_only_while_it_lasts() {
    let model = load("validation/faults/crash.toml", &[]);
    assert_eq!(model.registry, meshsim::model::RegistryModel::Static);
    assert_eq!(model.faults[0].kind, FaultKind::Crash);
    let (at, until) = fault_interval(&model);
    let window = model.window;
    let api = &model.services[service_index(&model, "api")];
    // A static view keeps the crashed replica: round robin still sends it 1/N of the tries.
    let share = 1.0 / api.replicas as f64;
    let (result, recorder) = run_recorded(&model);
    let rows = rows(&recorder, "api");
    let refused = |o: &OutcomeCounts| o.get(Outcome::Refused);

    for row in &rows {
        let (start, counts) = (row.0, &row.4);
        if start + window <= at {
            assert_eq!(
                refused(counts),
                0,
                "refusal before the crash, window at {}s",
                secs(start)
            );
        } else if start >= at && start + window <= until {
            // Round robin is exact; the only slack is tries straddling the window's edges.
            let fraction = refused(counts) as f64 / counts.total() as f64;
            assert!(
                (fraction - share).abs() <= 0.02,
                "window {}s: refused {fraction:.4}, expected {share}",
                secs(start)
            );
        } else if start >= until && start < until + window {
            // Only tries refused before the end whose answer is still on the wire (expected
            // rate x share x one hop = 1000 x 1/4 x 0.25 ms ~ 0.06).
            assert!(
                refused(counts) <= 3,
                "window {}s after the restart: {} refused",
                secs(start),
                refused(counts)
            );
        } else {
            assert_eq!(
                refused(counts),
                0,
                "refusal after the restart, window at {}s",
                secs(start)
            );
        }
    }
    let during_refused = sum_between(&rows, at, until, refused);
    let during_tries = sum_between(&rows, at, until, OutcomeCounts::total);
    let fraction = during_refused as f64 / during_tries as f64;
    assert!(
        (fraction - share).abs() <= 0.005,
        "refused {fraction:.4} of {during_tries} tries during the crash, expected {share}"
    );

    // End to end: only refusals, exactly those the windows counted (one try per request, the
    // fault inside the measured interval), about share x rate x fault length.
    assert_only_failure(&result, Outcome::Refused);
    let all_refused: u64 = rows.iter().map(|row| refused(&row.4)).sum();
    assert_eq!(result.outcomes.get(Outcome::Refused), all_refused);
    let expected = share * offered_rate(&model) * secs(until - at);
    let observed = all_refused as f64;
    // Poisson count of the fault's arrivals: sd = share x sqrt(rate x length) = 25; 5% ~ 5 sd.
    assert!(
        (observed - expected).abs() <= 0.05 * expected,
        "refused {observed}, expected {expected:.0}"
    );

    // The fault is in events.csv's source, at its times (whatever else is listed there).
    let events: Vec<_> = recorder
        .events
        .iter()
        .filter(|e| e.kind.starts_with("fault_"))
        .map(|e| (e.time, e.kind, e.subject.as_str(), e.detail.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            (at, "fault_start", "api#1", "crash"),
            (until, "fault_end", "api#1", "crash")
        ]
    );
}

#[test]
fn crash_with_oracle_registry_refuses_only_what_the_replica_held() {
    let static_model = load("validation/faults/crash.toml", &[]);
    let model = load("validation/faults/crash.toml", &["registry.model=oracle"]);
    assert_eq!(model.registry, meshsim::model::RegistryModel::Oracle);
    let (at, _) = fault_interval(&model);
    let window = model.window;
    let api = service_index(&model, "api");
    let (result, recorder) = run_recorded(&model);
    let static_refused = run(&static_model).outcomes.get(Outcome::Refused);

    // With an oracle registry the crashed replica leaves every view at once. Refused are only the
    // jobs it held at the crash (Little: rate x share x mean service time = 1000 x 1/4 x 1 ms =
    // 0.25 on average, no queueing at 8 workers) and tries already on the wire to it (rate x
    // share x hop = 0.06). Poisson(0.31) exceeds 5 with probability ~1e-6.
    let replicas = model.services[api].replicas as f64;
    let service_ms = ms(model.endpoints[model.services[api].endpoints[0]]
        .service_time
        .mean());
    let hop_ms = ms(model.network.latency.mean());
    let expected_held = offered_rate(&model) / replicas * (service_ms + hop_ms) / 1000.0;
    assert!(
        expected_held < 0.5,
        "test premise: few jobs held ({expected_held})"
    );
    let refused = result.outcomes.get(Outcome::Refused);
    assert!(
        refused <= 5,
        "oracle: {refused} refused, expected about {expected_held:.2}"
    );
    assert!(
        refused * 100 <= static_refused,
        "oracle {refused} vs static {static_refused}: not far fewer"
    );
    assert_only_failure(&result, Outcome::Refused);
    assert_eq!(
        result.outcomes.get(Outcome::Succeeded) + refused,
        result.offered
    );
    // Whatever was refused was refused at the crash, in its window.
    for row in rows(&recorder, "api") {
        if row.0 != at - at % window {
            assert_eq!(
                row.4.get(Outcome::Refused),
                0,
                "refusal in window {}s",
                secs(row.0)
            );
        }
    }
}

// ----- hang --------------------------------------------------------------------------------

#[test]
fn hang_times_out_the_replicas_share_only_during_the_fault() {
    let model = load("validation/faults/hang.toml", &[]);
    assert_eq!(model.faults[0].kind, FaultKind::Hang);
    let (at, until) = fault_interval(&model);
    let window = model.window;
    let api = &model.services[service_index(&model, "api")];
    let timeout = api.policy.timeout;
    let share = 1.0 / api.replicas as f64;
    let (result, recorder) = run_recorded(&model);
    let rows = rows(&recorder, "api");
    let timeouts = |o: &OutcomeCounts| o.get(Outcome::Timeout);

    let mut checked_windows = 0;
    for row in &rows {
        let (start, counts) = (row.0, &row.4);
        if start + window <= at || start >= until + timeout {
            // A try to the hung replica times out `timeout` after it was sent: nothing before the
            // hang, nothing later than `timeout` after it ends.
            assert_eq!(
                timeouts(counts),
                0,
                "timeout outside the hang, window at {}s",
                secs(start)
            );
        } else if start >= at + timeout && start + window <= until {
            // Timeouts seen here are the hung replica's tries of a window shifted back by
            // `timeout`: still 1/N of all tries, up to the Poisson wobble of the two slices
            // where the intervals differ (sd 0.0027 here), plus a try or two of round robin's
            // and the edges' rounding.
            let sd = shifted_fraction_sd(share, offered_rate(&model), secs(timeout), secs(window));
            let tolerance = 5.0 * sd + 2.0 / counts.total() as f64;
            let fraction = timeouts(counts) as f64 / counts.total() as f64;
            assert!(
                (fraction - share).abs() <= tolerance,
                "window {}s: timeouts {fraction:.4}, expected {share} +- {tolerance:.4}",
                secs(start)
            );
            checked_windows += 1;
        }
    }
    assert!(
        checked_windows >= 5,
        "{checked_windows} windows inside the hang"
    );
    assert_only_failure(&result, Outcome::Timeout);
    let all_timeouts: u64 = rows.iter().map(|row| timeouts(&row.4)).sum();
    assert_eq!(result.outcomes.get(Outcome::Timeout), all_timeouts);
    let expected = share * offered_rate(&model) * secs(until - at);
    let observed = all_timeouts as f64;
    // Poisson count of the hang's arrivals: sd 1% of the expectation; 5% ~ 5 sd.
    assert!(
        (observed - expected).abs() <= 0.05 * expected,
        "timeouts {observed}, expected {expected:.0}"
    );
    // No success ever waited on the hung replica.
    assert!(
        result.latency.max_nanos() < timeout,
        "a success took {} ms",
        ms(result.latency.max_nanos() as f64)
    );
}

// ----- slow --------------------------------------------------------------------------------

#[test]
fn slow_raises_latency_by_the_factor_on_the_slow_replicas_share() {
    let model = load("validation/faults/slow.toml", &[]);
    let FaultKind::Slow { factor } = model.faults[0].kind else {
        panic!("not a slow fault")
    };
    assert!(
        model.faults[0].at <= model.warmup && model.faults[0].until.is_none(),
        "whole measured run"
    );
    let mut baseline = model.clone();
    baseline.faults.clear();
    let api = service_index(&model, "api");
    let share = 1.0 / model.services[api].replicas as f64;
    let slow = run(&model);
    let base = run(&baseline);

    // No queueing (64 workers, at most ~2.5 busy): a request's time at the replica is its service
    // time, multiplied by `factor` on the slow replica's share of the requests. Common random
    // numbers give both runs the same service times.
    let expected_ratio = 1.0 + share * (factor - 1.0);
    let service_ratio =
        slow.services[api].latency.mean_nanos() / base.services[api].latency.mean_nanos();
    // The share of the slow replica's exp draws in the total varies by ~1.1% (sd); 5% ~ 4.5 sd.
    assert!(
        (service_ratio / expected_ratio - 1.0).abs() <= 0.05,
        "service mean x{service_ratio:.3}, expected x{expected_ratio:.3}"
    );
    // Busy time grows by the same factor, so does the utilization.
    let busy_ratio = slow.services[api].busy_worker_nanos / base.services[api].busy_worker_nanos;
    assert!(
        (busy_ratio / expected_ratio - 1.0).abs() <= 0.05,
        "busy time x{busy_ratio:.3}, expected x{expected_ratio:.3}"
    );
    // End to end, the network hops are unchanged: the mean shifts by what the service's did.
    let service_shift =
        slow.services[api].latency.mean_nanos() - base.services[api].latency.mean_nanos();
    let e2e_shift = slow.latency.mean_nanos() - base.latency.mean_nanos();
    assert!(
        (e2e_shift / service_shift - 1.0).abs() <= 0.02,
        "end-to-end shift {e2e_shift} ns vs service shift {service_shift} ns"
    );
    assert_eq!(slow.outcomes.failed(), 0);
    assert_eq!(base.outcomes.failed(), 0);
}

// ----- errors ------------------------------------------------------------------------------

#[test]
fn errors_fail_rate_times_share_of_the_load_only_during_the_fault() {
    let model = load("validation/faults/errors.toml", &[]);
    let FaultKind::Errors { rate } = model.faults[0].kind else {
        panic!("not an errors fault")
    };
    let (at, until) = fault_interval(&model);
    let window = model.window;
    let share = 1.0 / model.services[service_index(&model, "api")].replicas as f64;
    let expected_fraction = rate * share;
    let (result, recorder) = run_recorded(&model);
    let rows = rows(&recorder, "api");
    let errors = |o: &OutcomeCounts| o.get(Outcome::Error);
    // Errors among `tries` tries: Binomial(tries x share, rate), so the fraction's sd is
    // sqrt(share x rate x (1 - rate) / tries).
    let five_sd = |tries: u64| 5.0 * (share * rate * (1.0 - rate) / tries as f64).sqrt();

    for row in &rows {
        let (start, counts) = (row.0, &row.4);
        if start + window <= at || start >= until + window {
            assert_eq!(
                errors(counts),
                0,
                "error outside the fault, window at {}s",
                secs(start)
            );
        } else if start >= until {
            // Only answers computed before the end and still on the wire (~0.06 expected).
            assert!(
                errors(counts) <= 3,
                "window {}s after the fault: {} errors",
                secs(start),
                errors(counts)
            );
        } else {
            let fraction = errors(counts) as f64 / counts.total() as f64;
            let tolerance = five_sd(counts.total());
            assert!(
                (fraction - expected_fraction).abs() <= tolerance,
                "window {}s: errors {fraction:.4}, expected {expected_fraction} +- {tolerance:.4}",
                secs(start)
            );
        }
    }
    let during_errors = sum_between(&rows, at, until, errors);
    let during_tries = sum_between(&rows, at, until, OutcomeCounts::total);
    let fraction = during_errors as f64 / during_tries as f64;
    let tolerance = five_sd(during_tries);
    assert!(
        (fraction - expected_fraction).abs() <= tolerance,
        "errors {fraction:.4} during the fault, expected {expected_fraction} +- {tolerance:.4}"
    );
    assert_only_failure(&result, Outcome::Error);
    let all_errors: u64 = rows.iter().map(|row| errors(&row.4)).sum();
    assert_eq!(result.outcomes.get(Outcome::Error), all_errors);
}

// ----- latency -----------------------------------------------------------------------------

#[test]
fn latency_adds_twice_the_delay_on_the_replicas_share() {
    let model = load("validation/faults/latency.toml", &[]);
    let FaultKind::Latency { add } = model.faults[0].kind else {
        panic!("not a latency fault")
    };
    assert!(
        model.faults[0].at <= model.warmup && model.faults[0].until.is_none(),
        "whole measured run"
    );
    let mut baseline = model.clone();
    baseline.faults.clear();
    let api = service_index(&model, "api");
    let share = 1.0 / model.services[api].replicas as f64;
    let delayed = run(&model);
    let base = run(&baseline);

    // `add` is one way, to and from the replica: its requests take 2 x add longer. Round robin
    // gives it exactly `share` of them; no queueing and common random numbers leave the rest of
    // each request unchanged, so the mean moves by share x 2 x add.
    let expected_shift = share * 2.0 * add as f64;
    let shift = delayed.latency.mean_nanos() - base.latency.mean_nanos();
    assert!(
        (shift / expected_shift - 1.0).abs() <= 0.01,
        "mean shift {:.3} ms, expected {:.3} ms",
        ms(shift),
        ms(expected_shift)
    );
    // The time spent at the replica is not network time: unchanged.
    let service_ratio =
        delayed.services[api].latency.mean_nanos() / base.services[api].latency.mean_nanos();
    assert!(
        (service_ratio - 1.0).abs() <= 0.01,
        "service mean x{service_ratio:.4}"
    );
    // A quarter of the requests carry the delay: the median does not, the 90th percentile does.
    assert!(share < 0.5 && share > 0.1, "test premise");
    assert!(
        delayed.latency.quantile_nanos(0.5) < add,
        "p50 {} ms",
        ms(delayed.latency.quantile_nanos(0.5) as f64)
    );
    assert!(
        delayed.latency.quantile_nanos(0.9) > 2 * add,
        "p90 {} ms",
        ms(delayed.latency.quantile_nanos(0.9) as f64)
    );
    assert_eq!(delayed.outcomes.failed(), 0);
}

// ----- partition ---------------------------------------------------------------------------

#[test]
fn partition_times_out_calls_across_the_cut_only_while_it_lasts() {
    let model = load("validation/faults/partition.toml", &[]);
    let FaultKind::Partition { side_a, side_b } = &model.faults[0].kind else {
        panic!("not a partition")
    };
    let (at, until) = fault_interval(&model);
    let window = model.window;
    let (front, back) = (
        service_index(&model, "front"),
        service_index(&model, "back"),
    );
    assert_eq!(
        model.services[front].replicas, 1,
        "one caller, one round robin client"
    );
    let caller_zone = model.services[front].replica_zones[0];
    let cut_side = if side_a.contains(&caller_zone) {
        side_b
    } else {
        side_a
    };
    // The caller's calls to back replicas on the far side of the cut are dropped.
    let back_zones = &model.services[back].replica_zones;
    let share =
        back_zones.iter().filter(|z| cut_side.contains(z)).count() as f64 / back_zones.len() as f64;
    assert!(
        share > 0.0 && share < 1.0,
        "test premise: the cut separates some back replicas"
    );
    let back_timeout = model.services[back].policy.timeout;
    assert!(
        back_timeout < model.services[front].policy.timeout,
        "test premise: front outlives its call"
    );

    let (result, recorder) = run_recorded(&model);
    let front_rows = rows(&recorder, "front");
    let rows = rows(&recorder, "back");
    let timeouts = |o: &OutcomeCounts| o.get(Outcome::Timeout);
    let mut checked_windows = 0;
    for row in &rows {
        let (start, counts) = (row.0, &row.4);
        if start + window <= at || start >= until + back_timeout {
            assert_eq!(
                timeouts(counts),
                0,
                "timeout outside the partition, window at {}s",
                secs(start)
            );
        } else if start >= at + back_timeout && start + window <= until {
            // Round robin sends exactly `share` of the calls across the cut; they time out
            // `back_timeout` later, so a window's timeouts are the tries of a window shifted
            // back by `back_timeout`. The two intervals differ by two slices of Poisson
            // arrivals (~50 calls each at 500/s): sd 0.005 here, plus a try or two of rounding.
            let sd = shifted_fraction_sd(
                share,
                offered_rate(&model),
                secs(back_timeout),
                secs(window),
            );
            let tolerance = 5.0 * sd + 2.0 / counts.total() as f64;
            let fraction = timeouts(counts) as f64 / counts.total() as f64;
            assert!(
                (fraction - share).abs() <= tolerance,
                "window {}s: timeouts {fraction:.4}, expected {share} +- {tolerance:.4}",
                secs(start)
            );
            checked_windows += 1;
        }
    }
    assert!(
        checked_windows >= 5,
        "{checked_windows} windows inside the partition"
    );
    // Over the whole fault the shifted slices cancel but at the two ends: the same wobble over
    // the span of the fault's whole windows (sd 0.0006 here), 5 sd.
    let (from, to) = (at + back_timeout.div_ceil(window) * window, until);
    let span_sd = shifted_fraction_sd(
        share,
        offered_rate(&model),
        secs(back_timeout),
        secs(to - from),
    );
    let fraction = sum_between(&rows, from, to, timeouts) as f64
        / sum_between(&rows, from, to, OutcomeCounts::total) as f64;
    assert!(
        (fraction - share).abs() <= 5.0 * span_sd,
        "timeouts {fraction:.4} during the partition, expected {share} +- {:.4}",
        5.0 * span_sd
    );
    // Nothing else fails at back; the edge has no zone, so front is never cut off.
    for row in &rows {
        assert_eq!(row.4.failed(), timeouts(&row.4), "window {}s", secs(row.0));
    }
    for row in &front_rows {
        assert_eq!(timeouts(&row.4), 0, "front timed out at {}s", secs(row.0));
    }
    // End to end: each timed-out call makes front answer `error` (a required call failed).
    assert_only_failure(&result, Outcome::Error);
    assert_eq!(
        result.outcomes.get(Outcome::Error),
        result.services[back].try_outcomes.get(Outcome::Timeout)
    );
    let expected = share * offered_rate(&model) * secs(until - at);
    let observed = result.outcomes.get(Outcome::Error) as f64;
    // Poisson count of the partition's arrivals: sd = share x sqrt(5000) ~ 1.4%; 7% ~ 5 sd.
    assert!(
        (observed - expected).abs() <= 0.07 * expected,
        "errors {observed}, expected {expected:.0}"
    );
}

// ----- retries -----------------------------------------------------------------------------

#[test]
fn retries_raise_availability_above_the_no_retry_level() {
    let model = load("validation/faults/retries.toml", &[]);
    let without = load("validation/faults/retries.toml", &["policy.retries.max=0"]);
    let FaultKind::Errors { rate: r } = model.faults[0].kind else {
        panic!("not an errors fault")
    };
    let api = service_index(&model, "api");
    assert_eq!(model.services[api].replicas, 2);
    assert_eq!(model.registry, meshsim::model::RegistryModel::Static);
    let max_retries = model.services[api].policy.retries.max_retries;
    assert_eq!(max_retries, 2);
    assert_eq!(without.services[api].policy.retries.max_retries, 0);
    assert!(model.services[api].policy.retries.retry_on[Outcome::Error.index()]);
    let with_retries = run(&model);
    let no_retries = run(&without);

    // Without retries: round robin over the edge's single client sends exactly half of the
    // requests to the bad replica, which fails each with probability r: failure fraction r/2.
    let n0 = no_retries.offered as f64;
    let f0 = no_retries.outcomes.failed() as f64 / n0;
    let sd0 = (0.5 * r * (1.0 - r) / n0).sqrt();
    assert!(
        (f0 - r / 2.0).abs() <= 5.0 * sd0,
        "no retries: failed {f0:.4}, expected {}",
        r / 2.0
    );

    // With up to 2 retries a request fails only if all three tries fail, and only tries landing
    // on the bad replica can fail. Worst case, every retry lands there: P(fail) <= 1/2 x r^3.
    // In fact the client's round robin counter is shared with every other request: between a
    // failed try and its retry (full-jitter backoff up to 25 ms, then 50 ms) about a dozen other
    // picks happen at 1000/s, so the retry's parity is a fair coin and P(fail) ~ 1/2 x r x (r/2)
    // x (r/2) = r^3 / 8.
    // The coin is very slightly biased: the retry lands on the bad replica when an odd number
    // of other picks came between, probability (1 - E[exp(-2 L)]) / 2 for a Poisson number of
    // picks with mean L; over a backoff uniform on [0, b] at >= 1000 picks/s, E[exp(-2 L)] <=
    // 1 / (2 x 1000 x b): at most 2% (b = 25 ms) and 1% (b = 50 ms), so the estimate is at most
    // ~3% high. The failures are Binomial(n, f): sd sqrt(f / n), 5% of the estimate at n =
    // 25,000; the band is 5 sd around the estimate, widened downwards by the 3%.
    let n = with_retries.offered as f64;
    let failed = with_retries.outcomes.failed() as f64;
    let f = failed / n;
    let bound = r.powi(3) / 2.0;
    let estimate = r.powi(3) / 8.0;
    let sd = (bound / n).sqrt();
    assert!(
        f <= bound + 5.0 * sd,
        "with retries: failed {f:.4} above the worst case {bound:.4}"
    );
    let estimate_sd = (estimate / n).sqrt();
    let (low, high) = (
        0.97 * estimate - 5.0 * estimate_sd,
        estimate + 5.0 * estimate_sd,
    );
    assert!(
        f >= low && f <= high,
        "with retries: failed {f:.4}, estimate {estimate:.4}, band [{low:.4}, {high:.4}]"
    );
    assert!(f < f0 / 4.0, "retries barely help: {f:.4} vs {f0:.4}");
    assert!(with_retries.availability() > no_retries.availability() + 0.2);
    assert_only_failure(&with_retries, Outcome::Error);

    // Retries sent: one per failed first try (n x r/2), plus one per failed second try (at most
    // n x r/2 x r when every second try lands on the bad replica).
    let retries = with_retries.services[api].retries as f64;
    let (low, high) = (n * r / 2.0, n * r / 2.0 * (1.0 + r));
    assert!(
        retries >= 0.95 * low && retries <= 1.05 * high,
        "retries {retries}, expected in [{low:.0}, {high:.0}]"
    );
    assert_eq!(no_retries.services[api].retries, 0);
}

// ----- overlapping faults ------------------------------------------------------------------

#[test]
fn overlapping_faults_on_one_replica_each_last_their_own_interval() {
    // api#0 crashed over [10 s, 20 s), the whole service over [13 s, 16 s); errors 0.5 on api#1
    // over [10 s, 20 s) and 0.1 more over [12 s, 13 s). Round robin over two replicas under a
    // static registry gives each replica half of the tries (exactly, to within one try).
    let model = load("validation/faults/overlap.toml", &[]);
    let (_, recorder) = run_recorded(&model);
    let api = rows(&recorder, "api");
    let second = 1_000_000_000u64;
    let fraction = |from: u64, to: u64, outcome: Outcome| {
        let hits = sum_between(&api, from * second, to * second, |o| o.get(outcome)) as f64;
        let tries = sum_between(&api, from * second, to * second, |o| o.total()) as f64;
        hits / tries
    };
    // Refusals are deterministic shares: +-0.02 covers the one-try rounding per window and the
    // tries on the wire at the edges.
    for (from, to, expected) in [(10, 13, 0.5), (13, 16, 1.0), (16, 20, 0.5), (21, 25, 0.0)] {
        let refused = fraction(from, to, Outcome::Refused);
        assert!(
            (refused - expected).abs() < 0.02,
            "refused {refused:.4} in [{from}s, {to}s), expected {expected}"
        );
    }
    // Errors: half the tries go to api#1; its rate is 0.5, or 1 - (1 - 0.5)(1 - 0.1) = 0.55
    // while both faults are on; none while it is crashed. Binomial tolerance: about 5 sd of the
    // fraction over the interval's ~1000 tries per second.
    let combined = 1.0 - (1.0 - 0.5) * (1.0 - 0.1);
    for (from, to, expected) in [
        (10, 12, 0.25),
        (12, 13, 0.5 * combined),
        (13, 16, 0.0),
        (16, 20, 0.25),
        (21, 25, 0.0),
    ] {
        let tries = 1000.0 * (to - from) as f64;
        let tolerance = 5.0 * (expected * (1.0 - expected) / tries).sqrt() + 0.002;
        let errors = fraction(from, to, Outcome::Error);
        assert!(
            (errors - expected).abs() < tolerance,
            "errors {errors:.4} in [{from}s, {to}s), expected {expected:.4} +- {tolerance:.4}"
        );
    }
}
