"""One fact, one home, and a test that the copies agree: the seven update columns and the ledger DDL.

The update columns are written once in code (`updates.staging.UPDATE_COLUMNS`) and must also live in
SQL and YAML; the ledger's tables are written in `ledger.LEDGER_DDL` and in the deploy script. These
tests read the copies statically and fail when one of them drifts.
"""

from __future__ import annotations

import re
from pathlib import Path

from pytest_opus.effects import ColumnDropped, effects_catalog, file_effects, script_effects
from pytest_opus.expectations import load_expectations
from pytest_opus.ledger import LEDGER_DDL, LEDGER_TABLES, RunRecord, sha256_of, tsql_string
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates.staging import UPDATE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DEPLOY = SQL / "deploy_opus_update_boards.sql"
ROLLBACK = SQL / "rollback_opus_update_boards.sql"
VALIDATE = SQL / "validate_ddl_changes.sql"
STAGING = ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems")


def test_deploy_adds_exactly_the_update_columns_in_order() -> None:
    added = file_effects(DEPLOY).columns_added
    for table in STAGING:
        assert [c.column.name for c in added if c.table == table] == list(UPDATE_COLUMNS)


def test_deploy_lists_every_update_column_in_its_ledger_candidates() -> None:
    text = DEPLOY.read_text(encoding="utf-8")
    for table in STAGING:
        name = table.split(".")[1]
        listed = re.findall(rf"\('COLUMN', N'dbo', N'{name}', N'(\w+)'\)", text)
        assert listed == list(UPDATE_COLUMNS), table


def test_rollback_drops_exactly_the_update_columns() -> None:
    dropped = [c for c in file_effects(ROLLBACK).changes if isinstance(c, ColumnDropped)]
    for table in STAGING:
        assert sorted(c.column for c in dropped if c.table.lower() == table.lower()) == sorted(UPDATE_COLUMNS)


def test_validation_script_checks_every_update_column_on_both_tables() -> None:
    text = VALIDATE.read_text(encoding="utf-8")
    for table in STAGING:
        name = table.split(".")[1]
        checked = re.findall(rf"N'{name}'(?: AS table_name)?,\s*N'(\w+)'", text)
        assert checked == list(UPDATE_COLUMNS), table


def test_the_yaml_expects_the_update_columns_and_after_rollback_forbids_them() -> None:
    schema = {e.qualified.lower(): e for e in load_expectations(ROOT / "expectations" / "schema").tables}
    after = {e.qualified.lower(): e for e in load_expectations(ROOT / "expectations" / "after_rollback").tables}
    for table in STAGING:
        expected = [c.name for c in schema[table.lower()].columns]
        assert [c for c in expected if c in UPDATE_COLUMNS] == list(UPDATE_COLUMNS)
        assert list(after[table.lower()].absent_columns) == list(UPDATE_COLUMNS)


def test_ledger_ddl_and_the_deploy_script_create_the_same_tables() -> None:
    from_code = effects_catalog(script_effects(LEDGER_DDL, "ledger.LEDGER_DDL"))
    from_deploy = effects_catalog(file_effects(DEPLOY))
    assert set(from_code.tables) == {name.lower() for name in LEDGER_TABLES}
    for name in LEDGER_TABLES:
        assert from_deploy.table(name) == from_code.table(name), name


def test_ledger_ddl_runs_twice_without_change() -> None:
    target = SandboxTarget()
    try:
        assert target.execute_script(LEDGER_DDL).ok
        first = target.catalog()
        assert target.execute_script(LEDGER_DDL).ok
        assert target.catalog() == first
    finally:
        target.close()


def test_run_rows_quote_what_they_insert() -> None:
    record = RunRecord("it's.sql", sha256_of(b"x"), os_user="o'brien")
    text = record.opening(create_ledger=True)
    assert tsql_string("it's.sql") in text and tsql_string("o'brien") in text
    target = SandboxTarget()
    try:
        assert target.execute_script(text).ok
        assert target.execute("SELECT script_name, os_user, script_sha256 FROM dbo.OPUS_DeploymentRun") == [
            ("it's.sql", "o'brien", sha256_of(b"x"))]
    finally:
        target.close()
