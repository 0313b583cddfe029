"""The package's import graph: no cycles, and the layer rules of /work/shared/layers.json.

Two graphs over ``qtforge_orch``'s modules. The module-level one leaves out imports under
``if TYPE_CHECKING:`` (type-only) and inside functions (deferred); it must be acyclic, or
importing the package could fail half-way (issue #9). The full one counts every import, those
included: a type-only or deferred import still couples two modules, and a loop among them means
neither can be read, changed or tested without the other. The layer rules are checked on the
full graph.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "qtforge_orch"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, node.module] if node.module else parts)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _top_level_imports(tree: ast.Module) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, ast.If) and "TYPE_CHECKING" in ast.unparse(statement.test):
            continue
        if isinstance(statement, ast.Import | ast.ImportFrom):
            found.append(statement)
        elif isinstance(statement, ast.Try):
            found += [s for s in statement.body if isinstance(s, ast.Import | ast.ImportFrom)]
    return found


def _every_import(tree: ast.Module) -> list[ast.stmt]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def import_graph(*, every_import: bool = False) -> nx.DiGraph:
    """The package's import graph (a copy: callers may change it)."""
    return _import_graph(every_import).copy()


@functools.cache
def _import_graph(every_import: bool) -> nx.DiGraph:
    # Parsed once per session: every rule reads the same source tree.
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        statements = _every_import(tree) if every_import else _top_level_imports(tree)
        for statement in statements:
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base, *submodules = _resolve(module, path.name == "__init__.py", statement)
                # ``from pkg import sub`` needs the submodule, not the package's __init__
                # (which may be the importer's own package, still initialising).
                targets = [s for s in submodules if s in modules] or [base]
            for target in targets:
                if target in modules and target != module:
                    graph.add_edge(module, target)
    return graph


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert graph.number_of_edges() > 50  # the walk found the package's imports
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles[:5])


# --- the layers ---------------------------------------------------------------------------------
ENGINE = "qtforge_orch._engine"
CONTRACT = "qtforge_orch.contract"
PLUGINS = "qtforge_orch.plugins"
FACADES = ("qtforge_orch.orchestration", "qtforge_orch._export")
JOURNAL = "qtforge_orch.journal"
HANDLES = "qtforge_orch.qt"
WIDGETS = "qtforge_orch.widgets"
BASE = (
    "qtforge_orch.errors",
    "qtforge_orch.results",
    "qtforge_orch._durations",
    "qtforge_orch._limits",
    "qtforge_orch._jsoncopy",
    "qtforge_orch._order",
)
# The run shell, and the engine modules above it: the curated API exports it, the engine
# creates runs, the suite's transition checks swap its ``transition``.
RUN_SHELL = f"{ENGINE}.run"
ABOVE_THE_SHELL = frozenset({ENGINE, f"{ENGINE}.engine", f"{ENGINE}.transition_checks"})
# Import loops still to be removed, each the set of modules in it. None is left: not in the
# facades, their models, the composition, the CLI, the handles or the widgets, and never in
# the engine or the contract.
ALLOWED_LOOPS: list[frozenset[str]] = []


def _in(module: str, *parts: str) -> bool:
    return any(module == part or module.startswith(part + ".") for part in parts)


def _edges(graph: nx.DiGraph, source: tuple[str, ...], target: tuple[str, ...]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, b in graph.edges if _in(a, *source) and _in(b, *target))


def test_the_engine_knows_no_facade_journal_or_qt_layer() -> None:
    graph = import_graph(every_import=True)
    assert graph.number_of_edges() > 100
    assert not _edges(graph, (ENGINE,), (*FACADES, JOURNAL, HANDLES, WIDGETS))


def test_plugins_and_the_contract_never_import_the_engine() -> None:
    graph = import_graph(every_import=True)
    assert not _edges(graph, (PLUGINS, CONTRACT), (ENGINE,))


def test_the_contract_stands_on_the_base_alone() -> None:
    graph = import_graph(every_import=True)
    outside = [
        f"{a} -> {b}" for a, b in graph.edges if _in(a, CONTRACT) and not _in(b, CONTRACT, *BASE)
    ]
    assert not outside


def test_the_base_and_the_journal_stand_alone() -> None:
    graph = import_graph(every_import=True)
    assert not _edges(graph, BASE, (ENGINE, CONTRACT, *FACADES))
    assert not _edges(graph, (JOURNAL,), (ENGINE, *FACADES))


def test_handles_know_no_screen_and_widgets_no_engine() -> None:
    graph = import_graph(every_import=True)
    assert not _edges(graph, (HANDLES,), (WIDGETS,))
    assert not _edges(graph, (WIDGETS,), (ENGINE,))


def test_outside_the_engine_only_its_curated_api_is_imported() -> None:
    """``qtforge_orch._engine`` (its ``__init__``: the curated list), never a module in it."""
    graph = import_graph(every_import=True)
    reaching_in = [
        f"{a} -> {b}"
        for a, b in graph.edges
        if not _in(a, ENGINE) and _in(b, ENGINE) and b != ENGINE
    ]
    assert not reaching_in


def test_no_import_loop_counting_type_only_and_deferred_imports() -> None:
    graph = import_graph(every_import=True)
    loops = [frozenset(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    unexpected = [sorted(loop) for loop in loops if loop not in ALLOWED_LOOPS]
    assert not unexpected, f"import loops: {unexpected}"
    assert not [loop for loop in loops if any(_in(m, ENGINE, CONTRACT) for m in loop)]


def test_nothing_imports_the_run_shell_from_below() -> None:
    graph = import_graph(every_import=True)
    importers = sorted(a for a, b in graph.edges if b == RUN_SHELL)
    assert importers, "the walk found who imports the run shell"
    below = [a for a in importers if a not in ABOVE_THE_SHELL]
    assert not below, f"imported from below: {below}"


def test_engine_modules_stay_small() -> None:
    # Each engine module holds one part; past 400 lines one has grown two.
    engine = PACKAGE / "_engine"
    large = {
        str(path.relative_to(engine)): lines
        for path in engine.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not large, f"engine modules over 400 lines: {large}"
