//! Kubernetes' Horizontal Pod Autoscaler: the policy and its replica-count arithmetic, apart from
//! the simulator that feeds it utilisation figures.

/// `[service.autoscale]`: HPA on worker utilisation, with Kubernetes' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalePolicy {
    /// Fewest replicas.
    pub min: u32,
    /// Most replicas.
    pub max: u32,
    /// Utilisation the HPA aims at (busy workers / workers), in (0, 1].
    pub target_utilization: f64,
    /// HPA sync period, nanoseconds (default 15 s).
    pub sync: u64,
    /// Time from a replica's creation to its readiness, nanoseconds (default 30 s).
    pub startup: u64,
    /// Scale-down stabilisation window, nanoseconds (default 5 min): a scale-down goes only as
    /// low as the highest recommendation within it.
    pub scale_down_stabilization: u64,
    /// No action while `|metric / target − 1|` is within this (default 0.1).
    pub tolerance: f64,
}

impl AutoscalePolicy {
    /// Kubernetes' defaults around the given bounds and target.
    pub fn new(min: u32, max: u32, target_utilization: f64) -> Self {
        AutoscalePolicy {
            min,
            max,
            target_utilization,
            sync: 15_000_000_000,
            startup: 30_000_000_000,
            scale_down_stabilization: 300_000_000_000,
            tolerance: 0.1,
        }
    }
}

/// What the HPA sees of a service at a sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaleInput {
    /// Replicas that exist (ready or starting).
    pub current: u32,
    /// Sum of the utilisations of the ready replicas over the last sync period.
    pub ready_utilization_sum: f64,
    /// Replicas that report a metric (ready).
    pub ready: u32,
    /// Replicas that exist but are not ready (starting, or down).
    pub unready: u32,
}

/// The HPA's raw recommendation (before the scale-up limit, stabilisation and bounds), as in
/// Kubernetes' replica calculator: `ceil(ready × ratio)` where `ratio` is mean utilisation over
/// target; no change within the tolerance; on a scale-up, replicas that are not ready count as
/// 0% busy, and if that cancels the scale-up nothing changes.
pub fn recommend(policy: &AutoscalePolicy, input: ScaleInput) -> u32 {
    if input.ready == 0 {
        return input.current;
    }
    let target = policy.target_utilization;
    let ratio = input.ready_utilization_sum / f64::from(input.ready) / target;
    let within_tolerance = |ratio: f64| (ratio - 1.0).abs() <= policy.tolerance;
    if input.unready == 0 || ratio < 1.0 {
        if within_tolerance(ratio) {
            return input.current;
        }
        return ceil_count(ratio * f64::from(input.ready));
    }
    // Scale-up with replicas not ready: count them as idle.
    let counted = input.ready + input.unready;
    let conservative = input.ready_utilization_sum / f64::from(counted) / target;
    if within_tolerance(conservative) || conservative < 1.0 {
        return input.current;
    }
    ceil_count(conservative * f64::from(counted)).max(input.current)
}

/// Kubernetes' default scale-up limit: at most `max(100%, 4 pods)` added per period.
pub fn scale_up_limit(current: u32) -> u32 {
    current.saturating_mul(2).max(current.saturating_add(4))
}

/// `ceil` of a non-negative count, with a guard against `1e-12` rounding pushing an exact
/// integer up.
fn ceil_count(value: f64) -> u32 {
    let rounded = value.round();
    let count = if (value - rounded).abs() < 1e-9 {
        rounded
    } else {
        value.ceil()
    };
    count.clamp(0.0, f64::from(u32::MAX)) as u32
}

/// The scale-down stabilisation window: past recommendations, newest last.
#[derive(Debug, Clone, Default)]
pub struct Stabilizer {
    /// (time, recommendation), nanoseconds.
    history: std::collections::VecDeque<(u64, u32)>,
}

impl Stabilizer {
    /// Records `recommendation` at `now` and returns the replica count to move to from
    /// `current`: scale-ups at once (up to [`scale_up_limit`]), scale-downs only to the highest
    /// recommendation of the last `window` nanoseconds; then within `[min, max]`.
    pub fn decide(
        &mut self,
        policy: &AutoscalePolicy,
        current: u32,
        recommendation: u32,
        now: u64,
    ) -> u32 {
        self.history.push_back((now, recommendation));
        while self
            .history
            .front()
            .is_some_and(|&(at, _)| at.saturating_add(policy.scale_down_stabilization) <= now)
        {
            self.history.pop_front();
        }
        let desired = if recommendation > current {
            recommendation.min(scale_up_limit(current))
        } else {
            let highest = self.history.iter().map(|&(_, r)| r).max();
            highest.unwrap_or(recommendation).min(current)
        };
        desired.clamp(policy.min, policy.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AutoscalePolicy {
        AutoscalePolicy::new(1, 20, 0.5)
    }

    fn input(current: u32, ready: u32, sum: f64) -> ScaleInput {
        ScaleInput {
            current,
            ready_utilization_sum: sum,
            ready,
            unready: current - ready,
        }
    }

    #[test]
    fn recommendation_is_the_ceiling_of_current_times_ratio() {
        // 2 replicas at 80% with a 50% target: ceil(2 × 1.6) = 4.
        assert_eq!(recommend(&policy(), input(2, 2, 1.6)), 4);
        // 4 replicas at 20%: ceil(4 × 0.4) = 2.
        assert_eq!(recommend(&policy(), input(4, 4, 0.8)), 2);
    }

    #[test]
    fn no_change_within_the_tolerance() {
        // Ratio 1.08 and 0.92: within 0.1 of 1.
        assert_eq!(recommend(&policy(), input(5, 5, 2.7)), 5);
        assert_eq!(recommend(&policy(), input(5, 5, 2.3)), 5);
        // Ratio 1.2: ceil(5 × 1.2) = 6.
        assert_eq!(recommend(&policy(), input(5, 5, 3.0)), 6);
    }

    #[test]
    fn starting_replicas_count_as_idle_on_a_scale_up() {
        // 2 ready at 90% (ratio 1.8) and 2 starting: (1.8 / 4) / 0.5 = 0.9, below 1: no change.
        assert_eq!(recommend(&policy(), input(4, 2, 1.8)), 4);
        // 2 ready at 100% and 1 starting: 2 / 3 / 0.5 = 1.33: ceil(3 × 1.33) = 4.
        assert_eq!(recommend(&policy(), input(3, 2, 2.0)), 4);
    }

    #[test]
    fn scale_up_is_limited_and_scale_down_stabilised() {
        let policy = policy();
        let mut stabilizer = Stabilizer::default();
        // From 2, at most max(4, 6) = 6.
        assert_eq!(stabilizer.decide(&policy, 2, 15, 0), 6);
        // A scale-down recommendation within 5 min of a higher one is held at the highest.
        let minute = 60_000_000_000;
        assert_eq!(stabilizer.decide(&policy, 6, 3, minute), 6);
        assert_eq!(stabilizer.decide(&policy, 6, 2, 2 * minute), 6);
        // Once the 15 has left the window (after 5 min), the highest left is 3.
        assert_eq!(stabilizer.decide(&policy, 6, 2, 5 * minute + 1), 3);
        // Bounds.
        assert_eq!(Stabilizer::default().decide(&policy, 2, 0, 0), 1);
        assert_eq!(Stabilizer::default().decide(&policy, 20, 40, 0), 20);
    }
}
