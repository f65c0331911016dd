"""Type, default and expression normalisation used by the schema expectations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.catalog import Column, Parameter
from pytest_opus.expectations.sqltypes import (
    DefaultValue,
    InvalidType,
    SqlType,
    expected_default,
    normalize_default,
    normalize_expression,
    parse_type,
    type_difference,
    type_of,
)

SAME_TYPES = [
    ("NVARCHAR(MAX)", "nvarchar(max)"),
    ("nvarchar(-1)", "nvarchar(max)"),
    ("nvarchar ( max )", "nvarchar(max)"),
    ("[nvarchar](50)", "nvarchar(50)"),
    ("INT", "int"),
    ("integer", "int"),
    ("decimal", "decimal(18,0)"),
    ("DECIMAL(18, 4)", "decimal(18,4)"),
    ("numeric(18,4)", "decimal(18,4)"),
    ("dec(10)", "decimal(10,0)"),
    ("varchar", "varchar(1)"),
    ("datetime2(7)", "datetime2"),
    ("sysname", "nvarchar(128)"),
    ("float(24)", "real"),
    ("float(53)", "float"),
    ("rowversion", "timestamp"),
    ("BIGINT", "bigint"),
]


@pytest.mark.parametrize(("written", "canonical"), SAME_TYPES)
def test_type_spellings_normalise_to_one_form(written: str, canonical: str) -> None:
    assert parse_type(written) == parse_type(canonical)
    assert parse_type(written).text == canonical


BAD_TYPES = [
    ("nvarchr(50)", "did you mean 'nvarchar'"),
    ("strng", "unknown type"),
    ("int(4)", "takes no arguments"),
    ("varchar(9000)", "1..8000"),
    ("nvarchar(5000)", "1..4000"),
    ("char(max)", "cannot be max"),
    ("decimal(40,2)", "precision must be 1..38"),
    ("decimal(5,6)", "scale must be 0..5"),
    ("datetime2(9)", "0..7"),
    ("varchar(5", "cannot read type"),
    ("", "cannot read type"),
]


@pytest.mark.parametrize(("written", "message"), BAD_TYPES)
def test_invalid_types_say_why(written: str, message: str) -> None:
    with pytest.raises(InvalidType, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_type(written)


CATALOG_TYPES = [
    (Column("c", 1, "nvarchar", max_length=-1), "nvarchar(max)"),
    (Column("c", 1, "varchar", max_length=50), "varchar(50)"),
    (Column("c", 1, "decimal", precision=18, scale=4), "decimal(18,4)"),
    (Column("c", 1, "numeric", precision=18, scale=4), "decimal(18,4)"),
    (Column("c", 1, "datetime2"), "datetime2"),
    (Column("c", 1, "INT"), "int"),
    (Parameter("@p", 1, "varchar", max_length=50), "varchar(50)"),
]


@pytest.mark.parametrize(("item", "text"), CATALOG_TYPES)
def test_catalog_types_read_like_written_types(item: Column | Parameter, text: str) -> None:
    assert type_of(item) == parse_type(text)


@pytest.mark.parametrize(("expected", "actual", "kind"), [
    ("varchar(50)", "nvarchar(50)", "type"),
    ("varchar(50)", "varchar(20)", "length"),
    ("nvarchar(max)", "nvarchar(4000)", "length"),
    ("decimal(18,4)", "decimal(18,2)", "precision"),
    ("decimal(18,4)", "decimal(10,4)", "precision"),
    ("datetime2(3)", "datetime2", None),  # unreported precision is not a difference
    ("int", "int", None),
])
def test_type_difference_names_the_aspect(expected: str, actual: str, kind: str | None) -> None:
    assert type_difference(parse_type(expected), parse_type(actual)) == kind


SAME_DEFAULTS = [
    ("('CREATE')", "'CREATE'"),
    ("(N'CREATE')", "('CREATE')"),
    ("('create')", "('CREATE')"),
    ("((0))", "0"),
    ("((0.0))", "(0)"),
    ("((-1))", "-1"),
    ("(getutcdate())", "GETUTCDATE()"),
    ("(getdate())", "(CURRENT_TIMESTAMP)"),
    ("(dateadd(day,(1),getdate()))", "dateadd(day, 1, getdate())"),
    ("('it''s')", "N'it''s'"),
    ("('0')", "((0))"),  # converted to the column's type, the stored value is the same
]


@pytest.mark.parametrize(("left", "right"), SAME_DEFAULTS)
def test_defaults_compare_by_meaning(left: str, right: str) -> None:
    assert normalize_default(left).same_meaning(normalize_default(right))


@pytest.mark.parametrize(("left", "right"), [
    ("('CREATE')", "('UPDATE')"),
    ("((0))", "((1))"),
    ("(getutcdate())", "(getdate())"),
    ("('1')", "((2))"),
])
def test_different_defaults_differ(left: str, right: str) -> None:
    assert not normalize_default(left).same_meaning(normalize_default(right))


@pytest.mark.parametrize(("written", "actual", "matches"), [
    ("CREATE", "('CREATE')", True),
    ("CREATE", "(N'CREATE')", True),
    ("'CREATE'", "('CREATE')", True),
    ("('CREATE')", "(N'create')", True),
    (0, "((0))", True),
    ("0", "((0))", True),
    ("utc_now", "(getutcdate())", True),
    ("utc_now", "(sysutcdatetime())", True),
    ("UTC_NOW", "(SYSUTCDATETIME())", True),
    ("utc_now", "(getdate())", False),
    ("now", "(getdate())", True),
    ("now", "(sysdatetime())", True),
    ("now", "(CURRENT_TIMESTAMP)", True),
    ("now", "(getutcdate())", False),
    ("none", None, True),
    (None, None, True),
    ("none", "((0))", False),
    ("CREATE", None, False),
    ("newid()", "(newid())", True),
    ("CURRENT_TIMESTAMP", "(getdate())", True),
    ("PENDING", "('PENDING ')", False),
])
def test_expected_default_matches(written: object, actual: str | None, matches: bool) -> None:
    assert expected_default(written).matches(actual) is matches


@pytest.mark.parametrize(("written", "message"), [
    (True, "true/false"),
    ("", "empty"),
    (float("inf"), "finite"),
    ([1], "not list"),
])
def test_unusable_defaults_are_rejected(written: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expected_default(written)


def test_default_descriptions_read_like_sql() -> None:
    assert expected_default("CREATE").describe() == "'CREATE'"
    assert expected_default("utc_now").describe() == "utc_now (getutcdate() or sysutcdatetime())"
    assert expected_default(None).describe() == "no default"
    assert expected_default("(N'X')").describe() == "(N'X')"


@pytest.mark.parametrize(("left", "right"), [
    ("([a]>(0))", "a > 0"),
    ("([status]='A' OR [status]='B')", "status IN ('A', 'B')"),
    ("([a]>(0) AND [b]<(5))", "a>0 and b<5"),
    ("((a+b))*(c)", "(a + b) * c"),
])
def test_check_expressions_compare_by_meaning(left: str, right: str) -> None:
    assert normalize_expression(left) == normalize_expression(right)


def test_parentheses_that_matter_are_kept() -> None:
    assert normalize_expression("(a+b)*c") != normalize_expression("a+b*c")


def test_unparseable_defaults_fall_back_to_text() -> None:
    assert normalize_default("(((") == DefaultValue("expression", "(((")
    assert normalize_default("( N'x' )").kind == "string"


@given(st.text(max_size=40))
def test_parse_type_raises_only_invalid_type(text: str) -> None:
    try:
        result = parse_type(text)
    except InvalidType:
        return
    assert isinstance(result, SqlType)
    assert parse_type(result.text) == result  # the canonical text reads back to itself


@given(st.text(max_size=40))
def test_default_normalisation_never_crashes(text: str) -> None:
    value = normalize_default(text)
    assert value.kind in ("string", "number", "expression")
    normalize_expression(text)
