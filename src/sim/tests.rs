//! Unit checks of the simulator on hand-built models (end-to-end checks of scenario files live in
//! `tests/`).

use super::{MemoryRecorder, NullRecorder, Simulation};
use crate::engine::time::{MILLISECOND, SECOND};
use crate::model::*;

/// One service of `replicas` x `workers` behind a Poisson workload at `rate` per second.
pub(crate) fn single_service(
    rate: f64,
    replicas: usize,
    workers: u32,
    service_time: Dist,
) -> Model {
    Model {
        name: "unit".into(),
        seed: 1,
        duration: 200 * SECOND,
        warmup: 10 * SECOND,
        window: SECOND,
        zones: vec!["default".into()],
        network: Network::default(),
        registry: RegistryModel::Oracle,
        services: vec![Service {
            error_rate: 0.0,
            name: "server".into(),
            replicas,
            replica_zones: vec![0; replicas],
            replica_weights: vec![1; replicas],
            autoscale: None,
            max_queue_time: u64::MAX,
            workers,
            concurrency: Concurrency::Threads,
            queue_capacity: None,
            endpoints: vec![0],
            policy: CallPolicy::default(),
            rate_limit: None,
            versions: vec![Version {
                name: String::new(),
                replicas,
                service_time: None,
                error_rate: 0.0,
            }],
            replica_versions: vec![0; replicas],
            traffic: None,
            deployment_slots: 0,
        }],
        endpoints: vec![Endpoint {
            service: 0,
            name: "default".into(),
            service_time,
            steps: vec![],
        }],
        workloads: vec![Workload {
            name: "load".into(),
            target: 0,
            arrival: Arrival::Poisson,
            rate,
            schedule: vec![],
            zone: None,
            key_space: crate::model::DEFAULT_KEY_SPACE,
        }],
        faults: vec![],
        deployments: vec![],
        changes: vec![],
        slo: None,
        alerts: vec![],
        compare: None,
    }
}

#[test]
fn mm1_mean_sojourn_is_near_theory() {
    // lambda = 500/s, mu = 1000/s: mean sojourn 1 / (mu - lambda) = 2 ms.
    let model = single_service(
        500.0,
        1,
        1,
        Dist::Exp {
            mean: MILLISECOND as f64,
        },
    );
    let (result, _) = Simulation::run(&model, NullRecorder);
    let mean_ms = result.latency.mean_nanos() / 1e6;
    assert_eq!(result.offered, result.outcomes.total());
    // The sojourn times of an M/M/1 queue are correlated: the sample mean over n requests has
    // variance ~ rho (2 + 5 rho - 4 rho^2 + rho^3) / (mu^2 (1 - rho)^4) / n = 29 ms^2 / n at
    // rho = 0.5 (the asymptotic variance of the mean wait; the service time adds little). Over
    // 190 s x 500/s = 95,000 requests the standard error is ~0.018 ms: 0.1 ms is ~5.5 of them.
    assert!((mean_ms - 2.0).abs() < 0.1, "mean {mean_ms} ms");
}

#[test]
fn crash_refuses_only_while_it_lasts_under_a_static_registry() {
    let mut model = single_service(
        200.0,
        2,
        4,
        Dist::Exp {
            mean: MILLISECOND as f64,
        },
    );
    model.registry = RegistryModel::Static;
    model.faults.push(Fault {
        at: 50 * SECOND,
        until: Some(80 * SECOND),
        kind: FaultKind::Crash,
        target_label: "server#0".into(),
        replicas: vec![ReplicaRef {
            service: 0,
            index: 0,
        }],
    });
    let (result, recorder) = Simulation::run(&model, MemoryRecorder::default());
    let refused = result.outcomes.get(Outcome::Refused);
    // Round robin sends exactly half (to within one) of the 30 s of Poisson load to the crashed
    // replica: half of a Poisson(6000) count, sd sqrt(6000) / 2 = 39 (1.3%); 5 sd.
    let arrivals: f64 = 200.0 * 30.0;
    let expected = arrivals / 2.0;
    let five_sd = 5.0 * arrivals.sqrt() / 2.0;
    assert!(
        (refused as f64 - expected).abs() < five_sd,
        "refused {refused}, expected {expected} +- {five_sd:.0}"
    );
    for (start, _, _, _, outcomes, _) in &recorder.windows {
        let during = *start >= 50 * SECOND && *start < 80 * SECOND;
        assert_eq!(
            outcomes.get(Outcome::Refused) > 0,
            during,
            "window at {start}"
        );
    }
    assert_eq!(recorder.events.len(), 2);
}

#[test]
fn only_models_that_drop_a_replica_s_jobs_at_once_keep_which_jobs_it_holds() {
    // `drop_all_jobs` asserts `tracks_held_jobs`: every model that can reach it must keep the
    // list, and the others save its upkeep.
    let plain = single_service(100.0, 2, 4, Dist::Const(MILLISECOND as f64));
    assert!(!super::tracks_held_jobs(&plain));
    for kind in [FaultKind::Crash, FaultKind::Hang] {
        let mut model = plain.clone();
        model.faults.push(Fault {
            at: SECOND,
            until: None,
            kind,
            target_label: "server#0".into(),
            replicas: vec![ReplicaRef {
                service: 0,
                index: 0,
            }],
        });
        assert!(super::tracks_held_jobs(&model));
        // And the run through the fault passes the assertion.
        let (result, _) = Simulation::run(&model, NullRecorder);
        assert!(result.outcomes.get(Outcome::Succeeded) > 0);
    }
}

#[test]
fn end_to_end_window_rows_account_for_every_request() {
    // With no warm-up every request is measured: the window rows' arrivals add up to the offered
    // requests, and their endings (succeeded plus failures) to the same number.
    let mut model = single_service(
        300.0,
        1,
        1,
        Dist::Exp {
            mean: 2.0 * MILLISECOND as f64,
        },
    );
    model.warmup = 0;
    model.duration = 20 * SECOND;
    model.services[0].queue_capacity = Some(2);
    let (result, recorder) = Simulation::run(&model, MemoryRecorder::default());
    let edge: Vec<_> = recorder
        .windows
        .iter()
        .filter(|row| row.1 == super::EDGE_ROW)
        .collect();
    let arrivals: u64 = edge.iter().map(|row| row.2).sum();
    let ended: u64 = edge.iter().map(|row| row.3 + row.4.failed()).sum();
    assert_eq!(arrivals, result.offered);
    assert_eq!(ended, result.offered);
    assert!(
        result.outcomes.get(Outcome::Rejected) > 0,
        "rho = 0.6 with K = 3 rejects some"
    );
    assert_eq!(
        edge.last().map(|row| row.5),
        Some(0),
        "nothing in flight at the end"
    );
}

#[test]
fn hedges_pools_and_timeouts_leave_no_try_outstanding() {
    // Overloaded (4,000/s offered, ~4,000/s of capacity) with short timeouts, retries, two
    // hedges per call and a small connection pool: every way a try can end is exercised. When
    // every request has ended, no client may still count a try outstanding or pending.
    let mut model = single_service(
        4000.0,
        4,
        2,
        Dist::Exp {
            mean: 2.0 * MILLISECOND as f64,
        },
    );
    model.duration = 10 * SECOND;
    model.warmup = SECOND;
    model.services[0].queue_capacity = Some(10);
    let policy = &mut model.services[0].policy;
    policy.timeout = 60 * MILLISECOND;
    policy.retries.max_retries = 2;
    policy.retries.per_try_timeout = Some(15 * MILLISECOND);
    policy.hedge = Some(crate::model::policy::HedgePolicy {
        after: 4 * MILLISECOND,
        max: 2,
    });
    policy.max_connections = Some(6);
    policy.max_pending = Some(8);
    let mut queue = crate::engine::EventQueue::new();
    let mut simulation = Simulation::new(&model, NullRecorder, &mut queue);
    simulation.prime(&mut queue);
    crate::engine::run(&mut simulation, &mut queue, u64::MAX);
    let totals = &simulation.measure.service_totals[0];
    assert!(totals.hedges > 1000, "{} hedges", totals.hedges);
    assert!(totals.retries > 1000, "{} retries", totals.retries);
    for outcome in [Outcome::Succeeded, Outcome::Timeout, Outcome::Rejected] {
        assert!(totals.try_outcomes.get(outcome) > 100, "{outcome:?}");
    }
    assert_eq!(
        simulation.measure.outcomes.total(),
        simulation.measure.offered
    );
    assert_eq!(simulation.measure.measured_in_flight, 0);
    for balancer in &simulation.clients.balancers {
        assert_eq!(balancer.total_outstanding(), 0);
    }
    for pending in &simulation.flight.pending {
        assert_eq!(pending.live, 0);
    }
}

/// Every measured request ended, in exactly one outcome, per service too.
fn assert_conserved(result: &super::RunResult) {
    assert_eq!(result.stopped, None);
    assert_eq!(
        result.offered,
        result.outcomes.total(),
        "offered {} but ended {:?}",
        result.offered,
        result.outcomes
    );
}

#[test]
fn a_timeout_near_u64_max_drops_no_request() {
    // (A window of 10,000 h: the drain after the load may last that long, the longest timeout,
    // and a scenario keeps its windows below a million.)
    let longest = crate::engine::time::LONGEST;
    for timeout in [
        u64::MAX,
        u64::MAX - 1,
        u64::MAX - 20 * SECOND,
        u64::MAX / 2,
        longest,
    ] {
        let mut model = single_service(50.0, 1, 1, Dist::Const(1e6));
        model.duration = 2 * SECOND;
        model.warmup = 0;
        model.window = longest;
        model.services[0].policy.timeout = timeout;
        model.services[0].policy.retries.per_try_timeout = Some(timeout - 1);
        let (result, _) = Simulation::run(&model, NullRecorder);
        assert!(result.offered > 50, "timeout {timeout}: {}", result.offered);
        assert_conserved(&result);
        assert_eq!(
            result.outcomes.get(Outcome::Succeeded),
            result.offered,
            "timeout {timeout}"
        );
    }
}

#[test]
fn a_zero_time_loop_stops_with_its_cause() {
    // Closed-loop users with zero think time against a replica that has crashed: each request
    // is refused at once, in zero simulated time, and the user sends the next one.
    let mut model = single_service(1.0, 1, 1, Dist::Const(1e6));
    model.duration = 10 * SECOND;
    model.workloads[0].arrival = Arrival::Closed {
        users: 2,
        think_time: Dist::Const(0.0),
    };
    model.faults.push(Fault {
        kind: FaultKind::Crash,
        target_label: "server#0".into(),
        replicas: vec![ReplicaRef {
            service: 0,
            index: 0,
        }],
        at: SECOND,
        until: None,
    });
    let (result, _) = Simulation::run(&model, NullRecorder);
    let reason = result.stopped.expect("the run is stopped");
    assert!(reason.contains("without time advancing"), "{reason}");
    assert!(reason.contains("at simulated time 1 s"), "{reason}");
    // 1,000,000 + 64 per user: the run stopped within that many events of the loop's start.
    let limit = super::events_per_instant_limit(&model);
    assert_eq!(limit, 1_000_128);
    assert!(
        result.events_handled <= 2 * limit,
        "{}",
        result.events_handled
    );
}

#[test]
fn runaway_load_on_unbounded_queues_stops_with_its_cause() {
    // 10 million requests a second to one worker of 1 ms, queue unbounded, 1 h timeout: the
    // queue grows by 10 million a second of simulated time.
    let mut model = single_service(1e7, 1, 1, Dist::Const(1e6));
    model.duration = 10 * SECOND;
    model.warmup = 0;
    model.services[0].policy.timeout = 3_600 * SECOND;
    let (result, _) = Simulation::run(&model, NullRecorder);
    let reason = result.stopped.expect("the run is stopped");
    assert!(reason.contains("requests in flight"), "{reason}");
    // Stopped by the arrival that made one more than the limit in flight (every request is
    // measured: no warmup), about 1 s into the 10 s of load (100 million arrivals).
    assert_eq!(
        result.offered - result.outcomes.total(),
        super::MAX_IN_FLIGHT + 1
    );
}

#[test]
fn pareto_with_a_vanishing_shape_saturates_rather_than_answering_in_zero_time() {
    // pareto(shape=1e-300) draws +infinity: the service time saturates at 10,000 h and every
    // measured request times out (it used to wrap to 0 ns: instant successes).
    let pareto = Dist::Pareto {
        scale: 1e6,
        shape: 1e-300,
    };
    let mut model = single_service(20.0, 1, 64, pareto);
    model.duration = 5 * SECOND;
    model.warmup = 0;
    model.services[0].policy.timeout = 100 * MILLISECOND;
    let (result, _) = Simulation::run(&model, NullRecorder);
    assert_conserved(&result);
    assert!(result.offered > 50);
    assert_eq!(result.outcomes.get(Outcome::Succeeded), 0);
    assert!(result.outcomes.get(Outcome::Timeout) > 0);
}

/// A window row as a test compares it: start, service, succeeded, and the window histogram's
/// count, mean bits, minimum, maximum and percentiles.
type WindowLatencies = (u64, String, u64, u64, u64, u64, u64, Vec<u64>);

/// Keeps every window row's latency figures.
#[derive(Default)]
struct LatencyRecorder {
    windows: Vec<WindowLatencies>,
}

impl super::Recorder for LatencyRecorder {
    fn window(&mut self, row: &super::WindowRow<'_>) {
        let latency = &row.counters.latency;
        self.windows.push((
            row.start,
            row.service.to_string(),
            row.counters.succeeded,
            latency.count(),
            latency.mean_nanos().to_bits(),
            latency.min_nanos(),
            latency.max_nanos(),
            [0.5, 0.9, 0.99, 0.999, 1.0]
                .map(|q| latency.quantile_nanos(q))
                .to_vec(),
        ));
    }
    fn event(&mut self, _record: &super::EventRecord) {}
}

/// Grows a one-service `model` to `services` services, each a copy of the first (its policy
/// included) with an endpoint and a workload of its own: service times exp(0.1 to 0.7 ms) and
/// rates of 1 to 5 times `rate_step` per second, varying with the service's index.
fn copy_first_service(model: &mut crate::model::Model, services: usize, rate_step: f64) {
    let (service, endpoint, workload) = (
        model.services[0].clone(),
        model.endpoints[0].clone(),
        model.workloads[0].clone(),
    );
    for index in 1..services {
        let mut service = service.clone();
        service.name = format!("server-{index}");
        service.endpoints = vec![index];
        model.services.push(service);
        let mut endpoint = endpoint.clone();
        endpoint.service = index;
        endpoint.service_time = Dist::Exp {
            mean: (1 + index % 7) as f64 * 1e5,
        };
        model.endpoints.push(endpoint);
        let mut workload = workload.clone();
        workload.name = format!("load-{index}");
        workload.target = index;
        workload.rate = rate_step * (1 + index % 5) as f64;
        model.workloads.push(workload);
    }
}

#[test]
fn a_big_topology_s_logged_latencies_give_the_same_run_as_direct_records() {
    // 40 services (the latency log is on from 32) with a workload each, at loads and service
    // times that differ by service, over 12 windows: the run with the log and the run with
    // every record counted at once must agree on every window row and every service's summary.
    // Guards the log's invariant: nothing may read a service's histogram or succeeded count
    // during a run before the log is applied.
    const SERVICES: usize = 40;
    let mut model = single_service(100.0, 2, 4, Dist::Exp { mean: 1e6 });
    model.duration = 12 * SECOND;
    model.warmup = 2 * SECOND;
    copy_first_service(&mut model, SERVICES, 20.0);
    let (logged, logged_rows) = Simulation::run(&model, LatencyRecorder::default());
    super::latency_log::force_direct_records(true);
    let (direct, direct_rows) = Simulation::run(&model, LatencyRecorder::default());
    super::latency_log::force_direct_records(false);
    assert!(logged.events_handled > 10_000, "{}", logged.events_handled);
    assert_eq!(logged.events_handled, direct.events_handled);
    assert_eq!(logged_rows.windows.len(), direct_rows.windows.len());
    for (logged, direct) in logged_rows.windows.iter().zip(&direct_rows.windows) {
        assert_eq!(logged, direct);
    }
    assert!(logged_rows.windows.iter().filter(|row| row.3 > 0).count() > SERVICES * 10);
    for (index, (logged, direct)) in logged.services.iter().zip(&direct.services).enumerate() {
        assert!(
            logged.latency.count() > 0,
            "service {index} recorded nothing"
        );
        assert_eq!(logged.succeeded, direct.succeeded, "service {index}");
        assert_eq!(
            logged.latency.count(),
            direct.latency.count(),
            "service {index}"
        );
        assert_eq!(
            logged.latency.mean_nanos().to_bits(),
            direct.latency.mean_nanos().to_bits(),
            "service {index}"
        );
        for quantile in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(
                logged.latency.quantile_nanos(quantile),
                direct.latency.quantile_nanos(quantile),
                "service {index}, quantile {quantile}"
            );
        }
    }
}

#[test]
fn prefetch_hints_change_no_result() {
    // 240 services (hints on from 200), each with a workload of its own, some under a timeout
    // shorter than their tail (so that stale slots, freed and reused, get named by events): the
    // runs with the hints, without them, and on the small model with them forced on, must agree
    // on every window row and every total.
    const SERVICES: usize = 240;
    let mut model = single_service(100.0, 2, 4, Dist::Exp { mean: 1e6 });
    model.duration = 4 * SECOND;
    model.warmup = SECOND;
    let policy = &mut model.services[0].policy;
    policy.timeout = 3 * MILLISECOND;
    policy.retries.max_retries = 1;
    policy.hedge = Some(crate::model::policy::HedgePolicy {
        after: MILLISECOND,
        max: 1,
    });
    copy_first_service(&mut model, SERVICES, 10.0);
    let compare = |model: &crate::model::Model, hints: Option<bool>| {
        super::prefetch::force(hints);
        let with = Simulation::run(model, LatencyRecorder::default());
        super::prefetch::force(Some(false));
        let without = Simulation::run(model, LatencyRecorder::default());
        super::prefetch::force(None);
        assert_eq!(with.0.events_handled, without.0.events_handled);
        assert_eq!(with.0.end_time, without.0.end_time);
        assert_eq!(with.0.outcomes, without.0.outcomes);
        assert_eq!(with.1.windows, without.1.windows);
        for (index, (with, without)) in with.0.services.iter().zip(&without.0.services).enumerate()
        {
            assert_eq!(with.succeeded, without.succeeded, "service {index}");
            assert_eq!(
                with.latency.quantile_nanos(0.99),
                without.latency.quantile_nanos(0.99),
                "service {index}"
            );
        }
        with.0.events_handled
    };
    assert!(compare(&model, None) > 50_000);
    let small = single_service(500.0, 2, 4, Dist::Exp { mean: 1e6 });
    assert!(compare(&small, Some(true)) > 1_000);
}
