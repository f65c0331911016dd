"""The fast path for a batch that is one INSERT of literal rows (pytest_opus/tsql/literal_rows.py, issue 14):
it must write exactly what the general path writes. Each test runs the same T-SQL with the fast path on and
off and compares what a user can see: every stored value with its SQLite storage class, @@ROWCOUNT, the
IDENTITY values and @@IDENTITY, and an error's kind, number and text, with the table as it was. The tests also
check that the fast path is really taken where it should be, and that the statements it must not take
(expressions, unknown tables or columns, rows of another width, ...) take the general path.
"""

from __future__ import annotations

import datetime
import itertools
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pytest_opus.errors import ScriptError  # noqa: E402
from pytest_opus.targets.sandbox import SandboxTarget, build_baseline  # noqa: E402
from pytest_opus.tsql import literal_rows, parser, translation_store  # noqa: E402

# Hypothesis warns when a test raises the recursion limit, which the first batch parsed does: raise it first.
parser.make_recursion_room()
ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "sql" / "baseline"


@contextmanager
def fast_path(on: bool, taken: list[int] | None = None) -> Iterator[None]:
    """The fast path on (for statements of any length) or off; `taken` counts the statements it ran."""
    saved = literal_rows.ENABLED, literal_rows.MIN_CHARS, literal_rows.run
    original = literal_rows.run

    def counting(*args: Any) -> None:
        if taken is not None:
            taken.append(1)
        original(*args)

    literal_rows.ENABLED, literal_rows.MIN_CHARS, literal_rows.run = on, 0, counting  # type: ignore[assignment]
    try:
        yield
    finally:
        literal_rows.ENABLED, literal_rows.MIN_CHARS, literal_rows.run = saved  # type: ignore[assignment]


def rows_of(connection: Any, table: str, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of `table` in rowid order: each value with its storage class (typeof); the columns in `skip`
    (the clock's) by storage class only."""
    columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
    picked = ", ".join(f'typeof("{c}")' if c in skip else f'"{c}", typeof("{c}")' for c in columns)
    return [tuple(r) for r in connection.execute(f'SELECT {picked} FROM "{table}" ORDER BY rowid')]


def outcome(on: bool, setup: list[str], insert: str, table: str = "T",
            clock: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """Run the `setup` batches and then the `insert` batch in one transaction (as a script runs), with the
    fast path on or off. Returns whether the fast path ran the INSERT, its error (kind, number, text), the
    table's rows right after it (before anything is rolled back), @@ROWCOUNT and @@IDENTITY, and how many
    distinct values each `clock` column holds in the rows the INSERT wrote."""
    taken: list[int] = []
    target = SandboxTarget()
    engine = target.engine
    engine.shared_translation_chars = 0  # every translation kept for every sandbox of the same schema
    with fast_path(on, taken):
        engine.begin()
        try:
            failed = []  # an error of the setup (rows written before the INSERT may fail alike)
            for number, batch in enumerate(setup, start=1):
                try:
                    engine.run_batch(batch, source="setup.sql", start_line=number)
                except ScriptError as caught:
                    failed.append((type(caught).__name__, caught.number, str(caught)))
            before = len(taken)
            last = engine.driver.query(f'SELECT coalesce(max(rowid), 0) FROM "{table}"')[0][0]
            error = None
            try:
                engine.run_batch(insert, source="t.sql", start_line=10)
            except ScriptError as caught:
                error = (type(caught).__name__, caught.number, str(caught))
            rows = rows_of(engine.driver.connection, table, clock)
            times = [engine.driver.query(f'SELECT COUNT(DISTINCT "{c}") FROM "{table}" WHERE rowid > ?', [last])[0][0]
                     for c in clock]  # (the INSERT's rows: earlier ones may have another time)
            return (len(taken) > before, error, rows, engine.rowcount, repr(engine.session_identity), times, failed)
        finally:
            engine.rollback()
            target.close()


def agreed(setup: list[str], insert: str, **kwargs: Any) -> tuple[Any, ...]:
    """The outcome with the fast path, checked to be the general path's (apart from which path ran)."""
    fast = outcome(True, setup, insert, **kwargs)
    general = outcome(False, setup, insert, **kwargs)
    assert not general[0]
    assert fast[1:] == general[1:]
    return fast


# -- the sample data --------------------------------------------------------------------------------------------
def test_the_sample_data_builds_the_same_tables_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(translation_store.STORE_VARIABLE, "0")  # each build translates for itself
    script = (BASELINE / "030_sample_data.sql").read_text(encoding="utf-8")
    inserts = re.findall(r"^INSERT INTO dbo\.(\w+) \(", script, re.MULTILINE)
    built: dict[bool, sqlite3.Connection] = {}
    for on in (True, False):
        taken: list[int] = []
        path = tmp_path / f"{'fast' if on else 'general'}.sqlite"
        with fast_path(on, taken):
            literal_rows.MIN_CHARS = 2000  # as in a real build
            build_baseline(path, BASELINE)
        assert len(taken) == (len(inserts) if on else 0)  # every INSERT batch of the sample took the fast path
        built[on] = sqlite3.connect(path)
    fast, general = built[True], built[False]
    tables = [r[0] for r in general.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    assert tables == [r[0] for r in fast.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for table in tables:
        clock = ("synced_at",) if any(r[1] == "synced_at" for r in general.execute(f'PRAGMA table_info("{table}")')) \
            else ()
        expected = rows_of(general, table, clock)
        assert rows_of(fast, table, clock) == expected, table
        if table in inserts:  # the header of the script says how many rows each table gets
            assert len(expected) == int(re.search(rf"dbo\.{table}: (\d+) rows", script).group(1))  # type: ignore[union-attr]
        for column in clock:  # the statement's time: one value for all the rows of one INSERT
            for connection in (fast, general):
                values = [r[0] for r in connection.execute(f'SELECT "{column}" FROM "{table}" ORDER BY rowid')]
                changes = sum(1 for a, b in itertools.pairwise(values) if a != b)
                assert None not in values
                assert changes < inserts.count(table)
    for connection in built.values():
        connection.close()


# -- random rows into random tables -----------------------------------------------------------------------------
TYPES = st.one_of(
    st.sampled_from(["INT", "BIGINT", "TINYINT", "BIT", "FLOAT", "DATETIME", "DATE", "DATETIME2", "MONEY",
                     "NVARCHAR(MAX)", "VARCHAR(MAX)"]),
    st.builds(lambda p, s: f"DECIMAL({p},{min(s, p)})", st.integers(1, 18), st.integers(0, 6)),
    st.builds("VARCHAR({})".format, st.integers(1, 12)),
    st.builds("NVARCHAR({})".format, st.integers(1, 12)),
    st.builds("CHAR({})".format, st.integers(1, 6)),
)

SPECIAL_TEXT = ["", " ", "abc  ", "it's", "''", "12", " 7 ", "-3", "1.5", "1.255", "3000000000", "true", "abc",
                "2024-01-31", "2024-02-30", "2024-01-31 10:00:00.999", "2024-01-31T10:00:00", "1752-12-31",
                "6F9619FF-8B86-D011-B42D-00C04FC964FF", "a\\b", "line\nbreak", "tab\there", "x" * 40]
#: text in code page 1252 (ASCII, Latin-1, the extras), now and then a character outside it (a '...' literal with one
#: is refused) or beyond the BMP
CP1252 = st.characters(codec="cp1252", exclude_categories=["Cs", "Cc"])
CHARACTERS = CP1252 | st.sampled_from("éü€Œ–āЖ中😀 '") | st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
TEXT = st.sampled_from(SPECIAL_TEXT) | st.text(CHARACTERS, max_size=8)


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def number_text(value: Decimal, scale: int) -> str:
    return f"{value:.{scale}f}"


LITERALS = st.one_of(
    st.just("NULL"),
    TEXT.map(quoted),
    TEXT.map(lambda t: "N" + quoted(t)),
    st.integers(-300, 300).map(str),
    st.sampled_from([2147483647, 2147483648, -2147483648, -2147483649, 9223372036854775807,
                     -9223372036854775808, 255, 256, 32768, 10**15, 10**16]).map(str),
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.builds(number_text, st.decimals(-(10**9), 10**9, allow_nan=False, allow_infinity=False, places=4),
              st.integers(0, 6)),
    st.sampled_from(["0.0", "-0.0", "5.", "00012", "0012.50", "1.255", "-1.5", "999.995", "0.000001",
                     "123456789012.345", "1234567890123456.7", "+5", "- 5"]),
)
DATES = st.dates(min_value=datetime.date(1753, 1, 1)).map(str)
TIMES = st.times().map(lambda t: t.isoformat(timespec=random_timespec(t)))


def random_timespec(t: datetime.time) -> str:
    return ("minutes", "seconds", "milliseconds", "microseconds")[t.microsecond % 4]


def fitting(type_text: str) -> st.SearchStrategy[str]:
    """Literals a column of the type mostly takes (the other literals are drawn too, less often)."""
    name = type_text.split("(")[0]
    sizes = re.findall(r"\d+", type_text)
    if name in ("INT", "BIGINT", "TINYINT", "BIT"):
        return st.integers(-5 if name != "TINYINT" else 0, 255).map(str)
    if name in ("FLOAT", "MONEY"):
        return st.builds(number_text, st.decimals(-(10**6), 10**6, places=3), st.integers(0, 3))
    if name == "DECIMAL":
        precision, scale = int(sizes[0]), int(sizes[1])
        whole = 10 ** (precision - scale) - 1
        return st.builds(number_text, st.decimals(-whole, whole, places=scale), st.integers(0, scale + 1))
    if name in ("DATE", "DATETIME", "DATETIME2"):
        return st.builds(lambda d, t, sep: quoted(d + sep + t if sep else d), DATES, TIMES,
                         st.sampled_from(["", " ", "T"]))
    length = int(sizes[0]) if sizes else 20
    text = st.text(CP1252, max_size=length + 1).map(lambda t: t + " " if len(t) < 3 else t)
    if name.startswith("N"):
        return st.text(CHARACTERS, max_size=length + 1).map(lambda t: "N" + quoted(t))
    return text.map(quoted)


@st.composite
def statements(draw: st.DrawFn) -> tuple[list[str], str, tuple[str, ...], int]:
    """A table of random columns (sometimes NOT NULL, a UNIQUE first column, an index on the second, an IDENTITY
    key or a column defaulting to the time, left out of the INSERT), sometimes rows written before, and one
    INSERT of random literal rows into it."""
    types = draw(st.lists(TYPES, min_size=1, max_size=4))
    not_null = draw(st.lists(st.booleans(), min_size=len(types), max_size=len(types)))
    columns = [f"c{i} {t}{' NOT NULL' if n else ''}" for i, (t, n) in enumerate(zip(types, not_null, strict=True))]
    if draw(st.booleans()):
        columns.append("CONSTRAINT UQ_T_c0 UNIQUE (c0)")
    if draw(st.booleans()):
        columns.insert(0, "id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_T PRIMARY KEY")
    clock: tuple[str, ...] = ()
    if draw(st.booleans()):
        columns.append("stamp DATETIME2 NULL CONSTRAINT DF_T_stamp DEFAULT (GETDATE())")
        clock = ("stamp",)
    setup = [f"CREATE TABLE dbo.T ({', '.join(columns)})"]
    if len(types) > 1 and draw(st.booleans()):
        setup.append("CREATE INDEX IX_T_c1 ON dbo.T (c1)")
    cells = [st.one_of(fitting(t), fitting(t), fitting(t), st.just("NULL"), LITERALS) for t in types]
    names = ", ".join(f"[c{i}]" if i % 2 else f"c{i}" for i in range(len(types)))
    earlier = draw(st.lists(st.tuples(*cells), max_size=3))
    if earlier:
        setup.append(f"INSERT INTO dbo.T ({names}) VALUES " + ", ".join("(" + ", ".join(r) + ")" for r in earlier))
    rows = draw(st.lists(st.tuples(*cells), min_size=1, max_size=6))
    into = draw(st.sampled_from(["INSERT INTO dbo.T", "INSERT INTO T", "INSERT [dbo].[T]", "insert into dbo.t",
                                 "-- rows for T\nINSERT INTO dbo.T", "\n  /* rows */ INSERT INTO dbo.T"]))
    values = ",\n    ".join("(" + ", ".join(row) + ")" for row in rows)
    end = draw(st.sampled_from(["", ";", ";\n", "\n-- the end\n"]))
    return setup, f"{into} ({names}) VALUES\n    {values}{end}", clock, len(rows)


@settings(max_examples=200, deadline=None)
@given(statement=statements())
def test_random_literal_rows_are_written_as_the_general_path_writes_them(
        statement: tuple[list[str], str, tuple[str, ...], int]) -> None:
    setup, insert, clock, written = statement
    note(insert)
    fast = agreed(setup, insert, clock=clock)
    event(f"fast path: {fast[0]}; error: {fast[1][:2] if fast[1] else None}")
    if fast[0] and fast[1] is None:
        assert fast[3] == written  # @@ROWCOUNT: every row
        assert fast[5] == [1] * len(clock)  # one time for the statement


# -- chosen cases -----------------------------------------------------------------------------------------------
TABLE = ("CREATE TABLE dbo.T (id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_T PRIMARY KEY, k INT NOT NULL "
         "CONSTRAINT UQ_T_k UNIQUE, name NVARCHAR(5) NULL, code VARCHAR(3) NULL, amount DECIMAL(5,2) NULL)")


@pytest.mark.parametrize(("rows", "error"), [
    ("(1, N'a', 'x', 1.5), (2, N'b', 'y', -2.25), (3, NULL, NULL, NULL)", None),
    ("(1, N'a', 'x', 1.5), (2, N'b', 'y', 2.5), (1, N'c', 'z', 3.5)", 2627),  # the third row's key
    ("(1, N'a', 'x', NULL), (2, N'b', 'y', 2.5), (3, N'c', 'z', 1234.5)", 8115),  # beyond decimal(5,2)
    ("(1, NULL, 'x', 1.5), (2, N'abcdef', 'y', 2.5)", 2628),  # beyond nvarchar(5)
    ("(1, N'a', 'x', 1.5), (NULL, N'b', 'y', 2.5)", 515),
    ("(1, N'a', 'x', NULL), (2, N'b', 'y', 'abc')", 8114),
    ("(1, N'a', 'x', '1.5'), (2, N'b', 'y', '2.5')", None),
])
def test_chosen_rows_take_the_fast_path_and_agree(rows: str, error: int | None) -> None:
    fast = agreed([TABLE], f"INSERT INTO dbo.T (k, name, code, amount) VALUES {rows}")
    assert fast[0]
    assert (fast[1][1] if fast[1] else None) == error
    if error is None:
        assert fast[3] == len(fast[2]) == rows.count("(")
        assert [r[0] for r in fast[2]] == list(range(1, len(fast[2]) + 1))  # IDENTITY values
        assert fast[4] == repr(len(fast[2]))  # @@IDENTITY
    else:
        assert fast[2] == []  # nothing of the failed statement is written
    if error == 2627:
        assert "The duplicate key value is (1)." in fast[1][2]


@pytest.mark.parametrize(("rows", "error"), [
    ("(N'ab', 1), (N'abcdef', 2)", 2628),  # a later row too long: the column's type is nvarchar(6)
    ("(N'abcdef', 2), (N'ab', 1)", 2628),
    ("(N'ab', 1), (N'abc', 3000000000)", 8115),  # a later row beyond int: decimal(10,0) written to int
    ("(N'ab', 1), ('abc', 2.5)", None),  # int and decimal(2,1): 2.5 truncated to 2; varchar and nvarchar
])
def test_every_row_types_the_conversions_as_in_the_general_path(rows: str, error: int | None) -> None:
    # writes._source_types types a VALUES column by all its rows (the type of highest precedence among them),
    # so a later row that does not fit is converted and checked, not only the first; the fast path plans the
    # first row with the types of all the rows and agrees with the general path
    setup = ["CREATE TABLE dbo.T (a NVARCHAR(3) NULL, b INT NULL)"]
    fast = agreed(setup, f"INSERT INTO dbo.T (a, b) VALUES {rows}", table="T")
    assert fast[0]
    assert (fast[1][1] if fast[1] else None) == error
    if error is None:
        assert fast[2] == [("ab", "text", 1, "integer"), ("abc", "text", 2, "integer")]
    else:
        assert fast[2] == []


def test_a_plan_kept_for_one_statement_is_not_used_for_rows_of_other_types() -> None:
    # the same first row, later rows of another type: the translation cache keys the plan by the rows' types too
    taken: list[int] = []
    target = SandboxTarget()
    with fast_path(True, taken):
        target.execute_script("CREATE TABLE dbo.T (a NVARCHAR(3) NULL)")
        short = target.execute_script("INSERT INTO dbo.T (a) VALUES (N'ab'), (N'a')")
        long = target.execute_script("INSERT INTO dbo.T (a) VALUES (N'ab'), (N'abcdef')")
    assert len(taken) == 2  # both took the fast path
    assert short.error is None
    assert long.error is not None and long.error.number == 2628
    assert target.engine.driver.query("SELECT a FROM T ORDER BY rowid") == [("ab",), ("a",)]
    target.close()


def test_text_among_numbers_takes_the_general_path() -> None:
    # SQL Server converts the text to the numbers' type first (245 for text that is no number): the general
    # path CASTs that row, which one translation for every row cannot, so the fast path leaves the statement
    setup = ["CREATE TABLE dbo.T (a VARCHAR(10) NULL)"]
    converted = agreed(setup, "INSERT INTO dbo.T (a) VALUES (' 7'), (2)")
    assert not converted[0]
    assert converted[1] is None and converted[2] == [("7", "text"), ("2", "text")]
    failed = agreed(setup, "INSERT INTO dbo.T (a) VALUES ('x'), (2)")
    assert not failed[0]
    assert failed[1] is not None and failed[1][1] == 245 and failed[2] == []
    # text among decimals: SQL Server converts it to a precision and scale of its choosing, which is refused
    refused = agreed([TABLE], "INSERT INTO dbo.T (k, name, code, amount) VALUES (1, N'a', 'x', '1.5'), "
                              "(2, N'b', 'y', 2.5)")
    assert not refused[0]
    assert refused[1] is not None and refused[1][0] == "UnsupportedConstruct" and refused[2] == []


def test_a_cached_plan_is_not_used_for_another_schema() -> None:
    insert = "INSERT INTO dbo.T (a) VALUES ('abcdefg'), ('ab')"
    wide = agreed(["CREATE TABLE dbo.T (a VARCHAR(10) NULL)"], insert)
    narrow = agreed(["CREATE TABLE dbo.T (a VARCHAR(6) NULL)"], insert)
    assert wide[0] and wide[1] is None
    assert narrow[0] and narrow[1] is not None and narrow[1][1] == 2628


def test_after_a_failed_insert_into_an_identity_table_the_next_is_refused_alike() -> None:
    failing = "INSERT INTO dbo.T (k, name) VALUES (1, N'a'), (1, N'b')"
    fast = agreed([TABLE, failing.replace("(1, N'b')", "(2, N'b')")], failing)
    assert fast[0] and fast[1] is not None and fast[1][1] == 2627
    # within the transaction, a second INSERT into the table after that failure is refused by both paths
    seen = []
    for on in (True, False):
        taken: list[int] = []
        target = SandboxTarget()
        with fast_path(on, taken):
            target.engine.begin()
            try:
                target.engine.run_batch(TABLE, source="t.sql", start_line=1)
                with pytest.raises(ScriptError):
                    target.engine.run_batch(failing, source="t.sql", start_line=2)
                with pytest.raises(ScriptError) as refused:
                    target.engine.run_batch("INSERT INTO dbo.T (k) VALUES (5), (6)", source="t.sql", start_line=3)
                seen.append((type(refused.value).__name__, str(refused.value)))
            finally:
                target.engine.rollback()
        assert len(taken) == (1 if on else 0)  # the failing INSERT took the fast path, the refused one did not
    assert seen[0] == seen[1]
    assert seen[0][0] == "UnsupportedConstruct"


# -- what takes the general path ---------------------------------------------------------------------------------
SETUP = ["CREATE TABLE dbo.T (a INT NULL, b NVARCHAR(10) NULL)",
         "CREATE TABLE dbo.I (id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_I PRIMARY KEY, a INT NULL)",
         "CREATE VIEW dbo.V AS SELECT a, b FROM dbo.T",
         "CREATE TABLE #t (a INT NULL, b NVARCHAR(10) NULL)"]


REFUSED = "refused"


@pytest.mark.parametrize(("insert", "error"), [
    ("INSERT INTO dbo.T (a, b) VALUES (1 + 1, N'x'), (2, N'y')", None),  # an expression
    ("INSERT INTO dbo.T (a, b) VALUES (1, UPPER(N'x')), (2, N'y')", None),  # a function
    ("INSERT INTO dbo.T (a, b) VALUES (DEFAULT, N'x'), (2, N'y')", 102),
    ("INSERT INTO dbo.T (a, b) VALUES (@v, N'x'), (2, N'y')", 137),  # a variable not declared
    ("INSERT INTO dbo.Nope (a, b) VALUES (1, N'x'), (2, N'y')", 208),  # no such table
    ("INSERT INTO dbo.T (a, c) VALUES (1, N'x'), (2, N'y')", 207),  # no such column
    ("INSERT INTO dbo.T (a, a) VALUES (1, 2), (3, 4)", 264),  # a column named twice
    ("INSERT INTO dbo.T (a, b) VALUES (1, N'x', 3), (2, N'y', 4)", 110),  # more values than columns
    ("INSERT INTO dbo.T (a, b) VALUES (1), (2)", 109),  # fewer
    ("INSERT INTO dbo.T (a, b) VALUES (1, N'x'), (2)", 10709),  # a row of another width
    ("INSERT INTO dbo.T VALUES (1, N'x'), (2, N'y')", None),  # no column list
    ("INSERT INTO #t (a, b) VALUES (1, N'x'), (2, N'y')", None),  # a #temp table
    ("INSERT INTO dbo.V (a, b) VALUES (1, N'x'), (2, N'y')", 50000),  # a view
    ("INSERT INTO sys.objects (name) VALUES (N'x'), (N'y')", None),  # another schema
    ("INSERT INTO dbo.I (id, a) VALUES (1, 1), (2, 2)", 544),  # an IDENTITY column, IDENTITY_INSERT OFF
    ("INSERT INTO dbo.T (a, b) VALUES (1, /* one */ N'x'), (2, N'y')", None),  # a comment inside
    ("INSERT INTO dbo.T (a, b) VALUES (1, 'ā'), (2, N'y')", REFUSED),  # '...' outside code page 1252
    ("INSERT INTO dbo.T (a, b) VALUES (1234567890123456.5, N'x'), (2, N'y')", REFUSED),  # 17 digits
    ("INSERT INTO dbo.T (a, b) VALUES (9223372036854775808, N'x'), (2, N'y')", REFUSED),  # beyond bigint
    ("INSERT INTO dbo.T (a, b) VALUES (1e5, N'x'), (2, N'y')", None),  # a float literal
    ("INSERT INTO dbo.T (a, b) VALUES (0x1F, N'x'), (2, N'y')", REFUSED),  # binary among numbers
    ("INSERT INTO dbo.T (a, b) VALUES (.5, N'x'), (2, N'y')", None),
    ("INSERT INTO dbo.T (a, b) VALUES (1, n'x'), (2, N'y')", None),  # n'...' (SQL Server wants N)
    ("INSERT INTO dbo.T (a, b) VALUES (1, N'x'), (2, N'y'); INSERT INTO dbo.T (a) VALUES (3)", None),
    ("INSERT INTO dbo.T (a, b) SELECT 1, N'x'", None),
    ("INSERT INTO dbo.T WITH (TABLOCK) (a, b) VALUES (1, N'x')", REFUSED),
])
def test_other_statements_take_the_general_path(insert: str, error: int | str | None) -> None:
    fast = agreed(SETUP, insert)
    assert not fast[0]
    found = fast[1]
    assert (None if found is None else REFUSED if found[0] == "UnsupportedConstruct" else found[1]) == error


def test_keys_compared_under_the_collation_take_vouched_text_only() -> None:
    # an index on a character column compares keys under SQL Server's collation, which refuses text it does not
    # model where a comparison meets it; the comparisons made differ between the paths, so such text falls back
    setup = ["CREATE TABLE dbo.T (a NVARCHAR(10) NULL CONSTRAINT UQ_T_a UNIQUE, b INT NULL)"]
    plain = agreed(setup, "INSERT INTO dbo.T (a, b) VALUES (N'abc', 1), (N'élan', 2), (N'', 3)")
    assert plain[0] and plain[1] is None  # letters of Latin-1 are vouched for
    beyond = agreed(setup, "INSERT INTO dbo.T (a, b) VALUES (N'', 1), (N'0', 2), (N'Æ', 3)")
    assert not beyond[0]
    held = agreed([*setup, "INSERT INTO dbo.T (a, b) VALUES (N'Æ', 0)"], "INSERT INTO dbo.T (a, b) VALUES (N'x', 1)")
    assert not held[0]  # a key already in the table
    unindexed = agreed(["CREATE TABLE dbo.T (a NVARCHAR(10) NULL, b INT NULL)"],
                       "INSERT INTO dbo.T (a, b) VALUES (N'', 1), (N'0', 2), (N'Æ', 3)")
    assert unindexed[0] and unindexed[1] is None


def test_identity_insert_takes_the_general_path() -> None:
    setup = [*SETUP, "SET IDENTITY_INSERT dbo.I ON"]
    fast = agreed(setup, "INSERT INTO dbo.I (id, a) VALUES (7, 1), (9, 2)", table="I")
    assert not fast[0]
    assert fast[1] is None and [r[0] for r in fast[2]] == [7, 9]


def test_short_batches_take_the_general_path() -> None:
    insert = "INSERT INTO dbo.T (a, b) VALUES (1, N'x'), (2, N'y')"
    assert agreed(SETUP, insert)[0]  # (the tests take the fast path for batches of any length)
    taken: list[int] = []
    target = SandboxTarget()
    with fast_path(True, taken):
        literal_rows.MIN_CHARS = 2000
        target.execute_script(f"{SETUP[0]}\nGO\n{insert}\nGO\n{insert} -- {'x' * 2000}\n")
    assert len(taken) == 1  # the short batch took the general path, the long one the fast path
    assert target.engine.driver.query("SELECT COUNT(*) FROM T") == [(4,)]
