"""The runner's translations kept on disk, for every process of the same runner (docs/embedded-runner.md,
"Translation cache").

Translating a statement (sqlglot's parse, the rewrite for SQLite, the compile checks) costs milliseconds;
running the result costs microseconds. The engine keeps translations in memory per schema version; this
store keeps them across processes, so that `pytest --opus-deploy`, each pytest-xdist worker and each new
sandbox start with the translations an earlier run made. An entry is found only by everything its
translation was made from:
- the runner itself (`runner_fingerprint`: its sources, the package version, sqlglot's and SQLite's
  versions): a changed runner opens another file;
- the schema (a digest of every CREATE text in the database, `Engine._schema_fingerprint`), whether the
  runner's SQL functions are there (sqlite3) or not (ODBC), and the statement's key (its text, the
  session's IDENTITY_INSERT table, the declared types of the variables it reads).

The file is an SQLite database of pickled values in the cache directory (`pytest_opus.cache`), used only
when this user owns it and nobody else may write it. A store that cannot be opened, read or written is
skipped: it only ever costs the time of translating again. Entries written in a process are flushed in
one transaction every `FLUSH_EVERY` entries and when the process ends.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import pickle
import sqlite3
import sys
import unicodedata
from pathlib import Path
from typing import Any

from ..cache import cache_dir, owned_privately, prune_cache

#: Set to 0 to translate every statement in each process (the store is neither read nor written).
STORE_VARIABLE = "OPUS_TRANSLATION_STORE"
#: A store file past this size is emptied when a process opens it (hypothesis tests and dynamic SQL
#: translate texts that never come again).
MAX_BYTES = 64 * 1024 * 1024
#: Entries a process keeps before writing them in one transaction.
FLUSH_EVERY = 256


@functools.lru_cache(maxsize=1)
def runner_fingerprint() -> str:
    """What every translation and the baseline template depend on besides the database: the runner's
    sources (tsql/*.py and the package modules it imports), the package version, sqlglot's version and build
    (pure Python or compiled by sqlglotc), the SQLite library's and Python's (with its Unicode database)."""
    import sqlglot
    import sqlglot.parser

    from .. import __version__

    tsql = Path(__file__).resolve().parent
    package = tsql.parent
    # Python's version too: str.isalpha(), lower() and the collation model follow its Unicode database
    build = Path(sqlglot.parser.__file__ or "").suffix  # ".so" where sqlglotc is installed
    digest = hashlib.sha256(f"{__version__}|{sqlglot.__version__}{build}|{sqlite3.sqlite_version}|{sys.version}|"
                            f"{unicodedata.unidata_version}".encode())
    for file in [*sorted(tsql.glob("*.py")), *(package / n for n in ("sqltypes.py", "catalog.py", "errors.py",
                                                                     "batches.py"))]:
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


class TranslationStore:
    """Pickled values by key, in one SQLite file shared by every process of the same runner."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        self._pending: dict[bytes, bytes] = {}
        self.broken = False  # set when the file could not be used: the process translates without it
        self.hits = 0
        self.misses = 0

    # -- the file ------------------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection | None:
        if self.broken:
            return None
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        self._connection = None  # a forked child never uses its parent's connection
        self._pending.clear()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                checked = os.fstat(fd)
                if not owned_privately(checked):
                    raise OSError(f"{self.path} is not this user's alone")
                connection = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
                now = self.path.stat()  # the file SQLite opened is the one checked (not one put in its place)
                if (now.st_dev, now.st_ino) != (checked.st_dev, checked.st_ino):
                    connection.close()
                    raise OSError(f"{self.path} was replaced while it was opened")
            finally:
                os.close(fd)
            os.utime(self.path)  # in use: pruning goes by the time of last use (WAL writes leave it unchanged)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # a cache: a lost entry is translated again
            connection.execute("CREATE TABLE IF NOT EXISTS translations (key BLOB PRIMARY KEY, value BLOB NOT NULL)"
                               " WITHOUT ROWID")
            used = connection.execute("SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count "
                                      "FROM pragma_freelist_count())").fetchone()[0]
            size = connection.execute("PRAGMA page_size").fetchone()[0]
            if used * size > MAX_BYTES:  # pages in use: the deleted ones are reused, the file does not shrink
                connection.execute("DELETE FROM translations")
        except (OSError, sqlite3.Error):
            self.broken = True
            return None
        self._connection = connection
        self._pid = os.getpid()
        for removed in prune_cache(self.path.parent, "translations-*.sqlite"):
            for suffix in ("-wal", "-shm"):
                Path(f"{removed}{suffix}").unlink(missing_ok=True)
        return connection

    def close(self) -> None:
        self.flush()
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None

    # -- entries -------------------------------------------------------------------------------------------
    @staticmethod
    def key(parts: tuple[Any, ...]) -> bytes:
        """The stored key of a tuple of strings, numbers, booleans, None and tuples of them."""
        return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=20).digest()

    def get(self, key: bytes) -> Any:
        """The value kept under `key`, or None."""
        pending = self._pending.get(key)
        if pending is not None:
            return pickle.loads(pending)
        connection = self._open()
        if connection is None:
            return None
        try:
            row = connection.execute("SELECT value FROM translations WHERE key = ?", (key,)).fetchone()
            value = pickle.loads(row[0]) if row is not None else None
        except (sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
            self.misses += 1
            return None  # busy, or written by an incompatible build despite the fingerprint: translate again
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: bytes, value: Any) -> None:
        if self.broken:
            return
        try:
            self._pending[key] = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return  # a value holding something that does not pickle: kept in memory only
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the pending entries in one transaction; on a busy or read-only file they are dropped."""
        if not self._pending:
            return
        connection = self._open()
        pending = list(self._pending.items())
        self._pending.clear()
        if connection is None:
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany("INSERT OR IGNORE INTO translations (key, value) VALUES (?, ?)", pending)
            connection.execute("COMMIT")
        except sqlite3.Error:
            try:
                connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass


_STORES: dict[Path, TranslationStore] = {}


def store() -> TranslationStore | None:
    """The process's store for this runner in the current cache directory; None when turned off."""
    if os.environ.get(STORE_VARIABLE, "1").strip() in ("0", "false", "no", "off"):
        return None
    path = cache_dir() / f"translations-{runner_fingerprint()[:16]}.sqlite"
    found = _STORES.get(path)
    if found is None:
        found = _STORES[path] = TranslationStore(path)
    return found


@atexit.register
def _flush_all() -> None:
    for found in _STORES.values():
        try:
            found.close()
        except Exception as error:  # never fail a process's exit over its cache
            print(f"pytest-opus: the translation store was not written: {error}", file=sys.stderr)
