//! The summary a person reads at a glance in a terminal.

use super::summary::ServiceSummary;
use super::Summary;
use crate::analysis::slo::{format_number, SloReport};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Services the terminal table lists by default; the rest are summed on one line.
pub const DEFAULT_SERVICES: usize = 20;

/// A few lines: load, availability with failures by kind, latency, and the busiest services
/// (at most `DEFAULT_SERVICES`).
pub fn render(summary: &Summary) -> String {
    render_limited(summary, Some(DEFAULT_SERVICES))
}

/// [`render`] listing at most `max_services` services (`None`: every one): the failing ones
/// first, then the busiest; the others are summed on one line, so that a 1,000-service run
/// prints a screen, not a thousand lines.
pub fn render_limited(summary: &Summary, max_services: Option<usize>) -> String {
    let mut text = String::new();
    let requests = &summary.requests;
    let outcomes = &requests.outcomes;
    let _ = writeln!(
        text,
        "{}  seed {}  {} s measured ({} s warm-up)",
        summary.scenario,
        summary.seed,
        summary.duration_s - summary.warmup_s,
        summary.warmup_s
    );
    let _ = writeln!(
        text,
        "  requests      {} offered ({:.1}/s), {} succeeded, {} failed",
        requests.offered, summary.offered_rate, requests.succeeded, requests.failed
    );
    let _ = writeln!(
        text,
        "  availability  {}",
        super::format::availability(summary.availability)
    );
    if requests.failed > 0 {
        let kinds = [
            ("timeout", outcomes.timeout),
            ("refused", outcomes.refused),
            ("error", outcomes.error),
            ("rejected", outcomes.rejected),
            ("circuit_open", outcomes.circuit_open),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let _ = writeln!(text, "  failures      {}", parts.join(", "));
        text.push_str(&render_root_causes(&requests.root_causes));
    }
    let latency = &summary.latency_ms;
    let _ = writeln!(
        text,
        "  latency (ms)  mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        latency.mean, latency.p50, latency.p90, latency.p99, latency.p999, latency.max
    );
    if let Some(slo) = &summary.slo {
        text.push_str(&render_slo(slo));
    }
    // Left: what reached its replicas; right: the tries its callers sent and how many of
    // those failed as they saw them (refused by a crashed replica, timed out, ...), so that
    // the tries that never reached a replica show beside the ones that did.
    let _ = writeln!(
        text,
        "  {:<20} {:>10} {:>10} {:>9} {:>10} {:>10} {:>10} {:>10}",
        "service", "requests", "succeeded", "util", "p50 ms", "p99 ms", "sent", "sent fail"
    );
    let shown = shown_services(summary, max_services);
    for (name, service) in summary
        .services
        .iter()
        .filter(|(name, _)| shown.contains(name.as_str()))
    {
        let sent = sent_tries(service);
        let _ = writeln!(
            text,
            "  {:<20} {:>10} {:>10} {:>8.1}% {:>10.3} {:>10.3} {:>10} {:>10}",
            name,
            service.requests,
            service.succeeded,
            service.utilization * 100.0,
            service.latency_ms.p50,
            service.latency_ms.p99,
            sent,
            sent - service.tries.succeeded.min(sent)
        );
    }
    let hidden: Vec<&ServiceSummary> = summary
        .services
        .iter()
        .filter(|(name, _)| !shown.contains(name.as_str()))
        .map(|(_, service)| service)
        .collect();
    if !hidden.is_empty() {
        let requests: u64 = hidden.iter().map(|s| s.requests).sum();
        let succeeded: u64 = hidden.iter().map(|s| s.succeeded).sum();
        let busiest = hidden.iter().map(|s| s.utilization).fold(0.0, f64::max);
        let _ = writeln!(
            text,
            "  {:<20} {:>10} {:>10} {:>8.1}%  (the most of them; --services all lists them)",
            format!("{} more services", hidden.len()),
            requests,
            succeeded,
            busiest * 100.0,
        );
    }
    text
}

/// The tries sent to a service, as its callers saw them end (succeeded or failed).
fn sent_tries(service: &ServiceSummary) -> u64 {
    let failures = &service.tries.failures;
    service.tries.succeeded
        + failures.timeout
        + failures.refused
        + failures.error
        + failures.rejected
        + failures.circuit_open
}

/// Root causes listed in the terminal; the rest are summed on one line.
pub const TERMINAL_ROOT_CAUSES: usize = 5;

/// The failed requests by root cause, most frequent first: `1,113  refused by article#0 (...)`.
pub fn render_root_causes(causes: &[super::summary::RootCause]) -> String {
    let mut text = String::new();
    for (index, cause) in causes.iter().take(TERMINAL_ROOT_CAUSES).enumerate() {
        let _ = writeln!(
            text,
            "  {:<13} {:>9}  {}",
            if index == 0 { "root causes" } else { "" },
            super::format::count(cause.requests),
            cause.label
        );
    }
    if causes.len() > TERMINAL_ROOT_CAUSES {
        let rest = &causes[TERMINAL_ROOT_CAUSES..];
        let requests: u64 = rest.iter().map(|c| c.requests).sum();
        let _ = writeln!(
            text,
            "  {:<13} {:>9}  in {} other causes (summary.json: requests.root_causes)",
            "",
            super::format::count(requests),
            rest.len()
        );
    }
    text
}

/// Failures of a service: tries its callers saw fail (refusals included, which never reached
/// a replica) or, if more, tries it received that did not succeed.
fn failures(service: &ServiceSummary) -> u64 {
    let seen = &service.tries.failures;
    let by_callers = seen.timeout + seen.refused + seen.error + seen.rejected + seen.circuit_open;
    by_callers.max(service.requests.saturating_sub(service.succeeded))
}

/// The names of the services the table lists: all of them within `max`, else the `max` with
/// the most failures, then the highest utilisation, then the most tries (ties by name).
fn shown_services(summary: &Summary, max: Option<usize>) -> BTreeSet<&str> {
    let mut ranked: Vec<(&String, &ServiceSummary)> = summary.services.iter().collect();
    let max = max.unwrap_or(ranked.len());
    if ranked.len() > max {
        ranked.sort_by(|(a_name, a), (b_name, b)| {
            failures(b)
                .cmp(&failures(a))
                .then(b.utilization.total_cmp(&a.utilization))
                .then(b.requests.cmp(&a.requests))
                .then(a_name.cmp(b_name))
        });
        ranked.truncate(max);
    }
    ranked.into_iter().map(|(name, _)| name.as_str()).collect()
}

/// The terminal lines: one for the targets, one per fault.
pub fn render_slo(report: &SloReport) -> String {
    let mut text = String::new();
    let mut parts = Vec::new();
    if let Some(a) = &report.availability {
        let mut part = format!(
            "availability {:.4}% (target {}%) {}",
            a.actual * 100.0,
            format_number(a.target * 100.0),
            if a.met { "ok" } else { "MISSED" }
        );
        match a.error_budget_burned {
            Some(burned) => {
                let _ = write!(part, ", error budget burned {:.1}%", burned * 100.0);
            }
            None => part.push_str(", error budget exhausted"),
        }
        parts.push(part);
    }
    for l in &report.latency {
        parts.push(format!(
            "{} {:.3} ms (target {} ms) {}",
            l.percentile,
            l.actual_ms,
            format_number(l.target_ms),
            if l.met { "ok" } else { "MISSED" }
        ));
    }
    let verdict = if report.met { "met" } else { "NOT met" };
    let _ = writeln!(text, "  slo           {verdict}: {}", parts.join("; "));
    for f in &report.faults {
        let _ = writeln!(
            text,
            "  fault {:<7} {} {} at {} s: {}, {}",
            f.fault,
            f.kind,
            f.target,
            format_number(f.at_s),
            f.detection_text(),
            f.recovery_text()
        );
    }
    text
}
