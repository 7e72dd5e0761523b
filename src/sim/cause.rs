//! Failure attribution: the root cause of every failed end-to-end request.
//!
//! A failed request's *root cause* is the deepest failed try on its failure path: follow the
//! request's call to the try whose failure ended it; when that try failed because a required
//! downstream call of its job failed, follow that call in turn, down to a try that failed for a
//! reason of its own (refused, rejected, an error of its own, a timeout, an answer the caller
//! gave itself). The cause names that try's service and replica, its outcome, the fault in force
//! at the replica when it failed, and why its call stopped trying.
//!
//! The cause travels with the failure, never per event on the success path: a failed response
//! leaves it in a side table by call slot ([`TryCause`], checked by generation and try number);
//! a failed required call leaves its cause on its parent job (by job slot); the edge counts it
//! into a small table keyed by the cause ([`CauseCounts`]: a `BTreeMap` that allocates only for
//! a cause not seen before).

use super::request::TRY_LANES;
use crate::model::Outcome;
use std::collections::BTreeMap;

/// `replica` / `fault` value meaning "none".
pub const NO_INDEX: u32 = u32::MAX;

/// Why the call holding the root-cause try stopped trying after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GaveUp {
    /// Not yet known (only while the cause travels up to its call's end).
    Unknown,
    /// The policy does not retry this outcome (or allows no retry at all).
    NotRetried,
    /// The call had used every retry its policy allows.
    RetriesExhausted,
    /// The retry budget allowed no further retry.
    RetryBudget,
    /// The call's deadline (its timeout, or an inherited deadline) passed.
    Deadline,
    /// Whoever waited for the call had already ended.
    CallerGone,
}

impl GaveUp {
    /// The report spelling.
    pub fn name(self) -> &'static str {
        match self {
            GaveUp::Unknown => "unknown",
            GaveUp::NotRetried => "not retried",
            GaveUp::RetriesExhausted => "retries exhausted",
            GaveUp::RetryBudget => "retry budget exhausted",
            GaveUp::Deadline => "call deadline passed",
            GaveUp::CallerGone => "caller gone",
        }
    }
}

/// The root cause of a failure: a small `Copy` value that travels with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cause {
    /// Service the failed try was sent to.
    pub service: u32,
    /// Replica index within the service, or [`NO_INDEX`] when the try never reached one (the
    /// caller answered itself: no replica in view, circuit open, bulkhead or pool full).
    pub replica: u32,
    /// The try's outcome.
    pub outcome: Outcome,
    /// Index of the fault in force there when it failed (`model.faults`), or [`NO_INDEX`].
    pub fault: u32,
    /// Why its call stopped trying.
    pub gave_up: GaveUp,
}

impl Cause {
    /// The placeholder passed along with a success (never counted).
    pub const NONE: Cause = Cause {
        service: NO_INDEX,
        replica: NO_INDEX,
        outcome: Outcome::Succeeded,
        fault: NO_INDEX,
        gave_up: GaveUp::Unknown,
    };
}

/// The cause a failed response carries back to its call: written when the job responds, read
/// when the response ends the try (valid only for that call generation, try and outcome).
#[derive(Debug, Clone, Copy)]
pub struct TryCause {
    /// Call generation it belongs to.
    pub generation: u32,
    /// Try number it belongs to.
    pub try_number: u32,
    /// The outcome the response carries.
    pub try_outcome: Outcome,
    /// The root cause below it (or the try's own failure).
    pub cause: Cause,
}

impl Default for TryCause {
    fn default() -> Self {
        TryCause {
            generation: NO_INDEX,
            try_number: NO_INDEX,
            try_outcome: Outcome::Succeeded,
            cause: Cause::NONE,
        }
    }
}

/// A cause kept for the slot generation (of a call or a job) it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Stamped {
    /// The slot's generation ([`NO_INDEX`]: nothing kept).
    pub generation: u32,
    /// The cause.
    pub cause: Cause,
}

impl Default for Stamped {
    fn default() -> Self {
        Stamped {
            generation: NO_INDEX,
            cause: Cause::NONE,
        }
    }
}

/// Causes travelling with one call slot's failures.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallCauses {
    /// Per try lane: the cause its failed response carried.
    pub lanes: [TryCause; TRY_LANES],
    /// The cause of the call's latest failed try (for a call whose deadline passes while it
    /// backs off).
    pub last: Stamped,
}

/// Failed requests counted by root cause, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseCounts(pub BTreeMap<Cause, u64>);

impl CauseCounts {
    /// Counts one failure of `cause`.
    #[inline]
    pub fn add(&mut self, cause: Cause) {
        *self.0.entry(cause).or_insert(0) += 1;
    }

    /// Every failure counted.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Grows `table` so that `slot` indexes it (only on the failure path; slots are reused).
#[inline]
pub fn slot_entry<T: Default + Clone>(table: &mut Vec<T>, slot: u32) -> &mut T {
    if table.len() <= slot as usize {
        table.resize(slot as usize + 1, T::default());
    }
    &mut table[slot as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_kept_per_cause_and_total() {
        let mut counts = CauseCounts::default();
        let refused = Cause {
            service: 1,
            replica: 0,
            outcome: Outcome::Refused,
            fault: 0,
            gave_up: GaveUp::RetriesExhausted,
        };
        let error = Cause {
            outcome: Outcome::Error,
            fault: 1,
            ..refused
        };
        for _ in 0..3 {
            counts.add(refused);
        }
        counts.add(error);
        assert_eq!(counts.0.len(), 2);
        assert_eq!(counts.0[&refused], 3);
        assert_eq!(counts.total(), 4);
    }

    #[test]
    fn slot_entries_grow_on_demand_only() {
        let mut table: Vec<u32> = Vec::new();
        *slot_entry(&mut table, 3) = 7;
        assert_eq!(table, vec![0, 0, 0, 7]);
        *slot_entry(&mut table, 1) = 5;
        assert_eq!(table.len(), 4);
    }
}
