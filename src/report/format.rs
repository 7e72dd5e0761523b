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
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The most decimals any rule here asks for (a difference below 1e-9 of the unit is shown
/// as equal).
pub const MAX_DECIMALS: usize = 9;

/// Decimals that show two significant digits of `value`'s magnitude, at least `min` (at most
/// [`MAX_DECIMALS`]); `min` for 0 or a non-finite value.
pub fn decimals_for(value: f64, min: usize) -> usize {
    let magnitude = value.abs();
    if magnitude == 0.0 || !magnitude.is_finite() {
        return min;
    }
    let needed = 1 - magnitude.log10().floor() as i64;
    (needed.max(min as i64) as usize).min(MAX_DECIMALS)
}

/// Decimals at which numbers differing by any of `differences` never print the same: two
/// significant digits of the smallest non-zero difference (each number rounds by at most half
/// a unit of the last decimal, so two numbers `d` apart, printed with decimals worth at most
/// `d / 10`, stay apart), at least `min`.
pub fn decimals_to_tell_apart(differences: impl IntoIterator<Item = f64>, min: usize) -> usize {
    differences
        .into_iter()
        .map(|d| decimals_for(d, min))
        .max()
        .unwrap_or(min)
        .max(min)
}

/// An availability (a fraction) as a percentage: four decimals, more near 100% so that two
/// significant digits of the failed share show (`99.99984%`, never `100.0000%` unless nothing
/// failed); from 99.9% up, with the failures per million after it.
pub fn availability(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let failed = 1.0 - value;
    let decimals = decimals_for(failed * 100.0, 4);
    let percent = format!("{:.decimals$}%", value * 100.0);
    if (0.999..1.0).contains(&value) {
        format!("{percent} ({} per million failed)", per_million(value))
    } else {
        percent
    }
}

/// An availability as a bare percentage with the decimals of [`availability`] (for tables
/// that show the failures per million in a column of their own).
pub fn percent_to_tell(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    let decimals = decimals_for((1.0 - value) * 100.0, 4);
    format!("{:.decimals$}%", value * 100.0)
}

/// Failures per million requests of an availability, with two significant digits (`1.6`,
/// `16`, `1,600`).
pub fn per_million(value: f64) -> String {
    let failed = (1.0 - value) * 1e6;
    if !failed.is_finite() {
        return "–".to_string();
    }
    if failed >= 100.0 {
        return count(failed.round() as u64);
    }
    // Rounded to two significant digits first, so that 9.99999 shows as 10, not 10.0.
    let decimals = decimals_for(failed, 0);
    let scale = 10f64.powi(decimals as i32);
    let rounded = (failed * scale).round() / scale;
    let decimals = decimals_for(rounded, 0);
    format!("{rounded:.decimals$}")
}

/// An availability as "nines": `-log10(1 - availability)` with one decimal (`5.8` for
/// 99.99984%); `∞` when nothing failed.
pub fn nines(value: f64) -> String {
    if value >= 1.0 {
        "∞".to_string()
    } else if value.is_finite() {
        format!("{:.1}", -(1.0 - value).log10())
    } else {
        "–".to_string()
    }
}

/// A fraction as a percentage with four decimals.
pub fn percent(value: f64) -> String {
    if value.is_finite() {
        format!("{:.4}%", value * 100.0)
    } else {
        "–".to_string()
    }
}

/// Decimals for a comparison's metric `name` shown scaled by `scale`: at least `min`, and
/// enough that each variant's mean prints apart from the baseline's wherever their difference
/// is significant ([`decimals_to_tell_apart`]).
pub fn metric_decimals(comparison: &Comparison, name: &str, scale: f64, min: usize) -> usize {
    let significant = comparison
        .variants
        .iter()
        .filter_map(|variant| variant.metrics.get(name))
        .filter(|result| result.significant)
        .map(|result| result.diff_mean * scale);
    decimals_to_tell_apart(significant, min)
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

    /// Deterministic pseudo-random numbers in [0, 1) (a 64-bit LCG), for the property tests.
    fn uniform(state: &mut u64) -> f64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn numbers_a_significant_difference_apart_never_print_equal() {
        let mut state = 16;
        for _ in 0..20_000 {
            // A value over twelve orders of magnitude, and a difference up to 10% of it (down
            // to 1e-8, above the 1e-9 floor of MAX_DECIMALS).
            let a = 10f64.powf(uniform(&mut state) * 12.0 - 6.0);
            let difference = (a * 0.1 * uniform(&mut state)).max(1e-8);
            let b = a + difference;
            let decimals = decimals_to_tell_apart([difference], 3);
            assert_ne!(
                format!("{a:.decimals$}"),
                format!("{b:.decimals$}"),
                "{a} and {b} ({decimals} decimals)"
            );
        }
        // The case: 99.99984% against 100% with a significant difference.
        let decimals = decimals_to_tell_apart([0.9999984 * 100.0 - 100.0], 3);
        assert_ne!(
            format!("{:.decimals$}", 99.99984),
            format!("{:.decimals$}", 100.0)
        );
        assert_eq!(decimals_to_tell_apart([], 3), 3);
        assert_eq!(decimals_to_tell_apart([0.0, f64::NAN], 2), 2);
        assert_eq!(decimals_to_tell_apart([0.65], 0), 2);
    }

    #[test]
    fn availability_near_one_shows_the_failed_share() {
        assert_eq!(
            availability(0.9999984),
            "99.99984% (1.6 per million failed)"
        );
        assert_eq!(availability(0.98919119659122), "98.9191%");
        assert_eq!(availability(1.0), "100.0000%");
        assert_eq!(availability(0.999), "99.9000% (1,000 per million failed)");
        // Never rounds up to 100% while something failed.
        let mut state = 7;
        for _ in 0..10_000 {
            let failed = 10f64.powf(-uniform(&mut state) * 8.0 - 1.0); // 1e-9 .. 1e-1
            let text = availability(1.0 - failed);
            assert!(!text.starts_with("100.0"), "{failed}: {text}");
        }
        assert_eq!(per_million(0.99999), "10");
        assert_eq!(per_million(0.9999984), "1.6");
        assert_eq!(per_million(0.99), "10,000");
        assert_eq!(nines(0.999), "3.0");
        assert_eq!(nines(0.9999984), "5.8");
        assert_eq!(nines(1.0), "∞");
    }

    #[test]
    fn non_finite_numbers_show_a_dash() {
        assert_eq!(number(f64::NAN, 2), "–");
        assert_eq!(percent(f64::INFINITY), "–");
        assert_eq!(percent(0.5), "50.0000%");
    }
}
