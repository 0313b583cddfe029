"""Who follows which events: the event pump's subscriber table, and delivery to one subscriber.

Subscribers of every execution are kept per kind, those of one execution per execution id.
The tuples are replaced under the table's lock (copy on write), so the pump's drain iterates
them without it. ``listened`` is the union of the kinds some subscriber wants: workers read it
without a lock (``kind in``) and it changes in place under the table's lock, so a kind still
wanted is never removed.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Protocol

import shiboken6

from .._log import logger
from ..events import EventKind, Subscriber, Subscription
from ..events import ExecutionEvent as Event


class KindSet(Protocol):
    """The run shell's set of listened kinds, changed in place."""

    def __contains__(self, kind: object) -> bool: ...
    def update(self, *kinds: Iterable[EventKind]) -> None: ...
    def retain(self, wanted: Iterable[EventKind]) -> None: ...


class SubscriberTable:
    """The subscriptions of one pump, safe to change from any thread."""

    def __init__(self, listened: KindSet) -> None:
        self.everywhere: dict[EventKind, tuple[Subscription, ...]] = {}
        self.scoped: dict[str, tuple[Subscription, ...]] = {}
        self.lock = threading.Lock()
        self.listened = listened
        # Executions whose terminal event is posted and not yet delivered: whoever subscribes
        # to one of them still gets its end.
        self.terminals_queued: set[str] = set()
        self.closed = False

    def subscribe(
        self,
        callback: Subscriber,
        kinds: Iterable[EventKind],
        execution_id: str | None,
        weak: bool,
        still_open: Callable[[], bool] | None,
    ) -> Subscription:
        qt_bound = inspect.ismethod(callback) and isinstance(
            callback.__self__, shiboken6.Shiboken.Object
        )
        subscription = Subscription(
            callback, weak, qt_bound, frozenset(kinds), execution_id, self.remove
        )
        with self.lock:
            if self.closed or (still_open is not None and not still_open()):
                subscription._ended()
                return subscription
            if execution_id is None:
                for kind in subscription.kinds:
                    self.everywhere[kind] = (*self.everywhere.get(kind, ()), subscription)
            else:
                self.scoped[execution_id] = (*self.scoped.get(execution_id, ()), subscription)
            self.listened.update(subscription.kinds)
        return subscription

    def wants(self, kind: EventKind, execution_id: str) -> bool:
        if kind in self.everywhere:
            return True
        return any(kind in sub.kinds for sub in self.scoped.get(execution_id, ()))

    def remove(self, subscription: Subscription) -> None:
        with self.lock:
            execution_id = subscription.execution_id
            if execution_id is None:
                for kind in subscription.kinds:
                    kept = tuple(s for s in self.everywhere.get(kind, ()) if s is not subscription)
                    if kept:
                        self.everywhere[kind] = kept
                    else:
                        self.everywhere.pop(kind, None)
            else:
                kept = tuple(s for s in self.scoped.get(execution_id, ()) if s is not subscription)
                if kept:
                    self.scoped[execution_id] = kept
                else:
                    self.scoped.pop(execution_id, None)
            self._refresh_listened()

    def end_execution(self, execution_id: str) -> None:
        """(owner thread) Its terminal event was delivered: its subscriptions end."""
        with self.lock:
            self.terminals_queued.discard(execution_id)
            ended = self.scoped.pop(execution_id, ())
            if ended:
                self._refresh_listened()
        for sub in ended:
            sub._ended()

    def close(self) -> tuple[list[Subscription], dict[str, tuple[Subscription, ...]]]:
        """No more subscriptions: what every execution's and each one's subscribers were."""
        with self.lock:
            self.closed = True
            self.terminals_queued.clear()
            everywhere = [sub for subs in self.everywhere.values() for sub in subs]
            scoped, self.scoped = self.scoped, {}
            self.everywhere.clear()
            self.listened.retain(())
        return everywhere, scoped

    def _refresh_listened(self) -> None:  # the lock held
        wanted = set(self.everywhere)
        for subs in self.scoped.values():
            for sub in subs:
                wanted |= sub.kinds
        self.listened.retain(wanted)


def deliver(sub: Subscription, event: Event) -> None:
    """Deliver one event to one subscription (outside the pump's hot loop)."""
    callback = sub._callback
    if callback is None:
        deliver_weakly(sub, event)
        return
    try:
        callback(event)
    except Exception:
        subscriber_raised(event)


def deliver_weakly(sub: Subscription, event: Event) -> None:
    target = sub._target() if sub._target is not None else None
    function = sub._function
    if target is None or function is None or (sub._qt_bound and not shiboken6.isValid(target)):
        if sub.is_active():  # collected or deleted, not cancelled: drop it
            sub.cancel()
        return
    try:
        function(target, event)
    except Exception:
        subscriber_raised(event)


def subscriber_raised(event: Event) -> None:
    logger("events").exception(
        "a subscriber of execution events raised on %s of execution %s",
        event.kind.name,
        event.execution_id,
    )
