"""The exported surface is one list, and it is frozen.

``qtforge_orch._lazy.PUBLIC_NAMES`` is the one list of public names; ``__all__`` of
``qtforge_orch`` and ``qtforge_orch.orchestration`` are derived from it, and the
``if TYPE_CHECKING:`` imports that type checkers need must name the same objects.

``tests/public_api.txt`` freezes the surface (as httpx freezes its exports): every exported name
of the public namespaces and every public method, property, signal, field and enum member of
every exported class. A change to the surface fails ``test_surface_is_frozen`` until the list is
regenerated on purpose::

    QT_QPA_PLATFORM=offscreen python tests/test_public_surface.py --update
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic
from PySide6.QtCore import QMetaObject, Signal

import qtforge_orch
from qtforge_orch._lazy import ORCHESTRATION_NAMES, PUBLIC_NAMES

ROOT = Path(__file__).resolve().parent.parent
FROZEN = Path(__file__).resolve().parent / "public_api.txt"

# The public namespaces, in the order the list shows them.
NAMESPACES = (
    "qtforge_orch",
    "qtforge_orch.orchestration",
    "qtforge_orch.plugins",
    "qtforge_orch.composition",
    "qtforge_orch.qt",
    "qtforge_orch.widgets",
    "qtforge_orch.cli",
    "qtforge_orch.tracing",
)

_PYDANTIC_API = frozenset(dir(pydantic.BaseModel))


def _type_checking_imports(init: Path, package: str) -> dict[str, str]:
    """``{name: absolute module}`` for the ``from X import name as name`` lines under
    ``if TYPE_CHECKING:`` in ``init``; every one must be an explicit re-export."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for node in tree.body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"):
            continue
        for stmt in node.body:
            assert isinstance(stmt, ast.ImportFrom), ast.unparse(stmt)
            base = package.split(".")
            if stmt.level:
                base = base[: len(base) - stmt.level + 1]
            module = ".".join([*base, stmt.module] if stmt.module else base)
            for alias in stmt.names:
                assert alias.asname == alias.name, (
                    f"{init}: `{alias.name}` must be imported as `{alias.name} as {alias.name}` "
                    "(an explicit re-export: __all__ is not visible to type checkers)"
                )
                found[alias.name] = module
    return found


def test_type_checking_imports_match_public_names() -> None:
    assert _type_checking_imports(ROOT / "qtforge_orch" / "__init__.py", "qtforge_orch") == (
        PUBLIC_NAMES
    )
    orchestration = _type_checking_imports(
        ROOT / "qtforge_orch" / "orchestration" / "__init__.py", "qtforge_orch.orchestration"
    )
    assert orchestration == {name: PUBLIC_NAMES[name] for name in ORCHESTRATION_NAMES}


def test_all_is_derived_from_public_names() -> None:
    import qtforge_orch.orchestration as orchestration

    assert qtforge_orch.__all__ == sorted(PUBLIC_NAMES)
    assert orchestration.__all__ == sorted(ORCHESTRATION_NAMES)
    assert sorted(dir(qtforge_orch)) == sorted(PUBLIC_NAMES)
    for name in PUBLIC_NAMES:
        value = getattr(qtforge_orch, name)
        assert value is getattr(importlib.import_module(PUBLIC_NAMES[name]), name)
        if name in ORCHESTRATION_NAMES:
            assert getattr(orchestration, name) is value


def test_subpackage_all_names_exist() -> None:
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            assert hasattr(module, name), f"{namespace}.__all__ names a missing {name}"


def test_public_classes_and_functions_live_in_plainly_named_modules() -> None:
    """What a user imports is defined where its module path says, not in a private module
    re-exported (the reference and tracebacks then name a module the user may import)."""
    hidden = []
    more = ("qtforge_orch.journal", "qtforge_orch.testing", "qtforge_orch.contract")
    for namespace in (*NAMESPACES, *more, "qtforge_orch.events"):
        module = importlib.import_module(namespace)
        for name in module.__all__:
            value = getattr(module, name)
            where = getattr(value, "__module__", None)
            if not (inspect.isclass(value) or inspect.isfunction(value)) or where is None:
                continue
            if where.startswith("qtforge_orch") and any(
                part.startswith("_") for part in where.split(".")[1:]
            ):
                hidden.append(f"{namespace}.{name} is defined in {where}")
    assert not hidden, "\n".join(hidden)


def _kind(cls: type, name: str, value: Any) -> str | None:
    """What ``value`` (found in ``cls.__dict__`` under ``name``) is, or None if not surface."""
    if isinstance(value, Signal):
        return "signal"
    if isinstance(value, QMetaObject):
        return None
    if isinstance(value, property):
        return "property"
    if isinstance(value, classmethod):
        return "classmethod"
    if isinstance(value, staticmethod):
        return "staticmethod"
    if inspect.isfunction(value):
        return "method"
    if isinstance(cls, enum.EnumMeta) and name in cls.__members__:
        return "member"
    if issubclass(cls, pydantic.BaseModel) and name in _PYDANTIC_API:
        return None
    return "attribute"


def _members(cls: type) -> list[str]:
    """``name kind`` for each public member ``cls`` defines or inherits from this package."""
    members: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if not base.__module__.startswith("qtforge_orch"):
            continue
        for name, value in vars(base).items():
            if name.startswith("_"):
                continue
            kind = _kind(base, name, value)
            if kind is not None:
                members[name] = kind
        if issubclass(base, pydantic.BaseModel):
            for name in base.__pydantic_fields__:
                if not name.startswith("_"):
                    members[name] = "field"
    return [f"{name} {kind}" for name, kind in sorted(members.items())]


def _describe(value: Any) -> str:
    if inspect.isclass(value):
        return "class"
    if inspect.isfunction(value):
        return "function"
    return "constant"


def surface() -> list[str]:
    """The public surface as sorted text lines (the content of ``public_api.txt``)."""
    lines: list[str] = []
    classes: dict[str, type] = {}
    for namespace in NAMESPACES:
        module: ModuleType = importlib.import_module(namespace)
        for name in sorted(module.__all__):
            value = getattr(module, name)
            lines.append(f"{namespace}.{name} {_describe(value)}")
            if inspect.isclass(value):
                owner = classes.setdefault(name, value)
                assert owner is value, f"two public classes are named {name}"
    for name, cls in sorted(classes.items()):
        lines.extend(f"{name}.{member}" for member in _members(cls))
    return lines


# Ruff's pydocstyle rules treat everything in a module named ``_x.py`` as private, so they never
# ask for a docstring on the public classes that live in such modules; this test does. Members
# defined in the engine (``qtforge_orch._engine``: ExecutionFuture) are left to the engine's
# owners, as in the ruff configuration; the contract's (StepContext, RetryPolicy) are checked.
_DOCSTRING_EXEMPT_MODULES = ("qtforge_orch._engine.",)


def _needs_docstring(module: str) -> bool:
    return module.startswith("qtforge_orch") and not module.startswith(_DOCSTRING_EXEMPT_MODULES)


def test_every_public_class_and_method_has_a_docstring() -> None:
    missing: list[str] = []
    seen: set[int] = set()
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        for name in module.__all__:
            value = getattr(module, name)
            if id(value) in seen:
                continue
            seen.add(id(value))
            if (
                inspect.isfunction(value)
                and _needs_docstring(value.__module__)
                and not value.__doc__
            ):
                missing.append(f"{namespace}.{name}")
            if not inspect.isclass(value):
                continue
            for base in value.__mro__:
                if not _needs_docstring(base.__module__):
                    continue
                if not vars(base).get("__doc__"):
                    missing.append(base.__qualname__)
                for member, attr in vars(base).items():
                    if member.startswith("_"):
                        continue
                    function = attr.fget if isinstance(attr, property) else attr
                    if isinstance(function, classmethod | staticmethod):
                        function = function.__func__
                    if inspect.isfunction(function) and not function.__doc__:
                        missing.append(f"{base.__qualname__}.{member}")
    assert not missing, f"public classes and methods without a docstring: {sorted(set(missing))}"


def test_the_orchestrators_constructors_say_what_each_parameter_takes() -> None:
    """The reference shows the annotations as written: none of them is ``Any``."""
    for orchestrator in (qtforge_orch.PluginOrchestrator, qtforge_orch.AdvancedPluginOrchestrator):
        parameters = inspect.signature(orchestrator.__init__).parameters
        vague = [name for name, p in parameters.items() if "Any" in str(p.annotation)]
        assert not vague, f"{orchestrator.__name__}: {vague}"
        journal = parameters["journal"].annotation
        assert journal == "str | os.PathLike[str] | ExecutionJournal | None"


def test_surface_is_frozen() -> None:
    frozen = FROZEN.read_text(encoding="utf-8").splitlines()
    current = surface()
    added = sorted(set(current) - set(frozen))
    removed = sorted(set(frozen) - set(current))
    assert not added and not removed, (
        "the public surface changed; if on purpose, regenerate tests/public_api.txt with\n"
        "    QT_QPA_PLATFORM=offscreen python tests/test_public_surface.py --update\n"
        f"added: {added}\nremoved: {removed}"
    )
    assert frozen == current, "tests/public_api.txt is out of order: regenerate it"


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_public_surface.py --update")
    FROZEN.write_text("\n".join(surface()) + "\n", encoding="utf-8")
    print(f"wrote {FROZEN.relative_to(ROOT)}")
