"""PluginComposition, CompositionBinding and the enums: QtForge's header, its validate() rules
and codes (plus cycles and strategy settings), and its JSON format key by key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qtforge_orch import (
    CompositionBinding,
    CompositionStrategy,
    PluginComposition,
    PluginErrorCode,
    PluginRole,
)
from qtforge_orch.composition._json import qt_key_order

from .qtforge_cpp_composition import (
    CPP_COMPOSITIONS,
    GOLDEN,
    cpp_composition_to_json,
    qt_json_text,
)

Code = PluginErrorCode


def code_of(result: Any) -> PluginErrorCode:
    assert not result, f"expected an error, got {result!r}"
    return result.error().code  # type: ignore[no-any-return]


# --- the header ------------------------------------------------------------------------------
def test_enums_have_the_headers_members_and_integers() -> None:
    assert [(m.name, m.value) for m in CompositionStrategy] == [
        ("Aggregation", 0),
        ("Pipeline", 1),
        ("Facade", 2),
        ("Decorator", 3),
        ("Proxy", 4),
        ("Adapter", 5),
        ("Bridge", 6),
    ]
    assert [(m.name, m.value) for m in PluginRole] == [
        ("Primary", 0),
        ("Secondary", 1),
        ("Auxiliary", 2),
        ("Decorator", 3),
        ("Adapter", 4),
        ("Bridge", 5),
    ]


def test_binding_fields_defaults_and_the_reference_pages_names() -> None:
    binding = CompositionBinding("loader", "data", "cleaner", "input")
    assert (binding.parameter_mapping, binding.transformer, binding.bidirectional) == (
        {},
        None,
        False,
    )
    assert binding.priority == 0
    assert (binding.source_plugin, binding.source_port) == ("loader", "data")
    assert (binding.target_plugin, binding.target_port) == ("cleaner", "input")
    by_reference = CompositionBinding(
        source_plugin="loader",
        source_port="data",
        target_plugin="cleaner",
        target_port="input",
        transformation={"expression": "value * 2"},
    )
    assert by_reference.source_plugin_id == "loader" and by_reference.target_method == "input"
    assert by_reference.transformer == "value * 2" == by_reference.transformation
    by_reference.target_port = "rows"
    assert by_reference.target_method == "rows"
    assert by_reference != binding and binding == CompositionBinding(
        "loader", "data", "cleaner", "input"
    )
    assert repr(binding) == "<CompositionBinding loader.data -> cleaner.input>"


def test_fluent_setters_and_accessors_as_in_the_header() -> None:
    composition = PluginComposition("pipe")
    assert composition.name() == "pipe"  # the name defaults to the id
    chained = (
        composition.set_description("d")
        .set_strategy(CompositionStrategy.Pipeline)
        .add_plugin("a")
        .add_plugin("b", PluginRole.Auxiliary)
        .set_primary_plugin("p")
        .add_binding(CompositionBinding("p", "out", "a", "in"))
        .set_configuration({"a": {"x": 1}})
    )
    assert chained is composition
    assert composition.description() == "d"
    assert composition.strategy() is CompositionStrategy.Pipeline
    assert composition.primary_plugin_id() == "p"
    assert composition.plugins() == {
        "a": PluginRole.Secondary,
        "b": PluginRole.Auxiliary,
        "p": PluginRole.Primary,
    }
    assert composition.get_plugins_by_role(PluginRole.Secondary) == ["a"]
    assert composition.get_plugins_by_role("primary") == ["p"]
    assert composition.bindings() == [CompositionBinding("p", "out", "a", "in")]
    assert composition.configuration() == {"a": {"x": 1}}
    # Accessors hand out copies: the composition cannot be changed through them.
    composition.plugins()["z"] = PluginRole.Primary
    composition.bindings()[0].priority = 9
    composition.configuration()["a"]["x"] = 2
    assert "z" not in composition.plugins() and composition.bindings()[0].priority == 0
    assert composition.configuration() == {"a": {"x": 1}}
    assert composition.set_strategy(3).strategy() is CompositionStrategy.Decorator
    assert composition.set_strategy("bridge").strategy() is CompositionStrategy.Bridge


def test_setters_refuse_values_of_the_wrong_kind() -> None:
    composition = PluginComposition("c")
    with pytest.raises(ValueError, match="unknown CompositionStrategy 9"):
        composition.set_strategy(9)
    with pytest.raises(ValueError, match="unknown PluginRole 'boss'"):
        composition.add_plugin("a", "boss")
    with pytest.raises(TypeError):
        composition.add_binding({"source_plugin_id": "a"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        composition.set_configuration([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        composition.add_plugin(5)  # type: ignore[arg-type]
    assert composition.plugins() == {}


# --- validate() ------------------------------------------------------------------------------
def test_validate_follows_qtforges_rules_and_codes() -> None:
    assert code_of(PluginComposition("").add_plugin("a").validate()) is Code.InvalidConfiguration
    assert code_of(PluginComposition("c").validate()) is Code.InvalidConfiguration
    primary_not_primary = PluginComposition("c").set_primary_plugin("a").add_plugin("a")
    result = primary_not_primary.validate()
    assert (
        code_of(result) is Code.InvalidConfiguration
        and "not marked Primary" in result.error().message
    )
    dangling = (
        PluginComposition("c")
        .add_plugin("a")
        .add_binding(CompositionBinding("a", "x", "ghost", "y"))
    )
    result = dangling.validate()
    assert code_of(result) is Code.DependencyMissing
    assert "target plugin 'ghost'" in result.error().message
    assert result.error().context["field"] == "bindings[0].target_plugin_id"
    assert PluginComposition("c").add_plugin("a").validate()


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ([("a", "a")], "a -> a"),
        ([("a", "b"), ("b", "a")], "a -> b -> a"),
        ([("a", "b"), ("b", "c"), ("c", "b")], "b -> c -> b"),
    ],
)
def test_binding_cycles_are_circular_dependencies(edges: list[tuple[str, str]], cycle: str) -> None:
    composition = PluginComposition("c").add_plugin("a").add_plugin("b").add_plugin("c")
    for source, target in edges:
        composition.add_binding(CompositionBinding(source, "out", target, "in"))
    result = composition.validate()
    assert code_of(result) is Code.CircularDependency
    assert result.error().message.endswith(cycle)


def test_a_diamond_of_bindings_is_not_a_cycle() -> None:
    composition = (
        PluginComposition("c").add_plugin("a").add_plugin("b").add_plugin("c").add_plugin("d")
    )
    for source, target in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
        composition.add_binding(CompositionBinding(source, "", target, ""))
    assert composition.validate()


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("source_method", 5, "bindings[0].source_method"),
        ("parameter_mapping", {"rows": 3}, "bindings[0].parameter_mapping"),
        ("priority", 1.5, "bindings[0].priority"),
        ("bidirectional", "yes", "bindings[0].bidirectional"),
        ("transformer", 42, "bindings[0].transformer"),
        ("transformer", "value *", "bindings[0].transformer"),
        ("transformer", "__import__('os')", "bindings[0].transformer"),
    ],
)
def test_malformed_bindings_are_invalid_configuration(field: str, value: Any, where: str) -> None:
    binding = CompositionBinding("a", "x", "b", "y")
    setattr(binding, field, value)
    composition = PluginComposition("c").add_plugin("a").add_plugin("b").add_binding(binding)
    result = composition.validate()
    assert code_of(result) is Code.InvalidConfiguration
    assert result.error().context["field"] == where


@pytest.mark.parametrize(
    ("strategy", "configuration", "message"),
    [
        ("Facade", {"routing": {"a": "x"}}, "'routing' must be a list"),
        ("Facade", {"routing": [{"plugin": "ghost"}]}, "routing[0].plugin must name a component"),
        ("Facade", {"routing": [{"plugin": "a", "when": "x ="}]}, "routing[0].when"),
        ("Facade", {"routing": [{"plugin": "a", "if": "x"}]}, "unknown keys"),
        ("Proxy", {"allowed_commands": "read"}, "'allowed_commands' must be a list"),
        ("Proxy", {"rate_limit": {"max_calls": 0, "per_ms": 10}}, "positive integers"),
        ("Proxy", {"rate_limit": {"calls": 1}}, "'rate_limit' must be"),
        ("Adapter", {"command_map": {"run": 3}}, "'command_map' must map names"),
        ("Bridge", {"implementation": "ghost"}, "'implementation' must name one of"),
        ("Bridge", {}, "needs configuration['implementation']"),
    ],
)
def test_bad_strategy_settings_are_invalid_configuration(
    strategy: str, configuration: dict[str, Any], message: str
) -> None:
    composition = (
        PluginComposition("c")
        .set_strategy(strategy)
        .set_primary_plugin("a")
        .add_plugin("b")
        .set_configuration(configuration)
    )
    result = composition.validate()
    assert code_of(result) is Code.InvalidConfiguration
    assert message in result.error().message


@pytest.mark.parametrize("strategy", ["Decorator", "Proxy", "Adapter"])
def test_wrapping_strategies_need_a_primary_among_several(strategy: str) -> None:
    composition = PluginComposition("c").set_strategy(strategy).add_plugin("a").add_plugin("b")
    result = composition.validate()
    assert code_of(result) is Code.InvalidConfiguration
    assert "needs a primary plugin" in result.error().message
    assert PluginComposition("c").set_strategy(strategy).add_plugin("only").validate()


def test_a_component_may_not_be_named_like_a_setting_of_its_strategy() -> None:
    composition = PluginComposition("c").set_strategy("Facade").add_plugin("routing")
    result = composition.validate()
    assert (
        code_of(result) is Code.InvalidConfiguration
        and "rename the component" in result.error().message
    )


# --- JSON ------------------------------------------------------------------------------------
def _pipeline() -> PluginComposition:
    """The reference page's pipeline example, built with this library."""
    composition = PluginComposition("data_pipeline", "Data Processing Pipeline")
    composition.set_description("Multi-stage data processing pipeline").set_strategy(
        CompositionStrategy.Pipeline
    )
    composition.add_plugin("csv_reader", PluginRole.Primary).add_plugin("data_cleaner").add_plugin(
        "data_transformer"
    ).add_plugin("data_validator").add_plugin("json_writer")
    for binding in [
        ("csv_reader", "data", "data_cleaner", "input"),
        ("data_cleaner", "cleaned_data", "data_transformer", "input"),
        ("data_transformer", "transformed_data", "data_validator", "input"),
        ("data_validator", "validated_data", "json_writer", "input"),
    ]:
        composition.add_binding(CompositionBinding(*binding))
    return composition


def _facade() -> PluginComposition:
    composition = PluginComposition("media_facade", "Media Processing Facade")
    composition.set_description("Unified interface for media processing").set_strategy("Facade")
    composition.add_plugin("image_processor").add_plugin("video_processor").add_plugin(
        "audio_processor"
    ).add_plugin("metadata_extractor", PluginRole.Auxiliary).set_primary_plugin("image_processor")
    composition.set_configuration(
        {
            "image_extensions": ["jpg", "png", "gif", "bmp"],
            "video_extensions": ["mp4", "avi", "mov", "mkv"],
            "audio_extensions": ["mp3", "wav", "flac", "aac"],
            "routing": [
                {"plugin": "video_processor", "when": "file.endsWith('.mp4')"},
                {"command": "tags", "plugin": "metadata_extractor"},
            ],
            "metadata_extractor": {"max_tags": 8, "enabled": True, "ratio": 0.5},
        }
    )
    composition.add_binding(
        CompositionBinding(
            "image_processor",
            "thumbnail",
            "metadata_extractor",
            "",
            parameter_mapping={"width": "thumb_width", "height": "thumb_height"},
            bidirectional=True,
            priority=5,
        )
    )
    composition.add_binding(
        CompositionBinding(
            source_plugin="video_processor",
            target_plugin="metadata_extractor",
            target_port="frames",
            priority=-2,
        )
    )
    return composition


BUILT: dict[str, Any] = {
    "composition_basics_by_qtforge.json": lambda: (
        PluginComposition("comp.examples.basic", "Composition Basics")
        .set_description("Demonstrates composition data model and validation")
        .set_strategy(CompositionStrategy.Aggregation)
        .add_plugin("com.examples.primary", PluginRole.Primary)
        .add_plugin("com.examples.secondary", PluginRole.Secondary)
        .add_binding(
            CompositionBinding(
                "com.examples.primary", "produce", "com.examples.secondary", "consume"
            )
        )
    ),
    "composition_pipeline_by_qtforge.json": _pipeline,
    "composition_facade_by_qtforge.json": _facade,
    "composition_proxy_by_qtforge.json": lambda: (
        PluginComposition("guarded")
        .set_strategy(CompositionStrategy.Proxy)
        .add_plugin("\ufb01lter", PluginRole.Auxiliary)
        .add_plugin("\U0001f600log", PluginRole.Auxiliary)
        .add_plugin("äudit", PluginRole.Auxiliary)
        .add_plugin("Zeta", PluginRole.Auxiliary)
        .set_primary_plugin("backend")
        .set_configuration(
            {"rate_limit": {"per_ms": 1000, "max_calls": 10}, "allowed_commands": ["read", "list"]}
        )
    ),
}


def _key_paths(value: Any, prefix: str = "") -> list[str]:
    """Every object key with its path, in document order."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(f"{prefix}/{key}")
            found += _key_paths(item, f"{prefix}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _key_paths(item, f"{prefix}[{index}]")
    return found


@pytest.mark.parametrize("name", sorted(CPP_COMPOSITIONS))
def test_golden_files_are_what_qtforges_to_json_writes(name: str) -> None:
    expected = qt_json_text(cpp_composition_to_json(CPP_COMPOSITIONS[name]))
    assert (GOLDEN / name).read_bytes() == expected


@pytest.mark.parametrize("name", sorted(BUILT))
def test_to_json_writes_qtforges_document_byte_for_byte(name: str) -> None:
    composition = BUILT[name]()
    assert composition.validate()
    written = composition.to_json()
    golden = (GOLDEN / name).read_bytes()
    assert qt_json_text(written) == golden
    # The dict's own key order, at every level, is the order Qt writes.
    assert _key_paths(written) == _key_paths(json.loads(golden))


@pytest.mark.parametrize("name", sorted(BUILT))
def test_from_json_reads_qtforges_document_and_round_trips(name: str) -> None:
    loaded = PluginComposition.from_json(json.loads((GOLDEN / name).read_bytes()))
    assert loaded, loaded.error() if not loaded else ""
    composition = loaded.value()
    built = BUILT[name]()
    assert composition.to_json() == built.to_json()
    assert (
        PluginComposition.from_json(composition.to_json()).value().to_json()
        == composition.to_json()
    )
    assert composition.get_plugins_by_role(PluginRole.Primary) == built.get_plugins_by_role(
        "Primary"
    )


def test_a_cel_transformer_round_trips_and_a_callable_is_left_out() -> None:
    composition = PluginComposition("c").add_plugin("a").add_plugin("b")
    composition.add_binding(CompositionBinding("a", "x", "b", "y", transformer="value + 1"))
    composition.add_binding(CompositionBinding("a", "z", "b", "w", transformer=lambda v: v))
    written = composition.to_json()
    assert written["bindings"][0]["transformer"] == "value + 1"
    assert list(written["bindings"][0])[-1] == "transformer"  # sorted after target_plugin_id
    assert "transformer" not in written["bindings"][1]
    again = PluginComposition.from_json(written).value()
    assert (
        again.bindings()[0].transformer == "value + 1" and again.bindings()[1].transformer is None
    )


def test_from_json_accepts_the_reference_pages_binding_keys_and_enum_names() -> None:
    document = {
        "id": "c",
        "strategy": "pipeline",
        "plugins": {"a": "Primary", "b": 1.0},
        "bindings": [
            {
                "source_plugin": "a",
                "source_port": "out",
                "target_plugin": "b",
                "target_port": "in",
                "transformation": {"expression": "value"},
            }
        ],
    }
    composition = PluginComposition.from_json(document).value()
    assert composition.strategy() is CompositionStrategy.Pipeline
    assert composition.plugins() == {"a": PluginRole.Primary, "b": PluginRole.Secondary}
    assert composition.bindings() == [
        CompositionBinding("a", "out", "b", "in", transformer="value")
    ]
    assert composition.name() == "c"


@pytest.mark.parametrize(
    ("document", "code", "field"),
    [
        ([], Code.InvalidConfiguration, None),
        ({"name": "x"}, Code.InvalidConfiguration, "id"),
        ({"id": 5}, Code.InvalidConfiguration, "id"),
        ({"id": "c", "strategy": 7, "plugins": {"a": 0}}, Code.InvalidConfiguration, "strategy"),
        (
            {"id": "c", "strategy": "Mixer", "plugins": {"a": 0}},
            Code.InvalidConfiguration,
            "strategy",
        ),
        ({"id": "c", "plugins": {"a": 6}}, Code.InvalidConfiguration, "plugins.a"),
        ({"id": "c", "plugins": {"a": "Boss"}}, Code.InvalidConfiguration, "plugins.a"),
        ({"id": "c", "plugins": ["a"]}, Code.InvalidConfiguration, "plugins"),
        ({"id": "c", "plugins": {"a": 0}, "bindings": {}}, Code.InvalidConfiguration, "bindings"),
        (
            {"id": "c", "plugins": {"a": 0}, "bindings": [3]},
            Code.InvalidConfiguration,
            "bindings[0]",
        ),
        (
            {"id": "c", "plugins": {"a": 0}, "bindings": [{"priority": "high"}]},
            Code.InvalidConfiguration,
            "bindings[0].priority",
        ),
        (
            {"id": "c", "plugins": {"a": 0}, "configuration": [1]},
            Code.InvalidConfiguration,
            "configuration",
        ),
        ({"id": "c", "plugins": {"a": 0}, "name": 3}, Code.InvalidConfiguration, "name"),
        ({"id": "c"}, Code.InvalidConfiguration, "plugins"),
        (
            {
                "id": "c",
                "plugins": {"a": 1},
                "bindings": [{"source_plugin_id": "a", "target_plugin_id": "b"}],
            },
            Code.DependencyMissing,
            "bindings[0].target_plugin_id",
        ),
        (
            {"id": "c", "primary_plugin_id": "a", "plugins": {"a": 1}},
            Code.InvalidConfiguration,
            "primary_plugin_id",
        ),
    ],
)
def test_from_json_refuses_bad_documents_with_the_field(
    document: Any, code: PluginErrorCode, field: str | None
) -> None:
    result = PluginComposition.from_json(document)
    assert code_of(result) is code
    assert result.error().context.get("field") == field


def test_from_json_refuses_a_document_nested_too_deep_without_recursing() -> None:
    deep: dict[str, Any] = {}
    current = deep
    for _ in range(20_000):
        current["x"] = {}
        current = current["x"]
    result = PluginComposition.from_json({"id": "c", "plugins": {"a": 1}, "configuration": deep})
    assert (
        code_of(result) is Code.InvalidConfiguration
        and "nests too deeply" in result.error().message
    )


def test_to_json_sorts_keys_by_utf16_code_units_like_qjsonobject() -> None:
    keys = ["\ufb01", "\U0001f600", "a", "Z", "ä"]
    assert sorted(keys, key=qt_key_order) == ["Z", "a", "ä", "\U0001f600", "\ufb01"]
    assert sorted(keys) != sorted(keys, key=qt_key_order)  # code point order differs


def test_copy_and_equality() -> None:
    composition = _facade()
    copied = composition.copy()
    assert copied == composition and copied is not composition
    copied.add_plugin("extra")
    assert copied != composition
    assert "media_facade" in repr(composition)
