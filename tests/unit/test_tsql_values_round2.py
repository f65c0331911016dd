"""Value conversions of issue 10, round 2: a datetime as text (refused), datetime2(n) and time(n) (rounded),
a datetime's ticks in datetime2, text as binary, float results beyond their range, decimal variables.

Each rule is checked against a model written from the documentation (Decimal and Fraction arithmetic),
on the sandbox's SQLite functions and, where the ODBC target has a plain-SQL form, on that too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_opus import sqltypes
from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import arithmetic, runtime


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxTarget]:
    target = SandboxTarget()
    yield target
    target.close()


def value(target: SandboxTarget, script: str) -> object:
    result = target.execute_script(script)
    assert result.error is None, result.error
    return result.result_sets[-1].rows[0][0]


def refused(target: SandboxTarget, script: str) -> str:
    result = target.execute_script(script)
    assert isinstance(result.error, UnsupportedConstruct), result.error
    return str(result.error)


# -- a datetime as text ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("functions", [True, False])
@pytest.mark.parametrize("script", [
    "DECLARE @d DATETIME = '2024-02-10 13:14:15'; SELECT CAST(@d AS VARCHAR(30));",
    "DECLARE @d DATETIME = '2024-02-10 13:14:15'; PRINT @d;",
    "DECLARE @d SMALLDATETIME = '2024-02-10 13:14:15'; SELECT CAST(@d AS NCHAR(30));",
    "DECLARE @d DATETIME = '2024-02-10 13:14:15'; DECLARE @s NVARCHAR(30) = @d;",
    "SELECT CAST(GETDATE() AS NVARCHAR(40));",
])
def test_a_datetime_written_as_text_is_refused(script: str, functions: bool) -> None:
    target = SandboxTarget()
    target.driver.functions = functions
    try:
        assert "style 0" in refused(target, script)
    finally:
        target.close()


def test_a_datetime_column_written_to_a_text_column_is_refused_unless_null(sandbox: SandboxTarget) -> None:
    assert sandbox.execute_script("CREATE TABLE dbo.DT (k INT, d DATETIME, s VARCHAR(40)); "
                                  "INSERT INTO dbo.DT (k, d) VALUES (1, NULL), (2, '2024-02-10');").ok
    assert value(sandbox, "UPDATE dbo.DT SET s = d WHERE k = 1; SELECT COUNT(*) FROM dbo.DT WHERE s IS NULL;") == 2
    assert "style 0" in refused(sandbox, "UPDATE dbo.DT SET s = d WHERE k = 2;")


def test_other_dates_as_text_stay_iso_and_a_null_datetime_prints_nothing(sandbox: SandboxTarget) -> None:
    assert value(sandbox, "SELECT CAST(CAST('2024-02-10' AS DATE) AS VARCHAR(30));") == "2024-02-10"
    assert value(sandbox, "DECLARE @t TIME = '01:02:03.5'; SELECT CAST(@t AS VARCHAR(30));") == "01:02:03.5000000"
    result = sandbox.execute_script("DECLARE @d DATETIME; PRINT @d;")
    assert result.error is None and [m.text for m in result.messages] == [""]


# -- datetime ticks in datetime2 -----------------------------------------------------------------------------------
@given(st.integers(0, 299))
def test_a_datetimes_ticks_become_exact_decimals(ticks: int) -> None:
    exact = Fraction(ticks, 300)  # seconds: a datetime holds whole ticks of 1/300 s
    ms = round(exact * 1000)  # shown as milliseconds ending in 0, 3 or 7
    assert ms % 10 in (0, 3, 7)
    expected = round(exact * 10**7)
    text = sqltypes.datetime_as_datetime2(f"2016-10-23 12:45:37.{ms:03d}")
    assert text == f"2016-10-23 12:45:37.{expected:07d}"


def test_datetime_to_datetime2_in_cast_variable_and_column(sandbox: SandboxTarget) -> None:
    assert value(sandbox, "DECLARE @d DATETIME = '2016-10-23 12:45:37.333'; "
                          "SELECT CAST(@d AS DATETIME2);") == "2016-10-23 12:45:37.3333333"
    assert value(sandbox, "DECLARE @d DATETIME = '2016-10-23 12:45:37.007'; DECLARE @e DATETIME2 = @d; "
                          "SELECT @e;") == "2016-10-23 12:45:37.0066667"
    assert value(sandbox, "CREATE TABLE dbo.D2 (d DATETIME, e DATETIME2); "
                          "INSERT INTO dbo.D2 (d) VALUES ('2016-10-23 12:45:37.997'); UPDATE dbo.D2 SET e = d; "
                          "SELECT e FROM dbo.D2;") == "2016-10-23 12:45:37.9966667"


# -- datetime2(n), time(n) -----------------------------------------------------------------------------------------
def _rounded_model(stamp: datetime.datetime, fraction: str, digits: int) -> str | None:
    """SQL Server's datetime2(digits) text of `stamp` plus `fraction` (seven digits): half up; None past 9999."""
    seconds = Decimal("0." + fraction).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    whole = stamp + datetime.timedelta(seconds=int(seconds))
    if whole.year > 9999 or (int(seconds) and stamp.strftime("%Y-%m-%d %H:%M:%S") == "9999-12-31 23:59:59"):
        return None
    decimals = f"{seconds:.{digits}f}"[1:] if digits else ""
    return whole.strftime("%Y-%m-%d %H:%M:%S") + decimals


@settings(max_examples=40, deadline=None)
@given(stamp=st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2000, 12, 31, 23, 59, 59)).map(
           lambda d: d.replace(microsecond=0)),
       fraction=st.text("0123456789", min_size=7, max_size=7) | st.sampled_from(["9999999", "5000000", "4999999"]),
       digits=st.integers(0, 7))
def test_datetime2_n_variables_round_half_up(sandbox: SandboxTarget, stamp: datetime.datetime, fraction: str,
                                            digits: int) -> None:
    written = f"{stamp:%Y-%m-%d %H:%M:%S}.{fraction}"
    expected = _rounded_model(stamp, fraction, digits)
    assert value(sandbox, f"DECLARE @v DATETIME2({digits}) = '{written}'; SELECT @v;") == expected


@settings(max_examples=40, deadline=None)
@given(seconds=st.integers(0, 86399), fraction=st.text("0123456789", min_size=7, max_size=7), digits=st.integers(0, 6))
def test_time_n_variables_round_half_up_and_refuse_past_midnight(sandbox: SandboxTarget, seconds: int,
                                                                 fraction: str, digits: int) -> None:
    clock = (datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=seconds))
    script = f"DECLARE @v TIME({digits}) = '{clock:%H:%M:%S}.{fraction}'; SELECT @v;"
    expected = _rounded_model(clock, fraction, digits)
    assert expected is not None
    if expected.startswith("2000-01-02"):  # rounds past 23:59:59: not documented
        assert "round up past 23:59:59" in refused(sandbox, script)
    else:
        assert value(sandbox, script) == expected[len("2000-01-01 "):]


def test_datetime2_9999_rounding_up_is_refused_and_casts_to_n_digits_are_refused(sandbox: SandboxTarget) -> None:
    assert "9999-12-31 23:59:59" in refused(sandbox, "DECLARE @v DATETIME2(1) = '9999-12-31 23:59:59.99';")
    assert "CAST to datetime2(2)" in refused(sandbox, "SELECT CAST('2024-02-10 13:14:15.1234567' AS DATETIME2(2));")
    assert "CAST to time(3)" in refused(sandbox, "SELECT CAST('12:34:54.1237' AS TIME(3));")
    assert value(sandbox, "SELECT CAST('12:34:54.1237' AS TIME(7));") == "12:34:54.1237000"
    assert value(sandbox, "DECLARE @t TABLE (a TIME(3)); INSERT INTO @t VALUES ('01:02:03.4567'); "
                          "SELECT a FROM @t;") == "01:02:03.457"


# -- text as binary ------------------------------------------------------------------------------------------------
@given(text=st.text(st.characters(codec="cp1252", exclude_characters="\0"), max_size=12),
       length=st.integers(1, 20), unicode=st.booleans(), fixed=st.booleans())
def test_text_as_binary_is_its_bytes_cut_or_padded_on_the_right(text: str, length: int, unicode: bool,
                                                               fixed: bool) -> None:
    source, name = ("nvarchar" if unicode else "varchar"), ("binary" if fixed else "varbinary")
    data = text.encode("utf-16-le" if unicode else "cp1252")
    expected = data[:length] + b"\0" * (length - len(data)) if fixed else data[:length]
    assert arithmetic.convert(source, f"{name}({length})", text) == expected
    assert arithmetic.convert(source, f"{name}(max)", text) == data if not fixed else True


@pytest.mark.parametrize(("script", "expected"), [
    ("SELECT CAST(N'abc' AS VARBINARY(10));", b"a\0b\0c\0"),
    ("SELECT CAST('ab\u00e9' AS VARBINARY(10));", b"ab\xe9"),
    ("SELECT CAST('abc' AS BINARY(5));", b"abc\0\0"),
    ("SELECT CAST('abc' AS VARBINARY);", b"abc"),
])
def test_text_as_binary_on_the_sandbox(sandbox: SandboxTarget, script: str, expected: bytes) -> None:
    assert value(sandbox, script) == expected


def test_binary_conversions_the_sandbox_does_not_model_are_refused(sandbox: SandboxTarget) -> None:
    refused(sandbox, "SELECT CAST(1 AS VARBINARY(4));")
    with pytest.raises(arithmetic.Ambiguous, match="outside code page 1252"):
        arithmetic.convert("varchar", "varbinary(4)", "\u03a9")
    target = SandboxTarget()  # without the runner's SQLite functions (the ODBC target): refused when a value comes
    target.driver.functions = False
    try:
        assert value(target, "DECLARE @s NVARCHAR(5) = NULL; SELECT CAST(@s AS VARBINARY(4));") is None
        refused(target, "SELECT CAST(N'abc' AS VARBINARY(10));")
    finally:
        target.close()


# -- float results beyond the range --------------------------------------------------------------------------------
@pytest.mark.parametrize("functions", [True, False])
@pytest.mark.parametrize(("script", "kind"), [
    ("SELECT 1e308 * 10;", "float"),
    ("DECLARE @f FLOAT = 1e308; SELECT @f + @f;", "float"),
    ("DECLARE @f FLOAT = -1e308; SELECT @f - 1e308;", "float"),
    ("DECLARE @f FLOAT = 1e308; SELECT @f / 0.1;", "float"),
])
def test_a_float_result_beyond_its_range_is_8115(script: str, kind: str, functions: bool) -> None:
    target = SandboxTarget()
    target.driver.functions = functions
    try:
        result = target.execute_script(script)
        assert result.error is not None and result.error.number == 8115, result.error
        assert f"converting expression to data type {kind}." in result.error.message
        assert value(target, "DECLARE @f FLOAT = 1e307; SELECT @f * 10;") == 1e308
    finally:
        target.close()


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_float_products_fail_exactly_when_they_leave_the_range(a: float, b: float) -> None:
    product = a * b
    if abs(product) <= sqltypes.FLOAT_LIMITS["float"]:
        assert arithmetic.operate("*", "float", a, "float", b) == product
    else:
        with pytest.raises(arithmetic.ServerError) as raised:
            arithmetic.operate("*", "float", a, "float", b)
        assert raised.value.number == 8115


def test_a_float_beyond_real_is_8115_for_a_real_variable(sandbox: SandboxTarget) -> None:
    result = sandbox.execute_script("DECLARE @r REAL = 1e39;")
    assert result.error is not None and result.error.number == 8115
    assert "converting float to data type real." in result.error.message
    assert value(sandbox, "DECLARE @r REAL = 3e38; SELECT @r;") == 3e38


def test_text_beyond_a_float_columns_range_is_refused(sandbox: SandboxTarget) -> None:
    sandbox.execute_script("CREATE TABLE dbo.FL (x FLOAT);")
    assert "beyond the range of float" in refused(sandbox, "INSERT INTO dbo.FL VALUES ('1e309');")


# -- decimal variables ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("assigned", [1234567890123456.78, "1234567890123456.78", Decimal("1234567890123456.78")])
def test_coerce_refuses_a_decimal_with_more_digits_than_sqlite_keeps(assigned: object) -> None:
    with pytest.raises(runtime.Unsupported, match="more than 15 significant digits"):
        runtime.coerce("decimal(20,2)", assigned)


def test_coerce_keeps_decimals_sqlite_holds_exactly() -> None:
    assert runtime.coerce("decimal(20,2)", "12.50") == Decimal("12.50")
    assert runtime.coerce("decimal(38,0)", 2**62) == Decimal(2**62)  # a whole number in 64 bits is exact
    assert runtime.coerce("decimal(20,2)", 123456789012.345) == Decimal("123456789012.345")
