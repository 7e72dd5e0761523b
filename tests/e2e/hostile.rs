//! Hostile input and long runs through the `meshsim` binary (issue 17): each case found by
//! mutated scenarios, extreme values and concurrent runs, with the behaviour it must have now.

use super::common::{meshsim, temp_dir, write_file};
use std::path::Path;
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

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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
    let output = meshsim(&["compare", path, "-r", "1000000000", "--out", out, "--quiet"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("more than the limit of 10000"));
    let output = meshsim(&["compare", path, "-j", "100000", "--out", out, "--quiet"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("-j 100000"));
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
    assert!(error.contains("without time advancing"), "{error}");
    assert!(error.contains("think_time"), "{error}");
    // No report, and no partial file left.
    let left: Vec<String> = std::fs::read_dir(&out)
        .expect("out folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".meshsim.lock")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn constant_service_times_give_percentiles_no_higher_than_the_maximum() {
    let dir = temp_dir("hostile-percentiles");
    let text = scenario("c", "const(0.3ms)", "workers = 1000");
    let path = write_file(&dir, "c.toml", text.as_bytes());
    let out = dir.join("out");
    let output = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("JSON");
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
    let output = meshsim(&[
        "run",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("JSON");
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
