//! Istio isotope topologies (`scenarios/topologies/isotope/`, copies of istio/tools' examples):
//! each imports, validates and runs; the imported model has the services, replica counts and
//! call edges of the YAML, read here independently with saphyr's own loader; the mapped
//! figures (errorRate, sleep) show in the results; bad YAML is reported with line and column.

use crate::common::{meshsim, root, run, temp_dir, write_file};
use meshsim::model::{Model, Outcome};
use meshsim::scenario::{self, Override};
use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};

/// Every isotope file in the repository.
fn isotope_files() -> Vec<PathBuf> {
    let dir = root().join("scenarios/topologies/isotope");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/topologies/isotope")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 11,
        "the isotope examples are missing: {files:?}"
    );
    files
}

fn overrides(pairs: &[&str]) -> Vec<Override> {
    pairs
        .iter()
        .map(|p| Override::parse(p).expect("override"))
        .collect()
}

/// Loads a scenario or an isotope topology as the command line does (`cli::load` chooses).
fn load(path: &Path, sets: &[&str]) -> Model {
    meshsim::cli::load::model(path, &overrides(sets))
        .unwrap_or_else(|error| panic!("{} does not load:\n{:?}", path.display(), error.lines()))
}

#[test]
fn every_isotope_topology_imports_validates_and_runs() {
    for path in isotope_files() {
        // 2 s simulated, 1.5 s measured, 100 requests/s per entrypoint (the default rate).
        let model = load(&path, &["scenario.duration=2s", "scenario.warmup=0.5s"]);
        let result = run(&model);
        let name = path.display();
        // Poisson arrivals: mean 150 per entrypoint, sd about 12.2; 5 sd either way.
        let entrypoints = model.workloads.len() as f64;
        let expected = 150.0 * entrypoints;
        let offered = result.offered as f64;
        assert!(
            (offered - expected).abs() < 5.0 * expected.sqrt(),
            "{name}: {offered} offered, expected about {expected}"
        );
        // No errorRate, no fault, unbounded queues, 15 s timeouts: every request succeeds.
        assert_eq!(
            result.outcomes.total(),
            result.offered,
            "{name}: conservation"
        );
        assert_eq!(
            result.outcomes.get(Outcome::Succeeded),
            result.offered,
            "{name}: {:?}",
            result.outcomes
        );
    }
}

/// A service graph read from YAML without the importer: (name, replicas) in file order, and per
/// service its steps as lists of called service names (a concurrent block is one step).
#[derive(Debug, PartialEq)]
struct Graph {
    services: Vec<(String, u64)>,
    steps: Vec<Vec<Vec<String>>>,
    entrypoints: Vec<String>,
}

fn call_target(command: &Yaml) -> Option<String> {
    let call = command.as_mapping_get("call")?;
    call.as_str()
        .or_else(|| call.as_mapping_get("service").and_then(Yaml::as_str))
        .map(str::to_string)
}

fn script_steps(script: Option<&Yaml>) -> Vec<Vec<String>> {
    let Some(steps) = script.and_then(Yaml::as_vec) else {
        return Vec::new();
    };
    steps
        .iter()
        .filter_map(|step| match step.as_vec() {
            Some(block) => {
                let calls: Vec<String> = block.iter().filter_map(call_target).collect();
                (!calls.is_empty()).then_some(calls)
            }
            None => call_target(step).map(|callee| vec![callee]),
        })
        .collect()
}

fn read_graph(path: &Path) -> Graph {
    let text = std::fs::read_to_string(path).expect("read");
    let documents = Yaml::load_from_str(&text).expect("valid YAML");
    let document = &documents[0];
    let defaults = document.as_mapping_get("defaults");
    let default_replicas = defaults
        .and_then(|d| d.as_mapping_get("numReplicas"))
        .and_then(Yaml::as_integer)
        .unwrap_or(1) as u64;
    let default_script = defaults.and_then(|d| d.as_mapping_get("script"));
    let mut graph = Graph {
        services: Vec::new(),
        steps: Vec::new(),
        entrypoints: Vec::new(),
    };
    for service in document
        .as_mapping_get("services")
        .and_then(Yaml::as_vec)
        .expect("services")
    {
        let name = service
            .as_mapping_get("name")
            .and_then(Yaml::as_str)
            .expect("name")
            .to_string();
        let replicas = service
            .as_mapping_get("numReplicas")
            .and_then(Yaml::as_integer)
            .map_or(default_replicas, |r| r as u64);
        let script = service.as_mapping_get("script").or(default_script);
        if service
            .as_mapping_get("isEntrypoint")
            .and_then(Yaml::as_bool)
            .unwrap_or(false)
        {
            graph.entrypoints.push(name.clone());
        }
        graph.services.push((name, replicas));
        graph.steps.push(script_steps(script));
    }
    graph
}

fn model_graph(model: &Model) -> Graph {
    let service_of = |endpoint: usize| {
        model.services[model.endpoints[endpoint].service]
            .name
            .clone()
    };
    Graph {
        services: model
            .services
            .iter()
            .map(|s| (s.name.clone(), s.replicas as u64))
            .collect(),
        steps: model
            .services
            .iter()
            .map(|s| {
                assert_eq!(s.endpoints.len(), 1, "one endpoint per imported service");
                model.endpoints[s.endpoints[0]]
                    .steps
                    .iter()
                    .map(|step| step.calls.iter().map(|c| service_of(c.target)).collect())
                    .collect()
            })
            .collect(),
        entrypoints: model
            .workloads
            .iter()
            .map(|w| service_of(w.target))
            .collect(),
    }
}

#[test]
fn the_imported_graph_has_the_services_replicas_and_edges_of_the_yaml() {
    let mut total_edges = 0;
    for path in isotope_files() {
        let expected = read_graph(&path);
        let model = load(&path, &[]);
        assert_eq!(model_graph(&model), expected, "{}", path.display());
        assert!(model.endpoints.iter().all(|e| e
            .steps
            .iter()
            .all(|s| s.calls.iter().all(|c| c.probability == 1.0 && !c.optional))));
        total_edges += expected.steps.iter().flatten().flatten().count();
    }
    // The walk did see the graphs: the 1000-service file alone has 999 calls.
    assert!(total_edges > 1000, "{total_edges}");
}

#[test]
fn error_rate_and_sleep_map_to_failures_and_service_time() {
    let dir = temp_dir("isotope-mapping");
    let path = write_file(
        &dir,
        "mapped.yaml",
        b"services:\n- name: a\n  isEntrypoint: true\n  script:\n  - call: b\n- name: b\n  errorRate: 20%\n  script:\n  - sleep: 10ms\n",
    );
    let model = load(
        &path,
        &[
            "scenario.duration=5s",
            "scenario.warmup=0.5s",
            "workload.a.rate=1000",
        ],
    );
    let b = &model.services[1];
    assert_eq!(b.error_rate, 0.2);
    let result = run(&model);
    // b fails 20% of its requests, and a required failed call fails the request.
    let n = result.offered as f64;
    let failed = result.outcomes.get(Outcome::Error) as f64 / n;
    let sd = (0.2 * 0.8 / n).sqrt();
    assert!((failed - 0.2).abs() < 5.0 * sd, "error fraction {failed}");
    assert_eq!(
        result.outcomes.failed(),
        result.outcomes.get(Outcome::Error)
    );
    // b's sleep is its service time: no success is faster than 10 ms.
    let fastest = result.latency.quantile_nanos(0.0);
    assert!(fastest >= 9_990_000, "fastest success {fastest} ns");
}

#[test]
fn the_import_command_prints_a_scenario_that_validates_and_takes_its_flags() {
    let dir = temp_dir("isotope-cli");
    let output = meshsim(&[
        "import",
        "isotope",
        "scenarios/topologies/isotope/canonical.yaml",
        "--rate",
        "250",
        "--replicas",
        "3",
        "--service-time",
        "exp(2ms)",
    ]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        text.starts_with("# Imported by `meshsim import isotope`"),
        "{text}"
    );
    let path = write_file(&dir, "canonical.toml", text.as_bytes());
    let validated = meshsim(&["validate", path.to_str().expect("path")]);
    assert!(validated.status.success(), "{validated:?}");
    let model = scenario::load_file(&path, &[]).expect("loads");
    assert!(model.services.iter().all(|s| s.replicas == 3));
    assert_eq!(model.workloads.len(), 1);
    assert!(matches!(
        model.workloads[0].arrival,
        meshsim::model::Arrival::Poisson
    ));
    assert_eq!(model.workloads[0].rate, 250.0);
    assert_eq!(
        model.endpoints[0].service_time,
        meshsim::model::Dist::Exp { mean: 2e6 }
    );
    // A bad option is refused with exit status 2, nothing on standard output.
    let bad = meshsim(&[
        "import",
        "isotope",
        "scenarios/topologies/isotope/canonical.yaml",
        "--service-time",
        "2ms",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty());
}

#[test]
fn yaml_problems_are_reported_with_file_line_and_column_and_exit_2() {
    let dir = temp_dir("isotope-errors");
    let syntax = write_file(
        &dir,
        "syntax.yaml",
        b"services:\n- name: a\n  script: [call: b\n",
    );
    let undefined = write_file(
        &dir,
        "undefined.yaml",
        b"services:\n- name: a\n  isEntrypoint: true\n  script:\n  - call: nowhere\n  - sleep: soon\n",
    );
    for (path, wanted) in [
        // The flow list is never closed: the parser notices at the end of the text.
        (&syntax, vec!["syntax.yaml:4:1: while parsing a flow"]),
        (
            &undefined,
            vec![
                "undefined.yaml:5:11: call to undefined service \"nowhere\"",
                "undefined.yaml:6:12: `sleep` must be a Go duration",
            ],
        ),
    ] {
        for command in ["validate", "run"] {
            let output = meshsim(&[command, path.to_str().expect("path")]);
            assert_eq!(output.status.code(), Some(2), "{output:?}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            for needle in &wanted {
                assert!(
                    stderr.contains(needle),
                    "{command}: {needle} not in {stderr}"
                );
            }
        }
    }
    let import = meshsim(&["import", "isotope", undefined.to_str().expect("path")]);
    assert_eq!(import.status.code(), Some(2));
    assert!(import.stdout.is_empty());
}

/// Values the scenario refuses (a call cycle, replicas, sleeps and names past its limits) are
/// reported at the YAML's line and column, in the YAML's words: they used to be reported at a
/// line of the generated scenario (`FILE.yaml (imported):34:10: call cycle: a/default ->
/// a/default`), which the user never sees.
#[test]
fn values_past_the_scenario_limits_are_reported_at_the_yaml_line() {
    let dir = temp_dir("isotope-limits");
    let entry = "services:\n- name: a\n  isEntrypoint: true\n";
    let calls = |to: &str| format!("  script:\n{}", format!("  - call: {to}\n").repeat(101));
    let many: String = (0..11)
        .map(|i| format!("- name: s{i}\n  numReplicas: 100000\n"))
        .collect();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "self.yaml",
            format!("{entry}  script:\n  - call: a\n"),
            "self.yaml:5:11: call cycle: a -> a (a request would never end)",
        ),
        (
            "cycle.yaml",
            format!(
                "{entry}  script:\n  - call: b\n- name: b\n  script:\n  - call: c\n- name: c\n  \
                 script:\n  - call: a\n"
            ),
            "cycle.yaml:5:11: call cycle: a -> b -> c -> a",
        ),
        (
            "big.yaml",
            format!("{entry}  numReplicas: 500000\n"),
            "big.yaml:4:16: numReplicas must be between 1 and 100000 (meshsim needs a replica to \
             call, and keeps at most 100000 per service), found 500000",
        ),
        (
            "slots.yaml",
            format!("{entry}{many}"),
            "slots.yaml:23:16: the services up to \"s9\" have 1000001 replicas together, more \
             than meshsim's limit of 1000000 over all services",
        ),
        (
            "go.yaml",
            format!("{entry}  script:\n  - sleep: 2562047h47m16.854775807s\n"),
            "go.yaml:5:12: `sleep` \"2562047h47m16.854775807s\" is too long: at most 10000h",
        ),
        (
            "sleep.yaml",
            format!("{entry}  script:\n  - sleep: 20000h\n"),
            "sleep.yaml:5:12: `sleep` \"20000h\" is too long: at most 10000h",
        ),
        (
            "sleeps.yaml",
            format!("{entry}  script:\n  - sleep: 6000h\n  - sleep: 6000h\n"),
            "sleeps.yaml:4:3: the service's time, its script's sleeps together (12000h), is too \
             long: at most 10000h",
        ),
        (
            "name.yaml",
            format!("{entry}- name: {}\n", "n".repeat(300)),
            "name.yaml:4:9: service name is 300 bytes long, at most 255",
        ),
        (
            "fanout.yaml",
            format!(
                "{entry}{}- name: b\n{}- name: c\n{}- name: d\n",
                calls("b"),
                calls("c"),
                calls("d")
            ),
            "fanout.yaml:5:11: one request to service \"a\" makes 1.041e6 requests through the \
             call graph",
        ),
    ];
    for (name, text, wanted) in &cases {
        let path = write_file(&dir, name, text.as_bytes());
        for command in [&["import", "isotope"][..], &["validate"][..]] {
            let mut args = command.to_vec();
            args.push(path.to_str().expect("path"));
            let output = meshsim(&args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
            assert!(output.stdout.is_empty(), "{name}");
            assert!(!stderr.contains("(imported)"), "{name}: {stderr}");
            let wanted = format!("error: {}", dir.join(wanted).display());
            assert!(
                stderr.contains(&wanted),
                "{name}: {wanted}\nnot in:\n{stderr}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The import's options past the scenario's limits are refused naming the option, not a line
/// of the generated scenario; a long `--duration` gets windows long enough for the limits.
#[test]
fn options_past_the_scenario_limits_name_the_option() {
    let topology = "scenarios/topologies/isotope/canonical.yaml";
    for (option, value, wanted) in [
        (
            "--replicas",
            "200000",
            "error: --replicas: must be at most 100000",
        ),
        (
            "--workers",
            "2000000",
            "error: --workers: must be at most 1000000",
        ),
        (
            "--rate",
            "1e9",
            "error: --rate: 1000000000 is more than the limit of 10000000",
        ),
        (
            "--duration",
            "20000h",
            "error: --duration: duration \"20000h\" is too long",
        ),
        (
            "--warmup",
            "soon",
            "error: --warmup: expected a number at \"soon\"",
        ),
        (
            "--name",
            "..",
            "error: --name: scenario name \"..\" is not a file name",
        ),
    ] {
        let output = meshsim(&["import", "isotope", topology, option, value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(output.stdout.is_empty(), "{option}");
        assert!(
            stderr.contains(wanted),
            "{option}: {wanted}\nnot in:\n{stderr}"
        );
    }
    // A --duration of more than a million 1 s windows gets longer windows (the scenario was
    // refused at a line of the generated text).
    let output = meshsim(&["import", "isotope", topology, "--duration", "300h"]);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\nwindow = \"2s\""), "{text}");
    // Every service of the topology at --replicas: checked over all of them.
    let dir = temp_dir("isotope-replicas-option");
    let many: String = (0..11).map(|i| format!("- name: s{i}\n")).collect();
    let path = write_file(
        &dir,
        "many.yaml",
        format!("services:\n- name: a\n  isEntrypoint: true\n{many}").as_bytes(),
    );
    let output = meshsim(&[
        "import",
        "isotope",
        path.to_str().expect("path"),
        "--replicas",
        "100000",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: --replicas: 100000 replicas for each of 12 services make 1200000"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_takes_an_isotope_file_directly() {
    let dir = temp_dir("isotope-run");
    let output = meshsim(&[
        "run",
        "scenarios/topologies/isotope/chain-3-services.yaml",
        "--quiet",
        "--set",
        "scenario.duration=1s",
        "--set",
        "scenario.warmup=0.2s",
        "--out",
        dir.to_str().expect("dir"),
    ]);
    assert!(output.status.success(), "{output:?}");
    let summary = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    assert!(
        summary.contains("\"scenario\": \"chain-3-services\""),
        "{summary}"
    );
}

// --- The systems scenarios (scenarios/systems/): each validates, runs and tells its story. ---

const SECOND: u64 = 1_000_000_000;

/// Fault `index`'s start and end, nanoseconds.
fn fault_window(model: &Model, index: usize) -> (u64, u64) {
    let fault = &model.faults[index];
    (fault.at, fault.until.expect("the fault ends"))
}

/// Failed end-to-end requests per window start, from the recorded window rows.
fn edge_failures(
    windows: &[(u64, String, u64, u64, meshsim::sim::OutcomeCounts, u64)],
) -> Vec<(u64, u64)> {
    windows
        .iter()
        .filter(|row| row.1 == meshsim::sim::EDGE_ROW)
        .map(|row| (row.0, row.4.failed()))
        .collect()
}

#[test]
fn social_network_a_hung_post_storage_replica_fails_a_third_of_its_calls_unless_guarded() {
    let path = root().join("scenarios/systems/social-network.toml");
    let guarded = load(&path, &[]);
    let (start, end) = fault_window(&guarded, 0);
    let (result, recorder) = crate::common::run_recorded(&guarded);
    assert_eq!(result.outcomes.total(), result.offered, "conservation");
    // Each caller ejects the hung replica once it has seen 5 timeouts in a row from it.
    let ejections: Vec<_> = recorder
        .events
        .iter()
        .filter(|e| e.kind == "ejection" && e.subject.ends_with("-> post-storage-service#1"))
        .collect();
    assert!(!ejections.is_empty(), "{:#?}", recorder.events);
    assert!(ejections
        .iter()
        .all(|e| e.time > start && e.time < start + SECOND));
    assert!(result.availability() >= 0.999, "{}", result.availability());

    // Unguarded: no retries, no ejection. Every request calls post-storage-service once
    // (ReadPosts or StorePost); round robin sends a third of those calls to the hung replica
    // while it hangs, and each fails at its 50 ms per-try timeout.
    let unguarded = load(
        &path,
        &[
            "service.post-storage-service.policy.retries={ max = 0, per_try_timeout = \"50ms\" }",
            "service.post-storage-service.policy.outlier_detection.consecutive_errors=1000000",
        ],
    );
    let bare = run(&unguarded);
    assert_eq!(bare.outcomes.total(), bare.offered, "conservation");
    let total_rate: f64 = unguarded.workloads.iter().map(|w| w.rate).sum();
    let expected = total_rate * ((end - start) as f64 / 1e9) / 3.0;
    let failed = bare.outcomes.failed() as f64;
    assert!(
        (failed - expected).abs() < 0.05 * expected,
        "{failed} failed, expected about {expected}"
    );
    assert!(result.outcomes.failed() as f64 * 20.0 < failed);
}

#[test]
fn online_boutique_a_slow_currency_replica_hurts_round_robin_not_least_request() {
    let path = root().join("scenarios/systems/online-boutique.toml");
    let round_robin = load(&path, &[]);
    let (start, end) = fault_window(&round_robin, 0);
    let (result, recorder) = crate::common::run_recorded(&round_robin);
    assert_eq!(result.outcomes.total(), result.offered, "conservation");
    // The slow replica (20 x a 0.5 ms mean) serves at most ~100 conversions/s; round robin sends
    // it a third of ~750/s: it overloads, and pages that convert through it time out or are
    // rejected. The failures end with the fault (plus the 1 s timeout).
    assert!(result.availability() < 0.95, "{}", result.availability());
    for (window, failed) in edge_failures(&recorder.windows) {
        if window + SECOND <= start || window >= end + 2 * SECOND {
            assert_eq!(failed, 0, "failures in the window at {} s", window / SECOND);
        }
    }
    let least_request = load(&path, &["policy.balancer=least_request"]);
    let steered = run(&least_request);
    assert_eq!(steered.outcomes.total(), steered.offered, "conservation");
    assert!(
        steered.availability() >= 0.999,
        "{}",
        steered.availability()
    );
}

#[test]
fn mesh_1000_is_the_imported_isotope_topology_and_one_crashed_replica_fails_requests() {
    let path = root().join("scenarios/systems/mesh-1000.toml");
    let committed = std::fs::read_to_string(&path).expect("mesh-1000.toml");
    let source = "scenarios/topologies/isotope/1000-svc_5000-end.yaml";
    let yaml = std::fs::read_to_string(root().join(source)).expect("isotope file");
    let options = meshsim::import::isotope::ImportOptions {
        name: Some("mesh-1000".into()),
        ..Default::default()
    };
    let imported = meshsim::import::isotope_scenario(&yaml, source, &options).expect("imports");
    assert!(
        committed.starts_with(&imported),
        "mesh-1000.toml is not the import of {source} plus the story: run scenarios/systems/generate-mesh-1000.sh"
    );
    // Shortened for CI: the crash from 2 s to 4 s of a 6 s run.
    let model = load(
        &path,
        &[
            "scenario.duration=6s",
            "scenario.warmup=1s",
            "fault.0.at=2s",
            "fault.0.for=2s",
        ],
    );
    assert!(model.services.len() >= 1000);
    let (start, end) = fault_window(&model, 0);
    let (result, recorder) = crate::common::run_recorded(&model);
    assert_eq!(result.outcomes.total(), result.offered, "conservation");
    // svc-0 needs all of its 100 calls: a request fails when its call to svc-0-5 (or any call
    // below it) meets the crashed replica. Outside the crash nothing fails.
    assert!(result.outcomes.failed() > 0);
    assert_eq!(
        result.outcomes.failed(),
        result.outcomes.get(Outcome::Error)
    );
    for (window, failed) in edge_failures(&recorder.windows) {
        if window + SECOND <= start || window >= end + SECOND {
            assert_eq!(failed, 0, "failures in the window at {} s", window / SECOND);
        }
    }
}

#[test]
fn error_rate_is_a_fraction_read_from_the_service() {
    let text = |rate: &str| {
        format!(
            "[scenario]\nname = \"e\"\nduration = \"1s\"\n[[service]]\nname = \"a\"\nservice_time = \"exp(1ms)\"\nerror_rate = {rate}\n[[workload]]\nname = \"w\"\ntarget = \"a\"\nrate = 10\n"
        )
    };
    let model = scenario::load_str(&text("0.25"), "e.toml", Path::new("."), &[]).expect("loads");
    assert_eq!(model.services[0].error_rate, 0.25);
    let errors =
        scenario::load_str(&text("1.5"), "e.toml", Path::new("."), &[]).expect_err("out of range");
    assert_eq!(errors.0.len(), 1);
    assert_eq!((errors.0[0].line, errors.0[0].column), (7, 14));
    assert!(errors.0[0].message.contains("between 0 and 1"), "{errors}");
}
