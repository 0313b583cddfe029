"""Nodes fed only by plain data wires take a prepared path; it decides exactly as the rules do.

A plan marks each v2 task whose incoming wires are all plain data wires (no port, no
transform, no gate) with their sources; the input is then their outputs merged in order and
the task runs once they all completed. Random graphs of mixed wires check that the prepared
path gives the same input and the same run/skip decision as the general rules.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from qtforge_orch._engine.dataflow import build_params, should_run
from qtforge_orch._engine.trigger_plans import trigger_plan
from qtforge_orch.contract.plan import (
    DataPolicy,
    JoinPolicy,
    Plan,
    Role,
    TaskSpec,
    TaskState,
    Wire,
    WireKind,
)

_WIRES = st.sampled_from(["plain", "plain", "plain", "ported", "control", "order", "transform"])
_STATES = st.sampled_from([TaskState.Completed, TaskState.Skipped, TaskState.Failed])


def _wire(source: int, shape: str) -> Wire:
    if shape == "ported":
        return Wire(source, WireKind.DATA, source_port="v", target_port=f"in{source}")
    if shape == "control":
        return Wire(source, WireKind.CONTROL)
    if shape == "order":
        return Wire(source, WireKind.ORDER)
    if shape == "transform":
        return Wire(source, WireKind.DATA, transform=lambda value: {"t": value})
    return Wire(source, WireKind.DATA)


@st.composite
def _graphs(draw: Any) -> tuple[list[TaskSpec], JoinPolicy]:
    n = draw(st.integers(2, 7))
    tasks = []
    for index in range(n):
        sources = draw(st.lists(st.integers(0, index - 1), unique=True)) if index else []
        wires = tuple(_wire(source, draw(_WIRES)) for source in sources)
        tasks.append(TaskSpec(f"n{index}", index, "p", "execute", {"cfg": index}, incoming=wires))
    join = draw(st.sampled_from([JoinPolicy.GATED, JoinPolicy.GATED_OR]))
    return tasks, join


def _general(task: TaskSpec) -> TaskSpec:
    return replace(task, plain_sources=None)


@settings(max_examples=150, deadline=None)
@given(_graphs(), st.data())
def test_the_prepared_path_gives_the_rules_answer(
    graph: tuple[list[TaskSpec], JoinPolicy], data: st.DataObject
) -> None:
    tasks, join = graph
    plan = Plan("wf", tasks, DataPolicy.PORTS, join)
    outputs: list[dict[str, Any] | None] = [
        data.draw(st.one_of(st.none(), st.just({"v": i, f"k{i}": i}))) for i in range(len(tasks))
    ]
    states = [int(data.draw(_STATES)) for _ in tasks]
    active: list[set[int] | None] = [
        data.draw(st.one_of(st.none(), st.sets(st.integers(0, len(tasks))))) for _ in tasks
    ]
    initial = {"input": True}
    for task in tasks:
        plain = all(
            w.kind is WireKind.DATA and not w.source_port and w.transform is None
            for w in task.incoming
        )
        assert (task.plain_sources is not None) == plain
        general = _general(task)
        assert build_params(plan, {}, initial, outputs, active, task) == build_params(
            plan, {}, initial, outputs, active, general
        )
        assert should_run(plan, task, states, active[task.index]) == should_run(
            plan, general, states, active[task.index]
        )


def test_an_aggregator_and_a_mapped_node_take_the_general_path() -> None:
    aggregator = TaskSpec("agg", 1, "p", "execute", {}, incoming=(Wire(0, WireKind.DATA),))
    aggregator.role = Role.AGGREGATOR
    mapped = TaskSpec("map", 2, "p", "execute", {}, incoming=(Wire(0, WireKind.DATA),))
    mapped.fan_out = mapped.incoming[0]
    root = TaskSpec("root", 0, "p", "execute", {})
    Plan("wf", [root, aggregator, mapped], DataPolicy.PORTS, JoinPolicy.GATED)
    assert aggregator.plain_sources is None and mapped.plain_sources is None
    assert root.plain_sources == ()


def test_v1_plans_keep_the_general_path() -> None:
    step = TaskSpec("b", 1, "p", "run", {}, incoming=(Wire(0, WireKind.DATA),))
    Plan("wf", [TaskSpec("a", 0, "p", "run", {}), step], DataPolicy.SHARED, JoinPolicy.ALL)
    assert step.plain_sources is None


def test_a_trigger_plan_renumbers_the_prepared_sources() -> None:
    source = TaskSpec("src", 0, "p", "execute", {})
    source.role = Role.SOURCE
    other = TaskSpec("other", 1, "p", "execute", {})
    sink = TaskSpec(
        "sink", 2, "p", "execute", {}, incoming=(Wire(0, WireKind.DATA), Wire(1, WireKind.DATA))
    )
    plan = Plan("wf", [source, other, sink], DataPolicy.PORTS, JoinPolicy.GATED)
    assert sink.plain_sources == (0, 1)
    sub, chosen = trigger_plan(plan, 0)
    for task in sub.tasks:
        expected = tuple(w.source for w in task.incoming)
        assert task.plain_sources == (expected if task.role is not Role.AGGREGATOR else None)
        assert all(0 <= s < len(sub.tasks) for s in task.plain_sources or ())
    assert [plan.tasks[i].key for i in chosen] == [t.key for t in sub.tasks]
