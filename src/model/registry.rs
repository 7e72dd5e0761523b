//! Service registries: how clients learn which replicas exist, and how stale their views may be.

/// How clients learn which replicas exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RegistryModel {
    /// Every client sees exactly the live (running, not crashed) replicas at every instant.
    Oracle,
    /// Every client sees every replica ever started, forever.
    Static,
    /// Netflix Eureka: leases renewed by heartbeats, evicted by a timer, served from a cache,
    /// fetched by each client on its own timer.
    Eureka(EurekaConfig),
    /// HashiCorp Consul: an agent health-checks each instance; clients watch with blocking
    /// queries (or poll).
    Consul(ConsulConfig),
}

impl RegistryModel {
    /// Whether every client keeps its own cached view (Eureka, Consul) rather than sharing one
    /// per service that the registry keeps exact.
    pub fn has_client_caches(&self) -> bool {
        matches!(self, RegistryModel::Eureka(_) | RegistryModel::Consul(_))
    }

    /// Lower-case name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            RegistryModel::Oracle => "oracle",
            RegistryModel::Static => "static",
            RegistryModel::Eureka(_) => "eureka",
            RegistryModel::Consul(_) => "consul",
        }
    }
}

/// Eureka's timers, with Netflix's defaults (see `docs/discovery.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EurekaConfig {
    /// Lease renewal (heartbeat) interval of every instance, nanoseconds (default 30 s).
    pub heartbeat: u64,
    /// Lease duration, nanoseconds (default 90 s). As in Eureka's `Lease.isExpired`, a lease is
    /// expired only `2 × ttl` after its last renewal.
    pub ttl: u64,
    /// Period of the server's eviction task, nanoseconds (default 60 s).
    pub eviction_interval: u64,
    /// Period of each client's registry fetch, nanoseconds (default 30 s).
    pub client_refresh: u64,
    /// Period at which the server's read-only response cache is refreshed from the registry,
    /// nanoseconds (default 30 s).
    pub response_cache: u64,
    /// Self-preservation's renewal threshold, a fraction (default 0.85; 0 turns
    /// self-preservation off). Also bounds each eviction run to `size − ⌊size × fraction⌋`.
    pub self_preservation: f64,
}

impl Default for EurekaConfig {
    fn default() -> Self {
        EurekaConfig {
            heartbeat: 30_000_000_000,
            ttl: 90_000_000_000,
            eviction_interval: 60_000_000_000,
            client_refresh: 30_000_000_000,
            response_cache: 30_000_000_000,
            self_preservation: 0.85,
        }
    }
}

/// Consul's timers, with HashiCorp's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsulConfig {
    /// Interval of each instance's service health check, nanoseconds (default 10 s).
    pub check_interval: u64,
    /// A check that gets no answer within this fails, nanoseconds (default 1 s).
    pub check_timeout: u64,
    /// An instance critical this long is deregistered by the reaper, nanoseconds (default 1 min,
    /// Consul's floor).
    pub deregister_after: u64,
    /// Clients poll the catalog at this period, nanoseconds; 0 (the default) means blocking
    /// queries: a client learns of every change at once.
    pub client_refresh: u64,
}

/// Period of Consul's reaper of critical instances, nanoseconds (30 s).
pub const CONSUL_REAP_INTERVAL: u64 = 30_000_000_000;

impl Default for ConsulConfig {
    fn default() -> Self {
        ConsulConfig {
            check_interval: 10_000_000_000,
            check_timeout: 1_000_000_000,
            deregister_after: 60_000_000_000,
            client_refresh: 0,
        }
    }
}
