"""Issue #8: Hypothesis state machines over random sequences of public calls on each
orchestrator, with done-callbacks and slots that call back into the orchestrator.

Invariants checked after every step: no public method raises, every answer is of the
documented kind, and at teardown every future resolves and the pool drains.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    ExecutionMode,
    Expected,
    FunctionPlugin,
    PluginError,
    PluginManager,
    PluginOrchestrator,
    StepContext,
    Workflow,
)

from .reliability_helpers import step
from .v2_helpers import Mode, NodeType, conn, node, workflow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]  # long random call sequences

JUNK_IDS = st.one_of(st.text(max_size=4), st.none(), st.integers(), st.lists(st.integers()))


def _hold(params: dict[str, Any], context: StepContext) -> dict[str, Any]:
    context.wait(float(params.get("hold", 0.0)))
    return {"held": True}


def _fail(params: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("planned failure")


def _plugins() -> PluginManager:
    manager = PluginManager()
    manager.register_plugin(
        FunctionPlugin(
            "p",
            ok=lambda p: {"n": p.get("n", 0) + 1},
            hold=_hold,
            fail=_fail,
            undo=lambda p: {},
            execute=lambda p: {"value": p.get("value", 1)},
        )
    )
    return manager


class V1Machine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.orch = PluginOrchestrator(plugin_manager=_plugins())
        self.ids: list[str] = []
        self.futures: list[Any] = []
        self.callback_errors: list[BaseException] = []
        self.lock = threading.Lock()
        # A slot that calls back in while the orchestrator is delivering.
        self.orch.workflow_completed.connect(self._slot)
        self.orch.workflow_failed.connect(lambda eid, _msg: self._slot(eid, None))
        self.orch.workflow_cancelled.connect(lambda eid: self._slot(eid, None))

    def _slot(self, execution_id: str, _result: Any) -> None:
        assert isinstance(self.orch.get_execution_status(execution_id), Expected)
        self.orch.list_active_executions()

    def _callback(self, future: Any) -> None:
        try:
            status = self.orch.get_execution_status(future.execution_id)
            assert isinstance(status, Expected)
            self.orch.cancel_workflow(future.execution_id)
            self.orch.list_workflows()
        except BaseException as exc:  # recorded, checked by the invariant
            with self.lock:
                self.callback_errors.append(exc)

    @rule(
        name=st.sampled_from(["a", "b", "c"]),
        mode=st.sampled_from(list(ExecutionMode)),
        kinds=st.lists(st.sampled_from(["ok", "hold", "fail"]), min_size=1, max_size=4),
        rollback=st.booleans(),
        timeout=st.sampled_from([None, 50]),
    )
    def register(
        self,
        name: str,
        mode: ExecutionMode,
        kinds: list[str],
        rollback: bool,
        timeout: int | None,
    ) -> None:
        wf = Workflow(name).set_execution_mode(mode)
        for i, kind in enumerate(kinds):
            s = step(f"s{i}", "p", kind, *([f"s{i - 1}"] if i else []))
            s.parameters = {"hold": 0.02} if kind == "hold" else {}
            if timeout is not None:
                s.timeout = timeout
            wf.add_step(s)
        if rollback:
            wf.add_rollback_step("s0", step("undo", "p", "undo"))
        assert isinstance(self.orch.register_workflow(wf), Expected)

    @rule(name=st.sampled_from(["a", "b", "c", "zz"]))
    def unregister(self, name: str) -> None:
        assert isinstance(self.orch.unregister_workflow(name), Expected)

    @rule(name=st.sampled_from(["a", "b", "c"]), sync=st.booleans())
    def execute(self, name: str, sync: bool) -> None:
        result = self.orch.execute_workflow(name, {"n": 1}, async_=not sync)
        assert isinstance(result, Expected)
        if result:
            self.ids.append(result.value())
        elif "execution_id" in result.error().context:
            self.ids.append(result.error().context["execution_id"])

    @rule(name=st.sampled_from(["a", "b", "c"]))
    def execute_async(self, name: str) -> None:
        future = self.orch.execute_workflow_async(name)
        future.add_done_callback(self._callback)
        self.futures.append(future)
        if future.execution_id:
            self.ids.append(future.execution_id)

    @rule(data=st.data())
    def poke(self, data: st.DataObject) -> None:
        target = data.draw(st.one_of(st.sampled_from(self.ids or ["none"]), JUNK_IDS))
        for method in (
            self.orch.get_execution_status,
            self.orch.get_step_results,
            self.orch.cancel_workflow,
        ):
            assert isinstance(method(target), Expected)
        assert isinstance(self.orch.wait_for_execution(target, 0), bool)

    @rule(limit=st.one_of(st.integers(-2, 5), st.none()))
    def history(self, limit: Any) -> None:
        assert isinstance(self.orch.set_history_limit(limit), Expected)

    @rule(tx=st.sampled_from(["t1", "t2"]), action=st.sampled_from(["begin", "commit", "roll"]))
    def transaction(self, tx: str, action: str) -> None:
        method = {
            "begin": self.orch.begin_transaction,
            "commit": self.orch.commit_transaction,
            "roll": self.orch.rollback_transaction,
        }[action]
        assert isinstance(method(tx), Expected)

    @invariant()
    def callbacks_never_raised(self) -> None:
        with self.lock:
            assert not self.callback_errors, self.callback_errors

    def teardown(self) -> None:
        orch = getattr(self, "orch", None)
        if orch is None:
            return
        assert orch.shutdown(10000), "worker threads did not finish"
        for future in self.futures:
            assert isinstance(future.result(10), Expected)
        assert orch.list_active_executions() == []


class V2Machine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.orch = AdvancedPluginOrchestrator(plugin_manager=_plugins())
        self.ids: list[str] = []
        self.orch.node_completed.connect(self._slot)
        self.orch.workflow_cancelled.connect(lambda eid: self.orch.get_execution_status(eid))

    def _slot(self, execution_id: str, node_id: str, _output: Any) -> None:
        assert isinstance(self.orch.get_node_status(execution_id, node_id), Expected)
        self.orch.get_active_executions()

    @rule(
        name=st.sampled_from(["g", "h"]),
        mode=st.sampled_from(list(Mode)),
        kind=st.sampled_from(["ok", "hold", "fail"]),
    )
    def register(self, name: str, mode: Mode, kind: str) -> None:
        nodes = [
            node("src", "p", NodeType.Source, configuration={"method": "execute"}),
            node("mid", "p", configuration={"method": kind, "hold": 0.02}),
            node("sink", "p", NodeType.Sink, configuration={"method": "ok"}),
        ]
        wf = workflow(name, mode, nodes, [conn("src", "mid"), conn("mid", "sink")])
        assert isinstance(self.orch.register_workflow(wf), Expected)

    @rule(name=st.sampled_from(["g", "h", "zz"]))
    def execute(self, name: str) -> None:
        result = self.orch.execute_workflow(name, {"value": 2})
        assert isinstance(result, Expected)
        if result:
            self.ids.append(result.value())

    @rule(data=st.data(), action=st.sampled_from(["cancel", "pause", "resume", "post", "status"]))
    def control(self, data: st.DataObject, action: str) -> None:
        target = data.draw(st.one_of(st.sampled_from(self.ids or ["none"]), JUNK_IDS))
        method = {
            "cancel": self.orch.cancel_execution,
            "pause": self.orch.pause_execution,
            "resume": self.orch.resume_execution,
            "post": self.orch.post_event,
            "status": self.orch.get_execution_status,
        }[action]
        assert isinstance(method(target), Expected)
        assert isinstance(self.orch.get_node_status(target, "mid"), Expected)
        assert isinstance(self.orch.wait_for_execution(target, 0), bool)

    @rule(name=st.sampled_from(["g", "h"]), junk=st.booleans())
    def modify(self, name: str, junk: bool) -> None:
        if junk:
            result = self.orch.add_connection_to_workflow(name, conn("sink", "src"))
        else:
            result = self.orch.add_node_to_workflow(name, node("extra", "p"))
        assert isinstance(result, Expected)
        if not result:
            assert isinstance(result.error(), PluginError)

    def teardown(self) -> None:
        orch = getattr(self, "orch", None)
        if orch is None:
            return
        assert orch.shutdown(10000), "worker threads did not finish"
        assert orch.get_active_executions() == []


_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_v1_random_public_calls(qapp: Any) -> None:
    _SETTINGS(V1Machine).TestCase().runTest()


def test_v2_random_public_calls(qapp: Any) -> None:
    _SETTINGS(V2Machine).TestCase().runTest()
