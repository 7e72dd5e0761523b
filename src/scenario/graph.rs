//! Checks of the endpoint call graph: a request must not be able to call itself, directly or
//! through other endpoints, or it would never end.

use std::collections::{HashMap, HashSet, VecDeque};

use petgraph::algo::kosaraju_scc;
use petgraph::graphmap::DiGraphMap;

use super::context::Ctx;
use crate::model::EndpointId;

/// Reports one cycle per strongly connected component of the call graph (and every endpoint that
/// calls itself), naming it (`call cycle: a/x -> b/y -> a/x`) at the call that starts it.
/// `call_sites[e]` lists the targets of endpoint `e`'s calls with the byte offset of each;
/// `labels[e]` is `service/endpoint`.
pub(crate) fn report_cycles(
    ctx: &mut Ctx<'_>,
    call_sites: &[Vec<(EndpointId, usize)>],
    labels: &[String],
) {
    for (cycle, offset) in cycles(call_sites) {
        let name = |e: &EndpointId| labels.get(*e).cloned().unwrap_or_else(|| format!("#{e}"));
        let names: Vec<String> = cycle.iter().map(name).collect();
        ctx.error_at(
            offset.copied().unwrap_or(0),
            format!("call cycle: {}", names.join(" -> ")),
        );
    }
}

/// One cycle per strongly connected component of a call graph (and every node that calls
/// itself), in a deterministic order: each a shortest path from the component's smallest node
/// back to it, with the site of its first call. `call_sites[n]` lists the targets of node `n`'s
/// calls, each with where it is written (the first site of an edge is the one given). Importers
/// use it too, to name a cycle where their user wrote it.
pub(crate) fn cycles<S>(call_sites: &[Vec<(usize, S)>]) -> Vec<(Vec<usize>, Option<&S>)> {
    let mut graph: DiGraphMap<EndpointId, ()> = DiGraphMap::new();
    let mut site_of: HashMap<(EndpointId, EndpointId), &S> = HashMap::new();
    for (from, sites) in call_sites.iter().enumerate() {
        graph.add_node(from);
        for (to, site) in sites {
            graph.add_edge(from, *to, ());
            site_of.entry((from, *to)).or_insert(site);
        }
    }
    // Kosaraju's algorithm, not Tarjan's: petgraph's Tarjan recurses once per endpoint of a
    // call chain, and a chain of 20,000 services overflowed the stack.
    let mut components: Vec<Vec<EndpointId>> = kosaraju_scc(&graph)
        .into_iter()
        .filter(|c| c.len() > 1 || c.first().is_some_and(|&n| graph.contains_edge(n, n)))
        .collect();
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort();
    components
        .into_iter()
        .map(|component| {
            let cycle = cycle_through(&graph, &component);
            let site = match cycle.as_slice() {
                [first, second, ..] => site_of.get(&(*first, *second)).copied(),
                _ => None,
            };
            (cycle, site)
        })
        .collect()
}

/// A shortest cycle through the smallest endpoint of a strongly connected component, as a path
/// that starts and ends there.
fn cycle_through(graph: &DiGraphMap<EndpointId, ()>, component: &[EndpointId]) -> Vec<EndpointId> {
    let Some(&start) = component.first() else {
        return Vec::new();
    };
    if graph.contains_edge(start, start) {
        return vec![start, start];
    }
    let members: HashSet<EndpointId> = component.iter().copied().collect();
    let mut parent: HashMap<EndpointId, EndpointId> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut visited = HashSet::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<EndpointId> = graph
            .neighbors(node)
            .filter(|m| members.contains(m))
            .collect();
        next.sort_unstable();
        for m in next {
            if m == start {
                return path_back_to_start(start, node, &parent);
            }
            if visited.insert(m) {
                parent.insert(m, node);
                queue.push_back(m);
            }
        }
    }
    vec![start, start]
}

/// The path `start -> ... -> last -> start` from BFS parents.
fn path_back_to_start(
    start: EndpointId,
    last: EndpointId,
    parent: &HashMap<EndpointId, EndpointId>,
) -> Vec<EndpointId> {
    let mut backwards = vec![last];
    let mut current = last;
    while current != start {
        match parent.get(&current) {
            Some(&p) => {
                backwards.push(p);
                current = p;
            }
            None => break,
        }
    }
    backwards.reverse();
    backwards.push(start);
    backwards
}
