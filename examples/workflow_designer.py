"""A workflow designer over a few example plugins: drag plugins in, connect, check, save, run.

Run:         python examples/workflow_designer.py [FILE.json]
Screenshot:  QT_QPA_PLATFORM=offscreen python examples/workflow_designer.py --screenshot out.png
             (opens the sample order-processing workflow, selects a node, saves a PNG)

Without FILE the designer opens a sample v2 workflow that uses every kind of node: a Source,
a Decision routing by CEL conditions, a Splitter, a Processor, an Aggregator, two Sinks and a
disabled Custom node whose plugin is not installed (so the issues list has something to say).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from PySide6.QtWidgets import QApplication

from qtforge_orch import (
    FunctionPlugin,
    PluginManager,
    PluginWorkflow,
    WorkflowConnection,
    WorkflowNode,
    WorkflowNodeType,
)
from qtforge_orch.widgets import WorkflowDesigner

ORDERS = [
    {"id": 1, "sku": "lamp", "qty": 2, "price": 19.5, "country": "FR"},
    {"id": 2, "sku": "desk", "qty": 1, "price": 240.0, "country": "DE"},
    {"id": 3, "sku": "chair", "qty": 4, "price": 65.0, "country": "FR"},
]


def example_plugins() -> PluginManager:
    """The plugins the palette lists (each sleeps a little, so a run can be watched)."""

    def pause(result: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.1)
        return result

    plugins = PluginManager()
    plugins.register_plugin(
        FunctionPlugin("orders", fetch=lambda p: pause({"orders": list(ORDERS)}))
    )
    plugins.register_plugin(
        FunctionPlugin(
            "checks",
            validate=lambda p: pause({"orders": p["orders"], "ok": bool(p["orders"])}),
        )
    )
    plugins.register_plugin(FunctionPlugin("split", items=lambda p: pause({"items": p["orders"]})))
    plugins.register_plugin(
        FunctionPlugin(
            "pricing",
            total=lambda p: pause({"id": p["id"], "total": p["qty"] * p["price"]}),
        )
    )
    plugins.register_plugin(
        FunctionPlugin("collect", gather=lambda p: pause({"totals": p["items"]}))
    )
    plugins.register_plugin(
        FunctionPlugin(
            "report",
            write=lambda p: pause({"written": len(p.get("totals", []))}),
            alert=lambda p: pause({"alerted": True}),
        )
    )
    return plugins


def sample_workflow() -> PluginWorkflow:
    """Order processing: fetch, validate, price each order, collect, report."""
    node = WorkflowNode
    nodes = [
        node(
            node_id="fetch",
            name="Fetch orders",
            plugin_id="orders",
            node_type=WorkflowNodeType.Source,
            configuration={"method": "fetch"},
            output_ports=["orders"],
        ),
        node(
            node_id="validate",
            name="Validate",
            plugin_id="checks",
            node_type=WorkflowNodeType.Decision,
            configuration={"method": "validate"},
            input_ports=["orders"],
        ),
        node(
            node_id="split",
            name="Each order",
            plugin_id="split",
            node_type=WorkflowNodeType.Splitter,
            configuration={"method": "items"},
            output_ports=["items"],
        ),
        node(
            node_id="price",
            name="Price",
            plugin_id="pricing",
            configuration={"method": "total"},
        ),
        node(
            node_id="collect",
            name="Collect totals",
            plugin_id="collect",
            node_type=WorkflowNodeType.Aggregator,
            configuration={"method": "gather"},
            input_ports=["items"],
        ),
        node(
            node_id="report",
            name="Write report",
            plugin_id="report",
            node_type=WorkflowNodeType.Sink,
            configuration={"method": "write"},
        ),
        node(
            node_id="alert",
            name="Alert on empty",
            plugin_id="report",
            node_type=WorkflowNodeType.Sink,
            configuration={"method": "alert"},
        ),
        node(
            node_id="archive",
            name="Archive (needs archiver)",
            plugin_id="archiver",
            node_type=WorkflowNodeType.Custom,
            configuration={"method": "store"},
            enabled=False,
        ),
    ]
    wire = WorkflowConnection
    connections = [
        wire(source_node="fetch", source_port="orders", target_node="validate",
             target_port="orders"),
        wire(source_node="validate", target_node="split", connection_type="Control",
             properties={"condition": "ok == true"}),
        wire(source_node="validate", target_node="alert", connection_type="Control",
             properties={"condition": "ok == false"}),
        wire(source_node="split", source_port="items", target_node="price"),
        wire(source_node="price", target_node="collect", target_port="items"),
        wire(source_node="collect", target_node="report"),
        wire(source_node="collect", target_node="archive", connection_type="Dependency"),
    ]  # fmt: skip
    return PluginWorkflow(
        workflow_id="orders",
        name="Order processing",
        execution_mode="Parallel",
        nodes=nodes,
        connections=connections,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="a workflow file to open instead of the sample")
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the designer, exit")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    designer = WorkflowDesigner(plugin_manager=example_plugins())
    if args.file:
        opened = designer.open_file(args.file)
        if not opened:
            print(opened.error().message, file=sys.stderr)
            return 2
    else:
        designer.editor().load_workflow(sample_workflow())
    designer.show()
    if not args.screenshot:
        return app.exec()
    editor = designer.editor()
    app.processEvents()
    editor.fit()
    editor.select(["validate"])
    editor.flush()
    app.processEvents()
    if not designer.grab().save(args.screenshot):
        print(f"cannot write {args.screenshot}", file=sys.stderr)
        return 1
    print(f"saved {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
