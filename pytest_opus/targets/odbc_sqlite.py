"""The ODBC SQLite target: the embedded T-SQL runner over a pyodbc connection to an SQLite data source.

It exists so that the pyodbc code path (driver manager, connection string, diagnostics, parameter
binding) runs for real on machines that cannot reach SQL Server: Debian's `libsqliteodbc` is a
genuine ODBC driver, and the database behind it is the same SQLite file the sandbox would use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..secrets import mask_dsn, redact, secret_values
from ..tsql.engine import Driver, to_db
from . import _odbc
from .embedded import EmbeddedTarget

# sqliteodbc appends SQLite's own result code to every message, e.g. "no such table: t (1)", and
# pyodbc then adds the native code and the ODBC function: "[HY000] [SQLite]no such table: t (1) (1)
# (SQLExecDirectW)". `_odbc.error_records` removes pyodbc's part and the [SQLite] tag; this removes
# the driver's result code, so the runner sees the same words the sqlite3 module would give it.
_SQLITE_RESULT_CODE = re.compile(r"\s*\(\d+\)\s*$")

# ODBC SQL type codes (sql.h / sqlext.h). The date/time codes include the ODBC 2 ones (9, 10, 11),
# which some driver managers still report.
_DATE_TIME_TYPES = (9, 10, 11, 91, 92, 93)  # DATE, TIME, TIMESTAMP; SQL_TYPE_DATE/TIME/TIMESTAMP
_NUMBER_TYPES = (2, 3, 6, 7, 8, -7)  # NUMERIC, DECIMAL, FLOAT, REAL, DOUBLE, BIT


def _stored_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _stored_number(raw: bytes) -> int | float | str:
    text = raw.decode("utf-8", errors="replace")
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text  # SQLite keeps text that does not look like a number as text, even in a numeric column


def double_quoted(sql: str) -> str:
    """`ident` -> [ident] (or "ident") outside string literals.

    The runner writes SQLite identifiers in backticks, but sqliteodbc's parameter-marker scanner
    does not know backticks: an identifier such as `CUSTOMER'S ALT PO` makes it count the `?`
    markers wrongly. Brackets are used where they can be: SQLite reads `[x]` as a name only, while
    an unknown double-quoted name silently becomes a string literal (`SET NOTES = "NOTEZ"` would
    write the text 'NOTEZ'). A name with a quote or a bracket in it gets double quotes, which the
    scanner understands.
    """
    if "`" not in sql:
        return sql
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            end = i + 1
            while end < n:
                if sql[end] == "'":
                    if end + 1 < n and sql[end + 1] == "'":
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1])
            i = end + 1
        elif ch == "`":
            end = i + 1
            name: list[str] = []
            while end < n:
                if sql[end] == "`":
                    if end + 1 < n and sql[end + 1] == "`":
                        name.append("`")
                        end += 2
                        continue
                    break
                name.append(sql[end])
                end += 1
            text = "".join(name)
            if any(c in text for c in "'\"[]?"):
                out.append('"' + text.replace('"', '""') + '"')
            else:
                out.append(f"[{text}]")
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


class OdbcDriver(Driver):
    """A `Driver` over pyodbc that never asks for array binding, and quotes identifiers for sqliteodbc.

    Debian's sqliteodbc crashes the process (SIGSEGV) when `fast_executemany` is on, so it is set
    off explicitly on every cursor rather than trusting pyodbc's default.
    """

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return super().run(double_quoted(sql), params)

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.connection.cursor()
        cursor.fast_executemany = False
        cursor.executemany(double_quoted(sql), [[to_db(v) for v in row] for row in rows])
        return cursor


def odbc_error_cleaner(secrets: Sequence[str]) -> Callable[[BaseException], str]:
    """A `clean_error` for pyodbc errors from an SQLite driver: the database's words, secrets redacted.

    "[HY000] [SQLite]no such table: t (1) (1) (SQLExecDirectW)" becomes "no such table: t".
    """

    def clean(error: BaseException) -> str:
        texts = [_SQLITE_RESULT_CODE.sub("", record.text) for record in _odbc.error_records(error)]
        return redact("; ".join(t for t in texts if t) or type(error).__name__, *secrets)

    return clean


class OdbcSqliteTarget(EmbeddedTarget):
    """An SQLite database reached through an ODBC driver, run by the embedded T-SQL runner.

    The connection runs in autocommit mode so that the runner's own BEGIN / COMMIT / ROLLBACK are
    the only transaction control (with autocommit off, sqliteodbc opens a transaction of its own and
    the runner's BEGIN would fail).

    Values come back exactly as SQLite stores them, as they do from the sandbox: the driver would
    otherwise turn DATE/DATETIME text into `datetime` objects (and text that is not a valid date
    into NULL, silently), DECIMAL into float or str depending on the declared type, and BIT into
    bool. Reading one file through either target therefore gives the same rows.
    """

    kind = "odbc-sqlite"
    persistent = True

    def __init__(self, dsn: str, *, timeout: int = 30, connection: Any = None) -> None:
        """Connect to `dsn` (e.g. "Driver=SQLite3;Database=/path/db.sqlite").

        `connection` is an already open pyodbc connection to use instead (it is switched to
        autocommit); `dsn` then only names the target and tells which password to redact.
        Raises ConfigError (password masked) when pyodbc, unixODBC or the driver is missing.
        """
        pyodbc = _odbc.load_pyodbc()
        if connection is None:
            connection = _odbc.connect(dsn, autocommit=True, timeout=timeout)
        connection.autocommit = True
        for sql_type in _DATE_TIME_TYPES:
            connection.add_output_converter(sql_type, _stored_text)
        for sql_type in _NUMBER_TYPES:
            connection.add_output_converter(sql_type, _stored_number)
        driver = OdbcDriver(connection, (pyodbc.Error,), odbc_error_cleaner(secret_values(dsn)))
        super().__init__(driver, f"odbc-sqlite {mask_dsn(dsn)}")
        # The same setting the sandbox uses: SQL Server checks foreign keys per constraint, and the
        # runner relies on SQLite not enforcing them while it rebuilds tables.
        driver.run("PRAGMA foreign_keys = OFF").close()
        self._closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.driver.connection.close()
        except self.driver.error_types:  # closing twice or after a lost connection: nothing to keep
            pass
