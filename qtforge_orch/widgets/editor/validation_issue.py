"""``ValidationIssue``: one problem of the workflow being edited, pinned to what it is about."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import PluginErrorCode


@dataclass(frozen=True)
class ValidationIssue:
    """One problem of the edited workflow.

    Attributes:
        target_id: the node or connection id it is about; ``""`` for the workflow itself.
        code: the ``PluginErrorCode`` registration would report.
        message: what is wrong and how to fix it.
    """

    target_id: str
    code: PluginErrorCode
    message: str
