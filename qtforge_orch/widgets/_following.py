"""How the widgets follow an execution: as subscribers of its orchestrator's event stream.

A widget subscribes its own method for the kinds it shows, weakly (a deleted widget simply
stops being called), and reads what changed from the execution's handle when it repaints.
The handle subscribed before the execution started, so for every event it is called first:
its records are current whenever a widget looks.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..events import EventKind, Subscriber, Subscription
from ..qt.execution import WorkflowExecution

#: The events that change a step's row or node.
TASK_KINDS = frozenset(
    {
        EventKind.TASK_STARTED,
        EventKind.TASK_COMPLETED,
        EventKind.TASK_FAILED,
        EventKind.TASK_RETRYING,
    }
)
#: The events that end an execution.
END_KINDS = frozenset(
    {EventKind.WORKFLOW_COMPLETED, EventKind.WORKFLOW_FAILED, EventKind.WORKFLOW_CANCELLED}
)


def follow(
    handle: WorkflowExecution, callback: Subscriber, kinds: Iterable[EventKind]
) -> Subscription | None:
    """Subscribe ``callback`` to ``handle``'s execution; None once it has ended."""
    orchestrator = handle.orchestrator()
    if handle.is_finished() or orchestrator is None:
        return None
    followed = orchestrator.subscribe(callback, handle.execution_id(), kinds)
    return followed.value() if followed else None
