//! From the file's tree to a [`Model`]: reads every section, resolves names, runs the whole-model
//! checks, and produces the model only when no problem was found.

use super::calls::Directory;
use super::context::Ctx;
use super::extras::{read_compare, read_slo};
use super::faults::{read_faults, Targets};
use super::file::{keys_of, NetworkTable, ScenarioFile, ScenarioHeader};
use super::governance::read_registry;
use super::graph::report_cycles;
use super::policy::{read_policy, PolicyPatch};
use super::raw::Node;
use super::services::{build_services, read_services, DEFAULT_ZONE};
use super::workloads::read_workloads;
use crate::model::{Dist, Model, Network, RegistryModel};

/// Most windows a run may have (each makes a row per service and replica).
const MAX_WINDOWS: u64 = 1_000_000;

/// Default timeseries window: 1 s.
const DEFAULT_WINDOW: u64 = 1_000_000_000;

/// `[scenario]`.
struct Header {
    name: String,
    seed: u64,
    duration: u64,
    warmup: u64,
    window: u64,
}

/// Reads the whole file; `None` when any problem was reported.
pub(crate) fn build(root: &Node, ctx: &mut Ctx<'_>) -> Option<Model> {
    let top = ctx.table(root, "the top level", keys_of::<ScenarioFile>())?;
    let header = match top.get("scenario") {
        Some(node) => read_header(ctx, node),
        None => {
            ctx.error_at(
                0,
                "missing [scenario] table: a scenario needs at least a name and a duration",
            );
            None
        }
    };
    let network = top
        .get("network")
        .map_or_else(Network::default, |n| read_network(ctx, n));
    let registry = top
        .get("registry")
        .map_or(RegistryModel::Oracle, |n| read_registry(ctx, n));
    let global = top
        .get("policy")
        .map_or_else(PolicyPatch::default, |n| read_policy(ctx, n, "[policy]"));
    // Resolved once on its own so that its problems are reported even without services.
    global.resolve(ctx);

    let drafts = read_services(ctx, top.get("service"));
    let mut zones: Vec<String> = Vec::new();
    for draft in &drafts {
        for zone in &draft.zones {
            if !zones.contains(zone) {
                zones.push(zone.clone());
            }
        }
    }
    if zones.is_empty() {
        zones.push(DEFAULT_ZONE.to_string());
    }
    let mut directory = Directory::default();
    let endpoint_ids: Vec<_> = drafts
        .iter()
        .map(|d| {
            let names: Vec<String> = d.endpoints.iter().map(|e| e.name.clone()).collect();
            directory.add(&d.name, &names)
        })
        .collect();
    let built = build_services(ctx, &drafts, &endpoint_ids, &directory, &zones, &global);
    let labels: Vec<String> = built
        .endpoints
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                built
                    .services
                    .get(e.service)
                    .map_or("?", |s| s.name.as_str()),
                e.name
            )
        })
        .collect();
    report_cycles(ctx, &built.call_sites, &labels);

    let duration = header.as_ref().map(|h| h.duration);
    let workloads = read_workloads(ctx, top.get("workload"), &directory, &zones, duration);
    let targets = Targets {
        services: &built.services,
        directory: &directory,
        zones: &zones,
    };
    let faults = read_faults(ctx, top.get("fault"), &targets);
    let slo = top.get("slo").and_then(|n| read_slo(ctx, n));
    let compare = top.get("compare").and_then(|n| read_compare(ctx, n));

    let header = header?;
    if ctx.error_count() > 0 {
        return None;
    }
    Some(Model {
        name: header.name,
        seed: header.seed,
        duration: header.duration,
        warmup: header.warmup,
        window: header.window,
        zones,
        network,
        registry,
        services: built.services,
        endpoints: built.endpoints,
        workloads,
        faults,
        slo,
        compare,
    })
}

fn read_header(ctx: &mut Ctx<'_>, node: &Node) -> Option<Header> {
    let fields = ctx.table(node, "[scenario]", keys_of::<ScenarioHeader>())?;
    let name = ctx
        .required(&fields, "name")
        .and_then(|n| ctx.name(n, "scenario name"))
        .map(str::to_string);
    // TOML integers stop at i64::MAX; a larger u64 seed may be written as a string of digits.
    let seed = match fields.get("seed") {
        Some(n) => match n.as_str().map(|s| s.trim().parse::<u64>()) {
            Some(Ok(seed)) => Some(seed),
            _ => ctx.integer(n, "seed", 0, i64::MAX).map(|s| s as u64),
        },
        None => Some(1),
    };
    let duration = ctx
        .required(&fields, "duration")
        .and_then(|n| ctx.positive_duration(n, "duration"));
    let warmup = match fields.get("warmup") {
        Some(n) => {
            let warmup = ctx.duration(n, "warmup");
            if let (Some(w), Some(d)) = (warmup, duration) {
                if w >= d {
                    ctx.error(
                        n,
                        "warmup must be shorter than duration (no request would be measured)",
                    );
                }
            }
            warmup
        }
        None => Some(0),
    };
    let window = match fields.get("window") {
        Some(n) => {
            let window = ctx.positive_duration(n, "window");
            if let (Some(w), Some(d)) = (window, duration) {
                if d / w > MAX_WINDOWS {
                    ctx.error(
                        n,
                        format!(
                            "window is too short: {} windows over the duration (at most {MAX_WINDOWS})",
                            d / w
                        ),
                    );
                }
            }
            window
        }
        None => Some(DEFAULT_WINDOW),
    };
    Some(Header {
        name: name?,
        seed: seed?,
        duration: duration?,
        warmup: warmup?,
        window: window?,
    })
}

fn read_network(ctx: &mut Ctx<'_>, node: &Node) -> Network {
    let Some(fields) = ctx.table(node, "[network]", keys_of::<NetworkTable>()) else {
        return Network::default();
    };
    let latency = fields.get("latency").and_then(|n| ctx.dist(n, "latency"));
    let cross = fields
        .get("cross_zone_latency")
        .and_then(|n| ctx.dist(n, "cross_zone_latency"));
    let edge = fields
        .get("edge_latency")
        .and_then(|n| ctx.dist(n, "edge_latency"));
    let latency = latency.unwrap_or(Dist::Const(0.0));
    let cross_zone_latency = cross.unwrap_or_else(|| latency.clone());
    let edge_latency = edge.unwrap_or_else(|| latency.clone());
    Network {
        latency,
        cross_zone_latency,
        edge_latency,
    }
}
