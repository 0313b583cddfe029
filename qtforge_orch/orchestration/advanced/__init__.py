"""``qtforge_orch.orchestration.advanced``: QtForge's ``AdvancedPluginOrchestrator`` (v2).

Import the public names from ``qtforge_orch`` (or ``qtforge_orch.orchestration``); the modules
here are the implementation: the facade in ``plugin_orchestrator_v2`` and the graph models in
the ``_v2_*`` modules.
"""
