"""``FilledOnRead``: a dict whose costly entries are computed the first time it is read.

A status call of a large execution returns one report per step, and building them costs more
than the call's other work together (a dict and two timestamps per step). Most callers read
the result or the status and never look at a step report, so the reports are added to the
dict the first time anything reads them: one of those keys, iteration, the values, comparison,
``repr``, JSON encoding, a copy or a pickle (reading another key does not fill it). From then
on it is a plain dict with the same entries, in the same order, as if they had been there
from the start.

Every read through Python (and through C code that reads a mapping through its methods:
``json``, ``dict(d)``, ``{**d}``, ``f(**d)``, ``copy``, ``pickle``) fills it first. C code
that walks a dict's storage directly without calling its methods (``PyDict_Next``: pydantic's
serializer, some C extensions) sees only the entries filled so far: code of this package that
hands such a dict to one fills it first (``filled``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

# Filling is rare (once per status object) and must not run twice for one dict when two
# threads read it at once: one lock for all of them is enough.
_FILL_LOCK = threading.Lock()


class FilledOnRead(dict[str, Any]):
    """A dict whose entries from ``pending()`` are added before anything reads it.

    Args:
        entries: The entries known at once.
        pending: Computes the remaining entries (called at most once).
        pending_keys: The keys ``pending()`` returns, when known in advance: then reading
            another key, testing membership and ``len`` do not fill. None: every read fills.
        before: The key the pending entries go before (their place in the order); at the end
            when None.
    """

    __slots__ = ("_before", "_pending", "_pending_keys")

    def __init__(
        self,
        entries: dict[str, Any],
        pending: Callable[[], dict[str, Any]],
        pending_keys: frozenset[str] | None = None,
        before: str | None = None,
    ) -> None:
        dict.__init__(self, entries)
        self._pending: Callable[[], dict[str, Any]] | None = pending
        self._pending_keys = pending_keys
        self._before = before

    def fill(self) -> None:
        """Add the pending entries now (nothing once they are there)."""
        if self._pending is None:
            return
        with _FILL_LOCK:
            pending = self._pending
            if pending is None:
                return
            added = pending()
            moved: list[tuple[str, Any]] = []
            if self._before is not None and dict.__contains__(self, self._before):
                keys = list(dict.keys(self))
                for key in keys[keys.index(self._before) :]:
                    moved.append((key, dict.pop(self, key)))
            dict.update(self, added)
            dict.update(self, moved)
            self._pending = None

    # --- every read and write fills first ------------------------------------------------
    def _fill_for(self, key: object) -> None:
        # One key's read fills only when the key may be a pending one.
        if self._pending is not None:
            known = self._pending_keys
            if known is None or key in known:
                self.fill()

    def __getitem__(self, key: str) -> Any:
        self._fill_for(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        known = self._pending_keys
        if self._pending is not None and known is not None and key in known:
            return True
        self._fill_for(key)
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self.fill()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self.fill()
        return dict.__reversed__(self)

    def __len__(self) -> int:
        known = self._pending_keys
        if self._pending is not None and known is not None:
            return dict.__len__(self) + len(known)
        self.fill()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        self.fill()
        if isinstance(other, FilledOnRead):
            other.fill()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # a dict: unhashable

    def __repr__(self) -> str:
        self.fill()
        return dict.__repr__(self)

    def __or__(self, other: Any) -> Any:
        self.fill()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        if not isinstance(other, dict):
            return NotImplemented
        self.fill()
        result = dict(other)
        result.update(dict.items(self))
        return result

    def __ior__(self, other: Any) -> FilledOnRead:  # type: ignore[override]
        self.fill()
        dict.update(self, other)
        return self

    def __setitem__(self, key: str, value: Any) -> None:
        self.fill()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        self.fill()
        dict.__delitem__(self, key)

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # A copy or a pickle is a plain dict of the filled entries.
        self.fill()
        return (dict, (dict(dict.items(self)),))

    def get(self, key: str, default: Any = None) -> Any:
        self._fill_for(key)
        return dict.get(self, key, default)

    def keys(self) -> Any:
        self.fill()
        return dict.keys(self)

    def values(self) -> Any:
        self.fill()
        return dict.values(self)

    def items(self) -> Any:
        self.fill()
        return dict.items(self)

    def copy(self) -> dict[str, Any]:
        self.fill()
        return dict.copy(self)

    def pop(self, key: str, *default: Any) -> Any:
        self.fill()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.fill()
        return dict.popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.fill()
        return dict.setdefault(self, key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.fill()
        dict.update(self, *args, **kwargs)

    def clear(self) -> None:
        self.fill()
        dict.clear(self)


def filled(value: Any) -> Any:
    """``value``, with its pending entries added if it is a ``FilledOnRead``."""
    if isinstance(value, FilledOnRead):
        value.fill()
    return value
