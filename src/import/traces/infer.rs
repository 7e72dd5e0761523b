//! From spans to a scenario: checks each trace, infers the system the traces show, and writes it
//! as commented TOML. Every rule is documented in `docs/traces.md` ("What is inferred").

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use super::{ImportOptions, Imported, SpanKind, SpanSet, TryMark, NO_NAME};
use crate::import::emit::toml_string;
use crate::model::Outcome;
use crate::scenario::limits::{
    MAX_DURATION, MAX_NAME_BYTES, MAX_RATE, MAX_REPLICAS_PER_SERVICE, MAX_REPLICAS_TOTAL,
};
use crate::scenario::{ScenarioError, ScenarioErrors};

const NONE: u32 = u32::MAX;

/// Levels at which a measured distribution is written (`quantiles(...)`): dense in the tail,
/// where end-to-end percentiles are decided.
pub const LEVELS: [f64; 21] = [
    0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98,
    0.99, 0.995, 0.999, 1.0,
];

/// At most this many calls per endpoint (the simulator's limit); rarer call slots go first.
const MAX_CALLS: usize = 128;

/// What a span does, once unspecified kinds are inferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Server,
    Client,
    Internal,
}

/// One span of the trace being checked.
#[derive(Debug, Clone, Copy)]
struct Node {
    span: u32,
    id: u64,
    parent: u64,
    parent_index: u32,
    /// Nearest ancestor that is not internal.
    effective_parent: u32,
    role: Role,
    remote_child: bool,
}

/// A call slot of an endpoint: its `occurrence`-th call to `target` in a request.
#[derive(Debug, Clone)]
struct Slot {
    target: u32,
    occurrence: u32,
    present: u64,
    offset_sum: f64,
}

#[derive(Debug, Default)]
struct EndpointStats {
    service: u32,
    name: u32,
    /// The first span that showed it (for messages about its names).
    span: u32,
    /// Called but never seen serving (an uninstrumented store): work from client durations.
    leaf: bool,
    jobs: u64,
    own_work: Vec<u64>,
    client_durations: Vec<u64>,
    slots: Vec<Slot>,
    slot_index: HashMap<(u32, u32), u32>,
    /// Per pair of slots (lower first): requests with both, and with both in one step.
    pairs: HashMap<(u32, u32), (u64, u64)>,
    retries: u64,
    entries: u64,
}

#[derive(Debug, Default)]
struct ServiceStats {
    instances: BTreeSet<u32>,
    jobs: u64,
    own_errors: u64,
}

/// A call made by one request: target endpoint, interval, error; once its tries are merged,
/// the interval runs from the first try's start to the last try's end.
#[derive(Debug, Clone, Copy)]
struct Made {
    target: u32,
    start: i64,
    end: i64,
    error: bool,
    /// What the trace says of this try (retry, hedge), its named failure, whether it lost a
    /// hedge race.
    mark: TryMark,
    outcome: Option<Outcome>,
    cancelled: bool,
    /// Retries and hedges merged into this call.
    retries: u32,
    hedges: u32,
    /// The latest try merged: its interval and named failure (for the retry that follows it).
    try_start: i64,
    try_end: i64,
    try_outcome: Option<Outcome>,
}

impl Made {
    fn new(target: u32, span: &super::Span) -> Made {
        Made {
            target,
            start: span.start,
            end: span.end,
            error: span.error && !span.cancelled,
            mark: span.try_mark,
            outcome: span.outcome,
            cancelled: span.cancelled,
            retries: 0,
            hedges: 0,
            try_start: span.start,
            try_end: span.end,
            try_outcome: span.outcome,
        }
    }
}

/// What the tries of the calls to one service show: the evidence of its retry and hedging
/// policy.
#[derive(Debug, Default)]
struct TryStats {
    /// Calls to the service, and those retried at least once.
    calls: u64,
    retried_calls: u64,
    /// Most retries, and most hedges, in one call.
    max_retries: u32,
    max_hedges: u32,
    /// The failed tries that were retried: duration (nanoseconds) and named failure.
    retried_tries: Vec<(u64, Option<Outcome>)>,
    /// Per hedge, nanoseconds from its call's first try to it.
    hedge_delays: Vec<u64>,
}

struct Inference<'s> {
    set: &'s SpanSet,
    endpoints: Vec<EndpointStats>,
    endpoint_index: HashMap<(u32, u32), u32>,
    services: BTreeMap<u32, ServiceStats>,
    /// One-way network latency samples between services (half of client minus server
    /// duration), nanoseconds.
    network: Vec<u64>,
    /// The same between a load generator (a root client span) and an entry service.
    edge_network: Vec<u64>,
    /// Per usable trace: arrival time and entry endpoint.
    arrivals: Vec<(i64, u32)>,
    /// Per usable trace: end-to-end duration (first start to last end), nanoseconds.
    end_to_end: Vec<u64>,
    used_traces: u64,
    used_spans: u64,
    /// Broken traces by reason (the reason's kind) with one example.
    broken: BTreeMap<&'static str, (u64, String)>,
    /// Whether any span marks its try (retry or hedge): then an unmarked call is never taken
    /// for a retry.
    marks_tries: bool,
    /// Per called service (name index): what its calls' tries show.
    tries: BTreeMap<u32, TryStats>,
}

/// Infers the scenario of `set`, named `name`.
pub fn scenario(
    set: &SpanSet,
    name: &str,
    options: &ImportOptions,
) -> Result<Imported, ScenarioErrors> {
    let mut inference = Inference {
        set,
        endpoints: Vec::new(),
        endpoint_index: HashMap::new(),
        services: BTreeMap::new(),
        network: Vec::new(),
        edge_network: Vec::new(),
        arrivals: Vec::new(),
        end_to_end: Vec::new(),
        used_traces: 0,
        used_spans: 0,
        broken: BTreeMap::new(),
        marks_tries: set.spans.iter().any(|s| s.try_mark != TryMark::Unmarked),
        tries: BTreeMap::new(),
    };
    for reason in set.broken.values() {
        inference.count_broken("unreadable span", reason.clone());
    }
    let mut order: Vec<u32> = (0..set.spans.len() as u32).collect();
    order.sort_unstable_by_key(|&i| {
        let s = &set.spans[i as usize];
        (s.trace, s.id, s.start)
    });
    let mut nodes: Vec<Node> = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let trace = set.spans[order[start] as usize].trace;
        let mut end = start + 1;
        while end < order.len() && set.spans[order[end] as usize].trace == trace {
            end += 1;
        }
        if !set.broken.contains_key(&trace) {
            inference.trace(&order[start..end], &mut nodes);
        }
        start = end;
    }
    let files = set.files.join(", ");
    if inference.used_traces == 0 {
        let why = match inference.broken.iter().next() {
            Some((_, (count, example))) => format!(
                "no usable trace: {} broken, e.g. {example}",
                count
                    + inference
                        .broken
                        .values()
                        .skip(1)
                        .map(|(c, _)| c)
                        .sum::<u64>()
            ),
            None => "no span found".to_string(),
        };
        return Err(ScenarioErrors::single(files, why));
    }
    inference.check_names()?;
    inference.emit(name, options)
}

fn hex(id: u64) -> String {
    format!("{id:016x}")
}

impl Inference<'_> {
    fn count_broken(&mut self, kind: &'static str, example: String) {
        let entry = self.broken.entry(kind).or_insert((0, example));
        entry.0 += 1;
    }

    /// Refuses a service or endpoint name the scenario cannot hold (longer than
    /// [`MAX_NAME_BYTES`] once cleaned), naming the file and the span that gives it: the
    /// scenario reader would refuse it at a line of the generated text.
    fn check_names(&self) -> Result<(), ScenarioErrors> {
        let set = self.set;
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        for e in &self.endpoints {
            for (what, raw) in [("service", e.service), ("endpoint", e.name)] {
                let name = clean_name(set.names.get(raw));
                if name.len() <= MAX_NAME_BYTES || !seen.insert((what, raw)) {
                    continue;
                }
                let span = &set.spans[e.span as usize];
                errors.push(ScenarioError::without_position(
                    set.file_of(e.span as usize),
                    format!(
                        "span {} (\"{}\") gives {what} name \"{}\", which is {} bytes long: \
                         a scenario's names are at most {MAX_NAME_BYTES} bytes (they name rows \
                         and files of its report)",
                        hex(span.id),
                        shortened(set.names.get(span.name)),
                        shortened(&name),
                        name.len()
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ScenarioErrors(errors))
        }
    }

    fn describe(&self, span: u32) -> String {
        let s = &self.set.spans[span as usize];
        format!(
            "span {} (service \"{}\", \"{}\")",
            hex(s.id),
            self.set.names.get(s.service),
            self.set.names.get(s.name)
        )
    }

    /// The endpoint `name` of `service`, added if new; `span` shows it.
    fn endpoint(&mut self, service: u32, name: u32, leaf: bool, span: u32) -> u32 {
        if let Some(&index) = self.endpoint_index.get(&(service, name)) {
            if !leaf {
                self.endpoints[index as usize].leaf = false;
            }
            return index;
        }
        let index = self.endpoints.len() as u32;
        self.endpoints.push(EndpointStats {
            service,
            name,
            span,
            leaf,
            ..EndpointStats::default()
        });
        self.endpoint_index.insert((service, name), index);
        index
    }

    /// Checks one trace (`members`: its spans sorted by id) and adds what it shows.
    fn trace(&mut self, members: &[u32], nodes: &mut Vec<Node>) {
        let spans = &self.set.spans;
        let resolution = self.set.format.resolution();
        nodes.clear();
        nodes.extend(members.iter().map(|&span| {
            let s = &spans[span as usize];
            Node {
                span,
                id: s.id,
                parent: s.parent,
                parent_index: NONE,
                effective_parent: NONE,
                role: Role::Internal,
                remote_child: false,
            }
        }));
        // Zipkin's shared spans: a server half reusing its client's id gets an id of its own,
        // and the spans its service made under that id hang from it.
        for i in 1..nodes.len() {
            if nodes[i].id != nodes[i - 1].id {
                continue;
            }
            let (a, b) = (
                &spans[nodes[i - 1].span as usize],
                &spans[nodes[i].span as usize],
            );
            let server = match (a.kind, b.kind) {
                (SpanKind::Client, SpanKind::Server | SpanKind::Unspecified) => i,
                (SpanKind::Server | SpanKind::Unspecified, SpanKind::Client) => i - 1,
                _ => {
                    let example = format!("{} appears twice", self.describe(nodes[i].span));
                    self.count_broken("duplicate span id", example);
                    return;
                }
            };
            let shared = nodes[server].id;
            let own = shared.rotate_left(17) ^ 0x5bd1_e995_5bd1_e995;
            let service = spans[nodes[server].span as usize].service;
            nodes[server].id = own;
            nodes[server].parent = shared;
            for node in nodes.iter_mut() {
                if node.parent == shared
                    && node.id != own
                    && spans[node.span as usize].service == service
                    && spans[node.span as usize].kind != SpanKind::Server
                {
                    node.parent = own;
                }
            }
        }
        nodes.sort_unstable_by_key(|n| n.id);
        for i in 0..nodes.len() {
            let s = &spans[nodes[i].span as usize];
            if s.end < s.start {
                let example = format!("{} ends before it starts", self.describe(nodes[i].span));
                self.count_broken("span ends before it starts", example);
                return;
            }
            if nodes[i].parent == 0 {
                continue;
            }
            let parent = nodes[i].parent;
            match nodes.binary_search_by_key(&parent, |n| n.id) {
                Ok(p) => nodes[i].parent_index = p as u32,
                Err(_) => {
                    let example = format!(
                        "{}: its parent {} never appears",
                        self.describe(nodes[i].span),
                        hex(parent)
                    );
                    self.count_broken("parent never appears", example);
                    return;
                }
            }
        }
        for i in 0..nodes.len() {
            let p = nodes[i].parent_index;
            if p != NONE
                && spans[nodes[p as usize].span as usize].service
                    != spans[nodes[i].span as usize].service
            {
                nodes[p as usize].remote_child = true;
            }
        }
        for i in 0..nodes.len() {
            let s = &spans[nodes[i].span as usize];
            let p = nodes[i].parent_index;
            nodes[i].role = match s.kind {
                SpanKind::Server | SpanKind::Consumer => Role::Server,
                SpanKind::Client | SpanKind::Producer => Role::Client,
                SpanKind::Internal => Role::Internal,
                SpanKind::Unspecified => {
                    if p == NONE || spans[nodes[p as usize].span as usize].service != s.service {
                        Role::Server
                    } else if nodes[i].remote_child {
                        Role::Client
                    } else {
                        Role::Internal
                    }
                }
            };
        }
        for i in 0..nodes.len() {
            let mut p = nodes[i].parent_index;
            let mut hops = 0;
            while p != NONE && nodes[p as usize].role == Role::Internal && hops <= nodes.len() {
                p = nodes[p as usize].parent_index;
                hops += 1;
            }
            if hops > nodes.len() {
                let example = format!("{} is its own ancestor", self.describe(nodes[i].span));
                self.count_broken("parent cycle", example);
                return;
            }
            nodes[i].effective_parent = p;
        }
        // Clock skew: a synchronous child (server under client, client under server) lasting
        // longer than its parent.
        for node in nodes.iter() {
            let p = node.effective_parent;
            if p == NONE || node.role == Role::Internal {
                continue;
            }
            let (child, parent) = (
                &spans[node.span as usize],
                &spans[nodes[p as usize].span as usize],
            );
            let asynchronous = matches!(child.kind, SpanKind::Producer | SpanKind::Consumer)
                || matches!(parent.kind, SpanKind::Producer | SpanKind::Consumer);
            // A try that lost a hedge race ends when the winner answers, before its server
            // finishes: no skew.
            if !asynchronous
                && !parent.cancelled
                && (child.end - child.start) > (parent.end - parent.start) + resolution
            {
                let example = format!(
                    "{} lasts {} ns, longer than its parent {} ({} ns): clock skew",
                    self.describe(node.span),
                    child.end - child.start,
                    self.describe(nodes[p as usize].span),
                    parent.end - parent.start
                );
                self.count_broken("clock skew (child longer than parent)", example);
                return;
            }
        }
        self.add_trace(nodes);
    }

    /// Adds a checked trace.
    fn add_trace(&mut self, nodes: &[Node]) {
        let spans = &self.set.spans;
        // Children by effective parent, in start order.
        let mut children: Vec<(u32, i64, u32)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role != Role::Internal && n.effective_parent != NONE)
            .map(|(i, n)| (n.effective_parent, spans[n.span as usize].start, i as u32))
            .collect();
        children.sort_unstable();
        let children_of = |parent: u32| {
            let from = children.partition_point(|c| c.0 < parent);
            let to = children.partition_point(|c| c.0 <= parent);
            children[from..to].iter().map(|c| c.2)
        };
        let mut first_entry: Option<(i64, u32)> = None;
        let mut calls: Vec<Made> = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            if node.role != Role::Server {
                continue;
            }
            let s = &spans[node.span as usize];
            let endpoint = self.endpoint(s.service, s.name, false, node.span);
            let service = self.services.entry(s.service).or_default();
            service.jobs += 1;
            if s.instance != NO_NAME {
                service.instances.insert(s.instance);
            }
            // Entry: a root server span, or one called by a root client span (a load generator).
            let caller = node.effective_parent;
            let arrival = if caller == NONE {
                Some(s.start)
            } else {
                let c = &nodes[caller as usize];
                (c.role == Role::Client && c.effective_parent == NONE)
                    .then(|| spans[c.span as usize].start)
            };
            if caller != NONE && arrival.is_some() {
                let c = &spans[nodes[caller as usize].span as usize];
                let difference = (c.end - c.start) - (s.end - s.start);
                if difference >= 0 {
                    self.edge_network.push((difference / 2) as u64);
                }
            }
            if let Some(at) = arrival {
                if first_entry.is_none_or(|(t, _)| at < t) {
                    first_entry = Some((at, endpoint));
                }
            }
            calls.clear();
            for child in children_of(index as u32) {
                let c = &nodes[child as usize];
                let cs = &spans[c.span as usize];
                match c.role {
                    Role::Server => {
                        let target = self.endpoint(cs.service, cs.name, false, c.span);
                        calls.push(Made::new(target, cs));
                    }
                    Role::Client => {
                        let server =
                            children_of(child).find(|&g| nodes[g as usize].role == Role::Server);
                        let target = match server {
                            Some(g) => {
                                let gs = &spans[nodes[g as usize].span as usize];
                                let difference = (cs.end - cs.start) - (gs.end - gs.start);
                                if difference >= 0 && !cs.cancelled {
                                    self.network.push((difference / 2) as u64);
                                }
                                self.endpoint(gs.service, gs.name, false, nodes[g as usize].span)
                            }
                            None => {
                                let service = if cs.peer != NO_NAME { cs.peer } else { cs.name };
                                let target = self.endpoint(service, cs.name, true, c.span);
                                let e = &mut self.endpoints[target as usize];
                                e.client_durations.push((cs.end - cs.start).max(0) as u64);
                                target
                            }
                        };
                        calls.push(Made::new(target, cs));
                    }
                    Role::Internal => {}
                }
            }
            self.add_job(endpoint, s.start, s.end, s.error, s.service, &mut calls);
        }
        let Some((arrival, entry)) = first_entry else {
            self.count_broken(
                "no server span",
                "a trace with no server span (nothing handled a request)".to_string(),
            );
            return;
        };
        let first = nodes
            .iter()
            .map(|n| spans[n.span as usize].start)
            .min()
            .unwrap_or(0);
        let last = nodes
            .iter()
            .map(|n| spans[n.span as usize].end)
            .max()
            .unwrap_or(0);
        self.end_to_end.push((last - first).max(0) as u64);
        self.arrivals.push((arrival, entry));
        self.endpoints[entry as usize].entries += 1;
        self.used_traces += 1;
        self.used_spans += nodes.len() as u64;
    }

    /// Adds one request served by `endpoint` over `[start, end)` with the calls it made.
    fn add_job(
        &mut self,
        endpoint: u32,
        start: i64,
        end: i64,
        error: bool,
        service: u32,
        calls: &mut [Made],
    ) {
        calls.sort_by_key(|c| (c.start, c.end, c.target));
        // Tries: a retry or hedge the trace marks joins the latest call to its target; without
        // marks in the traces, a call that follows a failed call to the same target, after it
        // ended, is a retry of it.
        let mut merged: Vec<Made> = Vec::with_capacity(calls.len());
        let mut retries = 0;
        for call in calls.iter() {
            let previous = merged.iter_mut().rev().find(|m| m.target == call.target);
            let joins = match (call.mark, &previous) {
                (TryMark::Retry | TryMark::Hedge, Some(_)) => true,
                (TryMark::Unmarked, Some(m)) => !self.marks_tries && m.error && m.end <= call.start,
                (_, None) => false,
            };
            let Some(m) = previous.filter(|_| joins) else {
                merged.push(*call);
                continue;
            };
            let service = self.endpoints[call.target as usize].service;
            let stats = self.tries.entry(service).or_default();
            if call.mark == TryMark::Hedge {
                m.hedges += 1;
                stats
                    .hedge_delays
                    .push((call.start - m.start).max(0) as u64);
            } else {
                // The try before it failed and was retried.
                m.retries += 1;
                retries += 1;
                let duration = (m.try_end - m.try_start).max(0) as u64;
                stats.retried_tries.push((duration, m.try_outcome));
            }
            // The call's outcome is its last answer's (a try that lost a hedge race has none).
            if !call.cancelled && call.end >= m.end {
                m.error = call.error;
            }
            m.end = m.end.max(call.end);
            m.try_start = call.start;
            m.try_end = call.end;
            m.try_outcome = call.outcome;
        }
        for m in &merged {
            let service = self.endpoints[m.target as usize].service;
            let stats = self.tries.entry(service).or_default();
            stats.calls += 1;
            stats.retried_calls += u64::from(m.retries > 0);
            stats.max_retries = stats.max_retries.max(m.retries);
            stats.max_hedges = stats.max_hedges.max(m.hedges);
        }
        // Own work: the span minus the time its calls cover (a retried call from its first
        // try's start to its last try's end, so backoff is not work).
        let mut covered = 0i64;
        let mut reach = start;
        for call in merged.iter() {
            let (s, e) = (call.start.max(reach), call.end.min(end));
            if e > s {
                covered += e - s;
                reach = e;
            }
        }
        let own = ((end - start) - covered).max(0) as u64;
        let failed_call = merged.iter().any(|m| m.error);
        if error && !failed_call {
            self.services.entry(service).or_default().own_errors += 1;
        }
        let e = &mut self.endpoints[endpoint as usize];
        e.jobs += 1;
        e.own_work.push(own);
        e.retries += retries;
        // Steps: a call overlapping the current step joins it; one starting after every call
        // of the step has ended starts the next step.
        let mut step_end = i64::MIN;
        let mut step = 0u32;
        let mut occurrences: Vec<(u32, u32)> = Vec::new();
        let mut placed: Vec<(u32, u32)> = Vec::with_capacity(merged.len()); // (slot, step)
        for (i, call) in merged.iter().enumerate() {
            if i > 0 && call.start >= step_end {
                step += 1;
            }
            step_end = if i == 0 {
                call.end
            } else {
                step_end.max(call.end)
            };
            let occurrence = match occurrences.iter_mut().find(|(t, _)| *t == call.target) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    occurrences.push((call.target, 0));
                    0
                }
            };
            let next = e.slots.len() as u32;
            let slot = *e
                .slot_index
                .entry((call.target, occurrence))
                .or_insert(next);
            if slot == next {
                e.slots.push(Slot {
                    target: call.target,
                    occurrence,
                    present: 0,
                    offset_sum: 0.0,
                });
            }
            let s = &mut e.slots[slot as usize];
            s.present += 1;
            s.offset_sum += (call.start - start) as f64;
            placed.push((slot, step));
        }
        for (i, &(a, step_a)) in placed.iter().enumerate() {
            for &(b, step_b) in &placed[i + 1..] {
                let key = (a.min(b), a.max(b));
                let pair = e.pairs.entry(key).or_insert((0, 0));
                pair.0 += 1;
                if step_a == step_b {
                    pair.1 += 1;
                }
            }
        }
    }

    // ----- writing the scenario -------------------------------------------------------------

    /// The scenario; an error naming the files when what they show is past the scenario's
    /// limits: a span of time longer than a scenario may last, more instance ids (replicas)
    /// than it may have, a workload's rate.
    fn emit(mut self, name: &str, options: &ImportOptions) -> Result<Imported, ScenarioErrors> {
        let set = self.set;
        let mut warnings = Vec::new();
        let broken_total: u64 = self.broken.values().map(|(c, _)| c).sum();
        for (kind, (count, example)) in &self.broken {
            warnings.push(format!(
                "skipped {count} broken trace{} ({kind}), e.g. {example}",
                if *count == 1 { "" } else { "s" }
            ));
        }
        self.network.sort_unstable();
        self.edge_network.sort_unstable();
        if self.network.is_empty() {
            self.network = self.edge_network.clone();
        }
        let one_way_median = quantile(&self.network, 0.5);
        // Leaf endpoints (never seen serving): work is the client's duration less two hops.
        for e in &mut self.endpoints {
            if e.leaf {
                e.own_work = e
                    .client_durations
                    .iter()
                    .map(|&d| (d as f64 - 2.0 * one_way_median).max(0.0) as u64)
                    .collect();
                e.jobs = e.own_work.len() as u64;
            }
        }
        // Names: cleaned of '/' and '#', unique.
        let mut service_names: BTreeMap<u32, String> = BTreeMap::new();
        let mut used = BTreeSet::new();
        let mut raw_services: Vec<u32> = self.endpoints.iter().map(|e| e.service).collect();
        raw_services.sort_by(|a, b| set.names.get(*a).cmp(set.names.get(*b)));
        raw_services.dedup();
        for &service in &raw_services {
            let clean = unique(clean_name(set.names.get(service)), &mut used);
            service_names.insert(service, clean);
        }
        let mut endpoint_names: Vec<String> = vec![String::new(); self.endpoints.len()];
        let mut by_service: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (index, e) in self.endpoints.iter().enumerate() {
            by_service
                .entry(service_names[&e.service].clone())
                .or_default()
                .push(index as u32);
        }
        for list in by_service.values_mut() {
            list.sort_by(|a, b| {
                set.names
                    .get(self.endpoints[*a as usize].name)
                    .cmp(set.names.get(self.endpoints[*b as usize].name))
            });
            let mut used = BTreeSet::new();
            for &e in list.iter() {
                let raw = set.names.get(self.endpoints[e as usize].name);
                endpoint_names[e as usize] = unique(clean_name(raw), &mut used);
            }
        }
        let full_names: Vec<String> = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(e, stats)| format!("{}/{}", service_names[&stats.service], endpoint_names[e]))
            .collect();
        let target_text = |e: u32| full_names[e as usize].clone();
        // Steps of each endpoint, cycles broken.
        let mut steps: Vec<Vec<Vec<(u32, f64)>>> = self
            .endpoints
            .iter()
            .map(|e| call_steps(e, &mut warnings, &target_text))
            .collect();
        break_cycles(&mut steps, &target_text, &mut warnings);

        // Load.
        self.arrivals.sort_unstable();
        let first = self.arrivals.first().map_or(0, |a| a.0);
        let last = self.arrivals.last().map_or(0, |a| a.0);
        let traces = self.arrivals.len() as u64;
        let sampling = set.sampling.unwrap_or(1.0);
        let window = (last - first).max(0) as f64;
        let rate_total = if traces >= 2 && window > 0.0 {
            (traces - 1) as f64 / (window / 1e9) / sampling
        } else {
            traces as f64 / sampling
        };
        let duration_ns = if options.replay {
            (window as u64 + 1_000_000).max(1_000_000)
        } else {
            (window as u64).max(1_000_000_000)
        };
        let duration_ms = duration_ns.div_ceil(1_000_000);
        let files = set.files.join(", ");
        if duration_ms.saturating_mul(1_000_000) > MAX_DURATION {
            return Err(ScenarioErrors::single(
                files,
                format!(
                    "the traces span {:.1} h (their first arrival to their last): {}",
                    window / 3.6e12,
                    crate::scenario::duration::too_long("a scenario's duration")
                ),
            ));
        }
        // Replicas: distinct instance ids, within the scenario's limits.
        let mut slots = 0u64;
        for (service_name, list) in &by_service {
            let raw = self.endpoints[list[0] as usize].service;
            let instances = self.services.get(&raw).map_or(0, |s| s.instances.len()) as u64;
            if instances > MAX_REPLICAS_PER_SERVICE {
                return Err(ScenarioErrors::single(
                    files,
                    format!(
                        "service \"{service_name}\" shows {instances} distinct instance ids, \
                         more than meshsim's limit of {MAX_REPLICAS_PER_SERVICE} replicas per \
                         service"
                    ),
                ));
            }
            slots += instances.max(1);
        }
        if slots > MAX_REPLICAS_TOTAL {
            return Err(ScenarioErrors::single(
                files,
                format!(
                    "the services show {slots} distinct instance ids together, more than \
                     meshsim's limit of {MAX_REPLICAS_TOTAL} replicas over all services"
                ),
            ));
        }
        let window_ns = crate::import::time_series_window(
            duration_ms * 1_000_000,
            by_service.len() as u64 + slots + 1,
        );
        let warmup_ms = if options.replay {
            0
        } else {
            (duration_ms / 10).min(10_000)
        };
        let mut end_to_end = std::mem::take(&mut self.end_to_end);
        end_to_end.sort_unstable();

        let mut out = String::new();
        let spans_read = set.spans.len();
        let _ = writeln!(
            out,
            "# Imported by `meshsim import traces` from {} ({}).\n\
             # Read {spans_read} spans of {} traces; used {} traces ({} spans) over {}; skipped {broken_total}\n\
             # broken traces{}.",
            set.files.join(", "),
            set.format.description(),
            set.trace_count(),
            self.used_traces,
            self.used_spans,
            seconds(window),
            if broken_total > 0 { " (see the warnings)" } else { "" },
        );
        let _ = writeln!(
            out,
            "# Observed end to end (first span start to last span end per trace): p50 {}, p99 {}.",
            duration_text(quantile(&end_to_end, 0.5)),
            duration_text(quantile(&end_to_end, 0.99)),
        );
        match set.sampling {
            Some(p) => {
                let _ = writeln!(
                    out,
                    "# Sampling: the traces say p = {} (tracestate ot=th); rates are scaled by 1/p.",
                    number(round_to(p, 6))
                );
            }
            None => out.push_str(
                "# Sampling: none declared; rates are those of the traces read (scale them with\n\
                 # --set workload.NAME.rate=... if the traces were sampled).\n",
            ),
        }
        let _ = writeln!(
            out,
            "#\n\
             # Inferred (docs/traces.md): services from service names; endpoints from server span\n\
             # names; replicas from distinct instance ids; call steps from the overlap of a request's\n\
             # calls, each call's p from how often a request makes it; service_time is the server\n\
             # span minus the time its calls cover, written as its quantiles; network latency is\n\
             # half of client minus server duration; error_rate counts failed requests none of whose\n\
             # calls failed; load is {}.\n\
             # Assumed: {} workers per replica (--workers; concurrency cannot be seen in traces, and\n\
             # the measured work already holds the queueing the traces saw); no timeout or balancer\n\
             # policy, and retries and hedges only where the tries show them (set them to ask\n\
             # what-if questions); {}.",
            if options.replay {
                "the traces' arrival times replayed (--replay)"
            } else {
                "a Poisson workload per entry endpoint at its observed rate"
            },
            options.workers,
            if self.network.is_empty() {
                "no client/server span pair, so no network latency (const(0ms))"
            } else {
                "the same latency distribution on every hop"
            },
        );
        let _ = write!(
            out,
            "\n[scenario]\nname = {}\nseed = {}\nduration = {}\nwarmup = {}\n",
            toml_string(name),
            options.seed,
            toml_string(&format!("{duration_ms}ms")),
            toml_string(&format!("{warmup_ms}ms")),
        );
        if let Some(window) = window_ns {
            let _ = writeln!(
                out,
                "window = {}          # 1s windows over the traces' span would pass the limits of windows and rows",
                toml_string(&crate::scenario::format_ns(window))
            );
        }
        let latency = if self.network.is_empty() {
            "const(0ms)".to_string()
        } else {
            quantiles_text(&self.network)
        };
        let _ = write!(
            out,
            "\n[network]                # one way: half of client minus server span, {} pairs\nlatency = {}\n",
            self.network.len(),
            toml_string(&latency)
        );
        if self.edge_network.is_empty() {
            out.push_str(
                "# No load generator's client span: requests enter with no network hop, so the\n\
                 # end-to-end latency is the entry span's.\nedge_latency = \"const(0ms)\"\n",
            );
        } else {
            let _ = write!(
                out,
                "# From the load generator (root client spans) to the entry services, {} pairs:\nedge_latency = {}\n",
                self.edge_network.len(),
                toml_string(&quantiles_text(&self.edge_network))
            );
        }
        for (service_name, list) in &by_service {
            let raw = self.endpoints[list[0] as usize].service;
            let stats = self.services.get(&raw);
            out.push_str("\n[[service]]\n");
            let _ = writeln!(out, "name = {}", toml_string(service_name));
            let instances = stats.map_or(0, |s| s.instances.len());
            if instances > 0 {
                let _ = writeln!(
                    out,
                    "replicas = {instances}             # distinct instance ids seen"
                );
            } else {
                let _ = writeln!(
                    out,
                    "replicas = 1             # assumed: no instance id in the traces"
                );
            }
            let _ = writeln!(out, "workers = {}", options.workers);
            if let Some(stats) = stats.filter(|s| s.own_errors > 0 && s.jobs > 0) {
                let _ = writeln!(
                    out,
                    "error_rate = {}        # {} of {} requests failed with no failed call",
                    number(round_to(stats.own_errors as f64 / stats.jobs as f64, 6)),
                    stats.own_errors,
                    stats.jobs
                );
            }
            if let Some(tries) = self.tries.get(&raw) {
                write_try_policy(&mut out, tries, set.format.resolution());
            }
            for &index in list {
                let e = &mut self.endpoints[index as usize];
                e.own_work.sort_unstable();
                let _ = writeln!(
                    out,
                    "\n  [[service.endpoint]]\n  name = {}        # {} requests{}; own work p50 {}, p99 {}",
                    toml_string(&endpoint_names[index as usize]),
                    e.jobs,
                    if e.leaf { " (never seen serving: work from its callers' client spans)" } else { "" },
                    duration_text(quantile(&e.own_work, 0.5)),
                    duration_text(quantile(&e.own_work, 0.99)),
                );
                let _ = writeln!(
                    out,
                    "  service_time = {}",
                    toml_string(&quantiles_text(&e.own_work))
                );
                if e.retries > 0 {
                    let _ = writeln!(
                        out,
                        "  # {} retries seen (tries after a failed one, merged into their call)",
                        e.retries
                    );
                }
                write_steps(&mut out, &steps[index as usize], &target_text);
            }
        }
        let mut side_files = Vec::new();
        if options.replay {
            let file = format!("{}-arrivals.csv", clean_name(name));
            let mut csv = String::from("time,endpoint\n");
            for &(at, endpoint) in &self.arrivals {
                let _ = writeln!(
                    csv,
                    "{:.9},{}",
                    (at - first) as f64 / 1e9,
                    target_text(endpoint)
                );
            }
            let target = self.most_common_entry().map_or(String::new(), target_text);
            let _ = write!(
                out,
                "\n[[workload]]             # the traces' {} arrivals, replayed\nname = \"replay\"\ntarget = {}\narrival = \"trace\"\ntrace = {}\n",
                self.arrivals.len(),
                toml_string(&target),
                toml_string(&file)
            );
            side_files.push((file, csv));
        } else {
            let mut entries: Vec<u32> = (0..self.endpoints.len() as u32)
                .filter(|&e| self.endpoints[e as usize].entries > 0)
                .collect();
            entries.sort_by_key(|&e| target_text(e));
            let mut used = BTreeSet::new();
            for e in entries {
                let count = self.endpoints[e as usize].entries;
                let rate = rate_total * count as f64 / traces as f64;
                if rate > MAX_RATE {
                    return Err(ScenarioErrors::single(
                        files,
                        format!(
                            "{count} traces enter {} within {}: {} requests per second, more \
                             than meshsim's limit of {MAX_RATE} per workload (--replay replays \
                             their arrival times instead)",
                            target_text(e),
                            duration_text(window),
                            number(round_to(rate, 6))
                        ),
                    ));
                }
                let workload = unique(target_text(e).replace('/', "-"), &mut used);
                let _ = write!(
                    out,
                    "\n[[workload]]             # {count} traces enter here\nname = {}\ntarget = {}\narrival = \"poisson\"\nrate = {}\n",
                    toml_string(&workload),
                    toml_string(&target_text(e)),
                    number(round_to(rate, 6)),
                );
            }
        }
        Ok(Imported {
            text: out,
            name: name.to_string(),
            side_files,
            warnings,
        })
    }

    fn most_common_entry(&self) -> Option<u32> {
        (0..self.endpoints.len() as u32)
            .filter(|&e| self.endpoints[e as usize].entries > 0)
            .max_by_key(|&e| (self.endpoints[e as usize].entries, std::cmp::Reverse(e)))
    }
}

/// Writes the `[service.policy]` that the tries of the calls to a service show, if they show
/// any retry or hedge: `retries` with `max` the most retries seen in one call, `on` the named
/// failures of the retried tries (`error` when a failure is not named), `per_try_timeout` when
/// the retried tries that timed out (or failed unnamed) end at one common duration; `hedge` with
/// `after` the median delay from a call's first try to its hedge and `max` the most hedges in
/// one call. `resolution` is the format's time resolution, nanoseconds.
fn write_try_policy(out: &mut String, tries: &TryStats, resolution: i64) {
    if tries.max_retries == 0 && tries.max_hedges == 0 {
        return;
    }
    out.push_str("\n  [service.policy]         # as the tries of the calls to this service show\n");
    if tries.max_retries > 0 {
        let per_try_timeout = common_try_timeout(&tries.retried_tries, resolution);
        let mut on = [false; 6];
        for &(duration, outcome) in &tries.retried_tries {
            let outcome = match outcome {
                Some(outcome) => outcome,
                None if per_try_timeout
                    .is_some_and(|t| duration.abs_diff(t) <= tolerance(t, resolution)) =>
                {
                    Outcome::Timeout
                }
                None => Outcome::Error,
            };
            on[outcome.index()] = true;
        }
        let on: Vec<String> = Outcome::FAILURES
            .iter()
            .filter(|o| on[o.index()])
            .map(|o| toml_string(o.name()))
            .collect();
        let timeout = per_try_timeout.map_or(String::new(), |t| {
            format!(
                ", per_try_timeout = {}",
                toml_string(&duration_text(t as f64))
            )
        });
        let _ = writeln!(
            out,
            "  retries = {{ max = {}, on = [{}]{timeout} }}   # {} of {} calls retried; backoff: defaults",
            tries.max_retries,
            on.join(", "),
            tries.retried_calls,
            tries.calls,
        );
    }
    if tries.max_hedges > 0 {
        let mut delays = tries.hedge_delays.clone();
        delays.sort_unstable();
        let _ = writeln!(
            out,
            "  hedge = {{ after = {}, max = {} }}   # {} hedges; first try to hedge p50 {}, p99 {}",
            toml_string(&duration_text(quantile(&delays, 0.5))),
            tries.max_hedges,
            delays.len(),
            duration_text(quantile(&delays, 0.5)),
            duration_text(quantile(&delays, 0.99)),
        );
    }
}

/// How far apart two durations ending at one timer may be: the format's resolution, or 0.1%.
fn tolerance(duration: u64, resolution: i64) -> u64 {
    (resolution.max(1) as u64).max(duration / 1000)
}

/// The per-try timeout that the retried tries show, if any: the longest of those that timed out
/// (or failed without a named outcome), when at least three of them (or every one named
/// `timeout`) end within [`tolerance`] of it; the shortest of that group, since the timer fires
/// at the same delay after each try starts.
fn common_try_timeout(retried: &[(u64, Option<Outcome>)], resolution: i64) -> Option<u64> {
    let candidates: Vec<(u64, bool)> = retried
        .iter()
        .filter(|(_, o)| matches!(o, None | Some(Outcome::Timeout)))
        .map(|&(d, o)| (d, o == Some(Outcome::Timeout)))
        .collect();
    let longest = candidates.iter().map(|c| c.0).max()?;
    let group: Vec<&(u64, bool)> = candidates
        .iter()
        .filter(|c| longest - c.0 <= tolerance(longest, resolution))
        .collect();
    let named = candidates.iter().filter(|c| c.1).count();
    let all_named_in_group = named > 0 && group.iter().filter(|c| c.1).count() == named;
    (group.len() >= 3 || all_named_in_group)
        .then(|| group.iter().map(|c| c.0).min().unwrap_or(longest))
}

/// The endpoint's call steps: slots ordered by mean start offset, grouped with the step before
/// when most requests that make both made them in one step. Each call with its probability.
fn call_steps(
    e: &EndpointStats,
    warnings: &mut Vec<String>,
    target_text: &dyn Fn(u32) -> String,
) -> Vec<Vec<(u32, f64)>> {
    if e.jobs == 0 || e.slots.is_empty() {
        return Vec::new();
    }
    let mut slots: Vec<u32> = (0..e.slots.len() as u32).collect();
    if slots.len() > MAX_CALLS {
        slots.sort_by_key(|&s| std::cmp::Reverse(e.slots[s as usize].present));
        let dropped = slots.len() - MAX_CALLS;
        slots.truncate(MAX_CALLS);
        warnings.push(format!(
            "an endpoint makes more than {MAX_CALLS} distinct calls; its {dropped} rarest were dropped"
        ));
    }
    let mean_offset = |s: u32| {
        let slot = &e.slots[s as usize];
        slot.offset_sum / slot.present as f64
    };
    slots.sort_by(|&a, &b| {
        mean_offset(a).total_cmp(&mean_offset(b)).then_with(|| {
            let (sa, sb) = (&e.slots[a as usize], &e.slots[b as usize]);
            target_text(sa.target)
                .cmp(&target_text(sb.target))
                .then(sa.occurrence.cmp(&sb.occurrence))
        })
    });
    let mut steps: Vec<Vec<u32>> = Vec::new();
    for slot in slots {
        let joins = steps.last().is_some_and(|step| {
            let (mut both, mut same) = (0u64, 0u64);
            for &other in step {
                if let Some(&(b, s)) = e.pairs.get(&(other.min(slot), other.max(slot))) {
                    both += b;
                    same += s;
                }
            }
            both > 0 && 2 * same > both
        });
        match steps.last_mut() {
            Some(step) if joins => step.push(slot),
            _ => steps.push(vec![slot]),
        }
    }
    steps
        .into_iter()
        .map(|step| {
            step.into_iter()
                .map(|s| {
                    let slot = &e.slots[s as usize];
                    (slot.target, (slot.present as f64 / e.jobs as f64).min(1.0))
                })
                .collect()
        })
        .collect()
}

/// Drops calls that close a cycle of endpoints (the scenario format refuses cycles).
fn break_cycles(
    steps: &mut [Vec<Vec<(u32, f64)>>],
    target_text: &dyn Fn(u32) -> String,
    warnings: &mut Vec<String>,
) {
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state = vec![0u8; steps.len()];
    for root in 0..steps.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let calls: Vec<u32> = steps[node].iter().flatten().map(|c| c.0).collect();
            if *next >= calls.len() {
                state[node] = 2;
                stack.pop();
                continue;
            }
            let target = calls[*next] as usize;
            *next += 1;
            match state[target] {
                0 => {
                    state[target] = 1;
                    stack.push((target, 0));
                }
                1 => {
                    for step in steps[node].iter_mut() {
                        step.retain(|c| c.0 as usize != target);
                    }
                    if let Some(top) = stack.last_mut() {
                        top.1 = 0; // the list changed: walk it again (done ones are skipped)
                    }
                    warnings.push(format!(
                        "dropped the call from {} to {}: it closes a cycle, which scenarios refuse",
                        target_text(node as u32),
                        target_text(target as u32)
                    ));
                }
                _ => {}
            }
        }
    }
    for endpoint in steps.iter_mut() {
        endpoint.retain(|step| !step.is_empty());
    }
}

fn write_steps(out: &mut String, steps: &[Vec<(u32, f64)>], target_text: &dyn Fn(u32) -> String) {
    if steps.is_empty() {
        return;
    }
    let call = |&(target, p): &(u32, f64)| {
        if p >= 0.9995 {
            toml_string(&target_text(target))
        } else {
            format!(
                "{{ to = {}, p = {} }}",
                toml_string(&target_text(target)),
                number(round_to(p, 4).max(0.0001))
            )
        }
    };
    let texts: Vec<String> = steps
        .iter()
        .map(|step| {
            if step.len() == 1 {
                call(&step[0])
            } else {
                format!("[{}]", step.iter().map(call).collect::<Vec<_>>().join(", "))
            }
        })
        .collect();
    let one_line = format!("  calls = [{}]", texts.join(", "));
    if one_line.len() <= 100 {
        out.push_str(&one_line);
        out.push('\n');
        return;
    }
    out.push_str("  calls = [\n");
    for text in texts {
        let _ = writeln!(out, "    {text},");
    }
    out.push_str("  ]\n");
}

/// The `q` quantile of sorted `samples` (linear between order statistics), nanoseconds.
pub fn quantile(samples: &[u64], q: f64) -> f64 {
    match samples.len() {
        0 => 0.0,
        1 => samples[0] as f64,
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let low = position.floor() as usize;
            let high = (low + 1).min(n - 1);
            let fraction = position - low as f64;
            samples[low] as f64 * (1.0 - fraction) + samples[high] as f64 * fraction
        }
    }
}

/// `quantiles(0=..., ..., 1=...)` of sorted `samples` at [`LEVELS`].
pub fn quantiles_text(samples: &[u64]) -> String {
    let mut parts = Vec::with_capacity(LEVELS.len());
    let mut previous = 0u64;
    for level in LEVELS {
        // Whole nanoseconds, never decreasing (rounding must not break the order).
        let value = (quantile(samples, level).round() as u64).max(previous);
        previous = value;
        parts.push(format!("{}={}", number(level), duration_text(value as f64)));
    }
    format!("quantiles({})", parts.join(", "))
}

/// A duration in nanoseconds as the scenario format writes it, exact to the nanosecond.
pub fn duration_text(nanos: f64) -> String {
    let ns = nanos.round().max(0.0) as u64;
    if ns == 0 {
        return "0ms".to_string();
    }
    let (unit, factor) = if ns >= 1_000_000 {
        ("ms", 1_000_000u64)
    } else if ns >= 1_000 {
        ("us", 1_000)
    } else {
        return format!("{ns}ns");
    };
    let whole = ns / factor;
    let fraction = ns % factor;
    if fraction == 0 {
        return format!("{whole}{unit}");
    }
    let digits = if factor == 1_000_000 { 6 } else { 3 };
    let text = format!("{fraction:0digits$}");
    format!("{whole}.{}{unit}", text.trim_end_matches('0'))
}

fn seconds(nanos: f64) -> String {
    format!("{:.3} s", nanos / 1e9)
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

fn round_to(value: f64, significant: i32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let magnitude = value.abs().log10().floor() as i32;
    let factor = 10f64.powi(significant - 1 - magnitude);
    (value * factor).round() / factor
}

/// A name the scenario format accepts: no '/', '#' or surrounding spaces, not empty.
pub fn clean_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c == '/' || c == '#' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "unnamed".to_string()
    } else {
        cleaned.to_string()
    }
}

/// `name`, or `name-2`, `name-3`... the first not in `used` (then added to it), shortened as
/// needed to stay within [`MAX_NAME_BYTES`] (a workload's name joins its service's and its
/// endpoint's).
fn unique(name: String, used: &mut BTreeSet<String>) -> String {
    let mut candidate = truncated(&name, MAX_NAME_BYTES).to_string();
    let mut n = 2;
    while !used.insert(candidate.clone()) {
        let suffix = format!("-{n}");
        candidate = format!(
            "{}{suffix}",
            truncated(&name, MAX_NAME_BYTES - suffix.len())
        );
        n += 1;
    }
    candidate
}

/// The longest start of `text` of at most `bytes` bytes that ends at a character boundary,
/// without trailing spaces (a name may not end with one).
fn truncated(text: &str, bytes: usize) -> &str {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim_end()
}

/// `text` for a message: its first 40 characters, and "..." when it is longer.
fn shortened(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_try_timeout_needs_tries_ending_together() {
        let ms = |m: f64| (m * 1e6) as u64;
        let unnamed = |d: &[f64]| d.iter().map(|&m| (ms(m), None)).collect::<Vec<_>>();
        // Three unnamed failures within 0.1% of the longest: the shortest of them.
        assert_eq!(
            common_try_timeout(&unnamed(&[100.0, 300.0, 300.2, 300.1]), 1),
            Some(ms(300.0))
        );
        // Two are not enough without names; one named `timeout` is.
        assert_eq!(
            common_try_timeout(&unnamed(&[100.0, 300.0, 300.0]), 1),
            None
        );
        assert_eq!(
            common_try_timeout(&[(ms(250.0), Some(Outcome::Timeout))], 1),
            Some(ms(250.0))
        );
        // Named timeouts that do not end together show no single timer.
        let spread = [
            (ms(250.0), Some(Outcome::Timeout)),
            (ms(300.0), Some(Outcome::Timeout)),
        ];
        assert_eq!(common_try_timeout(&spread, 1), None);
        // Failures named otherwise (refused at once) are not timeouts.
        let refused = vec![(ms(1.0), Some(Outcome::Refused)); 5];
        assert_eq!(common_try_timeout(&refused, 1), None);
        // Whole milliseconds (Alibaba): the resolution is the tolerance.
        assert_eq!(
            common_try_timeout(&unnamed(&[50.0, 51.0, 51.0]), 1_000_000),
            Some(ms(50.0))
        );
    }

    #[test]
    fn retry_and_hedge_policies_are_written_from_the_tries() {
        let mut out = String::new();
        let tries = TryStats {
            calls: 10,
            retried_calls: 3,
            max_retries: 2,
            max_hedges: 1,
            retried_tries: vec![
                (1_000, Some(Outcome::Refused)),
                (2_000, None),
                (300_000_000, Some(Outcome::Timeout)),
            ],
            hedge_delays: vec![3_000_000, 3_000_000, 4_000_000],
        };
        write_try_policy(&mut out, &tries, 1);
        assert!(
            out.contains(
                r#"retries = { max = 2, on = ["timeout", "refused", "error"], per_try_timeout = "300ms" }"#
            ),
            "{out}"
        );
        assert!(
            out.contains(r#"hedge = { after = "3ms", max = 1 }"#),
            "{out}"
        );
        let mut none = String::new();
        write_try_policy(&mut none, &TryStats::default(), 1);
        assert!(none.is_empty());
    }

    #[test]
    fn durations_are_written_exactly() {
        for ns in [
            0u64,
            7,
            999,
            1_000,
            1_234,
            999_999,
            1_000_000,
            1_234_567,
            20_000_000_001,
        ] {
            let text = duration_text(ns as f64);
            let back = crate::scenario::parse_duration(&text).expect(&text);
            assert_eq!(back, ns, "{text}");
        }
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let samples: Vec<u64> = (0..=100).map(|i| i * 10).collect();
        assert_eq!(quantile(&samples, 0.5), 500.0);
        assert_eq!(quantile(&samples, 0.995), 995.0);
        assert_eq!(quantile(&[5], 0.3), 5.0);
        assert_eq!(quantile(&[], 0.3), 0.0);
    }

    #[test]
    fn names_lose_slashes_and_stay_unique() {
        assert_eq!(clean_name(" GET /api/x#1 "), "GET _api_x_1");
        assert_eq!(clean_name("  "), "unnamed");
        let mut used = BTreeSet::new();
        assert_eq!(unique("a".into(), &mut used), "a");
        assert_eq!(unique("a".into(), &mut used), "a-2");
        // Made names (a workload's joins its service's and its endpoint's) fit the scenario's
        // limit, suffix included, cut at a character boundary and without a trailing space.
        let long = format!("{}é {}", "a".repeat(252), "b".repeat(100));
        let first = unique(long.clone(), &mut used);
        assert_eq!(first, format!("{}é", "a".repeat(252)));
        let second = unique(long, &mut used);
        assert_eq!(second, format!("{}-2", "a".repeat(252)));
        assert!(first.len() <= MAX_NAME_BYTES && second.len() <= MAX_NAME_BYTES);
        assert_eq!(shortened("short"), "short");
        assert_eq!(shortened(&"x".repeat(41)), format!("{}...", "x".repeat(40)));
    }
}
