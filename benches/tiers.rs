//! Simulated requests per wall-clock second on the SimPy peer model (`scenarios/tiers.toml`:
//! 3 tiers x 4 replicas x 8 async workers, exp(1 ms), 0.5 ms hops, round robin, 70% load), and on
//! the blog scenario. Compare with `python3 benches/peers/simpy_tiers.py 200000` run in the
//! same sitting (see docs/performance.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use meshsim::scenario::{load_file, Override};
use meshsim::sim::{NullRecorder, Simulation};
use std::path::Path;

/// The scenario for `duration`, with no warm-up: every simulated request is counted.
fn load(file: &str, duration: &str) -> meshsim::model::Model {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let set = |key: &str, value: &str| Override {
        key: key.into(),
        value: value.into(),
    };
    let overrides = [
        set("scenario.duration", duration),
        set("scenario.warmup", "0s"),
    ];
    load_file(&path, &overrides).unwrap_or_else(|errors| panic!("{errors}"))
}

fn bench_scenarios(c: &mut Criterion) {
    let mut group = c.benchmark_group("requests");
    group.sample_size(10);
    for (file, duration) in [("tiers.toml", "10s"), ("blog.toml", "20s")] {
        let model = load(file, duration);
        let (result, _) = Simulation::run(&model, NullRecorder);
        group.throughput(Throughput::Elements(result.offered));
        group.bench_function(file, |b| {
            b.iter(|| Simulation::run(&model, NullRecorder).0.offered)
        });
    }
    group.finish();
}

criterion_group!(benches, bench_scenarios);
criterion_main!(benches);
