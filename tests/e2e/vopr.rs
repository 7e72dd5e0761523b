//! Randomized simulation testing, in the spirit of TigerBeetle's VOPR and FoundationDB's
//! simulation tests: random valid scenarios (topologies, policies, registries, faults,
//! workloads, nasty ones included: zero think times, tiny queues, overlapping faults), each run
//! and checked for what must hold of every run:
//!
//! - it ends, within a wall-clock budget (or stops itself with a reason, never silently);
//! - conservation: offered = succeeded + failed = the sum of the outcomes; end to end, requests
//!   entering = requests ending + requests still in flight at the end; per service, tries sent
//!   (calls + retries + hedges) = each outcome as callers saw it + tries cancelled by a hedge's
//!   success + tries in flight at the end (`summary.json`), and jobs succeeded <= jobs arrived
//!   (measured and over all windows);
//! - percentiles monotone and within [min, max], no NaN or infinity in `summary.json`;
//! - determinism: run twice, every file byte for byte equal;
//! - `compare` on 1 and 2 threads gives the same `comparison.json` (every 8th scenario).
//!
//! Budget: `MESHSIM_VOPR_SCENARIOS` scenarios (default [`DEFAULT_SCENARIOS`]) from seed
//! `MESHSIM_VOPR_SEED` (default 0) on; every `MESHSIM_VOPR_COMPARE_EVERY`-th (default 8) also
//! runs `compare` on 1 and 2 threads. A failure names its seed; replay it with
//! `MESHSIM_VOPR_SEED=<seed> MESHSIM_VOPR_SCENARIOS=1 cargo test --release --test e2e vopr`.
//! The scenario reader's fuzz test is in the same module: mutated real scenario files.

use meshsim::report::{FileRecorder, OutputFiles, Summary};
use meshsim::scenario::{load_str, ScenarioErrors};
use meshsim::sim::{MemoryRecorder, Recorder, RunResult, Simulation};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Scenarios per `cargo test` run.
const DEFAULT_SCENARIOS: u64 = 100;

/// Wall-clock budget of one scenario (both runs): generous for a loaded machine.
const SCENARIO_BUDGET: Duration = Duration::from_secs(120);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A scratch folder for this process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshsim-vopr-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

// ----- the generator ------------------------------------------------------------------------

/// Picks one of `items`.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A random duration between `low_us` and `high_us` microseconds, written with a unit.
fn micros(rng: &mut ChaCha8Rng, low_us: u64, high_us: u64) -> String {
    format!("{}us", rng.random_range(low_us..=high_us))
}

/// A random service-time distribution, zero included.
fn service_time(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..8) {
        0 => "const(0s)".into(),
        1 => format!("const({})", micros(rng, 1, 3_000)),
        2 => format!("exp({})", micros(rng, 10, 3_000)),
        3 => format!(
            "uniform({}, {})",
            micros(rng, 0, 500),
            micros(rng, 500, 4_000)
        ),
        4 => format!(
            "lognormal(median={}, p99={})",
            micros(rng, 100, 1_000),
            micros(rng, 2_000, 20_000)
        ),
        5 => format!("pareto(scale={}, shape=1.5)", micros(rng, 50, 500)),
        6 => format!(
            "normal(mean={}, sd={})",
            micros(rng, 100, 2_000),
            micros(rng, 1, 2_000)
        ),
        _ => format!(
            "mix(0.9 * exp({}), 0.1 * const({}))",
            micros(rng, 10, 1_000),
            micros(rng, 1_000, 50_000)
        ),
    }
}

/// A `policy = { ... }` inline table (empty string: none). `hashing`: consistent-hash
/// balancers may be picked, and zone-aware routing (which they exclude) is not.
fn policy(rng: &mut ChaCha8Rng, hashing: bool) -> String {
    let mut keys: Vec<String> = Vec::new();
    if rng.random_bool(0.7) {
        let balancers = [
            "random",
            "round_robin",
            "weighted_round_robin",
            "least_request",
            "p2c",
            "peak_ewma",
            "ring_hash",
            "maglev",
        ];
        let choices = if hashing {
            &balancers[..]
        } else {
            &balancers[..6]
        };
        keys.push(format!("balancer = \"{}\"", pick(rng, choices)));
    }
    if rng.random_bool(0.7) {
        keys.push(format!("timeout = \"{}\"", micros(rng, 500, 300_000)));
    }
    if rng.random_bool(0.5) {
        let mut retries = vec![format!("max = {}", rng.random_range(0..4))];
        if rng.random_bool(0.5) {
            retries.push(format!(
                "per_try_timeout = \"{}\"",
                micros(rng, 200, 50_000)
            ));
        }
        if rng.random_bool(0.5) {
            retries.push(format!("backoff = \"{}\"", micros(rng, 0, 20_000)));
        }
        if rng.random_bool(0.3) {
            retries.push(format!(
                "jitter = \"{}\"",
                pick(rng, &["full", "equal", "none"])
            ));
        }
        if rng.random_bool(0.3) {
            retries.push(format!(
                "budget = {}",
                rng.random_range(1..50) as f64 / 100.0
            ));
        }
        retries.push(format!(
            "on = [{}]",
            ["\"timeout\"", "\"refused\"", "\"error\"", "\"rejected\""][..rng.random_range(1..=4)]
                .join(", ")
        ));
        keys.push(format!("retries = {{ {} }}", retries.join(", ")));
    }
    if rng.random_bool(0.2) {
        keys.push(format!(
            "hedge = {{ after = \"{}\", max = {} }}",
            micros(rng, 100, 20_000),
            rng.random_range(1..=3)
        ));
    }
    if rng.random_bool(0.2) {
        let window = if rng.random_bool(0.5) {
            rng.random_range(1..50).to_string()
        } else {
            format!("\"{}\"", micros(rng, 100_000, 3_000_000))
        };
        keys.push(format!(
            "circuit_breaker = {{ failure_rate = 0.5, window = {window}, min_calls = {}, open_for = \"{}\", half_open_calls = {} }}",
            rng.random_range(1..20),
            micros(rng, 1_000, 2_000_000),
            rng.random_range(1..5)
        ));
    }
    if rng.random_bool(0.2) {
        keys.push(format!(
            "outlier_detection = {{ consecutive_errors = {}, interval = \"{}\", base_ejection = \"{}\", max_ejection = 0.5 }}",
            rng.random_range(1..6),
            micros(rng, 10_000, 1_000_000),
            micros(rng, 10_000, 2_000_000)
        ));
    }
    if rng.random_bool(0.15) {
        let interval = rng.random_range(10_000..500_000);
        keys.push(format!(
            "health_check = {{ interval = \"{interval}us\", timeout = \"{}\", unhealthy = 2, healthy = 1 }}",
            micros(rng, 1_000, interval)
        ));
    }
    if rng.random_bool(0.15) {
        keys.push(format!("max_requests = {}", rng.random_range(1..20)));
    }
    if rng.random_bool(0.1) {
        keys.push(format!(
            "max_connections = {}, max_pending = {}",
            rng.random_range(1..8),
            rng.random_range(0..8)
        ));
    }
    if rng.random_bool(0.2) {
        keys.push("deadline_propagation = true".into());
    }
    if !hashing && rng.random_bool(0.15) {
        keys.push("zone_aware = true".into());
    }
    keys.join(", ")
}

/// A random valid scenario, as TOML text.
pub fn generate(seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut text = String::new();
    let duration_ms = rng.random_range(200..3_000);
    let window = *pick(
        &mut rng,
        &["", "window = \"100ms\"\n", "window = \"250ms\"\n"],
    );
    let warmup = if rng.random_bool(0.3) {
        format!("warmup = \"{}ms\"\n", rng.random_range(0..duration_ms / 2))
    } else {
        String::new()
    };
    let _ = write!(
        text,
        "[scenario]\nname = \"vopr-{seed}\"\nseed = {}\nduration = \"{duration_ms}ms\"\n{warmup}{window}\n",
        rng.random_range(0..1_000_000)
    );
    if rng.random_bool(0.5) {
        let _ = writeln!(
            text,
            "[network]\nlatency = \"{}\"\n",
            pick(&mut rng, &["const(0s)", "const(0.1ms)", "exp(0.2ms)"])
        );
    }
    let registry = *pick(
        &mut rng,
        &["oracle", "oracle", "static", "eureka", "consul"],
    );
    let _ = writeln!(text, "[registry]\nmodel = \"{registry}\"\n");
    let hashing = rng.random_bool(0.3);
    let global = policy(&mut rng, hashing);
    if !global.is_empty() {
        // The inline table's keys, one per line, as a [policy] table.
        let _ = writeln!(text, "[policy]\n{}\n", inline_to_lines(&global));
    }
    let zones = ["a", "b", "c"];
    let services = rng.random_range(1..=6);
    for index in 0..services {
        let _ = writeln!(text, "[[service]]\nname = \"s{index}\"");
        let replicas = rng.random_range(1..=4);
        let _ = writeln!(text, "replicas = {replicas}");
        let _ = writeln!(text, "workers = {}", rng.random_range(1..=8));
        if rng.random_bool(0.3) {
            let _ = writeln!(text, "concurrency = \"async\"");
        }
        if rng.random_bool(0.4) {
            // Tiny queues, zero included.
            let _ = writeln!(text, "queue = {}", rng.random_range(0..=4));
        }
        if rng.random_bool(0.3) {
            let count = rng.random_range(1..=zones.len());
            let names: Vec<String> = zones[..count].iter().map(|z| format!("\"{z}\"")).collect();
            let _ = writeln!(text, "zones = [{}]", names.join(", "));
        }
        if rng.random_bool(0.15) {
            let _ = writeln!(
                text,
                "error_rate = {}",
                rng.random_range(0..30) as f64 / 100.0
            );
        }
        if rng.random_bool(0.1) {
            let _ = writeln!(
                text,
                "rate_limit = {{ rate = {}, burst = {} }}",
                rng.random_range(10..500),
                rng.random_range(1..20)
            );
        }
        if rng.random_bool(0.1) {
            let _ = writeln!(
                text,
                "max_queue_time = \"{}\"",
                micros(&mut rng, 100, 50_000)
            );
        }
        let _ = writeln!(text, "service_time = \"{}\"", service_time(&mut rng));
        // Calls go to later services only: the call graph has no cycle.
        if index + 1 < services && rng.random_bool(0.7) {
            let mut steps = Vec::new();
            for _ in 0..rng.random_range(1..=3) {
                let call = |rng: &mut ChaCha8Rng| {
                    let target = rng.random_range(index + 1..services);
                    if rng.random_bool(0.3) {
                        format!(
                            "{{ to = \"s{target}\", p = {}, optional = {} }}",
                            rng.random_range(0..=10) as f64 / 10.0,
                            rng.random_bool(0.5)
                        )
                    } else {
                        format!("\"s{target}\"")
                    }
                };
                let parallel = rng.random_range(1..=3);
                let calls: Vec<String> = (0..parallel).map(|_| call(&mut rng)).collect();
                steps.push(if parallel == 1 {
                    calls[0].clone()
                } else {
                    format!("[{}]", calls.join(", "))
                });
            }
            let _ = writeln!(text, "calls = [{}]", steps.join(", "));
        }
        let own = policy(&mut rng, hashing);
        if !own.is_empty() && rng.random_bool(0.5) {
            let _ = writeln!(text, "policy = {{ {own} }}");
        }
        if rng.random_bool(0.1) {
            let _ = writeln!(
                text,
                "autoscale = {{ min = 1, max = {}, target_utilization = 0.6, sync = \"{}\", startup = \"{}\" }}",
                replicas + rng.random_range(0..3),
                micros(&mut rng, 50_000, 500_000),
                micros(&mut rng, 0, 200_000)
            );
        }
        text.push('\n');
    }
    for index in 0..rng.random_range(1..=3) {
        let _ = writeln!(text, "[[workload]]\nname = \"w{index}\"");
        let _ = writeln!(text, "target = \"s{}\"", rng.random_range(0..services));
        match rng.random_range(0..4) {
            0 => {
                // Closed loop, often with the default zero think time.
                let _ = writeln!(
                    text,
                    "arrival = \"closed\"\nusers = {}",
                    rng.random_range(1..=20)
                );
                if rng.random_bool(0.5) {
                    let _ = writeln!(
                        text,
                        "think_time = \"exp({})\"",
                        micros(&mut rng, 100, 50_000)
                    );
                }
            }
            1 => {
                let _ = writeln!(
                    text,
                    "arrival = \"constant\"\nrate = {}",
                    rng.random_range(1..800)
                );
            }
            _ => {
                let _ = writeln!(text, "rate = {}", rng.random_range(1..800));
                if rng.random_bool(0.3) {
                    let _ = writeln!(
                        text,
                        "schedule = [{{ at = \"{}ms\", rate = {}, ramp = \"{}ms\" }}]",
                        rng.random_range(0..duration_ms),
                        rng.random_range(0..1_500),
                        rng.random_range(0..500)
                    );
                }
            }
        }
        // Every `zones` list starts with "a".
        if text.contains("zones = [") && rng.random_bool(0.3) {
            let _ = writeln!(text, "zone = \"a\"");
        }
        text.push('\n');
    }
    // Faults, often overlapping on the same replicas.
    for _ in 0..rng.random_range(0..=4) {
        let service = rng.random_range(0..services);
        let at = rng.random_range(0..duration_ms);
        let lasting = if rng.random_bool(0.8) {
            format!("for = \"{}ms\"\n", rng.random_range(1..duration_ms))
        } else {
            String::new()
        };
        let target = match rng.random_range(0..3) {
            0 => format!("s{service}"),
            _ => format!("s{service}#0"),
        };
        let kind = match rng.random_range(0..5) {
            0 => "kind = \"crash\"".to_string(),
            1 => "kind = \"hang\"".to_string(),
            2 => format!("kind = \"slow\"\nfactor = {}", rng.random_range(2..20)),
            3 => format!(
                "kind = \"errors\"\nrate = {}",
                rng.random_range(1..=10) as f64 / 10.0
            ),
            _ => format!(
                "kind = \"latency\"\nadd = \"{}\"",
                micros(&mut rng, 100, 20_000)
            ),
        };
        let _ = writeln!(
            text,
            "[[fault]]\nat = \"{at}ms\"\n{lasting}{kind}\ntarget = \"{target}\"\n"
        );
    }
    text
}

/// `a = 1, b = { c = 2 }` as one key per line (splitting at top-level commas only).
fn inline_to_lines(inline: &str) -> String {
    let mut lines = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in inline.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                lines.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        lines.push(current.trim().to_string());
    }
    lines.join("\n")
}

// ----- the checks ---------------------------------------------------------------------------

/// Runs `model`, streaming its rows to files in `dir` as `meshsim run` does (plots aside), and
/// returns the result and every file's bytes by name.
fn run_to_files(model: &meshsim::model::Model, dir: &Path) -> (RunResult, Vec<(String, Vec<u8>)>) {
    let _ = std::fs::remove_dir_all(dir);
    let mut files = OutputFiles::new(dir).expect("report folder");
    let recorder = Both(
        FileRecorder::new(&mut files).expect("files"),
        MemoryRecorder::default(),
    );
    let (result, Both(recorder, memory)) = Simulation::run(model, recorder);
    recorder.finish().expect("rows written");
    let summary = Summary::new(model, &result);
    files
        .write("summary.json", summary.to_json().as_bytes())
        .expect("summary");
    files
        .write(
            "latency.csv",
            meshsim::report::latency_quantiles_csv(&result.latency).as_bytes(),
        )
        .expect("latency");
    files.commit().expect("commit");
    check_edge_conservation(&result, &memory);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    let contents = names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("read back");
            (name, bytes)
        })
        .collect();
    (result, contents)
}

/// Two recorders fed the same rows.
struct Both<A, B>(A, B);

impl<A: Recorder, B: Recorder> Recorder for Both<A, B> {
    fn window(&mut self, row: &meshsim::sim::WindowRow<'_>) {
        self.0.window(row);
        self.1.window(row);
    }
    fn replica_window(&mut self, row: &meshsim::sim::ReplicaRow<'_>) {
        self.0.replica_window(row);
        self.1.replica_window(row);
    }
    fn event(&mut self, record: &meshsim::sim::EventRecord) {
        self.0.event(record);
        self.1.event(record);
    }
}

/// End to end: every request that entered either ended (in one outcome) or is still in flight
/// at the end; per service, jobs succeeded never exceed jobs arrived.
fn check_edge_conservation(result: &RunResult, memory: &MemoryRecorder) {
    let edge = meshsim::sim::EDGE_ROW;
    let (mut entered, mut ended, mut last_in_flight) = (0u64, 0u64, 0u64);
    let mut per_service: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for (_, service, arrivals, succeeded, outcomes, in_flight) in &memory.windows {
        if service == edge {
            entered += arrivals;
            ended += succeeded + outcomes.failed();
            last_in_flight = *in_flight;
        } else {
            let totals = per_service.entry(service.as_str()).or_default();
            totals.0 += arrivals;
            totals.1 += succeeded;
        }
    }
    assert_eq!(
        entered,
        ended + last_in_flight,
        "requests entering ({entered}) != ending ({ended}) + in flight at the end ({last_in_flight})"
    );
    for (service, (arrived, succeeded)) in per_service {
        assert!(
            succeeded <= arrived,
            "{service}: {succeeded} jobs succeeded of {arrived} arrived"
        );
    }
    for (index, totals) in result.services.iter().enumerate() {
        assert!(
            totals.succeeded <= totals.requests,
            "service {index}: {} succeeded of {} measured",
            totals.succeeded,
            totals.requests
        );
    }
}

/// Per service, from `summary.json`: every try sent (a call's first try, its retries and its
/// hedges) ended in exactly one outcome as its caller saw it, lost a hedge race, or was still in
/// flight when the run ended: calls + retries + hedges = succeeded + each failure outcome +
/// cancelled + in flight at the end.
fn check_service_conservation(json: &serde_json::Value) {
    let services = json["services"].as_object().expect("services");
    for (name, service) in services {
        let field = |key: &str| {
            service[key]
                .as_u64()
                .unwrap_or_else(|| panic!("services.{name}.{key} is missing"))
        };
        let sent = field("calls") + field("retries") + field("hedges");
        let tries = service["tries"].as_object().expect("tries");
        let outcomes: u64 = tries.values().filter_map(serde_json::Value::as_u64).sum();
        let (cancelled, in_flight) = (field("tries_cancelled"), field("tries_in_flight_at_end"));
        assert_eq!(
            sent,
            outcomes + cancelled + in_flight,
            "service {name}: tries sent ({} calls + {} retries + {} hedges) != outcomes {tries:?} \
             + {cancelled} cancelled + {in_flight} in flight at the end",
            field("calls"),
            field("retries"),
            field("hedges")
        );
    }
}

/// `offered = succeeded + failed = sum of outcomes`, percentiles monotone within [min, max],
/// and every number of `summary.json` finite.
fn check_result(result: &RunResult, files: &[(String, Vec<u8>)]) {
    assert_eq!(result.stopped, None, "the run stopped");
    assert_eq!(
        result.offered,
        result.outcomes.total(),
        "offered {} but ended {:?}",
        result.offered,
        result.outcomes
    );
    let mut latencies = vec![("end to end".to_string(), &result.latency)];
    for (index, totals) in result.services.iter().enumerate() {
        latencies.push((format!("service {index}"), &totals.latency));
    }
    for (what, latency) in latencies {
        if latency.count() == 0 {
            continue;
        }
        let quantiles = [0.0, 0.5, 0.9, 0.99, 0.999, 1.0].map(|q| latency.quantile_nanos(q));
        assert!(
            quantiles.windows(2).all(|pair| pair[0] <= pair[1]),
            "{what}: percentiles not monotone: {quantiles:?}"
        );
        assert!(
            quantiles[0] >= latency.min_nanos() && quantiles[5] <= latency.max_nanos(),
            "{what}: percentiles {quantiles:?} outside [{}, {}]",
            latency.min_nanos(),
            latency.max_nanos()
        );
        assert!(latency.mean_nanos().is_finite());
    }
    let summary = &files
        .iter()
        .find(|(name, _)| name == "summary.json")
        .expect("summary.json")
        .1;
    let json: serde_json::Value = serde_json::from_slice(summary).expect("summary is JSON");
    let requests = &json["requests"];
    let offered = requests["offered"].as_u64().expect("offered");
    let succeeded = requests["succeeded"].as_u64().expect("succeeded");
    let failed = requests["failed"].as_u64().expect("failed");
    assert_eq!(
        offered,
        succeeded + failed,
        "summary: offered != succeeded + failed"
    );
    let by_outcome: u64 = requests["outcomes"].as_object().map_or(0, |o| {
        o.values().filter_map(serde_json::Value::as_u64).sum()
    });
    assert_eq!(
        failed, by_outcome,
        "summary: failed != the sum of its outcomes"
    );
    check_service_conservation(&json);
    let latency = &json["latency_ms"];
    let keys = ["p50", "p90", "p99", "p999", "max"];
    let values: Vec<f64> = keys.iter().filter_map(|k| latency[*k].as_f64()).collect();
    assert!(
        values.windows(2).all(|pair| pair[0] <= pair[1] + 1e-9),
        "summary latency not monotone: {values:?}"
    );
    check_numbers_finite(&json, "summary.json");
    let text = String::from_utf8_lossy(summary);
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let latency_csv = &files
        .iter()
        .find(|(name, _)| name == "latency.csv")
        .expect("latency.csv")
        .1;
    let mut previous = f64::NEG_INFINITY;
    for line in String::from_utf8_lossy(latency_csv).lines().skip(1) {
        let value: f64 = line
            .split(',')
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("latency_ms");
        assert!(
            value.is_finite() && value >= previous,
            "latency.csv: {line}"
        );
        previous = value;
    }
}

fn check_numbers_finite(value: &serde_json::Value, path: &str) {
    match value {
        serde_json::Value::Number(n) => {
            assert!(n.as_f64().is_some_and(f64::is_finite), "{path}: {n}");
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_numbers_finite(item, &format!("{path}[{i}]"));
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                check_numbers_finite(item, &format!("{path}.{key}"));
            }
        }
        _ => {}
    }
}

/// Every check on the scenario of `seed`; panics naming what failed.
fn check_seed(seed: u64, dir: &Path) {
    let text = generate(seed);
    let model = match load_str(&text, "vopr.toml", dir, &[]) {
        Ok(model) => model,
        Err(ScenarioErrors(errors)) => {
            panic!("the generator wrote an invalid scenario: {errors:#?}\n{text}")
        }
    };
    let started = Instant::now();
    let (first, first_files) = run_to_files(&model, &dir.join("first"));
    let (second, second_files) = run_to_files(&model, &dir.join("second"));
    let elapsed = started.elapsed();
    assert!(
        elapsed < SCENARIO_BUDGET,
        "two runs took {elapsed:?}, over the budget of {SCENARIO_BUDGET:?}"
    );
    // A run that stopped itself must say why: only zero-time loops may, and they must be real.
    if let Some(reason) = &first.stopped {
        assert!(reason.contains("without time advancing"), "{reason}");
        assert_eq!(first.stopped, second.stopped);
        return;
    }
    check_result(&first, &first_files);
    assert_eq!(first.events_handled, second.events_handled);
    let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files.iter().map(|(n, _)| n.clone()).collect()
    };
    assert_eq!(names(&first_files), names(&second_files));
    for ((name, a), (_, b)) in first_files.iter().zip(&second_files) {
        assert!(
            a == b,
            "{name} differs between two runs of the same scenario"
        );
    }
    if seed.is_multiple_of(env_u64("MESHSIM_VOPR_COMPARE_EVERY", 8).max(1)) {
        check_compare_threads(&text, dir);
    }
}

/// `compare` over two variants and three replications: the same `comparison.json` on one
/// thread and on two.
fn check_compare_threads(text: &str, dir: &Path) {
    let path = dir.join("compare.toml");
    std::fs::write(&path, text).expect("scenario file");
    let vary = vec!["policy.balancer=round_robin,least_request".to_string()];
    let source = meshsim::scenario::Source::read(&path).expect("scenario file");
    let plan = meshsim::compare::plan(&source, &vary, Some(3), &[]).expect("plan");
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        let outcome = pool.install(|| meshsim::compare::execute(&plan, &|_| {}));
        (outcome.stopped.clone(), outcome.comparison.to_json())
    };
    let one = on(1);
    let two = on(2);
    // A variant may meet a zero-time loop its baseline did not (seed 1920: closed-loop users,
    // queue = 1, least_request); it must then stop the same way on any number of threads.
    if let Some(reason) = &one.0 {
        assert!(reason.contains("without time advancing"), "{reason}");
    }
    assert!(one == two, "compare differs between 1 and 2 threads");
}

#[test]
fn vopr_random_scenarios_hold_every_invariant() {
    let count = env_u64("MESHSIM_VOPR_SCENARIOS", DEFAULT_SCENARIOS);
    let first = env_u64("MESHSIM_VOPR_SEED", 0);
    let dir = scratch("runs");
    let started = Instant::now();
    let mut events = 0u64;
    for seed in first..first.saturating_add(count) {
        let outcome = std::panic::catch_unwind(|| check_seed(seed, &dir));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            panic!(
                "VOPR seed {seed} failed: {message}\nreplay: MESHSIM_VOPR_SEED={seed} \
                 MESHSIM_VOPR_SCENARIOS=1 cargo test --release --test e2e vopr_random\n\
                 scenario:\n{}",
                generate(seed)
            );
        }
        events += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "VOPR: {events} scenarios from seed {first} passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn vopr_generator_covers_the_nasty_cases() {
    // Over the default budget, the generator writes what the VOPR is for.
    let texts: Vec<String> = (0..DEFAULT_SCENARIOS).map(generate).collect();
    let count = |needle: &str| texts.iter().filter(|t| t.contains(needle)).count();
    for needle in [
        "arrival = \"closed\"",
        "queue = 0",
        "const(0s)",
        "kind = \"crash\"",
        "kind = \"hang\"",
        "model = \"eureka\"",
        "model = \"consul\"",
        "hedge",
        "circuit_breaker",
        "[[",
    ] {
        assert!(count(needle) > 0, "no scenario has {needle}");
    }
    // Overlapping faults: two faults in one scenario.
    assert!(texts.iter().any(|t| t.matches("[[fault]]").count() >= 2));
}

// ----- fuzzing the scenario reader ----------------------------------------------------------

/// Values that broke or nearly broke the reader and the model behind it.
const NASTY_VALUES: &[&str] = &[
    "4294967295",
    "18446744073709551615",
    "9223372036854775807",
    "-1",
    "0",
    "1e9",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "\"\"",
    "\".\"",
    "\"..\"",
    "\"a/b\"",
    "\"\\u0000\"",
    "\"100000h\"",
    "\"18446744073709551615ns\"",
    "\"0s\"",
    "\"1ns\"",
    "\"const(0s)\"",
    "\"pareto(scale=1ms, shape=1e-300)\"",
    "\"empirical(/dev/zero)\"",
    "\"/dev/zero\"",
    "[]",
    "[[]]",
    "{}",
    "true",
];

/// One random edit of `text`.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return String::from("x");
    }
    let at = rng.random_range(0..bytes.len());
    let mut out: Vec<u8> = bytes.to_vec();
    match rng.random_range(0..7) {
        0 => {
            // Replace a value after '=' with a nasty one.
            let lines: Vec<&str> = text.lines().collect();
            let line = rng.random_range(0..lines.len());
            let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            if let Some((key, _)) = lines[line].split_once('=') {
                edited[line] = format!("{key}= {}", pick(rng, NASTY_VALUES));
            }
            return edited.join("\n");
        }
        1 => {
            // Flip a byte.
            out[at] ^= 1 << rng.random_range(0..8);
        }
        2 => {
            // Delete a range.
            let end = (at + rng.random_range(1..64)).min(out.len());
            out.drain(at..end);
        }
        3 => {
            // Duplicate a range (duplicate keys, tables, services).
            let end = (at + rng.random_range(1..200)).min(out.len());
            let copy = out[at..end].to_vec();
            out.splice(at..at, copy);
        }
        4 => {
            // Insert a structural character.
            let c = *pick(rng, b"[]{}\"=\n,#\\");
            out.insert(at, c);
        }
        5 => {
            // Multiply a number written in the file.
            let text = String::from_utf8_lossy(&out).into_owned();
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                let mut t = text;
                let inserted: &&str = pick(rng, &["999999", "0", "1e30", "-"]);
                t.insert_str(i, inserted);
                return t;
            }
            return text;
        }
        _ => {
            // Truncate.
            out.truncate(at);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn fuzz_scenario_reader_on_mutated_real_files() {
    let budget = Duration::from_secs(env_u64("MESHSIM_FUZZ_SECONDS", 8));
    let most = env_u64("MESHSIM_FUZZ_CASES", 20_000);
    let mut corpus: Vec<(PathBuf, String)> = Vec::new();
    for folder in ["scenarios", "scenarios/validation", "scenarios/systems"] {
        let Ok(entries) = std::fs::read_dir(super::common::root().join(folder)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
        paths.sort();
        for path in paths {
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).expect("scenario text");
                corpus.push((path, text));
            }
        }
    }
    assert!(
        corpus.len() >= 5,
        "too few scenario files: {}",
        corpus.len()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(env_u64("MESHSIM_FUZZ_SEED", 17));
    let started = Instant::now();
    let (mut cases, mut accepted) = (0u64, 0u64);
    while cases < most && started.elapsed() < budget {
        let (path, original) = pick(&mut rng, &corpus);
        let mut text = original.clone();
        for _ in 0..rng.random_range(1..=4) {
            text = mutate(&text, &mut rng);
        }
        let base = path.parent().expect("folder");
        let outcome = std::panic::catch_unwind(|| load_str(&text, "fuzz.toml", base, &[]));
        let result = match outcome {
            Ok(result) => result,
            Err(_) => panic!(
                "the reader panicked on a mutation of {}:\n{text}",
                path.display()
            ),
        };
        cases += 1;
        match result {
            Ok(model) => {
                accepted += 1;
                // An accepted model keeps every limit.
                assert!(model.duration <= meshsim::scenario::limits::MAX_DURATION);
                assert!(model.window > 0);
                assert!(!model.name.is_empty() && model.name != "." && model.name != "..");
            }
            Err(ScenarioErrors(errors)) => {
                assert!(!errors.is_empty());
                let lines = text.lines().count().max(1) + 1;
                for error in &errors {
                    assert!(
                        error.line <= lines,
                        "line {} past the end ({lines} lines): {error}",
                        error.line
                    );
                    assert!(!error.message.is_empty());
                }
            }
        }
    }
    assert!(cases >= 100, "only {cases} cases in {budget:?}");
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "fuzz: {cases} mutated scenarios read ({accepted} accepted) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
