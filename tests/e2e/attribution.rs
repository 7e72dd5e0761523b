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
    for row in windows
        .iter()
        .filter(|row| row["service"] == "(end-to-end)")
    {
        let t = number(row, "time_s");
        if !spans.iter().any(|(_, _, span)| covered(*span, t)) {
            assert_eq!(
                edge_failures(row),
                0,
                "a request failed at {t} s, outside the faults"
            );
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
        assert_eq!(
            counted, edge,
            "{service}: root causes vs end-to-end failures"
        );
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
    assert_eq!(
        inventory_replicas.len(),
        3,
        "one cause per inventory replica"
    );
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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
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

/// The topology diagram of a run's `report.html`, parsed: (the SVG's texts and titles).
fn topology_texts(html: &str) -> Vec<String> {
    let start = html
        .find("<figure id=\"topology\">")
        .expect("a topology figure");
    let svg_start = start + html[start..].find("<svg").expect("an inline svg");
    let svg_end = svg_start + html[svg_start..].find("</svg>").expect("svg end") + "</svg>".len();
    let svg = &html[svg_start..svg_end];
    let document = roxmltree::Document::parse(svg).expect("the topology SVG is XML");
    assert_eq!(document.root_element().tag_name().name(), "svg");
    document
        .descendants()
        .filter(|n| n.has_tag_name("title") || n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::to_string)
        .collect()
}

/// Every service and every call of `scenario` (read from the file independently of meshsim's
/// own reader: TOML parsed here), as the diagram must name them.
fn services_and_calls(scenario: &str) -> (Vec<String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(crate::common::root().join(scenario)).unwrap();
    let table: toml::Table = text.parse().expect("TOML");
    let mut services = Vec::new();
    let mut calls = Vec::new();
    fn targets(value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::String(to) => out.push(to.clone()),
            toml::Value::Table(call) => out.push(call["to"].as_str().unwrap().to_string()),
            toml::Value::Array(step) => step.iter().for_each(|v| targets(v, out)),
            _ => {}
        }
    }
    for service in table["service"].as_array().unwrap() {
        let name = service["name"].as_str().unwrap().to_string();
        let mut called = Vec::new();
        if let Some(list) = service.get("calls") {
            targets(list, &mut called);
        }
        for endpoint in service
            .get("endpoint")
            .and_then(|e| e.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(list) = endpoint.get("calls") {
                targets(list, &mut called);
            }
        }
        for to in called {
            // "svc" or "svc/endpoint": the diagram names the service called.
            let service_called = to.split('/').next().unwrap().to_string();
            calls.push((name.clone(), service_called));
        }
        services.push(name);
    }
    (services, calls)
}

#[test]
fn the_topology_diagram_names_every_service_and_call() {
    for (scenario, name) in [
        ("scenarios/blog.toml", "topology-blog"),
        ("scenarios/systems/social-network.toml", "topology-social"),
        ("scenarios/systems/mesh-1000.toml", "topology-mesh"),
        (
            "scenarios/validation/attribution.toml",
            "topology-attribution",
        ),
    ] {
        let out = temp_dir(name);
        let output = meshsim(&[
            "run",
            scenario,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
            "--set",
            "scenario.duration=3s",
            "--set",
            "scenario.warmup=1s",
        ]);
        assert!(
            output.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let texts = topology_texts(&html);
        let (services, calls) = services_and_calls(scenario);
        assert!(!services.is_empty());
        let drawn: Vec<&String> = services
            .iter()
            .filter(|service| texts.iter().any(|t| t.starts_with(&format!("{service}: "))))
            .collect();
        // Up to 200 services every one is drawn; a bigger mesh draws 200 and says so (the
        // services and calls among them are named as below).
        if services.len() <= 200 {
            assert_eq!(drawn.len(), services.len(), "{scenario}: {drawn:?}");
        } else {
            assert_eq!(drawn.len(), 200, "{scenario}");
            let said = format!("Drawn: 200 of the {} services", {
                let n = services.len().to_string();
                let (head, tail) = n.split_at(n.len() - 3);
                format!("{head},{tail}")
            });
            assert!(html.contains(&said), "{scenario}: no \"{said}\"");
        }
        let calls: Vec<&(String, String)> = calls
            .iter()
            .filter(|(caller, callee)| drawn.contains(&caller) && drawn.contains(&callee))
            .collect();
        assert!(!calls.is_empty() || services.len() == 1, "{scenario}");
        for (caller, callee) in calls {
            let needle_from = format!("{caller}/");
            let needle_to = format!(" → {callee}/");
            assert!(
                texts.iter().any(|t| t
                    .lines()
                    .any(|line| line.starts_with(&needle_from) && line.contains(&needle_to))),
                "{scenario}: the diagram does not name the call {caller} → {callee}"
            );
        }
        std::fs::remove_dir_all(&out).ok();
    }
}

#[test]
fn verbose_prints_what_is_simulated() {
    let out = temp_dir("attribution-verbose");
    let output = meshsim(&[
        "run",
        "scenarios/validation/attribution.toml",
        "--out",
        out.to_str().unwrap(),
        "--verbose",
        "--set",
        "scenario.duration=2s",
        "--set",
        "scenario.warmup=1s",
    ]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "what is simulated",
        "registry      static",
        "service catalog: 2 replicas x 32 workers; calls to it: round_robin, timeout 1 s, no retries",
        "gateway/default calls catalog/default then [pricing/default | reviews/default (p 0.5, optional)] in parallel",
        "workload shoppers: poisson 400/s into gateway/default",
        "fault 0       crash catalog#0 10–20 s",
        "fault 1       errors inventory 30–40 s (rate 0.2)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

/// Steady arrivals of 200 ms requests (about 20 in flight at any time, so some are still
/// under way when the load ends at 4 s: the run drains), a load change at 2 s and one written
/// for 9 s, after the load ends.
const DRAINING: &str = r#"[scenario]
name = "draining"
seed = 3
duration = "4s"
warmup = "1s"

[[service]]
name = "slow"
workers = 64
service_time = "const(200ms)"

[[workload]]
name = "steady"
target = "slow"
rate = 100
schedule = [{ at = "2s", rate = 150 }, { at = "9s", rate = 300 }]
"#;

#[test]
fn the_drain_and_the_load_changes_are_marked_on_every_time_plot() {
    let dir = temp_dir("drain-marks");
    let scenario = dir.join("draining.toml");
    std::fs::write(&scenario, DRAINING).expect("write the scenario");
    let out = run(scenario.to_str().unwrap(), "drain-marks-run");
    // The run drains (about 20 requests of 200 ms are under way when the load ends; none
    // with probability e^-20), so the time plots run past 4 s.
    let svg = |name: &str| std::fs::read_to_string(out.join(name)).expect("plot");
    for plot in ["latency.svg", "availability.svg"] {
        let text = svg(plot);
        assert!(
            text.contains("drain: no new load"),
            "{plot} lacks the drain"
        );
        assert!(
            text.contains("load → 150/s steady"),
            "{plot} lacks the change at 2 s"
        );
        assert!(
            !text.contains("300/s"),
            "{plot} marks the change written for after the load ended"
        );
    }
    // The per-replica heatmap leaves the drain out and says so; it marks the load change.
    let replicas = svg("replicas.svg");
    assert!(replicas.contains("the drain after 4 s is left out"));
    assert!(replicas.contains("load → 150/s steady"));
    assert!(!replicas.contains("300/s"));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out);
}

/// Two workloads: `via-back` reaches `back`, whose one replica of two crashes from 1 s to 3 s
/// under a static registry without retries (so about half its calls fail meanwhile);
/// `solo` calls `solo`, which nothing faults and which cannot fail (no timeout can expire).
const TWO_WORKLOADS: &str = r#"[scenario]
name = "two-workloads"
seed = 11
duration = "4s"
warmup = "0.5s"

[registry]
model = "static"

[[service]]
name = "front"
workers = 32
service_time = "exp(1ms)"
calls = ["back"]

[[service]]
name = "back"
replicas = 2
workers = 32
service_time = "exp(1ms)"

[[service]]
name = "solo"
workers = 32
service_time = "exp(1ms)"

[[workload]]
name = "via-back"
target = "front"
rate = 200

[[workload]]
name = "solo"
target = "solo"
rate = 100

[[fault]]
at = "1s"
for = "2s"
kind = "crash"
target = "back#0"
"#;

#[test]
fn availability_per_workload_adds_up_and_only_the_faulted_path_fails() {
    let dir = temp_dir("per-workload");
    let scenario = dir.join("two.toml");
    std::fs::write(&scenario, TWO_WORKLOADS).expect("write the scenario");
    let out = run(scenario.to_str().unwrap(), "per-workload-run");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("JSON");
    let workloads = summary["workloads"].as_object().expect("workloads");
    let field = |name: &str, key: &str| workloads[name][key].as_u64().expect(key);
    for key in ["offered", "succeeded", "failed"] {
        let sum: u64 = workloads.keys().map(|name| field(name, key)).sum();
        assert_eq!(sum, summary["requests"][key].as_u64().expect(key), "{key}");
    }
    for name in workloads.keys() {
        let availability = workloads[name]["availability"]
            .as_f64()
            .expect("availability");
        let expected = field(name, "succeeded") as f64 / field(name, "offered") as f64;
        assert!((availability - expected).abs() < 1e-12, "{name}");
    }
    assert_eq!(workloads["solo"]["endpoint"], "solo/default");
    assert_eq!(field("solo", "failed"), 0);
    // Round robin over two replicas, one crashed for 2 of the 3.5 measured seconds: about
    // 2/3.5/2 = 29% of via-back's calls are refused; at least 10% (standard error under 1.5
    // points for about 700 calls, so 10% is more than ten standard errors below).
    let share = field("via-back", "failed") as f64 / field("via-back", "offered") as f64;
    assert!(share > 0.10, "{share}");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(html.contains("via-back") && html.contains("solo/default"));
    // The terminal's service table shows back's refused tries beside the tries it received
    // (which all succeeded: the crashed replica received none), as summary.json counts them.
    let again = temp_dir("per-workload-terminal");
    let output = meshsim(&[
        "run",
        scenario.to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let row: Vec<u64> = text
        .lines()
        .find(|line| line.trim_start().starts_with("back "))
        .expect("back's row")
        .split_whitespace()
        .skip(1)
        .filter_map(|cell| cell.trim_end_matches('%').parse().ok())
        .collect();
    let back = &summary["services"]["back"];
    let tries = back["tries"].as_object().expect("tries");
    let sent: u64 = tries.values().map(|n| n.as_u64().expect("count")).sum();
    let refused = tries["refused"].as_u64().expect("refused");
    assert!(refused > 0);
    // requests, succeeded, (util, p50, p99 are not integers), sent, sent fail.
    assert_eq!(row.first().copied(), back["requests"].as_u64(), "{text}");
    assert_eq!(row.get(1).copied(), back["succeeded"].as_u64(), "{text}");
    assert_eq!(&row[row.len() - 2..], &[sent, refused], "{text}");
    let _ = std::fs::remove_dir_all(&again);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&out);
}
