"""The owner thread's synchronous wait (``EventPump.wait_until``) sleeps until there is
something to do: its run ends (seen at once), or an event is to be delivered (delivered
within a slice). It does not wake while nothing happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from qtforge_orch import EventKind, ExecutionEvent, PluginOrchestrator
from qtforge_orch._engine import events
from qtforge_orch._engine.events import EventPump
from qtforge_orch._engine.ringing_event import RingingEvent


@pytest.fixture
def pump(qapp: object) -> Iterator[EventPump]:
    orchestrator = PluginOrchestrator()
    yield orchestrator._core.engine.pump
    orchestrator.shutdown()


@pytest.fixture
def long_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wait that still looked every slice would take a minute to see anything.
    monkeypatch.setattr(events, "WAIT_SLICE_S", 60.0)


def _in_thread(work: Any) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_the_wait_returns_when_its_event_is_set(pump: EventPump, long_slices: None) -> None:
    done = RingingEvent()
    started = time.monotonic()
    _in_thread(done.set)
    assert pump.wait_until(done, time.monotonic() + 30)
    assert time.monotonic() - started < 10
    assert done.ring is None  # the wait's hook is gone with it


def test_an_event_posted_during_the_wait_is_delivered_during_the_wait(pump: EventPump) -> None:
    delivered: list[int] = []
    seen = threading.Event()

    def on_event(event: ExecutionEvent) -> None:
        delivered.append(threading.get_ident())
        seen.set()

    subscription = pump.subscribe(on_event, [EventKind.TASK_STARTED], weak=False)
    done = RingingEvent()
    answers: list[bool] = []

    def worker() -> None:
        # The event must reach the owner thread while it waits (within a slice of its post),
        # not once the wait is over.
        pump.post(ExecutionEvent(EventKind.TASK_STARTED, ("e", "s0"), "e"))
        answers.append(seen.wait(10))
        done.set()

    started = time.monotonic()
    _in_thread(worker)
    assert pump.wait_until(done, time.monotonic() + 50)
    subscription.cancel()
    assert answers == [True]
    assert delivered == [threading.get_ident()]
    assert time.monotonic() - started < 20


def test_an_idle_wait_does_not_wake(pump: EventPump, monkeypatch: pytest.MonkeyPatch) -> None:
    drains: list[float] = []
    drain = pump.drain
    monkeypatch.setattr(pump, "drain", lambda budget: drains.append(budget) or drain(budget))
    # With nothing to deliver and an event that rings, the wait sleeps to its deadline.
    assert not pump.wait_until(RingingEvent(), time.monotonic() + 0.3)
    assert len(drains) <= 2  # on entry (and at the deadline); a 10 ms slice would be ~30
    # An Event that cannot ring is still looked at every slice.
    drains.clear()
    assert not pump.wait_until(threading.Event(), time.monotonic() + 0.3)
    assert len(drains) > 2
