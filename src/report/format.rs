//! Number and label formatting shared by the HTML report, the plots and their captions.

use crate::analysis::comparison::Comparison;

/// An integer with thousands separators.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with `decimals` decimals.
pub fn number(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        "–".to_string()
    }
}

/// Seconds as written in a scenario: at most three decimals, no trailing zeros (`40`, `2.5`).
pub fn seconds(value: f64) -> String {
    format_number(value)
}

/// A fraction as a percentage with four decimals.
pub fn percent(value: f64) -> String {
    if value.is_finite() {
        format!("{:.4}%", value * 100.0)
    } else {
        "–".to_string()
    }
}

/// A short label for variant `index`: the values that make it (`p2c`, `p2c, 64`), or its name.
pub fn variant_label(comparison: &Comparison, index: usize) -> String {
    comparison.variants[index].short_label()
}

/// A readable title for a metric key: `latency_p99_ms` -> `p99 latency`.
pub fn metric_title(name: &str) -> String {
    match name {
        "availability" => "availability".into(),
        "latency_mean_ms" => "mean latency".into(),
        "latency_p50_ms" => "p50 latency".into(),
        "latency_p90_ms" => "p90 latency".into(),
        "latency_p99_ms" => "p99 latency".into(),
        "latency_p999_ms" => "p99.9 latency".into(),
        "goodput" => "goodput".into(),
        "retries_per_request" => "retries per request".into(),
        "wasted_work_ms" => "wasted work".into(),
        "replica_seconds" => "replica time".into(),
        other => other.trim_end_matches("_ms").replace('_', " "),
    }
}

/// The display unit and scale of a metric unit: fractions are shown as percentages.
pub fn display_unit(unit: &str) -> (String, f64) {
    match unit {
        "fraction" => ("%".into(), 100.0),
        other => (other.to_string(), 1.0),
    }
}

/// A tick label: at most three decimals, no trailing zeros, thousands as `k` from 10 000.
pub fn format_number(value: f64) -> String {
    if value.abs() >= 10_000.0 && (value / 1000.0).fract().abs() < 1e-9 {
        return format!("{}k", (value / 1000.0) as i64);
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
    }

    #[test]
    fn non_finite_numbers_show_a_dash() {
        assert_eq!(number(f64::NAN, 2), "–");
        assert_eq!(percent(f64::INFINITY), "–");
        assert_eq!(percent(0.5), "50.0000%");
    }
}
