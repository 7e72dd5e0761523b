//! Operations on a running system: versions of a service and the traffic split between them
//! (with the analysis that may roll a canary back), rolling deployments, and timed policy
//! changes. See `docs/operations.md`.

use super::distribution::Dist;
use super::policy::CallPolicy;
use super::service::ServiceId;

/// One version (subset) of a service: a contiguous range of its replica slots at the start,
/// plus the slots deployments to it bring in.
#[derive(Debug, Clone)]
pub struct Version {
    /// Name, unique in its service (`""` for the one version of a service that declares none).
    pub name: String,
    /// Replicas of this version at the start.
    pub replicas: usize,
    /// Compute time of every endpoint on this version's replicas; `None`: the endpoint's.
    pub service_time: Option<Dist>,
    /// Steady fraction of requests failing with `error` on this version's replicas.
    pub error_rate: f64,
}

/// How callers split calls to a service across its versions (Istio's weighted routes to
/// subsets): first a version by weight, then a replica of it by the balancer.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSplit {
    /// Weight of each version (indexed like [`super::Service::versions`]) from t = 0.
    pub weights: Vec<u32>,
    /// Later weights, sorted by time.
    pub steps: Vec<WeightStep>,
    /// The analysis that may shift all traffic back to the first version.
    pub analysis: Option<Analysis>,
}

/// Weights that take effect at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightStep {
    /// When, nanoseconds.
    pub at: u64,
    /// Weight of each version.
    pub weights: Vec<u32>,
}

/// An automated analysis of one version (Argo Rollouts' AnalysisTemplate, Flagger's metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The version analysed (index into the service's versions).
    pub version: usize,
    /// Time of the first check, nanoseconds.
    pub start: u64,
    /// Period of the checks, nanoseconds; each covers the calls that ended since the last.
    pub interval: u64,
    /// Fails when failed / ended calls to the version exceed this.
    pub max_error_rate: Option<f64>,
    /// Fails when the p99 of the version's succeeded calls exceeds this, nanoseconds.
    pub max_latency_p99: Option<u64>,
    /// Fewer ended calls than this in an interval: inconclusive, no verdict.
    pub min_requests: u64,
    /// Failed checks (not necessarily in a row) that trigger the rollback.
    pub failures: u32,
}

/// A rolling update of a service (Kubernetes Deployment, strategy RollingUpdate).
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The service.
    pub service: ServiceId,
    /// Start, nanoseconds.
    pub at: u64,
    /// The version the new replicas run (index into the service's versions).
    pub to: usize,
    /// Replica slots of the new replicas: `first_slot .. first_slot + desired`.
    pub first_slot: usize,
    /// Desired replicas (the service's replicas at the start of the run).
    pub desired: usize,
    /// Replicas allowed above `desired`, resolved (percent rounded up).
    pub max_surge: usize,
    /// Replicas allowed below `desired` among the available, resolved (percent rounded down).
    pub max_unavailable: usize,
    /// Creation to readiness of a new replica, nanoseconds.
    pub readiness_delay: u64,
    /// Time a terminating replica keeps serving after it left the registry, nanoseconds.
    pub pre_stop: u64,
    /// From the start of termination to the kill of what it still holds, nanoseconds.
    pub termination_grace: u64,
}

/// A timed change of client policies, reaching each client at its own instant.
#[derive(Debug, Clone)]
pub struct ConfigChange {
    /// When it is pushed, nanoseconds.
    pub at: u64,
    /// Each client switches at an instant uniform in `[at, at + propagation]`, nanoseconds.
    pub propagation: u64,
    /// What it sets, as written (`key=value`), for events.
    pub label: String,
    /// The policy of calls to each service once the change has reached the caller (indexed
    /// like the model's services).
    pub policies: Vec<CallPolicy>,
}
