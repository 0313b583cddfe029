"""B17: the workflow editor on a 1,000-node, 1,500-connection graph.

Open and lay out, a pan and a zoom repaint, one edit with its live validation, and the undo
of a 1,000-node paste, each in GUI-thread time (the calls are synchronous in the GUI thread,
so wall time is GUI-thread time; the thread's CPU time is reported beside it).
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._common import Context, Figure, load_average

LAYERS, WIDTH = 20, 50
NODES = LAYERS * WIDTH
CONNECTIONS = 1500
OPEN_TARGET_MS = 500.0
FRAME_TARGET_MS = 16.0
UNDO_TARGET_MS = 100.0


def big_workflow(
    layers: int = LAYERS, width: int = WIDTH, connections: int = CONNECTIONS, seed: int = 17
) -> Any:
    """A layered DAG like B15's, without positions: ``layers`` x ``width`` nodes, each node
    fed by one or two nodes of the layer before (``connections`` in all). Sources first,
    Sinks last, a Decision routing by a Control condition in every layer; ports declared
    and used."""
    from qtforge_orch import PluginWorkflow, WorkflowConnection, WorkflowNode

    rng = random.Random(seed)
    made = []
    for layer in range(layers):
        for slot in range(width):
            kind = "Processor"
            if layer == 0:
                kind = "Source"
            elif layer == layers - 1:
                kind = "Sink"
            elif slot == 0:
                kind = "Decision"
            made.append(
                WorkflowNode(
                    node_id=f"n{layer}_{slot}",
                    name=f"step {layer}.{slot}",
                    plugin_id="work",
                    node_type=kind,
                    configuration={"method": "run"},
                    input_ports=[] if kind == "Source" else ["in"],
                    output_ports=[] if kind == "Sink" else ["out"],
                )
            )
    wired = []
    seen = set()

    def wire(layer: int, slot: int, source_slot: int) -> None:
        source, target = f"n{layer - 1}_{source_slot}", f"n{layer}_{slot}"
        seen.add((source, target))
        if source_slot == 0:  # out of the layer's Decision: a conditional route
            wired.append(
                WorkflowConnection(
                    source_node=source,
                    target_node=target,
                    connection_type="Control",
                    properties={"condition": "ok == true"},
                )
            )
        elif not wired or len(seen) % 3:
            wired.append(
                WorkflowConnection(
                    source_node=source, source_port="out", target_node=target, target_port="in"
                )
            )
        else:
            wired.append(WorkflowConnection(source_node=source, target_node=target))

    for layer in range(1, layers):
        for slot in range(width):
            wire(layer, slot, rng.randrange(width))
    while len(wired) < connections:
        layer, slot, source = rng.randrange(1, layers), rng.randrange(width), rng.randrange(width)
        if (f"n{layer - 1}_{source}", f"n{layer}_{slot}") not in seen:
            wire(layer, slot, source)
    return PluginWorkflow(workflow_id="big", nodes=made, connections=wired)


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall ms, GUI-thread CPU ms) of one synchronous call."""
    cpu = time.thread_time()
    began = time.perf_counter()
    action()
    return (time.perf_counter() - began) * 1000, (time.thread_time() - cpu) * 1000


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (
        statistics.median(s[0] for s in samples),
        statistics.median(s[1] for s in samples),
    )


def b17_editor(ctx: Context) -> list[Figure]:
    """The editor (shown, 1280x800) on a 1,000-node, 1,500-connection workflow file."""
    from PySide6.QtCore import QPointF

    from qtforge_orch.widgets import VisualWorkflowEditor

    app = ctx.app
    repeats = ctx.reps(7, 2)
    folder = tempfile.TemporaryDirectory()
    path = Path(folder.name) / "big.json"
    path.write_text(json.dumps(big_workflow().to_json()), encoding="utf-8")
    editor = VisualWorkflowEditor()
    editor.resize(1280, 800)
    editor.show()
    app.processEvents()
    viewport = editor.viewport()
    loads: dict[str, list[float]] = {}

    def open_and_show() -> None:
        opened = editor.open(path)
        if not opened:
            raise RuntimeError(f"open failed: {opened.error()}")
        editor.flush()
        viewport.repaint()  # the first frame is part of opening

    # Open and lay out (the file has no positions): a fresh open each time.
    open_and_show()  # warm-up: imports, fonts, pydantic validators
    opens = [_timed(open_and_show) for _ in range(repeats)]
    loads["open"] = load_average()

    # Repaints at the fitted zoom (everything visible: the worst case) and at 100 %.
    # A frame: the view's own update after the scroll or zoom (Qt repaints what changed:
    # a strip after a scroll, everything after a zoom) plus whatever else the GUI thread
    # does in that turn (texts made for nodes scrolled into view).
    pans = iter(range(1_000_000))

    def pan() -> None:
        bar = editor.horizontalScrollBar()
        bar.setValue(bar.value() + (40 if next(pans) % 20 < 10 else -40))
        app.processEvents()

    zoom_steps = iter(range(1_000_000))

    def zoom() -> None:
        step = next(zoom_steps)
        editor.set_zoom(editor.zoom() * (1.1 if step % 2 else 1 / 1.1))
        app.processEvents()

    frames: dict[str, list[tuple[float, float]]] = {}
    for where in ("fit", "100 %"):
        if where == "100 %":
            editor.set_zoom(1.0)
            editor.centerOn(editor.node_item("n10_25") or QPointF())  # type: ignore[arg-type]
        editor.flush()
        app.processEvents()
        for name, action in (("pan", pan), ("zoom", zoom)):
            action()  # warm-up
            frames[f"{name} at {where}"] = [_timed(action) for _ in range(repeats * 3)]
    loads["repaint"] = load_average()

    # One edit plus its live validation (badges drawn): add a node, connect it, rename it.
    editor.fit()
    editor.flush()
    counter = iter(range(1_000_000))
    last: dict[str, str] = {}

    def add() -> None:
        last["node"] = editor.add_plugin_node("work", QPointF(-400, 100 * next(counter)))
        editor.validation_issues()
        editor.flush()

    def connect() -> None:
        editor.connect_nodes("n3_3", "out", last["node"], "")
        editor.validation_issues()
        editor.flush()

    def rename() -> None:
        editor.set_node_property("n7_7", "name", f"renamed {next(counter)}")
        editor.validation_issues()
        editor.flush()

    edits: dict[str, list[tuple[float, float]]] = {"add": [], "connect": [], "rename": []}
    add(), connect(), rename()  # warm-up
    for _ in range(repeats):
        for name, action in (("add", add), ("connect", connect), ("rename", rename)):
            edits[name].append(_timed(action))
    loads["edit"] = load_average()

    # Undo of a 1,000-node paste (with the 1,500 connections among the nodes).
    editor.open(path)
    editor.select(editor.node_ids())
    editor.copy_selection()
    undos = []
    pasted = editor.paste()
    if not pasted or len(pasted.value()) != NODES:
        raise RuntimeError(f"the paste did not add {NODES} nodes: {pasted}")
    editor.flush()
    app.processEvents()
    for attempt in range(repeats):
        if attempt:
            editor.redo()
            editor.flush()
            app.processEvents()

        def undo() -> None:
            editor.undo()
            editor.flush()

        undos.append(_timed(undo))
        if len(editor.node_ids()) != NODES:
            raise RuntimeError("undo did not remove the pasted nodes")
    loads["undo"] = load_average()
    editor.deleteLater()
    folder.cleanup()

    open_ms, open_cpu = _median(opens)
    frame_medians = {name: _median(samples) for name, samples in frames.items()}
    worst_frame = max(frame_medians, key=lambda name: frame_medians[name][0])
    edit_medians = {name: _median(samples) for name, samples in edits.items()}
    worst_edit = max(edit_medians, key=lambda name: edit_medians[name][0])
    undo_ms, undo_cpu = _median(undos)

    def load(key: str) -> str:
        return "/".join(f"{x:.2f}" for x in loads[key])

    size = f"{NODES:,} nodes, {CONNECTIONS:,} connections"
    return [
        Figure(
            "B17.open",
            f"B17 open + lay out + first paint, {size}",
            "ms",
            open_ms,
            ratio=open_ms,
            ratio_of="median (ms)",
            target=f"<= {OPEN_TARGET_MS:.0f} ms",
            met=open_ms <= OPEN_TARGET_MS,
            method=(
                f"median of {len(opens)} after a warm-up: VisualWorkflowEditor.open() of a "
                "JSON file without positions (read with PluginWorkflow.from_json, layered "
                "layout, items, validation), flush(), one full repaint; shown at 1280x800"
            ),
            extra={"cpu_ms": open_cpu, "samples": opens, "load_average": loads["open"]},
        ),
        Figure(
            "B17.repaint",
            f"B17 pan or zoom repaint (worst: {worst_frame})",
            "ms",
            frame_medians[worst_frame][0],
            ratio=frame_medians[worst_frame][0],
            ratio_of="median of the worst case (ms)",
            target=f"<= {FRAME_TARGET_MS:.0f} ms",
            met=frame_medians[worst_frame][0] <= FRAME_TARGET_MS,
            method=(
                "scroll 40 px or zoom 10 %, then the event loop turn that repaints, at the "
                "fitted zoom "
                f"(all {NODES:,} nodes visible, overview) and at 100 %; median of "
                f"{repeats * 3} each, worst case reported; load {load('repaint')}"
            ),
            extra={
                "cases_ms": {k: {"wall": w, "cpu": c} for k, (w, c) in frame_medians.items()},
                "load_average": loads["repaint"],
            },
        ),
        Figure(
            "B17.edit",
            f"B17 one edit + live validation (worst: {worst_edit})",
            "ms",
            edit_medians[worst_edit][0],
            ratio=edit_medians[worst_edit][0],
            ratio_of="median of the worst edit (ms)",
            target=f"<= {FRAME_TARGET_MS:.0f} ms",
            met=edit_medians[worst_edit][0] <= FRAME_TARGET_MS,
            method=(
                "GUI-thread time of add_plugin_node, connect_nodes (refused or accepted by "
                "the library's validation of the whole graph) and set_node_property, each "
                f"followed by validation_issues() and the badges drawn; median of {repeats}; "
                f"load {load('edit')}"
            ),
            extra={
                "edits_ms": {k: {"wall": w, "cpu": c} for k, (w, c) in edit_medians.items()},
                "load_average": loads["edit"],
            },
        ),
        Figure(
            "B17.undo_paste",
            f"B17 undo of a {NODES:,}-node paste",
            "ms",
            undo_ms,
            ratio=undo_ms,
            ratio_of="median (ms)",
            target=f"<= {UNDO_TARGET_MS:.0f} ms",
            met=undo_ms <= UNDO_TARGET_MS,
            method=(
                f"select all {NODES:,} nodes, copy, paste (one command: {NODES:,} nodes and "
                f"their {CONNECTIONS:,} connections), then undo() + flush(); median of "
                f"{len(undos)} (redo between); load {load('undo')}"
            ),
            extra={"cpu_ms": undo_cpu, "samples": undos, "load_average": loads["undo"]},
        ),
    ]
