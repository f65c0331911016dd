"""Phase 0, step 0, before any database change (seed: "Comprehensive validation before any database
changes"): the scripts parse and agree with the YAML, the target is reachable and writable, and no
object in it conflicts with what the deployment expects. A failure here means nothing is deployed."""

from __future__ import annotations

import os

import pytest

from pytest_opus.batches import split_batches
from pytest_opus.expectations import Finding, compare, format_findings
from pytest_opus.expectations.compare import MISSING
from pytest_opus.ledger import read_ledger
from pytest_opus.options import OpusConfig
from pytest_opus.report import table_html
from pytest_opus.run import OpusRun
from pytest_opus.targets.base import Target
from pytest_opus.tsql.subset import check_subset, target_database

pytestmark = pytest.mark.preflight

SCRIPTS = ("deploy_opus_update_boards.sql", "validate_ddl_changes.sql", "rollback_opus_update_boards.sql",
           "restore_opus_update_boards.sql", "adopt_opus_update_boards.sql")
#: differences that deploy resolves (it creates what is missing, and CREATE OR ALTERs the view and the
#: procedure); anything else on an object that is already there would stay wrong after deploy
DEPLOY_RESOLVES = {"missing_object", "missing_column", "parameter", "view_column"}
#: the SQL Server permissions deploy and the workflow use, as HAS_PERMS_BY_NAME arguments
PERMISSIONS = (
    ("dbo.STG_MON_CustMasterSchedule", "OBJECT", "ALTER"),
    ("dbo.STG_MON_CustMasterSchedule_Subitems", "OBJECT", "ALTER"),
    ("dbo.STG_MON_CustMasterSchedule", "OBJECT", "INSERT"),
    (None, "DATABASE", "CREATE TABLE"),
    (None, "DATABASE", "CREATE PROCEDURE"),
    (None, "DATABASE", "CREATE VIEW"),
)


def test_scripts_are_present_and_parse(opus_config: OpusConfig, opus_target_before_deploy: Target,
                                       opus_run: OpusRun) -> None:
    problems: list[str] = []
    for name in SCRIPTS:
        path = opus_config.sql / name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        text = path.read_text(encoding="utf-8-sig")
        if not split_batches(text, source=str(path)):
            problems.append(f"{path}: holds no SQL")
        if opus_target_before_deploy.kind != "sqlserver":  # the sandbox must be able to run every statement
            problems += [str(problem) for problem in check_subset(
                text, str(path), database=target_database(opus_target_before_deploy))]
    opus_run.evidence["preflight.scripts"] = len(SCRIPTS) - len(problems)
    assert not problems, "\n".join(problems)


def test_scripts_agree_with_the_expectations_statically(opus_config: OpusConfig, opus_run: OpusRun) -> None:
    """Read with sqlglot, no database: deploy builds what the YAML expects, rollback undoes it."""
    from pytest_opus.effects import check_deploy_against_expectations, check_rollback_reverses_deploy

    results = check_deploy_against_expectations(opus_config.sql, opus_config.expectations)
    problems = [f"{r.summary()}\n{format_findings(r.findings)}" for r in results if not r.ok]
    problems += check_rollback_reverses_deploy(opus_config.sql)
    opus_run.evidence["preflight.static_ok"] = not problems
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_target_is_reachable_and_writable(opus_target_before_deploy: Target, opus_run: OpusRun) -> None:
    target = opus_target_before_deploy
    assert target.execute("SELECT 1") == [(1,)]
    if target.kind == "sqlserver":
        missing = []
        for securable, kind, permission in PERMISSIONS:
            rows = target.execute("SELECT HAS_PERMS_BY_NAME(COALESCE(?, DB_NAME()), ?, ?)",
                                  (securable, kind, permission))
            if not rows or rows[0][0] != 1:
                missing.append(f"{permission} on {securable or 'the database'}")
        opus_run.evidence["preflight.access"] = "permissions: " + (", ".join(missing) + " MISSING" if missing
                                                                   else "all granted")
        assert not missing, f"the login lacks {', '.join(missing)}: ask the DBA to grant them (docs/dba.md)"
    else:
        path = getattr(target, "database_file", lambda: None)()
        writable = path is None or os.access(path, os.W_OK)
        opus_run.evidence["preflight.access"] = f"{'writable' if writable else 'READ-ONLY'} database file"
        assert writable, f"{path} is read-only: deploy could not change it"


def test_no_object_conflicts_with_the_deployment(opus_target_before_deploy: Target, opus_run: OpusRun,
                                                 request: pytest.FixtureRequest) -> None:
    """Objects already there (an older deployment, a hand-made column) must have the shape deploy expects:
    deploy skips what exists, so a column of another type would stay wrong after it."""
    target = opus_target_before_deploy
    catalog = target.catalog()
    conflicts: list[Finding] = [
        f for result in compare(opus_run.expectations(), catalog) for f in result.findings
        if f.kind not in DEPLOY_RESOLVES and not (f.kind == "index" and f.actual == MISSING)]
    ledger = read_ledger(target)
    present = [r.label for r in compare(opus_run.expectations(), catalog)
               if not any(f.kind == "missing_object" for f in r.findings)]
    history = ("a ledger with " f"{len(ledger.runs)} run(s)" if ledger.exists else "no deployment ledger")
    opus_run.attach(request.node.nodeid, "objects already present", table_html(
        ["what", "detail"], [["deployment history", history], ["present before deploy", ", ".join(present)]]))
    opus_run.evidence["preflight.conflicts"] = len(conflicts)
    if conflicts:
        pytest.fail("objects already in the database conflict with the deployment (deploy would leave them as "
                    f"they are):\n{format_findings(conflicts)}", pytrace=False)
