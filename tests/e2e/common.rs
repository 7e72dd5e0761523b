//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use meshsim::model::Model;
use meshsim::scenario::{self, Override};
use meshsim::sim::{MemoryRecorder, NullRecorder, RunResult, Simulation};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's root folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `scenarios/`.
pub fn scenario_path(relative: &str) -> PathBuf {
    root().join("scenarios").join(relative)
}

/// Loads a scenario under `scenarios/` with `key=value` overrides; panics with the errors.
pub fn load(relative: &str, overrides: &[&str]) -> Model {
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|text| Override::parse(text).expect("override syntax"))
        .collect();
    scenario::load_file(&scenario_path(relative), &overrides)
        .unwrap_or_else(|errors| panic!("{relative} does not load:\n{errors}"))
}

/// Runs a model, keeping no rows.
pub fn run(model: &Model) -> RunResult {
    Simulation::run(model, NullRecorder).0
}

/// Runs a model, keeping window rows and events in memory.
pub fn run_recorded(model: &Model) -> (RunResult, MemoryRecorder) {
    Simulation::run(model, MemoryRecorder::default())
}

/// Runs the `meshsim` binary with `args`.
pub fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the meshsim binary runs")
}

/// `meshsim run SCENARIO --quiet --out OUT EXTRA...`, which must succeed; its `summary.json`.
pub fn run_summary(scenario: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        scenario.to_str().expect("utf-8 path"),
        "--quiet",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let output = meshsim(&args);
    assert!(
        output.status.success(),
        "meshsim {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read(out.join("summary.json")).expect("summary.json written");
    serde_json::from_slice(&text).expect("summary.json is JSON")
}

/// [`meshsim`] with extra environment variables.
pub fn meshsim_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .output()
        .expect("the meshsim binary runs")
}

/// A fresh empty folder under the system's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("meshsim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// Mean, and half-width of a 95% normal-theory interval, of `values`.
pub fn mean_and_half_width(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 1.96 * (variance / n).sqrt())
}

/// Whether the tests run in continuous integration: the environment variable `CI` is set to
/// anything but empty, `0` or `false` (CI services set `CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

/// A real program a test drives (Chromium today; HAProxy, promtool, Slurm when they come), at
/// `path`. Returns the path when it is there. When it is missing the test cannot check what it
/// is for, so this never passes silently:
/// - under CI ([`in_ci`]) it panics: CI installs every component (`.ci/run`), so a missing one
///   is a broken CI, not a reason to skip;
/// - elsewhere it writes a `SKIPPED` banner straight to the process's standard error and returns
///   `None`. Not with `eprintln!`: the test harness captures the macros' output and shows it only
///   for a failing test, while a write to `std::io::stderr()` itself goes past the capture and
///   appears in a plain `cargo test` run among the test results.
///
/// `test` names the check that is skipped, `install` says how to get the component.
pub fn require_component(test: &str, name: &str, path: &str, install: &str) -> Option<PathBuf> {
    let path = PathBuf::from(path);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "{test}: {name} is missing at {} and CI is set: {install}",
        path.display()
    );
    let banner = format!(
        "\n==== SKIPPED {test}: {name} is missing at {} ({install}); set CI=1 to make this a \
         failure ====\n",
        path.display()
    );
    // Straight to the file descriptor, past the harness's capture (see above).
    let _ = std::io::stderr().write_all(banner.as_bytes());
    None
}
