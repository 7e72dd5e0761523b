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

/// Jobs a replica holds in its own second cache line; more go to a list on the heap.
pub const INLINE_JOBS: usize = 3;

/// One replica of a service.
///
/// Laid out by what the event loop touches together, in declaration order (`repr(C)`) from a
/// cache-line boundary: the first 64 bytes hold what every try reads or writes at its replica
/// (arrival, compute start and end, the error rate), the next 64 its queue and the jobs it
/// holds (the first few inline, so that a replica holding few touches no heap line for them),
/// the rest is read on faults, windows and autoscaling. A big mesh visits each replica rarely, so
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
    /// Whether a call to its service may propagate its deadline (under the service's policy
    /// or a config change's): else every job it serves has none, and an arrival and a
    /// worker's release do not read the job's deadline (in the job's second cache line).
    pub deadlines_arrive: bool,
    /// Whether `slow_factor` is not 1 (a `slow` fault is on): the factor itself lies in the
    /// cold part, read only then.
    slowed: bool,
    /// Tries that reached it in the current window.
    pub window_arrivals: u64,
    /// Time of the last change of `busy_workers`, nanoseconds.
    busy_since: u64,
    /// Worker-nanoseconds busy since the start of the run (not clipped to the measured
    /// interval), for the autoscaler.
    pub lifetime_busy_nanos: f64,
    /// Worker-nanoseconds busy within the measured interval.
    pub busy_worker_nanos: f64,
    /// Fraction of requests failing with `error`: the service's steady `error_rate` combined with
    /// the `errors` faults in force.
    pub error_rate: f64,
    // ---- second cache line: its queue and the jobs it holds
    /// Jobs waiting for a worker, first come first served.
    pub queue: VecDeque<u32>,
    /// Number of jobs present (queued, computing or waiting on calls): see [`Replica::job_at`].
    /// (In a run that never drops a replica's jobs at once, `Simulation::tracks_held_jobs`
    /// false, only this number is kept, through [`Replica::count_job`], not which jobs.)
    held_jobs: u32,
    /// The first [`INLINE_JOBS`] jobs present, in this line: a big mesh's replica holds a few
    /// jobs at a time, and a list of its own on the heap was one more line (a cache miss) for
    /// every try's arrival and end.
    inline_jobs: [u32; INLINE_JOBS],
    /// Room for the jobs present past the first [`INLINE_JOBS`], in order (its length is its
    /// capacity: doubled when full, never shrunk, so a steady state allocates nothing). A boxed
    /// slice, 16 bytes, so that it fits in this line beside the inline jobs.
    more_jobs: Box<[u32]>,
    // ---- the rest: the extra latency and the queue capacity first (read on some tries)
    /// Multiplier of service times (1 unless a `slow` fault is on; see `slowed`).
    slow_factor: f64,
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
            held_jobs: 0,
            inline_jobs: [0; INLINE_JOBS],
            more_jobs: Box::default(),
            slow_factor: 1.0,
            slowed: false,
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
            deadlines_arrive: false,
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
        self.slowed = self.slow_factor != 1.0;
    }

    /// The multiplier of service times when a `slow` fault is on, `None` otherwise (1).
    #[inline]
    pub fn slow_down(&self) -> Option<f64> {
        self.slowed.then_some(self.slow_factor)
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
        u64::from(self.held_jobs) + self.hung_accepted
    }

    /// Number of jobs present (queued, computing or waiting on calls).
    pub fn held_jobs(&self) -> u32 {
        self.held_jobs
    }

    /// The job at `position` (below [`Replica::held_jobs`]) of the list of jobs present. The
    /// list keeps the order a `Vec` would under [`Replica::hold_job`]'s push and
    /// [`Replica::drop_job`]'s swap-remove (a crash answers the jobs in that order).
    pub fn job_at(&self, position: u32) -> u32 {
        match position.checked_sub(INLINE_JOBS as u32) {
            None => self.inline_jobs[position as usize],
            Some(spilled) => self.more_jobs[spilled as usize],
        }
    }

    /// Adds `job` at the end of the list of jobs present; returns its position.
    #[inline]
    pub fn hold_job(&mut self, job: u32) -> u32 {
        let position = self.held_jobs;
        match position.checked_sub(INLINE_JOBS as u32) {
            None => self.inline_jobs[position as usize] = job,
            Some(spilled) => {
                if spilled as usize == self.more_jobs.len() {
                    self.grow_more_jobs();
                }
                self.more_jobs[spilled as usize] = job;
            }
        }
        self.held_jobs += 1;
        position
    }

    /// Doubles the room for spilled jobs (at least 4), keeping those held.
    #[cold]
    fn grow_more_jobs(&mut self) {
        let mut grown = vec![0; (2 * self.more_jobs.len()).max(4)];
        grown[..self.more_jobs.len()].copy_from_slice(&self.more_jobs);
        self.more_jobs = grown.into_boxed_slice();
    }

    /// Counts one more job present without naming it (a run that never reads which jobs a
    /// replica holds: nothing written but the number).
    #[inline]
    pub fn count_job(&mut self) {
        self.held_jobs += 1;
    }

    /// Counts one job fewer present (the counterpart of [`Replica::count_job`]).
    #[inline]
    pub fn uncount_job(&mut self) {
        self.held_jobs -= 1;
    }

    /// Removes the job at `position` as `Vec::swap_remove` does: the last job takes its
    /// place. Returns that moved job (now at `position`), if one moved.
    #[inline]
    pub fn drop_job(&mut self, position: u32) -> Option<u32> {
        self.held_jobs -= 1;
        let last_position = self.held_jobs;
        if position == last_position {
            return None;
        }
        if let Some(spilled) = position.checked_sub(INLINE_JOBS as u32) {
            // Both spilled (the last lies past `position`): one slice, as `Vec` would.
            let more = &mut self.more_jobs[spilled as usize..];
            let last = more[(last_position - position) as usize];
            more[0] = last;
            return Some(last);
        }
        let last = self.job_at(last_position);
        self.inline_jobs[position as usize] = last;
        Some(last)
    }

    /// Empties the list of jobs present into `jobs` (cleared first), in order.
    pub fn take_jobs(&mut self, jobs: &mut Vec<u32>) {
        jobs.clear();
        jobs.extend((0..self.held_jobs).map(|position| self.job_at(position)));
        self.held_jobs = 0;
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
    #[inline]
    pub fn change_busy(&mut self, now: u64, delta: i32, measured: (u64, u64)) {
        self.integrate_busy(now, measured);
        self.busy_workers = self.busy_workers.saturating_add_signed(delta);
    }

    /// Adds the busy worker-time since the last change, clipped to `measured`, and restarts there.
    #[inline]
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
        let edges = [
            0u64,
            1,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            (1 << 53) + 3,
        ];
        let top = [
            i64::MAX as u64 - 1,
            i64::MAX as u64,
            1 << 63,
            (1 << 63) + 1,
            u64::MAX,
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let spread = (0..10_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state >> (state % 64) // every magnitude
        });
        for nanos in edges.into_iter().chain(top).chain(spread) {
            assert_eq!(
                nanos_as_f64(nanos).to_bits(),
                (nanos as f64).to_bits(),
                "{nanos}"
            );
        }
    }
    use std::mem::{offset_of, size_of};

    #[test]
    fn what_every_try_touches_shares_two_cache_lines() {
        // The struct starts on a line boundary; the per-try fields (the error rate too) end
        // within the first line, the queue and the jobs held within the second.
        assert_eq!(std::mem::align_of::<Replica>(), 64);
        assert!(offset_of!(Replica, error_rate) + size_of::<f64>() <= 64);
        assert!(offset_of!(Replica, busy_worker_nanos) + size_of::<f64>() <= 64);
        assert!(offset_of!(Replica, slowed) < 64);
        assert!(offset_of!(Replica, window_arrivals) + size_of::<u64>() <= 64);
        assert!(offset_of!(Replica, health) < 64 && offset_of!(Replica, analysed) < 64);
        assert!(offset_of!(Replica, rate_limited) < 64);
        assert!(offset_of!(Replica, async_concurrency) < 64);
        assert!(offset_of!(Replica, deadlines_arrive) < 64);
        assert_eq!(offset_of!(Replica, queue), 64);
        assert!(offset_of!(Replica, held_jobs) >= 64);
        assert_eq!(
            offset_of!(Replica, more_jobs) + size_of::<Box<[u32]>>(),
            128
        );
    }

    #[test]
    fn the_jobs_present_keep_a_vecs_order_under_push_and_swap_remove() {
        // An independent model: a plain Vec under the same operations, from a fixed LCG that
        // pushes and removes at spread positions, across the inline/heap boundary both ways.
        let mut replica = Replica::new(0, 0, 0, 1, None);
        let mut model: Vec<u32> = Vec::new();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for step in 0..20_000u32 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let draw = (state >> 33) as u32;
            // Waves of 500 steps: growing (6 pushes in 10, to about 100 jobs), then shrinking to
            // none and hovering there, across the inline/heap boundary both ways.
            let grow = if (step / 500) % 2 == 0 { 6 } else { 3 };
            if model.is_empty() || draw % 10 < grow {
                assert_eq!(replica.hold_job(step), model.len() as u32);
                model.push(step);
            } else {
                let position = draw % model.len() as u32;
                model.swap_remove(position as usize);
                let moved = model.get(position as usize).copied();
                assert_eq!(replica.drop_job(position), moved);
            }
            assert_eq!(replica.held_jobs(), model.len() as u32);
            let held: Vec<u32> = (0..replica.held_jobs())
                .map(|p| replica.job_at(p))
                .collect();
            assert_eq!(held, model);
        }
        assert!(replica.more_jobs.len() >= 8, "the list spilled and grew");
        let mut taken = Vec::new();
        replica.take_jobs(&mut taken);
        assert_eq!(taken, model);
        assert_eq!(replica.held_jobs(), 0);
    }
}
