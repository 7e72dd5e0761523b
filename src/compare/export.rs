//! A [`Comparison`] as files and text: `comparison.csv` (one row per variant and metric),
//! `comparison.md` (tables to paste into a design document), `replications.csv` (one row per
//! replication) and the terminal table.

use super::replicate::METRICS;
use super::results::{Comparison, MetricResult, VariantResult};
use crate::report::format::metric_decimals;
use std::fmt::Write;

/// `comparison.csv`: one row per variant and metric: the variant, one column per axis with its
/// value, the metric and unit, mean and interval, paired difference to the baseline and its
/// interval, and whether the difference is significant. Empty cells: no interval (one
/// replication).
pub fn comparison_csv(comparison: &Comparison) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = vec!["variant".into(), "slug".into(), "baseline".into()];
    header.extend(comparison.axes.iter().map(|axis| axis.key.clone()));
    header.extend(
        [
            "metric",
            "unit",
            "mean",
            "ci_low",
            "ci_high",
            "diff_mean",
            "diff_ci_low",
            "diff_ci_high",
            "significant",
        ]
        .map(String::from),
    );
    let _ = writer.write_record(&header);
    for variant in &comparison.variants {
        for metric in &comparison.metrics {
            let Some(result) = variant.metrics.get(&metric.name) else {
                continue;
            };
            let mut row: Vec<String> = vec![
                variant.name.clone(),
                variant.slug.clone(),
                variant.baseline.to_string(),
            ];
            row.extend(variant.overrides.iter().map(|s| s.value.clone()));
            row.extend([
                metric.name.clone(),
                metric.unit.clone(),
                result.mean.to_string(),
                optional(result.ci_low),
                optional(result.ci_high),
                result.diff_mean.to_string(),
                optional(result.diff_ci_low),
                optional(result.diff_ci_high),
                result.significant.to_string(),
            ]);
            let _ = writer.write_record(&row);
        }
    }
    finish_csv(writer)
}

/// `replications.csv`: one row per variant and replication, with its seed, offered and
/// succeeded requests, every metric, and whether it met the SLO (empty without `[slo]`).
pub fn replications_csv(comparison: &Comparison) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "variant",
        "slug",
        "replication",
        "seed",
        "offered",
        "succeeded",
    ]
    .map(String::from)
    .to_vec();
    header.extend(comparison.metrics.iter().map(|m| m.name.clone()));
    header.push("slo_met".into());
    let _ = writer.write_record(&header);
    for variant in &comparison.variants {
        for replication in &variant.replications {
            let mut row = vec![
                variant.name.clone(),
                variant.slug.clone(),
                replication.index.to_string(),
                replication.seed.to_string(),
                replication.offered.to_string(),
                replication.succeeded.to_string(),
            ];
            row.extend(comparison.metrics.iter().map(|m| {
                replication
                    .metrics
                    .get(&m.name)
                    .map_or_else(String::new, f64::to_string)
            }));
            row.push(
                replication
                    .slo
                    .as_ref()
                    .map_or_else(String::new, |s| s.met.to_string()),
            );
            let _ = writer.write_record(&row);
        }
    }
    finish_csv(writer)
}

fn finish_csv(writer: csv::Writer<Vec<u8>>) -> String {
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

/// How a metric is shown: a label with its display unit, and the factor from the stored unit.
fn display(name: &str) -> (String, f64) {
    let metric = METRICS.iter().find(|m| m.name == name);
    match metric {
        Some(m) if m.unit == "fraction" => (format!("{} (%)", m.label), 100.0),
        Some(m) if m.unit == m.label => (m.label.to_string(), 1.0),
        Some(m) => (format!("{} ({})", m.label, m.unit), 1.0),
        None => (name.to_string(), 1.0),
    }
}

/// Decimals that show two significant digits of `half_width`, or `fallback` without one.
fn decimals(half_width: Option<f64>, fallback: usize) -> usize {
    match half_width {
        Some(h) if h > 0.0 && h.is_finite() => (1 - h.log10().floor() as i64).clamp(0, 6) as usize,
        _ => fallback,
    }
}

fn half(low: Option<f64>, high: Option<f64>) -> Option<f64> {
    Some((high? - low?) / 2.0)
}

/// `mean ± half-width` (with `sign`, a leading `+` on positive means): the mean with the
/// decimals that show two significant digits of the half-width; a zero-width interval as `± 0`.
/// At least `min_decimals` (enough to tell significantly different means apart).
fn interval_cell(mean: f64, half_width: Option<f64>, sign: bool, min_decimals: usize) -> String {
    let (mean_text, half_text) = match half_width {
        Some(0.0) if min_decimals == 0 => (short(mean), Some("0".to_string())),
        Some(0.0) => (format!("{mean:.min_decimals$}"), Some("0".to_string())),
        Some(h) => {
            let d = decimals(Some(h), 3).max(min_decimals);
            (format!("{mean:.d$}"), Some(format!("{h:.d$}")))
        }
        None => {
            let d = min_decimals.max(3);
            (format!("{mean:.d$}"), None)
        }
    };
    let mean_text = if sign && !mean_text.starts_with('-') {
        format!("+{mean_text}")
    } else {
        mean_text
    };
    match half_text {
        Some(h) => format!("{mean_text} ± {h}"),
        None => mean_text,
    }
}

/// `mean ± half-width`, scaled.
fn mean_cell(result: &MetricResult, scale: f64, min_decimals: usize) -> String {
    interval_cell(
        result.mean * scale,
        half(result.ci_low, result.ci_high).map(|h| h * scale),
        false,
        min_decimals,
    )
}

/// `+diff ± half-width`, scaled; `None` for the baseline.
fn diff_cell(variant: &VariantResult, result: &MetricResult, scale: f64) -> Option<String> {
    if variant.baseline {
        return None;
    }
    let h = half(result.diff_ci_low, result.diff_ci_high).map(|h| h * scale);
    Some(interval_cell(result.diff_mean * scale, h, true, 0))
}

/// Longest column title the terminal table shows as it is, characters.
const LONG_TITLE: usize = 40;

/// The values alone, `p2c, 64` (the variant's name when nothing varies).
fn column_title(variant: &VariantResult) -> String {
    if variant.baseline {
        format!("{} (baseline)", variant.short_label())
    } else {
        variant.short_label()
    }
}

fn headline(comparison: &Comparison) -> String {
    format!(
        "{} variant{} x {} replication{} (seed {}); {}% confidence intervals (Student t); differences paired with the baseline",
        comparison.variants.len(),
        if comparison.variants.len() == 1 { "" } else { "s" },
        comparison.replications,
        if comparison.replications == 1 { "" } else { "s" },
        comparison.seed,
        comparison.confidence * 100.0
    )
}

/// The terminal table: a row per metric, a column per variant; under each metric the paired
/// difference to the baseline, `*` when significant; then the SLO verdicts.
pub fn render_terminal(comparison: &Comparison) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut title = vec!["metric".to_string()];
    // Long labels (inline tables varied whole) get a number and a legend under the table.
    let long = comparison
        .variants
        .iter()
        .any(|v| column_title(v).chars().count() > LONG_TITLE);
    title.extend(comparison.variants.iter().enumerate().map(|(i, v)| {
        if long {
            let suffix = if v.baseline { " (baseline)" } else { "" };
            format!("variant {}{suffix}", i + 1)
        } else {
            column_title(v)
        }
    }));
    rows.push(title);
    for metric in &comparison.metrics {
        let (label, scale) = display(&metric.name);
        let apart = metric_decimals(comparison, &metric.name, scale, 0);
        let mut means = vec![label];
        let mut diffs = vec!["  vs baseline".to_string()];
        for variant in &comparison.variants {
            let Some(result) = variant.metrics.get(&metric.name) else {
                means.push(String::new());
                diffs.push(String::new());
                continue;
            };
            means.push(mean_cell(result, scale, apart));
            diffs.push(
                diff_cell(variant, result, scale)
                    .map(|cell| {
                        if result.significant {
                            format!("{cell} *")
                        } else {
                            format!("{cell}  ")
                        }
                    })
                    .unwrap_or_default(),
            );
        }
        rows.push(means);
        if comparison.variants.len() > 1 {
            rows.push(diffs);
        }
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    let _ = writeln!(text, "{}: {}", comparison.scenario, headline(comparison));
    if !comparison.axes.is_empty() {
        let keys: Vec<&str> = comparison.axes.iter().map(|a| a.key.as_str()).collect();
        let _ = writeln!(text, "varied: {}", keys.join(", "));
    }
    for row in &rows {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c == 0 {
                let _ = write!(line, " {cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(line, "   {}{cell}", " ".repeat(pad));
            }
        }
        let _ = writeln!(text, "{}", line.trim_end());
    }
    if comparison.variants.len() > 1 {
        let _ = writeln!(
            text,
            "  * significant: the difference's interval excludes 0"
        );
    }
    if long {
        for (i, variant) in comparison.variants.iter().enumerate() {
            let _ = writeln!(text, "  variant {}: {}", i + 1, variant.short_label());
        }
    }
    for variant in &comparison.variants {
        if let Some(slo) = &variant.slo {
            let _ = writeln!(
                text,
                "  slo {}: {}",
                column_title(variant),
                slo_text(variant, slo)
            );
        }
    }
    for variant in &comparison.variants {
        for alert in variant.alerts.iter().flatten() {
            let _ = writeln!(
                text,
                "  alert {} {}: {}",
                column_title(variant),
                alert.name,
                alert_text(alert, comparison.replications)
            );
        }
    }
    text
}

/// One alert rule over a variant's replications, in words: when it first fired and resolved,
/// per fault the detection delay and the budget burned before it, the false alarms. Means over
/// the replications, with how many of them each figure comes from.
pub fn alert_text(alert: &super::results::VariantAlert, replications: u32) -> String {
    let mut parts = Vec::new();
    parts.push(match &alert.first_fired_at_s {
        None => format!("never fired ({replications} replication(s))"),
        Some(fired) => {
            let resolved = match &alert.first_resolved_at_s {
                Some(r) if r.n == fired.n => format!(", resolved at {} s", short(r.mean)),
                Some(r) => format!(
                    ", resolved at {} s ({}/{} replications; still firing at the end in the \
                     others)",
                    short(r.mean),
                    r.n,
                    fired.n
                ),
                None => ", still firing at the end".to_string(),
            };
            format!(
                "first fired at {} s ({}/{replications} replications){resolved}",
                short(fired.mean),
                fired.n
            )
        }
    });
    for fault in &alert.faults {
        let detect = match &fault.detection_delay_s {
            Some(delay) => format!(
                "detected {}/{replications} after {} s",
                fault.detected,
                short(delay.mean)
            ),
            None => format!("not detected (0/{replications})"),
        };
        let budget = fault
            .budget_burned_before_firing
            .as_ref()
            .map_or(String::new(), |b| {
                format!(" ({:.1}% of the error budget)", b.mean * 100.0)
            });
        let before = if fault.detection_delay_s.is_some() {
            "failed before"
        } else {
            "failed by the run's end"
        };
        parts.push(format!(
            "fault {}: {detect}, {} {before}{budget}",
            fault.fault,
            short(fault.failed_before_firing_mean)
        ));
    }
    parts.push(format!(
        "false alarms {} per replication",
        short(alert.false_alarms_mean)
    ));
    parts.join("; ")
}

fn slo_text(variant: &VariantResult, slo: &super::results::VariantSlo) -> String {
    let mut parts = vec![format!(
        "{} ({}/{} replications)",
        if slo.met { "met" } else { "NOT met" },
        slo.replications_met,
        variant.replications.len()
    )];
    if let Some(budget) = &slo.error_budget_burned {
        parts.push(format!("error budget burned {:.1}%", budget.mean * 100.0));
    }
    for fault in &slo.faults {
        let detect = fault.time_to_detect_s.map_or_else(
            || "not detected".to_string(),
            |s| format!("detected after {} s", short(s.mean)),
        );
        let since = if fault.ends {
            "after it ended"
        } else {
            "after it started"
        };
        let recover = match fault.time_to_recover_s {
            Some(s) if fault.did_not_recover == 0 => {
                format!("recovered {} s {since}", short(s.mean))
            }
            Some(s) => format!(
                "recovered {} s {since} in {} replication(s), did not recover in {}",
                short(s.mean),
                fault.recovered,
                fault.did_not_recover
            ),
            None => "did not recover".to_string(),
        };
        parts.push(format!(
            "fault {} {} {}: {detect}, {recover}",
            fault.fault, fault.kind, fault.target
        ));
    }
    parts.join("; ")
}

/// A number with at most 3 decimals and no trailing zeros.
fn short(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// `comparison.md`: the means and the paired differences as Markdown tables (bold: significant),
/// the SLO verdicts, and how the numbers were made.
pub fn comparison_md(comparison: &Comparison) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "## Comparison: {}\n", comparison.scenario);
    let _ = write!(text, "{}", headline(comparison));
    if !comparison.axes.is_empty() {
        let keys: Vec<String> = comparison
            .axes
            .iter()
            .map(|a| format!("`{}`", a.key))
            .collect();
        let _ = write!(text, ". Varied: {}", keys.join(", "));
    }
    let _ = writeln!(text, ".\n");
    let titles: Vec<String> = comparison.variants.iter().map(column_title).collect();
    let _ = writeln!(
        text,
        "| metric | {} |",
        titles
            .iter()
            .map(|t| escape(t))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(text, "| --- |{}", " ---: |".repeat(titles.len()));
    for metric in &comparison.metrics {
        let (label, scale) = display(&metric.name);
        let apart = metric_decimals(comparison, &metric.name, scale, 0);
        let cells: Vec<String> = comparison
            .variants
            .iter()
            .map(|v| {
                v.metrics
                    .get(&metric.name)
                    .map_or_else(String::new, |r| mean_cell(r, scale, apart))
            })
            .collect();
        let _ = writeln!(text, "| {label} | {} |", cells.join(" | "));
    }
    let others: Vec<&VariantResult> = comparison.variants.iter().filter(|v| !v.baseline).collect();
    if !others.is_empty() {
        let _ = writeln!(
            text,
            "\nDifference to the baseline ({}), replication by replication; **bold**: significant (the interval excludes 0).\n",
            escape(&comparison.baseline().short_label())
        );
        let _ = writeln!(
            text,
            "| metric | {} |",
            others
                .iter()
                .map(|v| escape(&column_title(v)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(text, "| --- |{}", " ---: |".repeat(others.len()));
        for metric in &comparison.metrics {
            let (label, scale) = display(&metric.name);
            let cells: Vec<String> = others
                .iter()
                .map(|v| {
                    v.metrics
                        .get(&metric.name)
                        .and_then(|r| {
                            let cell = diff_cell(v, r, scale)?;
                            Some(if r.significant {
                                format!("**{cell}**")
                            } else {
                                cell
                            })
                        })
                        .unwrap_or_default()
                })
                .collect();
            let _ = writeln!(text, "| {label} | {} |", cells.join(" | "));
        }
    }
    if comparison.variants.iter().any(|v| v.slo.is_some()) {
        let _ = writeln!(text, "\nService-level objectives:\n");
        for variant in &comparison.variants {
            if let Some(slo) = &variant.slo {
                let _ = writeln!(
                    text,
                    "- {}: {}",
                    escape(&column_title(variant)),
                    slo_text(variant, slo)
                );
            }
        }
    }
    if comparison.variants.iter().any(|v| v.alerts.is_some()) {
        let _ = writeln!(text, "\nAlert rules (means over the replications):\n");
        for variant in &comparison.variants {
            for alert in variant.alerts.iter().flatten() {
                let _ = writeln!(
                    text,
                    "- {}, `{}` ({}): {}",
                    escape(&column_title(variant)),
                    alert.name,
                    alert.kind,
                    alert_text(alert, comparison.replications)
                );
            }
        }
    }
    text
}

/// A table cell's text with `|` escaped.
fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_the_half_width() {
        assert_eq!(decimals(Some(0.0123), 3), 3);
        assert_eq!(decimals(Some(3.4), 3), 1);
        assert_eq!(decimals(Some(123.0), 3), 0);
        assert_eq!(decimals(Some(0.0), 3), 3);
        assert_eq!(decimals(None, 2), 2);
    }

    #[test]
    fn cells() {
        let result = MetricResult {
            mean: 0.99512,
            ci_low: Some(0.99500),
            ci_high: Some(0.99524),
            diff_mean: 0.00089,
            diff_ci_low: Some(0.00081),
            diff_ci_high: Some(0.00097),
            significant: true,
        };
        assert_eq!(mean_cell(&result, 100.0, 0), "99.512 ± 0.012");
        let variant = VariantResult {
            name: "a=b".into(),
            slug: "b".into(),
            baseline: false,
            overrides: vec![],
            latency_file: String::new(),
            metrics: Default::default(),
            slo: None,
            alerts: None,
            replications: vec![],
        };
        assert_eq!(
            diff_cell(&variant, &result, 100.0).as_deref(),
            Some("+0.0890 ± 0.0080")
        );
        assert_eq!(interval_cell(112.0, Some(0.0), false, 0), "112 ± 0");
        assert_eq!(interval_cell(0.0, Some(0.0), true, 0), "+0 ± 0");
        assert_eq!(interval_cell(-1.5, None, true, 0), "-1.500");
        // A wide interval of the mean does not hide a significant paired difference: the
        // decimals follow the difference (0.0004 here) when asked to.
        assert_eq!(mean_cell(&result, 100.0, 0), "99.512 ± 0.012");
        assert_eq!(
            interval_cell(99.9998, Some(0.3), false, 0),
            "100.00 ± 0.30",
            "two significant digits of the half-width alone"
        );
        let apart = crate::report::format::decimals_to_tell_apart([0.0004], 0);
        assert_ne!(
            interval_cell(99.9998, Some(0.3), false, apart),
            interval_cell(99.9994, Some(0.3), false, apart)
        );
    }
}
