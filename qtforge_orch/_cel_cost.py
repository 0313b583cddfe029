"""What a CEL expression may cost: an estimate checked at registration, a budget while it runs.

CEL has no loops, but its macros (``all``, ``exists``, ``exists_one``, ``map``, ``filter`` and
celpy's ``reduce``) run their body once per item, so nesting them multiplies: eight nested
``[0, ..., 9].all(...)`` are 10^8 body evaluations, hours of CPU. Two bounds hold every
accepted expression:

- **At registration** (``estimated_cost``): the number of evaluation steps (parse-tree node
  visits) the expression needs, a macro's body counted once per item of its collection: the
  length of a literal list or map, else ``UNKNOWN_COLLECTION_SIZE``. Above ``MAX_COST`` the
  expression is refused.
- **While running** (``budgeted_evaluator``): every node visit takes a step from a budget of
  ``MAX_EVALUATION_STEPS``, and an addition that builds a string, bytes or list also pays one
  step per ``BUILT_ITEMS_PER_STEP`` items it built (celpy's ``reduce`` can double a value per
  item). A step costs 5 to 30 us depending on the operation and the load, so the evaluation
  also stops after ``MAX_EVALUATION_S`` of wall time, checked every ``_CHECK_EVERY`` steps.
  Past either,
  or when the caller's stop check (``stop_evaluations_when``: the run was cancelled or timed
  out) says so, evaluation raises ``EvaluationStopped``, which is not an ``Exception``, so no
  handler inside celpy can swallow it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# Runtime budget of one evaluation, in parse-tree node visits, and in wall time.
MAX_EVALUATION_STEPS = 100_000
MAX_EVALUATION_S = 1.0
# Registration limit of the static estimate, in the same steps. Lower than the runtime
# budget: a step costs 10 to 20 us here, so an accepted expression over literals finishes
# well within MAX_EVALUATION_S, and the estimate counts more steps than celpy takes.
MAX_COST = 30_000
# A macro over data (a variable, a field) is counted as walking this many items.
UNKNOWN_COLLECTION_SIZE = 16
# An addition that builds a value pays one step per this many characters, bytes or items.
BUILT_ITEMS_PER_STEP = 256
# How many steps pass between two calls of the stop check (a check is a Python call).
_CHECK_EVERY = 256

_ITERATING_MACROS = frozenset({"all", "exists", "exists_one", "map", "filter", "reduce"})
# Macros whose result has as many items as their collection (at most).
_SIZE_KEEPING_MACROS = frozenset({"map", "filter"})


class EvaluationStopped(BaseException):
    """An evaluation ran out of its step budget, or its run was stopped.

    A ``BaseException`` on purpose: celpy turns the ``Exception`` s it meets into CEL error
    values, which would let an evaluation go on.
    """

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


# --------------------------------------------------------------------------- static estimate


def _macro_call(node: Any) -> str | None:
    """The macro name of a ``receiver.macro(...)`` node, else None."""
    from lark import Token, Tree

    if not isinstance(node, Tree) or node.data != "member_dot_arg" or len(node.children) < 3:
        return None
    name = node.children[1]
    if isinstance(name, Token) and str(name) in _ITERATING_MACROS:
        return str(name)
    return None


def _collection_size(node: Any) -> int:
    """How many items a macro's receiver holds: exact for literals, else assumed."""
    from lark import Tree

    while isinstance(node, Tree):
        if node.data == "list_lit":
            items = [c for c in node.children if isinstance(c, Tree)]
            return len(items[0].children) if items else 0
        if node.data == "map_lit":
            entries = [c for c in node.children if isinstance(c, Tree)]
            return len(entries[0].children) // 2 if entries else 0
        macro = _macro_call(node)
        if macro is not None:
            if macro in _SIZE_KEEPING_MACROS:
                node = node.children[0]
                continue
            return UNKNOWN_COLLECTION_SIZE
        trees = [c for c in node.children if isinstance(c, Tree)]
        if len(trees) != 1:
            break
        node = trees[0]
    return UNKNOWN_COLLECTION_SIZE


def estimated_cost(ast: Any) -> int:
    """Evaluation steps ``ast`` needs, each macro body counted once per item.

    Saturates just above ``MAX_COST``. Recursive: the parse tree's depth is already capped.
    """
    from lark import Tree

    if not isinstance(ast, Tree):
        return 0
    if _macro_call(ast) is not None:
        receiver, _, arguments = ast.children[:3]
        per_item = estimated_cost(arguments) + 1
        cost = 1 + estimated_cost(receiver) + _collection_size(receiver) * per_item
    else:
        cost = 1 + sum(estimated_cost(child) for child in ast.children)
    return min(cost, MAX_COST + 1)


# --------------------------------------------------------------------------- runtime budget

_local = threading.local()


@contextlib.contextmanager
def stop_evaluations_when(stop: Callable[[], bool] | None) -> Iterator[None]:
    """Within the block, evaluations on this thread end once ``stop()`` is true.

    ``stop`` is polled every ``_CHECK_EVERY`` steps; the evaluation raises ``EvaluationStopped``.
    """
    previous = getattr(_local, "stop", None)
    _local.stop = stop
    try:
        yield
    finally:
        _local.stop = previous


class Budget:
    """The steps and time one evaluation may still take, and its stop check."""

    __slots__ = ("check_at", "deadline", "left", "stop")

    def __init__(self, steps: int, seconds: float) -> None:
        self.left = steps
        self.check_at = steps - _CHECK_EVERY
        self.deadline = time.monotonic() + seconds
        self.stop: Callable[[], bool] | None = getattr(_local, "stop", None)

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left <= self.check_at:
            if self.left <= 0:
                raise EvaluationStopped(f"it took more than {MAX_EVALUATION_STEPS:,} steps")
            self.check_at = self.left - _CHECK_EVERY
            if time.monotonic() > self.deadline:
                raise EvaluationStopped(f"it ran for more than {MAX_EVALUATION_S:g} s")
            stop = self.stop
            if stop is not None and stop():
                raise EvaluationStopped("its execution was stopped (cancelled or timed out)")


_evaluator_class: Any = None


def budgeted_evaluator() -> Any:
    """The ``Evaluator`` of celpy with a step budget (built on first use: celpy loads lazily)."""
    global _evaluator_class
    if _evaluator_class is not None:
        return _evaluator_class
    from celpy.evaluation import Evaluator

    class BudgetedEvaluator(Evaluator):
        """Spends a step per node visit; macro bodies share their parent's budget."""

        def __init__(self, ast: Any, activation: Any, budget: Budget | None = None) -> None:
            super().__init__(ast, activation)
            if budget is None:
                budget = Budget(MAX_EVALUATION_STEPS, MAX_EVALUATION_S)
            self.budget = budget

        def sub_evaluator(self, ast: Any) -> Any:
            return BudgetedEvaluator(ast, self.activation, self.budget)

        def _visit_tree(self, tree: Any) -> Any:
            budget = self.budget
            budget.spend(1)
            result = super()._visit_tree(tree)
            if (
                tree.data == "addition"
                and len(tree.children) > 1
                and isinstance(result, str | bytes | list)
            ):
                budget.spend(len(result) // BUILT_ITEMS_PER_STEP)
            return result

    _evaluator_class = BudgetedEvaluator
    return _evaluator_class
