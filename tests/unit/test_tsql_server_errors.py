"""SQL Server's error numbers and texts where SQLite has its own words (issue 10).

Constraint violations (515, 2627, 2601, 547) name the constraint, table and column as SQL Server
does; a UNIQUE key holds NULL once; TRUNCATE TABLE restarts IDENTITY; a variable declared twice is
Msg 134 before the batch runs; a `/*` without `*/` is Msg 113; missing objects are named as written;
a ROLLBACK of the script's own transaction is refused (the runner's transaction would end with it);
`USE` accepts the sandbox file's own name; a refusal reads "not supported by the sandbox: <construct>
at file:line, run it against SQL Server (--opus-dsn)".
"""

from __future__ import annotations

import re
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
         "Cannot insert duplicate key in object 'dbo.T'. The duplicate key value is (1)."),
        ("INSERT INTO dbo.T (k, c) VALUES (2, 'A')", 2627, "Violation of UNIQUE KEY constraint 'UQ_T_c'. "
         "Cannot insert duplicate key in object 'dbo.T'. The duplicate key value is (A)."),
        ("INSERT INTO dbo.T (k, d, e) VALUES (2, 1, 1)", 2601, "Cannot insert duplicate key row in object 'dbo.T' "
         "with unique index 'UX_T_de'. The duplicate key value is (1, 1)."),
        # two rows of the statement clash with each other: the second one's key
        ("INSERT INTO dbo.T (k, c) VALUES (7, 'p'), (8, 'q'), (7, 'r')", 2627, "Violation of PRIMARY KEY "
         "constraint 'PK_T'. Cannot insert duplicate key in object 'dbo.T'. The duplicate key value is (7)."),
        # a value the runner would have to convert (text to int), or a SELECT: the sentence is left out
        ("INSERT INTO dbo.T (k, c) VALUES ('1', 'b')", 2627, "Violation of PRIMARY KEY constraint 'PK_T'. "
         "Cannot insert duplicate key in object 'dbo.T'."),
        ("INSERT INTO dbo.T (k, c) SELECT 1, 'b'", 2627, "Violation of PRIMARY KEY constraint 'PK_T'. "
         "Cannot insert duplicate key in object 'dbo.T'."),
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


def test_an_unnamed_check_gets_a_system_name_and_the_full_message(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE TABLE dbo.T (q INT CHECK (q > 0), r INT, CHECK (r < 10))")
    column = failure(sandbox, "INSERT INTO dbo.T (q, r) VALUES (-1, 1)")
    assert column.number == 547
    assert re.fullmatch(r'The INSERT statement conflicted with the CHECK constraint "CK__T__q__[0-9A-F]{8}"\. The '
                        r'conflict occurred in database "sandbox", table "dbo\.T", column \'q\'\.', column.message)
    table = failure(sandbox, "INSERT INTO dbo.T (q, r) VALUES (1, 11)")
    assert re.fullmatch(r'The INSERT statement conflicted with the CHECK constraint "CK__T__[0-9A-F]{8}"\. The '
                        r'conflict occurred in database "sandbox", table "dbo\.T"\.', table.message)
    # the name is the one the catalog shows, and stays the same from run to run
    name = column.message.split('"')[1]
    assert ok(sandbox, "SELECT name FROM sys.check_constraints WHERE name LIKE 'CK__T__q%'").result_sets[-1].rows == [
        (name,)]


def caught(statements: list[str]) -> str:
    """The statements, each in TRY ... CATCH printing ERROR_NUMBER() and ERROR_MESSAGE()."""
    return "".join(f"BEGIN TRY\n  {s}\nEND TRY\nBEGIN CATCH\n  PRINT CONCAT(ERROR_NUMBER(), ' ', ERROR_MESSAGE())\n"
                   "END CATCH\n" for s in statements)


def test_temp_tables_and_table_variables_report_keys_and_checks_in_sql_servers_words(
        sandbox: SandboxTarget) -> None:
    lines = printed(sandbox, "CREATE TABLE #T (k INT CONSTRAINT PK_K PRIMARY KEY, u INT UNIQUE, "
                             "q INT CONSTRAINT CK_Q CHECK (q > 0), r INT CHECK (r > 0), n INT NOT NULL DEFAULT 0)\n"
                             "INSERT INTO #T (k, u, q, r) VALUES (1, NULL, 1, 1)\n" + caught([
                                 "INSERT INTO #T (k) VALUES (1)",
                                 "INSERT INTO #T (k, u) VALUES (2, NULL)",  # SQL Server: NULL is one key value
                                 "UPDATE #T SET q = -1",
                                 "UPDATE #T SET r = -1",
                                 "UPDATE #T SET n = NULL",
                             ]) + "PRINT (SELECT COUNT(*) FROM #T WHERE q = 1 AND r = 1 AND n = 0)")
    assert lines[0] == ("2627 Violation of PRIMARY KEY constraint 'PK_K'. Cannot insert duplicate key in object "
                        "'dbo.#T'. The duplicate key value is (1).")
    assert re.fullmatch(r"2627 Violation of UNIQUE KEY constraint 'UQ__#T__[0-9A-F]{8}'\. Cannot insert duplicate "
                        r"key in object 'dbo\.#T'\. The duplicate key value is \(<NULL>\)\.", lines[1])
    assert lines[2] == ('547 The UPDATE statement conflicted with the CHECK constraint "CK_Q". The conflict occurred '
                        'in database "tempdb", table "dbo.#T", column \'q\'.')
    assert re.fullmatch(r'547 The UPDATE statement conflicted with the CHECK constraint "CK__#T__r__[0-9A-F]{8}"\. '
                        r'The conflict occurred in database "tempdb", table "dbo\.#T", column \'r\'\.', lines[3])
    assert lines[4] == ("515 Cannot insert the value NULL into column 'n', table 'tempdb.dbo.#T'; column does not "
                        "allow nulls. UPDATE fails.")
    assert lines[5] == "1"  # every failing statement was undone


def test_a_table_variable_is_named_as_the_variable_in_key_errors(sandbox: SandboxTarget) -> None:
    lines = printed(sandbox, "DECLARE @t TABLE (k INT PRIMARY KEY, v VARCHAR(5) UNIQUE, CHECK (k < 10))\n"
                             "INSERT INTO @t VALUES (1, 'a'), (2, NULL)\n" + caught([
                                 "INSERT INTO @t VALUES (3, NULL)",
                                 "INSERT INTO @t VALUES (4, 'A')",
                                 "INSERT INTO @t VALUES (11, 'b')",
                             ]) + "PRINT (SELECT COUNT(*) FROM @t)")
    assert lines[0].startswith("2627 Violation of UNIQUE KEY constraint")
    assert lines[0].endswith("Cannot insert duplicate key in object 'dbo.@t'. The duplicate key value is (<NULL>).")
    assert lines[1].endswith("Cannot insert duplicate key in object 'dbo.@t'. The duplicate key value is (A).")
    assert lines[2].startswith('547 The INSERT statement conflicted with the CHECK constraint "CK__')
    assert lines[2].endswith('The conflict occurred in database "tempdb", table "dbo.@t".')
    assert lines[3] == "2"


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


def test_a_named_database_answers_to_its_name_whatever_its_file_is_called(tmp_path: Path) -> None:
    from pytest_opus.databases import open_database, resolve_database, resolve_target

    (tmp_path / "pyproject.toml").write_text('[tool.opus.databases]\ndms = { sandbox = "files/copy-2.sqlite" }\n')
    (tmp_path / "files").mkdir()
    (tmp_path / "sql" / "baseline").mkdir(parents=True)  # what the sandbox file is built from on first use
    (tmp_path / "sql" / "baseline" / "001.sql").write_text("CREATE TABLE dbo.T (a INT)\n")
    named = open_database(resolve_database("dms", cwd=tmp_path, environ={}))
    try:
        assert ok(named, "USE dms\nSELECT DB_NAME() AS d").result_sets[-1].rows == [("dms",)]
        refused = run(named, "USE [copy-2]")
        assert isinstance(refused.error, UnsupportedConstruct) and "holds one database, dms" in refused.error.construct
    finally:
        named.close()
    # the same file given by its path answers to the file's name
    by_path = open_database(resolve_target("db", str(tmp_path / "files" / "copy-2.sqlite"), origin="--db",
                                           cwd=tmp_path, environ={}))
    try:
        assert ok(by_path, "SELECT DB_NAME() AS d").result_sets[-1].rows == [("copy-2",)]
    finally:
        by_path.close()


def test_the_static_check_takes_the_targets_database_name_as_the_engine_does(tmp_path: Path) -> None:
    from pytest_opus.tsql.subset import check_subset, target_database

    script = "PRINT 'x'\nUSE [DMS]\nGO\nUSE dms;\nSELECT 1 AS a\n"
    target = SandboxTarget(tmp_path / "dms.sqlite")
    try:
        assert target_database(target) == "dms"
        assert check_subset(script, "use.sql", database=target_database(target)) == []
        assert run(target, script).error is None  # the run agrees
        assert [p.line for p in check_subset(script, "use.sql", database=target_database(SandboxTarget()))] == [2, 4]
        assert [p.line for p in check_subset("USE other\n", "use.sql", database="dms")] == [1]
    finally:
        target.close()
