//! What governance costs per simulated request: the SimPy peer model (`scenarios/tiers.toml`)
//! as it is, and with every mechanism switched on at once (Eureka registry with per-client
//! views, active health checks, outlier detection, a circuit breaker, retries with a per-try
//! timeout and a budget, hedging, connection pools, deadline propagation, a bulkhead, a rate
//! limit, queue-time load shedding and an autoscaler).
//! The difference of the two times per request is the cost; none of the mechanisms fires an
//! action here (nothing fails), so this is the bookkeeping cost on the hot path.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meshsim::scenario::{load_file, Override};
use meshsim::sim::{NullRecorder, Simulation};
use std::path::Path;

/// `tiers.toml` for 10 s with no warm-up, with `extra` overrides.
fn load(extra: &[(&str, &str)]) -> meshsim::model::Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/tiers.toml");
    let mut overrides = vec![
        Override {
            key: "scenario.duration".into(),
            value: "10s".into(),
        },
        Override {
            key: "scenario.warmup".into(),
            value: "0s".into(),
        },
    ];
    overrides.extend(extra.iter().map(|(key, value)| Override {
        key: (*key).into(),
        value: (*value).into(),
    }));
    load_file(&path, &overrides).unwrap_or_else(|errors| panic!("{errors}"))
}

/// Every mechanism on, none of them acting.
const ALL_ON: [(&str, &str); 15] = [
    ("registry.model", "eureka"),
    ("policy.timeout", "2s"),
    (
        "policy.retries",
        r#"{ max = 2, per_try_timeout = "1s", budget = 0.2 }"#,
    ),
    (
        "policy.circuit_breaker",
        r#"{ failure_rate = 0.5, window = "10s", min_calls = 20, open_for = "5s" }"#,
    ),
    ("policy.outlier_detection", "{ consecutive_errors = 5 }"),
    (
        "policy.health_check",
        r#"{ interval = "5s", timeout = "1s", unhealthy = 3, healthy = 2 }"#,
    ),
    ("policy.deadline_propagation", "true"),
    ("policy.max_requests", "100000"),
    ("service.tier1.rate_limit", "{ rate = 1e9, burst = 1e9 }"),
    (
        "service.tier2.autoscale",
        "{ min = 4, max = 8, target_utilization = 0.95 }",
    ),
    ("service.tier0.queue", "100000"),
    ("policy.hedge", r#"{ after = "1s" }"#),
    ("policy.max_connections", "100000"),
    ("policy.max_pending", "100000"),
    ("service.tier1.max_queue_time", "1s"),
];

/// Consistent hashing on every call (each request draws a user key; each try hashes it).
const RING_HASH: [(&str, &str); 1] = [("policy.balancer", "ring_hash")];
/// The same with Maglev's table.
const MAGLEV: [(&str, &str); 1] = [("policy.balancer", "maglev")];
/// Two zones per tier, zone-aware routing on every call between tiers.
const ZONE_AWARE: [(&str, &str); 4] = [
    ("policy.zone_aware", "{ min_cluster_size = 4 }"),
    ("service.tier0.zones", r#"["a", "b"]"#),
    ("service.tier1.zones", r#"["a", "b"]"#),
    ("service.tier2.zones", r#"["a", "b"]"#),
];

fn bench_governance(c: &mut Criterion) {
    let mut group = c.benchmark_group("governance");
    group.sample_size(10);
    for (name, extra) in [
        ("none", &[][..]),
        ("all_on", &ALL_ON[..]),
        ("ring_hash", &RING_HASH[..]),
        ("maglev", &MAGLEV[..]),
        ("zone_aware", &ZONE_AWARE[..]),
    ] {
        let model = load(extra);
        let (result, _) = Simulation::run(&model, NullRecorder);
        assert_eq!(result.outcomes.failed(), 0, "{name}: nothing may fail");
        group.throughput(Throughput::Elements(result.offered));
        group.bench_function(name, |b| {
            b.iter(|| Simulation::run(&model, NullRecorder).0.offered)
        });
    }
    group.finish();
}

criterion_group!(benches, bench_governance);
criterion_main!(benches);
