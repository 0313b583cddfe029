"""The on-demand local Dask cluster, hosted in a helper process.

A ``LocalCluster``'s scheduler runs in the process that creates it. In a GUI process that
scheduler's per-task bookkeeping competes with the GUI thread for the GIL, and its logs and
task states grow the heap every gen-2 collection walks (both showed as 100 ms+ timer gaps
in the GUI thread). So the cluster is created in a spawned helper process (127.0.0.1 only),
at a lower CPU priority, and this process runs just the ``Client``. The helper closes its
cluster when told to, or when this process goes away (its end of the pipe closes).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import Any

START_TIMEOUT_S = 60.0
# How much lower the local cluster's CPU priority is than the application's (``os.nice``).
LOCAL_CLUSTER_NICENESS = 10


def _host(conn: Connection, workers: int, processes: bool) -> None:
    """The helper's main: start the cluster, report its address, wait for the end."""
    if hasattr(os, "setpgrp"):
        # A process group of its own, which its nannies and workers join: a helper that
        # has to be killed takes all of them along (LocalClusterHost.close).
        os.setpgrp()
    _lower_priority()
    import dask
    from distributed import LocalCluster

    try:
        # A worker lost mid-step fails the step at once (KilledWorker) and the step's retry
        # policy decides, instead of the scheduler silently re-running it.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                host="127.0.0.1",
                n_workers=workers,
                processes=processes,
                dashboard_address=None,
            )
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", cluster.scheduler_address))
    with suppress(EOFError, OSError):
        conn.recv()  # "close", or EOF when the parent is gone
    with suppress(Exception):
        cluster.close(timeout=10)


def _lower_priority() -> None:
    """The cluster (its scheduler, nannies and workers, which inherit it) runs at a lower CPU
    priority than the application, so that when both want a core, the GUI thread gets it: on
    a desktop the steps are background work, its frames are not. QTFORGE_ORCH_CLUSTER_NICE
    sets another increment (0: the application's own priority)."""
    wanted = os.environ.get("QTFORGE_ORCH_CLUSTER_NICE", "")
    try:
        increment = int(wanted) if wanted else LOCAL_CLUSTER_NICENESS
    except ValueError:
        increment = LOCAL_CLUSTER_NICENESS
    if increment > 0 and hasattr(os, "nice"):
        with suppress(OSError):
            os.nice(increment)


class LocalClusterHost:
    """Starts and stops the helper process that hosts the local cluster."""

    def __init__(self, workers: int, processes: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        # Not a daemon: a daemonic process may not start the cluster's worker processes.
        self._process: Any = context.Process(
            target=_host, args=(child, workers, processes), name="qtforge-dask-cluster"
        )
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise RuntimeError(f"the local Dask cluster did not start in {START_TIMEOUT_S} s")
        status, value = self._conn.recv()
        if status != "ok":
            self.close()
            raise RuntimeError(f"the local Dask cluster could not start: {value}")
        self.address: str = value

    def close(self, timeout: float = 10.0) -> None:
        with suppress(Exception):
            self._conn.send("close")
        self._process.join(timeout)
        if self._process.is_alive():
            # Out of time (or wedged): kill the helper's whole group, workers included.
            with suppress(Exception):
                if hasattr(os, "killpg"):
                    os.killpg(self._process.pid, signal.SIGKILL)
            self._process.kill()
            self._process.join(2.0)
        with suppress(Exception):
            self._conn.close()
