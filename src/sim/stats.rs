//! Streaming statistics: counters and latency histograms whose memory does not grow with
//! simulated time.

use crate::model::Outcome;

/// Largest latency a histogram tracks exactly, nanoseconds (one hour); larger values saturate.
const HISTOGRAM_MAX_NANOS: u64 = 3_600_000_000_000;

/// A latency distribution: exact count, mean and max, percentiles from a log-linear histogram
/// with `digits` significant digits (three by default: relative error below 0.1%).
///
/// The histogram has the layout of an HDR histogram with a lowest value of 1 ns: values below
/// `2^(p+1)` have a bucket each, and every further power of two is cut into `2^p` buckets, where
/// `2^p` is the smallest power of two with `2^(p+1) >= 2 * 10^digits` (so the relative width of
/// a bucket is below `10^-digits`). Recording a value is an index computation and an increment;
/// everything else is done when a quantile is read.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    /// Count per bucket.
    counts: Vec<u64>,
    /// `p`: buckets per power of two above the exact range are `2^p`.
    precision: u32,
    sum_nanos: u128,
    count: u64,
    max_nanos: u64,
    /// Smallest value recorded (`u64::MAX` when empty).
    min_nanos: u64,
}

impl Default for LatencyStats {
    /// Three significant digits.
    fn default() -> Self {
        LatencyStats::with_digits(3)
    }
}

impl LatencyStats {
    /// Percentiles with `digits` significant digits (1 to 5; relative error below 10^-digits).
    pub fn with_digits(digits: u8) -> Self {
        let wanted = 2 * 10u64.pow(u32::from(digits.clamp(1, 5)));
        let precision = wanted.next_power_of_two().trailing_zeros() - 1;
        let mut stats = LatencyStats {
            counts: Vec::new(),
            precision,
            sum_nanos: 0,
            count: 0,
            max_nanos: 0,
            min_nanos: u64::MAX,
        };
        stats.counts = vec![0; stats.index(HISTOGRAM_MAX_NANOS) + 1];
        stats
    }

    /// The bucket of `nanos` (at most [`HISTOGRAM_MAX_NANOS`]).
    #[inline(always)]
    fn index(&self, nanos: u64) -> usize {
        let p = self.precision;
        // How many halvings bring `nanos` below 2^(p+1): 0 in the exact range.
        let shift = (63 - p) - (nanos | ((2u64 << p) - 1)).leading_zeros();
        ((u64::from(shift) << p) + (nanos >> shift)) as usize
    }

    /// The lowest and highest value of bucket `index`.
    fn bucket_range(&self, index: usize) -> (u64, u64) {
        let p = self.precision;
        let shift = ((index >> p) as u32).saturating_sub(1);
        let lowest = (index as u64 - (u64::from(shift) << p)) << shift;
        (lowest, lowest + (1u64 << shift) - 1)
    }

    /// Records one latency, nanoseconds.
    #[inline]
    pub fn record(&mut self, nanos: u64) {
        let index = self.index(nanos.min(HISTOGRAM_MAX_NANOS));
        self.counts[index] += 1;
        self.sum_nanos += u128::from(nanos);
        self.count += 1;
        self.max_nanos = self.max_nanos.max(nanos);
        self.min_nanos = self.min_nanos.min(nanos);
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

    /// Buckets that can hold a count: from the smallest value's to the largest's.
    fn used_buckets(&self) -> std::ops::RangeInclusive<usize> {
        let low = self.index(self.min_nanos.min(HISTOGRAM_MAX_NANOS));
        let high = self.index(self.max_nanos.min(HISTOGRAM_MAX_NANOS));
        low..=high
    }

    /// The `quantile` (in [0, 1]) from the histogram, nanoseconds (0 when empty): the highest
    /// value of the bucket holding the `ceil(quantile * count)`-th smallest latency (at least
    /// the first); for quantile 0, the lowest value of the first bucket.
    pub fn quantile_nanos(&self, quantile: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let quantile = quantile.min(1.0);
        let rank = ((quantile * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for index in self.used_buckets() {
            seen += self.counts[index];
            if seen >= rank {
                let (lowest, highest) = self.bucket_range(index);
                return if quantile == 0.0 { lowest } else { highest };
            }
        }
        unreachable!("the buckets hold every recorded latency")
    }

    /// Exact maximum, nanoseconds.
    pub fn max_nanos(&self) -> u64 {
        self.max_nanos
    }

    /// Forgets everything (keeps the histogram's memory).
    pub fn reset(&mut self) {
        if self.count > 0 {
            let used = self.used_buckets();
            self.counts[used].fill(0);
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
#[derive(Debug, Clone, Default)]
pub struct ServiceTotals {
    /// Tries that reached a replica and arrived in the measured interval.
    pub requests: u64,
    /// Of those, the ones answered without error.
    pub succeeded: u64,
    /// Outcomes of the tries sent to this service, as their callers saw them.
    pub try_outcomes: OutcomeCounts,
    /// Retries sent to this service.
    pub retries: u64,
    /// Hedges sent to this service (extra tries while another is in flight).
    pub hedges: u64,
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
#[derive(Debug, Clone)]
pub struct WindowCounters {
    /// Tries that reached a replica.
    pub arrivals: u64,
    /// Tries answered without error.
    pub succeeded: u64,
    /// Outcomes of tries sent to this service, as their callers saw them.
    pub try_outcomes: OutcomeCounts,
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

/// Receives the run's streams of rows as they are produced.
pub trait Recorder {
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

    #[test]
    fn quantiles_equal_an_hdr_histograms() {
        // An independent implementation of the same layout: hdrhistogram with lowest value 1.
        for digits in [2u8, 3] {
            let mut ours = LatencyStats::with_digits(digits);
            let mut reference =
                hdrhistogram::Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_NANOS, digits)
                    .unwrap();
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for round in 0..3 {
                for _ in 0..20_000 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Log-uniform from 1 ns to the tracked maximum, and some zeros. (Beyond
                    // it, the reference keeps values up to the end of its last bucket where
                    // ours saturates at the maximum.)
                    let value = (state >> (state % 64)) % (HISTOGRAM_MAX_NANOS + 1);
                    ours.record(value);
                    reference.saturating_record(value);
                }
                for step in 0..=1000 {
                    let quantile = f64::from(step) / 1000.0;
                    assert_eq!(
                        ours.quantile_nanos(quantile),
                        reference.value_at_quantile(quantile),
                        "digits {digits}, round {round}, quantile {quantile}"
                    );
                }
                ours.reset();
                reference.reset();
            }
        }
    }

    #[test]
    fn an_empty_or_reset_histogram_reads_zero() {
        let mut stats = LatencyStats::with_digits(2);
        assert_eq!(stats.quantile_nanos(0.5), 0);
        stats.record(5_000_000);
        assert!(stats.quantile_nanos(0.5) >= 5_000_000);
        stats.reset();
        assert_eq!((stats.count(), stats.quantile_nanos(0.99)), (0, 0));
        stats.record(7);
        assert_eq!(stats.quantile_nanos(1.0), 7, "small values are exact");
        stats.record(2 * HISTOGRAM_MAX_NANOS);
        let saturated = stats.quantile_nanos(1.0);
        assert!(
            (HISTOGRAM_MAX_NANOS..HISTOGRAM_MAX_NANOS / 100 * 101).contains(&saturated),
            "{saturated}"
        );
        assert_eq!(
            stats.max_nanos(),
            2 * HISTOGRAM_MAX_NANOS,
            "the maximum is exact"
        );
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
}
