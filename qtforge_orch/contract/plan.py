"""The compiled plan: what a facade hands the engine, flat, index-addressed, validated once.

Both facades compile a registered workflow into a ``Plan`` of ``TaskSpec``s joined by
``Wire``s; the engine's runs never touch pydantic models or networkx: everything they need is
precomputed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from .retry import RetryPolicy


class TaskState(IntEnum):
    """Where one task of a run stands.

    Same order and values as the public ``StepStatus``, so facades convert by value.
    """

    Pending = 0
    Running = 1
    Completed = 2
    Failed = 3
    Skipped = 4
    Cancelled = 5
    Retrying = 6


TERMINAL_STATES = frozenset(
    {TaskState.Completed, TaskState.Failed, TaskState.Skipped, TaskState.Cancelled}
)


# Engine settings that live in a v2 node's configuration but are not plugin parameters.
RESERVED_CONFIGURATION_KEYS = frozenset(
    {
        "method",
        "timeout",
        "max_retries",
        "retry_delay",
        "retry_policy",
        "critical",
        "window",
        "keep_last",
        "executor",
    }
)


class ScheduleKind(IntEnum):
    """Which scheduler runs a plan (the compiled plan says so, not the facade)."""

    BATCH = 0  # every task once, in dependency order (v1 modes; v2 Sequential/Parallel/...)
    STREAM = 1  # every node a stage that items flow through (v2 Streaming)
    EVENT = 2  # one pass of the downstream graph per event (v2 EventDriven)


class DataPolicy(IntEnum):
    """Where a task's input comes from and what the workflow's result is."""

    SHARED = 0  # v1 Sequential/Parallel/Conditional: one shared dict, outputs merged into it
    PIPELINE = 1  # v1 Pipeline: a step sees its dependencies' outputs
    PORTS = 2  # v2: values move along connections, port to port


class JoinPolicy(IntEnum):
    """When a task whose predecessors have all settled runs (otherwise it is Skipped)."""

    ALL = 0  # every dependency must complete, else the task is skipped
    OR = 1  # all dependencies settled as Completed/Skipped, at least one Completed
    GATED = 2  # v2: data/order edges must complete; control edges gate by condition
    GATED_OR = 3  # v2 Conditional: like GATED, but one active incoming edge is enough


class WireKind(IntEnum):
    """What an incoming edge carries: data, a condition that gates, or only an order."""

    DATA = 0
    CONTROL = 1
    ORDER = 2


class Role(IntEnum):
    """A v2 node's type, as far as the engine treats it differently (v1 steps are PLAIN)."""

    PLAIN = 0
    SOURCE = 1
    SINK = 2
    DECISION = 3
    SPLITTER = 4
    AGGREGATOR = 5


ConditionEvaluator = Callable[[dict[str, Any]], bool]


@dataclass(slots=True, eq=False)
class Wire:
    """An incoming edge of a task.

    From which task (``source`` index), what it carries, the ports it reads and writes, its
    compiled condition and its optional transform.
    """

    source: int
    kind: WireKind
    source_port: str = ""
    target_port: str = ""
    condition: ConditionEvaluator | None = None
    condition_text: str = ""
    # v2 data_transformation: rewrites the value the wire delivers (never raises).
    transform: Callable[[Any], Any] | None = None


@dataclass(slots=True, eq=False)
class TaskSpec:
    """One step or node, compiled: the plugin call, its policies and its incoming wires."""

    key: str
    index: int
    plugin_id: str
    command: str
    parameters: dict[str, Any]
    timeout_ms: int | None = None
    max_retries: int = 0
    retry_delay_ms: int = 0
    critical: bool = True
    condition: ConditionEvaluator | None = None
    rollback: TaskSpec | None = None
    incoming: tuple[Wire, ...] = ()
    successors: tuple[int, ...] = ()
    role: Role = Role.PLAIN
    in_port: str = ""
    out_port: str = ""
    # v2: the wire whose list value this task maps over (fed by a Splitter), if any
    fan_out: Wire | None = None
    retry: RetryPolicy | None = None  # None: max_retries/retry_delay_ms, default codes
    # Where the plugin call runs: "thread" (here), "process" or "dask" (executors/).
    executor: str = "thread"
    # The parameters every call of this task passes to its plugin, prepared once when the
    # plan is built: v2 configuration without the engine's own keys (the same dict when it
    # has none of them, so it costs nothing).
    call_parameters: dict[str, Any] = field(default_factory=dict)
    # v2, prepared with the plan: the sources of a node whose every incoming wire is a plain
    # data wire (no port, no transform, no gate; most wires), whose outputs its input merges
    # in order; None when any wire needs the general rules.
    plain_sources: tuple[int, ...] | None = None


@dataclass(slots=True, eq=False)
class Plan:
    """A compiled workflow: its tasks by index and what the run needs precomputed."""

    workflow_id: str
    tasks: list[TaskSpec]
    data: DataPolicy
    join: JoinPolicy
    max_concurrency: int | None = None  # None: the thread pool's size
    timeout_ms: int | None = None
    stream_capacity: int = 1024
    roots: tuple[int, ...] = field(default=())
    # source index -> [(target index, wire)] for control edges, evaluated when the source ends
    control_out: dict[int, list[tuple[int, Wire]]] = field(default_factory=dict)
    dependency_counts: tuple[int, ...] = field(default=())
    # SHARED data with concurrent steps: each task's rank in the sequential order (dependency
    # order, declaration ties). When two steps write one key, the later-ranked one wins,
    # whichever finished last, so the shared data is the same on every run.
    merge_rank: tuple[int, ...] | None = None
    schedule: ScheduleKind = ScheduleKind.BATCH
    # EventDriven: each Source node's trigger plan, built by the event scheduler on first use.
    trigger_plans: dict[int, Any] | None = None
    # Whether any task has a rollback step (computed).
    has_rollbacks: bool = False

    def __post_init__(self) -> None:
        ports = self.data is DataPolicy.PORTS
        for task in self.tasks:
            parameters = task.parameters
            if ports and not RESERVED_CONFIGURATION_KEYS.isdisjoint(parameters):
                parameters = {
                    k: v for k, v in parameters.items() if k not in RESERVED_CONFIGURATION_KEYS
                }
            task.call_parameters = parameters
            # Always set: a task copied from another plan's (``replace``) carries its indices.
            task.plain_sources = (
                tuple(wire.source for wire in task.incoming)
                if ports and _plain_wires(task)
                else None
            )
            if task.rollback is not None:
                task.rollback.call_parameters = task.rollback.parameters
                self.has_rollbacks = True
        if not self.roots:
            self.roots = tuple(t.index for t in self.tasks if not t.incoming)
        for task in self.tasks:
            for wire in task.incoming:
                if wire.kind is WireKind.CONTROL:
                    self.control_out.setdefault(wire.source, []).append((task.index, wire))
        self.dependency_counts = tuple(
            len(task.incoming) if len(task.incoming) < 2 else len({w.source for w in task.incoming})
            for task in self.tasks
        )


def _plain_wires(task: TaskSpec) -> bool:
    if task.role is Role.AGGREGATOR or task.fan_out is not None:
        return False
    return all(
        wire.kind is WireKind.DATA
        and not wire.source_port
        and not wire.target_port
        and wire.transform is None
        for wire in task.incoming
    )


def sequential_ranks(tasks: list[TaskSpec]) -> tuple[int, ...]:
    """Each task's position in dependency order, declaration order breaking ties.

    That is the order a Sequential run executes them in.
    """
    import heapq

    waiting = [len({w.source for w in t.incoming}) for t in tasks]
    ready = [t.index for t in tasks if not waiting[t.index]]
    heapq.heapify(ready)
    ranks = [0] * len(tasks)
    rank = 0
    while ready:
        index = heapq.heappop(ready)
        ranks[index] = rank
        rank += 1
        for succ in tasks[index].successors:
            waiting[succ] -= 1
            if not waiting[succ]:
                heapq.heappush(ready, succ)
    return tuple(ranks)


def link_successors(tasks: list[TaskSpec]) -> None:
    """Fill ``successors`` from ``incoming`` (deduplicated, declaration order)."""
    successors: list[list[int]] = [[] for _ in tasks]
    for task in tasks:
        incoming = task.incoming
        if len(incoming) == 1:
            successors[incoming[0].source].append(task.index)
            continue
        for source in dict.fromkeys(wire.source for wire in incoming):
            successors[source].append(task.index)
    for task in tasks:
        task.successors = tuple(successors[task.index])
