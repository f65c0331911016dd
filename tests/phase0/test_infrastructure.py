"""Phase 0, step 4: every component the update path needs is operational (seed: "Infrastructure
validation: All components operational"). Each test is one component; the criterion counts them."""

from __future__ import annotations

import importlib
import uuid

import pytest

from pytest_opus.options import OpusConfig
from pytest_opus.run import OpusRun
from pytest_opus.targets.base import Target
from pytest_opus.updates.staging import UPDATE_COLUMNS

pytestmark = pytest.mark.infrastructure

STAGING_TABLES = ("dbo.STG_MON_CustMasterSchedule", "dbo.STG_MON_CustMasterSchedule_Subitems")
#: connection, two staging tables, the library, the board metadata, the audit trail
COMPONENTS = 6


def _component(run: OpusRun, name: str, ok: bool) -> None:
    parts = run.evidence.setdefault("infrastructure.parts", {})
    parts[name] = ok
    run.evidence["infrastructure.components"] = COMPONENTS
    run.evidence["infrastructure.components_ok"] = sum(1 for v in parts.values() if v)


def test_database_connection(opus_target: Target, opus_run: OpusRun) -> None:
    ok = opus_target.execute("SELECT 1") == [(1,)]
    _component(opus_run, "connection", ok)
    assert ok, "the target did not answer SELECT 1"


@pytest.mark.parametrize("table", STAGING_TABLES)
def test_staging_table_readable_with_update_columns(opus_target: Target, opus_run: OpusRun, table: str) -> None:
    columns = ", ".join(UPDATE_COLUMNS)
    _component(opus_run, table, False)
    returned = opus_target.columns_of(f"SELECT TOP (1) stg_id, {columns} FROM {table}")  # raises if one is missing
    opus_target.execute(f"SELECT TOP (1) stg_id, {columns} FROM {table}")
    assert [c.lower() for c in returned] == ["stg_id", *UPDATE_COLUMNS]
    _component(opus_run, table, True)


def test_update_library_imports(opus_run: OpusRun) -> None:
    module = importlib.import_module("pytest_opus.updates")
    ok = hasattr(module, "UpdateOperations") and hasattr(module, "build_plan")
    _component(opus_run, "library", ok)
    assert ok, "pytest_opus.updates does not provide UpdateOperations"


def test_board_metadata_loads_and_matches_the_staging_tables(opus_config: OpusConfig, opus_target: Target,
                                                             opus_run: OpusRun) -> None:
    from pytest_opus.updates import load_boards

    boards = load_boards(opus_config.expectations / "boards")
    assert boards, f"no board metadata in {opus_config.expectations / 'boards'}"
    catalog = opus_target.catalog()
    problems = []
    for key, board in boards.items():
        for staged in filter(None, (board.items, board.subitems)):
            table = catalog.table(staged.staging_table)
            if table is None:
                problems.append(f"{key}: staging table {staged.staging_table} does not exist")
                continue
            for column in [staged.item_id_column, *staged.columns]:
                if table.column(column) is None:
                    problems.append(f"{key}: {staged.staging_table} has no column [{column}]")
    _component(opus_run, "board metadata", not problems)
    assert not problems, "\n".join(problems)


class _Undo(Exception):
    pass


def test_audit_trail_round_trip(opus_target: Target, opus_run: OpusRun) -> None:
    """Write audit rows, see them summarised by the view, roll the batch back with the procedure."""
    batch = f"PHASE0-INFRA-{uuid.uuid4().hex[:12]}"
    seen: dict[str, object] = {}
    with pytest.raises(_Undo), opus_target.transaction():  # leaves a persistent target as it was
        opus_target.executemany(
            "INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation, monday_item_id, monday_board_id, "
            "column_id, old_value, new_value, source_system) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(batch, "UPDATE_ITEMS", 8000000000 + i, 8446553051, "status_1", "RECEIVED", "SHIPPED",
              "OPUS_DRY_RUN") for i in range(3)])
        seen["summary"] = opus_target.execute(
            "SELECT total_updates, active_updates, rolled_back_updates FROM dbo.VW_UpdateOperationSummary "
            "WHERE batch_id = ?", [batch])
        seen["rollback"] = opus_target.execute(
            "EXEC dbo.SP_RollbackBatch @batch_id = ?, @rollback_reason = ?", [batch, "Phase 0 round trip"])
        seen["after"] = opus_target.execute(
            "SELECT total_updates, active_updates, rolled_back_updates FROM dbo.VW_UpdateOperationSummary "
            "WHERE batch_id = ?", [batch])
        raise _Undo
    ok = (seen["summary"] == [(3, 3, 0)] and seen["rollback"] == [(batch, 3, 0, 0)]
          and seen["after"] == [(0 + 3, 0, 3)])
    opus_run.evidence["audit.roundtrip"] = ok
    _component(opus_run, "audit trail", ok)
    assert ok, f"audit round trip: {seen}"
