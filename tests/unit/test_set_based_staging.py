"""Set-based staging: a described query is staged by one INSERT ... SELECT, with the same result as streaming it.

The set-based path is taken only where the source's declared types make the per-row conversions a
no-op (`fits_exactly`); these tests tie that rule to the converters themselves, and compare the two
paths row by row, through validation and the dry-run audit, on the same source rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_opus.catalog import Column
from pytest_opus.errors import OpusError
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import BoardMetadata, StagingError, UpdateOperations
from pytest_opus.updates.operations import SET_BASED, STREAMED, load_fields
from pytest_opus.updates.staging import JSON_FORMS_PROBE, JsonForms, column_converter, fits_exactly, single_select

ITEMS = "dbo.STG_MON_CustMasterSchedule"
#: The source table both paths read: each column a little narrower than its staging column.
SOURCE_DDL = (
    "CREATE TABLE dbo.SRC_Updates (run INT NOT NULL, item_id BIGINT NOT NULL, [AAG ORDER NUMBER] NVARCHAR(50), "
    "[ORDER STATUS] NVARCHAR(200), [ORDER QTY] INT, [CUSTOMER EX FACTORY DATE] DATE, "
    "[FINAL FOB (USD)] DECIMAL(12,4), [NOTES] NVARCHAR(MAX))"
)
COLUMNS = ["AAG ORDER NUMBER", "ORDER STATUS", "ORDER QTY", "CUSTOMER EX FACTORY DATE", "FINAL FOB (USD)", "NOTES"]


def _sandbox_forms() -> JsonForms:
    with SandboxTarget() as probe:
        return JsonForms.read(probe.execute(JSON_FORMS_PROBE)[0][0])


#: Whether the sandbox writes a decimal field set-based: only where its CONVERT of a decimal to text
#: keeps the scale, as SQL Server's does ("12.5000"); otherwise such a query is streamed (and says so).
DECIMALS_SET_BASED = _sandbox_forms().decimals
#: The columns the set-based queries read: the decimal one only where it can be written set-based.
QUERIED = [c for c in COLUMNS if DECIMALS_SET_BASED or c != "FINAL FOB (USD)"]
QUERY = "SELECT item_id, " + ", ".join(f"[{c}]" for c in QUERIED) + " FROM dbo.SRC_Updates WHERE run = ?"
RUNS = itertools.count(1)
ITEM_IDS = itertools.count(10**12)

#: The `open_copy` fixture (tests/conftest.py): a sandbox file -> a private copy, opened.
OpenCopy = Callable[[Path], AbstractContextManager[SandboxTarget]]


@pytest.fixture(scope="module")
def sandbox(deployed_file: Path, open_copy: OpenCopy) -> Iterator[SandboxTarget]:
    with open_copy(deployed_file) as target:
        target.execute(SOURCE_DDL)
        yield target



def stored_as_given(target: SandboxTarget, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Rows written straight into SQLite, past the runner's conversions: values SQLite keeps but SQL
    Server would refuse, as a sandbox file written by another tool (or an older runner) can hold."""
    names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    target.driver.run_many(f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in columns)})', rows)


@pytest.fixture(scope="module")
def ops(sandbox: SandboxTarget, board: BoardMetadata) -> UpdateOperations:
    return UpdateOperations(sandbox, board, user_id="set-based")


def streamed(ops: UpdateOperations, sql: str, update_type: str = "update_items", **kwargs: Any) -> Any:
    """Stage as a target that cannot describe queries would: row by row."""
    with mock.patch.object(ops.target, "describe_query", return_value=None):
        result = ops.stage_updates_from_query(sql, update_type, **kwargs)
    assert result.method == STREAMED
    return result


# -- the rule: a fitting type needs no conversion ---------------------------------------------------

INTEGERS = {"tinyint": (0, 255), "smallint": (-(2**15), 2**15 - 1), "int": (-(2**31), 2**31 - 1),
            "bigint": (-(2**63), 2**63 - 1)}


@st.composite
def sql_types(draw: st.DrawFn) -> Column:
    kind = draw(st.sampled_from([*INTEGERS, "bit", "decimal", "char", "varchar", "nchar", "nvarchar", "date"]))
    if kind == "decimal":
        precision = draw(st.integers(1, 38))
        return Column("c", 1, kind, precision=precision, scale=draw(st.integers(0, precision)))
    if kind in ("char", "varchar", "nchar", "nvarchar"):
        return Column("c", 1, kind, max_length=draw(st.one_of(st.integers(1, 300), st.just(-1))))
    return Column("c", 1, kind)


def values_of(column: Column) -> st.SearchStrategy[Any]:
    """Values SQL Server can hold in `column`, as pyodbc returns them; the extremes come first."""
    kind = column.data_type
    if kind in INTEGERS:
        low, high = INTEGERS[kind]
        return st.one_of(st.sampled_from([low, high]), st.integers(low, high))
    if kind == "bit":
        return st.booleans()
    if kind == "decimal":
        precision, scale = column.precision or 18, column.scale or 0
        largest = Decimal(f"{'9' * (precision - scale) or '0'}.{'9' * scale}")
        return st.one_of(
            st.sampled_from([largest, largest.copy_negate()]),  # unary minus would round to 28 digits
            st.decimals(min_value=largest.copy_negate(), max_value=largest, places=scale,
                        allow_nan=False, allow_infinity=False),
        )
    if kind == "date":
        return st.dates()
    size = 60 if column.max_length == -1 else column.max_length
    alphabet = st.characters(codec="latin-1" if kind in ("char", "varchar") else None,
                             exclude_categories=("Cs",), exclude_characters="\x00")
    fixed = kind in ("char", "nchar")  # padded to their length, as SQL Server returns them
    text = st.text(alphabet, min_size=size if fixed else 0, max_size=size)
    return text.map(lambda t: t.encode("utf-16-le")[: 2 * size].decode("utf-16-le", "ignore"))


def same_family(source: Column) -> st.SearchStrategy[Column]:
    """Staging column types near `source`: most of them fit it, some just miss."""
    kind = source.data_type
    if kind in INTEGERS or kind == "bit":
        return st.builds(lambda k: Column("c", 1, k), st.sampled_from([*INTEGERS, "bit", "decimal"]))
    if kind == "decimal":
        return st.builds(lambda p, s: Column("c", 1, "decimal", precision=p, scale=min(s, p)),
                         st.integers(1, 38), st.integers(0, 38))
    if kind in ("char", "varchar", "nchar", "nvarchar"):
        return st.builds(lambda k, n: Column("c", 1, k, max_length=n),
                         st.sampled_from(["char", "varchar", "nchar", "nvarchar"]),
                         st.one_of(st.integers(1, 301), st.just(-1)))
    return st.just(Column("c", 1, kind))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), source=sql_types())
def test_a_fitting_source_type_needs_no_conversion(data: st.DataObject, source: Column) -> None:
    """fits_exactly(source, column) promises every value of `source` goes into `column` as it is;
    the streamed path's converter must agree, value for value (dates as ISO text, bits as 0/1)."""
    column = data.draw(st.one_of(sql_types(), same_family(source)))
    assume(fits_exactly(source, column))
    value = data.draw(values_of(source))
    converted = column_converter(column)(value)
    expected = value.isoformat() if isinstance(value, date) else int(value) if isinstance(value, bool) else value
    assert converted == expected
    assert converted is not None


@pytest.mark.parametrize(
    ("source", "column"),
    [
        (Column("c", 1, "bigint"), Column("c", 1, "int")),
        (Column("c", 1, "int"), Column("c", 1, "decimal", precision=18, scale=9)),
        (Column("c", 1, "decimal", precision=18, scale=4), Column("c", 1, "decimal", precision=18, scale=2)),
        (Column("c", 1, "decimal", precision=18, scale=4), Column("c", 1, "decimal", precision=17, scale=4)),
        (Column("c", 1, "nvarchar", max_length=201), Column("c", 1, "nvarchar", max_length=200)),
        (Column("c", 1, "nvarchar", max_length=-1), Column("c", 1, "nvarchar", max_length=4000)),
        (Column("c", 1, "tinyint"), Column("c", 1, "bit")),
    ],
)
def test_a_source_type_that_does_not_fit_has_a_value_the_converter_refuses(source: Column, column: Column) -> None:
    """The rule is not looser than it must be: for each refused pair, an extreme value shows why."""
    assert not fits_exactly(source, column)
    extremes = {
        "bigint": 2**63 - 1, "int": 2**31 - 1, "tinyint": 255,
        "decimal": Decimal("99999999999999.9999"),  # the largest decimal(18,4)
        "nvarchar": "é" * (source.max_length if source.max_length and source.max_length > 0 else 4001),
    }
    assert column_converter(column)(extremes[source.data_type]) is None


def test_unicode_text_into_a_non_unicode_column_is_never_set_based() -> None:
    """Stricter than the converter on purpose: SQL Server would map characters outside the column's
    code page to '?', which a copy inside the database would do silently."""
    assert not fits_exactly(Column("c", 1, "nvarchar", max_length=10), Column("c", 1, "varchar", max_length=10))
    assert fits_exactly(Column("c", 1, "varchar", max_length=10), Column("c", 1, "nvarchar", max_length=10))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a, b FROM dbo.T WHERE c = ?", True),
        ("SELECT TOP (5) a FROM dbo.T AS t JOIN dbo.U AS u ON t.k = u.k -- trailing comment", True),
        ("SELECT a FROM dbo.T ORDER BY a", False),
        ("WITH x AS (SELECT a FROM dbo.T) SELECT a FROM x", False),
        ("SELECT a FROM dbo.T;", False),
        ("SELECT a INTO #t FROM dbo.T", False),
        ("SELECT a FROM dbo.T UNION SELECT a FROM dbo.U", False),
        ("EXEC dbo.GetRows", False),
        ("SELECT a FROM dbo.T FOR JSON PATH", False),
        ("SELECT (", False),
    ],
)
def test_only_a_single_plain_select_becomes_a_derived_table(sql: str, expected: bool) -> None:
    assert single_select(sql) is expected


# -- the two paths agree ----------------------------------------------------------------------------

#: Basic Multilingual Plane only near length limits: the sandbox's SQLite counts a character outside
#: it once where SQL Server and monday count two (docs/updates.md, Limits), on both paths alike.
BMP = st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",))
TEXT = st.one_of(
    st.none(),
    st.sampled_from(["'; DROP TABLE x; --", '"quoted"', "back\\slash", "nul\x00inside", "", " ", "a/b", "SHIPPED"]),
    st.text(BMP, max_size=30),
)
ROWS = st.lists(
    st.fixed_dictionaries({
        "AAG ORDER NUMBER": st.one_of(TEXT, st.text(BMP, min_size=45, max_size=50)),
        "ORDER STATUS": st.one_of(TEXT, st.sampled_from(["RECEIVED", "in production", " SHIPPED ", "LOST"])),
        "ORDER QTY": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1), st.integers(-3, 10_000_003)),
        "CUSTOMER EX FACTORY DATE": st.one_of(st.none(), st.dates()),
        # The sandbox keeps decimals as SQLite numbers: exact to 15 significant digits.
        "FINAL FOB (USD)": st.one_of(
            st.none(), st.decimals(min_value=-(10**7), max_value=10**7, places=4, allow_nan=False, allow_infinity=False)
        ),
        "NOTES": st.one_of(TEXT, st.text(BMP, min_size=1995, max_size=2005)),
    }),
    min_size=1,
    max_size=12,
)


def staged_rows(target: SandboxTarget, batch_id: str) -> list[tuple[Any, ...]]:
    rows = target.execute(
        "SELECT stg_monday_item_id, " + ", ".join(f"[{c}]" for c in COLUMNS) + ", update_fields, update_operation, "
        "source_table, source_query, stg_status, validation_status, validation_errors "
        f"FROM {ITEMS} WHERE update_batch_id = ? ORDER BY stg_monday_item_id",
        [batch_id],
    )
    # update_fields as text: the two paths must write the same bytes, not only the same values
    return [(*row[:7], row[7], load_fields(row[7]), *row[8:]) for row in rows]


def audit_rows(target: SandboxTarget, batch_id: str) -> list[tuple[Any, ...]]:
    return sorted(target.execute(
        "SELECT monday_item_id, column_id, old_value, new_value, source_system FROM dbo.MON_UpdateAudit "
        "WHERE batch_id = ?", [batch_id]))


#: Values SQL Server would refuse (or round) in the source column, which SQLite stores as given.
STRAYS: dict[str, list[Any]] = {
    # (UTF-16 length is checked apart, in test_the_sandbox_gives_no_type_...: an emoji stray would
    # meet the sandbox's known BMP limit of the length *rule* on both paths, docs/updates.md, Limits)
    "AAG ORDER NUMBER": ["x" * 51, "é" * 51],
    "ORDER QTY": [1.5, "abc", 2**40],
    "CUSTOMER EX FACTORY DATE": ["2024-02-30", "soon", "0000-01-01", 20240101],
    "FINAL FOB (USD)": [1.23456, "n/a", 10**9, -(2**63)],  # decimal(12,4) has 8 integer digits
}
if not DECIMALS_SET_BASED:
    del STRAYS["FINAL FOB (USD)"]
STRAY = st.one_of(st.none(), st.tuples(st.sampled_from(sorted(STRAYS)), st.integers(0, 11), st.integers(0, 4)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, stray=STRAY)
def test_set_based_and_streamed_staging_agree(rows: list[dict[str, Any]], stray: tuple[str, int, int] | None,
                                             ops: UpdateOperations, sandbox: SandboxTarget) -> None:
    """The same source rows, staged both ways: the same staged rows, validation results and audit rows.

    With a value the column's type does not allow (SQLite stores it anyway), the query is streamed.
    """
    if stray is not None:
        column, row, which = stray
        rows[row % len(rows)][column] = STRAYS[column][which % len(STRAYS[column])]
    run = next(RUNS)
    stored_as_given(sandbox, "SRC_Updates", ["run", "item_id", *COLUMNS],
                    [[run, next(ITEM_IDS), *(row[c] for c in COLUMNS)] for row in rows])
    fast = ops.stage_updates_from_query(QUERY, "update_items", source_table="dbo.SRC_Updates", params=[run])
    if stray is None:
        assert (fast.method, fast.streamed_because) == (SET_BASED, "")
    else:
        assert fast.method == STREAMED
        assert f"[{stray[0]}]" in fast.streamed_because and "the sandbox holds values" in fast.streamed_because
    slow = streamed(ops, QUERY, source_table="dbo.SRC_Updates", params=[run])
    assert fast.rows_staged == slow.rows_staged == len(rows)
    assert staged_rows(sandbox, fast.batch_id) == staged_rows(sandbox, slow.batch_id)

    checked = [ops.validate_staged_updates(b) for b in (fast.batch_id, slow.batch_id)]
    assert (checked[0].valid, checked[0].invalid, checked[0].reasons) == (
        checked[1].valid, checked[1].invalid, checked[1].reasons)
    assert staged_rows(sandbox, fast.batch_id) == staged_rows(sandbox, slow.batch_id)
    if checked[0].valid:
        processed = [ops.process_staged_updates(b) for b in (fast.batch_id, slow.batch_id)]
        assert processed[0].audit_rows == processed[1].audit_rows
        assert audit_rows(sandbox, fast.batch_id) == audit_rows(sandbox, slow.batch_id)


def test_decimals_beyond_what_the_sandbox_keeps_exactly_are_streamed(sandbox: SandboxTarget,
                                                                    ops: UpdateOperations) -> None:
    """json_object writes 15 significant digits; a sandbox decimal that needs more is streamed."""
    sandbox.execute("CREATE TABLE dbo.SRC_Wide (item_id BIGINT NOT NULL, [FINAL FOB (USD)] DECIMAL(18,4))")
    sql = "SELECT item_id, [FINAL FOB (USD)] FROM dbo.SRC_Wide"
    sandbox.execute("INSERT INTO dbo.SRC_Wide VALUES (?, ?)", [next(ITEM_IDS), Decimal("12345678901.2345")])
    first = ops.stage_updates_from_query(sql, "update_items")
    if not DECIMALS_SET_BASED:
        assert first.method == STREAMED and "drops its scale" in first.streamed_because
        return
    assert first.method == SET_BASED  # 15 digits
    wide = Decimal("123456789012.3456")  # 16 digits: the sandbox's INSERT refuses it (SQLite keeps 15) ...
    with pytest.raises(OpusError, match="more than 15 significant digits"):
        sandbox.execute("INSERT INTO dbo.SRC_Wide VALUES (?, ?)", [next(ITEM_IDS), wide])
    # ... but a sandbox file written before that refusal, or by another tool, can hold one. Planted through
    # the raw SQLite connection, it must not be staged set-based (json_object would write it rounded to 15
    # digits): the streamed path takes it, and refuses it when writing the staging row, staging nothing
    sandbox.driver.connection.execute("INSERT INTO SRC_Wide VALUES (?, ?)", (next(ITEM_IDS), str(wide)))
    staged_before = sandbox.execute(f"SELECT COUNT(*) FROM {ITEMS}")
    with pytest.raises(OpusError, match="more than 15 significant digits written to a decimal column"):
        ops.stage_updates_from_query(sql, "update_items")
    assert sandbox.execute(f"SELECT COUNT(*) FROM {ITEMS}") == staged_before


def test_more_updated_columns_than_one_sqlite_function_takes(sandbox: SandboxTarget, ops: UpdateOperations) -> None:
    """70 updated columns: update_fields is built in parts (SQLite allows 127 function arguments)."""
    table = sandbox.catalog().table(ITEMS)
    assert table is not None
    skip = {"stg_monday_item_id", "stg_monday_parent_item_id", "update_operation", "update_fields", "source_table",
            "source_query", "update_batch_id", "validation_status", "validation_errors"}
    columns = [c for c in table.columns
               if c.name not in skip and not c.name.startswith("stg_") and "/" not in c.name and "." not in c.name
               and c.data_type in ("nvarchar", "varchar", "int", "bigint", "date")
               + (("decimal",) if DECIMALS_SET_BASED else ())][:70]
    assert len(columns) == 70
    sandbox.execute("CREATE TABLE dbo.SRC_Many (item_id BIGINT NOT NULL, "
                    + ", ".join(f"[{c.name}] {c.type_text}" for c in columns) + ")")
    sample = {"nvarchar": "text", "varchar": "text", "int": 7, "bigint": 7, "decimal": Decimal("1.5"),
              "date": "2025-01-02"}
    for n in range(3):
        values = [None if (i + n) % 3 == 0 else sample[c.data_type] for i, c in enumerate(columns)]
        sandbox.execute(f"INSERT INTO dbo.SRC_Many VALUES ({', '.join('?' * (len(columns) + 1))})",
                        [next(ITEM_IDS), *values])
    sql = "SELECT item_id, " + ", ".join(f"[{c.name}]" for c in columns) + " FROM dbo.SRC_Many"
    fast = ops.stage_updates_from_query(sql, "update_items")
    slow = streamed(ops, sql)
    assert (fast.method, fast.rows_staged) == (SET_BASED, slow.rows_staged) == (SET_BASED, 3)
    read = f"SELECT stg_monday_item_id, update_fields FROM {ITEMS} WHERE update_batch_id = ? ORDER BY 1"
    fast_rows = [(i, load_fields(f)) for i, f in sandbox.execute(read, [fast.batch_id])]
    assert fast_rows == [(i, load_fields(f)) for i, f in sandbox.execute(read, [slow.batch_id])]
    assert all(len(fields) == 70 for _, fields in fast_rows)


def test_a_decimal_written_as_a_json_number_plans_exactly() -> None:
    """SQL Server's FOR JSON writes DECIMAL(18,4) as a number with all 18 digits; read as a float it
    would lose the last ones, so update_fields is read with exact decimals."""
    fields = load_fields('{"FINAL FOB (USD)":12345678901234.5678,"ORDER QTY":7}')
    assert fields == {"FINAL FOB (USD)": Decimal("12345678901234.5678"), "ORDER QTY": 7}


# -- when the rows are streamed instead, and why ----------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "because"),
    [
        ("SELECT item_id, CASE WHEN [ORDER QTY] > 0 THEN N'SHIPPED' END AS [ORDER STATUS] FROM dbo.SRC_Updates "
         "WHERE run = {run}", "type of [ORDER STATUS] is not known"),
        ("SELECT item_id, [ORDER QTY] FROM dbo.SRC_Updates WHERE run = {run} ORDER BY item_id", "not a single SELECT"),
        ("SELECT item_id, [NOTES] AS [AAG ORDER NUMBER] FROM dbo.SRC_Updates WHERE run = {run}",
         "[AAG ORDER NUMBER] is nvarchar(max), which does not always fit nvarchar(200)"),
        ("SELECT item_id, [ORDER STATUS] AS [FINAL PRICES Y/N] FROM dbo.SRC_Updates WHERE run = {run}",
         "needs escaping as a JSON key"),
    ],
)
def test_a_query_that_cannot_be_staged_set_based_is_streamed_and_says_why(
    ops: UpdateOperations, sandbox: SandboxTarget, sql: str, because: str
) -> None:
    run = next(RUNS)
    sandbox.execute("INSERT INTO dbo.SRC_Updates (run, item_id, [ORDER QTY]) VALUES (?, ?, 5)", [run, next(ITEM_IDS)])
    result = ops.stage_updates_from_query(sql.format(run=run), "update_items")
    assert result.method == STREAMED
    assert because in result.streamed_because
    assert result.rows_staged == 1


def test_subitems_with_required_columns_from_nullable_sources_are_streamed(ops: UpdateOperations) -> None:
    """A required column fed by a nullable source is checked row by row, so a NULL is refused with its row."""
    sql = ("SELECT TOP (3) [Item ID] AS item_id, [Name], [Order Qty] AS ORDER_QTY, [Name] AS Size "
           "FROM dbo.MON_CustMasterSchedule_Subitems WHERE [Order Qty] IS NOT NULL")
    result = ops.stage_updates_from_query(sql, "update_subitems")
    assert result.method == STREAMED
    assert "required column" in result.streamed_because
    assert result.rows_staged == 3


def _count(target: SandboxTarget) -> int:
    return int(target.execute(f"SELECT COUNT(*) FROM {ITEMS}")[0][0])


def test_a_set_based_batch_over_the_limit_stages_nothing(sandbox: SandboxTarget, board: BoardMetadata) -> None:
    import dataclasses

    op = board.operation("update_items")
    small = UpdateOperations(sandbox, dataclasses.replace(
        board, operations={**board.operations, "update_items": dataclasses.replace(op, max_batch_size=2)}))
    run = next(RUNS)
    sandbox.executemany("INSERT INTO dbo.SRC_Updates (run, item_id) VALUES (?, ?)",
                        [[run, next(ITEM_IDS)] for _ in range(3)])
    before = _count(sandbox)
    with pytest.raises(StagingError, match="more than 2 rows"):
        small.stage_updates_from_query(QUERY, "update_items", params=[run])
    assert _count(sandbox) == before
    sandbox.execute("DELETE FROM dbo.SRC_Updates WHERE run = ? AND item_id = (SELECT MAX(item_id) FROM "
                    "dbo.SRC_Updates WHERE run = ?)", [run, run])
    assert small.stage_updates_from_query(QUERY, "update_items", params=[run]).method == SET_BASED
    assert _count(sandbox) == before + 2


def test_a_set_based_query_with_no_rows_stages_nothing(ops: UpdateOperations, sandbox: SandboxTarget) -> None:
    before = _count(sandbox)
    with pytest.raises(StagingError, match="no rows"):
        ops.stage_updates_from_query(QUERY, "update_items", params=[-1])
    assert _count(sandbox) == before


def test_a_database_error_in_the_query_reaches_the_caller(ops: UpdateOperations, sandbox: SandboxTarget) -> None:
    """A query the database refuses is its error, not a silent fall back; nothing is staged."""
    run = next(RUNS)
    sandbox.execute("INSERT INTO dbo.SRC_Updates (run, item_id) VALUES (?, ?)", [run, next(ITEM_IDS)])
    before = _count(sandbox)
    with pytest.raises(OpusError):
        ops.stage_updates_from_query(QUERY.replace("run = ?", "run = ? AND no_such_column = 1"), "update_items",
                                     params=[run])
    assert _count(sandbox) == before


def test_a_set_based_insert_that_fails_part_way_stages_nothing(deployed: SandboxTarget, board: BoardMetadata) -> None:
    """The INSERT ... SELECT is one statement in one transaction: a row refused half way through (here
    by a trigger planted with SQLite itself) leaves none of the rows before it."""
    deployed.execute(SOURCE_DDL)
    deployed.executemany("INSERT INTO dbo.SRC_Updates (run, item_id, [ORDER QTY]) VALUES (1, ?, ?)",
                         [(next(ITEM_IDS), n) for n in range(100)])
    deployed.driver.connection.execute(
        'CREATE TRIGGER planted BEFORE INSERT ON "STG_MON_CustMasterSchedule" '
        "WHEN NEW.\"ORDER QTY\" = 50 BEGIN SELECT RAISE(ABORT, 'row 50 refused'); END"
    )
    ops = UpdateOperations(deployed, board)
    before = _count(deployed)
    with pytest.raises(OpusError, match="row 50 refused"):
        ops.stage_updates_from_query(QUERY, "update_items", params=[1])
    assert _count(deployed) == before
    deployed.driver.connection.execute("DROP TRIGGER planted")
    assert ops.stage_updates_from_query(QUERY, "update_items", params=[1]).method == SET_BASED
    assert _count(deployed) == before + 100


def test_staging_a_large_batch_sends_one_statement(sandbox: SandboxTarget, board: BoardMetadata) -> None:
    ops = UpdateOperations(sandbox, board)
    run = next(RUNS)
    sandbox.executemany("INSERT INTO dbo.SRC_Updates (run, item_id, [ORDER QTY]) VALUES (?, ?, ?)",
                        [[run, next(ITEM_IDS), n] for n in range(5000)])
    before = ops.statements
    result = ops.stage_updates_from_query(QUERY, "update_items", params=[run])
    assert (result.method, result.rows_staged) == (SET_BASED, 5000)
    # the batch-id check, the INSERT ... SELECT and its count: the same for 5 rows or 5,000
    assert ops.statements - before == 3


# -- describing a query on the sandbox ---------------------------------------------------------------


def test_the_sandbox_describes_columns_read_straight_from_catalog_tables(sandbox: SandboxTarget) -> None:
    def described(sql: str) -> list[tuple[str, str | None, bool | None]] | None:
        columns = sandbox.describe_query(sql)
        if columns is None:
            return None
        return [(c.name, c.type.type_text if c.type else None, c.type.nullable if c.type else None) for c in columns]

    # (declared types only: check_values is what looks at the values)
    assert described("SELECT s.item_id AS id, [ORDER QTY], run + 1 AS next, N'x' AS k FROM dbo.SRC_Updates AS s "
                     "WHERE run = 0") == [
        ("id", "bigint", False), ("ORDER QTY", "int", True), ("next", None, None), ("k", None, None)]
    # An outer join can make any column NULL; a column two tables have is ambiguous without its table.
    assert described(
        "SELECT s.run, [ORDER QTY], item_id FROM dbo.SRC_Updates AS s "
        "LEFT JOIN dbo.MON_UpdateAudit AS a ON a.audit_id = s.run WHERE s.run = 0"
    ) == [("run", "int", True), ("ORDER QTY", "int", True), ("item_id", "bigint", True)]
    assert described("SELECT batch_id FROM dbo.SRC_Updates, dbo.MON_UpdateAudit") == [
        ("batch_id", "varchar(50)", False)]
    assert described("SELECT run FROM (SELECT run FROM dbo.SRC_Updates) AS d") == [("run", None, None)]
    assert described("SELECT * FROM dbo.SRC_Updates") is None
    assert described("SELECT run FROM dbo.SRC_Updates UNION SELECT 1") is None
    assert described("EXEC dbo.SP_RollbackBatch 'x', 'y'") is None


def test_the_sandbox_gives_no_type_to_a_column_holding_values_its_type_does_not_allow() -> None:
    """SQLite stores what it is given; describe_query checks the query's values against each type."""
    with SandboxTarget() as sandbox:
        sandbox.execute("CREATE TABLE dbo.T (n INT, d DECIMAL(5,2), t NVARCHAR(3), day DATE, ok BIGINT)")
        rows = [(1, Decimal("1.25"), "abc", "2024-02-29", 1), (2**31, Decimal("1.25"), "abc", "2024-02-29", 2),
                (3, Decimal("1.255"), "abc", "2024-02-29", 3), (4, Decimal("1.25"), "abcd", "2024-02-29", 4),
                (5, Decimal("1.25"), "abc", "2023-02-29", 5), (6, Decimal("1.25"), "\U0001F600\U0001F600", None, 6),
                (7, -(2**63), "abc", "2024-02-29", 7)]  # SQLite's abs() of -2^63 would be an error
        stored_as_given(sandbox, "T", ["n", "d", "t", "day", "ok"], [list(r) for r in rows])

        def untyped(where: str) -> dict[str, str]:
            sql = f"SELECT n, d, t, day, ok FROM dbo.T WHERE ok {where}"
            described = sandbox.describe_query(sql)
            assert described is not None and all(c.type is not None for c in described)  # declared types
            return {c.name: c.untyped_because for c in sandbox.check_values(sql, (), described) if c.type is None}

        assert untyped("= 1") == {}
        for ok, column in [(2, "n"), (3, "d"), (4, "t"), (5, "day"), (6, "t"), (7, "d")]:
            assert list(untyped(f"IN (1, {ok})")) == [column]
            assert "the sandbox holds values that type does not allow" in untyped(f"IN (1, {ok})")[column]
        assert set(untyped(">= 1")) == {"n", "d", "t", "day"}


# -- the same update_fields text over the SQLite ODBC driver --------------------------------------------


@pytest.fixture(scope="module")
def over_odbc(deployed_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpdateOperations]:
    """The deployed sandbox file opened through the SQLite3 ODBC driver (skipped without it, failed in CI)."""
    import shutil

    from test_odbc_sqlite import _require_sqlite_odbc, sqlite_dsn

    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget
    from pytest_opus.updates import load_board

    _require_sqlite_odbc()
    path = tmp_path_factory.mktemp("odbc-json") / "db.sqlite"
    shutil.copyfile(deployed_file, path)
    target = OdbcSqliteTarget(sqlite_dsn(path))
    target.execute(SOURCE_DDL)
    boards = Path(__file__).resolve().parents[2] / "expectations" / "boards"
    board = load_board(boards / "customer_master_schedule.yaml")
    yield UpdateOperations(target, board, user_id="odbc")
    target.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
def test_both_paths_write_the_same_update_fields_over_odbc(rows: list[dict[str, Any]],
                                                          over_odbc: UpdateOperations) -> None:
    target = over_odbc.target
    run = next(RUNS)
    target.executemany(f"INSERT INTO dbo.SRC_Updates (run, item_id, {', '.join(f'[{c}]' for c in COLUMNS)}) "
                       f"VALUES ({', '.join('?' * (len(COLUMNS) + 2))})",
                       [[run, next(ITEM_IDS), *(row[c] for c in COLUMNS)] for row in rows])
    fast = over_odbc.stage_updates_from_query(QUERY, "update_items", params=[run])
    assert fast.method == SET_BASED, fast.streamed_because
    slow = streamed(over_odbc, QUERY, params=[run])
    read = f"SELECT stg_monday_item_id, update_fields FROM {ITEMS} WHERE update_batch_id = ? ORDER BY 1"
    assert target.execute(read, [fast.batch_id]) == target.execute(read, [slow.batch_id])
