"""Nested workflows and the journal: rollbacks a parent owes for its children, and resume.

A child that completed leaves its compensations (its completed steps' rollback steps) owed by
the parent step that ran it: the parent's rollback (a later critical failure, a transaction)
runs them, once, through the child's own ledger and journal. A resumed parent finds the
children its earlier executions started by their derived ids (``<parent>/<step>``) in the
child orchestrator's journal: a completed child is not run again (its recorded result is the
step's output), an interrupted or failed one is resumed, so its completed steps are not run
again either.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from .._engine import Compensation, Run
from ..errors import PluginError

if TYPE_CHECKING:
    from ..contract.context import StepContext
    from ..journal import ExecutionJournal, ExecutionRecord
    from ._facade_core import FacadeCore

# Resume chains are short; a bound keeps a damaged journal from looping.
_CHAIN_LIMIT = 64


def _run_and_wait(core: FacadeCore, items: list[Compensation]) -> list[str]:
    """Run ``items`` (newest first) through the child's ledger; their errors."""
    if not items:
        return []
    done = threading.Event()
    errors: list[str] = []

    def finished(found: list[str]) -> None:
        errors.extend(found)
        done.set()

    core.engine.compensations.run_chain(items, finished)
    done.wait()
    return errors


def _undo_live(core: FacadeCore, child: Run) -> list[str]:
    return _run_and_wait(core, core.engine.compensations.claim([child]))


def _owe(parent: Run, step: str, undo: Any, late_ok: bool, context: StepContext | None) -> None:
    """The parent's ``step`` owes ``undo`` from now on.

    A step whose attempt was discarded (timed out, cancelled) never completes, so what its
    child did is undone at once instead.
    """
    index = next((task.index for task in parent.plan.tasks if task.key == step), None)
    late = index is None
    with parent.lock:
        if context is not None and context.is_cancelled() and not late_ok:
            late = True
        if not late:
            assert index is not None
            sink = parent.journal.sink if parent.journal is not None else None
            parent.engine.compensations.record_action(
                parent.compensations, parent.execution_id, index, step, undo, sink
            )
    if late:
        parent.engine.lane.submit(undo)


def carry_compensations(
    core: FacadeCore, parent: Run | None, context: StepContext | None, child: Run
) -> None:
    """A completed child's compensations, owed from now on by the parent step that ran it."""
    if not child.compensations:
        return
    if parent is None or context is None:
        core.engine.compensations.drop([child])  # a parentless call completed: nobody asks
        return
    _owe(parent, context.step_id, partial(_undo_live, core, child), False, context)


# --- the journal ------------------------------------------------------------------------------
def _journal_of(core: FacadeCore) -> ExecutionJournal | None:
    return core.journal.journal


def _last_of_chain(journal: ExecutionJournal, base: str) -> ExecutionRecord | None:
    """The latest attempt's child (``base``, ``base#2``...), followed along its resumes."""
    record = journal.execution(base)
    if record is None:
        return None
    attempt = 2
    while (retry := journal.execution(f"{base}#{attempt}")) is not None:
        record, attempt = retry, attempt + 1
    for _ in range(_CHAIN_LIMIT):
        if record.resumed_as is None:
            break
        following = journal.execution(record.resumed_as)
        if following is None:
            break
        record = following
    return record


def _earlier_record(
    journal: ExecutionJournal, parent_journal: Any, previous: str | None, step: str
) -> ExecutionRecord | None:
    """The child ``step`` of the parent's earlier executions started, if recorded.

    ``previous`` is the execution the parent resumed; the ones it resumed are searched too.
    """
    for _ in range(_CHAIN_LIMIT):
        if previous is None:
            return None
        record = _last_of_chain(journal, f"{previous}/{step}")
        if record is not None:
            return record
        reader = getattr(parent_journal, "execution", None)
        earlier = reader(previous) if reader is not None else None
        previous = earlier.resumed_from if earlier is not None else None
    return None


def earlier_child(
    core: FacadeCore, parent: Run | None, step: str, child_id: str | None
) -> dict[str, Any] | Run | PluginError | None:
    """What a resumed parent's step takes over from the child an earlier execution started.

    The recorded result of a child that completed, a run (not started) resuming one left
    unfinished, or None.
    """
    journal = _journal_of(core)
    if journal is None or parent is None or parent.journal is None or child_id is None:
        return None
    previous = parent.journal.entry.resumed_from
    if previous is None:
        return None
    journal.flush(5.0)
    record = _earlier_record(journal, parent.engine.journal, previous, step)
    if record is None:
        return None
    if record.status == "completed":
        items = recorded_compensations(core, record)
        if items:
            _owe(parent, step, partial(_run_and_wait, core, items), True, None)
        return dict(record.result) if isinstance(record.result, dict) else {}
    resumed = core.journal.resumed_run(record.execution_id, False, new_id=child_id)
    if isinstance(resumed, PluginError):
        return PluginError(
            resumed.code,
            f"the nested execution {record.execution_id} this step started before cannot be "
            f"resumed: {resumed.message}",
            context={**resumed.context, "child_execution_id": record.execution_id},
        )
    return resumed


def recorded_compensations(core: FacadeCore, record: ExecutionRecord) -> list[Compensation]:
    """The rollback steps a recorded child still owes, newest first.

    Its completed steps' (along its resume chain) whose rollback has not run, in the reverse
    of the order they were recorded.
    """
    journal = _journal_of(core)
    found = core.workflows.get(record.workflow_id)
    if journal is None or not found:
        return []
    plan = found.value().plan
    outputs = journal.completed_outputs(record.execution_id)
    done: set[str] = set()
    chain: ExecutionRecord | None = record
    for _ in range(_CHAIN_LIMIT):
        if chain is None:
            break
        done |= journal.rollbacks_done(chain.execution_id)
        chain = journal.execution(chain.resumed_from) if chain.resumed_from else None
    order = {key: position for position, key in enumerate(outputs)}
    owed = [
        Compensation(
            record.execution_id,
            task.index,
            task.key,
            task.rollback,
            outputs[task.key],
            core.engine.journal,
            order[task.key],
            claimed=True,
        )
        for task in plan.tasks
        if task.rollback is not None and task.key in outputs and task.key not in done
    ]
    owed.sort(key=lambda item: item.sequence, reverse=True)
    return owed


def carry_restored(core: FacadeCore, run: Run) -> None:
    """A resumed parent's restored nested steps owe their children's compensations again.

    Called before the run starts; a compensation the journal shows ran is not owed.
    """
    seed = run.resume_seed
    journal = _journal_of(core)
    if seed is None or journal is None or run.journal is None:
        return
    previous = run.journal.entry.resumed_from
    for index in sorted(seed.outputs):
        if index in seed.rollbacks_done:
            continue
        task = run.plan.tasks[index]
        found = core.plugin_manager.get_plugin(task.plugin_id)
        nested_core = getattr(found.value(), "nested_core", None) if found else None
        if nested_core is None:
            continue  # not a nested workflow's step
        child_core = nested_core()
        child_journal = _journal_of(child_core) if child_core is not None else None
        if child_core is None or child_journal is None:
            continue
        child_journal.flush(5.0)
        record = _earlier_record(child_journal, journal, previous, task.key)
        if record is None or record.status != "completed":
            continue
        items = recorded_compensations(child_core, record)
        if items:
            _owe(run, task.key, partial(_run_and_wait, child_core, items), True, None)
