//! `[[alert]]` tables: burn-rate rules on the `[slo]` error budget and latency rules, each
//! checked against the window they are evaluated on.

use super::context::Ctx;
use super::duration::format_ns;
use super::file::{keys_of, AlertTable};
use super::raw::Node;
use super::suggest::did_you_mean;
use crate::model::{AlertKind, AlertRule, Slo};

const KINDS: [&str; 2] = ["burn_rate", "latency"];
/// Keys that only one kind takes.
const KIND_KEYS: [(&str, &str); 6] = [
    ("long", "burn_rate"),
    ("short", "burn_rate"),
    ("burn", "burn_rate"),
    ("percentile", "latency"),
    ("above", "latency"),
    ("window", "latency"),
];

/// Reads every `[[alert]]` (none is fine). `window` is the scenario's window (the evaluation
/// interval; `None` when `[scenario]` was unusable) and `slo` its `[slo]`, which a burn-rate
/// rule takes its availability target from.
pub(crate) fn read_alerts(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    window: Option<u64>,
    slo: Option<&Slo>,
) -> Vec<AlertRule> {
    let Some(node) = node else { return Vec::new() };
    let Some(items) = ctx.tables(node, "[[alert]]") else {
        return Vec::new();
    };
    let mut rules: Vec<AlertRule> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(rule) = read_alert(ctx, item, index, window, slo) {
            if rules.iter().any(|r| r.name == rule.name) {
                ctx.error(
                    item,
                    format!("two [[alert]] tables are named \"{}\"", rule.name),
                );
                continue;
            }
            rules.push(rule);
        }
    }
    rules
}

fn read_alert(
    ctx: &mut Ctx<'_>,
    node: &Node,
    index: usize,
    window: Option<u64>,
    slo: Option<&Slo>,
) -> Option<AlertRule> {
    let errors_before = ctx.error_count();
    let fields = ctx.table(node, "[[alert]]", keys_of::<AlertTable>())?;
    let name = match fields.get("name") {
        Some(n) => ctx.name(n, "alert name").map(str::to_string),
        None => Some(format!("alert_{index}")),
    };
    let kind_node = ctx.required(&fields, "kind");
    let kind = kind_node.and_then(|n| Some((ctx.string(n, "kind")?, n)));
    let kind = match kind {
        Some((kind, _)) if KINDS.contains(&kind) => Some(kind),
        Some((kind, n)) => {
            ctx.error(
                n,
                format!(
                    "unknown alert kind \"{kind}\": expected one of {}{}",
                    KINDS.join(", "),
                    did_you_mean(kind, KINDS)
                ),
            );
            None
        }
        None => None,
    };
    if let Some(kind) = kind {
        for (key, owner) in KIND_KEYS {
            if owner == kind {
                continue;
            }
            if let Some(entry) = fields.entry(key) {
                ctx.error_at(
                    entry.key_span.start,
                    format!("\"{key}\" does not apply to a {kind} alert (it belongs to kind = \"{owner}\")"),
                );
            }
        }
    }
    let hold = match fields.get("for") {
        Some(n) => ctx.duration(n, "for"),
        None => Some(0),
    };
    // A look-back must cover whole windows: the rule is evaluated on the windows' counts, and
    // its PromQL twin's range then starts exactly on a sample.
    let look_back = |ctx: &mut Ctx<'_>, key: &str| -> Option<u64> {
        let n = ctx.required(&fields, key)?;
        let nanos = ctx.positive_duration(n, key)?;
        check_whole_windows(ctx, n, key, nanos, window)
    };
    let kind = match kind {
        Some("burn_rate") => {
            let long = look_back(ctx, "long");
            let short = match fields.get("short") {
                Some(n) => ctx
                    .positive_duration(n, "short")
                    .and_then(|nanos| check_whole_windows(ctx, n, "short", nanos, window))
                    .map(Some),
                None => Some(None),
            };
            if let (Some(long), Some(Some(short)), Some(n)) = (long, short, fields.get("short")) {
                if short >= long {
                    ctx.error(
                        n,
                        format!(
                            "short ({}) must be shorter than long ({})",
                            format_ns(short),
                            format_ns(long)
                        ),
                    );
                }
            }
            let burn = ctx.required(&fields, "burn").and_then(|n| {
                let burn = ctx.positive(n, "burn")?;
                Some(burn)
            });
            let availability = match slo.and_then(|s| s.availability) {
                Some(target) if target < 1.0 => Some(target),
                Some(_) => {
                    ctx.error(
                        node,
                        "a burn_rate alert needs an error budget, and [slo] availability = 1 \
                         leaves none",
                    );
                    None
                }
                None => {
                    ctx.error(
                        node,
                        "a burn_rate alert burns the error budget of [slo] availability, and the \
                         scenario has none: add [slo] availability = 0.999 (for example)",
                    );
                    None
                }
            };
            match (long, short, burn, availability) {
                (Some(long), Some(short), Some(burn), Some(availability)) => {
                    Some(AlertKind::BurnRate {
                        long,
                        short,
                        burn,
                        availability,
                    })
                }
                _ => None,
            }
        }
        Some("latency") => {
            let quantile = ctx.required(&fields, "percentile").and_then(|n| {
                let percentile = ctx.number(n, "percentile")?;
                if percentile > 0.0 && percentile < 100.0 {
                    Some(percentile / 100.0)
                } else {
                    ctx.error(
                        n,
                        format!("percentile must be in (0, 100), found {percentile}"),
                    );
                    None
                }
            });
            let above = ctx
                .required(&fields, "above")
                .and_then(|n| ctx.positive_duration(n, "above"));
            let look = look_back(ctx, "window");
            match (quantile, above, look) {
                (Some(quantile), Some(above), Some(window)) => Some(AlertKind::Latency {
                    quantile,
                    above,
                    window,
                }),
                _ => None,
            }
        }
        _ => None,
    };
    if ctx.error_count() > errors_before {
        return None;
    }
    Some(AlertRule {
        name: name?,
        kind: kind?,
        hold: hold?,
    })
}

/// `nanos` if it is a whole number of windows, else a positioned problem.
fn check_whole_windows(
    ctx: &mut Ctx<'_>,
    node: &Node,
    key: &str,
    nanos: u64,
    window: Option<u64>,
) -> Option<u64> {
    match window {
        Some(window) if !nanos.is_multiple_of(window) => {
            ctx.error(
                node,
                format!(
                    "{key} ({}) must be a whole number of [scenario] windows ({}): alerts are \
                     evaluated on the windows' counts",
                    format_ns(nanos),
                    format_ns(window)
                ),
            );
            None
        }
        _ => Some(nanos),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{AlertKind, Model};

    fn load(extra: &str) -> Result<Model, String> {
        let text = format!(
            "[scenario]\nname = \"t\"\nduration = \"60s\"\nwindow = \"5s\"\n[[service]]\nname = \"s\"\n\
             service_time = \"const(1ms)\"\n[[workload]]\nname = \"w\"\ntarget = \"s\"\nrate = 10\n{extra}"
        );
        crate::scenario::load_str(&text, "t.toml", std::path::Path::new("."), &[])
            .map_err(|e| e.to_string())
    }

    #[test]
    fn burn_rate_and_latency_rules_are_read() {
        let model = load(
            "[slo]\navailability = 0.999\n\
             [[alert]]\nname = \"page\"\nkind = \"burn_rate\"\nlong = \"60s\"\nshort = \"5s\"\nburn = 14.4\n\
             [[alert]]\nkind = \"latency\"\npercentile = 99\nabove = \"200ms\"\nwindow = \"10s\"\nfor = \"20s\"\n",
        )
        .expect("valid");
        assert_eq!(model.alerts.len(), 2);
        assert_eq!(model.alerts[0].name, "page");
        assert_eq!(
            model.alerts[0].kind,
            AlertKind::BurnRate {
                long: 60_000_000_000,
                short: Some(5_000_000_000),
                burn: 14.4,
                availability: 0.999
            }
        );
        assert_eq!(model.alerts[1].name, "alert_1");
        assert_eq!(model.alerts[1].hold, 20_000_000_000);
        assert_eq!(
            model.alerts[1].kind,
            AlertKind::Latency {
                quantile: 0.99,
                above: 200_000_000,
                window: 10_000_000_000
            }
        );
    }

    #[test]
    fn bad_rules_are_positioned_errors() {
        let no_slo = load("[[alert]]\nkind = \"burn_rate\"\nlong = \"60s\"\nburn = 2\n")
            .expect_err("no [slo]");
        assert!(no_slo.contains("t.toml:12:") && no_slo.contains("[slo] availability"));
        let partial = load(
            "[slo]\navailability = 0.99\n[[alert]]\nkind = \"burn_rate\"\nlong = \"7s\"\nburn = 2\n",
        )
        .expect_err("not whole windows");
        assert!(partial.contains("t.toml:16:8") && partial.contains("whole number"));
        let wrong_key = load("[[alert]]\nkind = \"latency\"\npercentile = 99\nabove = \"1s\"\nwindow = \"5s\"\nburn = 3\n")
            .expect_err("burn on latency");
        assert!(wrong_key.contains("does not apply to a latency alert"));
        let order = load(
            "[slo]\navailability = 0.99\n[[alert]]\nkind = \"burn_rate\"\nlong = \"5s\"\nshort = \"10s\"\nburn = 2\n",
        )
        .expect_err("short longer than long");
        assert!(order.contains("must be shorter than long"));
        let kind = load("[[alert]]\nkind = \"burnrate\"\n").expect_err("unknown kind");
        assert!(kind.contains("did you mean") || kind.contains("burn_rate"));
        let percentile = load(
            "[[alert]]\nkind = \"latency\"\npercentile = 100\nabove = \"1s\"\nwindow = \"5s\"\n",
        )
        .expect_err("percentile 100");
        assert!(percentile.contains("(0, 100)"));
    }
}
