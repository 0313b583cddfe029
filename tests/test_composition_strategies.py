"""CompositePlugin.execute_command, strategy by strategy (the meanings of docs/composition.md),
including QtForge's reference examples (pipeline, facade, aggregation) ported as tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qtforge_orch import (
    CompositePlugin,
    CompositionBinding,
    CompositionStrategy,
    FunctionPlugin,
    PluginComposition,
    PluginErrorCode,
    PluginManager,
    PluginRole,
)

from .composition_helpers import Component, Journal, register
from .composition_scenarios import SCENARIOS

Code = PluginErrorCode
S = CompositionStrategy


def code_of(result: Any) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code  # type: ignore[no-any-return]


def composite_of(
    plugins: PluginManager, composition: PluginComposition, **kwargs: Any
) -> CompositePlugin:
    composite = CompositePlugin(composition, plugins, **kwargs)
    register(plugins, composite)
    return composite


def scenario(
    strategy: CompositionStrategy, plugins: PluginManager, tmp_path: Path
) -> tuple[CompositePlugin, Any]:
    chosen = SCENARIOS[strategy]
    return composite_of(plugins, chosen.build(plugins, tmp_path)), chosen


# --- the reference page's examples -----------------------------------------------------------
def test_reference_pipeline_example_processes_a_file(
    plugins: PluginManager, tmp_path: Path
) -> None:
    composite, chosen = scenario(S.Pipeline, plugins, tmp_path)
    [params] = chosen.inputs(tmp_path)
    result = composite.execute_command("process", params)
    assert result.value() == {"written": 3, "output_file": str(tmp_path / "out.json")}
    assert json.loads((tmp_path / "out.json").read_text()) == [
        {"city": "Cairo", "celsius": 31.0},
        {"city": "Oslo", "celsius": 4.0},
        {"city": "Lima", "celsius": 19.0},
    ]
    [(bad, code, _)] = chosen.failing(tmp_path)
    failed = composite.execute_command("process", bad)
    assert code_of(failed) is code and "implausible temperatures: Venus" in failed.error().message
    assert not (tmp_path / "hot.json").exists()  # the writer never ran


def test_reference_facade_example_routes_by_file_type(
    plugins: PluginManager, tmp_path: Path
) -> None:
    composite, _ = scenario(S.Facade, plugins, tmp_path)
    for name, kind in [("holiday.png", "image"), ("talk.mp4", "video"), ("song.flac", "audio")]:
        assert composite.execute_command("process", {"file": name}).value() == {
            "processed_by": kind,
            "file": name,
        }
    # Only one component offers extract_metadata: no rule needed.
    assert composite.execute_command("extract_metadata", {"file": "a.png"}).value() == {
        "tags": ["a.png"]
    }
    ambiguous = composite.execute_command("process", {"file": "notes.txt"})
    assert code_of(ambiguous) is Code.InvalidConfiguration
    assert ambiguous.error().context["candidates"] == [
        "image_processor",
        "video_processor",
        "audio_processor",
    ]
    assert "add a routing rule or set a primary plugin" in ambiguous.error().message
    missing = composite.execute_command("process", {"name": "no file key"})
    assert code_of(missing) is Code.InvalidParameters  # a rule reads `file`
    assert "routing rule for 'image_processor' could not be evaluated" in missing.error().message


def test_reference_aggregation_example_collects_every_status(
    plugins: PluginManager, tmp_path: Path
) -> None:
    composite, _ = scenario(S.Aggregation, plugins, tmp_path)
    assert composite.execute_command("get_status", {}).value() == {
        "cpu_monitor": {"cpu": 0.25},
        "memory_monitor": {"memory": 2048},
        "disk_monitor": {"disk": "ok"},
        "network_monitor": {"network": [1, 2]},
    }
    partial = composite.execute_command("get_status", {"fail": "disk"}).value()
    assert sorted(partial) == ["cpu_monitor", "memory_monitor", "network_monitor"]
    failed = composite.execute_command("get_status", {"fail": "all"})
    assert code_of(failed) is Code.ExecutionFailed
    errors = failed.error().context["errors"]
    assert sorted(errors) == ["cpu_monitor", "disk_monitor", "memory_monitor", "network_monitor"]
    assert "cpu sensor unavailable" in errors["cpu_monitor"]["message"]
    assert "network_monitor:" in failed.error().message
    assert code_of(composite.execute_command("reboot", {})) is Code.CommandNotFound


# --- Pipeline --------------------------------------------------------------------------------
def test_pipeline_without_bindings_chains_primary_first_skipping_non_offering(
    plugins: PluginManager,
) -> None:
    journal = Journal()
    register(
        plugins,
        Component("add", journal, run=lambda p: {"v": p["v"] + 1}),
        Component("double", journal, run=lambda p: {"v": p["v"] * 2}),
        Component("other", journal, walk=lambda p: {}),
    )
    composition = (
        PluginComposition("chain")
        .set_strategy("Pipeline")
        .add_plugin("add")
        .add_plugin("other")
        .set_primary_plugin("double")
    )
    composite = composite_of(plugins, composition)
    assert composite.execute_command("run", {"v": 3}).value() == {"v": 7}  # (3*2)+1
    assert [e[1] for e in journal.events if e[0] == "call"] == ["double", "add"]


def test_pipeline_order_follows_bindings_with_priority_first(plugins: PluginManager) -> None:
    journal = Journal()
    for pid in ("a", "b", "c", "d"):
        register(
            plugins,
            Component(pid, journal, run=lambda p, pid=pid: {"trail": [*p.get("trail", []), pid]}),
        )
    composition = PluginComposition("order").set_strategy("Pipeline")
    for pid in ("a", "b", "c", "d"):
        composition.add_plugin(pid)
    # a feeds b and c; c's binding has the higher priority, so c runs before b; d gets both.
    composition.add_binding(CompositionBinding("a", "trail", "b", "trail"))
    composition.add_binding(CompositionBinding("a", "trail", "c", "trail", priority=5))
    composition.add_binding(CompositionBinding("b", "trail", "d", "from_b"))
    composition.add_binding(CompositionBinding("c", "trail", "d", "from_c"))
    composite = composite_of(plugins, composition)
    result = composite.execute_command("run", {"trail": ["in"]})
    assert [e[1] for e in journal.events if e[0] == "call"] == ["a", "c", "b", "d"]
    assert result.value() == {"trail": ["d"]}


def test_pipeline_result_merges_its_leaves_and_priority_wins_collisions(
    plugins: PluginManager,
) -> None:
    register(
        plugins,
        Component("src", run=lambda p: {"x": 1, "y": 2}),
        Component("left", run=lambda p: dict(p)),
        Component("right", run=lambda p: {"right": True, **p}),
    )
    composition = (
        PluginComposition("fork")
        .set_strategy("Pipeline")
        .add_plugin("src")
        .add_plugin("left")
        .add_plugin("right")
    )
    composition.add_binding(CompositionBinding("src", "x", "left", "k", priority=9))
    composition.add_binding(CompositionBinding("src", "y", "left", "k"))  # lower priority: loses
    composition.add_binding(CompositionBinding("src", "", "right", ""))  # the whole output, merged
    composite = composite_of(plugins, composition)
    assert composite.execute_command("run", {}).value() == {"k": 1, "right": True, "x": 1, "y": 2}


def test_pipeline_mapping_and_transformers(plugins: PluginManager) -> None:
    register(
        plugins,
        Component("src", run=lambda p: {"rows": [1, 2, 3], "name": "t", "meta": {"n": 3}}),
        Component("dst", run=lambda p: dict(p)),
    )
    composition = (
        PluginComposition("map").set_strategy("Pipeline").add_plugin("src").add_plugin("dst")
    )
    composition.add_binding(
        CompositionBinding("src", "rows", "dst", "doubled", transformer="value.map(x, x * 2)")
    )
    composition.add_binding(
        CompositionBinding("src", "meta", "dst", "", transformer=lambda m: {"count": m["n"]})
    )
    composition.add_binding(
        CompositionBinding("src", "", "dst", "", parameter_mapping={"title": "name"})
    )
    composition.add_binding(
        CompositionBinding("src", "", "dst", "everything", transformer={"expression": "size(rows)"})
    )
    composite = composite_of(plugins, composition)
    assert composite.execute_command("run", {}).value() == {
        "doubled": [2, 4, 6],
        "count": 3,
        "title": "t",
        "everything": 3,
    }


@pytest.mark.parametrize(
    ("binding", "code", "text"),
    [
        (
            CompositionBinding("src", "rowz", "dst", "in"),
            Code.InvalidParameters,
            "returned no 'rowz' (its output has: rows)",
        ),
        (
            CompositionBinding("src", "", "dst", "", parameter_mapping={"a": "nope"}),
            Code.InvalidParameters,
            "returned no 'nope'",
        ),
        (
            CompositionBinding("src", "rows", "dst", "in", transformer="value.foo"),
            Code.ExecutionFailed,
            "the transformer failed",
        ),
        (
            CompositionBinding("src", "rows", "dst", "in", transformer=lambda v: v["x"]),
            Code.ExecutionFailed,
            "TypeError",
        ),
    ],
)
def test_pipeline_binding_mistakes_are_clear(
    plugins: PluginManager, binding: CompositionBinding, code: PluginErrorCode, text: str
) -> None:
    register(
        plugins,
        Component("src", run=lambda p: {"rows": [1]}),
        Component("dst", run=lambda p: dict(p)),
    )
    composition = (
        PluginComposition("bad")
        .set_strategy("Pipeline")
        .add_plugin("src")
        .add_plugin("dst")
        .add_binding(binding)
    )
    result = composite_of(plugins, composition).execute_command("run", {})
    assert code_of(result) is code and text in result.error().message
    assert binding.label() in result.error().message


def test_pipeline_bound_stage_without_the_command(plugins: PluginManager) -> None:
    register(
        plugins, Component("src", run=lambda p: {"x": 1}), Component("dst", other=lambda p: {})
    )
    composition = (
        PluginComposition("p").set_strategy("Pipeline").add_plugin("src").add_plugin("dst")
    )
    composition.add_binding(CompositionBinding("src", "x", "dst", "x"))
    result = composite_of(plugins, composition).execute_command("run", {})
    assert (
        code_of(result) is Code.CommandNotFound
        and "component 'dst' has no command 'run'" in result.error().message
    )


# --- Facade ----------------------------------------------------------------------------------
def test_facade_prefers_the_primary_and_routes_rules_by_command(plugins: PluginManager) -> None:
    register(
        plugins,
        Component("main", run=lambda p: {"by": "main"}, stop=lambda p: {"by": "main"}),
        Component("alt", run=lambda p: {"by": "alt"}, stop=lambda p: {"by": "alt"}),
    )
    composition = (
        PluginComposition("f")
        .set_strategy("Facade")
        .set_primary_plugin("main")
        .add_plugin("alt")
        .set_configuration({"routing": [{"plugin": "alt", "command": "stop"}]})
    )
    composite = composite_of(plugins, composition)
    assert composite.execute_command("run", {}).value() == {"by": "main"}
    assert composite.execute_command("stop", {}).value() == {"by": "alt"}
    assert composite.available_commands() == ["run", "stop"]


def test_facade_overlapping_rules_are_ambiguous(plugins: PluginManager) -> None:
    register(plugins, Component("x", run=lambda p: {}), Component("y", run=lambda p: {}))
    rules = [{"plugin": "x", "when": "n > 1"}, {"plugin": "y", "when": "n > 5"}]
    composition = (
        PluginComposition("f")
        .set_strategy("Facade")
        .add_plugin("x")
        .add_plugin("y")
        .set_configuration({"routing": rules})
    )
    composite = composite_of(plugins, composition)
    assert composite.execute_command("run", {"n": 3})
    result = composite.execute_command("run", {"n": 9})
    assert code_of(result) is Code.InvalidConfiguration and result.error().context[
        "candidates"
    ] == ["x", "y"]


# --- Decorator -------------------------------------------------------------------------------
def test_decorators_run_before_in_order_and_after_in_reverse(
    plugins: PluginManager, tmp_path: Path
) -> None:
    composite, _ = scenario(S.Decorator, plugins, tmp_path)
    assert composite.execute_command("translate", {"text": "  hello "}).value() == {
        "text": "HELLO",
        "lang": "fr",
        "length": 5,
        "stamped": True,
    }
    assert composite.available_commands() == ["translate"]
    assert code_of(composite.execute_command("before", {"text": "x"})) is Code.CommandNotFound


def test_a_decorator_without_hooks_cannot_start(plugins: PluginManager) -> None:
    register(plugins, Component("core", run=lambda p: {}), Component("idle", walk=lambda p: {}))
    composition = (
        PluginComposition("d")
        .set_strategy("Decorator")
        .set_primary_plugin("core")
        .add_plugin("idle", PluginRole.Decorator)
    )
    result = plugins.register_plugin(CompositePlugin(composition, plugins))
    assert code_of(result) is Code.InvalidConfiguration
    assert "decorator 'idle' offers neither 'before' nor 'after'" in result.error().message


# --- Proxy -----------------------------------------------------------------------------------
def test_proxy_allows_listed_commands_and_limits_the_rate(plugins: PluginManager) -> None:
    now = [100.0]
    register(plugins, FunctionPlugin("store", read=lambda p: {"v": 1}, delete=lambda p: {}))
    composition = (
        PluginComposition("guard")
        .set_strategy("Proxy")
        .add_plugin("store")
        .set_configuration(
            {"allowed_commands": ["read", "list"], "rate_limit": {"max_calls": 2, "per_ms": 1000}}
        )
    )
    composite = composite_of(plugins, composition, clock=lambda: now[0])
    assert composite.available_commands() == ["read"]
    denied = composite.execute_command("delete", {})
    assert (
        code_of(denied) is Code.PermissionDenied and "allowed: read, list" in denied.error().message
    )
    assert (
        code_of(composite.execute_command("list", {})) is Code.CommandNotFound
    )  # allowed, not offered
    assert composite.execute_command("read", {}) and composite.execute_command("read", {})
    limited = composite.execute_command("read", {})
    assert code_of(limited) is Code.ResourceExhausted
    assert limited.error().context["retry_after_ms"] == 1000
    now[0] += 0.4
    assert code_of(composite.execute_command("read", {})) is Code.ResourceExhausted
    assert composite.execute_command("read", {}).error().context["retry_after_ms"] == 600
    now[0] += 0.6
    assert composite.execute_command("read", {}).value() == {"v": 1}


# --- Adapter ---------------------------------------------------------------------------------
def test_adapter_renames_commands_parameters_and_results(
    plugins: PluginManager, tmp_path: Path
) -> None:
    composite, _ = scenario(S.Adapter, plugins, tmp_path)
    assert composite.available_commands() == ["geocode"]
    assert composite.execute_command("geocode", {"address": "Samarkand", "zoom": 2}).value() == {
        "latitude": 3,
        "longitude": 9,
    }
    hidden = composite.execute_command("lookup_coords", {"place_name": "x"})
    assert (
        code_of(hidden) is Code.CommandNotFound and "exposed as 'geocode'" in hidden.error().message
    )


# --- Bridge ----------------------------------------------------------------------------------
def test_bridge_uses_the_configured_implementation(plugins: PluginManager, tmp_path: Path) -> None:
    composite, _ = scenario(S.Bridge, plugins, tmp_path)
    assert composite.available_commands() == ["render"]
    assert composite.execute_command("render", {"size": 4}).value() == {
        "pixels": 16,
        "device": "gpu",
    }
    assert composite.configure({"implementation": "render_cpu"})
    assert composite.execute_command("render", {"size": 4}).value() == {
        "pixels": 16,
        "device": "cpu",
    }
    refused = composite.configure({"implementation": "render_ui"})  # the primary is not a Bridge
    assert code_of(refused) is Code.InvalidConfiguration
