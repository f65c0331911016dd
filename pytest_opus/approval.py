"""The project lead's approval of a Phase 0 sign-off: who, when, with what note, for which sign-off.

`opus-sql approve --by NAME --note TEXT [--database NAME | --dsn DSN | --db PATH]` reads the sign-off
JSON (default `reports/opus-phase0.json`), checks that it is one (a complete run), that its decision
is GO and that it signed off a named database, unless told explicitly (`--accept-no-go`,
`--rehearsal`), and records the approval:

- in the target database, in `dbo.OPUS_Approval` (created on first use; never dropped), with the
  sign-off's id and SHA-256, so the database itself says who approved what it holds;
- in the sign-off JSON (`approval`), and in its HTML report, above the criteria.

A sign-off of a database may be recorded only in that database: the target given must be the one the
sign-off names (the same sandbox file, or a DSN with the same server and database), else nothing is
recorded (issue 13: an approval written into the wrong database would vouch for a run it never had).

The checksum covers the sign-off as it was written, without its `approval`: editing a criterion
afterwards makes the recorded checksum disagree with the file (`verify_checksum`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from .errors import ConfigError, OpusError
from .targets.base import Target

APPROVAL_DDL = """\
IF OBJECT_ID(N'dbo.OPUS_Approval', N'U') IS NULL
    CREATE TABLE dbo.OPUS_Approval (
        approval_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_Approval PRIMARY KEY,
        signoff_id NVARCHAR(200) NOT NULL,
        signoff_sha256 CHAR(64) NOT NULL,
        decision VARCHAR(20) NOT NULL,
        scope VARCHAR(20) NOT NULL,
        approved_by NVARCHAR(200) NOT NULL,
        approved_utc DATETIME2 NOT NULL,
        note NVARCHAR(2000) NULL,
        login_name NVARCHAR(128) NULL,
        host_name NVARCHAR(128) NULL
    );
"""


@dataclass(frozen=True)
class Approval:
    signoff_id: str
    signoff_sha256: str
    decision: str  # the sign-off's decision that was approved (GO, or NO-GO when accepted explicitly)
    scope: str
    target: str
    by: str
    at: str  # UTC, ISO 8601
    note: str
    recorded_in_target: bool


def checksum(data: dict[str, Any]) -> str:
    """SHA-256 of the sign-off as written by the run (its `approval`, if any, left out)."""
    content = {k: v for k, v in data.items() if k != "approval"}
    return hashlib.sha256(json.dumps(content, indent=2, default=str).encode("utf-8")).hexdigest()


def load_sign_off(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no sign-off at {path}: run `pytest --opus-deploy` first (a complete Phase 0 run "
                          "writes it)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not a readable sign-off ({error}); give the JSON a Phase 0 run wrote") from None
    if not isinstance(data, dict) or "decision" not in data or "criteria" not in data:
        raise ConfigError(f"{path} is not a Phase 0 sign-off JSON")
    return data


def check_approvable(data: dict[str, Any], *, accept_no_go: bool, rehearsal: bool) -> None:
    """ConfigError when this sign-off may not be approved as asked."""
    if not data.get("sign_off", data.get("scenario") != "incomplete") or data.get("scenario") == "incomplete":
        raise ConfigError("this is a partial run, not a sign-off: nothing to approve (run the whole Phase 0 suite)")
    if data.get("approval"):
        previous = data["approval"]
        raise ConfigError(f"this sign-off was already approved by {previous.get('by')} at {previous.get('at')}")
    if data["decision"] != "GO" and not accept_no_go:
        raise ConfigError(f"the sign-off's decision is {data['decision']}: approving Phase 1 on it needs "
                          "--accept-no-go (and a note saying why)")
    if data.get("scope") == "rehearsal" and not rehearsal:
        raise ConfigError("this sign-off is a rehearsal on a disposable sandbox, not of a database: approving it "
                          "needs --rehearsal (it then approves the scripts and the library, not a deployment)")


_SANDBOX_PREFIXES = ("sandbox file ", "sandbox ")
_SERVER_KEYS = ("server", "data source", "address", "addr", "host")
_DATABASE_KEYS = ("database", "initial catalog", "dbname")
_DSN_PAIR = re.compile(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)\s*(?:;|$)")


def _database_identity(display: str) -> tuple[str, str]:
    """(kind, identity) of a target as the sign-off or the target shows it (passwords already masked).

    A sandbox is its resolved file; a DSN is its server and database (letter case ignored), or its
    whole text where it names neither, so two spellings of one connection string still agree.
    """
    text = display.strip()
    for prefix in _SANDBOX_PREFIXES:
        if text.startswith(prefix):
            return "sandbox", str(Path(text[len(prefix):]).expanduser().resolve())
    text = text.removeprefix("odbc-sqlite ")
    pairs = {key.strip().lower(): value.strip().strip("{}").lower() for key, value in _DSN_PAIR.findall(text)}
    server = next((pairs[k] for k in _SERVER_KEYS if k in pairs), "")
    database = next((pairs[k] for k in _DATABASE_KEYS if k in pairs), "")
    if server or database:
        return "dsn", f"server={server};database={database}"
    return "dsn", re.sub(r"\s+", "", text).lower()


def check_target(data: dict[str, Any], target_display: str) -> None:
    """ConfigError when the sign-off is for a database and `target_display` shows another one."""
    if data.get("scope") != "target":
        return  # a rehearsal names no database
    signed = str(data.get("target") or "")
    if not signed or _database_identity(signed) != _database_identity(target_display):
        raise ConfigError(
            f"the sign-off is for {signed or 'an unnamed database'}, but the approval would be recorded in "
            f"{target_display}: name the database the sign-off was for (--database, --dsn or --db), or run "
            "Phase 0 on this one first (nothing was recorded)"
        )


def approve(data: dict[str, Any], *, by: str, note: str, target: Target | None) -> Approval:
    """Record the approval in `target` (when given) and return it; the caller writes it to the files.

    ConfigError, with nothing recorded, when `target` is not the database the sign-off was for.
    """
    if not by.strip():
        raise ConfigError("--by must name the person approving")
    if target is not None:
        check_target(data, target.display_name)
    approval = Approval(
        signoff_id=str(data.get("id") or ""), signoff_sha256=checksum(data), decision=data["decision"],
        scope=str(data.get("scope", "")), target=str(data.get("target", "")), by=by.strip(),
        at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), note=note, recorded_in_target=target is not None)
    if target is not None:
        result = target.execute_script(APPROVAL_DDL, source="<approval>")
        if not result.ok:
            raise OpusError(f"cannot create dbo.OPUS_Approval: {result.error}")
        with target.transaction():
            target.execute(
                "INSERT INTO dbo.OPUS_Approval (signoff_id, signoff_sha256, decision, scope, approved_by, "
                "approved_utc, note, login_name, host_name) VALUES (?, ?, ?, ?, ?, SYSUTCDATETIME(), ?, "
                "SUSER_SNAME(), HOST_NAME())",
                (approval.signoff_id, approval.signoff_sha256, approval.decision, approval.scope, approval.by,
                 approval.note))
    return approval


def write_approval(data: dict[str, Any], approval: Approval, json_path: Path, html_path: Path | None) -> None:
    """The approval into the sign-off JSON and, above its criteria, into the HTML report."""
    data["approval"] = asdict(approval)
    json_path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    if html_path is not None and html_path.is_file():
        html = html_path.read_text(encoding="utf-8")
        marker = '<p id="opus-scenario">'
        if marker in html and 'id="opus-approval"' not in html:
            html = html.replace(marker, approval_html(approval) + marker, 1)
            html_path.write_text(html, encoding="utf-8")


def approval_html(approval: Approval) -> str:
    where = "recorded in the target database" if approval.recorded_in_target else "recorded in this report only"
    return (f'<p id="opus-approval"><b>Approved by {escape(approval.by)}</b> at {escape(approval.at)} '
            f"(decision {escape(approval.decision)}, sign-off {escape(approval.signoff_id)}, SHA-256 "
            f"{escape(approval.signoff_sha256[:12])}, {where}): {escape(approval.note)}</p>")


def verify_checksum(data: dict[str, Any]) -> bool:
    """Whether the sign-off still reads as it did when it was approved."""
    approval: dict[str, Any] | None = data.get("approval")
    return approval is not None and approval.get("signoff_sha256") == checksum(data)
