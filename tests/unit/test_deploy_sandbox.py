"""The Phase 0 deploy script on the embedded sandbox: result, idempotence, atomicity."""

from __future__ import annotations

from pathlib import Path

from pytest_opus.signoff import without_ledger
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates.staging import UPDATE_COLUMNS

SQL = Path(__file__).resolve().parents[2] / "sql"

DEPLOY = str(SQL / "deploy_opus_update_boards.sql")


def test_deploy_adds_the_update_infrastructure(baseline: SandboxTarget) -> None:
    result = baseline.run_script_file(DEPLOY)
    assert result.ok, result.summary()
    cat = baseline.catalog()
    for table in ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems"):
        t = cat.table(table)
        assert t is not None
        assert [c.name for c in t.columns[-7:]] == list(UPDATE_COLUMNS)
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


ROLLBACK = str(SQL / "rollback_opus_update_boards.sql")
VALIDATE = str(SQL / "validate_ddl_changes.sql")


def test_deploy_rollback_deploy_cycle(baseline: SandboxTarget) -> None:
    """deploy, deploy again, rollback, deploy: catalog snapshots equal where they should be."""
    original = baseline.catalog()
    assert baseline.run_script_file(DEPLOY).ok
    deployed = baseline.catalog()
    assert baseline.run_script_file(DEPLOY).ok
    assert without_ledger(baseline.catalog()) == without_ledger(deployed)
    assert baseline.run_script_file(VALIDATE).ok
    result = baseline.run_script_file(ROLLBACK)
    assert result.ok, result.summary()
    assert without_ledger(baseline.catalog()) == original  # only the ledger stays: it is the record
    assert not baseline.run_script_file(VALIDATE).ok
    assert baseline.run_script_file(DEPLOY).ok
    assert without_ledger(baseline.catalog()) == without_ledger(deployed)


def test_rollback_keeps_every_audit_row(deployed: SandboxTarget) -> None:
    insert = ("INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation, monday_item_id, column_id, old_value, "
              "new_value) VALUES (?, ?, ?, ?, ?, ?)")
    rows = [(f"batch-{i % 3}", "UPDATE_ITEMS", 8000000000 + i, "status", f"old {i}", f"new '{i}'") for i in range(25)]
    deployed.executemany(insert, rows)
    result = deployed.run_script_file(ROLLBACK)
    assert result.ok, result.summary()
    backup = deployed.execute("SELECT batch_id, update_operation, monday_item_id, column_id, old_value, new_value "
                              "FROM dbo.OPUS_BackupAudit ORDER BY audit_id")
    assert backup == rows
    assert deployed.catalog().table("MON_UpdateAudit") is None


def test_validate_reports_each_check_and_fails_loudly(deployed: SandboxTarget) -> None:
    ok = deployed.run_script_file(VALIDATE)
    assert ok.ok
    checks = ok.result_sets[0].rows
    assert len(checks) == 48 and all(passed == 1 for _name, passed, _detail in checks)
    assert deployed.run_script_file(str(SQL / "baseline" / "010_staging_tables.sql")).error is not None
    deployed.execute("DROP VIEW dbo.VW_UpdateOperationSummary")
    broken = deployed.run_script_file(VALIDATE)
    assert broken.error is not None and "checks failed" in broken.error.message
    failed = [name for name, passed, _ in broken.result_sets[0].rows if not passed]
    assert "view dbo.VW_UpdateOperationSummary" in failed


def test_an_interrupted_script_is_rolled_back(baseline: SandboxTarget) -> None:
    """Anything raised mid-script (Ctrl-C, a failing message callback) rolls back; it never commits."""
    script = "CREATE TABLE dbo.interrupted_a (x INT);\nPRINT 'one';\nGO\nCREATE TABLE dbo.interrupted_b (x INT);\n"

    def interrupt(_message: object) -> None:
        raise KeyboardInterrupt

    import pytest

    with pytest.raises(KeyboardInterrupt):
        baseline.execute_script(script, on_message=interrupt)
    assert baseline.catalog().table("interrupted_a") is None


def test_catalog_is_read_in_three_queries_however_many_objects(deployed: SandboxTarget) -> None:
    """The whole catalog comes from at most 3 queries, with 5 objects or with 205 (issue: no per-column asks)."""
    sent: list[str] = []
    original = deployed.driver.query

    def counting(sql: str, params: object = ()) -> list[tuple[object, ...]]:
        sent.append(sql)
        return original(sql, params)  # type: ignore[arg-type]

    deployed.driver.query = counting  # type: ignore[method-assign]
    deployed.catalog()
    few = len(sent)
    for n in range(200):
        deployed.driver.run(f'CREATE TABLE "extra_{n}" ("a" INT, "b" NVARCHAR(10))')
    sent.clear()
    before = deployed.catalog_queries
    deployed.catalog()
    assert 1 <= few <= 3 and len(sent) == few
    assert deployed.catalog_queries - before == few


def test_a_failed_nested_transaction_undoes_only_its_own_work(deployed: SandboxTarget) -> None:
    import pytest

    insert = "INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation) VALUES (?, ?)"
    count = "SELECT COUNT(*) FROM dbo.MON_UpdateAudit"
    with pytest.raises(RuntimeError, match="outer"), deployed.transaction():
        deployed.execute(insert, ["outer-1", "X"])
        with pytest.raises(RuntimeError, match="inner"), deployed.transaction():
            deployed.execute(insert, ["inner", "X"])
            raise RuntimeError("inner")
        deployed.execute(insert, ["outer-2", "X"])
        assert deployed.execute("SELECT batch_id FROM dbo.MON_UpdateAudit ORDER BY audit_id") == [
            ("outer-1",), ("outer-2",)]
        raise RuntimeError("outer")
    assert deployed.execute(count) == [(0,)]  # the outer rollback still undid everything
