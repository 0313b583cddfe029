"""The reference systems of issue #14, built from one DAG description so every system runs the
same graph with the same task function (``_common.noop``).

A DAG is ``list[list[int]]``: for each node (in a topological order), the indices of its
predecessors. Nodes are named ``n<index>``.

- **Hamilton** (``sf-hamilton``, its default sequential driver): one generated module whose
  function ``n<i>`` takes its predecessors as parameters and calls ``noop``.
- **ThreadPoolExecutor**: a dependency-counting scheduler over ``concurrent.futures`` that an
  application would write by hand (a finished task submits its successors that became ready).
- **dask**: a ``dask.threaded.get`` graph of ``(noop, *predecessors)`` tasks.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import random
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

from ._common import noop

Dag = list[list[int]]
_MODULE_IDS = itertools.count()


# --------------------------------------------------------------------------------------------
# shapes


def chain_dag(steps: int) -> Dag:
    return [[]] + [[index - 1] for index in range(1, steps)]


def fan_out_dag(steps: int) -> Dag:
    return [[] for _ in range(steps)]


def layered_dag(layers: int, width: int, fan_in: int, seed: int = 15) -> Dag:
    """``layers`` x ``width`` nodes; each node after the first layer depends on ``fan_in``
    distinct nodes of the previous layer (seeded, so every run measures the same graph)."""
    rng = random.Random(seed)
    dag: Dag = [[] for _ in range(width)]
    for layer in range(1, layers):
        previous = range((layer - 1) * width, layer * width)
        dag.extend(sorted(rng.sample(previous, fan_in)) for _ in range(width))
    return dag


def name(index: int) -> str:
    return f"n{index}"


# --------------------------------------------------------------------------------------------
# Hamilton


def hamilton_driver(dag: Dag) -> Any:
    """A Hamilton driver over a generated module (Hamilton finds functions through
    ``sys.modules``, so the module is registered there under a unique name)."""
    from hamilton import base, driver

    module_name = f"_bench_hamilton_{next(_MODULE_IDS)}"
    lines: list[str] = []
    for index, predecessors in enumerate(dag):
        params = ", ".join(f"{name(p)}: dict" for p in predecessors)
        first = name(predecessors[0]) if predecessors else "{}"
        lines.append(f"def {name(index)}({params}) -> dict:\n    return noop({first})\n")
    module = types.ModuleType(module_name)
    module.__dict__["noop"] = noop
    sys.modules[module_name] = module
    exec(compile("\n".join(lines), module_name, "exec"), module.__dict__)
    return driver.Builder().with_modules(module).with_adapters(base.DictResult()).build()


def all_names(dag: Dag) -> list[str]:
    return [name(index) for index in range(len(dag))]


# --------------------------------------------------------------------------------------------
# ThreadPoolExecutor


class PoolDag:
    """Runs a DAG on a ``ThreadPoolExecutor``: roots are submitted at once; the task that
    completes a node's last predecessor submits it. One lock guards the counters."""

    def __init__(self, dag: Dag, function: Callable[..., Any] = noop) -> None:
        self._dag = dag
        self._function = function
        self._successors: list[list[int]] = [[] for _ in dag]
        for index, predecessors in enumerate(dag):
            for predecessor in predecessors:
                self._successors[predecessor].append(index)
        self._roots = [index for index, predecessors in enumerate(dag) if not predecessors]

    def start(
        self, pool: concurrent.futures.ThreadPoolExecutor, done: Callable[[], None]
    ) -> list[Any]:
        """Submit the roots; returns the list each node's output is stored in."""
        dag, successors, function = self._dag, self._successors, self._function
        waiting = [len(predecessors) for predecessors in dag]
        outputs: list[Any] = [None] * len(dag)
        remaining = [len(dag)]
        lock = threading.Lock()

        def run(index: int) -> None:
            predecessors = dag[index]
            outputs[index] = function(*[outputs[p] for p in predecessors] or [{}])
            ready: list[int] = []
            with lock:
                for successor in successors[index]:
                    waiting[successor] -= 1
                    if waiting[successor] == 0:
                        ready.append(successor)
                remaining[0] -= 1
                finished = remaining[0] == 0
            for successor in ready:
                pool.submit(run, successor)
            if finished:
                done()

        for root in self._roots:
            pool.submit(run, root)
        return outputs

    def run(self, pool: concurrent.futures.ThreadPoolExecutor) -> list[Any]:
        """Run the DAG once; every node's output, by index."""
        finished = threading.Event()
        outputs = self.start(pool, finished.set)
        if not finished.wait(120):
            raise RuntimeError("ThreadPoolExecutor reference did not finish in 120 s")
        return outputs


# --------------------------------------------------------------------------------------------
# dask


def dask_graph(dag: Dag) -> dict[str, Any]:
    return {
        name(index): (noop, *[name(p) for p in predecessors]) if predecessors else (noop, {})
        for index, predecessors in enumerate(dag)
    }
