"""The embedded T-SQL runner's control flow: variables, IF/WHILE, TRY/CATCH, THROW/RAISERROR, transactions.

Scripts run through an in-memory SandboxTarget, as a user's script would; what PRINT says is the
observable result.
"""

from __future__ import annotations

import pytest
from test_tsql_support import failure, printed, run

from pytest_opus.errors import ScriptError
from pytest_opus.targets.sandbox import SandboxTarget


@pytest.fixture
def sandbox() -> SandboxTarget:
    return SandboxTarget()


PRINT_CASES = [
    # variables: DECLARE with and without a value, SET, compound assignment, truncation to the type
    ("DECLARE @a INT; PRINT @a;", [""]),
    ("DECLARE @a INT = 4; SET @a = @a * 2; PRINT @a;", ["8"]),
    ("DECLARE @a INT = 1; SET @a += 2; SET @a -= 1; SET @a *= 10; PRINT @a;", ["20"]),
    ("DECLARE @s NVARCHAR(20) = N'ab'; SET @s += N'cd'; PRINT @s;", ["abcd"]),
    ("DECLARE @s VARCHAR(5) = 'abcdefgh'; PRINT @s;", ["abcde"]),
    ("DECLARE @s VARCHAR(3); SET @s = 'xy'; SET @s += 'zzz'; PRINT @s;", ["xyz"]),
    ("DECLARE @s NVARCHAR(MAX) = N'" + "x" * 5000 + "'; PRINT LEN(@s);", ["5000"]),
    ("DECLARE @a INT = 1, @b VARCHAR(10) = 'two', @c BIT = 5; PRINT @a; PRINT @b; PRINT @c;", ["1", "two", "1"]),
    ("DECLARE @i INT = '42'; PRINT @i + 1;", ["43"]),
    # PRINT converts as CAST does: a decimal keeps its scale (SQL Server prints 2.50)
    ("DECLARE @d DECIMAL(10,2) = 2.5; PRINT @d; PRINT CAST(@d * 2 AS DECIMAL(10,2));", ["2.50", "5.00"]),
    ("DECLARE @d DECIMAL(10,2) = 2.5; IF @d = 2.5 PRINT 'eq'; IF @d < 10 PRINT 'lt'; IF @d > 2 PRINT 'gt';",
     ["eq", "lt", "gt"]),
    ("DECLARE @n INT = (SELECT 3); PRINT @n;", ["3"]),
    ("DECLARE @s VARCHAR(10) = NULL; SET @s += 'x'; PRINT ISNULL(@s, 'null');", ["null"]),
    ("DECLARE @d DECIMAL(10,2) = 1.5; SET @d += 1.25; PRINT @d;", ["2.75"]),
    ("DECLARE @i INT = 7; SET @i /= 2; PRINT @i;", ["3"]),
    # PRINT of NULL and of numbers
    ("PRINT NULL;", [""]),
    ("PRINT 7; PRINT 1.5; PRINT -3;", ["7", "1.5", "-3"]),
    ("PRINT N'ünïcode';", ["ünïcode"]),
    # IF / ELSE, nested, with and without BEGIN ... END
    ("IF 1 = 1 PRINT 'yes'; ELSE PRINT 'no';", ["yes"]),
    ("IF 1 = 2 PRINT 'yes' ELSE PRINT 'no'", ["no"]),
    ("IF 1 = 1 BEGIN IF 2 = 3 PRINT 'a' ELSE PRINT 'b' END ELSE PRINT 'c';", ["b"]),
    ("IF 1 = 2 PRINT 'a' ELSE IF 2 = 2 PRINT 'b' ELSE PRINT 'c'", ["b"]),
    ("IF NULL = NULL PRINT 'equal' ELSE PRINT 'unknown'", ["unknown"]),
    ("IF EXISTS (SELECT 1 WHERE 1 = 0) PRINT 'rows' ELSE PRINT 'none'", ["none"]),
    ("IF 1 = 1\nBEGIN\n    PRINT 'one';\n    PRINT 'two';\nEND", ["one", "two"]),
    ("BEGIN PRINT 'a'; BEGIN PRINT 'b'; END END", ["a", "b"]),
    # WHILE
    ("DECLARE @i INT = 0; WHILE @i < 3 BEGIN SET @i += 1; PRINT @i; END", ["1", "2", "3"]),
    ("DECLARE @i INT = 5; WHILE @i < 3 PRINT 'never'; PRINT 'done';", ["done"]),
    # TRY / CATCH and the error functions (ERROR_LINE counts from the start of the batch)
    ("BEGIN TRY\n    THROW 50001, 'boom', 1;\nEND TRY\nBEGIN CATCH\n"
     "    PRINT ERROR_MESSAGE(); PRINT ERROR_NUMBER(); PRINT ERROR_LINE(); PRINT ERROR_SEVERITY();\nEND CATCH",
     ["boom", "50001", "2", "16"]),
    ("PRINT 'x'\nGO\nBEGIN TRY\n    SELECT * FROM dbo.nowhere;\nEND TRY\nBEGIN CATCH\n"
     "    PRINT ERROR_NUMBER(); PRINT ERROR_LINE(); PRINT ERROR_MESSAGE();\nEND CATCH",
     ["x", "208", "2", "Invalid object name 'dbo.nowhere'."]),
    ("BEGIN TRY PRINT 'body'; END TRY BEGIN CATCH PRINT 'handler'; END CATCH", ["body"]),
    ("BEGIN TRY\n  BEGIN TRY THROW 50002, 'inner', 1; END TRY\n  BEGIN CATCH THROW 50003, 'outer', 1; END CATCH\n"
     "END TRY\nBEGIN CATCH PRINT ERROR_MESSAGE(); PRINT ERROR_NUMBER(); END CATCH", ["outer", "50003"]),
    ("BEGIN TRY\n  BEGIN TRY THROW 50002, 'inner', 1; END TRY\n  BEGIN CATCH THROW; END CATCH\n"
     "END TRY\nBEGIN CATCH PRINT ERROR_MESSAGE(); PRINT ERROR_LINE(); END CATCH", ["inner", "2"]),
    ("PRINT ISNULL(ERROR_MESSAGE(), 'no error outside CATCH');", ["no error outside CATCH"]),
    ("DECLARE @m NVARCHAR(100) = CONCAT(N'bad ', 42);\nBEGIN TRY THROW 50100, @m, 3; END TRY\n"
     "BEGIN CATCH PRINT ERROR_MESSAGE(); PRINT ERROR_STATE(); END CATCH", ["bad 42", "3"]),
    ("BEGIN TRY RAISERROR('r %s', 16, 1, 'x'); END TRY BEGIN CATCH PRINT ERROR_MESSAGE(); "
     "PRINT ERROR_NUMBER(); END CATCH", ["r x", "50000"]),
    ("BEGIN TRY DECLARE @i INT = 'abc'; END TRY BEGIN CATCH PRINT ERROR_NUMBER(); END CATCH", ["245"]),
    # transactions and @@TRANCOUNT (a script already runs inside one transaction)
    ("PRINT @@TRANCOUNT; BEGIN TRAN; PRINT @@TRANCOUNT; BEGIN TRANSACTION named; PRINT @@TRANCOUNT;"
     " COMMIT; PRINT @@TRANCOUNT; COMMIT TRANSACTION; PRINT @@TRANCOUNT;", ["1", "2", "3", "2", "1"]),
    ("PRINT XACT_STATE();", ["1"]),
]


@pytest.mark.parametrize(("script", "expected"), PRINT_CASES, ids=[c[0][:50] for c in PRINT_CASES])
def test_printed_output(sandbox: SandboxTarget, script: str, expected: list[str]) -> None:
    assert printed(sandbox, script) == expected


def test_print_and_raiserror_messages_carry_their_line(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "PRINT 'one';\n\nRAISERROR('note %d of %s', 10, 1, 2, 'three');\nPRINT 'after';")
    assert result.ok
    assert [(m.kind, m.text, m.line) for m in result.messages] == [
        ("print", "one", 1), ("info", "note 2 of three", 3), ("print", "after", 4),
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("RAISERROR('plain', 11, 1)", "plain"),
        ("RAISERROR('%s has %d rows', 16, 1, 'dbo.T', 7)", "dbo.T has 7 rows"),
        ("RAISERROR(N'null arg: %s', 16, 1, NULL)", "null arg: (null)"),
        ("RAISERROR('100%% sure', 16, 1)", "100% sure"),
        ("RAISERROR('hex %x', 18, 1, 255)", "hex ff"),
    ],
)
def test_raiserror_at_severity_11_and_above_is_an_error(sandbox: SandboxTarget, call: str, message: str) -> None:
    error = failure(sandbox, f"PRINT 'before';\n{call};\nPRINT 'never';")
    assert error.message == message
    assert error.line == 2


def test_throw_outside_catch_is_an_error_with_its_line(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nTHROW 50001, N'stop here', 1;\nPRINT 2;")
    assert (error.message, error.number, error.line) == ("stop here", 50001, 2)
    assert str(error) == "t.sql:2 (batch 1): stop here"


def test_bare_throw_outside_catch_is_refused(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nTHROW;")
    assert error.number == 10704 and error.line == 2


def test_bare_throw_in_catch_rethrows_the_original_error(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "BEGIN TRY\n    THROW 50007, 'original', 1;\nEND TRY\nBEGIN CATCH\n"
                          "    PRINT 'cleaning up';\n    THROW;\nEND CATCH")
    assert [m.text for m in result.messages] == ["cleaning up"]
    assert result.error is not None
    assert (result.error.message, result.error.number, result.error.line) == ("original", 50007, 2)


def test_throw_number_below_50000_is_refused(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "THROW 100, 'low', 1;")
    assert error.number == 35100


def test_error_in_catch_handler_propagates(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "BEGIN TRY\n  THROW 50001, 'first', 1;\nEND TRY\nBEGIN CATCH\n"
                             "  SELECT * FROM dbo.missing;\nEND CATCH")
    assert error.line == 5 and "missing" in error.message


def test_unbalanced_commit_is_an_error(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "PRINT 1;\nCOMMIT;")
    assert "unbalanced" in error.message


def test_commit_without_a_transaction_is_error_3902(sandbox: SandboxTarget) -> None:
    with pytest.raises(ScriptError) as raised:
        sandbox.execute("COMMIT TRANSACTION")
    assert raised.value.number == 3902


def test_rollback_undoes_everything_and_resets_trancount(sandbox: SandboxTarget) -> None:
    sandbox.execute("CREATE TABLE dbo.T (n INT)")
    sandbox.execute("BEGIN TRAN; INSERT INTO dbo.T VALUES (1); BEGIN TRAN; INSERT INTO dbo.T VALUES (2); ROLLBACK;")
    assert sandbox.engine.trancount == 0
    assert sandbox.execute("SELECT COUNT(*) FROM dbo.T") == [(0,)]
    sandbox.execute("BEGIN TRAN; INSERT INTO dbo.T VALUES (3); COMMIT;")
    assert sandbox.execute("SELECT n FROM dbo.T") == [(3,)]


def test_rollback_also_undoes_ddl(sandbox: SandboxTarget) -> None:
    sandbox.execute("BEGIN TRAN; CREATE TABLE dbo.Gone (n INT); ROLLBACK;")
    assert sandbox.catalog().table("Gone") is None


def test_failed_script_is_rolled_back_as_a_whole(sandbox: SandboxTarget) -> None:
    result = run(sandbox, "CREATE TABLE dbo.T (n INT);\nGO\nINSERT INTO dbo.T VALUES (1);\nGO\nTHROW 50001, 'x', 1;")
    assert result.error is not None and result.error.batch == 3 and result.error.line == 5
    assert not result.committed
    assert sandbox.catalog().table("T") is None


def test_undeclared_variable_is_error_137(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "DECLARE @a INT = 1;\nPRINT @b;")
    assert error.number == 137 and error.line == 2 and '"@b"' in error.message


def test_variables_do_not_survive_go(sandbox: SandboxTarget) -> None:
    error = failure(sandbox, "DECLARE @a INT = 1;\nGO\nPRINT @a;")
    assert error.number == 137 and error.batch == 2 and error.line == 3


@pytest.mark.parametrize(
    ("script", "line"),
    [
        ("PRINT 1;\nSELECT * FROM dbo.nowhere;", 2),
        ("IF 1 = 1\nBEGIN\n    PRINT 'x';\n    SELECT * FROM dbo.nowhere;\nEND", 4),
        ("IF 1 = 2\n    PRINT 'a';\nELSE\n    THROW 50001, 'in else', 1;", 4),
        ("DECLARE @i INT = 0;\nWHILE @i < 5\nBEGIN\n    SET @i += 1;\n    IF @i = 3\n"
         "        RAISERROR('at %d', 16, 1, @i);\nEND", 6),
        ("BEGIN TRY\n    PRINT 1;\nEND TRY\nBEGIN CATCH\n    PRINT 2;\nEND CATCH\nDECLARE @x INT = 'nan';", 7),
        ("PRINT 1\nGO\n\nCREATE TABLE dbo.T (n INT);\nCREATE TABLE dbo.T (n INT);", 5),
        ("PRINT 1;\n\n\nINSERT INTO dbo.missing\n    VALUES (1);", 4),
        ("DECLARE @a INT = 1;\nSET @a = @a +\n    @zzz;", 2),
    ],
)
def test_errors_name_the_failing_statements_line(sandbox: SandboxTarget, script: str, line: int) -> None:
    error = failure(sandbox, script)
    assert error.line == line, error
    assert str(error).startswith(f"t.sql:{line} ")


def test_select_assignment_reads_variables_and_accumulates_row_by_row() -> None:
    """`SELECT @a = expr FROM ...` with variables in expr; reading the assigned variable itself over several
    rows accumulates on SQL Server: string concatenation row by row, as SQL Server does; other forms are
    refused, never another value."""
    rows = "FROM (SELECT N'a' AS name UNION ALL SELECT N'b') AS x"
    assert printed(SandboxTarget(), f"DECLARE @s NVARCHAR(20) = N'', @t NVARCHAR(5) = N'z'\n"
                                    f"SELECT @s = @t + name {rows}\nPRINT @s") == ["zb"]
    assert printed(SandboxTarget(), "DECLARE @s NVARCHAR(20) = N'x'\n"
                                    "SELECT @s = @s + name FROM (SELECT N'a' AS name) AS x\nPRINT @s") == ["xa"]
    assert printed(SandboxTarget(), f"DECLARE @s NVARCHAR(20) = N''\nSELECT @s = @s + name {rows}\nPRINT @s") \
        == ["ab"]
    error = failure(SandboxTarget(), f"DECLARE @s NVARCHAR(20) = N''\nSELECT @s = name + @s {rows}\nPRINT @s")
    assert "not supported by the sandbox" in str(error) and "accumulates row by row" in str(error)
