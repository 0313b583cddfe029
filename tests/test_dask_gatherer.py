"""The Dask executor's parts that need no cluster: the gatherer's parked steps, driven with
stand-in futures (each lands exactly once, whatever comes first: its result, an error, the
client closing; cancelling a future happens on the gatherer's own thread), and the switch
interval it sets once a client runs in the process."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qtforge_orch._engine.executors import dask
from qtforge_orch._engine.executors.gather import Gatherer, Pending


class FakeFuture:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.status = "pending"
        self.value = value
        self.error = error
        self.cancelled_in: str | None = None
        self._callbacks: list[Callable[[FakeFuture], None]] = []

    def add_done_callback(self, callback: Callable[[FakeFuture], None]) -> None:
        self._callbacks.append(callback)

    def finish(self) -> None:
        self.status = "finished" if self.error is None else "error"
        for callback in self._callbacks:
            callback(self)

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> None:
        self.cancelled_in = threading.current_thread().name


class FakeClient:
    def gather(self, futures: list[FakeFuture]) -> list[Any]:
        return [future.value for future in futures]


class Landings:
    """Collects what landed; ``wait(n)`` waits for n landings (no sleeping)."""

    def __init__(self) -> None:
        self.seen: list[tuple[Any, BaseException | None]] = []
        self._cond = threading.Condition()

    def __call__(self, pending: Pending) -> None:
        with self._cond:
            self.seen.append((pending.reply, pending.error))
            self._cond.notify_all()

    def wait(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.seen) >= count, timeout=5)


@pytest.fixture
def gatherer() -> Iterator[Gatherer]:
    made = Gatherer(FakeClient())
    yield made
    made.close()


def test_a_parked_step_lands_its_reply_once(gatherer: Gatherer) -> None:
    landings = Landings()
    futures = [FakeFuture(("ok", {"i": i})) for i in range(5)]
    for future in futures:
        gatherer.watch(future, landings)
    for future in futures:
        future.finish()
    landings.wait(5)
    assert sorted(reply[1]["i"] for reply, _ in landings.seen) == [0, 1, 2, 3, 4]
    gatherer.land_all(RuntimeError("closed"))  # nothing is left to land
    assert len(landings.seen) == 5


def test_an_erred_future_lands_its_error(gatherer: Gatherer) -> None:
    landings = Landings()
    boom = ValueError("boom")
    future = FakeFuture(error=boom)
    gatherer.watch(future, landings)
    future.finish()
    landings.wait(1)
    assert landings.seen == [(None, boom)]


def test_closing_lands_what_never_reported_and_a_late_report_lands_nothing(
    gatherer: Gatherer,
) -> None:
    landings = Landings()
    late = FakeFuture(("ok", {}))
    gatherer.watch(late, landings)
    closed = RuntimeError("the client was closed")
    gatherer.land_all(closed)
    assert landings.seen == [(None, closed)]
    blocking = FakeFuture(("ok", {"after": True}))
    waiter = gatherer.watch(blocking)
    late.finish()
    blocking.finish()
    assert waiter.done.wait(5)  # the gatherer got past the late report
    assert landings.seen == [(None, closed)]


def test_a_landing_that_raises_does_not_stop_the_others(
    gatherer: Gatherer, caplog: pytest.LogCaptureFixture
) -> None:
    landings = Landings()

    def broken(pending: Pending) -> None:
        raise RuntimeError("bug")

    first, second = FakeFuture(("ok", {})), FakeFuture(("ok", {"second": True}))
    gatherer.watch(first, broken)
    gatherer.watch(second, landings)
    first.finish()
    second.finish()
    landings.wait(1)
    assert landings.seen == [(("ok", {"second": True}), None)]
    assert "recording a Dask step's outcome failed" in caplog.text


def test_cancel_runs_on_the_gatherer_thread(gatherer: Gatherer) -> None:
    future = FakeFuture()
    gatherer.cancel(future)
    marker = FakeFuture(("ok", {}))
    waiter = gatherer.watch(marker)
    marker.finish()
    assert waiter.done.wait(5)  # queued after the cancel, so the cancel was done first
    assert future.cancelled_in == "qtforge-dask-gather"


@pytest.fixture
def switch_interval() -> Iterator[float]:
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield saved
    sys.setswitchinterval(saved)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, 0.001),  # the default once a Dask client runs here
        ("0.002", 0.002),
        ("keep", 0.005),
        ("0.01", 0.005),  # never raised
        ("fast", 0.001),  # not a number: the default, with a warning
    ],
)
def test_the_switch_interval_is_shortened_once_dask_runs_here(
    switch_interval: float,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    setting: str | None,
    expected: float,
) -> None:
    if setting is None:
        monkeypatch.delenv("QTFORGE_ORCH_SWITCH_INTERVAL", raising=False)
    else:
        monkeypatch.setenv("QTFORGE_ORCH_SWITCH_INTERVAL", setting)
    dask._shorten_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(expected)
    assert ("is not a number of seconds" in caplog.text) == (setting == "fast")
