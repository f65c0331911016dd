"""Set-based validation checks a *plain* row by cheaper rules (validation.py, "Plain rows"): these tests
check that every row gets the same `validation_errors` from those rules as from the full ones, for rows
as staged and for rows edited by hand afterwards, and that a staged batch does take the cheaper rules.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import BoardMetadata, UpdateOperations
from pytest_opus.updates.validation import ValidationSql, _plain_row, build_validation_sql

ITEMS = "dbo.STG_MON_CustMasterSchedule"
ITEM_IDS = itertools.count(2 * 10**12)
#: Columns of each kind on the items board: allowed (with their rules), unmapped, read-only.
ALLOWED = ["AAG ORDER NUMBER", "ORDER STATUS", "ORDER QTY", "NOTES", "CUSTOMER CONTACT EMAIL",
           "CUSTOMER EX FACTORY DATE", "FINAL FOB (USD)", "PO NUMBER"]
REFUSED = ["AAG SEASON", "DIVISION", "TOTAL QTY SHIPPED"]
#: Text that could confuse a search for keys: quotes, the end of a key, null, NUL, other scripts.
TRICKY = ['":', '"ORDER QTY":', '":null', 'x":null}', "\\", '"', "\x00", "é", "日本", "\U0001f600", " ", "", "null"]
TEXT = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12), st.lists(st.sampled_from(TRICKY)).map("".join))
VALUE = st.one_of(
    st.none(), TEXT, st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from(["2025-01-31", "1999-12-31"]),
    st.sampled_from(["RECEIVED", " shipped ", "NOPE", "a@b.co", "not an email", "9" * 60]),
)
RECORD = st.dictionaries(st.sampled_from(ALLOWED + REFUSED), VALUE, max_size=6)
#: Edits made by hand after staging, which the cheaper rules must notice (and then leave to the full ones).
EDITS = st.sampled_from([
    None,
    "SET [DIVISION] = N'by hand'",  # a value without its key
    "SET [ORDER QTY] = 5",
    "SET update_fields = N'{\"NOTES\":\"x\"}'",  # a key without its value
    "SET update_fields = REPLACE(update_fields COLLATE Latin1_General_BIN2, N'}', N',\"AAG SEASON\":null}')",
    "SET update_fields = NULL",
    "SET update_fields = N'{}'",
])


@pytest.fixture(scope="module")
def ops(sandbox: SandboxTarget, board: BoardMetadata) -> UpdateOperations:
    return UpdateOperations(sandbox, board, user_id="plain-rows")


def both_ways(ops: UpdateOperations) -> tuple[ValidationSql, ValidationSql]:
    op = ops.board.operation("update_items")
    table = ops._tables[op.subitems]
    checks = ops.board.column_checks(op.name)
    board_id = ops.board.board_for(op.subitems).board_id
    return (build_validation_sql(op, checks, table, board_id),
            build_validation_sql(op, checks, table, board_id, plain_rows=False))


def marked(target: SandboxTarget, sql: ValidationSql, batch_id: str, rows: int) -> dict[int, Any]:
    """validation_errors of each row of the batch after `sql.mark` (before settling)."""
    target.execute(sql.mark, sql.mark_params(batch_id, rows))
    found = target.execute(f"SELECT stg_id, validation_errors FROM {ITEMS} WHERE update_batch_id = ?", [batch_id])
    return dict(found)


def plain_rows(target: SandboxTarget, ops: UpdateOperations, batch_id: str) -> int:
    """How many rows of the batch the cheaper rules check."""
    op = ops.board.operation("update_items")
    table = ops._tables[op.subitems]
    mapped = {c.staging_column.casefold(): c for c in ops.board.column_checks(op.name)}
    skip = table.context_columns | table.reserved
    columns = [c for c in table.table.columns if c.name.casefold() not in skip]
    allowed = [c for c in columns if (m := mapped.get(c.name.casefold())) and m.allowed and not m.read_only]
    refused = [c for c in columns if c not in allowed]
    condition = _plain_row(allowed, refused)
    row = target.execute(
        f"SELECT SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) FROM {ITEMS} WHERE update_batch_id = ?", [batch_id]
    )
    return int(row[0][0] or 0)


def stage(ops: UpdateOperations, records: list[dict[str, Any]]) -> str:
    for record in records:
        record["item_id"] = next(ITEM_IDS)
    return ops.stage_updates(records, "update_items").batch_id


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(RECORD, EDITS), min_size=1, max_size=8), duplicate=st.booleans())
def test_plain_and_full_rules_write_the_same_errors(
    sandbox: SandboxTarget, ops: UpdateOperations, rows: list[tuple[dict[str, Any], str | None]], duplicate: bool
) -> None:
    records = [dict(record) for record, _edit in rows]
    batch_id = stage(ops, records)
    if duplicate and len(records) > 1:  # an item id twice: a rule of every row, plain or not
        sandbox.execute(
            f"UPDATE {ITEMS} SET stg_monday_item_id = ? WHERE update_batch_id = ? AND stg_monday_item_id = ?",
            [records[0]["item_id"], batch_id, records[-1]["item_id"]],
        )
    for record, (_record, edit) in zip(records, rows, strict=True):
        if edit is not None:
            sandbox.execute(f"UPDATE {ITEMS} {edit} WHERE update_batch_id = ? AND stg_monday_item_id = ?",
                            [batch_id, record["item_id"]])
    plain, full = both_ways(ops)
    assert marked(sandbox, plain, batch_id, len(records)) == marked(sandbox, full, batch_id, len(records))


def test_a_staged_batch_takes_the_cheaper_rules(sandbox: SandboxTarget, ops: UpdateOperations) -> None:
    """Rows as staged are plain (unless a refused column holds a value, or a key has no value); rows
    edited by hand so that a key and its column disagree are not."""
    batch_id = stage(ops, [
        {"AAG ORDER NUMBER": "P-1", "ORDER STATUS": "SHIPPED", "ORDER QTY": 3},
        {"AAG ORDER NUMBER": 'quote " and ": inside', "NOTES": '{"ORDER QTY":1}'},
        {"AAG ORDER NUMBER": "P-3", "ORDER QTY": None},  # a key with JSON null: not plain
        {"AAG ORDER NUMBER": "P-4", "ORDER QTY": 2**70},  # a value bigint cannot hold: not plain
        {"AAG ORDER NUMBER": "P-5", "DIVISION": "x"},  # a refused column holding a value: full rules
    ])
    # values holding `":` make the count larger: such rows are checked by the full rules
    assert plain_rows(sandbox, ops, batch_id) == 1
    batch_id = stage(ops, [{"AAG ORDER NUMBER": f"Q-{n}", "ORDER STATUS": "RECEIVED"} for n in range(4)])
    assert plain_rows(sandbox, ops, batch_id) == 4
    sandbox.execute(f"UPDATE {ITEMS} SET [ORDER QTY] = 7 WHERE update_batch_id = ? AND [AAG ORDER NUMBER] = N'Q-0'",
                    [batch_id])
    sandbox.execute(f"UPDATE {ITEMS} SET update_fields = REPLACE(update_fields COLLATE Latin1_General_BIN2, N'}}', "
                    "N',\"NOTES\":\"n\"}') "
                    "WHERE update_batch_id = ? AND [AAG ORDER NUMBER] = N'Q-1'", [batch_id])
    assert plain_rows(sandbox, ops, batch_id) == 2
    result = ops.validate_staged_updates(batch_id)
    assert (result.valid, result.invalid) == (3, 1)
    assert result.reasons == {"NOTES: value does not fit nvarchar(max)": 1}


def test_a_column_with_a_default_is_searched_for_by_its_key(
    deployed: SandboxTarget, board: BoardMetadata
) -> None:
    """A business column with a default holds a value no staging wrote: its key is searched for, and rows
    stay plain (a column the board does not map, here)."""
    deployed.execute(f"ALTER TABLE {ITEMS} ADD [BENCH EXTRA] NVARCHAR(20) NULL CONSTRAINT DF_bench_extra DEFAULT N'd'")
    ops = UpdateOperations(deployed, board, user_id="plain-rows")
    batch_id = ops.stage_updates([
        {"item_id": 5_000_000_001, "AAG ORDER NUMBER": "D-1"},
        {"item_id": 5_000_000_002, "AAG ORDER NUMBER": "D-2", "BENCH EXTRA": "given"},
    ], "update_items").batch_id
    assert plain_rows(deployed, ops, batch_id) == 2
    plain, full = both_ways(ops)
    errors = marked(deployed, plain, batch_id, 2)
    assert errors == marked(deployed, full, batch_id, 2)
    assert sorted(errors.values()) == ["", ',"BENCH EXTRA: not a column of board 8446553051"']
