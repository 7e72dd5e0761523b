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
    let mut graph: DiGraphMap<EndpointId, ()> = DiGraphMap::new();
    let mut site_of: HashMap<(EndpointId, EndpointId), usize> = HashMap::new();
    for (from, sites) in call_sites.iter().enumerate() {
        graph.add_node(from);
        for &(to, offset) in sites {
            graph.add_edge(from, to, ());
            site_of.entry((from, to)).or_insert(offset);
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
    for component in components {
        let cycle = cycle_through(&graph, &component);
        let name = |e: &EndpointId| labels.get(*e).cloned().unwrap_or_else(|| format!("#{e}"));
        let names: Vec<String> = cycle.iter().map(name).collect();
        let offset = match cycle.as_slice() {
            [first, second, ..] => site_of.get(&(*first, *second)).copied().unwrap_or(0),
            _ => 0,
        };
        ctx.error_at(offset, format!("call cycle: {}", names.join(" -> ")));
    }
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
