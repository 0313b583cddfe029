"""QtForge's composition JSON writer, ported line by line, and Qt's own JSON writer.

``cpp_composition_to_json`` is ``PluginComposition::to_json`` from ``src/workflow/composition.cpp``
(QtForge 3.1.0) over the C++ object's fields, given as a plain dict: it builds the
``QJsonObject`` the C++ builds, in the same insertion order. ``qt_json_text`` hands it to Qt's
``QJsonDocument::toJson`` (through PySide6, the same C++ code a QtForge application runs), which
sorts object keys and writes the indented format. So the golden files in ``tests/golden/`` are
byte for byte what QtForge writes for those compositions, independently of qtforge_orch.

Regenerate them (only when a composition below changes) with::

    QT_QPA_PLATFORM=offscreen python tests/qtforge_cpp_composition.py --update
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden"


def cpp_composition_to_json(fields: dict[str, Any]) -> dict[str, Any]:
    """``PluginComposition::to_json``; ``fields`` holds m_id, m_name, ... by their C++ names."""
    json: dict[str, Any] = {}
    json["id"] = fields["m_id"]
    json["name"] = fields["m_name"]
    json["description"] = fields["m_description"]
    json["strategy"] = int(fields["m_strategy"])
    json["primary_plugin_id"] = fields["m_primary_plugin_id"]
    json["configuration"] = fields["m_configuration"]
    plugins_json: dict[str, Any] = {}
    for plugin_id, role in fields["m_plugins"].items():
        plugins_json[plugin_id] = int(role)
    json["plugins"] = plugins_json
    bindings_json: list[Any] = []
    for binding in fields["m_bindings"]:
        binding_json: dict[str, Any] = {}
        binding_json["source_plugin_id"] = binding["source_plugin_id"]
        binding_json["source_method"] = binding["source_method"]
        binding_json["target_plugin_id"] = binding["target_plugin_id"]
        binding_json["target_method"] = binding["target_method"]
        binding_json["parameter_mapping"] = binding.get("parameter_mapping", {})
        binding_json["bidirectional"] = binding.get("bidirectional", False)
        binding_json["priority"] = binding.get("priority", 0)
        bindings_json.append(binding_json)
    json["bindings"] = bindings_json
    return json


def qt_json_text(document: dict[str, Any]) -> bytes:
    """``QJsonDocument(QJsonObject).toJson()`` (the indented format, QtForge's default)."""
    from PySide6.QtCore import QJsonDocument

    return bytes(QJsonDocument.fromVariant(document).toJson().data())


def _binding(
    source: str, method: str, target: str, target_method: str, **rest: Any
) -> dict[str, Any]:
    return {
        "source_plugin_id": source,
        "source_method": method,
        "target_plugin_id": target,
        "target_method": target_method,
        **rest,
    }


# The C++ objects behind the golden files: PluginRole Primary 0, Secondary 1, Auxiliary 2;
# CompositionStrategy Aggregation 0, Pipeline 1, Facade 2, Proxy 4.
CPP_COMPOSITIONS: dict[str, dict[str, Any]] = {
    # examples/01-fundamentals/composition-basics/composition_basics.cpp
    "composition_basics_by_qtforge.json": {
        "m_id": "comp.examples.basic",
        "m_name": "Composition Basics",
        "m_description": "Demonstrates composition data model and validation",
        "m_strategy": 0,
        "m_primary_plugin_id": "",
        "m_configuration": {},
        "m_plugins": {"com.examples.primary": 0, "com.examples.secondary": 1},
        "m_bindings": [
            _binding("com.examples.primary", "produce", "com.examples.secondary", "consume")
        ],
    },
    # The "Pipeline Composition" example of the CompositePlugin API Reference
    "composition_pipeline_by_qtforge.json": {
        "m_id": "data_pipeline",
        "m_name": "Data Processing Pipeline",
        "m_description": "Multi-stage data processing pipeline",
        "m_strategy": 1,
        "m_primary_plugin_id": "",
        "m_configuration": {},
        "m_plugins": {
            "csv_reader": 0,
            "data_cleaner": 1,
            "data_transformer": 1,
            "data_validator": 1,
            "json_writer": 1,
        },
        "m_bindings": [
            _binding("csv_reader", "data", "data_cleaner", "input"),
            _binding("data_cleaner", "cleaned_data", "data_transformer", "input"),
            _binding("data_transformer", "transformed_data", "data_validator", "input"),
            _binding("data_validator", "validated_data", "json_writer", "input"),
        ],
    },
    # The "Facade Composition" example, with a primary, routing rules and a mapped binding
    "composition_facade_by_qtforge.json": {
        "m_id": "media_facade",
        "m_name": "Media Processing Facade",
        "m_description": "Unified interface for media processing",
        "m_strategy": 2,
        "m_primary_plugin_id": "image_processor",
        "m_configuration": {
            "image_extensions": ["jpg", "png", "gif", "bmp"],
            "video_extensions": ["mp4", "avi", "mov", "mkv"],
            "audio_extensions": ["mp3", "wav", "flac", "aac"],
            "routing": [
                {"plugin": "video_processor", "when": "file.endsWith('.mp4')"},
                {"command": "tags", "plugin": "metadata_extractor"},
            ],
            "metadata_extractor": {"max_tags": 8, "enabled": True, "ratio": 0.5},
        },
        "m_plugins": {
            "image_processor": 0,
            "video_processor": 1,
            "audio_processor": 1,
            "metadata_extractor": 2,
        },
        "m_bindings": [
            _binding(
                "image_processor",
                "thumbnail",
                "metadata_extractor",
                "",
                parameter_mapping={"width": "thumb_width", "height": "thumb_height"},
                bidirectional=True,
                priority=5,
            ),
            _binding("video_processor", "", "metadata_extractor", "frames", priority=-2),
        ],
    },
    # A proxy with a rate limit, and plugin ids that sort differently by code unit and point
    "composition_proxy_by_qtforge.json": {
        "m_id": "guarded",
        "m_name": "guarded",
        "m_description": "",
        "m_strategy": 4,
        "m_primary_plugin_id": "backend",
        "m_configuration": {
            "allowed_commands": ["read", "list"],
            "rate_limit": {"max_calls": 10, "per_ms": 1000},
        },
        "m_plugins": {"backend": 0, "Zeta": 2, "äudit": 2, "\U0001f600log": 2, "\ufb01lter": 2},
        "m_bindings": [],
    },
}


def write_golden_files() -> None:
    for name, fields in CPP_COMPOSITIONS.items():
        (GOLDEN / name).write_bytes(qt_json_text(cpp_composition_to_json(fields)))
        print(f"wrote tests/golden/{name}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/qtforge_cpp_composition.py --update")
    write_golden_files()
