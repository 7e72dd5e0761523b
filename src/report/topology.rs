//! The topology diagram of `report.html`: workloads and services as boxes, calls as arrows, laid
//! out in layers (Sugiyama style: longest-path layers, then barycentre ordering within them),
//! drawn as SVG. Deterministic (integer coordinates from the data alone, ties broken by file
//! order) and self-contained (text is drawn by the viewer with the page's fonts; nothing is
//! fetched).
//!
//! Each box is a service (its replicas, workers, utilisation and the share of the tries sent to
//! it that failed) or a workload (its arrival process); each arrow is every call from one
//! service to another, labelled with what is not plain (`p 0.5`, `∥` for a parallel step,
//! `opt` for an optional call); its `<title>` names each call, `caller/endpoint → callee/endpoint`.
//! A mesh of more than [`MAX_DRAWN_SERVICES`] services is drawn in part (see there), with a
//! line that says which part.

use super::html::escape;
use super::rundata::ServiceData;
use super::setup::Setup;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Boxes per row before a layer wraps onto another row.
const PER_ROW: usize = 7;
/// Above this many boxes the diagram is compact (smaller boxes, the name only).
const COMPACT_ABOVE: usize = 60;
/// Boxes per row in the compact diagram.
const PER_ROW_COMPACT: usize = 10;
/// Barycentre sweeps (each one down and one up).
const SWEEPS: usize = 4;
/// Most services drawn. A bigger mesh draws the services its workloads call, then the failing
/// ones, then the busiest, up to this many, and says so: 200 compact boxes are about 20 rows
/// (1,000 px) on a 1,280 px page, and the page and its memory stay bounded whatever the mesh
/// (a 10,000-service diagram was 40,652 px tall and 7 MB).
pub const MAX_DRAWN_SERVICES: usize = 200;

/// Box and spacing sizes, pixels.
struct Metrics {
    per_row: usize,
    box_width: i64,
    box_height: i64,
    gap_x: i64,
    row_gap: i64,
    layer_gap: i64,
    font: i64,
    name_chars: usize,
}

const NORMAL: Metrics = Metrics {
    per_row: PER_ROW,
    box_width: 160,
    box_height: 46,
    gap_x: 22,
    row_gap: 26,
    layer_gap: 58,
    font: 12,
    name_chars: 24,
};

const COMPACT: Metrics = Metrics {
    per_row: PER_ROW_COMPACT,
    box_width: 112,
    box_height: 24,
    gap_x: 12,
    row_gap: 16,
    layer_gap: 40,
    font: 10,
    name_chars: 18,
};

/// A box of the diagram.
struct Node {
    /// Visible name (the service or workload name).
    name: String,
    /// Second line (normal size only).
    detail: String,
    /// Tooltip: everything about it.
    title: String,
    /// Fill colour.
    fill: String,
    /// Outline colour and width.
    stroke: (&'static str, f64),
    /// Whether it is a workload (drawn with rounded ends).
    workload: bool,
}

/// An arrow: every call from one box to another.
struct Edge {
    from: usize,
    to: usize,
    /// Label on the arrow (empty for plain calls).
    label: String,
    /// Each call it stands for, `caller/endpoint → callee/endpoint (notes)`.
    calls: Vec<String>,
}

/// Mixes white with the Okabe–Ito orange by `share` in [0, 1].
fn utilisation_fill(share: f64) -> String {
    let share = if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |full: f64| (255.0 + (full - 255.0) * share).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(230.0), mix(159.0), mix(0.0))
}

/// The share of the tries sent to a service that failed, as its callers saw them.
fn failed_share(service: &ServiceData) -> f64 {
    let sent: u64 = service.tries.values().sum();
    let succeeded = service.tries.get("succeeded").copied().unwrap_or(0);
    if sent == 0 {
        0.0
    } else {
        (sent - succeeded) as f64 / sent as f64
    }
}

fn truncate(name: &str, chars: usize) -> String {
    if name.chars().count() <= chars {
        name.to_string()
    } else {
        let kept: String = name.chars().take(chars - 1).collect();
        format!("{kept}…")
    }
}

/// The indices (in `setup.services`, in file order) of the services drawn: every one when
/// there are at most `max`; else the ones its workloads call, then those whose callers saw
/// failed tries (most first), then the busiest (utilisation, then tries received), then file
/// order, `max` in all.
fn drawn_services(
    setup: &Setup,
    services: &BTreeMap<String, ServiceData>,
    max: usize,
) -> Vec<usize> {
    if setup.services.len() <= max {
        return (0..setup.services.len()).collect();
    }
    let entries: std::collections::BTreeSet<&str> =
        setup.workloads.iter().map(|w| w.service.as_str()).collect();
    let mut ranked: Vec<(bool, u64, f64, u64, usize)> = setup
        .services
        .iter()
        .enumerate()
        .map(|(index, service)| {
            let figures = services.get(&service.name);
            let failed = figures.map_or(0, |f| {
                let sent: u64 = f.tries.values().sum();
                sent - f.tries.get("succeeded").copied().unwrap_or(0).min(sent)
            });
            (
                entries.contains(service.name.as_str()),
                failed,
                figures.map_or(0.0, |f| f.utilization),
                figures.map_or(0, |f| f.requests),
                index,
            )
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.total_cmp(&a.2))
            .then(b.3.cmp(&a.3))
            .then(a.4.cmp(&b.4))
    });
    let mut drawn: Vec<usize> = ranked.iter().take(max).map(|r| r.4).collect();
    drawn.sort_unstable();
    drawn
}

/// The boxes and arrows of `setup` (the services [`drawn_services`] picks), coloured by
/// `services`' figures.
fn graph(
    setup: &Setup,
    services: &BTreeMap<String, ServiceData>,
    max_services: usize,
) -> (Vec<Node>, Vec<Edge>) {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let drawn = drawn_services(setup, services, max_services);
    let service_node: BTreeMap<&str, usize> = drawn
        .iter()
        .enumerate()
        .map(|(node, &index)| {
            (
                setup.services[index].name.as_str(),
                setup.workloads.len() + node,
            )
        })
        .collect();
    for workload in &setup.workloads {
        let mut title = format!("workload {}: {}", workload.name, workload.arrival);
        for change in &workload.schedule {
            let _ = write!(title, "; {}", super::setup::schedule_text(change));
        }
        nodes.push(Node {
            name: workload.name.clone(),
            detail: workload.arrival.clone(),
            title,
            fill: "#eef4fa".to_string(),
            stroke: ("#56B4E9", 1.2),
            workload: true,
        });
        if let Some(&to) = service_node.get(workload.service.as_str()) {
            edges.push(Edge {
                from: nodes.len() - 1,
                to,
                label: String::new(),
                calls: vec![format!(
                    "workload {} → {}/{}",
                    workload.name, workload.service, workload.endpoint
                )],
            });
        }
    }
    let mut by_pair: BTreeMap<(usize, usize), (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (node, service) in drawn
        .iter()
        .map(|&index| &setup.services[index])
        .enumerate()
    {
        let figures = services.get(&service.name);
        let utilisation = figures.map_or(0.0, |f| f.utilization);
        let failed = figures.map_or(0.0, failed_share);
        let replicas = if service.max_replicas > service.replicas {
            format!("{}–{}", service.replicas, service.max_replicas)
        } else {
            service.replicas.to_string()
        };
        let detail = format!(
            "×{replicas} · util {}% · failed {}%",
            super::format::number(utilisation * 100.0, 0),
            super::format::number(failed * 100.0, if failed < 0.1 { 2 } else { 1 })
        );
        let title = format!(
            "{}: {replicas} replicas × {} workers; utilisation {}%; failed tries {}%; calls to it: {}",
            service.name,
            service.workers,
            super::format::number(utilisation * 100.0, 1),
            super::format::number(failed * 100.0, 3),
            service.policy
        );
        nodes.push(Node {
            name: service.name.clone(),
            detail,
            title,
            fill: utilisation_fill(utilisation),
            stroke: if failed > 0.001 {
                ("#D55E00", 1.5 + (failed * 40.0).min(3.0))
            } else {
                ("#444444", 1.0)
            },
            workload: false,
        });
        let from = setup.workloads.len() + node;
        for endpoint in &service.endpoints {
            for step in &endpoint.steps {
                for call in step {
                    let Some(&to) = service_node.get(call.service.as_str()) else {
                        continue;
                    };
                    let mut notes = Vec::new();
                    if call.probability < 1.0 {
                        notes.push(format!(
                            "p {}",
                            super::format::format_number(call.probability)
                        ));
                    }
                    if step.len() > 1 {
                        notes.push("∥".to_string());
                    }
                    if call.optional {
                        notes.push("opt".to_string());
                    }
                    let entry = by_pair.entry((from, to)).or_default();
                    let note = notes.join(" ");
                    if !note.is_empty() && !entry.0.contains(&note) {
                        entry.0.push(note);
                    }
                    let mut name = format!(
                        "{}/{} → {}/{}",
                        service.name, endpoint.name, call.service, call.endpoint
                    );
                    if step.len() > 1 {
                        name.push_str(" (parallel step)");
                    }
                    entry.1.push(name);
                }
            }
        }
    }
    for ((from, to), (notes, calls)) in by_pair {
        edges.push(Edge {
            from,
            to,
            label: notes.join(", "),
            calls,
        });
    }
    (nodes, edges)
}

/// Longest-path layers: workloads on layer 0, every service one below its deepest caller
/// (call cycles are refused by the scenario reader, so this ends; a service nobody calls sits
/// on layer 1).
fn layers(node_count: usize, workloads: usize, edges: &[Edge]) -> Vec<usize> {
    let mut layer: Vec<usize> = (0..node_count)
        .map(|n| usize::from(n >= workloads))
        .collect();
    for _ in 0..node_count {
        let mut changed = false;
        for edge in edges {
            if layer[edge.to] < layer[edge.from] + 1 {
                layer[edge.to] = layer[edge.from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

/// Orders each layer by the barycentre of its neighbours' positions in the layer above (sweeps
/// down) and below (sweeps up); ties keep file order.
fn order(layer_of: &[usize], edges: &[Edge]) -> Vec<Vec<usize>> {
    let depth = layer_of.iter().max().map_or(0, |&d| d + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (node, &layer) in layer_of.iter().enumerate() {
        rows[layer].push(node);
    }
    let mut position = vec![0.0f64; layer_of.len()];
    let place = |rows: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for row in rows {
            let width = row.len().max(1) as f64;
            for (index, &node) in row.iter().enumerate() {
                position[node] = (index as f64 + 0.5) / width;
            }
        }
    };
    place(&rows, &mut position);
    let mut neighbours_above: Vec<Vec<usize>> = vec![Vec::new(); layer_of.len()];
    let mut neighbours_below: Vec<Vec<usize>> = vec![Vec::new(); layer_of.len()];
    for edge in edges {
        neighbours_above[edge.to].push(edge.from);
        neighbours_below[edge.from].push(edge.to);
    }
    for _ in 0..SWEEPS {
        for (downward, neighbours) in [(true, &neighbours_above), (false, &neighbours_below)] {
            let layer_order: Vec<usize> = if downward {
                (1..depth).collect()
            } else {
                (0..depth.saturating_sub(1)).rev().collect()
            };
            for layer in layer_order {
                let mut keyed: Vec<(f64, usize, usize)> = rows[layer]
                    .iter()
                    .enumerate()
                    .map(|(index, &node)| {
                        let linked = &neighbours[node];
                        let key = if linked.is_empty() {
                            position[node]
                        } else {
                            linked.iter().map(|&n| position[n]).sum::<f64>() / linked.len() as f64
                        };
                        (key, index, node)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                rows[layer] = keyed.into_iter().map(|(_, _, node)| node).collect();
                place(&rows, &mut position);
            }
        }
    }
    rows
}

/// The three corners of an arrowhead at `to`, pointing from `from` (drawn as a polygon rather
/// than an SVG marker: a marker is referenced by `url(#id)`, and the page references nothing).
fn arrowhead(from: (i64, i64), to: (i64, i64)) -> String {
    let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / length, dy / length);
    let (back, half) = (8.0, 3.5);
    let base = (to.0 as f64 - ux * back, to.1 as f64 - uy * back);
    let corner = |side: f64| {
        (
            (base.0 - uy * half * side).round() as i64,
            (base.1 + ux * half * side).round() as i64,
        )
    };
    let (left, right) = (corner(1.0), corner(-1.0));
    format!(
        "{},{} {},{} {},{}",
        to.0, to.1, left.0, left.1, right.0, right.1
    )
}

/// The topology of `setup` as an SVG document (with a `<title>`), coloured by the run's
/// per-service figures.
pub fn render(setup: &Setup, services: &BTreeMap<String, ServiceData>) -> String {
    render_at_most(setup, services, MAX_DRAWN_SERVICES)
}

/// [`render`] drawing at most `max_services` services.
fn render_at_most(
    setup: &Setup,
    services: &BTreeMap<String, ServiceData>,
    max_services: usize,
) -> String {
    let (nodes, edges) = graph(setup, services, max_services);
    let drawn = nodes.len() - setup.workloads.len();
    let part = (drawn < setup.services.len()).then(|| {
        format!(
            "Drawn: {drawn} of the {} services (the ones the workloads call, then the failing, \
             then the busiest) and the calls between them; every service is in the tables and \
             setup.json.",
            super::format::count(setup.services.len() as u64)
        )
    });
    let layer_of = layers(nodes.len(), setup.workloads.len(), &edges);
    let rows = order(&layer_of, &edges);
    let m = if nodes.len() > COMPACT_ABOVE {
        &COMPACT
    } else {
        &NORMAL
    };
    let widest = rows
        .iter()
        .map(|r| r.len().min(m.per_row))
        .max()
        .unwrap_or(1);
    let width = (widest as i64) * (m.box_width + m.gap_x) + m.gap_x + 20;
    let mut at = vec![(0i64, 0i64); nodes.len()];
    let top = if part.is_some() { 62 } else { 44 };
    let mut y = top;
    for row in &rows {
        for chunk in row.chunks(m.per_row) {
            let used = chunk.len() as i64 * (m.box_width + m.gap_x) - m.gap_x;
            let mut x = (width - used) / 2;
            for &node in chunk {
                at[node] = (x, y);
                x += m.box_width + m.gap_x;
            }
            y += m.box_height + m.row_gap;
        }
        y += m.layer_gap - m.row_gap;
    }
    let height = y - m.layer_gap + m.row_gap + 16;
    let mut svg = String::with_capacity(400 * (nodes.len() + edges.len()) + 1024);
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\">"
    );
    svg.push_str("<title>Topology: workloads and services, calls as arrows</title>\n");
    let _ = writeln!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n<text x=\"12\" y=\"20\" font-size=\"12\" fill=\"#333\">Topology: fill = utilisation (white 0% → orange 100%); red outline = share of the tries sent to it that failed; arrows = calls (p = probability, ∥ = parallel step, opt = optional)</text>"
    );
    if let Some(part) = &part {
        let _ = writeln!(
            svg,
            "<text x=\"12\" y=\"38\" font-size=\"12\" fill=\"#333\" class=\"part\">{}</text>",
            escape(part)
        );
    }
    for edge in &edges {
        let (fx, fy) = at[edge.from];
        let (tx, ty) = at[edge.to];
        let (x1, y1) = (fx + m.box_width / 2, fy + m.box_height);
        let (x2, y2) = (tx + m.box_width / 2, ty);
        svg.push_str("<g class=\"call\">");
        let _ = write!(svg, "<title>{}</title>", escape(&edge.calls.join("\n")));
        let _ = write!(
            svg,
            "<line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#777\" stroke-width=\"1\"/><polygon points=\"{}\" fill=\"#555\"/>",
            arrowhead((x1, y1), (x2, y2))
        );
        if !edge.label.is_empty() {
            let (lx, ly) = ((x1 + x2) / 2, (y1 + y2) / 2);
            let _ = write!(
                svg,
                "<text x=\"{lx}\" y=\"{ly}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#0072B2\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
                m.font - 1,
                escape(&edge.label)
            );
        }
        svg.push_str("</g>\n");
    }
    for (index, node) in nodes.iter().enumerate() {
        let (x, y) = at[index];
        let radius = if node.workload { m.box_height / 2 } else { 4 };
        svg.push_str("<g class=\"node\">");
        let _ = write!(svg, "<title>{}</title>", escape(&node.title));
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" rx=\"{radius}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{:.1}\"/>",
            m.box_width, m.box_height, node.fill, node.stroke.0, node.stroke.1
        );
        let cx = x + m.box_width / 2;
        let compact = std::ptr::eq(m, &COMPACT);
        let name_y = if compact {
            y + m.box_height / 2 + m.font / 2 - 1
        } else {
            y + 18
        };
        let _ = write!(
            svg,
            "<text x=\"{cx}\" y=\"{name_y}\" font-size=\"{}\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#212121\">{}</text>",
            m.font,
            escape(&truncate(&node.name, m.name_chars))
        );
        if !compact {
            let _ = write!(
                svg,
                "<text x=\"{cx}\" y=\"{}\" font-size=\"{}\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
                y + 36,
                m.font - 2,
                escape(&truncate(&node.detail, 30))
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::setup::{CallSetup, EndpointSetup, ServiceSetup, WorkloadSetup};

    fn service(name: &str, calls: Vec<Vec<&str>>) -> ServiceSetup {
        ServiceSetup {
            name: name.into(),
            replicas: 2,
            max_replicas: 2,
            workers: 4,
            policy: "round_robin".into(),
            endpoints: vec![EndpointSetup {
                name: "default".into(),
                steps: calls
                    .into_iter()
                    .map(|step| {
                        step.into_iter()
                            .map(|to| CallSetup {
                                service: to.into(),
                                endpoint: "default".into(),
                                probability: 1.0,
                                optional: false,
                            })
                            .collect()
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn layers_are_longest_paths_and_the_layout_is_deterministic() {
        // w -> a -> b -> c, and a -> c directly: c sits below b (longest path), not beside it.
        let setup = Setup {
            services: vec![
                service("a", vec![vec!["b"], vec!["c"]]),
                service("b", vec![vec!["c"]]),
                service("c", vec![]),
            ],
            workloads: vec![WorkloadSetup {
                name: "w".into(),
                service: "a".into(),
                endpoint: "default".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (nodes, edges) = graph(&setup, &BTreeMap::new(), MAX_DRAWN_SERVICES);
        assert_eq!(nodes.len(), 4);
        assert_eq!(layers(nodes.len(), 1, &edges), vec![0, 1, 2, 3]);
        let first = render(&setup, &BTreeMap::new());
        assert_eq!(first, render(&setup, &BTreeMap::new()));
        assert!(first.contains("a/default → c/default"));
    }

    #[test]
    fn barycentre_ordering_uncrosses_two_chains() {
        // Two workloads on x and y; x calls q, y calls p: file order (p, q) would cross the
        // arrows; the barycentre puts q under x and p under y.
        let setup = Setup {
            services: vec![
                service("x", vec![vec!["q"]]),
                service("y", vec![vec!["p"]]),
                service("p", vec![]),
                service("q", vec![]),
            ],
            ..Default::default()
        };
        let (nodes, edges) = graph(&setup, &BTreeMap::new(), MAX_DRAWN_SERVICES);
        let layer_of = layers(nodes.len(), 0, &edges);
        let rows = order(&layer_of, &edges);
        assert_eq!(rows[1], vec![0, 1]);
        assert_eq!(rows[2], vec![3, 2], "q (3) under x, p (2) under y");
    }

    #[test]
    fn a_big_mesh_draws_the_entry_then_the_failing_then_the_busiest_and_says_so() {
        // The workload calls "entry" (idle); "failing" saw a failed try; "busy" is the busiest
        // of the rest; "quiet" and "idle" are left out when three are drawn.
        let setup = Setup {
            services: vec![
                service("idle", vec![]),
                service("busy", vec![vec!["idle"]]),
                service("quiet", vec![]),
                service("failing", vec![]),
                service("entry", vec![vec!["busy"], vec!["failing", "quiet"]]),
            ],
            workloads: vec![WorkloadSetup {
                name: "w".into(),
                service: "entry".into(),
                endpoint: "default".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let figures = |utilization: f64, failed: u64| ServiceData {
            utilization,
            requests: 10,
            tries: [
                ("succeeded".to_string(), 10),
                ("refused".to_string(), failed),
            ]
            .into(),
            ..Default::default()
        };
        let services: BTreeMap<String, ServiceData> = [
            ("idle", figures(0.0, 0)),
            ("busy", figures(0.9, 0)),
            ("quiet", figures(0.1, 0)),
            ("failing", figures(0.05, 3)),
            ("entry", figures(0.0, 0)),
        ]
        .into_iter()
        .map(|(name, data)| (name.to_string(), data))
        .collect();
        assert_eq!(drawn_services(&setup, &services, 3), vec![1, 3, 4]);
        assert_eq!(drawn_services(&setup, &services, 5), vec![0, 1, 2, 3, 4]);
        let svg = render_at_most(&setup, &services, 3);
        let boxes = svg.matches("<g class=\"node\">").count();
        assert_eq!(boxes, 1 + 3, "the workload and three services");
        assert!(svg.contains("Drawn: 3 of the 5 services"), "{svg}");
        // Calls to services not drawn are not drawn either.
        assert!(svg.contains("entry/default → busy/default"));
        assert!(svg.contains("entry/default → failing/default"));
        assert!(!svg.contains("→ quiet/default"));
        assert!(!svg.contains("busy/default → idle/default"));
        // Every service drawn when they fit: no such line.
        assert!(!render_at_most(&setup, &services, 5).contains("Drawn:"));
    }

    #[test]
    fn arrowheads_point_along_the_arrow() {
        assert_eq!(arrowhead((0, 0), (0, 100)), "0,100 -4,92 4,92");
        assert_eq!(arrowhead((0, 0), (100, 0)), "100,0 92,4 92,-4");
    }

    #[test]
    fn fill_goes_from_white_to_orange() {
        assert_eq!(utilisation_fill(0.0), "#ffffff");
        assert_eq!(utilisation_fill(1.0), "#e69f00");
        assert_eq!(utilisation_fill(f64::NAN), "#ffffff");
    }
}
