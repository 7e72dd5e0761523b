//! Big meshes: the generator of `scenarios/systems/generate-mesh.sh` (deterministic, the shape it
//! states), a 20,000-service scenario through `meshsim validate`, and a generated mesh run whose
//! tries per request follow from its tree.

use crate::common::{meshsim, root, temp_dir, write_file};
use meshsim::model::Model;
use meshsim::scenario::{self, Override};
use meshsim::sim::{NullRecorder, Simulation};
use std::process::Command;

/// The generator's output for `args`, with `env` set (panics with its error output).
fn generate(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new("sh")
        .arg(root().join("scenarios/systems/generate-mesh.sh"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("sh runs");
    assert!(
        output.status.success(),
        "generate-mesh.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn load(text: &str, overrides: &[&str]) -> Model {
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| Override::parse(o).expect("override"))
        .collect();
    scenario::load_str(text, "mesh.toml", &root(), &overrides)
        .unwrap_or_else(|errors| panic!("the generated mesh does not load:\n{errors}"))
}

/// Per service: its parent (the service whose endpoint calls it) and the probability of that
/// call, read from the model (`None` for a service nobody calls).
fn parents(model: &Model) -> Vec<Option<(usize, f64)>> {
    let mut parent = vec![None; model.services.len()];
    for endpoint in &model.endpoints {
        for call in endpoint.steps.iter().flat_map(|s| &s.calls) {
            let callee = model.endpoints[call.target].service;
            assert!(
                parent[callee].is_none(),
                "{} has two callers",
                model.services[callee].name
            );
            parent[callee] = Some((endpoint.service, call.probability));
        }
    }
    parent
}

/// Expected calls per request: the sum over services of the product of call probabilities on
/// the path from the entry (computed here from the model, independently of the generator).
fn expected_calls(model: &Model) -> f64 {
    let parent = parents(model);
    let mut total = 0.0;
    for service in 0..model.services.len() {
        let mut reach = 1.0;
        let mut at = service;
        let mut depth = 0;
        while let Some((up, probability)) = parent[at] {
            reach *= probability;
            at = up;
            depth += 1;
            assert!(depth <= model.services.len(), "a cycle through {service}");
        }
        if at == 0 && service != 0 {
            total += reach;
        }
    }
    total
}

/// The expected calls per request the generator's header states.
fn stated_expected_calls(text: &str) -> f64 {
    let line = text.lines().nth(1).expect("a second header line");
    let value = line
        .split("expected calls per request ")
        .nth(1)
        .expect("the header states the expected calls");
    value.trim_end_matches('.').parse().expect("a number")
}

#[test]
fn the_generator_is_deterministic_and_makes_the_trees_it_states() {
    let first = generate(&["alibaba", "3000", "7"], &[]);
    assert_eq!(first, generate(&["alibaba", "3000", "7"], &[]), "same seed");
    assert_ne!(
        first,
        generate(&["alibaba", "3000", "8"], &[]),
        "other seed"
    );
    let model = load(&first, &[]);
    assert_eq!(model.services.len(), 3000);
    // A tree rooted at svc-0: every other service has exactly one caller (checked in
    // `parents`) and reaches svc-0.
    let parent = parents(&model);
    assert!(parent[0].is_none());
    assert!(parent[1..].iter().all(Option::is_some));
    // Heavy-tailed fan-out: the largest is far above the mean (just under 1 callee per service),
    // within the format's 128 calls per endpoint.
    let mut fan_out = vec![0usize; model.services.len()];
    for p in parent.iter().flatten() {
        fan_out[p.0] += 1;
    }
    let largest = *fan_out.iter().max().expect("services");
    assert!((30..=128).contains(&largest), "largest fan-out {largest}");
    let leaves = fan_out.iter().filter(|&&f| f == 0).count();
    assert!(leaves > 1500, "{leaves} services call nobody");
    let independent = expected_calls(&model);
    let stated = stated_expected_calls(&first);
    assert!(
        (independent - stated).abs() <= 0.05 + 1e-9,
        "stated {stated}, computed {independent}"
    );
    // The isotope-style tree: complete, breadth first, every call made.
    let tree = generate(&["tree", "1111"], &[("FANOUT", "10")]);
    let model = load(&tree, &[]);
    let parent = parents(&model);
    for (service, p) in parent.iter().enumerate().skip(1) {
        assert_eq!(*p, Some(((service - 1) / 10, 1.0)), "svc-{service}");
    }
    assert_eq!(expected_calls(&model), 1110.0);
    assert_eq!(stated_expected_calls(&tree), 1110.0);
}

#[test]
fn the_generator_refuses_bad_arguments() {
    for args in [&["star", "10"][..], &["tree", "ten"], &["tree"]] {
        let output = Command::new("sh")
            .arg(root().join("scenarios/systems/generate-mesh.sh"))
            .args(args)
            .output()
            .expect("sh runs");
        assert!(!output.status.success(), "{args:?} accepted");
        assert!(!output.stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn a_20000_service_mesh_validates() {
    let dir = temp_dir("mesh-20000");
    let path = write_file(
        &dir,
        "mesh.toml",
        generate(&["alibaba", "20000"], &[]).as_bytes(),
    );
    let output = meshsim(&["validate", path.to_str().expect("UTF-8 path")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_generated_tree_makes_one_try_per_service_per_request() {
    // 1,111 services, every call made: each request reaches every service once, so the tries
    // reaching replicas number offered × 1,111, up to the requests that straddle the measured
    // interval's edges (a request lasts about 10 ms here: four levels of a 1 ms service time and
    // 0.2 ms hops; over 3 s measured that is well under 1% at each edge).
    let text = generate(&["tree", "1111"], &[("FANOUT", "10"), ("RATE", "50")]);
    let model = load(&text, &["scenario.duration=4s", "scenario.warmup=1s"]);
    let (result, _) = Simulation::run(&model, NullRecorder);
    assert!(result.stopped.is_none());
    // Poisson arrivals at 50/s over 3 s: 150 expected, standard deviation 12.2.
    assert!((100..=200).contains(&result.offered), "{}", result.offered);
    let tries: u64 = result.services.iter().map(|s| s.requests).sum();
    let per_request = tries as f64 / result.offered as f64;
    assert!(
        (per_request / 1111.0 - 1.0).abs() < 0.02,
        "{per_request} tries per request"
    );
    assert_eq!(result.availability(), 1.0);
}

/// The rows of a CSV file as fields (header first).
fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|line| line.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn omitting_idle_rows_leaves_out_exactly_the_idle_ones() {
    let dir = temp_dir("idle-rows");
    let text = generate(&["alibaba", "300", "3"], &[("RATE", "20")]);
    let path = write_file(&dir, "mesh.toml", text.as_bytes());
    let path = path.to_str().expect("UTF-8 path");
    for (out, extra) in [("full", None), ("omit", Some("--omit-idle-rows"))] {
        let out = dir.join(out);
        let mut args = vec!["run", path, "--quiet", "--set", "scenario.duration=3s"];
        args.extend(["--out", out.to_str().expect("UTF-8 path")]);
        args.extend(extra);
        let output = meshsim(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let number = |field: &String| field.parse::<f64>().expect("a number");
    // timeseries.csv: a service's row is idle when every column from `arrivals` to `hedges`
    // (all but time, width, service and ready replicas) is zero; the end-to-end row never is.
    let full = csv_rows(&dir.join("full/timeseries.csv"));
    let header = &full[0];
    let first = header
        .iter()
        .position(|h| h == "arrivals")
        .expect("arrivals");
    let last = header.iter().position(|h| h == "hedges").expect("hedges");
    let kept: Vec<Vec<String>> = full
        .iter()
        .enumerate()
        .filter(|(index, row)| {
            *index == 0
                || row[2] == "(end-to-end)"
                || row[first..=last].iter().any(|f| number(f) != 0.0)
        })
        .map(|(_, row)| row.clone())
        .collect();
    assert!(
        kept.len() < full.len() / 2,
        "most rows of a sparse mesh are idle"
    );
    assert!(kept.len() > 10, "some are not");
    assert_eq!(csv_rows(&dir.join("omit/timeseries.csv")), kept);
    // replicas.csv: idle when up with zero arrivals, busy workers, in flight and queued.
    let full = csv_rows(&dir.join("full/replicas.csv"));
    let kept: Vec<Vec<String>> = full
        .iter()
        .enumerate()
        .filter(|(index, row)| {
            *index == 0 || row[8] != "up" || row[4..=7].iter().any(|f| number(f) != 0.0)
        })
        .map(|(_, row)| row.clone())
        .collect();
    assert!(kept.len() < full.len() / 2 && kept.len() > 10);
    assert_eq!(csv_rows(&dir.join("omit/replicas.csv")), kept);
    // The figures do not depend on which rows are written.
    for file in ["summary.json", "events.csv", "latency.csv"] {
        assert_eq!(
            std::fs::read(dir.join("full").join(file)).expect("full"),
            std::fs::read(dir.join("omit").join(file)).expect("omit"),
            "{file}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
