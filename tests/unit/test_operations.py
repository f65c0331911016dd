"""UpdateOperations on the deployed sandbox: stage, validate, dry-run, audit, roll back, and every refusal."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.errors import ConfigError, OpusError
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import (
    DRY_RUN_SOURCE,
    BatchError,
    BatchStateError,
    BoardMetadata,
    PlanError,
    StagingError,
    UnknownBatch,
    UpdateOperations,
    encode_value,
    load_board,
)
from pytest_opus.updates.plan import PlannedRequest

ITEMS = "dbo.STG_MON_CustMasterSchedule"
SUBITEMS = "dbo.STG_MON_CustMasterSchedule_Subitems"



@pytest.fixture
def ops(deployed: SandboxTarget, board: BoardMetadata) -> UpdateOperations:
    return UpdateOperations(deployed, board, user_id="unit-test")


def snapshot_of(target: SandboxTarget) -> tuple[Any, ...]:
    """Everything an UpdateOperations call may change, to show a failed call changed nothing."""
    update_columns = (
        "stg_id, update_operation, update_fields, source_table, source_query, update_batch_id, "
        "validation_status, validation_errors, stg_status"
    )
    return (
        tuple(target.execute(f"SELECT {update_columns} FROM {ITEMS} ORDER BY stg_id")),
        tuple(target.execute(f"SELECT {update_columns}, ORDER_QTY, Size FROM {SUBITEMS} ORDER BY stg_id")),
        tuple(target.execute("SELECT * FROM dbo.MON_UpdateAudit ORDER BY audit_id")),
    )


def assert_refused(target: SandboxTarget, call: Callable[[], object], error: type[Exception], *words: str) -> OpusError:
    """`call` raises `error` naming every word, and leaves the database exactly as it was."""
    before = snapshot_of(target)
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert snapshot_of(target) == before
    assert isinstance(caught.value, OpusError)
    return caught.value


def orders(target: SandboxTarget, count: int) -> list[tuple[Any, ...]]:
    """Board items with a status other than SHIPPED and a quantity, so setting both changes both."""
    return target.execute(
        f"SELECT TOP ({count}) [Item ID], [AAG ORDER NUMBER], [ORDER STATUS], [ORDER QTY], "
        "[CUSTOMER EX FACTORY DATE], [NOTES] FROM dbo.MON_CustMasterSchedule "
        "WHERE [ORDER STATUS] <> 'SHIPPED' AND [ORDER QTY] IS NOT NULL AND [AAG ORDER NUMBER] IS NOT NULL "
        "ORDER BY [Item ID]"
    )


def rows_of(target: SandboxTarget, batch_id: str, table: str = ITEMS) -> list[tuple[Any, ...]]:
    key = "stg_monday_item_id" if table == ITEMS else "stg_monday_subitem_id"
    return target.execute(
        f"SELECT {key}, validation_status, validation_errors, update_fields FROM {table} "
        "WHERE update_batch_id = ? ORDER BY stg_id",
        [batch_id],
    )


# -- the whole workflow ----------------------------------------------------------------------------


def test_end_to_end_rejects_exactly_the_planted_rows_and_rolls_back(
    ops: UpdateOperations, deployed: SandboxTarget, board: BoardMetadata
) -> None:
    real = orders(deployed, 8)
    good = [
        {"item_id": item, "AAG ORDER NUMBER": number, "ORDER STATUS": "SHIPPED", "ORDER QTY": (qty or 0) + 5}
        for item, number, _status, qty, _day, _notes in real[:5]
    ]
    planted = {
        real[5][0]: ({"ORDER STATUS": "LOST IN TRANSIT"}, "ORDER STATUS: not an allowed status label"),
        real[6][0]: ({"ORDER QTY": -3}, "ORDER QTY: below 0"),
        real[7][0]: ({"CUSTOMER EX FACTORY DATE": date(1999, 12, 31)}, "CUSTOMER EX FACTORY DATE: before 2000-01-01"),
    }
    bad = [{"item_id": item, "AAG ORDER NUMBER": f"ORDER-{item}", **fields} for item, (fields, _) in planted.items()]
    staged = ops.stage_updates(good + bad, "update_items", source_table="unit test")
    assert staged.rows_staged == 8

    validation = ops.validate_staged_updates(staged.batch_id)
    assert (validation.staged, validation.valid, validation.invalid) == (8, 5, 3)
    rejected = {
        int(item): json.loads(errors)
        for item, status, errors, _ in rows_of(deployed, staged.batch_id)
        if status == "INVALID"
    }
    assert rejected == {item: [reason] for item, (_, reason) in planted.items()}
    assert validation.reasons == {reason: 1 for _, reason in planted.values()}

    processed = ops.process_staged_updates(staged.batch_id)
    plan = processed.plan
    assert processed.dry_run and plan.mutation_count == 5 and plan.request_count == 1
    # AAG ORDER NUMBER equals the snapshot's, so only status and quantity change.
    assert processed.unchanged_fields == 5
    for mutation, (item, _number, _status, qty, _day, _notes) in zip(plan.mutations(), real[:5], strict=True):
        assert mutation.item_id == item
        assert json.loads(mutation.column_values) == {
            "status_1": {"label": "SHIPPED"},
            "numbers3": str((qty or 0) + 5),
        }
    audit = deployed.execute(
        "SELECT monday_item_id, monday_board_id, column_id, old_value, new_value, source_system, user_id, "
        "api_response_id FROM dbo.MON_UpdateAudit WHERE batch_id = ? ORDER BY audit_id",
        [staged.batch_id],
    )
    assert processed.audit_rows == len(audit) == 10
    snapshot = {r[0]: r for r in real}
    for item, board_id, column_id, old, new, source, user, response in audit:
        assert (board_id, source, user, response) == (board.board_id, DRY_RUN_SOURCE, "unit-test", None)
        if column_id == "status_1":
            assert (old, new) == (snapshot[item][2], "SHIPPED")
        else:
            assert (old, new) == (str(snapshot[item][3]), str((snapshot[item][3] or 0) + 5))

    report = ops.report(staged.batch_id)
    assert (report.staged, report.valid, report.invalid, report.pending) == (8, 5, 3, 0)
    assert report.success_rate == pytest.approx(5 / 8)
    assert (report.planned_mutations, report.planned_requests, report.audit_rows) == (5, 1, 10)
    assert "success rate (valid / staged): 62.5%" in report.summary()
    assert report.to_dict()["reasons_grouped"] == validation.reasons
    (summary,) = ops.batch_summary(staged.batch_id)
    assert (summary.total_updates, summary.active_updates, summary.rolled_back_updates) == (10, 10, 0)

    first = ops.rollback_batch(staged.batch_id, "unit test")
    assert (first.audit_rows, first.item_rows, first.subitem_rows) == (10, 8, 0)
    assert first.compensating_plan is not None and first.not_restorable == 0
    restore = {m.item_id: json.loads(m.column_values) for m in first.compensating_plan.mutations()}
    for item, _number, status, qty, _day, _notes in real[:5]:
        assert restore[item] == {"status_1": {"label": status}, "numbers3": str(qty)}
    again = ops.rollback_batch(staged.batch_id, "unit test, again")
    assert (again.audit_rows, again.item_rows, again.subitem_rows, again.compensating_plan) == (0, 0, 0, None)
    (summary,) = ops.batch_summary(staged.batch_id)
    assert (summary.active_updates, summary.rolled_back_updates) == (0, 10)
    assert {status for _, status, _, _ in rows_of(deployed, staged.batch_id)} == {"ROLLED_BACK"}
    # The validation result survives the rollback: the report still says what was valid.
    assert ops.report(staged.batch_id).success_rate == pytest.approx(5 / 8)


def test_staging_from_a_query_streams_and_records_its_source(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    query = (
        "SELECT [Item ID] AS item_id, [AAG ORDER NUMBER], N'ON HOLD' AS [ORDER STATUS] "
        "FROM dbo.MON_CustMasterSchedule WHERE [ORDER STATUS] = 'RECEIVED'"
    )
    expected = deployed.execute("SELECT COUNT(*) FROM dbo.MON_CustMasterSchedule WHERE [ORDER STATUS] = 'RECEIVED'")
    staged = ops.stage_updates_from_query(query, "update_items", source_table="dbo.MON_CustMasterSchedule")
    assert staged.rows_staged == expected[0][0] > 0
    rows = deployed.execute(
        f"SELECT DISTINCT source_table, source_query, update_operation, stg_status, validation_status "
        f"FROM {ITEMS} WHERE update_batch_id = ?",
        [staged.batch_id],
    )
    assert rows == [("dbo.MON_CustMasterSchedule", query, "UPDATE_ITEMS", "UPDATE", "PENDING")]
    assert ops.validate_staged_updates(staged.batch_id).valid == staged.rows_staged


def test_a_staged_row_holds_typed_values_only_when_they_fit(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    record = {
        "stg_monday_item_id": 123,
        "aag order number": "A-1",  # any letter case; stored under the table's spelling
        "ORDER QTY": "42",
        "FINAL FOB (USD)": Decimal("1.23456"),  # five decimals do not fit DECIMAL(18,4)
        "USA ONLY LSTP 75% EX WORKS": Decimal("10.5"),
        "CUSTOMER EX FACTORY DATE": "2025-02-30",  # not a day
        "CUSTOMER IN DC DATE": date(2025, 3, 1),
        "CUSTOMER": "x" * 201,  # longer than NVARCHAR(200)
        "NOTES": None,
    }
    staged = ops.stage_updates([record], "update_items")
    assert len(staged.batch_id) == 36
    row = deployed.execute(
        f"SELECT stg_monday_item_id, [AAG ORDER NUMBER], [ORDER QTY], [FINAL FOB (USD)], "
        "[USA ONLY LSTP 75% EX WORKS], [CUSTOMER EX FACTORY DATE], [CUSTOMER IN DC DATE], [CUSTOMER], [NOTES], "
        f"update_fields, stg_batch_id FROM {ITEMS} WHERE update_batch_id = ?",
        [staged.batch_id],
    )[0]
    assert row[:9] == (123, "A-1", 42, None, 10.5, None, "2025-03-01", None, None)
    assert row[10].lower() == staged.batch_id  # the create pipeline's batch column carries it too
    fields = json.loads(row[9])
    assert list(fields) == sorted(fields)
    assert fields == {
        "AAG ORDER NUMBER": "A-1",
        "CUSTOMER": "x" * 201,
        "CUSTOMER EX FACTORY DATE": "2025-02-30",
        "CUSTOMER IN DC DATE": "2025-03-01",
        "FINAL FOB (USD)": "1.23456",
        "NOTES": None,
        "ORDER QTY": "42",
        "USA ONLY LSTP 75% EX WORKS": "10.5000",  # DECIMAL(18,4) takes it: written as the column holds it
    }
    ops.validate_staged_updates(staged.batch_id)
    errors = json.loads(rows_of(deployed, staged.batch_id)[0][2])
    assert errors == [  # in the table's column order
        "CUSTOMER: value does not fit nvarchar(200)",
        "CUSTOMER EX FACTORY DATE: value does not fit date",
        "FINAL FOB (USD): value does not fit decimal(18,4)",
    ]


def test_update_rows_are_invisible_to_the_create_pipeline(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    pending = "SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE stg_status = 'PENDING'"
    before = deployed.execute(pending)
    ops.stage_updates([{"item_id": 1, "AAG ORDER NUMBER": "A"}], "update_items")
    assert deployed.execute(pending) == before


def test_subitem_updates_fill_the_columns_the_table_requires(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    subitem = deployed.execute(
        "SELECT TOP (1) [Item ID], [Name], Size, [Order Qty], [Shipped Qty] FROM dbo.MON_CustMasterSchedule_Subitems "
        "ORDER BY [Item ID]"
    )[0]
    record = {
        "item_id": subitem[0],
        "Name": subitem[1],
        "Shipped Qty": (subitem[4] or 0) + 7,
        "ORDER_QTY": subitem[3] or 0,
        "Size": subitem[2],
    }
    staged = ops.stage_updates([record], "update_subitems")
    row = deployed.execute(
        f"SELECT stg_batch_id, ORDER_QTY, Size, update_fields FROM {SUBITEMS} WHERE update_batch_id = ?",
        [staged.batch_id],
    )[0]
    assert row[:3] == (staged.batch_id, subitem[3] or 0, subitem[2])
    assert json.loads(row[3]) == {"Name": subitem[1], "Shipped Qty": (subitem[4] or 0) + 7}  # no ORDER_QTY, Size
    assert ops.validate_staged_updates(staged.batch_id).valid == 1
    plan = ops.process_staged_updates(staged.batch_id).plan
    assert plan.subitems and plan.board_id == 8446553064
    (mutation,) = plan.mutations()
    assert json.loads(mutation.column_values) == {"numeric_mkq2b2cd": str((subitem[4] or 0) + 7)}
    assert "OpusChangeSubitems" in plan.requests[0].query
    assert ops.rollback_batch(staged.batch_id, "unit test").subitem_rows == 1


def test_validation_rules_cover_each_column_type(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    base = {"AAG ORDER NUMBER": "A"}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"ORDER STATUS": " shipped "}, []),  # labels ignore case and blanks around them
        ({"FINAL PRICES Y/N": "MAYBE"}, ["FINAL PRICES Y/N: not an allowed status label"]),
        ({"PLANNED DELIVERY METHOD": "AIR, OCEAN"}, ["PLANNED DELIVERY METHOD: not an allowed dropdown label"]),
        ({"CUSTOMER CONTACT EMAIL": "a@b.co"}, []),
        ({"CUSTOMER CONTACT EMAIL": "a@@b.co"}, ["CUSTOMER CONTACT EMAIL: not an email address"]),
        ({"CUSTOMER CONTACT EMAIL": "a b@c.de"}, ["CUSTOMER CONTACT EMAIL: not an email address"]),
        ({"CUSTOMER CONTACT EMAIL": "a@b..de"}, ["CUSTOMER CONTACT EMAIL: not an email address"]),
        ({"ORDER QTY": 10_000_001}, ["ORDER QTY: above 10000000"]),
        ({"FINAL FOB (USD)": Decimal("100000.0001")}, ["FINAL FOB (USD): above 100000"]),
        ({"PO NUMBER": "P" * 51}, ["PO NUMBER: longer than 50 characters"]),
        ({"PO NUMBER": "P" * 49 + " "}, []),  # 50 with the trailing blank, which counts
        ({"PO NUMBER": "P" * 50 + " "}, ["PO NUMBER: longer than 50 characters"]),
        ({"ETA CUSTOMER WAREHOUSE DATE": "2100-01-01"}, ["ETA CUSTOMER WAREHOUSE DATE: after 2099-12-31"]),
        ({"TOTAL QTY SHIPPED": 5}, ["TOTAL QTY SHIPPED: read-only (mirror); monday computes it"]),
        ({"AAG SEASON": "HO25"}, ["AAG SEASON: not a column of board 8446553051"]),
        ({"AAG ORDER NUMBER": None}, ["AAG ORDER NUMBER: required"]),
        ({"NOTES": None, "ORDER STATUS": None}, []),  # NULL clears a column
    ]
    records = [{"item_id": 1000 + n, **base, **fields} for n, (fields, _) in enumerate(cases)]
    records.append({"item_id": 0, **base})
    records.append({"item_id": None, **base})
    staged = ops.stage_updates(records, "update_items")
    ops.validate_staged_updates(staged.batch_id)
    # Records of different shapes are inserted shape by shape, so rows are matched by item id.
    got = {item: json.loads(errors) for item, _, errors, _ in rows_of(deployed, staged.batch_id)}
    expected = {1000 + n: reasons for n, (_, reasons) in enumerate(cases)}
    expected[0] = expected[None] = ["item id: missing or not a positive whole number"]  # type: ignore[index]
    assert got == expected
    for (_fields, reasons), record in zip(cases, records, strict=False):
        if not reasons:  # what SQL accepts, the Python rules accept too
            assert ops.board.check_fields("update_items", {k: v for k, v in record.items() if k != "item_id"}) == []


def test_duplicates_and_batch_size_are_batch_rules(
    ops: UpdateOperations, deployed: SandboxTarget, board: BoardMetadata
) -> None:
    records = [{"item_id": item, "AAG ORDER NUMBER": "A"} for item in (1, 2, 2, 3)]
    staged = ops.stage_updates(records, "update_items")
    ops.validate_staged_updates(staged.batch_id)
    assert [json.loads(e) for _, _, e, _ in rows_of(deployed, staged.batch_id)] == [
        [],
        ["item id: appears more than once in the batch"],
        ["item id: appears more than once in the batch"],
        [],
    ]
    # The limit shrinks after staging (the metadata changed): every row of the batch is refused.
    small = _with_max_batch(board, 3)
    result = UpdateOperations(deployed, small).validate_staged_updates(staged.batch_id)
    assert result.invalid == 4
    assert result.reasons["batch: more than 3 rows (max_batch_size)"] == 4


def test_unchanged_fields_are_left_out_and_empty_updates_skipped(
    ops: UpdateOperations, deployed: SandboxTarget
) -> None:
    (item, number, status, qty, day, _notes) = orders(deployed, 1)[0]
    same = {
        "item_id": item,
        "AAG ORDER NUMBER": number,
        "ORDER STATUS": status.lower(),
        "ORDER QTY": qty,
        "CUSTOMER EX FACTORY DATE": day,
    }
    staged = ops.stage_updates([same], "update_items")
    ops.validate_staged_updates(staged.batch_id)
    processed = ops.process_staged_updates(staged.batch_id)
    assert processed.plan.mutation_count == 0 and processed.audit_rows == 0
    assert processed.unchanged_fields == 4 and len(processed.plan.skipped_rows) == 1


def test_validation_sends_the_same_statements_for_10_and_1000_rows(
    ops: UpdateOperations, deployed: SandboxTarget, board: BoardMetadata
) -> None:
    counts = []
    for size in (10, 1000):
        staged = ops.stage_updates(
            [{"item_id": 50_000 + n, "AAG ORDER NUMBER": f"N{n}", "ORDER QTY": n} for n in range(size)],
            "update_items",
        )
        before = deployed.statements
        result = ops.validate_staged_updates(staged.batch_id)
        counts.append((deployed.statements - before, result.statements))
        assert result.valid == size
    assert counts[0] == counts[1] == (4, 4)


def test_staging_stays_under_2100_parameters_per_statement(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    sent: list[int] = []
    real = deployed.executemany

    def spy(sql: str, rows: Any) -> None:
        sent.extend(sql.count("?") for _ in rows)
        assert all(len(r) == sql.count("?") for r in rows)
        real(sql, rows)

    deployed.executemany = spy  # type: ignore[method-assign]
    wide = {name: "x" for name in ("CUSTOMER", "PO NUMBER", "CUSTOMER STYLE", "STYLE", "COLOR", "SEASON", "DROP")}
    records = [{"item_id": n + 1, "AAG ORDER NUMBER": "A", **wide} for n in range(3000)]
    staged = ops.stage_updates(records, "update_items")
    assert staged.rows_staged == 3000
    assert sent and max(sent) <= 2100


# -- refusals: each a clear error, and the database unchanged --------------------------------------


def test_unknown_update_type(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    assert_refused(
        deployed,
        lambda: ops.stage_updates([{"item_id": 1}], "update_item"),
        ConfigError,
        "update_item",
        "did you mean 'update_items'",
    )


def test_query_with_no_rows(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    query = "SELECT [Item ID] AS item_id, [AAG ORDER NUMBER] FROM dbo.MON_CustMasterSchedule WHERE 1 = 0"
    assert_refused(deployed, lambda: ops.stage_updates_from_query(query, "update_items"), StagingError, "no rows")


def test_missing_required_column_of_the_table(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    query = "SELECT [Item ID] AS item_id, [Name], Size FROM dbo.MON_CustMasterSchedule_Subitems"
    assert_refused(
        deployed,
        lambda: ops.stage_updates_from_query(query, "update_subitems"),
        StagingError,
        "source is missing ORDER_QTY",
        SUBITEMS,
    )


def test_required_column_null_in_one_row(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    records = [
        {"item_id": 1, "Name": "M", "ORDER_QTY": 5, "Size": "M"},
        {"item_id": 2, "Name": "L", "ORDER_QTY": None, "Size": "L"},
    ]
    assert_refused(
        deployed, lambda: ops.stage_updates(records, "update_subitems"), StagingError, "row 2", "ORDER_QTY is NULL"
    )


def test_batch_over_the_limit(deployed: SandboxTarget, board: BoardMetadata) -> None:
    small = UpdateOperations(deployed, _with_max_batch(board, 2))
    records = [{"item_id": n, "AAG ORDER NUMBER": "A"} for n in range(1, 4)]
    assert_refused(
        deployed,
        lambda: small.stage_updates(records, "update_items"),
        StagingError,
        "more than 2 rows",
        "max_batch_size",
    )


@pytest.mark.parametrize("call", ["validate", "process", "rollback", "report", "summary"])
def test_unknown_batch_id(ops: UpdateOperations, deployed: SandboxTarget, call: str) -> None:
    calls: dict[str, Callable[[], object]] = {
        "validate": lambda: ops.validate_staged_updates("no-such-batch"),
        "process": lambda: ops.process_staged_updates("no-such-batch"),
        "rollback": lambda: ops.rollback_batch("no-such-batch", "test"),
        "report": lambda: ops.report("no-such-batch"),
        "summary": lambda: ops.batch_summary("no-such-batch"),
    }
    assert_refused(deployed, calls[call], UnknownBatch, "no-such-batch")


def test_metadata_naming_a_column_the_table_lacks(deployed: SandboxTarget, tmp_path: Path, board_file: Path) -> None:
    text = (
        board_file.read_text(encoding="utf-8")
        .replace(
            "  SEASON:                      {id: text_mkq1p6qr, type: text}",
            "  SEASONS:                     {id: text_mkq1p6qr, type: text}",
        )
        .replace("      - SEASON\n", "      - SEASONS\n")
    )
    copy = tmp_path / "board.yaml"
    copy.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.startswith("  SEASONS:"))
    assert_refused(
        deployed,
        lambda: UpdateOperations(deployed, load_board(copy)),
        ConfigError,
        f"board.yaml:{line}",
        "[SEASONS] is not a column of dbo.STG_MON_CustMasterSchedule",
        "did you mean 'SEASON'",
    )


def test_a_database_without_the_deployment(baseline: SandboxTarget, board: BoardMetadata) -> None:
    with pytest.raises(ConfigError, match=re.escape("deploy sql/deploy_opus_update_boards.sql first")):
        UpdateOperations(baseline, board)


@pytest.mark.parametrize(
    ("records", "words"),
    [
        (
            [{"item_id": 1, "NO SUCH COLUMN": 1, "ORDER STAUTS": "x"}],
            ["[NO SUCH COLUMN]", "[ORDER STAUTS]", "did you mean 'ORDER STATUS'"],
        ),
        ([{"item_id": 1, "validation_status": "VALID"}], ["[validation_status]", "bookkeeping"]),
        ([{"AAG ORDER NUMBER": "A"}], ["no item id column", "AS item_id"]),
        ([{"item_id": 1, "stg_monday_item_id": 2}], ["both", "item id"]),
        ([{"item_id": 1, "CUSTOMER": {1, 2}}], ["[CUSTOMER] is a set"]),
        ([], ["no records"]),
        (["not a mapping"], ["record 1 is a str"]),
    ],
)
def test_bad_records(ops: UpdateOperations, deployed: SandboxTarget, records: list[Any], words: list[str]) -> None:
    assert_refused(deployed, lambda: ops.stage_updates(records, "update_items"), StagingError, *words)


@pytest.mark.parametrize("batch_id", ["", "x" * 51, "lot-ü", "tab\there"])
def test_unusable_batch_ids(ops: UpdateOperations, deployed: SandboxTarget, batch_id: str) -> None:
    assert_refused(
        deployed,
        lambda: ops.stage_updates([{"item_id": 1}], "update_items", batch_id=batch_id),
        StagingError,
        "batch id",
    )


def test_a_batch_id_is_used_once(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    ops.stage_updates([{"item_id": 1, "AAG ORDER NUMBER": "A"}], "update_items", batch_id="nightly-1")
    assert_refused(
        deployed,
        lambda: ops.stage_updates([{"item_id": 2, "AAG ORDER NUMBER": "B"}], "update_subitems", batch_id="nightly-1"),
        StagingError,
        "already used",
    )


def test_a_query_may_not_read_the_table_it_writes(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    query = "SELECT stg_monday_item_id, [AAG ORDER NUMBER] FROM dbo.STG_MON_CustMasterSchedule"
    assert_refused(deployed, lambda: ops.stage_updates_from_query(query, "update_items"), StagingError, "reads", ITEMS)


def test_a_bad_query_is_the_databases_error(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    assert_refused(
        deployed,
        lambda: ops.stage_updates_from_query("SELECT nope FROM dbo.MON_CustMasterSchedule", "update_items"),
        OpusError,
        "nope",
    )


def test_process_steps_out_of_order(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    staged = ops.stage_updates([{"item_id": 77, "AAG ORDER NUMBER": "A", "ORDER QTY": 3}], "update_items")
    batch = staged.batch_id
    assert_refused(deployed, lambda: ops.process_staged_updates(batch), BatchStateError, "not validated")
    ops.validate_staged_updates(batch)
    assert_refused(
        deployed, lambda: ops.process_staged_updates(batch, dry_run=False), PlanError, "Phase 0 is dry-run only"
    )
    ops.process_staged_updates(batch)
    assert_refused(deployed, lambda: ops.process_staged_updates(batch), BatchStateError, "already processed")
    assert_refused(deployed, lambda: ops.validate_staged_updates(batch), BatchStateError, "already processed")
    assert_refused(deployed, lambda: ops.rollback_batch(batch, "  "), BatchError, "reason")


def test_a_rolled_back_batch_cannot_be_processed(ops: UpdateOperations, deployed: SandboxTarget) -> None:
    staged = ops.stage_updates([{"item_id": 78, "AAG ORDER NUMBER": "A"}], "update_items")
    ops.validate_staged_updates(staged.batch_id)
    result = ops.rollback_batch(staged.batch_id, "changed my mind")
    assert (result.audit_rows, result.item_rows, result.compensating_plan) == (0, 1, None)
    assert_refused(deployed, lambda: ops.process_staged_updates(staged.batch_id), BatchStateError, "rolled back")


# -- dry run and live client -----------------------------------------------------------------------


def test_processing_opens_no_network_connection(
    ops: UpdateOperations, deployed: SandboxTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = ops.stage_updates([{"item_id": 79, "AAG ORDER NUMBER": "A", "ORDER STATUS": "SHIPPED"}], "update_items")
    ops.validate_staged_updates(staged.batch_id)
    attempts: list[object] = []

    class NoNetwork(socket.socket):
        def connect(self, *args: Any) -> None:
            attempts.append(args)
            raise OSError("no network in a dry run")

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("no network in a dry run")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    processed = ops.process_staged_updates(staged.batch_id)
    rolled = ops.rollback_batch(staged.batch_id, "dry run only")
    monkeypatch.undo()
    assert attempts == []
    assert processed.plan.mutation_count == 1 and rolled.compensating_plan is not None


def test_a_live_client_gets_each_request_and_rows_are_not_marked_dry_run(
    ops: UpdateOperations, deployed: SandboxTarget
) -> None:
    class Client:
        def __init__(self) -> None:
            self.sent: list[PlannedRequest] = []

        def send(self, request: PlannedRequest) -> object:
            self.sent.append(request)
            return {"data": {}}

    client = Client()
    staged = ops.stage_updates(
        [{"item_id": 90 + n, "AAG ORDER NUMBER": "A", "ORDER QTY": n} for n in range(30)], "update_items"
    )
    ops.validate_staged_updates(staged.batch_id)
    processed = ops.process_staged_updates(staged.batch_id, dry_run=False, client=client)
    assert not processed.dry_run and client.sent == list(processed.plan.requests) and len(client.sent) == 2
    sources = deployed.execute(
        "SELECT DISTINCT source_system FROM dbo.MON_UpdateAudit WHERE batch_id = ?", [staged.batch_id]
    )
    assert sources == [("OPUS_UPDATE_BOARDS",)]


def test_report_of_a_batch_not_yet_validated(ops: UpdateOperations) -> None:
    staged = ops.stage_updates([{"item_id": 5, "AAG ORDER NUMBER": "A"}], "update_items")
    report = ops.report(staged.batch_id)
    assert (report.staged, report.pending, report.success_rate) == (1, 1, None)
    assert "not validated yet" in report.summary()
    assert ops.batch_summary(staged.batch_id) == ()


def test_old_values_unknown_to_the_snapshot_are_not_restored(ops: UpdateOperations) -> None:
    staged = ops.stage_updates([{"item_id": 4242, "AAG ORDER NUMBER": "NEW", "ORDER QTY": 1}], "update_items")
    ops.validate_staged_updates(staged.batch_id)
    processed = ops.process_staged_updates(staged.batch_id)
    assert processed.audit_rows == 2
    result = ops.rollback_batch(staged.batch_id, "item was never on the board snapshot")
    assert result.not_restorable == 2
    assert result.compensating_plan is not None and result.compensating_plan.mutation_count == 0


def test_audit_new_values_encode_to_what_the_plan_sends(
    ops: UpdateOperations, deployed: SandboxTarget, board: BoardMetadata
) -> None:
    records = [
        {
            "item_id": 600 + n,
            "AAG ORDER NUMBER": "A",
            "ORDER STATUS": "on hold",
            "FINAL FOB (USD)": "7.50",
            "CUSTOMER IN DC DATE": date(2026, 1, 2),
            "NOTES": "line\nbreak 'quoted' \"double\"",
        }
        for n in range(3)
    ]
    staged = ops.stage_updates(records, "update_items")
    ops.validate_staged_updates(staged.batch_id)
    plan = ops.process_staged_updates(staged.batch_id).plan
    by_id = {c.column_id: c for c in board.columns.values()}
    planned = {(m.item_id, cid): v for m in plan.mutations() for cid, v in json.loads(m.column_values).items()}
    audit = deployed.execute(
        "SELECT monday_item_id, column_id, new_value FROM dbo.MON_UpdateAudit WHERE batch_id = ?", [staged.batch_id]
    )
    assert len(audit) == len(planned) == 15
    for item, column_id, new in audit:
        column = by_id[column_id]
        rule = board.operation("update_items").rule_for(column.staging_column)
        assert encode_value(column.column_type, new, rule) == planned[(item, column_id)]


def _with_max_batch(board: BoardMetadata, size: int) -> BoardMetadata:
    op = board.operation("update_items")
    return dataclasses.replace(
        board, operations={**board.operations, "update_items": dataclasses.replace(op, max_batch_size=size)}
    )
