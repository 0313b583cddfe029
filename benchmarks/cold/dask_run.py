"""B16, dask: a 10-task chain graph run by the threaded scheduler, then exit."""

from __future__ import annotations

import sys
from typing import Any

import dask.threaded

STEPS = 10


def noop(params: Any = None, *_: Any) -> dict[str, Any]:
    return {}


def main() -> int:
    graph: dict[str, Any] = {"s0": (noop, {})}
    for index in range(1, STEPS):
        graph[f"s{index}"] = (noop, f"s{index - 1}")
    return 0 if dask.threaded.get(graph, f"s{STEPS - 1}") == {} else 1


if __name__ == "__main__":
    sys.exit(main())
