"""The Phase 0 sign-off as the project lead reads it: the HTML section at the top of the pytest-html
report, the JSON summary, the timestamped history copy and the terminal lines. Every value that came
from the database or YAML is escaped (html.escape) before it reaches the page.

The report package renders plain data (the summary dict `signoff.sign_off` builds); it never reads
the run's state. Its other modules: `history` (reports/index.html), `junit` (the decision as a JUnit
test case), `html_hooks` (the pytest-html hooks, registered only with pytest-html).
"""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from .. import __version__
from ..criteria import SCENARIOS, SUCCESS_RATE_DEFINITION, Decision

_STYLE = """
<style>
#opus-phase0 {font-family: sans-serif; border: 2px solid #444; padding: 12px 16px; margin: 0 0 16px 0}
#opus-phase0 .decision {font-size: 1.6em; font-weight: bold; padding: 6px 12px; display: inline-block}
#opus-phase0 .go {background: #d4edda; color: #155724} #opus-phase0 .nogo {background: #f8d7da; color: #721c24}
#opus-phase0 table {border-collapse: collapse; margin: 8px 0} #opus-phase0 td, #opus-phase0 th
{border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top}
#opus-phase0 .pass {color: #155724; font-weight: bold} #opus-phase0 .fail {color: #721c24; font-weight: bold}
#opus-phase0 .unmeasured {color: #856404; font-weight: bold}
</style>
"""


def environment(target_display: str, root: Path) -> dict[str, str]:
    """Versions, the git commit and the (masked) target, for the record."""
    import pytest
    import sqlglot

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True,
                               timeout=5).stdout.strip()
        if dirty and commit != "unknown":
            commit += " (with uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    import sqlite3

    return {
        "target": target_display,
        "pytest-opus": __version__,
        "python": platform.python_version(),
        "pytest": pytest.__version__,
        "sqlglot": sqlglot.__version__,
        "sqlite": sqlite3.sqlite_version,
        "git commit": commit,
    }


def summary_dict(decision: Decision, env: dict[str, str], extra: dict[str, Any]) -> dict[str, Any]:
    data = decision.to_dict()
    data["environment"] = env
    data.update(extra)
    return data


def write_json(data: dict[str, Any], path: Path, history_dir: Path) -> Path:
    """Write the summary and a timestamped copy under history/; returns the history file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    history_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    history = history_dir / f"opus-phase0-{stamp}.json"
    text = json.dumps(data, indent=2, default=str)
    path.write_text(text, encoding="utf-8")
    history.write_text(text, encoding="utf-8")
    return history


def _estimate(phase: dict[str, Any]) -> str:
    minutes = phase.get("seed_minutes")
    return f"{minutes} min" if minutes else "-"


def html_section(data: dict[str, Any]) -> str:
    """The Phase 0 section shown above pytest-html's results."""
    go = data["decision"] == "GO"
    rows = []
    group = None
    for c in data["criteria"]:
        if c["group"] != group:
            group = c["group"]
            rows.append(f'<tr><th colspan="4">{escape(group)}</th></tr>')
        status = ('<span class="pass">PASS</span>' if c["passed"] else
                  '<span class="unmeasured">NOT MEASURED</span>' if c.get("status") == "not measured" else
                  '<span class="fail">FAIL</span>')
        rows.append(f"<tr><td>{status}</td><td>{escape(c['name'])}</td><td>{escape(c.get('threshold', ''))}</td>"
                    f"<td>{escape(c['evidence'])}</td></tr>")
    phase_rows = [
        f"<tr><td>{escape(name)}</td><td>{p['passed']}</td><td>{p['failed']}</td><td>{p['skipped']}</td>"
        f"<td>{p['seconds']:.2f}s</td><td>{_estimate(p)}</td><td>{p['server_warnings']}</td>"
        f"<td>{escape(p['checkpoint'])}</td></tr>"
        for name, p in data["phases"].items()
    ]
    env_rows = [f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in data["environment"].items()]
    rollback = data.get("rollback")
    rollback_html = ""
    if rollback:
        rollback_html = ('<table id="opus-rollback"><tr><th>rollback after failure</th><td>'
                         f"{escape(rollback)}</td></tr></table>")
    server = data.get("server_messages") or {}
    server_html = ""
    if any(server.values()):
        items = "".join(f"<li>{escape(phase)}: {escape(text)}</li>" for phase, texts in server.items()
                        for text in texts)
        server_html = f"<p><b>Database messages other than PRINT output:</b></p><ul>{items}</ul>"
    failed = [c["name"] for c in data["criteria"] if not c["passed"]]
    failed_html = ("<p><b>Failed criteria:</b> " + escape("; ".join(failed)) + "</p>") if failed else ""
    return (
        _STYLE
        + '<section id="opus-phase0"><h2>OPUS Update Boards: Phase 0 sign-off</h2>'
        + f'<div class="decision {"go" if go else "nogo"}" id="opus-decision">'
        + f'Decision: {escape(headline(data))}</div>'
        + f'<p id="opus-scope"><b>{escape(scope_line(data))}</b></p>'
        + f'<p id="opus-scenario">{escape(SCENARIOS[data["scenario"]])}</p>'
        + failed_html + rollback_html
        + "<table><tr><th>status</th><th>criterion</th><th>required</th><th>evidence</th></tr>" + "".join(rows)
        + "</table>"
        + "<h3>Phases and checkpoints</h3><table><tr><th>phase</th><th>passed</th><th>failed</th>"
        + "<th>skipped</th><th>time</th><th>seed's estimate</th><th>database warnings</th><th>checkpoint</th></tr>"
        + "".join(phase_rows) + "</table>" + server_html + ledger_html(data.get("deployment_status"))
        + f"<p><small>{escape(SUCCESS_RATE_DEFINITION)}</small></p>"
        + "<h3>Run</h3><table>" + "".join(env_rows) + "</table></section>"
    )


def ledger_html(status: dict[str, Any] | None) -> str:
    """The target's deployment ledger, as `opus-sql status` shows it: runs, scripts, ownership, drift."""
    if not status:
        return ""
    if "error" in status:
        return f"<h3>Deployment ledger</h3><p>could not be read: {escape(status['error'])}</p>"
    if not status["ledger"]:
        return "<h3>Deployment ledger</h3><p>none in this database (pytest-opus has not deployed here)</p>"
    runs = "".join(
        f"<tr><td>{r['run_id']}</td><td>{escape(r['started'][:19])}</td><td>{escape(r['outcome'])}</td>"
        f"<td>{escape(r['script_name'])}</td><td>{escape((r['sha256'] or 'no checksum')[:12])}</td>"
        f"<td>{escape(r['os_user'] or r['login'] or '')}@{escape(r['host'] or '')}</td></tr>"
        for r in status["runs"][-10:])
    items = [("scripts", "; ".join(status["scripts"]) or "none"),
             ("owned (a rollback removes these)", status["owned_summary"]),
             ("found (kept by every rollback)", status["found_summary"]),
             ("backups not restored", f"{status['backups_not_restored']['values']} value(s), "
                                      f"{status['backups_not_restored']['audit_rows']} audit row(s)"),
             ("problems (drift, changed scripts)", "; ".join(status["problems"]) or "none")]
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in items)
    return ('<h3>Deployment ledger</h3><table id="opus-ledger"><tr><th>run</th><th>started (UTC)</th>'
            "<th>outcome</th><th>script</th><th>SHA-256</th><th>by</th></tr>" + runs + "</table>"
            f"<table>{facts}</table>")


def headline(data: dict[str, Any]) -> str:
    """The decision with its scope: what was signed off, and where.

    A rehearsal on a disposable sandbox shows the scripts and the library are ready; only a named
    persistent database can be signed off for itself. A run that was not the whole suite is no
    sign-off at all, whatever its tests did.
    """
    if data["scenario"] == "incomplete" or not data.get("sign_off", True):
        return "NO SIGN-OFF (incomplete run: part of the Phase 0 suite, or nothing deployed)"
    if data.get("scope") == "rehearsal":
        return f"REHEARSAL {data['decision']} (disposable sandbox: no database was signed off)"
    return f"{data['decision']} for {data.get('target', 'the target')}"


def scope_line(data: dict[str, Any]) -> str:
    """Where the decision applies and on which data, in one line beside the headline (the first screen)."""
    target = data.get("target") or "the target"
    if data.get("scope") == "rehearsal":
        where = (f"Scope: rehearsal. Target: {target}, made for this run and thrown away; the decision is about "
                 "the scripts and the library, no database was signed off")
    else:
        where = f"Scope: target. Target: {target}, a persistent database; the decision is about it"
    source = (data.get("evidence") or {}).get("workflow.sample_source")
    return where + (f". Data: {source}" if source else "")


def terminal_lines(data: dict[str, Any]) -> list[str]:
    lines = [f"Phase 0 decision: {headline(data)} ({SCENARIOS[data['scenario']]})", f"  {scope_line(data)}"]
    for c in data["criteria"]:
        mark = "PASS" if c["passed"] else "NOT MEASURED" if c.get("status") == "not measured" else "FAIL"
        lines.append(f"  [{mark}] {c['name']}: {c['evidence']}")
    if data.get("rollback"):
        lines.append(f"  rollback: {data['rollback']}")
    return lines


def table_html(headers: list[str], rows: list[list[Any]]) -> str:
    """A small escaped HTML table, for per-test report extras."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f'<table border="1" cellpadding="3"><tr>{head}</tr>{body}</table>'
