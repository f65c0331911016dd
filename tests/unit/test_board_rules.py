"""Operation rules of the shipped board: per-row checks and the per-column export SQL is generated from."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pytest_opus.errors import ConfigError
from pytest_opus.updates.board import BoardMetadata, load_board
from pytest_opus.updates.values import LONG_TEXT_MAX_LENGTH

GOOD = {"AAG ORDER NUMBER": "AAG-0001", "ORDER STATUS": "SHIPPED", "ORDER QTY": 1200}

ROW_CASES = [
    # (fields, expected reasons; each a part of one reason, in order)
    (GOOD, []),
    ({"aag order number": "AAG-1", "order status": "in production"}, []),  # names and labels ignore case
    ({**GOOD, "NOTES": None, "CUSTOMER EX FACTORY DATE": date(2025, 6, 30)}, []),
    ({"ORDER STATUS": "SHIPPED"}, ["[AAG ORDER NUMBER] is required"]),
    ({**GOOD, "AAG ORDER NUMBER": None}, ["[AAG ORDER NUMBER] is required and cannot be NULL"]),
    ({**GOOD, "ORDER STATUS": "Done"}, ["[ORDER STATUS] label 'Done' is not one of"]),
    ({**GOOD, "ORDER QTY": -5}, ["[ORDER QTY] -5 is below the minimum 0"]),
    ({**GOOD, "FINAL FOB (USD)": Decimal("100000.0001")}, ["[FINAL FOB (USD)] 100000.0001 is above the maximum"]),
    ({**GOOD, "CUSTOMER IN DC DATE": "2025-02-30"}, ["[CUSTOMER IN DC DATE] not a valid date"]),
    ({**GOOD, "CUSTOMER IN DC DATE": "1999-12-31"}, ["[CUSTOMER IN DC DATE] date 1999-12-31 is before 2000-01-01"]),
    ({**GOOD, "CUSTOMER CONTACT EMAIL": "buyer at example"}, ["[CUSTOMER CONTACT EMAIL] not an email address"]),
    ({**GOOD, "NOTES": "x" * 2001}, ["[NOTES] text is 2001 characters long"]),
    ({**GOOD, "DDP US (USD)": Decimal(1)}, ["[DDP US (USD)] is read-only"]),
    ({**GOOD, "Item ID": 5}, ["[Item ID] is read-only"]),
    ({**GOOD, "NOTE": "x"}, ["[NOTE] is not a mapped column (did you mean 'NOTES'?)"]),
    ({**GOOD, "stg_status": "x"}, ["[stg_status] is not a mapped column"]),
    ({**GOOD, "order qty": 5}, ["[order qty] is given twice"]),
    (
        {"ORDER STATUS": "Done", "ORDER QTY": "many"},
        ["[AAG ORDER NUMBER] is required", "[ORDER STATUS] label 'Done'", "[ORDER QTY] not a number"],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), ROW_CASES)
def test_check_fields(board: BoardMetadata, fields: dict[str, object], expected: list[str]) -> None:
    reasons = board.check_fields("update_items", fields)
    assert len(reasons) == len(expected), reasons
    for reason, part in zip(reasons, expected, strict=True):
        assert part in reason


def test_subitem_rules(board: BoardMetadata) -> None:
    assert board.check_fields("update_subitems", {"Name": "XL", "Shipped Qty": 12}) == []
    assert board.check_fields("update_subitems", {"Name": "XL", "ORDER LINE STATUS": "packed"}) == []
    [reason] = board.check_fields("update_subitems", {"Name": "XL", "ORDER STATUS": "SHIPPED"})
    assert "not a mapped column" in reason  # a main-board column is not a subitem column
    [reason] = board.check_fields("update_subitems", {"Name": "x" * 21})
    assert "more than the 20 allowed" in reason


def test_column_not_allowed_for_the_operation(tmp_path: Path, board_file: Path) -> None:
    text = board_file.read_text(encoding="utf-8").replace("      - SEASON\n", "")
    path = tmp_path / "board.yaml"
    path.write_text(text, encoding="utf-8")
    narrowed = load_board(path)
    [reason] = narrowed.check_fields("update_items", {**GOOD, "SEASON": "FW25"})
    assert reason == "[SEASON] may not be changed by update_items"


def test_unknown_operation_suggests_the_near_one(board: BoardMetadata) -> None:
    with pytest.raises(ConfigError, match=r"no operation type 'update_item' \(did you mean 'update_items'\?\)"):
        board.operation("update_item")


def test_column_checks_export_every_mapped_column(board: BoardMetadata) -> None:
    checks = {c.staging_column: c for c in board.column_checks("update_items")}
    assert list(checks) == list(board.columns)
    status = checks["ORDER STATUS"]
    assert (status.column_id, status.column_type, status.allowed, status.read_only) == (
        "status_1",
        "status",
        True,
        False,
    )
    assert status.rule.labels == ("RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD")
    assert checks["AAG ORDER NUMBER"].required
    assert checks["DDP US (USD)"].read_only and not checks["DDP US (USD)"].allowed
    assert checks["TOTAL QTY SHIPPED"].read_only
    assert checks["ORDER QTY"].rule.min == 0 and checks["ORDER QTY"].rule.max == 10_000_000
    assert checks["CUSTOMER EX FACTORY DATE"].rule.min_date == date(2000, 1, 1)
    # monday's own limits are folded in, so SQL generated from the export needs nothing else
    assert checks["STYLE DESCRIPTION"].rule.max_length == 1000
    assert checks["CUSTOMER CONTACT EMAIL"].rule.max_length == 254
    sub = {c.staging_column: c for c in board.column_checks("update_subitems")}
    assert sub["Name"].required and sub["Name"].rule.max_length == 20
    assert LONG_TEXT_MAX_LENGTH == 2000


def test_board_for_and_missing_subitems(board: BoardMetadata) -> None:
    assert board.board_for(subitems=False).board_id == 8446553051
    assert board.board_for(subitems=True).board_id == 8446553064
    bare = BoardMetadata(key="k", name="n", items=board.items, operations={})
    with pytest.raises(ConfigError, match="declares no subitems board"):
        bare.board_for(subitems=True)
    with pytest.raises(ConfigError, match="it defines: none"):
        bare.operation("update_items")
