"""Phase 0, step 1: deploy the update infrastructure (seed: "Database schema deployment: 100% successful")."""

from __future__ import annotations

import pytest

from pytest_opus.report import table_html
from pytest_opus.run import Deployment, OpusRun
from pytest_opus.targets.base import Target

pytestmark = pytest.mark.deploy

BASELINE_TABLES = ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems")


def _deployed(deployment: Deployment) -> None:
    if deployment.result is None:
        pytest.skip(deployment.skipped_reason or "nothing deployed")


def test_deploy_script_succeeded(opus_deployment: Deployment, opus_run: OpusRun,
                                 request: pytest.FixtureRequest) -> None:
    _deployed(opus_deployment)
    result = opus_deployment.result
    assert result is not None
    opus_run.attach(request.node.nodeid, "deploy messages", table_html(
        ["batch", "line", "kind", "message"],
        [[b.number, m.line, m.kind, m.text] for b in result.batches for m in b.messages]))
    if not result.ok:
        pytest.fail(result.summary(), pytrace=False)
    assert result.committed
    assert all(b.error is None for b in result.batches)


def test_deploy_is_idempotent(opus_target: Target, opus_deployment: Deployment, opus_run: OpusRun) -> None:
    _deployed(opus_deployment)
    again = opus_run.run_script("deploy_opus_update_boards.sql").result
    assert again.ok, again.summary()
    assert opus_target.catalog() == opus_deployment.after, "a second deploy changed the catalog"


def test_baseline_columns_untouched(opus_deployment: Deployment, opus_run: OpusRun) -> None:
    """Every column, type, default and index that existed before the deployment is still exactly there."""
    _deployed(opus_deployment)
    checked = 0
    changed: list[str] = []
    for table in BASELINE_TABLES:
        before = opus_deployment.before.table(table)
        after = opus_deployment.after.table(table)
        assert before is not None, f"{table} is missing from the database before deployment"
        assert after is not None, f"{table} is missing after deployment"
        changed += [f"{table}.{c.name}" for c in before.columns if after.column(c.name) != c]
        changed += [f"{table} index {i.name}" for i in before.indexes if after.index(i.name) != i]
        checked += len(before.columns)
    opus_run.evidence["compat.columns_unchanged"] = (
        f"all {checked} pre-existing columns of {len(BASELINE_TABLES)} tables unchanged" if not changed
        else f"{len(changed)} changed: {', '.join(changed[:5])}")
    assert not changed, f"deploy changed pre-existing objects: {changed}"


def test_preexisting_insert_still_works(opus_target: Target, opus_deployment: Deployment,
                                        opus_run: OpusRun) -> None:
    """An insert written before Phase 0 (naming only the old columns) still works, and gets the defaults."""
    _deployed(opus_deployment)
    opus_run.evidence["compat.insert_ok"] = False
    with pytest.raises(_Undo), opus_target.transaction():
        opus_target.execute(
            "INSERT INTO dbo.STG_MON_CustMasterSchedule ([AAG ORDER NUMBER], [CUSTOMER], [ORDER QTY], stg_status) "
            "VALUES (?, ?, ?, ?)", ["AAG-PHASE0-CHECK", "PHASE0 CHECK", 12, "PENDING"])
        rows = opus_target.execute(
            "SELECT update_operation, validation_status, update_batch_id FROM dbo.STG_MON_CustMasterSchedule "
            "WHERE [AAG ORDER NUMBER] = ?", ["AAG-PHASE0-CHECK"])
        assert rows == [("CREATE", "PENDING", None)]
        opus_run.evidence["compat.insert_ok"] = True
        raise _Undo  # leave the target as it was


def test_code_using_the_staging_tables_still_works(opus_target: Target, opus_deployment: Deployment,
                                                  opus_run: OpusRun, request: pytest.FixtureRequest) -> None:
    """Every view and procedure that uses the staging tables still compiles against the new shape, and
    none inserts into them without a column list (seven more columns would break it)."""
    from pytest_opus.dependents import check_dependents

    _deployed(opus_deployment)
    check = check_dependents(opus_target)
    opus_run.evidence["compat.dependents"] = check.summary()
    opus_run.evidence["compat.dependents_ok"] = check.ok
    opus_run.attach(request.node.nodeid, "code using the staging tables", table_html(
        ["kind", "name"], [[d.kind, d.name] for d in check.checked]))
    assert check.ok, "\n".join([*check.broken, *check.inserts_without_columns])


class _Undo(Exception):
    pass
