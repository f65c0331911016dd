"""SQL Server's arithmetic and numeric conversions, with its errors: the one home of those rules.

SQLite computes in 64-bit integers and doubles and never fails: `2147483647 + 1` is 2147483648, `1/0`
is NULL, `CAST('abc' AS INTEGER)` is 0. SQL Server gives every operand a type (data type
precedence), computes in the result's type and raises an error where a value does not fit:
8115, 8134, 245, 8114, 220, 232, 248. `operate` and `convert` compute one value as SQL Server does,
raise its error (`ServerError`), or raise `Ambiguous` when the answer depends on something the
sandbox cannot see (a type it cannot tell, a corner SQL Server does not document): the runner then
refuses the statement rather than guess.

The runner reaches these rules two ways. On a sqlite3 connection they are SQLite functions
(`register`: `tsql_arith`, `tsql_convert`), so each operand is evaluated once. Where Python functions
cannot be registered (an SQLite file behind an ODBC driver) or must not be (SQL that SQLite stores:
views, CHECK constraints), `plain_operation` and `plain_convert` write the same checks in plain
SQLite for operands whose types are known, and refuse the rest. Plain SQLite can fail with a text of
our choosing in one way: json_extract() rejects a path that does not start with `$` and quotes it in
its error; `raise_sql` makes the path the error's text, and `raised_text` reads it back.

Written by hand: no library models SQL Server's numeric conversions. Error texts are those of
SQL Server's message table (docs/embedded-runner.md cites the pages).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from functools import lru_cache
from typing import Any

from sqlglot import exp

from .. import sqltypes
from . import dialect

# -- types (SQL Server's vocabulary: pytest_opus/sqltypes.py) ----------------------------------------
PRECEDENCE = sqltypes.PRECEDENCE
_RANK = {name: i for i, name in enumerate(PRECEDENCE)}
INTEGERS = sqltypes.INTEGERS
RANGES = sqltypes.INTEGER_RANGES
EXACT = sqltypes.EXACT
APPROXIMATE = sqltypes.APPROXIMATE
STRINGS = sqltypes.STRINGS
NUMBERS = sqltypes.NUMBERS
#: a parameter bound from Python: its type is the value's, as pyodbc would send it
BY_VALUE = "sql_variant"
OPERATORS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}


def higher(left: str, right: str) -> str:
    """The operand type SQL Server converts the other one to (data type precedence)."""
    return left if _RANK.get(left, len(_RANK)) <= _RANK.get(right, len(_RANK)) else right


def _message_type(name: str) -> str:
    return "numeric" if name == "decimal" else name


# -- errors ------------------------------------------------------------------------------------
class ServerError(Exception):
    """An error SQL Server raises for this value: its number and message text."""

    def __init__(self, number: int, message: str) -> None:
        super().__init__(message)
        self.number = number
        self.message = message

    @property
    def text(self) -> str:
        return f"Msg {self.number}: {self.message}"

    def key(self) -> tuple[int, str]:
        return self.number, self.message


class Ambiguous(Exception):
    """SQL Server's answer depends on what the sandbox cannot see; the statement is refused."""

    def __init__(self, construct: str) -> None:
        super().__init__(construct)
        self.construct = construct

    @property
    def text(self) -> str:
        return f"{REFUSED}{self.construct}"


REFUSED = "Not supported: "
DIVIDE_BY_ZERO = (8134, "Divide by zero error encountered.")


def overflow(source: str, target: str) -> ServerError:
    return ServerError(8115, f"Arithmetic overflow error converting {source} to data type {_message_type(target)}.")


def conversion_failed(source: str, value: str, target: str) -> ServerError:
    return ServerError(245, f"Conversion failed when converting the {source} value '{value}' to data type {target}.")


def error_converting(source: str, target: str) -> ServerError:
    return ServerError(8114, f"Error converting data type {source} to {_message_type(target)}.")


def overflow_for_type(target: str, value: int) -> ServerError:
    return ServerError(220, f"Arithmetic overflow error for data type {target}, value = {value}.")


def overflow_for_float(target: str, value: float) -> ServerError:
    return ServerError(232, f"Arithmetic overflow error for type {target}, value = {value:f}.")


def string_overflowed_int(source: str, value: str) -> ServerError:
    return ServerError(248, f"The conversion of the {source} value '{value}' overflowed an int column.")


INTERNAL_NAMES = sqltypes.INTERNAL_NAMES


def string_overflowed(source: str, value: str, target: str) -> ServerError:
    return ServerError(244, f"The conversion of the {source} value '{value}' overflowed an {INTERNAL_NAMES[target]} "
                            "column. Use a larger integer column.")


# -- values --------------------------------------------------------------------------------------
def _kind_fits(type_name: str, value: Any) -> bool:
    """Whether a value SQLite handed over can be of the declared type (SQLite does not enforce types)."""
    if value is None:
        return True
    if type_name in INTEGERS or type_name == "bit":
        return type(value) is int
    if type_name in EXACT or type_name in APPROXIMATE:
        return type(value) in (int, float)
    if type_name in STRINGS:
        return type(value) is str
    return True


def _candidates(type_name: str | None, value: Any) -> tuple[str, ...]:
    """The types an operand can have. One when the runner knows it; for a value of unknown type,
    every type that could hold it (the answer is given only when they all agree)."""
    if type_name == BY_VALUE:  # a Python value bound as a parameter: pyodbc's choice of SQL type
        if value is None or (type(value) is int and RANGES["int"][0] <= value <= RANGES["int"][1]):
            return ("int",)
        if type(value) is int:
            return ("bigint",) if RANGES["bigint"][0] <= value <= RANGES["bigint"][1] else ("decimal",)
        if type(value) is float:
            return ("float",)
        if type(value) is str:
            return ("nvarchar",)
        raise Ambiguous("arithmetic on a binary parameter")
    if type_name is not None:
        if not _kind_fits(type_name, value):
            raise Ambiguous(f"a {type_name} value that its type does not allow ({value!r}), stored by SQLite "
                            "(which does not enforce declared types)")
        return (type_name,)
    if value is None or type(value) is int:
        fitting = tuple(t for t in INTEGERS if value is None or RANGES[t][0] <= value <= RANGES[t][1])
        return (*fitting, "decimal")
    if type(value) is float:
        return ("float", "decimal")
    if type(value) is str:
        return ("varchar", "nvarchar")
    raise Ambiguous("arithmetic on a binary value")


def _agree(compute: Callable[[str, str], Any], left: tuple[str, ...], right: tuple[str, ...],
           describe: str) -> Any:
    """The one answer every candidate type gives, or Ambiguous."""
    outcomes: dict[Any, Any] = {}
    for lt in left:
        for rt in right:
            try:
                value = compute(lt, rt)
                outcomes.setdefault(("value", value, type(value) is str), ("value", value))
            except ServerError as error:
                outcomes.setdefault(("error", *error.key()), ("error", error))
            if len(outcomes) > 1:
                raise Ambiguous(describe)
    kind, outcome = next(iter(outcomes.values()))
    if kind == "error":
        raise outcome
    return outcome


# -- arithmetic ----------------------------------------------------------------------------------
def operate(op: str, left_type: str | None, left: Any, right_type: str | None, right: Any) -> Any:
    """`left op right` as SQL Server computes it (op one of + - * / %), or its error."""
    lcands, rcands = _candidates(left_type, left), _candidates(right_type, right)
    if len(lcands) == 1 and len(rcands) == 1:
        return _operate_typed(op, lcands[0], left, rcands[0], right)
    return _agree(lambda lt, rt: _operate_typed(op, lt, left, rt, right), lcands, rcands,
                  f"arithmetic ({op}) on a value whose type the sandbox cannot tell, where SQL Server's "
                  "answer depends on that type (CAST the operand to its type)")


def _operate_typed(op: str, lt: str, a: Any, rt: str, b: Any) -> Any:
    result = higher(lt, rt)
    check_operands(op, lt, rt)
    try:
        a2, b2 = _implicit(lt, a, result), _implicit(rt, b, result)
    except ServerError:
        if a is None or b is None:  # whether SQL Server converts before it sees the NULL is not documented
            raise Ambiguous(f"arithmetic ({op}) of NULL and a string that does not convert to {result}") from None
        raise
    if a2 is None or b2 is None:
        return None
    if op in "/%" and b2 == 0:
        raise ServerError(*DIVIDE_BY_ZERO)
    if result in INTEGERS:
        whole = _integer_operation(op, a2, b2)
        low, high = RANGES[result]
        if not low <= whole <= high:
            raise overflow("expression", result)
        return whole
    value: Any
    if op == "/":
        value = a2 / b2
    elif op == "%":
        value = math.fmod(a2, b2) if type(a2) is float or type(b2) is float else _integer_operation("%", a2, b2)
    else:
        value = a2 + b2 if op == "+" else a2 - b2 if op == "-" else a2 * b2
    if type(value) is float and not float_fits(result, value):
        raise overflow("expression", result)
    return value


#: the largest magnitude each approximate type holds; SQLite computes in doubles, where a float result
#: beyond it is infinity and a real one merely large
FLOAT_LIMITS = sqltypes.FLOAT_LIMITS


def float_fits(name: str, value: float) -> bool:
    """Whether a float or real result is in its type's range (SQL Server: error 8115 beyond it)."""
    return abs(value) <= FLOAT_LIMITS[name] if name in FLOAT_LIMITS else not math.isinf(value)


def plain_float_result(value: exp.Expression, result: str) -> exp.Expression:
    """A float or real result (SQL) checked against its type's range as plain SQLite: error 8115 beyond it
    (a product, a sum, a SUM of floats; SQLite gives infinity)."""
    over = raise_sql(overflow("expression", result).text)
    return _sql(f"CASE WHEN abs({{v}}) > {FLOAT_LIMITS[result]!r} THEN {{over}} ELSE {{v}} END", v=value, over=over)


def check_operands(op: str, left: str, right: str) -> None:
    """Refuse operand types whose arithmetic the sandbox does not model (dates, strings, bits)."""
    for name in (left, right):
        if name not in NUMBERS and name not in STRINGS:
            raise Ambiguous(f"arithmetic ({op}) on {name} values")
    if left in STRINGS and right in STRINGS:
        raise Ambiguous(f"arithmetic ({op}) on two strings" if op != "+" else "+ on two strings")
    if left == right == "bit":
        raise Ambiguous(f"arithmetic ({op}) on two bit values")
    if "text" in (left, right) or "ntext" in (left, right):
        raise Ambiguous(f"arithmetic ({op}) on text/ntext values")


def _integer_operation(op: str, a: int, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    quotient = abs(a) // abs(b)  # SQL Server truncates toward zero; Python's // floors
    if (a < 0) != (b < 0):
        quotient = -quotient
    return quotient if op == "/" else a - b * quotient


def _implicit(source: str, value: Any, target: str) -> Any:
    """An operand converted to the operation's type (a string to a number; a bit to an int)."""
    if value is None:
        return None
    if source in STRINGS:
        return _convert_typed(source, (target, None, 38 if target == "decimal" else None, 10), value)
    if target in APPROXIMATE:
        return float(value)
    return value


# -- conversions ---------------------------------------------------------------------------------
Target = tuple[str, int | None, int | None, int | None]  # name, length, precision, scale


@lru_cache(maxsize=256)
def parse_target(text: str) -> Target:
    return dialect.parse_type(text.replace(" ", ""))


def convert(source_type: str | None, target: str, value: Any) -> Any:
    """CAST(value AS target) as SQL Server converts it, or its error."""
    parsed = parse_target(target)
    cands = _candidates(source_type, value)
    if len(cands) == 1:
        return _convert_typed(cands[0], parsed, value)
    return _agree(lambda st, _rt: _convert_typed(st, parsed, value), cands, ("-",),
                  f"CAST to {target} of a value whose type the sandbox cannot tell, where SQL Server's "
                  "answer depends on that type (CAST it from its type first)")


_SPACES = " "
_OTHER_BLANKS = re.compile(r"[\t\n\r\f\v]")
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


#: datetime and smalldatetime as text: SQL Server writes style 0 ("CAST and CONVERT": 'Feb 10 2024  1:14PM'),
#: whose month names follow the session's language; the sandbox holds ISO text. (date, time, datetime2 and
#: datetimeoffset are written as ISO text, style 121 and 126, as the sandbox holds them.)
STYLE_ZERO_TYPES = ("datetime", "smalldatetime")


def datetime_text_refusal(source: str) -> str:
    """The refusal of a datetime or smalldatetime converted to text (CAST, PRINT, a variable, a column)."""
    return (f"a {source} value converted to text (SQL Server writes style 0, 'Feb 10 2024  1:14PM', with the "
            "month names of the session's language; the sandbox keeps ISO text): CAST it to datetime2 or date "
            "first, or use CONVERT with a style on SQL Server")


def _convert_typed(source: str, target: Target, value: Any) -> Any:
    name, length, precision, scale = target
    if value is None:
        return None
    if source in STYLE_ZERO_TYPES and name in STRINGS:
        raise Ambiguous(datetime_text_refusal(source))
    if source not in NUMBERS and source not in STRINGS:
        raise Ambiguous(f"CAST from {source} to {name}")
    if name in sqltypes.BINARY:
        return _to_binary(source, name, length, value)
    if source in STRINGS:
        return _from_text(source, target, value)
    if name in INTEGERS:
        return _number_to_integer(source, name, value)
    if name == "bit":
        return 0 if value == 0 else 1
    if name in EXACT:
        scale = sqltypes.MONEY_SCALE if name != "decimal" else scale or 0
        precision = sqltypes.MONEY_PRECISION.get(name, precision or sqltypes.DEFAULT_PRECISION)
        return _to_decimal(_number_decimal(value), precision, scale,
                           lambda: overflow(_message_type(source), name))
    if name in APPROXIMATE:
        if not float_fits(name, float(value)):  # a float beyond real's range
            raise overflow(_message_type(source), name)
        return float(value)
    if name in STRINGS and source in APPROXIMATE:
        return _float_text(float(value), name, length)
    if name in STRINGS and source in (*INTEGERS, "bit"):
        text = str(value)
        if length not in (None, -1) and len(text) > length:
            if name in ("char", "varchar"):
                return "*"  # SQL Server's "result length too short to display"
            raise overflow("expression", name)
        return text
    raise Ambiguous(f"CAST from {source} to {name}")


#: the code page of char, varchar and text under the default collation (SQL_Latin1_General_CP1_CI_AS)
CODE_PAGE = "cp1252"


def _to_binary(source: str, name: str, length: int | None, value: Any) -> bytes:
    """Text as binary(n)/varbinary(n): its bytes, UTF-16LE for nchar/nvarchar and code page 1252 for
    char/varchar, cut or (binary) padded with zero bytes on the right ("binary and varbinary": a string
    type converted to binary of unequal length). Other types (padded on the left, in their storage
    form) are refused."""
    if source not in STRINGS or source in ("text", "ntext"):
        raise Ambiguous(f"CAST from {source} to {name} (SQL Server writes the value's storage bytes)")
    try:
        data = str(value).encode("utf-16-le" if source in sqltypes.UNICODE else CODE_PAGE)
    except UnicodeEncodeError:
        raise Ambiguous(f"CAST to {name} of {source} text with a character outside code page 1252") from None
    if length is None or length == sqltypes.MAX:
        return data
    return data[:length].ljust(length, b"\0") if name == "binary" else data[:length]


def float_too_long(name: str, length: int) -> str:
    """The refusal of a float or real whose text does not fit char(n)/varchar(n) (SQL Server: an error the
    CAST and CONVERT page does not number)."""
    return f"CAST of a float or real to {name}({length}), shorter than the number's text (SQL Server: an error)"


def _float_text(value: float, name: str, length: int | None) -> str:
    """A float or real as text, style 0 (sqltypes.float_text); char(n) and nchar(n) pad it with blanks."""
    text = sqltypes.float_text(value)
    if length is None or length == sqltypes.MAX:
        return text
    if len(text) > length:
        raise Ambiguous(float_too_long(name, length))
    return text.ljust(length) if name in ("char", "nchar") else text


def float_text_sql(value: str) -> str:
    """SQL for a float or real value (SQL `value`, not NULL) as text in style 0, as sqltypes.float_text
    writes it: SQLite's printf('%.6g') with the exponent written in three digits."""
    return ("(SELECT CASE WHEN opus_e = 0 THEN opus_g ELSE substr(opus_g, 1, opus_e + 1) || "
            "printf('%03d', CAST(substr(opus_g, opus_e + 2) AS INTEGER)) END "
            f"FROM (SELECT opus_g, instr(opus_g, 'e') AS opus_e FROM (SELECT printf('%.{sqltypes.FLOAT_TEXT_DIGITS}g', "
            f"{value}) AS opus_g)))")


def _number_to_integer(source: str, target: str, value: int | float) -> int:
    low, high = RANGES[target]
    if source in APPROXIMATE:
        truncated = math.trunc(value)
        if not low <= truncated <= high:
            shown = struct.unpack("f", struct.pack("f", value))[0] if source == "real" else value
            raise overflow_for_float(target, shown)
        return truncated
    if source in sqltypes.MONEY:  # money rounds to an integer, the others truncate
        converted = int(Decimal(repr(value)).quantize(Decimal(1), ROUND_HALF_UP))
    else:
        converted = math.trunc(value)
    if low <= converted <= high:
        return converted
    if source in sqltypes.WHOLE_NUMBERS and source != "bigint" and type(value) is int:
        raise overflow_for_type(target, value)
    raise overflow("expression", target)


def _number_decimal(value: int | float) -> Decimal:
    return Decimal(value) if type(value) is int else Decimal(repr(value))


#: what a decimal SQLite's REAL cannot hold is refused as: more than 15 significant digits after rounding
INEXACT_DECIMAL = f"a decimal value with more than {sqltypes.DOUBLE_DIGITS} significant digits"
INEXACT_WHY = f"SQLite's numbers hold {sqltypes.DOUBLE_DIGITS} digits; SQL Server's decimals up to 38"


def beyond_double_sql(number: str) -> str:
    """SQL: true when the REAL `number` needs more than 15 significant digits, the digits a double holds
    through decimal text and back: such a value lost digits on its way in, or has others than SQL Server's."""
    return f"CAST(printf('%.{sqltypes.DOUBLE_DIGITS}g', {number}) AS REAL) <> {number}"


def inexact_decimal_sql(value: str, scale: int) -> str:
    """SQL: true when the REAL `value` rounded to `scale` decimals (as decimal(p,scale)) needs more than 15
    significant digits. SQLite's round() keeps at most 15 decimals, so for a scale of 15 or more the value
    itself is judged too (as _to_decimal judges the value that SQLite function rounds exactly)."""
    rounded = beyond_double_sql(f"round({value}, {scale})")
    return f"({rounded} OR {beyond_double_sql(value)})" if scale >= sqltypes.DOUBLE_DIGITS else rounded


def _to_decimal(number: Decimal, precision: int, scale: int, overflowed: Callable[[], ServerError]) -> int | float:
    rounded = number.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    if abs(rounded) >= Decimal(10) ** (precision - scale):
        raise overflowed()
    if scale == 0 and sqltypes.integer_fits("bigint", int(rounded)):
        return int(rounded)  # (SQLite's integers hold every decimal(p,0) that fits in 64 bits exactly)
    if sqltypes.significant_digits(rounded) > sqltypes.DOUBLE_DIGITS:
        raise Ambiguous(f"{INEXACT_DECIMAL} ({INEXACT_WHY})")
    return float(rounded)  # (beyond 64 bits, a whole number too is a REAL)


def _from_text(source: str, target: Target, value: Any) -> Any:
    name, _length, precision, scale = target
    if name in STRINGS or name not in NUMBERS:
        raise Ambiguous(f"CAST from {source} to {name}")
    if source in ("text", "ntext"):
        raise Ambiguous(f"CAST from {source} to {name}")
    original = str(value)
    text = original.strip(_SPACES)
    if _OTHER_BLANKS.search(text):
        raise Ambiguous(f"CAST to {name} of a string with tabs or line breaks (not documented)")
    if name in INTEGERS or name == "bit":
        if text == "":
            return 0
        if name == "bit" and text.lower() in ("true", "false"):
            return int(text.lower() == "true")
        if text in ("+", "-"):
            raise Ambiguous(f"CAST to {name} of a lone sign (not documented)")
        if not _INTEGER_TEXT.fullmatch(text):
            if name == "bigint":
                raise error_converting(source, name)
            if name == "bit" and _DECIMAL_TEXT.fullmatch(text):
                raise Ambiguous("CAST to bit of a string with a decimal point (not documented)")
            raise conversion_failed(source, original, name)
        number = int(text)
        if name == "bit":
            return 0 if number == 0 else 1
        low, high = RANGES[name]
        if low <= number <= high:
            return number
        if name == "int":
            raise string_overflowed_int(source, original)
        if name == "bigint":
            raise overflow("expression", name)
        raise string_overflowed(source, original, name)
    if name in EXACT:
        if name != "decimal":
            raise Ambiguous(f"CAST from {source} to {name} (money accepts currency signs and separators)")
        if "e" in text.lower() and _FLOAT_TEXT.fullmatch(text):
            raise Ambiguous("CAST to decimal of a string in scientific notation (not documented)")
        if not _DECIMAL_TEXT.fullmatch(text):  # also the empty string, as documented
            raise error_converting(source, name)
        return _to_decimal(Decimal(text), precision or 18, scale or 0, lambda: overflow(source, name))
    # float, real
    if text == "":
        raise Ambiguous(f"CAST to {name} of an empty string (not documented)")
    if not _FLOAT_TEXT.fullmatch(text):
        raise error_converting(source, name)
    approximate = float(text)
    if math.isinf(approximate):
        raise Ambiguous(f"CAST to {name} of a string out of its range")
    return approximate


Bounds = tuple[int, int] | None  # the least and greatest value an integer expression can have


def needs_check(op: str, left: str | None, right: str | None, left_bounds: Bounds = None,
                right_bounds: Bounds = None) -> bool:
    """Whether SQLite's own arithmetic could differ from SQL Server's for these operand types (and,
    for integers, the operands' bounds where known: LEN(x) - 1 cannot overflow)."""
    if left is None or right is None or BY_VALUE in (left, right):
        return True
    check_operands(op, left, right)
    result = higher(left, right)
    if left in STRINGS or right in STRINGS:
        return True
    if result in INTEGERS:
        return not _fits(op, result, left_bounds, right_bounds)
    if result in APPROXIMATE:  # beyond the type's range: SQLite's infinity (or a real too large), SQL Server 8115
        return True
    return op in "/%"  # on decimals: division by zero, real division, SQL Server's modulo


def _fits(op: str, result: str, left: Bounds, right: Bounds) -> bool:
    """Whether integer `left op right` is certain to be defined and in range, from the bounds."""
    if op in "/%":  # a constant divisor other than 0 and -1: no error, and SQLite truncates alike
        return right is not None and right[0] == right[1] and right[0] not in (0, -1)
    if left is None or right is None:
        return False
    if op == "+":
        low, high = left[0] + right[0], left[1] + right[1]
    elif op == "-":
        low, high = left[0] - right[1], left[1] - right[0]
    else:
        corners = [a * b for a in left for b in right]
        low, high = min(corners), max(corners)
    return RANGES[result][0] <= low and high <= RANGES[result][1]


def conversion_needs_check(source: str | None, target: str) -> bool:
    """Whether SQLite's CAST could differ from SQL Server's for this source type and target."""
    name, length, _precision, _scale = parse_target(target)
    if name in INTEGERS:
        if source == "bit":
            return False
        if source in INTEGERS:  # a wider integer type holds every value: nothing to check
            return not (RANGES[name][0] <= RANGES[source][0] and RANGES[source][1] <= RANGES[name][1])
        return True
    if name in ("bit", *EXACT):
        return True
    if name in sqltypes.BINARY:  # text as its bytes (SQLite: UTF-8), a number as its storage bytes
        return source not in sqltypes.BINARY
    if name in APPROXIMATE:
        return source not in NUMBERS or (name == "real" and source == "float")
    if name in STRINGS:  # a number too long for char(n): '*' or an error (only integers print alike);
        # a float or real is written in SQL Server's style 0 (six digits), not SQLite's; a datetime is refused
        return ((source in (*INTEGERS, "bit") and length not in (None, -1)) or source in APPROXIMATE
                or source in STYLE_ZERO_TYPES)
    return False


# -- SQLite functions ----------------------------------------------------------------------------
def guarded(compute: Callable[..., Any], sink: Callable[[ServerError | Ambiguous], None]) -> Callable[..., Any]:
    """`compute` as a SQLite function: an error of SQL Server's (or a refusal) is handed to `sink` first, since
    sqlite3 turns every exception into "user-defined function raised exception"."""

    def call(*args: Any) -> Any:
        try:
            return compute(*args)
        except (ServerError, Ambiguous) as error:
            sink(error)
            raise

    return call


def register(connection: Any, sink: Callable[[ServerError | Ambiguous], None]) -> None:
    """Register tsql_arith(op, left_type, right_type, left, right) and tsql_convert(source_type,
    target, value) on a sqlite3 connection. A failing call hands its error to `sink` before SQLite
    turns it into "user-defined function raised exception" (sqlite3 keeps no message of ours)."""

    def arith(op: str, left_type: str, right_type: str, left: Any, right: Any) -> Any:
        return operate(op, left_type or None, left, right_type or None, right)

    def cast(source_type: str, target: str, value: Any) -> Any:
        return convert(source_type or None, target, value)

    connection.create_function("tsql_arith", 5, guarded(arith, sink), deterministic=True)
    connection.create_function("tsql_round", 4, guarded(round_value, sink), deterministic=True)
    connection.create_function("tsql_decimal_divide", 4, guarded(divide_decimal, sink), deterministic=True)
    connection.create_function("tsql_convert", 3, guarded(cast, sink), deterministic=True)


def _round_half_up(number: Decimal, scale: int, truncate: bool) -> Decimal:
    step = Decimal(1).scaleb(-scale)
    return number.quantize(step, ROUND_DOWN if truncate else ROUND_HALF_UP)


INTEGER_DIGITS = {name: sqltypes.INTEGER_DIGITS[name] for name in INTEGERS}


def round_value(type_name: str, value: Any, length: Any, function: Any) -> Any:
    """ROUND(value, length[, function]) as SQL Server computes it: the result keeps the argument's type
    (decimal(5,2) stays decimal(5,2): ROUND(748.58, -3) is 1000.00, which does not fit: error 8115);
    a negative length rounds left of the point; a function other than 0 truncates."""
    if value is None or length is None:
        return None
    with localcontext() as context:
        context.prec = 80  # decimal(38) values and their quotients, whole
        return _round_value(type_name, value, length, function)


def _round_value(type_name: str, value: Any, length: Any, function: Any) -> Any:
    name, _length, precision, scale = dialect.parse_type(type_name)
    precision, scale = precision or 38, scale or 0
    places = int(length)
    number = _number_decimal(value)
    result = _round_half_up(number, places, bool(function)) if places >= 0 or number == 0 else (
        _round_half_up(number.scaleb(places), 0, bool(function)).scaleb(-places))
    if name in INTEGERS:
        whole = int(result)
        low, high = RANGES[name]
        if not low <= whole <= high:
            raise overflow("expression", name)
        return whole
    if name in sqltypes.DECIMALS:
        if abs(result) >= Decimal(10) ** (precision - scale):
            raise overflow("expression", "decimal")
        return float(result) if scale else int(result)
    return float(result)


def division_type(left: str, right: str) -> tuple[int, int]:
    """The precision and scale of decimal e1 / e2 ("Precision, scale, and length"): precision
    p1 - s1 + s2 + max(6, s1 + p2 + 1), scale max(6, s1 + p2 + 1); beyond 38 digits the scale gives way
    to the integral part, down to 6."""
    p1, s1 = _decimal_digits(left)
    p2, s2 = _decimal_digits(right)
    scale = max(6, s1 + p2 + 1)
    precision = p1 - s1 + s2 + scale
    if precision > 38:
        integral = precision - scale
        if integral < 32:
            scale = min(scale, 38 - integral)
        elif scale > 6:
            scale = 6
        precision = 38
    return precision, scale


def _decimal_digits(type_name: str) -> tuple[int, int]:
    name, _length, precision, scale = dialect.parse_type(type_name)
    if name in INTEGER_DIGITS:
        return INTEGER_DIGITS[name], 0
    return precision or 18, scale or 0


def divide_decimal(left_type: str, right_type: str, left: Any, right: Any) -> Any:
    """A decimal quotient to its result type's scale. SQL Server's documentation does not say whether the
    last digit is rounded or truncated: where the two differ the statement is refused."""
    if left is None or right is None:
        return None
    if right == 0:
        raise ServerError(*DIVIDE_BY_ZERO)
    with localcontext() as context:
        context.prec = 80
        return _divide_decimal(left_type, right_type, left, right)


def _divide_decimal(left_type: str, right_type: str, left: Any, right: Any) -> Any:
    precision, scale = division_type(left_type, right_type)
    exact = _number_decimal(left) / _number_decimal(right)
    rounded, truncated = _round_half_up(exact, scale, False), _round_half_up(exact, scale, True)
    if rounded != truncated:
        raise Ambiguous(f"decimal division whose quotient has more digits than its scale of {scale} ("
                        "rounded or truncated: SQL Server's documentation does not say)")
    if abs(rounded) >= Decimal(10) ** (precision - scale):
        raise overflow("expression", "decimal")
    return float(rounded)


def function_operation(op: str, left_type: str | None, right_type: str | None,
                       left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="tsql_arith", expressions=[
        exp.Literal.string(op), exp.Literal.string(left_type or ""), exp.Literal.string(right_type or ""), left, right])


def function_convert(source_type: str | None, target: str, value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="tsql_convert", expressions=[
        exp.Literal.string(source_type or ""), exp.Literal.string(target), value])


# -- plain SQLite ----------------------------------------------------------------------------------
#: The most SQL text a plain check may write: it repeats its operands, so nested checks grow
#: geometrically; past this the statement is refused on targets without the SQLite functions.
PLAIN_BUDGET = 50_000
_RAISED = re.compile(r"(?:JSON path error near |bad JSON path: )'((?:Msg \d+: |Not supported: ).*)'\s*$", re.S)


def raise_sql(text: exp.Expression | str) -> exp.Expression:
    """A plain SQLite expression that fails with `text` as its error (see the module docstring)."""
    path = exp.Literal.string(text) if isinstance(text, str) else text
    return exp.Anonymous(this="json_extract", expressions=[exp.Literal.string("{}"), path])


def raised_text(sqlite_message: str) -> str | None:
    """The error text a `raise_sql` expression failed with, from SQLite's message; None for others."""
    m = _RAISED.search(sqlite_message)
    return m.group(1).replace("''", "'") if m else None


def _copies(*operands: exp.Expression, times: int) -> None:
    from .translate import SandboxSQLite

    size = sum(len(o.sql(dialect=SandboxSQLite)) for o in operands) * times
    if size > PLAIN_BUDGET:
        raise Ambiguous("arithmetic nested too deeply to check without the sandbox's SQLite functions "
                        "(the sandbox runs it; so does SQL Server)")


def _sql(text: str, **parts: exp.Expression) -> exp.Expression:
    """A plain SQLite template with {name} holes filled by expressions (each copied), kept as SQL text:
    parsed again, sqlglot would read mod() as its % operator (integer modulo in SQLite)."""
    from .translate import SandboxSQLite

    filled = text.format(**{k: v.sql(dialect=SandboxSQLite, identify=True) for k, v in parts.items()})
    return exp.Var(this=f"({filled})")


def _concat(*pieces: exp.Expression | str) -> exp.Expression:
    nodes = [exp.Literal.string(p) if isinstance(p, str) else p for p in pieces]
    joined = nodes[0]
    for node in nodes[1:]:
        joined = exp.DPipe(this=joined, expression=node, safe=False)
    return joined


def plain_operation(op: str, left_type: str | None, right_type: str | None,
                    left: exp.Expression, right: exp.Expression) -> exp.Expression:
    """`left op right` in plain SQLite with SQL Server's errors, for operands of known numeric types."""
    if left_type in (None, BY_VALUE) or right_type in (None, BY_VALUE):
        raise Ambiguous(f"arithmetic ({op}) on a value whose type the sandbox cannot tell, without the "
                        "sandbox's SQLite functions (CAST the operand to its type)")
    check_operands(op, left_type, right_type)
    result = higher(left_type, right_type)
    if left_type in STRINGS:
        left, left_type = plain_convert(left_type, result, left), result
    if right_type in STRINGS:
        right, right_type = plain_convert(right_type, result, right), result
    divide_by_zero = raise_sql(f"Msg {DIVIDE_BY_ZERO[0]}: {DIVIDE_BY_ZERO[1]}")
    if result in INTEGERS:
        low, high = RANGES[result]
        overflowed = raise_sql(overflow("expression", result).text)
        _copies(left, right, times=4 if op == "/" else 2 if op == "%" else 3)
        value = f"({{l}} {op} {{r}})"
        checked = (f"WHEN typeof({value}) = 'real' OR {value} NOT BETWEEN {low} AND {high} "
                   f"THEN {{over}} ELSE {value} END")
        if op == "%":
            return _sql("CASE WHEN {r} = 0 AND {l} IS NOT NULL THEN {zero} ELSE ({l} % {r}) END",
                        l=left, r=right, zero=divide_by_zero)
        if op == "/":
            return _sql("CASE WHEN {r} = 0 AND {l} IS NOT NULL THEN {zero} " + checked,
                        l=left, r=right, zero=divide_by_zero, over=overflowed)
        return _sql("CASE " + checked, l=left, r=right, over=overflowed)
    if op in "+-*":
        computed = _sql(f"({{l}} {op} {{r}})", l=left, r=right)
        if result in APPROXIMATE:
            _copies(left, right, times=2)
            return plain_float_result(computed, result)
        return computed
    _copies(left, right, times=4 if result in APPROXIMATE else 2)
    division = "CAST({l} AS REAL) / {r}" if op == "/" else "mod({l}, {r})"
    quotient = _sql("CASE WHEN {r} = 0 AND {l} IS NOT NULL THEN {zero} ELSE " + division + " END",
                    l=left, r=right, zero=divide_by_zero)
    return plain_float_result(quotient, result) if result in APPROXIMATE and op == "/" else quotient


def plain_sum(total: exp.Expression, result: str) -> exp.Expression:
    """SUM of integers: an int total out of range is 8115. (SQLite counts in 64 bits and fails with
    "integer overflow" beyond them, which the runner reads as the bigint overflow, see OVERFLOWS.)"""
    if result == "bigint":
        return total
    low, high = RANGES[result]
    return _sql(f"CASE WHEN {{s}} NOT BETWEEN {low} AND {high} THEN {{over}} ELSE {{s}} END",
                s=total, over=raise_sql(overflow("expression", result).text))


#: SQLite's own overflow errors (SUM beyond 64 bits) -> SQL Server's
OVERFLOWS = {"integer overflow": overflow("expression", "bigint")}


def plain_convert(source_type: str | None, target: str, value: exp.Expression) -> exp.Expression:
    """CAST(value AS target) in plain SQLite with SQL Server's errors, for a source of known type."""
    name, length, precision, scale = parse_target(target)
    if source_type in STYLE_ZERO_TYPES and name in STRINGS:
        raise Ambiguous(datetime_text_refusal(source_type))
    if source_type in (None, BY_VALUE):
        raise Ambiguous(f"CAST to {target} of a value whose type the sandbox cannot tell, without the "
                        "sandbox's SQLite functions (CAST it from its type first)")
    if name in sqltypes.BINARY and source_type in STRINGS:  # its bytes: UTF-16LE or cp1252, which plain SQLite
        # cannot write; refused when a value comes (the sandbox's own function converts it, _to_binary)
        refused = raise_sql(Ambiguous(f"CAST from {source_type} to {target} without the sandbox's SQLite "
                                      "functions").text)
        return _sql("CASE WHEN {v} IS NULL THEN NULL ELSE {refused} END", v=value, refused=refused)
    if source_type in STRINGS and source_type not in ("text", "ntext"):
        if name in INTEGERS:
            return _plain_text_to_integer(source_type, name, value)
        if name == "decimal":
            return _plain_text_to_decimal(source_type, precision or 18, scale or 0, value)
        if name == "bit":
            return _plain_text_to_bit(source_type, value)
        if name in APPROXIMATE:
            return _plain_text_to_float(source_type, name, value)
        raise Ambiguous(f"CAST from {source_type} to {target} without the sandbox's SQLite functions")
    if source_type not in NUMBERS:
        raise Ambiguous(f"CAST from {source_type} to {target}")
    if name in INTEGERS:
        low, high = RANGES[name]
        if source_type in INTEGERS or source_type == "bit":
            if not conversion_needs_check(source_type, target):
                return _sql("CAST({v} AS INTEGER)", v=value)
            _copies(value, times=4)
            if source_type == "bigint":
                message: exp.Expression | str = overflow("expression", name).text
            else:
                message = _concat(f"Msg 220: Arithmetic overflow error for data type {name}, value = ",
                                  exp.cast(value.copy(), "TEXT"), ".")
            return _sql("CASE WHEN {v} NOT BETWEEN {low} AND {high} THEN {over} ELSE {v} END",
                        v=value, low=exp.Literal.number(low), high=exp.Literal.number(high), over=raise_sql(message))
        _copies(value, times=4)
        if source_type in APPROXIMATE:
            message = _concat(f"Msg 232: Arithmetic overflow error for type {name}, value = ",
                              exp.Anonymous(this="printf", expressions=[exp.Literal.string("%f"), value.copy()]), ".")
        else:
            message = overflow("expression", name).text
        integral = "round({v})" if source_type in sqltypes.MONEY else "{v}"
        # the values that truncate into the range: above low - 1, below high + 1 (for bigint, beyond
        # 64 bits, where SQLite has doubles: -2**63 itself fits, 2**63 does not)
        below, above = (f"< {low}", f">= {high + 1}.0") if name == "bigint" else (
            f"<= {low - 1}", f">= {high + 1}")
        return _sql(f"CASE WHEN {integral} {below} OR {integral} {above} THEN {{over}} "
                    f"ELSE CAST({integral} AS INTEGER) END", v=value, over=raise_sql(message))
    if name == "bit":
        return _sql("CASE WHEN {v} IS NULL THEN NULL WHEN {v} = 0 THEN 0 ELSE 1 END", v=value)
    if name == "decimal":
        p, s = precision or 18, scale or 0
        _copies(value, times=6)
        over = raise_sql(overflow(_message_type(source_type), name).text)
        rounded = "CAST(round({v}) AS INTEGER)" if s == 0 else f"round({{v}}, {s})"
        inexact = "" if s == 0 else f"WHEN {inexact_decimal_sql('{v}', s)} THEN {{inexact}} "
        return _sql(f"CASE WHEN abs({rounded}) >= {10 ** (p - s)} THEN {{over}} {inexact}ELSE {rounded} END",
                    v=value, over=over, inexact=raise_sql(Ambiguous(f"{INEXACT_DECIMAL} ({INEXACT_WHY})").text))
    if name in APPROXIMATE:
        if name == "real" and source_type == "float":
            _copies(value, times=3)
            return _sql(f"CASE WHEN abs({{v}}) > {FLOAT_LIMITS['real']!r} THEN {{over}} ELSE CAST({{v}} AS REAL) END",
                        v=value, over=raise_sql(overflow("float", "real").text))
        return _sql("CAST({v} AS REAL)", v=value)
    if name in STRINGS and source_type in APPROXIMATE:
        _copies(value, times=2)
        text = float_text_sql("{v}")
        refused = raise_sql(Ambiguous(float_too_long(name, length or 1)).text)
        if length not in (None, -1):
            padded = f"substr({text} || '{' ' * (length or 1)}', 1, {length})" if name in ("char", "nchar") else text
            text = f"CASE WHEN length({text}) > {length} THEN {{refused}} ELSE {padded} END"
        return _sql(f"CASE WHEN {{v}} IS NULL THEN NULL ELSE {text} END", v=value, refused=refused)
    if name in STRINGS and source_type in (*INTEGERS, "bit") and length not in (None, -1):
        _copies(value, times=3)
        too_long = exp.Literal.string("*") if name in ("char", "varchar") else raise_sql(
            overflow("expression", name).text)
        return _sql(f"CASE WHEN length(CAST({{v}} AS TEXT)) > {length} THEN {{too_long}} "
                    "ELSE CAST({v} AS TEXT) END", v=value, too_long=too_long)
    raise Ambiguous(f"CAST from {source_type} to {target} without the sandbox's SQLite functions")


def _plain_text_parts(value: exp.Expression) -> dict[str, exp.Expression]:
    trimmed = _sql("trim(CAST({v} AS TEXT), ' ')", v=value)
    unsigned = _sql("CASE WHEN substr({t}, 1, 1) IN ('+', '-') THEN substr({t}, 2) ELSE {t} END", t=trimmed)
    blanks = _sql("{t} GLOB ('*[' || char(9, 10, 11, 12, 13) || ']*')", t=trimmed)
    return {"v": value, "t": trimmed, "u": unsigned, "blanks": blanks}


def _plain_text_to_integer(source: str, name: str, value: exp.Expression) -> exp.Expression:
    _copies(value, times=40)
    parts = _plain_text_parts(value)
    low, high = RANGES[name]
    digits = "ltrim({u}, '0')"
    positive, negative = str(high), str(-low)

    def fits(limit: str) -> str:
        return f"(length({digits}) < {len(limit)} OR (length({digits}) = {len(limit)} AND {digits} <= '{limit}'))"

    in_range = f"(CASE WHEN substr({{t}}, 1, 1) = '-' THEN {fits(negative)} ELSE {fits(positive)} END)"
    if name == "tinyint":  # 0 to 255: a minus sign fits only before zeros
        in_range = f"(CASE WHEN substr({{t}}, 1, 1) = '-' THEN {digits} = '' ELSE {fits(positive)} END)"
    quoted = _sql("replace(CAST({v} AS TEXT), '''', '''''')", v=value)
    if name == "bigint":
        invalid = raise_sql(error_converting(source, name).text)
        over = raise_sql(overflow("expression", name).text)
    else:
        invalid = raise_sql(_concat(f"Msg 245: Conversion failed when converting the {source} value '", quoted,
                                    f"' to data type {name}."))
        if name == "int":
            over = raise_sql(_concat(f"Msg 248: The conversion of the {source} value '", quoted,
                                     "' overflowed an int column."))
        else:
            over = raise_sql(_concat(f"Msg 244: The conversion of the {source} value '", quoted,
                                     f"' overflowed an {INTERNAL_NAMES[name]} column. Use a larger integer column."))
    refuse_blanks = raise_sql(Ambiguous(f"CAST to {name} of a string with tabs or line breaks (not documented)").text)
    refuse_sign = raise_sql(Ambiguous(f"CAST to {name} of a lone sign (not documented)").text)
    return _sql(
        "CASE WHEN {v} IS NULL THEN NULL WHEN {t} = '' THEN 0 WHEN {blanks} THEN {refuse_blanks} "
        "WHEN {u} = '' THEN {refuse_sign} WHEN {u} GLOB '*[^0-9]*' THEN {invalid} "
        f"WHEN NOT {in_range} THEN {{over}} ELSE CAST({{t}} AS INTEGER) END",
        **parts, refuse_blanks=refuse_blanks, refuse_sign=refuse_sign, invalid=invalid, over=over,
    )


def _plain_text_to_decimal(source: str, precision: int, scale: int, value: exp.Expression) -> exp.Expression:
    _copies(value, times=40)
    parts = _plain_text_parts(value)
    whole = "ltrim(CASE WHEN instr({u}, '.') > 0 THEN substr({u}, 1, instr({u}, '.') - 1) ELSE {u} END, '0')"
    fraction = "CASE WHEN instr({u}, '.') > 0 THEN substr({u}, instr({u}, '.') + 1) ELSE '' END"
    invalid = raise_sql(error_converting(source, "decimal").text)
    over = raise_sql(overflow(source, "decimal").text)
    refuse_blanks = raise_sql(Ambiguous("CAST to decimal of a string with tabs or line breaks (not documented)").text)
    refuse_exponent = raise_sql(Ambiguous("CAST to decimal of a string in scientific notation (not documented)").text)
    refuse_round = raise_sql(Ambiguous(f"CAST to decimal({precision},{scale}) of a string with more than {scale} "
                                       "decimals, without the sandbox's SQLite functions (rounding)").text)
    number = "CAST({t} AS INTEGER)" if scale == 0 else "CAST({t} AS REAL)"
    # the digits SQLite's number keeps exactly: an INTEGER 18 (every 18-digit number fits 64 bits), a REAL 15
    digits, most = (whole, 18) if scale == 0 else (f"rtrim(ltrim({whole} || {fraction}, '0'), '0')",
                                                   sqltypes.DOUBLE_DIGITS)
    refuse_digits = raise_sql(Ambiguous(f"{INEXACT_DECIMAL} ({INEXACT_WHY})").text)
    return _sql(
        "CASE WHEN {v} IS NULL THEN NULL WHEN {blanks} THEN {refuse_blanks} "
        "WHEN {u} GLOB '*[eE]*' AND {u} NOT GLOB '*[^0-9eE.+-]*' THEN {refuse_exponent} "
        "WHEN {u} = '' OR {u} = '.' OR {u} GLOB '*[^0-9.]*' OR {u} GLOB '*.*.*' THEN {invalid} "
        f"WHEN length({whole}) > {precision - scale} THEN {{over}} "
        f"WHEN length({fraction}) > {scale} THEN {{refuse_round}} "
        f"WHEN length({digits}) > {most} THEN {{refuse_digits}} ELSE {number} END",
        **parts, refuse_blanks=refuse_blanks, refuse_exponent=refuse_exponent, invalid=invalid, over=over,
        refuse_round=refuse_round, refuse_digits=refuse_digits,
    )



def _plain_text_to_bit(source: str, value: exp.Expression) -> exp.Expression:
    """Text to bit as _from_text: 'TRUE'/'false', '' is 0, an integer is 1 unless 0; else error 245."""
    _copies(value, times=40)
    parts = _plain_text_parts(value)
    quoted = _sql("replace(CAST({v} AS TEXT), '''', '''''')", v=value)
    invalid = raise_sql(_concat(f"Msg 245: Conversion failed when converting the {source} value '", quoted,
                                "' to data type bit."))
    refuse_blanks = raise_sql(Ambiguous("CAST to bit of a string with tabs or line breaks (not documented)").text)
    refuse_sign = raise_sql(Ambiguous("CAST to bit of a lone sign (not documented)").text)
    refuse_other = raise_sql(Ambiguous("CAST to bit of a string with a decimal point or over 18 digits "
                                       "(not documented)").text)
    return _sql(
        "CASE WHEN {v} IS NULL THEN NULL WHEN {t} = '' THEN 0 WHEN {blanks} THEN {refuse_blanks} "
        "WHEN lower({t}) = 'true' THEN 1 WHEN lower({t}) = 'false' THEN 0 WHEN {u} = '' THEN {refuse_sign} "
        "WHEN {u} NOT GLOB '*[^0-9]*' AND length({u}) <= 18 THEN CAST({u} AS INTEGER) <> 0 "
        "WHEN {u} NOT GLOB '*[^0-9.]*' OR {u} NOT GLOB '*[^0-9]*' THEN {refuse_other} ELSE {invalid} END",
        **parts, refuse_blanks=refuse_blanks, refuse_sign=refuse_sign, refuse_other=refuse_other, invalid=invalid,
    )


def _plain_text_to_float(source: str, name: str, value: exp.Expression) -> exp.Expression:
    """Text to float/real as _from_text: digits, one point, an exponent; else error 8114. Refused: an empty
    string, tabs or line breaks, a number out of the type's range (not documented)."""
    _copies(value, times=40)
    parts = _plain_text_parts(value)
    e = "instr(lower({u}), 'e')"
    mantissa = f"(CASE WHEN {e} > 0 THEN substr({{u}}, 1, {e} - 1) ELSE {{u}} END)"
    exponent = f"(CASE WHEN {e} > 0 THEN ltrim(substr({{u}}, {e} + 1), '+-') ELSE '0' END)"
    valid = (f"{mantissa} NOT IN ('', '.') AND {mantissa} NOT GLOB '*[^0-9.]*' AND {mantissa} NOT GLOB '*.*.*' "
             f"AND {exponent} <> '' AND {exponent} NOT GLOB '*[^0-9]*'")
    invalid = raise_sql(error_converting(source, name).text)
    refuse_blanks = raise_sql(Ambiguous(f"CAST to {name} of a string with tabs or line breaks (not documented)").text)
    refuse_empty = raise_sql(Ambiguous(f"CAST to {name} of an empty string (not documented)").text)
    refuse_range = raise_sql(Ambiguous(f"CAST to {name} of a string out of its range").text)
    return _sql(
        "CASE WHEN {v} IS NULL THEN NULL WHEN {t} = '' THEN {refuse_empty} WHEN {blanks} THEN {refuse_blanks} "
        f"WHEN NOT ({valid}) THEN {{invalid}} WHEN abs(CAST({{t}} AS REAL)) > 1.7976931348623157e308 "
        "THEN {refuse_range} ELSE CAST({t} AS REAL) END",
        **parts, refuse_blanks=refuse_blanks, refuse_empty=refuse_empty, refuse_range=refuse_range, invalid=invalid,
    )
