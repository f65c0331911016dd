"""What SQL Server finds when a batch compiles, and the subset that real scripts need.

Compile-time checks: a batch that SQL Server would not compile fails before any of its statements
runs (nothing printed, nothing written), with SQL Server's error number and the line in the file.
The subset: USE of the sandbox's database, sysname, table variables, temp tables in the forms
scripts use, inline INDEX, ALTER TABLE ... ADD CONSTRAINT with storage options, RAISERROR's
severities, the compatibility views; and precise refusals for what the sandbox cannot answer.
"""

from __future__ import annotations

import pytest
from test_tsql_support import failure, ok, printed, run

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql.subset import check_subset


@pytest.fixture
def sandbox() -> SandboxTarget:
    return SandboxTarget()


def rows(target: SandboxTarget, script: str) -> list[tuple[object, ...]]:
    """The rows of the last result set of a script that must succeed."""
    return list(ok(target, script).result_sets[-1].rows)


TABLE_T = "CREATE TABLE dbo.T (a INT NOT NULL)\nINSERT INTO dbo.T (a) VALUES (1)\nGO\n"


# -- columns resolved when the batch compiles ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("batch", "line"),
    [
        ("ALTER TABLE dbo.T ADD b INT\nUPDATE dbo.T SET b = 2", 5),
        ("PRINT 'before'\nALTER TABLE dbo.T ADD b INT\nSELECT a,\n       b\nFROM dbo.T", 7),
        ("ALTER TABLE dbo.T ADD b INT\nINSERT INTO dbo.T (a, b) VALUES (2, 2)", 5),
        ("ALTER TABLE dbo.T ADD b INT\nIF EXISTS (SELECT 1 FROM dbo.T WHERE b IS NULL) PRINT 'x'", 5),
        ("ALTER TABLE dbo.T ADD b INT\nDECLARE @n INT = (SELECT MAX(x.b) FROM dbo.T AS x)", 5),
        ("IF COL_LENGTH('dbo.T', 'b') IS NULL\n    ALTER TABLE dbo.T ADD b INT\nUPDATE dbo.T SET b = 2", 6),
        ("BEGIN TRY\n    ALTER TABLE dbo.T ADD b INT\n    UPDATE dbo.T SET b = 1\nEND TRY\nBEGIN CATCH\n"
         "    PRINT 'caught'\nEND CATCH", 6),
    ],
    ids=["update", "select-later-line", "insert-list", "if-exists", "declare", "guarded-add", "try-does-not-catch"],
)
def test_a_column_added_in_the_same_batch_is_error_207_before_the_batch_runs(
        sandbox: SandboxTarget, batch: str, line: int) -> None:
    result = run(sandbox, TABLE_T + batch)
    assert result.error is not None and result.error.number == 207, result.summary()
    assert result.error.message == "Invalid column name 'b'."
    assert result.error.line == line
    assert result.messages == []  # nothing of the batch ran: no PRINT, no CATCH
    assert sandbox.catalog().table("T") is None  # and nothing was committed


def test_the_same_change_split_by_go_runs(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, TABLE_T + "ALTER TABLE dbo.T ADD b INT\nGO\nUPDATE dbo.T SET b = 2\nSELECT a, b FROM dbo.T") \
        == [(1, 2)]


def test_dynamic_sql_compiles_when_it_runs(sandbox: SandboxTarget) -> None:
    script = TABLE_T + "ALTER TABLE dbo.T ADD b INT\nEXEC sp_executesql N'UPDATE dbo.T SET b = 3'\nSELECT b FROM dbo.T"
    # the SELECT after the ALTER is compiled with the batch: b is not there yet
    assert failure(sandbox, script).number == 207
    script = TABLE_T + "ALTER TABLE dbo.T ADD b INT\nEXEC sp_executesql N'UPDATE dbo.T SET b = 3'\nGO\n" \
        "SELECT b FROM dbo.T"
    assert rows(SandboxTarget(), script) == [(3,)]


def test_a_misspelt_column_in_dynamic_sql_is_caught_by_try(sandbox: SandboxTarget) -> None:
    script = TABLE_T + ("BEGIN TRY\n    EXEC (N'SELECT nope FROM dbo.T')\nEND TRY\nBEGIN CATCH\n"
                        "    PRINT ERROR_NUMBER()\nEND CATCH")
    assert printed(sandbox, script) == ["207"]


@pytest.mark.parametrize(
    "batch",
    [
        "CREATE TABLE dbo.N (x INT)\nINSERT INTO dbo.N (x) VALUES (1)\nSELECT x FROM dbo.N",  # deferred
        "SELECT 1 AS c INTO #tmp\nSELECT c FROM #tmp",  # temp tables are deferred too
        "WITH c AS (SELECT a AS z FROM dbo.T) SELECT z FROM c",  # a CTE's columns
        "SELECT a AS z FROM dbo.T ORDER BY z",  # an alias in ORDER BY
        "SELECT d.z FROM (SELECT a AS z FROM dbo.T) AS d",  # a derived table
        "SELECT t.a FROM dbo.T AS t WHERE EXISTS (SELECT 1 FROM dbo.T AS u WHERE u.a = t.a)",  # correlated
        "DROP TABLE dbo.T\nCREATE TABLE dbo.T2 (q INT)\nSELECT q FROM dbo.T2",
        "CREATE TABLE dbo.U (x INT)\nGO\n"
        "SELECT t.a FROM dbo.T AS t WHERE EXISTS (SELECT 1 FROM dbo.U AS t WHERE t.x = 1)",
    ],
    ids=["new-table", "temp", "cte", "order-by-alias", "derived", "correlated", "drop-create", "alias-reused"],
)
def test_deferred_and_local_names_compile(sandbox: SandboxTarget, batch: str) -> None:
    ok(sandbox, TABLE_T + batch)


def test_a_misspelt_column_of_an_existing_table_fails_before_anything_runs(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, TABLE_T + "PRINT 'x'\nINSERT INTO dbo.T (a) VALUES (5)\nSELECT aa FROM dbo.T")
    assert (error.number, error.line, error.message) == (207, 6, "Invalid column name 'aa'.")
    assert run(SandboxTarget(), TABLE_T + "PRINT 'x'\nSELECT aa FROM dbo.T").messages == []


def test_a_procedure_is_compiled_against_existing_tables(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, TABLE_T + "CREATE PROCEDURE dbo.P AS\n    SELECT missing FROM dbo.T")
    assert (error.number, error.line) == (207, 5)
    # a table the procedure creates itself is deferred
    ok(SandboxTarget(), "CREATE PROCEDURE dbo.P AS\n    CREATE TABLE #w (k INT)\n    SELECT k FROM #w")


# -- syntax found in a statement's tree -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("script", "number", "message"),
    [
        ("SELECT 1 > 0", 102, "Incorrect syntax near '>'."),
        ("SELECT 1 AS a, (2 = 2) AS b", 102, "Incorrect syntax near '='."),
        ("DECLARE @b BIT = 1 > 0", 102, "Incorrect syntax near '>'."),
        ("DECLARE @b BIT\nSET @b = 1 < 2", 102, "Incorrect syntax near '<'."),
        ("PRINT 1 <> 2", 102, "Incorrect syntax near '<>'."),
        ("SELECT 1 IS NULL", 156, "Incorrect syntax near the keyword 'IS'."),
        ("SELECT EXISTS (SELECT 1)", 156, "Incorrect syntax near the keyword 'EXISTS'."),
        ("CREATE TABLE dbo.X (a INT,, b INT)", 102, "Incorrect syntax near ','."),
        ("SELECT COALESCE(, 1) AS a", 102, "Incorrect syntax near ','."),
        ("SELECT * FROM", 156, "Incorrect syntax near the keyword 'FROM'."),
        ("SELECT 1 AS a WHERE", 156, "Incorrect syntax near the keyword 'WHERE'."),
        ("SELECT 1 +", 102, "Incorrect syntax near '+'."),
        ("DECLARE @a INT = 1 *\n    2 -", 102, "Incorrect syntax near '-'."),
        ("SELECT (1", 102, "Incorrect syntax near '1'."),
        ("SELECT 1)", 102, "Incorrect syntax near ')'."),
        ("SELECT *", 263, "Must specify table to select from."),
    ],
)
def test_syntax_errors_sql_server_reports(sandbox: SandboxTarget, script: str, number: int, message: str) -> None:
    result = run(sandbox, "PRINT 'first'\n" + script)
    assert result.error is not None and type(result.error) is ScriptError
    assert (result.error.number, result.error.message) == (number, message)
    assert result.error.line == 2 + script.count("\n")  # the statement's own line in the file
    assert result.messages == [] and not result.committed
    with pytest.raises(ScriptError) as raised:
        check_subset("PRINT 'first'\n" + script, "static.sql")
    assert raised.value.number == number


def test_statements_that_end_on_a_keyword_legitimately(sandbox: SandboxTarget) -> None:
    script = ("SET NOCOUNT ON\nCREATE TABLE dbo.D (a INT NULL DEFAULT 4)\nINSERT INTO dbo.D DEFAULT VALUES\n"
              "SELECT a FROM dbo.D WHERE a IS NOT NULL")
    assert rows(sandbox, script) == [(4,)]


def test_a_doubled_comma_commits_nothing(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "CREATE TABLE dbo.Y (a INT)\nGO\nCREATE TABLE dbo.X (a INT,\n, b INT)")
    assert result.error is not None and (result.error.number, result.error.line) == (102, 4)
    assert sandbox.catalog().table("X") is None and sandbox.catalog().table("Y") is None


def test_assignments_and_conditions_are_not_predicates_in_a_select_list(sandbox: SandboxTarget) -> None:
    assert printed(sandbox, "DECLARE @a INT\nSELECT @a = 1\nIF 1 > 0 AND @a = 1 PRINT 'yes'") == ["yes"]
    assert rows(SandboxTarget(), "SELECT CASE WHEN 1 > 0 THEN 1 ELSE 0 END AS c, x = 2") == [(1, 2)]


# -- USE ---------------------------------------------------------------------------------------------------
def test_use_of_the_sandbox_database_is_accepted(sandbox: SandboxTarget) -> None:
    assert rows(sandbox, "USE sandbox\nGO\nUSE [sandbox];\nSELECT DB_NAME() AS d") == [("sandbox",)]


def test_use_of_another_database_is_refused_by_name_before_the_batch_runs(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "PRINT 'x'\nUSE [dms]\nSELECT 1 AS a")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == 2
    assert "USE dms" in result.error.message and result.messages == []
    assert [p.line for p in check_subset("PRINT 'x'\nUSE [dms]\n", "use.sql")] == [2]


def test_use_in_a_procedure_is_error_154(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "CREATE PROCEDURE dbo.P AS\nUSE sandbox").number == 154


# -- sysname -------------------------------------------------------------------------------------------------
def test_sysname_is_nvarchar_128_and_not_null_by_default(sandbox: SandboxTarget) -> None:
    script = ("CREATE TABLE dbo.N (n sysname, m sysname NULL)\n"
              "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE FROM INFORMATION_SCHEMA.COLUMNS "
              "WHERE TABLE_NAME = 'N' ORDER BY COLUMN_NAME")
    assert rows(sandbox, script) == [("m", "nvarchar", 128, "YES"), ("n", "nvarchar", 128, "NO")]
    assert rows(SandboxTarget(), "DECLARE @s sysname = N'abc'\nSELECT @s AS s, LEN(@s) AS n") == [("abc", 3)]
    too_long = "x" * 129
    assert failure(SandboxTarget(), f"CREATE TABLE dbo.N (n sysname)\nINSERT INTO dbo.N VALUES (N'{too_long}')"
                   ).number == 2628


# -- table variables -----------------------------------------------------------------------------------------
def test_table_variables_take_insert_select_update_delete(sandbox: SandboxTarget) -> None:
    script = ("DECLARE @t TABLE (id INT NOT NULL PRIMARY KEY, n VARCHAR(10) NOT NULL DEFAULT 'z')\n"
              "INSERT INTO @t (id, n) VALUES (1, 'a'), (2, 'b'), (3, 'c')\n"
              "INSERT @t (id) VALUES (4)\n"
              "UPDATE @t SET n = 'B' WHERE id = 2\n"
              "DELETE FROM @t WHERE id = 1\n"
              "SELECT t.id, t.n FROM @t AS t ORDER BY t.id")
    assert rows(sandbox, script) == [(2, "B"), (3, "c"), (4, "z")]


def test_a_table_variable_enforces_its_types_and_keys(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "DECLARE @t TABLE (n VARCHAR(3))\nINSERT @t VALUES ('abcd')").number == 2628
    assert failure(SandboxTarget(), "DECLARE @t TABLE (id INT PRIMARY KEY)\nINSERT @t VALUES (1), (1)").number == 2627


def test_a_table_variable_lives_for_its_batch(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "DECLARE @t TABLE (id INT)\nINSERT @t VALUES (1)\nGO\nSELECT id FROM @t")
    assert (error.number, error.line, error.message) == (1087, 4, 'Must declare the table variable "@t".')


def test_a_table_variable_in_a_procedure_is_new_for_each_call(sandbox: SandboxTarget) -> None:
    script = ("CREATE PROCEDURE dbo.P AS\nDECLARE @t TABLE (id INT)\nINSERT @t VALUES (5)\n"
              "SELECT COUNT(*) AS n FROM @t\nGO\nEXEC dbo.P\nEXEC dbo.P")
    result = ok(sandbox, script)
    assert [list(r.rows) for r in result.result_sets] == [[(1,)], [(1,)]]


def test_a_table_variable_declared_in_a_loop_keeps_its_rows(sandbox: SandboxTarget) -> None:
    script = ("DECLARE @i INT = 0\nWHILE @i < 3\nBEGIN\n    DECLARE @u TABLE (x INT)\n    INSERT @u VALUES (@i)\n"
              "    SET @i += 1\nEND\nSELECT COUNT(*) AS n FROM @u")
    assert rows(sandbox, script) == [(3,)]


def test_a_table_variable_joins_tables_and_feeds_conditions(sandbox: SandboxTarget) -> None:
    script = (TABLE_T + "DECLARE @k TABLE (a INT)\nINSERT INTO @k SELECT a FROM dbo.T\n"
              "IF EXISTS (SELECT 1 FROM @k AS k JOIN dbo.T AS t ON t.a = k.a) PRINT 'joined'\n"
              "DECLARE @n INT = (SELECT COUNT(*) FROM @k)\nPRINT @n")
    assert printed(sandbox, script) == ["joined", "1"]


def test_rollback_after_writing_a_table_variable_is_refused(sandbox: SandboxTarget) -> None:
    # SQL Server keeps a table variable's rows through a ROLLBACK; SQLite would lose them
    result = run(sandbox, "DECLARE @t TABLE (id INT)\nBEGIN TRAN\nINSERT @t VALUES (1)\nROLLBACK\nSELECT * FROM @t")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == 4
    assert "table variable @t" in result.error.message


def test_a_table_variable_mixed_with_other_declarations_is_a_syntax_error(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "DECLARE @t TABLE (id INT), @a INT").number == 102


# -- temp tables ---------------------------------------------------------------------------------------------
def test_the_temp_table_existence_checks_scripts_use(sandbox: SandboxTarget) -> None:
    script = ("IF OBJECT_ID('tempdb..#w') IS NOT NULL DROP TABLE #w\n"
              "CREATE TABLE #w (k INT, INDEX IX_w_k (k))\n"
              "IF OBJECT_ID('tempdb..#w') IS NOT NULL PRINT 'exists'\n"
              "IF OBJECT_ID('tempdb.dbo.#w', 'U') IS NOT NULL PRINT 'typed'\n"
              "IF OBJECT_ID('#w') IS NULL PRINT 'needs tempdb'\n"  # the documented rule
              "DROP TABLE IF EXISTS #w\n"
              "IF OBJECT_ID('tempdb..#w') IS NULL PRINT 'gone'")
    assert printed(sandbox, script) == ["exists", "typed", "needs tempdb", "gone"]


# -- inline INDEX, keys and storage options ------------------------------------------------------------------
INDEXES = ("SELECT name, type_desc, is_unique, is_primary_key FROM sys.indexes "
           "WHERE object_id = OBJECT_ID('dbo.K') ORDER BY is_primary_key DESC, name")


def test_inline_indexes_in_create_table(sandbox: SandboxTarget) -> None:
    script = ("CREATE TABLE dbo.K (\n    id INT NOT NULL,\n    a INT INDEX IX_K_a NONCLUSTERED,\n    b INT,\n"
              "    CONSTRAINT PK_K PRIMARY KEY CLUSTERED (id ASC) WITH (PAD_INDEX = OFF) ON [PRIMARY],\n"
              "    INDEX IX_K_b UNIQUE (b DESC)\n) ON [PRIMARY]\n" + INDEXES)
    assert rows(sandbox, script) == [("PK_K", "CLUSTERED", 1, 1), ("IX_K_a", "NONCLUSTERED", 0, 0),
                                     ("IX_K_b", "NONCLUSTERED", 1, 0)]


def test_an_inline_index_on_a_missing_column_is_1911(sandbox: SandboxTarget) -> None:
    assert failure(sandbox, "CREATE TABLE dbo.K (a INT, INDEX IX_K (nope))").number == 1911


def test_alter_table_add_primary_key_as_ssms_scripts_it(sandbox: SandboxTarget) -> None:
    script = ("CREATE TABLE dbo.K (id INT NOT NULL, a INT NULL)\nGO\n"
              "ALTER TABLE [dbo].[K] ADD  CONSTRAINT [PK_K] PRIMARY KEY CLUSTERED \n(\n\t[id] ASC\n)WITH (PAD_INDEX = "
              "OFF, STATISTICS_NORECOMPUTE = OFF, SORT_IN_TEMPDB = OFF, IGNORE_DUP_KEY = OFF, ONLINE = OFF, "
              "ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]\nGO\n"
              "ALTER TABLE [dbo].[K] ADD  CONSTRAINT [DF_K_a]  DEFAULT ((7)) FOR [a]\nGO\n"
              "ALTER TABLE dbo.K ADD CONSTRAINT UQ_K_a UNIQUE NONCLUSTERED (a)\nGO\n"
              "ALTER TABLE dbo.K ADD CONSTRAINT CK_K_a CHECK (a > 0)\nGO\n"
              "INSERT INTO dbo.K (id) VALUES (1)\n" + INDEXES)
    assert rows(sandbox, script) == [("PK_K", "CLUSTERED", 1, 1), ("UQ_K_a", "NONCLUSTERED", 1, 0)]
    assert rows(sandbox, "SELECT a FROM dbo.K") == [(7,)]
    assert failure(sandbox, "INSERT INTO dbo.K (id, a) VALUES (2, -1)").number == 547


@pytest.mark.parametrize(
    ("setup", "statement", "number"),
    [
        ("CREATE TABLE dbo.K (id INT NULL)", "ALTER TABLE dbo.K ADD CONSTRAINT PK_K PRIMARY KEY (id)", 8111),
        ("CREATE TABLE dbo.K (id INT NOT NULL PRIMARY KEY)", "ALTER TABLE dbo.K ADD PRIMARY KEY (id)", 1779),
        ("CREATE TABLE dbo.K (id INT NOT NULL)\nINSERT dbo.K VALUES (1), (1)",
         "ALTER TABLE dbo.K ADD CONSTRAINT PK_K PRIMARY KEY (id)", 1505),
        ("CREATE TABLE dbo.K (id INT NOT NULL)\nINSERT dbo.K VALUES (0)",
         "ALTER TABLE dbo.K ADD CONSTRAINT CK_K CHECK (id > 0)", 547),
        ("CREATE TABLE dbo.K (id INT NOT NULL DEFAULT 1)", "ALTER TABLE dbo.K ADD DEFAULT 2 FOR id", 1781),
        ("CREATE TABLE dbo.K (id INT NOT NULL)", "ALTER TABLE dbo.K ADD CONSTRAINT PK_K PRIMARY KEY (nope)", 1911),
    ],
    ids=["nullable", "second-pk", "duplicates", "check-violated", "second-default", "missing-column"],
)
def test_added_constraints_are_checked_as_sql_server_does(sandbox: SandboxTarget, setup: str, statement: str,
                                                          number: int) -> None:
    error = failure(sandbox, setup + "\nGO\n" + statement)
    assert error.number == number and error.line == setup.count("\n") + 3


@pytest.mark.parametrize(
    ("statement", "construct"),
    [
        ("CREATE TABLE dbo.K (a INT) ON [FG_DATA]", "filegroup FG_DATA"),
        ("CREATE TABLE dbo.K (a INT) ON ps_dates(a)", "partition scheme"),
        ("CREATE TABLE dbo.K (a INT NOT NULL PRIMARY KEY NONCLUSTERED)", "NONCLUSTERED primary key"),
        ("CREATE TABLE dbo.K (a INT, INDEX IX CLUSTERED (a))", "CLUSTERED inline index"),
        ("CREATE TABLE dbo.K (a INT, b INT, INDEX IX (a) INCLUDE (b))", "INCLUDE columns"),
        ("CREATE TABLE dbo.K (a INT, INDEX IX (a) WHERE a > 0)", "filtered indexes"),
        ("CREATE TABLE dbo.K (a INT, CONSTRAINT UQ UNIQUE CLUSTERED (a))", "CLUSTERED unique key"),
        ("CREATE TABLE dbo.K (a INT)\nCREATE INDEX IX ON dbo.K (a) WITH (IGNORE_DUP_KEY = ON)",
         "IGNORE_DUP_KEY = ON"),
        ("CREATE TABLE dbo.K (a INT)\nCREATE INDEX IX ON dbo.K (a) WITH (DROP_EXISTING = ON)", "DROP_EXISTING = ON"),
        ("RAISERROR('fatal', 20, 1) WITH LOG", "severity 20 WITH LOG"),
        ("SELECT name FROM sysobjects WHERE OBJECTPROPERTY(id, 'IsUserTable') = 1", "OBJECTPROPERTY"),
    ],
)
def test_what_would_change_a_result_is_refused_by_name(sandbox: SandboxTarget, statement: str,
                                                       construct: str) -> None:
    result = run(sandbox, "PRINT 'x'\n" + statement)
    assert isinstance(result.error, UnsupportedConstruct), result.summary()
    assert construct in result.error.construct and result.error.line == statement.count("\n") + 2
    assert result.messages == []  # refused before anything of the batch ran
    assert [p.line for p in check_subset("PRINT 'x'\n" + statement, "refused.sql")] == [statement.count("\n") + 2]


# -- RAISERROR -------------------------------------------------------------------------------------------------
def test_raiserror_severities(sandbox: SandboxTarget) -> None:
    script = ("RAISERROR('note %d', 10, 1, 5)\nPRINT @@ERROR\nRAISERROR('low', -3, 1) WITH NOWAIT\n"
              "RAISERROR('flagged', 1, 1) WITH SETERROR\nPRINT @@ERROR\n"
              "BEGIN TRY\n    RAISERROR('caught %s', 16, 2, 'here')\nEND TRY\nBEGIN CATCH\n"
              "    PRINT CONCAT(ERROR_NUMBER(), ' ', ERROR_SEVERITY(), ' ', ERROR_STATE(), ' ', ERROR_MESSAGE())\n"
              "END CATCH\n"
              "BEGIN TRY\n    RAISERROR('too high', 30, 1)\nEND TRY\nBEGIN CATCH\n    PRINT ERROR_NUMBER()\nEND CATCH")
    assert printed(sandbox, script) == ["note 5", "0", "low", "flagged", "50000", "50000 16 2 caught here", "2754"]


def test_raiserror_above_18_needs_with_log(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "RAISERROR('x', 19, 1)")
    assert error.number == 2754 and "WITH LOG" in error.message


# -- compatibility views ---------------------------------------------------------------------------------------
def test_sysobjects_and_syscolumns(sandbox: SandboxTarget) -> None:
    script = ("CREATE TABLE dbo.K (id INT NOT NULL PRIMARY KEY, name NVARCHAR(20) NULL)\n"
              "IF EXISTS (SELECT * FROM dbo.sysobjects WHERE name = 'K' AND xtype = 'U') PRINT 'table'\n"
              "IF NOT EXISTS (SELECT * FROM sysobjects WHERE name = 'Nope') PRINT 'no such'\n"
              "SELECT c.name, c.length, c.isnullable FROM syscolumns AS c JOIN sys.sysobjects AS o ON o.id = c.id "
              "WHERE o.name = 'K' ORDER BY c.colid")
    result = ok(sandbox, script)
    assert [m.text for m in result.messages] == ["table", "no such"]
    assert list(result.result_sets[-1].rows) == [("id", 4, 0), ("name", 40, 1)]
