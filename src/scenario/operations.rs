//! Operations: `[[service.version]]`, `[service.traffic]`, `[[deployment]]` and `[[change]]`
//! (the format is in `docs/operations.md`).

use super::calls::Directory;
use super::context::Ctx;
use super::file::{
    keys_of, AnalysisTable, ChangeTable, DeploymentTable, TrafficStep, TrafficTable, VersionTable,
};
use super::raw::{Node, Value};
use super::services::ServiceDraft;
use super::suggest::did_you_mean;
use crate::model::{
    Analysis, CallPolicy, ConfigChange, Deployment, Dist, Model, RollingBound, TrafficSplit,
    Version, WeightStep,
};

/// Default analysis interval: 30 s.
const DEFAULT_ANALYSIS_INTERVAL: u64 = 30_000_000_000;
/// Default fewest calls an analysis judges.
const DEFAULT_MIN_REQUESTS: u64 = 20;
/// Kubernetes' default `maxSurge` and `maxUnavailable`: 25 %.
const DEFAULT_ROLLING_PERCENT: f64 = 25.0;
/// Kubernetes' default `terminationGracePeriodSeconds`: 30 s.
const DEFAULT_TERMINATION_GRACE: u64 = 30_000_000_000;
/// Most versions a service may have.
const MAX_VERSIONS: usize = 64;

/// A version as written: what it does not set is `None` (taken from the service).
pub(crate) struct VersionDraft {
    pub name: String,
    pub replicas: Option<usize>,
    pub service_time: Option<Dist>,
    pub error_rate: Option<f64>,
}

/// Reads `[[service.version]]` tables (none is fine).
pub(crate) fn read_versions(ctx: &mut Ctx<'_>, node: &Node, service: &str) -> Vec<VersionDraft> {
    let Some(items) = ctx.tables(node, "[[service.version]]") else {
        return Vec::new();
    };
    if items.len() > MAX_VERSIONS {
        ctx.error(
            node,
            format!(
                "service \"{service}\" has {} versions, more than the limit of {MAX_VERSIONS}",
                items.len()
            ),
        );
        return Vec::new();
    }
    let mut drafts: Vec<VersionDraft> = Vec::new();
    for item in items {
        let Some(fields) = ctx.table(item, "[[service.version]]", keys_of::<VersionTable>()) else {
            continue;
        };
        let name_node = ctx.required(&fields, "name");
        let name = name_node.and_then(|n| ctx.name(n, "version name"));
        let replicas = fields.get("replicas").and_then(|n| {
            ctx.integer(
                n,
                "version replicas",
                0,
                super::limits::MAX_REPLICAS_PER_SERVICE as i64,
            )
            .map(|r| r as usize)
        });
        let service_time = fields
            .get("service_time")
            .and_then(|n| ctx.dist(n, "service_time"));
        let error_rate = fields
            .get("error_rate")
            .and_then(|n| ctx.fraction(n, "error_rate"));
        let (Some(name), Some(name_node)) = (name, name_node) else {
            continue;
        };
        if drafts.iter().any(|d| d.name == name) {
            ctx.error(
                name_node,
                format!("duplicate version name \"{name}\" in service \"{service}\""),
            );
            continue;
        }
        drafts.push(VersionDraft {
            name: name.to_string(),
            replicas,
            service_time,
            error_rate,
        });
    }
    drafts
}

/// The model versions of a service: its declared ones with the service's values filled in, or
/// one unnamed version of all its replicas.
pub(crate) fn resolve_versions(
    drafts: Vec<VersionDraft>,
    replicas: usize,
    error_rate: f64,
) -> Vec<Version> {
    if drafts.is_empty() {
        return vec![Version {
            name: String::new(),
            replicas,
            service_time: None,
            error_rate,
        }];
    }
    drafts
        .into_iter()
        .map(|d| Version {
            name: d.name,
            replicas: d.replicas.unwrap_or(replicas),
            service_time: d.service_time,
            error_rate: d.error_rate.unwrap_or(error_rate),
        })
        .collect()
}

/// Reads `[service.traffic]` against the service's versions.
pub(crate) fn read_traffic(
    ctx: &mut Ctx<'_>,
    node: &Node,
    service: &str,
    versions: &[Version],
) -> Option<TrafficSplit> {
    let fields = ctx.table(node, "[service.traffic]", keys_of::<TrafficTable>())?;
    let before = ctx.error_count();
    if !versions.iter().any(|v| !v.name.is_empty()) {
        ctx.error(
            node,
            format!(
                "[service.traffic] of service \"{service}\" splits calls across versions, and it \
                 declares none: add [[service.version]] tables"
            ),
        );
        return None;
    }
    let weights = ctx
        .required(&fields, "weights")
        .and_then(|n| read_weights(ctx, n, service, versions));
    let mut steps = Vec::new();
    if let Some(n) = fields.get("steps") {
        if let Some(items) = ctx.array(n, "traffic steps") {
            let mut last = 0;
            for item in items {
                let Some(step) = ctx.table(item, "a traffic step", keys_of::<TrafficStep>()) else {
                    continue;
                };
                let at = ctx
                    .required(&step, "at")
                    .and_then(|n| ctx.duration(n, "at"));
                let weights = ctx
                    .required(&step, "weights")
                    .and_then(|n| read_weights(ctx, n, service, versions));
                if let Some(at) = at {
                    if at < last {
                        ctx.error(item, "traffic steps must be sorted by at");
                    }
                    last = at;
                }
                if let (Some(at), Some(weights)) = (at, weights) {
                    steps.push(WeightStep { at, weights });
                }
            }
        }
    }
    let analysis = fields.get("analysis").and_then(|n| {
        read_analysis(
            ctx,
            n,
            service,
            versions,
            weights.as_deref().unwrap_or(&[]),
            &steps,
        )
    });
    if ctx.error_count() > before {
        return None;
    }
    Some(TrafficSplit {
        weights: weights?,
        steps,
        analysis,
    })
}

/// `{ v1 = 90, v2 = 10 }`: a weight per version (unnamed versions get 0; not all 0).
fn read_weights(
    ctx: &mut Ctx<'_>,
    node: &Node,
    service: &str,
    versions: &[Version],
) -> Option<Vec<u32>> {
    let Value::Table(entries) = &node.value else {
        ctx.error(
            node,
            format!(
                "weights must be a table of version = weight, like {{ v1 = 90, v2 = 10 }}; found {}",
                node.kind()
            ),
        );
        return None;
    };
    let mut weights = vec![0u32; versions.len()];
    let mut ok = true;
    for entry in entries {
        #[cfg(test)]
        super::fields::read_keys::record(entry.key_span.start);
        let Some(index) = versions.iter().position(|v| v.name == entry.key) else {
            ctx.error_at(
                entry.key_span.start,
                unknown_version(&entry.key, service, versions),
            );
            ok = false;
            continue;
        };
        match ctx.integer(&entry.node, "a weight", 0, 1_000_000) {
            Some(w) => weights[index] = w as u32,
            None => ok = false,
        }
    }
    if ok && weights.iter().all(|&w| w == 0) {
        ctx.error(
            node,
            "weights must give at least one version a weight above 0",
        );
        return None;
    }
    ok.then_some(weights)
}

fn unknown_version(name: &str, service: &str, versions: &[Version]) -> String {
    let names: Vec<&str> = versions.iter().map(|v| v.name.as_str()).collect();
    format!(
        "unknown version \"{name}\" of service \"{service}\": expected one of {}{}",
        names.join(", "),
        did_you_mean(name, names.iter().copied())
    )
}

fn read_analysis(
    ctx: &mut Ctx<'_>,
    node: &Node,
    service: &str,
    versions: &[Version],
    weights: &[u32],
    steps: &[WeightStep],
) -> Option<Analysis> {
    let fields = ctx.table(node, "analysis", keys_of::<AnalysisTable>())?;
    let version = match fields.get("version") {
        Some(n) => {
            let name = ctx.string(n, "analysis version")?;
            match versions.iter().position(|v| v.name == name) {
                Some(index) => index,
                None => {
                    ctx.error(n, unknown_version(name, service, versions));
                    return None;
                }
            }
        }
        None => versions.len() - 1,
    };
    if version == 0 {
        ctx.error(
            fields.get("version").unwrap_or(node),
            "the analysis judges a new version: the first version is the stable one traffic \
             rolls back to",
        );
        return None;
    }
    let interval = match fields.get("interval") {
        Some(n) => ctx.period(n, "analysis interval", false)?,
        None => DEFAULT_ANALYSIS_INTERVAL,
    };
    let max_error_rate = fields
        .get("max_error_rate")
        .and_then(|n| ctx.fraction(n, "max_error_rate"));
    let max_latency_p99 = fields
        .get("max_latency_p99")
        .and_then(|n| ctx.positive_duration(n, "max_latency_p99"));
    if max_error_rate.is_none() && max_latency_p99.is_none() {
        ctx.error(
            node,
            "an analysis needs max_error_rate, max_latency_p99 or both (what it checks)",
        );
        return None;
    }
    let min_requests = match fields.get("min_requests") {
        Some(n) => ctx.integer(n, "min_requests", 1, i64::from(u32::MAX))? as u64,
        None => DEFAULT_MIN_REQUESTS,
    };
    let failures = match fields.get("failures") {
        Some(n) => ctx.integer(n, "analysis failures", 1, 1_000_000)? as u32,
        None => 1,
    };
    let start = match fields.get("start") {
        Some(n) => ctx.duration(n, "analysis start")?,
        None => {
            let first_weighted = if weights.get(version).is_some_and(|&w| w > 0) {
                Some(0)
            } else {
                steps
                    .iter()
                    .find(|s| s.weights.get(version).is_some_and(|&w| w > 0))
                    .map(|s| s.at)
            };
            first_weighted.unwrap_or(0).saturating_add(interval)
        }
    };
    Some(Analysis {
        version,
        start,
        interval,
        max_error_rate,
        max_latency_p99,
        min_requests,
        failures,
    })
}

/// Reads every `[[deployment]]` against the service drafts (their index is their service id);
/// returns them with `first_slot` relative to the service's own slots past its starting ones
/// (see [`place_deployments`]).
pub(crate) fn read_deployments(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    drafts: &[ServiceDraft],
    directory: &Directory,
) -> Vec<Deployment> {
    let Some(node) = node else {
        return Vec::new();
    };
    let Some(items) = ctx.tables(node, "[[deployment]]") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| read_deployment(ctx, item, drafts, directory))
        .collect()
}

fn read_deployment(
    ctx: &mut Ctx<'_>,
    node: &Node,
    drafts: &[ServiceDraft],
    directory: &Directory,
) -> Option<Deployment> {
    let fields = ctx.table(node, "[[deployment]]", keys_of::<DeploymentTable>())?;
    let before = ctx.error_count();
    let service_node = ctx.required(&fields, "service");
    let service = service_node.and_then(|n| {
        let name = ctx.string(n, "deployment service")?;
        let found = directory.service(name);
        if found.is_none() {
            let names: Vec<&str> = directory.service_names().collect();
            ctx.error(
                n,
                format!(
                    "unknown service \"{name}\" in [[deployment]]{}",
                    did_you_mean(name, names.iter().copied())
                ),
            );
        }
        found
    });
    let at = ctx
        .required(&fields, "at")
        .and_then(|n| ctx.duration(n, "at"));
    let draft = service.and_then(|s| drafts.get(s));
    let to = match (fields.get("to"), draft) {
        (Some(n), Some(draft)) if draft.versions.iter().all(|v| v.name.is_empty()) => {
            ctx.error(
                n,
                format!(
                    "service \"{}\" declares no [[service.version]] to deploy to (omit to for a \
                     redeploy)",
                    draft.name
                ),
            );
            None
        }
        (Some(n), Some(draft)) => {
            let name = ctx.string(n, "deployment to")?;
            match draft.versions.iter().position(|v| v.name == name) {
                Some(index) => Some(index),
                None => {
                    ctx.error(n, unknown_version(name, &draft.name, &draft.versions));
                    None
                }
            }
        }
        _ => Some(0),
    };
    // An autoscaled service's desired count is the HPA's, read at every step of the rollout;
    // the bounds are checked here against the count it starts with.
    // (The HPA scales the first version's replicas: the service's main Deployment.)
    let (desired, slots) = match draft {
        Some(d) => match &d.autoscale {
            Some(a) => (
                d.versions.first().map_or(d.replicas, |v| v.replicas),
                a.max as usize,
            ),
            None => (d.replicas, d.replicas),
        },
        None => (1, 1),
    };
    let max_surge = read_count(ctx, fields.get("max_surge"), "max_surge");
    let max_unavailable = read_count(ctx, fields.get("max_unavailable"), "max_unavailable");
    let autoscaled = draft.is_some_and(|d| d.autoscale.is_some());
    if let (Some(surge), Some(unavailable)) = (max_surge, max_unavailable) {
        let both_zero = |desired: usize| {
            surge.resolve(desired, true) == 0 && unavailable.resolve(desired, false) == 0
        };
        // An autoscaled service's count changes: only bounds that are 0 whatever it is
        // are refused (Kubernetes then allows 1 unavailable, as meshsim does at run time).
        let refused = if autoscaled {
            surge == RollingBound::Count(0) && unavailable == RollingBound::Count(0)
        } else {
            both_zero(desired)
        };
        if refused {
            ctx.error(
                fields.get("max_unavailable").unwrap_or(node),
                "max_surge and max_unavailable are both 0: the rollout could never progress",
            );
        }
    }
    let duration = |ctx: &mut Ctx<'_>, key: &str, default: u64| match fields.get(key) {
        Some(n) => ctx.duration(n, key),
        None => Some(default),
    };
    let readiness_delay = duration(ctx, "readiness_delay", 0);
    let pre_stop = duration(ctx, "pre_stop", 0);
    let termination_grace = duration(ctx, "termination_grace", DEFAULT_TERMINATION_GRACE);
    if ctx.error_count() > before {
        return None;
    }
    Some(Deployment {
        service: service?,
        at: at?,
        to: to?,
        first_slot: 0,
        slots,
        desired,
        max_surge: max_surge?,
        max_unavailable: max_unavailable?,
        readiness_delay: readiness_delay?,
        pre_stop: pre_stop?,
        termination_grace: termination_grace?,
    })
}

/// An integer count, or a percent of the desired count (resolved at each step of the
/// rollout); 25 % when absent.
fn read_count(ctx: &mut Ctx<'_>, node: Option<&Node>, what: &str) -> Option<RollingBound> {
    let Some(n) = node else {
        return Some(RollingBound::Percent(DEFAULT_ROLLING_PERCENT));
    };
    match &n.value {
        Value::Integer(_) => ctx
            .integer(n, what, 0, super::limits::MAX_REPLICAS_PER_SERVICE as i64)
            .map(|c| RollingBound::Count(c as usize)),
        Value::String { text, .. } => {
            let parsed = text
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<f64>().ok())
                .filter(|p| p.is_finite() && (0.0..=100.0).contains(p));
            if parsed.is_none() {
                ctx.error(
                    n,
                    format!(
                        "{what} must be a count or a percent from 0% to 100% like \"25%\", \
                         found \"{text}\""
                    ),
                );
            }
            parsed.map(RollingBound::Percent)
        }
        _ => {
            ctx.error(
                n,
                format!(
                    "{what} must be an integer or a percent like \"25%\", found {}",
                    n.kind()
                ),
            );
            None
        }
    }
}

/// Gives each deployment its replica slots: after the service's starting slots, in file order.
/// Returns, per service, the slots deployments add and the version of each.
pub(crate) fn place_deployments(
    deployments: &mut [Deployment],
    drafts: &[ServiceDraft],
) -> Vec<Vec<u32>> {
    let mut added: Vec<Vec<u32>> = vec![Vec::new(); drafts.len()];
    for deployment in deployments.iter_mut() {
        let draft = &drafts[deployment.service];
        let list = &mut added[deployment.service];
        let starting = crate::model::service::starting_slots(
            draft.replicas,
            draft
                .versions
                .first()
                .map_or(draft.replicas, |v| v.replicas),
            draft.autoscale.as_ref(),
        );
        deployment.first_slot = starting + list.len();
        list.extend(std::iter::repeat_n(deployment.to as u32, deployment.slots));
    }
    added
}

/// Reads every `[[change]]`: each `set` is applied to the scenario text as `--set` overrides
/// would be, the result read again, and the services' call policies taken from it. Only the
/// keys of call policies may change (see [`check_changeable`]).
pub(crate) fn read_changes(
    ctx: &mut Ctx<'_>,
    node: Option<&Node>,
    model: &Model,
) -> Vec<ConfigChange> {
    let Some(node) = node else {
        return Vec::new();
    };
    let Some(items) = ctx.tables(node, "[[change]]") else {
        return Vec::new();
    };
    // In time order, each change on top of the earlier ones (what a client has once it has
    // switched to a change is the scenario with every change up to it applied).
    let mut order: Vec<(u64, usize)> = items
        .iter()
        .enumerate()
        .map(|(index, item)| (peek_at(item).unwrap_or(0), index))
        .collect();
    order.sort_unstable();
    let mut applied: Vec<super::Override> = Vec::new();
    let mut changes = Vec::new();
    for (_, index) in order {
        if let Some((change, overrides)) = read_change(ctx, &items[index], model, &applied) {
            applied.extend(overrides);
            changes.push(change);
        }
    }
    changes
}

/// The `at` of a `[[change]]`, if it is readable (its problems are reported when it is read).
fn peek_at(node: &Node) -> Option<u64> {
    let Value::Table(entries) = &node.value else {
        return None;
    };
    let at = entries.iter().find(|e| e.key == "at")?;
    super::duration::parse_duration(at.node.as_str()?).ok()
}

/// One change, with the overrides it adds to `earlier`.
fn read_change(
    ctx: &mut Ctx<'_>,
    node: &Node,
    model: &Model,
    earlier: &[super::Override],
) -> Option<(ConfigChange, Vec<super::Override>)> {
    let fields = ctx.table(node, "[[change]]", keys_of::<ChangeTable>())?;
    let at = ctx
        .required(&fields, "at")
        .and_then(|n| ctx.duration(n, "at"));
    let propagation = match fields.get("propagation") {
        Some(n) => ctx.duration(n, "propagation"),
        None => Some(0),
    };
    let set = ctx.required(&fields, "set")?;
    let Value::Table(entries) = &set.value else {
        ctx.error(
            set,
            format!(
                "set must be a table of dotted keys and values, like {{ \"policy.timeout\" = \"100ms\" }}; found {}",
                set.kind()
            ),
        );
        return None;
    };
    if entries.is_empty() {
        ctx.error(set, "set must change at least one key");
        return None;
    }
    let mut overrides = Vec::new();
    for entry in entries {
        #[cfg(test)]
        super::fields::read_keys::record(entry.key_span.start);
        // `policy.timeout = "1s"` written without quotes is a nested table: flatten it.
        flatten(
            &entry.key,
            &entry.node,
            entry.key_span.start,
            &mut overrides,
        );
    }
    let mut label = Vec::new();
    let mut value_nodes = Vec::new();
    let mut valid = true;
    for (key, key_at, value_node) in &overrides {
        if let Err(message) = check_changeable(key) {
            ctx.error_at(*key_at, message);
            valid = false;
            continue;
        }
        let Some(value) = super::extras::override_text(value_node) else {
            ctx.error(value_node, "a date-time is not a value a scenario can hold");
            valid = false;
            continue;
        };
        label.push(super::Override {
            key: key.clone(),
            value,
        });
        value_nodes.push(*value_node);
    }
    if !valid {
        return None;
    }
    let cumulative: Vec<super::Override> = earlier.iter().chain(&label).cloned().collect();
    let changed = match super::load_variant(ctx.text(), ctx.base_dir(), &cumulative) {
        Ok(changed) => changed,
        Err(errors) => {
            report_change_errors(ctx, set, errors, earlier, &label, &value_nodes);
            return None;
        }
    };
    let policies: Vec<CallPolicy> = changed.services.into_iter().map(|s| s.policy).collect();
    if policies.len() != model.services.len() {
        ctx.error(set, "a change may not add services");
        return None;
    }
    let text = label
        .iter()
        .map(|o| format!("{}={}", o.key, o.value))
        .collect::<Vec<_>>()
        .join(" ");
    let change = ConfigChange {
        at: at?,
        propagation: propagation?,
        label: text,
        policies,
    };
    Some((change, label))
}

/// Reports why the scenario with a change applied is invalid: at the value of each key that is
/// wrong on its own (applied alone over the earlier changes), else — a combination of keys
/// is wrong — at `set`.
fn report_change_errors(
    ctx: &mut Ctx<'_>,
    set: &Node,
    errors: super::ScenarioErrors,
    earlier: &[super::Override],
    label: &[super::Override],
    value_nodes: &[&Node],
) {
    let mut attributed = false;
    if label.len() > 1 {
        for (single, node) in label.iter().zip(value_nodes) {
            let alone: Vec<super::Override> = earlier
                .iter()
                .chain(std::iter::once(single))
                .cloned()
                .collect();
            if let Err(own) = super::load_variant(ctx.text(), ctx.base_dir(), &alone) {
                for error in own.0 {
                    ctx.error(node, format!("with this change: {}", error.message));
                }
                attributed = true;
            }
        }
    } else if let Some(node) = value_nodes.first() {
        for error in &errors.0 {
            ctx.error(node, format!("with this change: {}", error.message));
        }
        return;
    }
    if !attributed {
        for error in errors.0 {
            ctx.error(set, format!("with this change: {}", error.message));
        }
    }
}

/// The mechanisms of a policy that are written as tables or `false`: a table given for one of
/// them replaces it whole (so that `"policy.hedge" = { after = "20ms" }` switches on a hedge
/// that was `false`); to change one of its keys, quote the whole dotted key.
const WHOLE_TABLES: [&str; 6] = [
    "retries",
    "circuit_breaker",
    "outlier_detection",
    "health_check",
    "hedge",
    "zone_aware",
];

/// The dotted keys, the offset of the key as written and the values of a `set` entry (a nested
/// table is flattened, but for the mechanism tables of [`WHOLE_TABLES`]).
fn flatten<'n>(key: &str, node: &'n Node, key_at: usize, out: &mut Vec<(String, usize, &'n Node)>) {
    let last = toml_edit::Key::parse(key)
        .ok()
        .and_then(|parts| parts.last().map(|k| k.get().to_string()))
        .unwrap_or_default();
    match &node.value {
        Value::Table(entries) if !WHOLE_TABLES.contains(&last.as_str()) => {
            for entry in entries {
                let inner = if needs_quotes(&entry.key) {
                    format!("{key}.\"{}\"", entry.key)
                } else {
                    format!("{key}.{}", entry.key)
                };
                flatten(&inner, &entry.node, key_at, out);
            }
        }
        _ => out.push((key.to_string(), key_at, node)),
    }
}

fn needs_quotes(key: &str) -> bool {
    !key.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The keys of a call policy, each of which a change may set (with the keys below it).
pub(crate) const CHANGEABLE_POLICY_KEYS: &str =
    "balancer, timeout, retries (max, per_try_timeout, \
     backoff, max_backoff, jitter, on, budget), circuit_breaker, outlier_detection, \
     health_check, hedge, max_requests, max_connections, max_pending, deadline_propagation, \
     zone_aware";

/// Whether a change may set `key`: a key of the scenario format (else the did-you-mean message
/// of `--set`) under `policy` or `service.NAME.policy`. Every other key is refused with why.
fn check_changeable(key: &str) -> Result<(), String> {
    let Ok(parsed) = toml_edit::Key::parse(key) else {
        return Err(format!(
            "change of \"{key}\": not a dotted key like service.api.policy.timeout"
        ));
    };
    let path: Vec<String> = parsed.iter().map(|k| k.get().to_string()).collect();
    super::keys::check(&path).map_err(|message| format!("change of \"{key}\": {message}"))?;
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    let rest = match parts.as_slice() {
        ["policy", rest @ ..] => rest,
        ["service", _, "policy", rest @ ..] => rest,
        _ => &[][..],
    };
    if rest.is_empty() {
        return Err(format!(
            "change of \"{key}\": a change may set only the keys of a call policy, under policy \
             or service.NAME.policy ({CHANGEABLE_POLICY_KEYS}, and the keys inside them): those \
             are what each client applies on its own, so a push reaches clients one by one; \
             replicas, work, workloads, faults and the registry belong to servers, the load \
             and the control plane, which a config push to the clients does not change"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_changeable;
    use crate::scenario::load_str;
    use std::path::Path;

    const BASE: &str = "[scenario]\nname = \"ops\"\nduration = \"60s\"\n\
        [[workload]]\ntarget = \"api\"\nrate = 10\n\
        [[service]]\nname = \"api\"\nreplicas = REPLICAS\nservice_time = \"exp(1ms)\"\n";

    fn load(replicas: usize, extra: &str) -> Result<crate::model::Model, String> {
        let text = format!("{}{extra}", BASE.replace("REPLICAS", &replicas.to_string()));
        load_str(&text, "ops.toml", Path::new("."), &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn percents_round_as_kubernetes_does() {
        // maxSurge rounds up, maxUnavailable down (k8s.io/apimachinery's
        // GetScaledValueFromIntOrPercent with roundUp true / false).
        for (replicas, surge, unavailable) in [(4, 1, 1), (3, 1, 0), (10, 3, 2), (1, 1, 0)] {
            let model =
                load(replicas, "[[deployment]]\nservice = \"api\"\nat = \"1s\"\n").expect("valid");
            let deployment = &model.deployments[0];
            assert_eq!(
                deployment.fenceposts(deployment.desired),
                (surge, unavailable),
                "{replicas} replicas"
            );
            assert_eq!(deployment.first_slot, replicas);
            assert_eq!(model.services[0].slots(), 2 * replicas);
        }
    }

    #[test]
    fn an_autoscaled_service_s_deployment_has_room_for_the_maximum() {
        let model = load(
            4,
            "[service.autoscale]\nmin = 2\nmax = 10\ntarget_utilization = 0.5\n\
             [[deployment]]\nservice = \"api\"\nat = \"1s\"\nmax_surge = \"50%\"\n",
        )
        .expect("valid");
        let deployment = &model.deployments[0];
        // After the autoscaler's 10 slots, 10 more: the new replicas may reach the maximum.
        assert_eq!((deployment.first_slot, deployment.slots), (10, 10));
        assert_eq!(model.services[0].slots(), 20);
        // The bounds are resolved against the count in force: 50% of 7 rounds up to 4.
        assert_eq!(deployment.fenceposts(7), (4, 1));
        // Both bounds 0 for some count: Kubernetes' fencepost allows 1 unavailable.
        assert_eq!(load(4, "[service.autoscale]\nmin = 2\nmax = 10\ntarget_utilization = 0.5\n\
             [[deployment]]\nservice = \"api\"\nat = \"1s\"\nmax_surge = 0\nmax_unavailable = \"10%\"\n")
            .expect("valid").deployments[0].fenceposts(9), (0, 1));
    }

    #[test]
    fn versions_take_what_they_do_not_set_from_the_service() {
        let model = load(
            3,
            "error_rate = 0.1\n[[service.version]]\nname = \"v1\"\n[[service.version]]\n\
             name = \"v2\"\nreplicas = 1\nerror_rate = 0.5\nservice_time = \"const(9ms)\"\n\
             [service.traffic]\nweights = { v1 = 9, v2 = 1 }\n",
        )
        .expect("valid");
        let service = &model.services[0];
        assert_eq!(service.replicas, 4);
        assert_eq!(service.replica_versions, vec![0, 0, 0, 1]);
        assert_eq!(service.versions[0].error_rate, 0.1);
        assert_eq!(service.versions[1].error_rate, 0.5);
        assert!(service.versions[0].service_time.is_none());
        assert_eq!(
            service.traffic.as_ref().map(|t| t.weights.clone()),
            Some(vec![9, 1])
        );
    }

    #[test]
    fn problems_are_positioned() {
        let cases = [
            (
                "[service.traffic]\nweights = { v1 = 1 }\n",
                "ops.toml:11:1: [service.traffic] of service \"api\" splits calls",
            ),
            (
                "[[service.version]]\nname = \"v1\"\n[service.traffic]\nweights = { v1 = 0 }\n",
                "ops.toml:14:11: weights must give at least one version a weight above 0",
            ),
            (
                "[[deployment]]\nservice = \"api\"\nat = \"1s\"\nmax_surge = \"120%\"\n",
                "ops.toml:14:13: max_surge must be a count or a percent",
            ),
            (
                "[[deployment]]\nservice = \"api\"\nat = \"1s\"\nto = \"v2\"\n",
                "ops.toml:14:6: service \"api\" declares no [[service.version]]",
            ),
            (
                "[[change]]\nat = \"1s\"\nset = { \"policy.balancr\" = \"maglev\" }\n",
                "ops.toml:13:9: change of \"policy.balancr\": there is no key \"balancr\" in \
                 policy; did you mean policy.balancer?",
            ),
            (
                "[[change]]\nat = \"1s\"\nset = { \"service.api.workers\" = 2 }\n",
                "ops.toml:13:9: change of \"service.api.workers\": a change may set only the keys \
                 of a call policy",
            ),
            (
                "[[change]]\nat = \"1s\"\nset = { \"policy.max_requests\" = 0 }\n",
                "ops.toml:13:33: with this change:",
            ),
        ];
        for (extra, expected) in cases {
            let error = load(2, extra).expect_err(extra);
            assert!(error.contains(expected), "{extra}\n{error}");
        }
    }

    #[test]
    fn a_change_carries_the_policies_with_it_applied() {
        let model = load(
            2,
            "[[change]]\nat = \"9s\"\nset = { \"policy.timeout\" = \"70ms\" }\n\
             [[change]]\nat = \"5s\"\nset = { \"policy.timeout\" = \"40ms\", \
             \"service.api.policy.retries.max\" = 2 }\npropagation = \"3s\"\n",
        )
        .expect("valid");
        // In time order, each on top of the earlier ones.
        let change = &model.changes[0];
        assert_eq!(
            (change.at, change.propagation),
            (5_000_000_000, 3_000_000_000)
        );
        assert_eq!(change.policies[0].timeout, 40_000_000);
        assert_eq!(change.policies[0].retries.max_retries, 2);
        let later = &model.changes[1];
        assert_eq!(later.policies[0].timeout, 70_000_000);
        assert_eq!(later.policies[0].retries.max_retries, 2);
        assert_eq!(model.services[0].policy.retries.max_retries, 0);
    }

    #[test]
    fn every_policy_key_is_changeable_and_nothing_else() {
        for key in [
            "policy.timeout",
            "policy.retries.max",
            "policy.retries.budget",
            "service.api.policy.retries",
            "policy.deadline_propagation",
            "policy.balancer",
            "policy.circuit_breaker.failure_rate",
            "policy.circuit_breaker",
            "service.api.policy.outlier_detection.interval",
            "policy.health_check.unhealthy",
            "policy.hedge.after",
            "policy.max_requests",
            "policy.max_connections",
            "policy.max_pending",
            "policy.zone_aware.min_cluster_size",
        ] {
            assert!(check_changeable(key).is_ok(), "{key}");
        }
        for key in [
            "service.api.workers",
            "service.api.replicas",
            "scenario.duration",
            "service.api.policy",
            "registry.model",
            "workload.0.rate",
        ] {
            let message = check_changeable(key).expect_err(key);
            assert!(
                message.contains("only the keys of a call policy"),
                "{message}"
            );
        }
        let message = check_changeable("policy.hegde").expect_err("unknown");
        assert!(message.contains("did you mean policy.hedge?"), "{message}");
    }
}
