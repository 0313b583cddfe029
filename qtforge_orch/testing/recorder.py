"""``SignalRecorder``: every signal of an orchestrator, in order, with the thread it arrived in.

It is the test-side check of the signal contract both orchestrators share: per execution,
``workflow_started`` first, then step/node signals, then exactly one of
``workflow_completed``, ``workflow_failed``, ``workflow_cancelled``, and nothing after; every
one of them emitted in the orchestrator's own thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEventLoop, QMetaMethod, QObject, QThread, QTimer

if TYPE_CHECKING:
    from ..orchestration.advanced.plugin_orchestrator_v2 import AdvancedPluginOrchestrator
    from ..orchestration.plugin_orchestrator import PluginOrchestrator

    Orchestrator = PluginOrchestrator | AdvancedPluginOrchestrator

TERMINAL_SIGNALS = frozenset({"workflow_completed", "workflow_failed", "workflow_cancelled"})
HEADER_ALIASES = frozenset(
    {
        "workflow_execution_started",
        "workflow_execution_completed",
        "workflow_execution_failed",
        "workflow_execution_cancelled",
        "node_execution_completed",
    }
)
"""Exactly one of these ends every execution."""


@dataclass(frozen=True)
class Emission:
    """One recorded signal: its name, its arguments, and where it was delivered."""

    name: str
    args: tuple[Any, ...]
    thread_id: int
    """``threading.get_ident()`` of the thread the slot ran in."""
    in_owner_thread: bool
    """Whether that was the orchestrator's thread (the contract says it always is)."""
    source: Any = field(default=None, compare=False, repr=False)
    """The orchestrator that emitted it (a recorder can record several)."""

    @property
    def execution_id(self) -> str | None:
        """Every orchestrator signal carries the execution id first."""
        first = self.args[0] if self.args else None
        return first if isinstance(first, str) else None

    @property
    def terminal(self) -> bool:
        """True for ``workflow_completed``, ``workflow_failed`` and ``workflow_cancelled``."""
        return self.name in TERMINAL_SIGNALS


def signal_names(orchestrator: QObject) -> list[str]:
    """The signals the orchestrator's class declares (QObject's own are left out)."""
    meta = orchestrator.metaObject()
    # QObject's own signals (destroyed, objectNameChanged) come first; skip past them.
    base = meta
    while base.superClass() is not None and base.className() != "QObject":
        base = base.superClass()
    first = base.methodCount()
    names: list[str] = []
    for index in range(first, meta.methodCount()):
        method = meta.method(index)
        if method.methodType() == QMetaMethod.MethodType.Signal:
            name = bytes(method.name().data()).decode()
            if name not in names:
                names.append(name)
    return names


class SignalRecorder:
    """Records every signal of a ``PluginOrchestrator`` or ``AdvancedPluginOrchestrator``.

    Give it several orchestrators to record them all in one list (execution ids never repeat
    across orchestrators, so the per-execution methods work unchanged).

    Create it before starting the executions it should see: an orchestrator does not build the
    events of step/node signals nobody listens to, so a recorder connected later misses what
    was already posted. Use it from the orchestrators' thread (the test's main thread).
    ``close()`` (or leaving a ``with`` block) disconnects it.
    """

    def __init__(self, orchestrator: Orchestrator, *more: Orchestrator) -> None:
        """Connect to every signal ``orchestrator`` (and each of ``more``) declares."""
        self.orchestrator = orchestrator
        """The first orchestrator recorded."""
        self.orchestrators: tuple[Orchestrator, ...] = (orchestrator, *more)
        """Every orchestrator recorded."""
        self.emissions: list[Emission] = []
        """Everything recorded so far, in delivery order."""
        self._lock = threading.Lock()
        # First terminal signal per execution: waiters poll it on every emission, and a scan
        # of the whole record there would make long runs quadratic.
        self._terminals: dict[str, Emission] = {}
        # Waiters (execution id, predicate, loop) are woken from the slots, so a wait ends
        # as soon as the signal it needs has been delivered instead of at a polling tick.
        self._loops: list[tuple[Callable[[], bool], QEventLoop]] = []
        self._connections: list[Any] = []
        for source in self.orchestrators:
            for name in signal_names(source):
                if name in HEADER_ALIASES:
                    continue  # duplicates of the reference's signals, emitted right after them
                signal = getattr(source, name)
                self._connections.append(signal.connect(self._slot_for(name, source)))

    def _slot_for(self, name: str, owner: Orchestrator) -> Callable[..., None]:
        def record(*args: Any) -> None:
            emission = Emission(
                name,
                tuple(args),
                threading.get_ident(),
                QThread.currentThread() == owner.thread(),
                owner,
            )
            with self._lock:
                self.emissions.append(emission)
                if emission.terminal and emission.execution_id is not None:
                    self._terminals.setdefault(emission.execution_id, emission)
            for done, loop in list(self._loops):
                if done():
                    loop.quit()

        return record

    # --- reading -----------------------------------------------------------------------
    def snapshot(self) -> list[Emission]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self.emissions)

    def signals(self, name: str) -> list[tuple[Any, ...]]:
        """The arguments of every recorded ``name`` signal, in order."""
        return [e.args for e in self.snapshot() if e.name == name]

    def for_execution(self, execution_id: str) -> list[Emission]:
        """The signals of one execution, in delivery order."""
        return [e for e in self.snapshot() if e.execution_id == execution_id]

    def names(self, execution_id: str) -> list[str]:
        """The names of one execution's signals, in delivery order."""
        return [e.name for e in self.for_execution(execution_id)]

    def terminal(self, execution_id: str) -> Emission | None:
        """The execution's first terminal signal, or None while it has none."""
        with self._lock:
            return self._terminals.get(execution_id)

    # --- checking ----------------------------------------------------------------------
    def assert_causal_order(self, execution_id: str) -> list[Emission]:
        """Assert the signal contract for one execution and return its signals.

        ``workflow_started`` first; then only step/node, progress, pause and resume signals;
        exactly one terminal signal, last; every signal delivered in the orchestrator's
        thread. Call it once the execution has ended (see ``wait_for_terminal``), or after
        ``settle`` to also rule out late signals.
        """
        emissions = self.for_execution(execution_id)
        names = [e.name for e in emissions]
        assert emissions, f"no signal was recorded for execution {execution_id!r}"
        assert names[0] == "workflow_started", (
            f"{execution_id}: the first signal is {names[0]}, not workflow_started: {names}"
        )
        assert names.count("workflow_started") == 1, f"{execution_id}: started twice: {names}"
        terminals = [e.name for e in emissions if e.terminal]
        assert len(terminals) == 1, (
            f"{execution_id}: expected exactly one terminal signal, got {terminals}: {names}"
        )
        assert emissions[-1].terminal, (
            f"{execution_id}: signals after {terminals[0]}: "
            f"{names[names.index(terminals[0]) + 1 :]}"
        )
        elsewhere = [e.name for e in emissions if not e.in_owner_thread]
        assert not elsewhere, (
            f"{execution_id}: delivered outside the orchestrator's thread: {elsewhere}"
        )
        return emissions

    # --- waiting -----------------------------------------------------------------------
    def wait_for(self, done: Callable[[], bool], timeout_ms: int = 5000) -> bool:
        """Run a local Qt event loop until ``done()`` is true or ``timeout_ms`` passes.

        Signals reach slots through the event loop of the orchestrator's thread, so waiting
        here (rather than sleeping) is what lets them arrive. Returns ``done()``.
        """
        if done():
            return True
        loop = QEventLoop()
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        # A slot that runs in another event loop (a nested wait, a dialog) can satisfy the
        # predicate without this loop seeing it; a slow tick rechecks.
        tick = QTimer()
        tick.setInterval(50)
        tick.timeout.connect(lambda: loop.quit() if done() else None)
        entry = (done, loop)
        self._loops.append(entry)
        try:
            end = time.monotonic() + timeout_ms / 1000.0
            while not done():
                remaining = int((end - time.monotonic()) * 1000)
                if remaining <= 0:
                    break
                deadline.start(remaining)
                tick.start()
                loop.exec()
        finally:
            self._loops.remove(entry)
            deadline.stop()
            tick.stop()
        return done()

    def wait_for_terminal(self, execution_id: str, timeout_ms: int = 5000) -> Emission:
        """Process events until the execution's terminal signal was delivered; return it.

        Raises ``TimeoutError`` if it did not arrive within ``timeout_ms``.
        """
        if not self.wait_for(lambda: self.terminal(execution_id) is not None, timeout_ms):
            raise TimeoutError(
                f"no terminal signal for {execution_id!r} within {timeout_ms} ms; "
                f"recorded: {self.names(execution_id)}"
            )
        terminal = self.terminal(execution_id)
        assert terminal is not None
        return terminal

    def settle(self, execution_id: str, timeout_ms: int = 5000) -> list[Emission]:
        """Wait for the terminal signal, then make sure nothing can still arrive.

        Joins the orchestrator's worker threads (its ``thread_pool()``) and then delivers
        every signal they posted (``wait_for_execution`` on an ended execution does that in
        the orchestrator's thread). After it, the recorded signals of this execution are
        final: a late or duplicate signal would be in the list. This replaces "wait a bit and
        check nothing else arrived". The pool must go idle, so other executions that keep
        running (EventDriven) make it wait until ``timeout_ms``; it raises ``TimeoutError``
        then. Returns the execution's signals.
        """
        start = time.monotonic()
        terminal = self.wait_for_terminal(execution_id, timeout_ms)
        owner = terminal.source if terminal.source is not None else self.orchestrator
        remaining = max(0, timeout_ms - int((time.monotonic() - start) * 1000))
        if not owner.thread_pool().waitForDone(remaining):
            raise TimeoutError(f"worker threads were still busy after {timeout_ms} ms")
        ended = owner.wait_for_execution(execution_id, timeout_ms)
        assert ended, f"execution {execution_id!r} did not end"
        return self.for_execution(execution_id)

    # --- lifetime ----------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect from the orchestrator (idempotent)."""
        connections, self._connections = self._connections, []
        for connection in connections:
            QObject.disconnect(connection)

    def __enter__(self) -> SignalRecorder:
        """``with SignalRecorder(orch) as recorder:`` disconnects at the end of the block."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Disconnect (see ``close``)."""
        self.close()

    def __repr__(self) -> str:
        return f"SignalRecorder({len(self.snapshot())} signals)"
