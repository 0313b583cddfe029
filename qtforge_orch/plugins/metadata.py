"""``PluginMetadata``: descriptive data about a plugin, a pydantic model.

In a module of its own so that running plugins never imports pydantic for it: only
``IPlugin.metadata()`` (and code that names the class) loads it. ``defer_build``: its
validator is built on first use, not when the class is defined.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PluginMetadata(BaseModel):
    """Descriptive data about a plugin. Informational: the manager does not enforce it."""

    model_config = ConfigDict(validate_assignment=True, defer_build=True)

    name: str
    version: str = "1.0.0"
    description: str = ""
    author: str = ""
    license: str = ""
    category: str = ""
    tags: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
