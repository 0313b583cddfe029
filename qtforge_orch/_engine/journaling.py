"""What the engine tells an execution journal, and what a resumed run starts from.

The engine only enqueues records (``JournalSink`` calls never block on disk and never call
user code, so they are made with a run's lock held, in the order things happen). Each call
returns the record's sequence number; events posted after it carry that number, and the
event pump delivers an event only once the journal has committed it, so a signal is never
emitted for a state change the journal could still lose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import PluginError

if TYPE_CHECKING:
    from .run import Run


class JournalSink(Protocol):
    """The engine's side of ``qtforge_orch.journal.ExecutionJournal``."""

    def execution_started(
        self,
        execution_id: str,
        workflow_id: str,
        kind: str,
        definition_json: str,
        initial_data: dict[str, Any],
        resumed_from: str | None,
        at: float,
    ) -> int: ...

    def task_changed(
        self,
        execution_id: str,
        task_key: str,
        state: str,
        attempt: int,
        output: dict[str, Any] | None,
        error: str | None,
        at: float,
    ) -> int: ...

    def rollback_recorded(
        self, execution_id: str, task_key: str, ok: bool, error: str | None, at: float
    ) -> int: ...

    def transaction_changed(
        self, transaction_id: str, state: str, execution_ids: list[str], at: float
    ) -> int: ...

    def execution_finished(
        self,
        execution_id: str,
        status: str,
        result: dict[str, Any] | None,
        error: str | None,
        error_messages: list[str],
        at: float,
    ) -> int: ...

    def committed_seq(self) -> int: ...

    @property
    def last_error(self) -> BaseException | None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def add_commit_listener(self, callback: Callable[[int], None]) -> None: ...


@dataclass(slots=True)
class JournalEntry:
    """What a run needs to journal itself: the definition it runs, and where it came from."""

    kind: str  # "v1" or "v2"
    definition_json: str
    resumed_from: str | None = None


@dataclass(slots=True)
class ResumeSeed:
    """A resumed execution's starting point: outputs of the tasks that completed before (by
    task index), and the tasks whose rollback already ran (never run twice)."""

    outputs: dict[int, dict[str, Any]]
    rollbacks_done: set[int] = field(default_factory=set)


def journal_started(run: Run) -> int:
    """(lock held) Record that ``run`` started, with the definition it runs."""
    assert run.journal is not None and run.journal_entry is not None
    entry = run.journal_entry
    return run.journal.execution_started(
        run.execution_id,
        run.workflow_id,
        entry.kind,
        entry.definition_json,
        run.initial_data,
        entry.resumed_from,
        time.time(),
    )


def journal_task(
    run: Run,
    index: int,
    state: str,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
) -> int:
    """(lock held) Record a task's state change."""
    assert run.journal is not None
    return run.journal.task_changed(
        run.execution_id,
        run.plan.tasks[index].key,
        state,
        run.retries[index] + 1,
        output,
        error,
        time.time(),
    )


def journal_finished(run: Run, status: str, error: PluginError | None) -> int:
    """(lock held) Record how ``run`` ended."""
    assert run.journal is not None
    return run.journal.execution_finished(
        run.execution_id,
        status,
        run.result,
        None if error is None else error.message,
        list(run.error_messages),
        time.time(),
    )
