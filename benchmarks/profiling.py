"""Where the time of a step goes: B1, B2, B4 and B8 under a profiler (issue #14).

``python -m benchmarks.profiling [MODE] [WORKLOAD ...] [--top N] [--reps N]``

Workloads are the benchmark's own (same sizes, same ``noop`` plugin, same orchestrator setup):
``B1v1``/``B1v2`` a 500-step chain, ``B2v1``/``B2v2`` a 2,000-step fan-out,
``B15v1``/``B15v2`` the 20 x 50 layered DAG with fan-in 3, ``B8v1``/``B8v2``
1,000 concurrent 10-step chains (v1 ``execute_workflow_async``, v2 ``execute_workflow``, a
``QEventLoop`` until every ``workflow_completed``), ``B4`` 200,000 items through source ->
processor -> sink.

py-spy and pyinstrument are not installed here, and cProfile alone sees one thread; an
in-process sampler is no substitute either (it can only look while it holds the GIL, so it sees
threads where they released it). Three modes instead:

- ``threads``: one ``cProfile.Profile`` per thread, enabled around each pool drainer
  (``Run.drain``, ``Run.help_until_done``) and around the timed call in the GUI thread; pool
  threads and the GUI thread are reported apart. Call counts are exact (``calls/step``);
  times carry the profiler's own cost per call (~0.3-0.6 us), so ``est us/step`` scales each
  function's time by unprofiled wall / profiled wall (an estimate that over-weights functions
  called often).
- ``inline`` (B1, B2, B8): the same runs with no pool drainer: ``Executor.submit`` is a no-op
  and the GUI thread runs every task itself through ``Run.help_until_done`` (the path a
  waiting non-GUI thread takes). No thread hops, no GIL hand-overs: the wall per step is the
  engine's own Python per step, and its cProfile counts are those of one thread.
- ``status``: ``get_execution_status`` and ``get_step_results`` per step of a finished
  2,000-step fan-out (issue #14: reading results cost more than running them).
- ``ablate`` (B1, B2): the inline run with one mechanism replaced by a no-op (or a cached
  equivalent), interleaved with unchanged runs; the median of the paired differences is that
  mechanism's cost per step. The replacements are monkeypatches made here, for measurement
  only: they show what a change in the run loop could save, not a change that is safe as is.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import os
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

Workload = tuple[str, int, Callable[[], object], Callable[[], None]]  # title, steps, run, close
DAG_WORKLOADS = ("B1v1", "B1v2", "B2v1", "B2v2", "B15v1", "B15v2")


def _ours_with(name: str) -> tuple[Any, str, str]:
    from ._dag_workflows import Ours
    from ._references import chain_dag, fan_out_dag, layered_dag

    ours = Ours()
    key, version = name[:-2], name[-2:]
    if key == "B1":
        dag, parallel, title = chain_dag(500), False, "B1 chain of 500"
    elif key == "B15":
        dag, parallel, title = layered_dag(20, 50, 3), True, "B15 layered DAG 20 x 50, fan-in 3"
    else:
        dag, parallel, title = fan_out_dag(2000), True, "B2 fan-out of 2,000"
    ours.register("w", dag, parallel)
    ours.verify("w")
    return ours, f"{title} ({version})", version


def _dag_workload(name: str) -> Workload:
    ours, title, version = _ours_with(name)
    run = ours.runners("w")[version]
    steps = {"B1": 500, "B15": 1000}.get(name[:-2], 2000)
    return title, steps, run, ours.shutdown


def _b8_workload(version: str) -> Workload:
    from ._dag_workflows import Ours
    from ._references import chain_dag
    from .concurrency import RUNS, STEPS, _until_completed

    ours = Ours()
    ours.register("ten", chain_dag(STEPS), False)
    ours.verify("ten")
    v1, v2 = ours.v1, ours.v2

    def run() -> bool:
        if version == "v1":
            return _until_completed(
                v1, lambda: [v1.execute_workflow_async("ten") for _ in range(RUNS)], RUNS
            )
        return _until_completed(v2, lambda: [v2.execute_workflow("ten") for _ in range(RUNS)], RUNS)

    return f"B8 1,000 x 10-step chains ({version})", RUNS * STEPS, run, ours.shutdown


def _b4_workload() -> Workload:
    from qtforge_orch import AdvancedPluginOrchestrator

    from ._common import checked, plugins_with
    from .streaming import ITEMS, _workflow, processor, sink, source

    orch = AdvancedPluginOrchestrator(
        plugin_manager=plugins_with(source=source, processor=processor, sink=sink)
    )
    checked(orch.register_workflow(_workflow()), "register")

    def run() -> bool:
        execution = checked(orch.execute_workflow("stream", {"count": ITEMS}), "execute")
        return orch.wait_for_execution(execution, 120_000)

    return f"B4 streaming {ITEMS:,} items (v2)", ITEMS, run, orch.shutdown


def workload(name: str) -> Workload:
    if name in DAG_WORKLOADS:
        return _dag_workload(name)
    if name in ("B8v1", "B8v2"):
        return _b8_workload(name[2:])
    if name == "B4":
        return _b4_workload()
    raise SystemExit(f"unknown workload {name!r}")


# --------------------------------------------------------------------------------------------
# threads: a cProfile per thread


class ThreadProfiles:
    """A cProfile.Profile per thread, enabled around ``Run.drain`` and the timed call."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.profiles: list[tuple[bool, cProfile.Profile]] = []  # (GUI thread?, profile)
        self.active = False

    def _profile(self) -> cProfile.Profile:
        profile = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile()
            gui = threading.current_thread() is threading.main_thread()
            with self._lock:
                self.profiles.append((gui, profile))
        return profile

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.active or getattr(self._local, "inside", False):
                return function(*args, **kwargs)
            profile = self._profile()
            self._local.inside = True
            profile.enable()
            try:
                return function(*args, **kwargs)
            finally:
                profile.disable()
                self._local.inside = False

        return wrapper

    def stats(self, gui: bool) -> pstats.Stats | None:
        with self._lock:
            profiles = [p for g, p in self.profiles if g == gui and p.getstats()]
        if not profiles:
            return None
        stats = pstats.Stats(profiles[0])
        for profile in profiles[1:]:
            stats.add(profile)
        return stats


def _timed(run: Callable[[], object], app: Any) -> float:
    gc.collect()
    started = time.perf_counter()
    if run() is False:
        raise RuntimeError("the workload reported a failed run")
    elapsed = time.perf_counter() - started
    app.processEvents()
    return elapsed


def profile_threads(name: str, top: int, reps: int) -> None:
    from qtforge_orch._engine.workers import Workers

    app = _app()
    profiles = ThreadProfiles()
    Workers.drain = profiles.wrap(Workers.drain)  # type: ignore[method-assign]
    Workers.help_until_done = profiles.wrap(Workers.help_until_done)  # type: ignore[method-assign]
    title, steps, run, close = workload(name)
    try:
        _timed(run, app)  # warm-up
        wall_us = statistics.median(_timed(run, app) for _ in range(reps)) * 1e6 / steps
        print(f"\n== {title}: unprofiled wall {wall_us:.2f} us/step (median of {reps})")
        profiles.active = True
        main = profiles.wrap(run)
        started = time.perf_counter()
        for _ in range(reps):
            main()
            app.processEvents()
        profiled_us = (time.perf_counter() - started) * 1e6 / (steps * reps)
        profiles.active = False
        print(f"   profiled: {profiled_us:.1f} us/step wall")
        for gui in (False, True):
            stats = profiles.stats(gui)
            if stats is not None:
                print("   -- GUI thread" if gui else "   -- pool threads (drainers)")
                _print_stats(stats, steps * reps, wall_us / profiled_us, top)
    finally:
        close()


def _print_stats(stats: pstats.Stats, steps: int, scale: float, top: int) -> None:
    rows = []
    total = 0.0
    for (path, line, function), (_, ncalls, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        total += tottime
        rows.append((tottime, ncalls, _short(path, line, function)))
    rows.sort(reverse=True)
    print(f"   {total * 1e6 / steps:.1f} us/step of profiled time in these threads")
    print(f"   {'calls/step':>10} {'tot us/step':>11} {'est us/step':>11}  function")
    for tottime, ncalls, label in rows[:top]:
        print(
            f"   {ncalls / steps:10.2f} {tottime * 1e6 / steps:11.2f} "
            f"{tottime * 1e6 / steps * scale:11.2f}  {label}"
        )


def _short(path: str, line: int, function: str) -> str:
    for marker in ("qtforge_orch" + os.sep, "site-packages" + os.sep, "python3.11" + os.sep):
        cut = path.rfind(marker)
        if cut >= 0:
            path = path[cut:] if marker.startswith("qtforge") else path[cut + len(marker) :]
            break
    return f"{path}:{line}({function})" if line else function


# --------------------------------------------------------------------------------------------
# inline: the engine's own Python per step, one thread


def _plan_of(orchestrator: Any, workflow_id: str) -> Any:
    return orchestrator._core.workflows.get(workflow_id).value().plan


def _inline(orchestrator: Any, plan: Any, app: Any, profile: Any = None) -> float:
    """One execution run by the calling thread alone; wall per step in us."""
    engine = orchestrator._core.engine
    engine.executor.submit = lambda function: None  # no drainers: this thread runs the tasks
    run = engine.new_run(plan, {})
    gc.collect()
    profiling = profile if profile is not None else contextlib.nullcontext()
    with profiling:
        started = time.perf_counter()
        run.start()
        run.workers.help_until_done()
        elapsed = time.perf_counter() - started
    app.processEvents()
    return elapsed * 1e6 / len(plan.tasks)


def _b8_inline(
    orchestrator: Any, version: str, app: Any, profile: Any = None
) -> tuple[float, float, float]:
    """1,000 executions of the 10-step chain started, run inline and delivered: ms each."""
    engine = orchestrator._core.engine
    engine.executor.submit = lambda function: None
    gc.collect()
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    for _ in range(1000):
        if version == "v1":
            orchestrator.execute_workflow_async("ten")
        else:
            orchestrator.execute_workflow("ten")
    submitted = time.perf_counter()
    for run in engine.active_runs():
        run.workers.help_until_done()
    ran = time.perf_counter()
    engine.pump.drain(None)
    app.processEvents()
    delivered = time.perf_counter()
    if profile is not None:
        profile.disable()
    return (
        (submitted - started) * 1000,
        (ran - submitted) * 1000,
        (delivered - ran) * 1000,
    )


def profile_inline(name: str, top: int, reps: int) -> None:
    app = _app()
    if name.startswith("B8"):
        _profile_b8_inline(name[2:], top, reps, app)
        return
    ours, title, version = _ours_with(name)
    orchestrator = ours.v1 if version == "v1" else ours.v2
    try:
        plan = _plan_of(orchestrator, "w")
        _inline(orchestrator, plan, app)
        per_step = statistics.median(_inline(orchestrator, plan, app) for _ in range(reps * 3))
        print(f"\n== {title}, inline (one thread, no drainers): {per_step:.2f} us/step")
        profile = cProfile.Profile()
        runs = 10
        profiled = statistics.median(_inline(orchestrator, plan, app, profile) for _ in range(runs))
        _print_stats(pstats.Stats(profile), runs * len(plan.tasks), per_step / profiled, top)
    finally:
        ours.shutdown()


def _profile_b8_inline(version: str, top: int, reps: int, app: Any) -> None:
    from ._dag_workflows import Ours
    from ._references import chain_dag

    ours = Ours()
    ours.register("ten", chain_dag(10), False)
    orchestrator = ours.v1 if version == "v1" else ours.v2
    finished = [0]
    orchestrator.workflow_completed.connect(lambda *_: finished.__setitem__(0, finished[0] + 1))
    try:
        _b8_inline(orchestrator, version, app)
        parts = [_b8_inline(orchestrator, version, app) for _ in range(reps)]
        start, run, deliver = (statistics.median(p[i] for p in parts) for i in range(3))
        print(
            f"\n== B8 1,000 x 10-step chains ({version}), inline: start {start:.1f} ms, run "
            f"{run:.1f} ms, deliver signals {deliver:.1f} ms = {start + run + deliver:.0f} us "
            "per execution"
        )
        profile = cProfile.Profile()
        profiled = sum(_b8_inline(orchestrator, version, app, profile))
        _print_stats(pstats.Stats(profile), 10_000, (start + run + deliver) / profiled, top)
    finally:
        ours.shutdown()


# --------------------------------------------------------------------------------------------
# ablate: what each per-step mechanism costs


class _NoLock:
    """A RunLock without the lock (one thread runs everything in the inline mode)."""

    __slots__ = ("outbox",)

    def __init__(self, lane: Any) -> None:
        self.outbox: list[Callable[[], object]] = []

    def __enter__(self) -> _NoLock:
        return self

    def __exit__(self, *_: object) -> None:
        if self.outbox:
            outbox, self.outbox = self.outbox, []
            for call in outbox:
                call()

    def later(self, call: Callable[[], object]) -> None:
        self.outbox.append(call)

    def wait(self, timeout: float) -> None:
        pass

    def notify_all(self) -> None:
        pass


class _BareContext:
    __slots__ = ()

    def __init__(self, *_: object) -> None:
        pass

    def cancel(self) -> None:
        pass


def _cached_call(engine: Any) -> Callable[..., Any]:
    """The plugin's callable resolved once per task and called directly (what a run could
    keep per task instead of resolving the command on every call)."""
    cache: dict[str, Any] = {}

    def call(plugin: Any, plugin_id: str, command: str, params: dict[str, Any], _: Any) -> Any:
        function = cache.get(plugin_id)
        if function is None:
            function = cache[plugin_id] = plugin.resolve_command(command, None)
        return function(params)

    return call


def _ablations(engine: Any) -> dict[str, Callable[[contextlib.ExitStack], None]]:
    from qtforge_orch._engine import batch as batch_module
    from qtforge_orch._engine import plugin_route as route_module
    from qtforge_orch._engine import run as run_module
    from qtforge_orch._engine.attempt_limits import AdaptiveLimit, Deadlines

    def patch(target: Any, name: str, value: Any) -> Callable[[contextlib.ExitStack], None]:
        def enter(stack: contextlib.ExitStack) -> None:
            old = getattr(target, name)
            setattr(target, name, value)
            stack.callback(setattr, target, name, old)

        return enter

    def both(*enters: Callable[[contextlib.ExitStack], None]) -> Any:
        return lambda stack: [enter(stack) for enter in enters]

    class _Clock:
        perf_counter = staticmethod(time.perf_counter)
        monotonic = staticmethod(time.monotonic)
        sleep = staticmethod(time.sleep)

        @staticmethod
        def time() -> float:
            return 1.0

    return {
        "plugin call: callable cached per task (no resolve_command per call)": patch(
            route_module, "call_value", _cached_call(engine)
        ),
        "StepContext per attempt": patch(batch_module, "StepContext", _BareContext),
        "step timeout watchdog (Deadlines.arm)": patch(
            Deadlines, "arm", lambda self, deadline: None
        ),
        "stall guard (AdaptiveLimit.watch)": patch(AdaptiveLimit, "watch", lambda self: None),
        "RunLock: one lock round trip per step": patch(run_module, "RunLock", _NoLock),
        "time.time() x2 (start/end stamps)": patch(batch_module, "time", _Clock),
        "build_params: a new input dict per step": patch(
            batch_module, "build_params", lambda *args: args[-1].parameters
        ),
    }


def ablate(name: str, reps: int) -> None:
    app = _app()
    ours, title, version = _ours_with(name)
    orchestrator = ours.v1 if version == "v1" else ours.v2
    try:
        plan = _plan_of(orchestrator, "w")
        for _ in range(3):
            _inline(orchestrator, plan, app)
        base = statistics.median(_inline(orchestrator, plan, app) for _ in range(reps * 3))
        print(f"\n== {title}, inline: {base:.2f} us/step; cost of each part (paired medians)")
        for label, enter in _ablations(orchestrator._core.engine).items():
            saved = []
            for _ in range(reps * 4 + 1):
                unchanged = _inline(orchestrator, plan, app)
                with contextlib.ExitStack() as stack:
                    enter(stack)
                    changed = _inline(orchestrator, plan, app)
                saved.append(unchanged - changed)
            print(f"   {statistics.median(saved):6.2f} us/step  {label}")
    finally:
        ours.shutdown()


# --------------------------------------------------------------------------------------------
# status: what reading a finished execution costs per step


def status_reads(reps: int) -> None:
    """``get_execution_status`` (first call and a repeated one) and ``get_step_results`` on a
    finished 2,000-step fan-out, us per step, medians of ``reps`` fresh executions."""
    from ._dag_workflows import Ours
    from ._references import fan_out_dag

    app = _app()
    ours = Ours()
    ours.register("f", fan_out_dag(2000), True)
    steps = 2000

    def timed(call: Callable[[str], object], execution_id: str) -> float:
        started = time.perf_counter()
        call(execution_id)
        return (time.perf_counter() - started) * 1e6 / steps

    def v1_reports(execution_id: str) -> object:
        return len(ours.v1.get_execution_status(execution_id).value()["step_results"])

    def v2_reports(execution_id: str) -> object:
        return len(ours.v2.get_execution_status(execution_id).value().node_states)

    samples: dict[str, list[float]] = {}
    try:
        for _ in range(reps):
            v1_id = ours.v1.execute_workflow("f").value()
            v2_id = ours.v2.execute_workflow("f").value()
            ours.v2.wait_for_execution(v2_id, 60_000)
            app.processEvents()
            gc.collect()
            for label, call, execution_id in (
                ("v1 get_execution_status", ours.v1.get_execution_status, v1_id),
                ("v1 get_execution_status + every step report", v1_reports, v1_id),
                ("v1 get_step_results", ours.v1.get_step_results, v1_id),
                ("v2 get_execution_status", ours.v2.get_execution_status, v2_id),
                ("v2 get_execution_status + every node report", v2_reports, v2_id),
            ):
                samples.setdefault(f"{label}, first call", []).append(timed(call, execution_id))
                samples.setdefault(f"{label}, again", []).append(timed(call, execution_id))
    finally:
        ours.shutdown()
    print("\n== status reads of a finished 2,000-step fan-out (us per step, median)")
    for label, values in samples.items():
        print(f"   {statistics.median(values):6.2f}  {label}")


# --------------------------------------------------------------------------------------------


def _app() -> Any:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def _names(names: list[str], allowed: Iterator[str] | tuple[str, ...]) -> list[str]:
    allowed = tuple(allowed)
    chosen = names or list(allowed)
    unknown = [n for n in chosen if n not in allowed]
    if unknown:
        raise SystemExit(f"not available in this mode: {', '.join(unknown)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling")
    parser.add_argument("mode", choices=("threads", "inline", "ablate", "status"))
    parser.add_argument("workloads", nargs="*")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    if args.mode == "threads":
        for name in _names(args.workloads, (*DAG_WORKLOADS, "B8v1", "B8v2", "B4")):
            profile_threads(name, args.top, args.reps)
    elif args.mode == "inline":
        for name in _names(args.workloads, (*DAG_WORKLOADS, "B8v1", "B8v2")):
            profile_inline(name, args.top, args.reps)
    elif args.mode == "status":
        status_reads(args.reps)
    else:
        for name in _names(args.workloads, DAG_WORKLOADS):
            ablate(name, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
