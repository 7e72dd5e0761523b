//! `[[service]]` tables and their `[[service.endpoint]]`s: read into drafts, then turned into
//! model services and endpoints once every name is known.

use std::collections::HashMap;

use super::calls::{read_calls, resolve_at, Directory, StepDraft};
use super::context::Ctx;
use super::file::{keys_of, EndpointTable, RateLimitTable, ServiceTable};
use super::operations::{read_traffic, read_versions, resolve_versions};
use super::policy::{read_policy, PolicyPatch};
use super::raw::Node;
use crate::model::{
    AutoscalePolicy, Call, Concurrency, Dist, Endpoint, EndpointId, RateLimit, Service, Step,
    TrafficSplit, Version,
};

const CONCURRENCY: [(&str, Concurrency); 2] = [
    ("threads", Concurrency::Threads),
    ("async", Concurrency::Async),
];

/// Most replicas a service may have.
const MAX_REPLICAS: i64 = super::limits::MAX_REPLICAS_PER_SERVICE as i64;

/// Zone of replicas of a service that names none.
pub(crate) const DEFAULT_ZONE: &str = "default";

/// Endpoint name of a service that declares none.
const DEFAULT_ENDPOINT: &str = "default";

/// A service as written, with defaults applied and calls not yet resolved.
#[derive(Debug)]
pub(crate) struct ServiceDraft {
    /// Unique name.
    pub name: String,
    /// Number of replicas (>= 1).
    pub replicas: usize,
    /// Zone names replicas are spread over, round-robin.
    pub zones: Vec<String>,
    /// Weight of each replica.
    pub weights: Vec<u32>,
    /// Workers per replica.
    pub workers: u32,
    /// How workers are held.
    pub concurrency: Concurrency,
    /// Queue capacity per replica; `None` unbounded.
    pub queue: Option<u32>,
    /// Token-bucket rate limit per replica, if any.
    pub rate_limit: Option<RateLimit>,
    /// Steady fraction of requests failing with `error`.
    pub error_rate: f64,
    /// Endpoints, in order (at least one).
    pub endpoints: Vec<EndpointDraft>,
    /// The service's own policy keys (merged over `[policy]` later).
    pub policy: Option<PolicyPatch>,
    /// Horizontal autoscaling, if any.
    pub autoscale: Option<AutoscalePolicy>,
    /// Longest wait in the queue before the request is shed, nanoseconds.
    pub max_queue_time: u64,
    /// Versions (at least one; one unnamed when none is declared).
    pub versions: Vec<Version>,
    /// The traffic split across versions, if any.
    pub traffic: Option<TrafficSplit>,
}

/// An endpoint as written.
#[derive(Debug)]
pub(crate) struct EndpointDraft {
    /// Name, unique within the service.
    pub name: String,
    /// Compute time, nanoseconds.
    pub service_time: Dist,
    /// Call steps, targets unresolved.
    pub steps: Vec<StepDraft>,
}

/// Reads every `[[service]]`; reports duplicate names and a missing section.
pub(crate) fn read_services(ctx: &mut Ctx<'_>, node: Option<&Node>) -> Vec<ServiceDraft> {
    let Some(node) = node else {
        ctx.error_at(0, "no [[service]]: a scenario needs at least one service");
        return Vec::new();
    };
    let Some(items) = ctx.tables(node, "[[service]]") else {
        return Vec::new();
    };
    if items.is_empty() {
        ctx.error(
            node,
            "no [[service]]: a scenario needs at least one service",
        );
    }
    let mut drafts = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for item in items {
        let Some((draft, name_pos)) = read_service(ctx, item) else {
            continue;
        };
        if let Some(first) = seen.get(&draft.name) {
            let line = ctx.line_of(*first);
            ctx.error_at(
                name_pos,
                format!(
                    "duplicate service name \"{}\" (first defined on line {line})",
                    draft.name
                ),
            );
            continue;
        }
        seen.insert(draft.name.clone(), name_pos);
        drafts.push(draft);
    }
    drafts
}

/// One service, and the position of its name.
fn read_service(ctx: &mut Ctx<'_>, node: &Node) -> Option<(ServiceDraft, usize)> {
    let fields = ctx.table(node, "[[service]]", keys_of::<ServiceTable>())?;
    let name_node = ctx.required(&fields, "name");
    let name = name_node
        .and_then(|n| ctx.name(n, "service name"))
        .map(str::to_string);

    let replicas = match fields.get("replicas") {
        Some(n) => ctx.integer(n, "replicas", 1, MAX_REPLICAS).unwrap_or(1),
        None => 1,
    } as usize;
    let label = name.clone().unwrap_or_else(|| "?".to_string());
    let error_rate = fields
        .get("error_rate")
        .and_then(|n| ctx.fraction(n, "error_rate"))
        .unwrap_or(0.0);
    let version_drafts = fields
        .get("version")
        .map(|n| read_versions(ctx, n, &label))
        .unwrap_or_default();
    let versions = resolve_versions(version_drafts, replicas, error_rate);
    // With versions, the service's replicas are theirs together.
    let replicas = versions.iter().map(|v| v.replicas).sum::<usize>();
    if replicas == 0 || replicas > MAX_REPLICAS as usize {
        ctx.error(
            fields.get("version").unwrap_or(node),
            format!(
                "the versions of service \"{label}\" have {replicas} replicas together: from 1 to \
                 {MAX_REPLICAS}"
            ),
        );
    }
    let replicas = replicas.clamp(1, MAX_REPLICAS as usize);
    let traffic = fields
        .get("traffic")
        .and_then(|n| read_traffic(ctx, n, &label, &versions));
    let max_queue_time = fields
        .get("max_queue_time")
        .and_then(|n| {
            ctx.limit_or_off(n, "max_queue_time", |ctx, n| {
                ctx.duration(n, "max_queue_time")
            })
        })
        .flatten()
        .unwrap_or(u64::MAX);
    let autoscale = fields
        .get("autoscale")
        .and_then(|n| {
            super::policy::read_or_off(ctx, n, "[service.autoscale]", |ctx, n| {
                // The HPA scales the first version's replicas (the main Deployment; a
                // canary's own replicas are another Deployment's).
                super::governance::read_autoscale(ctx, n, versions[0].replicas)
            })
        })
        .flatten();
    let zones = match fields.get("zones") {
        Some(n) => read_zones(ctx, n),
        None => vec![DEFAULT_ZONE.to_string()],
    };
    let workers = match fields.get("workers") {
        Some(n) => ctx
            .integer(n, "workers", 1, super::limits::MAX_WORKERS as i64)
            .unwrap_or(1),
        None => 1,
    } as u32;
    let concurrency = match fields.get("concurrency") {
        Some(n) => ctx
            .choice(n, "concurrency", &CONCURRENCY, &[])
            .unwrap_or(Concurrency::Threads),
        None => Concurrency::Threads,
    };
    let queue = fields
        .get("queue")
        .and_then(|n| {
            ctx.limit_or_off(n, "queue", |ctx, n| {
                ctx.integer(n, "queue", 0, i64::from(u32::MAX))
                    .map(|q| q as u32)
            })
        })
        .flatten();
    let rate_limit = fields
        .get("rate_limit")
        .and_then(|n| super::policy::read_or_off(ctx, n, "rate_limit", read_rate_limit))
        .flatten();
    let weights = match fields.get("weights") {
        Some(n) => read_weights(ctx, n, replicas),
        None => vec![1; replicas],
    };
    let service_time = fields
        .get("service_time")
        .and_then(|n| ctx.dist(n, "service_time"));
    let service_time_given = fields.get("service_time").is_some();
    let calls = fields.get("calls").map(|n| read_calls(ctx, n));
    let policy = fields
        .get("policy")
        .map(|n| read_policy(ctx, n, "[service.policy]"));

    let mut endpoints = Vec::new();
    let declared = fields.get("endpoint");
    let endpoint_items = match declared {
        Some(n) => ctx.tables(n, "[[service.endpoint]]").unwrap_or(&[]),
        None => &[],
    };
    if endpoint_items.is_empty() {
        if !service_time_given {
            ctx.error(node, format!("missing key \"service_time\" in [[service]] \"{label}\" (it has no endpoints with their own)"));
        }
        endpoints.push(EndpointDraft {
            name: DEFAULT_ENDPOINT.to_string(),
            service_time: service_time.clone().unwrap_or(Dist::Const(0.0)),
            steps: calls.clone().unwrap_or_default(),
        });
    }
    let mut endpoint_names: HashMap<String, usize> = HashMap::new();
    for item in endpoint_items {
        let Some(ep) = ctx.table(item, "[[service.endpoint]]", keys_of::<EndpointTable>()) else {
            continue;
        };
        let ep_name_node = ctx.required(&ep, "name");
        let ep_name = ep_name_node.and_then(|n| ctx.name(n, "endpoint name"));
        let ep_time = match ep.get("service_time") {
            Some(n) => ctx.dist(n, "service_time"),
            None => {
                if !service_time_given {
                    ctx.error(
                        item,
                        format!(
                            "endpoint \"{}\" of service \"{label}\" has no service_time, and the service gives none",
                            ep_name.unwrap_or("?")
                        ),
                    );
                }
                service_time.clone()
            }
        };
        let steps = match ep.get("calls") {
            Some(n) => read_calls(ctx, n),
            None => calls.clone().unwrap_or_default(),
        };
        let (Some(ep_name), Some(ep_name_node)) = (ep_name, ep_name_node) else {
            continue;
        };
        if let Some(first) = endpoint_names.get(ep_name) {
            let line = ctx.line_of(*first);
            ctx.error(
                ep_name_node,
                format!("duplicate endpoint name \"{ep_name}\" in service \"{label}\" (first defined on line {line})"),
            );
            continue;
        }
        endpoint_names.insert(ep_name.to_string(), ep_name_node.pos());
        endpoints.push(EndpointDraft {
            name: ep_name.to_string(),
            service_time: ep_time.unwrap_or(Dist::Const(0.0)),
            steps,
        });
    }
    let (name, name_node) = (name?, name_node?);
    let draft = ServiceDraft {
        name,
        replicas,
        zones,
        weights,
        workers,
        concurrency,
        queue,
        rate_limit,
        error_rate,
        endpoints,
        policy,
        autoscale,
        max_queue_time,
        versions,
        traffic,
    };
    Some((draft, name_node.pos()))
}

fn read_zones(ctx: &mut Ctx<'_>, node: &Node) -> Vec<String> {
    let Some(items) = ctx.array(node, "zones") else {
        return vec![DEFAULT_ZONE.to_string()];
    };
    if items.is_empty() {
        ctx.error(
            node,
            "zones must list at least one zone (omit it for the \"default\" zone)",
        );
        return vec![DEFAULT_ZONE.to_string()];
    }
    let mut zones: Vec<String> = Vec::new();
    for item in items {
        let Some(zone) = ctx.string(item, "zone") else {
            continue;
        };
        if zone.is_empty() || zone.contains(':') {
            ctx.error(
                item,
                format!("zone name \"{zone}\" must be non-empty and must not contain ':'"),
            );
        } else if zones.iter().any(|z| z == zone) {
            ctx.error(item, format!("zone \"{zone}\" is listed twice"));
        } else {
            zones.push(zone.to_string());
        }
    }
    if zones.is_empty() {
        zones.push(DEFAULT_ZONE.to_string());
    }
    zones
}

fn read_weights(ctx: &mut Ctx<'_>, node: &Node, replicas: usize) -> Vec<u32> {
    let Some(items) = ctx.array(node, "weights") else {
        return vec![1; replicas];
    };
    let weights: Vec<u32> = items
        .iter()
        .map(|item| {
            ctx.integer(item, "weight", 1, i64::from(u32::MAX))
                .map_or(1, |w| w as u32)
        })
        .collect();
    if weights.len() != replicas {
        ctx.error(
            node,
            format!(
                "weights must give one weight per replica: {} given for {replicas} replicas",
                weights.len()
            ),
        );
        return vec![1; replicas];
    }
    weights
}

/// Services and endpoints of the model, with call targets resolved and policies merged.
pub(crate) struct Built {
    /// The services, in file order.
    pub services: Vec<Service>,
    /// Every endpoint, numbered as the directory numbered them.
    pub endpoints: Vec<Endpoint>,
    /// For each endpoint, its calls' targets with the byte offset each target was written at.
    pub call_sites: Vec<Vec<(EndpointId, usize)>>,
}

/// Builds model services from drafts; `endpoint_ids[i]` are the ids of draft i's endpoints and
/// `deployment_versions[i]` the versions of the slots deployments add to service i.
pub(crate) fn build_services(
    ctx: &mut Ctx<'_>,
    drafts: &[ServiceDraft],
    endpoint_ids: &[Vec<EndpointId>],
    directory: &Directory,
    zones: &[String],
    global: &PolicyPatch,
    deployment_versions: &[Vec<u32>],
) -> Built {
    let mut built = Built {
        services: Vec::new(),
        endpoints: Vec::new(),
        call_sites: Vec::new(),
    };
    for (service_id, (draft, ids)) in drafts.iter().zip(endpoint_ids).enumerate() {
        let policy = match &draft.policy {
            Some(own) => own.over(global).resolve(ctx),
            None => global.resolve(ctx),
        };
        let added = deployment_versions
            .get(service_id)
            .map_or(&[][..], Vec::as_slice);
        let slots = crate::model::service::starting_slots(
            draft.replicas,
            draft.versions[0].replicas,
            draft.autoscale.as_ref(),
        ) + added.len();
        // The starting replicas version by version, then what deployments add.
        let mut replica_versions: Vec<u32> = draft
            .versions
            .iter()
            .enumerate()
            .flat_map(|(index, v)| std::iter::repeat_n(index as u32, v.replicas))
            .collect();
        replica_versions.resize(slots - added.len(), 0);
        replica_versions.extend_from_slice(added);
        let mut replica_weights = draft.weights.clone();
        replica_weights.resize(slots, 1);
        let replica_zones = (0..slots)
            .map(|i| {
                let zone = &draft.zones[i % draft.zones.len()];
                zones.iter().position(|z| z == zone).unwrap_or(0)
            })
            .collect();
        for ep in &draft.endpoints {
            let mut steps = Vec::new();
            let mut sites = Vec::new();
            for step in &ep.steps {
                let mut calls = Vec::new();
                for call in &step.calls {
                    if let Some(target) =
                        resolve_at(ctx, directory, &call.node, &call.target, "call target")
                    {
                        calls.push(Call {
                            target,
                            probability: call.probability,
                            optional: call.optional,
                        });
                        sites.push((target, call.node.pos()));
                    }
                }
                if !calls.is_empty() {
                    steps.push(Step { calls });
                }
            }
            built.endpoints.push(Endpoint {
                service: service_id,
                name: ep.name.clone(),
                service_time: ep.service_time.clone(),
                steps,
            });
            built.call_sites.push(sites);
        }
        built.services.push(Service {
            name: draft.name.clone(),
            replicas: draft.replicas,
            replica_zones,
            replica_weights,
            autoscale: draft.autoscale.clone(),
            max_queue_time: draft.max_queue_time,
            workers: draft.workers,
            concurrency: draft.concurrency,
            queue_capacity: draft.queue,
            rate_limit: draft.rate_limit.clone(),
            error_rate: draft.error_rate,
            endpoints: ids.clone(),
            policy,
            versions: draft.versions.clone(),
            replica_versions,
            traffic: draft.traffic.clone(),
            deployment_slots: added.len(),
        });
    }
    built
}

/// Reads `rate_limit = { rate = 1000, burst = 100 }`: tokens per second per replica and the
/// bucket size (default 1: no burst).
fn read_rate_limit(ctx: &mut Ctx<'_>, node: &Node) -> Option<RateLimit> {
    let fields = ctx.table(node, "rate_limit", keys_of::<RateLimitTable>())?;
    let rate = ctx
        .required(&fields, "rate")
        .and_then(|n| ctx.positive(n, "rate limit rate"))?;
    let burst = match fields.get("burst") {
        Some(n) => ctx.positive(n, "rate limit burst")?,
        None => 1.0,
    };
    if burst < 1.0 {
        ctx.error(
            node,
            "rate_limit burst must be at least 1 (a request takes one token)",
        );
        return None;
    }
    Some(RateLimit { rate, burst })
}
