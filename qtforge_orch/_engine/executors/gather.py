"""Collecting Dask results in batches: one ``client.gather`` for every future that finished
since the last one, instead of one scheduler round trip per step.

A future's done-callback queues it, and one thread per client fetches whatever has queued up.
A drainer that waits for its step blocks on the ``Pending``'s event; a parked step's
``Pending`` has a ``landing`` instead, which this thread calls. This is the same call
``client.gather(futures)`` a user would make for a batch of futures: no protocol of our own.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..._log import logger


class Pending:
    """One submitted step: ``reply`` or ``error`` filled in, then ``done`` set or, for a
    parked step, ``landing`` called (once)."""

    __slots__ = ("done", "error", "landing", "reply")

    def __init__(self, landing: Callable[[Pending], None] | None = None) -> None:
        self.done = threading.Event()
        self.reply: Any = None
        self.error: BaseException | None = None
        self.landing = landing


# A queue entry: a finished future and its step, a future to cancel (no step), or None to stop.
_Entry = tuple[Any, Pending | None] | None


class Gatherer:
    """Fetches the results of finished Dask futures for the steps waiting on them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._queue: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._parked: set[Pending] = set()  # parked steps not yet landed
        self._thread = threading.Thread(target=self._loop, name="qtforge-dask-gather", daemon=True)
        self._thread.start()

    def watch(self, future: Any, landing: Callable[[Pending], None] | None = None) -> Pending:
        pending = Pending(landing)
        if landing is not None:
            with self._lock:
                self._parked.add(pending)
        # Runs in distributed's callback thread when the future finishes, errs or is
        # cancelled (a lost scheduler cancels every future): all of them end up here.
        future.add_done_callback(lambda done: self._queue.put((done, pending)))
        return pending

    def cancel(self, future: Any) -> None:
        """Cancel ``future`` from this executor's thread: ``Future.cancel`` waits for the
        client's loop, and the caller may hold an engine lock."""
        self._queue.put((future, None))

    def close(self) -> None:
        self._queue.put(None)

    def land_all(self, error: BaseException) -> None:
        """Land every parked step still waiting with ``error`` (the client is closed: their
        futures will never report)."""
        with self._lock:
            parked, self._parked = self._parked, set()
        for pending in parked:
            pending.error = error
            _land(pending)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._deliver(batch)
                    return
                batch.append(item)
            self._deliver(batch)

    def _deliver(self, batch: list[tuple[Any, Pending | None]]) -> None:
        finished: list[tuple[Any, Pending]] = []
        for future, pending in batch:
            if pending is None:
                with contextlib.suppress(Exception):  # a client closed meanwhile
                    future.cancel()
            elif future.status == "finished":
                finished.append((future, pending))
            else:
                self._settle_one(future, pending)  # erred or cancelled: result() raises why
        if not finished:
            return
        try:
            replies = self._client.gather([future for future, _ in finished])
        except BaseException:
            # One of them lost its data meanwhile (a worker died after finishing): fetch
            # them one by one so only that one fails.
            for future, pending in finished:
                self._settle_one(future, pending)
            return
        for (_, pending), reply in zip(finished, replies, strict=True):
            pending.reply = reply
            self._settle(pending)

    def _settle_one(self, future: Any, pending: Pending) -> None:
        try:
            pending.reply = future.result()
        except BaseException as exc:
            pending.error = exc
        self._settle(pending)

    def _settle(self, pending: Pending) -> None:
        if pending.landing is None:
            pending.done.set()
            return
        with self._lock:
            if pending not in self._parked:  # landed already, by land_all
                return
            self._parked.discard(pending)
        _land(pending)


def _land(pending: Pending) -> None:
    landing = pending.landing
    assert landing is not None
    try:
        landing(pending)
    except Exception:  # the engine's own code: a bug, but later steps must still land
        logger("executors").exception("recording a Dask step's outcome failed")
