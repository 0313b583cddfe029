"""Plugin composition: several plugins presented as one (QtForge's ``qtplugin::composition``).

``PluginComposition`` describes the components, their roles, the bindings between them and a
``CompositionStrategy``; ``CompositePlugin`` runs it as one ``IPlugin``; ``CompositionManager``
keeps compositions and their composites by id. The guide is docs/composition.md.

``CompositePlugin`` and ``CompositionManager`` are QObjects: they (and PySide6) load on first
access, so a worker process that rebuilds a shipped composite never imports Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .binding import CompositionBinding
from .composition import PluginComposition
from .strategy import CompositionStrategy, PluginRole

if TYPE_CHECKING:
    from .composite_plugin import CompositePlugin
    from .manager import CompositionManager

__all__ = [
    "CompositePlugin",
    "CompositionBinding",
    "CompositionManager",
    "CompositionStrategy",
    "PluginComposition",
    "PluginRole",
]

_LAZY = {
    "CompositePlugin": ".composite_plugin",
    "CompositionManager": ".manager",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
