//! Every balancer shows its documented effect.
//!
//! `RunResult` only has per-service totals, so a replica's share of the tries is measured through
//! a fault: while an `errors` fault with rate 1 is on replica i, every try sent to it fails with
//! `error` and every other try succeeds, so the error fraction of the window rows during that
//! fault IS replica i's share. One run moves such a fault from replica to replica, one slot of
//! whole windows each ("rotating probe"). Balancer state does not depend on outcomes for
//! round robin, weighted round robin and random, so the probe does not disturb what it measures.
//!
//! The scenarios are written here (into a temporary folder) so that each test shows its whole
//! setup next to its expectations.

use crate::common::{temp_dir, write_file};
use meshsim::model::{Model, Outcome};
use meshsim::scenario::{self, Override};
use meshsim::sim::{MemoryRecorder, NullRecorder, RunResult, Simulation};

const SECOND: u64 = 1_000_000_000;

/// Loads `text` as a scenario file named after `name`.
fn load_text(name: &str, text: &str, overrides: &[&str]) -> Model {
    let dir = temp_dir(&format!("balancers-{name}"));
    let path = write_file(&dir, "scenario.toml", text.as_bytes());
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|o| Override::parse(o).expect("override"))
        .collect();
    let model = scenario::load_file(&path, &overrides)
        .unwrap_or_else(|errors| panic!("{name} does not load:\n{errors}"));
    let _ = std::fs::remove_dir_all(&dir);
    model
}

/// A pool of `replicas` replicas behind a Poisson workload, with the rotating probe: replica i
/// fails every try during `[warmup + i x slot, warmup + (i + 1) x slot)`. Workers are plentiful
/// (no queueing), so only the balancer decides where a try goes.
fn rotating_probe(balancer: &str, replicas: usize, weights: Option<&[u32]>, rate: f64) -> String {
    let (warmup, slot) = (2, 5);
    let duration = warmup + slot * replicas as u64 + 1;
    let weights = weights.map_or(String::new(), |w| format!("weights = {w:?}\n"));
    let mut text = format!(
        r#"[scenario]
name = "probe-{balancer}"
seed = 21
duration = "{duration}s"
warmup = "{warmup}s"

[network]
latency = "const(0.25ms)"

[policy]
balancer = "{balancer}"

[[service]]
name = "pool"
replicas = {replicas}
{weights}workers = 64
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "pool"
rate = {rate}
"#
    );
    for replica in 0..replicas {
        let at = warmup + slot * replica as u64;
        text.push_str(&format!(
            "\n[[fault]]\nat = \"{at}s\"\nfor = \"{slot}s\"\nkind = \"errors\"\ntarget = \"pool#{replica}\"\nrate = 1.0\n"
        ));
    }
    text
}

/// Per replica: (tries sent to it, all tries) during its probe slot, from the pool's window rows.
fn probe_counts(model: &Model) -> Vec<(u64, u64)> {
    let (result, recorder) = Simulation::run(model, MemoryRecorder::default());
    assert_eq!(
        result.outcomes.failed(),
        result.outcomes.get(Outcome::Error),
        "only probe errors"
    );
    model
        .faults
        .iter()
        .map(|fault| {
            let until = fault.until.expect("probe slots end");
            assert!(
                fault.at % model.window == 0 && until % model.window == 0,
                "slots are whole windows"
            );
            let during = recorder
                .windows
                .iter()
                .filter(|row| row.1 == "pool" && row.0 >= fault.at && row.0 < until);
            during.fold((0, 0), |(errors, total), row| {
                (errors + row.4.get(Outcome::Error), total + row.4.total())
            })
        })
        .collect()
}

fn shares(counts: &[(u64, u64)]) -> Vec<f64> {
    counts
        .iter()
        .map(|&(hits, total)| hits as f64 / total as f64)
        .collect()
}

#[test]
fn round_robin_spreads_tries_evenly() {
    let model = load_text("rr", &rotating_probe("round_robin", 4, None, 2000.0), &[]);
    let counts = probe_counts(&model);
    // Round robin from one client is exact: each replica gets every 4th try. The only slack is
    // tries straddling a slot's edges (a try sent just before its replica's slot and failing in
    // it, an answer still on the wire at the end): a handful out of ~10,000 per slot.
    for (replica, share) in shares(&counts).into_iter().enumerate() {
        assert!(
            (share - 0.25).abs() <= 0.003,
            "replica {replica}: share {share:.4}, expected 0.25"
        );
    }
}

#[test]
fn weighted_round_robin_follows_the_weights() {
    for weights in [&[3u32, 1][..], &[1, 2, 3, 4][..]] {
        let model = load_text(
            "wrr",
            &rotating_probe("weighted_round_robin", weights.len(), Some(weights), 2000.0),
            &[],
        );
        assert_eq!(model.services[0].replica_weights, weights);
        let total: u32 = weights.iter().sum();
        // Smooth weighted round robin is exact over every `total` picks.
        for (replica, share) in shares(&probe_counts(&model)).into_iter().enumerate() {
            let expected = f64::from(weights[replica]) / f64::from(total);
            assert!(
                (share - expected).abs() <= 0.003,
                "weights {weights:?}, replica {replica}: share {share:.4}, expected {expected}"
            );
        }
    }

    // The same seen from a partial errors fault: rate r on the weight-3 replica of [3, 1] fails
    // 3/4 x r of the requests.
    let rate = 0.4;
    let text = format!(
        r#"[scenario]
name = "wrr-errors"
seed = 22
duration = "20s"
warmup = "2s"

[policy]
balancer = "weighted_round_robin"

[[service]]
name = "pool"
replicas = 2
weights = [3, 1]
workers = 64
service_time = "exp(1ms)"

[[workload]]
name = "load"
target = "pool"
rate = 2000

[[fault]]
at = "0s"
kind = "errors"
target = "pool#0"
rate = {rate}
"#
    );
    let result = run(&load_text("wrr-errors", &text, &[]));
    let n = result.offered as f64;
    let fraction = result.outcomes.get(Outcome::Error) as f64 / n;
    let expected = 0.75 * rate;
    // Errors ~ Binomial(3/4 n, r): sd of the fraction sqrt(3/4 r (1 - r) / n) ~ 0.0029.
    let tolerance = 5.0 * (0.75 * rate * (1.0 - rate) / n).sqrt();
    assert!(
        (fraction - expected).abs() <= tolerance,
        "errors {fraction:.4}, expected {expected} +- {tolerance:.4}"
    );
}

#[test]
fn random_spreads_tries_about_uniformly() {
    let replicas = 4;
    let model = load_text(
        "random",
        &rotating_probe("random", replicas, None, 2000.0),
        &[],
    );
    let counts = probe_counts(&model);
    let p = 1.0 / replicas as f64;
    let mut chi_square = 0.0;
    for (replica, &(hits, total)) in counts.iter().enumerate() {
        // Each try picks the replica with probability p: hits ~ Binomial(total, p).
        let expected = total as f64 * p;
        let sd = (total as f64 * p * (1.0 - p)).sqrt();
        let share = hits as f64 / total as f64;
        assert!(
            (hits as f64 - expected).abs() <= 5.0 * sd,
            "replica {replica}: share {share:.4}, expected {p} (sd {:.4})",
            sd / total as f64
        );
        chi_square += (hits as f64 - expected).powi(2) / (sd * sd);
    }
    // Four independent slots: the sum of squared z-scores is chi-square with 4 degrees of
    // freedom; 18.47 is its 0.999 quantile.
    assert!(
        chi_square < 18.47,
        "chi-square {chi_square:.2} over 4 slots"
    );
}

#[test]
fn least_request_breaks_ties_by_view_order() {
    // Constant arrivals every 10 ms, each request done in 1.5 ms: every pick sees no request
    // outstanding anywhere, and the tie goes to the first replica in view order, every time.
    let text = rotating_probe("least_request", 3, None, 100.0)
        .replace(
            "service_time = \"exp(1ms)\"",
            "service_time = \"const(1ms)\"",
        )
        .replace("rate = 100\n", "arrival = \"constant\"\nrate = 100\n");
    let model = load_text("lr-ties", &text, &[]);
    assert!(matches!(
        model.workloads[0].arrival,
        meshsim::model::Arrival::Constant
    ));
    let counts = probe_counts(&model);
    assert_eq!(
        counts[0].0, counts[0].1,
        "replica 0 gets every try: {counts:?}"
    );
    assert!(
        counts[1..]
            .iter()
            .all(|&(hits, total)| hits == 0 && total > 0),
        "{counts:?}"
    );
}

fn run(model: &Model) -> RunResult {
    Simulation::run(model, NullRecorder).0
}

/// Ten single-worker replicas with exponential service, loaded to `RHO`.
const REPLICAS: usize = 10;
const RHO: f64 = 0.88;
const SERVICE_MS: f64 = 1.0;

fn loaded_pool(balancer: &str) -> Model {
    let rate = RHO * REPLICAS as f64 * 1000.0 / SERVICE_MS;
    let text = format!(
        r#"[scenario]
name = "loaded-{balancer}"
seed = 23
duration = "40s"
warmup = "5s"

[policy]
balancer = "{balancer}"

[[service]]
name = "pool"
replicas = {REPLICAS}
workers = 1
service_time = "exp({SERVICE_MS}ms)"

[[workload]]
name = "load"
target = "pool"
rate = {rate}
"#
    );
    let model = load_text(balancer, &text, &[]);
    assert_eq!(model.duration, 40 * SECOND);
    model
}

#[test]
fn least_request_and_p2c_beat_random_on_a_loaded_pool() {
    // Random splitting of a Poisson stream makes 10 independent M/M/1 queues, each offered
    // lambda/10: mean sojourn 1 / (mu - lambda/10) = 1 / (1000 - 880) s = 8.33 ms (no network).
    let mu = 1000.0 / SERVICE_MS;
    let lambda = RHO * REPLICAS as f64 * mu;
    let random_theory_ms = 1000.0 / (mu - lambda / REPLICAS as f64);
    let mean_ms = |balancer: &str| {
        let result = run(&loaded_pool(balancer));
        assert_eq!(result.outcomes.failed(), 0, "{balancer}: failures");
        result.latency.mean_nanos() / 1e6
    };
    let random = mean_ms("random");
    let p2c = mean_ms("p2c");
    let least_request = mean_ms("least_request");

    // The random run confirms the pool is as loaded as claimed. At rho = 0.88 the sample mean of
    // one M/M/1 queue over ~30,000 requests has a standard error of ~7% (asymptotic variance of
    // the mean sojourn ~ rho (2 + 5 rho - 4 rho^2 + rho^3) / (mu^2 (1 - rho)^4) per request);
    // averaged over 10 independent queues ~2.3%; 15% is over 5 standard errors.
    assert!(
        (random / random_theory_ms - 1.0).abs() <= 0.15,
        "random: mean {random:.3} ms, M/M/1 theory {random_theory_ms:.3} ms"
    );
    // Looking at outstanding requests avoids the long queues: p2c (two choices) brings the mean
    // to about 2.5-3 ms (mean-field: sum of rho^(2^i - 1) requests per replica, over lambda/10),
    // least request (join the shortest queue, this client sees every request) lower still. The
    // margin demanded: half of random's theoretical mean.
    let margin = random_theory_ms / 2.0;
    assert!(
        p2c < margin,
        "p2c mean {p2c:.3} ms, not below {margin:.3} ms (random {random:.3} ms)"
    );
    assert!(
        least_request < margin,
        "least_request mean {least_request:.3} ms, not below {margin:.3} ms (random {random:.3} ms)"
    );
    // Joining the shortest of all queues beats the shorter of two.
    assert!(
        least_request < p2c,
        "least_request {least_request:.3} ms vs p2c {p2c:.3} ms"
    );
}
