//! The request life cycle: arrivals at the edge, calls and their tries, jobs at replicas.

use super::arena::Arena;
use super::cause::{self, Cause, GaveUp, TryCause, NO_INDEX};
use super::deadlines::{Deadline, DeadlineKind};
use super::request::{
    CallPhase, CallState, Job, Lineage, Parent, PendingTry, IDLE, LOCAL, PENDING, TRY_LANES,
};
use super::{ops, Event, Recorder, Simulation, TraceEvent, TryKind, NONE};
use crate::engine::chacha::{LINEAGE_WORDS, OWN_WORDS};
use crate::engine::{derive_key, EventQueue, StreamKind};
use crate::model::zones::{Originating, ZoneRequest};
use crate::model::{Arrival, Dist, FaultKind, Jitter, Outcome};
use rand::RngExt;
use rand_distr::{Distribution, Exp1};

/// Identity root of end-to-end requests (keeps their keys apart from other derived keys).
const REQUEST_ROOT: u64 = 0x6d65_7368_7369_6d00;

/// The identity root of the requests of `workload`'s `user` (0 for open loop): a request's key
/// derives from it and the request's number.
pub(super) fn user_request_root(workload: u32, user: u32) -> u64 {
    derive_key(
        derive_key(REQUEST_ROOT, u64::from(workload)),
        u64::from(user),
    )
}

/// What a call needs to start.
struct CallStart {
    parent: Parent,
    optional: bool,
    client: u32,
    caller_zone: u32,
    caller_replica: u32,
    endpoint: u32,
    key: u64,
    /// The end-to-end request's user key.
    user_key: u64,
    measured: bool,
    /// A deadline propagated from the parent job (`u64::MAX`: none), nanoseconds.
    inherited_deadline: u64,
    /// Whether it is its parent job's call index 0 (see [`CallState::first_child`]).
    first_child: bool,
}

/// A try answered locally, without leaving the caller (refused, circuit open): delivered as an
/// event at `now`, so that a call never ends inside the step that starts it.
fn answer_at_once(
    call: u32,
    generation: u32,
    try_number: u32,
    outcome: Outcome,
    now: u64,
    queue: &mut EventQueue<Event>,
) {
    queue.push(
        now,
        Event::TryResponse {
            call,
            generation,
            try_number,
            outcome,
        },
    );
}

/// Whether firing `deadline` would still act: its call is alive and, for a per-try timeout, the
/// try is in flight; for a hedge, the try is still the latest in flight. Once false, never true
/// again (slots change generation when freed; try numbers only grow).
fn deadline_is_live(calls: &Arena<CallState>, deadline: &Deadline) -> bool {
    let call = calls.get(deadline.call, deadline.generation);
    match deadline.kind {
        DeadlineKind::Call => call.is_some(),
        DeadlineKind::Try => call.is_some_and(|call| call.is_in_flight(deadline.try_number)),
        DeadlineKind::Hedge => {
            call.is_some_and(|call| call.is_latest_in_flight(deadline.try_number))
        }
    }
}

/// How many of a step's `len` calls, the first at bit `first` of `call_mask`, are enabled.
#[inline]
fn enabled_calls(call_mask: u128, first: u32, len: usize) -> u32 {
    let step_mask = u128::MAX.checked_shr(128 - len as u32).unwrap_or(0);
    let step_bits = call_mask.checked_shr(first).unwrap_or(0) & step_mask;
    if step_bits == step_mask {
        len as u32 // every call enabled, the usual case (a bit count is a loop without POPCNT)
    } else {
        step_bits.count_ones()
    }
}

fn is_pending(calls: &Arena<CallState>, entry: &PendingTry) -> bool {
    calls.get(entry.call, entry.generation).is_some_and(|call| {
        call.is_in_flight(entry.try_number)
            && call.lanes[entry.try_number as usize % TRY_LANES] == PENDING
    })
}

impl<R: Recorder> Simulation<'_, R> {
    // ----- the edge -------------------------------------------------------------------------

    pub(super) fn schedule_next_arrival(&mut self, workload: usize, queue: &mut EventQueue<Event>) {
        let runtime = &mut self.workloads[workload];
        let work = match &self.model.workloads[workload].arrival {
            Arrival::Poisson => Exp1.sample(&mut runtime.rng),
            Arrival::Trace(trace) => {
                let next = trace.times.get(runtime.requests_sent as usize).copied();
                if let Some(at) = next.filter(|&at| at < self.model.duration) {
                    let workload = workload as u32;
                    queue.push(at, Event::WorkloadArrival { workload });
                }
                return;
            }
            _ => 1.0,
        };
        let Some(clock) = runtime.clock.as_mut() else {
            return;
        };
        if let Some(at) = clock.advance(work).filter(|&at| at < self.model.duration) {
            queue.push(
                at,
                Event::WorkloadArrival {
                    workload: workload as u32,
                },
            );
        }
    }

    pub(super) fn on_workload_arrival(
        &mut self,
        workload: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let runtime = &mut self.workloads[workload as usize];
        let request_number = runtime.requests_sent;
        runtime.requests_sent += 1;
        self.start_request(workload, 0, request_number, now, queue);
        self.schedule_next_arrival(workload as usize, queue);
    }

    #[inline(never)] // rare: kept out of the event loop's hot code
    pub(super) fn on_user_wakes(
        &mut self,
        workload: u32,
        user: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if now >= self.model.duration {
            return;
        }
        let counter = &mut self.workloads[workload as usize].users[user as usize].1;
        let request_number = *counter;
        *counter += 1;
        self.start_request(workload, user, request_number, now, queue);
    }

    /// An end-to-end request enters the system.
    fn start_request(
        &mut self,
        workload: u32,
        user: u32,
        number: u64,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let spec = &self.model.workloads[workload as usize];
        let (endpoint, client) = match &spec.arrival {
            Arrival::Trace(trace) if !trace.rows.is_empty() => {
                let row = trace.rows[number as usize];
                match trace.endpoints.get(row as usize) {
                    Some(&endpoint) => (
                        endpoint,
                        self.clients.trace_clients[workload as usize][row as usize],
                    ),
                    None => (spec.target, self.clients.edge_client[workload as usize]),
                }
            }
            _ => (spec.target, self.clients.edge_client[workload as usize]),
        };
        let user_root = if user == 0 {
            self.workloads[workload as usize].user0_request_root
        } else {
            user_request_root(workload, user)
        };
        let key = derive_key(user_root, number);
        let user_key = if self.clients.draws_user_keys {
            self.draw_user_key(key, spec.key_space)
        } else {
            0
        };
        let spec = &self.model.workloads[workload as usize];
        let measured = now >= self.measure.measured.0 && now < self.measure.measured.1;
        if measured {
            self.measure.offered += 1;
            self.measure.measured_in_flight += 1;
        }
        self.measure.edge_window.arrivals += 1;
        self.measure.edge_in_flight += 1;
        if self.measure.edge_in_flight > super::MAX_IN_FLIGHT {
            self.stop_runaway(now);
        }
        if R::TRACES {
            self.recorder.trace(&TraceEvent::RequestStarts {
                request: key,
                workload,
                at: now,
            });
        }
        let start = CallStart {
            parent: Parent::Edge { workload, user },
            optional: false,
            client,
            caller_zone: spec.zone.map_or(NONE, |zone| zone as u32),
            caller_replica: NONE,
            endpoint: endpoint as u32,
            key,
            user_key,
            measured,
            inherited_deadline: u64::MAX,
            first_child: false,
        };
        self.start_call(start, now, queue);
    }

    /// The user key of the request `request_key`: uniform in `[0, key_space)`, from a stream of
    /// the request's own identity (so drawing it shifts no other draw).
    fn draw_user_key(&mut self, request_key: u64, key_space: u64) -> u64 {
        self.streams
            .rekey(&mut self.work_rng, StreamKind::UserKey, request_key);
        self.work_rng.random_range(0..key_space)
    }

    /// An end-to-end request has ended.
    #[allow(clippy::too_many_arguments)]
    fn end_request(
        &mut self,
        workload: u32,
        user: u32,
        measured: bool,
        started: u64,
        outcome: Outcome,
        cause: Cause,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        self.measure.edge_in_flight -= 1;
        if outcome == Outcome::Succeeded {
            self.measure.edge_window.succeeded += 1;
            self.measure.edge_window.latency.record(now - started);
        } else {
            self.measure.edge_window.try_outcomes.add(outcome);
        }
        if measured {
            self.measure.outcomes.add(outcome);
            self.measure.workload_outcomes[workload as usize].add(outcome);
            if outcome == Outcome::Succeeded {
                self.measure.latency.record(now - started);
            } else {
                self.measure.causes.add(cause);
            }
            self.measure.measured_in_flight -= 1;
        }
        if let Arrival::Closed { think_time, .. } = &self.model.workloads[workload as usize].arrival
        {
            let rng = &mut self.workloads[workload as usize].users[user as usize].0;
            let wake = now.saturating_add(think_time.sample(rng));
            if wake < self.model.duration {
                queue.push(wake, Event::UserWakes { workload, user });
            }
        }
    }

    // ----- calls and tries (the client side) ------------------------------------------------

    /// Starts a call: its state, its timeout, its first try. (Always inlined into its two
    /// callers: `CallStart` then stays in registers instead of going through the stack, and the
    /// call's register saves go.)
    #[inline(always)]
    fn start_call(&mut self, start: CallStart, now: u64, queue: &mut EventQueue<Event>) {
        let service = self.model.endpoints[start.endpoint as usize].service;
        // Past LONGEST (10,000 h, the scenario limit), a timeout is as good as none; capped, every
        // deadline stays below u64::MAX, the "no sweep pending" mark, and so fires.
        let (timeout, timeout_queue) =
            self.lanes.call_timeout[self.lane_index(start.client, service)];
        let timeout = timeout.min(crate::engine::time::LONGEST);
        let call = CallState {
            generation: 0,
            parent: start.parent,
            optional: start.optional,
            client: start.client,
            caller_zone: start.caller_zone,
            caller_replica: start.caller_replica,
            endpoint: start.endpoint,
            service: service as u32,
            key: start.key,
            user_key: start.user_key,
            tries: 0,
            lanes: [IDLE; TRY_LANES],
            sent: [now; TRY_LANES],
            live_tries: 0,
            hedges: 0,
            lost_in_crash: 0,
            phase: CallPhase::AwaitingResponse,
            started: now,
            deadline: now.saturating_add(timeout).min(start.inherited_deadline),
            measured: start.measured,
            first_child: start.first_child,
        };
        let call_deadline = call.deadline;
        if start.measured {
            self.measure.service_totals[service].calls += 1;
        }
        self.budget_deposit(start.client, now);
        let (slot, generation) = self.flight.calls.insert(call);
        let deadline = Deadline {
            at: call_deadline,
            call: slot,
            generation,
            try_number: 0,
            kind: DeadlineKind::Call,
        };
        if call_deadline < now.saturating_add(timeout) {
            // An inherited, sooner deadline (deadline propagation) is not in this queue's
            // order: it waits in the event queue instead.
            queue.push(
                call_deadline,
                Event::CallDeadline {
                    call: slot,
                    generation,
                },
            );
        } else {
            self.arm_deadline(timeout_queue, deadline, queue);
        }
        if R::TRACES {
            self.trace_try_sent(slot, TryKind::First, now);
        }
        self.begin_try(slot, now, queue);
    }

    /// Tells the recorder that the call's next try goes out (kept out of line: only recorders
    /// that write traces get here).
    #[inline(never)]
    fn trace_try_sent(&mut self, slot: u32, kind: TryKind, now: u64) {
        let call = self.flight.calls.at(slot);
        let (parent, parent_is_job, workload) = match call.parent {
            Parent::Edge { workload, .. } => (call.key, false, workload),
            Parent::Job { job, generation } => match self.flight.jobs.get(job, generation) {
                Some(job) => (job.key, true, u32::MAX),
                None => return,
            },
        };
        let event = TraceEvent::TrySent {
            try_key: derive_key(call.key, u64::from(call.tries)),
            parent,
            parent_is_job,
            caller_replica: call.caller_replica,
            workload,
            endpoint: call.endpoint,
            try_number: call.tries,
            kind,
            at: now,
        };
        self.recorder.trace(&event);
    }

    /// Starts the call's next try (first try, retry or hedge): numbers it, arms its timers, asks
    /// the local guards (breaker, bulkhead, connection pool), then sends it. (Always inlined:
    /// a plain try, with nothing to arm or ask, then costs no call of its own; the checks are
    /// out of line in [`Simulation::begin_guarded_try`].)
    #[inline(always)]
    fn begin_try(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let call = self.flight.calls.at_mut(slot);
        let try_number = call.tries;
        call.tries += 1;
        call.phase = CallPhase::AwaitingResponse;
        call.lanes[try_number as usize % TRY_LANES] = LOCAL;
        call.lost_in_crash &= !(1 << (try_number as usize % TRY_LANES));
        call.live_tries += 1;
        let (service, client) = (call.service as usize, call.client);
        if self.clients.plain_tries[service] && self.clients.guards[client as usize].is_none() {
            // Nothing to arm or ask (the checks below would all pass).
            self.send_try(slot, try_number, now, queue);
        } else {
            self.begin_guarded_try(slot, try_number, now, queue);
        }
    }

    /// [`Simulation::begin_try`] for a try with timers to arm or guards to ask: try
    /// `try_number`, already numbered.
    #[inline(never)]
    fn begin_guarded_try(
        &mut self,
        slot: u32,
        try_number: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let call = self.flight.calls.at(slot);
        let (generation, service, deadline, client, hedges) = (
            call.generation,
            call.service as usize,
            call.deadline,
            call.client,
            u32::from(call.hedges),
        );
        let policy = self.client_policy(client, service);
        if let Some(per_try) = policy.retries.per_try_timeout {
            if now.saturating_add(per_try) < deadline {
                let deadline = Deadline {
                    at: now.saturating_add(per_try),
                    call: slot,
                    generation,
                    try_number,
                    kind: DeadlineKind::Try,
                };
                let lane = self.lanes.per_try_timeout[self.lane_index(client, service)];
                self.arm_deadline(lane, deadline, queue);
            }
        }
        if let Some(hedge) = policy.hedge {
            if hedges < hedge.max && now.saturating_add(hedge.after) < deadline {
                let deadline = Deadline {
                    at: now.saturating_add(hedge.after),
                    call: slot,
                    generation,
                    try_number,
                    kind: DeadlineKind::Hedge,
                };
                let lane = self.lanes.hedge[self.lane_index(client, service)];
                self.arm_deadline(lane, deadline, queue);
            }
        }
        if self.clients.guards[client as usize].is_some()
            && !self.breaker_admits(client, service, now)
        {
            answer_at_once(
                slot,
                generation,
                try_number,
                Outcome::CircuitOpen,
                now,
                queue,
            );
            return;
        }
        if let Some(max) = policy.max_requests {
            if self.clients.balancers[client as usize].total_outstanding() >= max {
                // Bulkhead full: Envoy's overflow, a local 503.
                answer_at_once(slot, generation, try_number, Outcome::Rejected, now, queue);
                return;
            }
        }
        if let Some(connections) = policy.max_connections {
            if self.clients.balancers[client as usize].total_outstanding() >= connections {
                self.wait_for_connection(slot, try_number, now, queue);
                return;
            }
        }
        self.send_try(slot, try_number, now, queue);
    }

    /// Every connection of the client's pool is busy: the try joins the client's pending queue,
    /// or is rejected at once when that is full (Envoy's pending overflow).
    fn wait_for_connection(
        &mut self,
        slot: u32,
        try_number: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let call = self.flight.calls.at(slot);
        let limit = self
            .client_policy(call.client, call.service as usize)
            .max_pending
            .unwrap_or(u32::MAX);
        let call = self.flight.calls.at_mut(slot);
        let (client, generation) = (call.client as usize, call.generation);
        if self.flight.pending[client].live >= limit {
            answer_at_once(slot, generation, try_number, Outcome::Rejected, now, queue);
            return;
        }
        call.lanes[try_number as usize % TRY_LANES] = PENDING;
        let pending = &mut self.flight.pending[client];
        if pending.entries.len() >= 2 * (pending.live as usize).max(16) {
            let calls = &self.flight.calls;
            pending.entries.retain(|entry| is_pending(calls, entry));
        }
        pending.entries.push_back(PendingTry {
            call: slot,
            generation,
            try_number,
        });
        pending.live += 1;
    }

    /// A connection of `client`'s pool is free: sends the pending tries that fit, oldest first
    /// (all of them once a config change has removed the pool).
    pub(super) fn send_pending(&mut self, client: u32, now: u64, queue: &mut EventQueue<Event>) {
        let service = self.clients.client_service[client as usize] as usize;
        let connections = self
            .client_policy(client, service)
            .max_connections
            .unwrap_or(u32::MAX);
        while self.clients.balancers[client as usize].total_outstanding() < connections {
            let Some(entry) = self.flight.pending[client as usize].entries.pop_front() else {
                return;
            };
            if !is_pending(&self.flight.calls, &entry) {
                continue; // ended while waiting
            }
            self.flight.pending[client as usize].live -= 1;
            let lane = entry.try_number as usize % TRY_LANES;
            self.flight.calls.at_mut(entry.call).lanes[lane] = LOCAL;
            self.send_try(entry.call, entry.try_number, now, queue);
        }
    }

    /// Sends try `try_number` of the call: balance, draw the try's work, put it on the wire.
    fn send_try(&mut self, slot: u32, try_number: u32, now: u64, queue: &mut EventQueue<Event>) {
        let call = self.flight.calls.at(slot);
        // Key the try's stream (see `draw_try`) first: its block is computed while the rest runs.
        let work_key = derive_key(call.key, u64::from(try_number));
        let lineage = self.key_work_stream(slot, try_number, work_key);
        let call = self.flight.calls.at(slot);
        let (generation, service, client) = (call.generation, call.service as usize, call.client);
        let Some(index) = self.pick_replica(slot, work_key, now) else {
            // No replica in view: "no healthy upstream", refused at once.
            answer_at_once(slot, generation, try_number, Outcome::Refused, now, queue);
            return;
        };
        let index = if self.flight.calls.at(slot).live_tries > 1 {
            self.avoid_replicas_in_flight(slot, index, work_key, now)
        } else {
            index
        };
        self.clients.balancers[client as usize].on_send(index);
        let call = self.flight.calls.at_mut(slot);
        let lane = try_number as usize % TRY_LANES;
        call.lanes[lane] = index;
        call.sent[lane] = now;
        let replica_slot = self.first_replica[service] + index;
        let (caller_zone, caller_replica) = (call.caller_zone, call.caller_replica);
        let (job, request_hop) = self.draw_try(slot, try_number, work_key, replica_slot, now);
        let replica_zone = self.replicas[replica_slot as usize].zone;
        if caller_zone != NONE && caller_zone != replica_zone && self.flight.calls.at(slot).measured
        {
            self.measure.service_totals[service].cross_zone_tries += 1;
        }
        if self.partitioned(caller_zone, replica_zone) {
            return; // dropped on the wire: the caller will time out
        }
        let arrival = now
            .saturating_add(request_hop)
            .saturating_add(self.extra_latency(caller_replica, replica_slot));
        let call_mask_has_first_call = job.call_mask & 1 != 0;
        let (job_slot, job_generation) = self.flight.jobs.insert(job);
        if self.flight.job_lineage.len() <= job_slot as usize {
            self.flight
                .job_lineage
                .resize(job_slot as usize + 1, Lineage::default());
            self.flight.job_positions.resize(job_slot as usize + 1, 0);
        }
        // Only a job whose first call is made reads what its try hands on (`key_work_stream`):
        // a leaf's lineage would be a write to a line of its own, missed, for nothing.
        if call_mask_has_first_call {
            self.flight.job_lineage[job_slot as usize] = lineage;
        }
        queue.push_in_lane(
            self.lanes.hops,
            arrival,
            Event::TryArrives {
                job: job_slot,
                generation: job_generation,
            },
        );
    }

    /// Keys `work_rng` to try `try_number`'s stream, `work_key`. The first try of a job's first
    /// call starts with words its parent's try handed on, while they last; any other try starts
    /// with its own block, keeps a few words and hands the rest on (see `crate::engine::chacha`:
    /// one block then serves a chain of calls). Returns the words this try hands on.
    #[inline]
    fn key_work_stream(&mut self, slot: u32, try_number: u32, work_key: u64) -> Lineage {
        let call = self.flight.calls.at(slot);
        if let (0, true, Parent::Job { job, generation }) =
            (try_number, call.first_child, call.parent)
        {
            if self.flight.jobs.get(job, generation).is_some() {
                let parent = &self.flight.job_lineage[job as usize];
                let available = usize::from(parent.len);
                if available >= OWN_WORDS {
                    let mut inherited = [0u32; OWN_WORDS];
                    inherited.copy_from_slice(&parent.words[..OWN_WORDS]);
                    // All the parent's later words move up (a fixed-size copy, no call to
                    // memcpy); `len` says how many of them are valid.
                    let mut words = [0u32; LINEAGE_WORDS];
                    words[..LINEAGE_WORDS - OWN_WORDS].copy_from_slice(&parent.words[OWN_WORDS..]);
                    self.streams.rekey_inherited(
                        &mut self.work_rng,
                        StreamKind::Work,
                        work_key,
                        inherited,
                    );
                    return Lineage {
                        words,
                        len: (available - OWN_WORDS) as u8,
                    };
                }
            }
        }
        let words = self
            .streams
            .rekey_try(&mut self.work_rng, StreamKind::Work, work_key);
        Lineage {
            words,
            len: LINEAGE_WORDS as u8,
        }
    }

    /// A hedge should go to a replica other than those its call already waits on: picks again
    /// (at most twice more) while the pick is one of them.
    fn avoid_replicas_in_flight(
        &mut self,
        slot: u32,
        mut index: u32,
        work_key: u64,
        now: u64,
    ) -> u32 {
        let call = self.flight.calls.at(slot);
        let (lanes, client) = (call.lanes, call.client as usize);
        let view_size = self.discovery.views[self.discovery.client_view[client] as usize].len();
        for _ in 0..2 {
            if view_size < 2 || !lanes.contains(&index) {
                break;
            }
            match self.pick_replica(slot, work_key, now) {
                Some(other) => index = other,
                None => break,
            }
        }
        index
    }

    /// The caller's balancer picks a replica index for the call's next try (`None`: none in view).
    /// Consistent hashing hashes the request's user key; zone-aware routing applies to callers
    /// with a zone; anything else is the plain balancer. (Plain round robin, the commonest, is
    /// picked inline: the general path's calls and dispatch were a tenth of a try's sending;
    /// the balancers that read no weights, `p2c` first, skip the general path's reads of the
    /// service's settings.)
    #[inline(always)]
    fn pick_replica(&mut self, slot: u32, try_key: u64, now: u64) -> Option<u32> {
        let call = self.flight.calls.at(slot);
        let (service, client) = (call.service as usize, call.client as usize);
        if self.clients.plain_round_robin[service] {
            let view_id = self.discovery.client_view[client] as usize;
            let view = self.discovery.views[view_id].as_slice();
            if let Some(pick) = self.clients.balancers[client].pick_round_robin(view) {
                return pick;
            }
        } else if let Some(kind) = self.clients.plain_unweighted[service] {
            let view_id = self.discovery.client_view[client] as usize;
            let view = self.discovery.views[view_id].as_slice();
            if let Some(pick) = self.clients.balancers[client].pick_unweighted(kind, view, now) {
                return pick;
            }
        }
        self.pick_replica_general(slot, try_key, now)
    }

    /// [`Simulation::pick_replica`] for every balancer and case.
    #[inline(never)]
    fn pick_replica_general(&mut self, slot: u32, try_key: u64, now: u64) -> Option<u32> {
        let call = self.flight.calls.at(slot);
        let (service, client) = (call.service as usize, call.client as usize);
        let view_id = self.discovery.client_view[client] as usize;
        let spec = &self.model.services[service];
        let (view, view_version) = if spec.traffic.is_none() {
            (
                self.discovery.views[view_id].as_slice(),
                self.discovery.view_versions[view_id],
            )
        } else {
            // A split: the version by weight, then the balancer over its replicas in view.
            let version = self.split_version(client, service, try_key, view_id);
            let cache = self.ops.version_views[client]
                .as_deref()
                .expect("version views");
            (
                cache[version].1.as_slice(),
                ops::version_stamp(self.discovery.view_versions[view_id], version),
            )
        };
        let call = self.flight.calls.at(slot);
        let policy = self.client_policy(call.client, service);
        let balancer = &mut self.clients.balancers[client];
        if policy.balancer.is_consistent_hash() {
            return balancer.pick_hashed(
                policy.balancer,
                service as u32,
                &spec.name,
                crate::model::hashing::hash_user_key(call.user_key),
                view,
                view_version,
                &spec.replica_weights,
                &mut self.clients.hash_tables,
            );
        }
        if let (Some(zone_aware), true) = (&policy.zone_aware, call.caller_zone != NONE) {
            let originating = if call.caller_replica == NONE {
                Originating::Counts(&self.clients.edge_zone_counts[service])
            } else {
                // The calling service's shared view (its registry view under oracle and static).
                let caller = self.replicas[call.caller_replica as usize].service as usize;
                Originating::Replicas {
                    view: &self.discovery.views[caller],
                    version: self.discovery.view_versions[caller],
                    zones: &self.model.services[caller].replica_zones,
                }
            };
            let request = ZoneRequest {
                local: call.caller_zone as usize,
                zone_count: self.model.zones.len(),
                min_cluster_size: zone_aware.min_cluster_size,
                upstream_zones: &spec.replica_zones,
                originating,
            };
            return balancer.pick_zone_aware(
                policy.balancer,
                &request,
                view,
                view_version,
                &spec.replica_weights,
                now,
            );
        }
        balancer.pick(
            policy.balancer,
            view,
            view_version,
            &spec.replica_weights,
            now,
        )
    }

    /// The try's own work, from the stream of its identity `key` (to which `send_try` has keyed
    /// `work_rng`): service time, error draw, call coins, then the two network hops (work first,
    /// so that where the try goes never shifts its work). Returns the job and the request hop's
    /// latency, nanoseconds.
    #[inline(always)]
    fn draw_try(
        &mut self,
        call_slot: u32,
        try_number: u32,
        key: u64,
        replica_slot: u32,
        now: u64,
    ) -> (Job, u64) {
        let call = self.flight.calls.at(call_slot);
        let endpoint = &self.model.endpoints[call.endpoint as usize];
        let replica = &self.replicas[replica_slot as usize];
        let compute = if replica.overrides_service_time {
            self.model.services[replica.service as usize].versions[replica.version as usize]
                .service_time
                .as_ref()
                .unwrap_or(&endpoint.service_time)
        } else {
            &endpoint.service_time
        };
        let service_time = compute.sample(&mut self.work_rng);
        let error_draw: f64 = self.work_rng.random();
        let call_mask = match self.clients.certain_call_mask[call.endpoint as usize] {
            Some(mask) => mask, // every call certain: the walk below would draw nothing
            None => {
                let mut call_mask = 0u128;
                for (index, downstream) in endpoint
                    .steps
                    .iter()
                    .flat_map(|step| &step.calls)
                    .enumerate()
                {
                    if downstream.probability >= 1.0
                        || self.work_rng.random::<f64>() < downstream.probability
                    {
                        call_mask |= 1u128 << index;
                    }
                }
                call_mask
            }
        };
        let replica_zone = self.replicas[replica_slot as usize].zone;
        let network = &self.model.network;
        let dist = if call.caller_zone == NONE {
            &network.edge_latency
        } else {
            network.between(call.caller_zone as usize, replica_zone as usize)
        };
        let request_hop = dist.sample(&mut self.work_rng);
        // A constant hop draws nothing: the response's is the same, not converted again.
        let response_hop = if let Dist::Const(_) = dist {
            request_hop
        } else {
            dist.sample(&mut self.work_rng)
        };
        let job = Job {
            generation: 0,
            replica: replica_slot,
            endpoint: call.endpoint,
            call: call_slot,
            call_generation: call.generation,
            try_number,
            key,
            user_key: call.user_key,
            deadline: if self.clients.may_propagate_deadlines[call.service as usize]
                && self
                    .client_policy(call.client, call.service as usize)
                    .deadline_propagation
            {
                let per_try = self
                    .client_policy(call.client, call.service as usize)
                    .retries
                    .per_try_timeout;
                per_try.map_or(call.deadline, |timeout| {
                    call.deadline.min(now.saturating_add(timeout))
                })
            } else {
                u64::MAX
            },
            caller_zone: call.caller_zone,
            arrived: now,
            service_time,
            error_draw,
            call_mask,
            response_hop,
            step: 0,
            pending_calls: 0,
            failed_required: false,
            holds_worker: false,
            measured: false,
        };
        (job, request_hop)
    }

    // Always inlined into the event loop's dispatch (see `Process::handle`).
    #[inline(always)]
    pub(super) fn on_try_response(
        &mut self,
        slot: u32,
        generation: u32,
        try_number: u32,
        outcome: Outcome,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if !self.is_in_flight(slot, generation, try_number) {
            return;
        }
        let call = self.flight.calls.at(slot);
        let replica = call.lanes[try_number as usize % TRY_LANES];
        if replica < PENDING && !self.active_partitions.is_empty() {
            let replica = self.first_replica[call.service as usize] + replica;
            if self.partitioned(call.caller_zone, self.replicas[replica as usize].zone) {
                return; // a partition began while the response was on the wire
            }
        }
        self.end_try(slot, try_number, outcome, now, queue);
    }

    fn arm_deadline(&mut self, index: u32, deadline: Deadline, queue: &mut EventQueue<Event>) {
        let calls = &self.flight.calls;
        let deadlines = &mut self.flight.deadlines[index as usize];
        // Two per arming: the stale front shrinks faster than arming grows the back.
        deadlines.drop_stale(2, |armed| deadline_is_live(calls, armed));
        if deadlines.arm(deadline) {
            queue.push(deadline.at, Event::DeadlineSweep { queue: index });
        }
    }

    /// Fires the due timeouts of deadline queue `index` and schedules its next sweep.
    #[inline(never)] // rare: kept out of the event loop's hot code
    pub(super) fn on_deadline_sweep(
        &mut self,
        index: usize,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if !self.flight.deadlines[index].is_live_sweep(now) {
            return; // superseded by a sooner deadline's sweep
        }
        while let Some(due) = self.flight.deadlines[index].pop_due(now) {
            match due.kind {
                DeadlineKind::Call => self.on_call_timeout(due.call, due.generation, now, queue),
                DeadlineKind::Try => {
                    self.on_per_try_timeout(due.call, due.generation, due.try_number, now, queue)
                }
                DeadlineKind::Hedge => {
                    self.on_hedge_due(due.call, due.generation, due.try_number, now, queue)
                }
            }
        }
        let calls = &self.flight.calls;
        let next =
            self.flight.deadlines[index].next_sweep(|deadline| deadline_is_live(calls, deadline));
        if let Some(at) = next {
            queue.push(
                at,
                Event::DeadlineSweep {
                    queue: index as u32,
                },
            );
        }
    }

    fn on_per_try_timeout(
        &mut self,
        slot: u32,
        generation: u32,
        try_number: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        if self.is_in_flight(slot, generation, try_number) {
            self.end_try(slot, try_number, Outcome::Timeout, now, queue);
        }
    }

    /// A call's timeout (its own, or an inherited deadline) is due.
    #[inline(never)] // rare: kept out of the event loop's hot code
    pub(super) fn on_call_timeout(
        &mut self,
        slot: u32,
        generation: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(call) = self.flight.calls.get(slot, generation) else {
            return;
        };
        let live_tries = call.live_tries;
        let cause = self.call_timeout_cause(slot);
        if live_tries > 0 {
            self.end_tries_in_flight(slot, Some(Outcome::Timeout), now, queue);
        }
        self.complete_call(slot, Outcome::Timeout, cause, now, queue);
    }

    /// The hedge delay of try `try_number` is over: when it is still the call's latest try,
    /// sent and unanswered, and the call may hedge again, another try goes out (the others
    /// stay).
    fn on_hedge_due(
        &mut self,
        slot: u32,
        generation: u32,
        try_number: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(call) = self.flight.calls.get(slot, generation) else {
            return;
        };
        if !call.is_latest_in_flight(try_number) || now >= call.deadline {
            return;
        }
        if call.lanes[try_number as usize % TRY_LANES] == PENDING {
            return; // still waiting for a connection: a hedge would only queue behind it
        }
        let (client, service, parent) = (call.client, call.service as usize, call.parent);
        let max = self
            .client_policy(client, service)
            .hedge
            .map_or(0, |hedge| hedge.max);
        if u32::from(call.hedges) >= max || !self.parent_alive(parent) {
            return;
        }
        // A hedge is an extra try: it draws on the retry budget as a retry does.
        if !self.budget_allows_retry(client, now) {
            return;
        }
        let call = self.flight.calls.at_mut(slot);
        call.hedges += 1;
        if call.measured {
            self.measure.service_totals[service].hedges += 1;
        }
        self.measure.windows[service].hedges += 1;
        if R::TRACES {
            self.trace_try_sent(slot, TryKind::Hedge, now);
        }
        self.begin_try(slot, now, queue);
    }

    #[inline(never)] // rare: kept out of the event loop's hot code
    pub(super) fn on_retry_due(
        &mut self,
        slot: u32,
        generation: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(call) = self.flight.calls.get(slot, generation) else {
            return;
        };
        if call.phase != CallPhase::BackingOff {
            return;
        }
        let service = call.service as usize;
        if call.measured {
            self.measure.service_totals[service].retries += 1;
        }
        self.measure.windows[service].retries += 1;
        if R::TRACES {
            self.trace_try_sent(slot, TryKind::Retry, now);
        }
        self.begin_try(slot, now, queue);
    }

    /// Whether try `try_number` of the call is in flight: the call waits on it.
    fn is_in_flight(&self, slot: u32, generation: u32, try_number: u32) -> bool {
        self.flight
            .calls
            .get(slot, generation)
            .is_some_and(|call| call.is_in_flight(try_number))
    }

    /// The numbers of the call's tries in flight, oldest first (no allocation: an array).
    fn tries_in_flight(&self, slot: u32) -> impl Iterator<Item = u32> {
        let call = self.flight.calls.at(slot);
        let tries = call.tries;
        let lanes = call.lanes;
        let first = tries.saturating_sub(TRY_LANES as u32);
        (first..tries).filter(move |&number| lanes[number as usize % TRY_LANES] != IDLE)
    }

    /// Ends every try of the call still in flight, counted as `outcome` (`None`: not counted,
    /// they lost to another try's success). Pending tries go first, so that a connection freed
    /// here never goes to a try of this same call.
    fn end_tries_in_flight(
        &mut self,
        slot: u32,
        outcome: Option<Outcome>,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        for pending_first in [true, false] {
            for number in self.tries_in_flight(slot) {
                let lane = self.flight.calls.at(slot).lanes[number as usize % TRY_LANES];
                if (lane == PENDING) != pending_first {
                    continue;
                }
                match outcome {
                    Some(outcome) => self.abandon_try(slot, number, outcome, now, queue),
                    None => {
                        if R::TRACES {
                            let try_key =
                                derive_key(self.flight.calls.at(slot).key, u64::from(number));
                            let outcome = None;
                            let event = TraceEvent::TryEnds {
                                try_key,
                                outcome,
                                at: now,
                            };
                            self.recorder.trace(&event);
                        }
                        let call = self.flight.calls.at(slot);
                        if call.measured {
                            self.measure.service_totals[call.service as usize].tries_cancelled += 1;
                        }
                        self.release_try(slot, number, now, queue);
                    }
                }
            }
        }
    }

    /// Try `try_number` ends from the client's side: counted, no longer outstanding; a
    /// connection it held goes to the next pending try.
    fn abandon_try(
        &mut self,
        slot: u32,
        try_number: u32,
        outcome: Outcome,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let call = self.flight.calls.at(slot);
        let (client, service, measured) = (call.client, call.service as usize, call.measured);
        if R::TRACES {
            let try_key = derive_key(call.key, u64::from(try_number));
            let outcome = Some(outcome);
            self.recorder.trace(&TraceEvent::TryEnds {
                try_key,
                outcome,
                at: now,
            });
        }
        // Releasing the try leaves its send time in place (only its lane is freed): the
        // balancer and guards read it from the call, if they use it.
        let replica = self.release_try(slot, try_number, now, queue);
        if replica < PENDING {
            self.observe_try_end(client, service, replica, outcome, slot, try_number, now);
        }
        if measured {
            self.measure.service_totals[service]
                .try_outcomes
                .add(outcome);
        }
        self.measure.windows[service].try_outcomes.add(outcome);
    }

    /// Frees try `try_number`'s lane, its place in the balancer's outstanding counts (and its
    /// connection, handed to the next pending try) or in the pending queue. Returns what the
    /// lane held (a replica index, [`LOCAL`] or [`PENDING`]).
    #[inline(always)]
    fn release_try(
        &mut self,
        slot: u32,
        try_number: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) -> u32 {
        let call = self.flight.calls.at_mut(slot);
        let lane = try_number as usize % TRY_LANES;
        let (client, service, replica) = (call.client, call.service as usize, call.lanes[lane]);
        call.lanes[lane] = IDLE;
        call.live_tries -= 1;
        if replica < PENDING {
            self.clients.balancers[client as usize].on_end(replica);
            // A plain service's calls have no connection pool under any policy.
            if !self.clients.plain_tries[service]
                && self
                    .client_policy(client, service)
                    .max_connections
                    .is_some()
            {
                self.send_pending(client, now, queue);
            }
        } else if replica == PENDING {
            self.flight.pending[client as usize].live -= 1;
        }
        replica
    }

    /// A try has ended with `outcome`. A success ends the call (other tries in flight are
    /// abandoned: the first success wins); a failure with other tries in flight waits for them;
    /// otherwise the call is retried or ends.
    fn end_try(
        &mut self,
        slot: u32,
        try_number: u32,
        outcome: Outcome,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let cause = if outcome == Outcome::Succeeded {
            Cause::NONE
        } else {
            self.try_cause(slot, try_number, outcome) // before the lane is freed
        };
        self.abandon_try(slot, try_number, outcome, now, queue);
        let call = self.flight.calls.at(slot);
        if call.live_tries > 0 {
            if outcome != Outcome::Succeeded {
                self.remember_cause(slot, cause);
                return; // a hedge is still out: wait for it
            }
            self.end_tries_in_flight(slot, None, now, queue); // lost the race: not counted
        }
        if outcome == Outcome::Succeeded {
            // Nothing to retry: the retry policy is not read (the test below would fail first).
            self.complete_call(slot, outcome, cause, now, queue);
            return;
        }
        let call = self.flight.calls.at(slot);
        let (client, service) = (call.client, call.service as usize);
        let retries = &self.client_policy(client, service).retries;
        let retries_used = call.tries - 1 - u32::from(call.hedges);
        let lost_in_crash = call.lost_in_crash & (1 << (try_number as usize % TRY_LANES)) != 0;
        let retry = retries_used < retries.max_retries
            && retries.retry_on[outcome.index()]
            && (retries.retry_lost_in_crash || !lost_in_crash)
            && now < call.deadline
            && self.parent_alive(call.parent)
            && self.budget_allows_retry(client, now);
        if !retry {
            let cause = self.with_gave_up(slot, cause, outcome, lost_in_crash, now);
            self.complete_call(slot, outcome, cause, now, queue);
            return;
        }
        self.remember_cause(slot, cause); // in case the deadline passes while backing off
        let retries = &self.client_policy(client, service).retries;
        let base = retries.backoff;
        let cap = base
            .saturating_mul(1u64 << retries_used.min(32))
            .min(retries.max_backoff);
        let rng = self.clients.balancers[client as usize].rng();
        let wait = match retries.jitter {
            Jitter::Full => rng.random_range(0..=cap),
            Jitter::Equal => cap / 2 + rng.random_range(0..=cap / 2),
            Jitter::None => cap,
        };
        let call = self.flight.calls.at_mut(slot);
        call.phase = CallPhase::BackingOff;
        queue.push(
            now.saturating_add(wait),
            Event::RetryDue {
                call: slot,
                generation: call.generation,
            },
        );
    }
    fn parent_alive(&self, parent: Parent) -> bool {
        match parent {
            Parent::Job { job, generation } => self.flight.jobs.get(job, generation).is_some(),
            Parent::Edge { .. } => true,
        }
    }

    /// The call has ended with `outcome`: free it and tell whoever waits.
    fn complete_call(
        &mut self,
        slot: u32,
        outcome: Outcome,
        cause: Cause,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let call = self.flight.calls.at(slot);
        let (parent, optional, measured) = (call.parent, call.optional, call.measured);
        if R::TRACES && matches!(parent, Parent::Edge { .. }) {
            let request = call.key;
            self.recorder.trace(&TraceEvent::RequestEnds {
                request,
                outcome,
                at: now,
            });
        }
        self.flight.calls.remove(slot);
        match parent {
            Parent::Edge { workload, user } => {
                // Read here, not with the fields above: the start lies in the call's second
                // cache line, which a call with a job for parent then does not touch. (Removal
                // only freed the slot: its values stay until the next call takes it.)
                let started = self.flight.calls.at(slot).started;
                self.end_request(
                    workload, user, measured, started, outcome, cause, now, queue,
                )
            }
            Parent::Job { job, generation } => {
                let Some(parent) = self.flight.jobs.get_mut(job, generation) else {
                    return;
                };
                parent.pending_calls -= 1;
                if outcome != Outcome::Succeeded && !optional {
                    if !parent.failed_required {
                        // The first required call to fail is the one the job's error reports.
                        let kept = cause::Stamped { generation, cause };
                        *cause::slot_entry(&mut self.flight.job_causes, job) = kept;
                    }
                    parent.failed_required = true;
                }
                if parent.pending_calls == 0 {
                    parent.step += 1;
                    self.advance_steps(job, now, queue);
                }
            }
        }
    }

    // ----- jobs (the server side) -----------------------------------------------------------

    // Always inlined into the event loop's dispatch (see `Process::handle`).
    #[inline(always)]
    pub(super) fn on_try_arrives(
        &mut self,
        slot: u32,
        generation: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(job) = self.flight.jobs.get(slot, generation) else {
            return;
        };
        let replica_slot = job.replica as usize;
        // The caller's zone (the job's second line) is read only while a partition is in force.
        if !self.active_partitions.is_empty()
            && self.partition_separates(job.caller_zone, self.replicas[replica_slot].zone)
        {
            self.flight.jobs.remove(slot); // a partition began while the request was on the wire
            return;
        }
        if matches!(
            self.replicas[replica_slot].health,
            super::replica::Health::Crashed | super::replica::Health::Stopped
        ) {
            self.respond(slot, Outcome::Refused, now, queue);
            self.flight.jobs.remove(slot);
            return;
        }
        if R::TRACES {
            let event = TraceEvent::JobStarts {
                try_key: job.key,
                replica: job.replica,
                endpoint: job.endpoint,
                at: now,
            };
            self.recorder.trace(&event);
        }
        let measured = now >= self.measure.measured.0 && now < self.measure.measured.1;
        let service = self.replicas[replica_slot].service as usize;
        self.measure.windows[service].arrivals += 1;
        self.replicas[replica_slot].window_arrivals += 1;
        if measured {
            self.measure.service_totals[service].requests += 1;
        }
        if self.replicas[replica_slot].rate_limited {
            let limit = self.model.services[service]
                .rate_limit
                .as_ref()
                .expect("a rate-limited replica's service has a rate limit");
            if !self.replicas[replica_slot].take_token(limit, now) {
                self.respond(slot, Outcome::Rejected, now, queue); // over the rate limit: 429
                self.flight.jobs.remove(slot);
                return;
            }
        }
        if self.replicas[replica_slot].health == super::replica::Health::Hung {
            self.replicas[replica_slot].hung_accepted += 1; // accepted, never answered
            self.flight.jobs.remove(slot);
            return;
        }
        let replica = &mut self.replicas[replica_slot];
        if !replica.has_free_worker() && !replica.queue_has_room() {
            self.respond(slot, Outcome::Rejected, now, queue);
            self.flight.jobs.remove(slot);
            return;
        }
        let job = self.flight.jobs.at_mut(slot);
        job.arrived = now;
        job.measured = measured;
        if self.tracks_held_jobs {
            self.flight.job_positions[slot as usize] = replica.hold_job(slot);
        } else {
            replica.count_job();
        }
        if !replica.has_free_worker() {
            replica.queue.push_back(slot);
        } else if replica.deadlines_arrive && self.flight.jobs.at(slot).deadline <= now {
            self.drop_expired(slot, now);
        } else {
            self.start_compute(slot, now, queue);
        }
    }

    /// Deadline propagation: the caller has given up on this queued job; it is dropped unserved.
    fn drop_expired(&mut self, slot: u32, now: u64) {
        let job = self.flight.jobs.at(slot);
        let (replica_slot, measured) = (job.replica as usize, job.measured);
        if R::TRACES {
            let (try_key, outcome) = (job.key, Outcome::Timeout);
            self.recorder.trace(&TraceEvent::JobEnds {
                try_key,
                outcome,
                at: now,
            });
        }
        self.remove_from_replica(replica_slot, slot);
        if measured {
            let service = self.replicas[replica_slot].service as usize;
            self.measure.service_totals[service].expired += 1;
        }
        self.flight.jobs.remove(slot);
    }

    /// Load shedding: a job that waited in the queue longer than the service allows is
    /// rejected when it would start.
    fn shed(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let job = self.flight.jobs.at(slot);
        let (replica_slot, measured) = (job.replica as usize, job.measured);
        self.remove_from_replica(replica_slot, slot);
        if measured {
            let service = self.replicas[replica_slot].service as usize;
            self.measure.service_totals[service].shed += 1;
        }
        self.respond(slot, Outcome::Rejected, now, queue);
        self.flight.jobs.remove(slot);
    }

    /// Takes job `slot` off its replica's list of jobs present (or, where nothing reads which
    /// jobs those are, off their number: see `Simulation::tracks_held_jobs`).
    #[inline(always)]
    fn remove_from_replica(&mut self, replica_slot: usize, slot: u32) {
        if !self.tracks_held_jobs {
            // Which jobs are held is not read: only their number is kept.
            self.replicas[replica_slot].uncount_job();
            return;
        }
        let position = self.flight.job_positions[slot as usize];
        if let Some(moved) = self.replicas[replica_slot].drop_job(position) {
            self.flight.job_positions[moved as usize] = position;
        }
    }

    /// The job takes a worker and computes for its (possibly slowed) service time.
    fn start_compute(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let measured = self.measure.measured;
        let job = self.flight.jobs.at_mut(slot);
        let replica = &mut self.replicas[job.replica as usize];
        replica.change_busy(now, 1, measured);
        job.holds_worker = true;
        if let Some(slow_factor) = replica.slow_down() {
            job.service_time = (job.service_time as f64 * slow_factor).round() as u64;
        }
        queue.push(
            now.saturating_add(job.service_time),
            Event::ComputeDone {
                job: slot,
                generation: job.generation,
            },
        );
    }

    /// The job gives its worker back, if it holds one; the next queued job takes it. (Inlined
    /// up to the queue: an async job's finish, which holds no worker, and a release that finds
    /// the queue empty, most of them, then cost no call, whose register saves and restores
    /// outweighed the work.)
    #[inline(always)]
    fn release_worker(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let job = self.flight.jobs.at_mut(slot);
        if !job.holds_worker {
            return;
        }
        job.holds_worker = false;
        let replica_slot = job.replica as usize;
        let replica = &mut self.replicas[replica_slot];
        replica.change_busy(now, -1, self.measure.measured);
        if !replica.queue.is_empty() {
            self.start_next_queued(replica_slot, now, queue);
        }
    }

    /// A worker of `replica_slot` is free and jobs wait: the first that may still start takes
    /// it (those whose caller's deadline has passed are dropped, those that waited too long
    /// shed).
    #[inline(never)]
    fn start_next_queued(&mut self, replica_slot: usize, now: u64, queue: &mut EventQueue<Event>) {
        while let Some(next) = self.replicas[replica_slot].queue.pop_front() {
            let waiting = self.flight.jobs.at(next);
            if self.replicas[replica_slot].deadlines_arrive && waiting.deadline <= now {
                self.drop_expired(next, now);
                continue;
            }
            // Read only with a job waiting: the service's settings are a cache miss on a big
            // mesh, and most releases find the queue empty.
            let service = self.replicas[replica_slot].service as usize;
            let max_queue_time = self.model.services[service].max_queue_time;
            if now - waiting.arrived > max_queue_time {
                self.shed(next, now, queue);
                continue;
            }
            self.start_compute(next, now, queue);
            break;
        }
    }

    // Always inlined into the event loop's dispatch (see `Process::handle`).
    #[inline(always)]
    pub(super) fn on_compute_done(
        &mut self,
        slot: u32,
        generation: u32,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let Some(job) = self.flight.jobs.get(slot, generation) else {
            return;
        };
        let replica = &self.replicas[job.replica as usize];
        let service = replica.service as usize;
        if job.measured && !self.is_in_flight(job.call, job.call_generation, job.try_number) {
            self.measure.service_totals[service].wasted_nanos += job.service_time;
        }
        if job.error_draw < replica.error_rate {
            self.finish_job(slot, Outcome::Error, now, queue);
            return;
        }
        if replica.async_concurrency {
            self.release_worker(slot, now, queue);
        }
        self.advance_steps(slot, now, queue);
    }

    /// Runs the job's steps from the current one: issues the next step's calls, or responds when
    /// no step is left (or a required call has failed).
    fn advance_steps(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        loop {
            let job = self.flight.jobs.at(slot);
            let endpoint = &self.model.endpoints[job.endpoint as usize];
            if job.failed_required {
                self.finish_job(slot, Outcome::Error, now, queue);
                return;
            }
            let step_index = job.step as usize;
            let Some(step) = endpoint.steps.get(step_index) else {
                self.finish_job(slot, Outcome::Succeeded, now, queue);
                return;
            };
            if job.deadline <= now {
                // Deadline propagation: no downstream call past the caller's deadline.
                self.finish_job(slot, Outcome::Timeout, now, queue);
                return;
            }
            let first_call = self.clients.step_first_call[job.endpoint as usize][step_index];
            let enabled = enabled_calls(job.call_mask, first_call, step.calls.len());
            if enabled == 0 {
                self.flight.jobs.at_mut(slot).step += 1;
                continue;
            }
            // At most 128 calls per endpoint (the call mask's bits).
            self.flight.jobs.at_mut(slot).pending_calls = enabled as u8;
            self.issue_step_calls(slot, now, queue);
            return;
        }
    }

    /// Starts every enabled call of the job's current step.
    fn issue_step_calls(&mut self, slot: u32, now: u64, queue: &mut EventQueue<Event>) {
        let job = self.flight.jobs.at(slot);
        let (endpoint_index, step_index) = (job.endpoint as usize, job.step as usize);
        let first_call = self.clients.step_first_call[endpoint_index][step_index] as usize;
        let step_len = self.model.endpoints[endpoint_index].steps[step_index]
            .calls
            .len();
        for offset in 0..step_len {
            let job = self.flight.jobs.at(slot);
            let call_index = first_call + offset;
            if job.call_mask & (1u128 << call_index) == 0 {
                continue;
            }
            let call = &self.model.endpoints[endpoint_index].steps[step_index].calls[offset];
            let replica = &self.replicas[job.replica as usize];
            let client_offset = self.clients.call_client_offset[endpoint_index][call_index];
            let start = CallStart {
                parent: Parent::Job {
                    job: slot,
                    generation: job.generation,
                },
                optional: call.optional,
                client: self.clients.client_base[job.replica as usize] + client_offset,
                caller_zone: replica.zone,
                caller_replica: job.replica,
                endpoint: call.target as u32,
                key: derive_key(job.key, call_index as u64),
                user_key: job.user_key,
                measured: job.measured,
                inherited_deadline: job.deadline,
                first_child: call_index == 0,
            };
            self.start_call(start, now, queue);
        }
    }

    /// The job is done: free its worker and slot, record it, send the response.
    fn finish_job(&mut self, slot: u32, outcome: Outcome, now: u64, queue: &mut EventQueue<Event>) {
        self.release_worker(slot, now, queue);
        let job = self.flight.jobs.at(slot);
        let (replica_slot, measured, arrived) = (job.replica as usize, job.measured, job.arrived);
        self.remove_from_replica(replica_slot, slot);
        if self.replicas[replica_slot].analysed {
            self.record_analysed(replica_slot, outcome, now - arrived);
        }
        if outcome == Outcome::Succeeded {
            let service = self.replicas[replica_slot].service;
            let latency = now - arrived;
            if self.measure.latency_log.is_on() {
                // Big topologies: counted later, a service at a time (`latency_log`).
                if self.measure.latency_log.push(service, latency, measured) {
                    self.measure.apply_latency_log();
                }
            } else {
                let window = &mut self.measure.windows[service as usize];
                window.succeeded += 1;
                window.latency.record(latency);
                if measured {
                    let totals = &mut self.measure.service_totals[service as usize];
                    totals.succeeded += 1;
                    totals.latency.record(latency);
                }
            }
        }
        self.respond(slot, outcome, now, queue);
        self.flight.jobs.remove(slot);
    }

    /// Puts the job's response on the wire, unless nobody waits for it or a partition drops it.
    pub(super) fn respond(
        &mut self,
        slot: u32,
        outcome: Outcome,
        now: u64,
        queue: &mut EventQueue<Event>,
    ) {
        let job = self.flight.jobs.at(slot);
        if R::TRACES {
            let try_key = job.key;
            self.recorder.trace(&TraceEvent::JobEnds {
                try_key,
                outcome,
                at: now,
            });
        }
        let job = self.flight.jobs.at(slot);
        if !self.is_in_flight(job.call, job.call_generation, job.try_number) {
            return; // the caller gave up: the response would be ignored
        }
        let call = self.flight.calls.at(job.call);
        let replica_zone = self.replicas[job.replica as usize].zone;
        if self.partitioned(call.caller_zone, replica_zone) {
            return;
        }
        if outcome != Outcome::Succeeded {
            self.note_response_cause(slot, outcome);
        }
        let job = self.flight.jobs.at(slot);
        let call = self.flight.calls.at(job.call);
        let arrival = now
            .saturating_add(job.response_hop)
            .saturating_add(self.extra_latency(call.caller_replica, job.replica));
        let event = Event::TryResponse {
            call: job.call,
            generation: job.call_generation,
            try_number: job.try_number,
            outcome,
        };
        queue.push_in_lane(self.lanes.hops, arrival, event);
    }

    /// Extra one-way latency from `latency` faults on either end, nanoseconds.
    #[inline(always)]
    fn extra_latency(&self, caller_replica: u32, replica: u32) -> u64 {
        if !self.has_latency_faults {
            return 0;
        }
        let caller = if caller_replica == NONE {
            0
        } else {
            self.replicas[caller_replica as usize].extra_latency
        };
        caller.saturating_add(self.replicas[replica as usize].extra_latency)
    }
}

// ----- failure attribution (see `super::cause`); only failures get here ---------------------

/// Whether a fault of `kind` explains a try ending with `outcome` (a crash refuses, errors
/// fail, a hang, slow-down or added latency times out or fills the queue).
fn explains(kind: &FaultKind, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Refused => matches!(kind, FaultKind::Crash),
        Outcome::Error => matches!(kind, FaultKind::Errors { .. }),
        Outcome::Timeout => matches!(
            kind,
            FaultKind::Hang | FaultKind::Slow { .. } | FaultKind::Latency { .. }
        ),
        Outcome::Rejected => matches!(kind, FaultKind::Slow { .. } | FaultKind::Latency { .. }),
        Outcome::Succeeded | Outcome::CircuitOpen => false,
    }
}

impl<R: Recorder> Simulation<'_, R> {
    /// The fault in force at replica `replica_slot` that explains `outcome` (the latest started
    /// of that kind, else the latest started of any kind); for a timeout across zones, a
    /// partition in force between the caller and the replica first. [`NO_INDEX`]: none.
    fn fault_at(&self, replica_slot: usize, outcome: Outcome, caller_zone: u32) -> u32 {
        let replica = &self.replicas[replica_slot];
        if outcome == Outcome::Timeout && self.partitioned(caller_zone, replica.zone) {
            if let Some(&fault) = self.active_partitions.iter().rev().find(|&&fault| {
                self.partition_fault_separates(fault as usize, caller_zone, replica.zone)
            }) {
                return fault;
            }
        }
        let faults = &replica.faults_in_force;
        faults
            .iter()
            .rev()
            .find(|&&fault| explains(&self.model.faults[fault as usize].kind, outcome))
            .or(faults.last())
            .copied()
            .unwrap_or(NO_INDEX)
    }

    /// The fault in force on any replica of `service` that explains `outcome` (else any), for a
    /// try its caller answered itself: the highest fault index, [`NO_INDEX`] when none.
    fn fault_on_service(&self, service: usize, outcome: Outcome) -> u32 {
        let first = self.first_replica[service] as usize;
        let replicas = &self.replicas[first..first + self.model.services[service].slots()];
        let in_force = || {
            replicas
                .iter()
                .flat_map(|r| r.faults_in_force.iter().copied())
        };
        in_force()
            .filter(|&fault| explains(&self.model.faults[fault as usize].kind, outcome))
            .max()
            .or_else(|| in_force().max())
            .unwrap_or(NO_INDEX)
    }

    /// The cause of a try of `service` that failed with `outcome` for a reason of its own:
    /// `lane` is what its lane held (a replica index, or [`LOCAL`] / [`PENDING`]: the caller
    /// answered itself).
    fn own_cause(&self, service: u32, lane: u32, outcome: Outcome, caller_zone: u32) -> Cause {
        let (replica, fault) = if lane < PENDING {
            let slot = (self.first_replica[service as usize] + lane) as usize;
            (lane, self.fault_at(slot, outcome, caller_zone))
        } else {
            (NO_INDEX, self.fault_on_service(service as usize, outcome))
        };
        Cause {
            service,
            replica,
            outcome,
            fault,
            gave_up: GaveUp::Unknown,
        }
    }

    /// A job answers its try with a failure: leaves the cause for the caller (the cause of
    /// its failed required call, else its own failure).
    #[cold]
    #[inline(never)]
    fn note_response_cause(&mut self, job_slot: u32, outcome: Outcome) {
        let job = self.flight.jobs.at(job_slot);
        let deep = match self.flight.job_causes.get(job_slot as usize) {
            Some(kept)
                if outcome == Outcome::Error
                    && job.failed_required
                    && kept.generation == job.generation =>
            {
                Some(kept.cause)
            }
            _ => None,
        };
        let replica = &self.replicas[job.replica as usize];
        let cause = deep.unwrap_or_else(|| {
            self.own_cause(replica.service, replica.index, outcome, job.caller_zone)
        });
        let entry = cause::slot_entry(&mut self.flight.call_causes, job.call);
        entry.lanes[job.try_number as usize % TRY_LANES] = TryCause {
            generation: job.call_generation,
            try_number: job.try_number,
            try_outcome: outcome,
            cause,
        };
    }

    /// The cause of try `try_number` of the call, ending now with `outcome` (call before its
    /// lane is freed): what its response carried, else its own failure (a timeout, an answer
    /// the caller gave itself).
    #[cold]
    #[inline(never)]
    fn try_cause(&self, slot: u32, try_number: u32, outcome: Outcome) -> Cause {
        let call = self.flight.calls.at(slot);
        let lane = try_number as usize % TRY_LANES;
        if let Some(entry) = self.flight.call_causes.get(slot as usize) {
            let carried = entry.lanes[lane];
            if carried.generation == call.generation
                && carried.try_number == try_number
                && carried.try_outcome == outcome
            {
                return carried.cause;
            }
        }
        self.own_cause(call.service, call.lanes[lane], outcome, call.caller_zone)
    }

    /// Keeps `cause` as the call's latest failure (a call whose deadline passes before its next
    /// try ends reports it).
    #[cold]
    #[inline(never)]
    fn remember_cause(&mut self, slot: u32, cause: Cause) {
        let generation = self.flight.calls.at(slot).generation;
        cause::slot_entry(&mut self.flight.call_causes, slot).last =
            cause::Stamped { generation, cause };
    }

    /// The cause of a call whose deadline passed: its latest try in flight timed out (at the
    /// replica it waited on), else its latest failed try.
    #[cold]
    #[inline(never)]
    fn call_timeout_cause(&self, slot: u32) -> Cause {
        let call = self.flight.calls.at(slot);
        let latest = self.tries_in_flight(slot).last();
        let cause = match latest {
            Some(number) => {
                let lane = call.lanes[number as usize % TRY_LANES];
                self.own_cause(call.service, lane, Outcome::Timeout, call.caller_zone)
            }
            None => match self.flight.call_causes.get(slot as usize) {
                Some(entry) if entry.last.generation == call.generation => entry.last.cause,
                _ => self.own_cause(call.service, LOCAL, Outcome::Timeout, call.caller_zone),
            },
        };
        if cause.gave_up == GaveUp::Unknown {
            Cause {
                gave_up: GaveUp::Deadline,
                ..cause
            }
        } else {
            cause
        }
    }

    /// `cause` with why the call stopped trying, when it is the call's own try's (a cause from
    /// deeper down keeps the reason its own call gave). Mirrors the retry decision of
    /// `end_try`, whose last condition is the retry budget.
    #[cold]
    #[inline(never)]
    fn with_gave_up(
        &self,
        slot: u32,
        cause: Cause,
        outcome: Outcome,
        lost_in_crash: bool,
        now: u64,
    ) -> Cause {
        if cause.gave_up != GaveUp::Unknown {
            return cause;
        }
        let call = self.flight.calls.at(slot);
        let retries = &self
            .client_policy(call.client, call.service as usize)
            .retries;
        let retries_used = call.tries - 1 - u32::from(call.hedges);
        let gave_up = if retries.max_retries == 0
            || !retries.retry_on[outcome.index()]
            || (lost_in_crash && !retries.retry_lost_in_crash)
        {
            GaveUp::NotRetried
        } else if retries_used >= retries.max_retries {
            GaveUp::RetriesExhausted
        } else if now >= call.deadline {
            GaveUp::Deadline
        } else if !self.parent_alive(call.parent) {
            GaveUp::CallerGone
        } else {
            GaveUp::RetryBudget
        };
        Cause { gave_up, ..cause }
    }
}

#[cfg(test)]
mod tests {
    use super::enabled_calls;

    #[test]
    fn enabled_calls_counts_only_the_steps_own_bits() {
        // Calls 0..3 in step one, 3..5 in step two, 5..128 in step three.
        let mask: u128 = 0b1_0110 | (1 << 127);
        assert_eq!(enabled_calls(mask, 0, 3), 2); // bits 1, 2
        assert_eq!(enabled_calls(mask, 3, 2), 1); // bit 4
        assert_eq!(enabled_calls(mask, 5, 123), 1); // bit 127
        assert_eq!(enabled_calls(u128::MAX, 0, 128), 128);
        assert_eq!(enabled_calls(u128::MAX, 128, 0), 0);
        // An independent count, bit by bit.
        for (first, len) in [(0u32, 7usize), (9, 40), (64, 64), (100, 28)] {
            let mask: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
            let expected = (0..len)
                .filter(|&i| mask & (1u128 << (first as usize + i)) != 0)
                .count() as u32;
            assert_eq!(enabled_calls(mask, first, len), expected);
        }
    }
}
