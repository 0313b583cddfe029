"""The Dask executor: steps become futures on a ``distributed`` cluster.

The cluster is the user's (``dask_address``: a scheduler address such as
``tcp://scheduler:8786``, deployed by hand, dask-kubernetes or dask-jobqueue) or, when none is
given, a ``LocalCluster`` on 127.0.0.1 started on first use and closed with the orchestrator.
``distributed`` is imported here only, on the first Dask step.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any

from ..._log import logger
from ...contract.context import StepContext
from ...contract.outcome import Outcome
from ...contract.plan import TaskSpec
from ..invoke import PluginLookup
from .dask_local import LocalClusterHost
from .gather import Gatherer, Pending
from .protocol import POLL_S, ExitShutdown, Landing, cancelled, failed, from_reply
from .remote import run_remote
from .shipping import Shipper

DEFAULT_LOCAL_WORKERS = 2

# Registered after distributed is imported, so it runs before concurrent.futures' own
# threading-exit hooks: clients close while the callback threads that report their cancelled
# futures still accept work.
_at_exit = ExitShutdown(5.0)


_frozen = False


class ClientClosed(Exception):
    """A parked step's future never reported: the executor closed its client first."""


def _freeze_heap_once() -> None:
    """Move everything alive now (distributed's ~130,000 module-level objects among them)
    out of the cyclic collector's reach, once per process. Every gen-2 collection walks the
    whole tracked heap and stops the GUI thread meanwhile: 80-130 ms with distributed loaded,
    under 16 ms after this. Objects frozen here are still freed by reference counting;
    only cycles among them would stay until ``gc.unfreeze()``. Set QTFORGE_ORCH_GC_FREEZE=0
    to keep the collector as it is."""
    global _frozen
    if _frozen or os.environ.get("QTFORGE_ORCH_GC_FREEZE", "1") == "0":
        return
    _frozen = True
    gc.collect()
    gc.freeze()


# The interpreter's GIL switch interval once a Dask client runs in the process (seconds).
DASK_SWITCH_INTERVAL_S = 0.001


def _shorten_switch_interval() -> None:
    """Lower the interpreter's switch interval to 1 ms (never raise it). The client's threads
    (its event loop, its callbacks) run Python for long stretches and keep the GIL for whole
    switch intervals: with the default 5 ms, a GUI thread that wants it waits that long behind
    each of them in turn, and its frames arrive late. QTFORGE_ORCH_SWITCH_INTERVAL sets another
    value in seconds, or ``keep`` leaves the interpreter's as it is."""
    wanted = os.environ.get("QTFORGE_ORCH_SWITCH_INTERVAL", "")
    if wanted == "keep":
        return
    try:
        interval = float(wanted) if wanted else DASK_SWITCH_INTERVAL_S
    except ValueError:
        logger("executors").warning(
            "QTFORGE_ORCH_SWITCH_INTERVAL=%r is not a number of seconds or 'keep'; using %s",
            wanted,
            DASK_SWITCH_INTERVAL_S,
        )
        interval = DASK_SWITCH_INTERVAL_S
    if 0 < interval < sys.getswitchinterval():
        logger("executors").info(
            "GIL switch interval %s -> %s s", sys.getswitchinterval(), interval
        )
        sys.setswitchinterval(interval)


def _cloudpickle_dumps(obj: Any) -> bytes:
    # cloudpickle (a dependency of distributed) also ships functions defined in a script's
    # __main__, which a remote worker could not import by name.
    import cloudpickle

    data: bytes = cloudpickle.dumps(obj)
    return data


class DaskExecutor:
    """Submits each step with ``client.submit(pure=False)``; ``call`` waits for its future,
    ``start`` parks the step until the gatherer has its result (``ParkingExecutor``)."""

    name = "dask"

    def __init__(
        self,
        plugins: PluginLookup,
        address: str | None = None,
        *,
        local_workers: int = DEFAULT_LOCAL_WORKERS,
        local_processes: bool = True,
    ) -> None:
        self.address = address
        self._local_workers = local_workers
        self._local_processes = local_processes
        self._shipper = Shipper(plugins, _cloudpickle_dumps, self.name)
        self._lock = threading.Lock()
        self._client: Any = None
        self._cluster: LocalClusterHost | None = None
        self._gatherer: Gatherer | None = None
        _at_exit.track(self)

    def client(self) -> Any:
        """The ``distributed.Client`` (connected, or the local cluster started, on first use)."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
                self._gatherer = Gatherer(self._client)
                _at_exit.install()
            return self._client

    def _connect(self) -> Any:
        import importlib

        # distributed's constructors are untyped: reached through Any, as mypy --strict wants.
        distributed: Any = importlib.import_module("distributed")
        address = self.address
        if not address:
            self._cluster = LocalClusterHost(self._local_workers, self._local_processes)
            address = self._cluster.address
            logger("executors").info(
                "started a local Dask cluster at %s (%d workers)", address, self._local_workers
            )
        import dask

        # The client keeps its last N messages to the scheduler (every step's arguments) for
        # debugging; in a GUI process they are heap that every gen-2 collection walks.
        with dask.config.set({"distributed.admin.low-level-log-length": 0}):
            client = distributed.Client(address, set_as_default=False)
        _freeze_heap_once()
        _shorten_switch_interval()
        return client

    def call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        *,
        allow_stream: bool = False,
    ) -> Outcome:
        submitted = self._submit(task, params, context, allow_stream, None)
        if isinstance(submitted, Outcome):
            return submitted
        future, pending = submitted
        # Woken by the gatherer, not ``future.result(timeout=...)``: distributed's timed
        # result() can fail with UnboundLocalError when many threads poll at once (seen
        # with 32 drainers), and each call is a round trip through the client's loop.
        while not pending.done.wait(POLL_S):
            if context.is_cancelled():
                with contextlib.suppress(Exception):  # a client closed meanwhile
                    future.cancel()
                return cancelled(task)
            if future.client.status in ("closing", "closed"):
                return failed(context, task, self.name, "the Dask client was closed")
        return self._outcome(task, pending, context)

    def start(
        self, task: TaskSpec, params: dict[str, Any], context: StepContext, landing: Landing
    ) -> Outcome | None:
        def land(pending: Pending) -> None:
            landing(self._outcome(task, pending, context))

        submitted = self._submit(task, params, context, False, land)
        if isinstance(submitted, Outcome):
            return submitted
        future, _ = submitted
        gatherer = self._gatherer
        if gatherer is not None:
            context.add_cancel_hook(lambda: gatherer.cancel(future))
        return None

    def _submit(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        context: StepContext,
        allow_stream: bool,
        land: Callable[[Pending], None] | None,
    ) -> tuple[Any, Pending] | Outcome:
        shipped = self._shipper.ship(task.plugin_id)
        if not isinstance(shipped, tuple):
            return Outcome(error=shipped)
        try:
            client = self.client()
            gatherer = self._gatherer
            assert gatherer is not None
            future = client.submit(
                run_remote, *shipped.call_args(task, params, allow_stream), pure=False
            )
            return future, gatherer.watch(future, land)
        except Exception as exc:
            return failed(context, task, self.name, f"could not submit to the cluster: {exc}")

    def _outcome(self, task: TaskSpec, pending: Pending, context: StepContext) -> Outcome:
        from distributed import KilledWorker

        try:
            if pending.error is not None:
                raise pending.error
            reply = pending.reply
        except KilledWorker as exc:
            return failed(context, task, self.name, f"the Dask worker running it was lost ({exc})")
        except CancelledError as exc:
            if context.is_cancelled():
                return cancelled(task)
            return failed(
                context,
                task,
                self.name,
                f"its Dask future was cancelled ({exc}); the scheduler connection "
                "may have been lost",
            )
        except ClientClosed:
            return failed(context, task, self.name, "the Dask client was closed")
        except BaseException as exc:  # outputs that do not pickle, a worker-side crash
            return failed(context, task, self.name, f"{type(exc).__name__}: {exc}")
        return from_reply(task, reply)

    def shutdown(self, timeout: float) -> bool:
        """Close the client, and the local cluster if this executor started it."""
        with self._lock:
            client, self._client = self._client, None
            cluster, self._cluster = self._cluster, None
            gatherer, self._gatherer = self._gatherer, None
        if gatherer is not None:
            gatherer.close()
        ok = True
        if client is not None:
            try:
                client.close(timeout=max(1.0, timeout))
            except Exception:
                logger("executors").warning("closing the Dask client failed", exc_info=True)
                ok = False
        if gatherer is not None:
            gatherer.land_all(ClientClosed())
        if cluster is not None:
            cluster.close(max(1.0, timeout))
        return ok
