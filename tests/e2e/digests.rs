//! Golden digests: the `summary.json` of a dozen fixed runs must not change unnoticed.
//!
//! Each run is a scenario file under `scenarios/` with fixed `--set` overrides (most shorten the
//! run), through the `meshsim` binary as a user runs it. The FNV-1a 64-bit hash of the bytes of
//! its `summary.json` is compared with the one stored in `tests/golden/digests.txt`. All of
//! `summary.json` is hashed: it holds no wall-clock time, version or path (the engine's speed is
//! printed to the terminal, never written to a report file).
//!
//! A refactor must leave every digest alone. A change that is meant to alter results (a model
//! fix, a dependency upgrade whose algorithm changed) is blessed deliberately:
//! `MESHSIM_BLESS=1 cargo test --release --test e2e digests` rewrites the file from the current
//! outputs, and the diff of `tests/golden/digests.txt` then shows which runs changed, for review.
//!
//! The runs cover the balancers, the discovery models, faults, governance, hedging, consistent
//! hashing, the autoscaler, zones, the trace workload, the SLO section and every distribution but
//! the empirical one (exponential, lognormal, constant, uniform, Pareto, normal, mixtures).

use crate::common;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The stored digests, relative to the repository's root.
const GOLDEN: &str = "tests/golden/digests.txt";

/// The environment variable that rewrites [`GOLDEN`] instead of comparing.
const BLESS: &str = "MESHSIM_BLESS";

/// The fixed runs: a scenario under `scenarios/` and its `--set` overrides (no whitespace in an
/// override: [`GOLDEN`] separates them by spaces).
const RUNS: [(&str, &[&str]); 16] = [
    // Faults (crash, errors, latency), retries, bounded queues; round robin.
    ("validation/conservation.toml", &["scenario.duration=8s"]),
    // The other balancers: least request, power of two choices, peak EWMA, random. With queueing
    // (two workers a replica): without it a balancer changes no figure of summary.json (common
    // random numbers).
    (
        "validation/crn_balancers.toml",
        &["policy.balancer=least_request", "service.server.workers=2"],
    ),
    (
        "validation/governance/supermarket.toml",
        &["scenario.duration=4s"],
    ),
    // Peak EWMA with outlier detection against a gray failure.
    (
        "validation/governance/gray.toml",
        &["scenario.duration=20s"],
    ),
    // Hedging behind a random balancer.
    (
        "validation/governance/hedge.toml",
        &["scenario.duration=8s"],
    ),
    // Circuit breaker; retry budget.
    ("validation/governance/breaker.toml", &[]),
    (
        "validation/governance/retry_budget.toml",
        &["scenario.duration=20s"],
    ),
    // Consistent hashing, ring hash and Maglev, over 50 user keys, with a crash of a cache replica
    // that stays in view (static registry) and one worker a replica: where keys go shows.
    (
        "validation/hashing/affinity.toml",
        &[
            "registry.model=static",
            "workload.users.key_space=50",
            "service.cache.workers=1",
        ],
    ),
    (
        "validation/hashing/affinity.toml",
        &[
            "registry.model=static",
            "workload.users.key_space=50",
            "service.cache.workers=1",
            "service.cache.policy.balancer=maglev",
        ],
    ),
    // Discovery: Eureka's caches and Consul, with crashes.
    (
        "validation/discovery/eureka.toml",
        &["scenario.duration=120s"],
    ),
    (
        "validation/discovery/consul.toml",
        &["scenario.duration=90s"],
    ),
    // The autoscaler.
    ("validation/discovery/hpa.toml", &["scenario.duration=100s"]),
    // A trace replayed as the workload.
    ("validation/trace.toml", &[]),
    // The SLO section of summary.json.
    ("validation/slo_crash.toml", &[]),
    // Zones, a static registry, lognormal service times and cross-zone hops, several workloads.
    ("blog.toml", &["scenario.duration=30s"]),
    // The other distributions: a mixture of Pareto, truncated normal and uniform.
    (
        "validation/mm1_short.toml",
        &[
            "service.server.service_time=mix(0.5*pareto(scale=0.5ms,shape=2.5),\
           0.3*normal(mean=1ms,sd=0.3ms),0.2*uniform(0.5ms,1.5ms))",
        ],
    ),
];

/// FNV-1a, 64 bits: enough to notice any change of a file (not meant to resist forgery).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// One line of [`GOLDEN`]: the scenario, its overrides joined by spaces (`-` for none), the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Golden {
    scenario: String,
    overrides: String,
    digest: u64,
}

impl Golden {
    fn line(&self) -> String {
        format!(
            "{}\t{}\t{:016x}",
            self.scenario, self.overrides, self.digest
        )
    }
}

/// The overrides of a run as [`GOLDEN`] spells them.
fn overrides_text(overrides: &[&str]) -> String {
    if overrides.is_empty() {
        "-".to_string()
    } else {
        overrides.join(" ")
    }
}

/// Reads [`GOLDEN`]: comment and blank lines skipped; panics on a malformed line.
fn read_golden(path: &Path) -> Vec<Golden> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with {BLESS}=1 cargo test --release --test e2e digests",
            path.display()
        )
    });
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            let digest = match fields[..] {
                [_, _, digest] if digest.len() == 16 => u64::from_str_radix(digest, 16).ok(),
                _ => None,
            };
            let Some(digest) = digest else {
                panic!(
                    "{}:{}: expected `scenario<TAB>overrides<TAB>16 hex digits`, found {line:?}",
                    path.display(),
                    index + 1
                );
            };
            Golden {
                scenario: fields[0].to_string(),
                overrides: fields[1].to_string(),
                digest,
            }
        })
        .collect()
}

/// The file's text for `goldens`, with its header.
fn golden_text(goldens: &[Golden]) -> String {
    let mut text = String::new();
    text.push_str(
        "# FNV-1a 64-bit digests of summary.json of fixed runs (tests/e2e/digests.rs).\n\
         # One line per run, tab-separated: scenario under scenarios/, its --set overrides joined\n\
         # by spaces (- for none), the digest as 16 hex digits.\n\
         # Never edit by hand: MESHSIM_BLESS=1 cargo test --release --test e2e digests rewrites it.\n",
    );
    for golden in goldens {
        let _ = writeln!(text, "{}", golden.line());
    }
    text
}

/// Runs `scenario` with `overrides` through the binary into `dir`; returns summary.json's bytes.
fn summary_of(scenario: &str, overrides: &[&str], dir: &Path) -> Vec<u8> {
    let file = format!("scenarios/{scenario}");
    let out = dir.to_str().expect("temp dir is UTF-8");
    let mut args = vec!["run", file.as_str(), "--out", out, "--quiet"];
    for o in overrides {
        args.extend(["--set", o]);
    }
    let output = common::meshsim(&args);
    assert!(
        output.status.success(),
        "meshsim {args:?} failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let path = dir.join("summary.json");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn summaries_of_fixed_runs_match_their_golden_digests() {
    let root = common::root();
    let golden_path = root.join(GOLDEN);
    let bless = std::env::var_os(BLESS).is_some_and(|v| v == "1");
    assert!(
        !(bless && std::env::var_os("CI").is_some()),
        "{BLESS}=1 under CI: digests are blessed by a person, never by CI"
    );

    for (scenario, overrides) in RUNS {
        assert!(
            overrides.iter().all(|o| !o.contains(char::is_whitespace)),
            "{scenario}: an override with whitespace cannot be written to {GOLDEN}"
        );
    }

    // The runs are independent processes: two at a time keep both cores busy.
    let dirs: Vec<PathBuf> = (0..RUNS.len())
        .map(|index| common::temp_dir(&format!("digest-{index}")))
        .collect();
    let summaries: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let halves: Vec<_> = [0, 1]
            .into_iter()
            .map(|half| {
                let dirs = &dirs;
                scope.spawn(move || {
                    (half..RUNS.len())
                        .step_by(2)
                        .map(|index| {
                            let (scenario, overrides) = RUNS[index];
                            (index, summary_of(scenario, overrides, &dirs[index]))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Vec<u8>)> = halves
            .into_iter()
            .flat_map(|half| half.join().expect("a run thread panicked"))
            .collect();
        all.sort_by_key(|(index, _)| *index);
        all.into_iter().map(|(_, bytes)| bytes).collect()
    });

    let current: Vec<Golden> = RUNS
        .iter()
        .zip(&summaries)
        .map(|((scenario, overrides), bytes)| Golden {
            scenario: scenario.to_string(),
            overrides: overrides_text(overrides),
            digest: fnv1a64(bytes),
        })
        .collect();

    if bless {
        std::fs::write(&golden_path, golden_text(&current))
            .unwrap_or_else(|e| panic!("{}: {e}", golden_path.display()));
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "{BLESS}=1: rewrote {} with {} digests; review its diff before committing",
            golden_path.display(),
            current.len()
        );
        for dir in &dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        return;
    }

    let stored = read_golden(&golden_path);
    let mut problems = Vec::new();
    for (index, run) in current.iter().enumerate() {
        let found = stored
            .iter()
            .find(|g| g.scenario == run.scenario && g.overrides == run.overrides);
        match found {
            Some(golden) if golden.digest == run.digest => {
                let _ = std::fs::remove_dir_all(&dirs[index]);
            }
            Some(golden) => problems.push(format!(
                "{} (--set {}): summary.json digest {:016x}, stored {:016x}; this run's \
                 output is kept in {}",
                run.scenario,
                run.overrides,
                run.digest,
                golden.digest,
                dirs[index].display()
            )),
            None => problems.push(format!(
                "{} (--set {}): no stored digest",
                run.scenario, run.overrides
            )),
        }
    }
    for golden in &stored {
        if !current
            .iter()
            .any(|run| run.scenario == golden.scenario && run.overrides == golden.overrides)
        {
            problems.push(format!(
                "{} (--set {}): stored, but no longer run",
                golden.scenario, golden.overrides
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "outputs of fixed runs changed ({} of {}):\n  {}\n\
         If the change is intended (a model fix, an upgrade whose algorithm changed), bless it:\n  \
         {BLESS}=1 cargo test --release --test e2e digests\n\
         and explain in the commit why each digest changed.",
        problems.len(),
        current.len(),
        problems.join("\n  ")
    );
}

#[test]
fn fnv1a64_matches_the_reference_vectors() {
    // Test vectors of the FNV reference (Fowler, Noll, Vo: draft-eastlake-fnv, section 8).
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}
