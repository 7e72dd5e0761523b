//! Simulated time: an integer count of nanoseconds, never a float.

/// Nanoseconds in one microsecond.
pub const MICROSECOND: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const MILLISECOND: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const SECOND: u64 = 1_000_000_000;

/// Longest duration a model holds or a distribution draws, nanoseconds: 10,000 hours
/// (417 days). Scenario durations are refused above it and samples saturate at it, so that
/// sums of a few times (now + timeout + backoff ...) stay 500 times below `u64::MAX`.
pub const LONGEST: u64 = 10_000 * 3_600 * SECOND;

/// Nanoseconds as fractional milliseconds, for reports.
pub fn nanos_to_millis(nanos: f64) -> f64 {
    nanos / MILLISECOND as f64
}

/// Nanoseconds as fractional seconds, for reports.
pub fn nanos_to_seconds(nanos: u64) -> f64 {
    nanos as f64 / SECOND as f64
}
