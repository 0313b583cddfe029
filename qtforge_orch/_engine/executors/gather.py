"""Collecting Dask results in batches: one ``client.gather`` for every future that finished
since the last one, instead of one scheduler round trip per step.

Drainers block on a ``Pending`` each; a future's done-callback queues it, and one thread per
client fetches whatever has queued up. This is the same call ``client.gather(futures)`` a user
would make for a batch of futures: no protocol of our own.
"""

from __future__ import annotations

import queue
import threading
from typing import Any


class Pending:
    """One submitted step: ``done`` is set once ``reply`` or ``error`` is filled in."""

    __slots__ = ("done", "error", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Any = None
        self.error: BaseException | None = None


class Gatherer:
    """Fetches the results of finished Dask futures for the drainers waiting on them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._queue: queue.SimpleQueue[tuple[Any, Pending] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="qtforge-dask-gather", daemon=True)
        self._thread.start()

    def watch(self, future: Any) -> Pending:
        pending = Pending()
        # Runs in distributed's callback thread when the future finishes, errs or is
        # cancelled (a lost scheduler cancels every future): all of them end up here.
        future.add_done_callback(lambda done: self._queue.put((done, pending)))
        return pending

    def close(self) -> None:
        self._queue.put(None)

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

    def _deliver(self, batch: list[tuple[Any, Pending]]) -> None:
        finished = [(future, pending) for future, pending in batch if future.status == "finished"]
        for future, pending in batch:
            if future.status != "finished":
                _settle_one(future, pending)  # erred or cancelled: result() raises why
        if not finished:
            return
        try:
            replies = self._client.gather([future for future, _ in finished])
        except BaseException:
            # One of them lost its data meanwhile (a worker died after finishing): fetch
            # them one by one so only that one fails.
            for future, pending in finished:
                _settle_one(future, pending)
            return
        for (_, pending), reply in zip(finished, replies, strict=True):
            pending.reply = reply
            pending.done.set()


def _settle_one(future: Any, pending: Pending) -> None:
    try:
        pending.reply = future.result()
    except BaseException as exc:
        pending.error = exc
    pending.done.set()
