"""Transactions across executions (DESIGN 4): compensations held until commit or rollback."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol

from ..errors import PluginError, PluginErrorCode
from .compensation import Compensation, CompensationLedger
from .journal_link import JournalSink
from .ringing_event import RingingEvent
from .rollback_log import log_rollback
from .run_status import RunStatus


class Member(Protocol):
    """A run as a transaction sees it."""

    @property
    def execution_id(self) -> str: ...

    @property
    def workflow_id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def compensations(self) -> list[Compensation]: ...


class Host(Protocol):
    """The engine as a transaction registry sees it."""

    @property
    def compensations(self) -> CompensationLedger: ...

    @property
    def journal(self) -> JournalSink | None: ...


class Transaction:
    __slots__ = ("runs", "state", "transaction_id")

    def __init__(self, transaction_id: str) -> None:
        self.transaction_id = transaction_id
        self.state = "open"  # open, committed, rolled_back
        self.runs: list[Member] = []


class RollbackHandle:
    __slots__ = ("done", "failures")

    def __init__(self) -> None:
        self.done = RingingEvent()
        self.failures: list[str] = []


ENDED_TRANSACTIONS_KEPT = 1024


class TransactionRegistry:
    """Open transactions, plus the most recently ended ones (so a late commit or rollback
    still gets InvalidState rather than NotFound); older ended ones are forgotten, with
    their executions, so a long-running application does not grow without bound."""

    def __init__(self, engine: Host) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._transactions: dict[str, Transaction] = {}
        self._ended: OrderedDict[str, Transaction] = OrderedDict()

    def begin(self, transaction_id: str) -> PluginError | None:
        if not isinstance(transaction_id, str) or not transaction_id:
            return PluginError(
                PluginErrorCode.InvalidArgument, "a transaction id must be a non-empty string"
            )
        with self._lock:
            if self._find(transaction_id) is not None:
                return PluginError(
                    PluginErrorCode.AlreadyExists,
                    f"transaction '{transaction_id}' already exists; use a new id",
                )
            self._transactions[transaction_id] = Transaction(transaction_id)
        self._journal(transaction_id, "begun", [])
        return None

    def attach(self, transaction_id: str, run: Member) -> PluginError | None:
        """Join ``run`` to an open transaction; checked and done under one lock so a
        concurrent commit cannot slip in between."""
        with self._lock:
            tx = self._find(transaction_id)
            if tx is None:
                return self._not_found(transaction_id)
            if tx.state != "open":
                return self._ended_error(tx, "join")
            tx.runs.append(run)
        return None

    def commit(self, transaction_id: str) -> PluginError | None:
        with self._lock:
            tx, error = self._closable(transaction_id, "commit")
            if error is not None:
                return error
            assert tx is not None
            tx.state = "committed"
            runs = self._end(tx)
        # Recorded before the compensations are dropped: a crash in between leaves a committed
        # transaction whose executions a resume never rolls back.
        self._journal(transaction_id, "committed", [r.execution_id for r in runs])
        self._engine.compensations.drop(runs)
        return None

    def rollback(self, transaction_id: str) -> RollbackHandle | PluginError:
        """Starts the compensations; the handle's ``done`` is set when they have all run."""
        with self._lock:
            tx, error = self._closable(transaction_id, "roll back")
            if error is not None:
                return error
            assert tx is not None
            tx.state = "rolled_back"
            runs = self._end(tx)
        self._journal(transaction_id, "rolled_back", [r.execution_id for r in runs])
        handle = RollbackHandle()
        items = self._engine.compensations.claim(runs)
        if not items:
            handle.done.set()
            return handle

        workflows = {run.execution_id: run.workflow_id for run in runs}

        def finished(errors: list[str]) -> None:
            for item in items:  # (their executions ended: no execution log writes them)
                log_rollback(item, workflows.get(item.execution_id, ""))
            handle.failures.extend(errors)
            handle.done.set()

        self._engine.compensations.run_chain(items, finished)
        return handle

    def _journal(self, transaction_id: str, state: str, execution_ids: list[str]) -> None:
        journal = self._engine.journal
        if journal is not None:
            journal.transaction_changed(transaction_id, state, execution_ids, time.time())

    def _end(self, tx: Transaction) -> list[Member]:
        """Move an ended transaction to the bounded record (lock held); returns its runs."""
        runs, tx.runs = tx.runs, []
        del self._transactions[tx.transaction_id]
        self._ended[tx.transaction_id] = tx
        while len(self._ended) > ENDED_TRANSACTIONS_KEPT:
            self._ended.popitem(last=False)
        return runs

    def _find(self, transaction_id: str) -> Transaction | None:
        if not isinstance(transaction_id, str):
            return None  # never hashed: a list or dict id is simply not a transaction here
        return self._transactions.get(transaction_id) or self._ended.get(transaction_id)

    def _closable(
        self, transaction_id: str, action: str
    ) -> tuple[Transaction | None, PluginError | None]:
        tx = self._find(transaction_id)
        if tx is None:
            if not isinstance(transaction_id, str):
                return None, PluginError(
                    PluginErrorCode.InvalidArgument,
                    f"a transaction id must be a string, got {type(transaction_id).__name__}",
                )
            return None, self._not_found(transaction_id)
        if tx.state != "open":
            return None, self._ended_error(tx, action)
        running = [r.execution_id for r in tx.runs if r.status not in RunStatus.FINAL]
        if running:
            return None, PluginError(
                PluginErrorCode.InvalidState,
                f"cannot {action} transaction '{transaction_id}': executions still running: "
                f"{', '.join(running)}; wait for them or cancel them first",
            )
        return tx, None

    @staticmethod
    def _not_found(transaction_id: str) -> PluginError:
        return PluginError(
            PluginErrorCode.NotFound,
            f"no transaction '{transaction_id}'; call begin_transaction first",
        )

    @staticmethod
    def _ended_error(tx: Transaction, action: str) -> PluginError:
        return PluginError(
            PluginErrorCode.InvalidState,
            f"cannot {action} transaction '{tx.transaction_id}': it was already "
            f"{tx.state.replace('_', ' ')}",
        )
