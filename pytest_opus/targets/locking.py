"""One deployment at a time: SQL Server's application lock, and a file lock beside an SQLite database.

The file lock is written here rather than taken from the `filelock` package because filelock opens
its lock file with O_TRUNC on every attempt, which would erase the record a waiting run reads to say
who holds the lock, and it keeps no such record at all.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError, DeploymentLocked, DeploymentLockError
from ..secrets import mask_dsn
from ..sqltypes import INTEGER_RANGES
from . import _odbc

#: how long a run waits for another deployment to finish before it gives up
DEFAULT_LOCK_WAIT_SECONDS = 30.0
#: the environment variable that sets the wait (the options are wired by the command line and plugin)
LOCK_WAIT_ENV = "OPUS_LOCK_WAIT"
#: what a run that gave up should do
REMEDY = (
    "another deployment is running: let it finish and run again, or wait longer with --lock-wait SECONDS "
    f"(pytest: --opus-lock-wait SECONDS; environment: {LOCK_WAIT_ENV}=SECONDS)"
)

#: SQL Server's lock resource. At most 32 characters and free of LIKE wildcards: sys.dm_tran_locks
#: shows only the first 32 characters in plain text, and the holder query matches them with LIKE.
APPLOCK_RESOURCE = "pytest-opus deployment"
#: the side file beside an SQLite database that holds its deployment lock
LOCK_FILE_SUFFIX = ".opus-lock"

_POLL_SECONDS = 0.05  # between non-blocking attempts on the file lock
_MAX_TEXT = 300  # a holder's field in a message; a command line can be very long
_INT_MAX = INTEGER_RANGES["int"][1]  # @LockTimeout is an int of milliseconds


def check_wait(wait_seconds: float) -> float:
    """`wait_seconds` if it is a usable wait (a finite number, 0 or more); ConfigError otherwise."""
    if (
        isinstance(wait_seconds, bool)
        or not isinstance(wait_seconds, int | float)
        or not math.isfinite(wait_seconds)
        or wait_seconds < 0
    ):
        raise ConfigError(
            f"the deployment lock wait must be a number of seconds, 0 or more (got {wait_seconds!r}): "
            f"--lock-wait SECONDS, --opus-lock-wait SECONDS or {LOCK_WAIT_ENV}=SECONDS"
        )
    return float(wait_seconds)


# -- who holds a lock ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    """What is known about the holder of a deployment lock; every field may be unknown (None)."""

    session: int | None = None  # SQL Server session id
    pid: int | None = None  # the client's process id
    host: str | None = None
    user: str | None = None  # the OS user (file lock) or the login (SQL Server)
    program: str | None = None  # SQL Server's program_name (APP= in the DSN)
    purpose: str | None = None  # what the holding run said it was doing ("opus-sql run deploy.sql")
    started: str | None = None  # when it took the lock, UTC
    connected: str | None = None  # when its session logged in, UTC (SQL Server has no lock grant time)
    command: str | None = None  # its command line, passwords masked

    def describe(self) -> str:
        parts = [
            label.format(_one_line(value))
            for name, label in _DESCRIBED
            if (value := getattr(self, name)) is not None and str(value) != ""
        ]
        return ", ".join(parts)

    @property
    def known(self) -> bool:
        return any(getattr(self, name) not in (None, "") for name, _ in _DESCRIBED)


#: how each known field of a holder reads in a message, in this order
_DESCRIBED: tuple[tuple[str, str], ...] = (
    ("session", "session {}"),
    ("pid", "pid {}"),
    ("host", "host {}"),
    ("user", "user {}"),
    ("program", "program '{}'"),
    ("purpose", "for '{}'"),
    ("started", "since {} UTC"),
    ("connected", "connected since {} UTC"),
    ("command", "command line: {}"),
)


def _one_line(value: object) -> str:
    # A message is one line: a command line may hold newlines inside quoted arguments.
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name and no passwd entry (a container's arbitrary uid): unknown
        return None


def _masked_argument(argument: str) -> str:
    # "--dsn=Driver=...;PWD=x": the value is masked on its own, since the ODBC key must start it.
    if argument.startswith("-") and "=" in argument:
        option, value = argument.split("=", 1)
        return f"{option}={mask_dsn(value)}"
    return mask_dsn(argument)


def command_line(arguments: list[str] | None = None) -> str:
    """This process's command line (the interpreter's own arguments included), passwords masked."""
    if arguments is None:
        arguments = list(getattr(sys, "orig_argv", None) or sys.argv)
    return shlex.join(_masked_argument(a) for a in arguments)


def this_process(purpose: str) -> LockHolder:
    """The holder record this process writes when it takes a file lock."""
    return LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        user=_user(),
        purpose=mask_dsn(purpose) or None,
        started=_utc(datetime.now(UTC)),
        command=command_line(),
    )


def locked(lock: str, holder: str, waited: float) -> DeploymentLocked:
    """The error for a run that waited `waited` seconds for `lock` and did not get it."""
    return DeploymentLocked(
        f"{lock} is held by {holder}; gave up after waiting {waited:g} s: {REMEDY}",
        lock=lock,
        holder=holder,
        waited=waited,
    )


# -- the file lock beside an SQLite database -----------------------------------------------------

if sys.platform == "win32":  # pragma: no cover - the project's CI runs on Linux
    import msvcrt

    # Windows locks are mandatory: a locked byte cannot be read by others. Locking one byte far past
    # the record keeps the record readable for the run that waits.
    _WINDOWS_LOCK_OFFSET = 1 << 30

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    def _process_exists(pid: int) -> bool:
        return True  # os.kill(pid, 0) on Windows would send CTRL_C_EVENT, not probe: assume alive

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    def _process_exists(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # EPERM: it exists, under another user
            return True
        return True


_UNKNOWN_FILE_HOLDER = "a process that has not recorded who it is (it may be starting or finishing)"


class FileLock:
    """The deployment lock of an SQLite database: an exclusive lock on `<database>.opus-lock`.

    The operating system's lock (flock; LockFileEx on Windows) is what excludes: it is released when
    the process ends however it ends, so a crashed run never leaves the database locked. After
    taking it the holder writes a small JSON record of itself (pid, host, user, purpose, command
    line, since when) into the file, for a waiting run to name it; the record is emptied before
    the lock is released. A record is only ever read by a run that failed to take the lock, so a
    record left by a crashed run is never reported (and one naming a process on this host that no
    longer exists is ignored). The lock is re-entrant for the same FileLock object.
    """

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = Path(f"{database}{LOCK_FILE_SUFFIX}")
        self._fd: int | None = None
        self._depth = 0

    @property
    def name(self) -> str:
        return f"the deployment lock on {self.database} (lock file {self.path})"

    @contextmanager
    def held(self, wait_seconds: float, purpose: str) -> Iterator[None]:
        """Hold the lock inside the block, waiting up to `wait_seconds` for it; DeploymentLocked if not."""
        self.acquire(wait_seconds, purpose)
        try:
            yield
        finally:
            self.release()

    def acquire(self, wait_seconds: float, purpose: str) -> None:
        wait = check_wait(wait_seconds)
        if self._depth:
            self._depth += 1
            return
        fd, writable = self._open()
        deadline = time.monotonic() + wait
        try:
            while not _try_lock(fd):  # always one attempt, even with no wait
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise locked(self.name, self._holder(fd), wait)
                time.sleep(min(_POLL_SECONDS, remaining))
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._depth = fd, 1
        if writable:
            self._record(fd, this_process(purpose))

    def release(self) -> None:
        if self._depth == 0:
            return
        self._depth -= 1
        if self._depth or self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            try:
                os.ftruncate(fd, 0)  # first, so the record never outlives the lock
            except OSError:
                pass
            _unlock(fd)
        finally:
            os.close(fd)  # closing releases the lock too, should unlocking have failed

    def _open(self) -> tuple[int, bool]:
        # Never O_TRUNC: the file may hold the current holder's record. Never deleted either: a run
        # that opened the old file could then lock it while another locks a new one, and both
        # would hold "the" lock.
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666), True
        except PermissionError:
            pass
        except OSError as error:
            raise self._cannot_open(error) from None
        try:
            # Another user's lock file: a read-only descriptor can still be locked, only no record
            # of this run can be written.
            return os.open(self.path, os.O_RDONLY), False
        except OSError as error:
            raise self._cannot_open(error) from None

    def _cannot_open(self, error: OSError) -> DeploymentLockError:
        return DeploymentLockError(
            f"cannot open the lock file {self.path} ({error.strerror or error}): a deployment to "
            f"{self.database} needs to create it beside the database; check the directory's permissions"
        )

    @staticmethod
    def _record(fd: int, holder: LockHolder) -> None:
        record = {name: getattr(holder, name) for name, _ in _DESCRIBED if getattr(holder, name) is not None}
        record["tool"] = f"pytest-opus {__version__}"
        data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, data)
        except OSError:  # the record only names the holder; a full disk must not fail the deployment
            pass

    def _holder(self, fd: int) -> str:
        holder = read_record(fd)
        if holder is None:
            return _UNKNOWN_FILE_HOLDER
        if holder.pid is not None and holder.host == socket.gethostname() and not _process_exists(holder.pid):
            # The record of a run that died; the live holder has not written its own yet.
            return _UNKNOWN_FILE_HOLDER
        return holder.describe()


def read_record(fd: int, *, attempts: int = 3) -> LockHolder | None:
    """The holder record in a lock file, or None when it is empty or unreadable.

    A holder empties the file and then writes its record, so an empty or half-written record is
    read again after a moment before it counts as unknown.
    """
    for attempt in range(attempts):
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            data = os.read(fd, 64 * 1024)
        except OSError:
            return None
        try:
            record = json.loads(data.decode("utf-8")) if data else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if isinstance(record, dict):
            return _holder_from(record)
        if attempt + 1 < attempts:
            time.sleep(_POLL_SECONDS)
    return None


def _holder_from(record: dict[str, Any]) -> LockHolder | None:
    def text(name: str) -> str | None:
        value = record.get(name)
        return None if value in (None, "") else str(value)

    pid = record.get("pid")
    holder = LockHolder(
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host=text("host"),
        user=text("user"),
        purpose=text("purpose"),
        started=text("started"),
        command=text("command"),
    )
    return holder if holder.known else None


# -- SQL Server's application lock ---------------------------------------------------------------

#: Takes the lock for the session (so it spans the script's own transaction, and is released when
#: the session ends however it ends) and returns sp_getapplock's return code.
GET_APPLOCK = (
    "DECLARE @rc int; "
    "EXEC @rc = sys.sp_getapplock @Resource = N'{resource}', @LockMode = 'Exclusive', "
    "@LockOwner = 'Session', @LockTimeout = {timeout_ms}; "
    "SELECT @rc"
)
RELEASE_APPLOCK = (
    "DECLARE @rc int; "
    "EXEC @rc = sys.sp_releaseapplock @Resource = N'{resource}', @LockOwner = 'Session'; "
    "SELECT @rc"
)

#: Who holds the lock, for the message of a run that timed out. The resource is matched on the
#: plain-text part of resource_description ("<principal id>:[<first 32 characters>]:(<hash>)"):
#: the hash of the full name cannot be computed outside the server. The owner type is not
#: filtered, since a DBA holding the lock in a transaction blocks a deployment just the same.
#: Reading other sessions' locks needs VIEW SERVER STATE.
APPLOCK_HOLDER_QUERY = (
    "SELECT TOP (5) l.request_session_id, s.login_name, s.host_name, s.host_process_id, s.program_name, "
    "DATEADD(MINUTE, DATEDIFF(MINUTE, GETDATE(), GETUTCDATE()), s.login_time) AS login_time_utc "
    "FROM sys.dm_tran_locks AS l "
    "LEFT JOIN sys.dm_exec_sessions AS s ON s.session_id = l.request_session_id "
    "WHERE l.resource_type = 'APPLICATION' AND l.resource_database_id = DB_ID() "
    "AND l.request_status = 'GRANTED' AND l.request_session_id <> @@SPID "
    f"AND l.resource_description LIKE N'%{APPLOCK_RESOURCE}%' "
    "ORDER BY l.request_session_id"
)

#: sp_getapplock's failures (return codes below 0), as Microsoft documents them; -1 (a timeout)
#: is the one that means another deployment holds the lock.
APPLOCK_FAILURES: dict[int, str] = {
    -1: "the request timed out",
    -2: "the request was cancelled; run again",
    -3: "the request was chosen as a deadlock victim (this session holds a lock another waiting session "
        "needs); run again",
    -999: "sp_getapplock reported a parameter validation or other call error",
}

#: errors that say the login may not read the lock views (300: VIEW SERVER STATE denied; 297: no permission)
_PERMISSION_ERRORS = frozenset({297, 300})


@contextmanager
def application_lock(
    connection: Any,
    *,
    db_error: type[BaseException],
    wait_seconds: float,
    target: str,
    clean: Callable[[str], str] = lambda text: text,
) -> Iterator[None]:
    """Hold SQL Server's session-owned application lock on `connection` inside the block.

    Waits up to `wait_seconds` on the server (sp_getapplock's @LockTimeout). A timeout raises
    DeploymentLocked naming the holding session where the login may read sys.dm_tran_locks; any
    other failure raises DeploymentLockError. The lock is released when the block ends, raising or
    not; a release that fails is a warning (the lock then ends with the session). `target` is the
    masked target name; `clean` redacts secrets from the driver's text. The statements run with
    autocommit on (restored afterwards), so no implicit transaction is left open around them.
    """
    wait = check_wait(wait_seconds)
    lock = f"the deployment lock '{APPLOCK_RESOURCE}' (sp_getapplock) on {target}"
    timeout_ms = min(round(wait * 1000), _INT_MAX)
    with _autocommit(connection):
        try:
            code, messages = _scalar(connection, GET_APPLOCK.format(resource=APPLOCK_RESOURCE, timeout_ms=timeout_ms))
        except db_error as exc:
            raise DeploymentLockError(f"{lock} could not be taken: {clean(_error_text(exc))}") from None
        if code == -1:
            raise locked(lock, _applock_holder(connection, db_error, clean), wait)
        if not isinstance(code, int) or code < 0:
            reason = (
                APPLOCK_FAILURES.get(code, f"sp_getapplock returned {code}")
                if isinstance(code, int)
                else "sp_getapplock returned no result"
            )
            said = clean("; ".join(messages))
            raise DeploymentLockError(f"{lock} could not be taken: {reason}" + (f" ({said})" if said else ""))
    try:
        yield
    finally:
        _release_applock(connection, db_error, lock, clean)


def _release_applock(connection: Any, db_error: type[BaseException], lock: str, clean: Callable[[str], str]) -> None:
    problem: str | None = None
    try:
        with _autocommit(connection):
            code, messages = _scalar(connection, RELEASE_APPLOCK.format(resource=APPLOCK_RESOURCE))
        if code != 0:
            problem = f"sp_releaseapplock returned {code!r}" + (f" ({'; '.join(messages)})" if messages else "")
    except db_error as exc:
        problem = _error_text(exc)
    if problem is not None:
        # A warning, not an error: the deployment itself is done, and a session-owned lock ends
        # with the session anyway.
        warnings.warn(
            f"{lock} could not be released ({clean(problem)}); it is released when this connection closes",
            RuntimeWarning,
            stacklevel=3,
        )


@contextmanager
def _autocommit(connection: Any) -> Iterator[None]:
    saved = connection.autocommit
    connection.autocommit = True
    try:
        yield
    finally:
        connection.autocommit = saved


def _scalar(connection: Any, sql: str) -> tuple[Any, list[str]]:
    """The first value of the first result set of `sql`, and the messages the server sent with it."""
    cursor = connection.cursor()
    messages: list[str] = []
    try:
        cursor.execute(sql)
        value: Any = None
        found = False
        while True:
            messages += [_odbc.parse_message(m).text for m in getattr(cursor, "messages", None) or ()]
            if not found and cursor.description is not None:
                row = cursor.fetchone()
                value, found = (row[0] if row is not None else None), True
            # Later sets are drained because an error raised by a later statement surfaces only there.
            if not cursor.nextset():
                break
        return value, messages
    finally:
        cursor.close()


def _error_text(exc: BaseException) -> str:
    return "; ".join(r.text for r in _odbc.error_records(exc))


def _applock_holder(connection: Any, db_error: type[BaseException], clean: Callable[[str], str]) -> str:
    """Who holds the application lock, as far as this login may see."""
    cursor = connection.cursor()
    try:
        cursor.execute(APPLOCK_HOLDER_QUERY)
        rows = [tuple(row) for row in cursor.fetchall()] if cursor.description is not None else []
    except db_error as exc:
        records = _odbc.error_records(exc)
        if any(r.native in _PERMISSION_ERRORS or "permission" in r.text.lower() for r in records):
            return ("another session (its details need VIEW SERVER STATE: ask a DBA who is deploying, or "
                    "for GRANT VIEW SERVER STATE to this login)")
        return f"another session (its details could not be read: {clean(_error_text(exc))})"
    finally:
        cursor.close()
    if not rows:
        return "another session (sys.dm_tran_locks no longer lists it: it may have finished just now)"
    session, login, host, pid, program, login_time = rows[0][:6]
    holder = LockHolder(
        session=session,
        pid=pid or None,  # 0 when the client did not say
        host=clean(str(host)) if host else None,
        user=clean(str(login)) if login else None,
        program=clean(str(program)) if program else None,
        connected=_utc(login_time) if isinstance(login_time, datetime) else (str(login_time) if login_time else None),
    )
    described = holder.describe()
    return described if len(rows) == 1 else f"{described} (and {len(rows) - 1} other session(s))"
