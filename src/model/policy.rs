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
        }
    }
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

/// Retry policy of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first try (0: no retries).
    pub max_retries: u32,
    /// Timeout of each try, nanoseconds; `None`: only the whole-call timeout applies.
    pub per_try_timeout: Option<u64>,
    /// Base of the exponential backoff, nanoseconds: retry n waits up to `backoff * 2^(n-1)`.
    pub backoff: u64,
    /// Cap on the backoff, nanoseconds.
    pub max_backoff: u64,
    /// Randomisation of the backoff.
    pub jitter: Jitter,
    /// Outcomes that are retried (indexed by [`Outcome::index`]).
    pub retry_on: [bool; 6],
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
        }
    }
}

/// Everything a client applies to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPolicy {
    /// How the replica is picked.
    pub balancer: BalancerKind,
    /// Timeout of the whole call, all tries included, nanoseconds.
    pub timeout: u64,
    /// Retries.
    pub retries: RetryPolicy,
}

impl Default for CallPolicy {
    /// Round robin, Envoy's default route timeout of 15 s, no retries.
    fn default() -> Self {
        CallPolicy {
            balancer: BalancerKind::RoundRobin,
            timeout: 15_000_000_000,
            retries: RetryPolicy::default(),
        }
    }
}
