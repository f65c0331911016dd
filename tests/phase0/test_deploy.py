"""Phase 0, step 1: deploy the update infrastructure (seed: "Database schema deployment: 100% successful")."""

from __future__ import annotations

import pytest

from pytest_opus.run import Deployment
from pytest_opus.targets.base import Target

pytestmark = pytest.mark.deploy

BASELINE_TABLES = ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems")


def _deployed(deployment: Deployment) -> None:
    if deployment.result is None:
        pytest.skip(deployment.skipped_reason or "nothing deployed")


def test_deploy_script_succeeded(opus_deployment: Deployment) -> None:
    _deployed(opus_deployment)
    result = opus_deployment.result
    assert result is not None
    assert result.ok, result.summary()
    assert result.committed
    assert all(b.error is None for b in result.batches)


def test_deploy_is_idempotent(opus_target: Target, opus_deployment: Deployment, opus_config) -> None:
    _deployed(opus_deployment)
    again = opus_target.run_script_file(str(opus_config.sql / "deploy_opus_update_boards.sql"))
    assert again.ok, again.summary()
    assert opus_target.catalog() == opus_deployment.after, "a second deploy changed the catalog"


@pytest.mark.parametrize("table", BASELINE_TABLES)
def test_baseline_columns_untouched(opus_deployment: Deployment, table: str) -> None:
    _deployed(opus_deployment)
    before = opus_deployment.before.table(table)
    after = opus_deployment.after.table(table)
    assert before is not None, f"{table} is missing from the database before deployment"
    assert after is not None
    changed = [c.name for c in before.columns if after.column(c.name) != c]
    assert not changed, f"deploy changed pre-existing columns of {table}: {changed}"
    assert {i.name for i in before.indexes} <= {i.name for i in after.indexes}


def test_preexisting_insert_still_works(opus_target: Target, opus_deployment: Deployment) -> None:
    """An insert written before Phase 0 (naming only the old columns) still works, and gets the defaults."""
    _deployed(opus_deployment)
    with pytest.raises(_Undo), opus_target.transaction():
        opus_target.execute(
            "INSERT INTO dbo.STG_MON_CustMasterSchedule ([AAG ORDER NUMBER], [CUSTOMER], [ORDER QTY], stg_status) "
            "VALUES (?, ?, ?, ?)", ["AAG-PHASE0-CHECK", "PHASE0 CHECK", 12, "PENDING"])
        rows = opus_target.execute(
            "SELECT update_operation, validation_status, update_batch_id FROM dbo.STG_MON_CustMasterSchedule "
            "WHERE [AAG ORDER NUMBER] = ?", ["AAG-PHASE0-CHECK"])
        assert rows == [("CREATE", "PENDING", None)]
        raise _Undo  # leave the target as it was


class _Undo(Exception):
    pass

