"""Helpers the runner's tests share: run a script on a sandbox and look at what it did.

Not a test module of its own (it holds no tests); the test_tsql_* modules import from it.
"""

from __future__ import annotations

from pytest_opus.errors import ScriptError
from pytest_opus.targets.base import ScriptResult
from pytest_opus.targets.sandbox import SandboxTarget


def run(target: SandboxTarget, script: str) -> ScriptResult:
    """Run a script as the file t.sql."""
    return target.execute_script(script, source="t.sql")


def ok(target: SandboxTarget, script: str) -> ScriptResult:
    """Run a script that must succeed."""
    result = run(target, script)
    assert result.error is None, result.summary()
    return result


def printed(target: SandboxTarget, script: str) -> list[str]:
    """What a script that must succeed said (PRINT and RAISERROR messages)."""
    return [m.text for m in ok(target, script).messages]


def failure(target: SandboxTarget, script: str) -> ScriptError:
    """The error of a script that must fail."""
    result = run(target, script)
    assert result.error is not None, "the script was expected to fail"
    return result.error
