"""Values as SQL Server stores and shows them (pytest_opus/tsql/writes.py, translate.py; issue 10 item 5).

Dates and times written to columns (DATETIME rounded to 1/300 s, SMALLDATETIME to the minute, errors 241
and 242), text written to VARCHAR (code page 1252, or refused), uniqueidentifier (error 8169), money,
binary; ISNULL's type; FOR JSON's text; a decimal converted to text. A hypothesis test writes random values
into columns of random declared types and checks that the sandbox accepts exactly what a model of SQL
Server's rules accepts (the model below, written from the pages cited), stores what SQL Server would
return, and refuses what the model cannot tell. tests/conformance/values.yaml holds the probes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql.expression_types import in_code_page

LEARN = "https://learn.microsoft.com/en-us/sql"
#: "Rounded to increments of .000, .003, or .007 seconds"; 1753-01-01 through 9999-12-31
DATETIME = f"{LEARN}/t-sql/data-types/datetime-transact-sql"
#: "29.998 seconds or less are rounded down ...; 29.999 seconds or more are rounded up"; 1900-01-01 to 2079-06-06
SMALLDATETIME = f"{LEARN}/t-sql/data-types/smalldatetime-transact-sql"
#: YYYY-MM-DD; a string with a time converted to date keeps the date
DATE = f"{LEARN}/t-sql/data-types/date-transact-sql"
#: a string longer than 36 characters is cut; 8169 for one that is no GUID
UNIQUEIDENTIFIER = f"{LEARN}/t-sql/data-types/uniqueidentifier-transact-sql"
#: "accurate to a ten-thousandth of the monetary units"; -922,337,203,685,477.5808 to 922,337,203,685,477.5807
MONEY = f"{LEARN}/t-sql/data-types/money-and-smallmoney-transact-sql"
#: non-Unicode text holds the characters of the collation's code page (1252 for SQL_Latin1_General_CP1_CI_AS)
CODE_PAGE = f"{LEARN}/relational-databases/collations/collation-and-unicode-support"


@pytest.fixture
def sandbox() -> Iterator[SandboxTarget]:
    target = SandboxTarget()
    try:
        yield target
    finally:
        target.close()


def run(target: SandboxTarget, sql: str) -> Any:
    """The last result set's rows, or the error (number, message), or 'refused'."""
    result = target.execute_script(sql)
    if isinstance(result.error, UnsupportedConstruct):
        return "refused"
    if result.error is not None:
        return result.error.number, result.error.message
    return [tuple(r) for r in result.result_sets[-1].rows]


# -- the model ---------------------------------------------------------------------------------------------
ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:(?: (\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)"
                 r"|(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?))?")
TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?")
GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def datetime_ticks(milliseconds: int) -> int:
    """DATETIME's milliseconds: the last digit becomes 0, 3 or 7, or the next ten (DATETIME page's table:
    .990/.991 -> .990, .992-.994 -> .993, .995-.998 -> .997, .999 -> the next second)."""
    last = milliseconds % 10
    return milliseconds - last + (0 if last <= 1 else 3 if last <= 4 else 7 if last <= 8 else 10)


def model_date_time(name: str, text: str) -> tuple[str, Any]:
    """("ok", the text the sandbox stores), ("error", number) or ("refused", None) for text written to a
    date/time column."""
    stripped = text.strip(" ")
    if stripped == "":
        return "refused", None
    if name == "time":
        m = TIME.fullmatch(stripped)
        parts = ("1900", "01", "01", *m.groups()) if m else None
    else:
        m = ISO.fullmatch(stripped)
        parts = None
        if m:
            g = m.groups()
            parts = (*g[:3], *(g[3:7] if g[7] is None else g[7:11]))
    if parts is None:  # a format read by SET DATEFORMAT / LANGUAGE, or no date at all
        return ("refused", None) if any(ch.isdigit() for ch in stripped) else ("error", 241)
    year, month, day, hour, minute, second, fraction = parts
    hour, minute, second, fraction = hour or "00", minute or "00", second or "00", fraction or ""
    try:
        day_value = dt.date(int(year), int(month), int(day))
    except ValueError:
        return "error", 241
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        return "error", 241
    clock = f"{hour}:{minute}:{second}"
    if name == "date":
        return "ok", day_value.isoformat()
    if name == "time":
        return "ok", f"{clock}.{fraction.ljust(7, '0')}"
    if name == "datetime2":
        return "ok", f"{day_value.isoformat()} {clock}.{fraction.ljust(7, '0')}"
    if len(fraction) > 3:  # datetime and smalldatetime read at most milliseconds from text
        return "error", 241
    start = dt.datetime(day_value.year, day_value.month, day_value.day, int(hour), int(minute), int(second))
    milliseconds = int(fraction.ljust(3, "0"))
    try:
        if name == "datetime":
            moment = start + dt.timedelta(milliseconds=datetime_ticks(milliseconds))
            if not dt.datetime(1753, 1, 1) <= moment <= dt.datetime(9999, 12, 31, 23, 59, 59, 997000):
                return "error", 242
            return "ok", moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        up = int(second) * 1000 + milliseconds >= 29_999
        moment = start.replace(second=0) + dt.timedelta(minutes=1 if up else 0)
    except OverflowError:
        return "error", 242
    if not dt.datetime(1900, 1, 1) <= moment <= dt.datetime(2079, 6, 6, 23, 59):
        return "error", 242
    return "ok", moment.strftime("%Y-%m-%d %H:%M:00")


def model_guid(text: str) -> tuple[str, Any]:
    if len(text) == 38 and text[0] == "{" and text[-1] == "}" and GUID.fullmatch(text[1:-1]):
        return "ok", text[1:-1].upper()
    if GUID.fullmatch(text[:36]):
        return "ok", text[:36].upper()
    return "error", 8169


def model_varchar(text: str) -> tuple[str, Any]:
    """varchar(max): the text itself when code page 1252 holds it (Python's cp1252 codec), else refused."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return "refused", None
    return "ok", text


def model_money(value: Decimal) -> tuple[str, Any]:
    rounded = value.quantize(Decimal("0.0001"), ROUND_HALF_UP)
    if abs(rounded) > Decimal("922337203685477.5807"):
        return "error", 8115
    if abs(rounded) >= 10**11 and value != value.to_integral_value():  # beyond the sandbox's 15 digits (docs)
        return "refused", None  # (a Decimal with an integral value is bound as an integer: exact)
    return "ok", rounded


def model(type_text: str, value: Any) -> tuple[str, Any]:
    if type_text in ("date", "time", "datetime", "datetime2", "smalldatetime"):
        return model_date_time(type_text, value)
    if type_text == "uniqueidentifier":
        return model_guid(value)
    if type_text == "varchar(max)":
        return model_varchar(value)
    return model_money(value)


# -- the model against SQL Server's documented examples ----------------------------------------------------
@pytest.mark.parametrize(("name", "text", "expected"), [
    ("datetime", "1998-01-01 23:59:59.999", ("ok", "1998-01-02 00:00:00.000")),  # DATETIME page's table
    ("datetime", "1998-01-01 23:59:59.995", ("ok", "1998-01-01 23:59:59.997")),
    ("datetime", "1998-01-01 23:59:59.992", ("ok", "1998-01-01 23:59:59.993")),
    ("datetime", "1998-01-01 23:59:59.990", ("ok", "1998-01-01 23:59:59.990")),
    ("smalldatetime", "2000-05-08 12:35:29.998", ("ok", "2000-05-08 12:35:00")),  # SMALLDATETIME page
    ("smalldatetime", "2000-05-08 12:35:29.999", ("ok", "2000-05-08 12:36:00")),
    ("date", "2024-02-30", ("error", 241)),
    ("datetime", "1752-12-31", ("error", 242)),
    ("datetime", "01/02/2024", ("refused", None)),
])
def test_the_model_gives_the_documented_examples(name: str, text: str, expected: tuple[str, Any]) -> None:
    assert model_date_time(name, text) == expected


# -- the sandbox against the model -------------------------------------------------------------------------
DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")
FRACTION = st.text("0123456789", min_size=1, max_size=8)
ISO_TEXT = st.builds(
    lambda y, mo, d, sep, h, mi, s, f, blanks: blanks + f"{y:04d}-{mo}-{d}" + (
        "" if sep is None else f"{sep}{h}:{mi}" + ("" if s is None else f":{s}" + ("" if f is None else f".{f}"))
    ) + blanks,
    st.sampled_from([1, 1752, 1753, 1899, 1900, 2000, 2024, 2079, 2080, 9999]),
    st.sampled_from(["01", "02", "06", "12", "13", "00"]),
    st.sampled_from(["01", "06", "07", "28", "29", "30", "31", "32"]),
    st.sampled_from([None, " ", "T"]),
    st.sampled_from(["00", "12", "23", "24"]), st.sampled_from(["00", "29", "59", "60"]),
    st.one_of(st.none(), st.sampled_from(["00", "29", "30", "59", "60"]), DIGITS),
    st.one_of(st.none(), FRACTION, st.sampled_from(["998", "999", "9999999", "001", "5"])),
    st.sampled_from(["", " "]),
)
TIME_TEXT = st.builds(lambda h, m, s, f: f"{h}:{m}" + ("" if s is None else f":{s}" + ("" if f is None else f".{f}")),
                      DIGITS, DIGITS, st.one_of(st.none(), DIGITS), st.one_of(st.none(), FRACTION))
OTHER_TEXT = st.sampled_from(["", "  ", "notadate", "01/02/2024", "Jan 1 2024", "20240131", "abc", "12:00 PM"])
GUID_TEXT = st.one_of(
    st.uuids().map(str), st.uuids().map(lambda u: "{" + str(u) + "}"), st.uuids().map(lambda u: str(u).upper() + "xyz"),
    st.uuids().map(lambda u: str(u)[:-1] + "g"), st.text("0123456789abcdef-{}", max_size=40),
)
# code page 1252 holds Latin-1 and 27 characters more; Greek, CJK and emoji it does not
VARCHAR_TEXT = st.text(st.one_of(st.sampled_from("ab €ŠœŸ“é\u00ff"), st.sampled_from("ΩЖ中\u0081\u0100😀")),
                       max_size=8)
MONEY_VALUES = st.builds(lambda n, k: Decimal(n).scaleb(-k), st.integers(-(10**15), 10**15), st.integers(0, 4))


@st.composite
def type_and_value(draw: st.DrawFn) -> tuple[str, Any]:
    type_text = draw(st.sampled_from(["date", "time", "datetime", "datetime2", "smalldatetime", "uniqueidentifier",
                                      "varchar(max)", "money"]))
    if type_text == "time":
        return type_text, draw(st.one_of(TIME_TEXT, OTHER_TEXT))
    if type_text == "uniqueidentifier":
        return type_text, draw(GUID_TEXT)
    if type_text == "varchar(max)":
        return type_text, draw(VARCHAR_TEXT)
    if type_text == "money":
        return type_text, draw(MONEY_VALUES)
    return type_text, draw(st.one_of(ISO_TEXT, OTHER_TEXT))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=type_and_value())
def test_random_values_are_accepted_and_stored_as_the_model_says(sandbox: SandboxTarget,
                                                                 case: tuple[str, Any]) -> None:
    type_text, value = case
    sandbox.execute("DROP TABLE IF EXISTS dbo.V")
    sandbox.execute(f"CREATE TABLE dbo.V (c {type_text})")
    outcome, expected = model(type_text, value)
    try:
        sandbox.execute("INSERT INTO dbo.V (c) VALUES (?)", [value])
    except UnsupportedConstruct:
        assert outcome == "refused", (type_text, value, outcome, expected)
        return
    except ScriptError as error:
        assert (outcome, expected) == ("error", error.number), (type_text, value, error.message)
        return
    assert outcome == "ok", (type_text, value, outcome, expected)
    (stored,), = sandbox.execute("SELECT c FROM dbo.V")
    if type_text == "money":
        assert Decimal(repr(stored)) == expected if isinstance(stored, float) else Decimal(stored) == expected
    else:
        assert stored == expected, (type_text, value)


def test_the_code_page_check_agrees_with_pythons_cp1252() -> None:
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        try:
            ch.encode("cp1252")
            held = True
        except UnicodeEncodeError:
            held = False
        assert in_code_page(ch) is held, hex(code)


# -- other values ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("sql", "expected"), [
    # ISNULL takes its first argument's type (ISNULL page): the replacement is converted to it
    ("DECLARE @v VARCHAR(5); SELECT ISNULL(@v, 'longer text')", [("longe",)]),
    ("DECLARE @v CHAR(4); SELECT ISNULL(@v, 'ab') + '|'", [("ab  |",)]),
    ("DECLARE @i INT; SELECT ISNULL(@i, 2.7)", [(2,)]),
    ("DECLARE @i INT; SELECT ISNULL(@i, 'abc')",
     (245, "Conversion failed when converting the varchar value 'abc' to data type int.")),
    ("CREATE TABLE dbo.T (c NVARCHAR(3)); INSERT INTO dbo.T VALUES (NULL); SELECT ISNULL(c, N'abcdef') FROM dbo.T",
     [("abc",)]),
    # a decimal converted to text keeps its scale; too long is 8115 (CAST and CONVERT)
    ("SELECT CAST(2.50 AS VARCHAR), CAST(-0.5 AS VARCHAR(10)), CONVERT(NVARCHAR(60), CAST(12.5 AS DECIMAL(18,4)))",
     [("2.50", "-0.5", "12.5000")]),
    ("DECLARE @d DECIMAL(9,3) = 1; SELECT CAST(@d AS VARCHAR(10))", [("1.000",)]),
    ("SELECT CAST(123.45 AS VARCHAR(5))", (8115, "Arithmetic overflow error converting numeric to data type varchar.")),
    ("SELECT CAST(12345 AS VARCHAR)", [("12345",)]),  # VARCHAR without a length is varchar(30) in CAST
    # FOR JSON as SQL Server writes it (how FOR JSON converts data types; how it escapes characters)
    ("SELECT (SELECT CAST(12.5 AS DECIMAL(18,4)) AS [d], CAST(1 AS BIT) AS [b], CAST(NULL AS BIT) AS [n], "
     "N'a/b' AS [t], 7 AS [i] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)",
     [('{"d":12.5000,"b":true,"n":null,"t":"a\\/b","i":7}',)]),
    ("CREATE TABLE dbo.T (d DECIMAL(18,4), b BIT); INSERT INTO dbo.T VALUES (3, 0); "
     "SELECT (SELECT t.d AS [d], b AS [b] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) FROM dbo.T AS t",
     [('{"d":3.0000,"b":false}',)]),
    ("DECLARE @f FLOAT = 1; SELECT (SELECT @f AS [f] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)",
     "refused"),
    ("SELECT (SELECT CAST('2024-01-01 10:00' AS DATETIME) AS [d] FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, "
     "INCLUDE_NULL_VALUES)", "refused"),
    # code page 1252: literals, variables, columns
    ("SELECT 'Ω'", "refused"),
    ("DECLARE @v VARCHAR(10) = N'Жук'; SELECT @v", "refused"),
    ("DECLARE @v NVARCHAR(10) = N'Жук'; SELECT @v", [("Жук",)]),
    ("CREATE TABLE dbo.T (v VARCHAR(MAX)); INSERT INTO dbo.T VALUES (N'中')", "refused"),
    ("CREATE TABLE dbo.T (v VARCHAR(5)); INSERT INTO dbo.T VALUES (N'Œ€'); SELECT v FROM dbo.T", [("Œ€",)]),
    # dates in variables and CAST, as in columns
    ("DECLARE @d DATETIME = '2024-03-01 08:30:00.994'; SELECT @d", [("2024-03-01 08:30:00.993",)]),
    ("DECLARE @d DATETIME; SET @d = 'soon'",
     (241, "Conversion failed when converting date and/or time from character string.")),
    ("SELECT CAST(CAST('2024-01-31 10:20:30' AS DATETIME) AS DATE)", [("2024-01-31",)]),
    ("DECLARE @d DATETIME2 = '2020-01-01 10:00:00.1234567'; DECLARE @e DATETIME = @d", "refused"),
    # uniqueidentifier, money, binary written to columns
    ("CREATE TABLE dbo.T (g UNIQUEIDENTIFIER); INSERT INTO dbo.T VALUES ('{6f9619ff-8b86-d011-b42d-00c04fc964ff}'); "
     "SELECT g FROM dbo.T", [("6F9619FF-8B86-D011-B42D-00C04FC964FF",)]),
    ("CREATE TABLE dbo.T (g UNIQUEIDENTIFIER); INSERT INTO dbo.T VALUES (1)", "refused"),
    ("CREATE TABLE dbo.T (m MONEY); INSERT INTO dbo.T VALUES (922337203685478)",
     (8115, "Arithmetic overflow error converting numeric to data type money.")),
    ("CREATE TABLE dbo.T (m MONEY); INSERT INTO dbo.T VALUES ('$5')", "refused"),
    ("CREATE TABLE dbo.T (b VARBINARY(2)); INSERT INTO dbo.T VALUES (0x0102); SELECT b FROM dbo.T", [(b"\x01\x02",)]),
    ("CREATE TABLE dbo.T (b VARBINARY(2)); INSERT INTO dbo.T VALUES (0x010203)", "refused"),
    ("CREATE TABLE dbo.T (b BINARY(4)); INSERT INTO dbo.T VALUES (0x01)", "refused"),
    ("CREATE TABLE dbo.T (t TIME); INSERT INTO dbo.T VALUES ('10:00:01.5'); SELECT t FROM dbo.T",
     [("10:00:01.5000000",)]),
])
def test_values_are_sql_servers_or_refused(sandbox: SandboxTarget, sql: str, expected: Any) -> None:
    assert run(sandbox, sql) == expected
