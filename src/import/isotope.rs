//! Istio isotope service graphs (the YAML files of istio/tools `isotope/`) as meshsim scenarios.
//!
//! The format, as isotope's converter reads it: a top-level `services:` list and optional
//! `defaults:` (`type`, `numReplicas` (default 1), `errorRate`, `responseSize`, `requestSize`,
//! `script`); a service has `name`, `namespace`, `cluster`, `type`, `numReplicas`,
//! `isEntrypoint`, `errorRate` (0–1, or a string like `"0.1%"`), `responseSize` and `script`.
//! A script is a list of steps run in order: `call: svc` or `call: {service, size, probability}`
//! (probability an integer percentage), `sleep: 10ms` (a Go duration), or a list of such
//! commands run concurrently (one level only). Sizes are docker units (`1 KB` = 1024 bytes).
//! Unknown keys are ignored, as isotope does.
//!
//! The mapping (docs/importing.md): a service becomes a `[[service]]` with
//! its replicas; a call a call step (`p` = probability / 100), a concurrent block a parallel
//! step; `errorRate` the service's `error_rate`; the script's sleeps its service time (they
//! are moved before its calls); services without sleeps get [`ImportOptions::service_time`];
//! sizes are not modelled; each `isEntrypoint` service gets an open Poisson workload of
//! [`ImportOptions::rate`]; clusters become zones.

use super::yaml::{self, Node, Value};

/// Settings the YAML does not give, each with a documented default (see [`Default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Requests per second sent to each `isEntrypoint` service (open Poisson). Default 100
    /// (isotope's example runs go up to 90 queries per second).
    pub rate: f64,
    /// Simulated load period, as a scenario duration. Default `"60s"` (isotope's runs last 1 m).
    pub duration: String,
    /// Warm-up, as a scenario duration. Default `"1s"`.
    pub warmup: String,
    /// Service time of a service whose script has no `sleep`, as a scenario distribution.
    /// Default `"exp(1ms)"`: isotope's services compute nothing; this stands for the request
    /// handling of the application and its sidecar.
    pub service_time: String,
    /// Replicas of every service, overriding `numReplicas`; `None` keeps the file's.
    pub replicas: Option<u32>,
    /// Workers (concurrent requests) per replica. Default 64.
    pub workers: u32,
    /// Scenario seed. Default 1.
    pub seed: u64,
    /// Scenario name; `None`: the file's name without its extension.
    pub name: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            rate: DEFAULT_RATE,
            duration: "60s".into(),
            warmup: "1s".into(),
            service_time: DEFAULT_SERVICE_TIME.into(),
            replicas: None,
            workers: DEFAULT_WORKERS,
            seed: 1,
            name: None,
        }
    }
}

/// Default requests per second per entrypoint.
pub const DEFAULT_RATE: f64 = 100.0;
/// Default service time of a service without sleeps.
pub const DEFAULT_SERVICE_TIME: &str = "exp(1ms)";
/// Default workers per replica.
pub const DEFAULT_WORKERS: u32 = 64;
/// One-way latency within a cluster (assumed: a pod-to-pod hop through two sidecars).
pub const NETWORK_LATENCY: &str = "lognormal(median=0.2ms, p99=1ms)";
/// One-way latency between clusters (assumed: nearby zones).
pub const CROSS_CLUSTER_LATENCY: &str = "lognormal(median=1ms, p99=4ms)";
/// Most replicas one service may have in an imported file.
const MAX_REPLICAS: u64 = 1_000_000;

/// An isotope service graph, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Services in file order.
    pub services: Vec<IsoService>,
}

/// One isotope service, defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct IsoService {
    /// Its name.
    pub name: String,
    /// `numReplicas`.
    pub replicas: u64,
    /// `isEntrypoint`.
    pub entrypoint: bool,
    /// `errorRate`, a fraction in [0, 1].
    pub error_rate: f64,
    /// `responseSize`, bytes.
    pub response_size: u64,
    /// `namespace`, if given.
    pub namespace: Option<String>,
    /// `cluster`, if given.
    pub cluster: Option<String>,
    /// Its script (or the default script).
    pub script: Vec<Step>,
}

/// One script step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// One command.
    Command(Command),
    /// Commands run concurrently.
    Concurrent(Vec<Command>),
}

/// A script command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `call`: a request to another service.
    Call(IsoCall),
    /// `sleep`, nanoseconds.
    Sleep(u64),
}

/// A `call` command.
#[derive(Debug, Clone, PartialEq)]
pub struct IsoCall {
    /// The called service.
    pub service: String,
    /// Percentage chance the call is made (isotope's `probability`, 1–100; 100 when absent).
    pub probability: u32,
    /// Request body size, bytes (`size`, else `defaults.requestSize`).
    pub size: u64,
    /// Where the service name was written (line, column).
    pub at: (usize, usize),
}

/// A problem in the YAML: (line, column, message), 1-based.
pub type Problem = (usize, usize, String);

impl Topology {
    /// Reads an isotope topology from YAML text; every problem found, ordered by position.
    pub fn parse(text: &str) -> Result<Topology, Vec<Problem>> {
        let root = yaml::parse(text).map_err(|e| vec![(e.line, e.column, e.message)])?;
        let mut reader = Reader::default();
        let topology = reader.topology(&root);
        if reader.problems.is_empty() {
            Ok(topology)
        } else {
            reader.problems.sort_by_key(|p| (p.0, p.1));
            Err(reader.problems)
        }
    }
}

/// Service-level defaults from `defaults:`.
#[derive(Debug, Clone, Default)]
struct Defaults {
    replicas: Option<u64>,
    error_rate: f64,
    response_size: u64,
    request_size: u64,
    script: Vec<Step>,
}

/// Reads the tree, collecting problems.
#[derive(Debug, Default)]
struct Reader {
    problems: Vec<Problem>,
}

impl Reader {
    fn problem(&mut self, node: &Node, message: impl Into<String>) {
        self.problems.push((node.line, node.column, message.into()));
    }

    fn topology(&mut self, root: &Node) -> Topology {
        let mut topology = Topology {
            services: Vec::new(),
        };
        if !matches!(root.value, Value::Mapping(_)) {
            self.problem(
                root,
                format!(
                    "an isotope topology is a mapping with `services:` (and optional `defaults:`), found {}",
                    root.kind()
                ),
            );
            return topology;
        }
        let defaults = match root.get("defaults") {
            Some(node) if !node.is_null() => self.defaults(node),
            _ => Defaults::default(),
        };
        let Some((services_key, services)) = root.entry("services") else {
            self.problem(root, "missing `services:` (the list of services)");
            return topology;
        };
        let Value::Sequence(items) = &services.value else {
            self.problem(
                services,
                format!("`services` must be a list, found {}", services.kind()),
            );
            return topology;
        };
        let mut names: Vec<(String, usize)> = Vec::new();
        for item in items {
            let Some(service) = self.service(item, &defaults) else {
                continue;
            };
            if let Some((_, line)) = names.iter().find(|(n, _)| *n == service.name) {
                let message = format!(
                    "duplicate service name \"{}\" (first on line {line})",
                    service.name
                );
                self.problem(item.get("name").unwrap_or(item), message);
                continue;
            }
            names.push((service.name.clone(), item.line));
            topology.services.push(service);
        }
        self.check_calls(&topology, &names);
        if !topology.services.is_empty() && !topology.services.iter().any(|s| s.entrypoint) {
            self.problem(
                services_key,
                "no service has `isEntrypoint: true`: meshsim sends its load to the entrypoints",
            );
        }
        topology
    }

    fn check_calls(&mut self, topology: &Topology, names: &[(String, usize)]) {
        for service in &topology.services {
            for call in calls_of(&service.script) {
                if !names.iter().any(|(n, _)| *n == call.service) {
                    let known: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
                    self.problems.push((
                        call.at.0,
                        call.at.1,
                        format!(
                            "call to undefined service \"{}\"{}",
                            call.service,
                            did_you_mean(&call.service, &known)
                        ),
                    ));
                }
            }
        }
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let mut defaults = Defaults::default();
        if !matches!(node.value, Value::Mapping(_)) {
            self.problem(
                node,
                format!("`defaults` must be a mapping, found {}", node.kind()),
            );
            return defaults;
        }
        if let Some(n) = node.get("type") {
            self.service_type(n);
        }
        defaults.replicas = node.get("numReplicas").and_then(|n| self.replicas(n));
        if let Some(n) = node.get("errorRate") {
            defaults.error_rate = self.error_rate(n).unwrap_or(0.0);
        }
        if let Some(n) = node.get("responseSize") {
            defaults.response_size = self.size(n, "responseSize").unwrap_or(0);
        }
        if let Some(n) = node.get("requestSize") {
            defaults.request_size = self.size(n, "requestSize").unwrap_or(0);
        }
        if let Some(n) = node.get("script") {
            defaults.script = self.script(n, defaults.request_size);
        }
        defaults
    }

    fn service(&mut self, node: &Node, defaults: &Defaults) -> Option<IsoService> {
        if !matches!(node.value, Value::Mapping(_)) {
            self.problem(
                node,
                format!(
                    "a service must be a mapping (name: ..., script: ...), found {}",
                    node.kind()
                ),
            );
            return None;
        }
        let name = match node.get("name") {
            Some(n) => self.name(n),
            None => {
                self.problem(node, "missing `name` (isotope: services must have a name)");
                None
            }
        };
        if let Some(n) = node.get("type") {
            self.service_type(n);
        }
        let replicas = match node.get("numReplicas") {
            Some(n) => self.replicas(n),
            None => defaults.replicas,
        };
        let entrypoint = node
            .get("isEntrypoint")
            .and_then(|n| self.boolean(n, "isEntrypoint"))
            .unwrap_or(false);
        let error_rate = match node.get("errorRate") {
            Some(n) => self.error_rate(n).unwrap_or(0.0),
            None => defaults.error_rate,
        };
        let response_size = match node.get("responseSize") {
            Some(n) => self.size(n, "responseSize").unwrap_or(0),
            None => defaults.response_size,
        };
        let namespace = node
            .get("namespace")
            .and_then(|n| self.text(n, "namespace"));
        let cluster = node.get("cluster").and_then(|n| self.cluster(n));
        let script = match node.get("script") {
            Some(n) => self.script(n, defaults.request_size),
            None => defaults.script.clone(),
        };
        Some(IsoService {
            name: name?,
            replicas: replicas.unwrap_or(1),
            entrypoint,
            error_rate,
            response_size,
            namespace,
            cluster,
            script,
        })
    }

    fn name(&mut self, node: &Node) -> Option<String> {
        let name = self.text(node, "name")?;
        if name.is_empty() {
            self.problem(node, "a service name must not be empty");
            return None;
        }
        if name.trim() != name || name.contains(['/', '#']) || name.chars().any(char::is_control) {
            self.problem(
                node,
                format!("service name \"{name}\" must not contain '/', '#', control characters or surrounding spaces"),
            );
            return None;
        }
        Some(name)
    }

    fn cluster(&mut self, node: &Node) -> Option<String> {
        let cluster = self.text(node, "cluster")?;
        if cluster.is_empty() || cluster.contains(':') || cluster.chars().any(char::is_control) {
            self.problem(
                node,
                format!(
                    "cluster \"{cluster}\" must be non-empty, without ':' or control characters"
                ),
            );
            return None;
        }
        Some(cluster)
    }

    /// A scalar as text (numbers and booleans are text too, as in Go's YAML to string).
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar() {
            Some(text) if !node.is_null() => Some(text.to_string()),
            _ => {
                self.problem(
                    node,
                    format!("`{what}` must be a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    fn service_type(&mut self, node: &Node) {
        if !matches!(node.scalar(), Some("http" | "grpc")) {
            self.problem(
                node,
                format!("`type` must be http or grpc, found {}", describe(node)),
            );
        }
    }

    fn replicas(&mut self, node: &Node) -> Option<u64> {
        let value = self.unsigned(node, "numReplicas")?;
        if value == 0 || value > MAX_REPLICAS {
            self.problem(
                node,
                format!("numReplicas must be between 1 and {MAX_REPLICAS} (meshsim needs a replica to call), found {value}"),
            );
            return None;
        }
        Some(value)
    }

    fn unsigned(&mut self, node: &Node, what: &str) -> Option<u64> {
        let parsed = match &node.value {
            Value::Scalar { text, plain: true } => {
                text.strip_prefix('+').unwrap_or(text).parse::<u64>().ok()
            }
            _ => None,
        };
        if parsed.is_none() {
            self.problem(
                node,
                format!(
                    "`{what}` must be a non-negative integer, found {}",
                    describe(node)
                ),
            );
        }
        parsed
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        // YAML 1.2's core schema, plus YAML 1.1's yes/no/on/off (isotope reads YAML with Go's
        // yaml.v2, a YAML 1.1 parser).
        let value = match &node.value {
            Value::Scalar { text, plain: true } => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(true),
                "false" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if value.is_none() {
            self.problem(
                node,
                format!("`{what}` must be true or false, found {}", describe(node)),
            );
        }
        value
    }

    /// `errorRate`: a number in [0, 1], or a percentage string `"0.1%"`.
    fn error_rate(&mut self, node: &Node) -> Option<f64> {
        let rate = match &node.value {
            Value::Scalar { text, plain } => match text.trim().strip_suffix('%') {
                Some(percent) => percent.trim().parse::<f64>().ok().map(|p| p / 100.0),
                None if *plain => text.parse::<f64>().ok(),
                None => None,
            },
            _ => None,
        };
        match rate {
            Some(rate) if (0.0..=1.0).contains(&rate) => Some(rate),
            _ => {
                self.problem(
                    node,
                    format!(
                        "`errorRate` must be a number between 0 and 1 or a percentage like \"0.1%\", found {}",
                        describe(node)
                    ),
                );
                None
            }
        }
    }

    /// A size: a non-negative integer of bytes, or docker units (`"1 KB"` = 1024 bytes).
    fn size(&mut self, node: &Node, what: &str) -> Option<u64> {
        let bytes = node.scalar().and_then(parse_size);
        if bytes.is_none() {
            self.problem(
                node,
                format!(
                    "`{what}` must be a size like 1024, \"1 KB\" or \"16mb\", found {}",
                    describe(node)
                ),
            );
        }
        bytes
    }

    fn script(&mut self, node: &Node, request_size: u64) -> Vec<Step> {
        if node.is_null() {
            return Vec::new();
        }
        let Value::Sequence(items) = &node.value else {
            self.problem(
                node,
                format!("`script` must be a list of steps, found {}", node.kind()),
            );
            return Vec::new();
        };
        let mut steps = Vec::new();
        for item in items {
            match &item.value {
                Value::Sequence(inner) => {
                    let mut commands = Vec::new();
                    for command in inner {
                        if matches!(command.value, Value::Sequence(_)) {
                            self.problem(
                                command,
                                "concurrent commands may not be nested (isotope allows one level)",
                            );
                        } else if let Some(command) = self.command(command, request_size) {
                            commands.push(command);
                        }
                    }
                    steps.push(Step::Concurrent(commands));
                }
                _ => {
                    if let Some(command) = self.command(item, request_size) {
                        steps.push(Step::Command(command));
                    }
                }
            }
        }
        steps
    }

    fn command(&mut self, node: &Node, request_size: u64) -> Option<Command> {
        let Value::Mapping(pairs) = &node.value else {
            self.problem(
                node,
                format!(
                    "a script step is `call: SERVICE`, `sleep: DURATION` or a list of them (run concurrently), found {}",
                    node.kind()
                ),
            );
            return None;
        };
        if pairs.len() != 1 {
            self.problem(
                node,
                "a script command has exactly one key, `call` or `sleep`",
            );
            return None;
        }
        let (key, value) = &pairs[0];
        match key.scalar() {
            Some("call") => self.call(value, request_size).map(Command::Call),
            Some("sleep") => self.sleep(value).map(Command::Sleep),
            _ => {
                self.problem(
                    key,
                    format!(
                        "unknown command {}: expected `call` or `sleep`",
                        describe(key)
                    ),
                );
                None
            }
        }
    }

    fn call(&mut self, node: &Node, request_size: u64) -> Option<IsoCall> {
        if let Value::Mapping(_) = node.value {
            let Some(service) = node.get("service") else {
                self.problem(node, "a call written as a mapping needs `service`");
                return None;
            };
            let name = self.text(service, "service")?;
            let size = match node.get("size") {
                Some(n) => self.size(n, "size")?,
                None => request_size,
            };
            let probability = match node.get("probability") {
                Some(n) => {
                    let p = self.unsigned(n, "probability")?;
                    if !(1..=100).contains(&p) {
                        self.problem(
                            n,
                            format!("`probability` is a percentage, an integer from 1 to 100; found {p}"),
                        );
                        return None;
                    }
                    p as u32
                }
                None => 100,
            };
            return Some(IsoCall {
                service: name,
                probability,
                size,
                at: (service.line, service.column),
            });
        }
        let name = self.text(node, "call")?;
        Some(IsoCall {
            service: name,
            probability: 100,
            size: request_size,
            at: (node.line, node.column),
        })
    }

    fn sleep(&mut self, node: &Node) -> Option<u64> {
        let nanos = node.scalar().and_then(parse_go_duration);
        if nanos.is_none() {
            self.problem(
                node,
                format!(
                    "`sleep` must be a Go duration like 10ms, 1.5s or 250us, found {} (isotope's load-dependent sleep tables are not supported)",
                    describe(node)
                ),
            );
        }
        nanos
    }
}

/// Every call of a script, in order.
pub fn calls_of(script: &[Step]) -> impl Iterator<Item = &IsoCall> {
    script.iter().flat_map(|step| {
        let commands: &[Command] = match step {
            Step::Command(command) => std::slice::from_ref(command),
            Step::Concurrent(commands) => commands,
        };
        commands.iter().filter_map(|command| match command {
            Command::Call(call) => Some(call),
            Command::Sleep(_) => None,
        })
    })
}

/// The time a script sleeps, nanoseconds: its sequential sleeps plus, per concurrent block, the
/// block's longest sleep.
pub fn sleep_total(script: &[Step]) -> u64 {
    script
        .iter()
        .map(|step| match step {
            Step::Command(Command::Sleep(nanos)) => *nanos,
            Step::Command(Command::Call(_)) => 0,
            Step::Concurrent(commands) => commands
                .iter()
                .map(|command| match command {
                    Command::Sleep(nanos) => *nanos,
                    Command::Call(_) => 0,
                })
                .max()
                .unwrap_or(0),
        })
        .fold(0u64, u64::saturating_add)
}

/// A value for messages: the scalar quoted, else the node's kind.
fn describe(node: &Node) -> String {
    match node.scalar() {
        Some(text) if !node.is_null() => format!("\"{text}\""),
        _ => node.kind().to_string(),
    }
}

fn did_you_mean(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default()
}

/// Parses a size as docker's `RAMInBytes` does: a decimal number, an optional space, an
/// optional unit k, m, g, t or p (powers of 1024), optional `i`, optional `b`, any case; or a
/// plain integer of bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(digits_end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let mut chars = rest.chars().peekable();
    let power = match chars.peek() {
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        _ => 0,
    };
    if power > 0 {
        chars.next();
    }
    if chars.peek() == Some(&'i') {
        chars.next();
    }
    if chars.peek() == Some(&'b') {
        chars.next();
    }
    if chars.next().is_some() {
        return None;
    }
    let bytes = value * 1024f64.powi(power);
    (bytes.is_finite() && bytes < 1.8e19).then_some(bytes as u64)
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with units ns, us
/// (or µs, μs), ms, s, m, h, like `1h2m` or `1.5ms`; `0` alone is zero. Negative durations are
/// refused. Returns nanoseconds.
pub fn parse_go_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "0" || text == "+0" {
        return Some(0);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let factor = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * factor;
        rest = next;
    }
    (total < 9.2e18).then(|| total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        Topology::parse(text).expect_err("should be refused")
    }

    #[test]
    fn defaults_apply_and_services_override_them() {
        let topology = Topology::parse(
            "defaults:\n  numReplicas: 3\n  errorRate: 1%\n  requestSize: 2 KB\n  script:\n  - sleep: 5ms\nservices:\n- name: a\n  isEntrypoint: true\n  numReplicas: 2\n  errorRate: 0.5\n  script:\n  - call: {service: b, probability: 40}\n  - - call: b\n    - sleep: 2ms\n- name: b\n",
        )
        .expect("parses");
        let [a, b] = &topology.services[..] else {
            panic!("two services")
        };
        assert_eq!((a.replicas, a.entrypoint, a.error_rate), (2, true, 0.5));
        assert_eq!((b.replicas, b.entrypoint), (3, false));
        assert!((b.error_rate - 0.01).abs() < 1e-12);
        // b has no script: it takes the default one (a 5 ms sleep).
        assert_eq!(b.script, vec![Step::Command(Command::Sleep(5_000_000))]);
        let calls: Vec<(&str, u32, u64)> = calls_of(&a.script)
            .map(|c| (c.service.as_str(), c.probability, c.size))
            .collect();
        assert_eq!(calls, vec![("b", 40, 2048), ("b", 100, 2048)]);
        assert_eq!(sleep_total(&a.script), 2_000_000);
    }

    #[test]
    fn replicas_default_to_one_and_entrypoints_to_false() {
        let topology =
            Topology::parse("services:\n- name: a\n  isEntrypoint: yes\n- name: b\n").expect("ok");
        assert_eq!(topology.services[0].replicas, 1);
        assert!(topology.services[0].entrypoint);
        assert!(!topology.services[1].entrypoint);
    }

    #[test]
    fn problems_point_at_the_yaml_and_all_are_reported() {
        let found = problems(
            "services:\n- name: a\n  isEntrypoint: true\n  numReplicas: 0\n  script:\n  - call: bb\n  - - - call: a\n  - wait: 1s\n- name: b\n  errorRate: 2\n",
        );
        let at: Vec<(usize, usize)> = found.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(
            at,
            vec![(4, 16), (6, 11), (7, 7), (8, 5), (10, 14)],
            "{found:#?}"
        );
        assert!(found[1]
            .2
            .contains("undefined service \"bb\" (did you mean \"b\"?)"));
        assert!(found[2].2.contains("may not be nested"));
        assert!(found[3].2.contains("unknown command \"wait\""));
        assert!(found[4].2.contains("errorRate"));
    }

    #[test]
    fn a_topology_needs_services_and_an_entrypoint() {
        assert_eq!(
            problems("defaults: {}\n")[0].2,
            "missing `services:` (the list of services)"
        );
        let found = problems("services:\n- name: a\n");
        assert_eq!((found[0].0, found[0].1), (1, 1));
        assert!(found[0].2.contains("isEntrypoint"));
        let found = problems("services:\n- name: a\n  isEntrypoint: true\n- name: a\n");
        assert_eq!((found[0].0, found[0].1), (4, 9));
        assert!(found[0]
            .2
            .contains("duplicate service name \"a\" (first on line 2)"));
        assert_eq!(problems("- a\n")[0].0, 1);
        let syntax = problems("services:\n- name: [a\n");
        assert!(syntax[0].0 >= 2, "{syntax:?}");
    }

    #[test]
    fn sizes_follow_docker_units() {
        assert_eq!(parse_size("1 KB"), Some(1024));
        assert_eq!(parse_size("10k"), Some(10_240));
        assert_eq!(parse_size("16mb"), Some(16 << 20));
        assert_eq!(parse_size("1.5 KiB"), Some(1536));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("1 XB"), None);
        assert_eq!(parse_size("KB"), None);
    }

    #[test]
    fn go_durations_parse_to_nanoseconds() {
        assert_eq!(parse_go_duration("10ms"), Some(10_000_000));
        assert_eq!(parse_go_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_go_duration("1h2m"), Some(3_720_000_000_000));
        assert_eq!(parse_go_duration("250µs"), Some(250_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("1d"), None);
    }
}
