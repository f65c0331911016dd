"""tsql/functions.py: DATEADD, DATEDIFF, DATEPART, EOMONTH and the string functions, against models
written from Microsoft's pages, and through the sandbox end to end (issue 10)."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import functions
from pytest_opus.tsql.arithmetic import Ambiguous, ServerError

dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
units = st.integers(min_value=0, max_value=functions.DAY_UNITS - 1)


def _query(sql: str) -> tuple:
    target = SandboxTarget()
    try:
        result = target.execute_script(sql, source="probe.sql")
        assert result.error is None, result.error.describe()
        return result.result_sets[-1].rows[0]
    finally:
        target.close()


@given(dates, units)
def test_datetime2_text_reads_back(date: dt.date, clock: int) -> None:
    text = functions.write_stored(date, clock, "datetime2")
    assert functions.stored_type(text) == "datetime2"
    assert functions.read_stored(text) == (date, clock, "datetime2")


@given(dates, st.integers(min_value=-4000, max_value=4000))
def test_dateadd_day_is_calendar_arithmetic(date: dt.date, days: int) -> None:
    try:
        expected = (date + dt.timedelta(days=days)).isoformat()
    except OverflowError:
        with pytest.raises(ServerError) as raised:
            functions.dateadd("day", days, date.isoformat())
        assert raised.value.number == 517
        return
    assert functions.dateadd("day", days, date.isoformat()) == expected
    assert functions.datediff("day", date.isoformat(), expected, 0) == days


@given(dates, st.integers(min_value=-200, max_value=200))
def test_dateadd_month_keeps_the_day_or_the_month_end(date: dt.date, months: int) -> None:
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        with pytest.raises(ServerError):
            functions.dateadd("month", months, date.isoformat())
        return
    day = min(date.day, calendar.monthrange(year, month)[1])
    assert functions.dateadd("month", months, date.isoformat()) == dt.date(year, month, day).isoformat()
    assert functions.datediff("month", date.isoformat(), dt.date(year, month, day).isoformat(), 0) == months


@given(dates, units, dates, units)
def test_datediff_counts_boundaries(a: dt.date, au: int, b: dt.date, bu: int) -> None:
    first = functions.write_stored(a, au, "datetime2")
    second = functions.write_stored(b, bu, "datetime2")
    assert functions.datediff("year", first, second, 0) == b.year - a.year
    assert functions.datediff("day", first, second, 0) == (b - a).days
    hours = (b.toordinal() * 24 + bu // functions.UNITS["hour"]) - (a.toordinal() * 24 + au // functions.UNITS["hour"])
    assert functions.datediff("hour", first, second, 0) == hours
    # weeks run Sunday to Saturday: the Sundays in (a, b]
    sundays = sum(1 for k in range(1, (b - a).days + 1) if (a + dt.timedelta(days=k)).weekday() == 6) \
        if (b - a).days <= 800 and b >= a else None
    if sundays is not None:
        assert functions.datediff("week", first, second, 0) == sundays


@settings(max_examples=30)
@given(st.text(alphabet="ab é", max_size=5), st.integers(min_value=-2, max_value=3000))
def test_replicate_cuts_at_8000_bytes_unless_max(text: str, times: int) -> None:
    cut = functions.replicate(text, times, "varchar(10)")
    whole = functions.replicate(text, times, "varchar(max)")
    if times < 0:
        assert cut is None and whole is None
        return
    assert whole == text * times
    assert cut == (text * times)[:8000]
    assert functions.replicate(text, times, "nvarchar(10)") == (text * times)[:4000]


def test_date_functions_run_in_the_sandbox() -> None:
    row = _query("CREATE TABLE dbo.T (d DATETIME2, e DATE, s VARCHAR(20))\n"
                 "INSERT INTO dbo.T VALUES ('2024-02-10 23:30:00', '2024-02-09', '2024-02-01')\n"
                 "SELECT DATEADD(hour, 1, d), DATEDIFF(day, e, d), DATEADD(day, 1, s), EOMONTH(e), YEAR(s) FROM dbo.T")
    assert row == ("2024-02-11 00:30:00.0000000", 1, "2024-02-02 00:00:00.000", "2024-02-29", 2024)


@pytest.mark.parametrize("sql", [
    "SELECT DATEPART(weekday, '2024-01-01')",      # SET DATEFIRST decides
    "SELECT DATEDIFF(weekday, '2024-01-01', '2024-02-01')",
    "SELECT DATEADD(nanosecond, 1, CAST('2024-01-01' AS DATETIME2))",
    "SELECT DATEADD(day, 1, 5)",                    # a number is not a date here
    "SELECT CEILING('2.5')",                        # converted to float by SQL Server
])
def test_what_depends_on_settings_or_undocumented_rules_is_refused(sql: str) -> None:
    target = SandboxTarget()
    try:
        result = target.execute_script(sql, source="probe.sql")
        assert isinstance(result.error, UnsupportedConstruct), result.error
    finally:
        target.close()


def test_a_value_that_is_no_stored_date_is_refused_not_misread() -> None:
    with pytest.raises(Ambiguous):
        functions.datepart("year", "10/02/2024")
