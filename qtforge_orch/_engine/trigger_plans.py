"""EventDriven trigger plans: the part of a graph one event runs."""

from __future__ import annotations

from dataclasses import replace

from ..contract.plan import Plan, Role, TaskSpec, Wire, WireKind, link_successors
from .graph_checks import descendants

# post_event's trigger for a workflow without Source nodes: the whole graph, event as input.
WHOLE_GRAPH = -1


def trigger_plan(plan: Plan, trigger: int) -> tuple[Plan, list[int]]:
    """The sub-plan one event from ``trigger`` runs, and its index -> ``plan`` index map.

    Downstream means reachable along connections. A trigger with no outgoing connections (the
    reference's file-watcher example) feeds every node that is not a Source: the graph's other
    roots receive the event as their input.
    """
    tasks = plan.tasks
    keys = [t.key for t in tasks]
    edges = [(keys[w.source], t.key) for t in tasks for w in t.incoming]
    implicit = not tasks[trigger].successors
    if implicit:
        chosen = [t.index for t in tasks if t.index == trigger or t.role is not Role.SOURCE]
    else:
        reachable = descendants(keys, edges, keys[trigger])
        chosen = [t.index for t in tasks if t.index == trigger or t.key in reachable]
    position = {old: new for new, old in enumerate(chosen)}
    sub: list[TaskSpec] = []
    for new, old in enumerate(chosen):
        task = tasks[old]
        wires = tuple(
            replace(w, source=position[w.source]) for w in task.incoming if w.source in position
        )
        if implicit and old != trigger and not task.incoming:
            wires = (Wire(position[trigger], WireKind.DATA),)
        fan_out = None
        if task.fan_out is not None and task.fan_out.source in position:
            fan_out = next(w for w in wires if w.source == position[task.fan_out.source])
        sub.append(
            replace(task, index=new, incoming=() if old == trigger else wires, fan_out=fan_out)
        )
    link_successors(sub)
    return (
        Plan(
            workflow_id=plan.workflow_id,
            tasks=sub,
            data=plan.data,
            join=plan.join,
            max_concurrency=plan.max_concurrency,
        ),
        chosen,
    )


def trigger_plans(plan: Plan) -> dict[int, tuple[Plan, list[int]]]:
    """Each Source node's trigger plan, built on first use and kept on the plan."""
    if plan.trigger_plans is None:
        plan.trigger_plans = {
            t.index: trigger_plan(plan, t.index) for t in plan.tasks if t.role is Role.SOURCE
        }
    return plan.trigger_plans
