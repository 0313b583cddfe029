"""``qtforge_orch.orchestration.advanced``: QtForge's ``AdvancedPluginOrchestrator`` (v2).

Import the public names from ``qtforge_orch`` (or ``qtforge_orch.orchestration``). The facade
is ``plugin_orchestrator_v2`` (the header's path); the graph models have a module each
(``workflow``, ``workflow_node``, ``workflow_connection``, ``execution_context``, ``enums``);
the ``_v2_*`` modules are their checks, file format, registered form and compilation.
"""
