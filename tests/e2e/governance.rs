//! Governance mechanisms show their documented semantics, read from the event log and the
//! figures: outlier detection (Envoy), circuit breakers (resilience4j), retry budgets (Finagle),
//! deadline propagation, and peak EWMA against a gray failure. Scenarios live in
//! `scenarios/validation/governance/`; expected values are derived from their parameters.

use crate::common::{load, run, run_recorded};
use meshsim::model::Outcome;
use meshsim::sim::EventRecord;

const SECOND: u64 = 1_000_000_000;

fn events_of<'a>(events: &'a [EventRecord], kind: &str) -> Vec<&'a EventRecord> {
    events.iter().filter(|event| event.kind == kind).collect()
}

#[test]
fn outlier_detection_ejects_after_exactly_consecutive_errors_and_returns_at_the_next_sweep() {
    let model = load("validation/governance/outlier.toml", &[]);
    let policy = model.services[0]
        .policy
        .outlier_detection
        .clone()
        .expect("outlier detection");
    let fault_start = model.faults[0].at;
    let (result, recorder) = run_recorded(&model);
    let ejections = events_of(&recorder.events, "ejection");
    let returns = events_of(&recorder.events, "ejection_end");
    assert_eq!(ejections.len(), 2, "{:#?}", recorder.events);
    assert!(ejections
        .iter()
        .all(|e| e.subject == "workload:load -> api#2"));
    // Every try to api#2 fails and nothing else does: each ejection episode took exactly
    // `consecutive_errors` failures, so the run failed twice that many requests.
    let errors = result.outcomes.get(Outcome::Error);
    assert_eq!(errors, 2 * u64::from(policy.consecutive_errors));
    assert_eq!(result.outcomes.failed(), errors);
    // The first ejection: right after the fault starts, once round robin has sent api#2 its
    // fifth request (every 4th of 1000/s: within 5 x 4 ms, plus a service time).
    let first = ejections[0].time;
    assert!(
        first > fault_start && first < fault_start + 40_000_000,
        "ejected at {first}"
    );
    assert!(ejections[0]
        .detail
        .starts_with(&format!("for {}s", policy.base_ejection / SECOND)));
    // It returns at the first interval sweep (multiples of the interval) after the ejection time.
    let due = first + policy.base_ejection;
    let sweep = due.div_ceil(policy.interval) * policy.interval;
    assert_eq!(returns.first().map(|e| e.time), Some(sweep));
    // The second ejection lasts twice as long (base x ejections so far).
    assert!(ejections[1].time > sweep);
    assert!(ejections[1]
        .detail
        .starts_with(&format!("for {}s", 2 * policy.base_ejection / SECOND)));
}

#[test]
fn circuit_breaker_opens_at_the_threshold_probes_and_closes_after_the_fault() {
    let model = load("validation/governance/breaker.toml", &[]);
    let back = model
        .services
        .iter()
        .position(|s| s.name == "back")
        .expect("back");
    let policy = model.services[back]
        .policy
        .circuit_breaker
        .clone()
        .expect("breaker");
    let (fault_start, fault_end) = (model.faults[0].at, model.faults[0].until.expect("end"));
    let (result, recorder) = run_recorded(&model);
    let transitions: Vec<(u64, &str)> = events_of(&recorder.events, "circuit_breaker")
        .iter()
        .map(|e| (e.time, e.detail.as_str()))
        .collect();
    let kinds: Vec<&str> = transitions
        .iter()
        .map(|(_, detail)| detail.split(" (").next().unwrap_or(""))
        .collect();
    // Opens once; each wait ends in a half-open probe round that re-opens while the backend
    // fails; the first round after the fault closes it.
    assert_eq!(kinds.first(), Some(&"closed -> open"), "{transitions:#?}");
    assert_eq!(
        kinds.last(),
        Some(&"half_open -> closed"),
        "{transitions:#?}"
    );
    let (opened, _) = transitions[0];
    assert!(
        opened > fault_start && opened < fault_start + SECOND,
        "opened at {opened}"
    );
    // Before the fault the window held `window` successes; it opens when half of it has
    // failed: a failure rate of exactly the threshold over the full window.
    assert!(transitions[0].1.contains(&format!(
        "failure rate 0.500 over {} tries",
        policy.min_calls
    )));
    for pair in transitions.windows(2) {
        let ((at, from), (next_at, to)) = (pair[0], pair[1]);
        if from.starts_with("closed -> open") || from.starts_with("half_open -> open") {
            // The wait: open_for, until the first try after it (200/s: within 5 ms more).
            assert!(to.starts_with("open -> half_open"), "{transitions:#?}");
            let wait = next_at - at;
            assert!(
                wait >= policy.open_for && wait <= policy.open_for + 6_000_000,
                "wait {wait}"
            );
        }
        if from.starts_with("open -> half_open") {
            assert!(
                to.contains(&format!("over {} tries", policy.half_open_calls)),
                "{to}"
            );
            let reopened = to.starts_with("half_open -> open");
            assert_eq!(
                reopened,
                next_at < fault_end,
                "probes fail exactly while the fault lasts"
            );
        }
    }
    // While open, every try is refused locally: circuit_open outcomes at the front's rate
    // (200/s) over the open time.
    let open_time: u64 = transitions
        .windows(2)
        .filter(|pair| pair[0].1.contains("-> open ") && pair[1].1.starts_with("open -> half_open"))
        .map(|pair| pair[1].0 - pair[0].0)
        .sum();
    let refused_locally = result.services[back].try_outcomes.get(Outcome::CircuitOpen) as f64;
    let expected = 200.0 * open_time as f64 / SECOND as f64;
    assert!(
        (refused_locally - expected).abs() <= expected * 0.02 + 2.0,
        "{refused_locally} vs {expected}"
    );
}

#[test]
fn retry_budget_caps_retries_at_its_ratio_plus_reserve() {
    let budget_model = load("validation/governance/retry_budget.toml", &[]);
    let budget = budget_model.services[0]
        .policy
        .retries
        .budget
        .clone()
        .expect("budget");
    let measured_seconds = (budget_model.duration - budget_model.warmup) as f64 / SECOND as f64;
    let capped = run(&budget_model);
    let unbounded = run(&load(
        "validation/governance/retry_budget.toml",
        &["policy.retries.budget=1.0"],
    ));
    let ratio = |result: &meshsim::sim::RunResult| {
        result.services[0].retries as f64 / result.offered as f64
    };
    // Demand: with failure probability 1/2 per try and 3 retries, 1/2 + 1/4 + 1/8 per call.
    let demand = 0.5 + 0.25 + 0.125;
    assert!(
        (ratio(&unbounded) - demand).abs() < 0.03,
        "unbounded {}",
        ratio(&unbounded)
    );
    // Capped: at most the ratio of calls plus the reserve (min_per_second over the run), and
    // binding (the demand is far above it).
    let reserve = budget.min_per_second * measured_seconds / capped.offered as f64;
    let cap = budget.ratio + reserve;
    assert!(
        ratio(&capped) <= cap * 1.01,
        "capped {} > {cap}",
        ratio(&capped)
    );
    assert!(
        ratio(&capped) > budget.ratio * 0.9,
        "the budget binds: {}",
        ratio(&capped)
    );
    assert!(capped.availability() < unbounded.availability());
}

#[test]
fn deadline_propagation_drops_abandoned_work_and_keeps_goodput() {
    let with = run(&load("validation/governance/deadlines.toml", &[]));
    let without = run(&load(
        "validation/governance/deadlines.toml",
        &["policy.deadline_propagation=false"],
    ));
    // Offered 1.25x capacity: at most 1/1.25 = 80% can succeed. Without propagation the server
    // serves requests long abandoned and nearly everything times out.
    assert!(
        without.availability() < 0.05,
        "without {}",
        without.availability()
    );
    assert!(
        with.availability() > 0.5 && with.availability() <= 0.8,
        "with {}",
        with.availability()
    );
    assert!(with.services[0].expired > 0);
    assert_eq!(without.services[0].expired, 0);
    assert!(with.services[0].wasted_nanos < without.services[0].wasted_nanos / 2);
}

#[test]
fn gray_failure_round_robin_loses_the_slow_share_peak_ewma_avoids_it() {
    let run_with = |balancer: &str| {
        let setting = format!("policy.balancer={balancer}");
        run(&load("validation/governance/gray.toml", &[&setting]))
    };
    let (round_robin, least_request, peak_ewma) = (
        run_with("round_robin"),
        run_with("least_request"),
        run_with("peak_ewma"),
    );
    // The slow replica serves 4 workers / 20 ms = 200/s but round robin sends it a quarter of
    // 2400/s: its queue grows without bound and its share times out.
    assert!(
        (round_robin.availability() - 0.75).abs() < 0.01,
        "{}",
        round_robin.availability()
    );
    assert_eq!(least_request.availability(), 1.0);
    assert_eq!(peak_ewma.availability(), 1.0);
    // Peak EWMA reacts to the slow replica's latency, not only to its queue: a shorter tail.
    let p99 = |result: &meshsim::sim::RunResult| result.latency.quantile_nanos(0.99);
    assert!(
        p99(&peak_ewma) < p99(&least_request),
        "{} vs {}",
        p99(&peak_ewma),
        p99(&least_request)
    );
}

#[test]
fn rate_limit_admits_its_rate_per_replica_and_rejects_the_rest() {
    let model = load("validation/governance/rate_limit.toml", &[]);
    let limit = model.services[0].rate_limit.clone().expect("rate limit");
    let result = run(&model);
    // Constant arrivals split evenly by round robin: each replica is offered 600/s and admits
    // `rate` of them per second; the bucket's burst is at most `burst` extra per replica.
    let offered = result.offered as f64;
    let seconds = (model.duration - model.warmup) as f64 / SECOND as f64;
    let admitted_at_most = 2.0 * (limit.rate * seconds + limit.burst);
    let succeeded = result.outcomes.get(Outcome::Succeeded) as f64;
    assert!(
        succeeded <= admitted_at_most,
        "{succeeded} > {admitted_at_most}"
    );
    assert!(
        succeeded >= 2.0 * limit.rate * seconds * 0.995,
        "{succeeded}"
    );
    let rejected = result.outcomes.get(Outcome::Rejected) as f64;
    assert_eq!(rejected + succeeded, offered);
    assert!(
        (rejected / offered - 1.0 / 3.0).abs() < 0.005,
        "{}",
        rejected / offered
    );
}

#[test]
fn bulkhead_caps_the_clients_outstanding_requests() {
    let limited_model = load("validation/governance/bulkhead.toml", &[]);
    let max = f64::from(
        limited_model.services[1]
            .policy
            .max_requests
            .expect("bulkhead"),
    );
    let back_workers = {
        let back = &limited_model.services[1];
        back.replicas as f64 * f64::from(back.workers)
    };
    let limited = run(&limited_model);
    let unlimited = run(&load(
        "validation/governance/bulkhead.toml",
        &["service.back.policy.max_requests=1000000"],
    ));
    // Busy workers at the backend = requests it works on: on average at most `max` with the
    // bulkhead (utilization x workers), about 500/s x 20 ms = 10 without.
    let busy = |result: &meshsim::sim::RunResult| {
        result.services[1].busy_worker_nanos
            / (limited_model.duration - limited_model.warmup) as f64
    };
    assert!(busy(&limited) <= max * 1.001, "busy {}", busy(&limited));
    assert!(
        (busy(&unlimited) - 10.0).abs() < 0.5,
        "busy {}",
        busy(&unlimited)
    );
    assert!(
        back_workers > 10.0,
        "the backend itself has room: the bulkhead is what limits"
    );
    assert!(
        limited.outcomes.get(Outcome::Error) > 0,
        "front fails the requests its bulkhead rejected"
    );
    assert_eq!(
        limited.services[1].try_outcomes.get(Outcome::Rejected),
        limited.outcomes.get(Outcome::Error)
    );
    assert_eq!(unlimited.outcomes.failed(), 0);
}

#[test]
fn supermarket_model_p2c_and_random_match_their_closed_forms() {
    let model = load("validation/governance/supermarket.toml", &[]);
    let pool = &model.services[0];
    let mean_service = model.endpoints[pool.endpoints[0]].service_time.mean(); // nanoseconds
    let capacity = pool.replicas as f64 / (mean_service / SECOND as f64);
    let load_fraction = model.workloads[0].rate / capacity;
    assert!((load_fraction - 0.9).abs() < 1e-9);
    // Mitzenmacher / Vvedenskaya et al., d = 2: sum over i >= 1 of lambda^((d^i - d)/(d - 1)),
    // in service times, as the number of queues grows; random choice: M/M/1, 1 / (1 - lambda).
    let d: f64 = 2.0;
    let p2c_theory: f64 = (1..40)
        .map(|i| load_fraction.powf((d.powi(i) - d) / (d - 1.0)))
        .sum();
    let random_theory = 1.0 / (1.0 - load_fraction);
    let mean_in_service_times = |balancer: &str| {
        let setting = format!("policy.balancer={balancer}");
        let result = run(&load("validation/governance/supermarket.toml", &[&setting]));
        result.latency.mean_nanos() / mean_service
    };
    let p2c = mean_in_service_times("p2c");
    let random = mean_in_service_times("random");
    // 100 queues, not infinitely many. The closed form is the N -> infinity limit; at finite N
    // the pick is made on the actual queue lengths, which fluctuate around the limit's fixed
    // point by O(1/sqrt N), and the mean queue length is convex in them, so the fluctuations
    // raise it by a term of order 1/N (the mean-field error is Theta(1/N): Gast & Van Houdt, "A
    // refined mean field approximation", 2017); picking two distinct replicas lowers it by a
    // smaller O(1/N) term. Seen over seeds 1-3: +0.9% to +1.6%. The band [-1%, +3%] is not
    // derived: below, the sample mean's noise; above, about twice the largest excess seen
    // (docs/testing.md). Random is exact M/M/1 per replica; 20 s x 90,000/s averages it to
    // about 0.5%: +-3%.
    assert!(
        p2c >= p2c_theory * 0.99 && p2c <= p2c_theory * 1.03,
        "p2c {p2c} vs {p2c_theory}"
    );
    assert!(
        (random / random_theory - 1.0).abs() < 0.03,
        "random {random} vs {random_theory}"
    );
}

#[test]
fn queue_time_shedding_serves_capacity_rejects_the_excess_and_bounds_latency() {
    let model = load("validation/governance/shedding.toml", &[]);
    let service = &model.services[0];
    let result = run(&model);
    let (lambda, mu) = (model.workloads[0].rate, 1.0 / 0.010);
    // The worker never idles while requests wait: it serves mu, the rest is shed.
    let expected_rejected = result.offered as f64 * (1.0 - mu / lambda);
    let rejected = result.outcomes.get(Outcome::Rejected) as f64;
    assert!(
        (rejected - expected_rejected).abs() < 0.01 * expected_rejected,
        "{rejected} vs {expected_rejected}"
    );
    assert_eq!(result.outcomes.failed() as f64, rejected);
    // No served request waited longer than max_queue_time (hdr keeps 3 significant digits).
    let bound = (service.max_queue_time + 10_000_000) as f64 * 1.001;
    assert!(result.latency.quantile_nanos(1.0) as f64 <= bound);
    assert!(result.services[0].shed > 0);
    // Without shedding the queue grows by 50 requests (0.5 s of work) a second: by the middle
    // of the run requests wait seconds, and later ones outlive the 15 s timeout.
    let unbounded = load(
        "validation/governance/shedding.toml",
        &["service.api.max_queue_time=1h"],
    );
    let result = run(&unbounded);
    assert!(result.latency.quantile_nanos(0.5) > 5_000_000_000);
    assert!(result.outcomes.get(Outcome::Timeout) > 0);
}

#[test]
fn an_inherited_deadline_fires_on_time_beside_long_own_timeouts() {
    let model = load("validation/governance/inherited_deadline.toml", &[]);
    let (_, recorder) = run_recorded(&model);
    let second = 1_000_000_000u64;
    let db_timeouts = |from: u64, to: u64| -> u64 {
        recorder
            .windows
            .iter()
            .filter(|w| w.1 == "db" && w.0 >= from && w.0 < to)
            .map(|w| w.4.get(Outcome::Timeout))
            .sum()
    };
    // Constant arrivals come at k / rate for k = 1, 2, ... while under the 5 s duration.
    let arrivals = |rate: f64| (rate * 5.0).ceil() as u64 - 1;
    // back's calls to db end at the inherited deadline, ~100 ms after each request: one per
    // request of `through` within the load's 5 s (the last may end just after the window).
    let through = arrivals(model.workloads[0].rate);
    let early = db_timeouts(0, model.duration + second);
    assert!(
        early >= through - 1 && early <= through,
        "{early} of {through}"
    );
    // The direct calls wait db's own 10 s: none of them ends before 10 s.
    let direct = arrivals(model.workloads[1].rate);
    assert_eq!(db_timeouts(10 * second, 16 * second), direct);
}
