"""``CompositionManager``: a registry of compositions and the composite plugins made from them."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..errors import PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from ._runtime import PluginLookup
from .composite_plugin import CompositePlugin
from .composition import PluginComposition


class CompositionManager(QObject):
    """Compositions by id, and at most one ``CompositePlugin`` per composition.

    ``CompositionManager.instance()`` is the process-wide one (as in QtForge); tests and
    applications may also construct their own. All methods are thread-safe; signals are emitted
    in the calling thread, after the change.

    Args:
        plugin_manager: Where the composites it creates find their components
            (``default_plugin_manager()`` when None).
        parent: The QObject parent.
    """

    composition_registered = Signal(str)
    """A composition was registered: its id."""
    composition_unregistered = Signal(str)
    """A composition was unregistered: its id."""
    composite_plugin_created = Signal(str)
    """A composite plugin was created (and initialized): its composition id."""
    composite_plugin_destroyed = Signal(str)
    """A composite plugin was shut down and dropped: its composition id."""

    _instance: CompositionManager | None = None
    _instance_lock = threading.Lock()

    def __init__(
        self, plugin_manager: PluginLookup | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._plugin_manager = plugin_manager
        self._lock = threading.Lock()
        self._compositions: dict[str, PluginComposition] = {}
        self._composites: dict[str, CompositePlugin] = {}
        # Serialises creation so two threads never build two composites for one id.
        self._creating = threading.Lock()

    @staticmethod
    def instance() -> CompositionManager:
        """The process-wide manager (created on first use, in the calling thread)."""
        if CompositionManager._instance is None:
            with CompositionManager._instance_lock:
                if CompositionManager._instance is None:
                    CompositionManager._instance = CompositionManager()
        return CompositionManager._instance

    # --- compositions ----------------------------------------------------------------------
    def register_composition(self, composition: PluginComposition) -> Expected[None]:
        """Validate and register a copy of ``composition``.

        Returns:
            Success, ``InvalidArgument`` (not a composition), its validation error, or
            ``AlreadyExists`` (the id is registered: unregister it first).
        """
        if not isinstance(composition, PluginComposition):
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"register_composition needs a PluginComposition, got {type(composition).__name__}",
            )
        checked = composition.validate()
        if not checked:
            return checked
        with self._lock:
            if composition.id() in self._compositions:
                return make_error(
                    PluginErrorCode.AlreadyExists,
                    f"a composition with id '{composition.id()}' is already registered",
                )
            self._compositions[composition.id()] = composition.copy()
        self.composition_registered.emit(composition.id())
        return make_success()

    def unregister_composition(self, composition_id: str) -> Expected[None]:
        """Forget a composition; its composite plugin, if any, is shut down and dropped first.

        Returns:
            Success or ``NotFound``.
        """
        with self._creating, self._lock:
            if not isinstance(composition_id, str) or composition_id not in self._compositions:
                return self._not_found("composition", composition_id)
            del self._compositions[composition_id]
            composite = self._composites.pop(composition_id, None)
        if composite is not None:
            composite.shutdown()
            self.composite_plugin_destroyed.emit(composition_id)
        self.composition_unregistered.emit(composition_id)
        return make_success()

    def get_composition(self, composition_id: str) -> Expected[PluginComposition]:
        """A copy of a registered composition, or ``NotFound``."""
        with self._lock:
            found = (
                self._compositions.get(composition_id) if isinstance(composition_id, str) else None
            )
            if found is None:
                return self._not_found("composition", composition_id)
            return make_success(found.copy())

    def list_compositions(self) -> list[str]:
        """The registered composition ids, in registration order."""
        with self._lock:
            return list(self._compositions)

    # --- composite plugins -----------------------------------------------------------------
    def create_composite_plugin(self, composition_id: str) -> Expected[CompositePlugin]:
        """The composite plugin of a registered composition.

        Created and initialized on the first call; later calls return the same one.

        Returns:
            The composite, ``NotFound`` (no such composition), or its initialization error
            (nothing is kept then). It is not registered in any ``PluginManager``: register it
            there to use it in workflows.
        """
        with self._creating:
            found = self.get_composition(composition_id)
            if not found:
                return from_error(found.error())
            with self._lock:
                existing = self._composites.get(composition_id)
            if existing is not None:
                return make_success(existing)
            composite = CompositePlugin(found.value(), self._plugin_manager)
            # Created by whichever thread asked; it lives where the manager lives.
            composite.moveToThread(self.thread())
            started = composite.initialize()
            if not started:
                return from_error(started.error())
            with self._lock:
                self._composites[composition_id] = composite
        self.composite_plugin_created.emit(composition_id)
        return make_success(composite)

    def destroy_composite_plugin(self, composition_id: str) -> Expected[None]:
        """Shut down and drop a composite plugin (its composition stays registered).

        Returns:
            Success or ``NotFound``.
        """
        with self._creating, self._lock:
            composite = (
                self._composites.pop(composition_id, None)
                if isinstance(composition_id, str)
                else None
            )
        if composite is None:
            return self._not_found("composite plugin", composition_id)
        composite.shutdown()
        self.composite_plugin_destroyed.emit(composition_id)
        return make_success()

    def list_composite_plugins(self) -> list[str]:
        """The ids of the composite plugins created, in creation order."""
        with self._lock:
            return list(self._composites)

    def get_composite_plugin(self, composition_id: str) -> CompositePlugin | None:
        """A created composite plugin, or None (QtForge returns a null pointer)."""
        with self._lock:
            return self._composites.get(composition_id) if isinstance(composition_id, str) else None

    def _not_found(self, what: str, composition_id: Any) -> Expected[Any]:
        known = list(self._compositions if what == "composition" else self._composites)
        return make_error(
            PluginErrorCode.NotFound,
            f"no {what} with id {composition_id!r} (known: {', '.join(known) or 'none'})",
        )
