//! `report.html`: one self-contained page per run (and per comparison). Styles are inline, plots
//! are inline SVG, there is no script, and a Content-Security-Policy forbids the page from
//! loading anything: it opens the same with or without a network. Every string that comes from
//! the scenario (names of services, faults, variants) is escaped.

use super::format::{count, number, percent};
use super::plots::Rendered;
use super::rundata::RunData;
use std::fmt::Write;

/// At most this many rows of `events.csv` are listed (the rest are counted).
pub const MAX_EVENTS: usize = super::rundata::SHOWN_EVENTS;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: "DejaVu Sans", Verdana, system-ui, sans-serif; color: #212121; background: #fff;
       margin: 0 auto; max-width: 1060px; padding: 24px 28px 60px; line-height: 1.45;
       overflow-wrap: break-word; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e0e0e0; }
p.meta { color: #555; margin: 0 0 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 14px 0; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
.figure .value { font-size: 21px; font-weight: bold; }
.figure .name { font-size: 12.5px; color: #555; }
.fit { max-width: 100%; overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
td.text, th.text, td:first-child { white-space: normal; overflow-wrap: anywhere; min-width: 6em; }
th { background: #f4f4f4; font-weight: bold; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.wrap { white-space: normal; }
.scroll { overflow-x: auto; max-width: 100%; }
#topology .scroll { max-height: 900px; overflow-y: auto; }
#topology svg { width: 100%; height: auto; box-sizing: border-box; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 18px 0 26px; }
figure svg { width: 100%; height: auto; display: block; border: 1px solid #e4e4e4; }
figcaption { font-size: 13px; color: #444; margin-top: 5px; }
.met { color: #006d4f; font-weight: bold; }
.missed { color: #b33c00; font-weight: bold; }
.note { color: #555; font-size: 13px; }
code { font-size: 12.5px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
nav a { margin-right: 14px; }
a { color: #005a8c; }
"#;

/// Opens a page: doctype, head with the policy and styles, body.
pub fn page_start(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n",
    );
    out.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
}

/// Closes a page. Every table is put in a box that scrolls sideways when the table is wider
/// than the page ([`fit_tables`]), so no table makes the page wider than the window.
pub fn page_end(out: &mut String) {
    *out = fit_tables(out);
    let _ = writeln!(
        out,
        "<p class=\"note\">Written by meshsim {}. Re-render the plots and this page from the folder's CSV files with <code>meshsim plot DIR</code>.</p>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
}

/// `html` with every `<table>` wrapped in a `<div class="fit">` (which scrolls sideways when
/// the table is wider than the page). Done once over the page, so that no table can be left
/// out; user text cannot match, since its `<` is escaped, and SVG has no tables.
pub fn fit_tables(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 1024);
    let mut rest = html;
    while let Some(at) = rest.find("<table") {
        let after = rest[at + "<table".len()..].chars().next();
        let (before, tail) = rest.split_at(at);
        out.push_str(before);
        if matches!(after, Some('>' | ' ')) {
            out.push_str("<div class=\"fit\">");
        }
        out.push_str("<table");
        rest = &tail["<table".len()..];
    }
    out.push_str(rest);
    out.replace("</table>", "</table></div>")
}

/// An SVG plot made fit to be inlined in HTML (no namespace declaration: HTML parsing puts
/// `<svg>` in the SVG namespace by itself).
pub fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
}

/// A plot as a `<figure>`, with its caption and links to its files.
pub fn figure(out: &mut String, plot: &Rendered, caption: &str) {
    let _ = writeln!(out, "<figure id=\"plot-{}\">", plot.name);
    out.push_str(&inline_svg(&plot.svg));
    let _ = writeln!(
        out,
        "<figcaption>{} Files: <a href=\"{name}.svg\">{name}.svg</a>, <a href=\"{name}.png\">{name}.png</a>.</figcaption>\n</figure>",
        escape(caption),
        name = plot.name
    );
}

fn tile(out: &mut String, value: &str, name: &str) {
    let _ = writeln!(
        out,
        "<div class=\"figure\"><div class=\"value\">{}</div><div class=\"name\">{}</div></div>",
        escape(value),
        escape(name)
    );
}

/// Captions of the run plots, by file stem.
fn run_caption(name: &str) -> &'static str {
    match name {
        "latency" => "End-to-end latency of the requests that succeeded, per window: median and 99th percentile. Shaded bands are faults (labelled with their kind and target); the grey band is the warm-up, not measured.",
        "availability" => "Top: the share of the requests ending in each window that succeeded. Bottom: requests offered, succeeded and failed per second.",
        "replicas" => "Each row is a replica; colour is its share of its service's tries in that window relative to an even split (1 = fair share, darker = fewer). Hatched cells: the replica was crashed or hung.",
        "cdf" => "Left: the fraction of succeeded requests at or below each latency. Right: the tail, latency by percentile.",
        _ => "",
    }
}

/// `report.html` of a run.
pub fn run_report(data: &RunData, plots: &[Rendered]) -> String {
    let summary = &data.summary;
    let mut out = String::with_capacity(1 << 20);
    page_start(&mut out, &format!("meshsim report: {}", summary.scenario));
    let _ = writeln!(out, "<h1>{}</h1>", escape(&summary.scenario));
    let _ = writeln!(
        out,
        "<p class=\"meta\">seed {} · load offered for {} s, measured from {} s (warm-up before) · {} engine events</p>",
        summary.seed,
        number(summary.duration_s, 3).trim_end_matches('0').trim_end_matches('.'),
        number(summary.warmup_s, 3).trim_end_matches('0').trim_end_matches('.'),
        count(summary.events)
    );
    let alerts_link = if data
        .summary_json
        .get("alerts")
        .is_some_and(|a| !a.is_null())
    {
        "<a href=\"#alerts\">Alerts</a>"
    } else {
        ""
    };
    let _ = writeln!(out, "<nav><a href=\"#simulated\">Simulated</a><a href=\"#summary\">Summary</a><a href=\"#slo\">Objectives</a>{alerts_link}<a href=\"#plots\">Plots</a><a href=\"#services\">Services</a><a href=\"#timeline\">Events</a></nav>");
    if let Some(setup) = &data.setup {
        simulated_section(&mut out, setup, summary);
    }

    out.push_str("<h2 id=\"summary\">Summary</h2>\n<div class=\"figures\">\n");
    let requests = &summary.requests;
    tile(
        &mut out,
        &count(requests.offered),
        "requests offered (measured)",
    );
    tile(
        &mut out,
        &format!("{}/s", number(summary.offered_rate, 1)),
        "offered rate",
    );
    tile(
        &mut out,
        &super::format::availability(summary.availability),
        "availability (succeeded / offered)",
    );
    tile(&mut out, &count(requests.failed), "requests failed");
    tile(
        &mut out,
        &format!("{}/s", number(summary.goodput, 1)),
        "goodput (succeeded per second)",
    );
    let latency = &summary.latency_ms;
    for (value, name) in [
        (latency.p50, "p50 latency"),
        (latency.p90, "p90 latency"),
        (latency.p99, "p99 latency"),
        (latency.p999, "p99.9 latency"),
        (latency.mean, "mean latency"),
        (latency.max, "max latency"),
    ] {
        tile(&mut out, &format!("{} ms", number(value, 3)), name);
    }
    out.push_str("</div>\n");
    if requests.failed > 0 {
        out.push_str("<table><thead><tr><th class=\"text\">failed requests by outcome</th><th>requests</th><th>share of offered</th></tr></thead><tbody>\n");
        for (outcome, &n) in &requests.outcomes {
            if n > 0 {
                let share = if requests.offered > 0 {
                    n as f64 / requests.offered as f64
                } else {
                    0.0
                };
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(outcome),
                    count(n),
                    percent(share)
                );
            }
        }
        out.push_str("</tbody></table>\n");
        root_cause_table(&mut out, requests);
    }
    workload_table(&mut out, summary);

    out.push_str("<h2 id=\"slo\">Service-level objectives</h2>\n");
    match data.summary_json.get("slo") {
        Some(slo) if !slo.is_null() => out.push_str(&slo_section(slo)),
        _ => out.push_str(
            "<p class=\"note\">The scenario sets no objectives (<code>[slo]</code>).</p>\n",
        ),
    }

    if let Some(alerts) = data.summary_json.get("alerts").filter(|a| !a.is_null()) {
        out.push_str("<h2 id=\"alerts\">Alerts</h2>\n");
        out.push_str(&alerts_section(alerts));
    }

    out.push_str("<h2 id=\"plots\">Plots</h2>\n");
    for plot in plots {
        figure(&mut out, plot, run_caption(plot.name));
    }

    out.push_str("<h2 id=\"services\">Services</h2>\n");
    out.push_str("<p class=\"note\">Left: the tries sent to each service (first tries, retries and hedges) and how they ended as its callers saw them; they add up to <i>sent</i>. Right: the tries that reached a replica and those it answered without error. Sent and received differ by the tries that never reached a replica (refused by a crashed replica or with none in view, circuit open, bulkhead or pool full, lost to a partition) and by those its callers gave up on or that lost a hedge race. Latency: from arrival at a replica to the response leaving it (succeeded tries).</p>\n");
    out.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"text\" rowspan=\"2\">service</th><th colspan=\"7\">tries sent, as callers saw them</th><th colspan=\"2\">tries received</th><th rowspan=\"2\">retries</th><th rowspan=\"2\">utilization</th><th rowspan=\"2\">p50 ms</th><th rowspan=\"2\">p99 ms</th><th rowspan=\"2\">mean ms</th><th rowspan=\"2\">wasted work ms</th></tr>\n<tr><th>sent</th><th>succeeded</th><th>timeout</th><th>refused</th><th>error</th><th>rejected</th><th>circuit open</th><th>received</th><th>succeeded</th></tr></thead><tbody>\n");
    for (name, service) in &summary.services {
        let tried = |key: &str| service.tries.get(key).copied().unwrap_or(0);
        let tries = |key: &str| count(tried(key));
        let sent: u64 = service.tries.values().sum();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            count(sent),
            tries("succeeded"),
            tries("timeout"),
            tries("refused"),
            tries("error"),
            tries("rejected"),
            tries("circuit_open"),
            count(service.requests),
            count(service.succeeded),
            count(service.retries),
            number(service.utilization * 100.0, 1),
            number(service.latency_ms.p50, 3),
            number(service.latency_ms.p99, 3),
            number(service.latency_ms.mean, 3),
            number(service.wasted_work_ms, 1),
        );
    }
    out.push_str("</tbody></table></div>\n");

    out.push_str("<h2 id=\"timeline\">Event timeline</h2>\n");
    event_timeline(&mut out, data);
    page_end(&mut out);
    out
}

/// "What was simulated": the topology diagram, then the registry, each service's replicas and
/// the policy of calls to it, the workloads with their schedules, and the faults.
fn simulated_section(
    out: &mut String,
    setup: &super::setup::Setup,
    summary: &super::rundata::SummaryData,
) {
    out.push_str("<h2 id=\"simulated\">What was simulated</h2>\n");
    out.push_str("<figure id=\"topology\"><div class=\"scroll\">");
    out.push_str(&inline_svg(&super::topology::render(
        setup,
        &summary.services,
    )));
    let _ = writeln!(
        out,
        "</div><figcaption>Boxes: workloads (rounded) and services with their replicas, utilisation and the share of the tries sent to them that failed. Arrows: calls, with their probability (p), parallel steps (∥) and optional calls (opt); hover for each call. A mesh of more than {} services is drawn in part: the services the workloads call, then the failing, then the busiest.</figcaption></figure>",
        super::topology::MAX_DRAWN_SERVICES
    );
    let _ = writeln!(
        out,
        "<p><b>Registry</b>: {}{}</p>",
        escape(&setup.registry),
        if setup.zones.len() < 2 {
            String::new()
        } else {
            format!(" · <b>zones</b>: {}", escape(&setup.zones.join(", ")))
        }
    );
    out.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"text\">service</th><th>replicas</th><th>workers</th><th class=\"text\">balancer and policies of calls to it</th><th class=\"text\">calls (steps in order)</th></tr></thead><tbody>\n");
    for service in &setup.services {
        let calls: Vec<String> = service
            .endpoints
            .iter()
            .filter(|e| !e.steps.is_empty())
            .map(|e| {
                let steps: Vec<String> =
                    e.steps.iter().map(|s| super::setup::step_text(s)).collect();
                format!("{}: {}", e.name, steps.join(" → "))
            })
            .collect();
        let replicas = if service.max_replicas > service.replicas {
            format!("{} (up to {})", service.replicas, service.max_replicas)
        } else {
            service.replicas.to_string()
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"text wrap\">{}</td><td class=\"text wrap\">{}</td></tr>",
            escape(&service.name),
            replicas,
            service.workers,
            escape(&service.policy),
            escape(&calls.join("; "))
        );
    }
    out.push_str("</tbody></table></div>\n");
    out.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"text\">workload</th><th class=\"text\">into</th><th class=\"text\">arrivals</th><th class=\"text\">schedule (load changes)</th></tr></thead><tbody>\n");
    for workload in &setup.workloads {
        let schedule: Vec<String> = workload
            .schedule
            .iter()
            .map(super::setup::schedule_text)
            .collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}/{}</td><td class=\"text\">{}</td><td class=\"text wrap\">{}</td></tr>",
            escape(&workload.name),
            escape(&workload.service),
            escape(&workload.endpoint),
            escape(&workload.arrival),
            if schedule.is_empty() { "steady".to_string() } else { escape(&schedule.join("; ")) }
        );
    }
    out.push_str("</tbody></table></div>\n");
    if setup.faults.is_empty() {
        out.push_str("<p class=\"note\">No faults.</p>\n");
    } else {
        out.push_str("<table><thead><tr><th class=\"text\">fault</th><th class=\"text\">what, where, when</th></tr></thead><tbody>\n");
        for (index, fault) in setup.faults.iter().enumerate() {
            let _ = writeln!(
                out,
                "<tr><td>{index}</td><td class=\"text wrap\">{}</td></tr>",
                escape(&super::setup::fault_text(fault))
            );
        }
        out.push_str("</tbody></table>\n");
    }
}

/// Failed requests by root cause: the deepest failed try on each failure's path.
fn root_cause_table(out: &mut String, requests: &super::rundata::RequestsData) {
    if requests.root_causes.is_empty() {
        return;
    }
    out.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"text\">failed requests by root cause <span class=\"note\">(deepest failed try, fault there, why its call gave up)</span></th><th>requests</th><th>share of failed</th></tr></thead><tbody>\n");
    for cause in &requests.root_causes {
        let share = cause.requests as f64 / requests.failed.max(1) as f64;
        let _ = writeln!(
            out,
            "<tr><td class=\"text wrap\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&cause.label),
            count(cause.requests),
            number(share * 100.0, 1) + "%"
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// Availability per workload (and so per entry endpoint).
fn workload_table(out: &mut String, summary: &super::rundata::SummaryData) {
    if summary.workloads.is_empty() {
        return;
    }
    out.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"text\">workload</th><th class=\"text\">entry endpoint</th><th>requests</th><th>failed</th><th>availability</th><th>failed per million</th><th>nines</th></tr></thead><tbody>\n");
    for (name, workload) in &summary.workloads {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            escape(&workload.endpoint),
            count(workload.offered),
            count(workload.failed),
            super::format::percent_to_tell(workload.availability),
            super::format::per_million(workload.availability),
            super::format::nines(workload.availability),
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// The events of `events.csv`, as a table (faults with their durations).
fn event_timeline(out: &mut String, data: &RunData) {
    let events = &data.events;
    if data.event_count == 0 {
        out.push_str("<p class=\"note\">No events: the scenario has no faults.</p>\n");
        return;
    }
    let spans = &data.faults;
    if !spans.is_empty() {
        out.push_str("<table><thead><tr><th class=\"text\">fault</th><th class=\"text\">target</th><th>from (s)</th><th>to (s)</th><th>lasting (s)</th></tr></thead><tbody>\n");
        for span in spans {
            let (to, lasting) = match span.end_s {
                Some(end) => (trim(end), trim(end - span.start_s)),
                None => ("end of run".to_string(), "–".to_string()),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&span.detail),
                escape(&span.subject),
                trim(span.start_s),
                escape(&to),
                escape(&lasting)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<table><thead><tr><th>time (s)</th><th class=\"text\">event</th><th class=\"text\">subject</th><th class=\"text\">detail</th></tr></thead><tbody>\n");
    for event in events.iter().take(MAX_EVENTS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
            trim(event.time_s),
            escape(&event.kind),
            escape(&event.subject),
            escape(&event.detail)
        );
    }
    out.push_str("</tbody></table>\n");
    if data.event_count > MAX_EVENTS as u64 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} more events in <code>events.csv</code>.</p>",
            count(data.event_count - MAX_EVENTS as u64)
        );
    }
}

/// Seconds without trailing zeros.
fn trim(seconds: f64) -> String {
    let text = format!("{seconds:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The `slo` section of `summary.json`: the verdict, each target against the run, and how each
/// fault showed and recovered. A section of another shape is shown as a plain table.
pub fn slo_section(slo: &serde_json::Value) -> String {
    let Ok(report) = serde_json::from_value::<crate::analysis::slo::SloReport>(slo.clone()) else {
        let mut out = String::new();
        if let Some(met) = find_bool(slo, &["met"]) {
            let _ = writeln!(
                out,
                "<p class=\"{0}\">{1}</p>",
                if met { "met" } else { "missed" },
                if met {
                    "✓ every objective met"
                } else {
                    "✗ some objective missed"
                }
            );
        }
        out.push_str(&json_table(slo));
        return out;
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<p class=\"{}\">{}</p>",
        if report.met { "met" } else { "missed" },
        if report.met {
            "✓ Every objective met over the measured requests."
        } else {
            "✗ Some objective missed over the measured requests."
        }
    );
    out.push_str("<table><thead><tr><th class=\"text\">objective</th><th>target</th><th>this run</th><th class=\"text\">verdict</th></tr></thead><tbody>\n");
    let verdict = |met: bool| {
        if met {
            "<span class=\"met\">✓ met</span>"
        } else {
            "<span class=\"missed\">✗ missed</span>"
        }
    };
    if let Some(a) = &report.availability {
        let budget = match a.error_budget_burned {
            Some(burned) => format!("error budget burned: {}%", number(burned * 100.0, 1)),
            None => "error budget exhausted".to_string(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">availability ({})</td><td>≥ {}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            budget,
            percent(a.target),
            percent(a.actual),
            verdict(a.met)
        );
    }
    for l in &report.latency {
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{} latency</td><td>≤ {} ms</td><td>{} ms</td><td class=\"text\">{}</td></tr>",
            escape(&l.percentile),
            number(l.target_ms, 3),
            number(l.actual_ms, 3),
            verdict(l.met)
        );
    }
    out.push_str("</tbody></table>\n");
    if !report.faults.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Per fault, from the end-to-end windows ({} s): detected = the first window after its start holding a failure or a latency above target; recovered = the first of {} consecutive windows meeting every objective, counted from the fault's end (or its start, for a fault lasting to the end of the load).</p>",
            number(report.window_s, 3).trim_end_matches('0').trim_end_matches('.'),
            report.recovery_windows
        );
        out.push_str("<table><thead><tr><th class=\"text\">fault</th><th class=\"text\">target</th><th>from (s)</th><th>until (s)</th><th class=\"text\">detected</th><th class=\"text\">recovered</th></tr></thead><tbody>\n");
        for f in &report.faults {
            let detected = match f.time_to_detect_s {
                Some(seconds) if f.detected => format!("after {} s", trim(seconds)),
                _ => "not detected".to_string(),
            };
            let recovered = match f.time_to_recover_s {
                Some(seconds) if f.recovered => {
                    format!("<span class=\"met\">after {} s</span>", trim(seconds))
                }
                _ => "<span class=\"missed\">did not recover</span>".to_string(),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"text\">{} {}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
                f.fault,
                escape(&f.kind),
                escape(&f.target),
                trim(f.at_s),
                f.until_s.map_or("end".to_string(), trim),
                escape(&detected),
                recovered
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out
}

/// The `alerts` section of `summary.json`: per rule its firings, per fault its detection delay
/// and the budget burned before it, and its false alarms. Another shape is shown as a table.
pub fn alerts_section(alerts: &serde_json::Value) -> String {
    let Ok(report) =
        serde_json::from_value::<crate::analysis::alerts::AlertsReport>(alerts.clone())
    else {
        return json_table(alerts);
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<p class=\"note\">Evaluated at every window end ({} s), as a Prometheus rule group with that interval; a firing counts for a fault when it starts during the fault or within the rule's grace after it (look-back + for).</p>",
        trim(report.evaluation_interval_s)
    );
    out.push_str("<table><thead><tr><th class=\"text\">alert</th><th class=\"text\">kind</th><th class=\"text\">fired → resolved (s)</th><th class=\"text\">per fault: detection delay, failed before it (budget)</th><th>false alarms</th></tr></thead><tbody>\n");
    for rule in &report.rules {
        let firings: Vec<String> = rule
            .firings
            .iter()
            .map(|f| {
                format!(
                    "{} → {}",
                    trim(f.fired_at_s),
                    f.resolved_at_s.map_or("still firing".to_string(), trim)
                )
            })
            .collect();
        let faults: Vec<String> = rule
            .faults
            .iter()
            .map(|f| {
                let budget = f.budget_burned_before_firing.map_or(String::new(), |b| {
                    format!(" ({}% of the run's budget)", number(b * 100.0, 1))
                });
                match f.detection_delay_s {
                    Some(delay) => format!(
                        "fault {}: <span class=\"met\">after {} s</span>, {} failed{}",
                        f.fault,
                        trim(delay),
                        f.failed_before_firing,
                        budget
                    ),
                    None => format!(
                        "fault {}: <span class=\"missed\">not detected</span>, {} failed{}",
                        f.fault, f.failed_before_firing, budget
                    ),
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"text\" title=\"{}\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td></tr>",
            escape(&rule.promql),
            escape(&rule.name),
            escape(&rule.kind),
            if firings.is_empty() { "never fired".to_string() } else { firings.join("<br>") },
            if faults.is_empty() { "–".to_string() } else { faults.join("<br>") },
            rule.false_alarms
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

fn find_bool(value: &serde_json::Value, keys: &[&str]) -> Option<bool> {
    keys.iter()
        .find_map(|key| value.get(key).and_then(|v| v.as_bool()))
}

/// A JSON value as HTML: objects as key–value tables (nested ones inline), arrays of objects
/// as tables with a column per key, booleans as met/missed marks.
pub fn json_table(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut out = String::from("<table><tbody>\n");
            for (key, item) in map {
                let _ = writeln!(
                    out,
                    "<tr><th class=\"text\">{}</th><td class=\"text\">{}</td></tr>",
                    escape(key),
                    json_cell(item)
                );
            }
            out.push_str("</tbody></table>\n");
            out
        }
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            let mut columns: Vec<String> = Vec::new();
            for item in items {
                for key in item.as_object().into_iter().flat_map(|m| m.keys()) {
                    if !columns.contains(key) {
                        columns.push(key.clone());
                    }
                }
            }
            let mut out = String::from("<table><thead><tr>");
            for column in &columns {
                let _ = write!(out, "<th class=\"text\">{}</th>", escape(column));
            }
            out.push_str("</tr></thead><tbody>\n");
            for item in items {
                out.push_str("<tr>");
                for column in &columns {
                    let _ = write!(
                        out,
                        "<td class=\"text\">{}</td>",
                        item.get(column).map(json_cell).unwrap_or_default()
                    );
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table>\n");
            out
        }
        other => format!("<p>{}</p>\n", json_cell(other)),
    }
}

fn json_cell(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "–".to_string(),
        Value::Bool(true) => "<span class=\"met\">✓ yes</span>".to_string(),
        Value::Bool(false) => "<span class=\"missed\">✗ no</span>".to_string(),
        Value::Number(n) => escape(&n.to_string()),
        Value::String(s) => escape(s),
        Value::Array(_) | Value::Object(_) => json_table(value),
    }
}

/// Captions of the comparison plots, by file stem.
fn comparison_caption(name: &str) -> &'static str {
    match name {
        "comparison" => "Each panel is one metric: a marker per variant at its mean over the replications, whiskers spanning the confidence interval of the mean. Variants are numbered as in the tables.",
        "cdf" => "Left: the fraction of succeeded requests at or below each latency, per variant (first replication). Right: the tail, latency by percentile.",
        _ => "",
    }
}

/// `report.html` of a comparison.
pub fn comparison_report(
    comparison: &crate::analysis::comparison::Comparison,
    plots: &[Rendered],
) -> String {
    use super::format::{display_unit, metric_title, variant_label};
    let mut out = String::with_capacity(1 << 20);
    page_start(
        &mut out,
        &format!("meshsim comparison: {}", comparison.scenario),
    );
    let _ = writeln!(out, "<h1>{}: comparison</h1>", escape(&comparison.scenario));
    let axes: Vec<String> = comparison
        .axes
        .iter()
        .map(|axis| {
            format!(
                "<code>{}</code> ∈ {{{}}}",
                escape(&axis.key),
                escape(&axis.values.join(", "))
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<p class=\"meta\">seed {} · {} replications per variant (replication <i>i</i> offers the same work in every variant) · {}% confidence intervals{}</p>",
        comparison.seed,
        comparison.replications,
        number(comparison.confidence * 100.0, 0),
        if axes.is_empty() { String::new() } else { format!(" · varying {}", axes.join(" × ")) }
    );
    out.push_str("<nav><a href=\"#variants\">Variants</a><a href=\"#metrics\">Metrics</a><a href=\"#slo\">Objectives</a><a href=\"#plots\">Plots</a><a href=\"#replications\">Replications</a></nav>\n");

    out.push_str("<h2 id=\"variants\">Variants</h2>\n<table><thead><tr><th class=\"text\">#</th><th class=\"text\">variant</th><th class=\"text\">settings</th><th class=\"text\">latency quantiles</th></tr></thead><tbody>\n");
    for (index, variant) in comparison.variants.iter().enumerate() {
        let settings: Vec<String> = variant
            .overrides
            .iter()
            .map(|s| format!("<code>{}={}</code>", escape(&s.key), escape(&s.value)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td></tr>",
            index + 1,
            escape(&variant_label(comparison, index)),
            if variant.baseline { " <b>(baseline)</b>" } else { "" },
            if settings.is_empty() { "the scenario as written".to_string() } else { settings.join(" ") },
            escape(&variant.latency_file)
        );
    }
    out.push_str("</tbody></table>\n");

    out.push_str("<h2 id=\"metrics\">Metrics</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"note\">Each cell: the mean over the replications and its {}% confidence interval; below it, the paired difference to the baseline (Δ, replication by replication). <b>▲ better</b> / <b>▼ worse</b> marks a difference whose interval excludes zero (significant); “no significant difference” otherwise.</p>",
        number(comparison.confidence * 100.0, 0)
    );
    out.push_str("<table><thead><tr><th class=\"text\">metric</th>");
    for index in 0..comparison.variants.len() {
        let _ = write!(
            out,
            "<th>{} {}</th>",
            index + 1,
            escape(&variant_label(comparison, index))
        );
    }
    out.push_str("</tr></thead><tbody>\n");
    for metric in &comparison.metrics {
        let (unit, scale) = display_unit(&metric.unit);
        let decimals = super::format::metric_decimals(comparison, &metric.name, scale, 3);
        let _ = write!(
            out,
            "<tr><td class=\"text\" title=\"{}\">{} <span class=\"note\">({}, {} is better)</span></td>",
            escape(&metric.description),
            escape(&metric_title(&metric.name)),
            escape(&unit),
            escape(&metric.better)
        );
        for variant in &comparison.variants {
            let Some(result) = variant.metrics.get(&metric.name) else {
                out.push_str("<td>–</td>");
                continue;
            };
            let interval = match (result.ci_low, result.ci_high) {
                (Some(low), Some(high)) => {
                    format!(
                        "[{}, {}]",
                        number(low * scale, decimals),
                        number(high * scale, decimals)
                    )
                }
                _ => "(one replication: no interval)".to_string(),
            };
            let difference = if variant.baseline {
                "baseline".to_string()
            } else if result.significant {
                let improved = match metric.better.as_str() {
                    "lower" => result.diff_mean < 0.0,
                    _ => result.diff_mean > 0.0,
                };
                format!(
                    "<span class=\"{}\">{} Δ {}{}</span>",
                    if improved { "met" } else { "missed" },
                    if improved { "▲ better" } else { "▼ worse" },
                    if result.diff_mean >= 0.0 { "+" } else { "" },
                    number(result.diff_mean * scale, decimals)
                )
            } else {
                format!(
                    "Δ {}{} <span class=\"note\">no significant difference</span>",
                    if result.diff_mean >= 0.0 { "+" } else { "" },
                    number(result.diff_mean * scale, decimals)
                )
            };
            let _ = write!(
                out,
                "<td><b>{}</b><br><span class=\"note\">{}</span><br>{}</td>",
                number(result.mean * scale, decimals),
                escape(&interval),
                difference
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");

    out.push_str("<h2 id=\"slo\">Service-level objectives</h2>\n");
    if comparison.variants.iter().all(|v| v.slo.is_none()) {
        out.push_str(
            "<p class=\"note\">The scenario sets no objectives (<code>[slo]</code>).</p>\n",
        );
    } else {
        out.push_str("<table><thead><tr><th class=\"text\">variant</th><th class=\"text\">verdict</th><th>replications meeting every target</th><th>error budget burned (mean)</th><th class=\"text\">faults: detected / recovered (mean times)</th></tr></thead><tbody>\n");
        for (index, variant) in comparison.variants.iter().enumerate() {
            let Some(slo) = &variant.slo else { continue };
            let budget = slo.error_budget_burned.map_or("–".to_string(), |stat| {
                format!("{}%", number(stat.mean * 100.0, 1))
            });
            let faults: Vec<String> = slo
                .faults
                .iter()
                .map(|fault| {
                    let detect = fault
                        .time_to_detect_s
                        .map_or(String::new(), |s| format!(" in {} s", number(s.mean, 2)));
                    let recover = fault
                        .time_to_recover_s
                        .map_or(String::new(), |s| format!(" after {} s", number(s.mean, 2)));
                    format!(
                        "{} {}: detected {}/{}{}, recovered {}/{}{}",
                        escape(&fault.kind),
                        escape(&fault.target),
                        fault.detected,
                        comparison.replications,
                        detect,
                        fault.recovered,
                        comparison.replications,
                        recover
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "<tr><td class=\"text\">{} {}</td><td class=\"text\">{}</td><td>{} / {}</td><td>{}</td><td class=\"text\">{}</td></tr>",
                index + 1,
                escape(&variant_label(comparison, index)),
                if slo.met { "<span class=\"met\">✓ met</span>" } else { "<span class=\"missed\">✗ missed</span>" },
                slo.replications_met,
                comparison.replications,
                budget,
                if faults.is_empty() { "–".to_string() } else { faults.join("<br>") }
            );
        }
        out.push_str("</tbody></table>\n");
    }

    if comparison.variants.iter().any(|v| v.alerts.is_some()) {
        out.push_str("<h2 id=\"alerts\">Alerts</h2>\n");
        out.push_str("<p class=\"note\">Per variant and alert rule: when it first fired and when that firing resolved (means over the replications in which it did); for each fault, the replications in which the rule fired for it, the mean detection delay (with its 95% interval over those replications) and the error budget burned before it; mean false alarms per replication.</p>\n");
        out.push_str("<table><thead><tr><th class=\"text\">variant</th><th class=\"text\">alert</th><th class=\"text\">first fired → resolved (s)</th><th class=\"text\">per fault: detected, delay, budget burned before</th><th>false alarms (mean)</th></tr></thead><tbody>\n");
        for (index, variant) in comparison.variants.iter().enumerate() {
            for alert in variant.alerts.iter().flatten() {
                let faults: Vec<String> = alert
                    .faults
                    .iter()
                    .map(|f| {
                        let delay = f.detection_delay_s.map_or(String::new(), |s| {
                            let interval = match (s.ci_low, s.ci_high) {
                                (Some(low), Some(high)) => {
                                    format!(" [{}, {}]", number(low, 2), number(high, 2))
                                }
                                _ => String::new(),
                            };
                            format!(" after {} s{interval}", number(s.mean, 2))
                        });
                        let by = if f.detection_delay_s.is_some() {
                            "before it"
                        } else {
                            "by the run's end"
                        };
                        let budget = f
                            .budget_burned_before_firing
                            .as_ref()
                            .map_or(String::new(), |b| {
                                format!(", {}% of the budget {by}", number(b.mean * 100.0, 1))
                            });
                        format!(
                            "fault {}: {}/{}{}{budget}",
                            f.fault, f.detected, comparison.replications, delay
                        )
                    })
                    .collect();
                let span = match (&alert.first_fired_at_s, &alert.first_resolved_at_s) {
                    (None, _) => "never fired".to_string(),
                    (Some(fired), resolved) => format!(
                        "{} ({}/{}) → {}",
                        number(fired.mean, 2),
                        fired.n,
                        comparison.replications,
                        resolved
                            .as_ref()
                            .map_or("still firing".to_string(), |r| format!(
                                "{} ({}/{})",
                                number(r.mean, 2),
                                r.n,
                                fired.n
                            ))
                    ),
                };
                let _ = writeln!(
                    out,
                    "<tr><td class=\"text\">{} {}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td></tr>",
                    index + 1,
                    escape(&variant_label(comparison, index)),
                    escape(&alert.name),
                    span,
                    if faults.is_empty() { "–".to_string() } else { faults.join("<br>") },
                    number(alert.false_alarms_mean, 2)
                );
            }
        }
        out.push_str("</tbody></table>\n");
    }

    out.push_str("<h2 id=\"plots\">Plots</h2>\n");
    for plot in plots {
        figure(&mut out, plot, comparison_caption(plot.name));
    }

    out.push_str("<h2 id=\"replications\">Replications</h2>\n<details><summary>Every replication's figures</summary>\n");
    out.push_str("<table><thead><tr><th class=\"text\">variant</th><th>replication</th><th>seed</th><th>offered</th><th>succeeded</th>");
    for metric in &comparison.metrics {
        let _ = write!(out, "<th>{}</th>", escape(&metric_title(&metric.name)));
    }
    out.push_str("</tr></thead><tbody>\n");
    for (index, variant) in comparison.variants.iter().enumerate() {
        for replication in &variant.replications {
            let _ = write!(
                out,
                "<tr><td class=\"text\">{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                index + 1,
                escape(&variant_label(comparison, index)),
                replication.index,
                replication.seed,
                count(replication.offered),
                count(replication.succeeded)
            );
            for metric in &comparison.metrics {
                let (_, scale) = display_unit(&metric.unit);
                let value = replication
                    .metrics
                    .get(&metric.name)
                    .map_or("–".to_string(), |v| number(v * scale, 3));
                let _ = write!(out, "<td>{value}</td>");
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody></table></details>\n");
    page_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
    }

    #[test]
    fn alerts_render_firings_delays_and_false_alarms() {
        let value = serde_json::json!({
            "evaluation_interval_s": 1.0,
            "rules": [{
                "name": "page<1>", "kind": "burn_rate", "promql": "x > 1", "for_s": 0.0,
                "grace_s": 60.0,
                "firings": [{"fired_at_s": 755.0, "resolved_at_s": null}],
                "faults": [{"fault": 0, "detected": true, "detection_delay_s": 35.0,
                            "failed_before_firing": 546, "budget_burned_before_firing": 0.364}],
                "false_alarms": 2
            }]
        });
        let html = alerts_section(&value);
        assert!(html.contains("page&lt;1&gt;"), "{html}");
        assert!(html.contains("755 → still firing"), "{html}");
        assert!(
            html.contains("after 35 s</span>, 546 failed (36.4% of the run's budget)"),
            "{html}"
        );
        assert!(html.contains("<td>2</td>"), "{html}");
    }

    #[test]
    fn every_table_is_put_in_a_box_that_scrolls() {
        let page = "<p>&lt;table&gt;</p><table class=\"x\"><tr><td><table><tr></tr></table></td></tr></table><tablex>";
        assert_eq!(
            fit_tables(page),
            "<p>&lt;table&gt;</p><div class=\"fit\"><table class=\"x\"><tr><td><div class=\"fit\"><table><tr></tr></table></div></td></tr></table></div><tablex>"
        );
    }

    #[test]
    fn json_renders_as_escaped_tables() {
        let value =
            serde_json::json!({"met": false, "objectives": [{"name": "<p99>", "met": true}]});
        let html = slo_section(&value);
        assert!(html.contains("some objective missed"), "{html}");
        assert!(html.contains("&lt;p99&gt;"));
        assert!(!html.contains("<p99>"));
    }
}
