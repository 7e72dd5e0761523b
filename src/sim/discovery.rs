//! Service discovery: the views clients balance over, and the registries that keep them.
//!
//! A *view* is a list of replica indices of one service. Under the `oracle` and `static`
//! registries every client of a service shares the service's view, which the registry keeps
//! exact (oracle: the running replicas that are not crashed; static: every replica ever
//! started). Under `eureka` and `consul` every client has its own view, a copy of what the
//! registry published when the client last fetched, so staleness is modelled:
//!
//! - Eureka: each running (or hung) replica renews its lease every `heartbeat`; the eviction task
//!   removes leases not renewed for `2 × ttl` (Eureka's `Lease.isExpired`), at most
//!   `size − ⌊size × self_preservation⌋` per run, and none while fewer renewals than
//!   `⌊expected × 60 s / heartbeat × self_preservation⌋` arrived in the last minute
//!   (self-preservation). What clients fetch is the read-only response cache, refreshed every
//!   `response_cache`; each client fetches every `client_refresh`, at its own phase.
//! - Consul: each replica's agent runs its service check every `check_interval` (at its own
//!   phase); a failing check makes the instance critical at once, and clients watching with
//!   blocking queries (`client_refresh = 0`) see it at once; the reaper deregisters instances
//!   critical for `deregister_after`.
//!
//! A `registry_outage` freezes all of it: nothing is renewed, registered, evicted, checked or
//! fetched, and clients keep their last view (oracle and static views stop following changes).

use super::replica::{Health, Lifecycle};
use super::{Event, EventRecord, Recorder, Simulation};
use crate::engine::{derive_key, EventQueue, StreamFactory, StreamKind};
use crate::model::balancer::EXCLUDED_UNHEALTHY;
use crate::model::registry::CONSUL_REAP_INTERVAL;
use crate::model::{ConsulConfig, EurekaConfig, Model, RegistryModel};
use rand::rngs::ChaCha8Rng;
use rand::RngExt;

/// Eureka's renewal-rate bucket (`MeasuredRate`): one minute, nanoseconds.
const RENEWAL_BUCKET: u64 = 60_000_000_000;
/// How often Eureka recomputes the expected number of renewing clients, nanoseconds (15 min).
const THRESHOLD_UPDATE: u64 = 900_000_000_000;

/// A periodic task of the registry server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryTimer {
    /// Eureka's eviction task.
    Eviction,
    /// Eureka's read-only response cache refresh.
    CacheRefresh,
    /// Eureka's renewal-rate bucket rolls over.
    RenewalBucket,
    /// Eureka recomputes its expected renewals.
    ThresholdUpdate,
    /// Consul's reaper of long-critical instances.
    Reap,
}

/// State of a Eureka or Consul registry server and of what its clients last fetched.
#[derive(Debug)]
pub struct RegistryState {
    /// Per replica slot: whether the registry holds an instance for it.
    registered: Vec<bool>,
    /// Per replica slot: last lease renewal, nanoseconds (Eureka).
    last_renewal: Vec<u64>,
    /// Per replica slot: whether its health check passes (Consul).
    passing: Vec<bool>,
    /// Per replica slot: when its check turned critical, nanoseconds (Consul).
    critical_since: Vec<u64>,
    /// Eureka: clients expected to renew (+1 per registration, −1 per cancel, reset to the
    /// registry's size every 15 minutes).
    expected_clients: u32,
    /// Eureka: renewals in the current and in the last whole minute.
    renewals_this_minute: u64,
    renewals_last_minute: u64,
    /// Eureka: whether self-preservation is stopping evictions.
    self_preserving: bool,
    /// Per service: the registry changed since the response cache was last refreshed (Eureka).
    changed: Vec<bool>,
    /// Per service: what a client fetch returns (replica indices, ascending).
    published: Vec<Vec<u32>>,
    /// Per service: bumped on every change of `published`.
    published_version: Vec<u64>,
    /// Per client: the `published_version` its view was copied from.
    client_seen: Vec<u64>,
    /// The server's own stream (eviction's random choice).
    rng: ChaCha8Rng,
}

/// Per service: the clients that call it (for pushes and shared-view changes).
pub fn clients_by_service(model: &Model, client_service: &[u32]) -> Vec<Vec<u32>> {
    let mut by_service = vec![Vec::new(); model.services.len()];
    for (client, &service) in client_service.iter().enumerate() {
        by_service[service as usize].push(client as u32);
    }
    by_service
}

impl RegistryState {
    /// Every starting replica registered and published; `clients` clients, each with a view
    /// copied from the first publication.
    pub fn new(model: &Model, slots: usize, clients: usize, streams: &StreamFactory) -> Self {
        let mut registered = Vec::with_capacity(slots);
        for service in &model.services {
            for index in 0..service.slots() {
                registered.push(index < service.replicas);
            }
        }
        let published = model
            .services
            .iter()
            .map(|s| (0..s.replicas as u32).collect())
            .collect();
        let expected_clients = registered.iter().filter(|&&r| r).count() as u32;
        let renewals = match model.registry {
            RegistryModel::Eureka(config) => {
                u64::from(expected_clients) * RENEWAL_BUCKET / config.heartbeat
            }
            _ => 0,
        };
        RegistryState {
            registered,
            last_renewal: vec![0; slots],
            passing: vec![true; slots],
            critical_since: vec![0; slots],
            expected_clients,
            renewals_this_minute: 0,
            renewals_last_minute: renewals,
            self_preserving: false,
            changed: vec![false; model.services.len()],
            published,
            published_version: vec![0; model.services.len()],
            client_seen: vec![0; clients],
            rng: streams.stream(StreamKind::Client, derive_key(u64::MAX - 1, 0)),
        }
    }
}

/// A phase in `[0, period)` for a periodic task of `identity`, drawn from its own stream.
fn phase(streams: &StreamFactory, identity: u64, period: u64) -> u64 {
    let mut rng = streams.stream(StreamKind::Client, derive_key(u64::MAX - 2, identity));
    rng.random_range(0..period.max(1))
}

impl<R: Recorder> Simulation<'_, R> {
    /// Schedules the registry's timers, heartbeats, checks and fetches.
    pub(super) fn prime_discovery(&mut self, queue: &mut EventQueue<Event>) {
        let slots = self.replicas.len() as u64;
        let callers = slots + self.model.workloads.len() as u64;
        match self.model.registry {
            RegistryModel::Eureka(config) => {
                for slot in 0..slots {
                    let at = phase(&self.streams, slot, config.heartbeat);
                    queue.push(
                        at,
                        Event::Heartbeat {
                            replica: slot as u32,
                        },
                    );
                }
                self.prime_view_fetches(config.client_refresh, queue);
                queue.push(RENEWAL_BUCKET, timer(RegistryTimer::RenewalBucket));
                queue.push(config.eviction_interval, timer(RegistryTimer::Eviction));
                queue.push(config.response_cache, timer(RegistryTimer::CacheRefresh));
                queue.push(THRESHOLD_UPDATE, timer(RegistryTimer::ThresholdUpdate));
            }
            RegistryModel::Consul(config) => {
                for slot in 0..slots {
                    let at = phase(&self.streams, slot, config.check_interval);
                    queue.push(
                        at,
                        Event::AgentCheck {
                            replica: slot as u32,
                        },
                    );
                }
                if config.client_refresh > 0 {
                    self.prime_view_fetches(config.client_refresh, queue);
                }
                queue.push(CONSUL_REAP_INTERVAL, timer(RegistryTimer::Reap));
            }
            RegistryModel::Oracle | RegistryModel::Static => {}
        }
        for client in 0..self.clients.guards.len() {
            let service = self.clients.client_service[client] as usize;
            if let Some(check) = self.model.services[service].policy.health_check {
                let at = phase(&self.streams, callers + client as u64, check.interval);
                queue.push(
                    at,
                    Event::HealthCheckRound {
                        client: client as u32,
                    },
                );
            }
        }
    }

    /// Schedules every caller's first registry fetch, each at its own phase within `period`.
    fn prime_view_fetches(&self, period: u64, queue: &mut EventQueue<Event>) {
        let slots = self.replicas.len() as u64;
        let callers = slots + self.model.workloads.len() as u64;
        for caller in 0..callers {
            let at = phase(&self.streams, slots + caller, period);
            queue.push(
                at,
                Event::ViewFetch {
                    caller: caller as u32,
                },
            );
        }
    }

    /// Whether periodic discovery work should go on at `now`.
    fn discovery_continues(&self, now: u64) -> bool {
        now < self.model.duration
    }

    /// A replica's health or life cycle changed from `before`: the registry learns what it
    /// would learn at once (the oracle everything; Eureka registrations and cancels; Consul
    /// deregistrations on shutdown).
    pub(super) fn on_membership_change(&mut self, slot: usize, before: Health, now: u64) {
        let replica = &self.replicas[slot];
        let (service, after) = (replica.service as usize, replica.health);
        let alive = |h: Health| matches!(h, Health::Up | Health::Hung);
        match self.model.registry {
            RegistryModel::Oracle | RegistryModel::Static => {
                if self.registry_frozen() {
                    return; // caught up when the outage ends
                }
                self.refresh_shared_view(service, now);
            }
            RegistryModel::Eureka(_) => {
                if self.registry_frozen() {
                    return;
                }
                if !alive(before) && alive(after) {
                    self.eureka_register(slot, now);
                } else if after == Health::Stopped && replica.lifecycle == Lifecycle::Off {
                    self.registry_cancel(slot, now);
                }
            }
            RegistryModel::Consul(_) => {
                if self.registry_frozen() {
                    return;
                }
                if after == Health::Stopped && replica.lifecycle == Lifecycle::Off {
                    self.registry_cancel(slot, now);
                    self.consul_publish(service, now);
                }
            }
        }
    }

    fn registry_frozen(&self) -> bool {
        self.discovery.registry_outages > 0
    }

    /// Whether the oracle (or static registry) shows replica `slot`.
    fn in_shared_view(&self, slot: usize) -> bool {
        let replica = &self.replicas[slot];
        match self.model.registry {
            RegistryModel::Static => replica.ever_ready,
            _ => {
                replica.lifecycle == Lifecycle::Running
                    && replica.health != Health::Crashed
                    && !replica.terminating
            }
        }
    }

    /// Recomputes the shared view of `service` (oracle, static).
    pub(super) fn refresh_service_view(&mut self, service: usize, now: u64) {
        if !self.registry_frozen() {
            self.refresh_shared_view(service, now);
        }
    }

    /// Eureka's cancel or Consul's deregistration of a terminating replica (Consul's blocking
    /// queries see it at once).
    pub(super) fn deregister_instance(&mut self, slot: usize, now: u64) {
        if self.registry_frozen() {
            return;
        }
        self.registry_cancel(slot, now);
        if matches!(self.model.registry, RegistryModel::Consul(_)) {
            let service = self.replicas[slot].service as usize;
            self.consul_publish(service, now);
        }
    }

    /// Recomputes the shared view of `service` (oracle, static).
    fn refresh_shared_view(&mut self, service: usize, now: u64) {
        let first = self.first_replica[service] as usize;
        let slots = self.model.services[service].slots();
        let mut view = std::mem::take(&mut self.discovery.views[service]);
        let before = view.len();
        let mut changed = false;
        let mut position = 0;
        for index in 0..slots {
            if self.in_shared_view(first + index) {
                if view.get(position) != Some(&(index as u32)) {
                    changed = true;
                }
                position += 1;
            }
        }
        changed |= position != before;
        if changed {
            view.clear();
            for index in 0..slots {
                if self.in_shared_view(first + index) {
                    view.push(index as u32);
                }
            }
            self.discovery.view_versions[service] += 1;
        }
        self.discovery.views[service] = view;
        if changed {
            for position in 0..self.discovery.service_clients[service].len() {
                let client = self.discovery.service_clients[service][position];
                self.on_view_changed(client, now);
            }
        }
    }

    /// A registry outage begins or ends.
    pub(super) fn set_registry_outage(&mut self, starts: bool, now: u64) {
        if starts {
            self.discovery.registry_outages += 1;
            return;
        }
        self.discovery.registry_outages = self.discovery.registry_outages.saturating_sub(1);
        if self.registry_frozen() {
            return;
        }
        match self.model.registry {
            RegistryModel::Oracle | RegistryModel::Static => {
                for service in 0..self.model.services.len() {
                    self.refresh_shared_view(service, now);
                }
            }
            RegistryModel::Consul(_) => {
                for service in 0..self.model.services.len() {
                    self.consul_publish(service, now);
                }
            }
            RegistryModel::Eureka(_) => {} // heartbeats re-register what is alive
        }
    }

    /// Eureka: `slot` registers (or renews an existing lease).
    fn eureka_register(&mut self, slot: usize, now: u64) {
        let Some(registry) = self.discovery.registry.as_deref_mut() else {
            return;
        };
        registry.last_renewal[slot] = now;
        if !registry.registered[slot] {
            registry.registered[slot] = true;
            registry.expected_clients += 1;
            let service = self.replicas[slot].service as usize;
            registry.changed[service] = true;
            self.record_replica_event(now, "registered", slot, String::new());
        }
    }

    /// The instance of `slot` leaves the registry on a graceful shutdown.
    fn registry_cancel(&mut self, slot: usize, now: u64) {
        let Some(registry) = self.discovery.registry.as_deref_mut() else {
            return;
        };
        if registry.registered[slot] {
            registry.registered[slot] = false;
            registry.expected_clients = registry.expected_clients.saturating_sub(1);
            let service = self.replicas[slot].service as usize;
            registry.changed[service] = true;
            self.record_replica_event(now, "deregistered", slot, "shutdown".to_string());
        }
    }

    /// Eureka: a replica's heartbeat (only a running or hung replica sends one).
    #[cold]
    #[inline(never)]
    pub(super) fn on_heartbeat(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let RegistryModel::Eureka(config) = self.model.registry else {
            return;
        };
        let replica = &self.replicas[slot as usize];
        let renews = matches!(replica.health, Health::Up | Health::Hung) && !replica.terminating;
        if renews && !self.registry_frozen() {
            self.eureka_register(slot as usize, now);
            if let Some(registry) = self.discovery.registry.as_deref_mut() {
                registry.renewals_this_minute += 1;
            }
        }
        if self.discovery_continues(now) {
            queue.push(
                now.saturating_add(config.heartbeat),
                Event::Heartbeat { replica: slot },
            );
        }
    }

    /// A periodic task of the registry server.
    #[cold]
    #[inline(never)]
    pub(super) fn on_registry_timer(
        &mut self,
        which: RegistryTimer,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let period = match (self.model.registry, which) {
            (RegistryModel::Eureka(config), RegistryTimer::Eviction) => {
                self.eureka_evict(config, now);
                config.eviction_interval
            }
            (RegistryModel::Eureka(config), RegistryTimer::CacheRefresh) => {
                self.eureka_refresh_cache(now);
                config.response_cache
            }
            (RegistryModel::Eureka(_), RegistryTimer::RenewalBucket) => {
                if let Some(registry) = self.discovery.registry.as_deref_mut() {
                    registry.renewals_last_minute = registry.renewals_this_minute;
                    registry.renewals_this_minute = 0;
                }
                RENEWAL_BUCKET
            }
            (RegistryModel::Eureka(_), RegistryTimer::ThresholdUpdate) => {
                let frozen = self.registry_frozen();
                if let Some(registry) = self.discovery.registry.as_deref_mut() {
                    if !frozen {
                        registry.expected_clients =
                            registry.registered.iter().filter(|&&r| r).count() as u32;
                    }
                }
                THRESHOLD_UPDATE
            }
            (RegistryModel::Consul(config), RegistryTimer::Reap) => {
                self.consul_reap(config, now);
                CONSUL_REAP_INTERVAL
            }
            _ => return,
        };
        if self.discovery_continues(now) {
            queue.push(now.saturating_add(period), timer(which));
        }
    }

    /// Eureka's eviction task: expired leases go, unless self-preservation holds them.
    fn eureka_evict(&mut self, config: EurekaConfig, now: u64) {
        if self.registry_frozen() {
            return;
        }
        let Some(registry) = self.discovery.registry.as_deref_mut() else {
            return;
        };
        let per_minute = RENEWAL_BUCKET as f64 / config.heartbeat as f64;
        let threshold =
            (f64::from(registry.expected_clients) * per_minute * config.self_preservation).floor()
                as u64;
        let preserving =
            config.self_preservation > 0.0 && registry.renewals_last_minute < threshold;
        if preserving != registry.self_preserving {
            registry.self_preserving = preserving;
            let detail = format!(
                "{} (renewals in the last minute {}, threshold {threshold})",
                if preserving { "on" } else { "off" },
                registry.renewals_last_minute
            );
            self.recorder.event(&EventRecord {
                time: now,
                kind: "self_preservation",
                subject: "registry".to_string(),
                detail,
            });
        }
        if preserving {
            return;
        }
        let Some(registry) = self.discovery.registry.as_deref_mut() else {
            return;
        };
        let mut expired: Vec<usize> = (0..registry.registered.len())
            .filter(|&slot| {
                registry.registered[slot]
                    && now > registry.last_renewal[slot].saturating_add(2 * config.ttl)
            })
            .collect();
        let size = registry.registered.iter().filter(|&&r| r).count();
        let limit = size - (size as f64 * config.self_preservation).floor() as usize;
        if expired.len() > limit {
            // Eureka picks which to evict at random (a partial Knuth shuffle).
            for i in 0..limit {
                let j = registry.rng.random_range(i..expired.len());
                expired.swap(i, j);
            }
            expired.truncate(limit);
            expired.sort_unstable();
        }
        for slot in expired {
            let registry = self.discovery.registry.as_deref_mut().expect("registry");
            registry.registered[slot] = false;
            let service = self.replicas[slot].service as usize;
            registry.changed[service] = true;
            self.record_replica_event(now, "evicted", slot, "lease expired".to_string());
        }
    }

    /// Eureka's read-only response cache takes the registry's current content.
    fn eureka_refresh_cache(&mut self, now: u64) {
        if self.registry_frozen() {
            return;
        }
        for service in 0..self.model.services.len() {
            let registry = self.discovery.registry.as_deref_mut().expect("registry");
            if !std::mem::take(&mut registry.changed[service]) {
                continue;
            }
            if self.publish(service) {
                let count = self
                    .discovery
                    .registry
                    .as_deref()
                    .expect("registry")
                    .published[service]
                    .len();
                self.recorder.event(&EventRecord {
                    time: now,
                    kind: "registry_cache_refresh",
                    subject: self.model.services[service].name.clone(),
                    detail: format!("{count} instances"),
                });
            }
        }
    }

    /// Sets what clients fetch for `service` from the registry's instances (Eureka: every
    /// registered one; Consul: registered and passing). True when it changed.
    fn publish(&mut self, service: usize) -> bool {
        let first = self.first_replica[service] as usize;
        let slots = self.model.services[service].slots();
        let consul = matches!(self.model.registry, RegistryModel::Consul(_));
        let registry = self.discovery.registry.as_deref_mut().expect("registry");
        let shown = |slot: usize| registry.registered[slot] && (!consul || registry.passing[slot]);
        let fresh: Vec<u32> = (0..slots)
            .filter(|&index| shown(first + index))
            .map(|index| index as u32)
            .collect();
        if fresh == registry.published[service] {
            return false;
        }
        registry.published[service] = fresh;
        registry.published_version[service] += 1;
        true
    }

    /// Consul: publishes `service`; clients on blocking queries see the change at once.
    fn consul_publish(&mut self, service: usize, now: u64) {
        let RegistryModel::Consul(config) = self.model.registry else {
            return;
        };
        if self.registry_frozen() || !self.publish(service) {
            return;
        }
        if config.client_refresh == 0 {
            for position in 0..self.discovery.service_clients[service].len() {
                let client = self.discovery.service_clients[service][position];
                self.copy_published(client, now);
            }
        }
    }

    /// Consul: a replica's agent runs its service check.
    #[cold]
    #[inline(never)]
    pub(super) fn on_agent_check(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let RegistryModel::Consul(config) = self.model.registry else {
            return;
        };
        if !self.registry_frozen() {
            self.consul_check(slot as usize, now);
        }
        if self.discovery_continues(now) {
            queue.push(
                now.saturating_add(config.check_interval),
                Event::AgentCheck { replica: slot },
            );
        }
    }

    fn consul_check(&mut self, slot: usize, now: u64) {
        let replica = &self.replicas[slot];
        let (service, lifecycle) = (replica.service as usize, replica.lifecycle);
        let passes = replica.health == Health::Up;
        if replica.terminating {
            return; // its agent deregistered it on shutdown
        }
        let registry = self.discovery.registry.as_deref_mut().expect("registry");
        if !registry.registered[slot] {
            if lifecycle == Lifecycle::Off || !passes {
                return;
            }
            // The agent (re-)registers the instance; its check starts critical.
            registry.registered[slot] = true;
            registry.passing[slot] = false;
            registry.critical_since[slot] = now;
            self.record_replica_event(now, "registered", slot, String::new());
        }
        let registry = self.discovery.registry.as_deref_mut().expect("registry");
        if registry.passing[slot] == passes {
            return;
        }
        registry.passing[slot] = passes;
        if !passes {
            registry.critical_since[slot] = now;
        }
        let kind = if passes {
            "check_passing"
        } else {
            "check_critical"
        };
        self.record_replica_event(now, kind, slot, String::new());
        self.consul_publish(service, now);
    }

    /// Consul's reaper: instances critical for `deregister_after` are deregistered.
    fn consul_reap(&mut self, config: ConsulConfig, now: u64) {
        if self.registry_frozen() {
            return;
        }
        for slot in 0..self.replicas.len() {
            let registry = self.discovery.registry.as_deref_mut().expect("registry");
            if registry.registered[slot]
                && !registry.passing[slot]
                && now.saturating_sub(registry.critical_since[slot]) >= config.deregister_after
            {
                registry.registered[slot] = false;
                self.record_replica_event(
                    now,
                    "deregistered",
                    slot,
                    "critical too long".to_string(),
                );
            }
        }
    }

    /// A caller (replica slot, or workload after the slots) fetches the registry: each of its
    /// clients' views takes what is published now.
    #[cold]
    #[inline(never)]
    pub(super) fn on_view_fetch(&mut self, caller: u32, now: u64, queue: &mut EventQueue<Event>) {
        let period = match self.model.registry {
            RegistryModel::Eureka(config) => config.client_refresh,
            RegistryModel::Consul(config) => config.client_refresh,
            _ => return,
        };
        if !self.registry_frozen() {
            let clients = self.caller_clients(caller as usize);
            for client in clients {
                self.copy_published(client, now);
            }
        }
        if self.discovery_continues(now) && period > 0 {
            queue.push(now.saturating_add(period), Event::ViewFetch { caller });
        }
    }

    /// The clients of a caller: a replica slot's, or (after the slots) a workload's.
    fn caller_clients(&self, caller: usize) -> std::ops::Range<u32> {
        let slots = self.replicas.len();
        if caller < slots {
            let end = self
                .clients
                .client_base
                .get(caller + 1)
                .copied()
                .unwrap_or_else(|| self.clients.edge_client.first().copied().unwrap_or(0));
            self.clients.client_base[caller]..end
        } else {
            let client = self.clients.edge_client[caller - slots];
            client..client + 1
        }
    }

    /// Copies what is published for the client's service into its own view.
    fn copy_published(&mut self, client: u32, now: u64) {
        let service = self.clients.client_service[client as usize] as usize;
        let registry = self.discovery.registry.as_deref_mut().expect("registry");
        let version = registry.published_version[service];
        if registry.client_seen[client as usize] == version {
            return;
        }
        registry.client_seen[client as usize] = version;
        let view_id = self.discovery.client_view[client as usize] as usize;
        let view = &mut self.discovery.views[view_id];
        view.clear();
        view.extend_from_slice(&registry.published[service]);
        self.discovery.view_versions[view_id] += 1;
        let detail = format!("{} replicas", view.len());
        self.record_event(now, "view_refresh", client, None, detail);
        self.on_view_changed(client, now);
    }

    /// A client's view changed: replicas new to a client that health-checks start unhealthy
    /// until their first passing check (Envoy).
    fn on_view_changed(&mut self, client: u32, _now: u64) {
        let Some(health) = self.clients.guards[client as usize]
            .as_deref_mut()
            .and_then(|g| g.health.as_mut())
        else {
            return;
        };
        let view = &self.discovery.views[self.discovery.client_view[client as usize] as usize];
        for &replica in view {
            if !health.known[replica as usize] {
                health.known[replica as usize] = true;
                self.clients.balancers[client as usize].set_exclusion(
                    replica,
                    EXCLUDED_UNHEALTHY,
                    true,
                );
            }
        }
    }

    /// Records an event about replica `slot` (registry, scaling).
    pub(super) fn record_replica_event(
        &mut self,
        now: u64,
        kind: &'static str,
        slot: usize,
        detail: String,
    ) {
        let replica = &self.replicas[slot];
        let subject = format!(
            "{}#{}",
            self.model.services[replica.service as usize].name, replica.index
        );
        self.recorder.event(&EventRecord {
            time: now,
            kind,
            subject,
            detail,
        });
    }
}

fn timer(which: RegistryTimer) -> Event {
    Event::RegistryTimer { timer: which }
}
