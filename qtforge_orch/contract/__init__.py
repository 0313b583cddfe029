"""The contract plugins, the engine and the executors share.

Everything here is plain Python with no dependency above ``qtforge_orch``'s base (errors and
results): what a running plugin sees of its step (``context``), the compiled plan the facades
hand the engine (``plan``), retry policies (``retry``), what one plugin call came to
(``outcome``) and the interface of plugins that push events (``event_source``). Plugins import
only this package; the engine imports it and builds on it.

Names load on first access, so importing one module does not build every dataclass here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import StepContext as StepContext
    from .event_source import EmitEvent as EmitEvent
    from .event_source import IEventSource as IEventSource
    from .event_source import StopEvents as StopEvents
    from .execution_future import ExecutionFuture as ExecutionFuture
    from .outcome import Outcome as Outcome
    from .plan import RESERVED_CONFIGURATION_KEYS as RESERVED_CONFIGURATION_KEYS
    from .plan import TERMINAL_STATES as TERMINAL_STATES
    from .plan import ConditionEvaluator as ConditionEvaluator
    from .plan import DataPolicy as DataPolicy
    from .plan import JoinPolicy as JoinPolicy
    from .plan import Plan as Plan
    from .plan import Role as Role
    from .plan import ScheduleKind as ScheduleKind
    from .plan import TaskSpec as TaskSpec
    from .plan import TaskState as TaskState
    from .plan import Wire as Wire
    from .plan import WireKind as WireKind
    from .plan import link_successors as link_successors
    from .plan import sequential_ranks as sequential_ranks
    from .retry import NON_TRANSIENT_CODES as NON_TRANSIENT_CODES
    from .retry import POLICY_KEY as POLICY_KEY
    from .retry import RetryPolicy as RetryPolicy
    from .timer_kind import TimerKind as TimerKind

_WHERE = {
    "StepContext": "context",
    "EmitEvent": "event_source",
    "ExecutionFuture": "execution_future",
    "IEventSource": "event_source",
    "StopEvents": "event_source",
    "Outcome": "outcome",
    "RESERVED_CONFIGURATION_KEYS": "plan",
    "TERMINAL_STATES": "plan",
    "ConditionEvaluator": "plan",
    "DataPolicy": "plan",
    "JoinPolicy": "plan",
    "Plan": "plan",
    "Role": "plan",
    "ScheduleKind": "plan",
    "TaskSpec": "plan",
    "TaskState": "plan",
    "Wire": "plan",
    "WireKind": "plan",
    "link_successors": "plan",
    "sequential_ranks": "plan",
    "NON_TRANSIENT_CODES": "retry",
    "POLICY_KEY": "retry",
    "RetryPolicy": "retry",
    "TimerKind": "timer_kind",
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
