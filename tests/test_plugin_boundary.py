"""Issue #9: every plugin call of every mode goes through one boundary, ``_engine/invoke``.

The check is structural: outside that package, engine code may not catch ``BaseException``
(which is what calling user code safely needs), except in the listed places that guard
something other than a plugin call. A scheduler that called a plugin itself would need such
a handler, or would let a plugin's ``SystemExit`` escape into the engine."""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "qtforge_orch" / "_engine"

# module -> why it may catch BaseException (none of these is a plugin call site)
ALLOWED = {
    "control_lane.py": "runs callouts (future callbacks) on the control lane",
    "timers.py": "the one timer thread must never die",
    "executors/remote.py": "worker side: rebuilding a shipped plugin, before invoke.call_plugin",
    "executors/gather.py": "collecting Dask futures",
    "executors/dask.py": "results that do not unpickle",
    "executors/dask_local.py": "starting a local cluster in a helper process",
}


def _catches_base_exception(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            names = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if any(isinstance(n, ast.Name) and n.id == "BaseException" for n in names):
                lines.append(node.lineno)
    return lines


def test_only_the_invoke_package_catches_base_exception_around_user_code() -> None:
    offenders = {}
    for path in ENGINE.rglob("*.py"):
        relative = path.relative_to(ENGINE).as_posix()
        if relative.startswith("invoke/") or relative in ALLOWED:
            continue
        lines = _catches_base_exception(ast.parse(path.read_text()))
        if lines:
            offenders[relative] = lines
    assert not offenders, f"BaseException caught outside _engine/invoke: {offenders}"


def test_the_boundary_package_does_catch_it() -> None:
    found = [
        path.name
        for path in (ENGINE / "invoke").glob("*.py")
        if _catches_base_exception(ast.parse(path.read_text()))
    ]
    assert {"calls.py", "items.py", "sources.py"} <= set(found)
