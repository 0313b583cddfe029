"""Execution order of a workflow's steps or nodes, as the C++ ``get_execution_order()`` gives it."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence


def topological_order(ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """``ids`` ordered so every edge's source comes before its target; ties keep declaration
    order (a heap of positions: deterministic, unlike C++'s hash order). An id repeated is
    listed once; edges naming unknown ids are ignored. Empty when the edges form a cycle."""
    position: dict[str, int] = {}
    for at, item in enumerate(ids):
        position.setdefault(item, at)
    successors: dict[int, list[int]] = {}
    waiting = dict.fromkeys(position.values(), 0)
    for source, target in dict.fromkeys(edges):
        first, second = position.get(source), position.get(target)
        if first is None or second is None:
            continue
        successors.setdefault(first, []).append(second)
        waiting[second] += 1
    ready = [at for at, count in waiting.items() if not count]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        at = heapq.heappop(ready)
        order.append(ids[at])
        for successor in successors.get(at, ()):
            waiting[successor] -= 1
            if not waiting[successor]:
                heapq.heappush(ready, successor)
    return order if len(order) == len(position) else []
