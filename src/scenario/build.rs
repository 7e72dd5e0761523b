//! From the file's tree to a [`Model`]: reads every section, resolves names, runs the whole-model
//! checks, and produces the model only when no problem was found.

use super::calls::Directory;
use super::context::Ctx;
use super::duration::format_ns;
use super::extras::{read_compare, read_slo};
use super::faults::{read_faults, Targets};
use super::file::{keys_of, NetworkTable, ScenarioFile, ScenarioHeader};
use super::governance::read_registry;
use super::graph::report_cycles;
use super::limits;
use super::operations::{place_deployments, read_changes, read_deployments};
use super::policy::{read_policy, PolicyPatch};
use super::raw::Node;
use super::services::{build_services, read_services, Built, DEFAULT_ZONE};
use super::workloads::read_workloads;
use crate::model::{Dist, Model, Network, RegistryModel};

/// Default timeseries window: 1 s.
const DEFAULT_WINDOW: u64 = 1_000_000_000;

/// `[scenario]`.
struct Header {
    name: String,
    seed: u64,
    duration: u64,
    warmup: u64,
    window: u64,
    /// Where the window is written (else where the duration is), for messages about it.
    window_pos: usize,
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
    let mut deployments = read_deployments(ctx, top.get("deployment"), &drafts, &directory);
    let deployment_versions = place_deployments(&mut deployments, &drafts);
    let built = build_services(
        ctx,
        &drafts,
        &endpoint_ids,
        &directory,
        &zones,
        &global,
        &deployment_versions,
    );
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
    let before_cycles = ctx.error_count();
    report_cycles(ctx, &built.call_sites, &labels);
    if ctx.error_count() == before_cycles {
        check_tries_per_request(ctx, &built, &labels);
    }
    check_replica_slots(ctx, &built, root);
    if let Some(header) = &header {
        check_windows(ctx, header, &built);
    }

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
    let mut model = Model {
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
        deployments,
        changes: Vec::new(),
        slo,
        compare,
    };
    if !ctx.skip_changes {
        model.changes = read_changes(ctx, top.get("change"), &model);
        if ctx.error_count() > 0 {
            return None;
        }
    }
    Some(model)
}

fn read_header(ctx: &mut Ctx<'_>, node: &Node) -> Option<Header> {
    let fields = ctx.table(node, "[scenario]", keys_of::<ScenarioHeader>())?;
    let name = ctx.required(&fields, "name").and_then(|n| {
        let name = ctx.name(n, "scenario name")?;
        // It names the default report folder, reports/<name>/.
        match super::limits::file_name_problem(name) {
            Some(problem) => {
                ctx.error(
                    n,
                    format!("scenario name {problem} (it names the report folder)"),
                );
                None
            }
            None => Some(name.to_string()),
        }
    });
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
        Some(n) => ctx.positive_duration(n, "window"),
        None => Some(DEFAULT_WINDOW),
    };
    let window_pos = fields
        .get("window")
        .or_else(|| fields.get("duration"))
        .map_or(node.pos(), Node::pos);
    Some(Header {
        name: name?,
        seed: seed?,
        duration: duration?,
        warmup: warmup?,
        window: window?,
        window_pos,
    })
}

/// Refuses more windows than [`limits::MAX_WINDOWS`] over the whole run: the load's duration,
/// then the drain (up to the longest timeout, while measured requests end), with the default
/// 1 s window too; and more rows than [`limits::MAX_WINDOW_ROWS`].
fn check_windows(ctx: &mut Ctx<'_>, header: &Header, built: &Built) {
    let longest_timeout = built
        .services
        .iter()
        .map(|s| s.policy.timeout)
        .max()
        .unwrap_or(0);
    // As the simulator bounds a run: duration + longest timeout + 1 ns.
    let end = header
        .duration
        .saturating_add(longest_timeout)
        .saturating_add(1);
    let windows = end.div_ceil(header.window);
    let slots: u64 = built.services.iter().map(|s| s.slots() as u64).sum();
    let rows_per_window = built.services.len() as u64 + 1 + slots;
    let window = format_ns(header.window);
    if windows > limits::MAX_WINDOWS {
        ctx.error_at(
            header.window_pos,
            format!(
                "{windows} windows of {window} over the run (duration {} and up to {} of drain \
                 for the longest timeout), more than the limit of {}: set a longer \
                 [scenario] window",
                format_ns(header.duration),
                format_ns(longest_timeout),
                limits::MAX_WINDOWS
            ),
        );
    } else if windows.saturating_mul(rows_per_window) > limits::MAX_WINDOW_ROWS {
        ctx.error_at(
            header.window_pos,
            format!(
                "{windows} windows of {window} × {rows_per_window} rows (services, replicas and \
                 the end-to-end row) make {} rows of timeseries.csv and replicas.csv, more than \
                 the limit of {}: set a longer [scenario] window",
                windows.saturating_mul(rows_per_window),
                limits::MAX_WINDOW_ROWS
            ),
        );
    }
}

/// Refuses more replica slots than [`limits::MAX_REPLICAS_TOTAL`] over all services.
fn check_replica_slots(ctx: &mut Ctx<'_>, built: &Built, root: &Node) {
    let slots: u64 = built.services.iter().map(|s| s.slots() as u64).sum();
    if slots > limits::MAX_REPLICAS_TOTAL {
        ctx.error(
            root,
            format!(
                "{slots} replicas over all services (autoscaling maxima included), more than the \
                 limit of {}",
                limits::MAX_REPLICAS_TOTAL
            ),
        );
    }
}

/// Refuses an endpoint one request to which may cause more than
/// [`limits::MAX_TRIES_PER_REQUEST`] tries: its own, plus for each call, the tries of the call
/// (1 + retries + hedges, by the called service's policy) times the tries of the endpoint
/// called, recursively. Reported at the first call of each endpoint that exceeds the limit
/// while every endpoint it calls stays within it. The call graph must be free of cycles.
fn check_tries_per_request(ctx: &mut Ctx<'_>, built: &Built, labels: &[String]) {
    let count = built.endpoints.len();
    // Callees before callers (Kahn's algorithm on the reversed edges), without recursion: a
    // chain of 20,000 services is as deep.
    let mut pending_callees: Vec<usize> = built
        .endpoints
        .iter()
        .map(|e| e.steps.iter().map(|s| s.calls.len()).sum())
        .collect();
    let mut callers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (from, endpoint) in built.endpoints.iter().enumerate() {
        for call in endpoint.steps.iter().flat_map(|s| &s.calls) {
            if let Some(list) = callers.get_mut(call.target) {
                list.push(from);
            }
        }
    }
    let mut ready: Vec<usize> = (0..count).filter(|&e| pending_callees[e] == 0).collect();
    let mut tries = vec![f64::NAN; count];
    let mut reported = 0;
    while let Some(endpoint) = ready.pop() {
        let mut total = 1.0;
        let mut callee_over = false;
        for call in built.endpoints[endpoint]
            .steps
            .iter()
            .flat_map(|s| &s.calls)
        {
            let target = &built.endpoints[call.target];
            let policy = &built.services[target.service].policy;
            let per_call = 1.0
                + f64::from(policy.retries.max_retries)
                + f64::from(policy.hedge.map_or(0, |h| h.max));
            total += per_call * tries[call.target];
            callee_over |= tries[call.target] > limits::MAX_TRIES_PER_REQUEST;
        }
        tries[endpoint] = total;
        if total > limits::MAX_TRIES_PER_REQUEST && !callee_over && reported < 10 {
            reported += 1;
            let at = built.call_sites[endpoint].first().map_or(0, |&(_, at)| at);
            ctx.error_at(
                at,
                format!(
                    "one request to {} may cause {total:.3e} tries (its calls' tries, with \
                     retries and hedges, times the tries of what they call), more than the \
                     limit of {:.0e}: fewer calls, retries or hedges",
                    labels.get(endpoint).map_or("?", String::as_str),
                    limits::MAX_TRIES_PER_REQUEST
                ),
            );
        }
        for &caller in &callers[endpoint] {
            pending_callees[caller] -= 1;
            if pending_callees[caller] == 0 {
                ready.push(caller);
            }
        }
    }
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
