//! `[registry]`, a policy's `health_check` and `[service.autoscale]`: the discovery, health and
//! scaling settings, each with its real system's defaults.

use super::context::Ctx;
use super::file::{keys_of, AutoscaleTable, HealthCheckTable, RegistryTable};
use super::raw::{Node, Value};
use crate::model::{AutoscalePolicy, ConsulConfig, EurekaConfig, HealthCheckPolicy, RegistryModel};

const EUREKA_KEYS: [&str; 6] = [
    "heartbeat",
    "ttl",
    "eviction_interval",
    "client_refresh",
    "response_cache",
    "self_preservation",
];
const CONSUL_KEYS: [&str; 4] = [
    "check_interval",
    "check_timeout",
    "deregister_after",
    "client_refresh",
];
const MODELS: [&str; 4] = ["oracle", "static", "eureka", "consul"];
const MAX_AUTOSCALE: i64 = super::limits::MAX_AUTOSCALE_REPLICAS as i64;

/// Reads `[registry]`; settings of the other model are errors.
pub(crate) fn read_registry(ctx: &mut Ctx<'_>, node: &Node) -> RegistryModel {
    let Some(fields) = ctx.table(node, "[registry]", keys_of::<RegistryTable>()) else {
        return RegistryModel::Oracle;
    };
    let choices = [
        ("oracle", "oracle"),
        ("static", "static"),
        ("eureka", "eureka"),
        ("consul", "consul"),
    ];
    let model = match fields.get("model") {
        Some(n) => ctx.choice(n, "registry model", &choices, &[]),
        None => Some("oracle"),
    };
    let Some(model) = model else {
        return RegistryModel::Oracle;
    };
    let own: &[&str] = match model {
        "eureka" => &EUREKA_KEYS,
        "consul" => &CONSUL_KEYS,
        _ => &[],
    };
    for entry in fields.entries() {
        let key = entry.key.as_str();
        if key != "model" && !own.contains(&key) {
            let owner = if EUREKA_KEYS.contains(&key) && CONSUL_KEYS.contains(&key) {
                "eureka and consul"
            } else if EUREKA_KEYS.contains(&key) {
                "eureka"
            } else {
                "consul"
            };
            ctx.error_at(
                entry.key_span.start,
                format!(
                    "\"{key}\" does not apply to registry model \"{model}\" (it is a {owner} setting)"
                ),
            );
        }
    }
    debug_assert!(MODELS.contains(&model));
    match model {
        "static" => RegistryModel::Static,
        "eureka" => RegistryModel::Eureka(read_eureka(ctx, &fields)),
        "consul" => RegistryModel::Consul(read_consul(ctx, &fields)),
        _ => RegistryModel::Oracle,
    }
}

fn read_eureka(ctx: &mut Ctx<'_>, fields: &super::fields::Fields<'_>) -> EurekaConfig {
    let mut config = EurekaConfig::default();
    let positive = |ctx: &mut Ctx<'_>, key: &str, slot: &mut u64| {
        if let Some(ns) = fields.get(key).and_then(|n| ctx.positive_duration(n, key)) {
            *slot = ns;
        }
    };
    let period = |ctx: &mut Ctx<'_>, key: &str, slot: &mut u64| {
        if let Some(ns) = fields.get(key).and_then(|n| ctx.period(n, key, false)) {
            *slot = ns;
        }
    };
    period(ctx, "heartbeat", &mut config.heartbeat);
    positive(ctx, "ttl", &mut config.ttl);
    period(ctx, "eviction_interval", &mut config.eviction_interval);
    period(ctx, "client_refresh", &mut config.client_refresh);
    period(ctx, "response_cache", &mut config.response_cache);
    if let Some(node) = fields.get("self_preservation") {
        match &node.value {
            Value::Boolean(on) => {
                config.self_preservation = if *on { 0.85 } else { 0.0 };
            }
            _ => {
                if let Some(fraction) = ctx.fraction(node, "self_preservation") {
                    if fraction >= 1.0 {
                        ctx.error(
                            node,
                            "self_preservation must be below 1 (the fraction of expected \
                             renewals under which eviction stops; 0 or false turns it off)",
                        );
                    } else {
                        config.self_preservation = fraction;
                    }
                }
            }
        }
    }
    config
}

fn read_consul(ctx: &mut Ctx<'_>, fields: &super::fields::Fields<'_>) -> ConsulConfig {
    let mut config = ConsulConfig::default();
    if let Some(ns) = fields
        .get("check_interval")
        .and_then(|n| ctx.period(n, "check_interval", false))
    {
        config.check_interval = ns;
    }
    if let Some(ns) = fields
        .get("check_timeout")
        .and_then(|n| ctx.positive_duration(n, "check_timeout"))
    {
        config.check_timeout = ns;
    }
    if let Some(node) = fields.get("deregister_after") {
        if let Some(ns) = ctx.duration(node, "deregister_after") {
            if ns < 60_000_000_000 {
                ctx.error(
                    node,
                    "deregister_after must be at least \"1m\" (Consul's floor)",
                );
            } else {
                config.deregister_after = ns;
            }
        }
    }
    if let Some(ns) = fields
        .get("client_refresh")
        .and_then(|n| ctx.period(n, "client_refresh", true))
    {
        config.client_refresh = ns;
    }
    config
}

/// Reads `health_check = { interval, timeout, unhealthy, healthy }` (all required, as in Envoy).
pub(crate) fn read_health_check(ctx: &mut Ctx<'_>, node: &Node) -> Option<HealthCheckPolicy> {
    let fields = ctx.table(node, "health_check", keys_of::<HealthCheckTable>())?;
    let interval = ctx
        .required(&fields, "interval")
        .and_then(|n| ctx.period(n, "health_check interval", false));
    let timeout = ctx
        .required(&fields, "timeout")
        .and_then(|n| ctx.positive_duration(n, "health_check timeout"));
    let unhealthy = ctx
        .required(&fields, "unhealthy")
        .and_then(|n| ctx.integer(n, "health_check unhealthy", 1, 1000));
    let healthy = ctx
        .required(&fields, "healthy")
        .and_then(|n| ctx.integer(n, "health_check healthy", 1, 1000));
    let (interval, timeout) = (interval?, timeout?);
    if timeout > interval {
        let node = fields.get("timeout").unwrap_or(node);
        ctx.error(node, "health_check timeout must not exceed its interval");
        return None;
    }
    Some(HealthCheckPolicy {
        interval,
        timeout,
        unhealthy: unhealthy? as u32,
        healthy: healthy? as u32,
    })
}

/// Reads `[service.autoscale]`; `replicas` (the starting count) must lie within `[min, max]`.
pub(crate) fn read_autoscale(
    ctx: &mut Ctx<'_>,
    node: &Node,
    replicas: usize,
) -> Option<AutoscalePolicy> {
    let fields = ctx.table(node, "[service.autoscale]", keys_of::<AutoscaleTable>())?;
    let min = ctx
        .required(&fields, "min")
        .and_then(|n| ctx.integer(n, "autoscale min", 1, MAX_AUTOSCALE));
    let max = ctx
        .required(&fields, "max")
        .and_then(|n| ctx.integer(n, "autoscale max", 1, MAX_AUTOSCALE));
    let target = ctx
        .required(&fields, "target_utilization")
        .and_then(|n| ctx.fraction(n, "target_utilization"));
    let (min, max, target) = (min? as u32, max? as u32, target?);
    if max < min {
        ctx.error(
            fields.get("max").unwrap_or(node),
            format!("autoscale max ({max}) is below min ({min})"),
        );
        return None;
    }
    if target <= 0.0 {
        ctx.error(
            fields.get("target_utilization").unwrap_or(node),
            "target_utilization must be above 0",
        );
        return None;
    }
    if !(min as usize..=max as usize).contains(&replicas) {
        ctx.error(
            node,
            format!(
                "the service starts with {replicas} replicas, outside autoscale [min, max] = \
                 [{min}, {max}]"
            ),
        );
        return None;
    }
    let mut policy = AutoscalePolicy::new(min, max, target);
    let durations: [(&str, &mut u64); 3] = [
        ("sync", &mut policy.sync),
        ("startup", &mut policy.startup),
        (
            "scale_down_stabilization",
            &mut policy.scale_down_stabilization,
        ),
    ];
    for (key, slot) in durations {
        if let Some(node) = fields.get(key) {
            let value = if key == "sync" {
                ctx.period(node, "autoscale sync", false)
            } else {
                ctx.duration(node, key)
            };
            if let Some(ns) = value {
                *slot = ns;
            }
        }
    }
    if let Some(tolerance) = fields
        .get("tolerance")
        .and_then(|n| ctx.fraction(n, "autoscale tolerance"))
    {
        policy.tolerance = tolerance;
    }
    Some(policy)
}
