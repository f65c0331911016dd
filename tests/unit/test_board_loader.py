"""Board metadata YAML: the shipped board loads, and every kind of mistake is reported as file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_opus.errors import ConfigError
from pytest_opus.updates.board import (
    BoardMetadataError,
    load_board,
    load_boards,
    parse_board,
)

ROOT = Path(__file__).resolve().parents[2]

# A small valid board; each error case below edits one line of it. Line numbers matter.
BASE = textwrap.dedent(
    """\
    board_id: 100
    name: Test Board
    staging_table: dbo.STG_Test
    item_id_column: stg_monday_item_id
    snapshot: {table: dbo.MON_Test, key: Item ID}
    columns:
      ORDER STATUS: {id: status_1, type: status}
      ORDER QTY: {id: numbers3, type: numbers}
      NOTES: {id: long_text, type: long_text}
      SHIP DATE: {id: date4, type: date}
      DDP: {id: formula_1, type: formula}
    subitems:
      board_id: 200
      staging_table: dbo.STG_Test_Subitems
      item_id_column: stg_monday_subitem_id
      parent_item_id_column: stg_monday_parent_item_id
      columns:
        Name: {id: name, type: name}
        Qty: {id: numbers, type: numbers}
    operations:
      update_items:
        max_batch_size: 100
        required_fields: [ORDER STATUS]
        allowed_columns: [ORDER STATUS, ORDER QTY, NOTES, SHIP DATE]
        rules:
          ORDER STATUS: {labels: [OPEN, DONE]}
          ORDER QTY: {min: 0, max: 10}
          SHIP DATE: {min_date: 2000-01-01, max_date: 2099-12-31}
      update_subitems:
        max_batch_size: 1000
        rules:
          Qty: {min: 0}
    """
)


def _write(tmp_path: Path, text: str, name: str = "board.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _edit(line: int, new: str) -> str:
    lines = BASE.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def test_the_shipped_board_loads(board_file: Path) -> None:
    board = load_board(board_file)
    assert board.key == "customer_master_schedule"
    assert board.board_id == 8446553051
    assert board.staging_table == "dbo.STG_MON_CustMasterSchedule"
    assert board.item_id_column == "stg_monday_item_id"
    assert board.snapshot is not None and board.snapshot.table == "dbo.MON_CustMasterSchedule"
    assert board.column("order status").column_id == "status_1"
    assert board.column("NOTES").column_type == "long_text"
    assert board.column("DDP US (USD)").read_only
    assert board.subitems is not None and board.subitems.board_id == 8446553064
    assert board.subitems.parent_item_id_column == "stg_monday_parent_item_id"
    items, subitems = board.operation("update_items"), board.operation("update_subitems")
    assert not items.subitems and subitems.subitems
    status_rule = items.rule_for("ORDER STATUS")
    assert status_rule is not None
    assert status_rule.labels == ("RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD")
    assert not any(board.column(c).read_only for c in items.allowed_columns)
    assert {"[FINAL PRICES Y/N]", "[CUSTOMER'S ALT PO]", "[USA ONLY LSTP 75% EX WORKS]"} <= {
        f"[{c}]" for c in board.columns
    }


def test_the_shipped_board_maps_the_staging_business_columns(board_file: Path) -> None:
    board = load_board(board_file)
    expected = """AAG ORDER NUMBER|CUSTOMER|PO NUMBER|CUSTOMER STYLE|STYLE|COLOR|STYLE DESCRIPTION|ORDER QTY|
        ORDER DATE PO RECEIVED|CUSTOMER EX FACTORY DATE|CUSTOMER IN DC DATE|ETA CUSTOMER WAREHOUSE DATE|
        FINAL FOB (USD)|USA ONLY LSTP 75% EX WORKS|DDP US (USD)|FINAL PRICES Y/N|ORDER STATUS|
        PLANNED DELIVERY METHOD|SEASON|DROP|CATEGORY|FACTORY|COUNTRY OF ORIGIN|DESTINATION|CUSTOMER'S ALT PO|
        NOTES|TOTAL QTY SHIPPED|ORDER TYPE|CUSTOMER CONTACT EMAIL|ALIAS/RE-BRANDED STYLE|Item ID"""
    assert list(board.columns) == [c.strip() for c in expected.split("|")]
    assert board.subitems is not None
    assert set(board.subitems.columns) == {
        "Name", "Order Qty", "Shipped Qty", "Packed Qty", "Cut Qty", "ORDER LINE STATUS", "Item ID",
    }  # fmt: skip


def test_load_boards_reads_the_directory(board_file: Path) -> None:
    boards = load_boards(board_file.parent)
    assert "customer_master_schedule" in boards
    assert boards["customer_master_schedule"].name == "Customer Master Schedule"


def test_the_base_fixture_is_valid(tmp_path: Path) -> None:
    board = load_board(_write(tmp_path, BASE))
    assert board.operation("update_subitems").allowed_columns == ("Name", "Qty")  # default: all writable
    assert board.operation("update_items").rule_for("order qty").max == 10  # type: ignore[union-attr]
    assert board.column("SHIP DATE").declared_at.endswith("board.yaml:10")


ERRORS = [
    # (line to replace, replacement, line reported, part of the message)
    (1, "board_id: abc", 1, "board_id must be a whole number, got 'abc'"),
    (1, "board_id: 0", 1, "must be at least 1"),
    # issue 13: a 27-digit id is refused at load (it failed later with a raw OverflowError)
    (1, "board_id: 123456789012345678901234567", 1, "must be from 1 to 9,223,372,036,854,775,807, got 1234"),
    (1, "board_id: 123456789012345678901234567", 1, "monday ids are 64-bit"),
    (1, "board_id: 9223372036854775808", 1, "must be from 1 to 9,223,372,036,854,775,807"),
    (1, "board_id: " + "9" * 5000, 1, "(5000 digits)"),
    (13, "  board_id: 99999999999999999999", 13, "subitems board_id must be from 1 to 9,223,372,036,854,775,807"),
    (22, "    max_batch_size: 2147483648", 22, "max_batch_size must be from 1 to 2,147,483,647"),
    (28, "      NOTES: {max_length: 99999999999}", 28, "max_length must be from 1 to 2,147,483,647"),
    (2, "nmae: Test Board", 2, "unknown key 'nmae' (did you mean 'name'?)"),
    (
        7,
        "  ORDER STATUS: {id: status_1, type: stauts}",
        7,
        "unknown monday column type 'stauts' (did you mean 'status'?)",
    ),
    (7, "  ORDER STATUS: {id: status_1, tpye: status}", 7, "unknown key 'tpye' (did you mean 'type'?)"),
    (7, "  ORDER STATUS: {id: status_1, kind: status}", 7, "missing required key 'type'"),
    (7, "  ORDER STATUS: {id: status_1}", 7, "missing required key 'type'"),
    (7, "  ORDER STATUS: status_1", 7, "must be a mapping"),
    (8, "  order status: {id: numbers3, type: numbers}", 8, "mapped twice"),
    (8, "  ORDER QTY: {id: status_1, type: numbers}", 8, "'status_1' is already mapped from [ORDER STATUS]"),
    (9, "  stg_monday_item_id: {id: long_text, type: long_text}", 9, "holds the monday item id"),
    (11, "  DDP: {id: formula_1, type: formula, read_only: false}", 11, "read_only: false is not possible"),
    (11, "  DDP: {id: formula_1, type: formula, read_only: maybe}", 11, "read_only must be true or false"),
    (13, "  board_id: 100", 13, "subitems board_id 100 is the main board's id"),
    (16, "  parent_id_column: stg_monday_parent_item_id", 16, "unknown key 'parent_id_column'"),
    (22, "    max_batch_size: many", 22, "max_batch_size must be a whole number"),
    (23, "    required_fields: [ORDER QTY, NOTES, DDP]", 23, "[DDP] is not in allowed_columns"),
    (
        24,
        "    allowed_columns: [ORDER STATUS, ORDER QTY, NOTE, SHIP DATE]",
        24,
        "[NOTE] is not a mapped column (did you mean 'NOTES'?)",
    ),
    (24, "    allowed_columns: [ORDER STATUS, ORDER QTY, NOTES, SHIP DATE, DDP]", 24, "[DDP] is read-only (formula)"),
    (24, "    allowed_columns: [ORDER STATUS, ORDER QTY, NOTES]", 28, "[SHIP DATE] is not in allowed_columns"),
    (
        26,
        "      ORDER STATUSS: {labels: [OPEN, DONE]}",
        26,
        "[ORDER STATUSS] is not a mapped column (did you mean 'ORDER STATUS'?)",
    ),
    (26, "      ORDER STATUS: {labels: [OPEN, open]}", 26, "label 'open' is listed twice"),
    (26, "      ORDER STATUS: {labels: []}", 26, "at least one label"),
    (26, "      ORDER STATUS: {label: [OPEN]}", 26, "unknown key 'label' (did you mean 'labels'?)"),
    (26, "      ORDER STATUS: {min: 1}", 26, "min does not apply to status columns (these do: labels)"),
    (26, "      DDP: {min: 1}", 26, "[DDP] is read-only"),
    (27, "      ORDER QTY: {min: 10, max: 1}", 27, "min 10 is greater than max 1"),
    (27, "      ORDER QTY: {min: ten}", 27, "min must be a number"),
    (28, "      SHIP DATE: {min_date: 2000-13-01}", 28, "min_date must be a date YYYY-MM-DD"),
    (28, "      NOTES: {max_length: 5000}", 28, "at most 2000 characters"),
    (30, "    board: subitems", 30, "operation update_subitems: missing required key 'max_batch_size'"),
    (29, "  Update-Subitems:", 29, "names are lower case letters"),
    (30, "    max_batch_size: 1000\n    board: elsewhere", 31, "board must be 'items' or 'subitems'"),
    (32, "      Qyt: {min: 0}", 32, "did you mean 'Qty'"),
    (1, "board_id: 100\nboard_id: 101", 2, "duplicate key 'board_id' (first at line 1)"),
    (7, "  ORDER STATUS: {id: status_1, type: status", 8, "not valid YAML: expected ',' or '}'"),
    (7, "  ORDER STATUS: {id: status_1, type: status", 8, "while parsing a flow mapping that starts at line 7"),
]


@pytest.mark.parametrize(("line", "replacement", "reported", "message"), ERRORS)
def test_mistakes_are_reported_with_file_and_line(
    tmp_path: Path, line: int, replacement: str, reported: int, message: str
) -> None:
    path = _write(tmp_path, _edit(line, replacement))
    with pytest.raises(BoardMetadataError) as caught:
        load_board(path)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:{reported}: ") and message in p for p in problems), problems
    assert isinstance(caught.value, ConfigError)
    assert str(path) in str(caught.value)


def test_the_largest_64_bit_board_id_is_accepted(tmp_path: Path) -> None:
    board = load_board(_write(tmp_path, _edit(1, "board_id: 9223372036854775807")))
    assert board.board_id == 2**63 - 1


def test_all_problems_are_reported_at_once_without_echoes(tmp_path: Path) -> None:
    text = BASE.replace("nmae", "name").replace("name: Test Board", "nmae: Test Board")
    text = text.replace("{id: numbers3, type: numbers}", "{id: numbers3, tpye: numbers}")
    text = text.replace("ORDER STATUS: {id: status_1, type: status}", "ORDER STATUS: {id: status_1, type: stauts}")
    with pytest.raises(BoardMetadataError) as caught:
        load_board(_write(tmp_path, text))
    problems = [p.split(": ", 1)[1] for p in caught.value.problems]
    # One problem per mistake: the misspelt key is not also "missing", and the broken columns are
    # not reported again where the operation refers to them.
    assert problems == [
        "board file: unknown key 'nmae' (did you mean 'name'?)",
        "[ORDER STATUS]: unknown monday column type 'stauts' (did you mean 'status'?)",
        "column [ORDER QTY]: unknown key 'tpye' (did you mean 'type'?)",
    ]
    assert str(caught.value).startswith(f"{tmp_path / 'board.yaml'}: 3 problems in board metadata")


def test_missing_required_keys_are_named(tmp_path: Path) -> None:
    with pytest.raises(BoardMetadataError, match=r"board\.yaml:1: board file: missing required key 'staging_table'"):
        load_board(_write(tmp_path, "board_id: 1\nname: x\nitem_id_column: a\ncolumns: {A: {id: a, type: text}}\n"))


def test_subitem_operation_without_subitems_board(tmp_path: Path) -> None:
    text = (
        "\n".join(line for line in BASE.splitlines()[:11]) + "\noperations:\n  update_subitems: {max_batch_size: 5}\n"
    )
    with pytest.raises(BoardMetadataError, match="declares no subitems board"):
        load_board(_write(tmp_path, text))


@pytest.mark.parametrize(("text", "message"), [("", "the file is empty"), ("- a\n- b\n", "must be a mapping")])
def test_empty_or_non_mapping_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BoardMetadataError, match=message):
        load_board(_write(tmp_path, text))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_board(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_boards(tmp_path / "nope")


def test_load_boards_reports_every_file_and_duplicate_ids(tmp_path: Path) -> None:
    _write(tmp_path, BASE, "a.yaml")
    _write(tmp_path, BASE.replace("board_id: 200", "board_id: 300"), "b.yml")
    _write(tmp_path, _edit(2, "nmae: x"), "c.yaml")
    with pytest.raises(BoardMetadataError) as caught:
        load_boards(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "b.yml: board id 100 is also declared in" in text
    assert "c.yaml:2: board file: unknown key 'nmae'" in text


def test_yaml_1_1_booleans_stay_text(tmp_path: Path) -> None:
    # YAML 1.1 reads ON / Yes / No as booleans and 2024-01-01 as a date; labels must stay as written.
    text = BASE.replace("labels: [OPEN, DONE]", "labels: [ON, Yes, No, 2024-01-01]")
    board = load_board(_write(tmp_path, text))
    assert board.operation("update_items").rule_for("ORDER STATUS").labels == ("ON", "Yes", "No", "2024-01-01")  # type: ignore[union-attr]


def test_parse_board_names_its_source() -> None:
    with pytest.raises(BoardMetadataError, match=r"^<memory>: 1 problem"):
        parse_board(BASE.replace("name: Test Board", "name: ''"), source="<memory>")


def test_a_board_file_is_read_again_when_its_content_changes(tmp_path: Path) -> None:
    """Boards are kept per process by file name and content: the same file gives the same board without
    reading its YAML again, an edited one its new content."""
    path = tmp_path / "board.yaml"
    path.write_text(BASE, encoding="utf-8")
    first = load_board(path)
    assert load_board(path) is first
    path.write_text(BASE.replace("name: Test Board", "name: Test Board v2"), encoding="utf-8")
    edited = load_board(path)
    assert edited is not first and edited.name != first.name
