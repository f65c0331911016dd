"""Fixtures shared by the project's own tests (the phase suite has its own, in the plugin)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from pytest_opus.cache import CACHE_VARIABLE, cache_dir
from pytest_opus.targets.sandbox import NO_FSYNC_VARIABLE, SandboxTarget, create_sandbox
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
PHASE0_NODES = "tests/phase0/"
#: Modules whose module-scoped fixture is costly (about 10 s of CPU to prepare its databases): under
#: pytest-xdist each runs whole on one worker, so the fixture is built once rather than once per worker.
ONE_WORKER_MODULES = ("tests/unit/test_rollback_fault_injection.py",)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a pytest-xdist hook: ignored where it is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`-n`, docs/testing.md): tests go one by one to whichever worker is free, except the
    Phase 0 suite (tests/phase0), which runs whole, in order, on one worker: its phases build on one another
    in one session (deploy, then schema, workflow, ...; a failed phase skips the later ones); and each of
    `ONE_WORKER_MODULES`, kept whole on one worker. The largest of these units start first.

    pytest-xdist's own `--dist loadgroup` cannot say this under pytest 9 (it renames node ids, which
    pytest 9 no longer lets a plugin do), so this scheduler replaces `load` (the default) and `loadgroup`;
    another `--dist` mode is left as pytest-xdist makes it.
    """
    if config.getvalue("dist") not in {"load", "loadgroup"}:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PhaseZeroTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(PHASE0_NODES):
                return PHASE0_NODES
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return PhaseZeroTogether(config, log)


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


@pytest.fixture(scope="module")
def sandbox(deployed_file: Path, open_copy: Callable[[Path], AbstractContextManager[SandboxTarget]]
            ) -> Iterator[SandboxTarget]:
    """A private copy of the deployed sandbox shared by the tests of one module (a module that needs another
    kind of sandbox defines its own fixture of this name)."""
    with open_copy(deployed_file) as target:
        yield target


@pytest.fixture(scope="session")
def board_file() -> Path:
    return BOARD_FILE


@pytest.fixture(scope="session")
def board() -> BoardMetadata:
    """The shipped board metadata (immutable, so one load serves every test)."""
    return load_board(BOARD_FILE)
