"""The SQL Server target: its pure parts directly, its batch loop against a real ODBC driver (SQLite's)."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.batches import Batch
from pytest_opus.errors import ConfigError, ScriptError
from pytest_opus.targets import _odbc
from pytest_opus.targets.sqlserver import (
    DESCRIBE_QUERY,
    SQLSERVER_TRANSACTION,
    SessionStatements,
    SqlServerTarget,
    TransactionStatements,
    message_kind,
    run_batches,
)
from pytest_opus.targets.sqlserver_catalog import (
    COLUMNS_QUERY,
    CONSTRAINTS_QUERY,
    PARAMETERS_QUERY,
    ColumnRow,
    ConstraintRow,
    ParameterRow,
    build_catalog,
)

IN_CI = bool(os.environ.get("CI"))
MS_PREFIX = "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]"


def pyodbc_error(state: str, text: str, native: int, function: str = "SQLExecDirectW") -> str:
    """An exception message exactly as pyodbc formats one from a SQL Server diagnostic record."""
    return f"[{state}] {MS_PREFIX}{text} ({native}) ({function})"


# -- diagnostics and messages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{MS_PREFIX}Deploying columns", "Deploying columns"),
        ("[unixODBC][Driver Manager]Data source name not found", "Data source name not found"),
        ("[SQLite]no such table: t", "no such table: t"),
        ("[dbo].[t] is not a valid name", "[dbo].[t] is not a valid name"),  # a quoted name, not a tag
        ("plain text", "plain text"),
    ],
)
def test_vendor_prefix_is_stripped(raw: str, expected: str) -> None:
    assert _odbc.strip_vendor_prefix(raw) == expected


def test_error_text_is_split_into_records() -> None:
    text = (
        pyodbc_error("42S02", "Invalid object name 'dbo.nope'.", 208)
        + f"; [42000] {MS_PREFIX}Statement(s) could not be prepared. (8180)"
    )
    records = _odbc.parse_error_text(text)
    assert [(r.state, r.native, r.text) for r in records] == [
        ("42S02", 208, "Invalid object name 'dbo.nope'."),
        ("42000", 8180, "Statement(s) could not be prepared."),
    ]
    # SQLite's driver puts its own "(1)" in the text; only the last number is the native one.
    (sqlite,) = _odbc.parse_error_text("[HY000] [SQLite]no such table: nope (1) (1) (SQLExecDirectW)")
    assert (sqlite.state, sqlite.native, sqlite.text) == ("HY000", 1, "no such table: nope (1)")
    (odd,) = _odbc.parse_error_text("something else entirely")
    assert odd.text == "something else entirely"


@pytest.mark.parametrize(
    ("entry", "kind", "text"),
    [
        (("[01000] (0)", f"{MS_PREFIX}Column added"), "print", "Column added"),
        (("[01000] (50000)", f"{MS_PREFIX}RAISERROR at severity 10"), "print", "RAISERROR at severity 10"),
        (("[01000] (5701)", f"{MS_PREFIX}Changed database context to 'dms'."), "info", None),
        (("[01003] (8153)", f"{MS_PREFIX}Null value is eliminated by an aggregate."), "warning", None),
        (("[01004] (0)", f"{MS_PREFIX}String data, right truncation"), "warning", None),
    ],
)
def test_messages_are_classified(entry: tuple[str, str], kind: str, text: str | None) -> None:
    diagnostic = _odbc.parse_message(entry)
    assert message_kind(diagnostic) == kind
    assert not diagnostic.text.startswith("[")
    if text is not None:
        assert diagnostic.text == text


# -- catalog assembly from hand-made rows ------------------------------------------------------


def col(object_id: int, schema: str, name: str, column: str, column_id: int, type_name: str,
        max_length: int, *, kind: str = "U ", precision: int = 0, scale: int = 0, nullable: bool = True,
        identity: bool = False, default: str | None = None, default_name: str | None = None) -> ColumnRow:
    return ColumnRow(object_id, schema, name, kind, column, column_id, type_name, max_length, precision,
                     scale, nullable, identity, default, default_name)


def sample_rows() -> tuple[list[ColumnRow], list[ConstraintRow], list[ParameterRow]]:
    columns = [
        col(10, "dbo", "MON_UpdateAudit", "audit_id", 1, "int", 4, precision=10, nullable=False,
            identity=True),
        col(10, "dbo", "MON_UpdateAudit", "batch_id", 2, "varchar", 50, nullable=False),
        # column 3 was dropped: column_ids keep the gap, ordinals do not
        col(10, "dbo", "MON_UpdateAudit", "old_value", 4, "nvarchar", -1),
        col(10, "dbo", "MON_UpdateAudit", "rollback_reason", 5, "nvarchar", 1000),
        col(10, "dbo", "MON_UpdateAudit", "source_system", 6, "varchar", 50,
            default="('OPUS_UPDATE_BOARDS')", default_name="DF_MON_UpdateAudit_source_system"),
        col(10, "dbo", "MON_UpdateAudit", "update_timestamp", 7, "DATETIME2", 8, precision=27, scale=7,
            default="(sysutcdatetime())", default_name="DF_MON_UpdateAudit_update_timestamp"),
        # the same table name in another schema, with different columns
        col(20, "stage", "MON_UpdateAudit", "note", 1, "nvarchar", 200),
        col(20, "stage", "MON_UpdateAudit", "amount", 2, "decimal", 9, precision=18, scale=4),
        col(30, "dbo", "VW_UpdateOperationSummary", "batch_id", 1, "varchar", 50, kind="V "),
        col(30, "dbo", "VW_UpdateOperationSummary", "total_updates", 2, "int", 4, kind="V ", precision=10),
    ]
    constraints = [
        ConstraintRow("index", 10, "PK_MON_UpdateAudit", 1, 1, 1, "audit_id", True, True, None),
        ConstraintRow("index", 10, "IX_MON_UpdateAudit_batch", 2, 2, 2, "update_timestamp", False, False,
                      None),
        ConstraintRow("index", 10, "IX_MON_UpdateAudit_batch", 2, 1, 1, "batch_id", False, False, None),
        ConstraintRow("check", 10, "CK_MON_UpdateAudit_op", None, None, None, None, None, None,
                      "([update_operation]='CREATE')"),
        ConstraintRow("index", 20, "IX_stage_note", 2, 1, 1, "note", True, False, None),
    ]
    parameters = [
        ParameterRow(40, "dbo", "SP_RollbackBatch", "@batch_id", 1, "varchar", 50, 0, 0, False),
        ParameterRow(40, "dbo", "SP_RollbackBatch", "@rollback_reason", 2, "nvarchar", 1000, 0, 0, False),
        ParameterRow(50, "dbo", "SP_NoParameters", None, None, None, None, None, None, None),
    ]
    return columns, constraints, parameters


def test_catalog_assembly_keeps_schemas_apart_and_reports_types_like_information_schema() -> None:
    catalog = build_catalog(*sample_rows())

    audit = catalog.table("dbo.MON_UpdateAudit")
    staged = catalog.table("stage.MON_UpdateAudit")
    assert audit is not None and staged is not None
    assert [c.name for c in audit.columns] == [
        "audit_id", "batch_id", "old_value", "rollback_reason", "source_system", "update_timestamp"
    ]
    assert [c.ordinal for c in audit.columns] == [1, 2, 3, 4, 5, 6]
    assert [c.name for c in staged.columns] == ["note", "amount"]

    by_name = {c.name: c for c in audit.columns}
    assert by_name["audit_id"].type_text == "int"
    assert (by_name["audit_id"].identity, by_name["audit_id"].nullable) == (True, False)
    assert by_name["audit_id"].max_length is None and by_name["audit_id"].precision is None
    assert by_name["old_value"].max_length == -1
    assert by_name["old_value"].type_text == "nvarchar(max)"
    assert by_name["rollback_reason"].type_text == "nvarchar(500)"  # 1000 bytes
    assert by_name["batch_id"].type_text == "varchar(50)"
    assert by_name["update_timestamp"].type_text == "datetime2"  # lower-cased, no precision/scale
    assert by_name["source_system"].default == "('OPUS_UPDATE_BOARDS')"
    assert by_name["source_system"].default_name == "DF_MON_UpdateAudit_source_system"
    assert staged.columns[0].type_text == "nvarchar(100)"  # 200 bytes
    assert staged.columns[1].type_text == "decimal(18,4)"

    assert audit.primary_key is not None and audit.primary_key.columns == ("audit_id",)
    index = audit.index("ix_mon_updateaudit_batch")
    assert index is not None and index.columns == ("batch_id", "update_timestamp")  # key order
    assert [c.name for c in audit.checks] == ["CK_MON_UpdateAudit_op"]
    assert [i.name for i in staged.indexes] == ["IX_stage_note"] and staged.checks == ()

    view = catalog.view("VW_UpdateOperationSummary")
    assert view is not None and [c.name for c in view.columns] == ["batch_id", "total_updates"]
    assert catalog.table("VW_UpdateOperationSummary") is None

    rollback = catalog.procedure("dbo.SP_RollbackBatch")
    assert rollback is not None
    assert [(p.name, p.type_text) for p in rollback.parameters] == [
        ("@batch_id", "varchar(50)"), ("@rollback_reason", "nvarchar(500)")
    ]
    bare = catalog.procedure("SP_NoParameters")
    assert bare is not None and bare.parameters == ()


# -- the batch loop, against a scripted DB-API connection ----------------------------------------


class FakeDbError(Exception):
    """Stands in for pyodbc.Error: args are (sqlstate, message) in pyodbc's format."""


class Step:
    """One thing a fake batch returns: a result set, a row count, messages, or an error."""

    def __init__(self, *, columns: tuple[str, ...] = (), rows: list[tuple[Any, ...]] | None = None,
                 rowcount: int = -1, messages: list[tuple[str, str]] | None = None,
                 error: Exception | None = None) -> None:
        self.columns, self.rows, self.rowcount = columns, rows or [], rowcount
        self.messages, self.error = messages or [], error


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.description: tuple[tuple[str], ...] | None = None
        self.rowcount = -1
        self.messages: list[tuple[str, str]] = []
        self._rows: list[tuple[Any, ...]] = []
        self._steps: Iterator[Step] = iter(())

    def execute(self, sql: str) -> None:
        self._steps = iter(self.connection.respond(sql))
        self.nextset()

    def nextset(self) -> bool:
        step = next(self._steps, None)
        if step is None:
            return False
        if step.error is not None:
            raise step.error
        self.description = tuple((c,) for c in step.columns) or None
        self._rows, self.rowcount, self.messages = step.rows, step.rowcount, step.messages
        return True

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...]:
        return self._rows[0]

    def close(self) -> None:
        pass


class FakeConnection:
    """Answers SQL Server's transaction statements with a real @@TRANCOUNT and batches from a table."""

    def __init__(self, batches: dict[str, list[Step]], trancount_effect: dict[str, int] | None = None):
        self.batches = batches
        self.trancount_effect = trancount_effect or {}  # batch text -> change it makes to @@TRANCOUNT
        self.trancount = 0
        self.autocommit = False
        self.sent: list[str] = []

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def respond(self, sql: str) -> list[Step]:
        self.sent.append(sql)
        if sql == SQLSERVER_TRANSACTION.begin:
            self.trancount += 1
        elif sql == SQLSERVER_TRANSACTION.commit:
            self.trancount -= 1
        elif sql == SQLSERVER_TRANSACTION.rollback:
            self.trancount = 0
        elif sql == SQLSERVER_TRANSACTION.depth:
            return [Step(columns=("",), rows=[(self.trancount,)])]
        else:
            self.trancount += self.trancount_effect.get(sql, 0)
            return self.batches[sql]
        return [Step()]


def batches(*texts: str) -> list[Batch]:
    """Batches as the splitter would give them for texts separated by single GO lines."""
    line, out = 1, []
    for text in texts:
        out.append(Batch(text, line))
        line += text.count("\n") + 2
    return out


def test_an_error_after_results_and_messages_is_caught_and_nothing_is_lost() -> None:
    connection = FakeConnection({
        "PRINT 'one'": [Step(messages=[("[01000] (0)", f"{MS_PREFIX}one")])],
        "SELECT 1 AS n\nPRINT 'two'\nRAISERROR('boom', 16, 1)": [
            Step(columns=("n",), rows=[(1,)]),
            Step(messages=[("[01000] (0)", f"{MS_PREFIX}two")]),
            Step(error=FakeDbError("42000", pyodbc_error("42000", "boom", 50000, "SQLMoreResults"))),
        ],
    })
    seen: list[str] = []
    result = run_batches(
        connection,
        batches("PRINT 'one'", "SELECT 1 AS n\nPRINT 'two'\nRAISERROR('boom', 16, 1)"),
        db_error=FakeDbError,
        source="deploy.sql",
        on_message=lambda m: seen.append(m.text),
    )
    assert not result.ok and not result.committed
    assert seen == ["one", "two"]
    assert [m.kind for m in result.messages] == ["print", "print"]
    assert result.batches[1].result_sets[0].rows == [(1,)]
    assert result.error is not None
    assert (result.error.source, result.error.batch, result.error.line) == ("deploy.sql", 2, 3)
    assert result.error.message == "boom" and result.error.number == 50000
    assert connection.sent[-1] == SQLSERVER_TRANSACTION.rollback
    assert SQLSERVER_TRANSACTION.commit not in connection.sent
    assert connection.trancount == 0 and connection.autocommit is False  # restored


def test_each_batch_is_handed_over_before_the_next_is_sent() -> None:
    """opus-sql's streamed output on SQL Server: a batch is told of (with its rows, and a failed one
    too) before the next batch goes to the server."""
    connection = FakeConnection({
        "SELECT 1 AS n": [Step(columns=("n",), rows=[(1,)])],
        "SELECT 2 AS n": [Step(columns=("n",), rows=[(2,)])],
        "RAISERROR('boom', 16, 1)": [
            Step(error=FakeDbError("42000", pyodbc_error("42000", "boom", 50000, "SQLExecDirectW")))
        ],
    })
    seen: list[tuple[int, list[Any], int]] = []
    result = run_batches(
        connection, batches("SELECT 1 AS n", "SELECT 2 AS n", "RAISERROR('boom', 16, 1)"), db_error=FakeDbError,
        on_batch=lambda b: seen.append((b.number, [r.rows for r in b.result_sets], len(connection.sent))),
    )
    assert not result.ok and [(n, rows) for n, rows, _ in seen] == [(1, [[(1,)]]), (2, [[(2,)]]), (3, [])]
    sent_after = [count for _, _, count in seen]
    assert sent_after == sorted(sent_after) and len(set(sent_after)) == 3  # one more statement sent each time
    before_first = connection.sent[:sent_after[0]]  # what had been sent when batch 1 was handed over
    assert "SELECT 1 AS n" in before_first and "SELECT 2 AS n" not in before_first


def test_a_print_inside_the_exception_stays_a_message_and_secrets_are_redacted() -> None:
    text = (
        pyodbc_error("01000", "connecting with s3cr3t!", 0)
        + f"; [28000] {MS_PREFIX}Login failed, password s3cr3t! rejected (18456)"
    )
    connection = FakeConnection({"EXEC x": [Step(error=FakeDbError("01000", text))]})
    result = run_batches(
        connection, batches("EXEC x"), db_error=FakeDbError, clean=lambda s: s.replace("s3cr3t!", "***")
    )
    assert [(m.kind, m.text) for m in result.messages] == [("print", "connecting with ***")]
    assert result.error is not None and "s3cr3t!" not in str(result.error)
    assert result.error.number == 18456


def test_go_repeat_runs_the_batch_again_and_a_balanced_script_commits() -> None:
    connection = FakeConnection(
        {"INSERT t DEFAULT VALUES": [Step(rowcount=1)], "BEGIN TRAN\nCOMMIT": [Step()]},
        trancount_effect={"BEGIN TRAN\nCOMMIT": 0},
    )
    script = [Batch("INSERT t DEFAULT VALUES", 1, repeat=3), Batch("BEGIN TRAN\nCOMMIT", 3)]
    result = run_batches(connection, script, db_error=FakeDbError)
    assert result.ok and result.committed
    assert connection.sent.count("INSERT t DEFAULT VALUES") == 3
    assert result.batches[0].rowcount == 3
    assert connection.sent[-1] == SQLSERVER_TRANSACTION.commit and connection.trancount == 0


def test_a_batch_that_commits_the_runners_transaction_fails_by_name() -> None:
    connection = FakeConnection(
        {"CREATE TABLE a (x int)": [Step()], "\nCOMMIT": [Step()], "CREATE TABLE b (x int)": [Step()]},
        trancount_effect={"\nCOMMIT": -1},
    )
    result = run_batches(
        connection, batches("CREATE TABLE a (x int)", "\nCOMMIT", "CREATE TABLE b (x int)"),
        db_error=FakeDbError, source="s.sql",
    )
    assert result.error is not None and not result.committed
    assert (result.error.batch, result.error.line) == (2, 4)  # the COMMIT's own line, not the blank one
    assert "ended the script's transaction" in result.error.message
    assert "CREATE TABLE b (x int)" not in connection.sent  # stopped there


def test_a_script_that_leaves_a_transaction_open_is_rolled_back() -> None:
    connection = FakeConnection(
        {"SELECT 1": [Step(columns=("",), rows=[(1,)])], "BEGIN TRAN": [Step()]},
        trancount_effect={"BEGIN TRAN": 1},
    )
    result = run_batches(connection, batches("SELECT 1", "BEGIN TRAN", "SELECT 1"), db_error=FakeDbError)
    assert result.error is not None and not result.committed
    assert result.error.batch == 2 and "left 1 transaction(s) open" in result.error.message
    assert connection.sent[-1] == SQLSERVER_TRANSACTION.rollback and connection.trancount == 0


def test_an_empty_script_is_an_error_and_sends_nothing() -> None:
    connection = FakeConnection({})
    result = run_batches(connection, [], db_error=FakeDbError, source="empty.sql")
    assert result.error is not None and "holds no SQL" in result.error.message
    assert connection.sent == []


# -- against a real ODBC driver: unixODBC + Debian's libsqliteodbc -------------------------------


def _pyodbc() -> Any:
    """pyodbc, or a skip naming what to install; in CI a missing piece is a failure, not a skip."""
    try:
        import pyodbc
    except ImportError as exc:
        if IN_CI:
            raise
        pytest.skip(f"pyodbc is not usable ({exc}): pip install pyodbc; apt-get install unixodbc")
    return pyodbc


@pytest.fixture
def sqlite_dsn(tmp_path: Path) -> str:
    if "SQLite3" not in _pyodbc().drivers():
        if IN_CI:
            pytest.fail("the SQLite3 ODBC driver is missing in CI: apt-get install libsqliteodbc")
        pytest.skip("the SQLite3 ODBC driver is not installed: apt-get install libsqliteodbc")
    return f"Driver=SQLite3;Database={tmp_path / 'odbc.db'};PWD=s3cr3t!"


class SqliteThroughSqlServerTarget(SqlServerTarget):
    """The SQL Server target's own code, pointed at SQLite over ODBC: only the bracket differs."""

    kind = "odbc-sqlite-test"
    script_transaction = TransactionStatements(
        begin="BEGIN", commit="COMMIT", rollback="ROLLBACK", depth=None
    )
    session_statements = SessionStatements(lock_timeout=None, probe=None)  # SQLite has no SET options
    fast_executemany = False  # Debian's sqliteodbc crashes on pyodbc's array parameter binding


@pytest.fixture
def target(sqlite_dsn: str) -> Iterator[SqlServerTarget]:
    opened = SqliteThroughSqlServerTarget(sqlite_dsn)
    yield opened
    opened.close()


def tables(target: SqlServerTarget) -> set[str]:
    return {row[0] for row in target.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_sql_server_target_hands_batches_over_and_lets_their_rows_go(target: SqlServerTarget) -> None:
    """Through a real driver manager: each batch reaches the sink with its rows; the result keeps columns only."""
    shown: list[tuple[str, list[int]]] = []
    target.batch_sink = lambda source, batch: shown.append((source, [len(r.rows) for r in batch.result_sets]))
    result = target.execute_script("CREATE TABLE t (a INTEGER)\nGO\nINSERT INTO t VALUES (1)\nGO 3\n"
                                   "SELECT a FROM t\nGO 2\n", source="rows.sql")
    assert result.ok, result.summary()
    assert shown == [("rows.sql", []), ("rows.sql", []), ("rows.sql", [3, 3])]  # GO n: one batch, run n times
    assert [len(r.rows) for r in result.result_sets] == [0, 0] and result.result_sets[0].columns == ("a",)


def test_real_driver_runs_a_multi_batch_script_and_collects_results(target: SqlServerTarget) -> None:
    script = (
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT)\n"
        "GO\n"
        "INSERT INTO orders (customer) VALUES ('ACME')\n"
        "GO 2\n"
        "-- what we have\n"
        "SELECT id, customer FROM orders ORDER BY id\n"
        "GO\n"
    )
    result = target.execute_script(script, source="orders.sql")
    assert result.ok and result.committed, result.summary()
    assert [b.start_line for b in result.batches] == [1, 3, 5]
    assert result.batches[1].rowcount == 2
    (rows,) = result.result_sets
    assert rows.columns == ("id", "customer") and rows.rows == [(1, "ACME"), (2, "ACME")]
    assert tables(target) == {"orders"}
    assert "s3cr3t!" not in target.display_name and "PWD=***" in target.display_name


def test_real_driver_error_in_batch_3_rolls_back_batches_1_and_2(target: SqlServerTarget) -> None:
    script = (
        "CREATE TABLE staged (id INTEGER)\n"
        "GO\n"
        "INSERT INTO staged VALUES (1)\n"
        "GO\n"
        "\n"
        "INSERT INTO no_such_table VALUES (1)\n"
        "GO\n"
        "CREATE TABLE never_reached (id INTEGER)\n"
    )
    result = target.execute_script(script, source="deploy.sql")
    assert not result.ok and not result.committed
    assert result.error is not None
    assert (result.error.source, result.error.batch, result.error.line) == ("deploy.sql", 3, 6)
    assert "no such table: no_such_table" in result.error.message
    assert "deploy.sql:6 (batch 3)" in result.summary()
    assert len(result.batches) == 3
    assert tables(target) == set()  # batch 1's CREATE TABLE is gone too


def test_real_driver_statements_and_transactions(target: SqlServerTarget) -> None:
    assert target.execute_script("CREATE TABLE t (n INTEGER, label TEXT)").ok
    target.executemany("INSERT INTO t VALUES (?, ?)", [(n, f"row {n}") for n in range(5)])
    assert target.execute("SELECT count(*) FROM t WHERE n >= ?", [2]) == [(3,)]
    assert list(target.stream("SELECT n FROM t ORDER BY n", chunk=2)) == [[(0,), (1,)], [(2,), (3,)], [(4,)]]
    assert target.columns_of("SELECT n AS number, label FROM t") == ("number", "label")
    target.execute("DELETE FROM t WHERE n < ?", [2])
    assert target.rowcount == 2

    with pytest.raises(RuntimeError), target.transaction():
        target.execute("INSERT INTO t VALUES (99, 'gone')")
        raise RuntimeError("undo")
    with target.transaction():
        target.execute("INSERT INTO t VALUES (100, 'kept')")
    assert target.execute("SELECT n FROM t WHERE n > 4 ORDER BY n") == [(100,)]

    with pytest.raises(ScriptError, match="no such table"):
        target.execute("SELECT * FROM missing")
    result = target.execute_script("SELECT 1\nGO\n", source="inside.sql")
    assert result.ok  # the failed statement left nothing open behind it


def test_real_driver_a_failed_nested_block_dooms_the_outer_transaction(target: SqlServerTarget) -> None:
    """Nested blocks have no savepoints here: a failure inside one, even caught, rolls back everything
    when the outer block ends, so half of the nested block's work is never committed."""
    assert target.execute_script("CREATE TABLE t (n INTEGER)").ok
    with pytest.raises(ScriptError, match=r"nested transaction.*RuntimeError: half way"), target.transaction():
        target.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), target.transaction():
            target.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("half way")
        target.execute("INSERT INTO t VALUES (3)")
    assert target.execute("SELECT count(*) FROM t") == [(0,)]
    with target.transaction():  # the next transaction starts clean
        with target.transaction():
            target.execute("INSERT INTO t VALUES (4)")
    assert target.execute("SELECT n FROM t") == [(4,)]


def test_real_driver_dsn_password_never_reaches_a_connect_error() -> None:
    _pyodbc()
    for dsn in (
        "Driver={No Such Driver 99};Server=db.example;UID=sa;PWD=s3cr3t!",
        "DSN=opus_no_such_dsn;UID=sa;PWD={s3cr3t!}",
    ):
        with pytest.raises(ConfigError) as caught:
            SqlServerTarget(dsn)
        everything = "".join(traceback.format_exception(caught.value))
        assert "s3cr3t!" not in everything
        assert "PWD=***" in str(caught.value)
        assert "msodbcsql18" in str(caught.value) and "Installed ODBC drivers" in str(caught.value)


def test_catalog_is_three_queries_however_many_objects() -> None:
    """catalog() sends the three sys-view queries once each; rows come from a stand-in connection."""
    _pyodbc()
    columns, constraints, parameters = sample_rows()
    many = columns + [
        col(1000 + n, "dbo", f"T{n}", "id", 1, "int", 4) for n in range(200)
    ]
    answers: dict[str, list[tuple[Any, ...]]] = {
        COLUMNS_QUERY: [tuple(r) for r in many],
        CONSTRAINTS_QUERY: [tuple(r) for r in constraints],
        PARAMETERS_QUERY: [tuple(r) for r in parameters],
    }

    class CatalogConnection(FakeConnection):
        def respond(self, sql: str) -> list[Step]:
            self.sent.append(sql)
            return [Step(columns=("x",), rows=answers[sql])]

        def commit(self) -> None:
            pass

    connection = CatalogConnection({})
    target = SqlServerTarget("Driver={ODBC Driver 18 for SQL Server};Server=db", connection=connection)
    catalog = target.catalog()
    assert target.catalog_queries == 3 and len(connection.sent) == 3
    assert len(catalog.tables) == 202 and catalog.table("stage.MON_UpdateAudit") is not None


class DescribingConnection(FakeConnection):
    """Answers sys.dm_exec_describe_first_result_set with the rows given for each described query."""

    def __init__(self, described: dict[str, list[tuple[Any, ...]]]) -> None:
        super().__init__({})
        self.described = described
        self.params: list[tuple[Any, ...]] = []

    def cursor(self) -> FakeCursor:
        connection = self

        class Cursor(FakeCursor):
            def execute(self, sql: str, *params: Any) -> None:
                connection.params.append(params)
                assert sql == DESCRIBE_QUERY
                self._steps = iter([Step(columns=("name", "system_type_name", "is_nullable", "error_message"),
                                         rows=connection.described[params[0][0]])])
                self.nextset()

        return Cursor(self)

    def commit(self) -> None:
        pass


def test_describe_query_reads_the_servers_description_of_the_first_result_set() -> None:
    _pyodbc()
    query = "SELECT id AS item_id, [ORDER QTY], code FROM dbo.Source"
    connection = DescribingConnection({
        query: [("item_id", "bigint", False, None), ("ORDER QTY", "decimal(18,4)", True, None),
                ("code", "nvarchar(max)", True, None)],
        "SELECT nope FROM dbo.Source": [(None, None, None, "Invalid column name 'nope'.")],
    })
    target = SqlServerTarget("Driver={ODBC Driver 18 for SQL Server};Server=db", connection=connection)
    described = target.describe_query(query)
    assert described is not None
    assert [(c.name, c.type and (c.type.type_text, c.type.nullable)) for c in described] == [
        ("item_id", ("bigint", False)), ("ORDER QTY", ("decimal(18,4)", True)), ("code", ("nvarchar(max)", True))]
    assert connection.params == [((query,),)]  # the query text is a parameter, never spliced into SQL
    # A query the server cannot describe, or one with ? parameters, is left to run (None).
    assert target.describe_query("SELECT nope FROM dbo.Source") is None
    assert target.describe_query("SELECT id FROM dbo.Source WHERE k = ?", [1]) is None
    assert len(connection.params) == 2


# -- pyodbc is loaded only when a DSN is used ----------------------------------------------------


def test_importing_the_target_does_not_import_pyodbc() -> None:
    code = "import sys, pytest_opus.targets.sqlserver; sys.exit(1 if 'pyodbc' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_pyodbc_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_odbc, "_pyodbc", None)
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # makes `import pyodbc` fail as if absent
    with pytest.raises(ConfigError, match="pip install pyodbc"):
        SqlServerTarget("Driver={ODBC Driver 18 for SQL Server};Server=x;PWD=s3cr3t!")


def test_missing_unixodbc_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoDriverManager:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "pyodbc":
                raise ImportError("libodbc.so.2: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(_odbc, "_pyodbc", None)
    monkeypatch.delitem(sys.modules, "pyodbc", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoDriverManager(), *sys.meta_path])
    with pytest.raises(ConfigError, match="apt-get install unixodbc") as caught:
        _odbc.load_pyodbc()
    assert "msodbcsql18" in str(caught.value)
