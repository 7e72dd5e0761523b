//! The limits a scenario must keep, checked when it is read (exit status 2, with the file, line
//! and column of the value). Each keeps a run's memory bounded or its time arithmetic far from
//! overflow; each is far above what real systems use. `docs/limits.md` gives the reason for each.
//!
//! Times are `u64` nanoseconds (584 years at most). Every duration a scenario writes is at most
//! [`MAX_DURATION`] (10,000 hours, 3.6e16 ns), so that the simulator's sums of a few of them
//! (duration + timeout + backoff ...) stay 500 times below `u64::MAX`.

/// Longest duration a scenario may write (any key), nanoseconds: 10,000 hours (417 days).
pub const MAX_DURATION: u64 = crate::engine::time::LONGEST;

/// Most replicas of one service (`replicas`, a version's `replicas`, and the versions' together).
pub const MAX_REPLICAS_PER_SERVICE: u64 = 100_000;

/// Most replicas an autoscaled service may reach (`autoscale.min` and `autoscale.max`).
pub const MAX_AUTOSCALE_REPLICAS: u64 = 10_000;

/// Most replica slots over all services (starting replicas, or the autoscaler's maximum when
/// higher): each slot holds its state, its balancer clients and a row per window.
pub const MAX_REPLICAS_TOTAL: u64 = 1_000_000;

/// Most workers (concurrent requests) of one replica.
pub const MAX_WORKERS: u64 = 1_000_000;

/// Highest offered rate of one workload (`rate`, and every `schedule` rate), requests per
/// second: each request costs several events, and the simulator handles about 10 million
/// events per second of wall-clock time.
pub const MAX_RATE: f64 = 10_000_000.0;

/// Most users of one closed-loop workload (each has its own random stream).
pub const MAX_USERS: u64 = 1_000_000;

/// Most retries of one call (`retries.max`).
pub const MAX_RETRIES: u64 = 100;

/// Most tries one end-to-end request may cause, counted through the call graph: an endpoint's
/// own try, plus for each call (tries per call: 1 + retries + hedges) times the tries of the
/// endpoint it calls, recursively. A 128-call fan-out nested six deep (4.4e12 tries) is refused.
pub const MAX_TRIES_PER_REQUEST: f64 = 1_000_000.0;

/// Longest time-based circuit-breaker window and retry-budget `ttl`: one counter per second of
/// the span is kept per client, nanoseconds (one hour).
pub const MAX_COUNTER_SPAN: u64 = 3_600 * 1_000_000_000;

/// Most timeseries windows of a run, counting the drain after `duration` (up to the longest
/// timeout) and the default 1 s window.
pub const MAX_WINDOWS: u64 = 1_000_000;

/// Most rows `timeseries.csv` and `replicas.csv` may get together: windows × (services +
/// replica slots + 1). About 100 bytes a row: 10 GB.
pub const MAX_WINDOW_ROWS: u64 = 100_000_000;

/// Largest trace file (`arrival = "trace"`), bytes: 1 GiB, about 60 million rows. It is read
/// row by row, but only a regular file has a known end (`/dev/zero` is refused).
pub const MAX_TRACE_BYTES: u64 = 1 << 30;

/// Largest `empirical(...)` file, bytes: 64 MiB, about 8 million samples, held in memory.
pub const MAX_EMPIRICAL_BYTES: u64 = 64 << 20;

/// Largest scenario (or topology) file, bytes: 64 MiB, three thousand times the largest
/// scenario of the repository, and a 20,000-service mesh takes 2 MB.
pub const MAX_SCENARIO_BYTES: u64 = 64 << 20;

/// Most replications per variant of `meshsim compare` (`-r`, `[compare] replications`).
pub const MAX_REPLICATIONS: u64 = 10_000;

/// Most runs of one `meshsim compare` (variants × replications).
pub const MAX_COMPARE_RUNS: u64 = 1_000_000;

/// Most worker threads of `meshsim compare -j`.
pub const MAX_THREADS: u64 = 1_024;

/// Longest name (scenario, service, endpoint, workload), bytes: a file name's limit on common
/// file systems, since the scenario's name names its report folder.
pub const MAX_NAME_BYTES: usize = 255;

/// Why `name` cannot name a file in a folder, if it cannot: empty, `.` or `..`, a path
/// separator, a NUL or another control character, or longer than [`MAX_NAME_BYTES`].
pub fn file_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name == "." || name == ".." {
        return Some(format!("\"{name}\" is not a file name"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "is {} bytes long, at most {MAX_NAME_BYTES} (it names a file)",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || ['/', '\\'].contains(c))
    {
        return Some(format!(
            "must not contain {c:?} (it names a file: letters, digits, '-', '_', '.')"
        ));
    }
    None
}

/// Why `name` cannot be a scenario's `name`, as the scenario reader says it, if it cannot: the
/// rules of every name (no '/', '#' or surrounding spaces) and of a file name (it names the
/// report folder). Importers check a `--name` option with it before writing it into a scenario.
pub fn scenario_name_problem(name: &str) -> Option<String> {
    if !name.is_empty() && (name.trim() != name || name.contains('#')) {
        return Some(format!(
            "scenario name \"{name}\" must not contain '/', '#' or surrounding spaces"
        ));
    }
    file_name_problem(name)
        .map(|problem| format!("scenario name {problem} (it names the report folder)"))
}

/// Whether the file at `path` is a regular file no larger than `max_bytes`; else why not, the
/// file called `what` ("trace file") in the message.
pub fn check_input_file(path: &std::path::Path, max_bytes: u64, what: &str) -> Result<(), String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|error| format!("cannot read {what} \"{shown}\": {error}"))?;
    if !metadata.is_file() {
        return Err(format!(
            "{what} \"{shown}\" is not a regular file (devices, pipes and folders are refused)"
        ));
    }
    if metadata.len() > max_bytes {
        return Err(format!(
            "{what} \"{shown}\" is {} bytes, more than the limit of {max_bytes} bytes",
            metadata.len()
        ));
    }
    Ok(())
}

/// The bytes of the file at `path`, refused (as an error of kind `FileTooLarge`) past
/// `max_bytes` even if the file grew after it was checked.
pub fn read_at_most(path: &std::path::Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("more than {max_bytes} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_file_names_pass_and_others_are_refused() {
        for good in ["blog", "a.b-c_d", "zone outage", "é", &"x".repeat(255)] {
            assert_eq!(file_name_problem(good), None, "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            "a\0b",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(file_name_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn sums_of_limits_stay_far_from_overflow() {
        // duration + timeout + backoff + ... : 500 maximal durations still fit in u64.
        assert!(MAX_DURATION.checked_mul(500).is_some());
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_folders_are_not_input_files() {
        let zero = check_input_file(std::path::Path::new("/dev/zero"), 1 << 30, "trace file");
        assert!(zero.unwrap_err().contains("not a regular file"));
        assert!(check_input_file(std::path::Path::new("/"), 1 << 30, "x").is_err());
        let dir = std::env::temp_dir().join(format!("meshsim-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ten.txt");
        std::fs::write(&file, "0123456789").unwrap();
        assert!(check_input_file(&file, 10, "x").is_ok());
        assert!(check_input_file(&file, 9, "x")
            .unwrap_err()
            .contains("10 bytes"));
        assert_eq!(read_at_most(&file, 10).unwrap().len(), 10);
        assert!(read_at_most(&file, 9).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
