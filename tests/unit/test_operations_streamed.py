"""process_staged_updates streamed: read a chunk at a time, each value encoded once, audit rows written
in chunks while the plan is built. Its plan and audit must be exactly what build_plan (the path that
converts every value itself) and the snapshot comparison give (the caches that keep runs fast are in test_caches.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import BoardMetadata, PlannedUpdate, UpdateOperations, build_plan, encode_value
from pytest_opus.updates import operations as operations_module
from pytest_opus.updates.operations import audit_text, load_fields
from pytest_opus.updates.plan import PlanError, column_resolver, plan_encoded
from pytest_opus.updates.values import InvalidValue

ITEMS = "dbo.STG_MON_CustMasterSchedule"
STATUSES = ("SHIPPED", "RECEIVED", "IN PRODUCTION", "CANCELLED")


def mixed_batch(target: SandboxTarget, count: int) -> list[dict[str, Any]]:
    """Board items (some fields equal to the snapshot's, so left out) and items the snapshot lacks."""
    real = target.execute(
        f"SELECT TOP ({count}) [Item ID], [AAG ORDER NUMBER], [ORDER STATUS], [ORDER QTY] "
        "FROM dbo.MON_CustMasterSchedule WHERE [AAG ORDER NUMBER] IS NOT NULL ORDER BY [Item ID]"
    )
    records: list[dict[str, Any]] = []
    for n, (item, number, _status, qty) in enumerate(real):
        record: dict[str, Any] = {"item_id": int(item), "AAG ORDER NUMBER": number if n % 3 else f"NEW-{n}"}
        record["ORDER STATUS"] = STATUSES[n % len(STATUSES)]
        if n % 4 == 0:
            record["ORDER QTY"] = qty if qty is not None else 1  # equal to the snapshot's where it has one
        elif n % 4 == 1:
            record["FINAL FOB (USD)"] = Decimal(n) / 100
        records.append(record)
    start = 8_000_000_000
    records += [
        {"item_id": start + n, "AAG ORDER NUMBER": f"X-{n}", "ORDER QTY": n, "ORDER STATUS": STATUSES[n % 4]}
        for n in range(count - len(records))
    ]
    return records


def old_value(column_type: str, raw: Any, rule: Any) -> Any:
    """The snapshot's value as the plan would send it; by the type alone where today's rules refuse it."""
    try:
        return encode_value(column_type, raw, rule)
    except InvalidValue:
        return encode_value(column_type, raw)


def expected_plan_and_audit(
    target: SandboxTarget, board: BoardMetadata, batch_id: str, per_request: int
) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """What processing must give, by the converting path: build_plan on the staged fields minus the
    ones whose encoded value equals the snapshot's, and the audit from its mutations."""
    op = board.operation("update_items")
    snapshot_columns = ("AAG ORDER NUMBER", "ORDER STATUS", "ORDER QTY", "FINAL FOB (USD)")  # mixed_batch's
    rows = target.execute(
        f"SELECT stg_id, stg_monday_item_id, update_fields FROM {ITEMS} "
        "WHERE update_batch_id = ? AND validation_status = 'VALID' ORDER BY stg_id",
        [batch_id],
    )
    updates: list[PlannedUpdate] = []
    notes: dict[int, dict[str, tuple[Any, Any]]] = {}
    for stg_id, item_id, text in rows:
        fields = load_fields(text)
        found = target.execute(
            "SELECT " + ", ".join(f"[{n}]" for n in snapshot_columns)
            + " FROM dbo.MON_CustMasterSchedule WHERE [Item ID] = ?",
            [item_id],
        )
        old_row = dict(zip(snapshot_columns, found[0], strict=True)) if found else None
        changed: dict[str, Any] = {}
        row_notes: dict[str, tuple[Any, Any]] = {}
        for name, value in fields.items():
            column = board.column(name)
            new = encode_value(column.column_type, value, op.rule_for(name))
            old_text = None
            if old_row is not None:
                raw = old_row[name]
                old = None if raw is None else old_value(column.column_type, raw, op.rule_for(name))
                if old == new:
                    continue
                old_text = audit_text(old)
            changed[name] = value
            row_notes[column.column_id] = (old_text, audit_text(new))
        notes[stg_id] = row_notes
        updates.append(PlannedUpdate(int(item_id), changed, stg_id))
    plan = build_plan(board, updates, per_request=per_request, operation="update_items")
    audit = [
        (m.item_id, cid, *notes[m.staging_row_id][cid])  # type: ignore[index]
        for m in plan.mutations()
        for cid in m.column_ids
    ]
    return plan.to_dict(), audit


@pytest.mark.parametrize("chunk", [7, operations_module.CHUNK])
def test_streamed_processing_gives_the_converting_paths_plan_and_audit(
    deployed: SandboxTarget, board: BoardMetadata, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(operations_module, "CHUNK", chunk)  # 7: many reads and audit flushes for 60 rows
    ops = UpdateOperations(deployed, board, user_id="unit-test", per_request=4)
    staged = ops.stage_updates(mixed_batch(deployed, 60), "update_items", source_table="unit test")
    validation = ops.validate_staged_updates(staged.batch_id)
    assert validation.valid == 60, validation
    want_plan, want_audit = expected_plan_and_audit(deployed, board, staged.batch_id, per_request=4)

    sizes: list[int] = []
    executemany = ops._executemany

    def counted(sql: str, rows: Any, types: Any) -> None:
        if "MON_UpdateAudit" in sql:
            sizes.append(len(rows))
        executemany(sql, rows, types)

    monkeypatch.setattr(ops, "_executemany", counted)
    processed = ops.process_staged_updates(staged.batch_id)

    assert processed.plan.to_dict() == want_plan
    assert processed.unchanged_fields > 0 and want_plan["skipped_rows"]  # both kinds of leaving out are covered
    audit = deployed.execute(
        "SELECT monday_item_id, column_id, old_value, new_value FROM dbo.MON_UpdateAudit "
        "WHERE batch_id = ? ORDER BY audit_id",
        [staged.batch_id],
    )
    assert [tuple(r) for r in audit] == want_audit
    assert processed.audit_rows == len(want_audit)
    # bounded chunks: a flush happens once CHUNK rows are pending, and one mutation adds at most 4 columns
    assert sum(sizes) == len(want_audit)
    if chunk == 7:
        assert len(sizes) > 1 and max(sizes) < chunk + 4


def test_plan_encoded_and_build_plan_agree(board: BoardMetadata) -> None:
    """The two entry points share everything after encoding; fed the same updates they give one plan."""
    op = board.operation("update_items")
    target = board.board_for(False)
    resolve = column_resolver(board, target, op)
    updates = [
        PlannedUpdate(100 + n, {"ORDER STATUS": STATUSES[n % 4], "ORDER QTY": n, "AAG ORDER NUMBER": f"A{n}"}, n)
        for n in range(23)
    ] + [PlannedUpdate(500, {}, 99)]
    encoded = []
    for update in updates:
        values = {}
        for name, value in update.columns.items():
            column_id, convert, rule, _clearable, _type = resolve(name)
            values[column_id] = convert(value, rule)
        encoded.append((update.item_id, update.staging_row_id, values, update.staging_row_id))
    told: list[tuple[int, Any]] = []
    fast = plan_encoded(board, encoded, per_request=5, on_mutation=lambda m, note: told.append((m.item_id, note)))
    slow = build_plan(board, updates, per_request=5, operation="update_items")
    assert fast.to_dict() == slow.to_dict()
    assert fast.skipped_rows == (99,)
    assert told == [(u.item_id, u.staging_row_id) for u in updates[:-1]]
    with pytest.raises(PlanError, match=r"staging row 7 \(item 100\): item 100 is already planned from staging row 0"):
        plan_encoded(board, [*encoded[:1], (100, 7, {"status_1": {"label": "SHIPPED"}}, None)])


def test_a_bad_value_part_way_leaves_no_audit_row(
    deployed: SandboxTarget, board: BoardMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Audit rows already flushed for earlier chunks are undone when a later row cannot be planned."""
    monkeypatch.setattr(operations_module, "CHUNK", 3)
    ops = UpdateOperations(deployed, board, user_id="unit-test")
    records = [{"item_id": 7_000_000_000 + n, "AAG ORDER NUMBER": f"B-{n}", "ORDER QTY": n} for n in range(12)]
    staged = ops.stage_updates(records, "update_items", source_table="unit test")
    assert ops.validate_staged_updates(staged.batch_id).valid == 12
    # the set-based validation passed it; make the value rules refuse the last row's value afterwards
    deployed.execute(
        f"UPDATE {ITEMS} SET update_fields = ? WHERE update_batch_id = ? AND stg_monday_item_id = ?",
        ['{"AAG ORDER NUMBER":"B-11","ORDER QTY":"not a number"}', staged.batch_id, 7_000_000_011],
    )
    with pytest.raises(PlanError, match=r"item 7000000011\): \[ORDER QTY\]"):
        ops.process_staged_updates(staged.batch_id)
    assert deployed.execute("SELECT COUNT(*) FROM dbo.MON_UpdateAudit WHERE batch_id = ?", [staged.batch_id]) == [
        (0,)
    ]
