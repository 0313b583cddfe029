"""Replay of already-emitted signals to a late first connection.

A ``WorkflowExecution`` is returned while its execution already runs; an application that
connects a slot a little later (after building a widget, say) must still see what happened.
Qt cannot emit to one connection, so the rule is: when a signal gets its **first** receiver
while it has history, everything it emitted so far is re-emitted, in the original order
across signals, from a zero-delay timer in the owner thread. Slots connected before that timer
fires share the one replay. Until it fires, new emissions of that signal are held back (they
are in the history the replay sends), so a late slot sees a gap-free, in-order stream. A
second slot connected when the signal already has one gets no replay (the first would see
duplicates); it reads ``snapshot()`` instead.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from PySide6.QtCore import QMetaMethod, QObject, QThread, QTimer

#: How many events a handle keeps for replay (an EventDriven execution can run forever);
#: ``snapshot()`` stays exact when older events have been dropped from the replay history.
REPLAY_LIMIT = 20_000


class ReplayingObject(QObject):
    """Base of objects whose signals listed in ``_REPLAYED`` / ``_LATEST_ONLY`` replay."""

    #: Signals whose every emission is replayed.
    _REPLAYED: frozenset[str] = frozenset()
    #: Signals of which only the latest emission is replayed (progress-like values).
    _LATEST_ONLY: frozenset[str] = frozenset()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._seq = itertools.count()
        self._history: deque[tuple[int, str, tuple[Any, ...]]] = deque(maxlen=REPLAY_LIMIT)
        self._latest: dict[str, tuple[int, str, tuple[Any, ...]]] = {}
        self._receivers: dict[str, int] = {}
        self._pending: set[str] = set()
        self._replay_timer = QTimer(self)  # a child: it cannot fire into a deleted handle
        self._replay_timer.setSingleShot(True)
        self._replay_timer.setInterval(0)
        self._replay_timer.timeout.connect(self._replay)

    def _emit(self, name: str, *args: Any) -> None:
        """Record an emission for replay, then emit it unless a replay of it is pending."""
        entry = (next(self._seq), name, args)
        if name in self._LATEST_ONLY:
            self._latest[name] = entry
        else:
            self._history.append(entry)
        # Not emitted without a connection: an emit lets other threads take the GIL even
        # then, and a burst of engine signals is thousands of emits in the GUI thread.
        try:
            if name not in self._pending and self.isSignalConnected(_signal_method(self, name)):
                getattr(self, name).emit(*args)
        except RuntimeError:
            pass  # its C++ object is gone (application shutdown): the state is still kept

    def _reserve(self, count: int) -> int:
        """Set aside ``count`` places in the emission order; returns the first.

        What is recorded later with ``_record_at`` in those places replays before everything
        emitted after this call.
        """
        first = next(self._seq)
        self._seq = itertools.count(first + count)
        return first

    def _record_at(self, seq: int, name: str, *args: Any) -> None:
        """Record an emission for replay at place ``seq`` without emitting it."""
        entry = (seq, name, args)
        if name in self._LATEST_ONLY:
            if name not in self._latest or self._latest[name][0] < seq:
                self._latest[name] = entry
        else:
            self._history.append(entry)

    def _has_history(self, name: str) -> bool:
        if name in self._LATEST_ONLY:
            return name in self._latest
        return any(entry[1] == name for entry in self._history)

    # Qt may call these with an internal mutex held: only Python bookkeeping and a timer
    # start (a different object) happen here, never an emit.
    def connectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: a new connection to a replayed signal gets its history replayed."""
        name = bytes(signal.name().data()).decode()
        if name not in self._REPLAYED and name not in self._LATEST_ONLY:
            return
        count = self._receivers.get(name, 0) + 1
        self._receivers[name] = count
        if count != 1 or QThread.currentThread() != self.thread():
            return  # documented: replay is for the first, owner-thread connection
        if self._has_history(name):
            self._pending.add(name)
            self._replay_timer.start()

    def disconnectNotify(self, signal: QMetaMethod) -> None:
        """Qt override: keeps the count of connected receivers per replayed signal."""
        name = bytes(signal.name().data()).decode()
        if name in self._receivers:
            self._receivers[name] = max(0, self._receivers[name] - 1)

    def _replay(self) -> None:
        names, self._pending = self._pending, set()
        entries = [e for e in self._history if e[1] in names]
        entries += [e for e in self._latest.values() if e[1] in names]
        entries.sort(key=lambda e: e[0])
        for _, name, args in entries:
            getattr(self, name).emit(*args)


_SIGNALS: dict[tuple[type, str], QMetaMethod] = {}


def _signal_method(source: QObject, name: str) -> QMetaMethod:
    """The QMetaMethod of ``source``'s signal ``name`` (cached per class)."""
    key = (type(source), name)
    method = _SIGNALS.get(key)
    if method is None:
        method = _SIGNALS[key] = QMetaMethod.fromSignal(getattr(source, name))
    return method
