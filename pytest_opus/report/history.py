"""`reports/index.html`: every recorded run in one page, with small inline SVG trends (no JavaScript).

Each Phase 0 run, sign-off or not, leaves a JSON copy in `reports/history/`. This page lists them,
newest first (time, sign-off or run, scope, target, decision, success rate, phase times) and draws
two trends over the runs: the workflow success rate and the total time of the four phases. It is
rebuilt from the history files after every run, so it never says more than they do; a history file
that cannot be read is listed as such, not skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

INDEX_NAME = "index.html"


@dataclass(frozen=True)
class RunRow:
    name: str
    when: str
    sign_off: bool
    scope: str
    target: str
    decision: str
    headline: str
    success_rate: float | None
    seconds: float | None
    problem: str | None = None


def read_history(history_dir: Path) -> list[RunRow]:
    """The runs recorded under `history_dir`, oldest first."""
    from . import headline

    rows: list[RunRow] = []
    for path in sorted(history_dir.glob("opus-phase0-*.json")):
        stamp = path.stem.removeprefix("opus-phase0-")
        when = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]} UTC"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            phases = data.get("phases", {})
            seconds = sum(float(p.get("seconds", 0.0)) for p in phases.values()) if phases else None
            rate = data.get("evidence", {}).get("workflow.success_rate")
            rows.append(RunRow(path.name, when, bool(data.get("sign_off", data.get("scenario") != "incomplete")),
                               str(data.get("scope", "")), str(data.get("target", "")), str(data["decision"]),
                               headline(data), float(rate) if rate is not None else None, seconds))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            rows.append(RunRow(path.name, when, False, "", "", "?", "?", None, None,
                               problem=f"cannot be read: {type(error).__name__}"))
    return rows


def sparkline(values: list[float | None], *, width: int = 240, height: int = 40, label: str) -> str:
    """A small SVG line of `values` (None leaves a gap), scaled to its own range, with its last value."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(label)}: no data"></svg>'
    low, high = min(v for _, v in points), max(v for _, v in points)
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{i * step:.1f},{height - 4 - (v - low) / span * (height - 8):.1f}"

    line = " ".join(xy(i, v) for i, v in points)
    last_x, last_y = xy(*points[-1]).split(",")
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
            f'<polyline fill="none" stroke="#336" stroke-width="1.5" points="{line}"/>'
            f'<circle cx="{last_x}" cy="{last_y}" r="2.5" fill="#336"/></svg>')


def render_index(rows: list[RunRow]) -> str:
    body = []
    for row in reversed(rows):
        rate = f"{row.success_rate * 100:.1f}%" if row.success_rate is not None else "-"
        seconds = f"{row.seconds:.2f}s" if row.seconds is not None else "-"
        kind = "sign-off" if row.sign_off else "run"
        body.append(
            f"<tr><td>{escape(row.when)}</td><td>{kind}</td><td>{escape(row.scope)}</td><td>{escape(row.target)}</td>"
            f"<td>{escape(row.problem or row.headline)}</td><td>{rate}</td><td>{seconds}</td>"
            f'<td><a href="history/{escape(row.name)}">{escape(row.name)}</a></td></tr>')
    rates = sparkline([r.success_rate for r in rows], label="success rate over the runs")
    times = sparkline([r.seconds for r in rows], label="phase time over the runs")
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>OPUS Phase 0 runs</title><style>"
        "body{font-family:sans-serif} table{border-collapse:collapse} td,th{border:1px solid #bbb;"
        "padding:3px 8px;text-align:left}</style></head><body><h1>OPUS Phase 0 runs</h1>"
        f"<p>{len(rows)} run(s) recorded in reports/history/.</p>"
        f"<p>Success rate: {rates} &nbsp; Time of the four phases: {times}</p>"
        "<table><tr><th>when</th><th>kind</th><th>scope</th><th>target</th><th>decision</th>"
        "<th>success rate</th><th>phase time</th><th>record</th></tr>" + "".join(body) + "</table></body></html>")


def write_index(reports_dir: Path) -> Path:
    """Rebuild `reports/index.html` from `reports/history/`; returns its path."""
    path = reports_dir / INDEX_NAME
    path.write_text(render_index(read_history(reports_dir / "history")), encoding="utf-8")
    return path
