//! Offered load: who sends requests into the system, how often.

use std::fmt;
use std::sync::Arc;

use super::distribution::Dist;
use super::service::EndpointId;

/// How a workload's arrivals are generated.
#[derive(Debug, Clone)]
pub enum Arrival {
    /// Open loop, Poisson arrivals at the scheduled rate.
    Poisson,
    /// Open loop, evenly spaced arrivals at the scheduled rate.
    Constant,
    /// Closed loop: `users` each send a request, wait for its end, think, and repeat.
    Closed {
        /// Number of users.
        users: u32,
        /// Think time between a response and the user's next request, nanoseconds.
        think_time: Dist,
    },
    /// Open loop, replayed: one request at each time of a trace file.
    Trace(Trace),
}

/// Arrivals read from a trace file: 8 bytes per row (12 with an endpoint column), shared rather
/// than copied when a model is cloned.
#[derive(Clone, PartialEq)]
pub struct Trace {
    /// Arrival times, nanoseconds from the start of the run, sorted, all before the duration.
    pub times: Arc<[u64]>,
    /// Per row, an index into `endpoints`; empty when every row goes to the workload's target.
    pub rows: Arc<[u32]>,
    /// The distinct entry endpoints the rows name, in order of first appearance.
    pub endpoints: Vec<EndpointId>,
}

impl Trace {
    /// The entry endpoint of row `row` (`target` when the trace names none).
    pub fn endpoint_of(&self, row: usize, target: EndpointId) -> EndpointId {
        self.rows
            .get(row)
            .and_then(|&i| self.endpoints.get(i as usize))
            .copied()
            .unwrap_or(target)
    }
}

impl fmt::Debug for Trace {
    /// Counts only: a trace may hold millions of rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("rows", &self.times.len())
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

/// One change of the offered rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateChange {
    /// When the change starts, nanoseconds from the start of the run.
    pub at: u64,
    /// The rate reached, requests per second.
    pub rate: f64,
    /// How long the linear ramp to `rate` takes, nanoseconds (0: a step).
    pub ramp: u64,
}

/// A source of requests entering the system at one endpoint.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Unique name.
    pub name: String,
    /// Entry endpoint.
    pub target: EndpointId,
    /// Arrival process.
    pub arrival: Arrival,
    /// Rate from t = 0, requests per second (open loop).
    pub rate: f64,
    /// Later changes of the rate, sorted by `at`.
    pub schedule: Vec<RateChange>,
    /// Zone the load generator sits in (`None`: every replica is "same zone").
    pub zone: Option<usize>,
    /// Number of distinct user keys its requests draw from, uniformly in `[0, key_space)`;
    /// `ring_hash` and `maglev` hash a request's key (default [`DEFAULT_KEY_SPACE`]).
    pub key_space: u64,
}

/// Default `key_space` of a workload: 10 000 users.
pub const DEFAULT_KEY_SPACE: u64 = 10_000;

impl Workload {
    /// The offered rate at time `t` (nanoseconds), requests per second, following the schedule's
    /// steps and linear ramps.
    pub fn rate_at(&self, t: u64) -> f64 {
        let mut rate = self.rate;
        for change in &self.schedule {
            if t < change.at {
                break;
            }
            let elapsed = t - change.at;
            rate = if change.ramp > 0 && elapsed < change.ramp {
                rate + (change.rate - rate) * elapsed as f64 / change.ramp as f64
            } else {
                change.rate
            };
        }
        rate
    }
}
