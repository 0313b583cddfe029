"""How values (task outputs, initial data, results) are stored, and read back.

1. **JSON** when the value is plain JSON data: dicts with ``str`` keys, lists, ``str``,
   ``int``, ``float``, ``bool`` and ``None`` (exact types, so nothing is silently converted: a
   tuple would come back as a list, an ``int`` key as a string). Read back as equal values.
2. Otherwise **pickle**, only if the journal was opened with ``pickle_fallback=True``.
   Unpickling runs code named by the file: only use it on journals you trust.
3. Otherwise (or if pickle fails too) a **lossy JSON preview** (unstorable values replaced by
   ``{"__unstorable__": type, "repr": ...}``) with ``resumable`` false and a note naming the
   type and where it was. Such a task is rerun on resume; nothing is dropped without a note.

Plain JSON data holding an integer too long for Python's int-to-text conversion (more than
``sys.get_int_max_str_digits()`` digits, 4,300 by default) is stored exactly as ``json-int``:
those integers are written in hexadecimal, which has no such limit, with the paths to them.

Reading never runs code unless the journal was opened with ``pickle_fallback``: a row marked
pickle is then a preview with a note. A payload that cannot be read (damaged JSON or pickle, an
unknown encoding) is reported the same way, a preview and a note, never an exception.
"""

from __future__ import annotations

import json
import json.encoder
import pickle
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

JSON = "json"
JSON_INT = "json-int"
PICKLE = "pickle"
LOSSY = "lossy"
_SCALARS = frozenset({str, int, float, bool, type(None)})
_REPR_CHARS = 200
_PREVIEW_DEPTH = 200


class Encoded(NamedTuple):
    """A value ready for a column: payload, encoding name, resumable flag and a note."""

    payload: str | bytes | None
    encoding: str | None
    resumable: int
    note: str | None


NOTHING = Encoded(None, None, 1, None)
# What most steps return (a no-op's output): stored without looking into it.
EMPTY_DICT = Encoded("{}", JSON, 1, None)


def _compact_dumps() -> Callable[[Any], str]:
    """``json.dumps(value, separators=(",", ":"))`` for values ``_plain`` accepted, 4x faster.

    The C encoder is made once instead of per call, without the circular-reference check (a
    value ``_plain`` accepted has no cycle: it would have exceeded the recursion limit).
    """
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the _json accelerator
        return lambda value: json.dumps(value, separators=(",", ":"))
    encoder = make(
        None, None, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda value: "".join(encoder(value, 0))


_dumps = _compact_dumps()


def _plain(value: Any) -> bool:
    """Whether ``value`` is exactly JSON data (raises RecursionError when nested too deep)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
                return False
        return True
    if kind is list:
        return all(type(item) in _SCALARS or _plain(item) for item in value)
    return False


def _type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def first_unstorable(value: Any) -> tuple[str, str]:
    """Where the first value JSON cannot store is, and its type: ``("['a'][0]", "tuple")``."""
    stack: list[tuple[Any, str]] = [(value, "")]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if id(item) in seen:
            return path or "the value", f"{_type_name(item)} (a reference cycle)"
        if kind is dict:
            seen.add(id(item))
            for key in item:
                if type(key) is not str:
                    return path or "the value", f"{_type_name(key)} key {key!r}"
            stack.extend((sub, f"{path}[{key!r}]") for key, sub in reversed(item.items()))
        elif kind is list:
            seen.add(id(item))
            stack.extend((sub, f"{path}[{i}]") for i, sub in reversed(list(enumerate(item))))
        else:
            return path or "the value", _type_name(item)
    return "the value", "a structure nested too deeply"


def _preview(value: Any, depth: int = 0) -> Any:
    kind = type(value)
    if _long_int(value):
        return {"__unstorable__": "int", "repr": f"an int of {value.bit_length()} bits"}
    if kind in _SCALARS:
        return value
    if depth > _PREVIEW_DEPTH:
        return {"__unstorable__": "nested too deeply"}
    if isinstance(value, dict):
        return {str(key): _preview(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_preview(item, depth + 1) for item in value]
    try:
        shown = repr(value)[:_REPR_CHARS]
    except Exception as exc:  # a broken __repr__ must not lose the record
        shown = f"<repr raised {type(exc).__name__}>"
    return {"__unstorable__": _type_name(value), "repr": shown}


def _lossy(value: Any, note: str) -> Encoded:
    try:
        payload: str | None = json.dumps(_preview(value), separators=(",", ":"))
    except (ValueError, RecursionError):
        payload = None
    return Encoded(payload, LOSSY if payload is not None else None, 0, note)


def _long_int(value: Any) -> bool:
    """Whether ``str(value)`` may exceed the int-to-text limit (a few shorter ints too)."""
    limit = sys.get_int_max_str_digits()
    # A decimal digit carries log2(10) > 3.32 bits: below 3 bits per digit nothing is refused.
    return bool(limit) and type(value) is int and value.bit_length() > 3 * limit


def _hex_ints(value: Any) -> tuple[Any, list[list[Any]]]:
    """A copy of plain ``value`` with long ints as hex strings, and the path to each one."""
    paths: list[list[Any]] = []

    def copy(item: Any, path: list[Any]) -> Any:
        if type(item) is dict:
            return {key: copy(sub, [*path, key]) for key, sub in item.items()}
        if type(item) is list:
            return [copy(sub, [*path, i]) for i, sub in enumerate(item)]
        if _long_int(item):
            paths.append(path)
            return hex(item)
        return item

    return copy(value, []), paths


def _encode_json(value: Any) -> Encoded:
    """Plain ``value`` as JSON text (raises ValueError, RecursionError)."""
    try:
        return Encoded(_dumps(value), JSON, 1, None)
    except ValueError:  # an int too long for text: only hexadecimal is unlimited
        copied, paths = _hex_ints(value)
        return Encoded(_dumps({"value": copied, "ints": paths}), JSON_INT, 1, None)


def encode(value: Any, pickle_fallback: bool) -> Encoded:
    """Store ``value``: JSON, else pickle (if allowed), else a lossy preview with a note."""
    if value is None:
        return NOTHING
    if value.__class__ is dict and not value:
        return EMPTY_DICT
    try:
        if _plain(value):
            return _encode_json(value)
    except (ValueError, RecursionError):
        pass
    where, what = first_unstorable(value)
    if not pickle_fallback:
        return _lossy(
            value,
            f"{what} at {where} cannot be stored as JSON and pickle_fallback is off; "
            "stored as a preview, the task is not resumable",
        )
    try:
        return Encoded(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), PICKLE, 1, None)
    except Exception as exc:  # pickle raises anything a __reduce__ raises
        return _lossy(
            value,
            f"{what} at {where} cannot be stored as JSON, and pickle failed "
            f"({type(exc).__name__}: {exc}); stored as a preview, the task is not resumable",
        )


class Decoded(NamedTuple):
    """A value read back, and a note when it is not the value that was stored."""

    value: Any
    note: str | None


_NOT_UNPICKLED = (
    "stored with pickle, and this journal was opened without pickle_fallback, so it is not "
    "unpickled (unpickling runs code the file names); shown as a preview, not resumable"
)


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8")


def _with_ints(document: Any) -> Any:
    """Undo ``_hex_ints``: put the long ints back at their paths."""
    value, paths = document["value"], document["ints"]
    for path in paths:
        if not path:
            return int(value, 16)
        holder = value
        for step in path[:-1]:
            holder = holder[step]
        holder[path[-1]] = int(holder[path[-1]], 16)
    return value


def decode(payload: str | bytes | None, encoding: str | None, allow_pickle: bool) -> Decoded:
    """The stored value (a lossy preview as stored), never raising.

    A pickle is read only when ``allow_pickle``; otherwise, and for a payload that cannot be
    read, the value is a preview (or None) and the note says why.
    """
    if payload is None or encoding is None:
        return Decoded(None, None)
    try:
        if encoding == PICKLE:
            if not allow_pickle:
                size = len(payload)
                return Decoded(
                    {"__unstorable__": "pickle", "repr": f"<{size} bytes of pickle, not read>"},
                    _NOT_UNPICKLED,
                )
            data = payload if isinstance(payload, bytes) else payload.encode()
            return Decoded(pickle.loads(data), None)
        if encoding in (JSON, LOSSY):
            return Decoded(json.loads(_text(payload)), None)
        if encoding == JSON_INT:
            return Decoded(_with_ints(json.loads(_text(payload))), None)
        problem = f"unknown encoding {encoding!r}"
    except Exception as exc:  # any damage a file can hold; unpickling raises anything
        problem = f"{type(exc).__name__}: {str(exc)[:_REPR_CHARS]}"
    return Decoded(None, f"damaged: the stored {encoding} value cannot be read ({problem})")
