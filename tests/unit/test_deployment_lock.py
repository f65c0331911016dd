"""One deployment at a time: the SQLite file lock between real processes, SQL Server's application lock
against a scripted connection that answers as Microsoft documents sp_getapplock."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_odbc_sqlite import _require_sqlite_odbc
from test_sqlserver_target import MS_PREFIX, _pyodbc, pyodbc_error

from pytest_opus.errors import ConfigError, DeploymentLocked, DeploymentLockError, OpusError
from pytest_opus.targets.locking import (
    APPLOCK_HOLDER_QUERY,
    APPLOCK_RESOURCE,
    LOCK_FILE_SUFFIX,
    command_line,
)
from pytest_opus.targets.sandbox import SandboxTarget

ROOT = Path(__file__).resolve().parents[2]

# A process that takes the deployment lock of the sandbox file argv[1] for the purpose argv[2],
# says "held", and keeps it until its stdin is closed.
HOLD = """
import sys
from pytest_opus.targets.sandbox import SandboxTarget

target = SandboxTarget(sys.argv[1])
with target.deployment_lock(float(sys.argv[3]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""

# The same with a bare flock and no record: a holder that has not said who it is.
HOLD_SILENTLY = """
import fcntl, os, sys

fd = os.open(sys.argv[1] + ".opus-lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def make_db(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE t (x INTEGER)")
    connection.close()
    return path


def lock_file(db: Path) -> Path:
    return Path(f"{db}{LOCK_FILE_SUFFIX}")


@contextmanager
def holder_process(db: Path, purpose: str = "opus-sql run sql/deploy.sql", *, script: str = HOLD,
                   wait: float = 30) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of `db` until the block ends (or the test kills it)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(db), purpose, str(wait)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "held":
            child.kill()
            _, err = child.communicate()
            pytest.fail(f"the holder process did not take the lock: {line!r} {err}")
        yield child
    finally:
        if child.poll() is None:
            assert child.stdin is not None
            child.stdin.close()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def release(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.close()


def taken_by_another_process(db: Path) -> bool:
    """Whether a fresh process fails to take the lock of `db` without waiting."""
    probe = (
        "import sys\n"
        "from pytest_opus.errors import DeploymentLocked\n"
        "from pytest_opus.targets.sandbox import SandboxTarget\n"
        "try:\n"
        "    with SandboxTarget(sys.argv[1]).deployment_lock(0, 'probe'):\n"
        "        pass\n"
        "except DeploymentLocked:\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(db)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode in (0, 3), done.stderr
    return done.returncode == 3


# -- the sandbox's file lock, between processes ------------------------------------------------------


def test_a_second_deployment_fails_after_the_wait_naming_the_lock_and_its_holder(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    with holder_process(db, "opus-sql run sql/deploy_opus_update_boards.sql") as child:
        record = json.loads(lock_file(db).read_text())
        assert record["pid"] == child.pid and record["purpose"] == "opus-sql run sql/deploy_opus_update_boards.sql"
        with SandboxTarget(db) as target, pytest.raises(DeploymentLocked) as raised:
            with target.deployment_lock(0.2, "opus-sql run sql/rollback_opus_update_boards.sql"):
                pytest.fail("the second deployment got the lock")
    error = raised.value
    message = str(error)
    assert f"pid {child.pid}" in message
    assert "'opus-sql run sql/deploy_opus_update_boards.sql'" in message
    assert str(lock_file(db).resolve()) in message and " UTC" in message
    assert "--lock-wait SECONDS" in message and "OPUS_LOCK_WAIT" in message
    assert "\n" not in message  # opus-sql prints it as one line
    assert error.waited == 0.2 and str(child.pid) in error.holder
    assert isinstance(error, OpusError)


def test_a_run_that_waits_gets_the_lock_once_the_holder_finishes(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    with holder_process(db) as child, SandboxTarget(db) as target:
        threading.Timer(0.3, release, args=(child,)).start()
        with target.deployment_lock(120, "the patient one"):
            assert json.loads(lock_file(db).read_text())["pid"] == os.getpid()


def test_a_holder_that_dies_releases_the_lock_and_its_record_is_never_reported(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    with holder_process(db) as child:
        child.kill()  # no chance to clean up: only the operating system releases the lock
        child.wait()
        stale = json.loads(lock_file(db).read_text())
        assert stale["pid"] == child.pid  # its record is still there
        with SandboxTarget(db) as target, target.deployment_lock(0, "after the crash"):
            record = json.loads(lock_file(db).read_text())
            assert record["pid"] == os.getpid() and record["purpose"] == "after the crash"


def test_a_record_without_a_held_lock_is_ignored(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    lock_file(db).write_text(json.dumps({"pid": 999_999, "host": "elsewhere", "purpose": "long gone"}))
    with SandboxTarget(db) as target, target.deployment_lock(0, "now"):
        assert json.loads(lock_file(db).read_text())["purpose"] == "now"


def test_a_holder_without_a_record_is_still_reported_as_a_holder(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    lock_file(db).write_text(json.dumps({"pid": 999_999, "host": socket.gethostname()}))  # a dead run's
    with holder_process(db, script=HOLD_SILENTLY), SandboxTarget(db) as target:
        with pytest.raises(DeploymentLocked, match="has not recorded who it is"):
            with target.deployment_lock(0.2, "second"):
                pass


def test_the_lock_is_released_and_its_record_emptied_on_exit_and_on_error(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    with SandboxTarget(db) as target:
        with target.deployment_lock(0, "first"):
            assert json.loads(lock_file(db).read_text())["pid"] == os.getpid()
            assert taken_by_another_process(db)
        assert lock_file(db).read_text() == ""
        assert not taken_by_another_process(db)

        with pytest.raises(ZeroDivisionError), target.deployment_lock(0, "second"):
            _ = 1 / 0
        assert lock_file(db).read_text() == ""
        assert not taken_by_another_process(db)


def test_nested_blocks_hold_the_lock_once_and_another_target_in_the_process_is_refused(tmp_path: Path) -> None:
    db = make_db(tmp_path)
    link = tmp_path / "same-file.sqlite"
    link.symlink_to(db)
    with SandboxTarget(db) as target, SandboxTarget(link) as other:
        with target.deployment_lock(0, "outer"):
            with target.deployment_lock(0, "inner"):
                pass
            # Still held after the inner block; a second target (here by another name) is another deployment.
            with pytest.raises(DeploymentLocked, match=f"pid {os.getpid()}.*'outer'"):
                with other.deployment_lock(0, "other"):
                    pass
        with other.deployment_lock(0, "other"):
            pass


def test_an_in_memory_sandbox_needs_no_lock(tmp_path: Path) -> None:
    before = set(tmp_path.iterdir())
    with SandboxTarget(None) as target:
        assert target.database_file() is None
        with target.deployment_lock(0, "one"), target.deployment_lock(0, "two"):
            pass
    assert set(tmp_path.iterdir()) == before


@pytest.mark.parametrize("wait", [-1, float("nan"), float("inf"), "5", True])
def test_the_wait_must_be_a_number_of_seconds(tmp_path: Path, wait: Any) -> None:
    with SandboxTarget(make_db(tmp_path)) as file_target, SandboxTarget(None) as memory:
        for target in (file_target, memory):
            with pytest.raises(ConfigError, match="--lock-wait SECONDS"), target.deployment_lock(wait, "x"):
                pass


def test_the_recorded_command_line_masks_passwords() -> None:
    line = command_line(["opus-sql", "run", "--dsn", "Driver=x;Server=db;PWD=hunter2",
                         "--dsn=Driver=x;PWD={hun;ter2}", "PWD=hunter2"])
    assert "hunter2" not in line and "hun;ter2" not in line
    assert line.startswith("opus-sql run --dsn") and line.count("***") == 3


def test_odbc_sqlite_over_the_same_file_shares_the_lock_and_never_shows_the_password(tmp_path: Path) -> None:
    _require_sqlite_odbc()
    from pytest_opus.targets.odbc_sqlite import OdbcSqliteTarget

    db = make_db(tmp_path)
    with holder_process(db) as child, OdbcSqliteTarget(f"Driver=SQLite3;Database={db};PWD=s3cr3t!") as target:
        assert target.database_file() == db.resolve()
        with pytest.raises(DeploymentLocked) as raised, target.deployment_lock(0.2, "odbc deploy"):
            pass
        assert f"pid {child.pid}" in str(raised.value) and "s3cr3t" not in str(raised.value)
        release(child)
        with target.deployment_lock(120, "odbc deploy"):
            assert json.loads(lock_file(db).read_text())["purpose"] == "odbc deploy"


# -- SQL Server's application lock, against a scripted connection ------------------------------------

DSN = "Driver={ODBC Driver 18 for SQL Server};Server=db01;Database=dms;UID=deployer;PWD=s3cr3t!"
PERMISSION_DENIED = (
    "42000",
    pyodbc_error("42000", "VIEW SERVER STATE permission was denied on object 'server', database 'master'.", 300),
)
HOLDER_ROW = (61, "alice", "build-07", 4242, "opus-sql", dt.datetime(2025, 1, 2, 3, 4, 5))


class AppLockServer:
    """A pyodbc connection whose server answers the deployment lock's statements as documented.

    sp_getapplock returns `get_code` (0/1 granted, -1 timeout, -2 cancelled, -3 deadlock victim,
    -999 error) as the SELECT after its EXEC; sp_releaseapplock returns `release_code`. The holder
    query returns `holder_rows`, or raises `holder_error` (pyodbc's error for a login without VIEW
    SERVER STATE). Every statement is logged with the autocommit setting it ran under.
    """

    def __init__(self, *, get_code: int = 0, release_code: int = 0, holder_rows: list[tuple[Any, ...]] | None = None,
                 holder_error: tuple[str, str] | None = None, get_error: tuple[str, str] | None = None,
                 get_messages: list[tuple[str, str]] | None = None) -> None:
        self.pyodbc = _pyodbc()
        self.get_code, self.release_code = get_code, release_code
        self.holder_rows, self.holder_error = holder_rows or [], holder_error
        self.get_error, self.get_messages = get_error, get_messages or []
        self.autocommit = False
        self.sent: list[tuple[str, bool]] = []  # (statement, autocommit)

    def kinds(self) -> list[str]:
        names = {"sp_getapplock": "get", "sp_releaseapplock": "release", "dm_tran_locks": "holder"}
        return [next((v for k, v in names.items() if k in sql), sql) for sql, _ in self.sent]

    def cursor(self) -> AppLockCursor:
        return AppLockCursor(self)

    def respond(self, sql: str) -> tuple[list[list[tuple[Any, ...]] | None], list[tuple[str, str]]]:
        """The result sets of `sql` (None for a step with no result set) and its messages."""
        self.sent.append((sql, self.autocommit))
        if "sp_getapplock" in sql:
            if self.get_error is not None:
                raise self.pyodbc.ProgrammingError(*self.get_error)
            # DECLARE and EXEC return no result set; the SELECT @rc after them does.
            return [None, [(self.get_code,)]], self.get_messages
        if "sp_releaseapplock" in sql:
            return [None, [(self.release_code,)]], []
        if sql == APPLOCK_HOLDER_QUERY:
            if self.holder_error is not None:
                raise self.pyodbc.ProgrammingError(*self.holder_error)
            return [self.holder_rows], []
        return [[(1,)]], []  # the deployment's own statements

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


class AppLockCursor:
    def __init__(self, connection: AppLockServer) -> None:
        self.connection = connection
        self.description: tuple[tuple[str], ...] | None = None
        self.rowcount = -1
        self.messages: list[tuple[str, str]] = []
        self._sets: list[list[tuple[Any, ...]] | None] = []
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, *params: Any) -> None:
        self._sets, self.messages = self.connection.respond(sql)
        self._advance()

    def _advance(self) -> bool:
        if not self._sets:
            self.description, self._rows = None, []
            return False
        rows = self._sets.pop(0)
        self.description = None if rows is None else (("",),)
        self._rows = rows or []
        return True

    def nextset(self) -> bool:
        self.messages = []
        return self._advance()

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def close(self) -> None:
        pass


def sqlserver(server: AppLockServer) -> Any:
    from pytest_opus.targets.sqlserver import SqlServerTarget

    return SqlServerTarget(DSN, connection=server)


@pytest.mark.parametrize("code", [0, 1])
def test_sqlserver_granted_lock_spans_the_block_and_is_released(code: int) -> None:
    server = AppLockServer(get_code=code)
    target = sqlserver(server)
    with target.deployment_lock(2.5, "opus-sql run deploy.sql"):
        target.execute("SELECT 1")
    assert server.kinds() == ["get", "SELECT 1", "release"]
    get, release_ = server.sent[0][0], server.sent[2][0]
    assert f"@Resource = N'{APPLOCK_RESOURCE}'" in get and "@LockMode = 'Exclusive'" in get
    assert "@LockOwner = 'Session'" in get and "@LockTimeout = 2500;" in get
    assert "@LockOwner = 'Session'" in release_
    # The lock's statements run with autocommit on, and the connection is given back as it was.
    assert server.sent[0][1] and server.sent[2][1] and server.autocommit is False


def test_sqlserver_lock_is_released_when_the_block_raises() -> None:
    server = AppLockServer()
    with pytest.raises(KeyError, match="boom"), sqlserver(server).deployment_lock(1, "x"):
        raise KeyError("boom")
    assert server.kinds() == ["get", "release"]


def test_sqlserver_timeout_names_the_holding_session() -> None:
    server = AppLockServer(get_code=-1, holder_rows=[HOLDER_ROW])
    with pytest.raises(DeploymentLocked) as raised, sqlserver(server).deployment_lock(0.2, "x"):
        pytest.fail("a timed-out lock ran the block")
    message = str(raised.value)
    for part in ("'pytest-opus deployment'", "session 61", "pid 4242", "host build-07", "user alice",
                 "program 'opus-sql'", "connected since 2025-01-02 03:04:05 UTC", "waiting 0.2 s",
                 "--lock-wait SECONDS", "Server=db01"):
        assert part in message
    assert "s3cr3t" not in message and "\n" not in message
    assert server.kinds() == ["get", "holder"]  # nothing to release: it was never held


def test_sqlserver_timeout_without_view_server_state_says_what_is_missing() -> None:
    server = AppLockServer(get_code=-1, holder_error=PERMISSION_DENIED)
    with pytest.raises(DeploymentLocked) as raised, sqlserver(server).deployment_lock(0.2, "x"):
        pass
    assert "held by another session (its details need VIEW SERVER STATE" in str(raised.value)
    assert server.kinds() == ["get", "holder"]


def test_sqlserver_timeout_when_the_holder_is_gone_by_the_time_it_is_looked_up() -> None:
    server = AppLockServer(get_code=-1, holder_rows=[])
    with pytest.raises(DeploymentLocked, match="no longer lists it"), sqlserver(server).deployment_lock(0, "x"):
        pass


@pytest.mark.parametrize(
    ("code", "reason"),
    [(-2, "was cancelled"), (-3, "deadlock victim"), (-999, "parameter validation or other call error")],
)
def test_sqlserver_other_failures_are_lock_errors_not_a_holder(code: int, reason: str) -> None:
    server = AppLockServer(get_code=code, get_messages=[("[01000] (0)", f"{MS_PREFIX}PWD=s3cr3t! said the server")])
    with pytest.raises(DeploymentLockError) as raised, sqlserver(server).deployment_lock(1, "x"):
        pytest.fail("a failed lock ran the block")
    assert not isinstance(raised.value, DeploymentLocked)
    assert reason in str(raised.value) and "s3cr3t" not in str(raised.value)
    assert server.kinds() == ["get"]


def test_sqlserver_a_driver_error_while_locking_is_a_lock_error_with_the_password_redacted() -> None:
    server = AppLockServer(get_error=("08S01", pyodbc_error("08S01", "link lost to PWD=s3cr3t!", 10054)))
    with pytest.raises(DeploymentLockError, match="link lost") as raised, sqlserver(server).deployment_lock(1, "x"):
        pass
    assert "s3cr3t" not in str(raised.value) and server.autocommit is False


def test_sqlserver_a_failed_release_is_a_warning_not_an_error() -> None:
    server = AppLockServer(release_code=-999)
    with pytest.warns(RuntimeWarning, match="could not be released.*when this connection closes"):
        with sqlserver(server).deployment_lock(1, "x"):
            pass


def test_sqlserver_lock_is_refused_inside_a_transaction() -> None:
    server = AppLockServer()
    target = sqlserver(server)
    with target.transaction(), pytest.raises(DeploymentLockError, match="inside transaction"):
        target.deployment_lock(1, "x")
    assert server.sent == []


def test_sqlserver_lock_resource_is_readable_in_the_lock_views() -> None:
    # sys.dm_tran_locks shows only the first 32 characters of the resource; the holder query
    # matches them with LIKE, so the name must fit and hold no wildcard.
    assert len(APPLOCK_RESOURCE) <= 32 and not set(APPLOCK_RESOURCE) & set("%_[]'")
