//! Hedged requests and connection pools (`max_connections` / `max_pending`), checked against
//! values computed here from the scenarios' parameters: the hedge rate from the service-time
//! distribution, the pool's outcomes from an independent event-by-event count.
//!
//! Scenarios: `scenarios/validation/governance/hedge.toml` and `pending.toml`.

use crate::common::{load, run, run_recorded};
use meshsim::model::{Arrival, BalancerKind, Dist, FaultKind, Model, Outcome};
use meshsim::sim::RunResult;
use std::collections::VecDeque;

const MS: f64 = 1e6;
const HEDGE: &str = "validation/governance/hedge.toml";
const PENDING: &str = "validation/governance/pending.toml";

/// offered == the sum of the outcomes, and a latency per success.
fn assert_conserved(label: &str, result: &RunResult) {
    assert_eq!(result.outcomes.total(), result.offered, "{label}");
    assert_eq!(
        result.latency.count(),
        result.outcomes.get(Outcome::Succeeded),
        "{label}"
    );
}

/// The shape of hedge.toml's unhedged latency, read from the model: a constant network round
/// trip plus an exponential service time, `factor` times longer on the slow replicas, which the
/// random balancer picks with probability `slow_share`.
#[derive(Debug, Clone, Copy)]
struct Mixture {
    /// Network round trip (two hops), ms.
    network_ms: f64,
    /// Mean service time on a healthy replica, ms.
    mean_ms: f64,
    /// The slow fault's factor.
    factor: f64,
    /// Share of the replicas that are slow.
    slow_share: f64,
}

impl Mixture {
    fn of(model: &Model) -> Mixture {
        let pool = &model.services[0];
        assert_eq!(pool.policy.balancer, BalancerKind::Random);
        assert!(model.network.latency.is_const(), "a constant hop");
        let Dist::Exp { mean } = model.endpoints[pool.endpoints[0]].service_time else {
            panic!("hedge.toml has exponential service times")
        };
        let fault = &model.faults[0];
        let FaultKind::Slow { factor } = fault.kind else {
            panic!("hedge.toml has a slow fault")
        };
        assert!(
            fault.at <= model.warmup && fault.until.is_none(),
            "the whole run"
        );
        Mixture {
            network_ms: 2.0 * model.network.latency.mean() / MS,
            mean_ms: mean / MS,
            factor,
            slow_share: fault.replicas.len() as f64 / pool.replicas as f64,
        }
    }

    /// P(round trip > `after_ms`).
    fn p_slower_than(&self, after_ms: f64) -> f64 {
        let compute = after_ms - self.network_ms;
        (1.0 - self.slow_share) * (-compute / self.mean_ms).exp()
            + self.slow_share * (-compute / (self.mean_ms * self.factor)).exp()
    }

    /// The `q` quantile, ms (bisection on the survival function).
    fn quantile_ms(&self, q: f64) -> f64 {
        let (mut low, mut high) = (self.network_ms, 10_000.0);
        for _ in 0..100 {
            let middle = (low + high) / 2.0;
            if self.p_slower_than(middle) > 1.0 - q {
                low = middle;
            } else {
                high = middle;
            }
        }
        low
    }
}

#[test]
fn hedging_after_the_p95_sends_the_predicted_hedges_and_cuts_the_p99() {
    let hedged_model = load(HEDGE, &[]);
    let hedge = hedged_model.services[0].policy.hedge.expect("hedge policy");
    assert_eq!(hedge.max, 1);
    let after_ms = hedge.after as f64 / MS;
    let mixture = Mixture::of(&hedged_model);
    // Without hedging: a delay past the whole-call timeout is never armed.
    let plain_model = load(HEDGE, &["policy.hedge={ after = \"10s\", max = 1 }"]);
    let plain = run(&plain_model);
    let hedged = run(&hedged_model);
    assert_conserved("plain", &plain);
    assert_conserved("hedged", &hedged);
    assert_eq!(plain.services[0].hedges, 0);
    assert_eq!(
        plain.offered, hedged.offered,
        "hedging leaves the offered load alone"
    );
    assert_eq!(hedged.availability(), 1.0);

    // The unhedged p99 is the mixture's (sd of an empirical p99 over 30,000 requests: ~2%).
    let p99_theory = mixture.quantile_ms(0.99);
    let plain_p99 = plain.latency.quantile_nanos(0.99) as f64 / MS;
    assert!(
        (plain_p99 / p99_theory - 1.0).abs() < 0.08,
        "unhedged p99 {plain_p99:.1} ms vs {p99_theory:.1} ms"
    );
    // `after` is about the p95.
    let p95_theory = mixture.quantile_ms(0.95);
    assert!((after_ms / p95_theory - 1.0).abs() < 0.05, "{p95_theory}");

    // One hedge per request whose first try is unanswered after `after`: Binomial(offered, p).
    let p = mixture.p_slower_than(after_ms);
    let offered = hedged.offered as f64;
    let hedges = hedged.services[0].hedges as f64;
    let five_sd = 5.0 * (offered * p * (1.0 - p)).sqrt();
    assert!(
        (hedges - offered * p).abs() < five_sd,
        "{hedges} hedges, expected {:.0} +- {five_sd:.0}",
        offered * p
    );
    // Every try reaches the pool: first tries plus hedges (a few straddle the interval's ends).
    let tries = hedged.services[0].requests as f64;
    assert!(
        (tries - (offered + hedges)).abs() < 30.0,
        "{tries} tries vs {offered} + {hedges}"
    );
    // The hedge wins for most slow requests: the p99 falls well below the unhedged one, to
    // about `after` plus a fast try.
    let hedged_p99 = hedged.latency.quantile_nanos(0.99) as f64 / MS;
    assert!(
        hedged_p99 < 0.75 * plain_p99,
        "hedged p99 {hedged_p99:.1} ms vs unhedged {plain_p99:.1} ms"
    );
    assert!(hedged_p99 > after_ms, "{hedged_p99}");
    // The losing tries still ran: wasted work at the pool.
    assert!(hedged.services[0].wasted_nanos > 0);
    assert_eq!(plain.services[0].wasted_nanos, 0);
}

#[test]
fn hedges_never_exceed_max_per_call() {
    for max in [1u64, 2, 3] {
        // A 2 ms delay: nearly every try is still out when it passes.
        let setting = format!("policy.hedge={{ after = \"2ms\", max = {max} }}");
        let model = load(HEDGE, &[&setting, "scenario.duration=6s"]);
        let result = run(&model);
        assert_conserved(&setting, &result);
        let (offered, hedges) = (result.offered, result.services[0].hedges);
        assert!(
            hedges <= max * offered,
            "{setting}: {hedges} > {max} x {offered}"
        );
        // P(1 ms + Exp(10 ms) > 2 ms) ~ 0.9 for the first try: most calls use their whole
        // allowance (later hedges only when the earlier tries are all still out).
        let p_first = Mixture::of(&model).p_slower_than(2.0);
        assert!(p_first > 0.85, "test premise: {p_first}");
        assert!(
            hedges as f64 > 0.6 * (max * offered) as f64,
            "{setting}: only {hedges} hedges for {offered} requests"
        );
    }
}

/// Outcomes of the measured requests at a client with a connection pool, counted event by
/// event: constant arrivals every `gap` ns from `gap` on, `connections` tries on the wire at
/// most, `pending` waiting at most (FIFO, the rest rejected), a try holding its connection
/// for `rtt` ns, or until its call times out `timeout` ns after arrival. Returns (succeeded,
/// timeout, rejected) of the arrivals in `[warmup, duration)`.
fn pool_outcomes(
    gap: u64,
    duration: u64,
    warmup: u64,
    connections: usize,
    pending: usize,
    rtt: u64,
    timeout: u64,
) -> (u64, u64, u64) {
    let mut counts = (0, 0, 0);
    let measured = |arrival: u64| arrival >= warmup && arrival < duration;
    // (connection free at, arrival of its call) per busy connection; waiting arrivals.
    let mut busy: Vec<(u64, u64)> = Vec::new();
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let mut next_arrival = gap;
    loop {
        let next_free = busy.iter().map(|b| b.0).min().unwrap_or(u64::MAX);
        let next_expiry = waiting.front().map_or(u64::MAX, |a| a + timeout);
        let now = next_arrival.min(next_free).min(next_expiry);
        if now == u64::MAX {
            return counts;
        }
        if now == next_free {
            let index = busy.iter().position(|b| b.0 == now).expect("busy");
            busy.swap_remove(index);
            if let Some(arrival) = waiting.pop_front() {
                busy.push(dispatch(arrival, now, rtt, timeout, &mut counts, measured));
            }
        } else if now == next_expiry {
            let arrival = waiting.pop_front().expect("waiting");
            if measured(arrival) {
                counts.1 += 1;
            }
        } else {
            if busy.len() < connections {
                busy.push(dispatch(now, now, rtt, timeout, &mut counts, measured));
            } else if waiting.len() < pending {
                waiting.push_back(now);
            } else if measured(now) {
                counts.2 += 1;
            }
            next_arrival = if now + gap < duration {
                now + gap
            } else {
                u64::MAX
            };
        }
    }
}

/// Puts a try on the wire at `now`: it frees its connection at its response or its call's
/// timeout, whichever comes first, and counts as such.
fn dispatch(
    arrival: u64,
    now: u64,
    rtt: u64,
    timeout: u64,
    counts: &mut (u64, u64, u64),
    measured: impl Fn(u64) -> bool,
) -> (u64, u64) {
    let (response, deadline) = (now + rtt, arrival + timeout);
    if measured(arrival) {
        if response < deadline {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
    }
    (response.min(deadline), arrival)
}

#[test]
fn connection_pool_queues_then_rejects_exactly_as_counted() {
    for timeout in ["95.5ms", "10s"] {
        let setting = format!("service.back.policy.timeout={timeout}");
        let model = load(PENDING, &[&setting]);
        let policy = &model.services[0].policy;
        let connections = policy.max_connections.expect("max_connections");
        let pending = policy.max_pending.expect("max_pending");
        let compute = match model.endpoints[0].service_time {
            Dist::Const(nanos) => nanos as u64,
            _ => panic!("pending.toml has a constant service time"),
        };
        let hop = match model.network.latency {
            Dist::Const(nanos) => nanos as u64,
            _ => panic!("pending.toml has a constant network hop"),
        };
        let rtt = hop + compute + hop;
        let workload = &model.workloads[0];
        assert!(matches!(workload.arrival, Arrival::Constant));
        let gap = (1e9 / workload.rate) as u64;
        assert_eq!(
            gap as f64 * workload.rate,
            1e9,
            "a whole number of ns apart"
        );
        let expected = pool_outcomes(
            gap,
            model.duration,
            model.warmup,
            connections as usize,
            pending as usize,
            rtt,
            policy.timeout,
        );
        let (result, recorder) = run_recorded(&model);
        assert_conserved(&setting, &result);
        let got = (
            result.outcomes.get(Outcome::Succeeded),
            result.outcomes.get(Outcome::Timeout),
            result.outcomes.get(Outcome::Rejected),
        );
        assert_eq!(got, expected, "{setting}: (succeeded, timeout, rejected)");
        assert!(expected.0 > 0 && expected.2 > 0, "{expected:?}");
        if timeout == "10s" {
            // Nothing is abandoned: the backend never holds more than the pool's connections,
            // and holds them all the time (the queue never empties): busy workers average
            // connections x compute / round trip.
            assert_eq!(expected.1, 0);
            let most = recorder
                .windows
                .iter()
                .filter(|row| row.1 == "back")
                .map(|row| row.5)
                .max();
            assert_eq!(most, Some(u64::from(connections)));
            let measured = (model.duration - model.warmup) as f64;
            let busy = result.services[0].busy_worker_nanos / measured;
            let theory = f64::from(connections) * compute as f64 / rtt as f64;
            assert!((busy / theory - 1.0).abs() < 0.005, "{busy} vs {theory}");
        } else {
            assert!(expected.1 > 0, "the short timeout catches waiting requests");
        }
    }
}
