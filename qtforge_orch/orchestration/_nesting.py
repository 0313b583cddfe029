"""Who runs inside whom: the links between nested executions, and the nesting rules.

A nested workflow's child execution is linked to the parent execution and step that run it.
The links are kept per ``Run`` (weakly: they go with the runs) and answer the status calls
(a child's ``parent_execution_id``, a parent step's child execution), the propagation of a
pause, and the cycle and depth checks at run time. Registration checks the same rules on the
registered workflows (``nesting_refusal``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import PluginError, PluginErrorCode

if TYPE_CHECKING:
    from .._engine import Run
    from ..contract.plan import Plan

#: How many workflows deep a nested workflow may run below the execution that started it: a
#: workflow whose step runs a nested workflow has a child at depth 1.
MAX_NESTING_DEPTH = 8

# A workflow across orchestrators: its engine (by identity) and its id.
WorkflowKey = tuple[int, str]


@dataclass(slots=True)
class NestLink:
    """What is known of one execution in a nesting: its parent, its depth, its children."""

    parent_execution_id: str | None = None
    parent_step: str | None = None
    depth: int = 0
    chain: tuple[WorkflowKey, ...] = ()  # the workflows from the root down to this one
    names: tuple[str, ...] = ()  # the same, as a person reads them
    children: dict[str, str] = field(default_factory=dict)  # step -> latest child execution
    live: list[Run] = field(default_factory=list)  # children that may still run


_lock = threading.Lock()
_links: weakref.WeakKeyDictionary[Run, NestLink] = weakref.WeakKeyDictionary()


def workflow_name(kind: str, workflow_id: str) -> str:
    return f"{kind} workflow '{workflow_id}'"


def link_of(run: Any) -> NestLink | None:
    """The nesting link of a live run (None: a run that is no nesting's part)."""
    try:
        with _lock:
            return _links.get(run)
    except TypeError:  # a run read back from the journal cannot be weakly referenced
        return None


def own_link(run: Run, kind: str) -> NestLink:
    """``run``'s link, made for a root execution the first time one of its steps nests."""
    with _lock:
        link = _links.get(run)
        if link is None:
            key = (id(run.engine), run.workflow_id)
            link = NestLink(chain=(key,), names=(workflow_name(kind, run.workflow_id),))
            _links[run] = link
        return link


def attach_child(
    parent: Run | None, parent_link: NestLink | None, step: str, child: Run, link: NestLink
) -> None:
    """Record ``child`` as the execution ``parent``'s ``step`` runs now."""
    with _lock:
        _links[child] = link
        if parent is not None and parent_link is not None:
            parent_link.children[step] = child.execution_id
            parent_link.live = [run for run in parent_link.live if not run.is_done()]
            parent_link.live.append(child)


def children(run: Any) -> dict[str, str]:
    """The latest child execution of each nested step of ``run`` (step id -> execution id)."""
    link = link_of(run)
    if link is None:  # a run read back from the journal knows them from there
        return dict(getattr(run, "recorded_children", {}))
    with _lock:
        return dict(link.children)


def parent_execution_id(run: Any) -> str | None:
    link = link_of(run)
    if link is None:
        parent: str | None = getattr(run, "recorded_parent", None)
        return parent
    return link.parent_execution_id


def _live_children(run: Run) -> list[Run]:
    link = link_of(run)
    if link is None:
        return []
    with _lock:
        return [child for child in link.live if not child.is_done()]


def for_each_descendant(run: Run, action: Callable[[Run], object]) -> None:
    """Apply ``action`` to every running child of ``run``, and to theirs (a pause, a resume)."""
    for child in _live_children(run):
        action(child)
        for_each_descendant(child, action)


# --- the rules ---------------------------------------------------------------------------------
def cycle_error(names: Iterable[str]) -> PluginError:
    path = " -> ".join(names)
    return PluginError(
        PluginErrorCode.CircularDependency,
        f"nested workflows form a cycle: {path}; a workflow cannot run itself, directly or "
        "through other workflows",
        context={"cycle": list(names)},
    )


def depth_error(names: Iterable[str]) -> PluginError:
    path = list(names)
    return PluginError(
        PluginErrorCode.ResourceExhausted,
        f"nested workflows go {len(path) - 1} deep ({' -> '.join(path)}); the limit is "
        f"MAX_NESTING_DEPTH = {MAX_NESTING_DEPTH}",
        context={"chain": path, "max_depth": MAX_NESTING_DEPTH},
    )


class NestedTarget(Protocol):
    """A plugin that runs a registered workflow (``WorkflowPlugin``), as the checks see it."""

    def nested_key(self) -> WorkflowKey | None: ...

    def nested_name(self) -> str: ...

    def nested_plan(self) -> Plan | None: ...

    def nested_targets(
        self, plan: Plan, pending: dict[str, NestedTarget]
    ) -> Iterator[NestedTarget]: ...


Targets = Callable[["Plan", dict[str, NestedTarget]], Iterator[NestedTarget]]


def nesting_refusal(
    key: WorkflowKey,
    name: str,
    plan: Plan,
    targets: Targets,
    pending: dict[str, NestedTarget] | None = None,
) -> PluginError | None:
    """Why registering ``plan`` (the workflow ``key``) would nest workflows wrongly.

    A cycle or more than ``MAX_NESTING_DEPTH`` levels, following the nested workflows
    registered now; None when neither. ``pending`` names plugins about to exist (the one
    ``as_plugin`` makes), found by id where no registered plugin has it.
    """
    return _walk([key], [name], plan, targets, pending or {})


def _walk(
    path: list[WorkflowKey],
    names: list[str],
    plan: Plan,
    targets: Targets,
    pending: dict[str, NestedTarget],
) -> PluginError | None:
    for target in targets(plan, pending):
        key = target.nested_key()
        if key is None:
            continue
        if key in path:
            return cycle_error([*names[path.index(key) :], target.nested_name()])
        if len(path) > MAX_NESTING_DEPTH:
            return depth_error([*names, target.nested_name()])
        below = target.nested_plan()
        if below is None:
            continue
        name = target.nested_name()
        refused = _walk([*path, key], [*names, name], below, target.nested_targets, pending)
        if refused is not None:
            return refused
    return None
