"""Code that uses the staging tables: found, recompiled, and read for inserts without a column list."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_opus.dependents import _repeated_columns, check_dependents, inserts_without_column_list
from pytest_opus.targets.sandbox import SandboxTarget

ROOT = Path(__file__).resolve().parents[2]
#: a view written before Phase 0: every staging column, plus a review table's status
LEGACY_VIEW = """CREATE TABLE dbo.LegacyReview (stg_id INT NOT NULL, validation_status VARCHAR(20) NULL)
GO
CREATE VIEW dbo.VW_LegacyReview AS
SELECT s.*, r.validation_status
FROM dbo.STG_MON_CustMasterSchedule AS s JOIN dbo.LegacyReview AS r ON r.stg_id = s.stg_id
GO
"""


@pytest.mark.parametrize(("text", "lines"), [
    ("INSERT INTO dbo.STG_MON_CustMasterSchedule VALUES (1)", [1]),
    ("INSERT dbo.STG_MON_CustMasterSchedule SELECT * FROM x", [1]),
    ("INSERT INTO [dbo].[STG_MON_CustMasterSchedule_Subitems]\n  EXEC dbo.p", [1]),
    ("SELECT 1;\nINSERT INTO STG_MON_CustMasterSchedule WITH (TABLOCK) SELECT 1", [2]),
    ("INSERT INTO STG_MON_CustMasterSchedule WITH (TABLOCK) ([CUSTOMER]) SELECT 1", []),
    ("INSERT INTO dbo.STG_MON_CustMasterSchedule ([CUSTOMER]) VALUES (1)", []),
    ("INSERT INTO dbo.STG_MON_CustMasterSchedule_Archive VALUES (1)", []),
    ("-- INSERT INTO dbo.STG_MON_CustMasterSchedule VALUES (1)\n"
     "PRINT 'INSERT INTO STG_MON_CustMasterSchedule VALUES'", []),
])
def test_inserts_without_a_column_list_are_found(text: str, lines: list[int]) -> None:
    assert [line for line, _ in inserts_without_column_list(text)] == lines


def test_a_dependent_procedure_with_a_positional_insert_is_reported(deployed: SandboxTarget) -> None:
    assert deployed.execute_script(
        "CREATE VIEW dbo.V_Legacy AS SELECT stg_id, [CUSTOMER] FROM dbo.STG_MON_CustMasterSchedule\nGO\n"
        "CREATE PROCEDURE dbo.P_Legacy AS\nBEGIN\n    INSERT INTO dbo.STG_MON_CustMasterSchedule_Subitems\n"
        "    SELECT * FROM dbo.STG_MON_CustMasterSchedule_Subitems;\nEND\nGO\n").ok
    check = check_dependents(deployed)
    assert sorted(d.name for d in check.checked) == ["dbo.P_Legacy", "dbo.V_Legacy"]
    assert not check.broken
    assert check.inserts_without_columns == [
        "procedure dbo.P_Legacy, line 3: INSERT INTO dbo.STG_MON_CustMasterSchedule_Subitems SELECT"]
    assert not check.ok and "2 insert" not in check.summary()


def test_a_view_that_no_longer_works_is_broken(deployed: SandboxTarget) -> None:
    # a view SQL Server would no longer bind (SQLite checks a view's names only when it is used)
    deployed.driver.run('CREATE VIEW "V_Old" AS SELECT stg_id, NOTEZ FROM "STG_MON_CustMasterSchedule"')
    check = check_dependents(deployed)
    assert [b.split(":")[0] for b in check.broken] == ["view dbo.V_Old"]


def test_the_deployments_own_objects_are_not_existing_systems(deployed: SandboxTarget) -> None:
    assert check_dependents(deployed).checked == []


@pytest.mark.parametrize(("names", "repeated"), [
    (("a", "b"), []),
    (("a", "A"), ["A"]),
    (("validation_status", "x", "validation_status:1"), ["validation_status"]),
    (("ratio:2", "b"), []),  # a real name with a colon, repeating nothing
])
def test_repeated_view_columns(names: tuple[str, ...], repeated: list[str]) -> None:
    assert _repeated_columns(names) == repeated


def test_a_view_whose_star_picks_up_a_deployed_column_is_broken_by_the_deploy(baseline: SandboxTarget) -> None:
    """SQL Server: refreshing the view fails with error 4506 once `s.*` brings validation_status twice."""
    assert baseline.execute_script(LEGACY_VIEW).ok
    before = check_dependents(baseline)
    assert [d.name for d in before.checked] == ["dbo.VW_LegacyReview"] and before.ok
    assert baseline.run_script_file(str(ROOT / "sql" / "deploy_opus_update_boards.sql")).ok
    after = check_dependents(baseline)
    assert [b.split(":")[0] for b in after.broken] == ["view dbo.VW_LegacyReview"]
    assert "'validation_status' appears more than once" in after.broken[0]
