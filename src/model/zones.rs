//! Envoy's zone-aware routing: which zone a caller sends a request to.
//!
//! The shares are over hosts: the *upstream* share of a zone is its usable hosts (in the caller's
//! view, not ejected) over all usable hosts; the *originating* share is the calling service's
//! replicas in that zone over all of them (its "local cluster"). When the caller's zone holds at
//! least as large a share upstream as it does among the callers, everything stays local.
//! Otherwise the caller routes locally with probability `upstream share / originating share`
//! (what keeps the local hosts' load equal to the others'), and spills the rest to the other
//! zones in proportion to their residual capacity `upstream share - originating share` (where
//! positive). Envoy only does this when the upstream set has at least `min_cluster_size` hosts
//! and is not in panic; otherwise it balances over every host.

/// Where a caller's requests go, zone by zone.
#[derive(Debug, Clone, PartialEq)]
pub enum ZonePlan {
    /// Zone-aware routing does not apply: balance over every usable host.
    Off,
    /// Everything to the local zone.
    Local,
    /// Local with `local_probability`, else another zone with probability proportional to its
    /// residual capacity.
    Spill {
        /// Probability of routing to the local zone, in [0, 1).
        local_probability: f64,
        /// Per zone index, the running sum of residual capacities (the local zone adds 0).
        cumulative_residual: Vec<f64>,
    },
}

impl ZonePlan {
    /// The plan of a caller in zone `local`, given the usable upstream hosts per zone and the
    /// originating (calling) hosts per zone, both indexed by zone.
    pub fn new(local: usize, upstream: &[u32], originating: &[u32], min_cluster_size: u32) -> Self {
        let total_upstream: u32 = upstream.iter().sum();
        let total_originating: u32 = originating.iter().sum();
        let local_originating = originating.get(local).copied().unwrap_or(0);
        if total_upstream == 0 || total_upstream < min_cluster_size || local_originating == 0 {
            return ZonePlan::Off;
        }
        let local_upstream = upstream.get(local).copied().unwrap_or(0);
        // upstream share >= originating share, compared exactly in integers.
        if u64::from(local_upstream) * u64::from(total_originating)
            >= u64::from(local_originating) * u64::from(total_upstream)
        {
            return ZonePlan::Local;
        }
        let share = |count: u32, total: u32| f64::from(count) / f64::from(total);
        let local_probability =
            share(local_upstream, total_upstream) / share(local_originating, total_originating);
        let mut sum = 0.0;
        let cumulative_residual = (0..upstream.len())
            .map(|zone| {
                if zone != local {
                    let residual = share(upstream[zone], total_upstream)
                        - share(
                            originating.get(zone).copied().unwrap_or(0),
                            total_originating,
                        );
                    sum += residual.max(0.0);
                }
                sum
            })
            .collect();
        ZonePlan::Spill {
            local_probability,
            cumulative_residual,
        }
    }

    /// The zone for a request, from two uniform draws in [0, 1) (`None` under [`ZonePlan::Off`]).
    pub fn choose(&self, local: usize, first: f64, second: f64) -> Option<usize> {
        match self {
            ZonePlan::Off => None,
            ZonePlan::Local => Some(local),
            ZonePlan::Spill {
                local_probability,
                cumulative_residual,
            } => {
                if first < *local_probability {
                    return Some(local);
                }
                let total = cumulative_residual.last().copied().unwrap_or(0.0);
                let target = second * total;
                let zone = cumulative_residual.partition_point(|&sum| sum <= target);
                Some(zone.min(cumulative_residual.len() - 1))
            }
        }
    }

    /// The probability that a request goes to `zone` (for tests and reports).
    pub fn probability(&self, local: usize, zone: usize) -> f64 {
        match self {
            ZonePlan::Off => f64::NAN,
            ZonePlan::Local => f64::from(u8::from(zone == local)),
            ZonePlan::Spill {
                local_probability,
                cumulative_residual,
            } => {
                if zone == local {
                    return *local_probability;
                }
                let total = cumulative_residual.last().copied().unwrap_or(0.0);
                let before = if zone == 0 {
                    0.0
                } else {
                    cumulative_residual[zone - 1]
                };
                (1.0 - local_probability) * (cumulative_residual[zone] - before) / total
            }
        }
    }
}

/// Who the callers of a service are, for the originating shares.
#[derive(Debug, Clone, Copy)]
pub enum Originating<'a> {
    /// The calling service's replicas as its view lists them (`version` changes with the view),
    /// with the zone of each replica index.
    Replicas {
        /// Replica indices of the calling service.
        view: &'a [u32],
        /// Version of that view.
        version: u64,
        /// Zone of each replica index of the calling service.
        zones: &'a [usize],
    },
    /// Fixed counts per zone (the zoned workloads calling the service at the edge).
    Counts(&'a [u32]),
}

impl Originating<'_> {
    /// Changes whenever the counts may have changed.
    fn version(&self) -> u64 {
        match self {
            Originating::Replicas { version, .. } => *version,
            Originating::Counts(_) => 0,
        }
    }

    /// Callers per zone, into `counts` (`zone_count` zones).
    fn count(&self, counts: &mut Vec<u32>, zone_count: usize) {
        counts.clear();
        counts.resize(zone_count, 0);
        match self {
            Originating::Replicas { view, zones, .. } => {
                for &replica in *view {
                    counts[zones[replica as usize]] += 1;
                }
            }
            Originating::Counts(given) => {
                for (count, &given) in counts.iter_mut().zip(given.iter()) {
                    *count = given;
                }
            }
        }
    }
}

/// What a zone-aware pick needs to know about the request's caller and the upstream service.
#[derive(Debug, Clone, Copy)]
pub struct ZoneRequest<'a> {
    /// The caller's zone index.
    pub local: usize,
    /// Number of zones in the model.
    pub zone_count: usize,
    /// Envoy's `min_cluster_size`.
    pub min_cluster_size: u32,
    /// Zone of each replica index of the upstream service.
    pub upstream_zones: &'a [usize],
    /// The callers.
    pub originating: Originating<'a>,
}

/// A client's zone-aware routing state, rebuilt when its usable hosts or its callers change.
#[derive(Debug, Clone)]
pub struct ZoneState {
    /// (identity of the usable upstream set, originating version) the state was built for.
    stamp: (u64, u64, u64),
    /// The plan.
    pub plan: ZonePlan,
    /// Usable upstream replicas per zone, in view order.
    by_zone: Vec<Vec<u32>>,
    /// Round-robin position per zone (swapped in while picking inside a zone).
    pub(crate) cursors: Vec<usize>,
}

impl ZoneState {
    /// A state built for `members` (the usable upstream replicas, identified by `stamp`).
    pub fn new(stamp: (u64, u64), members: &[u32], request: &ZoneRequest<'_>) -> Self {
        let mut state = ZoneState {
            stamp: (u64::MAX, u64::MAX, u64::MAX),
            plan: ZonePlan::Off,
            by_zone: vec![Vec::new(); request.zone_count],
            cursors: vec![0; request.zone_count],
        };
        state.refresh(stamp, members, request);
        state
    }

    /// Rebuilds the state unless it was built for the same hosts and callers.
    pub fn refresh(&mut self, stamp: (u64, u64), members: &[u32], request: &ZoneRequest<'_>) {
        let full = (stamp.0, stamp.1, request.originating.version());
        if full == self.stamp {
            return;
        }
        self.stamp = full;
        for list in &mut self.by_zone {
            list.clear();
        }
        for &replica in members {
            self.by_zone[request.upstream_zones[replica as usize]].push(replica);
        }
        let upstream: Vec<u32> = self.by_zone.iter().map(|list| list.len() as u32).collect();
        let mut originating = Vec::new();
        request
            .originating
            .count(&mut originating, request.zone_count);
        self.plan = ZonePlan::new(
            request.local,
            &upstream,
            &originating,
            request.min_cluster_size,
        );
    }

    /// Usable upstream replicas in `zone`.
    pub fn zone_members(&self, zone: usize) -> &[u32] {
        &self.by_zone[zone]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn equal_zones_stay_local() {
        // 3 callers and 6 hosts, evenly over three zones: upstream share 1/3 >= 1/3.
        let plan = ZonePlan::new(0, &[2, 2, 2], &[1, 1, 1], 6);
        assert_eq!(plan, ZonePlan::Local);
        assert_eq!(plan.choose(0, 0.99, 0.99), Some(0));
    }

    #[test]
    fn too_few_hosts_or_no_local_callers_turn_it_off() {
        assert_eq!(ZonePlan::new(0, &[2, 2, 1], &[1, 1, 1], 6), ZonePlan::Off);
        assert_eq!(ZonePlan::new(0, &[2, 2, 2], &[0, 1, 1], 6), ZonePlan::Off);
        assert_eq!(ZonePlan::new(0, &[0, 0, 0], &[1, 1, 1], 0), ZonePlan::Off);
    }

    #[test]
    fn a_zone_with_fewer_hosts_than_callers_spills_by_residual_capacity() {
        // Callers: zone a 50%, b 25%, c 25%. Hosts: a 2 (20%), b 3 (30%), c 5 (50%).
        let (upstream, originating) = ([2, 3, 5], [2, 1, 1]);
        let plan = ZonePlan::new(0, &upstream, &originating, 6);
        let local = 0.2 / 0.5;
        let residual_b: f64 = 0.3 - 0.25;
        let residual_c: f64 = 0.5 - 0.25;
        let spill = 1.0 - local;
        assert!(close(plan.probability(0, 0), local));
        assert!(close(
            plan.probability(0, 1),
            spill * residual_b / (residual_b + residual_c)
        ));
        assert!(close(
            plan.probability(0, 2),
            spill * residual_c / (residual_b + residual_c)
        ));
        // Per-host load is then equal: each zone's received share / its hosts is the same.
        // Zone a receives 0.5 x 0.4 = 0.2 (2 hosts); b and c get the spill plus their own.
        let from_a = |zone| originating[0] as f64 / 4.0 * plan.probability(0, zone);
        let into_a = from_a(0);
        assert!(close(into_a / 2.0, 0.1), "{into_a}");
        // Zones b and c route locally: b's share 30% >= 25%, c's 50% >= 25%.
        assert_eq!(
            ZonePlan::new(1, &upstream, &originating, 6),
            ZonePlan::Local
        );
        let into_b = 0.25 + from_a(1);
        let into_c = 0.25 + from_a(2);
        assert!(
            close(into_b / 3.0, 0.1) && close(into_c / 5.0, 0.1),
            "{into_b} {into_c}"
        );
    }

    #[test]
    fn a_zone_without_hosts_spills_everything_to_zones_with_spare_capacity() {
        // Zone b's hosts are gone; callers evenly over a, b, c; hosts 3 in a, 3 in c.
        let plan = ZonePlan::new(1, &[3, 0, 3], &[1, 1, 1], 6);
        assert!(close(plan.probability(1, 1), 0.0));
        assert!(close(plan.probability(1, 0), 0.5));
        assert!(close(plan.probability(1, 2), 0.5));
        assert_eq!(plan.choose(1, 0.0, 0.25), Some(0));
        assert_eq!(plan.choose(1, 0.0, 0.75), Some(2));
        // Zone a's callers stay local: 50% of hosts for 33% of callers.
        assert_eq!(ZonePlan::new(0, &[3, 0, 3], &[1, 1, 1], 6), ZonePlan::Local);
    }

    #[test]
    fn choose_follows_the_probabilities() {
        let plan = ZonePlan::new(0, &[2, 3, 5], &[2, 1, 1], 6);
        let mut counts = [0u32; 3];
        let steps = 200;
        for i in 0..steps {
            for j in 0..steps {
                let first = (f64::from(i) + 0.5) / f64::from(steps);
                let second = (f64::from(j) + 0.5) / f64::from(steps);
                counts[plan.choose(0, first, second).unwrap()] += 1;
            }
        }
        let total = f64::from(steps * steps);
        for (zone, &count) in counts.iter().enumerate() {
            let expected = plan.probability(0, zone);
            assert!(
                (f64::from(count) / total - expected).abs() < 0.01,
                "zone {zone}: {count} vs {expected}"
            );
        }
    }

    #[test]
    fn state_groups_members_by_zone_and_follows_the_callers() {
        let upstream_zones = [0, 1, 2, 0, 1, 2];
        let caller_zones = [0, 1, 2];
        let request = |view: &'static [u32], version| ZoneRequest {
            local: 1,
            zone_count: 3,
            min_cluster_size: 4,
            upstream_zones: &upstream_zones,
            originating: Originating::Replicas {
                view,
                version,
                zones: &caller_zones,
            },
        };
        let mut state = ZoneState::new((0, 0), &[0, 1, 2, 3, 4, 5], &request(&[0, 1, 2], 0));
        assert_eq!(state.plan, ZonePlan::Local);
        assert_eq!(state.zone_members(1), &[1, 4]);
        // Zone b's hosts ejected: b's callers spill half to a, half to c.
        state.refresh((0, 1), &[0, 2, 3, 5], &request(&[0, 1, 2], 0));
        assert!(close(state.plan.probability(1, 0), 0.5));
        assert!(state.zone_members(1).is_empty());
    }
}
