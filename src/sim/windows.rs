//! Per-window rows for `timeseries.csv`, emitted as simulated time passes them.

use super::{Recorder, Simulation, WindowRow};

impl<R: Recorder> Simulation<'_, R> {
    /// Emits every window that ends at or before `now`; with `flush_partial`, also the window
    /// under way (at the end of the run).
    pub(super) fn advance_windows(&mut self, now: u64, flush_partial: bool) {
        let width = self.model.window;
        while self.window_start + width <= now || (flush_partial && self.window_start < now) {
            let end = self.window_start + width;
            for (service, spec) in self.model.services.iter().enumerate() {
                let (mut in_flight, mut busy, mut queued) = (0u64, 0u64, 0u64);
                let first = self.first_replica[service] as usize;
                for replica in &self.replicas[first..first + spec.replicas] {
                    in_flight += replica.jobs.len() as u64;
                    busy += u64::from(replica.busy_workers);
                    queued += replica.queue.len() as u64;
                }
                let row = WindowRow {
                    start: self.window_start,
                    end,
                    service: &spec.name,
                    counters: &self.windows[service],
                    in_flight,
                    busy_workers: busy,
                    queue_length: queued,
                };
                self.recorder.window(&row);
                self.windows[service].reset();
            }
            self.window_start = end;
        }
    }
}
