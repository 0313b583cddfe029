"""``CompositionBinding``: one data edge between two components of a composition.

QtForge's header names the fields ``source_plugin_id``, ``source_method``, ``target_plugin_id``,
``target_method``; its "CompositePlugin API Reference" page calls them ``source_plugin``,
``source_port``, ``target_plugin``, ``target_port`` and the transformer ``transformation``.
Both spellings work here, as properties and as constructor keywords.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Transformer = Callable[[Any], Any] | str
"""A binding's transformer: a callable ``value -> value`` or a CEL expression string."""

EXPRESSION_KEY = "expression"


class CompositionBinding:
    """A binding: what one component's output delivers into another component's input.

    In a Pipeline the binding's methods are **ports**: ``source_method`` names the key of the
    source component's output that is delivered (empty: the whole output) and ``target_method``
    the parameter it arrives as (empty: a dict value is merged into the parameters). See
    docs/composition.md for the full delivery rule, which is the same as a v2 DataFlow
    connection's.

    Args:
        source_plugin_id: The component that produces the data (alias ``source_plugin``).
        source_method: Key of its output to deliver; empty for the whole output (alias
            ``source_port``).
        target_plugin_id: The component that receives it (alias ``target_plugin``).
        target_method: Parameter the value arrives as; empty to merge a dict (alias
            ``target_port``).
        parameter_mapping: Extra keys to pass, ``{target parameter: source output key}``.
        transformer: Rewrites the delivered value: a callable, a CEL expression string, or
            ``{"expression": "<CEL>"}`` (alias ``transformation``). CEL sees the value's keys as
            variables and the whole value as ``value``, exactly as a v2 connection's
            ``data_transformation`` does.
        bidirectional: Stored and serialised; no strategy reads it (QtForge's neither).
        priority: Higher first: orders the pipeline's stages and wins key collisions.
    """

    __slots__ = (
        "bidirectional",
        "parameter_mapping",
        "priority",
        "source_method",
        "source_plugin_id",
        "target_method",
        "target_plugin_id",
        "transformer",
    )

    source_plugin_id: str
    source_method: str
    target_plugin_id: str
    target_method: str
    parameter_mapping: dict[str, Any]
    transformer: Transformer | None
    bidirectional: bool
    priority: int

    def __init__(
        self,
        source_plugin_id: str = "",
        source_method: str = "",
        target_plugin_id: str = "",
        target_method: str = "",
        *,
        parameter_mapping: Mapping[str, Any] | None = None,
        transformer: Transformer | Mapping[str, Any] | None = None,
        bidirectional: bool = False,
        priority: int = 0,
        source_plugin: str | None = None,
        source_port: str | None = None,
        target_plugin: str | None = None,
        target_port: str | None = None,
        transformation: Transformer | Mapping[str, Any] | None = None,
    ) -> None:
        self.source_plugin_id = source_plugin if source_plugin is not None else source_plugin_id
        self.source_method = source_port if source_port is not None else source_method
        self.target_plugin_id = target_plugin if target_plugin is not None else target_plugin_id
        self.target_method = target_port if target_port is not None else target_method
        # A non-mapping is kept as given so that validate() can name the mistake.
        mapping: Any = parameter_mapping
        if isinstance(mapping, Mapping):
            mapping = dict(mapping)
        self.parameter_mapping = {} if mapping is None else mapping
        self.transformer = normalise_transformer(
            transformation if transformation is not None else transformer
        )
        self.bidirectional = bidirectional
        self.priority = priority

    # --- the reference page's names ------------------------------------------------------
    @property
    def source_plugin(self) -> str:
        """The reference page's name for ``source_plugin_id``."""
        return self.source_plugin_id

    @source_plugin.setter
    def source_plugin(self, value: str) -> None:
        self.source_plugin_id = value

    @property
    def source_port(self) -> str:
        """The reference page's name for ``source_method``."""
        return self.source_method

    @source_port.setter
    def source_port(self, value: str) -> None:
        self.source_method = value

    @property
    def target_plugin(self) -> str:
        """The reference page's name for ``target_plugin_id``."""
        return self.target_plugin_id

    @target_plugin.setter
    def target_plugin(self, value: str) -> None:
        self.target_plugin_id = value

    @property
    def target_port(self) -> str:
        """The reference page's name for ``target_method``."""
        return self.target_method

    @target_port.setter
    def target_port(self, value: str) -> None:
        self.target_method = value

    @property
    def transformation(self) -> Transformer | None:
        """The reference page's name for ``transformer``."""
        return self.transformer

    @transformation.setter
    def transformation(self, value: Transformer | Mapping[str, Any] | None) -> None:
        self.transformer = normalise_transformer(value)

    # --- helpers ---------------------------------------------------------------------------
    def copy(self) -> CompositionBinding:
        """An independent copy (the mapping is copied; a callable transformer is shared)."""
        return CompositionBinding(
            self.source_plugin_id,
            self.source_method,
            self.target_plugin_id,
            self.target_method,
            parameter_mapping=self.parameter_mapping,
            transformer=self.transformer,
            bidirectional=self.bidirectional,
            priority=self.priority,
        )

    def label(self) -> str:
        """``source.method -> target.method``, how messages name the binding."""
        return (
            f"{self.source_plugin_id}.{self.source_method or '*'} -> "
            f"{self.target_plugin_id}.{self.target_method or '*'}"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompositionBinding):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the C++ struct

    def __repr__(self) -> str:
        return f"<CompositionBinding {self.label()}>"

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)


def normalise_transformer(value: Any) -> Any:
    """``{"expression": "<CEL>"}`` (the reference's JSON form) becomes the bare string.

    Anything else is kept as given; ``validate`` reports what is not usable.
    """
    if isinstance(value, Mapping):
        if not value:
            return None
        expression = value.get(EXPRESSION_KEY)
        if isinstance(expression, str) and len(value) == 1:
            return expression
    return value
