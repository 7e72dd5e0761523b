//! `[policy]` and `[service.policy]`: balancer, timeout and retries of calls.
//!
//! Both are read into a [`PolicyPatch`] whose fields are all optional; a service's patch is
//! merged key by key over the global one (and `retries` field by field) before defaults are
//! applied. Governance keys are recognised and refused as "not supported yet".

use super::context::Ctx;
use super::duration::format_ns;
use super::fields::PLANNED;
use super::raw::Node;
use crate::model::{BalancerKind, CallPolicy, Jitter, Outcome, RetryPolicy};

const POLICY_KEYS: [&str; 8] = [
    "balancer",
    "timeout",
    "retries",
    "circuit_breaker",
    "outlier_detection",
    "health_check",
    "hedge",
    "deadline_propagation",
];
const GOVERNANCE_KEYS: [&str; 4] = [
    "circuit_breaker",
    "outlier_detection",
    "health_check",
    "hedge",
];
const RETRY_KEYS: [&str; 7] = [
    "max",
    "per_try_timeout",
    "backoff",
    "max_backoff",
    "jitter",
    "on",
    "budget",
];

const BALANCERS: [(&str, BalancerKind); 5] = [
    ("random", BalancerKind::Random),
    ("round_robin", BalancerKind::RoundRobin),
    ("weighted_round_robin", BalancerKind::WeightedRoundRobin),
    ("least_request", BalancerKind::LeastRequest),
    ("p2c", BalancerKind::PowerOfTwoChoices),
];
const UNSUPPORTED_BALANCERS: [&str; 3] = ["peak_ewma", "ring_hash", "maglev"];

const JITTERS: [(&str, Jitter); 3] = [
    ("full", Jitter::Full),
    ("equal", Jitter::Equal),
    ("none", Jitter::None),
];

/// Outcomes a retry may be triggered by (`circuit_open` is accepted for forward compatibility).
const RETRY_ON: [(&str, Outcome); 5] = [
    ("timeout", Outcome::Timeout),
    ("refused", Outcome::Refused),
    ("error", Outcome::Error),
    ("rejected", Outcome::Rejected),
    ("circuit_open", Outcome::CircuitOpen),
];

/// A duration as read, with the byte offset it was written at.
type At<T> = Option<(T, usize)>;

/// The keys one policy table sets; unset keys come from the table it is merged over.
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyPatch {
    balancer: Option<BalancerKind>,
    timeout: Option<u64>,
    retries: Option<RetriesPatch>,
}

/// The keys one `retries` table sets.
#[derive(Debug, Clone, Default)]
struct RetriesPatch {
    max: Option<u32>,
    per_try_timeout: Option<u64>,
    backoff: At<u64>,
    max_backoff: At<u64>,
    jitter: Option<Jitter>,
    on: Option<[bool; 6]>,
}

impl PolicyPatch {
    /// `self` over `base`: every key `self` sets wins; `retries` are merged field by field.
    pub fn over(&self, base: &PolicyPatch) -> PolicyPatch {
        let retries = match (&self.retries, &base.retries) {
            (Some(top), Some(bottom)) => Some(RetriesPatch {
                max: top.max.or(bottom.max),
                per_try_timeout: top.per_try_timeout.or(bottom.per_try_timeout),
                backoff: top.backoff.or(bottom.backoff),
                max_backoff: top.max_backoff.or(bottom.max_backoff),
                jitter: top.jitter.or(bottom.jitter),
                on: top.on.or(bottom.on),
            }),
            (top, bottom) => top.clone().or_else(|| bottom.clone()),
        };
        PolicyPatch {
            balancer: self.balancer.or(base.balancer),
            timeout: self.timeout.or(base.timeout),
            retries,
        }
    }

    /// The policy with defaults filled in ([`CallPolicy::default`]; a `retries` block defaults to
    /// Envoy's one retry). Reports `backoff > max_backoff` at whichever of the two was written.
    pub fn resolve(&self, ctx: &mut Ctx<'_>) -> CallPolicy {
        let defaults = CallPolicy::default();
        let mut retries = RetryPolicy::default();
        if let Some(patch) = &self.retries {
            retries.max_retries = patch.max.unwrap_or(1);
            retries.per_try_timeout = patch.per_try_timeout;
            if let Some((backoff, _)) = patch.backoff {
                retries.backoff = backoff;
            }
            if let Some((max_backoff, _)) = patch.max_backoff {
                retries.max_backoff = max_backoff;
            }
            if let Some(jitter) = patch.jitter {
                retries.jitter = jitter;
            }
            if let Some(on) = patch.on {
                retries.retry_on = on;
            }
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
        CallPolicy {
            balancer: self.balancer.unwrap_or(defaults.balancer),
            timeout: self.timeout.unwrap_or(defaults.timeout),
            retries,
        }
    }
}

/// Reads a policy table; `what` names it in messages (`[policy]`, `[service.policy]`).
pub(crate) fn read_policy(ctx: &mut Ctx<'_>, node: &Node, what: &str) -> PolicyPatch {
    let mut patch = PolicyPatch::default();
    let Some(fields) = ctx.table(node, what, &POLICY_KEYS) else {
        return patch;
    };
    for key in GOVERNANCE_KEYS {
        ctx.unsupported_key(&fields, key);
    }
    if let Some(node) = fields.get("deadline_propagation") {
        if ctx.boolean(node, "deadline_propagation") == Some(true) {
            ctx.error(node, format!("deadline_propagation = true {PLANNED}"));
        }
    }
    if let Some(node) = fields.get("balancer") {
        patch.balancer = ctx.choice(node, "balancer", &BALANCERS, &UNSUPPORTED_BALANCERS);
    }
    if let Some(node) = fields.get("timeout") {
        patch.timeout = ctx.positive_duration(node, "timeout");
    }
    if let Some(node) = fields.get("retries") {
        patch.retries = read_retries(ctx, node);
    }
    patch
}

fn read_retries(ctx: &mut Ctx<'_>, node: &Node) -> Option<RetriesPatch> {
    let fields = ctx.table(node, "retries", &RETRY_KEYS)?;
    ctx.unsupported_key(&fields, "budget");
    let mut patch = RetriesPatch::default();
    if let Some(node) = fields.get("max") {
        patch.max = ctx
            .integer(node, "retries max", 0, i64::from(u32::MAX))
            .and_then(|v| u32::try_from(v).ok());
    }
    if let Some(node) = fields.get("per_try_timeout") {
        patch.per_try_timeout = ctx.positive_duration(node, "per_try_timeout");
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
            let mut on = [false; 6];
            for item in items {
                if let Some(outcome) = ctx.choice(item, "retry outcome", &RETRY_ON, &[]) {
                    on[outcome.index()] = true;
                }
            }
            patch.on = Some(on);
        }
    }
    Some(patch)
}
