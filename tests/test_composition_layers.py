"""Composition's place in the layers (/work/shared/layers.json): it builds on the plugins, the
base and the conditions; the plugins, the contract and the engine never import it (a facade
may). Checked on the full import graph (type-only and deferred imports counted)."""

from __future__ import annotations

from .test_import_graph import BASE, CONTRACT, ENGINE, PLUGINS, _edges, _in, import_graph

COMPOSITION = "qtforge_orch.composition"
CONDITIONS = "qtforge_orch._conditions"


def test_composition_imports_only_the_plugins_the_base_and_the_conditions() -> None:
    graph = import_graph(every_import=True)
    outside = [
        f"{a} -> {b}"
        for a, b in graph.edges
        if _in(a, COMPOSITION) and not _in(b, COMPOSITION, PLUGINS, CONDITIONS, *BASE)
    ]
    assert graph.out_degree(f"{COMPOSITION}.composite_plugin") > 0  # the walk found it
    assert not outside


def test_nothing_below_the_facades_imports_composition() -> None:
    graph = import_graph(every_import=True)
    assert not _edges(graph, (PLUGINS, CONTRACT, ENGINE, *BASE, CONDITIONS), (COMPOSITION,))
