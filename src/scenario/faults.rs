//! `[[fault]]` tables: injected failures, their timing, kind and target replicas.
//!
//! Targets: `"svc#i"` one replica, `"svc#i..j"` an inclusive range, `"svc"` every replica,
//! `"zone:a"` every replica (of every service) in zone `a`. A `partition` has no target; its
//! `between` names two sides, each `"zone:x"` or a list of those.

use super::calls::Directory;
use super::context::Ctx;
use super::file::{keys_of, FaultTable};
use super::raw::{Node, Value};
use super::suggest::did_you_mean;
use crate::model::{Fault, FaultKind, ReplicaRef, Service};

const KINDS: [&str; 7] = [
    "crash",
    "hang",
    "slow",
    "errors",
    "latency",
    "partition",
    "registry_outage",
];
/// Fault kinds people write for a change of load, which is not a fault in meshsim but a
/// workload's `schedule`.
const LOAD_CHANGES: [&str; 10] = [
    "spike",
    "surge",
    "burst",
    "load",
    "load_spike",
    "traffic",
    "traffic_spike",
    "ramp",
    "flood",
    "overload",
];

/// Points a load change written as a fault to `schedule`; empty for other kinds.
fn load_change_hint(kind: &str) -> &'static str {
    let word = kind.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    if LOAD_CHANGES.contains(&word.as_str()) {
        ". A change of load is not a fault: give the workload a schedule, e.g. \
         schedule = [{ at = \"60s\", rate = 500 }, { at = \"90s\", rate = 100 }] in its \
         [[workload]] (docs/scenario.md, \"[[workload]]\")"
    } else {
        ""
    }
}

/// Keys that only one kind takes.
const KIND_KEYS: [(&str, &str); 4] = [
    ("factor", "slow"),
    ("rate", "errors"),
    ("add", "latency"),
    ("between", "partition"),
];

/// What fault targets are resolved against.
pub(crate) struct Targets<'a> {
    /// The model services, indexed like the directory's.
    pub services: &'a [Service],
    /// Service names.
    pub directory: &'a Directory,
    /// Zone names.
    pub zones: &'a [String],
}

/// Reads every `[[fault]]` (none is fine).
pub(crate) fn read_faults(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    targets: &Targets<'_>,
) -> Vec<Fault> {
    let Some(node) = node else { return Vec::new() };
    let Some(items) = ctx.tables(node, "[[fault]]") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| read_fault(ctx, item, targets))
        .collect()
}

fn read_fault(ctx: &mut Ctx<'_>, node: &Node, targets: &Targets<'_>) -> Option<Fault> {
    let errors_before = ctx.error_count();
    let fields = ctx.table(node, "[[fault]]", keys_of::<FaultTable>())?;
    let at = ctx
        .required(&fields, "at")
        .and_then(|n| ctx.duration(n, "at"));
    let length = fields
        .get("for")
        .and_then(|n| ctx.positive_duration(n, "for").map(|ns| (ns, n)));
    let kind_name = ctx
        .required(&fields, "kind")
        .and_then(|n| ctx.string(n, "kind").map(|k| (k, n)));
    let kind_name = match kind_name {
        Some((kind, _)) if KINDS.contains(&kind) => Some(kind),
        Some((kind, n)) => {
            ctx.error(
                n,
                format!(
                    "unknown fault kind \"{kind}\": expected one of {}{}{}",
                    KINDS.join(", "),
                    did_you_mean(kind, KINDS),
                    load_change_hint(kind)
                ),
            );
            None
        }
        None => None,
    };
    if let Some(kind) = kind_name {
        for (key, owner) in KIND_KEYS {
            if owner == kind {
                continue;
            }
            if let Some(entry) = fields.entry(key) {
                ctx.error_at(
                    entry.key_span.start,
                    format!("\"{key}\" does not apply to a {kind} fault (it belongs to kind = \"{owner}\")"),
                );
            }
        }
    }
    let target = match (kind_name, fields.entry("target")) {
        (Some("partition"), Some(entry)) => {
            ctx.error_at(
                entry.key_span.start,
                "a partition has no target: it cuts the zones named in between",
            );
            None
        }
        (Some("partition"), None) => Some((String::new(), Vec::new())),
        (Some("registry_outage"), Some(entry)) => {
            ctx.error_at(
                entry.key_span.start,
                "a registry_outage has no target: it freezes the whole registry",
            );
            None
        }
        (Some("registry_outage"), None) => Some(("registry".to_string(), Vec::new())),
        (_, Some(entry)) => ctx
            .string(&entry.node, "target")
            .and_then(|t| resolve_target(ctx, &entry.node, t, targets).map(|r| (t.to_string(), r))),
        (Some(_), None) => {
            ctx.required(&fields, "target");
            None
        }
        (None, None) => None,
    };
    let kind = match kind_name {
        Some("crash") => Some(FaultKind::Crash),
        Some("hang") => Some(FaultKind::Hang),
        Some("slow") => ctx
            .required(&fields, "factor")
            .and_then(|n| ctx.positive(n, "factor"))
            .map(|factor| FaultKind::Slow { factor }),
        Some("errors") => ctx
            .required(&fields, "rate")
            .and_then(|n| ctx.fraction(n, "rate"))
            .map(|rate| FaultKind::Errors { rate }),
        Some("latency") => ctx
            .required(&fields, "add")
            .and_then(|n| ctx.duration(n, "add"))
            .map(|add| FaultKind::Latency { add }),
        Some("registry_outage") => Some(FaultKind::RegistryOutage),
        Some(_) => ctx
            .required(&fields, "between")
            .and_then(|n| read_partition(ctx, n, targets.zones)),
        None => None,
    };
    let (Some(at), Some(kind), Some((mut label, mut replicas))) = (at, kind, target) else {
        return None;
    };
    replicas.sort_unstable();
    replicas.dedup();
    let until = match length {
        Some((ns, n)) => match at.checked_add(ns) {
            Some(until) => Some(until),
            None => {
                ctx.error(n, "at + for is too large");
                None
            }
        },
        None => None,
    };
    if let FaultKind::Partition { side_a, side_b } = &kind {
        let side = |zones: &[usize]| -> String {
            zones
                .iter()
                .map(|&z| format!("zone:{}", targets.zones[z]))
                .collect::<Vec<_>>()
                .join("+")
        };
        label = format!("{} | {}", side(side_a), side(side_b));
    }
    if ctx.error_count() > errors_before {
        return None;
    }
    Some(Fault {
        at,
        until,
        kind,
        target_label: label,
        replicas,
    })
}

/// The replicas a target string names (sorted, without duplicates).
fn resolve_target(
    ctx: &mut Ctx<'_>,
    node: &Node,
    target: &str,
    targets: &Targets<'_>,
) -> Option<Vec<ReplicaRef>> {
    if let Some(zone) = target.strip_prefix("zone:") {
        let Some(z) = targets.zones.iter().position(|name| name == zone) else {
            ctx.error_at(node.pos_in(5), unknown_zone(zone, targets.zones));
            return None;
        };
        let mut replicas = Vec::new();
        for (service, s) in targets.services.iter().enumerate() {
            for (index, &replica_zone) in s.replica_zones.iter().enumerate() {
                if replica_zone == z {
                    replicas.push(ReplicaRef { service, index });
                }
            }
        }
        return Some(replicas);
    }
    let (service_name, range) = match target.split_once('#') {
        Some((service, range)) => (service, Some(range)),
        None => (target, None),
    };
    let Some(service) = targets.directory.service(service_name) else {
        let names: Vec<&str> = targets.directory.service_names().collect();
        ctx.error(
            node,
            format!(
                "unknown service \"{service_name}\" in fault target \"{target}\": expected a service, \
                 \"svc#i\", \"svc#i..j\" or \"zone:NAME\"{}",
                did_you_mean(service_name, names.iter().copied())
            ),
        );
        return None;
    };
    let count = targets.services.get(service).map_or(0, Service::slots);
    let Some(range) = range else {
        return Some(
            (0..count)
                .map(|index| ReplicaRef { service, index })
                .collect(),
        );
    };
    let range_pos = node.pos_in(service_name.len() + 1);
    let parse = |text: &str| text.trim().parse::<usize>().ok();
    let bounds = match range.split_once("..") {
        Some((first, last)) => parse(first).zip(parse(last)),
        None => parse(range).map(|i| (i, i)),
    };
    let Some((first, last)) = bounds else {
        ctx.error_at(
            range_pos,
            format!("expected a replica index like \"{service_name}#0\" or an inclusive range like \"{service_name}#0..2\", found \"{range}\""),
        );
        return None;
    };
    if first > last {
        ctx.error_at(
            range_pos,
            format!("replica range {first}..{last} is empty: the first index is after the last"),
        );
        return None;
    }
    if last >= count {
        ctx.error_at(
            range_pos,
            format!(
                "replica {last} is out of range: service \"{service_name}\" has {count} replica{} (indices 0..{})",
                if count == 1 { "" } else { "s" },
                count.saturating_sub(1)
            ),
        );
        return None;
    }
    Some(
        (first..=last)
            .map(|index| ReplicaRef { service, index })
            .collect(),
    )
}

fn unknown_zone(zone: &str, zones: &[String]) -> String {
    format!(
        "unknown zone \"{zone}\": expected one of {} (the zones services are in){}",
        zones.join(", "),
        did_you_mean(zone, zones.iter().map(String::as_str))
    )
}

/// `between = ["zone:a", "zone:b"]` (each side may also be a list of zones).
fn read_partition(ctx: &mut Ctx<'_>, node: &Node, zones: &[String]) -> Option<FaultKind> {
    let sides = ctx.array(node, "between")?;
    if sides.len() != 2 {
        ctx.error(
            node,
            format!(
                "between must name two sides, like [\"zone:a\", \"zone:b\"]; found {}",
                sides.len()
            ),
        );
        return None;
    }
    let side_a = read_side(ctx, &sides[0], zones);
    let side_b = read_side(ctx, &sides[1], zones);
    let (side_a, side_b) = (side_a?, side_b?);
    if let Some(&shared) = side_a.iter().find(|z| side_b.contains(z)) {
        ctx.error(
            &sides[1],
            format!(
                "zone \"{}\" is on both sides of the partition",
                zones[shared]
            ),
        );
        return None;
    }
    Some(FaultKind::Partition { side_a, side_b })
}

fn read_side(ctx: &mut Ctx<'_>, node: &Node, zones: &[String]) -> Option<Vec<usize>> {
    let items: Vec<&Node> = match &node.value {
        Value::Array(items) if !items.is_empty() => items.iter().collect(),
        Value::Array(_) => {
            ctx.error(node, "a side of a partition needs at least one zone");
            return None;
        }
        _ => vec![node],
    };
    let mut side = Vec::new();
    for item in items {
        let zone = ctx.string(item, "a partition side")?;
        let Some(name) = zone.strip_prefix("zone:") else {
            ctx.error(
                item,
                format!("expected \"zone:NAME\", found \"{zone}\" (write \"zone:{zone}\")"),
            );
            return None;
        };
        let Some(z) = zones.iter().position(|known| known == name) else {
            ctx.error_at(item.pos_in(5), unknown_zone(name, zones));
            return None;
        };
        if !side.contains(&z) {
            side.push(z);
        }
    }
    side.sort_unstable();
    Some(side)
}
