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
    /// Replica slots of the new replicas: `first_slot .. first_slot + slots`.
    pub first_slot: usize,
    /// Replica slots the new replicas may take: `desired`, or the autoscaler's maximum when
    /// the service is autoscaled (the HPA sets the desired count as the rollout goes).
    pub slots: usize,
    /// Desired replicas when the service is not autoscaled (the service's replicas at the
    /// start of the run); for an autoscaled service the HPA's count in force is used instead.
    pub desired: usize,
    /// Replicas allowed above the desired count (`maxSurge`).
    pub max_surge: RollingBound,
    /// Replicas below the desired count that may be unavailable (`maxUnavailable`).
    pub max_unavailable: RollingBound,
    /// Creation to readiness of a new replica, nanoseconds.
    pub readiness_delay: u64,
    /// Time a terminating replica keeps serving after it left the registry, nanoseconds.
    pub pre_stop: u64,
    /// From the start of termination to the kill of what it still holds, nanoseconds.
    pub termination_grace: u64,
}

/// `maxSurge` or `maxUnavailable` as written: a count, or a percent of the desired count,
/// resolved against the desired count in force at each step of the rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RollingBound {
    /// A number of replicas.
    Count(usize),
    /// A percent (0 to 100) of the desired count.
    Percent(f64),
}

impl RollingBound {
    /// The count for `desired` replicas; a percent is rounded up when `round_up` (surge) and
    /// down otherwise (unavailable), as k8s.io/apimachinery's
    /// `GetScaledValueFromIntOrPercent` does.
    pub fn resolve(self, desired: usize, round_up: bool) -> usize {
        match self {
            RollingBound::Count(count) => count,
            RollingBound::Percent(percent) => {
                let exact = percent * desired as f64 / 100.0;
                // A hair of tolerance so that 25% of 4 is exactly 1 either way.
                if round_up {
                    (exact - 1e-9).ceil().max(0.0) as usize
                } else {
                    (exact + 1e-9).floor().max(0.0) as usize
                }
            }
        }
    }
}

impl Deployment {
    /// (max surge, max unavailable) for `desired` replicas, as Kubernetes' `ResolveFenceposts`
    /// resolves them at every sync: surge rounded up, unavailable down, and unavailable 1 when
    /// both come to 0 (so that the rollout can progress).
    pub fn fenceposts(&self, desired: usize) -> (usize, usize) {
        let surge = self.max_surge.resolve(desired, true);
        let unavailable = self.max_unavailable.resolve(desired, false);
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::RollingBound;

    #[test]
    fn bounds_resolve_against_the_desired_count_as_kubernetes_rounds_them() {
        // k8s: maxSurge 25% of 5 = ceil(1.25) = 2, maxUnavailable 25% of 5 = floor(1.25) = 1.
        let quarter = RollingBound::Percent(25.0);
        assert_eq!(quarter.resolve(5, true), 2);
        assert_eq!(quarter.resolve(5, false), 1);
        assert_eq!(quarter.resolve(8, true), 2);
        assert_eq!(quarter.resolve(8, false), 2);
        assert_eq!(quarter.resolve(3, false), 0);
        assert_eq!(RollingBound::Count(3).resolve(100, false), 3);
    }
}
