//! The story scenarios in `scenarios/`: each tells what a governance choice does, and each
//! claim of its comment is asserted here.

use crate::common::{load, run_recorded};
use meshsim::model::Outcome;

const SECOND: u64 = 1_000_000_000;

#[test]
fn eureka_crash_outlier_detection_stops_the_failures_eureka_lets_through_for_minutes() {
    let without = load("eureka_crash.toml", &[]);
    let with = load(
        "eureka_crash.toml",
        &["policy.outlier_detection.enforcing=1.0"],
    );
    let crash = without.faults[0].at;
    let (off, off_events) = run_recorded(&without);
    let (on, on_events) = run_recorded(&with);
    // Same offered load (common random numbers).
    assert_eq!(off.offered, on.offered);
    // Without enforcement: a quarter of the calls fail from the crash until the gateways'
    // views drop catalog#1, at least 2 x ttl - heartbeat = 150 s after the crash.
    let meshsim::model::RegistryModel::Eureka(config) = &without.registry else {
        panic!("a eureka scenario")
    };
    let exposed_s = (2 * config.ttl - config.heartbeat) as f64 / SECOND as f64;
    let catalog = &without.services[without.faults[0].replicas[0].service];
    assert_eq!(without.faults[0].replicas.len(), 1);
    let rate = without.workloads[0].rate;
    let at_least = exposed_s * rate / catalog.replicas as f64;
    assert!(
        off.outcomes.failed() as f64 > 0.9 * at_least,
        "{}",
        off.outcomes.failed()
    );
    assert!(off_events.events.iter().any(|e| e.kind == "evicted"));
    assert!(!off_events.events.iter().any(|e| e.kind == "ejection"));
    // With it: each gateway fails consecutive_errors calls per ejection episode, and episodes
    // lengthen (30 s, 60 s, 90 s, ...): a few dozen failures in all.
    let ejections: Vec<_> = on_events
        .events
        .iter()
        .filter(|e| e.kind == "ejection")
        .collect();
    assert!(!ejections.is_empty());
    assert!(ejections.iter().all(|e| e.time >= crash));
    let policy = with.services[1]
        .policy
        .outlier_detection
        .clone()
        .expect("od");
    let bound = ejections.len() as u64 * u64::from(policy.consecutive_errors) + 10;
    assert!(
        on.outcomes.failed() <= bound,
        "{} > {bound}",
        on.outcomes.failed()
    );
    assert!(on.availability() > 0.999);
}

#[test]
fn gray_failure_round_robin_feeds_the_slow_replica_and_load_aware_balancers_avoid_it() {
    let run = |balancer: &str| {
        let model = load(
            "gray_failure.toml",
            &[&format!("policy.balancer={balancer}")],
        );
        let (result, _) = run_recorded(&model);
        (model, result)
    };
    let (model, round_robin) = run("round_robin");
    let (_, least_request) = run("least_request");
    let (_, peak_ewma) = run("peak_ewma");
    // Round robin sends the slow replica a quarter of 2400/s = 600/s; 4 workers at 10 x 2 ms
    // serve 200/s, so at least 400/s of its share cannot be served in time during the fault.
    let rate = model.workloads[0].rate;
    let fault = &model.faults[0];
    let meshsim::model::FaultKind::Slow { factor } = fault.kind else {
        panic!("a slow fault")
    };
    let api = &model.services[fault.replicas[0].service];
    let slow_service_s =
        factor * model.endpoints[api.endpoints[0]].service_time.mean() / SECOND as f64;
    let fault_seconds = (model.duration - fault.at) as f64 / SECOND as f64;
    let measured_seconds = (model.duration - model.warmup) as f64 / SECOND as f64;
    let lost_at_least =
        (rate / api.replicas as f64 - f64::from(api.workers) / slow_service_s) * fault_seconds;
    assert!(
        lost_at_least > 0.0,
        "test premise: the slow replica is overloaded"
    );
    let offered = rate * measured_seconds;
    assert!(round_robin.availability() < 1.0 - 0.9 * lost_at_least / offered);
    assert!(round_robin.outcomes.get(Outcome::Timeout) > 0);
    // The healthy three have room for the whole load (2400/s against 3 x 2000/s).
    assert!(least_request.availability() > 0.999);
    assert!(peak_ewma.availability() > 0.999);
    // Peak EWMA also weighs latency, so fewer requests wait on the slow replica.
    assert!(peak_ewma.latency.quantile_nanos(0.99) < least_request.latency.quantile_nanos(0.99));
}

#[test]
fn hpa_spike_scales_by_its_formula_and_a_longer_startup_costs_availability() {
    let model = load("hpa_spike.toml", &[]);
    let api = &model.services[1];
    let policy = api.autoscale.clone().expect("autoscale");
    let (_, recorder) = run_recorded(&model);
    let decisions: Vec<_> = recorder
        .events
        .iter()
        .filter(|e| e.kind == "scale_decision")
        .collect();
    assert!(!decisions.is_empty());
    // The first decision is at the first sync after the spike, and follows the formula from
    // the utilisation it reports.
    let spike = model.workloads[0].schedule[0].at;
    assert_eq!(
        decisions[0].time,
        spike.div_ceil(policy.sync) * policy.sync + policy.sync
    );
    let detail = &decisions[0].detail;
    let utilization: f64 = detail
        .split("utilization ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|u| u.parse().ok())
        .expect("utilization in the detail");
    let replicas = api.replicas as f64;
    let desired = (replicas * utilization / policy.target_utilization).ceil() as u32;
    assert!(detail.starts_with(&format!("3 -> {desired}")), "{detail}");
    // Replicas become ready exactly `startup` after they were started.
    let started: Vec<_> = recorder
        .events
        .iter()
        .filter(|e| e.kind == "replica_starting")
        .collect();
    // The scale-up started replicas: the loop below has something to check.
    assert!(
        started.len() as u32 >= desired - api.replicas as u32,
        "{} replicas started, the decision asked for {desired}",
        started.len()
    );
    for start in &started {
        let ready = recorder
            .events
            .iter()
            .find(|e| {
                e.kind == "replica_ready" && e.subject == start.subject && e.time > start.time
            })
            .expect("ready");
        assert_eq!(ready.time, start.time + policy.startup);
    }
    // Enough for the spike at the target: ceil(2880/s x 10 ms / (8 workers x 0.6)) = 6.
    let peak = model.workloads[0].schedule[0].rate;
    let service_s = model.endpoints[api.endpoints[0]].service_time.mean() / SECOND as f64;
    let needed = (peak * service_s / (f64::from(api.workers) * policy.target_utilization)).ceil();
    let most = recorder
        .ready_replicas
        .iter()
        .filter(|w| w.1 == "api")
        .map(|w| w.2)
        .max()
        .expect("rows");
    assert!(most as f64 >= needed, "{most} < {needed}");
    // The longer the startup, the longer the saturated stretch: availability falls.
    let availability = |startup: &str| {
        let model = load(
            "hpa_spike.toml",
            &[&format!("service.api.autoscale.startup={startup}")],
        );
        run_recorded(&model).0.availability()
    };
    let (fast, slow) = (availability("5s"), availability("90s"));
    let middle = availability("45s");
    assert!(fast > middle && middle > slow, "{fast} {middle} {slow}");
}

/// Erlang's loss formula B(servers, offered load), by its recursion.
fn erlang_b(servers: u32, offered: f64) -> f64 {
    (1..=servers).fold(1.0, |b, k| offered * b / (f64::from(k) + offered * b))
}

#[test]
fn limit_push_a_bulkhead_sized_at_quiet_load_rejects_in_the_spike_as_erlang_s_formula_says() {
    let model = load("limit_push.toml", &[]);
    let (result, recorder) = run_recorded(&model);
    let api = &model.services[1];
    let limit = model.changes[0].policies[1].max_requests.expect("a limit");
    assert_eq!(model.services[1].policy.max_requests, None);
    // A try's mean time on the wire with no wait at the api: two hops and the service time.
    let latency_s = (2.0 * model.network.latency.mean()
        + model.endpoints[api.endpoints[0]].service_time.mean())
        / SECOND as f64;
    let clients = model.services[0].replicas as f64;
    let quiet_rate = model.workloads[0].rate / clients;
    let spike_rate = model.workloads[0].schedule[0].rate / clients;
    // The api's tries ended in [from, to) s: (all, rejected at the caller).
    let tries = |from: u64, to: u64| {
        recorder
            .windows
            .iter()
            .filter(|w| w.1 == "api" && w.0 >= from * SECOND && w.0 < to * SECOND)
            .fold((0u64, 0u64), |(all, rejected), w| {
                let outcomes = &w.4;
                let total: u64 = Outcome::ALL.iter().map(|&o| outcomes.get(o)).sum();
                (all + total, rejected + outcomes.get(Outcome::Rejected))
            })
    };
    // Before the push reaches anyone, no limit: nothing rejected.
    let first_switch = recorder
        .events
        .iter()
        .find(|e| e.kind == "config_switch")
        .expect("switches")
        .time;
    assert!(first_switch >= model.changes[0].at);
    assert_eq!(tries(0, first_switch / SECOND).1, 0);
    // Quiet load, every client switched (130-180 s): each client is an Erlang loss system
    // (Poisson tries, a limit of `limit`): B(limit, rate x latency), insensitive to the latency's
    // distribution. The api's queues at 34% busy lengthen tries by well under 1%, which raises B
    // by under 10% (its elasticity in the load is about limit - load = 7). Binomial count: 4 sd.
    let (all, rejected) = tries(130, 180);
    let p = erlang_b(limit, quiet_rate * latency_s);
    let expected = all as f64 * p;
    let sd = expected.sqrt();
    assert!(
        (rejected as f64) > expected - 4.0 * sd && (rejected as f64) < 1.1 * expected + 4.0 * sd,
        "quiet: {rejected} of {all} rejected, Erlang B expects {expected:.1}"
    );
    // The spike (70-120 s, all switched): B with the unloaded latency is a lower bound, since
    // the api's queues only lengthen tries; and the share is tens of times the quiet one.
    let (all, spike_rejected) = tries(70, 120);
    let floor = erlang_b(limit, spike_rate * latency_s);
    let share = spike_rejected as f64 / all as f64;
    let sd = (floor * (1.0 - floor) / all as f64).sqrt();
    assert!(
        share > floor - 4.0 * sd,
        "spike share {share:.4} < B {floor:.4}"
    );
    assert!(share > 30.0 * p, "spike share {share:.4} vs quiet {p:.5}");
    // Every rejected try fails its request (no retries): availability falls by as much.
    assert!(result.availability() < 0.99);
    // Sized for the peak, the limit costs next to nothing.
    let roomy = load(
        "limit_push.toml",
        &[r#"change.0.set={"service.api.policy.max_requests"=20}"#],
    );
    let roomy_result = crate::common::run(&roomy);
    assert!(roomy_result.availability() > 0.9999);
}
