//! `meshsim run --openmetrics` and `[[alert]]` rules, on `scenarios/late_alert.toml`:
//! - the story's firing times equal those computed here from `timeseries.csv`, and match what
//!   its header derives from the workbook's arithmetic;
//! - `promtool check metrics` finds nothing but what Istio's own names draw, `promtool tsdb
//!   create-blocks-from openmetrics` ingests the file, and a real Prometheus started on the
//!   blocks returns `timeseries.csv`'s request counts at every window end and fires the burn-rate
//!   rules (as PromQL written here) at the same evaluation as meshsim.

use crate::common;
use meshsim::model::{AlertKind, Model};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const STORY: &str = "scenarios/late_alert.toml";
/// Simulated time 0 as Unix seconds (the traces' and metrics' epoch, 2024-01-01).
const EPOCH_S: u64 = 1_704_067_200;

/// One `(end-to-end)` row, or one service's failures, of `timeseries.csv`.
#[derive(Debug, Clone, Default)]
struct Row {
    end_s: u64,
    succeeded: u64,
    /// timeout, refused, error, rejected, circuit_open.
    failures: [u64; 5],
}

impl Row {
    fn failed(&self) -> u64 {
        self.failures.iter().sum()
    }
}

/// The story's run, made once for every test here.
struct StoryRun {
    dir: PathBuf,
    openmetrics: PathBuf,
    summary: serde_json::Value,
    edge: Vec<Row>,
    /// The `api` service's rows.
    api: Vec<Row>,
}

fn story_run() -> &'static StoryRun {
    static RUN: OnceLock<StoryRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = common::temp_dir("metrics-story");
        let report = dir.join("report");
        let openmetrics = dir.join("late_alert.om");
        let summary = common::run_summary(
            Path::new(STORY),
            &report,
            &["--openmetrics", openmetrics.to_str().expect("utf-8 path")],
        );
        let (edge, api) = read_timeseries(&report.join("timeseries.csv"));
        StoryRun {
            dir,
            openmetrics,
            summary,
            edge,
            api,
        }
    })
}

fn read_timeseries(path: &Path) -> (Vec<Row>, Vec<Row>) {
    let mut reader = csv::Reader::from_path(path).expect("timeseries.csv");
    let headers = reader.headers().expect("header").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (time, width, service, succeeded) = (
        column("time_s"),
        column("window_s"),
        column("service"),
        column("succeeded"),
    );
    let failures = ["timeout", "refused", "error", "rejected", "circuit_open"].map(column);
    let (mut edge, mut api) = (Vec::new(), Vec::new());
    for record in reader.records() {
        let record = record.expect("row");
        let number = |i: usize| record[i].parse::<f64>().expect("number");
        let row = Row {
            end_s: (number(time) + number(width)).round() as u64,
            succeeded: number(succeeded) as u64,
            failures: failures.map(|i| number(i) as u64),
        };
        match &record[service] {
            "(end-to-end)" => edge.push(row),
            "api" => api.push(row),
            _ => {}
        }
    }
    (edge, api)
}

/// Firing and resolving instants (seconds) of a burn-rate rule, evaluated at every window end
/// over the windows ending in (t - look-back, t]: written here from the rule's definition in
/// docs/metrics.md, apart from src/analysis/alerts.rs.
fn burn_rate_firings(
    rows: &[Row],
    long: u64,
    short: Option<u64>,
    threshold: f64,
) -> Vec<(u64, Option<u64>)> {
    // Cumulative failed and ended counts at each window end.
    let mut failed = vec![0u64];
    let mut ended = vec![0u64];
    for row in rows {
        failed.push(failed.last().unwrap() + row.failed());
        ended.push(ended.last().unwrap() + row.failed() + row.succeeded);
    }
    let ratio_above = |k: usize, windows: usize| {
        let from = k.saturating_sub(windows);
        let e = ended[k] - ended[from];
        e > 0 && (failed[k] - failed[from]) as f64 / e as f64 > threshold
    };
    let mut firings: Vec<(u64, Option<u64>)> = Vec::new();
    let mut firing = false;
    for k in 1..=rows.len() {
        let holds =
            ratio_above(k, long as usize) && short.is_none_or(|s| ratio_above(k, s as usize));
        let now = rows[k - 1].end_s;
        if holds && !firing {
            firings.push((now, None));
        } else if !holds && firing {
            firings.last_mut().expect("firing").1 = Some(now);
        }
        firing = holds;
    }
    firings
}

/// The story's burn-rate rules: (name, long windows, short windows, threshold).
fn burn_rules(model: &Model) -> Vec<(String, u64, Option<u64>, f64)> {
    let window = model.window;
    model
        .alerts
        .iter()
        .filter_map(|rule| match rule.kind {
            AlertKind::BurnRate {
                long,
                short,
                burn,
                availability,
            } => Some((
                rule.name.clone(),
                long / window,
                short.map(|s| s / window),
                burn * (1.0 - availability),
            )),
            AlertKind::Latency { .. } => None,
        })
        .collect()
}

fn summary_firings(summary: &serde_json::Value, name: &str) -> Vec<(u64, Option<u64>)> {
    let rule = summary["alerts"]["rules"]
        .as_array()
        .expect("alerts.rules")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("rule {name} in summary.json"));
    rule["firings"]
        .as_array()
        .expect("firings")
        .iter()
        .map(|f| {
            (
                f["fired_at_s"].as_f64().expect("fired_at_s") as u64,
                f["resolved_at_s"].as_f64().map(|s| s as u64),
            )
        })
        .collect()
}

#[test]
fn late_alert_story_fires_when_the_windows_say_and_as_its_header_predicts() {
    let run = story_run();
    let model = common::load("late_alert.toml", &[]);
    let window_s = model.window / 1_000_000_000;
    assert_eq!(window_s, 1, "the story's arithmetic assumes 1 s windows");
    for (name, long, short, threshold) in burn_rules(&model) {
        let expected = burn_rate_firings(&run.edge, long, short, threshold);
        assert_eq!(
            summary_firings(&run.summary, &name),
            expected,
            "rule {name}"
        );
    }
    // The header's arithmetic. Fault: errors at rate r on every api replica from `at`.
    let fault = &model.faults[0];
    let at_s = fault.at / 1_000_000_000;
    let rate = model.workloads[0].rate;
    let error_rate = match fault.kind {
        meshsim::model::FaultKind::Errors { rate } => rate,
        ref other => panic!("the story's fault is an errors fault, found {other:?}"),
    };
    let delay = |name: &str| {
        let firings = summary_firings(&run.summary, name);
        firings.first().map(|&(fired, _)| fired - at_s)
    };
    for (name, long, _, threshold) in burn_rules(&model) {
        // A long window of L seconds, full of traffic at `rate`, crosses the threshold after
        // L * threshold / error_rate seconds of errors: when the errors reach
        // n = L * rate * threshold. They are Poisson with mean error_rate * rate per second,
        // so the crossing time has sd sqrt(n) / (error_rate * rate) seconds; band 5 sd plus
        // one evaluation interval.
        let predicted = long as f64 * threshold / error_rate;
        let errors_per_second = error_rate * rate;
        let sd = (long as f64 * rate * threshold).sqrt() / errors_per_second;
        match delay(&name) {
            Some(measured) if threshold < error_rate => assert!(
                (measured as f64 - predicted).abs() <= 5.0 * sd + 1.0,
                "{name}: fired {measured} s after the fault, predicted {predicted:.1} s (sd {sd:.1} s)"
            ),
            None if threshold > error_rate => {}
            other => panic!("{name}: threshold {threshold}, error rate {error_rate}, delay {other:?}"),
        }
    }
    // The multiwindow rule pages first; the long-window-only rule is still firing at the end.
    let (page, ticket) = (
        delay("page_slow").expect("page_slow fires"),
        delay("ticket_only").expect("ticket_only fires"),
    );
    assert!(page < ticket, "page_slow {page} s, ticket_only {ticket} s");
    assert_eq!(summary_firings(&run.summary, "ticket_only")[0].1, None);
    let fixed_s = fault.until.expect("the story's fault ends") / 1_000_000_000;
    let resolved = summary_firings(&run.summary, "page_slow")[0]
        .1
        .expect("page_slow resolves");
    assert!(
        (fixed_s..=fixed_s + 6).contains(&resolved),
        "page_slow resolved at {resolved} s, the fix at {fixed_s} s, its short window 5 s"
    );
    // Detection delay and budget in the fault section agree with the firing.
    let rule = summary_rule(&run.summary, "page_slow");
    let fault_section = &rule["faults"][0];
    assert_eq!(
        fault_section["detection_delay_s"].as_f64(),
        Some(page as f64)
    );
    let failed_before: u64 = run
        .edge
        .iter()
        .filter(|r| r.end_s > at_s && r.end_s <= at_s + page)
        .map(Row::failed)
        .sum();
    assert_eq!(
        fault_section["failed_before_firing"].as_u64(),
        Some(failed_before)
    );
    assert_eq!(rule["false_alarms"].as_u64(), Some(0));
}

fn summary_rule<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["alerts"]["rules"]
        .as_array()
        .expect("alerts.rules")
        .iter()
        .find(|r| r["name"] == name)
        .expect("rule")
}

/// A child process killed when dropped (also when the test fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// GET `target` from the server on `port`: (status, body).
fn http_get(port: u16, target: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    Ok((status, body))
}

/// A range query evaluated every second over the run: (seconds since the run's start, value).
fn query_range(port: u16, query: &str, end_s: u64) -> Vec<(u64, f64)> {
    let target = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step=1",
        percent_encode(query),
        EPOCH_S + 1,
        EPOCH_S + end_s
    );
    let (status, body) = http_get(port, &target).expect("query Prometheus");
    assert_eq!(status, 200, "{query}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON answer");
    let result = json["data"]["result"].as_array().expect("result");
    assert!(
        result.len() <= 1,
        "{query}: one series expected, got {body}"
    );
    result
        .first()
        .map(|series| {
            series["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|pair| {
                    let t = pair[0].as_f64().expect("time") as u64 - EPOCH_S;
                    let v: f64 = pair[1].as_str().expect("value").parse().expect("number");
                    (t, v)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn openmetrics_loads_into_prometheus_with_timeseries_counts_and_the_same_alerts() {
    let test = "metrics::openmetrics_loads_into_prometheus";
    let install = "apt-get install prometheus (Debian's package ships promtool)";
    let Some(promtool) = common::require_component(test, "promtool", "/usr/bin/promtool", install)
    else {
        return;
    };
    let Some(prometheus) =
        common::require_component(test, "prometheus", "/usr/bin/prometheus", install)
    else {
        return;
    };
    let run = story_run();
    let text = std::fs::read_to_string(&run.openmetrics).expect("the OpenMetrics file");
    assert!(text.ends_with("# EOF\n"));

    // promtool check metrics lints with the classic text format's rules, and finds exactly
    // two things, both drawn by Istio's standard names (docs/metrics.md): the unit in
    // `istio_request_duration_milliseconds` (an Istio proxy's own exposition draws it too:
    // `promtool_finds_the_same_unit_in_an_istio_proxy_s_own_exposition`), and no help text for
    // `istio_requests_total`, because the classic parser takes a family's name from its
    // samples while OpenMetrics names the counter family `istio_requests` (a HELP line for
    // `istio_requests_total` would declare a second family whose name clashes with the
    // counter's samples, which OpenMetrics forbids). Exit 3: lint findings.
    let (findings, code) = lint(&promtool, &run.openmetrics);
    assert_eq!(
        findings,
        [
            "istio_request_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
            "istio_requests_total no help text",
        ],
        "promtool check metrics"
    );
    assert_eq!(code, Some(3), "promtool check metrics exit");

    // Backfill, then start Prometheus on the blocks (loopback, a free port).
    let tsdb = run.dir.join("tsdb");
    let _ = std::fs::remove_dir_all(&tsdb);
    let backfill = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&run.openmetrics)
        .arg(&tsdb)
        .output()
        .expect("promtool runs");
    assert!(
        backfill.status.success(),
        "{}",
        String::from_utf8_lossy(&backfill.stderr)
    );
    let config = common::write_file(
        &run.dir,
        "prometheus.yml",
        b"global:\n  evaluation_interval: 1s\n",
    );
    let port = free_port();
    let log = std::fs::File::create(run.dir.join("prometheus.log")).expect("log file");
    let server = Server(
        Command::new(&prometheus)
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--config.file={}", config.display()))
            // The blocks are from 2024: keep them whatever today's date.
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts"),
    );
    let started = Instant::now();
    while !matches!(http_get(port, "/-/ready"), Ok((200, _))) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "Prometheus not ready after 120 s; see {}",
            run.dir.join("prometheus.log").display()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Request counts: end-to-end ones at every window end, cumulative from timeseries.csv.
    let end_s = run.edge.last().expect("windows").end_s;
    let entry = "source_workload_namespace=\"meshsim-load\"";
    let totals = query_range(
        port,
        &format!("sum(istio_requests_total{{{entry}}})"),
        end_s,
    );
    let failures = query_range(
        port,
        &format!("sum(istio_requests_total{{{entry},response_code=~\"5..\"}})"),
        end_s,
    );
    let mut ended = 0u64;
    let mut failed = 0u64;
    let mut cumulative = std::collections::BTreeMap::new();
    for row in &run.edge {
        ended += row.succeeded + row.failed();
        failed += row.failed();
        cumulative.insert(row.end_s, (ended, failed));
    }
    assert_eq!(totals.len() as u64, end_s, "one value per second");
    for ((t, total), (_, fail)) in totals.iter().zip(&failures) {
        let (ended, failed) = cumulative[t];
        assert_eq!((*total as u64, *fail as u64), (ended, failed), "at {t} s");
    }
    // Calls from the gateway to api: api's failures by outcome (error -> 500) at the end.
    let api_errors = query_range(
        port,
        "sum(istio_requests_total{source_workload=\"gateway\",destination_workload=\"api\",response_code=\"500\"})",
        end_s,
    );
    let api_failed: u64 = run.api.iter().map(|r| r.failures[2]).sum();
    assert_eq!(api_errors.last().map(|&(_, v)| v as u64), Some(api_failed));

    // The burn-rate rules as PromQL, evaluated every second: the first evaluation returning a
    // value is Prometheus' firing (for: 0), the first one after it returning none its
    // resolution. They must match meshsim's within one evaluation interval.
    let model = common::load("late_alert.toml", &[]);
    for (name, long, short, threshold) in burn_rules(&model) {
        let ratio = |range: u64| {
            format!(
                "(sum(increase(istio_requests_total{{{entry},response_code=~\"5..\"}}[{range}s])) \
                 / sum(increase(istio_requests_total{{{entry}}}[{range}s])))"
            )
        };
        let mut query = format!("{} > {threshold}", ratio(long));
        if let Some(short) = short {
            query = format!("{query} and {} > {threshold}", ratio(short));
        }
        let holding: Vec<u64> = query_range(port, &query, end_s)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let mut prometheus_firings: Vec<(u64, Option<u64>)> = Vec::new();
        for &t in &holding {
            match prometheus_firings.last_mut() {
                Some((_, None)) if holding.contains(&(t - 1)) => {}
                _ => prometheus_firings.push((t, None)),
            }
        }
        for firing in &mut prometheus_firings {
            let mut t = firing.0;
            while holding.contains(&t) {
                t += 1;
            }
            firing.1 = (t <= end_s).then_some(t);
        }
        let meshsim = summary_firings(&run.summary, &name);
        assert_eq!(
            meshsim.len(),
            prometheus_firings.len(),
            "{name}: {meshsim:?} vs {prometheus_firings:?}"
        );
        for (ours, theirs) in meshsim.iter().zip(&prometheus_firings) {
            assert!(
                ours.0.abs_diff(theirs.0) <= 1,
                "{name} fired: meshsim {ours:?}, Prometheus {theirs:?}"
            );
            match (ours.1, theirs.1) {
                (Some(a), Some(b)) => assert!(a.abs_diff(b) <= 1, "{name} resolved: {a} vs {b}"),
                (None, None) => {}
                other => panic!("{name} resolved: meshsim/Prometheus {other:?}"),
            }
        }
    }
    drop(server);
}

#[test]
fn compare_reports_each_variants_detection_delay() {
    let dir = common::temp_dir("metrics-compare");
    let out = dir.join("compare");
    let output = common::meshsim(&[
        "compare",
        STORY,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--vary",
        "workload.users.rate=1500,3000",
        "-r",
        "2",
        "--set",
        "scenario.duration=200s",
        "--set",
        "fault.0.at=100s",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let comparison: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("comparison.json")).expect("comparison.json"),
    )
    .expect("JSON");
    let model = common::load("late_alert.toml", &[]);
    let variants = comparison["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    for variant in variants {
        let alerts = variant["alerts"].as_array().expect("alerts per variant");
        assert_eq!(alerts.len(), model.alerts.len());
        let find = |name: &str| {
            alerts
                .iter()
                .find(|a| a["name"] == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        // 1% errors never reach page_fast's 1.44% (4.4 sd at 1500/s, more at 3000/s).
        assert_eq!(find("page_fast")["faults"][0]["detected"].as_u64(), Some(0));
        // page_slow: 60 s x 0.6% / 1% = 36 s after the start whatever the rate (sd 1.5 s at
        // 1500/s for one replication; band 5 sd + one interval).
        let page = &find("page_slow")["faults"][0];
        assert_eq!(page["detected"].as_u64(), Some(2));
        let mean = page["detection_delay_s"]["mean"]
            .as_f64()
            .expect("mean delay");
        assert!((mean - 36.0).abs() <= 8.5, "page_slow mean delay {mean} s");
        // When it fired: its first firing is the detection (no false alarm before the fault
        // at 100 s), and it never resolves (the fault lasts past the run's 200 s).
        let rule = find("page_slow");
        let fired = rule["first_fired_at_s"]["mean"].as_f64().expect("fired");
        assert!((fired - (100.0 + mean)).abs() < 1e-9, "{fired} vs {mean}");
        assert!(rule["first_resolved_at_s"].is_null());
        let firings = rule["firings"].as_array().expect("per replication");
        assert_eq!(firings.len(), 2);
        for replication in firings {
            assert!(replication[0]["resolved_at_s"].is_null(), "{replication}");
        }
        assert_eq!(rule["false_alarms_mean"].as_f64(), Some(0.0));
        // The budget burned before the page: the failed requests before it over the run's
        // budget, 0.1% of the requests (within 2%: requests ended vs measured), and in theory
        // 36 s of 1% errors over 0.1% of 200 s: 180%, scaled by the delay measured.
        let budget = page["budget_burned_before_firing"]["mean"]
            .as_f64()
            .expect("budget");
        let offered: f64 = variant["replications"]
            .as_array()
            .expect("replications")
            .iter()
            .map(|r| r["offered"].as_f64().expect("offered"))
            .sum::<f64>()
            / 2.0;
        let failed_before = page["failed_before_firing_mean"].as_f64().expect("failed");
        let from_counts = failed_before / (0.001 * offered);
        assert!(
            (budget / from_counts - 1.0).abs() < 0.02,
            "{budget} vs {from_counts}"
        );
        let theory = mean * 0.01 / (0.001 * 200.0);
        assert!((budget / theory - 1.0).abs() < 0.1, "{budget} vs {theory}");
    }
    // The terminal table and comparison.md say the same per variant.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let markdown = std::fs::read_to_string(out.join("comparison.md")).expect("comparison.md");
    for variant in variants {
        let rule = variant["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .find(|a| a["name"] == "page_slow")
            .expect("page_slow");
        let fired = rule["first_fired_at_s"]["mean"].as_f64().expect("fired");
        let budget = rule["faults"][0]["budget_burned_before_firing"]["mean"]
            .as_f64()
            .expect("budget");
        let said = format!(
            "page_slow: first fired at {} s (2/2 replications), still firing at the end; fault 0: detected 2/2 after",
            three_decimals(fired)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("  alert ") && l.contains(&said))
            .unwrap_or_else(|| panic!("no line with {said:?} in\n{stdout}"));
        assert!(
            line.contains(&format!("({:.1}% of the error budget)", budget * 100.0))
                && line.ends_with("false alarms 0 per replication"),
            "{line}"
        );
        assert!(
            markdown.contains(&format!(
                "`page_slow` (burn_rate): first fired at {} s",
                three_decimals(fired)
            )),
            "{markdown}"
        );
    }
    // page_fast never fires at either rate.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("  alert ")
                && l.contains("page_fast: never fired (2 replication(s))"))
            .count(),
        2,
        "{stdout}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("<h2 id=\"alerts\">Alerts</h2>") && html.contains("page_slow"));
    assert!(html.contains("first fired → resolved") && html.contains("% of the budget"));
}

/// A number with at most 3 decimals and no trailing zeros (as the terminal table writes it).
fn three_decimals(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[test]
fn openmetrics_bytes_are_the_same_for_the_same_scenario_and_seed() {
    let dir = common::temp_dir("metrics-determinism");
    let mut files = Vec::new();
    for attempt in 0..2 {
        let report = dir.join(format!("report-{attempt}"));
        let path = dir.join(format!("run-{attempt}.om"));
        let output = common::meshsim(&[
            "run",
            STORY,
            "--quiet",
            "--out",
            report.to_str().expect("utf-8 path"),
            "--openmetrics",
            path.to_str().expect("utf-8 path"),
            "--set",
            "scenario.duration=30s",
            "--set",
            "fault.0.at=10s",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !dir.join(format!("run-{attempt}.om.partial")).exists(),
            "scratch file removed"
        );
        files.push(std::fs::read(&path).expect("the OpenMetrics file"));
    }
    assert!(files[0] == files[1], "two runs wrote different bytes");
    // Each series: a sample at 0 and one per window, in increasing time.
    let text = String::from_utf8(files.swap_remove(0)).expect("utf-8");
    let first = text
        .lines()
        .find(|l| l.starts_with("istio_requests_total{"))
        .expect("a counter sample");
    let labels = &first[..first.find('}').expect("labels end") + 1];
    let times: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with(labels))
        .map(|l| {
            l.rsplit(' ')
                .next()
                .expect("timestamp")
                .parse()
                .expect("whole seconds")
        })
        .collect();
    // Time 0, then every window of timeseries.csv (the run's 30 s and the drain after it).
    let (edge, _) = read_timeseries(&dir.join("report-0").join("timeseries.csv"));
    let expected: Vec<u64> = std::iter::once(EPOCH_S)
        .chain(edge.iter().map(|row| EPOCH_S + row.end_s))
        .collect();
    assert!(edge.len() >= 30);
    assert_eq!(times, expected);
}

#[test]
fn openmetrics_refuses_a_window_below_prometheus_precision() {
    let dir = common::temp_dir("metrics-window");
    let output = common::meshsim(&[
        "run",
        STORY,
        "--quiet",
        "--out",
        dir.join("report").to_str().expect("utf-8 path"),
        "--openmetrics",
        dir.join("x.om").to_str().expect("utf-8 path"),
        "--set",
        "scenario.window=500us",
        "--set",
        "scenario.duration=1s",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("whole number of milliseconds"));
}

/// `promtool check metrics < file`: its findings (one per line, in promtool's order) and its
/// exit status.
fn lint(promtool: &Path, file: &Path) -> (Vec<String>, Option<i32>) {
    let check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file).expect("open"))
        .output()
        .expect("promtool runs");
    let text = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    let findings = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    (findings, check.status.code())
}

#[test]
fn promtool_finds_the_same_unit_in_an_istio_proxy_s_own_exposition() {
    let test = "metrics::promtool_finds_the_same_unit_in_an_istio_proxy_s_own_exposition";
    let install = "apt-get install prometheus (Debian's package ships promtool)";
    let Some(promtool) = common::require_component(test, "promtool", "/usr/bin/promtool", install)
    else {
        return;
    };
    // What an Istio sidecar serves: Istio's standard names and labels (istio/proxy's test data)
    // in the text Envoy's /stats/prometheus writes, a TYPE line per family and no HELP
    // (scenarios/topologies/SOURCES.md). promtool objects to the unit of the histogram's name,
    // as it does for meshsim's file, and to the missing help texts, which meshsim's file
    // provides for every family the classic format sees except istio_requests_total.
    let proxy = common::root().join("tests/fixtures/istio/proxy-stats.prom");
    let (findings, code) = lint(&promtool, &proxy);
    assert_eq!(
        findings,
        [
            "istio_request_duration_milliseconds no help text",
            "istio_request_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"",
            "istio_requests_total no help text",
        ]
    );
    assert_eq!(code, Some(3));
}

/// A latency rule with a `for`: api slows down tenfold from 30 s to 50 s (exp(2 ms) becomes
/// exp(20 ms): e^-2.5 = 8% of its requests above 50 ms against 1% allowed, where before it
/// e^-25).
const SLOW_STORY: &str = r#"
[scenario]
name = "slow-alert"
seed = 11
duration = "90s"

[network]
latency = "const(0.25ms)"

[[service]]
name = "gateway"
replicas = 2
workers = 64
concurrency = "async"
service_time = "exp(0.2ms)"
calls = ["api"]

[[service]]
name = "api"
replicas = 4
workers = 64
concurrency = "async"
service_time = "exp(2ms)"

[[workload]]
name = "users"
target = "gateway"
rate = 500

[[fault]]
at = "30s"
for = "20s"
kind = "slow"
target = "api"
factor = 10

[[alert]]
name = "slow_api"
kind = "latency"
percentile = 99
above = "50ms"
window = "10s"
for = "5s"
"#;

/// Per second from 0, the sum over the end-to-end series of the succeeded requests'
/// `name{...}` samples (with `le` when given) in an OpenMetrics file.
fn entry_series(text: &str, name: &str, le: Option<&str>) -> Vec<f64> {
    let mut by_second: std::collections::BTreeMap<u64, f64> = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let (labels, values) = rest.split_once("} ").expect("labels and value");
        let wanted = labels.contains("reporter=\"source\"")
            && labels.contains("source_workload_namespace=\"meshsim-load\"")
            && labels.contains("response_code=\"200\"")
            && le.is_none_or(|le| labels.contains(&format!("le=\"{le}\"")));
        if !wanted {
            continue;
        }
        let mut parts = values.split(' ');
        let value: f64 = parts.next().expect("value").parse().expect("number");
        let time: f64 = parts.next().expect("timestamp").parse().expect("number");
        *by_second.entry(time as u64 - EPOCH_S).or_default() += value;
    }
    let last = by_second.keys().last().copied().unwrap_or(0);
    assert_eq!(by_second.len() as u64, last + 1, "a sample every second");
    by_second.into_values().collect()
}

#[test]
fn a_latency_rule_with_for_fires_when_prometheus_fires_it() {
    let test = "metrics::a_latency_rule_with_for_fires_when_prometheus_fires_it";
    let install = "apt-get install prometheus (Debian's package ships promtool)";
    let Some(promtool) = common::require_component(test, "promtool", "/usr/bin/promtool", install)
    else {
        return;
    };
    let dir = common::temp_dir("metrics-latency-rule");
    let scenario = common::write_file(&dir, "slow.toml", SLOW_STORY.as_bytes());
    let openmetrics = dir.join("slow.om");
    let summary = common::run_summary(
        &scenario,
        &dir.join("report"),
        &["--openmetrics", openmetrics.to_str().expect("utf-8 path")],
    );
    let ours = summary_firings(&summary, "slow_api");
    let promql = summary_rule(&summary, "slow_api")["promql"]
        .as_str()
        .expect("promql")
        .to_string();
    assert!(promql.contains("le=\"50.0\""), "{promql}");

    // The rule computed here from the file's buckets: over the windows ending in (t - 10, t],
    // the share at or below 50 ms of the succeeded requests below 99%; pending at the first
    // evaluation that holds, firing once it has held for 5 s, resolved at the first that does
    // not hold.
    let text = std::fs::read_to_string(&openmetrics).expect("the OpenMetrics file");
    let below = entry_series(
        &text,
        "istio_request_duration_milliseconds_bucket",
        Some("50.0"),
    );
    let count = entry_series(&text, "istio_request_duration_milliseconds_count", None);
    let holds = |t: usize| {
        let from = t.saturating_sub(10);
        let n = count[t] - count[from];
        n > 0.0 && (below[t] - below[from]) / n < 0.99
    };
    let mut computed: Vec<(u64, Option<u64>)> = Vec::new();
    let mut pending: Option<usize> = None;
    for t in 1..count.len() {
        if holds(t) {
            let since = *pending.get_or_insert(t);
            let firing = computed.last().is_some_and(|f| f.1.is_none());
            if !firing && t - since >= 5 {
                computed.push((t as u64, None));
            }
        } else {
            pending = None;
            if let Some(last) = computed.last_mut().filter(|f| f.1.is_none()) {
                last.1 = Some(t as u64);
            }
        }
    }
    // One firing: a few seconds into the fault plus the 5 s, resolved within 10 s of its end.
    assert_eq!(computed.len(), 1, "{computed:?}");
    let (fired, resolved) = (computed[0].0, computed[0].1.expect("resolved"));
    assert!((35..=40).contains(&fired), "fired at {fired}");
    assert!((50..=61).contains(&resolved), "resolved at {resolved}");
    // meshsim reads its own histogram (two significant digits): the same evaluations, or
    // one apart when the share sits at the threshold.
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert!(
        ours[0].0.abs_diff(fired) <= 1,
        "meshsim {ours:?}, computed {computed:?}"
    );
    assert!(
        ours[0].1.expect("resolved").abs_diff(resolved) <= 1,
        "meshsim {ours:?}, computed {computed:?}"
    );

    // Prometheus' own rule evaluation (promtool test rules): the rule as summary.json writes
    // it, with its for, over the file's two series summed (the rule sums them anyway),
    // evaluated every second from 0. It is not firing one evaluation before the instant
    // computed here and is at it; firing one before the resolution, not at it.
    let series = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let labels =
        "reporter=\"source\",source_workload_namespace=\"meshsim-load\",response_code=\"200\"";
    let rules = format!(
        "groups:\n  - name: meshsim\n    interval: 1s\n    rules:\n      - alert: slow_api\n        expr: '{}'\n        for: 5s\n",
        promql.replace('\'', "''")
    );
    common::write_file(&dir, "rules.yml", rules.as_bytes());
    let expect = |t: u64, firing: bool| {
        format!(
            "      - eval_time: {t}s\n        alertname: slow_api\n        exp_alerts: {}\n",
            if firing {
                "\n          - exp_labels: {}"
            } else {
                "[]"
            }
        )
    };
    let tests = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1s\ntests:\n  - interval: 1s\n    input_series:\n      - series: 'istio_request_duration_milliseconds_bucket{{{labels},le=\"50.0\"}}'\n        values: '{}'\n      - series: 'istio_request_duration_milliseconds_count{{{labels}}}'\n        values: '{}'\n    alert_rule_test:\n{}{}{}{}",
        series(&below),
        series(&count),
        expect(fired - 1, false),
        expect(fired, true),
        expect(resolved - 1, true),
        expect(resolved, false)
    );
    let tests_file = common::write_file(&dir, "tests.yml", tests.as_bytes());
    let check = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&tests_file)
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        check.status.success(),
        "promtool test rules:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
