//! Per-client governance: circuit breakers, outlier detection and retry budgets, with the events
//! they emit. Only clients whose called service's policy configures a mechanism carry its state,
//! so an unconfigured mechanism costs one `Option` check.

use super::{Event, EventRecord, Recorder, Simulation};
use crate::engine::EventQueue;
use crate::model::resilience::Admission;
use crate::model::{BalancerKind, CircuitBreaker, Outcome, OutlierDetector, RetryBudgetState};
use rand::RngExt;

/// The governance state one client keeps about one called service.
#[derive(Debug, Default)]
pub struct ClientGuards {
    /// Circuit breaker, if the policy has one.
    pub breaker: Option<CircuitBreaker>,
    /// Outlier detector, if the policy has one.
    pub outlier: Option<OutlierDetector>,
    /// Retry budget, if the policy has one.
    pub budget: Option<RetryBudgetState>,
    /// Active health checking, if the policy has it.
    pub health: Option<super::health::ActiveHealth>,
}

/// Whether an outcome counts as a failure for breakers and outlier detection (Envoy counts
/// local-origin failures, timeouts and refused connections, as 5xx by default).
fn is_failure(outcome: Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Timeout | Outcome::Refused | Outcome::Error | Outcome::Rejected
    )
}

impl<R: Recorder> Simulation<'_, R> {
    /// The circuit breaker's verdict on sending a try now: false when it refuses.
    pub(super) fn breaker_admits(&mut self, client: u32, service: usize, now: u64) -> bool {
        let policy = self.client_policy(client, service);
        let Some(guards) = self.clients.guards[client as usize].as_deref_mut() else {
            return true;
        };
        let Some(breaker) = guards.breaker.as_mut() else {
            return true;
        };
        let policy = policy
            .circuit_breaker
            .as_ref()
            .expect("breaker has a policy");
        match breaker.try_acquire(policy, now) {
            Admission::Pass => true,
            Admission::PassAfter(transition) => {
                let detail = format!("{} -> {}", transition.from, transition.to);
                self.record_event(now, "circuit_breaker", client, None, detail);
                true
            }
            Admission::Refuse => false,
        }
    }

    /// Feeds the end of try `try_number` of call `call` to the client's balancer (peak EWMA),
    /// breaker and outlier detector. The try's round trip is read only where one of them uses
    /// it (its send time lies in the call's second cache line, which a plain client's
    /// response then does not touch).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn observe_try_end(
        &mut self,
        client: u32,
        service: usize,
        replica: u32,
        outcome: Outcome,
        call: u32,
        try_number: u32,
        now: u64,
    ) {
        let round_trip = |sim: &Self| {
            now - sim.flight.calls.at(call).sent[try_number as usize % super::request::TRY_LANES]
        };
        if self.clients.observes_rtt[service]
            && self.client_policy(client, service).balancer == BalancerKind::PeakEwma
        {
            let rtt = round_trip(self);
            self.clients.balancers[client as usize].observe_rtt(replica, rtt, now);
        }
        if self.clients.guards[client as usize].is_some() {
            let rtt = round_trip(self);
            self.guard_try_end(client, service, replica, outcome, rtt, now);
        }
    }

    /// [`Simulation::observe_try_end`] for a client with governance state.
    fn guard_try_end(
        &mut self,
        client: u32,
        service: usize,
        replica: u32,
        outcome: Outcome,
        rtt: u64,
        now: u64,
    ) {
        let policy = self.client_policy(client, service);
        let failed = is_failure(outcome);
        let Some(guards) = self.clients.guards[client as usize].as_deref_mut() else {
            return;
        };
        if let (Some(breaker), Some(breaker_policy)) =
            (guards.breaker.as_mut(), policy.circuit_breaker.as_ref())
        {
            if outcome != Outcome::CircuitOpen {
                let slow = rtt > breaker_policy.slow_call_duration;
                if let Some(transition) = breaker.record(breaker_policy, now, failed, slow) {
                    let detail = format!(
                        "{} -> {} (failure rate {:.3} over {} tries)",
                        transition.from, transition.to, transition.failure_rate, transition.calls
                    );
                    self.record_event(now, "circuit_breaker", client, None, detail);
                }
            }
        }
        let Some(guards) = self.clients.guards[client as usize].as_deref_mut() else {
            return;
        };
        if let (Some(detector), Some(outlier_policy)) =
            (guards.outlier.as_mut(), policy.outlier_detection.as_ref())
        {
            if let Some(time) = detector.record(outlier_policy, replica, failed) {
                let enforced = outlier_policy.enforcing >= 1.0
                    || (outlier_policy.enforcing > 0.0
                        && self.clients.balancers[client as usize]
                            .rng()
                            .random::<f64>()
                            < outlier_policy.enforcing);
                if !enforced {
                    detector.not_enforced(replica);
                    return;
                }
                detector.eject(replica, now.saturating_add(time));
                self.clients.balancers[client as usize].set_excluded(replica, true);
                let detail = format!(
                    "for {}s after {} consecutive failures",
                    time as f64 / 1e9,
                    outlier_policy.consecutive_errors
                );
                self.record_event(now, "ejection", client, Some(replica), detail);
            }
        }
    }

    /// A call starts: it deposits into the retry budget.
    #[inline]
    pub(super) fn budget_deposit(&mut self, client: u32, now: u64) {
        if let Some(budget) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.budget.as_mut())
        {
            budget.deposit(now);
        }
    }

    /// Whether the retry budget allows one more retry now.
    pub(super) fn budget_allows_retry(&mut self, client: u32, now: u64) -> bool {
        let Some(budget) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.budget.as_mut())
        else {
            return true;
        };
        let allowed = budget.try_withdraw(now);
        if allowed == budget.exhausted {
            budget.exhausted = !allowed;
            let kind = if allowed {
                "retry_budget_recovered"
            } else {
                "retry_budget_exhausted"
            };
            self.record_event(now, kind, client, None, String::new());
        }
        allowed
    }

    /// The outlier detector's interval sweep: ejected replicas whose time is over come back.
    #[cold]
    #[inline(never)]
    pub(super) fn on_outlier_sweep(
        &mut self,
        client: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let service = self.clients.client_service[client as usize] as usize;
        let Some(policy) = self
            .client_policy(client, service)
            .outlier_detection
            .as_ref()
        else {
            // Switched off by a config change: the chain of sweeps ends here.
            if let Some(bits) = self.ops.timers_pending.get_mut(client as usize) {
                *bits &= !super::ops::OUTLIER_SWEEP;
            }
            return;
        };
        let interval = policy.interval;
        let mut returned = std::mem::take(&mut self.scratch_replicas);
        returned.clear();
        if let Some(detector) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.outlier.as_mut())
        {
            detector.sweep(now, &mut returned);
        }
        for &replica in &returned {
            self.clients.balancers[client as usize].set_excluded(replica, false);
            self.record_event(now, "ejection_end", client, Some(replica), String::new());
        }
        self.scratch_replicas = returned;
        if now < self.model.duration {
            queue.push(now.saturating_add(interval), Event::OutlierSweep { client });
        }
    }

    /// Records a governance event about `client` (and one replica of its service).
    pub(super) fn record_event(
        &mut self,
        now: u64,
        kind: &'static str,
        client: u32,
        replica: Option<u32>,
        detail: String,
    ) {
        let service = self.clients.client_service[client as usize] as usize;
        let target = match replica {
            Some(index) => format!("{}#{index}", self.model.services[service].name),
            None => self.model.services[service].name.clone(),
        };
        let subject = format!("{} -> {target}", self.clients.client_names[client as usize]);
        self.recorder.event(&EventRecord {
            time: now,
            kind,
            subject,
            detail,
        });
    }
}
