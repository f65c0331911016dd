"""End of a Phase 0 run: roll back after a failure (persistent targets), decide, record, summarise."""

from __future__ import annotations

import json
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
    deployment = run.deployment()
    if deployment.before == deployment.after:
        return ("not performed: the deployment was already there before this run (the deploy step changed "
                "nothing), and rolling back would remove what existed before")
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


def sign_off(run: OpusRun, root: Path, html_report: str | None) -> dict[str, Any]:
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
                             "report": html_report, "json": str(json_path),
                             "evidence": dict(run.evidence)}

    def decide(recorded: str | None) -> dict[str, Any]:
        decision = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, recorded)
        return report.summary_dict(decision, env, extra)

    # Recording is itself a criterion: write first, then decide from whether it worked, then write
    # the final summary over the first one, so the file never says more than the run showed.
    history: Path | None = None
    try:
        history = report.write_json(decide(None), json_path, history_dir)
    except OSError as error:
        extra["recording_error"] = str(error)
    data = decide(str(history) if history is not None else None)
    final = json.dumps(data, indent=2, default=str)
    for path in filter(None, (json_path, history)):
        try:
            path.write_text(final, encoding="utf-8")
        except OSError as error:
            data["recording_error"] = str(error)
    run.sign_off = data
    return data
