"""End of a Phase 0 run: roll back after a failure (persistent targets), decide, record, summarise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import criteria, report
from .errors import OpusError
from .run import ROLLBACK_SCRIPT, OpusRun


def rollback_after_failure(run: OpusRun) -> str | None:
    """The seed's safety protocol: after a failure, a deployed persistent target is rolled back."""
    failed = any(run.ledger.failures.values())
    if not failed or not run.config.persistent or not run.deployed:
        return None
    if run.config.no_rollback:
        return "not performed (--opus-no-rollback); the target keeps the deployment"
    try:
        result = run.run_script(ROLLBACK_SCRIPT)
    except OpusError as error:
        return f"FAILED: {error}"
    run.rollback = result
    if result.ok:
        return f"performed: {ROLLBACK_SCRIPT} committed ({len(result.batches)} batches, {result.seconds:.2f}s)"
    return f"FAILED and rolled back itself: {result.error.describe() if result.error else 'unknown error'}"


def sign_off(run: OpusRun, root: Path) -> dict[str, Any]:
    """Compute the criteria and the decision, write the JSON summary and its history copy."""
    rollback = rollback_after_failure(run)
    # every non-PRINT message is shown; warnings (not informational notes) fail the checkpoint
    warnings = {phase: sum(1 for m in msgs if ": warning: " in m) for phase, msgs in run.server_messages.items()}
    try:
        thresholds = run.thresholds()
    except OpusError as error:
        run.evidence["thresholds.error"] = str(error)
        from .thresholds import Thresholds

        thresholds = Thresholds()
    json_path = run.config.report.with_suffix(".json")
    history_dir = run.config.report.parent / "history"
    env = report.environment(run.config.target_display, root)
    extra: dict[str, Any] = {"rollback": rollback, "server_messages": run.server_messages,
                             "report": str(run.config.report), "json": str(json_path),
                             "evidence": {k: v for k, v in run.evidence.items()}}
    # Recording is itself a criterion: decide as if it succeeded, write, and decide again if it did not.
    decision = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, str(history_dir))
    data = report.summary_dict(decision, env, extra)
    try:
        history = report.write_json(data, json_path, history_dir)
        decision = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, str(history))
        data = report.summary_dict(decision, env, extra)
        json_path.write_text(__import__("json").dumps(data, indent=2, default=str), encoding="utf-8")
        history.write_text(json_path.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError as error:
        decision = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, None)
        data = report.summary_dict(decision, env, extra)
        data["recording_error"] = str(error)
    run.sign_off = data
    return data
