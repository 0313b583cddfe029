"""``FunctionPlugin``: plain callables as a plugin, no class needed."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..errors import PluginErrorCode
from ..results import Expected, make_error
from .interface import IPlugin, accepts_context

if TYPE_CHECKING:
    from ..contract.context import StepContext
    from .metadata import PluginMetadata

CommandFunction = Callable[..., Any]
"""``fn(params: dict) -> dict | Expected[dict]``, optionally with a ``context`` parameter."""

F = TypeVar("F", bound=CommandFunction)


class FunctionPlugin(IPlugin):
    """A plugin whose commands are callables.

    ``FunctionPlugin("loader", load=read_csv, parse=parse_rows)`` offers the commands
    ``load`` and ``parse``. A command named like a keyword of this constructor (``metadata``)
    goes in the ``commands`` mapping instead: ``FunctionPlugin("x", {"metadata": fn})``.
    """

    def __init__(
        self,
        plugin_id: str,
        commands: Mapping[str, CommandFunction] | None = None,
        /,
        *,
        metadata: PluginMetadata | None = None,
        **command_functions: CommandFunction,
    ) -> None:
        if not isinstance(plugin_id, str) or not plugin_id:
            raise ValueError("FunctionPlugin needs a non-empty string id")
        self._id = plugin_id
        self._metadata = metadata
        # (callable, whether it takes ``context``): resolved here so that a call does no
        # signature inspection.
        self._commands: dict[str, tuple[CommandFunction, bool]] = {}
        for name, fn in {**(commands or {}), **command_functions}.items():
            self.add_command(name, fn)

    @classmethod
    def from_callable(
        cls,
        plugin_id: str,
        fn: CommandFunction,
        command: str = "execute",
        *,
        metadata: PluginMetadata | None = None,
    ) -> FunctionPlugin:
        """A plugin with one command (``execute`` by default, what v2 nodes call)."""
        return cls(plugin_id, {command: fn}, metadata=metadata)

    def add_command(self, name: str, fn: CommandFunction) -> None:
        """Add or replace a command. Raises ``TypeError`` if ``fn`` cannot take ``params``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin '{self._id}': command names must be non-empty strings")
        if not callable(fn):
            raise TypeError(f"plugin '{self._id}': command '{name}' is not callable: {fn!r}")
        wants_context = accepts_context(fn)
        _check_callable(self._id, name, fn, wants_context)
        self._commands[name] = (fn, wants_context)

    def command(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator form of ``add_command``; the command name defaults to the function's."""

        def register(fn: F) -> F:
            self.add_command(name or str(getattr(fn, "__name__", "")), fn)
            return fn

        return register

    def id(self) -> str:
        """The plugin id given to the constructor."""
        return self._id

    def metadata(self) -> PluginMetadata:
        """The metadata given to the constructor, else one named after the id."""
        if self._metadata is not None:
            return self._metadata
        from .metadata import PluginMetadata  # pydantic: loaded when metadata is asked for

        return PluginMetadata(name=self._id)

    def available_commands(self) -> list[str]:
        """The command names, in the order they were added."""
        return list(self._commands)

    def execute_command(
        self,
        command: str,
        params: dict[str, Any],
        context: StepContext | None = None,
    ) -> dict[str, Any] | Expected[dict[str, Any]]:
        """Call the command's function with ``params`` (and ``context`` if it takes one).

        Returns:
            What the function returns, or ``CommandNotFound`` for an unknown command.
        """
        entry = self._commands.get(command)
        if entry is None:
            return make_error(
                PluginErrorCode.CommandNotFound,
                f"plugin '{self._id}' has no command '{command}' "
                f"(available: {', '.join(self._commands) or 'none'})",
                plugin_id=self._id,
            )
        fn, wants_context = entry
        if wants_context:
            return cast("dict[str, Any] | Expected[dict[str, Any]]", fn(params, context=context))
        return cast("dict[str, Any] | Expected[dict[str, Any]]", fn(params))

    def resolve_command(
        self, command: str, context: StepContext | None = None
    ) -> Callable[[dict[str, Any]], Any] | None:
        """The callable behind ``command``, with the context bound when it takes one.

        An engine streaming many items calls it directly instead of dispatching each item by
        name.

        Returns:
            The callable taking ``params``; None for an unknown command, or when a subclass
            overrides ``execute_command`` (it must then be called through it).
        """
        if type(self).execute_command is not FunctionPlugin.execute_command:
            return None  # a subclass that overrides execute_command must be called through it
        entry = self._commands.get(command)
        if entry is None:
            return None
        fn, wants_context = entry
        return partial(fn, context=context) if wants_context else fn

    def __repr__(self) -> str:
        return f"FunctionPlugin({self._id!r}, commands={list(self._commands)})"


def _check_callable(plugin_id: str, name: str, fn: CommandFunction, wants_context: bool) -> None:
    # Catching a callable that cannot take ``params`` here reports it where it was written
    # instead of as a failed step at run time.
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # some builtins have no signature; let the call decide
    try:
        if wants_context:
            signature.bind({}, context=None)
        else:
            signature.bind({})
    except TypeError as exc:
        raise TypeError(
            f"plugin '{plugin_id}': command '{name}' must accept one positional argument "
            f"(the params dict): {exc}"
        ) from None
