"""The seed's Phase 0 criteria, each computed from test outcomes and measured values; the Go / No-Go.

Nothing here is a constant: a criterion passes only when the tests behind it ran and passed and the
numbers it names were measured and meet the threshold. A criterion without evidence fails, saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .phases import PHASES, SEED_MINUTES, PhaseLedger
from .thresholds import Thresholds

SAFETY = "Safety Measures"
COMPLETION = "Phase 0 Completion Requirements"
READY = "Ready for Phase 1 Criteria"

SUCCESS_RATE_DEFINITION = (
    "success rate = valid rows / staged rows of a dry run on a sample of real rows (phase0.yaml real_data; on "
    "the disposable sandbox, its sample data); classification accuracy = mock-batch rows classified as "
    "planted (every planted invalid row rejected for its reason, every other row valid) / staged, required 100%"
)

SCENARIOS = {
    "success": "Success: ready for Phase 1 GraphQL implementation",
    "partial": "Partial success: UpdateOperations success rate between the thresholds; debug the specific "
               "failures and re-test",
    "failure": "Failure: execute rollback, investigate the failed criteria and conflicts",
    "incomplete": "Incomplete: part of the Phase 0 suite was not selected (-m, -k or --deselect), or the "
                  "deploy step was not part of the run, so no sign-off is possible",
}


@dataclass(frozen=True)
class Criterion:
    group: str
    name: str  # the seed's wording
    passed: bool
    evidence: str
    #: "passed", "failed", or "not measured" (its tests were skipped because an earlier phase failed)
    status: str = ""


@dataclass(frozen=True)
class PhaseOutcome:
    name: str
    passed: int
    failed: int
    skipped: int
    seconds: float
    server_warnings: int
    failures: tuple[str, ...]

    @property
    def ran(self) -> bool:
        return self.passed + self.failed > 0

    @property
    def ok(self) -> bool:
        return self.ran and self.failed == 0 and self.skipped == 0

    @property
    def checkpoint(self) -> str:
        """The seed's checkpoint after each step: nothing broken, no database errors or warnings."""
        if not self.ran:
            return "not run"
        if self.failed:
            return f"failed: {self.failed} test(s)"
        if self.server_warnings:
            return f"failed: {self.server_warnings} database warning(s)"
        return "passed"


@dataclass(frozen=True)
class Decision:
    decision: str  # GO | NO-GO
    scenario: str  # success | partial | failure | incomplete
    criteria: tuple[Criterion, ...]
    phases: tuple[PhaseOutcome, ...]

    @property
    def go(self) -> bool:
        return self.decision == "GO"

    @property
    def failed_criteria(self) -> list[Criterion]:
        return [c for c in self.criteria if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "scenario": self.scenario,
            "scenario_text": SCENARIOS[self.scenario],
            "criteria": [asdict(c) for c in self.criteria],
            "phases": {
                p.name: {"passed": p.passed, "failed": p.failed, "skipped": p.skipped,
                         "seconds": round(p.seconds, 3), "seed_minutes": SEED_MINUTES[p.name],
                         "server_warnings": p.server_warnings,
                         "checkpoint": p.checkpoint, "failures": list(p.failures)}
                for p in self.phases
            },
            "success_rate_definition": SUCCESS_RATE_DEFINITION,
        }


def phase_outcomes(ledger: PhaseLedger, warnings: Mapping[str, int]) -> tuple[PhaseOutcome, ...]:
    return tuple(
        PhaseOutcome(p, ledger.passed.get(p, 0), len(ledger.failures.get(p, [])), ledger.skipped.get(p, 0),
                     ledger.seconds.get(p, 0.0), warnings.get(p, 0), tuple(ledger.failures.get(p, [])))
        for p in PHASES
    )


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def evaluate(ledger: PhaseLedger, evidence: Mapping[str, Any], thresholds: Thresholds,
             warnings: Mapping[str, int], recorded: str | None, *, whole_suite: bool | None = None) -> Decision:
    """Every seed criterion from what happened in this run, and the decision they add up to."""
    phases = phase_outcomes(ledger, warnings)
    by = {p.name: p for p in phases}
    ev = evidence
    criteria: list[Criterion] = []

    def add(group: str, name: str, passed: bool, text: str, needs: tuple[str, ...] = ()) -> None:
        """One criterion; `needs` names the phases that measure it. When one of them never ran because
        an earlier phase failed, the criterion was not measured, and says what blocked it."""
        if not passed:
            blocked = next((ledger.blocker(p) for p in needs if not by[p].ran and ledger.blocker(p)), None)
            if blocked:
                criteria.append(Criterion(group, name, False, f"not measured: blocked by {blocked}",
                                          "not measured"))
                return
        criteria.append(Criterion(group, name, bool(passed), text, "passed" if passed else "failed"))

    # -- Safety: checked before anything changes ----------------------------------------------------
    f = by["preflight"]
    checked, conflicts = ev.get("preflight.scripts"), ev.get("preflight.conflicts")
    text = (f"{checked} script(s) parsed and checked against the YAML; target reachable "
            f"({ev.get('preflight.access', 'not checked')}); {conflicts} conflicting object(s)"
            if checked is not None else "the pre-flight phase did not run")
    add(SAFETY, "Comprehensive validation before any database changes",
        f.ok and checked is not None and conflicts == 0 and bool(ev.get("preflight.static_ok")), text,
        ("preflight",))

    # -- Phase 0 completion ------------------------------------------------------------------------
    d = by["deploy"]
    if "deploy.batches" in ev:
        text = (f"{ev['deploy.batches_committed']} of {ev['deploy.batches']} batches committed in "
                f"{ev.get('deploy.seconds', 0.0):.2f}s; {d.passed} deploy test(s) passed, {d.failed} failed")
        if ev.get("deploy.error"):
            text += f"; error: {ev['deploy.error']}"
    else:
        text = ev.get("deploy.skipped", "the deploy phase did not run")
    add(COMPLETION, "Database schema deployment: 100% successful",
        d.ok and ev.get("deploy.batches") == ev.get("deploy.batches_committed") and "deploy.batches" in ev, text,
        ("deploy",))

    s = by["schema"]
    objects, objects_ok = ev.get("schema.objects"), ev.get("schema.objects_ok")
    checks, checks_ok = ev.get("schema.dba_checks"), ev.get("schema.dba_checks_passed")
    text = (f"{objects_ok}/{objects} expected objects match the live catalog; DBA validation script "
            f"{checks_ok}/{checks} checks passed" if objects is not None else "the schema phase did not run")
    if ev.get("schema.notes"):  # notes pass (e.g. an index under an older name); say so, do not fail
        text += f"; {ev['schema.notes']} note(s), not failures (see the schema tests)"
    add(COMPLETION, "Schema validation: All objects present and functional",
        s.ok and objects is not None and objects == objects_ok and checks is not None and checks == checks_ok,
        text, ("schema",))

    w = by["workflow"]
    rate, accuracy = ev.get("workflow.success_rate"), ev.get("workflow.accuracy")
    parts = []
    if rate is not None:
        reasons = ev.get("workflow.rejection_reasons") or {}
        top = "; ".join(f"{n} x {reason}" for reason, n in list(reasons.items())[:3])
        parts.append(f"{_pct(rate)} of {ev['workflow.staged']} rows valid in a dry run on "
                     f"{ev.get('workflow.sample_source', 'a sample')} (threshold >{_pct(thresholds.go_above)})"
                     + (f"; rejected: {top}" if top else ""))
    else:
        parts.append("no real-data success rate was measured")
    if accuracy is not None:
        parts.append(f"mock batch classification accuracy {_pct(accuracy)} ({ev.get('workflow.correct')}/"
                     f"{ev.get('workflow.mock_staged')} rows; {ev.get('workflow.known_invalid_rejected')} of "
                     f"{ev.get('workflow.known_invalid')} planted rows rejected for their reason; required 100%)")
    else:
        parts.append("the mock batch was not classified")
    rate_ok = (rate is not None and rate > thresholds.go_above and accuracy == 1
               and bool(ev.get("workflow.rejected_exactly")))
    add(COMPLETION, "UpdateOperations test: >95% success rate", w.ok and rate_ok, "; ".join(parts), ("workflow",))

    i = by["infrastructure"]
    comps, comps_ok = ev.get("infrastructure.components"), ev.get("infrastructure.components_ok")
    text = (f"{comps_ok}/{comps} components operational" if comps is not None
            else "the infrastructure phase did not run")
    add(COMPLETION, "Infrastructure validation: All components operational",
        i.ok and comps is not None and comps == comps_ok, text, ("infrastructure",))

    add(COMPLETION, "Documentation updated: Deployment results recorded", recorded is not None,
        f"results recorded in {recorded}" if recorded else "the run's results could not be recorded")

    # -- Ready for Phase 1 ---------------------------------------------------------------------------
    total_passed = sum(p.passed for p in phases)
    total_failed = sum(p.failed for p in phases)
    total_skipped = sum(p.skipped for p in phases)
    add(READY, "All Phase 0 tests passing", all(p.ok for p in phases),
        f"{total_passed} passed, {total_failed} failed, {total_skipped} skipped across {len(PHASES)} phases")

    planned, matched = ev.get("dryrun.fields_planned"), ev.get("dryrun.fields_matched")
    expected = ev.get("dryrun.fields_expected")
    network = ev.get("dryrun.network_attempts")
    text = (f"{ev.get('dryrun.mutations')} mutations in {ev.get('dryrun.requests')} request(s); "
            f"{matched} of {planned} planned field changes equal the staged values ({expected} expected from "
            f"staging and the board snapshot); {network} network connection attempts"
            if planned is not None else "no dry-run plan was checked")
    add(READY, "Dry-run mode functional and accurate",
        w.ok and planned is not None and planned > 0 and planned == matched == expected and network == 0, text,
        ("workflow",))

    planted, caught = ev.get("mismatch.planted"), ev.get("mismatch.caught")
    text = (f"{caught} of {planted} mismatches planted in a throwaway copy were caught"
            if planted is not None else "no mismatch was planted")
    add(READY, "Validation framework catching schema mismatches",
        s.ok and planted is not None and planted > 0 and planted == caught, text, ("schema",))

    rows, changes = ev.get("audit.rows"), ev.get("audit.planned_changes")
    roundtrip = ev.get("audit.roundtrip")
    text = (f"{rows} audit rows for {changes} planned changes; round trip (write, summarise, roll back): "
            f"{'ok' if roundtrip else 'not shown' if roundtrip is None else 'failed'}"
            if rows is not None else "the audit trail was not checked")
    add(READY, "Audit trail capturing all operations",
        w.ok and i.ok and rows is not None and rows == changes and rows > 0 and bool(roundtrip), text,
        ("workflow", "infrastructure"))

    unchanged, insert_ok = ev.get("compat.columns_unchanged"), ev.get("compat.insert_ok")
    text = (f"pre-existing columns unchanged: {unchanged}; insert written for the old schema: "
            f"{'works' if insert_ok else 'not shown' if insert_ok is None else 'fails'}; "
            f"{ev.get('compat.dependents', 'code using the staging tables not checked')}")
    add(READY, "No breaking changes to existing systems",
        d.ok and unchanged is not None and unchanged.startswith("all") and bool(insert_ok)
        and bool(ev.get("compat.dependents_ok")), text, ("deploy",))

    # "Incomplete" is about the selection (-m/-k/--deselect), never about phases a failure skipped.
    complete = ledger.whole_suite_selected if whole_suite is None else whole_suite
    complete = complete and "deploy.skipped" not in ev  # validating a persistent target as it is
    checkpoints_ok = all(p.checkpoint == "passed" for p in phases)
    if not complete:
        return Decision("NO-GO", "incomplete", tuple(criteria), phases)
    if all(c.passed for c in criteria) and checkpoints_ok:
        return Decision("GO", "success", tuple(criteria), phases)
    deploy_ok = next(c.passed for c in criteria if c.name == "Database schema deployment: 100% successful")
    if deploy_ok and rate is not None and thresholds.partial_above < rate <= thresholds.go_above:
        return Decision("NO-GO", "partial", tuple(criteria), phases)
    return Decision("NO-GO", "failure", tuple(criteria), phases)
