//! Streaming statistics: counters and latency histograms whose memory does not grow with
//! simulated time.

use super::histogram::{value_at_quantile, Layout, PagedCounts};
use crate::model::Outcome;

/// Largest latency a histogram tracks exactly, nanoseconds (one hour); larger values saturate.
const HISTOGRAM_MAX_NANOS: u64 = 3_600_000_000_000;

/// A latency distribution: exact count, mean and max, percentiles from an HDR histogram with three
/// significant digits (relative error below 0.1%). The histogram's counters are allocated as
/// values arrive, a page of neighbouring buckets at a time (`sim::histogram`): an empty one
/// holds no heap memory, one service's latencies a few KiB.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    /// HDR's bucket arithmetic for the precision asked.
    layout: Layout,
    counts: BucketCounts,
    sum_nanos: u128,
    count: u64,
    max_nanos: u64,
    /// Exact minimum (`u64::MAX` when empty).
    min_nanos: u64,
    /// Records at which the counts widen next (`u16::MAX`, then `u32::MAX`, then never).
    widen_at: u64,
    /// Records at which 32-bit counts widen to 64 bits (`u32::MAX`; smaller in tests).
    limit_32: u64,
}

/// The histogram's bucket counts: 16-bit while fewer than 2^16 latencies are recorded (so no
/// bucket can have saturated), 32-bit while fewer than 2^32, 64-bit after. Narrow counts
/// shrink the memory a histogram holds and the memory that recording touches (measured: about
/// 5% of a tier-chain run went to cache misses in 64-bit histograms).
#[derive(Debug, Clone)]
enum BucketCounts {
    Small(PagedCounts<u16>),
    Narrow(PagedCounts<u32>),
    Wide(PagedCounts<u64>),
}

impl Default for LatencyStats {
    /// Three significant digits.
    fn default() -> Self {
        LatencyStats::with_digits(3)
    }
}

impl LatencyStats {
    /// Percentiles with `digits` significant digits (1 to 5; relative error below 10^-digits).
    /// Allocates nothing until the first record.
    pub fn with_digits(digits: u8) -> Self {
        LatencyStats {
            layout: Layout::new(HISTOGRAM_MAX_NANOS, digits.clamp(1, 5)),
            counts: BucketCounts::Small(PagedCounts::default()),
            sum_nanos: 0,
            count: 0,
            max_nanos: 0,
            min_nanos: u64::MAX,
            widen_at: u64::from(u16::MAX),
            limit_32: u64::from(u32::MAX),
        }
    }

    /// Records one latency, nanoseconds. (Always inlined: four calls per request on the tier
    /// chain, and the call's own cost was a quarter of the record's.)
    #[inline(always)]
    pub fn record(&mut self, nanos: u64) {
        if self.count == self.widen_at {
            self.widen();
        }
        let index = self.layout.index(nanos);
        match &mut self.counts {
            BucketCounts::Small(counts) => counts.bump(&self.layout, index),
            BucketCounts::Narrow(counts) => counts.bump(&self.layout, index),
            BucketCounts::Wide(counts) => counts.bump(&self.layout, index),
        }
        self.sum_nanos += u128::from(nanos);
        self.count += 1;
        self.max_nanos = self.max_nanos.max(nanos);
        self.min_nanos = self.min_nanos.min(nanos);
    }

    /// The same, with 32-bit counts widening to 64 bits after `limit` records (for tests of
    /// the widening: the real limit is 2^32 − 1).
    #[cfg(test)]
    pub(crate) fn with_limit_32(mut self, limit: u64) -> Self {
        self.limit_32 = limit;
        self
    }

    /// Width of the bucket counters, bits (for tests).
    #[cfg(test)]
    pub(crate) fn counts_width(&self) -> u32 {
        match self.counts {
            BucketCounts::Small(_) => 16,
            BucketCounts::Narrow(_) => 32,
            BucketCounts::Wide(_) => 64,
        }
    }

    /// Moves the counts to the next wider counters (bucket by bucket: the same percentiles).
    #[cold]
    #[inline(never)]
    fn widen(&mut self) {
        match &self.counts {
            BucketCounts::Small(small) => {
                self.counts = BucketCounts::Narrow(small.widen());
                self.widen_at = self.limit_32;
            }
            BucketCounts::Narrow(narrow) => {
                self.counts = BucketCounts::Wide(narrow.widen());
                self.widen_at = u64::MAX;
            }
            BucketCounts::Wide(_) => self.widen_at = u64::MAX,
        }
    }

    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean, nanoseconds (0 when empty).
    pub fn mean_nanos(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_nanos as f64 / self.count as f64
        }
    }

    /// The `quantile` (in [0, 1]) from the histogram, nanoseconds (0 when empty), within the
    /// exact [min, max] recorded: the histogram answers with the top of a bucket, which can lie
    /// above every value recorded (p50 = 0.300031 ms for latencies all 0.3 ms), and a value
    /// past its range (an hour) saturates at its top.
    pub fn quantile_nanos(&self, quantile: f64) -> u64 {
        if self.count == 0 {
            0
        } else {
            let value = match &self.counts {
                BucketCounts::Small(counts) => {
                    value_at_quantile(&self.layout, counts, self.count, quantile)
                }
                BucketCounts::Narrow(counts) => {
                    value_at_quantile(&self.layout, counts, self.count, quantile)
                }
                BucketCounts::Wide(counts) => {
                    value_at_quantile(&self.layout, counts, self.count, quantile)
                }
            };
            value.clamp(self.min_nanos, self.max_nanos)
        }
    }

    /// How many recorded latencies are longer than `nanos`: exact when `nanos` lies outside
    /// [min, max] recorded, else read from the histogram, where values within its precision of
    /// `nanos` (its bucket) count as not longer.
    pub fn count_above(&self, nanos: u64) -> u64 {
        if self.count == 0 || nanos >= self.max_nanos {
            return 0;
        }
        if nanos < self.min_nanos {
            return self.count;
        }
        let last = self.layout.index(nanos);
        let at_or_below = match &self.counts {
            BucketCounts::Small(counts) => counts.count_through(&self.layout, last),
            BucketCounts::Narrow(counts) => counts.count_through(&self.layout, last),
            BucketCounts::Wide(counts) => counts.count_through(&self.layout, last),
        };
        self.count.saturating_sub(at_or_below)
    }

    /// Exact minimum, nanoseconds (0 when empty).
    pub fn min_nanos(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_nanos
        }
    }

    /// Exact maximum, nanoseconds.
    pub fn max_nanos(&self) -> u64 {
        self.max_nanos
    }

    /// Heap bytes the histogram holds (0 before the first record).
    pub fn heap_bytes(&self) -> usize {
        match &self.counts {
            BucketCounts::Small(counts) => counts.heap_bytes(),
            BucketCounts::Narrow(counts) => counts.heap_bytes(),
            BucketCounts::Wide(counts) => counts.heap_bytes(),
        }
    }

    /// Forgets everything (keeps the histogram's memory, to be used again).
    pub fn reset(&mut self) {
        if self.count != 0 {
            match &mut self.counts {
                BucketCounts::Small(counts) => counts.clear(),
                BucketCounts::Narrow(counts) => counts.clear(),
                BucketCounts::Wide(counts) => counts.clear(),
            }
        }
        self.sum_nanos = 0;
        self.count = 0;
        self.max_nanos = 0;
        self.min_nanos = u64::MAX;
    }
}

/// A count per [`Outcome`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts(pub [u64; 6]);

impl OutcomeCounts {
    /// Adds one of `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        self.0[outcome.index()] += 1;
    }

    /// The count of `outcome`.
    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome.index()]
    }

    /// All outcomes but `Succeeded`.
    pub fn failed(&self) -> u64 {
        Outcome::FAILURES.iter().map(|&o| self.get(o)).sum()
    }

    /// All outcomes.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Totals of one service over the measured interval.
///
/// Laid out (`repr(C)`, from a cache-line boundary) so that what every try counts (its arrival,
/// its call, its outcome at the caller) is in the first cache line: on big meshes each try
/// counts at a service whose counters other services' tries have evicted, and each line is a
/// miss. (The succeeded count and the latency are counted in batches on big meshes.)
#[derive(Debug, Clone, Default)]
#[repr(C, align(64))]
pub struct ServiceTotals {
    // ---- counted by every try: the first cache line
    /// Tries that reached a replica and arrived in the measured interval.
    pub requests: u64,
    /// Calls made to this service (each sends a first try, then maybe retries and hedges).
    pub calls: u64,
    /// Outcomes of the tries sent to this service, as their callers saw them.
    pub try_outcomes: OutcomeCounts,
    // ---- the rest
    /// Of the tries that arrived, the ones answered without error.
    pub succeeded: u64,
    /// Retries sent to this service.
    pub retries: u64,
    /// Hedges sent to this service (extra tries while another is in flight).
    pub hedges: u64,
    /// Tries abandoned without an outcome because another try of the same call succeeded
    /// first (the losers of a hedge race).
    pub tries_cancelled: u64,
    /// Tries of measured calls still in flight when the run ended (orphans of requests that
    /// ended before their downstream calls did).
    pub tries_in_flight_at_end: u64,
    /// Tries sent to it by a caller in another zone (callers with a zone only).
    pub cross_zone_tries: u64,
    /// Arrival to response of the succeeded ones, nanoseconds.
    pub latency: LatencyStats,
    /// Worker-nanoseconds spent busy within the measured interval.
    pub busy_worker_nanos: f64,
    /// Worker-nanoseconds of ready replicas within the measured interval (the capacity that
    /// utilization is measured against).
    pub capacity_worker_nanos: f64,
    /// Compute nanoseconds spent on tries whose caller had already given up (wasted work).
    pub wasted_nanos: u64,
    /// Queued tries dropped unserved because their caller's deadline had passed (deadline
    /// propagation).
    pub expired: u64,
    /// Measured jobs shed after waiting in the queue longer than `max_queue_time`.
    pub shed: u64,
}

/// What happened at one service in one window: the source of a `timeseries.csv` row. Window
/// percentiles have two significant digits (relative error below 1%): a window's histogram is
/// read every simulated window, and a smaller one reads eight times faster. For the
/// end-to-end row: requests entering the system, and those ending in the window by outcome (all
/// failures are counted in `try_outcomes`; `succeeded` and `latency` count successes).
///
/// Laid out (`repr(C)`, from a cache-line boundary) so that the counts every try makes (its
/// arrival, its success, its outcome at the caller) share the first cache line.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct WindowCounters {
    // ---- counted by every try: the first cache line
    /// Tries that reached a replica.
    pub arrivals: u64,
    /// Tries answered without error.
    pub succeeded: u64,
    /// Outcomes of tries sent to this service, as their callers saw them.
    pub try_outcomes: OutcomeCounts,
    // ---- the rest
    /// Retries sent to this service.
    pub retries: u64,
    /// Hedges sent to this service.
    pub hedges: u64,
    /// Latency of the succeeded tries that ended in the window, nanoseconds.
    pub latency: LatencyStats,
}

impl Default for WindowCounters {
    fn default() -> Self {
        WindowCounters {
            arrivals: 0,
            succeeded: 0,
            try_outcomes: OutcomeCounts::default(),
            retries: 0,
            hedges: 0,
            latency: LatencyStats::with_digits(2),
        }
    }
}

impl WindowCounters {
    /// Starts a new window (keeps the histogram's memory).
    pub fn reset(&mut self) {
        self.arrivals = 0;
        self.succeeded = 0;
        self.try_outcomes = OutcomeCounts::default();
        self.retries = 0;
        self.hedges = 0;
        self.latency.reset();
    }
}

/// The `service` of the end-to-end rows of `timeseries.csv` (requests as the workloads see them).
pub const EDGE_ROW: &str = "(end-to-end)";

/// One row of `timeseries.csv`: one service (or [`EDGE_ROW`]) in one window.
#[derive(Debug, Clone)]
pub struct WindowRow<'a> {
    /// Window start, nanoseconds.
    pub start: u64,
    /// Window end, nanoseconds.
    pub end: u64,
    /// Service name, or [`EDGE_ROW`].
    pub service: &'a str,
    /// Counters of the window.
    pub counters: &'a WindowCounters,
    /// Requests present at the service's replicas at the window's end (in service or queued).
    pub in_flight: u64,
    /// Busy workers at the window's end.
    pub busy_workers: u64,
    /// Queued requests at the window's end.
    pub queue_length: u64,
    /// Replicas running (ready) at the window's end; `None` on the end-to-end row.
    pub ready_replicas: Option<u64>,
}

/// One replica in one window: the source of a `replicas.csv` row (per-replica load).
#[derive(Debug, Clone)]
pub struct ReplicaRow<'a> {
    /// Window start, nanoseconds.
    pub start: u64,
    /// Service name.
    pub service: &'a str,
    /// Replica index within the service.
    pub replica: u32,
    /// Zone name.
    pub zone: &'a str,
    /// Tries that reached it in the window.
    pub arrivals: u64,
    /// Busy workers at the window's end.
    pub busy_workers: u32,
    /// Requests present at the window's end (in service or queued).
    pub in_flight: u64,
    /// Queued requests at the window's end.
    pub queue_length: u64,
    /// `up`, `crashed` or `hung` at the window's end.
    pub health: &'static str,
}

/// One row of `events.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// When, nanoseconds.
    pub time: u64,
    /// What kind of event (e.g. `fault_start`).
    pub kind: &'static str,
    /// What it concerns (e.g. `article#0`).
    pub subject: String,
    /// More detail (e.g. the fault's kind).
    pub detail: String,
}

/// Why a try went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryKind {
    /// The call's first try.
    First,
    /// A retry after a failed try (and its backoff).
    Retry,
    /// A hedge: another try while the previous one is still out.
    Hedge,
}

/// One step of one request's life, for recorders that write traces ([`Recorder::TRACES`]).
/// Identities are the simulator's keys: a request's key, a try's key (its work key, which is
/// also the key of the job serving it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceEvent {
    /// An end-to-end request enters the system from workload `workload`.
    RequestStarts {
        /// The request's key.
        request: u64,
        /// Workload index.
        workload: u32,
        /// Nanoseconds.
        at: u64,
    },
    /// The end-to-end request has ended.
    RequestEnds {
        /// The request's key.
        request: u64,
        /// How it ended.
        outcome: crate::model::Outcome,
        /// Nanoseconds.
        at: u64,
    },
    /// A try goes out (or is answered locally: breaker, bulkhead).
    TrySent {
        /// The try's key.
        try_key: u64,
        /// The key of the job that makes the call, or the request's key at the edge.
        parent: u64,
        /// Whether `parent` is a job (else the request).
        parent_is_job: bool,
        /// Calling replica slot, or `u32::MAX` for a workload.
        caller_replica: u32,
        /// The workload of the request (the caller at the edge).
        workload: u32,
        /// The endpoint called.
        endpoint: u32,
        /// Try number within its call (0 first).
        try_number: u32,
        /// Why it went out.
        kind: TryKind,
        /// Nanoseconds.
        at: u64,
    },
    /// A try has ended at its caller: its outcome, or `None` when it lost to another try.
    TryEnds {
        /// The try's key.
        try_key: u64,
        /// Its outcome (`None`: cancelled, another try of its call succeeded first).
        outcome: Option<crate::model::Outcome>,
        /// Nanoseconds.
        at: u64,
    },
    /// A try reached a running replica: a job starts (queued or served).
    JobStarts {
        /// The try's key (the job's).
        try_key: u64,
        /// Replica slot.
        replica: u32,
        /// Endpoint served.
        endpoint: u32,
        /// Nanoseconds.
        at: u64,
    },
    /// A job has ended with `outcome` (its response leaves now, if anyone waits).
    JobEnds {
        /// The try's key (the job's).
        try_key: u64,
        /// How it ended.
        outcome: crate::model::Outcome,
        /// Nanoseconds.
        at: u64,
    },
}

/// Receives the run's streams of rows as they are produced.
pub trait Recorder {
    /// Whether [`Recorder::trace`] wants the life of every request. When false (the default)
    /// the simulator never calls it: the checks are on this constant, so a run without traces
    /// pays nothing for them.
    const TRACES: bool = false;
    /// One step of a request's life (only called when [`Recorder::TRACES`] is true).
    fn trace(&mut self, _event: &TraceEvent) {}
    /// One service's row at the end of a window.
    fn window(&mut self, row: &WindowRow<'_>);
    /// One replica's row at the end of a window.
    fn replica_window(&mut self, _row: &ReplicaRow<'_>) {}
    /// One event (fault or governance action).
    fn event(&mut self, record: &EventRecord);
}

/// A recorder that keeps nothing.
#[derive(Debug, Default)]
pub struct NullRecorder;

impl Recorder for NullRecorder {
    fn window(&mut self, _row: &WindowRow<'_>) {}
    fn event(&mut self, _record: &EventRecord) {}
}

/// A recorder that keeps the events in memory and counts windows (for tests).
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    /// Every event, in order.
    pub events: Vec<EventRecord>,
    /// Every window row as (start ns, service, arrivals, succeeded, try outcomes, in-flight).
    pub windows: Vec<(u64, String, u64, u64, OutcomeCounts, u64)>,
    /// Per service window: (start ns, service, replicas ready at the window's end).
    pub ready_replicas: Vec<(u64, String, u64)>,
}

impl Recorder for MemoryRecorder {
    fn window(&mut self, row: &WindowRow<'_>) {
        if let Some(ready) = row.ready_replicas {
            self.ready_replicas
                .push((row.start, row.service.to_string(), ready));
        }
        self.windows.push((
            row.start,
            row.service.to_string(),
            row.counters.arrivals,
            row.counters.succeeded,
            row.counters.try_outcomes,
            row.in_flight,
        ));
    }
    fn event(&mut self, record: &EventRecord) {
        self.events.push(record.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    /// hdrhistogram's histogram with the simulator's range: the independent reference.
    fn new_histogram<T: hdrhistogram::Counter>(digits: u8) -> Histogram<T> {
        Histogram::new_with_bounds(1, HISTOGRAM_MAX_NANOS, digits).unwrap()
    }

    #[test]
    fn count_above_a_threshold() {
        let mut stats = LatencyStats::with_digits(2);
        for ms in 1..=100u64 {
            stats.record(ms * 1_000_000);
        }
        // 100 latencies of 1..100 ms: 20 are longer than 80 ms (bucket width at 80 ms is
        // 0.5 ms with two digits, so 80 ms itself stays at or below).
        assert_eq!(stats.count_above(80_000_000), 20);
        assert_eq!(stats.count_above(0), 100);
        assert_eq!(stats.count_above(100_000_000), 0);
        assert_eq!(LatencyStats::default().count_above(5), 0);
    }

    #[test]
    fn percentiles_are_within_histogram_precision() {
        let mut stats = LatencyStats::default();
        for value in 1..=100_000u64 {
            stats.record(value * 1000);
        }
        let p99 = stats.quantile_nanos(0.99) as f64;
        assert!((p99 / 99_000_000.0 - 1.0).abs() < 0.001, "{p99}");
        assert_eq!(stats.mean_nanos(), 50_000_500.0);
        assert_eq!(stats.max_nanos(), 100_000_000);
    }

    #[test]
    fn percentiles_stay_within_the_values_recorded() {
        // Constant 0.3 ms: the histogram's bucket holding it ends at 0.300031 ms.
        let mut stats = LatencyStats::default();
        for _ in 0..1000 {
            stats.record(300_000);
        }
        for quantile in [0.0, 0.5, 0.99, 0.999, 1.0] {
            assert_eq!(
                stats.quantile_nanos(quantile),
                300_000,
                "quantile {quantile}"
            );
        }
        // Two values: every percentile lies in [min, max].
        let mut two = LatencyStats::default();
        two.record(1_234_567);
        two.record(7_654_321);
        for quantile in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let value = two.quantile_nanos(quantile);
            assert!(
                (1_234_567..=7_654_321).contains(&value),
                "{quantile}: {value}"
            );
        }
        assert_eq!(two.min_nanos(), 1_234_567);
        // Past the histogram's hour: saturated in the buckets, exact at the top.
        let mut long = LatencyStats::default();
        long.record(10 * HISTOGRAM_MAX_NANOS);
        assert_eq!(long.quantile_nanos(0.5), 10 * HISTOGRAM_MAX_NANOS);
        assert_eq!(long.max_nanos(), 10 * HISTOGRAM_MAX_NANOS);
        long.reset();
        assert_eq!(long.min_nanos(), 0);
        long.record(5);
        assert_eq!(long.quantile_nanos(1.0), 5, "reset forgets the old range");
    }

    #[test]
    fn widened_counts_keep_every_percentile() {
        // 16-bit counts widen at 65,535 records (the real limit), 32-bit ones at `limit_32`
        // (lowered here); the percentiles must stay those of a 64-bit HDR histogram fed the
        // same values (an independent reference), at every width.
        let mut stats = LatencyStats {
            limit_32: 100_000,
            ..LatencyStats::default()
        };
        let mut reference: Histogram<u64> = new_histogram(3);
        let (mut low, mut high) = (u64::MAX, 0);
        let mut state = 7u64;
        let mut widths = Vec::new();
        for records in 1..=150_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // A narrow band, so that single buckets exceed 65,535 counts in the end.
            let nanos = 1_000 + (state >> 33) % 20_000;
            stats.record(nanos);
            reference.record(nanos).unwrap();
            (low, high) = (low.min(nanos), high.max(nanos));
            if [65_535, 65_536, 100_000, 100_001, 150_000].contains(&records) {
                widths.push(match stats.counts {
                    BucketCounts::Small(_) => 16,
                    BucketCounts::Narrow(_) => 32,
                    BucketCounts::Wide(_) => 64,
                });
                for quantile in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                    assert_eq!(
                        stats.quantile_nanos(quantile),
                        reference.value_at_quantile(quantile).clamp(low, high),
                        "quantile {quantile} after {records} records"
                    );
                }
            }
        }
        assert_eq!(widths, [16, 32, 32, 64, 64]);
        assert_eq!(stats.count(), 150_000);
        stats.reset();
        assert_eq!(stats.quantile_nanos(0.5), 0);
    }

    #[test]
    fn what_every_try_counts_shares_one_cache_line() {
        use std::mem::{align_of, offset_of, size_of};
        let line = |offset: usize, size: usize| (offset / 64, (offset + size - 1) / 64);
        assert_eq!(align_of::<ServiceTotals>(), 64);
        for (offset, size) in [
            (offset_of!(ServiceTotals, requests), size_of::<u64>()),
            (offset_of!(ServiceTotals, calls), size_of::<u64>()),
            (
                offset_of!(ServiceTotals, try_outcomes),
                size_of::<OutcomeCounts>(),
            ),
        ] {
            assert_eq!(line(offset, size), (0, 0), "ServiceTotals at {offset}");
        }
        assert_eq!(align_of::<WindowCounters>(), 64);
        for (offset, size) in [
            (offset_of!(WindowCounters, arrivals), size_of::<u64>()),
            (offset_of!(WindowCounters, succeeded), size_of::<u64>()),
            (
                offset_of!(WindowCounters, try_outcomes),
                size_of::<OutcomeCounts>(),
            ),
        ] {
            assert_eq!(line(offset, size), (0, 0), "WindowCounters at {offset}");
        }
    }

    #[test]
    fn failed_counts_every_outcome_but_succeeded_once() {
        // A distinct power of ten per outcome: any outcome left out of the failures, counted
        // twice, or counted as a failure when it is the success changes a digit.
        let mut counts = OutcomeCounts::default();
        for (power, outcome) in [
            Outcome::Succeeded,
            Outcome::Timeout,
            Outcome::Refused,
            Outcome::Error,
            Outcome::Rejected,
            Outcome::CircuitOpen,
        ]
        .into_iter()
        .enumerate()
        {
            for _ in 0..10u64.pow(power as u32) {
                counts.add(outcome);
            }
        }
        assert_eq!(counts.get(Outcome::Succeeded), 1);
        assert_eq!(counts.failed(), 111_110);
        assert_eq!(counts.total(), 111_111);
    }
}
