//! Every event of the simulation, in one place. Small and `Copy`: the event queue holds them by
//! value and allocates nothing per event.

use super::discovery::RegistryTimer;
use crate::model::Outcome;

/// Something that happens at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// An open-loop workload's next request arrives at the edge.
    WorkloadArrival {
        /// Workload index.
        workload: u32,
    },
    /// A closed-loop user finishes thinking and sends a request.
    UserWakes {
        /// Workload index.
        workload: u32,
        /// User index.
        user: u32,
    },
    /// A try's request reaches its replica.
    TryArrives {
        /// Job slot.
        job: u32,
        /// Job generation.
        generation: u32,
    },
    /// A job's compute (service time) ends.
    ComputeDone {
        /// Job slot.
        job: u32,
        /// Job generation.
        generation: u32,
    },
    /// A try's response (or refusal) reaches its caller.
    TryResponse {
        /// Call slot.
        call: u32,
        /// Call generation.
        generation: u32,
        /// Try number within the call.
        try_number: u32,
        /// What the response says.
        outcome: Outcome,
    },
    /// The earliest timeout of a deadline queue is due.
    DeadlineSweep {
        /// Deadline queue index.
        queue: u32,
    },
    /// A call's inherited deadline (deadline propagation) is due.
    CallDeadline {
        /// Call slot.
        call: u32,
        /// Call generation.
        generation: u32,
    },
    /// A call's backoff is over: send the next try.
    RetryDue {
        /// Call slot.
        call: u32,
        /// Call generation.
        generation: u32,
    },
    /// A client's outlier detector runs its interval sweep.
    OutlierSweep {
        /// Client index.
        client: u32,
    },
    /// Eureka: a replica's lease renewal is due.
    Heartbeat {
        /// Replica slot.
        replica: u32,
    },
    /// Consul: a replica's agent runs its service check.
    AgentCheck {
        /// Replica slot.
        replica: u32,
    },
    /// A periodic task of the registry server.
    RegistryTimer {
        /// Which task.
        timer: RegistryTimer,
    },
    /// A caller fetches the registry into its clients' views.
    ViewFetch {
        /// Replica slot, or (after the slots) workload index.
        caller: u32,
    },
    /// A client runs a round of active health checks.
    HealthCheckRound {
        /// Client index.
        client: u32,
    },
    /// One replica's own health check, off its client's rounds: due (`timed_out` false), or the
    /// check sent `timeout` ago got no answer (`timed_out` true).
    HealthCheckReplica {
        /// Client index.
        client: u32,
        /// Replica index within the service.
        replica: u32,
        /// Whether this is the unanswered check's timeout rather than the next check.
        timed_out: bool,
    },
    /// The autoscaler's sync of a service.
    AutoscaleSync {
        /// Service index.
        service: u32,
    },
    /// A replica started by the autoscaler becomes ready.
    ReplicaReady {
        /// Replica slot.
        replica: u32,
        /// Its start count when it was started.
        start: u32,
    },
    /// A fault begins.
    FaultStarts {
        /// Fault index.
        fault: u32,
    },
    /// A fault ends.
    FaultEnds {
        /// Fault index.
        fault: u32,
    },
    /// An operation: a traffic step, an analysis check, a deployment's start, a terminating
    /// replica's pre-stop or grace end, a client's config switch (see `ops.rs`).
    Operation {
        /// What it does.
        kind: super::ops::OperationKind,
        /// The service, deployment, replica slot or client it is about.
        index: u32,
        /// A step, termination number or change index.
        arg: u32,
    },
}
