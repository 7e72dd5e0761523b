//! Offered load: who sends requests into the system, how often.

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
