"""A run's link to the execution journal, and what a resumed run starts from.

The engine only enqueues records (``JournalSink`` calls never block on disk and never call
user code, so they are made with a run's lock held, in the order things happen). Each call
returns the record's sequence number; events posted after it carry that number, and the
event pump delivers an event only once the journal has committed it, so a signal is never
emitted for a state change the journal could still lose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import time as _now
from typing import Any, Protocol

from ..errors import PluginError, error_info


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
        error: str | Mapping[str, Any] | None,
        at: float,
    ) -> int: ...

    def task_recorder(self) -> Callable[[str, str, str, int, Any, Any, float], int]:
        """``task_changed`` for states the caller knows are valid (no check, one call less)."""
        ...

    def rollback_recorded(
        self,
        execution_id: str,
        task_key: str,
        ok: bool,
        error: str | None,
        at: float,
        *,
        late: bool = False,
    ) -> int: ...

    def late_outcome_recorded(
        self,
        execution_id: str,
        task_key: str,
        attempt: int,
        output: dict[str, Any] | None,
        error: Mapping[str, Any] | None,
        at: float,
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


class JournalLink:
    """What one journaled run records, and the sequence number of its latest record (events
    posted after a record carry it). Called with the run's lock held, in the order things
    happen."""

    __slots__ = (
        "_task_changed",
        "entry",
        "execution_id",
        "initial_data",
        "keys",
        "retries",
        "seq",
        "sink",
    )

    def __init__(
        self,
        sink: JournalSink,
        entry: JournalEntry,
        execution_id: str,
        initial_data: dict[str, Any],
        keys: list[str],
        retries: list[int],
    ) -> None:
        self.sink = sink
        self.entry = entry
        self.execution_id = execution_id
        self.initial_data = initial_data
        self.keys = keys  # task index -> key
        self.retries = retries  # the run's per-task retries, read for each record's attempt
        self.seq = 0
        # Twice per step: looked up once, and without the check of the state (the engine
        # records only the states of transitions.RECORD_OF).
        self._task_changed = sink.task_recorder()

    def started(self, workflow_id: str) -> None:
        """The run started, with the definition it runs."""
        entry = self.entry
        self.seq = self.sink.execution_started(
            self.execution_id,
            workflow_id,
            entry.kind,
            entry.definition_json,
            self.initial_data,
            entry.resumed_from,
            _now(),
        )

    def task(self, index: int, record: str, value: Any = None) -> None:
        """A task's state changed (``transitions``' record names); ``value`` is the output of a
        completion or the ``PluginError`` of a failure or retry (recorded with its code,
        exception type and traceback: ``error_info``)."""
        if record == "completed":
            output, error = value, None
        elif record == "failed" or record == "retrying":
            output, error = None, error_info(value)
        else:
            output = error = None
        # Read as an attribute, then called: a method-call lookup of a callable held in a slot
        # is not specialised by the interpreter.
        record_task = self._task_changed
        self.seq = record_task(
            self.execution_id,
            self.keys[index],
            record,
            self.retries[index] + 1,
            output,
            error,
            _now(),
        )

    def late(self, index: int, attempt: int, output: Any, error: PluginError | None) -> None:
        """An abandoned attempt of task ``index`` returned ``output`` or failed with ``error``."""
        self.seq = self.sink.late_outcome_recorded(
            self.execution_id,
            self.keys[index],
            attempt,
            output,
            None if error is None else error_info(error),
            _now(),
        )

    def finished(
        self,
        status: str,
        result: dict[str, Any] | None,
        error: PluginError | None,
        error_messages: list[str],
    ) -> None:
        """How the run ended."""
        self.seq = self.sink.execution_finished(
            self.execution_id,
            status,
            result,
            None if error is None else error.message,
            list(error_messages),
            _now(),
        )
