//! Active health checking (Envoy, HAProxy): every client that has a `health_check` policy checks
//! each replica in its view every `interval`. A check passes when the replica is up and
//! reachable; it fails at once when the replica refuses (crashed, stopped) and `timeout` after
//! it was sent when it gets no answer (hung, or cut off by a partition). The next check of a
//! replica is sent `interval` after the previous one *ended* (HAProxy's `process_chk_conn` and
//! Envoy's interval timer both restart on completion), so while a replica does not answer its
//! checks come every `interval + timeout`: such a replica leaves its client's common rounds for
//! a timer of its own. `unhealthy` consecutive failures exclude the replica from the client's
//! picks; `healthy` consecutive passes let it back, and a pass also ends an outlier ejection.
//! Simplifications: a check does not queue behind requests at the replica (health endpoints
//! are cheap); an unanswered check fails at its timeout even when the hang ends before it.

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
    /// Per replica index: checked on a timer of its own (since a check of it went unanswered)
    /// rather than in the client's rounds.
    own_timer: Vec<bool>,
}

impl ActiveHealth {
    /// State for a service of `slots` replica slots, of which the first `initial` are in the
    /// starting view and healthy.
    pub fn new(slots: usize, initial: usize) -> Self {
        ActiveHealth {
            failures: vec![0; slots],
            passes: vec![0; slots],
            known: (0..slots).map(|index| index < initial).collect(),
            own_timer: vec![false; slots],
        }
    }
}

/// What a health check gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckAnswer {
    /// The replica is up and reachable.
    Pass,
    /// Connection refused: the check fails at once.
    Refused,
    /// No answer (hung, or cut off by a partition): the check fails at its timeout.
    None,
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
        let Some(policy) = self.client_policy(client, service).health_check else {
            // Switched off by a config change: the chain of rounds ends here.
            if let Some(bits) = self.ops.timers_pending.get_mut(client as usize) {
                *bits &= !super::ops::HEALTH_ROUND;
            }
            return;
        };
        let view_id = self.discovery.client_view[client as usize] as usize;
        let mut view = std::mem::take(&mut self.scratch_replicas);
        view.clear();
        view.extend_from_slice(&self.discovery.views[view_id]);
        for &replica in &view {
            if !self.on_own_timer(client, replica) {
                self.send_check(client, service, replica, now, queue);
            }
        }
        self.scratch_replicas = view;
        if now < self.model.duration {
            queue.push(
                now.saturating_add(policy.interval),
                Event::HealthCheckRound { client },
            );
        }
    }

    /// A replica's own check timer: its next check is due, or its unanswered check timed out.
    #[cold]
    #[inline(never)]
    pub(super) fn on_health_check_replica(
        &mut self,
        client: u32,
        replica: u32,
        timed_out: bool,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let service = self.clients.client_service[client as usize] as usize;
        let Some(policy) = self.client_policy(client, service).health_check else {
            return;
        };
        if timed_out {
            self.apply_check(
                client,
                replica,
                false,
                policy.unhealthy,
                policy.healthy,
                now,
            );
            if now < self.model.duration {
                let next = Event::HealthCheckReplica {
                    client,
                    replica,
                    timed_out: false,
                };
                queue.push(now + policy.interval, next);
            }
            return;
        }
        let view_id = self.discovery.client_view[client as usize] as usize;
        if !self.discovery.views[view_id].contains(&replica) {
            // Gone from the view: checked in the rounds again if it comes back.
            self.set_own_timer(client, replica, false);
            return;
        }
        self.send_check(client, service, replica, now, queue);
    }

    /// Sends one check from `client` to `replica` of `service`: its verdict now when the
    /// replica answers or refuses, at its timeout when it does not answer. A replica on its
    /// own timer that answers is due again `interval` later.
    fn send_check(
        &mut self,
        client: u32,
        service: usize,
        replica: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(policy) = self.client_policy(client, service).health_check else {
            return;
        };
        match self.check_answer(client, service, replica) {
            CheckAnswer::None => {
                self.set_own_timer(client, replica, true);
                let timeout = Event::HealthCheckReplica {
                    client,
                    replica,
                    timed_out: true,
                };
                queue.push(now + policy.timeout, timeout);
            }
            answer => {
                let passes = answer == CheckAnswer::Pass;
                self.apply_check(
                    client,
                    replica,
                    passes,
                    policy.unhealthy,
                    policy.healthy,
                    now,
                );
                if self.on_own_timer(client, replica) && now < self.model.duration {
                    let next = Event::HealthCheckReplica {
                        client,
                        replica,
                        timed_out: false,
                    };
                    queue.push(now + policy.interval, next);
                }
            }
        }
    }

    fn on_own_timer(&self, client: u32, replica: u32) -> bool {
        self.clients.guards[client as usize]
            .as_deref()
            .and_then(|g| g.health.as_ref())
            .is_some_and(|health| health.own_timer[replica as usize])
    }

    fn set_own_timer(&mut self, client: u32, replica: u32, on: bool) {
        if let Some(health) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.health.as_mut())
        {
            health.own_timer[replica as usize] = on;
        }
    }

    /// How `replica` of `service` answers a check from `client` now.
    fn check_answer(&self, client: u32, service: usize, replica: u32) -> CheckAnswer {
        let slot = (self.first_replica[service] + replica) as usize;
        let target = &self.replicas[slot];
        let caller_zone = self.clients.client_zone[client as usize];
        if caller_zone != NONE && self.partitioned(caller_zone, target.zone) {
            return CheckAnswer::None;
        }
        match target.health {
            Health::Up => CheckAnswer::Pass,
            Health::Hung => CheckAnswer::None,
            Health::Crashed | Health::Stopped => CheckAnswer::Refused,
        }
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
