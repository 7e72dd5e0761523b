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

/// An alert rule (`[[alert]]`), evaluated on the end-to-end windows at each window end (the
/// evaluation interval is the scenario's `window`), as Prometheus evaluates a rule group.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The alert's name (`alertname` in Prometheus).
    pub name: String,
    /// What it watches.
    pub kind: AlertKind,
    /// How long the condition must hold before the alert fires (Prometheus `for`),
    /// nanoseconds; 0 fires at the first evaluation that holds.
    pub hold: u64,
}

/// The condition of an [`AlertRule`].
#[derive(Debug, Clone, PartialEq)]
pub enum AlertKind {
    /// Multi-window burn rate on the `[slo]` availability's error budget (SRE workbook): holds
    /// when the error ratio over `long`, and over `short` when given, exceeds
    /// `burn * (1 - availability)`.
    BurnRate {
        /// Long look-back, nanoseconds (a multiple of the window).
        long: u64,
        /// Short look-back, nanoseconds (a multiple of the window, shorter than `long`); `None`:
        /// a long-window-only rule.
        short: Option<u64>,
        /// Burn-rate factor (> 0).
        burn: f64,
        /// The `[slo]` availability target the budget comes from, in [0, 1).
        availability: f64,
    },
    /// A latency percentile above a threshold: holds when more than `1 - quantile` of the
    /// requests that succeeded within the look-back took longer than `above`.
    Latency {
        /// The quantile, in (0, 1) (`percentile / 100`).
        quantile: f64,
        /// Threshold, nanoseconds.
        above: u64,
        /// Look-back, nanoseconds (a multiple of the window).
        window: u64,
    },
}

impl AlertRule {
    /// The scenario-file spelling of the rule's kind.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            AlertKind::BurnRate { .. } => "burn_rate",
            AlertKind::Latency { .. } => "latency",
        }
    }

    /// How far back the rule's condition looks, nanoseconds (its longest window).
    pub fn look_back(&self) -> u64 {
        match self.kind {
            AlertKind::BurnRate { long, .. } => long,
            AlertKind::Latency { window, .. } => window,
        }
    }
}

/// What `meshsim compare` varies when no `--vary` is given (`[compare]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareSpec {
    /// Axes in file order.
    pub axes: Vec<CompareAxis>,
    /// Replications per variant, when given.
    pub replications: Option<u32>,
}

/// One key of `[compare]`, with where it and each of its values were written: a variant that
/// cannot be loaded is reported at the value (or the key) that made it, as the file's other
/// problems are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompareAxis {
    /// A dotted key, as `--set` takes it.
    pub key: String,
    /// The values to try, each kept as the text to write after `key=` in a `--set` (a string
    /// that reads back as itself is kept bare, `p2c`; other values as TOML, `64`, `"true"`,
    /// `[1, 2]`).
    pub values: Vec<String>,
    /// Where the key was written.
    pub key_at: Place,
    /// Each value as written in the file (`"p2c"`, `64`), for messages.
    pub written: Vec<String>,
    /// Where each value was written.
    pub values_at: Vec<Place>,
}

/// Where something was written: a line and column of a file, or (`line` 0) the `--set` that
/// wrote it, named in `file`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Place {
    /// The file as the user named it, or the `--set key=value` that wrote the line.
    pub file: String,
    /// Line, 1-based; 0 when the place is a `--set`.
    pub line: usize,
    /// Column in characters, 1-based; 0 when the place is a `--set`.
    pub column: usize,
}

impl std::fmt::Display for Place {
    /// `FILE:LINE:COLUMN`, or the `--set` alone.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
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
