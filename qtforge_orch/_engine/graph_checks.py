"""Graph checks done once, at registration, so runs work on plain lists and dicts.

The cycle check is a linear pass of its own: with networkx, building the graph and searching
it costs several times more (plus its import) for a 10,000-node workflow, and registration
has a 100 ms budget at that size. networkx
(imported lazily: ``import qtforge_orch`` must stay cheap) answers the reachability questions
that are not on that path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def find_cycle(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """One cycle (self-loops included) in edge order starting at its earliest-declared node,
    or None when acyclic. O(nodes + edges), iterative (no recursion limit on long chains).

    Kahn's algorithm peels off every node not on or behind a cycle. Each node left over has a
    predecessor that is also left over, so walking predecessors from any of them must revisit a
    node, and the walk from that node back to itself is a cycle.
    """
    edge_list = list(edges)
    indegree = dict.fromkeys(nodes, 0)
    successors: dict[str, list[str]] = {}
    for source, target in edge_list:
        indegree[target] += 1
        successors.setdefault(source, []).append(target)
    ready = [node for node, count in indegree.items() if count == 0]
    while ready:
        for target in successors.get(ready.pop(), ()):
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    remaining = {node for node, count in indegree.items() if count > 0}
    if not remaining:
        return None
    predecessor: dict[str, str] = {}
    for source, target in edge_list:
        if source in remaining and target in remaining:
            predecessor.setdefault(target, source)
    current = next(node for node in nodes if node in remaining)
    visited: dict[str, int] = {}
    walk: list[str] = []
    while current not in visited:
        visited[current] = len(walk)
        walk.append(current)
        current = predecessor[current]
    backwards = walk[visited[current] :]
    backwards.reverse()
    order = {node: index for index, node in enumerate(nodes)}
    first = min(range(len(backwards)), key=lambda i: order[backwards[i]])
    return backwards[first:] + backwards[:first]


def descendants(nodes: Sequence[str], edges: Iterable[tuple[str, str]], start: str) -> set[str]:
    """Every node reachable from ``start`` (``start`` excluded)."""
    import networkx as nx

    graph = _digraph(nodes, edges)
    return set(nx.descendants(graph, start))


def _digraph(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    return graph
