"""pytest-html hook implementations: the Phase 0 section and per-test extras (registered only with pytest-html)."""

from __future__ import annotations

from typing import Any

import pytest

from .. import fixtures
from . import html_section


def pytest_html_report_title(report: Any) -> None:
    report.title = "OPUS Update Boards: Phase 0 sign-off report"


def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    data = session.config.stash[fixtures.run_key].sign_off
    if data is not None:
        prefix.insert(0, html_section(data))


def attach_extras(item: pytest.Item, rep: pytest.TestReport) -> None:
    import pytest_html

    attachments = item.config.stash[fixtures.run_key].attachments.get(item.nodeid, [])
    if not attachments:
        return
    extras: list[Any] = getattr(rep, "extras", [])
    for title, html in attachments:
        extras.append(pytest_html.extras.html(f"<div><b>{title}</b>{html}</div>"))
    rep.extras = extras  # type: ignore[attr-defined]
