"""The whole Phase 0 run through pytester: decision, JSON, report, rollback, escaping, secrets, browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html import unescape
from pathlib import Path

import pytest

from pytest_opus.signoff import without_ledger
from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox

pytest_plugins = ["pytester"]


ROOT = Path(__file__).resolve().parents[2]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # importlib mode: the outer session may already have imported tests/phase0 under the same names
    return pytester.runpytest(*args, "--import-mode=importlib")


def _summary(project: Path) -> dict:
    """The sign-off JSON: written only by a complete Phase 0 run."""
    return json.loads((project / "reports" / "opus-phase0.json").read_text(encoding="utf-8"))


def _run_summary(project: Path) -> dict:
    """The JSON of a run that is not a sign-off (part of the suite, or nothing deployed)."""
    return json.loads((project / "reports" / "opus-phase0-run.json").read_text(encoding="utf-8"))


def _break_audit_type(project: Path) -> None:
    audit = project / "expectations" / "schema" / "audit.yaml"
    text = audit.read_text(encoding="utf-8")
    broken = re.sub(r"(batch_id:\s*\{[^}]*type:\s*)varchar\(50\)", r"\1varchar(60)", text, count=1)
    assert broken != text, "could not plant the wrong type in audit.yaml"
    audit.write_text(broken, encoding="utf-8")


def _break_validation(project: Path) -> None:
    """A DBA validation check that the deployed schema fails: the schema phase fails after deploy (the
    pre-flight does not run the validation script, so the deploy goes ahead)."""
    script = project / "sql" / "validate_ddl_changes.sql"
    text = script.read_text(encoding="utf-8")
    planted = text.replace("N'batch_id', N'varchar(50) not null', N'varchar', 50, 'NO'",
                           "N'batch_id', N'varchar(60) not null', N'varchar', 60, 'NO'", 1)
    assert planted != text, "could not plant the wrong length in validate_ddl_changes.sql"
    script.write_text(planted, encoding="utf-8")


def test_full_run_writes_report_json_and_history(pytester: pytest.Pytester, phase0_project: Path) -> None:
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    summary = _summary(phase0_project)
    assert {"decision", "scenario", "criteria", "phases"} <= set(summary)
    assert len(summary["criteria"]) == 11
    assert (phase0_project / "reports" / "opus-phase0.html").exists()
    assert list((phase0_project / "reports" / "history").glob("opus-phase0-*.json"))
    result.stdout.fnmatch_lines(["*OPUS Phase 0 sign-off*", f"Phase 0 decision: REHEARSAL {summary['decision']}*",
                                 "report: *opus-phase0.html"])
    assert summary["decision"] == "GO", [c for c in summary["criteria"] if not c["passed"]]
    assert result.ret == 0


def test_broken_expectation_is_no_go_and_skips_later_phases(pytester: pytest.Pytester,
                                                            phase0_project: Path) -> None:
    _break_audit_type(phase0_project)
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-rs", "-p", "no:cacheprovider")
    assert result.ret != 0
    summary = _summary(phase0_project)
    assert summary["decision"] == "NO-GO"
    # the deploy script and the YAML disagree: caught before anything is deployed
    status = {c["name"]: c["status"] for c in summary["criteria"]}
    assert status["Comprehensive validation before any database changes"] == "failed"
    assert status["Schema validation: All objects present and functional"] == "not measured"
    assert summary["phases"]["deploy"]["passed"] == 0 and summary["phases"]["deploy"]["skipped"] > 0
    result.stdout.fnmatch_lines(["*phase 'preflight' failed (*test_preflight.py::test_scripts_agree_with_the_"
                                 "expectations_statically), so phase 'deploy' is skipped*"])


def test_failure_on_a_persistent_target_runs_the_rollback(pytester: pytest.Pytester, phase0_project: Path,
                                                          tmp_path: Path) -> None:
    db = create_sandbox(tmp_path / "persistent.sqlite", phase0_project / "sql" / "baseline")
    before = SandboxTarget(db)
    baseline_catalog = before.catalog()
    before.close()
    _break_validation(phase0_project)
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    assert result.ret != 0
    summary = _summary(phase0_project)
    assert summary["rollback"].startswith("performed"), summary["rollback"]
    assert "the catalog is as it was before the deploy" in summary["rollback"]
    assert "expectations/after_rollback/: all objects as expected" in summary["rollback"]
    assert summary["rollback_outcome"]["performed"] is True
    result.stdout.fnmatch_lines(["*rollback: performed: *"])
    html = (phase0_project / "reports" / "opus-phase0.html").read_text(encoding="utf-8")
    assert 'id="opus-rollback"' in html and 'id="opus-ledger"' in html
    after = SandboxTarget(db)
    assert without_ledger(after.catalog()) == baseline_catalog  # the deployment was removed again
    after.close()


def test_automatic_rollback_keeps_an_older_deployment_and_its_values(
        pytester: pytest.Pytester, phase0_project: Path, tmp_path: Path) -> None:
    """Issue 9: an older deployment whose update_batch_id holds values; this run's deploy only adds the two
    batch indexes. After a failure, the rollback removes those two indexes and nothing else."""
    db = create_sandbox(tmp_path / "older.sqlite", phase0_project / "sql" / "baseline")
    older = SandboxTarget(db)
    assert older.run_script_file(str(ROOT / "tests" / "data" / "older_deployment.sql")).ok
    older.execute("UPDATE dbo.STG_MON_CustMasterSchedule SET update_batch_id = 'OLD-1' WHERE stg_id <= 3")
    before = older.catalog()
    older.close()
    _break_validation(phase0_project)
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    assert result.ret != 0
    rollback = _summary(phase0_project)["rollback"]
    assert rollback.startswith("performed") and "removed the 2 object(s)" in rollback, rollback
    assert "after_rollback/ not applicable" in rollback
    after = SandboxTarget(db)
    assert without_ledger(after.catalog()) == before
    kept = "SELECT COUNT(*) FROM dbo.STG_MON_CustMasterSchedule WHERE update_batch_id = 'OLD-1'"
    assert after.execute(kept) == [(3,)]
    after.close()


def test_no_automatic_rollback_in_the_partial_scenario(pytester: pytest.Pytester, phase0_project: Path,
                                                       tmp_path: Path) -> None:
    """The seed: partial success means debug and re-test, not roll back."""
    db = create_sandbox(tmp_path / "partial.sqlite", phase0_project / "sql" / "baseline")
    thresholds = phase0_project / "expectations" / "phase0.yaml"
    text = thresholds.read_text(encoding="utf-8")
    # about one real row in ten carries a status the board does not know: between 80% and 95%
    query = ("SELECT [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], CASE WHEN [Item ID] % 10 = 0 THEN "
             "'NOT A STATUS' ELSE [ORDER STATUS] END AS [ORDER STATUS] FROM dbo.MON_CustMasterSchedule")
    planted = re.sub(r"(?s)real_data:.*", f"real_data:\n  query: \"{query}\"\n  size: 200\n", text)
    assert planted != text
    thresholds.write_text(planted, encoding="utf-8")
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    summary = _summary(phase0_project)
    assert summary["scenario"] == "partial", (summary["scenario"], result.stdout.str()[-2000:])
    evidence = summary["evidence"]
    assert 0.80 < evidence["workflow.success_rate"] <= 0.95
    rejected = evidence["workflow.staged"] - evidence["workflow.valid"]
    assert list(evidence["workflow.rejection_reasons"].values()) == [rejected]
    assert summary["rollback"] is None or summary["rollback"].startswith("not performed: partial success")
    kept = SandboxTarget(db)
    assert kept.catalog().table("dbo.MON_UpdateAudit") is not None
    kept.close()


def test_no_rollback_flag_keeps_the_deployment(pytester: pytest.Pytester, phase0_project: Path,
                                               tmp_path: Path) -> None:
    db = create_sandbox(tmp_path / "persistent.sqlite", phase0_project / "sql" / "baseline")
    _break_validation(phase0_project)
    _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "--opus-no-rollback",
                       "-p", "no:cacheprovider")
    assert "not performed" in _summary(phase0_project)["rollback"]
    kept = SandboxTarget(db)
    assert kept.catalog().table("MON_UpdateAudit") is not None
    kept.close()


def test_persistent_target_is_not_changed_without_deploy(pytester: pytest.Pytester, phase0_project: Path,
                                                        tmp_path: Path) -> None:
    db = create_sandbox(tmp_path / "persistent.sqlite", phase0_project / "sql" / "baseline")
    digest = db.read_bytes()
    result = _run(pytester, "tests/phase0", "-m", "schema", f"--opus-db={db}", "-p", "no:cacheprovider")
    assert result.ret != 0  # the baseline lacks every Phase 0 object
    assert db.read_bytes() == digest
    out = result.stdout.str()
    for name in ("MON_UpdateAudit", "SP_RollbackBatch", "VW_UpdateOperationSummary"):
        assert f"dbo.{name}: 1 finding" in out


def test_yaml_values_are_escaped_in_the_report(pytester: pytest.Pytester, phase0_project: Path) -> None:
    audit = phase0_project / "expectations" / "schema" / "audit.yaml"
    text = audit.read_text(encoding="utf-8")
    planted = re.sub(r"(source_system:\s*\{[^}]*default:\s*)[^,}]+", r'\1"<script>alert(1)</script>"', text,
                     count=1)
    assert planted != text
    audit.write_text(planted, encoding="utf-8")
    _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    html = (phase0_project / "reports" / "opus-phase0.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "alert(1)" in html  # it is there, as text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


#: appended to a copy of the report: after the page's own scripts ran, where the headline elements are
_PROBE = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const found = {viewport: {width: window.innerWidth, height: window.innerHeight}, scrollY: window.scrollY};
  for (const id of ['opus-decision', 'opus-scope']) {
    const el = document.getElementById(id);
    if (!el) { found[id] = null; continue; }
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    found[id] = {top: box.top, bottom: box.bottom, width: box.width, height: box.height, text: el.innerText,
                 shown: style.display !== 'none' && style.visibility !== 'hidden' && style.opacity !== '0'};
  }
  const out = document.createElement('pre');
  out.id = 'opus-probe';
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
}, 0));
</script>"""


def test_report_is_visible_in_a_real_browser(pytester: pytest.Pytester, phase0_project: Path,
                                             tmp_path: Path) -> None:
    """The first screen (1280x800, not scrolled) shows the decision, its scope and the target by name."""
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    db = create_sandbox(tmp_path / "lead-reads-this.sqlite", phase0_project / "sql" / "baseline")
    _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    report = phase0_project / "reports" / "opus-phase0.html"
    probe = report.with_name("probe.html")
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>", 1), encoding="utf-8")
    profile = tempfile.mkdtemp()
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,800", f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom",
         probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    shutil.rmtree(profile, ignore_errors=True)
    summary = _summary(phase0_project)
    found = re.search(r'<pre id="opus-probe">(.*?)</pre>', dom, re.DOTALL)
    assert found is not None, f"the page did not run its probe: {dom[:500]}"
    seen = json.loads(unescape(found.group(1)))
    assert seen["scrollY"] == 0
    height = seen["viewport"]["height"]
    for key in ("opus-decision", "opus-scope"):
        box = seen[key]
        assert box is not None, f"#{key} is not in the page"
        assert box["shown"] and box["width"] > 0 and box["height"] > 0, (key, box)
        assert 0 <= box["top"] and box["bottom"] <= height, f"#{key} is outside the first screen: {box}, {height}"
    assert seen["opus-decision"]["text"] == f"Decision: {summary['decision']} for sandbox file {db}"
    assert f"Scope: target. Target: sandbox file {db}, a persistent database" in seen["opus-scope"]["text"]
    assert "Phase 0 Completion Requirements" in dom


def test_dsn_password_appears_nowhere(pytester: pytest.Pytester, phase0_project: Path, tmp_path: Path) -> None:
    """A full run over ODBC with a password in the DSN: not in the terminal, the report or the JSON."""
    pytest.importorskip("pyodbc", reason="pip install pyodbc")
    import pyodbc

    if "SQLite3" not in pyodbc.drivers():
        if os.environ.get("CI"):
            pytest.fail("the SQLite3 ODBC driver is required in CI (apt-get install libsqliteodbc)")
        pytest.skip("the SQLite3 ODBC driver is not installed (apt-get install unixodbc libsqliteodbc)")
    secret = "Sup3r-s3cret-pw"
    db = create_sandbox(tmp_path / "odbc.sqlite", phase0_project / "sql" / "baseline")
    dsn = f"Driver={{SQLite3}};Database={db};PWD={secret}"
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-dsn={dsn}")
    assert "PWD=***" in result.stdout.str()
    assert result.ret == 0 and _summary(phase0_project)["decision"] == "GO"  # the run itself worked
    texts = [result.stdout.str(), result.stderr.str()]
    texts += [p.read_text(encoding="utf-8") for p in (phase0_project / "reports").rglob("*") if p.is_file()]
    assert all(secret not in text for text in texts)
    assert _summary(phase0_project)["environment"]["target"].endswith("PWD=***")


@pytest.mark.parametrize("phase", ["workflow", "infrastructure"])
def test_one_phase_alone_runs_on_a_deployed_disposable_sandbox(pytester: pytest.Pytester, phase0_project: Path,
                                                               phase: str) -> None:
    result = _run(pytester, "tests/phase0", "-m", phase, "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-2000:]
    assert _run_summary(phase0_project)["scenario"] == "incomplete"  # one phase alone is never a sign-off
    assert not (phase0_project / "reports" / "opus-phase0.json").exists()


def test_a_deselected_phase_test_means_no_sign_off(pytester: pytest.Pytester, phase0_project: Path) -> None:
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-k", "not idempotent", "-p", "no:cacheprovider")
    summary = _run_summary(phase0_project)
    assert (summary["decision"], summary["scenario"]) == ("NO-GO", "incomplete")
    assert result.ret == 0  # the selected tests passed; a partial run is simply not a sign-off


def test_a_deployment_that_existed_before_the_run_is_not_rolled_back(pytester: pytest.Pytester,
                                                                     phase0_project: Path, tmp_path: Path) -> None:
    db = create_sandbox(tmp_path / "already.sqlite", phase0_project / "sql" / "baseline")
    existing = SandboxTarget(db)
    assert existing.run_script_file(str(phase0_project / "sql" / "deploy_opus_update_boards.sql")).ok
    existing.execute("INSERT INTO dbo.MON_UpdateAudit (batch_id, update_operation) VALUES (?, ?)",
                     ["REAL-BATCH", "UPDATE_ITEMS"])
    existing.close()
    _break_validation(phase0_project)
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    assert result.ret != 0
    assert _summary(phase0_project)["rollback"].startswith("not performed: this run's deploy created nothing")
    kept = SandboxTarget(db)
    assert kept.execute("SELECT batch_id FROM dbo.MON_UpdateAudit") == [("REAL-BATCH",)]
    kept.close()


# -- the sign-off says what it means (issue 12) -----------------------------------------------------


def test_the_decision_names_its_scope(pytester: pytest.Pytester, phase0_project: Path, tmp_path: Path) -> None:
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    summary = _summary(phase0_project)
    assert (summary["scope"], summary["decision"]) == ("rehearsal", "GO")
    result.stdout.fnmatch_lines(["Phase 0 decision: REHEARSAL GO (disposable sandbox: no database was signed off)*"])
    db = create_sandbox(tmp_path / "named.sqlite", phase0_project / "sql" / "baseline")
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    summary = _summary(phase0_project)
    assert summary["scope"] == "target" and summary["target"] == f"sandbox file {db}"
    result.stdout.fnmatch_lines([f"Phase 0 decision: GO for sandbox file {db} (*"])
    html = (phase0_project / "reports" / "opus-phase0.html").read_text(encoding="utf-8")
    assert f"Decision: GO for sandbox file {db}" in html


def test_a_partial_run_leaves_the_sign_off_files_byte_identical(pytester: pytest.Pytester,
                                                               phase0_project: Path) -> None:
    _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    reports = phase0_project / "reports"
    signed = {name: (reports / name).read_bytes() for name in ("opus-phase0.html", "opus-phase0.json")}
    result = _run(pytester, "tests/phase0", "-m", "schema", "-p", "no:cacheprovider")
    assert {name: (reports / name).read_bytes() for name in signed} == signed
    run = _run_summary(phase0_project)
    assert run["sign_off"] is False and run["scenario"] == "incomplete"
    result.stdout.fnmatch_lines(["Phase 0 decision: NO SIGN-OFF (incomplete run*",
                                 "summary: reports/opus-phase0-run.json", "history: reports/index.html"])
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "2 run(s) recorded" in index and index.count("<tr><td>") == 2
    assert "<td>sign-off</td>" in index and "<td>run</td>" in index and "<svg" in index and "<script" not in index


def test_criteria_blocked_by_an_earlier_phase_say_not_measured(pytester: pytest.Pytester,
                                                               phase0_project: Path) -> None:
    _break_validation(phase0_project)
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    criteria = {c["name"]: c for c in _summary(phase0_project)["criteria"]}
    rate = criteria["UpdateOperations test: >95% success rate"]
    assert rate["status"] == "not measured" and rate["evidence"].startswith("not measured: blocked by phase 'schema'")
    assert criteria["Schema validation: All objects present and functional"]["status"] == "failed"
    result.stdout.fnmatch_lines(["*?NOT MEASURED? UpdateOperations test: >95% success rate: not measured: blocked*"])


def test_documentation_criterion_points_at_the_history_and_the_ledger(pytester: pytest.Pytester,
                                                                      phase0_project: Path) -> None:
    _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    [documented] = [c for c in _summary(phase0_project)["criteria"] if c["name"].startswith("Documentation")]
    assert documented["passed"]
    assert re.fullmatch(r"results recorded in reports/history/opus-phase0-\S+\.json; deploy run \d+ in the "
                        r"target's deployment ledger", documented["evidence"]), documented["evidence"]


def test_junit_xml_carries_the_decision(pytester: pytest.Pytester, phase0_project: Path) -> None:
    import xml.etree.ElementTree as ElementTree

    _break_audit_type(phase0_project)
    _run(pytester, "tests/phase0", "--opus-deploy", "--junitxml=junit.xml", "-p", "no:cacheprovider")
    root = ElementTree.parse(phase0_project / "junit.xml").getroot()
    [case] = [c for c in root.iter("testcase") if c.get("name") == "phase0_sign_off"]
    failure = case.find("failure")
    assert failure is not None and "REHEARSAL NO-GO" in (failure.get("message") or "")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["decision"] == "NO-GO" and properties["scope"] == "rehearsal"


def test_a_failed_pre_flight_stops_before_any_change(pytester: pytest.Pytester, phase0_project: Path,
                                                     tmp_path: Path) -> None:
    """A column already there with another type: deploy would skip it and leave it wrong, so nothing runs."""
    db = create_sandbox(tmp_path / "conflict.sqlite", phase0_project / "sql" / "baseline")
    target = SandboxTarget(db)
    assert target.execute_script("ALTER TABLE dbo.STG_MON_CustMasterSchedule ADD update_batch_id INT NULL;").ok
    before = target.catalog()
    target.close()
    result = _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*objects already in the database conflict with the deployment*",
                                 "*update_batch_id*varchar(50)*int*"])
    summary = _summary(phase0_project)
    assert summary["phases"]["deploy"]["passed"] == 0 and summary["phases"]["deploy"]["skipped"] > 0
    criteria = {c["name"]: c for c in summary["criteria"]}
    assert criteria["Comprehensive validation before any database changes"]["status"] == "failed"
    assert criteria["Database schema deployment: 100% successful"]["status"] == "not measured"
    assert summary["rollback"] is None
    after = SandboxTarget(db)
    assert after.catalog() == before  # not even the ledger was created
    after.close()


def test_a_dependent_view_broken_by_the_deploy_is_caught(pytester: pytest.Pytester, phase0_project: Path) -> None:
    """A view of the existing system selects `s.*` from a staging table and a review table's status: once
    deploy adds validation_status to the staging table, the view has that column twice (SQL Server error
    4506 on refresh). The deploy itself succeeds; the compatibility criterion fails, naming the view."""
    (phase0_project / "sql" / "baseline" / "040_legacy_review.sql").write_text(
        "CREATE TABLE dbo.LegacyReview (stg_id INT NOT NULL, validation_status VARCHAR(20) NULL)\nGO\n"
        "CREATE VIEW dbo.VW_LegacyReview AS\nSELECT s.*, r.validation_status\n"
        "FROM dbo.STG_MON_CustMasterSchedule AS s JOIN dbo.LegacyReview AS r ON r.stg_id = s.stg_id\nGO\n",
        encoding="utf-8")
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    assert result.ret != 0
    summary = _summary(phase0_project)
    assert summary["decision"] == "NO-GO"
    criteria = {c["key"]: c for c in summary["criteria"]}
    assert criteria["deployment"]["status"] == "failed"  # the deploy phase has a failing test
    assert summary["evidence"]["deploy.batches"] == summary["evidence"]["deploy.batches_committed"]
    compat = criteria["compatibility"]
    assert compat["status"] == "failed" and "1 broken" in compat["evidence"], compat
    assert "view dbo.VW_LegacyReview" in compat["evidence"]
    result.stdout.fnmatch_lines(["*[[]FAIL[]] No breaking changes to existing systems:*(view dbo.VW_LegacyReview)*",
                                 "FAILED tests/phase0/test_deploy.py::test_code_using_the_staging_tables_still_works*"])


def test_a_procedure_without_its_subitem_branch_is_caught(pytester: pytest.Pytester, phase0_project: Path) -> None:
    """SP_RollbackBatch that no longer rolls back subitem rows: items still roll back, so only the subitem
    batch of the workflow phase shows it, and the audit criterion fails with its numbers."""
    script = phase0_project / "sql" / "deploy_opus_update_boards.sql"
    text = script.read_text(encoding="utf-8")
    branch = re.search(r"\n[ \t]*UPDATE dbo\.STG_MON_CustMasterSchedule_Subitems\s+SET validation_status = "
                       r"'ROLLED_BACK'.*?SET @subitem_rows = @@ROWCOUNT;", text, re.DOTALL)
    assert branch is not None, "could not find SP_RollbackBatch's subitem branch in the deploy script"
    script.write_text(text.replace(branch.group(), "", 1), encoding="utf-8")
    result = _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    assert result.ret != 0
    summary = _summary(phase0_project)
    assert summary["decision"] == "NO-GO"
    failed = "tests/phase0/test_workflow.py::test_subitem_updates_are_staged_planned_and_rolled_back"
    assert [f for p in summary["phases"].values() for f in p["failures"]] == [failed]
    audit = next(c for c in summary["criteria"] if c["key"] == "audit")
    assert audit["status"] == "failed"
    assert "subitems: 20 staged, 20 planned, 0 of 20 rolled back by SP_RollbackBatch" in audit["evidence"]
    assert audit["evidence"].endswith(f"failed test: {failed}")


def test_the_accuracy_and_real_data_figures_are_computed_from_the_database(pytester: pytest.Pytester,
                                                                          phase0_project: Path) -> None:
    """Three planted rows in the mock batch, and a real-data query whose invalid rows are known: the
    figures in the sign-off are what the database holds, counted here independently."""
    thresholds = phase0_project / "expectations" / "phase0.yaml"
    text = thresholds.read_text(encoding="utf-8")
    query = ("SELECT [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], CASE WHEN [Item ID] % 9 = 0 "
             "THEN 'NOT A STATUS' ELSE 'SHIPPED' END AS [ORDER STATUS] FROM dbo.MON_CustMasterSchedule")
    planted = re.sub(r"invalid_rows: 2", "invalid_rows: 3", text, count=1)
    planted = re.sub(r"(?s)real_data:.*", f"real_data:\n  query: \"{query}\"\n  size: 150\n", planted)
    assert "invalid_rows: 3" in planted and query in planted
    thresholds.write_text(planted, encoding="utf-8")
    baseline = SandboxTarget(create_sandbox(pytester.path / "count.sqlite", phase0_project / "sql" / "baseline"))
    ids = [int(i) for (i,) in baseline.execute(
        "SELECT TOP (150) [Item ID] FROM dbo.MON_CustMasterSchedule ORDER BY [Item ID]")]
    baseline.close()
    invalid = sum(1 for i in ids if i % 9 == 0)
    assert 0 < invalid < len(ids)
    _run(pytester, "tests/phase0", "--opus-deploy", "-p", "no:cacheprovider")
    evidence = _summary(phase0_project)["evidence"]
    assert (evidence["workflow.staged"], evidence["workflow.valid"]) == (len(ids), len(ids) - invalid)
    assert evidence["workflow.success_rate"] == pytest.approx((len(ids) - invalid) / len(ids))
    assert sum(evidence["workflow.rejection_reasons"].values()) == invalid
    assert (evidence["workflow.known_invalid"], evidence["workflow.known_invalid_rejected"]) == (3, 3)
    assert (evidence["workflow.correct"], evidence["workflow.mock_staged"], evidence["workflow.accuracy"]) == (
        60, 60, 1.0)


def test_approval_is_recorded_and_refused_where_it_must_be(pytester: pytest.Pytester, phase0_project: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`opus-sql approve` on the sign-off a real run wrote: recorded in the target, the JSON and the HTML;
    refused a second time, and refused for a partial run's report."""
    from pytest_opus import cli
    from pytest_opus.approval import verify_checksum

    db = create_sandbox(tmp_path / "approved.sqlite", phase0_project / "sql" / "baseline")
    _run(pytester, "tests/phase0", "--opus-deploy", f"--opus-db={db}", "-p", "no:cacheprovider")
    signed = phase0_project / "reports" / "opus-phase0.json"
    summary = _summary(phase0_project)
    assert (summary["decision"], summary["scope"]) == ("GO", "target"), summary["criteria"]
    approve = ["approve", "--by", "Pat <Lead>", "--note", "go for Phase 1", "--report", str(signed), f"--db={db}"]
    assert cli.main(approve) == 0
    assert "OK: approved by Pat <Lead> (GO" in capsys.readouterr().out
    written = _summary(phase0_project)
    assert written["approval"]["by"] == "Pat <Lead>" and verify_checksum(written)
    html = (phase0_project / "reports" / "opus-phase0.html").read_text(encoding="utf-8")
    assert 'id="opus-approval"' in html and "Approved by Pat &lt;Lead&gt;" in html
    recorded = SandboxTarget(db)
    assert recorded.execute("SELECT signoff_id, decision, approved_by, note FROM dbo.OPUS_Approval") == [
        (written["id"], "GO", "Pat <Lead>", "go for Phase 1")]
    recorded.close()
    assert cli.main(approve) == 2
    assert "already approved by Pat <Lead>" in capsys.readouterr().err
    # a partial run (one phase, validating the target as it is) is never approvable
    _run(pytester, "tests/phase0", "-m", "schema", f"--opus-db={db}", "-p", "no:cacheprovider")
    partial = phase0_project / "reports" / "opus-phase0-run.json"
    assert cli.main(["approve", "--by", "Pat", "--note", "x", "--report", str(partial), f"--db={db}"]) == 2
    assert "partial run, not a sign-off" in capsys.readouterr().err
