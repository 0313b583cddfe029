"""An execution drawn on the editor's nodes: ``VisualWorkflowEditor.attach_execution``.

It subscribes to the execution's events, as the monitor's graph does: an event says *which*
node changed, and the handle's ``step(id)`` says how it is now. Changes are batched per frame,
like the monitor's, so a burst of a thousand finishing nodes is a few restyles per frame.
"""

from __future__ import annotations

import time
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal

from ...events import EventKind, ExecutionEvent, Subscription
from .._coalesce import BUDGET_S, FrameBatcher
from .._following import END_KINDS, TASK_KINDS, follow
from ..status_style import format_ms, status_label
from ._scene import EditorScene

#: Node restyles per frame (each re-renders a node's texts).
NODES_PER_FRAME = 80
_ALL = "*"
#: The events that change a node: step events, counters, the end.
_FOLLOWED = TASK_KINDS | END_KINDS | {EventKind.ITEM_COUNTS, EventKind.EVENT_COUNTS}


def step_detail(record: Any) -> str:
    """The line a node shows for its run: attempts, item counters, runs or outcome and time."""
    if record.items:
        taken, sent = record.items.get("items_in", 0), record.items.get("items_out", 0)
        return f"in {taken} · out {sent}"
    if record.runs:  # EventDriven: a run per event
        failed = f" · {record.failed_runs} failed" if record.failed_runs else ""
        return f"{record.runs} runs{failed}"
    if record.status in ("pending", "running", "retrying"):
        attempt = f" · attempt {record.attempts}" if record.attempts > 1 else ""
        return status_label(record.status) + attempt
    took = format_ms(record.duration_ms)
    return status_label(record.status) + (f" · {took}" if took else "")


class ExecutionOverlay(QObject):
    """Follows one ``WorkflowExecution`` and colours the scene's nodes by its states.

    ``running_changed(bool)`` tells the editor when editing must pause and may resume.
    """

    running_changed = Signal(bool)

    def __init__(self, scene: EditorScene, parent: QObject) -> None:
        super().__init__(parent)
        self._scene = scene
        self._handle: Any = None
        self._following: Subscription | None = None
        self._batch = FrameBatcher(self._apply, self)

    def handle(self) -> Any:
        """The execution shown, or None."""
        return self._handle

    def is_running(self) -> bool:
        """Whether the execution shown has not finished."""
        handle = self._handle
        return handle is not None and shiboken6.isValid(handle) and not handle.is_finished()

    def attach(self, handle: Any) -> None:
        """Show ``handle`` (its past is read from it; None: show no execution)."""
        self.detach()
        if handle is None:
            return
        self._handle = handle
        self._following = follow(handle, self._on_event, _FOLLOWED)
        self._batch.mark(_ALL)
        self._batch.flush_all()
        self.running_changed.emit(self.is_running())

    def detach(self) -> None:
        """Stop following and go back to the editing look."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if self._following is not None:
            self._following.cancel()
            self._following = None
        for node in self._scene.nodes.values():
            node.set_status("")
        for edge in self._scene.edges.values():
            edge.set_count("")
        self.running_changed.emit(False)

    def flush(self) -> None:
        """Apply pending changes now (tests, screenshots)."""
        self._batch.flush_all()

    # --- the execution's events (the GUI thread) --------------------------------------------
    def _on_event(self, event: ExecutionEvent) -> None:
        if event.kind in TASK_KINDS:
            self._batch.mark(event.step)
        elif event.kind is EventKind.ITEM_COUNTS:
            self._batch.mark_many(event.item_counts)
        elif event.kind is EventKind.EVENT_COUNTS:
            self._batch.mark_many(event.node_runs)
        else:  # the end: skipped, cancelled and rolled-back nodes are settled now
            self._batch.mark(_ALL)
            self.running_changed.emit(False)

    def _apply(self, dirty: set[object]) -> set[object] | None:
        handle = self._handle
        if handle is None or not shiboken6.isValid(handle):
            return None
        keys = list(self._scene.nodes) if _ALL in dirty else [k for k in dirty if k != _ALL]
        deadline = time.perf_counter() + BUDGET_S
        for done, key in enumerate(keys):
            if done >= NODES_PER_FRAME or (done % 16 == 15 and time.perf_counter() > deadline):
                return {k for k in keys[done:] if isinstance(k, str)}
            node = self._scene.nodes.get(str(key))
            record = handle.step(str(key)) if node is not None else None
            if node is None or record is None:
                continue
            node.set_status(record.status, step_detail(record))
            if record.items:
                sent = f"{record.items.get('items_out', 0)} items"
                for edge in self._scene.edges.values():
                    if edge.info.source == node.node_id:
                        edge.set_count(sent)
        return None
