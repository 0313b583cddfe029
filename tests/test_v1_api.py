"""Registration, lookup, history, transactions and the error codes of the v1 surface."""

from __future__ import annotations

from typing import Any

import pytest

import qtforge_orch
import qtforge_orch.orchestration as orchestration
from qtforge_orch import (
    ExecutionMode,
    FunctionPlugin,
    PluginErrorCode,
    PluginManager,
    PluginOrchestrator,
    Workflow,
)
from qtforge_orch.testing import HangingPlugin

from .helpers import Recorder, status_of, step

pytestmark = pytest.mark.timeout(30)

V1_NAMES = [
    "PluginOrchestrator",
    "Workflow",
    "WorkflowStep",
    "StepResult",
    "StepStatus",
    "ExecutionMode",
    "Expected",
    "expected",
    "make_success",
    "make_error",
    "PluginError",
    "PluginErrorCode",
    "IPlugin",
    "PluginManager",
    "FunctionPlugin",
    "StepContext",
]


@pytest.mark.parametrize("name", V1_NAMES)
def test_public_names_exist_in_both_namespaces(name: str) -> None:
    assert getattr(qtforge_orch, name) is getattr(orchestration, name)


def test_create_register_get_list_unregister(qapp: Any, plugins: PluginManager) -> None:
    orch = PluginOrchestrator.create(plugin_manager=plugins)
    assert isinstance(orch, PluginOrchestrator)
    wf = Workflow("w", "Name").set_execution_mode(ExecutionMode.Parallel)
    wf.add_step(step("s", "p", "run", x=1))
    assert orch.register_workflow(wf)
    dup = orch.register_workflow(wf)
    assert not dup and dup.error().code == PluginErrorCode.AlreadyExists
    assert orch.list_workflows() == ["w"]
    fetched = orch.get_workflow("w").value()
    assert fetched.to_json() == wf.to_json()
    # the registered workflow is a snapshot: later edits of either copy change nothing
    wf.steps()[0].parameters["x"] = 99
    fetched.steps()[0].parameters["x"] = 42
    assert orch.get_workflow("w").value().steps()[0].parameters == {"x": 1}
    assert orch.unregister_workflow("w")
    missing = orch.unregister_workflow("w")
    assert not missing and missing.error().code == PluginErrorCode.NotFound
    assert orch.get_workflow("w").error().code == PluginErrorCode.NotFound
    assert orch.shutdown()


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda: Workflow(""), PluginErrorCode.InvalidConfiguration),
        (lambda: Workflow("empty"), PluginErrorCode.InvalidConfiguration),
        (
            lambda: (
                Workflow("dep")
                .add_step(
                    step(
                        "a",
                        "p",
                        "run",
                    )
                )
                .add_step(step("b", "p", "run", "zzz"))
            ),
            PluginErrorCode.DependencyNotSatisfied,
        ),
        (
            lambda: (
                Workflow("cyc")
                .add_step(step("a", "p", "run", "b"))
                .add_step(step("b", "p", "run", "a"))
            ),
            PluginErrorCode.CircularDependency,
        ),
        (
            lambda: Workflow("self").add_step(step("a", "p", "run", "a")),
            PluginErrorCode.CircularDependency,
        ),
    ],
)
def test_invalid_workflows_are_refused_with_the_right_code(
    orchestrator: PluginOrchestrator, build: Any, code: PluginErrorCode
) -> None:
    assert orchestrator.register_workflow(Workflow("keep").add_step(step("k", "p", "run")))
    result = orchestrator.register_workflow(build())
    assert not result and result.error().code == code
    assert result.error().message
    assert orchestrator.list_workflows() == ["keep"]


def test_bad_condition_expression_is_refused_at_registration(
    orchestrator: PluginOrchestrator,
) -> None:
    s = step("a", "p", "run")
    s.condition = "file_valid == "
    result = orchestrator.register_workflow(Workflow("badcond").add_step(s))
    assert not result and result.error().code == PluginErrorCode.InvalidConfiguration


def test_register_rejects_non_workflow(orchestrator: PluginOrchestrator) -> None:
    result = orchestrator.register_workflow({"id": "x"})  # type: ignore[arg-type]
    assert not result and result.error().code == PluginErrorCode.InvalidConfiguration


def test_execute_errors(orchestrator: PluginOrchestrator, plugins: PluginManager) -> None:
    unknown = orchestrator.execute_workflow("nope")
    assert not unknown and unknown.error().code == PluginErrorCode.NotFound
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "run")))
    bad = orchestrator.execute_workflow("w", ["not", "a", "dict"])  # type: ignore[arg-type]
    assert not bad and bad.error().code == PluginErrorCode.InvalidParameters
    for query in (
        orchestrator.get_execution_status("nope"),
        orchestrator.get_step_results("nope"),
        orchestrator.cancel_workflow("nope"),
    ):
        assert not query and query.error().code == PluginErrorCode.NotFound


def test_unregister_while_running_lets_the_execution_finish(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("p", hang=gate))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "hang")))
    execution_id = orchestrator.execute_workflow("w", async_=True).value()
    assert gate.entered.wait(5)
    assert orchestrator.unregister_workflow("w")
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert status_of(orchestrator, execution_id)["status"] == "completed"


def test_history_is_bounded_and_configurable(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    plugins.register_plugin(FunctionPlugin("p", run=lambda p: {}))
    assert orchestrator.register_workflow(Workflow("w").add_step(step("s", "p", "run")))
    orchestrator.set_history_limit(3)
    assert orchestrator.history_limit() == 3
    ids = [orchestrator.execute_workflow("w").value() for _ in range(5)]
    assert [bool(orchestrator.get_execution_status(i)) for i in ids] == [
        False,
        False,
        True,
        True,
        True,
    ]


def transactional(orch: PluginOrchestrator, plugins: PluginManager) -> Recorder:
    rec = Recorder()
    plugins.register_plugin(
        FunctionPlugin(
            "bank",
            debit=rec.command("debit", lambda p: {"debited": p["who"]}),
            undo=rec.command("undo", lambda p: {"undone": p["debited"]}),
        )
    )
    wf = Workflow("pay").add_step(step("debit", "bank", "debit"))
    wf.add_rollback_step("debit", step("refund", "bank", "undo"))
    assert orch.register_workflow(wf)
    return rec


def test_transaction_rollback_compensates_every_execution_newest_first_once(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = transactional(orchestrator, plugins)
    assert orchestrator.begin_transaction("tx")
    again = orchestrator.begin_transaction("tx")
    assert not again and again.error().code == PluginErrorCode.AlreadyExists
    for who in ("alice", "bob"):
        assert orchestrator.execute_workflow("pay", {"who": who}, transaction_id="tx")
    assert rec.names() == ["debit", "debit"]
    assert orchestrator.rollback_transaction("tx")
    undone = [c[1]["debited"] for c in rec.calls if c[0] == "undo"]
    assert undone == ["bob", "alice"]
    for late in (orchestrator.rollback_transaction("tx"), orchestrator.commit_transaction("tx")):
        assert not late and late.error().code == PluginErrorCode.InvalidState
    joined = orchestrator.execute_workflow("pay", {"who": "carol"}, transaction_id="tx")
    assert not joined and joined.error().code == PluginErrorCode.InvalidState
    assert [c[0] for c in rec.calls].count("undo") == 2


def test_transaction_commit_drops_compensations(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = transactional(orchestrator, plugins)
    assert orchestrator.begin_transaction("tx")
    assert orchestrator.execute_workflow("pay", {"who": "alice"}, transaction_id="tx")
    assert orchestrator.commit_transaction("tx")
    assert rec.names() == ["debit"]
    late = orchestrator.rollback_transaction("tx")
    assert not late and late.error().code == PluginErrorCode.InvalidState


def test_transaction_errors(orchestrator: PluginOrchestrator, plugins: PluginManager) -> None:
    for call in (
        orchestrator.commit_transaction,
        orchestrator.rollback_transaction,
    ):
        result = call("ghost")
        assert not result and result.error().code == PluginErrorCode.NotFound
    transactional(orchestrator, plugins)
    unknown = orchestrator.execute_workflow("pay", {"who": "x"}, transaction_id="ghost")
    assert not unknown and unknown.error().code == PluginErrorCode.NotFound
    gate = HangingPlugin()
    plugins.register_plugin(FunctionPlugin("slow", hang=gate))
    assert orchestrator.register_workflow(Workflow("slow").add_step(step("s", "slow", "hang")))
    assert orchestrator.begin_transaction("busy")
    execution_id = orchestrator.execute_workflow("slow", async_=True, transaction_id="busy").value()
    assert gate.entered.wait(5)
    busy = orchestrator.commit_transaction("busy")
    assert not busy and busy.error().code == PluginErrorCode.InvalidState
    gate.release()
    assert orchestrator.wait_for_execution(execution_id, 5000)
    assert orchestrator.commit_transaction("busy")


def test_successful_run_outside_a_transaction_never_compensates(
    orchestrator: PluginOrchestrator, plugins: PluginManager
) -> None:
    rec = transactional(orchestrator, plugins)
    execution = orchestrator.execute_workflow("pay", {"who": "dave"})
    assert execution
    assert rec.names() == ["debit"]
    assert (
        orchestrator.cancel_workflow(execution.value()).error().code == PluginErrorCode.InvalidState
    )
    assert rec.names() == ["debit"]


def test_ended_transactions_are_forgotten_beyond_a_bound(
    orchestrator: PluginOrchestrator, plugins: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qtforge_orch._engine import transactions

    monkeypatch.setattr(transactions, "ENDED_TRANSACTIONS_KEPT", 2)
    transactional(orchestrator, plugins)
    for tx in ("t1", "t2", "t3"):
        assert orchestrator.begin_transaction(tx)
        assert orchestrator.execute_workflow("pay", {"who": tx}, transaction_id=tx)
        assert orchestrator.commit_transaction(tx)
    # the two most recent are remembered as ended; the oldest is forgotten entirely
    assert orchestrator.commit_transaction("t3").error().code == PluginErrorCode.InvalidState
    assert orchestrator.commit_transaction("t2").error().code == PluginErrorCode.InvalidState
    assert orchestrator.commit_transaction("t1").error().code == PluginErrorCode.NotFound
