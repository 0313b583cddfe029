"""A run's link to the event pump: what it posts, stamped with its journal record.

Events go to the pump, which delivers them in the owner thread; each carries the sequence
number of the run's latest journal record, so the pump holds it until that record is
committed. Task events are not even built for a kind nobody receives (``listened``);
workflow-level events are always queued, so a slot connected right after an async start still
hears how the execution ends.
"""

from __future__ import annotations

from typing import Any

from ..errors import PluginError
from .events import Event, EventKind, EventPump
from .journal_link import JournalLink
from .run_status import RunStatus
from .transitions import COMPLETED, EVENT_OF, RETRYING, STARTED, ListenedKinds


class RunEvents:
    """What one run posts (run lock held)."""

    __slots__ = ("_execution_id", "_journal", "_pump", "_silent", "listened")

    def __init__(
        self,
        pump: EventPump,
        listened: ListenedKinds,
        execution_id: str,
        journal: JournalLink | None,
        *,
        silent: bool,
    ) -> None:
        self._pump = pump
        self.listened = listened
        self._execution_id = execution_id
        self._journal = journal
        # A pass of an EventDriven execution: its execution's lifecycle events are not its own.
        self._silent = silent

    def post(
        self,
        kind: EventKind,
        args: tuple[Any, ...],
        *,
        terminal: bool = False,
        source: object = None,
        error: PluginError | None = None,
    ) -> None:
        seq = self._journal.seq if self._journal is not None else 0
        self._pump.post(Event(kind, args, self._execution_id, terminal, seq, source, error))

    def post_task(
        self, kind: EventKind, args: tuple[Any, ...], error: PluginError | None = None
    ) -> None:
        """A task event outside a transition, if anyone receives its kind."""
        if kind in self.listened:
            self.post(kind, args, error=error)

    def task_changed(self, effect: int, key: str, value: Any, retries: int) -> None:
        """The task event a transition's ``effect`` carries, if anyone receives its kind:
        after the execution id and the task's key, a copy of the output, the error's message
        or the retry number; a failure's or retry's ``PluginError`` rides along (``error``)."""
        event = EVENT_OF.get(effect)
        if event is None or event not in self.listened:
            return
        execution_id = self._execution_id
        error = None
        if effect == COMPLETED:
            args: tuple[Any, ...] = (execution_id, key, dict(value))
        elif effect == STARTED:
            args = (execution_id, key)
        elif effect == RETRYING:
            args = (execution_id, key, retries)
            error = value
        else:
            args = (execution_id, key, value.message)
            error = value
        seq = self._journal.seq if self._journal is not None else 0
        self._pump.post(Event(event, args, execution_id, False, seq, error=error))

    def late_outcome(
        self, key: str, entry: dict[str, Any], error: PluginError | None, seq: int | None
    ) -> None:
        """(any thread) What came of task ``key``'s abandoned attempt (its status ``entry``),
        delivered once the journal has committed record ``seq`` (None: the run's latest)."""
        if seq is None:
            seq = self._journal.seq if self._journal is not None else 0
        execution_id = self._execution_id
        args = (execution_id, key, entry)
        self._pump.post(Event(EventKind.LATE_OUTCOME, args, execution_id, seq=seq, error=error))

    def lifecycle(self, kind: EventKind, *args: Any) -> None:
        """Started, paused, resumed (not for a pass of an EventDriven execution)."""
        if not self._silent:
            self.post(kind, (self._execution_id, *args))

    def progress(self, value: float) -> None:
        if EventKind.PROGRESS in self.listened:
            self._pump.post_progress(self._execution_id, value)

    def ended(
        self,
        status: str,
        error: PluginError | None,
        result: dict[str, Any] | None,
        *,
        final_progress: bool,
        source: object,
    ) -> None:
        """The terminal event (after a last progress of 1.0 when ``final_progress``). It
        carries ``source``, the finished run: subscribers read its final state from it."""
        if self._silent:
            return
        execution_id = self._execution_id
        if status == RunStatus.COMPLETED:
            if final_progress:
                self.progress(1.0)
            self.post(
                EventKind.WORKFLOW_COMPLETED,
                (execution_id, dict(result or {})),
                terminal=True,
                source=source,
            )
        elif status == RunStatus.FAILED:
            assert error is not None
            self.post(
                EventKind.WORKFLOW_FAILED,
                (execution_id, error.message),
                terminal=True,
                source=source,
                error=error,
            )
        else:
            self.post(EventKind.WORKFLOW_CANCELLED, (execution_id,), terminal=True, source=source)
