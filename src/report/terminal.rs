//! The summary a person reads at a glance in a terminal.

use super::Summary;
use std::fmt::Write;

/// A few lines: load, availability with failures by kind, latency, and the busiest services.
pub fn render(summary: &Summary) -> String {
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
    let _ = writeln!(text, "  availability  {:.4}%", summary.availability * 100.0);
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
    }
    let latency = &summary.latency_ms;
    let _ = writeln!(
        text,
        "  latency (ms)  mean {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        latency.mean, latency.p50, latency.p90, latency.p99, latency.p999, latency.max
    );
    if let Some(slo) = &summary.slo {
        text.push_str(&super::slo::render_terminal(slo));
    }
    let _ = writeln!(
        text,
        "  {:<20} {:>10} {:>10} {:>9} {:>10} {:>10}",
        "service", "requests", "succeeded", "util", "p50 ms", "p99 ms"
    );
    for (name, service) in &summary.services {
        let _ = writeln!(
            text,
            "  {:<20} {:>10} {:>10} {:>8.1}% {:>10.3} {:>10.3}",
            name,
            service.requests,
            service.succeeded,
            service.utilization * 100.0,
            service.latency_ms.p50,
            service.latency_ms.p99
        );
    }
    text
}
