//! Operations (docs/operations.md): rolling updates under Eureka, canaries with analysis and
//! rollback, config changes over a propagation window. Every expected value is computed here,
//! from the scenario's own numbers and the run's event log, never copied from a run.

use crate::common::{load, run, run_recorded};
use meshsim::model::{Model, Outcome};
use meshsim::sim::{EventRecord, MemoryRecorder, Recorder, ReplicaRow, Simulation, WindowRow};
use std::collections::BTreeSet;

const SECOND: u64 = 1_000_000_000;

/// A rolling update of 4 replicas under Eureka's defaults, the workload calling the service
/// directly (one client: its view is the one that matters), constant arrivals and round robin
/// (so the tries each replica gets are known to within one per view change).
fn rollout_model(pre_stop: &str) -> Model {
    rollout_model_under(pre_stop, "eureka")
}

fn rollout_model_under(pre_stop: &str, registry: &str) -> Model {
    rollout_model_with(pre_stop, &format!("model = \"{registry}\""))
}

/// The rollout with `registry` as the body of `[registry]`.
fn rollout_model_with(pre_stop: &str, registry: &str) -> Model {
    let text = format!(
        r#"
[scenario]
name = "rollout-test"
seed = 3
duration = "240s"

[network]
latency = "const(0.25ms)"

[registry]
{registry}

[policy]
balancer = "round_robin"
timeout = "1s"

[[service]]
name = "article"
replicas = 4
workers = 16
service_time = "exp(2ms)"
  [[service.version]]
  name = "v1"
  [[service.version]]
  name = "v2"
  replicas = 0

[[deployment]]
service = "article"
at = "60s"
to = "v2"
readiness_delay = "5s"
pre_stop = "{pre_stop}"
termination_grace = "90s"

[[workload]]
name = "readers"
target = "article"
arrival = "constant"
rate = 200
"#
    );
    meshsim::scenario::load_str(&text, "rollout-test.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|errors| panic!("{errors}"))
}

/// Replays the event log: Eureka's registrations and cancels, its response cache refreshes
/// (what clients fetch), the workload's view refreshes, and the replicas that stopped
/// accepting. Returns the expected number of tries sent to stopped replicas (round robin sends
/// a replica of a view of k a k-th of the tries) and the tolerance: round robin's position at
/// each view change shifts a segment's count by at most the stopped replicas in view.
fn predicted_refusals(events: &[EventRecord], rate: f64, end: u64) -> (f64, f64) {
    let mut registered: BTreeSet<String> = (0..4).map(|i| format!("article#{i}")).collect();
    let mut published = registered.clone();
    let mut view = registered.clone();
    let mut stopped: BTreeSet<String> = BTreeSet::new();
    let (mut expected, mut tolerance, mut since) = (0.0, 0.0, 0u64);
    let mut account = |view: &BTreeSet<String>, stopped: &BTreeSet<String>, from: u64, to: u64| {
        let dead = view.intersection(stopped).count();
        if dead > 0 && to > from {
            expected += rate * (to - from) as f64 / 1e9 * dead as f64 / view.len() as f64;
            tolerance += dead as f64;
        }
    };
    for event in events {
        let changes_view = matches!(
            event.kind,
            "registered"
                | "deregistered"
                | "evicted"
                | "registry_cache_refresh"
                | "view_refresh"
                | "replica_stopped"
        );
        if !changes_view {
            continue;
        }
        account(&view, &stopped, since, event.time);
        since = event.time;
        match event.kind {
            "registered" => {
                registered.insert(event.subject.clone());
            }
            "deregistered" | "evicted" => {
                registered.remove(&event.subject);
            }
            "registry_cache_refresh" if event.subject == "article" => {
                published = registered.clone();
            }
            "view_refresh" if event.subject == "workload:readers -> article" => {
                view = published.clone();
                assert_eq!(event.detail, format!("{} replicas", view.len()));
            }
            "replica_stopped" => {
                stopped.insert(event.subject.clone());
            }
            _ => {}
        }
    }
    account(&view, &stopped, since, end);
    (expected, tolerance + 2.0)
}

#[test]
fn rolling_update_without_pre_stop_fails_exactly_the_tries_stale_views_send_to_stopped_replicas() {
    let model = rollout_model("0s");
    let (result, recorder) = run_recorded(&model);
    let events = &recorder.events;
    // The rollout ran to its end: 4 new replicas ready, 4 old ones stopped.
    let count = |kind: &str| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(count("deployment_done"), 1, "{events:#?}");
    assert_eq!(count("replica_terminating"), 4);
    assert_eq!(count("replica_stopped"), 4);
    assert_eq!(count("replica_ready"), 4);
    // Kubernetes' defaults for 4 replicas: max surge 1, max unavailable 1, so at most 5
    // replicas exist and at least 3 are ready at any time.
    let refused = result.outcomes.get(Outcome::Refused);
    let failed: u64 = Outcome::FAILURES
        .iter()
        .map(|&o| result.outcomes.get(o))
        .sum();
    assert_eq!(failed, refused, "only refusals: {:?}", result.outcomes);
    let (expected, tolerance) = predicted_refusals(events, 200.0, model.duration);
    assert!(
        expected > 100.0,
        "Eureka's cache lag must leave stopped replicas in view: {expected}"
    );
    assert!(
        (refused as f64 - expected).abs() <= tolerance,
        "refused {refused}, predicted {expected:.1} ± {tolerance}"
    );
}

#[test]
fn rolling_update_with_a_pre_stop_longer_than_the_cache_lag_fails_nothing() {
    // Eureka's worst lag from a cancel to a client's view: the response cache (30 s) plus the
    // client's fetch period (30 s).
    let model = rollout_model("61s");
    let (result, recorder) = run_recorded(&model);
    let done = recorder
        .events
        .iter()
        .filter(|e| e.kind == "deployment_done")
        .count();
    assert_eq!(done, 1);
    let failed: u64 = Outcome::FAILURES
        .iter()
        .map(|&o| result.outcomes.get(o))
        .sum();
    assert_eq!(failed, 0, "{:?}", result.outcomes);
    // The same prediction says so too: no stopped replica is ever in the view.
    let (expected, _) = predicted_refusals(&recorder.events, 200.0, model.duration);
    assert_eq!(expected, 0.0);
}

#[test]
fn the_registry_in_force_decides_who_keeps_sending_to_a_terminating_replica() {
    let failures = |r: &meshsim::sim::RunResult| -> u64 {
        Outcome::FAILURES.iter().map(|&o| r.outcomes.get(o)).sum()
    };
    // The oracle drops a terminating replica from every view at once, before it stops
    // accepting: only a try already on the wire at that instant can be refused (0.25 ms of
    // 200/s: 0.05 expected per stop, 4 stops).
    let result = run(&rollout_model_under("0s", "oracle"));
    assert!(failures(&result) <= 2, "oracle: {:?}", result.outcomes);
    // The static registry: callers never learn. Their view is every replica ever ready, so
    // from its stop each old replica takes its share of round robin until the end.
    let model = rollout_model_under("0s", "static");
    let (result, recorder) = run_recorded(&model);
    let mut view: BTreeSet<String> = (0..4).map(|i| format!("article#{i}")).collect();
    let mut stopped: BTreeSet<String> = BTreeSet::new();
    let (mut expected, mut tolerance, mut since) = (0.0, 2.0, 0u64);
    let mut account = |view: &BTreeSet<String>, stopped: &BTreeSet<String>, from: u64, to: u64| {
        let dead = view.intersection(stopped).count();
        if dead > 0 {
            expected += 200.0 * (to - from) as f64 / 1e9 * dead as f64 / view.len() as f64;
            tolerance += dead as f64;
        }
    };
    for event in &recorder.events {
        match event.kind {
            "replica_ready" => {
                account(&view, &stopped, since, event.time);
                view.insert(event.subject.clone());
            }
            "replica_stopped" => {
                account(&view, &stopped, since, event.time);
                stopped.insert(event.subject.clone());
            }
            _ => continue,
        }
        since = event.time;
    }
    account(&view, &stopped, since, model.duration);
    let refused = result.outcomes.get(Outcome::Refused) as f64;
    assert!(expected > 10_000.0, "{expected}");
    assert!(
        (refused - expected).abs() <= tolerance,
        "static: refused {refused}, predicted {expected:.1} ± {tolerance}"
    );
}

/// Consul with its clients polling every 10 s (`client_refresh`), checks every 2 s.
const CONSUL_POLLING: &str =
    "model = \"consul\"\ncheck_interval = \"2s\"\nclient_refresh = \"10s\"";

/// Replays the event log under Consul: the agent deregisters a terminating replica at once;
/// a new replica is registered at its agent's next check, critical, and published (registered
/// and passing) at its first passing check; the workload's client copies what is published at
/// each `view_refresh`. Returns the expected tries sent to stopped replicas and the tolerance,
/// as [`predicted_refusals`] does for Eureka.
fn predicted_consul_refusals(events: &[EventRecord], rate: f64, end: u64) -> (f64, f64) {
    let mut registered: BTreeSet<String> = (0..4).map(|i| format!("article#{i}")).collect();
    let mut passing = registered.clone();
    let mut view = registered.clone();
    let mut stopped: BTreeSet<String> = BTreeSet::new();
    let (mut expected, mut tolerance, mut since) = (0.0, 0.0, 0u64);
    let mut account = |view: &BTreeSet<String>, stopped: &BTreeSet<String>, from: u64, to: u64| {
        let dead = view.intersection(stopped).count();
        if to > from {
            assert!(!view.is_empty(), "an empty view from {from} to {to}");
        }
        if dead > 0 && to > from {
            expected += rate * (to - from) as f64 / 1e9 * dead as f64 / view.len() as f64;
            tolerance += dead as f64;
        }
    };
    for event in events {
        let subject = event.subject.clone();
        match event.kind {
            "registered" => {
                registered.insert(subject);
            }
            "deregistered" => {
                registered.remove(&subject);
                passing.remove(&event.subject);
            }
            "check_passing" => {
                passing.insert(subject);
            }
            "check_critical" => {
                passing.remove(&subject);
            }
            "view_refresh" if event.subject == "workload:readers -> article" => {
                account(&view, &stopped, since, event.time);
                since = event.time;
                view = registered.intersection(&passing).cloned().collect();
                assert_eq!(event.detail, format!("{} replicas", view.len()));
            }
            "replica_stopped" => {
                account(&view, &stopped, since, event.time);
                since = event.time;
                stopped.insert(subject);
            }
            _ => {}
        }
    }
    account(&view, &stopped, since, end);
    (expected, tolerance + 2.0)
}

#[test]
fn rolling_update_under_consul_fails_the_tries_sent_before_the_next_poll_and_none_with_pre_stop() {
    let failures = |r: &meshsim::sim::RunResult| -> u64 {
        Outcome::FAILURES.iter().map(|&o| r.outcomes.get(o)).sum()
    };
    // Without a pre-stop delay: the deregistration is published at once, but each stopped
    // replica stays in the polling client's view until its next fetch (up to 10 s later).
    let model = rollout_model_with("0s", CONSUL_POLLING);
    let (result, recorder) = run_recorded(&model);
    let events = &recorder.events;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "deployment_done")
            .count(),
        1
    );
    let refused = result.outcomes.get(Outcome::Refused);
    assert_eq!(failures(&result), refused, "{:?}", result.outcomes);
    let (expected, tolerance) = predicted_consul_refusals(events, 200.0, model.duration);
    // 4 stops, each in view for a uniform share of the 10 s period: about 4 × 5 s × 50/s.
    assert!(expected > 100.0, "{expected}");
    assert!(
        (refused as f64 - expected).abs() <= tolerance,
        "refused {refused}, predicted {expected:.1} ± {tolerance}"
    );
    // A pre-stop delay longer than the poll period: every client has dropped a replica before
    // it stops accepting.
    let model = rollout_model_with("11s", CONSUL_POLLING);
    let (result, recorder) = run_recorded(&model);
    assert_eq!(failures(&result), 0, "{:?}", result.outcomes);
    let (expected, _) = predicted_consul_refusals(&recorder.events, 200.0, model.duration);
    assert_eq!(expected, 0.0);
    // Blocking queries (Consul's default, client_refresh = 0): clients learn the
    // deregistration at that instant, before the replica stops; as under the oracle only a
    // try on the wire then can be refused (0.25 ms of 200/s per stop).
    let result = run(&rollout_model_with(
        "0s",
        "model = \"consul\"\ncheck_interval = \"2s\"",
    ));
    assert!(
        failures(&result) <= 2,
        "blocking queries: {:?}",
        result.outcomes
    );
}

#[test]
fn the_rollout_story_fails_without_pre_stop_and_not_with_it() {
    let without = run(&load("rollout_eureka.toml", &[]));
    let with = run(&load("rollout_eureka.toml", &["deployment.0.pre_stop=70s"]));
    let failures = |r: &meshsim::sim::RunResult| -> u64 {
        Outcome::FAILURES.iter().map(|&o| r.outcomes.get(o)).sum()
    };
    assert!(failures(&without) > 100, "{:?}", without.outcomes);
    assert_eq!(failures(&with), 0, "{:?}", with.outcomes);
}

/// Keeps the replicas' window rows (arrivals per replica) besides the events.
#[derive(Default)]
struct ReplicaArrivals {
    inner: MemoryRecorder,
    /// (window start, service, replica index, arrivals).
    rows: Vec<(u64, String, u32, u64)>,
}

impl Recorder for ReplicaArrivals {
    fn window(&mut self, row: &WindowRow<'_>) {
        self.inner.window(row);
    }
    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        self.rows.push((
            row.start,
            row.service.to_string(),
            row.replica,
            row.arrivals,
        ));
    }
    fn event(&mut self, record: &EventRecord) {
        self.inner.event(record);
    }
}

fn canary_model(overrides: &[&str]) -> Model {
    let mut all = vec![
        // Two failed checks before the rollback, the first at 60 s: it comes after two
        // weight steps.
        "service.reviews.traffic.analysis.failures=2",
        "service.reviews.traffic.analysis.start=60s",
        "service.reviews.traffic.analysis.interval=30s",
        "service.reviews.traffic.steps=[{ at = \"30s\", weights = { v1 = 90, v2 = 10 } }, { at = \"60s\", weights = { v1 = 50, v2 = 50 } }, { at = \"150s\", weights = { v2 = 1 } }]",
    ];
    all.extend_from_slice(overrides);
    load("canary.toml", &all)
}

#[test]
fn a_canary_s_share_before_rollback_is_its_weights_times_time() {
    let model = canary_model(&[]);
    let (_, recorder) = Simulation::run(&model, ReplicaArrivals::default());
    let events = &recorder.inner.events;
    let rollback = events
        .iter()
        .find(|e| e.kind == "rollback")
        .unwrap_or_else(|| panic!("no rollback: {events:#?}"));
    let verdicts: Vec<&EventRecord> = events.iter().filter(|e| e.kind == "analysis").collect();
    // v2 fails 8% of its requests against a 2% threshold: the check at 60 s (over about 660
    // tries) and the one at 90 s (about 3000) fail unless at most 2% of them failed, which
    // is more than 5 standard deviations away (probability below 1e-6).
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    assert!(verdicts.iter().all(|v| v.detail.starts_with("fail v2")));
    assert_eq!(rollback.time, 90 * SECOND);
    // Expected tries to v2 before the rollback: the calls (one per request, 200/s constant)
    // times v2's weight share, integrated over the schedule: 1% for 30 s, 10% for 30 s, 50%
    // for 30 s.
    let rate = 200.0;
    let shares = [(0.01, 30.0), (0.10, 30.0), (0.50, 30.0)];
    let expected: f64 = shares.iter().map(|(p, t)| rate * t * p).sum();
    // Each call's version is an independent draw: the count is a sum of binomials, whose
    // standard error is sqrt(sum n p (1 - p)) ≈ 45.8; allow 4 of them.
    let se: f64 = shares
        .iter()
        .map(|(p, t)| rate * t * p * (1.0 - p))
        .sum::<f64>()
        .sqrt();
    let v2_before: u64 = recorder
        .rows
        .iter()
        .filter(|(start, service, replica, _)| {
            service == "reviews" && *replica == 3 && *start < rollback.time
        })
        .map(|row| row.3)
        .sum();
    assert!(
        (v2_before as f64 - expected).abs() <= 4.0 * se,
        "v2 got {v2_before} tries before the rollback, expected {expected} ± {:.1}",
        4.0 * se
    );
    // After the rollback nothing reaches v2 (the window of the rollback aside: tries on the
    // wire), even when the schedule's last step would give it everything.
    let v2_after: u64 = recorder
        .rows
        .iter()
        .filter(|(start, service, replica, _)| {
            service == "reviews" && *replica == 3 && *start > rollback.time
        })
        .map(|row| row.3)
        .sum();
    assert_eq!(v2_after, 0);
    // The checks measured v2's error rate: 8% within its binomial error (sd of a proportion of
    // n at 8%: sqrt(0.08 × 0.92 / n); 4 of them).
    for verdict in &verdicts {
        let field = |name: &str| -> f64 {
            verdict
                .detail
                .split_whitespace()
                .find_map(|word| word.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {}", verdict.detail))
        };
        let (requests, error_rate) = (field("requests="), field("error_rate="));
        let sd = (0.08 * 0.92 / requests).sqrt();
        assert!(
            (error_rate - 0.08).abs() <= 4.0 * sd,
            "{}: 0.08 ± {:.4}",
            verdict.detail,
            4.0 * sd
        );
    }
}

#[test]
fn the_canary_story_sees_fewer_errors_than_the_big_bang_release() {
    let canary = run(&load("canary.toml", &[]));
    let big_bang = run(&load(
        "canary.toml",
        &[
            "service.reviews.traffic.weights={ v2 = 1 }",
            "service.reviews.traffic.steps=[]",
            "service.reviews.traffic.analysis.failures=1000000",
        ],
    ));
    let errors = |r: &meshsim::sim::RunResult| r.outcomes.get(Outcome::Error) as f64;
    // Big bang: every request meets v2's 8% for the whole run (240 s at 200/s: 3840 expected).
    let offered = big_bang.offered as f64;
    let sd = (offered * 0.08 * 0.92).sqrt();
    assert!(
        (errors(&big_bang) - offered * 0.08).abs() <= 4.0 * sd,
        "{} errors of {offered}",
        errors(&big_bang)
    );
    assert!(errors(&canary) * 10.0 < errors(&big_bang));
}

/// A change of the timeout below the service time: once a client has switched, its calls time
/// out. 100 gateway replicas, each one client of `api`.
fn change_model() -> Model {
    let text = r#"
[scenario]
name = "change-test"
seed = 9
duration = "60s"

[policy]
timeout = "1s"

[[service]]
name = "gateway"
replicas = 100
workers = 64
concurrency = "async"
service_time = "const(0.1ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 4
workers = 64
concurrency = "async"
service_time = "const(20ms)"

[[change]]
at = "20s"
set = { "service.api.policy.timeout" = "10ms" }
propagation = "10s"

[[workload]]
target = "gateway"
arrival = "constant"
rate = 1000
"#;
    meshsim::scenario::load_str(text, "change-test.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|errors| panic!("{errors}"))
}

#[test]
fn config_switches_fall_in_the_window_uniformly_and_take_effect_client_by_client() {
    let model = change_model();
    let (_, recorder) = run_recorded(&model);
    let switches: Vec<&EventRecord> = recorder
        .events
        .iter()
        .filter(|e| e.kind == "config_switch")
        .collect();
    // Every client switches once: 100 gateway replicas' clients of api, and the workload's
    // client of the gateway.
    assert_eq!(switches.len(), 101);
    let (at, window) = (20 * SECOND, 10 * SECOND);
    assert!(switches
        .iter()
        .all(|e| e.time >= at && e.time <= at + window));
    // Kolmogorov-Smirnov against uniform on [at, at + window]: with n = 101 the 1% critical
    // value is 1.628 / sqrt(n) = 0.162; the test then detects (power > 0.99) any distribution
    // whose CDF departs from the uniform's by more than about 0.32 somewhere, e.g. every switch
    // in the first two thirds of the window, or at one instant.
    let mut u: Vec<f64> = switches
        .iter()
        .map(|e| (e.time - at) as f64 / window as f64)
        .collect();
    u.sort_by(f64::total_cmp);
    let n = u.len() as f64;
    let d = u
        .iter()
        .enumerate()
        .map(|(i, &x)| ((i as f64 + 1.0) / n - x).max(x - i as f64 / n))
        .fold(0.0, f64::max);
    assert!(d < 1.628 / n.sqrt(), "KS distance {d}");
    // The effect: a call times out exactly when its client had switched when it started. The
    // gateways share the load evenly (round robin from the workload), so in each second the
    // share of api calls timing out is the mean share of gateway clients switched.
    let switched_at: Vec<u64> = switches
        .iter()
        .filter(|e| e.subject.ends_with("-> api"))
        .map(|e| e.time)
        .collect();
    assert_eq!(switched_at.len(), 100);
    for second in 15..40u64 {
        let start = second * SECOND;
        // Mean over the second of the fraction switched (in 1 ms steps).
        let steps = 1000;
        let expected: f64 = (0..steps)
            .map(|k| {
                let t = start + k * (SECOND / steps);
                switched_at.iter().filter(|&&s| s <= t).count() as f64 / 100.0
            })
            .sum::<f64>()
            / steps as f64;
        let row = recorder
            .inner_windows(second * SECOND, "api")
            .unwrap_or_else(|| panic!("no api row at {second} s"));
        let (arrivals, timeouts) = row;
        // Calls started in this second end (time out) 10 ms later or succeed 20 ms later: the
        // window boundary moves at most 20 ms of calls (2%), plus one call per client.
        let share = timeouts as f64 / arrivals.max(1) as f64;
        assert!(
            (share - expected).abs() <= 0.03 + 100.0 / arrivals.max(1) as f64,
            "second {second}: {share:.3} of the calls timed out, {expected:.3} of the clients \
             had switched"
        );
    }
}

/// Reads a window row of `MemoryRecorder`: (tries arriving, tries timed out).
trait WindowLookup {
    fn inner_windows(&self, start: u64, service: &str) -> Option<(u64, u64)>;
}

impl WindowLookup for MemoryRecorder {
    fn inner_windows(&self, start: u64, service: &str) -> Option<(u64, u64)> {
        self.windows
            .iter()
            .find(|w| w.0 == start && w.1 == service)
            .map(|w| (w.2, w.4.get(Outcome::Timeout)))
    }
}

/// An autoscaled service (HPA on worker utilisation, target 50 %: 8 replicas of 4 workers at
/// 10 ms serve 1,600/s at 50 %) rolled to v2 while its load rises to 2,600/s: the HPA raises
/// the desired count during the rollout.
fn autoscaled_rollout_model() -> Model {
    let text = r#"
[scenario]
name = "hpa-rollout-test"
seed = 5
duration = "240s"

[policy]
timeout = "5s"

[[service]]
name = "api"
replicas = 8
workers = 4
service_time = "const(10ms)"
  [[service.version]]
  name = "v1"
  [[service.version]]
  name = "v2"
  replicas = 0
  [service.autoscale]
  min = 2
  max = 16
  target_utilization = 0.5
  sync = "15s"
  startup = "10s"

[[deployment]]
service = "api"
at = "50s"
to = "v2"
readiness_delay = "20s"
max_surge = "25%"
max_unavailable = "25%"

[[workload]]
name = "load"
target = "api"
arrival = "constant"
rate = 1600
schedule = [{ at = "55s", rate = 2600 }]
"#;
    meshsim::scenario::load_str(
        text,
        "hpa-rollout-test.toml",
        std::path::Path::new("."),
        &[],
    )
    .unwrap_or_else(|errors| panic!("{errors}"))
}

/// What the event log says of one replica of the autoscaled rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodState {
    Starting,
    Ready,
    Terminating,
    Gone,
}

#[test]
fn a_rolling_update_of_an_autoscaled_service_bounds_surge_and_unavailability_by_the_hpa_s_count() {
    let model = autoscaled_rollout_model();
    let (_, recorder) = run_recorded(&model);
    let events = &recorder.events;
    // Kubernetes resolves maxSurge (rounded up) and maxUnavailable (rounded down) against
    // spec.replicas at every sync, and the HPA writes spec.replicas: computed here from the
    // percents and each scale decision.
    let surge = |d: usize| (d * 25).div_ceil(100);
    let unavailable = |d: usize| d * 25 / 100;
    let mut desired = 8usize;
    let mut desired_seen = BTreeSet::new();
    // Replica -> (state, new version?).
    let mut pods: std::collections::BTreeMap<String, (PodState, bool)> = (0..8)
        .map(|i| (format!("api#{i}"), (PodState::Ready, false)))
        .collect();
    let (mut rolling, mut done_at, mut checked) = (false, None, 0);
    let counts = |pods: &std::collections::BTreeMap<String, (PodState, bool)>| {
        let (mut old, mut new, mut new_ready, mut old_unready) = (0, 0, 0, 0);
        for &(state, is_new) in pods.values() {
            match (state, is_new) {
                (PodState::Starting, true) => new += 1,
                (PodState::Ready, true) => {
                    new += 1;
                    new_ready += 1;
                }
                (PodState::Starting, false) => {
                    old += 1;
                    old_unready += 1;
                }
                (PodState::Ready, false) => old += 1,
                _ => {}
            }
        }
        (old, new, new_ready, old_unready)
    };
    // At the end of every instant of the rollout the state is a fixed point of the rule: no
    // new replica may be created (new = desired, or old + new = desired + surge) and no old
    // one removed (old unready none; ready ones only down to desired − unavailable, counting
    // new unready ones as unavailable).
    let check_fixed_point =
        |pods: &std::collections::BTreeMap<String, (PodState, bool)>, desired: usize, time: u64| {
            let (old, new, new_ready, old_unready) = counts(pods);
            let may_create = desired
                .saturating_sub(new)
                .min((desired + surge(desired)).saturating_sub(old + new));
            assert_eq!(
                may_create, 0,
                "at {time}: old {old} new {new} desired {desired}"
            );
            let min_available = desired - unavailable(desired);
            let may_remove = (old + new)
                .saturating_sub(min_available)
                .saturating_sub(new - new_ready)
                .min(old);
            assert_eq!(
                (may_remove, old_unready),
                (0, 0),
                "at {time}: old {old} new {new} ({new_ready} ready) desired {desired}"
            );
            assert!(old + new <= desired + surge(desired) || new - new_ready > 0 || old == 0);
        };
    for (position, event) in events.iter().enumerate() {
        let pod = event.subject.clone();
        match event.kind {
            "scale_decision" if event.subject == "api" => {
                let to = event
                    .detail
                    .split_whitespace()
                    .nth(2)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{}", event.detail));
                desired = to;
                if rolling {
                    desired_seen.insert(desired);
                }
            }
            "deployment_start" => {
                rolling = true;
                desired_seen.insert(desired);
                assert_eq!(
                    event.detail,
                    format!(
                        "to v2 ({desired} replicas, max surge {}, max unavailable {})",
                        surge(desired),
                        unavailable(desired)
                    )
                );
            }
            "deployment_done" => {
                let (old, new, new_ready, _) = counts(&pods);
                assert_eq!((old, new, new_ready), (0, desired, desired), "at done");
                assert_eq!(event.detail, format!("{desired} replicas of v2"));
                rolling = false;
                done_at = Some(event.time);
            }
            "replica_starting" => {
                let is_new = event.detail == "v2";
                if done_at.is_some() {
                    assert!(is_new, "after the rollout the HPA creates v2: {event:?}");
                }
                pods.insert(pod, (PodState::Starting, is_new));
                if rolling {
                    // Every creation keeps old + new within desired + surge.
                    let (old, new, _, _) = counts(&pods);
                    assert!(
                        old + new <= desired + surge(desired),
                        "at {}: {old} + {new} above {desired} + {}",
                        event.time,
                        surge(desired)
                    );
                }
            }
            "replica_ready" => {
                pods.get_mut(&pod).expect("known").0 = PodState::Ready;
            }
            "replica_terminating" => {
                let entry = pods.get_mut(&pod).expect("known");
                assert_eq!(entry.0, PodState::Ready);
                entry.0 = PodState::Terminating;
                if rolling {
                    // Every removal of a ready replica keeps the available ones (ready, not
                    // terminating) at desired − unavailable at least.
                    let ready = pods
                        .values()
                        .filter(|(state, _)| *state == PodState::Ready)
                        .count();
                    assert!(
                        ready >= desired - unavailable(desired),
                        "at {}: {ready} ready below {desired} - {}",
                        event.time,
                        unavailable(desired)
                    );
                }
            }
            "replica_stopped" => {
                pods.get_mut(&pod).expect("known").0 = PodState::Gone;
            }
            _ => {}
        }
        let instant_ends = events.get(position + 1).is_none_or(|e| e.time > event.time);
        if rolling && instant_ends {
            check_fixed_point(&pods, desired, event.time);
            checked += 1;
        }
    }
    assert!(done_at.is_some(), "the rollout ended: {events:#?}");
    // The load rose during the rollout: the HPA raised the count while it ran, so the bounds
    // were resolved against more than one count (8: surge 2; 12: surge 3).
    assert!(desired_seen.len() >= 2, "{desired_seen:?}");
    assert!(desired_seen.iter().any(|&d| surge(d) != surge(8)));
    assert!(checked >= 4, "{checked} instants checked");
    // Every old replica went; what runs at the end is v2 and what the HPA wants.
    let (old, new, new_ready, _) = counts(&pods);
    assert_eq!((old, new, new_ready), (0, desired, desired));
}

#[test]
fn an_autoscaled_first_version_leaves_a_canary_s_replicas_alone() {
    // v1 is the HPA's; v2 (one replica) is a canary's own Deployment: the HPA scales v1 from
    // 4 down to its minimum of 2 on a light load and never touches v2's replica (#4).
    let text = r#"
[scenario]
name = "hpa-canary-test"
duration = "120s"

[[service]]
name = "api"
replicas = 4
service_time = "const(1ms)"
  [[service.version]]
  name = "v1"
  [[service.version]]
  name = "v2"
  replicas = 1
  [service.traffic]
  weights = { v1 = 9, v2 = 1 }
  [service.autoscale]
  min = 2
  max = 8
  target_utilization = 0.5
  sync = "15s"
  scale_down_stabilization = "0s"

[[workload]]
target = "api"
rate = 20
"#;
    let model =
        meshsim::scenario::load_str(text, "hpa-canary-test.toml", std::path::Path::new("."), &[])
            .unwrap_or_else(|errors| panic!("{errors}"));
    // Room for v1 to reach 8 besides v2's replica.
    assert_eq!(model.services[0].slots(), 9);
    let (result, recorder) = run_recorded(&model);
    let events = &recorder.events;
    let stopped: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "replica_stopped")
        .map(|e| e.subject.as_str())
        .collect();
    // The newest v1 replicas go (#3, #2), never the canary's #4.
    assert_eq!(stopped, ["api#3", "api#2"], "{events:#?}");
    let decision = events
        .iter()
        .find(|e| e.kind == "scale_decision")
        .expect("a scale-down");
    assert!(decision.detail.starts_with("4 -> 2"), "{}", decision.detail);
    assert_eq!(
        Outcome::FAILURES
            .iter()
            .map(|&o| result.outcomes.get(o))
            .sum::<u64>(),
        0
    );
}
