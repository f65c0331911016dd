"""The Phase 0 deploy script on the embedded sandbox: result, idempotence, atomicity."""

from __future__ import annotations

from pathlib import Path

from pytest_opus.targets.sandbox import SandboxTarget

SQL = Path(__file__).resolve().parents[2] / "sql"

DEPLOY = str(SQL / "deploy_opus_update_boards.sql")
UPDATE_COLUMNS = ["update_operation", "update_fields", "source_table", "source_query", "update_batch_id",
                  "validation_status", "validation_errors"]


def test_deploy_adds_the_update_infrastructure(baseline: SandboxTarget) -> None:
    result = baseline.run_script_file(DEPLOY)
    assert result.ok, result.summary()
    cat = baseline.catalog()
    for table in ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems"):
        t = cat.table(table)
        assert t is not None
        assert [c.name for c in t.columns[-7:]] == UPDATE_COLUMNS
        assert t.column("update_operation").default == "('CREATE')"
        assert t.column("update_fields").max_length == -1
    audit = cat.table("dbo.MON_UpdateAudit")
    assert audit is not None and len(audit.columns) == 15
    assert audit.column("audit_id").identity
    assert {i.name for i in audit.indexes} >= {"PK_MON_UpdateAudit", "IX_MON_UpdateAudit_batch_id"}
    assert cat.view("VW_UpdateOperationSummary") is not None
    proc = cat.procedure("SP_RollbackBatch")
    assert proc is not None and [p.name for p in proc.parameters] == ["@batch_id", "@rollback_reason"]


def test_existing_rows_get_null_not_the_default(baseline: SandboxTarget) -> None:
    assert baseline.run_script_file(DEPLOY).ok
    rows = baseline.execute("SELECT COUNT(*), COUNT(update_operation) FROM dbo.STG_MON_CustMasterSchedule")
    assert rows == [(300, 0)]  # SQL Server leaves existing rows NULL when a nullable column gets a default


def test_second_deploy_changes_nothing(deployed: SandboxTarget) -> None:
    before = deployed.catalog()
    result = deployed.run_script_file(DEPLOY)
    assert result.ok
    assert deployed.catalog() == before
    assert any("already present" in m.text for m in result.messages)
