"""The Phase 0 criteria and decision, from hand-made outcomes and evidence."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_opus.criteria import evaluate
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
        "audit.roundtrip": True, "compat.columns_unchanged": "all 123 pre-existing columns unchanged",
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
    failed = {c.name for c in decision.failed_criteria}
    assert "Audit trail capturing all operations" in failed


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
