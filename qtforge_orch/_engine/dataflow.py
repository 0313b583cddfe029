"""How a task's input is assembled and whether it may run: the data-flow rules of DESIGN 4-5."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..contract.plan import RESERVED_CONFIGURATION_KEYS as RESERVED_CONFIGURATION_KEYS
from ..contract.plan import DataPolicy, JoinPolicy, Plan, Role, TaskSpec, TaskState, WireKind

# Where list-valued results live when a node declares no port: a Splitter's items, the
# per-item results of a mapped node, an Aggregator's collected input.
MAPPED_KEY = "items"

_DONE = TaskState.Completed
_SKIPPED = TaskState.Skipped


def build_params(
    plan: Plan,
    shared: dict[str, Any],
    initial: dict[str, Any],
    outputs: Sequence[dict[str, Any] | None],
    active_control: Sequence[set[int] | None],
    task: TaskSpec,
) -> dict[str, Any]:
    """``task``'s input (the run's data last: a run binds the rest once, ``partial``)."""
    policy = plan.data
    if policy is DataPolicy.SHARED:
        params = dict(shared)
        params.update(task.parameters)
        return params
    if policy is DataPolicy.PIPELINE:
        if not task.incoming:
            params = dict(initial)
        else:
            params = {}
            for wire in task.incoming:
                produced = outputs[wire.source]
                if produced is not None:
                    params.update(produced)
        params.update(task.parameters)
        return params
    return _port_params(plan, task, initial, outputs, active_control[task.index])


def _port_params(
    plan: Plan,
    task: TaskSpec,
    initial: dict[str, Any],
    outputs: Sequence[dict[str, Any] | None],
    active_control: set[int] | None,
) -> dict[str, Any]:
    params = dict(task.call_parameters)
    sources = task.plain_sources
    if sources is not None:
        fed = False
        for source in sources:
            produced = outputs[source]
            if produced is not None:
                params.update(produced)
                fed = True
        if not fed:
            params.update(initial)
        return params
    if task.role is Role.AGGREGATOR:
        return _aggregate(plan, task, params, outputs, active_control)
    carries_data = False
    for wire in task.incoming:
        if wire is task.fan_out:
            carries_data = True
            continue  # delivered item by item when the task runs
        if wire.kind is WireKind.ORDER:
            continue
        if wire.kind is WireKind.CONTROL and (
            active_control is None or wire.source not in active_control
        ):
            continue
        produced = outputs[wire.source]
        if produced is None:
            continue
        carries_data = True
        source_port = wire.source_port
        if not source_port and not wire.target_port and wire.transform is None:
            params.update(produced)  # a plain wire merges the whole output (most wires)
            continue
        if source_port and plan.tasks[wire.source].fan_out is not None:
            # A mapped node's output is its per-item results: the port is read per item.
            deliver(
                params,
                {wire.source_port: _per_item(produced, wire.source_port)},
                wire.source_port,
                wire.target_port,
                wire.transform,
            )
            continue
        deliver(params, produced, wire.source_port, wire.target_port, wire.transform)
    if not carries_data:
        # Roots (and nodes fed only by ordering edges) take the execution's input data as
        # their input, and inputs overlay the node's configuration (DESIGN 5).
        params.update(initial)
    return params


def _aggregate(
    plan: Plan,
    task: TaskSpec,
    params: dict[str, Any],
    outputs: Sequence[dict[str, Any] | None],
    active_control: set[int] | None,
) -> dict[str, Any]:
    """An Aggregator receives one list: every delivered value, in connection order, with the
    per-item results of mapped (Splitter-fed) nodes flattened into it."""
    collected: list[Any] = []
    for wire in task.incoming:
        if wire.kind is WireKind.ORDER:
            continue
        if wire.kind is WireKind.CONTROL and (
            active_control is None or wire.source not in active_control
        ):
            continue
        produced = outputs[wire.source]
        if produced is None:
            continue
        if plan.tasks[wire.source].fan_out is not None:
            # Per-item results of a mapped node, flattened; a port is read from each item.
            if wire.source_port:
                collected.extend(_per_item(produced, wire.source_port))
            else:
                collected.extend(produced[MAPPED_KEY])
        elif wire.source_port:
            collected.append(produced.get(wire.source_port))
        else:
            collected.append(produced)
    params[task.in_port or MAPPED_KEY] = collected
    return params


def _per_item(produced: dict[str, Any], port: str) -> list[Any]:
    return [
        item.get(port) if isinstance(item, dict) else None for item in produced.get(MAPPED_KEY, ())
    ]


def fan_out_items(task: TaskSpec, outputs: Sequence[dict[str, Any] | None]) -> list[Any]:
    wire = task.fan_out
    assert wire is not None
    produced = outputs[wire.source] or {}
    items = produced.get(wire.source_port or MAPPED_KEY)
    return list(items) if isinstance(items, list) else []


def deliver(
    params: dict[str, Any],
    produced: Any,
    source_port: str,
    target_port: str,
    transform: Callable[[Any], Any] | None = None,
) -> None:
    """DataFlow rule: ``output[source_port]`` (rewritten by the wire's ``transform``, if any)
    lands on ``target_port``; no ports: merge."""
    value = produced.get(source_port) if source_port and isinstance(produced, dict) else produced
    if transform is not None:
        value = transform(value)
    if target_port:
        params[target_port] = value
    elif isinstance(value, dict):
        params.update(value)
    else:
        params[source_port or "value"] = value


def should_run(
    plan: Plan,
    task: TaskSpec,
    states: Sequence[int],
    active_control: set[int] | None,
) -> bool:
    """Decide, once every predecessor has settled, whether the task runs or is Skipped."""
    if not task.incoming:
        return True
    join = plan.join
    if task.plain_sources is not None and (join is JoinPolicy.GATED or join is JoinPolicy.ALL):
        # Plain data wires only: under ALL and GATED alike, every source must complete.
        for source in task.plain_sources:  # noqa: SIM110
            if states[source] != _DONE:
                return False
        return True
    if join is JoinPolicy.ALL:
        # A loop, not all() over a generator: this runs for every released task.
        for wire in task.incoming:  # noqa: SIM110
            if states[wire.source] != _DONE:
                return False
        return True
    if join is JoinPolicy.OR:
        settled_ok = all(states[w.source] in (_DONE, _SKIPPED) for w in task.incoming)
        return settled_ok and any(states[w.source] == _DONE for w in task.incoming)
    if join is JoinPolicy.GATED_OR:
        return any(
            (active_control is not None and wire.source in active_control)
            if wire.kind is WireKind.CONTROL
            else states[wire.source] == _DONE
            for wire in task.incoming
        )
    has_control = False
    for wire in task.incoming:
        if wire.kind is WireKind.CONTROL:
            has_control = True
            continue
        if states[wire.source] != _DONE:
            return False
    if has_control:
        return bool(active_control)
    return True


def collect_result(
    plan: Plan,
    shared: dict[str, Any],
    outputs: Sequence[dict[str, Any] | None],
    states: Sequence[int],
) -> dict[str, Any]:
    """The workflow's result: shared data (v1), last steps' output (Pipeline), or the
    outputs of the graph's completed leaf nodes keyed by node id (v2)."""
    if plan.data is DataPolicy.SHARED:
        return dict(shared)
    leaves = [t for t in plan.tasks if not t.successors and states[t.index] == _DONE]
    if plan.data is DataPolicy.PIPELINE:
        merged: dict[str, Any] = {}
        for task in leaves:
            merged.update(outputs[task.index] or {})
        return merged
    return {task.key: dict(outputs[task.index] or {}) for task in leaves}
