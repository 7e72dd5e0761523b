//! Operations at work (see `docs/operations.md`): the traffic split across versions with its
//! weight steps and analysis, rolling deployments, and config changes reaching each client at
//! its own instant. All of it is off (empty tables, one branch on the hot path) in a scenario
//! without versions, deployments or changes.

use super::health::ActiveHealth;
use super::replica::{Health, Lifecycle};
use super::{Event, EventRecord, LatencyStats, Recorder, Simulation};
use crate::engine::{derive_key, EventQueue, StreamKind};
use crate::model::balancer::{EXCLUDED_EJECTED, EXCLUDED_UNHEALTHY};
use crate::model::{CallPolicy, Outcome, RegistryModel};
use rand::RngExt;

/// What an [`Event::Operation`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// A traffic step of service `index` (`arg`: the step) takes effect.
    WeightStep,
    /// The analysis of service `index` checks its last interval.
    AnalysisCheck,
    /// Deployment `index` starts.
    DeploymentStarts,
    /// Replica slot `index` (termination number `arg`) ends its pre-stop delay: it stops
    /// accepting.
    PreStopEnds,
    /// Replica slot `index` (termination number `arg`) reaches its grace period: what it holds
    /// is dropped.
    GraceEnds,
    /// Change `arg` reaches client `index`.
    ConfigSwitch,
}

/// Salt of the version draw (a try's version is a function of the try's key).
const VERSION_DRAW: u64 = 0x0076_6572_7369_6f6e;
/// Bits of a view stamp left for the version (at most 64 versions).
const VERSION_BITS: u32 = 6;

/// One client's view restricted to each version of a split service: (the view version it was
/// built from, the replica indices).
pub type VersionViews = Box<[(u64, Vec<u32>)]>;

/// Runtime state of the operations.
#[derive(Default)]
pub struct Operations {
    /// Per service: its traffic split in force (`None`: no split).
    pub traffic: Vec<Option<Box<TrafficRuntime>>>,
    /// Per client of a split service: its view restricted to each version, and the view
    /// version each was built from.
    pub version_views: Vec<Option<VersionViews>>,
    /// Per deployment: whether it is under way.
    pub deployments_running: Vec<bool>,
    /// Per client: the policy set in force (0: the scenario's; k: change k − 1's). Empty
    /// without changes.
    pub policy_set: Vec<u32>,
    /// Per client: which of its periodic timers have an event pending ([`OUTLIER_SWEEP`],
    /// [`HEALTH_ROUND`]), so that a mechanism switched off and on again does not run two
    /// chains of them. Empty without changes.
    pub timers_pending: Vec<u8>,
}

/// [`Operations::timers_pending`] bit: an outlier sweep is pending.
pub const OUTLIER_SWEEP: u8 = 1;
/// [`Operations::timers_pending`] bit: a health-check round is pending.
pub const HEALTH_ROUND: u8 = 2;

/// A service's traffic split in force and its analysis.
pub struct TrafficRuntime {
    /// Weights in force, per version.
    pub weights: Vec<u32>,
    /// Their running sums (for the draw).
    cumulative: Vec<u64>,
    /// Whether the analysis rolled back (later steps are ignored).
    rolled_back: bool,
    /// Failed checks so far.
    failed_checks: u32,
    /// Tries of the analysed version ended at its replicas since the last check.
    ended: u64,
    /// Of them, not succeeded.
    failed: u64,
    /// Server-side latency of the succeeded ones.
    latency: LatencyStats,
}

impl TrafficRuntime {
    fn new(weights: &[u32]) -> Self {
        let mut runtime = TrafficRuntime {
            weights: Vec::new(),
            cumulative: Vec::new(),
            rolled_back: false,
            failed_checks: 0,
            ended: 0,
            failed: 0,
            latency: LatencyStats::default(),
        };
        runtime.set_weights(weights);
        runtime
    }

    fn set_weights(&mut self, weights: &[u32]) {
        self.weights = weights.to_vec();
        let mut sum = 0u64;
        self.cumulative = weights
            .iter()
            .map(|&w| {
                sum += u64::from(w);
                sum
            })
            .collect();
    }

    /// The version a try whose key is `try_key` goes to: weight / total, by a uniform that is a
    /// function of the key alone.
    #[inline]
    pub fn pick(&self, try_key: u64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        // Lemire's multiply-shift: uniform in [0, total) from 64 uniform bits.
        let draw =
            ((u128::from(derive_key(try_key, VERSION_DRAW)) * u128::from(total)) >> 64) as u64;
        self.cumulative
            .iter()
            .position(|&c| draw < c)
            .unwrap_or(self.cumulative.len() - 1)
    }

    fn describe(&self, names: &[crate::model::Version]) -> String {
        names
            .iter()
            .zip(&self.weights)
            .map(|(v, w)| format!("{}={w}", v.name))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The stamp a balancer sees for the view restricted to a version: the view's version with the
/// version index in its low bits (so a change of either is a change).
#[inline]
pub fn version_stamp(view_version: u64, version: usize) -> u64 {
    (view_version << VERSION_BITS) | version as u64
}

impl<'m, R: Recorder> Simulation<'m, R> {
    /// Builds the operations' state and schedules their events.
    pub(super) fn prime_operations(&mut self, queue: &mut EventQueue<Event>) {
        let model = self.model;
        let clients = self.clients.client_service.len();
        self.ops.traffic = model
            .services
            .iter()
            .map(|s| {
                s.traffic
                    .as_ref()
                    .map(|t| Box::new(TrafficRuntime::new(&t.weights)))
            })
            .collect();
        self.ops.version_views = (0..clients)
            .map(|client| {
                let service = &model.services[self.clients.client_service[client] as usize];
                service.traffic.as_ref().map(|_| {
                    vec![(u64::MAX, Vec::new()); service.versions.len()].into_boxed_slice()
                })
            })
            .collect();
        for (service, spec) in model.services.iter().enumerate() {
            let Some(traffic) = &spec.traffic else {
                continue;
            };
            for (step, entry) in traffic.steps.iter().enumerate() {
                queue.push(
                    entry.at,
                    operation(OperationKind::WeightStep, service, step),
                );
            }
            if let Some(analysis) = &traffic.analysis {
                queue.push(
                    analysis.start,
                    operation(OperationKind::AnalysisCheck, service, 0),
                );
                let first = self.first_replica[service] as usize;
                for (index, &version) in spec.replica_versions.iter().enumerate() {
                    self.replicas[first + index].analysed = version as usize == analysis.version;
                }
            }
        }
        self.ops.deployments_running = vec![false; model.deployments.len()];
        for (index, deployment) in model.deployments.iter().enumerate() {
            queue.push(
                deployment.at,
                operation(OperationKind::DeploymentStarts, index, 0),
            );
        }
        if !model.changes.is_empty() {
            self.ops.policy_set = vec![0; clients];
            // The scenario's own timers were primed with the run (`prime`, `prime_discovery`).
            self.ops.timers_pending = (0..clients)
                .map(|client| {
                    let policy =
                        &model.services[self.clients.client_service[client] as usize].policy;
                    let mut bits = 0;
                    if policy.outlier_detection.is_some() {
                        bits |= OUTLIER_SWEEP;
                    }
                    if policy.health_check.is_some() {
                        bits |= HEALTH_ROUND;
                    }
                    bits
                })
                .collect();
            for (change_index, change) in model.changes.iter().enumerate() {
                for client in 0..clients {
                    let key =
                        derive_key(derive_key(u64::MAX - 3, change_index as u64), client as u64);
                    let mut rng = self.streams.stream(StreamKind::Client, key);
                    let offset = if change.propagation == 0 {
                        0
                    } else {
                        rng.random_range(0..=change.propagation)
                    };
                    queue.push(
                        change.at.saturating_add(offset),
                        operation(OperationKind::ConfigSwitch, client, change_index),
                    );
                }
            }
        }
    }

    /// An operation's event.
    #[cold]
    #[inline(never)]
    pub(super) fn on_operation(
        &mut self,
        kind: OperationKind,
        index: u32,
        arg: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let (index, arg) = (index as usize, arg as usize);
        match kind {
            OperationKind::WeightStep => self.on_weight_step(index, arg, now),
            OperationKind::AnalysisCheck => self.on_analysis_check(index, now, queue),
            OperationKind::DeploymentStarts => {
                self.ops.deployments_running[index] = true;
                let spec = &self.model.deployments[index];
                let service = &self.model.services[spec.service];
                let first = self.first_replica[spec.service] as usize;
                let new_slots = spec.first_slot..spec.first_slot + spec.slots;
                if let Some(runtime) = self.discovery.autoscalers[spec.service].as_mut() {
                    // The new pod template: the HPA's replicas from now on are these.
                    runtime.create_in = new_slots.clone();
                    for local in new_slots {
                        self.replicas[first + local].autoscaled = true;
                    }
                }
                let desired = self.desired_count(index);
                let (surge, unavailable) = spec.fenceposts(desired);
                let detail = format!(
                    "to {} ({desired} replicas, max surge {surge}, max unavailable {unavailable})",
                    version_label(service, spec.to),
                );
                self.record_service_event(now, "deployment_start", spec.service, detail);
                self.reconcile_deployments(spec.service, now, queue);
            }
            OperationKind::PreStopEnds => self.on_pre_stop_ends(index, arg as u32, now, queue),
            OperationKind::GraceEnds => self.on_grace_ends(index, arg as u32, now, queue),
            OperationKind::ConfigSwitch => {
                let client = index as u32;
                let service = self.clients.client_service[index] as usize;
                let before = self.client_policy(client, service);
                // Changes are cumulative: a client never goes back to an earlier one whose
                // push reaches it late.
                let set = &mut self.ops.policy_set[index];
                *set = (*set).max(arg as u32 + 1);
                let label = self.model.changes[arg].label.clone();
                self.record_event(now, "config_switch", client, None, label);
                let after = self.client_policy(client, service);
                if !std::ptr::eq(before, after) {
                    self.switch_policy(client, service, before, after, now, queue);
                }
            }
        }
    }

    /// The call policy client `client` applies to calls to `service` now.
    #[inline]
    pub(super) fn client_policy(&self, client: u32, service: usize) -> &'m CallPolicy {
        let model: &'m crate::model::Model = self.model;
        match self.ops.policy_set.get(client as usize) {
            Some(&set) if set > 0 => &model.changes[set as usize - 1].policies[service],
            _ => &model.services[service].policy,
        }
    }

    /// Where the deadline queues of calls from `client` to `service` are in
    /// `Lanes::call_timeout` and `Lanes::per_try_timeout`: by the client's policy set.
    #[inline]
    pub(super) fn lane_index(&self, client: u32, service: usize) -> usize {
        let set = self
            .ops
            .policy_set
            .get(client as usize)
            .map_or(0, |&s| s as usize);
        set * self.model.services.len() + service
    }

    /// Client `client` of `service` switches from policy `before` to `after` at `now`: each
    /// mechanism's state is carried over, rebuilt or dropped as `docs/operations.md` (config
    /// changes, "What a switch does") says. Whatever is read call by call (timeouts, retries,
    /// hedges, limits) simply applies from now on.
    #[cold]
    #[inline(never)]
    fn switch_policy(
        &mut self,
        client: u32,
        service: usize,
        before: &CallPolicy,
        after: &CallPolicy,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let index = client as usize;
        let spec = &self.model.services[service];
        if before.balancer != after.balancer {
            self.clients.balancers[index].reset_algorithm();
        }
        let mut guards = self.clients.guards[index].take().unwrap_or_default();
        if before.circuit_breaker != after.circuit_breaker {
            // resilience4j's breakers are immutable: a new configuration is a new breaker,
            // closed with an empty window.
            guards.breaker = after
                .circuit_breaker
                .as_ref()
                .map(crate::model::CircuitBreaker::new);
        }
        if before.retries.budget != after.retries.budget {
            guards.budget = after
                .retries
                .budget
                .as_ref()
                .map(crate::model::RetryBudgetState::new);
        }
        match (&before.outlier_detection, &after.outlier_detection) {
            (None, Some(policy)) => {
                guards.outlier = Some(crate::model::OutlierDetector::new(spec.slots()));
                if self.ops.timers_pending[index] & OUTLIER_SWEEP == 0 {
                    self.ops.timers_pending[index] |= OUTLIER_SWEEP;
                    queue.push(
                        now.saturating_add(policy.interval),
                        Event::OutlierSweep { client },
                    );
                }
            }
            (Some(_), None) => {
                // Ejections end with the detector that made them.
                guards.outlier = None;
                for replica in 0..spec.slots() as u32 {
                    let balancer = &mut self.clients.balancers[index];
                    if balancer.has_exclusion(replica, EXCLUDED_EJECTED) {
                        balancer.set_exclusion(replica, EXCLUDED_EJECTED, false);
                        let detail = "outlier detection switched off".to_string();
                        self.record_event(now, "ejection_end", client, Some(replica), detail);
                    }
                }
            }
            // Settings changed: the ejections in force end when they were due; the new
            // thresholds apply to the next failures, the new interval from the next sweep.
            _ => {}
        }
        match (&before.health_check, &after.health_check) {
            (None, Some(_)) => {
                // The replicas in view start healthy, as those of the run's start do.
                let mut health = ActiveHealth::new(spec.slots(), 0);
                let view = self.discovery.client_view[index] as usize;
                for &replica in &self.discovery.views[view] {
                    health.known[replica as usize] = true;
                }
                guards.health = Some(health);
                if self.ops.timers_pending[index] & HEALTH_ROUND == 0 {
                    self.ops.timers_pending[index] |= HEALTH_ROUND;
                    queue.push(now, Event::HealthCheckRound { client });
                }
            }
            (Some(_), None) => {
                guards.health = None;
                for replica in 0..spec.slots() as u32 {
                    self.clients.balancers[index].set_exclusion(replica, EXCLUDED_UNHEALTHY, false);
                }
            }
            _ => {}
        }
        let configured = guards.breaker.is_some()
            || guards.outlier.is_some()
            || guards.budget.is_some()
            || guards.health.is_some();
        self.clients.guards[index] = configured.then_some(guards);
        // A larger pool, or none: the tries waiting for a connection that now fit go out.
        if self.flight.pending[index].live > 0 {
            self.send_pending(client, now, queue);
        }
    }

    fn record_service_event(
        &mut self,
        now: u64,
        kind: &'static str,
        service: usize,
        detail: String,
    ) {
        self.recorder.event(&EventRecord {
            time: now,
            kind,
            subject: self.model.services[service].name.clone(),
            detail,
        });
    }

    // ----- traffic split and analysis ---------------------------------------------------------

    fn on_weight_step(&mut self, service: usize, step: usize, now: u64) {
        let spec = &self.model.services[service];
        let Some(traffic) = self.ops.traffic[service].as_deref_mut() else {
            return;
        };
        if traffic.rolled_back {
            return;
        }
        let weights = &spec.traffic.as_ref().expect("a split").steps[step].weights;
        traffic.set_weights(weights);
        let detail = traffic.describe(&spec.versions);
        self.record_service_event(now, "traffic_weights", service, detail);
    }

    /// The version a try of `try_key` from `client` to the split `service` goes to; the
    /// client's view restricted to it (in `Operations::version_views`) is brought up to date.
    #[inline(never)]
    pub(super) fn split_version(
        &mut self,
        client: usize,
        service: usize,
        try_key: u64,
        view_id: usize,
    ) -> usize {
        let version = self.ops.traffic[service]
            .as_deref()
            .map_or(0, |t| t.pick(try_key));
        let view_version = self.discovery.view_versions[view_id];
        let versions = &self.model.services[service].replica_versions;
        let cache = self.ops.version_views[client]
            .as_deref_mut()
            .expect("a client of a split service has version views");
        let (built_from, list) = &mut cache[version];
        if *built_from != view_version {
            list.clear();
            list.extend(
                self.discovery.views[view_id]
                    .iter()
                    .copied()
                    .filter(|&index| versions[index as usize] as usize == version),
            );
            *built_from = view_version;
        }
        version
    }

    /// A try of the analysed version ended at its replica `replica_slot` (server side).
    #[cold]
    #[inline(never)]
    pub(super) fn record_analysed(&mut self, replica_slot: usize, outcome: Outcome, latency: u64) {
        let service = self.replicas[replica_slot].service as usize;
        if let Some(traffic) = self.ops.traffic[service].as_deref_mut() {
            traffic.ended += 1;
            if outcome == Outcome::Succeeded {
                traffic.latency.record(latency);
            } else {
                traffic.failed += 1;
            }
        }
    }

    fn on_analysis_check(&mut self, service: usize, now: u64, queue: &mut EventQueue<Event>) {
        let spec = &self.model.services[service];
        let Some(split) = spec.traffic.as_ref() else {
            return;
        };
        let Some(analysis) = split.analysis.as_ref() else {
            return;
        };
        let Some(traffic) = self.ops.traffic[service].as_deref_mut() else {
            return;
        };
        if traffic.rolled_back {
            return;
        }
        let (ended, failed) = (traffic.ended, traffic.failed);
        let latency = std::mem::take(&mut traffic.latency);
        traffic.ended = 0;
        traffic.failed = 0;
        let error_rate = if ended == 0 {
            0.0
        } else {
            failed as f64 / ended as f64
        };
        let p99 = latency.quantile_nanos(0.99);
        let verdict = if ended < analysis.min_requests {
            "inconclusive"
        } else if analysis.max_error_rate.is_some_and(|max| error_rate > max)
            || analysis.max_latency_p99.is_some_and(|max| p99 > max)
        {
            "fail"
        } else {
            "pass"
        };
        if verdict == "fail" {
            traffic.failed_checks += 1;
        }
        let failed_checks = traffic.failed_checks;
        let detail = format!(
            "{verdict} {} requests={ended} error_rate={error_rate:.4} p99={:.3}ms",
            version_label(spec, analysis.version),
            p99 as f64 / 1e6
        );
        self.record_service_event(now, "analysis", service, detail);
        if failed_checks >= analysis.failures {
            let traffic = self.ops.traffic[service].as_deref_mut().expect("a split");
            traffic.rolled_back = true;
            let mut weights = vec![0; spec.versions.len()];
            weights[0] = 1;
            traffic.set_weights(&weights);
            let detail = format!(
                "all traffic to {} ({failed_checks} failed check{})",
                version_label(spec, 0),
                if failed_checks == 1 { "" } else { "s" }
            );
            self.record_service_event(now, "rollback", service, detail);
            let detail = traffic_description(self, service);
            self.record_service_event(now, "traffic_weights", service, detail);
            return;
        }
        if now < self.model.duration {
            queue.push(
                now.saturating_add(analysis.interval),
                operation(OperationKind::AnalysisCheck, service, 0),
            );
        }
    }

    // ----- rolling deployments ----------------------------------------------------------------

    /// Runs the controller of every deployment of `service` under way until it has nothing
    /// more to do at `now`.
    fn reconcile_deployments(&mut self, service: usize, now: u64, queue: &mut EventQueue<Event>) {
        for index in 0..self.model.deployments.len() {
            if self.model.deployments[index].service == service
                && self.ops.deployments_running[index]
            {
                // A later deployment of the same service supersedes an earlier one.
                let superseded = (index + 1..self.model.deployments.len()).any(|later| {
                    self.model.deployments[later].service == service
                        && self.ops.deployments_running[later]
                });
                if superseded {
                    self.ops.deployments_running[index] = false;
                    continue;
                }
                while self.reconcile(index, now, queue) {}
            }
        }
    }

    /// Whether a deployment of `service` is under way.
    pub(super) fn deployment_under_way(&self, service: usize) -> bool {
        self.ops
            .deployments_running
            .iter()
            .zip(&self.model.deployments)
            .any(|(&running, d)| running && d.service == service)
    }

    /// The HPA changed the desired count of `service` during its rollout: the rollout goes on
    /// towards the new count.
    pub(super) fn on_desired_count_change(
        &mut self,
        service: usize,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        self.reconcile_deployments(service, now, queue);
    }

    /// The desired count of deployment `index` now: the HPA's when its service is autoscaled
    /// (Kubernetes' `spec.replicas`, which the HPA writes), else the service's starting count.
    fn desired_count(&self, index: usize) -> usize {
        let spec = &self.model.deployments[index];
        self.discovery.autoscalers[spec.service]
            .as_ref()
            .map_or(spec.desired, |runtime| runtime.desired as usize)
    }

    /// One pass of Kubernetes' rolling-update logic for deployment `index`; true when it acted.
    /// The surge and unavailability bounds are resolved against the desired count in force
    /// (it changes under an autoscaler), as the deployment controller does at every sync.
    fn reconcile(&mut self, index: usize, now: u64, queue: &mut EventQueue<Event>) -> bool {
        let spec = &self.model.deployments[index];
        let service = spec.service;
        let first = self.first_replica[service] as usize;
        let slots = self.model.services[service].slots();
        let new_range = spec.first_slot..spec.first_slot + spec.slots;
        let desired = self.desired_count(index);
        let (max_surge, max_unavailable) = spec.fenceposts(desired);
        // Under an autoscaler the Deployment is the autoscaler's replicas; the replicas of
        // other versions (a canary's own Deployment) are not replaced.
        let autoscaled = self.model.services[service].autoscale.is_some();
        let replaced = |replica: &super::replica::Replica| !autoscaled || replica.autoscaled;
        let (mut old, mut new_created, mut new_ready) = (0, 0, 0);
        for local in 0..slots {
            let replica = &self.replicas[first + local];
            if replica.lifecycle == Lifecycle::Off || replica.terminating {
                continue;
            }
            let ready = replica.lifecycle == Lifecycle::Running;
            if new_range.contains(&local) {
                new_created += 1;
                new_ready += usize::from(ready);
            } else if replaced(replica) {
                old += 1;
            }
        }
        if old == 0 && new_ready == desired && new_created == desired {
            self.ops.deployments_running[index] = false;
            let detail = format!(
                "{desired} replicas of {}",
                version_label(&self.model.services[service], spec.to)
            );
            self.record_service_event(now, "deployment_done", service, detail);
            return false;
        }
        // Scale up: within desired + surge, never more new ones than desired.
        let room = (desired + max_surge).saturating_sub(old + new_created);
        let create = room.min(desired.saturating_sub(new_created));
        if create > 0 {
            let readiness = spec.readiness_delay;
            let mut started = 0;
            for local in new_range.clone() {
                if started == create {
                    break;
                }
                let slot = first + local;
                if self.replicas[slot].lifecycle != Lifecycle::Off {
                    continue;
                }
                let replica = &mut self.replicas[slot];
                replica.lifecycle = Lifecycle::Starting;
                replica.terminating = false;
                replica.starts += 1;
                let start = replica.starts;
                started += 1;
                let version = version_label(&self.model.services[service], spec.to);
                self.record_replica_event(now, "replica_starting", slot, version);
                queue.push(
                    now.saturating_add(readiness),
                    Event::ReplicaReady {
                        replica: slot as u32,
                        start,
                    },
                );
            }
            if started > 0 {
                return true;
            }
        }
        // Scale down: Kubernetes' maxScaledDown = all − minAvailable − new unavailable.
        let min_available = desired.saturating_sub(max_unavailable);
        let removable = (old + new_created)
            .saturating_sub(min_available)
            .saturating_sub(new_created - new_ready)
            .min(old);
        // Unready old replicas go at once (Kubernetes cleans them up first: they serve
        // nothing), then ready ones within the allowance, the newest (highest index) first.
        let mut unready_old: Vec<usize> = Vec::new();
        let mut ready_old: Vec<usize> = Vec::new();
        for local in (0..slots).rev() {
            let replica = &self.replicas[first + local];
            if new_range.contains(&local)
                || replica.lifecycle == Lifecycle::Off
                || replica.terminating
                || !replaced(replica)
            {
                continue;
            }
            if replica.lifecycle == Lifecycle::Running {
                ready_old.push(first + local);
            } else {
                unready_old.push(first + local);
            }
        }
        let mut acted = false;
        for slot in unready_old {
            self.terminate(slot, index, now, queue);
            acted = true;
        }
        for &slot in ready_old.iter().take(removable) {
            self.terminate(slot, index, now, queue);
            acted = true;
        }
        // The desired count fell below the new replicas (the autoscaler scaled down) and no old
        // replica went in this pass: the excess new ones go, the unready first, then the newest.
        if !acted && new_created > desired {
            let mut excess: Vec<usize> = new_range
                .clone()
                .rev()
                .map(|local| first + local)
                .filter(|&slot| {
                    let replica = &self.replicas[slot];
                    replica.lifecycle != Lifecycle::Off && !replica.terminating
                })
                .collect();
            // Stable: the unready keep their newest-first order ahead of the ready.
            excess.sort_by_key(|&slot| self.replicas[slot].lifecycle == Lifecycle::Running);
            for &slot in excess.iter().take(new_created - desired) {
                self.terminate(slot, index, now, queue);
            }
            acted = true;
        }
        acted
    }

    /// Starts the termination of replica `slot`: it leaves the registry, serves `pre_stop`
    /// longer, then stops accepting; at `termination_grace` what it holds is dropped.
    fn terminate(
        &mut self,
        slot: usize,
        deployment: usize,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let spec = &self.model.deployments[deployment];
        let (pre_stop, grace) = (spec.pre_stop, spec.termination_grace);
        let replica = &mut self.replicas[slot];
        if replica.lifecycle == Lifecycle::Starting {
            // Not ready yet: it never served, it simply goes.
            replica.lifecycle = Lifecycle::Off;
            self.record_replica_event(now, "replica_stopped", slot, "never ready".to_string());
            self.apply_health(slot, now, queue);
            return;
        }
        replica.terminating = true;
        replica.starts += 1;
        let termination = replica.starts;
        self.record_replica_event(
            now,
            "replica_terminating",
            slot,
            format!(
                "pre_stop {}s",
                crate::engine::time::nanos_to_seconds(pre_stop)
            ),
        );
        self.deregister(slot, now);
        queue.push(
            now.saturating_add(pre_stop),
            operation(OperationKind::PreStopEnds, slot, termination as usize),
        );
        queue.push(
            now.saturating_add(grace),
            operation(OperationKind::GraceEnds, slot, termination as usize),
        );
    }

    /// The registry in force learns that `slot` leaves: the oracle at once, Eureka's cancel,
    /// Consul's deregistration; the static registry never.
    fn deregister(&mut self, slot: usize, now: u64) {
        let service = self.replicas[slot].service as usize;
        match self.model.registry {
            RegistryModel::Static => {}
            RegistryModel::Oracle => self.refresh_service_view(service, now),
            RegistryModel::Eureka(_) | RegistryModel::Consul(_) => {
                self.deregister_instance(slot, now)
            }
        }
    }

    fn on_pre_stop_ends(
        &mut self,
        slot: usize,
        termination: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        self.stop_if_terminating(slot, termination, now, queue);
    }

    /// Whether termination `termination` of the replica is still the one in progress (a
    /// replica restarted since has a later one); if so, it stops accepting work, once.
    fn stop_if_terminating(
        &mut self,
        slot: usize,
        termination: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) -> bool {
        let replica = &self.replicas[slot];
        if !replica.terminating || replica.starts != termination {
            return false;
        }
        if replica.lifecycle == Lifecycle::Running {
            self.stop_accepting(slot, now, queue);
        }
        true
    }

    fn stop_accepting(&mut self, slot: usize, now: u64, queue: &mut EventQueue<Event>) {
        let measured = self.measure.measured;
        let replica = &mut self.replicas[slot];
        replica.add_running_time(now, measured);
        replica.lifecycle = Lifecycle::Off;
        let service = replica.service as usize;
        let held = replica.held_jobs();
        self.record_replica_event(now, "replica_stopped", slot, format!("{held} held"));
        self.apply_health(slot, now, queue);
        self.reconcile_deployments(service, now, queue);
    }

    fn on_grace_ends(
        &mut self,
        slot: usize,
        termination: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if !self.stop_if_terminating(slot, termination, now, queue) {
            return;
        }
        let held = self.replicas[slot].held_jobs();
        if held > 0 {
            self.record_replica_event(now, "replica_killed", slot, format!("{held} dropped"));
            self.drop_all_jobs(slot, Some(Outcome::Refused), now, queue);
        }
        debug_assert_eq!(self.replicas[slot].health, Health::Stopped);
    }

    /// A replica became ready: the deployments of its service may go on.
    pub(super) fn on_deployment_replica_ready(
        &mut self,
        slot: usize,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if self.ops.deployments_running.iter().any(|&r| r) {
            let service = self.replicas[slot].service as usize;
            self.reconcile_deployments(service, now, queue);
        }
    }
}

fn operation(kind: OperationKind, index: usize, arg: usize) -> Event {
    Event::Operation {
        kind,
        index: index as u32,
        arg: arg as u32,
    }
}

fn version_label(service: &crate::model::Service, version: usize) -> String {
    let name = &service.versions[version].name;
    if name.is_empty() {
        "the same version".to_string()
    } else {
        name.clone()
    }
}

fn traffic_description<R: Recorder>(simulation: &Simulation<'_, R>, service: usize) -> String {
    simulation.ops.traffic[service]
        .as_deref()
        .map(|t| t.describe(&simulation.model.services[service].versions))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{version_stamp, TrafficRuntime};

    #[test]
    fn versions_are_drawn_by_weight() {
        // 200,000 keys; the share of each version is binomial: sd sqrt(p (1 - p) / n), at
        // most 0.0011 here; allow 4 sd.
        let runtime = TrafficRuntime::new(&[90, 0, 10]);
        let n = 200_000u64;
        let mut counts = [0u64; 3];
        for key in 0..n {
            counts[runtime.pick(key.wrapping_mul(0x9e37_79b9_7f4a_7c15))] += 1;
        }
        assert_eq!(counts[1], 0, "a version of weight 0 gets nothing");
        for (count, share) in [(counts[0], 0.9), (counts[2], 0.1)] {
            let sd = (share * (1.0 - share) / n as f64).sqrt();
            let measured = count as f64 / n as f64;
            assert!((measured - share).abs() < 4.0 * sd, "{measured} vs {share}");
        }
        // The same key always goes to the same version.
        assert_eq!(runtime.pick(42), runtime.pick(42));
    }

    #[test]
    fn an_operation_event_keeps_events_at_16_bytes() {
        assert!(std::mem::size_of::<super::Event>() <= 16);
    }

    #[test]
    fn a_version_view_s_stamp_changes_with_the_view_and_the_version() {
        assert_ne!(version_stamp(7, 0), version_stamp(7, 1));
        assert_ne!(version_stamp(7, 1), version_stamp(8, 1));
    }
}
