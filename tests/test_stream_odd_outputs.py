"""Streaming's per-item loops with outputs that are not plain dicts, or plain dicts that cannot
be read: objects whose ``__class__`` lies or raises, dict subclasses whose lookups raise, a key
whose ``__eq__`` raises. Every such output is an item error of the stage that returned it (or
an output without the port, or a forwarded value), never an exception out of the loop; the
fused pair (``map_values_into``) counts exactly as its two loops run apart would
(``map_values_to_port`` then ``consume_values``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qtforge_orch import (
    AdvancedPluginOrchestrator,
    PluginManager,
    WorkflowExecutionStatus,
    make_error,
    make_success,
)
from qtforge_orch._engine import invoke, stream_limit, stream_scheduler
from qtforge_orch.contract.plan import TaskSpec

from .v2_helpers import (
    Code,
    Mode,
    NodeType,
    conn,
    fn,
    node,
    node_status,
    register,
    start,
    status,
    workflow,
)

pytestmark = pytest.mark.timeout(60)


class Tally:
    """An ``ItemTally`` that keeps its messages."""

    def __init__(self) -> None:
        self.items_out = 0
        self.items_dropped = 0
        self.errors: list[str] = []

    def item_failed(self, message: str) -> None:
        self.errors.append(message)

    def counts(self) -> tuple[int, int, list[str]]:
        return self.items_out, self.items_dropped, self.errors


class DictClaim:
    """Not a dict, but its ``__class__`` says ``dict`` (``isinstance(x, dict)`` is True)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return dict

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def keys(self) -> Any:
        return self.data.keys()


class BrokenDictClaim(DictClaim):
    """Claims to be a dict; every lookup raises."""

    def __contains__(self, key: object) -> bool:
        raise RuntimeError("claim: no lookups")

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("claim: no lookups")


class ClassRaises:
    """Reading ``__class__`` raises (``isinstance`` propagates it)."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("no class for you")


class BrokenDict(dict[str, Any]):
    """A real dict subclass whose lookups raise (what it holds is still copied out)."""

    def __contains__(self, key: object) -> bool:
        raise LookupError("subclass: no lookups")

    def __getitem__(self, key: str) -> Any:
        raise LookupError("subclass: no lookups")


class BadKey:
    """A key that collides with the port's hash and whose ``__eq__`` raises: a plain dict
    holding it cannot be searched for the port."""

    def __init__(self, port: str) -> None:
        self.port = port

    def __hash__(self) -> int:
        return hash(self.port)

    def __eq__(self, other: object) -> bool:
        raise ValueError("key comparison refused")


def _raise(exc: BaseException) -> Any:
    raise exc


# What the first stage returns for each value, and how that stage accounts for it.
FIRST: dict[str, Callable[[], Any]] = {
    "plain": lambda: {"y": 1},
    "plain_then_key_error": lambda: {"y": 3},  # the next stage raises KeyError: its error
    "no_port": lambda: {"other": 1},
    "drop": lambda: None,
    "raises": lambda: _raise(ValueError("first refuses")),
    "expected": lambda: make_success({"y": 2}),
    "expected_error": lambda: make_error(Code.InvalidParameters, "first rejects"),
    "not_a_dict": lambda: 42,
    "subclass": lambda: type("Sub", (dict,), {})({"y": 3}),
    "subclass_no_port": lambda: type("Sub", (dict,), {})({"other": 3}),
    "broken_subclass": lambda: BrokenDict({"y": 4}),
    "class_claim": lambda: DictClaim({"y": 5}),
    "broken_class_claim": lambda: BrokenDictClaim({"y": 6}),
    "class_raises": ClassRaises,
    "bad_key": lambda: {BadKey("y"): 7},
    "bad_key_and_port": lambda: {BadKey("y"): 8, "y": 8},
}
# Forwarded: (value, first stage's outputs without the port, first stage's item errors).
ACCOUNT: dict[str, tuple[int | None, int, int]] = {
    "plain": (1, 0, 0),
    "plain_then_key_error": (3, 0, 0),
    "no_port": (None, 1, 0),
    "drop": (None, 0, 0),
    "raises": (None, 0, 1),
    "expected": (2, 0, 0),
    "expected_error": (None, 0, 1),
    "not_a_dict": (None, 0, 1),
    "subclass": (3, 0, 0),
    "subclass_no_port": (None, 1, 0),
    "broken_subclass": (4, 0, 0),
    "class_claim": (5, 0, 0),
    "broken_class_claim": (None, 0, 1),
    "class_raises": (None, 0, 1),
    "bad_key": (None, 0, 1),
    "bad_key_and_port": (None, 0, 1),
}
# What the second stage returns for a forwarded value (by value).
SECOND: dict[int, Callable[[], Any]] = {
    1: lambda: {},
    2: lambda: None,
    3: lambda: _raise(KeyError("second refuses")),
    4: lambda: {},
    5: ClassRaises,
}


def _first(params: dict[str, Any]) -> Any:
    return FIRST[params["x"]]()


def _second(params: dict[str, Any]) -> Any:
    return SECOND[params["y"]]()


def _task(key: str) -> TaskSpec:
    return TaskSpec(key=key, index=0, plugin_id=key, command="execute", parameters={})


def _fused(values: list[str]) -> tuple[int, Tally, Tally, list[Any]]:
    seen: list[Any] = []

    def second(params: dict[str, Any]) -> Any:
        seen.append(params["y"])
        return _second(params)

    first_tally, second_tally = Tally(), Tally()
    forwarded = invoke.map_values_into(
        _first,
        "x",
        "y",
        first_tally,
        _task("first"),
        second,
        "y",
        second_tally,
        _task("second"),
        values,
    )
    return forwarded, first_tally, second_tally, seen


def _apart(values: list[str]) -> tuple[int, Tally, Tally, list[Any]]:
    seen: list[Any] = []

    def second(params: dict[str, Any]) -> Any:
        seen.append(params["y"])
        return _second(params)

    first_tally, second_tally = Tally(), Tally()
    passed: list[Any] = []
    invoke.map_values_to_port(_first, "x", "y", values, passed, first_tally, _task("first"))
    invoke.consume_values(second, "y", passed, second_tally, _task("second"))
    return len(passed), first_tally, second_tally, seen


@pytest.mark.parametrize("case", sorted(FIRST))
def test_each_odd_output_is_accounted_for_by_the_stage_that_returned_it(case: str) -> None:
    value, without_port, failed = ACCOUNT[case]
    for run in (_fused, _apart):
        forwarded, first, _second_tally, seen = run([case])
        assert seen == ([] if value is None else [value]), run.__name__
        assert forwarded == (0 if value is None else 1), run.__name__
        assert first.items_out == without_port, run.__name__
        assert first.items_dropped == (1 if case == "drop" else 0), run.__name__
        assert len(first.errors) == failed, (run.__name__, first.errors)


def test_the_fused_pair_counts_as_its_two_loops_apart() -> None:
    values = [case for _ in range(3) for case in sorted(FIRST)]
    fused_forwarded, fused_first, fused_second, fused_seen = _fused(values)
    apart_forwarded, apart_first, apart_second, apart_seen = _apart(values)
    assert fused_seen == apart_seen == [v for v in (ACCOUNT[c][0] for c in values) if v]
    assert fused_forwarded == apart_forwarded
    assert fused_first.counts() == apart_first.counts()
    assert fused_second.counts() == apart_second.counts()
    # The second stage, per round: values 1 and 4 outputs, 2 a drop, 3 (twice) and 5 item
    # errors.
    assert fused_second.items_out == 6
    assert fused_second.items_dropped == 3
    assert len(fused_second.errors) == 9
    assert any("second refuses" in e for e in fused_second.errors)
    assert any("no class for you" in e for e in fused_second.errors)
    messages = " | ".join(fused_first.errors)
    for text in ("first refuses", "first rejects", "int", "lookups", "no class for you"):
        assert text in messages, text
    assert "key comparison refused" in messages


def test_map_values_and_consume_values_take_odd_outputs_as_item_errors() -> None:
    cases = ["plain", "class_raises", "broken_class_claim", "not_a_dict", "drop", "bad_key"]
    produced: list[Any] = []
    tally = Tally()
    invoke.map_values(_first, "x", cases, produced, tally, _task("first"))
    # Plain dicts are produced as they are (the bad key is only found when a port is read);
    # the claims that cannot be read are item errors.
    assert len(produced) == 2
    assert produced[0] == {"y": 1}
    assert [type(k) for k in produced[1]] == [BadKey]
    assert tally.items_dropped == 1
    assert len(tally.errors) == 3
    consumed = Tally()
    invoke.consume_values(_first, "x", cases, consumed, _task("first"))
    assert consumed.items_out == 2
    assert consumed.items_dropped == 1
    assert len(consumed.errors) == 3


def _run(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager, sinks: int
) -> dict[str, Any]:
    cases = sorted(FIRST)
    received: list[Any] = []

    def src(params: dict[str, Any]) -> Iterator[str]:
        return iter(cases * 50)

    def sink(params: dict[str, Any]) -> Any:
        received.append(params["y"])
        return _second(params)

    fn(plugins, "src", src)
    fn(plugins, "first", _first)
    fn(plugins, "sink", sink)
    names = [f"sink{k}" for k in range(sinks)]
    register(
        advanced,
        workflow(
            "odd",
            Mode.Streaming,
            [
                node("src", node_type=NodeType.Source, output_ports=["x"]),
                node("first", input_ports=["x"], output_ports=["y"]),
                *(node(name, "sink", NodeType.Sink, input_ports=["y"]) for name in names),
            ],
            [
                conn("src", "first", source_port="x", target_port="x"),
                *(conn("first", name, source_port="y", target_port="y") for name in names),
            ],
        ),
    )
    execution_id = start(advanced, "odd")
    assert advanced.wait_for_execution(execution_id, 30_000)
    fields = ("status", "items_in", "items_out", "items_dropped", "items_failed")
    return {
        "status": status(advanced, execution_id).status,
        "received": sorted(received),
        "nodes": {
            key: {f: node_status(advanced, execution_id, key)[f] for f in fields}
            for key in ("first", *names)
        },
    }


@pytest.mark.parametrize("sinks", [1, 2])
def test_odd_outputs_run_to_completion_fused_or_not(
    advanced: AdvancedPluginOrchestrator,
    plugins: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
    sinks: int,
) -> None:
    monkeypatch.setattr(stream_limit, "CPU_BOUND_SHARE", 0.0)  # fused regardless of load
    fused = _run(advanced, plugins, sinks)
    monkeypatch.setattr(stream_scheduler, "FUSE_CHAINS", False)
    plugins_alone = PluginManager()
    orch = AdvancedPluginOrchestrator(plugin_manager=plugins_alone)
    try:
        alone = _run(orch, plugins_alone, sinks)
    finally:
        assert orch.shutdown(5000)
    assert fused == alone
    assert fused["status"] is WorkflowExecutionStatus.Completed
    forwarded = sorted(v for c in FIRST for v in [ACCOUNT[c][0]] if v is not None)
    assert fused["received"] == sorted(forwarded * 50 * sinks)
    first = fused["nodes"]["first"]
    assert first["items_in"] == 50 * len(FIRST)
    if sinks == 1:  # a fan-out reads its outputs' ports later: the bad keys count as outputs
        assert first["items_failed"] == 50 * sum(1 for c in FIRST if ACCOUNT[c][2])
