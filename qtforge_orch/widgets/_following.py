"""How the widgets follow an execution: as subscribers of its orchestrator's event stream.

A widget subscribes its own method for the kinds it shows, weakly (a deleted widget simply
stops being called), and reads what changed from the execution's handle when it repaints.
The handle subscribed before the execution started, so for every event it is called first:
its records are current whenever a widget looks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import PluginErrorCode
from ..events import EventKind, Subscriber, Subscription
from ..qt.execution import WorkflowExecution
from ..results import Expected, from_error, make_error, make_success

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


def resolve(
    execution: WorkflowExecution | str | None, orchestrator: Any, action: str
) -> Expected[WorkflowExecution | None]:
    """A handle, or the handle of an execution id through ``orchestrator.execution``.

    None stays None (stop showing an execution). An id needs an orchestrator to look it up;
    anything else is refused with ``InvalidArgument`` naming ``action``.
    """
    if execution is None or isinstance(execution, WorkflowExecution):
        return make_success(execution)
    if isinstance(execution, str):
        if orchestrator is None:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"{action} got the execution id '{execution}' but no orchestrator to look it "
                "up in: pass the orchestrator too, or a WorkflowExecution "
                "(orchestrator.execution(id))",
            )
        found: Expected[WorkflowExecution] = orchestrator.execution(execution)
        return make_success(found.value()) if found else from_error(found.error())
    return make_error(
        PluginErrorCode.InvalidArgument,
        f"{action} expects a WorkflowExecution or an execution id, got {type(execution).__name__}",
    )
