"""One shape of an execution's state for both orchestrators.

The Qt layer never reaches into the engine: the two status shapes (v1's dict, v2's
``WorkflowExecutionContext``) are normalised into one. Handles get it from their execution's
terminal event; the executions model reads the executions already running when it is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import PluginError, PluginErrorCode

#: Execution states, as v1's ``get_execution_status()["status"]`` spells them.
FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
#: Step states that end a step (``rolled_back`` is reported after ``completed``).
FINAL_STEP_STATUSES = frozenset({"completed", "failed", "skipped", "cancelled", "rolled_back"})
ITEM_KEYS = ("items_in", "items_out", "items_dropped", "items_failed")
EVENT_KEYS = ("events_received", "events_completed", "events_failed")


@dataclass
class StepState:
    """One step/node as the orchestrator reports it."""

    step_id: str
    status: str
    attempts: int
    output: dict[str, Any]
    error: str
    duration_ms: float | None = None
    items: dict[str, int] | None = None
    #: When its first attempt started and when it ended, as the status reports them (ISO
    #: text, UTC): the engine's ``time.time()``; read with ``epoch_seconds`` where needed.
    start_time: str | None = None
    end_time: str | None = None
    #: EventDriven: how many runs of the node ended, how many failed, their total time.
    runs: int | None = None
    failed_runs: int | None = None
    run_ms: float | None = None


@dataclass
class ExecutionState:
    """One execution as the orchestrator reports it, the same for v1 and v2."""

    execution_id: str
    workflow_id: str
    status: str
    progress: float
    current_step: str
    steps: list[StepState]
    result: dict[str, Any]
    error: str
    error_code: int
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    #: EventDriven: ``{"events_received", "events_completed", "events_failed"}``.
    events: dict[str, int] = field(default_factory=dict)


def epoch_seconds(iso_time: str | None) -> float | None:
    """A status's ISO time back to seconds since the epoch (``time.time()``); None: none."""
    return datetime.fromisoformat(iso_time).timestamp() if iso_time else None


def is_graph_orchestrator(orchestrator: Any) -> bool:
    """v2 (``AdvancedPluginOrchestrator``) has node signals where v1 has step signals."""
    return hasattr(type(orchestrator), "node_started")


def read_state(orchestrator: Any, execution_id: str) -> ExecutionState | None:
    """The execution's state, or None when the orchestrator no longer knows it (or is gone)."""
    if orchestrator is None:
        return None
    found = orchestrator.get_execution_status(execution_id)
    if not found:
        return None
    status = found.value()
    if isinstance(status, dict):
        return state_from_v1_status(status)
    return state_from_v2_context(status)


def state_from_v1_status(status: dict[str, Any]) -> ExecutionState:
    """The state in ``PluginOrchestrator.get_execution_status``'s dict."""
    steps = [
        StepState(
            step_id=r["step_id"],
            status=str(r["status"]).lower(),
            attempts=int(r["retry_count"]) + 1 if r.get("start_time") else 0,
            output=dict(r.get("result_data") or {}),
            error=str(r.get("error_message") or ""),
            duration_ms=float(r["execution_time"]) if r.get("end_time") else None,
            start_time=r.get("start_time"),
            end_time=r.get("end_time"),
        )
        for r in status.get("step_results", [])
    ]
    return ExecutionState(
        execution_id=status["execution_id"],
        workflow_id=status["workflow_id"],
        status=str(status["status"]),
        progress=float(status.get("progress", 0.0)),
        current_step=str(status.get("current_step") or ""),
        steps=steps,
        result=dict(status.get("result") or {}),
        error=str(status.get("error") or ""),
        error_code=int(status.get("error_code") or 0),
        rollbacks=list(status.get("rollbacks", [])),
    )


def state_from_v2_context(context: Any) -> ExecutionState:
    """The state in an ``AdvancedPluginOrchestrator``'s ``WorkflowExecutionContext``."""
    steps = []
    for node_id, node in context.node_states.items():
        items = {key: int(node[key]) for key in ITEM_KEYS if key in node}
        steps.append(
            StepState(
                step_id=node_id,
                status=str(node.get("status", "pending")),
                attempts=int(node.get("attempts", 0)),
                output=dict(node.get("output") or {}),
                error=str(node.get("error") or ""),
                duration_ms=node.get("duration_ms"),
                items=items or None,
                runs=int(node["runs"]) if "runs" in node else None,
                failed_runs=int(node.get("failed_runs", 0)) if "runs" in node else None,
                run_ms=float(node.get("run_ms", 0.0)) if "runs" in node else None,
                start_time=node.get("start_time"),
                end_time=node.get("end_time"),
            )
        )
    status = context.status.name.lower()
    messages = list(context.error_messages)
    data = context.execution_data
    return ExecutionState(
        execution_id=context.execution_id,
        workflow_id=context.workflow_id,
        status=status,
        progress=float(context.progress),
        current_step=str(context.current_node or ""),
        steps=steps,
        result=dict(context.execution_data.get("result") or {}),
        error=messages[0] if messages else "",
        error_code=0,
        events={key: int(data[key]) for key in EVENT_KEYS if key in data},
    )


def outcome_error(state: ExecutionState) -> PluginError:
    """The error an unsuccessful execution's ``result()`` holds (v1's code when it has one)."""
    code = PluginErrorCode.ExecutionFailed
    if state.status == "cancelled":
        code = PluginErrorCode.OperationCancelled
    elif state.error_code in PluginErrorCode._value2member_map_:
        code = PluginErrorCode(state.error_code)
    message = state.error or f"execution '{state.execution_id}' {state.status}"
    return PluginError(
        code, message, context={"execution_id": state.execution_id, "status": state.status}
    )
