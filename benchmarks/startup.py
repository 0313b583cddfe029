"""B7: ``import qtforge_orch`` in a fresh interpreter against ``import PySide6.QtCore``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._common import Context, Figure

ROOT = Path(__file__).resolve().parent.parent
_TIMED = "import time; _t = time.perf_counter(); {stmt}; print(time.perf_counter() - _t)"
STATEMENTS = {
    "ours": "import qtforge_orch",
    "peer": "import PySide6.QtCore",
    "first_use": "from qtforge_orch import PluginOrchestrator",
    "interpreter": "pass",
}


_CACHE = {"dir": ""}  # the byte-code cache of the current B7 run


def _env() -> dict[str, str]:
    # Byte-code is cached (as after a normal ``pip install``) but outside the source tree:
    # PYTHONDONTWRITEBYTECODE would otherwise make every run compile qtforge_orch from source.
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    if _CACHE["dir"]:
        env["PYTHONPYCACHEPREFIX"] = _CACHE["dir"]
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _run(stmt: str) -> tuple[float, float]:
    """(seconds spent in the statement, wall of the whole subprocess)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _TIMED.format(stmt=stmt)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        check=False,
        timeout=60,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"`{stmt}` failed in a fresh interpreter: {out.stderr.strip()}")
    return float(out.stdout.strip().splitlines()[-1]), wall


def _importtime(stmt: str, top: int = 12) -> list[dict[str, Any]]:
    """The modules with the largest self time under ``-X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", stmt],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_env(),
        check=False,
        timeout=60,
    )
    rows: list[dict[str, Any]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3:
            continue
        try:
            self_us, cumulative_us = int(parts[0]), int(parts[1])
        except ValueError:
            continue
        name = parts[2].strip()
        rows.append({"module": name, "self_us": self_us, "cumulative_us": cumulative_us})
    rows.sort(key=lambda row: row["self_us"], reverse=True)
    return rows[:top]


def b7_import(ctx: Context) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="qtforge-bench-pycache-") as cache:
        _CACHE["dir"] = cache
        try:
            return _b7(ctx)
        finally:
            _CACHE["dir"] = ""


def _b7(ctx: Context) -> list[Figure]:
    reps = ctx.reps(9, 3)
    for stmt in STATEMENTS.values():  # warm-up: byte-code caches, page cache
        _run(stmt)
    inner: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    wall: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    for _ in range(reps):
        for name, stmt in STATEMENTS.items():
            seconds, whole = _run(stmt)
            inner[name].append(seconds)
            wall[name].append(whole)
    med = {name: statistics.median(values) * 1000 for name, values in inner.items()}
    best = {name: min(values) * 1000 for name, values in inner.items()}
    wall_med = {name: statistics.median(values) * 1000 for name, values in wall.items()}
    ratio = med["ours"] / med["peer"]
    method = (
        f"median of {reps} fresh `python -c` subprocesses per statement, interleaved, after 1 "
        "warm-up each (byte-code cached in a PYTHONPYCACHEPREFIX directory); "
        "time.perf_counter around the import statement inside the subprocess"
    )
    extra = {
        "import_ms": {"median": med, "best": best},
        "subprocess_wall_ms_median": wall_med,
        "samples_s": inner,
    }
    return [
        Figure(
            "B7.import",
            "B7 `import qtforge_orch` vs `import PySide6.QtCore`",
            "ms",
            med["ours"],
            peer=med["peer"],
            peer_name="QtCore",
            ratio=ratio,
            ratio_of="ours/QtCore",
            target="<= 1.6",
            met=ratio <= 1.6,
            method=method,
            extra=extra,
        ),
        Figure(
            "B7.import_wall",
            "B7 whole `python -c` wall, import qtforge_orch vs PySide6.QtCore",
            "ms",
            wall_med["ours"],
            peer=wall_med["peer"],
            peer_name="QtCore",
            floor=wall_med["interpreter"],
            floor_name="pass",
            ratio=wall_med["ours"] / wall_med["peer"],
            ratio_of="ours/QtCore",
            target="reported",
            method=f"median of {reps} subprocess walls (interpreter start-up included)",
        ),
        Figure(
            "B7.first_use",
            "B7 `from qtforge_orch import PluginOrchestrator` vs PySide6.QtCore",
            "ms",
            med["first_use"],
            peer=med["peer"],
            peer_name="QtCore",
            ratio=med["first_use"] / med["peer"],
            ratio_of="ours/QtCore",
            target="reported",
            method=method,
            extra={"importtime_top_self": _importtime(STATEMENTS["first_use"])},
        ),
    ]
