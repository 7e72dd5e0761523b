//! Injected failures.

/// What a fault does while it lasts.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// The replica stops: calls to it are refused; requests it held are lost.
    Crash,
    /// The replica accepts requests and never answers them.
    Hang,
    /// Service times are multiplied by `factor`.
    Slow {
        /// Multiplier of service times (>= 1 usually).
        factor: f64,
    },
    /// That fraction of requests fail with outcome `error` after their service time.
    Errors {
        /// Fraction of requests that fail, in [0, 1].
        rate: f64,
    },
    /// Extra one-way latency on every message to or from the replica.
    Latency {
        /// Added latency, nanoseconds.
        add: u64,
    },
    /// The service registry freezes: clients keep their last view, nothing registers, renews,
    /// expires or changes health in it until the outage ends.
    RegistryOutage,
    /// Messages between the two zone sets are dropped.
    Partition {
        /// Zones on one side.
        side_a: Vec<usize>,
        /// Zones on the other side.
        side_b: Vec<usize>,
    },
}

impl FaultKind {
    /// The scenario-file spelling.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Hang => "hang",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Errors { .. } => "errors",
            FaultKind::Latency { .. } => "latency",
            FaultKind::Partition { .. } => "partition",
            FaultKind::RegistryOutage => "registry_outage",
        }
    }
}

/// A replica, identified by service and index within the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplicaRef {
    /// Service index.
    pub service: usize,
    /// Replica index within the service.
    pub index: usize,
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Start, nanoseconds from the start of the run.
    pub at: u64,
    /// End, nanoseconds (`None`: until the end of the run).
    pub until: Option<u64>,
    /// What happens.
    pub kind: FaultKind,
    /// The target as written (for reports).
    pub target_label: String,
    /// The replicas hit (empty for a partition).
    pub replicas: Vec<ReplicaRef>,
}
