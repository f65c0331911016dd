"""The Phase 0 criteria and decision, from hand-made outcomes and evidence."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.criteria import CRITERIA, EVIDENCE, Evidence, EvidenceError, criterion, evaluate
from pytest_opus.phases import PHASES, PhaseLedger
from pytest_opus.thresholds import Thresholds


def _ledger(failed: str | None = None) -> PhaseLedger:
    ledger = PhaseLedger()
    for phase in PHASES:
        ledger.selected[phase] = 2 if phase == failed else 1
        ledger.record(phase, f"tests/phase0/test_{phase}.py::test_ok", "passed", 0.1)
    if failed:
        ledger.record(failed, f"tests/phase0/test_{failed}.py::test_broken", "failed", 0.1)
    return ledger


def by_name(decision: Any) -> dict[str, Any]:
    return {c.name: c for c in decision.criteria}


def _evidence(**overrides: Any) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "preflight.scripts": 5, "preflight.static_ok": True, "preflight.conflicts": 0,
        "preflight.access": "writable database file",
        "deploy.batches": 9, "deploy.batches_committed": 9, "deploy.seconds": 0.2,
        "schema.objects": 5, "schema.objects_ok": 5, "schema.dba_checks": 48, "schema.dba_checks_passed": 48,
        "workflow.success_rate": 196 / 200, "workflow.valid": 196, "workflow.staged": 200, "workflow.invalid": 4,
        "workflow.sample_source": "real rows of dms", "workflow.rejection_reasons": {"ORDER STATUS: not a label": 4},
        "workflow.accuracy": 1.0, "workflow.correct": 60, "workflow.mock_staged": 60,
        "workflow.known_invalid": 2, "workflow.known_invalid_rejected": 2, "workflow.rejected_exactly": True,
        "infrastructure.components": 6, "infrastructure.components_ok": 6,
        "dryrun.fields_planned": 200, "dryrun.fields_expected": 200, "dryrun.fields_matched": 200,
        "dryrun.mutations": 58, "dryrun.requests": 3, "dryrun.network_attempts": 0,
        "mismatch.planted": 8, "mismatch.caught": 8, "audit.rows": 200, "audit.planned_changes": 200,
        "audit.roundtrip": True, "subitems.staged": 20, "subitems.mutations": 20, "subitems.rolled_back": 20,
        "compat.columns_unchanged": "all 123 pre-existing columns unchanged",
        "compat.insert_ok": True, "compat.dependents_ok": True,
        "compat.dependents": "1 view(s) using the staging tables checked: 0 broken, 0 insert(s) without a column list",
    }
    evidence.update(overrides)
    return evidence


def test_everything_measured_and_passing_is_go() -> None:
    decision = evaluate(_ledger(), _evidence(), Thresholds(), {}, "reports/history/x.json")
    assert (decision.decision, decision.scenario) == ("GO", "success")
    assert len(decision.criteria) == 11 and all(c.passed for c in decision.criteria)
    assert all(c.status == "passed" for c in decision.criteria)
    evidence = by_name(decision)["UpdateOperations test: >95% success rate"].evidence
    assert evidence.startswith("98.0% of 200 rows valid in a dry run on real rows of dms (threshold >95.0%)")
    assert "rejected: 4 x ORDER STATUS: not a label" in evidence and "classification accuracy 100.0%" in evidence


@pytest.mark.parametrize(("overrides", "failed_name"), [
    ({"mismatch.caught": 7}, "Validation framework catching schema mismatches"),
    ({"dryrun.network_attempts": 1}, "Dry-run mode functional and accurate"),
    ({"dryrun.fields_matched": 199}, "Dry-run mode functional and accurate"),
    ({"dryrun.fields_expected": 201}, "Dry-run mode functional and accurate"),
    ({"audit.rows": 199}, "Audit trail capturing all operations"),
    ({"audit.roundtrip": False}, "Audit trail capturing all operations"),
    ({"subitems.rolled_back": 0}, "Audit trail capturing all operations"),
    ({"compat.insert_ok": False}, "No breaking changes to existing systems"),
    ({"compat.dependents_ok": False}, "No breaking changes to existing systems"),
    ({"workflow.rejected_exactly": False}, "UpdateOperations test: >95% success rate"),
    ({"schema.dba_checks_passed": 47}, "Schema validation: All objects present and functional"),
    ({"infrastructure.components_ok": 5}, "Infrastructure validation: All components operational"),
    ({"preflight.conflicts": 1}, "Comprehensive validation before any database changes"),
    ({"preflight.static_ok": False}, "Comprehensive validation before any database changes"),
])
def test_each_criterion_fails_on_its_own_evidence(overrides: dict[str, Any], failed_name: str) -> None:
    decision = evaluate(_ledger(), _evidence(**overrides), Thresholds(), {}, "x.json")
    assert decision.decision == "NO-GO"
    assert [c.name for c in decision.failed_criteria] == [failed_name]


def test_missing_evidence_fails_and_says_so() -> None:
    decision = evaluate(_ledger(), {}, Thresholds(), {}, None)
    assert not any(c.passed for c in decision.criteria[:6] if "recorded" not in c.name)
    assert "no real-data success rate" in by_name(decision)["UpdateOperations test: >95% success rate"].evidence


def test_partial_scenario_between_the_thresholds() -> None:
    decision = evaluate(_ledger(failed="workflow"), _evidence(**{"workflow.success_rate": 0.9}), Thresholds(),
                        {}, "x.json")
    assert (decision.decision, decision.scenario) == ("NO-GO", "partial")


def test_failed_deployment_is_the_failure_scenario() -> None:
    decision = evaluate(_ledger(failed="deploy"), _evidence(**{"deploy.batches_committed": 0}), Thresholds(),
                        {}, "x.json")
    assert (decision.decision, decision.scenario) == ("NO-GO", "failure")


def test_a_phase_that_did_not_run_makes_the_run_incomplete() -> None:
    ledger = PhaseLedger()
    ledger.selected["schema"] = 1
    ledger.record("schema", "t::x", "passed", 0.1)
    decision = evaluate(ledger, _evidence(), Thresholds(), {}, "x.json")
    assert decision.scenario == "incomplete"


def test_a_deselected_phase_test_makes_the_run_incomplete_even_if_everything_passed() -> None:
    ledger = _ledger()
    ledger.deselected["deploy"] = 1
    decision = evaluate(ledger, _evidence(), Thresholds(), {}, "x.json")
    assert (decision.decision, decision.scenario) == ("NO-GO", "incomplete")


def test_validating_without_deploying_is_not_a_sign_off() -> None:
    decision = evaluate(_ledger(), _evidence(**{"deploy.skipped": "persistent target"}), Thresholds(), {}, "x.json")
    assert decision.scenario == "incomplete"


def test_a_failed_phase_that_skips_the_later_ones_is_a_failure_not_incomplete() -> None:
    ledger = PhaseLedger()
    for phase in PHASES:
        ledger.selected[phase] = 1
    ledger.record("preflight", "p::ok", "passed", 0.1)
    ledger.record("deploy", "d::ok", "passed", 0.1)
    ledger.record("schema", "s::broken", "failed", 0.1)
    ledger.record("workflow", "w::x", "skipped", 0.0)
    ledger.record("infrastructure", "i::x", "skipped", 0.0)
    decision = evaluate(ledger, _evidence(), Thresholds(), {}, "x.json")
    assert (decision.decision, decision.scenario) == ("NO-GO", "failure")


def test_a_criterion_needs_its_phase_to_pass_not_only_its_numbers() -> None:
    decision = evaluate(_ledger(failed="workflow"), _evidence(), Thresholds(), {}, "x.json")
    failed = {c.name: c for c in decision.failed_criteria}
    assert "Audit trail capturing all operations" in failed
    # its numbers read fine; the evidence names the failed test that makes it FAIL
    assert failed["Audit trail capturing all operations"].evidence.endswith(
        "; failed test: tests/phase0/test_workflow.py::test_broken")


def test_a_database_warning_fails_the_checkpoint() -> None:
    decision = evaluate(_ledger(), _evidence(), Thresholds(), {"deploy": 1}, "x.json")
    assert next(p for p in decision.phases if p.name == "deploy").checkpoint.startswith("failed: 1 database")
    assert decision.decision == "NO-GO"


def test_a_criterion_of_a_blocked_phase_is_not_measured_not_failed() -> None:
    ledger = PhaseLedger()
    for phase in PHASES:
        ledger.selected[phase] = 1
    ledger.record("preflight", "p::ok", "passed", 0.1)
    ledger.record("deploy", "d::broken", "failed", 0.1)
    for phase in ("schema", "workflow", "infrastructure"):
        ledger.record(phase, f"{phase}::x", "skipped", 0.0)
    criteria = by_name(evaluate(ledger, {}, Thresholds(), {}, "x.json"))
    assert criteria["Database schema deployment: 100% successful"].status == "failed"
    schema = criteria["Schema validation: All objects present and functional"]
    assert (schema.status, schema.passed) == ("not measured", False)
    assert schema.evidence == "not measured: blocked by phase 'deploy' failed (d::broken), so phase 'schema' is skipped"


@pytest.mark.parametrize("overrides", [{"workflow.accuracy": 59 / 60}, {"workflow.success_rate": 0.95}])
def test_the_success_criterion_needs_exact_classification_and_a_real_rate_above_the_threshold(
        overrides: dict[str, Any]) -> None:
    decision = evaluate(_ledger(), _evidence(**overrides), Thresholds(), {}, "x.json")
    assert [c.name for c in decision.failed_criteria] == ["UpdateOperations test: >95% success rate"]


# -- the registry and the evidence API (issue 12, item 10) -------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
#: where evidence is written: the phase tests and the run itself
WRITERS = [*sorted((ROOT / "tests" / "phase0").glob("test_*.py")), ROOT / "pytest_opus" / "run.py",
           ROOT / "pytest_opus" / "signoff.py"]
_KEY = re.compile(r"[\"'](\w+\.\w+)[\"']")
_PREFIXES = {name.split(".")[0] for name in EVIDENCE}


def _keys_in(path: Path) -> set[str]:
    return {k for k in _KEY.findall(path.read_text(encoding="utf-8")) if k.split(".")[0] in _PREFIXES}


def test_every_key_the_phase_tests_write_is_declared_and_every_declared_key_is_written() -> None:
    written = set().union(*(_keys_in(path) for path in WRITERS))
    assert written - set(EVIDENCE) == set(), "evidence written but not declared in criteria.EVIDENCE"
    assert set(EVIDENCE) - written == set(), "evidence declared but written by no phase test"


def test_a_misspelt_evidence_key_is_an_error_naming_the_right_one() -> None:
    evidence = Evidence()
    with pytest.raises(EvidenceError, match=r"unknown evidence key 'workflow\.sucess_rate' written; did you mean "
                                            r"'workflow\.success_rate'\?"):
        evidence["workflow.sucess_rate"] = 0.97
    for write in (lambda: evidence.update({"audit.rowz": 3}), lambda: evidence.setdefault("infrastructure.part", {}),
                  lambda: evidence.__ior__({"dryrun.mutation": 1}), lambda: Evidence({"compat.insert": True})):
        with pytest.raises(EvidenceError, match="unknown evidence key"):
            write()
    assert evidence == {}  # nothing half-written


@pytest.mark.parametrize(("key", "value"), [
    ("audit.rows", "12"), ("audit.rows", True), ("audit.rows", 1.5), ("workflow.rejected_exactly", 1),
    ("workflow.success_rate", "97%"), ("workflow.rejection_reasons", ["ORDER STATUS"]), ("deploy.error", None),
])
def test_a_value_of_another_kind_is_refused(key: str, value: Any) -> None:
    with pytest.raises(EvidenceError, match=f"evidence '{re.escape(key)}' must be "):
        Evidence()[key] = value


def test_declared_keys_are_written_and_read_as_a_plain_dict() -> None:
    evidence = Evidence({"audit.rows": 3})
    evidence.update({"workflow.success_rate": None, "workflow.accuracy": 1})
    evidence.setdefault("infrastructure.parts", {})["connection"] = True
    assert dict(evidence) == {"audit.rows": 3, "workflow.success_rate": None, "workflow.accuracy": 1,
                              "infrastructure.parts": {"connection": True}}


def test_a_criterion_reads_only_the_evidence_it_declares() -> None:
    with pytest.raises(EvidenceError, match=r"declared by criterion 'x'; did you mean 'audit\.rows'"):
        criterion("x", "group", "a criterion", threshold="t", measured="m", reads=("audit.row",))
    assert "x" not in CRITERIA
    for spec in CRITERIA.values():  # each judge runs on its own declared evidence only: none reads beyond it
        evidence = {key: value for key, value in _evidence().items() if key in spec.reads}
        decision = evaluate(_ledger(), evidence, Thresholds(), {}, "x.json")
        assert next(c for c in decision.criteria if c.key == spec.key).passed, spec.key


def test_each_criterion_is_declared_once_with_its_threshold_and_how_it_is_measured() -> None:
    decision = evaluate(_ledger(), _evidence(), Thresholds(), {}, "x.json")
    assert [c.key for c in decision.criteria] == list(CRITERIA)
    for spec in CRITERIA.values():
        assert spec.threshold and spec.measured and spec.group and spec.name
        assert set(spec.reads) <= set(EVIDENCE)
    row = decision.to_dict()["criteria"][0]
    assert {"key", "threshold", "status", "evidence"} <= set(row)


def test_the_docs_list_every_criterion_with_its_threshold() -> None:
    docs = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
    for spec in CRITERIA.values():
        assert f"| `{spec.key}` | {spec.name} | {spec.threshold} |" in docs, spec.key


def test_the_report_shows_each_criterion_with_its_threshold_and_the_scope_under_the_decision() -> None:
    from html import escape

    from pytest_opus.report import html_section, scope_line, summary_dict, terminal_lines

    decision = evaluate(_ledger(), _evidence(), Thresholds(), {}, "x.json")
    data = summary_dict(decision, {"target": "sandbox file /db<1>.sqlite"},
                        {"scope": "target", "target": "sandbox file /db<1>.sqlite", "sign_off": True,
                         "evidence": _evidence()})
    html = html_section(data)
    assert html.index('id="opus-decision"') < html.index('id="opus-scope"') < html.index('id="opus-scenario"')
    assert "Decision: GO for sandbox file /db&lt;1&gt;.sqlite" in html and "<1>" not in html
    for spec in CRITERIA.values():
        assert html.count(f"<td>{escape(spec.threshold)}</td>") == 1, spec.key
    assert scope_line(data) == ("Scope: target. Target: sandbox file /db<1>.sqlite, a persistent database; the "
                                "decision is about it. Data: real rows of dms")
    assert terminal_lines(data)[1] == f"  {scope_line(data)}"
    rehearsal = scope_line({"scope": "rehearsal", "target": "disposable sandbox (SQLite, new for this run)"})
    assert rehearsal.startswith("Scope: rehearsal. Target: disposable sandbox")
    assert "no database was signed off" in rehearsal
