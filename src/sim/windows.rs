//! Per-window rows for `timeseries.csv`, emitted as simulated time passes them.

use super::{Recorder, ReplicaRow, Simulation, WindowRow, EDGE_ROW};

impl<R: Recorder> Simulation<'_, R> {
    /// Emits every window that ends at or before `now`; with `flush_partial`, also the window
    /// under way (at the end of the run).
    #[inline(never)] // rare: kept out of the event loop's hot code
    pub(super) fn advance_windows(&mut self, now: u64, flush_partial: bool) {
        // Every logged latency was recorded in the window under way (the first one emitted).
        self.measure.apply_latency_log();
        let width = self.model.window;
        while self.measure.window_start.saturating_add(width) <= now
            || (flush_partial && self.measure.window_start < now)
        {
            let end = self.measure.window_start.saturating_add(width);
            for (service, spec) in self.model.services.iter().enumerate() {
                let (mut in_flight, mut busy, mut queued, mut ready) = (0u64, 0u64, 0u64, 0u64);
                let first = self.first_replica[service] as usize;
                for replica in &mut self.replicas[first..first + spec.slots()] {
                    in_flight += replica.present();
                    ready += u64::from(replica.lifecycle == super::replica::Lifecycle::Running);
                    busy += u64::from(replica.busy_workers);
                    queued += replica.queue.len() as u64;
                    let row = ReplicaRow {
                        start: self.measure.window_start,
                        service: &spec.name,
                        replica: replica.index,
                        zone: &self.model.zones[replica.zone as usize],
                        arrivals: replica.window_arrivals,
                        busy_workers: replica.busy_workers,
                        in_flight: replica.present(),
                        queue_length: replica.queue.len() as u64,
                        health: replica.health.name(),
                    };
                    self.recorder.replica_window(&row);
                    replica.window_arrivals = 0;
                }
                let row = WindowRow {
                    start: self.measure.window_start,
                    end,
                    service: &spec.name,
                    counters: &self.measure.windows[service],
                    in_flight,
                    busy_workers: busy,
                    queue_length: queued,
                    ready_replicas: Some(ready),
                };
                self.recorder.window(&row);
                self.measure.windows[service].reset();
            }
            let edge = WindowRow {
                start: self.measure.window_start,
                end,
                service: EDGE_ROW,
                counters: &self.measure.edge_window,
                in_flight: self.measure.edge_in_flight,
                busy_workers: 0,
                queue_length: 0,
                ready_replicas: None,
            };
            self.recorder.window(&edge);
            self.measure.edge_window.reset();
            self.measure.window_start = end;
        }
        self.measure.window_end = self.measure.window_start.saturating_add(width);
    }
}
