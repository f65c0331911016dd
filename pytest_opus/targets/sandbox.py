"""The embedded sandbox: a SQLite file (or memory) holding the baseline tables, run by the T-SQL runner."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from .. import __version__
from ..errors import ConfigError
from ..tsql.engine import Driver
from .embedded import EmbeddedTarget


class SandboxTarget(EmbeddedTarget):
    """A SQLite database driven by the embedded T-SQL runner; the default target."""

    kind = "sandbox"

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
        except sqlite3.Error as error:
            raise ConfigError(f"cannot open the sandbox database {location}: {error}") from None
        name = "sandbox (in memory)" if path is None else f"sandbox {location}"
        super().__init__(Driver(connection, (sqlite3.Error,), str), name)
        self.path = Path(location) if path is not None else None
        self.persistent = persistent

    def close(self) -> None:
        self.driver.connection.close()


def baseline_files(baseline_dir: Path) -> list[Path]:
    files = sorted(baseline_dir.glob("*.sql"))
    if not files:
        raise ConfigError(f"no baseline scripts in {baseline_dir}: the sandbox is built from sql/baseline/*.sql "
                          "(run from the project root, or pass the right directory)")
    return files


def _fingerprint(files: list[Path]) -> str:
    """Baseline scripts plus the runner's own sources: a runner change rebuilds the cached template."""
    digest = hashlib.sha256(__version__.encode())
    runner = Path(__file__).resolve().parent.parent / "tsql"
    for f in [*files, *sorted(runner.glob("*.py"))]:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("OPUS_CACHE_DIR") or Path.home() / ".cache" / "pytest-opus")


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


def create_sandbox(path: Path, baseline_dir: Path) -> Path:
    """A sandbox file at `path` holding the baseline tables and sample data.

    Building the baseline runs ~1.3 MB of T-SQL, so the built file is cached (keyed by the baseline
    scripts' content and the runner's version) and copied.
    """
    files = baseline_files(baseline_dir)
    template = cache_dir() / f"baseline-{_fingerprint(files)}.sqlite"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=template.parent, suffix=".building")
        os.close(fd)
        os.unlink(tmp)
        build_baseline(Path(tmp), baseline_dir)
        os.replace(tmp, template)  # atomic: parallel builders never see half a file
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return path
