//! `[[alert]]` rules evaluated on a finished run: when each fires and resolves, how long each
//! fault took to page and how much error budget burned first, and false alarms.
//!
//! # Definitions
//! * **Evaluation**: at the end of every end-to-end window (the evaluation interval is the
//!   scenario's `window`, as a Prometheus rule group's `interval`), over the windows ending in
//!   `(t − look-back, t]`: the look-backs are whole numbers of windows.
//! * **burn_rate** holds at `t` when the error ratio (failed / ended requests) over `long`, and
//!   over `short` when given, exceeds `burn × (1 − availability)`. No request ended: ratio 0
//!   (Prometheus: 0/0 is NaN, which compares false).
//! * **latency** holds when more than `1 − percentile/100` of the succeeded requests ending
//!   within `window` took longer than `above` (so the percentile is above it).
//! * **for**: a rule whose condition holds becomes *pending*; it *fires* at the first evaluation
//!   at least `for` after the first one that held, and *resolves* at the first evaluation that
//!   does not hold (Prometheus `rules/alerting.go`, without `keep_firing_for`).
//! * **Detection** of a fault by a rule: its first firing that starts while the fault is in
//!   force, or within the rule's grace after the fault ends (grace = look-back + `for`: the
//!   windows still hold the fault's failures that long). Detection delay = firing instant −
//!   fault start. The failed requests ending in `(fault start, firing instant]`, and the share
//!   of the run's error budget they are, are the budget burned before the page. The run's
//!   budget is `(1 − availability) × requests ended over the run`.
//! * **False alarm**: a firing that starts outside every fault's `[start, end + grace]`.

use crate::engine::time::nanos_to_seconds;
use crate::model::{AlertKind, AlertRule, Model};
use serde::{Deserialize, Serialize};

use super::istio;
use super::slo::EdgeWindow;

/// The `alerts` section of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsReport {
    /// Seconds between evaluations (the scenario's window).
    pub evaluation_interval_s: f64,
    /// Each rule, in file order.
    pub rules: Vec<RuleReport>,
}

/// How one rule behaved over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// The alert's name.
    pub name: String,
    /// `burn_rate` or `latency`.
    pub kind: String,
    /// The rule as a PromQL expression over the `--openmetrics` series.
    pub promql: String,
    /// Seconds the condition must hold before firing (`for`).
    pub for_s: f64,
    /// Grace after a fault's end within which a firing still counts as that fault's, seconds.
    pub grace_s: f64,
    /// Each firing, in time order.
    pub firings: Vec<Firing>,
    /// Each fault of the scenario, in file order.
    pub faults: Vec<FaultDetection>,
    /// Firings that start outside every fault (and its grace).
    pub false_alarms: u32,
}

/// One firing of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The evaluation at which it fired, seconds.
    pub fired_at_s: f64,
    /// The evaluation at which it resolved, seconds; `null`: still firing at the run's end.
    pub resolved_at_s: Option<f64>,
}

/// How one rule paged for one fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultDetection {
    /// Index of the fault in the file.
    pub fault: usize,
    /// The rule fired for it.
    pub detected: bool,
    /// Seconds from the fault's start to the firing; `null`: not detected.
    pub detection_delay_s: Option<f64>,
    /// Failed requests ending between the fault's start and the firing (to the run's end when
    /// not detected).
    pub failed_before_firing: u64,
    /// Those as a share of the run's error budget; `null` without `[slo] availability` (or with a
    /// target of 1).
    pub budget_burned_before_firing: Option<f64>,
}

/// A firing as instants, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiringSpan {
    /// Evaluation at which it fired.
    pub fired_at: u64,
    /// Evaluation at which it resolved, if it did.
    pub resolved_at: Option<u64>,
}

/// Evaluates every rule of `model` on its end-to-end `windows` (in time order, from an
/// [`super::slo::EdgeRecorder`]); `None` when the model has no rule.
pub fn evaluate(model: &Model, windows: &[EdgeWindow]) -> Option<AlertsReport> {
    if model.alerts.is_empty() {
        return None;
    }
    let ended: u64 = windows.iter().map(|w| w.succeeded + w.failed).sum();
    let budget = model
        .slo
        .as_ref()
        .and_then(|slo| slo.availability)
        .filter(|&target| target < 1.0)
        .map(|target| (1.0 - target) * ended as f64);
    let rules = model
        .alerts
        .iter()
        .map(|rule| {
            let spans = firings(rule, model.window, windows);
            let grace = rule.look_back() + rule.hold;
            let in_fault = |at: u64| {
                model.faults.iter().any(|fault| {
                    let end = fault.until.unwrap_or(model.duration).min(model.duration);
                    at >= fault.at && at <= end.saturating_add(grace)
                })
            };
            let faults = model
                .faults
                .iter()
                .enumerate()
                .map(|(index, fault)| {
                    let end = fault.until.unwrap_or(model.duration).min(model.duration);
                    let fired = spans
                        .iter()
                        .find(|s| s.fired_at >= fault.at && s.fired_at <= end.saturating_add(grace))
                        .map(|s| s.fired_at);
                    let until = fired.unwrap_or(u64::MAX);
                    let failed: u64 = windows
                        .iter()
                        .filter(|w| w.end > fault.at && w.end <= until)
                        .map(|w| w.failed)
                        .sum();
                    FaultDetection {
                        fault: index,
                        detected: fired.is_some(),
                        detection_delay_s: fired.map(|at| nanos_to_seconds(at - fault.at)),
                        failed_before_firing: failed,
                        budget_burned_before_firing: budget.map(|b| {
                            if b > 0.0 {
                                failed as f64 / b
                            } else {
                                0.0
                            }
                        }),
                    }
                })
                .collect();
            RuleReport {
                name: rule.name.clone(),
                kind: rule.kind_name().to_string(),
                promql: promql(rule),
                for_s: nanos_to_seconds(rule.hold),
                grace_s: nanos_to_seconds(grace),
                false_alarms: spans.iter().filter(|s| !in_fault(s.fired_at)).count() as u32,
                firings: spans
                    .iter()
                    .map(|s| Firing {
                        fired_at_s: nanos_to_seconds(s.fired_at),
                        resolved_at_s: s.resolved_at.map(nanos_to_seconds),
                    })
                    .collect(),
                faults,
            }
        })
        .collect();
    Some(AlertsReport {
        evaluation_interval_s: nanos_to_seconds(model.window),
        rules,
    })
}

/// The firings of `rule` over `windows` (each of width `window`), evaluated at each window end.
pub fn firings(rule: &AlertRule, window: u64, windows: &[EdgeWindow]) -> Vec<FiringSpan> {
    let mut spans: Vec<FiringSpan> = Vec::new();
    let mut active_since: Option<u64> = None;
    let mut firing = false;
    for (index, w) in windows.iter().enumerate() {
        let now = w.end;
        if holds(rule, window, &windows[..=index]) {
            let since = *active_since.get_or_insert(now);
            if !firing && now - since >= rule.hold {
                firing = true;
                spans.push(FiringSpan {
                    fired_at: now,
                    resolved_at: None,
                });
            }
        } else {
            active_since = None;
            if firing {
                firing = false;
                if let Some(span) = spans.last_mut() {
                    span.resolved_at = Some(now);
                }
            }
        }
    }
    spans
}

/// Whether the rule's condition holds at the end of the last of `upto`.
fn holds(rule: &AlertRule, window: u64, upto: &[EdgeWindow]) -> bool {
    // The windows ending in (now - look_back, now]: the last look_back / window of them.
    let last = |look_back: u64| {
        let count = (look_back / window.max(1)).max(1) as usize;
        &upto[upto.len().saturating_sub(count)..]
    };
    match rule.kind {
        AlertKind::BurnRate {
            long,
            short,
            burn,
            availability,
        } => {
            let threshold = burn * (1.0 - availability);
            let over = |ws: &[EdgeWindow]| {
                let failed: u64 = ws.iter().map(|w| w.failed).sum();
                let ended: u64 = ws.iter().map(|w| w.succeeded + w.failed).sum();
                ended > 0 && failed as f64 / ended as f64 > threshold
            };
            over(last(long)) && short.is_none_or(|short| over(last(short)))
        }
        AlertKind::Latency {
            quantile,
            above,
            window: look_back,
        } => {
            let ws = last(look_back);
            let succeeded: u64 = ws.iter().map(|w| w.succeeded).sum();
            let slower: u64 = ws
                .iter()
                .flat_map(|w| w.slower_than.iter())
                .filter(|&&(t, _)| t == above)
                .map(|&(_, n)| n)
                .sum();
            succeeded > 0 && slower as f64 / succeeded as f64 > 1.0 - quantile
        }
    }
}

/// A duration in PromQL's syntax (`90s`, `1500ms`).
fn promql_duration(nanos: u64) -> String {
    let millis = nanos / 1_000_000;
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

/// The end-to-end requests' selector in the `--openmetrics` series.
const ENTRY: &str = istio::ENTRY_SELECTOR;

/// The rule's condition as PromQL over the series `meshsim run --openmetrics` writes.
pub fn promql(rule: &AlertRule) -> String {
    match rule.kind {
        AlertKind::BurnRate {
            long,
            short,
            burn,
            availability,
        } => {
            let ratio = |range: u64| {
                let range = promql_duration(range);
                format!(
                    "(sum(increase(istio_requests_total{{{ENTRY},response_code=~\"5..\"}}[{range}])) \
                     / sum(increase(istio_requests_total{{{ENTRY}}}[{range}])))"
                )
            };
            let threshold = format!("{} * (1 - {})", burn, availability);
            let long_part = format!("{} > {threshold}", ratio(long));
            match short {
                Some(short) => format!("{long_part} and {} > {threshold}", ratio(short)),
                None => long_part,
            }
        }
        AlertKind::Latency {
            quantile,
            above,
            window,
        } => {
            let range = promql_duration(window);
            match istio::bucket_bound(above) {
                // The share at or below a bucket bound is read exactly from the buckets.
                Some(le) => format!(
                    "(sum(increase(istio_request_duration_milliseconds_bucket{{{ENTRY},response_code=\"200\",le=\"{le}\"}}[{range}])) \
                     / sum(increase(istio_request_duration_milliseconds_count{{{ENTRY},response_code=\"200\"}}[{range}]))) < {quantile}"
                ),
                // Elsewhere only the interpolated quantile can be compared.
                None => format!(
                    "histogram_quantile({quantile}, sum by (le) (increase(istio_request_duration_milliseconds_bucket{{{ENTRY},response_code=\"200\"}}[{range}]))) > {}",
                    istio::millis_text(above)
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::time::SECOND;

    fn window(second: u64, succeeded: u64, failed: u64) -> EdgeWindow {
        EdgeWindow {
            start: second * SECOND,
            end: (second + 1) * SECOND,
            arrivals: succeeded + failed,
            succeeded,
            failed,
            latency: vec![],
            slower_than: vec![(200_000_000, failed)],
        }
    }

    fn burn_rule(long: u64, short: Option<u64>, hold: u64) -> AlertRule {
        AlertRule {
            name: "page".into(),
            kind: AlertKind::BurnRate {
                long: long * SECOND,
                short: short.map(|s| s * SECOND),
                burn: 10.0,
                availability: 0.99,
            },
            hold: hold * SECOND,
        }
    }

    /// 100 requests a second; 20 fail a second during [10 s, 20 s).
    fn windows() -> Vec<EdgeWindow> {
        (0..40)
            .map(|s| {
                if (10..20).contains(&s) {
                    window(s, 80, 20)
                } else {
                    window(s, 100, 0)
                }
            })
            .collect()
    }

    #[test]
    fn burn_rate_fires_when_both_windows_exceed_and_resolves_with_the_short_one() {
        // Threshold 10 × 1% = 10%. Long window 10 s: after k bad windows the ratio is
        // 20k / 1000, above 10% from k = 6, i.e. at the end of window 15 (t = 16 s). The short
        // window (2 s) is at 20% from t = 11 s. It resolves when the short window's ratio is no
        // longer above 10%: at t = 21 s it holds windows 19 (20%) and 20 (0%), 10%.
        let spans = firings(&burn_rule(10, Some(2), 0), SECOND, &windows());
        assert_eq!(
            spans,
            vec![FiringSpan {
                fired_at: 16 * SECOND,
                resolved_at: Some(21 * SECOND)
            }]
        );
        // The long window alone stays above 10% until fewer than 6 bad windows remain in it:
        // at t = 25 s the window (15, 25] holds 5.
        let spans = firings(&burn_rule(10, None, 0), SECOND, &windows());
        assert_eq!(spans[0].resolved_at, Some(25 * SECOND));
        // `for` 3 s: pending from 16 s, fires at 19 s.
        let spans = firings(&burn_rule(10, Some(2), 3), SECOND, &windows());
        assert_eq!(spans[0].fired_at, 19 * SECOND);
    }

    #[test]
    fn latency_rule_compares_the_share_above_the_threshold() {
        let rule = AlertRule {
            name: "slow".into(),
            kind: AlertKind::Latency {
                quantile: 0.9,
                above: 200_000_000,
                window: 2 * SECOND,
            },
            hold: 0,
        };
        // 20 of 80 succeeded are slower (25% > 10%) from window 10 on.
        let spans = firings(&rule, SECOND, &windows());
        assert_eq!(spans[0].fired_at, 11 * SECOND);
        assert_eq!(spans[0].resolved_at, Some(22 * SECOND));
    }

    #[test]
    fn promql_of_a_burn_rate_rule() {
        let text = promql(&burn_rule(3600, Some(300), 0));
        assert!(text.contains("[3600s]") && text.contains("[300s]"));
        assert!(text.contains(" and "));
        assert!(text.contains("> 10 * (1 - 0.99)"));
    }
}
