"""The worker side of the process executor's claims: a call runs only if it claims its place.

A worker can hold a call queued behind the one it runs (the parent sends the next step before
the worker is free). Each queued call has a place (``claim``) in a small array the worker
shares with its parent, and both sides change a place's state only while holding the worker's
``gate`` lock. The worker moves a place from QUEUED to STARTED before running the call (or
skips the call if the parent moved it to WITHDRAWN first) and to FINISHED when it returns; so
the parent, holding the gate, knows whether a call has started, and the worker cannot start
the next one while the parent decides to kill it for the current one.

This module runs inside the worker processes: it imports nothing from Qt.
"""

from __future__ import annotations

from typing import Any

from .remote import Reply, end_with_parent, run_remote

# A place's states (one signed byte each in the shared array).
QUEUED = 0
STARTED = 1
FINISHED = 2
WITHDRAWN = 3

# How many calls a worker holds at most: the one it runs and one queued behind it.
PLACES = 2

# What a withdrawn call answers: it never ran.
WITHDRAWN_REPLY: Reply = ("withdrawn",)

_gate: Any = None
_states: Any = None


def start_worker(parent_pid: int, gate: Any, states: Any) -> None:
    """Worker initializer: keep the shared claim state, end with the parent."""
    global _gate, _states
    _gate, _states = gate, states
    end_with_parent(parent_pid)


def run_claimed(claim: int, *args: Any) -> Reply:
    """``remote.run_remote(*args)`` if place ``claim`` was not withdrawn first."""
    gate, states = _gate, _states
    with gate:
        if states[claim] == WITHDRAWN:
            return WITHDRAWN_REPLY
        states[claim] = STARTED
    try:
        return run_remote(*args)
    finally:
        with gate:
            states[claim] = FINISHED
