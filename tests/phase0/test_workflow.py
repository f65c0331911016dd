"""Phase 0, step 3: the update workflow in dry-run (seed: "UpdateOperations test: >95% success rate").

A mock batch is staged from the sample data with a SQL query: real orders given new values, plus a
few rows with planted rule violations that validation must reject. Everything this phase writes is
undone at the end (one outer transaction), so a persistent target is left as it was.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_opus.options import OpusConfig
from pytest_opus.report import table_html
from pytest_opus.run import OpusRun
from pytest_opus.targets.base import Target
from pytest_opus.updates import BoardMetadata, UpdateOperations, encode_value, load_board

pytestmark = pytest.mark.workflow

BOARD_FILE = "customer_master_schedule.yaml"
#: planted violations, applied in turn to the first rows of the batch: (column, bad value SQL, reason word)
PLANTS = [
    ("ORDER STATUS", "'NOT A STATUS'", "ORDER STATUS"),
    ("ORDER QTY", "-5", "ORDER QTY"),
    ("FINAL PRICES Y/N", "'MAYBE'", "FINAL PRICES Y/N"),
]


@dataclass
class MockBatch:
    ops: UpdateOperations
    board: BoardMetadata
    batch_id: str
    item_ids: list[int]
    planted: dict[int, str]  # item id -> the column whose value breaks a rule
    staged: int


class _Undo(Exception):
    pass


@pytest.fixture(scope="module")
def mock_batch(opus_target: Target, opus_config: OpusConfig, opus_run: OpusRun) -> Iterator[MockBatch]:
    """Stage the mock batch inside a transaction that is rolled back after the phase."""
    thresholds = opus_run.thresholds()
    board = load_board(opus_config.expectations / "boards" / BOARD_FILE)
    ops = UpdateOperations(opus_target, board, user_id="phase0-workflow")
    ids = [int(r[0]) for r in opus_target.execute(
        f"SELECT TOP ({int(thresholds.mock_orders)}) [Item ID] FROM dbo.MON_CustMasterSchedule "
        "WHERE [AAG ORDER NUMBER] IS NOT NULL ORDER BY [Item ID]")]
    assert len(ids) == thresholds.mock_orders, "not enough orders in the sample data for the mock batch"
    planted = {ids[i]: PLANTS[i % len(PLANTS)][0] for i in range(thresholds.mock_invalid_rows)}

    def value(column: str, normal: str) -> str:
        cases = " ".join(f"WHEN {item} THEN {bad}" for item, col in planted.items()
                         for c, bad, _ in PLANTS if c == col == column)
        return f"CASE m.[Item ID] {cases} ELSE {normal} END" if cases else normal

    status = value("ORDER STATUS", "CASE WHEN m.[ORDER STATUS] = 'SHIPPED' THEN 'IN PRODUCTION' ELSE 'SHIPPED' END")
    quantity = value("ORDER QTY", "COALESCE(m.[ORDER QTY], 0) + 12")
    prices = value("FINAL PRICES Y/N", "CASE WHEN m.[FINAL PRICES Y/N] = 'Y' THEN 'N' ELSE 'Y' END")
    query = (
        f"SELECT m.[Item ID] AS stg_monday_item_id, m.[AAG ORDER NUMBER], {status} AS [ORDER STATUS], "
        f"{quantity} AS [ORDER QTY], {prices} AS [FINAL PRICES Y/N], m.[NOTES] AS [NOTES] "
        f"FROM dbo.MON_CustMasterSchedule AS m WHERE m.[Item ID] IN ({', '.join(str(i) for i in ids)})"
    )
    with pytest.raises(_Undo), opus_target.transaction():
        staged = ops.stage_updates_from_query(query, "update_items", source_table="dbo.MON_CustMasterSchedule")
        yield MockBatch(ops, board, staged.batch_id, ids, planted, staged.rows_staged)
        raise _Undo


def test_mock_batch_is_staged(mock_batch: MockBatch, opus_target: Target) -> None:
    assert mock_batch.staged == len(mock_batch.item_ids)
    rows = opus_target.execute(
        "SELECT COUNT(*), COUNT(DISTINCT stg_monday_item_id) FROM dbo.STG_MON_CustMasterSchedule "
        "WHERE update_batch_id = ? AND validation_status = 'PENDING'", [mock_batch.batch_id])
    assert rows == [(mock_batch.staged, mock_batch.staged)]


def test_exactly_the_known_invalid_rows_are_rejected(mock_batch: MockBatch, opus_target: Target,
                                                     opus_run: OpusRun, request: pytest.FixtureRequest) -> None:
    validation = mock_batch.ops.validate_staged_updates(mock_batch.batch_id)
    rows = opus_target.execute(
        "SELECT stg_monday_item_id, validation_status, validation_errors FROM dbo.STG_MON_CustMasterSchedule "
        "WHERE update_batch_id = ?", [mock_batch.batch_id])
    rejected = {int(item): json.loads(errors) for item, status, errors in rows if status == "INVALID"}
    known = set(mock_batch.planted)
    opus_run.evidence.update({
        "workflow.known_invalid": len(known),
        "workflow.known_invalid_rejected": len(known & set(rejected)),
        "workflow.rejected_exactly": set(rejected) == known,
    })
    opus_run.attach(request.node.nodeid, "rejected rows", table_html(
        ["item id", "reasons"], [[item, "; ".join(reasons)] for item, reasons in sorted(rejected.items())]))
    assert validation.invalid == len(rejected)
    assert set(rejected) == known, f"rejected {sorted(rejected)}, expected exactly {sorted(known)}"
    for item, column in mock_batch.planted.items():
        assert any(column in reason for reason in rejected[item]), (item, rejected[item])


def test_mock_batch_is_classified_exactly(mock_batch: MockBatch, opus_target: Target, opus_run: OpusRun,
                                         request: pytest.FixtureRequest) -> None:
    """Classification accuracy on the mock batch: every planted row rejected for its own reason, every
    other row valid. Required at 100%: the batch's composition is known, so anything less is a bug."""
    report = mock_batch.ops.report(mock_batch.batch_id)
    rows = opus_target.execute(
        "SELECT stg_monday_item_id, validation_status, validation_errors FROM dbo.STG_MON_CustMasterSchedule "
        "WHERE update_batch_id = ?", [mock_batch.batch_id])
    correct = 0
    for item, status, errors in rows:
        column = mock_batch.planted.get(int(item))
        if column is None:
            correct += status == "VALID"
        else:
            correct += status == "INVALID" and any(column in reason for reason in json.loads(errors or "[]"))
    opus_run.evidence.update({"workflow.accuracy": correct / len(rows) if rows else None,
                              "workflow.correct": correct, "workflow.mock_staged": len(rows)})
    opus_run.attach(request.node.nodeid, "mock batch report", f"<pre>{_escape(report.summary())}</pre>")
    assert report.staged == mock_batch.staged == len(rows)
    assert correct == len(rows), f"{len(rows) - correct} of {len(rows)} mock rows classified wrongly"


def test_real_data_success_rate_is_above_the_threshold(opus_target: Target, opus_config: OpusConfig,
                                                      opus_run: OpusRun, request: pytest.FixtureRequest) -> None:
    """The seed's >95%: a dry run on a sample of real rows (query and size in phase0.yaml), staged,
    validated and planned, then undone. On the disposable sandbox, the sample data stands in."""
    thresholds = opus_run.thresholds()
    board = load_board(opus_config.expectations / "boards" / BOARD_FILE)
    ops = UpdateOperations(opus_target, board, user_id="phase0-real-data")
    query = (f"SELECT TOP ({thresholds.sample_size}) * FROM ({thresholds.sample_query}) AS opus_sample "
             "ORDER BY stg_monday_item_id")
    with pytest.raises(_Undo), opus_target.transaction():
        staged = ops.stage_updates_from_query(query, "update_items", source_table="phase0.yaml real_data")
        ops.validate_staged_updates(staged.batch_id)
        planned = ops.process_staged_updates(staged.batch_id, dry_run=True).plan
        report = ops.report(staged.batch_id)
        rejected = opus_target.execute(
            "SELECT validation_errors FROM dbo.STG_MON_CustMasterSchedule "
            "WHERE update_batch_id = ? AND validation_status = 'INVALID'", [staged.batch_id])
        raise _Undo
    reasons: dict[str, int] = {}
    for (errors,) in rejected:
        for reason in json.loads(errors or "[]"):
            reasons[reason] = reasons.get(reason, 0) + 1
    source = ("the sample data of the disposable sandbox (standing in for real data)"
              if not opus_config.persistent else f"real rows of {opus_config.target_display}")
    opus_run.evidence.update({
        "workflow.success_rate": report.success_rate, "workflow.valid": report.valid,
        "workflow.staged": report.staged, "workflow.invalid": report.staged - report.valid,
        "workflow.sample_source": source, "workflow.sample_mutations": planned.mutation_count,
        "workflow.rejection_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:10]),
    })
    opus_run.attach(request.node.nodeid, "rejected rows of the real-data sample, by reason", table_html(
        ["reason", "rows"], [[reason, count] for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])]))
    assert report.staged > 0, f"the real-data query returned no rows ({source})"
    assert report.success_rate is not None and report.success_rate > thresholds.go_above, (
        f"success rate {report.success_rate:.1%} on {source} is not above {thresholds.go_above:.0%}; "
        f"top reasons: {list(reasons)[:3]}")


class _NetworkGuard:
    """Counts (and refuses) every attempt to open a network connection while active."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts = 0
        guard = self

        class GuardedSocket(socket.socket):
            def connect(self, *args: Any, **kwargs: Any) -> None:
                guard.attempts += 1
                raise OSError("network access is not allowed during a dry run")

            def connect_ex(self, *args: Any, **kwargs: Any) -> int:
                guard.attempts += 1
                raise OSError("network access is not allowed during a dry run")

        def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
            guard.attempts += 1
            raise OSError("network access is not allowed during a dry run")

        monkeypatch.setattr(socket, "socket", GuardedSocket)
        monkeypatch.setattr(socket, "create_connection", create_connection)


def _expected_changes(mock_batch: MockBatch, target: Target) -> dict[tuple[int, str], Any]:
    """What the plan must contain, computed from the staged rows and the board snapshot."""
    board = mock_batch.board
    fields = ["ORDER STATUS", "ORDER QTY", "FINAL PRICES Y/N", "NOTES"]
    cols = ", ".join(f"s.[{f}], m.[{f}]" for f in fields)
    rows = target.execute(
        f"SELECT s.stg_monday_item_id, {cols} FROM dbo.STG_MON_CustMasterSchedule AS s "
        "LEFT JOIN dbo.MON_CustMasterSchedule AS m ON m.[Item ID] = s.stg_monday_item_id "
        "WHERE s.update_batch_id = ? AND s.validation_status = 'VALID'", [mock_batch.batch_id])
    expected: dict[tuple[int, str], Any] = {}
    for row in rows:
        item = int(row[0])
        for i, field in enumerate(fields):
            new, old = row[1 + 2 * i], row[2 + 2 * i]
            if str(new) != str(old):
                column = board.column(field)
                expected[(item, column.column_id)] = encode_value(column.column_type, new)
    return expected


def test_dry_run_plan_matches_the_staged_data(mock_batch: MockBatch, opus_target: Target, opus_run: OpusRun,
                                              monkeypatch: pytest.MonkeyPatch,
                                              request: pytest.FixtureRequest) -> None:
    expected = _expected_changes(mock_batch, opus_target)
    guard = _NetworkGuard(monkeypatch)
    processed = mock_batch.ops.process_staged_updates(mock_batch.batch_id, dry_run=True)
    monkeypatch.undo()
    plan = processed.plan
    planned: dict[tuple[int, str], Any] = {}
    for mutation in plan.mutations():
        for column_id, value in json.loads(mutation.column_values).items():
            planned[(int(mutation.item_id), column_id)] = value
    matched = sum(1 for key, value in planned.items() if key in expected and expected[key] == value)
    opus_run.evidence.update({
        "dryrun.fields_planned": len(planned), "dryrun.fields_expected": len(expected),
        "dryrun.fields_matched": matched, "dryrun.mutations": plan.mutation_count,
        "dryrun.requests": plan.request_count, "dryrun.network_attempts": guard.attempts,
        "audit.planned_changes": len(planned),
    })
    opus_run.attach(request.node.nodeid, "dry-run plan", f"<pre>{_escape(plan.summary())}</pre>")
    assert guard.attempts == 0
    assert processed.dry_run
    assert planned == expected


def test_audit_trail_has_one_row_per_planned_change(mock_batch: MockBatch, opus_target: Target,
                                                    opus_run: OpusRun) -> None:
    rows = opus_target.execute(
        "SELECT monday_item_id, column_id, source_system FROM dbo.MON_UpdateAudit WHERE batch_id = ?",
        [mock_batch.batch_id])
    opus_run.evidence["audit.rows"] = len(rows)
    assert rows, "process_staged_updates wrote no audit rows"
    assert len({(int(i), c) for i, c, _ in rows}) == len(rows), "an item and column was audited twice"
    assert len(rows) == opus_run.evidence.get("audit.planned_changes")
    assert {s for _i, _c, s in rows} == {"OPUS_DRY_RUN"}


def test_rollback_batch_is_complete_and_idempotent(mock_batch: MockBatch) -> None:
    first = mock_batch.ops.rollback_batch(mock_batch.batch_id, "Phase 0 workflow check")
    again = mock_batch.ops.rollback_batch(mock_batch.batch_id, "Phase 0 workflow check")
    assert first.audit_rows > 0 and first.item_rows == mock_batch.staged
    assert (again.audit_rows, again.item_rows, again.subitem_rows) == (0, 0, 0)
    assert first.compensating_plan is not None and first.compensating_plan.mutation_count > 0


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


#: subitems: size lines of the sample orders, given a shipped quantity and a line status that differ
SUBITEM_QUERY = (
    "SELECT TOP ({n}) s.[Item ID] AS stg_monday_subitem_id, s.[Parent Item ID] AS stg_monday_parent_item_id, "
    "s.[Name], s.[Size], COALESCE(s.[Order Qty], 0) AS ORDER_QTY, COALESCE(s.[Shipped Qty], 0) + 1 AS [Shipped Qty], "
    "CASE WHEN s.[ORDER LINE STATUS] = 'SHIPPED' THEN 'PACKED' ELSE 'SHIPPED' END AS [ORDER LINE STATUS] "
    "FROM dbo.MON_CustMasterSchedule_Subitems AS s ORDER BY s.[Item ID]"
)


def test_subitem_updates_are_staged_planned_and_rolled_back(opus_target: Target, opus_config: OpusConfig,
                                                            opus_run: OpusRun) -> None:
    """The subitem board too: its table has NOT NULL columns without defaults, and SP_RollbackBatch has a
    branch of its own for it. Staged, validated, planned in dry-run, rolled back; then undone."""
    board = load_board(opus_config.expectations / "boards" / BOARD_FILE)
    ops = UpdateOperations(opus_target, board, user_id="phase0-subitems")
    with pytest.raises(_Undo), opus_target.transaction():
        staged = ops.stage_updates_from_query(SUBITEM_QUERY.format(n=20), "update_subitems",
                                              source_table="dbo.MON_CustMasterSchedule_Subitems")
        validation = ops.validate_staged_updates(staged.batch_id)
        plan = ops.process_staged_updates(staged.batch_id, dry_run=True).plan
        audit = opus_target.execute("SELECT COUNT(*) FROM dbo.MON_UpdateAudit WHERE batch_id = ?", [staged.batch_id])
        rolled = ops.rollback_batch(staged.batch_id, "Phase 0 subitem check")
        marked = opus_target.execute(
            "SELECT (SELECT COUNT(*) FROM dbo.MON_UpdateAudit WHERE batch_id = ? AND rollback_timestamp IS NOT NULL), "
            "(SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule_Subitems "
            " WHERE update_batch_id = ? AND validation_status = 'ROLLED_BACK')", [staged.batch_id, staged.batch_id])
        raise _Undo
    opus_run.evidence.update({"subitems.staged": staged.rows_staged, "subitems.valid": validation.valid,
                              "subitems.mutations": plan.mutation_count, "subitems.rolled_back": rolled.subitem_rows})
    assert staged.rows_staged == validation.valid == 20
    assert plan.mutation_count == 20 and audit[0][0] > 0
    assert (rolled.item_rows, rolled.subitem_rows, rolled.audit_rows) == (0, 20, audit[0][0])
    assert marked == [(audit[0][0], 20)], "SP_RollbackBatch did not mark the subitem rows and their audit rows"
