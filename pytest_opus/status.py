"""What is deployed on a database, by which script, and what drifted: the view behind `opus-sql status`.

It reads, and changes nothing: the ledger (`ledger.read_ledger`), the scripts in `sql/` now (their
SHA-256 against the checksum each run recorded), and the live catalog against the expectations.
Which expectations: `expectations/schema/` while the ledger holds live objects (something is
deployed, by this tool or found), `expectations/after_rollback/` once a rollback has removed them all.
A database without a ledger is compared with `expectations/schema/`: it may be an older deployment.

`Status.problems` lists what makes the command exit non-zero: drift (a finding; a note is not
drift), or a script whose latest committed run recorded another checksum than the file has now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OpusError
from .expectations import ObjectResult, compare, format_findings, load_expectations
from .ledger import Ledger, LedgerObject, read_ledger, sha256_of
from .targets.base import Target


@dataclass(frozen=True)
class ScriptCheck:
    """A script's latest committed run against the file of that name in `sql/` now."""

    script: str
    run_id: int
    recorded: str | None  # the SHA-256 the run recorded; None for a run outside the tool (sqlcmd)
    current: str | None  # the file's SHA-256 now; None when sql/ has no such file

    @property
    def changed(self) -> bool:
        return self.recorded is not None and self.current is not None and self.recorded != self.current

    def describe(self) -> str:
        where = f"{self.script}: run {self.run_id}"
        if self.recorded is None:
            return f"{where}, checksum unknown (run outside the tool, e.g. by sqlcmd)"
        if self.current is None:
            return f"{where}, checksum {self.recorded[:12]}; no such file in sql/ to compare with"
        if self.changed:
            return (f"{where}, CHANGED since: the run recorded {self.recorded[:12]}, "
                    f"sql/{self.script} is now {self.current[:12]}")
        return f"{where}, checksum {self.recorded[:12]} matches sql/{self.script}"


@dataclass
class Status:
    target: str
    ledger: Ledger
    scripts: list[ScriptCheck] = field(default_factory=list)
    expected_state: str = "schema"  # which expectations the schema was compared with
    schema: list[ObjectResult] = field(default_factory=list)
    schema_error: str | None = None  # why the drift could not be checked

    @property
    def drift(self) -> list[ObjectResult]:
        return [r for r in self.schema if not r.ok]

    @property
    def problems(self) -> list[str]:
        found = [f"drift: {r.label} ({len(r.findings)} finding(s))" for r in self.drift]
        if self.schema_error is not None:
            found.append("drift not checked: the expectations could not be read")
        found += [f"checksum: {c.describe()}" for c in self.scripts if c.changed]
        return found

    def lines(self) -> list[str]:
        """The one-screen view: runs, scripts, owned and found objects, drift with its fixes."""
        out = [f"status of {self.target}"]
        ledger = self.ledger
        if not ledger.exists:
            out.append("ledger: none (pytest-opus has not deployed here; an older deployment owns nothing "
                       "until adopted, see docs/dba.md)")
        else:
            owned = [o for o in ledger.live_objects if o.owned]
            found = [o for o in ledger.live_objects if o.ownership == "found"]
            out.append(f"ledger: {len(ledger.runs)} run(s); {len(owned)} object(s) owned, {len(found)} found; "
                       f"backups not restored: {ledger.backed_up_values} value(s), "
                       f"{ledger.backed_up_audit_rows} audit row(s)")
            out.append("runs (latest 10):")
            for run in ledger.runs[-10:]:
                who = "@".join(filter(None, (run.os_user or run.login, run.host)))
                scope = f", scope run {run.scope_run_id}" if run.scope_run_id is not None else ""
                checksum = run.sha256[:12] if run.sha256 else "no checksum"
                out.append(f"  {run.run_id:>4}  {run.started[:19]}  {run.outcome:<9}  {run.script_name}  "
                           f"{checksum}  {who}{scope}")
                if run.outcome == "failed" and run.detail:
                    out.append(f"        {run.detail}")
            out.append("scripts (latest committed run of each):")
            out += [f"  {check.describe()}" for check in self.scripts] or ["  none"]
            out.append(f"owned (a rollback removes these): {_labels(owned)}")
            out.append(f"found (kept by every rollback): {_labels(found)}")
        label = "expectations/after_rollback/" if self.expected_state == "after_rollback" else "expectations/schema/"
        if self.schema_error is not None:
            out.append(f"drift: not checked: {self.schema_error} (run from the project checkout, "
                       "where expectations/ is)")
        elif not self.drift:
            out.append(f"drift: none; the live schema matches {label} ({len(self.schema)} object(s))")
        else:
            out.append(f"drift against {label}:")
            table = format_findings(f for result in self.drift for f in result.findings)
            out += [f"  {line}" if line else "" for line in table.splitlines()]
        out.append("OK: no drift, no changed script" if not self.problems else
                   f"{len(self.problems)} problem(s): " + "; ".join(self.problems))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The same view as plain data, for the report and its JSON."""
        ledger = self.ledger
        return {
            "target": self.target,
            "ledger": ledger.exists,
            "runs": [vars(run) for run in ledger.runs],
            "owned": [o.label for o in ledger.live_objects if o.owned],
            "found": [o.label for o in ledger.live_objects if o.ownership == "found"],
            "owned_summary": _labels([o for o in ledger.live_objects if o.owned]),
            "found_summary": _labels([o for o in ledger.live_objects if o.ownership == "found"]),
            "backups_not_restored": {"values": ledger.backed_up_values, "audit_rows": ledger.backed_up_audit_rows},
            "scripts": [check.describe() for check in self.scripts],
            "expected_state": self.expected_state,
            "drift": [f"{r.label}: {f.kind}" for r in self.drift for f in r.findings],
            "problems": self.problems,
        }


def _labels(objects: list[LedgerObject]) -> str:
    """Objects grouped by the table they belong to, counted by kind: one line for a whole deployment."""
    if not objects:
        return "none"
    groups: dict[str, dict[str, int]] = {}
    for item in objects:
        owner = f"{item.schema}.{item.table or item.name}"
        kind = item.object_type.lower() if item.table else f"{item.object_type.lower()} itself"
        groups.setdefault(owner, {})
        groups[owner][kind] = groups[owner].get(kind, 0) + 1
    def counted(kind: str, count: int) -> str:
        if kind.endswith(" itself"):
            return kind.removesuffix(" itself")
        plural = "es" if kind.endswith("x") else "s"
        return f"{count} {kind}{plural if count > 1 else ''}"

    return "; ".join(f"{owner} ({', '.join(counted(k, n) for k, n in kinds.items())})"
                     for owner, kinds in groups.items())


def read_status(target: Target, sql_dir: Path, expectations_dir: Path) -> Status:
    """The status of `target` against the scripts in `sql_dir` and the expectations under `expectations_dir`."""
    ledger = read_ledger(target)
    status = Status(target.display_name, ledger)
    for name, run in sorted(ledger.last_committed().items()):
        path = sql_dir / name
        current = sha256_of(path.read_bytes()) if path.is_file() else None
        status.scripts.append(ScriptCheck(name, run.run_id, run.sha256, current))
    rolled_back = ledger.exists and not ledger.live_objects and any(o.removed_run_id for o in ledger.objects)
    status.expected_state = "after_rollback" if rolled_back else "schema"
    try:
        expectations = load_expectations(expectations_dir / status.expected_state)
    except OpusError as error:  # the ledger is still worth showing; the drift is unknown, and says why
        status.schema_error = str(error)
        return status
    status.schema = compare(expectations, target.catalog())
    return status
