"""Fault injection: whichever statement of the deploy script fails, the sandbox is left as it was.

Every statement of sql/deploy_opus_update_boards.sql (top level, inside IF/BEGIN blocks, the
procedure and view creation) gets one run in which the engine's `fail_at` test hook makes exactly
that statement fail. The run must report the statement's line and leave the catalog identical to
the one it started from. Statements that only run when the objects already exist (the ELSE
branches) are failed during a re-run on a deployed sandbox instead, and those that only run on an
older deployment (objects recorded as found, an index under the older scripts' name) on one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_opus.batches import split_batches
from pytest_opus.catalog import Catalog
from pytest_opus.targets.sandbox import SandboxTarget
from pytest_opus.tsql.parser import Block, If, Sql, Statement, TryCatch, While, parse_batch

DEPLOY = Path(__file__).resolve().parents[2] / "sql" / "deploy_opus_update_boards.sql"
OLDER = Path(__file__).resolve().parents[2] / "tests" / "data" / "older_deployment.sql"


def _nested(statements: list[Statement]) -> Iterator[Statement]:
    for statement in statements:
        yield statement
        if isinstance(statement, Block):
            yield from _nested(statement.body)
        elif isinstance(statement, If):
            yield from _nested([s for s in (statement.then, statement.otherwise) if s is not None])
        elif isinstance(statement, While) and statement.body is not None:
            yield from _nested([statement.body])
        elif isinstance(statement, TryCatch):
            yield from _nested(statement.body + statement.handler)
        # a procedure's body runs when it is called, not when the script creates it


def deploy_statements() -> list[tuple[int, str]]:
    """(line in the file, what it is) of every statement the deploy script holds, in order."""
    text = DEPLOY.read_text(encoding="utf-8-sig")
    found = []
    for batch in split_batches(text, source=DEPLOY.name):
        parsed = parse_batch(batch.text, source=DEPLOY.name, line_offset=batch.start_line - 1)
        for statement in _nested(parsed.statements):
            what = " ".join(statement.text.split()[:2]) if isinstance(statement, Sql) else type(statement).__name__
            found.append((statement.line + batch.start_line - 1, what))
    return found


STATEMENTS = deploy_statements()


def _copy(source: Path, directory: Path) -> SandboxTarget:
    path = directory / "faulty.sqlite"
    shutil.copyfile(source, path)
    return SandboxTarget(path)


def _executed_lines(source: Path, directory: Path) -> list[int]:
    target = _copy(source, directory)
    lines: list[int] = []
    target.engine.fail_at = lambda line: bool(lines.append(line))
    try:
        assert target.run_script_file(str(DEPLOY)).ok
    finally:
        target.close()
    return lines


@pytest.fixture(scope="module")
def plan(baseline_file: Path, deployed_file: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> dict[int, tuple[Path, Catalog]]:
    """For each statement line: the sandbox file in which it runs, and that sandbox's catalog."""
    directory = tmp_path_factory.mktemp("faults")
    # an older deployment whose indexes have other names: the "found" and "already present as"
    # statements run only there
    upstream = directory / "upstream.sqlite"
    shutil.copyfile(baseline_file, upstream)
    older = SandboxTarget(upstream)
    try:
        assert older.run_script_file(str(OLDER)).ok
        renames = [f"DROP INDEX IX_MON_UpdateAudit_{c} ON dbo.MON_UpdateAudit;\n"
                   f"CREATE INDEX IX_Audit_{c} ON dbo.MON_UpdateAudit ({c});"
                   for c in ("batch_id", "monday_item_id", "monday_board_id", "update_timestamp")]
        renames += [f"CREATE INDEX IX_{t}_Batch ON dbo.{t} (update_batch_id);"
                    for t in ("STG_MON_CustMasterSchedule", "STG_MON_CustMasterSchedule_Subitems")]
        assert older.execute_script("\n".join(renames)).ok
    finally:
        older.close()
    starts: dict[int, tuple[Path, Catalog]] = {}
    for source in (baseline_file, deployed_file, upstream):
        before = _copy(source, directory)
        catalog = before.catalog()
        before.close()
        for line in _executed_lines(source, directory):
            starts.setdefault(line, (source, catalog))
    return starts


def test_every_statement_runs_on_a_fresh_or_a_deployed_sandbox(plan: dict[int, tuple[Path, Catalog]]) -> None:
    assert len(STATEMENTS) > 80
    assert sorted(plan) == sorted({line for line, _ in STATEMENTS})


@pytest.mark.parametrize(("line", "statement"), STATEMENTS, ids=[f"line {ln} {what}" for ln, what in STATEMENTS])
def test_a_failing_statement_leaves_the_catalog_unchanged(
    plan: dict[int, tuple[Path, Catalog]], tmp_path: Path, line: int, statement: str
) -> None:
    source, expected = plan[line]
    target = _copy(source, tmp_path)
    fired: list[int] = []

    def fail_here(current: int) -> bool:
        if current == line and not fired:
            fired.append(current)
            return True
        return False

    target.engine.fail_at = fail_here
    try:
        result = target.run_script_file(str(DEPLOY))
        assert fired == [line]
        assert result.error is not None and not result.committed
        assert result.error.line == line, result.error
        assert "injected failure" in result.error.message
        assert str(result.error).startswith(f"{DEPLOY}:{line} (batch ")
        target.engine.fail_at = None
        assert target.catalog() == expected
    finally:
        target.close()
