"""One composition per strategy with its components, used twice: the composite's own tests call
``CompositePlugin.execute_command`` on it, and the workflow tests check that the workflow
``create_workflow_from_composition`` builds gives the same results for the same inputs.

Includes QtForge's reference examples (the CompositePlugin API Reference's pipeline, facade and
aggregation compositions), ported with real components.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qtforge_orch import (
    CompositionBinding,
    CompositionStrategy,
    FunctionPlugin,
    PluginComposition,
    PluginManager,
    PluginRole,
    make_error,
)
from qtforge_orch import PluginErrorCode as Code

from .composition_helpers import register


@dataclass
class Scenario:
    """A composition, its components, the command and inputs to run it on."""

    name: str
    build: Callable[[PluginManager, Path], PluginComposition]
    command: str
    inputs: Callable[[Path], list[dict[str, Any]]]
    # Inputs whose call fails: the composite's error code, and a phrase of the message that
    # the composite's error and the workflow's both have.
    failing: Callable[[Path], list[tuple[dict[str, Any], Code, str]]] = field(default=lambda _p: [])


# --- the reference page's pipeline example ---------------------------------------------------
def read_csv(params: dict[str, Any]) -> dict[str, Any]:
    with open(params["input_file"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"data": rows, "output_file": params["output_file"]}


def clean(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "cleaned_data": [row for row in params["input"] if all(v.strip() for v in row.values())]
    }


def transform(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "transformed_data": [
            {"city": row["city"].strip().title(), "celsius": float(row["celsius"])}
            for row in params["input"]
        ]
    }


def validate(params: dict[str, Any]) -> dict[str, Any]:
    rows = params["input"]
    bad = [row["city"] for row in rows if not -90 <= row["celsius"] <= 60]
    if bad:
        return make_error(Code.InvalidParameters, f"implausible temperatures: {', '.join(bad)}")  # type: ignore[no-any-return]
    return {"validated_data": rows}


def write_json(params: dict[str, Any]) -> dict[str, Any]:
    Path(params["output_file"]).write_text(json.dumps(params["input"]))
    return {"written": len(params["input"]), "output_file": params["output_file"]}


def pipeline_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin("csv_reader", process=read_csv),
        FunctionPlugin("data_cleaner", process=clean),
        FunctionPlugin("data_transformer", process=transform),
        FunctionPlugin("data_validator", process=validate),
        FunctionPlugin("json_writer", process=write_json),
    )
    composition = PluginComposition("data_pipeline", "Data Processing Pipeline")
    composition.set_description("Multi-stage data processing pipeline").set_strategy(
        CompositionStrategy.Pipeline
    )
    composition.add_plugin("csv_reader", PluginRole.Primary).add_plugin(
        "data_cleaner", PluginRole.Secondary
    ).add_plugin("data_transformer", PluginRole.Secondary).add_plugin(
        "data_validator", PluginRole.Secondary
    ).add_plugin("json_writer", PluginRole.Secondary)
    composition.add_binding(
        CompositionBinding("csv_reader", "data", "data_cleaner", "input")
    ).add_binding(
        CompositionBinding("data_cleaner", "cleaned_data", "data_transformer", "input")
    ).add_binding(
        CompositionBinding("data_transformer", "transformed_data", "data_validator", "input")
    ).add_binding(CompositionBinding("data_validator", "validated_data", "json_writer", "input"))
    # The writer also needs where to write: a mapping passes it on from the reader.
    composition.add_binding(
        CompositionBinding(
            "csv_reader", "", "json_writer", "", parameter_mapping={"output_file": "output_file"}
        )
    )
    return composition


def pipeline_inputs(tmp: Path) -> list[dict[str, Any]]:
    source = tmp / "cities.csv"
    source.write_text("city,celsius\ncairo,31\n oslo ,4\n,\nlima,19\n")
    return [{"input_file": str(source), "output_file": str(tmp / "out.json")}]


def pipeline_failing(tmp: Path) -> list[tuple[dict[str, Any], Code, str]]:
    source = tmp / "hot.csv"
    source.write_text("city,celsius\nvenus,460\n")
    params = {"input_file": str(source), "output_file": str(tmp / "hot.json")}
    return [(params, Code.InvalidParameters, "implausible temperatures: Venus")]


# --- the reference page's facade example -----------------------------------------------------
def processor(kind: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda params: {"processed_by": kind, "file": params["file"]}


def facade_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin("image_processor", process=processor("image")),
        FunctionPlugin("video_processor", process=processor("video")),
        FunctionPlugin("audio_processor", process=processor("audio")),
        FunctionPlugin("metadata_extractor", extract_metadata=lambda p: {"tags": [p["file"]]}),
    )
    composition = PluginComposition("media_facade", "Media Processing Facade")
    composition.set_description("Unified interface for media processing").set_strategy(
        CompositionStrategy.Facade
    )
    composition.add_plugin("image_processor", PluginRole.Secondary).add_plugin(
        "video_processor", PluginRole.Secondary
    ).add_plugin("audio_processor", PluginRole.Secondary).add_plugin(
        "metadata_extractor", PluginRole.Auxiliary
    )

    def by_extension(extensions: list[str]) -> str:
        return f"{json.dumps(extensions)}.exists(e, file.endsWith('.' + e))"

    routing_config = {
        "image_extensions": ["jpg", "png", "gif", "bmp"],
        "video_extensions": ["mp4", "avi", "mov", "mkv"],
        "audio_extensions": ["mp3", "wav", "flac", "aac"],
    }
    rules = [
        {
            "plugin": f"{kind}_processor",
            "command": "process",
            "when": by_extension(routing_config[f"{kind}_extensions"]),
        }
        for kind in ("image", "video", "audio")
    ]
    composition.set_configuration({**routing_config, "routing": rules})
    return composition


def facade_inputs(tmp: Path) -> list[dict[str, Any]]:
    return [{"file": "holiday.png"}, {"file": "talk.mp4"}, {"file": "song.flac"}]


def facade_failing(tmp: Path) -> list[tuple[dict[str, Any], Code, str]]:
    # No rule matches and three components offer "process": ambiguous.
    return [({"file": "notes.txt"}, Code.InvalidConfiguration, "command 'process' is ambiguous")]


# --- the reference page's aggregation example ------------------------------------------------
def monitor(kind: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def status(params: dict[str, Any]) -> dict[str, Any]:
        if params.get("fail") in (kind, "all"):
            raise OSError(f"{kind} sensor unavailable")
        return {kind: value}

    return status


def aggregation_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    kinds = {"cpu": 0.25, "memory": 2048, "disk": "ok", "network": [1, 2]}
    register(
        manager,
        *(
            FunctionPlugin(f"{kind}_monitor", get_status=monitor(kind, value))
            for kind, value in kinds.items()
        ),
        FunctionPlugin("logger", write=lambda p: {}),  # offers no get_status: not called
    )
    composition = PluginComposition("system_monitor", "System Monitoring")
    composition.set_description("Aggregate system monitoring capabilities").set_strategy(
        CompositionStrategy.Aggregation
    )
    for kind in kinds:
        composition.add_plugin(f"{kind}_monitor", PluginRole.Secondary)
    return composition.add_plugin("logger", PluginRole.Auxiliary)


def aggregation_inputs(tmp: Path) -> list[dict[str, Any]]:
    return [{}, {"fail": "disk"}]  # one monitor failing leaves the others' results


# --- decorator, proxy, adapter, bridge -------------------------------------------------------
def decorator_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin(
            "translator",
            translate=lambda p: {"text": p["text"].upper(), "lang": p.get("lang", "en")},
        ),
        FunctionPlugin("trimmer", before=lambda p: {**p, "text": p["text"].strip()}),
        FunctionPlugin(
            "stamper", before=lambda p: {**p, "lang": "fr"}, after=lambda r: {**r, "stamped": True}
        ),
        FunctionPlugin("counter", after=lambda r: {**r, "length": len(r["text"])}),
    )
    return (
        PluginComposition("decorated_translator")
        .set_strategy(CompositionStrategy.Decorator)
        .set_primary_plugin("translator")
        .add_plugin("trimmer", PluginRole.Decorator)
        .add_plugin("stamper", PluginRole.Decorator)
        .add_plugin("counter", PluginRole.Decorator)
    )


def proxy_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin(
            "store", read=lambda p: {"value": p["key"] * 2}, delete=lambda p: {"deleted": True}
        ),
    )
    return (
        PluginComposition("guarded_store")
        .set_strategy(CompositionStrategy.Proxy)
        .add_plugin("store", PluginRole.Primary)
        .set_primary_plugin("store")
        .set_configuration(
            {"allowed_commands": ["read"], "rate_limit": {"max_calls": 1000, "per_ms": 1000}}
        )
    )


def adapter_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin(
            "legacy_geo",
            lookup_coords=lambda p: {
                "lat_deg": p["place_name"].count("a"),
                "lon_deg": len(p["place_name"]),
            },
        ),
    )
    return (
        PluginComposition("geocoder")
        .set_strategy(CompositionStrategy.Adapter)
        .add_plugin("legacy_geo", PluginRole.Primary)
        .set_configuration(
            {
                "command_map": {"geocode": "lookup_coords"},
                "parameter_map": {"address": "place_name"},
                "result_map": {"lat_deg": "latitude", "lon_deg": "longitude"},
            }
        )
    )


def bridge_example(manager: PluginManager, tmp: Path) -> PluginComposition:
    register(
        manager,
        FunctionPlugin("render_cpu", render=lambda p: {"pixels": p["size"] ** 2, "device": "cpu"}),
        FunctionPlugin("render_gpu", render=lambda p: {"pixels": p["size"] ** 2, "device": "gpu"}),
        FunctionPlugin("render_ui", show=lambda p: {}),
    )
    return (
        PluginComposition("renderer")
        .set_strategy(CompositionStrategy.Bridge)
        .add_plugin("render_ui", PluginRole.Primary)
        .add_plugin("render_cpu", PluginRole.Bridge)
        .add_plugin("render_gpu", PluginRole.Bridge)
        .set_primary_plugin("render_ui")
        .set_configuration({"implementation": "render_gpu"})
    )


SCENARIOS: dict[CompositionStrategy, Scenario] = {
    CompositionStrategy.Aggregation: Scenario(
        "aggregation",
        aggregation_example,
        "get_status",
        aggregation_inputs,
        lambda _t: [
            ({"fail": "all"}, Code.ExecutionFailed, "no component could execute 'get_status'")
        ],
    ),
    CompositionStrategy.Pipeline: Scenario(
        "pipeline", pipeline_example, "process", pipeline_inputs, pipeline_failing
    ),
    CompositionStrategy.Facade: Scenario(
        "facade", facade_example, "process", facade_inputs, facade_failing
    ),
    CompositionStrategy.Decorator: Scenario(
        "decorator",
        decorator_example,
        "translate",
        lambda _t: [{"text": "  hello "}, {"text": "x", "lang": "de"}],
    ),
    CompositionStrategy.Proxy: Scenario(
        "proxy", proxy_example, "read", lambda _t: [{"key": 21}, {"key": 1}]
    ),
    CompositionStrategy.Adapter: Scenario(
        "adapter",
        adapter_example,
        "geocode",
        lambda _t: [{"address": "Samarkand"}, {"address": "Oslo", "zoom": 3}],
    ),
    CompositionStrategy.Bridge: Scenario(
        "bridge", bridge_example, "render", lambda _t: [{"size": 3}]
    ),
}
