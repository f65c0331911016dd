"""Choosing and opening a target: a DSN (SQL Server, or an SQLite ODBC source) or a sandbox file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import Target

__all__ = ["Target", "dbms_name", "open_target"]


def dbms_name(connection: Any) -> str:
    """What the ODBC driver says the database is (SQL_DBMS_NAME), e.g. "Microsoft SQL Server", "SQLite"."""
    from . import _odbc

    pyodbc = _odbc.load_pyodbc()
    try:
        return str(connection.getinfo(pyodbc.SQL_DBMS_NAME) or "")
    except pyodbc.Error:  # a driver that cannot answer is treated as SQL Server's, the usual case
        return ""


def open_target(
    *,
    dsn: str | None = None,
    db_path: str | Path | None = None,
    baseline_dir: str | Path | None = None,
    timeout: int = 30,
    lock_timeout: float | None = None,
    query_timeout: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Open the target that `dsn` or `db_path` names (exactly one of them).

    - `dsn`: an ODBC connection string. When the driver reports SQLite as its DBMS, the result is an
      `OdbcSqliteTarget` (the embedded runner over pyodbc); otherwise a `SqlServerTarget`.
      `timeout` is the login timeout in seconds. For SQL Server, `lock_timeout` and `query_timeout`
      (seconds) default to the environment variables OPUS_LOCK_TIMEOUT and OPUS_QUERY_TIMEOUT
      (read from `environ`, os.environ by default), else to 30 and 0 (no limit): see
      `sqlserver.SessionSettings`.
    - `db_path`: a sandbox file, opened as a persistent `SandboxTarget`. A file that does not exist
      is an error, unless `baseline_dir` is given: then it is built from `baseline_dir/*.sql`.

    pyodbc is imported only for a DSN. Raises ConfigError (any password masked) when the target
    cannot be opened.
    """
    if (dsn is None) == (db_path is None):
        raise ConfigError("name exactly one database: a DSN (--dsn) or a sandbox file (--db PATH)")
    if dsn is not None:
        return _open_dsn(dsn, timeout, lock_timeout, query_timeout, os.environ if environ is None else environ)
    assert db_path is not None
    return _open_sandbox(Path(db_path), None if baseline_dir is None else Path(baseline_dir))


def _seconds(environ: Mapping[str, str], name: str) -> float | None:
    """A number of seconds from environment variable `name`; None when it is unset or empty."""
    text = environ.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None


def _open_dsn(
    dsn: str, timeout: int, lock_timeout: float | None, query_timeout: int | None, environ: Mapping[str, str]
) -> Target:
    from . import _odbc
    from .sqlserver import (
        DEFAULT_LOCK_TIMEOUT_SECONDS,
        DEFAULT_QUERY_TIMEOUT_SECONDS,
        LOCK_TIMEOUT_ENV,
        QUERY_TIMEOUT_ENV,
        SessionSettings,
    )

    if not dsn.strip():
        raise ConfigError("the DSN is empty: give an ODBC connection string such as "
                          "Driver={ODBC Driver 18 for SQL Server};Server=HOST;Database=NAME;Encrypt=yes")
    if lock_timeout is None:
        lock_timeout = _seconds(environ, LOCK_TIMEOUT_ENV)
        lock_timeout = DEFAULT_LOCK_TIMEOUT_SECONDS if lock_timeout is None else lock_timeout
    if query_timeout is None:
        seconds = _seconds(environ, QUERY_TIMEOUT_ENV)
        if seconds is not None and not seconds.is_integer():
            raise ConfigError(f"{QUERY_TIMEOUT_ENV}={seconds:g} is not a whole number of seconds")
        query_timeout = DEFAULT_QUERY_TIMEOUT_SECONDS if seconds is None else int(seconds)
    SessionSettings(lock_timeout, query_timeout)  # a bad value fails here, before anything connects
    # Opened with autocommit off, as SqlServerTarget expects; OdbcSqliteTarget switches it on.
    connection = _odbc.connect(dsn, autocommit=False, timeout=timeout)
    try:
        if "sqlite" in dbms_name(connection).lower():
            from .odbc_sqlite import OdbcSqliteTarget

            return OdbcSqliteTarget(dsn, connection=connection)
        from .sqlserver import SqlServerTarget

        return SqlServerTarget(
            dsn,
            connection=connection,
            configure_session=True,
            lock_timeout=lock_timeout,
            query_timeout=query_timeout,
        )
    except BaseException:
        connection.close()
        raise


def _open_sandbox(path: Path, baseline_dir: Path | None) -> Target:
    from .sandbox import SandboxTarget, create_sandbox

    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a sandbox database file")
    if not path.exists():
        if baseline_dir is None:
            raise ConfigError(
                f"no sandbox database at {path}: check the path, or use --database dms to get a local "
                "sandbox built from sql/baseline/ on first use"
            )
        create_sandbox(path, baseline_dir)
    _check_sqlite_file(path)
    return SandboxTarget(path, persistent=True)


def _check_sqlite_file(path: Path) -> None:
    # sqlite3 opens any file and only fails at the first query, with "file is not a database"; an
    # empty file it even takes for an empty database, so the first script then fails on a missing
    # table. Checking the file here names the real problem instead.
    import stat

    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path} is not a regular file (a device, pipe or socket); a sandbox is an SQLite "
                              "database file")
        with path.open("rb") as handle:
            header = handle.read(100)
        size = path.stat().st_size
    except OSError as error:
        raise ConfigError(f"cannot read the sandbox database {path}: {error.strerror}") from None
    if not header:
        raise ConfigError(
            f"{path} is an empty file (0 bytes), not a sandbox database: delete it and it is built from "
            "sql/baseline/ on first use, or give the path of an existing sandbox file"
        )
    if header[:16] != b"SQLite format 3\x00":
        raise ConfigError(f"{path} is not an SQLite database file (a sandbox made by opus-sql or pytest-opus)")
    expected = _expected_size(header)
    if expected is not None and size < expected:
        raise ConfigError(
            f"{path} is damaged: it is {size} bytes, and its header says {expected} (a copy that was cut short?); "
            "restore it from a good copy, or delete it to have it built again from sql/baseline/"
        )


def _expected_size(header: bytes) -> int | None:
    """The file size an SQLite header promises (page size x page count), when the header is current.

    The page count at offset 28 is valid only when the "version-valid-for" number (offset 92)
    matches the change counter (offset 24); older writers leave it stale, and then nothing is claimed.
    """
    if len(header) < 100:
        return None
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] != header[92:96] or not pages:
        return None
    return page_size * pages
