"""A ``WorkflowExecution`` handle follows step events only once something follows its steps.

Step events cost the engine an event per step and the owner thread a delivery per event, so
a handle that ``start_workflow`` made follows them only once something follows steps live:
a slot connected to a step signal or to ``message``, or a read of ``step``, ``snapshot`` or
``messages`` while it runs. Then it subscribes to them and catches up from the execution's
state: what the steps did before is reported first, in the order their events would have had.
A handle nobody asked about steps while it ran reads them after the end (``_ended_steps``).
"""

from __future__ import annotations

from PySide6.QtCore import QMetaMethod, QThread, QTimer

from .._log import logger
from ..events import EventKind
from ._ended_steps import EndedSteps

#: The step events a handle follows once something follows its steps live.
STEP_KINDS = frozenset(
    {
        EventKind.TASK_STARTED,
        EventKind.TASK_COMPLETED,
        EventKind.TASK_FAILED,
        EventKind.TASK_RETRYING,
    }
)
#: Signals whose first connection means somebody follows the steps live.
_STEP_SIGNALS = frozenset({"step_started", "step_finished", "step_retrying", "message"})


class StepFollowing(EndedSteps):
    """Follows a ``WorkflowExecution``'s steps on demand (module docstring)."""

    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: a step signal's first connection makes the handle follow steps."""
        if not self._live_steps:
            name = bytes(signal.name().data()).decode()
            if name in _STEP_SIGNALS:
                if QThread.currentThread() == self.thread():
                    # Subscribed now; the catch-up emits, which Qt may forbid here (it can
                    # hold a mutex), so it runs from a zero timer or the next read.
                    self._follow_steps(catch_up_now=False)
                else:
                    QTimer.singleShot(0, self, self._read_steps)
        super().connectNotify(signal)

    def _read_steps(self) -> None:
        """Make the step records current before they are read (module docstring)."""
        if self._catch_up_due:
            if QThread.currentThread() == self.thread():
                self._catch_up()
            return
        if self._live_steps:
            return
        if self.is_finished():
            self._read_ended_steps()
        elif QThread.currentThread() == self.thread():
            self._follow_steps(catch_up_now=True)

    def _follow_steps(self, catch_up_now: bool) -> None:
        """(owner thread, running) Follow step events from now on, then take the steps' state.

        Subscribed before the state is read, so nothing falls between; events queued before
        the read are dropped by the step handlers as not moving a step on.
        """
        if self._live_steps:
            return
        if self.is_finished():
            self._read_ended_steps()
            return
        self._live_steps = True
        orchestrator = self._live_orchestrator()
        if orchestrator is None or self._run is None:
            return
        followed = orchestrator.subscribe(
            self._on_event, self._execution_id, STEP_KINDS, weak=False
        )
        if not followed:  # its end is being delivered: the final state reports the steps
            logger("qt").debug("execution %s ended as its steps were asked for", self._execution_id)
        self._catch_up_due = True
        if catch_up_now:
            self._catch_up()
        else:
            QTimer.singleShot(0, self, self._catch_up)

    def _catch_up(self) -> None:
        """(owner thread) Report what the steps did before the handle followed them."""
        if not self._catch_up_due:
            return
        self._catch_up_due = False
        run, self._run = self._run, None
        if run is not None:
            self._take_steps(self._final_state(run), self._emit, self._add_message)
