//! Software prefetch for big topologies: the event loop knows the next event before it handles
//! the current one (`EventQueue::peek_next`), so the state both will read can start loading
//! while the current one is handled, instead of each handler stalling on one miss after
//! another.
//!
//! On a big mesh every event's state has been evicted since its service was last touched: the
//! job's or call's slot, then the replica, client or parent job that the slot names. Two
//! stages, one event apart:
//! - the **following** event's slot (a job's or a call's lines, a deadline queue), one event
//!   ahead: a whole handler's time to arrive;
//! - the lines the **current** event's slot names (its replica, its client, its parent job),
//!   read from the slot the previous stage brought in, all issued at once before the handler
//!   needs them one after another.
//!
//! A hint only: nothing here writes, and a stale slot (freed and reused since the event was
//! scheduled) only names a useless line. On a small topology everything stays in the caches and
//! the hints are pure cost (the tier chain was 7% slower with them), so they are on only from
//! [`PREFETCH_FROM_SERVICES`] services.

use super::event::Event;
use super::request::Parent;
use super::Simulation;
use crate::engine::prefetch::{prefetch_index, prefetch_two_lines};
use crate::sim::stats::Recorder;

/// Topologies of this many services or more prefetch (see the module's documentation).
pub(super) const PREFETCH_FROM_SERVICES: usize = 200;

/// Whether a model of `services` services prefetches.
pub(super) fn prefetches(services: usize) -> bool {
    forced().unwrap_or(services >= PREFETCH_FROM_SERVICES)
}

#[cfg(test)]
thread_local! {
    /// Tests only: prefetch on every topology, or on none (see [`force`]).
    static FORCED: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Tests only: simulations built on this thread prefetch (`Some(true)`), do not (`Some(false)`)
/// or follow the threshold (`None`), so that a test can compare runs with and without hints.
#[cfg(test)]
pub(super) fn force(prefetch: Option<bool>) {
    FORCED.with(|forced| forced.set(prefetch));
}

#[cfg(test)]
fn forced() -> Option<bool> {
    FORCED.with(std::cell::Cell::get)
}

#[cfg(not(test))]
#[inline(always)]
fn forced() -> Option<bool> {
    None
}

impl<R: Recorder> Simulation<'_, R> {
    /// Starts loading what handling `current`, then `following`, will read (see the module's
    /// documentation).
    #[inline(always)]
    pub(super) fn prefetch_for(&self, current: &Event, following: Option<&Event>) {
        if let Some(following) = following {
            self.prefetch_slot(following);
        }
        self.prefetch_named(current);
    }

    /// The slot an event names: a job's or a call's two lines, a deadline queue.
    #[inline(always)]
    fn prefetch_slot(&self, event: &Event) {
        match *event {
            Event::TryArrives { job, .. } | Event::ComputeDone { job, .. } => {
                prefetch_index(self.flight.jobs.slots(), job as usize);
            }
            Event::TryResponse { call, .. }
            | Event::RetryDue { call, .. }
            | Event::CallDeadline { call, .. } => {
                if let Some(slot) = self.flight.calls.slots().get(call as usize) {
                    prefetch_two_lines(slot);
                }
            }
            Event::DeadlineSweep { queue } => {
                prefetch_index(&self.flight.deadlines, queue as usize);
            }
            _ => {}
        }
    }

    /// The lines named by the slot of `current` (brought in by [`Self::prefetch_slot`] one
    /// event ago): a job's replica, a call's client and parent job.
    #[inline(always)]
    fn prefetch_named(&self, current: &Event) {
        match *current {
            Event::TryArrives { job, .. } | Event::ComputeDone { job, .. } => {
                if let Some(job) = self.flight.jobs.slots().get(job as usize) {
                    if let Some(replica) = self.replicas.get(job.replica as usize) {
                        prefetch_two_lines(replica);
                    }
                }
            }
            Event::TryResponse { call, .. } => {
                if let Some(call) = self.flight.calls.slots().get(call as usize) {
                    prefetch_index(&self.clients.balancers, call.client as usize);
                    if let Parent::Job { job, .. } = call.parent {
                        prefetch_index(self.flight.jobs.slots(), job as usize);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_leaves_the_small_models_alone() {
        // The tier chain (3 services) stays without hints (they made it 7% slower); mesh-1000
        // and the 10,000-service tree have them.
        assert!(!prefetches(3));
        assert!(prefetches(1_000) && prefetches(10_000));
    }
}
