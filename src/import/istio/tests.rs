//! The mapping of docs/istio.md, field by field, on objects written here; expected values come
//! from Istio's and Kubernetes' documented semantics (the table), not from a run.

use super::{import, Imported, MeshFile};
use std::path::Path;

/// A small scenario: a front calling reviews, which calls ratings; details unused.
const SCENARIO: &str = r#"# a scenario with comments
[scenario]
name = "t"
duration = "2s"

[policy]
timeout = "1s"   # the global timeout

[[service]]
name = "front"
service_time = "exp(1ms)"
calls = ["reviews", "details"]

[[service]]
name = "reviews"   # the reviews
replicas = 2
workers = 4
service_time = "exp(1ms)"
calls = ["ratings"]

[[service]]
name = "ratings"
service_time = "exp(1ms)"

[[service]]
name = "details"
service_time = "exp(1ms)"

[[workload]]
target = "front"
rate = 10
"#;

fn run(yaml: &str) -> Imported {
    let files = [MeshFile {
        label: "mesh.yaml".into(),
        text: yaml.into(),
    }];
    import(&files, SCENARIO, "t.toml").unwrap_or_else(|errors| panic!("{errors}"))
}

/// The result as a TOML value, after checking it validates as a scenario.
fn valid(imported: &Imported) -> toml::Table {
    if let Err(errors) = crate::scenario::load_str(&imported.text, "out", Path::new("."), &[]) {
        panic!("{errors}\n{}", imported.text);
    }
    imported.text.parse().expect("TOML")
}

fn service<'t>(table: &'t toml::Table, name: &str) -> &'t toml::Table {
    table["service"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(toml::Value::as_table)
        .find(|s| s["name"].as_str() == Some(name))
        .expect("the service")
}

fn policy<'t>(table: &'t toml::Table, name: &str) -> &'t toml::Table {
    service(table, name)["policy"].as_table().expect("a policy")
}

fn warned(imported: &Imported, needle: &str) -> bool {
    imported.warnings.iter().any(|w| w.contains(needle))
}

fn dr(body: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: reviews\n{body}"
    )
}

#[test]
fn simple_load_balancers_map_to_balancers() {
    for (simple, balancer) in [
        ("ROUND_ROBIN", "round_robin"),
        ("LEAST_REQUEST", "p2c"),
        ("LEAST_CONN", "p2c"),
        ("UNSPECIFIED", "p2c"),
        ("RANDOM", "random"),
    ] {
        let out = run(&dr(&format!(
            "  trafficPolicy:\n    loadBalancer:\n      simple: {simple}\n"
        )));
        let table = valid(&out);
        assert_eq!(
            policy(&table, "reviews")["balancer"].as_str(),
            Some(balancer),
            "{simple}"
        );
        assert!(out.text.contains("# DestinationRule r"), "{}", out.text);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      simple: PASSTHROUGH\n",
    ));
    assert!(warned(&out, "mesh.yaml:9:15: DestinationRule r: spec.trafficPolicy.loadBalancer.simple: PASSTHROUGH"), "{:?}", out.warnings);
    assert!(service(&valid(&out), "reviews").get("policy").is_none());
}

#[test]
fn an_unknown_load_balancer_is_an_error_at_its_position() {
    let files = [MeshFile {
        label: "mesh.yaml".into(),
        text: dr("  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n"),
    }];
    let errors = import(&files, SCENARIO, "t.toml").expect_err("unknown balancer");
    let text = errors.to_string();
    assert!(text.starts_with("mesh.yaml:9:15: "), "{text}");
    assert!(text.contains("unknown load balancer \"FASTEST\""), "{text}");
}

#[test]
fn consistent_hashes_map_to_ring_hash_and_maglev_and_their_keys_warn() {
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpHeaderName: x-user\n        ringHash:\n          minimumRingSize: 1024\n",
    ));
    assert_eq!(
        policy(&valid(&out), "reviews")["balancer"].as_str(),
        Some("ring_hash")
    );
    assert!(
        warned(&out, "consistentHash.httpHeaderName: the hash key"),
        "{:?}",
        out.warnings
    );
    assert_eq!(
        out.warnings.len(),
        1,
        "a ring of 1024 is meshsim's: {:?}",
        out.warnings
    );
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n        maglev:\n          tableSize: 65537\n",
    ));
    assert_eq!(
        policy(&valid(&out), "reviews")["balancer"].as_str(),
        Some("maglev")
    );
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: {name: c, ttl: 0s}\n        minimumRingSize: 42\n",
    ));
    assert_eq!(
        policy(&valid(&out), "reviews")["balancer"].as_str(),
        Some("ring_hash")
    );
    assert!(
        warned(
            &out,
            "consistentHash.minimumRingSize: meshsim's ring always has 1024"
        ),
        "{:?}",
        out.warnings
    );
}

#[test]
fn locality_settings_are_read_only_when_disabled() {
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        enabled: false\n",
    ));
    assert_eq!(
        policy(&valid(&out), "reviews")["zone_aware"].as_bool(),
        Some(false)
    );
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        failover:\n        - from: a\n          to: b\n",
    ));
    assert!(
        warned(
            &out,
            "spec.trafficPolicy.loadBalancer.localityLbSetting: locality-weighted failover"
        ),
        "{:?}",
        out.warnings
    );
    assert!(service(&valid(&out), "reviews").get("policy").is_none());
}

#[test]
fn outlier_detection_maps_field_by_field_with_istio_defaults() {
    let out = run(&dr(
        "  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 3\n      interval: 1.5s\n      baseEjectionTime: 1m\n      maxEjectionPercent: 50\n",
    ));
    let table = valid(&out);
    let od = policy(&table, "reviews")["outlier_detection"]
        .as_table()
        .expect("table");
    assert_eq!(od["consecutive_errors"].as_integer(), Some(3));
    assert_eq!(od["interval"].as_str(), Some("1500ms"));
    assert_eq!(od["base_ejection"].as_str(), Some("1m"));
    assert_eq!(od["max_ejection"].as_float(), Some(0.5));
    // Present but empty: Istio's defaults 5, 10s, 30s, 10%.
    let out = run(&dr("  trafficPolicy:\n    outlierDetection: {}\n"));
    let table = valid(&out);
    let od = policy(&table, "reviews")["outlier_detection"]
        .as_table()
        .expect("table");
    assert_eq!(od["consecutive_errors"].as_integer(), Some(5));
    assert_eq!(od["interval"].as_str(), Some("10s"));
    assert_eq!(od["base_ejection"].as_str(), Some("30s"));
    assert_eq!(od["max_ejection"].as_float(), Some(0.1));
    // 0 disables ejection on 5xx.
    let out = run(&dr(
        "  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 0\n      consecutiveGatewayErrors: 2\n      minHealthPercent: 50\n",
    ));
    let table = valid(&out);
    let od = policy(&table, "reviews")["outlier_detection"]
        .as_table()
        .expect("table");
    assert_eq!(od["enforcing"].as_float(), Some(0.0));
    assert!(
        warned(
            &out,
            "outlierDetection.consecutiveGatewayErrors: not modelled"
        ),
        "{:?}",
        out.warnings
    );
    assert!(
        warned(&out, "outlierDetection.minHealthPercent: not modelled"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn connection_pool_maps_its_limits_and_warns_the_rest() {
    let out = run(&dr(
        "  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: 7\n        connectTimeout: 30ms\n      http:\n        http1MaxPendingRequests: 3\n        http2MaxRequests: 100\n        maxRetries: 2\n        maxRequestsPerConnection: 1\n",
    ));
    let table = valid(&out);
    let p = policy(&table, "reviews");
    assert_eq!(p["max_connections"].as_integer(), Some(7));
    assert_eq!(p["max_pending"].as_integer(), Some(3));
    assert_eq!(p["max_requests"].as_integer(), Some(100));
    for field in [
        "tcp.connectTimeout",
        "http.maxRetries",
        "http.maxRequestsPerConnection",
    ] {
        assert!(
            warned(&out, &format!("spec.trafficPolicy.connectionPool.{field}")),
            "{field}: {:?}",
            out.warnings
        );
    }
    // proto3: 0 is "not set", Istio's default (unlimited) stays.
    let out = run(&dr(
        "  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: 0\n",
    ));
    assert!(service(&valid(&out), "reviews").get("policy").is_none());
    let files = [MeshFile {
        label: "mesh.yaml".into(),
        text: dr(
            "  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: many\n",
        ),
    }];
    let errors = import(&files, SCENARIO, "t.toml")
        .expect_err("not a number")
        .to_string();
    assert!(errors.starts_with("mesh.yaml:10:25: DestinationRule r: spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an integer"), "{errors}");
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: v\nspec:\n  hosts:\n  - reviews.default.svc.cluster.local\n  http:\n{http}"
    )
}

#[test]
fn a_route_sets_timeout_and_retries() {
    let out = run(&vs(
        "  - timeout: 0.5s\n    retries:\n      attempts: 3\n      perTryTimeout: 100ms\n      retryOn: gateway-error,connect-failure,refused-stream\n    route:\n    - destination:\n        host: reviews\n",
    ));
    let table = valid(&out);
    let p = policy(&table, "reviews");
    assert_eq!(p["timeout"].as_str(), Some("500ms"));
    let retries = p["retries"].as_table().expect("retries");
    assert_eq!(retries["max"].as_integer(), Some(3));
    assert_eq!(retries["per_try_timeout"].as_str(), Some("100ms"));
    assert_eq!(retries["backoff"].as_str(), Some("25ms"));
    assert_eq!(retries["max_backoff"].as_str(), Some("250ms"));
    let on: Vec<&str> = retries["on"]
        .as_array()
        .expect("on")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(on, ["timeout", "refused", "rejected", "connect_failure"]);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    // The global [policy] is untouched, with its comment.
    assert!(
        out.text.contains("timeout = \"1s\"   # the global timeout"),
        "{}",
        out.text
    );
}

#[test]
fn retry_conditions_map_to_outcomes() {
    for (retry_on, expected) in [
        ("5xx", vec!["timeout", "refused", "error", "rejected"]),
        ("reset", vec!["refused"]),
        ("connect-failure", vec!["connect_failure"]),
        ("refused-stream,503", vec!["rejected"]),
        ("500,502", vec!["error"]),
    ] {
        let out = run(&vs(&format!(
            "  - retries:\n      attempts: 1\n      retryOn: \"{retry_on}\"\n    route:\n    - destination:\n        host: reviews\n"
        )));
        let table = valid(&out);
        let on: Vec<String> = policy(&table, "reviews")["retries"]["on"]
            .as_array()
            .expect("on")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        assert_eq!(on, expected, "{retry_on}");
    }
    let out = run(&vs(
        "  - retries:\n      attempts: 1\n      retryOn: retriable-4xx,unavailable,5xx\n    route:\n    - destination:\n        host: reviews\n",
    ));
    valid(&out);
    assert!(
        warned(
            &out,
            "spec.http[0].retries.retryOn: retriable-4xx, unavailable: not modelled"
        ),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_route_without_retries_gets_istios_default_retry_policy() {
    let out = run(&vs(
        "  - route:\n    - destination:\n        host: reviews\n",
    ));
    let table = valid(&out);
    let retries = policy(&table, "reviews")["retries"]
        .as_table()
        .expect("retries");
    // attempts 2; connect-failure, refused-stream (unavailable and cancelled are gRPC statuses).
    assert_eq!(retries["max"].as_integer(), Some(2));
    let on: Vec<&str> = retries["on"]
        .as_array()
        .expect("on")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(on, ["connect_failure", "rejected"]);
    assert!(
        policy(&table, "reviews").get("timeout").is_none(),
        "Istio's timeout is off by default"
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn only_the_default_route_is_read_and_the_others_warn() {
    let out = run(&vs(
        "  - match:\n    - headers:\n        end-user:\n          exact: jason\n    timeout: 9s\n    route:\n    - destination:\n        host: reviews\n  - timeout: 2s\n    fault:\n      abort:\n        httpStatus: 500\n    route:\n    - destination:\n        host: reviews\n",
    ));
    let table = valid(&out);
    assert_eq!(policy(&table, "reviews")["timeout"].as_str(), Some("2s"));
    assert!(warned(&out, "mesh.yaml:9:5: VirtualService v: spec.http[0]: a route taken only by requests that match"), "{:?}", out.warnings);
    assert!(
        warned(&out, "spec.http[1].fault: fault injection: not modelled"),
        "{:?}",
        out.warnings
    );
    let out = run(&vs(
        "  - timeout: 0s\n    route:\n    - destination:\n        host: reviews\n",
    ));
    assert!(
        warned(&out, "spec.http[0].timeout: 0s (no timeout)"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn hosts_match_services_by_kubernetes_name_and_unknown_hosts_warn() {
    for host in [
        "reviews",
        "reviews.default",
        "reviews.default.svc",
        "reviews.prod.svc.cluster.local",
    ] {
        let out = run(&format!(
            "kind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: {host}\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n"
        ));
        assert_eq!(
            policy(&valid(&out), "reviews")["balancer"].as_str(),
            Some("random"),
            "{host}"
        );
    }
    let out = run("kind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: reveiws\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n");
    assert!(warned(&out, "mesh.yaml:5:9: DestinationRule r: spec.host: \"reveiws\" names no [[service]] of the scenario (did you mean \"reviews\"?)"), "{:?}", out.warnings);
    assert_eq!(out.text, SCENARIO);
    let out = run("kind: DestinationRule\nmetadata:\n  name: r\nspec:\n  host: www.example.com\n");
    assert!(
        warned(&out, "spec.host: \"www.example.com\" names no [[service]]"),
        "{:?}",
        out.warnings
    );
}

fn deployment(name: &str, app: &str, version: &str, replicas: Option<u32>) -> String {
    let replicas = replicas
        .map(|r| format!("  replicas: {r}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n{replicas}  selector:\n    matchLabels:\n      app: {app}\n  template:\n    metadata:\n      labels:\n        app: {app}\n        version: {version}\n    spec:\n      containers:\n      - name: c\n        image: x\n"
    )
}

/// Without a DestinationRule's subsets the version labels name the versions, and several
/// Deployments of one version add up: two of `v1` (2 and 3 pods) are one version of 5, hence
/// the service's replicas, not a `[[service.version]]` (the second used to replace the first:
/// 3); with a `v2` beside them, two versions of 5 and 4.
#[test]
fn deployments_of_one_version_add_up() {
    let two_of_v1 = format!(
        "{}---\n{}",
        deployment("reviews-v1", "reviews", "v1", Some(2)),
        deployment("reviews-v1b", "reviews", "v1", Some(3))
    );
    let out = run(&two_of_v1);
    let table = valid(&out);
    let reviews = service(&table, "reviews");
    assert_eq!(reviews["replicas"].as_integer(), Some(5), "{}", out.text);
    assert!(reviews.get("version").is_none(), "{}", out.text);
    let out = run(&format!(
        "{two_of_v1}---\n{}",
        deployment("reviews-v2", "reviews", "v2", Some(4))
    ));
    let table = valid(&out);
    let versions: Vec<(String, i64)> = service(&table, "reviews")["version"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_string(),
                v["replicas"].as_integer().expect("replicas"),
            )
        })
        .collect();
    assert_eq!(versions, vec![("v1".to_string(), 5), ("v2".to_string(), 4)]);
}

#[test]
fn one_deployment_sets_the_services_replicas() {
    let out = run(&deployment("ratings-v1", "ratings", "v1", Some(5)));
    assert_eq!(
        service(&valid(&out), "ratings")["replicas"].as_integer(),
        Some(5)
    );
    assert!(
        warned(&out, "Deployment ratings-v1: spec.template.spec: the pod"),
        "{:?}",
        out.warnings
    );
    // Kubernetes' default: 1 replica.
    let out = run(&deployment("reviews-v1", "reviews", "v1", None));
    assert_eq!(
        service(&valid(&out), "reviews")["replicas"].as_integer(),
        Some(1)
    );
    assert!(
        out.text.contains("replicas = 1 # Deployment reviews-v1"),
        "{}",
        out.text
    );
}

fn hpa(spec: &str) -> String {
    format!(
        "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: ratings-v1\n{spec}"
    )
}

#[test]
fn an_autoscaler_maps_to_autoscale() {
    let yaml = format!(
        "{}---\n{}",
        deployment("ratings-v1", "ratings", "v1", Some(2)),
        hpa("  minReplicas: 2\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n  - type: Resource\n    resource:\n      name: memory\n      target:\n        type: Utilization\n        averageUtilization: 80\n  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 60\n    scaleUp:\n      stabilizationWindowSeconds: 0\n")
    );
    let out = run(&yaml);
    let table = valid(&out);
    let autoscale = service(&table, "ratings")["autoscale"]
        .as_table()
        .expect("autoscale");
    assert_eq!(autoscale["min"].as_integer(), Some(2));
    assert_eq!(autoscale["max"].as_integer(), Some(10));
    assert_eq!(autoscale["target_utilization"].as_float(), Some(0.6));
    assert_eq!(autoscale["scale_down_stabilization"].as_str(), Some("1m"));
    assert!(
        warned(&out, "spec.metrics[1]: only one CPU Utilization target"),
        "{:?}",
        out.warnings
    );
    assert!(
        warned(&out, "spec.behavior.scaleUp: not modelled"),
        "{:?}",
        out.warnings
    );
    // autoscaling/v1, minReplicas absent (1), target named by the service's name.
    let out = run("apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: h\nspec:\n  scaleTargetRef:\n    kind: Deployment\n    name: ratings\n  maxReplicas: 4\n  targetCPUUtilizationPercentage: 75\n");
    let table = valid(&out);
    let autoscale = service(&table, "ratings")["autoscale"]
        .as_table()
        .expect("autoscale");
    assert_eq!(autoscale["min"].as_integer(), Some(1));
    assert_eq!(autoscale["max"].as_integer(), Some(4));
    assert_eq!(autoscale["target_utilization"].as_float(), Some(0.75));
    let out = run(&format!(
        "{}---\n{}",
        deployment("ratings-v1", "ratings", "v1", None),
        hpa("  maxReplicas: 3\n")
    ));
    assert!(
        warned(
            &out,
            "no CPU Utilization target: the autoscaler is not written"
        ),
        "{:?}",
        out.warnings
    );
}

#[test]
fn lists_and_several_documents_are_read_and_other_kinds_warn() {
    let out = run(
        "apiVersion: v1\nkind: List\nitems:\n- kind: DestinationRule\n  metadata:\n    name: a\n  spec:\n    host: ratings\n    trafficPolicy:\n      loadBalancer:\n        simple: RANDOM\n---\nkind: Service\nmetadata:\n  name: ratings\n---\n",
    );
    let table = valid(&out);
    assert_eq!(
        policy(&table, "ratings")["balancer"].as_str(),
        Some("random")
    );
    assert!(
        warned(&out, "mesh.yaml:13:1: Service ratings: kind: not read"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn bad_yaml_is_an_error_with_its_position() {
    let files = [MeshFile {
        label: "mesh.yaml".into(),
        text: "kind: DestinationRule\nspec:\n  host: [reviews\n".into(),
    }];
    let errors = import(&files, SCENARIO, "t.toml").expect_err("bad YAML");
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].file, "mesh.yaml");
    assert!(errors.0[0].line >= 3, "{errors}");
}

#[test]
fn the_scenario_keeps_its_comments_and_layout() {
    let out = run(&dr(
        "  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n",
    ));
    // Every line of the scenario is in the output, in order; the only new lines are the policy.
    let mut output = out.text.lines();
    for line in SCENARIO.lines() {
        assert!(output.any(|l| l == line), "lost: {line}\n{}", out.text);
    }
    let added: Vec<&str> = out
        .text
        .lines()
        .filter(|l| !SCENARIO.lines().any(|s| s == *l))
        .collect();
    assert_eq!(
        added,
        [
            "[service.policy]",
            "balancer = \"random\" # DestinationRule r"
        ],
        "{}",
        out.text
    );
    // Imported again, the key is replaced, not repeated.
    let again = import(
        &[MeshFile {
            label: "mesh.yaml".into(),
            text: dr("  trafficPolicy:\n    loadBalancer:\n      simple: ROUND_ROBIN\n"),
        }],
        &out.text,
        "t.toml",
    )
    .expect("imports");
    assert_eq!(again.text.matches("balancer").count(), 1, "{}", again.text);
    assert!(again
        .text
        .contains("balancer = \"round_robin\" # DestinationRule r"));
}

const REVIEWS_SUBSETS: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\nspec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      simple: LEAST_REQUEST\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n  - name: v2\n    labels:\n      version: v2\n    trafficPolicy:\n      loadBalancer:\n        simple: ROUND_ROBIN\n  - name: v3\n    labels:\n      version: v3\n";

#[test]
fn subsets_with_pods_become_versions_and_routes_their_weights() {
    let yaml = [
        REVIEWS_SUBSETS.to_string(),
        deployment("reviews-v1", "reviews", "v1", Some(3)),
        deployment("reviews-v2", "reviews", "v2", Some(1)),
        vs("  - route:\n    - destination:\n        host: reviews\n        subset: v1\n      weight: 90\n    - destination:\n        host: reviews\n        subset: v2\n      weight: 10\n"),
    ]
    .join("---\n");
    let out = run(&yaml);
    let table = valid(&out);
    let reviews = service(&table, "reviews");
    let versions = reviews["version"].as_array().expect("versions");
    let names: Vec<&str> = versions
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    // v3 has neither pods nor traffic: warned, not imported.
    assert_eq!(names, ["v1", "v2"]);
    assert_eq!(versions[0]["replicas"].as_integer(), Some(3));
    assert_eq!(versions[1]["replicas"].as_integer(), Some(1));
    assert!(versions[1].get("policy").is_none());
    assert!(
        warned(&out, "mesh.yaml:14:5: DestinationRule reviews, subset v2: trafficPolicy: not modelled for one version of several"),
        "{:?}",
        out.warnings
    );
    assert_eq!(reviews["policy"]["balancer"].as_str(), Some("p2c"));
    let weights = reviews["traffic"]["weights"].as_table().expect("weights");
    assert_eq!(weights["v1"].as_integer(), Some(90));
    assert_eq!(weights["v2"].as_integer(), Some(10));
    assert!(
        warned(
            &out,
            "DestinationRule reviews, subset v3: no Deployment's pods carry its labels"
        ),
        "{:?}",
        out.warnings
    );
}

#[test]
fn without_a_route_versions_have_no_split() {
    let yaml = [
        deployment("reviews-v1", "reviews", "v1", Some(3)),
        deployment("reviews-v2", "reviews", "v2", Some(1)),
    ]
    .join("---\n");
    let out = run(&yaml);
    let table = valid(&out);
    let reviews = service(&table, "reviews");
    let versions = reviews["version"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["replicas"].as_integer(), Some(3));
    // A Kubernetes Service spreads calls over every pod: callers balance over all replicas.
    assert!(reviews.get("traffic").is_none(), "{}", out.text);
}

#[test]
fn one_routed_subset_puts_its_policy_on_the_service() {
    let yaml = [
        REVIEWS_SUBSETS.to_string(),
        deployment("reviews-v2", "reviews", "v2", Some(4)),
        vs("  - route:\n    - destination:\n        host: reviews\n        subset: v2\n"),
    ]
    .join("---\n");
    let out = run(&yaml);
    let table = valid(&out);
    let reviews = service(&table, "reviews");
    assert!(reviews.get("version").is_none(), "{}", out.text);
    assert_eq!(reviews["replicas"].as_integer(), Some(4));
    // The subset's own policy overrides the rule's (Istio: a subset's trafficPolicy wins).
    assert_eq!(reviews["policy"]["balancer"].as_str(), Some("round_robin"));
}

#[test]
fn a_scalar_or_list_where_a_mapping_or_list_belongs_is_an_error() {
    for (yaml, position, message) in [
        (
            dr("  trafficPolicy:\n    loadBalancer: ROUND_ROBIN\n"),
            "mesh.yaml:8:19:",
            "spec.trafficPolicy.loadBalancer: expected a mapping, found a scalar",
        ),
        (
            dr("  subsets: v1\n"),
            "mesh.yaml:7:12:",
            "spec.subsets: expected a list, found a scalar",
        ),
        (
            vs("  - route: reviews\n"),
            "mesh.yaml:9:12:",
            "spec.http[0].route: expected a list, found a scalar",
        ),
    ] {
        let files = [MeshFile {
            label: "mesh.yaml".into(),
            text: yaml,
        }];
        let errors = import(&files, SCENARIO, "t.toml")
            .expect_err("wrong shape")
            .to_string();
        assert!(errors.starts_with(position), "{errors}");
        assert!(errors.contains(message), "{errors}");
    }
}

/// One object per field the mapping's tables mark "not modelled", each written where Istio puts
/// it, with the path its warning must name.
fn not_modelled_fields() -> Vec<(String, &'static str)> {
    let tp = |body: &str| dr(&format!("  trafficPolicy:\n{body}"));
    let lb = |body: &str| tp(&format!("    loadBalancer:\n{body}"));
    let pool = |body: &str| tp(&format!("    connectionPool:\n{body}"));
    let route = "    route:\n    - destination:\n        host: reviews\n";
    let http = |body: &str| vs(&format!("  - {body}{route}"));
    let autoscaler = |spec: &str| {
        let target = deployment("ratings-v1", "ratings", "v1", Some(2));
        format!("{target}---\n{}", hpa(spec))
    };
    vec![
        (
            lb("      simple: PASSTHROUGH\n"),
            "spec.trafficPolicy.loadBalancer.simple",
        ),
        (
            lb("      consistentHash:\n        httpHeaderName: x-user\n"),
            "consistentHash.httpHeaderName",
        ),
        (
            lb("      consistentHash:\n        httpCookie: {name: c, ttl: 0s}\n"),
            "consistentHash.httpCookie",
        ),
        (
            lb("      consistentHash:\n        useSourceIp: true\n"),
            "consistentHash.useSourceIp",
        ),
        (
            lb("      consistentHash:\n        httpQueryParameterName: u\n"),
            "consistentHash.httpQueryParameterName",
        ),
        (
            lb("      consistentHash:\n        ringHash:\n          minimumRingSize: 2048\n"),
            "consistentHash.ringHash.minimumRingSize",
        ),
        (
            lb("      consistentHash:\n        minimumRingSize: 2048\n"),
            "consistentHash.minimumRingSize",
        ),
        (
            lb("      consistentHash:\n        maglev:\n          tableSize: 131\n"),
            "consistentHash.maglev.tableSize",
        ),
        (
            lb("      localityLbSetting:\n        distribute:\n        - from: a/*\n          to:\n            a/*: 100\n"),
            "localityLbSetting: locality-weighted failover (distribute, failover, failoverPriority)",
        ),
        (
            lb("      localityLbSetting:\n        failover:\n        - from: a\n          to: b\n"),
            "localityLbSetting: locality-weighted failover (distribute, failover, failoverPriority)",
        ),
        (
            lb("      localityLbSetting:\n        failoverPriority:\n        - topology.kubernetes.io/region\n"),
            "localityLbSetting: locality-weighted failover (distribute, failover, failoverPriority)",
        ),
        (
            lb("      warmup:\n        duration: 10s\n"),
            "loadBalancer.warmup",
        ),
        (
            lb("      warmupDurationSecs: 10s\n"),
            "loadBalancer.warmupDurationSecs",
        ),
        (
            tp("    outlierDetection:\n      consecutiveGatewayErrors: 2\n"),
            "outlierDetection.consecutiveGatewayErrors",
        ),
        (
            tp("    outlierDetection:\n      consecutiveErrors: 2\n"),
            "outlierDetection.consecutiveErrors",
        ),
        (
            tp("    outlierDetection:\n      minHealthPercent: 50\n"),
            "outlierDetection.minHealthPercent",
        ),
        (
            tp("    outlierDetection:\n      splitExternalLocalOriginErrors: true\n"),
            "outlierDetection.splitExternalLocalOriginErrors",
        ),
        (
            tp("    outlierDetection:\n      consecutiveLocalOriginFailures: 3\n"),
            "outlierDetection.consecutiveLocalOriginFailures",
        ),
        (
            pool("      http:\n        maxRetries: 3\n"),
            "connectionPool.http.maxRetries",
        ),
        (
            pool("      tcp:\n        connectTimeout: 30ms\n"),
            "connectionPool.tcp.connectTimeout",
        ),
        (
            pool("      tcp:\n        idleTimeout: 1h\n"),
            "connectionPool.tcp.idleTimeout",
        ),
        (
            pool("      tcp:\n        tcpKeepalive:\n          time: 7200s\n"),
            "connectionPool.tcp.tcpKeepalive",
        ),
        (
            pool("      tcp:\n        maxConnectionDuration: 1h\n"),
            "connectionPool.tcp.maxConnectionDuration",
        ),
        (
            pool("      http:\n        maxRequestsPerConnection: 1\n"),
            "connectionPool.http.maxRequestsPerConnection",
        ),
        (
            pool("      http:\n        idleTimeout: 1h\n"),
            "connectionPool.http.idleTimeout",
        ),
        (
            pool("      http:\n        h2UpgradePolicy: UPGRADE\n"),
            "connectionPool.http.h2UpgradePolicy",
        ),
        (
            pool("      http:\n        useClientProtocol: true\n"),
            "connectionPool.http.useClientProtocol",
        ),
        (
            pool("      http:\n        maxConcurrentStreams: 100\n"),
            "connectionPool.http.maxConcurrentStreams",
        ),
        (
            tp("    tls:\n      mode: ISTIO_MUTUAL\n"),
            "spec.trafficPolicy.tls",
        ),
        (
            tp("    portLevelSettings:\n    - port:\n        number: 80\n"),
            "spec.trafficPolicy.portLevelSettings",
        ),
        (
            tp("    proxyProtocol:\n      version: V1\n"),
            "spec.trafficPolicy.proxyProtocol",
        ),
        (
            tp("    tunnel:\n      protocol: CONNECT\n      targetHost: h\n      targetPort: 80\n"),
            "spec.trafficPolicy.tunnel",
        ),
        (dr("  exportTo:\n  - .\n"), "spec.exportTo"),
        (
            dr("  workloadSelector:\n    matchLabels:\n      app: front\n"),
            "spec.workloadSelector",
        ),
        (
            vs("  - route:\n    - destination:\n        host: ratings\n"),
            "destination: a route from reviews to another service",
        ),
        (
            vs("  - route:\n    - destination:\n        host: reviews\n        port:\n          number: 9080\n"),
            "destination.port",
        ),
        (
            vs("  - route:\n    - destination:\n        host: reviews\n      headers:\n        request:\n          set:\n            x: y\n"),
            "route[0].headers",
        ),
        (
            vs(&format!("  - match:\n    - uri:\n        prefix: /a\n{route}  - {}", &route[4..])),
            "http[0]: a route taken only by requests that match",
        ),
        (http("fault:\n      abort:\n        httpStatus: 500\n"), "http[0].fault"),
        (
            http("mirror:\n      host: ratings\n"),
            "http[0].mirror",
        ),
        (
            http("mirrors:\n    - destination:\n        host: ratings\n"),
            "http[0].mirrors",
        ),
        (
            http("mirrorPercentage:\n      value: 50\n"),
            "http[0].mirrorPercentage",
        ),
        (http("rewrite:\n      uri: /v2\n"), "http[0].rewrite"),
        (http("redirect:\n      uri: /v2\n"), "http[0].redirect"),
        (
            vs("  - directResponse:\n      status: 503\n"),
            "http[0].directResponse",
        ),
        (
            vs("  - delegate:\n      name: other\n"),
            "http[0].delegate",
        ),
        (
            http("headers:\n      request:\n        set:\n          x: y\n"),
            "http[0].headers",
        ),
        (
            http("corsPolicy:\n      allowOrigins:\n      - exact: a\n"),
            "http[0].corsPolicy",
        ),
        (
            http("retries:\n      attempts: 2\n      retryRemoteLocalities: true\n"),
            "retries.retryRemoteLocalities",
        ),
        (
            http("retries:\n      attempts: 2\n      retryIgnorePreviousHosts: true\n"),
            "retries.retryIgnorePreviousHosts",
        ),
        (
            http("retries:\n      attempts: 2\n      backoff: 100ms\n"),
            "retries.backoff",
        ),
        (
            vs(&format!("  - {}", &route[4..])).replace("  http:\n", "  gateways:\n  - ingress\n  http:\n"),
            "spec.gateways",
        ),
        (
            vs(&format!("  - {}", &route[4..])).replace("  http:\n", "  tcp:\n  - route:\n    - destination:\n        host: reviews\n  http:\n"),
            "spec.tcp",
        ),
        (
            vs(&format!("  - {}", &route[4..])).replace("  http:\n", "  tls:\n  - match:\n    - sniHosts:\n      - a\n  http:\n"),
            "spec.tls",
        ),
        (
            vs(&format!("  - {}", &route[4..])).replace("  http:\n", "  exportTo:\n  - .\n  http:\n"),
            "spec.exportTo",
        ),
        (
            deployment("reviews", "reviews", "v1", Some(2))
                .replace("  selector:\n", "  revisionHistoryLimit: 3\n  selector:\n"),
            "spec.revisionHistoryLimit",
        ),
        (
            deployment("reviews", "reviews", "v1", Some(2))
                .replace("  selector:\n", "  paused: true\n  selector:\n"),
            "spec.paused",
        ),
        (
            autoscaler("  maxReplicas: 4\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n  - type: Resource\n    resource:\n      name: memory\n      target:\n        type: Utilization\n        averageUtilization: 60\n"),
            "spec.metrics[1]",
        ),
        (
            autoscaler("  maxReplicas: 4\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n  behavior:\n    scaleUp:\n      stabilizationWindowSeconds: 0\n"),
            "behavior.scaleUp",
        ),
        (
            autoscaler("  maxReplicas: 4\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n  behavior:\n    scaleDown:\n      policies:\n      - type: Pods\n        value: 1\n        periodSeconds: 60\n"),
            "scaleDown.policies",
        ),
        (
            autoscaler("  maxReplicas: 4\n  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n  behavior:\n    scaleDown:\n      selectPolicy: Min\n"),
            "scaleDown.selectPolicy",
        ),
    ]
}

#[test]
fn every_field_the_mapping_marks_not_modelled_is_warned_at_its_path() {
    for (yaml, path) in not_modelled_fields() {
        let out = run(&yaml);
        assert!(
            out.warnings.iter().any(|w| w.contains(path)),
            "no warning names {path}:\n{yaml}\nwarnings: {:?}",
            out.warnings
        );
        valid(&out);
    }
}

/// The fields in the rows of docs/istio.md's mapping that write no scenario key and say "not
/// modelled": each must be among those the test above writes, so that a row added to the table
/// without a test fails here.
#[test]
fn the_mappings_not_modelled_rows_are_all_tested() {
    let doc = include_str!("../../../docs/istio.md");
    let mapping = doc
        .split("## The mapping")
        .nth(1)
        .expect("a mapping section");
    let tested: Vec<&str> = not_modelled_fields().into_iter().map(|(_, p)| p).collect();
    let mut rows = 0;
    for line in mapping.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        if cells.len() < 3 || cells[1].trim() != "—" || !cells[2].contains("not modelled") {
            continue;
        }
        rows += 1;
        // `mesh` is a value of `spec.gateways`, not a field.
        for field in cells[0]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|f| *f != "mesh")
        {
            let name = field.split(':').next().unwrap_or(field);
            let leaf = name
                .rsplit('.')
                .next()
                .unwrap_or(name)
                .trim_end_matches("[]");
            // A destination's host is warned as the route it makes, not as a field.
            let needle = if field == "destination.host" {
                "another service"
            } else {
                leaf
            };
            assert!(
                tested.iter().any(|p| p.contains(needle)),
                "docs/istio.md marks `{field}` not modelled, but no test writes it ({line})"
            );
        }
    }
    // The DestinationRule, VirtualService, Deployment and HPA tables have 17 such rows today;
    // fewer would mean the parse above lost them.
    assert!(rows >= 15, "{rows} rows found");
}

/// Values past the scenario's limits are errors at the object's field, in the YAML's words
/// (they used to be found in the generated scenario, at a line the user never sees).
#[test]
fn values_past_the_scenarios_limits_are_errors_at_their_field() {
    let cpu = "  metrics:\n  - type: Resource\n    resource:\n      name: cpu\n      target:\n        type: Utilization\n        averageUtilization: 60\n";
    let route = |body: &str| vs(&format!("  - timeout: 1s\n{body}"));
    // Aimed at the scenario's ratings (1 replica), not at a Deployment.
    let hpa = |spec: &str| hpa(spec).replace("name: ratings-v1", "name: ratings");
    for (yaml, position, message) in [
        (
            deployment("reviews-v1", "reviews", "v1", Some(100_001)),
            "mesh.yaml:6:13:",
            "Deployment reviews-v1: spec.replicas: 100001 is more than meshsim's limit of 100000 \
             replicas per service",
        ),
        (
            format!(
                "{}---\n{}",
                deployment("reviews-v1", "reviews", "v1", Some(60_000)),
                deployment("reviews-v2", "reviews", "v1", Some(60_000))
            ),
            "mesh.yaml:25:13:",
            "Deployment reviews-v2: the Deployments of service \"reviews\" have 120000 replicas \
             together up to this one",
        ),
        (
            route("    retries:\n      attempts: 101\n"),
            "mesh.yaml:11:17:",
            "spec.http[0].retries.attempts: 101 is more than meshsim's limit of 100 retries",
        ),
        (
            vs("  - timeout: 20000h\n"),
            "mesh.yaml:9:14:",
            "spec.http[0].timeout: \"20000h\" is too long: at most 10000h",
        ),
        (
            route("    retries:\n      perTryTimeout: 2562047h47m16.854775807s\n"),
            "mesh.yaml:11:22:",
            "spec.http[0].retries.perTryTimeout: \"2562047h47m16.854775807s\" is too long",
        ),
        (
            dr("  trafficPolicy:\n    outlierDetection:\n      interval: 1us\n"),
            "mesh.yaml:9:17:",
            "outlierDetection.interval: at least 1ms, found 1us",
        ),
        (
            dr("  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 1000001\n"),
            "mesh.yaml:9:29:",
            "consecutive5xxErrors: 1000001 is more than meshsim's limit of 1000000",
        ),
        (
            hpa(&format!("  maxReplicas: 10001\n{cpu}")),
            "mesh.yaml:10:16:",
            "HorizontalPodAutoscaler h: spec.maxReplicas: 10001 is more than meshsim's limit of \
             10000 replicas of an autoscaler",
        ),
        (
            hpa(&format!("  minReplicas: 5\n  maxReplicas: 3\n{cpu}")),
            "mesh.yaml:11:16:",
            "HorizontalPodAutoscaler h: spec.maxReplicas (3) is below spec.minReplicas (5)",
        ),
        (
            hpa(&format!("  minReplicas: 3\n  maxReplicas: 6\n{cpu}"))
                .replace("ratings-v1", "ratings"),
            "mesh.yaml:10:16:",
            "HorizontalPodAutoscaler h: spec.minReplicas: 3 is above the 1 replicas service \
             \"ratings\" starts with (the scenario's replicas)",
        ),
    ] {
        let files = [MeshFile {
            label: "mesh.yaml".into(),
            text: yaml,
        }];
        let errors = import(&files, SCENARIO, "t.toml")
            .expect_err("past a limit")
            .to_string();
        assert!(
            errors.starts_with(position),
            "{position} {message}\n{errors}"
        );
        assert!(errors.contains(message), "{message}\n{errors}");
    }
    // Within the limits, and Deployments' replicas within the autoscaler's range, all import.
    let yaml = format!(
        "{}---\n{}",
        deployment("ratings", "ratings", "v1", Some(3)),
        hpa(&format!("  minReplicas: 3\n  maxReplicas: 10000\n{cpu}"))
    );
    valid(&run(&yaml));
}

/// A CPU target the autoscaler cannot take is warned about and the autoscaler is not written,
/// as the warning says (its other keys used to be written without a target, and the scenario
/// was refused at a line of the generated text).
#[test]
fn an_autoscaler_with_a_target_out_of_range_is_not_written() {
    let out = run(&format!(
        "{}---\n{}",
        deployment("ratings-v1", "ratings", "v1", Some(2)),
        hpa("  minReplicas: 2\n  maxReplicas: 4\n  targetCPUUtilizationPercentage: 150\n")
    ));
    assert!(
        service(&valid(&out), "ratings").get("autoscale").is_none(),
        "{}",
        out.text
    );
    assert!(warned(&out, "a CPU target of 150%"), "{:?}", out.warnings);
}
