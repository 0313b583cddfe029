"""Rows comparing ours with the issue #14 references (Hamilton, ThreadPoolExecutor, dask).

Every row is "ours / reference" of a cost (time per step, wall, process wall): below 1 means
we are faster. Targets are the ones issue #14 sets; rows without one are reported only.
"""

from __future__ import annotations

from typing import Any

from ._common import Figure

NAMES = {
    "v1": "ours v1",
    "v2": "ours v2",
    "v1_handle": "ours v1 handle",
    "v2_handle": "ours v2 handle",
    "hamilton": "Hamilton",
    "hamilton_threads": "Hamilton on threads",
    "pool": "thread pool",
    "dask": "dask",
    "bare": "bare Python",
}


def versus(
    figure_id: str,
    label: str,
    unit: str,
    costs: dict[str, float],
    ours: str,
    reference: str,
    *,
    floor: str = "",
    at_most: float | None = None,
    method: str = "",
    extra: dict[str, Any] | None = None,
    issue: str = "#14",
) -> Figure:
    """``costs[ours] / costs[reference]``, checked against ``at_most`` when given."""
    ratio = costs[ours] / costs[reference]
    return Figure(
        figure_id,
        label,
        unit,
        costs[ours],
        peer=costs[reference],
        peer_name=NAMES[reference],
        floor=costs[floor] if floor else None,
        floor_name=NAMES[floor] if floor else "",
        ratio=ratio,
        ratio_of=f"{NAMES[ours]}/{NAMES[reference]}",
        target=f"<= {at_most:g} ({issue})" if at_most is not None else "reported",
        met=ratio <= at_most if at_most is not None else None,
        method=method,
        extra=extra or {},
    )
