"""ExecutionFuture: a concurrent.futures.Future whose Condition is built on first use."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

import pytest

from qtforge_orch.contract.execution_future import ExecutionFuture


def test_it_has_every_field_of_a_plain_future() -> None:
    # Future.__init__ is not called (it would build the Condition): the fields it sets are
    # set here, so a Python whose Future gains a field fails this test, not an application.
    plain = set(vars(concurrent.futures.Future()))
    ours = set(vars(ExecutionFuture())) - {"_lazy_condition", "_cancel_execution"}
    assert ours | {"_condition"} == plain


def test_a_future_resolved_with_nobody_waiting_reads_as_finished() -> None:
    future: ExecutionFuture[dict[str, int]] = ExecutionFuture()
    assert not future.done() and not future.running()
    future.resolve({"a": 1})
    assert future.done() and not future.cancelled()
    assert future.result(0) == {"a": 1}
    assert future.exception(0) is None
    assert "finished" in repr(future)
    seen: list[Any] = []
    future.add_done_callback(lambda f: seen.append(f.result()))
    assert seen == [{"a": 1}]


def test_a_second_resolution_is_ignored() -> None:
    future: ExecutionFuture[int] = ExecutionFuture()
    future.resolve(1)
    future.resolve(2)
    assert future.result(0) == 1
    waited: ExecutionFuture[int] = ExecutionFuture()
    waited.add_done_callback(lambda _: None)  # the Condition exists: set_result's path
    waited.resolve(1)
    waited.resolve(2)
    assert waited.result(0) == 1


def test_a_waiting_thread_is_woken_by_the_resolution() -> None:
    future: ExecutionFuture[str] = ExecutionFuture()
    waiting = threading.Event()
    got: list[str] = []

    def wait() -> None:
        waiting.set()
        got.append(future.result(timeout=10))

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiting.wait(10)
    future.resolve("done")
    waiter.join(10)
    assert got == ["done"]


def test_resolutions_racing_first_waiters_never_lose_a_wake_up() -> None:
    # The resolving thread and a thread that starts waiting at the same moment: whichever
    # builds or skips the Condition first, the waiter returns the result (a lost wake-up
    # would time out).
    for _ in range(300):
        future: ExecutionFuture[int] = ExecutionFuture()
        go = threading.Barrier(2)
        got: list[int] = []

        def wait(
            future: ExecutionFuture[int] = future,
            go: threading.Barrier = go,
            got: list[int] = got,
        ) -> None:
            go.wait(10)
            got.append(future.result(timeout=10))

        waiter = threading.Thread(target=wait)
        waiter.start()
        go.wait(10)
        future.resolve(7)
        waiter.join(15)
        assert got == [7]


def test_done_callbacks_run_once_on_resolution() -> None:
    future: ExecutionFuture[int] = ExecutionFuture()
    seen: list[int] = []
    future.add_done_callback(lambda f: seen.append(f.result()))
    future.add_done_callback(lambda f: seen.append(f.result() * 10))
    future.resolve(3)
    assert seen == [3, 30]


def test_wait_and_as_completed_see_resolutions() -> None:
    futures: list[ExecutionFuture[int]] = [ExecutionFuture() for _ in range(3)]
    futures[0].resolve(0)
    resolver = threading.Timer(0.05, lambda: [f.resolve(i) for i, f in enumerate(futures)])
    resolver.start()
    try:
        done, not_done = concurrent.futures.wait(futures, timeout=10)
        assert not not_done and done == set(futures)
        assert sorted(f.result() for f in concurrent.futures.as_completed(futures, 10)) == [
            0,
            1,
            2,
        ]
    finally:
        resolver.join()


def test_cancelling_cancels_the_execution_and_wins_over_a_later_resolution() -> None:
    future: ExecutionFuture[int] = ExecutionFuture()
    cancelled: list[bool] = []
    future.bind("exec-1", lambda: cancelled.append(True))
    assert future.cancel()
    assert cancelled == [True]
    future.resolve(5)  # the execution ends anyway: the future stays cancelled
    assert future.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result(0)
    assert not future.cancel() or future.cancelled()
    assert cancelled == [True]


def test_a_resolved_future_cannot_cancel_its_execution() -> None:
    future: ExecutionFuture[int] = ExecutionFuture()
    cancelled: list[bool] = []
    future.bind("exec-1", lambda: cancelled.append(True))
    future.resolve(1)
    assert not future.cancel()
    assert cancelled == []


def test_it_can_be_awaited_from_asyncio() -> None:
    async def main() -> int:
        future: ExecutionFuture[int] = ExecutionFuture()
        asyncio.get_running_loop().call_later(0.01, future.resolve, 42)
        return await future

    assert asyncio.run(main()) == 42

    async def already() -> int:
        future: ExecutionFuture[int] = ExecutionFuture()
        future.resolve(9)
        return await future

    assert asyncio.run(already()) == 9
