//! The digital twin (docs/twin.md): each experiment of `scenarios/twin/` run on a real HAProxy
//! with real backends on 127.0.0.1 by `twin/compare`, beside meshsim's prediction, within the
//! stated tolerances (mean latency 10%, p99 20%, failed requests 20% or 5 when fewer than 25,
//! time to mark-down 1 s, per-backend shares 5 points). The expected values come from the real
//! system, measured in the test; none is copied from a run.
//!
//! Needs `haproxy` (Debian's package; `.ci/run` installs it) and `python3`: without them each
//! test fails when `CI` is set and otherwise says loudly that it skipped.

use crate::common::{root, temp_dir};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The experiments measure wall-clock latency: one at a time, whatever the harness's threads.
static REAL_SYSTEM: Mutex<()> = Mutex::new(());

fn available(program: &str) -> bool {
    Command::new(program)
        .arg(if program == "haproxy" {
            "-v"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the real components can start; panics under CI when they cannot.
fn components_present(test: &str) -> bool {
    let missing: Vec<&str> = ["haproxy", "python3"]
        .into_iter()
        .filter(|program| !available(program))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: {} not installed, and CI is set (.ci/run installs haproxy)",
        missing.join(" and ")
    );
    let notice = format!(
        "\n==== SKIPPED {test}: {} not installed (apt-get install haproxy) ====\n\n",
        missing.join(" and ")
    );
    let _ = std::io::stderr().write_all(notice.as_bytes());
    false
}

/// Runs `twin/compare` on one experiment; asserts it agrees (exit 0) and cleaned up.
fn experiment(file: &str) {
    let test = format!("twin::{}", file.trim_end_matches(".toml"));
    if !components_present(&test) {
        return;
    }
    let _one_at_a_time = REAL_SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let out = temp_dir(&format!("twin-{file}"));
    let output = Command::new("python3")
        .arg(root().join("twin/compare"))
        .arg(root().join("scenarios/twin").join(file))
        .arg("--out")
        .arg(&out)
        .arg("--meshsim")
        .arg(env!("CARGO_BIN_EXE_meshsim"))
        .current_dir(root())
        .output()
        .expect("twin/compare starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::io::stderr().write_all(format!("{stdout}{stderr}").as_bytes());
    assert_no_process_left(&out);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{file}: the real system and meshsim disagree beyond the tolerances:\n{stdout}{stderr}"
    );
    let measured: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("real/measured.json")).expect("measured.json"),
    )
    .expect("measured.json is JSON");
    // Every request offered was accounted for, and the run covered the measured interval.
    let requests = &measured["requests"];
    let offered = requests["offered"].as_u64().expect("offered");
    assert!(offered > 1000, "{file}: only {offered} requests");
    assert_eq!(
        requests["succeeded"].as_u64().unwrap() + requests["failed"].as_u64().unwrap(),
        offered
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// No process started for the run in `out` is still alive (each backend's command line names
/// its log file under `out`, HAProxy its configuration there).
fn assert_no_process_left(out: &Path) {
    let marker = out.to_string_lossy().into_owned();
    let mut alive = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = state
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z'));
        if cmdline.contains(&marker) && !cmdline.contains("twin/compare") && !zombie {
            alive.push(cmdline);
        }
    }
    assert!(alive.is_empty(), "processes left behind: {alive:#?}");
}

#[test]
fn steady_round_robin_at_50_percent() {
    experiment("steady_rr_50.toml");
}

#[test]
fn steady_round_robin_at_85_percent() {
    experiment("steady_rr_85.toml");
}

#[test]
fn steady_leastconn_at_50_percent() {
    experiment("steady_lc_50.toml");
}

#[test]
fn steady_leastconn_at_85_percent() {
    experiment("steady_lc_85.toml");
}

#[test]
fn steady_leastconn_at_85_percent_queueing_in_haproxy() {
    experiment("steady_lc_85_maxconn.toml");
}

#[test]
fn crash_with_health_checks_and_retries() {
    experiment("crash_rr.toml");
}

#[test]
fn hang_with_timeout_server() {
    experiment("hang_timeout.toml");
}

#[test]
fn slow_replica_under_round_robin() {
    experiment("slow_rr.toml");
}

#[test]
fn slow_replica_under_leastconn() {
    experiment("slow_lc.toml");
}

#[test]
fn slow_replica_under_random2() {
    experiment("slow_random2.toml");
}

#[test]
fn unsupported_scenarios_are_refused_with_exit_2_naming_what() {
    if !available("python3") {
        assert!(std::env::var_os("CI").is_none(), "python3 missing under CI");
        let _ = std::io::stderr().write_all(b"\n==== SKIPPED twin refusal test: no python3 ====\n");
        return;
    }
    let dir = temp_dir("twin-refused");
    let scenario = dir.join("two_services.toml");
    std::fs::write(
        &scenario,
        "[scenario]\nduration = \"5s\"\n[registry]\nmodel = \"oracle\"\n[policy]\n\
         balancer = \"peak_ewma\"\n[[service]]\nname = \"a\"\nservice_time = \"exp(1ms)\"\n\
         [[service]]\nname = \"b\"\nservice_time = \"exp(1ms)\"\n[[workload]]\ntarget = \"a\"\n\
         rate = 10\n[[fault]]\nat = \"1s\"\nkind = \"partition\"\nbetween = [\"zone:a\", \"zone:b\"]\n",
    )
    .expect("write scenario");
    for tool in ["twin/run", "twin/compare"] {
        let mut command = Command::new("python3");
        command.arg(root().join(tool)).arg(&scenario);
        if tool == "twin/run" {
            command.arg(dir.join("out"));
        }
        let output = command.output().expect("the twin starts");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{tool}: {stderr}");
        for named in [
            "registry.model",
            "policy.balancer: 'peak_ewma'",
            "exactly one service, found 2",
            "fault.0.kind",
        ] {
            assert!(
                stderr.contains(named),
                "{tool} does not name {named}:\n{stderr}"
            );
        }
        assert!(!dir.join("out").exists(), "{tool} started something");
    }
}

#[test]
fn an_interrupted_run_leaves_no_process_behind() {
    if !components_present("twin::an_interrupted_run_leaves_no_process_behind") {
        return;
    }
    let _one_at_a_time = REAL_SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    let out = temp_dir("twin-interrupted");
    let mut run = Command::new("python3")
        .arg(root().join("twin/run"))
        .arg(root().join("scenarios/twin/hang_timeout.toml"))
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin/run starts");
    // Interrupt once the system is up and the fault has begun (a backend is stopped).
    let started = Instant::now();
    while !out.join("haproxy.cfg").exists() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(7));
    // SIGINT, as a terminal's Ctrl-C would send it.
    let status = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = run.wait().expect("twin/run ends");
    assert!(
        !exit.success(),
        "an interrupted run must not report success"
    );
    assert_no_process_left(&out);
    assert!(
        !out.join("measured.json").exists(),
        "an interrupted run wrote measured.json"
    );
    let _ = std::fs::remove_dir_all(&out);
}
