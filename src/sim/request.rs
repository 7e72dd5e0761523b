//! Requests in flight: client-side calls (with their tries) and server-side jobs.

use super::arena::Generational;
use crate::engine::chacha::LINEAGE_WORDS;
use std::collections::VecDeque;

/// Who waits for a call's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// A job (server-side work) that made the call as one of its steps.
    Job {
        /// Job slot.
        job: u32,
        /// Job generation.
        generation: u32,
    },
    /// A workload at the edge: the call is an end-to-end request.
    Edge {
        /// Workload index.
        workload: u32,
        /// User index (closed loop), 0 for open loop.
        user: u32,
    },
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// At least one try is out, waiting for its response.
    AwaitingResponse,
    /// Waiting out the backoff before the next try.
    BackingOff,
}

/// Tries of one call that can be in flight at once: the first try (or a retry) and its hedges.
/// Their try numbers are consecutive, so try `n` lives in lane `n % TRY_LANES`.
pub const TRY_LANES: usize = 1 + crate::model::policy::MAX_HEDGES as usize;

/// Lane value: no try in flight in this lane.
pub const IDLE: u32 = u32::MAX;
/// Lane value: a try answered locally (refused, rejected, circuit open) whose answer is due.
pub const LOCAL: u32 = u32::MAX - 1;
/// Lane value: a try waiting in its client's pending queue (connection pool full).
pub const PENDING: u32 = u32::MAX - 2;

/// A client-side call: one logical request from a caller to a service, with its tries.
/// (Aligned to a cache line: 128 bytes, two lines, never three. Calls in flight outnumber what
/// the L1 cache holds, so a call's first touch after a while is a miss per line it touched.
/// Laid out in declaration order: the first line holds what a job's response and a try's
/// liveness test read (generation, tries, lanes, client, service, zones), so those touch one
/// line of the caller's call, not two.)
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct CallState {
    /// Slot generation (set by the arena).
    pub generation: u32,
    /// Tries started so far (first try, retries and hedges); the latest is number `tries - 1`.
    pub tries: u32,
    /// Per lane (try number % [`TRY_LANES`]): the replica index of the try in flight there, or
    /// [`IDLE`], [`LOCAL`], [`PENDING`].
    pub lanes: [u32; TRY_LANES],
    /// Balancer state slot of the (caller, service) client.
    pub client: u32,
    /// Service called.
    pub service: u32,
    /// Zone of the caller (`u32::MAX`: a workload with no zone, same zone as everything).
    pub caller_zone: u32,
    /// Replica slot of the caller (`u32::MAX`: a workload).
    pub caller_replica: u32,
    /// Endpoint called.
    pub endpoint: u32,
    /// Who waits for the result.
    pub parent: Parent,
    /// Tries in flight (lanes not idle).
    pub live_tries: u8,
    /// Hedges sent so far.
    pub hedges: u8,
    /// Per lane (bit `lane`): its try's request was held by a replica that crashed, so its
    /// `refused` answer is a lost request rather than a refused connection.
    pub lost_in_crash: u8,
    /// Where the call stands.
    pub phase: CallPhase,
    /// Whether the parent tolerates this call's failure.
    pub optional: bool,
    /// Whether the end-to-end request this call belongs to is measured.
    pub measured: bool,
    /// Whether this is the first call (call index 0) of a parent job: its first try starts
    /// with words its parent's try handed on (see `crate::engine::chacha`).
    pub first_child: bool,
    /// Identity of the call, from which each try's work stream is derived.
    pub key: u64,
    /// The end-to-end request's user key (what consistent hashing hashes; 0 when unused).
    pub user_key: u64,
    /// When the call started, nanoseconds.
    pub started: u64,
    /// When the whole call times out, nanoseconds.
    pub deadline: u64,
    /// Per lane: when its try was put on the wire, nanoseconds.
    pub sent: [u64; TRY_LANES],
}

impl CallState {
    /// Whether try `try_number` is still in flight (no answer and not abandoned).
    #[inline]
    pub fn is_in_flight(&self, try_number: u32) -> bool {
        try_number < self.tries
            && self.tries - try_number <= TRY_LANES as u32
            && self.lanes[try_number as usize % TRY_LANES] != IDLE
    }

    /// Whether try `try_number` is the latest one and still in flight.
    #[inline]
    pub fn is_latest_in_flight(&self, try_number: u32) -> bool {
        self.tries == try_number + 1 && self.lanes[try_number as usize % TRY_LANES] != IDLE
    }
}

/// A try waiting in a client's pending queue for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingTry {
    /// Call slot.
    pub call: u32,
    /// Call generation.
    pub generation: u32,
    /// Try number within the call.
    pub try_number: u32,
}

/// A client's pending queue (Envoy's pending requests of a connection pool). Entries whose try
/// has ended meanwhile (timed out, call over) stay until they reach the front or a compaction;
/// `live` counts the others.
#[derive(Debug, Default)]
pub struct PendingQueue {
    /// Waiting tries, oldest first (some possibly stale).
    pub entries: VecDeque<PendingTry>,
    /// Tries really waiting.
    pub live: u32,
}

// Two cache lines each (see their layouts).
const _: () = assert!(std::mem::size_of::<CallState>() == 128);
const _: () = assert!(std::mem::offset_of!(CallState, key) == 64);
const _: () = assert!(std::mem::size_of::<Job>() == 128);
const _: () = assert!(std::mem::offset_of!(Job, deadline) == 64);
const _: () = assert!(std::mem::offset_of!(Job, error_draw) == 56);
const _: () = assert!(std::mem::offset_of!(Job, response_hop) == 48);

impl Generational for CallState {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

/// A server-side job: one try being served by one replica.
/// (Aligned to a cache line, as [`CallState`]: 128 bytes, two lines, never three. Laid out in
/// declaration order: the first line holds what a try's arrival reads and writes, what its
/// compute's end reads (the error draw), and all that a job waiting on its calls reads when
/// the last one ends, finishes and responds (the pending count, the response hop), so a leaf
/// job (no calls: most jobs of a big tree) touches one line of its slot after its try is sent;
/// the second line is read when the job's compute ends, to issue its calls, and for the
/// deadline where deadlines propagate.)
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Job {
    /// Slot generation (set by the arena).
    pub generation: u32,
    /// Replica slot serving it.
    pub replica: u32,
    /// Endpoint served.
    pub endpoint: u32,
    /// The calling call's slot, generation and try number, to route the response.
    pub call: u32,
    /// Generation of `call`.
    pub call_generation: u32,
    /// Try number within the call.
    pub try_number: u32,
    /// Index of the step under way.
    pub step: u32,
    /// Whether the job holds a worker now.
    pub holds_worker: bool,
    /// Whether it arrived in the measured interval.
    pub measured: bool,
    /// Whether a required call failed.
    pub failed_required: bool,
    /// Calls of the current step not yet ended (a step has at most 128 calls: see
    /// `call_mask`).
    pub pending_calls: u8,
    /// Arrival at the replica, nanoseconds.
    pub arrived: u64,
    /// Drawn compute time before any slow-down, nanoseconds.
    pub service_time: u64,
    /// Drawn one-way latency of the response hop, nanoseconds.
    pub response_hop: u64,
    /// Uniform draw in [0, 1) compared with an `errors` fault's rate.
    pub error_draw: f64,
    // ---- second cache line
    /// The caller's deadline under deadline propagation (`u64::MAX`: none), nanoseconds. Read
    /// only where some policy propagates deadlines (`ClientTable::propagates_deadlines`).
    pub deadline: u64,
    /// Zone of the caller (for partitions at delivery, and failure attribution).
    pub caller_zone: u32,
    /// Identity of this try: the key of its child calls derives from it.
    pub key: u64,
    /// The end-to-end request's user key, passed on to its child calls.
    pub user_key: u64,
    /// Bit i set: call i of the endpoint (in step order) is made (at most 128 calls).
    pub call_mask: u128,
}

/// Random words a job's try hands on to the first try of the job's first call (see
/// `crate::engine::chacha`). Kept beside the jobs, by job slot, not in [`Job`]: read once, by
/// that first call, they would otherwise widen every job by a cache line.
/// (Aligned to a cache line: one line per job slot, never two.)
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
pub struct Lineage {
    /// The words; the first `len` are valid.
    pub words: [u32; LINEAGE_WORDS],
    /// Number of valid words.
    pub len: u8,
}

impl Generational for Job {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallState {
        CallState {
            generation: 0,
            parent: Parent::Edge {
                workload: 0,
                user: 0,
            },
            optional: false,
            client: 0,
            caller_zone: 0,
            caller_replica: 0,
            endpoint: 0,
            service: 0,
            key: 0,
            user_key: 0,
            tries: 0,
            lanes: [IDLE; TRY_LANES],
            sent: [0; TRY_LANES],
            live_tries: 0,
            hedges: 0,
            lost_in_crash: 0,
            phase: CallPhase::AwaitingResponse,
            started: 0,
            deadline: u64::MAX,
            measured: false,
            first_child: false,
        }
    }

    #[test]
    fn a_try_is_in_flight_only_in_its_own_lane_and_window() {
        let mut call = call();
        // Tries 0..=4: try 4 (a retry) reuses try 0's lane; 1 to 3 have ended.
        call.tries = 5;
        call.lanes[4 % TRY_LANES] = 2;
        assert!(call.is_in_flight(4));
        assert!(call.is_latest_in_flight(4));
        assert!(!call.is_in_flight(0), "same lane, older try");
        assert!(!call.is_in_flight(5), "not started");
        assert!(!call.is_in_flight(3));
        // A hedge (try 5) pending for a connection, try 4 still out.
        call.tries = 6;
        call.lanes[5 % TRY_LANES] = PENDING;
        assert!(call.is_in_flight(4) && call.is_in_flight(5));
        assert!(!call.is_latest_in_flight(4));
        assert!(call.is_latest_in_flight(5));
    }
}
