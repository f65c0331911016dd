"""Databases deployed by the older scripts: system-named defaults and an extra board_id column.

tests/data/older_deployment.sql rebuilds such a database on a baseline sandbox. Validation must
accept it where it meets the expectations and name the difference where it does not; deploy and
rollback must cope with it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from pytest_opus.catalog import Catalog, Column
from pytest_opus.effects import effects_catalog, file_effects, script_effects
from pytest_opus.expectations import Finding, compare, format_findings, load_expectations
from pytest_opus.signoff import without_ledger
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates.staging import UPDATE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
OLDER = ROOT / "tests" / "data" / "older_deployment.sql"
DEPLOY = str(SQL / "deploy_opus_update_boards.sql")
ROLLBACK = str(SQL / "rollback_opus_update_boards.sql")
ADOPT = str(SQL / "adopt_opus_update_boards.sql")
SCHEMA = load_expectations(ROOT / "expectations" / "schema")
STAGING = ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems")
BATCH_INDEXES = {"IX_STG_MON_CustMasterSchedule_update_batch_id",
                 "IX_STG_MON_CustMasterSchedule_Subitems_update_batch_id"}


def findings(catalog: Catalog) -> list[Finding]:
    return [f for result in compare(SCHEMA, catalog) for f in result.findings]


def older(target: SandboxTarget) -> Catalog:
    result = target.run_script_file(str(OLDER))
    assert result.ok, result.summary()
    return target.catalog()


def test_older_deployment_has_system_named_defaults_and_board_id(baseline: SandboxTarget) -> None:
    catalog = older(baseline)
    for name in STAGING:
        table = catalog.table(name)
        assert table is not None
        assert [c.name for c in table.columns[-8:]] == [*UPDATE_COLUMNS, "board_id"]
        for column in ("update_operation", "validation_status"):
            default_name = table.column(column).default_name  # type: ignore[union-attr]
            assert default_name is not None and re.fullmatch(r"DF__\w+__\w+__[0-9A-F]{8}", default_name)
        assert table.column("board_id").type_text == "bigint"  # type: ignore[union-attr]
    audit = catalog.table("dbo.MON_UpdateAudit")
    assert audit is not None and audit.column("update_timestamp").default == "(getutcdate())"  # type: ignore[union-attr]


def test_older_deployment_meets_the_expectations(baseline: SandboxTarget) -> None:
    found = findings(older(baseline))
    assert not found, format_findings(found)


def test_deploy_completes_an_older_deployment_and_then_changes_nothing(baseline: SandboxTarget) -> None:
    before = older(baseline)
    first = baseline.run_script_file(DEPLOY)
    assert first.ok, first.summary()
    after = baseline.catalog()
    # The older scripts never created the batch indexes; deploy adds them and touches nothing else.
    for name in STAGING:
        old, new = before.table(name), after.table(name)
        assert old is not None and new is not None
        assert new.columns == old.columns  # same types, the system-named defaults kept, board_id kept
        assert {i.name for i in new.indexes} - {i.name for i in old.indexes} <= BATCH_INDEXES
        assert replace(new, indexes=old.indexes) == old
    others = set(before.tables) - {name.lower() for name in STAGING}
    assert {k: after.tables[k] for k in others} == {k: before.tables[k] for k in others}
    assert (after.views, after.procedures) == (before.views, before.procedures)
    assert not findings(after)
    second = baseline.run_script_file(DEPLOY)
    assert second.ok, second.summary()
    assert baseline.catalog() == after


def test_rollback_keeps_an_older_deployment_until_it_is_adopted(baseline: SandboxTarget) -> None:
    older_catalog = older(baseline)
    kept = baseline.run_script_file(ROLLBACK)
    assert kept.ok, kept.summary()
    assert baseline.catalog() == older_catalog  # no ledger: nothing is the tool's to remove
    assert any("nothing is removed" in m.text for m in kept.messages)


def test_rollback_of_an_adopted_older_deployment_removes_everything_but_board_id(baseline: SandboxTarget) -> None:
    original = baseline.catalog()
    older(baseline)
    for script in (DEPLOY, ADOPT):  # deploy records the older objects as found; adopt makes them owned
        adopted = baseline.run_script_file(script)
        assert adopted.ok, adopted.summary()
    result = baseline.run_script_file(ROLLBACK)
    assert result.ok, result.summary()
    after = without_ledger(baseline.catalog())
    expected_tables = dict(original.tables)
    for name in STAGING:
        table = original.table(name)
        assert table is not None
        board_id = Column("board_id", len(table.columns) + 1, "bigint")
        expected_tables[name.lower()] = replace(table, columns=(*table.columns, board_id))
    assert after == Catalog(expected_tables, original.views, original.procedures)
    messages = [m.text for m in result.messages]
    assert any("board_id" in m and "left in place" in m for m in messages), messages
    assert any("Dropped 4 default constraint(s)" in m for m in messages), messages


def test_a_narrower_column_shows_exactly_one_length_finding(baseline: SandboxTarget) -> None:
    text = OLDER.read_text(encoding="utf-8")
    old = "ADD update_operation VARCHAR(50) NULL DEFAULT ('CREATE')"
    assert text.count(old) == 2
    variant = text.replace(old, "ADD update_operation VARCHAR(30) NULL DEFAULT ('CREATE')", 1)
    result = baseline.execute_script(variant, source="older_deployment_varchar30.sql")
    assert result.ok, result.summary()
    found = findings(baseline.catalog())
    assert [(f.object, f.kind, f.column, f.expected, f.actual) for f in found] == [
        ("dbo.STG_MON_CustMasterSchedule", "length", "update_operation", "varchar(50)", "varchar(30)")]


def test_the_static_check_reads_the_older_deployment_the_same_way() -> None:
    """No database: the baseline and older scripts' effects meet the expectations; the variant does not."""
    baseline = [file_effects(p) for p in sorted((SQL / "baseline").glob("*.sql"))]
    assert not findings(effects_catalog(*baseline, file_effects(OLDER)))
    variant = OLDER.read_text(encoding="utf-8").replace(
        "ADD update_operation VARCHAR(50) NULL DEFAULT ('CREATE')",
        "ADD update_operation VARCHAR(30) NULL DEFAULT ('CREATE')", 1)
    found = findings(effects_catalog(*baseline, script_effects(variant, "variant.sql")))
    assert [(f.object, f.kind, f.column) for f in found] == [
        ("dbo.STG_MON_CustMasterSchedule", "length", "update_operation")]
