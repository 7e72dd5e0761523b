//! The network between replicas: one-way latency within a zone and across zones.

use super::distribution::Dist;

/// Network latency model.
#[derive(Debug, Clone)]
pub struct Network {
    /// One-way latency between two endpoints in the same zone, nanoseconds.
    pub latency: Dist,
    /// One-way latency between endpoints in different zones, nanoseconds.
    pub cross_zone_latency: Dist,
    /// One-way latency between a workload without a zone and the replicas it calls,
    /// nanoseconds (`edge_latency`, default `latency`).
    pub edge_latency: Dist,
}

impl Default for Network {
    /// Zero latency everywhere.
    fn default() -> Self {
        Network {
            latency: Dist::Const(0.0),
            cross_zone_latency: Dist::Const(0.0),
            edge_latency: Dist::Const(0.0),
        }
    }
}

impl Network {
    /// The latency distribution between two zones.
    pub fn between(&self, from_zone: usize, to_zone: usize) -> &Dist {
        if from_zone == to_zone {
            &self.latency
        } else {
            &self.cross_zone_latency
        }
    }
}
