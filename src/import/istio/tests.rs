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
