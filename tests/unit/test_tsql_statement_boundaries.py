"""Statement boundaries without semicolons, as SQL Server's parser finds them; syntax errors reported
as syntax errors at their own line; the runner's nesting limits and the WHILE loop's budget.

The parser (pytest_opus/tsql/parser.py) is checked directly where the shape of the statement tree is
the point, and through an in-memory sandbox where what runs is.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pytest_opus.confirm import destructive_changes
from pytest_opus.effects import script_effects
from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import engine, parser
from pytest_opus.tsql.parser import (
    Block,
    Declare,
    Exec,
    If,
    LimitExceeded,
    Print,
    Raiserror,
    Return,
    SetVariable,
    Skipped,
    Sql,
    Statement,
    Throw,
    Transaction,
    TryCatch,
    While,
    parse_batch,
)
from pytest_opus.tsql.subset import check_subset

# -- how a batch was cut ---------------------------------------------------------------------------


def describe(statement: Statement | None) -> str:
    """One statement as text a reader can check: its kind and its parts."""
    if statement is None:
        return "-"
    if isinstance(statement, Sql):
        return statement.text
    if isinstance(statement, Skipped):
        return f"SKIPPED {statement.text}"
    if isinstance(statement, Print):
        return f"PRINT {statement.expression}"
    if isinstance(statement, Declare):
        return "DECLARE " + ", ".join(f"{n} {t}" + (f" = {e}" if e else "") for n, t, e in statement.items)
    if isinstance(statement, SetVariable):
        return f"SET {statement.name} {statement.operator} {statement.expression}"
    if isinstance(statement, Exec):
        return f"EXEC {statement.procedure} " + ", ".join(e for _, e, _ in statement.arguments)
    if isinstance(statement, Raiserror | Throw):
        return f"{statement.text} " + ", ".join(statement.arguments)
    if isinstance(statement, Return):
        return f"RETURN {statement.expression or ''}".strip()
    if isinstance(statement, Transaction):
        return statement.text
    if isinstance(statement, If):
        return f"IF {statement.condition} [{describe(statement.then)}] ELSE [{describe(statement.otherwise)}]"
    if isinstance(statement, While):
        return f"WHILE {statement.condition} [{describe(statement.body)}]"
    if isinstance(statement, Block):
        return "BEGIN [" + " | ".join(describe(s) for s in statement.body) + "]"
    if isinstance(statement, TryCatch):
        return ("TRY [" + " | ".join(describe(s) for s in statement.body) + "] CATCH ["
                + " | ".join(describe(s) for s in statement.handler) + "]")
    return type(statement).__name__


def outline(script: str, *, collect: bool = False) -> list[tuple[int, str]]:
    found: list[UnsupportedConstruct] | None = [] if collect else None
    return [(s.line, describe(s)) for s in parse_batch(script, source="b.sql", collect=found).statements]


BOUNDARIES = [
    ("two SELECTs", "SELECT 1 SELECT 2", [(1, "SELECT 1"), (1, "SELECT 2")]),
    ("PRINT, SELECT", "PRINT 'x'\nSELECT 1", [(1, "PRINT 'x'"), (2, "SELECT 1")]),
    ("DECLARE list, SELECT", "DECLARE @a INT, @b INT\n\nSELECT @a",
     [(1, "DECLARE @a INT, @b INT"), (3, "SELECT @a")]),
    ("SET option, SELECT", "SET NOCOUNT ON\nSELECT 1", [(1, "SET NOCOUNT ON"), (2, "SELECT 1")]),
    ("SET variable, SELECT", "SET @a = (SELECT MAX(a) FROM dbo.T)\nSELECT @a",
     [(1, "SET @a = (SELECT MAX(a) FROM dbo.T)"), (2, "SELECT @a")]),
    ("SELECT assignment", "SELECT @a = 1, @b = 2\nSELECT @a", [(1, "SELECT @a = 1, @b = 2"), (2, "SELECT @a")]),
    ("INSERT ... SELECT", "INSERT INTO dbo.T (a)\nSELECT a FROM dbo.S\nSELECT 2",
     [(1, "INSERT INTO dbo.T (a)\nSELECT a FROM dbo.S"), (3, "SELECT 2")]),
    ("INSERT ... VALUES, SELECT", "INSERT dbo.T (a) VALUES (1), (2) SELECT 2",
     [(1, "INSERT dbo.T (a) VALUES (1), (2)"), (1, "SELECT 2")]),
    ("INSERT DEFAULT VALUES, SELECT", "INSERT INTO dbo.T DEFAULT VALUES SELECT 1",
     [(1, "INSERT INTO dbo.T DEFAULT VALUES"), (1, "SELECT 1")]),
    ("INSERT ... EXEC", "INSERT INTO dbo.T EXEC dbo.P 1\nPRINT 1",
     [(1, "INSERT INTO dbo.T EXEC dbo.P 1"), (2, "PRINT 1")]),
    ("INSERT ... SELECT UNION", "INSERT INTO dbo.T SELECT 1 UNION ALL SELECT 2\nSELECT 3",
     [(1, "INSERT INTO dbo.T SELECT 1 UNION ALL SELECT 2"), (2, "SELECT 3")]),
    ("subqueries", "SELECT (SELECT 1) AS a FROM (SELECT 2 AS b) AS s WHERE EXISTS (SELECT 3)\nDELETE FROM dbo.T",
     [(1, "SELECT (SELECT 1) AS a FROM (SELECT 2 AS b) AS s WHERE EXISTS (SELECT 3)"), (2, "DELETE FROM dbo.T")]),
    ("set operators", "SELECT 1 UNION SELECT 2 UNION ALL SELECT 3 EXCEPT SELECT 4 INTERSECT SELECT 5 SELECT 6",
     [(1, "SELECT 1 UNION SELECT 2 UNION ALL SELECT 3 EXCEPT SELECT 4 INTERSECT SELECT 5"), (1, "SELECT 6")]),
    ("query in parentheses", "(SELECT 1) UNION (SELECT 2)\nPRINT 1",
     [(1, "(SELECT 1) UNION (SELECT 2)"), (2, "PRINT 1")]),
    ("CREATE VIEW ... AS SELECT", "CREATE VIEW dbo.V AS\nSELECT 1 AS a UNION SELECT 2",
     [(1, "CREATE VIEW dbo.V AS\nSELECT 1 AS a UNION SELECT 2")]),
    ("CREATE OR ALTER VIEW ... AS WITH", "CREATE OR ALTER VIEW dbo.V AS WITH c AS (SELECT 1 AS a) SELECT a FROM c",
     [(1, "CREATE OR ALTER VIEW dbo.V AS WITH c AS (SELECT 1 AS a) SELECT a FROM c")]),
    ("SELECT INTO, DELETE FROM, TRUNCATE",
     "SELECT a INTO #t FROM dbo.T\nDELETE FROM #t WHERE a = 1\nTRUNCATE TABLE dbo.T",
     [(1, "SELECT a INTO #t FROM dbo.T"), (2, "DELETE FROM #t WHERE a = 1"), (3, "TRUNCATE TABLE dbo.T")]),
    ("UPDATE ... SET, SET", "UPDATE dbo.T SET a = 1, b = (SELECT 2) WHERE c IN (SELECT d FROM dbo.S)\nSET @x = 1",
     [(1, "UPDATE dbo.T SET a = 1, b = (SELECT 2) WHERE c IN (SELECT d FROM dbo.S)"), (2, "SET @x = 1")]),
    ("UPDATE ... FROM JOIN", "UPDATE t SET t.a = s.a FROM dbo.T AS t INNER JOIN dbo.S AS s ON s.id = t.id\nSELECT 1",
     [(1, "UPDATE t SET t.a = s.a FROM dbo.T AS t INNER JOIN dbo.S AS s ON s.id = t.id"), (2, "SELECT 1")]),
    ("UPDATE, SET option", "UPDATE dbo.T SET a = 1\nSET NOCOUNT OFF",
     [(1, "UPDATE dbo.T SET a = 1"), (2, "SET NOCOUNT OFF")]),
    ("CTE with UPDATE", "WITH c AS (SELECT a FROM dbo.T) UPDATE c SET a = 2\nSELECT 1",
     [(1, "WITH c AS (SELECT a FROM dbo.T) UPDATE c SET a = 2"), (2, "SELECT 1")]),
    ("CTEs with INSERT ... SELECT",
     "WITH c (a) AS (SELECT 1), d AS (SELECT 2 AS b)\nINSERT INTO dbo.T SELECT a FROM c UNION SELECT b FROM d\nPRINT 1",
     [(1, "WITH c (a) AS (SELECT 1), d AS (SELECT 2 AS b)\nINSERT INTO dbo.T SELECT a FROM c UNION SELECT b FROM d"),
      (3, "PRINT 1")]),
    ("CTE after ';'", "SELECT 1\n;WITH c AS (SELECT 1 AS a) SELECT a FROM c",
     [(1, "SELECT 1"), (2, "WITH c AS (SELECT 1 AS a) SELECT a FROM c")]),
    ("ALTER TABLE ... ALTER/DROP",
     "ALTER TABLE dbo.T ADD c INT NULL\nALTER TABLE dbo.T ALTER COLUMN c BIGINT\n"
     "ALTER TABLE dbo.T DROP COLUMN IF EXISTS c\nALTER TABLE dbo.T DROP CONSTRAINT DF_T_c, COLUMN d\n"
     "ALTER TABLE dbo.T DROP DF_T_e\nDROP TABLE IF EXISTS dbo.T",
     [(1, "ALTER TABLE dbo.T ADD c INT NULL"), (2, "ALTER TABLE dbo.T ALTER COLUMN c BIGINT"),
      (3, "ALTER TABLE dbo.T DROP COLUMN IF EXISTS c"), (4, "ALTER TABLE dbo.T DROP CONSTRAINT DF_T_c, COLUMN d"),
      (5, "ALTER TABLE dbo.T DROP DF_T_e"), (6, "DROP TABLE IF EXISTS dbo.T")]),
    ("ALTER TABLE ... SET (...)", "ALTER TABLE dbo.T SET (LOCK_ESCALATION = AUTO)\nSET NOCOUNT ON",
     [(1, "ALTER TABLE dbo.T SET (LOCK_ESCALATION = AUTO)"), (2, "SET NOCOUNT ON")]),
    ("foreign key actions",
     "ALTER TABLE dbo.T ADD CONSTRAINT FK_T FOREIGN KEY (s) REFERENCES dbo.S (id) ON DELETE CASCADE "
     "ON UPDATE SET NULL\nSELECT 1",
     [(1, "ALTER TABLE dbo.T ADD CONSTRAINT FK_T FOREIGN KEY (s) REFERENCES dbo.S (id) ON DELETE CASCADE "
          "ON UPDATE SET NULL"), (2, "SELECT 1")]),
    ("table hints, OFFSET ... FETCH, OPTION",
     "SELECT a FROM dbo.T WITH (NOLOCK) ORDER BY a OFFSET 0 ROWS FETCH NEXT 5 ROWS ONLY OPTION (RECOMPILE)\nSELECT 2",
     [(1, "SELECT a FROM dbo.T WITH (NOLOCK) ORDER BY a OFFSET 0 ROWS FETCH NEXT 5 ROWS ONLY OPTION (RECOMPILE)"),
      (2, "SELECT 2")]),
    ("CASE ... END", "SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END AS c FROM dbo.T\nPRINT 1",
     [(1, "SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END AS c FROM dbo.T"), (2, "PRINT 1")]),
    ("transactions", "BEGIN TRAN\nUPDATE dbo.T SET a = 1\nCOMMIT TRAN\nBEGIN TRANSACTION named\nROLLBACK",
     [(1, "BEGIN TRANSACTION"), (2, "UPDATE dbo.T SET a = 1"), (3, "COMMIT TRANSACTION"), (4, "BEGIN TRANSACTION"),
      (5, "ROLLBACK TRANSACTION")]),
    ("IF ... ELSE", "IF 1 = 1\n    PRINT 'a'\nELSE\n    SELECT 1\nSELECT 2",
     [(1, "IF 1 = 1 [PRINT 'a'] ELSE [SELECT 1]"), (5, "SELECT 2")]),
    ("IF EXISTS (subquery)", "IF EXISTS (SELECT 1 FROM dbo.T) DELETE FROM dbo.T\nPRINT 1",
     [(1, "IF EXISTS (SELECT 1 FROM dbo.T) [DELETE FROM dbo.T] ELSE [-]"), (2, "PRINT 1")]),
    ("IF, DROP TABLE IF EXISTS", "IF 1 = 1 DROP TABLE IF EXISTS dbo.T\nSELECT 1",
     [(1, "IF 1 = 1 [DROP TABLE IF EXISTS dbo.T] ELSE [-]"), (2, "SELECT 1")]),
    ("BEGIN ... END", "BEGIN\n    SELECT 1\n    PRINT 2\nEND\nSELECT 3",
     [(1, "BEGIN [SELECT 1 | PRINT 2]"), (5, "SELECT 3")]),
    ("WHILE", "WHILE @i < 3\n    SET @i += 1\nPRINT @i", [(1, "WHILE @i < 3 [SET @i += 1]"), (3, "PRINT @i")]),
    ("TRY ... CATCH", "BEGIN TRY\n    SELECT 1\n    SELECT 2\nEND TRY\nBEGIN CATCH\n    PRINT 3\nEND CATCH\nSELECT 4",
     [(1, "TRY [SELECT 1 | SELECT 2] CATCH [PRINT 3]"), (8, "SELECT 4")]),
    ("RAISERROR ... WITH", "RAISERROR('m', 10, 1) WITH NOWAIT\nSELECT 1",
     [(1, "RAISERROR 'm', 10, 1"), (2, "SELECT 1")]),
    ("EXEC", "EXEC dbo.P 1, N'x', @a = @b OUTPUT\nSELECT 1", [(1, "EXEC dbo.P 1, N'x', @b"), (2, "SELECT 1")]),
    ("EXEC with a name as a value", "EXEC dbo.P abc, [d e]", [(1, "EXEC dbo.P N'abc', N'd e'")]),
    ("RETURN", "RETURN\nSELECT 1", [(1, "RETURN"), (2, "SELECT 1")]),
    ("THROW after ';'", "SELECT 1;\nTHROW 50000, 'x', 1", [(1, "SELECT 1"), (2, "THROW 50000, 'x', 1")]),
    ("THROW after IF condition and in CATCH", "BEGIN TRY\n    IF 1 = 1 THROW 50000, 'x', 1\nEND TRY\n"
     "BEGIN CATCH\n    THROW\nEND CATCH",
     [(1, "TRY [IF 1 = 1 [THROW 50000, 'x', 1] ELSE [-]] CATCH [THROW ]")]),
    ("indexes", "DROP INDEX IX_T ON dbo.T\nCREATE INDEX IX_T ON dbo.T (a) WHERE a IS NOT NULL\nSELECT 1",
     [(1, "DROP INDEX IX_T ON dbo.T"), (2, "CREATE INDEX IX_T ON dbo.T (a) WHERE a IS NOT NULL"), (3, "SELECT 1")]),
    ("keywords in strings, names and comments", "SELECT 'SELECT' AS [SELECT] -- SELECT\n/* PRINT */ PRINT N'INSERT'",
     [(1, "SELECT 'SELECT' AS [SELECT]"), (2, "PRINT N'INSERT'")]),
    ("the first statement of a batch calls a procedure without EXEC", "dbo.P 1, @a\nSELECT 1",
     [(1, "EXEC dbo.P 1, @a"), (2, "SELECT 1")]),
]


@pytest.mark.parametrize(("script", "expected"), [c[1:] for c in BOUNDARIES], ids=[c[0] for c in BOUNDARIES])
def test_statement_boundaries(script: str, expected: list[tuple[int, str]]) -> None:
    assert outline(script) == expected


# Statements outside the subset are left out whole when the problems are collected (check_subset):
# their extent follows the same rules.
SKIPPED = [
    ("MERGE ends at its ';'",
     "MERGE dbo.T AS t USING dbo.S AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.a = s.a\n"
     "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id);\nSELECT 1",
     [(1, "SKIPPED MERGE dbo.T AS t USING dbo.S AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.a = s.a\n"
          "WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)"), (3, "SELECT 1")]),
    ("GRANT takes its permissions", "GRANT SELECT, INSERT, UPDATE ON dbo.T TO someone\nSELECT 1",
     [(1, "SKIPPED GRANT SELECT, INSERT, UPDATE ON dbo.T TO someone"), (2, "SELECT 1")]),
    ("a cursor takes its query", "DECLARE c CURSOR FOR SELECT a FROM dbo.T FOR UPDATE OF a\nSELECT 1",
     [(1, "SKIPPED DECLARE c CURSOR FOR SELECT a FROM dbo.T FOR UPDATE OF a"), (2, "SELECT 1")]),
    ("a function takes the batch", "CREATE FUNCTION dbo.f() RETURNS INT AS BEGIN RETURN 1 END\nSELECT 1",
     [(1, "SKIPPED CREATE FUNCTION dbo.f() RETURNS INT AS BEGIN RETURN 1 END\nSELECT 1")]),
    ("ALTER DATABASE ... SET ... WITH ROLLBACK",
     "ALTER DATABASE CURRENT SET SINGLE_USER WITH ROLLBACK IMMEDIATE\nSELECT 1",
     [(1, "SKIPPED ALTER DATABASE CURRENT SET SINGLE_USER WITH ROLLBACK IMMEDIATE"), (2, "SELECT 1")]),
]


@pytest.mark.parametrize(("script", "expected"), [c[1:] for c in SKIPPED], ids=[c[0] for c in SKIPPED])
def test_the_extent_of_a_statement_outside_the_subset(script: str, expected: list[tuple[int, str]]) -> None:
    assert outline(script, collect=True) == expected


# -- syntax errors: SQL Server's number and message, at the line of the offending token ----------------

CTE_AFTER_UNTERMINATED = ("Incorrect syntax near the keyword 'with'. If this statement is a common table "
                          "expression, an xmlnamespaces clause or a change tracking context clause, the previous "
                          "statement must be terminated with a semicolon.")
SYNTAX_ERRORS = [
    ("PRINT 1\nSELEC 1", 2, 102, "Incorrect syntax near 'SELEC'."),
    ("PRINT 1;\n  SELEC 1", 2, 102, "Incorrect syntax near 'SELEC'."),
    ("SET NOCOUNT ON\nSELEC 1", 2, 102, "Incorrect syntax near 'SELEC'."),
    ("DECLARE @a INT\n\nSELEC @a", 3, 102, "Incorrect syntax near 'SELEC'."),
    ("DECLARE @a INT = 1\n  selec @a", 2, 102, "Incorrect syntax near 'selec'."),
    ("DECLARE @a INT\nSET @a = 2\nPRNT @a", 3, 102, "Incorrect syntax near 'PRNT'."),
    ("IF 1 = 1 PRIN 'x'", 1, 102, "Incorrect syntax near 'PRIN'."),
    ("PRINT 1\nGO\nSELECT * FROM dbo.T\nEND", 4, 156, "Incorrect syntax near the keyword 'END'."),
    ("PRINT 1\nFROM dbo.T", 2, 156, "Incorrect syntax near the keyword 'FROM'."),
    ("IF 1 = 1;\nPRINT 1", 1, 102, "Incorrect syntax near ';'."),
    ("SELECT 1\nWITH c AS (SELECT 1 AS a) SELECT a FROM c", 2, 319, CTE_AFTER_UNTERMINATED),
    ("PRINT 1\nWITH c (a) AS (SELECT 1) SELECT a FROM c", 2, 319, CTE_AFTER_UNTERMINATED),
    ("EXEC dbo.P 1 + 1", 1, 102, "Incorrect syntax near '+'."),
    ("PRINT 1\nEXEC dbo.P\n    GETDATE()", 3, 102, "Incorrect syntax near '('."),
    ("SELEC * FROM dbo.T", 1, 102, "Incorrect syntax near '*'."),
    ("RAISERROR('m', 16, 1) foo", 1, 102, "Incorrect syntax near 'foo'."),
    ("PRINT 1\nCREATE VIEW dbo.V AS SELECT 1 AS a", 2, 111,
     "'CREATE VIEW' must be the first statement in a query batch."),
    ("CREATE VIEW dbo.V AS SELECT 1 AS a\nSELECT 2", 2, 156, "Incorrect syntax near the keyword 'SELECT'."),
    ("SELECT\n" + "CASE WHEN 1 = 1 THEN\n" * 11 + "1" + " END" * 11 + " AS a", 12, 125,
     "Case expressions may only be nested to level 10."),
]


@pytest.mark.parametrize(("script", "line", "number", "message"), SYNTAX_ERRORS, ids=[c[0][:40] for c in SYNTAX_ERRORS])
def test_a_syntax_error_is_sql_servers_at_its_line(script: str, line: int, number: int, message: str) -> None:
    result = SandboxTarget().execute_script("PRINT 'before'\nGO\n" + script, source="t.sql")
    error = result.error
    assert error is not None and not isinstance(error, UnsupportedConstruct)
    assert (error.line, error.number, error.message) == (line + 2, number, message)
    # the statement check and the effects reader see the same error (a syntax error is not collected)
    for read in (lambda: check_subset(script, "t.sql"), lambda: script_effects(script, "t.sql")):
        with pytest.raises(ScriptError) as raised:
            read()
        assert (raised.value.line, raised.value.number, raised.value.message) == (line, number, message)


def test_a_syntax_error_stops_its_batch_before_anything_of_it_runs() -> None:
    result = SandboxTarget().execute_script("PRINT 'first batch'\nGO\nPRINT 'ran'\nSELEC 1", source="t.sql")
    assert [m.text for m in result.messages] == ["first batch"]
    assert result.error is not None and result.error.line == 4 and not result.committed


def test_a_batch_that_begins_with_a_name_calls_that_procedure() -> None:
    # "You don't have to specify EXECUTE when the statement is the first one in a batch": a typo there
    # is a call of a procedure that does not exist, as on SQL Server.
    result = SandboxTarget().execute_script("PRINT 1\nGO\nSELEC 1", source="t.sql")
    assert result.error is not None and (result.error.line, result.error.number) == (3, 2812)
    assert result.error.message == "Could not find stored procedure 'SELEC'."
    sandbox = SandboxTarget()
    ok = sandbox.execute_script("CREATE PROCEDURE dbo.P @a INT AS SELECT @a * 2 AS doubled\nGO\ndbo.P 21",
                                source="t.sql")
    assert ok.error is None and ok.result_sets[0].rows == [(42,)]


def test_exec_arguments_are_values_names_or_default_as_in_sql_server() -> None:
    result = SandboxTarget().execute_script(
        "CREATE PROCEDURE dbo.P @a INT = 5, @b NVARCHAR(10) = N'x' AS SELECT @a AS a, @b AS b\nGO\n"
        "EXEC dbo.P 1, abc\nEXEC dbo.P @b = DEFAULT\nEXEC dbo.P -3, [q r]", source="t.sql")
    assert result.error is None, result.error
    assert [r.rows for r in result.result_sets] == [[(1, "abc")], [(5, "x")], [(-3, "q r")]]
    output = SandboxTarget().execute_script(
        "DECLARE @n INT\nEXEC sp_executesql N'SELECT @n = 1', N'@n INT OUTPUT', @n = @n OUTPUT", source="t.sql")
    assert isinstance(output.error, UnsupportedConstruct) and output.error.line == 2
    assert output.error.construct == "OUTPUT parameters of sp_executesql"


REFUSED = [
    ("SELECT 1\nTHROW 50000, 'x', 1", 2, "THROW after a statement not ended by ';'"),
    ("ROLLBACK\nTHROW", 2, "THROW after a statement not ended by ';'"),
    ("BEGIN TRY\n    SELECT 1\nEND TRY\nBEGIN CATCH\n    ROLLBACK TRANSACTION\n    THROW\nEND CATCH", 6,
     "ROLLBACK TRANSACTION THROW"),
    ("ROLLBACK TRANSACTION named", 1, "named transactions and savepoints"),
    ("again:\nPRINT 1", 1, "GOTO labels"),
    ("PRINT 1\nBACKUP DATABASE d TO DISK = N'x.bak'", 2, "statement starting with 'BACKUP'"),
    ("EXEC @name", 1, "EXEC of a procedure named by a variable"),
    ("EXEC dbo.P WITH RESULT SETS NONE", 1, "EXEC ... WITH RESULT SETS NONE"),
    ("PRINT 1\nEXEC dbo.P DEFAULT, 2", 2, "DEFAULT as a positional procedure argument"),
]


@pytest.mark.parametrize(("script", "line", "construct"), REFUSED, ids=[c[0][:40] for c in REFUSED])
def test_a_construct_outside_the_subset_is_refused_at_its_line(script: str, line: int, construct: str) -> None:
    result = SandboxTarget().execute_script(script, source="t.sql")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == line
    assert construct in result.error.construct
    problems = check_subset(script, "t.sql")
    assert [p.line for p in problems] == [line] and construct in problems[0].construct


# -- hypothesis: sequences of statements with and without semicolons -----------------------------------

# Each entry is one statement (some span lines). None begins with a name, THROW or WITH, which SQL
# Server accepts only after a ';' (tested above).
PARSED = [
    "SELECT 1 AS a",
    "SELECT a, b\n  FROM dbo.T\n WHERE a IN (SELECT a FROM dbo.S)",
    "SELECT a FROM dbo.T UNION ALL SELECT b FROM dbo.S",
    "INSERT INTO dbo.T (a) SELECT a FROM dbo.S",
    "INSERT INTO dbo.T (a)\nVALUES (1), (2)",
    "UPDATE dbo.T\n   SET a = a + 1\n WHERE b = 2",
    "DELETE FROM dbo.T WHERE a = 1",
    "PRINT N'done'",
    "PRINT 'a' + CAST(1 AS VARCHAR(10))",
    "DECLARE @v INT = 1, @w NVARCHAR(20)",
    "SET @v = (SELECT COUNT(*) FROM dbo.T)",
    "SET NOCOUNT ON",
    "IF @v > 0\n    PRINT 'positive'\nELSE\n    PRINT 'not'",
    "IF EXISTS (SELECT 1 FROM dbo.T) BEGIN\n  DELETE FROM dbo.T\n  PRINT 'x'\nEND",
    "WHILE @v < 3\n  SET @v += 1",
    "BEGIN TRAN",
    "COMMIT TRANSACTION",
    "EXEC dbo.P 1, N'x'",
    "RAISERROR('note %d', 10, 1, 5) WITH NOWAIT",
    "CREATE TABLE dbo.X (a INT NOT NULL)",
    "ALTER TABLE dbo.X ADD b INT NULL",
    "ALTER TABLE dbo.X DROP COLUMN b",
    "DROP TABLE IF EXISTS dbo.X",
    "TRUNCATE TABLE dbo.T",
    "SELECT a INTO #copy FROM dbo.T",
    "SELECT CASE WHEN a = 1 THEN 'one' ELSE 'other' END AS c FROM dbo.T",
    "BEGIN TRY\n  SELECT 1 AS a\nEND TRY\nBEGIN CATCH\n  PRINT ERROR_MESSAGE()\nEND CATCH",
    "RETURN",
]


def joined(items: list[str], separator: str) -> tuple[str, list[int]]:
    """The items as one batch, each followed by `separator` (";" or ""), one per line; and the line
    on which each item begins."""
    lines: list[int] = []
    line = 1
    for item in items:
        lines.append(line)
        line += item.count("\n") + 1
    return "\n".join(item + separator for item in items), lines


@settings(max_examples=300)
@given(st.lists(st.sampled_from(PARSED), min_size=1, max_size=12))
def test_without_semicolons_the_parser_sees_the_same_statements(items: list[str]) -> None:
    bare, lines = joined(items, "")
    terminated, _ = joined(items, ";")
    statements = parse_batch(bare, source="b.sql").statements
    assert statements == parse_batch(terminated, source="b.sql").statements
    assert [s.line for s in statements] == lines


# What runs on the sandbox: each entry stands alone (its variables are its own, named by its position).
RUNNABLE = [
    "SELECT a, b FROM dbo.T ORDER BY a",
    "SELECT a\n  FROM dbo.T\n WHERE a IN (SELECT a FROM dbo.S) ORDER BY a",
    "SELECT a FROM dbo.T UNION SELECT a FROM dbo.S",
    "INSERT INTO dbo.T (a, b) SELECT a, 0 FROM dbo.S",
    "INSERT INTO dbo.T (a, b)\nVALUES (7, 8)",
    "UPDATE dbo.T\n   SET b = b + 1\n WHERE a = 1",
    "DELETE FROM dbo.T WHERE a = 2",
    "PRINT N'done {n}'",
    "DECLARE @v{n} INT = {n}\nPRINT @v{n} * 2",
    "DECLARE @w{n} INT = 0\nWHILE @w{n} < 3\n    SET @w{n} += 1\nPRINT @w{n}",
    "SET NOCOUNT ON",
    "IF (SELECT COUNT(*) FROM dbo.T) > 1\n    PRINT 'many'\nELSE\n    PRINT 'few'",
    "SELECT a INTO #copy{n} FROM dbo.T\nSELECT COUNT(*) AS n FROM #copy{n}",
    "CREATE TABLE dbo.X{n} (a INT NOT NULL)\nALTER TABLE dbo.X{n} ADD b INT NULL\nDROP TABLE dbo.X{n}",
    "BEGIN TRAN\nUPDATE dbo.T SET b = 0 WHERE a = 3\nCOMMIT",
    "BEGIN TRY\n    SELECT 1 AS one\nEND TRY\nBEGIN CATCH\n    PRINT ERROR_MESSAGE()\nEND CATCH",
    "EXEC sp_executesql N'SELECT 2 AS two'",
    "RAISERROR('note %d', 10, 1, {n}) WITH NOWAIT",
    "GO",
]
# (an error planted in an entry's place: what SQL Server reports, at the entry's first line)
PLANTED = [
    ("RAISERROR('planted', 16, 1)", 50000, "planted"),
    ("SELECT a FROM dbo.Nowhere", 208, "Invalid object name 'dbo.Nowhere'."),
    ("END", 156, "Incorrect syntax near the keyword 'END'."),
]
SETUP = ("CREATE TABLE dbo.T (a INT NOT NULL, b INT NULL);\nCREATE TABLE dbo.S (a INT NOT NULL);\n"
         "INSERT INTO dbo.T (a, b) VALUES (1, 10), (2, 20), (3, 30);\nINSERT INTO dbo.S (a) VALUES (1), (4);\nGO\n")


def script(items: list[str], separator: str) -> tuple[str, list[int]]:
    """The items after SETUP; GO lines never carry the separator. Also the line each item begins on."""
    numbered = [item.replace("{n}", str(n)) for n, item in enumerate(items)]
    body, lines = joined(numbered, separator)
    body = body.replace("GO" + separator + "\n", "GO\n")
    if body.endswith("GO" + separator):
        body = body[: len(body) - len(separator)]
    offset = SETUP.count("\n")
    return SETUP + body, [line + offset for line in lines]


def observed(text: str) -> tuple[list[str], list[object], ScriptError | None]:
    result = SandboxTarget().execute_script(text, source="t.sql")
    return [m.text for m in result.messages], [(r.columns, r.rows) for r in result.result_sets], result.error


@settings(max_examples=40)
@given(st.lists(st.sampled_from(RUNNABLE), min_size=1, max_size=8))
def test_without_semicolons_the_runner_runs_the_same_statements(items: list[str]) -> None:
    bare, _ = script(items, "")
    terminated, _ = script(items, ";")
    messages, results, error = observed(bare)
    assert error is None, error
    assert (messages, results, error) == observed(terminated)


@settings(max_examples=40)
@given(st.lists(st.sampled_from(RUNNABLE), min_size=1, max_size=8), st.data())
def test_an_error_planted_in_statement_k_is_reported_at_its_line(items: list[str], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(items)), label="k")
    planted, number, message = data.draw(st.sampled_from(PLANTED), label="planted")
    items = [*items[:k], planted, *items[k:]]
    for separator in ("", ";"):
        text, lines = script(items, separator)
        _, _, error = observed(text)
        assert error is not None and not isinstance(error, UnsupportedConstruct), text
        assert (error.line, error.number, error.message) == (lines[k], number, message), text


# -- limits ---------------------------------------------------------------------------------------------


@pytest.fixture
def default_recursion_limit() -> Iterator[None]:
    """Start from Python's default limit: the parser must make the room deep input needs."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(saved)


# Hypothesis sets the recursion limit around each example and warns when a test changes it; the room
# is made once here, as the first parse in a process makes it (the test above starts from 1,000).
parser.make_recursion_room()


def nested(kinds: list[str], inner: str = "PRINT 'deep'") -> str:
    """Statements nested in one another, one per line from line 1: kinds are IF, WHILE, BEGIN, TRY."""
    head = {"IF": "IF 1 = 1", "WHILE": "WHILE 1 = 0", "BEGIN": "BEGIN", "TRY": "BEGIN TRY"}
    tail = {"IF": "", "WHILE": "", "BEGIN": "END", "TRY": "END TRY BEGIN CATCH END CATCH"}
    closing = [tail[k] for k in reversed(kinds) if tail[k]]
    return "\n".join([*(head[k] for k in kinds), inner, *closing])


def readers(text: str) -> list[object]:
    """What every reader of a script makes of it: the subset check, the effects reader, --confirm."""
    return [check_subset(text, "t.sql"), script_effects(text, "t.sql"), destructive_changes(text, "t.sql")]


LIMIT = parser.MAX_NESTED_STATEMENTS
KINDS = st.sampled_from(["IF", "WHILE", "BEGIN", "TRY"])


@settings(max_examples=60)
@given(st.integers(0, LIMIT + 100).flatmap(lambda depth: st.lists(KINDS, min_size=depth, max_size=depth)))
@example(["IF"] * (LIMIT - 1)).via("the deepest allowed")
@example(["BEGIN", "TRY", "WHILE", "IF"] * (LIMIT // 4)).via("one too deep")
def test_nesting_statements_is_limited_with_a_line(kinds: list[str]) -> None:
    text = nested(kinds)
    if len(kinds) < LIMIT:
        readers(text)  # no RecursionError, no limit
        return
    for read in (lambda: parse_batch(text, source="t.sql"), lambda: readers(text)):
        with pytest.raises(LimitExceeded) as raised:
            read()
        # the statement one level too deep, on the line after the last one allowed
        assert raised.value.line == LIMIT + 1
        assert f"nested deeper than {LIMIT} levels" in raised.value.construct


@pytest.mark.usefixtures("default_recursion_limit")
@pytest.mark.parametrize("depth", [LIMIT - 1, LIMIT, 3000])
def test_deeply_nested_ifs_run_or_are_refused_with_the_limit(depth: int) -> None:
    text = "DECLARE @i INT = 0\n" + nested(["IF"] * depth, "SET @i = 1") + "\nPRINT @i"
    result = SandboxTarget().execute_script(text, source="t.sql")
    if depth < LIMIT:
        assert result.error is None and [m.text for m in result.messages] == ["1"]
        readers(text)
    else:
        assert isinstance(result.error, UnsupportedConstruct) and not result.committed
        assert result.error.line == LIMIT + 2 and f"nested deeper than {LIMIT} levels" in result.error.construct


def parentheses(depth: int) -> str:
    """SELECT with `depth` parentheses around 1, the k-th on line k + 1."""
    return "SELECT\n" + "(\n" * depth + "1" + ")" * depth + " AS a"


@settings(max_examples=40)
@given(st.integers(0, parser.MAX_NESTED_PARENTHESES + 40))
@example(parser.MAX_NESTED_PARENTHESES).via("the deepest allowed")
@example(parser.MAX_NESTED_PARENTHESES + 1).via("one too deep")
def test_nesting_parentheses_is_limited_with_a_line(depth: int) -> None:
    text = parentheses(depth)
    result = SandboxTarget().execute_script(text, source="t.sql")
    if depth <= parser.MAX_NESTED_PARENTHESES:
        assert result.error is None and result.result_sets[0].rows == [(1,)]
        readers(text)
        return
    assert isinstance(result.error, UnsupportedConstruct)
    assert result.error.line == parser.MAX_NESTED_PARENTHESES + 2  # the first parenthesis too many
    assert f"nested deeper than {parser.MAX_NESTED_PARENTHESES} levels" in result.error.construct
    with pytest.raises(LimitExceeded):
        readers(text)


@pytest.mark.parametrize("depth", [1, parser.MAX_NESTED_CASE, parser.MAX_NESTED_CASE + 1])
def test_case_nests_ten_deep_as_in_sql_server(depth: int) -> None:
    text = "SELECT\n" + "CASE WHEN 1 = 1 THEN\n" * depth + "1" + " END" * depth + " AS a"
    result = SandboxTarget().execute_script(text, source="t.sql")
    if depth <= parser.MAX_NESTED_CASE:
        assert result.error is None and result.result_sets[0].rows == [(1,)]
    else:
        assert result.error is not None and (result.error.number, result.error.line) == (125, depth + 1)


# -- the WHILE loop's budget ----------------------------------------------------------------------------


def test_the_loop_budget_defaults_are_documented() -> None:
    sandbox = SandboxTarget()
    assert (sandbox.engine.loop_iterations, sandbox.engine.loop_seconds) == (engine.MAX_LOOP, engine.LOOP_SECONDS)
    assert (engine.MAX_LOOP, engine.LOOP_SECONDS) == (1_000_000, 30.0)


def test_a_loop_runs_up_to_its_iteration_budget_and_is_refused_past_it() -> None:
    sandbox = SandboxTarget()
    sandbox.engine.loop_iterations = 3
    loop = "DECLARE @i INT = 0\nWHILE @i < {n}\n    SET @i += 1\nPRINT @i"
    ok = sandbox.execute_script(loop.format(n=3), source="t.sql")
    assert ok.error is None and [m.text for m in ok.messages] == ["3"]
    refused = sandbox.execute_script(loop.format(n=4), source="t.sql")
    assert isinstance(refused.error, UnsupportedConstruct) and refused.error.line == 2
    assert "WHILE loop still running after 3 iterations" in refused.error.construct


def test_a_loop_past_its_time_budget_is_refused_at_its_line() -> None:
    sandbox = SandboxTarget()
    sandbox.engine.loop_seconds = 0  # every loop that runs at all is over budget at once
    never = sandbox.execute_script("WHILE 1 = 0\n    PRINT 'never'\nPRINT 'after'", source="t.sql")
    assert never.error is None and [m.text for m in never.messages] == ["after"]
    refused = sandbox.execute_script("PRINT 'before'\nWHILE 1 = 1\n    PRINT 'again'", source="t.sql")
    assert isinstance(refused.error, UnsupportedConstruct) and refused.error.line == 2
    assert "WHILE loop still running after 0 s" in refused.error.construct and not refused.committed


def test_a_stopped_loop_is_not_caught_by_try_catch_and_is_reported_at_the_exec() -> None:
    sandbox = SandboxTarget()
    sandbox.engine.loop_iterations = 2
    caught = sandbox.execute_script("BEGIN TRY\n    WHILE 1 = 1 PRINT 'x'\nEND TRY\nBEGIN CATCH\n    PRINT 'caught'\n"
                                    "END CATCH", source="t.sql")
    assert isinstance(caught.error, UnsupportedConstruct) and caught.error.line == 2
    assert "caught" not in [m.text for m in caught.messages]
    in_procedure = sandbox.execute_script(
        "CREATE PROCEDURE dbo.Spin AS\nWHILE 1 = 1\n    PRINT 'x'\nGO\n\nEXEC dbo.Spin", source="t.sql")
    assert isinstance(in_procedure.error, UnsupportedConstruct) and in_procedure.error.line == 6
