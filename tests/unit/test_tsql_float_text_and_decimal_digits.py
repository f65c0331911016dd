"""A float or real written as text, and decimals beyond SQLite's 15 digits (issue 10, item 10's follow-ups).

SQL Server writes a float or real converted to text without a style in style 0: at most six significant
digits, scientific notation with a three-digit exponent when needed ("CAST and CONVERT"). The sandbox does
so on both of its paths: the SQLite functions of the sqlite3 connection (the conformance probes run those)
and the plain SQL written where no function can be registered (the ODBC target), checked here directly.
A decimal value that needs more than 15 significant digits cannot be held by SQLite's REAL: writing it to
a decimal column is refused, never stored rounded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from pytest_opus import sqltypes
from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import arithmetic
from pytest_opus.tsql.translate import SandboxSQLite


def _plain(target: str, value: float | None) -> object:
    """CAST(value AS target) of a float, as the plain SQL of the ODBC target computes it."""
    node = arithmetic.plain_convert("float", target, exp.Placeholder(this="v"))
    sql = node.sql(dialect=SandboxSQLite)
    with sqlite3.connect(":memory:") as connection:
        return connection.execute(f"SELECT {sql}", {"v": value}).fetchone()[0]


@pytest.mark.parametrize(("target", "value", "text"), [
    ("varchar(20)", 1.5e10, "1.5e+010"),
    ("varchar(20)", 123456789.0, "1.23457e+008"),
    ("varchar(20)", 0.1, "0.1"),
    ("nvarchar(max)", 1e-5, "1e-005"),
    ("char(10)", 2.5, "2.5       "),  # char(n) pads with blanks
    ("varchar(20)", None, None),
])
def test_plain_sql_writes_a_float_in_style_0(target: str, value: float | None, text: str | None) -> None:
    assert _plain(target, value) == text


def test_plain_sql_refuses_a_float_too_long_for_its_varchar() -> None:
    with pytest.raises(sqlite3.OperationalError) as raised:
        _plain("varchar(5)", 123456789.0)
    refusal = arithmetic.raised_text(str(raised.value))
    assert refusal is not None and refusal.startswith(arithmetic.REFUSED) and "varchar(5)" in refusal


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_function_and_the_plain_sql_agree(value: float) -> None:
    assert arithmetic.convert("float", "varchar(40)", value) == _plain("varchar(40)", value)


@pytest.fixture
def sandbox() -> Iterator[SandboxTarget]:
    with SandboxTarget() as target:
        yield target


def _rows(sandbox: SandboxTarget, script: str) -> list[tuple[object, ...]]:
    result = sandbox.execute_script(script, source="probe.sql")
    assert result.error is None, result.error
    return [tuple(row) for row in result.batches[-1].result_sets[-1].rows]


def test_a_float_written_to_character_columns_is_sql_servers_text(sandbox: SandboxTarget) -> None:
    rows = _rows(sandbox, "CREATE TABLE dbo.T (v VARCHAR(30), c CHAR(14), n NVARCHAR(MAX), t NVARCHAR(20))\n"
                          "DECLARE @r REAL = 3.14159265\n"
                          "INSERT INTO dbo.T (v, c, n, t) VALUES (1.5E10, 123456789E0, 0.1E0, @r)\n"
                          "SELECT v, c, n, t FROM dbo.T")
    assert rows == [("1.5e+010", "1.23457e+008  ", "0.1", "3.14159")]


def test_a_float_too_long_for_its_column_is_refused(sandbox: SandboxTarget) -> None:
    result = sandbox.execute_script("CREATE TABLE dbo.T (v VARCHAR(5))\nINSERT INTO dbo.T (v) VALUES (1.5E10)",
                                    source="probe.sql")
    assert isinstance(result.error, UnsupportedConstruct)
    assert "varchar(5)" in str(result.error) and "probe.sql:2" in str(result.error)


@pytest.mark.parametrize("value", [
    "123456789012345678.12",  # a literal: SQLite reads it as a REAL that lost its last digits
    "'1234567890123456.78'",  # text
    "CAST(1234567890123456.5 AS FLOAT)",  # a float: SQL Server converts its exact binary value
])
def test_a_decimal_beyond_15_significant_digits_is_refused_where_stored(sandbox: SandboxTarget, value: str) -> None:
    assert sandbox.execute_script("CREATE TABLE dbo.T (d DECIMAL(20,2))", source="setup.sql").ok
    result = sandbox.execute_script(f"INSERT INTO dbo.T (d) VALUES ({value})", source="probe.sql")
    assert isinstance(result.error, UnsupportedConstruct)
    assert f"more than {sqltypes.DOUBLE_DIGITS} significant digits" in str(result.error)
    assert _rows(sandbox, "SELECT COUNT(*) FROM dbo.T") == [(0,)]  # nothing stored, rolled back


@pytest.mark.parametrize(("value", "stored"), [
    ("1234567890123.45", 1234567890123.45),  # 15 digits: held exactly
    ("123456789012345678", 123456789012345678),  # an integer: SQLite's INTEGER holds 19 digits
    ("0.1E0 + 0.2E0", 0.3),  # a float rounded to the scale has few digits
    ("'1.000000000000000000'", 1),  # many digits written, one significant
])
def test_decimals_sqlite_holds_are_stored(sandbox: SandboxTarget, value: str, stored: object) -> None:
    rows = _rows(sandbox, f"CREATE TABLE dbo.T (d DECIMAL(20,2))\nINSERT INTO dbo.T (d) VALUES ({value})\n"
                          "SELECT d FROM dbo.T")
    assert rows == [(stored,)]


def _plain_decimal(source: str, target: str, value: object) -> object:
    """CAST(value AS target) to a decimal, as the plain SQL of the ODBC target computes it."""
    node = arithmetic.plain_convert(source, target, exp.Placeholder(this="v"))
    with sqlite3.connect(":memory:") as connection:
        return connection.execute(f"SELECT {node.sql(dialect=SandboxSQLite)}", {"v": value}).fetchone()[0]


@pytest.mark.parametrize(("source", "target", "value", "result"), [
    ("varchar", "decimal(20,2)", "1234567890123.45", 1234567890123.45),
    ("varchar", "decimal(20,2)", "000000.000000012", None),  # more decimals than the scale: refused (rounding)
    ("varchar", "decimal(38,0)", "123456789012345678", 123456789012345678),
    ("float", "decimal(18,4)", 0.1 + 0.2, 0.3),
])
def test_plain_sql_casts_to_decimal_what_sqlite_holds(source: str, target: str, value: object,
                                                       result: object) -> None:
    if result is None:
        with pytest.raises(sqlite3.OperationalError):
            _plain_decimal(source, target, value)
        return
    assert _plain_decimal(source, target, value) == result


@pytest.mark.parametrize(("source", "target", "value"), [
    ("varchar", "decimal(20,2)", "1234567890123456.78"),
    ("varchar", "decimal(38,0)", "12345678901234567890"),  # beyond what SQLite's INTEGER holds
    ("float", "decimal(38,20)", 0.1 + 0.2),
])
def test_plain_sql_refuses_decimals_beyond_what_sqlite_holds(source: str, target: str, value: object) -> None:
    with pytest.raises(sqlite3.OperationalError) as raised:
        _plain_decimal(source, target, value)
    assert f"more than {sqltypes.DOUBLE_DIGITS} significant digits" in (arithmetic.raised_text(str(raised.value)) or "")
    with pytest.raises(arithmetic.Ambiguous):  # the sandbox's SQLite function says the same
        arithmetic.convert(source, target, value)


@pytest.mark.parametrize(("column", "value"), [
    ("DECIMAL(38,20)", "'0.10000000000000000001'"),  # text whose digits a REAL does not keep
    ("DECIMAL(38,20)", "0.1E0 + 0.2E0"),  # a float whose shortest text has 17 digits, kept by the scale
])
def test_digits_the_scale_keeps_count(sandbox: SandboxTarget, column: str, value: str) -> None:
    assert sandbox.execute_script(f"CREATE TABLE dbo.T (d {column})", source="setup.sql").ok
    result = sandbox.execute_script(f"INSERT INTO dbo.T (d) VALUES ({value})", source="probe.sql")
    assert isinstance(result.error, UnsupportedConstruct)


def test_digits_beyond_the_scale_do_not_count(sandbox: SandboxTarget) -> None:
    rows = _rows(sandbox, "CREATE TABLE dbo.T (d DECIMAL(18,4))\n"
                          "INSERT INTO dbo.T (d) VALUES ('0.123456789012345678'), (0.1E0 + 0.2E0)\n"
                          "SELECT d FROM dbo.T")
    assert rows == [(0.1235,), (0.3,)]
