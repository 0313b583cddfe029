"""A future that is both blocking-waitable (``.result(timeout)``) and awaitable under qasync."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Generator
from concurrent.futures._base import FINISHED, PENDING
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Makes a first waiter's building of a future's Condition and a resolution that finds none
# exclusive of each other (held for a few instructions; never while anything is waited for).
_CONDITION_LOCK = threading.Lock()


class ExecutionFuture(concurrent.futures.Future[T], Generic[T]):
    """The outcome of one execution.

    Resolved by the engine from whichever thread ends the execution; awaiting hops back through
    ``call_soon_threadsafe``, never through a nested Qt event loop. Cancelling the future (or
    the asyncio task awaiting it, or an ``asyncio.wait_for`` that times out) cancels the
    execution: its compensations run and its signals are delivered as for any cancel.
    """

    execution_id: str = ""

    def __init__(self) -> None:
        # ``Future.__init__``'s fields except its Condition, which is built on first use (see
        # ``_condition``): most executions' futures are resolved with nobody waiting, and the
        # Condition (an RLock, a deque and six bound methods) is most of a future's cost.
        self._lazy_condition: threading.Condition | None = None
        self._state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._waiters: list[Any] = []
        self._done_callbacks: list[Callable[[concurrent.futures.Future[T]], object]] = []
        self._cancel_execution: Callable[[], object] | None = None

    @property
    def _condition(self) -> threading.Condition:  # type: ignore[override]
        """The Condition every ``Future`` method (and ``concurrent.futures.wait``) takes."""
        condition = self._lazy_condition
        if condition is None:
            with _CONDITION_LOCK:
                condition = self._lazy_condition
                if condition is None:
                    condition = self._lazy_condition = threading.Condition()
        return condition

    def bind(self, execution_id: str, cancel_execution: Callable[[], object]) -> None:
        """Name the execution this future belongs to and how to cancel it (engine use)."""
        self.execution_id = execution_id
        self._cancel_execution = cancel_execution

    def cancel(self) -> bool:
        """Cancel the future and, if it was still pending, its execution."""
        cancel_execution = self._cancel_execution
        cancelled = super().cancel()
        if cancelled and cancel_execution is not None:
            cancel_execution()
        return cancelled

    def resolve(self, value: T) -> None:
        """Set the result unless the future was cancelled meanwhile (never raises)."""
        # A done future cannot cancel its execution any more: let go of the run, which an
        # application keeping its futures would otherwise keep alive after the history.
        self._cancel_execution = None
        if self._lazy_condition is None:
            with _CONDITION_LOCK:
                if self._lazy_condition is None:
                    # Nothing has waited, added a callback or cancelled: each of those builds
                    # the Condition first, and cannot start while this lock is held, so the
                    # result is set with no one to wake. A later reader finds it finished.
                    if self._state == PENDING:
                        self._result = value
                        self._state = FINISHED
                    return
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            self.set_result(value)

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio  # deferred: ~100 ms of import that plain Qt users never need

        return asyncio.wrap_future(self).__await__()
