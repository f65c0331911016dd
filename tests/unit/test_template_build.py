"""The baseline template under parallel first uses (pytest-xdist workers, two runs on a new machine):
built once, the others wait for it; a lock that cannot be had only costs a second build."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pytest_opus.cache import CACHE_VARIABLE
from pytest_opus.targets import sandbox
from pytest_opus.targets.locking import FileLock
from pytest_opus.targets.sandbox import baseline_template, create_sandbox, template_path

BASELINE = Path(__file__).resolve().parents[2] / "sql" / "baseline"


@pytest.fixture
def counted_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """A fresh cache directory, and a stand-in for the 10-second build that records each call."""
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    builds: list[Path] = []

    def build(path: Path, baseline_dir: Path) -> None:
        builds.append(path)
        time.sleep(0.5)  # long enough for the other caller to arrive while this one builds
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE built (n INT)")
        connection.execute("INSERT INTO built VALUES (?)", (len(builds),))
        connection.commit()
        connection.close()

    monkeypatch.setattr(sandbox, "build_baseline", build)
    return builds


def test_parallel_first_uses_build_the_template_once(tmp_path: Path, counted_builds: list[Path]) -> None:
    start = threading.Barrier(2)

    def first_use(n: int) -> Path:
        start.wait()
        return create_sandbox(tmp_path / f"db{n}.sqlite", BASELINE)

    with ThreadPoolExecutor(2) as pool:
        copies = list(pool.map(first_use, range(2)))
    assert len(counted_builds) == 1
    assert copies[0].read_bytes() == copies[1].read_bytes() == baseline_template(BASELINE).read_bytes()
    assert [p.name for p in (tmp_path / "cache").glob("*.building")] == []


def test_a_lock_held_too_long_still_gives_a_template(tmp_path: Path, counted_builds: list[Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "BUILD_WAIT_SECONDS", 0.2)
    (tmp_path / "cache").mkdir()
    lock = FileLock(template_path(BASELINE).with_suffix(""))  # the template's build lock
    with lock.held(0, "a builder that never finishes"):
        copy = create_sandbox(tmp_path / "db.sqlite", BASELINE)
    assert len(counted_builds) == 1
    with sqlite3.connect(copy) as connection:
        assert connection.execute("SELECT n FROM built").fetchall() == [(1,)]
