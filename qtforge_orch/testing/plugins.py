"""Ready fake plugins for tests: a recording function plugin, flaky, slow, hanging, streaming.

Each fake is a ``FunctionPlugin`` (register it with a ``PluginManager``) whose one command
(``execute`` by default, what v2 nodes call; pass ``command="run"`` for a v1 step's method)
is the fake object itself, so a fake can also be handed to another plugin as a command:
``FunctionPlugin("loader", load=hanging)``. Either way every call is recorded in ``calls``.
All of them are safe to call from several worker threads at once, and none sleeps as a means
of synchronisation: the ones that wait do so through ``StepContext`` or an event a test sets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..contract.context import StepContext
from ..errors import PluginError, PluginErrorCode
from ..plugins import FunctionPlugin
from ..plugins.interface import accepts_context
from ..results import Expected, make_error

Output = Mapping[str, Any] | Callable[[dict[str, Any]], dict[str, Any]] | None
"""What a fake returns on success: a dict (copied per call), or a function of the params."""

# How often a HangingPlugin looks at its context while it waits for ``release``: short enough
# that a cancel is noticed at once by human standards, long enough to cost nothing.
_HANG_POLL_S = 0.005


@dataclass(frozen=True)
class PluginCall:
    """One call of a fake: command, a copy of its params, the thread and the attempt."""

    command: str
    params: dict[str, Any]
    thread_id: int
    attempt: int | None
    """``StepContext.attempt`` (1 for the first), None when called without a context."""


class CallLog:
    """A thread-safe, ordered record of calls."""

    def __init__(self) -> None:
        """Start empty."""
        self._calls: list[PluginCall] = []
        self._lock = threading.Lock()

    def add(self, command: str, params: dict[str, Any], context: StepContext | None) -> int:
        """Record a call; returns its 1-based number."""
        call = PluginCall(
            command,
            dict(params),
            threading.get_ident(),
            None if context is None else context.attempt,
        )
        with self._lock:
            self._calls.append(call)
            return len(self._calls)

    def snapshot(self) -> list[PluginCall]:
        """A copy of the calls so far, in order."""
        with self._lock:
            return list(self._calls)

    def names(self) -> list[str]:
        """The command of each call, in order."""
        return [c.command for c in self.snapshot()]

    def params(self) -> list[dict[str, Any]]:
        """The params of each call, in order."""
        return [c.params for c in self.snapshot()]

    def threads(self) -> set[int]:
        """The distinct threads the calls ran in."""
        return {c.thread_id for c in self.snapshot()}

    def __len__(self) -> int:
        """How many calls were recorded."""
        with self._lock:
            return len(self._calls)

    def __repr__(self) -> str:
        return f"CallLog({self.names()!r})"


def _output(output: Output, params: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    if output is None:
        return default
    if callable(output):
        return output(params)
    return dict(output)


class RecordingPlugin(FunctionPlugin):
    """A ``FunctionPlugin`` that records every call of every command in ``calls``."""

    def __init__(
        self,
        plugin_id: str,
        commands: Mapping[str, Callable[..., Any]] | None = None,
        /,
        **command_functions: Callable[..., Any],
    ) -> None:
        """Same arguments as ``FunctionPlugin``; commands added later are recorded too."""
        self.calls = CallLog()
        super().__init__(plugin_id, {**(commands or {}), **command_functions})

    @property
    def call_count(self) -> int:
        """How many calls were recorded, over all commands."""
        return len(self.calls)

    def add_command(self, name: str, fn: Callable[..., Any]) -> None:
        """Add or replace a command, wrapped so its calls are recorded."""
        super().add_command(name, fn)  # FunctionPlugin's checks, against the real callable
        log = self.calls
        wants_context = accepts_context(fn)

        # Always take the context: it is how the log learns the attempt number.
        def recorded(params: dict[str, Any], context: StepContext | None = None) -> Any:
            log.add(name, params, context)
            return fn(params, context=context) if wants_context else fn(params)

        super().add_command(name, recorded)


def function_plugin(plugin_id: str, /, **commands: Callable[..., Any]) -> RecordingPlugin:
    """A plugin from plain callables that records its calls.

    ``function_plugin("math", double=lambda p: {"x": p["x"] * 2})`` offers ``double``;
    ``plugin.calls.names()`` lists the commands called, in order. A callable may declare a
    ``context`` parameter to receive the ``StepContext``.
    """
    return RecordingPlugin(plugin_id, commands)


class _Fake(FunctionPlugin):
    """A plugin with one command that is the object itself (see the module docstring)."""

    def __init__(self, plugin_id: str, command: str) -> None:
        self.calls = CallLog()
        super().__init__(plugin_id, {command: self})
        self._command = command

    @property
    def call_count(self) -> int:
        """How many times the command was called."""
        return len(self.calls)

    def __call__(self, params: dict[str, Any], context: StepContext | None = None) -> Any:
        """Run the fake's command (what the orchestrator calls).

        Returns a dict, an error ``Expected``, or (for a source) an iterator.
        """
        number = self.calls.add(self._command, params, context)
        return self._run(number, params, context)

    def _run(self, number: int, params: dict[str, Any], context: StepContext | None) -> Any:
        raise NotImplementedError


class FlakyPlugin(_Fake):
    """Fails its first ``failures`` calls, then succeeds.

    With ``error=None`` a failing call raises ``RuntimeError("flaky failure <n>")`` (a plugin
    bug: the step fails with ExecutionFailed); with a ``PluginErrorCode`` it returns that
    error instead (the step fails with that code). A success returns ``output`` or
    ``{"calls": <n>}``.
    """

    def __init__(
        self,
        plugin_id: str = "flaky",
        failures: int = 1,
        *,
        error: PluginErrorCode | None = None,
        output: Output = None,
        command: str = "execute",
    ) -> None:
        """A plugin ``plugin_id`` whose ``command`` fails ``failures`` times."""
        super().__init__(plugin_id, command)
        self.failures = failures
        self.error = error
        self.output = output

    def _run(
        self, number: int, params: dict[str, Any], context: StepContext | None
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        if number <= self.failures:
            message = f"flaky failure {number}"
            if self.error is None:
                raise RuntimeError(message)
            return make_error(self.error, message, plugin_id=self.id())
        return _output(self.output, params, {"calls": number})


class SlowPlugin(_Fake):
    """Takes ``seconds`` per call, waiting cooperatively: a cancel or timeout ends the wait.

    It waits through ``StepContext.wait`` (real time: a fake clock does not shorten it), and
    raises ``OperationCancelled`` when the wait was cut short. ``max_active`` is the highest
    number of calls that overlapped, for concurrency checks. Returns ``output`` or
    ``{"slept": seconds}``.
    """

    def __init__(
        self,
        plugin_id: str = "slow",
        seconds: float = 0.05,
        *,
        output: Output = None,
        command: str = "execute",
    ) -> None:
        """A plugin ``plugin_id`` whose ``command`` takes ``seconds``."""
        super().__init__(plugin_id, command)
        self.seconds = seconds
        self.output = output
        self.active = 0
        self.max_active = 0
        self.finished = 0
        self._lock = threading.Lock()

    def _run(
        self, number: int, params: dict[str, Any], context: StepContext | None
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            # Without a context (called directly) there is nothing to cancel it.
            stopped = (
                context.wait(self.seconds)
                if context is not None
                else threading.Event().wait(self.seconds)
            )
            if stopped:
                raise PluginError(
                    PluginErrorCode.OperationCancelled, f"{self.id()}: cancelled while slow"
                )
        finally:
            with self._lock:
                self.active -= 1
        with self._lock:
            self.finished += 1
        return _output(self.output, params, {"slept": self.seconds})


class HangingPlugin(_Fake):
    """Blocks until ``release()`` or until its attempt is cancelled (or timed out).

    ``entered`` is set when a call starts waiting, ``cancelled`` when a call saw its context
    cancelled. A cancelled call raises ``OperationCancelled``, unless ``ignore_cancel`` is
    set: then it keeps blocking until released, like a plugin that ignores its context (the
    test must ``release()`` it before the orchestrator's shutdown, or the shutdown cannot join
    the thread). Returns ``output`` or ``{"released": True}``.
    """

    def __init__(
        self,
        plugin_id: str = "hanging",
        *,
        output: Output = None,
        command: str = "execute",
        ignore_cancel: bool = False,
    ) -> None:
        """A plugin ``plugin_id`` whose ``command`` hangs until released."""
        super().__init__(plugin_id, command)
        self.output = output
        self.ignore_cancel = ignore_cancel
        self.entered = threading.Event()
        self.released = threading.Event()
        self.cancelled = threading.Event()

    def release(self) -> None:
        """Let every current and future call return."""
        self.released.set()

    def _run(
        self, number: int, params: dict[str, Any], context: StepContext | None
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        self.entered.set()
        while not self.released.wait(_HANG_POLL_S):
            if context is not None and context.is_cancelled():
                self.cancelled.set()
                if not self.ignore_cancel:
                    context.check_cancelled()
        return _output(self.output, params, {"released": True})


class StreamingSource(_Fake):
    """A Streaming source: each call returns an iterator over ``count`` items.

    Item ``i`` is ``item(i)``, or ``i`` itself. With ``delay_s`` it waits that long before
    each item through ``StepContext.wait`` and stops early when cancelled. ``yielded`` counts
    the items handed out over all calls; ``exhausted`` is set when an iterator ran to its end.
    """

    def __init__(
        self,
        plugin_id: str = "source",
        count: int = 10,
        *,
        delay_s: float = 0.0,
        item: Callable[[int], Any] | None = None,
        command: str = "execute",
    ) -> None:
        """A source ``plugin_id`` whose ``command`` yields ``count`` items."""
        super().__init__(plugin_id, command)
        self.count = count
        self.delay_s = delay_s
        self.item = item
        self.yielded = 0
        self.exhausted = threading.Event()
        self._lock = threading.Lock()

    def _run(
        self, number: int, params: dict[str, Any], context: StepContext | None
    ) -> Iterator[Any]:
        return self._items(context)

    def _items(self, context: StepContext | None) -> Iterator[Any]:
        for i in range(self.count):
            if self.delay_s > 0 and context is not None and context.wait(self.delay_s):
                return  # cancelled: end the stream quietly, the run is ending anyway
            if context is not None and context.is_cancelled():
                return
            with self._lock:
                self.yielded += 1
            yield self.item(i) if self.item is not None else i
        self.exhausted.set()
