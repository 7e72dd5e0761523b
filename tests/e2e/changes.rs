//! Config changes of any policy key (docs/operations.md, "Config changes"): for each family of
//! mechanism — balancer, limits, circuit breaker, hedging, outlier detection, health checks —
//! a change whose effect on every try is predicted here, client by client, from the run's own
//! trace and each client's switching instant, never copied from a run. Plus the errors.

use crate::common::{meshsim, temp_dir, write_file};
use meshsim::model::{Model, Outcome};
use meshsim::sim::{EventRecord, Recorder, Simulation, TraceEvent, TryKind, WindowRow};
use std::collections::BTreeMap;

const SECOND: u64 = 1_000_000_000;
const MILLISECOND: u64 = 1_000_000;

fn load_text(text: &str) -> Model {
    meshsim::scenario::load_str(text, "changes.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|errors| panic!("{errors}"))
}

/// One try as the trace tells it.
#[derive(Debug, Clone)]
struct Try {
    /// The calling replica's slot (`u32::MAX`: a workload).
    caller: u32,
    /// The calling job's key (identifies the call with the endpoint: one call per job here).
    parent: u64,
    kind: TryKind,
    sent: u64,
    /// Replica slot it reached, if it reached one.
    replica: Option<u32>,
    /// When it reached it.
    started: Option<u64>,
    /// How and when it ended at its caller (`None` outcome: lost to another try).
    ended: Option<(Option<Outcome>, u64)>,
    /// How and when its job ended at the replica.
    job_ended: Option<(Outcome, u64)>,
}

/// Keeps the tries (in the order they were sent) and the events.
#[derive(Default)]
struct TryLog {
    tries: Vec<Try>,
    by_key: BTreeMap<u64, usize>,
    /// The trace in order: (true: sent, false: ended), try index.
    sequence: Vec<(bool, usize)>,
    events: Vec<EventRecord>,
}

impl Recorder for TryLog {
    const TRACES: bool = true;

    fn trace(&mut self, event: &TraceEvent) {
        match *event {
            TraceEvent::TrySent {
                try_key,
                parent,
                caller_replica,
                kind,
                at,
                ..
            } => {
                self.by_key.insert(try_key, self.tries.len());
                self.sequence.push((true, self.tries.len()));
                self.tries.push(Try {
                    caller: caller_replica,
                    parent,
                    kind,
                    sent: at,
                    replica: None,
                    started: None,
                    ended: None,
                    job_ended: None,
                });
            }
            TraceEvent::JobStarts {
                try_key,
                replica,
                at,
                ..
            } => {
                if let Some(&index) = self.by_key.get(&try_key) {
                    self.tries[index].replica = Some(replica);
                    self.tries[index].started = Some(at);
                }
            }
            TraceEvent::TryEnds {
                try_key,
                outcome,
                at,
            } => {
                if let Some(&index) = self.by_key.get(&try_key) {
                    self.tries[index].ended = Some((outcome, at));
                    self.sequence.push((false, index));
                }
            }
            TraceEvent::JobEnds {
                try_key,
                outcome,
                at,
            } => {
                if let Some(&index) = self.by_key.get(&try_key) {
                    self.tries[index].job_ended = Some((outcome, at));
                }
            }
            _ => {}
        }
    }

    fn window(&mut self, _row: &WindowRow<'_>) {}

    fn event(&mut self, record: &EventRecord) {
        self.events.push(record.clone());
    }
}

fn run_logged(model: &Model) -> TryLog {
    let (result, log) = Simulation::run(model, TryLog::default());
    assert!(result.stopped.is_none(), "{:?}", result.stopped);
    log
}

/// The instant each gateway replica's client of `api` switched (by the gateway's replica index,
/// which is its slot: the gateway is the first service).
fn switch_times(log: &TryLog, replicas: usize) -> Vec<u64> {
    let mut times = vec![u64::MAX; replicas];
    for event in log.events.iter().filter(|e| e.kind == "config_switch") {
        if let Some(caller) = event
            .subject
            .strip_prefix("gateway#")
            .and_then(|rest| rest.strip_suffix(" -> api"))
        {
            let index: usize = caller.parse().expect("a replica index");
            assert_eq!(times[index], u64::MAX, "one switch per client");
            times[index] = event.time;
        }
    }
    assert!(
        times.iter().all(|&t| t != u64::MAX),
        "every client switches"
    );
    times
}

/// Kolmogorov-Smirnov distance of `times` from the uniform distribution on
/// `[at, at + window]`.
fn ks_distance(times: &[u64], at: u64, window: u64) -> f64 {
    let mut u: Vec<f64> = times
        .iter()
        .map(|&t| (t - at) as f64 / window as f64)
        .collect();
    u.sort_by(f64::total_cmp);
    let n = u.len() as f64;
    u.iter()
        .enumerate()
        .map(|(i, &x)| ((i as f64 + 1.0) / n - x).max(x - i as f64 / n))
        .fold(0.0, f64::max)
}

/// The tries each gateway client sent to the api, in order (workload tries left out).
fn tries_by_client(log: &TryLog, gateways: usize) -> Vec<Vec<&Try>> {
    let mut by_client = vec![Vec::new(); gateways];
    for attempt in &log.tries {
        if (attempt.caller as usize) < gateways {
            by_client[attempt.caller as usize].push(attempt);
        }
    }
    by_client
}

/// Smooth weighted round robin (nginx's: every pick adds each weight to its score, takes the
/// highest score, first on ties, and takes the total off it), from zero scores.
fn smooth_weighted_sequence(weights: &[i64], picks: usize) -> Vec<u32> {
    let total: i64 = weights.iter().sum();
    let mut scores = vec![0i64; weights.len()];
    (0..picks)
        .map(|_| {
            let mut best = 0;
            for (index, weight) in weights.iter().enumerate() {
                scores[index] += weight;
                if scores[index] > scores[best] {
                    best = index;
                }
            }
            scores[best] -= total;
            best as u32
        })
        .collect()
}

const GATEWAYS: usize = 100;

/// A try's send time and the api replica index it went to.
type Pick = (u64, u32);

/// 100 gateway replicas (one client of the api each) and an api of 4 replicas weighted
/// 5:1:1:1; `extra` is appended (the change).
fn balancer_model() -> Model {
    load_text(
        r#"
[scenario]
name = "balancer-change"
seed = 3
duration = "20s"

[[service]]
name = "gateway"
replicas = 100
workers = 64
concurrency = "async"
service_time = "exp(0.1ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 4
workers = 64
concurrency = "async"
service_time = "exp(5ms)"
weights = [5, 1, 1, 1]

[[change]]
at = "8s"
set = { "service.api.policy.balancer" = "weighted_round_robin" }
propagation = "4s"

[[workload]]
target = "gateway"
arrival = "poisson"
rate = 3000
"#,
    )
}

#[test]
fn a_balancer_change_takes_over_each_client_s_picks_at_its_own_instant() {
    let model = balancer_model();
    let log = run_logged(&model);
    let switched = switch_times(&log, GATEWAYS);
    // The switching instants of a non-timeout key are uniform over the window too:
    // Kolmogorov-Smirnov with n = 100, 1% critical value 1.628 / sqrt(n) = 0.163.
    let (at, window) = (8 * SECOND, 4 * SECOND);
    assert!(switched.iter().all(|&t| (at..=at + window).contains(&t)));
    let d = ks_distance(&switched, at, window);
    assert!(d < 1.628 / (GATEWAYS as f64).sqrt(), "KS distance {d}");
    let first_api = GATEWAYS as u32; // the api's slots follow the gateway's
    let weighted = smooth_weighted_sequence(&[5, 1, 1, 1], 10_000);
    let mut checked = (0, 0);
    for (client, tries) in tries_by_client(&log, GATEWAYS).iter().enumerate() {
        let picks: Vec<(u64, u32)> = tries
            .iter()
            .map(|t| {
                (
                    t.sent,
                    t.replica.expect("every try reaches the api") - first_api,
                )
            })
            .collect();
        let (before, after): (Vec<Pick>, Vec<Pick>) =
            picks.iter().partition(|(sent, _)| *sent < switched[client]);
        // Before the switch, round robin: each pick is the next replica of the view.
        for pair in before.windows(2) {
            assert_eq!(
                pair[1].1,
                (pair[0].1 + 1) % 4,
                "client {client} before its switch"
            );
        }
        // After it, the weighted sequence from fresh scores, pick for pick.
        let replicas: Vec<u32> = after.iter().map(|(_, replica)| *replica).collect();
        assert_eq!(
            replicas[..],
            weighted[..replicas.len()],
            "client {client} after its switch at {}",
            switched[client]
        );
        checked.0 += before.len();
        checked.1 += after.len();
    }
    // Enough tries on both sides for the check to mean something (30 per client per second).
    assert!(checked.0 > 20_000 && checked.1 > 20_000, "{checked:?}");
}

/// 20 gateway replicas calling an api of 4 replicas (20 ms mean); `set` is pushed at 8 s over
/// 4 s; `api_extra` goes into the api's table.
fn gateway_api_model(name: &str, set: &str, api_extra: &str, rate: u32) -> Model {
    load_text(&format!(
        r#"
[scenario]
name = "{name}"
seed = 11
duration = "16s"

[[service]]
name = "gateway"
replicas = 20
workers = 256
concurrency = "async"
service_time = "exp(0.1ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 4
workers = 256
concurrency = "async"
service_time = "exp(20ms)"
{api_extra}

[[change]]
at = "8s"
set = {set}
propagation = "4s"

[[workload]]
target = "gateway"
arrival = "poisson"
rate = {rate}
"#
    ))
}

#[test]
fn a_bulkhead_lowered_under_load_rejects_exactly_the_tries_over_it_after_the_switch() {
    // Each client has 2 tries outstanding on average (100 calls/s x 20 ms): a limit of 2
    // rejects a good share once it is in force, and nothing before.
    let model = gateway_api_model(
        "bulkhead-change",
        r#"{ "service.api.policy.max_requests" = 2 }"#,
        "",
        2000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let locally_rejected =
        |t: &Try| t.replica.is_none() && t.ended.is_some_and(|(o, _)| o == Some(Outcome::Rejected));
    // Replay the trace in order: a try is admitted when its client has fewer than the limit
    // outstanding (sent to a replica and not yet ended) at the instant it is sent.
    let mut outstanding = [0u32; 20];
    let (mut predicted, mut before, mut after) = (0, 0, 0);
    for &(is_send, index) in &log.sequence {
        let attempt = &log.tries[index];
        let client = attempt.caller as usize;
        if client >= 20 || locally_rejected(attempt) && !is_send {
            continue;
        }
        if !is_send {
            outstanding[client] -= 1;
            continue;
        }
        let in_force = attempt.sent > switched[client];
        let expect_rejected = in_force && outstanding[client] >= 2;
        assert_eq!(
            locally_rejected(attempt),
            expect_rejected,
            "client {client} try at {} with {} outstanding (switch at {})",
            attempt.sent,
            outstanding[client],
            switched[client]
        );
        if expect_rejected {
            predicted += 1;
        } else {
            outstanding[client] += 1;
            if in_force {
                after += 1;
            } else {
                before += 1;
            }
        }
    }
    assert!(
        predicted > 1000 && before > 10_000 && after > 5_000,
        "{predicted} {before} {after}"
    );
}

#[test]
fn a_circuit_breaker_switched_on_opens_after_its_minimum_of_failures_and_not_before() {
    // Every api try fails; the breaker, absent before, opens at the end of the 20th failure
    // its client records after switching, and stays open to the end (open_for 60 s).
    let model = gateway_api_model(
        "breaker-change",
        r#"{ "service.api.policy.circuit_breaker" = { window = 20, min_calls = 20, open_for = "60s" } }"#,
        "error_rate = 1.0",
        1000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let mut ended_after_switch = [0u32; 20];
    let mut opened_at: Vec<Option<u64>> = vec![None; 20];
    for &(is_send, index) in &log.sequence {
        let attempt = &log.tries[index];
        let client = attempt.caller as usize;
        if client >= 20 {
            continue;
        }
        let outcome = attempt.ended.and_then(|(o, _)| o);
        if is_send {
            let expect_open = opened_at[client].is_some();
            assert_eq!(
                outcome == Some(Outcome::CircuitOpen),
                expect_open,
                "client {client} try at {} (switch {}, opened {:?})",
                attempt.sent,
                switched[client],
                opened_at[client]
            );
        } else if outcome != Some(Outcome::CircuitOpen) {
            let (_, at) = attempt.ended.expect("ended");
            if at >= switched[client] {
                ended_after_switch[client] += 1;
                if ended_after_switch[client] == 20 {
                    opened_at[client] = Some(at);
                }
            }
        }
    }
    assert!(opened_at.iter().all(Option::is_some), "{opened_at:?}");
    // The breaker's own events agree: one opening per client, at the predicted instant.
    for (client, opened) in opened_at.iter().enumerate() {
        let subject = format!("gateway#{client} -> api");
        let openings: Vec<u64> = log
            .events
            .iter()
            .filter(|e| e.kind == "circuit_breaker" && e.subject == subject)
            .map(|e| e.time)
            .collect();
        assert_eq!(openings, vec![opened.expect("opened")], "{subject}");
    }
}

#[test]
fn a_hedge_switched_on_hedges_exactly_the_slow_first_tries_sent_after_the_switch() {
    let after = 30 * MILLISECOND;
    let model = gateway_api_model(
        "hedge-change",
        r#"{ "service.api.policy.hedge" = { after = "30ms" } }"#,
        "",
        1000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    // Per call (its calling job): the first try and the hedge, if any.
    let mut calls: BTreeMap<u64, (Option<&Try>, Option<&Try>)> = BTreeMap::new();
    for attempt in log.tries.iter().filter(|t| (t.caller as usize) < 20) {
        let entry = calls.entry(attempt.parent).or_default();
        match attempt.kind {
            TryKind::First => entry.0 = Some(attempt),
            TryKind::Hedge => {
                assert!(entry.1.is_none(), "one hedge at most");
                entry.1 = Some(attempt);
            }
            TryKind::Retry => panic!("no retries are configured"),
        }
    }
    let (mut hedged, mut slow_before) = (0, 0);
    for (first, hedge) in calls.values() {
        let first = first.expect("every call has a first try");
        let client = first.caller as usize;
        let (_, ended) = first.ended.expect("ended");
        // A hedge is armed by the policy in force when the first try goes out.
        let slow = ended > first.sent + after;
        let expect = first.sent > switched[client] && slow;
        assert_eq!(
            hedge.is_some(),
            expect,
            "client {client} call sent at {}",
            first.sent
        );
        if let Some(hedge) = hedge {
            assert_eq!(hedge.sent, first.sent + after);
            hedged += 1;
        } else if slow {
            slow_before += 1;
        }
    }
    // exp(20 ms) exceeds 30 ms in e^-1.5 = 22% of the tries: thousands on each side.
    assert!(
        hedged > 1000 && slow_before > 1000,
        "{hedged} {slow_before}"
    );
}

#[test]
fn outlier_detection_switched_off_ends_the_ejections_in_force() {
    // api#3 fails every try; each client ejects it for 300 s, until outlier detection is
    // switched off: the ejection ends at the client's switch and api#3 gets tries again.
    let model = gateway_api_model(
        "outlier-change",
        r#"{ "service.api.policy.outlier_detection" = false }"#,
        r#"[service.policy]
outlier_detection = { consecutive_errors = 5, base_ejection = "300s" }
[[service.version]]
name = "good"
replicas = 3
[[service.version]]
name = "bad"
replicas = 1
error_rate = 1.0"#,
        1000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let bad = 20 + 3; // api#3's slot
    for (client, tries) in tries_by_client(&log, 20).iter().enumerate() {
        let subject = format!("gateway#{client} -> api#3");
        let of_client: Vec<&EventRecord> =
            log.events.iter().filter(|e| e.subject == subject).collect();
        let kinds: Vec<(&str, &str)> = of_client
            .iter()
            .map(|e| (e.kind, e.detail.as_str()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("ejection", "for 300s after 5 consecutive failures"),
                ("ejection_end", "outlier detection switched off")
            ],
            "{subject}"
        );
        let (ejected, ended) = (of_client[0].time, of_client[1].time);
        assert!(ejected < switched[client]);
        assert_eq!(ended, switched[client]);
        let to_bad = |from: u64, to: u64| {
            tries
                .iter()
                .filter(|t| t.sent > from && t.sent < to && t.replica == Some(bad))
                .count()
        };
        assert_eq!(to_bad(ejected, ended), 0, "{subject} while ejected");
        // Round robin over the 4 again: about a quarter of the client's 50 tries a second.
        assert!(
            to_bad(ended, 16 * SECOND) > 10,
            "{subject} after the switch"
        );
    }
}

#[test]
fn health_checks_switched_on_exclude_a_hung_replica_only_after_the_switch() {
    // api#0 hangs from 2 s (it takes tries and never answers); with health checks switched on
    // each client excludes it after `unhealthy` unanswered checks.
    let model = gateway_api_model(
        "health-change",
        r#"{ "service.api.policy.health_check" = { interval = "1s", timeout = "100ms", unhealthy = 2, healthy = 1 } }"#,
        r#"[policy]
timeout = "200ms"
[[fault]]
at = "2s"
kind = "hang"
target = "api#0""#,
        400,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let hung = 20; // api#0's slot
    for (client, tries) in tries_by_client(&log, 20).iter().enumerate() {
        let subject = format!("gateway#{client} -> api#0");
        let unhealthy: Vec<u64> = log
            .events
            .iter()
            .filter(|e| e.kind == "health_check" && e.subject == subject)
            .map(|e| e.time)
            .collect();
        // The first round goes out at the switch and its check of api#0 times out 100 ms
        // later; the replica is then checked on its own timer, one interval after that
        // failure, and the second check times out 100 ms later: unhealthy at switch + 1.2 s.
        assert_eq!(
            unhealthy,
            vec![switched[client] + SECOND + 200 * MILLISECOND],
            "{subject}"
        );
        let to_hung = |from: u64, to: u64| {
            tries
                .iter()
                .filter(|t| t.sent >= from && t.sent < to && t.replica == Some(hung))
                .count()
        };
        assert!(
            to_hung(3 * SECOND, switched[client]) > 0,
            "{subject} before"
        );
        assert_eq!(to_hung(unhealthy[0] + 1, 16 * SECOND), 0, "{subject} after");
    }
}

/// A scenario file with one `[[change]]` whose `set` is `set`, run through `meshsim validate`.
fn validate_change(name: &str, set: &str) -> (i32, String) {
    let dir = temp_dir(name);
    let text = format!(
        "[scenario]\nname = \"x\"\nduration = \"10s\"\n\n[[service]]\nname = \"api\"\n\
         replicas = 2\nservice_time = \"exp(1ms)\"\n\n[[workload]]\ntarget = \"api\"\n\
         rate = 10\n\n[[change]]\nat = \"1s\"\nset = {set}\n"
    );
    let path = write_file(&dir, "change.toml", text.as_bytes());
    let output = meshsim(&["validate", path.to_str().expect("utf-8 path")]);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_change_is_refused_with_its_position_and_exit_status_2() {
    // Line 16 is `set = ...`: its first key at column 9, the value of "policy.balancer" at 29.
    let cases = [
        (
            "unknown",
            r#"{ "policy.outlier_detecton" = false }"#,
            "change.toml:16:9: change of \"policy.outlier_detecton\": there is no key \
             \"outlier_detecton\" in policy; did you mean policy.outlier_detection?",
        ),
        (
            "not-a-policy",
            r#"{ "service.api.replicas" = 3 }"#,
            "change.toml:16:9: change of \"service.api.replicas\": a change may set only the keys \
             of a call policy",
        ),
        (
            "bad-value",
            r#"{ "policy.balancer" = "fastest" }"#,
            "change.toml:16:29: with this change: unknown balancer \"fastest\"",
        ),
    ];
    for (name, set, expected) in cases {
        let (status, stderr) = validate_change(name, set);
        assert_eq!(status, 2, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Two keys, one wrong: the error points at its value, not at the table.
    let (status, stderr) = validate_change(
        "bad-value-of-two",
        r#"{ "policy.timeout" = "1s", "policy.max_requests" = 0 }"#,
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("change.toml:16:58: with this change: max_requests must be at least 1"),
        "{stderr}"
    );
}

#[test]
fn a_connection_pool_removed_sends_the_waiting_tries_at_the_switch() {
    // A pool of 2 connections per client (2 outstanding on average: tries often wait), then
    // none: every try waiting at a client's switch goes out at that instant, and no try waits
    // after it. The network takes no time, so a try starts at its replica when it goes out.
    let model = gateway_api_model(
        "pool-change",
        r#"{ "service.api.policy.max_connections" = 1000000 }"#,
        r#"[service.policy]
max_connections = 2"#,
        2000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let (mut waited, mut released) = (0, 0);
    for &(is_send, index) in &log.sequence {
        let attempt = &log.tries[index];
        let client = attempt.caller as usize;
        if client >= 20 {
            continue;
        }
        let start = attempt.started.unwrap_or_else(|| {
            panic!(
                "every try reaches the api: {attempt:?} {}",
                switched[client]
            )
        });
        if !is_send {
            continue;
        }
        if attempt.sent >= switched[client] {
            assert_eq!(
                start, attempt.sent,
                "client {client}: no wait after the switch"
            );
        } else if start >= switched[client] {
            assert_eq!(
                start, switched[client],
                "client {client}: released at the switch"
            );
            released += 1;
        } else if start > attempt.sent {
            waited += 1;
        }
    }
    assert!(waited > 1000 && released > 0, "{waited} {released}");
    // Before its switch, a client never has more than 2 tries started and not ended.
    let mut started: Vec<(u64, i32, usize)> = Vec::new();
    for attempt in log.tries.iter().filter(|t| (t.caller as usize) < 20) {
        let client = attempt.caller as usize;
        let (_, ended) = attempt.ended.expect("ended");
        let start = attempt.started.expect("started");
        if start < switched[client] {
            started.push((start, 1, client));
            started.push((ended, -1, client));
        }
    }
    // Ends before starts at the same instant: a connection freed goes to the next try then.
    started.sort_by_key(|&(time, delta, client)| (time, delta, client));
    let mut busy = [0i32; 20];
    for (_, delta, client) in started {
        busy[client] += delta;
        assert!(busy[client] <= 2, "client {client} above its pool");
    }
}

#[test]
fn a_retry_budget_switched_on_holds_retries_to_its_ratio_from_the_switch() {
    // Every try fails and calls retry up to 3 times; a budget of 10% (plus Finagle's reserve
    // of 10 retries a second, deposits kept 10 s) switched on at each client's instant.
    let model = gateway_api_model(
        "budget-change",
        r#"{ "service.api.policy.retries.budget" = 0.1 }"#,
        r#"error_rate = 1.0
[service.policy]
retries = { max = 3, backoff = "1ms", max_backoff = "1ms" }"#,
        1000,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let horizon = 16 * SECOND;
    for (client, tries) in tries_by_client(&log, 20).iter().enumerate() {
        let count = |kind: TryKind, after: bool| {
            tries
                .iter()
                .filter(|t| t.kind == kind && (t.sent >= switched[client]) == after)
                .count() as f64
        };
        // Before: no budget, every call retried 3 times (calls still retrying at the switch
        // may be cut short by it: at most the few in flight).
        let (calls, retries) = (count(TryKind::First, false), count(TryKind::Retry, false));
        assert!(
            (retries - 3.0 * calls).abs() <= 12.0,
            "client {client}: {retries} retries of {calls} calls before"
        );
        // After: withdrawals (10 deposits each) stay within the calls' deposits plus the
        // reserve over the time since the switch (10/s for each second and the 10 s window).
        let (calls, retries) = (count(TryKind::First, true), count(TryKind::Retry, true));
        let seconds = (horizon - switched[client]) as f64 / SECOND as f64;
        let most = 0.1 * calls + 10.0 * (seconds + 10.0);
        assert!(
            retries <= most,
            "client {client}: {retries} retries > {most:.0}"
        );
        assert!(
            retries < 0.5 * 3.0 * calls,
            "client {client}: the budget binds"
        );
        let exhausted = log
            .events
            .iter()
            .filter(|e| {
                e.kind == "retry_budget_exhausted"
                    && e.subject == format!("gateway#{client} -> api")
            })
            .map(|e| e.time)
            .min()
            .expect("the budget runs out");
        assert!(exhausted >= switched[client]);
    }
}

#[test]
fn deadline_propagation_switched_on_drops_the_expired_queued_tries_of_switched_clients_only() {
    // One api worker of 10 ms behind 150 calls/s: the queue grows without bound, and most
    // tries wait past their caller's 100 ms timeout. Without deadline propagation the api still
    // works on them; once a client's change has reached it, its tries carry their deadline and
    // none is worked on after it (the server drops it from the queue instead).
    let model = load_text(
        r#"
[scenario]
name = "deadline-change"
seed = 3
duration = "16s"

[policy]
timeout = "100ms"

[[service]]
name = "gateway"
replicas = 20
workers = 256
concurrency = "async"
service_time = "const(0.1ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 1
workers = 1
service_time = "const(10ms)"

[[change]]
at = "8s"
set = { "service.api.policy.deadline_propagation" = true }
propagation = "4s"

[[workload]]
target = "gateway"
arrival = "constant"
rate = 150
"#,
    );
    let log = run_logged(&model);
    let switched = switch_times(&log, 20);
    let (timeout, work) = (100_000_000, 10_000_000);
    let (mut late_before, mut worked_after, mut dropped_after) = (0, 0, 0);
    for attempt in log.tries.iter().filter(|t| (t.caller as usize) < 20) {
        let deadline = attempt.sent + timeout;
        let carries_deadline = attempt.sent > switched[attempt.caller as usize];
        match attempt.job_ended {
            // A job that succeeded was worked on for its last 10 ms.
            Some((Outcome::Succeeded, ended)) if carries_deadline => {
                assert!(
                    ended - work <= deadline,
                    "a try sent at {} with its deadline was worked on from {}",
                    attempt.sent,
                    ended - work
                );
                worked_after += 1;
            }
            Some((Outcome::Succeeded, ended)) if ended - work > deadline => late_before += 1,
            Some(_) if carries_deadline => dropped_after += 1,
            _ => {}
        }
    }
    // Before the switches the queue holds seconds of work: thousands start late. After, the api
    // still works on tries that reach a worker in time and drops the rest.
    assert!(
        late_before > 500 && worked_after > 100 && dropped_after > 100,
        "{late_before} {worked_after} {dropped_after}"
    );
}

#[test]
fn zone_aware_routing_switched_on_keeps_each_client_s_tries_in_its_zone_from_its_switch() {
    // 30 gateway replicas and 6 api replicas, spread evenly over zones a, b, c: with equal
    // shares Envoy's zone-aware routing sends every try to the caller's zone. Before a client's
    // switch, round robin over the api's replicas (zones a, b, c, a, b, c) crosses zones in
    // four picks of six; after it, never.
    let model = load_text(
        r#"
[scenario]
name = "zone-aware-change"
seed = 5
duration = "16s"

[network]
latency = "const(0.25ms)"
cross_zone_latency = "const(2ms)"

[policy]
balancer = "round_robin"

[[service]]
name = "gateway"
replicas = 30
zones = ["a", "b", "c"]
workers = 64
concurrency = "async"
service_time = "exp(0.1ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 6
zones = ["a", "b", "c"]
workers = 64
concurrency = "async"
service_time = "exp(1ms)"

[[change]]
at = "8s"
set = { "service.api.policy.zone_aware" = true }
propagation = "4s"

[[workload]]
target = "gateway"
arrival = "poisson"
rate = 3000
"#,
    );
    let gateway_zones = &model.services[0].replica_zones;
    let api_zones = &model.services[1].replica_zones;
    for zone in 0..3 {
        assert_eq!(gateway_zones.iter().filter(|&&z| z == zone).count(), 10);
        assert_eq!(api_zones.iter().filter(|&&z| z == zone).count(), 2);
    }
    let log = run_logged(&model);
    let switched = switch_times(&log, 30);
    for (client, tries) in tries_by_client(&log, 30).iter().enumerate() {
        assert!((8 * SECOND..=12 * SECOND).contains(&switched[client]));
        let crosses = |attempt: &Try| {
            let replica = attempt.replica.expect("every try reaches a replica") as usize - 30;
            api_zones[replica] != gateway_zones[client]
        };
        let before: Vec<&Try> = tries
            .iter()
            .copied()
            .filter(|t| t.sent < switched[client])
            .collect();
        let after: Vec<&Try> = tries
            .iter()
            .copied()
            .filter(|t| t.sent > switched[client])
            .collect();
        // Round robin: each run of six consecutive picks crosses exactly four times, so n
        // picks cross 2n/3 times give or take the 2 of an unfinished run.
        let crossing = before.iter().filter(|t| crosses(t)).count() as f64;
        let expected = 2.0 * before.len() as f64 / 3.0;
        assert!(
            before.len() > 500 && (crossing - expected).abs() <= 2.0,
            "gateway#{client}: {crossing} of {} crossed before the switch",
            before.len()
        );
        assert!(after.len() > 200, "gateway#{client}: {}", after.len());
        assert_eq!(
            after.iter().filter(|t| crosses(t)).count(),
            0,
            "gateway#{client} after its switch"
        );
    }
}
