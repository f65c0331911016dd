"""What the running engine is made of: the SQLite connection, variables, frames, output, T-SQL errors.

Shared by the engine (engine.py) and the schema changes it makes (schema_changes.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import sqltypes
from . import arithmetic, dialect, functions

Row = tuple[Any, ...]


class Driver:
    """A DB-API connection to SQLite, plus how to read its errors.

    On a sqlite3 connection it registers the runner's SQLite functions (arithmetic.register);
    `functions` says whether it could. A function that fails leaves its error here, since sqlite3
    reports only "user-defined function raised exception"; `clean_error` gives it back.
    """

    def __init__(self, connection: Any, error_types: tuple[type[BaseException], ...],
                 clean_error: Callable[[BaseException], str] = str) -> None:
        self.connection = connection
        self.error_types = error_types
        self._clean_error = clean_error
        self._function_error: arithmetic.ServerError | arithmetic.Ambiguous | None = None
        self.functions = hasattr(connection, "create_function")
        if self.functions:
            arithmetic.register(connection, self._keep_function_error)
            functions.register(connection, self._keep_function_error)

    def _keep_function_error(self, error: arithmetic.ServerError | arithmetic.Ambiguous) -> None:
        self._function_error = error

    def clean_error(self, error: BaseException) -> str:
        """The database's words for an error; for a check of SQL Server's rules that failed, its
        text: "Msg <number>: <message>" or "Not supported: <construct>" (see `server_error`)."""
        text = self._clean_error(error)
        raised, self._function_error = self._function_error, None
        if raised is not None and "user-defined function raised exception" in text:
            return raised.text
        if text in arithmetic.OVERFLOWS:
            return arithmetic.OVERFLOWS[text].text
        return arithmetic.raised_text(text) or text

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.connection.cursor()
        if params:
            cursor.execute(sql, [to_db(p) for p in params])
        else:
            cursor.execute(sql)
        return cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self.run(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.connection.cursor()
        cursor.executemany(sql, [_bindable(row) for row in rows])
        return cursor


#: types SQLite binds as they are; checking the exact type first keeps bulk inserts fast
_PLAIN = frozenset({str, int, float, type(None), bytes})


def _bindable(row: Sequence[Any]) -> Sequence[Any]:
    plain = _PLAIN
    for value in row:
        if type(value) not in plain:
            return [v if type(v) in plain else to_db(v) for v in row]
    return row


def to_db(value: Any) -> Any:
    """Values SQLite can bind: exact decimals as text, dates as ISO text, GUIDs as text."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    return value


class TsqlError(Exception):
    """An error raised while running T-SQL; TRY/CATCH catches it, the script runner reports it."""

    def __init__(self, number: int, message: str, *, severity: int = 16, state: int = 1,
                 line: int | None = None, procedure: str | None = None) -> None:
        super().__init__(message)
        self.number = number
        self.message = message
        self.severity = severity
        self.state = state
        self.line = line
        self.procedure = procedure


_ERROR_NUMBERS = (
    ("no such table", 208), ("no such column", 207), ("UNIQUE constraint failed", 2627),
    ("NOT NULL constraint failed", 515), ("CHECK constraint failed", 547),
    ("already exists", 2714), ("syntax error", 102), ("no tables specified", 263),
)
#: SQLite's wording -> SQL Server's, for the errors scripts meet most (the rest keep SQLite's text)
_SERVER_MESSAGES = (
    (re.compile(r"^no such table: (?:temp\.|main\.)?(.+)$"), "Invalid object name '{0}'."),
    (re.compile(r"^no such column: (.+)$"), "Invalid column name '{0}'."),
    (re.compile(r"^no tables specified$"), "Must specify table to select from."),
)


_RAISED = re.compile(r"^Msg (\d+): (.*)$", re.S)


def server_error(sqlite_message: str) -> tuple[int, str]:
    """An SQLite error message (as Driver.clean_error gives it) -> (SQL Server error number, message)."""
    raised = _RAISED.match(sqlite_message)
    if raised:  # a check of SQL Server's rules (arithmetic.py) failed with SQL Server's own error
        return int(raised.group(1)), raised.group(2)
    number = next((n for text, n in _ERROR_NUMBERS if text in sqlite_message), 50000)
    for pattern, template in _SERVER_MESSAGES:
        m = pattern.match(sqlite_message)
        if m:
            return number, template.format(*m.groups())
    return number, sqlite_message


def refused_construct(message: str) -> str | None:
    """The construct a check refused ("Not supported: <construct>"), else None."""
    return message[len(arithmetic.REFUSED):] if message.startswith(arithmetic.REFUSED) else None


#: the IDENTITY value SQL Server keeps after a failed INSERT, which the sandbox cannot tell (reading it is refused)
UNKNOWN_IDENTITY = object()


@dataclass
class Variable:
    type: str
    value: Any = None


@dataclass
class Frame:
    """Where statements come from: the script itself, a procedure body, or dynamic SQL."""

    variables: dict[str, Variable] = field(default_factory=dict)
    procedure: str | None = None
    line_offset: int = 0
    #: the #temp tables of the table variables declared here (dropped when the frame ends)
    tables: list[str] = field(default_factory=list)
    #: SCOPE_IDENTITY(): the last IDENTITY value an INSERT of this scope (batch, procedure, dynamic SQL)
    #: generated; None before any; UNKNOWN_IDENTITY after an INSERT into an IDENTITY table failed
    scope_identity: Any = None


@dataclass
class Output:
    """What a run produced: messages (kind, text, line) and result sets."""

    messages: list[tuple[str, str, int | None]] = field(default_factory=list)
    result_sets: list[tuple[tuple[str, ...], list[Row]]] = field(default_factory=list)


class Unsupported(TsqlError):
    """Outside the subset; never caught by TRY/CATCH (it is a limit of the sandbox, not an error)."""

    def __init__(self, construct: str, line: int | None, procedure: str | None) -> None:
        super().__init__(0, f"not supported by the sandbox: {construct}",
                         line=line, procedure=procedure)
        self.construct = construct


def converted(source_type: str | None, type_text: str, value: Any) -> Any:
    """A value assigned to a variable, converted as SQL Server converts it where its type decides: to a
    numeric type (errors 220, 8115, 245, ...: arithmetic.convert), a datetime to text (refused: style 0) or
    to datetime2 and time (its 1/300 s as exact decimals); `source_type` is the assigned expression's type."""
    target = sqltypes.read_type(type_text).name
    if source_type in arithmetic.STYLE_ZERO_TYPES and value is not None:
        if target in sqltypes.STRINGS:
            raise Unsupported(arithmetic.datetime_text_refusal(source_type), None, None)
        if source_type == "datetime" and target in ("datetime2", "time") and isinstance(value, str):
            return sqltypes.datetime_as_datetime2(value)
    if target not in arithmetic.NUMBERS:
        return value
    try:
        return arithmetic.convert(source_type, type_text, value)
    except arithmetic.ServerError as error:
        raise TsqlError(error.number, error.message) from None
    except arithmetic.Ambiguous as refusal:
        raise Unsupported(refusal.construct, None, None) from None


def coerce(type_text: str, value: Any) -> Any:
    """Assigning to a typed variable converts the value as SQL Server would (truncating strings)."""
    if value is None or type_text == "sql_variant":
        return value
    name, length, _precision, _scale = dialect.parse_type(type_text)
    try:
        if name in dialect.INTEGER_TYPES:
            if name == "bit":
                return 1 if value not in (0, "0", False, "false", "False") else 0
            return int(value) if not isinstance(value, str) else int(decimal.Decimal(value.strip()))
        if name in sqltypes.STRINGS:
            text = as_text(value)
            return text if length in (None, -1) else text[:length]
        if name in dialect.EXACT_NUMERIC_TYPES:
            return _exact(decimal.Decimal(str(value).strip()), _scale)
        if name in sqltypes.APPROXIMATE:
            return float(value)
    except (ValueError, decimal.InvalidOperation):
        raise TsqlError(245, f"Conversion failed when converting the value '{value}' to data type {name}.") from None
    return value


def _exact(value: decimal.Decimal, scale: int | None) -> decimal.Decimal:
    """A decimal variable's value: refused when, rounded to the scale, it needs more digits than SQLite's
    numbers keep (as the column writes and CAST refuse it, arithmetic.INEXACT_DECIMAL); a whole number that
    fits 64 bits is exact. (arithmetic.convert checks what is assigned; this holds for every other way in.)"""
    rounded = sqltypes.round_decimal(value, scale or 0)
    whole = rounded == rounded.to_integral_value() and sqltypes.integer_fits("bigint", int(rounded))
    if not whole and sqltypes.significant_digits(rounded) > sqltypes.DOUBLE_DIGITS:
        raise Unsupported(f"{arithmetic.INEXACT_DECIMAL} ({arithmetic.INEXACT_WHY})", None, None)
    return value


def as_text(value: Any) -> str:
    """A value as PRINT and string conversion show it (NULL as empty, 2.0 as 2)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
