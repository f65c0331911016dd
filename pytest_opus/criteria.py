"""The seed's Phase 0 criteria as a registry, the evidence the phase tests may record, and the Go / No-Go.

Two declarations live here and nowhere else:

- `EVIDENCE`: every measured value a phase test (or the run itself) may record, with its kind and
  meaning. The run's `Evidence` refuses a key that is not declared ("did you mean ...") and a value
  of another kind, so a misspelt key fails the test that writes it instead of leaving a criterion
  without its number.
- `CRITERIA`: one declaration per criterion (group, the seed's wording, its threshold, how it is
  measured, the phases whose tests measure it, the evidence it reads) and the function that judges
  it. A criterion can read only the evidence it declares; a criterion declaring an unknown key fails
  at import.

Nothing here is a constant: a criterion passes only when the tests behind it ran and passed and the
numbers it names were measured and meet the threshold. A criterion without evidence fails, saying so;
one whose phase was blocked by an earlier failure says "not measured" and names the blocker.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from .errors import OpusError
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


# -- the evidence ---------------------------------------------------------------------------------


class EvidenceError(OpusError):
    """An evidence key that is not declared, or a value of another kind than declared."""


@dataclass(frozen=True)
class EvidenceKey:
    name: str
    kinds: tuple[type, ...]  # the accepted value types; type(None) where "nothing to measure" is a value
    meaning: str


_NUMBER = (int, float)
_OPTIONAL_RATE = (int, float, type(None))


def _declare(*keys: tuple[str, type | tuple[type, ...], str]) -> dict[str, EvidenceKey]:
    declared: dict[str, EvidenceKey] = {}
    for name, kinds, meaning in keys:
        if name in declared:
            raise ValueError(f"evidence key {name!r} is declared twice")
        declared[name] = EvidenceKey(name, kinds if isinstance(kinds, tuple) else (kinds,), meaning)
    return declared


#: every value the phase tests (tests/phase0/) and the run (run.py, signoff.py) may record
EVIDENCE: dict[str, EvidenceKey] = _declare(
    ("preflight.scripts", int, "scripts present, parsed and inside the sandbox's subset"),
    ("preflight.static_ok", bool, "the static check: deploy builds what the YAML expects, rollback undoes it"),
    ("preflight.access", str, "whether the target is writable (SQL Server: the login's permissions)"),
    ("preflight.conflicts", int, "objects already in the target with another shape than deploy expects"),
    ("deploy.batches", int, "GO batches of the deploy script"),
    ("deploy.batches_committed", int, "GO batches the deploy committed"),
    ("deploy.seconds", _NUMBER, "time the deploy script took"),
    ("deploy.error", str, "the deploy script's error, where it failed"),
    ("deploy.skipped", str, "why nothing was deployed (a persistent target without --opus-deploy)"),
    ("schema.objects", int, "objects expected by expectations/schema/"),
    ("schema.objects_ok", int, "expected objects that match the live catalog"),
    ("schema.notes", int, "notes of the schema comparison (never failures)"),
    ("schema.dba_checks", int, "checks returned by validate_ddl_changes.sql"),
    ("schema.dba_checks_passed", int, "checks of validate_ddl_changes.sql that passed"),
    ("mismatch.planted", int, "schema mismatches planted in a throwaway copy"),
    ("mismatch.caught", int, "planted mismatches the comparison reported"),
    ("workflow.known_invalid", int, "mock-batch rows planted invalid"),
    ("workflow.known_invalid_rejected", int, "planted rows that validation rejected"),
    ("workflow.rejected_exactly", bool, "validation rejected the planted rows and no other"),
    ("workflow.accuracy", _OPTIONAL_RATE, "mock-batch rows classified as planted / staged"),
    ("workflow.correct", int, "mock-batch rows classified as planted"),
    ("workflow.mock_staged", int, "mock-batch rows staged"),
    ("workflow.success_rate", _OPTIONAL_RATE, "valid / staged rows of the real-data dry run"),
    ("workflow.valid", int, "valid rows of the real-data dry run"),
    ("workflow.staged", int, "rows staged by the real-data dry run"),
    ("workflow.invalid", int, "rejected rows of the real-data dry run"),
    ("workflow.sample_source", str, "where the real-data sample came from"),
    ("workflow.sample_mutations", int, "mutations the real-data dry run planned"),
    ("workflow.rejection_reasons", dict, "rejected rows of the real-data dry run, by reason"),
    ("dryrun.fields_planned", int, "field changes in the mock batch's dry-run plan"),
    ("dryrun.fields_expected", int, "field changes expected from staging and the board snapshot"),
    ("dryrun.fields_matched", int, "planned field changes equal to the expected ones"),
    ("dryrun.mutations", int, "mutations in the dry-run plan"),
    ("dryrun.requests", int, "requests the dry-run plan would send"),
    ("dryrun.network_attempts", int, "network connections attempted during the dry run"),
    ("audit.planned_changes", int, "field changes the dry run planned (one audit row each)"),
    ("audit.rows", int, "audit rows the dry run wrote"),
    ("audit.roundtrip", bool, "audit rows written, summarised by the view and rolled back by the procedure"),
    ("subitems.staged", int, "subitem rows staged"),
    ("subitems.valid", int, "staged subitem rows that validated"),
    ("subitems.mutations", int, "mutations planned for the subitems"),
    ("subitems.rolled_back", int, "subitem rows SP_RollbackBatch rolled back"),
    ("infrastructure.parts", dict, "each infrastructure component and whether it works"),
    ("infrastructure.components", int, "infrastructure components checked"),
    ("infrastructure.components_ok", int, "infrastructure components that work"),
    ("compat.columns_unchanged", str, "whether the pre-existing columns and indexes are unchanged"),
    ("compat.insert_ok", bool, "an insert written for the old schema still works"),
    ("compat.dependents", str, "the views and procedures using the staging tables, and what was found"),
    ("compat.dependents_ok", bool, "every dependent still compiles and none inserts without a column list"),
    ("thresholds.error", str, "why expectations/phase0.yaml could not be read (the defaults were used)"),
)


def _unknown(key: str, allowed: Iterable[str], where: str) -> EvidenceError:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return EvidenceError(f"unknown evidence key {key!r} {where}{hint} (every key is declared in "
                         "pytest_opus/criteria.py EVIDENCE; declare a new one there, with its kind and meaning)")


def check_evidence(key: str, value: Any) -> None:
    """Raise EvidenceError unless `key` is declared and `value` is of its declared kind."""
    declared = EVIDENCE.get(key)
    if declared is None:
        raise _unknown(key, EVIDENCE, "written")
    if (isinstance(value, bool) and bool not in declared.kinds) or not isinstance(value, declared.kinds):
        kinds = " or ".join("None" if k is type(None) else k.__name__ for k in declared.kinds)
        raise EvidenceError(f"evidence {key!r} must be {kinds} ({declared.meaning}), got "
                            f"{type(value).__name__} {value!r}")


class Evidence(dict[str, Any]):
    """The measured values of one run, written by the phase tests: only declared keys, of their kind.

    A plain dict to read (and to serialise); every way of writing it (`[key] = value`, `update`,
    `setdefault`, `|=`) checks the key and the value first.
    """

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if values:
            self.update(values)

    def __setitem__(self, key: str, value: Any) -> None:
        check_evidence(key, value)
        super().__setitem__(key, value)

    def update(self, values: Any = (), /, **more: Any) -> None:  # type: ignore[override]
        for key, value in [*dict(values).items(), *more.items()]:
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, values: Any) -> Evidence:  # type: ignore[override,misc]
        self.update(values)
        return self


class _Reads(Mapping[str, Any]):
    """What one criterion may read: the evidence it declares, nothing else (a typo raises)."""

    def __init__(self, evidence: Mapping[str, Any], allowed: tuple[str, ...], criterion: str) -> None:
        self._evidence, self._allowed, self._criterion = evidence, allowed, criterion

    def _check(self, key: str) -> None:
        if key not in self._allowed:
            raise _unknown(key, self._allowed, f"read by criterion {self._criterion!r} (not in its reads)")

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return self._evidence[key]

    def __contains__(self, key: object) -> bool:
        self._check(str(key))
        return key in self._evidence

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._allowed if k in self._evidence)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# -- outcomes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One criterion as judged in one run."""

    group: str
    name: str  # the seed's wording
    passed: bool
    evidence: str
    #: "passed", "failed", or "not measured" (its tests were skipped because an earlier phase failed)
    status: str = ""
    key: str = ""  # the registry's id
    threshold: str = ""


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


# -- the registry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """What a criterion is judged on: its own evidence, the phases' outcomes, the thresholds."""

    ev: Mapping[str, Any]
    phases: Mapping[str, PhaseOutcome]
    thresholds: Thresholds
    recorded: str | None  # where the run's results were recorded, or None when they could not be


Judge = Callable[[Measured], tuple[bool, str]]


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    group: str
    name: str  # the seed's wording
    threshold: str  # what passing requires, in words (the numbers come from phase0.yaml where named)
    measured: str  # how, and by which tests
    phases: tuple[str, ...]  # phases whose tests measure it: when one was blocked, it was not measured
    reads: tuple[str, ...]  # the evidence keys it reads, and the only ones it may
    judge: Judge


#: every criterion, in the report's order; looked up by key, never by position
CRITERIA: dict[str, CriterionSpec] = {}


def criterion(key: str, group: str, name: str, *, threshold: str, measured: str, phases: tuple[str, ...] = (),
              reads: tuple[str, ...] = ()) -> Callable[[Judge], Judge]:
    """Declare a criterion; its judge returns (passed, evidence in words)."""
    unknown = [r for r in reads if r not in EVIDENCE]
    if unknown:
        raise _unknown(unknown[0], EVIDENCE, f"declared by criterion {key!r}")
    if any(p not in PHASES for p in phases):
        raise ValueError(f"criterion {key!r} names an unknown phase: {phases}")

    def register(judge: Judge) -> Judge:
        if key in CRITERIA or any(c.name == name for c in CRITERIA.values()):
            raise ValueError(f"criterion {key!r} ({name}) is declared twice")
        CRITERIA[key] = CriterionSpec(key, group, name, threshold, measured, phases, reads, judge)
        return judge

    return register


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@criterion("preflight", SAFETY, "Comprehensive validation before any database changes",
           threshold="every script present and parsed; the static check clean; no conflicting object",
           measured="tests/phase0/test_preflight.py, before deploy: scripts, static check, access, conflicts",
           phases=("preflight",),
           reads=("preflight.scripts", "preflight.conflicts", "preflight.access", "preflight.static_ok"))
def _preflight(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    checked, conflicts = ev.get("preflight.scripts"), ev.get("preflight.conflicts")
    if checked is None:
        return False, "the pre-flight phase did not run"
    text = (f"{checked} script(s) parsed and checked against the YAML; target reachable "
            f"({ev.get('preflight.access', 'not checked')}); {conflicts} conflicting object(s)")
    return m.phases["preflight"].ok and conflicts == 0 and bool(ev.get("preflight.static_ok")), text


@criterion("deployment", COMPLETION, "Database schema deployment: 100% successful",
           threshold="every batch of the deploy script committed; every deploy test passed",
           measured="tests/phase0/test_deploy.py: the deploy script's batches, idempotence, nothing broken",
           phases=("deploy",),
           reads=("deploy.batches", "deploy.batches_committed", "deploy.seconds", "deploy.error", "deploy.skipped"))
def _deployment(m: Measured) -> tuple[bool, str]:
    ev, d = m.ev, m.phases["deploy"]
    if "deploy.batches" not in ev:
        return False, ev.get("deploy.skipped", "the deploy phase did not run")
    text = (f"{ev['deploy.batches_committed']} of {ev['deploy.batches']} batches committed in "
            f"{ev.get('deploy.seconds', 0.0):.2f}s; {d.passed} deploy test(s) passed, {d.failed} failed")
    if ev.get("deploy.error"):
        text += f"; error: {ev['deploy.error']}"
    return d.ok and ev["deploy.batches"] == ev.get("deploy.batches_committed"), text


@criterion("schema", COMPLETION, "Schema validation: All objects present and functional",
           threshold="every expected object matches the live catalog; every DBA validation check passes",
           measured="tests/phase0/test_schema.py: expectations/schema/ against the catalog, validate_ddl_changes.sql",
           phases=("schema",),
           reads=("schema.objects", "schema.objects_ok", "schema.dba_checks", "schema.dba_checks_passed",
                  "schema.notes"))
def _schema(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    objects, objects_ok = ev.get("schema.objects"), ev.get("schema.objects_ok")
    checks, checks_ok = ev.get("schema.dba_checks"), ev.get("schema.dba_checks_passed")
    if objects is None:
        return False, "the schema phase did not run"
    text = (f"{objects_ok}/{objects} expected objects match the live catalog; DBA validation script "
            f"{checks_ok}/{checks} checks passed")
    if ev.get("schema.notes"):  # notes pass (e.g. an index under an older name); say so, do not fail
        text += f"; {ev['schema.notes']} note(s), not failures (see the schema tests)"
    return m.phases["schema"].ok and objects == objects_ok and checks is not None and checks == checks_ok, text


@criterion("success_rate", COMPLETION, "UpdateOperations test: >95% success rate",
           threshold="real-data success rate above success_rate.go_above (phase0.yaml); mock-batch "
                     "classification accuracy 100%",
           measured="tests/phase0/test_workflow.py: a dry run on a sample of real rows, and the mock batch with "
                    "planted invalid rows",
           phases=("workflow",),
           reads=("workflow.success_rate", "workflow.accuracy", "workflow.rejection_reasons", "workflow.staged",
                  "workflow.sample_source", "workflow.correct", "workflow.mock_staged",
                  "workflow.known_invalid_rejected", "workflow.known_invalid", "workflow.rejected_exactly"))
def _success_rate(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    rate, accuracy = ev.get("workflow.success_rate"), ev.get("workflow.accuracy")
    parts = []
    if rate is not None:
        reasons = ev.get("workflow.rejection_reasons") or {}
        top = "; ".join(f"{n} x {reason}" for reason, n in list(reasons.items())[:3])
        parts.append(f"{_pct(rate)} of {ev.get('workflow.staged')} rows valid in a dry run on "
                     f"{ev.get('workflow.sample_source', 'a sample')} (threshold >{_pct(m.thresholds.go_above)})"
                     + (f"; rejected: {top}" if top else ""))
    else:
        parts.append("no real-data success rate was measured")
    if accuracy is not None:
        parts.append(f"mock batch classification accuracy {_pct(accuracy)} ({ev.get('workflow.correct')}/"
                     f"{ev.get('workflow.mock_staged')} rows; {ev.get('workflow.known_invalid_rejected')} of "
                     f"{ev.get('workflow.known_invalid')} planted rows rejected for their reason; required 100%)")
    else:
        parts.append("the mock batch was not classified")
    rate_ok = (rate is not None and rate > m.thresholds.go_above and accuracy == 1
               and bool(ev.get("workflow.rejected_exactly")))
    return m.phases["workflow"].ok and rate_ok, "; ".join(parts)


@criterion("infrastructure", COMPLETION, "Infrastructure validation: All components operational",
           threshold="every component (connection, both staging tables, library, board metadata, audit trail) works",
           measured="tests/phase0/test_infrastructure.py: one test per component",
           phases=("infrastructure",),
           reads=("infrastructure.components", "infrastructure.components_ok"))
def _infrastructure(m: Measured) -> tuple[bool, str]:
    comps, comps_ok = m.ev.get("infrastructure.components"), m.ev.get("infrastructure.components_ok")
    if comps is None:
        return False, "the infrastructure phase did not run"
    return m.phases["infrastructure"].ok and comps == comps_ok, f"{comps_ok}/{comps} components operational"


@criterion("documentation", COMPLETION, "Documentation updated: Deployment results recorded",
           threshold="the run's summary written to reports/history/; the deploy run in the target's ledger",
           measured="the end of the run (signoff.py): the JSON summary and its history copy written, the deploy's "
                    "run id from the target's deployment ledger")
def _documentation(m: Measured) -> tuple[bool, str]:
    if m.recorded is None:
        return False, "the run's results could not be recorded"
    return True, f"results recorded in {m.recorded}"


@criterion("all_tests", READY, "All Phase 0 tests passing",
           threshold="every test of every phase ran and passed",
           measured="the outcomes of every test in tests/phase0/")
def _all_tests(m: Measured) -> tuple[bool, str]:
    phases = m.phases.values()
    passed, failed = sum(p.passed for p in phases), sum(p.failed for p in phases)
    skipped = sum(p.skipped for p in phases)
    return (all(p.ok for p in phases),
            f"{passed} passed, {failed} failed, {skipped} skipped across {len(PHASES)} phases")


@criterion("dry_run", READY, "Dry-run mode functional and accurate",
           threshold="every planned field change equals the staged value; no network connection attempted",
           measured="tests/phase0/test_workflow.py: the mock batch's plan against staging and the board snapshot, "
                    "under a socket guard",
           phases=("workflow",),
           reads=("dryrun.fields_planned", "dryrun.fields_matched", "dryrun.fields_expected",
                  "dryrun.network_attempts", "dryrun.mutations", "dryrun.requests"))
def _dry_run(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    planned, matched = ev.get("dryrun.fields_planned"), ev.get("dryrun.fields_matched")
    expected, network = ev.get("dryrun.fields_expected"), ev.get("dryrun.network_attempts")
    if planned is None:
        return False, "no dry-run plan was checked"
    text = (f"{ev.get('dryrun.mutations')} mutations in {ev.get('dryrun.requests')} request(s); "
            f"{matched} of {planned} planned field changes equal the staged values ({expected} expected from "
            f"staging and the board snapshot); {network} network connection attempts")
    return m.phases["workflow"].ok and planned > 0 and planned == matched == expected and network == 0, text


@criterion("mismatches", READY, "Validation framework catching schema mismatches",
           threshold="every mismatch planted in a throwaway copy is reported",
           measured="tests/phase0/test_schema.py: mismatches planted in a deployed throwaway copy",
           phases=("schema",), reads=("mismatch.planted", "mismatch.caught"))
def _mismatches(m: Measured) -> tuple[bool, str]:
    planted, caught = m.ev.get("mismatch.planted"), m.ev.get("mismatch.caught")
    if planted is None:
        return False, "no mismatch was planted"
    return (m.phases["schema"].ok and planted > 0 and planted == caught,
            f"{caught} of {planted} mismatches planted in a throwaway copy were caught")


@criterion("audit", READY, "Audit trail capturing all operations",
           threshold="one audit row per planned change; write, summarise and roll back round trip works; "
                     "SP_RollbackBatch rolls back every staged subitem row",
           measured="tests/phase0/test_workflow.py and test_infrastructure.py: audit rows of the dry run, the "
                    "audit round trip, a subitem batch staged, planned and rolled back",
           phases=("workflow", "infrastructure"),
           reads=("audit.rows", "audit.planned_changes", "audit.roundtrip", "subitems.staged", "subitems.mutations",
                  "subitems.rolled_back"))
def _audit(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    rows, changes, roundtrip = ev.get("audit.rows"), ev.get("audit.planned_changes"), ev.get("audit.roundtrip")
    if rows is None:
        return False, "the audit trail was not checked"
    staged, rolled = ev.get("subitems.staged"), ev.get("subitems.rolled_back")
    text = (f"{rows} audit rows for {changes} planned changes; round trip (write, summarise, roll back): "
            f"{'ok' if roundtrip else 'not shown' if roundtrip is None else 'failed'}; "
            + (f"subitems: {staged} staged, {ev.get('subitems.mutations')} planned, {rolled} of {staged} rolled "
               "back by SP_RollbackBatch" if staged is not None else "subitems: not checked"))
    ok = m.phases["workflow"].ok and m.phases["infrastructure"].ok
    subitems_ok = staged is not None and staged > 0 and rolled == staged
    return ok and rows == changes and rows > 0 and bool(roundtrip) and subitems_ok, text


@criterion("compatibility", READY, "No breaking changes to existing systems",
           threshold="pre-existing columns unchanged; an old-schema insert works; every view and procedure "
                     "using the staging tables compiles, none inserts without a column list",
           measured="tests/phase0/test_deploy.py: the catalog before and after deploy, an insert, the dependents",
           phases=("deploy",),
           reads=("compat.columns_unchanged", "compat.insert_ok", "compat.dependents", "compat.dependents_ok"))
def _compatibility(m: Measured) -> tuple[bool, str]:
    ev = m.ev
    unchanged, insert_ok = ev.get("compat.columns_unchanged"), ev.get("compat.insert_ok")
    text = (f"pre-existing columns unchanged: {unchanged}; insert written for the old schema: "
            f"{'works' if insert_ok else 'not shown' if insert_ok is None else 'fails'}; "
            f"{ev.get('compat.dependents', 'code using the staging tables not checked')}")
    return (m.phases["deploy"].ok and unchanged is not None and unchanged.startswith("all") and bool(insert_ok)
            and bool(ev.get("compat.dependents_ok")), text)


# -- the decision -----------------------------------------------------------------------------------


def judge(spec: CriterionSpec, measured: Measured, ledger: PhaseLedger) -> Criterion:
    """One criterion in this run. When one of its phases never ran because an earlier phase failed,
    it was not measured, and says what blocked it."""
    passed, text = spec.judge(measured)
    if not passed:
        # A test of one of its phases failed: the criterion failed, whatever later phases could not add.
        # Numbers can look fine while that test failed: name it, so the evidence explains the FAIL.
        failing = [f for p in spec.phases for f in measured.phases[p].failures]
        if failing:
            text += f"; failed test: {failing[0]}" + (f" and {len(failing) - 1} more" if len(failing) > 1 else "")
        else:
            blocked = next((ledger.blocker(p) for p in spec.phases
                            if not measured.phases[p].ran and ledger.blocker(p)), None)
            if blocked:
                return Criterion(spec.group, spec.name, False, f"not measured: blocked by {blocked}",
                                 "not measured", spec.key, spec.threshold)
    return Criterion(spec.group, spec.name, bool(passed), text, "passed" if passed else "failed", spec.key,
                     spec.threshold)


def evaluate(ledger: PhaseLedger, evidence: Mapping[str, Any], thresholds: Thresholds,
             warnings: Mapping[str, int], recorded: str | None, *, whole_suite: bool | None = None) -> Decision:
    """Every declared criterion from what happened in this run, and the decision they add up to."""
    phases = phase_outcomes(ledger, warnings)
    by = {p.name: p for p in phases}
    criteria = tuple(judge(spec, Measured(_Reads(evidence, spec.reads, spec.key), by, thresholds, recorded), ledger)
                     for spec in CRITERIA.values())
    by_key = {c.key: c for c in criteria}
    ev = _Reads(evidence, ("deploy.skipped", "workflow.success_rate"), "the decision")

    # "Incomplete" is about the selection (-m/-k/--deselect), never about phases a failure skipped.
    complete = ledger.whole_suite_selected if whole_suite is None else whole_suite
    complete = complete and "deploy.skipped" not in ev  # validating a persistent target as it is
    if not complete:
        return Decision("NO-GO", "incomplete", criteria, phases)
    if all(c.passed for c in criteria) and all(p.checkpoint == "passed" for p in phases):
        return Decision("GO", "success", criteria, phases)
    rate = ev.get("workflow.success_rate")
    if by_key["deployment"].passed and rate is not None and thresholds.partial_above < rate <= thresholds.go_above:
        return Decision("NO-GO", "partial", criteria, phases)
    return Decision("NO-GO", "failure", criteria, phases)
