//! Balancer state of one client towards one service, and the pick itself.

use super::hashing::{HashTable, HashTables};
use super::policy::BalancerKind;
use super::zones::{ZoneRequest, ZoneState};
use crate::engine::RekeyableStream;
use rand::RngExt;
use std::sync::Arc;

/// What one client (a calling replica, or a workload at the edge) remembers about one service.
///
/// Laid out by what a try touches (`repr(C)`, from a cache-line boundary): the first 64 bytes
/// hold everything a pick by round robin, `p2c`, random or least request, and the try's send
/// and end, read or write besides the random stream; the rest follows. A big mesh has
/// thousands of clients, each used rarely, so each line a try touches here is a cache miss.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct BalancerState {
    /// How many replicas this client excludes (see `excluded`).
    excluded_count: u32,
    /// The sum of `outstanding_requests`.
    total_outstanding: u32,
    /// Requests outstanding from this client, per replica index of the service.
    outstanding_requests: ReplicaCounts,
    /// `least_conn`: per replica index, the value of `changes` when its outstanding count last
    /// changed (empty until the first `least_conn` pick).
    changed_at: Vec<u64>,
    /// Next position in the view for round robin.
    round_robin_next: usize,
    // ---- second line: the random stream's position and its block's first 14 words
    /// This client's own random stream (balancer draws, retry jitter), computed a block at a
    /// time: the words of `rand`'s `ChaCha8Rng` for the same key, in 120 bytes, not 300-odd.
    rng: RekeyableStream,
    // ---- the rest
    /// Count of outstanding-count changes so far (`least_conn`'s tie order).
    changes: u64,
    /// Smooth weighted round robin's running scores, per replica index (empty until the first
    /// weighted pick).
    weighted_scores: Vec<i64>,
    /// Peak EWMA: per replica index, the cost (nanoseconds) and when it was last updated.
    ewma: Vec<(f64, u64)>,
    /// Per replica index, why this client excludes it (a set of `EXCLUDED_*` bits; 0: it
    /// does not).
    excluded: Vec<u8>,
    /// The view less the excluded replicas, rebuilt when either changes.
    filtered: Vec<u32>,
    /// Version of the view `filtered` was built from (`u64::MAX`: stale).
    filtered_from: u64,
    /// Bumped whenever `filtered` is rebuilt: with the view version, it identifies the replicas
    /// a pick balances over.
    filtered_generation: u64,
    /// `ring_hash` / `maglev`: the table in use (`None` until the first such pick).
    hashing: Option<Box<HashState>>,
    /// Zone-aware routing state (`None` until the first zone-aware pick).
    zones: Option<Box<ZoneState>>,
}

/// Replicas a client keeps its per-replica counts for inline, without a heap allocation.
const INLINE_REPLICAS: usize = 4;

/// A count per replica slot of a service: inline for up to [`INLINE_REPLICAS`] slots (most
/// services of a big mesh: no separate heap line for a try to miss, no allocation per client),
/// on the heap beyond.
#[derive(Debug, Clone)]
enum ReplicaCounts {
    Inline {
        len: u8,
        counts: [u32; INLINE_REPLICAS],
    },
    Heap(Box<[u32]>),
}

impl ReplicaCounts {
    /// `len` zeros.
    fn zeros(len: usize) -> Self {
        if len <= INLINE_REPLICAS {
            ReplicaCounts::Inline {
                len: len as u8,
                counts: [0; INLINE_REPLICAS],
            }
        } else {
            ReplicaCounts::Heap(vec![0; len].into_boxed_slice())
        }
    }

    #[inline]
    fn as_slice(&self) -> &[u32] {
        match self {
            ReplicaCounts::Inline { len, counts } => &counts[..usize::from(*len)],
            ReplicaCounts::Heap(counts) => counts,
        }
    }

    #[inline]
    fn as_mut_slice(&mut self) -> &mut [u32] {
        match self {
            ReplicaCounts::Inline { len, counts } => &mut counts[..usize::from(*len)],
            ReplicaCounts::Heap(counts) => counts,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// The consistent-hash table a client uses, and the replicas it was built over.
#[derive(Debug, Clone)]
struct HashState {
    table: Arc<HashTable>,
    kind: BalancerKind,
    stamp: (u64, u64),
}

/// Which replicas a pick balances over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    /// The whole view (nothing excluded).
    View,
    /// The view less the excluded replicas (`filtered`).
    Filtered,
    /// The whole view, because too few are left (Envoy's panic threshold).
    Panic,
}

/// Peak EWMA's decay time, nanoseconds (Finagle and Linkerd: 10 s).
pub const PEAK_EWMA_DECAY: f64 = 10e9;
/// Peak EWMA's cost of a replica with no history, nanoseconds (Linkerd's default RTT: 30 ms).
pub const PEAK_EWMA_DEFAULT_RTT: f64 = 30e6;
/// Exclusion reason: ejected by outlier detection.
pub const EXCLUDED_EJECTED: u8 = 1;
/// Exclusion reason: failing active health checks.
pub const EXCLUDED_UNHEALTHY: u8 = 2;

/// Envoy's healthy panic threshold: when fewer than this fraction of the view is left after
/// ejections, the client balances over the whole view.
pub const PANIC_THRESHOLD: f64 = 0.5;

impl BalancerState {
    /// A fresh state for a service of `replicas` replicas, drawing from `rng`.
    pub fn new(replicas: usize, rng: RekeyableStream) -> Self {
        BalancerState {
            excluded_count: 0,
            total_outstanding: 0,
            outstanding_requests: ReplicaCounts::zeros(replicas),
            changed_at: Vec::new(),
            round_robin_next: 0,
            changes: 0,
            rng,
            weighted_scores: Vec::new(),
            ewma: Vec::new(),
            excluded: Vec::new(),
            filtered: Vec::new(),
            filtered_from: u64::MAX,
            filtered_generation: 0,
            hashing: None,
            zones: None,
        }
    }

    /// A new balancing algorithm takes over (a config change): what the old one kept for its
    /// own picks — the round-robin position, weighted scores, `least_conn`'s tie order, peak
    /// EWMA's costs, the hash table, the zone plan — starts afresh, as Envoy builds a new load
    /// balancer with the updated cluster. The outstanding counts (tries on the wire) and the
    /// exclusions (ejections, failed health checks) stay: they describe the replicas, not the
    /// algorithm.
    pub fn reset_algorithm(&mut self) {
        self.round_robin_next = 0;
        self.weighted_scores.iter_mut().for_each(|score| *score = 0);
        self.changed_at = Vec::new();
        self.changes = 0;
        self.ewma = Vec::new();
        self.hashing = None;
        self.zones = None;
    }

    /// The client's random stream.
    pub fn rng(&mut self) -> &mut RekeyableStream {
        &mut self.rng
    }

    /// Requests outstanding from this client at replica `replica`.
    pub fn outstanding(&self, replica: u32) -> u32 {
        self.outstanding_requests.as_slice()[replica as usize]
    }

    /// Notes a try sent to `replica`.
    pub fn on_send(&mut self, replica: u32) {
        self.outstanding_requests.as_mut_slice()[replica as usize] += 1;
        self.total_outstanding += 1;
        self.note_change(replica);
    }

    /// `least_conn`'s tie order: a replica whose count changes goes behind its equals.
    #[inline]
    fn note_change(&mut self, replica: u32) {
        if let Some(stamp) = self.changed_at.get_mut(replica as usize) {
            self.changes += 1;
            *stamp = self.changes;
        }
    }

    /// Requests outstanding from this client to the whole service.
    pub fn total_outstanding(&self) -> u32 {
        self.total_outstanding
    }

    /// Notes the end (response, timeout or abandonment) of a try sent to `replica`.
    pub fn on_end(&mut self, replica: u32) {
        let count = &mut self.outstanding_requests.as_mut_slice()[replica as usize];
        if *count > 0 {
            *count -= 1;
            self.total_outstanding -= 1;
            self.note_change(replica);
        }
    }

    /// Excludes `replica` from this client's picks (ejected) or lets it back.
    pub fn set_excluded(&mut self, replica: u32, excluded: bool) {
        self.set_exclusion(replica, EXCLUDED_EJECTED, excluded);
    }

    /// Sets or clears one exclusion `reason` (an `EXCLUDED_*` bit) of `replica`; the replica is
    /// left out of picks while any reason holds.
    pub fn set_exclusion(&mut self, replica: u32, reason: u8, on: bool) {
        if self.excluded.is_empty() {
            self.excluded = vec![0; self.outstanding_requests.len()];
        }
        let flags = &mut self.excluded[replica as usize];
        let before = *flags != 0;
        if on {
            *flags |= reason;
        } else {
            *flags &= !reason;
        }
        let after = *flags != 0;
        if before != after {
            if after {
                self.excluded_count += 1;
            } else {
                self.excluded_count -= 1;
            }
        }
        self.filtered_from = u64::MAX;
    }

    /// Whether `reason` excludes `replica`.
    pub fn has_exclusion(&self, replica: u32, reason: u8) -> bool {
        self.excluded
            .get(replica as usize)
            .is_some_and(|flags| flags & reason != 0)
    }

    /// Feeds peak EWMA a round trip of `rtt` nanoseconds to `replica`, ended at `now`.
    pub fn observe_rtt(&mut self, replica: u32, rtt: u64, now: u64) {
        let (cost, stamp) = self.ewma_entry(replica, now);
        let rtt = rtt as f64;
        let updated = if rtt > cost {
            rtt // peak-sensitive: a slow response counts at once
        } else {
            let weight = (-((now - stamp) as f64) / PEAK_EWMA_DECAY).exp();
            cost * weight + rtt * (1.0 - weight)
        };
        self.ewma[replica as usize] = (updated, now);
    }

    /// The current cost of `replica` (decayed to `now`) and its last update time.
    fn ewma_entry(&mut self, replica: u32, now: u64) -> (f64, u64) {
        if self.ewma.is_empty() {
            self.ewma = vec![(PEAK_EWMA_DEFAULT_RTT, now); self.outstanding_requests.len()];
        }
        let (cost, stamp) = self.ewma[replica as usize];
        let stamp = stamp.min(now);
        (cost, stamp)
    }

    /// Peak EWMA's load of `replica` at `now`: decayed cost x (outstanding + 1).
    fn ewma_load(&mut self, replica: u32, now: u64) -> f64 {
        let (cost, stamp) = self.ewma_entry(replica, now);
        let decayed = cost * (-((now - stamp) as f64) / PEAK_EWMA_DECAY).exp();
        decayed * f64::from(self.outstanding(replica) + 1)
    }

    /// Picks a replica from `view` (replica indices in view order, of version `view_version`:
    /// any change of the view must change it) at `now`; `weights` are indexed by replica index.
    /// Replicas this client has excluded are skipped. `None` when the view is empty.
    #[inline]
    pub fn pick(
        &mut self,
        kind: BalancerKind,
        view: &[u32],
        view_version: u64,
        weights: &[u32],
        now: u64,
    ) -> Option<u32> {
        match self.members(view, view_version) {
            Members::View | Members::Panic => self.pick_from(kind, view, weights, now),
            Members::Filtered => self.pick_from_filtered(kind, weights, now),
        }
    }

    /// Which replicas to balance over; rebuilds `filtered` when the view or the exclusions
    /// changed. With too few left (Envoy's panic threshold), the whole view.
    #[inline]
    fn members(&mut self, view: &[u32], view_version: u64) -> Members {
        if self.excluded_count == 0 {
            return Members::View;
        }
        if self.filtered_from != view_version {
            self.filtered.clear();
            let excluded = &self.excluded;
            self.filtered
                .extend(view.iter().copied().filter(|&r| excluded[r as usize] == 0));
            self.filtered_from = view_version;
            self.filtered_generation += 1;
        }
        let filtered = self.filtered.len();
        if filtered == 0 || (filtered as f64) < PANIC_THRESHOLD * view.len() as f64 {
            Members::Panic
        } else {
            Members::Filtered
        }
    }

    /// Identity of the replicas balanced over: equal stamps, equal replicas.
    fn stamp(&self, members: Members, view_version: u64) -> (u64, u64) {
        match members {
            Members::Filtered => (view_version, self.filtered_generation),
            Members::View | Members::Panic => (view_version, u64::MAX),
        }
    }

    fn pick_from_filtered(&mut self, kind: BalancerKind, weights: &[u32], now: u64) -> Option<u32> {
        let filtered = std::mem::take(&mut self.filtered);
        let chosen = self.pick_from(kind, &filtered, weights, now);
        self.filtered = filtered;
        chosen
    }

    /// `ring_hash` / `maglev`: the replica owning `key_hash` in the table of the replicas this
    /// client balances over (the view less excluded ones). The table comes from `tables`, shared
    /// with clients balancing over the same replicas of `service` (named `name`), and is looked
    /// up again only when those replicas change.
    #[allow(clippy::too_many_arguments)]
    pub fn pick_hashed(
        &mut self,
        kind: BalancerKind,
        service: u32,
        name: &str,
        key_hash: u64,
        view: &[u32],
        view_version: u64,
        weights: &[u32],
        tables: &mut HashTables,
    ) -> Option<u32> {
        let members = self.members(view, view_version);
        let stamp = self.stamp(members, view_version);
        if self
            .hashing
            .as_ref()
            .is_none_or(|state| state.stamp != stamp || state.kind != kind)
        {
            let list = match members {
                Members::Filtered => &self.filtered,
                Members::View | Members::Panic => view,
            };
            let table = tables.table(kind, service, name, list, weights);
            self.hashing = Some(Box::new(HashState { table, kind, stamp }));
        }
        self.hashing.as_ref()?.table.lookup(key_hash)
    }

    /// Zone-aware routing (Envoy): chooses a zone by [`super::zones::ZonePlan`], then balances
    /// with `kind` over that zone's usable replicas (each zone has its own round-robin position).
    /// In panic, below `min_cluster_size` or without callers in the local zone: an ordinary
    /// [`BalancerState::pick`].
    pub fn pick_zone_aware(
        &mut self,
        kind: BalancerKind,
        request: &ZoneRequest<'_>,
        view: &[u32],
        view_version: u64,
        weights: &[u32],
        now: u64,
    ) -> Option<u32> {
        let members = self.members(view, view_version);
        if members == Members::Panic {
            return self.pick_from(kind, view, weights, now);
        }
        let stamp = self.stamp(members, view_version);
        let list = match members {
            Members::Filtered => &self.filtered,
            _ => view,
        };
        let mut zones = match self.zones.take() {
            Some(mut state) => {
                state.refresh(stamp, list, request);
                state
            }
            None => Box::new(ZoneState::new(stamp, list, request)),
        };
        let (first, second) = match zones.plan {
            super::zones::ZonePlan::Spill { .. } => (self.rng.random(), self.rng.random()),
            _ => (0.0, 0.0),
        };
        let zone = zones
            .plan
            .choose(request.local, first, second)
            .filter(|&zone| !zones.zone_members(zone).is_empty());
        let chosen = match zone {
            None => match members {
                Members::Filtered => self.pick_from_filtered(kind, weights, now),
                _ => self.pick_from(kind, view, weights, now),
            },
            Some(zone) => {
                std::mem::swap(&mut self.round_robin_next, &mut zones.cursors[zone]);
                let chosen = self.pick_from(kind, zones.zone_members(zone), weights, now);
                std::mem::swap(&mut self.round_robin_next, &mut zones.cursors[zone]);
                chosen
            }
        };
        self.zones = Some(zones);
        chosen
    }

    /// [`BalancerState::pick`] for `round_robin` when this client excludes no replica (the
    /// same pick, without the general path's dispatch); `None` when it does exclude some, and
    /// the general path must pick.
    #[inline(always)]
    pub fn pick_round_robin(&mut self, view: &[u32]) -> Option<Option<u32>> {
        if self.excluded_count != 0 {
            return None;
        }
        Some(match view.len() {
            0 => None,
            1 => Some(view[0]),
            _ => Some(self.next_round_robin(view)),
        })
    }

    /// [`BalancerState::pick`] for a balancer `kind` that reads no weights (`p2c`, `random`,
    /// `random2`, `least_request`, `least_conn`, `peak_ewma`) when this client excludes no
    /// replica: the same pick and the same draws, without looking at the weights or the
    /// exclusions; `None` when it does exclude some, and the general path must pick.
    #[inline(always)]
    pub fn pick_unweighted(
        &mut self,
        kind: BalancerKind,
        view: &[u32],
        now: u64,
    ) -> Option<Option<u32>> {
        debug_assert!(!matches!(
            kind,
            BalancerKind::WeightedRoundRobin | BalancerKind::RingHash | BalancerKind::Maglev
        ));
        if self.excluded_count != 0 {
            return None;
        }
        Some(self.pick_from(kind, view, &[], now))
    }

    /// The next replica of `view` (two or more) in round-robin order.
    #[inline(always)]
    fn next_round_robin(&mut self, view: &[u32]) -> u32 {
        if self.round_robin_next >= view.len() {
            self.round_robin_next = 0; // the view shrank, or a cycle ended
        }
        let replica = view[self.round_robin_next];
        self.round_robin_next += 1;
        replica
    }

    fn pick_from(
        &mut self,
        kind: BalancerKind,
        view: &[u32],
        weights: &[u32],
        now: u64,
    ) -> Option<u32> {
        match view.len() {
            0 => return None,
            1 => return Some(view[0]),
            _ => {}
        }
        let chosen = match kind {
            BalancerKind::Random => view[self.rng.random_range(0..view.len())],
            BalancerKind::RoundRobin => self.next_round_robin(view),
            BalancerKind::WeightedRoundRobin => self.pick_weighted(view, weights),
            // Hashing balancers pick through `pick_hashed`; reached only without a key.
            BalancerKind::RingHash | BalancerKind::Maglev => view[0],
            BalancerKind::LeastRequest => *view
                .iter()
                .min_by_key(|&&replica| self.outstanding(replica))
                .expect("view is not empty"),
            BalancerKind::PowerOfTwoChoices => {
                let first = self.rng.random_range(0..view.len());
                let mut second = self.rng.random_range(0..view.len() - 1);
                if second >= first {
                    second += 1;
                }
                let (a, b) = (view[first], view[second]);
                if self.outstanding(b) < self.outstanding(a) {
                    b
                } else {
                    a
                }
            }
            BalancerKind::LeastConn => {
                if self.changed_at.is_empty() {
                    // Servers enter HAProxy's tree in configuration order.
                    self.changed_at = (0..self.outstanding_requests.len() as u64).collect();
                    self.changes = self.changed_at.len() as u64;
                }
                *view
                    .iter()
                    .min_by_key(|&&replica| {
                        (self.outstanding(replica), self.changed_at[replica as usize])
                    })
                    .expect("view is not empty")
            }
            BalancerKind::Random2 => {
                let first = view[self.rng.random_range(0..view.len())];
                let second = view[self.rng.random_range(0..view.len())];
                if self.outstanding(second) <= self.outstanding(first) {
                    second
                } else {
                    first
                }
            }
            BalancerKind::PeakEwma => {
                let first = self.rng.random_range(0..view.len());
                let mut second = self.rng.random_range(0..view.len() - 1);
                if second >= first {
                    second += 1;
                }
                let (a, b) = (view[first], view[second]);
                if self.ewma_load(b, now) < self.ewma_load(a, now) {
                    b
                } else {
                    a
                }
            }
        };
        Some(chosen)
    }

    /// Smooth weighted round robin: every replica gains its weight, the highest score wins and
    /// pays back the total. Over `sum(weights)` picks each replica is chosen `weight` times,
    /// interleaved rather than in bursts.
    fn pick_weighted(&mut self, view: &[u32], weights: &[u32]) -> u32 {
        if self.weighted_scores.is_empty() {
            self.weighted_scores = vec![0; self.outstanding_requests.len()];
        }
        let mut total = 0i64;
        let mut best = view[0];
        let mut best_score = i64::MIN;
        for &replica in view {
            let weight = i64::from(weights[replica as usize]);
            total += weight;
            let score = &mut self.weighted_scores[replica as usize];
            *score += weight;
            if *score > best_score {
                best_score = *score;
                best = replica;
            }
        }
        self.weighted_scores[best as usize] -= total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn state(replicas: usize) -> BalancerState {
        BalancerState::new(replicas, RekeyableStream::seed_from_u64(9))
    }

    #[test]
    fn what_a_try_touches_shares_one_cache_line() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<BalancerState>(), 64);
        assert!(offset_of!(BalancerState, round_robin_next) + size_of::<usize>() <= 64);
        assert!(offset_of!(BalancerState, changed_at) + size_of::<Vec<u64>>() <= 64);
        assert!(offset_of!(BalancerState, outstanding_requests) + size_of::<ReplicaCounts>() <= 64);
    }

    #[test]
    fn outstanding_counts_inline_and_on_the_heap_agree() {
        // Up to INLINE_REPLICAS slots the counts are inline, beyond on the heap: the same
        // sends and ends must give the same counts either way (checked against a plain
        // array kept here).
        for replicas in [1, INLINE_REPLICAS, INLINE_REPLICAS + 1, 9] {
            let mut balancer = state(replicas);
            let mut expected = vec![0u32; replicas];
            for step in 0..100usize {
                let replica = (step * 7 + step / 3) % replicas;
                if step % 3 == 2 {
                    balancer.on_end(replica as u32);
                    expected[replica] = expected[replica].saturating_sub(1);
                } else {
                    balancer.on_send(replica as u32);
                    expected[replica] += 1;
                }
            }
            for (replica, &count) in expected.iter().enumerate() {
                assert_eq!(
                    balancer.outstanding(replica as u32),
                    count,
                    "{replicas} slots"
                );
            }
            assert_eq!(
                balancer.total_outstanding(),
                expected.iter().sum::<u32>(),
                "{replicas} slots"
            );
        }
    }

    #[test]
    fn round_robin_cycles_through_the_view() {
        let mut balancer = state(3);
        let picks: Vec<_> = (0..6)
            .map(|_| {
                balancer
                    .pick(BalancerKind::RoundRobin, &[0, 1, 2], 0, &[1, 1, 1], 0)
                    .unwrap()
            })
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn the_inline_round_robin_pick_is_the_general_paths() {
        // Views that grow, shrink below the position, hold one replica and none, with an
        // exclusion part of the way: the inline pick (falling back to `pick` while a replica is
        // excluded) and `pick` alone choose the same replica every time, from the same state.
        let (mut inline, mut general) = (state(6), state(6));
        let views: [&[u32]; 7] = [
            &[0, 1, 2, 3, 4],
            &[0, 1],
            &[3],
            &[],
            &[5, 4, 3, 2, 1, 0],
            &[2, 4, 5],
            &[1, 3],
        ];
        for step in 0..200usize {
            let view = views[(step / 7) % views.len()];
            let excluded = (60..90).contains(&step);
            for balancer in [&mut inline, &mut general] {
                balancer.set_excluded(4, excluded);
            }
            let version = (step / 7) as u64 * 2 + u64::from(excluded);
            let expected = general.pick(BalancerKind::RoundRobin, view, version, &[1; 6], 0);
            let chosen = match inline.pick_round_robin(view) {
                Some(pick) => {
                    assert!(
                        !excluded,
                        "step {step}: the inline pick ignored an exclusion"
                    );
                    pick
                }
                None => inline.pick(BalancerKind::RoundRobin, view, version, &[1; 6], 0),
            };
            assert_eq!(chosen, expected, "step {step}, view {view:?}");
            if excluded && view.len() > 1 {
                assert_ne!(
                    chosen,
                    Some(4),
                    "step {step}: an excluded replica was picked"
                );
            }
        }
    }

    #[test]
    fn the_unweighted_pick_is_the_general_paths_with_the_same_draws() {
        // Each balancer that reads no weights, over views that change, with an exclusion part
        // of the way and outstanding counts that move: the plain pick (falling back to `pick`
        // while a replica is excluded) and `pick` alone choose the same replica every time,
        // and their random streams stay in step (compared word for word at the end).
        use rand::Rng;
        for kind in [
            BalancerKind::PowerOfTwoChoices,
            BalancerKind::Random,
            BalancerKind::Random2,
            BalancerKind::LeastRequest,
            BalancerKind::LeastConn,
            BalancerKind::PeakEwma,
        ] {
            let (mut plain, mut general) = (state(6), state(6));
            let views: [&[u32]; 5] = [&[0, 1, 2, 3, 4], &[0, 1], &[3], &[], &[5, 4, 3, 2, 1, 0]];
            for step in 0..300usize {
                let view = views[(step / 7) % views.len()];
                let excluded = (60..90).contains(&step);
                for balancer in [&mut plain, &mut general] {
                    balancer.set_excluded(4, excluded);
                }
                let version = (step / 7) as u64 * 2 + u64::from(excluded);
                let now = step as u64 * 1_000;
                let expected = general.pick(kind, view, version, &[1; 6], now);
                let chosen = match plain.pick_unweighted(kind, view, now) {
                    Some(pick) => {
                        assert!(!excluded, "{kind:?} step {step}: an exclusion was ignored");
                        pick
                    }
                    None => plain.pick(kind, view, version, &[1; 6], now),
                };
                assert_eq!(chosen, expected, "{kind:?} step {step}, view {view:?}");
                if let Some(replica) = chosen {
                    for balancer in [&mut plain, &mut general] {
                        balancer.on_send(replica);
                        if step % 3 == 0 {
                            balancer.on_end(replica);
                        }
                    }
                }
            }
            assert_eq!(
                plain.rng().next_u64(),
                general.rng().next_u64(),
                "{kind:?}: the streams drew different numbers of words"
            );
        }
    }

    #[test]
    fn the_random_stream_starts_on_the_line_after_the_counts() {
        // A pick reads line 0 (exclusions, outstanding counts) and the stream's position with
        // its block's first words: those must be the next line, from its start.
        use std::mem::offset_of;
        assert_eq!(offset_of!(BalancerState, rng), 64);
        assert!(std::mem::size_of::<RekeyableStream>() <= 128);
    }

    #[test]
    fn weighted_round_robin_serves_in_proportion_and_interleaves() {
        let mut balancer = state(3);
        let picks: Vec<_> = (0..7)
            .map(|_| {
                balancer
                    .pick(
                        BalancerKind::WeightedRoundRobin,
                        &[0, 1, 2],
                        0,
                        &[5, 1, 1],
                        0,
                    )
                    .unwrap()
            })
            .collect();
        assert_eq!(picks.iter().filter(|&&r| r == 0).count(), 5);
        assert_eq!(
            picks,
            [0, 0, 1, 0, 2, 0, 0],
            "nginx's smooth sequence for weights 5,1,1"
        );
    }

    #[test]
    fn least_request_takes_fewest_outstanding_first_in_view_on_ties() {
        let mut balancer = state(3);
        balancer.on_send(0);
        balancer.on_send(2);
        assert_eq!(
            balancer.pick(BalancerKind::LeastRequest, &[0, 1, 2], 0, &[1; 3], 0),
            Some(1)
        );
        balancer.on_send(1);
        assert_eq!(
            balancer.pick(BalancerKind::LeastRequest, &[2, 0, 1], 0, &[1; 3], 0),
            Some(2)
        );
    }

    #[test]
    fn least_conn_breaks_ties_round_robin_as_haproxy_reinserts_servers() {
        let mut balancer = state(3);
        let pick = |balancer: &mut BalancerState| {
            let chosen = balancer
                .pick(BalancerKind::LeastConn, &[0, 1, 2], 0, &[1; 3], 0)
                .unwrap();
            balancer.on_send(chosen);
            chosen
        };
        // Idle servers in configuration order, each going behind its equals when it changes.
        assert_eq!([0, 1, 2].map(|_| pick(&mut balancer)), [0, 1, 2]);
        // 1 finishes first, then 0: both idle again, 1 changed longer ago.
        balancer.on_end(1);
        balancer.on_end(0);
        assert_eq!(pick(&mut balancer), 1);
        assert_eq!(pick(&mut balancer), 0);
        // Fewest outstanding still wins over the tie order.
        balancer.on_end(2);
        assert_eq!(pick(&mut balancer), 2);
        // Under least_request every tie would have gone to 0.
        let mut plain = state(3);
        assert_eq!(
            plain.pick(BalancerKind::LeastRequest, &[0, 1, 2], 0, &[1; 3], 0),
            Some(0)
        );
    }

    #[test]
    fn random2_draws_with_replacement_and_keeps_the_less_loaded() {
        let mut balancer = state(3);
        for _ in 0..5 {
            balancer.on_send(1);
        }
        let mut counts = [0u32; 3];
        let picks = 90_000;
        for _ in 0..picks {
            let chosen = balancer
                .pick(BalancerKind::Random2, &[0, 1, 2], 0, &[1; 3], 0)
                .unwrap();
            counts[chosen as usize] += 1;
        }
        // The busy replica wins only when both draws land on it: 1/9 of the picks
        // (p2c's distinct draws would never pick it). The idle two split the rest.
        let busy = f64::from(counts[1]) / f64::from(picks);
        assert!((busy - 1.0 / 9.0).abs() < 0.01, "busy share {busy}");
        let idle = f64::from(counts[0]) / f64::from(counts[0] + counts[2]);
        assert!((idle - 0.5).abs() < 0.02, "idle split {idle}");
    }

    #[test]
    fn p2c_never_picks_the_busiest_of_three_when_others_are_idle() {
        let mut balancer = state(3);
        for _ in 0..5 {
            balancer.on_send(1);
        }
        for _ in 0..1000 {
            assert_ne!(
                balancer.pick(BalancerKind::PowerOfTwoChoices, &[0, 1, 2], 0, &[1; 3], 0),
                Some(1)
            );
        }
    }

    #[test]
    fn random_is_roughly_uniform() {
        let mut balancer = state(4);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[balancer
                .pick(BalancerKind::Random, &[0, 1, 2, 3], 0, &[1; 4], 0)
                .unwrap() as usize] += 1;
        }
        // Binomial sd = sqrt(40000 * 0.25 * 0.75) ~ 87; 5 sd = 433.
        assert!(
            counts.iter().all(|&c| (c as i64 - 10_000).abs() < 433),
            "{counts:?}"
        );
    }

    #[test]
    fn empty_view_picks_nothing() {
        assert_eq!(
            state(2).pick(BalancerKind::Random, &[], 0, &[1, 1], 0),
            None
        );
    }
}

#[cfg(test)]
mod governance_tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ejected_replicas_are_skipped_until_the_panic_threshold() {
        let mut balancer = BalancerState::new(4, RekeyableStream::seed_from_u64(1));
        balancer.set_excluded(1, true);
        for _ in 0..100 {
            let pick = balancer.pick(BalancerKind::Random, &[0, 1, 2, 3], 0, &[1; 4], 0);
            assert_ne!(pick, Some(1));
        }
        // Three of four ejected: 1 left < 50% of 4, so the whole view is used again.
        balancer.set_excluded(2, true);
        balancer.set_excluded(3, true);
        let picks: Vec<_> = (0..200)
            .map(|_| balancer.pick(BalancerKind::Random, &[0, 1, 2, 3], 0, &[1; 4], 0))
            .collect();
        assert!(picks.contains(&Some(3)), "panic mode balances over all");
    }

    #[test]
    fn peak_ewma_avoids_a_replica_after_one_slow_round_trip_and_forgives_it_slowly() {
        let mut balancer = BalancerState::new(2, RekeyableStream::seed_from_u64(2));
        balancer.observe_rtt(0, 1_000_000, 1_000_000_000);
        balancer.observe_rtt(1, 500_000_000, 1_000_000_000); // one 500 ms answer: cost jumps
        for _ in 0..50 {
            assert_eq!(
                balancer.pick(BalancerKind::PeakEwma, &[0, 1], 0, &[1; 2], 1_000_000_000),
                Some(0)
            );
        }
        // Fast answers pull the cost down by the weight exp(-dt / 10 s): after 10 s one fast
        // answer leaves 500 ms * e^-1 + 1 ms * (1 - e^-1).
        balancer.observe_rtt(1, 1_000_000, 11_000_000_000);
        let (cost, _) = balancer.ewma[1];
        let expected = 500e6 * (-1f64).exp() + 1e6 * (1.0 - (-1f64).exp());
        assert!((cost - expected).abs() < 1.0, "{cost} vs {expected}");
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;
    use crate::model::hashing::{hash_user_key, HashTable};
    use crate::model::zones::Originating;
    use rand::SeedableRng;

    fn state(replicas: usize) -> BalancerState {
        BalancerState::new(replicas, RekeyableStream::seed_from_u64(4))
    }

    #[test]
    fn hashing_follows_ejections_over_the_filtered_view_and_shares_tables() {
        let view = [0, 1, 2, 3, 4];
        let mut tables = HashTables::default();
        let mut client = state(5);
        let mut other = state(5);
        for kind in [BalancerKind::RingHash, BalancerKind::Maglev] {
            let hash = hash_user_key(42);
            let home = HashTable::build(kind, "api", &view, &[1; 5]).lookup(hash);
            let mut pick = |client: &mut BalancerState, version| {
                client.pick_hashed(kind, 0, "api", hash, &view, version, &[1; 5], &mut tables)
            };
            assert_eq!(pick(&mut client, 0), home);
            assert_eq!(pick(&mut other, 0), home, "every client agrees");
            // Ejecting the home replica: the key goes where a table without it sends it.
            client.set_excluded(home.unwrap(), true);
            let rest: Vec<u32> = view.iter().copied().filter(|&r| Some(r) != home).collect();
            let next = HashTable::build(kind, "api", &rest, &[1; 5]).lookup(hash);
            assert_ne!(next, home);
            assert_eq!(pick(&mut client, 0), next);
            client.set_excluded(home.unwrap(), false);
            assert_eq!(pick(&mut client, 0), home, "back when it returns");
        }
        // Two clients over the same replicas hold the same table.
        let (a, b) = (client.hashing.unwrap(), other.hashing.unwrap());
        assert!(Arc::ptr_eq(&a.table, &b.table));
    }

    #[test]
    fn zone_aware_picks_stay_local_and_spill_when_local_replicas_are_ejected() {
        let view = [0, 1, 2, 3, 4, 5];
        let zones = [0, 1, 2, 0, 1, 2];
        let request = ZoneRequest {
            local: 1,
            zone_count: 3,
            min_cluster_size: 4,
            upstream_zones: &zones,
            originating: Originating::Counts(&[1, 1, 1]),
        };
        let mut client = state(6);
        for _ in 0..100 {
            let pick =
                client.pick_zone_aware(BalancerKind::RoundRobin, &request, &view, 0, &[1; 6], 0);
            assert!(matches!(pick, Some(1) | Some(4)), "{pick:?}");
        }
        // Zone b's replicas ejected: 4 of 6 left (not in panic), b's callers spill to a and c
        // in proportion to their residual capacity (1/2 - 1/3 each): half and half.
        client.set_excluded(1, true);
        client.set_excluded(4, true);
        let mut counts = [0u32; 6];
        for _ in 0..10_000 {
            let pick =
                client.pick_zone_aware(BalancerKind::RoundRobin, &request, &view, 0, &[1; 6], 0);
            counts[pick.unwrap() as usize] += 1;
        }
        assert_eq!(counts[1] + counts[4], 0);
        let zone_a = f64::from(counts[0] + counts[3]) / 10_000.0;
        // Binomial sd 0.005: five of them.
        assert!((zone_a - 0.5).abs() < 0.025, "{counts:?}");
        // Round robin inside a zone alternates its two replicas.
        assert!(
            counts[0].abs_diff(counts[3]) <= 1 && counts[2].abs_diff(counts[5]) <= 1,
            "{counts:?}"
        );
    }

    #[test]
    fn zone_aware_below_min_cluster_size_is_plain_balancing() {
        let view = [0, 1, 2, 3, 4, 5];
        let zones = [0, 1, 2, 0, 1, 2];
        let request = ZoneRequest {
            local: 1,
            zone_count: 3,
            min_cluster_size: 7,
            upstream_zones: &zones,
            originating: Originating::Counts(&[1, 1, 1]),
        };
        let mut client = state(6);
        let picks: Vec<_> = (0..6)
            .map(|_| {
                client.pick_zone_aware(BalancerKind::RoundRobin, &request, &view, 0, &[1; 6], 0)
            })
            .collect();
        assert_eq!(picks, [0, 1, 2, 3, 4, 5].map(Some));
    }
}
