"""A hypothesis state machine over deploy, staging, rollback_batch, schema rollback, restore, adopt and redeploy.

Each example starts from a private copy of one of three databases (the baseline; an older
deployment, tests/data/older_deployment.sql, with or without values in a few rows' update columns
and old audit rows; the same with the upstream audit index name) and then runs a random sequence of:
deploy (a first deploy or a redeploy), stage a batch of 5 rows (and maybe validate and process it
at once), validate, process (dry run), rollback_batch, the schema rollback, restore (maybe after a
redeploy) and adopt. Scripts run as the tool runs them (`run_recorded`: recorded, one transaction
each). The compound steps, and preconditions that skip steps with nothing to do (a rollback with
nothing owned, a restore with nothing backed up), let 15 examples reach the deep states: a
mutation of the scripts that skips a backup or a restore is caught by the random machine, and
always by the fixed sequences at the end, which run the same machine along the paths that matter.

After every schema step (deploy, rollback, restore, adopt) the invariants hold:
- every non-NULL value of an update column, and every audit row, that existed just before the step
  is still in place, or is in a backup row (OPUS_BackupValue / OPUS_BackupAudit) of the run that
  removed it; no backup row is ever lost or altered (a restore only marks it restored);
- a successful restore puts that rollback's backups back where their row exists and the cell was
  empty (and marks them); a restore that cannot (the columns or the audit table are missing) fails
  and changes nothing but its own failed run row;
- a rollback removes every object the ledger owns (created or adopted) and none that it lists as
  found; board_id (never the tool's) and its values stay; MON_UpdateAudit never has two indexes on
  batch_id.
A library call that refuses (a batch in the wrong state, or unknown after a rollback) changes nothing.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pytest_opus.catalog import Catalog
from pytest_opus.errors import ConfigError
from pytest_opus.ledger import LedgerObject, RecordedRun, read_ledger, run_recorded
from pytest_opus.targets.base import Target
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.updates import BoardMetadata, UpdateOperations
from pytest_opus.updates.operations import BatchError
from pytest_opus.updates.staging import UPDATE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DEPLOY, ROLLBACK, RESTORE, ADOPT = (SQL / f"{name}_opus_update_boards.sql"
                                    for name in ("deploy", "rollback", "restore", "adopt"))
OLDER = ROOT / "tests" / "data" / "older_deployment.sql"
ITEMS, SUBITEMS = "STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems"
AUDIT = "dbo.MON_UpdateAudit"
AUDIT_COLUMNS = ("audit_id", "batch_id", "update_operation", "monday_item_id", "monday_board_id", "column_id",
                 "old_value", "new_value", "update_timestamp", "rollback_timestamp", "rollback_reason", "user_id",
                 "source_system", "api_response_id", "error_message")
UPSTREAM_INDEX = ("DROP INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit;\n"
                  "CREATE INDEX IX_MON_UpdateAudit_BatchId ON dbo.MON_UpdateAudit (batch_id)")
STARTS = ("baseline", "older deployment", "upstream index names")

# Values a DBA's rows may hold: quotes, trailing blanks, the empty string, accents (VARCHAR and NVARCHAR alike).
VALUE = st.text(alphabet="abcXYZ019 -'\"é{}:", max_size=12)


# -- what the invariants compare -------------------------------------------------------------------

Cell = tuple[str, int, str]  # (staging table, stg_id, column), names lower-case


@dataclass(frozen=True)
class State:
    """The parts of a database the invariants look at."""

    catalog: Catalog
    values: dict[Cell, str]  # every non-NULL value of an update column
    rows: dict[str, frozenset[int]]  # staging table -> its stg_ids
    board_ids: dict[tuple[str, int], Any]  # (staging table, stg_id) -> non-NULL board_id
    audit: dict[int, tuple[Any, ...]]  # audit_id -> the row, in AUDIT_COLUMNS order
    backup_values: dict[int, tuple[int, Cell, str, int | None]]  # backup_id -> (run, cell, value, restored by)
    backup_audit: dict[tuple[int, int], tuple[tuple[Any, ...], int | None]]  # (run, audit_id) -> (row, restored by)
    objects: tuple[LedgerObject, ...]

    def pending_source(self) -> int | None:
        """The rollback run a restore without --run picks: the latest with a backup not restored."""
        runs = [run for run, _cell, _value, by in self.backup_values.values() if by is None]
        runs += [run for (run, _audit_id), (_row, by) in self.backup_audit.items() if by is None]
        return max(runs, default=None)


def read_state(target: Target) -> State:
    catalog = target.catalog()
    values: dict[Cell, str] = {}
    rows: dict[str, frozenset[int]] = {}
    board_ids: dict[tuple[str, int], Any] = {}
    for name in (ITEMS, SUBITEMS):
        table = catalog.table(f"dbo.{name}")
        assert table is not None
        present = [c for c in UPDATE_COLUMNS if table.column(c) is not None]
        extra = ["board_id"] if table.column("board_id") is not None else []
        selected = ", ".join(["stg_id", *present, *extra])
        ids = set()
        for row in target.execute(f"SELECT {selected} FROM dbo.{name}"):
            ids.add(row[0])
            for column, value in zip(present, row[1:], strict=False):
                if value is not None:
                    values[(name.lower(), row[0], column)] = value
            if extra and row[-1] is not None:
                board_ids[(name.lower(), row[0])] = row[-1]
        rows[name.lower()] = frozenset(ids)
    audit = {}
    if catalog.table(AUDIT) is not None:
        audit = {r[0]: tuple(r) for r in target.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {AUDIT}")}
    backup_values: dict[int, tuple[int, Cell, str, int | None]] = {}
    backup_audit: dict[tuple[int, int], tuple[tuple[Any, ...], int | None]] = {}
    if catalog.table("dbo.OPUS_BackupValue") is not None:
        for backup_id, run, table_name, key, column, value, by in target.execute(
                "SELECT backup_id, run_id, table_name, row_key, column_name, value, restored_run_id "
                "FROM dbo.OPUS_BackupValue"):
            backup_values[backup_id] = (run, (table_name.lower(), key, column.lower()), value, by)
        for row in target.execute(f"SELECT run_id, {', '.join(AUDIT_COLUMNS)}, restored_run_id "
                                  "FROM dbo.OPUS_BackupAudit"):
            backup_audit[(row[0], row[1])] = (tuple(row[1:-1]), row[-1])
    return State(catalog, values, rows, board_ids, audit, backup_values, backup_audit, read_ledger(target).objects)


def everything(target: Target) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for "nothing changed" (the catalog is compared on its own)."""
    rows = {}
    for name, table in target.catalog().tables.items():
        rows[name] = sorted((tuple(r) for r in target.execute(f"SELECT * FROM [{table.schema}].[{table.name}]")),
                            key=repr)
    return rows


def present(catalog: Catalog, obj: LedgerObject) -> bool:
    """Whether the object a ledger row names exists in the catalog."""
    if obj.object_type == "TABLE":
        return catalog.table(f"{obj.schema}.{obj.name}") is not None
    if obj.object_type == "VIEW":
        return catalog.view(f"{obj.schema}.{obj.name}") is not None
    if obj.object_type == "PROCEDURE":
        return catalog.procedure(f"{obj.schema}.{obj.name}") is not None
    table = catalog.table(f"{obj.schema}.{obj.table}")
    if table is None:
        return False
    if obj.object_type == "COLUMN":
        return table.column(obj.name) is not None
    if obj.object_type == "INDEX":
        return table.index(obj.name) is not None
    if obj.object_type == "DEFAULT":
        return any((c.default_name or "").lower() == obj.name.lower() for c in table.columns)
    raise AssertionError(f"unknown object type in the ledger: {obj}")


# -- the invariants --------------------------------------------------------------------------------


def check_nothing_lost(before: State, after: State, run_id: int | None, step: str) -> None:
    """Every value and audit row of `before` is in place in `after`, or in a backup of `run_id`."""
    backed = {cell: value for run, cell, value, _by in after.backup_values.values() if run == run_id}
    lost = [(cell, value) for cell, value in before.values.items()
            if after.values.get(cell) != value and backed.get(cell) != value]
    assert not lost, f"{step} (run {run_id}) lost {len(lost)} value(s), e.g. {lost[:3]}"
    backed_audit = {audit_id: row for (run, audit_id), (row, _by) in after.backup_audit.items() if run == run_id}
    lost_audit = [audit_id for audit_id, row in before.audit.items()
                  if after.audit.get(audit_id) != row and backed_audit.get(audit_id) != row]
    assert not lost_audit, f"{step} (run {run_id}) lost the audit rows {lost_audit}"
    # backups are the record: never removed or altered; only a restore marks them restored, by its run
    for backup_id, (run, cell, value, by) in before.backup_values.items():
        now = after.backup_values.get(backup_id)
        assert now is not None and now[:3] == (run, cell, value), f"{step} altered backup {backup_id}"
        assert now[3] == by or (by is None and now[3] == run_id and step == "restore"), (step, backup_id, now)
    for key, (row, by) in before.backup_audit.items():
        now_audit = after.backup_audit.get(key)
        assert now_audit is not None and now_audit[0] == row, f"{step} altered the audit backup {key}"
        assert now_audit[1] == by or (by is None and now_audit[1] == run_id and step == "restore"), (step, key)
    # the pre-existing board_id column is never the tool's
    assert board_id_columns(after.catalog) == board_id_columns(before.catalog), f"{step} removed board_id"
    assert after.board_ids == before.board_ids, f"{step} changed board_id values"


def board_id_columns(catalog: Catalog) -> dict[str, bool]:
    """Per staging table, whether it has board_id (added by an older deployment, never by this tool)."""
    tables = {name: catalog.table(f"dbo.{name}") for name in (ITEMS, SUBITEMS)}
    return {name: table is not None and table.column("board_id") is not None for name, table in tables.items()}


def check_audit_indexes(catalog: Catalog, step: str) -> None:
    audit = catalog.table(AUDIT)
    if audit is not None:
        on_batch = [i.name for i in audit.indexes if [c.lower() for c in i.columns] == ["batch_id"]]
        assert len(on_batch) <= 1, f"after {step}: duplicate indexes on MON_UpdateAudit(batch_id): {on_batch}"


def check_rollback(before: State, after: State, run_id: int | None) -> None:
    """An unscoped rollback removed everything the ledger owns, marked with its run, and nothing found."""
    found = {(o.object_type, o.schema, o.table, o.name) for o in after.objects if o.ownership == "found"}
    for obj in after.objects:
        if obj.ownership == "found":
            assert obj.removed_run_id is None, f"rollback marked a found object removed: {obj}"
            if present(before.catalog, obj):
                assert present(after.catalog, obj), f"rollback removed a found object: {obj}"
        elif obj.removed_run_id is None:
            raise AssertionError(f"rollback (run {run_id}) left an owned object: {obj}")
        elif obj.removed_run_id == run_id and (obj.object_type, obj.schema, obj.table, obj.name) not in found:
            assert not present(after.catalog, obj), f"the ledger says run {run_id} removed {obj}, yet it is there"


def check_restored(before: State, after: State, run_id: int | None) -> None:
    """The backups of the rollback a restore picked are back where the row exists and the cell was empty."""
    source = before.pending_source()
    for backup_id, (run, cell, value, by) in before.backup_values.items():
        if run != source or by is not None:
            continue
        table, key, _column = cell
        restored_by = after.backup_values[backup_id][3]
        if key not in before.rows[table] or before.values.get(cell, value) != value:
            # the row is gone, or the cell holds another value: a conflict, kept in the backup
            assert restored_by is None and after.values.get(cell) == before.values.get(cell), (cell, value)
        else:
            assert after.values.get(cell) == value, f"restore did not put back {cell} = {value!r}"
            assert restored_by == run_id, f"backup {backup_id} restored but not marked with run {run_id}"
    for (run, audit_id), (row, by) in before.backup_audit.items():
        if run != source or by is not None:
            continue
        restored_by = after.backup_audit[(run, audit_id)][1]
        if audit_id in before.audit:  # the audit_id is taken: a conflict, kept in the backup
            assert restored_by is None and after.audit[audit_id] == before.audit[audit_id]
        else:
            assert after.audit.get(audit_id) == row, f"restore did not put back audit row {audit_id}"
            assert restored_by == run_id


def restore_should_fail(state: State) -> bool:
    """Whether a restore must refuse: the picked rollback's backups need a column or table that is missing."""
    source = state.pending_source()
    if source is None:
        return False
    for run, (table, _key, column), _value, by in state.backup_values.values():
        found = state.catalog.table(f"dbo.{table}")
        if run == source and by is None and (found is None or found.column(column) is None):
            return True
    pending_audit = any(run == source and by is None for (run, _id), (_row, by) in state.backup_audit.items())
    return pending_audit and state.catalog.table(AUDIT) is None


# -- the machine -----------------------------------------------------------------------------------


class RollbackMachine(RuleBasedStateMachine):
    """Set by the test: the prebuilt start files, the board, and where the example copies go."""

    starts: dict[str, Path]
    board: BoardMetadata
    directory: Path
    counter = itertools.count()

    batches = Bundle("batches")

    def __init__(self) -> None:
        super().__init__()
        self.target: SandboxTarget | None = None
        self.ops: UpdateOperations | None = None

    # -- start --------------------------------------------------------------------------------
    @initialize(start=st.sampled_from(STARTS),
                writes=st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), VALUE, VALUE), max_size=4),
                old_audit_rows=st.integers(0, 2))
    def start(self, start: str, writes: list[tuple[bool, int, str, str]], old_audit_rows: int) -> None:
        path = self.directory / f"example-{next(self.counter)}.sqlite"
        shutil.copyfile(self.starts[start], path)
        self.target = SandboxTarget(path)
        # a disposable copy: durability is not under test, and a sync per commit would double the run time
        self.target.driver.connection.execute("PRAGMA synchronous = OFF")
        if start != "baseline":
            for subitems, pick, batch_id, fields in writes:
                table = SUBITEMS if subitems else ITEMS
                ids = [r[0] for r in self.db.execute(f"SELECT stg_id FROM dbo.{table} ORDER BY stg_id")]
                self.db.execute(f"UPDATE dbo.{table} SET update_batch_id = ?, update_fields = ?, board_id = ? "
                                "WHERE stg_id = ?", (batch_id, fields, 8446553060 + pick % 7, ids[pick % len(ids)]))
            for n in range(old_audit_rows):
                self.db.execute(f"INSERT INTO {AUDIT} (batch_id, update_operation, monday_item_id, old_value, "
                                "new_value) VALUES ('OLD-1', 'UPDATE', ?, N'a', N'b')", (n,))
        self.board_id_columns = board_id_columns(self.db.catalog())
        self._refresh_ops(read_state(self.db))

    def teardown(self) -> None:
        if self.target is not None:
            self.target.close()
            path = self.target.path
            assert path is not None
            path.unlink(missing_ok=True)
            Path(f"{path}.opus-lock").unlink(missing_ok=True)

    @property
    def db(self) -> SandboxTarget:
        assert self.target is not None
        return self.target

    def _refresh_ops(self, state: State) -> None:
        """What the next steps may do: the library where its objects exist, and which scripts have work."""
        self.has_ledger = state.catalog.table("dbo.OPUS_DeploymentObject") is not None
        live = [o for o in state.objects if o.removed_run_id is None]
        self.owned = any(o.ownership in ("created", "adopted") for o in live)
        self.found = any(o.ownership == "found" for o in live)
        self.pending = state.pending_source() is not None
        try:
            self.ops = UpdateOperations(self.db, self.board, user_id="state-machine")
        except ConfigError:
            self.ops = None  # the objects it needs are not (all) there

    def _run(self, script: Path) -> RecordedRun:
        data = script.read_bytes()
        return run_recorded(self.db, data.decode("utf-8"), source=str(script), data=data, lock_wait=5)

    # -- the library's steps ---------------------------------------------------------------------
    @precondition(lambda self: self.ops is not None)
    @rule(target=batches, subitems=st.booleans(), status=st.sampled_from(["SHIPPED", "ON HOLD", "NOT A LABEL"]),
          quantity=st.integers(-1, 3), then=st.sampled_from(["staged", "validated", "processed"]))
    def stage(self, subitems: bool, status: str, quantity: int, then: str) -> str:
        """A batch of 5 rows (some invalid, by the drawn status or quantity), and as far as `then` takes it:
        reaching audit rows by separate steps alone is too rare in a few examples."""
        assert self.ops is not None
        if subitems:
            query = (f"SELECT TOP (5) [Item ID] AS item_id, [Name], [Order Qty] AS ORDER_QTY, Size, "
                     f"{quantity} AS [Shipped Qty] FROM dbo.MON_CustMasterSchedule_Subitems ORDER BY [Item ID]")
            staged = self.ops.stage_updates_from_query(query, "update_subitems")
        else:
            query = (f"SELECT TOP (5) [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], '{status}' AS "
                     "[ORDER STATUS] FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]")
            staged = self.ops.stage_updates_from_query(query, "update_items")
        assert staged.rows_staged == 5
        if then != "staged":
            self.ops.validate_staged_updates(staged.batch_id)
        if then == "processed":
            self.ops.process_staged_updates(staged.batch_id, dry_run=True)
        return staged.batch_id

    def _refusal_changes_nothing(self, call: Callable[[UpdateOperations], object]) -> None:
        assert self.ops is not None
        before = read_state(self.db)
        try:
            call(self.ops)
        except BatchError:  # the batch is in the wrong state, or unknown since a rollback took its columns
            assert read_state(self.db) == before

    @precondition(lambda self: self.ops is not None)
    @rule(batch=batches)
    def validate(self, batch: str) -> None:
        self._refusal_changes_nothing(lambda ops: ops.validate_staged_updates(batch))

    @precondition(lambda self: self.ops is not None)
    @rule(batch=batches)
    def process(self, batch: str) -> None:
        self._refusal_changes_nothing(lambda ops: ops.process_staged_updates(batch, dry_run=True))

    @precondition(lambda self: self.ops is not None)
    @rule(batch=batches)
    def rollback_batch(self, batch: str) -> None:
        self._refusal_changes_nothing(lambda ops: ops.rollback_batch(batch, "state machine"))

    # -- the schema steps ------------------------------------------------------------------------
    def _schema_step(self, script: Path, step: str) -> tuple[State, State, RecordedRun]:
        before = read_state(self.db)
        recorded = self._run(script)
        after = read_state(self.db)
        if recorded.result.ok:
            assert recorded.run_id is not None and recorded.record_error is None, recorded
            check_nothing_lost(before, after, recorded.run_id, step)
        check_audit_indexes(after.catalog, step)
        self._refresh_ops(after)
        return before, after, recorded

    @rule()
    def deploy(self) -> None:
        self._deploy()

    def _deploy(self) -> None:
        """A first deploy, or a redeploy after a rollback, or one more deploy that changes nothing."""
        recorded = self._schema_step(DEPLOY, "deploy")[2]
        assert recorded.result.ok, recorded.result.summary()
        assert self.ops is not None, "UpdateOperations cannot work on a deployed database"

    @precondition(lambda self: self.owned)
    @rule()
    def rollback(self) -> None:
        before, after, recorded = self._schema_step(ROLLBACK, "rollback")
        assert recorded.result.ok, recorded.result.summary()
        check_rollback(before, after, recorded.run_id)

    @precondition(lambda self: self.pending)
    @rule(redeploy_first=st.booleans())
    def restore(self, redeploy_first: bool) -> None:
        """Restore is meant to follow a redeploy; without one it may find its columns missing and must refuse.
        (Drawn here, as a redeploy and then a restore by separate steps are too rare in a few examples.)"""
        if redeploy_first:
            self._deploy()
        catalog, rows = self.db.catalog(), everything(self.db)
        expect_failure = restore_should_fail(read_state(self.db))
        before, after, recorded = self._schema_step(RESTORE, "restore")
        if expect_failure:
            assert recorded.result.error is not None, "a restore whose columns are missing must fail"
            assert recorded.result.error.number in (50030, 50031), recorded.result.summary()
            self._assert_only_a_failed_run_row_added(catalog, rows, recorded)
        else:
            assert recorded.result.ok, recorded.result.summary()
            check_restored(before, after, recorded.run_id)

    @precondition(lambda self: self.found or not self.has_ledger)
    @rule()
    def adopt(self) -> None:
        catalog, rows = self.db.catalog(), everything(self.db)
        has_ledger = catalog.table("dbo.OPUS_DeploymentObject") is not None
        _before, after, recorded = self._schema_step(ADOPT, "adopt")
        if has_ledger:
            assert recorded.result.ok, recorded.result.summary()
            assert after.catalog == catalog  # it changes the ledger only
            assert not [o for o in after.objects if o.ownership == "found" and o.removed_run_id is None]
        else:
            assert recorded.result.error is not None and recorded.result.error.number == 50040
            assert self.db.catalog() == catalog and everything(self.db) == rows  # not even a run row: no ledger

    def _assert_only_a_failed_run_row_added(self, catalog: Catalog, rows: dict[str, list[tuple[Any, ...]]],
                                            recorded: RecordedRun) -> None:
        assert self.db.catalog() == catalog
        now = everything(self.db)
        runs = "dbo.opus_deploymentrun"
        assert {k: v for k, v in now.items() if k != runs} == {k: v for k, v in rows.items() if k != runs}
        assert [r for r in now[runs] if r[0] != recorded.run_id] == rows[runs]
        outcome = self.db.execute("SELECT outcome FROM dbo.OPUS_DeploymentRun WHERE run_id = ?", (recorded.run_id,))
        assert outcome == [("failed",)]

    # -- always ------------------------------------------------------------------------------------
    @invariant()
    def board_id_stays_and_no_duplicate_audit_index(self) -> None:
        if self.target is None:
            return
        catalog = self.db.catalog()
        check_audit_indexes(catalog, "any step")
        assert board_id_columns(catalog) == self.board_id_columns, "board_id was removed"


@pytest.fixture(scope="module")
def starts(baseline_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The three start databases, built once: baseline, older deployment, upstream index names."""
    directory = tmp_path_factory.mktemp("starts")
    files = {"baseline": baseline_file}
    for name, extra in (("older deployment", None), ("upstream index names", UPSTREAM_INDEX)):
        path = directory / f"{name.replace(' ', '-')}.sqlite"
        shutil.copyfile(baseline_file, path)
        target = SandboxTarget(path)
        try:
            assert target.execute_script(OLDER.read_text(encoding="utf-8"), source=str(OLDER)).ok
            if extra is not None:
                assert target.execute_script(extra).ok
        finally:
            target.close()
        files[name] = path
    return files


def machine_class(starts: dict[str, Path], board: BoardMetadata, directory: Path) -> type[RollbackMachine]:
    return type("RollbackMachine", (RollbackMachine,), {"starts": starts, "board": board, "directory": directory})


def test_rollback_restore_and_redeploy_never_lose_a_value(
    starts: dict[str, Path], board: BoardMetadata, tmp_path: Path
) -> None:
    run_state_machine_as_test(machine_class(starts, board, tmp_path), settings=settings(
        max_examples=15, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


# A few examples are too few to be sure of reaching the deep states every time, so the paths that
# matter most also run as fixed step sequences of the same machine, with the same invariants.
STAGE_PROCESSED = ("stage", False, "SHIPPED", 1, "processed")
STAGE_SUBITEMS_INVALID = ("stage", True, "SHIPPED", -1, "validated")
WRITES = [(False, 3, "OLD-7", '{"status": "Done"} '), (True, 8, "", "é'q"), (False, 40, "X", "")]
SEQUENCES: dict[str, tuple[tuple[str, list[tuple[bool, int, str, str]], int], list[tuple[Any, ...]]]] = {
    "baseline: staged rows rolled back, restore refused, redeployed and restored, staged again, twice": (
        ("baseline", [], 0),
        [("deploy",), STAGE_PROCESSED, STAGE_SUBITEMS_INVALID, ("rollback",), ("restore", False),
         ("restore", True), STAGE_PROCESSED, ("restore", False), ("rollback",), ("deploy",), ("restore", False)]),
    "older deployment with values: kept by rollback, then adopted, rolled back and restored": (
        ("older deployment", WRITES, 2),
        [("deploy",), ("rollback",), ("deploy",), STAGE_PROCESSED, ("adopt",), ("rollback",), ("restore", True)]),
    "upstream index names: adopt before the first deploy is refused, no duplicate index on any path": (
        ("upstream index names", WRITES[:1], 1),
        [("adopt",), ("deploy",), ("deploy",), ("adopt",), STAGE_PROCESSED, ("rollback",), ("restore", True),
         ("rollback_batch_last",), ("rollback",), ("restore", True)]),
}


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_fixed_sequences_of_the_machine(starts: dict[str, Path], board: BoardMetadata, tmp_path: Path,
                                        name: str) -> None:
    (start, writes, audit_rows), steps = SEQUENCES[name]
    machine = machine_class(starts, board, tmp_path)()
    batches: list[str] = []
    try:
        machine.start(start, writes, audit_rows)
        for step, *arguments in steps:
            if step == "stage":
                batch = machine.stage(*arguments)
                assert isinstance(batch, str)
                batches.append(batch)
            elif step == "rollback_batch_last":
                machine.rollback_batch(batches[-1])
            else:
                getattr(machine, step)(*arguments)
            machine.board_id_stays_and_no_duplicate_audit_index()
        # every backup was put back in the end: these sequences end with a restore after a redeploy
        ledger = read_ledger(machine.db)
        assert (ledger.backed_up_values, ledger.backed_up_audit_rows) == (0, 0)
        assert machine.db.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupValue") != [(0,)]
    finally:
        machine.teardown()
