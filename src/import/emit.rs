//! Writes an imported isotope [`Topology`] as a commented meshsim scenario (TOML text).

use std::fmt::Write;

use super::isotope::{
    calls_of, sleep_total, Command, ImportOptions, IsoCall, IsoService, Step, Topology,
    CROSS_CLUSTER_LATENCY, NETWORK_LATENCY,
};

/// Longest line of a written call list before it wraps.
const LINE_WIDTH: usize = 100;

/// The scenario text of `topology`, read from the file `source` (named in the header comment),
/// with `options` for what the YAML does not say.
pub fn scenario_text(topology: &Topology, source: &str, options: &ImportOptions) -> String {
    let mut out = String::new();
    header(&mut out, topology, source, options);
    for service in &topology.services {
        write_service(&mut out, service, options);
    }
    for service in topology.services.iter().filter(|s| s.entrypoint) {
        let _ = write!(
            out,
            "\n[[workload]]             # isEntrypoint: open Poisson load (--rate)\nname = {name}\ntarget = {name}\narrival = \"poisson\"\nrate = {rate}\n",
            name = toml_string(&service.name),
            rate = number(options.rate),
        );
    }
    out
}

fn header(out: &mut String, topology: &Topology, source: &str, options: &ImportOptions) {
    let name = options.name.clone().unwrap_or_else(|| stem(source));
    let replicas: u64 = topology.services.iter().map(|s| s.replicas).sum();
    let calls: usize = topology
        .services
        .iter()
        .map(|s| calls_of(&s.script).count())
        .sum();
    let _ = writeln!(
        out,
        "# Imported by `meshsim import isotope` from the Istio isotope topology {source}\n\
         # ({} services, {replicas} replicas as written, {calls} calls).\n\
         #\n\
         # Mapping (docs/importing.md): an isotope service is a [[service]]\n\
         # with its numReplicas; its script's calls are call steps in order (a concurrent block is\n\
         # one parallel step; `probability` N is p = N/100); errorRate is error_rate; the script's\n\
         # sleeps are its service time (moved before its calls); a service without sleeps gets\n\
         # the default service time; each isEntrypoint service gets an open Poisson workload;\n\
         # a service's cluster is its zone. Not modelled: requestSize and responseSize (1 KB\n\
         # takes 8 us at 1 Gbit/s, well under a hop's latency), namespaces, type (http/grpc).\n\
         #\n\
         # Defaults (flags of `meshsim import isotope`): rate {} /s per entrypoint (--rate),\n\
         # service time {} (--service-time), {} workers per replica (--workers),\n\
         # duration {} (--duration), warm-up {} (--warmup).",
        topology.services.len(),
        number(options.rate),
        options.service_time,
        options.workers,
        options.duration,
        options.warmup,
    );
    let _ = write!(
        out,
        "\n[scenario]\nname = {}\nseed = {}\nduration = {}\nwarmup = {}\n",
        toml_string(&name),
        options.seed,
        toml_string(&options.duration),
        toml_string(&options.warmup),
    );
    // A long --duration in 1 s windows would pass the limits of windows and rows.
    let slots: u64 = match options.replicas {
        Some(replicas) => u64::from(replicas) * topology.services.len() as u64,
        None => replicas,
    };
    let window = crate::scenario::duration::parse_duration(&options.duration)
        .ok()
        .and_then(|duration| {
            super::time_series_window(duration, topology.services.len() as u64 + slots + 1)
        });
    if let Some(window) = window {
        let _ = writeln!(
            out,
            "window = {}          # 1s windows over --duration would pass the limits of windows and rows",
            toml_string(&crate::scenario::format_ns(window))
        );
    }
    let _ = write!(
        out,
        "\n[network]                # assumed: a pod-to-pod hop through two sidecars\nlatency = {}\n",
        toml_string(NETWORK_LATENCY)
    );
    if topology.services.iter().any(|s| s.cluster.is_some()) {
        let _ = writeln!(
            out,
            "cross_zone_latency = {}   # between isotope clusters",
            toml_string(CROSS_CLUSTER_LATENCY)
        );
    }
    out.push_str(
        "\n[policy]\nbalancer = \"p2c\"        # Istio's default since 1.14, LEAST_REQUEST: Envoy takes the less loaded of two\n",
    );
}

fn write_service(out: &mut String, service: &IsoService, options: &ImportOptions) {
    out.push_str("\n[[service]]\n");
    let _ = writeln!(out, "name = {}", toml_string(&service.name));
    match options.replicas {
        Some(replicas) if u64::from(replicas) != service.replicas => {
            let _ = writeln!(
                out,
                "replicas = {replicas}             # --replicas (the file says {})",
                service.replicas
            );
        }
        _ => {
            let _ = writeln!(out, "replicas = {}", service.replicas);
        }
    }
    if let Some(cluster) = &service.cluster {
        let _ = writeln!(
            out,
            "zones = [{}]      # isotope cluster",
            toml_string(cluster)
        );
    }
    let _ = writeln!(
        out,
        "workers = {}\nconcurrency = \"threads\"",
        options.workers
    );
    let sleep = sleep_total(&service.script);
    if sleep > 0 {
        let _ = writeln!(
            out,
            "service_time = {}   # the script's sleeps",
            toml_string(&format!("const({})", crate::scenario::format_ns(sleep)))
        );
    } else {
        let _ = writeln!(out, "service_time = {}", toml_string(&options.service_time));
    }
    if service.error_rate > 0.0 {
        let _ = writeln!(
            out,
            "error_rate = {}        # isotope errorRate",
            number(service.error_rate)
        );
    }
    let mut notes = Vec::new();
    if let Some(namespace) = &service.namespace {
        notes.push(format!("namespace {namespace}"));
    }
    if service.response_size > 0 {
        notes.push(format!("responseSize {} bytes", service.response_size));
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "# not modelled: {}", notes.join(", "));
    }
    write_calls(out, &service.script);
}

fn write_calls(out: &mut String, script: &[Step]) {
    let steps: Vec<String> = script
        .iter()
        .filter_map(|step| match step {
            Step::Command(Command::Call(call)) => Some(call_text(call)),
            Step::Command(Command::Sleep(_)) => None,
            Step::Concurrent(commands) => {
                let calls: Vec<String> = commands
                    .iter()
                    .filter_map(|c| match c {
                        Command::Call(call) => Some(call_text(call)),
                        Command::Sleep(_) => None,
                    })
                    .collect();
                (!calls.is_empty()).then(|| parallel_text(&calls))
            }
        })
        .collect();
    if steps.is_empty() {
        return;
    }
    let one_line = format!("calls = [{}]", steps.join(", "));
    if one_line.len() <= LINE_WIDTH && !one_line.contains('\n') {
        out.push_str(&one_line);
        out.push('\n');
        return;
    }
    out.push_str("calls = [\n");
    for step in steps {
        let _ = writeln!(out, "  {step},");
    }
    out.push_str("]\n");
}

/// A parallel step: `[a, b]`, wrapped over several lines when long.
fn parallel_text(calls: &[String]) -> String {
    let one_line = format!("[{}]", calls.join(", "));
    if one_line.len() + 12 <= LINE_WIDTH {
        return one_line;
    }
    let mut text = String::from("[   # concurrent\n");
    let mut line = String::from("   ");
    for call in calls {
        if line.len() + call.len() + 2 > LINE_WIDTH {
            text.push_str(line.trim_end());
            text.push('\n');
            line = String::from("   ");
        }
        let _ = write!(line, " {call},");
    }
    text.push_str(line.trim_end());
    text.push_str("\n  ]");
    text
}

fn call_text(call: &IsoCall) -> String {
    if call.probability >= 100 {
        toml_string(&call.service)
    } else {
        format!(
            "{{ to = {}, p = {} }}",
            toml_string(&call.service),
            number(f64::from(call.probability) / 100.0)
        )
    }
}

/// A TOML basic string.
pub(crate) fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML number: an integer when whole, else the shortest decimal that reads back the same.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The file name without folders and extension.
fn stem(source: &str) -> String {
    std::path::Path::new(source)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "isotope".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_numbers_and_durations_are_written_as_toml() {
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(number(100.0), "100");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(crate::scenario::format_ns(10_000_000), "10ms");
        assert_eq!(crate::scenario::format_ns(1_500_000), "1500us");
        assert_eq!(crate::scenario::format_ns(7), "7ns");
        assert_eq!(stem("a/b/chain-2.yaml"), "chain-2");
    }

    #[test]
    fn a_long_parallel_step_wraps() {
        let calls: Vec<String> = (0..40).map(|i| format!("\"svc-{i}\"")).collect();
        let text = parallel_text(&calls);
        assert!(text.lines().count() > 3, "{text}");
        assert!(text.lines().all(|l| l.len() <= LINE_WIDTH), "{text}");
    }
}
