//! Trace-driven load: `scenarios/validation/trace.toml` replays `trace.csv`. Expected counts come
//! from this test's own reading of the CSV.

use crate::common::{load, meshsim, run, scenario_path, temp_dir, write_file};
use meshsim::scenario;
use std::collections::BTreeMap;

/// The CSV's rows as (time in ns, endpoint), read independently of meshsim: `time` is seconds
/// ("1.250") or milliseconds ("1250ms") in this file.
fn rows() -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(scenario_path("validation/trace.csv")).expect("trace.csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,endpoint,status"));
    lines
        .map(|line| {
            let mut cells = line.split(',');
            let time = cells.next().expect("time");
            let nanos = match time.strip_suffix("ms") {
                Some(ms) => ms.parse::<u64>().expect("ms") * 1_000_000,
                None => {
                    let (whole, frac) = time.split_once('.').expect("seconds with 3 decimals");
                    whole.parse::<u64>().expect("s") * 1_000_000_000
                        + frac.parse::<u64>().expect("ms") * 1_000_000
                }
            };
            (nanos, cells.next().unwrap_or("").to_string())
        })
        .collect()
}

const WARMUP: u64 = 1_000_000_000;
const DURATION: u64 = 10_000_000_000;
const WINDOW: u64 = 100_000_000;

#[test]
fn offered_requests_and_per_endpoint_counts_are_the_trace_s() {
    let rows = rows();
    let measured: Vec<&(u64, String)> = rows
        .iter()
        .filter(|(t, _)| (WARMUP..DURATION).contains(t))
        .collect();
    // The service each measured row's request reaches at its arrival time.
    let mut per_service: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, endpoint) in &measured {
        let service = match endpoint.as_str() {
            "shop/browse" => "catalog",
            "shop/buy" => "payment",
            "admin" => "admin",
            "" => "shop",
            other => panic!("unexpected endpoint {other}"),
        };
        *per_service.entry(service).or_default() += 1;
    }
    assert!(
        per_service.len() == 4 && measured.len() > 400,
        "{per_service:?}"
    );

    let model = load("validation/trace.toml", &[]);
    let result = run(&model);
    assert_eq!(result.offered, measured.len() as u64);
    assert_eq!(result.outcomes.failed(), 0, "{:?}", result.outcomes);
    for (service, count) in &per_service {
        let index = model
            .services
            .iter()
            .position(|s| s.name == *service)
            .expect("service");
        let requests = result.services[index].requests;
        // The shop sees every row but the admin ones; the others the rows entering them.
        let expected = if *service == "shop" {
            measured.len() as u64 - per_service["admin"]
        } else {
            *count
        };
        assert_eq!(requests, expected, "{service}");
    }
}

#[test]
fn arrivals_per_window_in_timeseries_csv_follow_the_trace() {
    let rows = rows();
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for (t, _) in rows.iter().filter(|(t, _)| *t < DURATION) {
        *expected.entry(t / WINDOW).or_default() += 1;
    }
    // The burst: 300 browsing requests in [6.0 s, 6.3 s) on top of 20/s.
    assert_eq!(expected[&60], 100 + 2);

    let out = temp_dir("trace-run");
    let output = meshsim(&[
        "run",
        scenario_path("validation/trace.toml")
            .to_str()
            .expect("path"),
        "--quiet",
        "--out",
        out.to_str().expect("path"),
    ]);
    assert!(output.status.success(), "{output:?}");
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).expect("timeseries.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).expect(name);
    let (start, service, arrivals) = (column("time_s"), column("service"), column("arrivals"));
    let mut seen = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[service] != "(end-to-end)" {
            continue;
        }
        let window = (cells[start].parse::<f64>().expect("start") * 10.0).round() as u64;
        let count: u64 = cells[arrivals].parse().expect("arrivals");
        assert_eq!(
            count,
            expected.get(&window).copied().unwrap_or(0),
            "window {window}"
        );
        seen += 1;
    }
    assert!(seen >= (DURATION / WINDOW) as usize, "{seen} windows");
}

#[test]
fn trace_problems_name_the_csv_line_and_rate_is_refused() {
    let dir = temp_dir("trace-bad");
    write_file(
        &dir,
        "bad.csv",
        b"time,endpoint\n1s,api\n0.5s,api\nlater,api\n2s,nowhere\n",
    );
    let text = "[scenario]\nname = \"t\"\nduration = \"10s\"\n\
                [[service]]\nname = \"api\"\nservice_time = \"exp(1ms)\"\n\
                [[workload]]\ntarget = \"api\"\narrival = \"trace\"\ntrace = \"bad.csv\"\nrate = 5\n";
    let errors = scenario::load_str(text, "t.toml", &dir, &[]).expect_err("invalid");
    let messages: Vec<String> = errors.0.iter().map(|e| e.to_string()).collect();
    let all = messages.join("\n");
    assert!(
        all.contains("t.toml:11:1: \"rate\" only applies to open loops"),
        "{all}"
    );
    for expected in [
        "line 3: rows must be sorted by time",
        "line 4: time \"later\"",
        "line 5: endpoint: unknown service \"nowhere\"",
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("t.toml:10:9: trace ") && m.contains(expected)),
            "{expected} not in:\n{all}"
        );
    }
}
