"""B16: cold start. A fresh interpreter imports, builds and runs a 10-step chain and exits;
the whole process is timed, interpreter start-up and exit included (issue #14)."""

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
from ._compare import versus

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {
    "v1": "ours_v1.py",
    "v2": "ours_v2.py",
    "hamilton": "hamilton_run.py",
    "dask": "dask_run.py",
    "bare": "bare.py",
}


def _env(cache: str) -> dict[str, str]:
    # As in B7: byte-code cached (as after a pip install) in a private directory, so a
    # PYTHONDONTWRITEBYTECODE environment does not make every run compile from source.
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPYCACHEPREFIX"] = cache
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _run(program: str, env: dict[str, str]) -> float:
    path = Path(__file__).resolve().parent / "cold" / program
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"{program} failed (status {out.returncode}): {out.stderr.strip()}")
    return wall


def b16_cold_start(ctx: Context) -> list[Figure]:
    reps = ctx.reps(7, 2)
    samples: dict[str, list[float]] = {name: [] for name in PROGRAMS}
    with tempfile.TemporaryDirectory(prefix="qtforge-bench-b16-") as cache:
        env = _env(cache)
        for program in PROGRAMS.values():  # warm-up: byte-code cache, page cache
            _run(program, env)
        for _ in range(reps):
            for name, program in PROGRAMS.items():
                samples[name].append(_run(program, env))
    wall_ms = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    method = (
        f"median of {reps} fresh `python benchmarks/cold/<program>.py` processes per system, "
        "interleaved, after 1 warm-up each (byte-code cached in a PYTHONPYCACHEPREFIX "
        "directory); wall of the whole subprocess: interpreter start-up, imports, building "
        "and running a 10-step chain of noop, exit. Ours without a QApplication (none is needed)"
    )
    extra = {
        "wall_ms_median": wall_ms,
        "wall_ms_min": {name: min(values) * 1000 for name, values in samples.items()},
        "wall_ms_max": {name: max(values) * 1000 for name, values in samples.items()},
        "samples_s": samples,
    }
    common: dict[str, Any] = {"method": method, "extra": extra}
    title = "B16 cold start (process: import, build, run 10 steps)"
    return [
        # Issue #14: at most dask's.
        versus(
            "B16.v1_vs_dask",
            f"{title}: ours v1 / dask",
            "ms",
            wall_ms,
            "v1",
            "dask",
            floor="bare",
            at_most=1.0,
            **common,
        ),
        versus(
            "B16.v2_vs_dask",
            f"{title}: ours v2 / dask",
            "ms",
            wall_ms,
            "v2",
            "dask",
            floor="bare",
            at_most=1.0,
        ),
        versus(
            "B16.v1_vs_hamilton",
            f"{title}: ours v1 / Hamilton",
            "ms",
            wall_ms,
            "v1",
            "hamilton",
            floor="bare",
        ),
    ]
