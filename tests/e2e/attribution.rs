//! Failure attribution (docs/reports.md#why-requests-failed): the root causes in summary.json
//! against an independent count from the run's own `events.csv` and `timeseries.csv`.

use crate::common::{meshsim, temp_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A CSV file as rows of (column name -> text).
fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("csv file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|line| {
            header
                .iter()
                .zip(line.split(','))
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        })
        .collect()
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().expect("a number")
}

/// Runs `scenario` into a fresh folder and returns the folder.
fn run(scenario: &str, name: &str) -> PathBuf {
    let out = temp_dir(name);
    let output = meshsim(&["run", scenario, "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A fault's span from `events.csv`: (start, end) seconds of the fault of that subject.
fn fault_span(events: &[BTreeMap<String, String>], subject: &str) -> (f64, f64) {
    let time = |kind: &str| {
        events
            .iter()
            .find(|row| row["kind"] == kind && row["subject"] == subject)
            .map(|row| number(row, "time_s"))
            .unwrap_or_else(|| panic!("no {kind} of {subject} in events.csv"))
    };
    (time("fault_start"), time("fault_end"))
}

#[test]
fn root_causes_match_an_independent_count_from_the_windows_and_events() {
    let out = run("scenarios/validation/attribution.toml", "attribution");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let windows = read_csv(&out.join("timeseries.csv"));
    let events = read_csv(&out.join("events.csv"));
    let window_s = number(&windows[0], "window_s");

    // Independent count: the failures in the windows a fault covers (its start to one window
    // past its end: a try refused just before the end is answered just after it), by the
    // columns of the service and outcome it produces. Nothing fails outside those windows.
    let spans = [
        ("catalog", "refused", fault_span(&events, "catalog#0")),
        ("inventory", "error", fault_span(&events, "inventory")),
    ];
    let reviews = fault_span(&events, "reviews");
    let covered = |span: (f64, f64), t: f64| t >= span.0 && t < span.1 + window_s;
    let failed_in = |service: &str, column: &str, span: (f64, f64)| -> u64 {
        windows
            .iter()
            .filter(|row| row["service"] == service && covered(span, number(row, "time_s")))
            .map(|row| number(row, column) as u64)
            .sum()
    };
    let edge_failures = |row: &BTreeMap<String, String>| -> u64 {
        ["timeout", "refused", "error", "rejected", "circuit_open"]
            .iter()
            .map(|column| number(row, column) as u64)
            .sum()
    };
    for row in windows.iter().filter(|row| row["service"] == "(end-to-end)") {
        let t = number(row, "time_s");
        if !spans.iter().any(|(_, _, span)| covered(*span, t)) {
            assert_eq!(edge_failures(row), 0, "a request failed at {t} s, outside the faults");
        }
    }

    let causes = summary["requests"]["root_causes"]
        .as_array()
        .expect("root_causes");
    let attributed = |service: &str, outcome: &str, kind: &str| -> u64 {
        causes
            .iter()
            .filter(|c| {
                c["service"] == service && c["outcome"] == outcome && c["fault"]["kind"] == kind
            })
            .map(|c| c["requests"].as_u64().unwrap())
            .sum()
    };
    for (service, outcome, span) in spans {
        let edge: u64 = windows
            .iter()
            .filter(|row| row["service"] == "(end-to-end)" && covered(span, number(row, "time_s")))
            .map(edge_failures)
            .sum();
        let tries = failed_in(service, outcome, span);
        let kind = if outcome == "refused" {
            "crash"
        } else {
            "errors"
        };
        let counted = attributed(service, outcome, kind);
        assert!(edge > 100, "the fault at {service} fails requests ({edge})");
        // No retries: every failed try of the faulty service fails exactly its one request.
        assert_eq!(counted, edge, "{service}: root causes vs end-to-end failures");
        assert_eq!(counted, tries, "{service}: root causes vs its failed tries");
    }
    // The crash names its replica; the errors spread over inventory's three replicas.
    for cause in causes.iter().filter(|c| c["service"] == "catalog") {
        assert_eq!(cause["replica"], 0);
        assert_eq!(cause["fault"]["target"], "catalog#0");
        assert_eq!(cause["gave_up"], "not retried");
        assert!(cause["label"]
            .as_str()
            .unwrap()
            .starts_with("refused by catalog#0 (crash catalog#0 10–20 s)"));
    }
    let inventory_replicas: Vec<u64> = causes
        .iter()
        .filter(|c| c["service"] == "inventory")
        .map(|c| c["replica"].as_u64().unwrap())
        .collect();
    assert_eq!(inventory_replicas.len(), 3, "one cause per inventory replica");
    // The optional call's crash fails nothing, and no cause names it.
    assert!(reviews.0 > 0.0 && causes.iter().all(|c| c["service"] != "reviews"));
    // The causes account for every failed request, and the total is the summary's.
    let total: u64 = causes.iter().map(|c| c["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, summary["requests"]["failed"].as_u64().unwrap());
    assert_eq!(causes.len(), 4);
}

#[test]
fn root_causes_follow_retries_to_the_call_that_gave_up() {
    // blog.toml: article#0 crashed 40-100 s; the gateway's calls to article retry refusals,
    // and a request fails only when every retry was refused as well.
    let out = temp_dir("attribution-blog");
    let output = meshsim(&["run", "scenarios/blog.toml", "--out", out.to_str().unwrap()]);
    assert!(output.status.success());
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let causes = summary["requests"]["root_causes"].as_array().unwrap();
    let failed = summary["requests"]["failed"].as_u64().unwrap();
    assert!(failed > 0);
    let total: u64 = causes.iter().map(|c| c["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, failed);
    for cause in causes {
        assert_eq!(cause["service"], "article");
        assert_eq!(cause["outcome"], "refused");
        assert_eq!(cause["fault"]["kind"], "crash");
        assert_eq!(cause["gave_up"], "retries exhausted");
    }
    // The terminal summary names the root cause too.
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("refused by article#0 (crash article#0 40–100 s), retries exhausted"),
        "{text}"
    );
}
