//! Sweeps split into work items and merged (`meshsim compare --shard`, `meshsim merge`), the
//! gates (`--check`, `--fail-if`), and the Slurm and Kubernetes recipes under `deploy/`.

use crate::common::{in_ci, meshsim, require_component, root, temp_dir, write_file};
use saphyr::{LoadableYamlNode, Yaml};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// M/M/1 (lambda = 500/s, mu = 1000/s: rho = 0.5) with an SLO: the sojourn time is
/// exponential with rate mu − lambda = 500/s, so its p99 is ln(100)/500 s = 9.21 ms. A short
/// run (2 s measured, ~1 000 requests) keeps the sweeps cheap.
const MM1_SLO: &str = r#"
[scenario]
name = "mm1_slo"
seed = 7
duration = "2500ms"
warmup = "500ms"

[policy]
timeout = "1h"

[[service]]
name = "server"
replicas = 1
workers = 1
concurrency = "threads"
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "server"
arrival = "poisson"
rate = 500

[slo]
availability = 0.999
latency = { p99 = "50ms" }
"#;

fn scenario(dir: &Path) -> PathBuf {
    write_file(dir, "mm1_slo.toml", MM1_SLO.as_bytes())
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_ok(args: &[&str]) -> Output {
    let output = meshsim(args);
    assert!(
        output.status.success(),
        "meshsim {args:?}: {}",
        text(&output)
    );
    output
}

fn status(args: &[&str]) -> (i32, String) {
    let output = meshsim(args);
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file of `dir` (not hidden, not folders), by name.
fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// `b` holds exactly the files of `a`, byte for byte.
fn assert_same_folder(a: &Path, b: &Path) {
    let names = files(a);
    assert_eq!(names, files(b), "{} vs {}", a.display(), b.display());
    for required in [
        "comparison.json",
        "comparison.csv",
        "comparison.md",
        "replications.csv",
    ] {
        assert!(names.contains(required), "{required} missing");
    }
    assert!(names.iter().any(|n| n.starts_with("latency-")));
    for name in &names {
        let left = std::fs::read(a.join(name)).expect("read");
        let right = std::fs::read(b.join(name)).expect("read");
        assert!(
            left == right,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

const VARY: &str = "service.server.workers=1..3";

fn sweep_args<'a>(file: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "compare", file, "--vary", VARY, "-r", "3", "--out", out, "-q", "-j", "1",
    ]
}

/// 3 variants x 3 replications = 9 items; shards 1..N for N = 1, 2, 3, 7, each its own process,
/// run in a scrambled order, merged: every file byte-identical to one `compare`. Each shard holds
/// exactly the items at positions i with i mod N = I − 1.
#[test]
fn shards_in_any_order_merge_byte_identical_to_one_compare() {
    let dir = temp_dir("sweep-shards");
    let file = scenario(&dir);
    let file = file.to_str().expect("utf-8");
    let one = dir.join("one");
    run_ok(&sweep_args(file, one.to_str().expect("utf-8")));
    let all_items: Vec<String> = (0..3)
        .flat_map(|v| (0..3).map(move |r| format!("v{v}-r{r}")))
        .collect();
    for n in [1usize, 2, 3, 7] {
        // 1, N, 2, N-1, ...: neither ascending nor descending.
        let mut order: Vec<usize> = Vec::new();
        let (mut low, mut high) = (1, n);
        while low <= high {
            order.push(low);
            if high != low {
                order.push(high);
            }
            low += 1;
            high -= 1;
        }
        let mut shard_dirs = Vec::new();
        for &i in &order {
            let out = dir.join(format!("n{n}-shard{i}"));
            let shard = format!("{i}/{n}");
            let mut args = sweep_args(file, out.to_str().expect("utf-8"));
            args.extend(["--shard", &shard]);
            run_ok(&args);
            let held: BTreeSet<String> = files(&out.join("items"))
                .into_iter()
                .filter(|name| name != "plan.json")
                .map(|name| name.trim_end_matches(".json").to_string())
                .collect();
            let expected: BTreeSet<String> = all_items
                .iter()
                .enumerate()
                .filter(|(position, _)| position % n == i - 1)
                .map(|(_, id)| id.clone())
                .collect();
            assert_eq!(held, expected, "shard {i}/{n}");
            shard_dirs.push(out);
        }
        let merged = dir.join(format!("n{n}-merged"));
        let mut args: Vec<&str> = vec!["merge", "-q", "--out", merged.to_str().expect("utf-8")];
        args.extend(shard_dirs.iter().map(|d| d.to_str().expect("utf-8")));
        run_ok(&args);
        assert_same_folder(&one, &merged);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Missing items are listed with the command that runs them (exit 2); that command, then the
/// merge, gives the comparison; re-running a shard runs nothing; another seed's shard and a
/// duplicate that disagrees are refused (exit 2).
#[test]
fn merge_refuses_other_sweeps_and_disagreeing_duplicates_and_lists_missing_items() {
    let dir = temp_dir("sweep-merge");
    let file = scenario(&dir);
    let file = file.to_str().expect("utf-8");
    let one = dir.join("one");
    run_ok(&sweep_args(file, one.to_str().expect("utf-8")));
    let a = dir.join("a");
    let a_text = a.to_str().expect("utf-8");
    let mut args = sweep_args(file, a_text);
    args.extend(["--shard", "1/2"]);
    run_ok(&args);
    let first = std::fs::metadata(a.join("items/v0-r0.json"))
        .and_then(|m| m.modified())
        .expect("item written");
    let loud: Vec<&str> = args.iter().copied().filter(|a| *a != "-q").collect();
    let again = run_ok(&loud);
    assert!(
        String::from_utf8_lossy(&again.stdout).starts_with("0 items run, 5 already there"),
        "{}",
        text(&again)
    );
    let later = std::fs::metadata(a.join("items/v0-r0.json"))
        .and_then(|m| m.modified())
        .expect("item");
    assert_eq!(first, later, "an item already there is not rewritten");

    let out = dir.join("final");
    let out_text = out.to_str().expect("utf-8");
    let (code, stderr) = status(&["merge", a_text, "--out", out_text]);
    assert_eq!(code, 2, "{stderr}");
    // Shard 2/2 holds positions 1, 3, 5, 7: v0-r1, v1-r0, v1-r2, v2-r1.
    assert!(
        stderr.contains("4 items are missing: v0-r1,v1-r0,v1-r2,v2-r1"),
        "{stderr}"
    );
    let command = stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: run them with: "))
        .expect("the command");
    assert!(!out.exists(), "nothing written when items are missing");
    // Run the command it gives (it names the shard's folder as --out).
    let rerun = Command::new("sh")
        .arg("-c")
        .arg(
            command.replacen(
                "meshsim",
                &format!("'{}'", env!("CARGO_BIN_EXE_meshsim")),
                1,
            ) + " -q",
        )
        .current_dir(root())
        .status()
        .expect("sh");
    assert!(rerun.success(), "{command}");
    run_ok(&["merge", "-q", a_text, "--out", out_text]);
    assert_same_folder(&one, &out);

    // Another seed: another sweep.
    let other = dir.join("other");
    let mut args = sweep_args(file, other.to_str().expect("utf-8"));
    args.extend(["--shard", "2/2", "--seed", "8"]);
    run_ok(&args);
    let (code, stderr) = status(&[
        "merge",
        a_text,
        other.to_str().expect("utf-8"),
        "--out",
        out_text,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("is another sweep") && stderr.contains("seed 8"),
        "{stderr}"
    );

    // A duplicate that disagrees (one more request offered).
    let twin = dir.join("twin");
    std::fs::create_dir_all(twin.join("items")).expect("mkdir");
    std::fs::copy(a.join("items/plan.json"), twin.join("items/plan.json")).expect("copy");
    let item = std::fs::read_to_string(a.join("items/v1-r1.json")).expect("item");
    let mut value: serde_json::Value = serde_json::from_str(&item).expect("json");
    let offered = value["offered"].as_u64().expect("offered");
    value["offered"] = serde_json::json!(offered + 1);
    std::fs::write(twin.join("items/v1-r1.json"), value.to_string()).expect("write");
    let (code, stderr) = status(&[
        "merge",
        a_text,
        twin.to_str().expect("utf-8"),
        "--out",
        out_text,
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("item v1-r1 differs"), "{stderr}");
    // An identical duplicate is fine.
    std::fs::write(twin.join("items/v1-r1.json"), item).expect("write");
    run_ok(&[
        "merge",
        "-q",
        a_text,
        twin.to_str().expect("utf-8"),
        "--out",
        out_text,
    ]);
    assert_same_folder(&one, &out);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `run --check`: p99 of the M/M/1 sojourn is 9.21 ms (see [`MM1_SLO`]): a 50 ms target is met
/// (exit 0), a 5 ms one is not (exit 3, naming p99). `compare --check --fail-if`: two workers
/// (M/M/2, p99 well under 9 ms) as the baseline and one worker as the variant make the variant's
/// p99 significantly more than 10% worse (exit 3); the other way round it is better (exit 0).
/// Malformed rules and rules without --check: exit 2.
#[test]
fn check_and_fail_if_exit_statuses() {
    let dir = temp_dir("sweep-check");
    let file = scenario(&dir);
    let file = file.to_str().expect("utf-8");
    let out = dir.join("out");
    let out = out.to_str().expect("utf-8");
    let (code, stderr) = status(&["run", file, "--check", "-q", "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = status(&[
        "run",
        file,
        "--check",
        "-q",
        "--out",
        out,
        "--set",
        "slo.latency.p99=\"5ms\"",
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("objective missed: p99 latency"), "{stderr}");
    let (code, stderr) = status(&[
        "run",
        "scenarios/validation/mm1_short.toml",
        "--check",
        "-q",
        "--out",
        out,
    ]);
    assert_eq!(code, 2, "no [slo] to check: {stderr}");

    let compare = |vary: &str, rules: &[&str]| {
        let mut args = vec![
            "compare", file, "--vary", vary, "-r", "5", "-q", "--out", out, "--check",
        ];
        for rule in rules {
            args.extend(["--fail-if", rule]);
        }
        status(&args)
    };
    let (code, stderr) = compare("service.server.workers=2,1", &["latency_p99_ms>+10%"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("service.server.workers=1: latency_p99_ms")
            && !stderr.contains("workers=2:"),
        "{stderr}"
    );
    let (code, stderr) = compare(
        "service.server.workers=1,2",
        &["latency_p99_ms>+10%", "availability<0.999"],
    );
    assert_eq!(code, 0, "{stderr}");
    // Absolute: one worker's p99 (9.2 ms) is above 5 ms, two workers' is not.
    let (code, stderr) = compare("service.server.workers=1,2", &["latency_p99_ms>5"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("workers=1:") && !stderr.contains("workers=2:"),
        "{stderr}"
    );
    // An SLO missed by every variant fails the check without rules.
    let (code, stderr) = compare("slo.latency.p99=\"1ms\",\"2ms\"", &[]);
    assert_eq!(code, 3, "{stderr}");
    for bad in [
        "latency_p99_ms>>3",
        "bogus<1",
        "latency_p99_ms>10%",
        "availability",
    ] {
        let (code, stderr) = compare("service.server.workers=1,2", &[bad]);
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert!(stderr.contains("--fail-if"), "{stderr}");
    }
    let (code, stderr) = status(&[
        "compare",
        file,
        "-q",
        "--out",
        out,
        "--fail-if",
        "availability<0.9",
    ]);
    assert_eq!(code, 2, "--fail-if without --check: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a progress line to the test's standard error (shown even on success, with
/// --nocapture or not: figures the docs quote).
fn figure(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// The peak resident memory (kB) of `meshsim args`: its VmHWM (the high-water mark of its own
/// address space, which starts at its exec), read every 5 ms until it exits. (The kernel's
/// rusage of a child would also count the pages it shared with this big test process between
/// fork and exec.)
fn peak_kb(args: &[&str]) -> (u64, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(root())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "meshsim {args:?} failed");
    (peak, started.elapsed())
}

/// A 5 000-item grid (50 variants x 100 replications of a 20 ms M/M/1) runs as items in memory
/// that does not grow with the grid: its peak is within 1.5x + 16 MB of a 500-item grid's.
/// The merge of its 5 000 items, and of 10 000 items, is timed (figures, not asserted: the
/// machine is shared).
#[test]
fn large_grids_stream_in_bounded_memory_and_merge() {
    let dir = temp_dir("sweep-large");
    let file = scenario(&dir);
    let file = file.to_str().expect("utf-8");
    let tiny = [
        "--set",
        "scenario.warmup=\"10ms\"",
        "--set",
        "scenario.duration=\"30ms\"",
    ];
    let mut peaks = Vec::new();
    for (replications, label) in [("10", "500"), ("100", "5000")] {
        let out = dir.join(format!("grid{label}"));
        let mut args = vec![
            "compare",
            file,
            "--vary",
            "service.server.workers=1..50",
            "-r",
            replications,
            "--shard",
            "1/1",
            "-q",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        args.extend(tiny);
        let (peak, wall) = peak_kb(&args);
        figure(&format!(
            "sweeps: {label}-item grid as items: peak RSS {peak} kB, {:.1} s wall",
            wall.as_secs_f64()
        ));
        peaks.push(peak);
        let merged = dir.join(format!("merged{label}"));
        let merge_args = [
            "merge",
            "-q",
            out.to_str().expect("utf-8"),
            "--out",
            merged.to_str().expect("utf-8"),
        ];
        let (peak, wall) = peak_kb(&merge_args);
        figure(&format!(
            "sweeps: merge of {label} items: {:.2} s wall, peak RSS {peak} kB",
            wall.as_secs_f64()
        ));
    }
    assert!(
        (peaks[1] as f64) < peaks[0] as f64 * 1.5 + 16_384.0,
        "peak memory grows with the grid: {peaks:?} kB"
    );
    // 10 000 items: 100 variants x 100 replications, made from one real item, renamed (a merge
    // reads and checks every file; their figures need not differ).
    let out = dir.join("grid10000");
    let out_text = out.to_str().expect("utf-8");
    let mut args = vec![
        "compare",
        file,
        "--vary",
        "service.server.workers=1..100",
        "-r",
        "100",
        "--only",
        "v0-r0",
        "-q",
        "--out",
        out_text,
    ];
    args.extend(tiny);
    run_ok(&args);
    let item = std::fs::read_to_string(out.join("items/v0-r0.json")).expect("item");
    let value: serde_json::Value = serde_json::from_str(&item).expect("json");
    for v in 0..100 {
        for r in 0..100 {
            let mut copy = value.clone();
            copy["item"] = serde_json::json!(format!("v{v}-r{r}"));
            if r > 0 {
                copy["latency_csv"] = serde_json::Value::Null;
            }
            std::fs::write(out.join(format!("items/v{v}-r{r}.json")), copy.to_string())
                .expect("write");
        }
    }
    let merged = dir.join("merged10000");
    let (peak, wall) = peak_kb(&[
        "merge",
        "-q",
        out_text,
        "--out",
        merged.to_str().expect("utf-8"),
    ]);
    figure(&format!(
        "sweeps: merge of 10000 items: {:.2} s wall, peak RSS {peak} kB",
        wall.as_secs_f64()
    ));
    let comparison: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(merged.join("comparison.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(comparison["variants"].as_array().map(Vec::len), Some(100));
    assert_eq!(
        comparison["variants"][99]["replications"]
            .as_array()
            .map(Vec::len),
        Some(100)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn get<'a>(node: &'a Yaml<'a>, path: &[&str]) -> &'a Yaml<'a> {
    let mut node = node;
    for key in path {
        node = node
            .as_mapping_get(key)
            .unwrap_or_else(|| panic!("no {key} in {path:?}"));
    }
    node
}

/// The claim and mount path of a Job's volume, and its container.
fn volume_of<'a>(job: &'a Yaml<'a>) -> (Option<String>, Option<String>, &'a Yaml<'a>) {
    let pod = get(job, &["spec", "template", "spec"]);
    let volumes = get(pod, &["volumes"]).as_vec().expect("volumes");
    let container = &get(pod, &["containers"]).as_vec().expect("containers")[0];
    let mount = &get(container, &["volumeMounts"]).as_vec().expect("mounts")[0];
    let volume = volumes
        .iter()
        .find(|v| get(v, &["name"]).as_str() == get(mount, &["name"]).as_str())
        .expect("the mounted volume");
    let claim = get(volume, &["persistentVolumeClaim", "claimName"])
        .as_str()
        .map(str::to_string);
    let mount_path = get(mount, &["mountPath"]).as_str().map(str::to_string);
    (claim, mount_path, container)
}

fn env_value(container: &Yaml<'_>, name: &str) -> Option<String> {
    container
        .as_mapping_get("env")?
        .as_vec()?
        .iter()
        .find(|e| e.as_mapping_get("name").and_then(Yaml::as_str) == Some(name))?
        .as_mapping_get("value")?
        .as_str()
        .map(str::to_string)
}

/// The Kubernetes recipe: an Indexed Job whose completions equal its SHARDS, a container that
/// shards by $JOB_COMPLETION_INDEX + 1 into the shared volume, and a merge Job on the same claim.
/// Then the containers' own shell commands run here, one per index, and the merge's output is
/// byte-identical to one compare.
#[test]
fn kubernetes_indexed_job_recipe_is_well_formed_and_its_commands_merge() {
    let path = root().join("deploy/k8s/sweep-job.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read the manifest");
    let documents = Yaml::load_from_str(&yaml).expect("valid YAML");
    let kind = |d: &Yaml<'_>| get(d, &["kind"]).as_str().map(str::to_string);
    let claim = documents
        .iter()
        .find(|d| kind(d).as_deref() == Some("PersistentVolumeClaim"))
        .expect("a PersistentVolumeClaim");
    let claim_name = get(claim, &["metadata", "name"])
        .as_str()
        .expect("name")
        .to_string();
    let jobs: Vec<&Yaml<'_>> = documents
        .iter()
        .filter(|d| kind(d).as_deref() == Some("Job"))
        .collect();
    assert_eq!(jobs.len(), 2, "a sweep Job and a merge Job");
    for job in &jobs {
        assert_eq!(get(job, &["apiVersion"]).as_str(), Some("batch/v1"));
    }
    let sweep = jobs
        .iter()
        .find(|j| {
            j.as_mapping_get("spec")
                .and_then(|s| s.as_mapping_get("completionMode"))
                .is_some()
        })
        .expect("the Indexed Job");
    let merge = jobs
        .iter()
        .find(|j| !std::ptr::eq(**j, *sweep))
        .expect("the merge Job");
    assert_eq!(
        get(sweep, &["spec", "completionMode"]).as_str(),
        Some("Indexed")
    );
    let completions = get(sweep, &["spec", "completions"])
        .as_integer()
        .expect("completions");
    let (sweep_claim, sweep_mount, sweep_container) = volume_of(sweep);
    let (merge_claim, merge_mount, merge_container) = volume_of(merge);
    assert_eq!(sweep_claim.as_deref(), Some(claim_name.as_str()));
    assert_eq!(merge_claim, sweep_claim, "both Jobs share the volume");
    assert_eq!(merge_mount, sweep_mount);
    assert_eq!(
        env_value(sweep_container, "SHARDS"),
        Some(completions.to_string())
    );
    assert_eq!(env_value(sweep_container, "SWEEP_DIR"), sweep_mount);
    let script = |container: &Yaml<'_>| {
        let command: Vec<String> = get(container, &["command"])
            .as_vec()
            .expect("command")
            .iter()
            .map(|w| w.as_str().expect("word").to_string())
            .collect();
        assert_eq!(&command[..2], ["sh", "-c"]);
        command[2].clone()
    };
    let sweep_script = script(sweep_container);
    let merge_script = script(merge_container);
    assert!(
        sweep_script.contains("--shard \"$((JOB_COMPLETION_INDEX + 1))/$SHARDS\""),
        "{sweep_script}"
    );
    assert!(merge_script.contains("meshsim merge"), "{merge_script}");

    // Run the pods' commands here: the volume is a temporary folder, meshsim is this build.
    let dir = temp_dir("sweep-k8s");
    let file = scenario(&dir);
    let one = dir.join("one");
    run_ok(&sweep_args(
        file.to_str().expect("utf-8"),
        one.to_str().expect("utf-8"),
    ));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_meshsim"), bin.join("meshsim"))
        .expect("symlink");
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let volume = dir.join("volume");
    std::fs::create_dir_all(&volume).expect("mkdir");
    let pod = |script: &str, index: Option<i64>| {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .env("PATH", &path_var)
            .env("SHARDS", completions.to_string())
            .env("SCENARIO", &file)
            .env("SWEEP_DIR", &volume)
            .env("COMPARE_ARGS", format!("--vary {VARY} -r 3"))
            .current_dir(&dir);
        if let Some(index) = index {
            command.env("JOB_COMPLETION_INDEX", index.to_string());
        }
        let output = command.output().expect("sh");
        assert!(output.status.success(), "{script}: {}", text(&output));
    };
    for index in (0..completions).rev() {
        pod(&sweep_script, Some(index));
    }
    pod(&merge_script, None);
    assert_same_folder(&one, &volume.join("final"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-node Slurm cluster on localhost (munged, slurmctld, slurmd with files written here),
/// stopped when dropped.
struct SlurmCluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl SlurmCluster {
    /// Whether a cluster can start here: the Slurm and munge programs (through
    /// [`require_component`]: a failure under CI, a loud skip elsewhere) and root.
    fn available(test: &str) -> bool {
        let install = "apt-get install -y slurm-wlm munge (.ci/run does)";
        for (name, path) in [
            ("munged", "/usr/sbin/munged"),
            ("slurmctld", "/usr/sbin/slurmctld"),
            ("slurmd", "/usr/sbin/slurmd"),
            ("sbatch", "/usr/bin/sbatch"),
            ("squeue", "/usr/bin/squeue"),
        ] {
            if require_component(test, name, path, install).is_none() {
                return false;
            }
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                !in_ci(),
                "{test}: the test cluster runs its daemons as root, and CI is set"
            );
            let _ = std::io::stderr().write_all(
                format!("\n==== SKIPPED {test}: the test cluster runs its daemons as root ====\n")
                    .as_bytes(),
            );
            return false;
        }
        true
    }

    fn start(dir: &Path) -> SlurmCluster {
        for sub in ["state", "spool", "log", "munge"] {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
        }
        let key: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let key_path = write_file(&dir.join("munge"), "munge.key", &key);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let d = dir.display();
        let munged = Command::new("/usr/sbin/munged")
            .args([
                "-f",
                &format!("--socket={d}/munge/socket"),
                &format!("--key-file={d}/munge/munge.key"),
            ])
            .args([
                &format!("--pid-file={d}/munge/pid"),
                &format!("--log-file={d}/log/munged.log"),
            ])
            .arg(format!("--seed-file={d}/munge/seed"))
            .output()
            .expect("munged runs");
        assert!(munged.status.success(), "munged: {}", text(&munged));
        let host = String::from_utf8(
            Command::new("hostname")
                .arg("-s")
                .output()
                .expect("hostname")
                .stdout,
        )
        .expect("utf-8")
        .trim()
        .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Ports of our own, so that a machine's real cluster (6817/6818) is left alone.
        let port = 20_000 + (std::process::id() % 20_000) * 2;
        let conf = write_file(
            dir,
            "slurm.conf",
            format!(
                "ClusterName=meshsimtest\nSlurmctldHost={host}(127.0.0.1)\nSlurmUser=root\nSlurmdUser=root\n\
                 AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={d}/munge/socket\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nSelectType=select/cons_tres\n\
                 SelectTypeParameters=CR_Core\nStateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
                 SlurmctldPort={port}\nSlurmdPort={}\nReturnToService=2\nMpiDefault=none\n\
                 JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
                 NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN\n\
                 PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
                port + 1
            )
            .as_bytes(),
        );
        let cluster = SlurmCluster {
            dir: dir.to_path_buf(),
            conf: conf.clone(),
        };
        for (daemon, extra) in [
            ("/usr/sbin/slurmctld", &["-c"][..]),
            ("/usr/sbin/slurmd", &[][..]),
        ] {
            let output = Command::new(daemon)
                .args(extra)
                .arg("-f")
                .arg(&conf)
                .env("SLURM_CONF", &conf)
                .output()
                .expect("daemon runs");
            assert!(output.status.success(), "{daemon}: {}", text(&output));
        }
        cluster
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SLURM_CONF", &self.conf);
        command
    }

    fn logs(&self) -> String {
        ["slurmctld.log", "slurmd.log", "munged.log"]
            .iter()
            .map(|name| {
                let text =
                    std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "== {name}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        for pid_file in ["slurmd.pid", "slurmctld.pid", "munge/pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.dir.join(pid_file)) {
                if let Ok(pid) = pid.trim().parse::<libc::pid_t>() {
                    // SAFETY: signals only the daemon this test started (its own pid file).
                    unsafe {
                        libc::kill(pid, libc::SIGTERM);
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The Slurm recipe for real: `deploy/slurm/sweep.sbatch submit` on a one-node cluster started
/// here submits a 3-task array and a merge job that depends on it; the merged folder is
/// byte-identical to one compare. Without Slurm (or root), it fails under CI=1 and is skipped
/// loudly elsewhere.
#[test]
fn slurm_job_array_and_dependent_merge_give_one_compare() {
    if !SlurmCluster::available("sweeps::slurm_job_array_and_dependent_merge_give_one_compare") {
        return;
    }
    let dir = temp_dir("sweep-slurm");
    let file = scenario(&dir);
    let one = dir.join("one");
    run_ok(&sweep_args(
        file.to_str().expect("utf-8"),
        one.to_str().expect("utf-8"),
    ));
    let cluster = SlurmCluster::start(&dir.join("cluster"));
    let sweep = dir.join("sweep");
    let submitted = cluster
        .command("bash")
        .arg(root().join("deploy/slurm/sweep.sbatch"))
        .arg("submit")
        .env("MESHSIM", env!("CARGO_BIN_EXE_meshsim"))
        .env("SCENARIO", &file)
        .env("SHARDS", "3")
        .env("SWEEP_DIR", &sweep)
        .env("COMPARE_ARGS", format!("--vary {VARY} -r 3"))
        .current_dir(&dir)
        .output()
        .expect("bash");
    assert!(
        submitted.status.success(),
        "submit: {}\n{}",
        text(&submitted),
        cluster.logs()
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let queue = cluster
            .command("/usr/bin/squeue")
            .args(["-h", "-o", "%i %T %r"])
            .output()
            .expect("squeue");
        let queue = String::from_utf8_lossy(&queue.stdout).into_owned();
        if queue.trim().is_empty() {
            break;
        }
        assert!(
            !queue.contains("DependencyNeverSatisfied"),
            "{queue}\n{}",
            cluster.logs()
        );
        assert!(
            Instant::now() < deadline,
            "jobs still queued after 10 min: {queue}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let shard_dirs: Vec<String> = (0..3).map(|i| format!("shard-{i}")).collect();
    for shard in &shard_dirs {
        assert!(
            sweep.join(shard).join("items/plan.json").is_file(),
            "{shard}: {}",
            cluster.logs()
        );
    }
    assert!(
        sweep.join("final").is_dir(),
        "merge job output missing:\n{}",
        cluster.logs()
    );
    assert_same_folder(&one, &sweep.join("final"));
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
