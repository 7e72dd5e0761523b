//! What the event queue holds: an event with its firing time and the sequence number that breaks
//! ties, shared by the heap, the lanes ([`super::queue`]) and the timing wheel ([`super::wheel`]).

/// An event with its firing time and insertion sequence number.
#[derive(Debug, Clone, Copy)]
pub struct Scheduled<E> {
    /// Firing time, nanoseconds.
    pub time: u64,
    /// Insertion sequence: breaks ties between events of the same time, first in first out.
    pub sequence: u64,
    /// The event.
    pub event: E,
}

impl<E> Scheduled<E> {
    /// (time, sequence) as one number: one branch-free comparison orders two events.
    #[inline(always)]
    pub(super) fn order(&self) -> u128 {
        (u128::from(self.time) << 64) | u128::from(self.sequence)
    }
}
