//! `calls` lists and call targets: reading the steps of an endpoint and resolving `"svc"` /
//! `"svc/ep"` names to endpoint ids.

use std::collections::HashMap;

use super::context::Ctx;
use super::file::{keys_of, CallTable};
use super::raw::{Node, Value};
use super::suggest::did_you_mean;
use crate::model::{EndpointId, ServiceId};

/// Most calls one endpoint may make, over all its steps (the bits of a job's call mask; isotope's
/// 1000-service example fans out to 100).
pub(crate) const MAX_CALLS: usize = 128;

/// A call as written, before its target is resolved.
#[derive(Debug, Clone)]
pub(crate) struct CallDraft {
    /// The target as written.
    pub target: String,
    /// The node holding the target string (for positions).
    pub node: Node,
    /// Probability that the call is made.
    pub probability: f64,
    /// Whether a failure of the call is tolerated.
    pub optional: bool,
}

/// One step as written: one call, or several run in parallel.
#[derive(Debug, Clone)]
pub(crate) struct StepDraft {
    /// The calls of the step.
    pub calls: Vec<CallDraft>,
}

/// Reads a `calls` list: each step is a call or a list of calls run in parallel (one level).
pub(crate) fn read_calls(ctx: &mut Ctx<'_>, node: &Node) -> Vec<StepDraft> {
    let Some(items) = ctx.array(node, "calls") else {
        return Vec::new();
    };
    let mut steps = Vec::new();
    for item in items {
        match &item.value {
            Value::Array(parallel) => {
                if parallel.is_empty() {
                    ctx.error(
                        item,
                        "empty parallel step: a step written as a list needs at least one call",
                    );
                    continue;
                }
                let mut calls = Vec::new();
                for call in parallel {
                    if let Value::Array(_) = call.value {
                        ctx.error(
                            call,
                            "parallel steps cannot be nested: a step is a call or a list of calls, not a list of lists",
                        );
                    } else if let Some(call) = read_call(ctx, call) {
                        calls.push(call);
                    }
                }
                if !calls.is_empty() {
                    steps.push(StepDraft { calls });
                }
            }
            _ => {
                if let Some(call) = read_call(ctx, item) {
                    steps.push(StepDraft { calls: vec![call] });
                }
            }
        }
    }
    let total: usize = steps.iter().map(|s| s.calls.len()).sum();
    if total > MAX_CALLS {
        ctx.error(
            node,
            format!("too many calls: {total} (at most {MAX_CALLS} per endpoint)"),
        );
    }
    steps
}

fn read_call(ctx: &mut Ctx<'_>, node: &Node) -> Option<CallDraft> {
    match &node.value {
        Value::String { text, .. } => Some(CallDraft {
            target: text.clone(),
            node: node.clone(),
            probability: 1.0,
            optional: false,
        }),
        Value::Table(_) => {
            let fields = ctx.table(node, "a call", keys_of::<CallTable>())?;
            let probability = fields.get("p").map_or(Some(1.0), |p| ctx.fraction(p, "p"));
            let optional = fields
                .get("optional")
                .map_or(Some(false), |o| ctx.boolean(o, "optional"));
            let to = ctx.required(&fields, "to")?;
            let target = ctx.string(to, "to")?;
            Some(CallDraft {
                target: target.to_string(),
                node: to.clone(),
                probability: probability?,
                optional: optional?,
            })
        }
        _ => {
            ctx.error(
                node,
                format!(
                    "a call must be a string like \"user/get\", a table like {{ to = \"user/get\", p = 0.5 }}, \
                     or a list of those run in parallel; found {}",
                    node.kind()
                ),
            );
            None
        }
    }
}

/// Service and endpoint names, for resolving targets.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    services: Vec<(String, Vec<(String, EndpointId)>)>,
    by_name: HashMap<String, ServiceId>,
    /// Endpoints numbered so far (the next endpoint's id).
    endpoint_count: usize,
}

impl Directory {
    /// Adds a service with its endpoint names; returns the endpoint ids given to them (numbered
    /// on from the previous services'). A duplicate service name keeps the first.
    pub fn add(&mut self, service: &str, endpoints: &[String]) -> Vec<EndpointId> {
        // A running count, not a sum over the services so far: that made reading n services
        // take n^2 steps (52 s for a chain of 20,000).
        let first = self.endpoint_count;
        self.endpoint_count += endpoints.len();
        let ids: Vec<EndpointId> = (first..first + endpoints.len()).collect();
        let id = self.services.len();
        self.by_name.entry(service.to_string()).or_insert(id);
        self.services.push((
            service.to_string(),
            endpoints.iter().cloned().zip(ids.iter().copied()).collect(),
        ));
        ids
    }

    /// Every `svc` and `svc/ep` name, for suggestions.
    fn labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        for (service, endpoints) in &self.services {
            labels.push(service.clone());
            labels.extend(endpoints.iter().map(|(ep, _)| format!("{service}/{ep}")));
        }
        labels
    }

    /// The service id of a name.
    pub fn service(&self, name: &str) -> Option<ServiceId> {
        self.by_name.get(name).copied()
    }

    /// Every service name, in file order.
    pub fn service_names(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(|(name, _)| name.as_str())
    }

    /// Resolves `"svc"` (its first endpoint) or `"svc/ep"`; on failure, the byte offset inside
    /// the target of the unknown part and a message.
    pub fn resolve(&self, target: &str) -> Result<EndpointId, (usize, String)> {
        let (service, endpoint) = match target.split_once('/') {
            Some((service, endpoint)) => (service, Some(endpoint)),
            None => (target, None),
        };
        let Some(id) = self.service(service) else {
            // Only for the message: listing every name for each target resolved is quadratic.
            let labels = self.labels();
            let names: Vec<&str> = self.service_names().collect();
            let hint = did_you_mean(target, labels.iter().map(String::as_str));
            let listing = if hint.is_empty() && names.len() <= 12 {
                format!(": expected one of {}", names.join(", "))
            } else {
                String::new()
            };
            let context = if endpoint.is_some() {
                format!(" in \"{target}\"")
            } else {
                String::new()
            };
            return Err((
                0,
                format!("unknown service \"{service}\"{context}{listing}{hint}"),
            ));
        };
        let endpoints = &self.services[id].1;
        match endpoint {
            None => endpoints
                .first()
                .map(|(_, ep)| *ep)
                .ok_or_else(|| (0, format!("service \"{service}\" has no endpoints"))),
            Some(endpoint) => {
                if let Some((_, ep)) = endpoints.iter().find(|(name, _)| name == endpoint) {
                    return Ok(*ep);
                }
                let names: Vec<&str> = endpoints.iter().map(|(name, _)| name.as_str()).collect();
                Err((
                    service.len() + 1,
                    format!(
                        "service \"{service}\" has no endpoint \"{endpoint}\": expected one of {}{}",
                        names.join(", "),
                        did_you_mean(endpoint, names.iter().copied())
                    ),
                ))
            }
        }
    }
}

/// Resolves a target written at `node`, reporting failures there; `what` prefixes messages.
pub(crate) fn resolve_at(
    ctx: &mut Ctx<'_>,
    directory: &Directory,
    node: &Node,
    target: &str,
    what: &str,
) -> Option<EndpointId> {
    match directory.resolve(target) {
        Ok(id) => Some(id),
        Err((offset, message)) => {
            let pos = if offset == 0 {
                node.pos()
            } else {
                node.pos_in(offset)
            };
            ctx.error_at(pos, format!("{what}: {message}"));
            None
        }
    }
}
