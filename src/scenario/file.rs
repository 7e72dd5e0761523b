//! The scenario file's shape as Rust types: the single place where the keys of every table are
//! declared.
//!
//! These types serve three purposes at once:
//! - their doc comments, enums and ranges become the JSON Schema printed by `meshsim schema`
//!   (see [`json_schema`]), which editors (Taplo / Even Better TOML) use for completion;
//! - the hand-walking reader (which reports every problem with its position) takes the allowed
//!   keys of each table from them ([`keys_of`]), so an unknown key and its "did you mean" come
//!   from here;
//! - the tests deserialize every scenario in `scenarios/` into [`ScenarioFile`]
//!   (`deny_unknown_fields`) and check it against the schema.
//!
//! To add a key: add a field (with a doc comment naming its unit and default) to the table's type
//! below, read it in the section's reader (`policy.rs`, `services.rs`, ...), and add it to the
//! `every_key` fixtures in this module's tests. A key read by a reader but not declared here trips
//! a debug assertion in every test that reads that table; a key declared here but never read by
//! the reader fails the `every_key` test.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// The regular expression a duration string matches: one or more `NUMBER UNIT` terms.
pub const DURATION_PATTERN: &str =
    r"^\s*(([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*(ns|us|µs|μs|ms|s|m|h)\s*)+$";

/// The regular expression a distribution string matches: a known name and its arguments.
pub const DISTRIBUTION_PATTERN: &str =
    r"^\s*(const|exp|uniform|lognormal|normal|pareto|mix|empirical|quantiles)\s*\(.*\)\s*$";

/// A duration: a string with a unit (`"250us"`, `"1.5ms"`, `"2s"`, `"5m"`, `"1h"`, `"1m30s"`).
#[derive(Debug, Clone, Deserialize)]
pub struct Duration(pub String);

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration with a unit: ns, us (µs), ms, s, m, h; terms may be summed \
                            (\"1m30s\"). A bare number is an error.",
            "examples": ["250us", "1.5ms", "2s", "1m30s"]
        })
    }
}

/// A distribution of durations, as a string.
#[derive(Debug, Clone, Deserialize)]
pub struct Distribution(pub String);

impl JsonSchema for Distribution {
    fn schema_name() -> Cow<'static, str> {
        "Distribution".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DISTRIBUTION_PATTERN,
            "description": "A distribution of durations: const(2ms), exp(1ms) (mean), \
                            uniform(1ms, 3ms), lognormal(median=5ms, p99=50ms), \
                            normal(mean=5ms, sd=1ms) (truncated at 0), pareto(scale=1ms, shape=2.5), \
                            mix(0.9 * exp(1ms), 0.1 * exp(20ms)) (weights sum to 1), \
                            empirical(path.csv) (one duration per line, path relative to the scenario), \
                            quantiles(0=1ms, 0.5=2ms, 0.99=9ms, 1=20ms) (the quantile function at \
                            increasing levels from 0 to 1, linear between them).",
            "examples": ["exp(2ms)", "lognormal(median=5ms, p99=50ms)", "const(0.25ms)"]
        })
    }
}

/// A mechanism's table, or `false` to switch it off.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "{T}OrOff")]
pub enum OrOff<T> {
    /// `false`: switched off (to compare against it, or to switch off for one service what
    /// `[policy]` sets).
    Off(Off),
    /// The mechanism's settings.
    On(T),
}

/// A limit, or `false` for no limit.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "{T}OrNoLimit")]
pub enum LimitOrOff<T> {
    /// `false`: no limit (to compare against a limit, or to lift for one service a limit
    /// `[policy]` sets).
    Off(Off),
    /// The limit.
    Limit(T),
}

/// The schema of a count limit of at least 1, or `false` for none.
fn count_from_1_or_no_limit(generator: &mut SchemaGenerator) -> Schema {
    number_or_no_limit(generator, json_schema!({ "type": "integer", "minimum": 1 }))
}

/// The schema of a count limit of at least 0, or `false` for none.
fn count_from_0_or_no_limit(generator: &mut SchemaGenerator) -> Schema {
    number_or_no_limit(generator, json_schema!({ "type": "integer", "minimum": 0 }))
}

/// The schema of a fraction limit (0 to 1), or `false` for none.
fn fraction_or_no_limit(generator: &mut SchemaGenerator) -> Schema {
    number_or_no_limit(
        generator,
        json_schema!({ "type": "number", "minimum": 0.0, "maximum": 1.0 }),
    )
}

/// `number`, or `false` (a reference to [`Off`]) for no limit.
fn number_or_no_limit(generator: &mut SchemaGenerator, number: Schema) -> Schema {
    let off = generator.subschema_for::<Off>();
    json_schema!({ "anyOf": [off, number] })
}

/// The value `false`.
#[derive(Debug, Clone, Copy)]
pub struct Off;

impl<'de> Deserialize<'de> for Off {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match bool::deserialize(deserializer)? {
            false => Ok(Off),
            true => Err(de::Error::custom("expected false or a table")),
        }
    }
}

impl JsonSchema for Off {
    fn schema_name() -> Cow<'static, str> {
        "Off".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "boolean",
            "const": false,
            "description": "false: switched off."
        })
    }
}

/// A whole scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "meshsim scenario",
    description = "A meshsim scenario: services, network, registry, policies, load and faults. \
                   Durations are strings with a unit; rates are requests per second."
)]
pub struct ScenarioFile {
    /// The run: name, seed, duration, warmup.
    pub scenario: ScenarioHeader,
    /// One-way network latencies.
    pub network: Option<NetworkTable>,
    /// How clients learn which replicas exist.
    pub registry: Option<RegistryTable>,
    /// Defaults for every call; a service's `[service.policy]` overrides them for calls to it.
    pub policy: Option<PolicyTable>,
    /// The services (at least one).
    #[schemars(length(min = 1))]
    pub service: Vec<ServiceTable>,
    /// The load (at least one workload).
    #[schemars(length(min = 1))]
    pub workload: Vec<WorkloadTable>,
    /// Faults injected during the run.
    pub fault: Option<Vec<FaultTable>>,
    /// Rolling deployments of a service to a version (see docs/operations.md).
    pub deployment: Option<Vec<DeploymentTable>>,
    /// Timed policy changes, each reaching the clients over a propagation window.
    pub change: Option<Vec<ChangeTable>>,
    /// Service-level objectives every run is judged by.
    pub slo: Option<SloTable>,
    /// Alert rules evaluated on the run (burn rate on the `[slo]` error budget, latency).
    pub alert: Option<Vec<AlertTable>>,
    /// What `meshsim compare` varies when no `--vary` is given.
    pub compare: Option<CompareTable>,
}

/// `[scenario]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioHeader {
    /// Name of the scenario; the default output folder is `reports/<name>/`.
    pub name: String,
    /// Root seed (default 1): same seed and same file give byte-identical outputs. A seed above
    /// 2^63 - 1 may be written as a string of digits.
    pub seed: Option<Seed>,
    /// Load is offered during [0, duration).
    pub duration: Duration,
    /// Requests arriving before warmup are not measured (default "0s"; shorter than duration).
    pub warmup: Option<Duration>,
    /// Width of a `timeseries.csv` window (default "1s").
    pub window: Option<Duration>,
}

/// A seed: an integer, or a string of digits for values above 2^63 - 1.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Seed {
    /// An integer seed.
    Number(#[schemars(range(min = 0))] i64),
    /// A seed written as digits.
    Digits(#[schemars(regex(pattern = r"^\s*[0-9]+\s*$"))] String),
}

/// `[network]`: one-way latencies of every message.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkTable {
    /// One-way latency within a zone (default const(0s)).
    pub latency: Option<Distribution>,
    /// One-way latency between zones (default: `latency`).
    pub cross_zone_latency: Option<Distribution>,
    /// One-way latency between a workload without a zone and the replicas it calls (default:
    /// `latency`). `meshsim import traces` sets it from the load generator's client spans.
    pub edge_latency: Option<Distribution>,
}

/// Registry models.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistryModel {
    /// Every client sees exactly the live replicas at every instant (the default).
    Oracle,
    /// Every client sees every configured replica forever.
    Static,
    /// Netflix Eureka: heartbeats, lease expiry, eviction sweeps, cached client views.
    Eureka,
    /// HashiCorp Consul: health checks and blocking queries.
    Consul,
}

/// `[registry]`: how clients learn which replicas exist.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryTable {
    /// oracle (default) | static | eureka | consul.
    pub model: Option<RegistryModel>,
    /// Eureka: client heartbeat (lease renewal) interval (default "30s").
    pub heartbeat: Option<Duration>,
    /// Eureka: lease expiration after the last heartbeat (default "90s").
    pub ttl: Option<Duration>,
    /// Eureka: period of the server's eviction sweep (default "60s").
    pub eviction_interval: Option<Duration>,
    /// How often a client refreshes its view (eureka default "30s"; consul "0s": blocking
    /// queries).
    pub client_refresh: Option<Duration>,
    /// Eureka: refresh period of the server's read-only response cache (default "30s").
    pub response_cache: Option<Duration>,
    /// Eureka: self-preservation threshold, the fraction of expected renewals below which
    /// nothing is evicted (default 0.85; 0 or false disables, true is 0.85).
    pub self_preservation: Option<SelfPreservation>,
    /// Consul: health check interval (default "10s").
    pub check_interval: Option<Duration>,
    /// Consul: health check timeout (default "1s").
    pub check_timeout: Option<Duration>,
    /// Consul: a critical instance is deregistered after this long (default "1m").
    pub deregister_after: Option<Duration>,
}

/// Eureka's self-preservation: on/off, or its threshold.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SelfPreservation {
    /// true: threshold 0.85; false: off.
    Enabled(bool),
    /// The threshold, in [0, 1) (0: off).
    Threshold(#[schemars(range(min = 0.0, max = 1.0))] f64),
}

/// Load balancers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Balancer {
    /// A replica at random.
    Random,
    /// Each replica in turn (the default).
    RoundRobin,
    /// Smooth weighted round robin over the service's `weights`.
    WeightedRoundRobin,
    /// Fewest requests outstanding from this client.
    LeastRequest,
    /// Two distinct replicas at random, the one with fewer outstanding.
    P2c,
    /// HAProxy's leastconn: fewest outstanding, ties round robin.
    LeastConn,
    /// HAProxy's random(2): two draws with replacement, the one with fewer outstanding.
    Random2,
    /// Finagle/Linkerd peak EWMA of round trips, power of two choices.
    PeakEwma,
    /// Consistent hashing on a ring (Ketama).
    RingHash,
    /// Consistent hashing with Maglev's lookup table.
    Maglev,
}

/// A policy: `[policy]` for every call, or `[service.policy]` for calls to one service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTable {
    /// The balancer (default round_robin).
    pub balancer: Option<Balancer>,
    /// Bulkhead: most tries a client may have outstanding to the service, at least 1; more
    /// are rejected at once (default and false: unlimited).
    #[serde(default)]
    #[schemars(schema_with = "count_from_1_or_no_limit")]
    pub max_requests: Option<LimitOrOff<u32>>,
    /// Connection pool: most tries a client may have on the wire to the service, at least 1;
    /// more wait in its pending queue (Envoy's max_connections; default and false: unlimited).
    #[serde(default)]
    #[schemars(schema_with = "count_from_1_or_no_limit")]
    pub max_connections: Option<LimitOrOff<u32>>,
    /// Most tries a client may have waiting for a connection; more are rejected at once
    /// (Envoy's max_pending_requests; default and false: unlimited).
    #[serde(default)]
    #[schemars(schema_with = "count_from_0_or_no_limit")]
    pub max_pending: Option<LimitOrOff<u32>>,
    /// Whole-call timeout, all tries included (default "15s").
    pub timeout: Option<Duration>,
    /// Retries (none unless set; false: none).
    pub retries: Option<OrOff<RetriesTable>>,
    /// Circuit breaker (resilience4j semantics; false: none).
    pub circuit_breaker: Option<OrOff<CircuitBreakerTable>>,
    /// Outlier detection (Envoy semantics; false: none).
    pub outlier_detection: Option<OrOff<OutlierDetectionTable>>,
    /// Active health checking (Envoy semantics; false: none).
    pub health_check: Option<OrOff<HealthCheckTable>>,
    /// Hedged requests: another try after a delay, first good response wins (false: none).
    pub hedge: Option<OrOff<HedgeTable>>,
    /// Requests carry their caller's deadline; servers drop expired work (default false).
    pub deadline_propagation: Option<bool>,
    /// Zone-aware routing (Envoy): true, or a table with min_cluster_size.
    pub zone_aware: Option<ZoneAware>,
}

/// Retry conditions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryOn {
    /// The try timed out.
    Timeout,
    /// The replica refused (crashed, or none in view), including requests it held when it
    /// crashed.
    Refused,
    /// Refused before the request was sent (HAProxy's retry-on conn-failure): not the
    /// requests a replica held when it crashed.
    ConnectFailure,
    /// The replica answered with an error.
    Error,
    /// The replica (or a local bulkhead / rate limit) rejected the try.
    Rejected,
    /// The client's circuit breaker is open.
    CircuitOpen,
}

/// Backoff jitter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Uniform in [0, cap] (the default).
    Full,
    /// cap/2 plus uniform in [0, cap/2].
    Equal,
    /// Exactly the cap.
    None,
}

/// `retries = { ... }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetriesTable {
    /// Most retries after the first try (default 1).
    pub max: Option<u32>,
    /// Timeout of one try (default and false: none, only the whole-call timeout).
    pub per_try_timeout: Option<LimitOrOff<Duration>>,
    /// Base backoff before a retry (default "25ms"); doubles per retry.
    pub backoff: Option<Duration>,
    /// Cap of the backoff (default "250ms").
    pub max_backoff: Option<Duration>,
    /// full (default) | equal | none.
    pub jitter: Option<Jitter>,
    /// Outcomes that are retried (default: every failure outcome).
    pub on: Option<Vec<RetryOn>>,
    /// Retry budget (Finagle): retries stay under this fraction (0 to 1) of calls plus 10 per
    /// second (default and false: no budget).
    #[serde(default)]
    #[schemars(schema_with = "fraction_or_no_limit")]
    pub budget: Option<LimitOrOff<f64>>,
}

/// A circuit breaker's window: a number of calls, or a duration.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BreakerWindow {
    /// Count-based: the last N calls.
    Calls(#[schemars(range(min = 1, max = 1_000_000))] u32),
    /// Time-based: the calls of the last duration (one-second buckets).
    Time(Duration),
}

/// `circuit_breaker = { ... }` (defaults: resilience4j's).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakerTable {
    /// Opens when the failure rate reaches this (default 0.5).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub failure_rate: Option<f64>,
    /// Opens when the slow-call rate reaches this (default 1.0).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub slow_call_rate: Option<f64>,
    /// A call longer than this is slow (default "60s").
    pub slow_call_duration: Option<Duration>,
    /// Sliding window: a number of calls (default 100) or a duration.
    pub window: Option<BreakerWindow>,
    /// Calls needed in the window before it may open (default 100).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub min_calls: Option<u32>,
    /// How long it stays open (default "60s").
    pub open_for: Option<Duration>,
    /// Probe calls let through when half-open (default 10).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub half_open_calls: Option<u32>,
}

/// `outlier_detection = { ... }` (defaults: Envoy's).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetectionTable {
    /// Fraction of detected outliers actually ejected (Envoy's enforcing_consecutive_5xx / 100;
    /// default 1; 0 detects without ejecting).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub enforcing: Option<f64>,
    /// Failed tries in a row that eject a replica (default 5).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub consecutive_errors: Option<u32>,
    /// Sweep interval (default "10s").
    pub interval: Option<Duration>,
    /// Ejection time, times the number of ejections (default "30s").
    pub base_ejection: Option<Duration>,
    /// Cap of the ejection time (default "300s").
    pub max_ejection_time: Option<Duration>,
    /// Most of the replicas ejected at once, a fraction (default 0.1).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_ejection: Option<f64>,
}

/// `health_check = { ... }` (Envoy: all four are required there).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckTable {
    /// Time between checks.
    pub interval: Option<Duration>,
    /// A check not answered within this fails.
    pub timeout: Option<Duration>,
    /// Failed checks in a row that mark a replica unhealthy.
    #[schemars(range(min = 1))]
    pub unhealthy: Option<u32>,
    /// Passed checks in a row that mark it healthy again.
    #[schemars(range(min = 1))]
    pub healthy: Option<u32>,
}

/// `hedge = { ... }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HedgeTable {
    /// Delay after which another try is started if none has answered (required).
    pub after: Duration,
    /// Most extra tries per call (default 1, at most 3).
    #[schemars(range(min = 1, max = 3))]
    pub max: Option<u32>,
}

/// `zone_aware = true` or `zone_aware = { min_cluster_size = 6 }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ZoneAware {
    /// On (with Envoy's min_cluster_size 6) or off.
    Enabled(bool),
    /// On, with settings.
    Settings(ZoneAwareTable),
}

/// Zone-aware routing settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneAwareTable {
    /// Zone-aware routing applies only to services with at least this many replicas (default 6).
    #[schemars(range(min = 1))]
    pub min_cluster_size: Option<u32>,
}

/// How a replica's workers are held.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Concurrency {
    /// A worker is held for the whole request, downstream calls included (the default).
    Threads,
    /// A worker is held only while computing.
    Async,
}

/// `[[service]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceTable {
    /// Unique name (no '/', '#' or surrounding spaces).
    pub name: String,
    /// Fraction of requests that fail with `error` after their service time, without making
    /// their calls (a steady error rate; default 0).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
    /// Local rate limit per replica (token bucket; false: none).
    pub rate_limit: Option<OrOff<RateLimitTable>>,
    /// Number of replicas (default 1).
    #[schemars(range(min = 1))]
    pub replicas: Option<u32>,
    /// Zones the replicas are spread over, round-robin (default one zone, "default").
    pub zones: Option<Vec<String>>,
    /// Concurrent requests one replica serves (default 1).
    #[schemars(range(min = 1))]
    pub workers: Option<u32>,
    /// threads (default) | async.
    pub concurrency: Option<Concurrency>,
    /// FIFO waiting room per replica; a full queue rejects at once (default and false:
    /// unbounded).
    #[serde(default)]
    #[schemars(schema_with = "count_from_0_or_no_limit")]
    pub queue: Option<LimitOrOff<u32>>,
    /// Compute time before the calls.
    pub service_time: Option<Distribution>,
    /// Steps run in order after the compute.
    pub calls: Option<Vec<CallStep>>,
    /// Per-replica weights for weighted_round_robin (one per replica).
    pub weights: Option<Vec<u32>>,
    /// Endpoints; a service without any has one, named "default".
    pub endpoint: Option<Vec<EndpointTable>>,
    /// Policy of calls to this service (merged key by key over `[policy]`).
    pub policy: Option<PolicyTable>,
    /// Horizontal autoscaling (Kubernetes HPA semantics; false: none).
    pub autoscale: Option<OrOff<AutoscaleTable>>,
    /// Load shedding: a request that waited in a replica's queue longer than this is rejected
    /// when a worker would take it (default and false: never).
    pub max_queue_time: Option<LimitOrOff<Duration>>,
    /// Versions (subsets) of the service, each with its own replicas; what a version does not
    /// set it takes from the service. Without any, the service has one unnamed version.
    pub version: Option<Vec<VersionTable>>,
    /// How callers split calls to this service across its versions (Istio route weights), a
    /// schedule of weight changes, and the analysis that may roll back.
    pub traffic: Option<TrafficTable>,
}

/// `[[service.version]]`: a subset of the service's replicas.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionTable {
    /// Name, unique in its service ("v1").
    pub name: String,
    /// Replicas of this version at the start (default: the service's `replicas`; 0 for a
    /// version that only a deployment brings in).
    #[schemars(range(min = 0))]
    pub replicas: Option<u32>,
    /// Compute time of every endpoint on replicas of this version (default: the endpoint's).
    pub service_time: Option<Distribution>,
    /// Steady fraction of requests failing with `error` on this version (default: the
    /// service's `error_rate`).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub error_rate: Option<f64>,
}

/// `[service.traffic]`: the weights of the versions.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficTable {
    /// Weight of each version by name (non-negative integers, not all 0; a version not named
    /// gets 0), from t = 0.
    #[schemars(with = "BTreeMap<String, u32>")]
    pub weights: toml::Value,
    /// Later weights, sorted by `at` (progressive delivery).
    pub steps: Option<Vec<TrafficStep>>,
    /// Automated analysis of a version (Argo Rollouts / Flagger): on failure all traffic goes
    /// back to the first version.
    pub analysis: Option<AnalysisTable>,
}

/// One entry of `steps`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficStep {
    /// When these weights take effect.
    pub at: Duration,
    /// Weight of each version by name.
    #[schemars(with = "BTreeMap<String, u32>")]
    pub weights: toml::Value,
}

/// `analysis = { ... }`: checks of one version, every `interval`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisTable {
    /// The version analysed (default: the last version).
    pub version: Option<String>,
    /// Period of the checks, each over the calls that ended since the last (default "30s").
    pub interval: Option<Duration>,
    /// The check fails when the version's failed calls / ended calls exceed this.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub max_error_rate: Option<f64>,
    /// The check fails when the 99th percentile of the version's succeeded calls exceeds this.
    pub max_latency_p99: Option<Duration>,
    /// Fewer ended calls than this in an interval: no verdict (default 20).
    #[schemars(range(min = 1))]
    pub min_requests: Option<u32>,
    /// Failed checks before the rollback (Argo's failureLimit + 1; default 1).
    #[schemars(range(min = 1))]
    pub failures: Option<u32>,
    /// First check at this time (default: one interval after the first step that gives the
    /// version a weight above 0).
    pub start: Option<Duration>,
}

/// A count of replicas: an integer, or a percent of the desired replicas (`"25%"`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CountOrPercent {
    /// A number of replicas.
    Count(#[schemars(range(min = 0))] u32),
    /// A percent of the desired replicas.
    Percent(#[schemars(regex(pattern = r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$"))] String),
}

/// `[[deployment]]`: a rolling update (Kubernetes Deployment semantics).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentTable {
    /// The service deployed.
    pub service: String,
    /// When the rollout starts.
    pub at: Duration,
    /// The version the new replicas run (a `[[service.version]]`; default: the first version,
    /// a redeploy).
    pub to: Option<String>,
    /// Replicas above the desired count during the update: integer or percent rounded up
    /// (default "25%").
    pub max_surge: Option<CountOrPercent>,
    /// Replicas below the desired count that may be unavailable: integer or percent rounded
    /// down (default "25%"; not 0 together with max_surge).
    pub max_unavailable: Option<CountOrPercent>,
    /// Time from a new replica's creation to its readiness (default "0s").
    pub readiness_delay: Option<Duration>,
    /// preStop hook: time a terminating replica keeps serving after it left the registry
    /// (default "0s").
    pub pre_stop: Option<Duration>,
    /// Time from the start of termination after which what the replica still holds is dropped
    /// (terminationGracePeriodSeconds; default "30s").
    pub termination_grace: Option<Duration>,
}

/// `[[change]]`: a timed policy change.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTable {
    /// When the change is pushed.
    pub at: Duration,
    /// Dotted keys as `--set` takes them ("policy.timeout", "service.api.policy.retries.max")
    /// and their new values.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub set: toml::Value,
    /// Each client switches at its own instant, uniform in [at, at + propagation] (default
    /// "0s": all at once).
    pub propagation: Option<Duration>,
}

/// `[[service.endpoint]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointTable {
    /// Name, unique in its service.
    pub name: String,
    /// Compute time (default: the service's).
    pub service_time: Option<Distribution>,
    /// Steps (default: the service's).
    pub calls: Option<Vec<CallStep>>,
}

/// A step of `calls`: one call, or a list of calls run in parallel.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CallStep {
    /// One call.
    Call(Call),
    /// Calls run in parallel.
    Parallel(#[schemars(length(min = 1))] Vec<Call>),
}

/// A call: `"service"`, `"service/endpoint"`, or a table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Call {
    /// The target, "service" (its first endpoint) or "service/endpoint".
    Target(String),
    /// A call with options.
    Table(CallTable),
}

/// `{ to = "user/get", p = 0.5, optional = true }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallTable {
    /// The target, "service" or "service/endpoint".
    pub to: String,
    /// Probability that the call is made (default 1).
    #[schemars(range(min = 0.0, max = 1.0))]
    pub p: Option<f64>,
    /// A failure of this call is tolerated (default false).
    pub optional: Option<bool>,
}

/// `rate_limit = { rate = 1000, burst = 50 }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitTable {
    /// Tokens per second per replica (> 0).
    pub rate: f64,
    /// Bucket size (default 1: no burst; at least 1).
    #[schemars(range(min = 1.0))]
    pub burst: Option<f64>,
}

/// `[service.autoscale]` (defaults: Kubernetes HPA's).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleTable {
    /// Fewest replicas.
    #[schemars(range(min = 1))]
    pub min: Option<u32>,
    /// Most replicas.
    #[schemars(range(min = 1))]
    pub max: Option<u32>,
    /// Target mean worker utilisation, in (0, 1].
    #[schemars(range(min = 0.0, max = 1.0))]
    pub target_utilization: Option<f64>,
    /// Period of the autoscaler's loop (default "15s").
    pub sync: Option<Duration>,
    /// Time a new replica takes to become ready (default "30s").
    pub startup: Option<Duration>,
    /// Scale-down uses the highest recommendation of this window (default "5m").
    pub scale_down_stabilization: Option<Duration>,
    /// No action while current/target is within 1 ± tolerance (default 0.1).
    #[schemars(range(min = 0.0))]
    pub tolerance: Option<f64>,
}

/// Arrival processes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalKind {
    /// Open loop, Poisson arrivals at `rate` (the default).
    Poisson,
    /// Open loop, evenly spaced arrivals at `rate`.
    Constant,
    /// Closed loop: `users` each send, wait for the response, think, repeat.
    Closed,
    /// Arrivals at the timestamps of a CSV file (`trace`).
    Trace,
}

/// `[[workload]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadTable {
    /// Unique name (default workload-N).
    pub name: Option<String>,
    /// Entry endpoint, "service" or "service/endpoint".
    pub target: String,
    /// poisson (default) | constant | closed | trace.
    pub arrival: Option<ArrivalKind>,
    /// Open loop: requests per second from t = 0 (> 0).
    pub rate: Option<f64>,
    /// Closed loop: number of users.
    #[schemars(range(min = 1))]
    pub users: Option<u32>,
    /// Closed loop: think time between a response and the next request (default const(0s)).
    pub think_time: Option<Distribution>,
    /// Open loop: later rate changes, sorted by `at`.
    pub schedule: Option<Vec<ScheduleEntry>>,
    /// Zone the load generator sits in ("a" or "zone:a").
    pub zone: Option<String>,
    /// arrival = "trace": CSV file of arrival times (column `time`; optional column `endpoint`),
    /// relative to the scenario file.
    pub trace: Option<String>,
    /// Number of distinct request keys, for consistent-hash balancers.
    #[schemars(range(min = 1))]
    pub key_space: Option<u64>,
}

/// One entry of a workload's `schedule`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleEntry {
    /// When the change starts.
    pub at: Duration,
    /// The rate reached, requests per second (>= 0).
    #[schemars(range(min = 0.0))]
    pub rate: f64,
    /// Length of the linear ramp to `rate` (default "0s": a step).
    pub ramp: Option<Duration>,
}

/// Fault kinds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The replica stops; calls to it are refused.
    Crash,
    /// The replica accepts and never answers.
    Hang,
    /// Service times multiplied by `factor`.
    Slow,
    /// A fraction `rate` of requests fail with `error`.
    Errors,
    /// `add` one way on every message to or from the replica.
    Latency,
    /// Messages `between` two zone sets are dropped.
    Partition,
    /// The registry stops answering (clients keep their last view).
    RegistryOutage,
}

/// A side of a partition: a zone or a list of zones.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PartitionSide {
    /// One zone ("a" or "zone:a").
    Zone(String),
    /// Several zones.
    Zones(Vec<String>),
}

/// `[[fault]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultTable {
    /// Start of the fault.
    pub at: Duration,
    /// Length of the fault (default: until the end).
    #[serde(rename = "for")]
    pub for_: Option<Duration>,
    /// crash | hang | slow | errors | latency | partition | registry_outage.
    pub kind: FaultKind,
    /// "svc#i" one replica, "svc#i..j" an inclusive range, "svc" all, "zone:a" a zone.
    pub target: Option<String>,
    /// slow: service-time multiplier (> 0).
    pub factor: Option<f64>,
    /// errors: fraction of requests that fail.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub rate: Option<f64>,
    /// latency: added one-way delay.
    pub add: Option<Duration>,
    /// partition: the two sides.
    #[schemars(length(min = 2, max = 2))]
    pub between: Option<Vec<PartitionSide>>,
}

/// `[[alert]]`: a burn-rate or latency alert rule, evaluated at each window end.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertTable {
    /// Name of the alert (default `alert_N`, N its index from 0).
    pub name: Option<String>,
    /// burn_rate | latency.
    pub kind: AlertKindName,
    /// burn_rate: long look-back window (a multiple of `[scenario] window`).
    pub long: Option<Duration>,
    /// burn_rate: short look-back window (a multiple of the window, shorter than `long`;
    /// default: none, a long-window-only rule).
    pub short: Option<Duration>,
    /// burn_rate: burn-rate factor; fires when the error ratio exceeds burn * (1 - [slo]
    /// availability) over both windows.
    #[schemars(range(min = 0.0))]
    pub burn: Option<f64>,
    /// latency: the percentile, e.g. 99 or 99.9 (in (0, 100)).
    #[schemars(range(min = 0.0, max = 100.0))]
    pub percentile: Option<f64>,
    /// latency: the threshold the percentile is compared with.
    pub above: Option<Duration>,
    /// latency: look-back window (a multiple of `[scenario] window`).
    pub window: Option<Duration>,
    /// How long the condition must hold before the alert fires (Prometheus `for`; default
    /// "0s").
    #[serde(rename = "for")]
    pub for_: Option<Duration>,
}

/// Alert kinds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKindName {
    /// Multi-window burn rate on the error budget of `[slo] availability`.
    BurnRate,
    /// A latency percentile of succeeded requests above a threshold.
    Latency,
}

/// `[slo]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloTable {
    /// Target availability, succeeded / offered.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub availability: Option<f64>,
    /// Latency targets of succeeded requests, by percentile.
    pub latency: Option<LatencyTargets>,
}

/// `latency = { p99 = "200ms" }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyTargets {
    /// Median.
    pub p50: Option<Duration>,
    /// 90th percentile.
    pub p90: Option<Duration>,
    /// 99th percentile.
    pub p99: Option<Duration>,
    /// 99.9th percentile.
    pub p999: Option<Duration>,
}

/// `[compare]`: `replications`, and dotted keys (as `--set` takes them) with the values to try.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CompareTable {
    /// Replications per variant (default 5).
    #[schemars(range(min = 1))]
    pub replications: Option<u32>,
    /// A dotted key ("policy.balancer", "service.api.workers") and the values to try.
    #[serde(flatten)]
    #[schemars(with = "BTreeMap<String, Vec<serde_json::Value>>")]
    pub axes: BTreeMap<String, Vec<toml::Value>>,
}

/// The JSON Schema (draft-07, which Taplo reads) of a scenario file, pretty-printed with a
/// trailing newline.
pub fn json_schema() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema serializes");
    text.push('\n');
    text
}

/// The schema as a JSON value (also walked by `keys` to check `--set` keys).
pub(crate) fn schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut value = generator.into_root_schema_for::<ScenarioFile>().to_value();
    drop_null(&mut value);
    value
}

/// Removes the `null` alternative schemars gives optional keys: TOML has no null, and an
/// optional key is simply left out.
fn drop_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(drop_null);
        }
        return;
    };
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(alternatives)) = map.get_mut("anyOf") {
        alternatives.retain(|a| a.get("type").is_none_or(|t| t != "null"));
        if alternatives.len() == 1 {
            let only = alternatives.remove(0);
            map.remove("anyOf");
            if let Value::Object(inner) = only {
                for (key, value) in inner {
                    map.entry(key).or_insert(value);
                }
            }
        }
    }
    map.values_mut().for_each(drop_null);
}

/// The keys a table of type `T` may hold, in declaration order (from `T`'s serde derive: the
/// same names its schema lists). Empty for a type that is not a struct.
pub(crate) fn keys_of<T: Deserialize<'static> + 'static>() -> &'static [&'static str] {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<std::any::TypeId, &'static [&'static str]>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = std::any::TypeId::of::<T>();
    if let Some(keys) = cache.lock().ok().and_then(|c| c.get(&id).copied()) {
        return keys;
    }
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldsProbe(&mut found));
    if let Ok(mut c) = cache.lock() {
        c.insert(id, found);
    }
    found
}

/// A deserializer that answers nothing but records the field names a struct asks for.
struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("field probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests;
