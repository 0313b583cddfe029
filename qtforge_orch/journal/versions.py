"""Workflow versions: a content hash of a definition, and what changed between two of them.

Both work on any workflow document: a JSON object whose collections are either lists of objects
with an id (v2's ``nodes`` with ``node_id``, ``connections`` with ``connection_id``, a v1
``steps`` array with ``id``) or objects keyed by id (v1's ``steps`` and ``rollback_steps`` as
QtForge writes them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# The keys an item of a collection is identified by, in order of preference.
ID_KEYS = ("id", "node_id", "connection_id", "step_id", "name")
_SHOWN = 60  # characters of a value shown in a change


def canonical_json(value: Any) -> str:
    """``value`` as compact JSON with sorted keys: equal documents give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_hash(definition_json: str) -> str:
    """The SHA-256 (hex) of the canonical form of a definition's JSON text.

    Key order and whitespace do not change the hash; any value does, cosmetic ones (a node's
    position, a description) included.

    Raises:
        ValueError: ``definition_json`` is not JSON.
    """
    text = canonical_json(json.loads(definition_json))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _show(value: Any) -> str:
    text = canonical_json(value) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _noun(collection: str) -> str:
    """``steps`` -> ``step``, ``rollback_steps`` -> ``rollback step``."""
    word = collection.replace("_", " ")
    return word[:-1] if word.endswith("s") and len(word) > 1 else word


def _item_id(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    for key in ID_KEYS:
        value = item.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _as_collection(value: Any) -> dict[str, Any] | None:
    """A collection of identified items as ``{id: item}`` in order, or None if it is not one."""
    if isinstance(value, list) and value:
        ids = [_item_id(item) for item in value]
        if all(ids) and len(set(ids)) == len(ids):
            return {str(i): item for i, item in zip(ids, value, strict=True)}
        return None
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(item, Mapping) for item in value.values())
    ):
        return {str(key): item for key, item in value.items()}
    return None


def _field_changes(where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes: list[str] = []
    for key in old:
        if key not in new:
            changes.append(f"{where}: {key} removed (was {_show(old[key])})")
        elif old[key] != new[key]:
            changes.append(f"{where}: {key} changed from {_show(old[key])} to {_show(new[key])}")
    changes += [f"{where}: {key} added ({_show(new[key])})" for key in new if key not in old]
    return changes


def _collection_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    noun = _noun(name)
    changes = [f"{noun} {key!r} removed" for key in old if key not in new]
    changes += [f"{noun} {key!r} added" for key in new if key not in old]
    for key, item in old.items():
        if key not in new or item == new[key]:
            continue
        if isinstance(item, Mapping) and isinstance(new[key], Mapping):
            changes += _field_changes(f"{noun} {key!r}", item, new[key])
        else:
            changes.append(f"{noun} {key!r} changed from {_show(item)} to {_show(new[key])}")
    kept_old = [key for key in old if key in new]
    kept_new = [key for key in new if key in old]
    if kept_old != kept_new:
        changes.append(f"order of {name} changed")
    return changes


def describe_changes(old_json: str, new_json: str) -> list[str]:
    """Human-readable differences between two workflow definitions; empty when they are equal.

    Items of collections are matched by id, so a change reads ``step 'load': timeout changed
    from 60000 to 1000`` or ``node 'filter' removed``; other top-level fields are compared as
    values (``execution_mode changed from 0 to 1``).

    Raises:
        ValueError: either text is not JSON.
    """
    old, new = json.loads(old_json), json.loads(new_json)
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return [] if old == new else [f"definition changed from {_show(old)} to {_show(new)}"]
    changes: list[str] = []
    for key in old:
        if key not in new:
            changes.append(f"{key} removed (was {_show(old[key])})")
            continue
        if old[key] == new[key]:
            continue
        old_items, new_items = _as_collection(old[key]), _as_collection(new[key])
        if old_items is not None and new_items is not None:
            changes += _collection_changes(key, old_items, new_items)
        elif old_items is not None or new_items is not None:
            changes += _collection_changes(key, old_items or {}, new_items or {})
        else:
            changes.append(f"{key} changed from {_show(old[key])} to {_show(new[key])}")
    changes += [f"{key} added ({_show(new[key])})" for key in new if key not in old]
    return changes
