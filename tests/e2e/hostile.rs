//! Hostile input and long runs through the `meshsim` binary (issue 17): each case found by
//! mutated scenarios, extreme values and concurrent runs, with the behaviour it must have now.
//!
//! The issue's list, case by case, and the test that holds it:
//! - aborts on memory exhaustion: `replicas = 4294967295`, a `trace` or `empirical` file that
//!   is `/dev/zero`, a 128-call fan-out nested six deep, `rate = 1e9`, a breaker
//!   `window = "100000h"`, more windows than the cap (with the drain, with the default window):
//!   [`inputs_that_aborted_are_refused_at_validation_with_exit_2`]; `compare -r 1000000000`:
//!   [`compare_refuses_absurd_replications_and_threads`]; the report stage of a run of a
//!   million windows: [`a_report_of_a_million_windows_is_streamed_in_bounded_memory`];
//! - runs that never end: [`a_zero_time_loop_ends_with_its_cause_and_no_report`];
//! - silently wrong output: a timeout near `u64::MAX` ns (refused at validation; the largest
//!   accepted one drops no request): [`the_longest_timeout_accepted_drops_no_request`];
//!   percentiles above the maximum:
//!   [`constant_service_times_give_percentiles_no_higher_than_the_maximum`];
//!   `pareto(shape=1e-300)`:
//!   [`pareto_with_a_vanishing_shape_times_out_instead_of_answering_in_no_time`];
//! - memory that is not flat: a replica hung under a 1000 h timeout:
//!   [`a_replica_hung_under_a_long_timeout_keeps_memory_flat`]; the drain and the default
//!   window counted against the window cap: in the validation table;
//! - files: `name = ".."`, `"."`, NUL and 300-character names: in the validation table; two
//!   runs into one `--out`:
//!   [`a_second_run_into_a_folder_being_written_is_refused_and_the_first_is_whole`]; partial
//!   files of killed runs: [`partial_files_a_killed_run_left_are_removed_by_the_next_run`];
//! - found by a later sweep (2026-12-07, evening): a comparison with a variant that never
//!   succeeds panicked, [`a_comparison_with_a_variant_that_never_succeeds_is_written_whole`];
//!   a forged sweep plan half-wrote a merge,
//!   [`merge_refuses_a_plan_with_shared_or_unsafe_slugs_and_writes_nothing`]; a failed trace
//!   import left its files, [`a_trace_import_that_fails_its_check_leaves_nothing_behind`];
//!   1 ns timer periods made runs that never end,
//!   [`timer_periods_under_a_millisecond_are_refused_at_their_line`];
//! - slow validation: the unit test
//!   `scenario::limits_tests::a_chain_of_twenty_thousand_services_validates_in_linear_time`.

use super::common::{meshsim, meshsim_with_env, run_summary, temp_dir, write_file};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small valid scenario; `EXTRA` is replaced by extra lines of its service.
const SMALL: &str = r#"[scenario]
name = "NAME"
duration = "2s"

[[service]]
name = "api"
service_time = "SERVICE_TIME"
EXTRA

[[workload]]
target = "api"
rate = 100
"#;

fn scenario(name: &str, service_time: &str, extra: &str) -> String {
    SMALL
        .replace("NAME", name)
        .replace("SERVICE_TIME", service_time)
        .replace("EXTRA", extra)
}

/// Seven services, each calling the next with 128 parallel calls: 128^6 tries per request.
fn fan_out_six_deep() -> String {
    let mut text = String::from("[scenario]\nname = \"t\"\nduration = \"1s\"\n");
    for level in 0..7 {
        text.push_str(&format!(
            "[[service]]\nname = \"l{level}\"\nservice_time = \"const(1us)\"\n"
        ));
        if level < 6 {
            let calls: Vec<String> = (0..128).map(|_| format!("\"l{}\"", level + 1)).collect();
            text.push_str(&format!("calls = [[{}]]\n", calls.join(", ")));
        }
    }
    text.push_str("[[workload]]\ntarget = \"l0\"\nrate = 1\n");
    text
}

/// Runs `meshsim args` with [`meshsim::cli::PEAK_RSS_VARIABLE`] set; returns the output and
/// the peak resident memory it printed, in MB.
fn meshsim_peak_rss(args: &[&str]) -> (std::process::Output, f64) {
    let output = meshsim_with_env(args, &[(meshsim::cli::PEAK_RSS_VARIABLE, "1")]);
    let error = stderr(&output);
    let kilobytes: f64 = error
        .lines()
        .find_map(|line| line.strip_prefix("meshsim: peak RSS "))
        .and_then(|rest| rest.strip_suffix(" kB"))
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS line: {error}"));
    (output, kilobytes / 1024.0)
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts exit status 2, no panic, and that standard error holds `text`.
fn refused_with(output: &std::process::Output, text: &str) {
    let error = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    assert!(!error.contains("panicked"), "{error}");
    assert!(error.contains(text), "expected {text:?} in:\n{error}");
}

/// `meshsim import traces FILE --replay -o DIR`.
fn import_traces_into(file: &Path, dir: &Path) -> std::process::Output {
    meshsim(&[
        "import",
        "traces",
        file.to_str().expect("utf-8"),
        "--replay",
        "-o",
        dir.to_str().expect("utf-8"),
    ])
}

/// `file:line:column: message` for the first error line.
fn assert_positioned(error: &str, file: &Path) {
    let prefix = format!("error: {}:", file.display());
    let first = error.lines().next().unwrap_or("");
    assert!(first.starts_with(&prefix), "{error}");
    let rest = &first[prefix.len()..];
    let mut parts = rest.splitn(3, ':');
    let line: usize = parts.next().and_then(|l| l.parse().ok()).expect("a line");
    let column: usize = parts.next().and_then(|c| c.parse().ok()).expect("a column");
    assert!(line > 0 && column > 0, "{error}");
}

#[test]
fn inputs_that_aborted_are_refused_at_validation_with_exit_2() {
    let dir = temp_dir("hostile-validate");
    let cases = [
        (
            "replicas",
            scenario("t", "const(1ms)", "replicas = 4294967295"),
            "replicas must be at most",
        ),
        (
            "trace",
            SMALL
                .replace("rate = 100", "arrival = \"trace\"\ntrace = \"/dev/zero\"")
                .replace("NAME", "t")
                .replace("SERVICE_TIME", "const(1ms)")
                .replace("EXTRA", ""),
            "not a regular file",
        ),
        (
            "empirical",
            scenario("t", "empirical(/dev/zero)", ""),
            "not a regular file",
        ),
        (
            "rate",
            scenario("t", "const(1ms)", "").replace("rate = 100", "rate = 1e9"),
            "requests per second",
        ),
        (
            "breaker",
            scenario(
                "t",
                "const(1ms)",
                "policy = { circuit_breaker = { window = \"100000h\" } }",
            ),
            "at most 10000h",
        ),
        (
            "timeout",
            scenario(
                "t",
                "const(1ms)",
                "policy = { timeout = \"18446744073709551615ns\" }",
            ),
            "at most 10000h",
        ),
        (
            "dotdot",
            scenario("..", "const(1ms)", ""),
            "is not a file name",
        ),
        ("dot", scenario(".", "const(1ms)", ""), "is not a file name"),
        (
            "nul",
            scenario("a\\u0000b", "const(1ms)", ""),
            "control characters",
        ),
        (
            "long",
            scenario(&"n".repeat(300), "const(1ms)", ""),
            "300 bytes long",
        ),
        ("fanout", fan_out_six_deep(), "may cause 2.114e6 tries"),
        (
            // The default 1 s window over 1.1 million seconds: the cap counts it.
            "default-window",
            scenario("t", "const(1ms)", "").replace("\"2s\"", "\"1100000s\""),
            "windows of 1s over the run",
        ),
        (
            // 10 s of load but a drain of up to 2,000 s: 2 million windows of 1 ms.
            "drain",
            scenario("t", "const(1ms)", "policy = { timeout = \"2000s\" }")
                .replace("duration = \"2s\"", "duration = \"10s\"\nwindow = \"1ms\""),
            "windows of 1ms over the run",
        ),
    ];
    for (label, text, needle) in cases {
        let path = write_file(&dir, &format!("{label}.toml"), text.as_bytes());
        let path_text = path.to_str().expect("utf-8 path");
        for command in ["validate", "run"] {
            let started = Instant::now();
            let output =
                meshsim(&[command, path_text, "--quiet"][..if command == "run" { 3 } else { 2 }]);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{label} {command}: {}",
                stderr(&output)
            );
            let error = stderr(&output);
            assert!(error.contains(needle), "{label}: {error}");
            assert_positioned(&error, &path);
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{label} took too long"
            );
        }
    }
    // `name = ".."` did write the report into the working directory: nothing is written now.
    assert!(!dir.join("reports").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_refuses_absurd_replications_and_threads() {
    let dir = temp_dir("hostile-compare");
    let path = write_file(&dir, "s.toml", scenario("t", "const(1ms)", "").as_bytes());
    let path = path.to_str().expect("utf-8 path");
    let out = dir.join("out");
    let out = out.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 3] = [
        (&["-r", "1000000000"], "more than the limit of 10000"),
        (&["-j", "100000"], "-j 100000"),
        (
            &["--vary", "service.api.workers=1..2000", "-r", "1000"],
            "more than the limit of 1000000",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["compare", path, "--out", out, "--quiet"];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let output = meshsim(&args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{extra:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(needle),
            "{extra:?}: {}",
            stderr(&output)
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{extra:?} took too long"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_zero_time_loop_ends_with_its_cause_and_no_report() {
    let dir = temp_dir("hostile-loop");
    // Closed-loop users, default think time const(0s), against a replica that crashes at 1 s.
    let text = r#"[scenario]
name = "loop"
duration = "10s"

[[service]]
name = "api"
service_time = "const(1ms)"

[[workload]]
target = "api"
arrival = "closed"
users = 2

[[fault]]
kind = "crash"
target = "api#0"
at = "1s"
"#;
    let path = write_file(&dir, "loop.toml", text.as_bytes());
    let out = dir.join("out");
    let started = Instant::now();
    let output = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(started.elapsed() < Duration::from_secs(120));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let error = stderr(&output);
    // The cause first, with the simulated time; then that no report was written, and where.
    assert!(
        error.starts_with("error: the run stopped at simulated time 1 s: a loop in zero time:"),
        "{error}"
    );
    assert!(error.contains("without time advancing"), "{error}");
    assert!(error.contains("think_time"), "{error}");
    assert!(
        error.contains(&format!("no report was written to {}", out.display())),
        "{error}"
    );
    // No report, and no partial file left: the folder the run created is removed again.
    assert!(
        !out.exists(),
        "{:?}",
        std::fs::read_dir(&out).map(|d| d.count())
    );
    // Into a folder that existed, the same run leaves it as it was (but for its lock file).
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), "mine").expect("write");
    let output = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let left: Vec<String> = std::fs::read_dir(&out)
        .expect("out folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".meshsim.lock")
        .collect();
    assert_eq!(left, vec!["notes.txt".to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn constant_service_times_give_percentiles_no_higher_than_the_maximum() {
    let dir = temp_dir("hostile-percentiles");
    let text = scenario("c", "const(0.3ms)", "workers = 1000");
    let path = write_file(&dir, "c.toml", text.as_bytes());
    let out = dir.join("out");
    let summary = run_summary(&path, &out, &[]);
    let latency = &summary["latency_ms"];
    // No network latency: every request takes exactly its 0.3 ms of service time.
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert_eq!(latency[key].as_f64(), Some(0.3), "{key}: {latency}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pareto_with_a_vanishing_shape_times_out_instead_of_answering_in_no_time() {
    let dir = temp_dir("hostile-pareto");
    let text = scenario(
        "p",
        "pareto(scale=1ms, shape=1e-300)",
        "workers = 1000\npolicy = { timeout = \"100ms\" }",
    );
    let path = write_file(&dir, "p.toml", text.as_bytes());
    let out = dir.join("out");
    let summary = run_summary(&path, &out, &[]);
    let requests = &summary["requests"];
    let offered = requests["offered"].as_u64().expect("offered");
    assert!(offered > 100);
    // Every draw but those of U = 1 exactly is infinite: all time out.
    assert_eq!(requests["succeeded"].as_u64(), Some(0), "{summary}");
    assert_eq!(requests["outcomes"]["timeout"].as_u64(), Some(offered));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_run_into_a_folder_being_written_is_refused_and_the_first_is_whole() {
    let dir = temp_dir("hostile-concurrent");
    let long = scenario("long", "exp(1ms)", "workers = 4")
        .replace("duration = \"2s\"", "duration = \"3000s\"")
        .replace("rate = 100", "rate = 5000");
    let path = write_file(&dir, "long.toml", long.as_bytes());
    let out = dir.join("out");
    let mut first = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args([
            "run",
            path.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first run starts");
    // Wait until the first run holds the folder (its temporary files exist).
    let started = Instant::now();
    while !out.join(".timeseries.csv.partial").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("another meshsim run is writing"),
        "{}",
        stderr(&second)
    );
    // The first run's files are untouched by the second: stop the first with SIGTERM, which
    // removes its temporary files.
    let status = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = first.wait().expect("first run ends");
    assert_eq!(exit.code(), Some(143), "128 + SIGTERM");
    let left: Vec<String> = std::fs::read_dir(&out)
        .expect("out folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".meshsim.lock")
        .collect();
    assert!(left.is_empty(), "SIGTERM left {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn partial_files_a_killed_run_left_are_removed_by_the_next_run() {
    let dir = temp_dir("hostile-stale");
    let path = write_file(&dir, "s.toml", scenario("s", "const(1ms)", "").as_bytes());
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("out");
    // As SIGKILL leaves them (no handler runs): big temporary files.
    write_file(&out, ".replicas.csv.partial", &vec![b'x'; 1 << 20]);
    write_file(&out, ".events.csv.partial", b"time_s,kind\n");
    let keep = write_file(&out, "notes.txt", b"mine");
    let output = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!out.join(".replicas.csv.partial").exists());
    assert!(!out.join(".events.csv.partial").exists());
    assert!(out.join("summary.json").exists());
    assert_eq!(
        std::fs::read(keep).expect("kept"),
        b"mine",
        "other files are left alone"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_longest_timeout_accepted_drops_no_request() {
    // 10,000 h is the longest duration a scenario may give (a timeout near u64::MAX ns is
    // refused, in the validation table); with it, every request still ends and is counted
    // (a timeout near u64::MAX ns used to give offered 3, succeeded 0, failed 0).
    let dir = temp_dir("hostile-long-timeout");
    let text = scenario("t", "exp(1ms)", "policy = { timeout = \"10000h\" }")
        // The window cap counts the drain up to the longest timeout: 10,000 h in 60 s windows.
        .replace("duration = \"2s\"", "duration = \"2s\"\nwindow = \"60s\"");
    let path = write_file(&dir, "t.toml", text.as_bytes());
    let out = dir.join("out");
    let summary = run_summary(&path, &out, &[]);
    let requests = &summary["requests"];
    let offered = requests["offered"].as_u64().expect("offered");
    // Poisson arrivals at 100/s for 2 s: 200 expected (standard deviation 14).
    assert!((100..=300).contains(&offered), "{summary}");
    // One replica of one worker at 1 ms mean: nothing waits long, nothing times out.
    assert_eq!(requests["succeeded"].as_u64(), Some(offered), "{summary}");
    assert_eq!(requests["failed"].as_u64(), Some(0), "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run with a replica hung for 10 ms during the warm-up, under a 1000 h timeout, at
/// 20,000 requests/s for `seconds` of load: its peak RSS, MB.
fn hung_replica_run_peak(dir: &Path, seconds: u64) -> f64 {
    let text = format!(
        r#"[scenario]
name = "hung"
duration = "{seconds}s"
warmup = "2s"
window = "10s"

[[service]]
name = "api"
replicas = 2
workers = 64
service_time = "exp(1ms)"
policy = {{ timeout = "1000h" }}

[[workload]]
target = "api"
rate = 20000

[[fault]]
kind = "hang"
target = "api#0"
at = "1s"
for = "10ms"
"#
    );
    let path = write_file(dir, &format!("hung-{seconds}.toml"), text.as_bytes());
    let out = dir.join(format!("out-{seconds}"));
    let (output, peak) = meshsim_peak_rss(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    peak
}

#[test]
fn a_replica_hung_under_a_long_timeout_keeps_memory_flat() {
    // The calls the hung replica accepted are never answered: their 1000 h timeouts stay at
    // the front of the timeout FIFO, and every later call's timeout queued behind them used
    // to stay too (+190 MB per 10 simulated seconds). Five times the load period must not
    // cost more memory: 80 s more at 20,000 calls/s would be 1.6 million entries (tens of MB)
    // if they were kept.
    let dir = temp_dir("hostile-hung");
    let short = hung_replica_run_peak(&dir, 20);
    let long = hung_replica_run_peak(&dir, 100);
    assert!(
        long < short + 12.0,
        "peak RSS {long:.1} MB over 100 s of load, {short:.1} MB over 20 s: not flat"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_report_of_a_million_windows_is_streamed_in_bounded_memory() {
    // 998 s in windows of 1 ms, drain included (1 s timeout): 999,001 windows, under the cap.
    // timeseries.csv and replicas.csv hold about 3 million rows (some 150 MB): the report
    // used to read them back whole.
    let dir = temp_dir("hostile-million");
    let text = scenario("m", "exp(1ms)", "policy = { timeout = \"1s\" }")
        .replace("duration = \"2s\"", "duration = \"998s\"\nwindow = \"1ms\"")
        .replace("rate = 100", "rate = 10");
    let path = write_file(&dir, "m.toml", text.as_bytes());
    let out = dir.join("out");
    let out_text = out.to_str().expect("utf-8");
    let (run, run_peak) = meshsim_peak_rss(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out_text,
        "--quiet",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let file = std::fs::File::open(out.join("timeseries.csv")).expect("timeseries.csv");
    let rows = std::io::BufRead::lines(std::io::BufReader::new(file)).count();
    // Two rows per window (the service's and the end-to-end one) and the header.
    assert!(rows > 1_990_000, "{rows} rows");
    // The report stage alone: `meshsim plot` re-renders the folder from its files.
    let (plot, plot_peak) = meshsim_peak_rss(&["plot", out_text]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    // Streamed, the report holds a bounded reduction of the files (2,000 points per plot, the
    // heatmap's cells, 500 events) and the plots themselves: a few tens of MB whatever the
    // run's length. Reading replicas.csv whole took more than the file's 50 MB.
    assert!(plot_peak < 48.0, "meshsim plot: peak RSS {plot_peak:.1} MB");
    assert!(run_peak < 64.0, "meshsim run: peak RSS {run_peak:.1} MB");
    // The plots say how they drew a million windows.
    let svg = std::fs::read_to_string(out.join("latency.svg")).expect("latency.svg");
    assert!(
        svg.contains("windows per bucket"),
        "the latency plot names its buckets"
    );
    // At most 2,000 points per line (two per bucket), whatever the run's length.
    assert!(svg.len() < 8 << 20, "latency.svg is {} bytes", svg.len());
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- found by a later sweep of hostile inputs (2026-12-07, evening) ---------------------------

/// A comparison in which one variant never succeeds (`error_rate = 1`) has no latency curve
/// for it: it used to panic while placing that curve's markers (exit 101, an empty folder).
/// Now it is written whole, with the availabilities theory gives: 1 and 0.
#[test]
fn a_comparison_with_a_variant_that_never_succeeds_is_written_whole() {
    let dir = temp_dir("hostile-never-succeeds");
    let text = scenario("never", "exp(1ms)", "")
        + "\n[compare]\n\"service.api.error_rate\" = [0, 1]\nreplications = 2\n";
    let path = write_file(&dir, "never.toml", text.as_bytes());
    let out = dir.join("out");
    let output = meshsim(&[
        "compare",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("comparison.json")).expect("comparison.json"),
    )
    .expect("json");
    let availability: Vec<f64> = json["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|variant| {
            variant["metrics"]["availability"]["mean"]
                .as_f64()
                .expect("mean")
        })
        .collect();
    // 100 requests/s for 2 s on a service with 1,000 workers' worth of room: none fails at
    // error rate 0; every one fails at error rate 1.
    assert_eq!(availability, vec![1.0, 0.0]);
    for file in ["cdf.svg", "comparison.svg", "report.html", "latency-1.csv"] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    // The same folder re-rendered, and a run folder whose time series lost its rows.
    let plot = meshsim(&["plot", out.to_str().expect("utf-8")]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let run_out = dir.join("run");
    run_summary(&path, &run_out, &[]);
    let series = std::fs::read_to_string(run_out.join("timeseries.csv")).expect("timeseries");
    let header = series.lines().next().expect("header");
    std::fs::write(run_out.join("timeseries.csv"), format!("{header}\n")).expect("write");
    let plot = meshsim(&["plot", run_out.to_str().expect("utf-8")]);
    assert!(plot.status.success(), "{}", stderr(&plot));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A sweep's `plan.json` whose variants share a slug (or have one that is not a plain file
/// name part) is refused by `merge` with exit 2, naming the file, before anything is written:
/// a shared slug used to fail half-way through the commit of the comparison, exit 1, leaving
/// a half-written folder.
#[test]
fn merge_refuses_a_plan_with_shared_or_unsafe_slugs_and_writes_nothing() {
    let dir = temp_dir("hostile-merge-slugs");
    let text = scenario("slugs", "exp(1ms)", "")
        + "\n[compare]\n\"policy.balancer\" = [\"p2c\", \"random\"]\nreplications = 1\n";
    let path = write_file(&dir, "slugs.toml", text.as_bytes());
    let shard = dir.join("shard");
    let output = meshsim(&[
        "compare",
        path.to_str().expect("utf-8"),
        "--shard",
        "1/1",
        "--out",
        shard.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan_path = shard.join("items").join("plan.json");
    let plan = std::fs::read_to_string(&plan_path).expect("plan.json");
    assert!(plan.contains("\"slug\": \"random\"") || plan.contains("\"slug\":\"random\""));
    for (case, slug) in [("shared", "p2c"), ("unsafe", "../../evil")] {
        let forged = plan
            .replace("\"slug\": \"random\"", &format!("\"slug\": \"{slug}\""))
            .replace("\"slug\":\"random\"", &format!("\"slug\":\"{slug}\""));
        std::fs::write(&plan_path, forged).expect("write plan");
        let out = dir.join(format!("merged-{case}"));
        let output = meshsim(&[
            "merge",
            shard.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        refused_with(&output, "plan.json");
        assert!(!out.exists(), "{case}: nothing written");
    }
    assert!(!dir.join("evil").exists() && !dir.parent().expect("parent").join("evil").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `import traces -o DIR` whose scenario fails its check (here a service name of 300 bytes,
/// past the 255 of a name: since the import checks names itself, before anything is written)
/// exits 2 and leaves nothing behind: the scenario and its arrivals file used to stay in DIR.
/// One that fails after writing its arrivals file (its scenario's path is a folder) removes it.
#[test]
fn a_trace_import_that_fails_its_check_leaves_nothing_behind() {
    let dir = temp_dir("hostile-import-leftovers");
    let spans = r#"[{"traceId": "a1", "id": "01", "name": "get", "timestamp": 1000000, "duration": 2000, "kind": "SERVER", "localEndpoint": {"serviceName": "front"}},
 {"traceId": "a1", "id": "02", "parentId": "01", "name": "q", "timestamp": 1000100, "duration": 500, "kind": "SERVER", "localEndpoint": {"serviceName": "DB"}}]"#
        .replace("DB", &"d".repeat(300));
    let path = write_file(&dir, "spans.json", spans.as_bytes());
    let out = dir.join("imported");
    refused_with(&import_traces_into(&path, &out), "bytes long");
    assert!(!out.exists(), "the folder it created is removed");
    // Into a folder that exists: it stays, empty.
    std::fs::create_dir_all(&out).expect("mkdir");
    refused_with(&import_traces_into(&path, &out), "bytes long");
    assert_eq!(std::fs::read_dir(&out).expect("read_dir").count(), 0);
    // A failure after the arrivals file is written (the scenario's own path is a folder
    // already): the arrivals file goes again, and the folder in the way is left as it was.
    let entries = |folder: &Path| -> Vec<PathBuf> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
            .expect("read_dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        paths.sort();
        paths
    };
    let good = write_file(
        &dir,
        "good.json",
        spans.replace(&"d".repeat(300), "db").as_bytes(),
    );
    let imported = import_traces_into(&good, &out);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let written = entries(&out);
    let scenario = written
        .iter()
        .find(|path| path.extension().is_some_and(|e| e == "toml"));
    let scenario = scenario.expect("a scenario").clone();
    assert_eq!(
        written.len(),
        2,
        "the scenario and its arrivals file: {written:?}"
    );
    for file in &written {
        std::fs::remove_file(file).expect("rm");
    }
    std::fs::create_dir(&scenario).expect("mkdir");
    let failed = import_traces_into(&good, &out);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success() && stderr.contains("cannot write"),
        "{stderr}"
    );
    assert_eq!(
        entries(&out),
        vec![scenario.clone()],
        "only the folder in the way is left"
    );
    assert!(entries(&scenario).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every timer period is at least 1 ms: a 1 ns one (a heartbeat, a sweep, a sync) made a
/// 2-second run take minutes. Each is refused at its line and column with exit 2; 1 ms passes.
#[test]
fn timer_periods_under_a_millisecond_are_refused_at_their_line() {
    let dir = temp_dir("hostile-periods");
    let eureka =
        |key: &str, value: &str| format!("[registry]\nmodel = \"eureka\"\n{key} = \"{value}\"\n");
    let consul =
        |key: &str, value: &str| format!("[registry]\nmodel = \"consul\"\n{key} = \"{value}\"\n");
    let policy = |value: &str| {
        format!(
            "[policy]\nhealth_check = {{ interval = \"{value}\", timeout = \"1ms\", unhealthy = 2, healthy = 1 }}\n"
        )
    };
    let outlier =
        |value: &str| format!("[policy]\noutlier_detection = {{ interval = \"{value}\" }}\n");
    /// A scenario's first lines, setting one period to the value given.
    type Section = Box<dyn Fn(&str) -> String>;
    let cases: Vec<(&str, Section)> = vec![
        ("heartbeat", Box::new(move |v| eureka("heartbeat", v))),
        (
            "eviction_interval",
            Box::new(move |v| eureka("eviction_interval", v)),
        ),
        (
            "client_refresh",
            Box::new(move |v| eureka("client_refresh", v)),
        ),
        (
            "response_cache",
            Box::new(move |v| eureka("response_cache", v)),
        ),
        (
            "check_interval",
            Box::new(move |v| consul("check_interval", v)),
        ),
        (
            "client_refresh",
            Box::new(move |v| consul("client_refresh", v)),
        ),
        ("health_check interval", Box::new(policy)),
        ("outlier_detection interval", Box::new(outlier)),
    ];
    for (index, (what, section)) in cases.iter().enumerate() {
        for (value, accepted) in [("1ns", false), ("999us", false), ("1ms", true)] {
            // The section first: its key is on line 3 (`[registry]`) or 2 (`[policy]`).
            let text = section(value) + &scenario(&format!("p{index}"), "exp(1ms)", "");
            let path = write_file(&dir, &format!("p{index}.toml"), text.as_bytes());
            let output = meshsim(&["validate", path.to_str().expect("utf-8")]);
            if accepted {
                assert!(
                    output.status.success(),
                    "{what} = {value}: {}",
                    stderr(&output)
                );
                continue;
            }
            assert_eq!(output.status.code(), Some(2), "{what} = {value}");
            let message = stderr(&output);
            let line = text
                .lines()
                .position(|line| line.contains(value))
                .expect("the value's line")
                + 1;
            assert!(
                message.contains(&format!("p{index}.toml:{line}:"))
                    && message.contains(&format!("{what} must be at least \"1ms\"")),
                "{what} = {value}: {message}"
            );
        }
    }
    // The autoscaler's sync, in the service's own table.
    for (value, accepted) in [("1ns", false), ("1ms", true)] {
        let extra = format!(
            "replicas = 1\n[service.autoscale]\nmin = 1\nmax = 2\ntarget_utilization = 0.6\nsync = \"{value}\""
        );
        let text = scenario("sync", "exp(1ms)", &extra);
        let path = write_file(&dir, "sync.toml", text.as_bytes());
        let output = meshsim(&["validate", path.to_str().expect("utf-8")]);
        if accepted {
            assert!(
                output.status.success(),
                "sync = {value}: {}",
                stderr(&output)
            );
        } else {
            assert_eq!(output.status.code(), Some(2));
            assert!(
                stderr(&output).contains("sync.toml:13:8: autoscale sync must be at least"),
                "{}",
                stderr(&output)
            );
        }
    }
    // Consul's client_refresh may be 0 (blocking queries: no timer).
    let text = consul("client_refresh", "0s") + &scenario("zero", "exp(1ms)", "");
    let path = write_file(&dir, "zero.toml", text.as_bytes());
    let output = meshsim(&["validate", path.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--openmetrics FILE` and `--traces FILE` are checked before the run: a folder that does not
/// exist, a folder given as the file, or a file the report itself writes (which used to replace
/// the metrics silently, exit 0; the others failed after the run with exit 1, naming the report
/// folder, and left it behind) are refused with exit 2, naming the flag, and nothing is written.
#[test]
fn side_files_that_cannot_be_written_or_would_be_replaced_are_refused_before_the_run() {
    let dir = temp_dir("hostile-side-files");
    let path = write_file(
        &dir,
        "side.toml",
        scenario("side", "exp(1ms)", "").as_bytes(),
    );
    let path = path.to_str().expect("utf-8");
    let out = dir.join("out");
    let out_text = out.to_str().expect("utf-8");
    let missing = dir.join("missing").join("x.om");
    // `meshsim run` into `out`, with `flag FILE` when given.
    let run_with = |side: Option<(&str, &Path)>| {
        let mut args = vec!["run", path, "--out", out_text, "--quiet"];
        if let Some((flag, file)) = side {
            args.extend([flag, file.to_str().expect("utf-8")]);
        }
        meshsim(&args)
    };
    for flag in ["--openmetrics", "--traces"] {
        let output = run_with(Some((flag, &missing)));
        refused_with(&output, &format!("{flag} "));
        refused_with(&output, "does not exist");
        assert!(!out.exists(), "{flag}: no report folder");
    }
    // A whole report first; then the report's own files and its folder refused as side files.
    let output = run_with(None);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = std::fs::read(out.join("summary.json")).expect("summary.json");
    let same_name = "writes a file of that name";
    for (flag, target, expected) in [
        ("--openmetrics", out.join("summary.json"), same_name),
        ("--traces", out.join("latency.svg"), same_name),
        ("--openmetrics", out.clone(), "is a folder"),
    ] {
        refused_with(&run_with(Some((flag, &target))), expected);
    }
    let again = std::fs::read(out.join("summary.json")).expect("summary.json");
    assert_eq!(again, summary);
    // A file of another name in the report folder is fine, and stays beside the report.
    let metrics = out.join("metrics.om");
    let output = run_with(Some(("--openmetrics", &metrics)));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&metrics).expect("metrics.om");
    assert!(
        text.starts_with("# TYPE ") && text.trim_end().ends_with("# EOF"),
        "{}",
        &text[..text.len().min(200)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Zipkin or Jaeger span whose start or end does not fit in 64-bit nanoseconds (a timestamp
/// near `i64::MAX` microseconds) is refused as broken, naming the span: it used to be clamped,
/// and a 1 ms span imported as a service time of 0 ms.
#[test]
fn spans_past_64_bit_nanoseconds_are_refused_not_clamped() {
    let dir = temp_dir("hostile-span-overflow");
    let zipkin = r#"[{"traceId": "a1", "id": "01", "name": "get", "timestamp": 9223372036854775000, "duration": 1000, "kind": "SERVER", "localEndpoint": {"serviceName": "front"}}]"#;
    let path = write_file(&dir, "zipkin.json", zipkin.as_bytes());
    let output = meshsim(&["import", "traces", path.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("span \"get\": its start (9223372036854775000 µs)"),
        "{}",
        stderr(&output)
    );
    // The same span a million times earlier imports, with its 1 ms.
    let earlier = zipkin.replace("9223372036854775000", "9223372036854");
    let path = write_file(&dir, "earlier.json", earlier.as_bytes());
    let output = meshsim(&["import", "traces", path.to_str().expect("utf-8")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("1ms"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
