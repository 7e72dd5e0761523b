//! Requests in flight: client-side calls (with their tries) and server-side jobs.

use super::arena::Generational;

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
    /// A try is out, waiting for its response.
    AwaitingResponse,
    /// Waiting out the backoff before the next try.
    BackingOff,
}

/// A client-side call: one logical request from a caller to a service, with its tries.
#[derive(Debug, Clone)]
pub struct CallState {
    /// Slot generation (set by the arena).
    pub generation: u32,
    /// Who waits for the result.
    pub parent: Parent,
    /// Whether the parent tolerates this call's failure.
    pub optional: bool,
    /// Balancer state slot of the (caller, service) client.
    pub client: u32,
    /// Zone of the caller (`u32::MAX`: a workload with no zone, same zone as everything).
    pub caller_zone: u32,
    /// Replica slot of the caller (`u32::MAX`: a workload).
    pub caller_replica: u32,
    /// Endpoint called.
    pub endpoint: u32,
    /// Service called.
    pub service: u32,
    /// Identity of the call, from which each try's work stream is derived.
    pub key: u64,
    /// The end-to-end request's user key (what consistent hashing hashes; 0 when unused).
    pub user_key: u64,
    /// Tries started so far; the current try's number is `tries - 1`.
    pub tries: u32,
    /// Replica of the try in flight (`u32::MAX` when none).
    pub replica_in_flight: u32,
    /// Where the call stands.
    pub phase: CallPhase,
    /// When the call started, nanoseconds.
    pub started: u64,
    /// When the try in flight was sent, nanoseconds.
    pub try_started: u64,
    /// When the whole call times out, nanoseconds.
    pub deadline: u64,
    /// Whether the end-to-end request this call belongs to is measured.
    pub measured: bool,
}

impl Generational for CallState {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

/// A server-side job: one try being served by one replica.
#[derive(Debug, Clone)]
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
    /// Identity of this try: the key of its child calls derives from it.
    pub key: u64,
    /// The end-to-end request's user key, passed on to its child calls.
    pub user_key: u64,
    /// The caller's deadline under deadline propagation (`u64::MAX`: none), nanoseconds.
    pub deadline: u64,
    /// Zone of the caller (for partitions at delivery).
    pub caller_zone: u32,
    /// Arrival at the replica, nanoseconds.
    pub arrived: u64,
    /// Drawn compute time before any slow-down, nanoseconds.
    pub service_time: u64,
    /// Uniform draw in [0, 1) compared with an `errors` fault's rate.
    pub error_draw: f64,
    /// Bit i set: call i of the endpoint (in step order) is made (at most 128 calls).
    pub call_mask: u128,
    /// Drawn one-way latency of the response hop, nanoseconds.
    pub response_hop: u64,
    /// Index of the step under way.
    pub step: u32,
    /// Calls of the current step not yet ended.
    pub pending_calls: u32,
    /// Whether a required call failed.
    pub failed_required: bool,
    /// Whether the job holds a worker now.
    pub holds_worker: bool,
    /// Position in its replica's list of jobs present.
    pub position: u32,
    /// Whether it arrived in the measured interval.
    pub measured: bool,
}

impl Generational for Job {
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}
