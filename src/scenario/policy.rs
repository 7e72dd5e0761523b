//! `[policy]` and `[service.policy]`: balancer, timeout and retries of calls.
//!
//! Both are read into a [`PolicyPatch`] whose fields are all optional; a service's patch is
//! merged key by key over the global one (and `retries` field by field) before defaults are
//! applied.

use super::context::Ctx;
use super::duration::format_ns;
use super::file::{keys_of, CircuitBreakerTable, OutlierDetectionTable, PolicyTable, RetriesTable};
use super::raw::Node;
use crate::model::policy::{HedgePolicy, MAX_HEDGES};
use crate::model::{
    BalancerKind, BreakerWindow, CallPolicy, CircuitBreakerPolicy, HealthCheckPolicy, Jitter,
    Outcome, OutlierPolicy, RetryBudget, RetryPolicy, ZoneAwarePolicy,
};

const HEDGE_KEYS: [&str; 2] = ["after", "max"];

const ZONE_AWARE_KEYS: [&str; 1] = ["min_cluster_size"];
/// Envoy's default `min_cluster_size` for zone-aware routing.
const DEFAULT_MIN_CLUSTER_SIZE: u32 = 6;

const BALANCERS: [(&str, BalancerKind); 10] = [
    ("random", BalancerKind::Random),
    ("round_robin", BalancerKind::RoundRobin),
    ("weighted_round_robin", BalancerKind::WeightedRoundRobin),
    ("least_request", BalancerKind::LeastRequest),
    ("p2c", BalancerKind::PowerOfTwoChoices),
    ("least_conn", BalancerKind::LeastConn),
    ("random2", BalancerKind::Random2),
    ("peak_ewma", BalancerKind::PeakEwma),
    ("ring_hash", BalancerKind::RingHash),
    ("maglev", BalancerKind::Maglev),
];

const JITTERS: [(&str, Jitter); 3] = [
    ("full", Jitter::Full),
    ("equal", Jitter::Equal),
    ("none", Jitter::None),
];

/// Outcomes a retry may be triggered by (`circuit_open` is accepted for forward compatibility);
/// `None`: `connect_failure`, refusals before the request was sent.
const RETRY_ON: [(&str, Option<Outcome>); 6] = [
    ("timeout", Some(Outcome::Timeout)),
    ("refused", Some(Outcome::Refused)),
    ("connect_failure", None),
    ("error", Some(Outcome::Error)),
    ("rejected", Some(Outcome::Rejected)),
    ("circuit_open", Some(Outcome::CircuitOpen)),
];

/// A duration as read, with the byte offset it was written at.
type At<T> = Option<(T, usize)>;

/// The keys one policy table sets; unset keys come from the table it is merged over.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyPatch {
    balancer: Option<BalancerKind>,
    timeout: Option<u64>,
    /// `retries` as written (`Some(None)`: `false`, switched off); likewise the other
    /// mechanisms below, so that a service's `false` wins over `[policy]`'s table.
    retries: Option<Option<RetriesPatch>>,
    circuit_breaker: Option<Option<CircuitBreakerPolicy>>,
    outlier_detection: Option<Option<OutlierPolicy>>,
    deadline_propagation: Option<bool>,
    /// The limits as written (`Some(None)`: `false`, no limit), so that a service's `false`
    /// wins over `[policy]`'s limit.
    max_requests: Option<Option<u32>>,
    hedge: Option<Option<HedgePolicy>>,
    max_connections: Option<Option<u32>>,
    max_pending: Option<Option<u32>>,
    /// `zone_aware` as written (`Some(None)`: `false`), with the offset of its value.
    zone_aware: At<Option<ZoneAwarePolicy>>,
    /// Offset of the `balancer` value, for messages about combinations.
    balancer_at: Option<usize>,
    health_check: Option<Option<HealthCheckPolicy>>,
}

/// The keys one `retries` table sets.
#[derive(Debug, Clone, Default)]
struct RetriesPatch {
    max: Option<u32>,
    /// `Some(None)`: `false`, no per-try timeout (likewise `budget`: no budget).
    per_try_timeout: Option<Option<u64>>,
    backoff: At<u64>,
    max_backoff: At<u64>,
    jitter: Option<Jitter>,
    /// Retried outcomes, and whether requests lost in a crash are among them.
    on: Option<([bool; 6], bool)>,
    budget: Option<Option<f64>>,
}

impl PolicyPatch {
    /// `self` over `base`: every key `self` sets wins (`false` included); `retries` tables
    /// are merged field by field.
    pub fn over(&self, base: &PolicyPatch) -> PolicyPatch {
        let retries = match (&self.retries, &base.retries) {
            (Some(Some(top)), Some(Some(bottom))) => Some(Some(RetriesPatch {
                max: top.max.or(bottom.max),
                per_try_timeout: top.per_try_timeout.or(bottom.per_try_timeout),
                backoff: top.backoff.or(bottom.backoff),
                max_backoff: top.max_backoff.or(bottom.max_backoff),
                jitter: top.jitter.or(bottom.jitter),
                on: top.on.or(bottom.on),
                budget: top.budget.or(bottom.budget),
            })),
            (top, bottom) => top.clone().or_else(|| bottom.clone()),
        };
        PolicyPatch {
            balancer: self.balancer.or(base.balancer),
            timeout: self.timeout.or(base.timeout),
            retries,
            circuit_breaker: self
                .circuit_breaker
                .clone()
                .or_else(|| base.circuit_breaker.clone()),
            outlier_detection: self
                .outlier_detection
                .clone()
                .or_else(|| base.outlier_detection.clone()),
            deadline_propagation: self.deadline_propagation.or(base.deadline_propagation),
            max_requests: self.max_requests.or(base.max_requests),
            hedge: self.hedge.or(base.hedge),
            max_connections: self.max_connections.or(base.max_connections),
            max_pending: self.max_pending.or(base.max_pending),
            zone_aware: self.zone_aware.clone().or_else(|| base.zone_aware.clone()),
            balancer_at: self.balancer.and(self.balancer_at).or(base.balancer_at),
            health_check: self.health_check.or(base.health_check),
        }
    }

    /// The policy with defaults filled in ([`CallPolicy::default`]; a `retries` block defaults to
    /// Envoy's one retry). Reports `backoff > max_backoff` at whichever of the two was written.
    pub fn resolve(&self, ctx: &mut Ctx<'_>) -> CallPolicy {
        let defaults = CallPolicy::default();
        let mut retries = RetryPolicy::default();
        if let Some(Some(patch)) = &self.retries {
            retries.max_retries = patch.max.unwrap_or(1);
            retries.per_try_timeout = patch.per_try_timeout.flatten();
            if let Some((backoff, _)) = patch.backoff {
                retries.backoff = backoff;
            }
            if let Some((max_backoff, _)) = patch.max_backoff {
                retries.max_backoff = max_backoff;
            }
            if let Some(jitter) = patch.jitter {
                retries.jitter = jitter;
            }
            if let Some((on, lost_in_crash)) = patch.on {
                retries.retry_on = on;
                retries.retry_lost_in_crash = lost_in_crash;
            }
            retries.budget = patch.budget.flatten().map(|ratio| RetryBudget {
                ratio,
                ttl: 10_000_000_000,
                min_per_second: 10.0,
            });
            if retries.backoff > retries.max_backoff {
                let offset = patch
                    .backoff
                    .or(patch.max_backoff)
                    .map_or(0, |(_, offset)| offset);
                ctx.error_at(
                    offset,
                    format!(
                        "retries: backoff ({}) must not exceed max_backoff ({})",
                        format_ns(retries.backoff),
                        format_ns(retries.max_backoff)
                    ),
                );
            }
        }
        let balancer = self.balancer.unwrap_or(defaults.balancer);
        let zone_aware = self.zone_aware.clone().and_then(|(policy, _)| policy);
        if zone_aware.is_some() && balancer.is_consistent_hash() {
            // Envoy layers zone-aware routing only over balancers that pick among hosts; a
            // consistent hash picks by the request's key.
            let offset = self
                .zone_aware
                .as_ref()
                .map_or(0, |(_, offset)| *offset)
                .max(self.balancer_at.unwrap_or(0));
            ctx.error_at(
                offset,
                format!(
                    "zone_aware does not apply to balancer \"{}\": a consistent hash picks by the \
                     request's key, not by zone (as in Envoy); use random, round_robin, \
                     weighted_round_robin, least_request, p2c or peak_ewma",
                    balancer.name()
                ),
            );
        }
        CallPolicy {
            balancer,
            timeout: self.timeout.unwrap_or(defaults.timeout),
            retries,
            circuit_breaker: self.circuit_breaker.clone().flatten(),
            outlier_detection: self.outlier_detection.clone().flatten(),
            deadline_propagation: self.deadline_propagation.unwrap_or(false),
            max_requests: self.max_requests.flatten(),
            hedge: self.hedge.flatten(),
            max_connections: self.max_connections.flatten(),
            max_pending: self.max_pending.flatten(),
            zone_aware,
            health_check: self.health_check.flatten(),
        }
    }
}

/// Reads a policy table; `what` names it in messages (`[policy]`, `[service.policy]`).
pub(crate) fn read_policy(ctx: &mut Ctx<'_>, node: &Node, what: &str) -> PolicyPatch {
    let mut patch = PolicyPatch::default();
    let Some(fields) = ctx.table(node, what, keys_of::<PolicyTable>()) else {
        return patch;
    };
    if let Some(node) = fields.get("deadline_propagation") {
        patch.deadline_propagation = ctx.boolean(node, "deadline_propagation");
    }
    for (key, min, limit) in [
        ("max_requests", 1, &mut patch.max_requests),
        ("max_connections", 1, &mut patch.max_connections),
        ("max_pending", 0, &mut patch.max_pending),
    ] {
        if let Some(node) = fields.get(key) {
            *limit = ctx.limit_or_off(node, key, |ctx, node| {
                ctx.integer(node, key, min, i64::from(u32::MAX))
                    .map(|v| v as u32)
            });
        }
    }
    if let Some(node) = fields.get("hedge") {
        patch.hedge = read_or_off(ctx, node, "hedge", read_hedge);
    }
    if let Some(node) = fields.get("health_check") {
        patch.health_check = read_or_off(
            ctx,
            node,
            "health_check",
            super::governance::read_health_check,
        );
    }
    if let Some(node) = fields.get("circuit_breaker") {
        patch.circuit_breaker = read_or_off(ctx, node, "circuit_breaker", read_circuit_breaker);
    }
    if let Some(node) = fields.get("outlier_detection") {
        patch.outlier_detection =
            read_or_off(ctx, node, "outlier_detection", read_outlier_detection);
    }
    if let Some(node) = fields.get("balancer") {
        patch.balancer = ctx.choice(node, "balancer", &BALANCERS, &[]);
        patch.balancer_at = Some(node.pos());
    }
    if let Some(node) = fields.get("zone_aware") {
        patch.zone_aware = read_zone_aware(ctx, node).map(|policy| (policy, node.pos()));
    }
    if let Some(node) = fields.get("timeout") {
        patch.timeout = ctx.positive_duration(node, "timeout");
    }
    if let Some(node) = fields.get("retries") {
        patch.retries = read_or_off(ctx, node, "retries", read_retries);
    }
    patch
}

/// A mechanism written as its table (read by `read`) or as `false` (switched off):
/// `Some(None)` for `false`, `None` when nothing usable was written (reported).
pub(crate) fn read_or_off<T>(
    ctx: &mut Ctx<'_>,
    node: &Node,
    what: &str,
    read: impl FnOnce(&mut Ctx<'_>, &Node) -> Option<T>,
) -> Option<Option<T>> {
    match ctx.table_or_off(node, what)? {
        Some(table) => read(ctx, table).map(Some),
        None => Some(None),
    }
}

/// Reads `zone_aware = true | false | { min_cluster_size = N }` (Envoy's default 6).
fn read_zone_aware(ctx: &mut Ctx<'_>, node: &Node) -> Option<Option<ZoneAwarePolicy>> {
    if let super::raw::Value::Boolean(enabled) = node.value {
        return Some(enabled.then_some(ZoneAwarePolicy {
            min_cluster_size: DEFAULT_MIN_CLUSTER_SIZE,
        }));
    }
    if !matches!(node.value, super::raw::Value::Table(_)) {
        ctx.error(
            node,
            format!(
                "zone_aware must be true, false or a table like {{ min_cluster_size = 6 }}, found {}",
                node.kind()
            ),
        );
        return None;
    }
    let fields = ctx.table(node, "zone_aware", &ZONE_AWARE_KEYS)?;
    let mut policy = ZoneAwarePolicy {
        min_cluster_size: DEFAULT_MIN_CLUSTER_SIZE,
    };
    if let Some(node) = fields.get("min_cluster_size") {
        policy.min_cluster_size = ctx
            .integer(node, "min_cluster_size", 0, i64::from(u32::MAX))
            .map(|v| v as u32)?;
    }
    Some(Some(policy))
}

fn read_retries(ctx: &mut Ctx<'_>, node: &Node) -> Option<RetriesPatch> {
    let fields = ctx.table(node, "retries", keys_of::<RetriesTable>())?;
    let mut patch = RetriesPatch::default();
    if let Some(node) = fields.get("budget") {
        patch.budget = ctx.limit_or_off(node, "retries budget", |ctx, node| {
            ctx.fraction(node, "retries budget")
        });
    }
    if let Some(node) = fields.get("max") {
        patch.max = ctx
            .integer(node, "retries max", 0, super::limits::MAX_RETRIES as i64)
            .and_then(|v| u32::try_from(v).ok());
    }
    if let Some(node) = fields.get("per_try_timeout") {
        patch.per_try_timeout = ctx.limit_or_off(node, "per_try_timeout", |ctx, node| {
            ctx.positive_duration(node, "per_try_timeout")
        });
    }
    if let Some(node) = fields.get("backoff") {
        patch.backoff = ctx.duration(node, "backoff").map(|ns| (ns, node.pos()));
    }
    if let Some(node) = fields.get("max_backoff") {
        patch.max_backoff = ctx.duration(node, "max_backoff").map(|ns| (ns, node.pos()));
    }
    if let Some(node) = fields.get("jitter") {
        patch.jitter = ctx.choice(node, "jitter", &JITTERS, &[]);
    }
    if let Some(node) = fields.get("on") {
        if let Some(items) = ctx.array(node, "retries on") {
            let (mut on, mut lost_in_crash) = ([false; 6], false);
            for item in items {
                match ctx.choice(item, "retry outcome", &RETRY_ON, &[]) {
                    Some(Some(outcome)) => {
                        on[outcome.index()] = true;
                        lost_in_crash |= outcome == Outcome::Refused;
                    }
                    Some(None) => on[Outcome::Refused.index()] = true,
                    None => {}
                }
            }
            patch.on = Some((on, lost_in_crash));
        }
    }
    Some(patch)
}

/// Reads `hedge = { after = "50ms", max = 1 }`: `after` is required, `max` defaults to 1.
fn read_hedge(ctx: &mut Ctx<'_>, node: &Node) -> Option<HedgePolicy> {
    let fields = ctx.table(node, "hedge", &HEDGE_KEYS)?;
    let errors_before = ctx.error_count();
    let after = ctx
        .required(&fields, "after")
        .and_then(|node| ctx.positive_duration(node, "hedge after"));
    let max = match fields.get("max") {
        Some(node) => ctx
            .integer(node, "hedge max", 1, i64::from(MAX_HEDGES))
            .map(|v| v as u32),
        None => Some(1),
    };
    if ctx.error_count() != errors_before {
        return None;
    }
    Some(HedgePolicy {
        after: after?,
        max: max?,
    })
}

/// Reads `circuit_breaker = { ... }`; unset keys take resilience4j's defaults. `window` is a
/// number of calls (count-based) or a duration (time-based).
fn read_circuit_breaker(ctx: &mut Ctx<'_>, node: &Node) -> Option<CircuitBreakerPolicy> {
    let fields = ctx.table(node, "circuit_breaker", keys_of::<CircuitBreakerTable>())?;
    let mut policy = CircuitBreakerPolicy {
        failure_rate: 0.5,
        slow_call_rate: 1.0,
        slow_call_duration: 60_000_000_000,
        window: BreakerWindow::Calls(100),
        min_calls: 100,
        open_for: 60_000_000_000,
        half_open_calls: 10,
    };
    let errors_before = ctx.error_count();
    if let Some(node) = fields.get("failure_rate") {
        policy.failure_rate = ctx
            .fraction(node, "failure_rate")
            .unwrap_or(policy.failure_rate);
    }
    if let Some(node) = fields.get("slow_call_rate") {
        policy.slow_call_rate = ctx.fraction(node, "slow_call_rate").unwrap_or(1.0);
    }
    if let Some(node) = fields.get("slow_call_duration") {
        policy.slow_call_duration = ctx
            .positive_duration(node, "slow_call_duration")
            .unwrap_or(policy.slow_call_duration);
    }
    if let Some(node) = fields.get("window") {
        policy.window = match node.value {
            super::raw::Value::Integer(_) => ctx
                .integer(node, "window", 1, 1_000_000)
                .map_or(policy.window, |calls| BreakerWindow::Calls(calls as u32)),
            _ => match ctx.positive_duration(node, "window") {
                Some(span) if span > super::limits::MAX_COUNTER_SPAN => {
                    ctx.error(
                        node,
                        "a time-based window is at most 1h (one counter per second is kept per \
                         client); for longer memory use a count-based window",
                    );
                    policy.window
                }
                span => span.map_or(policy.window, BreakerWindow::Time),
            },
        };
    }
    if let Some(node) = fields.get("min_calls") {
        policy.min_calls = ctx
            .integer(node, "min_calls", 1, 1_000_000)
            .map_or(policy.min_calls, |v| v as u32);
    }
    if let Some(node) = fields.get("open_for") {
        policy.open_for = ctx
            .positive_duration(node, "open_for")
            .unwrap_or(policy.open_for);
    }
    if let Some(node) = fields.get("half_open_calls") {
        policy.half_open_calls = ctx
            .integer(node, "half_open_calls", 1, 1_000_000)
            .map_or(policy.half_open_calls, |v| v as u32);
    }
    (ctx.error_count() == errors_before).then_some(policy)
}

/// Reads `outlier_detection = { ... }`; unset keys take Envoy's defaults.
fn read_outlier_detection(ctx: &mut Ctx<'_>, node: &Node) -> Option<OutlierPolicy> {
    let fields = ctx.table(
        node,
        "outlier_detection",
        keys_of::<OutlierDetectionTable>(),
    )?;
    let mut policy = OutlierPolicy {
        consecutive_errors: 5,
        interval: 10_000_000_000,
        base_ejection: 30_000_000_000,
        max_ejection_time: 300_000_000_000,
        max_ejection: 0.1,
        enforcing: 1.0,
    };
    let errors_before = ctx.error_count();
    if let Some(node) = fields.get("enforcing") {
        policy.enforcing = ctx.fraction(node, "enforcing").unwrap_or(policy.enforcing);
    }
    if let Some(node) = fields.get("consecutive_errors") {
        policy.consecutive_errors = ctx
            .integer(node, "consecutive_errors", 1, 1_000_000)
            .map_or(policy.consecutive_errors, |v| v as u32);
    }
    if let Some(node) = fields.get("interval") {
        policy.interval = ctx
            .period(node, "outlier_detection interval", false)
            .unwrap_or(policy.interval);
    }
    if let Some(node) = fields.get("base_ejection") {
        policy.base_ejection = ctx
            .positive_duration(node, "base_ejection")
            .unwrap_or(policy.base_ejection);
    }
    if let Some(node) = fields.get("max_ejection_time") {
        policy.max_ejection_time = ctx
            .positive_duration(node, "max_ejection_time")
            .unwrap_or(policy.max_ejection_time);
    }
    if let Some(node) = fields.get("max_ejection") {
        policy.max_ejection = ctx
            .fraction(node, "max_ejection")
            .unwrap_or(policy.max_ejection);
    }
    (ctx.error_count() == errors_before).then_some(policy)
}
