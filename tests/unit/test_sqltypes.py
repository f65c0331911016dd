"""SQL Server's type vocabulary (pytest_opus/sqltypes.py): parsing, formatting, families, ranges, value checks.

The expected values are those of SQL Server's documentation pages, cited beside each table; the
hypothesis tests check that parsing and formatting agree with each other over every valid type, and
that the SQLite form of the float formatting (what the sandbox runs) agrees with the Python one.
"""

from __future__ import annotations

import ast
import sqlite3
import struct
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus import sqltypes
from pytest_opus.sqltypes import InvalidType, SqlType, parse_type, read_type
from pytest_opus.tsql import arithmetic

LEARN = "https://learn.microsoft.com/en-us/sql/t-sql/data-types"
INTEGERS_PAGE = f"{LEARN}/int-bigint-smallint-and-tinyint-transact-sql"
DECIMAL_PAGE = f"{LEARN}/decimal-and-numeric-transact-sql"
CAST_PAGE = "https://learn.microsoft.com/en-us/sql/t-sql/functions/cast-and-convert-transact-sql"
PRECEDENCE_PAGE = f"{LEARN}/data-type-precedence-transact-sql"


# -- parsing and formatting ----------------------------------------------------------------------------------------
@st.composite
def declared_types(draw: st.DrawFn) -> SqlType:
    """Any type SQL Server accepts, in the form parse_type gives it."""
    name = draw(st.sampled_from(sorted(sqltypes.FAMILIES)))
    name = sqltypes.ALIASES.get(name, name)
    if name in sqltypes.LENGTH_LIMITS:
        lengths = st.integers(1, sqltypes.LENGTH_LIMITS[name])
        if name in sqltypes.MAX_TYPES:
            lengths = lengths | st.just(sqltypes.MAX)
        return SqlType(name, draw(lengths))
    if name == "decimal":
        precision = draw(st.integers(1, sqltypes.MAX_PRECISION))
        return SqlType(name, precision=precision, scale=draw(st.integers(0, precision)))
    if name in sqltypes.TIME_TYPES:
        return SqlType(name, scale=draw(st.none() | st.integers(0, sqltypes.MAX_FRACTIONAL_SECONDS - 1)))
    return SqlType(name)


@given(declared_types())
def test_a_type_reads_back_from_its_text(declared: SqlType) -> None:
    assert parse_type(declared.text) == declared
    assert read_type(declared.text) == declared
    assert read_type(declared.storage_text) == declared  # what SQLite keeps (MAX as -1)
    assert parse_type(declared.text.upper()) == declared
    assert parse_type(f"[{declared.name}]{declared.text[len(declared.name):]}") == declared


@pytest.mark.parametrize(("written", "text"), [
    ("NVARCHAR(MAX)", "nvarchar(max)"),
    ("nvarchar(-1)", "nvarchar(max)"),
    ("decimal(18, 4)", "decimal(18,4)"),
    ("[int]", "int"),
    ("sysname", "nvarchar(128)"),  # SQL Server's alias type for names
    ("datetime2(3)", "datetime2(3)"),
    ("datetime2(7)", "datetime2"),  # 7 is what the bare name means
    ("DATETIME2", "datetime2"),
    # defaults ("decimal and numeric", "char and varchar": n defaults to 1 in a declaration)
    ("decimal", "decimal(18,0)"),
    ("numeric(10,2)", "decimal(10,2)"),
    ("dec(5)", "decimal(5,0)"),
    ("varchar", "varchar(1)"),
    ("nchar", "nchar(1)"),
    ("varbinary", "varbinary(1)"),
    # float(n): 1..24 is real, 25..53 float ("float and real")
    ("float(24)", "real"),
    ("float(25)", "float"),
    ("double precision", "float"),
    ("integer", "int"),
    ("rowversion", "timestamp"),
])
def test_written_types_and_their_canonical_text(written: str, text: str) -> None:
    assert parse_type(written).text == text
    assert read_type(written).text == text


@pytest.mark.parametrize(("written", "message"), [
    ("varchar(8001)", "varchar length must be 1..8000 or max, not 8001"),
    ("nvarchar(4001)", "nvarchar length must be 1..4000 or max, not 4001"),
    ("char(max)", "char cannot be max"),
    ("decimal(39,0)", "decimal precision must be 1..38, not 39"),
    ("decimal(5,6)", "decimal scale must be 0..5, not 6"),
    ("datetime2(8)", "datetime2 precision must be 0..7, not 8"),
    ("float(54)", "float bits must be 1..53, not 54"),
    ("int(4)", "int takes no arguments"),
    ("nvarchr(10)", "unknown type 'nvarchr' (did you mean 'nvarchar'?)"),
    ("varchar(10", "cannot read type"),
])
def test_what_sql_server_refuses_is_refused_with_the_reason(written: str, message: str) -> None:
    with pytest.raises(InvalidType) as raised:
        parse_type(written)
    assert message in str(raised.value)


@given(st.text(max_size=30))
def test_read_type_never_raises_and_parse_type_raises_only_invalid_type(text: str) -> None:
    assert isinstance(read_type(text), SqlType)
    try:
        parsed = parse_type(text)
    except InvalidType:
        return
    assert read_type(text) == parsed


def test_read_type_keeps_what_a_catalog_holds_without_judging_it() -> None:
    assert read_type("dbo.MyType") == SqlType("dbo.mytype")  # a user type passes through by name
    assert read_type("varchar(9000)") == SqlType("varchar", 9000)
    assert read_type("TEXT(-1)") == SqlType("text")  # an argument a type cannot take: the name alone


# -- families, ranges, precedence ----------------------------------------------------------------------------------
def test_integer_ranges_are_the_documented_ones() -> None:
    # INTEGERS_PAGE: the range of each type, as the page writes it
    assert sqltypes.INTEGER_RANGES == {
        "tinyint": (0, 255),
        "smallint": (-32_768, 32_767),
        "int": (-2_147_483_648, 2_147_483_647),
        "bigint": (-9_223_372_036_854_775_808, 9_223_372_036_854_775_807),
    }


@pytest.mark.parametrize("name", ["smallint", "int", "bigint"])
def test_signed_integer_ranges_agree_with_their_storage_size(name: str) -> None:
    size = sqltypes.STORAGE_BYTES[name]
    low, high = sqltypes.INTEGER_RANGES[name]
    code = {2: "h", 4: "i", 8: "q"}[size]
    for bound in (low, high):
        assert struct.unpack(code, struct.pack(code, bound))[0] == bound
    with pytest.raises(struct.error):
        struct.pack(code, high + 1)
    with pytest.raises(struct.error):
        struct.pack(code, low - 1)


def test_integer_digits_are_the_digits_of_each_range() -> None:
    for name, (low, high) in sqltypes.INTEGER_RANGES.items():
        assert sqltypes.INTEGER_DIGITS[name] == len(str(max(abs(low), high)))


@given(st.sampled_from(sqltypes.INTEGERS), st.integers(-(2**64), 2**64))
def test_integer_fits_is_the_range(name: str, value: int) -> None:
    low, high = sqltypes.INTEGER_RANGES[name]
    assert sqltypes.integer_fits(name, value) is (low <= value <= high)
    smallest = sqltypes.smallest_integer_type(value)
    if smallest is not None:
        assert sqltypes.integer_fits(smallest, value)
        assert all(not sqltypes.integer_fits(n, value) for n in sqltypes.INTEGERS[:sqltypes.INTEGERS.index(smallest)])


def test_families() -> None:
    assert sqltypes.family("NVARCHAR") == "unicode"
    assert sqltypes.family("numeric") == "exact numeric"
    assert sqltypes.family("bit") == "exact numeric"
    assert sqltypes.family("real") == "approximate numeric"
    assert sqltypes.family("varbinary") == "binary"
    assert sqltypes.family("datetimeoffset") == "date and time"
    assert sqltypes.family("uniqueidentifier") == "other"
    assert parse_type("sysname").family == "unicode"
    assert set(sqltypes.STRINGS) == set(sqltypes.CHARACTER) | set(sqltypes.UNICODE)


def test_precedence_names_every_system_type_once() -> None:
    # PRECEDENCE_PAGE lists every system type but the CLR ones; numeric is decimal, rowversion timestamp
    assert len(set(sqltypes.PRECEDENCE)) == len(sqltypes.PRECEDENCE)
    clr = {"hierarchyid", "geography", "geometry"}
    assert set(sqltypes.PRECEDENCE) == set(sqltypes.FAMILIES) - clr - {"numeric"}
    rank = sqltypes.PRECEDENCE.index
    assert rank("datetime2") < rank("float") < rank("decimal") < rank("bigint") < rank("int") < rank("nvarchar")
    assert rank("nvarchar") < rank("varchar") < rank("binary")


def test_decimal_storage_bytes_follow_the_precision() -> None:
    # DECIMAL_PAGE: 1-9 digits take 5 bytes, 10-19 9, 20-28 13, 29-38 17
    assert [sqltypes.decimal_storage_bytes(p) for p in (1, 9, 10, 19, 20, 28, 29, 38)] == [5, 5, 9, 9, 13, 13, 17, 17]


# -- value checks --------------------------------------------------------------------------------------------------
@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-10**8, max_value=10**8),
       st.integers(1, 12), st.integers(0, 6))
def test_decimal_fits_is_the_rounded_value_within_the_precision(value: Decimal, precision: int, scale: int) -> None:
    scale = min(scale, precision)
    rounded = value.quantize(Decimal(1).scaleb(-scale), "ROUND_HALF_UP")
    assert sqltypes.decimal_fits(value, precision, scale) is (abs(rounded) < 10 ** (precision - scale))


def test_decimal_checks() -> None:
    assert sqltypes.decimal_fits(Decimal("999.994"), 5, 2)
    assert not sqltypes.decimal_fits(Decimal("999.995"), 5, 2)  # rounds to 1000.00: error 8115
    assert sqltypes.round_decimal(Decimal("-2.5"), 0) == Decimal("-3")  # half away from zero
    assert sqltypes.significant_digits(Decimal("12.500")) == 3
    assert sqltypes.significant_digits(Decimal("0.0012")) == 2
    assert sqltypes.decimal_type_of(Decimal("12.50")) == SqlType("decimal", precision=4, scale=2)
    assert sqltypes.decimal_type_of(Decimal("0.5")) == SqlType("decimal", precision=1, scale=1)


def test_text_fits_counts_utf16_units_and_drops_trailing_blanks() -> None:
    assert sqltypes.text_fits(parse_type("nvarchar(2)"), "😀")  # one character, two UTF-16 units
    assert not sqltypes.text_fits(parse_type("nvarchar(2)"), "a😀")
    assert sqltypes.text_fits(parse_type("varchar(3)"), "abc   ")  # blanks beyond the length are dropped
    assert not sqltypes.text_fits(parse_type("varchar(3)"), "abcd")
    assert sqltypes.text_fits(parse_type("varchar(max)"), "x" * 10_000)
    assert sqltypes.utf16_length("a😀é") == 4


# -- a float or real written as text (style 0) ---------------------------------------------------------------------
@pytest.mark.parametrize(("value", "text"), [
    # CAST_PAGE, float and real styles: 0 is "a maximum of 6 digits; use in scientific notation, when appropriate"
    (1.5e10, "1.5e+010"),
    (123456789.0, "1.23457e+008"),
    (0.1, "0.1"),
    (100000.0, "100000"),
    (1000000.0, "1e+006"),
    (0.0001, "0.0001"),
    (0.00001, "1e-005"),
    (-2.5e-7, "-2.5e-007"),
    (3.14159265, "3.14159"),
    (1e100, "1e+100"),
    (0.0, "0"),
])
def test_float_text_in_style_0(value: float, text: str) -> None:
    assert sqltypes.float_text(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_the_sqlite_form_of_float_text_agrees(value: float) -> None:
    with sqlite3.connect(":memory:") as connection:
        (written,) = connection.execute(f"SELECT {arithmetic.float_text_sql('?')}", (value,)).fetchone()
    assert written == sqltypes.float_text(value)


# -- one home: no other module spells the vocabulary ---------------------------------------------------------------
PACKAGE = Path(__file__).resolve().parents[2] / "pytest_opus"
#: the modules this home replaced; none may spell a type list or range of its own again
CONSUMERS = ("tsql/writes.py", "tsql/arithmetic.py", "tsql/dialect.py", "tsql/sqlite_schema.py",
             "expectations/sqltypes.py", "targets/sqlserver_catalog.py", "ledger.py")


#: the groups of types sqltypes names; a module writing out every member of one is spelling it again
GROUPS = {
    "INTEGERS": sqltypes.INTEGERS, "DECIMALS": sqltypes.DECIMALS, "APPROXIMATE": sqltypes.APPROXIMATE,
    "CHARACTER": sqltypes.CHARACTER, "UNICODE": sqltypes.UNICODE, "SHORT_STRINGS": sqltypes.SHORT_STRINGS,
    "MAX_TYPES": sqltypes.MAX_TYPES, "TIME_TYPES": sqltypes.TIME_TYPES, "MONEY": sqltypes.MONEY,
    "LENGTH_LIMITS": tuple(sqltypes.LENGTH_LIMITS),
}


@pytest.mark.parametrize("module", CONSUMERS)
def test_consumers_spell_no_type_vocabulary_of_their_own(module: str) -> None:
    tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Set | ast.List | ast.Tuple | ast.Dict):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            spelled = {i.value for i in items if isinstance(i, ast.Constant)}
            for group, members in GROUPS.items():
                assert not set(members) <= spelled, f"{module}:{node.lineno} spells sqltypes.{group} again"
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            assert abs(node.value) not in (255, 32_767, 32_768, 2**31 - 1, 2**31, 2**63 - 1, 2**63), (
                f"{module}:{node.lineno} spells an integer range: use sqltypes.INTEGER_RANGES")
