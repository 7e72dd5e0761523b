//! Timeouts kept outside the event queue.
//!
//! Every call arms a timeout, and nearly every call ends before it fires. Pushed as events, the
//! stale timeouts would make up a third of all events. Instead, the timeouts of one fixed delay
//! (one policy's timeout) sit in a FIFO — in deadline order, since they are armed in time order —
//! and one sweep event is pending per FIFO, at its earliest deadline. A sweep fires what is due
//! and discards the stale entries at the front without the engine's overhead. Per-try timeouts
//! and hedge delays are kept the same way, in the queue of their delay.
//!
//! One case arms out of order: with deadline propagation a call inherits its caller's deadline
//! when that is sooner than its own timeout. Such an entry is inserted at its place, and when it
//! becomes the earliest, a sweep is scheduled for it; the sweep that was pending for a later
//! time is then stale and ignored (each queue knows the time of its one live sweep).

use std::collections::VecDeque;

/// What an armed deadline does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// The whole call times out.
    Call,
    /// One try times out (per-try timeout).
    Try,
    /// The try has had no response for the hedge delay: send a hedge.
    Hedge,
}

/// One armed timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// When it fires, nanoseconds.
    pub at: u64,
    /// Call slot.
    pub call: u32,
    /// Call generation.
    pub generation: u32,
    /// The try it concerns (unused for [`DeadlineKind::Call`]).
    pub try_number: u32,
    /// What it does.
    pub kind: DeadlineKind,
}

/// Entries a queue holds before its first full pass over them for stale ones.
const FIRST_COMPACTION: usize = 4096;

/// The armed timeouts of one fixed delay, in deadline order.
#[derive(Debug)]
pub struct DeadlineQueue {
    entries: VecDeque<Deadline>,
    /// Time of the live sweep event, nanoseconds (`u64::MAX`: none).
    sweep_at: u64,
    /// Length at which the next pass drops stale entries wherever they are: twice the live
    /// entries left by the last pass (at least [`FIRST_COMPACTION`]).
    compact_at: usize,
}

impl Default for DeadlineQueue {
    fn default() -> Self {
        DeadlineQueue {
            entries: VecDeque::new(),
            sweep_at: u64::MAX,
            compact_at: FIRST_COMPACTION,
        }
    }
}

impl DeadlineQueue {
    /// Arms a timeout. Returns true when a sweep must be scheduled at `deadline.at`.
    #[inline]
    pub fn arm(&mut self, deadline: Deadline) -> bool {
        if self
            .entries
            .back()
            .is_none_or(|last| last.at <= deadline.at)
        {
            self.entries.push_back(deadline);
        } else {
            // An inherited, sooner deadline: after the entries due no later than it.
            let position = self
                .entries
                .partition_point(|entry| entry.at <= deadline.at);
            self.entries.insert(position, deadline);
        }
        if deadline.at < self.sweep_at {
            self.sweep_at = deadline.at;
            return true;
        }
        false
    }

    /// Whether a sweep event at `now` is the queue's live one (an earlier arming may have
    /// superseded it).
    pub fn is_live_sweep(&self, now: u64) -> bool {
        now == self.sweep_at
    }

    /// Takes the earliest timeout if it is due at `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Deadline> {
        if self.entries.front().is_some_and(|first| first.at <= now) {
            self.entries.pop_front()
        } else {
            None
        }
    }

    /// Drops at most `limit` stale timeouts from the front. Called on every arming, this keeps a
    /// queue of long timeouts (15 s by default, for calls that last milliseconds) back only to
    /// its oldest live entry, small and in cache, instead of a whole timeout's worth of entries.
    /// (`is_live` must stay false once false, as for [`DeadlineQueue::next_sweep`]; the live
    /// sweep may then find nothing due, and schedules the next one.)
    #[inline]
    pub fn drop_stale_front(&mut self, limit: usize, mut is_live: impl FnMut(&Deadline) -> bool) {
        for _ in 0..limit {
            match self.entries.front() {
                Some(first) if !is_live(first) => {
                    self.entries.pop_front();
                }
                _ => return,
            }
        }
    }

    /// [`DeadlineQueue::drop_stale_front`], and, once the queue has doubled since the last
    /// pass, drops the stale entries wherever they are. One call that stays live (a replica hung
    /// under a 1000 h timeout) would otherwise keep every later call's timeout queued behind it:
    /// memory then grows with simulated time, not with what is in flight. The queue stays below
    /// twice its live entries (or [`FIRST_COMPACTION`]); each pass costs its length, paid for
    /// by the armings that doubled it.
    #[inline]
    pub fn drop_stale(&mut self, limit: usize, mut is_live: impl FnMut(&Deadline) -> bool) {
        self.drop_stale_front(limit, &mut is_live);
        if self.entries.len() >= self.compact_at {
            self.compact(is_live);
        }
    }

    #[cold]
    fn compact(&mut self, mut is_live: impl FnMut(&Deadline) -> bool) {
        self.entries.retain(|deadline| is_live(deadline));
        self.compact_at = (2 * self.entries.len()).max(FIRST_COMPACTION);
    }

    /// Number of armed timeouts held (live or stale).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops stale timeouts from the front; returns when the next sweep is due, if any (and
    /// notes whether a sweep is pending accordingly).
    pub fn next_sweep(&mut self, is_live: impl FnMut(&Deadline) -> bool) -> Option<u64> {
        self.drop_stale_front(usize::MAX, is_live);
        let next = self.entries.front().map(|first| first.at);
        self.sweep_at = next.unwrap_or(u64::MAX);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: u64, call: u32) -> Deadline {
        Deadline {
            at: time,
            call,
            generation: 0,
            try_number: 0,
            kind: DeadlineKind::Call,
        }
    }

    #[test]
    fn a_sooner_deadline_armed_late_is_fired_first() {
        let mut queue = DeadlineQueue::default();
        assert!(queue.arm(at(100, 1)));
        assert!(!queue.arm(at(200, 2)));
        // Inherited deadline 50, armed after 100 and 200: it becomes the earliest and asks for
        // its own sweep; the sweep at 100 is then stale.
        assert!(queue.arm(at(50, 3)));
        assert!(!queue.arm(at(150, 4)));
        assert!(queue.is_live_sweep(50));
        assert!(!queue.is_live_sweep(100));
        assert_eq!(queue.pop_due(50), Some(at(50, 3)));
        assert_eq!(queue.next_sweep(|_| true), Some(100));
        assert!(queue.is_live_sweep(100));
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop_due(u64::MAX))
            .map(|d| d.call)
            .collect();
        assert_eq!(order, vec![1, 4, 2]);
    }

    #[test]
    fn arming_drops_stale_entries_from_the_front_only() {
        let mut queue = DeadlineQueue::default();
        for call in 1..=6 {
            queue.arm(at(call as u64 * 10, call));
        }
        // Calls 1, 2 and 4 have ended; 3 is still live, so 4 stays behind it.
        let live = |deadline: &Deadline| ![1, 2, 4].contains(&deadline.call);
        queue.drop_stale_front(1, live);
        assert_eq!(queue.len(), 5, "at most `limit` per call");
        queue.drop_stale_front(8, live);
        assert_eq!(queue.len(), 4, "stops at the first live entry");
        // The sweep armed for 10 finds nothing due and moves on to call 3's timeout.
        assert!(queue.is_live_sweep(10));
        assert_eq!(queue.pop_due(10), None);
        assert_eq!(queue.next_sweep(live), Some(30));
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop_due(u64::MAX))
            .map(|d| d.call)
            .collect();
        assert_eq!(order, vec![3, 4, 5, 6]);
    }

    #[test]
    fn stale_entries_behind_a_live_one_are_dropped_once_the_queue_doubles() {
        let mut queue = DeadlineQueue::default();
        // Call 0 stays live for ever (a hung replica, a huge timeout); every later call ends
        // before the next is armed. Front drops cannot pass call 0.
        let live = |deadline: &Deadline| deadline.call == 0;
        queue.arm(at(1_000_000, 0));
        let mut longest = 0;
        for call in 1..100_000u32 {
            queue.drop_stale(2, live);
            queue.arm(at(1_000_000 + u64::from(call), call));
            longest = longest.max(queue.len());
        }
        assert!(
            longest <= FIRST_COMPACTION + 1,
            "held {longest} entries for one live call"
        );
        // The live entry survives every pass and still fires, first.
        assert_eq!(queue.pop_due(u64::MAX).map(|d| d.call), Some(0));
    }

    #[test]
    fn compaction_keeps_live_entries_in_order() {
        let mut queue = DeadlineQueue::default();
        for call in 0..10_000u32 {
            queue.arm(at(u64::from(call), call));
        }
        queue.drop_stale(0, |deadline| deadline.call % 3 == 0);
        let order: Vec<u32> = std::iter::from_fn(|| queue.pop_due(u64::MAX))
            .map(|d| d.call)
            .collect();
        let expected: Vec<u32> = (0..10_000).filter(|c| c % 3 == 0).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn sweeps_fire_due_entries_and_skip_stale_ones() {
        let mut queue = DeadlineQueue::default();
        assert!(queue.arm(at(10, 1)));
        assert!(!queue.arm(at(20, 2)), "one sweep pending at a time");
        assert!(!queue.arm(at(30, 3)));
        assert_eq!(queue.pop_due(10), Some(at(10, 1)));
        assert_eq!(queue.pop_due(10), None);
        // Call 2 ended before its timeout: the next sweep is for call 3.
        assert_eq!(queue.next_sweep(|deadline| deadline.call != 2), Some(30));
        assert_eq!(queue.pop_due(30), Some(at(30, 3)));
        assert_eq!(queue.next_sweep(|_| true), None);
        assert!(
            queue.arm(at(40, 4)),
            "an idle queue schedules a sweep again"
        );
    }
}
