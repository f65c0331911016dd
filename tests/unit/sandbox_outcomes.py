"""What a T-SQL script gives on a fresh in-memory sandbox, in the form the difference tests compare with
their models: shared by test_tsql_differences.py and test_tsql_differences_round2.py (imported by name:
pytest puts this folder on sys.path for the test modules in it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_opus.errors import UnsupportedConstruct
from pytest_opus.targets.sandbox import SandboxTarget


@contextmanager
def fresh_sandbox() -> Iterator[SandboxTarget]:
    target = SandboxTarget()
    try:
        yield target
    finally:
        target.close()


def outcome(target: SandboxTarget, script: str) -> Any:
    """The last result set's rows, ('error', number) or 'refused'."""
    result = target.execute_script(script)
    if isinstance(result.error, UnsupportedConstruct):
        return "refused"
    if result.error is not None:
        return ("error", result.error.number)
    return [list(r) for r in result.result_sets[-1].rows]
