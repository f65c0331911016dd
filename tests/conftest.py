"""Fixtures shared by the project's own tests (the phase suite has its own, in the plugin)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from pytest_opus.targets.sandbox import CACHE_VARIABLE, NO_FSYNC_VARIABLE, SandboxTarget, cache_dir, create_sandbox
from pytest_opus.updates import BoardMetadata, load_board

try:  # a development dependency: the Phase 0 suite (tests/phase0) must run without it
    from hypothesis import HealthCheck, settings
except ImportError:
    pass
else:
    # No time limits in tests (machines here are shared and noisy): hypothesis's per-example deadline off.
    settings.register_profile("opus", deadline=None, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("opus")

# The baseline template cache, pinned once for the whole session (and every pytester run, in process
# or in a subprocess, inherits it): pytester points HOME at a fresh directory, so a cache found
# through HOME would miss and every pytester run would rebuild the template (about 9 s of CPU each).
# A cache directory the caller set already is kept. Tests of the cache itself set their own.
os.environ.setdefault(CACHE_VARIABLE, str(cache_dir()))
# The sandbox files tests open are throwaway copies: no fsync after every statement (nothing the
# tests check depends on durability across a power cut). Persistent files are never affected.
os.environ.setdefault(NO_FSYNC_VARIABLE, "1")

ROOT = Path(__file__).resolve().parent.parent
SQL = ROOT / "sql"
#: The board metadata the project ships for the Customer Master Schedule.
BOARD_FILE = ROOT / "expectations" / "boards" / "customer_master_schedule.yaml"


@contextmanager
def opened_copy(source: Path, path: Path) -> Iterator[SandboxTarget]:
    """`source` copied to `path` and opened as a sandbox, closed afterwards."""
    shutil.copyfile(source, path)
    target = SandboxTarget(path)
    try:
        yield target
    finally:
        target.close()


@pytest.fixture(scope="session")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox file with only the baseline tables and sample data (built once per session)."""
    return create_sandbox(tmp_path_factory.mktemp("baseline") / "baseline.sqlite", SQL / "baseline")


@pytest.fixture(scope="session")
def deployed_file(baseline_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox file with the baseline plus the Phase 0 deployment (built once per session)."""
    path = tmp_path_factory.mktemp("deployed") / "deployed.sqlite"
    with opened_copy(baseline_file, path) as target:
        result = target.run_script_file(str(SQL / "deploy_opus_update_boards.sql"))
    assert result.ok, result.summary()
    return path


@pytest.fixture
def baseline(baseline_file: Path, tmp_path: Path) -> Iterator[SandboxTarget]:
    """A private copy of the baseline sandbox."""
    with opened_copy(baseline_file, tmp_path / "db.sqlite") as target:
        yield target


@pytest.fixture
def deployed(deployed_file: Path, tmp_path: Path) -> Iterator[SandboxTarget]:
    """A private copy of the deployed sandbox."""
    with opened_copy(deployed_file, tmp_path / "db.sqlite") as target:
        yield target


@pytest.fixture(scope="session")
def open_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], AbstractContextManager[SandboxTarget]]:
    """Opens a private copy of a sandbox file, for fixtures of a wider scope than `deployed`:
    `with open_copy(deployed_file) as target: ...`."""
    return lambda source: opened_copy(source, tmp_path_factory.mktemp("copy") / "db.sqlite")


@pytest.fixture(scope="session")
def board_file() -> Path:
    return BOARD_FILE


@pytest.fixture(scope="session")
def board() -> BoardMetadata:
    """The shipped board metadata (immutable, so one load serves every test)."""
    return load_board(BOARD_FILE)
