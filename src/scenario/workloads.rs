//! `[[workload]]` tables: who sends requests into the system, at which endpoint, how often.
//!
//! Open workloads (`poisson`, `constant`) need `rate` (> 0, requests per second) and may have a
//! `schedule`; closed workloads need `users` and may have `think_time`; trace workloads need
//! `trace` (a CSV file, see [`super::trace`]). Keys of the other families are refused rather than
//! ignored, so that a `rate` on a closed workload does not silently do nothing.

use std::collections::HashMap;

use super::calls::{resolve_at, Directory};
use super::context::Ctx;
use super::fields::Fields;
use super::file::{keys_of, ScheduleEntry, WorkloadTable};
use super::limits;
use super::raw::Node;
use super::suggest::did_you_mean;
use super::trace::read_trace;
use crate::model::{Arrival, Dist, RateChange, Workload, DEFAULT_KEY_SPACE};

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Poisson,
    Constant,
    Closed,
    Trace,
}

const ARRIVALS: [(&str, Family); 4] = [
    ("poisson", Family::Poisson),
    ("constant", Family::Constant),
    ("closed", Family::Closed),
    ("trace", Family::Trace),
];

/// Keys that belong to one arrival family only, with the family's description for messages.
const FAMILY_KEYS: [(&str, &str); 5] = [
    ("rate", "open loops (poisson, constant)"),
    ("schedule", "open loops (poisson, constant)"),
    ("users", "arrival = \"closed\""),
    ("think_time", "arrival = \"closed\""),
    ("trace", "arrival = \"trace\""),
];

/// Reads every `[[workload]]`; at least one is required. `duration` (nanoseconds; `None` when
/// `[scenario]` has a problem) bounds the rows read from trace files.
pub(crate) fn read_workloads(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    directory: &Directory,
    zones: &[String],
    duration: Option<u64>,
) -> Vec<Workload> {
    let Some(node) = node else {
        ctx.error_at(
            0,
            "no [[workload]]: nothing would send requests (add one with a target and a rate)",
        );
        return Vec::new();
    };
    let Some(items) = ctx.tables(node, "[[workload]]") else {
        return Vec::new();
    };
    if items.is_empty() {
        ctx.error(node, "no [[workload]]: nothing would send requests");
    }
    let mut workloads = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let read = read_workload(ctx, item, index, (directory, zones, duration));
        let Some((workload, name_pos)) = read else {
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

/// What a workload refers to: the endpoints, the zones and the run's duration.
type Surroundings<'a> = (&'a Directory, &'a [String], Option<u64>);

fn read_workload(
    ctx: &mut Ctx<'_>,
    node: &Node,
    index: usize,
    (directory, zones, duration): Surroundings<'_>,
) -> Option<(Workload, usize)> {
    let errors_before = ctx.error_count();
    let fields = ctx.table(node, "[[workload]]", keys_of::<WorkloadTable>())?;
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
    if let Some(family) = family {
        refuse_other_families(ctx, &fields, family);
    }

    let mut rate = 0.0;
    let mut schedule = Vec::new();
    let arrival = match family {
        Some(Family::Trace) => {
            let trace_node = ctx.required(&fields, "trace");
            let trace = trace_node.zip(duration).and_then(|(n, duration)| {
                let path = ctx.string(n, "trace")?;
                let full = ctx.base_dir().join(path);
                let limit = limits::MAX_TRACE_BYTES;
                if let Err(problem) = limits::check_input_file(&full, limit, "trace file") {
                    ctx.error(n, problem);
                    return None;
                }
                match read_trace(&full, duration, directory) {
                    Ok(trace) => Some(trace),
                    Err(problems) => {
                        for problem in problems {
                            ctx.error(n, format!("trace {}: {problem}", full.display()));
                        }
                        None
                    }
                }
            });
            trace.map(Arrival::Trace)?
        }
        Some(Family::Closed) => {
            let users = ctx
                .required(&fields, "users")
                .and_then(|n| ctx.integer(n, "users", 1, limits::MAX_USERS as i64))
                .map_or(1, |u| u as u32);
            let think_time = match fields.get("think_time") {
                Some(n) => ctx.dist(n, "think_time").unwrap_or(Dist::Const(0.0)),
                None => Dist::Const(0.0),
            };
            Arrival::Closed { users, think_time }
        }
        open => {
            if let Some(n) = ctx.required(&fields, "rate") {
                if let Some(r) = ctx.positive(n, "rate") {
                    rate = r;
                    check_rate(ctx, n, r);
                }
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

/// Reports the keys of `fields` that belong to another arrival family than `family`.
fn refuse_other_families(ctx: &mut Ctx<'_>, fields: &Fields<'_>, family: Family) {
    let own: &[&str] = match family {
        Family::Poisson | Family::Constant => &["rate", "schedule"],
        Family::Closed => &["users", "think_time"],
        Family::Trace => &["trace"],
    };
    let arrival = ARRIVALS
        .iter()
        .find(|(_, f)| *f == family)
        .map_or("?", |(name, _)| *name);
    for (key, owner) in FAMILY_KEYS {
        if own.contains(&key) {
            continue;
        }
        if let Some(entry) = fields.entry(key) {
            ctx.error_at(
                entry.key_span.start,
                format!("\"{key}\" only applies to {owner}, not to arrival = \"{arrival}\""),
            );
        }
    }
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

/// Reports a rate above [`limits::MAX_RATE`].
fn check_rate(ctx: &mut Ctx<'_>, node: &Node, rate: f64) {
    if rate > limits::MAX_RATE {
        ctx.error(
            node,
            format!(
                "rate {rate} is more than the limit of {} requests per second per workload",
                limits::MAX_RATE
            ),
        );
    }
}

fn read_schedule(ctx: &mut Ctx<'_>, node: &Node) -> Vec<RateChange> {
    let Some(items) = ctx.array(node, "schedule") else {
        return Vec::new();
    };
    let mut changes: Vec<RateChange> = Vec::new();
    for item in items {
        let Some(fields) = ctx.table(item, "a schedule entry", keys_of::<ScheduleEntry>()) else {
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
            check_rate(ctx, n, rate);
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
