"""T-SQL's date, number and string functions that SQLite has no equivalent of, computed as SQL Server does.

Each function is translated to a call of a Python function registered on the sandbox's SQLite connection
(`register`), given its arguments as the sandbox stores them and, where the answer depends on it, the T-SQL
type of an argument as the runner tells it before running (`expression_types.tsql_type`). What SQL Server
documents is computed; what depends on a session setting (SET DATEFIRST, SET LANGUAGE) or on rules the
docs leave open is refused before anything runs, or, for a value only known while running, when it is met
(`Ambiguous`, a refusal like any other).

- Dates: DATEADD, DATEDIFF (and DATEDIFF_BIG), DATEPART, YEAR, MONTH, DAY, EOMONTH. Values are the
  sandbox's text forms: `yyyy-mm-dd` (date), `yyyy-mm-dd hh:mm:ss.fff` (datetime, to 1/300 s) and
  `yyyy-mm-dd hh:mm:ss.fffffff` (datetime2). A string literal argument is converted first, as SQL Server
  does: to datetime for DATEADD (its result is then datetime), to datetime2 for the others.
- Numbers: CEILING and FLOOR (of their argument's type).
- Strings: DATALENGTH, REPLICATE, SPACE, REVERSE, STUFF; and CHOOSE, which is a CASE.

Pages: https://learn.microsoft.com/en-us/sql/t-sql/functions/ dateadd-transact-sql, datediff-transact-sql,
datepart-transact-sql, eomonth-transact-sql, ceiling-transact-sql, floor-transact-sql,
datalength-transact-sql, replicate-transact-sql, space-transact-sql, reverse-transact-sql,
stuff-transact-sql, logical-functions-choose-transact-sql.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from .. import sqltypes
from . import collation
from .arithmetic import Ambiguous, ServerError, guarded

# -- dates as the sandbox stores them --------------------------------------------------------------------
#: 100-nanosecond units (datetime2's precision) in a day and in each time part
UNITS = {"hour": 36_000_000_000, "minute": 600_000_000, "second": 10_000_000, "millisecond": 10_000,
         "microsecond": 10, "nanosecond": 1}
DAY_UNITS = 24 * UNITS["hour"]
#: the date types the functions compute on (time, smalldatetime and datetimeoffset are refused)
DATE_TYPES = ("date", "datetime", "datetime2")
#: datepart names and abbreviations (sqlglot gives some in its own words) -> SQL Server's name
PARTS = {
    "year": "year", "yy": "year", "yyyy": "year", "quarter": "quarter", "qq": "quarter", "q": "quarter",
    "month": "month", "mm": "month", "m": "month", "dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
    "day": "day", "dd": "day", "d": "day", "week": "week", "wk": "week", "ww": "week", "weekday": "weekday",
    "dw": "weekday", "w": "weekday", "dayofweek": "weekday", "hour": "hour", "hh": "hour",
    "minute": "minute", "mi": "minute", "n": "minute", "second": "second", "ss": "second", "s": "second",
    "millisecond": "millisecond", "ms": "millisecond", "microsecond": "microsecond", "mcs": "microsecond",
    "nanosecond": "nanosecond", "ns": "nanosecond", "iso_week": "iso_week", "isowk": "iso_week",
    "isoww": "iso_week", "week_iso": "iso_week", "weekiso": "iso_week", "tzoffset": "tzoffset", "tz": "tzoffset",
}
_TIME_PARTS = ("hour", "minute", "second", "millisecond", "microsecond", "nanosecond")
_STORED = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?)?")
INT_RANGE = sqltypes.INTEGER_RANGES["int"]
BIGINT_RANGE = sqltypes.INTEGER_RANGES["bigint"]


def part_name(written: str) -> str | None:
    """SQL Server's name of a datepart as written (`mm`, `MONTH`, sqlglot's `DAYOFWEEK`), None if unknown."""
    return PARTS.get(written.lower())


_NOT_STORED = ("a date function of {value!r}, which is not a date, datetime or datetime2 value as the sandbox "
               "stores them")


def stored_type(value: str) -> str:
    """The type of a stored date value, from its form (see `read_stored`)."""
    return read_stored(value)[2]


def read_stored(value: str) -> tuple[dt.date, int, str]:
    """A stored date or date and time: (the date, 100-ns units since midnight, its type). Each date type the
    functions compute on has a form of its own (datetime2 and time columns with fewer than 7 decimals are
    refused, so 3 decimals is datetime)."""
    m = _STORED.fullmatch(value)
    shape = {10: "date", 23: "datetime", 27: "datetime2"}.get(len(value))
    if m is None or shape is None:
        raise Ambiguous(_NOT_STORED.format(value=value))
    date = dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m[4] is None:
        return date, 0, shape
    fraction = int((m[7] or "").ljust(7, "0"))
    return date, int(m[4]) * UNITS["hour"] + int(m[5]) * UNITS["minute"] + int(m[6]) * UNITS["second"] + fraction, shape


def write_stored(date: dt.date, units: int, type_name: str) -> str:
    """The stored text of a date and time of `type_name` (units a whole number of datetime ticks for datetime)."""
    if type_name == "date":
        return date.isoformat()
    hours, rest = divmod(units, UNITS["hour"])
    minutes, rest = divmod(rest, UNITS["minute"])
    seconds, fraction = divmod(rest, UNITS["second"])
    clock = f"{date.isoformat()} {hours:02d}:{minutes:02d}:{seconds:02d}"
    if type_name == "datetime":  # 1/300 s ticks shown as .000, .003, .007 (datetime's text)
        return f"{clock}.{round(fraction / 10_000):03d}"
    return f"{clock}.{fraction:07d}"


def _ordinal_units(date: dt.date, units: int) -> int:
    return date.toordinal() * DAY_UNITS + units


def _add_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise OverflowError
    return dt.date(year, month + 1, min(date.day, calendar.monthrange(year, month + 1)[1]))


def _overflow(function: str, type_name: str) -> ServerError:
    if function == "dateadd":
        return ServerError(517, f"Adding a value to a '{type_name}' column caused an overflow.")
    return ServerError(535, "The datediff function resulted in an overflow. The number of dateparts separating two "
                            "date/time instances is too large. Try to use datediff with a less precise datepart.")


def _not_for_type(part: str, function: str, type_name: str) -> ServerError:
    return ServerError(9810, f"The datepart {part} is not supported by date function {function} for data type "
                             f"{type_name}.")


def dateadd(part: str, number: Any, value: Any) -> str | None:
    """DATEADD(part, number, value): a value of the date argument's type."""
    if number is None or value is None:
        return None
    date, units, type_name = read_stored(str(value))
    if isinstance(number, str) or not isinstance(number, int | float):
        raise Ambiguous("DATEADD with a number that is not a number")
    number = math.trunc(number)  # "DATEADD truncates a number with a decimal fraction"
    if not INT_RANGE[0] <= number <= INT_RANGE[1]:
        raise ServerError(8115, "Arithmetic overflow error converting expression to data type int.")
    low = dt.date(1753, 1, 1) if type_name == "datetime" else dt.date(1, 1, 1)
    if part in ("year", "quarter", "month"):
        months = number * {"year": 12, "quarter": 3, "month": 1}[part]
        try:
            date = _add_months(date, months)
        except (OverflowError, ValueError):
            raise _overflow("dateadd", type_name) from None
    elif part in ("dayofyear", "day", "weekday", "week"):
        days = number * (7 if part == "week" else 1)
        try:
            date = date + dt.timedelta(days=days)
        except OverflowError:
            raise _overflow("dateadd", type_name) from None
    elif part in _TIME_PARTS:
        if type_name == "date":
            raise _not_for_type(part, "dateadd", type_name)
        if type_name == "datetime" and part in ("millisecond", "microsecond", "nanosecond"):
            raise Ambiguous(f"DATEADD({part}, ...) of a datetime value (SQL Server rounds the sum to 1/300 s by "
                            "rules the sandbox does not model: use datetime2)")
        if part == "nanosecond":
            raise Ambiguous("DATEADD(nanosecond, ...) (SQL Server rounds nanoseconds to datetime2's 100 ns)")
        total = _ordinal_units(date, units) + number * UNITS[part]
        day, units = divmod(total, DAY_UNITS)
        if not 1 <= day <= dt.date.max.toordinal():
            raise _overflow("dateadd", type_name)
        date = dt.date.fromordinal(day)
    else:
        raise Ambiguous(f"DATEADD({part}, ...)")
    if date < low:
        raise _overflow("dateadd", type_name)
    return write_stored(date, units, type_name)


def _week_index(date: dt.date) -> int:
    """Weeks counted from Sunday to Saturday (DATEDIFF's weeks, whatever SET DATEFIRST says)."""
    return date.toordinal() // 7  # toordinal() 7 is 0001-01-07, a Sunday


def datediff(part: str, start: Any, end: Any, big: int) -> int | None:
    """DATEDIFF(part, start, end): the number of `part` boundaries crossed from start to end (a date is its
    midnight)."""
    if start is None or end is None:
        return None
    first, first_units, first_type = read_stored(str(start))
    second, second_units, second_type = read_stored(str(end))
    if part in ("millisecond", "microsecond", "nanosecond") and "datetime" in (first_type, second_type):
        raise Ambiguous(f"DATEDIFF({part}, ...) of a datetime value (its ticks are 1/300 s, shown rounded)")
    if part == "year":
        result = second.year - first.year
    elif part == "quarter":
        result = (second.year * 4 + (second.month - 1) // 3) - (first.year * 4 + (first.month - 1) // 3)
    elif part == "month":
        result = (second.year * 12 + second.month) - (first.year * 12 + first.month)
    elif part in ("dayofyear", "day"):
        result = second.toordinal() - first.toordinal()
    elif part == "week":
        result = _week_index(second) - _week_index(first)
    elif part in _TIME_PARTS:
        size = UNITS[part]
        if part == "nanosecond":
            result = (_ordinal_units(second, second_units) - _ordinal_units(first, first_units)) * 100
        else:
            result = (_ordinal_units(second, second_units) // size) - (_ordinal_units(first, first_units) // size)
    else:
        raise Ambiguous(f"DATEDIFF({part}, ...)")
    low, high = BIGINT_RANGE if big else INT_RANGE
    if not low <= result <= high:
        raise _overflow("datediff", "")
    return result


def datepart(part: str, value: Any) -> int | None:
    """DATEPART(part, value) (and YEAR, MONTH, DAY): an int."""
    if value is None:
        return None
    date, units, type_name = read_stored(str(value))
    if part in _TIME_PARTS and type_name == "date":
        raise _not_for_type(part, "datepart", type_name)
    if part == "year":
        return date.year
    if part == "quarter":
        return (date.month - 1) // 3 + 1
    if part == "month":
        return date.month
    if part == "dayofyear":
        return date.timetuple().tm_yday
    if part == "day":
        return date.day
    if part == "iso_week":
        return date.isocalendar()[1]
    if part in _TIME_PARTS:
        if part in ("millisecond", "microsecond", "nanosecond") and type_name != "datetime2":
            raise Ambiguous(f"DATEPART({part}, ...) of a {type_name} value")
        clock = {"hour": units // UNITS["hour"], "minute": units // UNITS["minute"] % 60,
                 "second": units // UNITS["second"] % 60}
        if part in clock:
            return clock[part]
        fraction = units % UNITS["second"]
        return {"millisecond": fraction // 10_000, "microsecond": fraction // 10, "nanosecond": fraction * 100}[part]
    raise Ambiguous(f"DATEPART({part}, ...)")


def eomonth(value: Any, months: Any) -> str | None:
    """EOMONTH(value[, months]): the last day of the month, a date."""
    if value is None or months is None:
        return None
    if not isinstance(months, int):
        raise Ambiguous("EOMONTH with a month offset that is not an integer")
    date, _, _ = read_stored(str(value))
    try:
        moved = _add_months(date.replace(day=1), months)
    except (OverflowError, ValueError):
        raise _overflow("dateadd", "date") from None
    return moved.replace(day=calendar.monthrange(moved.year, moved.month)[1]).isoformat()


#: the last digit of a datetime's milliseconds, rounded to its 1/300 s ticks (.000, .003, .007; 9 is the next 10)
_TICK_DIGITS = {0: 0, 1: 0, 2: 3, 3: 3, 4: 3, 5: 7, 6: 7, 7: 7, 8: 7, 9: 10}


def datetime_ticks(clock: Any) -> str | None:
    """A clock reading with milliseconds (`yyyy-mm-dd hh:mm:ss.fff`) as SQL Server's datetime keeps it: rounded
    to 1/300 s (GETDATE(), CURRENT_TIMESTAMP, GETUTCDATE())."""
    if clock is None:
        return None
    date, units, _ = read_stored(str(clock))
    ms = units % UNITS["second"] // UNITS["millisecond"]
    rounded = ms // 10 * 10 + _TICK_DIGITS[ms % 10]
    total = _ordinal_units(date, units - units % UNITS["second"]) + rounded * UNITS["millisecond"]
    day, units = divmod(total, DAY_UNITS)
    return write_stored(dt.date.fromordinal(day), units, "datetime")


# -- numbers and strings ------------------------------------------------------------------------------
def rounded(direction: str, value: Any, type_name: str) -> Any:
    """CEILING/FLOOR of a value of `type_name`: a whole number of the argument's type (float stays float)."""
    if value is None:
        return None
    if isinstance(value, str) or isinstance(value, bytes):
        raise Ambiguous(f"{direction.upper()} of a string (SQL Server converts it to float first)")
    whole = math.ceil(value) if direction == "ceiling" else math.floor(value)
    return float(whole) if type_name in sqltypes.APPROXIMATE or (not type_name and isinstance(value, float)) \
        else whole


def _bytes_of(value: Any, type_text: str) -> int:
    parsed = sqltypes.read_type(type_text)
    name = parsed.name
    fixed_length = parsed.length if parsed.length and parsed.length > 0 else None
    if name in ("char", "nchar", "binary") and fixed_length is not None:  # padded to its length
        return fixed_length * sqltypes.BYTES_PER_CHARACTER.get(name, 1)
    if name in ("varchar", "text") and not isinstance(value, bytes):
        return len(str(value))  # code page 1252: a byte a character (other text is refused when written)
    if name in ("nvarchar", "ntext"):
        return 2 * sqltypes.utf16_length(str(value))
    if name in ("varbinary", "image") and isinstance(value, bytes):
        return len(value)
    if name == "decimal":
        return sqltypes.decimal_storage_bytes(parsed.precision or sqltypes.DEFAULT_PRECISION)
    fixed = sqltypes.STORAGE_BYTES.get(name)
    if isinstance(fixed, int):
        return fixed
    raise Ambiguous(f"DATALENGTH of a {type_text} value")


def datalength(value: Any, type_text: str) -> int | None:
    """DATALENGTH(value) of a value of `type_text` (its full type, as `varchar(20)`): bytes, trailing
    blanks included; NULL for NULL."""
    if value is None:
        return None
    if not type_text:
        raise Ambiguous("DATALENGTH of a value whose type the runner cannot tell")
    return _bytes_of(value, type_text)


def replicate(text: Any, times: Any, type_text: str) -> str | None:
    """REPLICATE(text, times): NULL for a negative count; cut at 8,000 bytes unless the type is (max)."""
    if text is None or times is None:
        return None
    if not isinstance(times, int):
        raise Ambiguous("REPLICATE with a count that is not an integer")
    if times < 0:
        return None
    result = str(text) * times
    if not type_text:
        if len(result) > sqltypes.LENGTH_LIMITS["nvarchar"]:
            raise Ambiguous("REPLICATE of more than 4,000 characters of a type the runner cannot tell (SQL Server "
                            "cuts a value that is not (max) at 8,000 bytes)")
        return result
    parsed = sqltypes.read_type(type_text)
    if parsed.length != sqltypes.MAX:
        limit = sqltypes.LENGTH_LIMITS[parsed.name] if parsed.name in sqltypes.LENGTH_LIMITS else 8000
        if parsed.name in sqltypes.UNICODE and sqltypes.utf16_length(result) != len(result):
            raise Ambiguous("REPLICATE of text with characters beyond U+FFFF")
        result = result[:limit]
    return result


def space(count: Any) -> str | None:
    if count is None:
        return None
    if not isinstance(count, int):
        raise Ambiguous("SPACE with a count that is not an integer")
    if count > sqltypes.LENGTH_LIMITS["varchar"]:
        raise Ambiguous("SPACE of more than 8,000 blanks")
    return " " * count if count >= 0 else None


def reverse(text: Any) -> str | None:
    if text is None:
        return None
    value = str(text)
    if sqltypes.utf16_length(value) != len(value):
        raise Ambiguous("REVERSE of text with characters beyond U+FFFF (SQL Server reverses UTF-16 code units)")
    return value[::-1]


def stuff(text: Any, start: Any, length: Any, inserted: Any) -> str | None:
    """STUFF(text, start, length, inserted): NULL when start or length is negative, start is 0 or beyond
    the text; a length beyond the text deletes to its end; a NULL `inserted` only deletes."""
    if text is None or start is None or length is None:
        return None
    if not isinstance(start, int) or not isinstance(length, int):
        raise Ambiguous("STUFF with a start or length that is not an integer")
    value = str(text)
    if sqltypes.utf16_length(value) != len(value):
        raise Ambiguous("STUFF of text with characters beyond U+FFFF")
    if start <= 0 or length < 0 or start > len(value):
        return None
    return value[:start - 1] + ("" if inserted is None else str(inserted)) + value[start - 1 + length:]


#: name registered on SQLite -> (number of arguments, the Python function)
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "tsql_dateadd": (3, dateadd), "tsql_datediff": (4, datediff), "tsql_datepart": (2, datepart),
    "tsql_eomonth": (2, eomonth), "tsql_rounded": (3, rounded), "tsql_datalength": (2, datalength),
    "tsql_replicate": (3, replicate), "tsql_space": (1, space), "tsql_reverse": (1, reverse),
    "tsql_stuff": (4, stuff), "tsql_datetime_ticks": (1, datetime_ticks),
    **collation.TEXT_FUNCTIONS,  # LEN, SUBSTRING, LEFT, RIGHT, UNICODE in UTF-16 code units
}


def register(connection: Any, sink: Callable[[ServerError | Ambiguous], None]) -> None:
    """Register the functions on a sqlite3 connection; a failing call hands its error to `sink`."""
    for name, (arity, compute) in FUNCTIONS.items():
        connection.create_function(name, arity, guarded(compute, sink), deterministic=True)


# -- translation -----------------------------------------------------------------------------------------
#: the sqlglot expressions (and T-SQL names sqlglot leaves by name) translated here
HANDLED = (exp.DateAdd, exp.DateDiff, exp.Extract, exp.Year, exp.Month, exp.Day, exp.LastDay, exp.Ceil,
           exp.Floor, exp.Repeat, exp.Space, exp.Reverse, exp.Stuff)
HANDLED_NAMES = ("DATALENGTH", "CHOOSE")
#: the T-SQL name of each, for refusals
TSQL_NAMES: dict[type[exp.Expression], str] = {
    exp.DateAdd: "DATEADD", exp.DateDiff: "DATEDIFF", exp.Extract: "DATEPART", exp.Year: "YEAR",
    exp.Month: "MONTH", exp.Day: "DAY", exp.LastDay: "EOMONTH", exp.Ceil: "CEILING", exp.Floor: "FLOOR",
    exp.Repeat: "REPLICATE", exp.Space: "SPACE", exp.Reverse: "REVERSE", exp.Stuff: "STUFF",
}


def handles(node: exp.Expression) -> bool:
    return isinstance(node, HANDLED) or (isinstance(node, exp.Anonymous) and str(node.this).upper() in HANDLED_NAMES)


def tsql_name(node: exp.Expression) -> str:
    return TSQL_NAMES.get(type(node)) or str(node.this).upper()


def _unwrapped(node: exp.Expression) -> exp.Expression:
    """The argument as written: sqlglot wraps date arguments in conversions of its own (TsOrDsToDate,
    TimeStrToTime) that are not T-SQL's."""
    while isinstance(node, exp.TsOrDsToDate | exp.TimeStrToTime):
        node = node.this
    return node


def _eomonth_parts(node: exp.LastDay) -> tuple[exp.Expression, exp.Expression | None]:
    """EOMONTH(d[, n]) as sqlglot reads it: LastDay(d), or LastDay(DATEADD(MONTH, n, d))."""
    inner = node.this
    if isinstance(inner, exp.DateAdd) and isinstance(inner.this, exp.TsOrDsToDate):
        return _unwrapped(inner.this), inner.expression
    return _unwrapped(inner), None


def result_type(node: exp.Expression, type_of: Callable[[exp.Expression], str | None]) -> str | None:
    """The base type SQL Server gives one of these functions (`type_of` types an argument), None when the
    runner cannot tell."""
    if isinstance(node, exp.DateAdd):
        found = type_of(_unwrapped(node.this))
        return "datetime" if found in sqltypes.STRINGS else found if found in DATE_TYPES else None
    if isinstance(node, exp.DateDiff):
        return "bigint" if node.args.get("big_int") else "int"
    if isinstance(node, exp.Extract | exp.Year | exp.Month | exp.Day):
        return "int"
    if isinstance(node, exp.LastDay):
        return "date"
    if isinstance(node, exp.Ceil | exp.Floor | exp.Repeat | exp.Reverse | exp.Stuff):
        return type_of(node.this)
    if isinstance(node, exp.Space):
        return "varchar"
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "DATALENGTH":
        return "int"
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "CHOOSE":
        choices = {type_of(a) for a in node.expressions[1:]}
        return choices.pop() if len(choices) == 1 else None
    return None


def translate(node: exp.Expression, visit: Callable[[exp.Expression], exp.Expression], answers: Any,
              type_of: Callable[[exp.Expression], str | None],
              full_type_of: Callable[[exp.Expression], str | None]) -> exp.Expression:
    """The SQLite call computing one of these functions (`handles(node)`), its arguments translated by
    `visit`. `answers` is None where the runner cannot tell types (a view, the static check): date values
    are then taken by their stored form."""
    from .translate import NotInSubset

    name = tsql_name(node)
    if answers is not None and not answers.functions:
        raise NotInSubset(f"function {name}() on a target without the sandbox's SQLite functions (ODBC)")

    def call(function: str, *args: exp.Expression) -> exp.Expression:
        return exp.Anonymous(this=function, expressions=list(args))

    def done(argument: exp.Expression) -> exp.Expression:
        return argument.transform(visit, copy=False)

    def datepart_of(unit: exp.Expression | None, *, allowed: tuple[str, ...]) -> exp.Expression:
        written = unit.name if isinstance(unit, exp.Var | exp.Column | exp.Identifier) else str(unit)
        part = part_name(written)
        if part in ("weekday", "week") and part not in allowed:
            raise NotInSubset(f"{name}({part}, ...) (the answer depends on SET DATEFIRST)")
        if part is None or part not in allowed:
            raise NotInSubset(f"{name} with the datepart {written}")
        return exp.Literal.string(part)

    def date_value(argument: exp.Expression, strings_as: str) -> exp.Expression:
        argument = _unwrapped(argument)
        found = type_of(argument) if answers is not None else None
        if found in sqltypes.STRINGS or (isinstance(argument, exp.Literal) and argument.is_string):
            return done(exp.Cast(this=argument, to=exp.DataType.build(strings_as.upper(), dialect="tsql")))
        if found is not None and found not in DATE_TYPES:
            raise NotInSubset(f"{name} of a {found} value")
        if found is None and answers is not None and isinstance(node, exp.DateAdd):
            raise NotInSubset(f"{name} of a value whose type the runner cannot tell (SQL Server's result has "
                              "the value's type; CAST it to date, datetime or datetime2)")
        return done(argument)

    every = ("year", "quarter", "month", "dayofyear", "day", "hour", "minute", "second", "millisecond",
             "microsecond", "nanosecond")
    if isinstance(node, exp.DateAdd):
        part = datepart_of(node.args.get("unit"), allowed=(*every, "week", "weekday"))
        return call("tsql_dateadd", part, done(node.expression), date_value(node.this, "datetime"))
    if isinstance(node, exp.DateDiff):
        part = datepart_of(node.args.get("unit"), allowed=(*every, "week"))
        return call("tsql_datediff", part, date_value(node.expression, "datetime2"),
                    date_value(node.this, "datetime2"), exp.Literal.number(1 if node.args.get("big_int") else 0))
    if isinstance(node, exp.Extract):
        part = datepart_of(node.this, allowed=(*every, "iso_week"))
        return call("tsql_datepart", part, date_value(node.expression, "datetime2"))
    if isinstance(node, exp.Year | exp.Month | exp.Day):
        part = exp.Literal.string(name.lower())
        return call("tsql_datepart", part, date_value(node.this, "datetime2"))
    if isinstance(node, exp.LastDay):
        value, months = _eomonth_parts(node)
        return call("tsql_eomonth", date_value(value, "date"), done(months) if months else exp.Literal.number(0))
    if isinstance(node, exp.Ceil | exp.Floor):
        found = type_of(node.this) if answers is not None else None
        if found in sqltypes.STRINGS:
            raise NotInSubset(f"{name} of a string (SQL Server converts it to float)")
        return call("tsql_rounded", exp.Literal.string(name.lower()), done(node.this), exp.Literal.string(found or ""))
    if isinstance(node, exp.Repeat):
        full = full_type_of(node.this) if answers is not None else None
        return call("tsql_replicate", done(node.this), done(node.args["times"]), exp.Literal.string(full or ""))
    if isinstance(node, exp.Space):
        return call("tsql_space", done(node.this))
    if isinstance(node, exp.Reverse):
        return call("tsql_reverse", done(node.this))
    if isinstance(node, exp.Stuff):
        inserted = node.expression
        return call("tsql_stuff", done(node.this), done(node.args["start"]), done(node.args["length"]),
                    done(inserted) if inserted is not None else exp.Null())
    assert isinstance(node, exp.Anonymous)
    args = list(node.expressions)
    if name == "DATALENGTH":
        if len(args) != 1:
            raise NotInSubset("DATALENGTH with other than one argument")
        full = full_type_of(args[0]) if answers is not None else None
        if full is None and answers is not None:  # a type of one size (int, datetime, ...) needs no length
            base = type_of(args[0])
            fixed = base not in ("text", "ntext", "image") and isinstance(sqltypes.STORAGE_BYTES.get(base or ""), int)
            full = base if fixed else None
        return call("tsql_datalength", done(args[0]), exp.Literal.string(full or ""))
    # CHOOSE(i, a, b, ...) is CASE i WHEN 1 THEN a WHEN 2 THEN b ... END (NULL for another i)
    if len(args) < 2:
        raise NotInSubset("CHOOSE with fewer than two arguments")
    case = exp.Case(this=args[0], ifs=[exp.If(this=exp.Literal.number(k), true=a) for k, a in enumerate(args[1:], 1)])
    return done(case)
