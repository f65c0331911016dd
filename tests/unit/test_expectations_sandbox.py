"""The shipped expectations against the embedded sandbox: the real catalog, not a hand-built one."""

from __future__ import annotations

from pathlib import Path

from pytest_opus.expectations import compare, format_findings, load_expectations
from pytest_opus.targets.sandbox import SandboxTarget

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"


def test_deployed_sandbox_meets_the_schema_expectations(deployed: SandboxTarget) -> None:
    results = compare(load_expectations(EXPECTATIONS / "schema"), deployed.catalog())
    findings = [f for r in results for f in r.findings]
    assert not findings, format_findings(findings)


def test_baseline_sandbox_lists_every_missing_object(baseline: SandboxTarget) -> None:
    results = {r.name: r for r in compare(load_expectations(EXPECTATIONS / "schema"), baseline.catalog())}
    for name in ("dbo.MON_UpdateAudit", "dbo.VW_UpdateOperationSummary", "dbo.SP_RollbackBatch"):
        assert [f.kind for f in results[name].findings] == ["missing_object"]
    for name in ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems"):
        assert {f.kind for f in results[name].findings} == {"missing_column"}
        assert len(results[name].findings) == 7


def test_baseline_sandbox_meets_the_after_rollback_expectations(baseline: SandboxTarget) -> None:
    results = compare(load_expectations(EXPECTATIONS / "after_rollback"), baseline.catalog())
    findings = [f for r in results for f in r.findings]
    assert not findings, format_findings(findings)
