"""The execution engine's API: the one list of names the rest of the package may use.

Modules outside ``qtforge_orch._engine`` import the engine only from here (a test enforces
it), as trio's ``_core`` curates what the rest of trio sees; the engine's own modules are free
to change behind this list. What plugins, the engine and the executors share (``StepContext``,
the compiled plan, ``Outcome``, ``RetryPolicy``, ``IEventSource``) is not here but in
``qtforge_orch.contract``, one layer down.

Names load on first access: a facade imports the pure-Python names it needs before PySide6
(``gc_paused_for``, ``find_cycle``...), the Qt-bound ones after it, and a batch workflow never
loads the Streaming or EventDriven schedulers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compensation import Compensation as Compensation
    from .engine import DEFAULT_HISTORY_LIMIT as DEFAULT_HISTORY_LIMIT
    from .engine import Engine as Engine
    from .engine import live_run as live_run
    from .events import Event as Event
    from .events import EventKind as EventKind
    from .executors import EXECUTOR_KEY as EXECUTOR_KEY
    from .executors import EXECUTOR_NAMES as EXECUTOR_NAMES
    from .executors import THREAD as THREAD
    from .executors import UnknownExecutor as UnknownExecutor
    from .executors import check_executor as check_executor
    from .executors.shipping import refusal_at_registration as refusal_at_registration
    from .gc_pause import gc_paused_for as gc_paused_for
    from .graph_checks import find_cycle as find_cycle
    from .invoke import PluginLookup as PluginLookup
    from .journal_link import JournalEntry as JournalEntry
    from .journal_link import JournalSink as JournalSink
    from .journal_link import ResumeSeed as ResumeSeed
    from .late_view import LateView as LateView
    from .rollback_log import log_rollback as log_rollback
    from .run import Run as Run
    from .run_status import RunStatus as RunStatus
    from .run_status import SignalNames as SignalNames
    from .status_snapshot import RunSnapshot as RunSnapshot
    from .status_snapshot import RunView as RunView
    from .status_snapshot import cached_reports as cached_reports
    from .status_snapshot import debug_fields as debug_fields
    from .status_snapshot import late_reports as late_reports
    from .status_snapshot import take_snapshot as take_snapshot
    from .timers import ManualTimerService as ManualTimerService
    from .timers import TimerHandle as TimerHandle
    from .timers import Timers as Timers
    from .timestamps import iso_utc as iso_utc
    from .transactions import RollbackHandle as RollbackHandle
    from .transactions import TransactionRegistry as TransactionRegistry
    from .trigger_plans import WHOLE_GRAPH as WHOLE_GRAPH

# name -> the engine module that defines it
_WHERE = {
    # the engine a facade owns, and one execution
    "Engine": "engine",
    "DEFAULT_HISTORY_LIMIT": "engine",
    "live_run": "engine",
    "Run": "run",
    "RunStatus": "run_status",
    "SignalNames": "run_status",
    # events, delivered in the owner thread
    "Event": "events",
    "EventKind": "events",
    # status reads
    "RunView": "status_snapshot",
    "RunSnapshot": "status_snapshot",
    "LateView": "late_view",
    "take_snapshot": "status_snapshot",
    "cached_reports": "status_snapshot",
    "debug_fields": "status_snapshot",
    "late_reports": "status_snapshot",
    "iso_utc": "timestamps",
    # registration: graph checks and executor names
    "find_cycle": "graph_checks",
    "gc_paused_for": "gc_pause",
    "EXECUTOR_KEY": "executors",
    "EXECUTOR_NAMES": "executors",
    "THREAD": "executors",
    "UnknownExecutor": "executors",
    "check_executor": "executors",
    "refusal_at_registration": "executors.shipping",
    "WHOLE_GRAPH": "trigger_plans",
    # what the engine is given: plugins, time, a journal
    "PluginLookup": "invoke",
    "Timers": "timers",
    "TimerHandle": "timers",
    "ManualTimerService": "timers",
    "JournalSink": "journal_link",
    "JournalEntry": "journal_link",
    "ResumeSeed": "journal_link",
    # rollback steps owed (a nested workflow's, carried by its parent), and their records
    "Compensation": "compensation",
    "log_rollback": "rollback_log",
    # transactions across executions
    "TransactionRegistry": "transactions",
    "RollbackHandle": "transactions",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
