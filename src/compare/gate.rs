//! Gates: a comparison judged against rules, for a pipeline to fail on (`meshsim compare
//! --check --fail-if RULE`).
//!
//! A rule is `METRIC OP THRESHOLD`:
//! - relative to the baseline, `latency_p99_ms>+10%` or `availability<-0.1%`: a variant (not the
//!   baseline) fails when its paired difference to the baseline is significant (its interval
//!   excludes 0) and its mean difference is beyond the threshold, a percentage of the baseline's
//!   mean, in the rule's direction;
//! - absolute, `availability<0.999` or `latency_p99_ms>=250`: any variant fails when its mean
//!   (over the replications) is beyond the threshold. Operators: `<`, `<=`, `>`, `>=`.
//!
//! Besides the rules, a variant whose replications do not all meet the scenario's `[slo]` fails.

use super::replicate::METRICS;
use super::results::{Comparison, VariantResult};
use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Less => "<",
            Op::LessOrEqual => "<=",
            Op::Greater => ">",
            Op::GreaterOrEqual => ">=",
        }
    }

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Less => left < right,
            Op::LessOrEqual => left <= right,
            Op::Greater => left > right,
            Op::GreaterOrEqual => left >= right,
        }
    }
}

/// What a rule's threshold is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// A value of the metric, in its stored unit (availability as a fraction).
    Absolute(f64),
    /// A signed change relative to the baseline's mean, as a fraction (`+10%` is 0.1).
    Relative(f64),
}

/// One `--fail-if` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    /// A metric name of `comparison.json`.
    pub metric: String,
    /// The operator.
    pub op: Op,
    /// The threshold.
    pub threshold: Threshold,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Rule {
    /// Parses `METRIC OP THRESHOLD` (see the module documentation).
    pub fn parse(text: &str) -> Result<Rule, String> {
        let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        let expected = || {
            format!(
                "--fail-if '{text}': expected METRIC OP VALUE, like 'latency_p99_ms>+10%' (relative to the baseline) or 'availability<0.999' (absolute); OP is <, <=, > or >="
            )
        };
        let at = text.find(['<', '>']).ok_or_else(expected)?;
        let metric = text[..at].trim();
        let rest = &text[at..];
        let (op, rest) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::LessOrEqual, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::GreaterOrEqual, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Less, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Greater, r)
        } else {
            return Err(expected());
        };
        if metric.is_empty() {
            return Err(expected());
        }
        if !names.contains(&metric) {
            return Err(format!(
                "--fail-if '{text}': unknown metric \"{metric}\"; the metrics are {}",
                names.join(", ")
            ));
        }
        let value = rest.trim();
        let threshold = if let Some(percent) = value.strip_suffix('%') {
            let percent = percent.trim();
            if !percent.starts_with(['+', '-']) {
                return Err(format!(
                    "--fail-if '{text}': a relative threshold carries its sign, like +10% or -0.5%"
                ));
            }
            let number: f64 = percent.parse().map_err(|_| expected())?;
            Threshold::Relative(number / 100.0)
        } else {
            Threshold::Absolute(value.parse().map_err(|_| expected())?)
        };
        let finite = match threshold {
            Threshold::Absolute(v) | Threshold::Relative(v) => v.is_finite(),
        };
        if !finite {
            return Err(expected());
        }
        Ok(Rule {
            text: text.trim().to_string(),
            metric: metric.to_string(),
            op,
            threshold,
        })
    }

    /// Why `variant` breaks this rule, or `None`.
    fn broken_by(&self, variant: &VariantResult, baseline: &VariantResult) -> Option<String> {
        let result = variant.metrics.get(&self.metric)?;
        match self.threshold {
            Threshold::Absolute(limit) => self.op.holds(result.mean, limit).then(|| {
                format!(
                    "{}: {} mean {} {} {limit} (rule '{}')",
                    variant.name,
                    self.metric,
                    result.mean,
                    self.op.text(),
                    self.text
                )
            }),
            Threshold::Relative(change) => {
                if variant.baseline || !result.significant {
                    return None;
                }
                let base = baseline.metrics.get(&self.metric)?.mean;
                let limit = change * base.abs();
                self.op.holds(result.diff_mean, limit).then(|| {
                    format!(
                        "{}: {} {} vs baseline {} ({:+.2}%, significant) {} {:+}% (rule '{}')",
                        variant.name,
                        self.metric,
                        result.mean,
                        base,
                        if base == 0.0 {
                            f64::INFINITY
                        } else {
                            result.diff_mean / base.abs() * 100.0
                        },
                        self.op.text(),
                        change * 100.0,
                        self.text
                    )
                })
            }
        }
    }
}

/// Every failure of `comparison`: variants that miss their `[slo]` (when `slo` is true), then
/// every rule broken, variant by variant. Empty: the gate passes.
pub fn failures(comparison: &Comparison, rules: &[Rule], slo: bool) -> Vec<String> {
    let baseline = comparison.baseline();
    let mut failed = Vec::new();
    for variant in &comparison.variants {
        if slo {
            if let Some(verdict) = variant.slo.as_ref().filter(|s| !s.met) {
                failed.push(format!(
                    "{}: SLO not met in {} of {} replications",
                    variant.name,
                    variant.replications.len() as u32 - verdict.replications_met,
                    variant.replications.len()
                ));
            }
        }
        for rule in rules {
            if let Some(message) = rule.broken_by(variant, baseline) {
                failed.push(message);
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::comparison::MetricResult;

    #[test]
    fn rules_parse_or_say_what_was_expected() {
        let rule = Rule::parse("latency_p99_ms>+10%").expect("valid");
        assert_eq!(
            (rule.op, rule.threshold),
            (Op::Greater, Threshold::Relative(0.1))
        );
        let rule = Rule::parse(" availability < 0.999 ").expect("valid");
        assert_eq!(
            (rule.metric.as_str(), rule.op, rule.threshold),
            ("availability", Op::Less, Threshold::Absolute(0.999))
        );
        assert_eq!(
            Rule::parse("goodput<=-5%").expect("valid").threshold,
            Threshold::Relative(-0.05)
        );
        for bad in [
            "latency_p99_ms",
            "latency_p99_ms=10",
            "latency_p99_ms>",
            "latency_p99_ms>10%",
            "latency_p99_ms>+ten%",
            ">+10%",
            "latency_p42_ms>+10%",
            "availability<NaN",
        ] {
            let error = Rule::parse(bad).expect_err(bad);
            assert!(error.starts_with(&format!("--fail-if '{bad}'")), "{error}");
        }
    }

    fn variant(
        name: &str,
        baseline: bool,
        mean: f64,
        diff: f64,
        significant: bool,
    ) -> VariantResult {
        let metric = MetricResult {
            mean,
            ci_low: None,
            ci_high: None,
            diff_mean: diff,
            diff_ci_low: None,
            diff_ci_high: None,
            significant,
        };
        VariantResult {
            name: name.into(),
            slug: name.into(),
            baseline,
            overrides: vec![],
            latency_file: String::new(),
            metrics: [("latency_p99_ms".to_string(), metric)]
                .into_iter()
                .collect(),
            slo: None,
            alerts: None,
            replications: vec![],
        }
    }

    #[test]
    fn relative_rules_need_significance_and_the_size() {
        let base = variant("base", true, 100.0, 0.0, false);
        let rule = Rule::parse("latency_p99_ms>+10%").expect("valid");
        // +11% significant: fails; +11% not significant: passes; +9% significant: passes.
        assert!(rule
            .broken_by(&variant("a", false, 111.0, 11.0, true), &base)
            .is_some());
        assert!(rule
            .broken_by(&variant("b", false, 111.0, 11.0, false), &base)
            .is_none());
        assert!(rule
            .broken_by(&variant("c", false, 109.0, 9.0, true), &base)
            .is_none());
        assert!(
            rule.broken_by(&base, &base).is_none(),
            "the baseline is not judged against itself"
        );
        let absolute = Rule::parse("latency_p99_ms>=100").expect("valid");
        assert!(absolute.broken_by(&base, &base).is_some());
        assert!(absolute
            .broken_by(&variant("d", false, 99.9, 0.0, false), &base)
            .is_none());
    }
}
