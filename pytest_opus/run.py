"""One Phase 0 run's shared state: the target (opened lazily), the deployment and what it changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import Catalog
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


@dataclass
class OpusRun:
    config: OpusConfig
    workdir: Path
    ledger: PhaseLedger = field(default_factory=PhaseLedger)
    rollback: ScriptResult | None = None
    _target: Target | None = None
    _deployment: Deployment | None = None
    _expectations: Any = None
    _schema_results: dict[str, Any] | None = None

    def script(self, name: str) -> Path:
        return self.config.sql / name

    def target(self) -> Target:
        """Open the target on first use (never while pytest is configuring)."""
        if self._target is None:
            from .targets.sandbox import SandboxTarget, create_sandbox

            if self.config.dsn is not None:
                from .targets import open_target

                self._target = open_target(dsn=self.config.dsn)
            else:
                path = self.config.db or self.workdir / "opus-sandbox.sqlite"
                if not path.exists():
                    create_sandbox(path, self.config.sql / "baseline")
                self._target = SandboxTarget(path, persistent=self.config.db is not None)
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
                result = target.run_script_file(str(self.script(DEPLOY_SCRIPT)))
                self._deployment = Deployment(result, before, target.catalog(),
                                              seconds=time.perf_counter() - started)
        return self._deployment

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
            self._target.close()
            self._target = None
