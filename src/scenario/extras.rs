//! `[slo]` and `[compare]`: checked here and turned into [`Slo`] and [`CompareSpec`] (used by the
//! SLO report of `meshsim run` and by `meshsim compare`).

use super::context::Ctx;
use super::file::{keys_of, LatencyTargets, SloTable};
use super::raw::{Node, Value};
use crate::model::{CompareSpec, Slo};

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
/// `--set` takes it) with a non-empty list of the values to try. `None` when a problem was
/// reported.
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
        if toml_edit::Key::parse(&entry.key).is_err() {
            ctx.error_at(
                entry.key_span.start,
                format!(
                    "compare \"{}\" is not a dotted key like \"policy.balancer\" or \"service.api.workers\"",
                    entry.key
                ),
            );
            continue;
        }
        if let Err(message) = super::check_key(&entry.key) {
            ctx.error_at(
                entry.key_span.start,
                format!("compare \"{}\": {message}", entry.key),
            );
            continue;
        }
        let Some(values) = ctx.array(&entry.node, &format!("compare \"{}\"", entry.key)) else {
            continue;
        };
        if values.is_empty() {
            ctx.error(
                &entry.node,
                format!("compare \"{}\" needs at least one value", entry.key),
            );
            continue;
        }
        let mut texts = Vec::with_capacity(values.len());
        for value in values {
            match override_text(value) {
                Some(text) => texts.push(text),
                None => ctx.error(
                    value,
                    format!(
                        "compare \"{}\": {} is not a value a scenario can hold",
                        entry.key,
                        value.kind()
                    ),
                ),
            }
        }
        spec.axes.push((entry.key.clone(), texts));
    }
    (ctx.error_count() == before).then_some(spec)
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
    use crate::model::{CompareSpec, Model, Slo};
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
        assert_eq!(
            spec,
            CompareSpec {
                axes: vec![
                    (
                        "policy.balancer".into(),
                        vec!["round_robin".into(), "p2c".into()]
                    ),
                    ("service.api.workers".into(), vec!["1".into(), "2".into()]),
                    (
                        "policy.timeout".into(),
                        vec!["1s".into(), "\"true\"".into()]
                    ),
                    ("scenario.warmup".into(), vec!["\" 1s\"".into()]),
                ],
                replications: Some(4),
            }
        );
        // Each text, fed back as --set, sets the same value.
        let o =
            Override::parse(&format!("service.api.workers={}", spec.axes[1].1[1])).expect("parses");
        let model = load_str(BASE, "x.toml", Path::new("."), &[o]).expect("valid");
        assert_eq!(model.services[0].workers, 2);
        assert!(load("[compare]\n\"policy.balancer\" = []\n").is_err());
        assert!(load("[compare]\nreplications = 0\n").is_err());
        assert!(load("[compare]\n\"a..b\" = [1]\n").is_err());
    }
}
