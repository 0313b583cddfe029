"""Retention: how much history a journal keeps, and the deletion that enforces it."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_DAY = 86_400.0
# Never deleted: what is still running, what was interrupted and can still be resumed, and
# what a running or interrupted execution resumes (its outputs and rollbacks are still needed).
_DELETABLE = (
    "(status IN ('completed', 'failed', 'cancelled') "
    "OR (status = 'interrupted' AND resumed_as IS NOT NULL)) "
    "AND NOT EXISTS (SELECT 1 FROM executions AS resumer "
    "WHERE resumer.execution_id = executions.resumed_as "
    "AND resumer.status IN ('running', 'interrupted'))"
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How much history the journal keeps; None means no limit of that kind.

    Executions beyond the ``keep_executions`` newest, or that ended more than ``keep_days``
    ago, are deleted with their tasks, rollbacks and transaction memberships, except running
    executions, interrupted ones that have not been resumed, and executions whose resumption
    is still running or interrupted. The writer enforces the count
    after every batch that finishes an execution and the age at most once a minute;
    ``ExecutionJournal.apply_retention`` enforces both at once.

    Attributes:
        keep_executions: Keep at most this many executions (the newest).
        keep_days: Delete executions that ended (or, if interrupted, started) longer ago.
    """

    keep_executions: int | None = 1000
    keep_days: float | None = None

    def __post_init__(self) -> None:
        if self.keep_executions is not None and self.keep_executions < 0:
            raise ValueError(f"keep_executions must be >= 0, not {self.keep_executions}")
        if self.keep_days is not None and not self.keep_days >= 0:
            raise ValueError(f"keep_days must be >= 0, not {self.keep_days}")

    @property
    def limited(self) -> bool:
        """Whether the policy ever deletes anything."""
        return self.keep_executions is not None or self.keep_days is not None


def _conditions(
    connection: sqlite3.Connection, policy: RetentionPolicy, now: float, by_age: bool
) -> tuple[str, list[float]] | None:
    clauses: list[str] = []
    params: list[float] = []
    if policy.keep_executions is not None:
        found = connection.execute(
            "SELECT row FROM executions ORDER BY row DESC LIMIT 1 OFFSET ?",
            (policy.keep_executions,),
        ).fetchone()
        if found is not None:
            clauses.append("row <= ?")
            params.append(found[0])
    if by_age and policy.keep_days is not None:
        clauses.append("coalesce(ended_at, started_at) < ?")
        params.append(now - policy.keep_days * _DAY)
    if not clauses:
        return None
    return f"{_DELETABLE} AND ({' OR '.join(clauses)})", params


def enforce(
    connection: sqlite3.Connection, policy: RetentionPolicy, now: float, *, by_age: bool = True
) -> int:
    """Delete what ``policy`` does not keep, in the caller's transaction.

    Returns:
        How many executions were deleted.
    """
    found = _conditions(connection, policy, now, by_age)
    if found is None:
        return 0
    where, params = found
    doomed = f"SELECT execution_id FROM executions WHERE {where}"
    if connection.execute(f"{doomed} LIMIT 1", params).fetchone() is None:
        return 0
    rows = f"SELECT row FROM executions WHERE {where}"
    connection.execute(f"DELETE FROM tasks WHERE execution IN ({rows})", params)
    for table in ("rollbacks", "late_outcomes", "transaction_executions"):
        connection.execute(f"DELETE FROM {table} WHERE execution_id IN ({doomed})", params)
    deleted = connection.execute(f"DELETE FROM executions WHERE {where}", params).rowcount
    connection.execute(
        "DELETE FROM definitions WHERE hash NOT IN (SELECT definition_hash FROM executions)"
    )
    connection.execute(
        "DELETE FROM transactions WHERE state != 'begun' AND transaction_id NOT IN "
        "(SELECT transaction_id FROM transaction_executions)"
    )
    return int(deleted)
