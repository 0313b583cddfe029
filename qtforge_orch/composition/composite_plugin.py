"""``CompositePlugin``: several plugins presented as one ``IPlugin`` (a QObject).

QtForge's ``CompositePlugin`` (``qtplugin/workflow/composition.hpp``) loads its components
from the plugin manager, runs commands over them by the composition's strategy, and can gain or
lose components and bindings at run time, announcing each change with a signal.
"""

from __future__ import annotations

from abc import ABCMeta
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..plugins.manager import default_plugin_manager
from ..results import Expected, from_error, make_success
from ._plugin_methods import CompositeMethods
from ._rules import Clock
from ._runtime import CompositeCore, PluginLookup
from ._shipped import ShippedComposite, shipping_refusal, shipping_state
from .binding import CompositionBinding
from .composition import PluginComposition
from .strategy import PluginRole


class _QObjectPluginMeta(type(QObject), ABCMeta):  # type: ignore[misc]
    """QObject's metaclass and IPlugin's (ABCMeta) in one, so a class can be both."""


class CompositePlugin(QObject, CompositeMethods, metaclass=_QObjectPluginMeta):
    """A plugin made of other plugins, run by a ``CompositionStrategy``.

    Register it in a ``PluginManager`` (which initializes it) and use its id as a step's or
    node's plugin id, or call it directly after ``initialize()``. Its components are looked up
    in ``plugin_manager`` (by default the process-wide one); they stay registered there.

    Calls are safe from any number of threads at once: each reads one consistent view of the
    components, which runtime changes (``add_plugin``, ``bind_plugins``...) replace as a whole.
    Signals are emitted in the thread that made the change.

    Args:
        composition: What the composite is made of (copied).
        plugin_manager: Where components are found: a ``PluginManager`` or any object with
            ``get_plugin(id) -> Expected``; ``default_plugin_manager()`` when None.
        parent: The QObject parent.
        clock: Monotonic seconds for a Proxy's rate limit (tests pass a fake clock).

    Raises:
        TypeError: ``composition`` is not a ``PluginComposition``.
    """

    component_plugin_added = Signal(str)
    """A component was added at run time: its id."""
    component_plugin_removed = Signal(str)
    """A component was removed at run time: its id."""
    binding_created = Signal(str, str)
    """A binding was added at run time: source plugin id, target plugin id."""
    binding_removed = Signal(str, str)
    """A binding was removed at run time: source plugin id, target plugin id."""

    def __init__(
        self,
        composition: PluginComposition,
        plugin_manager: PluginLookup | None = None,
        parent: QObject | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(composition, PluginComposition):
            raise TypeError(
                f"CompositePlugin needs a PluginComposition, got {type(composition).__name__}"
            )
        QObject.__init__(self, parent)
        lookup = plugin_manager if plugin_manager is not None else default_plugin_manager()
        self._core = CompositeCore(composition, lookup, clock)

    # --- composition management ------------------------------------------------------------
    def add_plugin(
        self, plugin_id: str, role: PluginRole | int | str = PluginRole.Secondary
    ) -> Expected[None]:
        """Add a component; when running, it is loaded (and initialized if needed) now.

        Returns:
            Success (and ``component_plugin_added``), or ``InvalidArgument``,
            ``AlreadyExists``, ``PluginNotFound``, ``CircularDependency``, the component's
            initialization error, or the composition's validation error; nothing changes then.
        """
        result = self._core.add_plugin(self, plugin_id, role)
        if result:
            self.component_plugin_added.emit(plugin_id)
        return result

    def remove_plugin(self, plugin_id: str) -> Expected[None]:
        """Remove a component (shut down if this composite initialized it).

        Returns:
            Success (and ``component_plugin_removed``), ``PluginNotFound`` (not a
            component), or the validation error of the composition without it (a binding
            still names it: ``DependencyMissing``; a strategy needs it:
            ``InvalidConfiguration``); nothing changes then.
        """
        result = self._core.remove_plugin(plugin_id)
        if result:
            self.component_plugin_removed.emit(plugin_id)
        return result

    def bind_plugins(self, binding: CompositionBinding) -> Expected[None]:
        """Add a binding (a copy); calls that start afterwards use it.

        Returns:
            Success (and ``binding_created``), ``InvalidArgument``, or the validation error
            (``DependencyMissing``, ``CircularDependency``, a bad transformer:
            ``InvalidConfiguration``); nothing changes then.
        """
        result = self._core.bind(binding)
        if result:
            self.binding_created.emit(binding.source_plugin_id, binding.target_plugin_id)
        return result

    def unbind_plugins(self, source_plugin: str, source_method: str) -> Expected[None]:
        """Remove every binding from ``source_plugin``'s ``source_method``.

        Returns:
            Success (and one ``binding_removed`` per binding removed) or ``NotFound``.
        """
        removed = self._core.unbind(source_plugin, source_method)
        if not removed:
            return from_error(removed.error())
        for binding in removed.value():
            self.binding_removed.emit(binding.source_plugin_id, binding.target_plugin_id)
        return make_success()

    # --- process and Dask executors ---------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        return (ShippedComposite, shipping_state(self._core))

    @property
    def _shipping_revision(self) -> int:
        # Read by the executors' shipper: a changed composite is pickled again.
        return self._core.revision

    def _shipping_refusal(self, executor: str) -> str | None:
        # Read when a workflow naming this plugin on another executor is registered.
        return shipping_refusal(self._core, self, executor)

    def __repr__(self) -> str:
        return (
            f"<CompositePlugin id={self.id()!r} "
            f"strategy={self._core.composition.strategy().name} state={self.state().name}>"
        )
