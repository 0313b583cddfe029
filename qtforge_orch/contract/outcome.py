"""``Outcome``: what one plugin call came to, whichever executor ran it."""

from __future__ import annotations

from typing import Any

from ..errors import PluginError


class Outcome:
    """The result of one attempt: ``output`` on success, else ``error``."""

    __slots__ = ("error", "output")

    def __init__(self, output: Any = None, error: PluginError | None = None) -> None:
        self.output = output
        self.error = error

    @property
    def ok(self) -> bool:
        """True when the call succeeded (``error`` is None)."""
        return self.error is None
