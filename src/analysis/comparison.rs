//! The shape of `comparison.json`: what `meshsim compare` found, for plots and reports to read.
//!
//! Stable and plain: every number is a JSON number (or `null` where there is none, e.g. an
//! interval from a single replication), maps are keyed by metric name and ordered by key, and
//! lists keep the order of the comparison (variants in grid order, the baseline first;
//! replications by index). Read it back with `serde_json::from_str::<Comparison>`.
//!
//! ```json
//! { "scenario": "blog", "seed": 42, "replications": 5, "confidence": 0.95,
//!   "axes": [ { "key": "policy.balancer", "values": ["round_robin", "p2c"] } ],
//!   "metrics": [ { "name": "availability", "unit": "fraction", "better": "higher",
//!                  "description": "..." }, ... ],
//!   "variants": [ { "name": "policy.balancer=round_robin", "slug": "round_robin",
//!                   "baseline": true, "overrides": [ { "key": "policy.balancer", "value": "round_robin" } ],
//!                   "latency_file": "latency-round_robin.csv",
//!                   "metrics": { "availability": { "mean": 0.998, "ci_low": 0.997, "ci_high": 0.999,
//!                                                  "diff_mean": 0.0, "diff_ci_low": 0.0,
//!                                                  "diff_ci_high": 0.0, "significant": false }, ... },
//!                   "slo": { ... } or absent,
//!                   "replications": [ { "index": 0, "seed": 42, "offered": 1000, "succeeded": 998,
//!                                       "metrics": { "availability": 0.998, ... },
//!                                       "slo": { ... } or absent }, ... ] }, ... ] }
//! ```

use crate::analysis::slo::SloReport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Scenario name.
    pub scenario: String,
    /// The baseline's scenario seed; replication seeds derive from it (see `replications`).
    pub seed: u64,
    /// Replications per variant.
    pub replications: u32,
    /// Confidence level of every interval (0.95).
    pub confidence: f64,
    /// What varies, in order (empty: a single variant, the scenario as written).
    pub axes: Vec<AxisResult>,
    /// The metrics, in display order, with their units.
    pub metrics: Vec<MetricInfo>,
    /// Every variant, the baseline first.
    pub variants: Vec<VariantResult>,
}

/// One axis of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisResult {
    /// Dotted key, as `--set` takes it.
    pub key: String,
    /// Values tried, in order.
    pub values: Vec<String>,
}

/// What a metric is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// Key in the `metrics` maps, e.g. `latency_p99_ms`.
    pub name: String,
    /// Unit: `fraction`, `ms`, `requests/s`, `retries/request`, `replica-seconds`.
    pub unit: String,
    /// `higher` or `lower`: which way is better.
    pub better: String,
    /// One line saying how it is computed for one replication.
    pub description: String,
}

/// One variant: its settings, its metrics over the replications, and its SLO verdicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    /// `key=value, key=value` (`baseline` when nothing varies).
    pub name: String,
    /// Unique file-name-safe short name (used in `latency-<slug>.csv`).
    pub slug: String,
    /// Whether this is the baseline (the first variant), which differences are taken against.
    pub baseline: bool,
    /// The `--set` overrides that make this variant (on top of the user's own `--set`).
    pub overrides: Vec<Setting>,
    /// The file holding this variant's end-to-end latency quantiles (replication 0).
    pub latency_file: String,
    /// Per metric name: mean, interval and difference to the baseline.
    pub metrics: BTreeMap<String, MetricResult>,
    /// SLO verdicts over the replications (only when the scenario has `[slo]`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slo: Option<VariantSlo>,
    /// Each `[[alert]]` rule over the replications (only when the scenario has rules).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alerts: Option<Vec<VariantAlert>>,
    /// Each replication's own figures, by index.
    pub replications: Vec<ReplicationResult>,
}

impl VariantResult {
    /// A short label: the values that make the variant (`p2c`, `p2c, 64`), or its name.
    pub fn short_label(&self) -> String {
        if self.overrides.is_empty() {
            self.name.clone()
        } else {
            self.overrides
                .iter()
                .map(|s| s.value.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// One `--set key=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// Dotted key.
    pub key: String,
    /// Value as written after `=`.
    pub value: String,
}

/// A metric of one variant over its replications.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    /// Mean over the replications.
    pub mean: f64,
    /// Lower bound of the confidence interval of the mean (`null` with one replication).
    pub ci_low: Option<f64>,
    /// Upper bound of the confidence interval of the mean.
    pub ci_high: Option<f64>,
    /// Mean of the paired differences (this variant − baseline, replication by replication);
    /// 0 for the baseline.
    pub diff_mean: f64,
    /// Lower bound of the confidence interval of the difference.
    pub diff_ci_low: Option<f64>,
    /// Upper bound of the confidence interval of the difference.
    pub diff_ci_high: Option<f64>,
    /// The difference's interval excludes 0.
    pub significant: bool,
}

/// A mean with its interval (for SLO figures that only some replications have).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    /// Replications the figure comes from.
    pub n: u32,
    /// Mean over them.
    pub mean: f64,
    /// Lower bound of the confidence interval (`null` when `n` is 1).
    pub ci_low: Option<f64>,
    /// Upper bound of the confidence interval.
    pub ci_high: Option<f64>,
}

/// A variant's SLO verdicts over its replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSlo {
    /// Every replication met every target.
    pub met: bool,
    /// Replications that met every target.
    pub replications_met: u32,
    /// Error budget burned (see `summary.json`'s `slo`), when there is an availability target
    /// and it is finite in every replication.
    pub error_budget_burned: Option<Stat>,
    /// Each fault, in file order.
    pub faults: Vec<FaultSummary>,
}

/// One fault over the replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    /// Index of the fault in the file.
    pub fault: usize,
    /// Its kind.
    pub kind: String,
    /// Its target as written.
    pub target: String,
    /// Replications in which it was detected.
    pub detected: u32,
    /// Time to detect, seconds, over the replications that detected it.
    pub time_to_detect_s: Option<Stat>,
    /// The moment recovery is measured from, seconds: the fault's end, or its start when it
    /// lasts beyond the load period.
    pub recovery_from_s: f64,
    /// Whether `recovery_from_s` is the fault's end (else its start).
    pub ends: bool,
    /// Replications that recovered.
    pub recovered: u32,
    /// Replications that did not recover.
    pub did_not_recover: u32,
    /// Time to recover, seconds, over the replications that recovered.
    pub time_to_recover_s: Option<Stat>,
}

/// One `[[alert]]` rule over a variant's replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantAlert {
    /// The alert's name.
    pub name: String,
    /// `burn_rate` or `latency`.
    #[serde(default)]
    pub kind: String,
    /// When it first fired, seconds, over the replications in which it fired.
    #[serde(default)]
    pub first_fired_at_s: Option<Stat>,
    /// When that first firing resolved, seconds, over the replications in which it resolved
    /// within the run.
    #[serde(default)]
    pub first_resolved_at_s: Option<Stat>,
    /// Per replication (in replication order), every firing, as in `summary.json`.
    #[serde(default)]
    pub firings: Vec<Vec<crate::analysis::alerts::Firing>>,
    /// Per fault, in file order: how the rule paged for it.
    pub faults: Vec<AlertFaultSummary>,
    /// False alarms (see `summary.json`'s `alerts`), mean per replication.
    pub false_alarms_mean: f64,
}

/// How one rule paged for one fault over the replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertFaultSummary {
    /// Index of the fault in the file.
    pub fault: usize,
    /// Replications in which the rule fired for it.
    pub detected: u32,
    /// Detection delay, seconds, over the replications that detected it.
    pub detection_delay_s: Option<Stat>,
    /// Failed requests before the firing (to the run's end when not detected), mean.
    pub failed_before_firing_mean: f64,
    /// Those as a share of each replication's error budget, over the replications; `null`
    /// without `[slo] availability`.
    #[serde(default)]
    pub budget_burned_before_firing: Option<Stat>,
}

/// One replication of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationResult {
    /// Replication index (the same index is the same offered work in every variant).
    pub index: u32,
    /// Its seed: `meshsim run SCENARIO --seed <seed>` with the variant's `--set` reproduces it.
    pub seed: u64,
    /// Measured end-to-end requests.
    pub offered: u64,
    /// Of those, succeeded.
    pub succeeded: u64,
    /// Per metric name, this replication's value.
    pub metrics: BTreeMap<String, f64>,
    /// The run against `[slo]` (only when the scenario has one).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slo: Option<SloReport>,
}

impl Comparison {
    /// Pretty JSON with a trailing newline (byte-identical for the same inputs).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a comparison always serialises");
        text.push('\n');
        text
    }

    /// The baseline (the first variant).
    pub fn baseline(&self) -> &VariantResult {
        &self.variants[0]
    }
}
