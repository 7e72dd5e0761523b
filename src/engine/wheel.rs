//! A timing wheel for the near future: the part of the pending-event set that most events pass
//! through (service completions a few milliseconds ahead), at O(1) per push and pop instead of
//! the heap's O(log n).
//!
//! Time is cut into slots of [`SLOT_NANOS`]; the wheel holds the events of the [`SLOTS`] slots
//! from the slot of "now" on (16.8 ms ahead). Each slot keeps its events in a linked list; a
//! bitmap of the occupied slots, with a summary word over it, finds the next occupied slot in two
//! `trailing_zeros`. An event further ahead, or (by a caller's mistake) behind now, is refused
//! and goes to the heap; the heap's earliest event is compared with the wheel's on every pop, so
//! nothing ever moves between the two and the order stays exactly (time, sequence).
//!
//! # Sorted only where it matters: the front slot
//!
//! Only the *front slot*, the slot of the earliest event held ([`Wheel::front`]), needs its list
//! in (time, sequence) order: pops and peeks read its head. Every other slot takes a new event by
//! prepending it (O(1), reading no other node: where events crowd, 10 to 25 in a 4.096 µs slot
//! on a 10,000-service tree, a sorted insert walked a chain of scattered nodes, one dependent
//! cache miss after another) and is marked unsorted (a bit of its slot entry,
//! [`UNSORTED_BIT`]). When a pop empties the front slot, the next occupied slot becomes the front;
//! if it is marked unsorted it is sorted then, once: its nodes gathered with their orders into a
//! scratch buffer kept in the wheel (no allocation once it has grown to the largest slot), sorted
//! by order (unique: time, then sequence), relinked.
//!
//! Why a push never needs to sort anything but the front slot. Every event held lies at the
//! cursor's time or later (the queue pops in order and the cursor is the latest pop) and is the
//! front or later (the front is the earliest held). So **every slot from the cursor's up to the
//! front slot, the front slot excluded, is empty**. A pushed event then falls in one of three
//! places:
//! - the front slot: inserted by a walk from its head, which keeps the slot sorted (a walk of at
//!   most [`MAX_FRONT_WALK`] steps; an event that would go deeper goes to the heap instead);
//! - an empty slot (this covers every event earlier than the front's slot): it is alone, hence
//!   sorted, and if it is earlier than the front it becomes the front slot, sorted as the front
//!   slot must be (the old front slot is sorted already);
//! - another occupied slot: that slot lies after the front slot, so the event is later than the
//!   front, the front stays, and the slot may go unsorted until it becomes the front.
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
/// No node (end of a list, empty free list).
const NIL: u32 = u32::MAX;
/// A slot's entry in [`Wheel::slots`]: its first node in the low [`HEAD_BITS`] bits, then the
/// [`UNSORTED_BIT`], then its number of events above them from [`COUNT_SHIFT`] (0: the slot is
/// empty, and the other bits mean nothing).
const HEAD_BITS: u32 = 24;
/// The head bits of a slot's entry.
const HEAD_MASK: u32 = (1 << HEAD_BITS) - 1;
/// Set in a slot's entry when its list may be out of order (never in the front slot's).
const UNSORTED_BIT: u32 = 1 << HEAD_BITS;
/// Position of a slot's number of events in its entry (7 bits: at most 127).
const COUNT_SHIFT: u32 = HEAD_BITS + 1;
/// One event in a slot entry's count.
const ONE_EVENT: u32 = 1 << COUNT_SHIFT;
/// Most events a slot holds (at most 127, the count's 7 bits). Beyond it, events go to the heap.
/// A slot is sorted once, when it becomes the front slot, so this bounds a sort, not a walk per
/// push.
const MAX_SLOT_EVENTS: u32 = 64;
/// Most nodes a push into the front slot walks past to find its place (the front slot is kept
/// sorted by walking it); an event that belongs deeper goes to the heap.
const MAX_FRONT_WALK: u32 = 8;
/// Most events of a slot sorted by an insertion sort of its list ([`Wheel::sort_short_slot`]);
/// a longer slot is sorted as packed keys ([`Wheel::sort_slot`]).
const MAX_LIST_SORT: u32 = 8;
/// Bits of a sort key for the sequence less the slot's smallest (see [`Wheel::sort_slot`]): what
/// the key's 64 bits leave beside the time within the slot and the node.
const SEQUENCE_SPAN_BITS: u32 = 64 - SLOT_WIDTH_BITS - HEAD_BITS;
/// Nodes the slab may hold: a node's index must fit in a slot entry's head bits (an event that
/// would need a node beyond them goes to the heap, like one beyond the window).
const MAX_NODES: usize = HEAD_MASK as usize;

/// A pending event and the next node of its slot's list (or of the free list).
#[derive(Debug, Clone, Copy)]
struct Node<E> {
    scheduled: Scheduled<E>,
    next: u32,
}

/// Events of the next [`SLOTS`] slots; the front slot's in (time, sequence) order.
#[derive(Debug)]
pub struct Wheel<E> {
    /// Per slot: its first node, its unsorted mark and its number of events in one word (see
    /// [`HEAD_BITS`]), so that a push or pop touches one cache line of this table.
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
    /// Scratch for sorting a slot as it becomes the front: each event's sequence, and its time
    /// within the slot above its node (see [`Wheel::sort_slot`]). Kept between sorts, like
    /// [`Wheel::sort_keys`], so that neither allocates once grown to the largest slot.
    sort_scratch: Vec<(u64, u64)>,
    /// Scratch for sorting a slot: each event's sort key (see [`Wheel::sort_slot`]).
    sort_keys: Vec<u64>,
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
            sort_scratch: Vec::with_capacity(MAX_SLOT_EVENTS as usize),
            sort_keys: Vec::with_capacity(MAX_SLOT_EVENTS as usize),
        }
    }
}

/// The slot (index into [`Wheel::slots`]) of an event at `time` nanoseconds.
#[inline(always)]
fn slot_of(time: u64) -> usize {
    (time / SLOT_NANOS) as usize % SLOTS
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

    /// Holds `scheduled` if its slot is within the window and has room; gives it back otherwise.
    #[inline(always)]
    pub fn insert(&mut self, scheduled: Scheduled<E>) -> Result<(), Scheduled<E>> {
        let absolute_slot = scheduled.time / SLOT_NANOS;
        // Wrapping: a slot behind the cursor is refused too.
        if absolute_slot.wrapping_sub(self.cursor) >= SLOTS as u64 {
            return Err(scheduled);
        }
        let slot = absolute_slot as usize % SLOTS;
        let entry = self.slots[slot];
        let count = entry >> COUNT_SHIFT;
        if count >= MAX_SLOT_EVENTS || (self.free == NIL && self.nodes.len() >= MAX_NODES) {
            return Err(scheduled);
        }
        let order = scheduled.order();
        if count == 0 {
            // Alone in its slot, hence sorted (whatever stale bits the empty entry had).
            let node = self.allocate(scheduled, NIL);
            self.slots[slot] = ONE_EVENT | node;
            self.occupied[slot / 64] |= 1 << (slot % 64);
            self.occupied_words |= 1 << (slot / 64);
            self.front = self.front.min(order);
        } else if slot == slot_of((self.front >> 64) as u64) {
            // The front slot (the wheel is not empty, so the front is an event's): keep it
            // sorted. Walk past the events that come first (equal times: the new one has the
            // larger sequence, so it goes after them), at most `MAX_FRONT_WALK` of them.
            let mut previous = NIL;
            let mut current = entry & HEAD_MASK;
            let mut steps = 0;
            while current != NIL && self.nodes[current as usize].scheduled.order() < order {
                if steps == MAX_FRONT_WALK {
                    return Err(scheduled);
                }
                steps += 1;
                previous = current;
                current = self.nodes[current as usize].next;
            }
            let node = self.allocate(scheduled, current);
            let head = if previous == NIL {
                node
            } else {
                self.nodes[previous as usize].next = node;
                entry & HEAD_MASK
            };
            self.slots[slot] = ((entry & !HEAD_MASK) + ONE_EVENT) | head;
            self.front = self.front.min(order);
        } else {
            // An occupied slot after the front slot (the slots before it are empty): the event
            // is later than the front. Prepend it; the slot is sorted when it becomes the front.
            let node = self.allocate(scheduled, entry & HEAD_MASK);
            self.slots[slot] = ((entry & !HEAD_MASK) + ONE_EVENT) | UNSORTED_BIT | node;
        }
        self.len += 1;
        Ok(())
    }

    /// The earliest event held. The wheel must not be empty.
    #[inline(always)]
    pub fn front_event(&self) -> &E {
        debug_assert!(self.len > 0, "peek into an empty wheel");
        let slot = slot_of((self.front >> 64) as u64);
        let head = self.slots[slot] & HEAD_MASK;
        &self.nodes[head as usize].scheduled.event
    }

    /// Removes and returns the earliest event. The wheel must not be empty.
    #[inline(always)]
    pub fn pop_front(&mut self) -> Scheduled<E> {
        debug_assert!(self.len > 0, "pop from an empty wheel");
        let slot = slot_of((self.front >> 64) as u64);
        let entry = self.slots[slot];
        debug_assert_eq!(entry & UNSORTED_BIT, 0, "the front slot is sorted");
        let head = entry & HEAD_MASK;
        let Node { scheduled, next } = self.nodes[head as usize];
        // One event fewer; the next node (if any) becomes the head.
        self.slots[slot] = (entry - ONE_EVENT) & !HEAD_MASK | (next & HEAD_MASK);
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
                    if self.slots[next_slot] & UNSORTED_BIT != 0 {
                        self.sort_slot(next_slot);
                    }
                    let first = self.slots[next_slot] & HEAD_MASK;
                    self.nodes[first as usize].scheduled.order()
                }
                None => u128::MAX,
            }
        };
        scheduled
    }

    /// Puts the list of `slot` (occupied, marked unsorted) in (time, sequence) order and clears
    /// its mark: its nodes gathered into the scratch buffer, sorted, relinked.
    ///
    /// Sorted as one `u64` per node when the slot's sequences span less than
    /// 2^[`SEQUENCE_SPAN_BITS`] (always, unless some 268 million events were pushed while the
    /// slot filled): the time within the slot (12 bits), then the sequence less the slot's
    /// smallest, then the node (24 bits) to relink by. That orders exactly as (time, sequence)
    /// does, and a sort of plain integers takes a third of the instructions of one of
    /// (`u128`, node) pairs.
    #[inline(never)]
    fn sort_slot(&mut self, slot: usize) {
        let entry = self.slots[slot];
        if entry >> COUNT_SHIFT <= MAX_LIST_SORT {
            self.sort_short_slot(slot);
            return;
        }
        let scratch = &mut self.sort_scratch;
        scratch.clear();
        let mut lowest_sequence = u64::MAX;
        let mut highest_sequence = 0;
        let mut current = entry & HEAD_MASK;
        while current != NIL {
            let node = &self.nodes[current as usize];
            let sequence = node.scheduled.sequence;
            lowest_sequence = lowest_sequence.min(sequence);
            highest_sequence = highest_sequence.max(sequence);
            let offset = node.scheduled.time % SLOT_NANOS;
            scratch.push((sequence, offset << HEAD_BITS | u64::from(current)));
            current = node.next;
        }
        debug_assert_eq!(scratch.len() as u32, entry >> COUNT_SHIFT);
        let mut next = NIL;
        if highest_sequence - lowest_sequence < 1 << SEQUENCE_SPAN_BITS {
            let keys = &mut self.sort_keys;
            keys.clear();
            keys.extend(scratch.iter().map(|&(sequence, offset_and_node)| {
                let offset = offset_and_node >> HEAD_BITS;
                let node = offset_and_node & u64::from(HEAD_MASK);
                offset << (SEQUENCE_SPAN_BITS + HEAD_BITS)
                    | (sequence - lowest_sequence) << HEAD_BITS
                    | node
            }));
            keys.sort_unstable();
            for &key in keys.iter().rev() {
                let node = (key & u64::from(HEAD_MASK)) as u32;
                self.nodes[node as usize].next = next;
                next = node;
            }
        } else {
            // (time within the slot, sequence): unique, as sequences are.
            scratch.sort_unstable_by_key(|&(sequence, offset_and_node)| {
                (offset_and_node >> HEAD_BITS, sequence)
            });
            for &(_, offset_and_node) in scratch.iter().rev() {
                let node = (offset_and_node & u64::from(HEAD_MASK)) as u32;
                self.nodes[node as usize].next = next;
                next = node;
            }
        }
        self.slots[slot] = entry & !(HEAD_MASK | UNSORTED_BIT) | next;
    }

    /// [`Wheel::sort_slot`] for a slot of at most [`MAX_LIST_SORT`] events: an insertion sort
    /// of its list in place, no scratch. Nodes are taken from the head, the latest pushed: when
    /// events were pushed in time order (the usual case) each goes to the front of the sorted
    /// list after one comparison.
    fn sort_short_slot(&mut self, slot: usize) {
        let entry = self.slots[slot];
        let mut sorted = NIL;
        let mut current = entry & HEAD_MASK;
        while current != NIL {
            let next = self.nodes[current as usize].next;
            let order = self.nodes[current as usize].scheduled.order();
            if sorted == NIL || order < self.nodes[sorted as usize].scheduled.order() {
                self.nodes[current as usize].next = sorted;
                sorted = current;
            } else {
                let mut previous = sorted;
                loop {
                    let following = self.nodes[previous as usize].next;
                    if following == NIL || order < self.nodes[following as usize].scheduled.order()
                    {
                        break;
                    }
                    previous = following;
                }
                self.nodes[current as usize].next = self.nodes[previous as usize].next;
                self.nodes[previous as usize].next = current;
            }
            current = next;
        }
        self.slots[slot] = entry & !(HEAD_MASK | UNSORTED_BIT) | sorted;
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

    /// A node holding `scheduled` and linked to `next`, from the free list or a new one.
    #[inline(always)]
    fn allocate(&mut self, scheduled: Scheduled<E>, next: u32) -> u32 {
        if self.free != NIL {
            let node = self.free;
            self.free = self.nodes[node as usize].next;
            self.nodes[node as usize] = Node { scheduled, next };
            node
        } else {
            self.nodes.push(Node { scheduled, next });
            (self.nodes.len() - 1) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<E: Copy> Wheel<E> {
        /// Checks the wheel's invariants: every slot's count, head and occupied bit agree with
        /// its list; the front is the earliest order held, in the front slot's head; the front
        /// slot is sorted and not marked; every slot from the cursor's to the front slot is
        /// empty; every event lies in the window.
        fn check_invariants(&self) {
            let mut earliest = u128::MAX;
            let mut total = 0;
            for slot in 0..SLOTS {
                let entry = self.slots[slot];
                let count = (entry >> COUNT_SHIFT) as usize;
                let occupied = self.occupied[slot / 64] & (1 << (slot % 64)) != 0;
                assert_eq!(occupied, count > 0, "slot {slot}'s occupied bit");
                if count == 0 {
                    continue;
                }
                assert_ne!(self.occupied_words & (1 << (slot / 64)), 0);
                let mut orders = Vec::new();
                let mut current = entry & HEAD_MASK;
                while current != NIL {
                    let node = &self.nodes[current as usize];
                    assert_eq!(slot_of(node.scheduled.time), slot, "a node in its slot");
                    let ahead = node.scheduled.time / SLOT_NANOS - self.cursor;
                    assert!(ahead < SLOTS as u64, "within the window");
                    orders.push(node.scheduled.order());
                    current = node.next;
                }
                assert_eq!(orders.len(), count, "slot {slot}'s count");
                if entry & UNSORTED_BIT == 0 {
                    assert!(orders.is_sorted(), "slot {slot} is sorted when not marked");
                }
                earliest = earliest.min(*orders.iter().min().unwrap());
                total += count;
            }
            assert_eq!(total, self.len);
            assert_eq!(self.front, earliest);
            if total > 0 {
                let front_slot = slot_of((self.front >> 64) as u64);
                let entry = self.slots[front_slot];
                assert_eq!(entry & UNSORTED_BIT, 0, "the front slot is not marked");
                let head = &self.nodes[(entry & HEAD_MASK) as usize];
                assert_eq!(head.scheduled.order(), self.front);
                let mut slot = self.cursor as usize % SLOTS;
                while slot != front_slot {
                    assert_eq!(self.slots[slot] >> COUNT_SHIFT, 0, "slot {slot} is empty");
                    slot = (slot + 1) % SLOTS;
                }
            }
        }
    }

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
        // Slot 1 is not the front slot (an event in slot 0 is): it takes events in any order,
        // unsorted, up to the cap, then refuses; they pop sorted all the same.
        let mut wheel = Wheel::default();
        wheel.insert(scheduled(0, 0)).unwrap();
        let cap = u64::from(MAX_SLOT_EVENTS);
        for sequence in 1..=cap {
            // Decreasing times, so that a prepending list is in reverse order.
            let time = 2 * SLOT_NANOS - sequence;
            assert!(wheel.insert(scheduled(time, sequence)).is_ok());
        }
        assert_ne!(
            wheel.slots[1] & UNSORTED_BIT,
            0,
            "slot 1 is marked unsorted"
        );
        wheel.check_invariants();
        assert!(
            wheel.insert(scheduled(SLOT_NANOS, 999)).is_err(),
            "the slot is full"
        );
        assert!(
            wheel.insert(scheduled(2 * SLOT_NANOS, 1000)).is_ok(),
            "the next slot is not"
        );
        assert_eq!(wheel.pop_front().time, 0);
        assert_eq!(
            wheel.slots[1] & UNSORTED_BIT,
            0,
            "sorted as it became the front"
        );
        wheel.check_invariants();
        let popped: Vec<u64> = (0..cap).map(|_| wheel.pop_front().time).collect();
        let expected: Vec<u64> = (1..=cap).rev().map(|s| 2 * SLOT_NANOS - s).collect();
        assert_eq!(popped, expected);
        assert_eq!(wheel.pop_front().sequence, 1000);
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn a_push_into_the_front_slot_walks_at_most_the_bound() {
        // The front slot is kept sorted by walking it: an event that belongs after more than
        // `MAX_FRONT_WALK` events goes back to the caller (the heap); one that belongs earlier
        // is taken, even with the slot long.
        let mut wheel = Wheel::default();
        let walk = u64::from(MAX_FRONT_WALK);
        for sequence in 0..walk + 2 {
            let time = 10 * (sequence + 1);
            let result = wheel.insert(scheduled(time, sequence));
            assert_eq!(result.is_ok(), sequence <= walk, "event {sequence}");
        }
        assert_eq!(wheel.len() as u64, walk + 1);
        assert!(
            wheel.insert(scheduled(10 * walk + 5, 50)).is_ok(),
            "walks 8"
        );
        assert!(wheel.insert(scheduled(5, 51)).is_ok(), "walks none");
        assert!(
            wheel.insert(scheduled(10 * (walk + 1), 52)).is_err(),
            "walks 9"
        );
        wheel.check_invariants();
        assert_eq!(wheel.pop_front().sequence, 51);
        assert_eq!(wheel.pop_front().sequence, 0);
    }

    #[test]
    fn an_event_before_the_front_makes_its_empty_slot_the_front() {
        let mut wheel = Wheel::default();
        wheel.insert(scheduled(5 * SLOT_NANOS, 0)).unwrap();
        wheel.insert(scheduled(5 * SLOT_NANOS + 1, 1)).unwrap();
        wheel.insert(scheduled(7 * SLOT_NANOS + 1, 2)).unwrap();
        wheel.insert(scheduled(7 * SLOT_NANOS, 3)).unwrap();
        wheel.insert(scheduled(3 * SLOT_NANOS + 9, 4)).unwrap();
        assert_eq!(wheel.front() >> 64, u128::from(3 * SLOT_NANOS + 9));
        wheel.check_invariants();
        // Slot 5, the front slot when its second event came, is sorted; slot 7 is not.
        assert_eq!(wheel.slots[5] & UNSORTED_BIT, 0);
        assert_ne!(wheel.slots[7] & UNSORTED_BIT, 0);
        let order: Vec<u64> = (0..5).map(|_| wheel.pop_front().sequence).collect();
        assert_eq!(order, [4, 0, 1, 3, 2]);
    }

    #[test]
    fn random_crowded_pushes_keep_the_invariants_and_pop_sorted() {
        // Bursts of events crowded into a few slots ahead of the cursor (and some in the
        // front slot, some before it, some beyond the window), popped a few at a time across
        // many turns of the wheel; after every operation the invariants hold, and the pops
        // match a sorted reference of what the wheel took.
        let mut wheel = Wheel::default();
        let mut taken = std::collections::BTreeSet::new();
        let mut state = 77u64;
        let mut now = 0u64;
        let mut sequence = 0u64;
        let mut sorts = 0;
        for _ in 0..3_000 {
            for _ in 0..40 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let delay = match (state >> 33) % 6 {
                    0 => 0,
                    1 => (state >> 40) % 64, // ties and near-ties in the cursor's slot
                    2 => (state >> 40) % (4 * SLOT_NANOS), // crowding the next few slots
                    3 => (state >> 40) % (SLOTS as u64 * SLOT_NANOS), // anywhere in the window
                    4 => SLOTS as u64 * SLOT_NANOS - (state >> 40) % 8, // the window's edge
                    _ => SLOTS as u64 * SLOT_NANOS + (state >> 40) % 1000, // beyond it
                };
                let event = scheduled(now + delay, sequence);
                if wheel.insert(event).is_ok() {
                    taken.insert((event.time, sequence));
                }
                sequence += 1;
            }
            wheel.check_invariants();
            for _ in 0..((state >> 50) % 50) {
                if wheel.len() == 0 {
                    break;
                }
                let unsorted_before = wheel.slots.iter().filter(|&&e| e & UNSORTED_BIT != 0);
                let unsorted_before = unsorted_before.count();
                let popped = wheel.pop_front();
                let unsorted_after = wheel.slots.iter().filter(|&&e| e & UNSORTED_BIT != 0);
                sorts += unsorted_before - unsorted_after.count();
                assert_eq!(Some((popped.time, popped.sequence)), taken.pop_first());
                now = popped.time;
                wheel.advance_to(now);
                wheel.check_invariants();
            }
        }
        assert!(
            sorts > 1_000,
            "slots were sorted as they became the front: {sorts}"
        );
        assert!(
            now > 5 * SLOTS as u64 * SLOT_NANOS,
            "several turns of the wheel"
        );
        while wheel.len() > 0 {
            let popped = wheel.pop_front();
            assert_eq!(Some((popped.time, popped.sequence)), taken.pop_first());
        }
        assert!(taken.is_empty());
    }

    #[test]
    fn sorting_a_slot_allocates_nothing_once_the_scratch_has_grown() {
        let mut wheel = Wheel::default();
        let capacity = wheel.sort_scratch.capacity();
        let key_capacity = wheel.sort_keys.capacity();
        assert!(capacity >= MAX_SLOT_EVENTS as usize);
        assert!(key_capacity >= MAX_SLOT_EVENTS as usize);
        for round in 0..10u64 {
            let base = round * 4 * SLOT_NANOS;
            wheel.advance_to(base);
            wheel.insert(scheduled(base, round * 100)).unwrap();
            for offset in 1..u64::from(MAX_SLOT_EVENTS) {
                let time = base + 2 * SLOT_NANOS - offset;
                wheel.insert(scheduled(time, round * 100 + offset)).unwrap();
            }
            while wheel.len() > 0 {
                let popped = wheel.pop_front();
                wheel.advance_to(popped.time);
            }
        }
        assert_eq!(wheel.sort_scratch.capacity(), capacity, "no reallocation");
        assert_eq!(wheel.sort_keys.capacity(), key_capacity, "no reallocation");
    }

    #[test]
    fn slots_sort_by_time_then_sequence_whatever_the_span_of_their_sequences() {
        // A slot's sort packs each sequence, less the slot's smallest, into 28 bits of a key;
        // spans that do not fit take the (time, sequence) sort instead. Both, at the boundary:
        // ties on time broken by sequence, times out of sequence order, pushed in an order that
        // neither sorts.
        let limit = 1u64 << SEQUENCE_SPAN_BITS;
        for span in [1, 40, limit - 1, limit, limit + 1, u64::MAX - 1000] {
            let base = if span > u64::MAX / 2 { 500 } else { 1_000_000 };
            let mut wheel = Wheel::default();
            wheel.insert(scheduled(0, base)).unwrap(); // slot 0: the front
                                                       // More events than `MAX_LIST_SORT`, so that the slot is sorted by its keys.
            let sequences = [
                base + span,
                base + 1,
                base + span / 2,
                base + 2,
                base + span - 1,
                base + 3,
                base + span / 3,
                base + 4,
                base + span - 2,
                base + 5,
                base + span / 4,
                base + 6,
            ];
            let times = [7, 7, 3, SLOT_NANOS - 1, 3, 7, 0, 0, SLOT_NANOS - 1, 5, 7, 3];
            assert!(sequences.len() > MAX_LIST_SORT as usize);
            for (&sequence, &time) in sequences.iter().zip(&times) {
                wheel
                    .insert(scheduled(SLOT_NANOS + time, sequence))
                    .unwrap();
            }
            assert_ne!(wheel.slots[1] & UNSORTED_BIT, 0);
            assert_eq!(wheel.pop_front().sequence, base);
            let popped: Vec<(u64, u64)> = (0..sequences.len())
                .map(|_| wheel.pop_front())
                .map(|event| (event.time - SLOT_NANOS, event.sequence))
                .collect();
            let mut expected: Vec<(u64, u64)> = times.into_iter().zip(sequences).collect();
            expected.sort_unstable();
            assert_eq!(popped, expected, "span {span}");
        }
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
