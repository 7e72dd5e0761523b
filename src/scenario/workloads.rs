//! `[[workload]]` tables: who sends requests into the system, at which endpoint, how often.
//!
//! Open workloads (`poisson`, `constant`) need `rate` (> 0, requests per second) and may have a
//! `schedule`; closed workloads need `users` and may have `think_time`. Keys of the other family
//! are refused rather than ignored, so that a `rate` on a closed workload does not silently do
//! nothing.

use std::collections::HashMap;

use super::calls::{resolve_at, Directory};
use super::context::Ctx;
use super::raw::{Node, Value};
use super::suggest::did_you_mean;
use crate::model::{Arrival, Dist, RateChange, Workload, DEFAULT_KEY_SPACE};

const WORKLOAD_KEYS: [&str; 9] = [
    "name",
    "target",
    "arrival",
    "rate",
    "users",
    "think_time",
    "schedule",
    "zone",
    "key_space",
];
const SCHEDULE_KEYS: [&str; 3] = ["at", "rate", "ramp"];

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Poisson,
    Constant,
    Closed,
}

const ARRIVALS: [(&str, Family); 3] = [
    ("poisson", Family::Poisson),
    ("constant", Family::Constant),
    ("closed", Family::Closed),
];

/// Reads every `[[workload]]`; at least one is required.
pub(crate) fn read_workloads(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    directory: &Directory,
    zones: &[String],
) -> Vec<Workload> {
    let Some(node) = node else {
        ctx.error_at(
            0,
            "no [[workload]]: nothing would send requests (add one with a target and a rate)",
        );
        return Vec::new();
    };
    let Value::Array(items) = &node.value else {
        ctx.error(
            node,
            format!(
                "workload must be written as [[workload]] tables, found {}",
                node.kind()
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        ctx.error(node, "no [[workload]]: nothing would send requests");
    }
    let mut workloads = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let Some((workload, name_pos)) = read_workload(ctx, item, index, directory, zones) else {
            continue;
        };
        if let Some(first) = seen.get(&workload.name) {
            let line = ctx.line_of(*first);
            ctx.error_at(
                name_pos,
                format!(
                    "duplicate workload name \"{}\" (first defined on line {line})",
                    workload.name
                ),
            );
            continue;
        }
        seen.insert(workload.name.clone(), name_pos);
        workloads.push(workload);
    }
    workloads
}

fn read_workload(
    ctx: &mut Ctx<'_>,
    node: &Node,
    index: usize,
    directory: &Directory,
    zones: &[String],
) -> Option<(Workload, usize)> {
    let errors_before = ctx.error_count();
    let fields = ctx.table(node, "[[workload]]", &WORKLOAD_KEYS)?;
    let (name, name_pos) = match fields.get("name") {
        Some(n) => (ctx.name(n, "workload name").map(str::to_string), n.pos()),
        None => (Some(format!("workload-{}", index + 1)), node.pos()),
    };
    let target = ctx
        .required(&fields, "target")
        .and_then(|n| ctx.string(n, "target").map(|t| (n, t)))
        .and_then(|(n, t)| resolve_at(ctx, directory, n, t, "workload target"));
    let family = match fields.get("arrival") {
        Some(n) => ctx.choice(n, "arrival", &ARRIVALS, &[]),
        None => Some(Family::Poisson),
    };
    let zone = fields.get("zone").and_then(|n| read_zone(ctx, n, zones));
    let key_space = fields
        .get("key_space")
        .and_then(|n| ctx.integer(n, "key_space", 1, i64::MAX))
        .map_or(DEFAULT_KEY_SPACE, |v| v as u64);

    let mut rate = 0.0;
    let mut schedule = Vec::new();
    let arrival = match family {
        Some(Family::Closed) => {
            for key in ["rate", "schedule"] {
                if let Some(entry) = fields.entry(key) {
                    ctx.error_at(
                        entry.key_span.start,
                        format!("\"{key}\" does not apply to arrival = \"closed\" (its load is set by users and think_time)"),
                    );
                }
            }
            let users = ctx
                .required(&fields, "users")
                .and_then(|n| ctx.integer(n, "users", 1, i64::from(u32::MAX)))
                .map_or(1, |u| u as u32);
            let think_time = match fields.get("think_time") {
                Some(n) => ctx.dist(n, "think_time").unwrap_or(Dist::Const(0.0)),
                None => Dist::Const(0.0),
            };
            Arrival::Closed { users, think_time }
        }
        open => {
            for key in ["users", "think_time"] {
                if let Some(entry) = fields.entry(key) {
                    ctx.error_at(
                        entry.key_span.start,
                        format!("\"{key}\" only applies to arrival = \"closed\" (an open workload's load is set by rate)"),
                    );
                }
            }
            if let Some(r) = ctx
                .required(&fields, "rate")
                .and_then(|n| ctx.positive(n, "rate"))
            {
                rate = r;
            }
            if let Some(n) = fields.get("schedule") {
                schedule = read_schedule(ctx, n);
            }
            if open == Some(Family::Constant) {
                Arrival::Constant
            } else {
                Arrival::Poisson
            }
        }
    };
    if ctx.error_count() > errors_before {
        return None;
    }
    let workload = Workload {
        name: name?,
        target: target?,
        arrival,
        rate,
        schedule,
        zone,
        key_space,
    };
    Some((workload, name_pos))
}

/// A zone name (`"a"` or `"zone:a"`) that some service uses.
fn read_zone(ctx: &mut Ctx<'_>, node: &Node, zones: &[String]) -> Option<usize> {
    let written = ctx.string(node, "zone")?;
    let name = written.strip_prefix("zone:").unwrap_or(written);
    let found = zones.iter().position(|z| z == name);
    if found.is_none() {
        ctx.error(
            node,
            format!(
                "unknown zone \"{name}\": expected one of {} (the zones services are in){}",
                zones.join(", "),
                did_you_mean(name, zones.iter().map(String::as_str))
            ),
        );
    }
    found
}

fn read_schedule(ctx: &mut Ctx<'_>, node: &Node) -> Vec<RateChange> {
    let Some(items) = ctx.array(node, "schedule") else {
        return Vec::new();
    };
    let mut changes: Vec<RateChange> = Vec::new();
    for item in items {
        let Some(fields) = ctx.table(item, "a schedule entry", &SCHEDULE_KEYS) else {
            continue;
        };
        let at_node = ctx.required(&fields, "at");
        let at = at_node.and_then(|n| ctx.duration(n, "at"));
        let rate = ctx
            .required(&fields, "rate")
            .and_then(|n| ctx.number(n, "rate"));
        if let (Some(rate), Some(n)) = (rate, fields.get("rate")) {
            if rate < 0.0 {
                ctx.error(n, format!("rate must not be negative, found {rate}"));
            }
        }
        let ramp = match fields.get("ramp") {
            Some(n) => ctx.duration(n, "ramp"),
            None => Some(0),
        };
        let (Some(at), Some(rate), Some(ramp), Some(at_node)) = (at, rate, ramp, at_node) else {
            continue;
        };
        if changes.last().is_some_and(|previous| previous.at > at) {
            ctx.error(
                at_node,
                "schedule must be sorted by \"at\": this entry starts before the one above it",
            );
        }
        changes.push(RateChange {
            at,
            rate: rate.max(0.0),
            ramp,
        });
    }
    changes
}
