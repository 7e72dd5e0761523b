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
use crate::scenario::duration::{parse_duration_unbounded, too_long};
use crate::scenario::limits;
use crate::scenario::{ScenarioError, ScenarioErrors};

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

impl ImportOptions {
    /// Checks the options against the scenario's limits, each problem naming its option
    /// (`--workers: ...`), so that none is found later at a line of the generated text.
    /// `--service-time` is a distribution, checked where the scenario is read.
    pub fn check(&self) -> Result<(), ScenarioErrors> {
        let mut problems = Vec::new();
        let mut problem = |option: &str, message: String| {
            problems.push(ScenarioError::without_position(option, message));
        };
        if !(self.rate.is_finite() && self.rate > 0.0) {
            problem(
                "--rate",
                format!(
                    "must be a positive number of requests per second, found {}",
                    self.rate
                ),
            );
        } else if self.rate > limits::MAX_RATE {
            problem(
                "--rate",
                format!(
                    "{} is more than the limit of {} requests per second per workload",
                    self.rate,
                    limits::MAX_RATE
                ),
            );
        }
        if u64::from(self.workers) > limits::MAX_WORKERS {
            problem(
                "--workers",
                format!(
                    "must be at most {} per replica, found {}",
                    limits::MAX_WORKERS,
                    self.workers
                ),
            );
        }
        if let Some(replicas) = self.replicas.filter(|&r| u64::from(r) > MAX_REPLICAS) {
            problem(
                "--replicas",
                format!("must be at most {MAX_REPLICAS} (meshsim's limit per service), found {replicas}"),
            );
        }
        for (option, text) in [("--duration", &self.duration), ("--warmup", &self.warmup)] {
            if let Err(error) = crate::scenario::duration::parse_duration(text) {
                problem(option, error.message);
            }
        }
        if let Some(why) = self.name.as_deref().and_then(limits::scenario_name_problem) {
            problem("--name", why);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ScenarioErrors(problems))
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
/// Most replicas one service may have: the scenario's limit, checked here so that the message
/// points at the YAML.
const MAX_REPLICAS: u64 = limits::MAX_REPLICAS_PER_SERVICE;

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
    /// Where its replicas are written (line, column): its `numReplicas`, else its `name` (the
    /// count came from `defaults`, or is the default 1).
    pub replicas_at: (usize, usize),
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
        if !self.check_cycles(&topology) {
            self.check_calls_per_request(&topology);
        }
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

    /// Reports each call cycle (a request that would never end) at the call that starts it,
    /// as the scenario reader would at a line of the generated text; returns whether there was
    /// any.
    fn check_cycles(&mut self, topology: &Topology) -> bool {
        let graph = call_graph(topology);
        let cycles = crate::scenario::cycles(&graph);
        for (cycle, at) in &cycles {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&s| topology.services[s].name.as_str())
                .collect();
            let (line, column) = at.copied().unwrap_or((1, 1));
            self.problems.push((
                line,
                column,
                format!(
                    "call cycle: {} (a request would never end)",
                    names.join(" -> ")
                ),
            ));
        }
        !cycles.is_empty()
    }

    /// Reports a service one request to which makes more calls, through the call graph, than
    /// the scenario's limit of tries per request: T(s) = 1 + the sum of T over its calls (no
    /// retries or hedges in isotope), callees first, without recursion. Reported at the first
    /// call of each service over the limit whose callees are all within it. The graph must be
    /// free of cycles.
    fn check_calls_per_request(&mut self, topology: &Topology) {
        let graph = call_graph(topology);
        let count = graph.len();
        let mut pending: Vec<usize> = graph.iter().map(Vec::len).collect();
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); count];
        for (from, calls) in graph.iter().enumerate() {
            for &(to, _) in calls {
                callers[to].push(from);
            }
        }
        let mut ready: Vec<usize> = (0..count).filter(|&s| pending[s] == 0).collect();
        let mut tries = vec![0.0f64; count];
        while let Some(service) = ready.pop() {
            let mut callee_over = false;
            let mut total = 1.0;
            for &(to, _) in &graph[service] {
                total += tries[to];
                callee_over |= tries[to] > limits::MAX_TRIES_PER_REQUEST;
            }
            tries[service] = total;
            if total > limits::MAX_TRIES_PER_REQUEST && !callee_over {
                let (line, column) = graph[service].first().map_or((1, 1), |&(_, at)| at);
                self.problems.push((
                    line,
                    column,
                    format!(
                        "one request to service \"{}\" makes {total:.3e} requests through the \
                         call graph (its calls, times the calls of the services they call), more \
                         than meshsim's limit of {:.0e} tries per request: fewer calls",
                        topology.services[service].name,
                        limits::MAX_TRIES_PER_REQUEST
                    ),
                ));
            }
            for &caller in &callers[service] {
                pending[caller] -= 1;
                if pending[caller] == 0 {
                    ready.push(caller);
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
        if let Some((key, n)) = node.entry("script") {
            defaults.script = self.script(key, n, defaults.request_size);
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
        let replicas_at = node
            .get("numReplicas")
            .or_else(|| node.get("name"))
            .map_or((node.line, node.column), |n| (n.line, n.column));
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
        let script = match node.entry("script") {
            Some((key, n)) => self.script(key, n, defaults.request_size),
            None => defaults.script.clone(),
        };
        Some(IsoService {
            name: name?,
            replicas: replicas.unwrap_or(1),
            replicas_at,
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
        if name.len() > limits::MAX_NAME_BYTES {
            self.problem(
                node,
                format!(
                    "service name is {} bytes long, at most {}",
                    name.len(),
                    limits::MAX_NAME_BYTES
                ),
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
                format!(
                    "numReplicas must be between 1 and {MAX_REPLICAS} (meshsim needs a replica to \
                     call, and keeps at most {MAX_REPLICAS} per service), found {value}"
                ),
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

    /// The script under the key `key`; its sleeps together (the service's time) must be a
    /// scenario duration, and are reported at the key when they are not.
    fn script(&mut self, key: &Node, node: &Node, request_size: u64) -> Vec<Step> {
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
        let sleeps = sleep_total(&steps);
        if sleeps > limits::MAX_DURATION {
            self.problem(
                key,
                too_long(&format!(
                    "the service's time, its script's sleeps together ({}),",
                    crate::scenario::format_ns(sleeps)
                )),
            );
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
        let nanos = node.scalar().map(parse_go_duration);
        if let Some(Err(GoDurationError::TooLong)) = nanos {
            self.problem(node, too_long(&format!("`sleep` {}", describe(node))));
            return None;
        }
        let nanos = nanos.and_then(Result::ok);
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

/// The call graph of a topology: per service (in order), the services its script calls (defined
/// ones), each with where the call is written.
fn call_graph(topology: &Topology) -> Vec<Vec<(usize, (usize, usize))>> {
    let index: std::collections::HashMap<&str, usize> = topology
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    topology
        .services
        .iter()
        .map(|service| {
            calls_of(&service.script)
                .filter_map(|call| Some((*index.get(call.service.as_str())?, call.at)))
                .collect()
        })
        .collect()
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

/// Why a Go duration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoDurationError {
    /// Not a Go duration (or a negative one).
    Invalid,
    /// Longer than a scenario duration may be ([`limits::MAX_DURATION`], 10,000 hours), which
    /// includes everything past Go's own longest duration (`2562047h47m16.854775807s`).
    TooLong,
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with units ns, us
/// (or µs, μs), ms, s, m, h, like `1h2m` or `1.5ms`, without spaces; `0` alone is zero.
/// Negative durations are refused. Returns nanoseconds (rounded to the nearest), at most
/// [`limits::MAX_DURATION`].
pub fn parse_go_duration(text: &str) -> Result<u64, GoDurationError> {
    let text = text.trim();
    if text == "0" || text == "+0" {
        return Ok(0);
    }
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.contains(|c: char| c.is_whitespace() || c == '-') {
        return Err(GoDurationError::Invalid);
    }
    let nanos = parse_duration_unbounded(rest).map_err(|_| GoDurationError::Invalid)?;
    u64::try_from(nanos)
        .ok()
        .filter(|&n| n <= limits::MAX_DURATION)
        .ok_or(GoDurationError::TooLong)
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
        assert_eq!(parse_go_duration("10ms"), Ok(10_000_000));
        assert_eq!(parse_go_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_go_duration("1h2m"), Ok(3_720_000_000_000));
        assert_eq!(parse_go_duration("250µs"), Ok(250_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("+1s"), Ok(1_000_000_000));
        let invalid = Err(GoDurationError::Invalid);
        for text in ["10", "-1s", "1d", "1 s", "", "+", "1e3ms"] {
            assert_eq!(parse_go_duration(text), invalid, "{text:?}");
        }
    }

    #[test]
    fn go_durations_stop_at_the_scenario_limit() {
        assert_eq!(parse_go_duration("10000h"), Ok(limits::MAX_DURATION));
        let too_long = Err(GoDurationError::TooLong);
        assert_eq!(parse_go_duration("10000h1ns"), too_long);
        // Go's longest duration, one past it, and past any integer.
        assert_eq!(parse_go_duration("2562047h47m16.854775807s"), too_long);
        assert_eq!(parse_go_duration("2562047h47m16.854775808s"), too_long);
        assert_eq!(parse_go_duration(&format!("{}h", "9".repeat(60))), too_long);
        let found = problems(
            "services:\n- name: a\n  isEntrypoint: true\n  script:\n  - sleep: 2562047h47m16.854775807s\n",
        );
        assert_eq!((found[0].0, found[0].1), (5, 12), "{found:?}");
        assert!(
            found[0]
                .2
                .contains("`sleep` \"2562047h47m16.854775807s\" is too long: at most 10000h"),
            "{found:?}"
        );
        // Sleeps each within the limit, together past it: at the script.
        let found = problems(
            "services:\n- name: a\n  isEntrypoint: true\n  script:\n  - sleep: 6000h\n  - sleep: 6000h\n",
        );
        assert_eq!((found[0].0, found[0].1), (4, 3), "{found:?}");
        assert!(
            found[0]
                .2
                .contains("sleeps together (12000h), is too long: at most 10000h"),
            "{found:?}"
        );
    }

    #[test]
    fn call_cycles_are_reported_at_the_call_that_starts_them() {
        let found =
            problems("services:\n- name: a\n  isEntrypoint: true\n  script:\n  - call: a\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 11), "{found:?}");
        assert_eq!(found[0].2, "call cycle: a -> a (a request would never end)");
        let found = problems(
            "services:\n- name: a\n  isEntrypoint: true\n  script:\n  - call: b\n- name: b\n  script:\n  - call: {service: c, probability: 10}\n- name: c\n  script:\n  - - call: a\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 11), "{found:?}");
        assert_eq!(
            found[0].2,
            "call cycle: a -> b -> c -> a (a request would never end)"
        );
    }

    #[test]
    fn limits_of_the_scenario_are_checked_in_the_yaml() {
        let found = problems("services:\n- name: a\n  isEntrypoint: true\n  numReplicas: 100001\n");
        assert_eq!((found[0].0, found[0].1), (4, 16), "{found:?}");
        assert!(found[0].2.contains("between 1 and 100000"), "{found:?}");
        assert!(Topology::parse(
            "services:\n- name: a\n  isEntrypoint: true\n  numReplicas: 100000\n"
        )
        .is_ok());
        let long = "n".repeat(256);
        let found = problems(&format!(
            "services:\n- name: {long}\n  isEntrypoint: true\n"
        ));
        assert_eq!((found[0].0, found[0].1), (2, 9), "{found:?}");
        assert_eq!(found[0].2, "service name is 256 bytes long, at most 255");
        // 101 calls from a to b, 101 from b to c, 101 from c to d: 1 + 101 + 101^2 + 101^3 tries.
        let calls = |to: &str| format!("  script:\n{}", format!("  - call: {to}\n").repeat(101));
        let text = format!(
            "services:\n- name: a\n  isEntrypoint: true\n{}- name: b\n{}- name: c\n{}- name: d\n",
            calls("b"),
            calls("c"),
            calls("d")
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (5, 11), "{found:?}");
        assert!(
            found[0]
                .2
                .contains("one request to service \"a\" makes 1.041e6 requests"),
            "{found:?}"
        );
    }

    #[test]
    fn options_are_checked_against_the_limits_by_name() {
        assert!(ImportOptions::default().check().is_ok());
        let problems = |options: ImportOptions| options.check().expect_err("refused").to_string();
        let text = problems(ImportOptions {
            workers: 2_000_000,
            ..ImportOptions::default()
        });
        assert!(
            text.starts_with("--workers: must be at most 1000000"),
            "{text}"
        );
        let text = problems(ImportOptions {
            replicas: Some(100_001),
            ..ImportOptions::default()
        });
        assert!(
            text.starts_with("--replicas: must be at most 100000"),
            "{text}"
        );
        let text = problems(ImportOptions {
            rate: 1e9,
            ..ImportOptions::default()
        });
        assert!(
            text.starts_with("--rate: 1000000000 is more than the limit"),
            "{text}"
        );
        let text = problems(ImportOptions {
            duration: "20000h".into(),
            ..ImportOptions::default()
        });
        assert!(
            text.starts_with("--duration: duration \"20000h\" is too long"),
            "{text}"
        );
        let text = problems(ImportOptions {
            name: Some("..".into()),
            ..ImportOptions::default()
        });
        assert!(
            text.starts_with("--name: scenario name \"..\" is not a file name"),
            "{text}"
        );
    }
}
