"""The static subset check: every script in sql/ stays inside the subset, and planted constructs
outside it are each reported with their line, without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql.subset import check_subset

SQL = Path(__file__).resolve().parents[2] / "sql"
SCRIPTS = sorted(SQL.rglob("*.sql"))
NOT_SUPPORTED = "not supported by the sandbox: "


def test_there_are_scripts_to_check() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"deploy_opus_update_boards.sql", "validate_ddl_changes.sql", "rollback_opus_update_boards.sql",
            "010_staging_tables.sql"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(SQL)) for p in SCRIPTS])
def test_every_project_script_is_inside_the_subset(script: Path) -> None:
    assert check_subset(script.read_text(encoding="utf-8-sig"), str(script)) == []


# Each construct sits on line 3 of its script, so a report at any other line is wrong.
PLANTED = [
    ("MERGE", "MERGE INTO dbo.T AS t USING dbo.S AS s ON t.id = s.id WHEN MATCHED THEN UPDATE SET t.n = s.n;"),
    ("cursors", "DECLARE c CURSOR FOR SELECT id FROM dbo.T;"),
    ("cursors", "DECLARE @c CURSOR;"),
    ("USE master", "USE master;"),
    ("filegroup FG_DATA", "CREATE TABLE dbo.U (n INT) ON [FG_DATA];"),
    ("index option IGNORE_DUP_KEY = ON", "CREATE INDEX IX_T_n ON dbo.T (n) WITH (IGNORE_DUP_KEY = ON);"),
    ("a NONCLUSTERED primary key", "CREATE TABLE dbo.U (n INT NOT NULL PRIMARY KEY NONCLUSTERED);"),
    ("INCLUDE columns", "CREATE TABLE dbo.U (n INT, m INT, INDEX IX_U (n) INCLUDE (m));"),
    ("TRY_CAST", "SELECT TRY_CAST(n AS VARCHAR(10)) AS n FROM dbo.T;"),
    ("function FORMAT_MESSAGE()", "SELECT FORMAT_MESSAGE('x %s', 'y') AS m;"),
    ("function FORMAT()", "PRINT FORMAT(1.5, 'N2');"),
    ("system procedure sp_rename", "EXEC sp_rename 'dbo.T.n', 'm', 'COLUMN';"),
    ("three-part names", "SELECT * FROM dms.dbo.T;"),
    ("three-part names", "INSERT INTO dms.dbo.T (id) VALUES (1);"),
    ("schema staging", "SELECT * FROM staging.T;"),
    ("schema staging", "CREATE TABLE staging.T2 (n INT);"),
    ("schema staging", "EXEC staging.DoIt;"),
    ("OUTPUT clause", "INSERT INTO dbo.T (id) OUTPUT inserted.id VALUES (1);"),
    ("OUTPUT clause", "UPDATE dbo.T SET n = 1 OUTPUT inserted.id WHERE id = 1;"),
    ("@@FETCH_STATUS", "IF @@FETCH_STATUS = 0 PRINT 'x';"),
    ("type XML", "DECLARE @x XML;"),
    ("type SQL_VARIANT", "DECLARE @v INT, @w SQL_VARIANT;"),
    ("CREATE TRIGGER", "CREATE TRIGGER dbo.TR ON dbo.T AFTER INSERT AS PRINT 1;"),
    ("SET DATEFORMAT", "SET DATEFORMAT dmy;"),
    ("WAITFOR", "WAITFOR DELAY '00:00:01';"),
]
PREAMBLE = "CREATE TABLE dbo.T (id INT NULL, n INT NULL);\nCREATE TABLE dbo.S (id INT NULL, n INT NULL);\n"


@pytest.mark.parametrize(("construct", "statement"), PLANTED, ids=[s[:40] for _, s in PLANTED])
def test_a_planted_construct_is_reported_at_its_line(construct: str, statement: str) -> None:
    problems = check_subset(PREAMBLE + statement + "\nPRINT 'after';\n", "planted.sql")
    assert len(problems) == 1, problems
    problem = problems[0]
    assert isinstance(problem, UnsupportedConstruct)
    assert (problem.source, problem.line) == ("planted.sql", 3)
    assert construct in problem.message and NOT_SUPPORTED in problem.message
    assert str(problem).startswith("not supported by the sandbox: ") and " at planted.sql:3, " in str(problem)


@pytest.mark.parametrize(("construct", "statement"), PLANTED, ids=[s[:40] for _, s in PLANTED])
def test_running_the_planted_construct_fails_the_same_way(construct: str, statement: str) -> None:
    target = SandboxTarget()
    result = target.execute_script(PREAMBLE + statement + "\nPRINT 'after';\n", source="planted.sql")
    assert isinstance(result.error, UnsupportedConstruct), result.summary()
    assert result.error.line == 3 and construct in result.error.message
    assert not result.committed and target.catalog().table("T") is None


@pytest.mark.parametrize(
    "wrap",
    [
        "IF 1 = 1\nBEGIN\n    {0}\nEND",
        "BEGIN TRY\n    PRINT 1;\n    {0}\nEND TRY\nBEGIN CATCH\n    THROW;\nEND CATCH",
        "CREATE PROCEDURE dbo.P @a INT = 1\nAS\n    {0}",
        "DECLARE @i INT = 0;\nWHILE @i < 1\n    {0}",
    ],
    ids=["if-block", "try", "procedure-body", "while"],
)
@pytest.mark.parametrize(
    ("construct", "statement"),
    [("MERGE", "MERGE INTO dbo.T AS t USING dbo.S AS s ON t.id = s.id WHEN MATCHED THEN DELETE;"),
     ("SAVE TRANSACTION", "SAVE TRANSACTION s;"),
     ("TRY_CAST", "SELECT TRY_CAST('1' AS INT) AS n;"),
     ("sp_rename", "EXEC sp_rename 'dbo.T', 'U';")],
    ids=["merge", "save-transaction", "try-cast", "sp_rename"],
)
def test_nested_constructs_are_found(wrap: str, construct: str, statement: str) -> None:
    script = wrap.format(statement)
    line = next(i for i, text in enumerate(script.splitlines(), start=1) if statement in text)
    problems = check_subset(script, "nested.sql")
    assert [(p.line, construct in p.message) for p in problems] == [(line, True)]


def test_every_problem_is_reported_not_only_the_first() -> None:
    script = (
        "SELECT TRY_CAST('1' AS INT) AS n;\n"  # 1
        "GO\n"
        "USE master;\n"  # 3
        "PRINT 'fine';\n"
        "IF 1 = 1\n"
        "BEGIN\n"
        "    MERGE INTO dbo.T AS t USING dbo.S AS s ON t.id = s.id WHEN MATCHED THEN DELETE;\n"  # 7
        "    SELECT * FROM other.Things;\n"  # 8
        "END\n"
        "GO\n"
        "CREATE OR ALTER PROCEDURE dbo.P AS\n"
        "BEGIN\n"
        "    EXEC sp_rename 'dbo.T', 'U';\n"  # 13
        "    SELECT FORMAT_MESSAGE('x') AS m;\n"  # 14
        "END\n"
    )
    problems = check_subset(script, "many.sql")
    assert [p.line for p in problems] == [1, 3, 7, 8, 13, 14]
    assert all(NOT_SUPPORTED in p.message and p.source == "many.sql" for p in problems)


def test_statements_need_no_semicolons() -> None:
    assert check_subset("PRINT 1\nSELECT 1 AS a SELECT 2 AS b\nSET NOCOUNT ON\nDECLARE @a INT, @b INT\nSELECT @a",
                        "semi.sql") == []
    problems = check_subset("PRINT 1\nSELECT 1 AS a SELECT TRY_CAST('1' AS INT) AS b", "semi.sql")
    assert [p.line for p in problems] == [2] and "TRY_CAST" in problems[0].construct


def test_dynamic_sql_is_checked_when_it_runs() -> None:
    script = "DECLARE @sql NVARCHAR(MAX) = N'MERGE INTO dbo.T USING dbo.S ON 1 = 1 WHEN MATCHED THEN DELETE;';\n" \
             "EXEC sp_executesql @sql;"
    assert check_subset(script, "dynamic.sql") == []
    result = SandboxTarget().execute_script(PREAMBLE + script, source="dynamic.sql")
    assert isinstance(result.error, UnsupportedConstruct) and result.error.line == 4


def test_a_script_that_does_not_parse_is_a_syntax_error() -> None:
    with pytest.raises(ScriptError, match="BEGIN without END"):
        check_subset("PRINT 1;\nIF 1 = 1\nBEGIN\n    PRINT 2;\n", "broken.sql")
    with pytest.raises(ScriptError, match="GO must be alone"):
        check_subset("PRINT 1;\nGO;\n", "broken.sql")
