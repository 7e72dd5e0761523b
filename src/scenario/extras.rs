//! `[slo]` and `[compare]`: checked here and turned into [`Slo`] and [`CompareSpec`] (used by the
//! SLO report of `meshsim run` and by `meshsim compare`).

use std::collections::HashMap;

use super::context::Ctx;
use super::file::{keys_of, LatencyTargets, SloTable};
use super::raw::{Node, Value};
use crate::model::{CompareAxis, CompareSpec, Place, Slo};

/// Reads `[slo]`: `availability` in [0, 1], `latency` a table of percentile durations. `None`
/// when a problem was reported.
pub(crate) fn read_slo(ctx: &mut Ctx<'_>, node: &Node) -> Option<Slo> {
    let fields = ctx.table(node, "[slo]", keys_of::<SloTable>())?;
    let before = ctx.error_count();
    let availability = fields
        .get("availability")
        .and_then(|n| ctx.fraction(n, "availability"));
    let mut latency = Vec::new();
    if let Some(n) = fields.get("latency") {
        if let Some(table) = ctx.table(n, "slo latency", keys_of::<LatencyTargets>()) {
            for entry in table.entries() {
                let Some(quantile) = Slo::quantile_of(&entry.key) else {
                    continue;
                };
                if let Some(nanos) = ctx.positive_duration(&entry.node, &entry.key) {
                    latency.push((quantile, nanos));
                }
            }
        }
    }
    latency.sort_by(|a, b| a.0.total_cmp(&b.0));
    (ctx.error_count() == before).then_some(Slo {
        availability,
        latency,
    })
}

/// Reads `[compare]`: `replications` a positive integer, every other key a dotted key (as
/// `--set` takes it) that may be varied ([`super::check_axis_key`]) with a non-empty list of
/// distinct values to try; no key may be varied twice, nor inside another varied key. `None`
/// when a problem was reported.
pub(crate) fn read_compare(ctx: &mut Ctx<'_>, node: &Node) -> Option<CompareSpec> {
    let Value::Table(entries) = &node.value else {
        ctx.error(
            node,
            format!("[compare] must be a table, found {}", node.kind()),
        );
        return None;
    };
    let before = ctx.error_count();
    let mut spec = CompareSpec::default();
    // The keys varied so far: their segments, the key, and where it is.
    let mut varied: Vec<(Vec<String>, String, Place)> = Vec::new();
    for entry in entries {
        if entry.key == "replications" {
            spec.replications = ctx
                .integer(
                    &entry.node,
                    "replications",
                    1,
                    super::limits::MAX_REPLICATIONS as i64,
                )
                .map(|n| n as u32);
            continue;
        }
        let named = format!("[compare] {}", super::quoted_key(&entry.key));
        if let Value::Table(inner) = &entry.node.value {
            // `policy.balancer = [...]` unquoted (or a `[compare.policy]` table): TOML reads
            // the first segment as a table, and only quoting makes the whole a key of [compare].
            let dotted = first_leaf(&entry.key, inner);
            ctx.error_at(
                entry.key_span.start,
                format!(
                    "[compare] {dotted}: a dotted key must be quoted in [compare], like \
                     \"{dotted}\" = [...] (unquoted, TOML reads {} as a table)",
                    entry.key
                ),
            );
            continue;
        }
        if toml_edit::Key::parse(&entry.key).is_err() {
            ctx.error_at(
                entry.key_span.start,
                format!(
                    "{named} is not a dotted key like \"policy.balancer\" or \"service.api.workers\""
                ),
            );
            continue;
        }
        let path = match super::check_axis_key(&entry.key) {
            Ok(path) => path,
            Err(message) => {
                ctx.error_at(entry.key_span.start, format!("{named}: {message}"));
                continue;
            }
        };
        let place = ctx.place(entry.key_span.start);
        if let Some((other_path, other, other_at)) = varied
            .iter()
            .find(|(other, _, _)| other.starts_with(&path) || path.starts_with(other))
        {
            let message = if *other_path == path {
                format!(
                    "{named} varies the same setting as {} {}: give all its values in one key",
                    super::quoted_key(other),
                    short_place(other_at, false)
                )
            } else {
                let (inner, outer) = if path.len() > other_path.len() {
                    (entry.key.as_str(), other.as_str())
                } else {
                    (other.as_str(), entry.key.as_str())
                };
                format!(
                    "{named} overlaps {} {}: {inner} is part of {outer}, and a variant would set \
                     one over the other; vary {outer} with whole values, or {inner} alone",
                    super::quoted_key(other),
                    short_place(other_at, false)
                )
            };
            ctx.error_at(entry.key_span.start, message);
            continue;
        }
        varied.push((path, entry.key.clone(), place.clone()));
        let Some(values) = ctx.array(&entry.node, &named) else {
            continue;
        };
        if values.is_empty() {
            ctx.error(&entry.node, format!("{named} needs at least one value"));
            continue;
        }
        // Each value's canonical text, and its index.
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut axis = CompareAxis {
            key: entry.key.clone(),
            key_at: place,
            ..CompareAxis::default()
        };
        for value in values {
            let Some(text) = override_text(value) else {
                ctx.error(
                    value,
                    format!(
                        "{named}: {} is not a value a scenario can hold",
                        value.kind()
                    ),
                );
                continue;
            };
            let written = written_text(ctx.text(), value, &text);
            let canonical = super::canonical_value(&text);
            let at = ctx.place(value.pos());
            if let Some(&first) = seen.get(&canonical) {
                ctx.error(
                    value,
                    format!(
                        "{named}: {written} is listed twice (first {}): the two variants would \
                         be the same run",
                        short_place(&axis.values_at[first], true)
                    ),
                );
                continue;
            }
            seen.insert(canonical, axis.values.len());
            axis.values.push(text);
            axis.written.push(written);
            axis.values_at.push(at);
        }
        spec.axes.push(axis);
    }
    (ctx.error_count() == before).then_some(spec)
}

/// Where something else of the same `[compare]` is, briefly: `on line 12`, or with its column
/// `at 12:22`; `in --set ...` when a `--set` wrote it.
fn short_place(place: &Place, with_column: bool) -> String {
    match place.line {
        0 => format!("in {}", place.file),
        line if with_column => format!("at {line}:{}", place.column),
        line => format!("on line {line}"),
    }
}

/// The dotted key of the first value below a table that was meant as one key of `[compare]`:
/// `policy.balancer` for `policy.balancer = [...]` written unquoted.
fn first_leaf(key: &str, entries: &[super::raw::Entry]) -> String {
    let mut dotted = key.to_string();
    let mut entries = entries;
    while let Some(first) = entries.first() {
        dotted.push('.');
        dotted.push_str(&first.key);
        match &first.node.value {
            Value::Table(inner) => entries = inner,
            _ => break,
        }
    }
    dotted
}

/// A value of `[compare]` as the user wrote it, for messages (`"p2c"`, `0x10`); its `--set` text
/// `text` when it spans lines.
fn written_text(source: &str, node: &Node, text: &str) -> String {
    match source.get(node.span.clone()) {
        Some(written) if !written.is_empty() && !written.contains('\n') => written.to_string(),
        _ => text.to_string(),
    }
}

/// The text to write after `key=` in a `--set` so that the override sets exactly this value: a
/// string that `--set` would read back as the same string stays bare (`p2c`, `30s`); anything
/// else is written as TOML (`64`, `0.5`, `"true"`, `["a", "b"]`). `None` for a date-time.
pub(crate) fn override_text(node: &Node) -> Option<String> {
    if let Value::String { text, .. } = &node.value {
        let reads_back_bare = !text.is_empty()
            && text.trim() == text
            && !text.contains('\n')
            && text.parse::<toml_edit::Value>().is_err();
        if reads_back_bare {
            return Some(text.clone());
        }
    }
    toml_value(node).map(|value| value.to_string())
}

/// The node as a `toml_edit` value (`None` for a date-time).
fn toml_value(node: &Node) -> Option<toml_edit::Value> {
    Some(match &node.value {
        Value::String { text, .. } => toml_edit::Value::from(text.as_str()),
        Value::Integer(value) => toml_edit::Value::from(*value),
        Value::Float(value) => toml_edit::Value::from(*value),
        Value::Boolean(value) => toml_edit::Value::from(*value),
        Value::Datetime => return None,
        Value::Array(items) => {
            let values = items.iter().map(toml_value).collect::<Option<Vec<_>>>()?;
            toml_edit::Value::Array(values.into_iter().collect())
        }
        Value::Table(entries) => {
            let mut table = toml_edit::InlineTable::new();
            for entry in entries {
                table.insert(&entry.key, toml_value(&entry.node)?);
            }
            toml_edit::Value::InlineTable(table)
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Model, Slo};
    use crate::scenario::{load_str, Override};
    use std::path::Path;

    const BASE: &str = "[scenario]\nname = \"x\"\nduration = \"10s\"\n\
        [[service]]\nname = \"api\"\nservice_time = \"exp(1ms)\"\n\
        [[workload]]\nname = \"load\"\ntarget = \"api\"\nrate = 10\n";

    fn load(extra: &str) -> Result<Model, String> {
        load_str(&format!("{BASE}{extra}"), "x.toml", Path::new("."), &[])
            .map_err(|e| e.to_string())
    }

    #[test]
    fn slo_is_read_with_sorted_quantiles() {
        let model =
            load("[slo]\navailability = 0.999\nlatency = { p999 = \"1s\", p50 = \"10ms\" }\n")
                .expect("valid");
        assert_eq!(
            model.slo,
            Some(Slo {
                availability: Some(0.999),
                latency: vec![(0.5, 10_000_000), (0.999, 1_000_000_000)]
            })
        );
        assert_eq!(load("").expect("valid").slo, None);
        assert!(load("[slo]\navailability = 2\n").is_err());
        assert!(load("[slo]\nlatency = { p42 = \"1s\" }\n").is_err());
    }

    #[test]
    fn compare_values_are_kept_as_override_text() {
        let model = load(
            "[compare]\n\"policy.balancer\" = [\"round_robin\", \"p2c\"]\n\
             \"service.api.workers\" = [1, 2]\n\"policy.timeout\" = [\"1s\", \"true\"]\n\
             \"scenario.warmup\" = [\" 1s\"]\nreplications = 4\n",
        )
        .expect("valid");
        let spec = model.compare.expect("a [compare] table");
        let axes: Vec<(&str, Vec<&str>)> = spec
            .axes
            .iter()
            .map(|a| {
                (
                    a.key.as_str(),
                    a.values.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            axes,
            [
                ("policy.balancer", vec!["round_robin", "p2c"]),
                ("service.api.workers", vec!["1", "2"]),
                ("policy.timeout", vec!["1s", "\"true\""]),
                ("scenario.warmup", vec!["\" 1s\""]),
            ]
        );
        assert_eq!(spec.replications, Some(4));
        // Where each key and value was written, and the values as written, for messages.
        let balancer = &spec.axes[0];
        assert_eq!(balancer.key_at.to_string(), "x.toml:12:1");
        assert_eq!(balancer.written, ["\"round_robin\"", "\"p2c\""]);
        let at: Vec<String> = balancer.values_at.iter().map(ToString::to_string).collect();
        assert_eq!(at, ["x.toml:12:22", "x.toml:12:37"]);
        // Each text, fed back as --set, sets the same value.
        let o = Override::parse(&format!("service.api.workers={}", spec.axes[1].values[1]))
            .expect("parses");
        let model = load_str(BASE, "x.toml", Path::new("."), &[o]).expect("valid");
        assert_eq!(model.services[0].workers, 2);
        assert!(load("[compare]\n\"policy.balancer\" = []\n").is_err());
        assert!(load("[compare]\nreplications = 0\n").is_err());
        assert!(load("[compare]\n\"a..b\" = [1]\n").is_err());
    }

    #[test]
    fn compare_refuses_what_cannot_be_an_axis() {
        for (table, message) in [
            (
                "\"compare.replications\" = [1, 2]",
                "x.toml:12:1: [compare] \"compare.replications\": the replications are not a setting",
            ),
            ("\"scenario.seed\" = [1, 2]", "the seed cannot be varied"),
            ("\"scenario.name\" = [\"a\", \"b\"]", "the name changes nothing"),
            (
                "\"policy.balancer\" = [\"p2c\", 'p2c']",
                "x.toml:12:29: [compare] \"policy.balancer\": 'p2c' is listed twice (first at 12:22)",
            ),
            (
                "\"service.api.workers\" = [1]\n\"service . api.workers\" = [2]",
                "x.toml:13:1: [compare] \"service . api.workers\" varies the same setting as \
                 \"service.api.workers\" on line 12",
            ),
            (
                "\"policy.retries.max\" = [1]\n\"policy.retries\" = [false]",
                "policy.retries.max is part of policy.retries",
            ),
            (
                "policy.balancer = [\"p2c\"]",
                "x.toml:12:1: [compare] policy.balancer: a dotted key must be quoted",
            ),
        ] {
            let error = load(&format!("[compare]\n{table}\n")).expect_err(table);
            assert!(error.contains(message), "{table}:\n{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
    }
}
