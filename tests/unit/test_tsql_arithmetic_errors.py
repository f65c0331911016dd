"""Arithmetic and numeric conversions in the embedded runner: SQL Server's value or error, or a refusal.

Each probe runs three ways: on the sandbox (sqlite3, with the runner's SQLite functions), on the same
sandbox without them (the plain-SQL form the ODBC target uses), and, where the driver is installed,
on the ODBC SQLite target itself. Every probe says what SQL Server documents; the plain form may
refuse a probe (it says so) but never answers differently.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.embedded import EmbeddedTarget
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import arithmetic, dialect
from pytest_opus.tsql.subset import check_subset

# Microsoft's pages the expected results come from
ERRORS_0 = "https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-0-to-999"
ERRORS_8000 = "https://learn.microsoft.com/en-us/sql/relational-databases/errors-events/database-engine-events-and-errors-8000-to-8999"
INT_TYPES = "https://learn.microsoft.com/en-us/sql/t-sql/data-types/int-bigint-smallint-and-tinyint-transact-sql"
DIVIDE = "https://learn.microsoft.com/en-us/sql/t-sql/language-elements/divide-transact-sql"
MODULO = "https://learn.microsoft.com/en-us/sql/t-sql/language-elements/modulo-transact-sql"
PRECEDENCE = "https://learn.microsoft.com/en-us/sql/t-sql/data-types/data-type-precedence-transact-sql"
CAST = "https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql"

SETUP = """CREATE TABLE dbo.Nums (i INT, b BIGINT, s SMALLINT, t TINYINT, d DECIMAL(10,2), f FLOAT,
                       v VARCHAR(20), n NVARCHAR(20));
INSERT INTO dbo.Nums VALUES (2147483647, 9223372036854775807, 32767, 255, 7.5, 1.5, 'abc', N'12');"""

REFUSED = "refused"
SAME = "same"


def error(number: int, message: str) -> tuple[int, str]:
    return number, message


OVERFLOW_INT = error(8115, "Arithmetic overflow error converting expression to data type int.")
OVERFLOW_BIGINT = error(8115, "Arithmetic overflow error converting expression to data type bigint.")
DIVIDE_BY_ZERO = error(8134, "Divide by zero error encountered.")

#: (T-SQL, SQL Server's result: rows, or (error number, message), or REFUSED; the plain form: SAME or
#: REFUSED; the page that documents the result)
PROBES: list[tuple[str, Any, str, str]] = [
    # integer overflow: int op int is int; a constant above 2,147,483,647 is decimal
    ("SELECT 2147483647 + 1", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT 2147483647 * 2", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT -2147483647 - 2", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT 2147483648 + 1", [(2147483649,)], SAME, INT_TYPES),
    ("SELECT 2147483649 / 2", [(1073741824.5,)], SAME, INT_TYPES),
    ("SELECT CAST(9223372036854775807 AS BIGINT) + 1", OVERFLOW_BIGINT, SAME, ERRORS_8000),
    ("SELECT i + 1 FROM dbo.Nums", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT b + 1 FROM dbo.Nums", OVERFLOW_BIGINT, SAME, ERRORS_8000),
    ("SELECT CAST(i AS BIGINT) + 1 FROM dbo.Nums", [(2147483648,)], SAME, PRECEDENCE),
    ("SELECT s + 1 FROM dbo.Nums", [(32768,)], SAME, PRECEDENCE),
    ("SELECT t + t FROM dbo.Nums",
     error(8115, "Arithmetic overflow error converting expression to data type tinyint."), SAME, PRECEDENCE),
    ("DECLARE @a INT = 2147483647; SET @a = @a + 1", OVERFLOW_INT, SAME, ERRORS_8000),
    ("DECLARE @a INT = 2147483647; SET @a += 1", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT COUNT(*) FROM dbo.Nums WHERE i + 1 > 0", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT x.n * 2 FROM (SELECT i AS n FROM dbo.Nums) AS x", OVERFLOW_INT, SAME, ERRORS_8000),
    # division and modulo
    ("SELECT 1/0", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("SELECT 1 % 0", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("SELECT 1.5 / 0", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("SELECT f / 0 FROM dbo.Nums", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("DECLARE @z INT = 0; SELECT 10 / @z", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("SELECT COUNT(*) FROM dbo.Nums WHERE i / 0 = 1", DIVIDE_BY_ZERO, SAME, ERRORS_8000),
    ("SELECT CAST(-2147483648 AS INT) / -1", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT 7 / 2, -7 / 2, 7 % 2, -7 % 2, 7 % -2", [(3, -3, 1, -1, 1)], SAME, DIVIDE),
    ("SELECT 7.0 / 2, d / 2, d % 2 FROM dbo.Nums", [(3.5, 3.75, 1.5)], SAME, MODULO),
    ("SELECT CASE WHEN 1 = 0 THEN 1 / 0 ELSE 5 END", [(5,)], SAME, DIVIDE),
    # conversions of strings
    ("SELECT CAST('abc' AS INT)",
     error(245, "Conversion failed when converting the varchar value 'abc' to data type int."), SAME, ERRORS_0),
    ("SELECT CONVERT(INT, 'abc')",
     error(245, "Conversion failed when converting the varchar value 'abc' to data type int."), SAME, ERRORS_0),
    ("SELECT CAST(N'1.5' AS SMALLINT)",
     error(245, "Conversion failed when converting the nvarchar value '1.5' to data type smallint."), SAME, ERRORS_0),
    ("SELECT CAST(v AS INT) FROM dbo.Nums",
     error(245, "Conversion failed when converting the varchar value 'abc' to data type int."), SAME, ERRORS_0),
    ("SELECT CAST(' 42 ' AS INT), CAST('-7' AS INT), CAST(n AS INT) FROM dbo.Nums", [(42, -7, 12)], SAME, CAST),
    ("SELECT CAST('3000000000' AS INT)",
     error(248, "The conversion of the varchar value '3000000000' overflowed an int column."), SAME, ERRORS_0),
    ("SELECT CAST('abc' AS BIGINT)", error(8114, "Error converting data type varchar to bigint."), SAME, ERRORS_8000),
    ("SELECT CAST('abc' AS DECIMAL(10,2))", error(8114, "Error converting data type varchar to numeric."), SAME,
     ERRORS_8000),
    ("SELECT CAST('' AS DECIMAL(10,2))", error(8114, "Error converting data type varchar to numeric."), SAME, CAST),
    ("SELECT CAST('12345678.5' AS DECIMAL(5,1))",
     error(8115, "Arithmetic overflow error converting varchar to data type numeric."), SAME, ERRORS_8000),
    ("SELECT CAST('2.5' AS DECIMAL(10,2)), CAST('-12' AS DECIMAL(4,0))", [(2.5, -12)], SAME, CAST),
    ("SELECT CAST('2.555' AS DECIMAL(10,2))", [(2.56,)], REFUSED, CAST),
    ("SELECT CAST('TRUE' AS BIT), CAST(' 0 ' AS BIT), CAST('-5' AS BIT), CAST('' AS BIT)", [(1, 0, 1, 0)], SAME,
     "https://learn.microsoft.com/en-us/sql/t-sql/data-types/bit-transact-sql"),
    ("SELECT CAST('yes' AS BIT)", error(245, "Conversion failed when converting the varchar value 'yes' to data type "
                                              "bit."), SAME, ERRORS_0),
    ("SELECT CAST('abc' AS FLOAT)", error(8114, "Error converting data type varchar to float."), SAME,
     ERRORS_8000),
    ("SELECT 1 + '2'", [(3,)], SAME, CAST),
    ("SELECT i - v FROM dbo.Nums",
     error(245, "Conversion failed when converting the varchar value 'abc' to data type int."), SAME, CAST),
    ("DECLARE @notastring INT; SET @notastring = '1'; SELECT @notastring + ' is not a string.'",
     error(245, "Conversion failed when converting the varchar value ' is not a string.' to data type int."), SAME,
     CAST),
    # conversions of numbers
    ("SELECT CAST(300 AS TINYINT)", error(220, "Arithmetic overflow error for data type tinyint, value = 300."), SAME,
     ERRORS_0),
    ("SELECT CAST(-1 AS TINYINT)", error(220, "Arithmetic overflow error for data type tinyint, value = -1."), SAME,
     ERRORS_0),
    ("SELECT CAST(40000 AS SMALLINT)",
     error(220, "Arithmetic overflow error for data type smallint, value = 40000."), SAME, ERRORS_0),
    ("SELECT CAST(2147483648 AS INT)", OVERFLOW_INT, SAME, ERRORS_8000),
    ("SELECT CAST(12345.12E0 AS TINYINT)",
     error(232, "Arithmetic overflow error for type tinyint, value = 12345.120000."), SAME, ERRORS_0),
    ("SELECT CAST(10.6496 AS INT), CAST(-10.6496 AS INT), CAST(10.6496 AS NUMERIC), CAST(-10.6496 AS NUMERIC)",
     [(10, -10, 11, -11)], SAME, CAST),
    ("SELECT CAST(123.456 AS DECIMAL(5,2))", [(123.46,)], SAME, CAST),
    ("SELECT CAST(1234.5 AS DECIMAL(5,2))",
     error(8115, "Arithmetic overflow error converting numeric to data type numeric."), SAME, ERRORS_8000),
    ("SELECT CAST(12345 AS VARCHAR(3)), CAST(123 AS VARCHAR(3))", [("*", "123")], SAME, CAST),
    # a value assigned to a variable is converted to its type
    ("DECLARE @t TINYINT = 300", error(220, "Arithmetic overflow error for data type tinyint, value = 300."), SAME,
     ERRORS_0),
    ("DECLARE @i INT; SET @i = 2147483648", OVERFLOW_INT, SAME, ERRORS_8000),
    ("DECLARE @v NUMERIC(8,4); SET @v = 10000",
     error(8115, "Arithmetic overflow error converting int to data type numeric."), SAME, ERRORS_8000),
    ("DECLARE @i INT = 'abc'",
     error(245, "Conversion failed when converting the varchar value 'abc' to data type int."), SAME, ERRORS_0),
    ("DECLARE @t TINYINT; SELECT @t = i FROM dbo.Nums",
     error(220, "Arithmetic overflow error for data type tinyint, value = 2147483647."), SAME, ERRORS_0),
    ("DECLARE @d DECIMAL(5,2) = 1.005; SELECT @d", [(Decimal("1.01"),)], SAME, CAST),
    # TRY ... CATCH sees SQL Server's numbers
    ("BEGIN TRY SELECT 1/0; END TRY BEGIN CATCH SELECT ERROR_NUMBER(), ERROR_MESSAGE(); END CATCH",
     [(8134, "Divide by zero error encountered.")], SAME, ERRORS_8000),
    ("BEGIN TRY DECLARE @a INT = 2147483647; SET @a = @a + 1; END TRY "
     "BEGIN CATCH SELECT ERROR_NUMBER(), ERROR_MESSAGE(); END CATCH",
     [(8115, "Arithmetic overflow error converting expression to data type int.")], SAME, ERRORS_8000),
    ("BEGIN TRY SELECT CAST('x' AS INT); END TRY BEGIN CATCH SELECT ERROR_NUMBER(); END CATCH", [(245,)], SAME,
     ERRORS_0),
    # what the sandbox does not model: refused
    ("SELECT GETDATE() + 1", REFUSED, REFUSED, PRECEDENCE),
    ("SELECT CAST(1 AS BIT) + CAST(1 AS BIT)", REFUSED, REFUSED, ERRORS_8000),
    ("SELECT CAST('1e5' AS DECIMAL(10,2))", REFUSED, REFUSED, CAST),
    ("SELECT CAST('300' AS TINYINT)",
     error(244, "The conversion of the varchar value '300' overflowed an INT1 column. Use a larger integer column."),
     SAME, ERRORS_0),
    ("SELECT CAST(N'-1' AS SMALLINT), CAST(N'-40000' AS SMALLINT)",
     error(244, "The conversion of the nvarchar value '-40000' overflowed an INT2 column. Use a larger integer "
                "column."), SAME, ERRORS_0),
    ("SELECT CAST('99999999999999999999' AS BIGINT)", OVERFLOW_BIGINT, SAME, ERRORS_8000),
]


class Outcome:
    """What a probe did: its last result set's rows, an error (number, message), or a refusal."""

    @staticmethod
    def of(target: EmbeddedTarget, sql: str) -> Any:
        result = target.execute_script(sql, source="t.sql")
        if isinstance(result.error, UnsupportedConstruct):
            return REFUSED
        if result.error is not None:
            return error(result.error.number or 0, result.error.message)
        return [tuple(r) for r in result.result_sets[-1].rows]


def same(found: Any, expected: Any) -> bool:
    if isinstance(found, list) and isinstance(expected, list):
        return len(found) == len(expected) and all(
            len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
            for a, b in zip(found, expected, strict=True))
    return bool(found == expected)


def _equal(found: Any, expected: Any) -> bool:
    if isinstance(expected, float) or isinstance(found, float):
        return isinstance(found, int | float) and math.isclose(found, expected, rel_tol=1e-12)
    return bool(found == expected) and type(found) is type(expected)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxTarget]:
    target = SandboxTarget()
    assert target.execute_script(SETUP).ok
    yield target
    target.close()


@pytest.fixture(scope="module")
def plain() -> Iterator[SandboxTarget]:
    """A sandbox that uses the plain-SQL form of every check, as the ODBC target must."""
    target = SandboxTarget()
    target.driver.functions = False
    assert target.execute_script(SETUP).ok
    yield target
    target.close()


@pytest.mark.parametrize(("sql", "expected", "plain_form", "doc"), PROBES, ids=[p[0][:60] for p in PROBES])
def test_probe_gives_sql_servers_result(sandbox: SandboxTarget, sql: str, expected: Any, plain_form: str,
                                        doc: str) -> None:
    found = Outcome.of(sandbox, sql)
    assert same(found, expected), f"{sql}\n  SQL Server ({doc}): {expected}\n  sandbox: {found}"


@pytest.mark.parametrize(("sql", "expected", "plain_form", "doc"), PROBES, ids=[p[0][:60] for p in PROBES])
def test_probe_in_plain_sqlite_is_the_same_or_refused(plain: SandboxTarget, sql: str, expected: Any,
                                                      plain_form: str, doc: str) -> None:
    found = Outcome.of(plain, sql)
    wanted = REFUSED if plain_form == REFUSED else expected
    assert same(found, wanted), f"{sql}\n  expected without functions: {wanted}\n  found: {found}"


def test_probes_cite_microsofts_pages() -> None:
    assert len(PROBES) >= 50
    assert all(doc.startswith("https://learn.microsoft.com/") for *_, doc in PROBES)


# -- the probes over the real ODBC driver ------------------------------------------------------------------
ODBC_STARTS = ("SELECT 2147483647 +", "SELECT 1/0", "SELECT CAST('abc' AS INT)", "SELECT CAST('abc' AS DECIMAL",
               "SELECT CAST(300 AS TINYINT)", "BEGIN TRY SELECT 1/0", "SELECT i + 1", "SELECT CAST('abc' AS FLOAT")
ODBC_PROBES = [p for p in PROBES if p[0].startswith(ODBC_STARTS)]


def test_odbc_target_gives_the_same_results_or_refuses(tmp_path: Path) -> None:
    pyodbc = pytest.importorskip("pyodbc")
    if "SQLite3" not in pyodbc.drivers():
        pytest.skip("the SQLite3 ODBC driver is not installed: apt-get install libsqliteodbc")
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    target = OdbcSqliteTarget(f"Driver=SQLite3;Database={tmp_path / 'odbc.sqlite'}")
    try:
        assert not target.driver.functions
        assert target.execute_script(SETUP).ok
        assert len(ODBC_PROBES) == 8
        for sql, expected, plain_form, _doc in ODBC_PROBES:
            found = Outcome.of(target, sql)
            assert same(found, REFUSED if plain_form == REFUSED else expected), (sql, found)
    finally:
        target.close()


# -- statements, scripts and transactions ----------------------------------------------------------------
@pytest.mark.parametrize("functions", [True, False])
def test_sum_and_avg_of_integers(functions: bool) -> None:
    """SUM of int is int (8115 past its range), of bigint bigint; AVG of integers is an integer."""
    target = SandboxTarget()
    target.driver.functions = functions
    assert target.execute_script("CREATE TABLE dbo.A (i INT, t TINYINT); "
                                 "INSERT INTO dbo.A VALUES (2147483647, 1), (1, 2);").ok
    assert Outcome.of(target, "SELECT SUM(i) FROM dbo.A") == OVERFLOW_INT
    assert Outcome.of(target, "SELECT SUM(CAST(i AS BIGINT)), SUM(t), AVG(t) FROM dbo.A") == [(2147483648, 3, 1)]
    assert Outcome.of(target, "SELECT SUM(CAST(i AS BIGINT) * 4294967298) FROM dbo.A") == OVERFLOW_BIGINT
    target.close()


def test_sqlite_computes_what_cannot_differ(sandbox: SandboxTarget) -> None:
    """The runner's functions are called only where SQLite's own answer could differ: column copies,
    a wider integer CAST, decimal + - *, LEN(x) - 1 and a division by a constant stay SQLite's. A float
    result is checked: beyond its range SQLite gives infinity, SQL Server error 8115."""
    plain_sqlite = ["SELECT i, v, CAST(t AS BIGINT), d - 1, d * 2, LEN(v) - 1, i / 2, i % 7 FROM dbo.Nums"]
    checked = ["SELECT i + 1 FROM dbo.Nums", "SELECT i / s FROM dbo.Nums", "SELECT d / 2 FROM dbo.Nums",
               "SELECT CAST(v AS INT) FROM dbo.Nums", "SELECT i / -1 FROM dbo.Nums", "SELECT d + f FROM dbo.Nums"]
    for sql in plain_sqlite:
        assert "tsql_" not in sandbox.engine.translate_dml(sql)[0].lower(), sql
    for sql in checked:
        assert "tsql_" in sandbox.engine.translate_dml(sql)[0].lower(), sql


def test_a_failing_update_changes_no_row(sandbox: SandboxTarget) -> None:
    script = "CREATE TABLE dbo.U (k INT, x INT); INSERT INTO dbo.U VALUES (1, 1), (2, 2147483647), (3, 3);"
    assert sandbox.execute_script(script).ok
    failed = sandbox.execute_script("UPDATE dbo.U SET x = x + 1;")
    assert failed.error is not None and failed.error.number == 8115
    assert sandbox.execute("SELECT x FROM dbo.U ORDER BY k") == [(1,), (2147483647,), (3,)]


def test_xact_abort_script_stops_at_the_error_and_keeps_nothing(sandbox: SandboxTarget) -> None:
    assert sandbox.execute_script("CREATE TABLE dbo.X (x INT);").ok
    failed = sandbox.execute_script(
        "SET XACT_ABORT ON;\nBEGIN TRAN;\nINSERT INTO dbo.X VALUES (1);\nINSERT INTO dbo.X SELECT 1 / 0;\n"
        "INSERT INTO dbo.X VALUES (2);\nCOMMIT;", source="t.sql")
    assert failed.error is not None and failed.error.number == 8134 and failed.error.line == 4
    assert sandbox.execute("SELECT COUNT(*) FROM dbo.X") == [(0,)]


def test_library_statements_raise_sql_servers_number(sandbox: SandboxTarget) -> None:
    with pytest.raises(ScriptError) as raised:
        sandbox.execute("SELECT ? / ?", [1, 0])
    assert raised.value.number == 8134
    # a parameter has the type pyodbc would send its value as: int when it fits, else bigint
    assert sandbox.execute("SELECT ? + ?", [2147483648, 1]) == [(2147483649,)]
    with pytest.raises(ScriptError) as raised:
        sandbox.execute("SELECT ? + ?", [2147483647, 1])
    assert raised.value.number == 8115


def test_a_value_of_unknown_type_is_refused_only_where_its_type_decides(sandbox: SandboxTarget) -> None:
    assert sandbox.execute_script("CREATE TABLE #t (x INT); INSERT INTO #t VALUES (5); SELECT x + 1 FROM #t;").ok
    # a #temp table's column has its declared type: the overflow is SQL Server's 8115, caught by CATCH
    caught = sandbox.execute_script("CREATE TABLE #u (x INT); INSERT INTO #u VALUES (2147483647); "
                                    "BEGIN TRY SELECT x + 1 FROM #u; END TRY BEGIN CATCH PRINT 'caught'; END CATCH")
    assert caught.ok and [m.text for m in caught.messages] == ["caught"]
    # a view's computed column has no type the runner can tell: int would overflow, bigint would not
    big = sandbox.execute_script("CREATE VIEW dbo.VU AS SELECT CAST(2147483647 AS INT) AS x\nGO\n"
                                 "BEGIN TRY SELECT x + 1 FROM dbo.VU; END TRY BEGIN CATCH PRINT 'caught'; END CATCH")
    assert isinstance(big.error, UnsupportedConstruct)  # not guessed
    assert "CAST the operand" in str(big.error)


def test_views_keep_the_checks_they_can_and_refuse_the_rest(sandbox: SandboxTarget) -> None:
    assert sandbox.execute_script("CREATE VIEW dbo.V1 AS SELECT 2147483647 + COUNT(*) AS n FROM dbo.Nums;").ok
    assert Outcome.of(sandbox, "SELECT n FROM dbo.V1") == OVERFLOW_INT  # checked in plain SQLite, stored
    refused = sandbox.execute_script("CREATE VIEW dbo.V2 AS SELECT i + 1 AS n FROM dbo.Nums;")
    assert isinstance(refused.error, UnsupportedConstruct)
    assert "in a view" in str(refused.error)


def test_a_check_constraint_with_arithmetic_is_refused(sandbox: SandboxTarget) -> None:
    refused = sandbox.execute_script("CREATE TABLE dbo.C (x INT CHECK (x + 1 > 0));")
    assert isinstance(refused.error, UnsupportedConstruct)


def test_catalog_view_types_name_the_catalog_views_columns() -> None:
    assert set(dialect.CATALOG_VIEW_TYPES) == set(dialect.CATALOG_VIEWS)
    for view, types in dialect.CATALOG_VIEW_TYPES.items():
        assert set(types) <= set(dialect.CATALOG_VIEWS[view]), view
        assert all(t in arithmetic.PRECEDENCE for t in types.values()), view


@pytest.mark.parametrize("functions", [True, False])
def test_catalog_view_columns_have_sql_servers_types(functions: bool) -> None:
    target = SandboxTarget()
    target.driver.functions = functions
    assert target.execute_script("CREATE TABLE dbo.K (a INT CONSTRAINT PK_K PRIMARY KEY);").ok
    rows = Outcome.of(target, "SELECT CAST(i.is_primary_key AS INT), i.index_id + 1 FROM sys.indexes AS i "
                              "WHERE i.name = 'PK_K'")
    assert rows == [(1, 2)]
    target.close()


def test_the_static_subset_check_leaves_arithmetic_on_columns_to_the_runner() -> None:
    assert check_subset("SELECT i + 1, CAST(v AS INT) FROM dbo.Nums;", "t.sql") == []
    refused = check_subset("SELECT GETDATE() + 1;", "t.sql")
    assert [f.construct for f in refused] == ["arithmetic (+) on datetime values"]


def test_a_raise_in_a_branch_not_taken_does_not_fire(plain: SandboxTarget) -> None:
    """The plain form relies on SQLite evaluating a CASE branch only when it is taken."""
    row = plain.driver.query("SELECT CASE WHEN x = 0 THEN json_extract('{}', 'Msg 1: no') ELSE 2 END "
                             "FROM (SELECT 1 AS x UNION ALL SELECT 3)")
    assert row == [(2,), (2,)]
    assert arithmetic.raised_text("JSON path error near 'Msg 8134: Divide by zero error encountered.'") == \
        "Msg 8134: Divide by zero error encountered."
    assert arithmetic.raised_text("bad JSON path: 'Msg 245: the ''x'' value'") == "Msg 245: the 'x' value"


# -- INT and BIGINT arithmetic against a model of SQL Server's rules ------------------------------------
RANGES = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


def model(op: str, type_name: str, a: int, b: int) -> Any:
    """SQL Server, from its documentation: the result has the operands' type; / truncates toward zero;
    % takes the dividend's sign; 8134 for a zero divisor; 8115 for a result outside the type."""
    if op in "/%" and b == 0:
        return DIVIDE_BY_ZERO
    if op == "/":
        value = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
    elif op == "%":
        value = abs(a) % abs(b) * (1 if a >= 0 else -1)
    else:
        value = {"+": a + b, "-": a - b, "*": a * b}[op]
    low, high = RANGES[type_name]
    if not low <= value <= high:
        return OVERFLOW_INT if type_name == "int" else OVERFLOW_BIGINT
    return [(value,)]


def _pair(type_name: str) -> st.SearchStrategy[tuple[int, int]]:
    low, high = RANGES[type_name]
    edge = st.sampled_from([low, low + 1, -1, 0, 1, high - 1, high])
    value = st.one_of(edge, st.integers(low, high), st.integers(-1000, 1000))
    return st.tuples(value, value)


def _int_cases() -> st.SearchStrategy[tuple[str, str, int, int]]:
    return st.sampled_from(["int", "bigint"]).flatmap(
        lambda t: st.tuples(st.sampled_from("+-*/%"), st.just(t), _pair(t)).map(lambda c: (c[0], c[1], *c[2])))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_int_cases())
def test_integer_arithmetic_matches_the_model_in_both_forms(sandbox: SandboxTarget, plain: SandboxTarget,
                                                            case: tuple[str, str, int, int]) -> None:
    op, type_name, a, b = case
    sql = f"DECLARE @a {type_name} = {a}, @b {type_name} = {b}; SELECT @a {op} @b"
    expected = model(op, type_name, a, b)
    assert Outcome.of(sandbox, sql) == expected, sql
    assert Outcome.of(plain, sql) == expected, sql


@settings(max_examples=3000, deadline=None)
@given(_int_cases())
def test_the_rules_match_the_model(case: tuple[str, str, int, int]) -> None:
    op, type_name, a, b = case
    expected = model(op, type_name, a, b)
    try:
        found: Any = [(arithmetic.operate(op, type_name, a, type_name, b),)]
    except arithmetic.ServerError as raised:
        found = raised.key()
    assert found == expected


# -- the two forms of a conversion agree ---------------------------------------------------------------------
TEXT = st.text(alphabet=" +-0123456789.eE\tx", max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT, st.sampled_from(["INT", "SMALLINT", "TINYINT", "BIGINT", "DECIMAL(6,2)", "DECIMAL(4,0)"]))
def test_conversions_of_text_agree_in_both_forms(sandbox: SandboxTarget, plain: SandboxTarget, text: str,
                                                 target: str) -> None:
    quoted = text.replace("'", "''")
    sql = f"DECLARE @v VARCHAR(20) = '{quoted}'; SELECT CAST(@v AS {target})"
    with_functions, without = Outcome.of(sandbox, sql), Outcome.of(plain, sql)
    assert without == REFUSED or same(without, with_functions), (text, target, with_functions, without)
