//! A timing wheel for the near future: the part of the pending-event set that most events pass
//! through (service completions a few milliseconds ahead), at O(1) per push and pop instead of
//! the heap's O(log n).
//!
//! Time is cut into slots of [`SLOT_NANOS`]; the wheel holds the events of the [`SLOTS`] slots
//! from the slot of "now" on (16.8 ms ahead). Each slot keeps its events in a list sorted by
//! (time, sequence), usually zero to two of them; a bitmap of the occupied slots, with a summary
//! word over it, finds the next occupied slot in two `trailing_zeros`. An event further ahead,
//! or (by a caller's mistake) behind now, is refused and goes to the heap; the heap's earliest
//! event is compared with the wheel's on every pop, so nothing ever moves between the two and the
//! order stays exactly (time, sequence).
//!
//! Nodes live in one slab with a free list: once the slab has grown to the most events ever
//! pending at once, pushing and popping allocate nothing.

use super::scheduled::Scheduled;

/// log2 of a slot's width in nanoseconds.
const SLOT_WIDTH_BITS: u32 = 12;
/// A slot's width, nanoseconds (4.096 µs).
const SLOT_NANOS: u64 = 1 << SLOT_WIDTH_BITS;
/// Number of slots (a power of two, 64 × 64 so that one summary word covers the bitmap).
const SLOTS: usize = 4096;
/// Words of the occupied-slot bitmap.
const WORDS: usize = SLOTS / 64;
/// Most events a slot holds. A slot's list is kept sorted by walking it, so where events crowd
/// (many thousands pending within a few milliseconds) the rest go to the heap instead: a push
/// then costs at most this many steps before the heap's O(log n).
const MAX_SLOT_EVENTS: u8 = 8;
/// No node (end of a list, empty free list).
const NIL: u32 = u32::MAX;
/// A slot's entry in [`Wheel::slots`]: its first node in the low [`HEAD_BITS`] bits, its number
/// of events above them (0: the slot is empty, and the head bits mean nothing).
const HEAD_BITS: u32 = 24;
/// The head bits of a slot's entry.
const HEAD_MASK: u32 = (1 << HEAD_BITS) - 1;
/// Nodes the slab may hold: a node's index must fit in a slot entry's head bits (an event that
/// would need a node beyond them goes to the heap, like one beyond the window).
const MAX_NODES: usize = HEAD_MASK as usize;

/// A pending event and the next node of its slot's list (or of the free list).
#[derive(Debug, Clone, Copy)]
struct Node<E> {
    scheduled: Scheduled<E>,
    next: u32,
}

/// Events of the next [`SLOTS`] slots, each slot's in (time, sequence) order.
#[derive(Debug)]
pub struct Wheel<E> {
    /// Per slot: its first node and its number of events in one word (see [`HEAD_BITS`]), so
    /// that a push or pop touches one cache line of this table, not one of heads and one of
    /// lengths.
    slots: Vec<u32>,
    /// Bit `s % 64` of word `s / 64` is set when slot `s` holds an event.
    occupied: Vec<u64>,
    /// Bit `w` is set when `occupied[w]` is not zero.
    occupied_words: u64,
    nodes: Vec<Node<E>>,
    /// First free node.
    free: u32,
    /// Absolute slot (time / [`SLOT_NANOS`]) of the latest event popped from the whole queue:
    /// every event in the wheel lies in the [`SLOTS`] slots from it.
    cursor: u64,
    /// Order of the earliest event held (`u128::MAX`: none).
    front: u128,
    len: usize,
}

impl<E: Copy> Default for Wheel<E> {
    fn default() -> Self {
        Wheel {
            slots: vec![0; SLOTS],
            occupied: vec![0; WORDS],
            occupied_words: 0,
            nodes: Vec::new(),
            free: NIL,
            cursor: 0,
            front: u128::MAX,
            len: 0,
        }
    }
}

impl<E: Copy> Wheel<E> {
    /// Order (time, sequence) of the earliest event held; `u128::MAX` when empty.
    #[inline(always)]
    pub fn front(&self) -> u128 {
        self.front
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Time of the earliest event held, nanoseconds.
    pub fn front_time(&self) -> Option<u64> {
        (self.len > 0).then_some((self.front >> 64) as u64)
    }

    /// Notes that the queue's latest popped event fired at `time` (nanoseconds): the wheel's
    /// window starts at its slot. Every event held must be at `time` or later.
    #[inline(always)]
    pub fn advance_to(&mut self, time: u64) {
        self.cursor = time / SLOT_NANOS;
    }

    /// Holds `scheduled` if its slot is within the window and not full; gives it back otherwise.
    #[inline(always)]
    pub fn insert(&mut self, scheduled: Scheduled<E>) -> Result<(), Scheduled<E>> {
        let absolute_slot = scheduled.time / SLOT_NANOS;
        // Wrapping: a slot behind the cursor is refused too.
        if absolute_slot.wrapping_sub(self.cursor) >= SLOTS as u64 {
            return Err(scheduled);
        }
        let slot = absolute_slot as usize % SLOTS;
        let entry = self.slots[slot];
        let length = entry >> HEAD_BITS;
        if length >= u32::from(MAX_SLOT_EVENTS)
            || (self.free == NIL && self.nodes.len() >= MAX_NODES)
        {
            return Err(scheduled);
        }
        let order = scheduled.order();
        let node = self.allocate(scheduled);
        // Walk past the slot's events that come first (equal times: the new one has the larger
        // sequence, so it goes after them).
        let mut previous = NIL;
        let mut current = if length == 0 { NIL } else { entry & HEAD_MASK };
        while current != NIL && self.nodes[current as usize].scheduled.order() < order {
            previous = current;
            current = self.nodes[current as usize].next;
        }
        self.nodes[node as usize].next = current;
        let head = if previous == NIL {
            node
        } else {
            self.nodes[previous as usize].next = node;
            entry & HEAD_MASK
        };
        self.slots[slot] = ((length + 1) << HEAD_BITS) | head;
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.occupied_words |= 1 << (slot / 64);
        self.front = self.front.min(order);
        self.len += 1;
        Ok(())
    }

    /// The earliest event held. The wheel must not be empty.
    #[inline(always)]
    pub fn front_event(&self) -> &E {
        debug_assert!(self.len > 0, "peek into an empty wheel");
        let time = (self.front >> 64) as u64;
        let slot = (time / SLOT_NANOS) as usize % SLOTS;
        let head = self.slots[slot] & HEAD_MASK;
        &self.nodes[head as usize].scheduled.event
    }

    /// Removes and returns the earliest event. The wheel must not be empty.
    #[inline(always)]
    pub fn pop_front(&mut self) -> Scheduled<E> {
        debug_assert!(self.len > 0, "pop from an empty wheel");
        let time = (self.front >> 64) as u64;
        let slot = (time / SLOT_NANOS) as usize % SLOTS;
        let entry = self.slots[slot];
        let head = entry & HEAD_MASK;
        let Node { scheduled, next } = self.nodes[head as usize];
        // One event fewer; the next node (if any) becomes the head.
        self.slots[slot] = (entry - (1 << HEAD_BITS)) & !HEAD_MASK | (next & HEAD_MASK);
        self.nodes[head as usize].next = self.free;
        self.free = head;
        self.len -= 1;
        self.front = if next != NIL {
            self.nodes[next as usize].scheduled.order()
        } else {
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            if self.occupied[slot / 64] == 0 {
                self.occupied_words &= !(1 << (slot / 64));
            }
            match self.next_occupied(slot) {
                Some(next_slot) => {
                    let first = self.slots[next_slot] & HEAD_MASK;
                    self.nodes[first as usize].scheduled.order()
                }
                None => u128::MAX,
            }
        };
        scheduled
    }

    /// The first occupied slot at or after `from`, going round the wheel (every event held lies
    /// within one turn from the cursor's slot, so this is the earliest).
    fn next_occupied(&self, from: usize) -> Option<usize> {
        let word = from / 64;
        let here = self.occupied[word] & (u64::MAX << (from % 64));
        if here != 0 {
            return Some(word * 64 + here.trailing_zeros() as usize);
        }
        let later_words = if word + 1 < WORDS {
            self.occupied_words & (u64::MAX << (word + 1))
        } else {
            0
        };
        // Past the last word, round to the lowest occupied one (it may be `word` itself, below
        // `from`).
        let chosen = if later_words != 0 {
            later_words
        } else {
            self.occupied_words
        };
        if chosen == 0 {
            return None;
        }
        let chosen_word = chosen.trailing_zeros() as usize;
        Some(chosen_word * 64 + self.occupied[chosen_word].trailing_zeros() as usize)
    }

    /// A node holding `scheduled`, from the free list or a new one.
    #[inline(always)]
    fn allocate(&mut self, scheduled: Scheduled<E>) -> u32 {
        if self.free != NIL {
            let node = self.free;
            self.free = self.nodes[node as usize].next;
            self.nodes[node as usize].scheduled = scheduled;
            node
        } else {
            self.nodes.push(Node {
                scheduled,
                next: NIL,
            });
            (self.nodes.len() - 1) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheduled(time: u64, sequence: u64) -> Scheduled<u64> {
        Scheduled {
            time,
            sequence,
            event: sequence,
        }
    }

    #[test]
    fn refuses_events_beyond_the_window_or_behind_the_cursor() {
        let mut wheel = Wheel::default();
        wheel.advance_to(10 * SLOT_NANOS);
        let last_in_window = (10 + SLOTS as u64) * SLOT_NANOS - 1;
        assert!(wheel.insert(scheduled(last_in_window, 0)).is_ok());
        assert!(wheel.insert(scheduled(last_in_window + 1, 1)).is_err());
        assert!(wheel.insert(scheduled(10 * SLOT_NANOS - 1, 2)).is_err());
        assert!(wheel.insert(scheduled(10 * SLOT_NANOS, 3)).is_ok());
        assert_eq!(wheel.len(), 2);
    }

    #[test]
    fn pops_across_the_turn_of_the_wheel_in_order() {
        // The cursor near the end of the slots: later events wrap to the first slots, and must
        // still come after the events in the last slots.
        let mut wheel = Wheel::default();
        let start = (SLOTS as u64 - 3) * SLOT_NANOS;
        wheel.advance_to(start);
        let times = [
            start + 5 * SLOT_NANOS,
            start,
            start + 2 * SLOT_NANOS,
            start + 7,
        ];
        for (sequence, &time) in times.iter().enumerate() {
            wheel.insert(scheduled(time, sequence as u64)).unwrap();
        }
        let mut popped = Vec::new();
        while wheel.len() > 0 {
            let next = wheel.pop_front();
            wheel.advance_to(next.time);
            popped.push(next.time);
        }
        let mut expected = times.to_vec();
        expected.sort_unstable();
        assert_eq!(popped, expected);
        assert_eq!(wheel.front(), u128::MAX);
    }

    #[test]
    fn a_full_slot_refuses_more_events() {
        let mut wheel = Wheel::default();
        for sequence in 0..u64::from(MAX_SLOT_EVENTS) {
            assert!(wheel.insert(scheduled(100 + sequence, sequence)).is_ok());
        }
        assert!(wheel.insert(scheduled(50, 99)).is_err(), "the slot is full");
        assert!(
            wheel.insert(scheduled(SLOT_NANOS, 100)).is_ok(),
            "the next slot is not"
        );
        assert_eq!(wheel.pop_front().time, 100);
        assert!(wheel.insert(scheduled(50, 101)).is_ok(), "room again");
        assert_eq!(wheel.pop_front().time, 50);
    }

    #[test]
    fn equal_times_pop_in_sequence_order_and_nodes_are_reused() {
        let mut wheel = Wheel::default();
        for sequence in 0..5 {
            wheel.insert(scheduled(100, sequence)).unwrap();
        }
        let order: Vec<u64> = (0..5).map(|_| wheel.pop_front().sequence).collect();
        assert_eq!(order, [0, 1, 2, 3, 4]);
        for sequence in 5..10 {
            wheel.insert(scheduled(200, sequence)).unwrap();
        }
        assert_eq!(wheel.nodes.len(), 5, "freed nodes are reused");
    }
}
