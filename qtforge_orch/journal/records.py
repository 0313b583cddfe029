"""What the journal's queries return: plain frozen dataclasses, and the state names it knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Execution statuses. ``running`` until ``execution_finished``; ``interrupted`` when its owner
# ended without finishing it (found when a journal is opened, or closed with it running).
RUNNING = "running"
INTERRUPTED = "interrupted"
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
FINISHED_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})
EXECUTION_STATUSES = frozenset({RUNNING, INTERRUPTED, *FINISHED_STATUSES})

TASK_STATES = frozenset({"started", "completed", "failed", "retrying", "skipped", "cancelled"})
# A task in one of these states has ended (its ended_at is set).
TASK_ENDED_STATES = frozenset({"completed", "failed", "skipped", "cancelled"})
TRANSACTION_STATES = frozenset({"begun", "committed", "rolled_back"})
KINDS = frozenset({"v1", "v2"})


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    """One execution in a page of history (no definition, input or result: see ``execution``).

    Attributes:
        execution_id: The execution's id.
        workflow_id: The workflow it ran.
        kind: ``"v1"`` (step workflow) or ``"v2"`` (graph workflow).
        status: ``running``, ``interrupted``, ``completed``, ``failed`` or ``cancelled``.
        started_at: When it started (seconds since the epoch).
        ended_at: When it ended; for an interrupted execution, its last recorded activity.
        error: Its error message, if it failed (or why it was interrupted).
        resumed_from: The execution this one resumed, if any.
        resumed_as: The execution that resumed this one, if any.
    """

    execution_id: str
    workflow_id: str
    kind: str
    status: str
    started_at: float
    ended_at: float | None
    error: str | None
    resumed_from: str | None
    resumed_as: str | None


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """A page of history, newest first.

    Attributes:
        executions: Up to ``limit`` executions.
        next_cursor: Pass as ``before`` for the next (older) page; None on the last page.
    """

    executions: list[ExecutionSummary]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """Everything the journal holds about one execution (its tasks: ``task_records``).

    Attributes:
        execution_id: The execution's id.
        workflow_id: The workflow it ran.
        kind: ``"v1"`` or ``"v2"``.
        status: ``running``, ``interrupted``, ``completed``, ``failed`` or ``cancelled``.
        started_at: When it started (seconds since the epoch).
        ended_at: When it ended (see ``ExecutionSummary.ended_at``).
        definition_json: The workflow definition it ran, as recorded (definitions are stored
            once per content hash: this is the text first recorded with that content).
        definition_hash: ``definition_hash(definition_json)``.
        initial_data: The input it started with.
        result: Its result, once finished.
        error: Its error message, if any.
        error_messages: Every error message it collected.
        resumed_from: The execution this one resumed, if any.
        resumed_as: The execution that resumed this one, if any.
        resumable: False when its input could not be stored exactly (see ``notes``).
        notes: What could not be stored exactly, and how it was stored instead.
        owner_pid: The process that ran it (the last one, for a resumed execution).
    """

    execution_id: str
    workflow_id: str
    kind: str
    status: str
    started_at: float
    ended_at: float | None
    definition_json: str
    definition_hash: str
    initial_data: Any
    result: Any
    error: str | None
    error_messages: list[str]
    resumed_from: str | None
    resumed_as: str | None
    resumable: bool
    notes: list[str] = field(default_factory=list)
    owner_pid: int | None = None


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """The latest state of one task (a v1 step or a v2 node) of an execution.

    Attributes:
        task_key: The step or node id.
        state: ``started``, ``completed``, ``failed``, ``retrying``, ``skipped`` or ``cancelled``.
        attempts: The highest attempt number recorded (1 for a first attempt).
        output: The output of a completed task, as stored (a preview if not ``resumable``).
        error: The last error recorded (by ``failed`` or ``retrying``); cleared on completion.
        started_at: When its first attempt started.
        ended_at: When it reached its final state.
        resumable: False when its output could not be stored exactly (see ``note``).
        encoding: ``json``, ``pickle``, ``lossy`` or None (no output).
        note: Why the output is not resumable.
        error_info: The last error as data, when it was recorded so: ``code``, ``code_name``,
            ``message`` and, for an exception the plugin raised, ``exception_type``,
            ``exception_message`` and ``traceback`` (``_errors.error_info``).
    """

    task_key: str
    state: str
    attempts: int
    output: Any
    error: str | None
    started_at: float | None
    ended_at: float | None
    resumable: bool
    encoding: str | None
    note: str | None
    error_info: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LateOutcomeRecord:
    """What an abandoned attempt returned after all.

    An attempt is abandoned when its execution is cancelled or times out, or when it times
    out itself.

    Attributes:
        task_key: The step or node id.
        attempt: The attempt's number (1 for a first attempt).
        ok: True for a success (``output``), False for a failure (``error``).
        output: The success's output, as stored (a preview if not ``resumable``).
        error: The failure's message.
        error_info: The failure as data (see ``TaskRecord.error_info``).
        at: When it returned.
        resumable: False when the output could not be stored exactly (see ``note``).
        note: Why the output is not resumable.
    """

    task_key: str
    attempt: int
    ok: bool
    output: Any
    error: str | None
    error_info: dict[str, Any] | None
    at: float
    resumable: bool
    note: str | None


@dataclass(frozen=True, slots=True)
class RollbackRecord:
    """A rollback step that ran, in the order recorded.

    Attributes:
        task_key: The step whose rollback step it is.
        ok: Whether it succeeded.
        error: Its error message, if it failed.
        at: When it ended.
        late: True when it undid an abandoned attempt's late success (``LateOutcomeRecord``)
            rather than the step's completion.
    """

    task_key: str
    ok: bool
    error: str | None
    at: float
    late: bool


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A v1 transaction: its state and the executions that joined it.

    Attributes:
        transaction_id: The transaction's id.
        state: ``begun``, ``committed`` or ``rolled_back``.
        execution_ids: The executions recorded as part of it.
        begun_at: When it was first recorded.
        ended_at: When it was committed or rolled back.
    """

    transaction_id: str
    state: str
    execution_ids: list[str]
    begun_at: float
    ended_at: float | None
