//! Balancer state of one client towards one service, and the pick itself.

use super::policy::BalancerKind;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What one client (a calling replica, or a workload at the edge) remembers about one service.
#[derive(Debug, Clone)]
pub struct BalancerState {
    /// Next position in the view for round robin.
    round_robin_next: usize,
    /// Requests outstanding from this client, per replica index of the service.
    outstanding_requests: Vec<u32>,
    /// Smooth weighted round robin's running scores, per replica index.
    weighted_scores: Vec<i64>,
    /// This client's own random stream (balancer draws, retry jitter).
    rng: ChaCha8Rng,
}

impl BalancerState {
    /// A fresh state for a service of `replicas` replicas, drawing from `rng`.
    pub fn new(replicas: usize, rng: ChaCha8Rng) -> Self {
        BalancerState {
            round_robin_next: 0,
            outstanding_requests: vec![0; replicas],
            weighted_scores: vec![0; replicas],
            rng,
        }
    }

    /// The client's random stream.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Requests outstanding from this client at replica `replica`.
    pub fn outstanding(&self, replica: u32) -> u32 {
        self.outstanding_requests[replica as usize]
    }

    /// Notes a try sent to `replica`.
    pub fn on_send(&mut self, replica: u32) {
        self.outstanding_requests[replica as usize] += 1;
    }

    /// Notes the end (response, timeout or abandonment) of a try sent to `replica`.
    pub fn on_end(&mut self, replica: u32) {
        let count = &mut self.outstanding_requests[replica as usize];
        *count = count.saturating_sub(1);
    }

    /// Picks a replica from `view` (replica indices in view order); `weights` are indexed by
    /// replica index. `None` when the view is empty.
    pub fn pick(&mut self, kind: BalancerKind, view: &[u32], weights: &[u32]) -> Option<u32> {
        match view.len() {
            0 => return None,
            1 => return Some(view[0]),
            _ => {}
        }
        let chosen = match kind {
            BalancerKind::Random => view[self.rng.random_range(0..view.len())],
            BalancerKind::RoundRobin => {
                if self.round_robin_next >= view.len() {
                    self.round_robin_next = 0; // the view shrank, or a cycle ended
                }
                let replica = view[self.round_robin_next];
                self.round_robin_next += 1;
                replica
            }
            BalancerKind::WeightedRoundRobin => self.pick_weighted(view, weights),
            BalancerKind::LeastRequest => *view
                .iter()
                .min_by_key(|&&replica| self.outstanding(replica))
                .expect("view is not empty"),
            BalancerKind::PowerOfTwoChoices => {
                let first = self.rng.random_range(0..view.len());
                let mut second = self.rng.random_range(0..view.len() - 1);
                if second >= first {
                    second += 1;
                }
                let (a, b) = (view[first], view[second]);
                if self.outstanding(b) < self.outstanding(a) {
                    b
                } else {
                    a
                }
            }
        };
        Some(chosen)
    }

    /// Smooth weighted round robin: every replica gains its weight, the highest score wins and
    /// pays back the total. Over `sum(weights)` picks each replica is chosen `weight` times,
    /// interleaved rather than in bursts.
    fn pick_weighted(&mut self, view: &[u32], weights: &[u32]) -> u32 {
        let mut total = 0i64;
        let mut best = view[0];
        let mut best_score = i64::MIN;
        for &replica in view {
            let weight = i64::from(weights[replica as usize]);
            total += weight;
            let score = &mut self.weighted_scores[replica as usize];
            *score += weight;
            if *score > best_score {
                best_score = *score;
                best = replica;
            }
        }
        self.weighted_scores[best as usize] -= total;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn state(replicas: usize) -> BalancerState {
        BalancerState::new(replicas, ChaCha8Rng::seed_from_u64(9))
    }

    #[test]
    fn round_robin_cycles_through_the_view() {
        let mut balancer = state(3);
        let picks: Vec<_> = (0..6)
            .map(|_| balancer.pick(BalancerKind::RoundRobin, &[0, 1, 2], &[1, 1, 1]).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn weighted_round_robin_serves_in_proportion_and_interleaves() {
        let mut balancer = state(3);
        let picks: Vec<_> = (0..7)
            .map(|_| balancer.pick(BalancerKind::WeightedRoundRobin, &[0, 1, 2], &[5, 1, 1]).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|&&r| r == 0).count(), 5);
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0], "nginx's smooth sequence for weights 5,1,1");
    }

    #[test]
    fn least_request_takes_fewest_outstanding_first_in_view_on_ties() {
        let mut balancer = state(3);
        balancer.on_send(0);
        balancer.on_send(2);
        assert_eq!(balancer.pick(BalancerKind::LeastRequest, &[0, 1, 2], &[1; 3]), Some(1));
        balancer.on_send(1);
        assert_eq!(balancer.pick(BalancerKind::LeastRequest, &[2, 0, 1], &[1; 3]), Some(2));
    }

    #[test]
    fn p2c_never_picks_the_busiest_of_three_when_others_are_idle() {
        let mut balancer = state(3);
        for _ in 0..5 {
            balancer.on_send(1);
        }
        for _ in 0..1000 {
            assert_ne!(balancer.pick(BalancerKind::PowerOfTwoChoices, &[0, 1, 2], &[1; 3]), Some(1));
        }
    }

    #[test]
    fn random_is_roughly_uniform() {
        let mut balancer = state(4);
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[balancer.pick(BalancerKind::Random, &[0, 1, 2, 3], &[1; 4]).unwrap() as usize] += 1;
        }
        // Binomial sd = sqrt(40000 * 0.25 * 0.75) ~ 87; 5 sd = 433.
        assert!(counts.iter().all(|&c| (c as i64 - 10_000).abs() < 433), "{counts:?}");
    }

    #[test]
    fn empty_view_picks_nothing() {
        assert_eq!(state(2).pick(BalancerKind::Random, &[], &[1, 1]), None);
    }
}
