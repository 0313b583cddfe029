"""The plugins examples/pipeline.json calls, for the command line example of the README.

Run from this folder:

    qtforge-orch run pipeline.json --plugins my_plugins.py --input '{"rows": 7}'

``--plugins`` loads this file as ``PluginManager.load_plugin`` does: every plugin defined at
module level is registered.
"""

from __future__ import annotations

from typing import Any

from qtforge_orch import FunctionPlugin


def make_rows(params: dict[str, Any]) -> dict[str, Any]:
    count = int(params.get("rows", 3))
    return {"values": [n * n for n in range(1, count + 1)]}


def check_rows(params: dict[str, Any]) -> dict[str, Any]:
    values = params["values"]
    return {"checked": len(values), "all_positive": all(v > 0 for v in values)}


def total(params: dict[str, Any]) -> dict[str, Any]:
    return {"total": sum(params["values"])}


rows = FunctionPlugin("rows", make=make_rows, check=check_rows)
report = FunctionPlugin("report", total=total)
