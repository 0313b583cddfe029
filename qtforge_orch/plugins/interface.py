"""``IPlugin`` and ``PluginState``: QtForge's plugin interface in Python.

``PluginMetadata`` lives in ``_metadata`` (pydantic, loaded on first use).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import PluginErrorCode
from ..results import Expected, make_error, make_success

if TYPE_CHECKING:
    from .metadata import PluginMetadata


class PluginState(IntEnum):
    """QtForge's plugin lifecycle states, in QtForge's order (so the integers match)."""

    Unloaded = 0
    Loading = 1
    Loaded = 2
    Initializing = 3
    Running = 4
    Paused = 5
    Stopping = 6
    Stopped = 7
    Error = 8
    Reloading = 9


_TEXT_FIELDS = ("name", "version", "description", "author", "license", "category")
_LIST_FIELDS = ("tags", "dependencies")


class IPlugin(ABC):
    """A unit of work the orchestrators call by id and command name.

    Subclasses must implement ``id``, ``execute_command`` and ``available_commands``.
    ``execute_command`` may declare an extra keyword parameter ``context`` (a
    ``StepContext`` or None) to receive cooperative cancellation and progress reporting.

    Metadata comes from the class attributes below. They are plain attributes rather than
    constructor arguments so that a subclass needs no ``__init__`` at all; for the same reason
    the lifecycle state and configuration live in class-level defaults.
    """

    name: str = ""
    version: str = "1.0.0"
    description: str = ""
    author: str = ""
    license: str = ""
    category: str = ""
    tags: Sequence[str] = ()
    dependencies: Sequence[str] = ()

    _plugin_state: PluginState = PluginState.Unloaded
    _plugin_config: Mapping[str, Any] = {}

    @abstractmethod
    def id(self) -> str:
        """The unique id workflows use to address this plugin."""

    @abstractmethod
    def execute_command(
        self, command: str, params: dict[str, Any]
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        """Run ``command`` with ``params``; return a dict, or an ``Expected`` of one."""

    @abstractmethod
    def available_commands(self) -> list[str]:
        """The command names ``execute_command`` accepts."""

    def metadata(self) -> PluginMetadata:
        """Descriptive data, read from the class attributes ``name``, ``version``, etc.

        The attributes are ``name``, ``description``, ``version``, ``author``, ``license``,
        ``category``, ``tags`` and ``dependencies``; override this to compute them instead.
        """
        values: dict[str, Any] = {}
        # A subclass may reuse one of these names for something else (a ``description()``
        # method, say); such values are ignored rather than breaking ``metadata()``.
        for field in _TEXT_FIELDS:
            value = getattr(self, field, None)
            if isinstance(value, str) and value:
                values[field] = value
        for field in _LIST_FIELDS:
            value = getattr(self, field, None)
            if isinstance(value, Sequence) and not isinstance(value, str):
                values[field] = [item for item in value if isinstance(item, str)]
        values.setdefault("name", self.id())
        from .metadata import PluginMetadata  # pydantic: loaded when metadata is asked for

        return PluginMetadata(**values)

    def state(self) -> PluginState:
        """The lifecycle state: ``Unloaded`` until ``initialize``, then ``Running``."""
        return self._plugin_state

    def _set_state(self, state: PluginState) -> None:
        """For subclasses that manage their own lifecycle."""
        self._plugin_state = state

    def initialize(self) -> Expected[None]:
        """Prepare the plugin; ``PluginManager.register_plugin`` calls it once.

        Override to open resources; return an error ``Expected`` (or raise) to refuse
        registration. The default marks the plugin ``Running``.
        """
        self._plugin_state = PluginState.Running
        return make_success()

    def shutdown(self) -> None:
        """Release resources; ``PluginManager.unregister_plugin`` calls it. Marks ``Stopped``."""
        self._plugin_state = PluginState.Stopped

    def configure(self, config: dict[str, Any]) -> Expected[None]:
        """Store a copy of ``config``; ``InvalidConfiguration`` when it is not a mapping."""
        if not isinstance(config, Mapping):
            return make_error(
                PluginErrorCode.InvalidConfiguration,
                f"plugin '{self.id()}': configuration must be a dict, not {type(config).__name__}",
            )
        self._plugin_config = dict(config)
        return make_success()

    def get_configuration(self) -> dict[str, Any]:
        """A copy of the configuration last stored by ``configure`` (empty before)."""
        return dict(self._plugin_config)

    def __repr__(self) -> str:
        try:
            plugin_id = self.id()
        except Exception:  # repr must never fail, even for a half-built plugin
            plugin_id = "?"
        return f"<{type(self).__name__} id={plugin_id!r} state={self.state().name}>"


def accepts_context(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` declares a parameter named ``context`` that can be passed by keyword.

    Signature inspection is slow next to a call, so callers do this once per callable.
    """
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    parameter = parameters.get("context")
    return parameter is not None and parameter.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


@lru_cache(maxsize=1024)
def _function_accepts_context(fn: Callable[..., Any]) -> bool:
    return accepts_context(fn)


def plugin_accepts_context(plugin: IPlugin) -> bool:
    """Whether ``plugin.execute_command`` takes the ``context`` keyword (cached per class)."""
    if "execute_command" in getattr(plugin, "__dict__", ()):
        # Overridden on the instance: nothing shared to cache on.
        return accepts_context(plugin.execute_command)
    return _function_accepts_context(type(plugin).execute_command)


def __getattr__(name: str) -> Any:
    # ``PluginMetadata`` is still importable from here; it loads (with pydantic) when first
    # asked for, so plugins that never read metadata never import pydantic.
    if name == "PluginMetadata":
        from .metadata import PluginMetadata

        return PluginMetadata
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
