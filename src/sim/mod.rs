//! The simulator: runs a [`Model`] on the [`crate::engine`], producing a [`RunResult`] and streams
//! of window rows and events for a [`Recorder`].
//!
//! The life of a request: a workload (or a job's call step) starts a *call*; the caller's
//! balancer picks a replica from its view and sends a *try*; the try travels the network and
//! becomes a *job* at the replica (worker, else queue, else `rejected`); the job computes, runs its
//! call steps, and responds; the response travels back. Timeouts, retries with backoff, and faults
//! cut into that flow. Every draw of a try's work comes from a stream keyed by the try's identity.

mod arena;
pub mod arrivals;
mod autoscale;
pub mod cause;
mod deadlines;
mod discovery;
mod event;
mod faults;
mod flow;
mod guards;
mod health;
mod histogram;
mod latency_log;
mod ops;
mod prefetch;
mod replica;
mod request;
pub mod stats;
mod windows;

#[cfg(test)]
mod tests;

pub use event::Event;
pub use stats::{
    EventRecord, LatencyStats, MemoryRecorder, NullRecorder, OutcomeCounts, Recorder, ReplicaRow,
    ServiceTotals, TraceEvent, TryKind, WindowCounters, WindowRow, EDGE_ROW,
};

use crate::engine::{
    self, derive_key, EventQueue, Lane, Process, RekeyableStream, StreamFactory, StreamKind,
};
use crate::model::hashing::HashTables;
use crate::model::{Arrival, BalancerState, Model};
use arena::Arena;
use arrivals::RateClock;
use deadlines::DeadlineQueue;
use rand::rngs::ChaCha8Rng;
use replica::Replica;
use request::{CallState, Job};
use std::collections::BTreeMap;

/// `caller_zone` / `caller_replica` value meaning "none".
const NONE: u32 = u32::MAX;

/// Events handled at one simulated instant before the run is stopped, besides
/// [`EVENTS_PER_INSTANT_PER_SOURCE`] per closed-loop user and trace row: more can only be a loop
/// in zero simulated time (closed-loop users with `think_time = const(0s)` whose requests fail
/// at once, with no network latency), which would otherwise run, and grow, forever. A real
/// instant needs a few events per request started at it, and at most every user and trace row
/// starts one at the same instant.
pub const MAX_EVENTS_PER_INSTANT: u64 = 1_000_000;

/// Events allowed at one instant per closed-loop user and per trace row (see
/// [`MAX_EVENTS_PER_INSTANT`]).
pub const EVENTS_PER_INSTANT_PER_SOURCE: u64 = 64;

/// The most events one instant of `model` may take (see [`MAX_EVENTS_PER_INSTANT`]).
pub fn events_per_instant_limit(model: &Model) -> u64 {
    let sources: u64 = model
        .workloads
        .iter()
        .map(|w| match &w.arrival {
            Arrival::Closed { users, .. } => u64::from(*users),
            Arrival::Trace(trace) => trace.times.len() as u64,
            Arrival::Poisson | Arrival::Constant => 0,
        })
        .sum();
    MAX_EVENTS_PER_INSTANT.saturating_add(sources.saturating_mul(EVENTS_PER_INSTANT_PER_SOURCE))
}

/// End-to-end requests in flight at once before the run is stopped: more means the offered load
/// far exceeds the capacity, with unbounded queues, and memory would grow without end (a few
/// hundred bytes a request: 10 million are some GB).
pub const MAX_IN_FLIGHT: u64 = 10_000_000;

/// The figures of one finished run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// End-to-end requests arriving in the measured interval.
    pub offered: u64,
    /// How the measured end-to-end requests ended.
    pub outcomes: OutcomeCounts,
    /// End-to-end latency of the measured requests that succeeded, nanoseconds.
    pub latency: LatencyStats,
    /// Per service, in model order.
    pub services: Vec<ServiceTotals>,
    /// Measured failed end-to-end requests by root cause (sums to the failures of `outcomes`).
    pub causes: cause::CauseCounts,
    /// Per workload, in model order: how its measured end-to-end requests ended.
    pub workload_outcomes: Vec<OutcomeCounts>,
    /// Events the engine handled.
    pub events_handled: u64,
    /// Simulated time at which the run ended, nanoseconds.
    pub end_time: u64,
    /// Why the run was stopped before its end (a loop in zero simulated time, a runaway number
    /// of requests in flight); `None` for a run that ended normally. The figures of a stopped
    /// run are partial and must not be reported as results.
    pub stopped: Option<String>,
}

impl RunResult {
    /// Succeeded over offered (1 when nothing was offered).
    pub fn availability(&self) -> f64 {
        if self.offered == 0 {
            1.0
        } else {
            self.outcomes.get(crate::model::Outcome::Succeeded) as f64 / self.offered as f64
        }
    }
}

/// Runtime state of one workload.
#[derive(Debug)]
struct WorkloadRuntime {
    /// Open loop: maps drawn work to arrival times.
    clock: Option<RateClock>,
    /// Open loop: the inter-arrival stream.
    rng: ChaCha8Rng,
    /// Open loop: requests sent so far.
    requests_sent: u64,
    /// Closed loop: each user's think-time stream and request count.
    users: Vec<(ChaCha8Rng, u64)>,
    /// The identity root of user 0's requests, every open-loop request's
    /// ([`flow::user_request_root`]): derived once, not for every request.
    user0_request_root: u64,
}

/// FIFO lanes and deadline queues, by the fixed delay their events follow.
#[derive(Debug)]
struct Lanes {
    /// Network hops.
    hops: Lane,
    /// Whole-call timeouts: the timeout (nanoseconds) and its deadline queue index per called
    /// service, then per policy set of each config change and called service (see
    /// [`Simulation::lane_index`]). The timeout is kept here, 16 bytes a service, so that
    /// starting a call does not read the policy's line for it (a cache miss on a big mesh).
    call_timeout: Vec<(u64, u32)>,
    /// Per-try timeouts: indexed like `call_timeout`.
    per_try_timeout: Vec<u32>,
    /// Hedge delays: indexed like `call_timeout`.
    hedge: Vec<u32>,
}

/// A model being simulated.
pub struct Simulation<'m, R: Recorder> {
    model: &'m Model,
    streams: StreamFactory,
    recorder: R,
    /// Every replica of every service, service by service.
    replicas: Vec<Replica>,
    /// Slot of each service's replica 0 in `replicas`.
    first_replica: Vec<u32>,
    /// Who each caller sees: views, registry caches, autoscalers.
    discovery: Discovery,
    /// Every (caller, called service) client: balancers, guards, and the tables that find them.
    clients: ClientTable,
    /// Calls, jobs and the timeouts armed for them.
    flight: InFlight,
    /// What is counted: totals, latency, windows.
    measure: Measurement,
    /// Scratch list reused by sweeps.
    scratch_replicas: Vec<u32>,
    /// Scratch list of a replica's jobs, reused when a crash or a kill drops them all.
    scratch_jobs: Vec<u32>,
    /// Scratch stream, re-keyed for every try's work.
    work_rng: RekeyableStream,
    workloads: Vec<WorkloadRuntime>,
    lanes: Lanes,
    /// Partition faults in force (fault indices).
    active_partitions: Vec<u32>,
    /// Whether the scenario has a `latency` fault (else no replica ever adds latency to a hop).
    has_latency_faults: bool,
    /// Whether a replica's jobs may be dropped all at once (a `crash` or `hang` fault, a
    /// deployment's termination: [`tracks_held_jobs`]), which reads which jobs it holds. Else
    /// only their number is read (gauges), and a job leaving its replica's list takes its last
    /// entry off instead of its own (no position to keep per job).
    tracks_held_jobs: bool,
    /// Traffic splits, deployments and config changes under way.
    ops: ops::Operations,
}

/// Discovery: which replicas each client balances over, and what keeps that up to date.
struct Discovery {
    /// Views (replica indices clients balance over): one per service, shared by its clients
    /// under the oracle and static registries; then, under Eureka and Consul, one per client.
    views: Vec<Vec<u32>>,
    /// Per view: bumped on every change of it.
    view_versions: Vec<u64>,
    /// Per client: the view it balances over.
    client_view: Vec<u32>,
    /// Per service: the clients that call it.
    service_clients: Vec<Vec<u32>>,
    /// Eureka or Consul state (`None` under the oracle and static registries).
    registry: Option<Box<discovery::RegistryState>>,
    /// Registry outages in force.
    registry_outages: u32,
    /// Per service: the autoscaler's state, if it is autoscaled.
    autoscalers: Vec<Option<autoscale::AutoscaleRuntime>>,
}

/// The clients (one per caller replica and called service, and one per workload entry) and the
/// tables that find a call's client.
struct ClientTable {
    /// Balancer state of every (caller, called service) client.
    balancers: Vec<BalancerState>,
    /// Consistent-hash tables, shared by clients balancing over the same replicas.
    hash_tables: HashTables,
    /// Whether requests draw a user key (some call uses `ring_hash` or `maglev`).
    draws_user_keys: bool,
    /// Per service: whether calls to it are balanced by plain `round_robin` (no traffic split,
    /// no zone-aware routing) under its own policy and every config change's, the pick
    /// `send_try` makes without the general path.
    plain_round_robin: Vec<bool>,
    /// Per service: the balancer that picks every try of a call to it when that is one kind
    /// that reads no weights and no key (`p2c`, `random`, `random2`, `least_request`,
    /// `least_conn`, `peak_ewma`) under its own policy and every config change's, with no
    /// traffic split and no zone-aware routing: `send_try` then picks without the general
    /// path, which reads three more lines of the service's settings (the split, the weights,
    /// the policy), each a cache miss on a big mesh.
    plain_unweighted: Vec<Option<crate::model::BalancerKind>>,
    /// Per service: whether a try of a call to it needs no check before it is sent: no
    /// per-try timeout, no hedging, no bulkhead, no connection pool, under its own policy and
    /// every config change's. (The client's guards are checked apart.)
    plain_tries: Vec<bool>,
    /// Per service: whether a client calling it may balance by `peak_ewma` (under its own
    /// policy or a config change's), the one balancer that observes each try's round trip;
    /// else a try's end does not read the policy.
    observes_rtt: Vec<bool>,
    /// Per service: whether a call to it may propagate its deadline (under its own policy or
    /// a config change's), else a job's deadline is none without looking the policy up.
    may_propagate_deadlines: Vec<bool>,
    /// Per service: zoned workloads calling it, per zone (zone-aware routing at the edge).
    edge_zone_counts: Vec<Vec<u32>>,
    /// Per replica slot: index of its first client in `balancers`.
    client_base: Vec<u32>,
    /// Per workload: its client in `balancers`.
    edge_client: Vec<u32>,
    /// Per workload: for a trace naming entry endpoints, the client of each (by the trace's
    /// endpoint index); empty otherwise.
    trace_clients: Vec<Vec<u32>>,
    /// Per client: breaker, outlier detector, retry budget (`None` where nothing is configured,
    /// so the hot path pays one pointer check).
    guards: Vec<Option<Box<guards::ClientGuards>>>,
    /// Per client: the service it calls.
    client_service: Vec<u32>,
    /// Per client: who it is, for events (`gateway#0`, `workload:readers`).
    client_names: Vec<String>,
    /// Per client: the zone of the caller (`NONE` for a workload without a zone).
    client_zone: Vec<u32>,
    /// Per endpoint, per call index: offset of the called service among the caller's clients.
    call_client_offset: Vec<Vec<u32>>,
    /// Per endpoint, per step: index of the step's first call.
    step_first_call: Vec<Vec<u32>>,
    /// Per endpoint: the call mask of every try when each of its calls is certain (probability
    /// at least 1, so that no try draws a coin for it): a try then takes the mask as it is
    /// instead of walking its steps' calls. `None` where some call is left to chance.
    certain_call_mask: Vec<Option<u128>>,
}

/// What is under way: calls and their tries, jobs on replicas, and their timeouts.
struct InFlight {
    calls: Arena<CallState>,
    /// Per client: tries waiting for a connection (used only with `max_connections`).
    pending: Vec<request::PendingQueue>,
    jobs: Arena<Job>,
    /// What each job slot's try hands on to its first call (by job slot, beside `jobs`).
    job_lineage: Vec<request::Lineage>,
    /// Each job slot's position in its replica's list of jobs present (by job slot, beside
    /// `jobs`: taking a job off that list moves another job, and writing the moved job's new
    /// position into this small table stays in cache where writing into the job did not).
    job_positions: Vec<u32>,
    /// Armed timeouts, one queue per distinct delay.
    deadlines: Vec<DeadlineQueue>,
    /// Causes travelling back with failed responses (by call slot; grown only on failures).
    call_causes: Vec<cause::CallCauses>,
    /// The cause of each job's first failed required call, with the job's generation (by job
    /// slot; grown only on failures).
    job_causes: Vec<cause::Stamped>,
}

/// The run's measurements: end-to-end totals and latency, per-service totals, windows.
struct Measurement {
    /// Measured interval `[warmup, duration)`, nanoseconds.
    measured: (u64, u64),
    /// Measured end-to-end requests not yet ended.
    measured_in_flight: u64,
    offered: u64,
    outcomes: OutcomeCounts,
    /// Measured failures by root cause.
    causes: cause::CauseCounts,
    /// Per workload: how its measured requests ended.
    workload_outcomes: Vec<OutcomeCounts>,
    latency: LatencyStats,
    service_totals: Vec<ServiceTotals>,
    windows: Vec<WindowCounters>,
    /// Succeeded jobs' latencies not yet counted in `windows` and `service_totals` (big
    /// topologies only): applied before either is read.
    latency_log: latency_log::LatencyLog,
    /// End-to-end counters of the current window (requests entering and ending at the edge).
    edge_window: WindowCounters,
    /// End-to-end requests under way (measured or not).
    edge_in_flight: u64,
    /// Start of the current window, nanoseconds.
    window_start: u64,
    /// End of the current window (`window_start` plus the window's width, saturating),
    /// nanoseconds: the one comparison the event loop makes for windows.
    window_end: u64,
    /// The simulated instant of the latest event, and the events handled at it so far.
    instant: (u64, u64),
    /// Events one instant may take ([`events_per_instant_limit`]).
    instant_limit: u64,
    /// Why the run must stop early, once it must (see [`RunResult::stopped`]).
    stopped: Option<String>,
    /// Time from which the run may be finished, nanoseconds: the end of the load
    /// (`duration`), or 0 once the run must stop. One comparison per event in
    /// [`Process::finished`] before anything else is read.
    finish_from: u64,
}

impl Measurement {
    /// Counts the logged latencies at their services (see [`latency_log`]).
    fn apply_latency_log(&mut self) {
        self.latency_log
            .apply(&mut self.windows, &mut self.service_totals);
    }
}

impl<'m, R: Recorder> Simulation<'m, R> {
    /// Prepares a run of `model` whose rows and events go to `recorder`.
    pub fn new(model: &'m Model, recorder: R, queue: &mut EventQueue<Event>) -> Self {
        let streams = StreamFactory::new(model.seed);
        let (replicas, first_replica) = build_replicas(model);
        let mut views: Vec<Vec<u32>> = model
            .services
            .iter()
            .map(|s| (0..s.replicas as u32).collect())
            .collect();
        let downstream = downstream_services(model);
        let mut balancers = Vec::new();
        let mut clients = Clients::default();
        let mut client_base = Vec::with_capacity(replicas.len());
        for (slot, replica) in replicas.iter().enumerate() {
            client_base.push(balancers.len() as u32);
            for &target in &downstream[replica.service as usize] {
                let identity = derive_key(slot as u64, target as u64);
                let rng = streams.rekeyable(StreamKind::Client, identity);
                balancers.push(BalancerState::new(model.services[target].slots(), rng));
                let name = format!(
                    "{}#{}",
                    model.services[replica.service as usize].name, replica.index
                );
                clients.add(model, target, name, replica.zone);
            }
        }
        let mut edge_client = Vec::new();
        let mut trace_clients = Vec::new();
        for (index, workload) in model.workloads.iter().enumerate() {
            edge_client.push(balancers.len() as u32);
            let service = model.endpoints[workload.target].service;
            let rng = streams.rekeyable(StreamKind::Client, derive_key(u64::MAX, index as u64));
            balancers.push(BalancerState::new(model.services[service].slots(), rng));
            let zone = workload.zone.map_or(NONE, |z| z as u32);
            clients.add(model, service, format!("workload:{}", workload.name), zone);
            trace_clients.push(Vec::new());
            if let Arrival::Trace(trace) = &workload.arrival {
                // One client per service the trace enters at (the target's is the one above).
                let mut by_service = vec![(service, balancers.len() as u32 - 1)];
                for &endpoint in &trace.endpoints {
                    let entry = model.endpoints[endpoint].service;
                    let client = match by_service.iter().find(|(s, _)| *s == entry) {
                        Some(&(_, client)) => client,
                        None => {
                            let key = derive_key(derive_key(u64::MAX, index as u64), entry as u64);
                            let rng = streams.rekeyable(StreamKind::Client, key);
                            balancers.push(BalancerState::new(model.services[entry].slots(), rng));
                            let name = format!("workload:{}", workload.name);
                            clients.add(model, entry, name, zone);
                            by_service.push((entry, balancers.len() as u32 - 1));
                            balancers.len() as u32 - 1
                        }
                    };
                    trace_clients[index].push(client);
                }
            }
        }
        let client_view = if model.registry.has_client_caches() {
            (0..clients.service.len())
                .map(|client| {
                    views.push(views[clients.service[client] as usize].clone());
                    (views.len() - 1) as u32
                })
                .collect()
        } else {
            clients.service.clone()
        };
        let registry = model.registry.has_client_caches().then(|| {
            Box::new(discovery::RegistryState::new(
                model,
                replicas.len(),
                clients.service.len(),
                &streams,
            ))
        });
        let service_clients = discovery::clients_by_service(model, &clients.service);
        let autoscalers = model
            .services
            .iter()
            .map(|s| {
                s.autoscale
                    .as_ref()
                    .map(|_| autoscale::AutoscaleRuntime::new(s))
            })
            .collect();
        let (call_client_offset, step_first_call) = call_tables(model, &downstream);
        let (lanes, deadline_queues) = build_lanes(model, queue);
        let workloads = build_workloads(model, &streams);
        let client_count = balancers.len();
        Simulation {
            model,
            work_rng: streams.rekeyable(StreamKind::Work, 0),
            streams,
            recorder,
            replicas,
            first_replica,
            discovery: Discovery {
                view_versions: vec![0; views.len()],
                views,
                client_view,
                service_clients,
                registry,
                registry_outages: 0,
                autoscalers,
            },
            clients: ClientTable {
                balancers,
                hash_tables: HashTables::default(),
                draws_user_keys: model
                    .services
                    .iter()
                    .map(|s| &s.policy)
                    .chain(model.changes.iter().flat_map(|c| &c.policies))
                    .any(|p| p.balancer.is_consistent_hash()),
                // The fast paths hold only where every policy a client may switch to (the
                // scenario's and every `[[change]]`'s) qualifies.
                plain_round_robin: (0..model.services.len())
                    .map(|index| {
                        policies_of(model, index).all(|policy| {
                            policy.balancer == crate::model::BalancerKind::RoundRobin
                                && policy.zone_aware.is_none()
                        }) && model.services[index].traffic.is_none()
                    })
                    .collect(),
                plain_unweighted: (0..model.services.len())
                    .map(|index| plain_unweighted_balancer(model, index))
                    .collect(),
                plain_tries: (0..model.services.len())
                    .map(|index| {
                        policies_of(model, index).all(|policy| {
                            policy.retries.per_try_timeout.is_none()
                                && policy.hedge.is_none()
                                && policy.max_requests.is_none()
                                && policy.max_connections.is_none()
                        })
                    })
                    .collect(),
                observes_rtt: (0..model.services.len())
                    .map(|index| {
                        policies_of(model, index)
                            .any(|policy| policy.balancer == crate::model::BalancerKind::PeakEwma)
                    })
                    .collect(),
                may_propagate_deadlines: (0..model.services.len())
                    .map(|index| {
                        policies_of(model, index).any(|policy| policy.deadline_propagation)
                    })
                    .collect(),
                edge_zone_counts: edge_zone_counts(model),
                client_base,
                edge_client,
                trace_clients,
                guards: clients.guards,
                client_service: clients.service,
                client_names: clients.names,
                client_zone: clients.zone,
                call_client_offset,
                step_first_call,
                certain_call_mask: model.endpoints.iter().map(certain_call_mask).collect(),
            },
            flight: InFlight {
                calls: Arena::default(),
                pending: (0..client_count)
                    .map(|_| request::PendingQueue::default())
                    .collect(),
                jobs: Arena::default(),
                job_lineage: Vec::new(),
                job_positions: Vec::new(),
                deadlines: (0..deadline_queues)
                    .map(|_| DeadlineQueue::default())
                    .collect(),
                call_causes: Vec::new(),
                job_causes: Vec::new(),
            },
            measure: Measurement {
                measured: (model.warmup, model.duration),
                measured_in_flight: 0,
                offered: 0,
                outcomes: OutcomeCounts::default(),
                causes: cause::CauseCounts::default(),
                workload_outcomes: vec![OutcomeCounts::default(); model.workloads.len()],
                latency: LatencyStats::default(),
                service_totals: vec![ServiceTotals::default(); model.services.len()],
                windows: vec![WindowCounters::default(); model.services.len()],
                latency_log: latency_log::LatencyLog::for_services(model.services.len()),
                edge_window: WindowCounters::default(),
                edge_in_flight: 0,
                window_start: 0,
                window_end: model.window,
                instant: (0, 0),
                instant_limit: events_per_instant_limit(model),
                stopped: None,
                finish_from: model.duration,
            },
            scratch_replicas: Vec::new(),
            scratch_jobs: Vec::new(),
            workloads,
            lanes,
            active_partitions: Vec::new(),
            has_latency_faults: model
                .faults
                .iter()
                .any(|fault| matches!(fault.kind, crate::model::FaultKind::Latency { .. })),
            tracks_held_jobs: tracks_held_jobs(model),
            ops: ops::Operations::default(),
        }
    }

    /// Schedules the first arrivals and the faults.
    fn prime(&mut self, queue: &mut EventQueue<Event>) {
        for index in 0..self.model.workloads.len() {
            match &self.model.workloads[index].arrival {
                Arrival::Closed { users, think_time } => {
                    for user in 0..*users {
                        let rng = &mut self.workloads[index].users[user as usize].0;
                        let at = think_time.sample(rng);
                        queue.push(
                            at,
                            Event::UserWakes {
                                workload: index as u32,
                                user,
                            },
                        );
                    }
                }
                Arrival::Poisson | Arrival::Constant | Arrival::Trace(_) => {
                    self.schedule_next_arrival(index, queue);
                }
            }
        }
        for (client, guards) in self.clients.guards.iter().enumerate() {
            if guards.as_ref().is_some_and(|g| g.outlier.is_some()) {
                let service = self.clients.client_service[client] as usize;
                let interval = self.model.services[service]
                    .policy
                    .outlier_detection
                    .as_ref()
                    .map_or(u64::MAX, |p| p.interval);
                queue.push(
                    interval,
                    Event::OutlierSweep {
                        client: client as u32,
                    },
                );
            }
        }
        self.prime_discovery(queue);
        self.prime_autoscale(queue);
        self.prime_operations(queue);
        for (index, fault) in self.model.faults.iter().enumerate() {
            queue.push(
                fault.at,
                Event::FaultStarts {
                    fault: index as u32,
                },
            );
            if let Some(until) = fault.until.filter(|&until| until > fault.at) {
                queue.push(
                    until,
                    Event::FaultEnds {
                        fault: index as u32,
                    },
                );
            }
        }
    }

    /// Runs to the end: load offered during `[0, duration)`, then until every measured request has
    /// ended. Returns the figures and the recorder.
    pub fn run(model: &'m Model, recorder: R) -> (RunResult, R) {
        let mut queue = EventQueue::new();
        let mut simulation = Simulation::new(model, recorder, &mut queue);
        simulation.prime(&mut queue);
        let longest_timeout = model
            .services
            .iter()
            .map(|s| &s.policy)
            .chain(model.changes.iter().flat_map(|c| &c.policies))
            .map(|p| p.timeout.min(crate::engine::time::LONGEST))
            .max()
            .unwrap_or(0);
        let bound = model
            .duration
            .saturating_add(longest_timeout)
            .saturating_add(1);
        let stats = engine::run(&mut simulation, &mut queue, bound);
        simulation.finish(stats.end_time.max(model.duration), stats.events)
    }

    /// The slot of the replica `index` of service `service` (for trace recorders: a
    /// [`TraceEvent`]'s replica slot is in this numbering).
    pub fn replica_slot_table(model: &Model) -> Vec<(u32, u32)> {
        build_replicas(model)
            .0
            .iter()
            .map(|r| (r.service, r.index))
            .collect()
    }

    fn finish(mut self, end_time: u64, events_handled: u64) -> (RunResult, R) {
        self.advance_windows(end_time, true);
        for replica in &mut self.replicas {
            replica.integrate_busy(end_time, self.measure.measured);
            if replica.lifecycle == replica::Lifecycle::Running {
                replica.add_running_time(end_time, self.measure.measured);
            }
            let totals = &mut self.measure.service_totals[replica.service as usize];
            totals.busy_worker_nanos += replica.busy_worker_nanos;
            totals.capacity_worker_nanos +=
                replica.running_measured_nanos * f64::from(replica.workers);
        }
        for call in self.flight.calls.live() {
            if call.measured {
                self.measure.service_totals[call.service as usize].tries_in_flight_at_end +=
                    u64::from(call.live_tries);
            }
        }
        let result = RunResult {
            offered: self.measure.offered,
            outcomes: self.measure.outcomes,
            causes: self.measure.causes,
            workload_outcomes: self.measure.workload_outcomes,
            latency: self.measure.latency,
            services: self.measure.service_totals,
            events_handled,
            end_time,
            stopped: self.measure.stopped,
        };
        (result, self.recorder)
    }
}

impl<R: Recorder> Process for Simulation<'_, R> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, now: u64, event: Event, queue: &mut EventQueue<Event>) {
        if now == self.measure.instant.0 {
            self.measure.instant.1 += 1;
            if self.measure.instant.1 > self.measure.instant_limit {
                self.stop_without_progress(now);
            }
        } else {
            self.measure.instant = (now, 1);
        }
        if now >= self.measure.window_end {
            self.advance_windows(now, false);
        }
        match event {
            Event::WorkloadArrival { workload } => self.on_workload_arrival(workload, now, queue),
            Event::UserWakes { workload, user } => self.on_user_wakes(workload, user, now, queue),
            Event::TryArrives { job, generation } => {
                self.on_try_arrives(job, generation, now, queue)
            }
            Event::ComputeDone { job, generation } => {
                self.on_compute_done(job, generation, now, queue)
            }
            Event::TryResponse {
                call,
                generation,
                try_number,
                outcome,
            } => self.on_try_response(call, generation, try_number, outcome, now, queue),
            Event::DeadlineSweep { queue: index } => {
                self.on_deadline_sweep(index as usize, now, queue)
            }
            Event::RetryDue { call, generation } => self.on_retry_due(call, generation, now, queue),
            Event::OutlierSweep { client } => self.on_outlier_sweep(client, now, queue),
            Event::CallDeadline { call, generation } => {
                self.on_call_timeout(call, generation, now, queue)
            }
            Event::Heartbeat { replica } => self.on_heartbeat(replica, now, queue),
            Event::AgentCheck { replica } => self.on_agent_check(replica, now, queue),
            Event::RegistryTimer { timer } => self.on_registry_timer(timer, now, queue),
            Event::ViewFetch { caller } => self.on_view_fetch(caller, now, queue),
            Event::HealthCheckRound { client } => self.on_health_check_round(client, now, queue),
            Event::HealthCheckReplica {
                client,
                replica,
                timed_out,
            } => self.on_health_check_replica(client, replica, timed_out, now, queue),
            Event::AutoscaleSync { service } => self.on_autoscale_sync(service, now, queue),
            Event::ReplicaReady { replica, start } => {
                self.on_replica_ready(replica, start, now, queue)
            }
            Event::FaultStarts { fault } => self.on_fault_starts(fault as usize, now, queue),
            Event::FaultEnds { fault } => self.on_fault_ends(fault as usize, now, queue),
            Event::Operation { kind, index, arg } => {
                self.on_operation(kind, index, arg, now, queue)
            }
        }
    }

    #[inline]
    fn finished(&self, now: u64) -> bool {
        // `finish_from` is 0 once stopped: then the second test holds whatever `now` is.
        now >= self.measure.finish_from
            && (self.measure.measured_in_flight == 0 || self.measure.stopped.is_some())
    }

    fn prefetches(&self) -> bool {
        // Asked once per run: computed, not kept (a field here moved the tier chain's hot
        // fields and cost it L1 misses under callgrind).
        prefetch::prefetches(self.model.services.len())
    }

    #[inline(always)]
    fn prefetch(&self, current: &Event, following: Option<&Event>) {
        self.prefetch_for(current, following);
    }
}

impl<R: Recorder> Simulation<'_, R> {
    /// Stops the run: too many events at `now` without time advancing.
    #[cold]
    fn stop_without_progress(&mut self, now: u64) {
        let limit = self.measure.instant_limit;
        self.measure.finish_from = 0;
        self.measure.stopped.get_or_insert_with(|| {
            format!(
                "the run stopped at simulated time {} s: a loop in zero time: {limit} events \
                 without time advancing (such as closed-loop users with think_time = \
                 const(0s) whose requests fail at once); give think_time, the network latency \
                 or the service time a duration above 0",
                crate::engine::time::nanos_to_seconds(now)
            )
        });
    }

    /// Stops the run: more than [`MAX_IN_FLIGHT`] end-to-end requests under way at `now`.
    #[cold]
    fn stop_runaway(&mut self, now: u64) {
        self.measure.finish_from = 0;
        self.measure.stopped.get_or_insert_with(|| {
            format!(
                "the run stopped at simulated time {} s: runaway load: more than \
                 {MAX_IN_FLIGHT} requests in flight (the offered load far exceeds the capacity, \
                 and queues are unbounded); bound the queues (queue = N), add timeouts or lower \
                 the rate",
                crate::engine::time::nanos_to_seconds(now)
            )
        });
    }
}

/// Whether a run of `model` may drop every job a replica holds at once (`drop_all_jobs`: a
/// `crash` or `hang` fault, or a deployment's replica killed at the end of its grace period),
/// the one reader of which jobs a replica holds.
fn tracks_held_jobs(model: &Model) -> bool {
    use crate::model::FaultKind;
    !model.deployments.is_empty()
        || model
            .faults
            .iter()
            .any(|fault| matches!(fault.kind, FaultKind::Crash | FaultKind::Hang))
}

/// Per-client tables built alongside the balancers.
#[derive(Default)]
struct Clients {
    guards: Vec<Option<Box<guards::ClientGuards>>>,
    service: Vec<u32>,
    names: Vec<String>,
    zone: Vec<u32>,
}

impl Clients {
    /// Adds the client `name` of `service`, with the governance state its policy asks for.
    fn add(&mut self, model: &Model, service: usize, name: String, zone: u32) {
        let spec = &model.services[service];
        let policy = &spec.policy;
        let guards = guards::ClientGuards {
            breaker: policy
                .circuit_breaker
                .as_ref()
                .map(crate::model::CircuitBreaker::new),
            outlier: policy
                .outlier_detection
                .as_ref()
                .map(|_| crate::model::OutlierDetector::new(spec.slots())),
            budget: policy
                .retries
                .budget
                .as_ref()
                .map(crate::model::RetryBudgetState::new),
            health: policy
                .health_check
                .map(|_| health::ActiveHealth::new(spec.slots(), spec.replicas)),
        };
        let configured = guards.breaker.is_some()
            || guards.outlier.is_some()
            || guards.budget.is_some()
            || guards.health.is_some();
        self.guards.push(configured.then(|| Box::new(guards)));
        self.service.push(service as u32);
        self.names.push(name);
        self.zone.push(zone);
    }
}

/// Per service: how many workloads with a zone call it, per zone.
fn edge_zone_counts(model: &Model) -> Vec<Vec<u32>> {
    let mut counts = vec![vec![0; model.zones.len()]; model.services.len()];
    for workload in &model.workloads {
        if let Some(zone) = workload.zone {
            counts[model.endpoints[workload.target].service][zone] += 1;
        }
    }
    counts
}

/// Replicas of every service, and the slot of each service's first replica.
fn build_replicas(model: &Model) -> (Vec<Replica>, Vec<u32>) {
    let mut replicas = Vec::new();
    let mut first_replica = Vec::new();
    for (service_index, service) in model.services.iter().enumerate() {
        first_replica.push(replicas.len() as u32);
        for index in 0..service.slots() {
            let mut replica = Replica::new(
                service_index as u32,
                index as u32,
                service.replica_zones[index] as u32,
                service.workers,
                service.queue_capacity,
            );
            if index >= service.replicas {
                replica.lifecycle = replica::Lifecycle::Off;
                replica.health = replica::Health::Stopped;
                replica.ever_ready = false;
            }
            let version = service.replica_versions.get(index).copied().unwrap_or(0);
            replica.version = version;
            replica.autoscaled = service.autoscaled_slot(index);
            replica.base_error_rate = service.error_rate;
            replica.rate_limited = service.rate_limit.is_some();
            replica.async_concurrency = service.concurrency == crate::model::Concurrency::Async;
            replica.deadlines_arrive =
                policies_of(model, service_index).any(|policy| policy.deadline_propagation);
            if let Some(spec) = service.versions.get(version as usize) {
                replica.overrides_service_time = spec.service_time.is_some();
                if service.has_versions() {
                    replica.base_error_rate = spec.error_rate;
                }
            }
            replica.combine_error_rates();
            replicas.push(replica);
        }
    }
    (replicas, first_replica)
}

/// Per service: the distinct services its endpoints call, in first-call order.
fn downstream_services(model: &Model) -> Vec<Vec<usize>> {
    let mut downstream = vec![Vec::new(); model.services.len()];
    for endpoint in &model.endpoints {
        for call in endpoint.steps.iter().flat_map(|step| &step.calls) {
            let target = model.endpoints[call.target].service;
            let list: &mut Vec<usize> = &mut downstream[endpoint.service];
            if !list.contains(&target) {
                list.push(target);
            }
        }
    }
    downstream
}

/// The call mask every try of `endpoint` gets when all its calls are certain (see
/// [`ClientTable::certain_call_mask`]): bits `0..calls` set, as the draw would set them.
fn certain_call_mask(endpoint: &crate::model::Endpoint) -> Option<u128> {
    let mut calls = endpoint.steps.iter().flat_map(|step| &step.calls);
    let count = calls.clone().count();
    // At most 128 calls per endpoint (the mask's bits; the scenario checks say so).
    (count <= 128 && calls.all(|call| call.probability >= 1.0))
        .then(|| u128::MAX.checked_shr(128 - count as u32).unwrap_or(0))
}

/// Per endpoint: each call's client offset, and each step's first call index.
fn call_tables(model: &Model, downstream: &[Vec<usize>]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let mut offsets = Vec::with_capacity(model.endpoints.len());
    let mut firsts = Vec::with_capacity(model.endpoints.len());
    for endpoint in &model.endpoints {
        let services = &downstream[endpoint.service];
        let mut endpoint_offsets = Vec::new();
        let mut step_firsts = Vec::new();
        for step in &endpoint.steps {
            step_firsts.push(endpoint_offsets.len() as u32);
            for call in &step.calls {
                let target = model.endpoints[call.target].service;
                let offset = services.iter().position(|&s| s == target).unwrap_or(0);
                endpoint_offsets.push(offset as u32);
            }
        }
        offsets.push(endpoint_offsets);
        firsts.push(step_firsts);
    }
    (offsets, firsts)
}

/// The hop lane, and a deadline queue per distinct timeout value (returns their count).
fn build_lanes(model: &Model, queue: &mut EventQueue<Event>) -> (Lanes, usize) {
    let hops = queue.add_lane();
    let mut by_delay: BTreeMap<u64, u32> = BTreeMap::new();
    let mut index_for = |delay: u64| {
        let next = by_delay.len() as u32;
        *by_delay.entry(delay).or_insert(next)
    };
    let mut call_timeout = Vec::new();
    let mut per_try_timeout = Vec::new();
    let mut hedge = Vec::new();
    for service in &model.services {
        let hedge_after = service
            .policy
            .hedge
            .map_or(service.policy.timeout, |h| h.after);
        hedge.push(index_for(hedge_after));
        call_timeout.push((service.policy.timeout, index_for(service.policy.timeout)));
        let per_try = service
            .policy
            .retries
            .per_try_timeout
            .unwrap_or(service.policy.timeout);
        per_try_timeout.push(index_for(per_try));
    }
    // After the scenario's own, the queues of each change's policies (set k at k × services).
    for change in &model.changes {
        for policy in &change.policies {
            hedge.push(index_for(policy.hedge.map_or(policy.timeout, |h| h.after)));
            call_timeout.push((policy.timeout, index_for(policy.timeout)));
            let per_try = policy.retries.per_try_timeout.unwrap_or(policy.timeout);
            per_try_timeout.push(index_for(per_try));
        }
    }
    (
        Lanes {
            hops,
            call_timeout,
            per_try_timeout,
            hedge,
        },
        by_delay.len(),
    )
}

fn build_workloads(model: &Model, streams: &StreamFactory) -> Vec<WorkloadRuntime> {
    model
        .workloads
        .iter()
        .enumerate()
        .map(|(index, workload)| {
            let identity = derive_key(index as u64, u64::MAX);
            let users = match &workload.arrival {
                Arrival::Closed { users, .. } => (0..u64::from(*users))
                    .map(|user| {
                        let key = derive_key(index as u64, user);
                        (streams.stream(StreamKind::Arrivals, key), 0)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let clock = match workload.arrival {
                Arrival::Closed { .. } | Arrival::Trace(_) => None,
                _ => Some(RateClock::new(workload, model.duration)),
            };
            WorkloadRuntime {
                clock,
                rng: streams.stream(StreamKind::Arrivals, identity),
                requests_sent: 0,
                users,
                user0_request_root: flow::user_request_root(index as u32, 0),
            }
        })
        .collect()
}

/// The call policies calls to service `index` may run under: the scenario's, then each
/// `[[change]]`'s.
/// The balancer kind for [`ClientTable::plain_unweighted`] (`None`: the pick needs the
/// general path, or plain round robin's).
fn plain_unweighted_balancer(model: &Model, index: usize) -> Option<crate::model::BalancerKind> {
    use crate::model::BalancerKind;
    let kind = model.services[index].policy.balancer;
    let unweighted = matches!(
        kind,
        BalancerKind::PowerOfTwoChoices
            | BalancerKind::Random
            | BalancerKind::Random2
            | BalancerKind::LeastRequest
            | BalancerKind::LeastConn
            | BalancerKind::PeakEwma
    );
    let plain = policies_of(model, index)
        .all(|policy| policy.balancer == kind && policy.zone_aware.is_none())
        && model.services[index].traffic.is_none();
    (unweighted && plain).then_some(kind)
}

fn policies_of(model: &Model, index: usize) -> impl Iterator<Item = &crate::model::CallPolicy> {
    std::iter::once(&model.services[index].policy).chain(
        model
            .changes
            .iter()
            .map(move |change| &change.policies[index]),
    )
}
