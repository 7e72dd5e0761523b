//! Kubernetes/Istio objects read into scenario settings, per service, with a warning for every
//! field not modelled.
//!
//! The objects are read kind by kind, whatever their order in the files: DestinationRules (their
//! subsets are the versions Deployments and routes refer to), then Deployments, VirtualServices
//! and HorizontalPodAutoscalers (which name a Deployment). Versions are then decided per service
//! ([`Reader::versions`]).

use std::collections::BTreeMap;

use toml_edit::{Array, InlineTable, Value as TomlValue};

use super::MeshFile;
use crate::import::yaml::{self, Node, Value};
use crate::scenario::duration::{format_ns, parse_duration_unbounded, too_long};
use crate::scenario::limits;
use crate::scenario::{ScenarioError, ScenarioErrors};

/// Envoy's ring size for `ring_hash`, the only one meshsim builds.
const RING_SIZE: u64 = 1024;
/// Envoy's Maglev table size, the only one meshsim builds.
const MAGLEV_TABLE_SIZE: u64 = 65537;
/// Most failures in a row before an ejection (`outlier_detection.consecutive_errors`).
const MAX_CONSECUTIVE_ERRORS: u64 = 1_000_000;
/// Shortest outlier-detection sweep (`outlier_detection.interval`): a timer's period, 1 ms.
const MIN_INTERVAL: u64 = 1_000_000;

/// One scenario key an object sets.
#[derive(Debug, Clone)]
pub(super) struct Setting {
    /// The `[[service]]` it is in.
    pub service: String,
    /// `None`: the service's own table; `Some(v)`: its `[[service.version]]` named `v`.
    pub version: Option<String>,
    /// Keys below that table (`["policy", "balancer"]`).
    pub path: Vec<&'static str>,
    /// The value written.
    pub value: TomlValue,
    /// What set it, for the comment beside it: `DestinationRule reviews`.
    pub origin: String,
}

/// What the files say.
#[derive(Debug, Default)]
pub(super) struct Read {
    /// Keys to set, in the order they are written.
    pub settings: Vec<Setting>,
    /// One line per field not modelled, unknown host or object not read.
    pub warnings: Vec<String>,
}

/// One Kubernetes object: where it is and what it is.
#[derive(Debug, Clone, Copy)]
struct Object<'a> {
    /// Index of its file in the list given.
    file: usize,
    kind: &'a str,
    name: &'a str,
    node: &'a Node,
}

/// A DestinationRule subset: a version of its service.
#[derive(Debug, Clone)]
struct Subset {
    name: String,
    labels: BTreeMap<String, String>,
    /// Policy keys of its own `trafficPolicy`.
    policy: Vec<(&'static str, TomlValue)>,
    origin: String,
    /// Where it is: (file, line, column).
    at: (usize, usize, usize),
}

/// A Deployment of a service.
#[derive(Debug, Clone)]
struct Deployment {
    name: String,
    replicas: u32,
    /// Where its replicas are written (its `spec.replicas`, else the object): (file, line,
    /// column).
    replicas_at: (usize, usize, usize),
    /// The pod template's labels.
    labels: BTreeMap<String, String>,
    origin: String,
    /// Where it is: (file, line, column).
    at: (usize, usize, usize),
}

/// The routes of a VirtualService to one service's subsets.
#[derive(Debug, Clone)]
struct Routes {
    /// (subset, weight) in route order.
    weights: Vec<(String, u32)>,
    origin: String,
    /// Where the route is: (file, line, column).
    at: (usize, usize, usize),
}

/// A version being decided: (name, replicas if a Deployment gives them, its subset's policy
/// keys, what gave the replicas, what gave the policy).
type Version = (
    String,
    Option<u32>,
    Vec<(&'static str, TomlValue)>,
    String,
    String,
);

/// What the objects say about one service.
#[derive(Debug, Clone, Default)]
struct ServiceMesh {
    subsets: Vec<Subset>,
    deployments: Vec<Deployment>,
    routes: Option<Routes>,
    /// An HPA's `[service.autoscale]` keys, and what set them.
    autoscale: Option<(Vec<(&'static str, TomlValue)>, String)>,
}

/// Reads every file; errors (bad YAML, a field of the wrong type, a value past the scenario's
/// limits) are returned all at once. `services` are the scenario's service names; `starting`
/// the replicas each service without versions starts with in the scenario.
pub(super) fn read(
    files: &[MeshFile],
    services: &[String],
    starting: &BTreeMap<String, u64>,
) -> Result<Read, ScenarioErrors> {
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    for (index, file) in files.iter().enumerate() {
        match yaml::parse_stream(&file.text) {
            Ok(nodes) => documents.push((index, nodes)),
            Err(error) => errors.push(ScenarioError {
                file: file.label.clone(),
                line: error.line,
                column: error.column,
                message: error.message,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ScenarioErrors(errors));
    }
    let mut reader = Reader {
        files,
        services,
        starting,
        mesh: BTreeMap::new(),
        settings: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let mut objects = Vec::new();
    for (file, nodes) in &documents {
        for node in nodes {
            reader.collect(*file, node, &mut objects);
        }
    }
    for kind in ["DestinationRule", "Deployment", "VirtualService"] {
        for object in objects.iter().filter(|o| o.kind == kind) {
            match kind {
                "DestinationRule" => reader.destination_rule(object),
                "Deployment" => reader.deployment(object),
                _ => reader.virtual_service(object),
            }
        }
    }
    for object in objects
        .iter()
        .filter(|o| o.kind == "HorizontalPodAutoscaler")
    {
        reader.autoscaler(object);
    }
    reader.versions();
    if !reader.errors.is_empty() {
        return Err(ScenarioErrors(reader.errors));
    }
    reader.warnings.sort_by_key(|(at, _)| *at);
    // A route read for several hosts warns once.
    reader.warnings.dedup_by(|a, b| a.1 == b.1);
    Ok(Read {
        settings: reader.settings,
        warnings: reader.warnings.into_iter().map(|(_, text)| text).collect(),
    })
}

/// The reading in progress.
struct Reader<'a> {
    files: &'a [MeshFile],
    /// The scenario's service names.
    services: &'a [String],
    /// The replicas of the scenario's services without versions.
    starting: &'a BTreeMap<String, u64>,
    mesh: BTreeMap<String, ServiceMesh>,
    settings: Vec<Setting>,
    /// Warnings with (file, line, column) to sort them by.
    warnings: Vec<((usize, usize, usize), String)>,
    errors: Vec<ScenarioError>,
}

/// The mapping entries of a node (none if it is not a mapping).
fn entries(node: &Node) -> &[(Node, Node)] {
    match &node.value {
        Value::Mapping(pairs) => pairs,
        _ => &[],
    }
}

/// The items of a sequence (none if it is not one).
fn items(node: &Node) -> &[Node] {
    match &node.value {
        Value::Sequence(items) => items,
        _ => &[],
    }
}

/// `prefix.key`, or `key` at the top.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl<'a> Reader<'a> {
    // ----- messages -----------------------------------------------------------------------------

    fn warn(&mut self, object: &Object<'_>, node: &Node, path: &str, why: &str) {
        let file = &self.files[object.file].label;
        let text = format!(
            "{file}:{}:{}: {} {}: {path}: {why}",
            node.line, node.column, object.kind, object.name
        );
        self.warnings
            .push(((object.file, node.line, node.column), text));
    }

    /// A warning about what several objects say together, at `at` (file, line, column).
    fn warn_at(&mut self, at: (usize, usize, usize), text: &str) {
        let file = &self.files[at.0].label;
        let text = format!("{file}:{}:{}: {text}", at.1, at.2);
        self.warnings.push((at, text));
    }

    fn error(&mut self, file: usize, node: &Node, message: String) {
        self.errors.push(ScenarioError {
            file: self.files[file].label.clone(),
            line: node.line,
            column: node.column,
            message,
        });
    }

    /// Warns for every key of the mapping `node` (at `path`) not in `read`, with the reason
    /// `notes` gives for it, or "not modelled".
    fn rest(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        path: &str,
        read: &[&str],
        notes: &[(&str, &str)],
    ) {
        if !node.is_null() && !matches!(node.value, Value::Mapping(_)) {
            let shown = if path.is_empty() { "the object" } else { path };
            self.error(
                object.file,
                node,
                format!(
                    "{} {}: {shown}: expected a mapping, found {}",
                    object.kind,
                    object.name,
                    node.kind()
                ),
            );
            return;
        }
        for (key, _) in entries(node) {
            let Some(name) = key.scalar() else { continue };
            if read.contains(&name) {
                continue;
            }
            let why = notes
                .iter()
                .find(|(field, _)| *field == name)
                .map_or("not modelled", |(_, why)| why);
            self.warn(object, key, &join(path, name), why);
        }
    }

    // ----- typed values -----------------------------------------------------------------------

    /// The items of the list under `key` of `parent` (at `path`): none when absent or null, an
    /// error when it is not a list.
    fn list<'n>(
        &mut self,
        object: &Object<'_>,
        parent: &'n Node,
        key: &str,
        path: &str,
    ) -> &'n [Node] {
        match parent.get(key) {
            Some(node) if !node.is_null() && !matches!(node.value, Value::Sequence(_)) => {
                self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {}: expected a list, found {}",
                        object.kind,
                        object.name,
                        join(path, key),
                        node.kind()
                    ),
                );
                &[]
            }
            Some(node) => items(node),
            None => &[],
        }
    }

    /// A non-negative integer at most `max`, or an error at the node.
    fn integer(&mut self, object: &Object<'_>, node: &Node, path: &str, max: u64) -> Option<u64> {
        let parsed = node
            .scalar()
            .and_then(|text| text.trim().parse::<u64>().ok());
        match parsed {
            Some(value) if value <= max => Some(value),
            _ => {
                let found = node.scalar().unwrap_or(node.kind()).to_string();
                self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {path}: expected an integer from 0 to {max}, found {found}",
                        object.kind, object.name
                    ),
                );
                None
            }
        }
    }

    /// A non-negative integer at most `max`, a limit of the scenario's (`what` it limits, for
    /// the message), or an error at the node.
    fn limited(
        &mut self,
        object: &Object<'_>,
        node: &Node,
        path: &str,
        max: u64,
        what: &str,
    ) -> Option<u64> {
        let value = self.integer(object, node, path, u64::MAX)?;
        if value > max {
            self.error(
                object.file,
                node,
                format!(
                    "{} {}: {path}: {value} is more than meshsim's limit of {max} {what}",
                    object.kind, object.name
                ),
            );
            return None;
        }
        Some(value)
    }

    /// A number (a percentage may be fractional), or an error at the node.
    fn number(&mut self, object: &Object<'_>, node: &Node, path: &str) -> Option<f64> {
        let parsed = node
            .scalar()
            .and_then(|text| text.trim().parse::<f64>().ok());
        match parsed {
            Some(value) if value.is_finite() && value >= 0.0 => Some(value),
            _ => {
                let found = node.scalar().unwrap_or(node.kind()).to_string();
                self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {path}: expected a non-negative number, found {found}",
                        object.kind, object.name
                    ),
                );
                None
            }
        }
    }

    /// A duration (`"10s"`, `"1.5s"`, `"100ms"`, `"1m"`, Go's units) in nanoseconds, or an error.
    fn duration(&mut self, object: &Object<'_>, node: &Node, path: &str) -> Option<u64> {
        let text = node.scalar().map(|t| t.trim().replace('µ', "u"));
        match text.as_deref().map(parse_duration_unbounded) {
            Some(Ok(ns)) => match u64::try_from(ns) {
                Ok(ns) if ns <= limits::MAX_DURATION => Some(ns),
                _ => {
                    let message = too_long(&format!("\"{}\"", text.unwrap_or_default()));
                    self.error(
                        object.file,
                        node,
                        format!("{} {}: {path}: {message}", object.kind, object.name),
                    );
                    None
                }
            },
            _ => {
                let found = node.scalar().unwrap_or(node.kind()).to_string();
                self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {path}: expected a duration like \"10s\", \"1.5s\" or \"100ms\", \
                         found {found}",
                        object.kind, object.name
                    ),
                );
                None
            }
        }
    }

    /// A string, or an error at the node.
    fn string(&mut self, object: &Object<'_>, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => Some(text.clone()),
            _ => {
                self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {path}: expected a string, found {}",
                        object.kind,
                        object.name,
                        node.kind()
                    ),
                );
                None
            }
        }
    }

    /// A mapping of string labels.
    fn labels(&mut self, object: &Object<'_>, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::new();
        for (key, value) in entries(node) {
            let key_text = key.scalar().unwrap_or_default().to_string();
            if let Some(value) = self.string(object, value, &join(path, &key_text)) {
                labels.insert(key_text, value);
            }
        }
        labels
    }

    // ----- objects ------------------------------------------------------------------------------

    /// Adds the objects of one YAML document (a `kind: List`'s items each).
    fn collect(&mut self, file: usize, node: &'a Node, objects: &mut Vec<Object<'a>>) {
        if node.is_null() {
            return;
        }
        if !matches!(node.value, Value::Mapping(_)) {
            self.error(
                file,
                node,
                format!(
                    "a Kubernetes object must be a mapping (apiVersion, kind, metadata, spec), \
                     found {}",
                    node.kind()
                ),
            );
            return;
        }
        let kind = node.get("kind").and_then(Node::scalar).unwrap_or_default();
        let name = node
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::scalar)
            .unwrap_or("(no name)");
        let object = Object {
            file,
            kind,
            name,
            node,
        };
        if kind == "List" || (kind.ends_with("List") && node.get("items").is_some()) {
            for item in items(node.get("items").unwrap_or(node)) {
                self.collect(file, item, objects);
            }
            return;
        }
        match kind {
            "DestinationRule" | "VirtualService" | "Deployment" | "HorizontalPodAutoscaler" => {
                objects.push(object)
            }
            "" => self.warn(&object, node, "kind", "no kind: not read"),
            _ => self.warn(
                &object,
                node,
                "kind",
                "not read (meshsim reads DestinationRule, VirtualService, Deployment and \
                 HorizontalPodAutoscaler)",
            ),
        }
    }

    /// The scenario service a host names: the service of that exact name, else the first label
    /// of a Kubernetes name (`reviews`, `reviews.default`, `reviews.default.svc`,
    /// `reviews.default.svc.cluster.local`). `None`, with a warning, when no service matches.
    fn service_of(&mut self, object: &Object<'_>, node: &Node, path: &str) -> Option<String> {
        let host = node.scalar()?.trim();
        if self.services.iter().any(|s| s == host) {
            return Some(host.to_string());
        }
        let labels: Vec<&str> = host.split('.').collect();
        let kubernetes_name =
            labels.len() <= 3 && !host.contains('*') || host.ends_with(".svc.cluster.local");
        if kubernetes_name && self.services.iter().any(|s| s == labels[0]) {
            return Some(labels[0].to_string());
        }
        let hint = self
            .services
            .iter()
            .min_by_key(|s| strsim::levenshtein(s, labels[0]))
            .filter(|s| strsim::levenshtein(s, labels[0]) <= 2)
            .map(|s| format!(" (did you mean \"{s}\"?)"))
            .unwrap_or_default();
        self.warn(
            object,
            node,
            path,
            &format!("\"{host}\" names no [[service]] of the scenario{hint}: ignored"),
        );
        None
    }

    fn mesh(&mut self, service: &str) -> &mut ServiceMesh {
        self.mesh.entry(service.to_string()).or_default()
    }

    fn set(
        &mut self,
        service: &str,
        version: Option<&str>,
        path: Vec<&'static str>,
        value: TomlValue,
        origin: &str,
    ) {
        self.settings.push(Setting {
            service: service.to_string(),
            version: version.map(str::to_string),
            path,
            value,
            origin: origin.to_string(),
        });
    }

    /// `metadata`, `apiVersion`, `kind` identify the object; `status` is not configuration.
    /// Every other top-level key but `spec` is warned.
    fn top_level(&mut self, object: &Object<'a>) -> Option<&'a Node> {
        let node: &'a Node = object.node;
        self.rest(
            object,
            node,
            "",
            &["apiVersion", "kind", "metadata", "spec", "status"],
            &[],
        );
        let spec = node.get("spec");
        if spec.is_none() {
            self.warn(object, node, "spec", "no spec: nothing to read");
        }
        spec
    }

    // ----- DestinationRule ------------------------------------------------------------------

    fn destination_rule(&mut self, object: &Object<'a>) {
        let Some(spec) = self.top_level(object) else {
            return;
        };
        let origin = format!("DestinationRule {}", object.name);
        self.rest(
            object,
            spec,
            "spec",
            &["host", "trafficPolicy", "subsets"],
            &[
                (
                    "exportTo",
                    "visibility: not modelled (every caller sees every rule)",
                ),
                (
                    "workloadSelector",
                    "not modelled (the rule applies to every caller)",
                ),
            ],
        );
        let Some(host) = spec.get("host") else {
            self.warn(object, spec, "spec.host", "no host: the rule is ignored");
            return;
        };
        let Some(service) = self.service_of(object, host, "spec.host") else {
            return;
        };
        if let Some(policy) = spec.get("trafficPolicy") {
            for (key, value) in self.traffic_policy(object, policy, "spec.trafficPolicy") {
                self.set(&service, None, vec!["policy", key], value, &origin);
            }
        }
        let mut subsets = Vec::new();
        for (index, subset) in self
            .list(object, spec, "subsets", "spec")
            .iter()
            .enumerate()
        {
            let path = format!("spec.subsets[{index}]");
            self.rest(
                object,
                subset,
                &path,
                &["name", "labels", "trafficPolicy"],
                &[],
            );
            let Some(name) = subset
                .get("name")
                .and_then(|n| self.string(object, n, &join(&path, "name")))
            else {
                continue;
            };
            let labels = subset
                .get("labels")
                .map(|l| self.labels(object, l, &join(&path, "labels")))
                .unwrap_or_default();
            let policy = subset
                .get("trafficPolicy")
                .map(|p| self.traffic_policy(object, p, &join(&path, "trafficPolicy")))
                .unwrap_or_default();
            subsets.push(Subset {
                name,
                labels,
                policy,
                origin: format!(
                    "{origin}, subset {}",
                    subset
                        .get("name")
                        .and_then(Node::scalar)
                        .unwrap_or_default()
                ),
                at: (object.file, subset.line, subset.column),
            });
        }
        if !subsets.is_empty() {
            self.mesh(&service).subsets = subsets;
        }
    }

    /// The policy keys of a `trafficPolicy` (DR level or a subset's).
    fn traffic_policy(
        &mut self,
        object: &Object<'_>,
        policy: &Node,
        path: &str,
    ) -> Vec<(&'static str, TomlValue)> {
        let mut keys = Vec::new();
        self.rest(
            object,
            policy,
            path,
            &["loadBalancer", "connectionPool", "outlierDetection"],
            &[
                ("tls", "not modelled (mutual TLS costs no time in meshsim)"),
                (
                    "portLevelSettings",
                    "not modelled (meshsim services have one port)",
                ),
                ("proxyProtocol", "not modelled"),
                ("tunnel", "not modelled"),
                (
                    "retryBudget",
                    "not modelled here (a policy's retries.budget is Finagle's)",
                ),
            ],
        );
        if let Some(lb) = policy.get("loadBalancer") {
            self.load_balancer(object, lb, &join(path, "loadBalancer"), &mut keys);
        }
        if let Some(pool) = policy.get("connectionPool") {
            self.connection_pool(object, pool, &join(path, "connectionPool"), &mut keys);
        }
        if let Some(od) = policy.get("outlierDetection") {
            self.outlier_detection(object, od, &join(path, "outlierDetection"), &mut keys);
        }
        keys
    }

    fn load_balancer(
        &mut self,
        object: &Object<'_>,
        lb: &Node,
        path: &str,
        keys: &mut Vec<(&'static str, TomlValue)>,
    ) {
        self.rest(
            object,
            lb,
            path,
            &["simple", "consistentHash", "localityLbSetting"],
            &[
                (
                    "warmupDurationSecs",
                    "slow start: not modelled (new replicas get their full share at once)",
                ),
                (
                    "warmup",
                    "slow start: not modelled (new replicas get their full share at once)",
                ),
            ],
        );
        if let Some(simple) = lb.get("simple") {
            let name = simple.scalar().unwrap_or_default();
            let balancer = match name {
                "ROUND_ROBIN" => Some("round_robin"),
                // Envoy's LEAST_REQUEST is the better of two random choices by active requests.
                "LEAST_REQUEST" | "LEAST_CONN" | "UNSPECIFIED" => Some("p2c"),
                "RANDOM" => Some("random"),
                "PASSTHROUGH" => {
                    self.warn(
                        object,
                        simple,
                        &join(path, "simple"),
                        "PASSTHROUGH (the caller's own destination address): not modelled, the \
                         scenario's balancer is kept",
                    );
                    None
                }
                _ => {
                    self.error(
                        object.file,
                        simple,
                        format!(
                            "{} {}: {path}.simple: unknown load balancer \"{name}\" (Istio's are \
                             UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, \
                             LEAST_REQUEST)",
                            object.kind, object.name
                        ),
                    );
                    None
                }
            };
            if let Some(balancer) = balancer {
                keys.push(("balancer", balancer.into()));
            }
        }
        if let Some(hash) = lb.get("consistentHash") {
            let hash_path = join(path, "consistentHash");
            let key_note = "the hash key: meshsim hashes each request's user key (the \
                            workload's key_space), whatever the key's source";
            self.rest(
                object,
                hash,
                &hash_path,
                &["ringHash", "maglev", "minimumRingSize"],
                &[
                    ("httpHeaderName", key_note),
                    ("httpCookie", key_note),
                    ("useSourceIp", key_note),
                    ("httpQueryParameterName", key_note),
                ],
            );
            let mut balancer = "ring_hash";
            let ring_size = hash
                .get("ringHash")
                .and_then(|r| {
                    r.get("minimumRingSize")
                        .map(|n| (n, "ringHash.minimumRingSize"))
                })
                .or_else(|| hash.get("minimumRingSize").map(|n| (n, "minimumRingSize")));
            if let Some(ring) = hash.get("ringHash") {
                self.rest(
                    object,
                    ring,
                    &join(&hash_path, "ringHash"),
                    &["minimumRingSize"],
                    &[],
                );
            }
            if let Some((node, field)) = ring_size {
                let field_path = join(&hash_path, field);
                if let Some(size) = self.integer(object, node, &field_path, u64::MAX) {
                    if size != RING_SIZE {
                        self.warn(
                            object,
                            node,
                            &field_path,
                            &format!(
                                "meshsim's ring always has {RING_SIZE} points (Envoy's default)"
                            ),
                        );
                    }
                }
            }
            if let Some(maglev) = hash.get("maglev") {
                balancer = "maglev";
                let maglev_path = join(&hash_path, "maglev");
                self.rest(object, maglev, &maglev_path, &["tableSize"], &[]);
                if let Some(node) = maglev.get("tableSize") {
                    let field_path = join(&maglev_path, "tableSize");
                    if let Some(size) = self.integer(object, node, &field_path, u64::MAX) {
                        if size != MAGLEV_TABLE_SIZE {
                            self.warn(
                                object,
                                node,
                                &field_path,
                                &format!(
                                    "meshsim's Maglev table always has {MAGLEV_TABLE_SIZE} \
                                     entries (Envoy's default)"
                                ),
                            );
                        }
                    }
                }
            }
            keys.push(("balancer", balancer.into()));
        }
        if let Some(locality) = lb.get("localityLbSetting") {
            let locality_path = join(path, "localityLbSetting");
            let disabled = locality
                .get("enabled")
                .and_then(Node::scalar)
                .is_some_and(|e| e == "false");
            if disabled {
                // No locality preference: meshsim's balancers without zone_aware.
                keys.push(("zone_aware", false.into()));
                self.rest(object, locality, &locality_path, &["enabled"], &[]);
            } else {
                self.warn(
                    object,
                    locality,
                    &locality_path,
                    "locality-weighted failover (distribute, failover, failoverPriority): not \
                     modelled; meshsim's zone_aware is Envoy's zone-aware routing, a different \
                     rule, so the scenario's setting is kept",
                );
            }
        }
    }

    fn connection_pool(
        &mut self,
        object: &Object<'_>,
        pool: &Node,
        path: &str,
        keys: &mut Vec<(&'static str, TomlValue)>,
    ) {
        self.rest(object, pool, path, &["tcp", "http"], &[]);
        // proto3 integers: 0 is "not set", and Istio keeps Envoy's default (unlimited).
        let limit = |reader: &mut Self, node: &Node, field: String| -> Option<i64> {
            reader
                .integer(object, node, &field, u64::from(u32::MAX))
                .filter(|&n| n > 0)
                .and_then(|n| i64::try_from(n).ok())
        };
        if let Some(tcp) = pool.get("tcp") {
            let tcp_path = join(path, "tcp");
            self.rest(
                object,
                tcp,
                &tcp_path,
                &["maxConnections"],
                &[
                    ("connectTimeout", "not modelled (connections open at once)"),
                    ("tcpKeepalive", "not modelled"),
                    (
                        "idleTimeout",
                        "not modelled (connections are not modelled as objects)",
                    ),
                    ("maxConnectionDuration", "not modelled"),
                ],
            );
            if let Some(node) = tcp.get("maxConnections") {
                if let Some(n) = limit(self, node, join(&tcp_path, "maxConnections")) {
                    keys.push(("max_connections", n.into()));
                }
            }
        }
        if let Some(http) = pool.get("http") {
            let http_path = join(path, "http");
            self.rest(
                object,
                http,
                &http_path,
                &["http1MaxPendingRequests", "http2MaxRequests"],
                &[
                    (
                        "maxRetries",
                        "Envoy's cap on outstanding retries: not modelled (meshsim's retry \
                         limit is a policy's retries.budget)",
                    ),
                    (
                        "maxRequestsPerConnection",
                        "not modelled (one request per connection)",
                    ),
                    ("idleTimeout", "not modelled"),
                    ("h2UpgradePolicy", "not modelled"),
                    ("useClientProtocol", "not modelled"),
                    ("maxConcurrentStreams", "not modelled"),
                ],
            );
            if let Some(node) = http.get("http1MaxPendingRequests") {
                if let Some(n) = limit(self, node, join(&http_path, "http1MaxPendingRequests")) {
                    keys.push(("max_pending", n.into()));
                }
            }
            if let Some(node) = http.get("http2MaxRequests") {
                if let Some(n) = limit(self, node, join(&http_path, "http2MaxRequests")) {
                    keys.push(("max_requests", n.into()));
                }
            }
        }
    }

    fn outlier_detection(
        &mut self,
        object: &Object<'_>,
        od: &Node,
        path: &str,
        keys: &mut Vec<(&'static str, TomlValue)>,
    ) {
        self.rest(
            object,
            od,
            path,
            &[
                "consecutive5xxErrors",
                "interval",
                "baseEjectionTime",
                "maxEjectionPercent",
            ],
            &[
                (
                    "consecutiveGatewayErrors",
                    "not modelled (meshsim counts every failed try, as consecutive5xxErrors does)",
                ),
                (
                    "consecutiveErrors",
                    "deprecated (gateway errors): not modelled",
                ),
                (
                    "minHealthPercent",
                    "not modelled (ejection is never suspended)",
                ),
                (
                    "splitExternalLocalOriginErrors",
                    "not modelled (every failure counts)",
                ),
                (
                    "consecutiveLocalOriginFailures",
                    "not modelled (every failure counts)",
                ),
            ],
        );
        // Istio's defaults when outlierDetection is present (bridge: 5, 10s, 30s, 10%).
        let mut consecutive = 5;
        let mut interval = 10_000_000_000;
        let mut base_ejection = 30_000_000_000;
        let mut max_percent = 10.0;
        if let Some(node) = od.get("consecutive5xxErrors") {
            if let Some(n) = self.limited(
                object,
                node,
                &join(path, "consecutive5xxErrors"),
                MAX_CONSECUTIVE_ERRORS,
                "failures in a row",
            ) {
                consecutive = n;
            }
        }
        if let Some(node) = od.get("interval") {
            let field = join(path, "interval");
            match self.duration(object, node, &field) {
                // Istio refuses an interval under 1 ms as well.
                Some(ns) if ns < MIN_INTERVAL => self.error(
                    object.file,
                    node,
                    format!(
                        "{} {}: {field}: at least 1ms, found {}: it is a period (a timer that \
                         fires once a period for every caller), and a shorter one only \
                         multiplies the run's events",
                        object.kind,
                        object.name,
                        node.scalar().unwrap_or_default()
                    ),
                ),
                Some(ns) => interval = ns,
                None => {}
            }
        }
        if let Some(node) = od.get("baseEjectionTime") {
            base_ejection = self
                .duration(object, node, &join(path, "baseEjectionTime"))
                .unwrap_or(base_ejection);
        }
        if let Some(node) = od.get("maxEjectionPercent") {
            let field = join(path, "maxEjectionPercent");
            if let Some(p) = self.number(object, node, &field) {
                if p > 100.0 {
                    self.error(
                        object.file,
                        node,
                        format!(
                            "{} {}: {field}: a percentage, at most 100, found {p}",
                            object.kind, object.name
                        ),
                    );
                } else {
                    max_percent = p;
                }
            }
        }
        let mut table = InlineTable::new();
        if consecutive == 0 {
            // 0 disables 5xx ejection: detection without ejecting.
            table.insert("enforcing", 0.0.into());
        } else {
            table.insert(
                "consecutive_errors",
                i64::try_from(consecutive).unwrap_or(i64::MAX).into(),
            );
            table.insert("interval", format_ns(interval.max(1)).into());
            table.insert("base_ejection", format_ns(base_ejection.max(1)).into());
            table.insert("max_ejection", (max_percent / 100.0).into());
        }
        keys.push(("outlier_detection", TomlValue::InlineTable(table)));
    }

    // ----- Deployment -------------------------------------------------------------------------

    fn deployment(&mut self, object: &Object<'a>) {
        let Some(spec) = self.top_level(object) else {
            return;
        };
        let strategy_note = "a rolling update is a [[deployment]] event in meshsim: not read";
        self.rest(
            object,
            spec,
            "spec",
            &["replicas", "selector", "template"],
            &[
                ("strategy", strategy_note),
                ("minReadySeconds", strategy_note),
                ("progressDeadlineSeconds", strategy_note),
                ("revisionHistoryLimit", "not modelled"),
                ("paused", "not modelled"),
            ],
        );
        let labels = spec
            .get("template")
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .map(|l| self.labels(object, l, "spec.template.metadata.labels"))
            .unwrap_or_default();
        if let Some(template) = spec.get("template") {
            self.rest(
                object,
                template,
                "spec.template",
                &["metadata"],
                &[(
                    "spec",
                    "the pod (containers, resources, probes): not modelled; a replica's \
                     capacity is the service's workers and service_time",
                )],
            );
        }
        // Kubernetes' recommended `app` label, else the Deployment's name.
        let app = labels
            .get("app")
            .or_else(|| labels.get("app.kubernetes.io/name"))
            .cloned();
        let service = match &app {
            Some(app) if self.services.contains(app) => Some(app.clone()),
            _ => {
                let name_node = object
                    .node
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .unwrap_or(object.node);
                let host = Node {
                    value: Value::Scalar {
                        text: app.unwrap_or_else(|| object.name.to_string()),
                        plain: true,
                    },
                    line: name_node.line,
                    column: name_node.column,
                };
                self.service_of(object, &host, "spec.template.metadata.labels.app")
            }
        };
        let Some(service) = service else { return };
        let replicas = match spec.get("replicas") {
            Some(node) => self
                .limited(
                    object,
                    node,
                    "spec.replicas",
                    limits::MAX_REPLICAS_PER_SERVICE,
                    "replicas per service",
                )
                .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            None => 1, // Kubernetes' default
        };
        let replicas_node = spec.get("replicas").unwrap_or(object.node);
        let deployment = Deployment {
            name: object.name.to_string(),
            replicas,
            replicas_at: (object.file, replicas_node.line, replicas_node.column),
            labels,
            origin: format!("Deployment {}", object.name),
            at: (object.file, object.node.line, object.node.column),
        };
        self.mesh(&service).deployments.push(deployment);
    }

    // ----- VirtualService ---------------------------------------------------------------------

    fn virtual_service(&mut self, object: &Object<'a>) {
        let Some(spec) = self.top_level(object) else {
            return;
        };
        let origin = format!("VirtualService {}", object.name);
        self.rest(
            object,
            spec,
            "spec",
            &["hosts", "http", "gateways"],
            &[
                ("tcp", "TCP routes: not modelled"),
                ("tls", "TLS routes: not modelled"),
                (
                    "exportTo",
                    "visibility: not modelled (every caller sees every route)",
                ),
            ],
        );
        let gateways = self.list(object, spec, "gateways", "spec");
        for (index, gateway) in gateways.iter().enumerate() {
            if gateway.scalar() != Some("mesh") {
                self.warn(
                    object,
                    gateway,
                    &format!("spec.gateways[{index}]"),
                    "routes at a gateway: not modelled apart (the routes are applied to every \
                     caller of the host)",
                );
            }
        }
        let mut services = Vec::new();
        for (index, host) in self.list(object, spec, "hosts", "spec").iter().enumerate() {
            if let Some(service) = self.service_of(object, host, &format!("spec.hosts[{index}]")) {
                if !services.contains(&service) {
                    services.push(service);
                }
            }
        }
        let routes = self.list(object, spec, "http", "spec");
        // The route a request without special headers or paths takes: the first without
        // `match`; if every route has one, the first, its conditions ignored.
        let chosen = routes
            .iter()
            .position(|r| r.get("match").is_none())
            .or(if routes.is_empty() { None } else { Some(0) });
        for (index, route) in routes.iter().enumerate() {
            let path = format!("spec.http[{index}]");
            if Some(index) != chosen {
                self.warn(
                    object,
                    route,
                    &path,
                    "a route taken only by requests that match its conditions: not modelled \
                     (meshsim's requests carry no headers or paths; the default route is read)",
                );
                continue;
            }
            if let Some(condition) = route.get("match") {
                self.warn(
                    object,
                    condition,
                    &join(&path, "match"),
                    "match conditions: not modelled (every route has one; the first is read \
                     as if every request matched it)",
                );
            }
            for (host_index, service) in services.iter().enumerate() {
                self.http_route(object, route, &path, service, &origin, host_index == 0);
            }
        }
    }

    fn http_route(
        &mut self,
        object: &Object<'_>,
        route: &Node,
        path: &str,
        service: &str,
        origin: &str,
        first_host: bool,
    ) {
        let fault_note =
            "fault injection: not modelled (use a [[fault]] of kind errors or latency)";
        // Warn once per route, not once per host.
        if first_host {
            {
                self.rest(
                    object,
                    route,
                    path,
                    &["route", "timeout", "retries", "match", "name"],
                    &[
                        ("fault", fault_note),
                        ("mirror", "mirroring: not modelled"),
                        ("mirrorPercentage", "mirroring: not modelled"),
                        ("mirrors", "mirroring: not modelled"),
                        ("rewrite", "not modelled"),
                        ("redirect", "not modelled"),
                        ("directResponse", "not modelled"),
                        ("delegate", "delegated routes: not modelled"),
                        ("headers", "not modelled"),
                        ("corsPolicy", "not modelled"),
                    ],
                );
            }
        }
        if let Some(node) = route.get("timeout") {
            if let Some(ns) = self.duration(object, node, &join(path, "timeout")) {
                if ns == 0 {
                    // Istio: 0s disables the timeout; meshsim needs one so every call ends.
                    self.warn(
                        object,
                        node,
                        &join(path, "timeout"),
                        "0s (no timeout): meshsim needs a timeout, the scenario's is kept",
                    );
                } else {
                    self.set(
                        service,
                        None,
                        vec!["policy", "timeout"],
                        format_ns(ns).into(),
                        origin,
                    );
                }
            }
        }
        let retries = self.retries(object, route.get("retries"), &join(path, "retries"));
        self.set(
            service,
            None,
            vec!["policy", "retries"],
            TomlValue::InlineTable(retries),
            origin,
        );
        let mut weights = Vec::new();
        let destinations = self.list(object, route, "route", path);
        for (index, destination) in destinations.iter().enumerate() {
            let destination_path = format!("{path}.route[{index}]");
            self.rest(
                object,
                destination,
                &destination_path,
                &["destination", "weight"],
                &[("headers", "not modelled")],
            );
            let Some(target) = destination.get("destination") else {
                continue;
            };
            let target_path = join(&destination_path, "destination");
            self.rest(
                object,
                target,
                &target_path,
                &["host", "subset"],
                &[("port", "not modelled (one port per service)")],
            );
            let target_service = target
                .get("host")
                .and_then(|h| self.service_of(object, h, &join(&target_path, "host")));
            if target_service.as_deref() != Some(service) {
                if target_service.is_some() {
                    self.warn(
                        object,
                        target,
                        &target_path,
                        &format!("a route from {service} to another service: not modelled"),
                    );
                }
                continue;
            }
            // A single destination gets everything; several share by weight (absent = 0).
            let weight = match destination.get("weight") {
                Some(node) => self
                    .integer(object, node, &join(&destination_path, "weight"), 100_000)
                    .map_or(0, |w| u32::try_from(w).unwrap_or(0)),
                None if destinations.len() == 1 => 100,
                None => 0,
            };
            match target.get("subset").and_then(Node::scalar) {
                Some(subset) => weights.push((subset.to_string(), weight)),
                None if destinations.len() > 1 => self.warn(
                    object,
                    target,
                    &target_path,
                    "a weighted destination without a subset: not modelled (only the split \
                     between subsets is)",
                ),
                None => {}
            }
        }
        if !weights.is_empty() {
            self.mesh(service).routes = Some(Routes {
                weights,
                origin: origin.to_string(),
                at: (object.file, route.line, route.column),
            });
        }
    }

    /// A route's `retries` as a policy's `retries` table; absent, Istio's default retry policy
    /// (2 attempts on connect-failure, refused-stream, unavailable, cancelled).
    fn retries(&mut self, object: &Object<'_>, retries: Option<&Node>, path: &str) -> InlineTable {
        let mut attempts = 2;
        let mut per_try_timeout = None;
        let mut retry_on = "connect-failure,refused-stream,unavailable,cancelled".to_string();
        let mut on_node = None;
        if let Some(node) = retries {
            self.rest(
                object,
                node,
                path,
                &["attempts", "perTryTimeout", "retryOn"],
                &[
                    ("retryRemoteLocalities", "not modelled"),
                    (
                        "retryIgnorePreviousHosts",
                        "not modelled (a retry may go to the same replica)",
                    ),
                    ("backoff", "not modelled here: Envoy's 25ms base is written"),
                ],
            );
            if let Some(n) = node.get("attempts") {
                attempts = self
                    .limited(
                        object,
                        n,
                        &join(path, "attempts"),
                        limits::MAX_RETRIES,
                        "retries per call",
                    )
                    .unwrap_or(attempts);
            }
            if let Some(n) = node.get("perTryTimeout") {
                if let Some(ns) = self.duration(object, n, &join(path, "perTryTimeout")) {
                    if ns > 0 {
                        per_try_timeout = Some(format_ns(ns));
                    }
                }
            }
            if let Some(n) = node.get("retryOn") {
                if let Some(text) = self.string(object, n, &join(path, "retryOn")) {
                    retry_on = text;
                    on_node = Some(n);
                }
            }
        }
        let mut table = InlineTable::new();
        table.insert("max", i64::try_from(attempts).unwrap_or(i64::MAX).into());
        if let Some(per_try_timeout) = per_try_timeout {
            table.insert("per_try_timeout", per_try_timeout.into());
        }
        let mut outcomes: Vec<&'static str> = Vec::new();
        let mut not_modelled: Vec<String> = Vec::new();
        for condition in retry_on.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let mapped: &[&'static str] = match condition {
                "5xx" => &["timeout", "refused", "error", "rejected"],
                "gateway-error" => &["timeout", "refused", "rejected"],
                "reset" => &["refused"],
                "connect-failure" => &["connect_failure"],
                "refused-stream" | "503" => &["rejected"],
                code if code.len() == 3 && code.starts_with('5') && code.parse::<u16>().is_ok() => {
                    &["error"]
                }
                // gRPC statuses are only in gRPC responses: meshsim's calls have none.
                "cancelled" | "unavailable" | "deadline-exceeded" | "internal"
                | "resource-exhausted"
                    if on_node.is_none() =>
                {
                    &[]
                }
                other => {
                    not_modelled.push(other.to_string());
                    &[]
                }
            };
            for outcome in mapped {
                if !outcomes.contains(outcome) {
                    outcomes.push(outcome);
                }
            }
        }
        if let (Some(node), false) = (on_node, not_modelled.is_empty()) {
            self.warn(
                object,
                node,
                &join(path, "retryOn"),
                &format!(
                    "{}: not modelled (meshsim's outcomes are timeout, refused, connect_failure, \
                     error and rejected; gRPC statuses and 4xx codes have no counterpart)",
                    not_modelled.join(", ")
                ),
            );
        }
        // Envoy's backoff (not configurable in Istio): 25 ms base, 10 x base cap, full jitter.
        table.insert("backoff", "25ms".into());
        table.insert("max_backoff", "250ms".into());
        table.insert("jitter", "full".into());
        let mut on = Array::new();
        for outcome in outcomes {
            on.push(outcome);
        }
        table.insert("on", TomlValue::Array(on));
        table
    }

    // ----- HorizontalPodAutoscaler ------------------------------------------------------------

    fn autoscaler(&mut self, object: &Object<'a>) {
        let Some(spec) = self.top_level(object) else {
            return;
        };
        let origin = format!("HorizontalPodAutoscaler {}", object.name);
        self.rest(
            object,
            spec,
            "spec",
            &[
                "scaleTargetRef",
                "minReplicas",
                "maxReplicas",
                "metrics",
                "targetCPUUtilizationPercentage",
                "behavior",
            ],
            &[],
        );
        let Some(target) = spec.get("scaleTargetRef") else {
            self.warn(object, spec, "spec.scaleTargetRef", "no target: ignored");
            return;
        };
        self.rest(
            object,
            target,
            "spec.scaleTargetRef",
            &["apiVersion", "kind", "name"],
            &[],
        );
        let Some(target_name) = target.get("name").and_then(Node::scalar) else {
            return;
        };
        let by_deployment = self.mesh.iter().find_map(|(service, mesh)| {
            mesh.deployments
                .iter()
                .find(|d| d.name == target_name)
                .map(|_| service.clone())
        });
        let service = match by_deployment {
            Some(service) => service,
            None => {
                let node = target.get("name").unwrap_or(target);
                match self.service_of(object, node, "spec.scaleTargetRef.name") {
                    Some(service) => service,
                    None => return,
                }
            }
        };
        let mut keys: Vec<(&'static str, TomlValue)> = Vec::new();
        let bound = |reader: &mut Self, node: &Node, path: &str| {
            reader.limited(
                object,
                node,
                path,
                limits::MAX_AUTOSCALE_REPLICAS,
                "replicas of an autoscaler",
            )
        };
        let min_node = spec.get("minReplicas");
        let min = match min_node {
            Some(node) => bound(self, node, "spec.minReplicas").map(|m| m.max(1)),
            None => Some(1), // Kubernetes' default
        };
        keys.push(("min", i64::try_from(min.unwrap_or(1)).unwrap_or(1).into()));
        let max_node = spec.get("maxReplicas");
        let max = match max_node {
            Some(node) => bound(self, node, "spec.maxReplicas"),
            None => {
                self.error(
                    object.file,
                    spec,
                    format!("{origin}: spec.maxReplicas is required"),
                );
                None
            }
        };
        if let (Some(min), Some(max), Some(max_node)) = (min, max, max_node) {
            if max < min {
                // Kubernetes refuses such an object too.
                self.error(
                    object.file,
                    max_node,
                    format!("{origin}: spec.maxReplicas ({max}) is below spec.minReplicas ({min})"),
                );
            } else {
                keys.push(("max", i64::try_from(max).unwrap_or(i64::MAX).into()));
            }
        }
        let mut target_percent = None;
        if let Some(node) = spec.get("targetCPUUtilizationPercentage") {
            target_percent = self.number(object, node, "spec.targetCPUUtilizationPercentage");
        }
        for (index, metric) in self
            .list(object, spec, "metrics", "spec")
            .iter()
            .enumerate()
        {
            let path = format!("spec.metrics[{index}]");
            let resource = metric.get("resource");
            let is_cpu = metric.get("type").and_then(Node::scalar) == Some("Resource")
                && resource.and_then(|r| r.get("name")).and_then(Node::scalar) == Some("cpu");
            let utilization = resource
                .and_then(|r| r.get("target"))
                .filter(|t| t.get("type").and_then(Node::scalar) == Some("Utilization"))
                .and_then(|t| t.get("averageUtilization"));
            match (is_cpu, utilization, target_percent) {
                (true, Some(node), None) => {
                    target_percent = self.number(
                        object,
                        node,
                        &format!("{path}.resource.target.averageUtilization"),
                    );
                }
                _ => self.warn(
                    object,
                    metric,
                    &path,
                    "only one CPU Utilization target is modelled (as the mean utilisation of \
                     the replicas' workers); this metric is not",
                ),
            }
        }
        match target_percent {
            Some(percent) if percent > 0.0 && percent <= 100.0 => {
                keys.push(("target_utilization", (percent / 100.0).into()));
            }
            Some(percent) => {
                self.warn(
                    object,
                    spec,
                    "spec.metrics",
                    &format!(
                        "a CPU target of {percent}%: meshsim's target is a worker utilisation in \
                         (0, 100%]; the autoscaler is not written"
                    ),
                );
                return;
            }
            None => {
                self.warn(
                    object,
                    spec,
                    "spec.metrics",
                    "no CPU Utilization target: the autoscaler is not written",
                );
                return;
            }
        }
        if let Some(behavior) = spec.get("behavior") {
            self.rest(
                object,
                behavior,
                "spec.behavior",
                &["scaleDown"],
                &[(
                    "scaleUp",
                    "not modelled (meshsim scales up at once, by the ratio)",
                )],
            );
            if let Some(down) = behavior.get("scaleDown") {
                self.rest(
                    object,
                    down,
                    "spec.behavior.scaleDown",
                    &["stabilizationWindowSeconds"],
                    &[
                        ("policies", "not modelled (no rate limit on scaling down)"),
                        ("selectPolicy", "not modelled"),
                    ],
                );
                if let Some(node) = down.get("stabilizationWindowSeconds") {
                    if let Some(seconds) = self.integer(
                        object,
                        node,
                        "spec.behavior.scaleDown.stabilizationWindowSeconds",
                        3600,
                    ) {
                        keys.push((
                            "scale_down_stabilization",
                            format_ns(seconds * 1_000_000_000).into(),
                        ));
                    }
                }
            }
        }
        if let (Some(min), Some(max), Some(max_node)) = (min, max, max_node) {
            if min <= max {
                self.check_starting_replicas(object, &service, (min, min_node), (max, max_node));
                self.mesh(&service).autoscale = Some((keys, origin));
            }
        }
    }

    /// Refuses an autoscaler whose range leaves out the replicas its service starts with (its
    /// Deployments', else the scenario's), at the bound it passes: meshsim starts a service
    /// within its autoscaler's range (Kubernetes would scale it into the range at once).
    fn check_starting_replicas(
        &mut self,
        object: &Object<'_>,
        service: &str,
        (min, min_node): (u64, Option<&Node>),
        (max, max_node): (u64, &Node),
    ) {
        let deployments = self
            .mesh
            .get(service)
            .map_or(&[][..], |m| &m.deployments[..]);
        let (replicas, whose) = if deployments.is_empty() {
            match self.starting.get(service) {
                Some(&replicas) => (replicas, "the scenario's replicas"),
                None => return, // versions: the scenario reader checks their sum
            }
        } else {
            let sum = deployments.iter().map(|d| u64::from(d.replicas)).sum();
            (sum, "its Deployments' spec.replicas")
        };
        let (node, path, relation) = if replicas < min {
            (min_node.unwrap_or(object.node), "spec.minReplicas", "above")
        } else if replicas > max {
            (max_node, "spec.maxReplicas", "below")
        } else {
            return;
        };
        let bound = if replicas < min { min } else { max };
        self.error(
            object.file,
            node,
            format!(
                "{} {}: {path}: {bound} is {relation} the {replicas} replicas service \"{service}\" \
                 starts with ({whose}): meshsim starts a service within its autoscaler's range \
                 [{min}, {max}] (Kubernetes would scale it there at once): change the replicas or \
                 the range",
                object.kind, object.name
            ),
        );
    }

    /// Refuses Deployments of one service whose replicas together pass the scenario's limit per
    /// service, at the Deployment that passes it.
    fn check_replica_total(&mut self, service: &str, deployments: &[Deployment]) {
        let limit = limits::MAX_REPLICAS_PER_SERVICE;
        let mut total = 0u64;
        for deployment in deployments {
            total += u64::from(deployment.replicas);
            if total > limit {
                let (file, line, column) = deployment.replicas_at;
                self.errors.push(ScenarioError {
                    file: self.files[file].label.clone(),
                    line,
                    column,
                    message: format!(
                        "{}: the Deployments of service \"{service}\" have {total} replicas \
                         together up to this one, more than meshsim's limit of {limit} replicas \
                         per service",
                        deployment.origin
                    ),
                });
                return;
            }
        }
    }

    // ----- versions -----------------------------------------------------------------------------

    /// Per service: replicas, versions and weights, and the autoscaler.
    ///
    /// A subset becomes a `[[service.version]]` when a Deployment's pods carry its labels or a
    /// route sends it traffic; a Deployment whose pods no subset selects becomes a version named
    /// by its `version` label when the service has several Deployments. With one version (or
    /// none) the replicas, and the routed subset's policy, go to the service itself. Without a
    /// VirtualService's weights there is no `[service.traffic]`: callers balance over every
    /// replica, as a Kubernetes Service spreads calls over every pod.
    fn versions(&mut self) {
        let mesh = std::mem::take(&mut self.mesh);
        for (service, mesh) in &mesh {
            self.check_replica_total(service, &mesh.deployments);
            let mut versions: Vec<Version> = Vec::new();
            let routed = |name: &str| {
                mesh.routes
                    .as_ref()
                    .is_some_and(|r| r.weights.iter().any(|(s, _)| s == name))
            };
            let mut placed = vec![false; mesh.deployments.len()];
            for subset in &mesh.subsets {
                let mut replicas = None;
                let mut replicas_origin = String::new();
                for (index, deployment) in mesh.deployments.iter().enumerate() {
                    let selected = !subset.labels.is_empty()
                        && subset
                            .labels
                            .iter()
                            .all(|(k, v)| deployment.labels.get(k) == Some(v));
                    if selected {
                        placed[index] = true;
                        replicas =
                            Some(replicas.unwrap_or(0u32).saturating_add(deployment.replicas));
                        replicas_origin = deployment.origin.clone();
                    }
                }
                if replicas.is_some() || routed(&subset.name) {
                    versions.push((
                        subset.name.clone(),
                        replicas,
                        subset.policy.clone(),
                        replicas_origin,
                        subset.origin.clone(),
                    ));
                } else {
                    self.warn_at(
                        subset.at,
                        &format!(
                            "{}: no Deployment's pods carry its labels and no route sends it \
                             traffic: not imported",
                            subset.origin
                        ),
                    );
                }
            }
            let unplaced: Vec<&Deployment> = mesh
                .deployments
                .iter()
                .zip(&placed)
                .filter(|(_, placed)| !**placed)
                .map(|(d, _)| d)
                .collect();
            // Without subsets, the Deployments' version labels name the versions; several
            // Deployments of one version add up (in the order first seen).
            let mut labelled: Vec<(String, u32, String)> = Vec::new();
            if versions.is_empty() {
                for deployment in &unplaced {
                    let name = deployment
                        .labels
                        .get("version")
                        .or_else(|| deployment.labels.get("app.kubernetes.io/version"))
                        .cloned()
                        .unwrap_or_else(|| deployment.name.clone());
                    match labelled.iter_mut().find(|(known, _, _)| *known == name) {
                        Some((_, replicas, _)) => {
                            *replicas = replicas.saturating_add(deployment.replicas)
                        }
                        None => {
                            labelled.push((name, deployment.replicas, deployment.origin.clone()))
                        }
                    }
                }
            }
            if labelled.len() > 1 {
                for (name, replicas, origin) in labelled {
                    versions.push((name, Some(replicas), Vec::new(), origin, String::new()));
                }
            } else if !unplaced.is_empty() {
                let total = unplaced
                    .iter()
                    .fold(0u32, |sum, d| sum.saturating_add(d.replicas));
                if versions.is_empty() {
                    self.set(
                        service,
                        None,
                        vec!["replicas"],
                        i64::from(total).into(),
                        &unplaced[0].origin,
                    );
                } else {
                    for deployment in &unplaced {
                        self.warn_at(
                            deployment.at,
                            &format!(
                                "{}: its pods carry the labels of no subset of {service}: not \
                                 imported",
                                deployment.origin
                            ),
                        );
                    }
                }
            }
            match versions.len() {
                0 => {}
                1 => {
                    let (_, replicas, policy, replicas_origin, policy_origin) = versions.remove(0);
                    if let Some(replicas) = replicas {
                        self.set(
                            service,
                            None,
                            vec!["replicas"],
                            i64::from(replicas).into(),
                            &replicas_origin,
                        );
                    }
                    for (key, value) in policy {
                        self.set(service, None, vec!["policy", key], value, &policy_origin);
                    }
                }
                _ => {
                    for (name, replicas, policy, replicas_origin, policy_origin) in &versions {
                        let origin = if replicas.is_some() {
                            replicas_origin
                        } else {
                            policy_origin
                        };
                        self.set(
                            service,
                            Some(name),
                            vec!["name"],
                            name.as_str().into(),
                            origin,
                        );
                        if let Some(replicas) = replicas {
                            self.set(
                                service,
                                Some(name),
                                vec!["replicas"],
                                i64::from(*replicas).into(),
                                replicas_origin,
                            );
                        }
                        let subset_at = mesh.subsets.iter().find(|s| &s.name == name).map(|s| s.at);
                        if let (false, Some(at)) = (policy.is_empty(), subset_at) {
                            // A version has no policy of its own in meshsim: callers pick the
                            // version, then balance with the service's policy.
                            self.warn_at(
                                at,
                                &format!(
                                    "{policy_origin}: trafficPolicy: not modelled for one version \
                                     of several (meshsim's policy is per service: the rule's \
                                     applies to every version)"
                                ),
                            );
                        }
                    }
                    // Without a route, no split: callers balance over every replica whatever
                    // its version, as a Kubernetes Service spreads calls over every pod.
                    if let Some(routes) = &mesh.routes {
                        let mut weights = InlineTable::new();
                        for (name, ..) in &versions {
                            let weight: u32 = routes
                                .weights
                                .iter()
                                .filter(|(s, _)| s == name)
                                .map(|(_, w)| w)
                                .sum();
                            weights.insert(name, i64::from(weight).into());
                        }
                        self.set(
                            service,
                            None,
                            vec!["traffic", "weights"],
                            TomlValue::InlineTable(weights),
                            &routes.origin,
                        );
                    }
                }
            }
            if let Some((keys, origin)) = &mesh.autoscale {
                for (key, value) in keys {
                    self.set(service, None, vec!["autoscale", key], value.clone(), origin);
                }
            }
            if let Some(routes) = &mesh.routes {
                for (subset, _) in &routes.weights {
                    if !mesh.subsets.iter().any(|s| &s.name == subset) {
                        self.warn_at(
                            routes.at,
                            &format!(
                                "{}: subset \"{subset}\" of {service} is defined by no \
                                 DestinationRule read: routes to it are not imported (Istio \
                                 answers 503 for an undefined subset)",
                                routes.origin
                            ),
                        );
                    }
                }
            }
        }
    }
}
