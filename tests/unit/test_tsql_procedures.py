"""The embedded T-SQL runner's stored procedures and dynamic SQL."""

from __future__ import annotations

import pytest
from test_tsql_support import failure, ok, run

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget

PROCEDURE = """CREATE PROCEDURE dbo.Add_Them
    @a INT,
    @b INT = 10,
    @total INT = NULL OUTPUT,
    @label NVARCHAR(20) = N'sum'
AS
BEGIN
    SET NOCOUNT ON;
    IF @a < 0
        THROW 50001, N'Add_Them: @a must not be negative', 1;
    SET @total = @a + @b;
    SELECT @label AS label, @total AS total;
    RETURN @total * 2;
END
"""


@pytest.fixture
def sandbox() -> SandboxTarget:
    target = SandboxTarget()
    ok(target, PROCEDURE)
    return target


@pytest.mark.parametrize(
    ("call", "rows"),
    [
        ("EXEC dbo.Add_Them 1, 2;", [("sum", 3)]),
        ("EXEC dbo.Add_Them 1;", [("sum", 11)]),
        ("EXECUTE Add_Them @a = 5;", [("sum", 15)]),
        ("EXEC [dbo].[Add_Them] @b = 1, @a = 2;", [("sum", 3)]),
        ("EXEC dbo.add_them @A = 2, @Label = N'named';", [("named", 12)]),
        ("EXEC dbo.Add_Them 1, @label = 'mixed';", [("mixed", 11)]),
        ("EXEC dbo.Add_Them 4, 6;", [("sum", 10)]),
    ],
)
def test_arguments_by_position_name_and_default(sandbox: SandboxTarget, call: str, rows: list[tuple]) -> None:
    result = ok(sandbox, call)
    assert [(r.columns, r.rows) for r in result.result_sets] == [(("label", "total"), rows)]


def test_output_parameter_and_return_value(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "DECLARE @t INT, @rc INT;\nEXEC @rc = dbo.Add_Them @a = 3, @b = 4, @total = @t OUTPUT;\n"
                         "PRINT @t; PRINT @rc;")
    assert [m.text for m in result.messages] == ["7", "14"]


def test_output_is_only_copied_back_when_the_caller_says_output(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "DECLARE @t INT = -1;\nEXEC dbo.Add_Them 3, 4, @t;\nPRINT @t;")
    assert [m.text for m in result.messages] == ["-1"]


def test_return_without_value_is_zero(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE PROCEDURE dbo.Quiet AS BEGIN PRINT 'in'; RETURN; PRINT 'never'; END")
    result = ok(sandbox, "DECLARE @rc INT = 99; EXEC @rc = dbo.Quiet; PRINT @rc;")
    assert [m.text for m in result.messages] == ["in", "0"]


def test_procedure_variables_are_private(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE PROCEDURE dbo.Peek AS PRINT @outer;")
    error = failure(sandbox, "DECLARE @outer INT = 1;\nEXEC dbo.Peek;")
    assert error.number == 137


@pytest.mark.parametrize(
    ("call", "number", "text"),
    [
        ("EXEC dbo.Add_Them @b = 1;", 201, "expects parameter '@a', which was not supplied"),
        ("EXEC dbo.Add_Them 1, 2, NULL, 'x', 5;", 8144, "too many arguments"),
        ("EXEC dbo.Add_Them @a = 1, @nope = 2;", 8145, "@nope is not a parameter"),
        ("EXEC dbo.No_Such_Procedure;", 2812, "Could not find stored procedure 'dbo.No_Such_Procedure'"),
        ("EXEC dbo.Add_Them @a = 'abc';", 245, "Conversion failed"),
    ],
)
def test_bad_calls(sandbox: SandboxTarget, call: str, number: int, text: str) -> None:
    error = failure(sandbox, f"PRINT 'start';\n{call}")
    assert error.number == number and text in error.message
    assert error.line == 2


def test_error_inside_a_procedure_names_the_call_and_the_procedure_line(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 'start';\n\nEXEC dbo.Add_Them @a = -1;")
    assert error.line == 3
    assert error.message == "Add_Them: @a must not be negative (in Add_Them, line 10)"


def test_procedure_errors_can_be_caught(sandbox: SandboxTarget) -> None:
    result = ok(sandbox, "BEGIN TRY EXEC dbo.Add_Them -1; END TRY\n"
                         "BEGIN CATCH PRINT ERROR_PROCEDURE(); PRINT ERROR_LINE(); PRINT ERROR_NUMBER(); END CATCH")
    assert [m.text for m in result.messages] == ["Add_Them", "10", "50001"]


def test_create_refuses_an_existing_procedure(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "CREATE PROCEDURE dbo.Add_Them AS PRINT 1;")
    assert error.number == 2714 and error.line == 1


def test_create_or_alter_and_alter_replace_the_body(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE OR ALTER PROCEDURE dbo.Add_Them @a INT AS PRINT 'v2';")
    assert [m.text for m in ok(sandbox, "EXEC dbo.Add_Them 1;").messages] == ["v2"]
    ok(sandbox, "ALTER PROCEDURE dbo.Add_Them @a INT, @b INT AS PRINT 'v3';")
    assert [m.text for m in ok(sandbox, "EXEC dbo.Add_Them 1, 2;").messages] == ["v3"]
    proc = sandbox.catalog().procedure("Add_Them")
    assert proc is not None and [p.name for p in proc.parameters] == ["@a", "@b"]


def test_create_or_alter_creates_a_missing_procedure(sandbox: SandboxTarget) -> None:
    ok(sandbox, "CREATE OR ALTER PROC dbo.Fresh AS PRINT 'fresh';")
    assert [m.text for m in ok(sandbox, "EXEC dbo.Fresh").messages] == ["fresh"]


def test_alter_of_a_missing_procedure_fails(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "ALTER PROCEDURE dbo.Missing AS PRINT 1;")
    assert "Missing" in error.message and error.line == 1


def test_procedure_must_be_first_in_its_batch(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nCREATE PROCEDURE dbo.Late AS PRINT 2;")
    assert error.line == 2 and error.number == 111
    assert error.message == "'CREATE/ALTER PROCEDURE' must be the first statement in a query batch."


def test_drop_procedure(sandbox: SandboxTarget) -> None:
    ok(sandbox, "DROP PROCEDURE dbo.Add_Them; DROP PROCEDURE IF EXISTS dbo.Add_Them;")
    assert sandbox.catalog().procedure("Add_Them") is None
    assert failure(sandbox, "DROP PROCEDURE dbo.Add_Them;").number == 3701


def test_procedure_with_a_transaction_and_rowcount() -> None:
    target = SandboxTarget()
    ok(target, "CREATE TABLE dbo.T (id INT NOT NULL, status VARCHAR(10) NULL);\n"
               "INSERT INTO dbo.T VALUES (1, 'a'), (2, 'a'), (3, 'b');")
    ok(target, "CREATE PROCEDURE dbo.Mark @from VARCHAR(10), @changed INT OUTPUT AS\nBEGIN\n"
               "    BEGIN TRY\n        BEGIN TRANSACTION;\n"
               "        UPDATE dbo.T SET status = 'done' WHERE status = @from;\n"
               "        SET @changed = @@ROWCOUNT;\n        COMMIT TRANSACTION;\n    END TRY\n    BEGIN CATCH\n"
               "        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;\n        THROW;\n    END CATCH\nEND")
    result = ok(target, "DECLARE @n INT; EXEC dbo.Mark 'A', @n OUTPUT; PRINT @n;")
    assert [m.text for m in result.messages] == ["2"]
    assert target.execute("SELECT id FROM dbo.T WHERE status = 'done' ORDER BY id") == [(1,), (2,)]


# -- dynamic SQL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "rows"),
    [
        ("DECLARE @sql NVARCHAR(MAX) = N'SELECT 42 AS answer';\nEXEC(@sql);", [(42,)]),
        ("EXEC(N'SELECT ' + N'1 + 1 AS answer');", [(2,)]),
        ("EXEC sp_executesql N'SELECT @p * 2 AS answer', N'@p INT', @p = 21;", [(42,)]),
        ("DECLARE @s NVARCHAR(100) = N'SELECT @a + @b AS answer';\n"
         "EXEC sp_executesql @s, N'@a INT, @b INT', 40, @b = 2;", [(42,)]),
        ("EXEC sp_executesql N'SELECT 42 AS answer';", [(42,)]),
        ("EXEC sys.sp_executesql N'SELECT LEN(@t) AS answer', N'@t NVARCHAR(50)', @t = N'forty-two';", [(9,)]),
    ],
)
def test_dynamic_sql(sandbox: SandboxTarget, script: str, rows: list[tuple]) -> None:
    result = ok(sandbox, script)
    assert [r.rows for r in result.result_sets] == [rows]


def test_dynamic_sql_does_not_see_the_callers_variables(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "DECLARE @x INT = 1;\nEXEC(N'PRINT @x');")
    assert error.number == 137 and error.line == 2


def test_dynamic_sql_runs_ddl_and_several_statements(sandbox: SandboxTarget) -> None:
    ok(sandbox, "DECLARE @ddl NVARCHAR(MAX) = N'CREATE TABLE dbo.Dyn (n INT); INSERT INTO dbo.Dyn VALUES (5);';\n"
                "EXEC sp_executesql @ddl;")
    assert sandbox.execute("SELECT n FROM dbo.Dyn") == [(5,)]


def test_error_in_dynamic_sql_is_reported_at_the_exec(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nEXEC(N'SELECT 1;\nTHROW 50009, ''dynamic'', 1;');")
    assert error.line == 2 and error.message == "dynamic (in dynamic SQL, line 2)"


def test_system_procedures_are_outside_the_subset(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "PRINT 1;\nEXEC sp_rename 'dbo.T', 'U';")
    assert isinstance(result.error, UnsupportedConstruct)
    assert result.error.line == 2 and "not supported by the sandbox: " in result.error.message
