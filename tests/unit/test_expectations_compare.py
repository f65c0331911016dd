"""Comparing the shipped expectations with hand-built catalogs: planted mismatches, older databases."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlglot

from pytest_opus.catalog import Catalog, CheckConstraint, Column, Index, Parameter, Procedure, Table, View
from pytest_opus.expectations import (
    FINDING_KINDS,
    Expectations,
    Finding,
    ObjectResult,
    compare,
    format_findings,
    load_expectations,
    parse_expectations,
)
from pytest_opus.updates.staging import UPDATE_COLUMNS

REPO = Path(__file__).resolve().parents[2]
SCHEMA = load_expectations(REPO / "expectations" / "schema")
AFTER_ROLLBACK = load_expectations(REPO / "expectations" / "after_rollback")

STAGING = ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems")
AUDIT = "dbo.MON_UpdateAudit"
VIEW = "dbo.VW_UpdateOperationSummary"
PROCEDURE = "dbo.SP_RollbackBatch"


def staging_table(name: str, *, deployed: bool = True, older: bool = False) -> Table:
    """A staging table as the baseline creates it, with the update columns when `deployed`.

    `older` imitates the first implementation's deployment: system-named default constraints,
    sysutcdatetime-free but otherwise equivalent defaults, and an extra board_id column.
    """
    columns = [
        Column("[AAG ORDER NUMBER]", 1, "nvarchar", 200),
        Column("CUSTOMER", 2, "nvarchar", 200),
        Column("FINAL FOB (USD)", 3, "decimal", precision=18, scale=4),
        Column("stg_id", 4, "bigint", nullable=False, identity=True),
        Column("stg_status", 5, "nvarchar", 50, default="(N'PENDING')", default_name=f"DF_{name}_stg_status"),
    ]

    def default_name(column: str) -> str:
        return f"DF__STG_MON___{column[:5]}__5EBF139D" if older else f"DF_{name}_{column}"

    if deployed:
        columns += [
            Column("update_operation", 6, "varchar", 50, default="('CREATE')",
                   default_name=default_name("update_operation")),
            Column("update_fields", 7, "nvarchar", -1),
            Column("source_table", 8, "varchar", 100),
            Column("source_query", 9, "nvarchar", -1),
            Column("update_batch_id", 10, "varchar", 50),
            Column("validation_status", 11, "varchar", 20,
                   default="(N'PENDING')" if older else "('PENDING')",
                   default_name=default_name("validation_status")),
            Column("validation_errors", 12, "nvarchar", -1),
        ]
    if older:
        columns.append(Column("board_id", 13, "bigint"))
    pk = Index(f"PK__{name[:8]}__ABC", ("stg_id",), unique=True, primary_key=True)
    return Table("dbo", name, tuple(columns), (pk,))


def audit_table(*, older: bool = False) -> Table:
    def col(ordinal: int, name: str, data_type: str, length: int | None = None, **extra: object) -> Column:
        return Column(name, ordinal, data_type, length, **extra)  # type: ignore[arg-type]

    columns = (
        col(1, "audit_id", "int", nullable=False, identity=True),
        col(2, "batch_id", "varchar", 50, nullable=False),
        col(3, "update_operation", "varchar", 50, nullable=False),
        col(4, "monday_item_id", "bigint"),
        col(5, "monday_board_id", "bigint"),
        col(6, "column_id", "varchar", 100),
        col(7, "old_value", "nvarchar", -1),
        col(8, "new_value", "nvarchar", -1),
        col(9, "update_timestamp", "datetime2",
            default="(getutcdate())" if older else "(sysutcdatetime())",
            default_name="DF__MON_Updat__updat__1A2B3C4D" if older else "DF_MON_UpdateAudit_update_timestamp"),
        col(10, "rollback_timestamp", "datetime2"),
        col(11, "rollback_reason", "nvarchar", 500),
        col(12, "user_id", "varchar", 100),
        col(13, "source_system", "varchar", 50, default="('OPUS_UPDATE_BOARDS')",
            default_name="DF_MON_UpdateAudit_source_system"),
        col(14, "api_response_id", "varchar", 100),
        col(15, "error_message", "nvarchar", -1),
    )
    indexes = (
        Index("PK_MON_UpdateAudit", ("audit_id",), unique=True, primary_key=True),
        Index("IX_MON_UpdateAudit_batch_id", ("batch_id",)),
        Index("IX_MON_UpdateAudit_monday_item_id", ("monday_item_id",)),
        Index("IX_MON_UpdateAudit_monday_board_id", ("monday_board_id",)),
        Index("IX_MON_UpdateAudit_update_timestamp", ("update_timestamp",)),
    )
    return Table("dbo", "MON_UpdateAudit", columns, indexes)


VIEW_COLUMNS = ("batch_id", "update_operation", "monday_board_id", "total_updates", "active_updates",
                "rolled_back_updates", "batch_start_time", "batch_end_time", "error_count")


def summary_view() -> View:
    types = {"total_updates": "int", "active_updates": "int", "rolled_back_updates": "int",
             "error_count": "int", "batch_start_time": "datetime2", "batch_end_time": "datetime2",
             "monday_board_id": "bigint"}
    return View("dbo", "VW_UpdateOperationSummary", tuple(
        Column(name, i, types.get(name, "varchar"), None if name in types else 50)
        for i, name in enumerate(VIEW_COLUMNS, start=1)))


def rollback_procedure() -> Procedure:
    return Procedure("dbo", "SP_RollbackBatch", (
        Parameter("@batch_id", 1, "varchar", 50),
        Parameter("@rollback_reason", 2, "nvarchar", 500),
    ))


def deployed(*, older: bool = False) -> Catalog:
    return Catalog.build(
        [*(staging_table(n, older=older) for n in STAGING), audit_table(older=older)],
        [summary_view()],
        [rollback_procedure()],
    )


def baseline_only() -> Catalog:
    return Catalog.build([staging_table(n, deployed=False) for n in STAGING])


def by_name(results: list[ObjectResult]) -> dict[str, ObjectResult]:
    return {r.name: r for r in results}


def all_findings(results: list[ObjectResult]) -> list[Finding]:
    return [f for r in results for f in r.findings]


# -- whole catalogs ----------------------------------------------------------------------------


def test_a_correct_deployment_passes_every_expectation() -> None:
    results = compare(SCHEMA, deployed())
    assert [r.summary() for r in results] == [f"{name}: ok" for name in SCHEMA.names()]


def test_an_older_deployment_passes_where_it_meets_the_expectations() -> None:
    # System-named defaults, an extra board_id on the staging tables, getutcdate() for "UTC now".
    catalog = deployed(older=True)
    assert catalog.table("dbo.STG_MON_CustMasterSchedule").column("board_id") is not None  # type: ignore[union-attr]
    assert all(r.ok for r in compare(SCHEMA, catalog)), format_findings(all_findings(compare(SCHEMA, catalog)))


def test_an_older_deployment_still_shows_precise_findings() -> None:
    catalog = deployed(older=True)
    table = catalog.table("dbo.STG_MON_CustMasterSchedule")
    assert table is not None
    broken = dataclasses.replace(table, columns=tuple(
        dataclasses.replace(c, default=None, default_name=None) if c.name == "update_operation" else c
        for c in table.columns))
    findings = all_findings(compare(SCHEMA, replace_table(catalog, broken)))
    assert [(f.object, f.kind, f.column) for f in findings] == [
        ("dbo.STG_MON_CustMasterSchedule", "default", "update_operation")]


def test_a_baseline_only_database_lists_every_missing_object() -> None:
    results = by_name(compare(SCHEMA, baseline_only()))
    for name in (AUDIT, VIEW, PROCEDURE):
        assert [f.kind for f in results[name].findings] == ["missing_object"]
    for name in STAGING:
        missing = [f.column for f in results[f"dbo.{name}"].findings if f.kind == "missing_column"]
        assert missing == list(UPDATE_COLUMNS)


def test_after_rollback_expectations() -> None:
    assert all(r.ok for r in compare(AFTER_ROLLBACK, baseline_only()))
    results = by_name(compare(AFTER_ROLLBACK, deployed()))
    for name in (AUDIT, VIEW, PROCEDURE):
        assert results[name].absent
        assert [f.kind for f in results[name].findings] == ["unexpected_object"]
    assert results[AUDIT].findings[0].fix == "DROP TABLE [dbo].[MON_UpdateAudit]"
    assert results[VIEW].findings[0].fix == "DROP VIEW [dbo].[VW_UpdateOperationSummary]"
    assert results[PROCEDURE].findings[0].fix == "DROP PROCEDURE [dbo].[SP_RollbackBatch]"
    leftovers = [f for f in results["dbo.STG_MON_CustMasterSchedule"].findings]
    assert {f.kind for f in leftovers} == {"unexpected_column"} and len(leftovers) == 7


def test_rollback_fix_drops_the_default_constraint_before_the_column() -> None:
    results = by_name(compare(AFTER_ROLLBACK, deployed(older=True)))
    finding = next(f for f in results["dbo.STG_MON_CustMasterSchedule"].findings
                   if f.column == "update_operation")
    assert finding.fix == (
        "ALTER TABLE [dbo].[STG_MON_CustMasterSchedule] DROP CONSTRAINT DF__STG_MON___updat__5EBF139D;\n"
        "ALTER TABLE [dbo].[STG_MON_CustMasterSchedule] DROP COLUMN [update_operation]")


# -- planted mismatches, one at a time ---------------------------------------------------------


def replace_table(catalog: Catalog, table: Table) -> Catalog:
    tables = [t for t in catalog.tables.values() if t.name.lower() != table.name.lower()] + [table]
    return Catalog.build(tables, catalog.views.values(), catalog.procedures.values())


Plant = Callable[[Catalog], Catalog]


def change_table(table_name: str, change: Callable[[Table], Table]) -> Plant:
    """A plant that rewrites one table of the catalog with `change`."""
    def plant(catalog: Catalog) -> Catalog:
        table = catalog.table(table_name)
        assert table is not None
        return replace_table(catalog, change(table))
    return plant


def edit_column(table_name: str, column: str, **changes: object) -> Plant:
    return change_table(table_name, lambda t: dataclasses.replace(t, columns=tuple(
        dataclasses.replace(c, **changes) if c.name == column else c for c in t.columns)))  # type: ignore[arg-type]


def drop_column(table_name: str, column: str) -> Plant:
    return change_table(table_name, lambda t: dataclasses.replace(
        t, columns=tuple(c for c in t.columns if c.name != column)))


def add_column(table_name: str, column: Column) -> Plant:
    return change_table(table_name, lambda t: dataclasses.replace(t, columns=(*t.columns, column)))


def drop_index(table_name: str, index: str) -> Plant:
    return change_table(table_name, lambda t: dataclasses.replace(
        t, indexes=tuple(i for i in t.indexes if i.name != index)))


def edit_index(table_name: str, index: str, **changes: object) -> Plant:
    return change_table(table_name, lambda t: dataclasses.replace(t, indexes=tuple(
        dataclasses.replace(i, **changes) if i.name == index else i for i in t.indexes)))  # type: ignore[arg-type]


def drop_view_column(column: str) -> Callable[[Catalog], Catalog]:
    def plant(catalog: Catalog) -> Catalog:
        view = summary_view()
        kept = tuple(c for c in view.columns if c.name != column)
        return Catalog.build(catalog.tables.values(), [dataclasses.replace(view, columns=kept)],
                             catalog.procedures.values())
    return plant


def swap_view_columns(catalog: Catalog) -> Catalog:
    view = summary_view()
    columns = list(view.columns)
    columns[0], columns[1] = columns[1], columns[0]
    renumbered = tuple(dataclasses.replace(c, ordinal=i) for i, c in enumerate(columns, start=1))
    return Catalog.build(catalog.tables.values(), [dataclasses.replace(view, columns=renumbered)],
                         catalog.procedures.values())


def replace_parameters(*parameters: Parameter) -> Callable[[Catalog], Catalog]:
    def plant(catalog: Catalog) -> Catalog:
        return Catalog.build(catalog.tables.values(), catalog.views.values(),
                             [dataclasses.replace(rollback_procedure(), parameters=parameters)])
    return plant


def without(kind: str, name: str) -> Callable[[Catalog], Catalog]:
    def plant(catalog: Catalog) -> Catalog:
        def keep(group: object) -> list:  # type: ignore[type-arg]
            return [o for o in group.values() if f"{o.schema}.{o.name}" != name]  # type: ignore[attr-defined]
        return Catalog.build(
            keep(catalog.tables) if kind == "table" else catalog.tables.values(),
            keep(catalog.views) if kind == "view" else catalog.views.values(),
            keep(catalog.procedures) if kind == "procedure" else catalog.procedures.values())
    return plant


MAIN = "dbo.STG_MON_CustMasterSchedule"
SUB = "dbo.STG_MON_CustMasterSchedule_Subitems"
PLANTED: list[tuple[str, Callable[[Catalog], Catalog], str, str, str | None]] = [
    ("column dropped", drop_column(MAIN, "validation_status"), MAIN, "missing_column", "validation_status"),
    ("audit column dropped", drop_column(AUDIT, "batch_id"), AUDIT, "missing_column", "batch_id"),
    ("type changed", edit_column(SUB, "source_table", data_type="nvarchar"), SUB, "type", "source_table"),
    ("length changed", edit_column(MAIN, "update_batch_id", max_length=36), MAIN, "length", "update_batch_id"),
    ("max became bounded", edit_column(AUDIT, "old_value", max_length=4000), AUDIT, "length", "old_value"),
    ("nullability flipped", edit_column(AUDIT, "batch_id", nullable=True), AUDIT, "nullability", "batch_id"),
    ("staging column made NOT NULL", edit_column(SUB, "update_fields", nullable=False), SUB, "nullability",
     "update_fields"),
    ("default removed", edit_column(MAIN, "update_operation", default=None), MAIN, "default",
     "update_operation"),
    ("default changed", edit_column(AUDIT, "source_system", default="('OTHER')"), AUDIT, "default",
     "source_system"),
    ("UTC default became local time", edit_column(AUDIT, "update_timestamp", default="(getdate())"), AUDIT,
     "default", "update_timestamp"),
    ("unwanted default", edit_column(SUB, "source_query", default="('')"), SUB, "default", "source_query"),
    ("identity lost", edit_column(AUDIT, "audit_id", identity=False), AUDIT, "identity", "audit_id"),
    ("index dropped", drop_index(AUDIT, "IX_MON_UpdateAudit_monday_item_id"), AUDIT, "index", None),
    ("index on the wrong column", edit_index(AUDIT, "IX_MON_UpdateAudit_batch_id", columns=("column_id",)),
     AUDIT, "index", None),
    ("primary key renamed", edit_index(AUDIT, "PK_MON_UpdateAudit", name="PK__MON_Upda__1234"), AUDIT,
     "primary_key", None),
    ("primary key missing", drop_index(AUDIT, "PK_MON_UpdateAudit"), AUDIT, "primary_key", None),
    ("view column removed", drop_view_column("rolled_back_updates"), VIEW, "view_column", "rolled_back_updates"),
    ("view columns reordered", swap_view_columns, VIEW, "view_column", None),
    ("procedure parameter renamed", replace_parameters(Parameter("@batch", 1, "varchar", 50),
                                                       Parameter("@rollback_reason", 2, "nvarchar", 500)),
     PROCEDURE, "parameter", "@batch_id"),
    ("procedure parameter retyped", replace_parameters(Parameter("@batch_id", 1, "varchar", 50),
                                                       Parameter("@rollback_reason", 2, "nvarchar", 200)),
     PROCEDURE, "parameter", "@rollback_reason"),
    ("unexpected column in an exact table", add_column(AUDIT, Column("board_id", 16, "bigint")), AUDIT,
     "unexpected_column", "board_id"),
    ("table missing", without("table", AUDIT), AUDIT, "missing_object", None),
    ("view missing", without("view", VIEW), VIEW, "missing_object", None),
    ("procedure missing", without("procedure", PROCEDURE), PROCEDURE, "missing_object", None),
]


@pytest.mark.parametrize(("plant", "obj", "kind", "column"), [p[1:] for p in PLANTED],
                         ids=[p[0] for p in PLANTED])
def test_each_planted_mismatch_is_caught_by_name_and_kind(
        plant: Callable[[Catalog], Catalog], obj: str, kind: str, column: str | None) -> None:
    results = compare(SCHEMA, plant(deployed()))
    findings = all_findings(results)
    # Exactly one finding, on the planted object: nothing else is disturbed by the change.
    assert [(f.object, f.kind, f.column) for f in findings] == [(obj, kind, column)], format_findings(findings)
    assert findings[0].fix, "every finding suggests a fix"
    broken = [r.name for r in results if not r.ok]
    assert broken == [obj]


def test_every_finding_kind_is_exercised_somewhere() -> None:
    planted = {p[3] for p in PLANTED} | {"unexpected_object", "precision", "check"}
    assert planted == set(FINDING_KINDS)


# -- details of findings and fixes -------------------------------------------------------------


CUSTOM = parse_expectations(textwrap.dedent("""\
    tables:
      sales.Orders:
        mode: exact
        columns:
          id: {type: int, identity: true, nullable: false}
          amount: {type: "decimal(18,4)", nullable: false, default: 0}
          status: {type: varchar(10), default: OPEN}
        checks:
          CK_Orders_amount: amount >= 0
          CK_Orders_status: status IN ('OPEN', 'DONE')
"""), "custom.yaml")


def orders(**changes: Column | CheckConstraint) -> Catalog:
    columns = {
        "id": Column("id", 1, "int", nullable=False, identity=True),
        "amount": Column("amount", 2, "decimal", precision=18, scale=4, nullable=False, default="((0))",
                         default_name="DF_Orders_amount"),
        "status": Column("status", 3, "varchar", 10, default="('OPEN')", default_name="DF_Orders_status"),
    }
    checks = {
        "amount": CheckConstraint("CK_Orders_amount", "([amount]>=(0))"),
        "status": CheckConstraint("CK_Orders_status", "([status]='OPEN' OR [status]='DONE')"),
    }
    for key, value in changes.items():
        if isinstance(value, Column):
            columns[key] = value
        else:
            checks[key] = value
    return Catalog.build([Table("sales", "Orders", tuple(columns.values()), (), tuple(checks.values()))])


def test_schema_aware_lookup_and_check_constraints_by_meaning() -> None:
    assert all(r.ok for r in compare(CUSTOM, orders()))
    # The same table in dbo does not satisfy an expectation on sales.Orders.
    in_dbo = Catalog.build([dataclasses.replace(t, schema="dbo") for t in orders().tables.values()])
    assert [f.kind for f in all_findings(compare(CUSTOM, in_dbo))] == ["missing_object"]


def test_precision_and_check_findings() -> None:
    changed = orders(amount=Column("amount", 2, "decimal", precision=18, scale=2, nullable=False,
                                   default="((0))"),
                     status=CheckConstraint("CK_Orders_status", "([status]='OPEN')"))
    findings = all_findings(compare(CUSTOM, changed))
    assert [(f.kind, f.column, f.expected, f.actual) for f in findings] == [
        ("precision", "amount", "decimal(18,4)", "decimal(18,2)"),
        ("check", None, "CK_Orders_status status IN ('OPEN', 'DONE')", "CK_Orders_status ([status]='OPEN')"),
    ]
    assert findings[0].fix == "ALTER TABLE [sales].[Orders] ALTER COLUMN [amount] DECIMAL(18, 4) NOT NULL"
    assert findings[1].fix == (
        "ALTER TABLE [sales].[Orders] DROP CONSTRAINT CK_Orders_status;\n"
        "ALTER TABLE [sales].[Orders] ADD CONSTRAINT CK_Orders_status CHECK (status IN ('OPEN', 'DONE'))")


def test_missing_check_is_reported() -> None:
    catalog = orders()
    table = catalog.table("sales.Orders")
    assert table is not None
    stripped = Catalog.build([dataclasses.replace(table, checks=table.checks[:1])])
    assert [(f.kind, f.actual) for f in all_findings(compare(CUSTOM, stripped))] == [("check", "(missing)")]


def test_missing_column_fix_matches_the_documented_shape() -> None:
    finding = next(f for f in all_findings(compare(SCHEMA, drop_column(MAIN, "update_operation")(deployed()))))
    assert finding.expected == "varchar(50) NULL DEFAULT 'CREATE'"
    assert finding.actual == "(missing)"
    assert finding.fix == ("ALTER TABLE [dbo].[STG_MON_CustMasterSchedule] ADD [update_operation] VARCHAR(50) "
                           "NULL CONSTRAINT DF_STG_MON_CustMasterSchedule_update_operation DEFAULT ('CREATE')")


def test_fixes_are_valid_tsql() -> None:
    plants = [p[1] for p in PLANTED] + [lambda c: baseline_only()]
    fixes = {f.fix for plant in plants for f in all_findings(compare(SCHEMA, plant(deployed())))}
    fixes |= {f.fix for f in all_findings(compare(AFTER_ROLLBACK, deployed(older=True)))}
    statements = [s for fix in fixes if fix for s in fix.split(";\n") if not s.startswith("--")]
    assert len(statements) > 10
    for statement in statements:
        # sqlglot falls back to a generic Command for syntax it cannot model; none of ours should.
        parsed = sqlglot.parse_one(statement, read="tsql")
        assert type(parsed).__name__ != "Command" or statement.startswith(("ALTER TABLE", "EXEC")), statement


def test_type_and_nullability_findings_share_one_alter_column() -> None:
    plant = edit_column(AUDIT, "batch_id", data_type="nvarchar", nullable=True)
    findings = all_findings(compare(SCHEMA, plant(deployed())))
    assert [f.kind for f in findings] == ["type", "nullability"]
    assert findings[0].fix == findings[1].fix == (
        "ALTER TABLE [dbo].[MON_UpdateAudit] ALTER COLUMN [batch_id] VARCHAR(50) NOT NULL")


def test_default_fix_replaces_a_system_named_constraint() -> None:
    plant = edit_column(MAIN, "update_operation", default="('UPDATE')", default_name="DF__STG_MON___updat__5EBF139D")
    finding = all_findings(compare(SCHEMA, plant(deployed())))[0]
    assert finding.fix == (
        "ALTER TABLE [dbo].[STG_MON_CustMasterSchedule] DROP CONSTRAINT DF__STG_MON___updat__5EBF139D;\n"
        "ALTER TABLE [dbo].[STG_MON_CustMasterSchedule] ADD CONSTRAINT "
        "DF_STG_MON_CustMasterSchedule_update_operation DEFAULT ('CREATE') FOR [update_operation]")


def test_missing_view_and_procedure_point_at_the_deploy_script() -> None:
    results = by_name(compare(SCHEMA, baseline_only(), deploy_script="sql/deploy.sql"))
    assert results[VIEW].findings[0].fix == "-- re-run sql/deploy.sql (it creates view dbo.VW_UpdateOperationSummary)"
    assert results[PROCEDURE].findings[0].fix.startswith("-- re-run sql/deploy.sql")  # type: ignore[union-attr]


def test_missing_exact_table_fix_creates_it_with_its_indexes() -> None:
    fix = by_name(compare(SCHEMA, baseline_only()))[AUDIT].findings[0].fix
    assert fix is not None
    statements = fix.split(";\n")
    assert statements[0].startswith("CREATE TABLE [dbo].[MON_UpdateAudit] ([audit_id] INT IDENTITY(1, 1) NOT NULL")
    assert "CONSTRAINT PK_MON_UpdateAudit PRIMARY KEY ([audit_id])" in statements[0]
    assert "DEFAULT (SYSUTCDATETIME())" in statements[0]
    assert len(statements) == 5


def test_renamed_parameter_reports_both_names_once() -> None:
    plant = replace_parameters(Parameter("@batch", 1, "varchar", 50), Parameter("@rollback_reason", 2, "nvarchar", 500))
    finding = all_findings(compare(SCHEMA, plant(deployed())))[0]
    assert (finding.expected, finding.actual) == ("@batch_id varchar(50)", "@batch varchar(50)")


def test_extra_parameter_and_view_column_are_reported() -> None:
    plant = replace_parameters(*rollback_procedure().parameters, Parameter("@dry_run", 3, "bit"))
    findings = all_findings(compare(SCHEMA, plant(deployed())))
    assert [(f.kind, f.column, f.expected) for f in findings] == [("parameter", "@dry_run", "(not expected)")]


def test_contains_table_allows_extra_columns_but_exact_does_not() -> None:
    extra = Column("notes", 99, "nvarchar", 10)
    assert all(r.ok for r in compare(SCHEMA, add_column(MAIN, extra)(deployed())))
    assert not all(r.ok for r in compare(SCHEMA, add_column(AUDIT, extra)(deployed())))


def test_unchecked_properties_are_not_compared() -> None:
    loose = parse_expectations("tables:\n  T:\n    columns:\n      c: varchar(5)\n")
    catalog = Catalog.build([Table("dbo", "T", (Column("C", 1, "VARCHAR", 5, nullable=False, default="('x')",
                                                       identity=False),))])
    assert all(r.ok for r in compare(loose, catalog))


# -- text output -------------------------------------------------------------------------------


def test_format_findings_is_an_aligned_table_with_fixes() -> None:
    plant = drop_column(AUDIT, "batch_id")
    text = format_findings(all_findings(compare(SCHEMA, plant(deployed()))))
    lines = text.splitlines()
    assert lines[0].split() == ["object", "kind", "column", "expected", "actual"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split()[:3] == ["dbo.MON_UpdateAudit", "missing_column", "batch_id"]
    assert lines[0].index("kind") == lines[2].index("missing_column")
    assert "suggested T-SQL (not executed; review before running):" in lines
    assert lines[-1].strip().startswith("ALTER TABLE [dbo].[MON_UpdateAudit] ADD [batch_id]")
    assert lines[-1].endswith(";")
    assert "suggested" not in format_findings(all_findings(compare(SCHEMA, plant(deployed()))),
                                              with_fixes=False)


def test_format_of_no_findings() -> None:
    assert format_findings([]) == "no findings"


def test_object_result_summary() -> None:
    results = by_name(compare(SCHEMA, drop_index(AUDIT, "IX_MON_UpdateAudit_batch_id")(
        drop_column(AUDIT, "error_message")(deployed()))))
    assert results[AUDIT].summary() == "dbo.MON_UpdateAudit: 2 findings"
    assert results[VIEW].summary() == "dbo.VW_UpdateOperationSummary: ok"
    where = results[AUDIT].where
    assert where is not None and where.file.endswith("audit.yaml")


def test_empty_expectations_compare_to_nothing() -> None:
    assert compare(Expectations(), deployed()) == []
