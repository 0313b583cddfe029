"""JSON-like data helpers: copying without recursion (user payloads may nest thousands of
levels deep), a depth check, and naming a value's JSON type in messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_copy(value: Any) -> Any:
    """Copy the dict/list structure of a JSON-like value; leaves are shared, never copied.

    Iterative (no recursion limit) and cycle-safe. Leaves may be arbitrary Python objects a
    plugin hands around, which ``copy.deepcopy`` could fail on or duplicate needlessly.
    """
    if not isinstance(value, dict | list):
        return value
    if isinstance(value, dict) and not any(isinstance(v, dict | list) for v in value.values()):
        return dict(value)  # the common flat case, ~10x cheaper than the general walk
    memo: dict[int, Any] = {}
    root: Any = {} if isinstance(value, dict) else []
    memo[id(value)] = root
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, dict | list):
                copied = memo.get(id(item))
                if copied is None:
                    copied = {} if isinstance(item, dict) else []
                    memo[id(item)] = copied
                    stack.append((item, copied))
                item = copied
            if isinstance(target, dict):
                target[key] = item
            else:
                target.append(item)
    return root


# Documents read with from_json may nest at most this deep (a limit in docs/reliability.md);
# deeper input is refused before anything walks it.
MAX_JSON_DEPTH = 10_000


def deeper_than(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether dicts/lists in ``value`` nest more than ``limit`` levels (iterative, cycle-safe)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list) or id(item) in seen:
            continue
        if depth > limit:
            return True
        seen.add(id(item))
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages about documents."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
