"""An orchestrator's Qt signals, as subscribers of its event stream.

Each event kind is mapped once to the bound signals it is emitted on (more than one when the
orchestrator also has QtForge's header name for it), and each signal name to its kind. A kind
is subscribed to when its first signal gets its first connection (``connectNotify``), so the
engine builds no event for a signal nobody has connected. A kind stays subscribed after a
disconnect: Qt calls ``disconnectNotify`` with its connection lock held, so re-checking there
could deadlock. Too many events, never too few; the price is that a slot connected after an
execution started misses the step events posted before it connected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .._engine import Engine, SignalNames
from ..events import EventKind, ExecutionEvent, Subscription


class SignalRelay:
    """Emits the stream's events on the orchestrator's signals, in the owner thread."""

    def __init__(self, orchestrator: Any, names: SignalNames, engine: Engine) -> None:
        by_kind = names.by_kind()
        # The emit functions of bound signal instances, which do not keep the orchestrator
        # alive (no reference cycle).
        self._emitters: dict[EventKind, tuple[Callable[..., None], ...]] = {
            kind: (getattr(orchestrator, name).emit,) for kind, name in by_kind.items()
        }
        self._kinds: dict[str, EventKind] = {name: kind for kind, name in by_kind.items()}
        self._pump = engine.pump
        self._subscribed: dict[EventKind, Subscription] = {}
        self._lock = threading.Lock()  # connectNotify may run in any thread

    def add_alias(self, orchestrator: Any, name: str, alias: str) -> None:
        """Also emit the event behind signal ``name`` on signal ``alias``, right after it."""
        kind = self._kinds[name]
        self._emitters[kind] = (*self._emitters[kind], getattr(orchestrator, alias).emit)
        self._kinds[alias] = kind

    def connected(self, name: str) -> None:
        """The signal ``name`` got a connection: its kind's events are wanted from now on."""
        kind = self._kinds.get(name)
        if kind is None:
            return
        with self._lock:
            if kind not in self._subscribed:
                # Held strongly: this relay refers to no orchestrator, only to emit functions.
                self._subscribed[kind] = self._pump.subscribe(self._emit, (kind,), weak=False)

    def _emit(self, event: ExecutionEvent) -> None:
        for emit in self._emitters[event.kind]:
            emit(*event.args)
