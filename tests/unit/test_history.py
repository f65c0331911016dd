"""reports/index.html from the history files: every run listed, an unreadable one named, values escaped."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_opus.report.history import read_history, render_index, sparkline, write_index


def _record(directory: Path, stamp: str, **data: object) -> None:
    base = {"decision": "GO", "scenario": "success", "sign_off": True, "scope": "target", "criteria": [],
            "target": "sandbox file <x>", "phases": {"deploy": {"seconds": 1.5}, "schema": {"seconds": 0.5}},
            "evidence": {"workflow.success_rate": 0.967}}
    base.update(data)
    (directory / f"opus-phase0-{stamp}.json").write_text(json.dumps(base), encoding="utf-8")


def test_runs_are_listed_newest_first_with_their_figures(tmp_path: Path) -> None:
    history = tmp_path / "history"
    history.mkdir()
    _record(history, "20261201T100000000000Z")
    _record(history, "20261202T100000000000Z", decision="NO-GO", scenario="failure",
            evidence={"workflow.success_rate": 0.9})
    (history / "opus-phase0-20261203T100000000000Z.json").write_text("{not json", encoding="utf-8")
    rows = read_history(history)
    assert [r.decision for r in rows] == ["GO", "NO-GO", "?"]
    assert rows[0].seconds == 2.0 and rows[1].success_rate == 0.9
    assert rows[2].problem == "cannot be read: JSONDecodeError"
    page = write_index(tmp_path).read_text(encoding="utf-8")
    assert page.index("2026-12-03") < page.index("2026-12-02") < page.index("2026-12-01")
    assert "sandbox file &lt;x&gt;" in page and "<x>" not in page
    assert "GO for sandbox file &lt;x&gt;" in page and "96.7%" in page and "90.0%" in page


def test_sparkline_draws_what_it_has() -> None:
    assert "polyline" in sparkline([0.9, None, 0.95], label="rate")
    assert "no data" in sparkline([None, None], label="rate")
    assert render_index([]).count("<tr>") == 1  # the header only
