"""The schema phase through pytester: a note (an index under the older scripts' name) is shown, never failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox

pytest_plugins = ["pytester"]


def test_an_index_under_another_name_passes_the_schema_phase_with_a_note(
        pytester: pytest.Pytester, phase0_project: Path, tmp_path: Path) -> None:
    db = create_sandbox(tmp_path / "upstream.sqlite", phase0_project / "sql" / "baseline")
    target = SandboxTarget(db)
    assert target.run_script_file(str(phase0_project / "sql" / "deploy_opus_update_boards.sql")).ok
    renamed = target.execute_script("DROP INDEX IX_MON_UpdateAudit_batch_id ON dbo.MON_UpdateAudit;\n"
                                    "CREATE INDEX IX_MON_UpdateAudit_BatchId ON dbo.MON_UpdateAudit (batch_id);\n",
                                    source="rename_index.sql")
    assert renamed.ok, renamed.summary()
    target.close()
    # validated as it is (no --opus-deploy): the per-object schema tests, against the persistent file
    result = pytester.runpytest("tests/phase0", "-m", "schema", "-k", "test_schema_object", f"--opus-db={db}",
                                "-p", "no:cacheprovider", "--import-mode=importlib")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*opus schema*", "dbo.MON_UpdateAudit: ok, 1 note",
                                 "  note: index IX_MON_UpdateAudit_batch_id (batch_id) is present as "
                                 "IX_MON_UpdateAudit_BatchId (batch_id)*EXEC sp_rename*"])
    # a partial run: its own run report, never the sign-off files
    summary = json.loads((phase0_project / "reports" / "opus-phase0-run.json").read_text(encoding="utf-8"))
    assert summary["evidence"]["schema.notes"] == 1
    html = (phase0_project / "reports" / "opus-phase0-run.html").read_text(encoding="utf-8")
    assert "schema notes (not failures)" in html and "IX_MON_UpdateAudit_BatchId" in html
