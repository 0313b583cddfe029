"""The journal's read side: history pages and what one execution holds."""

from __future__ import annotations

from typing import Any

from . import _queries
from ._resources import Resources
from .records import (
    EXECUTION_STATUSES,
    ExecutionPage,
    ExecutionRecord,
    LateOutcomeRecord,
    RollbackRecord,
    TaskRecord,
    TransactionRecord,
)


class JournalQueries:
    """The queries of ``ExecutionJournal``.

    Each reads what is committed, in one read transaction, on a connection of its own: records
    still queued are not visible yet. Nothing is unpickled unless the journal was opened with
    ``pickle_fallback``, and no query raises for a damaged row: the value is a preview or None
    and the record's note says what could not be read.
    """

    _resources: Resources

    def list_executions(
        self,
        workflow_id: str | None = None,
        limit: int = 50,
        before: str | None = None,
        *,
        status: str | None = None,
    ) -> ExecutionPage:
        """A page of executions, newest first; pass ``page.next_cursor`` as ``before``.

        Reads what is committed (``flush()`` first to include what was just recorded).
        """
        if status is not None and status not in EXECUTION_STATUSES:
            raise ValueError(f"status must be one of {sorted(EXECUTION_STATUSES)}")
        return self._resources.read(_queries.list_executions, workflow_id, status, limit, before)

    def execution(self, execution_id: str) -> ExecutionRecord | None:
        """Everything recorded about one execution, or None if the journal does not hold it."""
        return self._resources.read(_queries.execution, execution_id, self._resources.unpickle)

    def child_executions(self, execution_id: str) -> list[str]:
        """Ids of the executions nested workflow steps of ``execution_id`` started, oldest first.

        Their ids are ``<execution_id>/<step>...``; grandchildren are included.
        """
        return self._resources.read(_queries.child_execution_ids, execution_id)

    def task_records(self, execution_id: str) -> list[TaskRecord]:
        """The latest record of each of its tasks, in the order they were first recorded."""
        return self._resources.read(_queries.task_records, execution_id, self._resources.unpickle)

    def completed_outputs(self, execution_id: str) -> dict[str, Any]:
        """``{task_key: output}`` of its completed tasks whose outputs were stored exactly.

        This is what a resume reuses instead of running those tasks again.
        """
        return self._resources.read(
            _queries.completed_outputs, execution_id, self._resources.unpickle
        )

    def rollbacks(self, execution_id: str) -> list[tuple[str, bool, str]]:
        """The rollback steps run for an execution, in order: (task key, succeeded, error)."""
        return self._resources.read(_queries.rollbacks, execution_id)

    def rollbacks_done(self, execution_id: str) -> set[str]:
        """The tasks whose rollback step already ran for their completion.

        A resume must not run those again.
        """
        return self._resources.read(_queries.rollbacks_done, execution_id)

    def rollback_records(self, execution_id: str) -> list[RollbackRecord]:
        """Every rollback step that ran for the execution, in the order recorded."""
        return self._resources.read(_queries.rollback_records, execution_id)

    def late_outcomes(self, execution_id: str) -> list[LateOutcomeRecord]:
        """What the execution's abandoned attempts returned after all, in the order recorded."""
        return self._resources.read(_queries.late_outcomes, execution_id, self._resources.unpickle)

    def late_outputs(self, execution_id: str) -> dict[str, Any]:
        """``{task_key: output}`` of late successes that were not undone, stored exactly.

        A resume reuses them as those tasks' completions (what they did is kept and used).
        """
        return self._resources.read(_queries.late_outputs, execution_id, self._resources.unpickle)

    def transaction(self, transaction_id: str) -> TransactionRecord | None:
        """A recorded transaction and its executions, or None."""
        return self._resources.read(_queries.transaction, transaction_id)
