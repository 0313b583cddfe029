"""An abandoned attempt as status calls and ``LATE_OUTCOME`` events report it.

A live run's ``LateOutcome`` records and the journal's late outcome rows both become a
``LateView``; ``late_report`` turns one into the status dict, which is also the event's entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import PluginError, error_info
from .timestamps import iso_utc

if TYPE_CHECKING:
    from .task_table import LateOutcome


class LateView(NamedTuple):
    """An abandoned attempt as a status call sees it (``late_outcomes.LateOutcome``)."""

    task: int  # the task's index
    attempt: int
    outcome: str  # pending, completed, failed, cancelled
    error: PluginError | None  # a late failure's
    at: float  # time.time() it returned (0.0 while pending)
    rollback: str  # "" (pending), none, deferred, kept, pending, completed, failed, due
    rollback_error: str


def late_view(record: LateOutcome) -> LateView:
    """An abandoned attempt as it stands (read with the run's lock held, or once settled)."""
    compensation = record.compensation
    return LateView(
        record.index,
        record.attempt,
        record.outcome,
        record.error,
        record.at,
        record.rollback_state(),
        compensation.error if compensation is not None else "",
    )


def late_report(view: LateView, id_key: str, key: str) -> dict[str, Any]:
    """An abandoned attempt as a status dict: ``<id_key>``, ``attempt``, ``outcome``
    (``pending``, ``completed``, ``failed``, ``cancelled``), ``returned_at``, ``rollback``
    (``""`` while pending, ``none``, ``deferred``, ``kept``, ``pending``, ``completed``,
    ``failed``, ``due``) and,
    when there are any, ``error`` with ``error_info`` and ``rollback_error``."""
    report: dict[str, Any] = {
        id_key: key,
        "attempt": view.attempt,
        "outcome": view.outcome,
        "returned_at": iso_utc(view.at),
        "rollback": view.rollback,
    }
    if view.error is not None:
        report["error"] = view.error.message
        report["error_info"] = error_info(view.error)
    if view.rollback_error:
        report["rollback_error"] = view.rollback_error
    return report
