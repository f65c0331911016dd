"""Fault injection in the rollback and restore scripts: whichever statement fails, nothing changes.

Every statement of sql/rollback_opus_update_boards.sql and sql/restore_opus_update_boards.sql (top
level and inside IF/BEGIN/WHILE) gets one run in which the engine's `fail_at` hook makes exactly
that statement fail; a statement inside a loop gets a second run failing its last pass, when the
most has been backed up. Each run uses `Target.execute_script` (not `run_recorded`, whose run row is
committed outside the script), on a copy of a database prepared so that the statement really runs:
deployed with staged values and dry-run audit rows for rollback; rolled back and redeployed for
restore; and, for the statements of other paths, the database where that path is taken. The run
must fail at that line, and afterwards the catalog and every row of every table, the ledger's
included, must be what they were.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.batches import split_batches
from pytest_opus.catalog import Catalog
from pytest_opus.ledger import RunRecord, read_ledger, run_recorded, sha256_of
from pytest_opus.targets.base import Target
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql.parser import Block, If, Statement, TryCatch, While, parse_batch
from pytest_opus.updates import BoardMetadata, UpdateOperations

ROOT = Path(__file__).resolve().parents[2]
SQL = ROOT / "sql"
DEPLOY, ROLLBACK, RESTORE = (SQL / f"{name}_opus_update_boards.sql" for name in ("deploy", "rollback", "restore"))
OLDER = ROOT / "tests" / "data" / "older_deployment.sql"
#: The `open_copy` fixture (tests/conftest.py): a sandbox file -> a private copy, opened.
OpenCopy = Callable[[Path], AbstractContextManager[SandboxTarget]]

#: Branches that no prepared database takes, each with the reason it cannot be taken without
#: tampering. An entry names a branch by its script and the text of its IF line (the statements run
#: when the condition holds); the coverage test checks that each names exactly one IF, and that no
#: prepared database runs any statement of that branch.
NOT_REACHED = {
    # The audit backup copies every row of MON_UpdateAudit by one INSERT ... SELECT in the same
    # transaction, and run ids are never reused: the counts always match, so the guard that reports
    # an incomplete copy (SET @message, THROW 50020) would run only if that INSERT lost rows.
    (ROLLBACK.name, "IF @backed_up <> @audit_rows"): "the audit copy cannot come up short",
}


# -- the statements of a script ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One statement of a script: its line in the file, a short label, its text as written, whether a
    loop repeats it, and the IF branches that hold it (outermost first; `ELSE of IF ...` for an ELSE)."""

    script: str
    line: int
    what: str
    text: str
    in_loop: bool
    branches: tuple[str, ...]


Branch = tuple[int, bool]  # (line of the IF in its batch, True for its THEN branch)


def _walk(statements: list[Statement], in_loop: bool, branches: tuple[Branch, ...]
          ) -> Iterator[tuple[Statement, bool, tuple[Branch, ...]]]:
    for statement in statements:
        yield statement, in_loop, branches
        if isinstance(statement, Block):
            yield from _walk(statement.body, in_loop, branches)
        elif isinstance(statement, If):
            for body, then in ((statement.then, True), (statement.otherwise, False)):
                if body is not None:
                    yield from _walk([body], in_loop, (*branches, (statement.line, then)))
        elif isinstance(statement, While) and statement.body is not None:
            yield from _walk([statement.body], True, branches)
        elif isinstance(statement, TryCatch):
            yield from _walk(statement.body + statement.handler, in_loop, branches)


def script_steps(script: Path) -> list[Step]:
    text = script.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    steps = []
    for batch in split_batches(text, source=script.name):
        parsed = parse_batch(batch.text, source=script.name, line_offset=batch.start_line - 1)
        for statement, in_loop, branches in _walk(parsed.statements, False, ()):
            line = statement.line + batch.start_line - 1
            source = lines[line - 1].strip()  # where the statement starts, as written
            words = source.replace("(", " ").replace(",", " ").split()
            what = " ".join(words[:2]) if len(words) > 1 and re.fullmatch(r"[@#\w.]+", words[1]) else words[0]
            guards = tuple(("" if then else "ELSE of ") + lines[at + batch.start_line - 2].strip()
                           for at, then in branches)
            steps.append(Step(script.name, line, what, source, in_loop, guards))
    return steps


STEPS = {script.name: script_steps(script) for script in (ROLLBACK, RESTORE)}


def _allowlisted(step: Step) -> bool:
    return any((step.script, guard) in NOT_REACHED for guard in step.branches)


#: (step, which pass fails): every statement's first pass; a statement in a loop also its last pass
CASES = [(step, occurrence) for steps in STEPS.values() for step in steps if not _allowlisted(step)
         for occurrence in (("first", "last") if step.in_loop else ("first",))]


# -- the state of a database ---------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """The catalog and every row of every table (the ledger's tables included), rows in a fixed order."""

    catalog: Catalog
    rows: dict[str, list[tuple[Any, ...]]]


def snapshot(target: Target) -> Snapshot:
    catalog = target.catalog()
    rows = {}
    for name, table in sorted(catalog.tables.items()):
        order = ", ".join(f"[{c.name}]" for c in table.columns)
        rows[name] = [tuple(r) for r in target.execute(
            f"SELECT * FROM [{table.schema}].[{table.name}] ORDER BY {order}")]
    return Snapshot(catalog, rows)


def changed_tables(before: Snapshot, after: Snapshot) -> list[str]:
    """The tables whose rows differ, for a readable failure message."""
    names = sorted(set(before.rows) | set(after.rows))
    return [n for n in names if before.rows.get(n) != after.rows.get(n)]


# -- preparing the databases ---------------------------------------------------------------------


def run_ok(target: Target, script: Path, **kwargs: Any) -> int:
    """`script` run and recorded as the tool runs it (committed: this prepares a database); its run id."""
    data = script.read_bytes()
    recorded = run_recorded(target, data.decode("utf-8"), source=str(script), data=data, lock_wait=5, **kwargs)
    assert recorded.result.ok, recorded.result.summary()
    assert recorded.run_id is not None
    return recorded.run_id


def stage_and_process(target: Target, board: BoardMetadata) -> None:
    """Staged values in every update column of both tables, and dry-run audit rows, one batch rolled back."""
    ops = UpdateOperations(target, board)
    items = "SELECT TOP (5) [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], {status} AS [ORDER STATUS] " \
            "FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]"
    shipped = ops.stage_updates_from_query(items.format(status="'SHIPPED'"), "update_items")
    bogus = ops.stage_updates_from_query(items.format(status="'NOT A LABEL'"), "update_items")  # validation_errors
    subitems = ops.stage_updates_from_query(
        "SELECT TOP (3) [Item ID] AS item_id, [Name], [Order Qty] AS ORDER_QTY, Size, 5 AS [Shipped Qty] "
        "FROM dbo.MON_CustMasterSchedule_Subitems ORDER BY [Item ID]", "update_subitems")
    for staged in (shipped, bogus, subitems):
        ops.validate_staged_updates(staged.batch_id)
    assert ops.process_staged_updates(shipped.batch_id, dry_run=True).audit_rows
    assert ops.process_staged_updates(subitems.batch_id, dry_run=True).audit_rows
    assert ops.rollback_batch(subitems.batch_id, "fault injection fixture").audit_rows  # rollback_* columns set


def deployed_and_staged(target: Target, board: BoardMetadata) -> None:
    run_ok(target, DEPLOY)
    stage_and_process(target, board)


def scoped_to_the_deploy_run(target: Target, board: BoardMetadata) -> None:
    """As the tool's scoped rollback runs: this session's run row open, carrying the deploy run."""
    [deploy] = [r for r in read_ledger(target).runs if r.script_name == DEPLOY.name]
    opening = RunRecord(ROLLBACK.name, sha256_of(ROLLBACK.read_bytes()), scope_run_id=deploy.run_id)
    assert target.execute_script(opening.opening(create_ledger=False), source="<ledger>").ok


def older_deployment_deployed_over(target: Target, board: BoardMetadata) -> None:
    """Objects the ledger records as found (kept, and named), and board_id (noted)."""
    assert target.execute_script(OLDER.read_text(encoding="utf-8"), source=str(OLDER)).ok
    target.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET update_batch_id = 'OLD-1', "
                   "update_fields = N'{\"status\":\"Done\"}' WHERE stg_id <= 4")
    run_ok(target, DEPLOY)
    stage_and_process(target, board)


def rolled_back(target: Target, board: BoardMetadata) -> None:
    run_ok(target, ROLLBACK)


def redeployed(target: Target, board: BoardMetadata) -> None:
    run_ok(target, DEPLOY)


def with_conflicts(target: Target, board: BoardMetadata) -> None:
    """A cell that holds another value, a backed-up row that is gone, an audit_id that is taken."""
    [(first, second)] = target.execute(
        "SELECT MIN(row_key), MAX(row_key) FROM dbo.OPUS_BackupValue "
        "WHERE table_name = N'STG_MON_CustMasterSchedule' AND column_name = N'update_fields'")
    target.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET update_fields = N'{\"changed\":1}' WHERE stg_id = ?",
                   (first,))
    target.execute("DELETE FROM dbo.STG_MON_CustMasterSchedule WHERE stg_id = ?", (second,))
    target.execute("INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation) VALUES ('NEW-1', 'UPDATE_ITEMS')")


def audit_rows_only_rolled_back(target: Target, board: BoardMetadata) -> None:
    """Backups of audit rows and no values: restore then needs only the audit table, and it is gone."""
    run_ok(target, DEPLOY)
    target.execute("INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation) VALUES ('B-1', 'UPDATE_ITEMS')")
    run_ok(target, ROLLBACK)


Recipe = Callable[[Target, BoardMetadata], None]


@dataclass(frozen=True)
class Database:
    """How a prepared database is made: from another one (None: the baseline), plus one recipe."""

    name: str
    start: str | None
    recipe: Recipe | None
    error: int | None = None  # the error number the script stops with on it (None: it succeeds)


#: Per script, the databases it is run on, in order of preference: a statement is failed on the first
#: of them where it runs.
DATABASES = {
    ROLLBACK.name: (
        Database("deployed, staged and processed", None, deployed_and_staged),
        Database("scoped to the deploy run", "deployed, staged and processed", scoped_to_the_deploy_run),
        Database("older deployment, deployed over", None, older_deployment_deployed_over),
        Database("baseline, no ledger", None, None),
    ),
    RESTORE.name: (
        Database("rolled back and redeployed", "rolled back", redeployed),
        Database("conflicts after the redeploy", "rolled back and redeployed", with_conflicts),
        Database("rolled back, not redeployed", "deployed, staged and processed", rolled_back, error=50030),
        Database("audit rows only, rolled back", None, audit_rows_only_rolled_back, error=50031),
        Database("deployed, nothing backed up", "deployed, staged and processed", None),
        Database("baseline, no ledger", None, None),
    ),
}
# an intermediate database no script runs on directly
INTERMEDIATE = (Database("rolled back", "deployed, staged and processed", rolled_back),)


@dataclass(frozen=True)
class Prepared:
    """A prepared database file, its state, and which statements of the script run on it (and how often)."""

    database: Database
    path: Path
    before: Snapshot
    runs: Counter[int]


def _is_script_statement(target: SandboxTarget, line: int) -> bool:
    # Inside dynamic SQL the hook gets the line there; the script's own line stays in script_line.
    return target.engine.script_line == line


def _run(target: SandboxTarget, script: Path) -> Any:
    return target.execute_script(script.read_text(encoding="utf-8"), source=str(script))


def _statement_runs(path: Path, script: Path, database: Database, open_copy: OpenCopy) -> Counter[int]:
    runs: Counter[int] = Counter()
    with open_copy(path) as target:
        target.engine.fail_at = lambda line: bool(_is_script_statement(target, line) and runs.update([line]))
        result = _run(target, script)
    if database.error is None:
        assert result.ok, f"{script.name} on {database.name}: {result.summary()}"
    else:
        assert result.error is not None and result.error.number == database.error, result.summary()
    return runs


@pytest.fixture(scope="module")
def prepared(baseline_file: Path, board: BoardMetadata, open_copy: OpenCopy) -> dict[str, tuple[Prepared, ...]]:
    """Per script, its prepared databases (each built once, from the baseline or another one)."""
    files: dict[str | None, Path] = {None: baseline_file}

    def build(database: Database) -> Path:
        if database.name not in files:
            source = files[database.start] if database.start in files else build(_named(database.start))
            with open_copy(source) as target:
                if database.recipe is not None:
                    database.recipe(target, board)
                assert target.path is not None
                files[database.name] = target.path
        return files[database.name]

    plans = {}
    for script in (ROLLBACK, RESTORE):
        entries = []
        for database in DATABASES[script.name]:
            path = build(database)
            with open_copy(path) as target:
                before = snapshot(target)
            entries.append(Prepared(database, path, before, _statement_runs(path, script, database, open_copy)))
        plans[script.name] = tuple(entries)
    return plans


def _named(name: str | None) -> Database:
    for database in (*INTERMEDIATE, *(d for group in DATABASES.values() for d in group)):
        if database.name == name:
            return database
    raise AssertionError(f"no prepared database named {name!r}")


def where_it_runs(prepared: dict[str, tuple[Prepared, ...]], step: Step) -> Prepared | None:
    return next((p for p in prepared[step.script] if p.runs[step.line]), None)


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [ROLLBACK.name, RESTORE.name])
def test_every_statement_runs_on_a_prepared_database(prepared: dict[str, tuple[Prepared, ...]], script: str) -> None:
    steps = STEPS[script]
    assert len(steps) > (100 if script == ROLLBACK.name else 50)
    assert len({s.line for s in steps}) == len(steps)  # one statement per line: a line names a statement
    for (name, guard), reason in NOT_REACHED.items():
        if name == script:
            assert reason
            assert len([s for s in steps if s.text == guard]) == 1, f"{guard!r} names no single IF of {script}"
            branch = [s for s in steps if guard in s.branches]
            assert branch, f"no statement in the branch of {guard!r}"
            reached = [s.line for s in branch if where_it_runs(prepared, s) is not None]
            assert not reached, f"lines {reached} of {guard!r} are reached: drop it from NOT_REACHED"
    unreached = [f"line {s.line} {s.what}" for s in steps if not _allowlisted(s) and where_it_runs(prepared, s) is None]
    assert not unreached, f"{script}: no prepared database runs {unreached}"


def test_the_loops_run_more_than_once(prepared: dict[str, tuple[Prepared, ...]]) -> None:
    # Otherwise the "last pass" cases would fail the same pass as the "first" ones.
    for steps in STEPS.values():
        for step in steps:
            if step.in_loop:
                where = where_it_runs(prepared, step)
                assert where is not None and where.runs[step.line] > 1, step


@pytest.mark.parametrize(("step", "occurrence"), CASES,
                         ids=[f"{s.script.split('_')[0]} line {s.line} {s.what} ({o} pass)" for s, o in CASES])
def test_a_failing_statement_leaves_every_row_and_the_catalog_unchanged(
    prepared: dict[str, tuple[Prepared, ...]], open_copy: OpenCopy, step: Step, occurrence: str
) -> None:
    where = where_it_runs(prepared, step)
    assert where is not None, f"no prepared database runs line {step.line}"
    fail_on = 1 if occurrence == "first" else where.runs[step.line]
    script = ROLLBACK if step.script == ROLLBACK.name else RESTORE
    with open_copy(where.path) as target:
        passes: list[int] = []

        def fail_here(line: int) -> bool:
            if line == step.line and _is_script_statement(target, line):
                passes.append(line)
                return len(passes) == fail_on
            return False

        target.engine.fail_at = fail_here
        result = _run(target, script)
        target.engine.fail_at = None
        assert len(passes) == fail_on, f"line {step.line} ran {len(passes)} time(s), expected at least {fail_on}"
        assert result.error is not None and not result.committed
        assert (result.error.line, result.error.message) == (step.line, "injected failure"), result.error
        after = snapshot(target)
    assert after.catalog == where.before.catalog
    assert not changed_tables(where.before, after), f"rows changed in {changed_tables(where.before, after)}"


def _last_statement_of_each_batch(script: Path) -> list[int]:
    text = script.read_text(encoding="utf-8-sig")
    lines = []
    for batch in split_batches(text, source=script.name):
        parsed = parse_batch(batch.text, source=script.name, line_offset=batch.start_line - 1)
        lines.append(parsed.statements[-1].line + batch.start_line - 1)
    return lines


RETRIES = [(script, line) for script in (ROLLBACK, RESTORE) for line in _last_statement_of_each_batch(script)]


@pytest.mark.parametrize(("script", "line"), RETRIES, ids=[f"{s.name.split('_')[0]} line {ln}" for s, ln in RETRIES])
def test_after_a_failure_the_same_session_runs_the_script_again(
    prepared: dict[str, tuple[Prepared, ...]], open_copy: OpenCopy, script: Path, line: int
) -> None:
    """Nothing of the failed run lingers in the session: no temporary table, no open transaction."""
    step = next(s for s in STEPS[script.name] if s.line == line)
    where = where_it_runs(prepared, step)
    assert where is not None
    with open_copy(where.path) as target:
        target.engine.fail_at = lambda current: current == line and _is_script_statement(target, current)
        failed = _run(target, script)
        assert failed.error is not None and failed.error.line == line, failed.summary()
        target.engine.fail_at = None
        again = _run(target, script)
        if where.database.error is None:
            assert again.ok, again.summary()
        else:
            assert again.error is not None and again.error.number == where.database.error, again.summary()
