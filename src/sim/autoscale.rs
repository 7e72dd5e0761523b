//! The Horizontal Pod Autoscaler at work: every `sync` it reads the utilisation of a service's
//! ready replicas over the last period, asks [`crate::model::autoscale`] for a replica count,
//! and starts or stops replicas. A started replica is ready `startup` later; what happens then
//! depends on the registry (the oracle shows it at once; Eureka once it registers and the cache
//! and the clients' fetches have caught up; Consul after its first passing check).

use super::replica::{Health, Lifecycle};
use super::{Event, EventRecord, Recorder, Simulation};
use crate::engine::EventQueue;
use crate::model::autoscale::{recommend, ScaleInput, Stabilizer};

/// One autoscaled service's HPA state.
#[derive(Debug, Clone, Default)]
pub struct AutoscaleRuntime {
    /// Scale-down stabilisation history.
    stabilizer: Stabilizer,
    /// Time of the last sync, nanoseconds.
    last_sync: u64,
    /// Per replica index: lifetime busy worker-nanoseconds at the last sync.
    busy_at_last_sync: Vec<f64>,
    /// The desired count (the Deployment's `spec.replicas`): the last decision, or the first
    /// version's starting replicas. A rolling deployment of the service reads it.
    pub desired: u32,
    /// The replica indices new replicas are created in: the starting slots, then those of the
    /// last deployment of the service (its pod template).
    pub create_in: std::ops::Range<usize>,
}

impl AutoscaleRuntime {
    /// State for an autoscaled service.
    pub fn new(service: &crate::model::Service) -> Self {
        let first_version = service
            .versions
            .first()
            .map_or(service.replicas, |v| v.replicas);
        AutoscaleRuntime {
            stabilizer: Stabilizer::default(),
            last_sync: 0,
            busy_at_last_sync: vec![0.0; service.slots()],
            desired: first_version as u32,
            create_in: 0..service.slots() - service.deployment_slots,
        }
    }
}

impl<R: Recorder> Simulation<'_, R> {
    /// Schedules every autoscaled service's first sync.
    pub(super) fn prime_autoscale(&mut self, queue: &mut EventQueue<Event>) {
        for (service, spec) in self.model.services.iter().enumerate() {
            if let Some(policy) = &spec.autoscale {
                queue.push(
                    policy.sync,
                    Event::AutoscaleSync {
                        service: service as u32,
                    },
                );
            }
        }
    }

    /// One HPA sync of `service`.
    #[cold]
    #[inline(never)]
    pub(super) fn on_autoscale_sync(
        &mut self,
        service: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let service = service as usize;
        let spec = &self.model.services[service];
        let Some(policy) = spec.autoscale.as_ref() else {
            return;
        };
        let input = self.scale_input(service, now);
        let runtime = self.discovery.autoscalers[service]
            .as_mut()
            .expect("an autoscaled service has a runtime");
        let recommendation = recommend(policy, input);
        let desired = runtime
            .stabilizer
            .decide(policy, input.current, recommendation, now);
        runtime.desired = desired;
        if desired != input.current {
            let mean = if input.ready == 0 {
                0.0
            } else {
                input.ready_utilization_sum / f64::from(input.ready)
            };
            self.recorder.event(&EventRecord {
                time: now,
                kind: "scale_decision",
                subject: spec.name.clone(),
                detail: format!(
                    "{} -> {desired} (utilization {mean:.3}, target {})",
                    input.current, policy.target_utilization
                ),
            });
            if self.deployment_under_way(service) {
                // The HPA scales the Deployment; its rolling update creates and removes
                // replicas towards the new count.
                self.on_desired_count_change(service, now, queue);
            } else if desired > input.current {
                self.start_replicas(service, desired - input.current, now, queue);
            } else {
                self.stop_replicas(service, input.current - desired, now, queue);
            }
        }
        if now < self.model.duration {
            queue.push(
                now.saturating_add(policy.sync),
                Event::AutoscaleSync {
                    service: service as u32,
                },
            );
        }
    }

    /// The utilisation figures of `service`'s replicas since the last sync: those of its main
    /// Deployment, not terminating (Kubernetes' HPA ignores deleted pods). During a rolling
    /// deployment the current count is the desired one (the HPA reads `spec.replicas`, while
    /// the surge makes more replicas exist).
    fn scale_input(&mut self, service: usize, now: u64) -> ScaleInput {
        let rolling = self.deployment_under_way(service);
        let first = self.first_replica[service] as usize;
        let slots = self.model.services[service].slots();
        let measured = self.measure.measured;
        let runtime = self.discovery.autoscalers[service]
            .as_mut()
            .expect("runtime");
        let mut input = ScaleInput {
            current: 0,
            ready_utilization_sum: 0.0,
            ready: 0,
            unready: 0,
        };
        for index in 0..slots {
            let replica = &mut self.replicas[first + index];
            replica.integrate_busy(now, measured);
            let busy = replica.lifetime_busy_nanos - runtime.busy_at_last_sync[index];
            runtime.busy_at_last_sync[index] = replica.lifetime_busy_nanos;
            if !replica.autoscaled || replica.terminating {
                continue;
            }
            match replica.lifecycle {
                Lifecycle::Off => continue,
                Lifecycle::Starting => input.unready += 1,
                Lifecycle::Running if replica.health == Health::Crashed => input.unready += 1,
                Lifecycle::Running => {
                    let since = runtime.last_sync.max(replica.ready_since);
                    let span = now.saturating_sub(since) as f64 * f64::from(replica.workers);
                    if span > 0.0 {
                        input.ready += 1;
                        input.ready_utilization_sum += (busy / span).min(1.0);
                    } else {
                        input.unready += 1;
                    }
                }
            }
            input.current += 1;
        }
        runtime.last_sync = now;
        if rolling {
            input.current = runtime.desired;
        }
        input
    }

    /// Creates `count` replicas in the lowest free slots of the pod template in force; each is
    /// ready `startup` later.
    fn start_replicas(
        &mut self,
        service: usize,
        count: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let first = self.first_replica[service] as usize;
        let spec = &self.model.services[service];
        let startup = spec.autoscale.as_ref().map_or(0, |a| a.startup);
        let range = self.discovery.autoscalers[service]
            .as_ref()
            .map_or(0..0, |r| r.create_in.clone());
        let mut started = 0;
        for index in range {
            if started == count {
                break;
            }
            let replica = &mut self.replicas[first + index];
            if replica.lifecycle != Lifecycle::Off || !replica.autoscaled {
                continue;
            }
            replica.lifecycle = Lifecycle::Starting;
            replica.terminating = false;
            replica.starts += 1;
            let start = replica.starts;
            let version = replica.version as usize;
            started += 1;
            let detail = if spec.has_versions() {
                spec.versions[version].name.clone()
            } else {
                String::new()
            };
            self.record_replica_event(now, "replica_starting", first + index, detail);
            queue.push(
                now.saturating_add(startup),
                Event::ReplicaReady {
                    replica: (first + index) as u32,
                    start,
                },
            );
        }
    }

    /// Removes `count` of the autoscaler's replicas: those still starting first, then the
    /// newest (highest index).
    fn stop_replicas(
        &mut self,
        service: usize,
        count: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let first = self.first_replica[service] as usize;
        let slots = self.model.services[service].slots();
        let mut stopped = 0;
        for wanted in [Lifecycle::Starting, Lifecycle::Running] {
            for index in (0..slots).rev() {
                if stopped == count {
                    return;
                }
                let replica = &self.replicas[first + index];
                if replica.lifecycle != wanted || !replica.autoscaled || replica.terminating {
                    continue;
                }
                stopped += 1;
                let measured = self.measure.measured;
                let replica = &mut self.replicas[first + index];
                if replica.lifecycle == Lifecycle::Running {
                    replica.add_running_time(now, measured);
                }
                replica.lifecycle = Lifecycle::Off;
                self.record_replica_event(now, "replica_stopped", first + index, String::new());
                self.apply_health(first + index, now, queue);
            }
        }
    }

    /// A started replica becomes ready (unless it was stopped or restarted since).
    #[cold]
    #[inline(never)]
    pub(super) fn on_replica_ready(
        &mut self,
        slot: u32,
        start: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let replica = &mut self.replicas[slot as usize];
        if replica.lifecycle != Lifecycle::Starting || replica.starts != start {
            return;
        }
        replica.lifecycle = Lifecycle::Running;
        replica.ready_since = now;
        replica.ever_ready = true;
        self.record_replica_event(now, "replica_ready", slot as usize, String::new());
        self.apply_health(slot as usize, now, queue);
        self.on_deployment_replica_ready(slot as usize, now, queue);
    }
}
