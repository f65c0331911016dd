"""One Phase 0 run's shared state: the target (opened lazily), the deployment and what it changed."""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Catalog
from .ledger import RecordedRun
from .options import OpusConfig
from .phases import PhaseLedger
from .targets.base import ScriptResult, Target

DEPLOY_SCRIPT = "deploy_opus_update_boards.sql"
VALIDATE_SCRIPT = "validate_ddl_changes.sql"
ROLLBACK_SCRIPT = "rollback_opus_update_boards.sql"


@dataclass
class Deployment:
    """The deploy step of this run: what the catalog looked like before and after, and the result."""

    result: ScriptResult | None  # None when the run may not deploy (persistent target, no --opus-deploy)
    before: Catalog
    after: Catalog
    skipped_reason: str | None = None
    seconds: float = 0.0
    run_id: int | None = None  # the deploy's run in the target's ledger


@dataclass(repr=False)
class OpusRun:
    config: OpusConfig
    workdir: Path
    ledger: PhaseLedger = field(default_factory=PhaseLedger)
    rollback: ScriptResult | None = None
    #: the automatic rollback's outcome, as plain data for the report (see signoff.rollback_after_failure)
    rollback_outcome: dict[str, Any] | None = None
    _target: Target | None = None
    _session_lock: AbstractContextManager[None] | None = None
    _deployment: Deployment | None = None
    _expectations: Any = None
    _schema_results: dict[str, Any] | None = None
    #: measured values the criteria are computed from (recorded by the phase tests)
    evidence: dict[str, Any] = field(default_factory=dict)
    #: per test id: (title, html) extras for the report
    attachments: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: messages the server sent other than the scripts' PRINT output, by phase
    server_messages: dict[str, list[str]] = field(default_factory=dict)
    current_phase: str = "setup"
    sign_off: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<OpusRun {self.config.target_display}>"

    def script(self, name: str) -> Path:
        return self.config.sql / name

    def target(self) -> Target:
        """Open the target on first use (never while pytest is configuring).

        A persistent SQLite target (a sandbox file, a named sandbox, an SQLite ODBC source) is held
        under its deployment lock from here to the end of the run: the phases write to it (deploy,
        staging, rollback), and another run on the same file would otherwise fail at some random
        statement with SQLite's "database is locked" instead of being told which run holds it.
        """
        if self._target is None:
            from .databases import ResolvedDatabase, open_database

            database = self.config.target
            if database is None:  # the disposable sandbox: a fresh file in this run's directory
                path = self.workdir / "opus-sandbox.sqlite"
                database = ResolvedDatabase(str(path), "sandbox", f"sandbox {path}", "default", path=path,
                                            baseline_dir=self.config.sql / "baseline")
            target = open_database(database)
            if database is not self.config.target:
                target.persistent = False
            elif target.kind != "sqlserver":
                self._session_lock = target.deployment_lock(
                    self.config.lock_wait, f"pytest --opus session (pid {os.getpid()}) on {target.display_name}")
                try:
                    self._session_lock.__enter__()
                except BaseException:
                    self._session_lock = None
                    target.close()
                    raise
            self._target = target
        return self._target

    def deployment(self) -> Deployment:
        if self._deployment is None:
            target = self.target()
            before = target.catalog()
            if not self.config.may_deploy:
                self._deployment = Deployment(None, before, before, skipped_reason=(
                    "persistent target without --opus-deploy: nothing was deployed, the phases validate the "
                    "database as it is"))
            else:
                started = time.perf_counter()
                recorded = self.run_script(DEPLOY_SCRIPT)
                result = recorded.result
                self._deployment = Deployment(result, before, target.catalog(),
                                              seconds=time.perf_counter() - started, run_id=recorded.run_id)
                self.evidence["deploy.batches"] = len(result.batches)
                self.evidence["deploy.batches_committed"] = len(result.batches) if result.committed else 0
                self.evidence["deploy.seconds"] = result.seconds
                if result.error is not None:
                    self.evidence["deploy.error"] = result.error.describe()
            if self._deployment.skipped_reason:
                self.evidence["deploy.skipped"] = self._deployment.skipped_reason
        return self._deployment

    def run_script(self, name: str, *, scope_run_id: int | None = None) -> RecordedRun:
        """Run one of the DBA's scripts under the deployment lock, recorded in the target's ledger
        (never on a persistent target the run may not change), keeping what the server said besides
        the script's PRINTs."""
        from .errors import ScriptError
        from .ledger import run_recorded

        path = self.script(name)
        try:
            data = path.read_bytes()
            text = data.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            failed = ScriptResult(source=str(path), error=ScriptError(
                f"cannot read the script: {getattr(error, 'strerror', None) or error}", source=str(path)))
            return RecordedRun(failed)
        recorded = run_recorded(self.target(), text, source=str(path), data=data, scope_run_id=scope_run_id,
                                record=self.config.may_deploy, lock_wait=self.config.lock_wait,
                                holder=f"pytest --opus (pid {os.getpid()}) running {name}")
        result = recorded.result
        for message in result.messages:
            if message.kind != "print":
                self.server_messages.setdefault(self.current_phase, []).append(
                    f"{name}: {message.kind}: {message.text}")
        return recorded

    def thresholds(self) -> Any:
        from .thresholds import load_thresholds

        return load_thresholds(self.config.expectations / "phase0.yaml")

    def attach(self, nodeid: str, title: str, html: str) -> None:
        self.attachments.setdefault(nodeid, []).append((title, html))

    def expectations(self) -> Any:
        """The schema expectations (loaded once; a bad file raises ExpectationError with file:line)."""
        if self._expectations is None:
            from .expectations import load_expectations

            self._expectations = load_expectations(self.config.expectations / "schema")
        return self._expectations

    def schema_results(self) -> dict[str, Any]:
        """Expected object label -> ObjectResult, compared against the catalog after the deploy step."""
        if self._schema_results is None:
            from .expectations import compare

            results = compare(self.expectations(), self.deployment().after,
                              deploy_script=str(self.script(DEPLOY_SCRIPT)))
            self._schema_results = {r.label: r for r in results}
        return self._schema_results

    @property
    def deployed(self) -> bool:
        d = self._deployment
        return d is not None and d.result is not None and d.result.committed

    def close(self) -> None:
        if self._target is not None:
            try:
                if self._session_lock is not None:
                    self._session_lock.__exit__(None, None, None)
                    self._session_lock = None
            finally:
                self._target.close()
                self._target = None
