"""CEL step conditions: compilation, evaluation, safety and thread-safety."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

import pytest

from qtforge_orch._conditions import (
    MAX_EXPRESSION_LENGTH,
    CompiledCondition,
    ConditionError,
    check_condition,
    compile_condition,
    evaluate_condition,
)

# --------------------------------------------------------------------------- compile


def test_import_does_not_load_celpy() -> None:
    code = (
        "import sys, qtforge_orch, qtforge_orch._conditions, "
        "qtforge_orch.orchestration.workflow; "
        "assert 'celpy' not in sys.modules, 'celpy imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_compile_returns_compiled_condition_with_source() -> None:
    compiled = compile_condition("file_valid == true")
    assert isinstance(compiled, CompiledCondition)
    assert compiled.source == "file_valid == true"
    assert "file_valid == true" in repr(compiled)


def test_compile_is_cached() -> None:
    assert compile_condition("a == 1 && b == 2") is compile_condition("a == 1 && b == 2")


@pytest.mark.parametrize("bad", [None, 1, 1.5, b"x == 1", ["x"], {"x": 1}])
def test_compile_rejects_non_strings(bad: Any) -> None:
    with pytest.raises(ConditionError, match="CEL expression string"):
        compile_condition(bad)


@pytest.mark.parametrize("empty", ["", "   ", "\n\t"])
def test_compile_rejects_empty(empty: str) -> None:
    with pytest.raises(ConditionError, match="empty"):
        compile_condition(empty)


def test_compile_rejects_too_long() -> None:
    expression = "x == 10 || " * (MAX_EXPRESSION_LENGTH // 10) + "x == 2"
    assert len(expression) > MAX_EXPRESSION_LENGTH
    with pytest.raises(ConditionError, match=str(MAX_EXPRESSION_LENGTH)) as info:
        compile_condition(expression)
    # The message quotes the expression, but truncated.
    assert len(str(info.value)) < 600


def test_compile_accepts_max_length() -> None:
    expression = "x == 1"
    expression = expression + " " * (MAX_EXPRESSION_LENGTH - len(expression))
    assert compile_condition(expression).evaluate({"x": 1}) is True


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("x +", "ends too early"),
        ("x + * 2", "line 1, column 5"),
        ("a = 1", "compare with '=='"),
        ("a == 'unterminated", "unterminated"),
        ("(x == 1", "ends too early"),
        ("x == 1 )", "column 8"),
    ],
)
def test_syntax_errors_name_the_expression_and_position(expression: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(expression)
    message = str(info.value)
    assert "not valid CEL" in message
    assert repr(expression) in message
    assert fragment in message
    assert info.value.expression == expression


def test_deep_nesting_is_rejected_at_compile_time() -> None:
    with pytest.raises(ConditionError, match="nested too deeply"):
        compile_condition("1 + " * 300 + "1 == 2")
    with pytest.raises(ConditionError, match="nested too deeply"):
        compile_condition("(" * 60 + "true" + ")" * 60)


def test_moderate_nesting_is_fine() -> None:
    assert compile_condition("(" * 10 + "x" + ")" * 10 + " == 1").evaluate({"x": 1})


def test_unknown_function_rejected_at_compile_time() -> None:
    with pytest.raises(ConditionError, match="unknown function 'upper'"):
        compile_condition("name.upper() == 'A'")


@pytest.mark.parametrize(
    "expression",
    [
        "size(items) > 1",
        "items.size() > 1",
        "items.all(i, i > 0)",
        "items.exists(i, i == 2)",
        "items.exists_one(i, i == 2)",
        "items.map(i, i * 2)[0] == 2",
        "items.filter(i, i > 1).size() == 1",
        "has(meta.kind)",
        "dyn(count) == 3",
        "name.startsWith('re') && name.endsWith('rt') && name.contains('po')",
        "name.matches('^rep')",
        "int('3') == count && string(count) == '3' && double(count) == 3.0",
        "type(count) == int",
        "duration('2s') < duration('3s')",
        "timestamp('2024-01-01T00:00:00Z') < when",
    ],
)
def test_standard_cel_functions_and_macros(expression: str) -> None:
    data = {
        "items": [1, 2],
        "meta": {"kind": "csv"},
        "count": 3,
        "name": "report",
        "when": datetime(2025, 1, 1, tzinfo=UTC),
    }
    assert compile_condition(expression).evaluate(data) is True


# --------------------------------------------------------------------------- evaluate


class _Level(IntEnum):
    A = 1
    B = 2


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("file_valid == true", {"file_valid": True}, True),
        ("file_valid == true", {"file_valid": False}, False),
        ('row_count < 10000 && kind == "csv"', {"row_count": 5, "kind": "csv"}, True),
        ('row_count < 10000 && kind == "csv"', {"row_count": 5, "kind": "json"}, False),
        ("ratio > 0.5", {"ratio": 0.75}, True),
        ("value == null", {"value": None}, True),
        ("'b' in tags", {"tags": ["a", "b"]}, True),
        ("'b' in tags", {"tags": {"a", "b"}}, True),  # sets become lists
        ("'k' in cfg", {"cfg": {"k": 1}}, True),
        ("cfg.nested.flag", {"cfg": {"nested": {"flag": True}}}, True),
        ("level == 2", {"level": _Level.B}, True),
        ("pair[1] == 'y'", {"pair": ("x", "y")}, True),
        ("om.a == 1", {"om": OrderedDict(a=1)}, True),
        ("true", {}, True),
        ("1 < 2 ? flag : false", {"flag": True}, True),
        ("took < duration('10s')", {"took": timedelta(seconds=2)}, True),
    ],
)
def test_evaluate(expression: str, data: dict[str, Any], expected: bool) -> None:
    assert compile_condition(expression).evaluate(data) is expected
    assert evaluate_condition(expression, data) is expected


def test_naive_datetime_is_taken_as_utc() -> None:
    data = {"when": datetime(2024, 6, 1, 12, 0)}
    assert compile_condition("when == timestamp('2024-06-01T12:00:00Z')").evaluate(data)


def test_big_ints_become_doubles() -> None:
    assert compile_condition("x > 1.0").evaluate({"x": 2**80})


def test_non_json_values_are_stringified() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing!"

    assert compile_condition("t == 'thing!'").evaluate({"t": Thing()})
    assert compile_condition("b == \"b'xy'\"").evaluate({"b": b"xy"})
    assert compile_condition("m[2] == 'two'").evaluate({"m": {2: "two"}})
    assert compile_condition("m['(1, 2)'] == 3").evaluate({"m": {(1, 2): 3}})


def test_unprintable_values_do_not_crash() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert compile_condition("b == '<Broken>'").evaluate({"b": Broken()})


def test_self_referencing_data_does_not_recurse_forever() -> None:
    data: dict[str, Any] = {"flag": True}
    data["self"] = data
    assert compile_condition("self.self.self.flag").evaluate(data)


def test_unused_and_non_identifier_keys_are_ignored() -> None:
    class Explosive:
        def __str__(self) -> str:  # would be slow/bad if converted
            raise AssertionError("unused variables must not be converted")

    data = {"x": 1, "huge": Explosive(), "not an identifier": 1, 3: "int key"}
    assert compile_condition("x == 1").evaluate(data)  # type: ignore[arg-type]


def test_undeclared_variable_error_is_short_and_useful() -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition("missing_key == 1").evaluate({"other": 1})
    message = str(info.value)
    assert "'missing_key == 1'" in message
    assert "missing_key" in message
    assert "Activation" not in message and "google" not in message
    assert len(message) < 400


def test_type_mismatch_error_names_the_expression() -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition("x + 1 == 2").evaluate({"x": "text"})
    assert "'x + 1 == 2'" in str(info.value)
    assert "could not be evaluated" in str(info.value)
    assert len(str(info.value)) < 500


def test_division_by_zero() -> None:
    with pytest.raises(ConditionError, match="divide by zero"):
        compile_condition("1 / zero == 1").evaluate({"zero": 0})


@pytest.mark.parametrize(
    ("expression", "data"),
    [("x", {"x": 1}), ("x", {"x": "true"}), ("x", {"x": None}), ("x", {"x": {"a": 1}}), ("1", {})],
)
def test_non_bool_result_is_an_error(expression: str, data: dict[str, Any]) -> None:
    with pytest.raises(ConditionError, match="must produce true or false"):
        compile_condition(expression).evaluate(data)


def test_evaluate_requires_a_mapping() -> None:
    with pytest.raises(ConditionError, match="mapping"):
        compile_condition("true").evaluate([1, 2])  # type: ignore[arg-type]


def test_condition_error_is_a_value_error() -> None:
    assert issubclass(ConditionError, ValueError)


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "__import__('os').system('echo pwned')",
        "().__class__.__bases__",
        '"{0.__class__}".format(x)',
        "lambda: 1",
        'exec("x")',
        'eval("1")',
        'open("/etc/passwd")',
        "globals()",
        "getattr(x, '__class__')",
        "x.__class__.__mro__",
        "x.__dict__ == {}",
        "[c for c in x]",
        "import os",
        "x; y",
    ],
)
def test_python_is_never_executed(expression: str) -> None:
    """Every attempt fails with ConditionError at compile or evaluation time."""
    with pytest.raises(ConditionError):
        compile_condition(expression).evaluate({"x": {"a": 1}, "y": 1})


def test_attribute_walks_on_data_do_not_reach_python_objects() -> None:
    class Secret:
        token = "hunter2"

        def __str__(self) -> str:
            return "secret"

    data = {"obj": Secret(), "d": {"k": 1}, "s": "text", "n": 5}
    for expression in (
        "obj.token == 'hunter2'",
        "obj.__class__ == obj",
        "d.__class__ == d",
        "d.keys == d",
        "d.items == d",
        "s.__len__ == 4",
        "n.real == 5",
    ):
        with pytest.raises(ConditionError):
            compile_condition(expression).evaluate(data)
    # A non-JSON object is only ever seen as its string form.
    assert compile_condition("obj == 'secret'").evaluate(data)


def test_check_condition() -> None:
    check_condition("a == 1")
    check_condition(lambda data: True)
    with pytest.raises(ConditionError):
        check_condition("a ==")
    with pytest.raises(ConditionError, match="callable"):
        check_condition(42)
    with pytest.raises(ConditionError):
        check_condition(None)


def test_evaluate_condition_with_callables() -> None:
    seen: list[dict[str, Any]] = []

    def record(data: dict[str, Any]) -> Any:
        seen.append(data)
        data["mutated"] = True
        return data["n"]  # truthy int, coerced to bool

    original = {"n": 3}
    assert evaluate_condition(record, original) is True
    assert evaluate_condition(record, {"n": 0}) is False
    assert "mutated" not in original  # the callable got a copy
    assert seen[0]["n"] == 3


def test_evaluate_condition_wraps_callable_failures() -> None:
    def broken(data: dict[str, Any]) -> bool:
        raise KeyError("absent")

    with pytest.raises(ConditionError, match="broken raised KeyError") as info:
        evaluate_condition(broken, {})
    assert isinstance(info.value.__cause__, KeyError)

    class Ambiguous:
        def __bool__(self) -> bool:
            raise ValueError("truth value is ambiguous")

    def ambiguous(data: dict[str, Any]) -> bool:
        return Ambiguous()  # type: ignore[return-value]

    with pytest.raises(ConditionError, match="ambiguous"):
        evaluate_condition(ambiguous, {})


def test_evaluate_condition_rejects_non_conditions() -> None:
    with pytest.raises(ConditionError):
        evaluate_condition(42, {})  # type: ignore[arg-type]


@pytest.mark.slow
def test_recursion_limit_is_not_lowered() -> None:
    code = (
        "import sys; sys.setrecursionlimit(5000); "
        "from qtforge_orch._conditions import compile_condition; "
        "assert compile_condition('x == 1').evaluate({'x': 1}); "
        "assert sys.getrecursionlimit() == 5000, sys.getrecursionlimit()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- threads


@pytest.mark.slow
def test_concurrent_evaluation_from_8_threads() -> None:
    compiled = compile_condition("items.all(i, i < limit) && kind == 'csv' && count * 2 == twice")
    errors: list[BaseException] = []
    mismatches: list[tuple[int, bool]] = []
    barrier = threading.Barrier(8)

    def worker(seed: int) -> None:
        try:
            barrier.wait()
            for n in range(80):
                limit = (seed * 80 + n) % 7
                data = {
                    "items": list(range(5)),
                    "limit": limit,
                    "kind": "csv",
                    "count": n,
                    "twice": 2 * n,
                }
                expected = limit > 4
                result = compiled.evaluate(data)
                if result is not expected:
                    mismatches.append((n, result))
                # A cached string condition compiled concurrently must be safe too.
                if evaluate_condition(f"v == {n % 5}", {"v": n % 5}) is not True:
                    mismatches.append((n, False))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert not mismatches


def test_concurrent_errors_stay_per_thread() -> None:
    compiled = compile_condition("value > 0")
    outcomes: dict[int, str] = {}
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        barrier.wait()
        for _ in range(100):
            data: dict[str, Any] = {"value": 1} if index % 2 else {"value": "text"}
            try:
                outcomes[index] = str(compiled.evaluate(data))
            except ConditionError:
                outcomes[index] = "error"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes == {i: ("True" if i % 2 else "error") for i in range(8)}
