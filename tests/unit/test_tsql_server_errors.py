"""SQL Server's error numbers and texts where SQLite has its own words (issue 10).

Constraint violations (515, 2627, 2601, 547) name the constraint, table and column as SQL Server
does; a UNIQUE key holds NULL once; TRUNCATE TABLE restarts IDENTITY; a variable declared twice is
Msg 134 before the batch runs; a `/*` without `*/` is Msg 113; missing objects are named as written;
a ROLLBACK of the script's own transaction is refused (the runner's transaction would end with it);
`USE` accepts the sandbox file's own name; a refusal reads "not supported by the sandbox: <construct>
at file:line, run it against SQL Server (--opus-dsn)".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tsql_support import failure, ok, printed, run

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget


@pytest.fixture
def sandbox() -> SandboxTarget:
    return SandboxTarget()


def count(target: SandboxTarget, table: str) -> int:
    return int(ok(target, f"SELECT COUNT(*) FROM dbo.{table}").result_sets[-1].rows[0][0])


# -- constraint violations ----------------------------------------------------------------------------------
def test_null_into_a_not_null_column_names_column_table_and_statement(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (k INT NOT NULL, v INT)\nINSERT INTO dbo.T (k, v) VALUES (1, 1)")
    inserted = failure(sandbox, "INSERT INTO dbo.T (v) VALUES (2)")
    assert (inserted.number, inserted.message) == (515, "Cannot insert the value NULL into column 'k', table "
                                                         "'sandbox.dbo.T'; column does not allow nulls. INSERT fails.")
    updated = failure(sandbox, "PRINT 'x'\nUPDATE dbo.T SET k = NULL")
    assert updated.number == 515 and updated.message.endswith("UPDATE fails.") and updated.line == 2


def test_key_violations_name_the_constraint_or_index(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (k INT CONSTRAINT PK_T PRIMARY KEY, c VARCHAR(5) CONSTRAINT UQ_T_c UNIQUE, "
                "d INT, e INT)\nCREATE UNIQUE INDEX UX_T_de ON dbo.T (d, e)\n"
                "INSERT INTO dbo.T (k, c, d, e) VALUES (1, 'a', 1, 1)")
    cases = [
        ("INSERT INTO dbo.T (k, c) VALUES (1, 'b')", 2627, "Violation of PRIMARY KEY constraint 'PK_T'. "
         "Cannot insert duplicate key in object 'dbo.T'."),
        ("INSERT INTO dbo.T (k, c) VALUES (2, 'A')", 2627, "Violation of UNIQUE KEY constraint 'UQ_T_c'. "
         "Cannot insert duplicate key in object 'dbo.T'."),
        ("INSERT INTO dbo.T (k, d, e) VALUES (2, 1, 1)", 2601, "Cannot insert duplicate key row in object 'dbo.T' "
         "with unique index 'UX_T_de'."),
    ]
    for script, number, message in cases:
        error = failure(sandbox, script)
        assert (error.number, error.message) == (number, message), script


def test_a_check_constraint_names_itself_its_table_and_column(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (q INT CONSTRAINT CK_T_q CHECK (q > 0))\nINSERT INTO dbo.T (q) VALUES (1)")
    error = failure(sandbox, "UPDATE dbo.T SET q = -1")
    assert (error.number, error.message) == (547, 'The UPDATE statement conflicted with the CHECK constraint '
                                                  '"CK_T_q". The conflict occurred in database "sandbox", table '
                                                  '"dbo.T", column \'q\'.')


def test_a_unique_key_holds_null_once_and_the_failing_statement_is_undone(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (k INT, c VARCHAR(5) CONSTRAINT UQ_T_c UNIQUE, d INT, e INT)\n"
                "CREATE UNIQUE INDEX UX_T_de ON dbo.T (d, e)\nINSERT INTO dbo.T (k, c, d, e) VALUES (1, NULL, 1, NULL)")
    error = failure(sandbox, "INSERT INTO dbo.T (k, c) VALUES (2, NULL)")
    assert (error.number, error.message) == (2627, "Violation of UNIQUE KEY constraint 'UQ_T_c'. Cannot insert "
                                                   "duplicate key in object 'dbo.T'. The duplicate key value is "
                                                   "(<NULL>).")
    error = failure(sandbox, "INSERT INTO dbo.T (k, c, d, e) VALUES (3, 'x', 1, NULL)")
    assert error.number == 2601 and error.message.endswith("The duplicate key value is (1, <NULL>).")
    # caught: the statement is undone, the batch goes on (SQL Server ends only the statement)
    assert printed(sandbox, "INSERT INTO dbo.T (k, c, d, e) VALUES (4, 'y', 2, 2)\nBEGIN TRY\n"
                            "  UPDATE dbo.T SET c = NULL WHERE k = 4\nEND TRY\nBEGIN CATCH\n  PRINT ERROR_NUMBER()\n"
                            "END CATCH\nSELECT @@ROWCOUNT") == ["2627"]
    assert ok(sandbox, "SELECT c FROM dbo.T WHERE k = 4").result_sets[-1].rows == [("y",)]
    assert count(sandbox, "T") == 2
    ok(sandbox, "INSERT INTO dbo.T (k, c, d, e) VALUES (5, 'z', 1, 2)")  # (1, 2) is another key than (1, NULL)


def test_truncate_restarts_identity_at_its_seed(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (id INT IDENTITY(1, 1) PRIMARY KEY, v INT)\n"
                "INSERT INTO dbo.T (v) VALUES (1), (2)\nDELETE FROM dbo.T\nINSERT INTO dbo.T (v) VALUES (3)")
    assert ok(sandbox, "SELECT id FROM dbo.T").result_sets[-1].rows == [(3,)]  # DELETE keeps the counter
    ok(sandbox, "TRUNCATE TABLE dbo.T\nINSERT INTO dbo.T (v) VALUES (4)")
    assert ok(sandbox, "SELECT id FROM dbo.T").result_sets[-1].rows == [(1,)]


# -- compile-time errors and names as written -----------------------------------------------------------------
def test_a_variable_declared_twice_fails_before_the_batch_runs(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "PRINT 'before'\nDECLARE @a INT\nIF 1 = 1\nBEGIN\n  DECLARE @A TABLE (n INT)\nEND")
    assert result.error is not None and (result.error.number, result.error.line) == (134, 5)
    assert "The variable name '@A' has already been declared." in result.error.message
    assert result.messages == []
    # a DECLARE repeated by a loop is one declaration; each batch and each procedure is a scope of its own
    assert printed(sandbox, "DECLARE @i INT = 0\nWHILE @i < 2\nBEGIN\n  DECLARE @x INT = @i\n  SET @i += 1\n"
                            "END\nPRINT @i\nGO\nDECLARE @i INT = 5\nPRINT @i") == ["2", "5"]


def test_an_unclosed_block_comment_is_msg_113_at_its_line(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "SELECT 1 AS a\nGO\nPRINT 'x'\n/* never closed\nSELECT 2")
    assert result.error is not None and (result.error.number, result.error.line) == (113, 4)
    assert result.error.message == "Missing end comment mark '*/'."
    assert ok(sandbox, "SELECT '/* in a string' AS s /* closed /* nested */ too */").result_sets[-1].rows == [
        ("/* in a string",)]


@pytest.mark.parametrize(("script", "message"), [
    ("SELECT * FROM [dbo].[Nope]", "Invalid object name 'dbo.Nope'."),
    ("SELECT * FROM Nope", "Invalid object name 'Nope'."),
    ("EXEC [dbo].[NoProc]", "Could not find stored procedure 'dbo.NoProc'."),
    ("EXEC NoProc", "Could not find stored procedure 'NoProc'."),
])
def test_missing_objects_are_named_as_written(sandbox: SandboxTarget, script: str, message: str) -> None:
    assert failure(sandbox, script).message == message


def test_a_set_option_resets_rowcount(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (a INT)\nINSERT INTO dbo.T (a) VALUES (1), (2)")
    assert ok(sandbox, "UPDATE dbo.T SET a = 3\nSET XACT_ABORT ON\nSELECT @@ROWCOUNT").result_sets[-1].rows == [(0,)]


# -- transactions inside the runner's own -----------------------------------------------------------------------
def test_rollback_of_the_scripts_own_transaction_is_refused_and_nothing_is_kept(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (a INT)")
    result = sandbox.execute_script("INSERT INTO dbo.T (a) VALUES (1)\nBEGIN TRAN\nINSERT INTO dbo.T (a) VALUES (2)\n"
                          "IF 1 = 1 ROLLBACK\nPRINT 'after'", source="tx.sql")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == 4
    assert "ROLLBACK of a transaction the script began" in result.error.construct
    assert result.messages == [] and not result.committed and count(sandbox, "T") == 0
    # balanced BEGIN/COMMIT pairs inside the runner's transaction are fine; @@TRANCOUNT counts the runner's
    assert ok(sandbox, "BEGIN TRAN\nINSERT INTO dbo.T (a) VALUES (3)\nCOMMIT\nSELECT @@TRANCOUNT").result_sets[
        -1].rows == [(1,)]
    assert count(sandbox, "T") == 1


# -- the refusal's wording, and USE of the database as the user knows it -----------------------------------------
def test_a_refusal_says_what_where_and_what_to_do(sandbox: SandboxTarget) -> None:
    result = sandbox.execute_script("PRINT 'x'\nGO\nSELECT 1 AS a\nWAITFOR DELAY '00:00:01'", source="w.sql")
    assert isinstance(result.error, UnsupportedConstruct)
    assert str(result.error) == ("not supported by the sandbox: WAITFOR at w.sql:4 (batch 2), run it against "
                                 "SQL Server (--opus-dsn)")


def test_use_accepts_the_sandbox_files_name_and_refuses_another_by_name(tmp_path: Path) -> None:
    target = SandboxTarget(tmp_path / "dms.sqlite")
    try:
        assert ok(target, "USE dms\nGO\nUSE [DMS]\nSELECT DB_NAME() AS d").result_sets[-1].rows == [("dms",)]
        result = run(target, "USE sandbox\nSELECT 1 AS a")
        assert isinstance(result.error, UnsupportedConstruct) and "USE sandbox" in result.error.construct
        assert "holds one database, dms" in result.error.construct
    finally:
        target.close()
