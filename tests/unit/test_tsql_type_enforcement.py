"""Values written to columns are converted and checked as SQL Server does (pytest_opus/tsql/writes.py).

Each case is a small T-SQL probe with SQL Server's documented result beside it (an error number and
message, or the value stored) and the Microsoft page it comes from; the cases run on the sandbox and
on the ODBC SQLite target. A hypothesis test then writes random values into columns of random
declared types and checks that the sandbox accepts exactly the values a model of SQL Server's rules
accepts (the model below, written from those pages), and stores what SQL Server would return.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_odbc_sqlite import _require_sqlite_odbc

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.embedded import EmbeddedTarget
from pytest_opus.targets.sandbox import SandboxTarget

IN_CI = bool(os.environ.get("CI"))
LEARN = "https://learn.microsoft.com/en-us/sql"
ERRORS_0_999 = f"{LEARN}/relational-databases/errors-events/database-engine-events-and-errors-0-to-999"
ERRORS_2000 = f"{LEARN}/relational-databases/errors-events/database-engine-events-and-errors-2000-to-2999"
ERRORS_8000 = f"{LEARN}/relational-databases/errors-events/database-engine-events-and-errors-8000-to-8999"
#: 2628 replaces 8152 at compatibility level 150 (SQL Server 2019) unless VERBOSE_TRUNCATION_WARNINGS = OFF
VERBOSE_TRUNCATION = f"{LEARN}/t-sql/statements/alter-database-scoped-configuration-transact-sql"
#: "Trailing blanks are ignored for character columns" (INSERT/UPDATE with ANSI_WARNINGS ON, the default)
ANSI_WARNINGS = f"{LEARN}/t-sql/statements/set-ansi-warnings-transact-sql"
#: numeric and float to int truncate, numeric to numeric rounds; int too long for char/varchar is '*',
#: for nchar/nvarchar and from numeric an error; non-numeric or empty strings to decimal fail
CAST = f"{LEARN}/t-sql/functions/cast-and-convert-transact-sql"
INTEGERS = f"{LEARN}/t-sql/data-types/int-bigint-smallint-and-tinyint-transact-sql"
DECIMAL = f"{LEARN}/t-sql/data-types/decimal-and-numeric-transact-sql"
CHAR = f"{LEARN}/t-sql/data-types/char-and-varchar-transact-sql"
NCHAR = f"{LEARN}/t-sql/data-types/nchar-and-nvarchar-transact-sql"
IDENTITY_INSERT = f"{LEARN}/t-sql/statements/set-identity-insert-transact-sql"
#: a SET option set in a procedure or in dynamic SQL is restored when it returns
SET_STATEMENTS = f"{LEARN}/t-sql/statements/set-statements-transact-sql"

TABLE = ("CREATE TABLE dbo.T (id INT IDENTITY(1,1) PRIMARY KEY, nv NVARCHAR(5), v VARCHAR(5), c CHAR(5), "
         "ti TINYINT, si SMALLINT, i INT, b BIGINT, d DECIMAL(5,2), f FLOAT, bt BIT);")


@dataclass(frozen=True)
class Probe:
    name: str
    sql: str  # runs after TABLE
    expected: tuple[int, str] | list[tuple[Any, ...]]  # (error number, message) or the last result set's rows
    doc: str


def error(number: int, message: str) -> tuple[int, str]:
    return number, message


TRUNCATED = "String or binary data would be truncated in table 'sandbox.dbo.T', column '{}'. Truncated value: '{}'."
PROBES = [
    # -- lengths -------------------------------------------------------------------------------------
    Probe("nvarchar too long", "INSERT INTO dbo.T (nv) VALUES (N'123456');",
          error(2628, TRUNCATED.format("nv", "12345")), VERBOSE_TRUNCATION),
    Probe("varchar too long", "INSERT INTO dbo.T (v) VALUES ('123456');",
          error(2628, TRUNCATED.format("v", "12345")), ERRORS_2000),
    Probe("char too long", "INSERT INTO dbo.T (c) VALUES ('123456');", error(2628, TRUNCATED.format("c", "12345")),
          ERRORS_2000),
    Probe("update too long", "INSERT INTO dbo.T (nv) VALUES ('a'); UPDATE dbo.T SET nv = nv + N'bcdef';",
          error(2628, TRUNCATED.format("nv", "abcde")), ERRORS_2000),
    # (NCHAR: sqliteodbc garbles a character outside the BMP written in the SQL text itself)
    Probe("a character outside the BMP counts two", "INSERT INTO dbo.T (nv) VALUES (N'abcd' + NCHAR(128512));",
          error(2628, TRUNCATED.format("nv", "abcd\U0001F600")), NCHAR),
    Probe("exactly the length", "INSERT INTO dbo.T (nv, v) VALUES (N'12345', '12345'); SELECT nv, v FROM dbo.T;",
          [("12345", "12345")], CHAR),
    Probe("excess trailing blanks are dropped",
          "INSERT INTO dbo.T (v) VALUES ('abc      '); SELECT v + '|' FROM dbo.T;", [("abc  |",)], ANSI_WARNINGS),
    Probe("char is padded", "INSERT INTO dbo.T (c) VALUES ('ab'); SELECT c + '|', LEN(c) FROM dbo.T;",
          [("ab   |", 2)], CHAR),
    Probe("an int too long for varchar is '*'", "INSERT INTO dbo.T (v) VALUES (123456); SELECT v FROM dbo.T;",
          [("*",)], CAST),
    Probe("an int too long for nvarchar is an error", "INSERT INTO dbo.T (nv) VALUES (123456);",
          error(8115, "Arithmetic overflow error converting expression to data type nvarchar."), CAST),
    # -- integer ranges --------------------------------------------------------------------------------
    Probe("300 into tinyint", "INSERT INTO dbo.T (ti) VALUES (300);",
          error(220, "Arithmetic overflow error for data type tinyint, value = 300."), ERRORS_0_999),
    Probe("-1 into tinyint", "INSERT INTO dbo.T (ti) VALUES (-1);",
          error(220, "Arithmetic overflow error for data type tinyint, value = -1."), INTEGERS),
    Probe("32768 into smallint", "INSERT INTO dbo.T (si) VALUES (32768);",
          error(220, "Arithmetic overflow error for data type smallint, value = 32768."), ERRORS_0_999),
    Probe("2147483648 into int", "INSERT INTO dbo.T (i) VALUES (2147483648);",
          error(8115, "Arithmetic overflow error converting expression to data type int."), ERRORS_8000),
    Probe("an int expression out of range", "DECLARE @b BIGINT = 2147483648; INSERT INTO dbo.T (i) VALUES (@b);",
          error(8115, "Arithmetic overflow error converting expression to data type int."), ERRORS_8000),
    Probe("the limits fit", "INSERT INTO dbo.T (ti, si, i, b) VALUES (255, -32768, 2147483647, "
          "-9223372036854775808); SELECT ti, si, i, b FROM dbo.T;",
          [(255, -32768, 2147483647, -9223372036854775808)], INTEGERS),
    Probe("a decimal is truncated to an int", "INSERT INTO dbo.T (i) VALUES (-10.6496); SELECT i FROM dbo.T;",
          [(-10,)], CAST),
    # -- text that is not a number ----------------------------------------------------------------------
    Probe("'notanumber' into int", "INSERT INTO dbo.T (i) VALUES ('notanumber');",
          error(245, "Conversion failed when converting the varchar value 'notanumber' to data type int."),
          ERRORS_0_999),
    Probe("N'x' into smallint", "INSERT INTO dbo.T (si) VALUES (N'x');",
          error(245, "Conversion failed when converting the nvarchar value 'x' to data type smallint."), ERRORS_0_999),
    Probe("'1.5' into int", "INSERT INTO dbo.T (i) VALUES ('1.5');",
          error(245, "Conversion failed when converting the varchar value '1.5' to data type int."), CAST),
    Probe("'notanumber' into bigint", "INSERT INTO dbo.T (b) VALUES ('notanumber');",
          error(8114, "Error converting data type varchar to bigint."), ERRORS_8000),
    Probe("'300' into tinyint", "INSERT INTO dbo.T (ti) VALUES ('300');",
          error(244, "The conversion of the varchar value '300' overflowed an INT1 column. Use a larger integer "
                     "column."), ERRORS_0_999),
    Probe("'3000000000' into int", "INSERT INTO dbo.T (i) VALUES ('3000000000');",
          error(248, "The conversion of the varchar value '3000000000' overflowed an int column."), ERRORS_0_999),
    Probe("text with blanks around a number", "INSERT INTO dbo.T (i, d) VALUES ('  42 ', ' -1.5 '); "
          "SELECT i, d FROM dbo.T;", [(42, -1.5)], CAST),
    Probe("'notanumber' into decimal", "INSERT INTO dbo.T (d) VALUES ('notanumber');",
          error(8114, "Error converting data type varchar to numeric."), ERRORS_8000),
    Probe("an empty string into decimal", "INSERT INTO dbo.T (d) VALUES ('');",
          error(8114, "Error converting data type varchar to numeric."), CAST),
    Probe("'abc' into float", "INSERT INTO dbo.T (f) VALUES ('abc');",
          error(8114, "Error converting data type varchar to float."), ERRORS_8000),
    Probe("'1e3' into float", "INSERT INTO dbo.T (f) VALUES ('1e3'); SELECT f FROM dbo.T;", [(1000.0,)], CAST),
    # (one INSERT each: in one VALUES list the text would first be converted to int, the type of 5, error 245)
    Probe("'true' into bit", "INSERT INTO dbo.T (bt) VALUES ('true'), ('0'); INSERT INTO dbo.T (bt) VALUES (5); "
          "SELECT bt FROM dbo.T ORDER BY id;", [(1,), (0,), (1,)], CAST),
    # -- decimal precision and scale -------------------------------------------------------------------
    Probe("decimal(5,2) overflow", "INSERT INTO dbo.T (d) VALUES (1000.00);",
          error(8115, "Arithmetic overflow error converting numeric to data type numeric."), ERRORS_8000),
    Probe("rounding up overflows", "INSERT INTO dbo.T (d) VALUES (999.995);",
          error(8115, "Arithmetic overflow error converting numeric to data type numeric."), DECIMAL),
    Probe("an int too big for decimal(5,2)", "INSERT INTO dbo.T (d) VALUES (1000);",
          error(8115, "Arithmetic overflow error converting int to data type numeric."), ERRORS_8000),
    Probe("text too big for decimal(5,2)", "INSERT INTO dbo.T (d) VALUES ('1000');",
          error(8115, "Arithmetic overflow error converting varchar to data type numeric."), ERRORS_8000),
    Probe("the scale is rounded half away from zero",
          "INSERT INTO dbo.T (d) VALUES (1.255), (-1.255), (2.675), (999.994); INSERT INTO dbo.T (d) VALUES ('0.125'); "
          "SELECT d FROM dbo.T ORDER BY id;",
          [(1.26,), (-1.26,), (2.68,), (999.99,), (0.13,)], CAST),
    # -- a statement that fails writes nothing ------------------------------------------------------------
    Probe("a failing row undoes its statement",
          "BEGIN TRY INSERT INTO dbo.T (ti) VALUES (1), (2), (300); END TRY BEGIN CATCH PRINT ERROR_NUMBER(); "
          "END CATCH; SELECT COUNT(*) FROM dbo.T;", [(0,)], ERRORS_0_999),
    Probe("INSERT ... SELECT converts every row",
          "INSERT INTO dbo.T (i) VALUES (1), (300); INSERT INTO dbo.T (ti) SELECT i FROM dbo.T;",
          error(220, "Arithmetic overflow error for data type tinyint, value = 300."), ERRORS_0_999),
    Probe("SELECT ... INTO converts to the new column's type",
          "SELECT CAST('ab' AS CHAR(5)) AS c INTO #t; SELECT c + '|' FROM #t;", [("ab   |",)], CHAR),
    Probe("a #temp table is checked too", "CREATE TABLE #u (c VARCHAR(2)); INSERT INTO #u VALUES ('abc');",
          error(2628, "String or binary data would be truncated in table 'tempdb.dbo.#u', column 'c'. "
                      "Truncated value: 'ab'."), ERRORS_2000),
    Probe("ALTER COLUMN converts the rows", "INSERT INTO dbo.T (d) VALUES (1.25); ALTER TABLE dbo.T ALTER COLUMN d "
          "DECIMAL(5,1); SELECT d FROM dbo.T;", [(1.3,)], DECIMAL),
    Probe("ALTER COLUMN to a number needs numbers", "INSERT INTO dbo.T (v) VALUES ('x'); ALTER TABLE dbo.T "
          "ALTER COLUMN v INT;",
          error(245, "Conversion failed when converting the varchar value 'x' to data type int."), ERRORS_0_999),
    # -- IDENTITY and IDENTITY_INSERT -----------------------------------------------------------------------
    Probe("an explicit identity value", "INSERT INTO dbo.T (id, i) VALUES (5, 1);",
          error(544, "Cannot insert explicit value for identity column in table 'T' when IDENTITY_INSERT is set "
                     "to OFF."), ERRORS_0_999),
    Probe("IDENTITY_INSERT ON takes it, and the next value follows it",
          "SET IDENTITY_INSERT dbo.T ON; INSERT INTO dbo.T (id, i) VALUES (50, 1); SET IDENTITY_INSERT dbo.T OFF; "
          "INSERT INTO dbo.T (i) VALUES (2); SELECT id, i FROM dbo.T ORDER BY id;", [(50, 1), (51, 2)],
          IDENTITY_INSERT),
    Probe("IDENTITY_INSERT ON needs the identity column",
          "SET IDENTITY_INSERT dbo.T ON; INSERT INTO dbo.T (i) VALUES (1);",
          error(545, "Explicit value must be specified for identity column in table 'T' either when "
                     "IDENTITY_INSERT is set to ON or when a replication user is inserting into a NOT FOR "
                     "REPLICATION identity column."), ERRORS_0_999),
    Probe("NULL is no identity value", "SET IDENTITY_INSERT dbo.T ON; INSERT INTO dbo.T (id, i) VALUES (NULL, 1);",
          error(339, "DEFAULT or NULL are not allowed as explicit identity values."), ERRORS_0_999),
    Probe("one table at a time", "CREATE TABLE dbo.U (k INT IDENTITY(1,1) PRIMARY KEY); "
          "SET IDENTITY_INSERT dbo.T ON; SET IDENTITY_INSERT dbo.U ON;",
          error(8107, "IDENTITY_INSERT is already ON for table 'sandbox.dbo.T'. Cannot perform SET operation for "
                      "table 'U'."), IDENTITY_INSERT),
    Probe("a table without identity", "CREATE TABLE dbo.U (k INT); SET IDENTITY_INSERT dbo.U ON;",
          error(8106, "Table 'U' does not have the identity property. Cannot perform SET operation."), ERRORS_8000),
    Probe("a missing table", "SET IDENTITY_INSERT dbo.Nope ON;",
          error(1088, 'Cannot find the object "Nope" because it does not exist or you do not have permissions.'),
          IDENTITY_INSERT),
    Probe("no column list with the identity value", "INSERT INTO dbo.T VALUES (1, 'a', 'b', 'c', 1, 2, 3, 4, 5, 6, 1);",
          error(8101, "An explicit value for the identity column in table 'T' can only be specified when a column "
                      "list is used and IDENTITY_INSERT is ON."), ERRORS_8000),
    Probe("no column list skips the identity column",
          "INSERT INTO dbo.T VALUES ('a', 'b', 'c', 1, 2, 3, 4, 5, 6, 1); SELECT id, nv, c FROM dbo.T;",
          [(1, "a", "c    ")], IDENTITY_INSERT),
    Probe("an identity column is not updated", "UPDATE dbo.T SET id = 3;",
          error(8102, "Cannot update identity column 'id'."), ERRORS_8000),
    Probe("a SET in dynamic SQL ends with it",
          "EXEC('SET IDENTITY_INSERT dbo.T ON'); INSERT INTO dbo.T (id, i) VALUES (7, 1);",
          error(544, "Cannot insert explicit value for identity column in table 'T' when IDENTITY_INSERT is set "
                     "to OFF."), SET_STATEMENTS),
    Probe("more values than columns", "INSERT INTO dbo.T (i) VALUES (1, 2);",
          error(110, "There are fewer columns in the INSERT statement than values specified in the VALUES clause. "
                     "The number of values in the VALUES clause must match the number of columns specified in the "
                     "INSERT statement."), ERRORS_0_999),
    # -- dates, uniqueidentifier, money (the rules are docs/embedded-runner.md's; tests/unit/test_tsql_values.py) --
    Probe("datetime rounds to 1/300 s", "CREATE TABLE dbo.U (k INT, d DATETIME); INSERT INTO dbo.U VALUES "
          "(1, '1998-01-01 23:59:59.999'), (2, '1998-01-01 23:59:59.994'); SELECT d FROM dbo.U ORDER BY k;",
          [("1998-01-02 00:00:00.000",), ("1998-01-01 23:59:59.993",)],
          f"{LEARN}/t-sql/data-types/datetime-transact-sql"),
    Probe("an impossible date", "CREATE TABLE dbo.U (d DATE); INSERT INTO dbo.U VALUES ('2023-02-29');",
          error(241, "Conversion failed when converting date and/or time from character string."), ERRORS_0_999),
    Probe("text that is no GUID", "CREATE TABLE dbo.U (g UNIQUEIDENTIFIER); INSERT INTO dbo.U VALUES ('abc');",
          error(8169, "Conversion failed when converting from a character string to uniqueidentifier."), ERRORS_8000),
    Probe("money has four decimals", "CREATE TABLE dbo.U (m MONEY); INSERT INTO dbo.U VALUES (2.71828); "
          "SELECT m FROM dbo.U;", [(2.7183,)], f"{LEARN}/t-sql/data-types/money-and-smallmoney-transact-sql"),
    # NOT NULL stays SQL Server's 515
    Probe("NOT NULL", "CREATE TABLE dbo.U (k INT NOT NULL); INSERT INTO dbo.U (k) VALUES (NULL);",
          (515, ""), ERRORS_0_999),
]


def open_target(kind: str, path: Path) -> EmbeddedTarget:
    if kind == "sandbox":
        return SandboxTarget()
    _require_sqlite_odbc()
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    return OdbcSqliteTarget(f"Driver=SQLite3;Database={path}")


@pytest.fixture(params=["sandbox", "odbc-sqlite"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedTarget]:
    """An empty database on the sandbox, or on an SQLite file through the ODBC driver."""
    opened = open_target(request.param, tmp_path / "types.sqlite")
    try:
        yield opened
    finally:
        opened.close()


#: Known failures of the ODBC SQLite target that are not about writing values: sqliteodbc reads a computed
#: integer beyond 32 bits as its low 32 bits (DECLARE @b BIGINT = 2147483648 holds -2147483648).
ODBC_DRIVER_LIMITS = {"an int expression out of range": "sqliteodbc reads a computed 64-bit integer as 32 bits"}


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_a_written_value_gets_sql_servers_answer(target: EmbeddedTarget, probe: Probe,
                                                 request: pytest.FixtureRequest) -> None:
    odbc = target.kind == "odbc-sqlite"
    if odbc and probe.name in ODBC_DRIVER_LIMITS:
        request.applymarker(pytest.mark.xfail(reason=ODBC_DRIVER_LIMITS[probe.name], strict=True))
    assert target.execute_script(TABLE).ok
    result = target.execute_script(probe.sql)
    if isinstance(probe.expected, tuple):
        number, message = probe.expected
        assert result.error is not None, f"{probe.name}: expected error {number} ({probe.doc})"
        assert result.error.number == number, (result.error.message, probe.doc)
        # (over ODBC an error's text loses characters outside the BMP: the driver re-encodes it)
        if message and not (odbc and any(ord(ch) > 0xFFFF for ch in message)):
            assert result.error.message == message, probe.doc
    else:
        assert result.error is None, (result.error, probe.doc)
        rows = [rs for b in result.batches for rs in b.result_sets][-1].rows
        assert [tuple(_plain(v, e) for v, e in zip(r, x, strict=True)) for r, x in zip(rows, probe.expected,
                                                                                      strict=True)] == probe.expected
        assert len(rows) == len(probe.expected), probe.doc


def _plain(value: Any, expected: Any) -> Any:
    """A decimal as a float; sqliteodbc reports some DECIMAL(p,s) columns as text: their digits."""
    if isinstance(expected, float) and isinstance(value, Decimal | str | int):
        return float(value)
    return value


def test_identity_insert_is_a_setting_of_the_session(target: EmbeddedTarget) -> None:
    """It stays ON across scripts until set OFF; a procedure's own SET ends with the procedure."""
    assert target.execute_script(TABLE).ok
    assert target.execute_script("SET IDENTITY_INSERT dbo.T ON;").ok
    assert target.execute_script("INSERT INTO dbo.T (id, i) VALUES (10, 1);").ok
    assert target.execute_script("SET IDENTITY_INSERT dbo.T OFF;").ok
    assert target.execute_script("CREATE PROCEDURE dbo.P AS SET IDENTITY_INSERT dbo.T ON;").ok
    failed = target.execute_script("EXEC dbo.P; INSERT INTO dbo.T (id, i) VALUES (11, 1);")
    assert failed.error is not None and failed.error.number == 544  # SET_STATEMENTS


def test_library_statements_are_checked_too(target: EmbeddedTarget) -> None:
    """Parameters bound by library code (execute, executemany) go through the same conversions; a
    Python str is an nvarchar, as pyodbc sends it to SQL Server."""
    assert target.execute_script(TABLE).ok
    with pytest.raises(ScriptError) as raised:
        target.execute("INSERT INTO dbo.T (i) VALUES (?)", ["abc"])
    assert (raised.value.number, raised.value.message) == (
        245, "Conversion failed when converting the nvarchar value 'abc' to data type int.")
    with pytest.raises(ScriptError) as raised:
        target.executemany("INSERT INTO dbo.T (ti) VALUES (?)", [(1,), (256,)])
    assert raised.value.number == 220
    target.execute("DELETE FROM dbo.T")  # (each parameter row is a statement: the row before 256 stays)
    target.executemany("INSERT INTO dbo.T (nv, d) VALUES (?, ?)", [("ab   ", Decimal("1.005")), ("x", 2)])
    rows = target.execute("SELECT nv, d FROM dbo.T ORDER BY id")
    assert [(nv, float(d)) for nv, d in rows] == [("ab   ", 1.01), ("x", 2.0)]


def test_the_deployment_scripts_still_run_with_identity_insert(deployed_file: Path, tmp_path: Path) -> None:
    """sql/restore_opus_update_boards.sql sets IDENTITY_INSERT ON for MON_UpdateAudit and OFF again."""
    from pytest_opus.targets.sandbox import SandboxTarget as Sandbox

    path = tmp_path / "restore.sqlite"
    path.write_bytes(deployed_file.read_bytes())
    root = Path(__file__).resolve().parents[2] / "sql"
    with Sandbox(path) as sandbox:
        result = sandbox.run_script_file(str(root / "restore_opus_update_boards.sql"))
        assert result.ok, result.summary()
        assert sandbox.engine.identity_insert is None


# -- random values against random declared types ------------------------------------------------------------
# The model: what SQL Server does when a value bound as a parameter (pyodbc: Python int as int/bigint,
# Decimal as decimal, str as nvarchar) is written to a column, from the pages cited above.

RANGES = {"tinyint": (0, 255), "smallint": (-(2**15), 2**15 - 1), "int": (-(2**31), 2**31 - 1),
          "bigint": (-(2**63), 2**63 - 1)}
INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")


def units(text: str) -> int:
    """UTF-16 code units: how SQL Server measures nvarchar(n) (and varchar(n) in a single-byte code page)."""
    return len(text.encode("utf-16-le")) // 2


def padded(text: str, length: int) -> str:
    """`text` with blanks up to `length` UTF-16 units."""
    return text + " " * (length - units(text))


def model(type_text: str, value: int | Decimal | str) -> tuple[str, Any]:
    """("ok", the value SQL Server returns) or ("error", its error number), for `value` bound as a
    parameter (pyodbc sends a Python int as int or bigint, a Decimal as decimal, a str as nvarchar);
    ("refused", None) where SQL Server's documentation does not say (a lone sign written as a number)."""
    name = type_text.split("(")[0]
    args = [int(a) for a in re.findall(r"\d+", type_text)]
    if name in (*RANGES, "decimal") and isinstance(value, str) and value.strip(" ") in ("+", "-"):
        return "refused", None
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(value, str):  # blanks around the number are ignored; '' is 0 (CAST)
            text = value.strip(" ")
            if text == "":
                return "ok", 0
            if not INTEGER_TEXT.fullmatch(text):
                return "error", 8114 if name == "bigint" else 245
            if low <= int(text) <= high:
                return "ok", int(text)
            return "error", {"tinyint": 244, "smallint": 244, "int": 248, "bigint": 8115}[name]
        number = int(value)  # a decimal is truncated toward zero (CAST)
        if low <= number <= high:
            return "ok", number
        return "error", 220 if name in ("tinyint", "smallint") and isinstance(value, int) else 8115
    if name == "decimal":
        precision, scale = args
        if isinstance(value, str):
            text = value.strip(" ")
            if not DECIMAL_TEXT.fullmatch(text):  # also the empty string (CAST)
                return "error", 8114
            number = Decimal(text)
        else:
            number = Decimal(value)
        with localcontext(prec=80):
            rounded = number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)  # numeric to numeric rounds
        if abs(rounded) >= Decimal(10) ** (precision - scale):
            return "error", 8115
        return "ok", rounded
    (length,) = args
    if isinstance(value, int):  # an int too long: '*' in char and varchar, an error in nvarchar (CAST)
        text = str(value) if len(str(value)) <= length else "*" if name != "nvarchar" else ""
        if not text:
            return "error", 8115
    else:
        text = value
        if units(text) > length:
            if units(text.rstrip(" ")) > length:
                return "error", 2628
            text = padded(text.rstrip(" "), length)  # only blanks beyond the length: dropped (ANSI_WARNINGS)
    return "ok", padded(text, length) if name == "char" else text


TYPES = st.one_of(
    st.sampled_from(["tinyint", "smallint", "int", "bigint"]),
    st.integers(1, 18).flatmap(lambda p: st.integers(0, p).map(lambda s: f"decimal({p},{s})")),
    st.tuples(st.sampled_from(["varchar", "nvarchar", "char"]), st.integers(1, 12)).map(lambda t: f"{t[0]}({t[1]})"),
)
INTEGER_VALUES = st.one_of(
    st.integers(-1000, 1000),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([b + d for r in RANGES.values() for b in r for d in (-1, 0, 1) if -(2**63) <= b + d < 2**63]),
)
# not integral (a Decimal with an integral value is bound as an integer), at most 13 significant digits:
# an SQLite number (a double) holds 15 exactly (docs/embedded-runner.md, Known differences)
DECIMAL_VALUES = st.builds(lambda n, k: Decimal(n).scaleb(-k), st.integers(-(10**12), 10**12), st.integers(1, 6)) \
    .filter(lambda d: d != d.to_integral_value())
NUMBER_TEXT = st.one_of(st.from_regex(r"\A {0,2}[+-]?[0-9]{1,12}(\.[0-9]{0,3})? {0,2}\Z"),
                        st.sampled_from(["-", " + "]))
# varchar and char hold a single-byte code page (cp1252): their text stays within it here (turning
# other characters into '?' is a conversion of its own, not checked here)
SINGLE_BYTE_TEXT = st.text(st.sampled_from("abcXYZ 09.-+éü"), max_size=16)
# (planes above the first supplementary one: sqliteodbc loses those characters of a bound parameter)
UNICODE_TEXT = st.text(st.one_of(st.sampled_from("ab .9"),
                                 st.characters(min_codepoint=0x20, max_codepoint=0x1FFFF,
                                               exclude_categories=("Cs", "Cc"))), max_size=14)


@st.composite
def type_and_value(draw: st.DrawFn) -> tuple[str, int | Decimal | str]:
    type_text = draw(TYPES)
    name = type_text.split("(")[0]
    value: int | Decimal | str
    if name in ("varchar", "char"):
        value = draw(st.one_of(SINGLE_BYTE_TEXT, st.integers(-(10**6), 10**8)))
    elif name == "nvarchar":
        value = draw(st.one_of(UNICODE_TEXT, st.integers(-(10**6), 10**8)))
    else:
        value = draw(st.one_of(INTEGER_VALUES, DECIMAL_VALUES, NUMBER_TEXT, SINGLE_BYTE_TEXT))
    return type_text, value


def write_and_read(target: EmbeddedTarget, type_text: str, value: Any) -> tuple[str, Any]:
    target.execute_script("DROP TABLE IF EXISTS dbo.W;")
    assert target.execute_script(f"CREATE TABLE dbo.W (c {type_text} NULL);").ok
    try:
        target.execute("INSERT INTO dbo.W (c) VALUES (?)", [value])
    except UnsupportedConstruct:
        return "refused", None
    except ScriptError as failure:
        return "error", failure.number
    return "ok", target.execute("SELECT c FROM dbo.W")[0][0]


def same(type_text: str, expected: tuple[str, Any], actual: tuple[str, Any]) -> bool:
    if expected[0] != actual[0]:
        return False
    if expected[0] != "ok" or not type_text.startswith("decimal"):
        return expected == actual
    return Decimal(str(actual[1])) == expected[1]  # a decimal comes back as an SQLite number


@pytest.mark.parametrize("kind", ["sandbox", "odbc-sqlite"])
def test_random_values_are_accepted_exactly_when_sql_server_accepts_them(kind: str, tmp_path: Path) -> None:
    database = open_target(kind, tmp_path / "random.sqlite")

    @settings(max_examples=150 if kind == "sandbox" else 60, suppress_health_check=[HealthCheck.too_slow],
              deadline=None)
    @given(type_and_value())
    def check(case: tuple[str, int | Decimal | str]) -> None:
        type_text, value = case
        expected = model(type_text, value)
        actual = write_and_read(database, type_text, value)
        assert same(type_text, expected, actual), (type_text, value, expected, actual)

    try:
        check()
    finally:
        database.close()
