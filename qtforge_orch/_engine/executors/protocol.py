"""The executor seam: what runs one plugin call for a drainer thread.

A ``Run`` drainer calls ``Engine.invoke`` synchronously; for a task whose ``executor`` is not
``"thread"`` the engine hands the call to an ``Executor``, which blocks that drainer until the
remote result is back (or the attempt's context is cancelled) and returns an ``Outcome`` like a
direct call would. Everything after that (recording, signals, retries, rollbacks) is the same
code whichever executor ran the step.

An executor that can also ``start`` a call (``ParkingExecutor``) lets a step attempt wait for
its remote result without a thread: the drainer submits it and moves on, and the executor hands
the ``Outcome`` to a ``Landing`` once it is back. A cluster can then have as many steps in
flight as the run allows while a handful of pool threads do the recording; each blocked thread
would otherwise be woken, and take the GIL, for every result and every poll.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from ..._log import logger
from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ...errors import PluginError, PluginErrorCode

# The call in the calling thread (``PluginRoute.call_here``): what the thread executor does.
CallHere = Callable[..., Outcome]

# How often a drainer waiting on a remote result checks for cancellation. A completed result
# wakes it at once; only a cancel or timeout waits for the next slice.
POLL_S = 0.05


class Executor(Protocol):
    """Runs plugin calls somewhere; ``call`` blocks the calling drainer thread."""

    name: str

    def call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        """Run ``task``'s command with ``params``; return when it ended or ``context`` was
        cancelled (then the remote work is stopped and the outcome is OperationCancelled)."""
        ...

    def shutdown(self, timeout: float) -> bool:
        """Stop the workers (killing what still runs) within ``timeout`` seconds."""
        ...


# Called once with a started call's outcome, from the executor's own thread (never with an
# engine lock held by the caller, never on the timer thread).
Landing = Callable[[Outcome], None]


class ParkingExecutor(Executor, Protocol):
    """An executor whose calls need no thread while they run remotely."""

    def start(
        self, task: TaskSpec, params: dict[str, Any], context: StepContext, landing: Landing
    ) -> Outcome | None:
        """Submit ``task``'s call and return None: ``landing`` gets its outcome later, exactly
        once, also when ``context`` is cancelled (the remote work is then stopped) or the
        executor shuts down first. An outcome returned here (the call could not be submitted)
        is the call's, and ``landing`` is never called."""
        ...


def cancelled(task: TaskSpec) -> Outcome:
    return Outcome(
        error=PluginError(
            PluginErrorCode.OperationCancelled,
            f"step '{task.key}' was cancelled while running remotely",
            plugin_id=task.plugin_id,
        )
    )


# logging.WARNING (``logging`` loads on first use, see ``_log``).
_WARNING = 30


def failed(context: StepContext, task: TaskSpec, executor: str, message: str) -> Outcome:
    """An infrastructure failure (a worker died, a scheduler was lost): an ordinary step
    failure, so the step's retry policy applies. Logged at WARNING (``qtforge_orch.executors``):
    the step's own failure record does not say that the executor, not the plugin, failed."""
    log = logger("executors")
    if log.isEnabledFor(_WARNING):
        log.warning(
            "the %s executor could not run step %s of execution %s: %s",
            executor,
            task.key,
            context.execution_id,
            message,
            extra={
                "execution_id": context.execution_id,
                "step_id": task.key,
                "executor": executor,
                "attempt": context.attempt,
            },
        )
    return Outcome(
        error=PluginError(
            PluginErrorCode.ExecutionFailed,
            f"step '{task.key}' (plugin '{task.plugin_id}') on the {executor} executor: {message}",
            details=executor,
            plugin_id=task.plugin_id,
        )
    )


def from_reply(task: TaskSpec, reply: tuple[Any, ...]) -> Outcome:
    """Turn ``remote.run_remote``'s plain tuple back into an ``Outcome``: an error keeps the
    worker's traceback (``details``, ``context``) and the exception, when it pickled."""
    if reply[0] == "ok":
        return Outcome(reply[1])
    _, code, message, details, context, pickled = reply
    try:
        error_code = PluginErrorCode(code)
    except ValueError:
        error_code = PluginErrorCode.ExecutionFailed
    exception = None
    if pickled is not None:
        import pickle  # only a remote failure needs it: a cold start does without

        try:
            exception = pickle.loads(pickled)
        except Exception:  # a class this process cannot import: the text fields remain
            exception = None
    error = PluginError(
        error_code,
        message,
        details=details,
        plugin_id=task.plugin_id,
        context=context,
        exception=exception if isinstance(exception, BaseException) else None,
    )
    error.__cause__ = error.exception
    return Outcome(error=error)


def proxy(
    executor: Executor, task: TaskSpec, context: StepContext
) -> Callable[[dict[str, Any]], Any]:
    """A streaming stage's per-item callable that runs each item on ``executor``: returns the
    item's result, raises its error (the stage counts it as a failed item)."""

    def call(params: dict[str, Any]) -> Any:
        outcome = executor.call(task, params, context, allow_stream=True)
        if outcome.error is not None:
            raise outcome.error
        return outcome.output

    return call


class ExitShutdown:
    """The live executors of one kind, shut down by one interpreter-exit hook.

    The hook goes through ``threading._register_atexit``: those hooks run newest first and
    before concurrent.futures joins its pools (which would wait for a stuck plugin), so an
    executor kind installs it (``install``) once the libraries it uses are imported.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._installed = False

    def track(self, executor: Any) -> None:
        """Shut ``executor`` down at exit if it is still alive then."""
        self._live.add(executor)

    def install(self) -> None:
        """Register the exit hook (once)."""
        with self._lock:
            if not self._installed:
                threading._register_atexit(self._run)  # type: ignore[attr-defined]
                self._installed = True

    def _run(self) -> None:
        for executor in list(self._live):
            executor.shutdown(self._timeout_s)
