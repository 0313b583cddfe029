"""A finished run's steps, read into a ``WorkflowExecution`` handle the first time asked for.

A handle nobody asked about its steps while the execution ran follows no step event. At the
end of a completed run it sets aside places in its replay order, before the end's own
signals, and the step records, their signals and their messages are read from the run into
those places the first time a step, a snapshot or the messages are asked for, or a step signal
gets a slot: a late slot then sees them replayed in the order they would have had.
"""

from __future__ import annotations

from typing import Any

from ._step_intake import StepIntake

#: Replay places set aside per step for reading steps after the end: started, finished, a
#: failure message, a rollback and its message.
_PLACES_PER_STEP = 5


class EndedSteps(StepIntake):
    """Reads an ended run's steps into a ``WorkflowExecution`` (module docstring)."""

    def _set_aside_places(self) -> None:
        """(at the end of a completed run nobody followed the steps of) Reserve their places."""
        self._places = (
            self._reserve(_PLACES_PER_STEP * len(self.step_ids())),
            len(self._messages),
        )

    def _read_ended_steps(self) -> None:
        """(any thread) Read an ended execution's steps into the places set aside at its end.

        Once, for an execution that completed with nobody following its steps.
        """
        with self._steps_lock:
            if self._live_steps:
                return
            self._live_steps = True
            run, places = self._run, self._places
            self._run = None
            if run is None or places is None:
                return
            self._places_left = iter(
                range(places[0], places[0] + _PLACES_PER_STEP * len(self.step_ids()))
            )
            found: list[str] = []

            def note(text: str) -> None:
                found.append(text)
                self._record_places("message", text)

            self._take_steps(self._final_state(run), self._record_places, note)
            self._messages[places[1] : places[1]] = found

    def _record_places(self, name: str, *args: Any) -> None:
        """Record an emission in the next place set aside at the end (not emitted)."""
        place = next(self._places_left, None)
        self._record_at(self._reserve(1) if place is None else place, name, *args)
