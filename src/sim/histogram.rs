//! A latency histogram with HDR Histogram's buckets whose memory follows what it records.
//!
//! The buckets, the saturation past the top and the answer to a quantile are exactly those of
//! `hdrhistogram::Histogram::new_with_bounds(1, max, digits)` (the unit tests check it against
//! that crate), so percentiles are as accurate as before, to the nanosecond. The storage differs:
//! HDR keeps one counter per bucket over the whole range (33,792 of them for three significant
//! digits up to an hour: 132 KiB at 32 bits, allocated whether anything is recorded or not),
//! while a run's latencies at one service fill a band of it, densely only where most of them
//! lie. Here the counters live in pages of 32 consecutive buckets, allocated on first use and
//! reached through a page table that is itself allocated on the first record, and they are 16
//! bits wide until 65,535 values are recorded (so none can have overflowed), 32 bits until
//! 2^32 − 1, 64 after. An empty histogram holds no heap memory; one service's latencies over
//! a minute (a few thousand values over ten octaves) a few KiB to 25 KiB.

/// log2 of the buckets per page: 32 counters (64 bytes at 16 bits: one cache line) cover a
/// relative latency range of 1.5–3% at three significant digits, so the sparse tails of a
/// distribution cost little.
const PAGE_SHIFT: u32 = 5;

/// Page-table entry of a page with no counters yet.
const ABSENT: u16 = 0;

/// The bucket arithmetic of an HDR histogram from 1 to `max` with `digits` significant digits
/// (unit magnitude 0, as the lowest discernible value is 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// log2 of the sub-buckets per bucket (HDR's `sub_bucket_count_magnitude`).
    sub_bucket_magnitude: u32,
    /// Number of buckets in all (HDR's `counts.len()`).
    len: usize,
    /// Bucket of the largest trackable value: where larger values are counted.
    saturated_index: usize,
    /// log2 of the buckets per page: [`PAGE_SHIFT`], or more where the page numbers would not
    /// fit the 16-bit page table (five significant digits).
    page_shift: u32,
}

impl Layout {
    /// HDR's layout for the range `[1, max]` with `digits` significant digits (1 to 5).
    pub(crate) fn new(max: u64, digits: u8) -> Layout {
        // As `Histogram::new_with_bounds`: unit resolution up to 2 × 10^digits, rounded up to a
        // power of two of sub-buckets.
        let largest = 2 * 10_u32.pow(u32::from(digits));
        let sub_bucket_magnitude = f64::from(largest).log2().ceil() as u32;
        // As `buckets_to_cover(max)`.
        let mut smallest_untrackable = 1_u64 << sub_bucket_magnitude;
        let mut buckets = 1_usize;
        while smallest_untrackable <= max {
            if smallest_untrackable > u64::MAX / 2 {
                buckets += 1;
                break;
            }
            smallest_untrackable <<= 1;
            buckets += 1;
        }
        let half_count = 1_usize << (sub_bucket_magnitude - 1);
        let len = (buckets + 1) * half_count;
        let mut page_shift = PAGE_SHIFT;
        while len >> page_shift >= usize::from(u16::MAX) {
            page_shift += 1;
        }
        let mut layout = Layout {
            sub_bucket_magnitude,
            len,
            saturated_index: 0,
            page_shift,
        };
        layout.saturated_index = layout.raw_index(max);
        layout
    }

    /// Number of buckets.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Buckets per page.
    fn page_len(&self) -> usize {
        1 << self.page_shift
    }

    /// HDR's bucket index (`bucket_for`) of `value`.
    fn bucket_of(&self, value: u64) -> u32 {
        let sub_bucket_mask = (1_u64 << self.sub_bucket_magnitude) - 1;
        (64 - self.sub_bucket_magnitude) - (value | sub_bucket_mask).leading_zeros()
    }

    /// HDR's counts index (`index_for`) of `value`, before saturation.
    fn raw_index(&self, value: u64) -> usize {
        let bucket = self.bucket_of(value);
        let half_magnitude = self.sub_bucket_magnitude - 1;
        let sub_bucket = (value >> bucket) as usize;
        ((bucket as usize + 1) << half_magnitude) + sub_bucket - (1_usize << half_magnitude)
    }

    /// The counter `value` is counted in: its own, or, past the range, the largest trackable
    /// value's (as HDR's `saturating_record`).
    #[inline]
    pub(crate) fn index(&self, value: u64) -> usize {
        let index = self.raw_index(value);
        if index < self.len {
            index
        } else {
            self.saturated_index
        }
    }

    /// The lowest value counted at `index` (HDR's `value_for`).
    fn lowest_value(&self, index: usize) -> u64 {
        let half_magnitude = self.sub_bucket_magnitude - 1;
        let half_count = 1_u64 << half_magnitude;
        let mut bucket = (index >> half_magnitude) as i64 - 1;
        let mut sub_bucket = (index as u64 & (half_count - 1)) + half_count;
        if bucket < 0 {
            sub_bucket -= half_count;
            bucket = 0;
        }
        sub_bucket << bucket
    }

    /// HDR's `lowest_equivalent`.
    fn lowest_equivalent(&self, value: u64) -> u64 {
        let bucket = self.bucket_of(value);
        (value >> bucket) << bucket
    }

    /// HDR's `highest_equivalent`.
    fn highest_equivalent(&self, value: u64) -> u64 {
        if value == u64::MAX {
            u64::MAX
        } else {
            let range = 1_u64 << self.bucket_of(value);
            self.lowest_equivalent(value).saturating_add(range) - 1
        }
    }

    /// What HDR's `value_at_quantile` answers when `index` holds the quantile's count.
    fn quantile_value(&self, index: usize, quantile: f64) -> u64 {
        let value = self.lowest_value(index);
        if quantile == 0.0 {
            self.lowest_equivalent(value)
        } else {
            self.highest_equivalent(value)
        }
    }
}

/// A bucket counter: 16, 32 or 64 bits.
pub(crate) trait Count: Copy + Default + std::fmt::Debug {
    /// Adds one, saturating.
    fn bump(&mut self);
    /// The count.
    fn get(self) -> u64;
}

impl Count for u16 {
    #[inline]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    #[inline]
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Count for u32 {
    #[inline]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    #[inline]
    fn get(self) -> u64 {
        u64::from(self)
    }
}

impl Count for u64 {
    #[inline]
    fn bump(&mut self) {
        *self = self.saturating_add(1);
    }
    #[inline]
    fn get(self) -> u64 {
        self
    }
}

/// Bucket counts in pages allocated on first use.
#[derive(Debug, Clone)]
pub(crate) struct PagedCounts<T: Count> {
    /// Per page of buckets: 1 + its page number in `counts`, or [`ABSENT`]. Empty until the
    /// first record.
    table: Vec<u16>,
    /// The pages' counters, page after page, in the order the pages were first used.
    counts: Vec<T>,
}

impl<T: Count> Default for PagedCounts<T> {
    fn default() -> Self {
        PagedCounts {
            table: Vec::new(),
            counts: Vec::new(),
        }
    }
}

impl<T: Count> PagedCounts<T> {
    /// Adds one to bucket `index` (below `layout.len()`).
    #[inline]
    pub(crate) fn bump(&mut self, layout: &Layout, index: usize) {
        let page = index >> layout.page_shift;
        let entry = match self.table.get(page) {
            Some(&entry) if entry != ABSENT => entry,
            _ => self.add_page(layout, page),
        };
        let start = usize::from(entry - 1) << layout.page_shift;
        self.counts[start + (index & (layout.page_len() - 1))].bump();
    }

    /// Allocates page `page` (and the table, on the first record); returns its table entry.
    #[cold]
    #[inline(never)]
    fn add_page(&mut self, layout: &Layout, page: usize) -> u16 {
        if self.table.is_empty() {
            self.table = vec![ABSENT; layout.len().div_ceil(layout.page_len())];
        }
        // At most `table.len()` pages, below u16::MAX by the layout's page size.
        let entry = (self.counts.len() / layout.page_len() + 1) as u16;
        self.counts
            .resize(self.counts.len() + layout.page_len(), T::default());
        self.table[page] = entry;
        entry
    }

    /// The lowest bucket index at which the running count from the bottom reaches `target`.
    fn index_reaching(&self, layout: &Layout, target: u64) -> Option<usize> {
        let page_len = layout.page_len();
        let mut total = 0_u64;
        for (page, &entry) in self.table.iter().enumerate() {
            if entry == ABSENT {
                continue;
            }
            let start = usize::from(entry - 1) * page_len;
            let counts = &self.counts[start..start + page_len];
            let page_total: u64 = counts.iter().map(|c| c.get()).sum();
            if total + page_total < target {
                total += page_total;
                continue;
            }
            for (offset, count) in counts.iter().enumerate() {
                total += count.get();
                if total >= target {
                    return Some(page * page_len + offset);
                }
            }
        }
        None
    }

    /// How many values were counted in buckets `0..=last`: HDR's `count_between(0, v)` when
    /// `last` is `v`'s bucket index.
    pub(crate) fn count_through(&self, layout: &Layout, last: usize) -> u64 {
        let page_len = layout.page_len();
        let mut total = 0_u64;
        for (page, &entry) in self.table.iter().enumerate() {
            let first = page * page_len;
            if first > last {
                break;
            }
            if entry == ABSENT {
                continue;
            }
            let start = usize::from(entry - 1) * page_len;
            let take = (last - first + 1).min(page_len);
            total += self.counts[start..start + take]
                .iter()
                .map(|c| c.get())
                .sum::<u64>();
        }
        total
    }

    /// Every non-zero bucket as (index, count), by index (for tests).
    #[cfg(test)]
    fn recorded(&self, layout: &Layout) -> Vec<(usize, u64)> {
        let page_len = layout.page_len();
        let mut buckets = Vec::new();
        for (page, &entry) in self.table.iter().enumerate() {
            if entry != ABSENT {
                let start = usize::from(entry - 1) * page_len;
                for (offset, count) in self.counts[start..start + page_len].iter().enumerate() {
                    if count.get() > 0 {
                        buckets.push((page * page_len + offset, count.get()));
                    }
                }
            }
        }
        buckets
    }

    /// Forgets every count; keeps the memory (pages are handed out again in first-use order).
    pub(crate) fn clear(&mut self) {
        self.table.fill(ABSENT);
        self.counts.clear();
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.capacity() * std::mem::size_of::<u16>()
            + self.counts.capacity() * std::mem::size_of::<T>()
    }

    /// The same counts in wider counters.
    pub(crate) fn widen<U: Count + From<T>>(&self) -> PagedCounts<U> {
        PagedCounts {
            table: self.table.clone(),
            counts: self.counts.iter().map(|&c| U::from(c)).collect(),
        }
    }
}

/// HDR's `value_at_quantile` over `counts` holding `total` records laid out by `layout`.
pub(crate) fn value_at_quantile<T: Count>(
    layout: &Layout,
    counts: &PagedCounts<T>,
    total: u64,
    quantile: f64,
) -> u64 {
    let quantile = if quantile > 1.0 { 1.0 } else { quantile };
    let fractional_count = quantile * total as f64;
    let target = (fractional_count.ceil() as u64).max(1);
    counts
        .index_reaching(layout, target)
        .map_or(0, |index| layout.quantile_value(index, quantile))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    /// The largest value of the simulator's histograms (one hour), nanoseconds.
    const HOUR: u64 = 3_600_000_000_000;

    /// A deterministic stream of 64-bit values (PCG-style LCG, top bits); also the spread
    /// values of `sim::latency_log`'s tests.
    pub(in crate::sim) fn values(seed: u64) -> impl Iterator<Item = u64> {
        let mut state = seed;
        std::iter::repeat_with(move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        })
    }

    #[test]
    fn layout_matches_hdr_for_every_precision() {
        for digits in 1..=5 {
            let reference: Histogram<u32> = Histogram::new_with_bounds(1, HOUR, digits).unwrap();
            let layout = Layout::new(HOUR, digits);
            assert_eq!(layout.len(), reference.distinct_values(), "digits {digits}");
        }
    }

    /// Records the same values in a paged histogram and in hdrhistogram's, and compares every
    /// quantile of a fine grid and the edge cases (0, 1, above 1, NaN).
    fn assert_same_quantiles(digits: u8, recorded_values: &[u64]) {
        let layout = Layout::new(HOUR, digits);
        // 16-bit counters: fewer than 65,536 values, as the simulator uses them.
        let mut paged = PagedCounts::<u16>::default();
        let mut reference: Histogram<u32> = Histogram::new_with_bounds(1, HOUR, digits).unwrap();
        for &value in recorded_values {
            paged.bump(&layout, layout.index(value));
            reference.saturating_record(value);
        }
        let total = recorded_values.len() as u64;
        let mut quantiles: Vec<f64> = (0..=1000).map(|i| f64::from(i) / 1000.0).collect();
        quantiles.extend([0.9999, 0.99999, 1e-9, 1.5, f64::NAN]);
        for quantile in quantiles {
            assert_eq!(
                value_at_quantile(&layout, &paged, total, quantile),
                reference.value_at_quantile(quantile),
                "digits {digits}, quantile {quantile}, {} values",
                recorded_values.len()
            );
        }
        let reference_buckets: Vec<u64> = reference
            .iter_recorded()
            .map(|bucket| u64::from(bucket.count_at_value()))
            .collect();
        let paged_buckets: Vec<u64> = paged
            .recorded(&layout)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(paged_buckets, reference_buckets, "digits {digits}");
        // Counts at or below a value (the latency alerts' reading) agree with HDR's.
        // (Within the trackable range: above it, HDR clamps where the paged layout saturates.)
        let within = recorded_values
            .iter()
            .filter(|&&value| value <= HOUR)
            .take(200);
        for &value in within.chain(&[0, 1, HOUR / 2, HOUR]) {
            assert_eq!(
                paged.count_through(&layout, layout.index(value)),
                reference.count_between(0, value),
                "digits {digits}, at or below {value}"
            );
        }
        // Wider counters hold the same counts.
        let wide: PagedCounts<u64> = paged.widen::<u32>().widen();
        assert_eq!(wide.recorded(&layout), paged.recorded(&layout));
    }

    #[test]
    fn quantiles_match_hdr_on_spread_values() {
        // Log-uniform over 1 ns to 2^50 ns (past the hour: the saturation), plus exact edges.
        let mut spread: Vec<u64> = values(11)
            .take(20_000)
            .map(|x| (x >> 14) >> ((x & 63) % 50))
            .collect();
        spread.extend([0, 1, 2, HOUR - 1, HOUR, HOUR + 1, 10 * HOUR, u64::MAX]);
        for digits in 1..=5 {
            assert_same_quantiles(digits, &spread);
        }
    }

    #[test]
    fn quantiles_match_hdr_on_narrow_bands() {
        // Latencies of one service: a band around 1 ms, few distinct pages.
        let band: Vec<u64> = values(5)
            .take(5_000)
            .map(|x| 900_000 + (x >> 40) % 300_000)
            .collect();
        for digits in [2, 3] {
            assert_same_quantiles(digits, &band);
            assert_same_quantiles(digits, &band[..1]);
            assert_same_quantiles(digits, &[300_000; 7]);
        }
    }

    #[test]
    fn an_empty_histogram_holds_no_memory_and_a_band_little() {
        let layout = Layout::new(HOUR, 3);
        let mut paged = PagedCounts::<u16>::default();
        assert_eq!(paged.heap_bytes(), 0);
        assert_eq!(value_at_quantile(&layout, &paged, 0, 0.5), 0);
        // 0.9 to 1.2 ms, every bucket touched (steps of 97 ns): buckets are 512 ns wide up to
        // 2^20 ns (2048 sub-buckets: 2^20 / 2048) and 1024 ns above, so (2^20 - 900,000) / 512
        // + (1,200,000 - 2^20) / 1024 ≈ 438 consecutive buckets: 14 or 15 pages of 32, 64 bytes
        // each, plus the 1,056-entry table of 2 bytes: about 3 KB (the counts' capacity
        // rounded up to a power of two pages) against 132 KiB for HDR's dense 32-bit counts.
        for value in (900_000..1_200_000).step_by(97) {
            paged.bump(&layout, layout.index(value));
        }
        let pages = paged.counts.len() / layout.page_len();
        assert!((14..=15).contains(&pages), "{pages} pages");
        assert!(
            paged.heap_bytes() <= 2112 + 16 * 64,
            "{} bytes",
            paged.heap_bytes()
        );
        paged.clear();
        assert_eq!(value_at_quantile(&layout, &paged, 0, 0.5), 0);
        assert!(paged.recorded(&layout).is_empty());
    }
}
