"""Where pytest-opus keeps what it can rebuild: the cache directory and its upkeep (standard library only).

Three kinds of file live there, each keyed by what it was made from, so that a stale one is never used:
the sandbox's baseline template (`targets/sandbox.py`), the static check's results (`effects.py`) and
the runner's translations (`tsql/translation_store.py`). Removing the directory only costs time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

#: The cache directory's environment variable; default ~/.cache/pytest-opus.
CACHE_VARIABLE = "OPUS_CACHE_DIR"

#: Cached files kept per kind: every runner or baseline change builds a new template (about 1 MB each).
CACHE_KEEP = 5
#: A cached file younger than this is never removed: a parallel run may be about to copy it.
CACHE_GRACE_SECONDS = 24 * 3600


def cache_dir() -> Path:
    """Where cached files are kept: $OPUS_CACHE_DIR, else ~/.cache/pytest-opus."""
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "pytest-opus")


def prune_cache(directory: Path, pattern: str, keep: int = CACHE_KEEP) -> list[Path]:
    """Remove the older cached files matching `pattern` beyond the newest `keep`, if a day old; the removed ones.

    Best effort: a file that cannot be removed (or is already gone) is left to the next build.
    """
    def modified(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    found = sorted(directory.glob(pattern), key=modified, reverse=True)
    now = time.time()
    removed = []
    for path in found[keep:]:
        if now - modified(path) < CACHE_GRACE_SECONDS:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def owned_privately(status: os.stat_result) -> bool:
    """Whether a cached file may be trusted: it belongs to this user and nobody else may write it (the
    static check's results and the runner's translations are unpickled)."""
    if hasattr(os, "getuid") and status.st_uid != os.getuid():
        return False
    return not status.st_mode & 0o022
