"""The static check: schema effects read from the T-SQL text, compared with the YAML and with rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_opus.catalog import Column
from pytest_opus.effects import (
    ColumnAdded,
    ColumnDropped,
    ConstraintDropped,
    Dropped,
    IndexCreated,
    NotAnalysed,
    ProcedureCreated,
    TableCreated,
    ViewCreated,
    check_deploy_against_expectations,
    check_rollback_reverses_deploy,
    deployed_catalog,
    display_path,
    effects_catalog,
    file_effects,
    rollback_problems,
    script_effects,
)
from pytest_opus.errors import ScriptError
from pytest_opus.expectations import Finding, ObjectResult, format_findings
from pytest_opus.ledger import LEDGER_TABLES
from pytest_opus.targets.sandbox import SandboxTarget

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
EXPECTATIONS = ROOT / "expectations"
DEPLOY = SQL / "deploy_opus_update_boards.sql"
ROLLBACK = SQL / "rollback_opus_update_boards.sql"


def findings_of(results: list[ObjectResult]) -> list[Finding]:
    return [f for r in results for f in r.findings]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def copy_with(tmp_path: Path, source: Path, old: str, new: str, count: int = 1) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {source.name}: the test needs updating"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


# -- the shipped scripts --------------------------------------------------------------------------


def test_shipped_deploy_script_meets_the_expectations() -> None:
    results = check_deploy_against_expectations(SQL, EXPECTATIONS)
    assert [r.name for r in results] == [
        "dbo.MON_UpdateAudit", "dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems",
        "dbo.VW_UpdateOperationSummary", "dbo.SP_RollbackBatch",
    ]
    assert not findings_of(results), format_findings(findings_of(results))


def test_expectations_dir_may_be_the_schema_directory_itself() -> None:
    assert not findings_of(check_deploy_against_expectations(SQL, EXPECTATIONS / "schema"))


def test_shipped_rollback_reverses_the_deploy() -> None:
    assert check_rollback_reverses_deploy(SQL) == []


def test_deploy_effects_are_read_in_script_order_with_file_lines() -> None:
    effects = file_effects(DEPLOY)
    text = DEPLOY.read_text(encoding="utf-8")
    added = effects.columns_added
    assert len(added) == 14
    first = added[0]
    assert (first.table, first.column.name, first.type, first.nullable) == (
        "dbo.STG_MON_CustMasterSchedule", "update_operation", "varchar(50)", True)
    assert first.default == "('CREATE')"
    assert first.constraint_name == "DF_STG_MON_CustMasterSchedule_update_operation"
    assert first.where.line == line_of(text, "ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_operation")
    assert first.where.file == display_path(DEPLOY)
    assert [t.name for t in effects.tables_created] == [*LEDGER_TABLES, "dbo.MON_UpdateAudit"]
    assert len(effects.tables_created[-1].model.columns) == 15
    assert [(i.name, i.table, i.columns) for i in effects.indexes_created][:1] == [
        ("IX_STG_MON_CustMasterSchedule_update_batch_id", "dbo.STG_MON_CustMasterSchedule", ("update_batch_id",))]
    assert len(effects.indexes_created) == 6
    view = effects.views_created[0]
    assert view.column_names == (
        "batch_id", "update_operation", "monday_board_id", "total_updates", "active_updates",
        "rolled_back_updates", "batch_start_time", "batch_end_time", "error_count")
    assert view.where.line == line_of(text, "CREATE OR ALTER VIEW")
    assert effects.drops == [] and effects.not_analysed == []


def test_static_catalog_equals_the_sandbox_after_deploy(deployed: SandboxTarget) -> None:
    """Types, lengths, defaults, identity, keys, indexes, view columns and parameters: as a target reports them."""
    assert deployed_catalog(SQL) == deployed.catalog()


def test_static_catalog_after_rollback_is_the_baseline_plus_the_ledger() -> None:
    baseline = [file_effects(p) for p in sorted((SQL / "baseline").glob("*.sql"))]
    before = effects_catalog(*baseline)
    after = effects_catalog(*baseline, file_effects(DEPLOY), file_effects(ROLLBACK))
    # the ledger (with its backup tables) is created by deploy and kept by rollback: it is the record
    ledger = {name.lower() for name in LEDGER_TABLES}
    assert ledger <= set(after.tables)
    backup = after.table("dbo.OPUS_BackupAudit")
    assert backup is not None and [c.name for c in backup.columns][:3] == ["run_id", "audit_id", "batch_id"]
    assert {k: t for k, t in after.tables.items() if k not in ledger} == before.tables
    assert not after.views and not after.procedures


def test_rollback_reads_its_dynamic_sql_as_opaque_with_its_evidence() -> None:
    effects = file_effects(ROLLBACK)
    text = ROLLBACK.read_text(encoding="utf-8")
    # the value backup (a copy and a count per column) and the default constraints, built at run time
    assert len(effects.dynamic) == 3
    [defaults] = [d for d in effects.dynamic if "sys.default_constraints" in d.reads]
    assert defaults.where.line == line_of(text, "EXEC sp_executesql @drop_defaults")


# -- planted mismatches -----------------------------------------------------------------------------


def test_changed_column_type_in_deploy_is_caught(tmp_path: Path) -> None:
    deploy = copy_with(tmp_path, DEPLOY, "ADD update_batch_id VARCHAR(50)", "ADD update_batch_id VARCHAR(60)")
    findings = findings_of(check_deploy_against_expectations(SQL, EXPECTATIONS, deploy_script=deploy))
    assert [(f.object, f.kind, f.column, f.expected, f.actual) for f in findings] == [
        ("dbo.STG_MON_CustMasterSchedule", "length", "update_batch_id", "varchar(50)", "varchar(60)")]


def test_changed_base_type_in_deploy_is_caught(tmp_path: Path) -> None:
    deploy = copy_with(tmp_path, DEPLOY, "ADD source_table VARCHAR(100)", "ADD source_table NVARCHAR(100)", 2)
    findings = findings_of(check_deploy_against_expectations(SQL, EXPECTATIONS, deploy_script=deploy))
    assert {(f.object, f.kind, f.column) for f in findings} == {
        ("dbo.STG_MON_CustMasterSchedule", "type", "source_table"),
        ("dbo.STG_MON_CustMasterSchedule_Subitems", "type", "source_table")}


def test_unexpected_column_on_the_exact_audit_table_is_caught(tmp_path: Path) -> None:
    text = DEPLOY.read_text(encoding="utf-8") + (
        "\nIF COL_LENGTH(N'dbo.MON_UpdateAudit', N'reviewer_note') IS NULL\n"
        "    ALTER TABLE dbo.MON_UpdateAudit ADD reviewer_note NVARCHAR(200) NULL;\nGO\n")
    deploy = tmp_path / DEPLOY.name
    deploy.write_text(text, encoding="utf-8")
    findings = findings_of(check_deploy_against_expectations(SQL, EXPECTATIONS, deploy_script=deploy))
    assert [(f.object, f.kind, f.column, f.actual) for f in findings] == [
        ("dbo.MON_UpdateAudit", "unexpected_column", "reviewer_note", "nvarchar(200) NULL")]
    assert "DROP COLUMN" in (findings[0].fix or "")
    # the column goes with its table, so the rollback check has nothing to say about it
    assert check_rollback_reverses_deploy(SQL, deploy_script=deploy) == []


def test_rollback_missing_the_view_drop_is_caught(tmp_path: Path) -> None:
    rollback = copy_with(tmp_path, ROLLBACK, "    DROP VIEW dbo.VW_UpdateOperationSummary;\n", "")
    problems = check_rollback_reverses_deploy(SQL, rollback_script=rollback)
    line = line_of(DEPLOY.read_text(encoding="utf-8"), "CREATE OR ALTER VIEW dbo.VW_UpdateOperationSummary")
    assert problems == [f"{display_path(DEPLOY)}:{line}: view dbo.VW_UpdateOperationSummary is created here, "
                        f"but {display_path(rollback)} never drops it"]


def test_rollback_without_the_default_constraint_block_is_caught(tmp_path: Path) -> None:
    rollback = copy_with(tmp_path, ROLLBACK, "    EXEC sp_executesql @drop_defaults;\n", "")
    problems = check_rollback_reverses_deploy(SQL, rollback_script=rollback)
    # the four columns with a default: update_operation and validation_status on both tables
    assert len(problems) == 4, problems
    assert all("must drop it before the column" in p for p in problems)
    assert any("DF_STG_MON_CustMasterSchedule_Subitems_validation_status" in p for p in problems)


def test_dynamic_sql_counts_only_when_it_reads_sys_default_constraints(tmp_path: Path) -> None:
    rollback = copy_with(tmp_path, ROLLBACK, "FROM sys.default_constraints AS dc", "FROM sys.objects AS dc")
    assert len(check_rollback_reverses_deploy(SQL, rollback_script=rollback)) == 4


def test_defaults_dropped_by_name_are_accepted() -> None:
    deploy = script_effects(
        "ALTER TABLE dbo.T ADD a VARCHAR(5) NULL CONSTRAINT DF_T_a DEFAULT ('x');\n", "deploy.sql")
    rollback_ok = script_effects(
        "ALTER TABLE dbo.T DROP CONSTRAINT DF_T_a;\nALTER TABLE dbo.T DROP COLUMN a;\n", "rollback.sql")
    rollback_late = script_effects(
        "ALTER TABLE dbo.T DROP COLUMN a;\nALTER TABLE dbo.T DROP CONSTRAINT DF_T_a;\n", "rollback.sql")
    assert rollback_problems(deploy, rollback_ok) == []
    [late] = rollback_problems(deploy, rollback_late)
    assert late.startswith("deploy.sql:1: column dbo.T.a is dropped at rollback.sql:1 before its default")


def test_index_must_be_dropped_before_its_column(tmp_path: Path) -> None:
    # move the drops of section 3 (view, procedure, indexes, audit table) after the column drops (section 5)
    text = ROLLBACK.read_text(encoding="utf-8")
    start = text.index("-- 3. The view, the procedure, the indexes")
    end = text.index("-- 4. Every default constraint")
    moved = text[:start] + text[end:] + "\n" + text[start:end]
    rollback = tmp_path / ROLLBACK.name
    rollback.write_text(moved, encoding="utf-8")
    problems = check_rollback_reverses_deploy(SQL, rollback_script=rollback)
    assert len(problems) == 2, problems
    assert all("update_batch_id is dropped at" in p and "before index IX_" in p for p in problems)


def test_rollback_dropping_what_deploy_did_not_add_is_caught(tmp_path: Path) -> None:
    rollback = copy_with(tmp_path, ROLLBACK, "PRINT N'OPUS Update Boards Phase 0 rollback complete';",
                         "ALTER TABLE dbo.STG_MON_CustMasterSchedule DROP COLUMN board_id;")
    [problem] = check_rollback_reverses_deploy(SQL, rollback_script=rollback)
    assert "drops column dbo.STG_MON_CustMasterSchedule.board_id, which" in problem


def test_dynamic_sql_in_deploy_is_reported_as_unchecked(tmp_path: Path) -> None:
    deploy = copy_with(tmp_path, DEPLOY, "PRINT N'OPUS Update Boards Phase 0 deployment complete';",
                       "EXEC sp_executesql N'CREATE TABLE dbo.Sneaky (a INT)';")
    [problem] = check_rollback_reverses_deploy(SQL, deploy_script=deploy)
    assert "dynamic SQL" in problem and problem.startswith(f"{display_path(deploy)}:")


# -- reading constructs -----------------------------------------------------------------------------


def test_both_branches_of_if_else_and_nested_blocks_are_read() -> None:
    effects = script_effects(
        "IF OBJECT_ID(N'dbo.A', N'U') IS NULL\n"            # 1
        "BEGIN\n"                                           # 2
        "    CREATE TABLE dbo.A (id INT NOT NULL);\n"       # 3
        "END\n"                                             # 4
        "ELSE\n"                                            # 5
        "BEGIN\n"                                           # 6
        "    IF COL_LENGTH(N'dbo.A', N'b') IS NULL\n"       # 7
        "        ALTER TABLE dbo.A ADD b NVARCHAR(MAX) NULL;\n"  # 8
        "    ELSE\n"                                        # 9
        "        ALTER TABLE dbo.A DROP COLUMN b;\n"        # 10
        "END\n"                                             # 11
        "GO\n"                                              # 12
        "BEGIN TRY\n"                                       # 13
        "    DROP INDEX IX_A_b ON dbo.A;\n"                 # 14
        "END TRY\n"                                         # 15
        "BEGIN CATCH\n"                                     # 16
        "    ALTER TABLE dbo.A DROP CONSTRAINT DF_A_b;\n"   # 17
        "END CATCH\n",                                      # 18
        "branches.sql",
    )
    kinds = [(type(c).__name__, c.where.line) for c in effects.changes]
    assert kinds == [("TableCreated", 3), ("ColumnAdded", 8), ("ColumnDropped", 10), ("Dropped", 14),
                     ("ConstraintDropped", 17)]
    created, added, dropped_column, dropped_index, dropped_constraint = effects.changes
    assert isinstance(created, TableCreated) and created.name == "dbo.A"
    assert isinstance(added, ColumnAdded) and (added.type, added.default) == ("nvarchar(max)", None)
    assert dropped_column == ColumnDropped(dropped_column.where, "dbo.A", "b")
    assert dropped_index == Dropped(dropped_index.where, "index", "IX_A_b", "dbo.A")
    assert dropped_constraint == ConstraintDropped(dropped_constraint.where, "dbo.A", "DF_A_b")
    assert str(added.where) == "branches.sql:8"


def test_create_or_alter_procedure_parameters_have_types() -> None:
    effects = script_effects(
        "CREATE OR ALTER PROCEDURE dbo.P\n"
        "    @batch_id VARCHAR(50),\n"
        "    @notes NVARCHAR(MAX) = NULL,\n"
        "    @amount DECIMAL(18,4),\n"
        "    @rows INT OUTPUT\n"
        "AS\n"
        "BEGIN\n"
        "    CREATE TABLE dbo.MadeWhenCalled (a INT);\n"
        "    SET @rows = 0;\n"
        "END\n",
        "proc.sql",
    )
    [procedure] = effects.changes  # the body runs when the procedure is called: not a script effect
    assert isinstance(procedure, ProcedureCreated) and procedure.name == "dbo.P"
    assert [(p.name, p.ordinal, p.type_text, p.is_output) for p in procedure.parameters] == [
        ("@batch_id", 1, "varchar(50)", False),
        ("@notes", 2, "nvarchar(max)", False),
        ("@amount", 3, "decimal(18,4)", False),
        ("@rows", 4, "int", True),
    ]
    assert effects_catalog(effects).procedure("dbo.P").parameters == procedure.parameters  # type: ignore[union-attr]


def test_view_columns_follow_aliases_and_sources() -> None:
    effects = script_effects(
        "CREATE TABLE dbo.T (id INT NOT NULL, name NVARCHAR(40) NULL);\nGO\n"
        "CREATE VIEW dbo.V AS SELECT t.id AS key_id, name, CAST(NULL AS DATE) AS seen, COUNT(*) AS n FROM dbo.T AS t"
        " GROUP BY t.id, name;\n",
        "view.sql",
    )
    view = effects.views_created[0]
    assert isinstance(view, ViewCreated) and view.column_names == ("key_id", "name", "seen", "n")
    columns = effects_catalog(effects).view("dbo.V").columns  # type: ignore[union-attr]
    assert [(c.name, c.ordinal, c.type_text) for c in columns] == [
        ("key_id", 1, "int"), ("name", 2, "nvarchar(40)"), ("seen", 3, "date"), ("n", 4, "")]


def test_dynamic_sql_is_recorded_with_its_line_and_never_applied() -> None:
    effects = script_effects(
        "DECLARE @sql NVARCHAR(MAX) = N'DROP TABLE dbo.T';\n"
        "EXEC sp_executesql @sql;\n"
        "EXEC (@sql);\n"
        "EXEC dbo.SomeProcedure @a = 1;\n",
        "dyn.sql",
    )
    assert [(c.kind, c.where.line) for c in effects.not_analysed] == [("dynamic", 2), ("dynamic", 3)]
    assert effects_catalog(effects).tables == {}


@pytest.mark.parametrize(
    ("script", "kind"),
    [
        ("CREATE TRIGGER dbo.tr ON dbo.T AFTER INSERT AS SELECT 1;", "unsupported"),
        ("ALTER TABLE dbo.T ALTER COLUMN a INT NULL;", "unsupported"),
        ("CREATE TABLE dbo.T (a GEOGRAPHY NULL);", "unsupported"),
        ("DROP SYNONYM dbo.S;", "unsupported"),
        ("ALTER TABLE dbo.T ADD CONSTRAINT DF_T_a DEFAULT (1) FOR a;", "unsupported"),
    ],
)
def test_ddl_outside_the_model_is_reported_not_skipped(script: str, kind: str) -> None:
    [item] = script_effects(script, "x.sql").changes
    assert isinstance(item, NotAnalysed) and item.kind == kind and item.where.line == 1


def test_a_syntax_error_is_reported_as_the_runner_reports_it() -> None:
    """A statement SQL Server could not compile is its syntax error, as the runner gives it, not an effect."""
    with pytest.raises(ScriptError, match=r"x\.sql:2: Incorrect syntax near") as caught:
        script_effects("PRINT 'first'\nCREATE TABLE dbo.T (a INT NOT NULL", "x.sql")
    assert caught.value.number in (102, 156)


def test_temp_tables_and_data_statements_are_not_schema_effects() -> None:
    effects = script_effects(
        "CREATE TABLE #work (a INT);\nSELECT a INTO #copy FROM #work;\nINSERT INTO dbo.T (a) VALUES (1);\n"
        "UPDATE dbo.T SET a = 2;\nDROP TABLE #work;\n",
        "temp.sql",
    )
    assert effects.changes == ()


def test_replay_keeps_existing_objects_and_applies_drops() -> None:
    effects = script_effects(
        "CREATE TABLE dbo.T (id INT IDENTITY(1,1) NOT NULL PRIMARY KEY, a VARCHAR(10) NULL"
        " CONSTRAINT DF_T_a DEFAULT ('x'), b INT NULL);\n"
        "ALTER TABLE dbo.T ADD a VARCHAR(99) NULL;\n"  # guarded in real scripts: the first definition stays
        "CREATE INDEX IX_T_b ON dbo.T (b);\n"
        "ALTER TABLE dbo.T DROP CONSTRAINT DF_T_a;\n"
        "DROP INDEX IX_T_b ON dbo.T;\n"
        "ALTER TABLE dbo.T DROP COLUMN b;\n",
        "replay.sql",
    )
    table = effects_catalog(effects).table("dbo.T")
    assert table is not None
    assert [(c.name, c.ordinal, c.type_text, c.default) for c in table.columns] == [
        ("id", 1, "int", None), ("a", 2, "varchar(10)", None)]
    assert table.columns[0] == Column("id", 1, "int", nullable=False, identity=True)
    assert [i.name for i in table.indexes] == ["PK__T"]
    assert isinstance(effects.changes[2], IndexCreated)


def test_truncations_calls_and_procedure_bodies_are_recorded_apart_from_schema_changes() -> None:
    from pytest_opus.effects import ProcedureCalled, TableTruncated

    effects = script_effects(
        "CREATE TABLE dbo.T (a INT NULL);\n"              # 1
        "GO\n"                                            # 2
        "CREATE PROCEDURE dbo.P AS\n"                     # 3
        "BEGIN\n"                                         # 4
        "    TRUNCATE TABLE dbo.T;\n"                     # 5
        "    DROP TABLE dbo.T;\n"                         # 6
        "END\n"                                           # 7
        "GO\n"                                            # 8
        "TRUNCATE TABLE dbo.T;\nTRUNCATE TABLE #w;\n"     # 9, 10
        "EXEC dbo.P;\n",                                  # 11
        "t.sql",
    )
    assert [(type(c).__name__, c.where.line) for c in effects.changes] == [("TableCreated", 1),
                                                                          ("ProcedureCreated", 3)]
    truncated, called = effects.actions  # they change no schema: kept apart, in script order
    assert truncated == TableTruncated(truncated.where, "dbo.T") and truncated.where.line == 9
    assert called == ProcedureCalled(called.where, "dbo.P") and called.where.line == 11
    procedure = effects.procedures_created[0]
    assert [(type(c).__name__, c.where.line) for c in procedure.body] == [("TableTruncated", 5), ("Dropped", 6)]
    assert effects_catalog(effects).table("dbo.T") is not None  # neither the body nor a truncate drops it


def test_a_statement_after_one_without_a_semicolon_is_read_on_its_own_line() -> None:
    effects = script_effects(
        "SET XACT_ABORT ON\n"                                   # 1
        "DROP VIEW dbo.V\n"                                     # 2
        "SELECT a INTO dbo.Copy FROM dbo.T\n"                   # 3
        "GO\n"                                                  # 4
        "UPDATE dbo.T SET a = 1\n"                              # 5
        "\n"                                                    # 6
        "    ALTER TABLE dbo.T DROP COLUMN b\n"                 # 7
        "GO\n"                                                  # 8
        "SELECT a INTO dbo.Copy2 FROM dbo.T\nEXEC sp_executesql @sql\n",  # 9, 10
        "nosemi.sql",
    )
    kinds = [(type(c).__name__, c.where.line) for c in effects.changes]
    assert effects.actions == ()
    # The parser finds the statements as SQL Server does (tests/unit/test_tsql_statement_boundaries.py),
    # DDL after DDL included.
    assert kinds == [("Dropped", 2), ("SelectInto", 3), ("ColumnDropped", 7), ("SelectInto", 9), ("NotAnalysed", 10)]
    assert [c.kind for c in effects.not_analysed] == ["dynamic"]


def test_ssms_storage_clauses_and_inline_indexes_are_read_as_the_runner_reads_them() -> None:
    """SSMS's Generate Scripts output (a table-level key WITH index options, ON [PRIMARY], TEXTIMAGE_ON, an
    inline INDEX) has effects the reader can tell, so running it needs no --confirm."""
    effects = script_effects(
        "CREATE TABLE [dbo].[Log](\n"
        "\t[id] [int] IDENTITY(1,1) NOT NULL,\n"
        "\t[note] [nvarchar](max) NULL,\n"
        "\tINDEX [IX_Log_note_len] NONCLUSTERED ([id]),\n"
        " CONSTRAINT [PK_Log] PRIMARY KEY CLUSTERED ([id] ASC)\n"
        "WITH (PAD_INDEX = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON) ON [PRIMARY]\n"
        ") ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]\n",
        "ssms.sql",
    )
    assert effects.not_analysed == []
    created, index = effects.changes
    assert isinstance(created, TableCreated) and created.name == "dbo.Log"
    assert isinstance(index, IndexCreated) and (index.name, index.table, index.columns) == (
        "IX_Log_note_len", "dbo.Log", ("id",))
