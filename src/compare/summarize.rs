//! From the replications of every variant to a [`Comparison`]: means, intervals, paired
//! differences to the baseline, SLO verdicts. Sequential and in a fixed order, so the numbers are
//! the same bits whatever ran the replications.

use super::grid::{Axis, Variant};
use super::replicate::{ReplicationRun, METRICS};
use super::results::{
    AlertFaultSummary, AxisResult, Comparison, FaultSummary, MetricInfo, MetricResult,
    ReplicationResult, Setting, Stat, VariantAlert, VariantResult, VariantSlo,
};
use super::stats::{Estimate, CONFIDENCE};
use std::collections::BTreeMap;

/// What the comparison is of, besides its runs.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// The baseline's scenario seed.
    pub seed: u64,
    /// Replications per variant.
    pub replications: u32,
    /// The axes.
    pub axes: &'a [Axis],
}

/// The comparison of `variants`, whose replications are `runs` (same order; the first variant
/// is the baseline; every variant has the same number of replications, at least one).
pub fn summarize(
    header: Header<'_>,
    variants: &[Variant],
    runs: &[Vec<ReplicationRun>],
) -> Comparison {
    let baseline = &runs[0];
    let variants = variants
        .iter()
        .zip(runs)
        .enumerate()
        .map(|(index, (variant, runs))| summarize_variant(index, variant, runs, baseline))
        .collect();
    comparison(header, variants)
}

/// One variant's part of the comparison, from its replications and the baseline's (`index` 0
/// is the baseline itself): what [`summarize`] computes for it, so that a grid can be folded
/// variant by variant without keeping every variant's runs.
pub fn summarize_variant(
    index: usize,
    variant: &Variant,
    runs: &[ReplicationRun],
    baseline: &[ReplicationRun],
) -> VariantResult {
    VariantResult {
        name: variant.name.clone(),
        slug: variant.slug.clone(),
        baseline: index == 0,
        overrides: variant
            .settings
            .iter()
            .map(|(key, value)| Setting {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        latency_file: latency_file_name(&variant.slug),
        metrics: metric_results(runs, baseline),
        slo: variant_slo(runs),
        alerts: variant_alerts(runs),
        replications: runs.iter().map(replication_result).collect(),
    }
}

/// The comparison of the variants summarized by [`summarize_variant`], in order.
pub fn comparison(header: Header<'_>, variants: Vec<VariantResult>) -> Comparison {
    Comparison {
        scenario: header.scenario.to_string(),
        seed: header.seed,
        replications: header.replications,
        confidence: CONFIDENCE,
        axes: header
            .axes
            .iter()
            .map(|axis| AxisResult {
                key: axis.key.clone(),
                values: axis.values.clone(),
            })
            .collect(),
        metrics: METRICS
            .iter()
            .map(|m| MetricInfo {
                name: m.name.to_string(),
                unit: m.unit.to_string(),
                better: if m.higher_is_better {
                    "higher"
                } else {
                    "lower"
                }
                .to_string(),
                description: m.description.to_string(),
            })
            .collect(),
        variants,
    }
}

/// `latency-<slug>.csv`.
pub fn latency_file_name(slug: &str) -> String {
    format!("latency-{slug}.csv")
}

fn metric_results(
    runs: &[ReplicationRun],
    baseline: &[ReplicationRun],
) -> BTreeMap<String, MetricResult> {
    METRICS
        .iter()
        .enumerate()
        .map(|(m, metric)| {
            let samples: Vec<f64> = runs.iter().map(|r| r.values[m]).collect();
            let base: Vec<f64> = baseline.iter().map(|r| r.values[m]).collect();
            let estimate = Estimate::of(&samples, CONFIDENCE);
            let diff = Estimate::paired(&samples, &base, CONFIDENCE);
            let result = MetricResult {
                mean: estimate.mean,
                ci_low: estimate.low,
                ci_high: estimate.high,
                diff_mean: diff.mean,
                diff_ci_low: diff.low,
                diff_ci_high: diff.high,
                significant: diff.excludes_zero(),
            };
            (metric.name.to_string(), result)
        })
        .collect()
}

fn stat(samples: &[f64]) -> Option<Stat> {
    if samples.is_empty() {
        return None;
    }
    let estimate = Estimate::of(samples, CONFIDENCE);
    Some(Stat {
        n: samples.len() as u32,
        mean: estimate.mean,
        ci_low: estimate.low,
        ci_high: estimate.high,
    })
}

fn variant_slo(runs: &[ReplicationRun]) -> Option<VariantSlo> {
    let reports: Vec<_> = runs
        .iter()
        .map(|r| r.slo.as_ref())
        .collect::<Option<Vec<_>>>()?;
    let first = reports.first()?;
    let replications_met = reports.iter().filter(|r| r.met).count() as u32;
    let budgets: Option<Vec<f64>> = reports
        .iter()
        .map(|r| r.availability.as_ref().and_then(|a| a.error_budget_burned))
        .collect();
    let faults = (0..first.faults.len())
        .map(|index| {
            let impacts: Vec<_> = reports.iter().map(|r| &r.faults[index]).collect();
            let detect: Vec<f64> = impacts.iter().filter_map(|f| f.time_to_detect_s).collect();
            let recover: Vec<f64> = impacts
                .iter()
                .filter(|f| f.recovered)
                .filter_map(|f| f.time_to_recover_s)
                .collect();
            FaultSummary {
                fault: index,
                kind: impacts[0].kind.clone(),
                target: impacts[0].target.clone(),
                detected: impacts.iter().filter(|f| f.detected).count() as u32,
                time_to_detect_s: stat(&detect),
                recovery_from_s: impacts[0].recovery_from_s,
                ends: impacts[0].until_s == Some(impacts[0].recovery_from_s),
                recovered: recover.len() as u32,
                did_not_recover: (impacts.len() - recover.len()) as u32,
                time_to_recover_s: stat(&recover),
            }
        })
        .collect();
    Some(VariantSlo {
        met: replications_met as usize == reports.len(),
        replications_met,
        error_budget_burned: budgets.as_deref().and_then(stat),
        faults,
    })
}

/// Each alert rule over the replications: per fault, how many detected it and the mean delay.
fn variant_alerts(runs: &[ReplicationRun]) -> Option<Vec<VariantAlert>> {
    let reports: Vec<_> = runs
        .iter()
        .map(|r| r.alerts.as_ref())
        .collect::<Option<Vec<_>>>()?;
    let first = reports.first()?;
    let count = reports.len() as f64;
    let alerts = first
        .rules
        .iter()
        .enumerate()
        .map(|(rule, first_rule)| {
            let rules: Vec<_> = reports.iter().map(|r| &r.rules[rule]).collect();
            let faults = (0..first_rule.faults.len())
                .map(|fault| {
                    let detections: Vec<_> = rules.iter().map(|r| &r.faults[fault]).collect();
                    let delays: Vec<f64> = detections
                        .iter()
                        .filter_map(|d| d.detection_delay_s)
                        .collect();
                    let budgets: Vec<f64> = detections
                        .iter()
                        .filter_map(|d| d.budget_burned_before_firing)
                        .collect();
                    AlertFaultSummary {
                        fault,
                        detected: delays.len() as u32,
                        detection_delay_s: stat(&delays),
                        failed_before_firing_mean: detections
                            .iter()
                            .map(|d| d.failed_before_firing as f64)
                            .sum::<f64>()
                            / count,
                        budget_burned_before_firing: stat(&budgets),
                    }
                })
                .collect();
            let first_fired: Vec<f64> = rules
                .iter()
                .filter_map(|r| r.firings.first().map(|f| f.fired_at_s))
                .collect();
            let first_resolved: Vec<f64> = rules
                .iter()
                .filter_map(|r| r.firings.first().and_then(|f| f.resolved_at_s))
                .collect();
            VariantAlert {
                name: first_rule.name.clone(),
                kind: first_rule.kind.clone(),
                first_fired_at_s: stat(&first_fired),
                first_resolved_at_s: stat(&first_resolved),
                firings: rules.iter().map(|r| r.firings.clone()).collect(),
                faults,
                false_alarms_mean: rules.iter().map(|r| f64::from(r.false_alarms)).sum::<f64>()
                    / count,
            }
        })
        .collect();
    Some(alerts)
}

fn replication_result(run: &ReplicationRun) -> ReplicationResult {
    ReplicationResult {
        index: run.index,
        seed: run.seed,
        offered: run.offered,
        succeeded: run.succeeded,
        metrics: METRICS
            .iter()
            .zip(run.values)
            .map(|(m, v)| (m.name.to_string(), v))
            .collect(),
        slo: run.slo.clone(),
    }
}
