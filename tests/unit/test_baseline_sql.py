"""Checks on sql/baseline/: the pre-existing tables used to build the sandbox, and their sample data.

These tests need neither a database nor the embedded runner. They parse the files with sqlglot
(T-SQL dialect) and check the things SQL Server would reject when the files run there (a value
longer than its column, a NOT NULL column left out, more than 1000 rows in one VALUES list), the
narrow subset the embedded runner accepts, and that the generated sample data is up to date.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

BASELINE = Path(__file__).resolve().parents[2] / "sql" / "baseline"
GENERATOR = BASELINE / "make_sample_data.py"
SAMPLE = BASELINE / "030_sample_data.sql"
EXPECTED_FILES = ["010_staging_tables.sql", "020_board_mirror.sql", "030_sample_data.sql"]

STAGING = "STG_MON_CustMasterSchedule"
STAGING_SUB = "STG_MON_CustMasterSchedule_Subitems"
MIRROR = "MON_CustMasterSchedule"
MIRROR_SUB = "MON_CustMasterSchedule_Subitems"

ORDER_STATUSES = {"RECEIVED", "IN PRODUCTION", "SHIPPED", "CANCELLED", "ON HOLD"}
ALLOWED_TYPES = {
    "INT",
    "BIGINT",
    "DECIMAL",
    "NVARCHAR",
    "VARCHAR",
    "DATE",
    "DATETIME2",
    "BIT",
    "UNIQUEIDENTIFIER",
}
GO_LINE = re.compile(r"^[ \t]*GO[ \t]*$", re.IGNORECASE | re.MULTILINE)


# --------------------------------------------------------------------------- parsing helpers


@dataclass(frozen=True)
class Col:
    name: str
    type: str  # upper case base type, e.g. NVARCHAR
    params: tuple[str, ...]  # ("200",), ("MAX",), ("18", "4") or ()
    nullable: bool
    identity: bool
    primary_key: str | None  # constraint name
    default: exp.Expression | None  # the expression inside DEFAULT ( ... )
    default_name: str | None


@dataclass(frozen=True)
class Statement:
    file: str
    line: int  # first line of the statement in its file
    text: str
    tree: exp.Expression


def _strip_comments(text: str) -> str:
    """Drop ``--`` comments; the baseline files have no ``--`` inside string literals."""
    return "\n".join(line.split("--", 1)[0] for line in text.splitlines())


def split_batches(text: str) -> list[tuple[int, str]]:
    """(first line number, batch text) for each batch, split on lines holding only GO."""
    batches: list[tuple[int, str]] = []
    start, line_no = 0, 1
    for match in GO_LINE.finditer(text):
        batches.append((line_no, text[start : match.start()]))
        line_no += text.count("\n", start, match.end())
        start = match.end()
    batches.append((line_no, text[start:]))
    return batches


@cache
def statements(name: str) -> tuple[Statement, ...]:
    text = (BASELINE / name).read_text(encoding="utf-8")
    found: list[Statement] = []
    for line_no, batch in split_batches(text):
        code = _strip_comments(batch).strip()
        if not code:
            continue
        assert code.endswith(";"), f"{name}:{line_no}: batch does not end with ';'"
        trees = [t for t in sqlglot.parse(code, read="tsql") if isinstance(t, exp.Expression)]
        assert len(trees) == 1, f"{name}:{line_no}: expected one statement per batch, got {len(trees)}"
        found.append(Statement(name, line_no, code, trees[0]))
    return tuple(found)


def all_statements() -> list[Statement]:
    return [s for name in EXPECTED_FILES for s in statements(name)]


def _column(cd: exp.ColumnDef) -> Col:
    kind = cd.args["kind"]
    type_name = kind.this.name  # sqlglot's type, e.g. INT; sql() would print INTEGER / NUMERIC
    if type_name == "UUID":
        type_name = "UNIQUEIDENTIFIER"
    params = tuple(p.sql("tsql").upper() for p in kind.expressions)
    nullable, identity, pk, default, default_name = True, False, None, None, None
    for constraint in cd.constraints:
        ck = constraint.kind
        if isinstance(ck, exp.NotNullColumnConstraint):
            nullable = bool(ck.args.get("allow_null"))
        elif isinstance(ck, exp.GeneratedAsIdentityColumnConstraint):
            identity = True
        elif isinstance(ck, exp.PrimaryKeyColumnConstraint):
            pk = constraint.name or None
        elif isinstance(ck, exp.DefaultColumnConstraint):
            default, default_name = ck.this, constraint.name or None
        else:
            raise AssertionError(f"unexpected constraint on {cd.name}: {constraint.sql('tsql')}")
    if pk is not None:
        nullable = False
    return Col(cd.name, type_name, params, nullable, identity, pk, default, default_name)


@cache
def tables() -> dict[str, dict[str, Col]]:
    """Table name (without schema) -> column name -> Col, for every CREATE TABLE in the baseline."""
    result: dict[str, dict[str, Col]] = {}
    for stmt in all_statements():
        if isinstance(stmt.tree, exp.Create):
            table = stmt.tree.this.this
            cols = [_column(cd) for cd in stmt.tree.this.expressions]
            result[table.name] = {c.name: c for c in cols}
    return result


def _value(node: exp.Expression) -> object:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.National):
        return node.name  # sqlglot has already undone the '' escaping
    if isinstance(node, exp.Literal):
        return ("str", node.name) if node.is_string else Decimal(node.name)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return -Decimal(node.this.name)
    raise AssertionError(f"value outside the literal subset: {node.sql('tsql')}")


@cache
def inserted_rows() -> dict[str, list[dict[str, object]]]:
    """Table -> rows inserted by the sample data (N'..' -> str, '..' -> ("str", text), numbers -> Decimal)."""
    rows: dict[str, list[dict[str, object]]] = {}
    for stmt in statements("030_sample_data.sql"):
        if not isinstance(stmt.tree, exp.Insert):
            continue
        table = stmt.tree.this.this.name
        columns = [c.name for c in stmt.tree.this.expressions]
        for tup in stmt.tree.expression.expressions:
            values = [_value(v) for v in tup.expressions]
            assert len(values) == len(columns), f"{stmt.file}:{stmt.line}: row width differs from column list"
            rows.setdefault(table, []).append(dict(zip(columns, values, strict=True)))
    return rows


def business_columns(table: str) -> list[str]:
    return [name for name in tables()[table] if " " in name]


# --------------------------------------------------------------------------- files and generator


def test_baseline_holds_the_expected_files() -> None:
    assert sorted(p.name for p in BASELINE.glob("*.sql")) == EXPECTED_FILES


def _generate(out: Path, cwd: Path) -> bytes:
    # -I -S: isolated mode without site-packages, so the generator must stay standard-library only
    subprocess.run(
        [sys.executable, "-I", "-S", str(GENERATOR), "--output", str(out)],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out.read_bytes()


def test_generator_is_deterministic_and_committed_file_is_current(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a.sql", cwd=tmp_path)
    second = _generate(tmp_path / "b.sql", cwd=BASELINE)
    assert first == second, "two runs of make_sample_data.py wrote different bytes"
    assert SAMPLE.read_bytes() == first, (
        "sql/baseline/030_sample_data.sql is stale: run `python sql/baseline/make_sample_data.py`"
    )


def test_files_are_utf8_with_unix_newlines_and_no_bom() -> None:
    for name in EXPECTED_FILES:
        raw = (BASELINE / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        assert b"\r" not in raw, name
        raw.decode("utf-8")


# --------------------------------------------------------------------------- the runner subset


def test_only_create_table_insert_and_set_nocount() -> None:
    for stmt in all_statements():
        where = f"{stmt.file}:{stmt.line}"
        tree = stmt.tree
        if isinstance(tree, exp.Create):
            assert tree.kind == "TABLE", where
            assert stmt.file != "030_sample_data.sql", where
        elif isinstance(tree, exp.Insert):
            assert isinstance(tree.this, exp.Schema), f"{where}: INSERT must list its columns"
            assert isinstance(tree.expression, exp.Values), f"{where}: only INSERT ... VALUES"
        elif isinstance(tree, exp.Set):
            assert re.fullmatch(r"SET\s+NOCOUNT\s+ON\s*;", stmt.text, re.IGNORECASE), where
        else:
            raise AssertionError(f"{where}: statement outside the baseline subset: {stmt.text[:80]}")


def test_every_create_table_parses_on_its_own() -> None:
    creates = [s for s in all_statements() if isinstance(s.tree, exp.Create)]
    assert len(creates) == 4
    for stmt in creates:
        tree = sqlglot.parse_one(stmt.text, read="tsql")
        assert isinstance(tree, exp.Create) and tree.kind == "TABLE"
        table = tree.this.this
        assert table.db == "dbo", f"{stmt.file}:{stmt.line}: table not schema-qualified with dbo"
        assert all(isinstance(e, exp.ColumnDef) for e in tree.this.expressions), (
            f"{stmt.file}:{stmt.line}: only column definitions, no table-level constraints"
        )


def test_column_types_and_constraints_stay_in_the_subset() -> None:
    for table, cols in tables().items():
        pks = [c for c in cols.values() if c.primary_key]
        assert len(pks) == 1 and pks[0].primary_key == f"PK_{table}", table
        for col in cols.values():
            where = f"{table}.{col.name}"
            assert col.type in ALLOWED_TYPES, where
            if col.type in ("NVARCHAR", "VARCHAR"):
                assert len(col.params) == 1 and (col.params[0] == "MAX" or col.params[0].isdigit()), where
            if col.identity:
                assert col.primary_key and col.type == "BIGINT", where
            if col.default is not None:
                assert col.default_name == f"DF_{table}_{col.name}", f"{where}: default constraint name"
                assert isinstance(col.default, exp.Paren), f"{where}: default not in parentheses"
                inner = col.default.this
                assert isinstance(inner, exp.National | exp.Literal | exp.Uuid | exp.CurrentTimestamp) or (
                    isinstance(inner, exp.Anonymous) and inner.name.upper() == "GETUTCDATE"
                ), f"{where}: default {col.default.sql('tsql')} outside the subset"


# --------------------------------------------------------------------------- table shapes


STAGING_COLUMNS = {
    # name: (type, params, nullable, default as T-SQL)
    "stg_batch_id": ("UNIQUEIDENTIFIER", (), False, "(NEWID())"),
    "stg_customer_batch": ("NVARCHAR", ("100",), True, None),
    "stg_status": ("NVARCHAR", ("50",), True, "(N'PENDING')"),
    "stg_monday_item_id": ("BIGINT", (), True, None),
    "stg_error_message": ("NVARCHAR", ("MAX",), True, None),
    "stg_api_payload": ("NVARCHAR", ("MAX",), True, None),
    "stg_retry_count": ("INT", (), True, "(0)"),
    "stg_created_date": ("DATETIME2", (), True, "(GETDATE())"),
    "stg_processed_date": ("DATETIME2", (), True, None),
}


def _shape(col: Col) -> tuple[str, tuple[str, ...], bool, str | None]:
    return (col.type, col.params, col.nullable, None if col.default is None else col.default.sql("tsql"))


def test_staging_table_has_board_columns_and_staging_columns() -> None:
    cols = tables()[STAGING]
    business = business_columns(STAGING)
    assert len(business) >= 25
    for name in (
        "AAG ORDER NUMBER",
        "PO NUMBER",
        "CUSTOMER'S ALT PO",
        "FINAL FOB (USD)",
        "USA ONLY LSTP 75% EX WORKS",
        "FINAL PRICES Y/N",
        "ALIAS/RE-BRANDED STYLE",
    ):
        assert name in cols
    assert _shape(cols["ORDER QTY"])[:2] == ("BIGINT", ())
    assert _shape(cols["FINAL FOB (USD)"])[:2] == ("DECIMAL", ("18", "4"))
    assert _shape(cols["CUSTOMER EX FACTORY DATE"])[:2] == ("DATE", ())
    assert _shape(cols["Item ID"])[:2] == ("BIGINT", ())
    business_nullable = [c.nullable for c in cols.values() if not c.name.startswith("stg_")]
    assert all(business_nullable), "business columns are all nullable"

    stg = cols["stg_id"]
    assert (stg.type, stg.identity, stg.nullable, stg.primary_key) == (
        "BIGINT",
        True,
        False,
        "PK_STG_MON_CustMasterSchedule",
    )
    for name, shape in STAGING_COLUMNS.items():
        assert _shape(cols[name]) == shape, name
    assert sorted(n for n in cols if n.startswith("stg_")) == sorted([*STAGING_COLUMNS, "stg_id"])


def test_subitems_table_has_not_null_columns_without_defaults() -> None:
    cols = tables()[STAGING_SUB]
    assert 28 <= len(cols) <= 34
    assert _shape(cols["ORDER_QTY"]) == ("INT", (), False, None)
    assert _shape(cols["Size"]) == ("NVARCHAR", ("20",), False, None)
    assert _shape(cols["stg_batch_id"]) == ("NVARCHAR", ("36",), False, None)
    assert cols["stg_id"].identity and cols["stg_id"].primary_key == f"PK_{STAGING_SUB}"
    assert _shape(cols["stg_status"]) == ("NVARCHAR", ("50",), True, "(N'PENDING')")
    for name in (
        "stg_parent_stg_id",
        "stg_monday_subitem_id",
        "stg_monday_parent_item_id",
        "stg_monday_subitem_board_id",
        "Item ID",
        "Parent Item ID",
    ):
        assert _shape(cols[name]) == ("BIGINT", (), True, None), name
    for name in ("Order Qty", "Shipped Qty", "Packed Qty", "Cut Qty", "Sew Qty", "Finishing Qty"):
        assert _shape(cols[name]) == ("INT", (), True, None), name
    assert _shape(cols["ORDER LINE STATUS"]) == ("NVARCHAR", ("100",), True, None)
    not_null = sorted(
        c.name for c in cols.values() if not c.nullable and c.default is None and not c.identity
    )
    assert not_null == ["ORDER_QTY", "Size", "stg_batch_id"]


def test_mirror_has_the_staging_business_columns() -> None:
    mirror, staging = tables()[MIRROR], tables()[STAGING]
    item = mirror["Item ID"]
    assert (item.type, item.nullable, item.primary_key) == ("BIGINT", False, f"PK_{MIRROR}")
    expected = {n: _shape(c) for n, c in staging.items() if not n.startswith("stg_") and n != "Item ID"}
    actual = {n: _shape(c) for n, c in mirror.items() if n not in ("Item ID", "Name", "synced_at")}
    assert actual == expected
    assert list(mirror)[:2] == ["Item ID", "Name"] and list(mirror)[-1] == "synced_at"
    assert mirror["synced_at"].type == "DATETIME2" and mirror["synced_at"].default is not None

    sub = tables()[MIRROR_SUB]
    assert list(sub) == [
        "Item ID",
        "Parent Item ID",
        "Name",
        "Size",
        "Order Qty",
        "Shipped Qty",
        "Packed Qty",
        "ORDER LINE STATUS",
        "synced_at",
    ]
    assert sub["Item ID"].primary_key == f"PK_{MIRROR_SUB}"


# --------------------------------------------------------------------------- sample data


def test_values_lists_have_at_most_1000_rows() -> None:
    inserts = [s for s in statements("030_sample_data.sql") if isinstance(s.tree, exp.Insert)]
    assert inserts
    for stmt in inserts:
        assert 1 <= len(stmt.tree.expression.expressions) <= 1000, f"{stmt.file}:{stmt.line}"


def _check_value(where: str, col: Col, value: object) -> None:
    if value is None:
        assert col.nullable or col.default is not None, f"{where}: NULL into NOT NULL column"
        return
    if col.type in ("NVARCHAR", "VARCHAR"):
        assert isinstance(value, str), f"{where}: expected an N'...' string, got {value!r}"
        if col.params[0] != "MAX":
            assert len(value) <= int(col.params[0]), f"{where}: {value!r} longer than {col.params[0]}"
    elif col.type in ("INT", "BIGINT"):
        assert isinstance(value, Decimal) and value == value.to_integral_value(), f"{where}: {value!r}"
        limit = 2**31 if col.type == "INT" else 2**63
        assert -limit <= value < limit, f"{where}: {value} out of range"
    elif col.type == "DECIMAL":
        precision, scale = int(col.params[0]), int(col.params[1])
        assert isinstance(value, Decimal), f"{where}: {value!r}"
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int), f"{where}: {value}"
        assert -exponent <= scale, f"{where}: {value} has more than {scale} decimals"
        assert abs(value) < Decimal(10) ** (precision - scale), f"{where}: {value} too large"
    elif col.type in ("DATE", "DATETIME2"):
        assert isinstance(value, tuple), f"{where}: dates are plain '...' literals, got {value!r}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value[1]), f"{where}: {value!r}"
        try:
            date.fromisoformat(value[1])
        except ValueError as error:
            raise AssertionError(f"{where}: {value[1]!r} is not a date: {error}") from None
    elif col.type == "UNIQUEIDENTIFIER":
        assert isinstance(value, tuple), f"{where}: {value!r}"
        assert str(uuid.UUID(value[1])).upper() == value[1].upper(), f"{where}: {value!r}"
    else:
        raise AssertionError(f"{where}: no sample values expected for {col.type}")


def test_inserted_values_fit_their_columns() -> None:
    for table, rows in inserted_rows().items():
        cols = tables()[table]
        for n, row in enumerate(rows):
            where = f"{table} row {n + 1}"
            for name, value in row.items():
                assert name in cols, f"{where}: no column {name!r}"
                assert not cols[name].identity, f"{where}: value for IDENTITY column {name}"
                _check_value(f"{where} [{name}]", cols[name], value)
            missing = [
                c.name
                for c in cols.values()
                if not c.nullable and c.default is None and not c.identity and c.name not in row
            ]
            assert not missing, f"{where}: NOT NULL columns without a value: {missing}"


def test_every_staged_order_has_a_mirror_row() -> None:
    rows = inserted_rows()
    mirror = {r["Item ID"]: r for r in rows[MIRROR]}
    staging = rows[STAGING]
    assert len(staging) == len(mirror) == 300
    assert len({r["Item ID"] for r in staging}) == 300
    for row in staging:
        assert row["stg_monday_item_id"] == row["Item ID"]
        assert row["stg_status"] == "PROCESSED"
        board = mirror[row["Item ID"]]
        shared = [k for k in row if not k.startswith("stg_")]
        assert {k: row[k] for k in shared} == {k: board[k] for k in shared}

    mirror_subs = {r["Item ID"]: r for r in rows[MIRROR_SUB]}
    staging_subs = rows[STAGING_SUB]
    assert len(mirror_subs) == len(staging_subs)
    for sub in staging_subs:
        assert sub["Parent Item ID"] == sub["stg_monday_parent_item_id"]
        assert sub["Parent Item ID"] in mirror
        assert sub["stg_monday_subitem_id"] == sub["Item ID"]
        assert mirror_subs[sub["Item ID"]]["Parent Item ID"] == sub["Parent Item ID"]
        assert sub["ORDER_QTY"] == sub["Order Qty"] and sub["Size"] == sub["Name"]
        assert len(sub["stg_batch_id"]) == 36  # type: ignore[arg-type]


def test_sample_orders_look_like_the_board() -> None:
    rows = inserted_rows()
    staging = rows[STAGING]
    assert {r["ORDER STATUS"] for r in staging} == ORDER_STATUSES
    assert {r["FINAL PRICES Y/N"] for r in staging} == {"Y", "N"}
    assert {"GREYSON", "TITLEIST", "PETER MILLAR"} <= {r["CUSTOMER"] for r in staging}
    assert all(8_000_000_000 <= r["Item ID"] < 9_000_000_000 for r in staging)  # type: ignore[operator]
    assert all(9_000_000_000 <= r["Item ID"] < 10_000_000_000 for r in rows[STAGING_SUB])  # type: ignore[operator]

    texts = [v for r in staging for v in r.values() if isinstance(v, str)]
    assert any("'" in t for t in texts), "some values should carry an apostrophe"
    assert any("Café Crème" in t for t in texts), "some values should carry non-ASCII text"
    assert any(r["NOTES"] is None for r in staging) and any(r["NOTES"] is not None for r in staging)

    per_order: dict[object, list[dict[str, object]]] = {}
    for sub in rows[STAGING_SUB]:
        per_order.setdefault(sub["Parent Item ID"], []).append(sub)
    assert set(per_order) == {r["Item ID"] for r in staging}
    for order in staging:
        subs = per_order[order["Item ID"]]
        assert 3 <= len(subs) <= 6
        assert len({s["Size"] for s in subs}) == len(subs)
        assert order["ORDER QTY"] == sum(s["Order Qty"] for s in subs)  # type: ignore[misc]
        shipped = [s["Shipped Qty"] for s in subs if s["Shipped Qty"] is not None]
        assert order["TOTAL QTY SHIPPED"] == (sum(shipped) if shipped else None)  # type: ignore[arg-type]


@pytest.mark.parametrize("table", [STAGING, STAGING_SUB])
def test_staging_batches_are_guid_strings(table: str) -> None:
    for row in inserted_rows()[table]:
        batch = row["stg_batch_id"]
        text = batch[1] if isinstance(batch, tuple) else batch
        assert isinstance(text, str) and str(uuid.UUID(text)).upper() == text
