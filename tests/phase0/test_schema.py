"""Phase 0, step 2: the live schema against expectations/schema (seed: "Schema validation: all objects
present and functional"). One test per expected object, the DBA's own validation script, and a proof
that the validation framework catches mismatches planted in a throwaway copy."""

from __future__ import annotations

import pytest

from pytest_opus.expectations import compare, format_findings
from pytest_opus.options import OpusConfig
from pytest_opus.report import table_html
from pytest_opus.run import OpusRun
from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox

pytestmark = pytest.mark.schema

#: (what is planted, T-SQL that plants it, the object and finding kind that must report it)
PLANTED = [
    ("a column dropped", "ALTER TABLE dbo.MON_UpdateAudit DROP COLUMN api_response_id",
     "dbo.MON_UpdateAudit", "missing_column"),
    ("a type changed", "ALTER TABLE dbo.MON_UpdateAudit ALTER COLUMN user_id NVARCHAR(100) NULL",
     "dbo.MON_UpdateAudit", "type"),
    ("a length changed", "ALTER TABLE dbo.MON_UpdateAudit ALTER COLUMN column_id VARCHAR(50) NULL",
     "dbo.MON_UpdateAudit", "length"),
    ("nullability flipped", "ALTER TABLE dbo.MON_UpdateAudit ALTER COLUMN batch_id VARCHAR(50) NULL",
     "dbo.MON_UpdateAudit", "nullability"),
    ("a default removed",
     "ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP CONSTRAINT DF_STG_MON_CustMasterSchedule_validation_status",
     "dbo.STG_MON_CustMasterSchedule", "default"),
    ("an index dropped", "DROP INDEX IX_MON_UpdateAudit_monday_board_id ON dbo.MON_UpdateAudit",
     "dbo.MON_UpdateAudit", "index"),
    ("an unexpected column in an exact table", "ALTER TABLE dbo.MON_UpdateAudit ADD extra_note NVARCHAR(20) NULL",
     "dbo.MON_UpdateAudit", "unexpected_column"),
    ("the view dropped", "DROP VIEW dbo.VW_UpdateOperationSummary", "dbo.VW_UpdateOperationSummary",
     "missing_object"),
]


def test_schema_object(opus_run: OpusRun, opus_schema_object: str, request: pytest.FixtureRequest) -> None:
    results = opus_run.schema_results()
    opus_run.evidence["schema.objects"] = len(results)
    opus_run.evidence["schema.objects_ok"] = sum(1 for r in results.values() if r.ok)
    opus_run.evidence["schema.notes"] = sum(len(r.notes) for r in results.values())
    result = results[opus_schema_object]
    if result.notes:  # shown, never failed: the object means what is expected under another name
        opus_run.attach(request.node.nodeid, "schema notes (not failures)", table_html(
            ["kind", "expected", "actual", "note"], [[n.kind, n.expected, n.actual, n.text] for n in result.notes]))
    if not result.ok:
        opus_run.attach(request.node.nodeid, "schema findings", table_html(
            ["kind", "column", "expected", "actual", "suggested fix"],
            [[f.kind, f.column, f.expected, f.actual, f.fix] for f in result.findings]))
        pytest.fail(f"{result.summary()}\n{format_findings(result.findings)}", pytrace=False)


def test_dba_validation_script_passes(opus_run: OpusRun, request: pytest.FixtureRequest) -> None:
    opus_run.deployment()  # validate what this run deployed (or the target as it is)
    result = opus_run.run_script("validate_ddl_changes.sql").result
    checks = result.result_sets[0].rows if result.result_sets else []
    opus_run.evidence["schema.dba_checks"] = len(checks)
    opus_run.evidence["schema.dba_checks_passed"] = sum(1 for _n, passed, _d in checks if passed)
    opus_run.attach(request.node.nodeid, "validate_ddl_changes.sql", table_html(
        ["check", "passed", "detail"], [list(r) for r in checks]))
    failed = [f"{name}: {detail}" for name, passed, detail in checks if not passed]
    if not checks:
        pytest.fail(f"the validation script returned no checks: {result.summary()}", pytrace=False)
    if not result.ok or failed:
        pytest.fail("\n".join([result.summary(), *failed]), pytrace=False)


def test_validation_catches_planted_mismatches(opus_run: OpusRun, opus_config: OpusConfig,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    """Seed: "validation framework catching schema mismatches", shown on a throwaway deployed copy."""
    path = create_sandbox(tmp_path_factory.mktemp("planted") / "copy.sqlite", opus_config.sql / "baseline")
    copy = SandboxTarget(path)
    try:
        assert copy.run_script_file(str(opus_config.sql / "deploy_opus_update_boards.sql")).ok
        clean = {r.label: r for r in compare(opus_run.expectations(), copy.catalog())}
        assert all(r.ok for r in clean.values()), "the throwaway copy does not start clean"
        for _what, statement, _obj, _kind in PLANTED:
            copy.execute(statement)
        found = {r.label: r for r in compare(opus_run.expectations(), copy.catalog())}
    finally:
        copy.close()
    missed = [what for what, _sql, obj, kind in PLANTED
              if not any(f.kind == kind for f in found[obj].findings)]
    opus_run.evidence["mismatch.planted"] = len(PLANTED)
    opus_run.evidence["mismatch.caught"] = len(PLANTED) - len(missed)
    assert not missed, f"planted mismatches not caught: {missed}"
