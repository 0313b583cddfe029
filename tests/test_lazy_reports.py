"""Step and node reports are built the first time they are read, never by the status call:
the status dict and context behave exactly as if they had held them from the start."""

from __future__ import annotations

import copy
import json
import operator
import pickle
import threading
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    FunctionPlugin,
    PluginManager,
    PluginOrchestrator,
    Workflow,
)
from qtforge_orch.orchestration._filled_on_read import FilledOnRead

from .reliability_helpers import step
from .v2_helpers import Mode, fn, node, register, start, workflow


class Counting:
    """A pending-entries builder that counts its calls."""

    def __init__(self, entries: dict[str, Any]) -> None:
        self.entries = entries
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return dict(self.entries)


def lazy(known: bool = True) -> tuple[FilledOnRead, Counting]:
    build = Counting({"reports": [1, 2]})
    keys = frozenset({"reports"}) if known else None
    return FilledOnRead({"a": 1, "b": 2, "c": 3}, build, keys, before="b"), build


EXPECTED = {"a": 1, "reports": [1, 2], "b": 2, "c": 3}


@pytest.mark.parametrize(
    "read",
    [
        lambda d: d["reports"],
        lambda d: d.get("reports"),
        lambda d: list(d),
        lambda d: list(reversed(d)),
        lambda d: list(d.keys()),
        lambda d: list(d.values()),
        lambda d: list(d.items()),
        lambda d: d == EXPECTED,
        lambda d: operator.eq(EXPECTED, d),  # the reflected comparison
        lambda d: d != EXPECTED,
        lambda d: repr(d),
        lambda d: json.dumps(d),
        lambda d: dict(d),
        lambda d: {**d},
        lambda d: (lambda **kw: kw)(**d),
        lambda d: d.copy(),
        lambda d: copy.copy(d),
        lambda d: copy.deepcopy(d),
        lambda d: pickle.loads(pickle.dumps(d)),
        lambda d: d | {},
        lambda d: {} | d,
    ],
)
def test_every_read_of_the_pending_entries_fills_once(read: Any) -> None:
    d, build = lazy()
    read(d)
    assert build.calls == 1
    # Order as if the entries had been there from the start.
    assert list(dict.items(d)) == list(EXPECTED.items())
    read(d)
    assert build.calls == 1


def test_reads_that_cannot_see_pending_entries_do_not_fill() -> None:
    d, build = lazy()
    assert d["a"] == 1 and d.get("c") == 3 and d.get("zz", 0) == 0
    assert "reports" in d and "a" in d and "zz" not in d
    assert len(d) == 4
    assert build.calls == 0
    assert d["reports"] == [1, 2] and len(d) == 4


def test_unknown_pending_keys_fill_on_any_read() -> None:
    d, build = lazy(known=False)
    assert d["a"] == 1
    assert build.calls == 1 and d == EXPECTED


@pytest.mark.parametrize(
    "write",
    [
        lambda d: d.__setitem__("reports", 0),
        lambda d: d.update(reports=0),
        lambda d: d.setdefault("reports", 5),
        lambda d: d.pop("reports"),
        lambda d: d.__delitem__("a"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.__ior__({"x": 1}),
    ],
)
def test_writes_fill_first_so_the_pending_entries_never_overwrite_them(write: Any) -> None:
    d, build = lazy()
    write(d)
    snapshot = dict(dict.items(d))
    assert build.calls == 1
    assert dict(d) == snapshot


def test_two_threads_reading_at_once_fill_once() -> None:
    for _ in range(20):
        d, build = lazy()
        start = threading.Barrier(4)

        def read(target: FilledOnRead = d, barrier: threading.Barrier = start) -> None:
            barrier.wait()
            assert target["reports"] == [1, 2]

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert build.calls == 1
        assert d == EXPECTED


def _v1_run(orchestrator: PluginOrchestrator, plugins: PluginManager) -> str:
    plugins.register_plugin(FunctionPlugin("out", run=lambda p: {"x": 1}))
    wf = Workflow("w").add_step(step("a", "out", "run")).add_step(step("b", "out", "run", "a"))
    assert orchestrator.register_workflow(wf)
    return str(orchestrator.execute_workflow("w").value())


def test_v1_status_builds_step_reports_only_when_read(
    orchestrator: PluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtforge_orch.orchestration import plugin_orchestrator as module

    execution_id = _v1_run(orchestrator, plugins)
    built: list[int] = []
    real = module._step_reports
    monkeypatch.setattr(
        module, "_step_reports", lambda run, snap, ix: built.extend(ix) or real(run, snap, ix)
    )
    status = orchestrator.get_execution_status(execution_id).value()
    assert status["status"] == "completed" and status["result"] == {"x": 1}
    assert status["total_steps"] == 2 and "step_results" in status
    assert built == []
    assert [r["step_id"] for r in status["step_results"]] == ["a", "b"]
    assert built == [0, 1]
    # The keys in the documented order, JSON as before.
    keys = list(status)
    assert keys.index("result") + 1 == keys.index("step_results")
    assert keys.index("step_results") + 1 == keys.index("rollbacks")
    assert json.loads(json.dumps(status))["step_results"][1]["status"] == "Completed"


def test_v1_reports_read_later_are_the_state_at_the_call(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    """A report read after later status calls still describes the moment of its own call."""
    gate = threading.Event()
    plugins.register_plugin(FunctionPlugin("wait", run=lambda p: gate.wait(10) and {}))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("a", "wait", "run")))
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    early = orchestrator.get_execution_status(execution_id).value()
    gate.set()
    assert orchestrator.wait_for_execution(execution_id, 10_000)
    late = orchestrator.get_execution_status(execution_id).value()
    assert late["step_results"][0]["status"] == "Completed"
    assert early["step_results"][0]["status"] in {"Pending", "Running"}


def test_v2_status_builds_node_reports_only_when_read(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtforge_orch.orchestration.advanced import plugin_orchestrator_v2 as module

    fn(plugins, "out", lambda p: {"y": 2})
    register(advanced, workflow("g", Mode.Parallel, [node("n", "out"), node("m", "out")]))
    execution_id = start(advanced, "g")
    assert advanced.wait_for_execution(execution_id, 5000)
    built: list[int] = []
    real = module._node_reports
    monkeypatch.setattr(
        module,
        "_node_reports",
        lambda run, snap, ix, children: built.extend(ix) or real(run, snap, ix, children),
    )
    context = advanced.get_execution_status(execution_id).value()
    assert context.execution_data["result"]
    assert built == []
    dumped = context.model_dump()
    assert sorted(dumped["node_states"]) == ["m", "n"] and built == [0, 1]
    for dump in (
        lambda c: json.loads(c.model_dump_json())["node_states"],
        lambda c: c.to_json()["node_states"],
        lambda c: c.node_outputs,
        lambda c: dict(c.node_states),
    ):
        fresh = advanced.get_execution_status(execution_id).value()
        assert sorted(dump(fresh)) == ["m", "n"]
    again = advanced.get_execution_status(execution_id).value()
    assert again == context


def _snapshot(states: list[int], late: list[Any] | None = None, extras: bool = False) -> Any:
    from qtforge_orch._engine.status_snapshot import RunSnapshot

    n = len(states)
    return RunSnapshot(
        status="running",
        progress=0.0,
        current_task="",
        completed=0,
        start_time=None,
        end_time=None,
        error=None,
        result=None,
        states=list(states),
        outputs=[None] * n,
        errors=[""] * n,
        retries=[0] * n,
        starts=[1.0] * n,
        ends=[2.0] * n,
        step_progress={},
        rollbacks=[],
        error_messages=[],
        rollback_errors=[],
        task_extras=[{} for _ in range(n)] if extras else None,
        run_extras={},
        overlaps={},
        late=late or [],
    )


class _View:
    report_cache: Any = None


def test_report_cache_rebuilds_only_what_changed() -> None:
    from qtforge_orch._engine.late_view import LateView
    from qtforge_orch._engine.status_snapshot import cached_reports
    from qtforge_orch.contract.plan import TaskState

    built: list[list[int]] = []

    def build(view: Any, snap: Any, indices: list[int]) -> list[dict[str, Any]]:
        built.append(list(indices))
        return [{"i": i, "state": snap.states[i]} for i in indices]

    done, running = int(TaskState.Completed), int(TaskState.Running)
    settled = frozenset({done})
    view = _View()
    first = cached_reports(view, _snapshot([done, running, done]), build, settled)  # type: ignore[arg-type]
    assert built == [[0, 1, 2]] and [r["i"] for r in first] == [0, 1, 2]
    first[0]["i"] = 99  # callers get their own dicts: the cache is not changed through them
    again = cached_reports(view, _snapshot([done, running, done]), build, settled)  # type: ignore[arg-type]
    assert built == [[0, 1, 2]] and again[0]["i"] == 0
    cached_reports(view, _snapshot([done, done, done]), build, settled)  # type: ignore[arg-type]
    assert built[-1] == [1]
    # An abandoned attempt's outcome changes a report without changing the task's state.
    late = [LateView(2, 1, "completed", None, 3.0, "completed", "")]
    cached_reports(view, _snapshot([done, done, done], late), build, settled)  # type: ignore[arg-type]
    assert built[-1] == [2]
    cached_reports(view, _snapshot([done, done, done], late), build, settled)  # type: ignore[arg-type]
    assert len(built) == 3  # unchanged, late outcome included: nothing rebuilt
    # Live per-task figures: an unsettled task is rebuilt on every call.
    live = _View()
    for _ in range(2):
        cached_reports(live, _snapshot([done, running], extras=True), build, settled)  # type: ignore[arg-type]
    assert built[-2:] == [[0, 1], [1]]
