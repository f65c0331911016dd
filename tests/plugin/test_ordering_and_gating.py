"""The plugin's surface through pytester: phase order, gating and skip reasons, options and header."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

LATE_FILE = """
import pytest

@pytest.mark.infrastructure
def test_infra():
    pass

@pytest.mark.workflow
def test_workflow():
    pass
"""

EARLY_FILE = """
import os
import pytest

@pytest.mark.schema
def test_schema():
    assert os.environ.get("BREAK_SCHEMA") != "1", "planted schema failure"

@pytest.mark.deploy
def test_deploy():
    pass

def test_unrelated():
    pass
"""


def _order(result: pytest.RunResult) -> list[str]:
    return [line.split("::")[1].split(" ")[0] for line in result.outlines if "::" in line and
            ("PASSED" in line or "SKIPPED" in line or "FAILED" in line)]


def test_items_run_in_phase_order_whatever_the_file_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_late=LATE_FILE, test_z_early=EARLY_FILE)
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    assert _order(result) == ["test_deploy", "test_schema", "test_workflow", "test_infra", "test_unrelated"]


def test_failed_phase_skips_later_phases_naming_the_failure(pytester: pytest.Pytester,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAK_SCHEMA", "1")
    pytester.makepyfile(test_a_late=LATE_FILE, test_z_early=EARLY_FILE)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "*phase 'schema' failed (test_z_early.py::test_schema), so phase 'workflow' is skipped*",
        "*phase 'schema' failed (test_z_early.py::test_schema), so phase 'infrastructure' is skipped*",
    ])
    assert result.ret != 0


def test_marker_selection_runs_one_phase_without_the_earlier_ones(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_late=LATE_FILE, test_z_early=EARLY_FILE)
    result = pytester.runpytest("-m", "workflow", "--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_k_selection_keeps_phase_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a_late=LATE_FILE, test_z_early=EARLY_FILE)
    result = pytester.runpytest("-v", "-k", "infra or deploy", "-p", "no:cacheprovider")
    assert _order(result) == ["test_deploy", "test_infra"]


def test_help_works_with_a_broken_dsn(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help", "--opus-dsn", "Driver={Nope};Server=x;UID=u;PWD=hunter2secret")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--opus-deploy*", "*--opus-dsn*", "*--opus-db*"])
    assert "hunter2secret" not in result.stdout.str()


def test_header_shows_masked_target_sources_and_consent(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPUS_DSN", "Driver={SQLite3};Database=x.db;PWD=hunter2secret")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    out = result.stdout.str()
    assert "hunter2secret" not in out
    result.stdout.fnmatch_lines(["opus target: *PWD=[*][*][*] [[]env OPUS_DSN[]]",
                                 "opus deploy: no: validating the target as it is"])


def test_ini_and_command_line_precedence(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nopus_report = from-ini.html\nopus_expectations = exp-ini\n")
    monkeypatch.setenv("OPUS_REPORT", "from-env.html")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--opus-expectations", "exp-cli")
    result.stdout.fnmatch_lines(["opus expectations: *exp-cli [[]command line[]]",
                                 "opus report: *from-env.html [[]env OPUS_REPORT[]]"])
