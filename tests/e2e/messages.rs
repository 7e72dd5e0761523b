//! Messages that teach, through the `meshsim` binary: every refusal below exits with status 2
//! and says what was wrong where the user wrote it (the `--set`/`--vary` argument, or the file's
//! line and column) and what to write instead. Also: what `run --help` and `compare --help` say
//! is written is what is written, a comparison's folder holds only its own files, and the
//! terminal table of a 1,000-service run fits a screen.

use crate::common::{meshsim, scenario_path, temp_dir, write_file};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

/// Two services, retries in `[policy]`, a crashed replica that clients keep calling (a static
/// registry), so that retries happen.
const SCENARIO: &str = r#"[scenario]
name = "messages"
seed = 5
duration = "4s"
warmup = "1s"

[registry]
model = "static"

[policy]
balancer = "round_robin"
retries = { max = 2, on = ["refused"] }

[[service]]
name = "front"
replicas = 2
workers = 8
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
replicas = 3
workers = 8
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "front"
rate = 200

[[fault]]
at = "1s"
for = "2s"
kind = "crash"
target = "back#0"
"#;

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts exit status 2, no panic, and that standard error holds every one of `texts`.
fn refused(output: &Output, texts: &[&str]) -> String {
    let error = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    assert!(!error.contains("panicked"), "{error}");
    for text in texts {
        assert!(error.contains(text), "expected {text:?} in:\n{error}");
    }
    error
}

/// A fresh folder holding the scenario; returns (folder, scenario path).
fn setup(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(name);
    let file = write_file(&dir, "scenario.toml", SCENARIO.as_bytes());
    (dir, file)
}

#[test]
fn unknown_set_and_vary_keys_suggest_the_whole_key() {
    let (dir, file) = setup("msg-keys");
    let file = arg(&file);
    let output = meshsim(&["validate", file, "--set", "polcy.balancer=p2c"]);
    refused(
        &output,
        &[
            "error: --set polcy.balancer=p2c: ",
            "\"polcy\"",
            "did you mean policy.balancer?",
        ],
    );
    let output = meshsim(&["validate", file, "--set", "policy.balncer=p2c"]);
    refused(&output, &["did you mean policy.balancer?"]);
    // The right key at the wrong level.
    let output = meshsim(&["validate", file, "--set", "service.back.balancer=p2c"]);
    refused(&output, &["did you mean service.back.policy.balancer?"]);
    let output = meshsim(&["run", file, "--set", "balancer=p2c", "--quiet"]);
    refused(&output, &["did you mean policy.balancer?"]);
    let output = meshsim(&["compare", file, "--vary", "polcy.balancer=round_robin,p2c"]);
    refused(
        &output,
        &[
            "--vary polcy.balancer=round_robin,p2c: ",
            "did you mean policy.balancer?",
        ],
    );
    // Nothing was run or written.
    assert!(!dir.join("reports").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_in_set_values_name_the_set_not_a_line_of_the_file() {
    let (dir, file) = setup("msg-values");
    let label = arg(&file);
    for (set, message) in [
        (
            "scenario.duration=30",
            "duration: expected a duration with a unit",
        ),
        ("service.back.workers=0", "workers must be at least 1"),
        ("policy.balancer=fastest", "unknown balancer \"fastest\""),
        // Past 64 bits, TOML reads the digits as text: say the number is too large, not that
        // it is quoted.
        (
            "scenario.seed=18446744073709551616",
            "seed must be an integer, found a string (a whole number this large does not fit \
             in 64 bits)",
        ),
    ] {
        let output = meshsim(&["validate", label, "--set", set]);
        let error = refused(&output, &[&format!("error: --set {set}: {message}")]);
        assert!(
            !error.contains(label),
            "the file is named for a value it does not hold:\n{error}"
        );
    }
    // A problem of the file keeps its own line and column after a --set added lines above it.
    let broken = SCENARIO.replace("rate = 200", "rate = -200");
    let line = broken
        .lines()
        .position(|l| l == "rate = -200")
        .expect("the line")
        + 1;
    let broken_file = write_file(&dir, "broken.toml", broken.as_bytes());
    let output = meshsim(&[
        "validate",
        arg(&broken_file),
        "--set",
        "scenario.window=500ms",
        "--set",
        "service.front.queue=10",
    ]);
    refused(&output, &[&format!("{}:{line}:8: ", arg(&broken_file))]);
    // A value given to --vary is named as the --vary.
    let output = meshsim(&["compare", label, "--vary", "policy.balancer=p2c,fastest"]);
    refused(
        &output,
        &["error: --vary policy.balancer=fastest: unknown balancer"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_key_that_takes_a_table_shows_an_example_of_it() {
    let (dir, file) = setup("msg-tables");
    let file = arg(&file);
    for (set, example) in [
        (
            "policy.retries=3",
            "retries must be a table, like { max = 2",
        ),
        (
            "policy.circuit_breaker=0.5",
            "circuit_breaker must be a table, like { failure_rate = 0.5",
        ),
        (
            "policy.hedge=50ms",
            "hedge must be a table, like { after = \"50ms\"",
        ),
        (
            "service.back.autoscale=3",
            "[service.autoscale] must be a table, like { min = 2, max = 10",
        ),
        (
            "policy=p2c",
            "[policy] must be a table, like { balancer = \"p2c\"",
        ),
    ] {
        let output = meshsim(&["validate", file, "--set", set]);
        refused(&output, &[&format!("--set {set}: {example}")]);
    }
    let output = meshsim(&["validate", file, "--set", "policy.retries=3"]);
    refused(&output, &["or false to switch it off"]);
    let output = meshsim(&["validate", file, "--set", "policy.retries=true"]);
    refused(&output, &["retries = true does not say how", "or false"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The keys that switch a mechanism on (inline tables) or set a limit (numbers, durations),
/// with where they live: each can be switched off, or the limit lifted, with `false`.
const MECHANISMS: [&str; 18] = [
    "policy.retries",
    "policy.circuit_breaker",
    "policy.outlier_detection",
    "policy.health_check",
    "policy.hedge",
    "policy.zone_aware",
    "service.back.policy.retries",
    "service.back.rate_limit",
    "service.back.autoscale",
    "policy.max_requests",
    "policy.max_connections",
    "policy.max_pending",
    "policy.retries.per_try_timeout",
    "policy.retries.budget",
    "service.back.policy.max_requests",
    "service.back.policy.max_pending",
    "service.back.queue",
    "service.back.max_queue_time",
];

/// Words with which the schema describes a key's default as "no limit": such a key must
/// accept `false` too, so that `compare` can vary it against a limit.
const NO_LIMIT_WORDS: [&str; 5] = ["unlimited", "unbounded", "never", ": none", "no budget"];

#[test]
fn every_mechanism_can_be_switched_off_with_false() {
    let (dir, file) = setup("msg-false");
    let file = arg(&file);
    for key in MECHANISMS {
        let output = meshsim(&["validate", file, "--set", &format!("{key}=false")]);
        assert!(output.status.success(), "{key}=false: {}", stderr(&output));
    }
    // The schema lists false for every table-valued key of a policy, its retries and a service
    // that is a mechanism (all but the nested policy table, the endpoint list and the traffic
    // split, which says how calls divide between versions rather than switching a mechanism
    // on), and for every key whose default is no limit.
    let schema: Value =
        serde_json::from_slice(&meshsim(&["schema"]).stdout).expect("the schema is JSON");
    let definitions = &schema["definitions"];
    for (table, skip) in [
        ("PolicyTable", &[][..]),
        ("RetriesTable", &[][..]),
        ("ServiceTable", &["policy", "traffic"][..]),
    ] {
        for (key, property) in definitions[table]["properties"]
            .as_object()
            .expect("properties")
        {
            let description = property["description"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase();
            let Some(reference) = property["$ref"].as_str() else {
                // A number (or a count) whose default is no limit.
                let text = property.to_string();
                if NO_LIMIT_WORDS.iter().any(|word| description.contains(word)) {
                    assert!(
                        text.contains("#/definitions/Off"),
                        "{table}.{key} defaults to no limit but does not take false: {text}"
                    );
                }
                continue;
            };
            let name = reference.rsplit('/').next().expect("a name");
            let target = &definitions[name];
            let takes_a_table = target["type"] == "object"
                || target["anyOf"].as_array().is_some_and(|alternatives| {
                    alternatives.iter().any(|a| a.to_string().contains("Table"))
                });
            let no_limit = NO_LIMIT_WORDS.iter().any(|word| description.contains(word));
            if !(takes_a_table || no_limit) || skip.contains(&key.as_str()) {
                continue;
            }
            let text = target.to_string();
            assert!(
                text.contains("#/definitions/Off") || text.contains("boolean"),
                "{table}.{key} takes a table but not false: {text}"
            );
        }
    }
    // A service's `retries = false` wins over [policy]'s retries: no retry is sent to it.
    let retries_to_back = |extra: &[&str]| -> u64 {
        let out = dir.join(format!("run-{}", extra.len()));
        let mut args = vec!["run", file, "--out", arg(&out), "--quiet"];
        args.extend_from_slice(extra);
        let output = meshsim(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let summary: Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
                .expect("JSON");
        summary["services"]["back"]["retries"]
            .as_u64()
            .expect("retries")
    };
    assert!(
        retries_to_back(&[]) > 0,
        "the crash should make [policy]'s retries retry"
    );
    assert_eq!(
        retries_to_back(&["--set", "service.back.policy.retries=false"]),
        0
    );
    // compare can vary a mechanism against it being off.
    let output = meshsim(&[
        "compare",
        file,
        "--vary",
        "policy.outlier_detection=false,{ consecutive_errors = 3 }",
        "-r",
        "1",
        "--out",
        arg(&dir.join("compare")),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&dir);
}

/// One front calling one back with four workers, 300 requests/s of 5 ms mean: the front's
/// client often has two or more tries outstanding to back, and nothing else can fail (no
/// fault, unbounded queues, a 15 s timeout in a 4 s run).
const LIMITS: &str = r#"[scenario]
name = "limits"
seed = 5
duration = "4s"
warmup = "1s"

[[service]]
name = "front"
workers = 64
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
workers = 4
service_time = "exp(5ms)"

[[workload]]
name = "load"
target = "front"
rate = 300
"#;

#[test]
fn compare_varies_a_limit_against_no_limit_and_a_service_false_lifts_the_global_one() {
    let dir = temp_dir("msg-limits");
    let file = write_file(&dir, "limits.toml", LIMITS.as_bytes());
    let file = arg(&file);
    let out = dir.join("compare");
    let output = meshsim(&[
        "compare",
        file,
        "--vary",
        "policy.max_requests=false,2",
        "-r",
        "2",
        "--out",
        arg(&out),
        "--quiet",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    // replications.csv: variant, slug, replication, seed, offered, succeeded, ...
    let table = std::fs::read_to_string(out.join("replications.csv")).expect("replications.csv");
    let mut seen = BTreeSet::new();
    for row in table.lines().skip(1) {
        let cells: Vec<&str> = row.split(',').collect();
        let (slug, offered, succeeded) = (cells[1], cells[4], cells[5]);
        let offered: u64 = offered.parse().expect("offered");
        let succeeded: u64 = succeeded.parse().expect("succeeded");
        assert!(offered > 0, "{row}");
        match slug {
            // No limit: nothing can fail.
            "false" => assert_eq!(succeeded, offered, "{row}"),
            // Two outstanding tries at most: the bulkhead overflows.
            "2" => assert!(
                succeeded < offered,
                "no overflow with max_requests = 2: {row}"
            ),
            other => panic!("unexpected variant {other}: {row}"),
        }
        seen.insert(slug.to_string());
    }
    assert_eq!(seen.len(), 2, "{table}");
    // The failures of the limited variant are the overflow of the callers' pools, attributed
    // to the service each pool calls; a service's false lifts [policy]'s limit for calls to it.
    let pools_overflowed = |extra: &[&str]| -> BTreeSet<String> {
        let out = dir.join(format!("run-{}", extra.len()));
        let mut args = vec![
            "run",
            file,
            "--set",
            "policy.max_requests=2",
            "--out",
            arg(&out),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        let output = meshsim(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let summary: Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
                .expect("JSON");
        let causes = summary["requests"]["root_causes"]
            .as_array()
            .expect("root causes");
        let failed: u64 = causes
            .iter()
            .map(|c| c["requests"].as_u64().expect("n"))
            .sum();
        assert_eq!(
            failed,
            summary["requests"]["failed"].as_u64().expect("failed")
        );
        causes
            .iter()
            .map(|cause| {
                assert_eq!(cause["outcome"], "rejected", "{cause}");
                assert!(
                    cause["replica"].is_null(),
                    "rejected by the caller: {cause}"
                );
                cause["service"].as_str().expect("service").to_string()
            })
            .collect()
    };
    // With [policy]'s limit on every call, only the workload's pool to front overflows: front
    // then serves two requests at most, so its pool to back never holds more than two.
    assert_eq!(pools_overflowed(&[]), ["front".to_string()].into());
    assert_eq!(
        pools_overflowed(&["--set", "service.front.policy.max_requests=false"]),
        ["back".to_string()].into()
    );
    assert_eq!(
        pools_overflowed(&[
            "--set",
            "service.front.policy.max_requests=false",
            "--set",
            "service.back.policy.max_requests=false",
        ]),
        BTreeSet::new()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_change_lifts_a_limit_with_false() {
    // The bulkhead of two overflows before the change at 2 s and never after it: from then on
    // nothing can fail (see LIMITS).
    let dir = temp_dir("msg-limit-change");
    let text =
        format!("{LIMITS}[[change]]\nat = \"2s\"\nset = {{ \"policy.max_requests\" = false }}\n")
            .replacen(
                "[[service]]",
                "[policy]\nmax_requests = 2\n\n[[service]]",
                1,
            );
    let file = write_file(&dir, "change.toml", text.as_bytes());
    let out = dir.join("run");
    let output = meshsim(&["run", arg(&file), "--out", arg(&out), "--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).expect(name);
    let (time, service, rejected) = (column("time_s"), column("service"), column("rejected"));
    let (mut before, mut after) = (0u64, 0u64);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[service] != "front" {
            continue;
        }
        let count: u64 = cells[rejected].parse().expect("rejected");
        if cells[time].parse::<f64>().expect("time") < 2.0 {
            before += count;
        } else {
            after += count;
        }
    }
    assert!(
        before > 0,
        "the bulkhead should overflow before the change:\n{table}"
    );
    assert_eq!(after, 0, "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_load_change_written_as_a_fault_points_to_schedule() {
    let dir = temp_dir("msg-spike");
    for kind in ["spike", "surge", "burst", "load"] {
        let text = SCENARIO.replace("kind = \"crash\"", &format!("kind = \"{kind}\""));
        let line = text
            .lines()
            .position(|l| l.starts_with("kind = "))
            .expect("the line")
            + 1;
        let file = write_file(&dir, "spike.toml", text.as_bytes());
        let output = meshsim(&["validate", arg(&file)]);
        refused(
            &output,
            &[
                &format!("{}:{line}:8: unknown fault kind \"{kind}\"", arg(&file)),
                "give the workload a schedule",
                "schedule = [{ at = ",
            ],
        );
    }
    // A misspelt fault kind is not sent to schedule.
    let text = SCENARIO.replace("kind = \"crash\"", "kind = \"crsh\"");
    let file = write_file(&dir, "typo.toml", text.as_bytes());
    let error = refused(
        &meshsim(&["validate", arg(&file)]),
        &["did you mean \"crash\"?"],
    );
    assert!(!error.contains("schedule"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_is_not_utf8_says_at_which_byte() {
    let dir = temp_dir("msg-utf8");
    // Latin-1 "é" (0xE9) in a comment on line 3, after "# caf" (5 characters).
    let mut bytes = b"[scenario]\nname = \"x\"\n# caf".to_vec();
    let offset = bytes.len();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"\nduration = \"1s\"\n");
    let file = write_file(&dir, "latin1.toml", &bytes);
    let output = meshsim(&["validate", arg(&file)]);
    refused(
        &output,
        &[
            &format!("{}:3:6: ", arg(&file)),
            &format!("byte {offset} (line 3, column 6) is 0xE9, which is not UTF-8"),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The file names a `--help` text lists under "Files written" (`x.svg, .png` gives both),
/// without the optional ones named after "With".
fn files_in_help(help: &str) -> BTreeSet<String> {
    let section = help
        .split("Files written into the output folder")
        .nth(1)
        .expect("a list of the files written");
    let mut names = BTreeSet::new();
    for line in section.lines().skip(1) {
        if !line.starts_with("  ") {
            break;
        }
        let Some(first) = line.split_whitespace().next() else {
            continue;
        };
        let first = first.trim_end_matches(',');
        if !first.contains('.') {
            continue;
        }
        names.insert(first.to_string());
        if line.contains(", .png") {
            names.insert(first.replace(".svg", ".png"));
        }
    }
    names
}

/// The names of the files in `dir` (no folders).
fn files_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("the folder")
        .map(|entry| entry.expect("an entry"))
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".meshsim.lock")
        .collect()
}

#[test]
fn run_help_lists_every_file_written() {
    let help = stdout(&meshsim(&["run", "--help"]));
    let listed = files_in_help(&help);
    assert!(help.contains("--traces FILE"), "{help}");
    let (dir, file) = setup("msg-run-help");
    let out = dir.join("out");
    let output = meshsim(&["run", arg(&file), "--out", arg(&out), "--quiet"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(files_in(&out), listed, "run --help:\n{help}");
    // The list of written files is that same list.
    let list: BTreeSet<String> = std::fs::read_to_string(out.join(".meshsim-files"))
        .expect("the list")
        .lines()
        .map(str::to_string)
        .collect();
    let mut expected = listed.clone();
    expected.remove(".meshsim-files");
    assert_eq!(list, expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_help_lists_every_file_written_and_the_folder_keeps_only_them() {
    let help = stdout(&meshsim(&["compare", "--help"]));
    let listed = files_in_help(&help);
    let (dir, file) = setup("msg-compare-help");
    let out = dir.join("out");
    let compare = |values: &str| {
        let output = meshsim(&[
            "compare",
            arg(&file),
            "--vary",
            values,
            "-r",
            "1",
            "--out",
            arg(&out),
            "--quiet",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    // Every file is one the help lists (latency-<variant>.csv standing for each variant's).
    let matches_help = |name: &str| {
        listed.contains(name)
            || (name.starts_with("latency-")
                && name.ends_with(".csv")
                && listed.contains("latency-<variant>.csv"))
    };
    compare("policy.balancer=round_robin,p2c,least_request");
    let first = files_in(&out);
    for name in &first {
        assert!(matches_help(name), "{name} is not listed in:\n{help}");
    }
    for name in &listed {
        assert!(
            name == "latency-<variant>.csv" || first.contains(name),
            "{name} is listed but not written"
        );
    }
    // A user's files in the folder, one named like meshsim's.
    write_file(&out, "notes.txt", b"mine");
    write_file(&out, "latency-mine.csv", b"mine");
    // A second comparison with two of the three variants, readable names for table values.
    compare("policy.retries=false,{ max = 1, backoff = \"5ms\" }");
    let second = files_in(&out);
    let latency: Vec<&String> = second
        .iter()
        .filter(|n| n.starts_with("latency-"))
        .collect();
    assert_eq!(
        latency,
        [
            "latency-false.csv",
            "latency-max_1_backoff_5ms.csv",
            "latency-mine.csv"
        ],
        "the first comparison's latency files are gone, the user's is kept"
    );
    assert!(second.contains("notes.txt"));
    let comparison: Value = serde_json::from_slice(
        &std::fs::read(out.join("comparison.json")).expect("comparison.json"),
    )
    .expect("JSON");
    for variant in comparison["variants"].as_array().expect("variants") {
        let name = variant["latency_file"].as_str().expect("a latency file");
        assert!(second.contains(name), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_thousand_service_run_prints_a_screen_not_a_thousand_lines() {
    let dir = temp_dir("msg-mesh");
    let mesh = scenario_path("systems/mesh-1000.toml");
    // The crash of svc-0-5#0 moved to 1 s, so that one service fails tries in a 3 s run.
    let run = |extra: &[&str]| -> String {
        let mut args = vec![
            "run",
            arg(&mesh),
            "--set",
            "scenario.duration=3s",
            "--set",
            "scenario.warmup=1s",
            "--set",
            "fault.0.at=1s",
            "--out",
        ];
        let out = dir.join("out");
        args.push(arg(&out));
        args.extend_from_slice(extra);
        let output = meshsim(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let table_rows = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|line| !line.trim_start().starts_with("service "))
            .skip(1)
            .take_while(|line| !line.trim_start().starts_with("engine "))
            .map(str::to_string)
            .collect()
    };
    let text = run(&[]);
    let rows = table_rows(&text);
    // 20 services and the line for the other 980 (of 1,000).
    assert_eq!(rows.len(), 21, "{text}");
    assert!(rows[20].contains("980 more services"), "{}", rows[20]);
    assert!(
        rows.iter()
            .any(|row| row.trim_start().starts_with("svc-0-5 ")),
        "the service with the crashed replica is listed first among failing ones:\n{text}"
    );
    // The report's topology draws the 200 services the workload calls, the failing and the
    // busiest (a bounded page; the 10,000-service mesh's was 40,652 px tall), and says so.
    let html = std::fs::read_to_string(dir.join("out").join("report.html")).expect("report");
    let start = html
        .find("<figure id=\"topology\">")
        .expect("the topology figure");
    let svg = &html[start..start + html[start..].find("</svg>").expect("its end")];
    let boxes = svg.matches("<g class=\"node\">").count();
    let workloads = svg.matches("<g class=\"node\"><title>workload ").count();
    assert_eq!(boxes - workloads, 200);
    assert!(svg.contains("Drawn: 200 of the 1,000 services"));
    assert!(
        svg.contains("<title>svc-0-5: "),
        "the failing service is drawn"
    );
    let text = run(&["--services", "5"]);
    assert_eq!(table_rows(&text).len(), 6, "{text}");
    let text = run(&["--services", "all"]);
    assert_eq!(table_rows(&text).len(), 1000, "{text}");
    let output = meshsim(&["run", arg(&mesh), "--services", "0"]);
    refused(&output, &["--services", "at least 1"]);
    let _ = std::fs::remove_dir_all(&dir);
}
