//! `[slo]` and `[compare]`: checked for shape and types here, used elsewhere (they are not part
//! of the [`crate::model::Model`]).

use super::context::Ctx;
use super::raw::Node;

const SLO_KEYS: [&str; 2] = ["availability", "latency"];
const PERCENTILES: [&str; 4] = ["p50", "p90", "p99", "p999"];

/// Checks `[slo]`: `availability` in [0, 1], `latency` a table of percentile durations.
pub(crate) fn check_slo(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(fields) = ctx.table(node, "[slo]", &SLO_KEYS) else {
        return;
    };
    if let Some(n) = fields.get("availability") {
        ctx.fraction(n, "availability");
    }
    if let Some(n) = fields.get("latency") {
        if let Some(latency) = ctx.table(n, "slo latency", &PERCENTILES) {
            for entry in latency.entries() {
                if PERCENTILES.contains(&entry.key.as_str()) {
                    ctx.positive_duration(&entry.node, &entry.key);
                }
            }
        }
    }
}

/// Checks `[compare]`: `replications` a positive integer, every other key a non-empty list of the
/// values to try.
pub(crate) fn check_compare(ctx: &mut Ctx<'_>, node: &Node) {
    let super::raw::Value::Table(entries) = &node.value else {
        ctx.error(
            node,
            format!("[compare] must be a table, found {}", node.kind()),
        );
        return;
    };
    for entry in entries {
        if entry.key == "replications" {
            ctx.integer(&entry.node, "replications", 1, i64::from(u32::MAX));
        } else if let Some(values) = ctx.array(&entry.node, &format!("compare \"{}\"", entry.key)) {
            if values.is_empty() {
                ctx.error(
                    &entry.node,
                    format!("compare \"{}\" needs at least one value", entry.key),
                );
            }
        }
    }
}
