//! A replica's runtime state: workers, FIFO queue, the jobs it holds, and the faults upon it.

use std::collections::VecDeque;

/// Whether a replica answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Serving.
    Up,
    /// Crashed: connections are refused.
    Crashed,
    /// Hung: connections are accepted and never answered.
    Hung,
    /// Not running (never started, starting, or scaled down): new connections are refused;
    /// work it already holds finishes (a graceful drain).
    Stopped,
}

/// Where a replica slot is in its life (autoscaling creates and removes replicas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// No pod.
    Off,
    /// Created, not ready yet.
    Starting,
    /// Ready and serving.
    Running,
}

impl Health {
    /// Lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Crashed => "crashed",
            Health::Hung => "hung",
            Health::Stopped => "stopped",
        }
    }
}

/// One replica of a service.
///
/// Laid out by what the event loop touches together, in declaration order (`repr(C)`) from a
/// cache-line boundary: the first 64 bytes hold what every try reads or writes at its replica
/// (arrival, compute start and end), the next 64 its jobs and queue and the error rate, the
/// rest is read on faults, windows and autoscaling. A big mesh visits each replica rarely, so
/// every line a try touches there is a cache miss (measured in docs/performance.md).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Replica {
    /// Service index.
    pub service: u32,
    /// Zone index.
    pub zone: u32,
    /// Workers in use.
    pub busy_workers: u32,
    /// Workers it has.
    pub workers: u32,
    /// Whether it answers.
    pub health: Health,
    /// Whether its pod exists and is ready.
    pub lifecycle: Lifecycle,
    /// Whether its version has a service time of its own (read from the version then).
    pub overrides_service_time: bool,
    /// Whether its version is under a traffic analysis (its ended tries are counted).
    pub analysed: bool,
    /// Whether its service has a rate limit (else an arrival does not read the service's
    /// settings for it: a cache miss on a big mesh).
    pub rate_limited: bool,
    /// Whether its service's concurrency is `async` (a job gives its worker back when its
    /// compute ends), kept here for the same reason.
    pub async_concurrency: bool,
    /// Tries that reached it in the current window.
    pub window_arrivals: u64,
    /// Time of the last change of `busy_workers`, nanoseconds.
    busy_since: u64,
    /// Worker-nanoseconds busy since the start of the run (not clipped to the measured
    /// interval), for the autoscaler.
    pub lifetime_busy_nanos: f64,
    /// Worker-nanoseconds busy within the measured interval.
    pub busy_worker_nanos: f64,
    /// Multiplier of service times (1 unless a `slow` fault is on).
    pub slow_factor: f64,
    // ---- second cache line
    /// Fraction of requests failing with `error`: the service's steady `error_rate` combined with
    /// the `errors` faults in force.
    pub error_rate: f64,
    /// Every job present (queued, computing or waiting on calls), for crash and hang. In a run
    /// that never drops a replica's jobs at once (`Simulation::tracks_held_jobs` false), only
    /// its length is kept right: which slots it lists is not.
    pub jobs: Vec<u32>,
    /// Jobs waiting for a worker, first come first served.
    pub queue: VecDeque<u32>,
    // ---- the rest: the extra latency and the queue capacity first (read on some tries)
    /// Extra one-way latency on messages to and from it, nanoseconds.
    pub extra_latency: u64,
    /// Waiting room size (`None`: unbounded).
    pub queue_capacity: Option<u32>,
    /// Times it was started by the autoscaler (tells a stale readiness event apart).
    pub starts: u32,
    /// When it last became ready, nanoseconds.
    pub ready_since: u64,
    /// Whether it was ever ready (what the static registry shows).
    pub ever_ready: bool,
    /// Nanoseconds it was running (ready) within the measured interval, up to `ready_since`
    /// when it is running now.
    pub running_measured_nanos: f64,
    /// The service's steady `error_rate` (0 unless the scenario gives one).
    pub base_error_rate: f64,
    /// Crash faults in force on it (overlapping faults nest: it is up again when all have ended).
    pub crash_faults: u32,
    /// Hang faults in force on it.
    pub hang_faults: u32,
    /// Factors of the `slow` faults in force on it; `slow_factor` is their product (exactly 1
    /// when none is in force, so an ended fault leaves no rounding behind).
    pub slow_fault_factors: Vec<f64>,
    /// Rates of the `errors` faults in force on it; `error_rate` combines them as independent
    /// causes, `1 - prod(1 - rate)`.
    pub error_fault_rates: Vec<f64>,
    /// Faults in force on it (fault indices, in start order), for failure attribution.
    pub faults_in_force: Vec<u32>,
    /// Requests accepted while hung (never answered), since the hang began.
    pub hung_accepted: u64,
    /// Index within its service.
    pub index: u32,
    /// Version (index into the service's versions).
    pub version: u32,
    /// Whether it is terminating (a deployment's): it has left the registry and serves until
    /// its pre-stop delay ends.
    pub terminating: bool,
    /// Whether the autoscaler counts, measures and stops it (its service's main Deployment:
    /// the first version's slots and those of a deployment of the service).
    pub autoscaled: bool,
    /// Rate limit: tokens in the bucket, and when they were last counted (nanoseconds).
    tokens: f64,
    tokens_at: u64,
}

impl Replica {
    /// A healthy idle replica.
    pub fn new(
        service: u32,
        index: u32,
        zone: u32,
        workers: u32,
        queue_capacity: Option<u32>,
    ) -> Self {
        Replica {
            service,
            zone,
            health: Health::Up,
            lifecycle: Lifecycle::Running,
            starts: 0,
            ready_since: 0,
            ever_ready: true,
            running_measured_nanos: 0.0,
            lifetime_busy_nanos: 0.0,
            busy_workers: 0,
            workers,
            queue: VecDeque::new(),
            queue_capacity,
            jobs: Vec::new(),
            slow_factor: 1.0,
            error_rate: 0.0,
            base_error_rate: 0.0,
            crash_faults: 0,
            hang_faults: 0,
            error_fault_rates: Vec::new(),
            slow_fault_factors: Vec::new(),
            faults_in_force: Vec::new(),
            hung_accepted: 0,
            extra_latency: 0,
            busy_since: 0,
            busy_worker_nanos: 0.0,
            window_arrivals: 0,
            index,
            version: 0,
            overrides_service_time: false,
            rate_limited: false,
            async_concurrency: false,
            terminating: false,
            analysed: false,
            autoscaled: false,
            tokens: f64::INFINITY,
            tokens_at: 0,
        }
    }

    /// Health from the life cycle and the faults in force: a replica not running is stopped;
    /// a crash wins over a hang.
    pub fn health_from_faults(&self) -> Health {
        if self.lifecycle != Lifecycle::Running {
            Health::Stopped
        } else if self.crash_faults > 0 {
            Health::Crashed
        } else if self.hang_faults > 0 {
            Health::Hung
        } else {
            Health::Up
        }
    }

    /// Recomputes `error_rate` from the steady rate and the `errors` faults in force, as
    /// independent causes.
    pub fn combine_error_rates(&mut self) {
        let survive: f64 = (1.0 - self.base_error_rate)
            * self
                .error_fault_rates
                .iter()
                .map(|rate| 1.0 - rate)
                .product::<f64>();
        self.error_rate = 1.0 - survive;
    }

    /// Recomputes `slow_factor` from the `slow` faults in force.
    pub fn combine_slow_factors(&mut self) {
        self.slow_factor = self.slow_fault_factors.iter().product();
    }

    /// Takes a token from the rate-limit bucket at `now` (refilled at `limit.rate` per second up
    /// to `limit.burst`, full at the start); false when none is left.
    pub fn take_token(&mut self, limit: &crate::model::RateLimit, now: u64) -> bool {
        let elapsed = (now - self.tokens_at) as f64 / 1e9;
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.tokens_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Adds the running time from `ready_since` to `until`, clipped to `measured`.
    pub fn add_running_time(&mut self, until: u64, (from, to): (u64, u64)) {
        let start = self.ready_since.max(from);
        let end = until.min(to);
        if end > start {
            self.running_measured_nanos += (end - start) as f64;
        }
    }

    /// Requests present, for gauges: jobs held, plus what a hung replica swallowed.
    pub fn present(&self) -> u64 {
        self.jobs.len() as u64 + self.hung_accepted
    }

    /// Whether a worker is free.
    pub fn has_free_worker(&self) -> bool {
        self.busy_workers < self.workers
    }

    /// Whether the waiting room has room for one more.
    pub fn queue_has_room(&self) -> bool {
        self.queue_capacity
            .is_none_or(|capacity| (self.queue.len() as u64) < u64::from(capacity))
    }

    /// Changes the busy-worker count at `now`, integrating busy time over `[from, to)`.
    pub fn change_busy(&mut self, now: u64, delta: i32, measured: (u64, u64)) {
        self.integrate_busy(now, measured);
        self.busy_workers = self.busy_workers.saturating_add_signed(delta);
    }

    /// Adds the busy worker-time since the last change, clipped to `measured`, and restarts there.
    pub fn integrate_busy(&mut self, now: u64, (from, to): (u64, u64)) {
        let busy = f64::from(self.busy_workers);
        self.lifetime_busy_nanos += busy * nanos_as_f64(now.saturating_sub(self.busy_since));
        let start = self.busy_since.max(from);
        let end = now.min(to);
        if end > start {
            self.busy_worker_nanos += busy * nanos_as_f64(end - start);
        }
        self.busy_since = now;
    }
}

/// `nanos as f64`, the same value: through the signed conversion while it fits (one
/// instruction on x86-64, and every duration of a run fits), the unsigned one past it (a
/// six-instruction sequence there). Both round the same integer to the nearest `f64`.
#[inline(always)]
fn nanos_as_f64(nanos: u64) -> f64 {
    match i64::try_from(nanos) {
        Ok(signed) => signed as f64,
        Err(_) => nanos as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_convert_as_the_unsigned_conversion_does() {
        // Around the points where rounding starts (2^53) and where the signed range ends.
        let edges = [0u64, 1, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, (1 << 53) + 3];
        let top = [i64::MAX as u64 - 1, i64::MAX as u64, 1 << 63, (1 << 63) + 1, u64::MAX];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let spread = (0..10_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> (state % 64) // every magnitude
        });
        for nanos in edges.into_iter().chain(top).chain(spread) {
            assert_eq!(nanos_as_f64(nanos).to_bits(), (nanos as f64).to_bits(), "{nanos}");
        }
    }
    use std::mem::{offset_of, size_of};

    #[test]
    fn what_every_try_touches_shares_two_cache_lines() {
        // The struct starts on a line boundary; the per-try fields end within the first line,
        // the jobs, the queue and the error rate within the second.
        assert_eq!(std::mem::align_of::<Replica>(), 64);
        assert!(offset_of!(Replica, slow_factor) + size_of::<f64>() <= 64);
        assert!(offset_of!(Replica, window_arrivals) + size_of::<u64>() <= 64);
        assert!(offset_of!(Replica, health) < 64 && offset_of!(Replica, analysed) < 64);
        assert!(offset_of!(Replica, rate_limited) < 64);
        assert!(offset_of!(Replica, async_concurrency) < 64);
        assert_eq!(offset_of!(Replica, error_rate), 64);
        assert!(offset_of!(Replica, queue) + size_of::<VecDeque<u32>>() <= 128);
        assert!(offset_of!(Replica, jobs) + size_of::<Vec<u32>>() <= 128);
    }
}
