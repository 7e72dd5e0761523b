//! How a run's requests read as Istio's standard metrics: the response code and Envoy response
//! flags of each outcome, the duration histogram's buckets, the labels that name the load
//! generator. Shared by `meshsim run --openmetrics` (which writes the series) and the alert
//! rules' PromQL twins (which query them).

use crate::model::Outcome;

/// Upper bounds of `istio_request_duration_milliseconds`' buckets, milliseconds: Envoy's
/// default histogram buckets (`HistogramStatisticsImpl::supportedBuckets`), which Istio's
/// standard metrics use unless a mesh overrides them.
pub const BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// The same bounds, nanoseconds (exact: every bound is a whole number of microseconds).
pub const BUCKETS_NANOS: [u64; 19] = [
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
    60_000_000_000,
    300_000_000_000,
    600_000_000_000,
    1_800_000_000_000,
    3_600_000_000_000,
];

/// `source_workload_namespace` of the load generators (the workloads): the end-to-end requests.
pub const LOAD_NAMESPACE: &str = "meshsim-load";

/// `destination_workload_namespace` etc. of the services.
pub const SERVICE_NAMESPACE: &str = "default";

/// PromQL label matchers that select the end-to-end requests.
pub const ENTRY_SELECTOR: &str = "reporter=\"source\",source_workload_namespace=\"meshsim-load\"";

/// The HTTP status and Envoy response flags (`%RESPONSE_FLAGS%`) a caller's proxy reports for
/// an outcome.
pub fn response(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Succeeded => ("200", "-"),
        // Envoy's router gave up waiting: 504 with UT (upstream request timeout).
        Outcome::Timeout => ("504", "UT"),
        // Nobody answered the connection: 503 with UF (upstream connection failure).
        Outcome::Refused => ("503", "UF"),
        // The server answered with its own error: passed through, no flag.
        Outcome::Error => ("500", "-"),
        // The server's queue (its pending-request limit) overflowed: 503 with UO (overflow).
        Outcome::Rejected => ("503", "UO"),
        // A client-side breaker refused: as Envoy with every host ejected by outlier
        // detection, 503 with UH (no healthy upstream); UH keeps it apart from a rejection.
        Outcome::CircuitOpen => ("503", "UH"),
    }
}

/// The `le` label of the bucket bound equal to `nanos`, if it is one (e.g. `250.0`).
pub fn bucket_bound(nanos: u64) -> Option<String> {
    BUCKETS_NANOS
        .iter()
        .position(|&b| b == nanos)
        .map(|i| format_le(BUCKETS_MS[i]))
}

/// A bound in OpenMetrics' canonical float form: `1.0`, `0.5`, `3600000.0`.
pub fn format_le(millis: f64) -> String {
    if millis.fract() == 0.0 {
        format!("{millis:.1}")
    } else {
        format!("{millis}")
    }
}

/// Nanoseconds as milliseconds, exactly (up to six decimals, trailing zeros dropped).
pub fn millis_text(nanos: u64) -> String {
    let whole = nanos / 1_000_000;
    let fraction = nanos % 1_000_000;
    if fraction == 0 {
        whole.to_string()
    } else {
        let digits = format!("{fraction:06}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree_and_read_canonically() {
        for (ms, ns) in BUCKETS_MS.iter().zip(BUCKETS_NANOS) {
            assert_eq!((ms * 1e6) as u64, ns);
        }
        assert_eq!(bucket_bound(250_000_000).as_deref(), Some("250.0"));
        assert_eq!(bucket_bound(500_000).as_deref(), Some("0.5"));
        assert_eq!(bucket_bound(200_000_000), None);
        assert_eq!(millis_text(1_500_000), "1.5");
        assert_eq!(millis_text(7), "0.000007");
        assert_eq!(millis_text(200_000_000), "200");
    }

    #[test]
    fn every_failure_is_a_5xx_and_each_outcome_reads_apart() {
        let mut seen = Vec::new();
        for outcome in Outcome::ALL {
            let (code, flags) = response(outcome);
            assert_eq!(outcome == Outcome::Succeeded, !code.starts_with('5'));
            assert!(
                !seen.contains(&(code, flags)),
                "{outcome:?} reads like another"
            );
            seen.push((code, flags));
        }
    }
}
