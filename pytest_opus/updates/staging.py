"""How an update becomes a staging row: which columns it fills, which values reach typed columns, and its JSON.

A staged update is a new row in the operation's staging table (docs/updates.md, "The staging row").
Whether a value may go into a typed business column is decided here, in Python, because SQL Server
would stop the whole INSERT with a conversion error where SQLite would silently store anything: a
value goes into its typed column only when it converts to the column's SQL type exactly; otherwise
the column stays NULL and the raw value waits in `update_fields` for validation to reject it.

Hand-written because no library knows the staging tables' conventions; the per-row path is kept to
plain function calls because staging runs once per row of batches of up to a million rows.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from itertools import chain
from typing import Any

from sqlglot.dialects.tsql import TSQL
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from ..catalog import Catalog, Column, Table
from ..errors import ConfigError, OpusError
from ..sqltypes import (
    APPROXIMATE,
    DECIMALS,
    INTEGER_DIGITS,
    INTEGER_RANGES,
    SHORT_STRINGS,
    STRINGS,
    UNICODE,
    utf16_length,
)
from ..suggest import did_you_mean
from ..targets.base import ResultColumn
from .board import StagedBoard
from .values import DATE_PATTERN, NUMBER_TEXT_PATTERN, VALUE_MAX_CHARACTERS

#: The seven columns the Phase 0 deployment adds to both staging tables.
UPDATE_COLUMNS = (
    "update_operation", "update_fields", "source_table", "source_query",
    "update_batch_id", "validation_status", "validation_errors",
)  # fmt: skip
#: `stg_status` of an update row. The create pipeline picks up 'PENDING' rows; this keeps it away.
STAGED_STATUS = "UPDATE"
PENDING, VALID, INVALID, ROLLED_BACK = "PENDING", "VALID", "INVALID", "ROLLED_BACK"
#: A source column of this name holds the item id, whatever the board's item id column is called.
ITEM_ID_ALIAS = "item_id"
#: The staging column that also carries the batch id (the create pipeline's own batch column).
BATCH_FILL_COLUMN = "stg_batch_id"
#: `update_batch_id` is VARCHAR(50): ASCII only, so SQL Server stores exactly what was given.
BATCH_ID_MAX_LENGTH = 50
SOURCE_TABLE_MAX_LENGTH = 100
#: How a batch id is bound wherever it meets `update_batch_id` or the audit's `batch_id` (both
#: VARCHAR(50)): as VARCHAR, so SQL Server seeks their indexes rather than converting every row.
BATCH_ID_TYPE = Column("batch_id", 0, "varchar", max_length=BATCH_ID_MAX_LENGTH, nullable=False)
#: SQL Server takes at most 2,100 parameters per statement; staging stays a little under.
MAX_PARAMETERS = 2000
#: Rows per multi-row INSERT: SQLite refuses more than 500 UNION ALL arms, and the runner translates
#: each statement text once (about 0.03 s for 100 rows, 0.14 s for 333), so statements stay small.
MAX_UNION_ARMS = 100

Convert = Callable[[Any], Any]  # source value -> typed column value, or None when it does not fit


class StagingError(OpusError):
    """A source that cannot be staged (missing or unknown columns, a value a required column cannot
    take, an empty or oversized batch). Nothing is staged when it is raised."""


def bracket(name: str) -> str:
    """A T-SQL identifier: `[name]`, with `]` doubled so any column name is safe."""
    return "[" + name.replace("]", "]]") + "]"


def qualified(table: str) -> str:
    """`dbo.Table` -> `[dbo].[Table]`; names from metadata are quoted, never trusted as SQL."""
    return ".".join(bracket(part.strip().strip("[]")) for part in table.split("."))


# -- typed columns ---------------------------------------------------------------------------------

_WIDE = Context(prec=100)  # quantizing a 38-digit DECIMAL must not hit the default 28-digit context
_TEXT_TYPES = set(STRINGS)


def _as_decimal(value: Any) -> Decimal | None:
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is float:
        return Decimal(repr(value)) if math.isfinite(value) else None
    if kind is str and len(value) <= VALUE_MAX_CHARACTERS and NUMBER_TEXT_PATTERN.fullmatch(value):
        return Decimal(value)
    return None


def _integer_converter(low: int, high: int) -> Convert:
    def convert(value: Any) -> int | None:
        if type(value) is int:  # the common case, first
            return value if low <= value <= high else None
        number = _as_decimal(value)
        if number is None or number != number.to_integral_value():
            return None
        whole = int(number)
        return whole if low <= whole <= high else None

    return convert


def _bit(value: Any) -> int | None:
    if type(value) is bool:
        return int(value)
    return value if type(value) is int and value in (0, 1) else None


def _decimal_converter(precision: int, scale: int) -> Convert:
    step = Decimal(1).scaleb(-scale)
    whole_limit = 10 ** (precision - scale)

    def convert(value: Any) -> Decimal | int | float | None:
        kind = type(value)
        # Fast paths for what a query usually returns; the result is exact in the column's type.
        if kind is int:
            return value if -whole_limit < value < whole_limit else None
        if kind is float and math.isfinite(value) and -whole_limit < value < whole_limit:
            # Rounding to the scale and back loses nothing exactly when the column keeps the value.
            return value if round(value, scale) == value else None
        number = _as_decimal(value)
        if number is None:
            return None
        try:
            exact = number.quantize(step, context=_WIDE)
        except InvalidOperation:
            return None
        # More fraction digits than the scale would be rounded by SQL Server: not exact, so refused.
        # copy_abs, not abs(): abs() rounds to the context's 28 digits, and DECIMAL(38) has 38.
        return exact if exact == number and exact.copy_abs() < whole_limit else None

    return convert


def _float(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    number = _as_decimal(value)
    return float(number) if number is not None else None


_KNOWN_DAYS: dict[str, str] = {}  # ISO dates already checked: a batch repeats the same few days


def _date(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        known = _KNOWN_DAYS.get(value)
        if known is not None:
            return known
        if not DATE_PATTERN.fullmatch(value):
            return None
        try:
            date.fromisoformat(value)
        except ValueError:
            return None
        if len(_KNOWN_DAYS) < 100_000:
            _KNOWN_DAYS[value] = value
        return value
    if kind is date:
        return value.isoformat()
    return None


def _datetime(value: Any) -> datetime | None:
    kind = type(value)
    if kind is datetime:
        return value.replace(tzinfo=None) if value.tzinfo is None else None
    if kind is date:
        return datetime(value.year, value.month, value.day)
    if kind is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is None else None
    return None


def _datetime_converter(scale: int | None) -> Convert:
    """A datetime2(scale) column: a moment with more digits of a second than the column keeps would
    be rounded by SQL Server, so it is refused like any value that does not fit exactly."""
    if scale is None or scale >= 6:  # Python keeps microseconds: 6 digits, within datetime2(7)
        return _datetime
    step = 10 ** (6 - scale)

    def convert(value: Any) -> datetime | None:
        moment = _datetime(value)
        return moment if moment is not None and moment.microsecond % step == 0 else None

    return convert


def _text_converter(max_length: int | None) -> Convert:
    limit = None if max_length in (None, -1) else max_length

    def convert(value: Any) -> str | None:
        kind = type(value)
        if kind is str:
            if len(value) > VALUE_MAX_CHARACTERS:  # refused by `rows()`, before any copy
                return None
            text = value
        elif kind is int:
            text = str(value)
        elif kind is Decimal and value.is_finite():
            text = format(value, "f")
        else:
            return None
        if "\x00" in text:
            # SQLite's LEN stops at a NUL, so a set-based length check could not see past it; no
            # board text needs one, so such a value is refused rather than checked wrongly.
            return None
        if text.isascii():
            return text if limit is None or len(text) <= limit else None
        try:
            text.encode("utf-8")  # an unpaired surrogate is not text either database can store
        except UnicodeEncodeError:
            return None
        return text if limit is None or utf16_length(text) <= limit else None

    return convert


def _guid(value: Any) -> str | None:
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    if type(value) is str and len(value) <= VALUE_MAX_CHARACTERS:  # UUID() copies the text it is given
        try:
            return str(uuid.UUID(value)).upper()
        except ValueError:
            return None
    return None


def _never(value: Any) -> None:
    return None


def column_converter(column: Column) -> Convert:
    """The function deciding what a source value becomes in `column`: the value, or None (NULL)."""
    kind = column.data_type
    if kind in INTEGER_RANGES:
        return _integer_converter(*INTEGER_RANGES[kind])
    if kind == "bit":
        return _bit
    if kind in DECIMALS:
        return _decimal_converter(column.precision or 18, column.scale or 0)
    if kind == "money":
        return _decimal_converter(19, 4)
    if kind in APPROXIMATE:
        return _float
    if kind == "date":
        return _date
    if kind == "datetime2":
        return _datetime_converter(column.scale)
    if kind in ("datetime", "smalldatetime"):
        return _datetime
    if kind in _TEXT_TYPES:
        return _text_converter(column.max_length)
    if kind == "uniqueidentifier":
        return _guid
    return _never  # binary and exotic types: nothing an update supplies fits them exactly


# -- update_fields: one text whichever path wrote it -----------------------------------------------------
#
# A value that its staging column takes is written in `update_fields` as that column holds it, so
# the text does not depend on how the driver returned it (pyodbc: Decimal('12.5000') and True; the
# sandbox: 12.5 and 1) nor on the path: a decimal column's value is the text of its digits with the
# column's scale ("12.5000", what CONVERT(NVARCHAR, ...) gives on SQL Server), a bit column's is
# true/false. Any other value is written as given (for validation to judge). A `/` stays plain:
# set-based staging undoes FOR JSON's `\/` (see JsonForms).


def _decimal_text(scale: int) -> Callable[[Any], str]:
    step = Decimal(1).scaleb(-scale)

    def text(value: Any) -> str:
        number = Decimal(repr(value)) if type(value) is float else Decimal(value)
        exact = number.quantize(step, context=_WIDE)
        return format(exact.copy_abs() if exact.is_zero() else exact, "f")  # SQL Server has no -0

    return text


def json_form(column: Column) -> Callable[[Any], Any] | None:
    """How a value `column` takes (its converter's result) is written in `update_fields`; None: as given."""
    if column.data_type in DECIMALS:
        return _decimal_text(column.scale or 0)
    if column.data_type == "money":
        return _decimal_text(4)
    if column.data_type == "bit":
        return bool
    return None


#: Asks the database how FOR JSON writes the three forms the one text depends on. SQL Server's
#: documented answer is {"d":"12.5000","b":true,"t":"a\/b"} ("How FOR JSON escapes special characters
#: and control characters", learn.microsoft.com; CAST and CONVERT: decimal to character keeps the scale).
JSON_FORMS_PROBE = (
    "SELECT (SELECT CONVERT(NVARCHAR(60), CAST(12.5 AS DECIMAL(18,4))) AS d, CAST(1 AS BIT) AS b, N'a/b' AS t "
    "FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) AS forms"
)


@dataclass(frozen=True)
class JsonForms:
    """What a database's FOR JSON writes, as far as set-based staging's `update_fields` depends on it.

    `decimals`: a decimal converted to text keeps its scale; `bits`: a bit is true/false; `slash`: the
    text of `/` ("\\/" escaped as SQL Server does, "/" plain), None when neither. A field whose form the
    database would write differently from the streamed path is left to the streamed path.
    """

    decimals: bool = False
    bits: bool = False
    slash: str | None = None

    @classmethod
    def read(cls, text: object) -> JsonForms:
        if not isinstance(text, str):
            return cls()
        slash = "\\/" if '"t":"a\\/b"' in text else "/" if '"t":"a/b"' in text else None
        return cls(decimals='"d":"12.5000"' in text, bits='"b":true' in text, slash=slash)

    def problem(self, column: Column) -> str | None:
        """Why a field of `column` cannot be written set-based, or None."""
        kind = column.data_type
        if kind in DECIMALS and not self.decimals:
            return "the database's CONVERT of a decimal to text drops its scale"
        if kind == "bit" and not self.bits:
            return "the database's FOR JSON does not write a bit as true/false"
        if kind in _TEXT_TYPES and self.slash is None:
            return "the database's FOR JSON writes '/' in a form staging does not know"
        return None


# -- staging inside the database --------------------------------------------------------------------

#: Source types whose values the database can write into `update_fields` itself, byte for byte as the
#: streamed path writes them: integers as JSON numbers, text as strings ('/' plain), dates as ISO
#: text, decimals as the text of their digits with the column's scale, bits as true/false (the last
#: three only where the database's FOR JSON writes them so, see JsonForms). Floats, money, times and
#: GUIDs are left to the streamed path, whose JSON for them is exactly known.
_SHORT_TEXT = set(SHORT_STRINGS)  # legacy text/ntext stay with the streamed path
IN_DATABASE_JSON_TYPES = frozenset(INTEGER_RANGES) | {"bit", *DECIMALS, "date"} | _SHORT_TEXT
_UNICODE_TEXT = set(UNICODE)
NOT_SINGLE_SELECT = (
    "the query is not a single SELECT that can be read as a derived table (no ORDER BY, WITH, UNION, INTO, ;)"
)
#: The derived table a source query becomes inside `INSERT ... SELECT`.
SOURCE_ALIAS = "opus_source"


def fits_exactly(source: Column, column: Column) -> bool:
    """Whether every value of type `source` goes into `column` unchanged, as the converters would take it.

    Then no value needs a check: integers into as wide an integer (or a decimal with room for all its
    digits), decimals into as many integer and fraction digits, text into as long a text (never
    Unicode into non-Unicode), a bit into a bit, a date into a date.
    """
    have, want = source.data_type, column.data_type
    if have in INTEGER_RANGES:
        if want in INTEGER_RANGES:
            low, high = INTEGER_RANGES[have]
            column_low, column_high = INTEGER_RANGES[want]
            return column_low <= low and high <= column_high
        if want in DECIMALS:
            return (column.precision or 18) - (column.scale or 0) >= INTEGER_DIGITS[have]
        return False
    if have in DECIMALS:
        if want not in DECIMALS:
            return False
        scale, column_scale = source.scale or 0, column.scale or 0
        return scale <= column_scale and (source.precision or 18) - scale <= (column.precision or 18) - column_scale
    if have in _SHORT_TEXT and want in _SHORT_TEXT:
        if have in _UNICODE_TEXT and want not in _UNICODE_TEXT:
            return False
        if column.max_length == -1:
            return True
        length, room = source.max_length, column.max_length
        return length is not None and length != -1 and room is not None and length <= room
    return have == want and have in ("bit", "date")


def single_select(sql: str) -> bool:
    """Whether `sql` can be the derived table of an `INSERT ... SELECT`: one SELECT (no `;`), without
    the clauses a derived table refuses or that would change its meaning there (ORDER BY, WITH, INTO,
    FOR, OPTION). Anything sqlglot cannot read is left to the streamed path."""
    try:
        tokens = TSQL().tokenize(sql)
    except (SqlglotError, RecursionError):
        return False
    if any(t.token_type == TokenType.SEMICOLON for t in tokens):
        return False
    try:
        statements = TSQL().parser().parse(tokens, sql)
    except (SqlglotError, RecursionError):
        return False
    if len(statements) != 1 or statements[0] is None or statements[0].key != "select":
        return False
    select = statements[0]
    return not any(select.args.get(key) for key in ("order", "with", "with_", "into", "for_", "options", "locks"))


def _plain_key(name: str) -> bool:
    """A column name FOR JSON PATH writes as the key `json.dumps` would: SQL Server escapes `/` as `\\/`
    (validation finds keys by their text) and reads a `.` as a nested object."""
    return "/" not in name and "." not in name and json.dumps(name, ensure_ascii=False) == f'"{name}"'


# -- update_fields ---------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Plain digits, never an exponent: "1E+3" would not read back as a number anywhere else.
        return format(value, "f")
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def _encoder(ensure_ascii: bool) -> Callable[[Any], str]:
    """A compact JSON encoder built once; `json.dumps` would build one per call, per staged row."""
    plain = json.JSONEncoder(ensure_ascii=ensure_ascii, separators=(",", ":"), allow_nan=False, default=_json_default)
    try:
        from json.encoder import (  # type: ignore[attr-defined]
            c_encode_basestring,
            c_encode_basestring_ascii,
            c_make_encoder,
        )

        quote = c_encode_basestring_ascii if ensure_ascii else c_encode_basestring
        make = c_make_encoder(None, _json_default, quote, None, ":", ",", False, False, False)

        def encode(value: Any) -> str:
            return "".join(make(value, 0))

        sample = {"a": "é\"'\x00", "b": None, "c": Decimal("1.50"), "d": date(2024, 1, 2), "e": 1.5, "f": True}
        if encode(sample) == plain.encode(sample):
            return encode
    except Exception:  # the private encoder is an optimisation only; the public one always works
        pass
    return plain.encode


_DUMPS = _encoder(ensure_ascii=False)
_DUMPS_ASCII = _encoder(ensure_ascii=True)


def fields_json(fields: Mapping[str, Any]) -> str:
    """`update_fields`: the JSON object of {staging column: value as given}, keys in the given order.

    Compact (no blanks), so validation can find a key by the text `"column":`. Dates are ISO text,
    decimals plain digits as text (exact), non-finite floats their text. Text with an unpaired
    surrogate is written with \\u escapes, since neither database can store it raw.
    """
    try:
        text = _DUMPS(fields)
    except ValueError:  # NaN or infinity: JSON has no such numbers
        fields = {k: (repr(v) if type(v) is float and not math.isfinite(v) else v) for k, v in fields.items()}
        text = _DUMPS(fields)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Escape the values only: validation finds keys by their raw text.
            text = "{" + ",".join(_DUMPS(k) + ":" + _DUMPS_ASCII(v) for k, v in fields.items()) + "}"
    return text


# -- the table and a source's columns --------------------------------------------------------------


@dataclass(frozen=True)
class StagingTable:
    """A staging table as the database has it, with what staging needs to know about its columns."""

    name: str  # as the metadata writes it, e.g. dbo.STG_MON_CustMasterSchedule
    table: Table
    item_id_column: str  # spelled as in the database
    parent_item_id_column: str | None
    required: tuple[str, ...]  # NOT NULL, no default, not identity: every row must supply them
    batch_fill: Column | None  # stg_batch_id, filled with the batch id where it fits
    #: casefolded names a source may not set: bookkeeping owned by the sync and by UpdateOperations
    reserved: frozenset[str]

    @property
    def sql_name(self) -> str:
        return qualified(self.name)

    def column(self, name: str) -> Column | None:
        return self.table.column(name)

    @property
    def context_columns(self) -> frozenset[str]:
        """Casefolded columns a source fills that are not updates: item id, parent id, required ones."""
        names = {self.item_id_column.casefold(), *(r.casefold() for r in self.required)}
        if self.parent_item_id_column:
            names.add(self.parent_item_id_column.casefold())
        return frozenset(names)


def staging_table(board: StagedBoard, catalog: Catalog, source: str) -> tuple[StagingTable | None, list[str]]:
    """The board's staging table checked against the catalog; problems are returned, not raised."""
    table = catalog.table(board.staging_table)
    if table is None:
        return None, [f"{source}: staging table {board.staging_table} does not exist in the database"]
    problems = []
    missing = [c for c in UPDATE_COLUMNS if table.column(c) is None]
    if missing:
        problems.append(
            f"{board.staging_table} lacks the update columns {', '.join(missing)}: "
            "deploy sql/deploy_opus_update_boards.sql first"
        )
    roles = (("item_id_column", board.item_id_column), ("parent_item_id_column", board.parent_item_id_column))
    for role, name in roles:
        if name is not None and table.column(name) is None:
            problems.append(f"{source}: {role} [{name}] is not a column of {board.staging_table}")
    names = [c.name for c in table.columns]
    for mapped in board.columns.values():
        if table.column(mapped.staging_column) is None:
            problems.append(
                f"{mapped.declared_at}: [{mapped.staging_column}] is not a column of {board.staging_table}"
                f"{did_you_mean(mapped.staging_column, names)}"
            )
    if problems:
        return None, problems
    item = table.column(board.item_id_column)
    parent = table.column(board.parent_item_id_column) if board.parent_item_id_column else None
    assert item is not None
    batch_fill = table.column(BATCH_FILL_COLUMN)
    required = tuple(
        c.name for c in table.columns if not c.nullable and c.default is None and not c.identity and c is not batch_fill
    )
    bookkeeping = {c.name.casefold() for c in table.columns if c.identity or c.name.lower().startswith("stg_")}
    bookkeeping.update(c.casefold() for c in UPDATE_COLUMNS)
    own = {item.name.casefold(), *(r.casefold() for r in required)}
    if parent is not None:
        own.add(parent.name.casefold())
    return (
        StagingTable(
            name=board.staging_table,
            table=table,
            item_id_column=item.name,
            parent_item_id_column=parent.name if parent else None,
            required=required,
            batch_fill=batch_fill,
            reserved=frozenset(bookkeeping - own),
        ),
        [],
    )


@dataclass(frozen=True)
class BatchConstants:
    """What every row of one staging call shares; bound as parameters, never written into SQL."""

    operation: str  # upper case, e.g. UPDATE_ITEMS
    batch_id: str
    source_table: str | None
    source_query: str | None


class MultiRowInsert:
    """An INSERT of many rows per statement, with the values every row shares bound once.

    `INSERT INTO t (...) SELECT v.c0, ..., ?, 'literal' FROM (SELECT ? AS c0, ... UNION ALL SELECT ?, ...) AS v`
    rather than a VALUES list: the shared values (batch id, source, user) are bound once per
    statement instead of once per row, and the runner cannot name the columns of a VALUES table.
    Each statement stays under SQL Server's 2,100 parameters and SQLite's 500 UNION ALL arms.
    """

    def __init__(
        self,
        table_sql: str,
        row_columns: Sequence[str],
        shared_columns: Sequence[str],
        literals: Sequence[tuple[str, str]] = (),
        types: Mapping[str, Column | None] | None = None,
    ) -> None:
        self.table_sql = table_sql
        #: the column each named value meets, for binding it as that type (`param_types`)
        self.types = dict(types or {})
        self.row_columns = tuple(row_columns)
        self.shared_columns = tuple(shared_columns)
        self.literals = tuple(literals)  # (column, SQL literal) for values that come from metadata
        width = len(self.row_columns)
        self.rows_per_statement = max(1, min(MAX_UNION_ARMS, (MAX_PARAMETERS - len(self.shared_columns)) // width))
        self._sql: dict[int, str] = {}

    def sql(self, rows: int) -> str:
        cached = self._sql.get(rows)
        if cached is not None:
            return cached
        width = len(self.row_columns)
        columns = [*self.row_columns, *self.shared_columns, *(c for c, _ in self.literals)]
        outer = [f"v.c{n}" for n in range(width)] + ["?"] * len(self.shared_columns) + [v for _, v in self.literals]
        first = "SELECT " + ", ".join(f"? AS c{n}" for n in range(width))
        others = " UNION ALL SELECT " + ", ".join(["?"] * width)
        text = (
            f"INSERT INTO {self.table_sql} ({', '.join(bracket(c) for c in columns)}) "
            f"SELECT {', '.join(outer)} FROM ({first}{others * (rows - 1)}) AS v"
        )
        self._sql[rows] = text
        return text

    def param_types(self, sql: str) -> list[Column | None]:
        """The column each `?` of `sql` (one of `statements`' texts) meets: the shared values', then
        each row's, in the order of the markers."""
        rows = next((n for n, text in self._sql.items() if text is sql or text == sql), 1)
        shared = [self.types.get(c) for c in self.shared_columns]
        return shared + [self.types.get(c) for c in self.row_columns] * rows

    def statements(self, shared: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[list[Any]]]]:
        """(INSERT text, parameter lists) for `rows`: all full statements at once, then the rest.

        The rest goes one row per statement, so a batch needs at most two statement texts (two
        translations) whatever its size.
        """
        size = self.rows_per_statement
        head = list(shared)  # the shared values' markers come first in the text
        full = len(rows) // size * size
        if full:
            yield (
                self.sql(size),
                [[*head, *chain.from_iterable(rows[start : start + size])] for start in range(0, full, size)],
            )
        if full < len(rows):
            yield self.sql(1), [[*head, *row] for row in rows[full:]]


class SourceLayout:
    """One source shape (a query's columns, or a record's keys) mapped onto the staging table.

    `row(values)` turns one source row into the INSERT's parameters; `sql` is that INSERT.
    """

    def __init__(self, table: StagingTable, names: Sequence[str], constants: BatchConstants, where: str) -> None:
        self.table = table
        self.where = where
        item_index: int | None = None
        parent_index: int | None = None
        required: dict[str, int] = {}
        fields: list[tuple[str, int]] = []
        unknown: list[str] = []
        reserved: list[str] = []
        seen: dict[str, str] = {}
        required_names = {r.casefold(): r for r in table.required}
        for index, name in enumerate(names):
            folded = name.casefold()
            if folded in seen:
                raise StagingError(f"{where}: column [{name}] is given twice (also as [{seen[folded]}])")
            seen[folded] = name
            column = table.column(name)
            if folded == ITEM_ID_ALIAS or folded == table.item_id_column.casefold():
                if item_index is not None:
                    raise StagingError(
                        f"{where}: both [{names[item_index]}] and [{name}] name the item id; give one of them"
                    )
                item_index = index
            elif column is None:
                unknown.append(name)
            elif table.parent_item_id_column and folded == table.parent_item_id_column.casefold():
                parent_index = index
            elif folded in required_names:
                required[column.name] = index
            elif folded in table.reserved:
                reserved.append(column.name)
            else:
                fields.append((column.name, index))
        if unknown:
            columns = [c.name for c in table.table.columns]
            listed = ", ".join(f"[{u}]{did_you_mean(u, columns)}" for u in unknown)
            raise StagingError(
                f"{where}: {listed} {'is not a column' if len(unknown) == 1 else 'are not columns'} of "
                f"{table.name}; name each value after the staging column it updates (nothing staged)"
            )
        if reserved:
            raise StagingError(
                f"{where}: {', '.join(f'[{r}]' for r in reserved)} belong to the sync's bookkeeping and are set "
                "by UpdateOperations; leave them out of the source (nothing staged)"
            )
        if item_index is None:
            raise StagingError(
                f"{where}: no item id column; select the monday item id AS {ITEM_ID_ALIAS} "
                f"(or as [{table.item_id_column}]) (nothing staged)"
            )
        missing = [r for r in table.required if r not in required]
        if missing:
            raise StagingError(
                f"{where}: source is missing {', '.join(missing)}, which {table.name} requires "
                "(NOT NULL without a default); add them to the source (nothing staged)"
            )
        fields.sort()  # update_fields keys in a fixed order, so equal updates have equal JSON text
        self.field_names = tuple(name for name, _ in fields)
        self._item = (item_index, column_converter(table.table.column(table.item_id_column)))  # type: ignore[arg-type]
        self._parent = (
            (parent_index, column_converter(table.column(table.parent_item_id_column)))  # type: ignore[arg-type]
            if parent_index is not None and table.parent_item_id_column
            else None
        )
        self._required = [(name, i, column_converter(table.column(name))) for name, i in required.items()]  # type: ignore[arg-type]
        self._fields = [(name, i, column_converter(table.column(name))) for name, i in fields]  # type: ignore[arg-type]
        first_field = 1 + int(parent_index is not None) + len(self._required)
        # (position of the field's converted value in a row, its name, how update_fields writes it)
        self._forms = [
            (first_field + n, name, form)
            for n, (name, _i) in enumerate(fields)
            if (form := json_form(table.column(name))) is not None  # type: ignore[arg-type]
        ]
        self._tail = self._constant_tail(constants)
        # One list of (source position, converter) for every per-row parameter, in INSERT order.
        self._converters = [self._item]
        if self._parent is not None:
            self._converters.append(self._parent)
        self._converters += [(i, convert) for _, i, convert in self._required]
        self._converters += [(i, convert) for _, i, convert in self._fields]
        first_required = 1 + int(self._parent is not None)
        self._required_at = [(first_required + n, name, i) for n, (name, i, _) in enumerate(self._required)]
        row_columns = [table.item_id_column]
        if self._parent is not None and table.parent_item_id_column:
            row_columns.append(table.parent_item_id_column)
        row_columns += [name for name, _, _ in self._required]
        row_columns += [name for name, _, _ in self._fields]
        row_columns.append("update_fields")
        shared = ["update_batch_id", "source_table", "source_query"]
        if len(self._tail) == 4:
            shared.append(BATCH_FILL_COLUMN)
        literals = [
            ("update_operation", sql_literal(constants.operation)),
            ("validation_status", sql_literal(PENDING)),
            ("stg_status", sql_literal(STAGED_STATUS)),
        ]
        types = {name: table.column(name) for name in [*row_columns, *shared]}
        self.insert = MultiRowInsert(table.sql_name, row_columns, shared, literals, types)
        self.rows_per_statement = self.insert.rows_per_statement
        self.names = tuple(names)
        self._required_names = [(name, i) for name, i, _ in self._required]
        self._field_names = [(name, i) for name, i, _ in self._fields]

    @property
    def shared_types(self) -> list[Column | None]:
        """The columns the shared values meet, in the order of `shared_values`."""
        return [self.insert.types.get(c) for c in self.insert.shared_columns]

    @property
    def shared_values(self) -> tuple[Any, ...]:
        """The values every row shares (batch id, source table, source query[, stg_batch_id]), in
        the order of their `?` in the INSERT."""
        return self._tail

    def insert_select(
        self, query: str, described: Sequence[ResultColumn], limit: int, forms: JsonForms | None = None
    ) -> tuple[str | None, str]:
        """One `INSERT ... SELECT` staging at most `limit` rows of `query` inside the database, or why not.

        Offered only where its rows are provably those `rows()` would write: each source column's
        declared type fits its staging column exactly (`fits_exactly`), so the per-row conversions
        would change nothing; `update_fields` is built by FOR JSON from types whose JSON is known
        (`IN_DATABASE_JSON_TYPES`); text with a NUL character is kept out of typed columns, as
        `rows()` does; required columns come from non-nullable, non-text sources (a NULL or bad value
        there must be refused by `rows()` with the row it is in). `forms` is what the database's FOR
        JSON writes (`JsonForms`, read with JSON_FORMS_PROBE); with None, no field is written set-based.
        Returns (statement, "") or (None, reason).
        """
        json_forms = forms or JsonForms()
        if not single_select(query):
            return None, NOT_SINGLE_SELECT
        if len(described) != len(self.names):
            return None, "the query's columns could not be described"
        types = [c.type for c in described]
        ref = {i: f"{SOURCE_ALIAS}.{bracket(name)}" for i, name in enumerate(self.names)}

        def unfit(i: int, column_name: str) -> str | None:
            source, column = types[i], self.table.column(column_name)
            assert column is not None
            if source is None:
                return f"the type of [{self.names[i]}] {described[i].untyped_because or 'is not known'}"
            if not fits_exactly(source, column):
                return f"[{self.names[i]}] is {source.type_text}, which does not always fit {column.type_text}"
            return None

        selected = []
        roles = [self._item[0]] + ([self._parent[0]] if self._parent is not None else [])
        columns = [self.table.item_id_column] + (
            [self.table.parent_item_id_column] if self._parent is not None and self.table.parent_item_id_column else []
        )
        for i, name in zip(roles, columns, strict=True):
            problem = unfit(i, name)
            if problem:
                return None, problem
            selected.append(ref[i])
        for name, i in self._required_names:
            problem = unfit(i, name)
            source = types[i]
            if problem is None and source is not None and (source.nullable or source.data_type in _TEXT_TYPES):
                problem = f"required column [{name}] comes from a nullable or text source; rows are checked one by one"
            if problem:
                return None, problem
            selected.append(ref[i])
        keys = []
        for name, i in self._field_names:
            problem = unfit(i, name)
            source = types[i]
            if problem is None and source is not None and source.data_type not in IN_DATABASE_JSON_TYPES:
                problem = f"[{self.names[i]}] is {source.type_text}, whose JSON the database would write differently"
            if problem is None and not _plain_key(name):
                problem = f"[{name}] needs escaping as a JSON key"
            column = self.table.column(name)
            assert column is not None
            if problem is None and (why := json_forms.problem(column)) is not None:
                problem = f"[{name}]: {why}"
            if problem:
                return None, problem
            source = types[i]
            assert source is not None
            value = ref[i]
            if column.data_type in DECIMALS:
                # The column's digits as text, as the streamed path writes them (`json_form`).
                typed = f"DECIMAL({column.precision or 18}, {column.scale or 0})"
                value = f"CONVERT(NVARCHAR(60), CAST({ref[i]} AS {typed}))"
            if source.data_type in _TEXT_TYPES:
                # As rows(): text with a NUL character stays out of the typed column (validation's LEN
                # could not see past it on the sandbox). A binary collation makes NCHAR(0) findable.
                nul = f"CHARINDEX(NCHAR(0) COLLATE Latin1_General_BIN2, {ref[i]})"
                selected.append(f"CASE WHEN {nul} > 0 THEN NULL ELSE {ref[i]} END")
            else:
                selected.append(ref[i])
            keys.append(f"{value} AS {bracket(name)}")
        if keys:
            document = f"(SELECT {', '.join(keys)} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)"
            if json_forms.slash == "\\/":
                # FOR JSON writes every '/' as '\/' (and nothing else ends in that pair, since a
                # backslash is written '\\'): back to the plain '/' the streamed path writes.
                document = f"REPLACE({document} COLLATE Latin1_General_BIN2, N'\\/', N'/')"
            selected.append(document)
        else:
            selected.append("N'{}'")
        insert = self.insert
        selected += ["?"] * len(insert.shared_columns) + [value for _, value in insert.literals]
        names = [*insert.row_columns, *insert.shared_columns, *(c for c, _ in insert.literals)]
        statement = (
            f"INSERT INTO {insert.table_sql} ({', '.join(bracket(c) for c in names)}) "
            f"SELECT TOP ({int(limit)}) {', '.join(selected)} FROM (\n{query}\n) AS {SOURCE_ALIAS}"
        )
        return statement, ""

    def _constant_tail(self, constants: BatchConstants) -> tuple[Any, ...]:
        tail: list[Any] = [constants.batch_id, constants.source_table, constants.source_query]
        fill = self.table.batch_fill
        if fill is not None:
            value = column_converter(fill)(constants.batch_id)
            if value is None and not fill.nullable and fill.default is None:
                raise StagingError(
                    f"batch id {constants.batch_id!r} does not fit {self.table.name}.{fill.name} ({fill.type_text}), "
                    "which every row must fill; pass a shorter batch_id or let one be generated"
                )
            if value is not None:
                tail.append(value)
        return tuple(tail)

    def statements(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[list[Any]]]]:
        """`rows` (from `rows()`) as (INSERT text, parameter lists)."""
        return self.insert.statements(self._tail, rows)

    def rows(self, source: Sequence[Sequence[Any]], first: int) -> list[list[Any]]:
        """Each source row's INSERT parameters; `first` numbers rows for error messages.

        The hot loop of staging: one list comprehension of converters and one JSON encoding per row.
        """
        converters = self._converters
        names = [(name, i) for name, i, _ in self._fields]
        required = self._required_at
        forms = self._forms
        dumps = _DUMPS
        out = []
        for number, values in enumerate(source, start=first):
            row = [convert(values[i]) for i, convert in converters]
            if None in row:  # a NULL, or a value that does not fit: is it one too large to stage at all?
                self._check_size(number, values)
            payload = {name: values[i] for name, i in names}
            for position, name, form in forms:
                if row[position] is not None:  # a value the column takes, written as the column holds it
                    payload[name] = form(row[position])
            try:
                text = dumps(payload)
            except (TypeError, ValueError):
                try:
                    text = fields_json(payload)
                except TypeError:
                    raise StagingError(self._type_problem(number, payload)) from None
            if not text.isascii():
                text = fields_json(payload)  # the careful path: unpaired surrogates need escaping
            for position, name, i in required:
                if row[position] is None:
                    raise StagingError(self._required_problem(number, name, values[i]))
            row.append(text)
            out.append(row)
        return out

    def _check_size(self, number: int, values: Sequence[Any]) -> None:
        """StagingError for a value longer than monday could ever take (`VALUE_MAX_CHARACTERS`).

        Checked before the row is copied into JSON and parameters: a 100 MB value would otherwise be
        copied several times over, in staging and again in validation.
        """
        named = [(self.table.item_id_column, self._item[0])]
        if self._parent is not None and self.table.parent_item_id_column:
            named.append((self.table.parent_item_id_column, self._parent[0]))
        named += [*self._required_names, *self._field_names]
        for name, i in named:
            value = values[i]
            if isinstance(value, str | bytes | bytearray) and len(value) > VALUE_MAX_CHARACTERS:
                unit = "characters" if isinstance(value, str) else "bytes"
                raise StagingError(
                    f"{self.where}, row {number}: [{name}] is {len(value):,} {unit} long; monday keeps about "
                    f"64 KB of column values per item, so no value may exceed {VALUE_MAX_CHARACTERS:,} characters. "
                    "Shorten the value or leave the column out of the update (nothing staged)"
                )

    def _required_problem(self, number: int, name: str, value: Any) -> str:
        column = self.table.column(name)
        assert column is not None
        what = "is NULL" if value is None else f"{_show(value)} does not fit {column.type_text}"
        return (
            f"{self.where}, row {number}: {name} {what}, but {self.table.name} requires a value "
            "(NOT NULL without a default) (nothing staged)"
        )

    def _type_problem(self, number: int, payload: Mapping[str, Any]) -> str:
        bad = "?"
        for key, value in payload.items():
            try:
                fields_json({key: value})
            except TypeError:
                bad = key
                break
        kind = type(payload.get(bad)).__name__
        return (
            f"{self.where}, row {number}: [{bad}] is a {kind}, which has no JSON form; staged values are "
            "text, numbers, dates, true/false or NULL (nothing staged)"
        )


def sql_literal(text: str) -> str:
    """A T-SQL Unicode string literal for text that comes from metadata (quotes doubled)."""
    return "N'" + text.replace("'", "''") + "'"


def _show(value: Any, limit: int = 40) -> str:
    if isinstance(value, str | bytes | bytearray) and len(value) > limit:
        value = value[: limit * 2]  # repr of a huge value would copy all of it, to show 40 characters
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_batch_id(batch_id: object) -> str:
    """A caller's batch id, or StagingError saying what a batch id may be."""
    if (
        not isinstance(batch_id, str)
        or not batch_id.strip()
        or len(batch_id) > BATCH_ID_MAX_LENGTH
        or not batch_id.isascii()
        or not batch_id.isprintable()
    ):
        raise StagingError(
            f"batch id {_show(batch_id)} is not usable: a batch id is 1 to {BATCH_ID_MAX_LENGTH} printable "
            "ASCII characters (update_batch_id is VARCHAR(50)); omit batch_id to get a new one"
        )
    return batch_id


def check_source_table(source_table: object) -> str | None:
    if source_table is None:
        return None
    if not isinstance(source_table, str) or len(source_table) > SOURCE_TABLE_MAX_LENGTH or not source_table.isascii():
        raise StagingError(
            f"source_table {_show(source_table)} does not fit source_table VARCHAR({SOURCE_TABLE_MAX_LENGTH}): "
            "give the name of the table the updates come from, in ASCII"
        )
    return source_table


def new_batch_id() -> str:
    """A new batch id: a uuid4 text of 36 characters, so it also fits the subitems' NVARCHAR(36) stg_batch_id."""
    return str(uuid.uuid4())


def metadata_problem(source: str, problems: Sequence[str]) -> ConfigError:
    count = len(problems)
    heading = f"board metadata {source} does not match the database ({count} problem{'s' if count != 1 else ''})"
    return ConfigError("\n  ".join([heading, *problems]))
