"""The package's modules import each other without a cycle (issue #9): a module-level import
graph over ``qtforge_orch``, leaving out imports under ``if TYPE_CHECKING:`` (type-only) and
inside functions (deferred on purpose), must be acyclic."""

from __future__ import annotations

import ast
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


def import_graph() -> nx.DiGraph:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text())
        for statement in _top_level_imports(tree):
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
