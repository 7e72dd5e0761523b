//! Events per second of the bare engine: a fixed population of timers, each rescheduling itself
//! after a pseudo-random delay, half through the heap and half through a FIFO lane (as network
//! hops and timeouts do in the simulator).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use meshsim::engine::{self, EventQueue, Lane, Process};

/// `population` timers; each event is one timer firing.
struct Timers {
    state: u64,
    lane: Lane,
    fired: u64,
    limit: u64,
}

impl Process for Timers {
    type Event = u32;

    fn handle(&mut self, now: u64, timer: u32, queue: &mut EventQueue<u32>) {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.fired += 1;
        if timer.is_multiple_of(2) {
            queue.push(now + 1 + self.state % 1_000_000, timer);
        } else {
            queue.push_in_lane(self.lane, now + 500_000, timer);
        }
    }

    fn finished(&self, _now: u64) -> bool {
        self.fired >= self.limit
    }
}

fn bench_engine(c: &mut Criterion) {
    let events = 1_000_000u64;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    for population in [1_000u32, 100_000] {
        group.bench_with_input(
            BenchmarkId::new("events", population),
            &population,
            |b, &population| {
                b.iter(|| {
                    let mut queue = EventQueue::new();
                    let lane = queue.add_lane();
                    for timer in 0..population {
                        queue.push(u64::from(timer), timer);
                    }
                    let mut timers = Timers {
                        state: 0x9e37_79b9_7f4a_7c15,
                        lane,
                        fired: 0,
                        limit: events,
                    };
                    engine::run(&mut timers, &mut queue, u64::MAX).events
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_engine);
criterion_main!(benches);
