//! Deferred latency records for big topologies.
//!
//! A succeeded job's latency goes into its service's window histogram and, when measured, its
//! summary histogram. Recorded at once, each record loads the service's `LatencyStats`, a
//! page-table entry and a bucket counter, twice; with a thousand services (about 20 MB of
//! histograms) every one of those loads misses the L2 cache, and on `mesh-1000` they were a
//! quarter of the run. Here a record is appended to one sequential log instead, and the log is
//! applied in a batch, grouped by service (a counting sort), so that a service's counters,
//! page table and pages are loaded once per batch and hit while its records are counted.
//!
//! What a record changes (counts, sum, minimum, maximum, a bucket counter, the width of the
//! counters) does not depend on the order of the records, so the window rows and the summary
//! are the same as with direct recording, byte for byte. The log holds a fixed number of
//! records (memory is bounded); it is applied when full, and before anything reads the
//! histograms or the succeeded counts: at every window's close (`Simulation::advance_windows`,
//! which also runs at the end of the run, before the summary is taken).
//! A test runs a 40-service model with the log and with every record direct and compares
//! every window row and summary (`sim::tests::a_big_topology_s_logged_latencies_give_the_same_run_as_direct_records`):
//! a reader added mid-run without applying the log first makes it fail.
//!
//! On small topologies (the tier chain: 3 services) the histograms stay in the L1 and L2
//! caches, and the log is off: [`LatencyLog::for_services`] decides.

use super::stats::{ServiceTotals, WindowCounters};

/// Services from which the log is used: below it, direct records hit the cache. (At about
/// 20 KiB of histograms per service, 32 services fill more than the 512 KiB L2 cache of the
/// machines measured, while the tier chain's 3 stay in it.)
const DEFER_FROM_SERVICES: usize = 32;

/// Records the log holds per service, so that a batch brings each service's histograms in
/// once for this many records on average (uniform traffic over the services).
const RECORDS_PER_SERVICE: usize = 64;

/// Bounds of the log's capacity, records (16 bytes each, log and sorted copy: at most 8 MiB).
const MIN_CAPACITY: usize = 4_096;
const MAX_CAPACITY: usize = 1 << 19;

#[cfg(test)]
thread_local! {
    /// Tests only: records direct on every topology (see [`force_direct_records`]).
    static FORCED_DIRECT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Tests only: while `direct` is true, simulations built on this thread record latencies at
/// once whatever their size, so that a test can compare a run with the log and without it.
#[cfg(test)]
pub(super) fn force_direct_records(direct: bool) {
    FORCED_DIRECT.with(|forced| forced.set(direct));
}

#[cfg(test)]
fn forced_direct() -> bool {
    FORCED_DIRECT.with(std::cell::Cell::get)
}

#[cfg(not(test))]
#[inline(always)]
fn forced_direct() -> bool {
    false
}

/// Succeeded jobs' latencies waiting to be counted at their services.
#[derive(Debug, Default)]
pub(super) struct LatencyLog {
    /// Records the log holds before it is applied; 0 when the log is off (records are direct).
    capacity: usize,
    /// Latency of each record, nanoseconds, in the order recorded.
    latencies: Vec<u64>,
    /// Service of each record, shifted left by one, with the low bit set when the record is
    /// measured (counts toward the summary as well as the window).
    tags: Vec<u32>,
    // ---- scratch of `apply`, allocated once
    /// Per service, where its group starts in the sorted copy, then (after the scatter) where
    /// it ends; one more entry than services.
    group_ends: Vec<u32>,
    /// The records grouped by service: latency, nanoseconds.
    sorted_latencies: Vec<u64>,
    /// The records grouped by service: whether measured.
    sorted_measured: Vec<bool>,
}

impl LatencyLog {
    /// The log for a topology of `services` services: off below [`DEFER_FROM_SERVICES`].
    pub(super) fn for_services(services: usize) -> LatencyLog {
        if services < DEFER_FROM_SERVICES || forced_direct() {
            LatencyLog::default()
        } else {
            let capacity = (services * RECORDS_PER_SERVICE).clamp(MIN_CAPACITY, MAX_CAPACITY);
            LatencyLog::with_capacity(services, capacity)
        }
    }

    /// A log of `capacity` records (at least 1) for `services` services.
    fn with_capacity(services: usize, capacity: usize) -> LatencyLog {
        let capacity = capacity.max(1);
        LatencyLog {
            capacity,
            latencies: Vec::with_capacity(capacity),
            tags: Vec::with_capacity(capacity),
            group_ends: vec![0; services + 1],
            sorted_latencies: vec![0; capacity],
            sorted_measured: vec![false; capacity],
        }
    }

    /// Whether records go through the log (else they are counted at once).
    #[inline(always)]
    pub(super) fn is_on(&self) -> bool {
        self.capacity != 0
    }

    /// Logs a succeeded job's `latency` (nanoseconds) at `service`; returns true when the log is
    /// full and must be applied before the next push.
    #[inline(always)]
    pub(super) fn push(&mut self, service: u32, latency: u64, measured: bool) -> bool {
        self.latencies.push(latency);
        self.tags.push(service << 1 | u32::from(measured));
        self.latencies.len() == self.capacity
    }

    /// Counts every logged record at its service, as `finish_job` would have at once: the
    /// window's succeeded count and histogram, and, for measured records, the summary's. Empties
    /// the log.
    #[inline(never)] // once per batch: kept out of the event loop's hot code
    pub(super) fn apply(&mut self, windows: &mut [WindowCounters], totals: &mut [ServiceTotals]) {
        let records = self.latencies.len();
        if records == 0 {
            return;
        }
        // Counting sort by service: sizes, then starts, then scatter (which leaves each entry
        // at its group's end).
        self.group_ends.fill(0);
        for &tag in &self.tags {
            self.group_ends[(tag >> 1) as usize + 1] += 1;
        }
        for service in 1..self.group_ends.len() {
            self.group_ends[service] += self.group_ends[service - 1];
        }
        for (&latency, &tag) in self.latencies.iter().zip(&self.tags) {
            let at = &mut self.group_ends[(tag >> 1) as usize];
            self.sorted_latencies[*at as usize] = latency;
            self.sorted_measured[*at as usize] = tag & 1 != 0;
            *at += 1;
        }
        let mut start = 0;
        for (service, (window, totals)) in windows.iter_mut().zip(totals.iter_mut()).enumerate() {
            let end = self.group_ends[service] as usize;
            if end == start {
                continue;
            }
            let latencies = &self.sorted_latencies[start..end];
            let measured = &self.sorted_measured[start..end];
            // The window's histogram first, then the summary's: one working set at a time.
            window.succeeded += latencies.len() as u64;
            for &latency in latencies {
                window.latency.record(latency);
            }
            for (&latency, _) in latencies.iter().zip(measured).filter(|(_, &m)| m) {
                totals.succeeded += 1;
                totals.latency.record(latency);
            }
            start = end;
        }
        self.latencies.clear();
        self.tags.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::histogram::tests::values;
    use crate::sim::stats::LatencyStats;

    /// Everything a reader can ask of two histograms is the same.
    fn assert_same_stats(direct: &LatencyStats, deferred: &LatencyStats, what: &str) {
        assert_eq!(direct.count(), deferred.count(), "{what}: count");
        assert_eq!(
            direct.mean_nanos().to_bits(),
            deferred.mean_nanos().to_bits(),
            "{what}: mean"
        );
        assert_eq!(direct.min_nanos(), deferred.min_nanos(), "{what}: min");
        assert_eq!(direct.max_nanos(), deferred.max_nanos(), "{what}: max");
        assert_eq!(direct.counts_width(), deferred.counts_width(), "{what}");
        for quantile in (0..=1000).map(|i| f64::from(i) / 1000.0).chain([0.9999]) {
            assert_eq!(
                direct.quantile_nanos(quantile),
                deferred.quantile_nanos(quantile),
                "{what}: quantile {quantile}"
            );
        }
        for threshold in [0, 1, 1_000, 999_999, 1_000_000, 50_000_000, u64::MAX] {
            assert_eq!(
                direct.count_above(threshold),
                deferred.count_above(threshold),
                "{what}: above {threshold}"
            );
        }
    }

    /// Records spread values (log-uniform over 1 ns to 2^50 ns, past the histograms' hour, plus
    /// a narrow band that widens one service's counters) at 40 services, directly and through a
    /// log applied when full and at "window" closes; every window and summary must be the same.
    fn compare_direct_and_deferred(capacity: usize, limit_32: u64) {
        const SERVICES: usize = 40;
        let new_totals = || ServiceTotals {
            latency: LatencyStats::default().with_limit_32(limit_32),
            ..ServiceTotals::default()
        };
        let new_window = || WindowCounters {
            latency: LatencyStats::with_digits(2).with_limit_32(limit_32),
            ..WindowCounters::default()
        };
        let mut direct_windows: Vec<WindowCounters> = (0..SERVICES).map(|_| new_window()).collect();
        let mut direct_totals: Vec<ServiceTotals> = (0..SERVICES).map(|_| new_totals()).collect();
        let mut windows: Vec<WindowCounters> = (0..SERVICES).map(|_| new_window()).collect();
        let mut totals: Vec<ServiceTotals> = (0..SERVICES).map(|_| new_totals()).collect();
        let mut log = LatencyLog::with_capacity(SERVICES, capacity);
        let mut stream = values(3);
        // Three windows; service 7 gets two thirds of the records, in a band of 2,000 ns, so that
        // its counts pass 65,535 (16 → 32-bit counters) in the summary and in the third window,
        // and, with `limit_32` lowered, 32 → 64-bit in the summary.
        for (window_index, records) in [(0, 90_000), (1, 3), (2, 120_000)] {
            for _ in 0..records {
                let x = stream.next().unwrap();
                let (service, latency) = if !x.is_multiple_of(3) {
                    (7, 1_000_000 + (x >> 40) % 2_000)
                } else {
                    ((x >> 8) as usize % SERVICES, (x >> 14) >> ((x >> 2) % 50))
                };
                let measured = !(x >> 20).is_multiple_of(4);
                direct_windows[service].succeeded += 1;
                direct_windows[service].latency.record(latency);
                if measured {
                    direct_totals[service].succeeded += 1;
                    direct_totals[service].latency.record(latency);
                }
                if log.push(service as u32, latency, measured) {
                    log.apply(&mut windows, &mut totals);
                }
            }
            log.apply(&mut windows, &mut totals);
            if window_index == 2 {
                // The window's counters widened too (its count starts again every window).
                assert_eq!(windows[7].latency.counts_width(), 32);
            }
            for service in 0..SERVICES {
                let what = format!("window {window_index}, service {service}");
                assert_eq!(
                    direct_windows[service].succeeded, windows[service].succeeded,
                    "{what}"
                );
                assert_same_stats(
                    &direct_windows[service].latency,
                    &windows[service].latency,
                    &what,
                );
                direct_windows[service].reset();
                windows[service].reset();
            }
        }
        for service in 0..SERVICES {
            let what = format!("summary, service {service}");
            assert_eq!(
                direct_totals[service].succeeded, totals[service].succeeded,
                "{what}"
            );
            assert_same_stats(
                &direct_totals[service].latency,
                &totals[service].latency,
                &what,
            );
        }
        // The widening was exercised: service 7's summary went through every width.
        assert_eq!(totals[7].latency.counts_width(), 64);
        assert!(totals[7].latency.count() > limit_32);
    }

    #[test]
    fn deferred_records_equal_direct_ones() {
        // A log smaller than a window, one that fills at odd moments, and one record at a time.
        for capacity in [4_096, 977, 1] {
            compare_direct_and_deferred(capacity, 100_000);
        }
    }

    #[test]
    fn small_topologies_record_directly_and_big_ones_bounded() {
        assert!(!LatencyLog::for_services(3).is_on());
        let log = LatencyLog::for_services(1_000);
        assert!(log.is_on());
        assert_eq!(log.capacity, 64_000);
        assert_eq!(LatencyLog::for_services(1_000_000).capacity, MAX_CAPACITY);
    }
}
