//! The pending-event set: a timing wheel for the near future, a 4-ary heap for the rest, and
//! FIFO lanes, totally ordered by (time, sequence) whichever of them holds an event.
//!
//! Most events fall due within a few milliseconds (service completions, arrivals): the wheel
//! (`super::wheel`) takes those at O(1) per push and pop. Replacing the heap by the wheel for
//! them made the tier chain's simulation loop about 6% faster: the heap's pop, with its
//! unpredictable comparisons, had been the largest single cost of the loop.
//!
//! The heap holds what lies beyond the wheel's window (periodic timers, long delays). (A 4-ary
//! heap is shallower than a binary one; the heap is our own rather than a crate's so that
//! (time, sequence) compares as one 128-bit number and the smallest of four children is selected
//! without branches.)
//!
//! Many events are scheduled a fixed delay after "now" (every hop over a constant-latency link).
//! Such events arrive already in time order, so a FIFO lane holds them at O(1) per event with no
//! search at all. An event pushed into a lane out of time order goes to the wheel or the heap, so
//! lanes are an optimisation, never a semantic.
//!
//! Pushing is always inlined: an event built field by field in the caller and then copied whole
//! by a called function stalled on store forwarding (measured: 2-5% of a tier-chain loop).

use super::scheduled::Scheduled;
use super::wheel::Wheel;

/// Identifies a FIFO lane of an [`EventQueue`], created by [`EventQueue::add_lane`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane(usize);

/// A FIFO lane's events: a ring whose capacity is a power of two (an index wraps with a mask,
/// not a comparison), which keeps the time of its last event beside its ends (a push compares
/// with it without reading the last event back).
#[derive(Debug)]
struct Fifo<E> {
    /// The ring; empty until the first push, then full of copies (its length is the capacity).
    ring: Vec<Scheduled<E>>,
    /// Index of the first event.
    head: usize,
    /// Number of events held.
    len: usize,
    /// Time of the last event pushed, nanoseconds (meaningless while empty).
    back_time: u64,
}

impl<E: Copy> Fifo<E> {
    fn new() -> Self {
        Fifo {
            ring: Vec::new(),
            head: 0,
            len: 0,
            back_time: 0,
        }
    }

    #[inline(always)]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.ring.len().wrapping_sub(1)
    }

    #[inline(always)]
    fn push_back(&mut self, item: Scheduled<E>) {
        if self.len == self.ring.len() {
            self.grow(item);
        }
        let at = (self.head + self.len) & self.mask();
        self.ring[at] = item;
        self.len += 1;
        self.back_time = item.time;
    }

    /// Doubles the ring (at least [`FIFO_CAPACITY`]), its events moved to the front in order.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, filler: Scheduled<E>) {
        let capacity = (2 * self.ring.len()).max(FIFO_CAPACITY);
        let mut ring = vec![filler; capacity];
        for (offset, item) in ring.iter_mut().take(self.len).enumerate() {
            *item = self.ring[(self.head + offset) & self.mask()];
        }
        self.ring = ring;
        self.head = 0;
    }

    #[inline(always)]
    fn pop_front(&mut self) -> Option<Scheduled<E>> {
        if self.len == 0 {
            return None;
        }
        let first = self.ring[self.head];
        self.head = (self.head + 1) & self.mask();
        self.len -= 1;
        Some(first)
    }

    #[inline(always)]
    fn front(&self) -> Option<&Scheduled<E>> {
        (self.len > 0).then(|| &self.ring[self.head])
    }
}

/// A lane's first capacity (a power of two, as every capacity of its ring).
const FIFO_CAPACITY: usize = 1024;

/// Children per node of the heap.
const ARITY: usize = 4;

/// A min-heap of scheduled events by (time, sequence), four children per node.
#[derive(Debug)]
struct Heap<E> {
    items: Vec<Scheduled<E>>,
}

impl<E: Copy> Heap<E> {
    fn with_capacity(capacity: usize) -> Self {
        Heap {
            items: Vec::with_capacity(capacity),
        }
    }

    #[inline]
    fn first_order(&self) -> Option<u128> {
        self.items.first().map(Scheduled::order)
    }

    #[inline]
    fn push(&mut self, item: Scheduled<E>) {
        self.items.push(item);
        self.sift_up(self.items.len() - 1, item);
    }

    /// Moves `item`, which belongs at `hole`, up past its larger ancestors.
    #[inline]
    fn sift_up(&mut self, mut hole: usize, item: Scheduled<E>) {
        let order = item.order();
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.items[parent].order() <= order {
                break;
            }
            self.items[hole] = self.items[parent];
            hole = parent;
        }
        self.items[hole] = item;
    }

    /// Removes the smallest item. The last item fills the root's hole: the hole goes down to a
    /// leaf along the smallest children, then the item goes up from there (the last item is
    /// usually among the largest, so this takes fewer comparisons than stopping on the way down).
    #[inline]
    fn pop(&mut self) -> Option<Scheduled<E>> {
        let last = self.items.pop()?;
        let Some(&top) = self.items.first() else {
            return Some(last);
        };
        let len = self.items.len();
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            if first + ARITY <= len {
                let child = self.smallest_of_four(first);
                self.items[hole] = self.items[child];
                hole = child;
            } else {
                if first < len {
                    let mut child = first;
                    for other in first + 1..len {
                        if self.items[other].order() < self.items[child].order() {
                            child = other;
                        }
                    }
                    self.items[hole] = self.items[child];
                    hole = child;
                }
                break;
            }
        }
        self.sift_up(hole, last);
        Some(top)
    }

    /// Index of the smallest of the four items from `first` (selected without branches).
    #[inline(always)]
    fn smallest_of_four(&self, first: usize) -> usize {
        let children = &self.items[first..first + ARITY];
        let (a, b) = (children[0].order(), children[1].order());
        let (c, d) = (children[2].order(), children[3].order());
        let (low_ab, index_ab) = if b < a { (b, 1) } else { (a, 0) };
        let (low_cd, index_cd) = if d < c { (d, 3) } else { (c, 2) };
        first + if low_cd < low_ab { index_cd } else { index_ab }
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Where the earliest pending event is.
#[derive(Clone, Copy)]
enum Source {
    Wheel,
    Heap,
    Lane(usize),
}

/// Pending events, popped in (time, sequence) order whatever structure holds them.
#[derive(Debug)]
pub struct EventQueue<E> {
    /// Events of the next few milliseconds (see `super::wheel`).
    wheel: Wheel<E>,
    /// Events beyond the wheel's window.
    heap: Heap<E>,
    /// Order of the heap's first event (`u128::MAX`: the heap is empty), kept beside it so that
    /// a pop compares a plain number (the heap is rarely used: its first item is not read).
    heap_front: u128,
    lanes: Vec<Fifo<E>>,
    /// Order of each lane's first event (`u128::MAX`: the lane is empty), kept beside the lanes
    /// so that a pop compares plain numbers.
    lane_fronts: Vec<u128>,
    next_sequence: u64,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue without lanes.
    pub fn new() -> Self {
        EventQueue {
            wheel: Wheel::default(),
            heap: Heap::with_capacity(1024),
            heap_front: u128::MAX,
            lanes: Vec::new(),
            lane_fronts: Vec::new(),
            next_sequence: 0,
        }
    }

    /// Adds a FIFO lane for events that are usually pushed in time order.
    pub fn add_lane(&mut self) -> Lane {
        self.lanes.push(Fifo::new());
        self.lane_fronts.push(u128::MAX);
        Lane(self.lanes.len() - 1)
    }

    /// Schedules `event` at `time` (nanoseconds).
    #[inline(always)]
    pub fn push(&mut self, time: u64, event: E) {
        let scheduled = self.stamp(time, event);
        self.push_scheduled(scheduled);
    }

    /// Puts `scheduled` in the wheel if it is near enough, else in the heap.
    #[inline(always)]
    fn push_scheduled(&mut self, scheduled: Scheduled<E>) {
        if let Err(far) = self.wheel.insert(scheduled) {
            self.push_far(far);
        }
    }

    /// Puts an event beyond the wheel's window in the heap (out of line: the rare path).
    #[inline(never)]
    fn push_far(&mut self, scheduled: Scheduled<E>) {
        self.heap.push(scheduled);
        self.heap_front = self.heap_front.min(scheduled.order());
    }

    /// Schedules `event` at `time` in `lane` if that keeps the lane in time order, else as
    /// [`EventQueue::push`] does.
    #[inline(always)]
    pub fn push_in_lane(&mut self, lane: Lane, time: u64, event: E) {
        let scheduled = self.stamp(time, event);
        let fifo = &mut self.lanes[lane.0];
        if fifo.is_empty() {
            self.lane_fronts[lane.0] = scheduled.order();
            fifo.push_back(scheduled);
        } else if fifo.back_time <= time {
            fifo.push_back(scheduled);
        } else {
            self.push_scheduled(scheduled);
        }
    }

    #[inline(always)]
    fn stamp(&mut self, time: u64, event: E) -> Scheduled<E> {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        Scheduled {
            time,
            sequence,
            event,
        }
    }

    /// Removes and returns the earliest event (ties: the one scheduled first).
    /// (Always inlined: the event loop is its one hot caller, and the event then stays in
    /// registers instead of going back through memory.)
    #[inline(always)]
    pub fn pop(&mut self) -> Option<Scheduled<E>> {
        let first = self.pop_earliest()?;
        self.wheel.advance_to(first.time);
        Some(first)
    }

    /// Takes the earliest event of the wheel, the heap and the lanes.
    #[inline(always)]
    fn pop_earliest(&mut self) -> Option<Scheduled<E>> {
        let (source, best) = self.earliest_source();
        match source {
            Source::Lane(index) => {
                let fifo = &mut self.lanes[index];
                let first = fifo.pop_front();
                self.lane_fronts[index] = fifo.front().map_or(u128::MAX, Scheduled::order);
                first
            }
            Source::Heap => {
                let first = self.heap.pop();
                self.heap_front = self.heap.first_order().unwrap_or(u128::MAX);
                first
            }
            Source::Wheel if best != u128::MAX => Some(self.wheel.pop_front()),
            Source::Wheel => None,
        }
    }

    /// Which structure holds the earliest pending event, and its order: the smallest of the
    /// wheel's, the heap's and the lanes' first orders (`u128::MAX` with `Source::Wheel`: the
    /// queue is empty).
    #[inline(always)]
    fn earliest_source(&self) -> (Source, u128) {
        let mut source = Source::Wheel;
        let mut best = self.wheel.front();
        if self.heap_front < best {
            best = self.heap_front;
            source = Source::Heap;
        }
        for (index, &front) in self.lane_fronts.iter().enumerate() {
            if front < best {
                best = front;
                source = Source::Lane(index);
            }
        }
        (source, best)
    }

    /// The earliest pending event, without removing it (ties: the one scheduled first): what
    /// the next [`EventQueue::pop`] returns unless an earlier event is pushed before it. Cheap
    /// after a pop: the lines it reads (the wheel's next node, the heap's root, the lanes'
    /// fronts) are the ones that pop has just read.
    #[inline(always)]
    pub fn peek_next(&self) -> Option<&E> {
        let (source, best) = self.earliest_source();
        match source {
            Source::Lane(index) => self.lanes[index].front().map(|first| &first.event),
            Source::Heap => self.heap.items.first().map(|first| &first.event),
            Source::Wheel if best != u128::MAX => Some(self.wheel.front_event()),
            Source::Wheel => None,
        }
    }

    /// The time of the earliest event, nanoseconds.
    pub fn peek_time(&self) -> Option<u64> {
        let heap_time = self.heap.items.first().map(|s| s.time);
        self.lanes
            .iter()
            .filter_map(|fifo| fifo.front().map(|s| s.time))
            .chain(heap_time)
            .chain(self.wheel.front_time())
            .min()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.wheel.len() + self.heap.len() + self.lanes.iter().map(|fifo| fifo.len).sum::<usize>()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a 64-bit linear congruential generator (Knuth's MMIX constants): the tests'
    /// own pseudo-random times, independent of the engine's streams.
    fn next_state(state: u64) -> u64 {
        state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
    }

    #[test]
    fn pops_in_time_then_insertion_order_across_heap_and_lanes() {
        let mut queue = EventQueue::new();
        let lane = queue.add_lane();
        queue.push(5, "heap-5a");
        queue.push_in_lane(lane, 5, "lane-5b");
        queue.push(1, "heap-1");
        queue.push_in_lane(lane, 7, "lane-7");
        queue.push_in_lane(lane, 6, "lane-6-falls-back-to-heap");
        queue.push(5, "heap-5c");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop().map(|s| s.event)).collect();
        assert_eq!(
            order,
            [
                "heap-1",
                "heap-5a",
                "lane-5b",
                "heap-5c",
                "lane-6-falls-back-to-heap",
                "lane-7"
            ]
        );
    }

    #[test]
    fn a_lane_ring_keeps_its_order_across_wraps_and_growth() {
        // Pushes and pops interleaved so that the ring's head goes round it several times, then
        // the ring grows while wrapped (twice), then it drains: first in, first out throughout.
        let mut fifo = Fifo::new();
        let item = |n: u64| Scheduled {
            time: n,
            sequence: n,
            event: n,
        };
        let mut next_in = 0u64;
        let mut next_out = 0u64;
        for _ in 0..3 * FIFO_CAPACITY {
            fifo.push_back(item(next_in));
            next_in += 1;
            if fifo.len > FIFO_CAPACITY / 2 {
                assert_eq!(fifo.pop_front().map(|s| s.event), Some(next_out));
                next_out += 1;
            }
        }
        assert_eq!(fifo.ring.len(), FIFO_CAPACITY, "no growth while half full");
        assert_ne!(fifo.head, 0, "the head has moved round");
        for _ in 0..3 * FIFO_CAPACITY {
            fifo.push_back(item(next_in));
            next_in += 1;
        }
        assert_eq!(fifo.ring.len(), 4 * FIFO_CAPACITY);
        assert_eq!(fifo.back_time, next_in - 1);
        while let Some(first) = fifo.pop_front() {
            assert_eq!(first.event, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(fifo.is_empty() && fifo.front().is_none());
    }

    #[test]
    fn peek_next_names_what_pop_returns() {
        // Pushes over the wheel, the heap (beyond the window, and a crowded slot) and a lane,
        // with ties: before every pop, the peeked event is the one popped, and peeking twice
        // changes nothing.
        let mut queue = EventQueue::new();
        let lane = queue.add_lane();
        assert_eq!(queue.peek_next(), None);
        let mut state = 4242u64;
        let mut now = 0u64;
        let mut popped = 0;
        for sequence in 0..50_000u64 {
            state = next_state(state);
            let delay = match (state >> 33) % 4 {
                0 => 0,
                1 => (state >> 40) % 4_096, // one slot: the front slot, crowded past its walk
                2 => (state >> 30) % 40_000_000, // either side of the window's edge
                _ => (state >> 40) % 1_000_000,
            };
            if (state >> 12).is_multiple_of(5) {
                queue.push_in_lane(lane, now + delay, sequence);
            } else {
                queue.push(now + delay, sequence);
            }
            if sequence % 3 != 0 {
                let peeked = queue.peek_next().copied();
                assert_eq!(queue.peek_next().copied(), peeked);
                let first = queue.pop().unwrap();
                assert_eq!(peeked, Some(first.event));
                now = first.time;
                popped += 1;
            }
        }
        while let Some(peeked) = queue.peek_next().copied() {
            assert_eq!(queue.pop().map(|first| first.event), Some(peeked));
            popped += 1;
        }
        assert_eq!(popped, 50_000);
        assert!(queue.is_empty());
    }

    #[test]
    fn random_pushes_pop_sorted() {
        // An independent check: sort the same (time, sequence) pairs and compare.
        let mut queue = EventQueue::new();
        let lanes = [queue.add_lane(), queue.add_lane()];
        let mut expected = Vec::new();
        let mut state = 12345u64;
        let mut now = 0u64;
        for sequence in 0..10_000u64 {
            state = next_state(state);
            let time = now + (state >> 40) % 1000;
            match (state >> 20) % 3 {
                0 => queue.push(time, sequence),
                lane => queue.push_in_lane(lanes[lane as usize - 1], time, sequence),
            }
            expected.push((time, sequence));
            if sequence % 3 == 0 {
                let popped = queue.pop().unwrap();
                now = popped.time;
                expected.sort();
                assert_eq!((popped.time, popped.event), expected.remove(0));
            }
        }
        expected.sort();
        for want in expected {
            let popped = queue.pop().unwrap();
            assert_eq!((popped.time, popped.event), want);
        }
        assert!(queue.is_empty());
    }

    #[test]
    fn delays_across_the_wheel_window_and_its_turns_pop_sorted() {
        // Delays from zero (ties) through the wheel's slots to well past its 16.8 ms window (the
        // heap), over many turns of the wheel; checked against a sort of the same pairs.
        let mut queue = EventQueue::new();
        let lane = queue.add_lane();
        let mut pending = std::collections::BTreeSet::new();
        let mut state = 987654321u64;
        let mut now = 0u64;
        for sequence in 0..200_000u64 {
            state = next_state(state);
            let delay = match (state >> 33) % 5 {
                0 => 0,
                1 => (state >> 40) % 5_000,      // within a slot or two
                2 => (state >> 30) % 17_000_000, // up to the window's edge
                3 => 16_000_000 + (state >> 30) % 2_000_000, // either side of the edge
                _ => (state >> 20) % 200_000_000, // mostly beyond the window
            };
            let time = now + delay;
            if (state >> 12).is_multiple_of(7) {
                queue.push_in_lane(lane, time, sequence);
            } else {
                queue.push(time, sequence);
            }
            pending.insert((time, sequence));
            while pending.len() > 64 || (sequence % 5 == 0 && !pending.is_empty()) {
                let popped = queue.pop().unwrap();
                let want = pending.pop_first().unwrap();
                assert_eq!((popped.time, popped.event), want);
                now = popped.time;
            }
        }
        while let Some(want) = pending.pop_first() {
            let popped = queue.pop().unwrap();
            assert_eq!((popped.time, popped.event), want);
        }
        assert!(queue.is_empty());
        assert_eq!(queue.peek_time(), None);
    }

    #[test]
    fn crowded_slots_pop_exactly_as_a_binary_heap_does() {
        // The wheel keeps crowded slots unsorted until they become its front: the queue must
        // pop exactly what a plain binary heap of (time, sequence) pops, and peek_next must name
        // it first. Bursts of pushes (as a request fanning out to thousands of calls) crowd a
        // few 4.096 µs slots far past their cap; others tie with now, land in the front slot,
        // before it, at the window's edge or beyond it, or go through a lane; pops come a few
        // at a time, over many turns of the 16.8 ms wheel.
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        const SLOT: u64 = 4_096;
        const WINDOW: u64 = 4_096 * SLOT;
        let mut queue = EventQueue::new();
        let lane = queue.add_lane();
        let mut reference = BinaryHeap::new();
        let mut state = 20_261_207_u64;
        let mut now = 0u64;
        let mut sequence = 0u64;
        let mut popped = 0u64;
        while sequence < 400_000 {
            state = next_state(state);
            let burst = 1 + (state >> 40) % 300;
            let crowded_slot = now / SLOT + 1 + (state >> 20) % 8;
            for _ in 0..burst {
                state = next_state(state);
                let random = state >> 24;
                let time = match (state >> 33) % 8 {
                    0 => now,                                              // ties with now
                    1 => now + random % 3,                                 // near-ties
                    2 | 3 => crowded_slot * SLOT + random % SLOT,          // one crowded slot
                    4 => (crowded_slot + random % 3) * SLOT + random % 50, // three, near-ties
                    5 => now + random % WINDOW,                            // anywhere in the window
                    6 => now + WINDOW - 2 + random % 4, // either side of its edge
                    _ => now + WINDOW + random % (4 * WINDOW), // beyond it
                };
                if random.is_multiple_of(11) {
                    queue.push_in_lane(lane, time, sequence);
                } else {
                    queue.push(time, sequence);
                }
                reference.push(Reverse((time, sequence)));
                sequence += 1;
            }
            state = next_state(state);
            for _ in 0..(state >> 40) % 400 {
                let Some(Reverse(want)) = reference.pop() else {
                    break;
                };
                assert_eq!(queue.peek_next().copied(), Some(want.1));
                let first = queue.pop().unwrap();
                assert_eq!((first.time, first.sequence), want);
                assert_eq!(first.event, want.1);
                now = first.time;
                popped += 1;
            }
        }
        while let Some(Reverse(want)) = reference.pop() {
            assert_eq!(queue.peek_next().copied(), Some(want.1));
            let first = queue.pop().unwrap();
            assert_eq!((first.time, first.sequence), want);
            popped += 1;
        }
        assert_eq!(popped, sequence);
        assert!(queue.is_empty() && queue.peek_next().is_none());
        assert!(now > 20 * WINDOW, "many turns of the wheel: {now}");
    }
}
