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

/// Two variants that are the same run (they differ only in an SLO target, which judges a run
/// and does not change it; a value listed twice is refused): every paired difference is
/// exactly 0 with a zero-width interval, and not significant; the means are the same bits.
#[test]
fn identical_variants_differ_by_exactly_zero() {
    let outcome = compare(
        "validation/crn_balancers.toml",
        &["slo.availability=0.9,0.99"],
        4,
        &[
            "scenario.duration=3s",
            "service.server.workers=2",
            "policy.balancer=p2c",
        ],
    );
    let variants = &outcome.comparison.variants;
    assert_eq!(variants.len(), 2);
    assert_eq!(
        (variants[0].slug.as_str(), variants[1].slug.as_str()),
        ("0.9", "0.99")
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

/// A small scenario for the refusals below: `[compare]` starts on line 11, its first key on 12.
const SMALL: &str = "[scenario]\nname = \"c\"\nduration = \"2s\"\n[[service]]\nname = \"api\"\n\
    replicas = 1\nservice_time = \"exp(1ms)\"\n[[workload]]\ntarget = \"api\"\nrate = 10\n";

/// The balancers, as an unknown one's message lists them.
const BALANCERS: &str = "random, round_robin, weighted_round_robin, least_request, p2c, \
    least_conn, random2, peak_ewma, ring_hash, maglev";

/// `meshsim compare FILE --out OUT ARGS...` where FILE is [`SMALL`] followed by `[compare]` and
/// `table` (nothing when `table` is empty): it must be refused with status 2 and exactly the
/// `expected` lines on standard error (`FILE` in them standing for the file's path), so each
/// problem once and nothing else, and no output folder may be written.
fn compare_input_refused(name: &str, table: &str, args: &[&str], expected: &[&str]) {
    let dir = temp_dir(name);
    let text = if table.is_empty() {
        SMALL.to_string()
    } else {
        format!("{SMALL}[compare]\n{table}\n")
    };
    let file = common::write_file(&dir, "c.toml", text.as_bytes());
    let file = file.to_str().expect("utf-8 path");
    let out = dir.join("out");
    let mut all = vec!["compare", file, "--out", out.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let output = meshsim(&all);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{all:?}:\n{stderr}");
    let expected: Vec<String> = expected
        .iter()
        .map(|line| format!("error: {}", line.replace("FILE", file)))
        .collect();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines, expected, "{all:?}");
    assert!(!out.exists(), "{all:?} wrote {}", out.display());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bad value of `[compare]` is reported at its line and column in the file, as the file's
/// other problems are, and once, however many variants hold it (each value is in half of the
/// four variants here); the same for `--vary`, named as the `--vary`.
#[test]
fn compare_input_bad_values_are_placed_and_reported_once() {
    compare_input_refused(
        "compare-input-values",
        "\"policy.balancer\" = [\"round_robin\", \"bogus\"]\n\
         \"service.api.workers\" = [8, -1]\nreplications = 2",
        &[],
        &[
            &format!(
                "FILE:12:37: [compare] \"policy.balancer\" = \"bogus\": unknown balancer \
                 \"bogus\": expected one of {BALANCERS}"
            ),
            "FILE:13:29: [compare] \"service.api.workers\" = -1: workers must be at least 1, \
             found -1",
        ],
    );
    compare_input_refused(
        "compare-input-vary-values",
        "",
        &[
            "--vary",
            "policy.balancer=round_robin,bogus",
            "--vary",
            "service.api.workers=8,-1",
        ],
        &[
            &format!(
                "--vary policy.balancer=bogus: unknown balancer \"bogus\": expected one of \
                 {BALANCERS}"
            ),
            "--vary service.api.workers=-1: workers must be at least 1, found -1",
        ],
    );
    // A value invalid only with some values of another axis names the first variant that has
    // the problem.
    compare_input_refused(
        "compare-input-combination",
        "\"service.api.replicas\" = [1, 2]\n\"fault.0.target\" = [\"api#0\", \"api#1\"]\n\
         [[fault]]\nat = \"0.5s\"\nfor = \"0.1s\"\nkind = \"crash\"\ntarget = \"api#0\"",
        &["-r", "1"],
        &[
            "FILE:13:30: [compare] \"fault.0.target\" = \"api#1\": replica 1 is out of range: \
           service \"api\" has 1 replica (indices 0..0) (in 1 of the 2 variants holding it, the \
           first: service.api.replicas=1, fault.0.target=api#1)",
        ],
    );
}

/// What cannot be an axis is refused where it is written, saying why and what to use: the
/// replications (they are not a setting of a variant), anything else of `[compare]`, the seed
/// (common random numbers need it shared) and the name (it changes nothing).
#[test]
fn compare_input_refuses_what_cannot_be_an_axis() {
    let replications = "the replications are not a setting of a variant (every variant runs the \
        same replications): give their number with `replications = N` in [compare] or `-r N`";
    let seed = "the seed cannot be varied: every variant runs with the same seeds, so that its \
        differences with the baseline are paired (common random numbers); the replications \
        already run with different seeds (`-r N` for more), and `--seed N` sets the root seed";
    compare_input_refused(
        "compare-input-replications",
        "\"policy.balancer\" = [\"round_robin\", \"bogus\"]\n\
         \"service.api.workers\" = [8, -1]\n\"compare.replications\" = [1, 2]\nreplications = 2",
        &[],
        &[&format!(
            "FILE:14:1: [compare] \"compare.replications\": {replications}"
        )],
    );
    compare_input_refused(
        "compare-input-seed",
        "replications = 1\n\"scenario.seed\" = [1, 2]",
        &[],
        &[&format!("FILE:13:1: [compare] \"scenario.seed\": {seed}")],
    );
    compare_input_refused(
        "compare-input-name",
        "\"scenario.name\" = [\"a\", \"b\"]",
        &["-r", "1"],
        &[
            "FILE:12:1: [compare] \"scenario.name\": the name changes nothing in a run: every \
           variant would be the same",
        ],
    );
    compare_input_refused(
        "compare-input-vary-replications",
        "",
        &["--vary", "compare.replications=1,2", "-r", "1"],
        &[&format!("--vary compare.replications=1,2: {replications}")],
    );
    compare_input_refused(
        "compare-input-vary-seed",
        "",
        &["--vary", "scenario . seed=1,2", "-r", "1"],
        &[&format!("--vary scenario . seed=1,2: {seed}")],
    );
}

/// A key that names no place in the scenario (what `--set` refuses) is one problem of the key,
/// reported at the key, not one per value and variant.
#[test]
fn compare_input_a_key_set_cannot_apply_is_reported_at_the_key_once() {
    compare_input_refused(
        "compare-input-key",
        "\"service.nosuch.workers\" = [1, 2]\n\"service.api\" = [1, 2]",
        &[],
        &[
            "FILE:12:1: [compare] \"service.nosuch.workers\": no [[service]] named \"nosuch\"",
            "FILE:13:1: [compare] \"service.api\": cannot replace a whole [[service]]; set one \
             of its keys, like service.api.name",
        ],
    );
    compare_input_refused(
        "compare-input-vary-key",
        "",
        &["--vary", "service.nosuch.workers=1,2,3"],
        &["--vary service.nosuch.workers=1,2,3: no [[service]] named \"nosuch\""],
    );
}

/// A value listed twice would make two variants of one run (`p2c` and `"p2c"` are one value).
#[test]
fn compare_input_refuses_a_value_listed_twice() {
    compare_input_refused(
        "compare-input-twice",
        "\"policy.balancer\" = [\"p2c\", \"random\", 'p2c']",
        &["-r", "1"],
        &[
            "FILE:12:39: [compare] \"policy.balancer\": 'p2c' is listed twice (first at 12:22): \
           the two variants would be the same run",
        ],
    );
    compare_input_refused(
        "compare-input-vary-twice",
        "",
        &["--vary", "policy.balancer=p2c,random,\"p2c\"", "-r", "1"],
        &[
            "--vary policy.balancer=p2c,random,\"p2c\": values 1 and 3 (p2c and \"p2c\") are \
           the same value: the two variants would be the same run",
        ],
    );
}

/// One setting varied by two keys (written two ways, or one inside the other) is refused: a
/// variant would set one over the other.
#[test]
fn compare_input_refuses_a_setting_varied_twice() {
    compare_input_refused(
        "compare-input-overlap",
        "\"policy.retries\" = [false, { max = 2 }]\n\"policy.retries.max\" = [1, 3]",
        &["-r", "1"],
        &[
            "FILE:13:1: [compare] \"policy.retries.max\" overlaps \"policy.retries\" on line 12: \
           policy.retries.max is part of policy.retries, and a variant would set one over the \
           other; vary policy.retries with whole values, or policy.retries.max alone",
        ],
    );
    compare_input_refused(
        "compare-input-same",
        "\"policy.balancer\" = [\"p2c\"]\n\"policy . balancer\" = [\"random\"]",
        &["-r", "1"],
        &[
            "FILE:13:1: [compare] \"policy . balancer\" varies the same setting as \
           \"policy.balancer\" on line 12: give all its values in one key",
        ],
    );
    compare_input_refused(
        "compare-input-vary-same",
        "",
        &[
            "--vary",
            "policy.balancer=p2c",
            "--vary",
            "policy . balancer=random",
            "-r",
            "1",
        ],
        &[
            "--vary policy . balancer=random: policy . balancer is varied twice (also by --vary \
           policy.balancer=p2c); give all its values in one --vary",
        ],
    );
}

/// A `--set` of a varied key (or of a part of one) would be overwritten by every variant: it
/// is refused instead of silently ignored.
#[test]
fn compare_input_refuses_a_set_every_variant_overwrites() {
    compare_input_refused(
        "compare-input-set",
        "\"policy.balancer\" = [\"p2c\", \"random\"]",
        &["-r", "1", "--set", "policy.balancer=least_request"],
        &[
            "--set policy.balancer=least_request: policy.balancer is varied ([compare] \
           \"policy.balancer\" at FILE:12:1), and every variant sets it after the --set, which \
           would change nothing: drop the --set, or put its value among the varied ones",
        ],
    );
    compare_input_refused(
        "compare-input-vary-set",
        "",
        &[
            "-r",
            "1",
            "--set",
            "policy.retries.max=3",
            "--vary",
            "policy.retries=false,{ max = 1 }",
        ],
        &[
            "--set policy.retries.max=3: policy.retries is varied (--vary policy.retries=false,\
           { max = 1 }), and every variant sets it whole after the --set, which would change \
           nothing: drop the --set, or put its value among the varied ones",
        ],
    );
}

/// `policy.balancer = [...]` unquoted in `[compare]` is a table `policy` to TOML: say to quote it.
#[test]
fn compare_input_an_unquoted_dotted_key_is_told_to_be_quoted() {
    compare_input_refused(
        "compare-input-unquoted",
        "policy.balancer = [\"p2c\", \"random\"]",
        &["-r", "1"],
        &[
            "FILE:12:1: [compare] policy.balancer: a dotted key must be quoted in [compare], like \
           \"policy.balancer\" = [...] (unquoted, TOML reads policy as a table)",
        ],
    );
}
