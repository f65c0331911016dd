"""The caches and shortcuts that keep runs fast: the baseline template, the static reader's results,
fsync for throwaway files; each must give what the slow way gives, and never grow without bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pytest_opus.cache import CACHE_GRACE_SECONDS, CACHE_VARIABLE, cache_dir, prune_cache
from pytest_opus.targets.sandbox import NO_FSYNC_VARIABLE, SandboxTarget


def test_throwaway_sandbox_files_skip_fsync_and_persistent_ones_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def synchronous(persistent: bool, name: str) -> int:
        target = SandboxTarget(tmp_path / name, persistent=persistent)
        try:
            return int(target.driver.connection.execute("PRAGMA synchronous").fetchone()[0])
        finally:
            target.close()

    monkeypatch.setenv(NO_FSYNC_VARIABLE, "1")
    assert synchronous(False, "a.sqlite") == 0  # OFF
    assert synchronous(True, "b.sqlite") == 2  # FULL, SQLite's default for a rollback journal
    monkeypatch.delenv(NO_FSYNC_VARIABLE)
    assert synchronous(False, "c.sqlite") == 2


def test_the_template_cache_is_pinned_for_pytester_runs(pytester: pytest.Pytester) -> None:
    """pytester gives each run its own HOME; the cache directory must still be the session's."""
    assert os.environ.get(CACHE_VARIABLE)
    pinned = cache_dir()
    assert Path.home() == pytester.path and pytester.path not in pinned.parents  # not found through HOME
    pytester.makepyfile(
        f"""
        from pathlib import Path
        from pytest_opus.cache import cache_dir

        def test_cache():
            assert cache_dir() == Path({str(pinned)!r})
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- the static check's cache (pytest --opus-deploy) ------------------------------------------------


def big_script(path: Path, column: str) -> Path:
    """Over the cache's size floor: a table, then many data batches (as the sample-data script)."""
    rows = "\n".join(f"INSERT INTO dbo.T (a) VALUES ({n});" for n in range(3000))
    path.write_text(f"CREATE TABLE dbo.T (a INT, {column} INT)\nGO\n{rows}\nGO\n", encoding="utf-8")
    return path


def test_the_static_reader_cache_gives_what_reading_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_opus import effects

    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    script = big_script(tmp_path / "data.sql", "b")
    first = effects.file_effects(script, "data.sql")
    assert [c.name for c in first.tables_created] == ["dbo.T"]
    [cached] = (tmp_path / "cache").glob("effects-*.pickle")

    read = effects.script_effects
    calls: list[str] = []

    def counted(text: str, source: str) -> effects.Effects:
        calls.append(source)
        return read(text, source)

    monkeypatch.setattr(effects, "script_effects", counted)
    assert effects.file_effects(script, "data.sql") == first and calls == []  # served from the cache
    assert effects.file_effects(script, "other.sql") == read(script.read_text(), "other.sql")  # the name counts
    big_script(script, "c")  # new content: read again, and the new column is seen
    changed = effects.file_effects(script, "data.sql")
    assert changed == read(script.read_text(), "data.sql") and changed != first
    assert len(calls) == 2
    cached.chmod(0o666)  # a file others may write is never unpickled
    script.write_text(script.read_text().replace(", c INT", ", b INT"), encoding="utf-8")
    assert effects.file_effects(script, "data.sql") == first and len(calls) == 3


def test_old_cached_files_are_pruned_beyond_the_newest_few(tmp_path: Path) -> None:
    now = time.time()
    ages = {f"baseline-old{n}.sqlite": (n + 1) * 2 * CACHE_GRACE_SECONDS for n in range(6)}
    ages |= {f"baseline-young{n}.sqlite": 60.0 + n for n in range(6)}  # six under a day old: all kept
    ages["other.txt"] = 100 * CACHE_GRACE_SECONDS  # not matching the pattern: never touched
    for name, age in ages.items():
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (now - age, now - age))
    removed = prune_cache(tmp_path, "baseline-*.sqlite", keep=5)
    assert sorted(p.name for p in removed) == [f"baseline-old{n}.sqlite" for n in range(6)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"baseline-young{n}.sqlite" for n in range(6)] + ["other.txt"]
    old = tmp_path / "baseline-old.sqlite"  # with few files, even an old one stays
    old.write_bytes(b"x")
    os.utime(old, (now - 10 * CACHE_GRACE_SECONDS,) * 2)
    for path in tmp_path.glob("baseline-young*"):
        path.unlink()
    assert prune_cache(tmp_path, "baseline-*.sqlite", keep=5) == [] and old.exists()
