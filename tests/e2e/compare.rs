//! `meshsim compare` and the SLO report: confidence intervals that cover the truth at their
//! nominal rate, results independent of the thread count, exact-zero paired differences between
//! identical variants, common random numbers across balancers, and fault detection / recovery.

use crate::common::{self, meshsim, scenario_path, temp_dir};
use meshsim::compare::replicate::{run_replication, METRICS};
use meshsim::compare::stats::{Estimate, CONFIDENCE};
use meshsim::compare::{execute, plan, Outcome};
use meshsim::scenario::Override;
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

fn metric_index(name: &str) -> usize {
    METRICS
        .iter()
        .position(|m| m.name == name)
        .expect("a known metric")
}

fn overrides(texts: &[&str]) -> Vec<Override> {
    texts
        .iter()
        .map(|t| Override::parse(t).expect("override syntax"))
        .collect()
}

/// Plans and runs a comparison of a file under `scenarios/` on the default rayon pool.
fn compare(file: &str, vary: &[&str], replications: u32, sets: &[&str]) -> Outcome {
    let vary: Vec<String> = vary.iter().map(|v| v.to_string()).collect();
    let source = meshsim::cli::load::source(&scenario_path(file))
        .unwrap_or_else(|error| panic!("{file} does not read: {:?}", error.lines()));
    let plan = plan(&source, &vary, Some(replications), &overrides(sets))
        .unwrap_or_else(|problems| panic!("{file} does not plan: {problems:?}"));
    execute(&plan, &|_| {})
}

/// 200 independent 95% intervals, each from 5 replications of M/M/1 (rho = 0.5), for the mean
/// sojourn 1 / (mu - lambda): nearly 95% of them must hold it. The t interval is exact for normal
/// samples (asserted to within 0.8 percentage points in `compare::stats`'s unit tests); M/M/1
/// replication means are a little right-skewed (skewness 0.38), which costs about one point:
/// 1884 of 2000 intervals covered (94.2%, seeds 100001-102000; docs/testing.md). Telling 94%
/// from 92% here would take ~3,500 intervals (a minute of CPU), so this end-to-end check is
/// one-sided and loose: at least 89% (178 of 200), 3 sd of Binomial(200, 0.942) below the
/// measured rate; it catches replications that are not independent or intervals that ignore
/// the run-to-run spread. The warm-up (1 s, ~80 relaxation times) removes the empty-start bias;
/// the intervals must also be tight (mean half-width below 10% of the truth), so that covering
/// is not vacuous.
#[test]
fn intervals_cover_the_mm1_mean_at_the_nominal_rate() {
    const INTERVALS: u64 = 200;
    const REPLICATIONS: u32 = 5;
    let started = Instant::now();
    let model = common::load("validation/mm1_short.toml", &[]);
    assert_eq!(
        (
            model.services.len(),
            model.services[0].workers,
            model.services[0].replicas
        ),
        (1, 1, 1)
    );
    let lambda = model.workloads[0].rate;
    let mu = 1e9 / model.endpoints[0].service_time.mean();
    let truth_ms = 1e3 / (mu - lambda);
    assert!(
        (truth_ms - 2.0).abs() < 1e-9,
        "the file is the rho = 0.5 case: {truth_ms}"
    );
    let mean_index = metric_index("latency_mean_ms");
    let intervals: Vec<Estimate> = (1..=INTERVALS)
        .into_par_iter()
        .map(|seed| {
            let mut model = model.clone();
            model.seed = seed;
            let samples: Vec<f64> = (0..REPLICATIONS)
                .map(|r| run_replication(&model, r, false).values[mean_index])
                .collect();
            Estimate::of(&samples, CONFIDENCE)
        })
        .collect();
    let covering = intervals
        .iter()
        .filter(|e| {
            e.low.expect("an interval") <= truth_ms && truth_ms <= e.high.expect("an interval")
        })
        .count();
    let coverage = covering as f64 / INTERVALS as f64;
    let mean_half_width = intervals
        .iter()
        .map(|e| e.half_width().expect("an interval"))
        .sum::<f64>()
        / INTERVALS as f64;
    eprintln!(
        "M/M/1 coverage: {covering}/{INTERVALS} = {coverage:.3}; mean half-width {mean_half_width:.4} ms \
         ({:.2}% of {truth_ms} ms); {:.2} s",
        100.0 * mean_half_width / truth_ms,
        started.elapsed().as_secs_f64()
    );
    assert!(
        coverage >= 0.89,
        "coverage {coverage} is far below the 0.942 measured over 2000 intervals"
    );
    assert!(
        mean_half_width < 0.1 * truth_ms,
        "intervals too wide to mean anything: {mean_half_width}"
    );
}

/// Every file of a folder, by name.
fn folder_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("the report folder")
        .map(|entry| {
            let entry = entry.expect("a folder entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).expect("a report file"))
        })
        .collect();
    files.sort();
    files
}

/// Same files, same bytes, with one thread and with two; the variants come from the file's
/// `[compare]` table (no --vary) and include SLO verdicts.
#[test]
fn one_and_two_threads_write_the_same_bytes() {
    let base = temp_dir("compare-threads");
    let mut folders = Vec::new();
    for threads in ["1", "2"] {
        let out = base.join(format!("threads-{threads}"));
        let output = meshsim(&[
            "compare",
            "scenarios/validation/slo_crash.toml",
            "--threads",
            threads,
            "--out",
            out.to_str().expect("utf-8 path"),
            "--set",
            "scenario.duration=24s",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("round_robin (baseline)") && stdout.contains("least_request"),
            "{stdout}"
        );
        folders.push(folder_files(&out));
    }
    let names: Vec<&str> = folders[0].iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "comparison.csv",
        "comparison.json",
        "comparison.md",
        "latency-least_request.csv",
        "latency-round_robin.csv",
        "replications.csv",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        folders[0] == folders[1],
        "the outputs differ between 1 and 2 threads"
    );
    let json_bytes = &folders[0]
        .iter()
        .find(|(name, _)| name == "comparison.json")
        .expect("written")
        .1;
    let json: serde_json::Value =
        serde_json::from_slice(json_bytes).expect("comparison.json is JSON");
    let typed: meshsim::compare::results::Comparison =
        serde_json::from_slice(json_bytes).expect("comparison.json reads back into its types");
    assert_eq!(typed.variants.len(), 2);
    assert_eq!(typed.variants[1].replications.len(), 3);
    assert_eq!(json["replications"], 3);
    assert_eq!(json["variants"][0]["baseline"], true);
    assert_eq!(
        json["variants"][1]["overrides"][0]["value"],
        "least_request"
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// Two variants that are the same scenario: every paired difference is exactly 0 with a
/// zero-width interval, and not significant; the means are the same bits.
#[test]
fn identical_variants_differ_by_exactly_zero() {
    let outcome = compare(
        "validation/crn_balancers.toml",
        &["policy.balancer=p2c,p2c"],
        4,
        &["scenario.duration=3s", "service.server.workers=2"],
    );
    let variants = &outcome.comparison.variants;
    assert_eq!(variants.len(), 2);
    assert_eq!(
        (variants[0].slug.as_str(), variants[1].slug.as_str()),
        ("p2c", "p2c-2")
    );
    for metric in METRICS {
        let base = &variants[0].metrics[metric.name];
        let same = &variants[1].metrics[metric.name];
        assert_eq!(same.mean.to_bits(), base.mean.to_bits(), "{}", metric.name);
        assert_eq!(same.diff_mean, 0.0, "{}", metric.name);
        assert_eq!(
            (same.diff_ci_low, same.diff_ci_high),
            (Some(0.0), Some(0.0)),
            "{}",
            metric.name
        );
        assert!(!same.significant, "{}", metric.name);
    }
    // Replications do differ from one another: the zero is pairing, not a lack of randomness.
    let p99 = &variants[0].metrics["latency_p99_ms"];
    assert!(p99.ci_high > p99.ci_low, "{p99:?}");
}

/// Different balancers: replication r of every variant is offered exactly the same requests
/// (common random numbers), while the latencies do differ between balancers.
#[test]
fn balancers_see_the_same_offered_load_per_replication() {
    let outcome = compare(
        "validation/crn_balancers.toml",
        &["policy.balancer=round_robin,least_request,p2c,random"],
        3,
        &["scenario.duration=3s", "service.server.workers=2"],
    );
    let variants = &outcome.comparison.variants;
    assert_eq!(variants.len(), 4);
    let offered = |v: usize| {
        variants[v]
            .replications
            .iter()
            .map(|r| r.offered)
            .collect::<Vec<_>>()
    };
    let seeds = |v: usize| {
        variants[v]
            .replications
            .iter()
            .map(|r| r.seed)
            .collect::<Vec<_>>()
    };
    for (v, variant) in variants.iter().enumerate().skip(1) {
        assert_eq!(offered(v), offered(0), "{}", variant.name);
        assert_eq!(seeds(v), seeds(0));
    }
    let first = offered(0);
    assert!(
        first[0] != first[1] || first[1] != first[2],
        "replications differ: {first:?}"
    );
    assert_eq!(
        seeds(0)[0],
        outcome.comparison.seed,
        "replication 0 runs with the scenario's seed"
    );
    let means: Vec<f64> = variants
        .iter()
        .map(|v| v.metrics["latency_mean_ms"].mean)
        .collect();
    assert!(
        means.iter().any(|&m| m != means[0]),
        "balancers change latency here: {means:?}"
    );
    // Common random numbers pay off: each balancer's replication means move with round
    // robin's (replication r of every variant is offered the same requests), so the paired
    // interval of the difference is narrower than the unpaired one the same replications would
    // give, sqrt(h_b^2 + h_v^2) from the two own half-widths (same t quantile): that is, the
    // paired differences vary less than the sum of the variances, a positive covariance.
    let half = |low: Option<f64>, high: Option<f64>| {
        (high.expect("interval") - low.expect("interval")) / 2.0
    };
    let baseline = &variants[0].metrics["latency_mean_ms"];
    let baseline_half = half(baseline.ci_low, baseline.ci_high);
    for variant in &variants[1..] {
        let metric = &variant.metrics["latency_mean_ms"];
        let own_half = half(metric.ci_low, metric.ci_high);
        let unpaired = (baseline_half.powi(2) + own_half.powi(2)).sqrt();
        let paired = half(metric.diff_ci_low, metric.diff_ci_high);
        assert!(
            paired < unpaired,
            "{}: paired half-width {paired:.5} ms not below the unpaired {unpaired:.5} ms",
            variant.name
        );
    }
}

/// A crash that ends is detected within one window and recovered from; a crash that never ends
/// is detected and does not recover.
#[test]
fn slo_detects_crashes_and_tells_recovery_from_none() {
    let model = common::load("validation/slo_crash.toml", &[]);
    let window_s = model.window as f64 / 1e9;
    let report = run_replication(&model, 0, false)
        .slo
        .expect("the file has [slo]");
    assert!(
        !report.met,
        "a permanent crash of a quarter of the replicas misses 99%"
    );
    let budget = report
        .availability
        .as_ref()
        .and_then(|a| a.error_budget_burned)
        .expect("finite");
    assert!(
        budget > 1.0,
        "more than the whole budget is burned: {budget}"
    );
    let [ends, never] = &report.faults[..] else {
        panic!("two faults: {:?}", report.faults)
    };
    eprintln!("{ends:?}\n{never:?}");
    for fault in [ends, never] {
        assert!(fault.detected);
        let detect = fault.time_to_detect_s.expect("detected");
        assert!(
            detect > 0.0 && detect <= window_s,
            "detected within one window: {detect}"
        );
    }
    assert!(ends.recovered, "{ends:?}");
    assert_eq!(ends.recovery_from_s, 15.0);
    let recover = ends.time_to_recover_s.expect("recovered");
    assert!((0.0..=2.0 * window_s).contains(&recover), "{recover}");
    assert!(!never.recovered);
    assert_eq!(never.time_to_recover_s, None);
    assert_eq!(never.recovery_text(), "did not recover");
}

/// `meshsim run` adds the `slo` section to summary.json and a line to the terminal summary only
/// when the scenario has `[slo]`.
#[test]
fn run_reports_the_slo_when_there_is_one() {
    let base = temp_dir("run-slo");
    let out = base.join("with");
    let output = meshsim(&[
        "run",
        "scenarios/validation/slo_crash.toml",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("slo           NOT met"), "{stdout}");
    assert!(stdout.contains("did not recover"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
            .expect("JSON");
    let slo = &summary["slo"];
    assert_eq!(slo["met"], false);
    assert_eq!(slo["faults"][1]["recovered"], false);
    assert!(slo["faults"][1]["time_to_recover_s"].is_null());
    assert_eq!(slo["recovery_windows"], 3);
    let parsed: meshsim::analysis::slo::SloReport =
        serde_json::from_value(slo.clone()).expect("reads back");
    assert_eq!(parsed.faults.len(), 2);
    let plain = base.join("without");
    let output = meshsim(&[
        "run",
        "scenarios/validation/mm1_short.toml",
        "--quiet",
        "--out",
        plain.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("summary.json")).expect("summary.json"))
            .expect("JSON");
    assert!(summary.get("slo").is_none());
    let _ = std::fs::remove_dir_all(&base);
}

/// A bad value in a --vary stops everything before any run: status 2, the variant named, no
/// report written.
#[test]
fn an_invalid_variant_is_refused_before_running() {
    let base = temp_dir("compare-invalid");
    let out = base.join("out");
    let output = meshsim(&[
        "compare",
        "scenarios/validation/mm1_short.toml",
        "--vary",
        "policy.balancer=round_robin,fastest",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--vary policy.balancer=fastest: "),
        "{stderr}"
    );
    assert!(!out.join("comparison.json").exists());
    let output = meshsim(&[
        "compare",
        "scenarios/validation/mm1_short.toml",
        "--vary",
        "policy.balancer",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let output = meshsim(&[
        "compare",
        "scenarios/validation/mm1_short.toml",
        "--replications",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn long_variant_labels_are_numbered_with_a_legend() {
    // metastable.toml varies `policy.retries` as whole inline tables.
    let out = temp_dir("compare-legend");
    let output = meshsim(&[
        "compare",
        "scenarios/metastable.toml",
        "--replications",
        "1",
        "--out",
        out.to_str().expect("utf-8 path"),
        "--set",
        "scenario.duration=20s",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("variant 1 (baseline)"), "{stdout}");
    let legend: Vec<&str> = stdout
        .lines()
        .filter(|line| line.trim_start().starts_with("variant "))
        .collect();
    assert_eq!(legend.len(), 2, "{stdout}");
    assert!(legend[1].contains("budget = 0.1"), "{stdout}");
    // The table's rows are no wider than their cells (an inline table is over 80 characters).
    let row = stdout
        .lines()
        .find(|line| line.contains("availability (%)"))
        .expect("an availability row");
    assert!(row.chars().count() < 80, "{row}");
}
