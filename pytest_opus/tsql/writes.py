"""What a value becomes when it is written to a column: SQL Server's conversion on write, as SQLite SQL.

SQLite stores whatever it is given: an `int` column keeps 'abc' or 1.5, an `nvarchar(5)` column keeps
sixty characters. SQL Server converts every value that INSERT, UPDATE or SELECT ... INTO writes to
the column's type and refuses what does not fit: 2628 for a string that would be truncated, 220 or
8115 for a number out of range, 245, 244, 248 or 8114 for text that is no number (or too big a one),
8115 for a decimal with too many digits. It rounds a decimal to the column's scale, truncates a
decimal written to an integer column, pads char(n) with blanks and drops trailing blanks beyond the
length. `conversion` writes those rules as one SQLite expression per column; `plan_writes` puts every
value of an INSERT or UPDATE through its column's (after the checks that need no data: IDENTITY and
IDENTITY_INSERT, the number of values).

The conversions are plain SQL, so they run alike over Python's sqlite3 and over an ODBC driver, where
no Python function can be registered. They are part of the statement rather than of the schema: a
trigger or CHECK constraint sees a value only after SQLite's column affinity has changed it (the text
'1.5', which an int column must refuse, arrives as the number 1.5, which it must truncate to 1),
cannot change the value it checks (rounding, padding), and a row trigger on the 99-column staging
table more than doubled the time of its set-based INSERT ... SELECT (0.20 s to 0.41 s for 50,000
rows, measured with the benchmark's statement). A type that always fits its column (a bigint column
copied into a bigint column) is not converted at all.

An error is raised from SQL the way arithmetic.py raises its own: SQLite's message for a malformed
JSON path quotes the path, so a path "Msg <number>: <message>" becomes the statement's error, which
the driver reads back (runtime.Driver.clean_error, server_error). SQLite aborts the statement, so
none of its rows are written, as in SQL Server. Written by hand: no library models these rules.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from .. import sqltypes
from ..catalog import Column, Table
from . import arithmetic
from .expression_types import (
    CHARACTER_TYPES,
    CP1252_EXTRA,
    is_star,
    is_stringy,
    is_variable,
    tsql_type,
    variable_name,
)
from .runtime import TsqlError
from .sqlite_schema import SCHEMA, TableModel, parse_table_sql
from .translate import Answers, NotInSubset

#: the database SQL Server's messages name the sandbox's tables in ('sandbox.dbo.T'), as DB_NAME() does
DATABASE = "sandbox"
#: the type of a value bound by library code when the runner does not have the value to tell it
PARAMETER = "parameter"

#: SQL Server's messages (sys.messages) for what writing a value can raise; {value} is the value
#: written, the other fields are words. docs/embedded-runner.md cites the pages.
MESSAGES = {
    213: "Column name or number of supplied values does not match table definition.",
    220: "Arithmetic overflow error for data type {type}, value = {value}.",
    232: "Arithmetic overflow error for type {type}, value = {value}.",
    244: "The conversion of the {source} value '{value}' overflowed an {width} column. Use a larger integer column.",
    245: "Conversion failed when converting the {source} value '{value}' to data type {type}.",
    264: ("The column name '{column}' is specified more than once in the SET clause or column list of an INSERT. "
          "A column cannot be assigned more than one value in the same clause. Modify the clause to make sure "
          "that a column is updated only once. If this statement updates or inserts columns into a view, column "
          "aliasing can conceal the duplication in your code."),
    248: "The conversion of the {source} value '{value}' overflowed an int column.",
    339: "DEFAULT or NULL are not allowed as explicit identity values.",
    544: "Cannot insert explicit value for identity column in table '{table}' when IDENTITY_INSERT is set to OFF.",
    545: "Explicit value must be specified for identity column in table '{table}' either when IDENTITY_INSERT "
         "is set to ON or when a replication user is inserting into a NOT FOR REPLICATION identity column.",
    2628: "String or binary data would be truncated in table '{table}', column '{column}'. "
          "Truncated value: '{value}'.",
    1088: 'Cannot find the object "{table}" because it does not exist or you do not have permissions.',
    8101: "An explicit value for the identity column in table '{table}' can only be specified when a column list "
          "is used and IDENTITY_INSERT is ON.",
    8102: "Cannot update identity column '{column}'.",
    8106: "Table '{table}' does not have the identity property. Cannot perform SET operation.",
    8107: "IDENTITY_INSERT is already ON for table '{held}'. Cannot perform SET operation for table '{table}'.",
    8114: "Error converting data type {source} to {type}.",
    8115: "Arithmetic overflow error converting {source} to data type {type}.",
    241: "Conversion failed when converting date and/or time from character string.",
    242: "The conversion of a {source} data type to a {type} data type resulted in an out-of-range value.",
    8169: "Conversion failed when converting from a character string to uniqueidentifier.",
}


def sql_server_error(number: int, **words: str) -> TsqlError:
    """SQL Server's error `number` with its message's fields filled in."""
    return TsqlError(number, MESSAGES[number].format(**words))


# -- errors raised from SQL ------------------------------------------------------------------------------


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def raise_sql(number: int, message: str) -> str:
    """A SQLite expression that fails its statement with SQL Server error `number`; `message` is SQL
    (the same channel as arithmetic.raise_sql: "Msg <number>: <message>")."""
    return f"json_extract('{{}}', 'Msg {number}: ' || {message})"


def _raise(number: int, **fields: str) -> str:
    """`raise_sql` of MESSAGES[number]: fields given as `sql_<name>` are SQL expressions, the others words."""
    pieces: list[str] = []
    for text, name, _spec, _conversion in string.Formatter().parse(MESSAGES[number]):
        if text:
            pieces.append(literal(text))
        if name is not None:
            pieces.append(f"({fields['sql_' + name]})" if "sql_" + name in fields else literal(fields[name]))
    return raise_sql(number, " || ".join(pieces))


# -- one value, one column ---------------------------------------------------------------------------------


def utf16_units(value: str) -> str:
    """SQL for the length of a text in UTF-16 code units, as SQL Server counts (n)varchar lengths: a
    character outside the BMP counts two. SQLite's length() counts characters; those outside the BMP
    are the ones whose UTF-8 form starts with a byte F0 to F4, counted by removing those bytes."""
    blob = f"CAST({value} AS BLOB)"
    stripped = blob
    for lead in ("F0", "F1", "F2", "F3", "F4"):
        stripped = f"replace({stripped}, x'{lead}', x'')"
    return f"(length({value}) + length({blob}) - length(CAST({stripped} AS BLOB)))"


def _fits(value: str, n: int) -> str:
    """SQL: the text has at most n UTF-16 units (UTF-8 bytes are never fewer, so short text is quick)."""
    return f"(length(CAST({value} AS BLOB)) <= {n} OR {utf16_units(value)} <= {n})"


def _blanks(value: str, n: int) -> str:
    """SQL: the text padded with blanks to n UTF-16 units (char(n), nchar(n))."""
    return f"({value} || substr(printf('%{n}s', ''), 1, max({n} - {utf16_units(value)}, 0)))"


#: how a refusal is raised from SQL: arithmetic.py's channel, which the engine turns into UnsupportedConstruct
REFUSED = "Not supported: "
_LINE_BREAKS = "char(9, 10, 11, 12, 13)"


def _refuse(construct: str, why: str = "not documented") -> str:
    return f"json_extract('{{}}', {literal(REFUSED + construct + f' ({why})')})"


def _with_text(value: str, body: str, target: str) -> str:
    """`body` evaluated with opus_t, the text without blanks around it (SQL Server ignores them in a
    number written as text), and opus_u, opus_t without its sign. Text with tabs or line breaks, or a
    lone sign, is refused: SQL Server does not document what it makes of them (as arithmetic.py)."""
    refused = _refuse(f"text with tabs, line breaks or only a sign written to a {target} column")
    return (f"(SELECT CASE WHEN opus_t GLOB '*[' || {_LINE_BREAKS} || ']*' OR opus_t IN ('+', '-') THEN {refused} "
            f"ELSE {body} END FROM (SELECT opus_t, CASE WHEN substr(opus_t, 1, 1) IN ('+', '-') "
            f"THEN substr(opus_t, 2) ELSE opus_t END AS opus_u FROM (SELECT trim({value}, ' ') AS opus_t)))")


_INTEGER_TEXT = "opus_u <> '' AND opus_u NOT GLOB '*[^0-9]*'"
_DECIMAL_TEXT = "opus_u <> '' AND opus_u <> '.' AND opus_u NOT GLOB '*[^0-9.]*' AND opus_u NOT GLOB '*.*.*'"


def _string_kind(source: str | None) -> str:
    """The type SQL Server names in a message about a string value: varchar or nvarchar."""
    return "nvarchar" if source in (*sqltypes.UNICODE, PARAMETER) else "varchar"


def _number_kind(value: str, source: str | None) -> str:
    """SQL: the type SQL Server names when a number does not fit a decimal ('int', 'numeric', 'float')."""
    if source in sqltypes.WHOLE_NUMBERS or source in (*sqltypes.APPROXIMATE, "money"):
        return literal(source or "")
    if source in sqltypes.DECIMALS:
        return "'numeric'"
    low, high = sqltypes.INTEGER_RANGES["int"]  # not known: an integer literal is int when it fits int
    return f"CASE WHEN typeof({value}) = 'integer' AND {value} BETWEEN {low} AND {high} THEN 'int' ELSE 'numeric' END"


def _integer(value: str, name: str, source: str | None) -> str:
    low, high = sqltypes.INTEGER_RANGES[name]
    overflow = _raise(8115, source="expression", type=name)
    if name in sqltypes.INTERNAL_NAMES and source not in (*sqltypes.DECIMALS, *sqltypes.APPROXIMATE, "money"):
        too_big = _raise(220, type=name, sql_value=value)  # an integer made smaller names the value
    else:
        too_big = overflow
    kind = _string_kind(source)
    if name == "bigint":  # beyond 2^53 a REAL cannot tell the bounds apart: compare the digits
        digits = "ltrim(opus_u, '0')"
        limit = (f"CASE WHEN substr(opus_t, 1, 1) = '-' THEN '{-low}' ELSE '{high}' END")
        in_range = f"(length({digits}) < 19 OR (length({digits}) = 19 AND {digits} <= {limit}))"
        text_too_big = overflow
        no_number = _raise(8114, source=kind, type=name)  # (bigint words it as 8114, the others as 245)
    else:
        in_range = f"CAST(opus_t AS REAL) BETWEEN {low} AND {high}"
        text_too_big = (_raise(248, source=kind, sql_value=value) if name == "int"
                        else _raise(244, source=kind, sql_value=value, width=sqltypes.INTERNAL_NAMES[name]))
        no_number = _raise(245, source=kind, sql_value=value, type=name)
    from_text = _with_text(value, f"CASE WHEN {_INTEGER_TEXT} THEN CASE WHEN {in_range} THEN CAST(opus_t AS INTEGER) "
                                  f"ELSE {text_too_big} END WHEN opus_t = '' THEN 0 ELSE {no_number} END", name)
    # a number with decimals is truncated toward zero (numeric and float to int truncate); a float out
    # of range names its value (232), a decimal does not (8115)
    real_too_big = (_raise(232, type=name, sql_value=f"printf('%f', {value})") if source in sqltypes.APPROXIMATE
                    else overflow)
    return (f"CASE WHEN typeof({value}) = 'integer' THEN CASE WHEN {value} BETWEEN {low} AND {high} THEN {value} "
            f"ELSE {too_big} END "
            f"WHEN typeof({value}) = 'real' THEN CASE WHEN {value} > {low - 1} AND {value} < {high + 1} "
            f"THEN CAST({value} AS INTEGER) ELSE {real_too_big} END "
            f"WHEN typeof({value}) = 'text' THEN {from_text} ELSE {value} END")


def _bit(value: str, source: str | None) -> str:
    no_bit = _raise(245, source=_string_kind(source), sql_value=value, type="bit")
    from_text = _with_text(value, "CASE WHEN lower(opus_t) = 'true' THEN 1 WHEN lower(opus_t) = 'false' THEN 0 "
                                  f"WHEN {_INTEGER_TEXT} THEN CAST(opus_t AS INTEGER) <> 0 "
                                  f"WHEN opus_t = '' THEN 0 ELSE {no_bit} END", "bit")
    return (f"CASE WHEN typeof({value}) IN ('integer', 'real') THEN {value} <> 0 "
            f"WHEN typeof({value}) = 'text' THEN {from_text} ELSE {value} END")


def _exact(value: str, scale: int, body: str) -> str:
    """SQL: `body`, unless the REAL `value` rounded to `scale` needs more than 15 significant digits
    (arithmetic.inexact_decimal_sql): such a value is refused rather than stored rounded."""
    refused = _refuse(f"{arithmetic.INEXACT_DECIMAL} written to a decimal column", arithmetic.INEXACT_WHY)
    return f"CASE WHEN {arithmetic.inexact_decimal_sql(value, scale)} THEN {refused} ELSE {body} END"


def _decimal(value: str, precision: int, scale: int, source: str | None) -> str:
    whole = precision - scale  # after rounding to the scale, |value| < 10^whole
    inside = f"opus_r > -1e{whole} AND opus_r < 1e{whole}"
    rounded = f"round({value}, {scale})"  # (repeated in place: cheaper than a subquery for every row)
    overflow = _raise(8115, sql_source=_number_kind(value, source), type="numeric")
    kind = _string_kind(source)
    scientific = "opus_u GLOB '*[eE]*' AND opus_u NOT GLOB '*[^0-9.eE+-]*'"  # refused, as arithmetic.py does
    refused = _refuse("text in scientific notation written to a decimal column")
    # the text's own digits, to the scale: more than 15 significant ones cannot go through SQLite's REAL
    point = "instr(opus_u, '.')"
    kept = (f"(CASE WHEN {point} > 0 THEN substr(opus_u, 1, {point} - 1) || substr(opus_u, {point} + 1, {scale}) "
            "ELSE opus_u END)")
    too_many = f"length(rtrim(ltrim({kept}, '0'), '0')) > {sqltypes.DOUBLE_DIGITS}"
    inexact = _refuse(f"{arithmetic.INEXACT_DECIMAL} written to a decimal column", arithmetic.INEXACT_WHY)
    from_text = _with_text(value, f"CASE WHEN {scientific} THEN {refused} "
                                  f"WHEN {_DECIMAL_TEXT} AND {too_many} THEN {inexact} "
                                  f"WHEN {_DECIMAL_TEXT} THEN (SELECT CASE WHEN {inside} THEN "
                                  f"{_exact('opus_r', scale, 'opus_r')} "
                                  f"ELSE {_raise(8115, source=kind, type='numeric')} END "
                                  f"FROM (SELECT round(CAST(opus_t AS REAL), {scale}) AS opus_r)) "
                                  f"ELSE {_raise(8114, source=kind, type='numeric')} END", "decimal")
    return (f"CASE WHEN typeof({value}) = 'integer' THEN CASE WHEN {value} > -1e{whole} AND {value} < 1e{whole} "
            f"THEN {value} ELSE {overflow} END "
            f"WHEN typeof({value}) = 'real' THEN CASE WHEN {inside.replace('opus_r', rounded)} "
            f"THEN {_exact(value, scale, rounded)} "
            f"ELSE {overflow} END "
            f"WHEN typeof({value}) = 'text' THEN {from_text} ELSE {value} END")


def _float(value: str, name: str, source: str | None) -> str:
    """Text written to a float or real column must be a number: digits, one point, an exponent."""
    e = "instr(lower(opus_u), 'e')"
    mantissa = f"(CASE WHEN {e} > 0 THEN substr(opus_u, 1, {e} - 1) ELSE opus_u END)"
    exponent = f"(CASE WHEN {e} > 0 THEN ltrim(substr(opus_u, {e} + 1), '+-') ELSE '0' END)"
    valid = (f"{mantissa} NOT IN ('', '.') AND {mantissa} NOT GLOB '*[^0-9.]*' AND {mantissa} NOT GLOB '*.*.*' "
             f"AND {exponent} <> '' AND {exponent} NOT GLOB '*[^0-9]*'")
    no_number = _raise(8114, source=_string_kind(source), type=name)
    limit = repr(sqltypes.FLOAT_LIMITS[name])
    # beyond the type's range (SQLite: infinity, or a real too large): a number is SQL Server's error 8115;
    # text out of range is refused (its error is not documented)
    beyond = _refuse(f"text beyond the range of {name} written to a {name} column")
    from_text = _with_text(value, f"CASE WHEN NOT ({valid}) THEN {no_number} WHEN abs(CAST(opus_t AS REAL)) > {limit} "
                                  f"THEN {beyond} ELSE CAST(opus_t AS REAL) END", name)
    number = f"CASE WHEN abs({value}) > {limit} THEN {_raise(8115, source='float', type=name)} ELSE {value} END"
    return f"CASE WHEN typeof({value}) = 'text' THEN {from_text} ELSE {number} END"


def qualified(table: str) -> str:
    """A table as SQL Server's messages name it: 'sandbox.dbo.T'; a #temp table lives in tempdb (where
    SQL Server also pads its name with underscores and a number of its own)."""
    return f"tempdb.dbo.{table}" if table.startswith("#") else f"{DATABASE}.dbo.{table}"


def _float_text(value: str, name: str, length: int | None) -> str:
    """SQL: a float or real written to a character column, as SQL Server writes it (style 0, six digits,
    arithmetic.float_text_sql); too long for char(n)/varchar(n) it is refused (SQL Server: an error)."""
    text = arithmetic.float_text_sql(value)
    if length is None or length == sqltypes.MAX:
        return text
    refused = _refuse(arithmetic.float_too_long(name, length).split(" (")[0], "SQL Server: an error")
    return f"CASE WHEN length({text}) > {length} THEN {refused} ELSE {text} END"


def _character(value: str, name: str, length: int, table: str, column: str, source: str | None = None) -> str:
    def stored(text: str) -> str:
        return _blanks(text, length) if name in ("char", "nchar") else text

    trimmed = f"rtrim({value}, ' ')"
    truncated = _raise(2628, table=qualified(table), column=column, sql_value=f"substr({value}, 1, {length})")
    # blanks beyond the length go without an error ("Trailing blanks are ignored for character columns",
    # SET ANSI_WARNINGS); the value keeps the blanks that fit
    from_text = (f"CASE WHEN {_fits(value, length)} THEN {stored(value)} "
                 f"WHEN {_fits(trimmed, length)} THEN {_blanks(trimmed, length)} ELSE {truncated} END")
    # a number too long: an integer becomes '*' in char and varchar, the rest is an error (CAST and CONVERT)
    number = f"CAST({value} AS TEXT)"
    number_kind = f"CASE WHEN typeof({value}) = 'integer' THEN 'expression' ELSE 'numeric' END"
    too_long = _raise(8115, sql_source=number_kind, type="nvarchar" if name in sqltypes.UNICODE else "varchar")
    if name in ("char", "varchar"):
        too_long = f"CASE WHEN typeof({value}) = 'integer' THEN {stored(literal('*'))} ELSE {too_long} END"
    from_number = f"CASE WHEN length({number}) <= {length} THEN {stored(number)} ELSE {too_long} END"
    if source in sqltypes.APPROXIMATE:
        from_number = f"(SELECT {stored('opus_x')} FROM (SELECT {_float_text(value, name, length)} AS opus_x))"
    if name in ("char", "varchar"):
        from_text = f"CASE WHEN {outside_code_page(value)} THEN {CODE_PAGE_REFUSED} ELSE {from_text} END"
    return (f"CASE WHEN typeof({value}) = 'text' THEN {from_text} "
            f"WHEN typeof({value}) IN ('integer', 'real') THEN {from_number} ELSE {value} END")


# -- the code page of varchar and char ---------------------------------------------------------------------
CODE_PAGE_CONSTRUCT = ("text with characters outside code page 1252 written to a varchar or char value (SQL Server "
                       "stores a best-fit character or '?' for each, by Windows' best-fit table; write N'...' and "
                       "nvarchar to keep them)")


def outside_code_page(value: str) -> str:
    """SQL: the text has a character that code page 1252 does not hold (GLOB ranges compare code points;
    NUL cannot stand in a pattern and is in the code page)."""
    extra = ", ".join(str(ord(ch)) for ch in CP1252_EXTRA)
    return f"({value} GLOB '*[^' || char(1) || '-' || char(127) || char(160) || '-' || char(255, {extra}) || ']*')"


CODE_PAGE_REFUSED = _refuse(CODE_PAGE_CONSTRUCT, "the sandbox does not carry that table")


def code_page_checked(value: str, result: str | None = None) -> str:
    """SQL: `result` (default: `value`) unless `value` is text with a character outside code page 1252, which
    is refused (SQL Server's best-fit mapping is not modelled)."""
    return (f"CASE WHEN typeof({value}) = 'text' AND {outside_code_page(value)} THEN {CODE_PAGE_REFUSED} "
            f"ELSE {value if result is None else result} END")


# -- dates and times ---------------------------------------------------------------------------------------
#: the date and time types whose values the sandbox converts (datetimeoffset's it does not)
DATE_TIME_TYPES = tuple(name for name in sqltypes.DATE_TIME if name != "datetimeoffset")
_D = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
_HM = "[0-9][0-9]:[0-9][0-9]"
_HMS = _HM + ":[0-9][0-9]"
#: the formats the sandbox reads; SQL Server reads more, some by SET DATEFORMAT and SET LANGUAGE
DATE_FORMATS = "yyyy-mm-dd, yyyy-mm-dd hh:mm[:ss[.fffffff]] or yyyy-mm-ddThh:mm:ss[.fffffff]"
TIME_FORMATS = "hh:mm[:ss[.fffffff]]"


def date_time(value: str, name: str, source: str | None, digits: int | None = None) -> str:
    """Text written to a date or time column, as SQL Server converts it: ISO text checked and stored in one
    form ('2020-01-05 10:00:00.997' for datetime, rounded to 1/300 s; '...:00' for smalldatetime, rounded
    to the minute; `digits` decimals for datetime2(n) and time(n) (seven when None), rounded half up, date
    alone for date). Text that is no date (no digit, or an impossible day or hour) is error 241; other
    formats, numbers and binary are refused. A datetime's 1/300 s become exact decimals in datetime2 and time
    ('.333' is '.3333333', as "datetime" documents since SQL Server 2016)."""
    failed = _raise(241)
    other = _refuse(f"text in a date or time format other than {TIME_FORMATS if name == 'time' else DATE_FORMATS} "
                    f"written to a {name} column", "SQL Server reads other formats by SET DATEFORMAT and LANGUAGE")
    if name == "time":
        parts = "SELECT opus_t, '1900-01-01' AS opus_d, opus_t AS opus_r FROM (SELECT trim({v}, ' ') AS opus_t)"
    else:
        parts = (f"SELECT opus_t, CASE WHEN opus_t GLOB '{_D}*' THEN substr(opus_t, 1, 10) END AS opus_d, "
                 "CASE WHEN length(opus_t) = 10 THEN '' WHEN substr(opus_t, 11, 1) = ' ' OR "
                 f"(substr(opus_t, 11, 1) = 'T' AND substr(opus_t, 12) GLOB '{_HMS}*') THEN substr(opus_t, 12) END "
                 "AS opus_r FROM (SELECT trim({v}, ' ') AS opus_t)")
    parts = parts.replace("{v}", value)
    split = (f"SELECT opus_t, opus_d, CASE WHEN opus_r = '' THEN '00:00:00' "
             f"WHEN opus_r GLOB '{_HM}' THEN opus_r || ':00' "
             f"WHEN opus_r GLOB '{_HMS}' OR opus_r GLOB '{_HMS}.[0-9]*' THEN substr(opus_r, 1, 8) END AS opus_s, "
             f"CASE WHEN opus_r = '' OR opus_r GLOB '{_HM}' OR opus_r GLOB '{_HMS}' THEN '' "
             f"WHEN opus_r GLOB '{_HMS}.[0-9]*' AND substr(opus_r, 10) NOT GLOB '*[^0-9]*' "
             f"AND length(opus_r) <= 16 THEN substr(opus_r, 10) END AS opus_f FROM ({parts})")
    shaped = "opus_d IS NOT NULL AND opus_s IS NOT NULL AND opus_f IS NOT NULL"
    valid = ("coalesce(date(opus_d, '+0 days') = opus_d AND opus_d >= '0001-01-01' AND substr(opus_s, 1, 2) <= '23' "
             "AND substr(opus_s, 4, 2) <= '59' AND substr(opus_s, 7, 2) <= '59', 0)")
    seven = "substr(opus_f || '0000000', 1, 7)"
    if source == "datetime":  # its milliseconds are 1/300 s ticks: (ms * 3 + 5) / 10 of them, t/300 s in 7 digits
        seven = "printf('%07d', ((CAST(substr(opus_f || '000', 1, 3) AS INTEGER) * 3 + 5) / 10 * 200000 + 3) / 6)"
    if name == "date":
        result = "opus_d"
    elif name in ("datetime2", "time"):
        result = _fraction_rounded(name, seven, sqltypes.MAX_FRACTIONAL_SECONDS if digits is None else digits)
    else:
        low, high = sqltypes.DATE_TIME_RANGES[name]
        out_of_range = _raise(242, source=_string_kind(source), type=name)
        ms = "CAST(substr(opus_f || '000', 1, 3) AS INTEGER)"
        if name == "datetime":  # to 1/300 s: the last digit of the milliseconds .000, .003 or .007 (.999 is 1 s)
            ticks = (f"(({ms}) / 10 * 10 + CASE ({ms}) % 10 WHEN 0 THEN 0 WHEN 1 THEN 0 WHEN 2 THEN 3 WHEN 3 THEN 3 "
                     "WHEN 4 THEN 3 WHEN 9 THEN 10 ELSE 7 END)")
            rounded = (f"(SELECT CASE WHEN opus_m < 1000 THEN opus_d || ' ' || opus_s || '.' || printf('%03d', opus_m) "
                       "ELSE datetime(opus_d || ' ' || opus_s, '+1 seconds') || '.000' END "
                       f"FROM (SELECT {ticks} AS opus_m))")
        else:  # smalldatetime: to the minute, 29.998 s down and 29.999 s up
            up = "substr(opus_s, 7, 2) || '.' || substr(opus_f || '000', 1, 3) >= '29.999'"
            rounded = (f"strftime('%Y-%m-%d %H:%M:00', opus_d || ' ' || substr(opus_s, 1, 5), "
                       f"CASE WHEN {up} THEN '+1 minutes' ELSE '+0 minutes' END)")
        # more decimals than 3: text is error 241; a datetime2 value (or one of a type not known) is rounded by
        # rules the sandbox does not model
        too_fine = failed if source in (*CHARACTER_TYPES, PARAMETER) else _refuse(
            f"a {source or 'date and time'} value with more than 3 decimals converted to {name}")
        decimals = "opus_f" if source in (*CHARACTER_TYPES, PARAMETER) else "rtrim(opus_f, '0')"
        result = (f"(SELECT CASE WHEN length({decimals}) > 3 THEN {too_fine} WHEN opus_x IS NULL OR opus_x < '{low}' "
                  f"OR opus_x > '{high}' THEN {out_of_range} ELSE opus_x END FROM (SELECT {rounded} AS opus_x))")
    from_text = (f"(SELECT CASE WHEN opus_t = '' THEN {_refuse(f'an empty string written to a {name} column')} "
                 f"WHEN NOT ({shaped}) THEN CASE WHEN opus_t GLOB '*[0-9]*' THEN {other} ELSE {failed} END "
                 f"WHEN NOT {valid} THEN {failed} ELSE {result} END FROM ({split}))")
    refused = _refuse(f"a number or binary value written to a {name} column", "SQL Server's conversion of it is not "
                      "the sandbox's")
    return (f"CASE WHEN typeof({value}) = 'text' THEN {from_text} "
            f"WHEN typeof({value}) <> 'null' THEN {refused} ELSE NULL END")


def _fraction_rounded(name: str, seven: str, digits: int) -> str:
    """SQL (over opus_d, opus_s and `seven`, the seven decimals) for a datetime2(digits) or time(digits) value:
    the decimals rounded half up to `digits` (the "time" page: a smaller precision rounds the fraction),
    carried into the seconds when they round to a whole one (past 23:59:59 of a time, or of 9999-12-31,
    refused: not documented)."""
    whole = "opus_s" if name == "time" else "opus_d || ' ' || opus_s"
    if digits >= sqltypes.MAX_FRACTIONAL_SECONDS:
        return f"{whole} || '.' || {seven}"
    kept = "0" if digits == 0 else f"CAST(substr({seven}, 1, {digits}) AS INTEGER)"
    rounded = f"({kept} + (substr({seven}, {digits + 1}, 1) >= '5'))"
    fraction = "" if digits == 0 else f" || '.' || printf('%0{digits}d', opus_n)"
    zeros = "" if digits == 0 else f" || '.{'0' * digits}'"
    last = "'23:59:59'" if name == "time" else "'9999-12-31 23:59:59'"
    later = "time(opus_s, '+1 seconds')" if name == "time" else "datetime(opus_d || ' ' || opus_s, '+1 seconds')"
    refused = _refuse(f"a {name}({digits}) value whose decimals round up past {last[1:-1]}")
    return (f"(SELECT CASE WHEN opus_n < {10 ** digits} THEN {whole}{fraction} WHEN {whole} = {last} THEN {refused} "
            f"ELSE {later}{zeros} END FROM (SELECT {rounded} AS opus_n))")


# -- uniqueidentifier, money, binary ---------------------------------------------------------------------------
_HEX = "[0-9A-Fa-f]"
_GUID = "-".join(_HEX * n for n in (8, 4, 4, 4, 12))


def _uniqueidentifier(value: str) -> str:
    """Text in the form 6F9619FF-8B86-D011-B42D-00C04FC964FF (in braces or not) is stored in capitals; longer
    text is cut to its first 36 characters, as SQL Server documents; other text is error 8169."""
    refused = _refuse("a number or binary value written to a uniqueidentifier column",
                      "SQL Server's conversion of it is not the sandbox's")
    return (f"CASE WHEN typeof({value}) = 'text' THEN CASE WHEN {value} GLOB '{{{_GUID}}}' "
            f"THEN upper(substr({value}, 2, 36)) WHEN substr({value}, 1, 36) GLOB '{_GUID}' "
            f"THEN upper(substr({value}, 1, 36)) ELSE {_raise(8169)} END "
            f"WHEN typeof({value}) <> 'null' THEN {refused} ELSE NULL END")


_MONEY_LIMITS = {name: float(limit) for name, limit in sqltypes.MONEY_LIMITS.items()}


def _money(value: str, name: str, source: str | None) -> str:
    """A number written to money or smallmoney: rounded to four decimals, error 8115 beyond the range.
    Text of plain digits is read as a number; other text (currency signs, thousands separators) is refused."""
    limit = _MONEY_LIMITS[name]
    overflow = _raise(8115, sql_source=_number_kind(value, source), type=name)
    # SQLite's round() is exact to about 15 significant digits: four decimals leave eleven before the point
    inexact = _refuse(f"a {name} value of 10^11 or more with decimals", "the sandbox's numbers hold 15 digits")
    from_text = _with_text(value, f"CASE WHEN {_DECIMAL_TEXT} THEN (SELECT CASE WHEN abs(opus_r) > {limit} "
                                  f"THEN {_raise(8115, source=_string_kind(source), type=name)} "
                                  f"WHEN abs(opus_r) >= 1e11 THEN {inexact} ELSE opus_r END "
                                  f"FROM (SELECT round(CAST(opus_t AS REAL), 4) AS opus_r)) ELSE "
                                  f"{_refuse(f'text other than digits and a point written to a {name} column')} END",
                           name)
    return (f"CASE WHEN typeof({value}) = 'integer' THEN CASE WHEN abs({value}) <= {limit} THEN {value} "
            f"ELSE {overflow} END "
            f"WHEN typeof({value}) = 'real' THEN CASE WHEN abs(round({value}, 4)) > {limit} THEN {overflow} "
            f"WHEN abs({value}) >= 1e11 THEN {inexact} ELSE round({value}, 4) END "
            f"WHEN typeof({value}) = 'text' THEN {from_text} "
            f"WHEN typeof({value}) = 'blob' THEN {_refuse(f'a binary value written to a {name} column')} "
            f"ELSE NULL END")


def _binary(value: str, name: str, length: int) -> str:
    """Binary written to binary(n)/varbinary(n) is stored as it is; longer than n, shorter than binary(n)
    (SQL Server pads it with zero bytes, which plain SQLite SQL cannot append to a blob), text or a number is
    refused (SQL Server: error 2628 with its own rendering of the bytes, or 257 for text)."""
    refused = _refuse(f"text or a number written to a {name} column", "SQL Server needs a CONVERT there")
    if length == -1:
        return f"CASE WHEN typeof({value}) IN ('blob', 'null') THEN {value} ELSE {refused} END"
    too_long = _refuse(f"binary data longer than {length} bytes written to a {name}({length}) column")
    short = _refuse(f"binary data shorter than {length} bytes written to a binary({length}) column",
                    "SQL Server pads it with zero bytes")
    padded = f"WHEN length({value}) < {length} THEN {short} " if name == "binary" else ""
    return (f"CASE WHEN typeof({value}) = 'blob' THEN CASE WHEN length({value}) > {length} THEN {too_long} "
            f"{padded}ELSE {value} END WHEN typeof({value}) = 'null' THEN NULL ELSE {refused} END")


@dataclass(frozen=True)
class Source:
    """What the runner knows of a written expression's type: its base name ('nvarchar', 'int', or
    PARAMETER), and its full type ('nvarchar(50)') when it knows that too."""

    base: str
    full: str | None = None
    #: read from a table's column: its values went through these conversions when they were stored
    column: bool = False

    @classmethod
    def of(cls, type_text: str | None) -> Source | None:
        return None if type_text is None else cls(sqltypes.read_type(type_text).name, type_text)

    def fits(self, column: Column) -> bool:
        """Whether every value of this type is stored unchanged in `column` (nothing to convert)."""
        if self.full is None:
            return False
        written = sqltypes.read_type(self.full)
        name, length, precision, scale = written.name, written.length, written.precision, written.scale
        target = column.data_type
        if target in sqltypes.INTEGER_RANGES and name in sqltypes.INTEGER_RANGES:
            return sqltypes.integer_type_holds(target, name)
        if target in sqltypes.DECIMALS and name in sqltypes.DECIMALS:
            if not self.column and (precision or sqltypes.DEFAULT_PRECISION) > sqltypes.DOUBLE_DIGITS:
                return False  # a literal or variable with more digits than SQLite holds: checked (_exact)
            p, s = column.precision or sqltypes.DEFAULT_PRECISION, column.scale or 0
            return (precision or sqltypes.DEFAULT_PRECISION) - (scale or 0) <= p - s and (scale or 0) <= s
        if target == "varchar" and name == "nvarchar":  # (code page 1252)
            return False
        if target in ("varchar", "nvarchar") and name in ("varchar", "nvarchar"):  # (char pads, text has no length)
            return column.max_length == -1 or (length not in (None, -1) and length <= (column.max_length or 1))
        return target == name and target in ("bit", "float", *DATE_TIME_TYPES, "uniqueidentifier", "money")


def conversion(value: str, column: Column, table: str, written: Source | None) -> str | None:
    """SQL for `value` (SQL) converted to `column`'s type as SQL Server converts a value it writes, raising
    SQL Server's error where it would; None where every value is stored as it is.

    `written` is the type of the written expression when the runner knows it: a type that always fits
    needs no conversion, and its name chooses the words of some messages. Whether a value is text or a
    number is read from the value itself, before SQLite's column affinity changes it.
    """
    name = column.data_type
    source = written.base if written is not None else None
    if column.identity:  # an explicit value (IDENTITY_INSERT ON): in the column's range, not NULL
        rule = _integer(value, name, source) if name in sqltypes.INTEGER_RANGES else value
        return f"CASE WHEN {value} IS NULL THEN {_raise(339)} ELSE {rule} END"
    if source in arithmetic.STYLE_ZERO_TYPES and name in sqltypes.STRINGS:  # style 0, in the session's language
        refused = f"json_extract('{{}}', {literal(REFUSED + arithmetic.datetime_text_refusal(source))})"
        return f"CASE WHEN {value} IS NULL THEN NULL ELSE {refused} END"
    if written is not None and written.fits(column):
        return None
    if name in sqltypes.INTEGER_RANGES:
        return _integer(value, name, source)
    if name == "bit":
        return _bit(value, source)
    if name in sqltypes.DECIMALS:
        return _decimal(value, column.precision or sqltypes.DEFAULT_PRECISION, column.scale or 0, source)
    if name in sqltypes.APPROXIMATE:
        return _float(value, name, source)
    if name in sqltypes.SHORT_STRINGS and column.max_length not in (None, -1):
        return _character(value, name, column.max_length or 1, table, column.name, source)
    if name in sqltypes.STRINGS and source in sqltypes.APPROXIMATE:  # (max, text): the number as SQL Server writes it
        return f"CASE WHEN typeof({value}) = 'real' THEN {_float_text(value, name, None)} ELSE {value} END"
    if name in sqltypes.CHARACTER:  # (max): no length, the code page still
        return code_page_checked(value)
    if name in DATE_TIME_TYPES:
        return date_time(value, name, source, column.scale if name in sqltypes.TIME_TYPES else None)
    if name == "uniqueidentifier":
        return _uniqueidentifier(value)
    if name in _MONEY_LIMITS:
        return _money(value, name, source)
    if name in ("binary", "varbinary"):
        return _binary(value, name, column.max_length or 1)
    return None


# -- the tables written --------------------------------------------------------------------------------------


def table_of(model: TableModel) -> Table:
    """A stored table's columns as the catalog reports them (for #temp tables, which it does not list)."""
    columns = []
    for ordinal, c in enumerate(model.columns, start=1):
        declared = sqltypes.read_type(c.tsql_type)
        columns.append(Column(c.name, ordinal, declared.name, declared.length, declared.precision, declared.scale,
                              nullable=not c.not_null,
                              identity=c.identity))
    return Table(SCHEMA, model.name, tuple(columns))


@functools.lru_cache(maxsize=64)
def temp_table(create_sql: str) -> Table:
    """A #temp table from its stored CREATE TABLE text."""
    return table_of(parse_table_sql(create_sql))


#: a table name as a statement writes it (#temp tables with their #) -> the table, or None
TableLookup = Callable[[str], Table | None]

_CTE = "__opus_w"  # the derived tables values are read through
#: where a conversion template takes the SQL of its value
VALUE = "\x00value\x00"
_PLACEHOLDER = re.compile(r":opusw_(\d+)\b")
_INLINE = re.compile(r"COALESCE\(:opusw_open_(\d+), (.*?), :opusw_close_\1\)", re.S)
#: what keeps an expression from being repeated in place (see _repeatable)
_NOT_REPEATED = (exp.Parameter, exp.Placeholder, exp.Subquery, exp.Select, exp.Uuid, exp.Rand, exp.Add, exp.Sub,
                 exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Cast, exp.Convert, exp.Anonymous)


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _sqlite_column(table: str, column: str) -> str:
    return f"{_ident(table)}.{_ident(column)}"


@dataclass
class WritePlan:
    """The conversions of one statement. Its tree holds placeholders (`:opusw_0`, ...), since the
    conversions are SQLite SQL that the T-SQL rewrite would refuse; `finish` puts them in place in the
    rendered statement."""

    templates: list[str] = field(default_factory=list)  # conversion SQL, VALUE where the value goes

    def at(self, template: str, value_sql: str) -> exp.Expression:
        """The conversion of a value the SQL names `value_sql` (a column of a derived table)."""
        self.templates.append(template.replace(VALUE, value_sql))
        return exp.Placeholder(this=f"opusw_{len(self.templates) - 1}")

    def around(self, node: exp.Expression, template: str) -> exp.Expression:
        """The conversion of the expression `node`, computed once for each row it is written to."""
        if _repeatable(node):  # repeated in place (its SQL is known once rendered): cheaper than a subquery
            self.templates.append(template)
            k = len(self.templates) - 1
            return exp.Coalesce(this=exp.Placeholder(this=f"opusw_open_{k}"),
                                expressions=[node, exp.Placeholder(this=f"opusw_close_{k}")])
        # computed once in a derived table that the conversion reads: a parameter or constant once for
        # the statement, an expression of the row once per row
        alias = f"{_CTE}{len(self.templates)}"
        inner = exp.Subquery(this=exp.select(exp.alias_(node, "w0", quoted=True)),
                             alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        return exp.Subquery(this=exp.select(self.at(template, _sqlite_column(alias, "w0"))).from_(inner))

    def finish(self, sql: str) -> str:
        """The rendered statement with each placeholder replaced by its conversion."""
        sql = _INLINE.sub(lambda m: f"({self.templates[int(m.group(1))].replace(VALUE, f'({m.group(2)})')})", sql)
        return _PLACEHOLDER.sub(lambda m: f"({self.templates[int(m.group(1))]})", sql)


def _repeatable(node: exp.Expression) -> bool:
    """Whether an expression can be written several times with the same meaning and little cost: columns,
    literals, CASE and string functions of them. Not variables (their `?` markers are numbered in order),
    subqueries or random values, nor arithmetic and CAST (the runner computes those by SQL Server's
    rules, arithmetic.py, at more cost than a column)."""
    size = 0
    for sub in node.walk():
        size += 1
        if isinstance(sub, _NOT_REPEATED):
            return False
    return size <= 40


def _whole(select: exp.Select) -> bool:
    """A SELECT whose list SQLite computes for rows it then drops or merges (TOP, ORDER BY, DISTINCT,
    GROUP BY, aggregates): its values are converted after it, from outside, so that only the rows it
    returns are (SQL Server converts the rows it writes)."""
    if any(select.args.get(k) for k in ("group", "having", "distinct", "order", "limit", "offset", "fetch")):
        return True
    return any(p.find(exp.AggFunc, exp.Window) is not None for p in select.expressions)


def plan_writes(tree: exp.Expression, lookup: TableLookup, identity_insert: str | None,
                answers: Answers | None, sources: list[Source | None] | None = None) -> WritePlan | None:
    """Put every value an INSERT or UPDATE writes through its column's conversion (changing `tree`),
    after the checks SQL Server makes before it writes anything: IDENTITY, the number of values, the
    column names. None for other statements and for a table the runner does not know (SQLite names it).
    `sources`, when given, are the types of an INSERT's values, as `_source_types` would find them in the
    whole statement (literal_rows.py plans a statement of many rows from its first row alone)."""
    if isinstance(tree, exp.Insert):
        return _insert(tree, lookup, identity_insert, answers, sources)
    if isinstance(tree, exp.Update):
        return _update(tree, lookup, answers)
    return None


def target_name(table: exp.Expression) -> str | None:
    if not isinstance(table, exp.Table):
        return None
    if isinstance(table.this, exp.Identifier) and table.this.args.get("temporary"):
        return "#" + table.name
    return table.name


def _insert(insert: exp.Insert, lookup: TableLookup, identity_insert: str | None,
            answers: Answers | None, sources: list[Source | None] | None) -> WritePlan | None:
    schema = insert.this
    table_node = schema.this if isinstance(schema, exp.Schema) else schema
    name = target_name(table_node)
    table = lookup(name) if name else None
    query = insert.expression
    if table is None or query is None:  # not a table the runner knows, or DEFAULT VALUES
        return None
    identity = next((c for c in table.columns if c.identity), None)
    switched_on = identity_insert is not None and identity_insert.lower() == table.name.lower()
    width = _width(query)
    columns: list[Column] = []
    if isinstance(schema, exp.Schema) and schema.expressions:
        for identifier in schema.expressions:
            found = table.column(identifier.name)
            if found is None:
                raise TsqlError(207, f"Invalid column name '{identifier.name}'.")
            if found in columns:
                raise sql_server_error(264, column=identifier.name)
            columns.append(found)
        explicit = any(c.identity for c in columns)
        if explicit and not switched_on:
            raise sql_server_error(544, table=table.name)
        if identity is not None and switched_on and not explicit:
            raise sql_server_error(545, table=table.name)
        if width is not None and width != len(columns):
            raise _count_error(query, width > len(columns))
    else:
        # Without a column list the values fill the columns in order, the IDENTITY column left out;
        # a value for it too needs a column list and IDENTITY_INSERT ON
        columns = [c for c in table.columns if not c.identity]
        if identity is not None and width == len(table.columns):
            raise sql_server_error(8101, table=table.name)
        if width is not None and width != len(columns):
            raise sql_server_error(213)
        if identity is not None and switched_on:
            raise sql_server_error(545, table=table.name)
        insert.set("this", exp.Schema(this=table_node, expressions=[exp.to_identifier(c.name) for c in columns]))
    if any(v.name.upper() == "DEFAULT" for v in query.find_all(exp.Var)):
        return None  # DEFAULT in VALUES: SQLite has none (a syntax error there)
    plan = WritePlan()
    if sources is None:
        sources = _source_types(query, lookup, answers, [c.name for c in columns], plan)
    rules = [conversion(VALUE, column, table.name, sources[i] if i < len(sources) else None)
             for i, column in enumerate(columns)]
    if not any(rules):
        return plan if plan.templates else None  # (the checks _source_types put around values of unknown type)
    if isinstance(query, exp.Select) and width is not None and not _whole(query):
        for projection, rule in zip(query.expressions, rules, strict=True):  # each value converted where it is
            if rule is not None:
                node = projection.this if isinstance(projection, exp.Alias) else projection
                node.replace(plan.around(node.copy(), rule))
        return plan
    # INSERT INTO t (cols) SELECT <conversions> FROM (WITH ..., w(w0, ...) AS (<query>) SELECT * FROM w) AS w:
    # the CTE names the values by position (VALUES, UNION, *, GROUP BY); inside a subquery, so that the
    # statement still starts with INSERT (Python's sqlite3 counts the rows of a statement only then)
    outputs = [plan.at(rule, _sqlite_column(_CTE, f"w{i}")) if rule else exp.column(f"w{i}", _CTE, quoted=True)
               for i, rule in enumerate(rules)]
    cte = exp.CTE(this=query, alias=exp.TableAlias(this=exp.to_identifier(_CTE),
                                                   columns=[exp.to_identifier(f"w{i}") for i in range(len(rules))]))
    key = "with_" if "with_" in exp.Insert.arg_types else "with"
    existing = insert.args.get(key)
    insert.set(key, None)
    rows = exp.select(exp.Star()).from_(exp.to_table(_CTE, quoted=True))
    rows.set(key, exp.With(expressions=[*(existing.expressions if existing else []), cte]))
    source = exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier(_CTE, quoted=True)))
    insert.set("expression", exp.select(*outputs).from_(source))
    return plan


def _update(update: exp.Update, lookup: TableLookup, answers: Answers | None) -> WritePlan | None:
    target = update.this
    if not isinstance(target, exp.Table):
        return None
    # UPDATE a SET ... FROM T AS a JOIN ...: the table written is the one the FROM calls a
    key = "from_" if "from_" in update.arg_types else "from"
    source = update.args.get(key)
    named: list[exp.Table] = []
    if source is not None and isinstance(source.this, exp.Table):
        named = [source.this, *(j.this for j in source.this.args.get("joins") or [] if isinstance(j.this, exp.Table))]
    written = next((t for t in named if t.alias_or_name.lower() == target.name.lower()), target)
    name = target_name(written)
    table = lookup(name) if name else None
    if table is None:
        return None
    scope = _scope(update, lookup)
    plan = WritePlan()
    assigned: list[Column] = []
    for assignment in update.expressions:
        if not (isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column)):
            continue
        column = table.column(assignment.this.name)
        if column is None:
            continue  # SQLite names it (an invalid column)
        if column in assigned:
            raise sql_server_error(264, column=assignment.this.name)
        assigned.append(column)
        if column.identity:
            raise sql_server_error(8102, column=column.name)
        value = assignment.expression
        if isinstance(value, exp.Var) and value.name.upper() == "DEFAULT":
            continue
        rule = conversion(VALUE, column, table.name, static_type(value, scope, answers))
        if rule is not None:
            assignment.set("expression", plan.around(value.copy(), rule))
    return plan if plan.templates else None


def insert_sql(table: Table, target_sql: str, query_sql: str, sources: list[Source | None]) -> str:
    """`INSERT INTO target (every column of table) query`, each value converted to its column's type:
    how SELECT ... INTO fills its new table (SQLite SQL in, SQLite SQL out)."""
    names = ", ".join(_ident(c.name) for c in table.columns)
    refs = [_sqlite_column(_CTE, f"w{i}") for i in range(len(table.columns))]
    rules = [conversion(ref, column, table.name, sources[i] if i < len(sources) else None)
             for i, (ref, column) in enumerate(zip(refs, table.columns, strict=True))]
    if not any(rules):
        return f"INSERT INTO {target_sql} ({names}) {query_sql}"
    values = ", ".join(f"({rule})" if rule else ref for rule, ref in zip(rules, refs, strict=True))
    columns = ", ".join(f"`w{i}`" for i in range(len(table.columns)))
    return (f"INSERT INTO {target_sql} ({names}) SELECT {values} FROM "
            f"(WITH `{_CTE}`({columns}) AS ({query_sql}) SELECT * FROM `{_CTE}`) AS `{_CTE}`")


def _width(query: exp.Expression) -> int | None:
    """How many values each row of an INSERT's source has, when it can be told without running it."""
    if isinstance(query, exp.Values):
        first = query.expressions[0] if query.expressions else None
        return len(first.expressions) if isinstance(first, exp.Tuple) else None
    while isinstance(query, exp.SetOperation):
        query = query.this
    if isinstance(query, exp.Subquery):
        return _width(query.this)
    if isinstance(query, exp.Select):
        if any(is_star(p) for p in query.expressions):
            return None
        return len(query.expressions)
    return None


def _count_error(query: exp.Expression, more: bool) -> TsqlError:
    """Errors 109/110 (VALUES) and 120/121 (SELECT): the source's values do not match the column list."""
    if isinstance(query, exp.Values):
        words = ("fewer", "more") if more else ("more", "fewer")
        return TsqlError(110 if more else 109, f"There are {words[0]} columns in the INSERT statement than values "
                         "specified in the VALUES clause. The number of values in the VALUES clause must match the "
                         "number of columns specified in the INSERT statement.")
    return TsqlError(121 if more else 120, f"The select list for the INSERT statement contains "
                     f"{'more' if more else 'fewer'} items than the insert list. The number of SELECT values must "
                     "match the number of INSERT columns.")


# -- what type a written expression has -------------------------------------------------------------------


def _scope(tree: exp.Expression, lookup: TableLookup) -> dict[str, Table]:
    """The tables a statement reads, by lower alias and lower name."""
    found: dict[str, Table] = {}
    for node in tree.find_all(exp.Table):
        name = target_name(node)
        table = lookup(name) if name else None
        if table is not None:
            found.setdefault(node.alias_or_name.lower(), table)
            found.setdefault(node.name.lower(), table)
    return found


def _source_types(query: exp.Expression, lookup: TableLookup, answers: Answers | None, names: list[str],
                  plan: WritePlan) -> list[Source | None]:
    """The type of each value an INSERT's source gives. A table value constructor (VALUES with several rows)
    and a set operation (UNION, EXCEPT, INTERSECT) have, for each column, the type of highest precedence
    among their rows and queries ("Table Value Constructor", "Set Operators", "Data type precedence"): each
    row's value is converted to it first, and that type is then converted to the column's. Where the first
    conversion can change a value or fail, the value is put through it here (`to_common`, a CAST in the
    tree); where the sandbox does not model it, the statement is refused. A column whose type the runner
    cannot tell is checked by value (None), as the value of a single row of unknown type is."""
    parts = _source_rows(query)
    if not parts:
        return []
    rows = [(row, scope) for part, values in parts for scope in [_scope(part, lookup)] for row in values]
    width = max(len(row) for row, _scope_ in rows)
    found: list[Source | None] = []
    for i in range(width):
        cells = [(row[i], scope) for row, scope in rows if i < len(row)]  # (rows of another width: SQLite's error)
        name = names[i] if i < len(names) else f"#{i + 1}"
        found.append(_column_source(cells, answers, name, plan))
    return found


def _source_rows(query: exp.Expression) -> list[tuple[exp.Expression, list[list[exp.Expression]]]] | None:
    """The rows of an INSERT's source, by the query that gives them (whose tables its columns come from): the
    value expressions of each row of a VALUES list, or the SELECT list of each query of a set operation; None
    where one of them cannot be read (a *, a query of another form)."""
    if isinstance(query, exp.Values):
        return [(query, [list(row.expressions) if isinstance(row, exp.Tuple) else [row]
                         for row in query.expressions])]
    if isinstance(query, exp.Subquery):
        return _source_rows(query.this)
    if isinstance(query, exp.SetOperation):
        left, right = _source_rows(query.this), _source_rows(query.expression)
        return None if left is None or right is None else [*left, *right]
    if isinstance(query, exp.Select):
        values = [p.this if isinstance(p, exp.Alias) else p for p in query.expressions]
        if any(is_star(v) for v in values):
            return None
        return [(query, [values])]
    return None


def _column_source(cells: list[tuple[exp.Expression, dict[str, Table]]], answers: Answers | None, column: str,
                   plan: WritePlan) -> Source | None:
    """The type of one column of an INSERT's source, from the value each row gives it, typed with the tables
    of the query it comes from (NULL takes any type)."""
    typed_cells = [(c, scope) for c, scope in cells if not isinstance(c, exp.Null)]
    if not typed_cells:
        return None
    present = [c for c, _scope_ in typed_cells]
    types = [static_type(c, scope, answers) for c, scope in typed_cells]
    if all(t == types[0] for t in types[1:]):
        return types[0]  # (one row, or rows of one type)
    typed = [t if _known(t) else _base_type(c, answers) for c, t in zip(present, types, strict=True)]
    known = [t for t in typed if t is not None]
    if len(known) < len(typed):
        _guard_unknown(present, typed, column, plan)
        return None
    common = common_source(known, column)
    for cell, written in zip(present, known, strict=True):
        to = to_common(written, common, column)
        if to is not None:
            cast = exp.Cast(to=exp.DataType.build(to, dialect="tsql"))
            cell.replace(cast)  # (in the tree first: a column's type is found through the query around it)
            cast.set("this", cell)
    return common


def _known(source: Source | None) -> bool:
    return source is not None and source.base in sqltypes.PRECEDENCE


def _base_type(node: exp.Expression, answers: Answers | None) -> Source | None:
    """The base type of a value static_type cannot type fully (a computed value), where the runner can tell it."""
    found = tsql_type(node, answers)
    if found is None or found == arithmetic.BY_VALUE:
        return None
    name = sqltypes.ALIASES.get(found, found)
    return Source(name) if name in sqltypes.PRECEDENCE else None


#: what a row's value may be, whose type the runner cannot tell, among rows of known types of one kind: the
#: storage classes refused when the statement meets them (SQL Server would convert the other rows' values to
#: its type, or it to theirs, by rules the sandbox does not apply here)
_UNKNOWN_AMONG = {"numbers": ("text", "blob"), "text": ("integer", "real", "blob")}


def _guard_unknown(present: list[exp.Expression], typed: list[Source | None], column: str, plan: WritePlan) -> None:
    """Rows whose value for `column` has a type the runner cannot tell, beside rows of known types: the column
    is checked by value, and each such value is refused when it is of another kind than the known rows' (a
    number among text rows, text among numbers), where SQL Server would first convert one to the other's type.
    Known rows of other kinds (dates, text and numbers together) are refused outright."""
    kinds = {t.base for t in typed if t is not None}
    if not kinds:
        return  # no row of a known type: checked by value, as one row of unknown type is
    if kinds <= set(sqltypes.NUMBERS):
        among = "numbers"
    elif kinds <= set(sqltypes.SHORT_STRINGS):
        among = "text"
    else:
        raise NotInSubset(f"INSERT of rows whose values for column {column} are of the types "
                          f"{', '.join(sorted(kinds))} and of a type the sandbox cannot tell (SQL Server converts "
                          "every row's value to the type of highest precedence among them first): CAST the value "
                          "to its type")
    classes = ", ".join(literal(k) for k in _UNKNOWN_AMONG[among])
    refused = _refuse(f"INSERT of a value whose type the sandbox cannot tell among rows of {among} for column "
                      f"{column}, holding {'text' if among == 'numbers' else 'a number'}",
                      "SQL Server converts every row's value to the type of highest precedence among them first; "
                      "CAST the value to its type")
    template = f"CASE WHEN typeof({VALUE}) IN ({classes}) THEN {refused} ELSE {VALUE} END"
    for cell, written in zip(present, typed, strict=True):
        if written is None:
            cell.replace(plan.around(cell.copy(), template))


def common_source(types: list[Source], column: str) -> Source:
    """The type of highest precedence among the types of a column's rows ("Data type precedence"), with the
    length, precision or scale that holds every row's value: the longest string, a decimal(p,s) with the
    most digits before and after the point of any row (an integer type counts as its digits, int as
    decimal(10,0), money as decimal(19,4)), the most fractional seconds. Its full type is None where a
    row's is not known; a decimal of more than 38 digits (SQL Server then cuts its scale) is refused."""
    base = functools.reduce(arithmetic.higher, (t.base for t in types))
    full: str | None = base
    if base == "decimal":
        digits = [_digits(t) for t in types if t.base in (*sqltypes.WHOLE_NUMBERS, "decimal", *sqltypes.MONEY)]
        if any(d is None for d in digits):
            full = None
        else:
            scale = max(d[1] for d in digits if d is not None)
            precision = scale + max(d[0] - d[1] for d in digits if d is not None)
            if precision > sqltypes.MAX_PRECISION:
                raise NotInSubset(f"INSERT of rows whose values for column {column} are decimals needing "
                                  f"{precision} digits together (SQL Server cuts the scale of their common type "
                                  "to fit 38 digits): CAST the values to one type")
            full = f"decimal({precision},{scale})"
    elif base in sqltypes.LENGTH_LIMITS:  # char, varchar, nchar, nvarchar, binary, varbinary
        group = sqltypes.STRINGS if base in sqltypes.STRINGS else ("binary", "varbinary")
        lengths = [sqltypes.read_type(t.full).length if t.full else None for t in types if t.base in group]
        if any(n is None for n in lengths):
            full = None
        elif sqltypes.MAX in lengths:
            full = f"{base}(max)"
        else:
            longest = max(n for n in lengths if n is not None)
            full = f"{base}({longest})" if longest <= sqltypes.LENGTH_LIMITS[base] else None
    elif base in sqltypes.TIME_TYPES:
        scales = [sqltypes.read_type(t.full).scale if t.full else -1 for t in types if t.base == base]
        if -1 in scales:
            full = None
        else:
            most = max(sqltypes.MAX_FRACTIONAL_SECONDS if n is None else n for n in scales)
            full = base if most == sqltypes.MAX_FRACTIONAL_SECONDS else f"{base}({most})"
    return Source(base, full, column=all(t.column for t in types))


def _digits(source: Source) -> tuple[int, int] | None:
    """(precision, scale) of a number of an integer, money or decimal type, as a decimal holds it."""
    if source.base in sqltypes.INTEGER_DIGITS:
        return sqltypes.INTEGER_DIGITS[source.base], 0
    if source.base in sqltypes.MONEY:
        return sqltypes.MONEY_PRECISION[source.base], sqltypes.MONEY_SCALE
    if source.full is None:
        return None
    declared = sqltypes.read_type(source.full)
    return declared.precision or sqltypes.DEFAULT_PRECISION, declared.scale or 0


#: the types text is converted to by a CAST the sandbox models (no precision or scale to choose)
_TEXT_CONVERTED_TO = (*sqltypes.INTEGERS, "bit", *sqltypes.APPROXIMATE, *DATE_TIME_TYPES, "uniqueidentifier")


def to_common(written: Source, common: Source, column: str) -> str | None:
    """The type a row's value is CAST to before the column's conversion takes it, where converting it to the
    common type changes it or can fail; None where it stays as it is. Text to a number, a date or a
    uniqueidentifier (error 245, 241, 8169 for text that is none); a date to another date type (a time of
    midnight, 1/300 s); a string to char(n)/nchar(n) (padded to n); a number to float. Integers to a wider
    integer or a decimal, decimals to a decimal that holds them, strings to varchar/nvarchar are unchanged.
    Refused where the sandbox does not model the conversion: text to decimal (SQL Server's choice of
    precision and scale is not documented) or to money, a bigint to money (or an int to smallmoney: out of
    range), a number to a date, binary of another length."""
    kind, to = written.base, common.base
    if written.full is not None and written.full == common.full:
        return None
    if kind == to and to not in ("char", "nchar", "binary"):
        return None
    target: str | None = None
    if kind in sqltypes.STRINGS and to in sqltypes.STRINGS:
        if to not in ("char", "nchar"):
            return None
        target = common.full
    elif kind in sqltypes.NUMBERS and to in sqltypes.NUMBERS:
        if to in sqltypes.APPROXIMATE:
            target = common.full
        elif to in sqltypes.MONEY:
            exact = ("bit", "tinyint", "smallint", *(("int", "smallmoney") if to == "money" else ()))
            if kind in exact:
                return None
        else:
            return None
    elif kind in sqltypes.SHORT_STRINGS and to in _TEXT_CONVERTED_TO:
        target = common.full
    elif kind in DATE_TIME_TYPES and to in DATE_TIME_TYPES:
        target = common.full
    if target is None:
        raise NotInSubset(f"INSERT of rows whose values for column {column} are of the types "
                          f"{written.full or kind} and {common.full or to} (SQL Server converts every row's value "
                          "to the type of highest precedence among them first, a conversion the sandbox does not "
                          "model here): CAST the values to one type")
    return target


def static_type(node: exp.Expression, scope: dict[str, Table], answers: Answers | None) -> Source | None:
    """The T-SQL type of an expression when the runner can tell it without running it: a literal, a
    variable (a parameter by its value), a column of a table in `scope`, a CAST, a CASE of those."""
    while isinstance(node, exp.Paren):
        node = node.this
    if literal_type(node) is not None:
        return Source.of(literal_type(node))
    if isinstance(node, exp.Cast | exp.Convert):
        to = node.to if isinstance(node, exp.Cast) else node.this
        return Source.of(to.sql(dialect="tsql").replace(" ", "").lower()) if isinstance(to, exp.DataType) else None
    if is_variable(node):
        if answers is None:
            return None
        declared = answers.variable_type(variable_name(node))
        if declared.lower() != "sql_variant":
            return Source.of(declared.lower())
        try:
            value = answers.variable_value(variable_name(node))
        except TsqlError:  # a marker of a statement translated once for many parameter rows: no value yet
            return Source(PARAMETER)
        return Source.of(type_by_value(value)) or Source(PARAMETER)
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        owners = [scope[node.table.lower()]] if node.table.lower() in scope else list(dict.fromkeys(scope.values()))
        found = [c for t in owners if (c := t.column(node.name)) is not None]
        if found:
            return Source(sqltypes.read_type(found[0].type_text).name, found[0].type_text, column=True)
        base = answers.column_type(node.name) if answers is not None else None
        return Source(base) if base else None
    if isinstance(node, exp.Case):  # the branches' type, when they agree (NULL takes any type)
        branches = [i.args.get("true") for i in node.args.get("ifs") or []] + [node.args.get("default")]
        types = {static_type(b, scope, answers) for b in branches if b is not None and not isinstance(b, exp.Null)}
        return types.pop() if len(types) == 1 else None
    if isinstance(node, exp.Coalesce):
        return static_type(node.this, scope, answers)
    if is_stringy(node, answers):
        return Source("varchar")
    return None


def type_by_value(value: Any) -> str | None:
    """The type a value bound from Python has on SQL Server (pyodbc: str is nvarchar, int is int or bigint,
    Decimal is decimal); None for NULL or an unknown kind."""
    if isinstance(value, bool):
        return "bit"
    if isinstance(value, int):
        return "int" if sqltypes.integer_fits("int", value) else "bigint"
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return sqltypes.decimal_type_of(value).text
    if isinstance(value, float):
        return "float"
    if isinstance(value, datetime.datetime):  # (pyodbc sends a datetime with its microseconds)
        return "datetime2"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, uuid.UUID):
        return "uniqueidentifier"
    if isinstance(value, str):
        return f"nvarchar({max(sqltypes.utf16_length(value), 1)})"
    return None


def literal_type(node: exp.Expression) -> str | None:
    """The type SQL Server gives a literal: 'abc' varchar(3), N'abc' nvarchar(3), 12 int, 1.50 decimal(3,2),
    3000000000 decimal(10,0), 1e5 float; None for anything else."""
    if isinstance(node, exp.Neg):
        node = node.this
    if isinstance(node, exp.National):
        return f"nvarchar({max(sqltypes.utf16_length(node.this), 1)})"
    if not isinstance(node, exp.Literal):
        return None
    if node.is_string:
        return f"varchar({max(len(node.this), 1)})"
    return number_literal_type(str(node.this))


def number_literal_type(text: str) -> str | None:
    """The type SQL Server gives a number literal written `text` (without its sign), as literal_type."""
    if "e" in text.lower():
        return "float"
    if re.fullmatch(r"\d*\.\d+|\d+\.\d*", text):
        whole, fraction = text.split(".")
        return f"decimal({max(len(whole.lstrip('0')) + len(fraction), 1)},{len(fraction)})"
    if not text.isdigit():
        return None
    return "int" if sqltypes.integer_fits("int", int(text)) else f"decimal({len(text.lstrip('0')) or 1},0)"


# -- values assigned to variables ------------------------------------------------------------------------------


def assignment(type_text: str) -> str | None:
    """SQL (VALUE where the value goes) for what a value assigned to a variable of this type becomes beyond
    runtime.coerce (which truncates text and converts numbers): varchar's code page, and the dates, times and
    uniqueidentifiers that a column of the type would store (DECLARE @d DATETIME = '... 10:00:00.999' holds
    10:00:01.000). None when there is nothing more to do."""
    declared = sqltypes.read_type(type_text)
    name = declared.name
    if name in sqltypes.CHARACTER:
        return code_page_checked(VALUE)
    if name in DATE_TIME_TYPES:
        return date_time(VALUE, name, None, declared.scale if name in sqltypes.TIME_TYPES else None)
    if name == "uniqueidentifier":
        return _uniqueidentifier(VALUE)
    return None
