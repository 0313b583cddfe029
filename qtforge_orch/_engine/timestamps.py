"""ISO 8601 text for engine timestamps, fast enough for status calls at 60 Hz.

A status call of a large execution formats two timestamps per changed step; building a
``datetime`` and calling ``isoformat`` costs about 1.5 us each. Timestamps of one execution
share their whole seconds, so the text up to the second is cached and only the microseconds
are formatted. The result is exactly ``datetime.fromtimestamp(t, UTC).isoformat()``.
"""

from __future__ import annotations

from datetime import UTC, datetime

_cache: tuple[int, str] = (-1, "")  # one tuple, swapped whole: safe across threads


def iso_utc(timestamp: float) -> str | None:
    """``time.time()`` value -> ISO text in UTC; None for 0 (never happened)."""
    global _cache
    if not timestamp:
        return None
    whole = int(timestamp)
    micro = round((timestamp - whole) * 1_000_000)
    if micro >= 1_000_000 or whole < 0:  # rounding carried into the next second: rare
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    second, prefix = _cache
    if second != whole:
        prefix = datetime.fromtimestamp(whole, UTC).isoformat()[:19]
        _cache = (whole, prefix)
    if micro:
        return f"{prefix}.{micro:06d}+00:00"
    return f"{prefix}+00:00"
