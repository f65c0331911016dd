"""The embedded sandbox: a SQLite file (or memory) holding the baseline tables, run by the T-SQL runner."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..cache import cache_dir, prune_cache
from ..errors import ConfigError
from ..tsql.engine import Driver
from ..tsql.translation_store import runner_fingerprint
from .base import BatchResult, MessageSink, ScriptResult
from .embedded import EmbeddedTarget


class _SqliteDriver(Driver):
    """The runner's driver over Python's sqlite3, knowing when SQLite has already rolled back.

    On some errors (a full disk, an I/O error, out of memory) SQLite rolls the whole transaction
    back by itself. The runner's ROLLBACK that follows would then fail with "cannot rollback - no
    transaction is active", and that error, raised while handling the first, would be the one the
    user sees. Skipping the ROLLBACK that has nothing left to undo keeps the first error, the one
    that says what happened.
    """

    def run(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if sql == "ROLLBACK" and not self.connection.in_transaction:
            return self.connection.cursor()
        return super().run(sql, params)


#: Set to "1" (the project's own tests do, in tests/conftest.py) to open non-persistent sandbox files
#: without fsync after every statement (PRAGMA synchronous = OFF). A file opened as persistent (a
#: user's `--opus-db` file, the cached baseline template) is never affected.
NO_FSYNC_VARIABLE = "OPUS_SANDBOX_NO_FSYNC"



class SandboxTarget(EmbeddedTarget):
    """A SQLite database driven by the embedded T-SQL runner; the default target."""

    kind = "sandbox"

    #: whether the last script ended the runner's transaction itself (a COMMIT or ROLLBACK of its
    #: own without a BEGIN TRANSACTION): then what it did may be committed, whatever failed after
    script_ended_transaction = False

    def execute_script(
        self, text: str, *, source: str = "<script>", on_message: MessageSink | None = None
    ) -> ScriptResult:
        self.script_ended_transaction = False
        return super().execute_script(text, source=source, on_message=on_message)

    def _run_batch(self, text: str, number: int, start_line: int, source: str) -> BatchResult:
        outcome = super()._run_batch(text, number, start_line, source)
        if self.engine.trancount == 0:
            self.script_ended_transaction = True
        return outcome

    def __init__(self, path: str | Path | None = None, *, persistent: bool = False) -> None:
        location = str(path) if path is not None else ":memory:"
        if path is not None and Path(path).is_file() and Path(path).stat().st_size:
            with open(path, "rb") as handle:
                if handle.read(16) != b"SQLite format 3\x00":
                    raise ConfigError(f"{location} is not an SQLite database file; give a sandbox file "
                                      "(pytest-opus builds one from sql/baseline/ when the path does not exist)")
        try:
            connection = sqlite3.connect(location, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA foreign_keys = OFF")
            if path is not None and not persistent and os.environ.get(NO_FSYNC_VARIABLE) == "1":
                connection.execute("PRAGMA synchronous = OFF")  # a throwaway copy: a crash loses nothing of worth
        except sqlite3.Error as error:
            raise ConfigError(f"cannot open the sandbox database {location}: {error}") from None
        name = "sandbox (in memory)" if path is None else f"sandbox {location}"
        super().__init__(_SqliteDriver(connection, (sqlite3.Error,), str), name)
        self.path = Path(location) if path is not None else None
        self.persistent = persistent
        if self.path is not None:  # the database's name as the user knows it: .opus/dms.sqlite is dms (USE dms)
            self.engine.database = self.path.stem

    def close(self) -> None:
        self.driver.connection.close()


def baseline_files(baseline_dir: Path) -> list[Path]:
    files = sorted(baseline_dir.glob("*.sql"))
    if not files:
        raise ConfigError(f"no baseline scripts in {baseline_dir}: the sandbox is built from sql/baseline/*.sql "
                          "(run from the project root, or pass the right directory)")
    return files


def _fingerprint(files: list[Path]) -> str:
    """Baseline scripts plus the runner's own fingerprint: a runner change rebuilds the cached template."""
    digest = hashlib.sha256(runner_fingerprint().encode())
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def build_baseline(path: Path, baseline_dir: Path) -> None:
    """Run every baseline script into a new sandbox file; fail loudly on any script error."""
    target = SandboxTarget(path, persistent=True)
    try:
        for script in baseline_files(baseline_dir):
            result = target.run_script_file(str(script))
            if result.error is not None:
                raise ConfigError(f"building the sandbox baseline failed: {result.error.describe()}")
    finally:
        target.close()


#: How long a process waits for another one building the same template (a first build takes about
#: 10 s of CPU); past it, it builds its own copy.
BUILD_WAIT_SECONDS = 300.0


@contextmanager
def _one_builder(template: Path) -> Iterator[None]:
    """Hold the template's build lock (`baseline-<fingerprint>.opus-lock` beside it): parallel processes
    (pytest-xdist workers, two first runs on a new machine) then build it once, the others wait and copy it;
    a build of another fingerprint (another runner version) never waits for this one.
    Best effort: where the lock cannot be had in time (or at all), the caller builds anyway; the atomic
    rename keeps the template whole either way, so only CPU time is lost."""
    from ..errors import DeploymentLockError
    from .locking import FileLock

    lock = FileLock(template.with_suffix(""))
    try:
        lock.acquire(BUILD_WAIT_SECONDS, "building the sandbox baseline template")
    except DeploymentLockError:
        yield
        return
    try:
        yield
    finally:
        lock.release()


def template_path(baseline_dir: Path) -> Path:
    """Where the cached template for `baseline_dir` is kept (whether built yet or not)."""
    return cache_dir() / f"baseline-{_fingerprint(baseline_files(baseline_dir))}.sqlite"


def baseline_template(baseline_dir: Path) -> Path:
    """The cached baseline template for `baseline_dir` (in `cache_dir()`), built on first use.

    Building the baseline runs ~1.3 MB of T-SQL, so the built file is kept, keyed by the baseline
    scripts' content and the runner's version. Never open the template itself: copy it.
    """
    template = template_path(baseline_dir)
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with _one_builder(template):
        if not template.exists():  # another process may have built it while this one waited
            fd, tmp = tempfile.mkstemp(dir=template.parent, suffix=".building")
            os.close(fd)
            os.unlink(tmp)
            build_baseline(Path(tmp), baseline_dir)
            os.replace(tmp, template)  # atomic: parallel builders never see half a file
            prune_cache(template.parent, "baseline-*.sqlite")
    return template


def create_sandbox(path: Path, baseline_dir: Path) -> Path:
    """A sandbox file at `path` holding the baseline tables and sample data: a copy of the cached
    template (`baseline_template`)."""
    template = baseline_template(baseline_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return path
