"""The project lead's approval (issue 12): recorded in the target and the sign-off, refused when it must be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_opus import cli
from pytest_opus.approval import approve, check_approvable, checksum, verify_checksum, write_approval
from pytest_opus.errors import ConfigError
from pytest_opus.targets.sandbox import SandboxTarget


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
    data = sign_off()
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
    (tmp_path / "reports" / "opus-phase0.json").write_text(json.dumps(sign_off(), indent=2), encoding="utf-8")
    assert cli.main(["approve", "--by", "Pat", "--note", "go"]) == 2
    assert "name that database" in capsys.readouterr().err
    SandboxTarget(tmp_path / "db.sqlite").close()
    assert cli.main(["approve", "--by", "Pat", "--note", "go", "--db", str(tmp_path / "db.sqlite")]) == 0
    assert "OK: approved by Pat (GO" in capsys.readouterr().out
    assert cli.main(["approve", "--by", "Sam", "--note", "again", "--db", str(tmp_path / "db.sqlite")]) == 2
