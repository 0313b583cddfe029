"""Step conditions: a Python callable or a CEL expression string, evaluated without ``eval``.

CEL (https://github.com/google/cel-spec) is a small, side-effect-free expression language:
no statements, no attribute access on host objects, no imports, no loops beyond bounded
macros. cel-python (``celpy``) interprets the parse tree directly; we always use its
interpreter (never its ``CompiledRunner``, which transpiles to Python and ``exec``s it), with
a step budget: nested macros multiply, so an expression's cost is estimated and capped at
registration and every evaluation stops after ``MAX_EVALUATION_STEPS`` (see ``_cel_cost``).

``celpy`` is imported lazily (inside functions) so ``import qtforge_orch`` stays cheap and a
program that never uses string conditions never pays for the parser (~0.3 s to build).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from ._cel_cost import (
    MAX_COST,
    MAX_EVALUATION_S,
    MAX_EVALUATION_STEPS,
    EvaluationStopped,
    budgeted_evaluator,
    estimated_cost,
    stop_evaluations_when,
)

__all__ = [
    "MAX_COST",
    "MAX_EVALUATION_S",
    "MAX_EVALUATION_STEPS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING_DEPTH",
    "CompiledCondition",
    "Condition",
    "ConditionError",
    "check_condition",
    "compile_condition",
    "evaluate_condition",
    "stop_evaluations_when",
]

MAX_EXPRESSION_LENGTH = 4096
# Depth of the CEL parse tree (a plain comparison is ~12, each pair of parentheses adds ~10).
# celpy evaluates recursively, ~4 Python frames per level; capping the depth at compile time
# turns a RecursionError inside a worker thread into a registration-time error.
MAX_NESTING_DEPTH = 200

Condition: TypeAlias = str | Callable[[dict[str, Any]], bool]

# How much of an expression or an error cause goes into a message: celpy's own messages embed
# the whole activation (every variable and protobuf annotation), which is useless to a reader.
_SNIPPET = 200
# Data nested deeper than this is presented to CEL as null instead of recursing without bound
# (self-referencing containers, or accidental huge trees).
_MAX_DATA_DEPTH = 64
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Macros are dispatched by name inside celpy's Evaluator rather than through its function
# table, so they are listed here explicitly.
_MACROS = frozenset({"has", "dyn", "map", "filter", "all", "exists", "exists_one", "reduce", "min"})


class ConditionError(ValueError):
    """A condition that cannot be compiled or evaluated; the message names the expression."""

    expression: str

    def __init__(self, message: str, expression: str = "") -> None:
        super().__init__(message)
        self.expression = expression


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quote(expression: str) -> str:
    return repr(_snippet(expression))


# --------------------------------------------------------------------------- environment

_ENV_LOCK = threading.Lock()
# celpy's parser singleton stores the text being parsed on a shared object, and
# Environment.program() assigns to the environment, so compiling is serialised.
# Evaluation is not: InterpretedRunner.evaluate() builds a fresh Evaluator and Activation on
# every call and never mutates the parse tree, so one runner serves many threads at once.
_COMPILE_LOCK = threading.Lock()
_environment: Any = None
_allowed_functions: frozenset[str] = frozenset()


def _get_environment() -> Any:
    global _environment, _allowed_functions
    if _environment is None:
        with _ENV_LOCK:
            if _environment is None:
                import celpy
                from celpy.evaluation import base_functions

                previous_limit = sys.getrecursionlimit()
                env = celpy.Environment(runner_class=celpy.InterpretedRunner)
                # celpy forces the limit to 2500 for its recursive evaluator; never lower a
                # limit the application raised on purpose.
                sys.setrecursionlimit(max(previous_limit, sys.getrecursionlimit()))
                _allowed_functions = _MACROS | frozenset(
                    name for name in base_functions if not name.startswith(("_", "!", "-"))
                )
                _environment = env
    return _environment


# --------------------------------------------------------------------------- data conversion


def _to_json_like(value: Any, depth: int = 0) -> Any:
    """Reduce arbitrary Python data to what ``celpy.json_to_cel`` accepts, never raising."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return int(value)  # drops IntEnum and other int subclasses
        # CEL ints are 64-bit; JSON numbers beyond that are doubles anyway.
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if isinstance(value, float):
        return float(value)
    if depth >= _MAX_DATA_DEPTH:
        return None
    if isinstance(value, Mapping):
        result: dict[Any, Any] = {}
        for key, item in list(value.items()):
            if isinstance(key, bool | str) or (
                isinstance(key, int) and _INT64_MIN <= key <= _INT64_MAX
            ):
                result[key] = _to_json_like(item, depth + 1)
            else:
                result[_safe_str(key)] = _to_json_like(item, depth + 1)
        return result
    if isinstance(value, list | tuple | set | frozenset):
        # Sets become lists so `"x" in tags` works; CEL has no set type.
        return [_to_json_like(item, depth + 1) for item in list(value)]
    if isinstance(value, datetime):
        # CEL timestamps are absolute; a naive datetime is taken as UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return value
    return _safe_str(value)


def _safe_str(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _to_activation(data: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    from celpy.adapter import json_to_cel

    # Only the names the expression mentions are converted: the shared data may hold large
    # payloads, and CEL cannot reach a variable it does not name.
    activation: dict[str, Any] = {}
    for name in names:
        try:
            if name not in data:
                continue
            raw = data[name]
        except Exception:
            continue
        try:
            activation[name] = json_to_cel(_to_json_like(raw))
        except Exception:
            # A value celpy still refuses (e.g. a datetime outside CEL's range) is left
            # out, so the expression reports it as an undeclared reference.
            continue
    return activation


# --------------------------------------------------------------------------- compilation


class CompiledCondition:
    """A parsed, checked CEL expression; ``evaluate`` may be called from any thread."""

    __slots__ = ("_names", "_runner", "source")

    source: str

    def __init__(self, source: str, runner: Any, names: frozenset[str]) -> None:
        self.source = source
        self._runner = runner
        self._names = names

    def evaluate(self, data: Mapping[str, Any]) -> bool:
        """True or False for ``data``; raises ConditionError on any failure or non-bool."""
        import celpy.celtypes

        if not isinstance(data, Mapping):
            raise ConditionError(
                f"condition {_quote(self.source)} needs a mapping of variables, "
                f"got {type(data).__name__}",
                self.source,
            )
        activation = _to_activation(data, self._names)
        try:
            result = self._run(activation)
        except EvaluationStopped as stopped:
            raise _stopped(self.source, stopped) from None
        except RecursionError:
            raise ConditionError(
                f"condition {_quote(self.source)} is nested too deeply to evaluate",
                self.source,
            ) from None
        except Exception as exc:
            raise ConditionError(
                f"condition {_quote(self.source)} could not be evaluated: {_describe(exc)}",
                self.source,
            ) from None
        if isinstance(result, celpy.celtypes.BoolType | bool):
            return bool(result)
        raise ConditionError(
            f"condition {_quote(self.source)} must produce true or false, "
            f"got {_describe_value(result)}; compare the value explicitly, "
            f"e.g. 'x == true' or 'size(x) > 0'",
            self.source,
        )

    def evaluate_value(self, data: Mapping[str, Any]) -> Any:
        """The expression's value for ``data`` as plain data (dict, list, str, numbers, bool,
        None, datetime, timedelta); raises ConditionError on any failure."""
        activation = _to_activation(data, self._names)
        try:
            return _from_cel(self._run(activation))
        except EvaluationStopped as stopped:
            raise _stopped(self.source, stopped, "expression") from None
        except RecursionError:
            raise ConditionError(
                f"expression {_quote(self.source)} is nested too deeply to evaluate", self.source
            ) from None
        except Exception as exc:
            raise ConditionError(
                f"expression {_quote(self.source)} could not be evaluated: {_describe(exc)}",
                self.source,
            ) from None

    def _run(self, activation: dict[str, Any]) -> Any:
        """celpy's interpreter run as ``InterpretedRunner.evaluate`` runs it, with a budget."""
        runner = self._runner
        return budgeted_evaluator()(runner.ast, runner.new_activation()).evaluate(activation)

    def __repr__(self) -> str:
        return f"CompiledCondition({_quote(self.source)})"


def _stopped(source: str, stopped: EvaluationStopped, what: str = "condition") -> ConditionError:
    return ConditionError(
        f"{what} {_quote(source)} was stopped: {stopped.why} (an evaluation may take "
        f"{MAX_EVALUATION_STEPS:,} steps and {MAX_EVALUATION_S:g} s); walk less data or use "
        "a callable",
        source,
    )


def _from_cel(value: Any) -> Any:
    """celpy's value types -> plain Python data (iterative over containers' depth is bounded
    by the expression, which is checked for depth at compile time)."""
    import celpy.celtypes as cel

    if isinstance(value, cel.BoolType | bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, dict):
        return {_from_cel(key): _from_cel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_cel(item) for item in value]
    if value is None or isinstance(value, cel.NullType):
        return None
    if isinstance(value, Exception):  # celpy returns CELEvalError values instead of raising
        raise value
    return value


def _describe(exc: BaseException) -> str:
    """The cause of a celpy failure without the activation dump celpy appends."""
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    if exc.args and not isinstance(exc.args[0], str):
        message = f"{type(exc).__name__}: {exc}"
    cut = message.find(" (in activation")
    if cut >= 0:
        message = message[:cut]
    message = message.replace("undeclared reference to", "unknown variable or function")
    return _snippet(message)


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value).__name__.removesuffix("Type").lower() or type(value).__name__
    return f"{kind} {_snippet(repr(value), 60)}"


def compile_condition(expression: str) -> CompiledCondition:
    """Parse and check a CEL expression; cached, so registering and running share the work."""
    if not isinstance(expression, str):
        raise ConditionError(
            f"a condition must be a CEL expression string or a callable, "
            f"got {type(expression).__name__}"
        )
    if not expression.strip():
        raise ConditionError(
            "a condition expression is empty; write a CEL expression such as "
            "'file_valid == true', or leave the condition unset",
            expression,
        )
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise ConditionError(
            f"condition {_quote(expression)} is {len(expression)} characters long; "
            f"the limit is {MAX_EXPRESSION_LENGTH}: use a callable for complex logic",
            expression,
        )
    return _compile_cached(expression)


@functools.lru_cache(maxsize=1024)
def _compile_cached(expression: str) -> CompiledCondition:
    from celpy.celparser import CELParseError

    env = _get_environment()
    with _COMPILE_LOCK:
        try:
            ast = env.compile(expression)
        except CELParseError as exc:
            raise ConditionError(
                f"condition {_quote(expression)} is not valid CEL: "
                f"{_syntax_detail(expression, exc)}",
                expression,
            ) from None
        except RecursionError:
            raise ConditionError(
                f"condition {_quote(expression)} is nested too deeply", expression
            ) from None
        except Exception as exc:
            raise ConditionError(
                f"condition {_quote(expression)} is not valid CEL: {_describe(exc)}",
                expression,
            ) from None
        names = _check_tree(expression, ast)
        cost = estimated_cost(ast)
        if cost > MAX_COST:
            raise ConditionError(
                f"condition {_quote(expression)} may need more than {MAX_COST:,} evaluation "
                f"steps (the limit): its macros (all, exists, map, filter...) nest so that "
                f"their bodies run too often; nest fewer of them or use a callable",
                expression,
            )
        runner = env.program(ast)
    return CompiledCondition(expression, runner, names)


def _syntax_detail(expression: str, exc: Any) -> str:
    # celpy re-raises lark's error; the original says whether the input simply ran out.
    token = getattr(exc.__context__, "token", None)
    if getattr(token, "type", None) == "$END":
        return "the expression ends too early (an operand or a closing bracket is missing)"
    line, column = getattr(exc, "line", None), getattr(exc, "column", None)
    lines = expression.splitlines() or [""]
    if isinstance(line, int) and isinstance(column, int) and 1 <= line <= len(lines):
        near = lines[line - 1][max(column - 1, 0) :][:30]
        where = f"unexpected input at line {line}, column {column}"
        if not near:
            return f"{where} (the expression ends too early)"
        hint = "; compare with '==', not '='" if near.startswith("=") and near[1:2] != "=" else ""
        return f"{where} near {near!r}{hint}"
    detail = " ".join(str(exc.args[0]).split()) if exc.args else "syntax error"
    return _snippet(detail)


def _check_tree(expression: str, ast: Any) -> frozenset[str]:
    """Reject unknown functions and over-deep trees; return the variable names used."""
    from lark import Token, Tree

    names: set[str] = set()
    stack: list[tuple[Any, int]] = [(ast, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_NESTING_DEPTH:
            raise ConditionError(
                f"condition {_quote(expression)} is nested too deeply; "
                f"simplify it or use a callable",
                expression,
            )
        children = node.children
        rule = node.data
        if rule in ("ident", "dot_ident") and children and isinstance(children[0], Token):
            names.add(str(children[0]))
        elif rule in ("ident_arg", "dot_ident_arg", "member_dot_arg"):
            # The called name is the first token child (after the receiver for methods).
            for child in children:
                if isinstance(child, Token):
                    _check_function(expression, str(child))
                    break
        stack.extend((child, depth + 1) for child in children)
    return frozenset(names)


def _check_function(expression: str, name: str) -> None:
    if name in _allowed_functions:
        return
    raise ConditionError(
        f"condition {_quote(expression)} calls unknown function {name!r}; CEL offers "
        f"{', '.join(sorted(_allowed_functions))}",
        expression,
    )


# --------------------------------------------------------------------------- public helpers


def check_condition(cond: Any) -> None:
    """Raise ConditionError unless ``cond`` is a callable or a compilable CEL string."""
    if isinstance(cond, str):
        compile_condition(cond)
        return
    if not callable(cond):
        raise ConditionError(
            f"a condition must be a CEL expression string or a callable taking the step's "
            f"data dict, got {type(cond).__name__}"
        )


def evaluate_condition(cond: Condition, data: Mapping[str, Any]) -> bool:
    """Evaluate a string or callable condition; every failure surfaces as ConditionError."""
    if isinstance(cond, str):
        return compile_condition(cond).evaluate(data)
    if not callable(cond):
        check_condition(cond)  # raises with the standard message
    try:
        # A shallow copy: the condition only decides, it must not rewrite the step's input.
        return bool(cond(dict(data)))
    except Exception as exc:
        name = getattr(cond, "__qualname__", None) or type(cond).__name__
        raise ConditionError(
            f"condition callable {name} raised {type(exc).__name__}: {_snippet(_safe_str(exc))}",
            str(name),
        ) from exc
