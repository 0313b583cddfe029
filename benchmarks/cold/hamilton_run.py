"""B16, Hamilton: a module of 10 chained functions, run by the default driver, then exit.

The functions live in this script, as a Hamilton user writes them; helpers start with ``_`` so
the driver does not take them for nodes.
"""

from __future__ import annotations

import sys
from typing import Any

from hamilton import base, driver


def _noop(params: Any = None, *_: Any) -> dict[str, Any]:
    return {}


def s0() -> dict:  # type: ignore[type-arg]
    return _noop({})


def s1(s0: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s0)


def s2(s1: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s1)


def s3(s2: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s2)


def s4(s3: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s3)


def s5(s4: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s4)


def s6(s5: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s5)


def s7(s6: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s6)


def s8(s7: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s7)


def s9(s8: dict) -> dict:  # type: ignore[type-arg]
    return _noop(s8)


def _main() -> int:
    dr = driver.Builder().with_modules(sys.modules[__name__]).with_adapters(base.DictResult())
    result = dr.build().execute(["s9"])
    return 0 if result == {"s9": {}} else 1


if __name__ == "__main__":
    sys.exit(_main())
