"""A v2 workflow's ``global_configuration`` key that looks like an engine setting without being
one (a misspelling, or the name another tool gives it) is refused with a did-you-mean, by every
route to the one validation: ``validate()``, registration, the CLI's ``validate`` and the
designer's issues. Keys far from every engine setting stay the application's."""

from __future__ import annotations

from typing import Any

import pytest

from qtforge_orch import AdvancedPluginOrchestrator, PluginManager
from qtforge_orch.cli._validate import all_errors
from qtforge_orch.orchestration.advanced._v2_settings import ENGINE_SETTINGS, lookalike_setting
from qtforge_orch.orchestration.advanced.workflow import iter_workflow_errors

from .editor_helpers import editor_plugins, pipeline, shown_editor
from .v2_helpers import Code, Mode, NodeType, conn, fn, node, workflow

LOOKALIKES = [
    ("buffer_size", "stream_channel_capacity"),
    ("stream_channel_capcity", "stream_channel_capacity"),
    ("Stream-Channel-Capacity", "stream_channel_capacity"),
    ("channel_capacity", "stream_channel_capacity"),
    ("queue_size", "stream_channel_capacity"),
    ("max_concurency", "max_concurrency"),
    ("concurrency", "max_concurrency"),
    ("max_workers", "max_concurrency"),
    ("timout", "timeout"),
    ("Timeout", "timeout"),
    ("timeout_ms", "timeout"),
    ("executer", "executor"),
]
APPLICATION_KEYS = ["app", "capacity", "workers", "execution", "timer", "owner", "batch_size"]


def _stream(config: dict[str, Any]) -> Any:
    return workflow(
        "stream",
        Mode.Streaming,
        [
            node("src", node_type=NodeType.Source, output_ports=["v"]),
            node("sink", node_type=NodeType.Sink, input_ports=["v"]),
        ],
        [conn("src", "sink", source_port="v", target_port="v")],
        global_configuration=config,
    )


@pytest.mark.parametrize(("key", "meant"), LOOKALIKES)
def test_a_lookalike_key_is_refused_with_the_setting_it_looks_like(key: str, meant: str) -> None:
    wf = _stream({key: 8})
    result = wf.validate()
    assert not result
    error = result.error()
    assert error.code is Code.InvalidWorkflowStructure
    assert f"global_configuration['{key}'] is not an engine setting" in error.message
    assert f"did you mean '{meant}'?" in error.message
    assert error.context == {"field": f"global_configuration.{key}", "did_you_mean": meant}
    del wf.global_configuration[key]
    wf.global_configuration[meant] = 8 if meant != "executor" else "thread"
    assert wf.validate()


@pytest.mark.parametrize("key", APPLICATION_KEYS)
def test_keys_far_from_every_setting_are_the_applications(key: str) -> None:
    assert lookalike_setting(key) is None
    assert _stream({key: {"any": "data"}, "stream_channel_capacity": 8}).validate()


def test_engine_settings_are_never_lookalikes() -> None:
    assert ENGINE_SETTINGS == ("executor", "max_concurrency", "stream_channel_capacity", "timeout")
    assert all(lookalike_setting(key) is None for key in ENGINE_SETTINGS)


def test_registration_refuses_it_and_keeps_what_is_registered(
    advanced: AdvancedPluginOrchestrator, plugins: PluginManager
) -> None:
    fn(plugins, "src", lambda params: iter(range(3)))
    fn(plugins, "sink", lambda params: {})
    assert advanced.register_workflow(_stream({"stream_channel_capacity": 4}))
    other = _stream({"buffer_size": 8})
    other.workflow_id = "other"
    refused = advanced.register_workflow(other)
    assert not refused and refused.error().code is Code.InvalidWorkflowStructure
    assert "did you mean 'stream_channel_capacity'?" in refused.error().message
    assert advanced.get_registered_workflows() == ["stream"]
    kept = advanced.get_workflow("stream")
    assert kept and kept.value().global_configuration == {"stream_channel_capacity": 4}


def test_every_lookalike_is_listed_with_the_other_problems() -> None:
    wf = _stream({"buffer_size": 8, "timout": 5, "app": 1, "max_concurrency": 0})
    messages = [error.message for error in iter_workflow_errors(wf)]
    assert len(messages) == 3
    assert any("'buffer_size'" in m and "'stream_channel_capacity'" in m for m in messages)
    assert any("'timout'" in m and "did you mean 'timeout'?" in m for m in messages)
    assert any("max_concurrency'] must be a positive integer" in m for m in messages)


def test_the_cli_validate_reports_it() -> None:
    document = _stream({"stream_channel_capcity": 8}).model_dump(mode="json")
    kind, errors = all_errors(document)
    assert kind == "v2"
    assert [e.code for e in errors] == [Code.InvalidWorkflowStructure]
    assert "did you mean 'stream_channel_capacity'?" in errors[0].message


def test_the_designer_lists_it_as_a_workflow_issue(qtbot: Any) -> None:
    editor = shown_editor(qtbot, editor_plugins())
    wf = pipeline()
    wf.global_configuration = {"buffer_size": 16}
    assert editor.load_workflow(wf)
    issues = [i for i in editor.validation_issues() if "buffer_size" in i.message]
    assert len(issues) == 1
    assert issues[0].target_id == ""
    assert issues[0].code is Code.InvalidWorkflowStructure
    assert "did you mean 'stream_channel_capacity'?" in issues[0].message
