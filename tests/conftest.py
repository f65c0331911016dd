"""Fixtures shared by the project's own tests (the phase suite has its own, in the plugin)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pytest_opus.targets.sandbox import SandboxTarget, create_sandbox

# No time limits in tests (machines here are shared and noisy): hypothesis's per-example deadline off.
settings.register_profile("opus", deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("opus")

ROOT = Path(__file__).resolve().parent.parent
SQL = ROOT / "sql"


@pytest.fixture(scope="session")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox file with only the baseline tables and sample data (built once per session)."""
    return create_sandbox(tmp_path_factory.mktemp("baseline") / "baseline.sqlite", SQL / "baseline")


@pytest.fixture(scope="session")
def deployed_file(baseline_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox file with the baseline plus the Phase 0 deployment (built once per session)."""
    path = tmp_path_factory.mktemp("deployed") / "deployed.sqlite"
    shutil.copyfile(baseline_file, path)
    target = SandboxTarget(path)
    result = target.run_script_file(str(SQL / "deploy_opus_update_boards.sql"))
    target.close()
    assert result.ok, result.summary()
    return path


@pytest.fixture
def baseline(baseline_file: Path, tmp_path: Path) -> Iterator[SandboxTarget]:
    """A private copy of the baseline sandbox."""
    path = tmp_path / "db.sqlite"
    shutil.copyfile(baseline_file, path)
    target = SandboxTarget(path)
    yield target
    target.close()


@pytest.fixture
def deployed(deployed_file: Path, tmp_path: Path) -> Iterator[SandboxTarget]:
    """A private copy of the deployed sandbox."""
    path = tmp_path / "db.sqlite"
    shutil.copyfile(deployed_file, path)
    target = SandboxTarget(path)
    yield target
    target.close()
