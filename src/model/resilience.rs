//! Client-side resilience state: circuit breaker, outlier detector, retry budget. Each is the
//! state one client (a calling replica, or a workload at the edge) keeps about one called
//! service; the simulator feeds it outcomes and asks it for decisions.

use super::policy::{BreakerWindow, CircuitBreakerPolicy, OutlierPolicy, RetryBudget};

/// Nanoseconds in a second: the bucket width of time-based windows.
const BUCKET: u64 = 1_000_000_000;

/// Where a circuit breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Tries pass; outcomes are recorded.
    Closed,
    /// Tries fail at once with `circuit_open` until `until` (nanoseconds).
    Open {
        /// End of the wait, nanoseconds.
        until: u64,
    },
    /// A limited number of probe tries pass and decide.
    HalfOpen {
        /// Probes let through so far.
        permitted: u32,
        /// Probes ended so far.
        recorded: u32,
        /// Of those, failed.
        failures: u32,
        /// Of those, slow.
        slow: u32,
    },
}

impl BreakerState {
    /// Lower-case name for events.
    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }
}

/// Failed and slow counts over the sliding window.
#[derive(Debug, Clone, Default)]
struct WindowCounts {
    total: u32,
    failed: u32,
    slow: u32,
}

/// A resilience4j-style circuit breaker (see [`CircuitBreakerPolicy`]).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    state: BreakerState,
    counts: WindowCounts,
    /// Count-based: the last N outcomes (bit 0 failed, bit 1 slow), ring-buffered.
    ring: Vec<u8>,
    ring_next: usize,
    /// Time-based: one bucket per second: (second, total, failed, slow).
    buckets: Vec<(u64, u32, u32, u32)>,
}

/// A change of a breaker's state, with the rates that caused it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerTransition {
    /// State before.
    pub from: &'static str,
    /// State after.
    pub to: &'static str,
    /// Failure rate judged (0 when none was).
    pub failure_rate: f64,
    /// Tries the rate was judged over.
    pub calls: u32,
}

/// A breaker's answer to a try.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// The try may go.
    Pass,
    /// The try may go; the breaker has just half-opened.
    PassAfter(BreakerTransition),
    /// The breaker is open (or half-open with every probe out): the try fails with
    /// `circuit_open`.
    Refuse,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window.
    pub fn new(policy: &CircuitBreakerPolicy) -> Self {
        let (ring, buckets) = match policy.window {
            BreakerWindow::Calls(n) => (vec![0; n as usize], Vec::new()),
            BreakerWindow::Time(span) => (
                Vec::new(),
                vec![(u64::MAX, 0, 0, 0); span.div_ceil(BUCKET) as usize],
            ),
        };
        CircuitBreaker {
            state: BreakerState::Closed,
            counts: WindowCounts::default(),
            ring,
            ring_next: 0,
            buckets,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Asks to send a try at `now`.
    pub fn try_acquire(&mut self, policy: &CircuitBreakerPolicy, now: u64) -> Admission {
        match &mut self.state {
            BreakerState::Closed => Admission::Pass,
            BreakerState::Open { until } if now < *until => Admission::Refuse,
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen {
                    permitted: 1,
                    recorded: 0,
                    failures: 0,
                    slow: 0,
                };
                Admission::PassAfter(BreakerTransition {
                    from: "open",
                    to: "half_open",
                    failure_rate: 0.0,
                    calls: 0,
                })
            }
            BreakerState::HalfOpen { permitted, .. } => {
                if *permitted < policy.half_open_calls {
                    *permitted += 1;
                    Admission::Pass
                } else {
                    Admission::Refuse
                }
            }
        }
    }

    /// Records a try's end at `now`; returns the transition it caused, if any.
    pub fn record(
        &mut self,
        policy: &CircuitBreakerPolicy,
        now: u64,
        failed: bool,
        slow: bool,
    ) -> Option<BreakerTransition> {
        match &mut self.state {
            BreakerState::Open { .. } => None, // a late answer to a try sent before it opened
            BreakerState::HalfOpen {
                recorded,
                failures,
                slow: slow_count,
                ..
            } => {
                *recorded += 1;
                *failures += u32::from(failed);
                *slow_count += u32::from(slow);
                if *recorded < policy.half_open_calls {
                    return None;
                }
                let (calls, failure_rate, slow_rate) = (
                    *recorded,
                    rate(*failures, *recorded),
                    rate(*slow_count, *recorded),
                );
                let reopen =
                    failure_rate >= policy.failure_rate || slow_rate >= policy.slow_call_rate;
                self.reset_window();
                let to = if reopen {
                    self.state = BreakerState::Open {
                        until: now.saturating_add(policy.open_for),
                    };
                    "open"
                } else {
                    self.state = BreakerState::Closed;
                    "closed"
                };
                Some(BreakerTransition {
                    from: "half_open",
                    to,
                    failure_rate,
                    calls,
                })
            }
            BreakerState::Closed => {
                self.push(policy, now, failed, slow);
                let counts = &self.counts;
                if counts.total < policy.min_calls {
                    return None;
                }
                let (failure_rate, slow_rate) = (
                    rate(counts.failed, counts.total),
                    rate(counts.slow, counts.total),
                );
                if failure_rate >= policy.failure_rate || slow_rate >= policy.slow_call_rate {
                    let calls = counts.total;
                    self.reset_window();
                    self.state = BreakerState::Open {
                        until: now.saturating_add(policy.open_for),
                    };
                    return Some(BreakerTransition {
                        from: "closed",
                        to: "open",
                        failure_rate,
                        calls,
                    });
                }
                None
            }
        }
    }

    fn push(&mut self, policy: &CircuitBreakerPolicy, now: u64, failed: bool, slow: bool) {
        let flags = u8::from(failed) | (u8::from(slow) << 1);
        match policy.window {
            BreakerWindow::Calls(_) => {
                let old = self.ring[self.ring_next];
                if self.counts.total as usize == self.ring.len() {
                    self.counts.failed -= u32::from(old & 1);
                    self.counts.slow -= u32::from(old >> 1);
                } else {
                    self.counts.total += 1;
                }
                self.ring[self.ring_next] = flags;
                self.ring_next = (self.ring_next + 1) % self.ring.len();
            }
            BreakerWindow::Time(_) => {
                let second = now / BUCKET;
                let span = self.buckets.len() as u64;
                for bucket in &mut self.buckets {
                    // Forget buckets that fell out of the window.
                    if bucket.0 != u64::MAX && bucket.0 + span <= second {
                        self.counts.total -= bucket.1;
                        self.counts.failed -= bucket.2;
                        self.counts.slow -= bucket.3;
                        *bucket = (u64::MAX, 0, 0, 0);
                    }
                }
                let bucket = &mut self.buckets[(second % span) as usize];
                if bucket.0 != second {
                    *bucket = (second, 0, 0, 0);
                }
                bucket.1 += 1;
                bucket.2 += u32::from(failed);
                bucket.3 += u32::from(slow);
                self.counts.total += 1;
            }
        }
        self.counts.failed += u32::from(failed);
        self.counts.slow += u32::from(slow);
    }

    fn reset_window(&mut self) {
        self.counts = WindowCounts::default();
        self.ring.iter_mut().for_each(|flags| *flags = 0);
        self.ring_next = 0;
        self.buckets
            .iter_mut()
            .for_each(|bucket| *bucket = (u64::MAX, 0, 0, 0));
    }
}

fn rate(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

/// Envoy-style passive outlier detection over one service's replicas (see [`OutlierPolicy`]).
#[derive(Debug, Clone)]
pub struct OutlierDetector {
    /// Consecutive failed tries per replica.
    consecutive: Vec<u32>,
    /// Ejected until (nanoseconds), per replica.
    ejected_until: Vec<Option<u64>>,
    /// Ejection multiplier per replica: ejections so far, decayed by one per healthy interval.
    multiplier: Vec<u32>,
    ejected: usize,
}

impl OutlierDetector {
    /// No replica ejected, for a service of `replicas` replicas.
    pub fn new(replicas: usize) -> Self {
        OutlierDetector {
            consecutive: vec![0; replicas],
            ejected_until: vec![None; replicas],
            multiplier: vec![0; replicas],
            ejected: 0,
        }
    }

    /// Whether `replica` is ejected.
    pub fn is_ejected(&self, replica: u32) -> bool {
        self.ejected_until[replica as usize].is_some()
    }

    /// Replicas ejected now.
    pub fn ejected_count(&self) -> usize {
        self.ejected
    }

    /// Records a try's end; returns the ejection time (nanoseconds) if it ejected the replica.
    pub fn record(&mut self, policy: &OutlierPolicy, replica: u32, failed: bool) -> Option<u64> {
        let index = replica as usize;
        if !failed {
            self.consecutive[index] = 0;
            return None;
        }
        self.consecutive[index] += 1;
        if self.consecutive[index] < policy.consecutive_errors
            || self.ejected_until[index].is_some()
        {
            return None;
        }
        let total = self.consecutive.len() as f64;
        if self.ejected > 0 && self.ejected as f64 >= policy.max_ejection * total {
            return None; // at the cap: at least one can always be ejected, no more than the cap
        }
        self.consecutive[index] = 0;
        self.multiplier[index] += 1;
        let time = policy
            .base_ejection
            .saturating_mul(u64::from(self.multiplier[index]))
            .min(policy.max_ejection_time.max(policy.base_ejection));
        Some(time)
    }

    /// Marks `replica` ejected until `until` (after [`OutlierDetector::record`] said so).
    pub fn eject(&mut self, replica: u32, until: u64) {
        self.ejected_until[replica as usize] = Some(until);
        self.ejected += 1;
    }

    /// An ejection [`OutlierDetector::record`] asked for was not enforced: the multiplier it
    /// raised goes back.
    pub fn not_enforced(&mut self, replica: u32) {
        let multiplier = &mut self.multiplier[replica as usize];
        *multiplier = multiplier.saturating_sub(1);
    }

    /// Ends `replica`'s ejection early (a passing active health check); its multiplier stays.
    pub fn return_host(&mut self, replica: u32) {
        if self.ejected_until[replica as usize].take().is_some() {
            self.ejected -= 1;
        }
    }

    /// The interval sweep at `now`: returns every replica whose ejection time is over to
    /// `returned` (they are back), and decays the multiplier of the others that are healthy.
    pub fn sweep(&mut self, now: u64, returned: &mut Vec<u32>) {
        for (index, until) in self.ejected_until.iter_mut().enumerate() {
            match until {
                Some(end) if *end <= now => {
                    *until = None;
                    self.ejected -= 1;
                    returned.push(index as u32);
                }
                Some(_) => {}
                None => self.multiplier[index] = self.multiplier[index].saturating_sub(1),
            }
        }
    }
}

/// Finagle's retry budget state (see [`RetryBudget`]): a windowed token count in one-second
/// buckets, in thousandths of a token.
#[derive(Debug, Clone)]
pub struct RetryBudgetState {
    /// Per second in the window: (second, net milli-tokens put in).
    buckets: Vec<(u64, i64)>,
    balance: i64,
    reserve: i64,
    withdrawal: i64,
    /// Whether the last retry asked for was refused (for exhaustion events).
    pub exhausted: bool,
}

/// Milli-tokens deposited per call.
const DEPOSIT: i64 = 1000;

impl RetryBudgetState {
    /// A budget with its reserve only.
    pub fn new(budget: &RetryBudget) -> Self {
        let withdrawal = (DEPOSIT as f64 / budget.ratio.max(1e-9)).round() as i64;
        let seconds = budget.ttl.div_ceil(BUCKET).max(1);
        let reserve = (budget.min_per_second * seconds as f64 * withdrawal as f64).round() as i64;
        RetryBudgetState {
            buckets: vec![(u64::MAX, 0); seconds as usize],
            balance: 0,
            reserve,
            withdrawal,
            exhausted: false,
        }
    }

    /// A call starts: one deposit.
    pub fn deposit(&mut self, now: u64) {
        self.put(now, DEPOSIT);
    }

    /// A retry asks for a withdrawal; true if the budget allows it.
    pub fn try_withdraw(&mut self, now: u64) -> bool {
        self.expire(now);
        if self.reserve + self.balance >= self.withdrawal {
            self.put(now, -self.withdrawal);
            true
        } else {
            false
        }
    }

    fn put(&mut self, now: u64, amount: i64) {
        self.expire(now);
        let second = now / BUCKET;
        let span = self.buckets.len() as u64;
        let bucket = &mut self.buckets[(second % span) as usize];
        if bucket.0 != second {
            *bucket = (second, 0);
        }
        bucket.1 += amount;
        self.balance += amount;
    }

    fn expire(&mut self, now: u64) {
        let second = now / BUCKET;
        let span = self.buckets.len() as u64;
        for bucket in &mut self.buckets {
            if bucket.0 != u64::MAX && bucket.0 + span <= second {
                self.balance -= bucket.1;
                *bucket = (u64::MAX, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker_policy(window: BreakerWindow) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy {
            failure_rate: 0.5,
            slow_call_rate: 1.0,
            slow_call_duration: u64::MAX,
            window,
            min_calls: 4,
            open_for: 1000,
            half_open_calls: 2,
        }
    }

    #[test]
    fn breaker_opens_at_the_threshold_once_min_calls_are_recorded() {
        let policy = breaker_policy(BreakerWindow::Calls(10));
        let mut breaker = CircuitBreaker::new(&policy);
        // 1 failure in 3: below min_calls whatever the rate.
        for failed in [true, false, false] {
            assert_eq!(breaker.record(&policy, 0, failed, false), None);
        }
        // The 4th call, a failure: 2 of 4 = 50% = the threshold: opens.
        let opened = breaker.record(&policy, 10, true, false).expect("opens");
        assert_eq!(
            (opened.to, opened.calls, opened.failure_rate),
            ("open", 4, 0.5)
        );
        assert_eq!(breaker.try_acquire(&policy, 500), Admission::Refuse);
        // After open_for, the first try half-opens it; two probes pass, the third waits.
        assert!(matches!(
            breaker.try_acquire(&policy, 1010),
            Admission::PassAfter(_)
        ));
        assert_eq!(breaker.try_acquire(&policy, 1011), Admission::Pass);
        assert_eq!(breaker.try_acquire(&policy, 1012), Admission::Refuse);
        // Both probes succeed: closed again, with an empty window.
        assert_eq!(breaker.record(&policy, 1020, false, false), None);
        assert_eq!(
            breaker.record(&policy, 1021, false, false).unwrap().to,
            "closed"
        );
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens_and_count_window_forgets_old_calls() {
        let policy = breaker_policy(BreakerWindow::Calls(4));
        let mut breaker = CircuitBreaker::new(&policy);
        // Two early failures slide out of a 4-call window before the rate is judged at 50%.
        for failed in [true, false, false, false, false] {
            assert_eq!(breaker.record(&policy, 0, failed, false), None);
        }
        assert_eq!(
            breaker.record(&policy, 0, true, false),
            None,
            "1 of the last 4 failed"
        );
        assert!(
            breaker.record(&policy, 0, true, false).is_some(),
            "2 of the last 4 failed"
        );
        assert!(matches!(
            breaker.try_acquire(&policy, 2000),
            Admission::PassAfter(_)
        ));
        assert_eq!(breaker.try_acquire(&policy, 2000), Admission::Pass);
        assert_eq!(breaker.record(&policy, 2001, true, false), None);
        assert_eq!(
            breaker.record(&policy, 2002, false, false).unwrap().to,
            "open",
            "1 of 2 probes failed"
        );
    }

    #[test]
    fn time_window_forgets_buckets_older_than_the_span() {
        let policy = breaker_policy(BreakerWindow::Time(2 * BUCKET));
        let mut breaker = CircuitBreaker::new(&policy);
        for _ in 0..3 {
            assert_eq!(
                breaker.record(&policy, 0, true, false),
                None,
                "below min_calls"
            );
        }
        // Two seconds later those three failures are out of the window.
        for _ in 0..3 {
            assert_eq!(breaker.record(&policy, 2 * BUCKET, false, false), None);
        }
        assert_eq!(
            breaker.record(&policy, 2 * BUCKET, true, false),
            None,
            "1 of 4 in the window"
        );
    }

    #[test]
    fn outlier_ejection_grows_with_repeats_and_respects_the_cap() {
        let policy = OutlierPolicy {
            consecutive_errors: 3,
            interval: 10,
            base_ejection: 100,
            max_ejection_time: 250,
            max_ejection: 0.5,
            enforcing: 1.0,
        };
        let mut detector = OutlierDetector::new(4);
        assert_eq!(detector.record(&policy, 0, true), None);
        assert_eq!(
            detector.record(&policy, 0, false),
            None,
            "a success resets the count"
        );
        assert_eq!(detector.record(&policy, 0, true), None);
        assert_eq!(detector.record(&policy, 0, true), None);
        assert_eq!(detector.record(&policy, 0, true), Some(100));
        detector.eject(0, 100);
        // A second replica may go (2 of 4 = the 50% cap is not yet reached with 1 ejected).
        for _ in 0..2 {
            detector.record(&policy, 1, true);
        }
        assert_eq!(detector.record(&policy, 1, true), Some(100));
        detector.eject(1, 100);
        for _ in 0..2 {
            detector.record(&policy, 2, true);
        }
        assert_eq!(detector.record(&policy, 2, true), None, "cap reached");
        let mut back = Vec::new();
        detector.sweep(100, &mut back);
        assert_eq!(back, [0, 1]);
        // Replica 0 again, right away: second ejection, twice as long.
        for _ in 0..2 {
            detector.record(&policy, 0, true);
        }
        assert_eq!(detector.record(&policy, 0, true), Some(200));
        detector.eject(0, 300);
        for _ in 0..2 {
            detector.record(&policy, 1, true);
        }
        // Replica 1's multiplier decayed by one sweep while healthy? No: it was ejected until
        // that sweep, so its multiplier (1) is still there: second ejection 200 as well.
        assert_eq!(detector.record(&policy, 1, true), Some(200));
    }

    #[test]
    fn retry_budget_caps_retries_at_its_ratio_plus_the_reserve() {
        let budget = RetryBudget {
            ratio: 0.2,
            ttl: 10 * BUCKET,
            min_per_second: 0.0,
        };
        let mut state = RetryBudgetState::new(&budget);
        for _ in 0..100 {
            state.deposit(0);
        }
        let allowed = (0..100).filter(|_| state.try_withdraw(0)).count();
        assert_eq!(allowed, 20, "20% of 100 calls");
        // Deposits expire after the ttl: nothing left to withdraw later.
        assert!(!state.try_withdraw(11 * BUCKET));
        let with_reserve = RetryBudget {
            ratio: 0.2,
            ttl: 10 * BUCKET,
            min_per_second: 1.0,
        };
        let mut reserved = RetryBudgetState::new(&with_reserve);
        assert_eq!(
            (0..100).filter(|_| reserved.try_withdraw(0)).count(),
            10,
            "1/s over 10 s"
        );
    }
}
