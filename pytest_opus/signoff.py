"""End of a Phase 0 run: roll back after a failure (persistent targets), decide, record, summarise."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import criteria, report
from .catalog import Catalog
from .effects import LEDGER_KEYS
from .errors import OpusError
from .ledger import read_ledger
from .run import ROLLBACK_SCRIPT, OpusRun


def rollback_after_failure(run: OpusRun, scenario: str) -> str | None:
    """The seed's safety protocol: after a failure, undo what this run deployed on a persistent target.

    Only what this run's deploy created (its run in the target's ledger) is removed, never what was
    there before; never in the seed's partial scenario, whose plan is to debug and re-test. The
    result is checked: the catalog must be as it was before the deploy (the ledger's own tables
    aside, they are the record), and where the run started from an undeployed database, it must
    meet `expectations/after_rollback/`. The outcome is kept as data in `run.rollback_outcome`.
    """
    failed = any(run.ledger.failures.values())
    if not failed or not run.config.persistent or not run.deployed:
        return None
    outcome: dict[str, Any] = {"performed": False}
    run.rollback_outcome = outcome
    if scenario == "partial":
        outcome["reason"] = ("not performed: partial success; the seed's plan is to debug the specific failures "
                             "and re-test, so the deployment stays")
        return outcome["reason"]
    if run.config.no_rollback:
        outcome["reason"] = "not performed (--opus-no-rollback); the target keeps the deployment"
        return outcome["reason"]
    deployment = run.deployment()
    created = _created_by(run, deployment.run_id)
    if not created:
        outcome["reason"] = ("not performed: this run's deploy created nothing (everything it needs was already "
                             "there), so there is nothing of this run to undo; what existed before stays")
        return outcome["reason"]
    try:
        recorded = run.run_script(ROLLBACK_SCRIPT, scope_run_id=deployment.run_id)
    except OpusError as error:
        outcome["reason"] = f"FAILED: {error}"
        return outcome["reason"]
    result = recorded.result
    run.rollback = result
    if not result.ok:
        outcome["reason"] = (f"FAILED and rolled back itself: "
                             f"{result.error.describe() if result.error else 'unknown error'}")
        return outcome["reason"]
    outcome.update(performed=True, run_id=recorded.run_id, removed=len(created))
    outcome["check"] = _check_after_rollback(run, deployment.before)
    outcome["reason"] = (f"performed: {ROLLBACK_SCRIPT} removed the {len(created)} object(s) deploy run "
                         f"{deployment.run_id} created (rollback run {recorded.run_id}); {outcome['check']}")
    return outcome["reason"]


def _created_by(run: OpusRun, deploy_run_id: int | None) -> list[str]:
    """The objects the ledger says this run's deploy created (and nothing has removed yet)."""
    if deploy_run_id is None:
        return []
    ledger = read_ledger(run.target())
    return [o.label for o in ledger.live_objects if o.run_id == deploy_run_id and o.ownership == "created"]


def _check_after_rollback(run: OpusRun, before: Catalog) -> str:
    """Whether the target is back where this run found it, in words (a failure names the differences)."""
    from .expectations import compare, load_expectations

    after = run.target().catalog()
    differences = _catalog_differences(without_ledger(before), without_ledger(after))
    words = ("the catalog is as it was before the deploy" if not differences else
             f"the catalog DIFFERS from before the deploy: {'; '.join(differences[:5])}")
    try:
        expectations = load_expectations(run.config.expectations / "after_rollback")
    except OpusError as error:
        return f"{words}; expectations/after_rollback/ could not be read: {error}"
    if not all(r.ok for r in compare(expectations, before)):
        return f"{words}; expectations/after_rollback/ not applicable (the database held deployed objects before)"
    failing = [r.label for r in compare(expectations, after) if not r.ok]
    return (f"{words}; expectations/after_rollback/: " +
            ("all objects as expected" if not failing else f"FAILED for {', '.join(failing)}"))


def without_ledger(catalog: Catalog) -> Catalog:
    return replace(catalog, tables={k: v for k, v in catalog.tables.items() if k not in LEDGER_KEYS})


def _catalog_differences(before: Catalog, after: Catalog) -> list[str]:
    found: list[str] = []
    for kind in ("tables", "views", "procedures"):
        old, new = getattr(before, kind), getattr(after, kind)
        found += [f"{kind[:-1]} {k} is gone" for k in old.keys() - new.keys()]
        found += [f"{kind[:-1]} {k} was not removed" for k in new.keys() - old.keys()]
        found += [f"{kind[:-1]} {k} changed" for k in old.keys() & new.keys() if old[k] != new[k]]
    return sorted(found)


def deployment_status(run: OpusRun) -> dict[str, Any] | None:
    """What `opus-sql status` shows, for the report: None when the run never opened the target."""
    if run._target is None:
        return None
    from .status import read_status

    try:
        return read_status(run.target(), run.config.sql, run.config.expectations).as_dict()
    except OpusError as error:
        return {"error": str(error)}


def _thresholds(run: OpusRun) -> Any:
    try:
        return run.thresholds()
    except OpusError as error:
        run.evidence["thresholds.error"] = str(error)
        from .thresholds import Thresholds

        return Thresholds()


def run_report_path(signoff_report: Path) -> Path:
    """Where a run that is not a sign-off writes its report: beside the sign-off, never over it."""
    return signoff_report.with_name(f"{signoff_report.stem}-run{signoff_report.suffix}")


def sign_off(run: OpusRun, root: Path, html_report: str | None) -> dict[str, Any]:
    """Compute the criteria and the decision, write the JSON summary and its history copy.

    Only a complete Phase 0 run writes the sign-off files (`--opus-report` and its `.json`); any
    other run (part of the suite, or a persistent target validated without deploying) writes its
    own run report beside them (`<report>-run.json`), so it can never be mistaken for a sign-off.
    """
    # every non-PRINT message is shown; warnings (not informational notes) fail the checkpoint
    warnings = {phase: sum(1 for m in msgs if ": warning: " in m) for phase, msgs in run.server_messages.items()}
    # The rollback depends on the scenario (never in "partial"), which does not depend on the rollback.
    thresholds = _thresholds(run)
    preliminary = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, "(pending)")
    rollback = rollback_after_failure(run, preliminary.scenario)
    is_sign_off = preliminary.scenario != "incomplete"
    html_path = run.config.report if is_sign_off else run_report_path(run.config.report)
    json_path = html_path.with_suffix(".json")
    history_dir = run.config.report.parent / "history"
    env = report.environment(run.config.target_display, root)
    status = deployment_status(run)
    ledger_run = run.deployment().run_id if run._deployment is not None else None
    extra: dict[str, Any] = {
        "sign_off": is_sign_off,
        "scope": "target" if run.config.persistent else "rehearsal",
        "target": run.config.target_display,
        "rollback": rollback, "rollback_outcome": run.rollback_outcome,
        "deployment_status": status, "server_messages": run.server_messages,
        "report": relative(html_path, root) if html_report else None, "json": relative(json_path, root),
        "evidence": dict(run.evidence)}
    ledger_note = (f"deploy run {ledger_run} in the target's deployment ledger" if ledger_run is not None
                   else None)

    def decide(recorded: str | None) -> dict[str, Any]:
        where = recorded and "; ".join(filter(None, (recorded, ledger_note)))
        decision = criteria.evaluate(run.ledger, run.evidence, thresholds, warnings, where)
        return report.summary_dict(decision, env, extra)

    # Recording is itself a criterion: write first, then decide from whether it worked, then write
    # the final summary over the first one, so the file never says more than the run showed.
    history: Path | None = None
    try:
        history = report.write_json(decide(None), json_path, history_dir)
    except OSError as error:
        extra["recording_error"] = str(error)
    data = decide(relative(history, root) if history is not None else None)
    data["id"] = history.stem if history is not None else None  # what an approval refers to
    final = json.dumps(data, indent=2, default=str)
    for path in filter(None, (json_path, history)):
        try:
            path.write_text(final, encoding="utf-8")
        except OSError as error:
            data["recording_error"] = str(error)
    try:
        from .report.history import write_index

        data["index"] = relative(write_index(history_dir.parent), root)
    except OSError as error:
        data["recording_error"] = f"cannot write the history page: {error.strerror}"
    run.sign_off = data
    return data


def relative(path: Path, root: Path) -> str:
    """A path as the project sees it (relative to its root), not as this machine does."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
