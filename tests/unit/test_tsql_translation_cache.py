"""The runner's translation cache (docs/embedded-runner.md, "Translation cache").

The engine keeps each statement's and expression's SQLite translation by its text, the schema version
and what else the translation reads (variables' declared types, IDENTITY_INSERT, the database name),
and the parse of each library statement by its text. These tests check that a run with the cache gives
what a run without it gives (results, messages, errors, refusals), that the cache is used, and that a
schema change, a variable's type or a session setting makes the runner translate again.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_opus.errors import ScriptError, UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql import engine as engine_module
from pytest_opus.tsql import subset, translation_store


def sandboxes() -> tuple[SandboxTarget, SandboxTarget]:
    """A sandbox that keeps every translation, for itself and for every sandbox of the same schema (not
    only long statements), and one that keeps none."""
    cached, uncached = SandboxTarget(), SandboxTarget()
    cached.engine.shared_translation_chars = 0
    uncached.engine.translation_cache = False
    return cached, uncached


def outcome(target: SandboxTarget, script: str) -> tuple[Any, ...]:
    """Everything a user sees of one script: its messages, result sets and error (kind, number, text)."""
    result = target.execute_script(script, source="t.sql")
    error = result.error
    return (
        [(m.kind, m.text, m.line) for m in result.messages],
        [(tuple(r.columns), [tuple(row) for row in r.rows]) for r in result.result_sets],
        None if error is None else (type(error).__name__, error.number, str(error)),
    )


def agreed(script: str) -> tuple[Any, ...]:
    """The outcome of `script` on a sandbox that keeps translations, checked to be one without them gives."""
    cached, uncached = sandboxes()
    seen = outcome(cached, script)
    assert seen == outcome(uncached, script)
    return seen


def call(target: SandboxTarget, sql: str, params: list[Any]) -> tuple[Any, ...]:
    """A library statement (`execute` with `?` parameters): its rows, or its error."""
    try:
        return ("rows", [tuple(r) for r in target.execute(sql, params)])
    except (ScriptError, UnsupportedConstruct) as error:
        return ("error", type(error).__name__, error.number, str(error))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the engine translated (each call of translate.rewrite from the engine). Sandboxes made in the
    test do not read the translations of other processes (translation_store.py), which would make counts
    depend on what ran before."""
    monkeypatch.setenv(translation_store.STORE_VARIABLE, "0")
    seen: list[str] = []
    original = engine_module.rewrite

    def counting(tree: Any, answers: Any) -> Any:
        seen.append(tree.sql(dialect="tsql"))
        return original(tree, answers)

    monkeypatch.setattr(engine_module, "rewrite", counting)
    return seen


# -- the cache is used, and only where it may be -------------------------------------------------------
def test_a_repeated_statement_is_translated_once(counted: list[str]) -> None:
    target = SandboxTarget()
    target.execute_script("CREATE TABLE dbo.T (a INT, b NVARCHAR(10))")
    sql = "SELECT COUNT(*) FROM dbo.T WHERE b LIKE ? AND a > ?"
    counted.clear()
    for n in range(5):
        assert target.execute(sql, ["x%", n]) == [(0,)]
    assert len(counted) == 1


def test_a_loop_translates_its_body_once(counted: list[str]) -> None:
    target = SandboxTarget()
    result = target.execute_script(
        "CREATE TABLE dbo.T (a INT)\nGO\nDECLARE @i INT = 0\n"
        "WHILE @i < 20 BEGIN INSERT INTO dbo.T (a) VALUES (@i * 2); SET @i += 1 END\n"
        "SELECT COUNT(*), SUM(a) FROM dbo.T"
    )
    assert result.error is None, result.summary()
    assert result.result_sets[-1].rows == [(20, 380)]
    inserts = [t for t in counted if "INSERT INTO dbo.T" in t]
    assert len(inserts) == 1, counted
    assert len([t for t in counted if "@i < 20" in t]) == 1  # the loop's condition, also translated once


def test_runtime_values_are_answered_each_time_a_kept_translation_runs(counted: list[str]) -> None:
    script = ("CREATE TABLE dbo.T (a INT)\nGO\nDECLARE @i INT = 0\n"
              "WHILE @i < 3 BEGIN INSERT INTO dbo.T (a) SELECT @@ROWCOUNT + @i; SET @i += 1 END\n"
              "SELECT a FROM dbo.T ORDER BY a")
    seen = agreed(script)
    assert seen[2] is None, seen
    # @@ROWCOUNT is 1 after each SET @i += 1: a first run's @@ROWCOUNT reused would give 0, 1, 2
    assert seen[1][-1][1] == [(0,), (2,), (3,)]
    # translated once by the sandbox that keeps translations (@@ROWCOUNT is bound when it runs), each time by
    # the other
    assert len([t for t in counted if "@@ROWCOUNT" in t]) == 1 + 3


def test_a_kept_translation_answers_object_id_from_the_catalog_as_it_is_then(counted: list[str]) -> None:
    check = "IF OBJECT_ID(@name) IS NULL PRINT 'absent' ELSE PRINT 'present'"
    script = (f"DECLARE @name SYSNAME = N'dbo.T'\n{check}\nGO\nCREATE TABLE dbo.T (a INT)\nGO\n"
              f"DECLARE @name SYSNAME = N'dbo.T'\n{check}\nSET @name = N'dbo.U'\n{check}\n"
              "IF COL_LENGTH('dbo.T', 'a') = 4 PRINT 'int'")
    seen = agreed(script)
    assert [text for _, text, _ in seen[0]] == ["absent", "present", "absent", "int"]


@pytest.mark.parametrize("value", ["@@ROWCOUNT", "OBJECT_ID(N'dbo.T')", "COL_LENGTH('dbo.T', 'a')"])
def test_a_view_still_refuses_values_a_statement_answers_when_it_runs(value: str) -> None:
    target = SandboxTarget()
    assert target.execute_script("CREATE TABLE dbo.T (a INT)").ok
    refused = target.execute_script(f"CREATE VIEW dbo.V AS SELECT {value} AS v FROM dbo.T")
    assert isinstance(refused.error, UnsupportedConstruct) and "in a view" in refused.error.construct


def test_values_answered_while_translating_are_never_reused(counted: list[str]) -> None:
    script = ("CREATE TABLE dbo.T (a INT)\nGO\nDECLARE @i INT = 0\n"
              "WHILE @i < 3 BEGIN\n    BEGIN TRY\n        DECLARE @n INT = 50001 + @i;\n        THROW @n, 'x', 1\n"
              "    END TRY\n    BEGIN CATCH\n        INSERT INTO dbo.T (a) SELECT ERROR_NUMBER()\n    END CATCH\n"
              "    SET @i += 1\nEND\nSELECT a FROM dbo.T ORDER BY a")
    seen = agreed(script)
    assert seen[1][-1][1] == [(50001,), (50002,), (50003,)]
    assert len([t for t in counted if "ERROR_NUMBER()" in t]) == 6  # each run translated again, in both sandboxes


def test_ddl_makes_the_runner_translate_again() -> None:
    target = SandboxTarget()
    assert target.execute_script("CREATE TABLE dbo.T (a INT, b INT); INSERT INTO dbo.T VALUES (1, 2)").ok
    assert target.execute("SELECT a + b FROM dbo.T") == [(3,)]
    assert target.execute_script("DROP TABLE dbo.T\nGO\nCREATE TABLE dbo.T (a VARCHAR(5), b VARCHAR(5))\n"
                                 "INSERT INTO dbo.T VALUES ('1', '2')").ok
    assert target.execute("SELECT a + b FROM dbo.T") == [("12",)]  # + concatenates now, as SQL Server's does
    assert target.execute_script("ALTER TABLE dbo.T ADD c INT").ok
    with pytest.raises(ScriptError, match="Invalid column name 'd'"):
        target.execute("SELECT a + d FROM dbo.T")


def test_a_rolled_back_ddl_makes_the_runner_translate_again() -> None:
    target = SandboxTarget()
    assert target.execute_script("CREATE TABLE dbo.T (a INT); INSERT INTO dbo.T VALUES (1)").ok
    failed = target.execute_script("DROP TABLE dbo.T\nGO\nCREATE TABLE dbo.T (a VARCHAR(5))\nGO\nTHROW 50001, 'no', 1")
    assert failed.error is not None and failed.error.number == 50001
    assert target.execute("SELECT a + 1 FROM dbo.T") == [(2,)]  # the INT table is back, and so is +


def test_the_same_text_with_variables_of_other_types() -> None:
    target = SandboxTarget()
    first = outcome(target, "DECLARE @a INT = 1\nSELECT @a + '2'")
    second = outcome(target, "DECLARE @a VARCHAR(5) = '1'\nSELECT @a + '2'")
    assert first[1][-1][1] == [(3,)]
    assert second[1][-1][1] == [("12",)]


def test_the_same_text_with_parameters_of_other_types() -> None:
    target = SandboxTarget()
    assert target.execute("SELECT ? + 1", [1]) == [(2,)]
    with pytest.raises(ScriptError) as overflow:
        target.execute("SELECT ? + 1", [2_147_483_647])  # int + int
    assert overflow.value.number == 8115
    assert target.execute("SELECT ? + 1", [2_147_483_647 + 1]) == [(2_147_483_649,)]  # bigint + int
    assert target.execute("SELECT ? + 1", [1]) == [(2,)]
    assert target.execute_script("CREATE TABLE dbo.T (a INT)").ok
    insert = "INSERT INTO dbo.T (a) VALUES (?)"
    target.execute(insert, [1])  # a parameter's type is its value's (nvarchar for str, bigint past int's range)
    with pytest.raises(ScriptError, match="converting the nvarchar value 'x' to data type int") as text:
        target.execute(insert, ["x"])
    assert text.value.number == 245
    with pytest.raises(ScriptError, match="Arithmetic overflow") as big:
        target.execute(insert, [2_147_483_648])
    assert big.value.number == 8115
    target.execute(insert, [2])
    assert target.execute("SELECT a FROM dbo.T ORDER BY a") == [(1,), (2,)]


def test_identity_insert_is_part_of_what_a_translation_depends_on() -> None:
    target = SandboxTarget()
    assert target.execute_script("CREATE TABLE dbo.T (id INT IDENTITY(1,1) PRIMARY KEY, b INT)").ok
    insert = "INSERT INTO dbo.T (id, b) VALUES (7, 1)"
    refused = outcome(target, insert)
    assert refused[2] is not None and refused[2][1] == 544
    assert outcome(target, f"SET IDENTITY_INSERT dbo.T ON\n{insert}\nSET IDENTITY_INSERT dbo.T OFF")[2] is None
    again = outcome(target, insert)
    assert again[2] is not None and again[2][1] == 544
    assert target.execute("SELECT id, b FROM dbo.T") == [(7, 1)]


def test_a_table_variable_of_another_declaration() -> None:
    script = ("DECLARE @t TABLE (a INT)\nINSERT INTO @t (a) VALUES (1)\nSELECT COUNT(*) FROM @t\nGO\n"
              "DECLARE @t TABLE (a INT)\nINSERT INTO @t (a) VALUES (1)\nSELECT COUNT(*) FROM @t\nGO\n"
              "BEGIN TRANSACTION\nDECLARE @t TABLE (a INT)\nINSERT INTO @t (a) VALUES (1)\nROLLBACK\n")
    seen = agreed(script)
    assert [rows for _, rows in seen[1]] == [[(1,)], [(1,)]]
    assert seen[2] is not None and seen[2][0] == "UnsupportedConstruct"  # the ROLLBACK after writing @t


# -- cached and uncached runs agree --------------------------------------------------------------------------
TABLES = [
    "CREATE TABLE dbo.T (a INT, b VARCHAR(10))",
    "CREATE TABLE dbo.T (a VARCHAR(10) NOT NULL, b NVARCHAR(10))",
    "CREATE TABLE dbo.T (a INT IDENTITY(1,1) PRIMARY KEY, b NVARCHAR(5) NULL UNIQUE)",
    "CREATE TABLE dbo.T (a DECIMAL(5,2), b INT CHECK (b > 0))",
]
STEPS = [
    *(f"DROP TABLE IF EXISTS dbo.T\nGO\n{table}" for table in TABLES),
    "DROP TABLE dbo.T",
    "ALTER TABLE dbo.T ADD c INT NULL",
    "ALTER TABLE dbo.T ALTER COLUMN b NVARCHAR(20)",
    "INSERT INTO dbo.T (b) VALUES ('x')",
    "INSERT INTO dbo.T (a, b) VALUES (5, 'abc')",
    "INSERT INTO dbo.T (a, b) VALUES ('7', 2)",
    "INSERT INTO dbo.T (b) VALUES (NULL)",
    "UPDATE dbo.T SET b = b + 'y' WHERE b LIKE 'x%'",
    "UPDATE dbo.T SET a = a + 1",
    "DELETE FROM dbo.T WHERE b LIKE N'[a-c]%'",
    "SELECT a, b FROM dbo.T ORDER BY a, b",
    "SELECT a + b FROM dbo.T ORDER BY 1",
    "SELECT COUNT(*), MAX(b) FROM dbo.T WHERE b = 'X '",
    "SELECT c FROM dbo.T",
    "SELECT @@ROWCOUNT",
    "IF EXISTS (SELECT 1 FROM dbo.T WHERE b = N'x') PRINT 'x' ELSE PRINT 'no x'",
    "IF OBJECT_ID('dbo.T') IS NULL PRINT 'no table' ELSE PRINT 'table'",
    "DECLARE @v INT = 2\nSELECT a * @v FROM dbo.T ORDER BY 1",
    "DECLARE @v NVARCHAR(10) = N'x'\nSELECT a * @v FROM dbo.T ORDER BY 1",
    "DECLARE @v VARCHAR(10) = 'x%'\nSELECT COUNT(*) FROM dbo.T WHERE b LIKE @v",
    "DECLARE @v INT = 1\nSELECT a + @v FROM dbo.T ORDER BY 1",
    "DECLARE @v VARCHAR(10) = '1'\nSELECT a + @v FROM dbo.T ORDER BY 1",
    "SET IDENTITY_INSERT dbo.T ON\nINSERT INTO dbo.T (a, b) VALUES (9, 'z')",
    "SET IDENTITY_INSERT dbo.T ON",
    "SET IDENTITY_INSERT dbo.T OFF",
    "INSERT INTO dbo.T (a, b) VALUES (9, 'z')",
    "BEGIN TRY\n    INSERT INTO dbo.T (a, b) VALUES (1, 'dup')\n    INSERT INTO dbo.T (a, b) VALUES (1, 'dup')\n"
    "END TRY\nBEGIN CATCH\n    PRINT ERROR_NUMBER()\nEND CATCH",
    "SELECT nowhere FROM dbo.T",
    "SELECT a FROM dbo.T CROSS APPLY (SELECT 1 AS one) AS x",
]
CALLS = [
    ("SELECT COUNT(*) FROM dbo.T WHERE b = ?", ["x"]),
    ("SELECT COUNT(*) FROM dbo.T WHERE b = ?", [1]),
    ("SELECT a + ? FROM dbo.T ORDER BY 1", [1]),
    ("SELECT a + ? FROM dbo.T ORDER BY 1", ["1"]),
    ("SELECT a + ? FROM dbo.T ORDER BY 1", [2_147_483_647]),
    ("UPDATE dbo.T SET b = ? WHERE a = ?", ["q", 5]),
    ("INSERT INTO dbo.T (b) VALUES (?)", ["p"]),
    ("INSERT INTO dbo.T (a) VALUES (?)", [3]),
    ("INSERT INTO dbo.T (a) VALUES (?)", ["x"]),
    ("INSERT INTO dbo.T (a) VALUES (?)", [2_147_483_648]),
    ("INSERT INTO dbo.T (a) VALUES (?)", [1.5]),
]
ACTIONS = st.one_of(st.sampled_from(STEPS).map(lambda s: ("script", s)),
                    st.sampled_from(CALLS).map(lambda c: ("call", c)))


def assert_same_answers(first: SandboxTarget, second: SandboxTarget, actions: list[tuple[str, Any]]) -> None:
    """Both sandboxes run the actions in turn; each action gives the same outcome on both."""
    for kind, action in actions:
        if kind == "script":
            assert outcome(first, action) == outcome(second, action), action
        else:
            sql, params = action
            assert call(first, sql, params) == call(second, sql, params), action


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLES), st.lists(ACTIONS, min_size=1, max_size=14))
def test_cached_and_uncached_runs_agree(table: str, actions: list[tuple[str, Any]]) -> None:
    cached, uncached = sandboxes()
    for target in (cached, uncached):
        assert target.execute_script(table).ok
    assert_same_answers(cached, uncached, actions)
    for target in (cached, uncached):
        target.close()


# -- the catalog, updated after each CREATE rather than read again in full ---------------------------------
DDL = [
    "CREATE TABLE dbo.A (id INT NOT NULL PRIMARY KEY, name NVARCHAR(20) NULL CONSTRAINT DF_A_name DEFAULT N'x')",
    "CREATE TABLE dbo.B (id INT NOT NULL CONSTRAINT PK_B PRIMARY KEY, a INT NULL, CONSTRAINT CK_B CHECK (a > 0))",
    "CREATE INDEX IX_A_name ON dbo.A (name)",
    "CREATE UNIQUE INDEX UX_B_a ON dbo.B (a)",
    "CREATE VIEW dbo.VA AS SELECT id, name FROM dbo.A",
    "CREATE OR ALTER VIEW dbo.VA AS SELECT id FROM dbo.A",
    "CREATE VIEW dbo.VB AS SELECT * FROM dbo.A",
    "CREATE PROCEDURE dbo.PA @id INT AS SELECT @id",
    "CREATE OR ALTER PROCEDURE dbo.PA @id INT, @n NVARCHAR(5) = NULL AS SELECT @id",
    "ALTER TABLE dbo.A ADD extra DECIMAL(5,2) NULL",
    "DROP TABLE dbo.B",
    "DROP VIEW dbo.VA",
    "DROP PROCEDURE dbo.PA",
    "SELECT id INTO dbo.C FROM dbo.A",
    "THROW 50001, 'undo this script', 1",
    "CREATE TABLE #t (a INT, b NVARCHAR(5))",
    "CREATE TABLE #t (a DECIMAL(5,2))",
    "DROP TABLE IF EXISTS #t",
    "SELECT id INTO #c FROM dbo.A",
    "CREATE INDEX IX_t ON #t (a)",
    # made, then rolled back with the script: the rowids they had are given to the next objects created
    "CREATE TABLE dbo.R (id INT NOT NULL PRIMARY KEY)\nCREATE INDEX IX_R ON dbo.R (id);\nTHROW 50002, 'undo R', 1",
    "CREATE PROCEDURE dbo.PB AS SELECT 2",
    "DECLARE @tv TABLE (a INT NOT NULL PRIMARY KEY)\nINSERT INTO @tv VALUES (1)",  # made and dropped in the batch
]


def digest_state(digest: Any) -> tuple[Any, ...]:
    return digest.rows, digest.owned, digest.owners, digest.top, digest.total


def assert_kept_digest_equals_a_full_read(engine: Any, context: Any = None) -> None:
    """The schema digest kept row by row (each row's hash by rowid, the names it belongs to, the largest rowid
    of each table) is the one a full read makes."""
    engine._digest.refresh(engine._query_plain)
    full = engine_module._SchemaDigest()
    full.refresh(engine._query_plain)
    assert digest_state(engine._digest) == digest_state(full), context
    assert engine._schema_fingerprint() == engine.full_schema_fingerprint(), context


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(DDL), min_size=1, max_size=3), min_size=1, max_size=8))
def test_the_catalog_and_schema_digest_after_ddl_are_what_a_full_read_gives(scripts: list[list[str]]) -> None:
    target = SandboxTarget()
    engine = target.engine
    for script in scripts:
        target.execute_script("\nGO\n".join(script))
        updated = engine.catalog()
        full = engine_module.read_catalog(engine._query_plain, routines=True)
        assert updated.catalog == full.catalog, script
        assert updated.models == full.models, script
        assert engine.object_types() == engine_module.object_types(full), script
        # the schema digest translations are shared by, kept up to date the same way, is a full read's
        assert engine._schema_fingerprint() == engine.full_schema_fingerprint(), script
        assert_kept_digest_equals_a_full_read(engine, script)
        assert engine.table_columns("A") == ({c.name.lower(): c.data_type for c in table.columns}
                                             if (table := full.catalog.table("dbo.A")) else None)
    target.close()


def test_a_create_reads_only_the_object_it_created_and_finds_its_rows_without_a_scan() -> None:
    target = SandboxTarget()
    assert target.execute_script("CREATE TABLE dbo.A (id INT NOT NULL PRIMARY KEY)\nGO\n"
                                 "CREATE PROCEDURE dbo.PA AS SELECT 1").ok
    target.engine.catalog()
    queries: list[tuple[str, Any]] = []
    original = target.engine._query_plain

    def recording(sql: str, params: Any) -> Any:
        queries.append((sql, list(params)))
        return original(sql, params)

    target.engine._query_plain = recording  # type: ignore[method-assign]
    assert target.execute_script("CREATE TABLE dbo.B (id INT NOT NULL PRIMARY KEY, a INT NULL)\nGO\n"
                                 "CREATE INDEX IX_B_a ON dbo.B (a)\nGO\nCREATE PROCEDURE dbo.PB AS SELECT 2").ok
    catalog = target.engine.catalog().catalog
    assert catalog.table("dbo.A") is not None and catalog.procedure("dbo.PA") is not None
    table = catalog.table("dbo.B")
    assert table is not None and table.index("IX_B_a") is not None and catalog.procedure("dbo.PB") is not None
    reads = [(q, p) for q, p in queries if "sqlite_master" in q or "opus_routines" in q.lower()]
    # sqlite_master and the routines table have no index on names: each row is looked up by its rowid (the
    # temp schema, holding only the #temp tables of a running script, is read whole while none of it is kept)
    plans = [(q, row[-1]) for q, p in reads if "sqlite_temp_master" not in q
             for row in target.driver.query("EXPLAIN QUERY PLAN " + q, p)]
    scans = [(q, step) for q, step in plans if "AUTOMATIC" in step
             or (step.startswith("SCAN") and "VIRTUAL TABLE" not in step)]
    assert plans and not scans, scans
    assert any("opus_routines" in q for q, _ in plans) and any("sqlite_master AS m" in q for q, _ in plans)


def test_the_digest_kept_by_rowid_when_a_dropped_rows_rowid_is_taken_again() -> None:
    """SQLite numbers a new row one above the largest rowid left: after the top row is dropped, the next object
    takes its rowid, and after a long run of dropped rows, one far below."""
    target = SandboxTarget()
    engine = target.engine
    steps = ["CREATE TABLE #a (x INT)", "CREATE TABLE #b (x INT NOT NULL PRIMARY KEY)", "DROP TABLE #b",
             "CREATE TABLE #c (y INT)"]
    steps += [f"CREATE TABLE #g{n} (x INT)" for n in range(70)]
    steps += [f"DROP TABLE #g{n}" for n in range(70)]  # the last drop leaves 70 rowids free below the top
    steps += ["CREATE TABLE #d (z INT)", "CREATE TABLE dbo.T (id INT NOT NULL PRIMARY KEY)"]
    rowids: dict[str, int] = {}
    tops = []
    for step in steps:
        target.execute(step)
        assert_kept_digest_equals_a_full_read(engine, step)
        for name, keys in engine._digest.owners.items():
            rowids.setdefault(name, min(rowid for table, rowid in keys))
        tops.append(engine._digest.top["sqlite_temp_master"])
    assert rowids["#c"] == rowids["#b"]  # #c took the rowid #b had
    assert rowids["#d"] == rowids["#c"] + 1 <= max(tops) - 64  # far below the top before the drops
    target.close()


def test_objects_a_rolled_back_savepoint_created_leave_nothing_in_the_kept_digest_or_catalog() -> None:
    target = SandboxTarget()
    engine = target.engine
    with target.transaction():
        target.execute("CREATE TABLE dbo.A (id INT NOT NULL PRIMARY KEY)")
        assert_kept_digest_equals_a_full_read(engine)
        with pytest.raises(ScriptError), target.transaction():  # a savepoint, rolled back by the failure
            target.execute("CREATE TABLE dbo.B (id INT NOT NULL PRIMARY KEY, a INT NULL)")
            target.execute("CREATE INDEX IX_B_a ON dbo.B (a)")
            target.execute("CREATE PROCEDURE dbo.PB AS SELECT 1")
            assert_kept_digest_equals_a_full_read(engine)
            assert engine.catalog().catalog.table("dbo.B") is not None
            target.execute("SELECT * FROM dbo.Missing")
        target.execute("CREATE TABLE dbo.C (id INT NOT NULL PRIMARY KEY, c INT NULL)")  # on B's rowids
        target.execute("CREATE PROCEDURE dbo.PC AS SELECT 2")
        assert_kept_digest_equals_a_full_read(engine)
        full = engine_module.read_catalog(engine._query_plain, routines=True)
        assert engine.catalog().catalog == full.catalog
        assert full.catalog.table("dbo.B") is None and full.catalog.procedure("dbo.PB") is None
        assert full.catalog.table("dbo.C") is not None and full.catalog.procedure("dbo.PC") is not None
    target.close()


@pytest.mark.parametrize("blind", [False, True])
def test_another_connection_writing_the_file_makes_the_digest_read_every_row_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blind: bool) -> None:
    if blind:  # the digest without PRAGMA data_version: shows that the rowids alone would mislead it here
        monkeypatch.setattr(engine_module._SchemaDigest, "_data_version", staticmethod(lambda query: 0))
    path = tmp_path / "shared.sqlite"
    target = SandboxTarget(str(path))
    assert target.execute_script("CREATE TABLE dbo.A (id INT NOT NULL PRIMARY KEY)\nGO\n"
                                 "CREATE TABLE dbo.B (id INT NOT NULL PRIMARY KEY)").ok
    before = target.engine._schema_fingerprint()
    other = sqlite3.connect(path)
    with other:  # B dropped and X made on its rowids, by a connection the engine does not hear of
        other.execute('DROP TABLE "B"')
        other.execute('CREATE TABLE "X" ("id" INT NOT NULL, "note" TEXT, PRIMARY KEY ("id"))')
    other.close()
    assert target.execute_script("CREATE TABLE dbo.C (id INT NOT NULL PRIMARY KEY)").ok
    kept, full = target.engine._schema_fingerprint(), target.engine.full_schema_fingerprint()
    assert kept != before
    assert (kept != full) if blind else (kept == full)
    if not blind:
        assert_kept_digest_equals_a_full_read(target.engine)
    target.close()


def test_altering_a_view_reads_again_the_views_that_read_it() -> None:
    target = SandboxTarget()
    for script in (DDL[0], DDL[4], "CREATE VIEW dbo.VB AS SELECT * FROM dbo.VA"):
        assert target.execute_script(script).ok
    view = target.engine.catalog().catalog.view("dbo.VB")
    assert view is not None and [c.name for c in view.columns] == ["id", "name"]
    assert target.execute_script(DDL[5]).ok  # CREATE OR ALTER VIEW dbo.VA AS SELECT id FROM dbo.A
    view = target.engine.catalog().catalog.view("dbo.VB")
    assert view is not None and [c.name for c in view.columns] == ["id"]


def test_a_temp_table_created_after_a_statement_naming_it_was_translated() -> None:
    script = ("BEGIN TRY\n    INSERT INTO #t (a) VALUES ('12345')\nEND TRY\nBEGIN CATCH\n    PRINT ERROR_NUMBER()\n"
              "END CATCH\nCREATE TABLE #t (a VARCHAR(3))\nGO\n"
              "BEGIN TRY\n    INSERT INTO #t (a) VALUES ('12345')\nEND TRY\nBEGIN CATCH\n    PRINT ERROR_NUMBER()\n"
              "END CATCH\nSELECT COUNT(*) FROM #t")
    seen = agreed(script)
    assert [text for _, text, _ in seen[0]] == ["208", "2628"]  # no table yet; then too long for varchar(3)
    assert seen[1][-1][1] == [(0,)]


def test_a_long_statement_is_translated_once_for_every_sandbox_of_the_same_schema(counted: list[str]) -> None:
    tables = "CREATE TABLE dbo.T (a INT, b NVARCHAR(20))", "CREATE TABLE dbo.T (a VARCHAR(20), b NVARCHAR(20))"
    conditions = " OR ".join(f"b LIKE N'%{n}%'" for n in range(300))  # a generated statement of some length
    sql = f"SELECT COUNT(*), MAX(a + a) FROM dbo.T WHERE {conditions}"
    assert len(sql) >= engine_module.SHARED_TRANSLATION_CHARS
    answers = []
    for table in (tables[0], tables[0], tables[1], tables[1]):
        target = SandboxTarget()
        assert target.execute_script(f"{table}\nINSERT INTO dbo.T VALUES ('2', N'x7x')").ok
        counted.clear()
        answers.append(target.execute(sql))
        answers.append(target.execute(sql))
        answers.append(len(counted))
        target.close()
    unique = [a for a in answers if not isinstance(a, int)]
    assert unique == [[(1, 4)]] * 4 + [[(1, "22")]] * 4  # int + int adds; varchar + varchar concatenates
    # translated by the first sandbox of each schema only (or by neither, when an earlier test made the same)
    assert answers[2] <= 1 and answers[5] == 0 and answers[8] <= 1 and answers[11] == 0


def test_sandboxes_of_other_names_share_translations_but_not_their_names(tmp_path: Any, counted: list[str]) -> None:
    conditions = " OR ".join(f"name LIKE N'%{n}%'" for n in range(300))
    sql = f"SELECT DB_NAME(), COUNT(*) FROM dbo.T WHERE {conditions}"
    names = []
    for file in ("first.sqlite", "second.sqlite"):
        target = SandboxTarget(str(tmp_path / file))
        assert target.execute_script("CREATE TABLE dbo.T (name NVARCHAR(20))").ok
        counted.clear()
        names.append(target.execute(sql))
        names.append(target.execute(f"SELECT COUNT(*) FROM dbo.T WHERE {conditions}"))
        names.append(len(counted))
        target.close()
    assert names[0] == [("first", 0)] and names[3] == [("second", 0)]  # DB_NAME() is each sandbox's own
    assert names[1] == names[4] == [(0,)]
    assert names[2] >= 1 and names[5] == 1  # the second translates only the statement with DB_NAME()


# -- the translations kept on disk for every process of the runner (translation_store.py) --------------------
def a_new_process(path: Path) -> translation_store.TranslationStore:
    """What a new process starts with: nothing in memory, and the store file as earlier processes left it."""
    engine_module._SHARED_TRANSLATIONS.clear()
    subset._REFUSALS.clear()
    return translation_store.TranslationStore(path)


def stored_sandbox(store: translation_store.TranslationStore | None) -> SandboxTarget:
    target = SandboxTarget()
    target.engine.stored = store
    return target


DEPLOY = ("CREATE TABLE dbo.T (a INT NOT NULL PRIMARY KEY, b NVARCHAR(20) NULL)\nGO\n"
          "IF COL_LENGTH('dbo.T', 'c') IS NULL ALTER TABLE dbo.T ADD c DECIMAL(9,2) NULL\nGO\n"
          "INSERT INTO dbo.T (a, b, c) VALUES (1, N'x', 2.5), (2, NULL, NULL)\n"
          "IF @@ROWCOUNT <> 2 THROW 50001, 'rows', 1;\n"
          "UPDATE dbo.T SET b = b + N'y' WHERE a = 1\nSELECT a, b, c FROM dbo.T ORDER BY a")


def test_a_new_process_runs_what_an_earlier_one_translated_without_translating(
        tmp_path: Path, counted: list[str]) -> None:
    first = stored_sandbox(translation_store.TranslationStore(tmp_path / "store.sqlite"))
    seen = outcome(first, DEPLOY)
    assert seen[2] is None, seen
    assert first.engine.stored is not None
    first.engine.stored.close()
    translated_first = len(counted)
    counted.clear()
    second = stored_sandbox(a_new_process(tmp_path / "store.sqlite"))
    assert outcome(second, DEPLOY) == seen
    assert translated_first > 0 and counted == []  # every statement's translation came from the file
    assert second.engine.stored is not None and second.engine.stored.hits > 0


def test_a_store_file_someone_else_may_write_is_not_read(tmp_path: Path, counted: list[str]) -> None:
    path = tmp_path / "store.sqlite"
    first = stored_sandbox(translation_store.TranslationStore(path))
    seen = outcome(first, DEPLOY)
    assert first.engine.stored is not None
    first.engine.stored.close()
    path.chmod(0o666)  # anyone may write it: what it holds is unpickled, so it is not trusted
    counted.clear()
    second = stored_sandbox(a_new_process(path))
    assert outcome(second, DEPLOY) == seen
    assert counted and second.engine.stored is not None and second.engine.stored.broken


def test_a_damaged_store_file_costs_only_translating_again(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    path.chmod(0o600)
    store = a_new_process(path)
    seen = outcome(stored_sandbox(store), DEPLOY)
    assert seen == outcome(stored_sandbox(None), DEPLOY) and seen[2] is None
    assert store.broken


def test_the_store_is_turned_off_by_its_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPUS_CACHE_DIR", str(tmp_path))
    assert translation_store.store() is not None
    monkeypatch.setenv(translation_store.STORE_VARIABLE, "0")
    assert translation_store.store() is None and SandboxTarget().engine.stored is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TABLES), st.lists(ACTIONS, min_size=1, max_size=12))
def test_runs_from_the_store_agree_with_runs_without_any_cache(table: str, actions: list[tuple[str, Any]]) -> None:
    """One process fills the store, a second runs the same steps from it, a third keeps no translation: the
    second and the third see the same; DDL steps between them change the schema the translations are for."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "store.sqlite"
        filling = stored_sandbox(a_new_process(path))
        assert filling.execute_script(table).ok
        for kind, action in actions:
            outcome(filling, action) if kind == "script" else call(filling, *action)
        assert filling.engine.stored is not None
        filling.engine.stored.close()
        reading = stored_sandbox(a_new_process(path))
        uncached = stored_sandbox(None)
        uncached.engine.translation_cache = False
        for target in (reading, uncached):
            assert target.execute_script(table).ok
        assert_same_answers(reading, uncached, actions)
        for target in (filling, reading, uncached):
            target.close()


def test_the_schema_digest_reads_procedures_and_views_but_not_when_they_were_made() -> None:
    """Translations are shared by schema digest: it must change with any T-SQL the runner keeps outside
    sqlite_master, and must not change with the time an object was made (every run would miss the store)."""
    sandboxes = [SandboxTarget() for _ in range(3)]
    for target, body in zip(sandboxes, ("SELECT 1 AS one", "SELECT 1 AS one", "SELECT 2 AS one"), strict=True):
        assert target.execute_script(f"CREATE TABLE dbo.T (x INT)\nGO\nCREATE PROCEDURE dbo.P AS {body}").ok
    sandboxes[1].driver.run("UPDATE __opus_routines SET created = '2001-01-01T00:00:00'")
    digests = [target.engine._schema_fingerprint() for target in sandboxes]
    assert digests[0] == digests[1] != digests[2]


def test_a_full_store_starts_over_once_and_then_keeps_what_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translation_store, "MAX_BYTES", 64 * 1024)
    path = tmp_path / "store.sqlite"
    store = translation_store.TranslationStore(path)
    for n in range(200):  # about 200 KB of entries
        store.put(store.key(("filler", n)), "x" * 1000)
    store.close()
    emptied = translation_store.TranslationStore(path)
    assert emptied.get(emptied.key(("filler", 0))) is None  # past the bound: started over
    emptied.put(emptied.key(("kept", 1)), "value")
    emptied.close()
    # the file keeps its size (SQLite reuses the freed pages); what is in use decides, so it is not emptied again
    again = translation_store.TranslationStore(path)
    assert again.get(again.key(("kept", 1))) == "value"
    again.close()


def test_executemany_from_the_store_writes_what_a_translation_writes(tmp_path: Path, counted: list[str]) -> None:
    schema = "CREATE TABLE dbo.T (a INT NOT NULL, b NVARCHAR(5) NULL, c DECIMAL(5,2) NULL)"
    insert = "INSERT INTO dbo.T (a, b, c) VALUES (?, ?, ?)"
    rows = [(1, "x", 1.5), (2, None, None), (3, "yz", 12.25)]
    written = []
    for store in (translation_store.TranslationStore(tmp_path / "s.sqlite"), a_new_process(tmp_path / "s.sqlite")):
        target = stored_sandbox(store)
        assert target.execute_script(schema).ok
        counted.clear()
        target.executemany(insert, rows)
        translated = len(counted)
        written.append((target.execute("SELECT a, b, c FROM dbo.T ORDER BY a"), translated))
        store.close()
    reference = stored_sandbox(None)
    assert reference.execute_script(schema).ok
    reference.executemany(insert, rows)
    expected = reference.execute("SELECT a, b, c FROM dbo.T ORDER BY a")
    assert [w for w, _ in written] == [expected, expected]
    assert written[0][1] == 1 and written[1][1] == 0  # the second process took the translation from the file
