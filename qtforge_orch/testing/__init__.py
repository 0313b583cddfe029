"""``qtforge_orch.testing``: pytest fixtures, a fake clock, a signal recorder and fake plugins.

Installing ``qtforge_orch`` registers the pytest plugin (``qtforge_orch.testing.plugin``)
through the ``pytest11`` entry point, so its fixtures are available in any test suite:
``qtforge_plugin_manager``, ``qtforge_orchestrator``, ``qtforge_advanced_orchestrator``,
``qtforge_fake_clock`` and ``qtforge_signal_recorder``. The orchestrator fixtures need
pytest-qt (``pip install "qtforge_orch[testing]"``). See ``docs/testing.md``.

Names load on first use: pytest imports the plugin module in every session of every project
installed next to ``qtforge_orch``, so this package must not pull in Qt by itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..contract.timer_kind import TimerKind
    from .fake_clock import FakeClock, PendingTimer
    from .idle import wait_until_idle
    from .plugins import (
        CallLog,
        FlakyPlugin,
        HangingPlugin,
        PluginCall,
        RecordingPlugin,
        SlowPlugin,
        StreamingSource,
        function_plugin,
    )
    from .recorder import Emission, SignalRecorder, signal_names

_WHERE = {
    "FakeClock": ".fake_clock",
    "PendingTimer": ".fake_clock",
    "TimerKind": "qtforge_orch.contract",
    "Emission": ".recorder",
    "SignalRecorder": ".recorder",
    "signal_names": ".recorder",
    "CallLog": ".plugins",
    "FlakyPlugin": ".plugins",
    "HangingPlugin": ".plugins",
    "PluginCall": ".plugins",
    "RecordingPlugin": ".plugins",
    "SlowPlugin": ".plugins",
    "StreamingSource": ".plugins",
    "function_plugin": ".plugins",
    "wait_until_idle": ".idle",
}

__all__ = [
    "CallLog",
    "Emission",
    "FakeClock",
    "FlakyPlugin",
    "HangingPlugin",
    "PendingTimer",
    "PluginCall",
    "RecordingPlugin",
    "SignalRecorder",
    "SlowPlugin",
    "StreamingSource",
    "TimerKind",
    "function_plugin",
    "signal_names",
    "wait_until_idle",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
