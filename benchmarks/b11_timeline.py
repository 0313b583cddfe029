"""B11's parallel run as a timeline: where the process executor's extra time goes.

``python -m benchmarks.b11_timeline [--pairs N] [--json PATH]`` runs B11's workload (8
CPU-bound steps of ~0.25 s, calibrated here) through the process executor and through a plain
``ProcessPoolExecutor`` (``submit`` of all 8, then ``result()`` in order: what ``pool.map``
does), ``N`` interleaved pairs in one process, and prints per step and per run:

- parent times: ``submit`` (the call is handed to the pool), ``result`` (the pool's result
  thread has it), ``seen`` (the waiting thread has it) and, for ours, ``recorded`` (the drainer
  recorded the step and took its next one);
- worker times: ``start`` and ``end`` of the step, its CPU time, how long it waited on a run
  queue for a core (``/proc/thread-self/schedstat``), its voluntary / involuntary context
  switches (``getrusage(RUSAGE_THREAD)``), its pid and how many cores it may use;
- the parent's CPU and run-queue wait per thread during the run (``/proc/self/task/*/schedstat``).

Every time is ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process on Linux),
relative to the run's start (ours: ``execute_workflow`` called; the pool: the first submit).

Ours is observed by wrapping ``ProcessExecutor.call``, ``Slots.send`` and
``BatchScheduler.work`` here, for measurement only (a few microseconds per step).
``--pump-slice S`` is an ablation: how long the owner thread, waiting for a synchronous
execution and woken by an event, lets more events gather (``events.WAIT_SLICE_S``) set to
``S``, to see what those wake-ups cost.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

STEPS = 8
STEP_S = 0.25


def _schedstat(path: str) -> tuple[int, int, int]:
    """(ns on a CPU, ns waiting on a run queue, times scheduled in) of a thread or process."""
    try:
        with open(path, encoding="ascii") as stat:
            on_cpu, waiting, slices = stat.read().split()
        return int(on_cpu), int(waiting), int(slices)
    except (OSError, ValueError):
        return 0, 0, 0


def timed_spin(params: dict[str, Any]) -> dict[str, Any]:
    """B11's step (``executors.spin_loops``' loop) with its own timeline, measured in the
    worker."""
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    on_cpu, waiting, _ = _schedstat("/proc/thread-self/schedstat")
    start, cpu = time.monotonic(), time.thread_time()
    n = 0
    for i in range(int(params["loops"])):
        n += i & 7
    end, cpu_end = time.monotonic(), time.thread_time()
    after = resource.getrusage(resource.RUSAGE_THREAD)
    on_cpu_end, waiting_end, _ = _schedstat("/proc/thread-self/schedstat")
    return {
        "n": n,
        "step": params.get("step", ""),
        "pid": os.getpid(),
        "cores": len(os.sched_getaffinity(0)),
        "start": start,
        "end": end,
        "cpu_s": cpu_end - cpu,
        "queued_s": (waiting_end - waiting) / 1e9,
        "on_cpu_s": (on_cpu_end - on_cpu) / 1e9,
        "nvcsw": after.ru_nvcsw - usage.ru_nvcsw,
        "nivcsw": after.ru_nivcsw - usage.ru_nivcsw,
    }


class _ParentThreads:
    """CPU and run-queue wait of each thread of this process over an interval."""

    def __init__(self) -> None:
        self._before = self._read()

    @staticmethod
    def _read() -> dict[int, tuple[str, int, int, int]]:
        names = {t.native_id: t.name for t in threading.enumerate()}
        threads: dict[int, tuple[str, int, int, int]] = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            on_cpu, waiting, slices = _schedstat(f"/proc/self/task/{tid}/schedstat")
            threads[int(tid)] = (names.get(int(tid), name), on_cpu, waiting, slices)
        return threads

    def deltas(self) -> dict[str, Any]:
        after = self._read()
        per_name: dict[str, list[float]] = {}
        for tid, (name, on_cpu, waiting, slices) in after.items():
            _, cpu0, wait0, slices0 = self._before.get(tid, (name, 0, 0, 0))
            if on_cpu - cpu0 <= 0 and waiting - wait0 <= 0:
                continue
            key = name.rstrip("0123456789").rstrip("-") or name
            acc = per_name.setdefault(key, [0.0, 0.0, 0, 0])
            acc[0] += (on_cpu - cpu0) / 1e9
            acc[1] += (waiting - wait0) / 1e9
            acc[2] += 1
            acc[3] += slices - slices0
        return {
            "cpu_s": sum(v[0] for v in per_name.values()),
            "queued_s": sum(v[1] for v in per_name.values()),
            "wakes": sum(v[3] for v in per_name.values()),
            "threads": {
                k: {"cpu_s": v[0], "queued_s": v[1], "n": v[2], "wakes": v[3]}
                for k, v in per_name.items()
            },
        }


# --- ours, observed -------------------------------------------------------------------------

_marks: dict[str, dict[str, float]] = {}


def _mark(step: str, what: str) -> None:
    _marks.setdefault(step, {})[what] = time.monotonic()


def _observe_ours() -> None:
    from qtforge_orch._engine.batch import BatchScheduler
    from qtforge_orch._engine.executors import process, process_slots

    call = process.ProcessExecutor.call
    send = process_slots.Slots.send
    work = BatchScheduler.work

    def observed_call(self: Any, task: Any, params: Any, context: Any, **kw: Any) -> Any:
        _mark(task.key, "call")
        threading.current_thread().__dict__["b11_step"] = task.key
        outcome = call(self, task, params, context, **kw)
        _mark(task.key, "seen")
        return outcome

    def observed_send(self: Any, slot: Any, args: tuple[Any, ...], wake: Any) -> Any:
        step = args[5]
        _mark(step, "submit")
        ticket = send(self, slot, args, wake)
        _marks[step]["slot"] = id(slot)
        future = getattr(ticket, "future", None)
        if future is not None:
            future.add_done_callback(lambda _: _mark(step, "result"))
        return ticket

    def observed_work(self: Any, unit: Any) -> Any:
        thread = threading.current_thread()
        thread.__dict__.pop("b11_step", None)
        following = work(self, unit)
        step = thread.__dict__.get("b11_step")
        if step is not None:
            _mark(step, "recorded")
            _marks[step]["thread"] = threading.get_native_id()
        return following

    process.ProcessExecutor.call = observed_call  # type: ignore[method-assign]
    process_slots.Slots.send = observed_send  # type: ignore[method-assign]
    BatchScheduler.work = observed_work  # type: ignore[method-assign]


def _run_ours(orch: Any, workflow_id: str) -> dict[str, Any]:
    from qtforge_orch._engine.executors.process import ProcessExecutor

    from ._common import checked

    _marks.clear()
    parent = _ParentThreads()
    cpu = time.process_time()
    began = time.monotonic()
    execution = checked(orch.execute_workflow(workflow_id), "process run")
    ended = time.monotonic()
    cpu = time.process_time() - cpu
    threads = parent.deltas()
    status = checked(orch.get_execution_status(execution), "status")
    steps = []
    for report in status["step_results"]:
        out = dict(report["result_data"])
        out.update(_marks.get(out["step"], {}))
        steps.append(out)
    executor = orch._core.engine.executors.get("process")
    assert isinstance(executor, ProcessExecutor)
    return _summary("ours", began, ended, cpu, threads, steps, executor.worker_pids())


def _run_plain(pool: ProcessPoolExecutor, loops: int) -> dict[str, Any]:
    parent = _ParentThreads()
    cpu = time.process_time()
    began = time.monotonic()
    futures: list[tuple[dict[str, float], Future[Any]]] = []
    for index in range(STEPS):
        marks = {"call": time.monotonic()}
        marks["submit"] = marks["call"]
        future = pool.submit(timed_spin, {"loops": loops, "step": f"s{index}"})
        future.add_done_callback(lambda _, m=marks: m.__setitem__("result", time.monotonic()))
        futures.append((marks, future))
    steps = []
    for marks, future in futures:
        out = dict(future.result())
        marks["seen"] = marks["recorded"] = time.monotonic()
        out.update(marks)
        steps.append(out)
    ended = time.monotonic()
    cpu = time.process_time() - cpu
    pids = [p.pid for p in (getattr(pool, "_processes", None) or {}).values()]
    return _summary("plain", began, ended, cpu, parent.deltas(), steps, pids)


def _summary(
    side: str,
    began: float,
    ended: float,
    cpu: float,
    threads: dict[str, Any],
    steps: list[dict[str, Any]],
    pids: list[int],
) -> dict[str, Any]:
    for step in steps:
        for key in ("call", "submit", "start", "end", "result", "seen", "recorded"):
            if key in step:
                step[key] -= began
    by_worker: dict[int, list[dict[str, Any]]] = {}
    for step in sorted(steps, key=lambda s: s["start"]):
        by_worker.setdefault(step["pid"], []).append(step)
    workers = {}
    # Each round boundary on a worker, split at the parent's marks: the worker's end -> the
    # pool's result thread has it -> the waiting thread has it -> the next step submitted ->
    # the worker starts it.
    legs: dict[str, list[float]] = {"result": [], "seen": [], "next_submit": [], "start": []}
    for mine in by_worker.values():
        for a, b in itertools.pairwise(mine):
            legs["result"].append(a["result"] - a["end"])
            legs["seen"].append(a["seen"] - a["result"])
            legs["next_submit"].append(max(0.0, b["submit"] - a["seen"]))
            legs["start"].append(b["start"] - max(b["submit"], a["end"]))
    for pid, mine in by_worker.items():
        idle = [b["start"] - a["end"] for a, b in itertools.pairwise(mine)]
        workers[pid] = {
            "steps": len(mine),
            "first_start": mine[0]["start"],
            "busy_s": sum(s["end"] - s["start"] for s in mine),
            "idle_between_s": sum(idle),
            "last_end": mine[-1]["end"],
        }
    last_end = max(s["end"] for s in steps)
    return {
        "side": side,
        "wall": ended - began,
        "parent_cpu_s": cpu,
        "parent_threads": threads,
        "pids": sorted(pids),
        "cores_seen": sorted({s["cores"] for s in steps}),
        "steps": sorted(steps, key=lambda s: s["start"]),
        "workers": workers,
        "first_start": min(s["start"] for s in steps),
        "last_end": last_end,
        "tail_s": (ended - began) - last_end,
        "tail_imbalance_s": last_end - min(w["last_end"] for w in workers.values()),
        "step_wall_s": sum(s["end"] - s["start"] for s in steps),
        "step_cpu_s": sum(s["cpu_s"] for s in steps),
        "step_queued_s": sum(s["queued_s"] for s in steps),
        "nivcsw": sum(s["nivcsw"] for s in steps),
        "nvcsw": sum(s["nvcsw"] for s in steps),
        "boundary_legs_s": {k: statistics.median(v) for k, v in legs.items() if v},
    }


def _ms(value: float) -> str:
    return f"{value * 1000:7.1f}"


def _print_run(run: dict[str, Any]) -> None:
    print(
        f"\n{run['side']}: wall {_ms(run['wall'])} ms, parent CPU {_ms(run['parent_cpu_s'])} ms, "
        f"workers {run['pids']} (cores seen {run['cores_seen']}), first start "
        f"{_ms(run['first_start'])}, last end {_ms(run['last_end'])}, tail {_ms(run['tail_s'])}, "
        f"imbalance at the tail {_ms(run['tail_imbalance_s'])}"
    )
    print(
        "  step   pid    submit   start     end  result    seen  record   wall    cpu  queued "
        "vcs ivcs"
    )
    for s in run["steps"]:
        print(
            f"  {s['step']:>4} {s['pid']:>6} {_ms(s.get('submit', float('nan')))} "
            f"{_ms(s['start'])} {_ms(s['end'])} {_ms(s.get('result', float('nan')))} "
            f"{_ms(s.get('seen', float('nan')))} {_ms(s.get('recorded', float('nan')))} "
            f"{_ms(s['end'] - s['start'])} {_ms(s['cpu_s'])} {_ms(s['queued_s'])} "
            f"{s['nvcsw']:>3} {s['nivcsw']:>4}"
        )
    for pid, w in run["workers"].items():
        print(
            f"  worker {pid}: {w['steps']} steps, first start {_ms(w['first_start'])}, busy "
            f"{_ms(w['busy_s'])}, idle between steps {_ms(w['idle_between_s'])}, last end "
            f"{_ms(w['last_end'])}"
        )
    busiest = sorted(run["parent_threads"]["threads"].items(), key=lambda kv: -kv[1]["cpu_s"])
    print(
        "  parent threads (cpu / queued ms, times scheduled in): "
        + ", ".join(
            f"{name} x{v['n']} {_ms(v['cpu_s']).strip()}/{_ms(v['queued_s']).strip()} {v['wakes']}"
            for name, v in busiest[:8]
        )
    )


def _calibrated_loops() -> int:
    from .executors import _calibrate

    return _calibrate(STEP_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.b11_timeline")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--json", default="")
    parser.add_argument("--quiet", action="store_true", help="summaries only")
    parser.add_argument(
        "--pump-slice",
        type=float,
        default=0.0,
        help="ablation: how long a woken synchronous wait lets events gather (seconds; "
        "0: the engine's own)",
    )
    args = parser.parse_args(argv)
    if args.pump_slice:
        from qtforge_orch._engine import events

        events.WAIT_SLICE_S = args.pump_slice  # measurement only: how much the slices cost

    from qtforge_orch import PluginOrchestrator

    from ._common import checked, plugins_with, v1_fan_out

    _observe_ours()
    loops = _calibrated_loops()
    orch = PluginOrchestrator(
        plugin_manager=plugins_with(timed_spin=timed_spin), default_executor="process"
    )
    workflow = v1_fan_out("cpu", STEPS, "timed_spin")
    for step in workflow.steps():
        step.parameters = {"loops": loops, "step": step.id}
    checked(orch.register_workflow(workflow), "register_workflow")
    pool = ProcessPoolExecutor(os.cpu_count() or 2, mp_context=multiprocessing.get_context("spawn"))
    runs: list[dict[str, Any]] = []
    print(f"load {os.getloadavg()}, {loops:,} loops per step, {os.cpu_count()} CPUs")
    try:
        list(pool.map(timed_spin, [{"loops": 1000}] * STEPS))  # workers started
        checked(orch.execute_workflow("cpu"), "warm-up")  # workers started
        sides: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("ours", lambda: _run_ours(orch, "cpu")),
            ("plain", lambda: _run_plain(pool, loops)),
        ]
        for pair in range(args.pairs):
            order = sides if pair % 2 == 0 else sides[::-1]
            for _, run in order:
                result = run()
                result["pair"] = pair
                result["load"] = os.getloadavg()[0]
                runs.append(result)
                if not args.quiet:
                    _print_run(result)
    finally:
        orch.shutdown()
        pool.shutdown()
    print(
        "\npair side   wall   first  last_end  tail  imbal  idle_between  stepwall  cpu  queued"
        "  parentcpu  wakes"
    )
    for r in runs:
        idle = sum(w["idle_between_s"] for w in r["workers"].values())
        print(
            f"{r['pair']:>4} {r['side']:>5} {_ms(r['wall'])} {_ms(r['first_start'])} "
            f"{_ms(r['last_end'])} {_ms(r['tail_s'])} {_ms(r['tail_imbalance_s'])} {_ms(idle)} "
            f"{_ms(r['step_wall_s'])} {_ms(r['step_cpu_s'])} {_ms(r['step_queued_s'])} "
            f"{_ms(r['parent_cpu_s'])} {r['parent_threads']['wakes']:>6}"
        )
    for side in ("ours", "plain"):
        walls = [r["wall"] for r in runs if r["side"] == side]
        mine = [r for r in runs if r["side"] == side]
        legs = {
            k: _ms(statistics.median(r["boundary_legs_s"][k] for r in mine)).strip()
            for k in mine[0]["boundary_legs_s"]
        }
        print(
            f"{side}: median wall {_ms(statistics.median(walls))} ms of {len(walls)}; a round "
            f"boundary's legs (median ms): {legs}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"loops": loops, "runs": runs}, out, indent=1, default=str)
    return 0


if __name__ == "__main__":
    # Through the imported module, so the step function pickles as
    # ``benchmarks.b11_timeline.timed_spin`` (workers import that, not ``__main__``).
    from benchmarks.b11_timeline import main as imported_main

    raise SystemExit(imported_main())
