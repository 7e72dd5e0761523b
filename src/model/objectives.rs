//! What a run is judged against (`[slo]`) and what `meshsim compare` varies (`[compare]`).

/// Service-level objectives for the end-to-end requests (`[slo]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Slo {
    /// Least acceptable availability (succeeded / offered), in [0, 1].
    pub availability: Option<f64>,
    /// Latency targets as (quantile in (0, 1), largest acceptable latency in nanoseconds), by
    /// increasing quantile. They apply to the latency of succeeded requests.
    pub latency: Vec<(f64, u64)>,
}

impl Slo {
    /// The scenario-file spelling of a latency quantile: 0.99 -> `p99`, 0.999 -> `p999`.
    pub fn quantile_label(quantile: f64) -> String {
        let text = format!("{quantile}");
        let mut digits = text.strip_prefix("0.").unwrap_or(&text).to_string();
        if digits.len() == 1 {
            digits.push('0');
        }
        format!("p{digits}")
    }

    /// The quantile of a scenario-file percentile name (`p50`, `p90`, `p99`, `p999`).
    pub fn quantile_of(label: &str) -> Option<f64> {
        match label {
            "p50" => Some(0.5),
            "p90" => Some(0.9),
            "p99" => Some(0.99),
            "p999" => Some(0.999),
            _ => None,
        }
    }
}

/// What `meshsim compare` varies when no `--vary` is given (`[compare]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareSpec {
    /// Axes in file order: a dotted key (as `--set` takes it) and the values to try, each kept
    /// as the text to write after `key=` in a `--set` (a string that reads back as itself is
    /// kept bare, `p2c`; other values as TOML, `64`, `"true"`, `[1, 2]`).
    pub axes: Vec<(String, Vec<String>)>,
    /// Replications per variant, when given.
    pub replications: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::Slo;

    #[test]
    fn quantile_labels_round_trip() {
        for label in ["p50", "p90", "p99", "p999"] {
            let quantile = Slo::quantile_of(label).expect("known label");
            assert_eq!(Slo::quantile_label(quantile), label);
        }
        assert_eq!(Slo::quantile_of("p42"), None);
    }
}
