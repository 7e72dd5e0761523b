//! Active health checking (Envoy): every client that has a `health_check` policy checks each
//! replica in its view every `interval`. A check passes when the replica is up and reachable;
//! it fails at once when the replica refuses (crashed, stopped) and after `timeout` when it
//! does not answer (hung, or cut off by a partition). `unhealthy` consecutive failures exclude
//! the replica from the client's picks; `healthy` consecutive passes let it back, and a pass
//! also ends an outlier ejection. Simplification: a check does not queue behind requests at the
//! replica (health endpoints are cheap) and its verdict is taken when it is sent.

use super::replica::Health;
use super::{Event, Recorder, Simulation, NONE};
use crate::engine::EventQueue;
use crate::model::balancer::{EXCLUDED_EJECTED, EXCLUDED_UNHEALTHY};

/// One client's active health-check state towards one service.
#[derive(Debug, Clone)]
pub struct ActiveHealth {
    /// Per replica index: consecutive failed checks.
    failures: Vec<u32>,
    /// Per replica index: consecutive passed checks.
    passes: Vec<u32>,
    /// Per replica index: whether the client has met the replica (replicas met later start
    /// unhealthy until their first pass).
    pub known: Vec<bool>,
}

impl ActiveHealth {
    /// State for a service of `slots` replica slots, of which the first `initial` are in the
    /// starting view and healthy.
    pub fn new(slots: usize, initial: usize) -> Self {
        ActiveHealth {
            failures: vec![0; slots],
            passes: vec![0; slots],
            known: (0..slots).map(|index| index < initial).collect(),
        }
    }
}

impl<R: Recorder> Simulation<'_, R> {
    /// A client's round of health checks over its view.
    #[cold]
    #[inline(never)]
    pub(super) fn on_health_check_round(
        &mut self,
        client: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let service = self.clients.client_service[client as usize] as usize;
        let Some(policy) = self.model.services[service].policy.health_check else {
            return;
        };
        let view_id = self.discovery.client_view[client as usize] as usize;
        let mut view = std::mem::take(&mut self.scratch_replicas);
        view.clear();
        view.extend_from_slice(&self.discovery.views[view_id]);
        for &replica in &view {
            let passes = self.check_passes(client, service, replica);
            self.apply_check(
                client,
                replica,
                passes,
                policy.unhealthy,
                policy.healthy,
                now,
            );
        }
        self.scratch_replicas = view;
        if now < self.model.duration {
            queue.push(
                now.saturating_add(policy.interval),
                Event::HealthCheckRound { client },
            );
        }
    }

    /// Whether a check from `client` to `replica` of `service` passes now.
    fn check_passes(&self, client: u32, service: usize, replica: u32) -> bool {
        let slot = (self.first_replica[service] + replica) as usize;
        let target = &self.replicas[slot];
        if target.health != Health::Up {
            return false;
        }
        let caller_zone = self.clients.client_zone[client as usize];
        caller_zone == NONE || !self.partitioned(caller_zone, target.zone)
    }

    fn apply_check(
        &mut self,
        client: u32,
        replica: u32,
        passes: bool,
        unhealthy_after: u32,
        healthy_after: u32,
        now: u64,
    ) {
        let index = replica as usize;
        let Some(health) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.health.as_mut())
        else {
            return;
        };
        let balancer = &mut self.clients.balancers[client as usize];
        let flagged = balancer.has_exclusion(replica, EXCLUDED_UNHEALTHY);
        let mut transition = None;
        if passes {
            health.failures[index] = 0;
            health.passes[index] += 1;
            if flagged && health.passes[index] >= healthy_after {
                balancer.set_exclusion(replica, EXCLUDED_UNHEALTHY, false);
                transition = Some("healthy");
            }
        } else {
            health.passes[index] = 0;
            health.failures[index] += 1;
            if !flagged && health.failures[index] >= unhealthy_after {
                balancer.set_exclusion(replica, EXCLUDED_UNHEALTHY, true);
                transition = Some("unhealthy");
            }
        }
        if let Some(state) = transition {
            self.record_event(
                now,
                "health_check",
                client,
                Some(replica),
                state.to_string(),
            );
        }
        if passes
            && self.clients.balancers[client as usize].has_exclusion(replica, EXCLUDED_EJECTED)
        {
            // A passing active check ends an outlier ejection (Envoy).
            if let Some(detector) = self.clients.guards[client as usize]
                .as_deref_mut()
                .and_then(|g| g.outlier.as_mut())
            {
                detector.return_host(replica);
            }
            self.clients.balancers[client as usize].set_excluded(replica, false);
            let detail = "health check passed".to_string();
            self.record_event(now, "ejection_end", client, Some(replica), detail);
        }
    }
}
