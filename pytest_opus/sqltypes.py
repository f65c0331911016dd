"""SQL Server's type vocabulary: names, families, ranges, lengths, defaults, precedence, parsing, formatting.

The one home of these facts (issue 10, item 10). The runner, the expectations, the SQL Server catalog
reader, staging and validation import them from here; none spells a type's range or length again.
Everything here is pure and imports only the standard library (and `suggest`, itself a leaf), so any
layer can use it. Values are those of SQL Server's "Data types (Transact-SQL)" pages, cited per table.

A declared type is a `SqlType`: its base name in lower case (aliases resolved: `numeric` and `dec`
are `decimal`, `integer` is `int`, `sysname` is `nvarchar(128)`, `float(24)` is `real`), and only the
arguments that matter: `length` for the character and binary types (-1 for MAX), `precision` and
`scale` for decimal, and for datetime2/time/datetimeoffset the fractional-seconds precision in
`scale` (None for the default 7, as the SQL Server catalog reader reports it).

`parse_type` reads what a person writes and refuses what SQL Server would refuse (InvalidType, with
the reason); `read_type` reads what a catalog or a stored table holds and never raises (a user type
or a name it does not know passes through by name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

from .suggest import did_you_mean

Family = Literal["exact numeric", "approximate numeric", "character", "unicode", "binary", "date and time", "other"]

# -- names and families ("Data types (Transact-SQL)": the categories) ---------------------------------------------
#: the integer types, narrowest first, and the values each holds (int, bigint, smallint, and tinyint)
INTEGERS = ("tinyint", "smallint", "int", "bigint")
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "tinyint": (0, 255),
    "smallint": (-(2**15), 2**15 - 1),
    "int": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
#: the integers and bit: the types whose values are whole numbers
WHOLE_NUMBERS = (*INTEGERS, "bit")
#: the precision of an integer type's values read as decimals (decimal(3,0) holds every tinyint)
INTEGER_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19, "bit": 1}
DECIMALS = ("decimal", "numeric")
#: money and smallmoney: their precision (as decimals), four decimals, the largest value each holds
#: ("money and smallmoney")
MONEY = ("money", "smallmoney")
MONEY_PRECISION = {"money": 19, "smallmoney": 10}
MONEY_SCALE = 4
MONEY_LIMITS = {"money": Decimal("922337203685477.5807"), "smallmoney": Decimal("214748.3647")}
#: the exact numbers that are not integers, as data type precedence names them (numeric reads as decimal)
EXACT = ("decimal", "money", "smallmoney")
APPROXIMATE = ("float", "real")
NUMBERS = (*INTEGERS, "bit", *EXACT, *APPROXIMATE)
#: code-page text and Unicode text
CHARACTER = ("char", "varchar", "text")
UNICODE = ("nchar", "nvarchar", "ntext")
STRINGS = ("char", "varchar", "nchar", "nvarchar", "text", "ntext")
#: the strings whose length a declaration gives (text and ntext have none)
SHORT_STRINGS = ("char", "varchar", "nchar", "nvarchar")
BINARY = ("binary", "varbinary", "image")
DATE_TIME = ("date", "time", "datetime", "datetime2", "smalldatetime", "datetimeoffset")
OTHER = ("uniqueidentifier", "xml", "sql_variant", "timestamp", "hierarchyid", "geography", "geometry")

FAMILIES: dict[str, Family] = {
    **{name: "exact numeric" for name in (*WHOLE_NUMBERS, *DECIMALS, "money", "smallmoney")},
    **{name: "approximate numeric" for name in APPROXIMATE},
    **{name: "character" for name in CHARACTER},
    **{name: "unicode" for name in UNICODE},
    **{name: "binary" for name in BINARY},
    **{name: "date and time" for name in DATE_TIME},
    **{name: "other" for name in OTHER},
}
#: every base type name SQL Server has (after aliases), for "did you mean"
BASE_TYPES = tuple(FAMILIES)

#: SQL Server's data type precedence, highest first ("Data type precedence"; numeric reads as decimal,
#: rowversion as timestamp; user-defined types come first and are not listed)
PRECEDENCE = (
    "sql_variant", "xml", "datetimeoffset", "datetime2", "datetime", "smalldatetime", "date", "time",
    "float", "real", "decimal", "money", "smallmoney", "bigint", "int", "smallint", "tinyint", "bit",
    "ntext", "text", "image", "timestamp", "uniqueidentifier", "nvarchar", "nchar", "varchar", "char",
    "varbinary", "binary",
)
#: the names error 244 gives tinyint and smallint (SQL Server's internal type names)
INTERNAL_NAMES = {"tinyint": "INT1", "smallint": "INT2"}

# -- lengths, precision, defaults ------------------------------------------------------------------------------------
#: the types whose argument is a length, and its largest value: characters (bytes for binary);
#: "char and varchar", "nchar and nvarchar", "binary and varbinary"
LENGTH_LIMITS = {"char": 8000, "varchar": 8000, "binary": 8000, "varbinary": 8000, "nchar": 4000, "nvarchar": 4000}
#: the types that can be (max); a catalog reports MAX as length -1
MAX_TYPES = ("varchar", "nvarchar", "varbinary")
MAX = -1
#: bytes per character of the types whose length counts characters of two bytes
BYTES_PER_CHARACTER = {"nchar": 2, "nvarchar": 2}
#: the length of char/varchar/nchar/nvarchar/binary/varbinary declared without one
DEFAULT_LENGTH = 1
#: the length of char/varchar/nchar/nvarchar written without one in CAST and CONVERT
CAST_LENGTH = 30
#: decimal: the largest precision, and the type `decimal` alone means ("decimal and numeric")
MAX_PRECISION = 38
DEFAULT_PRECISION = 18
DEFAULT_SCALE = 0
#: the types whose argument is the digits of a second they keep (0 to 7; 7 when not given)
TIME_TYPES = ("datetime2", "datetimeoffset", "time")
MAX_FRACTIONAL_SECONDS = 7
#: the largest magnitude of a float and of a real ("float and real": 1.79E+308 and 3.40E+38; the double's
#: largest value, and the single's)
FLOAT_LIMITS = {"float": 1.7976931348623157e308, "real": 3.4028234663852886e38}
#: float(n): n is the bits of the mantissa, 1 to 24 is stored as real, 25 to 53 as float ("float and real")
REAL_BITS = 24
FLOAT_BITS = 53
#: the storage size in bytes of the types whose size does not depend on a length (COL_LENGTH reports it)
STORAGE_BYTES = {
    "bit": 1, "tinyint": 1, "smallint": 2, "int": 4, "bigint": 8, "money": 8, "smallmoney": 4, "float": 8, "real": 4,
    "date": 3, "time": 5, "datetime": 8, "datetime2": 8, "smalldatetime": 4, "datetimeoffset": 10,
    "uniqueidentifier": 16, "text": 16, "ntext": 16, "image": 16,
}
#: the dates each type holds, as text in the form the sandbox stores them (datetime, smalldatetime)
DATE_TIME_RANGES = {"datetime": ("1753-01-01 00:00:00.000", "9999-12-31 23:59:59.997"),
                    "smalldatetime": ("1900-01-01 00:00:00", "2079-06-06 23:59:00")}

#: other spellings SQL Server accepts for a base type; the catalog reports the right-hand name
ALIASES = {"integer": "int", "dec": "decimal", "numeric": "decimal", "rowversion": "timestamp",
           "double precision": "float"}
#: SQL Server's built-in alias type for names
SYSNAME_LENGTH = 128
KNOWN_TYPES: tuple[str, ...] = tuple(sorted({*BASE_TYPES, *ALIASES, "sysname"}))


def family(name: str) -> Family:
    """The family of a base type name ('nvarchar' -> 'unicode'); a name SQL Server does not have is 'other'."""
    return FAMILIES.get(ALIASES.get(name.lower(), name.lower()), "other")


def decimal_storage_bytes(precision: int) -> int:
    """The bytes a decimal of this precision takes: 5, 9, 13 or 17 ("decimal and numeric")."""
    return 5 if precision <= 9 else 9 if precision <= 19 else 13 if precision <= 28 else 17


# -- a declared type -------------------------------------------------------------------------------------------------
class InvalidType(ValueError):
    """A type name or argument that SQL Server would not accept; the message says why."""


@dataclass(frozen=True)
class SqlType:
    """A declared T-SQL type: lower-case base name plus only the arguments that matter.

    `length` is -1 for MAX. For the time types `scale` is the fractional-seconds precision, or None for
    the default (7) and for targets that do not report it.
    """

    name: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def text(self) -> str:
        """As a catalog reports it and a person writes it: nvarchar(max), decimal(18,4), datetime2(3), int."""
        if self.length is not None:
            return f"{self.name}({'max' if self.length == MAX else self.length})"
        if self.precision is not None:
            return f"{self.name}({self.precision},{self.scale or 0})"
        if self.name in TIME_TYPES and self.scale is not None:
            return f"{self.name}({self.scale})"
        return self.name

    @property
    def storage_text(self) -> str:
        """The declared type SQLite keeps for it: the same text in capitals, MAX spelled -1 (SQLite's type
        arguments must be numbers)."""
        return self.text.replace("(max)", f"({MAX})").upper()

    @property
    def family(self) -> Family:
        return family(self.name)

    @property
    def is_max(self) -> bool:
        return self.length == MAX

    def __str__(self) -> str:
        return self.text


_TYPE_RE = re.compile(
    r"""^\s*\[?(?P<name>[a-z_][a-z0-9_ ]*?)\]?\s*
        (?:\(\s*(?P<first>max|-?\d+)\s*(?:,\s*(?P<second>-?\d+)\s*)?\))?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_type(text: str) -> SqlType:
    """`NVARCHAR(MAX)` / `nvarchar(-1)` / `decimal` / `[int]` / `sysname` -> SqlType; InvalidType with the
    reason for what SQL Server would refuse (a length beyond 8000, a scale above the precision, ...)."""
    match = _TYPE_RE.match(text)
    if not match:
        raise InvalidType(f"cannot read type '{text}' (write it like varchar(50) or decimal(18,4))")
    return _build(" ".join(match["name"].lower().split()), match["first"], match["second"], strict=True)


def read_type(text: str) -> SqlType:
    """The type a catalog or a stored table declares, read without judging it: never raises. Arguments
    out of SQL Server's limits are kept as written; a name it does not know (a user type) passes through."""
    match = _TYPE_RE.match(text)
    if not match:
        return SqlType(text.strip().lower())
    try:
        return _build(" ".join(match["name"].lower().split()), match["first"], match["second"], strict=False)
    except InvalidType:  # (arguments a type cannot take at all: the name alone)
        return SqlType(ALIASES.get(match["name"].lower(), match["name"].lower()))


def _build(written: str, first: str | None, second: str | None, *, strict: bool) -> SqlType:
    name = ALIASES.get(written, written)
    is_max = first is not None and first.lower() in ("max", str(MAX))
    if name == "sysname":
        if first is not None:
            raise InvalidType("sysname takes no arguments")
        return SqlType("nvarchar", SYSNAME_LENGTH)
    if name in LENGTH_LIMITS:
        if second is not None:
            raise InvalidType(f"{name} takes one length, not two")
        if first is None:
            return SqlType(name, DEFAULT_LENGTH)  # SQL Server's rule for a length-less type in DDL
        if is_max:
            if name not in MAX_TYPES and strict:
                raise InvalidType(f"{name} cannot be max (only {', '.join(sorted(MAX_TYPES))} can)")
            return SqlType(name, MAX)
        length = int(first)
        if strict and not 1 <= length <= LENGTH_LIMITS[name]:
            raise InvalidType(f"{name} length must be 1..{LENGTH_LIMITS[name]} or max, not {length}")
        return SqlType(name, length)
    if name == "decimal":
        if first is not None and first.lower() == "max":
            raise InvalidType("decimal takes (precision, scale), not max")
        precision = DEFAULT_PRECISION if first is None else int(first)
        scale = DEFAULT_SCALE if second is None else int(second)
        if strict and not 1 <= precision <= MAX_PRECISION:
            raise InvalidType(f"decimal precision must be 1..{MAX_PRECISION}, not {precision}")
        if strict and not 0 <= scale <= precision:
            raise InvalidType(f"decimal scale must be 0..{precision}, not {scale}")
        return SqlType("decimal", precision=precision, scale=scale)
    if name in TIME_TYPES:
        if second is not None or (first is not None and first.lower() == "max"):
            raise InvalidType(f"{name} takes one fractional-seconds precision (0..{MAX_FRACTIONAL_SECONDS})")
        if first is None:
            return SqlType(name)
        digits = int(first)
        if strict and not 0 <= digits <= MAX_FRACTIONAL_SECONDS:
            raise InvalidType(f"{name} precision must be 0..{MAX_FRACTIONAL_SECONDS}, not {digits}")
        return SqlType(name, scale=None if digits == MAX_FRACTIONAL_SECONDS else digits)
    if name == "float":
        if second is not None or (first is not None and first.lower() == "max"):
            raise InvalidType(f"float takes one argument: the mantissa bits (1..{FLOAT_BITS})")
        if first is None:
            return SqlType("float")
        bits = int(first)
        if strict and not 1 <= bits <= FLOAT_BITS:
            raise InvalidType(f"float bits must be 1..{FLOAT_BITS}, not {bits}")
        return SqlType("real" if bits <= REAL_BITS else "float")  # how SQL Server stores float(n)
    if name in FAMILIES:
        if first is not None:
            raise InvalidType(f"{name} takes no arguments")
        return SqlType(name)
    if strict:
        raise InvalidType(f"unknown type '{name}'{did_you_mean(name, KNOWN_TYPES)}")
    return SqlType(name)


# -- pure value checks -------------------------------------------------------------------------------------------------
def integer_fits(name: str, value: int) -> bool:
    """Whether an integer type holds `value` (bit holds any number: every one but 0 is 1)."""
    if name == "bit":
        return True
    low, high = INTEGER_RANGES[name]
    return low <= value <= high


def smallest_integer_type(value: int) -> str | None:
    """The narrowest integer type that holds `value`, or None beyond bigint."""
    return next((name for name in INTEGERS if integer_fits(name, value)), None)


def integer_type_holds(wide: str, narrow: str) -> bool:
    """Whether every value of integer type `narrow` fits integer type `wide`."""
    (low, high), (wide_low, wide_high) = INTEGER_RANGES[narrow], INTEGER_RANGES[wide]
    return wide_low <= low and high <= wide_high


def utf16_length(text: str) -> int:
    """A text's length as nchar/nvarchar (and monday) count it: UTF-16 code units, a character beyond the
    BMP counting two."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def text_fits(sql_type: SqlType, text: str) -> bool:
    """Whether a character column of this type stores `text` without truncation (trailing blanks beyond
    the length are dropped without an error, as SQL Server does under ANSI_WARNINGS)."""
    if sql_type.length is None or sql_type.length == MAX:
        return True
    counted = utf16_length(text) if sql_type.name in UNICODE else len(text)
    return counted <= sql_type.length or (len(text.rstrip(" ")) < len(text) and text_fits(sql_type, text.rstrip(" ")))


def decimal_fits(value: Decimal, precision: int, scale: int) -> bool:
    """Whether decimal(precision, scale) holds `value` once rounded to the scale (error 8115 otherwise)."""
    rounded = round_decimal(value, scale)
    return abs(rounded) < Decimal(10) ** (precision - scale)


def round_decimal(value: Decimal, scale: int) -> Decimal:
    """`value` rounded to `scale` decimals, half away from zero, as SQL Server rounds a decimal it stores."""
    with localcontext() as context:
        context.prec = MAX_PRECISION * 2 + 2
        return value.quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)


def significant_digits(value: Decimal) -> int:
    """The digits of a number without leading and trailing zeros (12.500 has 3, 0.0012 has 2, 0 has 0)."""
    if value == 0:
        return 0
    return len(value.normalize().as_tuple().digits)


def decimal_type_of(value: Decimal) -> SqlType:
    """The decimal type that holds exactly this value: 12.50 is decimal(4,2), 0.5 decimal(1,1)."""
    digits, exponent = value.as_tuple().digits, int(value.as_tuple().exponent)
    scale = max(-exponent, 0)
    return SqlType("decimal", precision=max(len(digits) + max(exponent, 0), scale, 1), scale=scale)


#: how many significant digits a SQLite REAL (an IEEE double) keeps exactly, decimal to binary and back
DOUBLE_DIGITS = 15


# -- formatting values ----------------------------------------------------------------------------------------------
#: the significant digits CAST and CONVERT write of a float or real in style 0 ("CAST and CONVERT": float styles)
FLOAT_TEXT_DIGITS = 6


def float_text(value: float) -> str:
    """A float or real as CAST(... AS varchar) writes it (style 0): at most six significant digits, in
    scientific notation when the exponent is below -4 or above 5, with a sign and three exponent digits:
    1.5E10 is '1.5e+010', 123456789E0 '1.23457e+008', 0.1E0 '0.1', 100000E0 '100000'."""
    text = f"{value + 0.0:.{FLOAT_TEXT_DIGITS}g}"  # (+ 0.0: negative zero is written 0, as SQLite's printf does)
    mantissa, marker, exponent = text.partition("e")
    if not marker:
        return text
    return f"{mantissa}e{exponent[0]}{int(exponent[1:]):03d}"


#: a datetime keeps time in ticks of 1/300 s ("datetime": .000, .003 or .007 in its milliseconds)
DATETIME_TICKS_PER_SECOND = 300
_DATETIME_TEXT = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})")


def datetime_as_datetime2(text: str) -> str:
    """A datetime value as the sandbox holds it ('2016-10-23 12:45:37.333') converted to datetime2: its
    1/300 s ticks as seven exact decimals ('.3333333', as the datetime page documents since SQL Server
    2016). Text of another form is returned as it is (the datetime2 conversion judges it)."""
    match = _DATETIME_TEXT.fullmatch(text)
    if match is None:
        return text
    ticks = (int(match[2]) * 3 + 5) // 10  # .003 is one tick, .007 two, .010 three
    return f"{match[1]}.{round(Decimal(ticks * 10**MAX_FRACTIONAL_SECONDS) / DATETIME_TICKS_PER_SECOND):07d}"
