"""Finding plugins in Python code: importing a module or file and collecting what it defines.

Every function here returns ``Expected`` so the manager can pass failures on unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import PluginErrorCode
from ..results import Expected, make_error, make_success
from .interface import IPlugin

_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_FILE_MODULE_PREFIX = "_qtforge_orch_plugin_file_"


def looks_like_path(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` names a file rather than a dotted module name.

    ``plugin.py`` and ``data.txt`` are also valid dotted names, so the suffix and separators
    decide first; an existing file wins over a module of the same spelling.
    """
    if not isinstance(source, str):
        return True
    if source.endswith((".py", ".pyw")) or "/" in source or os.sep in source:
        return True
    if os.altsep and os.altsep in source:
        return True
    return os.path.isfile(source) or _DOTTED_NAME.fullmatch(source) is None


def import_file(source: str | os.PathLike[str]) -> Expected[ModuleType]:
    path = Path(source).expanduser()
    if not path.exists():
        return make_error(PluginErrorCode.FileNotFound, f"plugin file '{path}' does not exist")
    if path.is_dir():
        return make_error(
            PluginErrorCode.InvalidFormat,
            f"'{path}' is a directory: pass a .py file, or the package's module name",
        )
    if path.suffix not in (".py", ".pyw"):
        return make_error(
            PluginErrorCode.InvalidFormat,
            f"'{path}' is not a Python source file (expected a .py file)",
        )
    # A unique name keeps two files called ``plugin.py`` apart and never shadows a real
    # module; the module stays registered under it so pickling and pydantic can find it.
    stem = re.sub(r"\W", "_", path.stem)
    name = f"{_FILE_MODULE_PREFIX}{stem}_{os.urandom(6).hex()}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return make_error(PluginErrorCode.InvalidFormat, f"cannot load '{path}' as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # a plugin file calling sys.exit() must not end the app
        sys.modules.pop(name, None)
        return _import_failed(str(path), exc)
    return make_success(module)


def import_module(name: str) -> Expected[ModuleType]:
    try:
        return make_success(importlib.import_module(name))
    except ModuleNotFoundError as exc:
        # Only a missing ``name`` itself is "not found": a missing dependency of the plugin
        # module is a load failure of a module that does exist.
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            return make_error(
                PluginErrorCode.FileNotFound, f"no plugin module named '{name}' ({exc})"
            )
        return _import_failed(name, exc)
    except BaseException as exc:  # as in import_file: SystemExit from a module is a failure
        return _import_failed(name, exc)


def forget_file_module(module: ModuleType) -> None:
    """Drop a module ``import_file`` created, when nothing from it was kept."""
    if module.__name__.startswith(_FILE_MODULE_PREFIX):
        sys.modules.pop(module.__name__, None)


def _import_failed(source: str, exc: BaseException) -> Expected[Any]:
    return make_error(
        PluginErrorCode.LoadFailed,
        f"importing '{source}' failed: {type(exc).__name__}: {exc}",
        _formatted(exc),
    )


def plugins_in_module(module: ModuleType) -> Expected[list[IPlugin]]:
    """The plugins ``module`` offers, by the first convention it follows.

    1. a ``PLUGINS`` list; 2. a ``create_plugins()`` or ``create_plugin()`` factory;
    3. its module-level plugin instances and the public, concrete ``IPlugin`` subclasses
    it defines (instantiated with no arguments) that have no such instance.
    """
    source = module.__name__
    if hasattr(module, "PLUGINS"):
        return as_plugins(module.PLUGINS, f"{source}.PLUGINS")
    for factory_name in ("create_plugins", "create_plugin"):
        factory = getattr(module, factory_name, None)
        if callable(factory):
            return as_plugins(factory, f"{source}.{factory_name}()")
    return _defined_plugins(module)


def as_plugins(obj: object, source: str) -> Expected[list[IPlugin]]:
    """Turn what an entry point or module offers into plugin instances.

    Accepts a plugin, an ``IPlugin`` subclass, a factory returning either, or an iterable
    of any of these.
    """
    try:
        plugins = list(_expand(obj, source))
    except _NotAPlugin as exc:
        return make_error(PluginErrorCode.InvalidArgument, str(exc))
    except Exception as exc:
        return make_error(
            PluginErrorCode.LoadFailed,
            f"creating plugins from {source} failed: {type(exc).__name__}: {exc}",
            _formatted(exc),
        )
    return make_success(plugins)


class _NotAPlugin(Exception):
    pass


def _expand(obj: object, source: str, depth: int = 0) -> Iterable[IPlugin]:
    if isinstance(obj, IPlugin):
        yield obj
    elif isinstance(obj, type) and issubclass(obj, IPlugin):
        yield obj()
    elif isinstance(obj, ModuleType):
        raise _NotAPlugin(f"{source} is a module, not a plugin")
    elif callable(obj) and depth == 0:
        yield from _expand(obj(), f"{source}()", depth + 1)
    elif isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)) and depth < 2:
        for item in obj:
            yield from _expand(item, source, depth + 2)
    else:
        raise _NotAPlugin(f"{source} gave {obj!r}, which is not an IPlugin")


def _defined_plugins(module: ModuleType) -> Expected[list[IPlugin]]:
    namespace = vars(module)
    instances = [value for value in namespace.values() if isinstance(value, IPlugin)]
    instantiated = {type(instance) for instance in instances}
    plugins = list(instances)
    for attr, value in namespace.items():
        if (
            isinstance(value, type)
            and issubclass(value, IPlugin)
            and value.__module__ == module.__name__
            and not attr.startswith("_")
            and value not in instantiated
            and not inspect.isabstract(value)
            and _constructible_without_arguments(value)
        ):
            try:
                plugins.append(value())
            except Exception as exc:
                return make_error(
                    PluginErrorCode.LoadFailed,
                    f"creating plugin class {module.__name__}.{attr} failed: "
                    f"{type(exc).__name__}: {exc}",
                    _formatted(exc),
                )
    return make_success(plugins)


def _constructible_without_arguments(cls: type) -> bool:
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return True
    return all(
        parameter.default is not inspect.Parameter.empty
        or parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for parameter in signature.parameters.values()
    )


def _formatted(exc: BaseException) -> str:
    import traceback  # only when a plugin failed to load: not on every start

    return "".join(traceback.format_exception(exc))
