//! The validated description of a system and its load: what the simulator runs. Nothing here
//! knows about files; [`crate::scenario`] builds a [`Model`] from one.

pub mod autoscale;
pub mod balancer;
pub mod distribution;
pub mod fault;
pub mod hashing;
pub mod network;
pub mod objectives;
pub mod operations;
pub mod policy;
pub mod registry;
pub mod resilience;
pub mod service;
pub mod workload;
pub mod zones;

pub use autoscale::AutoscalePolicy;
pub use balancer::BalancerState;
pub use distribution::Dist;
pub use fault::{Fault, FaultKind, ReplicaRef};
pub use network::Network;
pub use objectives::{AlertKind, AlertRule, CompareAxis, CompareSpec, Place, Slo};
pub use operations::{
    Analysis, ConfigChange, Deployment, RollingBound, TrafficSplit, Version, WeightStep,
};
pub use policy::{
    BalancerKind, BreakerWindow, CallPolicy, CircuitBreakerPolicy, HealthCheckPolicy, Jitter,
    Outcome, OutlierPolicy, RetryBudget, RetryPolicy, ZoneAwarePolicy,
};
pub use registry::{ConsulConfig, EurekaConfig, RegistryModel};
pub use resilience::{
    BreakerState, BreakerTransition, CircuitBreaker, OutlierDetector, RetryBudgetState,
};
pub use service::{Call, Concurrency, Endpoint, EndpointId, RateLimit, Service, ServiceId, Step};
pub use workload::{Arrival, RateChange, Trace, Workload, DEFAULT_KEY_SPACE};

/// A complete, validated scenario.
#[derive(Debug, Clone)]
pub struct Model {
    /// Scenario name (default output folder `reports/<name>/`).
    pub name: String,
    /// Root seed of every random stream.
    pub seed: u64,
    /// Load is offered during `[0, duration)`, nanoseconds.
    pub duration: u64,
    /// Requests arriving before this time are not measured, nanoseconds.
    pub warmup: u64,
    /// Width of a `timeseries.csv` window, nanoseconds.
    pub window: u64,
    /// Zone names; replicas and workloads refer to them by index.
    pub zones: Vec<String>,
    /// The network.
    pub network: Network,
    /// The registry.
    pub registry: RegistryModel,
    /// Services, in file order.
    pub services: Vec<Service>,
    /// Endpoints of all services.
    pub endpoints: Vec<Endpoint>,
    /// Workloads, in file order.
    pub workloads: Vec<Workload>,
    /// Faults, in file order.
    pub faults: Vec<Fault>,
    /// Rolling deployments, in file order.
    pub deployments: Vec<Deployment>,
    /// Timed policy changes, sorted by time.
    pub changes: Vec<ConfigChange>,
    /// Service-level objectives (`[slo]`), if given.
    pub slo: Option<Slo>,
    /// Alert rules (`[[alert]]`), in file order.
    pub alerts: Vec<AlertRule>,
    /// What `meshsim compare` varies by default (`[compare]`), if given.
    pub compare: Option<CompareSpec>,
}

impl Model {
    /// `service/endpoint` for reports.
    pub fn endpoint_label(&self, endpoint: EndpointId) -> String {
        let ep = &self.endpoints[endpoint];
        format!("{}/{}", self.services[ep.service].name, ep.name)
    }
}
