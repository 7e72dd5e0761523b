//! `meshsim import istio` through the binary: Istio's public examples (Bookinfo, Istio's own
//! test configurations, kept verbatim in `tests/fixtures/istio/`), warnings for what is not
//! modelled, positioned errors, and the blog story (`scenarios/blog_istio/`). The field-by-field
//! mapping on objects written in the test is in `src/import/istio/tests.rs`.

use crate::common::{load, meshsim, root, run, run_recorded, temp_dir, write_file};
use meshsim::model::Outcome;

fn fixture(name: &str) -> String {
    format!("tests/fixtures/istio/{name}")
}

/// `meshsim import istio FILES --into SCENARIO`: (status, stdout, stderr).
fn import(files: &[&str], into: &str) -> (i32, String, String) {
    let mut args = vec!["import", "istio"];
    args.extend_from_slice(files);
    args.extend(["--into", into]);
    let output = meshsim(&args);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn service<'t>(table: &'t toml::Table, name: &str) -> &'t toml::Table {
    table["service"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(toml::Value::as_table)
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no service {name}"))
}

/// Writes `text` and checks `meshsim validate` accepts it.
fn validates(text: &str, name: &str) {
    let dir = temp_dir(&format!("istio-{name}"));
    let path = write_file(&dir, &format!("{name}.toml"), text.as_bytes());
    let output = meshsim(&["validate", path.to_str().expect("utf-8 path")]);
    assert!(
        output.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bookinfo_destination_rules_and_a_random_balancer() {
    // destination-rule-reviews.yaml: RANDOM for reviews, three subsets and no pods: no versions.
    let (status, out, err) = import(
        &[&fixture("bookinfo-destination-rule-reviews.yaml")],
        &fixture("bookinfo.toml"),
    );
    assert_eq!(status, 0, "{err}");
    validates(&out, "bookinfo-random");
    let table: toml::Table = out.parse().expect("TOML");
    assert_eq!(
        service(&table, "reviews")["policy"]["balancer"].as_str(),
        Some("random")
    );
    for subset in ["v1", "v2", "v3"] {
        assert!(
            err.contains(&format!(
                "DestinationRule reviews, subset {subset}: no Deployment's pods"
            )),
            "{err}"
        );
    }
    assert!(service(&table, "reviews").get("version").is_none());
}

#[test]
fn bookinfo_deployments_one_version_per_service_keeps_replicas_on_the_service() {
    // bookinfo.yaml + destination-rule-all.yaml + virtual-service-all-v1.yaml: every service
    // routed to v1; reviews has pods for v1, v2 and v3.
    let (status, out, err) = import(
        &[
            &fixture("bookinfo.yaml"),
            &fixture("bookinfo-destination-rule-all.yaml"),
            &fixture("bookinfo-virtual-service-all-v1.yaml"),
        ],
        &fixture("bookinfo.toml"),
    );
    assert_eq!(status, 0, "{err}");
    validates(&out, "bookinfo-all-v1");
    let table: toml::Table = out.parse().expect("TOML");
    for name in ["productpage", "details", "ratings"] {
        let svc = service(&table, name);
        assert_eq!(svc["replicas"].as_integer(), Some(1), "{name}");
        assert!(svc.get("version").is_none(), "{name}");
        // Istio's default retry policy on the route: 2 attempts.
        assert_eq!(
            svc["policy"]["retries"]["max"].as_integer(),
            Some(2),
            "{name}"
        );
    }
    let reviews = service(&table, "reviews");
    let versions: Vec<&str> = reviews["version"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    assert_eq!(versions, ["v1", "v2", "v3"]);
    let weights = reviews["traffic"]["weights"].as_table().expect("weights");
    assert_eq!(weights["v1"].as_integer(), Some(100));
    assert_eq!(weights["v2"].as_integer(), Some(0));
    assert_eq!(weights["v3"].as_integer(), Some(0));
    // Kinds not read, subsets without pods, the pods' spec: all warned.
    for needle in [
        "bookinfo.yaml:32:1: Service details: kind: not read",
        "ServiceAccount bookinfo-details: kind: not read",
        "DestinationRule ratings, subset v2-mysql: no Deployment's pods",
        "Deployment reviews-v2: spec.template.spec: the pod",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
}

#[test]
fn bookinfo_weighted_routes_become_the_traffic_split() {
    for (file, expected) in [
        ("bookinfo-virtual-service-reviews-90-10.yaml", [90, 10, 0]),
        ("bookinfo-virtual-service-reviews-80-20.yaml", [80, 20, 0]),
        ("bookinfo-virtual-service-reviews-50-v3.yaml", [50, 0, 50]),
    ] {
        let (status, out, err) = import(
            &[
                &fixture("bookinfo.yaml"),
                &fixture("bookinfo-destination-rule-all.yaml"),
                &fixture(file),
            ],
            &fixture("bookinfo.toml"),
        );
        assert_eq!(status, 0, "{file}: {err}");
        validates(&out, "bookinfo-weighted");
        let table: toml::Table = out.parse().expect("TOML");
        let weights = service(&table, "reviews")["traffic"]["weights"]
            .as_table()
            .expect("weights")
            .clone();
        let found: Vec<i64> = ["v1", "v2", "v3"]
            .iter()
            .map(|v| weights[*v].as_integer().expect("weight"))
            .collect();
        assert_eq!(found, expected.map(i64::from), "{file}");
        assert!(out.contains("# VirtualService reviews"), "{file}");
    }
}

#[test]
fn bookinfo_matched_routes_and_fault_injection_warn() {
    let (status, out, err) = import(
        &[
            &fixture("bookinfo-destination-rule-all.yaml"),
            &fixture("bookinfo-virtual-service-reviews-test-v2.yaml"),
            &fixture("bookinfo-fault-injection-details-v1.yaml"),
        ],
        &fixture("bookinfo.toml"),
    );
    assert_eq!(status, 0, "{err}");
    // test-v2: jason's route (match on a header) is not modelled; the default route is v1's.
    assert!(
        err.contains("bookinfo-virtual-service-reviews-test-v2.yaml:9:5: VirtualService reviews: spec.http[0]: a route taken only by requests that match"),
        "{err}"
    );
    // The fault-injection route has no match: it is the default route, its fault warned.
    assert!(
        err.contains("VirtualService details: spec.http[0].fault: fault injection: not modelled"),
        "{err}"
    );
    assert!(
        err.contains("VirtualService details: spec.http[1]: a route taken only"),
        "{err}"
    );
    validates(&out, "bookinfo-matched");
}

/// A scenario with the services Istio's test configurations name.
const TESTDATA_SCENARIO: &str = r#"[scenario]
name = "testdata"
duration = "2s"

[[service]]
name = "front"
service_time = "exp(1ms)"
calls = ["destall", "service3"]

[[service]]
name = "destall"
replicas = 2
service_time = "exp(1ms)"

[[service]]
name = "service3"
service_time = "exp(1ms)"

[[workload]]
target = "front"
rate = 10
"#;

#[test]
fn istios_every_field_destination_rule_maps_and_warns() {
    let dir = temp_dir("istio-testdata");
    let scenario = write_file(&dir, "testdata.toml", TESTDATA_SCENARIO.as_bytes());
    let (status, out, err) = import(
        &[&fixture("testdata-destination-rule-all.yaml")],
        scenario.to_str().expect("utf-8"),
    );
    assert_eq!(status, 0, "{err}");
    validates(&out, "testdata-dr");
    let table: toml::Table = out.parse().expect("TOML");
    // host destall.default.svc.cluster.local names the service destall.
    let policy = service(&table, "destall")["policy"]
        .as_table()
        .expect("policy")
        .clone();
    assert_eq!(policy["balancer"].as_str(), Some("round_robin"));
    assert_eq!(policy["max_connections"].as_integer(), Some(99));
    assert_eq!(policy["max_requests"].as_integer(), Some(33));
    assert_eq!(policy["max_pending"].as_integer(), Some(14));
    let od = policy["outlier_detection"]
        .as_table()
        .expect("outlier detection");
    assert_eq!(od["interval"].as_str(), Some("8ms"));
    assert_eq!(od["base_ejection"].as_str(), Some("1m"));
    assert_eq!(od["max_ejection"].as_float(), Some(0.11));
    assert_eq!(
        od["consecutive_errors"].as_integer(),
        Some(5),
        "Istio's default"
    );
    for needle in [
        "ServiceEntry destall: kind: not read",
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout: not modelled",
        "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection: not modelled",
        "spec.trafficPolicy.connectionPool.http.maxRetries: Envoy's cap",
        "spec.trafficPolicy.tls: not modelled",
        "spec.subsets[1].trafficPolicy.loadBalancer.consistentHash.httpCookie: the hash key",
        "spec.subsets[1].trafficPolicy.loadBalancer.consistentHash.minimumRingSize: meshsim's ring always has 1024",
        "DestinationRule destall, subset v2: no Deployment's pods",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn istios_every_field_virtual_service_warns_what_it_does_not_model() {
    let dir = temp_dir("istio-testdata-vs");
    let scenario = write_file(&dir, "testdata.toml", TESTDATA_SCENARIO.as_bytes());
    let (status, out, err) = import(
        &[&fixture("testdata-virtual-service-all.yaml")],
        scenario.to_str().expect("utf-8"),
    );
    assert_eq!(status, 0, "{err}");
    validates(&out, "testdata-vs");
    let table: toml::Table = out.parse().expect("TOML");
    // Every route has a match: the first is read as if every request matched it.
    assert_eq!(
        service(&table, "service3")["policy"]["retries"]["max"].as_integer(),
        Some(2)
    );
    for needle in [
        "spec.hosts[1]: \"uk.bookinfo.com\" names no [[service]]",
        "spec.hosts[2]: \"eu.bookinfo.com\" names no [[service]]",
        "spec.gateways[0]: routes at a gateway",
        "spec.http[0].match: match conditions: not modelled",
        "spec.http[0].route[0].destination.port: not modelled",
        "spec.http[1]: a route taken only by requests that match",
    ] {
        assert!(err.contains(needle), "{needle}\n{err}");
    }
    assert!(
        !err.contains("spec.gateways[1]"),
        "mesh is not a gateway:\n{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_yaml_and_wrong_types_exit_2_with_file_line_and_column() {
    let dir = temp_dir("istio-bad");
    let bad = write_file(
        &dir,
        "bad.yaml",
        b"kind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: [reviews\n",
    );
    let (status, out, err) = import(&[bad.to_str().expect("utf-8")], &fixture("bookinfo.toml"));
    assert_eq!(status, 2, "{err}");
    assert!(out.is_empty());
    assert!(
        err.starts_with(&format!("error: {}:", bad.display())),
        "{err}"
    );
    let typed = write_file(
        &dir,
        "typed.yaml",
        b"kind: Deployment\nmetadata:\n  name: ratings\nspec:\n  replicas: three\n",
    );
    let (status, _, err) = import(&[typed.to_str().expect("utf-8")], &fixture("bookinfo.toml"));
    assert_eq!(status, 2, "{err}");
    assert!(
        err.contains(&format!(
            "{}:5:13: Deployment ratings: spec.replicas: expected an integer",
            typed.display()
        )),
        "{err}"
    );
    // --into is required.
    let output = meshsim(&["import", "istio", &fixture("bookinfo.yaml")]);
    assert_eq!(output.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Values the scenario refuses are reported at the object's field in the user's YAML: replicas
/// of a Deployment, or of a service's Deployments together, past 100,000; retries past 100;
/// timeouts past 10,000 h; a sweep under 1 ms; an autoscaler past 10,000 replicas, upside down,
/// or leaving out the replicas its service starts with. They used to be reported at a line of
/// the generated scenario (`blog.toml (imported):96:12: replicas must be at most 100000`).
#[test]
fn values_past_the_scenario_limits_are_reported_at_the_yaml_line() {
    let dir = temp_dir("istio-limits");
    let deployment = |name: &str, replicas: u64| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
             replicas: {replicas}\n  template:\n    metadata:\n      labels:\n        app: \
             article\n        version: v1\n"
        )
    };
    let route = |route: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: \
             article\nspec:\n  hosts:\n  - article\n  http:\n{route}    route:\n    - \
             destination:\n        host: article\n"
        )
    };
    let outlier = |field: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: \
             article\nspec:\n  host: article\n  trafficPolicy:\n    outlierDetection:\n      \
             {field}\n"
        )
    };
    let hpa = |min: u64, max: u64| {
        format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: \
             article\nspec:\n  scaleTargetRef:\n    name: article\n  minReplicas: {min}\n  \
             maxReplicas: {max}\n  metrics:\n  - type: Resource\n    resource:\n      name: \
             cpu\n      target:\n        type: Utilization\n        averageUtilization: 70\n"
        )
    };
    let cases = [
        (
            "one.yaml",
            deployment("a1", 200_000),
            "one.yaml:6:13: Deployment a1: spec.replicas: 200000 is more than meshsim's limit of \
             100000 replicas per service",
        ),
        (
            "sum.yaml",
            format!(
                "{}---\n{}",
                deployment("a1", 60_000),
                deployment("a2", 60_000)
            ),
            "sum.yaml:18:13: Deployment a2: the Deployments of service \"article\" have 120000 \
             replicas together up to this one, more than meshsim's limit of 100000",
        ),
        (
            "attempts.yaml",
            route("  - retries:\n      attempts: 101\n"),
            "attempts.yaml:10:17: VirtualService article: spec.http[0].retries.attempts: 101 is \
             more than meshsim's limit of 100 retries per call",
        ),
        (
            "timeout.yaml",
            route("  - timeout: 20000h\n"),
            "timeout.yaml:9:14: VirtualService article: spec.http[0].timeout: \"20000h\" is too \
             long: at most 10000h",
        ),
        (
            "interval.yaml",
            outlier("interval: 1us"),
            "interval.yaml:9:17: DestinationRule article: \
             spec.trafficPolicy.outlierDetection.interval: at least 1ms, found 1us",
        ),
        (
            "errors.yaml",
            outlier("consecutive5xxErrors: 2000000"),
            "errors.yaml:9:29: DestinationRule article: \
             spec.trafficPolicy.outlierDetection.consecutive5xxErrors: 2000000 is more than \
             meshsim's limit of 1000000",
        ),
        (
            "max.yaml",
            hpa(4, 200_000),
            "max.yaml:9:16: HorizontalPodAutoscaler article: spec.maxReplicas: 200000 is more \
             than meshsim's limit of 10000 replicas of an autoscaler",
        ),
        (
            "upside.yaml",
            hpa(10, 5),
            "upside.yaml:9:16: HorizontalPodAutoscaler article: spec.maxReplicas (5) is below \
             spec.minReplicas (10)",
        ),
        (
            "range.yaml",
            hpa(10, 20),
            "range.yaml:8:16: HorizontalPodAutoscaler article: spec.minReplicas: 10 is above the \
             4 replicas service \"article\" starts with (the scenario's replicas)",
        ),
    ];
    for (name, text, wanted) in &cases {
        let path = write_file(&dir, name, text.as_bytes());
        let (status, out, err) = import(&[path.to_str().expect("utf-8")], "scenarios/blog.toml");
        assert_eq!(status, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}");
        assert!(!err.contains("(imported)"), "{name}: {err}");
        let wanted = format!("error: {}", dir.join(wanted).display());
        assert!(err.contains(&wanted), "{name}: {wanted}\nnot in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_blog_story_file_is_the_imports_output() {
    let (status, out, err) = import(&["scenarios/blog_istio/mesh.yaml"], "scenarios/blog.toml");
    assert_eq!(status, 0, "{err}");
    let committed = std::fs::read_to_string(root().join("scenarios/blog_istio/blog.toml"))
        .expect("the story file");
    assert_eq!(
        committed, out,
        "regenerate: meshsim import istio scenarios/blog_istio/mesh.yaml --into \
         scenarios/blog.toml > scenarios/blog_istio/blog.toml"
    );
    // Only the mutual TLS mode and the pod spec are not modelled.
    assert_eq!(err.matches("warning:").count(), 2, "{err}");
    // The blog's own lines are all there, in order.
    let blog = std::fs::read_to_string(root().join("scenarios/blog.toml")).expect("blog");
    let mut lines = out.lines();
    for line in blog.lines().filter(|l| !l.starts_with("replicas = 4")) {
        assert!(lines.any(|l| l == line), "lost: {line}");
    }
}

#[test]
fn the_blog_under_its_mesh_ejects_the_crashed_replica_five_tries_per_caller() {
    let model = load("blog_istio/blog.toml", &[]);
    let article = model
        .services
        .iter()
        .position(|s| s.name == "article")
        .expect("article");
    let policy = model.services[article]
        .policy
        .outlier_detection
        .clone()
        .expect("outlier detection from the DestinationRule");
    let crash = model.faults[0].at;
    let (result, recorder) = run_recorded(&model);
    let ejections: Vec<_> = recorder
        .events
        .iter()
        .filter(|e| e.kind == "ejection" && e.subject.ends_with("-> article#0"))
        .collect();
    // article's callers: the gateway's two replicas and comment's two (post calls article/view).
    let callers = ["gateway#0", "gateway#1", "comment#0", "comment#1"];
    for caller in callers {
        let times: Vec<u64> = ejections
            .iter()
            .filter(|e| e.subject.starts_with(&format!("{caller} ->")))
            .map(|e| e.time)
            .collect();
        assert_eq!(times.len(), 2, "{caller}: {times:?}");
        // First: within one sweep interval of the crash. A comment replica calls article about
        // 20 times a second (half the 40 posts/s) and p2c picks the crashed replica, which holds
        // no requests, whenever it is one of the two drawn (p = 1/2): five picks take ~0.5 s;
        // fewer than five in 100 calls (5 s) has probability below 1e-20. The gateway's take
        // milliseconds.
        let within = policy.interval;
        assert!(
            times[0] > crash && times[0] < crash + within,
            "{caller}: {times:?}"
        );
        // Second: the crash (60 s) outlasts the first ejection (base 30 s), which ends at the
        // first sweep after it; the caller ejects again after five more refusals.
        let end = (times[0] + policy.base_ejection).div_ceil(policy.interval) * policy.interval;
        assert!(
            times[1] > end && times[1] < end + within,
            "{caller}: {times:?}"
        );
    }
    // Each ejection took exactly `consecutive_errors` refused tries: 4 callers x 5 x 2, plus at
    // most one try per ejection already on its way when the fifth refusal came back.
    let refused = result.services[article].try_outcomes.get(Outcome::Refused);
    let predicted = callers.len() as u64 * u64::from(policy.consecutive_errors) * 2;
    assert!(
        (predicted..=predicted + 8).contains(&refused),
        "refused {refused}, predicted {predicted}"
    );
    // Without the mesh (scenarios/blog.toml) round robin keeps sending a quarter of the tries
    // to the crashed replica for the whole minute.
    let plain = run(&load("blog.toml", &[]));
    let plain_refused = plain.services[article].try_outcomes.get(Outcome::Refused);
    assert!(
        plain_refused > 100 * refused,
        "{plain_refused} vs {refused}"
    );
    assert!(result.availability() > plain.availability());
}

#[test]
fn an_imported_weighted_route_splits_the_calls_in_the_run() {
    let (status, out, err) = import(
        &[
            &fixture("bookinfo.yaml"),
            &fixture("bookinfo-destination-rule-all.yaml"),
            &fixture("bookinfo-virtual-service-reviews-90-10.yaml"),
        ],
        &fixture("bookinfo.toml"),
    );
    assert_eq!(status, 0, "{err}");
    let dir = temp_dir("istio-split");
    let scenario = write_file(&dir, "bookinfo.toml", out.as_bytes());
    let report = dir.join("report");
    let output = meshsim(&[
        "run",
        scenario.to_str().expect("utf-8"),
        "--quiet",
        "--out",
        report.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // reviews' replicas are its versions' in order: #0 v1, #1 v2, #2 v3 (one pod each).
    let csv = std::fs::read_to_string(report.join("replicas.csv")).expect("replicas.csv");
    let mut arrivals = [0u64; 3];
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[1] == "reviews" {
            let replica: usize = cells[2].parse().expect("replica");
            arrivals[replica] += cells[4].parse::<u64>().expect("arrivals");
        }
    }
    let total = arrivals.iter().sum::<u64>() as f64;
    assert!(total > 300.0, "{arrivals:?}");
    // Each call draws v2 with probability 10/100: its share's standard error is
    // sqrt(0.1 x 0.9 / n), 0.013 for n = 500; 4 standard errors allowed. v3 gets nothing.
    let share = arrivals[1] as f64 / total;
    let standard_error = (0.1 * 0.9 / total).sqrt();
    assert!((share - 0.1).abs() < 4.0 * standard_error, "{arrivals:?}");
    assert_eq!(arrivals[2], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
