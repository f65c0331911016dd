"""The project lead's approval (issue 12): recorded in the target and the sign-off, refused when it must be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_opus import cli
from pytest_opus.approval import approve, check_approvable, check_target, checksum, verify_checksum, write_approval
from pytest_opus.errors import ConfigError
from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox

ROOT = Path(__file__).resolve().parents[2]


def sign_off(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "decision": "GO", "scenario": "success", "criteria": [], "phases": {}, "sign_off": True,
        "scope": "target", "target": "sandbox file /x.sqlite", "id": "opus-phase0-20261203T000000Z",
        "report": "reports/opus-phase0.html"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(("overrides", "flags", "words"), [
    ({"scenario": "incomplete", "sign_off": False}, {}, "partial run, not a sign-off"),
    ({"decision": "NO-GO", "scenario": "failure"}, {}, "needs --accept-no-go"),
    ({"scope": "rehearsal"}, {}, "needs --rehearsal"),
    ({"approval": {"by": "A", "at": "T"}}, {}, "already approved by A"),
])
def test_refusals(overrides: dict[str, Any], flags: dict[str, bool], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        check_approvable(sign_off(**overrides), accept_no_go=False, rehearsal=False, **flags)


def test_explicit_flags_allow_no_go_and_rehearsal() -> None:
    check_approvable(sign_off(decision="NO-GO", scenario="failure"), accept_no_go=True, rehearsal=False)
    check_approvable(sign_off(scope="rehearsal"), accept_no_go=False, rehearsal=True)


def test_an_approval_is_recorded_in_the_target_and_the_files(tmp_path: Path) -> None:
    data = sign_off(target=f"sandbox file {tmp_path / 'db.sqlite'}")
    json_path, html_path = tmp_path / "opus-phase0.json", tmp_path / "opus-phase0.html"
    json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    html_path.write_text('<section id="opus-phase0"><p id="opus-scenario">x</p></section>', encoding="utf-8")
    target = SandboxTarget(tmp_path / "db.sqlite")
    try:
        approval = approve(data, by="Pat <Lead>", note="ok & go", target=target)
        rows = target.execute("SELECT signoff_id, signoff_sha256, decision, approved_by, note FROM dbo.OPUS_Approval")
    finally:
        target.close()
    assert rows == [(data["id"], checksum(data), "GO", "Pat <Lead>", "ok & go")]
    write_approval(data, approval, json_path, html_path)
    written = json.loads(json_path.read_text(encoding="utf-8"))
    assert written["approval"]["by"] == "Pat <Lead>" and verify_checksum(written)
    html = html_path.read_text(encoding="utf-8")
    assert "Approved by Pat &lt;Lead&gt;" in html and "ok &amp; go" in html
    written["criteria"] = [{"name": "edited afterwards"}]
    assert not verify_checksum(written)


def test_opus_sql_approve_needs_the_database_of_a_target_sign_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n', encoding="utf-8")
    (tmp_path / "reports").mkdir()
    signed = sign_off(target=f"sandbox file {tmp_path / 'db.sqlite'}")
    (tmp_path / "reports" / "opus-phase0.json").write_text(json.dumps(signed, indent=2), encoding="utf-8")
    assert cli.main(["approve", "--by", "Pat", "--note", "go"]) == 2
    assert "name that database" in capsys.readouterr().err
    create_sandbox(tmp_path / "db.sqlite", ROOT / "sql" / "baseline")  # a 0-byte file is refused as no database
    assert cli.main(["approve", "--by", "Pat", "--note", "go", "--db", str(tmp_path / "db.sqlite")]) == 0
    assert "OK: approved by Pat (GO" in capsys.readouterr().out
    assert cli.main(["approve", "--by", "Sam", "--note", "again", "--db", str(tmp_path / "db.sqlite")]) == 2


def test_an_approval_for_another_database_is_refused_and_nothing_is_recorded(tmp_path: Path) -> None:
    """Issue 13: `approve --db X` must be refused when the sign-off was for another database."""
    data = sign_off(target=f"sandbox file {tmp_path / 'signed.sqlite'}")
    target = SandboxTarget(tmp_path / "other.sqlite")
    try:
        with pytest.raises(ConfigError) as refused:
            approve(data, by="Pat", note="go", target=target)
        tables = target.execute("SELECT COUNT(*) FROM sys.tables WHERE name = 'OPUS_Approval'")
    finally:
        target.close()
    message = str(refused.value)
    assert f"sign-off is for sandbox file {tmp_path / 'signed.sqlite'}" in message
    assert f"recorded in sandbox {tmp_path / 'other.sqlite'}" in message
    assert "name the database the sign-off was for" in message
    assert tables == [(0,)]


@pytest.mark.parametrize(("signed", "given", "same"), [
    ("sandbox file /srv/opus/dms.sqlite", "sandbox /srv/opus/../opus/dms.sqlite", True),
    ("sandbox file /srv/opus/dms.sqlite", "sandbox /srv/opus/dms2.sqlite", False),
    ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db1,1433;Database=DMS;UID=u;PWD=***",
     "DRIVER={ODBC Driver 18 for SQL Server}; SERVER=tcp:DB1,1433; DATABASE=dms; UID=other; PWD=***", True),
    ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db1,1433;Database=DMS;PWD=***",
     "Driver={ODBC Driver 18 for SQL Server};Server=tcp:db1,1433;Database=DMS_TEST;PWD=***", False),
    ("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db1,1433;Database=DMS;PWD=***",
     "Driver={ODBC Driver 18 for SQL Server};Server=tcp:db2,1433;Database=DMS;PWD=***", False),
    ("sandbox file /srv/opus/dms.sqlite", "Driver={ODBC Driver 18 for SQL Server};Server=db1;Database=dms", False),
])
def test_the_same_database_is_recognised_whatever_the_spelling(signed: str, given: str, same: bool) -> None:
    data = sign_off(target=signed)
    if same:
        check_target(data, given)
    else:
        with pytest.raises(ConfigError, match="the sign-off is for"):
            check_target(data, given)


def test_a_rehearsal_names_no_database_to_compare() -> None:
    check_target(sign_off(scope="rehearsal", target="disposable sandbox (SQLite, new for this run)"), "sandbox /x.db")


def test_opus_sql_approve_in_the_wrong_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n', encoding="utf-8")
    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "opus-phase0.json"
    report.write_text(json.dumps(sign_off(target=f"sandbox file {tmp_path / 'prod.sqlite'}"), indent=2),
                      encoding="utf-8")
    create_sandbox(tmp_path / "test.sqlite", ROOT / "sql" / "baseline")
    before = report.read_text(encoding="utf-8")
    assert cli.main(["approve", "--by", "Pat", "--note", "go", "--db", str(tmp_path / "test.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "prod.sqlite" in err and "test.sqlite" in err and "Traceback" not in err
    assert report.read_text(encoding="utf-8") == before  # nothing written into the sign-off either
