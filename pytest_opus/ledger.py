"""The deployment ledger kept in the target database: its tables, the run rows the tool writes, and reading it back.

The ledger is what lets a rollback remove only what this tool created, and lets `opus-sql status`
say what is deployed and by which script (as Flyway's schema history or Liquibase's changelog do).
It lives in four tables that the tool creates and never drops (they are the record):

| table | one row per |
|---|---|
| `dbo.OPUS_DeploymentRun` | run of a script through the tool, or of a ledger-aware script through sqlcmd/SSMS |
| `dbo.OPUS_DeploymentObject` | object a deployment created (`created`), found already present (`found`) or adopted |
| `dbo.OPUS_BackupValue` | non-NULL value of an update column a rollback dropped, with its row key and identity |
| `dbo.OPUS_BackupAudit` | row of `dbo.MON_UpdateAudit` that a rollback dropped with the table |

The deploy script writes its object rows itself (so a DBA's sqlcmd run keeps the same ledger), and
the rollback, restore and adopt scripts read and mark them. `run_recorded` is how the tool runs any
script: under the deployment lock, it first opens the run's row in a transaction of its own (with
what only the tool knows: the SHA-256 of the script's bytes, its version, the operating-system
user), then runs the script in its one transaction, then records the outcome. A ledger-aware
script finds its run's row by `@@SPID` and the outcome `running`; run by sqlcmd, it opens one itself.
The run row is committed before the script so that a failed run is recorded as failed (a row written
inside the script's transaction would vanish with its rollback).

The ledger DDL is written twice: here (the tool creates the ledger before any script that changes
the schema) and in the deploy script (for sqlcmd). `tests/unit/test_ledger.py` checks they agree.
"""
from __future__ import annotations

import getpass
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, sqltypes
from .errors import OpusError, ScriptError
from .targets.base import MessageSink, ScriptResult, Target
from .targets.locking import DEFAULT_LOCK_WAIT_SECONDS

#: how much of a failure's description the run row keeps: as much as the longest nvarchar short of MAX
#: holds (the column itself is NVARCHAR(MAX))
DETAIL_CHARACTERS = sqltypes.LENGTH_LIMITS["nvarchar"]

RUN_TABLE = "dbo.OPUS_DeploymentRun"
OBJECT_TABLE = "dbo.OPUS_DeploymentObject"
BACKUP_VALUE_TABLE = "dbo.OPUS_BackupValue"
BACKUP_AUDIT_TABLE = "dbo.OPUS_BackupAudit"
#: the ledger's own tables: bookkeeping, never part of what a deployment or a rollback owns
LEDGER_TABLES = (RUN_TABLE, OBJECT_TABLE, BACKUP_VALUE_TABLE, BACKUP_AUDIT_TABLE)

LEDGER_DDL = """\
IF OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_DeploymentRun (
        run_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_DeploymentRun PRIMARY KEY,
        run_token VARCHAR(36) NULL,
        script_name NVARCHAR(260) NOT NULL,
        script_sha256 CHAR(64) NULL,
        started_utc DATETIME2 NOT NULL CONSTRAINT DF_OPUS_DeploymentRun_started_utc DEFAULT (SYSUTCDATETIME()),
        finished_utc DATETIME2 NULL,
        outcome VARCHAR(20) NOT NULL,
        login_name NVARCHAR(128) NULL,
        host_name NVARCHAR(128) NULL,
        os_user NVARCHAR(128) NULL,
        tool_version VARCHAR(50) NULL,
        session_id INT NULL,
        scope_run_id INT NULL,
        detail NVARCHAR(MAX) NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_DeploymentRun';
END

IF OBJECT_ID(N'dbo.OPUS_DeploymentObject', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_DeploymentObject (
        entry_id INT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_DeploymentObject PRIMARY KEY,
        run_id INT NOT NULL,
        object_type VARCHAR(20) NOT NULL,
        schema_name NVARCHAR(128) NOT NULL,
        table_name NVARCHAR(128) NULL,
        object_name NVARCHAR(128) NOT NULL,
        ownership VARCHAR(10) NOT NULL,
        adopted_run_id INT NULL,
        removed_run_id INT NULL,
        removed_utc DATETIME2 NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_DeploymentObject';
END

IF OBJECT_ID(N'dbo.OPUS_BackupValue', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_BackupValue (
        backup_id BIGINT IDENTITY(1,1) NOT NULL CONSTRAINT PK_OPUS_BackupValue PRIMARY KEY,
        run_id INT NOT NULL,
        schema_name NVARCHAR(128) NOT NULL,
        table_name NVARCHAR(128) NOT NULL,
        row_key BIGINT NOT NULL,
        row_check NVARCHAR(100) NULL,
        column_name NVARCHAR(128) NOT NULL,
        value NVARCHAR(MAX) NOT NULL,
        restored_run_id INT NULL
    );
    PRINT N'Created the ledger table dbo.OPUS_BackupValue';
END

IF OBJECT_ID(N'dbo.OPUS_BackupAudit', N'U') IS NULL
BEGIN
    CREATE TABLE dbo.OPUS_BackupAudit (
        run_id INT NOT NULL,
        audit_id INT NOT NULL,
        batch_id VARCHAR(50) NOT NULL,
        update_operation VARCHAR(50) NOT NULL,
        monday_item_id BIGINT NULL,
        monday_board_id BIGINT NULL,
        column_id VARCHAR(100) NULL,
        old_value NVARCHAR(MAX) NULL,
        new_value NVARCHAR(MAX) NULL,
        update_timestamp DATETIME2 NULL,
        rollback_timestamp DATETIME2 NULL,
        rollback_reason NVARCHAR(500) NULL,
        user_id VARCHAR(100) NULL,
        source_system VARCHAR(50) NULL,
        api_response_id VARCHAR(100) NULL,
        error_message NVARCHAR(MAX) NULL,
        restored_run_id INT NULL,
        CONSTRAINT PK_OPUS_BackupAudit PRIMARY KEY (run_id, audit_id)
    );
    PRINT N'Created the ledger table dbo.OPUS_BackupAudit';
END
"""


def sha256_of(data: bytes) -> str:
    """The checksum the ledger keeps for a script: SHA-256 of the file's bytes, lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def tsql_string(value: str | None) -> str:
    """`value` as a T-SQL Unicode literal (quotes doubled), or NULL."""
    if value is None:
        return "NULL"
    return "N'" + value.replace("'", "''") + "'"


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return None


@dataclass(frozen=True)
class RunRecord:
    """What the tool records about one run of a script, beyond what the database knows itself."""

    script_name: str
    sha256: str
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    scope_run_id: int | None = None  # rollback: only what this run created; restore: this rollback's backups
    os_user: str | None = field(default_factory=_os_user)
    tool_version: str = __version__

    def opening(self, *, create_ledger: bool) -> str:
        """T-SQL that opens this run's row (its own transaction, before the script).

        A `running` row left by this session (a script that stopped midway) is closed as
        `abandoned` first, so the script cannot mistake it for this run. Without `create_ledger`
        the row is written only where the ledger already exists.
        """
        insert = (
            "UPDATE dbo.OPUS_DeploymentRun SET outcome = 'abandoned', finished_utc = SYSUTCDATETIME()\n"
            " WHERE outcome = 'running' AND session_id = @@SPID;\n"
            "INSERT INTO dbo.OPUS_DeploymentRun (run_token, script_name, script_sha256, outcome, login_name,\n"
            "       host_name, os_user, tool_version, session_id, scope_run_id)\n"
            f"VALUES ('{self.token}', {tsql_string(self.script_name)}, '{self.sha256}', 'running', SUSER_SNAME(),\n"
            f"        HOST_NAME(), {tsql_string(self.os_user)}, {tsql_string(self.tool_version)}, @@SPID, "
            f"{'NULL' if self.scope_run_id is None else int(self.scope_run_id)});\n"
        )
        if create_ledger:
            return LEDGER_DDL + insert
        return f"IF OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NOT NULL\nBEGIN\n{insert}END\n"


@dataclass
class RecordedRun:
    """A script run through the tool: its result, and its run row in the ledger (None: not recorded)."""

    result: ScriptResult
    run_id: int | None = None
    record_error: str | None = None  # why the outcome could not be recorded (the script's result stands)


def changes_schema(text: str, source: str) -> bool:
    """Whether a script creates, alters or drops anything (or may: dynamic SQL, unreadable text)."""
    from .effects import cached_script_effects

    try:
        effects = cached_script_effects(text, source)
    except OpusError:
        return True
    return bool(effects.changes)


def run_recorded(
    target: Target,
    text: str,
    *,
    source: str,
    data: bytes | None = None,
    on_message: MessageSink | None = None,
    scope_run_id: int | None = None,
    record: bool = True,
    lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS,
    holder: str = "",
) -> RecordedRun:
    """Run one script on `target` the way the tool always does: one deployment at a time, recorded.

    `data` is the script file's bytes (its checksum); `scope_run_id` goes into the run row (rollback:
    only what that deploy run created; restore: that rollback's backups). With `record` false (a
    read-only validation that must not change the target) nothing is written to the ledger. A
    script that changes the schema creates the ledger first where it is missing; any other script
    is recorded only where a ledger exists. Raises DeploymentLocked when another run holds the lock.
    """
    run = RunRecord(Path(source).name, sha256_of(data if data is not None else text.encode("utf-8")),
                    scope_run_id=scope_run_id)
    with target.deployment_lock(lock_wait, holder or f"pytest-opus running {Path(source).name}"):
        if not record:
            return RecordedRun(target.execute_script(text, source=source, on_message=on_message))
        opened = target.execute_script(run.opening(create_ledger=changes_schema(text, source)), source="<ledger>")
        if not opened.ok:
            # Nothing of the script ran: a ledger that cannot be written is a reason to stop.
            failed = ScriptResult(source=source, error=ScriptError(
                f"could not open this run's row in the deployment ledger, so the script was not run: "
                f"{opened.error.message if opened.error else 'unknown error'}", source=source))
            return RecordedRun(failed)
        result = target.execute_script(text, source=source, on_message=on_message)
        recorded = RecordedRun(result)
        try:
            recorded.run_id = _close(target, run, result)
        except OpusError as error:
            recorded.record_error = str(error)
        return recorded


def _close(target: Target, run: RunRecord, result: ScriptResult) -> int | None:
    if not has_ledger(target):
        return None
    if result.ok:
        target.execute(
            "UPDATE dbo.OPUS_DeploymentRun SET outcome = 'committed', finished_utc = SYSUTCDATETIME() "
            "WHERE run_token = ? AND outcome = 'running'", (run.token,))
    else:
        detail = result.error.describe() if result.error is not None else "failed"
        target.execute(
            "UPDATE dbo.OPUS_DeploymentRun SET outcome = 'failed', finished_utc = SYSUTCDATETIME(), detail = ? "
            "WHERE run_token = ?", (detail[:DETAIL_CHARACTERS], run.token))
    return run_id_of(target, run.token)


def has_ledger(target: Target) -> bool:
    rows = target.execute("SELECT CASE WHEN OBJECT_ID(N'dbo.OPUS_DeploymentRun', N'U') IS NULL THEN 0 ELSE 1 END")
    return bool(rows and rows[0][0])


def run_id_of(target: Target, token: str) -> int | None:
    rows = target.execute("SELECT run_id FROM dbo.OPUS_DeploymentRun WHERE run_token = ?", (token,))
    return int(rows[0][0]) if rows else None


# -- reading the ledger ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    run_id: int
    script_name: str
    sha256: str | None
    started: str
    finished: str | None
    outcome: str
    login: str | None
    host: str | None
    os_user: str | None
    tool_version: str | None
    scope_run_id: int | None
    detail: str | None


@dataclass(frozen=True)
class LedgerObject:
    run_id: int
    object_type: str
    schema: str
    table: str | None
    name: str
    ownership: str  # created | found | adopted
    removed_run_id: int | None

    @property
    def label(self) -> str:
        if self.table:
            return f"{self.object_type.lower()} {self.schema}.{self.table}.{self.name}"
        return f"{self.object_type.lower()} {self.schema}.{self.name}"

    @property
    def owned(self) -> bool:
        return self.ownership in ("created", "adopted") and self.removed_run_id is None


@dataclass(frozen=True)
class Ledger:
    """The ledger as read from a database; empty when the database has none."""

    exists: bool
    runs: tuple[Run, ...] = ()
    objects: tuple[LedgerObject, ...] = ()
    backed_up_values: int = 0  # values held in backups and not restored
    backed_up_audit_rows: int = 0

    @property
    def live_objects(self) -> tuple[LedgerObject, ...]:
        return tuple(o for o in self.objects if o.removed_run_id is None)

    def last_committed(self) -> dict[str, Run]:
        """Per script name, its latest committed run."""
        latest: dict[str, Run] = {}
        for run in self.runs:
            if run.outcome == "committed":
                latest[run.script_name] = run
        return latest


def read_ledger(target: Target) -> Ledger:
    """The ledger of `target`, in five queries; an empty Ledger where the database has none."""
    if not has_ledger(target):
        return Ledger(False)
    runs = target.execute(
        "SELECT run_id, script_name, script_sha256, CONVERT(VARCHAR(30), started_utc),"
        " CONVERT(VARCHAR(30), finished_utc), outcome, login_name, host_name, os_user, tool_version,"
        " scope_run_id, detail FROM dbo.OPUS_DeploymentRun ORDER BY run_id")
    objects = target.execute(
        "SELECT run_id, object_type, schema_name, table_name, object_name, ownership, removed_run_id"
        " FROM dbo.OPUS_DeploymentObject ORDER BY entry_id")
    values = target.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupValue WHERE restored_run_id IS NULL")
    audit = target.execute("SELECT COUNT(*) FROM dbo.OPUS_BackupAudit WHERE restored_run_id IS NULL")
    return Ledger(
        True,
        tuple(Run(int(r[0]), r[1], r[2], _text(r[3]), _text(r[4]), r[5], r[6], r[7], r[8], r[9],
                  None if r[10] is None else int(r[10]), r[11]) for r in runs),
        tuple(LedgerObject(int(r[0]), r[1], r[2], r[3], r[4], r[5], None if r[6] is None else int(r[6]))
              for r in objects),
        int(values[0][0]), int(audit[0][0]),
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
