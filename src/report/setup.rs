//! `setup.json`: what was simulated — the services with their replicas and calls, the registry,
//! the balancer and policies of calls to each service, the workloads with their schedules, the
//! faults. Written by `meshsim run` beside `summary.json`, so that `report.html` (and `meshsim
//! plot`, which reads only the folder) can show the topology and the set-up; `meshsim run
//! --verbose` prints the same as text.

use crate::model::{Arrival, CallPolicy, FaultKind, Model, RegistryModel};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// What was simulated.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Setup {
    /// The service registry model, with its timers (`eureka: heartbeat 30 s, ...`).
    pub registry: String,
    /// Zone names (empty: one implicit zone).
    pub zones: Vec<String>,
    /// Services, in file order.
    pub services: Vec<ServiceSetup>,
    /// Workloads, in file order.
    pub workloads: Vec<WorkloadSetup>,
    /// Faults, in file order (index = position).
    pub faults: Vec<FaultSetup>,
}

/// One service.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServiceSetup {
    /// Name.
    pub name: String,
    /// Replicas at the start.
    pub replicas: usize,
    /// Most replicas (the autoscaler's maximum when above `replicas`).
    pub max_replicas: usize,
    /// Workers per replica.
    pub workers: u32,
    /// The balancer and policies of calls to it, as text (`p2c, timeout 1 s, retries 2 on
    /// refused`).
    pub policy: String,
    /// Its endpoints.
    pub endpoints: Vec<EndpointSetup>,
}

/// One endpoint and its call steps.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointSetup {
    /// Name.
    pub name: String,
    /// Steps in order; the calls of a step run in parallel.
    pub steps: Vec<Vec<CallSetup>>,
}

/// One downstream call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct CallSetup {
    /// Service called.
    pub service: String,
    /// Endpoint called.
    pub endpoint: String,
    /// Probability that the call is made.
    pub probability: f64,
    /// Whether the caller tolerates its failure.
    pub optional: bool,
}

/// One workload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WorkloadSetup {
    /// Name.
    pub name: String,
    /// Entry service.
    pub service: String,
    /// Entry endpoint.
    pub endpoint: String,
    /// The arrival process as text (`poisson 400/s`, `closed: 50 users, think exp(1s)`).
    pub arrival: String,
    /// Rate from t = 0, requests per second (open loop; 0 otherwise).
    pub rate: f64,
    /// Later changes of the rate.
    pub schedule: Vec<ScheduleSetup>,
}

/// A change of a workload's rate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ScheduleSetup {
    /// When it starts, seconds.
    pub at_s: f64,
    /// The rate reached, requests per second.
    pub rate: f64,
    /// Length of the linear ramp, seconds (0: a step).
    pub ramp_s: f64,
}

/// One fault.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FaultSetup {
    /// Kind (`crash`, `errors`, ...).
    pub kind: String,
    /// Target as written (empty for a registry outage; the sides for a partition).
    pub target: String,
    /// Start, seconds.
    pub from_s: f64,
    /// End, seconds (`None`: until the end of the run).
    pub until_s: Option<f64>,
    /// Its parameter, as text (`rate 0.2`, `factor 10`, `add 50 ms`), empty if none.
    pub detail: String,
}

/// A duration in nanoseconds as text: `250 ms`, `1.5 s`, `0.25 ms`.
pub fn duration_text(nanos: u64) -> String {
    let seconds = nanos as f64 / 1e9;
    if nanos >= 1_000_000_000 {
        format!("{} s", super::format::seconds(seconds))
    } else {
        let millis = format!("{:.4}", nanos as f64 / 1e6);
        format!("{} ms", millis.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// The balancer and policies of calls to a service, as text.
pub fn policy_text(policy: &CallPolicy) -> String {
    let mut parts = vec![policy.balancer.name().to_string()];
    if policy.timeout < crate::engine::time::LONGEST {
        parts.push(format!("timeout {}", duration_text(policy.timeout)));
    }
    let retries = &policy.retries;
    if retries.max_retries == 0 {
        parts.push("no retries".to_string());
    } else {
        let on: Vec<&str> = crate::model::Outcome::FAILURES
            .iter()
            .filter(|outcome| retries.retry_on[outcome.index()])
            .map(|outcome| outcome.name())
            .collect();
        let mut text = format!("retries {} on {}", retries.max_retries, on.join("/"));
        if let Some(per_try) = retries.per_try_timeout {
            let _ = write!(text, ", per try {}", duration_text(per_try));
        }
        if retries.budget.is_some() {
            text.push_str(", budget");
        }
        parts.push(text);
    }
    if policy.circuit_breaker.is_some() {
        parts.push("circuit breaker".to_string());
    }
    if policy.outlier_detection.is_some() {
        parts.push("outlier detection".to_string());
    }
    if policy.health_check.is_some() {
        parts.push("health checks".to_string());
    }
    if let Some(hedge) = policy.hedge {
        parts.push(format!(
            "hedge after {} (max {})",
            duration_text(hedge.after),
            hedge.max
        ));
    }
    if policy.deadline_propagation {
        parts.push("deadline propagation".to_string());
    }
    if let Some(max) = policy.max_requests {
        parts.push(format!("bulkhead {max}"));
    }
    if let Some(connections) = policy.max_connections {
        parts.push(format!("pool {connections} connections"));
    }
    if policy.zone_aware.is_some() {
        parts.push("zone-aware".to_string());
    }
    parts.join(", ")
}

fn registry_text(registry: &RegistryModel) -> String {
    match registry {
        RegistryModel::Oracle => "oracle: every client sees exactly the live replicas".to_string(),
        RegistryModel::Static => "static: every client sees every replica ever started".to_string(),
        RegistryModel::Eureka(config) => format!(
            "eureka: heartbeat {}, lease {}, eviction every {}, client fetch every {}, response cache {}",
            duration_text(config.heartbeat),
            duration_text(config.ttl),
            duration_text(config.eviction_interval),
            duration_text(config.client_refresh),
            duration_text(config.response_cache)
        ),
        RegistryModel::Consul(_) => "consul: agent health checks, clients watch".to_string(),
    }
}

fn fault_detail(kind: &FaultKind) -> String {
    match kind {
        FaultKind::Slow { factor } => format!("factor {factor}"),
        FaultKind::Errors { rate } => format!("rate {rate}"),
        FaultKind::Latency { add } => format!("add {}", duration_text(*add)),
        _ => String::new(),
    }
}

impl Setup {
    /// What `model` simulates.
    pub fn new(model: &Model) -> Setup {
        let services = model
            .services
            .iter()
            .map(|service| ServiceSetup {
                name: service.name.clone(),
                replicas: service.replicas,
                max_replicas: service.slots(),
                workers: service.workers,
                policy: policy_text(&service.policy),
                endpoints: service
                    .endpoints
                    .iter()
                    .map(|&id| {
                        let endpoint = &model.endpoints[id];
                        EndpointSetup {
                            name: endpoint.name.clone(),
                            steps: endpoint
                                .steps
                                .iter()
                                .map(|step| {
                                    step.calls
                                        .iter()
                                        .map(|call| {
                                            let target = &model.endpoints[call.target];
                                            CallSetup {
                                                service: model.services[target.service]
                                                    .name
                                                    .clone(),
                                                endpoint: target.name.clone(),
                                                probability: call.probability,
                                                optional: call.optional,
                                            }
                                        })
                                        .collect()
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let workloads = model
            .workloads
            .iter()
            .map(|workload| {
                let target = &model.endpoints[workload.target];
                let rate = super::format::format_number(workload.rate);
                let arrival = match &workload.arrival {
                    Arrival::Poisson => format!("poisson {rate}/s"),
                    Arrival::Constant => format!("constant {rate}/s"),
                    Arrival::Closed { users, .. } => format!("closed loop: {users} users"),
                    Arrival::Trace(trace) => format!("trace: {} requests", trace.times.len()),
                };
                WorkloadSetup {
                    name: workload.name.clone(),
                    service: model.services[target.service].name.clone(),
                    endpoint: target.name.clone(),
                    arrival,
                    rate: match workload.arrival {
                        Arrival::Poisson | Arrival::Constant => workload.rate,
                        _ => 0.0,
                    },
                    schedule: workload
                        .schedule
                        .iter()
                        .map(|change| ScheduleSetup {
                            at_s: change.at as f64 / 1e9,
                            rate: change.rate,
                            ramp_s: change.ramp as f64 / 1e9,
                        })
                        .collect(),
                }
            })
            .collect();
        let faults = model
            .faults
            .iter()
            .map(|fault| FaultSetup {
                kind: fault.kind.name().to_string(),
                target: fault.target_label.clone(),
                from_s: fault.at as f64 / 1e9,
                until_s: fault.until.map(|until| until as f64 / 1e9),
                detail: fault_detail(&fault.kind),
            })
            .collect();
        Setup {
            registry: registry_text(&model.registry),
            zones: model.zones.clone(),
            services,
            workloads,
            faults,
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a set-up always serialises");
        text.push('\n');
        text
    }

    /// The set-up as text for the terminal (`meshsim run --verbose`).
    pub fn render_text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "what is simulated");
        let _ = writeln!(text, "  registry      {}", self.registry);
        if self.zones.len() > 1 {
            let _ = writeln!(text, "  zones         {}", self.zones.join(", "));
        }
        for service in &self.services {
            let scale = if service.max_replicas > service.replicas {
                format!(" (up to {})", service.max_replicas)
            } else {
                String::new()
            };
            let _ = writeln!(
                text,
                "  service {}: {} replica{}{scale} x {} workers; calls to it: {}",
                service.name,
                service.replicas,
                if service.replicas == 1 { "" } else { "s" },
                service.workers,
                service.policy
            );
            for endpoint in &service.endpoints {
                if endpoint.steps.is_empty() {
                    continue;
                }
                let steps: Vec<String> = endpoint.steps.iter().map(|s| step_text(s)).collect();
                let _ = writeln!(
                    text,
                    "    {}/{} calls {}",
                    service.name,
                    endpoint.name,
                    steps.join(" then ")
                );
            }
        }
        for workload in &self.workloads {
            let _ = write!(
                text,
                "  workload {}: {} into {}/{}",
                workload.name, workload.arrival, workload.service, workload.endpoint
            );
            for change in &workload.schedule {
                let _ = write!(text, "; {}", schedule_text(change));
            }
            text.push('\n');
        }
        for (index, fault) in self.faults.iter().enumerate() {
            let _ = writeln!(text, "  fault {index}       {}", fault_text(fault));
        }
        text.push('\n');
        text
    }
}

/// A step as text: `catalog` or `[pricing | reviews (p 0.5, optional)]`.
pub fn step_text(step: &[CallSetup]) -> String {
    let calls: Vec<String> = step.iter().map(call_text).collect();
    if calls.len() == 1 {
        calls.join("")
    } else {
        format!("[{}] in parallel", calls.join(" | "))
    }
}

/// A call as text: `reviews/default (p 0.5, optional)`.
pub fn call_text(call: &CallSetup) -> String {
    let mut notes = Vec::new();
    if call.probability < 1.0 {
        notes.push(format!(
            "p {}",
            super::format::format_number(call.probability)
        ));
    }
    if call.optional {
        notes.push("optional".to_string());
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    format!("{}/{}{notes}", call.service, call.endpoint)
}

/// A schedule change as text: `at 60 s: 800/s` or `at 60 s: ramp over 10 s to 800/s`.
pub fn schedule_text(change: &ScheduleSetup) -> String {
    let at = super::format::seconds(change.at_s);
    let rate = super::format::format_number(change.rate);
    if change.ramp_s > 0.0 {
        format!(
            "at {at} s: ramp over {} s to {rate}/s",
            super::format::seconds(change.ramp_s)
        )
    } else {
        format!("at {at} s: {rate}/s")
    }
}

/// A fault as text: `crash catalog#0 10–20 s` (with its parameter).
pub fn fault_text(fault: &FaultSetup) -> String {
    let from = super::format::seconds(fault.from_s);
    let span = match fault.until_s {
        Some(until) => format!("{from}–{} s", super::format::seconds(until)),
        None => format!("from {from} s"),
    };
    let detail = if fault.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", fault.detail)
    };
    format!("{} {} {span}{detail}", fault.kind, fault.target)
}
