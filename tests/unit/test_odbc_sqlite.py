"""The ODBC SQLite target against a real driver (unixODBC + libsqliteodbc), and the target factory."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.errors import ConfigError, ScriptError
from pytest_opus.targets import open_target
from pytest_opus.targets.base import Target
from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget, odbc_error_cleaner
from pytest_opus.targets.sandbox import SandboxTarget

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DEPLOY = str(SQL / "deploy_opus_update_boards.sql")
VALIDATE = str(SQL / "validate_ddl_changes.sql")
ROLLBACK = str(SQL / "rollback_opus_update_boards.sql")
STAGING = ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems")
IN_CI = bool(os.environ.get("CI"))


def _require_sqlite_odbc() -> None:
    """Skip when pyodbc or the SQLite3 ODBC driver is missing; in CI that is a failure instead."""
    try:
        import pyodbc
    except ImportError as exc:
        missing = f"pyodbc is not usable ({exc}): pip install pyodbc; apt-get install unixodbc"
    else:
        if "SQLite3" in pyodbc.drivers():
            return
        missing = "the SQLite3 ODBC driver is not installed: apt-get install libsqliteodbc"
    if IN_CI:
        pytest.fail(f"{missing} (CI must run the ODBC tests)")
    pytest.skip(missing)


def sqlite_dsn(path: Path, extra: str = "") -> str:
    return f"Driver=SQLite3;Database={path}{extra}"


@pytest.fixture
def db_file(baseline_file: Path, tmp_path: Path) -> Path:
    """A private copy of the baseline sandbox file."""
    path = tmp_path / "odbc.sqlite"
    shutil.copyfile(baseline_file, path)
    return path


@pytest.fixture
def odbc(db_file: Path) -> Iterator[OdbcSqliteTarget]:
    """The baseline sandbox file opened through the SQLite3 ODBC driver."""
    _require_sqlite_odbc()
    target = OdbcSqliteTarget(sqlite_dsn(db_file))
    yield target
    target.close()


def sandbox_catalog(path: Path) -> Any:
    with SandboxTarget(path) as target:
        return target.catalog()


def check(target: Target, script: str) -> Any:
    result = target.run_script_file(script)
    assert result.ok, result.summary()
    return result


# -- the target over the real driver -----------------------------------------------------------


def test_open_target_picks_the_odbc_sqlite_target_from_the_dbms_name(db_file: Path) -> None:
    _require_sqlite_odbc()
    with open_target(dsn=sqlite_dsn(db_file)) as target:
        assert isinstance(target, OdbcSqliteTarget)
        assert target.kind == "odbc-sqlite" and target.persistent
        assert target.execute("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule") == [(300,)]


def test_catalog_equals_what_the_sandbox_reports_for_the_same_file(odbc: OdbcSqliteTarget, db_file: Path) -> None:
    assert odbc.catalog() == sandbox_catalog(db_file)
    check(odbc, DEPLOY)
    assert odbc.catalog() == sandbox_catalog(db_file)


def _digits(rows: list[tuple]) -> list[tuple]:
    return [tuple(str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in r)
            for r in rows]


def test_rows_read_through_odbc_equal_the_sandbox_rows(odbc: OdbcSqliteTarget, db_file: Path) -> None:
    """DATE, DATETIME2, DECIMAL and BIT come back as stored, not converted (or nulled) by the driver."""
    with SandboxTarget(db_file) as sandbox:
        for table in STAGING:
            sql = f"SELECT * FROM {table} ORDER BY stg_id"
            # sqliteodbc reports some DECIMAL(p,s) columns as text: the digits must still be exactly
            # the stored ones (never rounded, converted to a date or nulled)
            assert _digits(odbc.execute(sql)) == _digits(sandbox.execute(sql))
    rows = odbc.execute("SELECT TOP 1 [CUSTOMER EX FACTORY DATE], [FINAL FOB (USD)] "
                        "FROM dbo.STG_MON_CustMasterSchedule WHERE [CUSTOMER EX FACTORY DATE] IS NOT NULL")
    assert isinstance(rows[0][0], str)


def test_a_date_column_holding_text_that_is_no_date_is_not_read_as_null(odbc: OdbcSqliteTarget) -> None:
    ddl = "CREATE TABLE dbo.odd_dates (d DATE NULL, m DECIMAL(18,4) NULL, b BIT NULL);"
    assert odbc.execute_script(ddl).ok
    odbc.driver.run("INSERT INTO odd_dates VALUES ('not a date', 'n/a', 1)")
    assert odbc.execute("SELECT d, m, b FROM dbo.odd_dates") == [("not a date", "n/a", 1)]


def test_deploy_validate_rollback_over_odbc(odbc: OdbcSqliteTarget, db_file: Path) -> None:
    baseline = odbc.catalog()
    messages: list[str] = []
    result = odbc.run_script_file(DEPLOY, on_message=lambda m: messages.append(m.text))
    assert result.ok, result.summary()
    assert "OPUS Update Boards Phase 0 deployment complete" in messages
    deployed = odbc.catalog()
    assert deployed.table("dbo.MON_UpdateAudit") is not None

    validation = check(odbc, VALIDATE)
    [checks] = validation.result_sets
    assert checks.columns == ("check_name", "passed", "detail")
    assert checks.rows and all(row[1] == 1 for row in checks.rows)

    check(odbc, DEPLOY)  # idempotent over ODBC too
    assert odbc.catalog() == deployed

    check(odbc, ROLLBACK)
    after = odbc.catalog()
    assert after.table("dbo.MON_UpdateAudit") is None
    assert after.table(STAGING[0]) == baseline.table(STAGING[0])
    assert after.table(STAGING[1]) == baseline.table(STAGING[1])

    failed = odbc.run_script_file(VALIDATE)
    assert failed.error is not None and "checks failed" in failed.error.message
    assert sandbox_catalog(db_file) == odbc.catalog()


def test_staging_from_a_query_is_set_based_over_odbc_and_equals_the_sandbox(odbc: OdbcSqliteTarget,
                                                                           db_file: Path) -> None:
    """The one INSERT ... SELECT (with FOR JSON as json_object) runs through the real driver, and the
    staged rows equal those the in-process sandbox stages from the same query."""
    from pytest_opus.updates import UpdateOperations, load_board
    from pytest_opus.updates.operations import SET_BASED

    check(odbc, DEPLOY)
    query = ("SELECT [Item ID] AS item_id, [AAG ORDER NUMBER], [ORDER QTY], [CUSTOMER EX FACTORY DATE], "
             "[FINAL FOB (USD)] FROM dbo.MON_CustMasterSchedule WHERE [ORDER QTY] > ?")
    board = load_board(ROOT / "expectations" / "boards" / "customer_master_schedule.yaml")
    read = ("SELECT stg_monday_item_id, [AAG ORDER NUMBER], [ORDER QTY], [CUSTOMER EX FACTORY DATE], "
            "update_fields, validation_status FROM dbo.STG_MON_CustMasterSchedule "
            "WHERE update_batch_id = ? ORDER BY stg_monday_item_id")
    staged = UpdateOperations(odbc, board).stage_updates_from_query(query, "update_items", params=[100],
                                                                    batch_id="odbc-batch")
    assert staged.method == SET_BASED and staged.rows_staged > 0
    over_odbc = odbc.execute(read, ["odbc-batch"])
    odbc.close()
    with SandboxTarget(db_file) as sandbox:
        sandbox.execute("DELETE FROM dbo.STG_MON_CustMasterSchedule WHERE update_batch_id = 'odbc-batch'")
        again = UpdateOperations(sandbox, board).stage_updates_from_query(query, "update_items", params=[100],
                                                                          batch_id="odbc-batch")
        assert again.method == SET_BASED and again.rows_staged == staged.rows_staged
        in_process = sandbox.execute(read, ["odbc-batch"])
    assert [(r[0], r[1], int(r[2]), str(r[3]), r[4], r[5]) for r in over_odbc] == [
        (r[0], r[1], int(r[2]), str(r[3]), r[4], r[5]) for r in in_process]


def test_audit_rows_written_with_typed_parameters_survive_rollback(odbc: OdbcSqliteTarget) -> None:
    check(odbc, DEPLOY)
    when = dt.datetime(2025, 6, 30, 9, 15, 0)
    odbc.executemany(  # executemany over sqliteodbc: fast_executemany must stay off
        "INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation, monday_item_id, new_value, update_timestamp) "
        "VALUES (?, ?, ?, ?, ?)",
        [("B-1", "UPDATE", 9_876_543_210 + i, Decimal("12.5000"), when) for i in range(3)],
    )
    assert odbc.rowcount in (3, 1, -1)  # drivers differ on what executemany reports
    assert odbc.execute("SELECT COUNT(*) FROM dbo.MON_UpdateAudit WHERE batch_id = ?", ["B-1"]) == [(3,)]

    result = odbc.execute_script("EXEC dbo.SP_RollbackBatch @batch_id = 'B-1', @rollback_reason = N'test';")
    assert result.ok, result.summary()
    assert odbc.execute("SELECT COUNT(*) FROM dbo.MON_UpdateAudit WHERE rollback_timestamp IS NOT NULL") == [(3,)]

    check(odbc, ROLLBACK)
    backup = odbc.execute("SELECT monday_item_id, new_value, rollback_reason FROM dbo.OPUS_BackupAudit "
                          "ORDER BY monday_item_id")
    assert [row[0] for row in backup] == [9_876_543_210, 9_876_543_211, 9_876_543_212]
    assert {row[2] for row in backup} == {"test"}


def test_an_error_rolls_the_whole_script_back(odbc: OdbcSqliteTarget) -> None:
    before = odbc.catalog()
    script = (
        "CREATE TABLE dbo.opus_probe (id INT NOT NULL);\nGO\n"
        "ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD probe_col INT NULL;\nGO\n"
        "-- the failing batch\nSELECT * FROM dbo.no_such_table;\n"
    )
    result = odbc.execute_script(script, source="probe.sql")
    assert not result.ok and not result.committed
    error = result.error
    assert error is not None and error.batch == 3 and error.line is not None and error.line >= 5
    assert "no_such_table" in error.message
    for noise in ("[HY000]", "[SQLite]", "SQLExecDirect", "(1)"):
        assert noise not in error.message
    assert odbc.catalog() == before


def test_display_name_and_errors_hide_the_password(db_file: Path) -> None:
    _require_sqlite_odbc()
    with OdbcSqliteTarget(sqlite_dsn(db_file, ";PWD=s3cr3t!")) as target:
        assert "s3cr3t!" not in target.display_name and "***" in target.display_name
        result = target.execute_script("SELECT * FROM [s3cr3t!];")
        assert result.error is not None and "s3cr3t!" not in result.error.describe()


def test_cleaner_strips_the_driver_decoration_and_redacts() -> None:
    clean = odbc_error_cleaner(["hunter2"])
    error = Exception("HY000", "[HY000] [SQLite]no such table: hunter2 (1) (1) (SQLExecDirectW)")
    assert clean(error) == "no such table: ***"
    assert clean(Exception("HY000", "[HY000] [SQLite]near \"selec\": syntax error (1) (1) (SQLExecDirectW)")) == (
        'near "selec": syntax error'
    )


# -- the factory -------------------------------------------------------------------------------


def test_open_target_needs_exactly_one_database(db_file: Path) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        open_target()
    with pytest.raises(ConfigError, match="exactly one"):
        open_target(dsn="Driver=SQLite3", db_path=db_file)


def test_a_db_path_opens_a_persistent_sandbox(db_file: Path) -> None:
    with open_target(db_path=db_file) as target:
        assert isinstance(target, SandboxTarget) and target.persistent


def test_a_missing_db_path_is_an_error_unless_a_baseline_is_given(tmp_path: Path) -> None:
    missing = tmp_path / "new" / "db.sqlite"
    with pytest.raises(ConfigError, match="no sandbox database at"):
        open_target(db_path=missing)
    assert not missing.exists()
    with open_target(db_path=missing, baseline_dir=SQL / "baseline") as target:
        assert target.catalog().table(STAGING[0]) is not None


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "notes.sqlite"
    junk.write_text("these are notes, not a database\n")
    with pytest.raises(ConfigError, match="not an SQLite database"):
        open_target(db_path=junk)


def test_a_dsn_to_another_dbms_opens_the_sql_server_target(monkeypatch: pytest.MonkeyPatch) -> None:
    _require_sqlite_odbc()
    import pyodbc

    from pytest_opus.targets import _odbc
    from pytest_opus.targets.sqlserver import SqlServerTarget

    class FakeConnection:
        autocommit = False
        closed = False

        def getinfo(self, what: int) -> str:
            assert what == pyodbc.SQL_DBMS_NAME
            return "Microsoft SQL Server"

        def close(self) -> None:
            self.closed = True

    fake = FakeConnection()
    monkeypatch.setattr(_odbc, "connect", lambda dsn, **kw: fake)
    target = open_target(dsn="Driver={ODBC Driver 18 for SQL Server};Server=sql01;UID=u;PWD=pw")
    assert isinstance(target, SqlServerTarget)
    assert target.display_name.endswith("PWD=***") and "=pw" not in target.display_name
    target.close()
    assert fake.closed


def test_pyodbc_is_imported_only_for_a_dsn(db_file: Path) -> None:
    code = (
        "import sys\n"
        "from pytest_opus.targets import open_target\n"
        f"t = open_target(db_path={str(db_file)!r})\n"
        "t.run_script_file(sys.argv[1]); t.catalog(); t.close()\n"
        "assert 'pyodbc' not in sys.modules, 'pyodbc was imported for a sandbox'\n"
    )
    done = subprocess.run([sys.executable, "-c", code, DEPLOY], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_identifiers_reach_sqliteodbc_in_brackets_or_double_quotes() -> None:
    """sqliteodbc miscounts `?` after a backtick identifier holding a quote: the driver gets [...] where it
    can (never a string literal) and "..." for a name with a quote in it."""
    from pytest_opus.targets.odbc_sqlite import double_quoted

    assert double_quoted("SELECT `CUSTOMER'S ALT PO`, ? FROM `t` WHERE a = '`x`' AND b = ?") == (
        "SELECT \"CUSTOMER'S ALT PO\", ? FROM [t] WHERE a = '`x`' AND b = ?")
    assert double_quoted('SELECT `a"b`, `c``d`') == 'SELECT "a""b", [c`d]'
    assert double_quoted("SELECT 'it''s `not` an identifier'") == "SELECT 'it''s `not` an identifier'"


def test_a_misspelt_column_over_odbc_is_an_error_not_a_string(odbc: OdbcSqliteTarget) -> None:
    """Issue 13: `SET NOTES = NOTEZ` must not write the text 'NOTEZ' into the rows."""
    before = odbc.execute("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE NOTES = 'NOTEZ'")
    with pytest.raises(ScriptError, match="NOTEZ"):
        odbc.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET NOTES = NOTEZ WHERE stg_id = 1")
    assert odbc.execute("SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE NOTES = 'NOTEZ'") == before
