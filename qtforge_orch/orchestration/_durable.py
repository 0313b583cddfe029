"""Durable executions for both orchestrators: the journal, history across restarts, resume.

Part of each orchestrator's core (``FacadeCore.journal``). The engine records every state
change that matters (``_engine/journaling.py``); this module opens the journal, hands each
execution the definition it runs, reads past executions back, and prepares the runs that
resume interrupted or failed ones.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any

from .._engine import JournalEntry, ResumeSeed, RunStatus
from ..contract.plan import Plan, ScheduleKind
from ..errors import PluginError, PluginErrorCode
from ..results import Expected, from_error, make_error, make_success
from ._recorded import RecordedRun

if TYPE_CHECKING:
    from .._engine import Engine, Run
    from ..journal import ExecutionJournal, ExecutionPage
    from ._registry import Registered, WorkflowRegistry
    from ._workflow_kind import WorkflowKind

RECORDED_KEPT = 64
DEFINITIONS_KEPT = 64


def _no_journal(action: str) -> PluginError:
    return PluginError(
        PluginErrorCode.InvalidState,
        f"cannot {action}: this orchestrator has no journal; pass journal='runs.sqlite' "
        "(or an ExecutionJournal) when creating it",
    )


class JournalLink:
    """An orchestrator's journal: recording, history across restarts, resume."""

    def __init__(
        self,
        engine: Engine,
        workflows: WorkflowRegistry[Registered],
        kind: WorkflowKind,
        default_executor: str,
    ) -> None:
        self._engine = engine
        self._workflows = workflows
        self._kind = kind
        self._default_executor = default_executor
        self._journal_kind = kind.journal_kind
        self._journal: ExecutionJournal | None = None
        self._definitions: dict[int, tuple[Any, str]] = {}
        self._recorded: dict[str, RecordedRun] = {}

    def open(self, journal: object) -> None:
        """Constructor helper: ``journal`` is a path (opened here) or an ExecutionJournal.

        A path that cannot be opened raises ``PluginError`` (``FileNotFound``,
        ``PermissionDenied``, ``ResourceUnavailable``, ``InvalidFormat`` or
        ``IncompatibleVersion``): catch it and create the orchestrator without a journal to
        carry on without durability.
        """
        if journal is None:
            return
        from ..journal import ExecutionJournal

        if isinstance(journal, str | os.PathLike):
            journal = ExecutionJournal(journal)
        elif not isinstance(journal, ExecutionJournal):
            raise PluginError(
                PluginErrorCode.InvalidConfiguration,
                f"journal must be a path or an ExecutionJournal, got {type(journal).__name__}",
            )
        self._journal = journal
        self._engine.attach_journal(journal)

    @property
    def journal(self) -> ExecutionJournal | None:
        """The execution journal this orchestrator records to, if any."""
        return self._journal

    # --- recording ------------------------------------------------------------------------
    def entry(self, workflow: Any, resumed_from: str | None = None) -> JournalEntry | None:
        """What a new execution of ``workflow`` records (None without a journal)."""
        if self._journal is None:
            return None
        return JournalEntry(self._journal_kind, self._definition_json(workflow), resumed_from)

    def _definition_json(self, workflow: Any) -> str:
        # Once per registered definition, not once per execution (dumping a 500-step
        # definition cost more than running it). Registered models are replaced, never
        # changed, when a workflow is modified, so the object identifies its definition.
        cached = self._definitions.get(id(workflow))
        if cached is not None and cached[0] is workflow:
            return cached[1]
        # Registered workflows are kept frozen (compact tuples); thawed once for the JSON.
        # Not sort_keys: v1 writes its steps as an object keyed by step id, and its key order
        # is the declaration order a past execution's step results are reported in. The
        # journal hashes a canonical form, so key order does not change the content hash.
        text = json.dumps(workflow.thaw().to_json(), default=str)
        if len(self._definitions) >= DEFINITIONS_KEPT:
            self._definitions.pop(next(iter(self._definitions)))
        self._definitions[id(workflow)] = (workflow, text)
        return text

    # --- history ----------------------------------------------------------------------------
    def history(
        self, workflow_id: str | None, limit: int, before: str | None, status: str | None = None
    ) -> Expected[ExecutionPage]:
        """``get_execution_history`` of both orchestrators (documented there)."""
        if self._journal is None:
            return from_error(_no_journal("list the execution history"))
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"limit must be an int from 1 to 1000, got {limit!r}",
            )
        if workflow_id is not None and not isinstance(workflow_id, str):
            return make_error(PluginErrorCode.InvalidArgument, "workflow_id must be a string")
        if before is not None and not isinstance(before, str):
            return make_error(PluginErrorCode.InvalidArgument, "before must be a cursor string")
        from ..journal import EXECUTION_STATUSES  # loaded with the journal, never before

        if status is not None and status not in EXECUTION_STATUSES:
            return make_error(
                PluginErrorCode.InvalidArgument,
                f"status must be one of {', '.join(sorted(EXECUTION_STATUSES))} (or None for "
                f"all), got {status!r}",
            )
        self._journal.flush(5.0)
        try:
            return make_success(
                self._journal.list_executions(workflow_id, limit, before, status=status)
            )
        except (ValueError, PluginError) as exc:
            if isinstance(exc, PluginError):
                return from_error(exc)
            return make_error(PluginErrorCode.InvalidArgument, str(exc))

    def recorded_run(self, execution_id: str) -> RecordedRun | None:
        """A past execution from the journal, for status calls (None: not recorded)."""
        journal = self._journal
        if journal is None:
            return None
        cached = self._recorded.get(execution_id)
        if cached is not None and cached.recorded_status != "running":
            return cached
        journal.flush(5.0)
        record = journal.execution(execution_id)
        if record is None or record.kind != self._journal_kind:
            return None
        plan = self._compile_recorded(record.definition_json)
        if isinstance(plan, PluginError):
            return None
        recorded = RecordedRun(
            plan,
            record,
            journal.task_records(execution_id),
            journal.late_outcomes(execution_id),
            journal.rollback_records(execution_id),
        )
        recorded.recorded_parent = _recorded_parent(journal, execution_id)
        recorded.recorded_children = _recorded_children(journal, execution_id, plan)
        if len(self._recorded) >= RECORDED_KEPT:
            self._recorded.pop(next(iter(self._recorded)))
        self._recorded[execution_id] = recorded
        return recorded

    # --- resume -----------------------------------------------------------------------------
    def resumed_run(
        self, execution_id: str, force: bool, new_id: str | None = None
    ) -> Run | PluginError:
        """A run that resumes a recorded execution, claimed in the journal, not started.

        ``new_id`` is the id it gets (a nested workflow's child); else the engine's next.
        """
        journal = self._journal
        if journal is None:
            return _no_journal(f"resume execution '{execution_id}'")
        if not isinstance(execution_id, str):
            return PluginError(PluginErrorCode.InvalidArgument, "an execution id must be a string")
        if not isinstance(force, bool):
            return PluginError(PluginErrorCode.InvalidArgument, "force must be True or False")
        live = self._engine.get_run(execution_id)
        if live is not None and live.status not in RunStatus.FINAL:
            return PluginError(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' is still {live.status}; only an interrupted or "
                "failed execution can be resumed",
                context={"execution_id": execution_id, "status": live.status},
            )
        if live is not None and not live.wait_late(0):
            # A step it abandoned may still return (and be undone): resuming now could run
            # the step twice at once, or undo what the resumed run does.
            return PluginError(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' has steps that were running when it ended and have "
                "not returned yet (or whose late success is being undone); resume it once "
                "they have (see 'late_outcomes' in its status)",
                context={"execution_id": execution_id, "status": live.status},
            )
        journal.flush(5.0)
        record = journal.execution(execution_id)
        if record is None or record.kind != self._journal_kind:
            return PluginError(
                PluginErrorCode.NotFound,
                f"the journal holds no {self._journal_kind} execution '{execution_id}'",
                context={"execution_id": execution_id},
            )
        if record.status == "completed":
            return PluginError(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' completed; there is nothing to resume",
                context={"execution_id": execution_id, "status": record.status},
            )
        found = self._workflows.get(record.workflow_id)
        if not found:
            return PluginError(
                PluginErrorCode.NotFound,
                f"{found.error().message}; register the workflow again before resuming its "
                "execution",
            )
        workflow, plan = found.value().workflow, found.value().plan
        if plan.schedule is not ScheduleKind.BATCH:
            return PluginError(
                PluginErrorCode.ExecutionModeNotSupported,
                f"execution '{execution_id}' ran in a Streaming or EventDriven workflow; "
                "only step-by-step executions can be resumed (items in flight are not recorded)",
            )
        if not record.resumable:
            return PluginError(
                PluginErrorCode.InvalidState,
                f"execution '{execution_id}' cannot be resumed: its input data was not stored "
                f"exactly ({'; '.join(record.notes) or 'see the journal'})",
            )
        index_of = {task.key: task.index for task in plan.tasks}
        outputs = journal.completed_outputs(execution_id)
        # A late success nothing undid (the process ended before its rollback step ran, or
        # there is none): what it did is there, so the resumed run keeps and uses it.
        for key, output in journal.late_outputs(execution_id).items():
            outputs.setdefault(key, output)
        seed = ResumeSeed(
            {index_of[k]: v for k, v in outputs.items() if k in index_of},
            {index_of[k] for k in journal.rollbacks_done(execution_id) if k in index_of},
        )
        entry = self.entry(workflow, resumed_from=execution_id)
        assert entry is not None
        data = dict(record.initial_data) if isinstance(record.initial_data, dict) else {}
        run: Run = self._engine.new_run(
            plan, data, journal_entry=entry, resume=seed, execution_id=new_id
        )
        try:
            journal.claim_for_resume(
                execution_id, run.execution_id, definition_json=entry.definition_json, force=force
            )
        except PluginError as error:
            self._engine.discard(run)
            return error
        return run

    def _compile_recorded(self, definition_json: str) -> Plan | PluginError:
        """The plan of a recorded definition (for the status of a past execution)."""
        try:
            definition = json.loads(definition_json)
        except ValueError as exc:
            return PluginError(PluginErrorCode.InvalidFormat, str(exc))
        return self._kind.plan_of_definition(
            definition, self._default_executor, self._engine.plugins
        )


_ATTEMPT_SUFFIX = re.compile(r"(?:[#~]\d+)+$")


def _recorded_parent(journal: ExecutionJournal, execution_id: str) -> str | None:
    """The journaled execution whose nested step started ``execution_id``.

    Child ids are ``<parent>/<step>``: the longest proper prefix before a ``/`` that the
    journal holds.
    """
    cut = execution_id.rfind("/")
    while cut > 0:
        if journal.execution(execution_id[:cut]) is not None:
            return execution_id[:cut]
        cut = execution_id.rfind("/", 0, cut)
    return None


def _recorded_children(journal: ExecutionJournal, execution_id: str, plan: Plan) -> dict[str, str]:
    """Each nested step's latest child execution, as the journal holds them."""
    steps = {task.key for task in plan.tasks}
    children: dict[str, str] = {}
    for child in journal.child_executions(execution_id):
        step = _ATTEMPT_SUFFIX.sub("", child[len(execution_id) + 1 :])
        if step in steps:  # a grandchild's rest names no step of this plan
            children[step] = child
    return children
