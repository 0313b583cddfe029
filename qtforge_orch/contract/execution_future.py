"""A future that is both blocking-waitable (``.result(timeout)``) and awaitable under qasync."""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ExecutionFuture(concurrent.futures.Future[T], Generic[T]):
    """The outcome of one execution.

    Resolved by the engine from whichever thread ends the execution; awaiting hops back through
    ``call_soon_threadsafe``, never through a nested Qt event loop. Cancelling the future (or
    the asyncio task awaiting it, or an ``asyncio.wait_for`` that times out) cancels the
    execution: its compensations run and its signals are delivered as for any cancel.
    """

    execution_id: str = ""

    def __init__(self) -> None:
        super().__init__()
        self._cancel_execution: Callable[[], object] | None = None

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
        with contextlib.suppress(concurrent.futures.InvalidStateError):
            self.set_result(value)

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio  # deferred: ~100 ms of import that plain Qt users never need

        return asyncio.wrap_future(self).__await__()
