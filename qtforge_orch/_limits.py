"""Documented limits on what a workflow may contain (docs/reliability.md).

Past them registration fails fast with a clear error instead of making the engine or a
display of the error pay for the input's size.
"""

from __future__ import annotations

MAX_ID_LENGTH = 1024  # workflow, step, node, plugin, connection and port ids
MAX_TASKS = 100_000  # steps of a Workflow, nodes of a PluginWorkflow


def id_problem(value: str) -> str | None:
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value):,} characters long; ids are limited to {MAX_ID_LENGTH}"
    return None


def short(value: str, keep: int = 40) -> str:
    """An id as it may appear in a message."""
    return value if len(value) <= keep else f"{value[:keep]}... ({len(value):,} characters)"
