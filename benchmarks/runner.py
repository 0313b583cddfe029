"""Runs the scenarios, prints the table and writes the JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._common import Context, Figure, load_average, machine

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"

Scenario = Callable[[Context], list[Figure]]


def _scenarios() -> dict[str, tuple[str, Scenario]]:
    from . import (
        app_path,
        coldstart,
        editor,
        executors,
        journaled,
        layered,
        memory,
        monitor,
        nested,
        responsiveness,
        startup,
        streaming,
        throughput,
    )

    return {
        "B1": ("sequential chain of 500 no-op steps", throughput.b1_chain),
        "B2": ("parallel fan-out of 2,000 no-op steps", throughput.b2_fan_out),
        "B3": ("64 I/O-bound steps on 16 threads", throughput.b3_io_bound),
        "B4": ("streaming 200,000 items", streaming.b4_streaming),
        "B5": ("memory per step", memory.b5_memory),
        "B6": ("GUI responsiveness during a fan-out", responsiveness.b6_gui),
        "B7": ("import time", startup.b7_import),
        "B8": ("scale: 1,000 executions, 10,000-step registration", memory.b8_scale),
        "B9": ("qasync await overhead", responsiveness.b9_qasync),
        "B10": ("WorkflowMonitor open on a 1,000-node run", monitor.b10_monitor),
        "B11": ("process executor: 8 CPU-bound steps in Parallel", executors.b11),
        "B12": ("Dask executor: per-step overhead vs client.submit", executors.b12),
        "B13": ("Dask executor: GUI gaps during a 2,000-step fan-out", executors.b13),
        "B14": ("the B1 chain with the execution journal on", journaled.b14_journaled),
        "B15": ("layered DAG 20 x 50, fan-in 3, against the references", layered.b15_layered),
        "B16": ("cold start: a fresh process runs 10 steps", coldstart.b16_cold_start),
        "B17": ("workflow editor on a 1,000-node, 1,500-connection graph", editor.b17_editor),
        "B18": ("a nested one-step workflow vs one plain step", nested.b18_nested),
        "B19": ("the application's path: run, then read the result", app_path.b19_app_path),
    }


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run qtforge_orch's benchmark scenarios (B1-B19) against peers.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats and smaller sizes (smoke test)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"where to write the figures (default: {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--only", default="", metavar="B1,B4", help="comma-separated scenarios to run"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 2 when a target is missed"
    )
    return parser.parse_args(argv)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 0.1 or value == 0 else f"{value:.3g}"


def _cell(value: float | None, name: str) -> str:
    if value is None:
        return "-"
    return f"{_number(value)} ({name})" if name else _number(value)


def _met(figure: Figure) -> str:
    return "-" if figure.met is None else ("yes" if figure.met else "NO")


def table(figures: list[Figure]) -> str:
    header = ("figure", "ours", "peer", "floor", "ratio", "target", "met?")
    rows = [
        (
            figure.label,
            f"{_number(figure.ours)} {figure.unit}" if figure.ours is not None else "-",
            _cell(figure.peer, figure.peer_name),
            _cell(figure.floor, figure.floor_name),
            f"{_number(figure.ratio)} {figure.ratio_of}" if figure.ratio is not None else "-",
            figure.target or "-",
            _met(figure),
        )
        for figure in figures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def _select(only: str, known: dict[str, Any]) -> list[str]:
    if not only:
        return list(known)
    wanted = [part.strip().upper() for part in only.split(",") if part.strip()]
    unknown = [key for key in wanted if key not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [key for key in known if key in wanted]


def _app() -> Any:
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # in case runner is used without __main__
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([sys.argv[0]])


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    scenarios = _scenarios()
    selected = _select(args.only, scenarios)
    app = _app()
    ctx = Context(quick=args.quick, app=app)
    facts = machine()
    figures: list[Figure] = []
    report: dict[str, Any] = {}
    crashed = False
    began = time.perf_counter()
    for key in selected:
        title, scenario = scenarios[key]
        print(f"[{key}] {title} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            produced = scenario(ctx)
            error = None
        except Exception as exc:  # one broken scenario must not hide the others' figures
            crashed = True
            error = "".join(traceback.format_exception(exc))
            print(error, file=sys.stderr)
            produced = [
                Figure(
                    f"{key}.error",
                    f"{key} {title}: FAILED TO RUN",
                    "",
                    None,
                    met=False,
                    target="runs",
                    extra={"error": error},
                )
            ]
        elapsed = time.perf_counter() - started
        print(f"[{key}] done in {elapsed:.1f} s", file=sys.stderr, flush=True)
        figures.extend(produced)
        report[key] = {"title": title, "seconds": elapsed, "error": error}
    total = time.perf_counter() - began
    facts["load_average_end"] = load_average()
    print(
        f"machine: {facts['nproc']} CPUs ({facts['cpu_model']}), Python {facts['python']}, "
        f"PySide6 {facts['pyside6']}, dask {facts['dask']}; load average "
        f"{'/'.join(map(str, facts['load_average']))} at start, "
        f"{'/'.join(map(str, facts['load_average_end']))} at end; "
        f"qtforge_orch {facts['qtforge_orch_revision']}\n"
    )
    print(table(figures))
    missed = [f.id for f in figures if f.met is False]
    print(
        f"\n{sum(f.met is True for f in figures)} targets met, {len(missed)} missed"
        + (f" ({', '.join(missed)})" if missed else "")
        + f"; {total:.1f} s{' (quick)' if args.quick else ''}"
    )
    document = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": facts,
        "total_seconds": total,
        "scenarios": report,
        "figures": [figure.to_json() for figure in figures],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"figures written to {args.json}")
    if crashed:
        return 1
    return 2 if args.strict and missed else 0
