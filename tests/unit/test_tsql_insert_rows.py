"""Every row of an INSERT of several rows counts (pytest_opus/tsql/writes.py, `_source_types`).

A table value constructor (`VALUES (...), (...)`) and a set operation (`SELECT ... UNION ALL SELECT ...`) have,
column by column, the type of highest precedence among their rows ("Table Value Constructor": the values
"follow the data type conversion properties of the UNION ALL syntax"), so a row that does not fit its column
fails the statement wherever it stands, and none of its rows are written. The runner used to type the source
by its first row only. A hypothesis test inserts random rows in a random order, both ways, and checks them
against each row inserted alone: the same values when every row fits alone, an error and nothing written when
one does not. tests/conformance/insert_rows.yaml holds the probes with SQL Server's documented answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import literal_rows, parser

# Hypothesis warns when a test raises the recursion limit, which the first batch parsed does: raise it first.
parser.make_recursion_room()


@pytest.fixture
def sandbox() -> Iterator[SandboxTarget]:
    with SandboxTarget() as target:
        yield target


def stored(target: SandboxTarget, table: str) -> list[tuple[str, Any]]:
    """The values of the table's column, each with its Python type (1 is not 1.0, nor '1')."""
    result = target.execute_script(f"SELECT a FROM dbo.{table}")
    assert result.error is None, result.error
    return [(type(row[0]).__name__, row[0]) for row in result.result_sets[-1].rows]


def inserted(target: SandboxTarget, table: str, column: str, insert: Callable[[str], str]) -> tuple[
        bool, list[tuple[str, Any]]]:
    """Create `table` with one column `a` of type `column`, run the INSERT `insert(table)` into it: (whether it
    failed, as an error of SQL Server's or as a refusal, and what the table holds after it)."""
    created = target.execute_script(f"CREATE TABLE dbo.{table} (a {column} NULL)")
    assert created.error is None, created.error
    result = target.execute_script(insert(table))
    return result.error is not None, stored(target, table)


# -- chosen cases -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("column", "rows", "error"), [
    ("NVARCHAR(3)", "(N'ab'), (N'abcdef')", 2628),
    ("NVARCHAR(3)", "(N'abcdef'), (N'ab')", 2628),
    ("NVARCHAR(3)", "(NULL), (N'abcd')", 2628),  # a first row of NULL types nothing
    ("VARCHAR(3)", "('ab'), (N'abcd')", 2628),
    ("INT", "(1), (3000000000)", 8115),
    ("INT", "(NULL), (-3000000000)", 8115),
    ("SMALLINT", "(1), (2.5), (40000)", 8115),  # numeric(p,1) beyond smallint: 8115, not 220
    ("DECIMAL(5,2)", "(1.5), (1234.5)", 8115),
    ("VARCHAR(10)", "('a'), (2)", 245),  # the text converted to int first
])
def test_a_later_row_that_does_not_fit_fails_the_insert(sandbox: SandboxTarget, column: str, rows: str,
                                                        error: int) -> None:
    assert sandbox.execute_script(f"CREATE TABLE dbo.T (a {column} NULL)").error is None
    result = sandbox.execute_script(f"INSERT INTO dbo.T (a) VALUES {rows}")
    assert result.error is not None and result.error.number == error
    assert stored(sandbox, "T") == []  # none of the statement's rows


@pytest.mark.parametrize(("column", "rows", "expected"), [
    ("INT", "(1), (2.5)", [1, 2]),  # 1 and 2.5 as numeric(p,1), then int: 1 and 2
    ("INT", "(2.5), (-1.5), (7)", [2, -1, 7]),
    ("VARCHAR(10)", "(' 7'), (2)", ["7", "2"]),  # ' 7' converted to int first: 7
    ("VARCHAR(10)", "('ab'), (N'abcdef')", ["ab", "abcdef"]),
    ("NVARCHAR(10)", "(CAST('ab' AS CHAR(3))), (CAST('abcd' AS CHAR(5)))", ["ab   ", "abcd "]),  # char(5): padded
    ("DATETIME2", "('2024-01-31 10:00:00.999'), (CAST('2024-02-01' AS DATETIME))",  # the text as datetime first
     ["2024-01-31 10:00:01.0000000", "2024-02-01 00:00:00.0000000"]),
    ("DECIMAL(10,4)", "(1.23456), (@m)", [1.2346, 1]),  # money ranks below decimal: numeric(20,5) holds both
])
def test_each_row_is_converted_to_the_rows_type_first(sandbox: SandboxTarget, column: str, rows: str,
                                                      expected: list[Any]) -> None:
    assert sandbox.execute_script(f"CREATE TABLE dbo.T (a {column} NULL)").error is None
    result = sandbox.execute_script(f"DECLARE @m MONEY = 1\nINSERT INTO dbo.T (a) VALUES {rows}")
    assert result.error is None, result.error
    assert [value for _kind, value in stored(sandbox, "T")] == expected


@pytest.mark.parametrize("source", [
    "VALUES ('2'), (2.5)",  # text to a decimal: its precision and scale are SQL Server's choice
    "VALUES (@m), (@b)",  # a bigint to money: beyond money's range, 8115 (not modelled)
    "VALUES (CAST('2024-01-01' AS DATE)), (1)",  # a number to a date
    "SELECT x FROM (VALUES (1)) AS v(x) UNION ALL SELECT CAST('2024-01-01' AS DATE)",  # a type not told, a date
])
def test_conversions_to_the_rows_type_the_sandbox_does_not_model_are_refused(sandbox: SandboxTarget,
                                                                             source: str) -> None:
    assert sandbox.execute_script("CREATE TABLE dbo.T (a NVARCHAR(40) NULL)").error is None
    result = sandbox.execute_script(f"DECLARE @m MONEY = 1, @b BIGINT = 2\nINSERT INTO dbo.T (a) {source}")
    assert type(result.error).__name__ == "UnsupportedConstruct", result.error
    assert "INSERT of rows" in str(result.error)  # the refusal of the rows' conversion, not of something else
    assert stored(sandbox, "T") == []


@pytest.mark.parametrize("fast", [True, False])
def test_an_insert_of_more_than_1000_rows_is_error_10738(sandbox: SandboxTarget, fast: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """SQL Server takes at most 1,000 rows in INSERT ... VALUES (error 10738 when the batch compiles, nothing
    of it run); as many rows in a derived table are allowed. The literal-rows fast path leaves it to the
    general path's compile checks."""
    monkeypatch.setattr(literal_rows, "ENABLED", fast)
    assert sandbox.execute_script("CREATE TABLE dbo.T (a INT NULL)").error is None
    many = ", ".join(f"({n})" for n in range(1001))
    result = sandbox.execute_script(f"PRINT 'ran'\nINSERT INTO dbo.T (a) VALUES {many}")
    assert result.error is not None and result.error.number == 10738, result.error
    assert "maximum allowed number of 1000 row values" in result.error.message
    assert stored(sandbox, "T") == []
    assert not any("ran" in str(m) for m in result.messages)  # a compile error: no statement of the batch ran
    allowed = sandbox.execute_script(f"INSERT INTO dbo.T (a) VALUES {many[:-8]}\n"
                                     f"INSERT INTO dbo.T (a) SELECT v FROM (VALUES {many}) AS r(v)")
    assert allowed.error is None, allowed.error
    assert len(stored(sandbox, "T")) == 2001


def test_each_query_of_a_union_is_typed_by_its_own_tables(sandbox: SandboxTarget) -> None:
    # S1.a fits the column, S2.a (of the same name) does not: the second query's column is S2's, nvarchar(50)
    setup = ("CREATE TABLE dbo.S1 (a NVARCHAR(3)); CREATE TABLE dbo.S2 (a NVARCHAR(50)); "
             "CREATE TABLE dbo.T (a NVARCHAR(3)); "
             "INSERT INTO dbo.S1 VALUES (N'ab'); INSERT INTO dbo.S2 VALUES (N'abc')")
    assert sandbox.execute_script(setup).error is None
    union = "INSERT INTO dbo.T (a) SELECT a FROM dbo.S1 UNION ALL SELECT a FROM dbo.S2"
    assert sandbox.execute_script(union).error is None
    assert sorted(stored(sandbox, "T")) == [("str", "ab"), ("str", "abc")]
    assert sandbox.execute_script("INSERT INTO dbo.S2 VALUES (N'abcdef')").error is None
    failed = sandbox.execute_script(union)
    assert failed.error is not None and failed.error.number == 2628
    assert len(stored(sandbox, "T")) == 2  # nothing of the failed statement


def test_a_value_of_unknown_type_among_known_rows_is_checked_when_it_comes(sandbox: SandboxTarget) -> None:
    # the derived table's column has a type the runner cannot tell: among rows of numbers, a number in it is
    # written, text in it is refused (SQL Server would convert it to the numbers' type first)
    assert sandbox.execute_script("CREATE TABLE dbo.T (a INT NULL)").error is None
    fine = sandbox.execute_script("INSERT INTO dbo.T (a) SELECT x FROM (VALUES (5)) AS v(x) UNION ALL SELECT 2")
    assert fine.error is None
    assert stored(sandbox, "T") == [("int", 5), ("int", 2)]
    text = sandbox.execute_script("INSERT INTO dbo.T (a) SELECT x FROM (VALUES ('5')) AS v(x) UNION ALL SELECT 2")
    assert type(text.error).__name__ == "UnsupportedConstruct"
    assert len(stored(sandbox, "T")) == 2  # nothing of the refused statement


# -- random rows, in a random order -----------------------------------------------------------------------------
NUMBER_COLUMNS = st.one_of(
    st.sampled_from(["INT", "TINYINT", "SMALLINT", "BIGINT", "FLOAT"]),
    st.builds(lambda p, s: f"DECIMAL({p},{min(s, p)})", st.integers(1, 12), st.integers(0, 4)),
)
TEXT_COLUMNS = st.builds("{}({})".format, st.sampled_from(["VARCHAR", "NVARCHAR", "CHAR", "NCHAR"]),
                         st.integers(1, 6))


def decimal_text(value: Decimal, scale: int) -> str:
    return f"{value:.{scale}f}"


NUMBERS = st.one_of(
    st.integers(-300, 300).map(str),
    st.sampled_from(["2147483647", "2147483648", "-2147483649", "3000000000", "255", "256", "32768", "-32769",
                     "9223372036854775807", "0.5", "-0.5", "999.995", "1234.5", "00012.50"]),
    st.builds(decimal_text, st.decimals(-(10**6), 10**6, places=3, allow_nan=False, allow_infinity=False),
              st.integers(0, 4)),
)
TEXT = st.text(st.characters(codec="cp1252", exclude_categories=["Cs", "Cc"]) | st.sampled_from("ā😀 '"),
               max_size=8)


def text_literal(text: str, national: bool) -> str:
    return ("N" if national else "") + "'" + text.replace("'", "''") + "'"


@st.composite
def inserts(draw: st.DrawFn) -> tuple[str, list[str], bool, bool]:
    """A column type, 2 to 5 literal rows of one kind (numbers for a numeric column, text for a character one;
    NULL now and then), in the order drawn, the form (VALUES or UNION ALL) and whether the fast path may run."""
    if draw(st.booleans()):
        column = draw(NUMBER_COLUMNS)
        cell = NUMBERS
    else:
        column = draw(TEXT_COLUMNS)
        cell = st.builds(text_literal, TEXT, st.booleans())
    rows = draw(st.lists(st.one_of(cell, cell, cell, st.just("NULL")), min_size=2, max_size=5))
    return column, draw(st.permutations(rows)), draw(st.booleans()), draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(statement=inserts())
def test_rows_inserted_together_are_each_row_inserted_alone(statement: tuple[str, list[str], bool, bool]) -> None:
    column, rows, union, fast = statement
    source = " UNION ALL ".join(f"SELECT {row}" for row in rows) if union else \
        "VALUES " + ", ".join(f"({row})" for row in rows)
    note(f"{column}: {source}")
    saved = literal_rows.MIN_CHARS
    literal_rows.MIN_CHARS = 0 if fast else saved  # (the fast path takes a VALUES list of literals, when on)
    target = SandboxTarget()
    try:
        alone = [inserted(target, f"A{i}", column, lambda table, row=row: f"INSERT INTO dbo.{table} (a) VALUES ({row})")
                 for i, row in enumerate(rows)]
        failed, written = inserted(target, "T", column, lambda table: f"INSERT INTO dbo.{table} (a) {source}")
    finally:
        literal_rows.MIN_CHARS = saved
        target.close()
    event(f"{'VALUES' if not union else 'UNION ALL'}, a row failing alone: {any(f for f, _v in alone)}")
    if any(fails for fails, _values in alone):
        assert failed  # a row that does not fit fails the statement, wherever it stands
        assert written == []  # and none of its rows are written
    else:
        assert not failed
        expected = Counter(value for _fails, values in alone for value in values)
        assert Counter(written) == expected  # (UNION ALL does not keep the order)
