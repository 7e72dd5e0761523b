//! Client-side policies of a call: balancing, timeouts and retries.

/// How a client picks a replica among those in its view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalancerKind {
    /// Uniformly at random.
    Random,
    /// In view order, one after another.
    RoundRobin,
    /// Smooth weighted round robin over the replicas' weights.
    WeightedRoundRobin,
    /// Fewest requests outstanding from this client; ties go to the first in view order.
    LeastRequest,
    /// Two distinct replicas at random; the one with fewer outstanding requests from this client.
    PowerOfTwoChoices,
    /// HAProxy's `leastconn`: fewest requests outstanding from this client; among equals, the
    /// one whose count changed longest ago (HAProxy re-inserts a server behind its equals in
    /// its tree whenever its count changes, so ties go round robin).
    LeastConn,
    /// HAProxy's `random(2)`: two independent uniform draws (the same replica may come up
    /// twice), the one with fewer outstanding requests; the second draw wins ties.
    Random2,
    /// Finagle/Linkerd peak EWMA: two distinct replicas at random; the lower of
    /// `cost x (outstanding + 1)`, where cost is a peak-sensitive moving average of round trips.
    PeakEwma,
    /// Envoy's ring hash (Ketama): the request's user key hashed onto a ring of host points.
    RingHash,
    /// Envoy's Maglev: the request's user key hashed into a 65537-entry lookup table.
    Maglev,
}

impl BalancerKind {
    /// The scenario-file spelling.
    pub fn name(self) -> &'static str {
        match self {
            BalancerKind::Random => "random",
            BalancerKind::RoundRobin => "round_robin",
            BalancerKind::WeightedRoundRobin => "weighted_round_robin",
            BalancerKind::LeastRequest => "least_request",
            BalancerKind::PowerOfTwoChoices => "p2c",
            BalancerKind::LeastConn => "least_conn",
            BalancerKind::Random2 => "random2",
            BalancerKind::PeakEwma => "peak_ewma",
            BalancerKind::RingHash => "ring_hash",
            BalancerKind::Maglev => "maglev",
        }
    }

    /// Whether it hashes the request's user key (`ring_hash`, `maglev`).
    #[inline]
    pub fn is_consistent_hash(self) -> bool {
        matches!(self, BalancerKind::RingHash | BalancerKind::Maglev)
    }
}

/// Envoy's zone-aware routing of calls (see [`super::zones`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAwarePolicy {
    /// Fewest usable upstream hosts for zone-aware routing to apply (Envoy: 6).
    pub min_cluster_size: u32,
}

/// How the exponential backoff between tries is randomised (AWS Architecture Blog terms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Wait uniform in `[0, cap]`.
    Full,
    /// Wait `cap / 2` plus uniform in `[0, cap / 2]`.
    Equal,
    /// Wait exactly `cap`.
    None,
}

/// The ways a try can end; `Succeeded` is the only success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// A response without error.
    Succeeded,
    /// The caller gave up (per-try or whole-call timeout).
    Timeout,
    /// Nobody answered the connection: a crashed replica, or no replica in view.
    Refused,
    /// The server answered with an error (its own, or a required downstream call failed).
    Error,
    /// The server's queue was full.
    Rejected,
    /// A circuit breaker refused the call locally (governance issue; never produced yet).
    CircuitOpen,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Succeeded,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::Error,
        Outcome::Rejected,
        Outcome::CircuitOpen,
    ];
    /// The failure outcomes, in report order.
    pub const FAILURES: [Outcome; 5] = [
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::Error,
        Outcome::Rejected,
        Outcome::CircuitOpen,
    ];

    /// The scenario-file and report spelling.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
            Outcome::Rejected => "rejected",
            Outcome::CircuitOpen => "circuit_open",
        }
    }

    /// Dense index in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Retry policy of a call (the per-try timeout first: every try reads it).
#[derive(Debug, Clone, PartialEq)]
#[repr(C)]
pub struct RetryPolicy {
    /// Timeout of each try, nanoseconds; `None`: only the whole-call timeout applies.
    pub per_try_timeout: Option<u64>,
    // ---- the rest
    /// Retries after the first try (0: no retries).
    pub max_retries: u32,
    /// Base of the exponential backoff, nanoseconds: retry n waits up to `backoff * 2^(n-1)`.
    pub backoff: u64,
    /// Cap on the backoff, nanoseconds.
    pub max_backoff: u64,
    /// Randomisation of the backoff.
    pub jitter: Jitter,
    /// Outcomes that are retried (indexed by [`Outcome::index`]).
    pub retry_on: [bool; 6],
    /// Whether a `refused` try that had reached its replica — a request the replica held when
    /// it crashed — is retried along with connection refusals (`on = ["refused"]`), or only
    /// refusals before the request was sent (`on = ["connect_failure"]`: HAProxy's `retry-on
    /// conn-failure`, whose client sees a 502 for the request the server dropped).
    pub retry_lost_in_crash: bool,
    /// Finagle-style retry budget; `None`: retries are limited by `max_retries` only.
    pub budget: Option<RetryBudget>,
}

/// A Finagle-style retry budget: a token bucket per client whose deposits expire. Every call
/// deposits 1; every retry withdraws `1 / ratio`; a reserve allows `min_per_second` retries per
/// second whatever the traffic. So retries stay under `ratio` of calls (plus the reserve).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per call, e.g. 0.2.
    pub ratio: f64,
    /// How long a deposit counts, nanoseconds (Finagle: 10 s).
    pub ttl: u64,
    /// Retries per second always allowed (Finagle: 10).
    pub min_per_second: f64,
}

/// A resilience4j-style circuit breaker, per client and called service. It records the outcome
/// of every try; once `min_calls` are recorded in the sliding window and the failure (or slow
/// call) rate reaches its threshold, it opens: tries fail at once with `circuit_open` for
/// `open_for`. The first try after that half-opens it: `half_open_calls` tries are let through
/// and decide, by the same thresholds, whether it closes or opens again.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitBreakerPolicy {
    /// Failure rate that opens it, in (0, 1] (resilience4j: 0.5).
    pub failure_rate: f64,
    /// Slow-call rate that opens it, in (0, 1] (resilience4j: 1.0).
    pub slow_call_rate: f64,
    /// A try longer than this is slow, nanoseconds (resilience4j: 60 s).
    pub slow_call_duration: u64,
    /// The sliding window.
    pub window: BreakerWindow,
    /// Tries recorded before the rates are judged (resilience4j: 100).
    pub min_calls: u32,
    /// How long it stays open, nanoseconds (resilience4j: 60 s).
    pub open_for: u64,
    /// Tries let through when half-open (resilience4j: 10).
    pub half_open_calls: u32,
}

/// The sliding window of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerWindow {
    /// The last N tries.
    Calls(u32),
    /// The tries of the last span, nanoseconds (kept in one-second buckets, as resilience4j).
    Time(u64),
}

/// Envoy-style passive outlier detection, per client and called service.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierPolicy {
    /// Consecutive failed tries (error, timeout, refused, rejected) that eject a replica
    /// (Envoy: 5).
    pub consecutive_errors: u32,
    /// Period of the un-ejection and decay sweep, nanoseconds (Envoy: 10 s).
    pub interval: u64,
    /// Ejection time per ejection so far, nanoseconds (Envoy: 30 s).
    pub base_ejection: u64,
    /// Cap on the ejection time, nanoseconds (Envoy: 300 s).
    pub max_ejection_time: u64,
    /// Largest fraction of the replicas ejected at once; one can always be (Envoy: 0.1).
    pub max_ejection: f64,
    /// Fraction of detected outliers actually ejected (Envoy's `enforcing_consecutive_5xx`
    /// / 100: default 1; 0 detects without ejecting).
    pub enforcing: f64,
}

impl Default for RetryPolicy {
    /// No retries; when a `retries` block is given the defaults are Envoy's: 1 retry, 25 ms base,
    /// 250 ms cap, full jitter, retried on every failure outcome but `circuit_open`.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 0,
            per_try_timeout: None,
            backoff: 25_000_000,
            max_backoff: 250_000_000,
            jitter: Jitter::Full,
            retry_on: [false, true, true, true, true, false],
            retry_lost_in_crash: true,
            budget: None,
        }
    }
}

/// Everything a client applies to one call.
///
/// In declaration order (`repr(C)`): the first 64 bytes hold what every try reads (balancer,
/// limits, timeout, hedge), then the retries, whose per-try timeout comes first (read on every
/// try too); the rest only matters when configured. See [`super::Service`]'s layout.
#[derive(Debug, Clone, PartialEq)]
#[repr(C)]
pub struct CallPolicy {
    /// How the replica is picked.
    pub balancer: BalancerKind,
    /// Whether the called server drops queued work whose caller has given up and starts no
    /// downstream call past the caller's deadline (which its own calls inherit).
    pub deadline_propagation: bool,
    /// Bulkhead: most tries one client may have outstanding to the service (Envoy's
    /// circuit-breaker `max_requests`); a try over it is rejected locally. `None`: unlimited.
    pub max_requests: Option<u32>,
    /// Connection pool: most tries one client may have on the wire to the service at once
    /// (Envoy's circuit-breaker `max_connections`, HTTP/1.1 style: one request per connection);
    /// further tries wait in the client's pending queue. `None`: unlimited.
    pub max_connections: Option<u32>,
    /// Zone-aware routing, if enabled.
    pub zone_aware: Option<ZoneAwarePolicy>,
    /// Timeout of the whole call, all tries included, nanoseconds.
    pub timeout: u64,
    /// Hedged requests, if any.
    pub hedge: Option<HedgePolicy>,
    /// Retries.
    pub retries: RetryPolicy,
    // ---- the rest
    /// Circuit breaker, if any.
    pub circuit_breaker: Option<CircuitBreakerPolicy>,
    /// Outlier detection, if any.
    pub outlier_detection: Option<OutlierPolicy>,
    /// Longest the client's pending queue may grow (Envoy's `max_pending_requests`); a try that
    /// finds it full is rejected locally. `None`: unlimited. Only used with `max_connections`.
    pub max_pending: Option<u32>,
    /// Active health checking by every client, if any.
    pub health_check: Option<HealthCheckPolicy>,
}

/// Most hedges one call may send.
pub const MAX_HEDGES: u32 = 3;

/// Hedged requests (gRPC hedging, Finagle backup requests): when the latest try of a call has
/// had no response for `after`, another try is sent without cancelling the ones in flight; the
/// first success wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HedgePolicy {
    /// Wait without a response before the next hedge, nanoseconds.
    pub after: u64,
    /// Hedges per call, 1 to [`MAX_HEDGES`].
    pub max: u32,
}

/// Envoy's active health checking, run by each client against each replica in its view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheckPolicy {
    /// Time between two checks of a replica, nanoseconds.
    pub interval: u64,
    /// A check not answered within this fails, nanoseconds.
    pub timeout: u64,
    /// Consecutive failed checks that mark a healthy replica unhealthy.
    pub unhealthy: u32,
    /// Consecutive passed checks that mark an unhealthy replica healthy again.
    pub healthy: u32,
}

impl Default for CallPolicy {
    /// Round robin, Envoy's default route timeout of 15 s, no retries.
    fn default() -> Self {
        CallPolicy {
            balancer: BalancerKind::RoundRobin,
            timeout: 15_000_000_000,
            retries: RetryPolicy::default(),
            circuit_breaker: None,
            outlier_detection: None,
            deadline_propagation: false,
            max_requests: None,
            hedge: None,
            max_connections: None,
            max_pending: None,
            zone_aware: None,
            health_check: None,
        }
    }
}
