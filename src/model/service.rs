//! Services, their endpoints and the calls each endpoint makes downstream.

use super::distribution::Dist;
use super::policy::CallPolicy;

/// Index of a service in [`super::Model::services`].
pub type ServiceId = usize;
/// Index of an endpoint in [`super::Model::endpoints`] (global over all services).
pub type EndpointId = usize;

/// How a replica's workers are held while a request waits on its downstream calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// A worker is held for the whole request, downstream calls included (thread per request).
    Threads,
    /// A worker is held only while computing; waiting on downstream calls holds none.
    Async,
}

/// A service: a pool of identical replicas.
///
/// Laid out by what the event loop reads on every try (`repr(C)`, from a cache-line
/// boundary): the first 64 bytes hold the service's own per-try settings, the next two its
/// policy's (see [`CallPolicy`]); the rest is read at set-up, on faults and on windows. A big
/// mesh visits each service rarely, so each line a try reads here is a cache miss.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Service {
    /// How workers are held.
    pub concurrency: Concurrency,
    /// Load shedding: a request that waited in the queue longer than this, nanoseconds, is
    /// rejected when a worker would take it (`u64::MAX`: never).
    pub max_queue_time: u64,
    /// Token-bucket rate limit of each replica (Envoy's local rate limit); `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Relative weight of each replica slot for `weighted_round_robin` (all 1 unless given).
    pub replica_weights: Vec<u32>,
    /// Policy of calls made TO this service (the scenario's `[policy]` merged with the service's own).
    pub policy: CallPolicy,
    /// How callers split calls across versions; `None`: over all replicas in view.
    pub traffic: Option<super::operations::TrafficSplit>,
    // ---- the rest
    /// Unique name, as written in the scenario.
    pub name: String,
    /// Number of replicas at the start of the run.
    pub replicas: usize,
    /// Zone index (into [`super::Model::zones`]) of each replica slot, spread round-robin.
    pub replica_zones: Vec<usize>,
    /// Concurrent requests one replica serves.
    pub workers: u32,
    /// FIFO waiting room per replica; `None` is unbounded.
    pub queue_capacity: Option<u32>,
    /// Endpoints of this service (indices into [`super::Model::endpoints`]); the first is the one a
    /// bare service name refers to.
    pub endpoints: Vec<EndpointId>,
    /// Horizontal autoscaling, if any.
    pub autoscale: Option<super::AutoscalePolicy>,
    /// Steady fraction of requests, in [0, 1], that fail with `error` after their service time
    /// (no downstream call made), like an `errors` fault in force all the run (isotope's
    /// `errorRate`); 0 for none.
    pub error_rate: f64,
    /// Versions (subsets), at least one; a service that declares none has one, named "".
    pub versions: Vec<super::operations::Version>,
    /// Version (index into `versions`) of each replica slot: the starting replicas version by
    /// version, then each deployment's new replicas.
    pub replica_versions: Vec<u32>,
    /// Replica slots past the starting ones (and the autoscaler's) that deployments bring in.
    pub deployment_slots: usize,
}

impl Service {
    /// Replica slots the simulator provides: the starting replicas, or the autoscaler's maximum
    /// when that is higher, plus the deployments' new replicas. Slots past `replicas` start
    /// stopped.
    pub fn slots(&self) -> usize {
        starting_slots(
            self.replicas,
            self.versions.first().map_or(self.replicas, |v| v.replicas),
            self.autoscale.as_ref(),
        ) + self.deployment_slots
    }

    /// Whether replica slot `index` is the autoscaler's: the first version's starting slots
    /// and those past them up to its maximum (a deployment's new slots are added at run time).
    pub fn autoscaled_slot(&self, index: usize) -> bool {
        self.autoscale.is_some()
            && index
                < starting_slots(
                    self.replicas,
                    self.versions.first().map_or(self.replicas, |v| v.replicas),
                    self.autoscale.as_ref(),
                )
            && self.replica_versions.get(index) == Some(&0)
    }

    /// Whether the service declares versions of its own (else it has one unnamed version).
    pub fn has_versions(&self) -> bool {
        self.versions.len() > 1 || self.versions.first().is_some_and(|v| !v.name.is_empty())
    }
}

/// A token bucket per replica: `rate` tokens per second up to `burst`; a request that finds no
/// token is rejected at once (outcome `rejected`, as Envoy's 429).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second.
    pub rate: f64,
    /// Bucket size (the bucket starts full).
    pub burst: f64,
}

/// One endpoint: compute, then run the call steps in order, then respond.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The service it belongs to.
    pub service: ServiceId,
    /// Endpoint name (`default` when the service declares none).
    pub name: String,
    /// Compute time before the calls, nanoseconds.
    pub service_time: Dist,
    /// Steps run one after another; a step's calls run in parallel.
    pub steps: Vec<Step>,
}

impl Endpoint {
    /// Number of calls over all steps (each call's position in this order is its call index).
    pub fn call_count(&self) -> usize {
        self.steps.iter().map(|step| step.calls.len()).sum()
    }
}

/// A group of calls issued together; the step ends when all of them have ended.
#[derive(Debug, Clone)]
pub struct Step {
    /// The calls of this step (one for a sequential step, several for a parallel fan-out).
    pub calls: Vec<Call>,
}

/// One downstream call.
#[derive(Debug, Clone)]
pub struct Call {
    /// The endpoint called.
    pub target: EndpointId,
    /// Probability that the call is made at all, in [0, 1].
    pub probability: f64,
    /// Whether the caller tolerates this call's failure.
    pub optional: bool,
}

/// Replica slots of a service before those deployments add: its starting replicas, or, when
/// autoscaled, room for the first version (the one the autoscaler scales) to reach the
/// maximum besides the other versions' replicas.
pub fn starting_slots(
    replicas: usize,
    first_version_replicas: usize,
    autoscale: Option<&super::AutoscalePolicy>,
) -> usize {
    autoscale.map_or(replicas, |a| {
        replicas.max(a.max as usize + replicas - first_version_replicas)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    fn what_every_try_reads_shares_three_cache_lines() {
        // Service line 1: its own per-try settings; line 2: the policy's first 64 bytes; line
        // 3: the retries, per-try timeout first.
        assert_eq!(align_of::<Service>(), 64);
        assert!(offset_of!(Service, replica_weights) + size_of::<Vec<u32>>() <= 64);
        assert!(offset_of!(Service, rate_limit) + size_of::<Option<RateLimit>>() <= 64);
        assert!(offset_of!(Service, concurrency) < 64 && offset_of!(Service, max_queue_time) < 64);
        assert_eq!(offset_of!(Service, policy), 64);
        assert!(
            offset_of!(CallPolicy, hedge) + size_of::<Option<crate::model::policy::HedgePolicy>>()
                <= 64
        );
        assert!(offset_of!(CallPolicy, timeout) < 64 && offset_of!(CallPolicy, zone_aware) < 64);
        assert_eq!(offset_of!(CallPolicy, retries), 64);
        assert_eq!(
            offset_of!(crate::model::policy::RetryPolicy, per_try_timeout),
            0
        );
    }
}
