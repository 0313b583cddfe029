"""A future that is both blocking-waitable (``.result(timeout)``) and awaitable under qasync."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ExecutionFuture(concurrent.futures.Future[T], Generic[T]):
    """Resolved from a worker thread; awaiting hops back through ``call_soon_threadsafe``,
    never through a nested Qt event loop."""

    execution_id: str = ""

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio  # deferred: ~100 ms of import that plain Qt users never need

        return asyncio.wrap_future(self).__await__()
