"""Issue 9's scenarios, each on the sandbox and over ODBC SQLite: what deploy, rollback, restore and
adopt do on databases like our users' (baseline, older deployments, staged rows, upstream index
names), asserted on the catalog and on every row value before and after.

Every scenario runs the scripts the way opus-sql does (`ledger.run_recorded`: recorded, locked).
docs/dba.md's table of rollback scenarios points at these tests by name.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from test_odbc_sqlite import _require_sqlite_odbc

from pytest_opus.catalog import Catalog
from pytest_opus.effects import LEDGER_KEYS
from pytest_opus.ledger import RecordedRun, read_ledger, run_recorded
from pytest_opus.status import read_status
from pytest_opus.targets.base import Target
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import UpdateOperations
from pytest_opus.updates.board import BoardMetadata
from pytest_opus.updates.staging import UPDATE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DEPLOY, ROLLBACK, RESTORE, ADOPT = (SQL / f"{name}_opus_update_boards.sql"
                                    for name in ("deploy", "rollback", "restore", "adopt"))
OLDER = ROOT / "tests" / "data" / "older_deployment.sql"
STAGING = ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems")
AUDIT = "dbo.MON_UpdateAudit"


@dataclass(frozen=True)
class Snapshot:
    """The catalog and every row of every table (the ledger's own tables aside, unless asked)."""

    catalog: Catalog
    rows: dict[str, list[tuple[Any, ...]]]

    def values(self, table: str, column: str) -> dict[Any, Any]:
        """stg_id -> non-NULL value of `column` in `table` (empty when the column is gone)."""
        t = self.catalog.table(table)
        if t is None or t.column(column) is None:
            return {}
        names = [c.name.lower() for c in t.columns]
        key, at = names.index("stg_id"), names.index(column.lower())
        return {row[key]: row[at] for row in self.rows[f"{t.schema}.{t.name}".lower()] if row[at] is not None}


def snapshot(target: Target, *, ledger: bool = False) -> Snapshot:
    catalog = target.catalog()
    if not ledger:
        catalog = replace(catalog, tables={k: v for k, v in catalog.tables.items() if k not in LEDGER_KEYS})
    rows = {}
    for name, table in catalog.tables.items():
        columns = ", ".join(f"[{c.name}]" for c in table.columns)
        rows[name] = sorted(target.execute(f"SELECT {columns} FROM {table.schema}.[{table.name}]"), key=repr)
    return Snapshot(catalog, rows)


def run(target: Target, script: Path, **kwargs: Any) -> RecordedRun:
    data = script.read_bytes()
    recorded = run_recorded(target, data.decode("utf-8"), source=str(script), data=data, lock_wait=5, **kwargs)
    return recorded


def ok(target: Target, script: Path, **kwargs: Any) -> RecordedRun:
    recorded = run(target, script, **kwargs)
    assert recorded.result.ok, recorded.result.summary()
    return recorded


def printed(recorded: RecordedRun) -> str:
    return "\n".join(m.text for m in recorded.result.messages)


# -- the two targets -----------------------------------------------------------------------------


@pytest.fixture(params=["sandbox", "odbc-sqlite"])
def opener(request: pytest.FixtureRequest) -> Callable[[Path], Target]:
    """Opens a database file as the sandbox, or through unixODBC and the SQLite ODBC driver."""
    if request.param == "sandbox":
        return SandboxTarget
    _require_sqlite_odbc()
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    return lambda path: OdbcSqliteTarget(f"Driver=SQLite3;Database={path}")


@pytest.fixture
def database(baseline_file: Path, tmp_path: Path, opener: Callable[[Path], Target]) -> Iterator[Target]:
    """A private copy of the baseline, opened by `opener`."""
    path = tmp_path / "scenario.sqlite"
    shutil.copyfile(baseline_file, path)
    target = opener(path)
    try:
        yield target
    finally:
        target.close()


def older_deployment(target: Target, *, values: bool = True, upstream_index: bool = False) -> None:
    """The older scripts' state; with `values`, staged update values that must survive anything."""
    result = target.execute_script(OLDER.read_text(encoding="utf-8"), source=str(OLDER))
    assert result.ok, result.summary()
    if values:
        target.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET update_batch_id = 'OLD-7', "
                       "update_fields = N'{\"status\":\"Done\"}', validation_status = 'VALID' WHERE stg_id <= 6")
        target.execute("INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation, monday_item_id, old_value, "
                       "new_value) VALUES ('OLD-7', 'UPDATE', 42, N'a', N'b')")
    if upstream_index:
        script = ("DROP INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit;\n"
                  "CREATE INDEX IX_MON_UpdateAudit_BatchId ON dbo.MON_UpdateAudit (batch_id);")
        assert target.execute_script(script).ok


def stage_and_process(target: Target, board: BoardMetadata) -> str:
    ops = UpdateOperations(target, board)
    staged = ops.stage_updates_from_query(
        "SELECT TOP (12) [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], 'SHIPPED' AS [ORDER STATUS] "
        "FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]", "update_items")
    ops.validate_staged_updates(staged.batch_id)
    ops.process_staged_updates(staged.batch_id, dry_run=True)
    return staged.batch_id


# -- the scenarios -------------------------------------------------------------------------------


def test_deploy_records_what_it_created_with_the_script_checksum(database: Target) -> None:
    first = ok(database, DEPLOY)
    ledger = read_ledger(database)
    [run_row] = ledger.runs
    assert run_row.run_id == first.run_id and run_row.outcome == "committed"
    import hashlib

    assert run_row.sha256 == hashlib.sha256(DEPLOY.read_bytes()).hexdigest()
    assert run_row.tool_version and run_row.host and run_row.finished
    created = {o.label for o in ledger.objects if o.ownership == "created"}
    assert len(created) == 27 and not [o for o in ledger.objects if o.ownership != "created"]
    assert {f"column {t}.{c}" for t in STAGING for c in UPDATE_COLUMNS} <= created
    # a second deploy changes nothing, and records its run with no objects
    second = ok(database, DEPLOY)
    again = read_ledger(database)
    assert len(again.runs) == 2 and again.objects == ledger.objects
    assert second.run_id == again.runs[-1].run_id


def test_a_failed_run_is_recorded_as_failed_and_changes_nothing_else(database: Target, tmp_path: Path) -> None:
    ok(database, DEPLOY)
    before = snapshot(database)
    broken = tmp_path / "deploy_opus_update_boards.sql"
    broken.write_text(DEPLOY.read_text(encoding="utf-8") + "\nSELECT * FROM dbo.NoSuchTable;\nGO\n",
                      encoding="utf-8")
    failed = run(database, broken)
    assert not failed.result.ok
    assert snapshot(database) == before
    last = read_ledger(database).runs[-1]
    assert (last.run_id, last.outcome) == (failed.run_id, "failed")
    assert "NoSuchTable" in (last.detail or "")


def test_rollback_on_a_never_deployed_database_removes_nothing(database: Target) -> None:
    before = snapshot(database)
    recorded = ok(database, ROLLBACK)
    assert "nothing" in printed(recorded).lower() or "may remove 0" in printed(recorded)
    assert snapshot(database) == before


def test_rollback_twice_second_removes_nothing(database: Target, board: BoardMetadata) -> None:
    before = snapshot(database)
    ok(database, DEPLOY)
    stage_and_process(database, board)
    ok(database, ROLLBACK)
    after_first = snapshot(database)
    assert after_first.catalog == before.catalog
    second = ok(database, ROLLBACK)
    assert "may remove 0 object(s)" in printed(second)
    assert snapshot(database) == after_first


def test_rollback_after_staging_backs_up_every_value_and_restore_puts_them_back(
        database: Target, board: BoardMetadata) -> None:
    ok(database, DEPLOY)
    stage_and_process(database, board)
    staged = snapshot(database)
    values = {(t, c): staged.values(t, c) for t in STAGING for c in UPDATE_COLUMNS}
    assert sum(len(v) for v in values.values()) > 0
    audit_rows = staged.rows[AUDIT.lower()]
    assert audit_rows

    rollback = ok(database, ROLLBACK)
    backed = {(f"dbo.{t}", c, k): v for t, c, k, v in database.execute(
        "SELECT table_name, column_name, row_key, value FROM dbo.OPUS_BackupValue WHERE run_id = ?",
        (rollback.run_id,))}
    assert backed == {(t, c, k): v for (t, c), cells in values.items() for k, v in cells.items()}
    assert database.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupAudit WHERE run_id = ?",
                            (rollback.run_id,)) == [(len(audit_rows),)]

    # restore needs the columns back: before a redeploy it fails and changes nothing
    rolled_back = snapshot(database, ledger=True)
    early = run(database, RESTORE)
    assert not early.result.ok and "Run deploy_opus_update_boards.sql first" in str(early.result.error)
    assert replace(snapshot(database, ledger=True), rows={}) == replace(rolled_back, rows={})

    ok(database, DEPLOY)
    restored = ok(database, RESTORE)
    assert "Restored" in printed(restored)
    assert snapshot(database) == staged  # every value, every audit row, exactly
    assert read_ledger(database).backed_up_values == 0
    again = ok(database, RESTORE)
    assert "Nothing to restore" in printed(again)
    assert snapshot(database) == staged


def test_rollback_on_an_older_deployment_removes_nothing_it_did_not_create(database: Target) -> None:
    older_deployment(database)
    before = snapshot(database)
    deploy = ok(database, DEPLOY)
    ledger = read_ledger(database)
    created = {o.label for o in ledger.objects if o.ownership == "created"}
    assert created == {f"index {t}.IX_{t.split('.')[1]}_update_batch_id" for t in STAGING}
    assert deploy.run_id is not None
    rollback = ok(database, ROLLBACK)
    text = printed(rollback)
    assert "Kept, not created by this deployment" in text and "update_batch_id (found by run" in text
    assert snapshot(database) == before  # only the two indexes deploy created are gone again


def test_adopting_an_older_deployment_lets_rollback_remove_it_and_restore_return_it(database: Target) -> None:
    older_deployment(database)
    ok(database, DEPLOY)
    with_indexes = snapshot(database)
    ok(database, ADOPT)
    rollback = ok(database, ROLLBACK)
    after = snapshot(database)
    for table in STAGING:
        columns = {c.name for c in after.catalog.table(table).columns}  # type: ignore[union-attr]
        assert not columns & set(UPDATE_COLUMNS)
        assert "board_id" in columns  # never the tool's
    assert after.catalog.table(AUDIT) is None
    backed = database.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = ?", (rollback.run_id,))
    assert backed == [(sum(len(with_indexes.values(t, c)) for t in STAGING for c in UPDATE_COLUMNS),)]
    ok(database, DEPLOY)
    ok(database, RESTORE)
    restored = snapshot(database)
    for table in STAGING:
        for column in UPDATE_COLUMNS:
            assert restored.values(table, column) == with_indexes.values(table, column)
    assert restored.rows[AUDIT.lower()] == with_indexes.rows[AUDIT.lower()]


def test_adopt_needs_a_ledger(database: Target) -> None:
    older_deployment(database)
    before = snapshot(database)
    refused = run(database, ADOPT)
    assert not refused.result.ok and "run deploy_opus_update_boards.sql first" in str(refused.result.error)
    assert snapshot(database) == before


def test_rollback_on_a_half_deployed_database_skips_what_is_missing(database: Target) -> None:
    ok(database, DEPLOY)
    # someone removed part of the deployment by hand
    assert database.execute_script(
        "DROP VIEW dbo.VW_UpdateOperationSummary;\n"
        "ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP CONSTRAINT DF_STG_MON_CustMasterSchedule_validation_status;\n"
        "ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN validation_status;").ok
    ok(database, ROLLBACK)
    catalog = database.catalog()
    for table in STAGING:
        assert not {c.name for c in catalog.table(table).columns} & set(UPDATE_COLUMNS)  # type: ignore[union-attr]
    assert catalog.table(AUDIT) is None and catalog.procedure("dbo.SP_RollbackBatch") is None


def test_upstream_index_names_get_no_duplicate(database: Target) -> None:
    older_deployment(database, upstream_index=True)
    deploy = ok(database, DEPLOY)
    assert "already present as IX_MON_UpdateAudit_BatchId; no duplicate created" in printed(deploy)
    audit = database.catalog().table(AUDIT)
    assert audit is not None
    on_batch = [i.name for i in audit.indexes if [c.lower() for c in i.columns] == ["batch_id"]]
    assert on_batch == ["IX_MON_UpdateAudit_BatchId"]
    # and the DBA's validation script accepts it, naming the difference
    validate = run(database, SQL / "validate_ddl_changes.sql")
    assert validate.result.ok, validate.result.summary()
    rows = {r[0]: r for r in validate.result.result_sets[0].rows}
    assert rows["index IX_MON_UpdateAudit_batch_id"][2].startswith("present as IX_MON_UpdateAudit_BatchId")


def test_a_scoped_rollback_removes_only_what_that_deploy_run_created(database: Target) -> None:
    older_deployment(database)
    before = snapshot(database)
    deploy = ok(database, DEPLOY)
    ok(database, ADOPT)  # the older objects are now owned too, but not by the deploy run
    scoped = ok(database, ROLLBACK, scope_run_id=deploy.run_id)
    assert f"limited to what run {deploy.run_id} created" in printed(scoped)
    assert snapshot(database) == before


def test_status_shows_runs_checksums_ownership_and_drift(database: Target, tmp_path: Path) -> None:
    older_deployment(database, values=False)
    ok(database, DEPLOY)
    status = read_status(database, SQL, ROOT / "expectations")
    assert not status.problems
    text = "\n".join(status.lines())
    assert "deploy_opus_update_boards.sql" in text and "matches sql/deploy_opus_update_boards.sql" in text
    assert "found (kept by every rollback): dbo.STG_MON_CustMasterSchedule (7 columns" in text

    # a changed script and drift both show, and make it a problem
    changed_sql = tmp_path / "sql"
    shutil.copytree(SQL, changed_sql)
    (changed_sql / DEPLOY.name).write_text(DEPLOY.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    database.execute_script("ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN board_id;\n"
                            "DROP VIEW dbo.VW_UpdateOperationSummary;")
    status = read_status(database, changed_sql, ROOT / "expectations")
    assert any(p.startswith("checksum: deploy_opus_update_boards.sql") for p in status.problems)
    assert any("VW_UpdateOperationSummary" in p for p in status.problems)
    assert "CHANGED since" in "\n".join(status.lines())


def test_status_after_a_full_rollback_compares_with_the_after_rollback_expectations(database: Target) -> None:
    ok(database, DEPLOY)
    ok(database, ROLLBACK)
    status = read_status(database, SQL, ROOT / "expectations")
    assert status.expected_state == "after_rollback"
    assert not status.problems, status.problems


def test_status_without_expectations_still_shows_the_ledger_and_says_drift_is_unchecked(
        database: Target, tmp_path: Path) -> None:
    ok(database, DEPLOY)
    status = read_status(database, SQL, tmp_path / "nowhere")
    text = "\n".join(status.lines())
    assert "ledger: 1 run(s); 27 object(s) owned" in text
    assert "drift: not checked" in text and status.problems == ["drift not checked: the expectations could not be read"]


def test_restore_never_writes_into_a_row_that_reuses_an_stg_id(database: Target, board: BoardMetadata) -> None:
    """After a rollback the staged rows may go and their stg_ids be handed out again (TRUNCATE resets the
    IDENTITY on SQL Server): a backup is for its own row (stg_id and stg_batch_id), not for whatever row
    has that number now."""
    ok(database, DEPLOY)
    stage_and_process(database, board)
    rollback = ok(database, ROLLBACK)
    keys = [k for (k,) in database.execute(
        "SELECT DISTINCT row_key FROM dbo.OPUS_BackupValue WHERE run_id = ? AND table_name = ?",
        (rollback.run_id, "STG_MON_CustMasterSchedule"))]
    assert keys
    low = min(keys)
    reuse = (f"DELETE FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id >= {low};\n"
             "SET IDENTITY_INSERT dbo.STG_MON_CustMasterSchedule ON;\n"
             "INSERT INTO dbo.STG_MON_CustMasterSchedule (stg_id, stg_batch_id, stg_monday_item_id, stg_status)\n"
             f"SELECT stg_id + {low - 1}, NEWID(), stg_monday_item_id, 'PENDING'\n"
             f"  FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id BETWEEN 1 AND {len(keys)};\n"
             "SET IDENTITY_INSERT dbo.STG_MON_CustMasterSchedule OFF;")
    assert database.execute_script(reuse).ok
    ok(database, DEPLOY)
    restored = ok(database, RESTORE)
    assert "whose row is gone" in printed(restored)
    assert database.execute(f"SELECT COUNT(update_batch_id) FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id >= {low}"
                            ) == [(0,)]
    pending = database.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE run_id = ? AND table_name = ? "
                               "AND restored_run_id IS NULL", (rollback.run_id, "STG_MON_CustMasterSchedule"))
    assert pending[0][0] > 0  # kept in the backup, not lost
