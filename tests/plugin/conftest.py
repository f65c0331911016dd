"""A copy of the project (SQL, expectations, the Phase 0 suite) inside a pytester directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def phase0_project(pytester: pytest.Pytester) -> Path:
    for part in ("sql", "expectations", "tests/phase0"):
        shutil.copytree(ROOT / part, pytester.path / part, ignore=shutil.ignore_patterns("__pycache__"))
    return pytester.path
