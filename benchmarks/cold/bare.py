"""B16, the floor: the same 10 no-op steps as a plain loop, then exit."""

from __future__ import annotations

import sys
from typing import Any

STEPS = 10


def noop(params: Any = None, *_: Any) -> dict[str, Any]:
    return {}


def main() -> int:
    data: dict[str, Any] = {}
    for _ in range(STEPS):
        data = noop(data)
    return 0 if data == {} else 1


if __name__ == "__main__":
    sys.exit(main())
