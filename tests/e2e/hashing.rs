//! Consistent hashing (`ring_hash`, `maglev`) and zone-aware routing, end to end: a user's calls
//! stay on one replica through the call tree, users spread as the table divides them, equal zones
//! keep every call local, and the zone outage story. Scenarios: `scenarios/zone_outage.toml`,
//! `scenarios/validation/hashing/`, `scenarios/validation/zones/`.

use crate::common::load;
use meshsim::model::hashing::{hash_user_key, HashTable};
use meshsim::model::{BalancerKind, Model};
use meshsim::scenario::{self, ScenarioErrors};
use meshsim::sim::{EventRecord, Recorder, ReplicaRow, RunResult, Simulation, WindowRow};
use std::path::Path;

const SECOND: u64 = 1_000_000_000;

/// One `replicas.csv` row: window start (ns), service, replica, zone, arrivals.
type Row = (u64, String, u32, String, u64);

/// Keeps the per-replica rows.
#[derive(Default)]
struct Replicas(Vec<Row>);

impl Recorder for Replicas {
    fn window(&mut self, _row: &WindowRow<'_>) {}
    fn replica_window(&mut self, row: &ReplicaRow<'_>) {
        self.0.push((
            row.start,
            row.service.to_string(),
            row.replica,
            row.zone.to_string(),
            row.arrivals,
        ));
    }
    fn event(&mut self, _record: &EventRecord) {}
}

fn run_rows(model: &Model) -> (RunResult, Vec<Row>) {
    let (result, rows) = Simulation::run(model, Replicas::default());
    (result, rows.0)
}

/// Arrivals per replica of `service` over the windows starting in `[from, to)` seconds.
fn arrivals(rows: &[Row], service: &str, replicas: usize, from: u64, to: u64) -> Vec<u64> {
    let mut counts = vec![0; replicas];
    for (start, name, replica, _, count) in rows {
        if name == service && *start >= from * SECOND && *start < to * SECOND {
            counts[*replica as usize] += count;
        }
    }
    counts
}

fn service<'a>(
    result: &'a RunResult,
    model: &Model,
    name: &str,
) -> &'a meshsim::sim::ServiceTotals {
    let index = model
        .services
        .iter()
        .position(|s| s.name == name)
        .expect(name);
    &result.services[index]
}

const AFFINITY: &str = "validation/hashing/affinity.toml";

/// The cache tier of affinity.toml: its replicas' indices and weights, and the front tier's
/// replica count.
fn affinity_tiers() -> (Vec<u32>, Vec<u32>, usize) {
    let model = load(AFFINITY, &[]);
    let index = |name: &str| {
        model
            .services
            .iter()
            .position(|s| s.name == name)
            .expect(name)
    };
    let cache = &model.services[index("cache")];
    let members = (0..cache.replicas as u32).collect();
    (
        members,
        cache.replica_weights.clone(),
        model.services[index("front")].replicas,
    )
}

/// The replica of `members` the table of `kind` gives user `key`.
fn owner(kind: BalancerKind, members: &[u32], weights: &[u32], key: u64) -> u32 {
    HashTable::build(kind, "cache", members, weights)
        .lookup(hash_user_key(key))
        .expect("a member")
}

#[test]
fn a_users_calls_stay_on_one_replica_and_move_to_the_next_while_it_is_down() {
    let (all, weights, fronts) = affinity_tiers();
    for kind in [BalancerKind::RingHash, BalancerKind::Maglev] {
        // One user (key 0): its replica, and the one its keys go to while that one is crashed.
        let home = owner(kind, &all, &weights, 0);
        let rest: Vec<u32> = all.iter().copied().filter(|&r| r != home).collect();
        let next = owner(kind, &rest, &weights, 0);
        let balancer = format!("service.cache.policy.balancer={}", kind.name());
        let target = format!("fault.0.target=cache#{home}");
        let model = load(AFFINITY, &[&balancer, &target]);
        assert_eq!(model.workloads[0].key_space, 1, "one user");
        let (crash, end) = (
            model.faults[0].at / SECOND,
            model.faults[0].until.expect("the crash ends") / SECOND,
        );
        let duration = model.duration / SECOND;
        let (result, rows) = run_rows(&model);
        assert_eq!(result.availability(), 1.0, "{}", kind.name());
        // Before the crash, during it and after (from the window after its end): every call,
        // from any of the front replicas, reaches exactly one cache replica.
        let only = |replica: u32, counts: Vec<u64>| {
            let total: u64 = counts.iter().sum();
            assert!(total > 1000, "{counts:?}");
            assert_eq!(
                counts[replica as usize],
                total,
                "{}: {counts:?}",
                kind.name()
            );
        };
        only(home, arrivals(&rows, "cache", all.len(), 0, crash));
        only(next, arrivals(&rows, "cache", all.len(), crash, end));
        only(home, arrivals(&rows, "cache", all.len(), end + 1, duration));
        let front_counts = arrivals(&rows, "front", fronts, 0, crash);
        assert!(
            front_counts.iter().all(|&count| count > 1000),
            "{front_counts:?}"
        );
    }
}

#[test]
fn many_users_spread_over_the_replicas_as_the_table_divides_them() {
    const USERS: u64 = 10_000;
    let (all, weights, _) = affinity_tiers();
    for kind in [BalancerKind::RingHash, BalancerKind::Maglev] {
        let mut share = vec![0.0; all.len()];
        for key in 0..USERS {
            share[owner(kind, &all, &weights, key) as usize] += 1.0 / USERS as f64;
        }
        let balancer = format!("service.cache.policy.balancer={}", kind.name());
        let key_space = format!("workload.users.key_space={USERS}");
        let model = load(AFFINITY, &[&balancer, &key_space]);
        let crash = model.faults[0].at / SECOND;
        let (_, rows) = run_rows(&model);
        let counts = arrivals(&rows, "cache", all.len(), 0, crash);
        let total: u64 = counts.iter().sum();
        for (replica, &count) in counts.iter().enumerate() {
            // Each call's user is uniform over 10k users: binomial around the users' share.
            let expected = total as f64 * share[replica];
            let sd = (total as f64 * share[replica] * (1.0 - share[replica])).sqrt();
            assert!(
                (count as f64 - expected).abs() < 5.0 * sd,
                "{}: replica {replica} got {count}, expected {expected:.0} (sd {sd:.0}): {counts:?}",
                kind.name()
            );
        }
    }
}

fn index_of(model: &Model, name: &str) -> usize {
    model
        .services
        .iter()
        .position(|s| s.name == name)
        .expect(name)
}

/// The constant same-zone and cross-zone hops of `model`, ms.
fn hops_ms(model: &Model) -> (f64, f64) {
    let network = &model.network;
    assert!(network.latency.is_const() && network.cross_zone_latency.is_const());
    (
        network.latency.mean() / 1e6,
        network.cross_zone_latency.mean() / 1e6,
    )
}

/// Mean end-to-end latency, milliseconds.
fn mean_ms(result: &RunResult) -> f64 {
    result.latency.mean_nanos() / 1e6
}

#[test]
fn zone_aware_routing_with_equal_zones_keeps_calls_local_and_saves_the_cross_zone_trip() {
    let aware = load("validation/zones/equal_zones.toml", &[]);
    let plain = load(
        "validation/zones/equal_zones.toml",
        &["policy.zone_aware=false"],
    );
    let (aware_result, plain_result) = (crate::common::run(&aware), crate::common::run(&plain));
    let aware_back = service(&aware_result, &aware, "back");
    assert!(aware_back.requests > 10_000);
    assert_eq!(
        aware_back.cross_zone_tries, 0,
        "every call stays in its zone"
    );
    // Round robin over back replicas in zones a, b, c, a, b, c: a caller's calls cross to the
    // replicas outside its zone (two in three).
    let back_zones = &plain.services[index_of(&plain, "back")].replica_zones;
    let front_zones = &plain.services[index_of(&plain, "front")].replica_zones;
    let expected_crossing = front_zones
        .iter()
        .map(|zone| back_zones.iter().filter(|z| *z != zone).count() as f64)
        .sum::<f64>()
        / (front_zones.len() * back_zones.len()) as f64;
    let plain_back = service(&plain_result, &plain, "back");
    let crossing = plain_back.cross_zone_tries as f64 / plain_back.requests as f64;
    // Binomial-like wobble of the front replicas' shares: well under 0.01 at 15,000 calls.
    assert!((crossing - expected_crossing).abs() < 0.01, "{crossing}");
    // Each crossing call pays 2 x (cross-zone hop - same-zone hop) more; service times are the
    // same draws in both runs and nothing queues, so the means differ by that alone.
    let (same_ms, cross_ms) = hops_ms(&plain);
    let expected = expected_crossing * 2.0 * (cross_ms - same_ms);
    let saved = mean_ms(&plain_result) - mean_ms(&aware_result);
    assert!(
        (saved / expected - 1.0).abs() < 0.03,
        "saved {saved} ms, expected {expected}"
    );
    assert_eq!(aware_result.availability(), 1.0);
}

#[test]
fn zone_outage_zone_aware_routing_stays_local_when_healthy_and_spills_over_during_the_outage() {
    let aware = load("zone_outage.toml", &[]);
    let plain = load("zone_outage.toml", &["policy.zone_aware=false"]);
    let (aware_result, rows) = run_rows(&aware);
    let plain_result = crate::common::run(&plain);
    let (from, until) = (
        aware.faults[0].at / SECOND,
        aware.faults[0].until.unwrap() / SECOND,
    );
    let measured = (aware.duration - aware.warmup) / SECOND;
    let (outage, healthy) = ((until - from) as f64, (measured - (until - from)) as f64);

    // Availability holds in both: the registry drops zone b, and zone b's users spill over.
    assert!(
        aware_result.availability() > 0.999,
        "{}",
        aware_result.availability()
    );
    assert!(
        plain_result.availability() > 0.999,
        "{}",
        plain_result.availability()
    );

    // The outage takes one zone of three, tiers alike; each zone has its users' workload.
    let zones = aware.zones.len() as f64;
    let front = &aware.services[index_of(&aware, "front")];
    let down_zone = front.replica_zones[aware.faults[0].replicas[0].index];
    let rate: f64 = aware.workloads.iter().map(|w| w.rate).sum();
    let down_rate: f64 = aware
        .workloads
        .iter()
        .filter(|w| w.zone == Some(down_zone))
        .map(|w| w.rate)
        .sum();
    assert_eq!(zones, 3.0);
    assert_eq!(down_rate * zones, rate, "equal users per zone");
    let front_replicas = front.replicas as f64;
    let front_down = aware.faults[0]
        .replicas
        .iter()
        .filter(|r| aware.services[r.service].name == "front")
        .count() as f64;
    assert_eq!(
        front_down * zones,
        front_replicas,
        "a third of the front tier is down"
    );

    // Zone-aware: the front tier's calls to the back tier never leave their zone; the only
    // cross-zone tries are the down zone's users during the outage (Poisson count: 5 sd).
    assert_eq!(service(&aware_result, &aware, "back").cross_zone_tries, 0);
    let spilled = service(&aware_result, &aware, "front").cross_zone_tries as f64;
    let expected_spill = down_rate * outage;
    assert!(
        (spilled - expected_spill).abs() < 5.0 * expected_spill.sqrt(),
        "{spilled} vs {expected_spill}"
    );
    // Spilled in proportion to residual capacity: every front replica left (zones a and c)
    // carries the same load, a sixth of it, during the outage; a ninth each when healthy.
    let during = arrivals(&rows, "front", front.replicas, from + 1, until);
    let before = arrivals(&rows, "front", front.replicas, 0, from);
    for (counts, replicas) in [
        (during, front_replicas - front_down),
        (before, front_replicas),
    ] {
        let total: u64 = counts.iter().sum();
        for (replica, &count) in counts.iter().enumerate() {
            if count == 0 {
                assert_eq!(
                    replica % 3,
                    1,
                    "only zone b's replicas are empty: {counts:?}"
                );
                continue;
            }
            let share = count as f64 / total as f64;
            assert!((share * replicas - 1.0).abs() < 0.05, "{counts:?}");
        }
    }

    // Without zone awareness, round robin crosses zones in 2/3 of the front's tries both when
    // healthy (6 of 9 replicas elsewhere) and during the outage (zone a and c users: 1/2;
    // zone b users: all), and the back tier's in 2/3 when healthy and 1/2 during the outage.
    let healthy_crossing = (zones - 1.0) / zones;
    let outage_crossing = (zones - 2.0) / (zones - 1.0);
    let up_share = (zones - 1.0) / zones;
    let plain_front = service(&plain_result, &plain, "front").cross_zone_tries as f64;
    let plain_back = service(&plain_result, &plain, "back").cross_zone_tries as f64;
    let front_expected = rate
        * (healthy * healthy_crossing + outage * (up_share * outage_crossing + (1.0 - up_share)));
    let back_expected = rate * (healthy * healthy_crossing + outage * outage_crossing);
    assert!(
        (plain_front / front_expected - 1.0).abs() < 0.02,
        "{plain_front}"
    );
    assert!(
        (plain_back / back_expected - 1.0).abs() < 0.02,
        "{plain_back}"
    );

    // Latency: the network time per request (two calls: edge to front, front to back), from
    // the hops' latencies and the crossing fractions above; service times are identical draws
    // in both runs.
    let (same_ms, cross_ms) = hops_ms(&aware);
    let round_trip = |crossing: f64| 2.0 * (crossing * cross_ms + (1.0 - crossing) * same_ms);
    let aware_ms = (healthy * 2.0 * round_trip(0.0)
        + outage
            * (up_share * 2.0 * round_trip(0.0)
                + (1.0 - up_share) * (round_trip(1.0) + round_trip(0.0))))
        / (healthy + outage);
    let plain_edge_outage =
        up_share * round_trip(outage_crossing) + (1.0 - up_share) * round_trip(1.0);
    let plain_ms = (healthy * 2.0 * round_trip(healthy_crossing)
        + outage * (plain_edge_outage + round_trip(outage_crossing)))
        / (healthy + outage);
    let saved = mean_ms(&plain_result) - mean_ms(&aware_result);
    let expected = plain_ms - aware_ms;
    assert!(
        (saved / expected - 1.0).abs() < 0.05,
        "saved {saved} ms, expected {expected}"
    );
}

/// The problems of a scenario text.
fn problems(text: &str) -> Vec<String> {
    match scenario::load_str(text, "t.toml", Path::new("."), &[]) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(ScenarioErrors(errors)) => errors.iter().map(ToString::to_string).collect(),
    }
}

const BASE: &str = r#"[scenario]
name = "t"
duration = "1s"

[policy]
POLICY

[[service]]
name = "api"
replicas = 6
zones = ["a", "b"]
service_time = "exp(1ms)"

[[workload]]
target = "api"
rate = 10
WORKLOAD
"#;

fn scenario_with(policy: &str, workload: &str) -> String {
    BASE.replace("POLICY", policy).replace("WORKLOAD", workload)
}

#[test]
fn bad_hashing_and_zone_values_are_reported_with_their_position() {
    let ok = scenario_with("balancer = \"maglev\"\nzone_aware = false", "key_space = 7");
    let model = scenario::load_str(&ok, "t.toml", Path::new("."), &[]).expect("valid");
    assert_eq!(model.services[0].policy.balancer, BalancerKind::Maglev);
    assert_eq!(model.workloads[0].key_space, 7);
    let model = scenario::load_str(
        &scenario_with("zone_aware = { min_cluster_size = 3 }", ""),
        "t.toml",
        Path::new("."),
        &[],
    )
    .expect("valid");
    assert_eq!(
        model.services[0]
            .policy
            .zone_aware
            .as_ref()
            .map(|z| z.min_cluster_size),
        Some(3)
    );

    let cases = [
        (
            scenario_with("balancer = \"ring_hsh\"", ""),
            "t.toml:6:12: unknown balancer \"ring_hsh\"",
            "did you mean \"ring_hash\"",
        ),
        (
            scenario_with("zone_aware = \"yes\"", ""),
            "t.toml:6:14: zone_aware must be true, false or a table",
            "",
        ),
        (
            scenario_with("zone_aware = { min_size = 3 }", ""),
            "t.toml:6:16: unknown key \"min_size\" in zone_aware",
            "",
        ),
        (
            scenario_with("zone_aware = { min_cluster_size = -1 }", ""),
            "t.toml:6:35: min_cluster_size must be at least 0",
            "",
        ),
        (
            scenario_with("balancer = \"ring_hash\"\nzone_aware = true", ""),
            "t.toml:7:14: zone_aware does not apply to balancer \"ring_hash\"",
            "",
        ),
        (
            scenario_with("", "key_space = 0"),
            "t.toml:17:13: key_space must be at least 1, found 0",
            "",
        ),
        (
            scenario_with("", "key_space = \"many\""),
            "t.toml:17:13: key_space must be an integer",
            "",
        ),
    ];
    for (text, start, also) in cases {
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].starts_with(start),
            "{:?} does not start with {start:?}",
            found[0]
        );
        assert!(found[0].contains(also), "{:?}", found[0]);
    }
}

#[test]
fn hashing_draws_user_keys_without_changing_the_offered_load() {
    // The user key comes from a stream of the request's own identity: the arrivals, and so the
    // requests offered, are the same whatever the cache's balancer.
    let offered: Vec<u64> = ["round_robin", "ring_hash", "maglev"]
        .iter()
        .map(|balancer| {
            let set = format!("service.cache.policy.balancer={balancer}");
            let model = load(AFFINITY, &[&set, "scenario.duration=5s"]);
            crate::common::run(&model).offered
        })
        .collect();
    assert!(offered[0] > 2000, "{offered:?}");
    assert!(offered.iter().all(|&o| o == offered[0]), "{offered:?}");
}
