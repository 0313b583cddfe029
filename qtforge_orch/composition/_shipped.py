"""A composite as a worker process rebuilds it (process and Dask executors).

``CompositePlugin`` is a QObject, which cannot be pickled; it pickles as its composition, its
configuration and its loaded components, and a worker rebuilds this plain ``IPlugin`` from
them, without importing Qt. Its components are the worker's own copies, and so is a Proxy's
rate-limit window.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from ._plugin_methods import CompositeMethods
from ._runtime import CompositeCore
from .composition import PluginComposition


class _Components:
    """The shipped components, looked up like a plugin manager."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self._components = dict(components)

    def get_plugin(self, plugin_id: str) -> Expected[Any]:
        plugin = self._components.get(plugin_id)
        if plugin is None:
            return make_error(PluginErrorCode.PluginNotFound, f"'{plugin_id}' was not shipped")
        return make_success(plugin)


class ShippedComposite(CompositeMethods):
    """A ``CompositePlugin``'s strategy and components, rebuilt in a worker process."""

    def __init__(
        self,
        composition: PluginComposition,
        components: Mapping[str, Any],
        configuration: dict[str, Any],
        running: bool,
    ) -> None:
        self._core = CompositeCore(composition, _Components(components), None)
        self._core.configuration = configuration
        self._failure: PluginError | None = None
        if not running:
            self._failure = PluginError(
                PluginErrorCode.InvalidState,
                f"composite '{composition.id()}' was not initialized when it was sent to the "
                "worker; register it with the PluginManager (which initializes it) first",
            )
            return
        started = self._core.initialize(self)
        if not started:
            self._failure = started.error()

    def execute_command(
        self, command: str, params: dict[str, Any] | None = None, context: Any = None
    ) -> Expected[dict[str, Any]]:
        """Run the command as the composite would; a failed rebuild is reported here."""
        if self._failure is not None:
            return from_error(self._failure)
        return self._core.execute(command, {} if params is None else params, context)

    def __reduce__(self) -> tuple[Any, ...]:
        core = self._core
        return (
            ShippedComposite,
            (core.composition, dict(core.components), core.configuration, self._failure is None),
        )


def shipping_state(core: CompositeCore) -> tuple[Any, ...]:
    """What ``CompositePlugin.__reduce__`` sends: enough to build a ``ShippedComposite``."""
    from ..plugins.interface import PluginState

    running = core.state is PluginState.Running
    return (core.composition, dict(core.components), dict(core.configuration), running)


def shipping_refusal(core: CompositeCore, composite: object, executor: str) -> str | None:
    """Why the composite cannot be sent to ``executor``, or None when it can.

    The reason names the component or transformer that does not pickle.
    """
    dumps = _dumps_for(executor)
    where = f"composite plugin '{core.composite_id}' cannot run on the {executor} executor"
    advice = (
        "; make it picklable (module-level functions, no locks or Qt objects) or run the step "
        "on the 'thread' executor"
    )
    for plugin_id, plugin in list(core.components.items()):
        problem = _pickle_problem(dumps, plugin)
        if problem:
            return f"{where}: its component '{plugin_id}' cannot be pickled ({problem}){advice}"
    for binding in core.composition._raw_bindings():
        if callable(binding.transformer):
            problem = _pickle_problem(dumps, binding.transformer)
            if problem:
                return (
                    f"{where}: the transformer of binding {binding.label()} cannot be pickled "
                    f"({problem}){advice}, or write it as a CEL expression"
                )
    problem = _pickle_problem(dumps, composite)
    return f"{where}: it cannot be pickled ({problem}){advice}" if problem else None


def _pickle_problem(dumps: Callable[[Any], bytes], value: Any) -> str:
    try:
        dumps(value)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _dumps_for(executor: str) -> Callable[[Any], bytes]:
    if executor == "dask":
        try:
            import cloudpickle

            dumps: Callable[[Any], bytes] = cloudpickle.dumps
            return dumps
        except ImportError:
            pass
    return lambda value: pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
