//! A generic discrete-event core: integer-nanosecond time, a totally ordered pending-event set,
//! and seeded random streams. It knows nothing of services.

pub mod chacha;
pub mod queue;
pub mod rng;
mod scheduled;
pub mod time;
mod wheel;

pub use queue::{EventQueue, Lane};
pub use rng::{derive_key, RekeyableStream, StreamFactory, StreamKind};
pub use scheduled::Scheduled;

/// A simulated system driven by events of type `Self::Event`.
pub trait Process {
    /// The events this system reacts to (a small `Copy` enum: no allocation per event).
    type Event: Copy;

    /// Reacts to `event` at time `now` (nanoseconds), scheduling follow-ups on `queue`.
    fn handle(&mut self, now: u64, event: Self::Event, queue: &mut EventQueue<Self::Event>);

    /// Whether the run is over at time `now` (checked after every event).
    fn finished(&self, now: u64) -> bool;
}

/// Why [`run`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The process said it was finished.
    Finished,
    /// No event was left.
    Drained,
    /// The next event lay beyond the time bound.
    TimeBound,
}

/// Totals of one [`run`].
#[derive(Debug, Clone, Copy)]
pub struct RunStats {
    /// Events handled.
    pub events: u64,
    /// Simulated time of the last event handled, nanoseconds.
    pub end_time: u64,
    /// Why the run stopped.
    pub stop: Stop,
}

/// Pops and handles events in order until the process is finished, no event is left, or the
/// next event lies beyond `time_bound` (nanoseconds).
pub fn run<P: Process>(
    process: &mut P,
    queue: &mut EventQueue<P::Event>,
    time_bound: u64,
) -> RunStats {
    let mut events = 0u64;
    let mut now = 0u64;
    loop {
        let Some(next) = queue.pop() else {
            return RunStats {
                events,
                end_time: now,
                stop: Stop::Drained,
            };
        };
        if next.time > time_bound {
            return RunStats {
                events,
                end_time: now,
                stop: Stop::TimeBound,
            };
        }
        debug_assert!(next.time >= now, "time went backwards");
        now = next.time;
        process.handle(now, next.event, queue);
        events += 1;
        if process.finished(now) {
            return RunStats {
                events,
                end_time: now,
                stop: Stop::Finished,
            };
        }
    }
}
