"""B14: the B1 chain with the execution journal on (issue #12).

The same 500-step Sequential chain of no-op steps (v1, sync ``execute_workflow`` in the GUI
thread), on two orchestrators over one plugin manager, one with ``journal=`` a fresh SQLite
file, timed interleaved. With the journal every step's start and completion, and the
execution's start and end, are recorded (one writer thread, one transaction per batch), and
every signal waits for its record's commit; the figure is the per-step wall ratio.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ._common import Context, Figure, checked, interleaved, noop, plugins_with
from .throughput import CHAIN_STEPS

# Issue #24 (issue #12 had set 1.2).
TARGET_RATIO = 1.5


def _chain(n: int) -> Any:
    from qtforge_orch import Workflow, WorkflowStep

    workflow = Workflow("chain", "chain")
    previous = ""
    for i in range(n):
        step = WorkflowStep(f"s{i}", "noop", "execute")
        if previous:
            step.dependencies = [previous]
        workflow.add_step(step)
        previous = step.id
    return workflow


def b14_journaled(ctx: Context) -> list[Figure]:
    from qtforge_orch import PluginOrchestrator

    n = CHAIN_STEPS
    plugins = plugins_with(noop=noop)
    folder = tempfile.mkdtemp(prefix="qtforge-b14-")
    path = os.path.join(folder, "runs.sqlite")
    plain = PluginOrchestrator(plugin_manager=plugins)
    journaled = PluginOrchestrator(plugin_manager=plugins, journal=path)
    runs = [0]
    try:
        for orchestrator in (plain, journaled):
            checked(orchestrator.register_workflow(_chain(n)), "register")

        def run(orchestrator: Any) -> bool:
            runs[0] += orchestrator is journaled
            return bool(orchestrator.execute_workflow("chain"))

        reps = ctx.reps(7, 3)
        times = interleaved({"plain": lambda: run(plain), "journal": lambda: run(journaled)}, reps)
        journal = journaled.journal()
        assert journal is not None
        journal.flush(30)
        stats = journal.stats()
    finally:
        plain.shutdown()
        journaled.shutdown()
    journal.close()
    size = sum(
        os.path.getsize(os.path.join(folder, name))
        for name in os.listdir(folder)
        if name.startswith("runs.sqlite")
    )
    per_step = {name: s.median / n * 1e6 for name, s in times.items()}
    ratio = per_step["journal"] / per_step["plain"]
    bytes_per_step = size / (runs[0] * n)
    method = (
        f"median of {reps} interleaved runs after 1 warm-up each: sync execute_workflow of a "
        f"{n}-step Sequential chain of no-op steps (v1), without and with journal=<new SQLite "
        "file>; every signal waits for its record's commit"
    )
    extra = {name: s.to_json() for name, s in times.items()} | {
        "per_step_us": per_step,
        "journal_bytes": size,
        "journal_executions": runs[0],
        "writer_stats": repr(stats),
    }
    return [
        Figure(
            "B14.ratio",
            f"B14 chain of {n} no-op steps with the journal on, per step",
            "us/step",
            per_step["journal"],
            peer=per_step["plain"],
            peer_name="no journal",
            ratio=ratio,
            ratio_of="journal/no journal",
            target=f"<= {TARGET_RATIO} (#24)",
            met=ratio <= TARGET_RATIO,
            method=method,
            extra=extra,
        ),
        Figure(
            "B14.bytes",
            "B14 journal size per step (database, WAL and lock files)",
            "bytes/step",
            bytes_per_step,
            ratio=bytes_per_step,
            ratio_of="bytes per step",
            target="reported",
            met=None,
            method=f"file sizes after {runs[0]} journaled executions of {n} steps, flushed",
        ),
    ]
