"""The library's diagnostics go to ``logging``, never to stderr directly.

Loggers are named ``qtforge_orch.<area>`` (docs/logging-and-tracing.md lists them):
``execution`` (what executions do: lifecycle, steps, rollbacks, resumes), ``executors`` (process
and Dask workers lost, clusters started), ``engine`` (engine callbacks and timers that raised),
``events`` (a subscriber that raised), ``journal``, ``plugins``, ``qt`` and ``cli``.
The ``qtforge_orch`` logger gets a ``NullHandler``, as the logging HOWTO asks of libraries: an
application that configures logging sees everything, one that does not sees nothing printed.
``logging`` is imported on first use (it costs milliseconds of a cold start, and most programs
never log anything through here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

_configured = False


def logger(area: str) -> logging.Logger:
    """The logger ``qtforge_orch.<area>``."""
    global _configured
    import logging

    if not _configured:
        logging.getLogger("qtforge_orch").addHandler(logging.NullHandler())
        _configured = True
    return logging.getLogger(f"qtforge_orch.{area}")
