"""The bridge from the library's validation to what the editor draws and lists.

The rules are the library's own (``iter_workflow_errors`` of v2 and v1, CEL checking in
``_conditions``): a workflow that shows no issue here registers. Each error is pinned to the
node or connection it is about. When the editor knows the plugin manager, nodes whose
plugin or command it does not have are reported too (what running them would fail with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..._errors import PluginErrorCode
from ._document import GraphDocument


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


def collect_issues(document: GraphDocument, plugin_manager: Any) -> list[ValidationIssue]:
    """Every issue of ``document``: the library's validation, then missing plugins."""
    issues = [
        ValidationIssue(document.target_of(error), error.code, error.message)
        for error in document.errors()
    ]
    if plugin_manager is not None:
        issues.extend(plugin_issues(document, plugin_manager))
    return issues


def plugin_issues(document: GraphDocument, plugin_manager: Any) -> list[ValidationIssue]:
    """Nodes whose plugin is not registered, or whose command the plugin does not offer."""
    problems: dict[str, str | None] = {}  # plugin id -> why it cannot be used (None: fine)
    commands: dict[str, frozenset[str] | None] = {}
    issues: list[ValidationIssue] = []
    for node_id in document.node_ids():
        info = document.node_info(node_id)
        plugin_id = info.plugin_id
        if not plugin_id.strip():
            continue  # the library's validation reports an empty plugin id
        if plugin_id not in problems:
            found = plugin_manager.get_plugin(plugin_id)
            problems[plugin_id] = None if found else found.error().message
            commands[plugin_id] = _commands_of(found.value()) if found else None
        problem = problems[plugin_id]
        if problem is not None:
            issues.append(
                ValidationIssue(
                    node_id, PluginErrorCode.PluginNotFound, f"node '{node_id}': {problem}"
                )
            )
            continue
        offered = commands[plugin_id]
        if info.command and offered is not None and info.command not in offered:
            listing = ", ".join(sorted(offered)) or "none"
            issues.append(
                ValidationIssue(
                    node_id,
                    PluginErrorCode.CommandNotFound,
                    f"node '{node_id}': plugin '{plugin_id}' has no command '{info.command}' "
                    f"(commands: {listing})",
                )
            )
    return issues


def _commands_of(plugin: Any) -> frozenset[str] | None:
    """The plugin's commands; None when it cannot say (its own code raised)."""
    try:
        return frozenset(str(name) for name in plugin.available_commands())
    except Exception:  # a plugin's bug must not break the editor; the run will report it
        return None


def expression_problem(text: str) -> str:
    """Why a CEL expression is not valid (the library's own check), or ``""``."""
    if not text.strip():
        return ""
    from ..._conditions import ConditionError, compile_condition

    try:
        compile_condition(text)
    except ConditionError as exc:
        return str(exc)
    return ""
