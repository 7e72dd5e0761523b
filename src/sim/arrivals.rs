//! Arrival times of an open-loop workload whose rate follows a piecewise-linear schedule.

use crate::engine::time::SECOND;
use crate::model::Workload;

/// A piece of the rate function: linear from `rate_start` at `start`, changing by `slope`, to
/// `end`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: f64,
    end: f64,
    rate_start: f64,
    /// Change of the rate per nanosecond, computed once (a division per arrival otherwise).
    slope: f64,
}

/// Maps a workload's "work" (unit-rate time) to real arrival times: the next arrival comes when
/// the integral of the rate since the last one reaches the drawn amount (1 for constant
/// arrivals, an Exp(1) draw for Poisson: the time-change construction of a non-homogeneous
/// Poisson process).
#[derive(Debug, Clone)]
pub struct RateClock {
    pieces: Vec<Piece>,
    /// Current position, nanoseconds (fractional, so rounding never accumulates).
    now: f64,
    piece: usize,
}

impl RateClock {
    /// A clock at time 0 following `workload`'s rate and schedule, until `horizon` nanoseconds.
    pub fn new(workload: &Workload, horizon: u64) -> Self {
        let mut times: Vec<u64> = vec![0];
        for change in &workload.schedule {
            times.push(change.at);
            times.push(change.at.saturating_add(change.ramp));
        }
        times.push(horizon);
        times.retain(|&t| t <= horizon);
        times.sort_unstable();
        times.dedup();
        let mut pieces = Vec::new();
        for pair in times.windows(2) {
            let (start, end) = (pair[0], pair[1]);
            // The rate is linear between breakpoints: its slope from the midpoint.
            let rate_start = workload.rate_at(start);
            let middle = start + (end - start) / 2;
            let rate_end = if middle > start {
                let slope = (workload.rate_at(middle) - rate_start) / (middle - start) as f64;
                rate_start + slope * (end - start) as f64
            } else {
                rate_start
            };
            let (start, end) = (start as f64, end as f64);
            let (rate_start, rate_end) = (rate_start.max(0.0), rate_end.max(0.0));
            let span = end - start;
            let slope = if span > 0.0 {
                (rate_end - rate_start) / span
            } else {
                0.0
            };
            pieces.push(Piece {
                start,
                end,
                rate_start,
                slope,
            });
        }
        RateClock {
            pieces,
            now: 0.0,
            piece: 0,
        }
    }

    /// Advances until the rate's integral from the current time reaches `work` arrivals, and
    /// returns that time in nanoseconds; `None` past the horizon.
    pub fn advance(&mut self, mut work: f64) -> Option<u64> {
        while let Some(piece) = self.pieces.get(self.piece).copied() {
            let slope = piece.slope;
            let rate_now = piece.rate_start + slope * (self.now - piece.start);
            let remaining = piece.end - self.now;
            // Arrivals available in the rest of this piece (rate is per second, time in ns).
            let available = (rate_now + 0.5 * slope * remaining) * remaining / SECOND as f64;
            if work <= available && remaining > 0.0 {
                let needed = work * SECOND as f64;
                let step = if slope.abs() < 1e-18 {
                    needed / rate_now
                } else {
                    let discriminant = (rate_now * rate_now + 2.0 * slope * needed).max(0.0);
                    (discriminant.sqrt() - rate_now) / slope
                };
                self.now = (self.now + step.clamp(0.0, remaining)).min(piece.end);
                return Some(self.now.round() as u64);
            }
            work -= available.max(0.0);
            self.now = piece.end;
            self.piece += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arrival, RateChange};

    fn workload(rate: f64, schedule: Vec<RateChange>) -> Workload {
        Workload {
            name: "w".into(),
            target: 0,
            arrival: Arrival::Constant,
            rate,
            schedule,
            zone: None,
            key_space: 1,
        }
    }

    #[test]
    fn constant_rate_spaces_arrivals_evenly() {
        let mut clock = RateClock::new(&workload(1000.0, vec![]), 10 * SECOND);
        let times: Vec<u64> = (0..3).map(|_| clock.advance(1.0).unwrap()).collect();
        assert_eq!(times, [1_000_000, 2_000_000, 3_000_000]);
    }

    #[test]
    fn arrivals_follow_a_step_and_a_ramp() {
        // 100/s for 1 s, then a ramp from 100/s to 300/s over 1 s, then 300/s for 1 s:
        // 100 + 200 + 300 = 600 arrivals in 3 s (integral of the rate).
        let change = RateChange {
            at: SECOND,
            rate: 300.0,
            ramp: SECOND,
        };
        let mut clock = RateClock::new(&workload(100.0, vec![change]), 3 * SECOND);
        let mut count = 0;
        while clock.advance(1.0).is_some() {
            count += 1;
        }
        assert!((599..=600).contains(&count), "{count}");
    }

    #[test]
    fn no_arrivals_past_the_horizon_or_at_zero_rate() {
        let stop = RateChange {
            at: SECOND / 2,
            rate: 0.0,
            ramp: 0,
        };
        let mut clock = RateClock::new(&workload(10.0, vec![stop]), 10 * SECOND);
        let mut count = 0;
        while clock.advance(1.0).is_some() {
            count += 1;
        }
        assert_eq!(count, 5);
    }
}
