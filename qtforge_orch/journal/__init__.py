"""Durable executions: a SQLite journal of executions, their tasks, rollbacks and transactions.

The storage layer of durable executions (see ``docs/durable-executions.md``): an
:class:`ExecutionJournal` records what the engine reports, through one writer thread that
commits a batch per transaction, answers history queries, tells interrupted executions (whose
process died) from running ones, and arbitrates claims to resume them.

Example:
    >>> import tempfile, os, time
    >>> from qtforge_orch.journal import ExecutionJournal
    >>> folder = tempfile.mkdtemp()
    >>> with ExecutionJournal(os.path.join(folder, "runs.sqlite")) as journal:
    ...     _ = journal.execution_started("e1", "wf", "v1", '{"id": "wf"}', {}, None, time.time())
    ...     _ = journal.task_changed("e1", "load", "completed", 1, {"rows": 3}, None, time.time())
    ...     journal.flush()
    ...     journal.completed_outputs("e1")
    True
    {'load': {'rows': 3}}
"""

from __future__ import annotations

from ._schema import APPLICATION_ID, LATEST_VERSION
from .execution_journal import ExecutionJournal
from .records import (
    CANCELLED,
    COMPLETED,
    EXECUTION_STATUSES,
    FAILED,
    FINISHED_STATUSES,
    INTERRUPTED,
    RUNNING,
    TASK_STATES,
    TRANSACTION_STATES,
    ExecutionPage,
    ExecutionRecord,
    ExecutionSummary,
    LateOutcomeRecord,
    RollbackRecord,
    TaskRecord,
    TransactionRecord,
)
from .retention import RetentionPolicy
from .versions import definition_hash, describe_changes
from .writer import WriterStats

__all__ = [
    "APPLICATION_ID",
    "CANCELLED",
    "COMPLETED",
    "EXECUTION_STATUSES",
    "FAILED",
    "FINISHED_STATUSES",
    "INTERRUPTED",
    "LATEST_VERSION",
    "RUNNING",
    "TASK_STATES",
    "TRANSACTION_STATES",
    "ExecutionJournal",
    "ExecutionPage",
    "ExecutionRecord",
    "ExecutionSummary",
    "LateOutcomeRecord",
    "RetentionPolicy",
    "RollbackRecord",
    "TaskRecord",
    "TransactionRecord",
    "WriterStats",
    "definition_hash",
    "describe_changes",
]
