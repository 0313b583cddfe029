"""A Streaming node's stage: its bounded inbox, its outlets and its item counters."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ..contract.context import StepContext
from ..contract.plan import Plan, Role, TaskSpec, Wire, WireKind

MAX_ERRORS_KEPT = 20
KEEP_LAST = "keep_last"  # a node's configuration: how many of its latest outputs to keep
LAST_OUTPUTS = "last_outputs"  # where its counters show them
BATCH_HINT = 1 << 30  # no limit until a first activation has measured the stage


class Stage:
    __slots__ = (
        "active",
        "backlog",
        "context",
        "errors",
        "feeder",
        "finished",
        "fuse_next",
        "fuse_port",
        "in_hand",
        "inbox",
        "items_dropped",
        "items_failed",
        "items_in",
        "items_out",
        "iterator",
        "kept",
        "mixed_ports",
        "open_upstream",
        "order_blockers",
        "outgoing",
        "peak_inbox",
        "port",
        "pull_run",
        "reserved",
        "scheduled",
        "source_state",
        "started",
        "take_hint",
        "window",
    )

    def __init__(self) -> None:
        self.inbox: deque[Any] = deque()
        # Outputs beyond the room downstream (a Splitter's fan-out): held here, not pushed
        # past a channel's capacity; the stage takes no new input until they have moved on.
        self.backlog: deque[Any] = deque()
        self.context: StepContext | None = None
        self.peak_inbox = 0
        self.port = ""  # where inbox values land when all inputs share one port
        self.mixed_ports = False  # inbox holds (port, value) pairs instead
        # Set when the stage's only outlet is a DataFlow from this port: outputs are projected
        # to that port inside the per-item loop instead of in a second pass.
        self.fuse_port = ""
        # A linear chain (see ``link_chains``): the stage this one may run inline, passing
        # each item straight on (-1: none), and the stage that may run this one inline.
        self.fuse_next = -1
        self.feeder = -1
        # Room in this stage's inbox that upstream activations have reserved, and the items
        # its running activation has taken from it: both count against the capacity, so the
        # items a channel holds (queued, promised or being worked on) never exceed it.
        self.reserved = 0
        self.in_hand = 0
        self.take_hint = BATCH_HINT  # how many items its next activation takes, at most
        self.outgoing: list[tuple[int, Wire]] = []
        self.open_upstream = 0
        self.order_blockers = 0
        self.active = False
        self.scheduled = False
        self.started = False
        self.finished = False
        self.iterator: Iterator[Any] | None = None
        self.source_state = "new"  # new, iterating, polling, exhausted
        self.pull_run = 1  # the islice run its latest pull reached (``invoke.pull``)
        self.items_in = 0
        self.items_out = 0
        self.items_dropped = 0
        self.items_failed = 0
        self.errors: list[str] = []
        self.window: list[Any] = []
        # The node's latest outputs, when its configuration asks for them (``keep_last``).
        self.kept: deque[Any] | None = None

    def item_failed(self, message: str) -> None:
        self.items_failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def counters(self) -> dict[str, Any]:
        """The node's output in Streaming: its item counters, and its latest outputs when it
        keeps some (oldest first)."""
        counters: dict[str, Any] = {
            "items_in": self.items_in,
            "items_out": self.items_out,
            "items_dropped": self.items_dropped,
            "items_failed": self.items_failed,
        }
        if self.kept is not None:
            counters[LAST_OUTPUTS] = list(self.kept)
        return counters

    def report(self) -> dict[str, Any]:
        """The counters a status report shows, the live queue figures included."""
        return {
            **self.counters(),
            "items_queued": len(self.inbox),
            "items_queued_peak": self.peak_inbox,
            "item_errors": list(self.errors),
        }


def build_stages(plan: Plan) -> tuple[list[Stage], list[bool]]:
    """One stage per node, wired along the plan's connections, and which nodes produce the
    stream (Source nodes and any other node without data inputs)."""
    tasks = plan.tasks
    stages = [Stage() for _ in tasks]
    is_source = [all(w.kind is WireKind.ORDER for w in t.incoming) for t in tasks]
    for task in tasks:
        stage = stages[task.index]
        ports: set[str] = set()
        sources_seen: set[int] = set()
        for wire in task.incoming:
            if wire.kind is WireKind.ORDER:
                stage.order_blockers += 1
                continue
            stages[wire.source].outgoing.append((task.index, wire))
            ports.add(wire.target_port or task.in_port)
            if wire.source not in sources_seen:
                sources_seen.add(wire.source)
                stage.open_upstream += 1
        stage.mixed_ports = len(ports) > 1
        stage.port = next(iter(ports)) if len(ports) == 1 else ""
    for task in tasks:
        stage = stages[task.index]
        keep = task.parameters.get(KEEP_LAST)
        if type(keep) is int and keep > 0:
            stage.kept = deque(maxlen=keep)
            continue  # its whole outputs are kept, so they are not projected or fused
        if task.role is Role.PLAIN and len(stage.outgoing) == 1:
            target, wire = stage.outgoing[0]
            if wire.kind is WireKind.DATA and wire.source_port and not stages[target].mixed_ports:
                stage.fuse_port = wire.source_port
    link_chains(tasks, stages, is_source)
    return stages, is_source


def simple_stage(task: TaskSpec, stage: Stage) -> bool:
    """Whether a stage's items go through the simple per-item loops: each value is the whole
    call on one port (no configuration, one input port) of a Processor or Sink."""
    return bool(
        stage.port
        and not task.call_parameters
        and not stage.mixed_ports
        and (task.role is Role.PLAIN or task.role is Role.SINK)
    )


def link_chains(tasks: list[TaskSpec], stages: list[Stage], is_source: list[bool]) -> None:
    """Mark linear chains: a source, or a simple Processor projecting one port, whose only
    outlet is a plain DataFlow into a simple stage whose only inlet it is. The scheduler may
    then run the follower inside the feeder's activation, item by item, while neither has
    items waiting (``StreamScheduler._claim_chain``); either still runs on its own too."""
    for task in tasks:
        stage = stages[task.index]
        if len(stage.outgoing) != 1:
            continue
        if not is_source[task.index] and not (
            task.role is Role.PLAIN and stage.fuse_port and simple_stage(task, stage)
        ):
            continue
        target, wire = stage.outgoing[0]
        follower = stages[target]
        follower_task = tasks[target]
        if (
            stage.kept is None
            and follower.kept is None
            and wire.kind is WireKind.DATA
            and wire.condition is None
            and wire.transform is None
            and follower.open_upstream == 1
            and follower.order_blockers == 0
            and follower_task.executor == "thread"
            and simple_stage(follower_task, follower)
        ):
            stage.fuse_next = target
            follower.feeder = task.index


def deepest_first(tasks: list[TaskSpec]) -> tuple[list[int], list[int]]:
    """Ready stages run deepest first: draining before producing keeps inboxes short and lets
    a single thread make progress without spinning on a full source. Returns the order
    (rank -> index) and each index's rank."""
    depth = [0] * len(tasks)
    waiting = [len({w.source for w in t.incoming}) for t in tasks]
    ready = [t.index for t in tasks if not waiting[t.index]]
    while ready:
        index = ready.pop()
        for succ in tasks[index].successors:
            depth[succ] = max(depth[succ], depth[index] + 1)
            waiting[succ] -= 1
            if not waiting[succ]:
                ready.append(succ)
    by_rank = sorted(range(len(tasks)), key=lambda i: (-depth[i], i))
    rank = [0] * len(tasks)
    for position, index in enumerate(by_rank):
        rank[index] = position
    return by_rank, rank


def as_output(item: Any, out_port: str) -> dict[str, Any]:
    """How a Control condition sees one item: as the node's output dict."""
    if out_port:
        return {out_port: item}
    return item if type(item) is dict else {"value": item}
