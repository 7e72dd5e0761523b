//! The `meshsim` binary: what `run` writes, what `validate` says, exit statuses, and how bad input
//! is reported (status 2, `FILE:LINE:COLUMN: message` on stderr, no panic, no report folder).
//!
//! Scenario files are written into temporary folders; expected lines and columns are computed
//! from the text written, not copied from the program's output.

use crate::common::{meshsim, temp_dir, write_file};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A small valid scenario with a fault, so that every output file has rows.
const GOOD: &str = r#"[scenario]
name = "cli-good"
seed = 5
duration = "4s"
warmup = "1s"

[network]
latency = "const(0.25ms)"

[[service]]
name = "front"
replicas = 2
workers = 8
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
replicas = 2
workers = 4
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "front"
rate = 200

[[fault]]
at = "2s"
for = "1s"
kind = "crash"
target = "back#0"
"#;

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Runs `meshsim run FILE --out DIR`; returns the output and DIR.
fn run_into(dir: &Path, file: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("report");
    let mut args = vec!["run", arg(file), "--out", arg(&out)];
    args.extend_from_slice(extra);
    (meshsim(&args), out)
}

/// 1-based line and column (in characters) of `offset` bytes into the first occurrence of
/// `needle` in `text`.
fn position_of(text: &str, needle: &str, offset: usize) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the test file"))
        + offset;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |p| p + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The common checks of a rejected run: status 2, no panic, no report folder; returns stderr.
fn assert_rejected(output: &Output, out: &Path) -> String {
    let (stdout, stderr) = text(output);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit status; stderr:\n{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stdout.contains("panicked"),
        "panic:\n{stderr}"
    );
    assert!(!stderr.trim().is_empty(), "no message on stderr");
    assert!(!out.join("summary.json").exists(), "a summary was written");
    assert!(
        !out.exists(),
        "the report folder {} was created",
        out.display()
    );
    stderr
}

/// Writes `text` as `name` in a fresh folder, runs it, checks it is rejected with a message at
/// `FILE:LINE:COLUMN:` where LINE is `line` and COLUMN one of `columns`; returns that message.
fn assert_rejected_at(
    test: &str,
    name: &str,
    text: &str,
    line: usize,
    columns: &[usize],
) -> String {
    let dir = temp_dir(test);
    let file = write_file(&dir, name, text.as_bytes());
    let (output, out) = run_into(&dir, &file, &[]);
    let stderr = assert_rejected(&output, &out);
    let prefix = format!("{}:{line}:", file.display());
    let message = stderr
        .lines()
        .find_map(|l| l.find(&prefix).map(|at| &l[at + prefix.len()..]))
        .unwrap_or_else(|| panic!("no message at {prefix} in:\n{stderr}"));
    let (column, rest) = message.split_once(':').expect("FILE:LINE:COLUMN: message");
    let column: usize = column
        .parse()
        .unwrap_or_else(|_| panic!("column in {message:?}"));
    assert!(
        columns.contains(&column),
        "column {column}, expected one of {columns:?}:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    rest.trim().to_string()
}

fn json_at<'v>(value: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(value, |node, key| {
        node.get(key)
            .unwrap_or_else(|| panic!("summary.json lacks {path}"))
    })
}

fn number_at(value: &Value, path: &str) -> f64 {
    json_at(value, path)
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number"))
}

// ----- a good run ---------------------------------------------------------------------------

#[test]
fn run_writes_summary_timeseries_and_events() {
    let dir = temp_dir("cli-run");
    let file = write_file(&dir, "good.toml", GOOD.as_bytes());
    let (output, out) = run_into(&dir, &file, &["--quiet"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");

    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
            .expect("summary.json is JSON");
    // Every key of the spec's minimum, with its type.
    assert_eq!(json_at(&summary, "scenario"), "cli-good");
    assert_eq!(json_at(&summary, "seed"), 5);
    let mut paths = vec![
        "requests.offered",
        "requests.succeeded",
        "requests.failed",
        "availability",
        "latency_ms.mean",
        "latency_ms.p50",
        "latency_ms.p90",
        "latency_ms.p99",
        "latency_ms.p999",
        "latency_ms.max",
    ];
    let outcomes = ["timeout", "refused", "error", "rejected", "circuit_open"];
    let outcome_paths: Vec<String> = outcomes
        .iter()
        .map(|o| format!("requests.outcomes.{o}"))
        .collect();
    paths.extend(outcome_paths.iter().map(String::as_str));
    let mut service_paths = Vec::new();
    for service in ["front", "back"] {
        for key in [
            "requests",
            "succeeded",
            "utilization",
            "latency_ms.mean",
            "latency_ms.p50",
            "latency_ms.p99",
        ] {
            service_paths.push(format!("services.{service}.{key}"));
        }
    }
    paths.extend(service_paths.iter().map(String::as_str));
    for path in &paths {
        number_at(&summary, path);
    }
    // The figures hang together.
    let offered = number_at(&summary, "requests.offered");
    let succeeded = number_at(&summary, "requests.succeeded");
    let failed = number_at(&summary, "requests.failed");
    let outcome_sum: f64 = outcome_paths.iter().map(|p| number_at(&summary, p)).sum();
    assert_eq!(succeeded + failed, offered);
    assert_eq!(failed, outcome_sum);
    assert!((number_at(&summary, "availability") - succeeded / offered).abs() < 1e-12);
    // Poisson arrivals at 200/s over the 3 measured seconds: 600, sd 24.5; 5 sd = 123.
    assert!((offered - 600.0).abs() <= 123.0, "offered {offered}");
    // The crash of back#0 (oracle registry) may refuse a few requests, not more.
    assert!(failed <= 5.0, "failed {failed}");

    // timeseries.csv: the spec's columns, a row per window and service.
    let timeseries = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let mut lines = timeseries.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    for column in [
        "arrivals",
        "succeeded",
        "timeout",
        "refused",
        "error",
        "rejected",
        "p50_ms",
        "p99_ms",
        "in_flight",
        "busy_workers",
        "queue_length",
        "retries",
    ] {
        assert!(
            header.contains(&column),
            "timeseries.csv lacks {column}: {header:?}"
        );
    }
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == header.len()), "ragged rows");
    // 4 one-second windows, 2 services.
    assert!(rows.len() >= 8, "{} rows", rows.len());
    let service_column = header
        .iter()
        .position(|&c| c == "service")
        .expect("a service column");
    for service in ["front", "back"] {
        assert!(
            rows.iter().any(|r| r[service_column] == service),
            "no rows for {service}"
        );
    }

    // events.csv: the fault's start and end with their times (other events, e.g. registry
    // changes, may be listed too).
    let events = std::fs::read_to_string(out.join("events.csv")).expect("events.csv");
    let rows: Vec<&str> = events
        .lines()
        .skip(1)
        .filter(|row| row.contains(",fault_"))
        .collect();
    assert_eq!(rows.len(), 2, "events.csv:\n{events}");
    for (row, seconds) in rows.iter().zip([2.0, 3.0]) {
        assert!(row.contains("back#0") && row.contains("crash"), "{row}");
        let time: f64 = row
            .split(',')
            .next()
            .and_then(|t| t.parse().ok())
            .expect("time first");
        assert_eq!(time, seconds, "{row}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn seed_flag_sets_the_summarys_seed() {
    let dir = temp_dir("cli-seed");
    let file = write_file(&dir, "good.toml", GOOD.as_bytes());
    let (output, out) = run_into(&dir, &file, &["--seed", "987654321", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(json_at(&summary, "seed"), 987_654_321u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn set_flag_overrides_a_value_of_the_file() {
    let dir = temp_dir("cli-set");
    let file = write_file(&dir, "good.toml", GOOD.as_bytes());
    let (output, out) = run_into(
        &dir,
        &file,
        &["--set", "workload.load.rate=2000", "--quiet"],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    // 2000/s over 3 measured seconds: 6000, sd 77; 5 sd = 387 (the file's 200/s would give 600).
    let offered = number_at(&summary, "requests.offered");
    assert!((offered - 6000.0).abs() <= 387.0, "offered {offered}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_accepts_a_good_file() {
    let dir = temp_dir("cli-validate");
    let file = write_file(&dir, "good.toml", GOOD.as_bytes());
    let output = meshsim(&["validate", arg(&file)]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(stdout.contains("ok"), "{stdout}");
    // And rejects a bad one with status 2 and a position.
    let bad = write_file(
        &dir,
        "bad.toml",
        GOOD.replace("replicas = 2", "replicas = 0").as_bytes(),
    );
    let output = meshsim(&["validate", arg(&bad)]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    let (line, _) = position_of(
        &GOOD.replace("replicas = 2", "replicas = 0"),
        "replicas = 0",
        0,
    );
    assert!(
        stderr.contains(&format!("{}:{line}:", bad.display())),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_names_the_subcommands_and_flags() {
    let output = meshsim(&["--help"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    for word in ["run", "validate"] {
        assert!(stdout.contains(word), "--help lacks {word}:\n{stdout}");
    }
    let output = meshsim(&["run", "--help"]);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0));
    for word in ["SCENARIO", "--out", "--seed", "--set"] {
        assert!(stdout.contains(word), "run --help lacks {word}:\n{stdout}");
    }
}

// ----- bad input: one test per class ----------------------------------------------------------

#[test]
fn bad_toml_syntax_is_reported_at_its_line() {
    let bad = GOOD.replace("duration = \"4s\"", "duration = \"4s");
    let (line, column) = position_of(&bad, "duration = \"4s", 0);
    // Anywhere from the opening quote to the end of the line names the unterminated string.
    let columns: Vec<usize> = (column + 11..=column + 14).collect();
    let message = assert_rejected_at("cli-syntax", "syntax.toml", &bad, line, &columns);
    assert!(!message.is_empty());
}

#[test]
fn unknown_key_is_reported_with_a_suggestion() {
    let bad = GOOD.replacen("workers = 8", "wokers = 8", 1);
    let (line, column) = position_of(&bad, "wokers", 0);
    let message = assert_rejected_at("cli-unknown-key", "unknown.toml", &bad, line, &[column]);
    assert!(
        message.contains("wokers")
            && message.contains("did you mean")
            && message.contains("workers"),
        "{message}"
    );
}

#[test]
fn bare_number_duration_is_refused() {
    let bad = GOOD.replace("duration = \"4s\"", "duration = 4");
    let (line, column) = position_of(&bad, "duration = 4", 0);
    // At the key or at the value.
    let message = assert_rejected_at("cli-bare", "bare.toml", &bad, line, &[column, column + 11]);
    assert!(message.contains("unit"), "{message}");
}

#[test]
fn bad_distribution_is_refused() {
    let bad = GOOD.replacen(
        "service_time = \"exp(1ms)\"",
        "service_time = \"expo(1ms)\"",
        1,
    );
    let (line, column) = position_of(&bad, "\"expo(1ms)\"", 0);
    // At the value's opening quote or at the distribution's name inside it.
    let message = assert_rejected_at("cli-dist", "dist.toml", &bad, line, &[column, column + 1]);
    assert!(message.contains("expo"), "{message}");
}

#[test]
fn unknown_call_target_is_refused() {
    let bad = GOOD.replace("calls = [\"back\"]", "calls = [\"bakc\"]");
    let (line, column) = position_of(&bad, "\"bakc\"", 0);
    let message = assert_rejected_at(
        "cli-target",
        "target.toml",
        &bad,
        line,
        &[column, column + 1],
    );
    assert!(message.contains("bakc"), "{message}");
}

#[test]
fn call_cycle_is_refused() {
    let bad = GOOD.replace(
        "workers = 4\nservice_time = \"exp(1ms)\"\n",
        "workers = 4\nservice_time = \"exp(1ms)\"\ncalls = [\"front\"]\n",
    );
    assert_ne!(bad, GOOD);
    // Reported at one of the cycle's two calls (the value or the name inside it).
    let dir = temp_dir("cli-cycle");
    let file = write_file(&dir, "cycle.toml", bad.as_bytes());
    let (output, out) = run_into(&dir, &file, &[]);
    let stderr = assert_rejected(&output, &out);
    let sites = [
        position_of(&bad, "\"back\"]", 0),
        position_of(&bad, "\"front\"]", 0),
    ];
    let found = sites.iter().any(|&(line, column)| {
        [column, column + 1]
            .iter()
            .any(|c| stderr.contains(&format!("{}:{line}:{c}: ", file.display())))
    });
    assert!(
        found,
        "no message at either call of the cycle {sites:?}:\n{stderr}"
    );
    assert!(
        stderr.contains("cycle") && stderr.contains("front") && stderr.contains("back"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zero_replicas_are_refused() {
    let bad = GOOD.replacen("replicas = 2", "replicas = 0", 1);
    let (line, column) = position_of(&bad, "replicas = 0", 0);
    let message = assert_rejected_at("cli-zero", "zero.toml", &bad, line, &[column, column + 11]);
    assert!(message.contains("replicas"), "{message}");
}

#[test]
fn missing_file_is_reported_by_name() {
    let dir = temp_dir("cli-missing");
    let file = dir.join("nowhere.toml");
    let (output, out) = run_into(&dir, &file, &[]);
    let stderr = assert_rejected(&output, &out);
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    // There is no position in a file that does not exist.
    assert!(
        !stderr.contains(&format!("{}:1:", file.display())),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_file_is_refused_without_panic() {
    let dir = temp_dir("cli-binary");
    let cases: [(&str, &[u8]); 3] = [
        (
            "nul.toml",
            b"[scenario]\nname = \"x\0y\"\nduration = \"1s\"\n",
        ),
        (
            "latin1.toml",
            b"[scenario]\nname = \"caf\xe9\"\nduration = \"1s\"\n",
        ),
        (
            "noise.bin",
            &[
                0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe, 0x00, 0x01, 0x80, 0x9c, b'\n', 0xc3,
            ],
        ),
    ];
    for (name, bytes) in cases {
        let file = write_file(&dir, name, bytes);
        let out = dir.join(format!("report-{name}"));
        let output = meshsim(&["run", arg(&file), "--out", arg(&out)]);
        let stderr = assert_rejected(&output, &out);
        assert!(
            stderr.contains(&file.display().to_string()),
            "{name}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_set_naming_an_unknown_element_is_refused() {
    let dir = temp_dir("cli-bad-set");
    let file = write_file(&dir, "good.toml", GOOD.as_bytes());
    let (output, out) = run_into(&dir, &file, &["--set", "service.frnot.workers=2"]);
    let stderr = assert_rejected(&output, &out);
    assert!(
        stderr.contains("frnot") && stderr.contains("--set"),
        "{stderr}"
    );
    // Named as the --set the user typed (issue 16), not as a place in the file.
    assert!(
        stderr.contains("error: --set service.frnot.workers=2: "),
        "{stderr}"
    );
    // A --set that is not key=value at all, and a flag value of the wrong type, are argument
    // errors: status 2 too.
    for extra in [&["--set", "nonsense"][..], &["--seed", "minus-one"][..]] {
        let (output, out) = run_into(&dir, &file, extra);
        assert_rejected(&output, &out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
