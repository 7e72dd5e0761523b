//! Faults taking effect and ending.

use super::replica::Health;
use super::request::TRY_LANES;
use super::{Event, EventRecord, Recorder, Simulation, NONE};
use crate::engine::EventQueue;
use crate::model::{FaultKind, Outcome};

impl<R: Recorder> Simulation<'_, R> {
    #[cold]
    #[inline(never)]
    pub(super) fn on_fault_starts(
        &mut self,
        fault: usize,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let spec = &self.model.faults[fault];
        self.record_fault(now, "fault_start", fault);
        match spec.kind {
            FaultKind::Partition { .. } => {
                self.active_partitions.push(fault as u32);
                return;
            }
            FaultKind::RegistryOutage => {
                self.set_registry_outage(true, now);
                return;
            }
            _ => {}
        }
        for target in &spec.replicas {
            let slot = (self.first_replica[target.service] + target.index as u32) as usize;
            let replica = &mut self.replicas[slot];
            replica.faults_in_force.push(fault as u32);
            match &spec.kind {
                FaultKind::Crash => replica.crash_faults += 1,
                FaultKind::Hang => replica.hang_faults += 1,
                FaultKind::Slow { factor } => {
                    replica.slow_fault_factors.push(*factor);
                    replica.combine_slow_factors();
                }
                FaultKind::Errors { rate } => {
                    replica.error_fault_rates.push(*rate);
                    replica.combine_error_rates();
                }
                FaultKind::Latency { add } => replica.extra_latency += add,
                FaultKind::Partition { .. } | FaultKind::RegistryOutage => {}
            }
            self.apply_health(slot, now, queue);
        }
    }

    /// Brings the replica's health in line with its life cycle and the crash and hang faults in
    /// force: a replica that crashes loses what it holds (answered `refused`), a hung one
    /// swallows it (never answered), a stopped one drains it; the registry learns what it would.
    pub(super) fn apply_health(&mut self, slot: usize, now: u64, queue: &mut EventQueue<Event>) {
        let replica = &mut self.replicas[slot];
        let (before, after) = (replica.health, replica.health_from_faults());
        if before == after {
            return;
        }
        replica.health = after;
        if after != Health::Hung {
            replica.hung_accepted = 0; // what it swallowed is never answered
        }
        match after {
            Health::Crashed => self.drop_all_jobs(slot, Some(Outcome::Refused), now, queue),
            Health::Hung => self.drop_all_jobs(slot, None, now, queue),
            Health::Up | Health::Stopped => {}
        }
        self.on_membership_change(slot, before, now);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn on_fault_ends(&mut self, fault: usize, now: u64, queue: &mut EventQueue<Event>) {
        let spec = &self.model.faults[fault];
        self.record_fault(now, "fault_end", fault);
        match spec.kind {
            FaultKind::Partition { .. } => {
                self.active_partitions
                    .retain(|&active| active as usize != fault);
                return;
            }
            FaultKind::RegistryOutage => {
                self.set_registry_outage(false, now);
                return;
            }
            _ => {}
        }
        for target in &spec.replicas {
            let slot = (self.first_replica[target.service] + target.index as u32) as usize;
            let replica = &mut self.replicas[slot];
            if let Some(position) = replica
                .faults_in_force
                .iter()
                .position(|&f| f as usize == fault)
            {
                replica.faults_in_force.remove(position);
            }
            match &spec.kind {
                FaultKind::Crash => replica.crash_faults = replica.crash_faults.saturating_sub(1),
                FaultKind::Hang => replica.hang_faults = replica.hang_faults.saturating_sub(1),
                FaultKind::Slow { factor } => {
                    if let Some(position) =
                        replica.slow_fault_factors.iter().position(|f| f == factor)
                    {
                        replica.slow_fault_factors.remove(position);
                    }
                    replica.combine_slow_factors();
                }
                FaultKind::Errors { rate } => {
                    if let Some(position) = replica.error_fault_rates.iter().position(|r| r == rate)
                    {
                        replica.error_fault_rates.remove(position);
                    }
                    replica.combine_error_rates();
                }
                FaultKind::Latency { add } => {
                    replica.extra_latency = replica.extra_latency.saturating_sub(*add)
                }
                FaultKind::Partition { .. } | FaultKind::RegistryOutage => {}
            }
            self.apply_health(slot, now, queue);
        }
    }

    /// Every job the replica holds is lost; with `answer`, each caller is told so.
    pub(super) fn drop_all_jobs(
        &mut self,
        replica_slot: usize,
        answer: Option<Outcome>,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        // A real assertion (this path is rare: a crash, a hang, a killed replica): a model that
        // reaches it without keeping which jobs each replica holds would drop the wrong jobs.
        assert!(
            self.tracks_held_jobs,
            "which jobs a replica holds is not kept (see `tracks_held_jobs`)"
        );
        let measured = self.measure.measured;
        let mut jobs = std::mem::take(&mut self.scratch_jobs);
        self.replicas[replica_slot].take_jobs(&mut jobs);
        for &job in &jobs {
            if let Some(outcome) = answer {
                self.mark_lost_in_crash(job);
                self.respond(job, outcome, now, queue);
            }
            self.flight.jobs.remove(job);
        }
        self.scratch_jobs = jobs;
        let replica = &mut self.replicas[replica_slot];
        replica.queue.clear();
        let busy = replica.busy_workers as i32;
        replica.change_busy(now, -busy, measured);
    }

    /// Notes on the job's call that its try was lost in a crash (see
    /// [`crate::model::policy::RetryPolicy::retry_lost_in_crash`]).
    fn mark_lost_in_crash(&mut self, job: u32) {
        let job = self.flight.jobs.at(job);
        let (call, generation, lane) = (job.call, job.call_generation, job.try_number);
        if self.flight.calls.get(call, generation).is_some() {
            self.flight.calls.at_mut(call).lost_in_crash |= 1 << (lane as usize % TRY_LANES);
        }
    }

    /// Whether a partition in force separates the two zones.
    #[inline]
    pub(super) fn partitioned(&self, zone_a: u32, zone_b: u32) -> bool {
        !self.active_partitions.is_empty() && self.partition_separates(zone_a, zone_b)
    }

    pub(super) fn partition_separates(&self, zone_a: u32, zone_b: u32) -> bool {
        if zone_a == NONE || zone_a == zone_b {
            return false;
        }
        self.active_partitions
            .iter()
            .any(|&fault| self.partition_fault_separates(fault as usize, zone_a, zone_b))
    }

    /// Whether fault `fault` is a partition with the two zones on opposite sides.
    pub(super) fn partition_fault_separates(&self, fault: usize, zone_a: u32, zone_b: u32) -> bool {
        if zone_a == NONE || zone_a == zone_b {
            return false;
        }
        let (a, b) = (zone_a as usize, zone_b as usize);
        match &self.model.faults[fault].kind {
            FaultKind::Partition { side_a, side_b } => {
                (side_a.contains(&a) && side_b.contains(&b))
                    || (side_a.contains(&b) && side_b.contains(&a))
            }
            _ => false,
        }
    }

    fn record_fault(&mut self, now: u64, kind: &'static str, fault: usize) {
        let spec = &self.model.faults[fault];
        let detail = match &spec.kind {
            FaultKind::Slow { factor } => format!("slow factor={factor}"),
            FaultKind::Errors { rate } => format!("errors rate={rate}"),
            FaultKind::Latency { add } => format!("latency add={}ms", *add as f64 / 1e6),
            other => other.name().to_string(),
        };
        let record = EventRecord {
            time: now,
            kind,
            subject: spec.target_label.clone(),
            detail,
        };
        self.recorder.event(&record);
    }
}
